//! Manifests, indexes and descriptors (OCI image spec, plus the Docker v2 schema 2 types
//! that base images on registries still use).
//!
//! Serialization is deterministic: fields in struct order, maps as `BTreeMap`, optional
//! fields left out when absent. Unknown fields of a pulled manifest are not kept: we never
//! re-serialize a manifest we did not write (a pulled one is used as its exact bytes).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Digest;

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    OciManifest,
    OciIndex,
    OciConfig,
    OciLayer,
    OciLayerGzip,
    OciLayerZstd,
    DockerManifest,
    DockerManifestList,
    DockerConfig,
    DockerLayerGzip,
    Other(String),
}

impl MediaType {
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::OciManifest => "application/vnd.oci.image.manifest.v1+json",
            MediaType::OciIndex => "application/vnd.oci.image.index.v1+json",
            MediaType::OciConfig => "application/vnd.oci.image.config.v1+json",
            MediaType::OciLayer => "application/vnd.oci.image.layer.v1.tar",
            MediaType::OciLayerGzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            MediaType::OciLayerZstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            MediaType::DockerManifest => "application/vnd.docker.distribution.manifest.v2+json",
            MediaType::DockerManifestList => {
                "application/vnd.docker.distribution.manifest.list.v2+json"
            }
            MediaType::DockerConfig => "application/vnd.docker.container.image.v1+json",
            MediaType::DockerLayerGzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            MediaType::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> MediaType {
        // Content-Type may carry parameters (`; charset=utf-8`).
        let s = s.split(';').next().unwrap_or("").trim();
        [
            MediaType::OciManifest,
            MediaType::OciIndex,
            MediaType::OciConfig,
            MediaType::OciLayer,
            MediaType::OciLayerGzip,
            MediaType::OciLayerZstd,
            MediaType::DockerManifest,
            MediaType::DockerManifestList,
            MediaType::DockerConfig,
            MediaType::DockerLayerGzip,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .unwrap_or_else(|| MediaType::Other(s.to_string()))
    }

    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }

    pub fn is_manifest(&self) -> bool {
        matches!(self, MediaType::OciManifest | MediaType::DockerManifest)
    }

    /// The OCI type for the same bytes: a Docker gzip layer *is* an OCI gzip layer, so base
    /// layers keep their digests while the manifest stays all-OCI (mixing is refused by some
    /// registries).
    pub fn to_oci(&self) -> MediaType {
        match self {
            MediaType::DockerLayerGzip => MediaType::OciLayerGzip,
            MediaType::DockerConfig => MediaType::OciConfig,
            MediaType::DockerManifest => MediaType::OciManifest,
            MediaType::DockerManifestList => MediaType::OciIndex,
            other => other.clone(),
        }
    }

    /// Every manifest type we can read, for the `Accept` header.
    pub const ACCEPT: &'static str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.docker.distribution.manifest.v2+json";
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MediaType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MediaType::parse(&String::deserialize(d)?))
    }
}

/// Architectures (GOARCH names) and their variants that images are built for.
const BUILDABLE: &[(&str, &[&str])] = &[
    ("amd64", &["v2", "v3", "v4"]),
    ("arm64", &["v8"]),
    ("arm", &["v5", "v6", "v7"]),
    ("386", &[]),
    ("ppc64le", &[]),
    ("s390x", &[]),
    ("riscv64", &[]),
    ("mips64le", &[]),
    ("loong64", &[]),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default, PartialOrd, Ord)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub os_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]` (`linux/amd64`, `linux/arm64/v8`).
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(v.to_string())),
            _ => {
                return Err(format!(
                    "`{s}` is not a platform (`os/arch[/variant]`, e.g. linux/amd64)"
                ))
            }
        };
        if os.is_empty() || arch.is_empty() {
            return Err(format!(
                "`{s}` is not a platform (`os/arch[/variant]`, e.g. linux/amd64)"
            ));
        }
        let mut p = Platform {
            architecture: arch.into(),
            os: os.into(),
            os_version: None,
            variant,
        };
        // arm64 images are published without a variant or with v8; treat them alike.
        if p.architecture == "arm64" && p.variant.as_deref() == Some("v8") {
            p.variant = None;
        }
        Ok(p)
    }

    /// Parses a platform to build for: Linux only (RUN executes Linux programs; a
    /// `windows/amd64` label on a Linux image would be a lie) and an architecture Go and
    /// the OCI image spec name, with its variants.
    pub fn parse_buildable(s: &str) -> Result<Platform, String> {
        let platform = Platform::parse(s)?;
        let known = BUILDABLE.iter().any(|(arch, variants)| {
            *arch == platform.architecture
                && platform
                    .variant
                    .as_deref()
                    .is_none_or(|v| variants.contains(&v))
        });
        if platform.os == "linux" && known {
            return Ok(platform);
        }
        let list: Vec<String> = BUILDABLE
            .iter()
            .flat_map(|(arch, variants)| {
                std::iter::once(format!("linux/{arch}"))
                    .chain(variants.iter().map(move |v| format!("linux/{arch}/{v}")))
            })
            .collect();
        Err(format!(
            "`{}` is not a platform this tool builds (supported: {})",
            s.trim(),
            list.join(", ")
        ))
    }

    /// The platform of this machine, as Go names it.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            architecture: arch.into(),
            os: "linux".into(),
            os_version: None,
            variant: None,
        }
    }

    /// Whether an index entry for `candidate` can serve this platform.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        match (&self.variant, &candidate.variant) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(want), None) => self.architecture == "arm64" && want == "v8",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: MediaType,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<Platform>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    pub fn new(media_type: MediaType, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type,
            digest,
            size,
            platform: None,
            annotations: None,
        }
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// BuildKit stores provenance and SBOMs as extra index entries; they are not images.
    pub fn is_attestation(&self) -> bool {
        self.annotation("vnd.docker.reference.type") == Some("attestation-manifest")
            || self.platform.as_ref().is_some_and(|p| p.os == "unknown")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<MediaType>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<MediaType>,
    pub manifests: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Index {
    /// An OCI image index over `manifests`.
    pub fn oci(manifests: Vec<Descriptor>, annotations: Option<BTreeMap<String, String>>) -> Index {
        Index {
            schema_version: 2,
            media_type: Some(MediaType::OciIndex),
            manifests,
            annotations,
        }
    }

    /// The entry for `platform`, skipping attestations.
    pub fn select(&self, platform: &Platform) -> Option<&Descriptor> {
        self.manifests
            .iter()
            .filter(|d| !d.is_attestation())
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
    }

    pub fn platforms(&self) -> Vec<String> {
        self.manifests
            .iter()
            .filter(|d| !d.is_attestation())
            .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_matching() {
        let arm = Platform::parse("linux/arm64").unwrap();
        assert!(arm.matches(&Platform::parse("linux/arm64/v8").unwrap()));
        assert!(Platform::parse("linux/arm64/v8").unwrap().matches(&arm));
        assert!(!Platform::parse("linux/arm/v7")
            .unwrap()
            .matches(&Platform::parse("linux/arm/v6").unwrap()));
        assert!(Platform::parse("linux").is_err());
    }

    #[test]
    fn media_type_ignores_parameters() {
        assert_eq!(
            MediaType::parse("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            MediaType::OciManifest
        );
    }
}

//! The registration request, derived and checked before anything is pushed.
//!
//! [`prepare`] merges three sources into one generation-neutral [`PluginRequest`]:
//!
//! 1. the pushed image ([`Reference`]): `image` is its repository path (no host, no tag:
//!    the server looks the path up in *its* registry), `plugin_id` its last segment, and
//!    `registry_type` follows from its host;
//! 2. the plugin manifest, when there is one: metadata, and explicit values that win over
//!    derived ones, except `image`, which must agree with the push (a silent choice between
//!    two images would register something nobody asked for);
//! 3. [`RequestOverrides`] from the inputs, which win over both.
//!
//! Then the pre-flight checks reproduce what the server would refuse, so a CI run fails
//! before the push instead of after it: the last image segment must be 1–48 characters of
//! `[a-zA-Z0-9-]` (the server's own rule, quoted in the error), and `name`, the resource
//! type and `image` must be present. Things the server might still refuse depending on its
//! generation or configuration become [`PluginRequest::notes`], warnings the caller shows.
//!
//! Turning the neutral request into one generation's messages is `translate.rs`.

use std::fmt;

use super::error::SpaceOneError;
use super::manifest::{JsonObject, PluginManifest};
use crate::host::RegistryHost;
pub use crate::inputs::Generation;
use crate::reference::Reference;

/// The longest last image segment the server accepts (`MAX_IMAGE_NAME_LENGTH`, 1.9+ and 2.x).
pub const MAX_PLUGIN_ID_LEN: usize = 48;

/// Where the server finds the image's tags (`PublicRegistryType`). The names are the
/// union of both generations; which ones a server can be sent differs (see `translate.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryType {
    DockerHub,
    Harbor,
    /// 1.x only (enum value 2 there).
    AwsPublicEcr,
    /// 2.x only (enum value 2 there).
    AwsPrivateEcr,
    /// 2.x only.
    Github,
    /// 2.x only.
    GcpPrivateGcr,
}

const REGISTRY_TYPES: &[(&str, RegistryType)] = &[
    ("DOCKER_HUB", RegistryType::DockerHub),
    ("HARBOR", RegistryType::Harbor),
    ("AWS_PUBLIC_ECR", RegistryType::AwsPublicEcr),
    ("AWS_PRIVATE_ECR", RegistryType::AwsPrivateEcr),
    ("GITHUB", RegistryType::Github),
    ("GCP_PRIVATE_GCR", RegistryType::GcpPrivateGcr),
];

const REGISTRY_TYPE_NAMES: &str =
    "DOCKER_HUB, HARBOR, AWS_PUBLIC_ECR (1.x), AWS_PRIVATE_ECR, GITHUB, GCP_PRIVATE_GCR (2.x)";

impl RegistryType {
    /// The enum name both generations use on the wire and in YAML.
    pub fn as_str(self) -> &'static str {
        REGISTRY_TYPES
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// The type implied by the host an image is pushed to: Docker Hub hosts →
    /// `DOCKER_HUB`, `ghcr.io` → `GITHUB`, `<acct>.dkr.ecr.<region>.amazonaws.com` →
    /// `AWS_PRIVATE_ECR`, `gcr.io` and `<loc>-docker.pkg.dev` → `GCP_PRIVATE_GCR`; any
    /// other registry is reached through the OCI distribution API, which SpaceONE calls
    /// `HARBOR`. The last three exist only on 2.x servers; [`Session::preflight`] says so
    /// on 1.x, where input `registry-type` can pick HARBOR instead.
    ///
    /// [`Session::preflight`]: super::Session::preflight
    pub fn for_host(host: &str) -> RegistryType {
        let host = host.to_ascii_lowercase();
        let name = RegistryHost::parse(&host).map_or(host.as_str(), |h| h.name());
        if crate::reference::is_docker_hub_host(name) {
            RegistryType::DockerHub
        } else if name == "ghcr.io" {
            RegistryType::Github
        } else if name.contains(".dkr.ecr.") && name.ends_with(".amazonaws.com") {
            RegistryType::AwsPrivateEcr
        } else if name == "gcr.io" || name.ends_with(".gcr.io") || name.ends_with("-docker.pkg.dev")
        {
            RegistryType::GcpPrivateGcr
        } else {
            RegistryType::Harbor
        }
    }

    /// Parses a user-written name (`HARBOR`, `harbor`, `docker-hub`); `origin` names where
    /// it came from in the error.
    pub fn parse(value: &str, origin: &str) -> Result<RegistryType, SpaceOneError> {
        let folded = value.trim().to_ascii_uppercase().replace('-', "_");
        REGISTRY_TYPES
            .iter()
            .find(|(n, _)| *n == folded)
            .map(|(_, t)| *t)
            .ok_or_else(|| SpaceOneError::UnknownRegistryType {
                value: value.to_string(),
                origin: origin.to_string(),
                expected: REGISTRY_TYPE_NAMES,
            })
    }
}

impl fmt::Display for RegistryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Values from the inputs that win over the manifest and the derivation.
#[derive(Debug, Clone, Default)]
pub struct RequestOverrides {
    /// Input `registry-type`, as written (`HARBOR`, `docker-hub`); checked by [`prepare`].
    pub registry_type: Option<String>,
}

/// One plugin registration, independent of the server generation. Built by [`prepare`],
/// which guarantees: `image` has no host or tag and its last segment passes the server's
/// rule; `plugin_id`, `name`, `resource_type` and `version` are non-empty.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginRequest {
    /// Repository path inside the registry, e.g. `cloudforet/plugin-x-inven-collector`.
    pub image: String,
    /// The manifest's `plugin_id` (2.x) or the last image segment. A 1.x server always
    /// uses the last image segment; see [`PluginRequest::plugin_id_for`].
    pub plugin_id: String,
    pub name: String,
    /// `resource_type` on 2.x, `service_type` on 1.x.
    pub resource_type: String,
    pub provider: Option<String>,
    pub registry_type: RegistryType,
    pub registry_config: Option<JsonObject>,
    pub capability: Option<JsonObject>,
    /// 1.x only.
    pub template: Option<JsonObject>,
    /// Where `template` was written (`plugin.yml:9`), for pre-flight messages.
    pub template_at: Option<String>,
    pub labels: Option<Vec<String>>,
    pub tags: Option<JsonObject>,
    /// 2.x only.
    pub docs: Option<JsonObject>,
    /// 1.x only.
    pub project_id: Option<String>,
    /// No plugin manifest: every field was derived from the image. A plugin the server
    /// already has then keeps its metadata (only a manifest changes it).
    pub derived: bool,
    /// The tag that was (or will be) pushed; checked in `get_versions` afterwards.
    pub version: String,
    /// Every tag that will be pushed (the version first): the server's registry connector
    /// must be able to sort them all (see [`Session::preflight`]).
    ///
    /// [`Session::preflight`]: super::Session::preflight
    pub pushed_tags: Vec<String>,
    /// Warnings found while preparing, for the caller to report.
    pub notes: Vec<String>,
}

impl PluginRequest {
    /// The last path segment of `image`: what a server derives the plugin id from.
    pub fn image_plugin_id(&self) -> &str {
        last_segment(&self.image)
    }

    /// The same request, pushing `tags` besides the version (empty and repeated tags are
    /// dropped; the version stays first).
    pub fn with_pushed_tags(mut self, tags: &[String]) -> PluginRequest {
        for tag in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            if !self.pushed_tags.iter().any(|p| p == tag) {
                self.pushed_tags.push(tag.to_string());
            }
        }
        self
    }

    /// The plugin id a server of this generation will use: 1.x ignores an explicit one.
    pub fn plugin_id_for(&self, generation: Generation) -> &str {
        match generation {
            Generation::V1 => self.image_plugin_id(),
            _ => &self.plugin_id,
        }
    }
}

/// Derives the request and runs the pre-flight checks (see the module doc).
pub fn prepare(
    manifest: Option<&PluginManifest>,
    target: &Reference,
    version: &str,
    overrides: &RequestOverrides,
) -> Result<PluginRequest, SpaceOneError> {
    let empty = PluginManifest::default();
    let m = manifest.unwrap_or(&empty);
    let mut notes = Vec::new();

    let image = target.repository.clone();
    if let Some(written) = non_empty(&m.image) {
        if written != image {
            return Err(SpaceOneError::ImageMismatch {
                path: m.locate("image").into(),
                manifest_image: written.to_string(),
                target_image: image,
                target: target.original().to_string(),
            });
        }
    }
    check_image_name(&image)?;
    let image_id = last_segment(&image).to_string();

    let plugin_id = non_empty(&m.plugin_id)
        .map(str::to_string)
        .unwrap_or_else(|| image_id.clone());
    let name = non_empty(&m.name)
        .map(str::to_string)
        .unwrap_or_else(|| plugin_id.clone());
    let resource_type = resource_type(m, &image_id, &mut notes)?;
    let registry_type = registry_type(m, target, overrides, &mut notes)?;

    if version.trim().is_empty() {
        return Err(SpaceOneError::MissingField {
            field: "version",
            why: "the pushed tag is checked in the server's version list".into(),
        });
    }
    if manifest.is_none() {
        notes.push(format!(
            "no plugin manifest: a first registration uses derived values (plugin_id \
             `{plugin_id}`, name `{name}`, type `{resource_type}`, registry type \
             {registry_type}, no provider, capability, labels or tags); a registered plugin \
             keeps its own. Add plugin.yaml to set them"
        ));
    }
    if let Some(domain) = non_empty(&m.domain_id) {
        notes.push(format!(
            "`domain_id: {domain}` in {} is not sent; the domain comes from the token, or on \
             1.x from the `spaceone-domain-id` input",
            m.locate("domain_id")
        ));
    }

    Ok(PluginRequest {
        image,
        plugin_id,
        name,
        resource_type,
        provider: non_empty(&m.provider).map(str::to_string),
        registry_type,
        registry_config: m.registry_config.clone(),
        capability: m.capability.clone(),
        template: m.template.clone(),
        template_at: m.template.as_ref().map(|_| m.locate("template")),
        labels: m.labels.clone(),
        tags: m.tags.clone(),
        docs: m.docs.clone(),
        project_id: non_empty(&m.project_id).map(str::to_string),
        derived: manifest.is_none(),
        version: version.trim().to_string(),
        pushed_tags: vec![version.trim().to_string()],
        notes,
    })
}

/// The server's image rule, checked here so a bad name fails before the push.
fn check_image_name(image: &str) -> Result<(), SpaceOneError> {
    let segment = last_segment(image);
    let invalid = |problem: String, suggestion: Option<String>| SpaceOneError::InvalidImageName {
        image: image.to_string(),
        problem,
        suggestion,
    };
    if segment.is_empty() {
        return Err(invalid("the last path segment is empty".into(), None));
    }
    let bad: Vec<char> = segment
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        .collect();
    if !bad.is_empty() {
        let fixed: String = segment
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let shown: String = bad
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(invalid(
            format!(
                "its last segment `{segment}` becomes the plugin id and contains {shown}; the \
                 server refuses it with ERROR_INVALID_IMAGE_NAME_FORMAT (\"Image name format is \
                 [a-zA-Z0-9\\-]+\")"
            ),
            Some(format!(
                "rename the image repository, e.g. to `{}`",
                replace_last(image, &fixed)
            )),
        ));
    }
    if segment.len() > MAX_PLUGIN_ID_LEN {
        return Err(invalid(
            format!(
                "its last segment `{segment}` is {} characters; the server refuses more than \
                 {MAX_PLUGIN_ID_LEN} with ERROR_INVALID_IMAGE_LENGTH (\"The length of image \
                 should be less than equal 48\")",
                segment.len()
            ),
            Some("shorten the image repository name, e.g. `inven-collector` is a common suffix to keep".into()),
        ));
    }
    Ok(())
}

/// Repository-name suffix → resource type, from the official plugins (newest spelling
/// first; `notification-protocol` is the pre-rename name of `noti-protocol`).
const RESOURCE_TYPES: &[(&str, &str)] = &[
    ("inven-collector", "inventory.Collector"),
    ("mon-datasource", "monitoring.DataSource"),
    ("mon-webhook", "monitoring.Webhook"),
    ("cost-datasource", "cost_analysis.DataSource"),
    ("noti-protocol", "notification.Protocol"),
    ("notification-protocol", "notification.Protocol"),
    ("identity-auth", "identity.Domain"),
    ("account-collector", "identity.Provider"),
];

/// The resource type a repository name implies, if its suffix is a known one.
pub fn resource_type_for(plugin_id: &str) -> Option<&'static str> {
    RESOURCE_TYPES
        .iter()
        .find(|(suffix, _)| plugin_id.ends_with(suffix))
        .map(|(_, t)| *t)
}

fn resource_type(
    m: &PluginManifest,
    image_id: &str,
    notes: &mut Vec<String>,
) -> Result<String, SpaceOneError> {
    match (non_empty(&m.service_type), non_empty(&m.resource_type)) {
        (Some(s), Some(r)) if s != r => Err(SpaceOneError::Manifest {
            path: m.path.clone(),
            line: m
                .line_of("resource_type")
                .or(m.line_of("service_type"))
                .unwrap_or(1),
            column: 1,
            message: format!(
                "`service_type: {s}` and `resource_type: {r}` disagree; they are one field \
                 (1.x and 2.x spelling), keep one"
            ),
        }),
        (Some(t), _) | (None, Some(t)) => Ok(t.to_string()),
        (None, None) => {
            match resource_type_for(image_id) {
                Some(t) => {
                    if t == "identity.Domain" {
                        notes.push(format!(
                        "resource type {t} derived from the name `{image_id}`; SAML-style plugins \
                         are identity.ExternalAuth: set `service_type`/`resource_type` if so"
                    ));
                    }
                    Ok(t.to_string())
                }
                None => {
                    Err(SpaceOneError::MissingField {
                        field: "service_type/resource_type",
                        why: format!(
                    "the manifest sets neither, and the name `{image_id}` has no known suffix \
                     ({})",
                    RESOURCE_TYPES.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
                ),
                    })
                }
            }
        }
    }
}

fn registry_type(
    m: &PluginManifest,
    target: &Reference,
    overrides: &RequestOverrides,
    notes: &mut Vec<String>,
) -> Result<RegistryType, SpaceOneError> {
    let derived = RegistryType::for_host(&target.registry);
    if let Some(written) = non_empty(&overrides.registry_type) {
        return RegistryType::parse(written, "input `registry-type`");
    }
    let Some(written) = non_empty(&m.registry_type) else {
        return Ok(derived);
    };
    let origin = format!("`registry_type` in {}", m.locate("registry_type"));
    let t = RegistryType::parse(written, &origin)?;
    if t != derived {
        notes.push(format!(
            "{origin} is {t}, but the image is pushed to {} ({derived}); the server will look \
             for its tags in its {t} registry",
            target.registry
        ));
    }
    Ok(t)
}

/// StrictVersion-like: `N.N` or `N.N.N`, optionally `aN`/`bN`, as 1.x HARBOR sorting needs.
pub fn is_plain_version(v: &str) -> bool {
    let (core, pre) = match v.find(['a', 'b']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (parts.len() == 2 || parts.len() == 3)
        && parts.iter().all(|p| digits(p))
        && pre.is_none_or(digits)
}

fn last_segment(image: &str) -> &str {
    image.rsplit('/').next().unwrap_or(image)
}

fn replace_last(image: &str, segment: &str) -> String {
    match image.rsplit_once('/') {
        Some((head, _)) => format!("{head}/{segment}"),
        None => segment.to_string(),
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;

//! Image references: `[host[:port]/]repository[:tag][@digest]`, parsed and normalised once.
//!
//! Normalisation follows the Docker conventions users know: no host means Docker Hub
//! (`docker.io`), and a one-segment Hub name gets the implicit `library/`. [`Reference`]
//! keeps what the user typed for messages and the normalised parts for the wire.
//! Repository names must be lower case (distribution's grammar); a wrong one is refused
//! here, before anything is built or sent.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::host::RegistryHost;

pub const DOCKER_HUB: &str = "docker.io";

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host as written (`docker.io` for the Hub), with port if any.
    pub registry: String,
    /// Repository path inside the registry (`library/busybox`, `cloudforet/plugin-x`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
    original: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{input}` is not a valid image reference: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

impl Reference {
    /// Whether both name the same registry (a blob can be mounted from one to the other).
    pub fn same_registry(&self, other: &Reference) -> bool {
        self.api_host().eq_ignore_ascii_case(other.api_host())
    }

    /// The host to talk HTTP to (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    pub fn is_docker_hub(&self) -> bool {
        is_docker_hub_host(&self.registry)
    }

    /// Tag or digest to ask the registry for; `latest` when neither was given.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
            original: format!("{}/{}:{}", self.registry, self.repository, tag),
        }
    }

    /// `host/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What the user typed.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Whether the host is on this machine (plain HTTP is allowed there).
    pub fn is_loopback(&self) -> bool {
        self.host().is_some_and(|h| h.is_loopback())
    }

    /// The registry host, split (`None` only for a host that never passed [`FromStr`]).
    pub fn host(&self) -> Option<RegistryHost<'_>> {
        RegistryHost::parse(&self.registry).ok()
    }
}

pub fn is_docker_hub_host(host: &str) -> bool {
    matches!(
        host,
        DOCKER_HUB | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
    )
}

fn is_valid_component(c: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

pub fn validate_tag(tag: &str) -> Result<(), String> {
    if is_valid_tag(tag) {
        Ok(())
    } else {
        Err(format!(
            "`{tag}` is not a valid tag (1-128 of [A-Za-z0-9_.-], not starting with `.` or `-`)"
        ))
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ReferenceError {
            input: input.to_string(),
            reason: reason.into(),
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        if input.contains("://") {
            return Err(err(
                "write it without a scheme (`host/repo:tag`, not `https://…`)",
            ));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (
                r,
                Some(d.parse::<Digest>().map_err(|e| err(&e.to_string()))?),
            ),
            None => (input, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t).map_err(|e| err(&e))?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        RegistryHost::parse(&registry).map_err(|e| err(&e))?;
        let registry = if is_docker_hub_host(&registry) {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty() {
            return Err(err("the repository name is empty"));
        }
        if repository != repository.to_lowercase() {
            return Err(err(&format!(
                "repository names must be lower case (did you mean `{}`?)",
                input.replacen(&repository, &repository.to_lowercase(), 1)
            )));
        }
        if let Some(bad) = repository.split('/').find(|c| !is_valid_component(c)) {
            return Err(err(&format!(
                "path component `{bad}` must be lower-case letters and digits, separated by `.`, `_`, `__` or `-`"
            )));
        }
        if registry.len() + 1 + repository.len() > 255 {
            return Err(err("the name is longer than 255 characters"));
        }
        Ok(Reference {
            registry,
            repository,
            tag: tag.map(str::to_string),
            digest,
            original: input.to_string(),
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        type Expected<'a> = Option<(&'a str, &'a str, Option<&'a str>)>;
        let cases: &[(&str, Expected)] = &[
            ("busybox", Some(("docker.io", "library/busybox", None))),
            (
                "busybox:1.36",
                Some(("docker.io", "library/busybox", Some("1.36"))),
            ),
            (
                "cloudforet/python-core:2.0",
                Some(("docker.io", "cloudforet/python-core", Some("2.0"))),
            ),
            (
                "index.docker.io/cloudforet/x",
                Some(("docker.io", "cloudforet/x", None)),
            ),
            (
                "localhost:5000/a/b:1.0.0",
                Some(("localhost:5000", "a/b", Some("1.0.0"))),
            ),
            (
                "127.0.0.1:5000/cloudforet/plugin-x",
                Some(("127.0.0.1:5000", "cloudforet/plugin-x", None)),
            ),
            (
                "ghcr.io/org/plugin-x:sha-abc1234",
                Some(("ghcr.io", "org/plugin-x", Some("sha-abc1234"))),
            ),
            ("localhost/a", Some(("localhost", "a", None))),
            ("Cloudforet/x", None),
            ("ghcr.io/Org/x", None),
            ("a//b", None),
            ("a/b:", None),
            ("a/b:-x", None),
            ("https://ghcr.io/a", None),
            ("a/b_/c", None),
            ("localhost:99999/a", None),
            ("localhost:abc/a", None),
            ("localhost:0/a", None),
            ("[::1]:5000/a", Some(("[::1]:5000", "a", None))),
            ("", None),
        ];
        for (input, expect) in cases {
            let got = input.parse::<Reference>();
            match expect {
                None => assert!(got.is_err(), "{input} should fail, got {got:?}"),
                Some((reg, repo, tag)) => {
                    let r = got.unwrap_or_else(|e| panic!("{input}: {e}"));
                    assert_eq!(
                        (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
                        (*reg, *repo, *tag),
                        "{input}"
                    );
                }
            }
        }
        let r: Reference = format!("localhost:5000/a:1@{d}").parse().unwrap();
        assert_eq!(r.manifest_ref(), d);
        assert!(r.is_loopback());
    }

    #[test]
    fn upper_case_error_suggests_the_fix() {
        let e = "ghcr.io/Org/Plugin:1.0".parse::<Reference>().unwrap_err();
        assert!(
            e.to_string()
                .contains("did you mean `ghcr.io/org/plugin:1.0`"),
            "{e}"
        );
    }
}

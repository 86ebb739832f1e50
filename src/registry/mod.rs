//! The distribution client: push images to, and read base images from, OCI registries
//! over the distribution HTTP API — no daemon, no registry SDK.
//!
//! # The concept
//!
//! A registry stores content-addressed *blobs* (layers, configs) per repository and
//! *manifests* that name them, reachable by digest or tag. Pushing is: make every blob
//! present in the target repository — cheapest first: already there (HEAD), linked from
//! another repository of the same registry (mount), or uploaded — then PUT the manifest.
//! [`Client::push`] is that whole strategy in one call; nothing above this module sees an
//! HTTP verb. Reading is [`Client::resolve`] (manifest, index → platform, config),
//! [`Client::fetch_blob`] and [`Client::list_tags`].
//!
//! # Layout
//!
//! - `client`: [`Client`], TLS roots, the https→http fallback, one pinged endpoint per host.
//! - `session`: every request goes through `Session::send`: credentials only to the
//!   registry's own origin, one re-authentication on 401, redirects, `Location` handling.
//! - `challenge`: the `WWW-Authenticate` parser and token scopes.
//! - `auth`: Basic and Bearer, the token service, the token cache per (host, scopes).
//! - `credentials`: where credentials come from (inputs, CI, docker config and helpers,
//!   podman auth.json), in that order.
//! - `upload`: one blob — HEAD → mount → upload; the upload *strategy* seam.
//! - `push`: the push orchestration (dedupe, `jobs` at a time, manifest last).
//! - `manifest`: manifest GET/HEAD/PUT, exact bytes, digest checks.
//! - `index`: image indexes — push one after checking its children; describe an image
//!   as an index entry.
//! - `pull`: resolve, fetch a blob into the store, list tags.
//! - `retry`: the one retry policy, around whole operations.
//! - `error`: [`RegistryError`] and the redacting [`RedactedUrl`].
//!
//! # Invariants
//!
//! - Blobs stream from the blob store or from the source registry; memory does not grow
//!   with layer size.
//! - Tokens and passwords are [`Secret`]s and never reach an error, a `Debug` or a log; an
//!   `Authorization` header never leaves the registry's own scheme, host and port.
//! - A manifest is sent as the exact bytes it was hashed from, after all its blobs.
//! - This module never reads the environment and never prints: it takes
//!   [`RegistryOptions`] and reports through [`Reporter`](crate::events::Reporter).

mod auth;
mod body;
mod challenge;
mod client;
mod credentials;
mod error;
mod index;
mod manifest;
mod pull;
mod push;
mod retry;
mod session;
mod targets;
mod upload;

use std::path::PathBuf;

pub use client::Client;
pub use credentials::scope_fit;
pub use error::{AuthContext, RedactedUrl, RegistryError, ResponseBody, ServerError};
pub use pull::{BlobDownload, ResolvedImage};
pub use push::{Pushed, PushedBlob};
pub use retry::Tuning;

/// How the puller classifies a manifest response, for the fuzz targets only.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn classify_manifest(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<crate::oci::MediaType, RegistryError> {
    let url = url::Url::parse("https://registry.invalid/v2/a/manifests/b").expect("a URL");
    manifest::classify(content_type, body, &url)
}

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use challenge::check_invariants as fuzz_www_authenticate;

use crate::reference::{is_docker_hub_host, Reference};
use crate::secret::Secret;

/// Parallel blob uploads when not configured (go-containerregistry's default).
pub const DEFAULT_JOBS: usize = 4;

/// How to reach registries. Built from the inputs; nothing here reads the environment.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) allowed over plain HTTP or with an unverified
    /// certificate. An entry without a port matches every port of that host.
    pub insecure: Vec<String>,
    /// Extra PEM CA certificate(s), trusted in addition to the system roots.
    pub ca_cert: Option<PathBuf>,
    /// Explicit credentials, per registry host.
    pub credentials: Vec<Credential>,
    /// Blob uploads in flight at once (at least 1).
    pub jobs: usize,
    /// The CI's own credentials (GitLab's registry, ghcr.io), consulted last.
    pub ci_credentials: Vec<Credential>,
    /// Docker's config directory (`config.json`: `auths`, `credHelpers`, `credsStore`).
    pub docker_config: Option<PathBuf>,
    /// podman/skopeo `auth.json` files, in order.
    pub auth_files: Vec<PathBuf>,
    /// Chunk size for large uploads; `None` picks per registry.
    pub chunk_size: Option<u64>,
    /// The repository (no host) this client pushes to: an `auths` key naming its
    /// namespace (`docker.io/pyengine`) wins over one naming only the host.
    pub repository: Option<String>,
    /// Where base images are pulled from first, per registry.
    pub mirrors: Vec<Mirror>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            ca_cert: None,
            credentials: Vec::new(),
            jobs: DEFAULT_JOBS,
            ci_credentials: Vec::new(),
            docker_config: None,
            auth_files: Vec::new(),
            chunk_size: None,
            repository: None,
            mirrors: Vec::new(),
        }
    }
}

/// A username and password for one registry host.
#[derive(Clone, Debug)]
pub struct Credential {
    /// `host[:port]`; `docker.io`, `index.docker.io`, `registry-1.docker.io` and a
    /// docker-config key such as `https://index.docker.io/v1/` all mean Docker Hub.
    pub registry: String,
    pub username: String,
    pub password: Secret,
}

/// `registry-mirrors`: pull `registry`'s images from `location` (`host[:port][/path]`)
/// first, as containers' registries.conf `mirror` and kaniko's `--registry-mirror` do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub registry: String,
    pub location: String,
}

impl Mirror {
    /// `image` as found on the mirror, when the mirror is for the image's registry.
    pub fn apply(&self, image: &Reference) -> Option<Reference> {
        let same = normalize_host(&self.registry) == normalize_host(&image.registry)
            || (is_docker_hub_host(&self.registry) && image.is_docker_hub());
        if !same {
            return None;
        }
        let mut text = format!(
            "{}/{}",
            self.location.trim_end_matches('/'),
            image.repository
        );
        if let Some(tag) = &image.tag {
            text.push_str(&format!(":{tag}"));
        }
        if let Some(digest) = &image.digest {
            text.push_str(&format!("@{digest}"));
        }
        text.parse().ok()
    }
}

impl Credential {
    /// Whether this credential is for `host` (`host[:port]`, as in a URL).
    pub fn matches(&self, host: &str) -> bool {
        let mine = normalize_host(&self.registry);
        let theirs = normalize_host(host);
        mine == theirs || (is_docker_hub_host(&mine) && is_docker_hub_host(&theirs))
    }
}

/// `https://Host:5000/v1/` → `host:5000`.
fn normalize_host(s: &str) -> String {
    let s = s.trim();
    let s = s.split_once("://").map(|(_, rest)| rest).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    s.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_host_matching() {
        let cred = |registry: &str| Credential {
            registry: registry.into(),
            username: "u".into(),
            password: Secret::new("p"),
        };
        let cases = [
            ("ghcr.io", "ghcr.io", true),
            ("GHCR.io", "ghcr.io", true),
            ("https://ghcr.io", "ghcr.io", true),
            ("ghcr.io", "registry.gitlab.com", false),
            ("localhost:5000", "localhost:5000", true),
            ("localhost:5000", "localhost:5001", false),
            ("docker.io", "registry-1.docker.io", true),
            ("https://index.docker.io/v1/", "registry-1.docker.io", true),
            ("index.docker.io", "docker.io", true),
            ("docker.io", "quay.io", false),
        ];
        for (registry, host, expected) in cases {
            assert_eq!(
                cred(registry).matches(host),
                expected,
                "{registry} vs {host}"
            );
        }
        let debug = format!(
            "{:?}",
            Credential {
                password: Secret::new("hunter2"),
                ..cred("x")
            }
        );
        assert!(
            debug.contains("password: ***") && !debug.contains("hunter2"),
            "{debug}"
        );
    }
}

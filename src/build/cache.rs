//! The layer cache in a registry: a RUN whose inputs did not change is not executed; its
//! layer from an earlier build is reused *by reference*.
//!
//! # Key
//!
//! A step's key is the sha256 of everything that decides its layer:
//! - the parent state: the platform and every layer below the step (which pins the base
//!   image and every earlier step, cached or not): a layer's digest, or for a COPY/ADD
//!   layer the digest of its files without their times, so a commit that copies the same
//!   files as the last one (but at a newer commit time) still hits;
//! - the configuration the command runs with: `WORKDIR`, `USER`, `SHELL`;
//! - the instruction as parsed (its text, heredoc bodies, `--mount` options);
//! - the environment it sees: `ENV` plus the stage's `ARG` values.
//!
//! Secret values are never part of a key (nor is the cache mount's content, as in
//! BuildKit). A RUN that binds files (`--mount=type=bind`, from the context or another
//! stage) is not cached: the key would have to hash those trees. COPY and ADD are not
//! cached either: their layers are rebuilt from the context deterministically, so a
//! rebuild gives the same digests, and the push finds those blobs already present.
//!
//! Every step is probed, not only up to the first miss: the key holds the parent *digests*,
//! and a rebuilt layer has the same digest as before, so a step after a miss still hits.
//!
//! # Storage
//!
//! As in kaniko, each cached layer is a tiny one-layer image in the cache repository
//! (`cache-repo`, default `<image>/cache`, none on Docker Hub), tagged with the key's 64 hex digits (a valid
//! tag as is). A plain image, rather than an artifact manifest, because every registry
//! accepts it and `skopeo`/`crane` can inspect it; one image per key, rather than one
//! growing index, because concurrent builds then never race on a shared manifest and a
//! probe is one manifest GET. Its config holds the layer's `diff_id`, which the reusing
//! image needs. A hit leaves the layer in the cache repository
//! ([`LayerOrigin::Remote`]): the push mounts it, no byte is downloaded or uploaded, unless
//! a later RUN of the stage needs the files, and then only the layer is fetched.
//!
//! Writing happens after the build, for the misses, only when the plan allows it (a
//! registry destination, not a dry run). A cache that cannot be read or written is a
//! warning, never a failed build.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use super::dockerfile::{Instruction, MountFlag};
use super::stage::StageState;
use crate::events::{Event, Reporter};
use crate::oci::{BlobStore, DiffId, Image, ImageConfig, Layer, LayerOrigin, Platform};
use crate::reference::Reference;
use crate::registry;

/// A step's cache key: 64 lower-case hex digits, also its tag in the cache repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn tag(&self) -> &str {
        &self.0
    }
}

/// The key of a RUN applied to `state`.
pub fn key(platform: &Platform, state: &StageState, instruction: &Instruction) -> CacheKey {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &str| {
        // Length-prefixed, so no two different inputs hash the same bytes.
        h.update(format!("{name}:{}:", value.len()));
        h.update(value.as_bytes());
    };
    field("version", "spaceone-publish layer cache v2");
    field("platform", &platform.to_string());
    for layer in state.layer_keys() {
        field("parent", layer);
    }
    let config = &state.image.config.config;
    field("workdir", config.working_dir.as_deref().unwrap_or("/"));
    field("user", config.user.as_deref().unwrap_or(""));
    field("shell", &format!("{:?}", config.shell));
    field("instruction", &instruction.text);
    field("parsed", &format!("{:?}", instruction.kind));
    for (k, v) in state.run_env() {
        field("env", &format!("{k}={v}"));
    }
    CacheKey(hex::encode(h.finalize()))
}

/// The cache for one build: where it lives, whether to read it, what to write.
pub struct Cache<'a> {
    repo: Option<&'a Reference>,
    read: bool,
    write: bool,
    registry: &'a registry::Client,
    reporter: &'a dyn Reporter,
    /// Misses built by this build, written by [`Cache::write_back`].
    pending: BTreeMap<String, Layer>,
    /// Set after the first failed probe, so one broken cache warns once.
    broken: bool,
}

impl<'a> Cache<'a> {
    pub fn new(
        repo: Option<&'a Reference>,
        read: bool,
        write: bool,
        registry: &'a registry::Client,
        reporter: &'a dyn Reporter,
    ) -> Cache<'a> {
        Cache {
            repo,
            read,
            write,
            registry,
            reporter,
            pending: BTreeMap::new(),
            broken: false,
        }
    }

    pub fn enabled(&self) -> bool {
        self.repo.is_some()
    }

    /// The cached layer for `key`, left in the cache repository; `None` on a miss.
    pub async fn probe(&mut self, key: &CacheKey, platform: &Platform) -> Option<Layer> {
        let repo = self.repo?;
        if !self.read || self.broken {
            return None;
        }
        let reference: Reference = format!("{}:{}", repo.name(), key.tag()).parse().ok()?;
        match self.registry.resolve(&reference, platform).await {
            Ok(resolved) => {
                let (Some(descriptor), Some(diff_id), 1, 1) = (
                    resolved.manifest.layers.first(),
                    resolved.config.rootfs.diff_ids.first(),
                    resolved.manifest.layers.len(),
                    resolved.config.rootfs.diff_ids.len(),
                ) else {
                    self.reporter.event(Event::Warning(&format!(
                        "layer cache: {} is not a one-layer cache image; ignored",
                        reference.name()
                    )));
                    return None;
                };
                let mut descriptor = descriptor.clone();
                descriptor.media_type = descriptor.media_type.to_oci();
                Some(Layer {
                    descriptor,
                    diff_id: DiffId(diff_id.clone()),
                    origin: LayerOrigin::Remote(without_tag(repo)),
                })
            }
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => None,
            Err(e) => {
                self.broken = true;
                self.reporter.event(Event::Warning(&format!(
                    "layer cache {}: cannot be read ({e}); building without it",
                    repo.name()
                )));
                None
            }
        }
    }

    /// Remembers a layer this build made for `key`, to be written after the build.
    pub fn built(&mut self, key: CacheKey, layer: &Layer) {
        if self.write && self.repo.is_some() && layer.origin == LayerOrigin::Local {
            self.pending.insert(key.0, layer.clone());
        }
    }

    /// Pushes each pending layer as a one-layer image tagged with its key. Failures are
    /// warnings: the build itself succeeded.
    pub async fn write_back(self, platform: &Platform, store: &BlobStore) {
        let Some(repo) = self.repo else { return };
        let quiet = Quiet(self.reporter);
        for (tag, layer) in &self.pending {
            let mut image = Image {
                config: ImageConfig::scratch(platform),
                layers: vec![],
                annotations: BTreeMap::new(),
            };
            image.add_layer(layer.clone());
            let result = match image.seal(store) {
                Ok(sealed) => self
                    .registry
                    .push(&sealed, repo, std::slice::from_ref(tag), store, &quiet)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => self.reporter.event(Event::Note(&format!(
                    "layer cache: stored {} as {}:{}",
                    layer.descriptor.digest.short(),
                    repo.name(),
                    &tag[..12]
                ))),
                Err(e) => {
                    self.reporter.event(Event::Warning(&format!(
                        "layer cache {}: cannot store a layer ({e}); the build is not affected",
                        repo.name()
                    )));
                    return;
                }
            }
        }
    }
}

/// Cache writes show only warnings, notes and debug lines: their blob and manifest lines
/// would read like the image's own push.
struct Quiet<'a>(&'a dyn Reporter);

impl Reporter for Quiet<'_> {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Blob { .. } | Event::Manifest { .. } | Event::Progress { .. } => {}
            other => self.0.event(other),
        }
    }
}

fn without_tag(repo: &Reference) -> Reference {
    repo.name().parse().unwrap_or_else(|_| repo.clone())
}

/// Whether a RUN can be cached: its mounts bring in no files (a bind, the default type,
/// or anything `from=` another stage or image).
pub fn cacheable(mounts: &[MountFlag]) -> bool {
    mounts
        .iter()
        .all(|m| m.from().is_none() && matches!(m.kind(), "cache" | "secret" | "tmpfs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cacheable_mounts_table() {
        let cases: &[(&[&str], bool)] = &[
            (&[], true),
            (&["type=cache,target=/root/.cache"], true),
            (&["type=secret,id=token"], true),
            (&["type=tmpfs,target=/t"], true),
            (&["target=/src"], false),
            (&["type=bind,target=/src"], false),
            (&["type=cache,target=/c,from=builder"], false),
            (&["type=cache,target=/c,FROM=builder"], false),
            (
                &["type=cache,target=/c", "type=bind,source=.,target=/s"],
                false,
            ),
        ];
        for (mounts, expected) in cases {
            let mounts: Vec<MountFlag> = mounts
                .iter()
                .map(|m| MountFlag::parse(m).unwrap())
                .collect();
            assert_eq!(cacheable(&mounts), *expected, "{mounts:?}");
        }
    }
}

//! Image indexes: multi-platform images and the `merge` verb.
//!
//! An index names manifests by digest, so it may only be PUT once every child is in the
//! target repository — the same rule as blobs before a manifest. [`Client::push_index`]
//! checks each child with a manifest `HEAD` (a missing one is an error naming its digest
//! and platform; nothing is written), then PUTs the index's bytes under every tag.
//! [`Client::describe`] is the other half: it turns a pushed image's digest into the
//! descriptor an index lists (media type, digest, size, and the platform read from the
//! image's config, which is the authority on it).

use super::challenge::Scopes;
use super::error::{RedactedUrl, RegistryError};
use super::manifest;
use super::pull::{get_small_blob, parse_json, CONFIG_LIMIT};
use super::push::{unique_tags, without_tag};
use super::{Client, Pushed};
use crate::events::Reporter;
use crate::oci::{Descriptor, Digest, ImageConfig, Index, Manifest, MediaType, Platform};
use crate::reference::Reference;

impl Client {
    /// Pushes `index` to `target` under `tags` (by digest when there are none), after
    /// checking that `target` holds every manifest it lists. The bytes are the index
    /// serialized as it is (deterministic: struct order, sorted maps), sent as an OCI
    /// index; [`Pushed::digest`] is their digest.
    pub async fn push_index(
        &self,
        index: &Index,
        target: &Reference,
        tags: &[String],
        reporter: &dyn Reporter,
    ) -> Result<Pushed, RegistryError> {
        let tags = unique_tags(tags)?;
        let bytes = serde_json::to_vec(index).expect("an index serializes");
        let digest = Digest::sha256_of(&bytes);
        let repository = target.repository.as_str();
        let session = self.session(target, Scopes::push(repository, [])).await?;
        for child in &index.manifests {
            if !manifest::exists(&session, repository, &child.digest).await? {
                return Err(RegistryError::MissingChild {
                    repository: target.name(),
                    digest: child.digest.clone(),
                    platform: child.platform.as_ref().map(Platform::to_string),
                });
            }
        }
        self.put_manifests(
            &session,
            target,
            &tags,
            &MediaType::OciIndex,
            &bytes,
            reporter,
        )
        .await?;
        self.report_warnings(reporter);
        Ok(Pushed {
            repository: without_tag(target),
            digest,
            tags,
            blobs: Vec::new(),
        })
    }

    /// The index entry for image `digest` of `repo`: its manifest is fetched (and its
    /// digest verified), then its config, whose `os`/`architecture`/`variant` become the
    /// descriptor's platform.
    pub async fn describe(
        &self,
        repo: &Reference,
        digest: &Digest,
    ) -> Result<Descriptor, RegistryError> {
        let repository = repo.repository.as_str();
        let session = self.session(repo, Scopes::pull(repository)).await?;
        let fetched =
            manifest::get(&session, repository, &digest.to_string(), Some(digest)).await?;
        if !fetched.media_type.is_manifest() {
            return Err(RegistryError::UnsupportedManifest {
                url: RedactedUrl::new(&fetched.url),
                media_type: format!(
                    "{} (an index cannot be an entry of another index here)",
                    fetched.media_type
                ),
            });
        }
        let manifest: Manifest = parse_json(&fetched.bytes, &fetched.url, "image manifest")?;
        let (config_bytes, config_url) =
            get_small_blob(&session, repository, &manifest.config, CONFIG_LIMIT).await?;
        let config: ImageConfig = parse_json(&config_bytes, &config_url, "image config")?;
        let mut descriptor = Descriptor::new(
            fetched.media_type,
            fetched.digest,
            fetched.bytes.len() as u64,
        );
        descriptor.platform = Some(Platform {
            architecture: config.architecture,
            os: config.os,
            os_version: None,
            variant: config.variant,
        });
        Ok(descriptor)
    }
}

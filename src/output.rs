//! Where a built image goes: a registry (the push) or an OCI image layout on disk.
//!
//! One platform gives one image manifest. Several give one manifest per platform plus an
//! index over them: the children are pushed by digest first, then the index under the
//! tags, so a tag never points at something incomplete.
//!
//! A layout must hold every blob, so base layers that stayed in their registry during the
//! build are downloaded into the blob store first; a registry push mounts or copies them
//! registry-side instead.

use std::path::PathBuf;

use crate::ci::{BlobAction, Event, Reporter};
use crate::oci::{
    layout, BlobStore, Descriptor, Digest, Index, LayerOrigin, MediaType, SealedImage,
};
use crate::plan::Destination;
use crate::reference::Reference;
use crate::registry;
use crate::Error;

/// The result of delivering an image (or an index of images).
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The digest the tags point at: the manifest's, or the index's.
    pub digest: Digest,
    /// The repository pushed to (no tag), when pushed.
    pub repository: Option<Reference>,
    pub tags: Vec<String>,
    /// The layout directory, when written locally.
    pub layout: Option<PathBuf>,
    pub size: u64,
    pub layers: usize,
    /// Blobs the registry already had or mounted, and blobs uploaded (with their bytes).
    pub reused_blobs: usize,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
}

/// What a build produced: one image per platform, and an index over them when there are
/// several.
pub struct Built {
    pub images: Vec<SealedImage>,
    pub index: Option<Index>,
}

impl Built {
    /// The index lists the images in platform order, so its bytes are stable.
    pub fn new(
        images: Vec<SealedImage>,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Built {
        let index = (images.len() > 1).then(|| {
            let mut manifests: Vec<Descriptor> =
                images.iter().map(|i| i.manifest.clone()).collect();
            manifests.sort_by(|a, b| a.platform.cmp(&b.platform));
            Index {
                schema_version: 2,
                media_type: Some(MediaType::OciIndex),
                manifests,
                annotations: (!annotations.is_empty()).then(|| annotations.clone()),
            }
        });
        Built { images, index }
    }
}

pub async fn deliver(
    destination: &Destination,
    built: &Built,
    tags: &[String],
    dry_run: bool,
    registry: &registry::Client,
    store: &BlobStore,
    reporter: &dyn Reporter,
) -> Result<Delivered, Error> {
    let (images, index) = (&built.images, built.index.as_ref());
    let top = match index {
        Some(index) => {
            let stored = store.put(&serde_json::to_vec(index).expect("index serializes"))?;
            Descriptor::new(MediaType::OciIndex, stored.digest, stored.size)
        }
        None => images[0].manifest.clone(),
    };
    let mut delivered = Delivered {
        digest: top.digest.clone(),
        repository: None,
        tags: tags.to_vec(),
        layout: None,
        size: images.iter().map(SealedImage::layers_size).sum(),
        layers: images.iter().map(|i| i.image.layers.len()).sum(),
        reused_blobs: 0,
        uploaded_blobs: 0,
        uploaded_bytes: 0,
    };
    match destination {
        Destination::Registry(target) if dry_run => {
            reporter.event(Event::Note(&format!(
                "dry run: {} would be pushed to {}",
                top.digest,
                target.name()
            )));
            delivered.repository = Some(target.clone());
        }
        Destination::Registry(target) => {
            // Children go by digest only when an index will carry the tags.
            let image_tags: &[String] = if index.is_some() { &[] } else { tags };
            for image in images {
                let pushed = registry
                    .push(image, target, image_tags, store, reporter)
                    .await?;
                let uploaded = pushed
                    .blobs
                    .iter()
                    .filter(|b| b.action == BlobAction::Pushed)
                    .count();
                delivered.uploaded_blobs += uploaded;
                delivered.reused_blobs += pushed.blobs.len() - uploaded;
                delivered.uploaded_bytes += pushed.uploaded_bytes();
            }
            if let Some(index) = index {
                registry.push_index(index, target, tags, reporter).await?;
            }
            delivered.repository = Some(target.name().parse().unwrap_or_else(|_| target.clone()));
        }
        Destination::Layout { dir, .. } => {
            for image in images {
                for layer in &image.image.layers {
                    if let LayerOrigin::Remote(source) = &layer.origin {
                        if !store.contains(&layer.descriptor.digest) {
                            registry
                                .fetch_blob(source, &layer.descriptor.digest, store)
                                .await?;
                        }
                    }
                }
            }
            layout::write(dir, store, images, &top, tags)?;
            reporter.event(Event::Note(&format!(
                "wrote {} to the OCI layout {}",
                top.digest,
                dir.display()
            )));
            delivered.layout = Some(dir.clone());
        }
    }
    Ok(delivered)
}

/// Pushes an index whose children are already in `target` (the `merge` verb).
pub async fn deliver_index(
    target: &Reference,
    index: &Index,
    tags: &[String],
    dry_run: bool,
    registry: &registry::Client,
    reporter: &dyn Reporter,
) -> Result<Delivered, Error> {
    let bytes = serde_json::to_vec(index).expect("index serializes");
    let digest = Digest::sha256_of(&bytes);
    if dry_run {
        reporter.event(Event::Note(&format!(
            "dry run: index {digest} would be pushed to {}",
            target.name()
        )));
    } else {
        registry.push_index(index, target, tags, reporter).await?;
    }
    Ok(Delivered {
        digest,
        repository: Some(target.clone()),
        tags: tags.to_vec(),
        layout: None,
        size: index.manifests.iter().map(|m| m.size).sum(),
        layers: 0,
        reused_blobs: 0,
        uploaded_blobs: 0,
        uploaded_bytes: 0,
    })
}

//! Where a built image goes: a registry (the push) or an OCI image layout on disk.
//!
//! A layout must hold every blob, so base layers that stayed in their registry during the
//! build are downloaded into the blob store first; a registry push mounts or copies them
//! registry-side instead.

use std::path::PathBuf;

use crate::ci::{BlobAction, Event, Reporter};
use crate::oci::{layout, BlobStore, Digest, LayerOrigin, SealedImage};
use crate::plan::Destination;
use crate::reference::Reference;
use crate::registry;
use crate::Error;

/// The result of delivering an image.
#[derive(Debug, Clone)]
pub struct Delivered {
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

pub async fn deliver(
    destination: &Destination,
    image: &SealedImage,
    tags: &[String],
    dry_run: bool,
    registry: &registry::Client,
    store: &BlobStore,
    reporter: &dyn Reporter,
) -> Result<Delivered, Error> {
    let mut delivered = Delivered {
        digest: image.digest().clone(),
        repository: None,
        tags: tags.to_vec(),
        layout: None,
        size: image.layers_size(),
        layers: image.image.layers.len(),
        reused_blobs: 0,
        uploaded_blobs: 0,
        uploaded_bytes: 0,
    };
    match destination {
        Destination::Registry(target) if dry_run => {
            reporter.event(Event::Note(&format!(
                "dry run: {} would be pushed to {}",
                image.digest(),
                target.name()
            )));
            delivered.repository = Some(target.clone());
        }
        Destination::Registry(target) => {
            let pushed = registry.push(image, target, tags, store, reporter).await?;
            let uploaded = pushed.blobs.iter().filter(|b| b.action == BlobAction::Pushed).count();
            delivered.uploaded_blobs = uploaded;
            delivered.reused_blobs = pushed.blobs.len() - uploaded;
            delivered.uploaded_bytes = pushed.uploaded_bytes();
            delivered.repository = Some(pushed.repository);
        }
        Destination::Layout { dir, .. } => {
            for layer in &image.image.layers {
                if let LayerOrigin::Remote(source) = &layer.origin {
                    if !store.contains(&layer.descriptor.digest) {
                        registry
                            .fetch_blob(source, &layer.descriptor.digest, store)
                            .await?;
                    }
                }
            }
            layout::write(dir, store, image, tags)?;
            reporter.event(Event::Note(&format!(
                "wrote {} to the OCI layout {}",
                image.digest(),
                dir.display()
            )));
            delivered.layout = Some(dir.clone());
        }
    }
    Ok(delivered)
}


//! An image as a plain value: its configuration and its layers, each layer knowing where
//! its bytes live.
//!
//! A layer built here lives in the local [`BlobStore`]; a base layer lives in the registry
//! it came from until something needs its bytes. That is how a build without RUN never
//! downloads its base: the push mounts or copies those layers registry-side.
//! [`Image::seal`] writes config and manifest into the store and fixes the digest.

use std::collections::BTreeMap;

use super::{BlobStore, Descriptor, DiffId, Digest, ImageConfig, Manifest, MediaType, StoreError};
use crate::reference::Reference;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerOrigin {
    /// Bytes are in the local blob store.
    Local,
    /// Bytes are in this repository of a registry (the base image's).
    Remote(Reference),
}

#[derive(Clone, Debug)]
pub struct Layer {
    pub descriptor: Descriptor,
    pub diff_id: DiffId,
    pub origin: LayerOrigin,
}

#[derive(Clone, Debug)]
pub struct Image {
    pub config: ImageConfig,
    pub layers: Vec<Layer>,
    pub annotations: BTreeMap<String, String>,
}

/// An image whose config and manifest are in the blob store, with their exact bytes.
#[derive(Clone, Debug)]
pub struct SealedImage {
    pub image: Image,
    pub config: Descriptor,
    pub manifest: Descriptor,
    pub manifest_bytes: Vec<u8>,
}

impl Image {
    pub fn add_layer(&mut self, layer: Layer) {
        self.config.push_layer(&layer.diff_id);
        self.layers.push(layer);
    }

    /// Serializes config and manifest (deterministically) into `store`.
    pub fn seal(self, store: &BlobStore) -> Result<SealedImage, StoreError> {
        let config_bytes = serde_json::to_vec(&self.config).expect("config serializes");
        let stored = store.put(&config_bytes)?;
        let config = Descriptor::new(MediaType::OciConfig, stored.digest, stored.size);
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MediaType::OciManifest),
            config: config.clone(),
            layers: self.layers.iter().map(|l| l.descriptor.clone()).collect(),
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
        };
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
        let stored = store.put(&manifest_bytes)?;
        let mut manifest = Descriptor::new(MediaType::OciManifest, stored.digest, stored.size);
        manifest.platform = Some(super::Platform {
            architecture: self.config.architecture.clone(),
            os: self.config.os.clone(),
            os_version: None,
            variant: self.config.variant.clone(),
        });
        Ok(SealedImage {
            image: self,
            config,
            manifest,
            manifest_bytes,
        })
    }
}

impl SealedImage {
    pub fn digest(&self) -> &Digest {
        &self.manifest.digest
    }

    /// Total compressed size of the layers.
    pub fn layers_size(&self) -> u64 {
        self.image.layers.iter().map(|l| l.descriptor.size).sum()
    }
}

//! OCI content: digests, media types, descriptors, manifests, image configuration, the
//! content-addressed blob store and the OCI image layout.
//!
//! Everything here is content addressed and streamed: a blob is identified by its digest,
//! written once, and never held whole in memory unless it is a small JSON document.

mod blob_store;
mod config;
mod image;
pub mod layout;
mod manifest;

pub use crate::digest::{Algorithm, DiffId, Digest, DigestError, Hasher, HashingWriter};
pub use blob_store::{BlobStore, BlobWriter, StoreError, StoredBlob};
pub use config::{ContainerConfig, History, ImageConfig, RootFs};
pub use image::{Image, Layer, LayerOrigin, SealedImage};
pub use manifest::{Descriptor, Index, Manifest, MediaType, Platform};

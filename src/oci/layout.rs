//! Writing an OCI image layout (`oci:DIR`): `oci-layout`, `index.json`, `blobs/`.
//!
//! Blobs are hard-linked from the blob store when both are on one file system, copied
//! otherwise. Each tag becomes an `index.json` entry annotated with
//! `org.opencontainers.image.ref.name`, which is what `skopeo copy oci:DIR:TAG` reads.
//! Every layer must be local: the caller fetches remote base layers first.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{BlobStore, Descriptor, Digest, Index, LayerOrigin, SealedImage};

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("cannot write the OCI layout at {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "layer {0} is not in the local blob store (fetch remote layers before writing a layout)"
    )]
    RemoteLayer(Digest),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// Writes `images` into the layout at `dir`, and `top` (the single image's manifest, or
/// an index over them whose bytes are in `store`) under each of `tags`, replacing earlier
/// entries with the same tag. Returns the path of `index.json`.
pub fn write(
    dir: &Path,
    store: &BlobStore,
    images: &[SealedImage],
    top: &Descriptor,
    tags: &[String],
) -> Result<PathBuf, LayoutError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LayoutError::Io { path, source }
    };
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
    let marker = dir.join("oci-layout");
    fs::write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io_err(&marker))?;

    let mut digests = vec![top.digest.clone()];
    for image in images {
        digests.push(image.manifest.digest.clone());
        digests.push(image.config.digest.clone());
        for layer in &image.image.layers {
            if layer.origin != LayerOrigin::Local && !store.contains(&layer.descriptor.digest) {
                return Err(LayoutError::RemoteLayer(layer.descriptor.digest.clone()));
            }
            digests.push(layer.descriptor.digest.clone());
        }
    }
    digests.dedup();
    for digest in &digests {
        let dest = dir.join(digest.blob_path());
        if dest.is_file() {
            continue;
        }
        let src = store.path(digest);
        if fs::hard_link(&src, &dest).is_err() {
            fs::copy(&src, &dest).map_err(io_err(&dest))?;
        }
    }

    let index_path = dir.join("index.json");
    let mut index = match fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice::<Index>(&bytes).map_err(|e| LayoutError::Io {
            path: index_path.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?,
        Err(_) => Index::oci(vec![], None),
    };
    let names: Vec<String> = if tags.is_empty() {
        vec![String::new()]
    } else {
        tags.to_vec()
    };
    for name in names {
        index.manifests.retain(|d| {
            let existing = d
                .annotations
                .as_ref()
                .and_then(|a| a.get(REF_NAME))
                .cloned()
                .unwrap_or_default();
            existing != name
        });
        let mut entry: Descriptor = top.clone();
        if !name.is_empty() {
            entry.annotations = Some([(REF_NAME.to_string(), name)].into_iter().collect());
        }
        index.manifests.push(entry);
    }
    let bytes = serde_json::to_vec_pretty(&index).expect("index serializes");
    fs::write(&index_path, bytes).map_err(io_err(&index_path))?;
    Ok(index_path)
}

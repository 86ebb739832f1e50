//! Writes an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`)
//! that skopeo reads with its `oci:<dir>:<tag>` transport.
//!
//! Descriptors are plain JSON values: this is fixture code, and the point is to stay
//! independent of the crate's own `oci` module.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};

use super::rootfs::{sha256_digest, Layer};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Stores `bytes` as a blob under `root` and returns its descriptor.
pub fn write_blob(root: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = sha256_digest(bytes);
    let dir = root.join("blobs/sha256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(&digest["sha256:".len()..]), bytes).unwrap();
    json!({ "mediaType": media_type, "digest": digest, "size": bytes.len() })
}

/// Stores the layers, the config and an image manifest; returns the manifest descriptor.
pub fn write_image(root: &Path, layers: &[Layer], config: &Value) -> Value {
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|l| write_blob(root, OCI_LAYER_GZIP, &l.gz))
        .collect();
    let config_desc = write_blob(root, OCI_CONFIG, &serde_json::to_vec(config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": layer_descs,
    });
    write_blob(root, OCI_MANIFEST, &serde_json::to_vec(&manifest).unwrap())
}

/// Stores an image index over `children` (each a manifest descriptor plus its platform
/// object); returns the index descriptor.
pub fn write_index(root: &Path, children: &[(Value, Value)]) -> Value {
    let manifests: Vec<Value> = children
        .iter()
        .map(|(desc, platform)| {
            let mut d = desc.clone();
            d["platform"] = platform.clone();
            d
        })
        .collect();
    let index = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    write_blob(root, OCI_INDEX, &serde_json::to_vec(&index).unwrap())
}

/// Writes `oci-layout` and an `index.json` naming `descriptor` as `tag`.
pub fn finish_layout(root: &Path, tag: &str, descriptor: &Value) {
    fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut top = descriptor.clone();
    top["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
    let index = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top] });
    fs::write(
        root.join("index.json"),
        serde_json::to_vec_pretty(&index).unwrap(),
    )
    .unwrap();
}

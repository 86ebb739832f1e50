//! [`unpack_image`]: what `docker run` would see. The image is copied out of the registry
//! by skopeo (`dir:` transport, digests verified), then its layers are applied in order to
//! a temp rootfs the way the OCI image spec says: whiteouts (`.wh.<name>`) and opaque
//! markers (`.wh..wh..opq`) delete what lower layers put there, then the layer's other
//! entries are extracted with owners, modes and mtimes, links included.
//!
//! Independent of the crate's own `build::unpack` on purpose. Every path is checked to
//! stay inside the rootfs (the tar crate's `unpack_in` checks its own).

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use serde_json::Value;
use tempfile::TempDir;

use super::registry::Registry;
use super::skopeo::{registry_flags, skopeo, Side};

/// An unpacked image: its rootfs (deleted on drop) and its config.
pub struct UnpackedImage {
    pub root: TempDir,
    pub config: Value,
}

impl UnpackedImage {
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// `config.<key>` as strings (`Env`, `Entrypoint`, `Cmd`); empty when absent.
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.config["config"][key]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }
}

/// Pulls `reference` (`host/repo:tag`, one platform) from `reg` and unpacks it.
pub fn unpack_image(reg: &Registry, reference: &str) -> UnpackedImage {
    let blobs = tempfile::tempdir().unwrap();
    let mut args = vec!["copy".to_string(), "--quiet".to_string()];
    args.extend(registry_flags(reg, Side::Src));
    args.push(format!("docker://{reference}"));
    args.push(format!("dir:{}", blobs.path().display()));
    skopeo(&args);
    let manifest: Value =
        serde_json::from_slice(&fs::read(blobs.path().join("manifest.json")).unwrap()).unwrap();
    let blob = |digest: &str| blobs.path().join(digest.split_once(':').unwrap().1);
    let config: Value = serde_json::from_slice(
        &fs::read(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let root = tempfile::Builder::new()
        .prefix("rootfs-")
        .tempdir()
        .unwrap();
    for layer in manifest["layers"].as_array().expect("an image manifest") {
        apply_layer(&blob(layer["digest"].as_str().unwrap()), root.path());
    }
    UnpackedImage { root, config }
}

/// Applies one layer blob (gzip or plain tar) to `root`.
pub fn apply_layer(blob: &Path, root: &Path) {
    // Pass 1: whiteouts only concern lower layers, so apply them all before extracting.
    let mut archive = tar::Archive::new(open(blob));
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = relative(&entry.path().unwrap());
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        if name == ".wh..wh..opq" {
            let target = inside(root, dir);
            if let Ok(children) = fs::read_dir(&target) {
                for child in children.flatten() {
                    remove(&child.path());
                }
            }
        } else if let Some(hidden) = name.strip_prefix(".wh.") {
            remove(&inside(root, &dir.join(hidden)));
        }
    }
    // Pass 2: everything else.
    let mut archive = tar::Archive::new(open(blob));
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = relative(&entry.path().unwrap());
        let is_whiteout = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".wh."));
        if is_whiteout || path.as_os_str().is_empty() {
            continue;
        }
        // Like containerd: what a lower layer left there goes, unless both are directories.
        let target = inside(root, &path);
        if let Ok(old) = fs::symlink_metadata(&target) {
            if !(old.is_dir() && entry.header().entry_type().is_dir()) {
                remove(&target);
            }
        }
        let ok = entry
            .unpack_in(root)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", blob.display(), path.display()));
        assert!(
            ok,
            "{}: {} escapes the rootfs",
            blob.display(),
            path.display()
        );
    }
}

fn open(blob: &Path) -> Box<dyn Read> {
    let mut file = BufReader::new(File::open(blob).unwrap());
    let gzip = file.fill_buf().unwrap().starts_with(&[0x1f, 0x8b]);
    if gzip {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    }
}

/// The entry path without `./` or `/`; panics on `..`.
fn relative(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                panic!("layer entry {} leaves the rootfs", path.display())
            }
        }
    }
    out
}

/// `root/rel`, after checking that its parent resolves (symlinks followed) inside `root`.
fn inside(root: &Path, rel: &Path) -> PathBuf {
    let path = root.join(rel);
    let canonical_root = root.canonicalize().unwrap();
    if let Some(parent) = path.parent().and_then(|p| p.canonicalize().ok()) {
        assert!(
            parent.starts_with(&canonical_root),
            "{} resolves outside the rootfs",
            rel.display()
        );
    }
    path
}

fn remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).unwrap(),
        Ok(_) => fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
}

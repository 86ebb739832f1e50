//! What a registry really holds, read back with skopeo (not our code): the manifest bytes
//! exactly as served, the config, and every layer's tar entries.
//!
//! [`read_back`] asks `skopeo inspect --raw` for the manifest; for an image it then runs
//! `skopeo copy docker://<repo>@<digest> dir:<tmp>`, which verifies every blob's digest
//! and stores blobs unchanged, and decompresses each layer with flate2 + tar.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::GzDecoder;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::registry::Registry;
use super::rootfs::sha256_digest;
use super::skopeo::{registry_flags, skopeo, Side};

/// File contents are kept only below this size.
pub const CONTENT_LIMIT: u64 = 1 << 20;

/// An image or index as the registry serves it.
#[derive(Debug)]
pub struct PulledImage {
    /// What was asked for, e.g. `127.0.0.1:5000/demo:1.0.0`.
    pub reference: String,
    /// The manifest bytes exactly as served.
    pub raw_manifest: Vec<u8>,
    pub manifest: Value,
    /// `sha256:<hex>` of `raw_manifest`.
    pub digest: String,
    /// The manifest's `mediaType` (inferred for an OCI manifest that omits it).
    pub media_type: String,
    /// The config blob's bytes (empty for an index).
    pub raw_config: Vec<u8>,
    /// The parsed config (`Value::Null` for an index).
    pub config: Value,
    /// The layers in manifest order (empty for an index).
    pub layers: Vec<PulledLayer>,
}

/// One layer blob and its decompressed entries.
#[derive(Debug)]
pub struct PulledLayer {
    pub digest: String,
    pub media_type: String,
    /// Compressed size in bytes.
    pub size: u64,
    /// `sha256:<hex>` of the uncompressed tar (compare with `rootfs.diff_ids`).
    pub diff_id: String,
    pub entries: Vec<TarEntry>,
}

/// One tar entry, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TarEntry {
    /// The path exactly as stored (PAX/GNU long names resolved), e.g. `bin/sh` or `./bin/`.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (e.g. `0o1777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
    /// The bytes of a regular file smaller than [`CONTENT_LIMIT`].
    pub content: Option<Vec<u8>>,
    /// Symlink or hard-link target, verbatim.
    pub link_target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// A `.wh.<name>` file, or the opaque marker `.wh..wh..opq`.
    Whiteout,
    /// Any other tar type byte (char/block device, fifo, …).
    Other(u8),
}

impl PulledImage {
    /// True for an OCI image index or a Docker manifest list.
    pub fn is_index(&self) -> bool {
        self.manifest.get("manifests").is_some()
    }

    /// The digest of the index entry for `platform` (`os/arch` or `os/arch/variant`).
    pub fn child_digest(&self, platform: &str) -> String {
        let children = self.manifest["manifests"].as_array().expect("not an index");
        let found = children
            .iter()
            .find(|c| platform_matches(&c["platform"], platform));
        let child = found.unwrap_or_else(|| panic!("no {platform} in index {}", self.manifest));
        child["digest"].as_str().unwrap().to_string()
    }

    /// The config's `config.Env`.
    pub fn env(&self) -> Vec<String> {
        let env = self.config["config"]["Env"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        env.iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// The top-most entry for `path` across all layers (see [`PulledLayer::entry`]).
    pub fn entry(&self, path: &str) -> Option<&TarEntry> {
        self.layers.iter().rev().find_map(|l| l.entry(path))
    }
}

impl PulledLayer {
    /// The entry for `path`, ignoring a leading `/` or `./` and a trailing `/`.
    pub fn entry(&self, path: &str) -> Option<&TarEntry> {
        let want = normalize(path);
        self.entries.iter().find(|e| normalize(&e.path) == want)
    }

    /// Normalized paths in archive order.
    pub fn paths(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| normalize(&e.path).to_string())
            .collect()
    }
}

fn normalize(path: &str) -> &str {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
}

fn platform_matches(p: &Value, want: &str) -> bool {
    let mut parts = want.split('/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    p["os"].as_str() == os
        && p["architecture"].as_str() == arch
        && (variant.is_none() || p["variant"].as_str() == variant)
}

/// Reads `reference` (`host/repo:tag` or `host/repo@digest`) back from `reg`.
pub fn read_back(reg: &Registry, reference: &str) -> PulledImage {
    let raw_manifest = skopeo_inspect_raw(reg, reference);
    let manifest: Value = serde_json::from_slice(&raw_manifest).expect("manifest is JSON");
    let digest = sha256_digest(&raw_manifest);
    let media_type = media_type_of(&manifest);
    let mut image = PulledImage {
        reference: reference.to_string(),
        raw_manifest,
        manifest,
        digest,
        media_type,
        raw_config: Vec::new(),
        config: Value::Null,
        layers: Vec::new(),
    };
    if !image.is_index() {
        fetch_blobs(reg, &mut image);
    }
    image
}

/// Reads the `platform` image (e.g. `linux/arm64`) of the index at `reference`.
pub fn read_back_platform(reg: &Registry, reference: &str, platform: &str) -> PulledImage {
    let index = read_back(reg, reference);
    assert!(
        index.is_index(),
        "{reference} is not an index: {}",
        index.manifest
    );
    read_back(
        reg,
        &format!(
            "{}@{}",
            repository_of(reference),
            index.child_digest(platform)
        ),
    )
}

/// `skopeo inspect` (the summary, for the host platform of an index).
pub fn skopeo_inspect(reg: &Registry, reference: &str) -> Value {
    serde_json::from_slice(&inspect(reg, reference, None)).unwrap()
}

/// `skopeo inspect --raw`: the manifest bytes as served.
pub fn skopeo_inspect_raw(reg: &Registry, reference: &str) -> Vec<u8> {
    inspect(reg, reference, Some("--raw"))
}

/// `skopeo inspect --config`: the image config (host platform of an index).
pub fn skopeo_inspect_config(reg: &Registry, reference: &str) -> Value {
    serde_json::from_slice(&inspect(reg, reference, Some("--config"))).unwrap()
}

fn inspect(reg: &Registry, reference: &str, flag: Option<&str>) -> Vec<u8> {
    let mut args = vec!["inspect".to_string()];
    args.extend(registry_flags(reg, Side::Inspect));
    args.extend(flag.map(str::to_string));
    args.push(format!("docker://{reference}"));
    skopeo(&args).stdout
}

fn media_type_of(manifest: &Value) -> String {
    match manifest["mediaType"].as_str() {
        Some(mt) => mt.to_string(),
        None if manifest.get("manifests").is_some() => super::oci_layout::OCI_INDEX.to_string(),
        None => super::oci_layout::OCI_MANIFEST.to_string(),
    }
}

/// `host/repo` from `host/repo:tag` or `host/repo@digest`.
fn repository_of(reference: &str) -> &str {
    if let Some((repo, _)) = reference.split_once('@') {
        return repo;
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => reference,
    }
}

/// Copies the image by digest into a `dir:` layout, then reads config and layers.
fn fetch_blobs(reg: &Registry, image: &mut PulledImage) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["copy".to_string(), "--quiet".to_string()];
    args.extend(registry_flags(reg, Side::Src));
    args.push(format!(
        "docker://{}@{}",
        repository_of(&image.reference),
        image.digest
    ));
    args.push(format!("dir:{}", dir.path().display()));
    skopeo(&args);
    let config_digest = image.manifest["config"]["digest"]
        .as_str()
        .expect("config digest");
    image.raw_config = fs::read(blob_path(dir.path(), config_digest)).unwrap();
    image.config = serde_json::from_slice(&image.raw_config).expect("config is JSON");
    let descriptors = image.manifest["layers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    image.layers = descriptors
        .iter()
        .map(|d| read_layer(dir.path(), d))
        .collect();
}

fn blob_path(dir: &Path, digest: &str) -> std::path::PathBuf {
    dir.join(digest.split_once(':').expect("algorithm:hex").1)
}

fn read_layer(dir: &Path, desc: &Value) -> PulledLayer {
    let digest = desc["digest"].as_str().unwrap().to_string();
    let path = blob_path(dir, &digest);
    let (entries, diff_id) = read_tar(&path);
    PulledLayer {
        media_type: desc["mediaType"].as_str().unwrap_or_default().to_string(),
        size: desc["size"].as_u64().unwrap_or_default(),
        digest,
        diff_id,
        entries,
    }
}

/// Lists the entries of a (gzip or uncompressed) tar blob and hashes the uncompressed
/// stream for its diff_id.
fn read_tar(path: &Path) -> (Vec<TarEntry>, String) {
    let mut file = BufReader::new(File::open(path).unwrap());
    let magic: Vec<u8> = file.fill_buf().unwrap().iter().take(4).copied().collect();
    let raw: Box<dyn Read> = match magic.as_slice() {
        [0x1f, 0x8b, ..] => Box::new(GzDecoder::new(file)),
        [0x28, 0xb5, 0x2f, 0xfd] => panic!(
            "{}: zstd layers are not supported by read_back",
            path.display()
        ),
        _ => Box::new(file),
    };
    let mut archive = tar::Archive::new(HashingReader {
        inner: raw,
        hasher: Sha256::new(),
    });
    let entries = archive
        .entries()
        .unwrap()
        .map(|e| tar_entry(e.unwrap_or_else(|err| panic!("{}: bad tar: {err}", path.display()))))
        .collect();
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).unwrap(); // trailing zero blocks count too
    (
        entries,
        format!("sha256:{}", hex::encode(rest.hasher.finalize())),
    )
}

fn tar_entry<R: Read>(mut entry: tar::Entry<R>) -> TarEntry {
    let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let link_target = entry
        .link_name_bytes()
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let h = entry.header().clone();
    let size = entry.size();
    let kind = entry_kind(&h, &path);
    let pax = pax_numbers(&mut entry);
    let mut content = None;
    if kind == EntryKind::File && size < CONTENT_LIMIT {
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).unwrap();
        content = Some(buf);
    }
    TarEntry {
        path,
        kind,
        mode: h.mode().unwrap(),
        uid: pax.uid.unwrap_or_else(|| h.uid().unwrap()),
        gid: pax.gid.unwrap_or_else(|| h.gid().unwrap()),
        mtime: pax.mtime.unwrap_or_else(|| h.mtime().unwrap()),
        size,
        content,
        link_target,
    }
}

fn entry_kind(h: &tar::Header, path: &str) -> EntryKind {
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    match h.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous if name.starts_with(".wh.") => {
            EntryKind::Whiteout
        }
        tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink,
        tar::EntryType::Link => EntryKind::Hardlink,
        other => EntryKind::Other(other.as_byte()),
    }
}

/// PAX overrides of numeric header fields (`mtime` may carry a fraction: floored).
#[derive(Default)]
struct PaxNumbers {
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<u64>,
}

fn pax_numbers<R: Read>(entry: &mut tar::Entry<R>) -> PaxNumbers {
    let mut n = PaxNumbers::default();
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return n;
    };
    for ext in exts.flatten() {
        let value = ext.value().unwrap_or("");
        let int = value.split('.').next().and_then(|v| v.parse().ok());
        match ext.key().unwrap_or("") {
            "uid" => n.uid = int,
            "gid" => n.gid = int,
            "mtime" => n.mtime = int,
            _ => {}
        }
    }
    n
}

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

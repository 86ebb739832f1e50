//! Base-image layers for fixtures: a small [`LayerBuilder`] over the `tar` crate, and the
//! busybox root filesystem every base image starts from.
//!
//! Layers are deterministic: entries in insertion order, one fixed mtime, gzip header
//! with mtime 0, so the same fixture always has the same digests.

use std::fs;
use std::io::Write;

use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

/// mtime of every entry in fixture layers (2024-01-01T00:00:00Z).
pub const FIXTURE_MTIME: u64 = 1_704_067_200;

/// A finished layer: gzip bytes plus both identities.
#[derive(Clone)]
pub struct Layer {
    /// The compressed blob (`application/vnd.oci.image.layer.v1.tar+gzip`).
    pub gz: Vec<u8>,
    /// `sha256:<hex>` of `gz`: the blob digest.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar: the config's `rootfs.diff_ids` entry.
    pub diff_id: String,
}

/// Builds an uncompressed tar, then [`LayerBuilder::finish`] gzips it.
impl Layer {
    /// A layer from a tar (gzipped here), e.g. one written by hand for entries the tar
    /// crate will not write.
    pub fn from_tar(tar: Vec<u8>) -> Layer {
        let mut gz = GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), Compression::default());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        Layer {
            digest: sha256_digest(&gz),
            diff_id: sha256_digest(&tar),
            gz,
        }
    }

    /// A blob that claims to be a gzip layer and is not one; its diff_id is made up.
    pub fn from_gz(gz: Vec<u8>) -> Layer {
        Layer {
            digest: sha256_digest(&gz),
            diff_id: sha256_digest(b"not a tar"),
            gz,
        }
    }
}

pub struct LayerBuilder {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerBuilder {
    pub fn new() -> LayerBuilder {
        LayerBuilder {
            tar: tar::Builder::new(Vec::new()),
        }
    }

    /// A directory owned by `uid:gid`; `path` without a trailing slash.
    pub fn dir(mut self, path: &str, mode: u32, uid: u64, gid: u64) -> Self {
        let mut h = header(EntryType::Directory, mode, 0);
        h.set_uid(uid);
        h.set_gid(gid);
        self.tar
            .append_data(&mut h, format!("{path}/"), &[][..])
            .unwrap();
        self
    }

    /// A regular file owned by root.
    pub fn file(mut self, path: &str, mode: u32, content: &[u8]) -> Self {
        let mut h = header(EntryType::Regular, mode, content.len() as u64);
        self.tar.append_data(&mut h, path, content).unwrap();
        self
    }

    /// A symlink (mode 0777) pointing at `target`, stored verbatim.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(EntryType::Symlink, 0o777, 0);
        self.tar.append_link(&mut h, path, target).unwrap();
        self
    }

    /// A hard link to `target` (a path inside the layer).
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(EntryType::Link, 0o644, 0);
        self.tar.append_link(&mut h, path, target).unwrap();
        self
    }

    /// A device node or FIFO (`kind` Char, Block or Fifo) owned by root.
    pub fn device(
        mut self,
        path: &str,
        kind: EntryType,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> Self {
        let mut h = header(kind, mode, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.tar.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    /// A GNU sparse file of `claimed` bytes whose only data is `data`, at its end: the
    /// shape of a sparse bomb (a few bytes in the archive, gigabytes once written out).
    pub fn sparse(mut self, path: &str, claimed: u64, data: &[u8]) -> Self {
        let mut h = header(EntryType::GNUSparse, 0o644, data.len() as u64);
        h.set_path(path).unwrap();
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(claimed);
        gnu.sparse[0].set_offset(claimed - data.len() as u64);
        gnu.sparse[0].set_length(data.len() as u64);
        h.set_cksum();
        self.tar.append(&h, data).unwrap();
        self
    }

    /// Gzips the tar and computes its digest and diff_id.
    pub fn finish(self) -> Layer {
        Layer::from_tar(self.tar.into_inner().unwrap())
    }
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(FIXTURE_MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Applets linked as `/bin/<name> -> busybox`.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "[",
    "awk",
    "basename",
    "cat",
    "chmod",
    "chown",
    "cp",
    "cut",
    "date",
    "dirname",
    "du",
    "echo",
    "env",
    "expr",
    "false",
    "find",
    "grep",
    "gzip",
    "head",
    "hostname",
    "id",
    "ln",
    "ls",
    "mkdir",
    "mktemp",
    "mv",
    "printf",
    "pwd",
    "readlink",
    "rm",
    "sed",
    "sh",
    "sha256sum",
    "sleep",
    "sort",
    "stat",
    "tail",
    "tar",
    "tee",
    "test",
    "touch",
    "tr",
    "true",
    "uname",
    "wc",
    "which",
    "whoami",
    "xargs",
];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      app:x:1000:1000:app:/home/app:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

/// The busybox root filesystem: `/bin/busybox` (the host's busybox-static) with applet
/// symlinks, `/usr/bin/env -> /bin/busybox` (absolute), `/etc/passwd` and `/etc/group`
/// (root, app = 1000, nobody = 65534), `/home/app` (1000:1000), `/root` (0700) and
/// `/tmp` (1777).
pub fn busybox_layer() -> Layer {
    let busybox = fs::read("/bin/busybox")
        .unwrap_or_else(|e| panic!("/bin/busybox: {e} (apt-get install busybox-static)"));
    let mut b = LayerBuilder::new()
        .dir("bin", 0o755, 0, 0)
        .file("bin/busybox", 0o755, &busybox);
    for applet in BUSYBOX_APPLETS {
        b = b.symlink(&format!("bin/{applet}"), "busybox");
    }
    b.dir("etc", 0o755, 0, 0)
        .file("etc/group", 0o644, GROUP.as_bytes())
        .file("etc/passwd", 0o644, PASSWD.as_bytes())
        .dir("home", 0o755, 0, 0)
        .dir("home/app", 0o755, 1000, 1000)
        .dir("root", 0o700, 0, 0)
        .dir("tmp", 0o1777, 0, 0)
        .dir("usr", 0o755, 0, 0)
        .dir("usr/bin", 0o755, 0, 0)
        .symlink("usr/bin/env", "/bin/busybox")
        .finish()
}

/// A one-file layer `/etc/platform` containing e.g. `linux/arm64\n`, so tests can tell
/// which platform's image they got.
pub fn platform_marker_layer(platform: &str) -> Layer {
    LayerBuilder::new()
        .dir("etc", 0o755, 0, 0)
        .file("etc/platform", 0o644, format!("{platform}\n").as_bytes())
        .finish()
}

/// `major:minor` of a real block device of this machine (the disk a RUN must not open).
pub fn host_disk() -> String {
    std::fs::read_dir("/sys/block")
        .ok()
        .and_then(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with("loop"))
                .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        })
        .map(|d| d.trim().to_string())
        .unwrap_or_else(|| "8:0".into())
}

//! The deterministic layer writer: file entries → tar → gzip → blob store, in one stream.
//!
//! The same entries always give the same bytes, hence the same digest:
//! - entries are sorted by path, every directory before its children; a parent the caller
//!   did not list is not written, so one that exists below keeps its mode (`/tmp` 1777);
//! - every mtime is the build's timestamp (`SOURCE_DATE_EPOCH` or the commit time), never the
//!   checkout's, which differs on every clone; an entry that carries its own mtime (a file a
//!   RUN wrote) is clamped to it, so older files keep theirs and newer ones get the epoch;
//! - owner names are empty and ids are what the caller says (0 unless `--chown`);
//! - the gzip header carries no name and mtime 0.
//!
//! The uncompressed stream is hashed on the way (the diff_id) and the compressed one while
//! it is written (the blob digest), so nothing is read twice and memory stays flat.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};

use super::rootfs::Root;
use crate::oci::{
    BlobStore, BlobWriter, Descriptor, DiffId, HashingWriter, Layer, LayerOrigin, MediaType,
    StoreError,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryData {
    /// A regular file whose bytes are read from `source` when the layer is written.
    File {
        source: PathBuf,
    },
    /// A regular file with these bytes (heredocs, generated files).
    Bytes(Vec<u8>),
    /// A regular file inside a root filesystem (a RUN's result, a stage's file), opened
    /// through the root handle when the layer is written, never by a host path.
    InRoot {
        root: Arc<Root>,
        path: String,
    },
    Dir,
    Symlink {
        target: String,
    },
    /// A hard link to an earlier entry of the same layer (absolute image path).
    Hardlink {
        target: String,
    },
    /// A character or block device, or a FIFO.
    Node {
        kind: NodeKind,
        major: u32,
        minor: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

/// One entry of a layer. `path` is absolute in the image (`/usr/src/app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    pub path: String,
    pub data: EntryData,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// The file's own mtime, clamped to the build time; `None` is the build time.
    pub mtime: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("cannot read {path} for the layer")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} changed size while it was being read ({expected} bytes, then {actual})")]
    Changed {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("cannot write the layer")]
    Write(#[source] io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A layer just written, with what its files are regardless of their times.
pub struct Written {
    pub layer: Layer,
    /// sha256 of every entry's path, type, mode, owner, link target and bytes, but not its
    /// mtime. A COPY layer's files carry commit times, so two commits that copy the same
    /// files can give two digests; the layer cache keys a RUN on this instead, as BuildKit
    /// keys on content checksums, so an unrelated commit re-runs no RUN.
    pub content: String,
}

/// Writes `entries` as one gzip layer into `store`, every mtime clamped to `mtime`.
pub fn write_layer(
    store: &BlobStore,
    entries: &[LayerEntry],
    mtime: u64,
) -> Result<Written, LayerError> {
    let blob = store.writer()?;
    let gzip: GzEncoder<BlobWriter> = GzBuilder::new()
        .mtime(0)
        .write(blob, Compression::default());
    let mut tar = tar::Builder::new(HashingWriter::new(gzip));
    tar.mode(tar::HeaderMode::Deterministic);

    let mut content = Sha256::new();
    for entry in sorted(entries) {
        append(&mut tar, &mut content, &entry, mtime)?;
    }
    let hashing = tar.into_inner().map_err(LayerError::Write)?;
    let (gzip, diff_id, _) = hashing.finish();
    let blob = gzip.finish().map_err(LayerError::Write)?;
    let stored = blob.commit()?;
    Ok(Written {
        layer: Layer {
            descriptor: Descriptor::new(MediaType::OciLayerGzip, stored.digest, stored.size),
            diff_id: DiffId(diff_id),
            origin: LayerOrigin::Local,
        },
        content: format!("sha256:{}", hex::encode(content.finalize())),
    })
}

/// The entries sorted so that every directory comes before what it holds.
///
/// A parent the caller did not list is left out rather than made up: an extractor creates a
/// missing parent as 0755 root (Docker, containerd and [`super::unpack`] all do) and leaves
/// one that exists alone. Writing a made-up `/tmp/` 0755 would replace the base's 1777.
fn sorted(entries: &[LayerEntry]) -> Vec<LayerEntry> {
    let mut all: Vec<LayerEntry> = entries.to_vec();
    // Sorting by path components keeps `a/b` before `a.b/…` consistent and parents first.
    all.sort_by(|a, b| {
        let ka: Vec<&str> = a.path.split('/').collect();
        let kb: Vec<&str> = b.path.split('/').collect();
        ka.cmp(&kb)
    });
    all.dedup_by(|later, earlier| later.path == earlier.path);
    all
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    content: &mut Sha256,
    entry: &LayerEntry,
    mtime: u64,
) -> Result<(), LayerError> {
    // Everything of the entry but its time, length-prefixed so no two entries hash alike.
    let target = match &entry.data {
        EntryData::Symlink { target } | EntryData::Hardlink { target } => target.as_str(),
        _ => "",
    };
    let kind = match &entry.data {
        EntryData::Dir => "d".to_string(),
        EntryData::Symlink { .. } => "l".to_string(),
        EntryData::Hardlink { .. } => "h".to_string(),
        EntryData::Node { kind, major, minor } => format!("{kind:?}{major}:{minor}"),
        _ => "f".to_string(),
    };
    let meta = format!(
        "{}:{}{kind} {:o} {}:{} {}:{target}",
        entry.path.len(),
        entry.path,
        entry.mode & 0o7777,
        entry.uid,
        entry.gid,
        target.len()
    );
    content.update(meta.len().to_le_bytes());
    content.update(meta.as_bytes());
    let mut header = tar::Header::new_gnu();
    header.set_mode(entry.mode & 0o7777);
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mtime(entry.mtime.map_or(mtime, |m| m.min(mtime)));
    let rel = entry.path.trim_start_matches('/');
    let write_err = LayerError::Write;
    match &entry.data {
        EntryData::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, format!("{rel}/"), io::empty())
                .map_err(write_err)
        }
        EntryData::Symlink { target } => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, rel, target).map_err(write_err)
        }
        EntryData::Hardlink { target } => {
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            tar.append_link(&mut header, rel, target.trim_start_matches('/'))
                .map_err(write_err)
        }
        EntryData::Node { kind, major, minor } => {
            header.set_entry_type(match kind {
                NodeKind::Char => tar::EntryType::Char,
                NodeKind::Block => tar::EntryType::Block,
                NodeKind::Fifo => tar::EntryType::Fifo,
            });
            header.set_size(0);
            header.set_device_major(*major).map_err(write_err)?;
            header.set_device_minor(*minor).map_err(write_err)?;
            tar.append_data(&mut header, rel, io::empty())
                .map_err(write_err)
        }
        EntryData::InRoot { root, path } => {
            let shown = root.host_path().join(path.trim_start_matches('/'));
            let read_err = |source| LayerError::Read {
                path: shown.clone(),
                source,
            };
            let slot = root
                .slot(Path::new(path), false)
                .map_err(read_err)?
                .ok_or_else(|| read_err(io::Error::other("the root is not a file")))?;
            let fd = rustix::fs::openat(
                &slot.parent,
                &slot.name,
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| read_err(e.into()))?;
            append_file(tar, content, &mut header, rel, File::from(fd), &shown)
        }
        EntryData::Bytes(bytes) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            content.update((bytes.len() as u64).to_le_bytes());
            content.update(bytes);
            tar.append_data(&mut header, rel, bytes.as_slice())
                .map_err(write_err)
        }
        EntryData::File { source } => {
            let read_err = |source_err| LayerError::Read {
                path: source.clone(),
                source: source_err,
            };
            let file = File::open(source).map_err(read_err)?;
            append_file(tar, content, &mut header, rel, file, source)
        }
    }
}

/// Appends a regular file's bytes, refusing a file that changes size while it is read.
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    content: &mut Sha256,
    header: &mut tar::Header,
    rel: &str,
    file: File,
    source: &Path,
) -> Result<(), LayerError> {
    let read_err = |source_err| LayerError::Read {
        path: source.to_path_buf(),
        source: source_err,
    };
    let size = file.metadata().map_err(read_err)?.len();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    content.update(size.to_le_bytes());
    let mut counted = CountingReader {
        inner: file,
        count: 0,
        content,
    };
    tar.append_data(header, rel, &mut counted)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => LayerError::Changed {
                path: source.to_path_buf(),
                expected: size,
                actual: counted.count,
            },
            _ => LayerError::Read {
                path: source.to_path_buf(),
                source: e,
            },
        })?;
    // A file that grew after the header was written would be silently cut.
    let actual = counted.inner.metadata().map_err(read_err)?.len();
    if actual != size {
        return Err(LayerError::Changed {
            path: source.to_path_buf(),
            expected: size,
            actual,
        });
    }
    Ok(())
}

/// Counts the bytes read and hashes them into the layer's content key on the way.
struct CountingReader<'a, R> {
    inner: R,
    count: u64,
    content: &'a mut Sha256,
}

impl<R: io::Read> io::Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        self.content.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, data: EntryData, mode: u32) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            data,
            mode,
            uid: 0,
            gid: 0,
            mtime: None,
        }
    }

    fn entries_of(store: &BlobStore, layer: &Layer) -> Vec<(String, u32, u64, u64)> {
        let file = store.open_blob(&layer.descriptor.digest).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn sorted_reproducible_and_unlisted_parents_left_to_the_lower_layers() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let src = dir.path().join("f");
        std::fs::write(&src, b"hello").unwrap();
        let entries = vec![
            entry("/app/z.txt", EntryData::Bytes(b"z".to_vec()), 0o644),
            LayerEntry {
                uid: 1000,
                gid: 1000,
                ..entry(
                    "/app/a/f",
                    EntryData::File {
                        source: src.clone(),
                    },
                    0o755,
                )
            },
            entry(
                "/app/link",
                EntryData::Symlink {
                    target: "a/f".into(),
                },
                0o777,
            ),
        ];
        let written = write_layer(&store, &entries, 1_700_000_000).unwrap();
        let first = written.layer.clone();
        let mut reversed = entries.clone();
        reversed.reverse();
        let second = write_layer(&store, &reversed, 1_700_000_000).unwrap().layer;
        assert_eq!(first.descriptor.digest, second.descriptor.digest);
        assert_ne!(first.descriptor.digest, first.diff_id.0);

        let listed = entries_of(&store, &first);
        let paths: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        // No `app/` or `app/a/`: a parent that exists below keeps its mode, one that does
        // not is created 0755 root by whoever extracts the layer.
        assert_eq!(paths, ["app/a/f", "app/link", "app/z.txt"]);
        assert_eq!(listed[0], ("app/a/f".into(), 0o755, 1000, 1_700_000_000));

        let other_time = write_layer(&store, &entries, 1_700_000_001).unwrap();
        assert_ne!(first.descriptor.digest, other_time.layer.descriptor.digest);
        // Same files at another time: another digest, the same content for the RUN cache.
        assert_eq!(written.content, other_time.content);
        let mut changed = entries.clone();
        changed[0].data = EntryData::Bytes(b"Z".to_vec());
        let changed = write_layer(&store, &changed, 1_700_000_000).unwrap();
        assert_ne!(written.content, changed.content);
    }
}

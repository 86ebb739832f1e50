//! The deterministic layer writer: file entries → tar → gzip → blob store, in one stream.
//!
//! The same entries always give the same bytes, hence the same digest:
//! - entries are sorted by path, and every parent directory is written before its children
//!   (created with mode 0755 and root ownership when the caller did not list it);
//! - every mtime is the build's timestamp (`SOURCE_DATE_EPOCH` or the commit time), never the
//!   checkout's, which differs on every clone; an entry that carries its own mtime (a file a
//!   RUN wrote) is clamped to it, so older files keep theirs and newer ones get the epoch;
//! - owner names are empty and ids are what the caller says (0 unless `--chown`);
//! - the gzip header carries no name and mtime 0.
//!
//! The uncompressed stream is hashed on the way (the diff_id) and the compressed one while
//! it is written (the blob digest), so nothing is read twice and memory stays flat.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

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

/// Writes `entries` as one gzip layer into `store`, with every mtime set to `mtime`.
pub fn write_layer(
    store: &BlobStore,
    entries: &[LayerEntry],
    mtime: u64,
) -> Result<Layer, LayerError> {
    let blob = store.writer()?;
    let gzip: GzEncoder<BlobWriter> = GzBuilder::new()
        .mtime(0)
        .write(blob, Compression::default());
    let mut tar = tar::Builder::new(HashingWriter::new(gzip));
    tar.mode(tar::HeaderMode::Deterministic);

    for entry in with_parents(entries) {
        append(&mut tar, &entry, mtime)?;
    }
    let hashing = tar.into_inner().map_err(LayerError::Write)?;
    let (gzip, diff_id, _) = hashing.finish();
    let blob = gzip.finish().map_err(LayerError::Write)?;
    let stored = blob.commit()?;
    Ok(Layer {
        descriptor: Descriptor::new(MediaType::OciLayerGzip, stored.digest, stored.size),
        diff_id: DiffId(diff_id),
        origin: LayerOrigin::Local,
    })
}

/// Sorted entries, each preceded by any parent directory the caller did not list.
fn with_parents(entries: &[LayerEntry]) -> Vec<LayerEntry> {
    let listed: BTreeSet<&str> = entries
        .iter()
        .map(|e| e.path.trim_end_matches('/'))
        .collect();
    let mut all: Vec<LayerEntry> = entries.to_vec();
    let mut added = BTreeSet::new();
    for e in entries {
        let mut parent = std::path::Path::new(&e.path).parent();
        while let Some(p) = parent {
            let s = p.to_string_lossy().to_string();
            if s == "/" || s.is_empty() {
                break;
            }
            if !listed.contains(s.as_str()) && added.insert(s.clone()) {
                all.push(LayerEntry {
                    path: s,
                    data: EntryData::Dir,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                    mtime: None,
                });
            }
            parent = p.parent();
        }
    }
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
    entry: &LayerEntry,
    mtime: u64,
) -> Result<(), LayerError> {
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
            append_file(tar, &mut header, rel, File::from(fd), &shown)
        }
        EntryData::Bytes(bytes) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            tar.append_data(&mut header, rel, bytes.as_slice())
                .map_err(write_err)
        }
        EntryData::File { source } => {
            let read_err = |source_err| LayerError::Read {
                path: source.clone(),
                source: source_err,
            };
            let file = File::open(source).map_err(read_err)?;
            append_file(tar, &mut header, rel, file, source)
        }
    }
}

/// Appends a regular file's bytes, refusing a file that changes size while it is read.
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
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
    let mut counted = CountingReader {
        inner: file,
        count: 0,
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

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: io::Read> io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
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
    fn parents_first_sorted_and_reproducible() {
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
        let first = write_layer(&store, &entries, 1_700_000_000).unwrap();
        let mut reversed = entries.clone();
        reversed.reverse();
        let second = write_layer(&store, &reversed, 1_700_000_000).unwrap();
        assert_eq!(first.descriptor.digest, second.descriptor.digest);
        assert_ne!(first.descriptor.digest, first.diff_id.0);

        let listed = entries_of(&store, &first);
        let paths: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            ["app/", "app/a/", "app/a/f", "app/link", "app/z.txt"]
        );
        assert_eq!(listed[2], ("app/a/f".into(), 0o755, 1000, 1_700_000_000));
        assert_eq!(listed[0].1, 0o755);

        let other_time = write_layer(&store, &entries, 1_700_000_001).unwrap();
        assert_ne!(first.descriptor.digest, other_time.descriptor.digest);
    }
}

//! The content-addressed blob store on disk.
//!
//! Blobs live at `<root>/blobs/sha256/<hex>`, the same shape as an OCI image layout, so a
//! layout output is the store plus `index.json`. Invariant: **a file named by a digest is
//! complete and has that digest.** Writers hash while writing into a temporary file in the
//! same directory and rename it into place only after the digest is known; a crash leaves
//! a stray temporary file, never a wrong blob.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write to the blob store at {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("blob {digest} is not in the blob store at {root}")]
    Missing { digest: Digest, root: PathBuf },
    #[error("blob written to {root} has digest {actual}, expected {expected}")]
    Mismatch {
        root: PathBuf,
        expected: Digest,
        actual: Digest,
    },
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A finished blob: its digest and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub digest: Digest,
    pub size: u64,
}

impl BlobStore {
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, StoreError> {
        let root = root.into();
        let dir = root.join("blobs").join("sha256");
        fs::create_dir_all(&dir).map_err(|source| StoreError::Write { path: dir, source })?;
        Ok(BlobStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.blob_path())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Size of a stored blob, or `Missing`.
    pub fn size(&self, digest: &Digest) -> Result<u64, StoreError> {
        fs::metadata(self.path(digest))
            .map(|m| m.len())
            .map_err(|_| StoreError::Missing {
                digest: digest.clone(),
                root: self.root.clone(),
            })
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File, StoreError> {
        File::open(self.path(digest)).map_err(|_| StoreError::Missing {
            digest: digest.clone(),
            root: self.root.clone(),
        })
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        fs::read(self.path(digest)).map_err(|_| StoreError::Missing {
            digest: digest.clone(),
            root: self.root.clone(),
        })
    }

    /// Removes a blob that was stored for one use (a base layer the push will mount);
    /// one already gone is fine.
    pub fn remove(&self, digest: &Digest) {
        let _ = fs::remove_file(self.path(digest));
    }

    /// Stores small in-memory bytes (manifests, configs).
    pub fn put(&self, bytes: &[u8]) -> Result<StoredBlob, StoreError> {
        let mut w = self.writer()?;
        w.write_all(bytes)
            .map_err(|source| self.write_error(source))?;
        w.commit()
    }

    /// A writer that becomes a blob on [`BlobWriter::commit`].
    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        let dir = self.root.join("blobs").join("sha256");
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|source| StoreError::Write { path: dir, source })?;
        Ok(BlobWriter {
            store: self.clone(),
            inner: HashingWriter::new(tmp),
        })
    }

    fn write_error(&self, source: io::Error) -> StoreError {
        StoreError::Write {
            path: self.root.clone(),
            source,
        }
    }
}

pub struct BlobWriter {
    store: BlobStore,
    inner: HashingWriter<tempfile::NamedTempFile>,
}

impl BlobWriter {
    /// Moves the bytes into place under their digest. An existing blob with that digest is
    /// left as it is: same digest, same bytes.
    pub fn commit(self) -> Result<StoredBlob, StoreError> {
        let (tmp, digest, size) = self.inner.finish();
        self.store.persist(tmp, digest, size)
    }

    /// Like [`commit`](Self::commit), but refuses bytes whose digest is not `expected`
    /// (blobs downloaded from a registry).
    pub fn commit_expecting(self, expected: &Digest) -> Result<StoredBlob, StoreError> {
        let (tmp, actual, size) = self.inner.finish();
        if &actual != expected {
            return Err(StoreError::Mismatch {
                root: self.store.root.clone(),
                expected: expected.clone(),
                actual,
            });
        }
        self.store.persist(tmp, actual, size)
    }
}

impl BlobStore {
    fn persist(
        &self,
        mut tmp: tempfile::NamedTempFile,
        digest: Digest,
        size: u64,
    ) -> Result<StoredBlob, StoreError> {
        tmp.flush().map_err(|source| self.write_error(source))?;
        let dest = self.path(&digest);
        if !dest.is_file() {
            tmp.persist(&dest).map_err(|e| StoreError::Write {
                path: dest.clone(),
                source: e.error,
            })?;
        }
        Ok(StoredBlob { digest, size })
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

//! An image's files made real: its layers applied, in order, to a rootfs under the work
//! dir, for RUN and for `COPY --from` / `RUN --mount=from=`.
//!
//! A layer still in its registry is unpacked *while it downloads*: the chunks go from the
//! registry's [`BlobDownload`] through a bounded queue to the extractor on a blocking
//! thread, so the decompression and the file creation overlap the transfer instead of
//! following it. The download checks the digest when the stream ends, after the extractor
//! has read everything; a mismatch fails the step, and the rootfs (which holds files from
//! bytes nobody vouched for) is dropped with the build. The bytes are kept in the blob
//! store on the way only when something later needs them ([`Materialiser::keeps`]): a push to
//! another registry, a local output, another stage that may unpack the same base.
//! A push to the base's own registry mounts the layer and never needs its bytes here.

use std::io::{self, Read};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Buf as _, Bytes};

use std::path::PathBuf;

use super::rootfs::Root;
use super::run::Rootfs;
use super::{unpack, BuildError, BuildPlan, Builder, StepError};
use crate::events::Event;
use crate::oci::{BlobStore, BlobWriter, Digest, Image, Layer, LayerOrigin};
use crate::reference::Reference;
use crate::registry::{self, RegistryError};

/// Chunks in flight between a download and the extractor (reqwest's are ≤ 16 KiB or so).
const QUEUE: usize = 64;

impl Builder<'_> {
    /// The files of an earlier stage (named or by index) or of an image, unpacked once.
    pub(super) async fn files_of(
        &mut self,
        word: &str,
        line: usize,
    ) -> Result<Arc<Root>, BuildError> {
        let df = &self.plan.dockerfile;
        if let Some(stage) = df.stage_by_name_or_index(word) {
            if let Some(built) = self.built.get(&stage.index) {
                if let Some(fs) = &built.fs {
                    return Ok(fs.root.clone());
                }
                let image = built.image.clone();
                let fs = self.unpack(&image, line).await?;
                let root = fs.root.clone();
                self.built.get_mut(&stage.index).expect("present").fs = Some(fs);
                return Ok(root);
            }
        }
        if let Some(fs) = self.images.get(word) {
            return Ok(fs.root.clone());
        }
        let image = self.resolve(word, line).await?;
        let fs = self.unpack(&image, line).await?;
        let root = fs.root.clone();
        self.images.insert(word.to_string(), fs);
        Ok(root)
    }

    /// Downloads (if needed) and unpacks every layer of `image` into a new rootfs.
    pub(super) async fn unpack(&self, image: &Image, line: usize) -> Result<Rootfs, BuildError> {
        let mut fs = self.new_rootfs(image, line)?;
        self.apply_all(&mut fs, &image.layers, line).await?;
        Ok(fs)
    }

    /// An empty rootfs for `image`'s files, announced in the log.
    pub(super) fn new_rootfs(&self, image: &Image, line: usize) -> Result<Rootfs, BuildError> {
        let fs = self
            .files
            .rootfs()
            .map_err(|f| self.step_error(line, &f.message, f.source))?;
        self.reporter.event(Event::Note(&format!(
            "unpacking {} layer(s), {} compressed, into {}",
            image.layers.len(),
            crate::events::human_size(image.layers.iter().map(|l| l.descriptor.size).sum()),
            fs.root.host_path().display()
        )));
        Ok(fs)
    }

    /// Applies the cached layers `fs` has not got yet (downloading them), in order.
    pub(super) async fn catch_up(
        &self,
        fs: &mut Rootfs,
        behind: &mut Vec<Layer>,
        line: usize,
    ) -> Result<(), BuildError> {
        let layers = std::mem::take(behind);
        self.apply_all(fs, &layers, line).await
    }

    /// Applies `layers` to `fs` in order ([`Materialiser::apply_all`]), their time counted
    /// as unpacking.
    pub(super) async fn apply_all(
        &self,
        fs: &mut Rootfs,
        layers: &[Layer],
        line: usize,
    ) -> Result<(), BuildError> {
        let started = std::time::Instant::now();
        let result = self.files.apply_all(fs, layers).await;
        self.count_unpack(started.elapsed());
        for (digest, applied) in result.map_err(|f| self.step_error(line, &f.message, f.source))? {
            self.warn_devices(&digest, &applied);
        }
        Ok(())
    }

    /// Applies one layer to `fs`, its time counted as unpacking.
    pub(super) async fn apply_to(
        &self,
        fs: &mut Rootfs,
        layer: &Layer,
        line: usize,
    ) -> Result<(), BuildError> {
        self.apply_all(fs, std::slice::from_ref(layer), line).await
    }

    pub(super) fn count_unpack(&self, spent: std::time::Duration) {
        self.unpack_nanos
            .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(super) fn warn_devices(&self, digest: &Digest, applied: &unpack::Applied) {
        if applied.devices_skipped > 0 {
            self.reporter.event(Event::Warning(&format!(
                "layer {digest}: {} device node(s) not created (no CAP_MKNOD)",
                applied.devices_skipped
            )));
        }
        if let Some((first, count)) = &applied.devices_refused {
            self.reporter.event(Event::Warning(&format!(
                "layer {digest}: {count} device node(s) not created, `{first}` the first: only \
                 FIFOs and /dev/null, zero, full, random, urandom and tty are (a RUN could reach \
                 the host's devices through any other)"
            )));
        }
    }
}

/// Why a layer could not be applied; the builder adds the Dockerfile line.
#[derive(Debug)]
pub(super) struct Failure {
    pub message: String,
    pub source: StepError,
}

fn failure(message: impl Into<String>, source: impl Into<StepError>) -> Failure {
    Failure {
        message: message.into(),
        source: source.into(),
    }
}

/// What applying layers needs, owned, so an unpack can also run as a task of its own
/// (the base started early, `early.rs`).
#[derive(Clone)]
pub(super) struct Materialiser {
    pub registry: registry::Client,
    pub store: BlobStore,
    pub work_dir: PathBuf,
    /// The repositories the image is pushed to ([`BuildPlan::delivered_to`]).
    pub delivered_to: Vec<Reference>,
    /// More than one stage is built, so a base's layers may be unpacked more than once.
    pub several_stages: bool,
}

impl Materialiser {
    pub fn new(plan: &BuildPlan, registry: &registry::Client, store: &BlobStore) -> Materialiser {
        Materialiser {
            registry: registry.clone(),
            store: store.clone(),
            work_dir: plan.work_dir.clone(),
            delivered_to: plan.delivered_to.clone(),
            several_stages: false,
        }
    }

    pub fn rootfs(&self) -> Result<Rootfs, Failure> {
        Rootfs::create(&self.work_dir).map_err(|e| failure("cannot create a rootfs", e))
    }

    /// Applies `layers` to `fs` in order. While one unpacks, the next one still in its
    /// registry downloads into the blob store (and leaves it again once applied, when
    /// nothing later needs it), so a base of several layers costs its unpacks plus about
    /// its first download, not every download in turn. The first layer streams.
    pub async fn apply_all(
        &self,
        fs: &mut Rootfs,
        layers: &[Layer],
    ) -> Result<Vec<(Digest, unpack::Applied)>, Failure> {
        let mut applied = Vec::with_capacity(layers.len());
        let mut next: Option<Prefetch> = None;
        for (i, layer) in layers.iter().enumerate() {
            let mut fetched = next.take();
            next = layers.get(i + 1).and_then(|l| self.prefetch(l));
            if let Some(fetched) = fetched.as_mut() {
                fetched.wait().await?;
            }
            applied.push((
                layer.descriptor.digest.clone(),
                self.apply(fs, layer).await?,
            ));
            if let Some(fetched) = fetched.filter(|f| !self.keeps(&f.source)) {
                self.store.remove(&fetched.digest);
            }
        }
        Ok(applied)
    }

    /// Starts downloading `layer` into the blob store, if it is not there yet.
    fn prefetch(&self, layer: &Layer) -> Option<Prefetch> {
        let LayerOrigin::Remote(source) = &layer.origin else {
            return None;
        };
        let digest = layer.descriptor.digest.clone();
        if self.store.contains(&digest) {
            return None;
        }
        let (registry, store) = (self.registry.clone(), self.store.clone());
        let (reference, wanted) = (source.clone(), digest.clone());
        let task = tokio::spawn(async move {
            registry
                .fetch_blob(&reference, &wanted, &store)
                .await
                .map(drop)
        });
        Some(Prefetch {
            source: source.clone(),
            digest,
            task,
        })
    }

    /// Applies one layer to `fs`: from the blob store if it is there, else while it
    /// downloads.
    pub async fn apply(&self, fs: &mut Rootfs, layer: &Layer) -> Result<unpack::Applied, Failure> {
        fs.last = None;
        let digest = &layer.descriptor.digest;
        if let LayerOrigin::Remote(reference) = &layer.origin {
            if !self.store.contains(digest) {
                return self.stream_into(fs, reference, layer).await;
            }
        }
        let blob = self
            .store
            .open_blob(digest)
            .map_err(|e| failure("cannot read a layer", e))?;
        let root = fs.root.clone();
        let name = digest.to_string();
        tokio::task::spawn_blocking(move || unpack::apply_layer(&root, blob, &name))
            .await
            .expect("unpacking panicked")
            .map_err(|e| failure("cannot unpack a layer", e))
    }

    /// Unpacks a layer while it downloads from `reference`, keeping its bytes in the blob
    /// store when [`Materialiser::keeps`] says so.
    async fn stream_into(
        &self,
        fs: &Rootfs,
        reference: &Reference,
        layer: &Layer,
    ) -> Result<unpack::Applied, Failure> {
        let digest = &layer.descriptor.digest;
        let download_error = |e| download_failure(digest, reference, e);
        let mut download = self
            .registry
            .download_blob(reference, digest)
            .await
            .map_err(download_error)?;
        let copy = match self.keeps(reference) {
            true => Some(
                self.store
                    .writer()
                    .map_err(|e| failure("cannot keep a layer", e))?,
            ),
            false => None,
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(QUEUE);
        let root: Arc<Root> = fs.root.clone();
        let name = digest.to_string();
        let unpacking = tokio::task::spawn_blocking(move || {
            let mut reader = ChunkReader::new(rx, copy);
            let applied = unpack::apply_layer(&root, &mut reader, &name)?;
            // The digest covers the whole blob: whatever follows the archive's end is read too.
            io::copy(&mut reader, &mut io::sink()).map_err(|source| {
                unpack::UnpackError::Archive {
                    layer: name.clone(),
                    source,
                }
            })?;
            Ok::<_, unpack::UnpackError>((applied, reader.copy))
        });
        let downloaded = async {
            while let Some(chunk) = download.next().await? {
                if tx.send(Chunk::Data(chunk)).await.is_err() {
                    return Ok(()); // the extractor stopped; its error says why
                }
            }
            let _ = tx.send(Chunk::End).await;
            Ok(())
        }
        .await;
        drop(tx);
        let unpacked = unpacking.await.expect("unpacking panicked");
        // A failed or wrong download explains a failed unpack, never the other way round.
        downloaded.map_err(download_error)?;
        let (applied, copy) = unpacked.map_err(|e| failure("cannot unpack a layer", e))?;
        if let Some(copy) = copy {
            copy.commit_expecting(digest)
                .map_err(|e| failure("cannot keep a layer", e))?;
        }
        Ok(applied)
    }

    /// Whether a layer from `source` is needed again after its unpack: by a push to
    /// another registry (it cannot mount it), a local output, or another stage.
    fn keeps(&self, source: &Reference) -> bool {
        self.several_stages
            || self.delivered_to.is_empty()
            || self
                .delivered_to
                .iter()
                .any(|target| !target.same_registry(source))
    }
}

/// A layer downloading into the blob store while an earlier one unpacks; stopped if
/// dropped before it is waited for.
struct Prefetch {
    source: Reference,
    digest: Digest,
    task: tokio::task::JoinHandle<Result<(), RegistryError>>,
}

impl Prefetch {
    async fn wait(&mut self) -> Result<(), Failure> {
        joined(&mut self.task)
            .await
            .map_err(|e| download_failure(&self.digest, &self.source, e))
    }
}

fn download_failure(digest: &Digest, source: &Reference, e: RegistryError) -> Failure {
    failure(
        format!("cannot download layer {digest} of {source}"),
        StepError::Registry(Box::new(e)),
    )
}

/// A task's output. Tasks here are aborted only by dropping their handle, so a handle
/// still held has a finished or panicked task behind it.
pub(super) async fn joined<T>(task: &mut tokio::task::JoinHandle<T>) -> T {
    match task.await {
        Ok(done) => done,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => unreachable!("a task is aborted only when its handle is dropped"),
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the download hands the extractor: bytes, then `End` once every byte was sent.
enum Chunk {
    Data(Bytes),
    End,
}

/// The extractor's side of the queue, as a `Read`: a queue closed without `End` (the
/// download failed) is an error, never a short archive that looks complete.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    current: Bytes,
    ended: bool,
    /// The blob store's copy, written as the bytes are read.
    copy: Option<BlobWriter>,
}

impl ChunkReader {
    fn new(rx: tokio::sync::mpsc::Receiver<Chunk>, copy: Option<BlobWriter>) -> ChunkReader {
        ChunkReader {
            rx,
            current: Bytes::new(),
            ended: false,
            copy,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(chunk)) => {
                    if let Some(copy) = &mut self.copy {
                        io::Write::write_all(copy, &chunk)?;
                    }
                    self.current = chunk;
                }
                Some(Chunk::End) => self.ended = true,
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the download stopped before the end of the layer",
                    ))
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

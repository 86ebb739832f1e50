//! Request bodies: a [`Body`] is a *recipe* rather than bytes, so a file body is re-opened
//! from the blob store for each send and the 401 retry (and the retry policy above it)
//! can replay it; only a body streamed from another registry is one-shot. While a body
//! goes out, [`Activity`] counts its bytes for the stall watchdog and [`Progress`]
//! reports long uploads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use tokio_util::io::ReaderStream;

use super::error::RegistryError;
use crate::events::{Event, Reporter};
use crate::oci::{BlobStore, Digest};

/// A one-shot body: bytes streamed from another registry.
pub(super) type ByteStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send>,
>;
/// Read size when streaming a file body.
const FILE_CHUNK: usize = 256 * 1024;

/// How to produce a request body, possibly more than once.
pub(super) enum Body {
    Empty,
    Bytes(bytes::Bytes),
    /// `len` bytes of a blob in the local store from `offset`, re-opened for every send.
    Blob {
        store: BlobStore,
        digest: Digest,
        offset: u64,
        len: u64,
    },
    /// A one-shot stream of known length (a blob streamed from another registry).
    Stream(Option<ByteStream>, u64),
}

impl Body {
    pub(super) fn replayable(&self) -> bool {
        !matches!(self, Body::Stream(..))
    }

    /// The body for one send, counted by `activity`, and its length.
    pub(super) async fn open(
        &mut self,
        activity: &Arc<Activity>,
    ) -> Result<(Option<reqwest::Body>, u64), RegistryError> {
        Ok(match self {
            Body::Empty => (None, 0),
            Body::Bytes(bytes) => (Some(bytes.clone().into()), bytes.len() as u64),
            Body::Blob {
                store,
                digest,
                offset,
                len,
            } => {
                use std::io::Seek as _;
                use tokio::io::AsyncReadExt as _;
                let mut file = store.open_blob(digest).map_err(RegistryError::Store)?;
                file.seek(std::io::SeekFrom::Start(*offset))
                    .map_err(|source| {
                        RegistryError::Store(crate::oci::StoreError::Write {
                            path: store.path(digest),
                            source,
                        })
                    })?;
                let file = tokio::fs::File::from_std(file).take(*len);
                let stream = ReaderStream::with_capacity(file, FILE_CHUNK);
                (Some(activity.watch(stream)), *len)
            }
            Body::Stream(stream, len) => (stream.take().map(|s| activity.watch(s)), *len),
        })
    }
}

/// What a request in flight has done: body bytes sent and when anything last moved.
/// The stall watchdog and progress reports read it.
pub(super) struct Activity {
    pub(super) sent: AtomicU64,
    pub(super) last: Mutex<Instant>,
}

impl Activity {
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            sent: AtomicU64::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    pub(super) fn idle(&self) -> Duration {
        self.last.lock().expect("activity lock").elapsed()
    }

    /// A request body from `stream`, counting what goes out.
    pub(super) fn watch<S, E>(self: &Arc<Self>, stream: S) -> reqwest::Body
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let me = self.clone();
        let stream = stream.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                me.sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                *me.last.lock().expect("activity lock") = Instant::now();
            }
            chunk
        });
        reqwest::Body::wrap_stream(stream)
    }
}

/// Progress of one long upload, reported at most every second and only when it moved
/// by a tenth of the blob (or 10 s passed): a 1 GiB layer makes about ten lines.
pub(super) struct Progress<'a> {
    reporter: &'a dyn Reporter,
    digest: &'a Digest,
    total: u64,
    /// Bytes the registry held before the current request (the chunk's start).
    pub base: AtomicU64,
    started: Instant,
    last: Mutex<(Instant, u64)>,
}

impl<'a> Progress<'a> {
    pub fn new(reporter: &'a dyn Reporter, digest: &'a Digest, total: u64) -> Progress<'a> {
        let now = Instant::now();
        Progress {
            reporter,
            digest,
            total,
            base: AtomicU64::new(0),
            started: now,
            last: Mutex::new((now, 0)),
        }
    }

    pub(super) fn update(&self, sent: u64) {
        let done = (self.base.load(Ordering::Relaxed) + sent).min(self.total);
        let mut last = self.last.lock().expect("progress lock");
        let since = last.0.elapsed();
        let moved = done.saturating_sub(last.1);
        let due = since >= Duration::from_secs(1)
            && (moved >= self.total / 10 || since >= Duration::from_secs(10))
            && moved > 0;
        if !due {
            return;
        }
        *last = (Instant::now(), done);
        drop(last);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (done as f64 / secs) as u64;
        let what = format!(
            "pushing {} ({}/s)",
            self.digest.short(),
            crate::events::human_size(rate)
        );
        self.reporter.event(Event::Progress {
            what: &what,
            done,
            total: self.total,
        });
    }
}

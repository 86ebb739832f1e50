//! Getting one blob into the target repository, as cheaply as the registry allows.
//!
//! ```text
//! HEAD /v2/<target>/blobs/<d>                      200 → Existing (nothing to send)
//! POST /v2/<target>/blobs/uploads/?mount=<d>&from=<src>   (source on the same registry)
//!      201 → Mounted (the registry linked it; no bytes sent)
//!      202 → the registry opened an upload session instead: upload on *its* Location
//!      error → POST once more without mount, then upload
//! POST /v2/<target>/blobs/uploads/                  202 + Location
//! PUT  <Location>&digest=<d>   (streamed body, Content-Length set)   201 → Pushed
//!   or, for a blob larger than the chunk size:
//! PATCH <Location>  Content-Range: <start>-<end>   202 + Location + Range: 0-<end>  (×n)
//! PUT  <latest Location>&digest=<d>   (no body)                       201 → Pushed
//! ```
//!
//! # Resume
//!
//! The upload session (its latest `Location` and the offset the registry acknowledged)
//! lives in an [`UploadState`] that outlives one attempt of the retry policy. When an
//! attempt fails — a reset or stall mid-body, a 5xx or 429, a 416 for a chunk — the next
//! one first asks the session where it stands (`GET <Location>` → 204 + `Range: 0-<n>`)
//! and sends from byte `n + 1` on, instead of starting the blob over. If the session is
//! gone (404) or refuses the status request, the blob starts over on a new session.
//!
//! The reference registry (distribution) refuses — and cancels — a session whose stored
//! size differs from the signed `_state` in its `Location`: after a body cut off *at the
//! registry*, only a new session works. Behind the usual buffering front (nginx, a cloud
//! load balancer) a cut-off request never reaches the registry, and resume applies.
//!
//! Bytes come from the local [`BlobStore`] when it has them, else straight from the
//! registry the layer came from — the same session when it is the same registry (its
//! token carries `pull` on the source), a pull session on the other registry otherwise.
//! Either way they stream: memory does not grow with the blob.
//!
//! How the bytes go up is the [`Strategy`]: one streamed PUT up to the chunk size,
//! chunked PATCHes above it. The chunk size is `registry-chunk-size`, else 64 MiB
//! (under the 100 MB request cap of Cloudflare-fronted registries), and never more than
//! 4 MiB on ghcr.io (its limit per PATCH). A registry that answers a PATCH with 405
//! (Google Artifact Registry) gets the blob in one PUT on a new session.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use reqwest::header::{HeaderName, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};
use url::Url;

use super::body::{Body, Progress};
use super::challenge::Scopes;
use super::error::{RedactedUrl, RegistryError};
use super::manifest::header_digest;
use super::pull::get_blob;
use super::retry::Tuning;
use super::session::{Request, Session};
use super::targets::with_digest;
use crate::events::{BlobAction, Event, Reporter};
use crate::oci::{BlobStore, Descriptor, Digest, LayerOrigin};
use crate::reference::Reference;

/// One blob to push: what it is and where its bytes live.
pub(super) struct BlobJob<'a> {
    pub descriptor: &'a Descriptor,
    pub origin: &'a LayerOrigin,
}

/// Chunk size when neither the input nor the registry says otherwise.
pub(super) const DEFAULT_CHUNK: u64 = 64 * 1024 * 1024;
/// ghcr.io refuses PATCH bodies over 4 MiB (416).
const GHCR_MAX_CHUNK: u64 = 4 * 1024 * 1024;
/// Smaller chunks only cost round trips.
const MIN_CHUNK: u64 = 64 * 1024;
/// Blobs from this size on report progress.
const PROGRESS_MIN: u64 = 16 * 1024 * 1024;
/// 416 answers to a chunk that are met by asking the session where it stands, per blob.
const MAX_RESYNC: u32 = 3;

const OCI_CHUNK_MIN_LENGTH: HeaderName = HeaderName::from_static("oci-chunk-min-length");

/// How bytes are sent, chosen per registry host and blob size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    /// One PUT carrying the whole blob, streamed.
    Monolithic,
    /// PATCHes of this many bytes, then a PUT with the digest.
    Chunked(u64),
}

impl Strategy {
    /// The chunk size for `host`: `configured` (at least 64 KiB), else 64 MiB; at most
    /// 4 MiB on ghcr.io. A blob no larger than one chunk goes in one PUT.
    pub fn choose(host: &str, size: u64, configured: Option<u64>) -> Strategy {
        let ghcr = host.eq_ignore_ascii_case("ghcr.io");
        let mut chunk = configured.unwrap_or(DEFAULT_CHUNK).max(MIN_CHUNK);
        if ghcr {
            chunk = chunk.min(GHCR_MAX_CHUNK);
        }
        if size <= chunk {
            Strategy::Monolithic
        } else {
            Strategy::Chunked(chunk)
        }
    }
}

/// An upload session that outlives one attempt, so the next attempt can resume it.
#[derive(Debug, Default)]
pub(super) struct UploadState {
    /// The latest `Location` the session handed out.
    location: Option<Url>,
    /// Bytes the registry acknowledged.
    committed: u64,
}

/// Where the bytes of a blob that is not in the store come from.
enum Source<'a> {
    /// Another repository of the target registry, read with the push session.
    SameRegistry(&'a str),
    /// Another registry, read with its own pull session.
    OtherRegistry(&'a Reference),
}

/// Whether two references live on the same registry (so a mount can work).
/// Everything one blob upload needs besides the blob.
pub(super) struct Ctx<'a> {
    pub session: &'a Session,
    pub target: &'a Reference,
    pub store: &'a BlobStore,
    pub reporter: &'a dyn Reporter,
    pub tuning: &'a Tuning,
    pub chunk_size: Option<u64>,
}

/// Pushes one blob into `target` and says what it took. `state` carries an open upload
/// session from a failed earlier attempt (see the module docs on resume).
pub(super) async fn push_blob(
    ctx: &Ctx<'_>,
    job: &BlobJob<'_>,
    state: &Mutex<UploadState>,
) -> Result<BlobAction, RegistryError> {
    let (session, reporter) = (ctx.session, ctx.reporter);
    let digest = &job.descriptor.digest;
    let repository = ctx.target.repository.as_str();
    let in_store = ctx.store.contains(digest);

    let previous = std::mem::take(&mut *state.lock().expect("upload state"));
    if let (Some(location), true, true) = (previous.location, ctx.tuning.resume, in_store) {
        match status(session, location).await {
            Ok((location, offset)) => {
                reporter.event(Event::Debug(&format!(
                    "{}: resuming the upload at byte {offset} of {} (acknowledged before: {})",
                    digest.short(),
                    job.descriptor.size,
                    previous.committed
                )));
                send_from_store(ctx, job, state, location, offset).await?;
                return Ok(BlobAction::Pushed);
            }
            Err(err) => reporter.event(Event::Debug(&format!(
                "{}: the upload session cannot be resumed ({err}); starting over",
                digest.short()
            ))),
        }
    }

    if exists(session, repository, digest).await? {
        return Ok(BlobAction::Existing);
    }
    let remote = match job.origin {
        LayerOrigin::Remote(source) => Some(source),
        LayerOrigin::Local => None,
    };
    let mount_from = remote
        .filter(|s| s.same_registry(ctx.target) && s.repository != ctx.target.repository)
        .map(|s| s.repository.as_str());
    let (location, chunk_min) = match mount_from {
        Some(from) => match mount(session, repository, digest, from).await {
            Ok(Mount::Mounted) => return Ok(BlobAction::Mounted),
            Ok(Mount::Upload(location)) => {
                reporter.event(Event::Debug(&format!(
                    "{}: mount from {from} not done (202); uploading on the session it opened",
                    digest.short()
                )));
                (location, None)
            }
            Err(err) => {
                reporter.event(Event::Debug(&format!(
                    "{}: mount from {from} failed ({err}); uploading instead",
                    digest.short()
                )));
                start(session, repository).await?
            }
        },
        None => start(session, repository).await?,
    };
    if in_store {
        // The session is remembered before the first byte, so any failure can resume.
        *state.lock().expect("upload state") = UploadState {
            location: Some(location.clone()),
            committed: 0,
        };
        let configured = match (ctx.chunk_size, chunk_min) {
            (Some(c), Some(min)) => Some(c.max(min)),
            (None, Some(min)) => Some(DEFAULT_CHUNK.max(min)),
            (c, None) => c,
        };
        let ctx = Ctx {
            chunk_size: configured,
            ..*ctx
        };
        send_from_store(&ctx, job, state, location, 0).await?;
        return Ok(BlobAction::Pushed);
    }
    let source = match remote {
        Some(s) if s.same_registry(ctx.target) => Source::SameRegistry(&s.repository),
        Some(s) => Source::OtherRegistry(s),
        None => {
            return Err(RegistryError::NoSource {
                digest: digest.clone(),
            })
        }
    };
    let body = open_remote(session, &source, job.descriptor).await?;
    put_final(session, location, body, job.descriptor, None).await?;
    Ok(BlobAction::Pushed)
}

/// Sends a stored blob from `offset` on, chunked or in one PUT as the strategy says,
/// updating `state` after every acknowledged chunk.
async fn send_from_store(
    ctx: &Ctx<'_>,
    job: &BlobJob<'_>,
    state: &Mutex<UploadState>,
    mut location: Url,
    mut offset: u64,
) -> Result<(), RegistryError> {
    let descriptor = job.descriptor;
    let (size, digest) = (descriptor.size, &descriptor.digest);
    if offset > size {
        return Err(RegistryError::UploadOffset {
            url: RedactedUrl::new(&location),
            offset,
            size,
        });
    }
    let progress = (size >= PROGRESS_MIN).then(|| Progress::new(ctx.reporter, digest, size));
    let body = |offset: u64, len: u64| Body::Blob {
        store: ctx.store.clone(),
        digest: digest.clone(),
        offset,
        len,
    };
    let strategy = Strategy::choose(ctx.session.host(), size, ctx.chunk_size);
    if strategy == Strategy::Monolithic && offset == 0 {
        return put_final(
            ctx.session,
            location,
            body(0, size),
            descriptor,
            progress.as_ref(),
        )
        .await;
    }
    let chunk = match strategy {
        Strategy::Chunked(chunk) => chunk,
        Strategy::Monolithic => size, // resuming a one-PUT upload: the rest in one PATCH
    };
    let mut resyncs = 0;
    while offset < size {
        let len = chunk.min(size - offset);
        if let Some(p) = &progress {
            p.base.store(offset, Ordering::Relaxed);
        }
        let request = Request::new(Method::PATCH, location.clone())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_RANGE, &format!("{offset}-{}", offset + len - 1))
            .body(body(offset, len));
        let response = ctx.session.send_with(request, progress.as_ref()).await?;
        match response.status() {
            // ECR answers 201 where the spec says 202.
            StatusCode::ACCEPTED | StatusCode::CREATED | StatusCode::NO_CONTENT => {
                location = location_or(ctx.session, &response, &location)?;
                offset += len;
                if let Some(end) = range_end(&response) {
                    if end != offset {
                        return Err(RegistryError::UploadOffset {
                            url: RedactedUrl::new(&location),
                            offset: end,
                            size,
                        });
                    }
                }
                *state.lock().expect("upload state") = UploadState {
                    location: Some(location.clone()),
                    committed: offset,
                };
            }
            StatusCode::RANGE_NOT_SATISFIABLE if resyncs < MAX_RESYNC => {
                resyncs += 1;
                let (new_location, at) = status(ctx.session, location).await?;
                ctx.reporter.event(Event::Debug(&format!(
                    "{}: chunk at {offset} refused (416); the session holds {at} bytes",
                    digest.short()
                )));
                if at > size {
                    return Err(RegistryError::UploadOffset {
                        url: RedactedUrl::new(&new_location),
                        offset: at,
                        size,
                    });
                }
                (location, offset) = (new_location, at);
            }
            StatusCode::METHOD_NOT_ALLOWED if offset == 0 => {
                ctx.reporter.event(Event::Debug(&format!(
                    "{}: {} refuses chunked uploads (405); sending it in one request",
                    digest.short(),
                    ctx.session.host()
                )));
                *state.lock().expect("upload state") = UploadState::default();
                let (fresh, _) = start(ctx.session, &ctx.target.repository).await?;
                return put_final(
                    ctx.session,
                    fresh,
                    body(0, size),
                    descriptor,
                    progress.as_ref(),
                )
                .await;
            }
            _ => return Err(ctx.session.fail(&Method::PATCH, response).await),
        }
    }
    put_final(ctx.session, location, Body::Empty, descriptor, None).await?;
    *state.lock().expect("upload state") = UploadState::default();
    Ok(())
}

/// `GET <location>`: where the session stands. 204 (or 200) with `Range: 0-<n>` means
/// `n + 1` bytes are in; `0-0` or no `Range` means none (distribution reports an empty
/// session as `0-0`; a one-byte session cannot be told apart and is taken as empty).
async fn status(session: &Session, location: Url) -> Result<(Url, u64), RegistryError> {
    let response = session
        .expect(
            Request::new(Method::GET, location.clone()),
            &[StatusCode::NO_CONTENT, StatusCode::OK],
        )
        .await?;
    let next = location_or(session, &response, &location)?;
    let offset = range_end(&response).unwrap_or(0);
    Ok((next, if offset == 1 { 0 } else { offset }))
}

/// The response's `Location`, or `current` when it has none (or an unusable one); an
/// unsafe one is an error.
fn location_or(
    session: &Session,
    response: &reqwest::Response,
    current: &Url,
) -> Result<Url, RegistryError> {
    match session.location(response, &Method::PATCH) {
        Ok(url) => Ok(url),
        Err(e @ RegistryError::UnsafeTarget { .. }) => Err(e),
        Err(_) => Ok(current.clone()),
    }
}

/// Bytes held according to a `Range: [bytes=]0-<end>` header: `end + 1`.
fn range_end(response: &reqwest::Response) -> Option<u64> {
    parse_range(response.headers().get(RANGE)?.to_str().ok()?)
}

fn parse_range(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("bytes=").unwrap_or(value);
    let (start, end) = value.split_once('-')?;
    if start.trim() != "0" {
        return None;
    }
    end.trim().parse::<u64>().ok().map(|end| end + 1)
}

/// `HEAD /v2/<repository>/blobs/<digest>`: 200 yes, 404 no, anything else an error.
pub(super) async fn exists(
    session: &Session,
    repository: &str,
    digest: &Digest,
) -> Result<bool, RegistryError> {
    let url = session.url(repository, &format!("blobs/{digest}"));
    let response = session.send(Request::new(Method::HEAD, url)).await?;
    match response.status() {
        StatusCode::OK => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        _ => Err(session.fail(&Method::HEAD, response).await),
    }
}

enum Mount {
    Mounted,
    /// 202: an upload session to use instead of opening another.
    Upload(Url),
}

async fn mount(
    session: &Session,
    repository: &str,
    digest: &Digest,
    from: &str,
) -> Result<Mount, RegistryError> {
    let mut url = session.url(repository, "blobs/uploads/");
    url.query_pairs_mut()
        .append_pair("mount", &digest.to_string())
        .append_pair("from", from);
    let response = session.send(Request::new(Method::POST, url)).await?;
    match response.status() {
        StatusCode::CREATED => match header_digest(&response) {
            Some(d) if d != *digest => Err(RegistryError::DigestMismatch {
                what: "mounted blob",
                url: RedactedUrl::new(response.url()),
                expected: digest.clone(),
                actual: d,
            }),
            _ => Ok(Mount::Mounted),
        },
        StatusCode::ACCEPTED => Ok(Mount::Upload(session.location(&response, &Method::POST)?)),
        _ => Err(session.fail(&Method::POST, response).await),
    }
}

/// Opens an upload session: `POST …/blobs/uploads/` → 202 + `Location` (and the
/// registry's minimum chunk size, `OCI-Chunk-Min-Length`, when it has one).
async fn start(session: &Session, repository: &str) -> Result<(Url, Option<u64>), RegistryError> {
    let url = session.url(repository, "blobs/uploads/");
    let response = session
        .expect(Request::new(Method::POST, url), &[StatusCode::ACCEPTED])
        .await?;
    let min = response
        .headers()
        .get(OCI_CHUNK_MIN_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    Ok((session.location(&response, &Method::POST)?, min))
}

/// A blob that is not in the store, streamed from the registry that has it.
async fn open_remote(
    session: &Session,
    source: &Source<'_>,
    descriptor: &Descriptor,
) -> Result<Body, RegistryError> {
    let digest = &descriptor.digest;
    let response = match source {
        Source::SameRegistry(repository) => get_blob(session, repository, digest).await?,
        Source::OtherRegistry(reference) => {
            let scopes = Scopes::pull(&reference.repository);
            let pull = session.client().session(reference, scopes).await?;
            get_blob(&pull, &reference.repository, digest).await?
        }
    };
    Ok(Body::Stream(
        Some(Box::pin(response.bytes_stream())),
        descriptor.size,
    ))
}

/// Completes an upload: `PUT <location>&digest=<d>` with the rest of the body (the
/// whole blob for a one-request upload, nothing after chunks).
async fn put_final(
    session: &Session,
    location: Url,
    body: Body,
    descriptor: &Descriptor,
    progress: Option<&Progress<'_>>,
) -> Result<(), RegistryError> {
    let url = with_digest(location, &descriptor.digest);
    let request = Request::new(Method::PUT, url)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body);
    let response = session.send_with(request, progress).await?;
    if !matches!(
        response.status(),
        StatusCode::CREATED | StatusCode::NO_CONTENT
    ) {
        return Err(session.fail(&Method::PUT, response).await);
    }
    match header_digest(&response) {
        Some(d) if d != descriptor.digest => Err(RegistryError::DigestMismatch {
            what: "uploaded blob",
            url: RedactedUrl::new(response.url()),
            expected: descriptor.digest.clone(),
            actual: d,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_table() {
        const MIB: u64 = 1024 * 1024;
        let cases = [
            ("registry.example.com", 10 * MIB, None, Strategy::Monolithic),
            ("registry.example.com", 64 * MIB, None, Strategy::Monolithic),
            (
                "registry.example.com",
                65 * MIB,
                None,
                Strategy::Chunked(64 * MIB),
            ),
            ("ghcr.io", 3 * MIB, None, Strategy::Monolithic),
            ("ghcr.io", 5 * MIB, None, Strategy::Chunked(4 * MIB)),
            (
                "GHCR.io",
                100 * MIB,
                Some(32 * MIB),
                Strategy::Chunked(4 * MIB),
            ),
            ("localhost:5000", 2 * MIB, Some(MIB), Strategy::Chunked(MIB)),
            ("localhost:5000", MIB, Some(1), Strategy::Chunked(MIN_CHUNK)),
        ];
        for (host, size, configured, expected) in cases {
            assert_eq!(
                Strategy::choose(host, size, configured),
                expected,
                "{host} {size} {configured:?}"
            );
        }
    }

    #[test]
    fn range_table() {
        for (header, expected) in [
            ("0-0", Some(1)),
            ("0-1048575", Some(1048576)),
            ("bytes=0-99", Some(100)),
            (" 0-9 ", Some(10)),
            ("5-9", None),
            ("garbage", None),
        ] {
            assert_eq!(parse_range(header), expected, "{header}");
        }
    }
}

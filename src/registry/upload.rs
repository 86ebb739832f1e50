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
//! ```
//!
//! Bytes come from the local [`BlobStore`] when it has them, else straight from the
//! registry the layer came from — the same session when it is the same registry (its
//! token carries `pull` on the source), a pull session on the other registry otherwise.
//! Either way they stream: memory does not grow with the blob.
//!
//! How the bytes go up is the [`Strategy`]: monolithic (one streamed PUT) in this slice.
//! Chunked PATCHes with per-registry limits (ghcr.io ≤ 4 MiB) and resume from the
//! acknowledged `Range` belong in [`Strategy`] and [`upload`], nowhere else.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use url::Url;

use super::challenge::Scopes;
use super::error::{RedactedUrl, RegistryError};
use super::manifest::header_digest;
use super::pull::get_blob;
use super::session::{location, with_digest, Body, Request, Session};
use crate::ci::{BlobAction, Event, Reporter};
use crate::oci::{BlobStore, Descriptor, Digest, LayerOrigin};
use crate::reference::Reference;

/// One blob to push: what it is and where its bytes live.
pub(super) struct BlobJob<'a> {
    pub descriptor: &'a Descriptor,
    pub origin: &'a LayerOrigin,
}

/// How bytes are sent. The later chunked/resumable work chooses here, per registry host
/// and blob size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    /// One PUT carrying the whole blob, streamed.
    Monolithic,
}

impl Strategy {
    pub fn choose(_host: &str, _size: u64) -> Strategy {
        Strategy::Monolithic
    }
}

/// Where the bytes of a blob come from.
enum Source<'a> {
    Store(&'a BlobStore),
    /// Another repository of the target registry, read with the push session.
    SameRegistry(&'a str),
    /// Another registry, read with its own pull session.
    OtherRegistry(&'a Reference),
}

/// Whether two references live on the same registry (so a mount can work).
pub(super) fn same_registry(a: &Reference, b: &Reference) -> bool {
    a.api_host().eq_ignore_ascii_case(b.api_host())
}

/// Pushes one blob into `target` and says what it took.
pub(super) async fn push_blob(
    session: &Session,
    target: &Reference,
    job: &BlobJob<'_>,
    store: &BlobStore,
    reporter: &dyn Reporter,
) -> Result<BlobAction, RegistryError> {
    let digest = &job.descriptor.digest;
    let repository = target.repository.as_str();
    if exists(session, repository, digest).await? {
        return Ok(BlobAction::Existing);
    }
    let remote = match job.origin {
        LayerOrigin::Remote(source) => Some(source),
        LayerOrigin::Local => None,
    };
    let mount_from = remote
        .filter(|s| same_registry(s, target) && s.repository != target.repository)
        .map(|s| s.repository.as_str());
    let location = match mount_from {
        Some(from) => match mount(session, repository, digest, from).await {
            Ok(Mount::Mounted) => return Ok(BlobAction::Mounted),
            Ok(Mount::Upload(location)) => {
                reporter.event(Event::Debug(&format!(
                    "{}: mount from {from} not done (202); uploading on the session it opened",
                    digest.short()
                )));
                location
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
    let source = if store.contains(digest) {
        Source::Store(store)
    } else {
        match remote {
            Some(s) if same_registry(s, target) => Source::SameRegistry(&s.repository),
            Some(s) => Source::OtherRegistry(s),
            None => {
                return Err(RegistryError::NoSource {
                    digest: digest.clone(),
                })
            }
        }
    };
    let body = open(session, &source, job.descriptor).await?;
    match Strategy::choose(session.host(), job.descriptor.size) {
        Strategy::Monolithic => upload(session, location, body, job.descriptor).await?,
    }
    Ok(BlobAction::Pushed)
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
        StatusCode::ACCEPTED => Ok(Mount::Upload(location(&response, &Method::POST)?)),
        _ => Err(session.fail(&Method::POST, response).await),
    }
}

/// Opens an upload session: `POST …/blobs/uploads/` → 202 + `Location`.
async fn start(session: &Session, repository: &str) -> Result<Url, RegistryError> {
    let url = session.url(repository, "blobs/uploads/");
    let response = session
        .expect(Request::new(Method::POST, url), &[StatusCode::ACCEPTED])
        .await?;
    location(&response, &Method::POST)
}

async fn open(
    session: &Session,
    source: &Source<'_>,
    descriptor: &Descriptor,
) -> Result<Body, RegistryError> {
    let digest = &descriptor.digest;
    let response = match source {
        Source::Store(store) => {
            let size = store.size(digest).map_err(RegistryError::Store)?;
            return Ok(Body::Blob {
                store: (*store).clone(),
                digest: digest.clone(),
                size,
            });
        }
        Source::SameRegistry(repository) => get_blob(session, repository, digest).await?,
        Source::OtherRegistry(reference) => {
            let scopes = Scopes::pull(&reference.repository);
            let pull = session.client().session(reference, scopes).await?;
            get_blob(&pull, &reference.repository, digest).await?
        }
    };
    let stream = reqwest::Body::wrap_stream(response.bytes_stream());
    Ok(Body::Stream(Some(stream), descriptor.size))
}

/// Monolithic upload: `PUT <location>&digest=<d>` with the whole body.
async fn upload(
    session: &Session,
    location: Url,
    body: Body,
    descriptor: &Descriptor,
) -> Result<(), RegistryError> {
    let url = with_digest(location, &descriptor.digest);
    let request = Request::new(Method::PUT, url)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body);
    let response = session
        .expect(request, &[StatusCode::CREATED, StatusCode::NO_CONTENT])
        .await?;
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

//! A session: requests to one registry host under one growing set of scopes.
//!
//! Every registry request goes through [`Session::send`], the one place that
//!
//! - attaches `Authorization` (Basic, or a Bearer token for the session's scopes) — and
//!   only when the request goes to the registry's own scheme, host and port: an upload
//!   `Location` on object storage or a redirect elsewhere gets no credentials;
//! - answers a 401 by re-reading the challenge, merging the scopes it names into the
//!   session's set, forgetting the token that failed and sending again, **once**;
//! - follows redirects of bodiless GET/HEAD requests itself (at most [`MAX_REDIRECTS`]);
//! - refuses to follow a redirect or an upload `Location` to a link-local or unspecified
//!   address, or from https down to http on a host that is neither loopback nor listed
//!   insecure ([`unsafe_target`], also applied to a token `realm`).
//!
//! A request body is a [`Body`] *recipe* rather than bytes: a file body is re-opened
//! from the blob store for each send, so the 401 retry (and the retry policy above it)
//! can replay it. Only a body streamed from another registry is one-shot.
//!
//! Upload sessions hand out their next URL in `Location` headers: [`location`] resolves
//! one (relative or absolute) against the URL of the request that got it, keeping its
//! query (distribution's signed `_state`), and [`with_digest`] adds `digest=` properly
//! encoded — never string concatenation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, LOCATION, WARNING};
use reqwest::{Method, Response, StatusCode};
use tokio_util::io::ReaderStream;
use url::Url;

use super::auth::{HostAuth, TokenRequest};
use super::challenge::Scopes;
use super::client::{challenges, Client, Endpoint};
use super::error::{AuthContext, RedactedUrl, RegistryError};
use crate::events::{Event, Reporter};
use crate::oci::{BlobStore, Digest};
use std::sync::Arc;

pub(super) const MAX_REDIRECTS: usize = 5;

/// A one-shot body: bytes streamed from another registry.
pub(super) type ByteStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send>,
>;
/// Read size when streaming a file body.
const FILE_CHUNK: usize = 256 * 1024;

pub(super) struct Session {
    client: Client,
    endpoint: Arc<Endpoint>,
    scopes: Mutex<Scopes>,
    /// What the last Bearer token we sent grants, for error hints.
    granted: Mutex<Option<Vec<String>>>,
}

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
    fn replayable(&self) -> bool {
        !matches!(self, Body::Stream(..))
    }

    /// The body for one send, counted by `activity`, and its length.
    async fn open(
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
struct Activity {
    sent: AtomicU64,
    last: Mutex<Instant>,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            sent: AtomicU64::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    fn idle(&self) -> Duration {
        self.last.lock().expect("activity lock").elapsed()
    }

    /// A request body from `stream`, counting what goes out.
    fn watch<S, E>(self: &Arc<Self>, stream: S) -> reqwest::Body
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

    fn update(&self, sent: u64) {
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

pub(super) struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
        }
    }

    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }
}

impl Session {
    pub fn new(client: Client, endpoint: Arc<Endpoint>, scopes: Scopes) -> Session {
        Session {
            client,
            endpoint,
            scopes: Mutex::new(scopes),
            granted: Mutex::new(None),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn host(&self) -> &str {
        &self.endpoint.host
    }

    /// `<base>/v2/`: the version check every client starts with.
    pub fn base_url(&self) -> Url {
        let mut url = self.endpoint.base.clone();
        url.set_path("/v2/");
        url
    }

    /// `<base>/v2/<repository>/<tail>`.
    pub fn url(&self, repository: &str, tail: &str) -> Url {
        let mut url = self.endpoint.base.clone();
        url.set_path(&format!("/v2/{repository}/{tail}"));
        url
    }

    /// Sends `req`, authenticating and re-authenticating as the module docs describe.
    /// Any status is returned as a response; [`Session::expect`] turns the unexpected
    /// ones into errors.
    pub async fn send(&self, req: Request) -> Result<Response, RegistryError> {
        self.send_with(req, None).await
    }

    /// [`Session::send`], reporting body progress to `progress`.
    pub async fn send_with(
        &self,
        mut req: Request,
        progress: Option<&Progress<'_>>,
    ) -> Result<Response, RegistryError> {
        let mut url = req.url.clone();
        let mut reauthorized = false;
        let mut redirects = 0;
        loop {
            let own_host = same_origin(&url, &self.endpoint.base);
            let mut builder = self
                .client
                .http_for(&url)
                .request(req.method.clone(), url.clone())
                .headers(req.headers.clone());
            if own_host {
                if let Some(value) = self.authorization().await? {
                    builder = builder.header(AUTHORIZATION, value);
                }
            }
            let activity = Activity::new();
            let (body, len) = req.body.open(&activity).await?;
            if body.is_some() || matches!(req.method, Method::POST | Method::PUT | Method::PATCH) {
                builder = builder.header(CONTENT_LENGTH, len);
            }
            if let Some(body) = body {
                builder = builder.body(body);
            }
            let response = self
                .watchdog(builder.send(), &activity, progress, &req.method, &url)
                .await?;
            self.note_warnings(&response);
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED
                && own_host
                && !reauthorized
                && req.body.replayable()
            {
                reauthorized = true;
                if self.reauthorize(&response) {
                    continue;
                }
            }
            let bodiless = matches!(req.method, Method::GET | Method::HEAD);
            if bodiless && status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if redirects == MAX_REDIRECTS {
                    return Err(RegistryError::TooManyRedirects {
                        url: RedactedUrl::new(&req.url),
                        limit: MAX_REDIRECTS,
                    });
                }
                redirects += 1;
                url = self.location(&response, &req.method)?;
                continue;
            }
            return Ok(response);
        }
    }

    /// Awaits a response while watching the request: no body byte and no answer for the
    /// stall timeout abandons it ([`RegistryError::Stalled`], retryable).
    async fn watchdog(
        &self,
        send: impl std::future::Future<Output = reqwest::Result<Response>>,
        activity: &Activity,
        progress: Option<&Progress<'_>>,
        method: &Method,
        url: &Url,
    ) -> Result<Response, RegistryError> {
        let stall = self.client.inner.tuning.stall_timeout;
        let tick = (stall / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
        tokio::pin!(send);
        loop {
            tokio::select! {
                result = &mut send => {
                    return result.map_err(|e| RegistryError::transport(method, url, e));
                }
                _ = tokio::time::sleep(tick) => {
                    if activity.idle() >= stall {
                        return Err(RegistryError::Stalled {
                            method: method.clone(),
                            url: RedactedUrl::new(url),
                            after: stall,
                        });
                    }
                    if let Some(p) = progress {
                        p.update(activity.sent.load(Ordering::Relaxed));
                    }
                }
            }
        }
    }

    /// Remembers `Warning` headers (RFC 7234 `299 - "text"`) for the push to show once.
    fn note_warnings(&self, response: &Response) {
        let mut seen = None;
        for value in response.headers().get_all(WARNING) {
            let Ok(text) = value.to_str() else { continue };
            // `299 - "text"`: the quoted part is the message.
            let text = text
                .split_once('"')
                .map(|(_, rest)| rest.trim_end_matches('"'))
                .unwrap_or(text)
                .to_string();
            seen.get_or_insert_with(|| self.client.inner.warnings.lock().expect("warnings lock"))
                .note(text);
        }
    }

    /// Sends `req` and fails unless the status is one of `ok`.
    pub async fn expect(&self, req: Request, ok: &[StatusCode]) -> Result<Response, RegistryError> {
        let method = req.method.clone();
        let response = self.send(req).await?;
        if ok.contains(&response.status()) {
            Ok(response)
        } else {
            Err(self.fail(&method, response).await)
        }
    }

    /// The error for an unexpected response, with what we know about authentication.
    pub async fn fail(&self, method: &Method, response: Response) -> RegistryError {
        RegistryError::from_response(method, response, Some(self.auth_context())).await
    }

    fn auth_context(&self) -> AuthContext {
        let scopes = self.scopes();
        let bearer = matches!(
            *self.endpoint.auth.read().expect("auth lock"),
            HostAuth::Bearer { .. }
        );
        AuthContext {
            host: self.endpoint.host.clone(),
            username: self
                .client
                .inner
                .auth
                .credential(self.host())
                .map(|c| c.username.clone()),
            push: scopes.pushes(),
            requested: if bearer {
                scopes.to_strings()
            } else {
                Vec::new()
            },
            granted: if bearer {
                self.granted.lock().expect("granted lock").clone()
            } else {
                None
            },
        }
    }

    fn scopes(&self) -> Scopes {
        self.scopes.lock().expect("scopes lock").clone()
    }

    async fn authorization(&self) -> Result<Option<HeaderValue>, RegistryError> {
        let host_auth = self.endpoint.auth.read().expect("auth lock").clone();
        let auth = &self.client.inner.auth;
        match host_auth {
            HostAuth::Anonymous => Ok(None),
            HostAuth::Basic => Ok(auth.basic(self.host())),
            HostAuth::Bearer { realm, service } => {
                if realm.scheme() == "http"
                    && auth.credential(self.host()).is_some()
                    && !self.client.plain_http_ok(&realm)
                {
                    return Err(RegistryError::InsecureRealm {
                        host: self.host().into(),
                        url: RedactedUrl::new(&realm),
                    });
                }
                let scopes = self.scopes();
                let request = TokenRequest {
                    http: self.client.http_for(&realm),
                    host: self.host(),
                    realm: &realm,
                    service: service.as_deref(),
                    scopes: &scopes,
                };
                let bearer = auth.bearer(&request).await?;
                *self.granted.lock().expect("granted lock") = bearer.granted;
                Ok(Some(bearer.header))
            }
        }
    }

    /// The response's `Location`, resolved against the URL of the request that got it,
    /// and refused when it points somewhere unsafe ([`unsafe_target`]).
    pub fn location(&self, response: &Response, method: &Method) -> Result<Url, RegistryError> {
        let to = location(response, method)?;
        self.client.check_target(response.url(), &to, "Location")?;
        Ok(to)
    }

    /// After a 401: adopt the new challenge and its scopes. Returns whether sending again
    /// can help (a Basic challenge after Basic credentials were refused cannot).
    fn reauthorize(&self, response: &Response) -> bool {
        let Ok(new_auth) = HostAuth::from_challenges(self.host(), &challenges(response.headers()))
        else {
            return false;
        };
        if let HostAuth::Bearer { realm, .. } = &new_auth {
            if self
                .client
                .check_target(&self.endpoint.base, realm, "token realm")
                .is_err()
            {
                return false;
            }
        }
        let old_auth = self.endpoint.auth.read().expect("auth lock").clone();
        let has_credential = self.client.inner.auth.credential(self.host()).is_some();
        if new_auth == HostAuth::Basic && (old_auth == HostAuth::Basic || !has_credential) {
            return false;
        }
        let old_scopes = self.scopes();
        if let HostAuth::Bearer { .. } = new_auth {
            let wanted = challenges(response.headers())
                .into_iter()
                .find(|c| c.scheme == "bearer")
                .map(|c| c.scopes())
                .unwrap_or_default();
            self.scopes.lock().expect("scopes lock").merge(&wanted);
        }
        self.client.inner.auth.forget(self.host(), &old_scopes);
        *self.endpoint.auth.write().expect("auth lock") = new_auth;
        true
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Why following `from` → `to` (a redirect, an upload `Location`, a token realm) is
/// refused, if it is: a link-local (169.254.0.0/16, fe80::/10) or unspecified address —
/// cloud metadata services live there (ggcr's SSRF guard) — or https → http unless
/// `plain_ok` (the target is loopback or listed insecure).
pub(super) fn unsafe_target(from: &Url, to: &Url, plain_ok: bool) -> Option<String> {
    use std::net::IpAddr;
    let ip = match to.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        }),
        _ => None,
    };
    match ip {
        Some(ip) if ip.is_unspecified() => return Some(format!("{ip} is unspecified")),
        Some(IpAddr::V4(v4)) if v4.is_link_local() => return Some(format!("{v4} is link-local")),
        Some(IpAddr::V6(v6)) if v6.segments()[0] & 0xffc0 == 0xfe80 => {
            return Some(format!("{v6} is link-local"))
        }
        _ => {}
    }
    if from.scheme() == "https" && to.scheme() == "http" && !plain_ok {
        return Some("it downgrades https to http on a host not listed insecure".into());
    }
    None
}

/// The response's `Location`, resolved against the URL of the request that got it
/// (unchecked: [`Session::location`] is the checked one).
fn location(response: &Response, method: &Method) -> Result<Url, RegistryError> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| resolve_location(response.url(), v))
        .ok_or_else(|| RegistryError::Location {
            method: method.clone(),
            url: RedactedUrl::new(response.url()),
            status: response.status(),
        })
}

pub(super) fn resolve_location(request_url: &Url, location: &str) -> Option<Url> {
    let location = location.trim();
    if location.is_empty() {
        return None;
    }
    request_url.join(location).ok()
}

/// `url` with `digest=<d>` appended to whatever query it already has.
pub(super) fn with_digest(mut url: Url, digest: &Digest) -> Url {
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_table() {
        let base = Url::parse("http://127.0.0.1:5000/v2/a/b/blobs/uploads/").unwrap();
        let cases = [
            (
                "/v2/a/b/blobs/uploads/1f2e?_state=xYz%2B%3D%3D",
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/1f2e?_state=xYz%2B%3D%3D",
            ),
            (
                "1f2e?_state=s",
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/1f2e?_state=s",
            ),
            (
                "https://storage.example.com/upload/1f2e?sig=abc",
                "https://storage.example.com/upload/1f2e?sig=abc",
            ),
            ("//cdn.example.com/x", "http://cdn.example.com/x"),
            (
                "  /v2/a/b/blobs/uploads/9  ",
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/9",
            ),
        ];
        for (location, expected) in cases {
            assert_eq!(
                resolve_location(&base, location).unwrap().as_str(),
                expected,
                "{location}"
            );
        }
        assert!(resolve_location(&base, "").is_none());
    }

    #[test]
    fn digest_is_appended_and_encoded() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        let enc = "sha256%3Ae3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases = [
            (
                "http://h/v2/a/blobs/uploads/1",
                format!("http://h/v2/a/blobs/uploads/1?digest={enc}"),
            ),
            (
                "http://h/v2/a/blobs/uploads/1?_state=xYz%2B%3D%3D",
                format!("http://h/v2/a/blobs/uploads/1?_state=xYz%2B%3D%3D&digest={enc}"),
            ),
            (
                "https://s3/x?a=1&b=2",
                format!("https://s3/x?a=1&b=2&digest={enc}"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                with_digest(Url::parse(input).unwrap(), &d).as_str(),
                expected
            );
        }
    }

    /// Framing only (not the registry protocol): a streamed file body must go out with
    /// `Content-Length`, never `Transfer-Encoding: chunked`, which some registries and
    /// proxies refuse for blob PUTs. The server here just records request heads.
    #[tokio::test]
    async fn streamed_file_bodies_carry_content_length() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 65536];
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match conn.read(&mut chunk).await {
                                // The HTTPS attempt comes first: hang up on a TLS hello.
                                Ok(n) if n > 0 && !(buf.is_empty() && chunk[0] == 0x16) => {
                                    buf.extend_from_slice(&chunk[..n]);
                                    continue;
                                }
                                _ => return,
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse().unwrap())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + len {
                            let n = conn.read(&mut chunk).await.unwrap();
                            assert!(n > 0, "body cut short");
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        buf.drain(..end + 4 + len);
                        seen.lock().unwrap().push(head);
                        let ok = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
                        conn.write_all(ok).await.unwrap();
                    }
                });
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let blob = store.put(&vec![7u8; 600 * 1024]).unwrap();
        let client = Client::new(crate::registry::RegistryOptions::default()).unwrap();
        let target: crate::reference::Reference = format!("127.0.0.1:{port}/a").parse().unwrap();
        let session = client.session(&target, Scopes::pull("a")).await.unwrap();
        let url = with_digest(session.url("a", "blobs/uploads/1"), &blob.digest);
        let body = Body::Blob {
            store,
            digest: blob.digest.clone(),
            offset: 0,
            len: blob.size,
        };
        let response = session
            .send(Request::new(Method::PUT, url).body(body))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let heads = heads.lock().unwrap().clone();
        let put = heads
            .iter()
            .find(|h| h.starts_with("put "))
            .expect("the PUT arrived");
        assert!(
            put.contains(&format!("content-length: {}", 600 * 1024)),
            "{put}"
        );
        assert!(!put.contains("transfer-encoding"), "{put}");
        assert!(!put.contains("authorization"), "{put}");
    }

    #[test]
    fn unsafe_targets_are_refused() {
        let url = |s: &str| Url::parse(s).unwrap();
        let from = url("https://registry.example/v2/a/blobs/uploads/x");
        let cases = [
            ("https://s3.example/bucket/blob?sig=1", false, None),
            ("https://10.0.0.5/upload", false, None),
            (
                "http://169.254.169.254/latest/meta-data/",
                true,
                Some("link-local"),
            ),
            ("https://169.254.1.1/x", false, Some("link-local")),
            ("https://[fe80::1]/x", false, Some("link-local")),
            ("https://[febf::1]/x", false, Some("link-local")),
            ("https://[fec0::1]/x", false, None),
            (
                "https://[::ffff:169.254.169.254]/x",
                false,
                Some("link-local"),
            ),
            ("https://0.0.0.0/x", false, Some("unspecified")),
            ("https://[::]/x", false, Some("unspecified")),
            ("http://registry.example/v2/", false, Some("downgrades")),
            ("http://registry.example/v2/", true, None),
        ];
        for (to, plain_ok, expected) in cases {
            let got = unsafe_target(&from, &url(to), plain_ok);
            match expected {
                None => assert_eq!(got, None, "{to}"),
                Some(word) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(word)),
                    "{to}: {got:?}"
                ),
            }
        }
        // http → http is no downgrade (a plain-HTTP registry's own Locations).
        let plain = url("http://127.0.0.1:5000/v2/");
        assert_eq!(
            unsafe_target(&plain, &url("http://other:5000/x"), false),
            None
        );
    }

    #[tokio::test]
    async fn client_checks_loopback_and_insecure_hosts() {
        let url = |s: &str| Url::parse(s).unwrap();
        let client = Client::new(super::super::RegistryOptions {
            insecure: vec!["build.internal".into()],
            ..Default::default()
        })
        .unwrap();
        let from = url("https://reg.example/v2/");
        for (to, ok) in [
            ("http://127.0.0.1:5000/x", true),
            ("http://localhost/x", true),
            ("http://build.internal:8080/x", true),
            ("http://reg.example/x", false),
            ("https://169.254.169.254/x", false),
        ] {
            let got = client.check_target(&from, &url(to), "Location");
            assert_eq!(got.is_ok(), ok, "{to}: {got:?}");
            if let Err(e) = got {
                assert!(
                    e.to_string().contains("refusing to follow the Location"),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn credentials_stay_on_the_registry_origin() {
        let base = Url::parse("https://ghcr.io/").unwrap();
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &url("https://ghcr.io/v2/a/blobs/uploads/1"),
            &base
        ));
        assert!(same_origin(&url("https://ghcr.io:443/v2/"), &base));
        assert!(!same_origin(&url("http://ghcr.io/v2/"), &base));
        assert!(!same_origin(&url("https://ghcr.io:8443/v2/"), &base));
        assert!(!same_origin(
            &url("https://pkg-containers.githubusercontent.com/x"),
            &base
        ));
    }
}

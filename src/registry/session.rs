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
//!   insecure (`targets.rs`, whose rule also applies to a token `realm`);
//! - stops a request whose body or response stalls (the watchdog, fed by `body.rs`).
//!
//! Bodies (replayable recipes, progress) are `body.rs`'s; where a request may go
//! (`Location` resolution, `digest=`, unsafe targets) is `targets.rs`'s.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, WARNING};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::auth::{HostAuth, TokenRequest};
use super::body::{Activity, Body, Progress};
use super::challenge::Scopes;
use super::client::{challenges, Client, Endpoint};
use super::error::{AuthContext, RedactedUrl, RegistryError};
use super::targets::{location, same_origin};
use std::sync::Arc;

pub(super) const MAX_REDIRECTS: usize = 5;

pub(super) struct Session {
    client: Client,
    endpoint: Arc<Endpoint>,
    scopes: Mutex<Scopes>,
    /// What the last Bearer token we sent grants, for error hints.
    granted: Mutex<Option<Vec<String>>>,
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
        let stall = self.client.tuning().stall_timeout;
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
        let texts = response
            .headers()
            .get_all(WARNING)
            .into_iter()
            .filter_map(|value| {
                let text = value.to_str().ok()?;
                // `299 - "text"`: the quoted part is the message.
                Some(
                    text.split_once('"')
                        .map(|(_, rest)| rest.trim_end_matches('"'))
                        .unwrap_or(text)
                        .to_string(),
                )
            });
        self.client.note_warnings(texts);
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
                .auth()
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
        let auth = self.client.auth();
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
        let has_credential = self.client.auth().credential(self.host()).is_some();
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
        self.client.auth().forget(self.host(), &old_scopes);
        *self.endpoint.auth.write().expect("auth lock") = new_auth;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::targets::with_digest;
    use super::*;
    use crate::oci::BlobStore;

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

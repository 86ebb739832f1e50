//! The [`Client`]: TLS configuration, one endpoint per registry host, and sessions.
//!
//! A `Client` is cheap to clone and share: it holds two `reqwest` clients (one verifying
//! certificates against the system roots plus `ca_cert`, one that does not, used only for
//! hosts listed in `insecure`), the [`Auth`] state (credentials, token cache) and, per
//! registry host, an [`Endpoint`] found by pinging `GET /v2/` once.
//!
//! # Scheme
//!
//! HTTPS always comes first. For loopback hosts and hosts listed in `insecure`, a ping
//! that fails to *connect* over HTTPS (refused, TLS handshake, untrusted certificate on an
//! insecure host…) is retried over plain HTTP, as go-containerregistry does — so a local
//! `registry:2` on HTTP works, and so does a loopback registry with TLS. When HTTP fails
//! too (or answers something that is not a registry, like a TLS server's 400), the HTTPS
//! error is reported: it is the informative one. Every other host is HTTPS only.
//!
//! # Redirects
//!
//! `reqwest`'s automatic redirects are off. reqwest does strip `Authorization` when a
//! redirect changes host or port, but it keeps it on an https→http downgrade of the same
//! host, and it cannot replay a streamed body anyway. Redirects are followed by
//! `Session::send` instead (bodiless GET/HEAD only), which decides per hop whether the
//! registry's credentials may go along: only to the registry's own scheme, host and port.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::sync::OnceCell;
use url::Url;

use super::auth::{Auth, HostAuth};
use super::challenge::{self, Scopes};
use super::error::{host_port, RedactedUrl, RegistryError};
use super::retry::Tuning;
use super::session::Session;
use super::targets::unsafe_target;
use super::RegistryOptions;
use crate::host::RegistryHost;
use crate::reference::Reference;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("spaceone-publish/", env!("CARGO_PKG_VERSION"));

/// A distribution (OCI registry) client. See the module docs of `registry`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    http_insecure: reqwest::Client,
    insecure: Vec<String>,
    jobs: usize,
    tuning: Tuning,
    /// `registry-chunk-size`: `None` picks per registry (see `upload::Strategy`).
    chunk_size: Option<u64>,
    auth: Auth,
    /// `Warning` headers seen, each shown once per client.
    warnings: Mutex<Warnings>,
    /// `registry-mirrors`: where to pull a registry's images from first.
    mirrors: Vec<super::Mirror>,
    endpoints: Mutex<HashMap<String, Arc<OnceCell<Arc<Endpoint>>>>>,
}

/// `Warning` header texts: every one seen, and those not shown yet.
#[derive(Default)]
pub(super) struct Warnings {
    pub seen: Vec<String>,
    pub pending: Vec<String>,
}

impl Warnings {
    fn note(&mut self, text: String) {
        if !self.seen.contains(&text) {
            self.seen.push(text.clone());
            self.pending.push(text);
        }
    }
}

/// What the transport and the operations read of a client's settings and state.
impl Client {
    /// Blobs sent at once by a push.
    pub(super) fn jobs(&self) -> usize {
        self.inner.jobs
    }

    pub(super) fn tuning(&self) -> &Tuning {
        &self.inner.tuning
    }

    /// `registry-chunk-size`, if set.
    pub(super) fn chunk_size(&self) -> Option<u64> {
        self.inner.chunk_size
    }

    pub(super) fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// Records `Warning` header texts; each is shown once per client.
    pub(super) fn note_warnings(&self, texts: impl IntoIterator<Item = String>) {
        let mut texts = texts.into_iter().peekable();
        if texts.peek().is_some() {
            let mut warnings = self.inner.warnings.lock().expect("warnings lock");
            texts.for_each(|t| warnings.note(t));
        }
    }

    /// The warnings not shown yet, now counted as shown.
    pub(super) fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.inner.warnings.lock().expect("warnings lock").pending)
    }
}

/// A registry host as pinged: where to send requests and how to authenticate.
pub(super) struct Endpoint {
    /// `host[:port]` as used in URLs (`registry-1.docker.io` for Docker Hub).
    pub host: String,
    /// `https://host/` or `http://host/`.
    pub base: Url,
    /// The latest challenge; a 401 later in a session may update it.
    pub auth: RwLock<HostAuth>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("insecure", &self.inner.insecure)
            .field("jobs", &self.inner.jobs)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `image` on each mirror configured for its registry, in the order given.
    pub(super) fn mirrored(&self, image: &Reference) -> Vec<Reference> {
        self.inner
            .mirrors
            .iter()
            .filter_map(|m| m.apply(image))
            .collect()
    }

    pub fn new(opts: RegistryOptions) -> Result<Client, RegistryError> {
        Client::with_tuning(opts, Tuning::default())
    }

    /// A client with its own retry and timeout [`Tuning`] (tests: [`Tuning::fast`]).
    pub fn with_tuning(opts: RegistryOptions, tuning: Tuning) -> Result<Client, RegistryError> {
        let mut roots = Vec::new();
        if let Some(path) = &opts.ca_cert {
            let pem = std::fs::read(path).map_err(|source| RegistryError::CaCert {
                path: path.clone(),
                source,
            })?;
            roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                RegistryError::CaCertInvalid {
                    path: path.clone(),
                    source: Some(e.without_url()),
                }
            })?;
            if roots.is_empty() {
                return Err(RegistryError::CaCertInvalid {
                    path: path.clone(),
                    source: None,
                });
            }
        }
        let build = |accept_invalid: bool| {
            let mut builder = reqwest::Client::builder()
                .use_rustls_tls()
                .user_agent(USER_AGENT)
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .danger_accept_invalid_certs(accept_invalid);
            for cert in &roots {
                builder = builder.add_root_certificate(cert.clone());
            }
            builder
                .build()
                .map_err(|e| RegistryError::ClientSetup(e.without_url()))
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http: build(false)?,
                http_insecure: build(true)?,
                insecure: opts
                    .insecure
                    .iter()
                    .map(|h| h.trim().to_ascii_lowercase())
                    .collect(),
                jobs: opts.jobs.max(1),
                tuning,
                chunk_size: opts.chunk_size,
                auth: Auth::new(
                    opts.credentials,
                    opts.ci_credentials,
                    opts.docker_config,
                    opts.auth_files,
                    opts.repository,
                ),
                warnings: Mutex::new(Warnings::default()),
                mirrors: opts.mirrors,
                endpoints: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Whether `host[:port]` is listed in `insecure` (an entry without a port matches any).
    pub(super) fn is_insecure(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let bare = strip_port(&host);
        self.inner
            .insecure
            .iter()
            .any(|e| *e == host || (strip_port(e) == e && e == bare))
    }

    /// The HTTP client for a URL: the non-verifying one only for insecure hosts.
    pub(super) fn http_for(&self, url: &Url) -> &reqwest::Client {
        if url.scheme() == "https" && self.is_insecure(&host_port(url)) {
            &self.inner.http_insecure
        } else {
            &self.inner.http
        }
    }

    /// Whether credentials may travel to `url` over plain HTTP (loopback or insecure).
    pub(super) fn plain_http_ok(&self, url: &Url) -> bool {
        let host = host_port(url);
        let loopback = RegistryHost::parse(&host).is_ok_and(|h| h.is_loopback());
        loopback || self.is_insecure(&host)
    }

    /// Refuses `from` → `to` when [`unsafe_target`] does: link-local or unspecified
    /// addresses, https → http unless `to` is loopback or listed insecure.
    pub(super) fn check_target(
        &self,
        from: &Url,
        to: &Url,
        what: &'static str,
    ) -> Result<(), RegistryError> {
        match unsafe_target(from, to, self.plain_http_ok(to)) {
            None => Ok(()),
            Some(reason) => Err(RegistryError::UnsafeTarget {
                what,
                from: RedactedUrl::new(from),
                to: RedactedUrl::new(to),
                reason,
            }),
        }
    }

    /// A session on `reference`'s registry that will ask for `scopes`.
    pub(super) async fn session(
        &self,
        reference: &Reference,
        scopes: Scopes,
    ) -> Result<Session, RegistryError> {
        let endpoint = self.endpoint(reference).await?;
        Ok(Session::new(self.clone(), endpoint, scopes))
    }

    /// The endpoint for a reference's registry, pinged once per client (a failed ping is
    /// not remembered: the next call tries again).
    async fn endpoint(&self, reference: &Reference) -> Result<Arc<Endpoint>, RegistryError> {
        let host = reference.api_host().to_ascii_lowercase();
        let cell = {
            let mut map = self.inner.endpoints.lock().expect("endpoint map lock");
            map.entry(host.clone()).or_default().clone()
        };
        let fallback = reference.is_loopback() || self.is_insecure(&host);
        cell.get_or_try_init(|| async {
            self.inner.auth.load(&host).await;
            self.ping_schemes(&host, fallback).await.map(Arc::new)
        })
        .await
        .cloned()
    }

    async fn ping_schemes(
        &self,
        host: &str,
        http_fallback: bool,
    ) -> Result<Endpoint, RegistryError> {
        let https = base_url("https", host)?;
        match self.ping(host, https).await {
            Err(first @ RegistryError::Connect { .. }) if http_fallback => self
                .ping(host, base_url("http", host)?)
                .await
                .map_err(|_| first),
            other => other,
        }
    }

    async fn ping(&self, host: &str, base: Url) -> Result<Endpoint, RegistryError> {
        let url = base.join("v2/").expect("static path");
        let response = self
            .http_for(&url)
            .get(url.clone())
            .send()
            .await
            .map_err(|e| RegistryError::transport(&Method::GET, &url, e))?;
        let auth = match response.status() {
            s if s.is_success() => HostAuth::Anonymous,
            StatusCode::UNAUTHORIZED => {
                let challenges = challenges(response.headers());
                let auth = HostAuth::from_challenges(host, &challenges)?;
                if let HostAuth::Bearer { realm, .. } = &auth {
                    self.check_target(&base, realm, "token realm")?;
                }
                auth
            }
            _ => return Err(RegistryError::from_response(&Method::GET, response, None).await),
        };
        Ok(Endpoint {
            host: host.into(),
            base,
            auth: RwLock::new(auth),
        })
    }
}

/// Every challenge in every `WWW-Authenticate` header; unparseable headers are skipped
/// (the caller then reports "no usable challenge" naming the host).
pub(super) fn challenges(headers: &reqwest::header::HeaderMap) -> Vec<challenge::Challenge> {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| challenge::parse(v).ok())
        .flatten()
        .collect()
}

fn base_url(scheme: &str, host: &str) -> Result<Url, RegistryError> {
    Url::parse(&format!("{scheme}://{host}/")).map_err(|e| RegistryError::Challenge {
        host: host.into(),
        reason: format!("`{host}` does not form a URL ({e})"),
    })
}

/// `host` without its port (as written when it does not parse).
fn strip_port(host: &str) -> &str {
    RegistryHost::parse(host).map_or(host, |h| h.name())
}

/// Reads a whole (small) response body, refusing more than `limit` bytes.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    method: &Method,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>, RegistryError> {
    let url = response.url().clone();
    let too_large = || RegistryError::TooLarge {
        url: (&url).into(),
        what,
        limit,
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| RegistryError::transport(method, &url, e))?
    {
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_matching() {
        let client = Client::new(RegistryOptions {
            insecure: vec![
                "Registry.Local".into(),
                "10.0.0.5:5000".into(),
                "[::1]:5000".into(),
            ],
            ..Default::default()
        })
        .unwrap();
        for (host, insecure) in [
            ("registry.local", true),
            ("registry.local:5000", true),
            ("10.0.0.5:5000", true),
            ("10.0.0.5:5001", false),
            ("10.0.0.5", false),
            ("[::1]:5000", true),
            ("[::1]:5001", false),
            ("ghcr.io", false),
        ] {
            assert_eq!(client.is_insecure(host), insecure, "{host}");
        }
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(client.plain_http_ok(&url("http://localhost:5001/token")));
        assert!(client.plain_http_ok(&url("http://127.0.0.1/token")));
        assert!(client.plain_http_ok(&url("http://registry.local/token")));
        assert!(!client.plain_http_ok(&url("http://auth.example.com/token")));
    }

    #[test]
    fn missing_or_empty_ca_cert_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let err = Client::new(RegistryOptions {
            ca_cert: Some(missing),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = Client::new(RegistryOptions {
            ca_cert: Some(empty),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("holds no usable PEM certificate"),
            "{err}"
        );
    }
}

//! Registry errors: what failed, where, and what the registry said.
//!
//! Every failed exchange becomes one [`RegistryError`] whose `Display` names this layer's
//! part only: the HTTP method, the URL *redacted* by its type ([`RedactedUrl`]: no query
//! string, no userinfo), the status, and the registry's own `{"errors":[{code,message}]}`
//! (or the start of a text body, or "HEAD responses have no body"). Causes sit in
//! `#[source]`; known fixes come from [`RegistryError::hint`], apart from the message.
//!
//! Invariants:
//! - no token, password or query string ever reaches `Display` or `Debug` — tokens are
//!   [`Secret`](crate::secret::Secret)s and `reqwest` errors are stored `without_url()`;
//! - retry decisions ask [`RegistryError::is_retryable`], never the message text.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use url::Url;

use crate::oci::{Digest, Platform, StoreError};

/// Error bodies are read up to this many bytes; the rest is dropped.
pub(super) const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// How much of a non-JSON body an error message quotes.
const TEXT_EXCERPT: usize = 200;

/// A URL that prints without its query string, fragment or userinfo, so signed upload
/// state (`_state=…`), realm parameters and credentials embedded in a URL never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(Box<Url>);

impl RedactedUrl {
    pub fn new(url: &Url) -> RedactedUrl {
        RedactedUrl(Box::new(url.clone()))
    }

    /// `host[:port]`, for messages that name the registry.
    pub fn host(&self) -> String {
        host_port(&self.0)
    }
}

impl From<&Url> for RedactedUrl {
    fn from(url: &Url) -> Self {
        RedactedUrl::new(url)
    }
}

/// `host[:port]` of a URL (port only when explicit).
pub(super) fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.0.scheme(),
            host_port(&self.0),
            self.0.path()
        )
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One entry of a distribution error body (`{"errors":[{"code","message","detail"}]}`).
/// `detail` is left out: it is free-form JSON, often large, and rarely adds to `message`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ServerError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// What the registry said in the body of a failed response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// The JSON `errors` list the spec recommends.
    Errors(Vec<ServerError>),
    /// Anything else (HTML from a proxy, plain text), whitespace collapsed, cut at 200 chars.
    Text(String),
    Empty,
    /// The request was a HEAD: the server cannot say why.
    Head,
}

impl ResponseBody {
    /// Interprets up to [`ERROR_BODY_LIMIT`] bytes of a response body.
    pub fn parse(bytes: &[u8]) -> ResponseBody {
        #[derive(serde::Deserialize)]
        struct Body {
            errors: Vec<ServerError>,
        }
        if let Ok(body) = serde_json::from_slice::<Body>(bytes) {
            if !body.errors.is_empty() {
                return ResponseBody::Errors(body.errors);
            }
        }
        let text = String::from_utf8_lossy(bytes);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return ResponseBody::Empty;
        }
        match text.char_indices().nth(TEXT_EXCERPT) {
            Some((cut, _)) => ResponseBody::Text(format!("{}…", &text[..cut])),
            None => ResponseBody::Text(text),
        }
    }

    /// Reads (a capped prefix of) a failed response's body.
    pub(super) async fn read(method: &Method, mut response: reqwest::Response) -> ResponseBody {
        if method == Method::HEAD {
            return ResponseBody::Head;
        }
        let mut buf = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buf.extend_from_slice(&chunk);
            if buf.len() >= ERROR_BODY_LIMIT {
                buf.truncate(ERROR_BODY_LIMIT);
                break;
            }
        }
        ResponseBody::parse(&buf)
    }

    /// Whether the registry answered with this error code (`NAME_UNKNOWN`, `DENIED`, …).
    pub fn has_code(&self, code: &str) -> bool {
        matches!(self, ResponseBody::Errors(list) if list.iter().any(|e| e.code == code))
    }
}

impl fmt::Display for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseBody::Errors(list) => {
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    match (e.code.is_empty(), e.message.is_empty()) {
                        (false, false) => write!(f, "{}: {}", e.code, e.message)?,
                        (false, true) => f.write_str(&e.code)?,
                        (true, _) => f.write_str(&e.message)?,
                    }
                }
                Ok(())
            }
            ResponseBody::Text(text) => write!(f, "\"{text}\""),
            ResponseBody::Empty => f.write_str("(empty body)"),
            ResponseBody::Head => f.write_str("(HEAD responses have no body)"),
        }
    }
}

/// Who asked for what when the registry said no, for [`RegistryError::hint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthContext {
    /// The registry host.
    pub host: String,
    /// The user we authenticated as, `None` when anonymous.
    pub username: Option<String>,
    /// Whether the operation needed push rights.
    pub push: bool,
    /// Scopes we asked the token service for (empty for Basic auth).
    pub requested: Vec<String>,
    /// Scopes in the token we were given, when the token is a readable JWT.
    pub granted: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with a status we did not expect.
    #[error("{method} {url}: {status}: {body}")]
    Status {
        method: Method,
        url: RedactedUrl,
        status: StatusCode,
        body: ResponseBody,
        /// The `Retry-After` the registry asked for (seconds form), if any.
        retry_after: Option<Duration>,
    },

    /// Nothing moved for too long: no body bytes sent and no response.
    #[error("{method} {url}: no progress for {}s", after.as_secs())]
    Stalled {
        method: Method,
        url: RedactedUrl,
        after: Duration,
    },

    /// A resumable upload cannot continue: the registry says it holds an offset we did
    /// not send, or one past the blob.
    #[error("{url}: the upload session reports {offset} bytes received, not a resumable offset of a {size}-byte blob")]
    UploadOffset {
        url: RedactedUrl,
        offset: u64,
        size: u64,
    },

    /// 401/403 after authenticating (and re-asking for a token once).
    #[error("{method} {url}: {status}: {body}")]
    Denied {
        method: Method,
        url: RedactedUrl,
        status: StatusCode,
        body: ResponseBody,
        context: Box<AuthContext>,
    },

    /// The token service refused the credentials (or anonymous access).
    #[error("token service {url} refused {who} for {host}: {status}: {body}")]
    TokenDenied {
        url: RedactedUrl,
        host: String,
        who: String,
        status: StatusCode,
        body: ResponseBody,
    },

    /// The token service failed otherwise.
    #[error("token service {url}: {status}: {body}")]
    TokenService {
        url: RedactedUrl,
        status: StatusCode,
        body: ResponseBody,
    },

    #[error("token service {url} answered without a usable token: {reason}")]
    TokenResponse { url: RedactedUrl, reason: String },

    #[error("{host} asks for authentication we cannot answer: {reason}")]
    Challenge { host: String, reason: String },

    #[error("refusing to send credentials for {host} to the plain-HTTP token service {url}")]
    InsecureRealm { host: String, url: RedactedUrl },

    /// Connecting, TLS, or sending the request failed before any response.
    #[error("cannot reach {host} ({method} {url})")]
    Connect {
        host: String,
        method: Method,
        url: RedactedUrl,
        /// The failure was the TLS certificate check.
        certificate: bool,
        #[source]
        source: reqwest::Error,
    },

    /// The response started but its body broke off.
    #[error("{method} {url}: reading the response failed")]
    Transfer {
        method: Method,
        url: RedactedUrl,
        #[source]
        source: reqwest::Error,
    },

    #[error("{what} from {url} has digest {actual}, expected {expected}")]
    DigestMismatch {
        what: &'static str,
        url: RedactedUrl,
        expected: Digest,
        actual: Digest,
    },

    #[error("{reference} has no image for {platform} (available: {})", list_or_none(.available))]
    PlatformNotFound {
        reference: String,
        platform: Box<Platform>,
        available: Vec<String>,
    },

    #[error("{url}: unsupported manifest type `{media_type}`")]
    UnsupportedManifest {
        url: RedactedUrl,
        media_type: String,
    },

    #[error("{url}: invalid {what}")]
    InvalidJson {
        url: RedactedUrl,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    #[error("{url}: the response is larger than the {limit}-byte limit for a {what}")]
    TooLarge {
        url: RedactedUrl,
        what: &'static str,
        limit: usize,
    },

    #[error("{method} {url}: {status} without a usable Location header")]
    Location {
        method: Method,
        url: RedactedUrl,
        status: StatusCode,
    },

    #[error("refusing to follow the {what} {to} (from {from}): {reason}")]
    UnsafeTarget {
        what: &'static str,
        from: RedactedUrl,
        to: RedactedUrl,
        reason: String,
    },

    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects { url: RedactedUrl, limit: usize },

    #[error(
        "cannot push the index to {repository}: it lists {digest}{}, which the repository does not hold",
        platform.as_deref().map(|p| format!(" ({p})")).unwrap_or_default()
    )]
    MissingChild {
        repository: String,
        digest: Digest,
        platform: Option<String>,
    },

    #[error("{digest} is not in the local blob store and has no registry to copy it from")]
    NoSource { digest: Digest },

    #[error("cannot push: {reason}")]
    InvalidTag { reason: String },

    #[error("local blob store")]
    Store(#[source] StoreError),

    #[error("cannot read the registry CA certificate {}", path.display())]
    CaCert {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the registry CA certificate {} holds no usable PEM certificate", path.display())]
    CaCertInvalid {
        path: PathBuf,
        #[source]
        source: Option<reqwest::Error>,
    },

    #[error("cannot set up the HTTP client")]
    ClientSetup(#[source] reqwest::Error),
}

fn list_or_none(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

impl RegistryError {
    /// The error for a response whose status the caller did not expect. 401 and 403 become
    /// [`RegistryError::Denied`] when the caller passes an [`AuthContext`].
    pub(super) async fn from_response(
        method: &Method,
        response: reqwest::Response,
        auth: Option<AuthContext>,
    ) -> RegistryError {
        let url = RedactedUrl::new(response.url());
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = ResponseBody::read(method, response).await;
        let method = method.clone();
        match auth {
            Some(context)
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN =>
            {
                RegistryError::Denied {
                    method,
                    url,
                    status,
                    body,
                    context: Box::new(context),
                }
            }
            _ => RegistryError::Status {
                method,
                url,
                status,
                body,
                retry_after,
            },
        }
    }

    /// A `reqwest` failure before or while reading a response.
    pub(super) fn transport(method: &Method, url: &Url, source: reqwest::Error) -> RegistryError {
        let source = source.without_url();
        let url = RedactedUrl::new(url);
        if source.is_body() || source.is_decode() {
            return RegistryError::Transfer {
                method: method.clone(),
                url,
                source,
            };
        }
        RegistryError::Connect {
            host: url.host(),
            method: method.clone(),
            certificate: is_certificate_error(&source),
            url,
            source,
        }
    }

    /// The HTTP status, when the registry answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            RegistryError::Status { status, .. }
            | RegistryError::Denied { status, .. }
            | RegistryError::TokenDenied { status, .. }
            | RegistryError::TokenService { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying the same operation again may succeed: 408, 429, 5xx, and connections
    /// that failed or were reset. (The retry policy itself lives in `retry.rs`.)
    pub fn is_retryable(&self) -> bool {
        match self {
            RegistryError::Status { status, body, .. } => {
                retryable_status(*status) || TEMPORARY_CODES.iter().any(|code| body.has_code(code))
            }
            RegistryError::TokenService { status, .. } => retryable_status(*status),
            RegistryError::Connect { certificate, .. } => !certificate,
            RegistryError::Transfer { .. } | RegistryError::Stalled { .. } => true,
            _ => false,
        }
    }

    /// How long the registry asked us to wait before trying again (429/503 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RegistryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A known fix, shown apart from the message (`hint: …`).
    pub fn hint(&self) -> Option<String> {
        match self {
            RegistryError::Denied { context, .. } => Some(denied_hint(context)),
            RegistryError::TokenDenied { host, .. } => Some(format!(
                "check registry-username and registry-password for {host}"
            )),
            RegistryError::Connect {
                host,
                certificate: true,
                ..
            } => Some(format!(
                "the TLS certificate of {host} is not trusted: set registry-ca-cert to its CA \
                 (PEM), or list {host} in insecure-registries"
            )),
            RegistryError::InsecureRealm { url, .. } => Some(format!(
                "list {} in insecure-registries if plain HTTP is intended",
                url.host()
            )),
            RegistryError::Status { status, body, .. }
                if *status == StatusCode::NOT_FOUND && body.has_code("NAME_UNKNOWN") =>
            {
                Some(
                    "check the image name; some registries (ECR) need the repository created \
                      before the first push"
                        .into(),
                )
            }
            _ => None,
        }
    }
}

/// 408, 429 and 5xx (499 and 522 included: proxies in front of registries use them).
fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status.as_u16() == 499
}

/// Distribution error codes that say "try again" whatever the status (go-containerregistry
/// treats the same set as temporary).
const TEMPORARY_CODES: &[&str] = &["BLOB_UPLOAD_INVALID", "TOOMANYREQUESTS", "UNAVAILABLE"];

/// `Retry-After: <seconds>`; the HTTP-date form is read as "a little while" (1 s), which
/// is what registries mean by it in practice.
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    Some(match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => Duration::from_secs(1),
    })
}

fn denied_hint(c: &AuthContext) -> String {
    let granted = match &c.granted {
        Some(list) if list.is_empty() => "nothing".to_string(),
        Some(list) => list.join(" "),
        None if c.requested.is_empty() => "n/a (Basic auth)".to_string(),
        None => "unknown (opaque token)".to_string(),
    };
    let mut hint = match (&c.username, c.push) {
        (None, _) => format!(
            "no credentials for {}: set registry-username and registry-password",
            c.host
        ),
        (Some(user), true) => format!(
            "check registry-username/registry-password (user `{user}` on {}) and that it may push",
            c.host
        ),
        (Some(user), false) => format!(
            "check that user `{user}` may pull from {} and that the repository exists",
            c.host
        ),
    };
    if !c.requested.is_empty() {
        hint.push_str(&format!(
            "; asked the token service for: {}; it granted: {granted}",
            c.requested.join(" ")
        ));
    }
    if c.host == "ghcr.io" && c.push {
        hint.push_str("; on GitHub Actions, GITHUB_TOKEN needs `permissions: packages: write`");
    }
    hint
}

/// Whether the TLS certificate check was what failed, found by walking the source chain
/// down to rustls' own error (an `io::Error` hides its inner error from `source()`).
fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if is_certificate_error(inner) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_print_without_query_or_userinfo() {
        let cases = [
            (
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/3f1c?_state=c2VjcmV0&digest=sha256%3Aab",
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/3f1c",
            ),
            ("https://user:pw@ghcr.io/token?scope=x&service=ghcr.io", "https://ghcr.io/token"),
            ("https://registry.example.com:443/v2/", "https://registry.example.com/v2/"),
            ("https://[::1]:5000/v2/x#frag", "https://[::1]:5000/v2/x"),
            ("https://s3.example.com/bucket/blob?X-Amz-Signature=abc", "https://s3.example.com/bucket/blob"),
        ];
        for (input, expected) in cases {
            let url = Url::parse(input).unwrap();
            assert_eq!(RedactedUrl::new(&url).to_string(), expected, "{input}");
            assert_eq!(format!("{:?}", RedactedUrl::new(&url)), expected, "{input}");
        }
    }

    #[test]
    fn error_bodies_table() {
        let long = "x".repeat(300);
        let cases: Vec<(&[u8], &str)> = vec![
            (
                br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
                "DENIED: requested access to the resource is denied",
            ),
            (
                br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown","detail":{"digest":"sha256:x"}},{"code":"UNSUPPORTED","message":""}]}"#,
                "BLOB_UNKNOWN: blob unknown; UNSUPPORTED",
            ),
            (br#"{"errors":[{"message":"only a message"}]}"#, "only a message"),
            (b"<html>\n<body>  502 Bad Gateway </body></html>", "\"<html> <body> 502 Bad Gateway </body></html>\""),
            (br#"{"errors":[]}"#, "\"{\"errors\":[]}\""),
            (b"", "(empty body)"),
            (b"  \n ", "(empty body)"),
            (long.as_bytes(), "LONG"),
        ];
        for (input, expected) in cases {
            let got = ResponseBody::parse(input).to_string();
            if expected == "LONG" {
                assert_eq!(got, format!("\"{}…\"", "x".repeat(200)));
            } else {
                assert_eq!(got, expected);
            }
        }
        assert!(
            ResponseBody::parse(br#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#)
                .has_code("NAME_UNKNOWN")
        );
        assert_eq!(
            ResponseBody::Head.to_string(),
            "(HEAD responses have no body)"
        );
    }

    #[test]
    fn status_error_display_and_retry_class() {
        let url = Url::parse("https://ghcr.io/v2/org/x/manifests/1.0?tag=1").unwrap();
        let err = |status: u16| RegistryError::Status {
            method: Method::PUT,
            url: RedactedUrl::new(&url),
            status: StatusCode::from_u16(status).unwrap(),
            body: ResponseBody::parse(
                br#"{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}"#,
            ),
            retry_after: None,
        };
        assert_eq!(
            err(503).to_string(),
            "PUT https://ghcr.io/v2/org/x/manifests/1.0: 503 Service Unavailable: UNAVAILABLE: try later"
        );
        for status in [408, 429, 500, 503, 400, 404] {
            // UNAVAILABLE is a temporary code: even a 400 carrying it is retried.
            assert!(err(status).is_retryable(), "{status}");
        }
        let plain = |status: u16| RegistryError::Status {
            method: Method::PUT,
            url: RedactedUrl::new(&url),
            status: StatusCode::from_u16(status).unwrap(),
            body: ResponseBody::parse(br#"{"errors":[{"code":"MANIFEST_INVALID"}]}"#),
            retry_after: None,
        };
        for (status, retry) in [
            (408, true),
            (429, true),
            (499, true),
            (500, true),
            (503, true),
            (400, false),
            (404, false),
        ] {
            assert_eq!(plain(status).is_retryable(), retry, "{status}");
        }
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(1)));
    }

    #[test]
    fn denied_hint_names_the_granted_scopes() {
        let err = RegistryError::Denied {
            method: Method::POST,
            url: RedactedUrl::new(&Url::parse("https://ghcr.io/v2/org/x/blobs/uploads/").unwrap()),
            status: StatusCode::UNAUTHORIZED,
            body: ResponseBody::Empty,
            context: Box::new(AuthContext {
                host: "ghcr.io".into(),
                username: Some("ci".into()),
                push: true,
                requested: vec!["repository:org/x:pull,push".into()],
                granted: Some(vec!["repository:org/x:pull".into()]),
            }),
        };
        let hint = err.hint().unwrap();
        assert!(
            hint.contains("registry-username/registry-password"),
            "{hint}"
        );
        assert!(hint.contains("it granted: repository:org/x:pull"), "{hint}");
        assert!(hint.contains("packages: write"), "{hint}");
        assert!(!err.is_retryable());
    }
}

//! One gRPC channel to a SpaceONE Repository service, and what every call carries.
//!
//! - **Endpoint**: `grpc://host:port` (plain HTTP/2) or `grpc+ssl://host:port` (TLS; the
//!   port defaults to 443), the form spacectl and SpaceONE's own endpoint lists use. A
//!   path such as `/v1` is ignored, as spacectl ignores it; any other scheme, credentials
//!   in the URL, or a missing host is an error naming the value.
//! - **TLS** verifies the server against the system roots, or against the CA file given
//!   (`spaceone-ca-cert`) instead. There is no "skip verification" switch.
//! - **Metadata**: `token` is the raw token, no `Bearer ` prefix (SpaceONE reads the
//!   metadata key `token` literally), marked sensitive so transport logs skip it. The
//!   optional domain travels as `x_domain_id` (underscores, as python-core expects); 2.x
//!   servers use it for system tokens and ignore it otherwise. 1.x wants the domain in
//!   the request body instead, which `translate.rs` does.
//!   `x_workspace_id` likewise, when given.
//! - **Deadlines**: connecting has its own timeout, and every call gets a deadline (sent
//!   as `grpc-timeout` and enforced locally), 30 s unless told otherwise.
//! - **Retries**: connecting, and each call made through [`Connection::call`], follow one
//!   [`Retry`] policy (UNAVAILABLE and DEADLINE_EXCEEDED only; see `retry.rs`).
//!
//! Nothing here formats the token: it is read once, from [`Secret::expose`], into a
//! metadata value.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use super::error::SpaceOneError;
use super::request::Generation;
use super::retry::Retry;
use crate::secret::Secret;

/// Everything needed to reach one SpaceONE server.
#[derive(Debug, Clone)]
pub struct SpaceOneOptions {
    /// `grpc://host:port` or `grpc+ssl://host:port`.
    pub endpoint: String,
    /// Sent as metadata `token`.
    pub token: Option<Secret>,
    /// 1.x: `domain_id` in request bodies; both: metadata `x_domain_id`.
    pub domain_id: Option<String>,
    /// PEM CA certificates to trust instead of the system roots.
    pub ca_cert: Option<PathBuf>,
    /// `Auto` asks the server through reflection.
    pub generation: Generation,
    /// Metadata `x_workspace_id` (system tokens).
    pub workspace_id: Option<String>,
    /// How the registration flow may resolve conflicts.
    pub policy: Policy,
}

/// What the registration flow is allowed to do beyond register-or-update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Deregister and register again when a field the server cannot update changed.
    pub replace: bool,
    /// On 1.x, create the `local` repository when it is missing.
    pub create_local_repository: bool,
    /// Allow tags such as `latest` in a HARBOR-typed repository.
    pub allow_non_version_tags: bool,
}

impl SpaceOneOptions {
    /// Checks everything that can be checked without the network (endpoint, token and
    /// domain as metadata, the CA file), so a caller can fail before pushing.
    pub fn validate(&self) -> Result<(), SpaceOneError> {
        Prepared::from_options(self).map(|_| ())
    }
}

/// The options, parsed: what [`Connection::open`] dials with.
struct Prepared {
    endpoint: Endpoint,
    token: Option<MetadataValue<Ascii>>,
    x_domain_id: Option<MetadataValue<Ascii>>,
    x_workspace_id: Option<MetadataValue<Ascii>>,
    ca_pem: Option<Vec<u8>>,
}

impl Prepared {
    fn from_options(opts: &SpaceOneOptions) -> Result<Prepared, SpaceOneError> {
        let endpoint: Endpoint = opts.endpoint.parse()?;
        let token = match &opts.token {
            Some(secret) if !secret.expose().trim().is_empty() => Some(token_value(secret)?),
            _ => None,
        };
        let domain = opts
            .domain_id
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let x_domain_id = match domain {
            Some(d) => Some(
                MetadataValue::try_from(d).map_err(|_| SpaceOneError::DomainId {
                    value: d.to_string(),
                })?,
            ),
            None => None,
        };
        let workspace = opts
            .workspace_id
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty());
        let x_workspace_id = match workspace {
            Some(w) => {
                Some(
                    MetadataValue::try_from(w).map_err(|_| SpaceOneError::WorkspaceId {
                        value: w.to_string(),
                    })?,
                )
            }
            None => None,
        };
        let ca_pem = match &opts.ca_cert {
            Some(path) => Some(std::fs::read(path).map_err(|source| SpaceOneError::CaCert {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        Ok(Prepared {
            endpoint,
            token,
            x_domain_id,
            x_workspace_id,
            ca_pem,
        })
    }
}

/// How long to wait, and how often to try again. [`Timeouts::default`] is 10 s to
/// connect, 30 s per call, and [`Retry::default`] (3 attempts, 1 s then 2 s apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub call: Duration,
    pub retry: Retry,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            call: Duration::from_secs(30),
            retry: Retry::default(),
        }
    }
}

impl Timeouts {
    /// The defaults with another retry policy (tests: [`Retry::immediate`]).
    pub fn with_retry(retry: Retry) -> Timeouts {
        Timeouts {
            retry,
            ..Timeouts::default()
        }
    }
}

/// A parsed `grpc[+ssl]://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    /// Without brackets, also for IPv6.
    pub host: String,
    pub port: u16,
}

impl FromStr for Endpoint {
    type Err = SpaceOneError;

    fn from_str(value: &str) -> Result<Endpoint, SpaceOneError> {
        let fail = |reason: &str| SpaceOneError::Endpoint {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(value.trim()).map_err(|e| fail(&format!("not a URL ({e})")))?;
        let tls = match url.scheme() {
            "grpc" => false,
            "grpc+ssl" => true,
            other => {
                return Err(fail(&format!(
                    "the scheme is `{other}`, expected `grpc` or `grpc+ssl`"
                )))
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SpaceOneError::Endpoint {
                value: format!("{}://…@{}", url.scheme(), url.host_str().unwrap_or("")),
                reason: "credentials do not belong in the endpoint; use `spaceone-token`".into(),
            });
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(fail("it has no host")),
        };
        if host.is_empty() {
            return Err(fail("it has no host"));
        }
        let port = match (url.port(), tls) {
            (Some(port), _) => port,
            (None, true) => 443,
            (None, false) => return Err(fail("it has no port (grpc://host:port)")),
        };
        Ok(Endpoint { tls, host, port })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "grpc+ssl" } else { "grpc" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl Endpoint {
    /// The `http(s)://` URI the HTTP/2 transport dials.
    fn uri(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// An open channel plus the metadata and deadline every call gets.
#[derive(Clone)]
pub struct Connection {
    channel: Channel,
    endpoint: Endpoint,
    token: Option<MetadataValue<Ascii>>,
    x_domain_id: Option<MetadataValue<Ascii>>,
    x_workspace_id: Option<MetadataValue<Ascii>>,
    call_timeout: Duration,
    retry: Retry,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint.to_string())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("call_timeout", &self.call_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Connection {
    /// Checks the options, then connects (eagerly, so an unreachable server fails here
    /// with the endpoint named, not in the middle of the flow), retrying a failed
    /// connection as `timeouts.retry` says.
    pub async fn open(
        opts: &SpaceOneOptions,
        timeouts: Timeouts,
    ) -> Result<Connection, SpaceOneError> {
        let Prepared {
            endpoint,
            token,
            x_domain_id,
            x_workspace_id,
            ca_pem,
        } = Prepared::from_options(opts)?;

        let mut builder = Channel::from_shared(endpoint.uri())
            .map_err(|e| SpaceOneError::Endpoint {
                value: opts.endpoint.clone(),
                reason: e.to_string(),
            })?
            .user_agent(concat!("spaceone-publish/", env!("CARGO_PKG_VERSION")))
            .map_err(|source| SpaceOneError::Connect {
                endpoint: endpoint.to_string(),
                attempts: 0,
                source,
            })?
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.call);
        if endpoint.tls {
            let mut tls = ClientTlsConfig::new()
                .domain_name(endpoint.host.clone())
                .timeout(timeouts.connect);
            tls = match ca_pem {
                Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
                None => tls.with_native_roots(),
            };
            builder = builder
                .tls_config(tls)
                .map_err(|source| SpaceOneError::Connect {
                    endpoint: endpoint.to_string(),
                    attempts: 0,
                    source,
                })?;
        }
        let (channel, attempts) = timeouts.retry.run(|_| true, || builder.connect()).await;
        let channel = channel.map_err(|source| SpaceOneError::Connect {
            endpoint: endpoint.to_string(),
            attempts,
            source,
        })?;
        Ok(Connection {
            channel,
            endpoint,
            token,
            x_domain_id,
            x_workspace_id,
            call_timeout: timeouts.call,
            retry: timeouts.retry,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The channel, for a generated client (cheap to clone).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A request with the call deadline and no credentials (reflection).
    pub fn anonymous<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.call_timeout);
        request
    }

    /// A request with the deadline, `token` and `x_domain_id`.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = self.anonymous(message);
        let metadata = request.metadata_mut();
        if let Some(token) = &self.token {
            metadata.insert("token", token.clone());
        }
        if let Some(domain) = &self.x_domain_id {
            metadata.insert("x_domain_id", domain.clone());
        }
        if let Some(workspace) = &self.x_workspace_id {
            metadata.insert("x_workspace_id", workspace.clone());
        }
        request
    }

    /// Makes one unary call under the retry policy: `send` gets a fresh channel and a
    /// fresh request (deadline and metadata) per attempt. A final failure names `method`
    /// and says how many attempts were made.
    pub async fn call<M, T, F, Fut>(
        &self,
        method: &'static str,
        message: M,
        mut send: F,
    ) -> Result<T, (tonic::Status, SpaceOneError)>
    where
        M: Clone,
        F: FnMut(Channel, tonic::Request<M>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let (result, attempts) = self
            .retry
            .call(|| send(self.channel(), self.request(message.clone())))
            .await;
        result.map(tonic::Response::into_inner).map_err(|status| {
            let error = SpaceOneError::server_after(method, &status, attempts);
            (status, error)
        })
    }

    /// The retry policy calls follow.
    pub fn retry(&self) -> Retry {
        self.retry
    }
}

/// The token as a sensitive metadata value. Trailing newlines (a token read from a file)
/// are dropped; a `Bearer ` prefix is refused rather than silently stripped.
fn token_value(secret: &Secret) -> Result<MetadataValue<Ascii>, SpaceOneError> {
    let raw = secret.expose().trim();
    if raw.len() > 7 && raw[..7].eq_ignore_ascii_case("bearer ") {
        return Err(SpaceOneError::Token {
            reason: "it starts with `Bearer `; SpaceONE wants the token alone",
        });
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SpaceOneError::Token {
            reason: "it contains spaces or characters that are not visible ASCII",
        });
    }
    let mut value = MetadataValue::try_from(raw).map_err(|_| SpaceOneError::Token {
        reason: "it contains characters that are not visible ASCII",
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_like_spacectl() {
        let ok = [
            (
                "grpc://127.0.0.1:50051",
                false,
                "127.0.0.1",
                50051,
                "grpc://127.0.0.1:50051",
            ),
            (
                "grpc+ssl://repository.api.example.com:443/v1",
                true,
                "repository.api.example.com",
                443,
                "grpc+ssl://repository.api.example.com:443",
            ),
            (
                "grpc+ssl://repository.api.example.com",
                true,
                "repository.api.example.com",
                443,
                "grpc+ssl://repository.api.example.com:443",
            ),
            (
                "grpc://[::1]:8080/",
                false,
                "::1",
                8080,
                "grpc://[::1]:8080",
            ),
            (
                " grpc://Repo.Local:1/ ",
                false,
                "Repo.Local",
                1,
                "grpc://Repo.Local:1",
            ),
        ];
        for (input, tls, host, port, shown) in ok {
            let e: Endpoint = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                (e.tls, e.host.as_str(), e.port, e.to_string()),
                (tls, host, port, shown.to_string()),
                "{input}"
            );
        }
    }

    #[test]
    fn other_endpoints_are_refused_by_name() {
        let bad = [
            ("https://repository.api.example.com", "input `spaceone-endpoint`: `https://repository.api.example.com` is not a SpaceONE endpoint: the scheme is `https`, expected `grpc` or `grpc+ssl`"),
            ("repository:50051", "input `spaceone-endpoint`: `repository:50051` is not a SpaceONE endpoint: the scheme is `repository`, expected `grpc` or `grpc+ssl`"),
            ("127.0.0.1:50051", "input `spaceone-endpoint`: `127.0.0.1:50051` is not a SpaceONE endpoint: not a URL (relative URL without a base)"),
            ("grpc://127.0.0.1", "input `spaceone-endpoint`: `grpc://127.0.0.1` is not a SpaceONE endpoint: it has no port (grpc://host:port)"),
            ("grpc://:50051", "input `spaceone-endpoint`: `grpc://:50051` is not a SpaceONE endpoint: not a URL (empty host)"),
        ];
        for (input, want) in bad {
            let e = input.parse::<Endpoint>().unwrap_err();
            assert_eq!(e.to_string(), want);
            assert!(e.hint().unwrap().contains("grpc+ssl://host:port"));
        }
        let e = "grpc://admin:hunter2@host:1"
            .parse::<Endpoint>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2") && e.contains("credentials"), "{e}");
    }

    #[test]
    fn tokens_go_out_raw_and_sensitive() {
        let v = token_value(&Secret::new("eyJhbGciOi.x.y\n")).unwrap();
        assert_eq!(v.to_str().unwrap(), "eyJhbGciOi.x.y");
        assert!(v.is_sensitive());
        let e = token_value(&Secret::new("Bearer eyJ.x.y"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Bearer") && !e.contains("eyJ"), "{e}");
        let e = token_value(&Secret::new("tök")).unwrap_err().to_string();
        assert!(!e.contains("tök"), "{e}");
    }

    #[test]
    fn options_validate_without_the_network() {
        let opts = |endpoint: &str, ca: Option<&str>| SpaceOneOptions {
            endpoint: endpoint.into(),
            token: Some(Secret::new("eyJ.a.b")),
            domain_id: Some("domain-1".into()),
            ca_cert: ca.map(PathBuf::from),
            generation: Generation::Auto,
            workspace_id: None,
            policy: Default::default(),
        };
        assert!(opts("grpc+ssl://repository.example.com", None)
            .validate()
            .is_ok());
        let e = opts("http://x:1", None).validate().unwrap_err();
        assert!(e.is_preflight(), "{e}");
        let e = opts("grpc+ssl://x:1", Some("/nonexistent/ca.pem"))
            .validate()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "reading the SpaceONE CA certificate /nonexistent/ca.pem failed"
        );
        assert!(e.is_preflight());
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_at_connect_naming_the_endpoint() {
        // Bind and drop to find a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = SpaceOneOptions {
            endpoint: format!("grpc://127.0.0.1:{port}"),
            token: Some(Secret::new("t")),
            domain_id: None,
            ca_cert: None,
            generation: Generation::Auto,
            workspace_id: None,
            policy: Default::default(),
        };
        let e = Connection::open(&opts, Timeouts::with_retry(Retry::immediate(3)))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("connecting to SpaceONE at grpc://127.0.0.1:{port} failed (after 3 attempts)")
        );
        assert!(!e.is_preflight());
        assert!(std::error::Error::source(&e).is_some());
    }
}

//! Authentication: what a registry asks for, and the tokens we hold for it.
//!
//! The flow (distribution's token auth, also used by Docker Hub, GHCR, GitLab, Harbor):
//!
//! 1. `GET /v2/` (the *ping*, in `client.rs`) answers 200 — no auth — or 401 with
//!    `WWW-Authenticate` challenges, which become a [`HostAuth`]: `Basic` (send the
//!    credential on every request; ECR, htpasswd) or `Bearer` (ask a token service).
//! 2. For Bearer, [`Auth::bearer`] calls `GET <realm>?service=<s>&scope=<a>&scope=<b>` —
//!    with Basic credentials when we have them, anonymously otherwise — and reads `token`
//!    (or `access_token`) and `expires_in` (60 s when absent). With a credential, the
//!    OAuth2 POST comes first: `grant_type=password` for a password, `refresh_token` for
//!    an identity token (`docker login` to an OAuth registry) or for the refresh token the
//!    service handed out earlier in this run (kept in memory per host); the GET with Basic
//!    is the fallback when the service has no POST flow (404/405, 400 such as
//!    `unsupported_grant_type`, 401 to a password grant). Where credentials come from is
//!    `credentials.rs`.
//! 3. Tokens are cached per *(host, scope set)*: a push token (`pull,push` on the target,
//!    `pull` on mount sources) is not a pull token. The cache slot is an async mutex, so
//!    concurrent uploads needing the same token wait for one request instead of each
//!    asking the token service.
//! 4. A 401 in the middle of an operation makes the session re-read the challenge, merge
//!    its `scope` into its own set and ask again, once (`Session::send`).
//!
//! Credentials go only to the registry's own host and to the realm its challenge names;
//! never to an upload `Location` or redirect on another host. Tokens are [`Secret`]s: no
//! error or debug line can show them. What a token *grants* is not secret: when it is a
//! JWT (distribution's format) its `access` claim is read when it arrives, so a 401 can
//! say "asked for pull,push, got pull" instead of only "denied".

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use url::Url;

use super::challenge::{Challenge, Scopes};
use super::credentials::{Found, Keychain, Proof};
use super::error::{RedactedUrl, RegistryError, ResponseBody};
use super::Credential;
use crate::secret::Secret;

/// Token lifetime when the token service does not say (Docker token spec).
const DEFAULT_EXPIRY: Duration = Duration::from_secs(60);
/// A token this close to expiry is refreshed before use rather than after a 401.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// `client_id` of OAuth2 token requests (required by the spec, any value).
const CLIENT_ID: &str = "spaceone-publish";
/// Token responses are small JSON documents.
const TOKEN_RESPONSE_LIMIT: usize = 1024 * 1024;

/// How a registry host wants to be authenticated, from its latest challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum HostAuth {
    Anonymous,
    Basic,
    Bearer { realm: Url, service: Option<String> },
}

impl HostAuth {
    /// Picks Bearer when offered (it scopes access), else Basic; other schemes are refused.
    pub fn from_challenges(
        host: &str,
        challenges: &[Challenge],
    ) -> Result<HostAuth, RegistryError> {
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = bearer
                .param("realm")
                .ok_or_else(|| RegistryError::Challenge {
                    host: host.into(),
                    reason: "its Bearer challenge has no realm".into(),
                })?;
            let realm = Url::parse(realm).map_err(|e| RegistryError::Challenge {
                host: host.into(),
                reason: format!("its Bearer realm is not a URL ({e})"),
            })?;
            if !matches!(realm.scheme(), "https" | "http") {
                return Err(RegistryError::Challenge {
                    host: host.into(),
                    reason: format!("its Bearer realm uses the `{}` scheme", realm.scheme()),
                });
            }
            let service = bearer.param("service").map(String::from);
            return Ok(HostAuth::Bearer { realm, service });
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return Ok(HostAuth::Basic);
        }
        let offered: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(RegistryError::Challenge {
            host: host.into(),
            reason: if offered.is_empty() {
                "it answered 401 without a WWW-Authenticate challenge".into()
            } else {
                format!(
                    "it offers only {} (Basic or Bearer supported)",
                    offered.join(", ")
                )
            },
        })
    }
}

#[derive(Debug)]
struct Token {
    value: Secret,
    expires: Instant,
    /// What the token grants, read from its JWT claims when it is one.
    granted: Option<Vec<String>>,
    /// An OAuth2 refresh token that came with it.
    refresh: Option<Secret>,
}

impl Token {
    fn fresh(&self) -> bool {
        Instant::now() + EXPIRY_MARGIN < self.expires
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// Credentials and cached tokens, shared by every session of a `Client`.
pub(super) struct Auth {
    keychain: Keychain,
    tokens: Mutex<HashMap<String, Slot>>,
    /// OAuth2 refresh tokens handed out in this run, per host (never written anywhere).
    refresh: Mutex<HashMap<String, Secret>>,
    /// Tokens obtained and not yet announced for masking (see [`Auth::take_obtained`]).
    obtained: Mutex<Vec<Secret>>,
}

/// What an OAuth2 POST is made with.
enum Grant<'a> {
    Refresh(&'a Secret),
    Password(&'a Secret),
}

/// How the OAuth2 POST went.
enum Posted {
    Token(Token),
    /// The service has no POST flow (404/405, 400): use GET.
    Unsupported,
    /// 401/403 to the grant.
    Refused(RegistryError),
}

/// Where and how to ask the token service.
pub(super) struct TokenRequest<'a> {
    pub http: &'a reqwest::Client,
    pub host: &'a str,
    pub realm: &'a Url,
    pub service: Option<&'a str>,
    pub scopes: &'a Scopes,
}

impl Auth {
    pub fn new(
        credentials: Vec<Credential>,
        ci_credentials: Vec<Credential>,
        docker_config: Option<PathBuf>,
        auth_files: Vec<PathBuf>,
        repository: Option<String>,
    ) -> Auth {
        Auth {
            keychain: Keychain::new(
                credentials,
                ci_credentials,
                docker_config,
                auth_files,
                repository,
            ),
            tokens: Mutex::new(HashMap::new()),
            refresh: Mutex::new(HashMap::new()),
            obtained: Mutex::new(Vec::new()),
        }
    }

    /// Consults the credential files and helpers for `host` (once per host).
    pub async fn load(&self, host: &str) {
        self.keychain.load(host).await;
    }

    /// The credential for a registry host, if any source has one.
    pub fn credential(&self, host: &str) -> Option<Arc<Found>> {
        self.keychain.get(host)
    }

    /// `Authorization: Basic …` for `host`, when we have a password for it (an identity
    /// token is for the token service only).
    pub fn basic(&self, host: &str) -> Option<HeaderValue> {
        let c = self.credential(host)?;
        match &c.proof {
            Proof::Password(password) => basic_header(&c.username, password),
            Proof::IdentityToken(_) => None,
        }
    }

    /// `Authorization: Bearer …` for the request's host and scopes, from the cache or a
    /// fresh token, with the scopes that token grants (when readable).
    pub async fn bearer(&self, req: &TokenRequest<'_>) -> Result<Bearer, RegistryError> {
        let slot = self.slot(req.host, req.scopes);
        let mut guard = slot.lock().await;
        if let Some(token) = guard.as_ref().filter(|t| t.fresh()) {
            return header_for(token, req.realm);
        }
        let token = self.fetch(req).await?;
        self.obtained
            .lock()
            .expect("obtained lock")
            .push(token.value.clone());
        let bearer = header_for(&token, req.realm)?;
        *guard = Some(token);
        Ok(bearer)
    }

    /// Tokens obtained since the last call, so the CI can mask them in its logs. They are
    /// `Secret`s and never printed; masking is the second line of defence.
    pub fn take_obtained(&self) -> Vec<Secret> {
        std::mem::take(&mut *self.obtained.lock().expect("obtained lock"))
    }

    /// Drops the cached token for `(host, scopes)`, after a 401 showed it is not enough.
    pub fn forget(&self, host: &str, scopes: &Scopes) {
        let slot = self.slot(host, scopes);
        // A slot locked right now is being refreshed by someone else: nothing to drop.
        if let Ok(mut guard) = slot.try_lock() {
            *guard = None;
        };
    }

    fn slot(&self, host: &str, scopes: &Scopes) -> Slot {
        let key = format!("{host} {}", scopes.key());
        let mut tokens = self.tokens.lock().expect("token cache lock");
        tokens.entry(key).or_default().clone()
    }

    /// Asks the token service. With a credential, the OAuth2 POST comes first:
    /// `grant_type=refresh_token` with an identity token (or with the refresh token this
    /// run was handed earlier for the host), `grant_type=password` with a password. A
    /// service without the POST flow — 404/405, 400 (`unsupported_grant_type`, ACR), or a 401
    /// to a password grant (Artifactory; containerd falls back there too) — gets the GET
    /// with Basic credentials instead. No credential: an anonymous GET.
    async fn fetch(&self, req: &TokenRequest<'_>) -> Result<Token, RegistryError> {
        let credential = self.credential(req.host);
        let Some(c) = credential.as_deref() else {
            return self.fetch_get(req, None).await;
        };
        if let Some(refresh) = self.refresh_token(req.host) {
            match self.post(req, c, Grant::Refresh(&refresh)).await? {
                Posted::Token(token) => return Ok(self.keep_refresh(req.host, token)),
                // A refresh token from this run that stopped working: forget it and use
                // the credential itself.
                Posted::Unsupported | Posted::Refused(_) => self.drop_refresh(req.host),
            }
        }
        let grant = match &c.proof {
            Proof::IdentityToken(token) => Grant::Refresh(token),
            Proof::Password(password) => Grant::Password(password),
        };
        let password_grant = matches!(grant, Grant::Password(_));
        match self.post(req, c, grant).await? {
            Posted::Token(token) => Ok(self.keep_refresh(req.host, token)),
            Posted::Unsupported => self.fetch_get(req, Some(c)).await,
            Posted::Refused(_) if password_grant => self.fetch_get(req, Some(c)).await,
            Posted::Refused(err) => Err(err),
        }
    }

    /// The OAuth2 POST: form-encoded, one space-separated `scope`, our `client_id`.
    async fn post(
        &self,
        req: &TokenRequest<'_>,
        credential: &Found,
        grant: Grant<'_>,
    ) -> Result<Posted, RegistryError> {
        let mut form = vec![("client_id", CLIENT_ID.to_string())];
        match grant {
            Grant::Refresh(token) => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", token.expose().to_string()));
            }
            Grant::Password(password) => {
                form.push(("grant_type", "password".into()));
                form.push(("username", credential.username.clone()));
                form.push(("password", password.expose().to_string()));
            }
        }
        if let Some(service) = req.service {
            form.push(("service", service.to_string()));
        }
        form.push(("scope", req.scopes.to_strings().join(" ")));
        let response = req
            .http
            .post(req.realm.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| RegistryError::transport(&Method::POST, req.realm, e))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
            return Ok(Posted::Unsupported);
        }
        if status == StatusCode::BAD_REQUEST {
            // `unsupported_grant_type` says it outright; ACR answers other 400s to a POST
            // it does not support (containerd falls back on any 400 too).
            return Ok(Posted::Unsupported);
        }
        match self
            .token_from(req, &Method::POST, req.realm, response, Some(credential))
            .await
        {
            Ok(token) => Ok(Posted::Token(token)),
            Err(err @ RegistryError::TokenDenied { .. }) => Ok(Posted::Refused(err)),
            Err(err) => Err(err),
        }
    }

    /// `GET <realm>?service=…&scope=…`, with Basic credentials when there are some.
    async fn fetch_get(
        &self,
        req: &TokenRequest<'_>,
        credential: Option<&Found>,
    ) -> Result<Token, RegistryError> {
        let mut url = req.realm.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = req.service {
                query.append_pair("service", service);
            }
            for scope in req.scopes.to_strings() {
                query.append_pair("scope", &scope);
            }
        }
        let mut builder = req.http.get(url.clone());
        if let Some(c) = credential {
            let secret = match &c.proof {
                Proof::Password(p) | Proof::IdentityToken(p) => p,
            };
            if let Some(header) = basic_header(&c.username, secret) {
                builder = builder.header(reqwest::header::AUTHORIZATION, header);
            }
        }
        let response = builder
            .send()
            .await
            .map_err(|e| RegistryError::transport(&Method::GET, &url, e))?;
        self.token_from(req, &Method::GET, &url, response, credential)
            .await
    }

    /// The refresh token the token service handed out for `host` in this run.
    fn refresh_token(&self, host: &str) -> Option<Secret> {
        self.refresh
            .lock()
            .expect("refresh lock")
            .get(host)
            .cloned()
    }

    fn drop_refresh(&self, host: &str) {
        self.refresh.lock().expect("refresh lock").remove(host);
    }

    /// Keeps the token's refresh token (if it came with one) for later scope sets.
    fn keep_refresh(&self, host: &str, mut token: Token) -> Token {
        if let Some(refresh) = token.refresh.take() {
            self.refresh
                .lock()
                .expect("refresh lock")
                .insert(host.to_string(), refresh);
        }
        token
    }

    async fn token_from(
        &self,
        req: &TokenRequest<'_>,
        method: &Method,
        url: &Url,
        response: reqwest::Response,
        credential: Option<&Found>,
    ) -> Result<Token, RegistryError> {
        let status = response.status();
        if !status.is_success() {
            let body = ResponseBody::read(method, response).await;
            let url = RedactedUrl::new(url);
            return Err(
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    RegistryError::TokenDenied {
                        url,
                        host: req.host.into(),
                        who: match credential {
                            Some(c) => format!("user `{}` (from {})", c.username, c.source),
                            None => "anonymous access".into(),
                        },
                        status,
                        body,
                    }
                } else {
                    RegistryError::TokenService { url, status, body }
                },
            );
        }
        let bytes =
            super::client::read_capped(response, method, TOKEN_RESPONSE_LIMIT, "token response")
                .await?;
        parse_token_response(&bytes).map_err(|reason| RegistryError::TokenResponse {
            url: RedactedUrl::new(url),
            reason,
        })
    }
}

fn parse_token_response(bytes: &[u8]) -> Result<Token, String> {
    #[derive(serde::Deserialize)]
    struct Response {
        token: Option<Secret>,
        access_token: Option<Secret>,
        expires_in: Option<u64>,
        refresh_token: Option<Secret>,
    }
    let r: Response =
        serde_json::from_slice(bytes).map_err(|e| format!("not the token JSON ({e})"))?;
    let value = [r.token, r.access_token]
        .into_iter()
        .flatten()
        .find(|t| !t.is_empty())
        .ok_or("neither `token` nor `access_token` is set")?;
    let lifetime = r
        .expires_in
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_EXPIRY);
    let granted = jwt_access(value.expose());
    Ok(Token {
        value,
        expires: Instant::now() + lifetime,
        granted,
        refresh: r.refresh_token.filter(|t| !t.is_empty()),
    })
}

/// A Bearer `Authorization` value and what its token grants.
pub(super) struct Bearer {
    pub header: HeaderValue,
    pub granted: Option<Vec<String>>,
}

fn header_for(token: &Token, realm: &Url) -> Result<Bearer, RegistryError> {
    let header = sensitive(&format!("Bearer {}", token.value.expose())).ok_or_else(|| {
        RegistryError::TokenResponse {
            url: RedactedUrl::new(realm),
            reason: "the token holds characters not allowed in a header".into(),
        }
    })?;
    Ok(Bearer {
        header,
        granted: token.granted.clone(),
    })
}

fn basic_header(username: &str, secret: &Secret) -> Option<HeaderValue> {
    let raw = format!("{username}:{}", secret.expose());
    let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
    sensitive(&format!("Basic {encoded}"))
}

fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_str(value).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// The `access` claim of a JWT (`[{type,name,actions}]`) as scope strings; `None` when the
/// token is not a readable JWT. The signature is not checked: this is for messages only.
fn jwt_access(token: &str) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Claims {
        #[serde(default)]
        access: Vec<Access>,
    }
    #[derive(serde::Deserialize)]
    struct Access {
        #[serde(rename = "type")]
        kind: String,
        name: String,
        #[serde(default)]
        actions: Vec<String>,
    }
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    Some(
        claims
            .access
            .into_iter()
            .map(|a| format!("{}:{}:{}", a.kind, a.name, a.actions.join(",")))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::challenge::parse;

    #[test]
    fn host_auth_prefers_bearer_and_explains_refusals() {
        let pick = |h: &str| HostAuth::from_challenges("reg", &parse(h).unwrap());
        assert_eq!(pick(r#"Basic realm="x""#).unwrap(), HostAuth::Basic);
        assert_eq!(
            pick(r#"Basic realm="x", Bearer realm="https://auth/token",service="reg""#).unwrap(),
            HostAuth::Bearer {
                realm: Url::parse("https://auth/token").unwrap(),
                service: Some("reg".into())
            }
        );
        for (header, reason) in [
            ("Bearer service=x", "no realm"),
            (r#"Bearer realm="/relative""#, "not a URL"),
            (r#"Bearer realm="ftp://x/""#, "`ftp` scheme"),
            ("Negotiate abc==", "only negotiate"),
            ("", "without a WWW-Authenticate"),
        ] {
            let err = pick(header).unwrap_err().to_string();
            assert!(err.contains(reason), "{header}: {err}");
        }
    }

    #[test]
    fn token_responses() {
        let t = parse_token_response(br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(t.value.expose(), "abc");
        assert!(t.expires > Instant::now() + Duration::from_secs(290));
        assert!(t.refresh.is_none());
        let t = parse_token_response(br#"{"access_token":"a","refresh_token":"r"}"#).unwrap();
        assert_eq!(
            t.refresh.map(|r| r.expose().to_string()).as_deref(),
            Some("r")
        );
        let t = parse_token_response(br#"{"token":"","access_token":"def"}"#).unwrap();
        assert_eq!(t.value.expose(), "def");
        assert!(t.expires <= Instant::now() + DEFAULT_EXPIRY);
        assert!(parse_token_response(br#"{"expires_in":300}"#)
            .unwrap_err()
            .contains("neither"));
        assert!(parse_token_response(b"<html>")
            .unwrap_err()
            .contains("not the token JSON"));
    }

    #[test]
    fn granted_scopes_come_from_the_jwt_access_claim() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"iss":"x","access":[{"type":"repository","name":"a/b","actions":["pull"]}]}"#)
        );
        assert_eq!(
            jwt_access(&jwt),
            Some(vec!["repository:a/b:pull".to_string()])
        );
        assert_eq!(
            jwt_access(&format!("{}.{}.s", b64("{}"), b64("{}"))),
            Some(vec![])
        );
        assert_eq!(jwt_access("opaque-token"), None);
    }

    #[test]
    fn basic_header_is_sensitive_and_matches_host_aliases() {
        let auth = Auth::new(
            vec![Credential {
                registry: "docker.io".into(),
                username: "u".into(),
                password: Secret::new("p"),
            }],
            Vec::new(),
            None,
            Vec::new(),
            None,
        );
        let h = auth.basic("registry-1.docker.io").unwrap();
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Basic dTpw");
        assert!(auth.basic("ghcr.io").is_none());
    }
}

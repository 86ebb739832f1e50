//! A minimal Docker token service for the live tests, so Bearer auth is exercised against
//! the real registry rather than a mock of it.
//!
//! `GET /token?service=…&scope=…` answers a JWT signed (RS256, via the `openssl` CLI) with
//! a self-signed certificate that the registry trusts (`rootcertbundle`), carried in the
//! `x5c` header. Policy: `alice`/`secret` gets exactly the actions she asks for; anonymous
//! callers get only `pull`; nobody gets anything on `test/secret*`; a wrong password gets
//! 401. Like real token services it grants
//! the *intersection* silently. Every request is recorded for assertions.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::harness::{openssl, TOKEN_ISSUER};

pub const USER: &str = "alice";
pub const PASSWORD: &str = "secret";
/// Repositories nobody is granted anything on.
pub const FORBIDDEN_PREFIX: &str = "test/secret";

#[derive(Clone, Debug)]
pub struct TokenRequestSeen {
    pub user: Option<String>,
    pub scopes: Vec<String>,
}

pub struct TokenServer {
    pub port: u16,
    pub cert: PathBuf,
    pub seen: Arc<Mutex<Vec<TokenRequestSeen>>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TokenServer {
    pub async fn start() -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("token.key");
        let cert = dir.path().join("token.pem");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=token",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        let der = openssl(&["x509", "-in", cert.to_str().unwrap(), "-outform", "DER"]);
        let x5c = base64::engine::general_purpose::STANDARD.encode(der);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let (key, x5c, seen) = (key.clone(), x5c.clone(), seen2.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let (status, body) = answer(&head, &key, &x5c, &seen).await;
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(response.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        TokenServer {
            port,
            cert,
            seen,
            _dir: dir,
            task,
        }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn seen(&self) -> Vec<TokenRequestSeen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    head: &str,
    key: &std::path::Path,
    x5c: &str,
    seen: &Mutex<Vec<TokenRequestSeen>>,
) -> (&'static str, String) {
    if head.starts_with("POST ") {
        // GET-only, like GCR: the client falls back from the OAuth2 POST.
        return ("404 Not Found", "{}".into());
    }
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let url = url::Url::parse(&format!("http://x{target}")).unwrap();
    let scopes: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .collect();
    let basic = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    });
    let user = match basic.as_deref().and_then(|v| v.strip_prefix("Basic ")) {
        None => None,
        Some(b64) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            let raw = String::from_utf8_lossy(&raw).into_owned();
            if raw != format!("{USER}:{PASSWORD}") {
                seen.lock().unwrap().push(TokenRequestSeen {
                    user: Some("(bad)".into()),
                    scopes,
                });
                return (
                    "401 Unauthorized",
                    r#"{"details":"incorrect username or password"}"#.into(),
                );
            }
            Some(USER.to_string())
        }
    };
    seen.lock().unwrap().push(TokenRequestSeen {
        user: user.clone(),
        scopes: scopes.clone(),
    });
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let (kind, rest) = s.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| user.is_some() || *a == "pull")
                .filter(|_| !name.starts_with(FORBIDDEN_PREFIX))
                .collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER,
        "sub": user.clone().unwrap_or_default(),
        "aud": super::harness::TOKEN_SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{now}-{}", scopes.join(" ").len()),
        "access": access,
    });
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    let key = key.to_path_buf();
    let input = signing_input.clone();
    let signature = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input");
        std::fs::write(&path, input).unwrap();
        openssl(&[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            path.to_str().unwrap(),
        ])
    })
    .await
    .unwrap();
    let jwt = format!(
        "{signing_input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
    );
    (
        "200 OK",
        serde_json::json!({"token": jwt, "expires_in": 300}).to_string(),
    )
}

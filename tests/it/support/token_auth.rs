//! [`TokenRegistry`]: the real `docker-registry` with `auth: token`, and the token
//! service it trusts ([`TokenServer`]), written for the tests.
//!
//! The token service signs JWTs (RS256, with the system's `openssl`) under a throw-away
//! certificate; the registry verifies them through its `rootcertbundle` — real Bearer
//! auth, no mock of the registry side. Policy, like real services, grants the
//! *intersection* of what is asked and what is allowed, silently:
//!
//! - [`USER`]/[`PASSWORD`] (Basic on `GET /token`, or OAuth2 `POST /token` with
//!   `grant_type=password`), or the refresh token [`REFRESH_TOKEN`] (`POST`,
//!   `grant_type=refresh_token`), get every action they ask for; the password grant
//!   hands out [`REFRESH_TOKEN`] along with the access token;
//! - anonymous callers get `pull` only; nobody gets anything on `secret/*`;
//! - a wrong password or refresh token gets 401.
//!
//! [`TokenServer::set_post`] makes the `POST` flow answer 404 or 400
//! `unsupported_grant_type`, as services without OAuth2 do. Every request is recorded
//! ([`TokenServer::seen`], with its [`Flow`]). The server runs on its own
//! threads, so sync and async tests can both use it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use tempfile::TempDir;

use super::http::http_get;
use super::process::{free_port, poll, read_lossy, run_tool, Daemon};

pub const USER: &str = "alice";
pub const PASSWORD: &str = "wonderland-pw";
pub const REFRESH_TOKEN: &str = "alice-refresh-token-4711";
/// Repositories under this prefix are granted nothing.
pub const FORBIDDEN_PREFIX: &str = "secret/";
/// A second account, like another Docker Hub organisation's: [`BOB`] may push and pull
/// only under [`BOB_PREFIX`], and nobody else may push there.
pub const BOB: &str = "bob";
pub const BOB_PASSWORD: &str = "builder-pw";
pub const BOB_PREFIX: &str = "pyengine/";
const SERVICE: &str = "spaceone-publish-test-registry";
const ISSUER: &str = "spaceone-publish-test-issuer";

/// How the token service answers `POST /token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PostMode {
    /// OAuth2 password and refresh_token grants.
    OAuth2 = 0,
    /// 404, like a service that only knows `GET`.
    NotFound = 1,
    /// 400 `{"error":"unsupported_grant_type"}`.
    UnsupportedGrant = 2,
}

/// Which flow a token request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Get,
    PostPassword,
    PostRefresh,
    /// A POST the service refused as unsupported (404 or 400).
    PostUnsupported,
    /// A POST with another or no grant type.
    PostOther,
}

/// One request the token service answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    pub flow: Flow,
    /// `alice`, `(refresh)alice`, `(bad)` or `None` (anonymous).
    pub user: Option<String>,
    pub scopes: Vec<String>,
}

pub struct TokenServer {
    port: u16,
    cert: PathBuf,
    seen: Arc<Mutex<Vec<TokenRequest>>>,
    post: Arc<AtomicU8>,
    /// Every token handed out, so tests can check none leaks into output.
    issued: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    _dir: TempDir,
}

impl TokenServer {
    pub fn start() -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("token.key");
        let cert = dir.path().join("token.pem");
        run_tool(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=token",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        );
        let der = run_tool(
            Command::new("openssl")
                .args(["x509", "-outform", "DER", "-in"])
                .arg(&cert),
        )
        .stdout;
        let x5c = STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let post = Arc::new(AtomicU8::new(PostMode::OAuth2 as u8));
        {
            let (seen, issued, stop, post) =
                (seen.clone(), issued.clone(), stop.clone(), post.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (key, x5c, seen, issued) =
                        (key.clone(), x5c.clone(), seen.clone(), issued.clone());
                    let mode = post.load(Ordering::SeqCst);
                    thread::spawn(move || serve(conn, &key, &x5c, &seen, &issued, mode));
                }
            });
        }
        TokenServer {
            port,
            cert,
            seen,
            post,
            issued,
            stop,
            _dir: dir,
        }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn seen(&self) -> Vec<TokenRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// How requests from now on to `POST /token` are answered.
    pub fn set_post(&self, mode: PostMode) {
        self.post.store(mode as u8, Ordering::SeqCst);
    }

    /// How many requests since `mark` (an index into [`TokenServer::seen`]) used `flow`.
    pub fn count(&self, mark: usize, flow: Flow) -> usize {
        self.seen()[mark..]
            .iter()
            .filter(|r| r.flow == flow)
            .count()
    }

    pub fn issued(&self) -> Vec<String> {
        self.issued.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
    }
}

fn serve(
    conn: TcpStream,
    key: &Path,
    x5c: &str,
    seen: &Mutex<Vec<TokenRequest>>,
    issued: &Mutex<Vec<String>>,
    post_mode: u8,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("/");
    let url = url::Url::parse(&format!("http://x{target}")).unwrap();
    let (status, answer) = if method == "POST" {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let scopes: Vec<String> = get("scope")
            .map(|s| s.split(' ').map(String::from).collect())
            .unwrap_or_default();
        let grant_type = get("grant_type").unwrap_or_default();
        let (flow, user) = if post_mode != PostMode::OAuth2 as u8 {
            (Flow::PostUnsupported, None)
        } else if grant_type == "refresh_token" {
            let ok = get("refresh_token").as_deref() == Some(REFRESH_TOKEN);
            (
                Flow::PostRefresh,
                Some(if ok { "(refresh)alice" } else { "(bad)" }),
            )
        } else if grant_type == "password" {
            let login = (get("username"), get("password"));
            let user = match (login.0.as_deref(), login.1.as_deref()) {
                (Some(USER), Some(PASSWORD)) => USER,
                (Some(BOB), Some(BOB_PASSWORD)) => BOB,
                _ => "(bad)",
            };
            (Flow::PostPassword, Some(user))
        } else {
            (Flow::PostOther, Some("(bad)"))
        };
        seen.lock().unwrap().push(TokenRequest {
            method,
            flow,
            user: user.map(String::from),
            scopes: scopes.clone(),
        });
        if post_mode == PostMode::NotFound as u8 {
            ("404 Not Found", r#"{"details":"not found"}"#.into())
        } else if post_mode == PostMode::UnsupportedGrant as u8 {
            (
                "400 Bad Request",
                r#"{"error":"unsupported_grant_type"}"#.into(),
            )
        } else if user == Some("(bad)") {
            unauthorized()
        } else {
            // Only alice gets a refresh token: a refresh grant always means alice.
            let refresh =
                (flow == Flow::PostPassword && user == Some(USER)).then_some(REFRESH_TOKEN);
            let who = if user == Some(BOB) { BOB } else { USER };
            grant(
                Some(who),
                &scopes,
                key,
                x5c,
                issued,
                "access_token",
                refresh,
            )
        }
    } else {
        let scopes: Vec<String> = url
            .query_pairs()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .collect();
        let basic = header("authorization").and_then(|v| {
            let b64 = v.strip_prefix("Basic ")?.to_string();
            String::from_utf8(STANDARD.decode(b64).ok()?).ok()
        });
        let user = match basic.as_deref() {
            None => None,
            Some(raw) if raw == format!("{USER}:{PASSWORD}") => Some(USER.to_string()),
            Some(raw) if raw == format!("{BOB}:{BOB_PASSWORD}") => Some(BOB.to_string()),
            Some(_) => Some("(bad)".to_string()),
        };
        seen.lock().unwrap().push(TokenRequest {
            method,
            flow: Flow::Get,
            user: user.clone(),
            scopes: scopes.clone(),
        });
        match user.as_deref() {
            Some("(bad)") => unauthorized(),
            u => grant(u, &scopes, key, x5c, issued, "token", None),
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    );
    let mut conn = conn;
    let _ = conn.write_all(response.as_bytes());
}

fn unauthorized() -> (&'static str, String) {
    (
        "401 Unauthorized",
        r#"{"details":"incorrect username or password"}"#.into(),
    )
}

fn grant(
    user: Option<&str>,
    scopes: &[String],
    key: &Path,
    x5c: &str,
    issued: &Mutex<Vec<String>>,
    field: &str,
    refresh_token: Option<&str>,
) -> (&'static str, String) {
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let (kind, rest) = s.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| user.is_some() || *a == "pull")
                .filter(|_| !name.starts_with(FORBIDDEN_PREFIX))
                .filter(|a| match user {
                    Some(BOB) => name.starts_with(BOB_PREFIX),
                    _ => *a == "pull" || !name.starts_with(BOB_PREFIX),
                })
                .collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user.unwrap_or(""), "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("{now}-{}", issued.lock().unwrap().len()),
        "access": access,
    });
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let b64 = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())
        .unwrap();
    let signature = child.wait_with_output().unwrap().stdout;
    let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    issued.lock().unwrap().push(jwt.clone());
    let mut answer = serde_json::json!({ field: jwt, "expires_in": 300 });
    if let Some(refresh) = refresh_token {
        answer["refresh_token"] = refresh.into();
    }
    ("200 OK", answer.to_string())
}

/// A `docker-registry` with `auth: token` trusting a [`TokenServer`]. Anonymous `/v2/`
/// gets 401 with a Bearer challenge naming the token service.
pub struct TokenRegistry {
    // Drop order: the registry stops before its directory goes.
    daemon: Daemon,
    pub tokens: TokenServer,
    port: u16,
    log_path: PathBuf,
    dir: TempDir,
}

impl TokenRegistry {
    pub fn start() -> TokenRegistry {
        let tokens = TokenServer::start();
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("registry.log");
        for _ in 0..5 {
            let port = free_port();
            let config = serde_json::json!({
                "version": 0.1,
                "log": { "level": "info", "formatter": "text", "accesslog": { "disabled": false } },
                "storage": {
                    "filesystem": { "rootdirectory": dir.path().join("storage") },
                    "maintenance": { "uploadpurging": { "enabled": false } },
                },
                "http": { "addr": format!("127.0.0.1:{port}"), "secret": "token-test-secret" },
                "auth": { "token": {
                    "realm": tokens.realm(), "service": SERVICE, "issuer": ISSUER,
                    "rootcertbundle": tokens.cert,
                }},
            });
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config.to_string()).unwrap();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut daemon = Daemon::spawn(
                "docker-registry",
                Command::new("docker-registry")
                    .arg("serve")
                    .arg(&config_path)
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().unwrap())
                    .stderr(log),
            );
            let up = poll(Duration::from_secs(20), Duration::from_millis(20), || {
                let text = read_lossy(&log_path);
                if daemon.exited().is_some() {
                    return Some(false);
                }
                if !text.contains(&format!("listening on 127.0.0.1:{port}")) {
                    return None;
                }
                match http_get(&format!("http://127.0.0.1:{port}/v2/"), None, None) {
                    Ok(r) if r.status == 401 => Some(true),
                    _ => None,
                }
            });
            match up {
                Some(true) => {
                    return TokenRegistry {
                        daemon,
                        tokens,
                        port,
                        log_path,
                        dir,
                    }
                }
                Some(false) if read_lossy(&log_path).contains("address already in use") => {}
                _ => panic!(
                    "token-auth docker-registry did not start\n--- log ---\n{}",
                    read_lossy(&log_path)
                ),
            }
        }
        panic!("token-auth docker-registry: no free port after 5 attempts");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

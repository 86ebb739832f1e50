//! [`Registry`]: a real CNCF distribution registry (`docker-registry serve`, Debian's
//! package) on a random loopback port, with its own temp storage, config and log.
//!
//! Start-up and the free-port race: we bind 127.0.0.1:0 to learn a free port, drop the
//! socket and start the registry on it. Anything may grab the port in between (another
//! fixture, an outgoing connection's ephemeral port), so the registry is "up" only when
//! its own log says `listening on 127.0.0.1:PORT` (printed after a successful bind) *and*
//! `GET /v2/` answers; if it exits with "address already in use" we retry on a new port.

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::http::{http_get, HttpResponse};
use super::process::{free_port, poll, read_lossy, Daemon};
use super::tls::{make_tls, write_htpasswd, TlsFiles};

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running registry. Dropping it stops the process (by PID) and deletes its storage.
pub struct Registry {
    // Field order is drop order: the process stops before its directory is removed.
    daemon: Daemon,
    port: u16,
    tls: Option<TlsFiles>,
    creds: Option<(String, String)>,
    log_path: PathBuf,
    dir: TempDir,
}

/// What one start attempt came to.
enum Started {
    Up(Daemon),
    PortTaken,
}

impl Registry {
    /// Plain HTTP, anonymous push and pull.
    pub fn plain() -> Registry {
        Registry::start(tempfile::tempdir().unwrap(), None, None)
    }

    /// HTTPS with a throw-away CA ([`Registry::ca_cert_path`]) and `auth: htpasswd` with
    /// one bcrypt user: anonymous requests get 401 with a Basic challenge.
    pub fn tls_htpasswd(user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let tls = make_tls(dir.path());
        write_htpasswd(&dir.path().join("htpasswd"), user, password);
        Registry::start(
            dir,
            Some(tls),
            Some((user.to_string(), password.to_string())),
        )
    }

    fn start(dir: TempDir, tls: Option<TlsFiles>, creds: Option<(String, String)>) -> Registry {
        let log_path = dir.path().join("registry.log");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let config = write_config(dir.path(), port, tls.as_ref(), creds.is_some());
            let attempt = RegistryProbe {
                port,
                tls: tls.as_ref(),
                log_path: &log_path,
            };
            if let Started::Up(daemon) = attempt.launch(&config) {
                return Registry {
                    daemon,
                    port,
                    tls,
                    creds,
                    log_path,
                    dir,
                };
            }
        }
        panic!(
            "docker-registry: port still taken after {START_ATTEMPTS} attempts\n--- log ---\n{}",
            read_lossy(&log_path)
        );
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        base_url(self.port, self.tls.is_some())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host/repo:tag` for `repo_tag` = `repo:tag` (or `repo@digest`).
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{}", self.host(), repo_tag)
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The CA certificate that signed the server certificate. Panics on a plain registry.
    pub fn ca_cert_path(&self) -> &Path {
        &self
            .tls
            .as_ref()
            .expect("ca_cert_path() on a plain-HTTP registry")
            .ca_cert
    }

    /// A directory holding only `ca.crt` (skopeo `--cert-dir`, docker `certs.d` layout).
    pub fn cert_dir(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.cert_dir.as_path())
    }

    /// `(user, password)` for an htpasswd registry.
    pub fn creds(&self) -> Option<(&str, &str)> {
        self.creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The registry's own temp dir (config, storage, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where blobs and repositories are stored (`docker/registry/v2/...` below it).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The registry's log so far (start-up, errors, one access-log line per request).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// Anonymous GET of `path` (e.g. `/v2/`); panics with the log on a transport error.
    pub fn get(&self, path: &str) -> HttpResponse {
        self.get_as(path, None)
    }

    /// GET of `path` with the registry's credentials (if it has any).
    pub fn get_authenticated(&self, path: &str) -> HttpResponse {
        self.get_as(path, self.creds())
    }

    fn get_as(&self, path: &str, creds: Option<(&str, &str)>) -> HttpResponse {
        let ca = self.tls.as_ref().map(|t| t.ca_cert.as_path());
        http_get(&format!("{}{path}", self.url()), ca, creds)
            .unwrap_or_else(|e| panic!("{e}\n--- registry log ---\n{}", self.log()))
    }

    /// The tags of `repo` (empty if the repository does not exist).
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let resp = self.get_authenticated(&format!("/v2/{repo}/tags/list"));
        if resp.status == 404 {
            return Vec::new();
        }
        assert_eq!(
            resp.status,
            200,
            "tags/list for {repo}: {}\n--- log ---\n{}",
            resp.text(),
            self.log()
        );
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        let tags = body["tags"].as_array().cloned().unwrap_or_default();
        tags.iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    }
}

fn base_url(port: u16, tls: bool) -> String {
    format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" })
}

/// One start attempt on one port.
struct RegistryProbe<'a> {
    port: u16,
    tls: Option<&'a TlsFiles>,
    log_path: &'a Path,
}

impl RegistryProbe<'_> {
    /// Starts `docker-registry serve config` with a clean environment (no `REGISTRY_*`
    /// overrides from the host) and waits until it is ours and answering.
    fn launch(&self, config: &Path) -> Started {
        let log = File::create(self.log_path).unwrap();
        let mut daemon = Daemon::spawn(
            "docker-registry",
            Command::new("docker-registry")
                .arg("serve")
                .arg(config)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        let up = poll(START_TIMEOUT, Duration::from_millis(20), || {
            self.check(&mut daemon)
        });
        match up {
            Some(true) => Started::Up(daemon),
            Some(false) => Started::PortTaken,
            None => panic!(
                "docker-registry did not come up in {START_TIMEOUT:?}\n--- log ---\n{}",
                read_lossy(self.log_path)
            ),
        }
    }

    /// `Some(true)` when up, `Some(false)` when it lost the port, `None` to keep waiting.
    fn check(&self, daemon: &mut Daemon) -> Option<bool> {
        let log = read_lossy(self.log_path);
        if let Some(status) = daemon.exited() {
            if log.contains("address already in use") {
                return Some(false);
            }
            panic!("docker-registry exited during start-up ({status})\n--- log ---\n{log}");
        }
        if !log.contains(&format!("listening on 127.0.0.1:{}", self.port)) {
            return None;
        }
        let ca = self.tls.map(|t| t.ca_cert.as_path());
        let url = format!("{}/v2/", base_url(self.port, self.tls.is_some()));
        match http_get(&url, ca, None) {
            Ok(r) if r.status == 200 || r.status == 401 => Some(true),
            _ => None,
        }
    }
}

/// Writes `config.yml` (JSON is YAML) for one port and returns its path.
fn write_config(dir: &Path, port: u16, tls: Option<&TlsFiles>, htpasswd: bool) -> PathBuf {
    let mut http =
        serde_json::json!({ "addr": format!("127.0.0.1:{port}"), "secret": random_hex() });
    if let Some(t) = tls {
        http["tls"] = serde_json::json!({ "certificate": t.server_cert, "key": t.server_key });
    }
    let mut config = serde_json::json!({
        "version": 0.1,
        "log": { "level": "info", "formatter": "text", "accesslog": { "disabled": false } },
        "storage": {
            "filesystem": { "rootdirectory": dir.join("storage") },
            "delete": { "enabled": true },
            "maintenance": { "uploadpurging": { "enabled": false } },
        },
        "http": http,
        "health": { "storagedriver": { "enabled": false } },
    });
    if htpasswd {
        config["auth"] = serde_json::json!({
            "htpasswd": { "realm": "spaceone-publish-test", "path": dir.join("htpasswd") }
        });
    }
    let path = dir.join("config.yml");
    fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    path
}

/// 64 random bits as hex: the registry's HTTP secret (signs upload state).
fn random_hex() -> String {
    format!("{:016x}", RandomState::new().build_hasher().finish())
}

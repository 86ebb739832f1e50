//! Test plumbing for the live registry tests: a `docker-registry` (CNCF distribution)
//! process on a random loopback port, a byte-counting TCP proxy, the registry's access
//! log as data, certificates, and small images built with `Image`/`SealedImage`.
//!
//! The registry process is killed by its own PID when the value drops.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::oci::{
    BlobStore, Descriptor, DiffId, Digest, Image, ImageConfig, Layer, LayerOrigin, MediaType,
    Platform, SealedImage,
};

/// How the registry authenticates.
pub enum AuthMode {
    None,
    /// `htpasswd` file contents (bcrypt).
    Htpasswd(String),
    /// Token auth: realm URL and the PEM certificate tokens are signed with.
    Token {
        realm: String,
        cert: PathBuf,
    },
}

pub struct Registry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

pub const TOKEN_SERVICE: &str = "test-registry";
pub const TOKEN_ISSUER: &str = "test-issuer";

impl Registry {
    /// Starts `docker-registry serve` with filesystem storage in a temp dir.
    /// `tls` is `(certificate, key)`.
    pub fn start(auth: AuthMode, tls: Option<(&Path, &Path)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: live-test-secret\n",
            root = dir.path().join("data").display(),
        );
        if let Some((cert, key)) = tls {
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        match auth {
            AuthMode::None => {}
            AuthMode::Htpasswd(contents) => {
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, contents).unwrap();
                config += &format!(
                    "auth:\n  htpasswd:\n    realm: live-test\n    path: {}\n",
                    path.display()
                );
            }
            AuthMode::Token { realm, cert } => {
                config += &format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    \
                     issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    cert.display()
                );
            }
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("registry.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("docker-registry (apt-get install docker-registry)");
        let registry = Registry {
            child,
            port,
            _dir: dir,
            log,
        };
        registry.wait_ready();
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Requests in the access log so far (`"METHOD /path HTTP/1.1" status`).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log_text()
            .lines()
            .filter_map(LoggedRequest::parse)
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

impl LoggedRequest {
    /// Parses a combined-log line: `… "PUT /v2/a/blobs/uploads/x?… HTTP/1.1" 201 0 "" "ua"`.
    fn parse(line: &str) -> Option<LoggedRequest> {
        let start = line.find("] \"")? + 3;
        let rest = &line[start..];
        let (request, after) = rest.split_once("\" ")?;
        let mut parts = request.split(' ');
        let method = parts.next()?.to_string();
        let path = parts.next()?.to_string();
        let status = after.split(' ').next()?.parse().ok()?;
        Some(LoggedRequest {
            method,
            path,
            status,
        })
    }

    pub fn is_blob_write(&self) -> bool {
        matches!(self.method.as_str(), "PUT" | "PATCH") && self.path.contains("/blobs/uploads/")
    }
}

impl std::fmt::Display for LoggedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.split('?').next().unwrap_or("");
        let mount = if self.path.contains("mount=") {
            " (mount)"
        } else {
            ""
        };
        write!(f, "{} {}{} {}", self.method, path, mount, self.status)
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP proxy that counts bytes each way, to measure what a client really sends.
pub struct CountingProxy {
    pub port: u16,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(target_port: u16) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (up2, down2) = (up.clone(), down.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (up, down) = (up2.clone(), down2.clone());
                tokio::spawn(async move {
                    let Ok(server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, up),
                        pump(server_read, client_write, down)
                    );
                });
            }
        });
        CountingProxy {
            port,
            up,
            down,
            task,
        }
    }

    /// Bytes sent to the registry so far.
    pub fn up(&self) -> u64 {
        self.up.load(Ordering::SeqCst)
    }

    /// Bytes received from the registry so far.
    pub fn down(&self) -> u64 {
        self.down.load(Ordering::SeqCst)
    }
}

/// Copies one direction of a connection, counting as it goes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<AtomicU64>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                count.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and its key.
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_tls(dir: &Path) -> Tls {
    let p = |name: &str| dir.join(name);
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=live-test-ca",
        "-keyout",
        p("ca.key").to_str().unwrap(),
        "-out",
        p("ca.pem").to_str().unwrap(),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        p("server.key").to_str().unwrap(),
        "-out",
        p("server.csr").to_str().unwrap(),
    ]);
    std::fs::write(
        p("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-days",
        "1",
        "-in",
        p("server.csr").to_str().unwrap(),
        "-CA",
        p("ca.pem").to_str().unwrap(),
        "-CAkey",
        p("ca.key").to_str().unwrap(),
        "-CAcreateserial",
        "-extfile",
        p("ext.cnf").to_str().unwrap(),
        "-out",
        p("server.pem").to_str().unwrap(),
    ]);
    Tls {
        ca: p("ca.pem"),
        cert: p("server.pem"),
        key: p("server.key"),
    }
}

pub fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn htpasswd(user: &str, password: &str) -> String {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Deterministic, poorly compressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A gzip'd one-file layer in `store`.
pub fn layer(store: &BlobStore, name: &str, content: &[u8], origin: LayerOrigin) -> Layer {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, content).unwrap();
    let tar = tar.into_inner().unwrap();
    let diff_id = DiffId(Digest::sha256_of(&tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let stored = store.put(&gz).unwrap();
    Layer {
        descriptor: Descriptor::new(MediaType::OciLayerGzip, stored.digest, stored.size),
        diff_id,
        origin,
    }
}

/// An image of `layers` with `env` in its config, sealed into `store`.
pub fn image(store: &BlobStore, layers: Vec<Layer>, env: &str) -> SealedImage {
    let mut config = ImageConfig::scratch(&Platform::host());
    config.set_env("LIVE_TEST", env);
    let mut image = Image {
        config,
        layers: Vec::new(),
        annotations: Default::default(),
    };
    for layer in layers {
        image.add_layer(layer);
    }
    image.seal(store).unwrap()
}

#[test]
fn access_log_lines_parse() {
    let line = r#"127.0.0.1 - - [29/Apr/2026:10:00:00 +0000] "PUT /v2/a/b/blobs/uploads/1?_state=x&digest=sha256%3Aab HTTP/1.1" 201 0 "" "spaceone-publish/0.1.0""#;
    let r = LoggedRequest::parse(line).unwrap();
    assert_eq!((r.method.as_str(), r.status), ("PUT", 201));
    assert!(r.is_blob_write());
    assert_eq!(r.to_string(), "PUT /v2/a/b/blobs/uploads/1 201");
    assert!(LoggedRequest::parse("time=\"…\" level=info msg=\"listening\"").is_none());
}

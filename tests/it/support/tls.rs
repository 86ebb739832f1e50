//! Throw-away TLS material and credentials for a registry fixture, made with the system's
//! `openssl` and `htpasswd` (apache2-utils), never with our own code.
//!
//! The CA is self-signed (`CA:TRUE`, keyCertSign); the server certificate is signed by it
//! for IP 127.0.0.1 and DNS localhost, `serverAuth`, so strict verifiers (rustls/webpki,
//! Go's crypto/x509) accept it when given the CA. Keys are P-256: fast to generate.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::run_tool;

/// Paths of the generated files.
pub struct TlsFiles {
    /// The CA certificate (PEM): what a client must trust.
    pub ca_cert: PathBuf,
    /// A directory holding only `ca.crt`, in the layout skopeo's `--cert-dir` and
    /// `/etc/docker/certs.d/<host>/` expect.
    pub cert_dir: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Creates a CA and a server certificate for 127.0.0.1 under `dir/tls/`.
pub fn make_tls(dir: &Path) -> TlsFiles {
    let tls = dir.join("tls");
    let cert_dir = dir.join("certs.d");
    fs::create_dir_all(&tls).unwrap();
    fs::create_dir_all(&cert_dir).unwrap();
    let ca_key = tls.join("ca.key");
    let ca_cert = tls.join("ca.crt");
    openssl(
        &tls,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            p(&ca_key),
            "-out",
            p(&ca_cert),
            "-days",
            "3650",
            "-subj",
            "/CN=spaceone-publish test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let (server_cert, server_key) = sign_server_cert(&tls, &ca_cert, &ca_key);
    fs::copy(&ca_cert, cert_dir.join("ca.crt")).unwrap();
    TlsFiles {
        ca_cert,
        cert_dir,
        server_cert,
        server_key,
    }
}

/// A CSR for 127.0.0.1, signed by the CA with the extensions from `server.ext`.
fn sign_server_cert(tls: &Path, ca_cert: &Path, ca_key: &Path) -> (PathBuf, PathBuf) {
    let key = tls.join("server.key");
    let csr = tls.join("server.csr");
    let cert = tls.join("server.crt");
    let ext = tls.join("server.ext");
    fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        tls,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            p(&key),
            "-out",
            p(&csr),
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        tls,
        &[
            "x509",
            "-req",
            "-in",
            p(&csr),
            "-CA",
            p(ca_cert),
            "-CAkey",
            p(ca_key),
            "-CAcreateserial",
            "-out",
            p(&cert),
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            p(&ext),
        ],
    );
    (cert, key)
}

/// Writes a bcrypt htpasswd file (the only hash distribution accepts) with one user.
pub fn write_htpasswd(path: &Path, user: &str, password: &str) {
    let out = run_tool(Command::new("htpasswd").args(["-Bbn", user, password]));
    fs::write(path, &out.stdout).unwrap();
}

fn openssl(cwd: &Path, args: &[&str]) {
    run_tool(
        Command::new("openssl")
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default()),
    );
}

fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

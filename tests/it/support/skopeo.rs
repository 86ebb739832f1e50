//! Runs skopeo, the independent tool our fixtures use to push and to read back images.
//!
//! Each run is isolated from the host: a clean environment with a temp `HOME`/`TMPDIR`,
//! an empty `registries.conf`, a non-existent auth file (so no stored login is used) and
//! `--insecure-policy` (no signature policy file needed). Registry flags come from
//! [`registry_flags`]: plain HTTP needs `tls-verify=false`, TLS needs the CA directory,
//! htpasswd needs credentials.

use std::ffi::OsStr;
use std::fs;
use std::process::{Command, Output};

use super::process::run_tool;
use super::registry::Registry;

/// Which registry flags to build: `--src-*` / `--dest-*` for `copy`, plain for `inspect`.
#[derive(Clone, Copy)]
pub enum Side {
    Src,
    Dest,
    Inspect,
}

impl Side {
    fn prefix(self) -> &'static str {
        match self {
            Side::Src => "--src-",
            Side::Dest => "--dest-",
            Side::Inspect => "--",
        }
    }
}

/// TLS and credential flags for talking to `reg` from `side`.
pub fn registry_flags(reg: &Registry, side: Side) -> Vec<String> {
    let p = side.prefix();
    let mut flags = Vec::new();
    match reg.cert_dir() {
        Some(dir) => flags.push(format!("{p}cert-dir={}", dir.display())),
        None => flags.push(format!("{p}tls-verify=false")),
    }
    if let Some((user, password)) = reg.creds() {
        flags.push(format!("{p}creds={user}:{password}"));
    }
    flags
}

/// Runs `skopeo --insecure-policy <args>`; panics with its output on failure.
pub fn skopeo<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let home = tempfile::tempdir().unwrap();
    let registries_conf = home.path().join("registries.conf");
    fs::write(&registries_conf, "").unwrap();
    run_tool(
        Command::new("skopeo")
            .arg("--insecure-policy")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("TMPDIR", home.path())
            .env("REGISTRY_AUTH_FILE", home.path().join("no-auth.json"))
            .env("CONTAINERS_REGISTRIES_CONF", &registries_conf),
    )
}

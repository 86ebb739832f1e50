//! Where credentials for a registry host come from, in one documented order.
//!
//! 1. [`RegistryOptions::credentials`](super::RegistryOptions): the explicit inputs
//!    (`registry-username`/`registry-password`);
//! 2. Docker's `config.json` in `docker_config`: `credHelpers[host]`, else `credsStore`
//!    (both by running `docker-credential-<name> get`), else `auths` (`auth` =
//!    base64 `user:password`, or `username`/`password`, or `identitytoken`). Docker Hub
//!    is found under any of its names, `https://index.docker.io/v1/` included;
//! 3. each podman/skopeo `auth.json` in `auth_files`, same `auths` format;
//! 4. [`RegistryOptions::ci_credentials`](super::RegistryOptions): the CI's own
//!    (`CI_REGISTRY_*` / `CI_JOB_TOKEN` for `CI_REGISTRY`, `github-token` for ghcr.io),
//!    last, so a `docker login` done earlier in the job wins over the job's defaults.
//!
//! The first source that knows the host wins. Files and helpers are consulted once per
//! host, when the client first talks to it ([`Keychain::load`]); lookups afterwards are
//! plain reads. An identity token (docker login to an OAuth registry, or a helper that
//! answers with user `<token>`) is a refresh token for the token service, never sent to
//! the registry as Basic credentials.
//!
//! Nothing here reads the environment: the paths arrive in the options. Secrets stay
//! [`Secret`]s; a malformed file is skipped with a note, never printed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use super::Credential;
use crate::reference::is_docker_hub_host;
use crate::secret::Secret;

/// Docker Hub's key in `config.json` (docker login writes this one).
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// What proves who we are.
#[derive(Debug, Clone)]
pub(super) enum Proof {
    Password(Secret),
    /// An OAuth2 refresh token for the token service.
    IdentityToken(Secret),
}

/// Credentials found for one host, and where they came from (for debug lines: the
/// source is named, the secret never).
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub username: String,
    pub proof: Proof,
    pub source: String,
}

/// Every credential source, consulted as the module docs say.
pub(super) struct Keychain {
    explicit: Vec<Credential>,
    ci: Vec<Credential>,
    docker_config: Option<PathBuf>,
    auth_files: Vec<PathBuf>,
    /// The repository this client pushes to (no host), for namespaced `auths` keys.
    repository: Option<String>,
    /// Per normalised host: what the files and helpers said (`None`: nothing).
    loaded: Mutex<HashMap<String, Option<Arc<Found>>>>,
}

impl Keychain {
    pub fn new(
        explicit: Vec<Credential>,
        ci: Vec<Credential>,
        docker_config: Option<PathBuf>,
        auth_files: Vec<PathBuf>,
        repository: Option<String>,
    ) -> Keychain {
        Keychain {
            explicit,
            ci,
            docker_config,
            auth_files,
            repository,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the files and runs the helpers for `host`, once. Blocking work (files, a
    /// helper process) runs on a blocking thread.
    pub async fn load(&self, host: &str) {
        let key = super::normalize_host(host);
        if self.explicit.iter().any(|c| c.matches(host))
            || self
                .loaded
                .lock()
                .expect("keychain lock")
                .contains_key(&key)
        {
            return;
        }
        let docker_config = self.docker_config.clone();
        let auth_files = self.auth_files.clone();
        let repository = self.repository.clone();
        let host_owned = key.clone();
        let found = tokio::task::spawn_blocking(move || {
            from_files(
                &host_owned,
                repository.as_deref(),
                docker_config.as_deref(),
                &auth_files,
            )
        })
        .await
        .unwrap_or(None);
        self.loaded
            .lock()
            .expect("keychain lock")
            .insert(key, found.map(Arc::new));
    }

    /// The credentials for `host`: explicit ones, then files and helpers, then the CI's.
    pub fn get(&self, host: &str) -> Option<Arc<Found>> {
        let given = |list: &[Credential], source: &str| {
            list.iter().find(|c| c.matches(host)).map(|c| {
                Arc::new(Found {
                    username: c.username.clone(),
                    proof: Proof::Password(c.password.clone()),
                    source: source.into(),
                })
            })
        };
        if let Some(found) = given(&self.explicit, "the registry credentials given") {
            return Some(found);
        }
        let loaded = self
            .loaded
            .lock()
            .expect("keychain lock")
            .get(&super::normalize_host(host))
            .cloned()
            .flatten();
        loaded.or_else(|| given(&self.ci, "the CI's own registry credentials"))
    }
}

/// Docker config (helpers, store, auths), then each auth file.
fn from_files(
    host: &str,
    repository: Option<&str>,
    docker_config: Option<&Path>,
    auth_files: &[PathBuf],
) -> Option<Found> {
    if let Some(dir) = docker_config {
        let path = dir.join("config.json");
        if let Some(config) = read_json(&path) {
            if let Some(found) = from_docker_config(host, repository, &config, &path) {
                return Some(found);
            }
        }
    }
    auth_files.iter().find_map(|path| {
        let config = read_json(path)?;
        from_auths(host, repository, &config, path)
    })
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn from_docker_config(
    host: &str,
    repository: Option<&str>,
    config: &serde_json::Value,
    path: &Path,
) -> Option<Found> {
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|map| {
            map.iter()
                .find(|(k, _)| same_host(k, host))
                .and_then(|(_, v)| v.as_str())
        });
    if let Some(name) = helper {
        return run_helper(name, host);
    }
    if let Some(store) = config.get("credsStore").and_then(|s| s.as_str()) {
        if let Some(found) = run_helper(store, host) {
            return Some(found);
        }
    }
    from_auths(host, repository, config, path)
}

/// How closely a credentials key fits `repository` on `host`: `None` when it is for
/// another host or another namespace, else the number of path components it names, so
/// the most specific key wins (`docker.io/pyengine` over `docker.io`), as podman's
/// `auth.json` specifies. A URL key (`https://index.docker.io/v1/`) names only a host.
pub fn scope_fit(key: &str, host: &str, repository: Option<&str>) -> Option<usize> {
    let (url, rest) = match key.trim().split_once("://") {
        Some((_, rest)) => (true, rest),
        None => (false, key.trim()),
    };
    let (key_host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !same_host(key_host, host) {
        return None;
    }
    let wanted: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if url || wanted.is_empty() {
        return Some(1);
    }
    // No repository to compare (a pull of a base image): any key for the host will do,
    // the host's own first.
    let Some(repository) = repository else {
        return Some(0);
    };
    let repository: Vec<&str> = repository.split('/').collect();
    let fits = repository.len() >= wanted.len() && repository[..wanted.len()] == wanted[..];
    fits.then_some(1 + wanted.len())
}

/// `auths` of a docker `config.json` or a podman `auth.json`. A key is a URL
/// (`https://host/v1/`) or `host[/namespace…]`; the best fit for the repository wins.
fn from_auths(
    host: &str,
    repository: Option<&str>,
    config: &serde_json::Value,
    path: &Path,
) -> Option<Found> {
    let auths = config.get("auths")?.as_object()?;
    let (_, entry) = auths
        .iter()
        .filter_map(|(k, v)| scope_fit(k, host, repository).map(|fit| (fit, v)))
        .max_by_key(|(fit, _)| *fit)?;
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let (mut username, mut password) = (field("username"), field("password").map(String::from));
    let decoded;
    if let Some(auth) = field("auth") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        decoded = String::from_utf8(bytes).ok()?;
        let (u, p) = decoded.split_once(':')?;
        username = Some(u);
        password = Some(p.to_string());
    }
    let source = format!("{} (auths)", path.display());
    if let Some(token) = field("identitytoken") {
        return Some(Found {
            username: username.unwrap_or("<token>").to_string(),
            proof: Proof::IdentityToken(Secret::new(token)),
            source,
        });
    }
    Some(Found {
        username: username?.to_string(),
        proof: Proof::Password(Secret::new(password?)),
        source,
    })
}

/// Whether a config key names `host` (Docker Hub under any of its names).
fn same_host(key: &str, host: &str) -> bool {
    let key = super::normalize_host(key);
    let host = super::normalize_host(host);
    key == host || (is_docker_hub_host(&key) && is_docker_hub_host(&host))
}

/// `docker-credential-<name> get`, the server on stdin, JSON on stdout. A helper that
/// is missing, fails or knows nothing yields `None` (docker does the same).
fn run_helper(name: &str, host: &str) -> Option<Found> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let server = if is_docker_hub_host(&super::normalize_host(host)) {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    };
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(helper_path(&program))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(server.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret")]
        secret: Option<Secret>,
    }
    let answer: Answer = serde_json::from_slice(&out.stdout).ok()?;
    let secret = answer.secret.filter(|s| !s.is_empty())?;
    let source = format!("credential helper {program}");
    Some(if answer.username == "<token>" {
        Found {
            username: answer.username,
            proof: Proof::IdentityToken(secret),
            source,
        }
    } else {
        Found {
            username: answer.username,
            proof: Proof::Password(secret),
            source,
        }
    })
}

#[cfg(not(test))]
fn helper_path(program: &str) -> PathBuf {
    PathBuf::from(program)
}

#[cfg(test)]
thread_local! {
    /// Tests put their fake helpers here instead of changing the process's PATH.
    static HELPER_DIR: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

#[cfg(test)]
fn helper_path(program: &str) -> PathBuf {
    HELPER_DIR.with(|d| match &*d.borrow() {
        Some(dir) => dir.join(program),
        None => PathBuf::from(program),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn password(found: &Found) -> &str {
        match &found.proof {
            Proof::Password(p) => p.expose(),
            Proof::IdentityToken(_) => panic!("expected a password"),
        }
    }

    #[tokio::test]
    async fn sources_in_order_and_formats() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker");
        std::fs::create_dir(&docker).unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        write(
            &docker,
            "config.json",
            &serde_json::json!({
                "auths": {
                    DOCKER_HUB_KEY: {"auth": b64("hubuser:hubpw")},
                    "https://registry.example.com": {"username": "u2", "password": "p:2"},
                    "oauth.example.com": {"identitytoken": "refresh-me"},
                    "both.example.com": {"auth": b64("docker:first")},
                    "broken.example.com": {"auth": "%%%"},
                },
                "credHelpers": {"helped.example.com": "does-not-exist-helper"},
            })
            .to_string(),
        );
        let podman = write(
            dir.path(),
            "auth.json",
            &serde_json::json!({"auths": {
                "quay.io/org": {"auth": b64("quser:qpw")},
                "both.example.com": {"auth": b64("podman:second")},
            }})
            .to_string(),
        );
        let explicit = vec![Credential {
            registry: "ghcr.io".into(),
            username: "ci".into(),
            password: Secret::new("token"),
        }];
        let keychain = Keychain::new(explicit, vec![], Some(docker), vec![podman], None);
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("ghcr.io", Some(("ci", "token"))),
            ("registry-1.docker.io", Some(("hubuser", "hubpw"))),
            ("registry.example.com", Some(("u2", "p:2"))),
            ("quay.io", Some(("quser", "qpw"))),
            ("both.example.com", Some(("docker", "first"))),
            ("broken.example.com", None),
            ("helped.example.com", None),
            ("nowhere.example.com", None),
        ];
        for (host, expected) in cases {
            keychain.load(host).await;
            let got = keychain.get(host);
            match expected {
                None => assert!(got.is_none(), "{host}: {got:?}"),
                Some((user, pw)) => {
                    let got = got.unwrap_or_else(|| panic!("{host}: nothing found"));
                    assert_eq!((got.username.as_str(), password(&got)), (*user, *pw));
                }
            }
        }
        keychain.load("oauth.example.com").await;
        let oauth = keychain.get("oauth.example.com").unwrap();
        assert!(matches!(&oauth.proof, Proof::IdentityToken(t) if t.expose() == "refresh-me"));
        let debug = format!("{:?}", keychain.get("quay.io").unwrap());
        assert!(!debug.contains("qpw"), "{debug}");
    }

    #[test]
    fn credential_helpers_are_run() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // A helper that answers for one server only, like the real ones.
        let script = "#!/bin/sh\nread server\n\
            if [ \"$server\" = \"helped.example.com\" ]; then\n\
            echo '{\"ServerURL\":\"helped.example.com\",\"Username\":\"hu\",\"Secret\":\"hs\"}'\n\
            elif [ \"$server\" = \"tok.example.com\" ]; then\n\
            echo '{\"Username\":\"<token>\",\"Secret\":\"rt\"}'\n\
            else echo 'credentials not found in native keychain'; exit 1; fi\n";
        let helper = write(&bin, "docker-credential-sp1test", script);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let docker = dir.path().join("docker");
        std::fs::create_dir(&docker).unwrap();
        write(
            &docker,
            "config.json",
            &serde_json::json!({"credsStore": "sp1test"}).to_string(),
        );
        // Outside tests the helper is found on PATH, as docker finds it.
        let found = {
            HELPER_DIR.with(|d| *d.borrow_mut() = Some(bin.clone()));
            let a = from_files("helped.example.com", None, Some(&docker), &[]);
            let b = from_files("tok.example.com", None, Some(&docker), &[]);
            let c = from_files("other.example.com", None, Some(&docker), &[]);
            (a, b, c)
        };
        let a = found.0.expect("helper answered");
        assert_eq!((a.username.as_str(), password(&a)), ("hu", "hs"));
        assert!(a.source.contains("docker-credential-sp1test"));
        assert!(matches!(found.1.unwrap().proof, Proof::IdentityToken(_)));
        assert!(found.2.is_none());
    }
}

//! [`SpaceOne`]: launchers for the Python SpaceONE repository servers in `tests/servers/`
//! (1.x: the real service; 2.x: the real service from `../shared/vendor`, and a stand-in on
//! the real framework for what the real one cannot show), each on its own port, state dir
//! and log, pointed at a fixture [`Registry`].
//!
//! A server prints exactly one JSON line on stdout when ready:
//! `{"ready": true, "port": N, "local_repository_id": "repo-…", "pid": N}`; its logs go to
//! `<state-dir>/server.log` (framework) and `stderr.log` (fatal start-up messages), and
//! every request it receives is appended to `<state-dir>/requests.jsonl`.
//!
//! The interpreters live in `<repo>/.venvs/{v1,v2,v2real}` (override the parent with
//! `SPACEONE_VENVS`), made by `bash tests/servers/setup-venvs.sh`. The real 2.x service's
//! source is not in this repository: where its tarball is absent (a user's clone),
//! [`SpaceOne::v2_real`] returns `None` after printing why, and its tests skip.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use tempfile::TempDir;

use super::process::{describe, read_lossy, Daemon};
use super::registry::Registry;

/// How long a server may take to print its READY line (1.x imports a lot).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which server generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// spaceone-repository 1.12 (the real service).
    V1,
    /// The 2.x stand-in (real framework, tokens decoded without verification).
    V2,
    /// The real 2.x repository service (2.0.dev59), tokens decoded without verification.
    V2Real,
}

impl Generation {
    fn name(self) -> &'static str {
        match self {
            Generation::V1 => "v1",
            Generation::V2 => "v2",
            Generation::V2Real => "v2real",
        }
    }

    fn venvs() -> PathBuf {
        std::env::var_os("SPACEONE_VENVS")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venvs"))
    }

    /// Whether this generation can run here; `Err` says why not (for a skip message).
    /// Only the real 2.x service depends on files outside the repository.
    pub fn available(self) -> Result<(), String> {
        if self != Generation::V2Real {
            return Ok(());
        }
        let tarball = vendor_dir().join(V2_REAL_TARBALL);
        if self.python().is_ok() && source_root().join("spaceone/repository").is_dir() {
            return Ok(());
        }
        if tarball.exists() {
            return Err(format!(
                "{tarball} exists but {venv} is not ready: run `bash tests/servers/setup-venvs.sh`",
                tarball = tarball.display(),
                venv = Generation::venvs().join("v2real").display()
            ));
        }
        Err(format!(
            "the real SpaceONE 2.x service's source {} is not here (it is kept outside the \
             repository; set SPACEONE_VENDOR_DIR to the directory holding it, then run \
             `bash tests/servers/setup-venvs.sh`)",
            tarball.display()
        ))
    }

    /// The venv's interpreter, or the command that creates it.
    pub fn python(self) -> Result<PathBuf, String> {
        let python = Generation::venvs().join(self.name()).join("bin/python");
        if python.exists() {
            Ok(python)
        } else {
            Err(format!(
                "{} not found: create the SpaceONE test venvs with `bash tests/servers/setup-venvs.sh` \
                 (in {}), or point SPACEONE_VENVS at a directory holding v1/, v2/ and v2real/",
                python.display(),
                repo_root().display()
            ))
        }
    }

    fn script(self) -> PathBuf {
        let name = match self {
            Generation::V2Real => "v2_real",
            other => other.name(),
        };
        repo_root().join(format!("tests/servers/{name}_server.py"))
    }
}

const V2_REAL_TARBALL: &str = "cloudforet-repository-2.0.dev59.tar.gz";

/// `SPACEONE_VENDOR_DIR`, else `<repo>/../shared/vendor`.
fn vendor_dir() -> PathBuf {
    std::env::var_os("SPACEONE_VENDOR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/vendor"))
}

/// The real 2.x service's `src/`, extracted by setup-venvs.sh.
fn source_root() -> PathBuf {
    Generation::venvs().join("v2real/src")
}

/// A running SpaceONE repository server. Dropping it stops the process by PID.
pub struct SpaceOne {
    // Field order is drop order: the process stops before its state dir is removed.
    daemon: Daemon,
    generation: Generation,
    port: u16,
    local_repository_id: Option<String>,
    /// `127.0.0.1:PORT` of the Docker Hub tags-API shim (real 2.x only).
    dockerhub: Option<String>,
    state: TempDir,
}

impl SpaceOne {
    /// The 1.x server, with a `local` repository already created.
    pub fn v1(reg: &Registry) -> SpaceOne {
        SpaceOne::start(Generation::V1, reg, &[], &[])
    }

    /// The 2.x stand-in.
    pub fn v2(reg: &Registry) -> SpaceOne {
        SpaceOne::start(Generation::V2, reg, &[], &[])
    }

    /// The real 2.x service, or `None` (after printing why on stderr) where its source
    /// is not available; a test then returns early.
    pub fn v2_real(reg: &Registry) -> Option<SpaceOne> {
        SpaceOne::try_start(Generation::V2Real, reg, &[])
    }

    /// A 2.x server: the real service where it can run here, else the stand-in, for
    /// behaviour both share (the stand-in was written from the real source and matches it
    /// on the register/update/get/versions/verbs paths).
    pub fn v2_any(reg: &Registry, env: &[(&str, &str)]) -> SpaceOne {
        SpaceOne::try_start(Generation::V2Real, reg, env)
            .unwrap_or_else(|| SpaceOne::start(Generation::V2, reg, &[], env))
    }

    /// [`SpaceOne::start`], or `None` with a printed `SKIP` line when `generation` cannot
    /// run on this machine (see [`Generation::available`]).
    pub fn try_start(
        generation: Generation,
        reg: &Registry,
        env: &[(&str, &str)],
    ) -> Option<SpaceOne> {
        match generation.available() {
            Ok(()) => Some(SpaceOne::start(generation, reg, &[], env)),
            Err(why) => {
                eprintln!("SKIP (SpaceONE {}): {why}", generation.name());
                None
            }
        }
    }

    /// Starts `generation` with extra server flags (e.g. `--no-local-repository`) and
    /// environment (e.g. `SPACEONE_V2_STRICT=1`). Panics with the logs if it is not
    /// ready within [`START_TIMEOUT`].
    pub fn start(
        generation: Generation,
        reg: &Registry,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> SpaceOne {
        let python = generation.python().unwrap_or_else(|hint| panic!("{hint}"));
        let state = tempfile::tempdir().unwrap();
        let mut cmd = server_command(&python, generation, reg, state.path());
        if generation == Generation::V2Real {
            cmd.arg("--source-root").arg(source_root());
        }
        cmd.args(args).envs(env.iter().copied());
        let mut daemon = Daemon::spawn(&format!("SpaceONE {} server", generation.name()), &mut cmd);
        let ready = wait_ready(&mut daemon, &cmd, state.path());
        let port = ready["port"].as_u64().expect("READY line has a port") as u16;
        let local_repository_id = ready["local_repository_id"].as_str().map(str::to_string);
        let dockerhub = ready["dockerhub"].as_str().map(str::to_string);
        SpaceOne {
            daemon,
            generation,
            port,
            local_repository_id,
            dockerhub,
            state,
        }
    }

    /// `grpc://127.0.0.1:PORT`, the value of the `spaceone-endpoint` input.
    pub fn endpoint(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// `127.0.0.1:PORT` of the HTTPS shim the real 2.x server reads Docker Hub tags from.
    pub fn dockerhub(&self) -> &str {
        self.dockerhub
            .as_deref()
            .unwrap_or_else(|| panic!("the {:?} server has no Docker Hub shim", self.generation))
    }

    /// The id of the `local` repository the 1.x server created at start-up.
    pub fn local_repository_id(&self) -> &str {
        self.local_repository_id.as_deref().unwrap_or_else(|| {
            panic!(
                "the {:?} server reported no local repository\n--- log ---\n{}",
                self.generation,
                self.log()
            )
        })
    }

    /// Every request received so far, oldest first: objects with `method`, `service`,
    /// `params`, `unknown_fields`, `metadata_keys` and `token_claims`.
    pub fn requests(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.state.path().join("requests.jsonl")).unwrap_or_default();
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end], // a line still being written is not returned
            None => "",
        };
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("requests.jsonl: {e}: {l}")))
            .collect()
    }

    /// The requests whose method is `method` (e.g. `register`).
    pub fn requests_for(&self, method: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["method"] == method)
            .collect()
    }

    /// Everything the server logged (`stderr.log`, then `server.log`).
    pub fn log(&self) -> String {
        server_log(self.state.path())
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The server command with a clean environment; stdout piped, stderr to `stderr.log`.
fn server_command(python: &Path, generation: Generation, reg: &Registry, state: &Path) -> Command {
    let stderr = File::create(state.join("stderr.log")).unwrap();
    let mut cmd = Command::new(python);
    cmd.arg(generation.script())
        .args(["--port", "0", "--registry-url", &reg.url(), "--state-dir"])
        .arg(state)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", state)
        .env("PYTHONDONTWRITEBYTECODE", "1") // keep tests/servers free of __pycache__
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    cmd
}

/// Waits for the READY line; panics with the logs if the server exits or times out.
fn wait_ready(daemon: &mut Daemon, cmd: &Command, state: &Path) -> Value {
    let lines = spawn_line_reader(daemon);
    let deadline = Instant::now() + START_TIMEOUT;
    let fail = |why: String| -> ! {
        panic!(
            "{why}\ncommand: {}\n--- log ---\n{}",
            describe(cmd),
            server_log(state)
        )
    };
    loop {
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => match serde_json::from_str::<Value>(&line) {
                Ok(v) if v["ready"] == true => return v,
                _ => fail(format!("unexpected line on the server's stdout: {line:?}")),
            },
            // stdout closed: the process is exiting; give try_wait a moment to see it.
            Err(mpsc::RecvTimeoutError::Disconnected) => thread::sleep(Duration::from_millis(50)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(status) = daemon.exited() {
            fail(format!("server exited before it was ready ({status})"));
        }
        if Instant::now() >= deadline {
            fail(format!("server not ready after {START_TIMEOUT:?}"));
        }
    }
}

/// Sends each stdout line of the daemon through a channel (drains until EOF).
fn spawn_line_reader(daemon: &mut Daemon) -> mpsc::Receiver<String> {
    let stdout = daemon.child_mut().stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

fn server_log(state: &Path) -> String {
    format!(
        "[stderr.log]\n{}\n[server.log]\n{}",
        read_lossy(&state.join("stderr.log")),
        read_lossy(&state.join("server.log"))
    )
}

/// A well-formed but unsigned (HS256 header, junk signature) SpaceONE 2.x access token
/// for `domain` with role type `role` (e.g. `DOMAIN_ADMIN`). The 2.x stand-in decodes
/// tokens without verifying them.
pub fn jwt_v2(domain: &str, role: &str) -> String {
    let header = json!({ "alg": "HS256", "typ": "JWT" });
    let claims = json!({
        "iss": "spaceone.identity",
        "typ": "ACCESS_TOKEN",
        "own": "USER",
        "did": domain,
        "aud": "test-user@example.com",
        "rol": role,
        "iat": 1_704_067_200u64,
        "exp": 4_102_444_800u64, // 2100-01-01
        "jti": "spaceone-publish-test",
        "ver": "2.0",
    });
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let signature = URL_SAFE_NO_PAD.encode(b"not a real signature, never verified");
    format!("{}.{}.{signature}", part(&header), part(&claims))
}

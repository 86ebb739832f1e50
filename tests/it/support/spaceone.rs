//! [`SpaceOne`]: launchers for the Python SpaceONE repository servers in `tests/servers/`
//! (1.x: the real service; 2.x: a stand-in on the real framework), each on its own port,
//! state dir and log, pointed at a fixture [`Registry`].
//!
//! A server prints exactly one JSON line on stdout when ready:
//! `{"ready": true, "port": N, "local_repository_id": "repo-…", "pid": N}`; its logs go to
//! `<state-dir>/server.log` (framework) and `stderr.log` (fatal start-up messages), and
//! every request it receives is appended to `<state-dir>/requests.jsonl`.
//!
//! The interpreters live in `<repo>/.venvs/{v1,v2}` (override the parent with
//! `SPACEONE_VENVS`), made by `bash tests/servers/setup-venvs.sh`.

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
}

impl Generation {
    fn name(self) -> &'static str {
        match self {
            Generation::V1 => "v1",
            Generation::V2 => "v2",
        }
    }

    /// The venv's interpreter, or the command that creates it.
    pub fn python(self) -> Result<PathBuf, String> {
        let venvs = std::env::var_os("SPACEONE_VENVS")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venvs"));
        let python = venvs.join(self.name()).join("bin/python");
        if python.exists() {
            Ok(python)
        } else {
            Err(format!(
                "{} not found: create the SpaceONE test venvs with `bash tests/servers/setup-venvs.sh` \
                 (in {}), or point SPACEONE_VENVS at a directory holding v1/ and v2/",
                python.display(),
                repo_root().display()
            ))
        }
    }

    fn script(self) -> PathBuf {
        repo_root().join(format!("tests/servers/{}_server.py", self.name()))
    }
}

/// A running SpaceONE repository server. Dropping it stops the process by PID.
pub struct SpaceOne {
    // Field order is drop order: the process stops before its state dir is removed.
    daemon: Daemon,
    generation: Generation,
    port: u16,
    local_repository_id: Option<String>,
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
        cmd.args(args).envs(env.iter().copied());
        let mut daemon = Daemon::spawn(&format!("SpaceONE {} server", generation.name()), &mut cmd);
        let ready = wait_ready(&mut daemon, &cmd, state.path());
        let port = ready["port"].as_u64().expect("READY line has a port") as u16;
        let local_repository_id = ready["local_repository_id"].as_str().map(str::to_string);
        SpaceOne {
            daemon,
            generation,
            port,
            local_repository_id,
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

//! [`Publish`]: runs the real `spaceone-publish` binary the way a CI job does, in a
//! context directory, with a cleared environment (only `PATH` and a temp `HOME`, plus what
//! the test sets) so nothing from the host leaks in. [`Run`] is what came out; its
//! assertions print the command, the environment keys, stdout and stderr on failure.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tempfile::TempDir;

use super::process::{describe, poll};

/// Default limit for one run; a hung binary is killed and the test fails with its output.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// A configured invocation of the binary; [`Publish::run`] may be called repeatedly.
pub struct Publish {
    cwd: PathBuf,
    args: Vec<OsString>,
    env: BTreeMap<String, OsString>,
    home: TempDir,
    timeout: Duration,
    /// A program (and its arguments) the binary runs under, e.g. `setpriv …`.
    wrapper: Vec<OsString>,
}

impl Publish {
    /// Runs in `context` (the plugin's build context) with no inputs set.
    pub fn new(context: impl AsRef<Path>) -> Publish {
        Publish {
            cwd: context.as_ref().to_path_buf(),
            args: Vec::new(),
            env: BTreeMap::new(),
            home: tempfile::tempdir().unwrap(),
            timeout: RUN_TIMEOUT,
            wrapper: Vec::new(),
        }
    }

    /// Sets one environment variable for the child.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env
            .insert(key.to_string(), value.as_ref().to_os_string());
        self
    }

    /// Sets input `name` the plain way: `PUBLISH_<NAME upper-cased, '-' → '_'>`.
    pub fn input(self, name: &str, value: impl AsRef<OsStr>) -> Self {
        let key = format!("PUBLISH_{}", name.to_ascii_uppercase().replace('-', "_"));
        self.env(&key, value)
    }

    /// Sets input `name` the GitHub Actions way: `INPUT_<NAME upper-cased, hyphens kept>`.
    pub fn github_input(self, name: &str, value: impl AsRef<OsStr>) -> Self {
        let key = format!("INPUT_{}", name.to_ascii_uppercase());
        self.env(&key, value)
    }

    /// Looks like a GitHub Actions step: `GITHUB_ACTIONS=true`, and `GITHUB_OUTPUT`,
    /// `GITHUB_STEP_SUMMARY`, `GITHUB_ENV` files in the temp home (emptied before each
    /// run, read back into [`Run`]).
    pub fn github_actions(self) -> Self {
        let (output, summary, env) = (
            self.github_file("output"),
            self.github_file("summary"),
            self.github_file("env"),
        );
        self.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", output)
            .env("GITHUB_STEP_SUMMARY", summary)
            .env("GITHUB_ENV", env)
    }

    /// Appends a command-line argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Overrides [`RUN_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the binary as the last argument of `argv` (e.g. `setpriv --bounding-set=… --`).
    pub fn under(mut self, argv: &[&str]) -> Self {
        self.wrapper = argv.iter().map(OsString::from).collect();
        self
    }

    /// Starts the binary and returns at once, for tests that signal it while it runs; its
    /// stdout and stderr are piped.
    pub fn spawn(&self) -> Child {
        let mut cmd = self.command();
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", describe(&cmd)))
    }

    /// The child's `HOME` (e.g. to write `.docker/config.json` before running).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    fn github_file(&self, name: &str) -> PathBuf {
        self.home.path().join(format!("github_{name}"))
    }

    /// Runs the binary to completion (or kills it after the timeout and panics).
    pub fn run(&self) -> Run {
        if self.env.contains_key("GITHUB_ACTIONS") {
            for name in ["output", "summary", "env"] {
                fs::write(self.github_file(name), "").unwrap();
            }
        }
        let mut cmd = self.command();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", describe(&cmd)));
        let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
        let status = wait_or_kill(&mut child, self.timeout);
        let run = Run {
            status: status.map(exit_code).unwrap_or(-1),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
            command: describe(&cmd),
            cwd: self.cwd.clone(),
            env_keys: self.env_keys(),
            github_output: fs::read_to_string(self.github_file("output")).ok(),
            step_summary: fs::read_to_string(self.github_file("summary")).ok(),
        };
        if status.is_none() {
            panic!(
                "spaceone-publish killed after {:?}\n{}",
                self.timeout,
                run.report()
            );
        }
        run
    }

    fn command(&self) -> Command {
        let binary = env!("CARGO_BIN_EXE_spaceone-publish");
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(binary);
                cmd
            }
            None => Command::new(binary),
        };
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn env_keys(&self) -> Vec<String> {
        let mut keys = vec!["PATH".to_string(), "HOME".to_string()];
        keys.extend(
            self.env
                .keys()
                .filter(|k| *k != "PATH" && *k != "HOME")
                .cloned(),
        );
        keys
    }
}

/// Reads a child pipe to the end on its own thread (so neither pipe can fill and block).
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    let mut pipe = pipe.expect("piped");
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// The exit status, or `None` if the child outlived `timeout` (it is then killed by PID).
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let status = poll(timeout, Duration::from_millis(10), || {
        child.try_wait().unwrap()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// The exit code, or 128 + signal number for a child killed by a signal (shell style).
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (128 + N when killed by signal N).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for messages.
    pub command: String,
    pub cwd: PathBuf,
    /// Names (not values: they may be secrets) of the child's environment variables.
    pub env_keys: Vec<String>,
    /// `GITHUB_OUTPUT` file contents, with [`Publish::github_actions`].
    pub github_output: Option<String>,
    /// `GITHUB_STEP_SUMMARY` file contents, with [`Publish::github_actions`].
    pub step_summary: Option<String>,
}

impl Run {
    /// Panics with the full report unless the exit code is 0.
    pub fn assert_success(&self) -> &Self {
        self.assert_exit(0)
    }

    /// Panics with the full report unless the exit code is `code`.
    pub fn assert_exit(&self, code: i32) -> &Self {
        if self.status != code {
            panic!(
                "expected exit code {code}, got {}\n{}",
                self.status,
                self.report()
            );
        }
        self
    }

    /// `GITHUB_OUTPUT` parsed: `key=value` lines and `key<<DELIM` … `DELIM` blocks.
    pub fn github_outputs(&self) -> BTreeMap<String, String> {
        parse_github_file(self.github_output.as_deref().unwrap_or(""))
    }

    /// Everything needed to understand a failure.
    pub fn report(&self) -> String {
        format!(
            "command: {}\ncwd: {}\nenv keys: {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.cwd.display(),
            self.env_keys.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

/// Parses the GitHub "environment file" format used by `GITHUB_OUTPUT` and `GITHUB_ENV`.
fn parse_github_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delim)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            out.insert(key.to_string(), value.join("\n"));
        } else if let Some((key, value)) = line.split_once('=') {
            out.insert(key.to_string(), value.to_string());
        }
    }
    out
}

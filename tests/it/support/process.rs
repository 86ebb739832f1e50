//! Child processes for fixtures: a guard that stops exactly the PID it started, a runner
//! for one-shot tools that panics with their output, and polling with a deadline.
//!
//! Nothing here kills by name: a [`Daemon`] sends SIGTERM to its own PID, waits up to
//! [`Daemon::GRACE`], then SIGKILLs that same PID and reaps it.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A long-running child process that is stopped (by PID) and reaped when dropped.
pub struct Daemon {
    name: String,
    child: Child,
}

impl Daemon {
    /// How long a daemon may take to exit after SIGTERM before it is SIGKILLed.
    pub const GRACE: Duration = Duration::from_secs(3);

    /// Spawns `cmd`; `name` is used in panic messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> Daemon {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {}: {e}", describe(cmd)));
        Daemon {
            name: name.to_string(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child, e.g. to take its stdout pipe.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// `Some(status)` once the process has exited (without blocking).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name))
    }

    /// SIGTERM, a short grace period, then SIGKILL; always reaps the child.
    fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // SAFETY: plain kill(2) on the PID of a child we have not reaped yet, so the PID
        // cannot have been reused by another process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let stopped = poll(Self::GRACE, Duration::from_millis(20), || self.exited());
        if stopped.is_none() {
            let _ = self.child.kill(); // SIGKILL to the same PID
            let _ = self.child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a one-shot tool to completion; panics with the command line, exit status, stdout
/// and stderr unless it exits 0.
pub fn run_tool(cmd: &mut Command) -> Output {
    let out = try_tool(cmd);
    if !out.status.success() {
        panic!("{}", failure_report(cmd, &out));
    }
    out
}

/// Runs a one-shot tool to completion (stdin closed) and returns its output, whatever the
/// exit status. Panics only if it cannot be started.
pub fn try_tool(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(cmd)))
}

/// Multi-line explanation of a failed tool run, for panic messages.
pub fn failure_report(cmd: &Command, out: &Output) -> String {
    format!(
        "command failed: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `program arg arg …` with each part shell-quoted when needed.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| shell_quote(&s.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Calls `f` every `interval` until it returns `Some` or `timeout` has passed.
pub fn poll<T>(
    timeout: Duration,
    interval: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(interval);
    }
}

/// A loopback port that was free a moment ago. The caller's server may still lose a race
/// for it, so servers started on it must retry on "address already in use".
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// A file's text for a panic message; a missing file says so instead of failing.
pub fn read_lossy(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

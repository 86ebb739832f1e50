//! Running one command inside a rootfs: `fork`, contain, drop to the image's user, `exec`.
//! This module is the only one of the crate with `unsafe` (system calls around the child).
//!
//! What the command gets, and what it cannot reach:
//!
//! - **the rootfs as `/`**: by mount, PID, IPC and UTS namespaces and `pivot_root` where
//!   the kernel allows ([`namespaces`], with a `/proc` of the step's own), else by
//!   `chroot` without `/proc` (the host's would show every process of the machine, and a
//!   same-user process's `/proc/<pid>/root` is a way out of any chroot). Either way made
//!   to hold against root by what [`child`] does before `exec`: no capability outside
//!   Docker's default set, and neither `CAP_SYS_CHROOT` nor `CAP_MKNOD`; `no_new_privs`;
//!   no descriptor above 2; its own session.
//! - **nothing of the publisher**: the publisher is non-dumpable, so a process without
//!   `CAP_SYS_PTRACE` can neither trace it nor read `/proc/<pid>/{environ,mem,fd}`, and
//!   the command's environment is exactly the one given.
//! - **a lifetime bounded by its main process**: when that exits, everything it started,
//!   `setsid` daemons included, is killed and reaped ([`reap`]), so no one holds its
//!   output open; [`cancel`] ends it early (TERM, then KILL after two seconds).
//! - **user, group and supplementary groups** set after the chroot, in that order
//!   (`setgroups`, `setgid`, `setuid`).
//! - stdin from a heredoc or `/dev/null`; stdout and stderr are read line by line and
//!   handed to the caller as they come, in the order they arrive.
//!
//! Preparing the rootfs (devices, resolv.conf, mounts) is the caller's job, done with
//! ordinary safe code through [`Root`].

mod child;
mod namespaces;
mod reap;

pub use namespaces::{isolation, Isolation};

pub use child::NOTABLE_DROPPED;

pub use reap::{cancel, cancelled};

use std::ffi::CString;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use child::ChildSetup;

use super::rootfs::Root;

/// What to run and as whom.
pub struct Spec<'a> {
    pub root: &'a Root,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Absolute path inside the rootfs; it must exist.
    pub workdir: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub stdin: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot start `{program}` inside the image's filesystem")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("cancelled before `{program}` finished")]
    Cancelled { program: String },
    #[error("cannot make the publisher untraceable before running `{program}`")]
    Harden {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("lost track of `{program}` while it ran")]
    Wait {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// How long output already in the pipes may take to be read once the step has ended.
const DRAIN: Duration = Duration::from_secs(2);

enum Message {
    Line(Stream, String),
    Exited(io::Result<ExitStatus>),
}

/// Runs `spec`, calling `on_line` for every line of output, and returns the exit status.
pub fn run(
    spec: Spec<'_>,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<ExitStatus, SandboxError> {
    let program = spec.argv.first().cloned().unwrap_or_default();
    let spawn_err = |source| SandboxError::Spawn {
        program: program.clone(),
        source,
    };
    let mut command = Command::new(&program);
    command
        .args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    child::harden_publisher().map_err(|source| SandboxError::Harden {
        program: program.clone(),
        source,
    })?;
    let child_setup = ChildSetup {
        root_fd: spec.root.fd().as_raw_fd(),
        workdir: CString::new(spec.workdir.clone()).map_err(|e| spawn_err(e.into()))?,
        uid: spec.uid,
        gid: spec.gid,
        groups: spec.groups.iter().map(|g| *g as libc::gid_t).collect(),
        max_fd: child::max_fd(),
        namespaces: match isolation() {
            Isolation::Namespaces => Some(namespaces::Enter {
                root: CString::new(spec.root.host_path().as_os_str().as_bytes())
                    .map_err(|e| spawn_err(e.into()))?,
                proc: has_proc_dir(spec.root),
            }),
            Isolation::Chroot => None,
        },
    };
    if cancelled() {
        return Err(SandboxError::Cancelled { program });
    }
    // SAFETY: the closure runs in the forked child before exec; it only makes system calls
    // (no allocation, no locks) on data prepared above, as `pre_exec` requires.
    unsafe {
        command.pre_exec(move || child_setup.apply());
    }
    let mut child = command.spawn().map_err(spawn_err)?;
    let step = reap::begin(child.id() as i32);

    let (tx, rx) = mpsc::channel::<Message>();
    for (stream, pipe) in [
        (
            Stream::Stdout,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
        ),
        (
            Stream::Stderr,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
        ),
    ] {
        let Some(pipe) = pipe else { continue };
        let tx = tx.clone();
        // Not joined: a reader still blocked after the drain deadline ends with the process.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']).to_string();
                        if tx.send(Message::Line(stream, line)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    let writer = match (child.stdin.take(), spec.stdin) {
        (Some(mut pipe), Some(bytes)) => Some(std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })),
        _ => None,
    };
    let waiter = {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let pid = child.id() as libc::id_t;
            // SAFETY: waitid with WNOWAIT on our own child; the siginfo is a local.
            let exited = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT)
            };
            // The main process is done (or lost); whatever it started goes too, before it
            // is reaped, so its pid still names the group.
            reap::end(step);
            let status = match exited {
                0 => child.wait(),
                _ => Err(io::Error::last_os_error()),
            };
            let _ = tx.send(Message::Exited(status));
        })
    };
    drop(tx);

    let mut status = None;
    let mut deadline: Option<Instant> = None;
    loop {
        let message = match deadline {
            None => rx.recv().map_err(|_| ()),
            Some(at) => rx
                .recv_timeout(at.saturating_duration_since(Instant::now()))
                .map_err(|_| ()),
        };
        match message {
            Ok(Message::Line(stream, line)) => on_line(stream, &line),
            Ok(Message::Exited(s)) => {
                status = Some(s);
                // Every process that could write is gone; what is left is in the pipes.
                deadline = Some(Instant::now() + DRAIN);
            }
            Err(()) => break,
        }
    }
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let _ = waiter.join();
    if cancelled() {
        return Err(SandboxError::Cancelled { program });
    }
    match status {
        Some(Ok(status)) => Ok(status),
        Some(Err(source)) => Err(SandboxError::Wait { program, source }),
        None => Err(SandboxError::Wait {
            program,
            source: io::Error::other("the waiting thread ended without a status"),
        }),
    }
}

/// Whether the rootfs has a real `/proc` directory (made if missing) to mount procfs on;
/// a symlink there would aim the mount elsewhere, so then the step goes without.
fn has_proc_dir(root: &Root) -> bool {
    use rustix::fs::{self as rfs, AtFlags, FileType, Mode};
    let _ = rfs::mkdirat(root.fd(), "proc", Mode::from_raw_mode(0o555));
    rfs::statat(root.fd(), "proc", AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|s| FileType::from_raw_mode(s.st_mode as _) == FileType::Directory)
}

/// Whether this machine can execute programs of `architecture` (OCI spelling): natively,
/// or through a registered binfmt_misc emulator.
pub fn can_execute(architecture: &str, variant: Option<&str>) -> bool {
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    };
    let _ = variant;
    if architecture == host || (host == "amd64" && architecture == "386") {
        return true;
    }
    let qemu = match architecture {
        "arm64" => "aarch64",
        "amd64" => "x86_64",
        "386" => "i386",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "arm" => "arm",
        other => other,
    };
    std::path::Path::new(&format!("/proc/sys/fs/binfmt_misc/qemu-{qemu}")).exists()
}

/// A raw system call's result: -1 is the error in `errno`. Async-signal-safe, so it may run
/// between fork and exec.
fn check(r: libc::c_int) -> io::Result<()> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

//! Running one command inside a rootfs: `fork`, `chroot`, `chdir`, drop to the image's
//! user, `exec`. This is the only file of the crate with `unsafe` (the code that runs in
//! the forked child before `exec`).
//!
//! What the command gets, and what it needs from the host:
//!
//! - **chroot** into the rootfs (`CAP_SYS_CHROOT`, in Docker's default set). A chroot is
//!   not a security boundary against a root process; it gives the command the image's
//!   view of `/`, which is what a build needs.
//! - **a private mount namespace with `/proc`** when the kernel allows `unshare` (needs
//!   `CAP_SYS_ADMIN`); the mount dies with the namespace when the command ends. Without it
//!   the command runs without `/proc`, which most package installers tolerate.
//! - its **own process group**, killed (SIGKILL) when the command exits, so a daemon it
//!   started cannot outlive the step or hold its output open.
//! - **user, group and supplementary groups** set after the chroot, in that order
//!   (`setgroups`, `setgid`, `setuid`); the environment exactly as given.
//! - stdin from a heredoc or `/dev/null`; stdout and stderr are read line by line and
//!   handed to the caller as they come, in the order they arrive.
//!
//! Preparing the rootfs (devices, resolv.conf, mounts) is the caller's job, done with
//! ordinary safe code through [`Root`].

use std::ffi::CString;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;

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
    /// The rootfs's `/proc` directory, to mount procfs on when a mount namespace is allowed.
    pub proc_dir: Option<OwnedFd>,
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
    #[error("lost track of `{program}` while it ran")]
    Wait {
        program: String,
        #[source]
        source: io::Error,
    },
}

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

    let child_setup = ChildSetup {
        root_fd: spec.root.fd().as_raw_fd(),
        workdir: CString::new(spec.workdir.clone()).map_err(|e| spawn_err(e.into()))?,
        proc_target: spec
            .proc_dir
            .as_ref()
            .map(|fd| CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL")),
        uid: spec.uid,
        gid: spec.gid,
        groups: spec.groups.iter().map(|g| *g as libc::gid_t).collect(),
    };
    // SAFETY: the closure runs in the forked child before exec; it only makes system calls
    // (no allocation, no locks) on data prepared above, as `pre_exec` requires.
    unsafe {
        command.pre_exec(move || child_setup.apply());
    }
    let mut child = command.spawn().map_err(spawn_err)?;
    drop(spec.proc_dir);
    let pgid = child.id() as i32;

    let (tx, rx) = mpsc::channel::<Message>();
    let mut readers = Vec::new();
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
        readers.push(std::thread::spawn(move || {
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
        }));
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
            let status = child.wait();
            // The command is done; whatever it left running in its group goes too.
            // SAFETY: kill(2) on a process group we created; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = tx.send(Message::Exited(status));
        })
    };
    drop(tx);

    let mut status = None;
    for message in rx {
        match message {
            Message::Line(stream, line) => on_line(stream, &line),
            Message::Exited(s) => status = Some(s),
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let _ = waiter.join();
    match status {
        Some(Ok(status)) => Ok(status),
        Some(Err(source)) => Err(SandboxError::Wait { program, source }),
        None => Err(SandboxError::Wait {
            program,
            source: io::Error::other("the waiting thread ended without a status"),
        }),
    }
}

/// Data for the child, prepared before `fork` so the child only makes system calls.
struct ChildSetup {
    root_fd: i32,
    workdir: CString,
    proc_target: Option<CString>,
    uid: u32,
    gid: u32,
    groups: Vec<libc::gid_t>,
}

impl ChildSetup {
    fn apply(&self) -> io::Result<()> {
        let check = |r: libc::c_int| {
            if r == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        // SAFETY: plain system calls on valid, NUL-terminated strings and open descriptors
        // owned by the parent's `Spec`, which outlives the fork.
        unsafe {
            if let Some(target) = &self.proc_target {
                // Without CAP_SYS_ADMIN this fails (EPERM) and the command runs without /proc.
                if libc::unshare(libc::CLONE_NEWNS) == 0 {
                    let root = c"/";
                    let private = libc::mount(
                        std::ptr::null(),
                        root.as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    );
                    if private == 0 {
                        libc::mount(
                            c"proc".as_ptr(),
                            target.as_ptr(),
                            c"proc".as_ptr(),
                            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                            std::ptr::null(),
                        );
                    }
                }
            }
            check(libc::fchdir(self.root_fd))?;
            check(libc::chroot(c".".as_ptr()))?;
            check(libc::chdir(self.workdir.as_ptr()))?;
            check(libc::setsid())?;
            check(libc::setgroups(self.groups.len(), self.groups.as_ptr()))?;
            check(libc::setgid(self.gid))?;
            check(libc::setuid(self.uid))?;
        }
        Ok(())
    }
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

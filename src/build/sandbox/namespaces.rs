//! The stronger mode, where the kernel lets the publisher create namespaces (it has
//! `CAP_SYS_ADMIN`, e.g. a privileged runner or root on a VM): the step gets mount, PID,
//! IPC and UTS namespaces of its own, and keeps the host's network (it needs the
//! package index).
//!
//! In the child, before `exec` ([`enter`]): `unshare`, then `fork`, because only the
//! children of the caller enter a new PID namespace. The first process stays behind and
//! turns the second's exit status into its own; the second is PID 1 of the namespace, so
//! when it exits the kernel kills everything else the step started. It makes every mount
//! private, bind-mounts the rootfs onto itself, mounts a `/proc` of its own namespace
//! (with `sys`, `sysrq-trigger` and the other host-wide knobs read-only, as runc does) and
//! `pivot_root`s into the rootfs, detaching the old root: there is no outside left to
//! climb to. Everything in [`super::child`] (capabilities, `no_new_privs`, descriptors)
//! follows as in chroot mode, so this mode is never weaker.

use std::ffi::CString;
use std::io;
use std::sync::OnceLock;

/// What the step is isolated with, decided once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Namespaces,
    Chroot,
}

impl Isolation {
    /// As the build log says it.
    pub fn describe(self) -> &'static str {
        match self {
            Isolation::Namespaces => "namespaces",
            Isolation::Chroot => "chroot, capabilities dropped",
        }
    }
}

const FLAGS: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;

/// Paths under the step's `/proc` that reach the whole machine, made read-only.
const PROC_READ_ONLY: &[&std::ffi::CStr] = &[
    c"proc/sys",
    c"proc/sysrq-trigger",
    c"proc/irq",
    c"proc/bus",
    c"proc/fs",
    c"proc/kcore",
    c"proc/keys",
    c"proc/timer_list",
    c"proc/sched_debug",
    c"proc/latency_stats",
    c"proc/acpi",
    c"proc/scsi",
];

/// The strongest isolation this process can give: tried for real once (a child that
/// creates the namespaces and makes its mounts private, then exits).
pub fn isolation() -> Isolation {
    static CHOSEN: OnceLock<Isolation> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        // SAFETY: a fork whose child makes two system calls and exits; no memory is
        // touched after the fork.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                let ok = libc::unshare(FLAGS) == 0
                    && libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) == 0;
                libc::_exit(if ok { 0 } else { 1 });
            }
            if pid < 0 {
                return Isolation::Chroot;
            }
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) == -1
                && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
            match libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                true => Isolation::Namespaces,
                false => Isolation::Chroot,
            }
        }
    })
}

/// Data for [`enter`], prepared before `fork`.
pub struct Enter {
    /// The rootfs's host path (a bind mount and `pivot_root` need a path).
    pub root: CString,
    /// Whether the rootfs has a real `/proc` directory to mount on.
    pub proc: bool,
}

/// In the forked child: creates the namespaces, forks PID 1, and (in PID 1) makes the
/// rootfs its `/`. Returns in PID 1 only; the first process waits for it and exits with
/// its status. The current directory is `/` of the rootfs afterwards.
pub fn enter(spec: &Enter) -> io::Result<()> {
    let check = super::check;
    // SAFETY: system calls on NUL-terminated strings prepared before the fork and on
    // local integers; the first process never returns into Rust code that allocates.
    unsafe {
        check(libc::unshare(FLAGS))?;
        let pid = libc::fork();
        check(pid)?;
        if pid > 0 {
            // Nothing of the publisher (nor std's exec-error pipe) stays open here.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) == -1 {
                if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    libc::_exit(127);
                }
            }
            if libc::WIFEXITED(status) {
                libc::_exit(libc::WEXITSTATUS(status));
            }
            libc::_exit(128 + libc::WTERMSIG(status));
        }
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        check(libc::mount(
            spec.root.as_ptr(),
            spec.root.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ))?;
        check(libc::chdir(spec.root.as_ptr()))?;
        // A kernel or security module that refuses a fresh procfs leaves the step without
        // /proc, as in chroot mode, rather than failing it.
        if spec.proc
            && libc::mount(
                c"proc".as_ptr(),
                c"proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0
        {
            for path in PROC_READ_ONLY {
                if libc::mount(
                    path.as_ptr(),
                    path.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) == 0
                {
                    check(libc::mount(
                        std::ptr::null(),
                        path.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND
                            | libc::MS_REMOUNT
                            | libc::MS_RDONLY
                            | libc::MS_NOSUID
                            | libc::MS_NODEV
                            | libc::MS_NOEXEC,
                        std::ptr::null(),
                    ))?;
                }
            }
        }
        check(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as _)?;
        check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
        check(libc::chdir(c"/".as_ptr()))?;
    }
    Ok(())
}

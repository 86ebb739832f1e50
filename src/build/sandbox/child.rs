//! What the RUN child does to itself between `fork` and `exec`, and the capability policy.
//!
//! The command runs as root of the image, often with no namespaces (they need
//! `CAP_SYS_ADMIN`, which a default Docker container lacks), so the chroot alone must
//! hold. It holds only if the process cannot undo it, so before `exec` the child:
//!
//! - starts its own session and process group (`setsid`), which [`super::reap`] kills;
//! - enters the rootfs: namespaces and `pivot_root` where the kernel allows
//!   ([`super::namespaces`]), else `fchdir` to the root handle and `chroot(".")`; then
//!   `chdir` to WORKDIR;
//! - marks every descriptor above 2 close-on-exec (`close_range`), so nothing that points
//!   above the root (the root handle itself, a directory the publisher had open) survives;
//! - sets `no_new_privs`, so no setuid binary or file capability gives back what it lost;
//! - drops every capability outside [`KEPT`] from its bounding, ambient, permitted,
//!   effective and inheritable sets, after it has used `CAP_SYS_CHROOT` and before it
//!   changes user.
//!
//! Only system calls happen here, on data computed before `fork`: the publisher has other
//! threads, and a forked child of a threaded program may not allocate or take locks.

use std::ffi::CString;
use std::io;

/// The capabilities a RUN keeps: Docker's default set without `CAP_SYS_CHROOT` (the
/// chroot escape) and `CAP_MKNOD` (without a device cgroup, a device node of the host's
/// disk is the host's disk).
pub const KEPT: &[(u32, &str)] = &[
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (4, "CAP_FSETID"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (8, "CAP_SETPCAP"),
    (10, "CAP_NET_BIND_SERVICE"),
    (13, "CAP_NET_RAW"),
    (29, "CAP_AUDIT_WRITE"),
    (31, "CAP_SETFCAP"),
];

/// The dropped capabilities a failing command most likely missed, for its error message.
pub const NOTABLE_DROPPED: &[&str] = &[
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_SYS_ADMIN",
    "CAP_SYS_PTRACE",
    "CAP_DAC_READ_SEARCH",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_BOOT",
];

fn kept_mask() -> u64 {
    KEPT.iter().fold(0, |m, (cap, _)| m | 1u64 << cap)
}

/// Capability numbers the kernel may know; asking about one it does not is harmless.
const MAX_CAP: u32 = 63;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Data for the child, prepared before `fork` so the child only makes system calls.
pub struct ChildSetup {
    pub root_fd: i32,
    pub workdir: CString,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<libc::gid_t>,
    /// The highest descriptor number that may be open, for kernels without `close_range`.
    pub max_fd: i32,
    /// Namespaces to enter instead of a plain chroot, when the kernel allows them.
    pub namespaces: Option<super::namespaces::Enter>,
}

impl ChildSetup {
    pub fn apply(&self) -> io::Result<()> {
        let check = super::check;
        // SAFETY: plain system calls on valid, NUL-terminated strings, open descriptors
        // owned by the parent's `Spec` (which outlives the fork), and local structs.
        unsafe {
            if let Some(enter) = &self.namespaces {
                // The session is made before the fork in `enter`, so that PID 1 of the
                // namespace stays in the group the publisher kills.
                check(libc::setsid())?;
                super::namespaces::enter(enter)?;
            } else {
                check(libc::fchdir(self.root_fd))?;
                check(libc::chroot(c".".as_ptr()))?;
                check(libc::setsid())?;
            }
            check(libc::chdir(self.workdir.as_ptr()))?;
            let closed = libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
            if closed != 0 {
                for fd in 3..=self.max_fd {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
            let kept = kept_mask();
            for cap in 0..=MAX_CAP {
                if kept & (1 << cap) != 0 {
                    continue;
                }
                // EINVAL: a number this kernel does not know, so nothing to drop.
                if libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) == 1 {
                    check(libc::prctl(
                        libc::PR_CAPBSET_DROP,
                        cap as libc::c_ulong,
                        0,
                        0,
                        0,
                    ))?;
                }
            }
            let ambient = libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            );
            // EINVAL: a kernel older than ambient capabilities (4.3) has none to clear.
            if ambient == -1 {
                let error = io::Error::last_os_error();
                if error.raw_os_error() != Some(libc::EINVAL) {
                    return Err(error);
                }
            }
            check(libc::setgroups(self.groups.len(), self.groups.as_ptr()))?;
            check(libc::setgid(self.gid))?;
            check(libc::setuid(self.uid))?;
            let mut header = CapHeader {
                version: LINUX_CAPABILITY_VERSION_3,
                pid: 0,
            };
            let mut data = [CapData {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            }; 2];
            check(libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) as _)?;
            for (i, d) in data.iter_mut().enumerate() {
                let mask = (kept >> (32 * i)) as u32;
                d.effective &= mask;
                d.permitted &= mask;
                d.inheritable &= mask;
            }
            check(libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) as _)?;
        }
        Ok(())
    }
}

/// Makes the publisher untraceable and unreadable through `/proc/<pid>` for processes
/// without `CAP_SYS_PTRACE` (its environment holds the registry and SpaceONE secrets),
/// and makes it the reaper of every orphan its RUN steps leave, so [`super::reap`] finds
/// a `setsid` daemon however it detached. Idempotent.
pub fn harden_publisher() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0
            || libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The highest descriptor the publisher may hold (its `RLIMIT_NOFILE` minus one).
pub fn max_fd() -> i32 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(65535, |n| n.min(1 << 20) as i32 - 1)
}

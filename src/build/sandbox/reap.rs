//! Every process a RUN starts ends with it, and a cancel reaches the running step.
//!
//! The step's main process leads its own session, so `kill(-pgid)` reaches everything it
//! starts, until something calls `setsid` or `setpgid` and leaves. Those are found anyway:
//! the publisher is a child subreaper ([`super::child::harden_publisher`]), so once a
//! detached process's parent is gone it becomes the publisher's child. While a RUN runs
//! the publisher starts no other process, so every child of the publisher that started
//! no earlier than the step belongs to the step. Killing them in rounds (a killed
//! process's own children are reparented to us in turn) leaves nothing behind and closes
//! every copy of the step's output pipes.
//!
//! A pid the publisher has not yet waited for cannot be reused, so signalling its own
//! children by pid is safe, and the group is killed before the main process is reaped.
//!
//! Cancellation is process-wide state because signals are: [`cancel`] marks the process
//! cancelled, sends the running step TERM and, two seconds later, KILL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long a cancelled step may take to end on SIGTERM before it gets SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(2);

static CANCELLED: AtomicBool = AtomicBool::new(false);
static ACTIVE: Mutex<Option<Step>> = Mutex::new(None);

/// The running step: its session (= process group) and when it started, in clock ticks
/// since boot (`/proc/<pid>/stat` field 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub pgid: i32,
    pub started: u64,
}

/// Ends the running RUN step (TERM, then KILL after [`TERM_GRACE`]) and makes every later
/// step refuse to start.
pub fn cancel() {
    CANCELLED.store(true, Ordering::SeqCst);
    let Some(step) = *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) else {
        return;
    };
    signal_all(step, libc::SIGTERM);
    std::thread::spawn(move || {
        std::thread::sleep(TERM_GRACE);
        if *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) == Some(step) {
            signal_all(step, libc::SIGKILL);
        }
    });
}

pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// Records `pid` (just spawned, not yet waited for) as the running step.
pub fn begin(pid: i32) -> Step {
    let step = Step {
        pgid: pid,
        started: stat(pid).map_or(0, |s| s.started),
    };
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(step);
    if cancelled() {
        // The cancel came between the check before spawning and now.
        signal_all(step, libc::SIGKILL);
    }
    step
}

/// After the step's main process exited (and before it is reaped): kills and reaps
/// everything else the step started.
pub fn end(step: Step) {
    for _ in 0..10_000 {
        signal_group(step.pgid, libc::SIGKILL);
        let left = children_since(step.started, step.pgid);
        if left.is_empty() {
            break;
        }
        for pid in left {
            // SAFETY: kill and waitpid on our own un-reaped child; no memory involved.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

fn signal_all(step: Step, signal: i32) {
    signal_group(step.pgid, signal);
    for pid in children_since(step.started, step.pgid) {
        // SAFETY: kill on our own un-reaped child.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) of a process group whose leader we have not reaped yet.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

struct Stat {
    ppid: i32,
    started: u64,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields follow the last `)`.
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        started: fields.get(19)?.parse().ok()?,
    })
}

/// The publisher's children that started no earlier than the step, its main process
/// (`main`, waited for by its owner) excepted.
fn children_since(started: u64, main: i32) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != main)
        .filter(|pid| stat(*pid).is_some_and(|s| s.ppid == me && s.started >= started))
        .collect()
}

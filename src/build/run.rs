//! The RUN instruction: prepare the stage's rootfs, run the command in the sandbox,
//! snapshot what changed, and write that as the step's layer.
//!
//! Around the command, and never in its layer:
//! - `/dev` gets `null`, `zero`, `full`, `random`, `urandom`, `tty` (made with `mknod`;
//!   skipped with a warning when the kernel refuses) and `/dev/shm`;
//! - the host's `/etc/resolv.conf` and `/etc/hosts` replace the image's while it runs
//!   (the image's are moved aside and put back);
//! - `--mount`s ([`super::mounts`]).
//!
//! The command is `SHELL` (default `/bin/sh -c`) plus the line, or the exec form as written.
//! A heredoc alone (`RUN <<EOF`) is the script: with a `#!` line it is written to a file and
//! executed, otherwise given to the shell; a heredoc inside a longer line is left to the
//! shell, which reads it like any here-document. The environment is the image's `ENV`, then
//! the stage's `ARG`s, `PATH` and `HOME` defaulted. Output lines are reported as they come,
//! prefixed with the Dockerfile line, with secret values masked; the last ones go into the
//! error when the command fails.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::dockerfile::{CommandForm, Instruction, RunSpec};
use super::mounts::{self, MountKind};
use super::rootfs::{remove_all, Root};
use super::sandbox::{self, Stream};
use super::snapshot::{self, Snapshot};
use super::stage::StageState;
use super::users;
use super::{BuildError, BuildPlan, StepError};
use crate::events::{Event, Reporter};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The isolation is the same for every step of the process, so it is said once.
static ANNOUNCED: std::sync::Once = std::sync::Once::new();
/// Lines of output kept for the error message of a failed command.
const TAIL_LINES: usize = 20;

/// A stage's rootfs on disk, alive while the stage needs its files.
pub struct Rootfs {
    pub root: Arc<Root>,
    /// The last walk, still valid when nothing changed since (else `None`).
    pub last: Option<Snapshot>,
    dir: Option<tempfile::TempDir>,
}

impl Drop for Rootfs {
    /// On a cancel the build's future is dropped while an unpack may still be writing
    /// into the rootfs on a blocking thread (it stops at its next entry); the removal is
    /// retried briefly so the build root does not outlive the publish.
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let path = dir.path().to_path_buf();
        if dir.close().is_ok() {
            return;
        }
        for _ in 0..20 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => continue,
                _ => return,
            }
        }
    }
}

impl Rootfs {
    /// An empty rootfs in a fresh directory under `work_dir`.
    pub fn create(work_dir: &Path) -> io::Result<Rootfs> {
        let parent = work_dir.join("rootfs");
        std::fs::create_dir_all(&parent)?;
        let dir = tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(&parent)?;
        let root = Root::open(dir.path())?;
        rfs::fchmod(root.fd(), Mode::from_raw_mode(0o755))?;
        Ok(Rootfs {
            root: Arc::new(root),
            last: None,
            dir: Some(dir),
        })
    }
}

/// Everything one RUN needs besides the stage.
pub struct RunStep<'a> {
    pub plan: &'a BuildPlan,
    pub instruction: &'a Instruction,
    pub spec: &'a RunSpec,
    pub reporter: &'a dyn Reporter,
    /// A rootfs for `--mount=type=bind,from=<stage>`.
    pub bind_root: &'a dyn Fn(&str) -> Option<Arc<Root>>,
}

/// Runs the step; returns the layer of its changes (none when nothing changed).
pub fn run(
    step: &RunStep<'_>,
    state: &StageState,
    fs: &mut Rootfs,
) -> Result<Option<Vec<super::layer::LayerEntry>>, BuildError> {
    let plan = step.plan;
    let df = &plan.dockerfile;
    let line = step.instruction.line;
    let fail = |message: String, source: Option<StepError>| BuildError::Step {
        path: df.path.clone(),
        line,
        message,
        source: source.map(Box::new),
    };
    let text = &step.instruction.text;
    let platform = &plan.platform;
    if !sandbox::can_execute(&platform.architecture, platform.variant.as_deref()) {
        return Err(BuildError::Instruction {
            path: df.path.clone(),
            line,
            message: cannot_execute(text, platform),
        });
    }
    let config = &state.image.config.config;
    let workdir = config.working_dir.clone().unwrap_or_else(|| "/".into());
    let root = fs.root.clone();
    let io_fail = |what: &str, e: io::Error| fail(what.to_string(), Some(StepError::Io(e)));

    // Who runs it, and where.
    let identity = users::resolve(&root, config.user.as_deref().unwrap_or("")).map_err(|e| {
        fail(
            format!("`{text}`: cannot run as USER"),
            Some(StepError::User(e)),
        )
    })?;
    root.dir(Path::new(&workdir), true)
        .map_err(|e| io_fail(&format!("cannot create WORKDIR {workdir}"), e))?;

    // Mount specs and what the snapshot must skip.
    let mut specs = Vec::new();
    for flag in &step.spec.mounts {
        let expand = |value: &str| state.expand(value).map_err(|e| e.to_string());
        let spec = mounts::resolve(flag, &workdir, &expand)
            .map_err(|m| fail(format!("`{text}`: {m}"), None))?;
        specs.push(spec);
    }

    let mut env = state.run_env();
    let mut secrets_shown = Vec::new();
    for spec in &specs {
        if let MountKind::Secret {
            id,
            env: var,
            required,
        } = &spec.kind
        {
            match plan.secrets.get(id) {
                Some(value) => {
                    secrets_shown.push(value.expose().to_string());
                    if let Some(var) = var {
                        env.push((var.clone(), value.expose().to_string()));
                    }
                }
                None if *required => {
                    return Err(fail(
                        format!("`{text}`: secret `{id}` is required but the `secrets` input has no such id"),
                        None,
                    ))
                }
                None => {}
            }
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), identity.home.clone()));
    }
    let argv = command_argv(state, step.spec, &root, line)
        .map_err(|e| io_fail("cannot write the heredoc script", e))?;

    // The state before, with the same skip list as after.
    let extra_skips: Vec<String> = specs.iter().filter_map(|s| s.target.clone()).collect();
    let skip = snapshot::skip_list(&extra_skips);
    let walk_err = |e: snapshot::SnapshotError| {
        fail(
            "cannot walk the rootfs".into(),
            Some(StepError::Snapshot(e)),
        )
    };
    let before = match fs.last.take() {
        Some(last) if extra_skips.is_empty() => last,
        _ => blocking(|| snapshot::take(&root, &skip)).map_err(walk_err)?,
    };

    // Prepare the rootfs around the command.
    let warnings =
        prepare_dev(&root).map_err(|e| io_fail("cannot prepare /dev in the rootfs", e))?;
    for w in warnings {
        step.reporter.event(Event::Warning(&w));
    }
    let injected = inject_host_files(&root)
        .map_err(|e| io_fail("cannot provide /etc/resolv.conf and /etc/hosts", e))?;
    let mut placed = Vec::new();
    let mut skips_from_mounts = Vec::new();
    let needs_context = specs
        .iter()
        .any(|s| matches!(&s.kind, MountKind::Bind { from: None, .. }));
    let context_root = match needs_context {
        true => Some(
            Root::open(&plan.context).map_err(|e| io_fail("cannot open the build context", e))?,
        ),
        false => None,
    };
    for spec in &specs {
        let Some(target) = &spec.target else { continue };
        let cache_dir = match &spec.kind {
            MountKind::Cache { id } => {
                Some(plan.work_dir.join("cache-mounts").join(cache_name(id)))
            }
            _ => None,
        };
        let secret = match &spec.kind {
            MountKind::Secret { id, .. } => match plan.secrets.get(id) {
                Some(s) => Some(s),
                None => continue,
            },
            _ => None,
        };
        let bind_from;
        let bind = match &spec.kind {
            MountKind::Bind {
                source,
                from: Some(from),
            } => {
                bind_from = (step.bind_root)(from).ok_or_else(|| {
                    fail(
                        format!("`{text}`: --mount from={from} names no stage or image"),
                        None,
                    )
                })?;
                Some(mounts::BindSource {
                    root: &bind_from,
                    path: source.clone(),
                })
            }
            MountKind::Bind { source, from: None } => {
                context_root.as_ref().map(|root| mounts::BindSource {
                    root,
                    path: source.clone(),
                })
            }
            _ => None,
        };
        match mounts::place(&root, target, spec, cache_dir.as_deref(), secret, bind) {
            Ok(p) => {
                skips_from_mounts.extend(p.skip.clone());
                placed.push(p);
            }
            Err(e) => {
                undo(placed, injected);
                return Err(io_fail(&format!("`{text}`: cannot mount {target}"), e));
            }
        }
    }
    ANNOUNCED.call_once(|| {
        step.reporter.event(Event::Note(&format!(
            "RUN isolation: {}",
            sandbox::isolation().describe()
        )))
    });
    step.reporter
        .event(Event::Debug(&format!("RUN argv: {argv:?}")));
    let mut tail: VecDeque<String> = VecDeque::new();
    let prefix = format!("#{line}");
    let mut on_line = |_stream: Stream, text: &str| {
        let mut text = text.to_string();
        for secret in &secrets_shown {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), "***");
            }
        }
        step.reporter
            .event(Event::Note(&format!("{prefix} {text}")));
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text);
    };
    let spec = sandbox::Spec {
        root: &root,
        argv: argv.clone(),
        env,
        workdir: workdir.clone(),
        uid: identity.uid,
        gid: identity.gid,
        groups: identity.groups.clone(),
        stdin: stdin_of(step.spec),
    };
    let status = blocking(|| sandbox::run(spec, &mut on_line));
    undo(placed, injected);
    if let Err(sandbox::SandboxError::Cancelled { .. }) = &status {
        return Err(fail(format!("`{text}` cancelled"), None));
    }
    let status = status.map_err(|e| {
        fail(
            format!("`{text}` could not run"),
            Some(StepError::Sandbox(e)),
        )
    })?;
    if !status.success() {
        let code = match status.code() {
            Some(code) => format!("exit code {code}"),
            None => format!("{status}"),
        };
        let last = if tail.is_empty() {
            " (no output)".to_string()
        } else {
            format!(
                "; last lines of its output:\n{}",
                tail.iter()
                    .map(|l| format!("  | {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        };
        let lacked = lacked_capability(&tail);
        return Err(fail(
            format!("`{text}` failed with {code}{last}{lacked}"),
            None,
        ));
    }

    let after = blocking(|| snapshot::take(&root, &skip)).map_err(walk_err)?;
    let entries = snapshot::diff(&root, &before, &after);
    fs.last = (extra_skips.is_empty() && skips_from_mounts.is_empty()).then_some(after);
    if entries.is_empty() {
        return Ok(None);
    }
    Ok(Some(entries))
}

/// When the output says a system call was refused: the capabilities a RUN runs without,
/// the one the failing tool most likely needed first.
fn lacked_capability(tail: &VecDeque<String>) -> String {
    let refused: Vec<&String> = tail
        .iter()
        .filter(|l| l.contains("Operation not permitted"))
        .collect();
    if refused.is_empty() {
        return String::new();
    }
    let needed = refused.iter().find_map(|l| {
        [
            ("chroot", "CAP_SYS_CHROOT"),
            ("mknod", "CAP_MKNOD"),
            ("mount", "CAP_SYS_ADMIN"),
            ("unshare", "CAP_SYS_ADMIN"),
            ("ptrace", "CAP_SYS_PTRACE"),
            ("insmod", "CAP_SYS_MODULE"),
            ("modprobe", "CAP_SYS_MODULE"),
        ]
        .into_iter()
        .find(|(tool, _)| l.contains(tool))
        .map(|(_, cap)| cap)
    });
    let all = |except: &str| {
        sandbox::NOTABLE_DROPPED
            .iter()
            .filter(|c| **c != except)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    };
    match needed {
        Some(cap) => format!(
            "\nRUN steps run without {cap}, which this step needs (also dropped: {}, and every capability outside Docker's default set)",
            all(cap)
        ),
        None => format!(
            "\na system call was refused: RUN steps run without {} and every capability outside Docker's default set",
            all("")
        ),
    }
}

/// Builds the command line from the instruction's form and heredocs.
fn command_argv(
    state: &StageState,
    spec: &RunSpec,
    root: &Root,
    line: usize,
) -> io::Result<Vec<String>> {
    let shell = |script: String| state.shell_argv(&CommandForm::Shell(script));
    Ok(match &spec.command {
        CommandForm::Exec(argv) => argv.clone(),
        CommandForm::Shell(text) if spec.heredocs.is_empty() => shell(text.clone()),
        CommandForm::Shell(text) => {
            let only_marker = spec.heredocs.len() == 1
                && text.trim().starts_with("<<")
                && !text.trim().contains(char::is_whitespace);
            let doc = &spec.heredocs[0];
            if only_marker && doc.content.starts_with("#!") {
                let path = format!("/dev/.spaceone-run-{line}");
                let slot = root.slot(Path::new(&path), true)?.expect("named");
                remove_all(slot.parent.as_fd(), &slot.name)?;
                let fd = rfs::openat(
                    &slot.parent,
                    &slot.name,
                    OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW,
                    Mode::from_raw_mode(0o755),
                )?;
                rustix::io::write(&fd, doc.content.as_bytes())?;
                rfs::fchmod(&fd, Mode::from_raw_mode(0o755))?;
                vec![path]
            } else if only_marker {
                shell(doc.content.clone())
            } else {
                let mut script = text.clone();
                script.push('\n');
                for doc in &spec.heredocs {
                    script.push_str(&doc.content);
                    script.push_str(&doc.name);
                    script.push('\n');
                }
                shell(script)
            }
        }
    })
}

/// With a bare `RUN <<EOF` the heredoc is the script, so nothing goes to stdin.
fn stdin_of(_spec: &RunSpec) -> Option<Vec<u8>> {
    None
}

fn cache_name(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = crate::oci::Digest::sha256_of(id.as_bytes());
    format!("{}-{}", cleaned.trim_matches('_'), &digest.hex()[..12])
}

fn undo(placed: Vec<mounts::Placed>, injected: Vec<Injected>) {
    for p in placed.into_iter().rev() {
        let _ = p.undo();
    }
    for i in injected {
        let _ = i.restore();
    }
}

/// The device nodes a command may expect, made once per rootfs.
use super::unpack::HARMLESS_DEVICES as DEVICES;

fn prepare_dev(root: &Root) -> io::Result<Vec<String>> {
    let dev = root.dir(Path::new("/dev"), true)?;
    let mut refused = Vec::new();
    for (name, major, minor) in DEVICES {
        let wanted = rfs::makedev(*major, *minor);
        if let Ok(s) = rfs::statat(&dev, *name, AtFlags::SYMLINK_NOFOLLOW) {
            if FileType::from_raw_mode(s.st_mode as _) == FileType::CharacterDevice
                && s.st_rdev == wanted
            {
                continue;
            }
            remove_all(dev.as_fd(), std::ffi::OsStr::new(name))?;
        }
        match rfs::mknodat(
            &dev,
            *name,
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            wanted,
        ) {
            Ok(()) => {
                rfs::chmodat(&dev, *name, Mode::from_raw_mode(0o666), AtFlags::empty())?;
            }
            Err(rustix::io::Errno::PERM) => refused.push(*name),
            Err(e) => return Err(e.into()),
        }
    }
    match rfs::mkdirat(&dev, "shm", Mode::from_raw_mode(0o1777)) {
        Ok(()) => rfs::chmodat(&dev, "shm", Mode::from_raw_mode(0o1777), AtFlags::empty())?,
        Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        match rfs::symlinkat(target, &dev, name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if refused.is_empty() {
        vec![]
    } else {
        vec![format!(
            "cannot create /dev/{} for RUN (no CAP_MKNOD); commands that need them may fail",
            refused.join(", /dev/")
        )]
    })
}

/// A host file shown to the command in place of the image's.
struct Injected {
    dir: rustix::fd::OwnedFd,
    name: &'static str,
    stash: Option<String>,
}

impl Injected {
    fn restore(self) -> io::Result<()> {
        rfs::unlinkat(&self.dir, self.name, AtFlags::empty())?;
        if let Some(stash) = &self.stash {
            rfs::renameat(&self.dir, stash.as_str(), &self.dir, self.name)?;
        }
        Ok(())
    }
}

fn inject_host_files(root: &Root) -> io::Result<Vec<Injected>> {
    let etc = match root.dir(Path::new("/etc"), false) {
        Ok(fd) => fd,
        Err(_) => return Ok(vec![]),
    };
    let mut out = Vec::new();
    for name in ["resolv.conf", "hosts"] {
        let Ok(content) = std::fs::read(Path::new("/etc").join(name)) else {
            continue;
        };
        let stash = format!(".spaceone-stash.{name}");
        let stash = match rfs::statat(&etc, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => {
                remove_all(etc.as_fd(), std::ffi::OsStr::new(&stash))?;
                rfs::renameat(&etc, name, &etc, stash.as_str())?;
                Some(stash)
            }
            Err(_) => None,
        };
        let fd = rfs::openat(
            &etc,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o644),
        )?;
        rustix::io::write(&fd, &content)?;
        rfs::fchmod(&fd, Mode::from_raw_mode(0o644))?;
        out.push(Injected {
            dir: rustix::io::dup(&etc)?,
            name,
            stash,
        });
    }
    Ok(out)
}

/// Runs blocking work from async code: on the multi-threaded runtime the worker hands its
/// other tasks off first; elsewhere it simply runs.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Writes the entries of a RUN or COPY as a layer.
pub async fn write(
    plan: &BuildPlan,
    line: usize,
    entries: Vec<super::layer::LayerEntry>,
    store: &crate::oci::BlobStore,
) -> Result<super::layer::Written, BuildError> {
    let store = store.clone();
    let epoch = plan.epoch;
    tokio::task::spawn_blocking(move || super::layer::write_layer(&store, &entries, epoch))
        .await
        .expect("layer writer panicked")
        .map_err(|source| BuildError::Layer {
            path: plan.dockerfile.path.clone(),
            line,
            source,
        })
}

/// Why a RUN cannot execute here; said before any build ([`super::check_platforms`]) and,
/// should a step still get here, at the step.
pub(super) fn cannot_execute(text: &str, platform: &crate::oci::Platform) -> String {
    format!(
        "`{text}`: RUN needs to execute {platform} programs and this machine cannot (no native support or binfmt emulator); build {platform} on a matching runner (see examples/github/matrix.yml), or keep RUN out of that platform's stages"
    )
}

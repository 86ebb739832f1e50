//! What the checkout's git history says: the tag at HEAD, the commit time, when each
//! file last changed, and `src/VERSION`. Outside a checkout (or without git) each is
//! `None` or empty, never an error: a plain directory builds too.

use std::path::Path;
use std::process::Command;

use crate::build::source_times::SourceTimes;
use crate::inputs::strip_v;

pub(super) fn git(context: &Path, args: &[&str]) -> Option<String> {
    git_bytes(context, args)
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
        .filter(|s| !s.is_empty())
}

pub(super) fn git_bytes(context: &Path, args: &[&str]) -> Option<Vec<u8>> {
    // A container action runs as root in a checkout owned by the runner's user, which git
    // refuses as "dubious ownership" unless told the directory is safe.
    let out = Command::new("git")
        .args(["-c", "safe.directory=*", "-C"])
        .arg(context)
        .args(args)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// When each file under `context` last changed in git; empty outside a checkout.
pub(super) fn source_times(context: &Path) -> SourceTimes {
    let log = [
        "log",
        "--format=%x00%ct",
        "--name-only",
        "-z",
        "--relative",
        "HEAD",
        "--",
        ".",
    ];
    let Some(log) = git_bytes(context, &log) else {
        return SourceTimes::default();
    };
    let mut changed = git_bytes(
        context,
        &["diff", "--name-only", "-z", "--relative", "HEAD", "--", "."],
    )
    .unwrap_or_default();
    changed
        .extend(git_bytes(context, &["ls-files", "-z", "--others", "--", "."]).unwrap_or_default());
    let shallow =
        git(context, &["rev-parse", "--is-shallow-repository"]).as_deref() == Some("true");
    SourceTimes::from_git_log(context, &log, &changed, shallow)
}

/// The tag at HEAD, `v` stripped (`v1.2.3` → `1.2.3`).
pub(super) fn git_tag(context: &Path) -> Option<String> {
    git(context, &["describe", "--tags", "--exact-match", "HEAD"]).map(|t| strip_v(&t))
}

/// The committer time of HEAD: reproducible across clones, unlike file mtimes.
pub(super) fn commit_time(context: &Path) -> Option<u64> {
    git(context, &["log", "-1", "--format=%ct"])?.parse().ok()
}

/// `src/VERSION`, the file SpaceONE plugins keep their version in.
pub(super) fn version_file(context: &Path) -> Option<String> {
    let text = std::fs::read_to_string(context.join("src").join("VERSION")).ok()?;
    let v = strip_v(text.trim());
    (!v.is_empty()).then_some(v)
}

//! When each file of the build context last changed: the time its COPY entry carries.
//!
//! A COPY layer must not change when its files did not, or every commit would upload a
//! new layer. The checkout's own mtimes are the clone's time, and the commit time moves on
//! every commit; the time of the last commit that changed the file is what stays. Files
//! that differ from `HEAD` (modified, staged, untracked) have no such time and get the
//! build's epoch, as does every file outside a git checkout.
//!
//! A shallow clone (`actions/checkout` fetches one commit by default) shows every file as
//! changed by its one commit, so its COPY layers carry that commit's time: their digest
//! moves, but the layer cache keys RUNs on content ([`super::layer::Written`]), so no RUN
//! re-runs. `fetch-depth: 0` makes the layers themselves byte-identical.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct SourceTimes {
    /// Absolute path in the (canonical) context → committer time, seconds.
    times: HashMap<PathBuf, u64>,
    /// The checkout is shallow: times are those of its oldest commit at most.
    pub shallow: bool,
}

impl SourceTimes {
    /// Reads the times from `git log` output for `context`: NUL-separated tokens, where an
    /// empty token precedes a commit time (`--format=%x00%ct --name-only -z`) and the
    /// names after it (relative to `context`, with `--relative`) are the files it changed.
    /// `changed` lists the names (also relative) that differ from `HEAD`.
    pub fn from_git_log(context: &Path, log: &[u8], changed: &[u8], shallow: bool) -> SourceTimes {
        let root = context
            .canonicalize()
            .unwrap_or_else(|_| context.to_path_buf());
        let mut times = HashMap::new();
        let mut tokens = log.split(|b| *b == 0).peekable();
        let mut current: Option<u64> = None;
        while let Some(token) = tokens.next() {
            let token = token.strip_prefix(b"\n").unwrap_or(token);
            if token.is_empty() {
                current = tokens
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.trim().parse().ok());
                continue;
            }
            let (Some(time), Ok(name)) = (current, std::str::from_utf8(token)) else {
                continue;
            };
            // The newest commit comes first: the first time seen for a name is its last change.
            times.entry(root.join(name)).or_insert(time);
        }
        for name in changed.split(|b| *b == 0).filter(|t| !t.is_empty()) {
            if let Ok(name) = std::str::from_utf8(name) {
                times.remove(&root.join(name));
            }
        }
        SourceTimes { times, shallow }
    }

    /// The time of the last commit that changed the file at `source` (an absolute path
    /// under the canonical context), if `HEAD` holds it unchanged.
    pub fn of(&self, source: &Path) -> Option<u64> {
        self.times.get(source).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_commit_that_touched_a_file_gives_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        // Two commits, newest first: b/y changed in both, x only in the older one.
        let log = b"\x002000\x00\nb/y\x00\x001000\x00\nb/y\x00x\x00";
        let times = SourceTimes::from_git_log(&root, log, b"", false);
        assert_eq!(times.of(&root.join("b/y")), Some(2000));
        assert_eq!(times.of(&root.join("x")), Some(1000));
        assert_eq!(times.of(&root.join("absent")), None);
    }

    #[test]
    fn a_file_that_differs_from_head_has_no_commit_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let log = b"\x001000\x00\nx\x00y\x00";
        let times = SourceTimes::from_git_log(&root, log, b"y\x00new\x00", false);
        assert_eq!(times.of(&root.join("x")), Some(1000));
        assert_eq!(times.of(&root.join("y")), None);
    }
}

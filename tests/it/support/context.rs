//! [`Context`]: a plugin build context in a temp dir, built up by a test: files,
//! directories, symlinks, modes and a git history with fixed dates (so the tool can
//! take the commit time as `SOURCE_DATE_EPOCH`, or a tag as the version).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::process::run_tool;
use super::publish::Publish;

/// A temp directory deleted on drop. Builder methods take and return `self`.
pub struct Context {
    dir: TempDir,
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

impl Context {
    pub fn new() -> Context {
        Context {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` inside the context.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (mode 0644 by umask), creating parent directories.
    pub fn file(self, rel: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.parent_ready(rel);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        self
    }

    /// Creates a directory (and its parents).
    pub fn dir(self, rel: &str) -> Self {
        fs::create_dir_all(self.join(rel)).unwrap();
        self
    }

    /// Creates a symlink `rel` → `target` (stored verbatim, need not exist).
    pub fn symlink(self, rel: &str, target: &str) -> Self {
        let path = self.parent_ready(rel);
        symlink(target, &path).unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
        self
    }

    /// Sets the permission bits of `rel` (e.g. `0o755`).
    pub fn mode(self, rel: &str, mode: u32) -> Self {
        let path = self.join(rel);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        self
    }

    /// `git init` plus one commit of everything, authored and committed at `epoch`.
    pub fn git_init_commit(self, epoch: i64) -> Self {
        self.git(&["init", "--quiet", "--initial-branch=main"], epoch);
        self.git_commit(epoch, "initial commit")
    }

    /// Commits everything (including deletions) at `epoch`.
    pub fn git_commit(self, epoch: i64, message: &str) -> Self {
        self.git(&["add", "--all"], epoch);
        self.git(
            &["commit", "--quiet", "--allow-empty", "-m", message],
            epoch,
        );
        self
    }

    /// An annotated tag on HEAD (e.g. `v1.2.3`), dated `epoch`.
    pub fn git_tag(self, name: &str, epoch: i64) -> Self {
        self.git(&["tag", "-a", "-m", name, name], epoch);
        self
    }

    /// A [`Publish`] that runs in this context.
    pub fn publish(&self) -> Publish {
        Publish::new(self.path())
    }

    /// Runs git here, isolated from host config, with both dates at `epoch` (UTC).
    fn git(&self, args: &[&str], epoch: i64) {
        let date = format!("@{epoch} +0000");
        run_tool(
            Command::new("git")
                .args([
                    "-c",
                    "user.name=spaceone-publish test",
                    "-c",
                    "user.email=test@example.com",
                ])
                .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
                .args(args)
                .current_dir(self.path())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", self.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date),
        );
    }

    fn parent_ready(&self, rel: &str) -> PathBuf {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        path
    }
}

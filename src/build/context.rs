//! The build context as COPY and ADD see it: which files a source word names, and where each
//! lands in the image.
//!
//! [`plan_copy`] turns expanded source words and a destination into a sorted list of
//! [`CopyEntry`]s (a path on disk, a path in the image, and what it is) with Docker's rules:
//!
//! - **Sources are inside the context.** A leading `/` is relative to the context too; a
//!   source that climbs out with `..` is refused.
//! - **Wildcards.** `*`, `?` and `[…]` match within one path segment (Go `filepath.Match`,
//!   hidden files included); matches are sorted. As in BuildKit, a wildcard that matches
//!   nothing copies nothing, while a plain path that does not exist is an error.
//! - **`.dockerignore`d paths do not exist.** An excluded directory is still visible when a
//!   `!` exception re-includes something inside it (it then holds only that).
//! - **A directory copies its contents**, recursively, with every subdirectory listed as an
//!   entry so empty directories survive. Symlinks found inside are copied as symlinks, target
//!   verbatim. A source *named* in the instruction (or matched by a wildcard) that is itself a
//!   symlink is followed (BuildKit's `FollowPaths`); it must resolve inside the context.
//! - **Destination.** A relative destination is joined to the working directory. It is a
//!   directory when it ends with `/` (or is `.`), or when the source is a directory; a file
//!   then lands at `dest/<basename>`. Several sources need a directory destination, as Docker
//!   says. When the destination already exists as a directory in the image, the caller should
//!   pass it with a trailing `/`: this module sees only the context.
//!
//! The output is sorted by destination with duplicates removed (the last source wins, as when
//! Docker copies them in order). Only metadata is read here; the layer writer opens the files.
//! Parent directories of the destination are not listed; the layer writer creates them.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::dockerignore::{has_wildcards, DockerIgnore, Glob};
use super::paths::clean;

/// One path to put in the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyEntry {
    /// Where the data is on disk (absolute, symlinks of named sources resolved).
    pub source: PathBuf,
    /// Absolute, normalised path in the image, without a trailing slash.
    pub dest: String,
    pub kind: EntryKind,
}

/// What an entry is; `mode` holds the permission bits (`0o7777`) found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File {
        mode: u32,
    },
    Dir {
        mode: u32,
    },
    Symlink {
        target: String,
    },
    /// The directory a source directory's *contents* are copied into. Docker copies the
    /// contents, not the directory: the destination keeps its mode when it exists and is
    /// created 0755 when it does not, whatever the checkout's mode (BuildKit, fsutil#47).
    DestDir,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(
        "COPY source \"{word}\" not found in the build context (or excluded by .dockerignore)"
    )]
    NotFound { word: String },
    #[error("COPY source \"{word}\" is outside the build context")]
    OutsideContext { word: String },
    #[error("COPY source \"{word}\" is a symlink resolving to {}, outside the build context", target.display())]
    SymlinkEscapes { word: String, target: PathBuf },
    #[error("COPY source \"{word}\" is a symlink to \"{target}\", which .dockerignore excludes")]
    LinksToExcluded { word: String, target: String },
    #[error("COPY source \"{word}\" is a URL or git repository, not a path in the build context")]
    Remote { word: String },
    #[error("COPY source \"{word}\" has a bad wildcard: {reason}")]
    BadPattern { word: String, reason: &'static str },
    #[error("COPY source \"{word}\" is neither a file, a directory nor a symlink")]
    SpecialFile { word: String },
    #[error(
        "When using COPY with more than one source file, the destination must be a directory and end with a / ({count} sources, destination \"{dest}\")"
    )]
    NotADirectory { dest: String, count: usize },
    #[error("{} has a name that is not UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("reading {} in the build context", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Plans a COPY/ADD of `sources` (already expanded) from `context` to `dest`, relative to
/// `workdir` (absolute). See the module docs for the rules.
pub fn plan_copy(
    context: &Path,
    ignore: &DockerIgnore,
    sources: &[String],
    dest: &str,
    workdir: &str,
) -> Result<Vec<CopyEntry>, ContextError> {
    let root = fs::canonicalize(context).map_err(io_error(context))?;
    let ctx = Context { root, ignore };
    let dest_is_dir = dest.is_empty() || dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let dest = if dest.starts_with('/') {
        clean(dest)
    } else {
        clean(&format!("/{workdir}/{dest}"))
    };

    let mut named = Vec::new();
    for word in sources {
        if is_remote(word) {
            return Err(ContextError::Remote { word: word.clone() });
        }
        let rel = clean(word.trim_start_matches('/'));
        if rel == ".." || rel.starts_with("../") {
            return Err(ContextError::OutsideContext { word: word.clone() });
        }
        if has_wildcards(&rel) {
            named.extend(ctx.glob(&rel, word)?.into_iter().map(|rel| (word, rel)));
        } else if ctx.visible(&rel, word)? {
            named.push((word, rel));
        } else {
            return Err(ContextError::NotFound { word: word.clone() });
        }
    }
    if named.len() > 1 && !dest_is_dir {
        return Err(ContextError::NotADirectory {
            dest: dest.clone(),
            count: named.len(),
        });
    }

    let mut planned: BTreeMap<String, CopyEntry> = BTreeMap::new();
    for (word, rel) in named {
        // Name what a wildcard matched, not the wildcard.
        let shown = if has_wildcards(word) {
            rel.as_str()
        } else {
            word.as_str()
        };
        let (source, resolved_rel) = ctx.follow(&rel, shown)?;
        let meta = fs::metadata(&source).map_err(io_error(&source))?;
        let mode = meta.permissions().mode() & 0o7777;
        let mut entries = Vec::new();
        if meta.is_dir() {
            // "/" is the image root: its metadata is the base image's to keep.
            if dest != "/" {
                entries.push(CopyEntry {
                    source: source.clone(),
                    dest: dest.clone(),
                    kind: EntryKind::DestDir,
                });
            }
            ctx.walk(&source, &resolved_rel, &dest, &mut entries)?;
        } else if meta.is_file() {
            let target = match dest_is_dir {
                true => join(&dest, rel.rsplit('/').next().unwrap_or(&rel)),
                false => dest.clone(),
            };
            entries.push(CopyEntry {
                source,
                dest: target,
                kind: EntryKind::File { mode },
            });
        } else {
            return Err(ContextError::SpecialFile { word: word.clone() });
        }
        for entry in entries {
            planned.insert(entry.dest.clone(), entry);
        }
    }
    Ok(planned.into_values().collect())
}

struct Context<'a> {
    /// The context directory, canonical, so resolved paths can be checked against it.
    root: PathBuf,
    ignore: &'a DockerIgnore,
}

impl Context<'_> {
    fn abs(&self, rel: &str) -> PathBuf {
        match rel {
            "." => self.root.clone(),
            _ => self.root.join(rel),
        }
    }

    /// Whether `rel` exists and is not hidden by `.dockerignore` (an excluded directory
    /// counts when an exception re-includes something inside it).
    fn visible(&self, rel: &str, word: &str) -> Result<bool, ContextError> {
        let abs = self.abs(rel);
        let meta = match fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            Err(e) if is_missing(&e) => return Ok(false),
            Err(e) => {
                return Err(ContextError::Io {
                    path: abs,
                    source: e,
                })
            }
        };
        if rel == "." || !self.ignore.is_excluded(rel) {
            return Ok(true);
        }
        if !meta.is_dir() || !self.ignore.may_have_exceptions_under(rel) {
            return Ok(false);
        }
        let mut inside = Vec::new();
        self.walk(&abs, rel, "/", &mut inside)
            .map_err(|e| match e {
                ContextError::Io { .. } | ContextError::NotUtf8 { .. } => e,
                _ => ContextError::NotFound {
                    word: word.to_string(),
                },
            })?;
        Ok(!inside.is_empty())
    }

    /// Expands a wildcard path segment by segment, returning visible matches, sorted.
    fn glob(&self, pattern: &str, word: &str) -> Result<Vec<String>, ContextError> {
        let mut found = vec![String::from(".")];
        for segment in pattern.split('/') {
            let mut next = Vec::new();
            for base in &found {
                // A literal segment (no wildcard, no escape) is a plain lookup.
                if !has_wildcards(segment) && !segment.contains('\\') {
                    let candidate = join_rel(base, segment);
                    if fs::symlink_metadata(self.abs(&candidate)).is_ok() {
                        next.push(candidate);
                    }
                    continue;
                }
                let glob =
                    Glob::new(segment, false).map_err(|reason| ContextError::BadPattern {
                        word: word.to_string(),
                        reason,
                    })?;
                for name in self.names(&self.abs(base))? {
                    if glob.matches(&name) {
                        next.push(join_rel(base, &name));
                    }
                }
            }
            found = next;
        }
        let mut visible = Vec::new();
        for rel in found {
            if self.visible(&rel, word)? {
                visible.push(rel);
            }
        }
        visible.sort();
        Ok(visible)
    }

    /// Sorted entry names of a directory; a path that is not a readable directory has none.
    fn names(&self, dir: &Path) -> Result<Vec<String>, ContextError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if is_missing(&e) => return Ok(Vec::new()),
            Err(e) => {
                return Err(ContextError::Io {
                    path: dir.to_path_buf(),
                    source: e,
                })
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| ContextError::NotUtf8 { path: entry.path() })?;
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    /// Resolves every symlink on the way to `rel`; the result must stay in the context and
    /// not be excluded. Returns the absolute path and its context-relative form.
    fn follow(&self, rel: &str, word: &str) -> Result<(PathBuf, String), ContextError> {
        let abs = self.abs(rel);
        let resolved = match fs::canonicalize(&abs) {
            Ok(path) => path,
            Err(e) if is_missing(&e) => {
                return Err(ContextError::NotFound {
                    word: word.to_string(),
                })
            }
            Err(e) => {
                return Err(ContextError::Io {
                    path: abs,
                    source: e,
                })
            }
        };
        let Ok(inside) = resolved.strip_prefix(&self.root) else {
            return Err(ContextError::SymlinkEscapes {
                word: word.to_string(),
                target: resolved,
            });
        };
        let inside = match inside.to_str() {
            Some("") => ".".to_string(),
            Some(s) => s.to_string(),
            None => return Err(ContextError::NotUtf8 { path: resolved }),
        };
        // A link must not expose a file that .dockerignore hides.
        if inside != rel && !self.visible(&inside, word)? {
            return Err(ContextError::LinksToExcluded {
                word: word.to_string(),
                target: inside,
            });
        }
        Ok((resolved, inside))
    }

    /// Lists the visible contents of directory `dir` (context path `rel`) as entries under
    /// `dest`, depth first, sorted by name, without following symlinks.
    fn walk(
        &self,
        dir: &Path,
        rel: &str,
        dest: &str,
        out: &mut Vec<CopyEntry>,
    ) -> Result<(), ContextError> {
        for name in self.names(dir)? {
            let (abs, child_rel, child_dest) =
                (dir.join(&name), join_rel(rel, &name), join(dest, &name));
            let meta = fs::symlink_metadata(&abs).map_err(io_error(&abs))?;
            let excluded = self.ignore.is_excluded(&child_rel);
            let file_type = meta.file_type();
            let mode = meta.permissions().mode() & 0o7777;
            if file_type.is_dir() {
                if excluded && !self.ignore.may_have_exceptions_under(&child_rel) {
                    continue;
                }
                let mut inside = Vec::new();
                self.walk(&abs, &child_rel, &child_dest, &mut inside)?;
                if !excluded || !inside.is_empty() {
                    let kind = EntryKind::Dir { mode };
                    out.push(CopyEntry {
                        source: abs,
                        dest: child_dest,
                        kind,
                    });
                    out.append(&mut inside);
                }
                continue;
            }
            if excluded {
                continue;
            }
            let kind = if file_type.is_symlink() {
                let target = fs::read_link(&abs).map_err(io_error(&abs))?;
                let target = target
                    .into_os_string()
                    .into_string()
                    .map_err(|_| ContextError::NotUtf8 { path: abs.clone() })?;
                EntryKind::Symlink { target }
            } else if file_type.is_file() {
                EntryKind::File { mode }
            } else {
                // Sockets, FIFOs and devices have no place in a layer built from a context.
                continue;
            };
            out.push(CopyEntry {
                source: abs,
                dest: child_dest,
                kind,
            });
        }
        Ok(())
    }
}

/// URLs and git remotes, which only ADD can fetch and never from the context.
fn is_remote(word: &str) -> bool {
    ["http://", "https://", "git@", "git://", "ssh://"]
        .iter()
        .any(|prefix| word.starts_with(prefix))
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Joins a name onto an absolute image path.
fn join(dir: &str, name: &str) -> String {
    match dir {
        "/" => format!("/{name}"),
        _ => format!("{dir}/{name}"),
    }
}

/// Joins a name onto a context-relative path (`.` is the root).
fn join_rel(dir: &str, name: &str) -> String {
    match dir {
        "." => name.to_string(),
        _ => format!("{dir}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerignore::from_patterns;
    use std::os::unix::fs::symlink;

    /// A context with files, a directory tree, ignored paths and symlinks, plus a file
    /// outside it. Modes are set explicitly so the umask does not matter.
    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        let files = [
            ("a.txt", 0o644),
            ("b.txt", 0o644),
            (".hidden", 0o644),
            ("run.sh", 0o755),
            ("secret.txt", 0o600),
            ("dir/x.txt", 0o644),
            ("dir/sub/y.txt", 0o644),
            ("other/x.txt", 0o640),
            ("logs/keep.log", 0o644),
            ("logs/drop.log", 0o644),
            ("node_modules/m.js", 0o644),
        ];
        for (path, mode) in files {
            let path = ctx.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, path.to_str().unwrap()).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        fs::create_dir(ctx.join("dir/empty")).unwrap();
        for d in [
            ".",
            "dir",
            "dir/sub",
            "dir/empty",
            "other",
            "logs",
            "node_modules",
        ] {
            fs::set_permissions(ctx.join(d), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::write(dir.path().join("outside.txt"), "outside").unwrap();
        symlink("x.txt", ctx.join("dir/link")).unwrap();
        symlink("a.txt", ctx.join("link-to-a")).unwrap();
        symlink("dir", ctx.join("link-to-dir")).unwrap();
        symlink("secret.txt", ctx.join("link-to-secret")).unwrap();
        symlink("../outside.txt", ctx.join("escape")).unwrap();
        symlink(dir.path().join("outside.txt"), ctx.join("abs-escape")).unwrap();
        symlink("missing", ctx.join("dangling")).unwrap();
        (dir, ctx)
    }

    fn ignore() -> DockerIgnore {
        from_patterns(&["secret.txt", "logs", "!logs/keep.log", "node_modules"]).unwrap()
    }

    fn plan(
        ctx: &Path,
        sources: &[&str],
        dest: &str,
        workdir: &str,
    ) -> Result<Vec<String>, String> {
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let entries =
            plan_copy(ctx, &ignore(), &sources, dest, workdir).map_err(|e| e.to_string())?;
        Ok(entries.iter().map(show).collect())
    }

    fn show(entry: &CopyEntry) -> String {
        match &entry.kind {
            EntryKind::File { mode } => format!("{} f{mode:o}", entry.dest),
            EntryKind::Dir { mode } => format!("{} d{mode:o}", entry.dest),
            EntryKind::Symlink { target } => format!("{} ->{target}", entry.dest),
            EntryKind::DestDir => format!("{} dest", entry.dest),
        }
    }

    const DIR_UNDER_D: &[&str] = &[
        "/d dest",
        "/d/empty d755",
        "/d/link ->x.txt",
        "/d/sub d755",
        "/d/sub/y.txt f644",
        "/d/x.txt f644",
    ];

    #[test]
    fn plans_sources_and_destinations() {
        let (_tmp, ctx) = fixture();
        // (sources, dest, workdir, entries)
        let cases: &[(&[&str], &str, &str, &[&str])] = &[
            (
                &["a.txt"],
                "/app/renamed.txt",
                "/",
                &["/app/renamed.txt f644"],
            ),
            (&["a.txt"], "/app/", "/", &["/app/a.txt f644"]),
            (&["a.txt"], "sub/", "/work", &["/work/sub/a.txt f644"]),
            (&["run.sh"], ".", "/work", &["/work/run.sh f755"]),
            (&["a.txt"], "../up", "/work/deep", &["/work/up f644"]),
            (&["/a.txt"], "/x", "/", &["/x f644"]),
            (&["./dir/../a.txt"], "/x//", "/", &["/x/a.txt f644"]),
            (&["dir"], "/d", "/", DIR_UNDER_D),
            (&["dir/"], "/d/", "/", DIR_UNDER_D),
            (&["link-to-dir"], "/d", "/", DIR_UNDER_D),
            (&["link-to-a"], "/s/", "/", &["/s/link-to-a f644"]),
            (&["*.txt"], "/t/", "/", &["/t/a.txt f644", "/t/b.txt f644"]),
            (
                &["[ab].tx?"],
                "/t/",
                "/",
                &["/t/a.txt f644", "/t/b.txt f644"],
            ),
            (&["dir/*/y.txt"], "/g/", "/", &["/g/y.txt f644"]),
            (&["*/x.txt"], "/g/", "/", &["/g/x.txt f640"]),
            (&[".h*"], "/h/", "/", &["/h/.hidden f644"]),
            (&["*.nothing"], "/n/", "/", &[]),
            (
                &["b.txt", "a.txt"],
                "/m/",
                "/",
                &["/m/a.txt f644", "/m/b.txt f644"],
            ),
            (&["logs"], "/l", "/", &["/l dest", "/l/keep.log f644"]),
            (&["lo*"], "/l/", "/", &["/l dest", "/l/keep.log f644"]),
            (
                &["dir", "other"],
                "/o/",
                "/",
                &[
                    "/o dest",
                    "/o/empty d755",
                    "/o/link ->x.txt",
                    "/o/sub d755",
                    "/o/sub/y.txt f644",
                    "/o/x.txt f640",
                ],
            ),
        ];
        for (sources, dest, workdir, want) in cases {
            assert_eq!(
                plan(&ctx, sources, dest, workdir),
                Ok(want.iter().map(|s| s.to_string()).collect()),
                "COPY {sources:?} {dest} (WORKDIR {workdir})"
            );
        }
    }

    #[test]
    fn refuses_what_docker_refuses() {
        let (_tmp, ctx) = fixture();
        let not_found = |w: &str| {
            format!(
                "COPY source \"{w}\" not found in the build context (or excluded by .dockerignore)"
            )
        };
        let cases: Vec<(&[&str], &str, String)> = vec![
            (&["nope.txt"], "/", not_found("nope.txt")),
            (&["secret.txt"], "/", not_found("secret.txt")),
            (&["link-to-secret"], "/", "COPY source \"link-to-secret\" is a symlink to \"secret.txt\", which .dockerignore excludes".into()),
            (&["link-*"], "/x/", "COPY source \"link-to-secret\" is a symlink to \"secret.txt\"".into()),
            (&["e*"], "/x/", "COPY source \"escape\" is a symlink resolving to ".into()),
            (&["node_modules"], "/nm", not_found("node_modules")),
            (&["node_modules/m.js"], "/", not_found("node_modules/m.js")),
            (&["logs/drop.log"], "/", not_found("logs/drop.log")),
            (&["dangling"], "/", not_found("dangling")),
            (&["a.txt", "b.txt"], "/m", "When using COPY with more than one source file, the destination must be a directory and end with a / (2 sources, destination \"/m\")".into()),
            (&["*.txt"], "/m", "When using COPY with more than one source file".into()),
            (&["../outside.txt"], "/", "COPY source \"../outside.txt\" is outside the build context".into()),
            (&["dir/../../x"], "/", "COPY source \"dir/../../x\" is outside the build context".into()),
            (&["escape"], "/", "COPY source \"escape\" is a symlink resolving to ".into()),
            (&["abs-escape"], "/", "COPY source \"abs-escape\" is a symlink resolving to ".into()),
            (&["https://example.com/a.tgz"], "/", "COPY source \"https://example.com/a.tgz\" is a URL".into()),
            (&["[a"], "/", "COPY source \"[a\" has a bad wildcard".into()),
        ];
        for (sources, dest, want) in cases {
            let err = plan(&ctx, sources, dest, "/").unwrap_err();
            assert!(
                err.starts_with(&want),
                "COPY {sources:?} {dest}\n  got:  {err}\n  want: {want}"
            );
        }
    }

    #[test]
    fn whole_context_and_sources_on_disk() {
        let (tmp, ctx) = fixture();
        let all = plan(&ctx, &["."], "/", "/").unwrap();
        for present in [
            "/.hidden f644",
            "/logs d755",
            "/logs/keep.log f644",
            "/link-to-a ->a.txt",
            "/escape ->../outside.txt",
            "/dir/empty d755",
        ] {
            assert!(
                all.contains(&present.to_string()),
                "{present} missing from {all:?}"
            );
        }
        for absent in [
            "/",
            "/secret.txt",
            "/logs/drop.log",
            "/node_modules",
            "/node_modules/m.js",
        ] {
            assert!(
                !all.iter().any(|e| e.split(' ').next() == Some(absent)),
                "{absent} listed in {all:?}"
            );
        }
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted);

        let sources = |words: &[&str], dest: &str| -> Vec<(String, PathBuf)> {
            let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
            let entries = plan_copy(&ctx, &ignore(), &words, dest, "/").unwrap();
            entries.into_iter().map(|e| (e.dest, e.source)).collect()
        };
        let root = fs::canonicalize(tmp.path()).unwrap().join("ctx");
        assert_eq!(
            sources(&["link-to-a"], "/f"),
            [("/f".to_string(), root.join("a.txt"))]
        );
        assert_eq!(
            sources(&["dir", "other"], "/o/")
                .iter()
                .find(|(d, _)| d == "/o/x.txt")
                .unwrap()
                .1,
            root.join("other/x.txt")
        );
        assert_eq!(
            sources(&["link-to-dir"], "/d")
                .iter()
                .find(|(d, _)| d == "/d/sub")
                .unwrap()
                .1,
            root.join("dir/sub")
        );
    }
}

//! COPY and ADD: which entries a step's layer holds.
//!
//! Sources come from the build context ([`super::context`]), from inline heredocs, or with
//! `--from` from another stage's or image's files, read through that rootfs's [`Root`]
//! handle. For `--from`, a named source is followed through symlinks inside that rootfs
//! (as BuildKit does), a directory copies its contents, symlinks inside it stay symlinks,
//! and a `*`/`?`/`[…]` wildcard matches names in the source's last component. Owners are
//! 0:0 unless `--chown` (names resolved from this stage's `/etc/passwd`), modes are kept
//! unless `--chmod`. ADD of a local tar archive (plain or gzip) extracts it at the
//! destination.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType};

use super::context;
use super::dockerfile::{CopySpec, Instruction};
use super::dockerignore::{has_wildcards, Glob};
use super::layer::{EntryData, LayerEntry};
use super::rootfs::{list, Root};
use super::stage::StageState;
use super::{join_path, users, BuildError, BuildPlan};

/// Where `--from` files are read.
pub type FromRoot = Arc<Root>;

/// The entries of a COPY/ADD layer. `from` is the source rootfs for `--from`; `own` this
/// stage's rootfs when it has one (for `--chown` names); `scratch` a directory for ADD's
/// tar extraction.
pub fn entries(
    plan: &BuildPlan,
    state: &StageState,
    instruction: &Instruction,
    spec: &CopySpec,
    from: Option<FromRoot>,
    own: Option<&Root>,
    scratch: &Path,
) -> Result<Vec<LayerEntry>, BuildError> {
    let df = &plan.dockerfile;
    let line = instruction.line;
    let fail = |message: String| BuildError::Instruction {
        path: df.path.clone(),
        line,
        message,
    };
    let name = instruction.kind.name();
    let x = |word: &str| state.expand(word).map_err(|e| fail(e.to_string()));
    let (uid, gid) = match &spec.chown {
        Some(chown) => {
            let chown = x(chown)?;
            users::chown_ids(own, &chown).map_err(|e| {
                fail(match own {
                    Some(_) => format!("--chown={chown}: {e}"),
                    None => format!("--chown={chown}: {e} (names are resolved from the image's files; use numeric ids, e.g. 1000:1000, or add a RUN before this step)"),
                })
            })?
        }
        None => (0, 0),
    };
    let chmod = match &spec.chmod {
        Some(chmod) => {
            let v = x(chmod)?;
            Some(super::dockerfile::checks::chmod(&v).map_err(fail)?)
        }
        None => None,
    };
    let workdir = state
        .image
        .config
        .config
        .working_dir
        .clone()
        .unwrap_or_else(|| "/".into());
    let dest = x(&spec.dest)?;
    let top = Level::Top {
        owned: spec.chown.is_some(),
    };
    let mut out = Vec::new();
    let mut push = |path: String, data: EntryData, mode: u32| {
        let mode = match (&data, chmod) {
            (EntryData::Symlink { .. }, _) | (_, None) => mode,
            (_, Some(m)) => m,
        };
        out.push(LayerEntry {
            path,
            data,
            mode,
            uid,
            gid,
            mtime: None,
        });
    };
    if !spec.heredocs.is_empty() {
        for doc in &spec.heredocs {
            let content = if doc.expand {
                x(&doc.content)?
            } else {
                doc.content.clone()
            };
            let path = if dest.ends_with('/') || spec.heredocs.len() > 1 {
                join_path(&join_path(&workdir, &dest), &doc.name)
            } else {
                join_path(&workdir, &dest)
            };
            push(path, EntryData::Bytes(content.into_bytes()), 0o644);
        }
        return Ok(out);
    }
    let sources = spec
        .sources
        .iter()
        .map(|s| x(s))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(root) = from {
        let dest_dir = dest.ends_with('/') || sources.len() > 1;
        let dest_abs = join_path(&workdir, &dest);
        for word in &sources {
            for (source, is_dir) in
                expand_from(&root, word).map_err(|m| fail(format!("{name} --from: {m}")))?
            {
                let target = if is_dir {
                    dest_abs.clone()
                } else if dest_dir || has_wildcards(word) {
                    let base = source.rsplit('/').next().unwrap_or_default();
                    join_path(&dest_abs, base)
                } else {
                    dest_abs.clone()
                };
                from_root(&root, &source, &target, is_dir, top, &mut push)
                    .map_err(|e| fail(format!("{name} --from: reading {source}: {e}")))?;
            }
        }
        return Ok(out);
    }
    if let Some(url) = sources
        .iter()
        .find(|s| s.starts_with("http://") || s.starts_with("https://"))
    {
        return Err(BuildError::NotSupported {
            path: df.path.clone(),
            line,
            message: format!("{name} from a URL ({url}) is not supported yet"),
        });
    }
    let planned = context::plan_copy(&plan.context, &plan.ignore, &sources, &dest, &workdir)
        .map_err(|e| fail(e.to_string()))?;
    // A destination directory is written only when this step must say something about it:
    // an owner, or that it exists at all (an empty source). Otherwise an existing one keeps
    // its mode and owner, and a missing one is created 0755 root by the extractor.
    let holds_something = |dir: &str| {
        let prefix = format!("{dir}/");
        planned.iter().any(|e| e.dest.starts_with(&prefix))
    };
    let keep_dest: Vec<bool> = planned
        .iter()
        .map(|e| spec.chown.is_some() || !holds_something(&e.dest))
        .collect();
    let links: std::collections::HashMap<String, std::path::PathBuf> = planned
        .iter()
        .filter(|e| matches!(e.kind, context::EntryKind::Symlink { .. }))
        .map(|e| (e.dest.clone(), e.source.clone()))
        .collect();
    for (entry, keep) in planned.into_iter().zip(keep_dest) {
        match entry.kind {
            context::EntryKind::File { mode } => {
                if name == "ADD" && is_tar(&entry.source) {
                    let dir = extract_tar(&entry.source, scratch).map_err(|e| {
                        fail(format!("ADD: extracting {}: {e}", entry.source.display()))
                    })?;
                    let target = Path::new(&entry.dest)
                        .parent()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "/".into());
                    let target = if dest.ends_with('/') || sources.len() > 1 {
                        target
                    } else {
                        join_path(&workdir, &dest)
                    };
                    from_root(&dir, "/", &target, true, top, &mut push).map_err(|e| {
                        fail(format!("ADD: reading {}: {e}", entry.source.display()))
                    })?;
                    continue;
                }
                push(
                    entry.dest,
                    EntryData::File {
                        source: entry.source,
                    },
                    mode,
                )
            }
            context::EntryKind::Dir { mode } => push(entry.dest, EntryData::Dir, mode),
            context::EntryKind::DestDir if keep => push(entry.dest, EntryData::Dir, 0o755),
            context::EntryKind::DestDir => {}
            context::EntryKind::Symlink { target } => {
                push(entry.dest, EntryData::Symlink { target }, 0o777)
            }
        }
    }
    for entry in &mut out {
        let source = match &entry.data {
            EntryData::File { source } => Some(source),
            EntryData::Symlink { .. } => links.get(&entry.path),
            _ => None,
        };
        entry.mtime = source.and_then(|s| plan.source_times.of(s));
    }
    date_directories(&mut out);
    Ok(out)
}

/// Gives each directory the newest time of what it holds, so a directory's entry changes
/// only when something under it did; `None` (the build's epoch) if anything under it has
/// no commit time or it holds nothing.
fn date_directories(entries: &mut [LayerEntry]) {
    // Per directory: `Some(newest)` so far, or `None` once something below has no time.
    // One pass over each file's ancestors, so a large COPY stays linear in its depth.
    let mut newest: std::collections::HashMap<&str, Option<u64>> = std::collections::HashMap::new();
    for entry in entries.iter().filter(|e| e.data != EntryData::Dir) {
        let mut path = entry.path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            if parent.is_empty() {
                break;
            }
            let slot = newest.entry(parent).or_insert(Some(0));
            *slot = match (*slot, entry.mtime) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            path = parent;
        }
    }
    let times: Vec<Option<u64>> = entries
        .iter()
        .map(|e| match e.data {
            EntryData::Dir => newest.get(e.path.as_str()).copied().flatten(),
            _ => e.mtime,
        })
        .collect();
    for (entry, time) in entries.iter_mut().zip(times) {
        entry.mtime = time;
    }
}

/// The canonical paths a `--from` source word names, each with whether it is a directory.
fn expand_from(root: &Root, word: &str) -> Result<Vec<(String, bool)>, String> {
    let clean = join_path("/", word);
    let candidates: Vec<String> = if has_wildcards(&clean) {
        let (parent, pattern) = clean.rsplit_once('/').unwrap_or(("", &clean));
        let parent = if parent.is_empty() { "/" } else { parent };
        if has_wildcards(parent) {
            return Err(format!(
                "\"{word}\": wildcards only in the last path component"
            ));
        }
        let glob = Glob::new(pattern, false).map_err(|r| format!("\"{word}\": {r}"))?;
        let dir = root
            .dir(Path::new(parent), false)
            .map_err(|e| format!("\"{word}\": {e}"))?;
        let mut names: Vec<String> = list(dir.as_fd())
            .map_err(|e| format!("\"{word}\": {e}"))?
            .into_iter()
            .filter_map(|n| n.into_string().ok())
            .filter(|n| glob.matches(n))
            .collect();
        names.sort();
        names.into_iter().map(|n| join_path(parent, &n)).collect()
    } else {
        vec![clean]
    };
    let mut out = Vec::new();
    for path in candidates {
        let canonical = root
            .canonical(Path::new(&path))
            .map_err(|e| format!("\"{path}\" not found in the source ({e})"))?;
        let canonical = canonical.to_string_lossy().into_owned();
        let is_dir = root.dir(Path::new(&canonical), false).is_ok();
        out.push((canonical, is_dir));
    }
    Ok(out)
}

/// Adds `source` (a file, or a directory's contents) of `root` at `target`.
/// Where a directory sits in a `--from` copy: the one the instruction names, or below it.
#[derive(Clone, Copy)]
enum Level {
    Top { owned: bool },
    Nested,
}

fn from_root(
    root: &Arc<Root>,
    source: &str,
    target: &str,
    is_dir: bool,
    level: Level,
    push: &mut dyn FnMut(String, EntryData, u32),
) -> std::io::Result<()> {
    if !is_dir {
        let slot = root
            .slot(Path::new(source), false)?
            .ok_or_else(|| std::io::Error::other("the root is a directory"))?;
        let stat = rfs::statat(&slot.parent, &slot.name, AtFlags::SYMLINK_NOFOLLOW)?;
        push(
            target.to_string(),
            EntryData::InRoot {
                root: root.clone(),
                path: source.to_string(),
            },
            stat.st_mode as u32 & 0o7777,
        );
        return Ok(());
    }
    let dir = root.dir(Path::new(source), false)?;
    let stat = rfs::fstat(&dir)?;
    let mut names = list(dir.as_fd())?;
    names.sort();
    // The directory named by the instruction is a destination (see `DestDir`); the ones
    // below it are copied with their own modes.
    let written = match level {
        Level::Nested => Some(stat.st_mode as u32 & 0o7777),
        Level::Top { owned } => (owned || names.is_empty()).then_some(0o755),
    };
    if let (Some(mode), false) = (written, target == "/") {
        push(target.to_string(), EntryData::Dir, mode);
    }
    for name in names {
        let Some(name) = name.to_str().map(str::to_string) else {
            continue;
        };
        let child_source = join_path(source, &name);
        let child_target = join_path(target, &name);
        let stat = rfs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        let mode = stat.st_mode as u32 & 0o7777;
        match FileType::from_raw_mode(stat.st_mode as _) {
            FileType::Directory => from_root(
                root,
                &child_source,
                &child_target,
                true,
                Level::Nested,
                push,
            )?,
            FileType::Symlink => {
                let link = rfs::readlinkat(&dir, name.as_str(), Vec::new())?;
                push(
                    child_target,
                    EntryData::Symlink {
                        target: link.to_string_lossy().into_owned(),
                    },
                    0o777,
                );
            }
            FileType::RegularFile => push(
                child_target,
                EntryData::InRoot {
                    root: root.clone(),
                    path: child_source,
                },
                mode,
            ),
            _ => {}
        }
    }
    Ok(())
}

/// A local file ADD extracts: a tar archive, plain or gzip-compressed.
fn is_tar(path: &Path) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 512];
    let Ok(n) = file.read(&mut head) else {
        return false;
    };
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        let Ok(file) = std::fs::File::open(path) else {
            return false;
        };
        let mut gz = flate2::read::GzDecoder::new(file);
        let mut head = [0u8; 512];
        return gz.read_exact(&mut head).is_ok() && &head[257..262] == b"ustar";
    }
    n == 512 && &head[257..262] == b"ustar"
}

/// Extracts `archive` into a fresh directory under `scratch`, safely (as a layer).
fn extract_tar(archive: &Path, scratch: &Path) -> std::io::Result<Arc<Root>> {
    std::fs::create_dir_all(scratch)?;
    let dir = tempfile::Builder::new()
        .prefix("add-")
        .tempdir_in(scratch)?
        .keep();
    let root = Root::open(&dir)?;
    let file = std::fs::File::open(archive)?;
    super::unpack::apply_layer(&root, file, &archive.display().to_string())
        .map_err(std::io::Error::other)?;
    Ok(Arc::new(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, data: EntryData, mtime: Option<u64>) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            data,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime,
        }
    }

    #[test]
    fn a_directory_takes_the_newest_commit_time_below_it_or_none() {
        let file = |p: &str, t| entry(p, EntryData::Bytes(vec![]), t);
        let mut entries = vec![
            entry("/src", EntryData::Dir, None),
            entry("/src/a", EntryData::Dir, None),
            file("/src/a/x", Some(10)),
            file("/src/a/y", Some(30)),
            entry("/src/b", EntryData::Dir, None),
            file("/src/b/z", None), // changed since HEAD
            entry("/src/empty", EntryData::Dir, None),
            file("/src/top", Some(20)),
        ];
        date_directories(&mut entries);
        let times: Vec<Option<u64>> = entries.iter().map(|e| e.mtime).collect();
        assert_eq!(
            times,
            [
                None,
                Some(30),
                Some(10),
                Some(30),
                None,
                None,
                None,
                Some(20)
            ]
        );
    }
}

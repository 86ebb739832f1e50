//! What a RUN changed: two walks of the rootfs, compared, become a layer's entries.
//!
//! A [`Snapshot`] is one walk: for every path, the inode's identity and metadata (`lstat`:
//! device, inode, type and mode, owner, size, mtime, ctime, link count, rdev). The walk
//! goes through directory handles (`openat`/`fstatat` with no-follow), never host paths.
//!
//! **The stat prefilter is the change test.** Any write to a file changes its ctime, and
//! ctime cannot be set from user space (unlike the mtime kaniko keys on), so a path whose
//! (inode, size, mtime, ctime, mode, owner) are all unchanged has unchanged content; it is
//! never read. A path where any of them changed is a candidate and goes into the layer, the
//! way an overlay filesystem copies up any file whose metadata changed. Only candidates are
//! read, once, by the layer writer. Nothing is hashed twice.
//!
//! From the two walks, [`diff`] derives the layer:
//! - added and changed paths, each with all its ancestor directories as they are on disk
//!   (so `/tmp` keeps 1777 and `/home/app` its owner in the layer);
//! - deleted paths as `.wh.<name>`, only the topmost of a deleted tree;
//! - a directory that lost every entry it had (replaced, or emptied) as an opaque
//!   directory (`.wh..wh..opq`) followed by everything now in it. This is decided from the
//!   paths, never from inode numbers, which the filesystem may or may not reuse: the same
//!   RUN must give the same layer;
//! - several changed paths sharing one inode as one file and hard links to it.
//!
//! Paths in the skip list (`/proc`, `/sys`, `/dev`, the injected `/etc/resolv.conf` and
//! `/etc/hosts`, mount targets) are neither walked nor reported.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::layer::{EntryData, LayerEntry, NodeKind};
use super::rootfs::Root;

/// Paths a snapshot never looks at.
pub const ALWAYS_SKIPPED: &[&str] = &["/proc", "/sys", "/dev", "/etc/resolv.conf", "/etc/hosts"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub dev: u64,
    pub ino: u64,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub nlink: u64,
    pub rdev: u64,
}

impl Meta {
    fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.mode as _)
    }

    fn is_dir(&self) -> bool {
        self.file_type() == FileType::Directory
    }
}

/// One walk of a rootfs: absolute image path → metadata. The root itself is `/`.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub entries: BTreeMap<String, Meta>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read {path} while looking for changes")]
pub struct SnapshotError {
    pub path: String,
    #[source]
    pub source: io::Error,
}

/// Walks `root`, leaving out `skip` (absolute image paths, with their subtrees).
pub fn take(root: &Root, skip: &BTreeSet<String>) -> Result<Snapshot, SnapshotError> {
    let mut snapshot = Snapshot::default();
    let err = |path: &str| {
        let path = path.to_string();
        move |e: rustix::io::Errno| SnapshotError {
            path,
            source: e.into(),
        }
    };
    let meta = rfs::fstat(root.fd()).map_err(err("/"))?;
    snapshot.entries.insert("/".into(), to_meta(&meta));
    walk(root.fd(), "", skip, &mut snapshot)?;
    Ok(snapshot)
}

fn walk(
    dir: BorrowedFd<'_>,
    prefix: &str,
    skip: &BTreeSet<String>,
    out: &mut Snapshot,
) -> Result<(), SnapshotError> {
    let err = |path: &str| {
        let path = if path.is_empty() { "/" } else { path }.to_string();
        move |e: rustix::io::Errno| SnapshotError {
            path,
            source: e.into(),
        }
    };
    // A walk of a large rootfs takes seconds and holds the pipeline's thread; a cancel
    // must not wait for it.
    if super::sandbox::cancelled() {
        return Err(SnapshotError {
            path: if prefix.is_empty() { "/" } else { prefix }.to_string(),
            source: io::Error::other("cancelled"),
        });
    }
    let mut reader = rfs::Dir::read_from(dir).map_err(err(prefix))?;
    while let Some(entry) = reader.read() {
        let entry = entry.map_err(err(prefix))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            return Err(SnapshotError {
                path: format!("{prefix}/{}", String::from_utf8_lossy(name)),
                source: io::Error::other("file names must be UTF-8 to go into a layer"),
            });
        };
        let path = format!("{prefix}/{name}");
        if skip.contains(&path) {
            continue;
        }
        let stat = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(err(&path))?;
        let meta = to_meta(&stat);
        out.entries.insert(path.clone(), meta);
        if meta.is_dir() {
            let child = rfs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(err(&path))?;
            walk(child.as_fd(), &path, skip, out)?;
        }
    }
    Ok(())
}

// The stat field types differ between architectures.
#[allow(clippy::unnecessary_cast)]
fn to_meta(s: &rfs::Stat) -> Meta {
    Meta {
        dev: s.st_dev as u64,
        ino: s.st_ino as u64,
        mode: s.st_mode as u32,
        uid: s.st_uid,
        gid: s.st_gid,
        size: s.st_size as u64,
        mtime: (s.st_mtime as i64, s.st_mtime_nsec as i64),
        ctime: (s.st_ctime as i64, s.st_ctime_nsec as i64),
        nlink: s.st_nlink as u64,
        rdev: s.st_rdev as u64,
    }
}

/// The layer entries that turn `before` into `after`; files are read from `root` when the
/// layer is written.
pub fn diff(root: &Arc<Root>, before: &Snapshot, after: &Snapshot) -> Vec<LayerEntry> {
    let mut changed: BTreeSet<&str> = BTreeSet::new();
    let mut opaque: BTreeSet<&str> = BTreeSet::new();
    for (path, meta) in &after.entries {
        match before.entries.get(path) {
            None => {
                changed.insert(path);
            }
            Some(old) if old == meta => {}
            Some(old) => {
                // A directory whose only change is its entries (mtime/ctime, or a new inode
                // for the same name and metadata) is not itself a change: it is written when
                // something inside it is. Inode numbers never decide what goes into the
                // layer, since the filesystem may or may not reuse them.
                let only_listing = old.is_dir()
                    && meta.is_dir()
                    && old.mode == meta.mode
                    && old.uid == meta.uid
                    && old.gid == meta.gid;
                if !only_listing {
                    changed.insert(path);
                }
            }
        }
    }
    // A directory that still exists but lost every entry it had (emptied or replaced) is
    // opaque: decided from the paths alone, so the layer does not depend on inode reuse.
    let mut emptied: BTreeSet<&str> = BTreeSet::new();
    for path in before.entries.keys() {
        if !after.entries.contains_key(path) {
            if let Some((parent, _)) = path.rsplit_once('/') {
                if !parent.is_empty() && after.entries.get(parent).is_some_and(|m| m.is_dir()) {
                    emptied.insert(parent);
                }
            }
        }
    }
    for dir in emptied {
        let prefix = format!("{dir}/");
        let survivor = before
            .entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .any(|(p, _)| after.entries.contains_key(p));
        if !survivor && before.entries.get(dir).is_some_and(|m| m.is_dir()) {
            opaque.insert(dir);
        }
    }
    // Everything now inside an opaque directory goes into the layer.
    for dir in &opaque {
        let prefix = format!("{dir}/");
        for (path, _) in after.entries.range(prefix.clone()..) {
            if !path.starts_with(&prefix) {
                break;
            }
            changed.insert(path);
        }
    }

    let mut deleted: Vec<&str> = Vec::new();
    for path in before.entries.keys() {
        if after.entries.contains_key(path) {
            continue;
        }
        let covered = ancestors(path).any(|a| {
            // Inside a deleted tree, an opaque directory, or under a non-directory now.
            !after.entries.contains_key(a)
                || opaque.contains(a)
                || after.entries.get(a).is_some_and(|m| !m.is_dir())
        });
        if !covered {
            deleted.push(path);
        }
    }

    let mut entries: BTreeMap<String, LayerEntry> = BTreeMap::new();
    let with_ancestors = |path: &str, entries: &mut BTreeMap<String, LayerEntry>| {
        for a in ancestors(path) {
            if a != "/" && !entries.contains_key(a) {
                if let Some(meta) = after.entries.get(a) {
                    entries.insert(a.to_string(), entry_for(root, a, meta, None));
                }
            }
        }
    };
    let mut first_link: HashMap<(u64, u64), String> = HashMap::new();
    for path in &changed {
        if *path == "/" {
            continue;
        }
        let meta = &after.entries[*path];
        let link = if !meta.is_dir() && meta.nlink > 1 {
            match first_link.get(&(meta.dev, meta.ino)) {
                Some(first) => Some(first.clone()),
                None => {
                    first_link.insert((meta.dev, meta.ino), path.to_string());
                    None
                }
            }
        } else {
            None
        };
        with_ancestors(path, &mut entries);
        entries.insert(path.to_string(), entry_for(root, path, meta, link));
    }
    for dir in &opaque {
        let marker = format!("{dir}/.wh..wh..opq");
        entries.insert(marker.clone(), whiteout(marker));
    }
    for path in deleted {
        with_ancestors(path, &mut entries);
        let (parent, name) = path.rsplit_once('/').expect("absolute path");
        let marker = format!("{parent}/.wh.{name}");
        entries.insert(marker.clone(), whiteout(marker));
    }
    entries.into_values().collect()
}

/// `/a/b/c` → `/a/b`, `/a`, `/`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        if rest == "/" || rest.is_empty() {
            return None;
        }
        let (parent, _) = rest.rsplit_once('/')?;
        rest = if parent.is_empty() { "/" } else { parent };
        Some(rest)
    })
}

fn whiteout(path: String) -> LayerEntry {
    LayerEntry {
        path,
        data: EntryData::Bytes(Vec::new()),
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: None,
    }
}

fn entry_for(root: &Arc<Root>, path: &str, meta: &Meta, link: Option<String>) -> LayerEntry {
    let data = match (link, meta.file_type()) {
        (Some(target), _) => EntryData::Hardlink { target },
        (None, FileType::Directory) => EntryData::Dir,
        (None, FileType::Symlink) => {
            let target = std::path::Path::new(path);
            let slot = root.slot(target, false).ok().flatten();
            let target = slot
                .and_then(|s| rfs::readlinkat(&s.parent, &s.name, Vec::new()).ok())
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            EntryData::Symlink { target }
        }
        (None, FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
            let kind = match meta.file_type() {
                FileType::CharacterDevice => NodeKind::Char,
                FileType::BlockDevice => NodeKind::Block,
                _ => NodeKind::Fifo,
            };
            EntryData::Node {
                kind,
                major: rfs::major(meta.rdev as _),
                minor: rfs::minor(meta.rdev as _),
            }
        }
        // Sockets cannot be stored; an empty file keeps the name, as Docker does not.
        (None, FileType::Socket) => EntryData::Bytes(Vec::new()),
        (None, _) => EntryData::InRoot {
            root: root.clone(),
            path: path.to_string(),
        },
    };
    LayerEntry {
        path: path.to_string(),
        data,
        mode: meta.mode & 0o7777,
        uid: meta.uid as u64,
        gid: meta.gid as u64,
        mtime: Some(meta.mtime.0.max(0) as u64),
    }
}

/// The default skip list plus `extra` (mount targets of one RUN).
pub fn skip_list(extra: &[String]) -> BTreeSet<String> {
    ALWAYS_SKIPPED
        .iter()
        .map(|s| s.to_string())
        .chain(extra.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn kinds(entries: &[LayerEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| {
                let k = match &e.data {
                    EntryData::Dir => "dir".to_string(),
                    EntryData::InRoot { .. } => "file".into(),
                    EntryData::Bytes(_) => "marker".into(),
                    EntryData::Symlink { target } => format!("-> {target}"),
                    EntryData::Hardlink { target } => format!("link {target}"),
                    other => format!("{other:?}"),
                };
                format!("{} {k}", e.path)
            })
            .collect()
    }

    #[test]
    fn adds_changes_deletes_replaced_dirs_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r");
        fs::create_dir_all(p.join("etc")).unwrap();
        fs::create_dir_all(p.join("opt/sub")).unwrap();
        fs::create_dir_all(p.join("gone/deep")).unwrap();
        fs::create_dir_all(p.join("dev")).unwrap();
        fs::write(p.join("etc/keep"), "k").unwrap();
        fs::write(p.join("etc/change"), "c").unwrap();
        fs::write(p.join("etc/delete"), "d").unwrap();
        fs::write(p.join("opt/sub/old"), "o").unwrap();
        fs::write(p.join("gone/deep/x"), "x").unwrap();
        let root = Arc::new(Root::open(&p).unwrap());
        let skip = skip_list(&[]);
        let before = take(&root, &skip).unwrap();

        fs::write(p.join("etc/change"), "changed").unwrap();
        fs::remove_file(p.join("etc/delete")).unwrap();
        fs::remove_dir_all(p.join("opt/sub")).unwrap();
        fs::create_dir_all(p.join("opt/sub")).unwrap();
        fs::write(p.join("opt/sub/new"), "n").unwrap();
        fs::remove_dir_all(p.join("gone")).unwrap();
        fs::write(p.join("etc/new"), "n").unwrap();
        fs::hard_link(p.join("etc/new"), p.join("etc/new2")).unwrap();
        symlink("/etc/new", p.join("etc/sym")).unwrap();
        fs::write(p.join("dev/null"), "ignored").unwrap();
        let after = take(&root, &skip).unwrap();

        let got = kinds(&diff(&root, &before, &after));
        assert_eq!(
            got,
            [
                "/.wh.gone marker",
                "/etc dir",
                "/etc/.wh.delete marker",
                "/etc/change file",
                "/etc/new file",
                "/etc/new2 link /etc/new",
                "/etc/sym -> /etc/new",
                "/opt dir",
                "/opt/sub dir",
                "/opt/sub/.wh..wh..opq marker",
                "/opt/sub/new file",
            ]
        );
        // Nothing changed: nothing to write.
        let again = take(&root, &skip).unwrap();
        assert!(diff(&root, &after, &again).is_empty());
    }
}

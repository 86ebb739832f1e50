//! Applying image layers to a root filesystem on disk, safely.
//!
//! A layer is a tar stream (gzip-compressed or plain) applied on top of what is already in
//! the rootfs, with the OCI image-spec rules:
//!
//! - `.wh.<name>` deletes `<name>` (and everything under it) from the layers below;
//! - `.wh..wh..opq` in a directory deletes everything the layers below put there, while
//!   entries of this same layer survive (the marker may come before or after them);
//! - a non-directory replaces whatever was at its path; a directory entry over an existing
//!   directory only updates its metadata (the contents stay);
//! - hard links point at a path of the rootfs; symlink targets are stored verbatim.
//!
//! Names with a `..` component, and whiteouts that name no file (`.wh.`, `.wh..`,
//! `.wh...`), are refused with the layer and entry. Every other operation goes through
//! [`Root`] (see its docs): parents are resolved inside the root, the last component is
//! never followed, so absolute names, symlinks pointing out and hard links to outside all
//! stay inside. Ownership, modes
//! (set after the owner, so setuid bits survive) and mtimes are applied. Of device nodes,
//! only FIFOs and the [`HARMLESS_DEVICES`] are made (when the kernel lets us, `CAP_MKNOD`):
//! there is no device cgroup around RUN, so a block device `8:0` in a base layer would be
//! the host's disk, readable by whatever RUN executes; the others are skipped and counted.
//! Directory modes and times are applied when the layer is done, so a read-only directory
//! can still receive its entries.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{self, BufReader, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode};

use super::file_writers::{
    ids, set_owner_and_mode, timestamps, write_file, FileJob, FileMeta, FileWriters, MAX_JOB_BYTES,
};
use super::rootfs::{clean, list, remove_all, Root};

/// Zeros a GNU sparse entry may add to its stored data. The tar reader writes holes out
/// as real zeros, so 512 bytes claiming 10 GiB would fill the disk; real images are
/// written without sparse entries (Go's archive/tar cannot write them), so this is ample.
const MAX_SPARSE_HOLES: u64 = 1 << 30;

/// Why a sparse entry claiming `size` bytes is refused, if it is.
fn sparse_bomb(header: &tar::Header, size: u64) -> Option<String> {
    if !header.entry_type().is_gnu_sparse() {
        return None;
    }
    let stored = header.entry_size().unwrap_or(0);
    let gib = |n: u64| n as f64 / f64::from(1 << 30);
    (size.saturating_sub(stored) > MAX_SPARSE_HOLES).then(|| {
        format!(
            "a sparse file claiming {:.1} GiB from {stored} bytes of data; at most {:.0} GiB \
             of holes are unpacked",
            gib(size),
            gib(MAX_SPARSE_HOLES)
        )
    })
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer {layer}: the archive is unreadable")]
    Archive {
        layer: String,
        #[source]
        source: io::Error,
    },
    #[error("layer {layer}: cannot apply entry `{entry}`")]
    Entry {
        layer: String,
        entry: String,
        #[source]
        source: io::Error,
    },
    #[error("layer {layer}: entry `{entry}` is refused: {problem}")]
    Escape {
        layer: String,
        entry: String,
        problem: String,
    },
    #[error("layer {layer} is compressed with zstd, which the builder cannot unpack yet")]
    Zstd { layer: String },
}

/// What applying one layer did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub entries: u64,
    /// Device nodes that could not be made (no `CAP_MKNOD`).
    pub devices_skipped: u64,
    /// Device nodes not made because they are not harmless: the first one's path, and how
    /// many.
    pub devices_refused: Option<(String, u64)>,
}

/// The character devices a command may expect and no command can harm the host through:
/// `(name under /dev, major, minor)`.
pub const HARMLESS_DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Applies the layer read from `blob` (`layer` names it in errors) to `root`.
pub fn apply_layer(
    root: &Root,
    blob: impl Read + Send,
    layer: &str,
) -> Result<Applied, UnpackError> {
    apply(root, blob, layer, FileWriters::for_this_machine())
}

fn apply(
    root: &Root,
    blob: impl Read + Send,
    layer: &str,
    writers: FileWriters,
) -> Result<Applied, UnpackError> {
    let mut reader = BufReader::with_capacity(1 << 16, blob);
    let magic = {
        use std::io::BufRead;
        let buf = reader.fill_buf().map_err(|source| UnpackError::Archive {
            layer: layer.to_string(),
            source,
        })?;
        buf.get(..4).map(|m| [m[0], m[1], m[2], m[3]])
    };
    match magic {
        Some([0x1f, 0x8b, _, _]) => {
            super::inflate::inflated(reader, |tar| apply_tar(root, tar, layer, writers))
        }
        Some([0x28, 0xb5, 0x2f, 0xfd]) => Err(UnpackError::Zstd {
            layer: layer.to_string(),
        }),
        _ => apply_tar(root, reader, layer, writers),
    }
}

/// Why an entry name (or hard-link target) could reach outside the root, if it could.
///
/// A `..` component is refused rather than clamped, as Docker's own extractor does: no
/// image a real tool writes has one, and a whiteout that keeps `..` or `.` after its
/// `.wh.` prefix (`.wh...`, `.wh..`) would otherwise delete the directory holding the
/// build root, or the root's own parent entry.
fn escaping(name: &[u8]) -> Option<String> {
    let mut parts = name.split(|b| *b == b'/').filter(|p| !p.is_empty());
    if parts.any(|p| p == b"..") {
        return Some("it has a `..` component, which would point outside the image".into());
    }
    let last = name
        .split(|b| *b == b'/')
        .rfind(|p| !p.is_empty() && *p != b".")?;
    match last.strip_prefix(b".wh.") {
        Some(b"") | Some(b".") | Some(b"..") => Some(format!(
            "a whiteout must name one file in its directory, and `{}` names none",
            String::from_utf8_lossy(last)
        )),
        _ => None,
    }
}

fn apply_tar(
    root: &Root,
    stream: impl Read,
    layer: &str,
    writers: FileWriters,
) -> Result<Applied, UnpackError> {
    let archive_err = |source| UnpackError::Archive {
        layer: layer.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(stream);
    let mut applied = Applied::default();
    // Paths written by this layer: an opaque marker must not delete them.
    let mut this_layer: HashSet<PathBuf> = HashSet::new();
    // On an empty root (a stage's first layer) nothing exists but what this layer made, so
    // a path that is neither an entry seen so far nor an ancestor of one needs no lookup
    // (the lookups cost as much as a tenth of the unpack, waiting on directory locks).
    let fresh = root
        .dir(Path::new("/"), false)
        .and_then(|fd| list(fd.as_fd()))
        .map_err(archive_err)?
        .is_empty();
    let mut made: HashSet<PathBuf> = HashSet::new();
    let mut opaque: Vec<PathBuf> = Vec::new();
    // Directories of this layer and their metadata, set once their entries are in.
    let mut dirs: Vec<(PathBuf, FileMeta)> = Vec::new();
    // Paths of files still with the writers, and the last parent handle resolved.
    let mut in_flight: HashSet<PathBuf> = HashSet::new();
    let mut last_parent: Option<(PathBuf, Arc<OwnedFd>)> = None;
    let settle = |in_flight: &mut HashSet<PathBuf>| -> Result<(), UnpackError> {
        in_flight.clear();
        writers
            .settle()
            .map_err(|(entry, source)| UnpackError::Entry {
                layer: layer.to_string(),
                entry,
                source,
            })
    };
    for entry in archive.entries().map_err(archive_err)? {
        // A cancelled publish has already let go of this rootfs and is removing it.
        if super::sandbox::cancelled() {
            return Err(archive_err(io::Error::other("cancelled")));
        }
        let mut entry = entry.map_err(archive_err)?;
        let raw = entry.path_bytes().into_owned();
        let entry_err = |source: io::Error| UnpackError::Entry {
            layer: layer.to_string(),
            entry: String::from_utf8_lossy(&raw).into_owned(),
            source,
        };
        if let Some(problem) = escaping(&raw) {
            return Err(UnpackError::Escape {
                layer: layer.to_string(),
                entry: String::from_utf8_lossy(&raw).into_owned(),
                problem,
            });
        }
        let path: PathBuf = clean(Path::new(std::ffi::OsStr::from_bytes(&raw)))
            .into_iter()
            .collect();
        applied.entries += 1;
        let name = match path.file_name() {
            Some(n) => n.to_os_string(),
            None => continue, // `./`: the root itself keeps its metadata
        };
        let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let name_bytes = name.as_bytes();
        if name_bytes == b".wh..wh..opq" {
            opaque.push(parent);
            continue;
        }
        if let Some(hidden) = name_bytes.strip_prefix(b".wh.") {
            settle(&mut in_flight)?;
            last_parent = None;
            let hidden = std::ffi::OsStr::from_bytes(hidden);
            match root.dir(&parent, false) {
                Ok(dir) => remove_all(dir.as_fd(), hidden).map_err(entry_err)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(entry_err(e)),
            }
            continue;
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mode = header.mode().map_err(entry_err)? & 0o7777;
        let uid = header.uid().map_err(entry_err)?;
        let gid = header.gid().map_err(entry_err)?;
        let mtime = header.mtime().map_err(entry_err)?;
        // A later entry for a file in flight, or for something below it, waits for it.
        if !in_flight.is_empty() && path.ancestors().any(|p| in_flight.contains(p)) {
            settle(&mut in_flight)?;
        }
        let dir = match &last_parent {
            Some((cached, dir)) if *cached == parent => Arc::clone(dir),
            _ => {
                let slot = root
                    .slot(&path, true)
                    .map_err(entry_err)?
                    .expect("a named path has a parent");
                let dir = Arc::new(slot.parent);
                last_parent = Some((parent.clone(), Arc::clone(&dir)));
                dir
            }
        };
        let existing = if fresh && !made.contains(&path) {
            None
        } else {
            match rfs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(s) => Some(s),
                Err(rustix::io::Errno::NOENT) => None,
                Err(e) => return Err(entry_err(e.into())),
            }
        };
        if fresh {
            for known in path.ancestors() {
                if !made.insert(known.to_path_buf()) {
                    break;
                }
            }
        }
        let existing_is_dir = existing
            .as_ref()
            .is_some_and(|s| FileType::from_raw_mode(s.st_mode as _) == FileType::Directory);
        this_layer.insert(path.clone());

        if kind.is_dir() {
            if !existing_is_dir {
                if existing.is_some() {
                    remove_all(dir.as_fd(), &name).map_err(entry_err)?;
                }
                // Owner-writable until its entries are in (its own mode comes last), and
                // otherwise as it will be, so that most need no chmod then.
                let bits = (mode & 0o777) | 0o700;
                rfs::mkdirat(&dir, &name, Mode::from_raw_mode(bits))
                    .map_err(|e| entry_err(e.into()))?;
            }
            let meta = FileMeta {
                mode,
                uid,
                gid,
                mtime,
            };
            dirs.push((path, meta));
            continue;
        }
        if existing_is_dir && !kind.is_dir() {
            // About to be removed: nothing may still be writing into it, and no handle
            // to it may be reused.
            settle(&mut in_flight)?;
            last_parent = None;
        }
        if kind.is_hard_link() {
            settle(&mut in_flight)?;
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| entry_err(io::Error::other("hard link without a target")))?;
            if let Some(problem) = escaping(&target) {
                return Err(UnpackError::Escape {
                    layer: layer.to_string(),
                    entry: String::from_utf8_lossy(&raw).into_owned(),
                    problem: format!("its hard-link target {problem}"),
                });
            }
            let target = Path::new(std::ffi::OsStr::from_bytes(&target)).to_path_buf();
            let to = root
                .slot(&target, false)
                .map_err(entry_err)?
                .ok_or_else(|| entry_err(io::Error::other("hard link to the root")))?;
            let target_stat = rfs::statat(&to.parent, &to.name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| entry_err(e.into()))?;
            if let Some(s) = &existing {
                if s.st_ino == target_stat.st_ino && s.st_dev == target_stat.st_dev {
                    continue;
                }
                remove_all(dir.as_fd(), &name).map_err(entry_err)?;
            }
            if FileType::from_raw_mode(target_stat.st_mode as _) == FileType::Directory {
                return Err(entry_err(io::Error::other("hard link to a directory")));
            }
            rfs::linkat(&to.parent, &to.name, &dir, &name, AtFlags::empty())
                .map_err(|e| entry_err(e.into()))?;
            continue;
        }
        if existing.is_some() {
            remove_all(dir.as_fd(), &name).map_err(entry_err)?;
        }
        let times = timestamps(mtime);
        match kind {
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| entry_err(io::Error::other("symlink without a target")))?;
                rfs::symlinkat(std::ffi::OsStr::from_bytes(&target), &dir, &name)
                    .map_err(|e| entry_err(e.into()))?;
                chown_at(&dir, &name, uid, gid).map_err(entry_err)?;
                let _ = rfs::utimensat(&dir, &name, &times, AtFlags::SYMLINK_NOFOLLOW);
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let file_type = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let harmless = kind == tar::EntryType::Fifo
                    || (kind == tar::EntryType::Char
                        && HARMLESS_DEVICES
                            .iter()
                            .any(|(_, ma, mi)| (*ma, *mi) == (major, minor)));
                if !harmless {
                    let refused = applied
                        .devices_refused
                        .get_or_insert_with(|| (String::from_utf8_lossy(&raw).into_owned(), 0));
                    refused.1 += 1;
                    continue;
                }
                let dev = rfs::makedev(major, minor);
                match rfs::mknodat(&dir, &name, file_type, Mode::from_raw_mode(mode), dev) {
                    Ok(()) => {
                        chown_at(&dir, &name, uid, gid).map_err(entry_err)?;
                        let _ =
                            rfs::chmodat(&dir, &name, Mode::from_raw_mode(mode), AtFlags::empty());
                    }
                    Err(rustix::io::Errno::PERM) => applied.devices_skipped += 1,
                    Err(e) => return Err(entry_err(e.into())),
                }
            }
            _ => {
                // Regular files (and unknown kinds, written as files like other tools do).
                if let Some(problem) = sparse_bomb(&header, entry.size()) {
                    return Err(UnpackError::Escape {
                        layer: layer.to_string(),
                        entry: String::from_utf8_lossy(&raw).into_owned(),
                        problem,
                    });
                }
                let meta = FileMeta {
                    mode,
                    uid,
                    gid,
                    mtime,
                };
                let small = kind == tar::EntryType::Regular && entry.size() <= MAX_JOB_BYTES;
                if writers.enabled() && small {
                    let mut content = Vec::with_capacity(entry.size() as usize);
                    entry.read_to_end(&mut content).map_err(archive_err)?;
                    let job = FileJob {
                        dir,
                        name,
                        content,
                        meta,
                        entry: String::from_utf8_lossy(&raw).into_owned(),
                    };
                    in_flight.insert(path);
                    writers
                        .send(job)
                        .map_err(|(entry, source)| UnpackError::Entry {
                            layer: layer.to_string(),
                            entry,
                            source,
                        })?;
                } else {
                    write_file(&dir, &name, &mut entry, meta).map_err(entry_err)?;
                }
            }
        }
    }
    settle(&mut in_flight)?;
    drop(writers);
    for dir in opaque {
        clear_lower(root, &dir, &this_layer).map_err(|source| UnpackError::Entry {
            layer: layer.to_string(),
            entry: format!("{}/.wh..wh..opq", dir.display()),
            source,
        })?;
    }
    // Deepest first, so a directory's mtime is set after its children were made.
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    for (path, meta) in dirs {
        let set = || -> io::Result<()> {
            let fd = root.dir(&path, false)?;
            set_owner_and_mode(&fd, meta)?;
            rfs::futimens(&fd, &timestamps(meta.mtime))?;
            Ok(())
        };
        set().map_err(|source| UnpackError::Entry {
            layer: layer.to_string(),
            entry: format!("{}/", path.display()),
            source,
        })?;
    }
    Ok(applied)
}

/// The opaque marker: removes what lower layers put in `dir`, keeping this layer's entries.
fn clear_lower(root: &Root, dir: &Path, keep: &HashSet<PathBuf>) -> io::Result<()> {
    let fd = root.dir(dir, true)?;
    let kept_below: HashSet<OsString> = keep
        .iter()
        .filter_map(|p| p.strip_prefix(dir).ok())
        .filter_map(|rest| rest.components().next())
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    for name in list(fd.as_fd())? {
        if !kept_below.contains(&name) {
            remove_all(fd.as_fd(), &name)?;
        }
    }
    Ok(())
}

fn chown_at(dir: impl AsFd, name: &std::ffi::OsStr, uid: u64, gid: u64) -> io::Result<()> {
    let ids = ids(uid, gid);
    match rfs::chownat(
        dir,
        name,
        Some(ids.0),
        Some(ids.1),
        AtFlags::SYMLINK_NOFOLLOW,
    ) {
        Ok(()) | Err(rustix::io::Errno::PERM) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// An empty root at `<dir>/r`, with the directory that holds it.
    fn empty_root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(&dir.path().join("r")).unwrap();
        (dir, root)
    }

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    /// Writes a raw name into a header (the tar crate refuses `..` through set_path).
    fn raw(
        b: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        name: &str,
        link: &str,
        data: &[u8],
    ) {
        let mut h = header(kind, 0o644, data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    /// The unpack with the reader writing every file, and with two writer threads (which
    /// only machines of four cores or more use).
    const WRITERS: [usize; 2] = [0, 2];

    fn apply_with(
        writers: usize,
        root: &Root,
        blob: &[u8],
        layer: &str,
    ) -> Result<Applied, UnpackError> {
        apply(root, blob, layer, FileWriters::start(writers))
    }

    #[test]
    fn whiteouts_opaque_links_and_modes() {
        for writers in WRITERS {
            let (dir, root) = empty_root();
            let lower = tar_of(|b| {
                raw(b, tar::EntryType::Directory, "etc/", "", b"");
                raw(b, tar::EntryType::Regular, "etc/a", "", b"a");
                raw(b, tar::EntryType::Regular, "etc/b", "", b"b");
                raw(b, tar::EntryType::Directory, "opt/", "", b"");
                raw(b, tar::EntryType::Regular, "opt/old", "", b"o");
                let mut h = header(tar::EntryType::Regular, 0o4755, 1);
                b.append_data(&mut h, "bin/su", &b"x"[..]).unwrap();
            });
            apply_with(writers, &root, &lower[..], "lower").unwrap();
            let upper = tar_of(|b| {
                raw(b, tar::EntryType::Regular, "etc/.wh.a", "", b"");
                raw(b, tar::EntryType::Regular, "opt/new", "", b"n");
                raw(b, tar::EntryType::Regular, "opt/.wh..wh..opq", "", b"");
                raw(b, tar::EntryType::Link, "etc/hard", "etc/b", b"");
                raw(b, tar::EntryType::Symlink, "etc/link", "/etc/b", b"");
            });
            apply_with(writers, &root, &upper[..], "upper").unwrap();
            let p = dir.path().join("r");
            assert!(!p.join("etc/a").exists());
            assert!(p.join("etc/b").exists());
            assert!(!p.join("opt/old").exists());
            assert_eq!(std::fs::read(p.join("opt/new")).unwrap(), b"n");
            assert_eq!(
                std::fs::metadata(p.join("etc/hard")).unwrap().ino(),
                std::fs::metadata(p.join("etc/b")).unwrap().ino()
            );
            assert_eq!(
                std::fs::read_link(p.join("etc/link")).unwrap(),
                Path::new("/etc/b")
            );
            assert_eq!(
                std::fs::metadata(p.join("bin/su")).unwrap().mode() & 0o7777,
                0o4755
            );
        }
    }

    /// A first layer skips the lookups (the root was empty), so what it says twice, or
    /// first as a parent and then as a file, must still end as its last entry says.
    #[test]
    fn a_first_layer_that_repeats_paths_ends_as_its_last_entries_say() {
        for writers in WRITERS {
            let (dir, root) = empty_root();
            let layer = tar_of(|b| {
                raw(b, tar::EntryType::Regular, "etc/motd", "", b"first");
                raw(b, tar::EntryType::Regular, "x/y/z", "", b"deep");
                raw(b, tar::EntryType::Regular, "etc/motd", "", b"second");
                raw(b, tar::EntryType::Regular, "x/y", "", b"a file now");
                raw(b, tar::EntryType::Directory, "x/", "", b"");
                raw(b, tar::EntryType::Link, "etc/motd-link", "etc/motd", b"");
            });
            apply_with(writers, &root, &layer[..], "first").unwrap();
            let p = dir.path().join("r");
            assert_eq!(std::fs::read(p.join("etc/motd")).unwrap(), b"second");
            assert_eq!(std::fs::read(p.join("x/y")).unwrap(), b"a file now");
            assert_eq!(std::fs::read(p.join("etc/motd-link")).unwrap(), b"second");
        }
    }

    /// Owner and mode are changed only where the create did not give them already: what
    /// the umask takes away, set-id and sticky bits, and another owner must still be set.
    #[test]
    fn owners_and_modes_the_create_cannot_give_are_still_set() {
        let as_root = rustix::process::geteuid().is_root();
        for writers in WRITERS {
            let (dir, root) = empty_root();
            let layer = tar_of(|b| {
                for (kind, path, mode, uid, gid) in [
                    (tar::EntryType::Directory, "tmp/", 0o1777, 0, 0),
                    (tar::EntryType::Directory, "home/u/", 0o750, 1000, 42),
                    (tar::EntryType::Regular, "home/u/notes", 0o664, 1000, 42),
                    (tar::EntryType::Regular, "etc/shadow", 0o640, 0, 42),
                    (tar::EntryType::Regular, "etc/motd", 0o644, 0, 0),
                    (tar::EntryType::Regular, "usr/bin/locked", 0o000, 0, 0),
                ] {
                    let mut h = header(kind, mode, 0);
                    h.set_uid(uid);
                    h.set_gid(gid);
                    b.append_data(&mut h, path, &b""[..]).unwrap();
                }
            });
            apply_with(writers, &root, &layer[..], "modes").unwrap();
            let p = dir.path().join("r");
            for (path, mode, uid, gid) in [
                ("tmp", 0o1777, 0, 0),
                ("home/u", 0o750, 1000, 42),
                ("home/u/notes", 0o664, 1000, 42),
                ("etc/shadow", 0o640, 0, 42),
                ("etc/motd", 0o644, 0, 0),
                ("usr/bin/locked", 0o000, 0, 0),
            ] {
                let meta = std::fs::symlink_metadata(p.join(path)).unwrap();
                assert_eq!(meta.mode() & 0o7777, mode, "{path} with {writers} writers");
                if as_root {
                    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{path}");
                }
            }
        }
    }

    #[test]
    fn names_that_climb_out_are_refused() {
        for (name, link, says) in [
            ("../../escape", "", "`..` component"),
            ("etc/../../escape", "", "`..` component"),
            (".wh...", "", "names none"),
            ("etc/.wh..", "", "names none"),
            ("./.wh.", "", "names none"),
            ("hl", "../victim", "hard-link target"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let root = Root::open(&dir.path().join("builds/r")).unwrap();
            std::fs::write(dir.path().join("builds/victim"), "host").unwrap();
            std::fs::create_dir(dir.path().join("builds/r/etc")).unwrap();
            let kind = match link {
                "" => tar::EntryType::Regular,
                _ => tar::EntryType::Link,
            };
            let layer = tar_of(|b| raw(b, kind, name, link, b""));
            let err = apply_layer(&root, &layer[..], "sha256:abc").unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("layer sha256:abc: entry `{name}` is refused"))
                    && text.contains(says),
                "{name}: {text}"
            );
            assert_eq!(
                std::fs::read(dir.path().join("builds/victim")).unwrap(),
                b"host"
            );
            assert!(dir.path().join("builds/r/etc").is_dir(), "{name}");
        }
    }

    #[test]
    fn hostile_entries_stay_inside() {
        let (dir, root) = empty_root();
        std::fs::write(dir.path().join("victim"), "host").unwrap();
        let layer = tar_of(|b| {
            raw(b, tar::EntryType::Regular, "/escape", "", b"x");
            raw(b, tar::EntryType::Symlink, "up", "../..", b"");
            raw(b, tar::EntryType::Regular, "up/escape2", "", b"x");
            raw(b, tar::EntryType::Symlink, "abs", "/", b"");
            raw(b, tar::EntryType::Regular, "abs/escape3", "", b"x");
            raw(b, tar::EntryType::Link, "hl", "/victim", b"");
        });
        // The hard link names `/victim` inside the root, which does not exist.
        let err = apply_layer(&root, &layer[..], "hostile").unwrap_err();
        assert!(err.to_string().contains("hl"), "{err}");
        let p = dir.path().join("r");
        for name in ["escape", "escape2", "escape3"] {
            assert!(p.join(name).is_file(), "{name}");
            assert!(!dir.path().join(name).exists(), "{name}");
        }
        assert_eq!(std::fs::read(dir.path().join("victim")).unwrap(), b"host");
    }

    #[test]
    fn a_sparse_entry_claiming_gigabytes_is_refused_not_written() {
        let (dir, root) = empty_root();
        let claimed: u64 = 10 << 30;
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_path("big").unwrap();
        h.set_mode(0o644);
        h.set_size(512);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(claimed);
        gnu.sparse[0].set_offset(claimed - 512);
        gnu.sparse[0].set_length(512);
        h.set_cksum();
        let layer = tar_of(|b| b.append(&h, &[7u8; 512][..]).unwrap());
        let err = apply_layer(&root, &layer[..], "sha256:abc")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "layer sha256:abc: entry `big` is refused: a sparse file claiming 10.0 GiB"
            ),
            "{err}"
        );
        assert!(!dir.path().join("r/big").exists());
    }
}

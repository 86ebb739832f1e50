//! A root filesystem on disk, reached only through a directory handle.
//!
//! Everything the builder does inside an image's files (unpacking layers, preparing a RUN,
//! reading `/etc/passwd`, snapshotting, copying out of a stage) goes through [`Root`]. The
//! rootfs is untrusted: a base layer may hold `../` names, symlinks pointing at `/etc` or at
//! `../../..`, and a RUN may leave anything behind. So no host path is ever joined and
//! handed to `std::fs`. Instead:
//!
//! - a path is first cleaned **lexically** ([`clean`]): `.` dropped, `..` clamped at `/`;
//! - its parent directories are then walked **one component at a time** from the root
//!   handle with `openat(O_NOFOLLOW|O_DIRECTORY)`. A symlink met on the way is read and
//!   followed *as if the rootfs were `/`*: an absolute target restarts at the root handle,
//!   and `..` never climbs above it: the semantics of `openat2(RESOLVE_IN_ROOT)`, which
//!   does the walk in one system call where the kernel has it (5.6+, and no seccomp
//!   profile refusing it); the component walk is kept for the kernels that do not, for
//!   the directories it must create, and as the last word on any error;
//! - the **last component is never followed**: callers create, replace or remove exactly
//!   that name inside the parent's handle (kaniko's CVE-2026-28406 came from following it).
//!
//! Invariant: every file this module creates, changes or removes is inside the root.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};

/// How many symlinks one resolution may follow before it is called a loop (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// Set once `openat2` is refused (a kernel before 5.6, or a container's seccomp profile):
/// from then on every walk goes component by component.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// An open root directory.
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
    path: PathBuf,
}

impl PartialEq for Root {
    fn eq(&self, other: &Root) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Root {}

/// A name inside a directory handle: where a create, replace or remove happens.
pub struct Slot {
    pub parent: OwnedFd,
    pub name: OsString,
}

impl Root {
    /// Opens (and, if needed, creates) the directory at `path` as a root.
    pub fn open(path: &Path) -> io::Result<Root> {
        std::fs::create_dir_all(path)?;
        let dir = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// The host path of the root, for messages and for `chroot` (which needs a path).
    pub fn host_path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// The directory `path` (cleaned, every component followed inside the root). With
    /// `create`, missing directories are made (0755, owned by the caller).
    pub fn dir(&self, path: &Path, create: bool) -> io::Result<OwnedFd> {
        let parts: VecDeque<OsString> = clean(path).into_iter().collect();
        self.walk(parts, create)
    }

    /// The parent handle and last name of `path`; `None` for the root itself.
    pub fn slot(&self, path: &Path, create_parents: bool) -> io::Result<Option<Slot>> {
        let mut parts = clean(path);
        let Some(name) = parts.pop() else {
            return Ok(None);
        };
        let parent = self.walk(parts.into_iter().collect(), create_parents)?;
        Ok(Some(Slot { parent, name }))
    }

    /// Opens the file at `path` for reading, following symlinks inside the root (also the
    /// last component, as a program inside the image would).
    pub fn open_file(&self, path: &Path) -> io::Result<File> {
        let mut target = clean(path);
        for _ in 0..MAX_SYMLINKS {
            let Some(name) = target.pop() else {
                return Err(io::Error::from(io::ErrorKind::IsADirectory));
            };
            let parent = self.walk(target.iter().cloned().collect(), false)?;
            match rfs::openat(
                &parent,
                &name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => return Ok(File::from(fd)),
                Err(rustix::io::Errno::LOOP) => {
                    let link = rfs::readlinkat(&parent, &name, Vec::new())?;
                    let link = Path::new(OsStr::from_bytes(link.as_bytes()));
                    if !link.is_absolute() {
                        let mut base = PathBuf::from("/");
                        base.extend(&target);
                        target = clean(&base.join(link));
                    } else {
                        target = clean(link);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::from_raw_os_error(libc::ELOOP))
    }

    /// The path `path` names after following every symlink inside the root, as an
    /// absolute image path.
    pub fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        let mut names: Vec<OsString> = Vec::new();
        let mut parts: VecDeque<OsString> = clean(path).into_iter().collect();
        let mut links = 0;
        while let Some(part) = parts.pop_front() {
            if part == ".." {
                names.pop();
                continue;
            }
            let dir = self.walk(names.iter().cloned().collect(), false)?;
            match rfs::readlinkat(&dir, &part, Vec::new()) {
                Ok(target) => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                    if target.is_absolute() {
                        names.clear();
                    }
                    for component in target.components().rev() {
                        match component {
                            Component::Normal(n) => parts.push_front(n.to_os_string()),
                            Component::ParentDir => parts.push_front("..".into()),
                            _ => {}
                        }
                    }
                }
                Err(rustix::io::Errno::INVAL) => names.push(part),
                Err(e) => return Err(e.into()),
            }
        }
        let mut out = PathBuf::from("/");
        out.extend(names);
        Ok(out)
    }

    /// Reads a small file (e.g. `/etc/passwd`) following symlinks inside the root.
    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_file(path)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// The directory `parts` name, every symlink followed inside the root: by the kernel
    /// when it can, else (or when that fails in any way but a plain "not a directory") by
    /// the component walk, whose answer stands.
    fn walk(&self, parts: VecDeque<OsString>, create: bool) -> io::Result<OwnedFd> {
        if parts.is_empty() || NO_OPENAT2.load(Ordering::Relaxed) {
            return self.walk_components(parts, create);
        }
        let path = parts
            .iter()
            .map(|p| p.as_bytes())
            .collect::<Vec<_>>()
            .join(&b'/');
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let resolve = rfs::ResolveFlags::IN_ROOT | rfs::ResolveFlags::NO_MAGICLINKS;
        match rfs::openat2(
            &self.dir,
            OsStr::from_bytes(&path),
            flags,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::NOTDIR) => {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR))
            }
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                NO_OPENAT2.store(true, Ordering::Relaxed);
            }
            // ENOENT (maybe to be created), ELOOP (a magic link the walk may follow),
            // EAGAIN (a rename raced the lookup), and the rest: the walk decides.
            Err(_) => {}
        }
        self.walk_components(parts, create)
    }

    /// [`Root::walk`] one `openat(O_NOFOLLOW)` per component, symlinks read and followed
    /// by hand.
    fn walk_components(&self, mut parts: VecDeque<OsString>, create: bool) -> io::Result<OwnedFd> {
        let mut stack: Vec<OwnedFd> = vec![rustix::io::dup(&self.dir)?];
        let mut links = 0;
        while let Some(part) = parts.pop_front() {
            if part == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            if part.is_empty() || part == "." {
                continue;
            }
            let top = stack.last().expect("the root is never popped");
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rfs::openat(top, &part, flags, Mode::empty()) {
                Ok(fd) => stack.push(fd),
                Err(rustix::io::Errno::NOENT) if create => {
                    match rfs::mkdirat(top, &part, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    stack.push(rfs::openat(top, &part, flags, Mode::empty())?);
                }
                Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                    // A symlink (ELOOP with O_NOFOLLOW) is followed inside the root; any other
                    // non-directory is an error.
                    let target = match rfs::readlinkat(top, &part, Vec::new()) {
                        Ok(t) => t,
                        Err(rustix::io::Errno::INVAL) => return Err(e.into()),
                        Err(e) => return Err(e.into()),
                    };
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                    if target.is_absolute() {
                        stack.truncate(1);
                    }
                    for component in target.components().rev() {
                        match component {
                            Component::Normal(n) => parts.push_front(n.to_os_string()),
                            Component::ParentDir => parts.push_front("..".into()),
                            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(stack.pop().expect("the root is never popped"))
    }
}

/// `path` as components, lexically cleaned: `.` dropped and `..` clamped at the root.
pub fn clean(path: &Path) -> Vec<OsString> {
    let mut parts: Vec<OsString> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(n) => parts.push(n.to_os_string()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    parts
}

/// Removes `name` in `parent` and, for a directory, everything below it; symlinks are
/// removed, never followed. A missing name is not an error.
pub fn remove_all(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let stat = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(s) => s,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if rfs::FileType::from_raw_mode(stat.st_mode as _) == rfs::FileType::Directory {
        let dir = rfs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        for child in list(dir.as_fd())? {
            remove_all(dir.as_fd(), &child)?;
        }
        rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    } else {
        rfs::unlinkat(parent, name, AtFlags::empty())?;
    }
    Ok(())
}

/// The names in a directory, without `.` and `..`, in no particular order.
pub fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    let mut reader = rfs::Dir::read_from(dir)?;
    while let Some(entry) = reader.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn clean_table() {
        let c = |p: &str| {
            clean(Path::new(p))
                .iter()
                .map(|s| s.to_string_lossy().to_string())
                .collect::<Vec<_>>()
                .join("/")
        };
        assert_eq!(c("/a/./b/"), "a/b");
        assert_eq!(c("../../etc/passwd"), "etc/passwd");
        assert_eq!(c("a/../../b"), "b");
        assert_eq!(c("/"), "");
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let outer = tempfile::tempdir().unwrap();
        let rootdir = outer.path().join("root");
        std::fs::create_dir_all(rootdir.join("real")).unwrap();
        symlink("/", rootdir.join("abs")).unwrap();
        symlink("../../../..", rootdir.join("rel")).unwrap();
        symlink("/real", rootdir.join("toreal")).unwrap();
        std::fs::write(outer.path().join("secret"), "host").unwrap();
        let root = Root::open(&rootdir).unwrap();

        // Writes through escaping symlinks land inside the root.
        for via in ["abs/escaped", "rel/escaped2", "toreal/inside"] {
            let slot = root.slot(Path::new(via), true).unwrap().unwrap();
            rfs::openat(
                &slot.parent,
                &slot.name,
                OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o644),
            )
            .unwrap();
        }
        assert!(rootdir.join("escaped").is_file());
        assert!(rootdir.join("escaped2").is_file());
        assert!(rootdir.join("real/inside").is_file());
        assert!(!outer.path().join("escaped2").exists());
        // Reading `rel/secret` never reaches the host's file next to the root.
        assert!(root.read(Path::new("rel/secret")).is_err());
        symlink("../../secret", rootdir.join("real/s")).unwrap();
        assert!(root.read(Path::new("real/s")).is_err());
    }

    /// The kernel's walk and the component walk agree on every path: the same directory,
    /// or the same error.
    #[test]
    fn openat2_and_the_component_walk_resolve_alike() {
        use std::os::unix::fs::MetadataExt;
        let outer = tempfile::tempdir().unwrap();
        let rootdir = outer.path().join("root");
        std::fs::create_dir_all(rootdir.join("real/deep/er")).unwrap();
        std::fs::create_dir_all(outer.path().join("host-dir")).unwrap();
        std::fs::write(rootdir.join("file"), "x").unwrap();
        for (link, target) in [
            ("abs", "/"),
            ("rel", "../../../.."),
            ("toreal", "/real"),
            ("updeep", "real/deep/../../real/deep"),
            ("host", "../host-dir"),
            ("dangling", "/nowhere"),
            ("tofile", "/file"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
        ] {
            symlink(target, rootdir.join(link)).unwrap();
        }
        symlink("../../../real", rootdir.join("real/deep/er/up")).unwrap();
        let root = Root::open(&rootdir).unwrap();
        let id = |r: io::Result<OwnedFd>| {
            r.map(|fd| {
                let m = File::from(fd).metadata().unwrap();
                (m.dev(), m.ino())
            })
            .map_err(|e| e.raw_os_error())
        };
        for path in [
            "real",
            "abs/real",
            "rel/real/deep",
            "toreal/deep/er",
            "updeep/er",
            "host",
            "real/deep/er/up/deep",
            "dangling",
            "tofile",
            "file",
            "file/x",
            "loop1",
            "missing",
        ] {
            let parts: VecDeque<OsString> = clean(Path::new(path)).into_iter().collect();
            assert_eq!(
                id(root.walk(parts.clone(), false)),
                id(root.walk_components(parts, false)),
                "{path}"
            );
        }
        assert!(
            !NO_OPENAT2.load(Ordering::Relaxed),
            "this kernel has openat2"
        );
    }

    #[test]
    fn loops_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let root = Root::open(dir.path()).unwrap();
        assert!(root.dir(Path::new("a/x"), true).is_err());
        assert!(root.read(Path::new("a")).is_err());
    }
}

//! `RUN --mount=…`: what a command sees for its duration only, never in the layer.
//!
//! No mount system call is needed (so this works without `CAP_SYS_ADMIN`); each mount is
//! put in place with ordinary file operations through [`Root`], and undone afterwards:
//!
//! - `type=cache,target=…[,id=…]`: a directory kept under the build's work dir
//!   (`cache-mounts/<id>`) is **renamed** into the rootfs at the target and renamed back
//!   when the command ends. Work dir and rootfs are on the same filesystem, so this is
//!   O(1) whatever the cache holds, and the contents persist across builds.
//! - `type=secret,id=…[,target=…][,env=…][,required]`: the value (from the `secrets` input)
//!   is written to `/run/secrets/<id>` (mode 0400 unless `mode=`) or put in the named
//!   environment variable, then removed.
//! - `type=bind[,source=…][,from=…],target=…`: the source tree (build context, or another
//!   stage's files) is **copied** to the target and removed afterwards; writes are dropped,
//!   as with BuildKit's default read-only bind.
//!
//! Whatever was at a target before is moved aside and put back. The targets (and any
//! directory created to hold them) are handed to the snapshot as paths to skip.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::dockerfile::MountFlag;
use super::rootfs::{clean, list, remove_all, Root};
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    Cache {
        id: String,
    },
    Secret {
        id: String,
        env: Option<String>,
        required: bool,
    },
    Bind {
        source: String,
        from: Option<String>,
    },
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub kind: MountKind,
    /// Absolute path in the image; `None` for an env-only secret.
    pub target: Option<String>,
    pub mode: Option<u32>,
    pub uid: u32,
    pub gid: u32,
}

/// What a `--mount=` flag means at this RUN: its values expanded with the stage's
/// variables (`expand`), relative targets joined to `workdir`.
pub fn resolve(
    flag: &MountFlag,
    workdir: &str,
    expand: &dyn Fn(&str) -> Result<String, String>,
) -> Result<MountSpec, String> {
    let raw = &flag.raw;
    let mut fields: Vec<(String, Option<String>)> = Vec::new();
    for (name, value) in &flag.fields {
        fields.push((name.clone(), value.as_deref().map(expand).transpose()?));
    }
    let get = |names: &[&str]| {
        fields
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .and_then(|(_, v)| v.clone())
    };
    let flag = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_deref().is_none_or(|v| v == "true"))
    };
    let target = get(&["target", "dst", "destination"]).map(|t| super::join_path(workdir, &t));
    let number = |name: &str| -> Result<Option<u32>, String> {
        get(&[name])
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("--mount {name}={v} is not a number"))
            })
            .transpose()
    };
    let mode = get(&["mode"])
        .map(|v| u32::from_str_radix(&v, 8).map_err(|_| format!("--mount mode={v} is not octal")))
        .transpose()?;
    let (uid, gid) = (number("uid")?.unwrap_or(0), number("gid")?.unwrap_or(0));
    let kind = match get(&["type"]).as_deref().unwrap_or("bind") {
        "cache" => {
            let target = target.clone().ok_or("--mount type=cache needs target=")?;
            MountKind::Cache {
                id: get(&["id"]).unwrap_or(target),
            }
        }
        "secret" => {
            let env = get(&["env"]);
            let id = get(&["id"])
                .or_else(|| {
                    target
                        .as_ref()
                        .map(|t| t.rsplit('/').next().unwrap_or("").to_string())
                })
                .ok_or("--mount type=secret needs id=")?;
            MountKind::Secret {
                id,
                env,
                required: flag("required").unwrap_or(false),
            }
        }
        "bind" => MountKind::Bind {
            source: get(&["source", "src"]).unwrap_or_else(|| "/".into()),
            from: get(&["from"]),
        },
        "tmpfs" => MountKind::Tmpfs,
        "ssh" => return Err("--mount type=ssh is not supported".into()),
        other => return Err(format!("--mount type={other} is not a mount type")),
    };
    let target = match (&kind, target) {
        (MountKind::Secret { id, env, .. }, None) if env.is_none() => {
            Some(format!("/run/secrets/{id}"))
        }
        (MountKind::Bind { .. } | MountKind::Tmpfs, None) => {
            return Err(format!("--mount {raw}: target= is required"))
        }
        (_, t) => t,
    };
    Ok(MountSpec {
        kind,
        target,
        mode,
        uid,
        gid,
    })
}

/// Where a bind mount's files come from.
pub struct BindSource<'a> {
    pub root: &'a Root,
    pub path: String,
}

/// One mount in place; [`Placed::undo`] removes it and restores what was there.
pub struct Placed {
    slot_parent: OwnedFd,
    name: OsString,
    stash: Option<OsString>,
    /// For a cache: where its directory goes back to.
    cache_home: Option<(OwnedFd, OsString)>,
    /// Directories made to hold the target: `(parent, name)` of the topmost one.
    created: Option<(OwnedFd, OsString)>,
    /// Image paths the snapshot must not look at.
    pub skip: Vec<String>,
}

/// Puts a cache directory, secret file, or bind copy at `target` in `root`.
pub fn place(
    root: &Root,
    target: &str,
    spec: &MountSpec,
    cache_dir: Option<&Path>,
    secret: Option<&Secret>,
    bind: Option<BindSource<'_>>,
) -> io::Result<Placed> {
    let (created, top) = create_parents(root, target)?;
    let slot = root
        .slot(Path::new(target), true)?
        .ok_or_else(|| io::Error::other("cannot mount over /"))?;
    let stash = match rfs::statat(&slot.parent, &slot.name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => {
            let mut stash = OsString::from(".spaceone-stash.");
            stash.push(&slot.name);
            remove_all(slot.parent.as_fd(), &stash)?;
            rfs::renameat(&slot.parent, &slot.name, &slot.parent, &stash)?;
            Some(stash)
        }
        Err(rustix::io::Errno::NOENT) => None,
        Err(e) => return Err(e.into()),
    };
    let mut placed = Placed {
        slot_parent: slot.parent,
        name: slot.name,
        stash,
        cache_home: None,
        created,
        skip: vec![top.unwrap_or_else(|| target.to_string())],
    };
    let result = (|| -> io::Result<()> {
        let mode = |default| Mode::from_raw_mode(spec.mode.unwrap_or(default));
        match &spec.kind {
            MountKind::Cache { .. } => {
                let dir = cache_dir.ok_or_else(|| io::Error::other("no cache directory"))?;
                if !dir.exists() {
                    std::fs::create_dir_all(dir)?;
                    let fd = rfs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
                    rfs::fchmod(&fd, mode(0o755))?;
                    let _ = rfs::fchown(
                        &fd,
                        Some(rfs::Uid::from_raw(spec.uid)),
                        Some(rfs::Gid::from_raw(spec.gid)),
                    );
                }
                let home_parent = rfs::open(
                    dir.parent().unwrap_or(Path::new("/")),
                    OFlags::RDONLY | OFlags::DIRECTORY,
                    Mode::empty(),
                )?;
                let home_name = dir.file_name().unwrap_or_default().to_os_string();
                rfs::renameat(&home_parent, &home_name, &placed.slot_parent, &placed.name)?;
                placed.cache_home = Some((home_parent, home_name));
            }
            MountKind::Secret { .. } => {
                let fd = rfs::openat(
                    &placed.slot_parent,
                    &placed.name,
                    OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW,
                    mode(0o400),
                )?;
                let value = secret.map(|s| s.expose().as_bytes()).unwrap_or_default();
                rustix::io::write(&fd, value)?;
                rfs::fchmod(&fd, mode(0o400))?;
                let _ = rfs::fchown(
                    &fd,
                    Some(rfs::Uid::from_raw(spec.uid)),
                    Some(rfs::Gid::from_raw(spec.gid)),
                );
            }
            MountKind::Bind { .. } => {
                let source = bind.ok_or_else(|| io::Error::other("no bind source"))?;
                let from = source.root.slot(Path::new(&source.path), false)?;
                match from {
                    Some(from) => copy_tree(
                        from.parent.as_fd(),
                        &from.name,
                        placed.slot_parent.as_fd(),
                        &placed.name,
                    )?,
                    None => {
                        rfs::mkdirat(
                            &placed.slot_parent,
                            &placed.name,
                            Mode::from_raw_mode(0o755),
                        )?;
                        let to = rfs::openat(
                            &placed.slot_parent,
                            &placed.name,
                            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
                            Mode::empty(),
                        )?;
                        for name in list(source.root.fd())? {
                            copy_tree(source.root.fd(), &name, to.as_fd(), &name)?;
                        }
                    }
                }
            }
            MountKind::Tmpfs => {
                rfs::mkdirat(&placed.slot_parent, &placed.name, mode(0o1777))?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = placed.undo();
        return Err(e);
    }
    Ok(placed)
}

impl Placed {
    /// Takes the mount away and puts back what was at the target.
    pub fn undo(self) -> io::Result<()> {
        match &self.cache_home {
            Some((parent, name)) => {
                rfs::renameat(&self.slot_parent, &self.name, parent, name)?;
            }
            None => remove_all(self.slot_parent.as_fd(), &self.name)?,
        }
        if let Some(stash) = &self.stash {
            rfs::renameat(&self.slot_parent, stash, &self.slot_parent, &self.name)?;
        }
        if let Some((parent, name)) = &self.created {
            remove_all(parent.as_fd(), name)?;
        }
        Ok(())
    }
}

/// Creates the missing parents of `target`; returns the topmost created one (its parent
/// handle and name, and its image path).
#[allow(clippy::type_complexity)]
fn create_parents(
    root: &Root,
    target: &str,
) -> io::Result<(Option<(OwnedFd, OsString)>, Option<String>)> {
    let parts = clean(Path::new(target));
    let mut path = PathBuf::from("/");
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        let parent = root.dir(&path, false)?;
        path.push(part);
        match rfs::statat(&parent, part, AtFlags::empty()) {
            Ok(_) => continue,
            Err(rustix::io::Errno::NOENT) => {
                root.dir(&path, true)?;
                let image_path = path.to_string_lossy().into_owned();
                return Ok((Some((parent, part.clone())), Some(image_path)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((None, None))
}

/// Copies `name` in `from` to `to_name` in `to`: files, directories, symlinks (verbatim);
/// owners and modes kept.
pub fn copy_tree(
    from: std::os::fd::BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    to: std::os::fd::BorrowedFd<'_>,
    to_name: &std::ffi::OsStr,
) -> io::Result<()> {
    let stat = rfs::statat(from, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_raw_mode(stat.st_mode as u32 & 0o7777);
    let owner = (
        Some(rfs::Uid::from_raw(stat.st_uid)),
        Some(rfs::Gid::from_raw(stat.st_gid)),
    );
    match FileType::from_raw_mode(stat.st_mode as _) {
        FileType::Directory => {
            rfs::mkdirat(to, to_name, Mode::from_raw_mode(0o700))?;
            let src = rfs::openat(
                from,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let dst = rfs::openat(
                to,
                to_name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            for child in list(src.as_fd())? {
                copy_tree(src.as_fd(), &child, dst.as_fd(), &child)?;
            }
            let _ = rfs::fchown(&dst, owner.0, owner.1);
            rfs::fchmod(&dst, mode)?;
        }
        FileType::Symlink => {
            let target = rfs::readlinkat(from, name, Vec::new())?;
            rfs::symlinkat(target.as_c_str(), to, to_name)?;
            let _ = rfs::chownat(to, to_name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW);
        }
        FileType::RegularFile => {
            let src = rfs::openat(
                from,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let dst = rfs::openat(
                to,
                to_name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let (mut src, mut dst) = (std::fs::File::from(src), std::fs::File::from(dst));
            io::copy(&mut src, &mut dst)?;
            let _ = rfs::fchown(&dst, owner.0, owner.1);
            rfs::fchmod(&dst, mode)?;
        }
        _ => {} // devices, sockets and FIFOs are not copied into a bind mount
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str, workdir: &str) -> Result<MountSpec, String> {
        resolve(&MountFlag::parse(raw)?, workdir, &|v| Ok(v.to_string()))
    }

    #[test]
    fn fields_resolve_to_kind_target_and_owner() {
        let m = parse("type=cache,target=/root/.cache", "/").unwrap();
        assert_eq!(
            m.kind,
            MountKind::Cache {
                id: "/root/.cache".into()
            }
        );
        let m = parse("type=cache,id=pip,target=.cache,uid=1000", "/app").unwrap();
        assert_eq!(m.target.as_deref(), Some("/app/.cache"));
        assert_eq!(m.uid, 1000);
        let m = parse("type=secret,id=token", "/").unwrap();
        assert_eq!(m.target.as_deref(), Some("/run/secrets/token"));
        let m = parse("type=secret,id=token,env=TOKEN,required", "/").unwrap();
        assert_eq!(m.target, None);
        assert_eq!(
            m.kind,
            MountKind::Secret {
                id: "token".into(),
                env: Some("TOKEN".into()),
                required: true
            }
        );
        assert!(parse("type=bind", "/").is_err());
        assert!(parse("type=ssh", "/")
            .unwrap_err()
            .contains("not supported"));
    }
}

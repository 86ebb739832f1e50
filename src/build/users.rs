//! `USER` and `--chown` names, resolved the way Docker does: from the image's own
//! `/etc/passwd` and `/etc/group`, never the host's.
//!
//! `user[:group]`, each a name or a number. A numeric user that the image does not list
//! runs with group 0 and home `/`; a name that is not listed is an error. Supplementary
//! groups are those of `/etc/group` that list the user's name as a member.

use std::path::Path;

use super::rootfs::Root;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("user `{name}` is not in the image's /etc/passwd")]
    UnknownUser { name: String },
    #[error("group `{name}` is not in the image's /etc/group")]
    UnknownGroup { name: String },
}

struct Tables {
    passwd: String,
    group: String,
}

impl Tables {
    fn read(root: &Root) -> Tables {
        let read = |p: &str| {
            root.read(Path::new(p))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        Tables {
            passwd: read("/etc/passwd"),
            group: read("/etc/group"),
        }
    }
}

/// Resolves `spec` (`USER`'s value; empty means root) against the rootfs.
pub fn resolve(root: &Root, spec: &str) -> Result<Identity, UserError> {
    resolve_in(&Tables::read(root), spec)
}

fn resolve_in(tables: &Tables, spec: &str) -> Result<Identity, UserError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let passwd_entry = tables.passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && (f[0] == user || f[2] == user)).then(|| {
            (
                f[0].to_string(),
                f[2].parse::<u32>().ok(),
                f[3].parse::<u32>().ok(),
                f[5].to_string(),
            )
        })
    });
    let (name, uid, mut gid, home) = match (passwd_entry, user.parse::<u32>()) {
        (Some((name, Some(uid), gid, home)), _) => (Some(name), uid, gid.unwrap_or(0), home),
        (_, Ok(uid)) => (None, uid, 0, "/".to_string()),
        _ => {
            return Err(UserError::UnknownUser {
                name: user.to_string(),
            })
        }
    };
    if let Some(group) = group {
        gid = match group.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_id(tables, group).ok_or_else(|| UserError::UnknownGroup {
                name: group.to_string(),
            })?,
        };
    }
    let mut groups = vec![gid];
    if let Some(name) = &name {
        for line in tables.group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(g) = f[2].parse::<u32>() {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups,
        home,
    })
}

fn group_id(tables: &Tables, name: &str) -> Option<u32> {
    tables.group.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[0] == name)
            .then(|| f[2].parse().ok())
            .flatten()
    })
}

/// `--chown=user[:group]` to ids; a bare user takes the user's primary group... unless it
/// is numeric, where Docker uses the same number for both.
pub fn chown_ids(root: Option<&Root>, spec: &str) -> Result<(u64, u64), UserError> {
    let numeric = |s: &str| s.parse::<u32>().ok();
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if let (Some(u), None) = (numeric(user), group) {
        return Ok((u as u64, u as u64));
    }
    if let (Some(u), Some(Some(g))) = (numeric(user), group.map(numeric)) {
        return Ok((u as u64, g as u64));
    }
    let tables = match root {
        Some(root) => Tables::read(root),
        None => Tables {
            passwd: String::new(),
            group: String::new(),
        },
    };
    let tables = Tables {
        passwd: format!("root:x:0:0:root:/root:/bin/sh\n{}", tables.passwd),
        group: format!("root:x:0:\n{}", tables.group),
    };
    let id = resolve_in(&tables, spec)?;
    Ok((id.uid as u64, id.gid as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Tables {
        Tables {
            passwd: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n".into(),
            group: "root:x:0:\napp:x:1000:\nwheel:x:10:app,bob\n".into(),
        }
    }

    #[test]
    fn user_table() {
        let t = tables();
        let id = |s: &str| resolve_in(&t, s);
        assert_eq!(
            id("app").unwrap(),
            Identity {
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 10],
                home: "/home/app".into()
            }
        );
        assert_eq!(id("").unwrap().home, "/root");
        assert_eq!(id("1000:wheel").unwrap().gid, 10);
        assert_eq!(
            id("4242").unwrap(),
            Identity {
                uid: 4242,
                gid: 0,
                groups: vec![0],
                home: "/".into()
            }
        );
        assert_eq!(
            id("ghost").unwrap_err().to_string(),
            "user `ghost` is not in the image's /etc/passwd"
        );
        assert!(id("app:nogroup").is_err());
    }
}

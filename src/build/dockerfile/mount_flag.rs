//! `RUN --mount=…` as written, split into its fields once, when the Dockerfile is parsed.
//!
//! Values may hold `$ARG`s, known only at build time, so they stay raw here and
//! [`crate::build::mounts::resolve`] expands them when the RUN executes. What can be checked
//! without them is checked now, so a mistake fails before anything is built: field names
//! (case-insensitive, as BuildKit's), and a literal `type=`. Everything that asks which
//! stage or image a mount takes files from ([`MountFlag::from`]) reads the same field, so
//! `FROM=build` and `from=build` name the same stage.

use std::fmt;

/// The field names BuildKit's `--mount` parser knows (aliases included).
const FIELDS: &[&str] = &[
    "type",
    "from",
    "source",
    "src",
    "target",
    "dst",
    "destination",
    "id",
    "mode",
    "uid",
    "gid",
    "env",
    "required",
    "sharing",
    "readonly",
    "ro",
    "readwrite",
    "rw",
    "size",
];

/// The mount types the builder can put in place.
const TYPES: &[&str] = &["bind", "cache", "secret", "tmpfs"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFlag {
    /// The value after `--mount=`, for messages and the layer-cache key.
    pub raw: String,
    /// `(name lower-cased, raw value)`; a bare word (`required`) has no value.
    pub fields: Vec<(String, Option<String>)>,
}

impl MountFlag {
    pub fn parse(raw: &str) -> Result<MountFlag, String> {
        let mut fields = Vec::new();
        for part in raw.split(',') {
            let (name, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
                None => (part.trim().to_ascii_lowercase(), None),
            };
            if !FIELDS.contains(&name.as_str()) {
                let known = FIELDS.join(", ");
                return Err(format!(
                    "--mount {raw}: unknown field `{name}` (known: {known})"
                ));
            }
            fields.push((name, value));
        }
        let flag = MountFlag {
            raw: raw.to_string(),
            fields,
        };
        match flag.kind() {
            kind if kind.contains('$') || TYPES.contains(&kind) => Ok(flag),
            "ssh" => Err("--mount type=ssh is not supported".into()),
            other => Err(format!(
                "--mount type={other} is not a mount type (known: {})",
                TYPES.join(", ")
            )),
        }
    }

    /// The raw value of the first field named any of `names`.
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| names.contains(&name.as_str()))
            .and_then(|(_, value)| value.as_deref())
    }

    /// `type=` as written; a mount without one is a bind mount.
    pub fn kind(&self) -> &str {
        self.get(&["type"]).unwrap_or("bind")
    }

    /// The stage or image the mount takes files from, as written (`from=`).
    pub fn from(&self) -> Option<&str> {
        self.get(&["from"])
    }
}

impl fmt::Display for MountFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_case_insensitive_and_from_names_the_stage() {
        let flag = MountFlag::parse("type=bind,FROM=build,Source=/out,target=/x").unwrap();
        assert_eq!(flag.from(), Some("build"));
        assert_eq!(flag.get(&["source", "src"]), Some("/out"));
        assert_eq!(MountFlag::parse("target=/x").unwrap().kind(), "bind");
    }

    #[test]
    fn unknown_fields_and_types_fail_at_parse_time() {
        let unknown = MountFlag::parse("type=cache,taget=/root/.cache").unwrap_err();
        assert!(unknown.contains("unknown field `taget`"), "{unknown}");
        let nfs = MountFlag::parse("type=nfs,target=/x").unwrap_err();
        assert!(nfs.contains("type=nfs is not a mount type"), "{nfs}");
        assert!(MountFlag::parse("type=ssh").is_err());
        // A type from an ARG is only known at build time.
        assert!(MountFlag::parse("type=$KIND,target=/x").is_ok());
    }
}

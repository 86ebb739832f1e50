//! Parsers for input values: lists, booleans, `KEY=VALUE` lines.

use std::path::PathBuf;

use super::Output;
use crate::oci::Platform;
use crate::reference::{validate_tag, Reference};
use crate::secret::Secret;

pub fn split_list(v: &str) -> Vec<String> {
    v.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("`{v}` is not a boolean (true or false)")),
    }
}

/// `KEY=VALUE` lines; blank lines and `#` comments are skipped.
pub fn parse_key_values(v: &str) -> Result<Vec<(String, String)>, String> {
    key_value_lines(v, |n, line| format!("line {n}: `{line}` is not KEY=VALUE"))
}

/// `id=value` lines of build secrets. An error names the line and the problem, never the
/// line itself: it holds a secret.
pub fn parse_secrets(v: &str) -> Result<Vec<(String, String)>, String> {
    key_value_lines(v, |n, line| {
        let problem = match line.contains('=') {
            true => "the id before `=` is empty or has spaces",
            false => "no `=`",
        };
        format!(
            "line {n}: {problem} (expected `id=value`; the line is not shown, it holds a secret)"
        )
    })
}

/// `KEY=VALUE` lines, with `bad(line number, line)` describing one that is not.
fn key_value_lines(
    v: &str,
    bad: impl Fn(usize, &str) -> String,
) -> Result<Vec<(String, String)>, String> {
    v.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| match line.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() && !k.contains(char::is_whitespace) => {
                Ok((k.to_string(), val.to_string()))
            }
            _ => Err(bad(n, line)),
        })
        .collect()
}

pub(super) fn build_secrets(v: &str) -> Result<Vec<(String, Secret)>, String> {
    Ok(parse_secrets(v)?
        .into_iter()
        .map(|(id, value)| (id, Secret::new(value)))
        .collect())
}

/// `host[:port]` entries: the hosts plain HTTP (or an unverified certificate) is allowed
/// for. They are compared with an image's host, so a URL or a path would never match.
pub(super) fn insecure_registries(v: &str) -> Result<Vec<String>, String> {
    let entries = split_list(v);
    for entry in &entries {
        let expected = "expected `host[:port]`, e.g. registry.local:5000";
        if entry.contains("://") {
            return Err(format!("`{entry}` has a scheme; {expected}"));
        }
        if entry.contains('/') {
            return Err(format!("`{entry}` has a path; {expected}"));
        }
        crate::host::RegistryHost::parse(entry).map_err(|e| format!("{e}; {expected}"))?;
    }
    Ok(entries)
}

pub(super) fn text(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

pub(super) fn path(v: &str) -> Result<PathBuf, String> {
    Ok(v.into())
}

pub(super) fn secret(v: &str) -> Result<Secret, String> {
    Ok(Secret::new(v.to_string()))
}

pub(super) fn images(v: &str) -> Result<Vec<Reference>, String> {
    let images = split_list(v);
    let mut parsed = Vec::with_capacity(images.len());
    for (i, image) in images.iter().enumerate() {
        parsed.push(self::image(image).map_err(|e| match images.len() {
            1 => e,
            _ => format!("{image}: {e}"),
        })?);
        if images[..i].contains(image) {
            return Err(format!("{image} is listed twice"));
        }
    }
    Ok(parsed)
}

/// `PREFIX=USER:PASSWORD` lines. Errors name the line, never its content: it holds a
/// password.
pub(super) fn registry_logins(v: &str) -> Result<Vec<(String, String, Secret)>, String> {
    Ok(parse_registry_logins(v)?
        .into_iter()
        .map(|(prefix, user, password)| (prefix, user, Secret::new(password)))
        .collect())
}

/// `(repository prefix, username, password)` from `registry-logins`.
pub fn parse_registry_logins(v: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in v.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: &str| {
            format!(
                "line {}: {why} (expected `host/namespace=USER:PASSWORD`)",
                n + 1
            )
        };
        let (prefix, login) = line.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let (user, password) = login
            .split_once(':')
            .ok_or_else(|| bad("no `:` after the user"))?;
        let prefix = prefix.trim().trim_end_matches('/');
        if prefix.is_empty() || user.is_empty() || password.is_empty() {
            return Err(bad("an empty prefix, user or password"));
        }
        out.push((prefix.to_string(), user.to_string(), password.to_string()));
    }
    Ok(out)
}

/// `(registry, mirror location)` pairs; a bare location mirrors Docker Hub.
pub fn parse_registry_mirrors(v: &str) -> Result<Vec<(String, String)>, String> {
    split_list(v)
        .into_iter()
        .map(|item| {
            let (registry, location) = match item.split_once('=') {
                Some((r, l)) => (r.trim().to_string(), l.trim().to_string()),
                None => ("docker.io".to_string(), item.clone()),
            };
            let location = location
                .strip_prefix("https://")
                .or_else(|| location.strip_prefix("http://"))
                .unwrap_or(&location)
                .trim_end_matches('/')
                .to_string();
            let host = location.split('/').next().unwrap_or_default();
            let valid_host = |h: &str| {
                !h.is_empty()
                    && h.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')
                    })
            };
            if !valid_host(&registry) || registry.contains('/') {
                return Err(format!("`{item}`: `{registry}` is not a registry host"));
            }
            if !valid_host(host) {
                return Err(format!(
                    "`{item}`: `{location}` is not `host[:port][/path]`"
                ));
            }
            Ok((registry, location))
        })
        .collect()
}

pub(super) fn image(v: &str) -> Result<Reference, String> {
    let r: Reference = v
        .parse()
        .map_err(|e: crate::reference::ReferenceError| e.reason)?;
    if r.digest.is_some() {
        return Err("the image to publish cannot carry a digest; give a tag or use `tags`".into());
    }
    Ok(r)
}

pub(super) fn tags(v: &str) -> Result<Vec<String>, String> {
    let tags = split_list(v);
    tags.iter().try_for_each(|t| validate_tag(t))?;
    Ok(tags)
}

/// One tag (`version`): a list here would be a typo, not several versions.
pub(super) fn version(v: &str) -> Result<String, String> {
    match tags(v)?.as_slice() {
        [_] => Ok(v.to_string()),
        _ => Err(format!("`{v}` is not one version")),
    }
}

pub(super) fn platforms(v: &str) -> Result<Vec<Platform>, String> {
    split_list(v)
        .iter()
        .map(|p| Platform::parse_buildable(p))
        .collect()
}

pub(super) fn output(v: &str) -> Result<Output, String> {
    Output::parse(v)
}

pub(super) fn endpoint(v: &str) -> Result<String, String> {
    if v.starts_with("grpc://") || v.starts_with("grpc+ssl://") {
        Ok(v.to_string())
    } else {
        Err(format!("`{v}` must start with grpc:// or grpc+ssl:// (e.g. grpc+ssl://repository.api.example.com:443)"))
    }
}

pub(super) fn generation(v: &str) -> Result<super::Generation, String> {
    v.parse()
}

pub(super) fn registry_type(v: &str) -> Result<String, String> {
    const TYPES: [&str; 6] = [
        "DOCKER_HUB",
        "HARBOR",
        "AWS_PRIVATE_ECR",
        "AWS_PUBLIC_ECR",
        "GITHUB",
        "GCP_PRIVATE_GCR",
    ];
    if TYPES.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "`{v}` is not a registry type (one of {})",
            TYPES.join(", ")
        ))
    }
}

pub(super) fn epoch(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        // `created` is RFC 3339, whose years have four digits.
        Ok(epoch) if epoch > crate::time::MAX_EPOCH => Err(format!(
            "`{v}` is after 9999 (at most {}, 9999-12-30T22:00:00Z), which `created` cannot hold",
            crate::time::MAX_EPOCH
        )),
        Ok(epoch) => Ok(epoch),
        Err(_) => Err(format!("`{v}` is not a Unix timestamp in seconds")),
    }
}

/// The largest chunk: a bigger one is one request in all but name, and a typo.
pub const MAX_SIZE: u64 = 1 << 30;

/// `4194304`, `4MiB`, `512KiB` → bytes, from 1 byte to [`MAX_SIZE`].
pub fn parse_size(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let (number, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let multiplier = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" | "m" => 1 << 20,
        _ => {
            return Err(format!(
                "`{v}` is not a size (bytes, or a number with KiB or MiB)"
            ))
        }
    };
    match number.parse::<u64>().map(|n| n.checked_mul(multiplier)) {
        Ok(Some(0)) => Err(format!("`{v}` is zero; a chunk holds at least one byte")),
        Ok(Some(n)) if n <= MAX_SIZE => Ok(n),
        // Too big for u64 (or the product is): as absurd as any size over the bound.
        Ok(_) | Err(_) if !number.is_empty() => {
            Err(format!("`{v}` is too large (at most 1024MiB)"))
        }
        _ => Err(format!(
            "`{v}` is not a size (bytes, or a number with KiB or MiB)"
        )),
    }
}

/// `UTC`, an offset (`+09:00`, `-0530`) or an IANA name (`Asia/Seoul`, `Europe/Berlin`,
/// with their daylight-saving rules) from the database built into the binary.
pub fn parse_timezone(v: &str) -> Result<jiff::tz::TimeZone, String> {
    let err = || {
        format!(
            "`{v}` is not a time zone (UTC, an offset such as +09:00, or an IANA name such as \
             Asia/Seoul)"
        )
    };
    match v {
        "UTC" | "utc" | "Z" | "GMT" => return Ok(jiff::tz::TimeZone::UTC),
        "KST" => return jiff::tz::TimeZone::get("Asia/Seoul").map_err(|_| err()),
        _ => {}
    }
    let sign = match v.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return jiff::tz::TimeZone::get(v).map_err(|_| err()),
    };
    let digits: String = v[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(err());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| err())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| err())?;
    if hours > 14 || minutes > 59 {
        return Err(err());
    }
    let offset =
        jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).map_err(|_| err())?;
    Ok(jiff::tz::TimeZone::fixed(offset))
}

pub(super) fn digests(v: &str) -> Result<Vec<crate::oci::Digest>, String> {
    split_list(v)
        .iter()
        .map(|d| {
            d.parse()
                .map_err(|e: crate::oci::DigestError| e.to_string())
        })
        .collect()
}

pub(super) fn output_format(v: &str) -> Result<super::OutputFormat, String> {
    match v {
        "text" => Ok(super::OutputFormat::Text),
        "json" => Ok(super::OutputFormat::Json),
        _ => Err(format!("`{v}` must be text or json")),
    }
}

pub(super) fn verb(v: &str) -> Result<super::Verb, String> {
    super::Verb::parse(v)
}

//! Parsers for input values: lists, booleans, `KEY=VALUE` lines, and the edit distance
//! behind "did you mean" suggestions.

use super::Output;
use crate::oci::Platform;
use crate::reference::{validate_tag, Reference};

pub fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a String> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

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
    v.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| match line.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() && !k.contains(char::is_whitespace) => {
                Ok((k.to_string(), val.to_string()))
            }
            _ => Err(format!("line {n}: `{line}` is not KEY=VALUE")),
        })
        .collect()
}

pub(super) fn any(_: &str) -> Result<(), String> {
    Ok(())
}

pub(super) fn check_image(v: &str) -> Result<(), String> {
    let r: Reference = v
        .parse()
        .map_err(|e: crate::reference::ReferenceError| e.reason)?;
    if r.digest.is_some() {
        return Err("the image to publish cannot carry a digest; give a tag or use `tags`".into());
    }
    Ok(())
}

pub(super) fn check_tags(v: &str) -> Result<(), String> {
    split_list(v).iter().try_for_each(|t| validate_tag(t))
}

pub(super) fn check_platforms(v: &str) -> Result<(), String> {
    split_list(v)
        .iter()
        .try_for_each(|p| Platform::parse(p).map(|_| ()))
}

pub(super) fn check_output(v: &str) -> Result<(), String> {
    Output::parse(v).map(|_| ())
}

pub(super) fn check_endpoint(v: &str) -> Result<(), String> {
    if v.starts_with("grpc://") || v.starts_with("grpc+ssl://") {
        Ok(())
    } else {
        Err(format!("`{v}` must start with grpc:// or grpc+ssl:// (e.g. grpc+ssl://repository.api.example.com:443)"))
    }
}

pub(super) fn check_api(v: &str) -> Result<(), String> {
    match v {
        "auto" | "1" | "2" => Ok(()),
        _ => Err(format!("`{v}` must be auto, 1 or 2")),
    }
}

pub(super) fn check_registry_type(v: &str) -> Result<(), String> {
    const TYPES: [&str; 6] = [
        "DOCKER_HUB",
        "HARBOR",
        "AWS_PRIVATE_ECR",
        "AWS_PUBLIC_ECR",
        "GITHUB",
        "GCP_PRIVATE_GCR",
    ];
    if TYPES.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "`{v}` is not a registry type (one of {})",
            TYPES.join(", ")
        ))
    }
}

pub(super) fn check_epoch(v: &str) -> Result<(), String> {
    v.parse::<u64>()
        .map(|_| ())
        .map_err(|_| format!("`{v}` is not a Unix timestamp in seconds"))
}

pub(super) fn check_key_values(v: &str) -> Result<(), String> {
    parse_key_values(v).map(|_| ())
}

pub(super) fn check_bool(v: &str) -> Result<(), String> {
    parse_bool(v).map(|_| ())
}

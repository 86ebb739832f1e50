//! Entry points for the fuzz targets in `fuzz/` (compiled only with the `fuzzing` feature).
//!
//! Each takes what an attacker controls (a Dockerfile, a header, a registry's JSON, a
//! plugin manifest, an environment value) and runs the parser the way the tool runs it. A
//! parser may refuse anything; it may not panic, hang or allocate without bound, and what
//! it accepts must keep the invariants the rest of the tool relies on, asserted here, so
//! that the fuzzer finds wrong answers as well as crashes.

use std::path::Path;

use crate::build::dockerfile::{self, InstructionKind};
use crate::build::{dockerignore, expand};
use crate::oci::{ImageConfig, Index, Manifest, MediaType};
use crate::reference::Reference;

/// A Dockerfile: parsed, every stage addressable by name and index, every word the builder
/// would expand expanded (with a variable set and unset), and a plain word unchanged.
pub fn dockerfile(text: &str) {
    let Ok(df) = dockerfile::parse(Path::new("Dockerfile"), text) else {
        return;
    };
    assert!(!df.stages.is_empty(), "a parsed Dockerfile has a stage");
    for stage in &df.stages {
        assert!(stage.line >= 1, "FROM at line 0");
        if let Some(name) = &stage.name {
            let found = df
                .target(Some(name))
                .expect("a stage's own name targets it");
            assert_eq!(found.index, stage.index);
        }
        let mut words = vec![stage.base.clone()];
        for instruction in &stage.instructions {
            assert!(
                instruction.line >= stage.line,
                "instruction before its FROM"
            );
            words.extend(instruction_words(&instruction.kind));
        }
        for word in &words {
            expand_both_ways(word, df.escape);
        }
    }
}

fn instruction_words(kind: &InstructionKind) -> Vec<String> {
    match kind {
        InstructionKind::Arg(args) => args.iter().filter_map(|a| a.default.clone()).collect(),
        InstructionKind::Env(pairs) | InstructionKind::Label(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()])
            .collect(),
        InstructionKind::Workdir(w) | InstructionKind::User(w) | InstructionKind::StopSignal(w) => {
            vec![w.clone()]
        }
        InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
            let mut words = spec.sources.clone();
            words.push(spec.dest.clone());
            words.extend(spec.from.clone());
            words.extend(spec.chown.clone());
            words.extend(spec.chmod.clone());
            words
        }
        InstructionKind::Expose(list) | InstructionKind::Volume(list) => list.clone(),
        InstructionKind::Run(spec) => spec
            .mounts
            .iter()
            .flat_map(|m| m.fields.iter().filter_map(|(_, v)| v.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// One word expanded with every variable set (to a value holding quotes and `$`) and with
/// none set; a word with nothing to expand must come back as written.
pub fn expand_word(word: &str) {
    expand_both_ways(word, '\\');
    expand_both_ways(word, '`');
}

fn expand_both_ways(word: &str, escape: char) {
    let set = |_: &str| Some("a b \"$c\" '\\".to_string());
    let unset = |_: &str| None;
    let _ = expand::expand(word, escape, &set);
    let _ = expand::expand_words(word, escape, &set);
    let plain = expand::expand(word, escape, &unset);
    let _ = expand::expand_words(word, escape, &unset);
    let special = |c: char| c == '$' || c == '"' || c == '\'' || c == escape;
    if !word.contains(special) {
        assert_eq!(
            plain.as_deref(),
            Ok(word),
            "a plain word changed in expansion"
        );
    }
}

/// An image reference: what parses prints as a reference that parses to the same thing.
pub fn reference(text: &str) {
    let Ok(reference) = text.parse::<Reference>() else {
        return;
    };
    let printed = reference.to_string();
    let again: Reference = printed
        .parse()
        .unwrap_or_else(|e| panic!("`{text}` parsed, but its printed form `{printed}` not: {e}"));
    let meaning = |r: &Reference| {
        (
            r.registry.clone(),
            r.repository.clone(),
            r.tag.clone(),
            r.digest.clone(),
        )
    };
    assert_eq!(
        meaning(&again),
        meaning(&reference),
        "`{text}` → `{printed}` changed meaning"
    );
    assert!(!reference.repository.is_empty());
    let _ = reference.manifest_ref();
    let _ = reference.api_host();
}

/// A registry's JSON (manifest, index, config) under any `Content-Type`: classified as the
/// puller classifies it, and what deserializes survives a second round unchanged.
pub fn registry_documents(content_type: &str, body: &[u8]) {
    let _ = crate::registry::classify_manifest(Some(content_type), body);
    let _ = crate::registry::classify_manifest(None, body);
    round_trip::<Manifest>(body);
    round_trip::<Index>(body);
    round_trip::<ImageConfig>(body);
    if let Ok(index) = serde_json::from_slice::<Index>(body) {
        let _ = index.platforms();
        for platform in ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"] {
            let platform = crate::oci::Platform::parse(platform).expect("a known platform");
            let _ = index.select(&platform);
        }
    }
    let media_type = MediaType::parse(content_type);
    assert_eq!(MediaType::parse(media_type.as_str()), media_type);
}

fn round_trip<T>(body: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(first) = serde_json::from_slice::<T>(body) else {
        return;
    };
    let bytes = serde_json::to_vec(&first).expect("a parsed document serializes");
    let second: T = serde_json::from_slice(&bytes).expect("what we write, we read");
    assert_eq!(first, second, "a document changed in a round trip");
}

/// A plugin manifest (`plugin.yaml`): parsed or refused with a position, in bounded time
/// and memory whatever its aliases and nesting.
pub fn plugin_manifest(text: &str) {
    match crate::spaceone::PluginManifest::parse(text, Path::new("plugin.yaml")) {
        Ok(_) => {}
        Err(crate::spaceone::SpaceOneError::Manifest { line, column, .. }) => {
            assert!(
                line >= 1 && column >= 1,
                "a manifest error at {line}:{column}"
            );
        }
        Err(other) => panic!("a manifest error of another kind: {other}"),
    }
}

/// A `WWW-Authenticate` header: see `registry::challenge::check_invariants`.
pub fn www_authenticate(header: &str) {
    crate::registry::fuzz_www_authenticate(header);
}

/// `.dockerignore` patterns (every line but the last) and paths (the last line, split on
/// spaces). The context root is never excluded, and when an excluded directory has no
/// exception under it, the walker's shortcut (skip it whole) must agree with asking for
/// each path inside it.
pub fn dockerignore(text: &str) {
    let (patterns, paths) = text.rsplit_once('\n').unwrap_or((text, ""));
    let lines: Vec<&str> = patterns.lines().collect();
    let Ok(ignore) = dockerignore::from_patterns(&lines) else {
        return;
    };
    assert!(!ignore.is_excluded("."), "the context root was excluded");
    assert!(!ignore.is_excluded(""), "the context root was excluded");
    for path in paths.split(' ').filter(|p| !p.is_empty()) {
        let excluded = ignore.is_excluded(path);
        if excluded && !ignore.may_have_exceptions_under(path) {
            for child in ["x", "a/b", ".hidden", "pip_requirements.txt"] {
                let inside = format!("{}/{child}", path.trim_end_matches('/'));
                assert!(
                    ignore.is_excluded(&inside),
                    "{path} is excluded with no exception under it, but {inside} is not"
                );
            }
        }
    }
}

/// Environment values with secrets in them (`secrets`, `registry-logins`): a refusal may
/// depend on the shape of the lines (where the `=`, `:`, spaces and `#` are) but on
/// nothing else, so it can quote no secret. Checked by refusing the same text with every
/// other character replaced. The other list inputs parse or refuse without panicking.
pub fn secret_values(text: &str) {
    use crate::inputs::fuzz_values as values;
    let shape: String = text
        .chars()
        .map(|c| match c {
            '=' | ':' | '#' | '/' | '\n' => c,
            c if c.is_whitespace() => c,
            _ => 'v',
        })
        .collect();
    let refusals = |t: &str| {
        [
            values::parse_secrets(t).err(),
            values::parse_registry_logins(t).err(),
        ]
    };
    assert_eq!(
        refusals(text),
        refusals(&shape),
        "a refusal depends on a value"
    );
    let _ = values::parse_key_values(text);
    let _ = values::parse_registry_mirrors(text);
    let _ = values::parse_size(text);
    let _ = values::parse_timezone(text);
}

//! The plugin manifest: the YAML file people already keep for `spacectl exec register
//! repository.Plugin -f plugin.yml` (often `test/spacectl/register_plugin.yaml`).
//!
//! One model reads both generations' spelling, because a repository's file was written
//! for whichever server its authors had:
//!
//! - 1.x keys: `name`, `service_type`, `image`, `provider`, `registry_type`,
//!   `registry_config`, `capability`, `template`, `labels`, `tags`, `project_id`, and
//!   `domain_id` (read but never sent from here: the domain is the `spaceone-domain-id`
//!   input's business).
//! - 2.x keys: `resource_type`, `plugin_id`, `docs`.
//!
//! Translating to one server's request happens later (`request.rs`, `register.rs`); this
//! module only reads. Invariants of a loaded [`PluginManifest`]:
//!
//! - every key was known: an unknown one (the real-world typo is `templates`) is an error
//!   with file, line and column and a "did you mean" suggestion, as spacectl (which
//!   refuses unknown fields in both generations) would fail, only earlier and clearer;
//! - no key appears twice;
//! - Struct-typed values (`capability`, `tags`, …) are JSON objects, kept as
//!   `serde_json` values in file order; `labels` is a list of strings (flow `[a, b]` or
//!   block `- a`). A key with an empty value (`template:`) counts as absent.
//!
//! Positions come from the YAML parser itself: keys are read through a `DeserializeSeed`
//! whose failures are raised inside the parser's own calls, so `serde_yaml` attaches the
//! mark of the offending key or value. What went wrong is passed out beside the error, so
//! no error text is ever parsed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::Deserialize;

use super::error::SpaceOneError;

mod shape;

/// A larger file is not a plugin manifest; and a request built from it could not pass
/// gRPC's 4 MiB message limit, which would only say so after the push.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// A JSON object: the model of a `google.protobuf.Struct` field.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginManifest {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    pub name: Option<String>,
    /// 1.x spelling of the resource type.
    pub service_type: Option<String>,
    /// 2.x spelling of the resource type.
    pub resource_type: Option<String>,
    pub image: Option<String>,
    pub provider: Option<String>,
    /// As written (`DOCKER_HUB`, `HARBOR`, …); checked when the request is prepared.
    pub registry_type: Option<String>,
    pub registry_config: Option<JsonObject>,
    pub capability: Option<JsonObject>,
    /// 1.x only.
    pub template: Option<JsonObject>,
    pub labels: Option<Vec<String>>,
    pub tags: Option<JsonObject>,
    /// 2.x only.
    pub docs: Option<JsonObject>,
    /// 2.x only.
    pub plugin_id: Option<String>,
    /// 1.x only.
    pub project_id: Option<String>,
    /// Read so old files load, never sent from the manifest.
    pub domain_id: Option<String>,
    /// Line of each top-level key, for later messages.
    lines: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    ServiceType,
    ResourceType,
    Image,
    Provider,
    RegistryType,
    RegistryConfig,
    Capability,
    Template,
    Labels,
    Tags,
    Docs,
    PluginId,
    ProjectId,
    DomainId,
}

const KEYS: &[(&str, Key)] = &[
    ("name", Key::Name),
    ("service_type", Key::ServiceType),
    ("resource_type", Key::ResourceType),
    ("image", Key::Image),
    ("provider", Key::Provider),
    ("registry_type", Key::RegistryType),
    ("registry_config", Key::RegistryConfig),
    ("capability", Key::Capability),
    ("template", Key::Template),
    ("labels", Key::Labels),
    ("tags", Key::Tags),
    ("docs", Key::Docs),
    ("plugin_id", Key::PluginId),
    ("project_id", Key::ProjectId),
    ("domain_id", Key::DomainId),
];

impl Key {
    fn name(self) -> &'static str {
        KEYS.iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// What the seed saw go wrong; the parser supplies where.
enum Failure {
    UnknownKey(String),
    DuplicateKey(&'static str),
    BadValue {
        key: &'static str,
        expected: &'static str,
    },
}

impl PluginManifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<PluginManifest, SpaceOneError> {
        use std::io::Read as _;
        let read_error = |source| SpaceOneError::ManifestRead {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read_error)?;
        let at = |line, column, message| SpaceOneError::Manifest {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let message = format!(
                "the file is {:.1} MiB; a plugin manifest is at most 1 MiB (SpaceONE takes \
                 requests of up to 4 MiB)",
                size as f64 / f64::from(1 << 20)
            );
            return Err(at(1, 1, message));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            at(line, column, "not UTF-8 text (YAML must be UTF-8)".into())
        })?;
        PluginManifest::parse(&text, path)
    }

    /// Parses manifest text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<PluginManifest, SpaceOneError> {
        // Editors on Windows start UTF-8 files with a byte order mark; YAML allows it, and
        // the parser would read it as content before a second document.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Syntax and shape first: the typed pass below would meet a syntax error, an alias
        // bomb or runaway nesting half-way through a value and blame the value.
        if let Err((err, exceeded)) = shape::check(text) {
            let message = match exceeded {
                Some(shape::Exceeded::Depth) => format!(
                    "nested deeper than {} levels; a plugin manifest is a few levels deep",
                    shape::MAX_DEPTH
                ),
                Some(shape::Exceeded::Values) => format!(
                    "more than {} values once aliases are expanded (too many aliases: an \
                     alias bomb?)",
                    shape::MAX_VALUES
                ),
                None => format!("not valid YAML: {err}"),
            };
            return Err(manifest_error(path, &err, message));
        }
        let failure = RefCell::new(None);
        let deserializer = serde_yaml::Deserializer::from_str(text);
        match (ManifestSeed { failure: &failure }).deserialize(deserializer) {
            Ok(mut manifest) => {
                manifest.path = path.to_path_buf();
                manifest.lines = top_level_key_lines(text);
                Ok(manifest)
            }
            Err(err) => {
                let message = match failure.into_inner() {
                    Some(Failure::UnknownKey(key)) => match suggest(&key) {
                        Some(known) => format!("unknown key `{key}` (did you mean `{known}`?)"),
                        None => format!("unknown key `{key}`"),
                    },
                    Some(Failure::DuplicateKey(key)) => format!("key `{key}` appears twice"),
                    Some(Failure::BadValue { key, expected }) => {
                        format!("`{key}` must be {expected}")
                    }
                    None => format!("not a valid plugin manifest: {err}"),
                };
                Err(manifest_error(path, &err, message))
            }
        }
    }

    /// The `image` key, trimmed, when it is set and not empty.
    pub fn image(&self) -> Option<&str> {
        self.image
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
    }

    /// The 1-based line of a top-level key, when the file has it.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.lines
            .iter()
            .find(|(k, _)| **k == key)
            .map(|(_, line)| *line)
    }

    /// `path:line` of a key, or just the path.
    pub fn locate(&self, key: &str) -> String {
        match self.line_of(key) {
            Some(line) => format!("{}:{line}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

fn manifest_error(path: &Path, err: &serde_yaml::Error, message: String) -> SpaceOneError {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    SpaceOneError::Manifest {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

struct ManifestSeed<'a> {
    failure: &'a RefCell<Option<Failure>>,
}

impl<'de> DeserializeSeed<'de> for ManifestSeed<'_> {
    type Value = PluginManifest;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<PluginManifest, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ManifestSeed<'_> {
    type Value = PluginManifest;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of plugin fields (name, image, capability, …)")
    }

    fn visit_unit<E: de::Error>(self) -> Result<PluginManifest, E> {
        Ok(PluginManifest::default()) // an empty file
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PluginManifest, A::Error> {
        let mut m = PluginManifest::default();
        let mut seen = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed {
            failure: self.failure,
            seen: &seen,
        })? {
            seen.push(key);
            let f = self.failure;
            match key {
                Key::Name => m.name = map.next_value_seed(Typed::new(key, "a string", f))?,
                Key::ServiceType => {
                    m.service_type = map.next_value_seed(Typed::new(key, "a string", f))?
                }
                Key::ResourceType => {
                    m.resource_type = map.next_value_seed(Typed::new(key, "a string", f))?
                }
                Key::Image => m.image = map.next_value_seed(Typed::new(key, "a string", f))?,
                Key::Provider => {
                    m.provider = map.next_value_seed(Typed::new(key, "a string", f))?
                }
                Key::RegistryType => {
                    m.registry_type = map.next_value_seed(Typed::new(key, "a string", f))?
                }
                Key::PluginId => {
                    m.plugin_id = map.next_value_seed(Typed::new(key, "a string", f))?
                }
                Key::ProjectId => {
                    m.project_id = map.next_value_seed(Typed::new(key, "a string", f))?
                }
                Key::DomainId => {
                    m.domain_id = map.next_value_seed(Typed::new(key, "a string", f))?
                }
                Key::RegistryConfig => {
                    m.registry_config = map.next_value_seed(Typed::new(key, MAPPING, f))?
                }
                Key::Capability => {
                    m.capability = map.next_value_seed(Typed::new(key, MAPPING, f))?
                }
                Key::Template => m.template = map.next_value_seed(Typed::new(key, MAPPING, f))?,
                Key::Tags => m.tags = map.next_value_seed(Typed::new(key, MAPPING, f))?,
                Key::Docs => m.docs = map.next_value_seed(Typed::new(key, MAPPING, f))?,
                Key::Labels => {
                    m.labels = map.next_value_seed(Typed::new(key, "a list of strings", f))?;
                }
            }
        }
        Ok(m)
    }
}

const MAPPING: &str = "a mapping (key: value), e.g. `{}`";

/// Reads one key; fails inside the parser's call so the error carries the key's mark.
struct KeySeed<'a> {
    failure: &'a RefCell<Option<Failure>>,
    seen: &'a [Key],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        match KEYS.iter().find(|(name, _)| *name == v) {
            Some((name, key)) if self.seen.contains(key) => {
                *self.failure.borrow_mut() = Some(Failure::DuplicateKey(name));
                Err(E::custom("duplicate key"))
            }
            Some((_, key)) => Ok(*key),
            None => {
                *self.failure.borrow_mut() = Some(Failure::UnknownKey(v.to_string()));
                Err(E::custom("unknown key"))
            }
        }
    }
}

/// Reads one value as `Option<T>`; on failure records which key wanted what.
struct Typed<'a, T> {
    key: Key,
    expected: &'static str,
    failure: &'a RefCell<Option<Failure>>,
    _t: std::marker::PhantomData<T>,
}

impl<'a, T> Typed<'a, T> {
    fn new(key: Key, expected: &'static str, failure: &'a RefCell<Option<Failure>>) -> Self {
        Typed {
            key,
            expected,
            failure,
            _t: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Typed<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        Option::<T>::deserialize(d).inspect_err(|_| {
            *self.failure.borrow_mut() = Some(Failure::BadValue {
                key: self.key.name(),
                expected: self.expected,
            });
        })
    }
}

/// The closest known key, for "did you mean".
fn suggest(unknown: &str) -> Option<&'static str> {
    let folded = unknown.to_ascii_lowercase().replace('-', "_");
    let keys = KEYS.iter().map(|(name, _)| *name);
    crate::suggest::closest(&folded, keys, |d, name| {
        d <= 2 || (d <= 3 && name.len() >= 8)
    })
}

/// Lines of the known top-level keys of a block mapping: lines at the document's base
/// indentation that start with `key:`. Only used to point at a key in later messages.
fn top_level_key_lines(text: &str) -> BTreeMap<&'static str, usize> {
    let content = |l: &str| {
        let t = l.trim_start();
        !(t.is_empty() || t.starts_with('#') || t.starts_with("---") || t.starts_with('%'))
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(base) = text.lines().find(|l| content(l)).map(indent) else {
        return BTreeMap::new();
    };
    let mut lines = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if !content(line) || indent(line) != base {
            continue;
        }
        let rest = line.trim_start();
        let key = rest
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if let Some((name, _)) = KEYS.iter().find(|(name, _)| *name == key) {
            lines.entry(*name).or_insert(n + 1);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<PluginManifest, SpaceOneError> {
        PluginManifest::parse(text, Path::new("plugin.yml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_a_1x_manifest_with_block_lists_and_nested_values() {
        let m = parse(
            "---\n\
             # registered with spacectl\n\
             name: aws-cloud-trail\n\
             service_type: monitoring.DataSource\n\
             image: pyengine/plugin-aws-cloudtrail-mon-datasource\n\
             provider: aws\n\
             capability:\n  monitoring_type: LOG\n  supported_schema:\n    - aws_access_key\n  use_resource_secret: true\n\
             template: {}\n\
             labels:\n  - AWS\n  - CloudTrail\n\
             tags:\n  description: AWS CloudTrail\n  \"spaceone:plugin_name\": aws-cloudtrail\n\
             domain_id: domain-123\n",
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("aws-cloud-trail"));
        assert_eq!(m.service_type.as_deref(), Some("monitoring.DataSource"));
        assert_eq!(m.resource_type, None);
        assert_eq!(
            serde_json::Value::Object(m.capability.clone().unwrap()),
            json!({"monitoring_type": "LOG", "supported_schema": ["aws_access_key"], "use_resource_secret": true})
        );
        assert_eq!(m.template, Some(JsonObject::new()));
        assert_eq!(
            m.labels,
            Some(vec!["AWS".to_string(), "CloudTrail".to_string()])
        );
        let tag_keys: Vec<_> = m.tags.as_ref().unwrap().keys().cloned().collect();
        assert_eq!(
            tag_keys,
            ["description", "spaceone:plugin_name"],
            "file order is kept"
        );
        assert_eq!(m.domain_id.as_deref(), Some("domain-123"));
        assert_eq!(m.line_of("image"), Some(5));
        assert_eq!(m.locate("labels"), "plugin.yml:13");
    }

    #[test]
    fn reads_2x_keys_and_flow_lists() {
        let m = parse(
            "plugin_id: plugin-aws-ta-inven-collector\n\
             resource_type: inventory.Collector\n\
             labels: [AWS, Trusted Advisor]\n\
             docs: {en: '# Trusted Advisor', ko: '# 신뢰'}\n",
        )
        .unwrap();
        assert_eq!(
            m.plugin_id.as_deref(),
            Some("plugin-aws-ta-inven-collector")
        );
        assert_eq!(m.resource_type.as_deref(), Some("inventory.Collector"));
        assert_eq!(m.service_type, None);
        assert_eq!(m.labels.unwrap(), ["AWS", "Trusted Advisor"]);
        assert_eq!(m.docs.unwrap()["ko"], json!("# 신뢰"));
    }

    #[test]
    fn empty_values_and_empty_files_are_absent() {
        let m = parse("name: x\ntemplate:\ntags: ~\n").unwrap();
        assert_eq!((m.template, m.tags), (None, None));
        assert_eq!(parse("# nothing yet\n").unwrap().name, None);
    }

    #[test]
    fn unknown_keys_fail_with_position_and_suggestion() {
        let cases = [
            ("name: keycloak\ntemplates: {}\n", "plugin manifest plugin.yml:2:1: unknown key `templates` (did you mean `template`?)"),
            ("name: x\n  # c\nservice-type: a.B\n", "plugin manifest plugin.yml:3:1: unknown key `service-type` (did you mean `service_type`?)"),
            ("name: x\nresourceType: a.B\n", "plugin manifest plugin.yml:2:1: unknown key `resourceType` (did you mean `resource_type`?)"),
            ("name: x\ncolor: red\n", "plugin manifest plugin.yml:2:1: unknown key `color`"),
            ("{name: x, lables: [a]}", "plugin manifest plugin.yml:1:11: unknown key `lables` (did you mean `labels`?)"),
        ];
        for (text, want) in cases {
            assert_eq!(error(text), want, "for {text:?}");
        }
    }

    #[test]
    fn wrong_shapes_fail_at_the_value() {
        let cases = [
            ("name: x\ncapability: [a, b]\n", "plugin manifest plugin.yml:2:13: `capability` must be a mapping (key: value), e.g. `{}`"),
            ("labels: AWS\n", "plugin manifest plugin.yml:1:9: `labels` must be a list of strings"),
            ("labels:\n  - {a: b}\n", "plugin manifest plugin.yml:2:5: `labels` must be a list of strings"),
            ("name: x\nname: y\n", "plugin manifest plugin.yml:2:1: key `name` appears twice"),
        ];
        for (text, want) in cases {
            assert_eq!(error(text), want, "for {text:?}");
        }
    }

    #[test]
    fn yaml_that_is_not_a_mapping_names_the_position() {
        let e = error("- name: x\n");
        assert!(e.starts_with("plugin manifest plugin.yml:1:1: not a valid plugin manifest: invalid type: sequence"), "{e}");
        let e = error("name: [x\n");
        assert!(
            e.starts_with("plugin manifest plugin.yml:2:1: not valid YAML: did not find expected"),
            "{e}"
        );
    }

    #[test]
    fn suggestions_stay_close() {
        assert_eq!(suggest("templates"), Some("template"));
        assert_eq!(suggest("imgae"), Some("image"));
        assert_eq!(suggest("Labels"), Some("labels"));
        assert_eq!(suggest("registry"), None);
        assert_eq!(suggest("version"), None);
    }
}

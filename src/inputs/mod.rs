//! Every input of spaceone-publish, and the only place that reads the environment.
//!
//! [`INPUTS`] is the single table: kebab-case name, meaning, default, and how to check a
//! value. `--help`, `action.yml` and the README's input list are all generated from it, so
//! they cannot drift apart (a test compares the committed `action.yml`).
//!
//! Each input is looked up, in order, as:
//! 1. `INPUT_<NAME>`: upper case with hyphens kept, as GitHub passes `with:` values to a
//!    container action (`INPUT_SPACEONE-TOKEN`). GitHub always sets declared inputs, so an
//!    empty value counts as unset;
//! 2. `PUBLISH_<NAME>`: upper case with hyphens as underscores, for GitLab, `docker run` and
//!    shells (`PUBLISH_SPACEONE_TOKEN`);
//! 3. a CI default (e.g. `CI_REGISTRY_IMAGE` for `image` in GitLab);
//! 4. the built-in default.
//!
//! Values are validated once, here, for syntax only (no file system, no network); a bad
//! value is an [`InputError`] that names the variable it came from. The typed result is
//! deserialized with `envy` from the resolved values, so field types live in one struct.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod docs;
mod table;

pub use table::{InputDef, Kind, INPUTS};
mod values;

pub use values::{parse_bool, parse_key_values, split_list};
use values::{parse_size, parse_timezone};

/// The value parsers, for the fuzz targets only.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_values {
    pub use super::values::*;
}

use serde::Deserialize;

use crate::oci::Platform;
use crate::reference::Reference;
use crate::secret::Secret;

/// Where the image goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Registry,
    OciLayout(PathBuf),
    /// A `docker save`-style tar, for `docker load`.
    DockerArchive(PathBuf),
}

impl Output {
    fn parse(v: &str) -> Result<Output, String> {
        match v {
            "registry" => Ok(Output::Registry),
            _ => match (v.strip_prefix("oci:"), v.strip_prefix("docker-archive:")) {
                (Some(dir), _) if !dir.is_empty() => Ok(Output::OciLayout(dir.into())),
                (_, Some(file)) if !file.is_empty() => Ok(Output::DockerArchive(file.into())),
                _ => Err(format!(
                    "`{v}` is not an output (`registry`, `oci:DIR` or `docker-archive:FILE`)"
                )),
            },
        }
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Publish,
    Merge,
    List,
    Versions,
    /// One call on one registered plugin.
    Plugin(PluginVerb),
}

/// The verbs that act on one registered plugin (`plugin-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginVerb {
    Deregister,
    Enable,
    Disable,
    Get,
}

impl PluginVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginVerb::Deregister => "deregister",
            PluginVerb::Enable => "enable",
            PluginVerb::Disable => "disable",
            PluginVerb::Get => "get",
        }
    }
}

impl std::fmt::Display for PluginVerb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Verb {
    pub const ALL: [(&'static str, Verb); 8] = [
        ("publish", Verb::Publish),
        ("merge", Verb::Merge),
        ("deregister", Verb::Plugin(PluginVerb::Deregister)),
        ("enable", Verb::Plugin(PluginVerb::Enable)),
        ("disable", Verb::Plugin(PluginVerb::Disable)),
        ("get", Verb::Plugin(PluginVerb::Get)),
        ("list", Verb::List),
        ("versions", Verb::Versions),
    ];

    pub fn parse(v: &str) -> Result<Verb, String> {
        Verb::ALL
            .iter()
            .find(|(name, _)| *name == v)
            .map(|(_, verb)| *verb)
            .ok_or_else(|| {
                format!(
                    "`{v}` is not a verb (publish, merge, list, deregister, enable, disable, \
                     get, versions)"
                )
            })
    }
}

/// How the final result is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Which SpaceONE server generation to speak (`spaceone-api`). `Auto` asks the server
/// through reflection; a detected or registered generation is always `V1` or `V2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Generation {
    #[default]
    Auto,
    V1,
    V2,
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Generation::Auto => "auto",
            Generation::V1 => "1.x",
            Generation::V2 => "2.x",
        })
    }
}

impl std::str::FromStr for Generation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Generation::Auto),
            "1" | "1.x" | "v1" => Ok(Generation::V1),
            "2" | "2.x" | "v2" => Ok(Generation::V2),
            _ => Err(format!("`{s}` must be auto, 1 or 2")),
        }
    }
}

/// Validated inputs. Paths are as given (relative to the working directory).
#[derive(Debug)]
pub struct Inputs {
    pub verb: Verb,
    pub context: PathBuf,
    pub dockerfile: Option<PathBuf>,
    pub image: Option<Reference>,
    /// Further repositories that get the same digest (`image` lines after the first).
    pub also_push: Vec<Reference>,
    pub version: Option<String>,
    pub tags: Vec<String>,
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    pub platforms: Vec<Platform>,
    pub registry_username: Option<String>,
    pub registry_password: Option<Secret>,
    /// `registry-mirrors`: (registry, mirror location).
    pub registry_mirrors: Vec<(String, String)>,
    /// `registry-logins`: (repository prefix, username, password).
    pub registry_logins: Vec<(String, String, Secret)>,
    pub registry_ca_cert: Option<PathBuf>,
    pub insecure_registries: Vec<String>,
    pub output: Output,
    pub plugin_manifest: Option<PathBuf>,
    pub spaceone_endpoint: Option<String>,
    pub spaceone_token: Option<Secret>,
    pub spaceone_domain_id: Option<String>,
    pub spaceone_ca_cert: Option<PathBuf>,
    pub spaceone_api: Generation,
    pub registry_type: Option<String>,
    pub dry_run: bool,
    pub source_date_epoch: Option<u64>,
    pub semver_tags: bool,
    pub sha_tag: bool,
    pub dev_build: bool,
    /// Offset from UTC in seconds for dev-build stamps.
    pub timezone: jiff::tz::TimeZone,
    pub labels: Vec<(String, String)>,
    pub cache_repo: Option<Reference>,
    pub no_cache: bool,
    /// `id=value` build secrets for `RUN --mount=type=secret`.
    pub secrets_values: Vec<(String, Secret)>,
    pub registry_chunk_size: Option<u64>,
    pub replace: bool,
    pub create_local_repository: bool,
    pub allow_non_version_tags: bool,
    pub spaceone_workspace_id: Option<String>,
    pub plugin_id: Option<String>,
    pub repository_id: Option<String>,
    pub resource_type: Option<String>,
    pub provider: Option<String>,
    pub push_by_digest: bool,
    pub digests: Vec<crate::oci::Digest>,
    pub digests_dir: Option<PathBuf>,
    pub dotenv_file: Option<PathBuf>,
    pub output_format: OutputFormat,
    /// The commit being built (`GITHUB_SHA`, `CI_COMMIT_SHA`), for labels and `sha-` tags.
    pub revision: Option<String>,
    /// The source repository's web address, for the `org.opencontainers.image.source` label.
    pub source_url: Option<String>,
    /// Docker's config directory (`DOCKER_CONFIG`, else `~/.docker`), for credentials.
    pub docker_config: Option<PathBuf>,
    /// podman/skopeo auth files (`REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`).
    pub auth_files: Vec<PathBuf>,
    /// Registry credentials a CI provides for its own registry (GitLab, GitHub's ghcr.io).
    pub ci_credentials: Vec<(String, String, Secret)>,
    /// Where each input's value came from, for messages (`INPUT_IMAGE`, `default`, …).
    pub sources: BTreeMap<&'static str, String>,
    /// Variables that look like inputs but are not (`PUBLISH_IMAGES`), with a suggestion.
    pub unknown: Vec<String>,
    /// Directory for the blob store and caches (`XDG_CACHE_HOME`, `~/.cache`, or the
    /// temporary directory).
    pub cache_dir: PathBuf,
    /// `work-dir`: build roots; `None` is `<cache_dir>/build`.
    pub work_dir: Option<PathBuf>,
    /// `--debug` or GitHub's `RUNNER_DEBUG=1`.
    pub debug: bool,
    /// Which CI runs us, and its output files.
    pub ci: CiEnv,
}

/// The CI system, as its predefined variables tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CiEnv {
    #[default]
    None,
    GitHub {
        /// `GITHUB_OUTPUT`: `name=value` lines for later steps.
        output: Option<PathBuf>,
        /// `GITHUB_STEP_SUMMARY`: Markdown for the run page.
        summary: Option<PathBuf>,
    },
    GitLab,
}

/// The raw, resolved values, typed by `envy`.
#[derive(Deserialize)]
struct Raw {
    verb: String,
    context: String,
    dockerfile: Option<String>,
    image: Option<String>,
    version: Option<String>,
    tags: Option<String>,
    build_args: Option<String>,
    target: Option<String>,
    platforms: Option<String>,
    registry_username: Option<String>,
    registry_password: Option<Secret>,
    registry_logins: Option<Secret>,
    registry_mirrors: Option<String>,
    work_dir: Option<String>,
    registry_ca_cert: Option<String>,
    insecure_registries: Option<String>,
    output: Option<String>,
    plugin_manifest: Option<String>,
    spaceone_endpoint: Option<String>,
    spaceone_token: Option<Secret>,
    spaceone_domain_id: Option<String>,
    spaceone_ca_cert: Option<String>,
    spaceone_api: String,
    registry_type: Option<String>,
    dry_run: String,
    source_date_epoch: Option<String>,
    semver_tags: String,
    sha_tag: String,
    dev_build: String,
    timezone: String,
    labels: Option<String>,
    cache_repo: Option<String>,
    no_cache: String,
    secrets: Option<Secret>,
    registry_chunk_size: Option<String>,
    replace: String,
    create_local_repository: String,
    allow_non_version_tags: String,
    spaceone_workspace_id: Option<String>,
    plugin_id: Option<String>,
    repository_id: Option<String>,
    resource_type: Option<String>,
    provider: Option<String>,
    push_by_digest: String,
    digests: Option<String>,
    digests_dir: Option<String>,
    dotenv_file: Option<String>,
    output_format: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("input `{input}` ({variable}): {problem}")]
pub struct InputError {
    pub input: &'static str,
    pub variable: String,
    pub problem: String,
}

pub fn github_variable(name: &str) -> String {
    format!("INPUT_{}", name.to_uppercase())
}

pub fn plain_variable(name: &str) -> String {
    format!("PUBLISH_{}", name.to_uppercase().replace('-', "_"))
}

impl Inputs {
    /// Reads the process environment. A value that is not UTF-8 text is refused when it
    /// belongs to an input (naming it), and otherwise left out with a note: nothing else
    /// we read (CI variables, `HOME`) can be used half-decoded.
    pub fn from_env() -> Result<Inputs, InputError> {
        let mut vars = BTreeMap::new();
        let mut ignored = Vec::new();
        for (key, value) in std::env::vars_os() {
            // A variable whose name is not text is no input and no variable we read.
            let Ok(key) = key.into_string() else { continue };
            match value.into_string() {
                Ok(value) => {
                    vars.insert(key, value);
                }
                Err(value) => match input_of_variable(&key) {
                    Some(input) => return Err(not_utf8(input, key, value.as_encoded_bytes())),
                    None => ignored.push(format!("{key} is not valid UTF-8 text and is ignored")),
                },
            }
        }
        let mut inputs = Inputs::from_vars(vars)?;
        inputs.unknown.extend(ignored);
        Ok(inputs)
    }

    /// Resolves every input from `vars` (the environment, or a test's map).
    pub fn from_vars(vars: BTreeMap<String, String>) -> Result<Inputs, InputError> {
        let get = |k: &str| {
            vars.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut resolved: BTreeMap<String, String> = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for def in INPUTS {
            let candidates = [
                (github_variable(def.name), get(&github_variable(def.name))),
                (plain_variable(def.name), get(&plain_variable(def.name))),
                ci_default(def.name, &get),
                (
                    "default".to_string(),
                    Some(def.default.to_string()).filter(|d| !d.is_empty()),
                ),
            ];
            let Some((source, value)) = candidates.into_iter().find_map(|(s, v)| v.map(|v| (s, v)))
            else {
                continue;
            };
            (def.check)(&value).map_err(|problem| InputError {
                input: def.name,
                variable: source.clone(),
                problem,
            })?;
            resolved.insert(def.name.replace('-', "_"), value);
            sources.insert(def.name, source);
        }
        let github_token = resolved.get("github_token").map(|t| Secret::new(t.clone()));
        let raw: Raw = envy::from_iter(resolved).map_err(|e| InputError {
            input: "?",
            variable: "?".into(),
            problem: e.to_string(),
        })?;
        let mut inputs = Inputs::from_raw(raw, sources);
        inputs.ci_credentials = ci_credentials(&get, github_token);
        inputs.unknown = unknown_variables(&vars);
        inputs.cache_dir = cache_dir(&get);
        inputs.revision = get("GITHUB_SHA").or_else(|| get("CI_COMMIT_SHA"));
        inputs.source_url = match (get("GITHUB_SERVER_URL"), get("GITHUB_REPOSITORY")) {
            (Some(server), Some(repo)) => Some(format!("{server}/{repo}")),
            _ => get("CI_PROJECT_URL"),
        };
        inputs.docker_config = get("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".docker")));
        inputs.auth_files = get("REGISTRY_AUTH_FILE")
            .map(PathBuf::from)
            .into_iter()
            .chain(get("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("containers/auth.json")))
            .collect();
        inputs.debug = get("RUNNER_DEBUG").as_deref() == Some("1");
        inputs.ci = if get("GITHUB_ACTIONS").as_deref() == Some("true") {
            CiEnv::GitHub {
                output: get("GITHUB_OUTPUT").map(PathBuf::from),
                summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            }
        } else if get("GITLAB_CI").is_some() {
            CiEnv::GitLab
        } else {
            CiEnv::None
        };
        Ok(inputs)
    }

    fn from_raw(raw: Raw, sources: BTreeMap<&'static str, String>) -> Inputs {
        let mut images: Vec<Reference> = raw
            .image
            .as_deref()
            .map(split_list)
            .unwrap_or_default()
            .iter()
            .map(|i| i.parse().expect("checked"))
            .collect();
        let image = (!images.is_empty()).then(|| images.remove(0));
        let also_push = images;
        let mut tags: Vec<String> = raw.tags.as_deref().map(split_list).unwrap_or_default();
        if let Some(tag) = image.as_ref().and_then(|i| i.tag.clone()) {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let output = match raw.output {
            Some(o) => Output::parse(&o).expect("checked"),
            None if image.is_some() => Output::Registry,
            None => Output::OciLayout("oci-layout".into()),
        };
        Inputs {
            verb: Verb::parse(&raw.verb).expect("checked"),
            context: raw.context.into(),
            dockerfile: raw.dockerfile.map(Into::into),
            image,
            also_push,
            version: raw.version,
            tags,
            build_args: raw
                .build_args
                .as_deref()
                .map(|v| parse_key_values(v).expect("checked"))
                .unwrap_or_default(),
            target: raw.target,
            platforms: raw
                .platforms
                .as_deref()
                .map(|v| {
                    split_list(v)
                        .iter()
                        .map(|p| Platform::parse_buildable(p).expect("checked"))
                        .collect()
                })
                .unwrap_or_default(),
            registry_username: raw.registry_username,
            registry_password: raw.registry_password,
            work_dir: raw.work_dir.map(PathBuf::from),
            registry_mirrors: raw
                .registry_mirrors
                .as_deref()
                .map(|v| values::parse_registry_mirrors(v).expect("checked"))
                .unwrap_or_default(),
            registry_logins: raw
                .registry_logins
                .map(|s| {
                    values::parse_registry_logins(s.expose())
                        .expect("checked")
                        .into_iter()
                        .map(|(prefix, user, password)| (prefix, user, Secret::new(password)))
                        .collect()
                })
                .unwrap_or_default(),
            registry_ca_cert: raw.registry_ca_cert.map(Into::into),
            insecure_registries: raw
                .insecure_registries
                .as_deref()
                .map(split_list)
                .unwrap_or_default(),
            output,
            plugin_manifest: raw.plugin_manifest.map(Into::into),
            spaceone_endpoint: raw.spaceone_endpoint,
            spaceone_token: raw.spaceone_token,
            spaceone_domain_id: raw.spaceone_domain_id,
            spaceone_ca_cert: raw.spaceone_ca_cert.map(Into::into),
            spaceone_api: raw.spaceone_api.parse().expect("checked"),
            registry_type: raw.registry_type,
            dry_run: parse_bool(&raw.dry_run).expect("checked"),
            source_date_epoch: raw.source_date_epoch.map(|v| v.parse().expect("checked")),
            semver_tags: parse_bool(&raw.semver_tags).expect("checked"),
            sha_tag: parse_bool(&raw.sha_tag).expect("checked"),
            dev_build: parse_bool(&raw.dev_build).expect("checked"),
            timezone: parse_timezone(&raw.timezone).expect("checked"),
            labels: raw
                .labels
                .as_deref()
                .map(|v| parse_key_values(v).expect("checked"))
                .unwrap_or_default(),
            cache_repo: raw.cache_repo.map(|r| r.parse().expect("checked")),
            no_cache: parse_bool(&raw.no_cache).expect("checked"),
            secrets_values: raw
                .secrets
                .map(|s| {
                    values::parse_secrets(s.expose())
                        .expect("checked")
                        .into_iter()
                        .map(|(k, v)| (k, Secret::new(v)))
                        .collect()
                })
                .unwrap_or_default(),
            registry_chunk_size: raw
                .registry_chunk_size
                .map(|v| parse_size(&v).expect("checked")),
            replace: parse_bool(&raw.replace).expect("checked"),
            create_local_repository: parse_bool(&raw.create_local_repository).expect("checked"),
            allow_non_version_tags: parse_bool(&raw.allow_non_version_tags).expect("checked"),
            spaceone_workspace_id: raw.spaceone_workspace_id,
            plugin_id: raw.plugin_id,
            repository_id: raw.repository_id,
            resource_type: raw.resource_type,
            provider: raw.provider,
            push_by_digest: parse_bool(&raw.push_by_digest).expect("checked"),
            digests: raw
                .digests
                .as_deref()
                .map(|v| {
                    split_list(v)
                        .iter()
                        .map(|d| d.parse().expect("checked"))
                        .collect()
                })
                .unwrap_or_default(),
            digests_dir: raw.digests_dir.map(Into::into),
            dotenv_file: raw.dotenv_file.map(Into::into),
            output_format: if raw.output_format == "json" {
                OutputFormat::Json
            } else {
                OutputFormat::Text
            },
            revision: None,
            source_url: None,
            docker_config: None,
            auth_files: vec![],
            ci_credentials: vec![],
            sources,
            unknown: vec![],
            cache_dir: PathBuf::new(),
            debug: false,
            ci: CiEnv::None,
        }
    }

    /// The variable an input's value came from (for messages), or its plain name.
    pub fn source_of(&self, name: &str) -> String {
        self.sources
            .get(name)
            .cloned()
            .unwrap_or_else(|| plain_variable(name))
    }

    /// Every secret value, for CI log masking.
    pub fn secrets(&self) -> Vec<&Secret> {
        let ci = self.ci_credentials.iter().map(|(_, _, s)| s);
        let build = self.secrets_values.iter().map(|(_, s)| s);
        let logins = self.registry_logins.iter().map(|(_, _, s)| s);
        self.registry_password
            .iter()
            .chain(logins)
            .chain(self.spaceone_token.iter())
            .chain(ci)
            .chain(build)
            .collect()
    }
}

/// The input `variable` sets (`INPUT_IMAGE`, `PUBLISH_IMAGE` → `image`).
fn input_of_variable(variable: &str) -> Option<&'static str> {
    INPUTS
        .iter()
        .find(|d| variable == github_variable(d.name) || variable == plain_variable(d.name))
        .map(|d| d.name)
}

/// The error for a value that is not UTF-8. It says where decoding stopped, never what
/// the bytes were: the value may be a secret.
fn not_utf8(input: &'static str, variable: String, bytes: &[u8]) -> InputError {
    let at = std::str::from_utf8(bytes)
        .err()
        .map(|e| e.valid_up_to())
        .unwrap_or(0);
    InputError {
        input,
        variable,
        problem: format!("the value is not valid UTF-8 text (invalid byte at offset {at})"),
    }
}

/// Defaults that come from the CI's own variables.
fn ci_default(name: &str, get: &dyn Fn(&str) -> Option<String>) -> (String, Option<String>) {
    let gitlab = get("GITLAB_CI").is_some();
    let from = |var: &str| (var.to_string(), get(var));
    match name {
        "image" if gitlab => from("CI_REGISTRY_IMAGE"),
        "version" if gitlab => {
            let (var, tag) = from("CI_COMMIT_TAG");
            (var, tag.map(|t| strip_v(&t)))
        }
        "version" if get("GITHUB_REF_TYPE").as_deref() == Some("tag") => {
            let (var, tag) = from("GITHUB_REF_NAME");
            (var, tag.map(|t| strip_v(&t)))
        }
        "source-date-epoch" => from("SOURCE_DATE_EPOCH"),
        _ => (String::new(), None),
    }
}

/// `v1.2.3` → `1.2.3`: plugin image tags never carry the `v` that git tags often do.
pub fn strip_v(tag: &str) -> String {
    match tag.strip_prefix('v') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
        _ => tag.to_string(),
    }
}

fn cache_dir(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let base = get("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| {
            get("TMPDIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/tmp".into())
        });
    base.join("spaceone-publish")
}

fn ci_credentials(
    get: &dyn Fn(&str) -> Option<String>,
    github_token: Option<Secret>,
) -> Vec<(String, String, Secret)> {
    let mut creds = vec![];
    if let (Some(registry), Some(user)) = (get("CI_REGISTRY"), get("CI_REGISTRY_USER")) {
        if let Some(password) = get("CI_REGISTRY_PASSWORD").or_else(|| get("CI_JOB_TOKEN")) {
            creds.push((registry, user, Secret::new(password)));
        }
    }
    // A container action never sees GITHUB_TOKEN; action.yml passes it as `github-token`.
    if let Some(token) = github_token.or_else(|| get("GITHUB_TOKEN").map(Secret::new)) {
        let actor = get("GITHUB_ACTOR").unwrap_or_else(|| "github-actions".into());
        creds.push(("ghcr.io".into(), actor, token));
    }
    creds
}

fn unknown_variables(vars: &BTreeMap<String, String>) -> Vec<String> {
    let known: Vec<String> = INPUTS.iter().map(|d| plain_variable(d.name)).collect();
    vars.keys()
        .filter(|k| k.starts_with("PUBLISH_") && !known.contains(k))
        .map(|k| {
            match crate::suggest::closest(k, known.iter().map(String::as_str), |d, _| d <= 3) {
                Some(s) => format!("{k} is not an input (did you mean {s}?)"),
                None => format!("{k} is not an input"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;

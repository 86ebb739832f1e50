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
//! Each row names the field of [`Inputs`] its value parses into and the parser, so a value
//! is parsed once, into its type, and a new input is one row and one field. Values are
//! checked for syntax only (no file system, no network); a bad value is an [`InputError`]
//! that names the variable it came from. The CI's own variables (`GITHUB_SHA`,
//! `CI_REGISTRY`, `HOME` …) are typed by `envy` into one struct, `Environment`.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod docs;
mod table;

pub use table::{InputDef, Inputs, Kind, INPUTS};
mod values;

pub use values::{parse_bool, parse_key_values, split_list};

/// The value parsers, for the fuzz targets only.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_values {
    pub use super::values::*;
}

use serde::Deserialize;

use crate::secret::Secret;

/// Where the image goes; without `output`, a registry when there is an `image`, else an
/// OCI layout in `oci-layout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Registry,
    OciLayout(PathBuf),
    /// A `docker save`-style tar, for `docker load`.
    DockerArchive(PathBuf),
}

impl Default for Output {
    fn default() -> Output {
        Output::OciLayout("oci-layout".into())
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verb {
    #[default]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
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
        let env = Environment::read(&vars)?;
        let mut inputs = Inputs::default();
        for def in INPUTS {
            let candidates = [
                (github_variable(def.name), get(&github_variable(def.name))),
                (plain_variable(def.name), get(&plain_variable(def.name))),
                ci_default(def.name, &env),
                (
                    "default".to_string(),
                    Some(def.default.to_string()).filter(|d| !d.is_empty()),
                ),
            ];
            let Some((source, value)) = candidates.into_iter().find_map(|(s, v)| v.map(|v| (s, v)))
            else {
                continue;
            };
            (def.set)(&mut inputs, &value).map_err(|problem| InputError {
                input: def.name,
                variable: source.clone(),
                problem,
            })?;
            inputs.sources.insert(def.name, source);
        }
        // A tag in `image` is one more tag; an image alone means a push.
        if let Some(tag) = inputs.image.as_ref().and_then(|i| i.tag.clone()) {
            if !inputs.tags.contains(&tag) {
                inputs.tags.push(tag);
            }
        }
        if inputs.image.is_some() && !inputs.sources.contains_key("output") {
            inputs.output = Output::Registry;
        }
        inputs.ci_credentials = ci_credentials(&env, inputs.github_token.clone());
        inputs.unknown = unknown_variables(&vars);
        inputs.cache_dir = cache_dir(&env);
        inputs.revision = env.github_sha.clone().or_else(|| env.ci_commit_sha.clone());
        inputs.source_url = match (&env.github_server_url, &env.github_repository) {
            (Some(server), Some(repo)) => Some(format!("{server}/{repo}")),
            _ => env.ci_project_url.clone(),
        };
        inputs.docker_config = env
            .docker_config
            .clone()
            .or_else(|| env.home.as_ref().map(|h| h.join(".docker")));
        inputs.auth_files = env
            .registry_auth_file
            .clone()
            .into_iter()
            .chain(
                env.xdg_runtime_dir
                    .as_ref()
                    .map(|d| d.join("containers/auth.json")),
            )
            .collect();
        inputs.debug = env.runner_debug.as_deref() == Some("1");
        inputs.ci = if env.github_actions.as_deref() == Some("true") {
            CiEnv::GitHub {
                output: env.github_output.clone(),
                summary: env.github_step_summary.clone(),
            }
        } else if env.gitlab_ci.is_some() {
            CiEnv::GitLab
        } else {
            CiEnv::None
        };
        Ok(inputs)
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

/// The CI's and the system's variables we read besides the inputs, typed by `envy`
/// (which matches `GITHUB_SHA` to `github_sha`); empty values count as unset, as for inputs.
#[derive(Deserialize, Default)]
struct Environment {
    gitlab_ci: Option<String>,
    ci_registry_image: Option<String>,
    ci_commit_tag: Option<String>,
    ci_commit_sha: Option<String>,
    ci_project_url: Option<String>,
    ci_registry: Option<String>,
    ci_registry_user: Option<String>,
    ci_registry_password: Option<Secret>,
    ci_job_token: Option<Secret>,
    github_actions: Option<String>,
    github_ref_type: Option<String>,
    github_ref_name: Option<String>,
    github_sha: Option<String>,
    github_server_url: Option<String>,
    github_repository: Option<String>,
    github_output: Option<PathBuf>,
    github_step_summary: Option<PathBuf>,
    github_token: Option<Secret>,
    github_actor: Option<String>,
    runner_debug: Option<String>,
    source_date_epoch: Option<String>,
    docker_config: Option<PathBuf>,
    registry_auth_file: Option<PathBuf>,
    xdg_runtime_dir: Option<PathBuf>,
    xdg_cache_home: Option<PathBuf>,
    home: Option<PathBuf>,
    tmpdir: Option<PathBuf>,
}

impl Environment {
    fn read(vars: &BTreeMap<String, String>) -> Result<Environment, InputError> {
        let set = vars
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_string()))
            // Variables are upper case; anything else (`INPUT_SPACEONE-TOKEN`, `home`) is
            // not one we read, and could only collide with one once lower-cased.
            .filter(|(k, v)| {
                !v.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            });
        envy::from_iter(set).map_err(|e| InputError {
            input: "environment",
            variable: "?".into(),
            problem: e.to_string(),
        })
    }
}

/// Defaults that come from the CI's own variables.
fn ci_default(name: &str, env: &Environment) -> (String, Option<String>) {
    let gitlab = env.gitlab_ci.is_some();
    let from = |var: &str, value: &Option<String>| (var.to_string(), value.clone());
    match name {
        "image" if gitlab => from("CI_REGISTRY_IMAGE", &env.ci_registry_image),
        "version" if gitlab => {
            let (var, tag) = from("CI_COMMIT_TAG", &env.ci_commit_tag);
            (var, tag.map(|t| strip_v(&t)))
        }
        "version" if env.github_ref_type.as_deref() == Some("tag") => {
            let (var, tag) = from("GITHUB_REF_NAME", &env.github_ref_name);
            (var, tag.map(|t| strip_v(&t)))
        }
        "source-date-epoch" => from("SOURCE_DATE_EPOCH", &env.source_date_epoch),
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

fn cache_dir(env: &Environment) -> PathBuf {
    let base = env
        .xdg_cache_home
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".cache")))
        .or_else(|| env.tmpdir.clone())
        .unwrap_or_else(|| "/tmp".into());
    base.join("spaceone-publish")
}

fn ci_credentials(
    env: &Environment,
    github_token: Option<Secret>,
) -> Vec<(String, String, Secret)> {
    let mut creds = vec![];
    if let (Some(registry), Some(user)) = (&env.ci_registry, &env.ci_registry_user) {
        if let Some(password) = env
            .ci_registry_password
            .clone()
            .or(env.ci_job_token.clone())
        {
            creds.push((registry.clone(), user.clone(), password));
        }
    }
    // A container action never sees GITHUB_TOKEN; action.yml passes it as `github-token`.
    if let Some(token) = github_token.or(env.github_token.clone()) {
        let actor = env
            .github_actor
            .clone()
            .unwrap_or_else(|| "github-actions".into());
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

//! The inputs: [`Inputs`], the typed result, and [`INPUTS`], one row per input in the order
//! `--help` and `action.yml` list them. A uniform table, deliberately long: every input's
//! name, kind, default, meaning and the field it parses into are here and nowhere else, so
//! a new input is one field and one row in this file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{values, CiEnv, Generation, Output, OutputFormat, Verb};
use crate::oci::Platform;
use crate::reference::Reference;
use crate::secret::Secret;

/// Validated inputs. Paths are as given (relative to the working directory). Each input's
/// row in [`INPUTS`] parses its value into its field; the other fields come from the CI's
/// own variables.
#[derive(Debug, Default)]
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
    /// `github-token`: action.yml passes the workflow's token, for ghcr.io.
    pub github_token: Option<Secret>,
    pub spaceone_domain_id: Option<String>,
    pub spaceone_ca_cert: Option<PathBuf>,
    pub spaceone_api: Generation,
    pub registry_type: Option<String>,
    pub dry_run: bool,
    pub source_date_epoch: Option<u64>,
    pub semver_tags: bool,
    pub sha_tag: bool,
    pub dev_build: bool,
    /// The zone of dev-build stamps (always set: `UTC` by default).
    pub timezone: Option<jiff::tz::TimeZone>,
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

/// How a value is checked and documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// `true` or `false` (any case), like the GitHub toolkit's `getBooleanInput`.
    Bool,
    /// One item per line or comma-separated.
    List,
    /// `KEY=VALUE`, one per line.
    KeyValues,
    /// Never printed; masked in CI logs.
    Secret,
}

pub struct InputDef {
    pub name: &'static str,
    pub kind: Kind,
    pub description: &'static str,
    /// The default as documented (`action.yml` and `--help`); empty when it is computed.
    pub default: &'static str,
    /// What the default is when it is not a constant, for `--help`.
    pub default_doc: &'static str,
    /// Parses a value into its field of [`Inputs`]; the error says what is wrong with it.
    pub(super) set: fn(&mut Inputs, &str) -> Result<(), String>,
}

/// A row: `field = parser` stores what the parser returns, `field = Some(parser)` fills
/// an optional field, `=> setter` hands the value to a function of its own.
macro_rules! input {
    ($name:literal, $kind:ident, $default:literal, $doc:literal, $field:ident = Some($parse:path), $desc:literal) => {
        input!(@row $name, $kind, $default, $doc, $desc, |inputs: &mut Inputs, v: &str| {
            inputs.$field = Some($parse(v)?);
            Ok(())
        })
    };
    ($name:literal, $kind:ident, $default:literal, $doc:literal, $field:ident = $parse:path, $desc:literal) => {
        input!(@row $name, $kind, $default, $doc, $desc, |inputs: &mut Inputs, v: &str| {
            inputs.$field = $parse(v)?;
            Ok(())
        })
    };
    ($name:literal, $kind:ident, $default:literal, $doc:literal, => $set:path, $desc:literal) => {
        input!(@row $name, $kind, $default, $doc, $desc, $set)
    };
    (@row $name:literal, $kind:ident, $default:literal, $doc:literal, $desc:literal, $set:expr) => {
        InputDef {
            name: $name,
            kind: Kind::$kind,
            description: $desc,
            default: $default,
            default_doc: $doc,
            set: $set,
        }
    };
}

/// `image`: the first repository is the one registered, the others get the same digest.
fn set_images(inputs: &mut Inputs, v: &str) -> Result<(), String> {
    let mut images = values::images(v)?;
    inputs.image = (!images.is_empty()).then(|| images.remove(0));
    inputs.also_push = images;
    Ok(())
}

/// The inputs, in the order `--help` and `action.yml` list them.
pub static INPUTS: &[InputDef] =
    &[
        input!(
            "verb",
            Text,
            "publish",
            "",
            verb = values::verb,
            "What to do: publish, merge (a multi-platform index from matrix jobs), list (the registered plugins), or deregister, enable, disable, get, versions (one plugin)."
        ),
        input!(
            "context",
            Text,
            ".",
            "",
            context = values::path,
            "Build context: the directory COPY and ADD read from."
        ),
        input!(
            "dockerfile",
            Text,
            "",
            "<context>/Dockerfile",
            dockerfile = Some(values::path),
            "Path of the Dockerfile."
        ),
        input!(
            "image",
            List,
            "",
            "GitLab: CI_REGISTRY_IMAGE; none: local OCI output only",
            => set_images,
            "Repository to push to, `host/namespace/plugin-name` (a `:tag` adds a tag). Several (one per line) get the same digest from one build; the first is the one registered."
        ),
        input!(
            "version",
            Text,
            "",
            "the git tag at HEAD (`v` stripped), else src/VERSION",
            version = Some(values::version),
            "Version of the plugin: the image tag SpaceONE lists as a version."
        ),
        input!(
            "tags",
            List,
            "",
            "the version",
            tags = values::tags,
            "Tags to push, one per line or comma-separated."
        ),
        input!(
            "build-args",
            KeyValues,
            "",
            "",
            build_args = values::parse_key_values,
            "Build arguments, KEY=VALUE, one per line."
        ),
        input!(
            "target",
            Text,
            "",
            "the last stage",
            target = Some(values::text),
            "Dockerfile stage to build."
        ),
        input!(
            "platforms",
            List,
            "",
            "this machine's platform",
            platforms = values::platforms,
            "Platforms to build, e.g. linux/amd64."
        ),
        input!(
            "registry-username",
            Text,
            "",
            "docker config; github-token for ghcr.io; CI_REGISTRY_USER",
            registry_username = Some(values::text),
            "User name for the registry."
        ),
        input!(
            "registry-password",
            Secret,
            "",
            "",
            registry_password = Some(values::secret),
            "Password or token for the registry."
        ),
        input!(
            "registry-mirrors",
            List,
            "",
            "",
            registry_mirrors = values::parse_registry_mirrors,
            "Pull base images from a mirror first: `docker.io=mirror.example.com/hub`, one per line (a bare `host[/path]` mirrors docker.io); falls back to the registry itself."
        ),
        input!(
            "registry-logins",
            Secret,
            "",
            "",
            registry_logins = values::registry_logins,
            "Credentials per repository prefix, `docker.io/pyengine=USER:PASSWORD`, one per line; the longest prefix of each image wins over registry-username/registry-password."
        ),
        input!(
            "github-token",
            Secret,
            "",
            "the workflow's token (in action.yml); GITHUB_TOKEN",
            github_token = Some(values::secret),
            "Token for ghcr.io when no registry-password is given (needs `packages: write`)."
        ),
        input!(
            "registry-ca-cert",
            Text,
            "",
            "system roots",
            registry_ca_cert = Some(values::path),
            "PEM file with extra CA certificates for registries."
        ),
        input!(
            "insecure-registries",
            List,
            "",
            "loopback hosts may use plain HTTP",
            insecure_registries = values::insecure_registries,
            "Registry hosts (host:port) allowed over plain HTTP or without TLS verification."
        ),
        input!(
            "output",
            Text,
            "",
            "registry when image is set, else oci:./oci-layout",
            output = values::output,
            "Where the image goes: `registry`, `oci:DIR` (an OCI image layout) or `docker-archive:FILE` (a tar for `docker load`, one platform)."
        ),
        input!("plugin-manifest", Text, "", "a plugin YAML in the context, if any", plugin_manifest = Some(values::path),
        "SpaceONE plugin manifest (YAML, as for `spacectl exec register repository.Plugin -f`)."),
        input!(
            "spaceone-endpoint",
            Text,
            "",
            "none: registration skipped",
            spaceone_endpoint = Some(values::endpoint),
            "Repository service endpoint, grpc://host:port or grpc+ssl://host:port."
        ),
        input!(
            "spaceone-token",
            Secret,
            "",
            "",
            spaceone_token = Some(values::secret),
            "SpaceONE API key or app token (sent as gRPC metadata `token`)."
        ),
        input!(
            "spaceone-domain-id",
            Text,
            "",
            "",
            spaceone_domain_id = Some(values::text),
            "Domain id, sent as `domain_id` to 1.x servers."
        ),
        input!(
            "spaceone-ca-cert",
            Text,
            "",
            "system roots",
            spaceone_ca_cert = Some(values::path),
            "PEM file with CA certificates for the SpaceONE endpoint."
        ),
        input!(
            "spaceone-api",
            Text,
            "auto",
            "",
            spaceone_api = values::generation,
            "Server generation: auto (reflection), 1 or 2."
        ),
        input!(
            "registry-type",
            Text,
            "",
            "derived from the image host",
            registry_type = Some(values::registry_type),
            "SpaceONE registry type (DOCKER_HUB, HARBOR, …)."
        ),
        input!(
            "dry-run",
            Bool,
            "false",
            "",
            dry_run = values::parse_bool,
            "Build and print the registration request, but push and register nothing."
        ),
        input!(
            "source-date-epoch",
            Text,
            "",
            "SOURCE_DATE_EPOCH, else the last commit's time",
            source_date_epoch = Some(values::epoch),
            "Timestamp for file times and `created`, for reproducible digests."
        ),
        input!("semver-tags", Bool, "false", "", semver_tags = values::parse_bool,
            "Also tag X.Y and X, and `latest` for final releases (never for pre-releases)."),
        input!("sha-tag", Bool, "false", "", sha_tag = values::parse_bool, "Also tag `sha-<short commit>`."),
        input!("dev-build", Bool, "false", "", dev_build = values::parse_bool,
            "Version as a SpaceONE dev build: X.Y.Z.YYYYMMDD.HHMMSS from the commit time."),
        input!("timezone", Text, "UTC", "", timezone = Some(values::parse_timezone),
            "Time zone of dev-build stamps: UTC, an offset such as +09:00, or an IANA name such as Asia/Seoul."),
        input!("labels", KeyValues, "", "", labels = values::parse_key_values,
            "Extra image labels, KEY=VALUE, one per line (OCI labels are added automatically)."),
        input!("cache-repo", Text, "", "<image>/cache; none on Docker Hub", cache_repo = Some(values::image),
            "Repository holding cached layers of RUN steps."),
        input!("no-cache", Bool, "false", "", no_cache = values::parse_bool, "Build without reading the layer cache."),
        input!("secrets", Secret, "", "", secrets_values = values::build_secrets,
            "Build secrets for RUN --mount=type=secret, id=value, one per line; never in a layer or log."),
        input!("registry-chunk-size", Text, "", "ghcr.io: 4MiB; others: 64MiB", registry_chunk_size = Some(values::parse_size),
            "Upload large blobs in chunks of this size (bytes, or KiB/MiB)."),
        input!("work-dir", Text, "", "<cache directory>/build", work_dir = Some(values::path),
            "Where base images are unpacked and RUN steps execute; a faster or memory-backed volume speeds up cold builds."),
        input!("replace", Bool, "false", "", replace = values::parse_bool,
            "Deregister and register again when a field SpaceONE cannot update (image, provider, type) changed."),
        input!("create-local-repository", Bool, "false", "", create_local_repository = values::parse_bool,
            "On SpaceONE 1.x, create the `local` repository when it does not exist."),
        input!("allow-non-version-tags", Bool, "false", "", allow_non_version_tags = values::parse_bool,
            "Push tags such as `latest` to a HARBOR-typed repository, which SpaceONE cannot sort."),
        input!("spaceone-workspace-id", Text, "", "", spaceone_workspace_id = Some(values::text),
            "Workspace id sent as x_workspace_id metadata (system tokens)."),
        input!("plugin-id", Text, "", "", plugin_id = Some(values::text),
            "plugin_id for the verbs deregister, enable, disable, get and versions (default: from the image)."),
        input!("repository-id", Text, "", "the local repository", repository_id = Some(values::text),
            "For `list`: the SpaceONE repository to list, or `all` (managed plugins included)."),
        input!("resource-type", Text, "", "", resource_type = Some(values::text),
            "For `list`: only plugins of this service_type (1.x) or resource_type (2.x), e.g. inventory.Collector."),
        input!("provider", Text, "", "", provider = Some(values::text),
            "For `list`: only plugins of this provider, e.g. aws."),
        input!(
            "push-by-digest",
            Bool,
            "false",
            "",
            push_by_digest = values::parse_bool,
            "Push without tags and do not register: one platform of a matrix build, for `merge`."
        ),
        input!("digests", List, "", "", digests = values::digests,
            "For `merge`: per-platform manifest digests pushed by matrix jobs."),
        input!("digests-dir", Text, "", "", digests_dir = Some(values::path),
            "For `merge`: a directory of files each holding one digest (written by matrix jobs)."),
        input!("dotenv-file", Text, "", "", dotenv_file = Some(values::path),
            "Write the outputs as KEY=VALUE lines to this file (GitLab `artifacts: reports: dotenv`)."),
        input!("output-format", Text, "text", "", output_format = values::output_format,
            "`text` for people, or `json`: one result object on stdout."),
    ];

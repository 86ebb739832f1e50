//! The inputs table: one row per input, in the order `--help` and `action.yml` list them.
//! A uniform table, deliberately long: every input's name, kind, default and meaning are
//! here and nowhere else.

use super::values::{
    any, check_api, check_bool, check_digests, check_endpoint, check_epoch, check_format,
    check_image, check_images, check_insecure_registries, check_key_values, check_output,
    check_platforms, check_registry_logins, check_registry_mirrors, check_registry_type,
    check_secrets, check_size, check_tags, check_timezone, check_verb,
};

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
    pub(super) check: fn(&str) -> Result<(), String>,
}

macro_rules! input {
    ($name:literal, $kind:ident, $default:literal, $default_doc:literal, $check:expr, $desc:literal) => {
        InputDef {
            name: $name,
            kind: Kind::$kind,
            description: $desc,
            default: $default,
            default_doc: $default_doc,
            check: $check,
        }
    };
}

/// The inputs, in the order `--help` and `action.yml` list them.
pub static INPUTS: &[InputDef] =
    &[
        input!(
            "verb",
            Text,
            "publish",
            "",
            check_verb,
            "What to do: publish, merge (a multi-platform index from matrix jobs), list (the registered plugins), or deregister, enable, disable, get, versions (one plugin)."
        ),
        input!(
            "context",
            Text,
            ".",
            "",
            any,
            "Build context: the directory COPY and ADD read from."
        ),
        input!(
            "dockerfile",
            Text,
            "",
            "<context>/Dockerfile",
            any,
            "Path of the Dockerfile."
        ),
        input!(
            "image",
            List,
            "",
            "GitLab: CI_REGISTRY_IMAGE; none: local OCI output only",
            check_images,
            "Repository to push to, `host/namespace/plugin-name` (a `:tag` adds a tag). Several (one per line) get the same digest from one build; the first is the one registered."
        ),
        input!(
            "version",
            Text,
            "",
            "the git tag at HEAD (`v` stripped), else src/VERSION",
            check_tags,
            "Version of the plugin: the image tag SpaceONE lists as a version."
        ),
        input!(
            "tags",
            List,
            "",
            "the version",
            check_tags,
            "Tags to push, one per line or comma-separated."
        ),
        input!(
            "build-args",
            KeyValues,
            "",
            "",
            check_key_values,
            "Build arguments, KEY=VALUE, one per line."
        ),
        input!(
            "target",
            Text,
            "",
            "the last stage",
            any,
            "Dockerfile stage to build."
        ),
        input!(
            "platforms",
            List,
            "",
            "this machine's platform",
            check_platforms,
            "Platforms to build, e.g. linux/amd64."
        ),
        input!(
            "registry-username",
            Text,
            "",
            "docker config; github-token for ghcr.io; CI_REGISTRY_USER",
            any,
            "User name for the registry."
        ),
        input!(
            "registry-password",
            Secret,
            "",
            "",
            any,
            "Password or token for the registry."
        ),
        input!(
            "registry-mirrors",
            List,
            "",
            "",
            check_registry_mirrors,
            "Pull base images from a mirror first: `docker.io=mirror.example.com/hub`, one per line (a bare `host[/path]` mirrors docker.io); falls back to the registry itself."
        ),
        input!(
            "registry-logins",
            Secret,
            "",
            "",
            check_registry_logins,
            "Credentials per repository prefix, `docker.io/pyengine=USER:PASSWORD`, one per line; the longest prefix of each image wins over registry-username/registry-password."
        ),
        input!(
            "github-token",
            Secret,
            "",
            "the workflow's token (in action.yml); GITHUB_TOKEN",
            any,
            "Token for ghcr.io when no registry-password is given (needs `packages: write`)."
        ),
        input!(
            "registry-ca-cert",
            Text,
            "",
            "system roots",
            any,
            "PEM file with extra CA certificates for registries."
        ),
        input!(
            "insecure-registries",
            List,
            "",
            "loopback hosts may use plain HTTP",
            check_insecure_registries,
            "Registry hosts (host:port) allowed over plain HTTP or without TLS verification."
        ),
        input!(
            "output",
            Text,
            "",
            "registry when image is set, else oci:./oci-layout",
            check_output,
            "Where the image goes: `registry`, `oci:DIR` (an OCI image layout) or `docker-archive:FILE` (a tar for `docker load`, one platform)."
        ),
        input!("plugin-manifest", Text, "", "a plugin YAML in the context, if any", any,
        "SpaceONE plugin manifest (YAML, as for `spacectl exec register repository.Plugin -f`)."),
        input!(
            "spaceone-endpoint",
            Text,
            "",
            "none: registration skipped",
            check_endpoint,
            "Repository service endpoint, grpc://host:port or grpc+ssl://host:port."
        ),
        input!(
            "spaceone-token",
            Secret,
            "",
            "",
            any,
            "SpaceONE API key or app token (sent as gRPC metadata `token`)."
        ),
        input!(
            "spaceone-domain-id",
            Text,
            "",
            "",
            any,
            "Domain id, sent as `domain_id` to 1.x servers."
        ),
        input!(
            "spaceone-ca-cert",
            Text,
            "",
            "system roots",
            any,
            "PEM file with CA certificates for the SpaceONE endpoint."
        ),
        input!(
            "spaceone-api",
            Text,
            "auto",
            "",
            check_api,
            "Server generation: auto (reflection), 1 or 2."
        ),
        input!(
            "registry-type",
            Text,
            "",
            "derived from the image host",
            check_registry_type,
            "SpaceONE registry type (DOCKER_HUB, HARBOR, …)."
        ),
        input!(
            "dry-run",
            Bool,
            "false",
            "",
            check_bool,
            "Build and print the registration request, but push and register nothing."
        ),
        input!(
            "source-date-epoch",
            Text,
            "",
            "SOURCE_DATE_EPOCH, else the last commit's time",
            check_epoch,
            "Timestamp for file times and `created`, for reproducible digests."
        ),
        input!("semver-tags", Bool, "false", "", check_bool,
            "Also tag X.Y and X, and `latest` for final releases (never for pre-releases)."),
        input!("sha-tag", Bool, "false", "", check_bool, "Also tag `sha-<short commit>`."),
        input!("dev-build", Bool, "false", "", check_bool,
            "Version as a SpaceONE dev build: X.Y.Z.YYYYMMDD.HHMMSS from the commit time."),
        input!("timezone", Text, "UTC", "", check_timezone,
            "Time zone of dev-build stamps: UTC, an offset such as +09:00, or an IANA name such as Asia/Seoul."),
        input!("labels", KeyValues, "", "", check_key_values,
            "Extra image labels, KEY=VALUE, one per line (OCI labels are added automatically)."),
        input!("cache-repo", Text, "", "<image>/cache; none on Docker Hub", check_image,
            "Repository holding cached layers of RUN steps."),
        input!("no-cache", Bool, "false", "", check_bool, "Build without reading the layer cache."),
        input!("secrets", Secret, "", "", check_secrets,
            "Build secrets for RUN --mount=type=secret, id=value, one per line; never in a layer or log."),
        input!("registry-chunk-size", Text, "", "ghcr.io: 4MiB; others: 64MiB", check_size,
            "Upload large blobs in chunks of this size (bytes, or KiB/MiB)."),
        input!("work-dir", Text, "", "<cache directory>/build", any,
            "Where base images are unpacked and RUN steps execute; a faster or memory-backed volume speeds up cold builds."),
        input!("replace", Bool, "false", "", check_bool,
            "Deregister and register again when a field SpaceONE cannot update (image, provider, type) changed."),
        input!("create-local-repository", Bool, "false", "", check_bool,
            "On SpaceONE 1.x, create the `local` repository when it does not exist."),
        input!("allow-non-version-tags", Bool, "false", "", check_bool,
            "Push tags such as `latest` to a HARBOR-typed repository, which SpaceONE cannot sort."),
        input!("spaceone-workspace-id", Text, "", "", any,
            "Workspace id sent as x_workspace_id metadata (system tokens)."),
        input!("plugin-id", Text, "", "", any,
            "plugin_id for the verbs deregister, enable, disable, get and versions (default: from the image)."),
        input!("repository-id", Text, "", "the local repository", any,
            "For `list`: the SpaceONE repository to list, or `all` (managed plugins included)."),
        input!("resource-type", Text, "", "", any,
            "For `list`: only plugins of this service_type (1.x) or resource_type (2.x), e.g. inventory.Collector."),
        input!("provider", Text, "", "", any,
            "For `list`: only plugins of this provider, e.g. aws."),
        input!(
            "push-by-digest",
            Bool,
            "false",
            "",
            check_bool,
            "Push without tags and do not register: one platform of a matrix build, for `merge`."
        ),
        input!("digests", List, "", "", check_digests,
            "For `merge`: per-platform manifest digests pushed by matrix jobs."),
        input!("digests-dir", Text, "", "", any,
            "For `merge`: a directory of files each holding one digest (written by matrix jobs)."),
        input!("dotenv-file", Text, "", "", any,
            "Write the outputs as KEY=VALUE lines to this file (GitLab `artifacts: reports: dotenv`)."),
        input!("output-format", Text, "text", "", check_format,
            "`text` for people, or `json`: one result object on stdout."),
    ];

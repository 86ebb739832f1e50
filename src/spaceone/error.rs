//! What can go wrong between a plugin manifest and a registered plugin.
//!
//! Each variant says what we were doing and to which file, input, endpoint or RPC; a
//! cause, when there is one, sits in `#[source]` and is not repeated in the text.
//! Known fixes live apart in [`SpaceOneError::hint`], so the CI layer can print them as
//! `hint:` lines.
//!
//! A server error keeps what the server said verbatim. SpaceONE answers with a gRPC status
//! whose message is `ERROR_CODE: message` (python-core's error classes), so
//! [`SpaceOneError::Server`] displays as
//! `Plugin.register failed: INVALID_ARGUMENT ERROR_INVALID_IMAGE_NAME_FORMAT: Image name …`
//! and [`SpaceOneError::error_code`] gives `ERROR_INVALID_IMAGE_NAME_FORMAT` for matching.
//! Nothing here can hold the token: [`crate::secret::Secret`] cannot be formatted.

use std::path::PathBuf;

use tonic::Code;

use super::request::Generation;

#[derive(Debug, thiserror::Error)]
pub enum SpaceOneError {
    #[error("reading plugin manifest {path} failed")]
    ManifestRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A manifest problem at a position (1-based line and column).
    #[error("plugin manifest {path}:{line}:{column}: {message}")]
    Manifest {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// The manifest's `image` is not the repository being pushed.
    #[error(
        "plugin manifest {path}: `image: {manifest_image}` disagrees with the pushed image \
         repository `{target_image}` (from `{target}`)"
    )]
    ImageMismatch {
        path: PathBuf,
        manifest_image: String,
        target_image: String,
        target: String,
    },

    /// The image's last path segment would be refused by the server.
    #[error("image `{image}` cannot be registered: {problem}")]
    InvalidImageName {
        image: String,
        problem: String,
        suggestion: Option<String>,
    },

    #[error("the plugin's {field} is missing: {why}")]
    MissingField { field: &'static str, why: String },

    #[error("registry type `{value}` ({origin}) is not one of {expected}")]
    UnknownRegistryType {
        value: String,
        origin: String,
        expected: &'static str,
    },

    /// A registry type the detected server generation's enum cannot express.
    #[error("registry type {registry_type} cannot be sent to a SpaceONE {generation} server")]
    RegistryTypeUnsupported {
        registry_type: &'static str,
        generation: &'static str,
    },

    #[error("input `spaceone-endpoint`: `{value}` is not a SpaceONE endpoint: {reason}")]
    Endpoint { value: String, reason: String },

    #[error("input `spaceone-token` cannot be sent as gRPC metadata: {reason}")]
    Token { reason: &'static str },

    #[error("input `spaceone-domain-id`: `{value}` cannot be sent as gRPC metadata")]
    DomainId { value: String },

    /// 1.x without a token takes the domain from the body only.
    #[error(
        "input `spaceone-domain-id` is required for a SpaceONE 1.x server when no \
         `spaceone-token` is given: the server reads the domain from each request body"
    )]
    DomainRequired,

    #[error("input `spaceone-workspace-id`: `{value}` cannot be sent as gRPC metadata")]
    WorkspaceId { value: String },

    #[error("reading the SpaceONE CA certificate {path} failed")]
    CaCert {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("connecting to SpaceONE at {endpoint} failed{}", after(*.attempts))]
    Connect {
        endpoint: String,
        /// How many times it was tried (see `retry.rs`).
        attempts: u32,
        #[source]
        source: tonic::transport::Error,
    },

    /// Reflection did not let us tell the server generation.
    #[error("cannot tell the SpaceONE server generation at {endpoint}: {reason}")]
    Detect { endpoint: String, reason: String },

    /// 1.x without a repository of type `local`: nothing can be registered.
    #[error("SpaceONE at {endpoint} has no local repository (Repository.list returned {found})")]
    NoLocalRepository { endpoint: String, found: String },

    /// Looked for in the local repository (through `Plugin.list`, the token's role may not
    /// call `Repository.list`), the plugin is only in other repositories or nowhere.
    #[error(
        "plugin `{plugin_id}` is not in the local repository{}",
        if .elsewhere.is_empty() { String::new() } else { format!(" (the server has it in {})", .elsewhere.join(", ")) }
    )]
    NotLocal {
        plugin_id: String,
        elsewhere: Vec<String>,
    },

    /// The plugin id is registered for another image; updating it would hijack that plugin.
    #[error("plugin id `{plugin_id}` is already registered for image `{registered_image}`, not `{image}`")]
    PluginIdTaken {
        plugin_id: String,
        registered_image: String,
        image: String,
    },

    /// A plugin with this id exists, and fields no `update` can change differ.
    #[error(
        "plugin `{plugin_id}` is registered with values that cannot be updated: {}",
        .differences.join("; ")
    )]
    ImmutableFields {
        plugin_id: String,
        /// `resource type `a.B` (the request has `c.D`)`, one per field.
        differences: Vec<String>,
    },

    /// After registering, the server's version list still lacks the pushed tag.
    #[error(
        "SpaceONE does not list version {version} of plugin {plugin_id} (after {attempts} \
         get_versions calls it lists: {})",
        if .listed.is_empty() { "nothing".to_string() } else { .listed.join(", ") }
    )]
    VersionNotListed {
        plugin_id: String,
        version: String,
        registry_type: &'static str,
        listed: Vec<String>,
        attempts: u32,
    },

    /// A 1.x template schema the server would refuse (ERROR_INVALID_TEMPLATE_SCHEMA).
    #[error(
        "plugin manifest {at}: `{key}` is not a valid JSON Schema (draft 7): {problem}; a \
         SpaceONE 1.x server refuses it with ERROR_INVALID_TEMPLATE_SCHEMA"
    )]
    InvalidTemplateSchema {
        /// `plugin.yml:9`.
        at: String,
        key: String,
        problem: String,
    },

    /// Tags the server's registry connector cannot sort, so registering and every later
    /// `get_versions` would fail: tags about to be pushed, or tags the repository already
    /// holds (the connector sorts all of them).
    #[error("{}", unsortable(.pushed, .existing, .repository, .registry_type, .generation, .rule))]
    UnsortableTags {
        pushed: Vec<String>,
        existing: Vec<String>,
        /// The registry repository, `host/namespace/name`.
        repository: String,
        registry_type: &'static str,
        generation: &'static str,
        rule: &'static str,
    },

    /// The server answered a call with a non-OK status.
    #[error("{method} failed: {} {details}{}", code_name(*.code), after(*.attempts))]
    Server {
        method: &'static str,
        code: Code,
        details: String,
        /// How many times the call was made (more than 1 after UNAVAILABLE or
        /// DEADLINE_EXCEEDED, see `retry.rs`).
        attempts: u32,
        /// The server's generation once known (after detection), for hints: the same
        /// failure has different causes and fixes on 1.x and 2.x.
        generation: Option<Generation>,
    },
}

fn unsortable(
    pushed: &[String],
    existing: &[String],
    repository: &str,
    registry_type: &str,
    generation: &str,
    rule: &str,
) -> String {
    let list = |tags: &[String]| {
        let quoted: Vec<String> = tags.iter().map(|t| format!("`{t}`")).collect();
        format!(
            "tag{} {}",
            if tags.len() == 1 { "" } else { "s" },
            quoted.join(", ")
        )
    };
    let mut parts = Vec::new();
    if !pushed.is_empty() {
        parts.push(format!("{} cannot be pushed", list(pushed)));
    }
    if !existing.is_empty() {
        parts.push(format!("{repository} already holds {}", list(existing)));
    }
    format!(
        "{} for a {registry_type} plugin on a SpaceONE {generation} server: {rule}, so \
         registering (and every later version listing) would fail after the push",
        parts.join(", and ")
    )
}

/// ` (after 3 attempts)`, or nothing for a single attempt.
fn after(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

impl SpaceOneError {
    /// Builds [`SpaceOneError::Server`] from a call's status.
    pub fn server(method: &'static str, status: &tonic::Status) -> Self {
        SpaceOneError::server_after(method, status, 1)
    }

    /// [`SpaceOneError::server`] for a call made `attempts` times.
    pub fn server_after(method: &'static str, status: &tonic::Status, attempts: u32) -> Self {
        let details = if status.message().is_empty() {
            status.code().description().to_string()
        } else {
            status.message().to_string()
        };
        SpaceOneError::Server {
            method,
            code: status.code(),
            details,
            attempts,
            generation: None,
        }
    }

    /// The same error, known to come from a `generation` server (see its hints).
    pub fn from_generation(mut self, known: Generation) -> Self {
        if let SpaceOneError::Server { generation, .. } = &mut self {
            *generation = Some(known);
        }
        self
    }

    /// Whether the error is in the user's input or configuration (manifest, image name,
    /// options) and was found without asking the server: exit status 2, not 5.
    pub fn is_preflight(&self) -> bool {
        matches!(
            self,
            SpaceOneError::ManifestRead { .. }
                | SpaceOneError::Manifest { .. }
                | SpaceOneError::ImageMismatch { .. }
                | SpaceOneError::InvalidImageName { .. }
                | SpaceOneError::MissingField { .. }
                | SpaceOneError::UnknownRegistryType { .. }
                | SpaceOneError::Endpoint { .. }
                | SpaceOneError::Token { .. }
                | SpaceOneError::DomainId { .. }
                | SpaceOneError::WorkspaceId { .. }
                | SpaceOneError::DomainRequired
                | SpaceOneError::CaCert { .. }
                | SpaceOneError::RegistryTypeUnsupported { .. }
                | SpaceOneError::InvalidTemplateSchema { .. }
                | SpaceOneError::UnsortableTags { .. }
        )
    }

    /// Whether the server refused the call for the token's role.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, SpaceOneError::Server { code, details, .. }
            if *code == Code::PermissionDenied
                || server_error_code(details) == Some("ERROR_PERMISSION_DENIED"))
    }

    /// The server's `ERROR_…` code, when the details start with one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            SpaceOneError::Server { details, .. } => server_error_code(details),
            _ => None,
        }
    }

    /// A known fix, shown apart from the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            SpaceOneError::Manifest { .. } => Some(
                "known keys: name, service_type (1.x) or resource_type (2.x), image, provider, \
                 registry_type, registry_config, capability, template (1.x), labels, tags, \
                 plugin_id (2.x), docs (2.x), project_id (1.x), domain_id (moved to the \
                 `spaceone-domain-id` input)"
                    .into(),
            ),
            SpaceOneError::ImageMismatch { target_image, .. } => Some(format!(
                "the image is derived from the `image` input; remove `image` from the manifest \
                 or set it to `{target_image}` (no registry host, no tag)"
            )),
            SpaceOneError::InvalidImageName { suggestion, .. } => suggestion.clone(),
            SpaceOneError::MissingField {
                field: "service_type/resource_type",
                ..
            } => Some(
                "set `service_type` (1.x) or `resource_type` (2.x) in the plugin manifest, e.g. \
                 `inventory.Collector`, `monitoring.DataSource`, `notification.Protocol`"
                    .into(),
            ),
            SpaceOneError::UnknownRegistryType { .. } => Some(
                "leave `registry_type` unset to derive it from the image's registry host".into(),
            ),
            SpaceOneError::RegistryTypeUnsupported { .. } => Some(
                "1.x knows DOCKER_HUB, AWS_PUBLIC_ECR and HARBOR; 2.x knows DOCKER_HUB, \
                 AWS_PRIVATE_ECR, HARBOR, GITHUB and GCP_PRIVATE_GCR. The type follows from the \
                 image's registry host; set input `registry-type` (e.g. HARBOR, when the \
                 server's Harbor connector reads that registry) to choose another"
                    .into(),
            ),
            SpaceOneError::Endpoint { .. } => Some(
                "use grpc://host:port (plain) or grpc+ssl://host:port (TLS), the repository \
                 service's own endpoint; a path such as /v1 is ignored"
                    .into(),
            ),
            SpaceOneError::Token { .. } => Some(
                "pass the raw token (a JWT: API key on 1.x, App client secret on 2.x) without \
                 a `Bearer ` prefix"
                    .into(),
            ),
            SpaceOneError::Connect { endpoint, .. } => Some(format!(
                "check that {endpoint} is reachable from this job and that the scheme matches \
                 the server (grpc:// plain, grpc+ssl:// TLS); a server certificate from a private \
                 CA needs `spaceone-ca-cert`"
            )),
            SpaceOneError::Detect { .. } => Some(
                "point `spaceone-endpoint` at the repository service's own gRPC endpoint (each \
                 SpaceONE service has its own), or set the server generation (1 or 2) to skip \
                 reflection"
                    .into(),
            ),
            SpaceOneError::NotLocal { elsewhere, .. } => Some(if elsewhere.is_empty() {
                "publish the plugin first (this tool registers into the local repository only)"
                    .into()
            } else {
                "a managed plugin with the same id is the server's, not yours: publish your own \
                 into the local repository first (it is then the one `get` shows)"
                    .into()
            }),
            SpaceOneError::PluginIdTaken { .. } => Some(
                "the plugin id is the image's last path segment (on 2.x, `plugin_id` in the \
                 manifest can differ); rename the image repository, set `plugin_id` (2.x), or \
                 deregister the other plugin if it is obsolete"
                    .into(),
            ),
            SpaceOneError::NoLocalRepository { .. } => Some(
                "plugins are registered only into the server's local repository. 1.x: set input \
                 `create-local-repository: true`, or create it once with `spacectl exec register \
                 repository.Repository -p name=local -p repository_type=local`; 2.x: the server's REPOSITORIES configuration needs \
                 one entry of type LOCAL"
                    .into(),
            ),
            SpaceOneError::ImmutableFields { .. } => Some(
                "image, registry type, provider and resource type are fixed once registered; set \
                 input `replace: true` to deregister the plugin and register it again (its state \
                 and the plugin id are kept; consumers pinned to it see it briefly missing)"
                    .into(),
            ),
            SpaceOneError::VersionNotListed { registry_type, .. } => Some(match *registry_type {
                "DOCKER_HUB" => "SpaceONE reads Docker Hub anonymously through its web API: the \
                                 repository must be public, and only the first page (10 tags, \
                                 most recently pushed first) is listed"
                    .into(),
                "HARBOR" => "the server lists tags with GET /v2/<image>/tags/list on its own \
                             configured registry: check that it is the registry pushed to, that \
                             it can read the repository, and (1.x) that every tag there is a \
                             plain version such as 1.2.3"
                    .into(),
                other => format!(
                    "the server lists tags through its {other} connector, with its own \
                     credentials: check that they can read this repository"
                ),
            }),
            SpaceOneError::InvalidTemplateSchema { .. } => Some(
                "a `schema` under `template` must be a JSON Schema object such as \
                 {type: object, properties: {region: {type: string}}}"
                    .into(),
            ),
            SpaceOneError::UnsortableTags {
                pushed, existing, ..
            } => {
                let mut fixes = Vec::new();
                if !pushed.is_empty() {
                    fixes.push(
                        "push version tags only (`semver-tags` adds `latest`; leave it off, or \
                         list `tags` yourself)",
                    );
                }
                if !existing.is_empty() {
                    fixes.push(
                        "delete the listed tags from the repository (e.g. `skopeo delete \
                         docker://<repository>:<tag>`, or the registry's UI), or publish to a \
                         repository that holds version tags only",
                    );
                }
                fixes.push(
                    "set input `allow-non-version-tags: true` only if the server's connector \
                     was changed to cope with them",
                );
                Some(fixes.join("; "))
            }
            SpaceOneError::Server {
                method,
                code,
                details,
                generation,
                ..
            } => super::hints::server_hint(method, *code, details, *generation),
            _ => None,
        }
    }
}

/// `ERROR_NO_PLUGIN` out of `ERROR_NO_PLUGIN: Plugin does not exists. (…)`.
pub fn server_error_code(details: &str) -> Option<&str> {
    let code = details.split(':').next()?.trim();
    let valid = code.starts_with("ERROR_")
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    valid.then_some(code)
}

/// The canonical upper-case name of a gRPC status code (`INVALID_ARGUMENT`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_displays_status_and_the_servers_own_text() {
        let status = tonic::Status::invalid_argument(
            "ERROR_INVALID_IMAGE_NAME_FORMAT: Image name format is [a-zA-Z0-9\\-]+ in plugin_x",
        );
        let err = SpaceOneError::server("Plugin.register", &status);
        assert_eq!(
            err.to_string(),
            "Plugin.register failed: INVALID_ARGUMENT ERROR_INVALID_IMAGE_NAME_FORMAT: \
             Image name format is [a-zA-Z0-9\\-]+ in plugin_x"
        );
        assert_eq!(err.error_code(), Some("ERROR_INVALID_IMAGE_NAME_FORMAT"));
        assert!(err.hint().unwrap().contains("48 characters"));
    }

    #[test]
    fn error_codes_are_recognised_only_in_the_servers_format() {
        assert_eq!(
            server_error_code("ERROR_NO_PLUGIN: Plugin does not exists."),
            Some("ERROR_NO_PLUGIN")
        );
        assert_eq!(server_error_code("tcp connect error: refused"), None);
        assert_eq!(server_error_code("ERROR x: y"), None);
    }

    #[test]
    fn hints_follow_the_code_then_the_status() {
        let h = |method, code, details| {
            SpaceOneError::Server {
                method,
                code,
                details: String::from(details),
                attempts: 1,
                generation: None,
            }
            .hint()
        };
        assert!(h(
            "Plugin.register",
            Code::InvalidArgument,
            "ERROR_REQUIRED_PARAMETER: Required parameter. (key = domain_id)"
        )
        .unwrap()
        .contains("spaceone-domain-id"));
        assert!(h(
            "Plugin.get_versions",
            Code::InvalidArgument,
            "ERROR_NO_PLUGIN: Plugin does not exists."
        )
        .unwrap()
        .contains("1.2.3"));
        assert!(h("Plugin.get", Code::Unavailable, "connection refused")
            .unwrap()
            .contains("grpc+ssl"));
        assert_eq!(h("Plugin.get", Code::Internal, "boom"), None);
    }
}

//! Inputs resolved against the checkout: the parsed Dockerfile, `.dockerignore`, the
//! version and tags, the build timestamp, the destination, and the registration request.
//!
//! Everything that can be checked before the first byte is pushed is checked here:
//! Dockerfile syntax, the plugin manifest, and SpaceONE's own rules for the request
//! (pre-flight). A [`Plan`] that exists can be built, pushed and registered, as far as
//! anything on this side can tell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::{dockerfile, dockerignore, BuildPlan};
use crate::inputs::{strip_v, Inputs, Output};
use crate::oci::Platform;
use crate::reference::Reference;
use crate::registry::{self, Credential, RegistryOptions};
use crate::spaceone;

/// Where the image goes.
#[derive(Debug, Clone)]
pub enum Destination {
    Registry(Reference),
    Layout {
        dir: PathBuf,
        name: Option<Reference>,
    },
}

pub struct Plan {
    pub build: BuildPlan,
    pub version: String,
    pub tags: Vec<String>,
    pub destination: Destination,
    pub registry: RegistryOptions,
    pub store_dir: PathBuf,
    /// The registration request, checked; `None` when there is nothing to register.
    pub registration: Option<spaceone::PluginRequest>,
    /// Where to send it; `None` prints it instead (dry run, local output, no endpoint).
    pub spaceone: Option<spaceone::SpaceOneOptions>,
    pub dry_run: bool,
    /// The generation to describe the request for when it is only printed.
    pub generation: spaceone::Generation,
    pub domain_id: Option<String>,
    /// Non-fatal findings to show the user (unknown variables, skipped registration).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("input `{input}` ({variable}): {problem}")]
    Input {
        input: &'static str,
        variable: String,
        problem: String,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::DockerfileError),
    #[error(transparent)]
    Ignore(#[from] dockerignore::IgnoreError),
    #[error(transparent)]
    SpaceOne(#[from] spaceone::SpaceOneError),
}

/// Plugin manifest names looked for in the context when `plugin-manifest` is not given.
const MANIFEST_CANDIDATES: &[&str] = &[
    "plugin.yaml",
    "plugin.yml",
    "register_plugin.yaml",
    "register_plugin.yml",
    "test/spacectl/register_plugin.yaml",
    "test/spacectl/register_plugin.yml",
];

impl Plan {
    pub fn resolve(inputs: Inputs) -> Result<Plan, PlanError> {
        let mut notes = inputs.unknown.clone();
        let input_error = |input: &'static str, problem: String| PlanError::Input {
            input,
            variable: inputs.source_of(input),
            problem,
        };
        let context = inputs.context.clone();
        if !context.is_dir() {
            return Err(input_error(
                "context",
                format!("{} is not a directory", context.display()),
            ));
        }
        let dockerfile_path = inputs
            .dockerfile
            .clone()
            .unwrap_or_else(|| context.join("Dockerfile"));
        let text =
            std::fs::read_to_string(&dockerfile_path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => input_error(
                    "dockerfile",
                    format!("{} does not exist", dockerfile_path.display()),
                ),
                _ => PlanError::Read {
                    path: dockerfile_path.clone(),
                    source,
                },
            })?;
        let dockerfile = dockerfile::parse(&dockerfile_path, &text)?;
        dockerfile.target(inputs.target.as_deref())?;
        let ignore = dockerignore::load(&context, &dockerfile_path)?;

        let version = match &inputs.version {
            Some(v) => Some(v.clone()),
            None => git_tag(&context).or_else(|| version_file(&context)),
        };
        let mut tags = inputs.tags.clone();
        if tags.is_empty() {
            tags.push(version.clone().unwrap_or_else(|| "latest".into()));
        }
        let epoch = inputs
            .source_date_epoch
            .or_else(|| commit_time(&context))
            .unwrap_or(0);

        let platform = match inputs.platforms.as_slice() {
            [] => Platform::host(),
            [one] => one.clone(),
            _ => {
                return Err(input_error(
                    "platforms",
                    "several platforms (an image index) are not supported yet; give one".into(),
                ))
            }
        };

        let destination = match (&inputs.output, &inputs.image) {
            (Output::Registry, Some(image)) => Destination::Registry(image.clone()),
            (Output::Registry, None) => {
                return Err(input_error(
                    "output",
                    "`registry` needs `image` (PUBLISH_IMAGE) to know where to push".into(),
                ))
            }
            (Output::OciLayout(dir), name) => Destination::Layout {
                dir: dir.clone(),
                name: name.clone(),
            },
        };

        let manifest_path = inputs.plugin_manifest.clone().or_else(|| {
            MANIFEST_CANDIDATES
                .iter()
                .map(|c| context.join(c))
                .find(|p| p.is_file())
        });
        let manifest = manifest_path
            .as_deref()
            .map(spaceone::PluginManifest::load)
            .transpose()?;

        let registering = inputs.spaceone_endpoint.is_some() || manifest.is_some();
        let registration = if registering {
            let target = registration_target(&destination, manifest.as_ref(), &context);
            let version = version.clone().ok_or_else(|| {
                input_error(
                    "version",
                    "no version to register: set `version`, push a git tag, or add src/VERSION"
                        .into(),
                )
            })?;
            let overrides = spaceone::RequestOverrides {
                registry_type: inputs.registry_type.clone(),
            };
            Some(spaceone::prepare(
                manifest.as_ref(),
                &target,
                &version,
                &overrides,
            )?)
        } else {
            None
        };
        let pushing = matches!(destination, Destination::Registry(_));
        let spaceone = match (&inputs.spaceone_endpoint, registration.is_some()) {
            (Some(endpoint), true) if pushing && !inputs.dry_run => {
                Some(spaceone::SpaceOneOptions {
                    endpoint: endpoint.clone(),
                    token: inputs.spaceone_token.clone(),
                    domain_id: inputs.spaceone_domain_id.clone(),
                    ca_cert: inputs.spaceone_ca_cert.clone(),
                    generation: inputs.spaceone_api.into(),
                    workspace_id: inputs.spaceone_workspace_id.clone(),
                    policy: spaceone::Policy {
                        replace: inputs.replace,
                        create_local_repository: inputs.create_local_repository,
                        allow_non_version_tags: inputs.allow_non_version_tags,
                    },
                })
            }
            (Some(_), true) if !pushing => {
                notes.push(
                    "the image is written locally, not pushed: registration is printed, not sent"
                        .into(),
                );
                None
            }
            (None, true) => {
                notes.push("no spaceone-endpoint: registration is printed, not sent".into());
                None
            }
            _ => None,
        };
        if let Some(options) = &spaceone {
            options.validate()?;
        }

        let mut credentials: Vec<Credential> = inputs
            .ci_credentials
            .iter()
            .map(|(registry, username, password)| Credential {
                registry: registry.clone(),
                username: username.clone(),
                password: password.clone(),
            })
            .collect();
        if let (Some(username), Some(password), Destination::Registry(image)) = (
            &inputs.registry_username,
            &inputs.registry_password,
            &destination,
        ) {
            credentials.insert(
                0,
                Credential {
                    registry: image.registry.clone(),
                    username: username.clone(),
                    password: password.clone(),
                },
            );
        }
        let registry = RegistryOptions {
            insecure: inputs.insecure_registries.clone(),
            ca_cert: inputs.registry_ca_cert.clone(),
            credentials,
            jobs: registry::DEFAULT_JOBS,
            docker_config: inputs.docker_config.clone(),
            auth_files: inputs.auth_files.clone(),
            chunk_size: inputs.registry_chunk_size,
        };

        Ok(Plan {
            build: BuildPlan {
                dockerfile,
                context,
                ignore,
                build_args: inputs
                    .build_args
                    .iter()
                    .cloned()
                    .collect::<BTreeMap<_, _>>(),
                target: inputs.target.clone(),
                platform,
                epoch,
                labels: inputs.labels.iter().cloned().collect(),
                secrets: inputs.secrets_values.iter().cloned().collect(),
                cache_repo: inputs.cache_repo.clone().or_else(|| match &destination {
                    Destination::Registry(image) => format!("{}-cache", image.name()).parse().ok(),
                    Destination::Layout { .. } => None,
                }),
                no_cache: inputs.no_cache,
                work_dir: inputs.cache_dir.join("build"),
            },
            version: version.unwrap_or_else(|| tags[0].clone()),
            tags,
            destination,
            registry,
            store_dir: inputs.cache_dir.join("blobs"),
            registration,
            spaceone,
            dry_run: inputs.dry_run,
            generation: inputs.spaceone_api.into(),
            domain_id: inputs.spaceone_domain_id.clone(),
            notes,
        })
    }
}

/// The reference registration describes: the push target, or for a local output the
/// manifest's `image` (else the context directory's name).
fn registration_target(
    destination: &Destination,
    manifest: Option<&spaceone::PluginManifest>,
    context: &Path,
) -> Reference {
    match destination {
        Destination::Registry(r) | Destination::Layout { name: Some(r), .. } => r.clone(),
        Destination::Layout { name: None, .. } => {
            let from_manifest = manifest
                .and_then(|m| m.image())
                .and_then(|i| i.parse::<Reference>().ok());
            from_manifest.unwrap_or_else(|| {
                let dir = context
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()));
                let name = dir.unwrap_or_else(|| "plugin".into());
                format!("localhost/{name}")
                    .parse()
                    .unwrap_or_else(|_| "localhost/plugin".parse().expect("valid"))
            })
        }
    }
}

fn git(context: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(context)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The tag at HEAD, `v` stripped (`v1.2.3` → `1.2.3`).
fn git_tag(context: &Path) -> Option<String> {
    git(context, &["describe", "--tags", "--exact-match", "HEAD"]).map(|t| strip_v(&t))
}

/// The committer time of HEAD: reproducible across clones, unlike file mtimes.
fn commit_time(context: &Path) -> Option<u64> {
    git(context, &["log", "-1", "--format=%ct"])?.parse().ok()
}

/// `src/VERSION`, the file SpaceONE plugins keep their version in.
fn version_file(context: &Path) -> Option<String> {
    let text = std::fs::read_to_string(context.join("src").join("VERSION")).ok()?;
    let v = strip_v(text.trim());
    (!v.is_empty()).then_some(v)
}

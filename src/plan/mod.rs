//! Inputs resolved against the checkout: the parsed Dockerfile, `.dockerignore`, the
//! version and tags, the build timestamp, the destination, and the registration request.
//!
//! Everything that can be checked before the first byte is pushed is checked here:
//! Dockerfile syntax, the plugin manifest, and SpaceONE's own rules for the request
//! (pre-flight). A [`Plan`] that exists can be built, pushed and registered, as far as
//! anything on this side can tell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::build::source_times::SourceTimes;
use crate::build::{dockerfile, dockerignore, BuildPlan};
use crate::inputs::{Inputs, Output};
use crate::oci::Platform;
use crate::reference::Reference;
use crate::registry::RegistryOptions;
use crate::{spaceone, tags};

mod checks;
mod git;
mod registration;
mod servers;
mod verbs;

use git::{commit_time, git, git_tag, source_times, version_file};

pub use registration::Registering;
pub use servers::{registry_options, spaceone_options};
pub use verbs::{ListPlan, MergePlan, PluginVerbPlan};

/// Where the image goes.
#[derive(Debug, Clone)]
pub enum Destination {
    Registry(Reference),
    Layout {
        dir: PathBuf,
        name: Option<Reference>,
    },
    /// A `docker load` tar; `name` gives its `RepoTags`.
    DockerArchive {
        file: PathBuf,
        name: Option<Reference>,
    },
}

pub struct Plan {
    /// The build; its `platform` is set for each of [`Plan::platforms`] in turn.
    pub build: BuildPlan,
    /// One image per platform; several make an index.
    pub platforms: Vec<Platform>,
    pub destination: Destination,
    pub store_dir: PathBuf,
    pub publication: Publication,
}

/// What `publish` and `merge` share: the release, where it is pushed, and its
/// registration.
#[derive(Debug, Clone)]
pub struct Publication {
    pub version: String,
    pub tags: Vec<String>,
    /// OCI annotations for the manifest or index (the same keys are image labels).
    pub annotations: BTreeMap<String, String>,
    pub registry: RegistryOptions,
    /// Further repositories that get the same images and tags, each with its own
    /// registry options (credentials for that repository).
    pub also_push: Vec<(Reference, RegistryOptions)>,
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

impl Publication {
    fn new(
        inputs: &Inputs,
        release: Release,
        main: Option<&Reference>,
        registration: Registering,
        annotations: BTreeMap<String, String>,
        notes: Vec<String>,
    ) -> Publication {
        Publication {
            version: release.version.clone().unwrap_or_else(|| "latest".into()),
            tags: release.tags,
            annotations,
            registry: registry_options(inputs, main),
            also_push: inputs
                .also_push
                .iter()
                .map(|image| (image.clone(), registry_options(inputs, Some(image))))
                .collect(),
            registration: registration.request,
            spaceone: registration.options,
            dry_run: inputs.dry_run,
            generation: inputs.spaceone_api,
            domain_id: inputs.spaceone_domain_id.clone(),
            notes,
        }
    }

    /// The registration request as the report shows it.
    pub fn request_json(&self) -> Option<serde_json::Value> {
        self.registration
            .as_ref()
            .map(|r| r.to_json_with_domain(self.generation, self.domain_id.as_deref()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("input `{input}` ({variable}): {problem}")]
    Input {
        input: &'static str,
        variable: String,
        problem: String,
    },
    /// A CI variable (not an input) naming a file that cannot be used.
    #[error("{variable}: {problem}")]
    Environment {
        variable: &'static str,
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
        let context = checked_context(&inputs)?;
        checks::check(&inputs)?;
        // `./Dockerfile` → `Dockerfile`: CI annotations match paths relative to the checkout.
        let dockerfile_path: PathBuf = inputs
            .dockerfile
            .clone()
            .unwrap_or_else(|| context.join("Dockerfile"))
            .components()
            .filter(|c| c.as_os_str() != ".")
            .collect();
        let text =
            std::fs::read_to_string(&dockerfile_path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => input_error(
                    &inputs,
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

        let release = Release::resolve(&inputs, &context)?;
        let platforms = match inputs.platforms.as_slice() {
            [] => vec![Platform::host()],
            list => list.to_vec(),
        };
        let destination = match (&inputs.output, &inputs.image) {
            (Output::Registry, Some(image)) => Destination::Registry(image.clone()),
            (Output::Registry, None) => {
                return Err(input_error(
                    &inputs,
                    "output",
                    "`registry` needs `image` (PUBLISH_IMAGE) to know where to push".into(),
                ))
            }
            (Output::OciLayout(dir), name) => Destination::Layout {
                dir: dir.clone(),
                name: name.clone(),
            },
            (Output::DockerArchive(_), _) if platforms.len() > 1 => return Err(input_error(
                &inputs,
                "output",
                "`docker-archive:FILE` holds one platform; use `oci:DIR` or `registry` for several"
                    .into(),
            )),
            (Output::DockerArchive(file), name) => Destination::DockerArchive {
                file: file.clone(),
                name: name.clone(),
            },
        };
        if !inputs.also_push.is_empty() && !matches!(destination, Destination::Registry(_)) {
            return Err(input_error(
                &inputs,
                "image",
                "several images are pushed only with `output: registry`; a local output holds one"
                    .into(),
            ));
        }
        let mut release = release;
        if inputs.push_by_digest && inputs.spaceone_endpoint.is_some() {
            let problem = "cannot be combined with `spaceone-endpoint`: a push by digest is \
                           one platform of a matrix build and registers nothing; set \
                           `spaceone-endpoint` on the `merge` job instead";
            return Err(input_error(&inputs, "push-by-digest", problem.into()));
        }
        let registration = if inputs.push_by_digest {
            // One platform of a matrix build: `merge` tags the index and registers it.
            release.tags.clear();
            Registering {
                request: None,
                options: None,
            }
        } else {
            Registering::resolve(&inputs, &context, &destination, &release, &mut notes)?
        };
        let annotations = oci_annotations(&inputs, &destination, &release);
        let labels = annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(inputs.labels.iter().cloned());
        // One `git log` over the history, only when some step copies from the context.
        let copies_context = dockerfile
            .stages
            .iter()
            .flat_map(|stage| &stage.instructions)
            .any(|i| match &i.kind {
                dockerfile::InstructionKind::Copy(spec)
                | dockerfile::InstructionKind::Add(spec) => {
                    spec.from.is_none() && spec.heredocs.is_empty()
                }
                _ => false,
            });
        let source_times = if copies_context {
            source_times(&context)
        } else {
            SourceTimes::default()
        };
        Ok(Plan {
            platforms: platforms.clone(),
            build: BuildPlan {
                dockerfile,
                context,
                ignore,
                build_args: inputs.build_args.iter().cloned().collect(),
                target: inputs.target.clone(),
                platform: platforms[0].clone(),
                epoch: release.epoch,
                source_times,
                labels: labels.collect(),
                secrets: inputs.secrets_values.iter().cloned().collect(),
                cache_repo: inputs.cache_repo.clone().or_else(|| match &destination {
                    Destination::Registry(image) => default_cache_repo(image),
                    Destination::Layout { .. } | Destination::DockerArchive { .. } => None,
                }),
                no_cache: inputs.no_cache,
                cache_write: matches!(destination, Destination::Registry(_)) && !inputs.dry_run,
                work_dir: inputs
                    .work_dir
                    .clone()
                    .unwrap_or_else(|| inputs.cache_dir.join("build")),
                delivered_to: destination
                    .repository()
                    .into_iter()
                    .chain(inputs.also_push.iter())
                    .cloned()
                    .collect(),
            },
            publication: Publication::new(
                &inputs,
                release,
                destination.repository(),
                registration,
                annotations,
                notes,
            ),
            destination,
            store_dir: inputs.cache_dir.join("blobs"),
        })
    }
}

impl Destination {
    /// The registry repository pushed to, if any.
    pub fn repository(&self) -> Option<&Reference> {
        match self {
            Destination::Registry(r) => Some(r),
            Destination::Layout { .. } | Destination::DockerArchive { .. } => None,
        }
    }
}

/// Where RUN layers are cached when `cache-repo` is not set: `<image>/cache`, nested
/// under the plugin's own repository so no new repository appears beside every plugin in
/// the organisation (and SpaceONE, listing `<image>`'s tags, never sees cache tags). Docker
/// Hub cannot nest repositories, and a new one there is public: no default cache.
fn default_cache_repo(image: &Reference) -> Option<Reference> {
    if image.is_docker_hub() {
        return None;
    }
    format!("{}/cache", image.name()).parse().ok()
}

/// Version, tags and timestamp of what is being released.
pub struct Release {
    /// Time for file mtimes, `created` and dev-build stamps.
    pub epoch: u64,
    pub version: Option<String>,
    pub revision: Option<String>,
    pub tags: Vec<String>,
}

impl Release {
    pub fn resolve(inputs: &Inputs, context: &Path) -> Result<Release, PlanError> {
        let epoch = inputs
            .source_date_epoch
            .or_else(|| commit_time(context))
            .unwrap_or(0);
        let version = match &inputs.version {
            Some(v) => Some(v.clone()),
            None => git_tag(context).or_else(|| version_file(context)),
        };
        let version = match version {
            Some(_) if inputs.dev_build && epoch == 0 => {
                let problem = "a dev build is stamped with the commit time, and there is none: \
                               not a git checkout (or no git), and no SOURCE_DATE_EPOCH";
                return Err(input_error(inputs, "dev-build", problem.into()));
            }
            Some(v) if inputs.dev_build => {
                let zone = inputs.timezone.clone().unwrap_or(jiff::tz::TimeZone::UTC);
                Some(tags::dev_version(&v, epoch, &zone))
            }
            None if inputs.dev_build => {
                let problem = "a dev build needs a base version: set `version` or add src/VERSION";
                return Err(input_error(inputs, "dev-build", problem.into()));
            }
            v => v,
        };
        let revision = inputs
            .revision
            .clone()
            .or_else(|| git(context, &["rev-parse", "HEAD"]));
        if inputs.sha_tag && revision.is_none() {
            let problem = "no commit to tag: not a git checkout and no GITHUB_SHA/CI_COMMIT_SHA";
            return Err(input_error(inputs, "sha-tag", problem.into()));
        }
        let rules = tags::TagRules {
            semver: inputs.semver_tags,
            sha: revision.clone().filter(|_| inputs.sha_tag),
        };
        let tags = tags::tags_for(version.as_deref().unwrap_or("latest"), &inputs.tags, &rules);
        Ok(Release {
            epoch,
            version,
            revision,
            tags,
        })
    }
}

fn checked_context(inputs: &Inputs) -> Result<PathBuf, PlanError> {
    let context = inputs.context.clone();
    if context.is_dir() {
        Ok(context)
    } else {
        Err(input_error(
            inputs,
            "context",
            format!("{} is not a directory", context.display()),
        ))
    }
}

fn input_error(inputs: &Inputs, input: &'static str, problem: String) -> PlanError {
    PlanError::Input {
        input,
        variable: inputs.source_of(input),
        problem,
    }
}

/// The `org.opencontainers.image.*` annotations (and labels) a published image carries.
/// `created` is the build time from the commit, so digests stay reproducible.
fn oci_annotations(
    inputs: &Inputs,
    destination: &Destination,
    release: &Release,
) -> BTreeMap<String, String> {
    // Without a repository name there is no stable title: a checkout's directory name
    // differs between machines (`/github/workspace`), and would change the digest.
    let title = match destination {
        Destination::Registry(r)
        | Destination::Layout { name: Some(r), .. }
        | Destination::DockerArchive { name: Some(r), .. } => {
            r.repository.rsplit('/').next().map(str::to_string)
        }
        Destination::Layout { name: None, .. } | Destination::DockerArchive { name: None, .. } => {
            None
        }
    };
    let key = |k: &str| format!("org.opencontainers.image.{k}");
    let mut out = BTreeMap::new();
    out.insert(key("created"), crate::time::rfc3339(release.epoch));
    for (k, v) in [
        ("title", title),
        ("version", release.version.clone()),
        ("revision", release.revision.clone()),
        ("source", inputs.source_url.clone()),
        ("url", inputs.source_url.clone()),
    ] {
        if let Some(v) = v {
            out.insert(key(k), v);
        }
    }
    out
}

//! The Dockerfile builder, `build::build(plan) -> Image`.
//!
//! The frontend ([`dockerfile`], [`expand`]) turns the file into stages of raw
//! instructions; [`context`] and [`dockerignore`] decide which files COPY sees; [`layer`]
//! writes deterministic layers; [`stage`] holds a stage's configuration and variables while
//! its instructions are applied.
//!
//! A stage starts from its base image *by reference*: the base's manifest and config are
//! read from its registry, and its layers stay there ([`LayerOrigin::Remote`]) until the
//! push mounts or copies them. A build without RUN therefore never downloads base layers.

pub mod context;
pub mod dockerfile;
pub mod dockerignore;
pub mod expand;
pub mod layer;
pub mod stage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ci::{Event, Reporter};
use crate::oci::{BlobStore, Image, ImageConfig, Layer, LayerOrigin, Platform};
use crate::reference::Reference;
use crate::registry;
use dockerfile::{CopySpec, Dockerfile, Instruction, InstructionKind, Stage};
use layer::{EntryData, LayerEntry};
use stage::StageState;

/// Everything a build needs, resolved from the inputs.
pub struct BuildPlan {
    pub dockerfile: Dockerfile,
    pub context: PathBuf,
    pub ignore: dockerignore::DockerIgnore,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub platform: Platform,
    /// Time for file mtimes and `created`: SOURCE_DATE_EPOCH or the commit time.
    pub epoch: u64,
    /// Labels added to the final image (OCI annotations keys), after the Dockerfile's.
    pub labels: BTreeMap<String, String>,
    /// `RUN --mount=type=secret` values by id. Never in a layer, a cache key or a log.
    pub secrets: BTreeMap<String, crate::secret::Secret>,
    /// Where RUN layers are cached in a registry; `None` disables the registry cache.
    pub cache_repo: Option<Reference>,
    /// Build without reading the layer cache (it is still written).
    pub no_cache: bool,
    /// Local working directory for rootfs unpacking and `RUN --mount=type=cache` contents.
    pub work_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{path}:{line}: {message}")]
    Instruction {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    NotSupported {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}:{line}: cannot read the base image {reference}")]
    Base {
        path: PathBuf,
        line: usize,
        reference: String,
        #[source]
        source: Box<registry::RegistryError>,
    },
    #[error("{path}:{line}: writing the layer failed")]
    Layer {
        path: PathBuf,
        line: usize,
        #[source]
        source: layer::LayerError,
    },
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::DockerfileError),
}

impl BuildError {
    /// The Dockerfile line the error is about, for CI annotations.
    pub fn location(&self) -> Option<(&Path, usize)> {
        match self {
            BuildError::Instruction { path, line, .. }
            | BuildError::NotSupported { path, line, .. }
            | BuildError::Base { path, line, .. }
            | BuildError::Layer { path, line, .. } => Some((path, *line)),
            BuildError::Dockerfile(e) => Some((e.path(), e.line())),
        }
    }
}

/// Builds the target stage into an image whose new layers are in `store`.
pub async fn build(
    plan: &BuildPlan,
    registry: &registry::Client,
    store: &BlobStore,
    reporter: &dyn Reporter,
) -> Result<Image, BuildError> {
    let df = &plan.dockerfile;
    let target = df.target(plan.target.as_deref())?;
    let globals = stage::global_args(&df.global_args, &plan.build_args, df.escape)
        .map_err(|e| instruction_error(df, target.line, e.to_string()))?;
    let base = base_image(plan, target, &globals, registry, reporter).await?;
    let name = target
        .name
        .clone()
        .unwrap_or_else(|| format!("stage-{}", target.index));
    let created = stage::rfc3339(plan.epoch);
    let mut state = StageState::new(
        name,
        base,
        df.escape,
        plan.build_args.clone(),
        globals,
        created.clone(),
    );

    for instruction in &target.instructions {
        reporter.event(Event::Step {
            stage: &state.name,
            line: instruction.line,
            text: &instruction.text,
        });
        apply(plan, &mut state, instruction, store).await?;
    }

    let mut image = state.image;
    if !plan.labels.is_empty() {
        image
            .config
            .config
            .labels
            .get_or_insert_with(BTreeMap::new)
            .extend(plan.labels.clone());
    }
    image.config.created = Some(created);
    Ok(image)
}

async fn base_image(
    plan: &BuildPlan,
    stage: &Stage,
    globals: &BTreeMap<String, String>,
    registry: &registry::Client,
    reporter: &dyn Reporter,
) -> Result<Image, BuildError> {
    let df = &plan.dockerfile;
    let word = expand::expand(&stage.base, df.escape, &|n| globals.get(n).cloned())
        .map_err(|e| instruction_error(df, stage.line, e.to_string()))?;
    if word.eq_ignore_ascii_case("scratch") {
        return Ok(Image {
            config: ImageConfig::scratch(&plan.platform),
            layers: vec![],
            annotations: BTreeMap::new(),
        });
    }
    if df
        .stage_by_name_or_index(&word)
        .is_some_and(|s| s.index < stage.index)
    {
        return Err(BuildError::NotSupported {
            path: df.path.clone(),
            line: stage.line,
            message: format!("FROM {word}: building on an earlier stage is not supported yet"),
        });
    }
    let reference: Reference = word
        .parse()
        .map_err(|e: crate::reference::ReferenceError| {
            instruction_error(df, stage.line, e.to_string())
        })?;
    reporter.event(Event::Note(&format!(
        "resolving base image {reference} for {}",
        plan.platform
    )));
    let resolved = registry
        .resolve(&reference, &plan.platform)
        .await
        .map_err(|source| BuildError::Base {
            path: df.path.clone(),
            line: stage.line,
            reference: word.clone(),
            source: Box::new(source),
        })?;
    let origin = LayerOrigin::Remote(resolved.reference.clone());
    let mut config = resolved.config;
    let layers = resolved
        .manifest
        .layers
        .iter()
        .zip(config.rootfs.diff_ids.iter())
        .map(|(descriptor, diff_id)| {
            let mut descriptor = descriptor.clone();
            descriptor.media_type = descriptor.media_type.to_oci();
            Layer {
                descriptor,
                diff_id: crate::oci::DiffId(diff_id.clone()),
                origin: origin.clone(),
            }
        })
        .collect();
    config.created = None;
    Ok(Image {
        config,
        layers,
        annotations: BTreeMap::new(),
    })
}

async fn apply(
    plan: &BuildPlan,
    state: &mut StageState,
    instruction: &Instruction,
    store: &BlobStore,
) -> Result<(), BuildError> {
    let df = &plan.dockerfile;
    let line = instruction.line;
    let fail = |message: String| instruction_error(df, line, message);
    let x = |state: &StageState, word: &str| state.expand(word).map_err(|e| fail(e.to_string()));
    match &instruction.kind {
        InstructionKind::Arg(decls) => {
            for decl in decls {
                state.declare_arg(decl).map_err(|e| fail(e.to_string()))?;
            }
        }
        InstructionKind::Env(pairs) => {
            for (key, value) in pairs {
                let (key, value) = (x(state, key)?, x(state, value)?);
                state.config().set_env(&key, &value);
            }
        }
        InstructionKind::Label(pairs) => {
            for (key, value) in pairs {
                let (key, value) = (x(state, key)?, x(state, value)?);
                state
                    .config()
                    .config
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key, value);
            }
        }
        InstructionKind::Workdir(word) => {
            let dir = x(state, word)?;
            let current = state
                .config()
                .config
                .working_dir
                .clone()
                .unwrap_or_else(|| "/".into());
            state.config().config.working_dir = Some(join_path(&current, &dir));
        }
        InstructionKind::User(word) => {
            let user = x(state, word)?;
            state.config().config.user = Some(user);
        }
        InstructionKind::Expose(words) => {
            for word in words {
                for port in state.expand_words(word).map_err(|e| fail(e.to_string()))? {
                    let port = if port.contains('/') {
                        port
                    } else {
                        format!("{port}/tcp")
                    };
                    state
                        .config()
                        .config
                        .exposed_ports
                        .get_or_insert_with(BTreeMap::new)
                        .insert(port, serde_json::json!({}));
                }
            }
        }
        InstructionKind::Volume(words) => {
            for word in words {
                let path = x(state, word)?;
                state
                    .config()
                    .config
                    .volumes
                    .get_or_insert_with(BTreeMap::new)
                    .insert(path, serde_json::json!({}));
            }
        }
        InstructionKind::StopSignal(word) => {
            let signal = x(state, word)?;
            state.config().config.stop_signal = Some(signal);
        }
        InstructionKind::Entrypoint(form) => {
            let argv = state.shell_argv(form);
            state.set_entrypoint(argv);
        }
        InstructionKind::Cmd(form) => {
            let argv = state.shell_argv(form);
            state.set_cmd(argv);
        }
        InstructionKind::Shell(argv) => state.config().config.shell = Some(argv.clone()),
        InstructionKind::Healthcheck(check) => {
            state.config().config.healthcheck = Some(check.to_config())
        }
        InstructionKind::Onbuild(text) => {
            state
                .config()
                .config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(text.clone());
        }
        InstructionKind::Maintainer(name) => state.config().author = Some(name.clone()),
        InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
            let layer = copy_layer(plan, state, instruction, spec, store).await?;
            state.record(&instruction.text, Some(layer));
            return Ok(());
        }
        InstructionKind::Run(_) => {
            return Err(BuildError::NotSupported {
                path: df.path.clone(),
                line,
                message: format!(
                    "`{}`: RUN is not supported yet (daemonless RUN is coming); remove it or build those steps into the base image",
                    instruction.text
                ),
            });
        }
    }
    state.record(&instruction.text, None);
    Ok(())
}

async fn copy_layer(
    plan: &BuildPlan,
    state: &StageState,
    instruction: &Instruction,
    spec: &CopySpec,
    store: &BlobStore,
) -> Result<Layer, BuildError> {
    let df = &plan.dockerfile;
    let line = instruction.line;
    let fail = |message: String| instruction_error(df, line, message);
    let name = instruction.kind.name();
    if spec.from.is_some() {
        return Err(BuildError::NotSupported {
            path: df.path.clone(),
            line,
            message: format!("{name} --from is not supported yet"),
        });
    }
    let x = |word: &str| state.expand(word).map_err(|e| fail(e.to_string()));
    let (uid, gid) = match &spec.chown {
        Some(chown) => parse_chown(&x(chown)?).map_err(fail)?,
        None => (0, 0),
    };
    let chmod = match &spec.chmod {
        Some(chmod) => {
            let v = x(chmod)?;
            Some(
                u32::from_str_radix(&v, 8)
                    .map_err(|_| fail(format!("--chmod={v} is not an octal mode")))?,
            )
        }
        None => None,
    };
    let workdir = state
        .image
        .config
        .config
        .working_dir
        .clone()
        .unwrap_or_else(|| "/".into());
    let dest = x(&spec.dest)?;
    let mut entries = Vec::new();
    if spec.heredocs.is_empty() {
        let sources = spec
            .sources
            .iter()
            .map(|s| x(s))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(url) = sources
            .iter()
            .find(|s| s.starts_with("http://") || s.starts_with("https://"))
        {
            return Err(BuildError::NotSupported {
                path: df.path.clone(),
                line,
                message: format!("{name} from a URL ({url}) is not supported yet"),
            });
        }
        let planned = context::plan_copy(&plan.context, &plan.ignore, &sources, &dest, &workdir)
            .map_err(|e| fail(e.to_string()))?;
        for entry in planned {
            let (data, mode) = match entry.kind {
                context::EntryKind::File { mode } => (
                    EntryData::File {
                        source: entry.source,
                    },
                    mode,
                ),
                context::EntryKind::Dir { mode } => (EntryData::Dir, mode),
                context::EntryKind::Symlink { target } => (EntryData::Symlink { target }, 0o777),
            };
            let mode = match (&data, chmod) {
                (EntryData::Symlink { .. }, _) | (_, None) => mode,
                (_, Some(m)) => m,
            };
            entries.push(LayerEntry {
                path: entry.dest,
                data,
                mode,
                uid,
                gid,
            });
        }
    } else {
        for doc in &spec.heredocs {
            let content = if doc.expand {
                x(&doc.content)?
            } else {
                doc.content.clone()
            };
            let path = join_path(&join_path(&workdir, &dest), &doc.name);
            let path = if dest.ends_with('/') || spec.heredocs.len() > 1 {
                path
            } else {
                join_path(&workdir, &dest)
            };
            entries.push(LayerEntry {
                path,
                data: EntryData::Bytes(content.into_bytes()),
                mode: chmod.unwrap_or(0o644),
                uid,
                gid,
            });
        }
    }
    let store = store.clone();
    let epoch = plan.epoch;
    tokio::task::spawn_blocking(move || layer::write_layer(&store, &entries, epoch))
        .await
        .expect("layer writer panicked")
        .map_err(|source| BuildError::Layer {
            path: df.path.clone(),
            line,
            source,
        })
}

/// `uid[:gid]` as numbers; `root` is 0. Names need the base's /etc/passwd (with RUN support).
fn parse_chown(value: &str) -> Result<(u64, u64), String> {
    let id = |s: &str| -> Result<u64, String> {
        match s {
            "root" => Ok(0),
            _ => s.parse().map_err(|_| {
                format!("--chown={value}: user and group names are not resolved yet; use numeric ids (e.g. 1000:1000)")
            }),
        }
    };
    match value.split_once(':') {
        Some((u, g)) => Ok((id(u)?, id(g)?)),
        None => {
            let uid = id(value)?;
            Ok((uid, uid))
        }
    }
}

fn instruction_error(df: &Dockerfile, line: usize, message: String) -> BuildError {
    BuildError::Instruction {
        path: df.path.clone(),
        line,
        message,
    }
}

/// Joins an image path onto a directory, lexically (`..` cannot climb above `/`).
pub fn join_path(base: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_path_table() {
        assert_eq!(join_path("/", "app"), "/app");
        assert_eq!(join_path("/app", "src/"), "/app/src");
        assert_eq!(join_path("/app", "/opt"), "/opt");
        assert_eq!(join_path("/app", "../../.."), "/");
    }

    #[test]
    fn chown_table() {
        assert_eq!(parse_chown("1000:1001"), Ok((1000, 1001)));
        assert_eq!(parse_chown("1000"), Ok((1000, 1000)));
        assert_eq!(parse_chown("root:0"), Ok((0, 0)));
        assert!(parse_chown("app").unwrap_err().contains("numeric ids"));
    }
}

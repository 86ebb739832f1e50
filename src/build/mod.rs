//! The Dockerfile builder, `build::build(plan) -> (Image, Timings)`.
//!
//! The frontend ([`dockerfile`], [`expand`]) turns the file into stages of raw
//! instructions; [`context`] and [`dockerignore`] decide which files COPY sees (`copy`
//! what its layer holds, [`source_times`] the commit times its files carry); [`layer`]
//! writes deterministic layers; [`stage`] holds a stage's configuration and variables while
//! its instructions are applied, `config` applies the configuration-only instructions, and
//! `base` resolves where a stage starts. `platforms` checks, before any build, that every
//! base has every requested platform; [`timings`] says where the time went; `error` is why
//! a build failed, with the Dockerfile line.
//!
//! A stage starts from its base image *by reference*: the base's manifest and config are
//! read from its registry, and its layers stay there ([`LayerOrigin::Remote`]) until the
//! push mounts or copies them. A build without RUN therefore never downloads base layers.
//!
//! Files are needed only for RUN (and for `COPY --from`, `RUN --mount=from=`): then
//! `materialise` unpacks the stage's layers into a rootfs under the work dir ([`unpack`],
//! while they download; `early` starts the base before the build when a RUN will execute),
//! every later COPY layer is applied to it too, and each RUN goes through
//! [`run`] ([`sandbox`] to execute, [`snapshot`] to find what changed). [`rootfs`] is the
//! directory handle all of that goes through.
//!
//! Stages: only the target and the stages it depends on (`FROM <stage>`, `COPY --from`,
//! `--mount from=`: `stage_graph`) are built, in file order; a stage used as a base passes its image
//! (its layers) on, and its files are unpacked again only if the next stage runs something.

mod base;
pub mod cache;
mod config;
pub mod context;
mod copy;
pub mod dockerfile;
pub mod dockerignore;
mod early;
mod error;
pub mod expand;
mod file_writers;
mod inflate;
pub mod layer;
mod materialise;
pub mod mounts;
mod paths;
mod platforms;
mod stage_graph;
pub use paths::join_path;
pub mod rootfs;
pub mod run;
pub mod sandbox;
pub mod snapshot;
pub mod source_times;
pub mod stage;
pub mod timings;
pub mod unpack;
pub mod users;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::events::{Event, Reporter};
use crate::oci::{BlobStore, Image, Layer, Platform};
use crate::reference::Reference;
use crate::registry;
use dockerfile::{Dockerfile, Instruction, InstructionKind, Stage};
use rootfs::Root;
use run::Rootfs;
use stage::StageState;

pub use early::{start_early, EarlyBase};
pub(crate) use error::instruction_error;
pub use error::{BuildError, StepError};
pub use platforms::check_platforms;
use stage_graph::needed;

/// Everything a build needs, resolved from the inputs.
pub struct BuildPlan {
    pub dockerfile: Dockerfile,
    pub context: PathBuf,
    pub ignore: dockerignore::DockerIgnore,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub platform: Platform,
    /// Time for file mtimes and `created`: SOURCE_DATE_EPOCH or the commit time. No
    /// file in a layer is newer.
    pub epoch: u64,
    /// When each context file last changed in git: the time COPY gives it.
    pub source_times: source_times::SourceTimes,
    /// Labels added to the final image (OCI annotations keys), after the Dockerfile's.
    pub labels: BTreeMap<String, String>,
    /// `RUN --mount=type=secret` values by id. Never in a layer, a cache key or a log.
    pub secrets: BTreeMap<String, crate::secret::Secret>,
    /// Where RUN layers are cached in a registry; `None` disables the registry cache.
    pub cache_repo: Option<Reference>,
    /// Build without reading the layer cache (it is still written).
    pub no_cache: bool,
    /// Whether layers built on a cache miss are pushed to `cache_repo` (a registry
    /// destination, not a dry run).
    pub cache_write: bool,
    /// Local working directory for rootfs unpacking and `RUN --mount=type=cache` contents.
    pub work_dir: PathBuf,
    /// The repositories the image is pushed to (none for a local output). A base layer
    /// unpacked for a RUN is kept in the blob store unless all of them can mount it.
    pub delivered_to: Vec<Reference>,
}

/// Builds the target stage into an image whose new layers are in `store`, and says where
/// the time went. `early` is the base [`start_early`] began to unpack, if it did.
pub async fn build(
    plan: &BuildPlan,
    registry: &registry::Client,
    store: &BlobStore,
    reporter: &dyn Reporter,
    early: Option<EarlyBase>,
) -> Result<(Image, timings::Timings), BuildError> {
    let df = &plan.dockerfile;
    let target = df.target(plan.target.as_deref())?;
    let mut builder = Builder::new(plan, registry, store, reporter, target)?;
    builder.early = early;
    let stages = needed(df, &builder.globals, target);
    builder.files.several_stages = stages.len() > 1;
    for index in stages {
        let stage = &df.stages[index];
        let built = builder.stage(stage).await?;
        builder.built.insert(index, built);
    }
    let mut image = builder
        .built
        .remove(&target.index)
        .expect("the target is built last")
        .image;
    builder.cache.write_back(&plan.platform, store).await;
    if !plan.labels.is_empty() {
        image
            .config
            .config
            .labels
            .get_or_insert_with(BTreeMap::new)
            .extend(plan.labels.clone());
    }
    image.config.created = Some(crate::time::rfc3339(plan.epoch));
    let mut timings = builder.timings;
    timings.unpack_seconds = builder.unpack_nanos.into_inner() as f64 / 1e9;
    Ok((image, timings))
}

/// A finished stage: its image, and its files if something unpacked them.
struct Built {
    image: Image,
    fs: Option<Rootfs>,
}

struct Builder<'a> {
    plan: &'a BuildPlan,
    registry: &'a registry::Client,
    store: &'a BlobStore,
    reporter: &'a dyn Reporter,
    globals: BTreeMap<String, String>,
    built: BTreeMap<usize, Built>,
    /// Files of images named by `COPY --from=<image>`, by the word as written.
    images: HashMap<String, Rootfs>,
    /// Removed at the end of the build (ADD extraction).
    scratch: tempfile::TempDir,
    cache: cache::Cache<'a>,
    timings: timings::Timings,
    /// Nanoseconds spent downloading and unpacking layers (methods that take `&self`).
    unpack_nanos: std::sync::atomic::AtomicU64,
    /// How layers are applied to a rootfs.
    files: materialise::Materialiser,
    /// The base being unpacked since before the build, for the first RUN that needs it.
    early: Option<EarlyBase>,
}

impl<'a> Builder<'a> {
    fn new(
        plan: &'a BuildPlan,
        registry: &'a registry::Client,
        store: &'a BlobStore,
        reporter: &'a dyn Reporter,
        target: &Stage,
    ) -> Result<Builder<'a>, BuildError> {
        let df = &plan.dockerfile;
        let globals = stage::global_args(&df.global_args, &plan.build_args, df.escape)
            .map_err(|e| instruction_error(df, target.line, e.to_string()))?;
        let io_fail = |e: std::io::Error| BuildError::Step {
            path: df.path.clone(),
            line: target.line,
            message: format!("cannot use the work directory {}", plan.work_dir.display()),
            source: Some(Box::new(StepError::Io(e))),
        };
        std::fs::create_dir_all(&plan.work_dir).map_err(io_fail)?;
        let scratch = tempfile::Builder::new()
            .prefix("scratch-")
            .tempdir_in(&plan.work_dir)
            .map_err(io_fail)?;
        Ok(Builder {
            plan,
            registry,
            store,
            reporter,
            globals,
            built: BTreeMap::new(),
            images: HashMap::new(),
            scratch,
            cache: cache::Cache::new(
                plan.cache_repo.as_ref(),
                !plan.no_cache,
                plan.cache_write,
                registry,
                reporter,
            ),
            timings: timings::Timings::default(),
            unpack_nanos: std::sync::atomic::AtomicU64::new(0),
            files: materialise::Materialiser::new(plan, registry, store),
            early: None,
        })
    }

    async fn stage(&mut self, stage: &Stage) -> Result<Built, BuildError> {
        let plan = self.plan;
        let df = &plan.dockerfile;
        let base = self.base_image(stage).await?;
        let mut state = self.stage_state(stage, base);
        let mut fs: Option<Rootfs> = None;
        // Cache hits recorded in the image but not yet applied to `fs`.
        let mut behind: Vec<Layer> = Vec::new();
        for instruction in &stage.instructions {
            self.reporter.event(Event::Step {
                stage: &state.name,
                line: instruction.line,
                text: &instruction.text,
            });
            let started = std::time::Instant::now();
            let line = instruction.line;
            match &instruction.kind {
                InstructionKind::Run(spec) => {
                    let key = (self.cache.enabled() && cache::cacheable(&spec.mounts))
                        .then(|| cache::key(&plan.platform, &state, instruction));
                    if let Some(key) = &key {
                        if let Some(layer) = self.cache.probe(key, &plan.platform).await {
                            self.reporter.event(Event::Note(&format!(
                                "line {line}: cached, layer {} ({}) reused",
                                layer.descriptor.digest.short(),
                                crate::events::human_size(layer.descriptor.size)
                            )));
                            if fs.is_some() {
                                behind.push(layer.clone());
                            }
                            state.record(&instruction.text, Some(layer));
                            self.step_done(&state.name, instruction, started, true);
                            continue;
                        }
                    }
                    let mut roots: HashMap<String, Arc<Root>> = HashMap::new();
                    for word in spec.mounts.iter().filter_map(|m| m.from()) {
                        let word = state
                            .expand(word)
                            .map_err(|e| instruction_error(df, line, e.to_string()))?;
                        let root = self.files_of(&word, line).await?;
                        roots.insert(word, root);
                    }
                    match &mut fs {
                        None => fs = Some(self.first_files(&state.image, line).await?),
                        Some(fs) => self.catch_up(fs, &mut behind, line).await?,
                    }
                    let lookup = |word: &str| roots.get(word).cloned();
                    let step = run::RunStep {
                        plan,
                        instruction,
                        spec,
                        reporter: self.reporter,
                        bind_root: &lookup,
                    };
                    let rootfs = fs.as_mut().expect("unpacked above");
                    let layer = match run::run(&step, &state, rootfs)? {
                        Some(entries) => {
                            Some(run::write(plan, line, entries, self.store).await?.layer)
                        }
                        None => None,
                    };
                    if let (Some(key), Some(layer)) = (key, &layer) {
                        self.cache.built(key, layer);
                    }
                    state.record(&instruction.text, layer);
                }
                InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
                    let from = match &spec.from {
                        Some(word) => {
                            let word = state
                                .expand(word)
                                .map_err(|e| instruction_error(df, line, e.to_string()))?;
                            Some(self.files_of(&word, line).await?)
                        }
                        None => None,
                    };
                    let own = fs.as_ref().map(|f| f.root.clone());
                    let entries = copy::entries(
                        plan,
                        &state,
                        instruction,
                        spec,
                        from,
                        own.as_deref(),
                        self.scratch.path(),
                    )?;
                    let written = run::write(plan, line, entries, self.store).await?;
                    if let Some(fs) = &mut fs {
                        self.catch_up(fs, &mut behind, line).await?;
                        self.apply_to(fs, &written.layer, line).await?;
                    }
                    state.record_copy(&instruction.text, written);
                }
                _ => config::apply(plan, &mut state, instruction)?,
            }
            self.step_done(&state.name, instruction, started, false);
        }
        if !behind.is_empty() {
            // The files lag behind the image; whoever needs them unpacks the image again.
            fs = None;
        }
        Ok(Built {
            image: state.image,
            fs,
        })
    }

    /// A stage's state before its first instruction.
    fn stage_state(&self, stage: &Stage, base: Image) -> StageState {
        let plan = self.plan;
        let name = stage
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", stage.index));
        StageState::new(
            name,
            base,
            plan.dockerfile.escape,
            plan.build_args.clone(),
            self.globals.clone(),
            crate::time::rfc3339(plan.epoch),
        )
    }

    /// Records a step's time; file steps also say it in the log (`DONE 2.3s`).
    fn step_done(
        &mut self,
        stage: &str,
        instruction: &Instruction,
        started: std::time::Instant,
        cached: bool,
    ) {
        let seconds = started.elapsed().as_secs_f64();
        let file_step = matches!(
            instruction.kind,
            InstructionKind::Run(_) | InstructionKind::Copy(_) | InstructionKind::Add(_)
        );
        if file_step && !cached {
            self.reporter.event(Event::Note(&format!(
                "line {}: DONE {seconds:.1}s",
                instruction.line
            )));
        }
        self.timings.steps.push(timings::StepTiming {
            platform: self.plan.platform.to_string(),
            stage: stage.to_string(),
            line: instruction.line,
            instruction: instruction.text.clone(),
            seconds,
            cached,
        });
    }

    fn step_error(&self, line: usize, message: &str, source: StepError) -> BuildError {
        BuildError::Step {
            path: self.plan.dockerfile.path.clone(),
            line,
            message: message.to_string(),
            source: Some(Box::new(source)),
        }
    }
}

//! Starting the base unpack before the build: while the pre-flight checks (SpaceONE,
//! push credentials, base platforms) wait on their servers, the files a RUN will need
//! are already being made.
//!
//! [`start_early`] walks the target stage as the build will, without running anything:
//! configuration instructions applied, COPY layers written (they are deterministic, so the
//! build writes the same blobs again), each RUN's cache key probed in turn. The first RUN
//! that will execute (a miss, a mount the cache cannot key, or no cache to read) starts
//! the base's unpack as a task of its own, and the build's first RUN takes that rootfs
//! ([`Builder::first_files`]). When every RUN is a cache hit nothing starts: a warm
//! rebuild downloads and unpacks no base byte.
//!
//! Only single-stage builds start early (the plugin shape). The walk is best effort: any
//! error in it starts nothing, and the build reports the error at its own step. An
//! [`EarlyBase`] dropped unused (a pre-flight check failed, the build stopped before its
//! first RUN) stops its task and removes its rootfs.

use std::time::{Duration, Instant};

use super::dockerfile::{InstructionKind, Stage};
use super::materialise::{joined, Failure, Materialiser};
use super::run::Rootfs;
use super::stage_graph::needed;
use super::{cache, config, copy, run, unpack, BuildError, BuildPlan, Builder};
use crate::events::{Event, Reporter};
use crate::oci::{BlobStore, Digest, Image, Platform};
use crate::registry;

/// A base image's files being made, in a task of their own.
pub struct EarlyBase {
    platform: Platform,
    /// The layers being applied, bottom first.
    layers: Vec<Digest>,
    task: tokio::task::JoinHandle<Result<Materialised, Failure>>,
}

impl Drop for EarlyBase {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Materialised {
    fs: Rootfs,
    applied: Vec<(Digest, unpack::Applied)>,
    spent: Duration,
}

/// The walk's events go nowhere: the build says the same things when it takes the steps.
struct Silent;

impl Reporter for Silent {
    fn event(&self, _: Event<'_>) {}
}

/// Starts unpacking the target stage's base if the build will run a RUN on it; `None`
/// when it will not (or cannot tell).
pub async fn start_early(
    plan: &BuildPlan,
    registry: &registry::Client,
    store: &BlobStore,
    reporter: &dyn Reporter,
) -> Option<EarlyBase> {
    let df = &plan.dockerfile;
    let target = df.target(plan.target.as_deref()).ok()?;
    let mut builder = Builder::new(plan, registry, store, &Silent, target).ok()?;
    if needed(df, &builder.globals, target).len() != 1 {
        return None;
    }
    let base = builder.base_image(target).await.ok()?;
    if base.layers.is_empty() || !builder.first_run_executes(target, &base).await {
        return None;
    }
    let files = builder.files.clone();
    let fs = files.rootfs().ok()?;
    reporter.event(Event::Note(&format!(
        "unpacking {} layer(s), {} compressed, into {}, beside the checks (a RUN will execute)",
        base.layers.len(),
        crate::events::human_size(base.layers.iter().map(|l| l.descriptor.size).sum()),
        fs.root.host_path().display()
    )));
    let layers = base
        .layers
        .iter()
        .map(|l| l.descriptor.digest.clone())
        .collect();
    let task = tokio::spawn(async move { materialise(files, fs, base).await });
    Some(EarlyBase {
        platform: plan.platform.clone(),
        layers,
        task,
    })
}

async fn materialise(
    files: Materialiser,
    mut fs: Rootfs,
    image: Image,
) -> Result<Materialised, Failure> {
    let started = Instant::now();
    let applied = files.apply_all(&mut fs, &image.layers).await?;
    Ok(Materialised {
        fs,
        applied,
        spent: started.elapsed(),
    })
}

impl Builder<'_> {
    /// Whether the stage will execute a RUN, walking it as [`Builder::stage`] does up to
    /// the first RUN that is not a cache hit.
    async fn first_run_executes(&mut self, stage: &Stage, base: &Image) -> bool {
        let plan = self.plan;
        let mut state = self.stage_state(stage, base.clone());
        for instruction in &stage.instructions {
            match &instruction.kind {
                InstructionKind::Run(spec) => {
                    if spec.mounts.iter().any(|m| m.from().is_some()) {
                        return false;
                    }
                    if !(self.cache.enabled() && cache::cacheable(&spec.mounts)) {
                        return true;
                    }
                    let key = cache::key(&plan.platform, &state, instruction);
                    match self.cache.probe(&key, &plan.platform).await {
                        Some(layer) => state.record(&instruction.text, Some(layer)),
                        None => return true,
                    }
                }
                InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
                    if spec.from.is_some() {
                        return false;
                    }
                    let scratch = self.scratch.path();
                    let Ok(entries) =
                        copy::entries(plan, &state, instruction, spec, None, None, scratch)
                    else {
                        return false;
                    };
                    match run::write(plan, instruction.line, entries, self.store).await {
                        Ok(written) => state.record_copy(&instruction.text, written),
                        Err(_) => return false,
                    }
                }
                _ => {
                    if config::apply(plan, &mut state, instruction).is_err() {
                        return false;
                    }
                }
            }
        }
        false
    }

    /// The rootfs for a stage's first RUN: the base unpacked early when it is this image's
    /// base, with the image's later layers applied on top; else `image` unpacked now.
    pub(super) async fn first_files(
        &mut self,
        image: &Image,
        line: usize,
    ) -> Result<Rootfs, BuildError> {
        let Some(mut early) = self.early.take().filter(|e| self.serves(e, image)) else {
            return self.unpack(image, line).await;
        };
        let below = early.layers.len();
        self.reporter.event(Event::Note(&format!(
            "taking the base unpacked since before the build ({below} layer(s))"
        )));
        let done = joined(&mut early.task)
            .await
            .map_err(|f| self.step_error(line, &f.message, f.source))?;
        self.count_unpack(done.spent);
        for (digest, applied) in &done.applied {
            self.warn_devices(digest, applied);
        }
        let mut fs = done.fs;
        self.apply_all(&mut fs, &image.layers[below..], line)
            .await?;
        Ok(fs)
    }

    fn serves(&self, early: &EarlyBase, image: &Image) -> bool {
        early.platform == self.plan.platform
            && image.layers.len() >= early.layers.len()
            && image
                .layers
                .iter()
                .zip(&early.layers)
                .all(|(layer, digest)| &layer.descriptor.digest == digest)
    }
}

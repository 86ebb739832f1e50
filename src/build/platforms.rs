//! Whether every requested platform can be built here, decided before the first build.
//!
//! A platform is buildable when every base image the target needs has an image for it
//! (an index entry, or a single manifest whose config says that platform) and, if a needed
//! stage has a RUN, when this machine can execute that platform's programs. Asking for
//! `linux/arm64` on an amd64-only base must fail here, naming what the base has, rather
//! than push an amd64 image labelled arm64 or fail after the native build.

use std::collections::BTreeSet;

use super::dockerfile::InstructionKind;
use super::{expand, instruction_error, needed, sandbox, stage, BuildError, BuildPlan};
use crate::oci::Platform;
use crate::reference::Reference;
use crate::registry::{self, RegistryError};

pub async fn check_platforms(
    plan: &BuildPlan,
    platforms: &[Platform],
    registry: &registry::Client,
) -> Result<(), BuildError> {
    let df = &plan.dockerfile;
    let target = df.target(plan.target.as_deref())?;
    let globals = stage::global_args(&df.global_args, &plan.build_args, df.escape)
        .map_err(|e| instruction_error(df, target.line, e.to_string()))?;
    let stages = needed(df, &globals, target);
    for platform in platforms {
        let mut checked = BTreeSet::new();
        for &index in &stages {
            let stage = &df.stages[index];
            let word = expand::expand(&stage.base, df.escape, &|n| globals.get(n).cloned())
                .map_err(|e| instruction_error(df, stage.line, e.to_string()))?;
            let is_stage = df
                .stage_by_name_or_index(&word)
                .is_some_and(|s| s.index < index);
            if word.eq_ignore_ascii_case("scratch") || is_stage || checked.contains(&word) {
                continue;
            }
            let reference: Reference =
                word.parse()
                    .map_err(|e: crate::reference::ReferenceError| {
                        instruction_error(df, stage.line, e.to_string())
                    })?;
            let unavailable = |available: String| BuildError::Platform {
                path: df.path.clone(),
                line: stage.line,
                reference: word.clone(),
                platform: platform.to_string(),
                available,
            };
            match registry.resolve(&reference, platform).await {
                // A config that names no architecture cannot be checked; trust the tag.
                Ok(resolved)
                    if resolved.platform.architecture.is_empty()
                        || platform.matches(&resolved.platform) => {}
                Ok(resolved) => return Err(unavailable(resolved.platform.to_string())),
                Err(RegistryError::PlatformNotFound { available, .. }) => {
                    return Err(unavailable(available.join(", ")))
                }
                Err(source) => {
                    return Err(BuildError::Base {
                        path: df.path.clone(),
                        line: stage.line,
                        reference: word.clone(),
                        source: Box::new(source),
                    })
                }
            }
            checked.insert(word);
        }
        // The bases first: a missing platform is the more basic mistake.
        if !sandbox::can_execute(&platform.architecture, platform.variant.as_deref()) {
            let run = stages
                .iter()
                .flat_map(|&i| &df.stages[i].instructions)
                .find(|i| matches!(i.kind, InstructionKind::Run(_)));
            if let Some(run) = run {
                return Err(instruction_error(
                    df,
                    run.line,
                    super::run::cannot_execute(&run.text, platform),
                ));
            }
        }
    }
    Ok(())
}

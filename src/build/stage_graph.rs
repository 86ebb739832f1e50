//! Which stages a build needs: the target, its base if that is a stage, and every stage a
//! `COPY --from` or `RUN --mount=…,from=` names, transitively; only those are built, in
//! file order.

use std::collections::{BTreeMap, BTreeSet};

use super::dockerfile::{Dockerfile, InstructionKind, Stage};
use super::expand;

/// The stages `target` needs, itself included, in file order: its base and every stage a
/// `COPY --from` or `RUN --mount=from=` names, transitively.
pub(super) fn needed(
    df: &Dockerfile,
    globals: &BTreeMap<String, String>,
    target: &Stage,
) -> Vec<usize> {
    let mut todo = vec![target.index];
    let mut seen = BTreeSet::new();
    while let Some(index) = todo.pop() {
        if !seen.insert(index) {
            continue;
        }
        let stage = &df.stages[index];
        let mut words = vec![stage.base.clone()];
        for instruction in &stage.instructions {
            match &instruction.kind {
                InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
                    words.extend(spec.from.clone())
                }
                InstructionKind::Run(spec) => words.extend(
                    spec.mounts
                        .iter()
                        .filter_map(|m| m.from())
                        .map(String::from),
                ),
                _ => {}
            }
        }
        for word in words {
            let word =
                expand::expand(&word, df.escape, &|n| globals.get(n).cloned()).unwrap_or(word);
            if let Some(dep) = df.stage_by_name_or_index(&word).filter(|s| s.index < index) {
                todo.push(dep.index);
            }
        }
    }
    seen.into_iter().collect()
}

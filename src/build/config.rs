//! Instructions that change only the image configuration: ARG, ENV, LABEL, WORKDIR, USER,
//! EXPOSE, VOLUME, STOPSIGNAL, ENTRYPOINT, CMD, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER.
//! Each records an empty-layer history entry, as Docker does.

use std::collections::BTreeMap;

use super::dockerfile::{Instruction, InstructionKind};
use super::stage::StageState;
use super::{instruction_error, join_path, BuildError, BuildPlan};

/// Applies an instruction that changes only the configuration.
pub(super) fn apply(
    plan: &BuildPlan,
    state: &mut StageState,
    instruction: &Instruction,
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
                    super::dockerfile::checks::port(&port)
                        .map_err(|p| fail(format!("EXPOSE {p}")))?;
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
        InstructionKind::Copy(_) | InstructionKind::Add(_) | InstructionKind::Run(_) => {
            unreachable!("file instructions are applied by the stage builder")
        }
    }
    state.record(&instruction.text, None);
    Ok(())
}

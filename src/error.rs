//! The crate's error, rolled up from each module's own enum. Its variant decides the exit
//! code, in [`Error::exit_code`], which `main.rs` applies: the only place that exits.

use std::path::Path;

use crate::{build, inputs, oci, plan, registry, spaceone};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] inputs::InputError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Build(#[from] build::BuildError),
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error(transparent)]
    SpaceOne(#[from] spaceone::SpaceOneError),
    #[error("writing the OCI layout failed")]
    Layout(#[from] oci::layout::LayoutError),
    #[error(transparent)]
    Archive(#[from] crate::output::ArchiveError),
    #[error("the blob store failed")]
    Store(#[from] oci::StoreError),
    #[error("cancelled by {0}; nothing more was pushed or registered")]
    Cancelled(&'static str),
}

/// Each delivery failure keeps the variant (and so the exit code) it had as its own.
impl From<crate::output::OutputError> for Error {
    fn from(e: crate::output::OutputError) -> Error {
        use crate::output::OutputError;
        match e {
            OutputError::Registry(e) => Error::Registry(e),
            OutputError::Layout(e) => Error::Layout(e),
            OutputError::Archive(e) => Error::Archive(e),
            OutputError::Store(e) => Error::Store(e),
        }
    }
}

impl Error {
    /// 2 bad input, 3 build failed, 4 registry, 5 SpaceONE, 1 anything unexpected.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) | Error::Plan(_) => 2,
            Error::Build(e) => match e {
                build::BuildError::Base { .. } => 4,
                // A context file changing under the build is the build's failure, not a bug.
                build::BuildError::Layer {
                    source: build::layer::LayerError::Changed { .. },
                    ..
                } => 3,
                build::BuildError::Layer { .. } => 1,
                // A base layer the registry would not (or not rightly) serve: as when the
                // push or an OCI-layout output downloads it.
                build::BuildError::Step {
                    source: Some(source),
                    ..
                } if matches!(**source, build::StepError::Registry(_)) => 4,
                build::BuildError::Step { .. } => 3,
                build::BuildError::Platform { .. }
                | build::BuildError::Instruction { .. }
                | build::BuildError::NotSupported { .. }
                | build::BuildError::Dockerfile(_) => 2,
            },
            Error::Registry(_) => 4,
            Error::SpaceOne(e) if e.is_preflight() => 2,
            Error::SpaceOne(_) => 5,
            Error::Layout(_) | Error::Archive(_) | Error::Store(_) => 1,
            Error::Cancelled(_) => 130,
        }
    }

    /// A known fix, shown apart from the error chain.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Registry(e) => e.hint(),
            Error::Build(build::BuildError::Base { source, .. }) => source.hint(),
            Error::SpaceOne(e) | Error::Plan(plan::PlanError::SpaceOne(e)) => e.hint(),
            _ => None,
        }
    }

    /// The file and line the error is about, for CI annotations.
    pub fn location(&self) -> Option<(&Path, usize)> {
        match self {
            Error::Build(e) => e.location(),
            Error::Plan(plan::PlanError::Dockerfile(e)) => Some((e.path(), e.line())),
            _ => None,
        }
    }
}

//! Why a build failed: [`BuildError`] names the Dockerfile and line (for CI annotations),
//! and `crate::Error` gives each variant its exit code; [`StepError`] is what went wrong
//! underneath a step.

use std::path::{Path, PathBuf};

use super::dockerfile::{self, Dockerfile};
use super::{layer, sandbox, snapshot, unpack, users};
use crate::registry;

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
    /// A step ran and failed (a RUN exited non-zero, its files could not be prepared or
    /// read): the build failed, exit code 3.
    #[error("{path}:{line}: {message}")]
    Step {
        path: PathBuf,
        line: usize,
        message: String,
        #[source]
        source: Option<Box<StepError>>,
    },
    /// A base image without the requested platform: bad input, found before any build.
    #[error("{path}:{line}: {reference} has no {platform} image (it has: {available})")]
    Platform {
        path: PathBuf,
        line: usize,
        reference: String,
        platform: String,
        available: String,
    },
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::DockerfileError),
}

/// What went wrong underneath a failed step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Unpack(#[from] unpack::UnpackError),
    #[error(transparent)]
    Sandbox(#[from] sandbox::SandboxError),
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error(transparent)]
    User(#[from] users::UserError),
    #[error(transparent)]
    Registry(Box<registry::RegistryError>),
    #[error(transparent)]
    Store(#[from] crate::oci::StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl BuildError {
    /// The Dockerfile line the error is about, for CI annotations.
    pub fn location(&self) -> Option<(&Path, usize)> {
        match self {
            BuildError::Instruction { path, line, .. }
            | BuildError::NotSupported { path, line, .. }
            | BuildError::Base { path, line, .. }
            | BuildError::Layer { path, line, .. }
            | BuildError::Platform { path, line, .. }
            | BuildError::Step { path, line, .. } => Some((path, *line)),
            BuildError::Dockerfile(e) => Some((e.path(), e.line())),
        }
    }
}

pub(crate) fn instruction_error(df: &Dockerfile, line: usize, message: String) -> BuildError {
    BuildError::Instruction {
        path: df.path.clone(),
        line,
        message,
    }
}

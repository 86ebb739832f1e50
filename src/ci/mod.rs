//! Everything the user sees: progress events, warnings, phase groups, the final report.
//!
//! Library modules never print; they take a `&dyn Reporter` and send [`Event`]s. The
//! implementation is chosen once from the environment in `main.rs`: plain lines on stderr
//! (a terminal or an unknown CI), GitHub Actions workflow commands, or GitLab sections.

mod plain;

pub use plain::{PlainReporter, RecordingReporter};

use crate::oci::Digest;

/// What happened to one blob during a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobAction {
    /// The registry already had it (HEAD 200).
    Existing,
    /// Mounted from another repository of the same registry; no bytes sent.
    Mounted,
    /// Uploaded from the local store or streamed from the source registry.
    Pushed,
}

#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A phase begins (`build`, `push`, `register`); it ends at the next phase or finish.
    Phase(&'a str),
    /// A Dockerfile instruction is being applied.
    Step { stage: &'a str, line: usize, text: &'a str },
    Blob { action: BlobAction, digest: &'a Digest, size: u64 },
    /// A manifest was written under a tag or digest.
    Manifest { target: &'a str, digest: &'a Digest },
    Note(&'a str),
    Warning(&'a str),
    /// Shown with `--debug` only. Never carries secrets (they cannot be formatted).
    Debug(&'a str),
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: Event<'_>);
}

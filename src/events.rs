//! What the library tells the user, as data: [`Event`]s sent to a [`Reporter`]. A leaf
//! module: `build`, `registry`, `spaceone` and `output` report through it without knowing
//! who renders (plain lines, GitHub workflow commands, GitLab sections: `ci/`), the way
//! uv keeps its `Reporter` in the library and renders in the CLI.

use std::fmt;
use std::path::Path;

use crate::oci::{Digest, Platform};
use crate::secret::Secret;

/// Output name → value, in a stable order (GitHub step outputs, a GitLab dotenv file).
pub type Outputs = Vec<(&'static str, String)>;

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

/// The parts of a run, in the order they happen; each is a group (GitHub) or a section
/// (GitLab) of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase<'a> {
    /// Building for one platform (one per platform of a multi-platform image).
    Build(&'a Platform),
    Push,
    /// Pushing an index over images already pushed (the `merge` verb).
    Merge,
    Register,
}

impl Phase<'_> {
    /// A name of `[a-z0-9_]` only (GitLab section names allow no `/` or space).
    pub fn slug(&self) -> String {
        self.to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    }
}

impl fmt::Display for Phase<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Build(platform) => write!(f, "build {platform}"),
            Phase::Push => f.write_str("push"),
            Phase::Merge => f.write_str("merge"),
            Phase::Register => f.write_str("register"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A phase begins; it ends at the next phase or finish.
    Phase(Phase<'a>),
    /// A Dockerfile instruction is being applied.
    Step {
        stage: &'a str,
        line: usize,
        text: &'a str,
    },
    Blob {
        action: BlobAction,
        digest: &'a Digest,
        size: u64,
    },
    /// A manifest was written under a tag or digest.
    Manifest {
        target: &'a str,
        digest: &'a Digest,
    },
    /// Bytes moved so far for a long transfer (an upload, a RUN's output size, …).
    Progress {
        what: &'a str,
        done: u64,
        total: u64,
    },
    Note(&'a str),
    Warning(&'a str),
    /// Shown with `--debug` only. Never carries secrets (they cannot be formatted).
    Debug(&'a str),
    /// A secret obtained during the run (a registry token): CI logs must hide it.
    Mask(&'a Secret),
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: Event<'_>);

    /// The run failed: the error chain (outermost first), a hint, and the file and line.
    fn error(&self, chain: &[String], hint: Option<&str>, location: Option<(&Path, usize)>) {
        let _ = location;
        eprintln!("{}", render_error(chain, hint));
    }

    /// The run succeeded: hand the outputs to the CI (files, summaries).
    fn outputs(&self, _outputs: &Outputs, _summary: &str) {}
}

/// `error: …`, one `caused by:` line per cause, then the hint.
pub fn render_error(chain: &[String], hint: Option<&str>) -> String {
    let mut text = format!("error: {}", chain[0]);
    for cause in &chain[1..] {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    if let Some(hint) = hint {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
}

/// `1.5 MiB`: sizes in messages.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

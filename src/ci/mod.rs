//! Everything the user sees: progress events, warnings, phase groups, the final report.
//!
//! Library modules never print; they take a `&dyn Reporter` and send [`Event`]s. The
//! implementation is chosen once, from [`CiEnv`], in [`from_env`]: plain lines on stderr,
//! GitHub Actions workflow commands (groups, masks, annotations, outputs), or GitLab's
//! collapsible sections. Results go to stdout, everything else to stderr.

mod github;
mod plain;

use std::path::Path;

pub use github::GitHubReporter;
pub use plain::{human_size, PlainReporter, RecordingReporter};

use crate::inputs::{CiEnv, Inputs};
use crate::oci::Digest;
use crate::pipeline::Report;

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
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: Event<'_>);

    /// The run failed: the error chain (outermost first), a hint, and the file and line.
    fn error(&self, chain: &[String], hint: Option<&str>, location: Option<(&Path, usize)>) {
        let _ = location;
        eprintln!("error: {}", chain[0]);
        for cause in &chain[1..] {
            eprintln!("  caused by: {cause}");
        }
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
    }

    /// The run succeeded: publish outputs (files, summaries) after the stdout report.
    fn outputs(&self, _outputs: &[(&str, String)]) {}
}

/// The reporter for this environment. Secrets are registered for masking here, before
/// anything else is printed.
pub fn from_env(inputs: &Inputs, debug: bool) -> Box<dyn Reporter> {
    let debug = debug || inputs.debug;
    match &inputs.ci {
        CiEnv::GitHub { output, summary } => {
            let reporter = GitHubReporter::new(debug, output.clone(), summary.clone());
            for secret in inputs.secrets() {
                reporter.mask(secret);
            }
            Box::new(reporter)
        }
        CiEnv::GitLab | CiEnv::None => Box::new(PlainReporter { debug }),
    }
}

pub fn error(
    reporter: &dyn Reporter,
    chain: &[String],
    hint: Option<&str>,
    location: Option<(&Path, usize)>,
) {
    reporter.error(chain, hint, location);
}

/// Prints the result on stdout and hands the outputs to the CI.
pub fn finish(reporter: &dyn Reporter, report: &Report) {
    let d = &report.delivered;
    let mut outputs: Vec<(&str, String)> = vec![("digest", d.digest.to_string())];
    match (&d.repository, &d.layout) {
        (Some(repo), _) => {
            println!("pushed {}@{}", repo.name(), d.digest);
            outputs.push(("image", repo.name()));
        }
        (None, Some(dir)) => println!("wrote {} to oci:{}", d.digest, dir.display()),
        (None, None) => println!("built {}", d.digest),
    }
    println!("tags: {}", d.tags.join(", "));
    println!("version: {}", report.version);
    outputs.push(("tags", d.tags.join("\n")));
    outputs.push(("version", report.version.clone()));
    match (&report.registration, &report.request) {
        (Some(r), _) => {
            println!(
                "plugin_id: {} ({} on SpaceONE {})",
                r.plugin_id, r.action, r.generation
            );
            outputs.push(("plugin-id", r.plugin_id.clone()));
        }
        (None, Some(request)) => {
            println!("registration request (not sent):");
            println!("{}", serde_json::to_string_pretty(request).expect("json"));
        }
        (None, None) => {}
    }
    let metadata: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
        .collect();
    outputs.push(("metadata", serde_json::Value::Object(metadata).to_string()));
    reporter.outputs(&outputs);
}

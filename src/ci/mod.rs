//! Everything the user sees: progress events, warnings, phase groups, the final report.
//!
//! Library modules never print; they take a `&dyn Reporter` and send [`Event`]s (both
//! defined in the leaf module [`crate::events`], so nothing below imports this layer). The
//! implementation is chosen once, from [`CiEnv`], in [`from_env`]: plain lines on stderr,
//! GitHub Actions workflow commands (groups, masks, annotations, outputs), or GitLab's
//! collapsible sections. Results go to stdout, everything else to stderr.

mod github;
mod gitlab;
mod plain;
pub mod report;

use std::path::{Path, PathBuf};

pub use github::GitHubReporter;
pub use gitlab::GitLabReporter;
pub use plain::{PlainReporter, RecordingReporter};

pub use crate::events::{human_size, render_error, BlobAction, Event, Phase, Reporter};
use crate::inputs::{CiEnv, Inputs, OutputFormat};
use crate::pipeline::Outcome;

/// The reporter and the end-of-run settings for this environment.
pub struct Console {
    reporter: Box<dyn Reporter>,
    format: OutputFormat,
    dotenv: Option<PathBuf>,
}

impl Console {
    /// Chooses the reporter for this environment. Secrets are registered for masking
    /// here, before anything else is printed.
    pub fn from_inputs(inputs: &Inputs, debug: bool) -> Console {
        let debug = debug || inputs.debug;
        // With JSON on stdout, everything else goes to stderr (GitHub reads workflow
        // commands from both streams).
        let stream = if inputs.output_format == OutputFormat::Json {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let reporter: Box<dyn Reporter> = match &inputs.ci {
            CiEnv::GitHub { output, summary } => {
                let reporter = GitHubReporter::new(debug, stream, output.clone(), summary.clone());
                for secret in inputs.secrets() {
                    reporter.mask(secret);
                }
                Box::new(reporter)
            }
            CiEnv::GitLab => Box::new(GitLabReporter::new(debug)),
            CiEnv::None => Box::new(PlainReporter { debug }),
        };
        Console {
            reporter,
            format: inputs.output_format,
            dotenv: inputs.dotenv_file.clone(),
        }
    }

    /// For errors before the inputs could be read.
    pub fn plain(debug: bool) -> Console {
        Console {
            reporter: Box::new(PlainReporter { debug }),
            format: OutputFormat::Text,
            dotenv: None,
        }
    }

    pub fn reporter(&self) -> &dyn Reporter {
        self.reporter.as_ref()
    }

    /// Prints the result and publishes the outputs.
    pub fn finish(&self, outcome: &Outcome) -> std::io::Result<()> {
        report::print(outcome, self.format);
        let outputs = report::outputs(outcome);
        self.reporter.outputs(&outputs, &report::summary(outcome));
        if let Some(path) = &self.dotenv {
            report::write_dotenv(path, &outputs)?;
        }
        Ok(())
    }

    pub fn error(&self, chain: &[String], hint: Option<&str>, location: Option<(&Path, usize)>) {
        if self.format == OutputFormat::Json {
            println!(
                "{}",
                serde_json::json!({"error": chain[0], "causes": &chain[1..], "hint": hint})
            );
        }
        self.reporter.error(chain, hint, location);
    }
}

/// Where a reporter writes its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn line(self, text: &str) {
        match self {
            Stream::Stdout => println!("{text}"),
            Stream::Stderr => eprintln!("{text}"),
        }
    }
}

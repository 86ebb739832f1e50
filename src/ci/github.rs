//! GitHub Actions: workflow commands (`::group::`, `::add-mask::`, `::error file=…`),
//! outputs appended to `GITHUB_OUTPUT`, and a Markdown step summary.
//!
//! Command data is escaped as the runner expects (`%`, CR, LF; properties also `:` and
//! `,`), so a message can never end a command early or inject another.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::plain::render;
use super::report::Outputs;
use super::{Event, Reporter, Stream};
use crate::secret::Secret;

pub struct GitHubReporter {
    debug: bool,
    stream: Stream,
    output: Option<PathBuf>,
    summary: Option<PathBuf>,
    in_group: Mutex<bool>,
}

impl GitHubReporter {
    pub fn new(
        debug: bool,
        stream: Stream,
        output: Option<PathBuf>,
        summary: Option<PathBuf>,
    ) -> Self {
        GitHubReporter {
            debug,
            stream,
            output,
            summary,
            in_group: Mutex::new(false),
        }
    }

    /// Tells the runner to hide this value in every later log line.
    pub fn mask(&self, secret: &Secret) {
        for line in secret.expose().lines().filter(|l| !l.trim().is_empty()) {
            self.stream
                .line(&format!("::add-mask::{}", escape_data(line)));
        }
    }

    fn end_group(&self, in_group: &mut bool) {
        if *in_group {
            self.stream.line("::endgroup::");
            *in_group = false;
        }
    }
}

impl Reporter for GitHubReporter {
    fn event(&self, event: Event<'_>) {
        let mut in_group = self.in_group.lock().unwrap();
        match event {
            Event::Phase(phase) => {
                self.end_group(&mut in_group);
                let name = phase.to_string();
                self.stream
                    .line(&format!("::group::{}", escape_data(&name)));
                *in_group = true;
            }
            Event::Mask(secret) => self.mask(secret),
            Event::Warning(text) => self
                .stream
                .line(&format!("::warning::{}", escape_data(text))),
            Event::Debug(text) if !self.debug => {
                self.stream.line(&format!("::debug::{}", escape_data(text)))
            }
            other => {
                if let Some(line) = render(&other, self.debug) {
                    self.stream.line(&line);
                }
            }
        }
    }

    fn error(&self, chain: &[String], hint: Option<&str>, location: Option<(&Path, usize)>) {
        self.end_group(&mut self.in_group.lock().unwrap());
        let text = super::render_error(chain, hint);
        let message = text.strip_prefix("error: ").unwrap_or(&text);
        match location {
            Some((file, line)) => self.stream.line(&format!(
                "::error file={},line={},title=spaceone-publish::{}",
                escape_property(&file.display().to_string()),
                line,
                escape_data(message)
            )),
            None => self.stream.line(&format!(
                "::error title=spaceone-publish::{}",
                escape_data(message)
            )),
        }
        eprintln!("{text}");
    }

    fn outputs(&self, outputs: &Outputs, summary: &str) {
        self.end_group(&mut self.in_group.lock().unwrap());
        if let Some(path) = &self.output {
            let mut text = String::new();
            for (name, value) in outputs {
                // The heredoc form carries any value, multi-line included; the delimiter is
                // derived from the value so it can never occur inside it.
                let delimiter = format!(
                    "ghadelimiter_{}",
                    crate::oci::Digest::sha256_of(value.as_bytes()).hex()
                );
                text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
            }
            append(path, &text, "GITHUB_OUTPUT");
        }
        if let Some(path) = &self.summary {
            append(path, summary, "GITHUB_STEP_SUMMARY");
        }
    }
}

fn append(path: &Path, text: &str, what: &str) {
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        eprintln!("warning: cannot write {what} at {}: {e}", path.display());
    }
}

pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

//! GitHub Actions: workflow commands on stdout (`::group::`, `::add-mask::`, `::error`),
//! and outputs appended to the `GITHUB_OUTPUT` file.
//!
//! Command data is escaped as the runner expects (`%`, CR, LF; properties also `:` and
//! `,`), so a message can never end a command early or inject another.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::plain::render;
use super::{Event, Reporter};
use crate::secret::Secret;

pub struct GitHubReporter {
    debug: bool,
    output: Option<PathBuf>,
    #[allow(dead_code)]
    summary: Option<PathBuf>,
    in_group: Mutex<bool>,
}

impl GitHubReporter {
    pub fn new(debug: bool, output: Option<PathBuf>, summary: Option<PathBuf>) -> Self {
        GitHubReporter {
            debug,
            output,
            summary,
            in_group: Mutex::new(false),
        }
    }

    /// Tells the runner to hide this value in every later log line.
    pub fn mask(&self, secret: &Secret) {
        for line in secret.expose().lines().filter(|l| !l.trim().is_empty()) {
            println!("::add-mask::{}", escape_data(line));
        }
    }

    fn end_group(&self, in_group: &mut bool) {
        if *in_group {
            println!("::endgroup::");
            *in_group = false;
        }
    }
}

impl Reporter for GitHubReporter {
    fn event(&self, event: Event<'_>) {
        let mut in_group = self.in_group.lock().unwrap();
        match event {
            Event::Phase(name) => {
                self.end_group(&mut in_group);
                println!("::group::{}", escape_data(name));
                *in_group = true;
            }
            Event::Warning(text) => println!("::warning::{}", escape_data(text)),
            Event::Debug(text) if !self.debug => println!("::debug::{}", escape_data(text)),
            other => {
                if let Some(line) = render(&other, self.debug) {
                    println!("{line}");
                }
            }
        }
    }

    fn error(&self, chain: &[String], hint: Option<&str>, location: Option<(&Path, usize)>) {
        self.end_group(&mut self.in_group.lock().unwrap());
        let mut message = chain.join("\n  caused by: ");
        if let Some(hint) = hint {
            message.push_str(&format!("\nhint: {hint}"));
        }
        match location {
            Some((file, line)) => println!(
                "::error file={},line={}::{}",
                escape_property(&file.display().to_string()),
                line,
                escape_data(&message)
            ),
            None => println!("::error::{}", escape_data(&message)),
        }
        eprintln!("error: {message}");
    }

    fn outputs(&self, outputs: &[(&str, String)]) {
        self.end_group(&mut self.in_group.lock().unwrap());
        let Some(path) = &self.output else { return };
        let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        else {
            eprintln!("warning: cannot write GITHUB_OUTPUT at {}", path.display());
            return;
        };
        for (name, value) in outputs {
            // The heredoc form carries any value, multi-line included.
            let delimiter = format!(
                "ghadelimiter_{}",
                crate::oci::Digest::sha256_of(value.as_bytes()).short()
            );
            let _ = writeln!(file, "{name}<<{delimiter}\n{value}\n{delimiter}");
        }
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

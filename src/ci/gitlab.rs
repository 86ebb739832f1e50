//! GitLab CI: each phase in a collapsible log section.
//!
//! Sections are `\e[0Ksection_start:<unix time>:<name>[collapsed=…]\r\e[0K<header>` …
//! `\e[0Ksection_end:<unix time>:<name>\r\e[0K`. GitLab has no runtime masking: secrets
//! are masked by marking the CI/CD variables masked, which the README says.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::plain::render;
use super::{Event, Phase, Reporter};

pub struct GitLabReporter {
    debug: bool,
    open: Mutex<Option<String>>,
}

impl GitLabReporter {
    pub fn new(debug: bool) -> Self {
        GitLabReporter {
            debug,
            open: Mutex::new(None),
        }
    }

    fn close(&self, open: &mut Option<String>) {
        if let Some(name) = open.take() {
            eprintln!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", now());
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Reporter for GitLabReporter {
    fn event(&self, event: Event<'_>) {
        let mut open = self.open.lock().unwrap();
        match event {
            Event::Phase(phase) => {
                self.close(&mut open);
                let section = format!("spaceone_publish_{}", phase.slug());
                // The push and register phases stay open: they hold what people look for.
                let collapsed = matches!(phase, Phase::Build(_));
                eprintln!(
                    "\x1b[0Ksection_start:{}:{section}[collapsed={collapsed}]\r\x1b[0K{phase}",
                    now()
                );
                *open = Some(section);
            }
            other => {
                if let Some(line) = render(&other, self.debug) {
                    eprintln!("{line}");
                }
            }
        }
    }

    fn error(
        &self,
        chain: &[String],
        hint: Option<&str>,
        _location: Option<(&std::path::Path, usize)>,
    ) {
        self.close(&mut self.open.lock().unwrap());
        eprintln!("{}", super::render_error(chain, hint));
    }

    fn outputs(&self, _outputs: &super::report::Outputs, _summary: &str) {
        self.close(&mut self.open.lock().unwrap());
    }
}

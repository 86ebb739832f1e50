//! Plain line-oriented output on stderr, and a recording reporter for tests.

use std::sync::Mutex;

use crate::events::{human_size, BlobAction, Event, Reporter};

pub struct PlainReporter {
    pub debug: bool,
}

impl Reporter for PlainReporter {
    fn event(&self, event: Event<'_>) {
        if let Some(line) = render(&event, self.debug) {
            eprintln!("{line}");
        }
    }
}

pub(crate) fn render(event: &Event<'_>, debug: bool) -> Option<String> {
    Some(match event {
        Event::Phase(name) => format!("==> {name}"),
        Event::Step { stage, line, text } => format!("[{stage} {line}] {text}"),
        Event::Blob {
            action,
            digest,
            size,
        } => {
            let verb = match action {
                BlobAction::Existing => "existing",
                BlobAction::Mounted => "mounted",
                BlobAction::Pushed => "pushed",
            };
            format!("{verb} {} ({})", digest, human_size(*size))
        }
        Event::Manifest { target, digest } => format!("manifest {digest} -> {target}"),
        Event::Progress { what, done, total } => {
            let percent = if *total == 0 { 100 } else { done * 100 / total };
            format!(
                "{what}: {} of {} ({percent}%)",
                human_size(*done),
                human_size(*total)
            )
        }
        Event::Note(text) => text.to_string(),
        Event::Warning(text) => format!("warning: {text}"),
        Event::Debug(text) if debug => format!("debug: {text}"),
        Event::Debug(_) | Event::Mask(_) => return None,
    })
}

/// Keeps every rendered line, for tests that assert what a user would see.
#[derive(Default)]
pub struct RecordingReporter {
    lines: Mutex<Vec<String>>,
}

impl RecordingReporter {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Reporter for RecordingReporter {
    fn event(&self, event: Event<'_>) {
        if let Some(line) = render(&event, true) {
            self.lines.lock().unwrap().push(line);
        }
    }
}

//! The end of a run: the result on stdout (text for people, or one JSON object), the
//! outputs for later steps (`GITHUB_OUTPUT`, a GitLab dotenv file), and the GitHub step
//! summary.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use crate::events::human_size;
use crate::inputs::OutputFormat;
use crate::pipeline::{Outcome, Report};
use crate::spaceone::PluginList;

pub use crate::events::Outputs;

pub fn outputs(outcome: &Outcome) -> Outputs {
    let mut out: Outputs = Vec::new();
    match outcome {
        Outcome::Published(report) => {
            let d = &report.delivered;
            out.push(("digest", d.digest.to_string()));
            if let Some(repo) = d.repositories.first() {
                out.push(("image", repo.name()));
            }
            out.push(("tags", d.tags.join("\n")));
            out.push(("version", report.version.clone()));
            if let Some(r) = &report.registration {
                out.push(("plugin-id", r.plugin_id.clone()));
            }
        }
        Outcome::Plugin { plugin_id, .. } => out.push(("plugin-id", plugin_id.clone())),
        Outcome::Versions(v) => out.push(("plugin-id", v.plugin_id.clone())),
        Outcome::Listed(_) => {}
    }
    let metadata = result_json(outcome).to_string();
    out.push(("metadata", metadata));
    out
}

/// The one JSON object `output-format: json` prints, also the `metadata` output.
pub fn result_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Published(report) => {
            let d = &report.delivered;
            json!({
                "digest": d.digest.to_string(),
                "image": d.repositories.first().map(|r| r.name()),
                "images": d.repositories.iter().map(|r| r.name()).collect::<Vec<_>>(),
                "dry_run": d.dry_run,
                "local": d.local,
                "tags": d.tags,
                "version": report.version,
                "size": d.size,
                "layers": d.layers,
                "blobs": {"reused": d.reused_blobs, "uploaded": d.uploaded_blobs, "uploaded_bytes": d.uploaded_bytes},
                "registration": report.registration.as_ref().map(|r| json!({
                    "plugin_id": r.plugin_id,
                    "action": r.action.to_string(),
                    "generation": r.generation.to_string(),
                    "repository_id": r.repository_id,
                    "version_listed": r.version_listed(),
                    "versions": r.versions,
                })),
                "request": if report.registration.is_none() { report.request.clone() } else { None },
                "timings": report.timings.as_ref().map(|t| json!({
                    "total_seconds": t.total_seconds,
                    "unpack_seconds": t.build.unpack_seconds,
                    "steps": t.build.steps,
                })),
            })
        }
        Outcome::Plugin {
            verb,
            plugin_id,
            info,
        } => {
            json!({"verb": verb.as_str(), "plugin_id": plugin_id, "plugin": info})
        }
        Outcome::Listed(list) => {
            let mut value = list.to_json();
            value["verb"] = json!("list");
            value
        }
        Outcome::Versions(v) => json!({
            "verb": "versions",
            "plugin_id": v.plugin_id,
            "repository_id": v.repository_id,
            "versions": v.versions,
            "latest": v.latest(),
        }),
    }
}

/// Prints the result on stdout.
pub fn print(outcome: &Outcome, format: OutputFormat) {
    if format == OutputFormat::Json {
        println!("{}", result_json(outcome));
        return;
    }
    match outcome {
        Outcome::Published(report) => print_report(report),
        Outcome::Plugin { info, .. } => {
            println!("{}", serde_json::to_string_pretty(info).expect("json"));
        }
        Outcome::Listed(list) => print!("{}", plugin_table(list)),
        Outcome::Versions(v) => {
            for (i, version) in v.versions.iter().enumerate() {
                if i == 0 {
                    println!("{version}  (latest: what upgrade_mode AUTO takes)");
                } else {
                    println!("{version}");
                }
            }
        }
    }
}

/// The plugins as `spacectl list repository.Plugin` prints them: a table, then
/// ` Count: shown / total`.
pub fn plugin_table(list: &PluginList) -> String {
    const COLUMNS: [&str; 4] = ["plugin_id", "name", "image", "registry_type"];
    let rows: Vec<[String; 4]> = list
        .plugins
        .iter()
        .map(|plugin| {
            let info = plugin.to_json();
            COLUMNS.map(|c| info[c].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let widths = COLUMNS.map(|c| c.chars().count());
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .fold(widths[i], usize::max)
        })
        .collect();
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!(" {cell:<width$} "))
            .collect();
        padded.join("|").trim_end().to_string()
    };
    let mut text = line(&COLUMNS);
    text.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    text.push_str(&rule.join("+"));
    text.push('\n');
    for row in &rows {
        text.push_str(&line(&row.each_ref().map(String::as_str)));
        text.push('\n');
    }
    let _ = writeln!(text, "\n Count: {} / {}", rows.len(), list.total_count);
    text
}

fn print_report(report: &Report) {
    let d = &report.delivered;
    match (d.repositories.as_slice(), &d.local) {
        ([], Some(local)) => println!("wrote {} to {local}", d.digest),
        ([], None) => println!("built {}", d.digest),
        (repos, _) if d.dry_run => {
            for repo in repos {
                println!("dry run, not pushed: {}@{}", repo.name(), d.digest);
            }
        }
        (repos, _) => {
            for repo in repos {
                println!("pushed {}@{}", repo.name(), d.digest);
            }
        }
    }
    println!("tags: {}", d.tags.join(", "));
    println!("version: {}", report.version);
    match (&report.registration, &report.request) {
        (Some(r), _) => {
            println!(
                "plugin_id: {} ({} on SpaceONE {})",
                r.plugin_id, r.action, r.generation
            );
            if !r.version_listed() {
                println!("warning: SpaceONE does not list version {} yet", r.version);
            }
        }
        (None, Some(request)) => {
            println!("registration request (not sent):");
            println!("{}", serde_json::to_string_pretty(request).expect("json"));
        }
        (None, None) => {}
    }
}

/// `KEY=VALUE` lines for GitLab's `artifacts: reports: dotenv`. Multi-line values
/// (tags) are joined with commas: dotenv has no multi-line form.
pub fn write_dotenv(path: &Path, outputs: &Outputs) -> std::io::Result<()> {
    let mut text = String::new();
    for (name, value) in outputs {
        if *name == "metadata" {
            continue;
        }
        let key = format!("SPACEONE_PUBLISH_{}", name.to_uppercase().replace('-', "_"));
        let _ = writeln!(text, "{key}={}", value.replace('\n', ","));
    }
    std::fs::write(path, text)
}

/// Markdown for the GitHub step summary.
pub fn summary(outcome: &Outcome) -> String {
    let mut md = String::from("### spaceone-publish\n\n| | |\n|---|---|\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|"));
    };
    match outcome {
        Outcome::Published(report) => {
            let d = &report.delivered;
            for repo in &d.repositories {
                let note = if d.dry_run {
                    " (dry run, not pushed)"
                } else {
                    ""
                };
                row("image", format!("`{}`{note}", repo.name()));
            }
            row("digest", format!("`{}`", d.digest));
            row(
                "tags",
                d.tags
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            row("version", format!("`{}`", report.version));
            if d.layers > 0 {
                row(
                    "size",
                    format!("{} in {} layers", human_size(d.size), d.layers),
                );
                row(
                    "blobs",
                    format!(
                        "{} reused, {} uploaded ({})",
                        d.reused_blobs,
                        d.uploaded_blobs,
                        human_size(d.uploaded_bytes)
                    ),
                );
            }
            match &report.registration {
                Some(r) => {
                    row("plugin_id", format!("`{}` ({})", r.plugin_id, r.action));
                    row("SpaceONE", r.generation.to_string());
                    let listed = if r.version_listed() {
                        "listed"
                    } else {
                        "**not listed yet**"
                    };
                    row(
                        "versions",
                        format!("{} ({listed}: {})", r.versions.len(), r.versions.join(", ")),
                    );
                }
                None => row(
                    "SpaceONE",
                    "not registered (no endpoint, dry run or local output)".into(),
                ),
            }
        }
        Outcome::Plugin {
            verb, plugin_id, ..
        } => {
            row("plugin_id", format!("`{plugin_id}`"));
            row("verb", verb.to_string());
        }
        Outcome::Listed(list) => {
            row("repository", format!("`{}`", list.repository_id));
            row(
                "plugins",
                format!("{} / {}", list.plugins.len(), list.total_count),
            );
        }
        Outcome::Versions(v) => {
            row("plugin_id", format!("`{}`", v.plugin_id));
            row("latest", v.latest().unwrap_or("none").to_string());
            row("versions", v.versions.join(", "));
        }
    }
    md
}

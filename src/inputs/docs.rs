//! `--help`, `action.yml` and the README's input table, all rendered from [`INPUTS`], so
//! the three can never disagree (a test compares the committed `action.yml`).

use std::fmt::Write;

use super::{github_variable, plain_variable, Kind, INPUTS};

/// The action's outputs, declared in `action.yml` and written to `GITHUB_OUTPUT`.
pub const OUTPUTS: &[(&str, &str)] = &[
    ("digest", "Manifest digest of the pushed image (sha256:…)."),
    ("image", "The image reference that was pushed, without tag."),
    ("tags", "Tags that were pushed, one per line."),
    (
        "version",
        "The plugin version (the image tag SpaceONE lists).",
    ),
    (
        "plugin-id",
        "The SpaceONE plugin_id that was registered or updated.",
    ),
    ("metadata", "Everything above as one JSON object."),
];

/// The image the action runs; the release workflow publishes it under this name.
pub const ACTION_IMAGE: &str = "docker://ghcr.io/cloudforet-io/spaceone-publish:v0";

pub fn help() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "spaceone-publish {}\n\
         Build a SpaceONE plugin image without a daemon, push it, and register it.\n\n\
         USAGE:\n    spaceone-publish [publish] [--debug]\n    spaceone-publish --help | --version\n\n\
         Inputs come from the environment: INPUT_<NAME> (GitHub, hyphens kept), then\n\
         PUBLISH_<NAME> (hyphens as underscores), then CI defaults, then the default.\n\n\
         EXIT CODES:\n    0 done  1 unexpected (a bug)  2 bad input  3 build failed\n    \
         4 registry error  5 SpaceONE error\n\nINPUTS:",
        env!("CARGO_PKG_VERSION")
    );
    for def in INPUTS {
        let _ = writeln!(
            out,
            "\n  {}{}",
            def.name,
            if def.kind == Kind::Secret {
                " (secret)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "      {}", def.description);
        let _ = writeln!(
            out,
            "      env: {}, {}",
            github_variable(def.name),
            plain_variable(def.name)
        );
        let default = match (def.default, def.default_doc) {
            ("", "") => None,
            ("", doc) => Some(doc.to_string()),
            (d, _) => Some(d.to_string()),
        };
        if let Some(d) = default {
            let _ = writeln!(out, "      default: {d}");
        }
    }
    out
}

/// Defaults that exist only in `action.yml`: expressions the runner evaluates. At run time
/// the value arrives as `INPUT_<NAME>` like any other.
const ACTION_DEFAULTS: &[(&str, &str)] = &[("github-token", "${{ github.token }}")];

pub fn action_yml() -> String {
    let mut out = String::new();
    out.push_str(
        "# Generated from src/inputs.rs by `spaceone-publish --action-yml`; do not edit by hand.\n\
         name: spaceone-publish\n\
         description: Build a SpaceONE plugin image without a daemon, push it, and register it in SpaceONE.\n\
         author: spaceone-publish\n\
         branding:\n  icon: package\n  color: blue\n\
         inputs:\n",
    );
    for def in INPUTS {
        let mut description = def.description.to_string();
        if def.default.is_empty() && !def.default_doc.is_empty() {
            description.push_str(&format!(" Default: {}.", def.default_doc));
        }
        let _ = writeln!(out, "  {}:", def.name);
        let _ = writeln!(out, "    description: {}", yaml_string(&description));
        let _ = writeln!(out, "    required: false");
        let action_default = ACTION_DEFAULTS
            .iter()
            .find(|(n, _)| *n == def.name)
            .map(|(_, d)| *d);
        if let Some(default) = action_default.or(Some(def.default).filter(|d| !d.is_empty())) {
            let _ = writeln!(out, "    default: {}", yaml_string(default));
        }
    }
    out.push_str("outputs:\n");
    for (name, description) in OUTPUTS {
        let _ = writeln!(
            out,
            "  {name}:\n    description: {}",
            yaml_string(description)
        );
    }
    let _ = write!(
        out,
        "runs:\n  using: docker\n  image: {}\n",
        yaml_string(ACTION_IMAGE)
    );
    out
}

/// The README's input table (Markdown).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| input | plain variable | default | meaning |\n|---|---|---|---|\n");
    for def in INPUTS {
        let default = if def.default.is_empty() {
            def.default_doc
        } else {
            def.default
        };
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | {} |",
            def.name,
            plain_variable(def.name),
            default.replace('|', "\\|"),
            def.description.replace('|', "\\|")
        );
    }
    out
}

fn yaml_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `action.yml` is generated; a stale copy would let GitHub users set inputs we ignore.
    #[test]
    fn committed_action_yml_is_current() {
        let committed = include_str!("../../action.yml");
        assert_eq!(
            committed,
            action_yml(),
            "action.yml is stale: run `spaceone-publish --action-yml > action.yml`"
        );
    }

    #[test]
    fn readme_lists_every_input() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&markdown_table()),
            "README's inputs table is stale: run `spaceone-publish --inputs-markdown`"
        );
    }

    #[test]
    fn help_names_both_variables_of_every_input() {
        let help = help();
        for def in INPUTS {
            assert!(
                help.contains(&format!(
                    "env: {}, {}",
                    github_variable(def.name),
                    plain_variable(def.name)
                )),
                "{}",
                def.name
            );
        }
    }
}

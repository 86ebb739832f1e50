//! The library's modules form layers, and a module may use only the layers below it: the
//! leaves (digests, secrets, time) at the bottom, the user layer (`ci`, `main.rs`) at the
//! top. This reads every `crate::…` path in `src/` and fails naming the file and line of
//! each use that points upward or sideways, so a cycle cannot come back unnoticed.

use std::path::{Path, PathBuf};

/// Lowest first; modules on one line are peers and may not use each other.
const LAYERS: &[&[&str]] = &[
    &["backoff", "digest", "host", "secret", "suggest", "time"],
    &["reference", "tags"],
    &["oci"],
    &["events"],
    &["inputs"],
    &["registry"],
    &["build", "spaceone"],
    &["plan"],
    &["output"],
    &["error"],
    &["pipeline"],
    &["ci", "fuzzing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level modules a source text names through `crate::a`, `crate::{a, b::c}` or
/// `crate::Error` (the re-export of `error::Error`), with their lines.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => {
                    let group = group.split('}').next().unwrap_or("");
                    group.split(',').map(str::trim).collect()
                }
                None => vec![rest],
            };
            for name in names {
                let ident: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let module = match ident.as_str() {
                    "Error" => "error".to_string(),
                    other => other.to_string(),
                };
                if !module.is_empty() {
                    found.push((index + 1, module));
                }
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn library_modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut seen_modules = std::collections::BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if module == "main" || module == "lib" {
            continue;
        }
        seen_modules.insert(module.clone());
        let Some(own) = layer_of(&module) else {
            wrong.push(format!(
                "src/{}: module `{module}` is in no layer",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, used) in uses(&text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                Some(_) => wrong.push(format!(
                    "src/{}:{line}: `{module}` uses `{used}`, which is not below it",
                    relative.display()
                )),
                None => wrong.push(format!(
                    "src/{}:{line}: `crate::{used}` is in no layer",
                    relative.display()
                )),
            }
        }
    }
    for layer in LAYERS {
        for module in *layer {
            assert!(
                seen_modules.contains(*module),
                "`{module}` is listed but has no file"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_use_reader_finds_grouped_and_re_exported_paths() {
    let text =
        "use crate::{build, oci::Digest};\n// crate::ci in a comment\nfn f() -> crate::Error {}\n";
    assert_eq!(
        uses(text),
        vec![(1, "build".into()), (1, "oci".into()), (3, "error".into())]
    );
}

//! The state of one stage while its instructions are applied: the image configuration so
//! far, the variables in scope, and the layers.
//!
//! Variable scoping follows BuildKit: an `ARG` before the first `FROM` is visible only in
//! `FROM` lines, unless a stage re-declares it (`ARG NAME` without a value then inherits the
//! global value). Inside a stage, words are expanded against the declared ARGs (with
//! `build-args` overriding their defaults) and the ENV so far, ENV winning over ARG.
//! ENTRYPOINT, CMD and RUN words are not expanded here: the shell does that at run time.

use std::collections::BTreeMap;

use super::dockerfile::{ArgDecl, CommandForm};
use super::expand;
use crate::oci::{History, Image, ImageConfig, Layer};

/// Build arguments that BuildKit always defines for every stage.
const PREDEFINED: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

pub struct StageState {
    pub name: String,
    pub image: Image,
    escape: char,
    /// Declared ARGs of this stage and their values.
    args: BTreeMap<String, String>,
    /// `build-args` from the inputs.
    overrides: BTreeMap<String, String>,
    /// Values of global ARGs (declared before the first FROM).
    globals: BTreeMap<String, String>,
    /// Whether CMD came from the base image (a new ENTRYPOINT clears it, as Docker does).
    cmd_inherited: bool,
    /// `created` for history entries.
    created: String,
    /// What the layer cache keys each layer below on: its digest, or for a COPY layer the
    /// digest of its content without file times (see [`super::layer::Written`]).
    layer_keys: Vec<String>,
}

impl StageState {
    pub fn new(
        name: String,
        image: Image,
        escape: char,
        overrides: BTreeMap<String, String>,
        globals: BTreeMap<String, String>,
        created: String,
    ) -> StageState {
        let cmd_inherited = image.config.config.cmd.is_some();
        let layer_keys = image
            .layers
            .iter()
            .map(|l| l.descriptor.digest.to_string())
            .collect();
        StageState {
            layer_keys,
            name,
            image,
            escape,
            args: BTreeMap::new(),
            overrides,
            globals,
            cmd_inherited,
            created,
        }
    }

    pub fn config(&mut self) -> &mut ImageConfig {
        &mut self.image.config
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if let Some(v) = self.image.config.env(name) {
            return Some(v.to_string());
        }
        self.args.get(name).cloned()
    }

    /// Expands one word against the stage's ARGs and ENV.
    pub fn expand(&self, word: &str) -> Result<String, expand::ExpandError> {
        expand::expand(word, self.escape, &|name| self.lookup(name))
    }

    pub fn expand_words(&self, word: &str) -> Result<Vec<String>, expand::ExpandError> {
        expand::expand_words(word, self.escape, &|name| self.lookup(name))
    }

    /// The environment of a RUN: the image's `ENV`, then the stage's `ARG`s and any
    /// predefined proxy variables given as build args (ENV wins).
    pub fn run_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .image
            .config
            .config
            .env
            .iter()
            .flatten()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let predefined = PREDEFINED
            .iter()
            .filter_map(|name| Some((name.to_string(), self.overrides.get(*name)?.clone())));
        for (k, v) in self.args.clone().into_iter().chain(predefined) {
            if !env.iter().any(|(e, _)| *e == k) {
                env.push((k, v));
            }
        }
        env
    }

    pub fn declare_arg(&mut self, decl: &ArgDecl) -> Result<(), expand::ExpandError> {
        let value = match self.overrides.get(&decl.name) {
            Some(v) => Some(v.clone()),
            None => match &decl.default {
                Some(d) => Some(self.expand(d)?),
                None => self.globals.get(&decl.name).cloned(),
            },
        };
        if let Some(v) = value {
            self.args.insert(decl.name.clone(), v);
        }
        Ok(())
    }

    pub fn set_entrypoint(&mut self, argv: Vec<String>) {
        self.image.config.config.entrypoint = Some(argv);
        if self.cmd_inherited {
            self.image.config.config.cmd = None;
            self.cmd_inherited = false;
        }
    }

    pub fn set_cmd(&mut self, argv: Vec<String>) {
        self.image.config.config.cmd = Some(argv);
        self.cmd_inherited = false;
    }

    /// The argv for a shell-form command: `SHELL` (default `/bin/sh -c`) plus the line.
    pub fn shell_argv(&self, form: &CommandForm) -> Vec<String> {
        match form {
            CommandForm::Exec(argv) => argv.clone(),
            CommandForm::Shell(line) => {
                let mut argv = self
                    .image
                    .config
                    .config
                    .shell
                    .clone()
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                argv.push(line.clone());
                argv
            }
        }
    }

    /// Records an instruction in the history, with or without a layer.
    /// What the layer cache keys each layer below on, bottom first.
    pub fn layer_keys(&self) -> &[String] {
        &self.layer_keys
    }

    /// Records a COPY/ADD layer, keyed for the cache by its content.
    pub fn record_copy(&mut self, created_by: &str, written: super::layer::Written) {
        self.record(created_by, Some(written.layer));
        *self.layer_keys.last_mut().expect("just pushed") = written.content;
    }

    pub fn record(&mut self, created_by: &str, layer: Option<Layer>) {
        let empty = layer.is_none();
        if let Some(layer) = layer {
            self.layer_keys.push(layer.descriptor.digest.to_string());
            self.image.add_layer(layer);
        }
        self.image.config.history.push(History {
            created: Some(self.created.clone()),
            created_by: Some(created_by.to_string()),
            comment: Some("spaceone-publish".into()),
            empty_layer: empty.then_some(true),
        });
    }
}

/// Values of the global ARGs, with `build-args` overriding defaults; predefined proxy
/// variables come only from `build-args`.
pub fn global_args(
    decls: &[ArgDecl],
    overrides: &BTreeMap<String, String>,
    escape: char,
) -> Result<BTreeMap<String, String>, expand::ExpandError> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for decl in decls {
        let value = match overrides.get(&decl.name) {
            Some(v) => Some(v.clone()),
            None => match &decl.default {
                Some(d) => Some(expand::expand(d, escape, &|n| values.get(n).cloned())?),
                None => None,
            },
        };
        if let Some(v) = value {
            values.insert(decl.name.clone(), v);
        }
    }
    for name in PREDEFINED {
        if let Some(v) = overrides.get(*name) {
            values.entry(name.to_string()).or_insert_with(|| v.clone());
        }
    }
    Ok(values)
}

//! The Dockerfile frontend: text → [`Dockerfile`] (stages of instructions), following
//! BuildKit's parser (`frontend/dockerfile/parser` and `instructions/parse.go`).
//!
//! Reading happens in two layers.
//!
//! 1. **Logical lines.** Parser directives (`# escape=`` ` ``, `# syntax=…`) are recognised only
//!    in the leading comment block; the first other line ends it. The escape character (`\`
//!    by default) at the end of a line continues the instruction on the next line; comment
//!    lines and blank lines inside a continuation are skipped, and continuation lines keep
//!    their indentation. For `RUN`, `COPY` and `ADD` in shell form, each heredoc marker
//!    (`<<EOF`, `<<-EOF`, `<<'EOF'`, `3<<EOF`) then consumes the following raw lines up to its
//!    terminator; heredoc bodies are never treated as comments or continuations.
//! 2. **Instructions.** The first word is the instruction (any case); leading `--flag[=value]`
//!    words are flags, checked against what that instruction accepts. `RUN`, `CMD`,
//!    `ENTRYPOINT`, `SHELL` and `HEALTHCHECK CMD` take a JSON array of strings (exec form) or
//!    else the rest of the line as a shell command; like Docker, text that starts with `[` but
//!    is not valid JSON is shell form. `COPY`, `ADD` and `VOLUME` take a JSON array or
//!    whitespace-separated words.
//!
//! Values stay **raw** (unexpanded, quotes and `$VAR` as written): expansion needs the
//! stage's `ARG`/`ENV` at that point of the build and is done by the builder with
//! [`super::expand`], using [`Dockerfile::escape`]. Exec-form commands are never expanded.
//!
//! Structure rules enforced here: only `ARG` may precede the first `FROM` (those are the
//! global args); stage names are lower-cased and unique; `ONBUILD` cannot wrap `ONBUILD`,
//! `FROM` or `MAINTAINER`. Every error carries the file and the instruction's first line.
//!
//! Layout: this file holds the AST, the errors and stage assembly; `lines` is layer 1,
//! `instructions` is layer 2, and `words` the argument syntax they share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use instructions::{parse_instruction, Parsed};
use lines::logical_lines;

pub mod checks;
mod instructions;
mod lines;
mod mount_flag;
mod words;

pub use mount_flag::MountFlag;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub path: PathBuf,
    /// The escape character in effect (`\` or `` ` ``), needed again for expansion.
    pub escape: char,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines and re-declarable in stages.
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

/// One `name[=default]` of an `ARG`; the default is raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
    pub line: usize,
}

/// A build stage: a `FROM` and the instructions up to the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    /// The base image word as written (may hold `$ARG`s or name an earlier stage).
    pub base: String,
    /// `--platform=` as written.
    pub platform: Option<String>,
    /// Line of the `FROM`.
    pub line: usize,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// The instruction as written, continuation lines joined (heredoc bodies not included),
    /// for messages and image history.
    pub text: String,
    pub kind: InstructionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionKind {
    Arg(Vec<ArgDecl>),
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Workdir(String),
    Copy(CopySpec),
    Add(CopySpec),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Entrypoint(CommandForm),
    Cmd(CommandForm),
    Run(RunSpec),
    Shell(Vec<String>),
    Healthcheck(Healthcheck),
    StopSignal(String),
    /// The trigger instruction as written (it was parsed once to check it).
    Onbuild(String),
    Maintainer(String),
}

/// Exec form (`["a", "b"]`, run as is) or shell form (handed to the stage's `SHELL`).
/// `CMD` and `ENTRYPOINT` with no arguments are `Exec(vec![])`, i.e. reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandForm {
    Exec(Vec<String>),
    Shell(String),
}

/// `COPY` and `ADD`: raw source words (heredoc sources apart), raw destination and flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopySpec {
    pub sources: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
    /// Inline files (`COPY <<EOF /dest`): each becomes a file named after its delimiter.
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub command: CommandForm,
    /// `--mount=` flags, split and checked; values raw (`type=cache,target=$CACHE`).
    pub mounts: Vec<MountFlag>,
    pub network: Option<String>,
    pub security: Option<String>,
    pub heredocs: Vec<Heredoc>,
}

/// An inline document. `content` ends with a newline per line read; with `<<-` the leading
/// tabs are already stripped. `expand` is false when any part of the delimiter was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    pub expand: bool,
    pub strip_tabs: bool,
    /// `3<<EOF` feeds file descriptor 3; none means stdin.
    pub fd: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    Disabled,
    Check {
        test: CommandForm,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<u32>,
    },
}

/// A Dockerfile problem at `path:line` (line 0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfileError {
    pub path: PathBuf,
    pub line: usize,
    pub kind: ErrorKind,
}

impl DockerfileError {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// 1-based line of the offending instruction; 0 when the error is about the whole file.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.path.display(), self.kind),
            line => write!(f, "{}:{line}: {}", self.path.display(), self.kind),
        }
    }
}

impl std::error::Error for DockerfileError {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("file with no instructions")]
    Empty,
    #[error("no FROM instruction: a Dockerfile needs at least one build stage")]
    NoStage,
    #[error("unknown instruction \"{name}\"{}", did_you_mean(*.suggestion))]
    UnknownInstruction {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("{instruction} before the first FROM: only ARG may come before FROM")]
    BeforeFrom { instruction: &'static str },
    #[error("unknown flag --{flag} for {instruction} (it accepts: {accepted})")]
    UnknownFlag {
        instruction: &'static str,
        flag: String,
        accepted: String,
    },
    #[error("flag --{flag} of {instruction} needs a value (--{flag}=…)")]
    FlagNeedsValue {
        instruction: &'static str,
        flag: String,
    },
    #[error("flag --{flag} of {instruction} is given twice")]
    DuplicateFlag {
        instruction: &'static str,
        flag: String,
    },
    #[error("flag --{flag} of {instruction} has a bad value \"{value}\": {reason}")]
    BadFlagValue {
        instruction: &'static str,
        flag: String,
        value: String,
        reason: &'static str,
    },
    #[error("{instruction} {problem}: \"{text}\"")]
    Arguments {
        instruction: &'static str,
        problem: String,
        text: String,
    },
    #[error("bad parser directive \"{text}\": {problem}")]
    Directive { text: String, problem: &'static str },
    #[error("heredoc <<{name} is not terminated: no later line reads exactly \"{name}\"")]
    UnterminatedHeredoc { name: String },
    #[error("invalid stage name \"{name}\": it must start with a letter and hold only letters, digits, '-', '_' and '.'")]
    StageName { name: String },
    #[error("duplicate stage name \"{name}\" (first used on line {first_line})")]
    DuplicateStage { name: String, first_line: usize },
    #[error("{trigger} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger { trigger: String },
    #[error("{instruction} {problem}")]
    Value {
        instruction: &'static str,
        problem: String,
    },
    #[error("the instruction is {len} bytes long; at most {} (longer values belong in a file the build copies)", checks::MAX_LINE)]
    LineTooLong { len: usize },
    #[error("target stage \"{target}\" not found (named stages: {})", list_or_none(.stages))]
    UnknownTarget { target: String, stages: Vec<String> },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean \"{s}\"?)"))
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl InstructionKind {
    /// The instruction keyword, upper-case.
    pub fn name(&self) -> &'static str {
        match self {
            InstructionKind::Arg(_) => "ARG",
            InstructionKind::Env(_) => "ENV",
            InstructionKind::Label(_) => "LABEL",
            InstructionKind::Workdir(_) => "WORKDIR",
            InstructionKind::Copy(_) => "COPY",
            InstructionKind::Add(_) => "ADD",
            InstructionKind::User(_) => "USER",
            InstructionKind::Expose(_) => "EXPOSE",
            InstructionKind::Volume(_) => "VOLUME",
            InstructionKind::Entrypoint(_) => "ENTRYPOINT",
            InstructionKind::Cmd(_) => "CMD",
            InstructionKind::Run(_) => "RUN",
            InstructionKind::Shell(_) => "SHELL",
            InstructionKind::Healthcheck(_) => "HEALTHCHECK",
            InstructionKind::StopSignal(_) => "STOPSIGNAL",
            InstructionKind::Onbuild(_) => "ONBUILD",
            InstructionKind::Maintainer(_) => "MAINTAINER",
        }
    }
}

impl Healthcheck {
    /// Docker's image-config form: `{"Test": ["CMD", …] | ["CMD-SHELL", line] | ["NONE"],
    /// "Interval": ns, …}`, zero durations left out as Docker does.
    pub fn to_config(&self) -> serde_json::Value {
        let Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } = self
        else {
            return serde_json::json!({ "Test": ["NONE"] });
        };
        let test: Vec<String> = match test {
            CommandForm::Exec(argv) => std::iter::once("CMD".to_string())
                .chain(argv.iter().cloned())
                .collect(),
            CommandForm::Shell(line) => vec!["CMD-SHELL".into(), line.clone()],
        };
        let mut config = serde_json::Map::new();
        config.insert("Test".into(), test.into());
        let durations = [
            ("Interval", interval),
            ("Timeout", timeout),
            ("StartPeriod", start_period),
            ("StartInterval", start_interval),
        ];
        for (key, value) in durations {
            if let Some(d) = value.filter(|d| !d.is_zero()) {
                config.insert(key.into(), (d.as_nanos() as u64).into());
            }
        }
        if let Some(r) = retries.filter(|r| *r > 0) {
            config.insert("Retries".into(), r.into());
        }
        serde_json::Value::Object(config)
    }
}

impl Dockerfile {
    /// The stage a `COPY --from=` or `FROM` refers to: a name (any case) or an index.
    pub fn stage_by_name_or_index(&self, reference: &str) -> Option<&Stage> {
        let by_name = self.stages.iter().find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(reference))
        });
        by_name.or_else(|| {
            reference
                .parse::<usize>()
                .ok()
                .and_then(|i| self.stages.get(i))
        })
    }

    /// The stage to build: the named one (any case), or the last when `None`.
    pub fn target(&self, target: Option<&str>) -> Result<&Stage, DockerfileError> {
        let found = match target {
            None => self.stages.last(),
            Some(t) => self
                .stages
                .iter()
                .find(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(t))),
        };
        found.ok_or_else(|| DockerfileError {
            path: self.path.clone(),
            line: 0,
            kind: ErrorKind::UnknownTarget {
                target: target.unwrap_or_default().to_string(),
                stages: self.stages.iter().filter_map(|s| s.name.clone()).collect(),
            },
        })
    }
}

/// Parses a whole Dockerfile. `path` is used as given in messages.
pub fn parse(path: &Path, text: &str) -> Result<Dockerfile, DockerfileError> {
    let fail = |line, kind| DockerfileError {
        path: path.to_path_buf(),
        line,
        kind,
    };
    let (escape, logical) = logical_lines(text).map_err(|(line, kind)| fail(line, kind))?;
    if logical.is_empty() {
        return Err(fail(0, ErrorKind::Empty));
    }
    let mut dockerfile = Dockerfile {
        path: path.to_path_buf(),
        escape,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for raw in logical {
        if raw.text.len() > checks::MAX_LINE {
            let len = raw.text.len();
            return Err(fail(raw.line, ErrorKind::LineTooLong { len }));
        }
        let parsed = parse_instruction(&raw.text, raw.heredocs, escape, raw.line)
            .map_err(|kind| fail(raw.line, kind))?;
        match parsed {
            Parsed::From {
                base,
                name,
                platform,
            } => {
                let earlier = dockerfile
                    .stages
                    .iter()
                    .find(|s| name.is_some() && s.name == name);
                if let (Some(first), Some(name)) = (earlier, &name) {
                    let kind = ErrorKind::DuplicateStage {
                        name: name.clone(),
                        first_line: first.line,
                    };
                    return Err(fail(raw.line, kind));
                }
                let index = dockerfile.stages.len();
                dockerfile.stages.push(Stage {
                    index,
                    name,
                    base,
                    platform,
                    line: raw.line,
                    instructions: Vec::new(),
                });
            }
            Parsed::Other(kind) => match (dockerfile.stages.last_mut(), kind) {
                (Some(stage), kind) => stage.instructions.push(Instruction {
                    line: raw.line,
                    text: raw.text,
                    kind,
                }),
                (None, InstructionKind::Arg(decls)) => dockerfile.global_args.extend(decls),
                (None, other) => {
                    let kind = ErrorKind::BeforeFrom {
                        instruction: other.name(),
                    };
                    return Err(fail(raw.line, kind));
                }
            },
        }
    }
    if dockerfile.stages.is_empty() {
        return Err(fail(0, ErrorKind::NoStage));
    }
    checks::literals(&dockerfile).map_err(|(line, kind)| fail(line, kind))?;
    Ok(dockerfile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandForm::Shell;

    pub(super) fn parse_str(text: &str) -> Result<Dockerfile, DockerfileError> {
        parse(Path::new("Dockerfile"), text)
    }

    pub(super) fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    pub(super) fn mounts(items: &[&str]) -> Vec<MountFlag> {
        items.iter().map(|m| MountFlag::parse(m).unwrap()).collect()
    }

    pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(super) fn doc(name: &str, content: &str, expand: bool, strip_tabs: bool) -> Heredoc {
        let fd = None;
        let (name, content) = (name.to_string(), content.to_string());
        Heredoc {
            name,
            content,
            expand,
            strip_tabs,
            fd,
        }
    }

    pub(super) fn run(command: CommandForm) -> RunSpec {
        RunSpec {
            command,
            mounts: vec![],
            network: None,
            security: None,
            heredocs: vec![],
        }
    }

    /// The instructions of the only stage of `FROM scratch` + `body`.
    pub(super) fn kinds(body: &str) -> Vec<InstructionKind> {
        let df = parse_str(&format!("FROM scratch\n{body}\n"))
            .unwrap_or_else(|e| panic!("{body:?}: {e}"));
        df.stages[0]
            .instructions
            .iter()
            .map(|i| i.kind.clone())
            .collect()
    }

    #[test]
    fn stages_and_global_args() {
        let text = "ARG VERSION=1.0\nARG BASE\nFROM --platform=$BUILDPLATFORM golang:$VERSION AS Build\nRUN go build\n\
                    FROM scratch\nCOPY --from=build /out /\nFROM build AS test\n";
        let df = parse_str(text).unwrap();
        let globals: Vec<(&str, Option<&str>, usize)> = df
            .global_args
            .iter()
            .map(|a| (a.name.as_str(), a.default.as_deref(), a.line))
            .collect();
        assert_eq!(globals, [("VERSION", Some("1.0"), 1), ("BASE", None, 2)]);
        // index name base platform line
        let stages: Vec<String> = df
            .stages
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} {} {:?} {}",
                    s.index, s.name, s.base, s.platform, s.line
                )
            })
            .collect();
        let want = [
            "0 Some(\"build\") golang:$VERSION Some(\"$BUILDPLATFORM\") 3",
            "1 None scratch None 5",
            "2 Some(\"test\") build None 7",
        ];
        assert_eq!(stages, want);
        let lookups = [
            ("BUILD", Some(0)),
            ("build", Some(0)),
            ("1", Some(1)),
            ("2", Some(2)),
            ("9", None),
            ("nope", None),
        ];
        for (reference, want) in lookups {
            assert_eq!(
                df.stage_by_name_or_index(reference).map(|s| s.index),
                want,
                "{reference}"
            );
        }
        assert_eq!(df.target(None).unwrap().index, 2);
        assert_eq!(df.target(Some("Build")).unwrap().index, 0);
        let err = df.target(Some("prod")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dockerfile: target stage \"prod\" not found (named stages: build, test)"
        );
        assert_eq!(err.line(), 0);
    }

    #[test]
    fn errors_name_file_line_and_text() {
        let cases: &[(&str, &str)] = &[
            ("FROM a\nRUNN x", "Dockerfile:2: unknown instruction \"RUNN\" (did you mean \"RUN\"?)"),
            ("FROM a\ncpy a b", "Dockerfile:2: unknown instruction \"cpy\" (did you mean \"COPY\"?)"),
            ("FROM a\nXYZZY x", "Dockerfile:2: unknown instruction \"XYZZY\""),
            ("RUN x\nFROM a", "Dockerfile:1: RUN before the first FROM: only ARG may come before FROM"),
            ("", "Dockerfile: file with no instructions"),
            ("# only a comment\n\n", "Dockerfile: file with no instructions"),
            ("ARG A", "Dockerfile: no FROM instruction"),
            ("FROM a\nCOPY --form=x a b", "Dockerfile:2: unknown flag --form for COPY (it accepts: --from, --chown, --chmod, --link, --parents, --exclude)"),
            ("FROM a\nADD --from=x a b", "Dockerfile:2: unknown flag --from for ADD"),
            ("FROM a\nENV --x=1 A=b", "Dockerfile:2: unknown flag --x for ENV (it accepts: no flags)"),
            ("FROM a\nCOPY --from a b", "Dockerfile:2: flag --from of COPY needs a value"),
            ("FROM a\nCOPY --from=a --from=b x y", "Dockerfile:2: flag --from of COPY is given twice"),
            ("FROM a\nCOPY --link=maybe a b", "Dockerfile:2: flag --link of COPY has a bad value \"maybe\": expected true or false"),
            ("FROM a\nCOPY onlyone", "Dockerfile:2: COPY requires at least one source and a destination: \"COPY onlyone\""),
            ("FROM a\nCOPY a <<EOF\nx\nEOF", "Dockerfile:2: COPY cannot take a heredoc as its destination"),
            ("FROM a\nSHELL sh -c", "Dockerfile:2: SHELL requires a JSON array"),
            ("FROM a\nCMD [\"a\", 1]", "Dockerfile:2: CMD in JSON form takes only strings: \"[\"a\", 1]\""),
            ("FROM a\nRUN", "Dockerfile:2: RUN requires a command to run"),
            ("FROM a\nWORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"),
            ("FROM a\nEXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"),
            ("FROM a\nVOLUME [\"\"]", "Dockerfile:2: VOLUME cannot take an empty string"),
            ("FROM a\nENV", "Dockerfile:2: ENV requires at least one argument"),
            ("FROM a\nENV ALONE", "Dockerfile:2: ENV needs a value for \"ALONE\""),
            ("FROM a\nENV a=1 b", "Dockerfile:2: ENV can't find = in \"b\""),
            ("FROM a\nLABEL =x", "Dockerfile:2: LABEL names can not be blank"),
            ("FROM a\nARG =x", "Dockerfile:2: ARG names can not be blank"),
            ("FROM a\nONBUILD ONBUILD RUN x", "Dockerfile:2: ONBUILD isn't allowed as an ONBUILD trigger"),
            ("FROM a\nONBUILD from x", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
            ("FROM a\nONBUILD MAINTAINER x", "Dockerfile:2: MAINTAINER isn't allowed"),
            ("FROM a\nONBUILD RUNN x", "Dockerfile:2: unknown instruction \"RUNN\""),
            ("FROM a AS 1bad", "Dockerfile:1: invalid stage name \"1bad\""),
            ("FROM a AS x\nFROM b AS X", "Dockerfile:2: duplicate stage name \"x\" (first used on line 1)"),
            ("FROM a b", "Dockerfile:1: FROM takes an image and optionally AS <name>: \"FROM a b\""),
            ("FROM", "Dockerfile:1: FROM takes an image"),
            ("# escape=x\nFROM a", "Dockerfile:1: bad parser directive \"# escape=x\": the escape character must be"),
            ("# escape=`\n# escape=`\nFROM a", "Dockerfile:2: bad parser directive \"# escape=`\": a directive may be given only once"),
            ("FROM a\nRUN <<EOF\nnever ends", "Dockerfile:2: heredoc <<EOF is not terminated"),
            ("FROM a\nHEALTHCHECK --interval=5 CMD x", "Dockerfile:2: flag --interval of HEALTHCHECK has a bad value \"5\""),
            ("FROM a\nHEALTHCHECK --timeout=1ns CMD x", "Dockerfile:2: flag --timeout of HEALTHCHECK has a bad value \"1ns\": must be at least 1ms"),
            ("FROM a\nHEALTHCHECK --retries=-1 CMD x", "Dockerfile:2: flag --retries of HEALTHCHECK has a bad value \"-1\""),
            ("FROM a\nHEALTHCHECK WHAT x", "Dockerfile:2: HEALTHCHECK has an unknown type (use NONE or CMD)"),
            ("FROM a\nHEALTHCHECK NONE extra", "Dockerfile:2: HEALTHCHECK NONE takes no arguments or flags"),
            ("FROM a\nHEALTHCHECK CMD", "Dockerfile:2: HEALTHCHECK CMD requires a command"),
        ];
        for (text, want) in cases {
            let err = parse_str(text).unwrap_err().to_string();
            assert!(
                err.starts_with(want),
                "{text:?}\n  got:  {err}\n  want: {want}"
            );
        }
        let err = parse(Path::new("ci/app.Dockerfile"), "FROM a\n\nRUNN x").unwrap_err();
        assert_eq!(
            (err.line(), err.path()),
            (3, Path::new("ci/app.Dockerfile"))
        );
        assert!(err.to_string().starts_with("ci/app.Dockerfile:3: "));
    }

    #[test]
    fn healthcheck_config() {
        let check = Healthcheck::Check {
            test: Shell("curl -f localhost".into()),
            interval: Some(Duration::from_secs(30)),
            timeout: Some(Duration::ZERO),
            start_period: None,
            start_interval: None,
            retries: Some(3),
        };
        let want = serde_json::json!({"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 30_000_000_000u64, "Retries": 3});
        assert_eq!(check.to_config(), want);
        assert_eq!(
            Healthcheck::Disabled.to_config(),
            serde_json::json!({"Test": ["NONE"]})
        );
    }
}

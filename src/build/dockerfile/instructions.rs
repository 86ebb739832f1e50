//! Layer 2 of the parser: one logical line → one instruction, with the rules of BuildKit's
//! `instructions/parse.go`: which flags each instruction accepts, how many arguments it
//! takes, and which forms (JSON, shell, `k=v`) it understands.

use std::time::Duration;

use super::lines::heredoc_marker;
use super::words::{command_form, exec_form, raw_words, split_command, word_list};
use super::words::{Bool, FlagKind, Flags, Repeated, Text};
use super::{
    ArgDecl, CopySpec, ErrorKind, Healthcheck, Heredoc, InstructionKind, MountFlag, RunSpec,
};

const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

pub(super) enum Parsed {
    From {
        base: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Other(InstructionKind),
}

/// Layer 2: one logical line → one instruction (or a stage start).
pub(super) fn parse_instruction(
    text: &str,
    mut heredocs: Vec<Heredoc>,
    escape: char,
    line: usize,
) -> Result<Parsed, ErrorKind> {
    let (command, flag_words, args) = split_command(text);
    let upper = command.to_ascii_uppercase();
    let Some(&name) = INSTRUCTIONS.iter().find(|n| **n == upper) else {
        return Err(ErrorKind::UnknownInstruction {
            name: command.to_string(),
            suggestion: suggest(&upper),
        });
    };
    let flags = |accepted: &[(&'static str, FlagKind)]| Flags::parse(name, &flag_words, accepted);
    let bad = |problem: &str| ErrorKind::Arguments {
        instruction: name,
        problem: problem.to_string(),
        text: text.to_string(),
    };
    let one_value = |args: &str| match args.is_empty() {
        true => Err(bad("requires exactly one argument")),
        false => Ok(args.to_string()),
    };
    let kind = match name {
        "FROM" => {
            let platform = flags(&[("platform", Text)])?.text("platform");
            let words: Vec<&str> = args.split_whitespace().collect();
            let stage = match words.as_slice() {
                [_] => None,
                [_, as_word, stage] if as_word.eq_ignore_ascii_case("as") => {
                    Some(stage_name(stage)?)
                }
                _ => return Err(bad("takes an image and optionally AS <name>")),
            };
            return Ok(Parsed::From {
                base: words[0].to_string(),
                name: stage,
                platform,
            });
        }
        "ARG" => {
            flags(&[])?;
            let words = raw_words(args, escape);
            if words.is_empty() {
                return Err(bad("requires at least one argument"));
            }
            let decls = words.into_iter().map(|w| {
                let (name, default) = match w.split_once('=') {
                    Some((n, d)) => (n.to_string(), Some(d.to_string())),
                    None => (w, None),
                };
                match name.is_empty() {
                    true => Err(bad("names can not be blank")),
                    false => Ok(ArgDecl {
                        name,
                        default,
                        line,
                    }),
                }
            });
            InstructionKind::Arg(decls.collect::<Result<_, _>>()?)
        }
        "ENV" | "LABEL" => {
            flags(&[])?;
            let pairs = key_values(args, escape).map_err(|p| bad(&p))?;
            match name {
                "ENV" => InstructionKind::Env(pairs),
                _ => InstructionKind::Label(pairs),
            }
        }
        "COPY" | "ADD" => {
            let copy_flags: &[(&'static str, FlagKind)] = match name {
                "COPY" => &[
                    ("from", Text),
                    ("chown", Text),
                    ("chmod", Text),
                    ("link", Bool),
                    ("parents", Bool),
                    ("exclude", Repeated),
                ],
                _ => &[
                    ("chown", Text),
                    ("chmod", Text),
                    ("link", Bool),
                    ("exclude", Repeated),
                    ("checksum", Text),
                    ("keep-git-dir", Bool),
                ],
            };
            let f = flags(copy_flags)?;
            let (mut words, json) = word_list(name, args)?;
            if words.len() < 2 {
                return Err(bad("requires at least one source and a destination"));
            }
            let dest = words.pop().unwrap_or_default();
            if !json && heredoc_marker(&dest, text)?.is_some() {
                return Err(bad("cannot take a heredoc as its destination"));
            }
            let mut spec = CopySpec {
                dest,
                from: f.text("from"),
                chown: f.text("chown"),
                chmod: f.text("chmod"),
                link: f.bool("link"),
                parents: f.bool("parents"),
                exclude: f.all("exclude"),
                checksum: f.text("checksum"),
                keep_git_dir: f.bool("keep-git-dir"),
                ..CopySpec::default()
            };
            for word in words {
                let marker = if json {
                    None
                } else {
                    heredoc_marker(&word, text)?
                };
                match marker {
                    Some(marker) => {
                        let read = heredocs.iter().position(|d| d.name == marker.name);
                        spec.heredocs
                            .push(read.map_or(marker, |at| heredocs.remove(at)));
                    }
                    None => spec.sources.push(word),
                }
            }
            match name {
                "COPY" => InstructionKind::Copy(spec),
                _ => InstructionKind::Add(spec),
            }
        }
        "RUN" => {
            let f = flags(&[("mount", Repeated), ("network", Text), ("security", Text)])?;
            if args.is_empty() {
                return Err(bad("requires a command to run"));
            }
            InstructionKind::Run(RunSpec {
                command: command_form(name, args)?,
                mounts: f
                    .all("mount")
                    .iter()
                    .map(|m| MountFlag::parse(m))
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(&e))?,
                network: f.text("network"),
                security: f.text("security"),
                heredocs,
            })
        }
        "CMD" | "ENTRYPOINT" => {
            flags(&[])?;
            let form = command_form(name, args)?;
            match name {
                "CMD" => InstructionKind::Cmd(form),
                _ => InstructionKind::Entrypoint(form),
            }
        }
        "SHELL" => {
            flags(&[])?;
            match exec_form(name, args)? {
                Some(shell) if !shell.is_empty() => InstructionKind::Shell(shell),
                _ => {
                    return Err(bad(
                        "requires a JSON array, e.g. SHELL [\"/bin/sh\", \"-c\"]",
                    ))
                }
            }
        }
        "EXPOSE" | "VOLUME" => {
            flags(&[])?;
            // EXPOSE has no JSON form; its words are split again after expansion.
            let items = match name {
                "EXPOSE" => args.split_whitespace().map(String::from).collect(),
                _ => word_list(name, args)?.0,
            };
            if items.is_empty() {
                return Err(bad("requires at least one argument"));
            }
            if items.iter().any(|v| v.trim().is_empty()) {
                return Err(bad("cannot take an empty string"));
            }
            match name {
                "EXPOSE" => InstructionKind::Expose(items),
                _ => InstructionKind::Volume(items),
            }
        }
        "HEALTHCHECK" => InstructionKind::Healthcheck(healthcheck(
            args,
            flags(&[
                ("interval", Text),
                ("timeout", Text),
                ("start-period", Text),
                ("start-interval", Text),
                ("retries", Text),
            ])?,
            &bad,
        )?),
        "ONBUILD" => {
            flags(&[])?;
            let trigger = args
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            match trigger.as_str() {
                "" => return Err(bad("requires an instruction to run later")),
                "ONBUILD" | "FROM" | "MAINTAINER" => {
                    return Err(ErrorKind::OnbuildTrigger { trigger })
                }
                _ => {}
            }
            parse_instruction(args, Vec::new(), escape, line)?;
            InstructionKind::Onbuild(args.to_string())
        }
        "WORKDIR" | "USER" | "STOPSIGNAL" | "MAINTAINER" => {
            flags(&[])?;
            let value = one_value(args)?;
            match name {
                "WORKDIR" => InstructionKind::Workdir(value),
                "USER" => InstructionKind::User(value),
                "STOPSIGNAL" => InstructionKind::StopSignal(value),
                _ => InstructionKind::Maintainer(value),
            }
        }
        _ => unreachable!("every INSTRUCTIONS entry has an arm"),
    };
    Ok(Parsed::Other(kind))
}

/// `ENV`/`LABEL`: `k=v …`, or the legacy `k v` where the value is the rest of the line.
fn key_values(args: &str, escape: char) -> Result<Vec<(String, String)>, String> {
    let words = raw_words(args, escape);
    let Some(first) = words.first() else {
        return Err("requires at least one argument".into());
    };
    if !first.contains('=') {
        return match args.split_once(char::is_whitespace) {
            Some((key, value)) => Ok(vec![(key.to_string(), value.trim_start().to_string())]),
            None => Err(format!(
                "needs a value for \"{first}\" (name=value or name value)"
            )),
        };
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err("names can not be blank".to_string()),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("can't find = in \"{w}\"; it must be name=value")),
        })
        .collect()
}

fn stage_name(word: &str) -> Result<String, ErrorKind> {
    let name = word.to_ascii_lowercase();
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    match valid {
        true => Ok(name),
        false => Err(ErrorKind::StageName {
            name: word.to_string(),
        }),
    }
}

fn healthcheck(
    args: &str,
    flags: Flags,
    bad: &dyn Fn(&str) -> ErrorKind,
) -> Result<Healthcheck, ErrorKind> {
    let (kind, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let rest = rest.trim_start();
    match kind.to_ascii_uppercase().as_str() {
        "" => Err(bad("requires NONE or CMD <command>")),
        "NONE" if rest.is_empty() && flags.is_empty() => Ok(Healthcheck::Disabled),
        "NONE" => Err(bad("NONE takes no arguments or flags")),
        "CMD" if rest.is_empty() => Err(bad("CMD requires a command")),
        "CMD" => {
            let duration = |flag: &'static str| -> Result<Option<Duration>, ErrorKind> {
                let Some(value) = flags.text(flag) else {
                    return Ok(None);
                };
                let invalid = |reason| ErrorKind::BadFlagValue {
                    instruction: "HEALTHCHECK",
                    flag: flag.to_string(),
                    value: value.clone(),
                    reason,
                };
                let d = go_duration(&value)
                    .ok_or_else(|| invalid("expected a duration like 30s or 1m30s"))?;
                if !d.is_zero() && d < Duration::from_millis(1) {
                    return Err(invalid("must be at least 1ms"));
                }
                Ok(Some(d))
            };
            let retries = match flags.text("retries") {
                None => None,
                Some(v) => Some(v.parse::<u32>().map_err(|_| ErrorKind::BadFlagValue {
                    instruction: "HEALTHCHECK",
                    flag: "retries".into(),
                    value: v.clone(),
                    reason: "expected a whole number, 0 or more",
                })?),
            };
            Ok(Healthcheck::Check {
                test: command_form("HEALTHCHECK", rest)?,
                interval: duration("interval")?,
                timeout: duration("timeout")?,
                start_period: duration("start-period")?,
                start_interval: duration("start-interval")?,
                retries,
            })
        }
        _ => Err(bad("has an unknown type (use NONE or CMD)")),
    }
}

/// Go's `time.ParseDuration` for non-negative values: `300ms`, `1.5h`, `2m30s`, `0`.
fn go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut nanos = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += value * scale;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_nanos(nanos.round() as u64))
}

/// The closest instruction name, if the typo is small (at most two edits).
fn suggest(word: &str) -> Option<&'static str> {
    crate::suggest::closest(word, INSTRUCTIONS.iter().copied(), |d, _| {
        d <= 2 && d < word.len()
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{kinds, mounts, pairs, run, strings};
    use super::super::*;
    use super::go_duration;
    use CommandForm::{Exec, Shell};
    use InstructionKind as K;

    #[test]
    fn instruction_forms() {
        let secs = |s| Some(Duration::from_secs(s));
        let cases: Vec<(&str, InstructionKind)> = vec![
            ("ARG A", K::Arg(vec![ArgDecl { name: "A".into(), default: None, line: 2 }])),
            (
                "ARG A=1 B=\"x y\"",
                K::Arg(vec![
                    ArgDecl { name: "A".into(), default: Some("1".into()), line: 2 },
                    ArgDecl { name: "B".into(), default: Some("\"x y\"".into()), line: 2 },
                ]),
            ),
            ("ENV A=1 B=\"two words\" C=a\\ b", K::Env(pairs(&[("A", "1"), ("B", "\"two words\""), ("C", "a\\ b")]))),
            ("ENV LEGACY  some value", K::Env(pairs(&[("LEGACY", "some value")]))),
            ("env PATH=$PATH:/opt/bin", K::Env(pairs(&[("PATH", "$PATH:/opt/bin")]))),
            ("LABEL a.b=c \"k k\"='v v'", K::Label(pairs(&[("a.b", "c"), ("\"k k\"", "'v v'")]))),
            ("WORKDIR /app/$NAME", K::Workdir("/app/$NAME".into())),
            ("USER app:app", K::User("app:app".into())),
            ("EXPOSE 80 443/udp $PORTS", K::Expose(strings(&["80", "443/udp", "$PORTS"]))),
            ("VOLUME [\"/data\", \"/logs\"]", K::Volume(strings(&["/data", "/logs"]))),
            ("VOLUME /a /b", K::Volume(strings(&["/a", "/b"]))),
            ("ENTRYPOINT [\"/bin/app\", \"-v\"]", K::Entrypoint(Exec(strings(&["/bin/app", "-v"])))),
            ("ENTRYPOINT", K::Entrypoint(Exec(vec![]))),
            ("CMD echo $HOME", K::Cmd(Shell("echo $HOME".into()))),
            ("CMD []", K::Cmd(Exec(vec![]))),
            ("CMD [\"broken\"", K::Cmd(Shell("[\"broken\"".into()))),
            ("CMD [\"C:\\dir\"]", K::Cmd(Shell("[\"C:\\dir\"]".into()))),
            ("CMD [\"ok\"] trailing", K::Cmd(Shell("[\"ok\"] trailing".into()))),
            ("run echo hi", K::Run(run(Shell("echo hi".into())))),
            ("RUN [\"sh\", \"-c\", \"x\"]", K::Run(run(Exec(strings(&["sh", "-c", "x"]))))),
            (
                "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=t --network=none --security=insecure pip install x",
                K::Run(RunSpec {
                    mounts: mounts(&["type=cache,target=/root/.cache", "type=secret,id=t"]),
                    network: Some("none".into()),
                    security: Some("insecure".into()),
                    ..run(Shell("pip install x".into()))
                }),
            ),
            ("RUN --mount=\"type=bind,source=a b\" ls", K::Run(RunSpec { mounts: mounts(&["type=bind,source=a b"]), ..run(Shell("ls".into())) })),
            ("RUN -- --version", K::Run(run(Shell("--version".into())))),
            ("SHELL [\"powershell\", \"-Command\"]", K::Shell(strings(&["powershell", "-Command"]))),
            ("HEALTHCHECK NONE", K::Healthcheck(Healthcheck::Disabled)),
            (
                "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=3 CMD curl -f http://localhost/",
                K::Healthcheck(Healthcheck::Check {
                    test: Shell("curl -f http://localhost/".into()),
                    interval: secs(30),
                    timeout: secs(90),
                    start_period: Some(Duration::from_millis(500)),
                    start_interval: secs(2),
                    retries: Some(3),
                }),
            ),
            (
                "healthcheck cmd [\"/bin/check\", \"--fast\"]",
                K::Healthcheck(Healthcheck::Check {
                    test: Exec(strings(&["/bin/check", "--fast"])),
                    interval: None,
                    timeout: None,
                    start_period: None,
                    start_interval: None,
                    retries: None,
                }),
            ),
            ("STOPSIGNAL SIGTERM", K::StopSignal("SIGTERM".into())),
            ("ONBUILD RUN make install", K::Onbuild("RUN make install".into())),
            ("onbuild copy . /src", K::Onbuild("copy . /src".into())),
            ("MAINTAINER Jane <jane@example.com>", K::Maintainer("Jane <jane@example.com>".into())),
            (
                "COPY --from=build --chown=1000:1000 --chmod=755 --link --parents --exclude=*.md --exclude=tmp a b /dst/",
                K::Copy(CopySpec {
                    sources: strings(&["a", "b"]),
                    dest: "/dst/".into(),
                    from: Some("build".into()),
                    chown: Some("1000:1000".into()),
                    chmod: Some("755".into()),
                    link: true,
                    parents: true,
                    exclude: strings(&["*.md", "tmp"]),
                    ..CopySpec::default()
                }),
            ),
            ("COPY --link=false a b", K::Copy(CopySpec { sources: strings(&["a"]), dest: "b".into(), ..CopySpec::default() })),
            ("COPY [\"a b\", \"c\", \"/d e/\"]", K::Copy(CopySpec { sources: strings(&["a b", "c"]), dest: "/d e/".into(), ..CopySpec::default() })),
            (
                "ADD --checksum=sha256:abc --keep-git-dir https://example.com/x.tgz /opt/",
                K::Add(CopySpec {
                    sources: strings(&["https://example.com/x.tgz"]),
                    dest: "/opt/".into(),
                    checksum: Some("sha256:abc".into()),
                    keep_git_dir: true,
                    ..CopySpec::default()
                }),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(kinds(body), vec![want.clone()], "{body:?}");
            assert_eq!(kinds(body)[0].name(), want.name());
        }
    }

    #[test]
    fn go_durations() {
        let durations = [
            ("0", Some(0)),
            ("1.5h", Some(5_400_000_000_000)),
            ("2m30s", Some(150_000_000_000)),
            ("300ms", Some(300_000_000)),
            ("10us", Some(10_000)),
            ("5", None),
            ("-1s", None),
            ("1d", None),
            ("", None),
        ];
        for (text, want) in durations {
            assert_eq!(
                go_duration(text).map(|d| d.as_nanos() as u64),
                want,
                "{text:?}"
            );
        }
    }
}

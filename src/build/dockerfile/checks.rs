//! Values the Dockerfile spells out, checked at parse time so a typo fails before any
//! build: `EXPOSE` ports, `COPY --chmod` modes, `FROM --platform`, and which stage a
//! `COPY --from` names. A value holding `$` is only known during the build; the builder
//! checks it with the same functions once expanded.

use super::{Dockerfile, ErrorKind, InstructionKind};
use crate::oci::Platform;

/// A longer logical line is not an instruction anyone wrote by hand; its bytes belong in a
/// file the build copies.
pub const MAX_LINE: usize = 64 * 1024;

/// Every literal value in `dockerfile`, as (line, problem) of the first bad one.
pub(super) fn literals(dockerfile: &Dockerfile) -> Result<(), (usize, ErrorKind)> {
    for stage in &dockerfile.stages {
        if let Some(platform) = stage.platform.as_deref().filter(|p| literal(p)) {
            platform_flag(platform).map_err(|problem| {
                let kind = value_error("FROM", format!("--platform={platform}: {problem}"));
                (stage.line, kind)
            })?;
        }
        for instruction in &stage.instructions {
            let fail = |name, problem| (instruction.line, value_error(name, problem));
            match &instruction.kind {
                InstructionKind::Expose(words) => {
                    for word in words.iter().filter(|w| literal(w)) {
                        port(word).map_err(|p| fail("EXPOSE", p))?;
                    }
                }
                InstructionKind::Copy(spec) | InstructionKind::Add(spec) => {
                    let name = instruction.kind.name();
                    if let Some(mode) = spec.chmod.as_deref().filter(|m| literal(m)) {
                        chmod(mode).map_err(|p| fail(name, p))?;
                    }
                    let later = spec
                        .from
                        .as_deref()
                        .filter(|f| literal(f))
                        .and_then(|f| dockerfile.stage_by_name_or_index(f))
                        .filter(|source| source.index >= stage.index);
                    if let Some(source) = later {
                        let problem =
                            format!(
                            "--from={} names stage {} (line {}), which is not an earlier stage: \
                             a stage can only copy from stages before it, so this would loop",
                            spec.from.as_deref().unwrap_or_default(),
                            source.name.clone().unwrap_or_else(|| source.index.to_string()),
                            source.line
                        );
                        return Err(fail(name, problem));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn literal(word: &str) -> bool {
    !word.contains('$')
}

fn value_error(instruction: &'static str, problem: String) -> ErrorKind {
    ErrorKind::Value {
        instruction,
        problem,
    }
}

/// `FROM --platform=`: a platform this tool builds.
pub fn platform_flag(value: &str) -> Result<(), String> {
    Platform::parse_buildable(value).map(|_| ())
}

/// An `EXPOSE` item as Docker takes it: `PORT` or `START-END`, optionally `/tcp`, `/udp`
/// or `/sctp`, ports 1–65535.
pub fn port(item: &str) -> Result<(), String> {
    let (ports, protocol) = item.split_once('/').unwrap_or((item, "tcp"));
    if !matches!(
        protocol.to_ascii_lowercase().as_str(),
        "tcp" | "udp" | "sctp"
    ) {
        return Err(format!(
            "`{item}`: `{protocol}` is not a protocol (tcp, udp or sctp)"
        ));
    }
    let number = |p: &str| match p.parse::<u32>() {
        Ok(n @ 1..=65535) if p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!(
            "`{item}` is not a port (N, N/tcp, N/udp, N/sctp or a range N-M; 1-65535)"
        )),
    };
    match ports.split_once('-') {
        Some((start, end)) if number(start)? > number(end)? => {
            Err(format!("`{item}`: the range ends before it starts"))
        }
        Some(_) => Ok(()),
        None => number(ports).map(|_| ()),
    }
}

/// A `--chmod` mode: octal, at most `7777` (permissions plus setuid, setgid, sticky).
pub fn chmod(mode: &str) -> Result<u32, String> {
    match u32::from_str_radix(mode, 8) {
        Ok(m) if m <= 0o7777 && !mode.starts_with('+') => Ok(m),
        _ => Err(format!(
            "--chmod={mode} is not an octal mode from 0 to 7777"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_docker() {
        for ok in ["80", "443/udp", "5000-5010", "9/SCTP", "65535/tcp"] {
            assert!(port(ok).is_ok(), "{ok}");
        }
        for bad in [
            "abc", "0", "65536", "80/icmp", "10-5", "-1", "80-", "+80", "8 0",
        ] {
            assert!(port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_are_octal_up_to_7777() {
        assert_eq!(chmod("0755"), Ok(0o755));
        assert_eq!(chmod("7777"), Ok(0o7777));
        for bad in ["77777777", "10000", "8", "u+x", "+755", ""] {
            assert!(chmod(bad).is_err(), "{bad}");
        }
    }
}

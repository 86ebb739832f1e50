//! Layer 1 of the parser: physical lines → logical instructions.
//!
//! Handles the BOM, parser directives (only in the leading comment block), comments, blank
//! lines, line continuations with the escape character (skipping comment and blank lines
//! inside them, as BuildKit does), and heredoc bodies, which are read raw after the
//! instruction line that names them.

use super::words::{json_array, split_command};
use super::{ErrorKind, Heredoc};
use crate::build::expand::{self, Mode};

/// An instruction's joined text with the heredoc bodies that followed it.
pub(super) struct Logical {
    pub line: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

/// Layer 1: directives, comments, continuations and heredoc bodies.
pub(super) fn logical_lines(text: &str) -> Result<(char, Vec<Logical>), (usize, ErrorKind)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut directives_open = true;
    let mut seen_directives: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i + 1;
        let first = lines[i].trim_start();
        i += 1;
        if directives_open {
            match directive(first) {
                Some((key, value)) => {
                    let bad = |problem| {
                        let text = first.to_string();
                        (start, ErrorKind::Directive { text, problem })
                    };
                    if seen_directives.contains(&key) {
                        return Err(bad("a directive may be given only once"));
                    }
                    if key == "escape" {
                        escape = match value.as_str() {
                            "\\" => '\\',
                            "`" => '`',
                            _ => return Err(bad("the escape character must be \\ or `")),
                        };
                    }
                    seen_directives.push(key);
                    continue;
                }
                None => directives_open = false,
            }
        }
        if first.starts_with('#') || first.is_empty() {
            continue;
        }
        let (part, mut done) = split_continuation(first, escape);
        let mut joined = part.to_string();
        while !done && i < lines.len() {
            let next = lines[i];
            i += 1;
            // BuildKit skips comment and blank lines inside a continuation.
            if next.trim_start().starts_with('#') || next.trim().is_empty() {
                continue;
            }
            let (part, end) = split_continuation(next, escape);
            joined.push_str(part);
            done = end;
        }
        let mut heredocs = Vec::new();
        if can_hold_heredocs(&joined) {
            let markers = heredoc_markers(&joined).map_err(|kind| (start, kind))?;
            for mut doc in markers {
                let mut terminated = false;
                while i < lines.len() {
                    let body = lines[i];
                    i += 1;
                    let candidate = match doc.strip_tabs {
                        true => body.trim_start_matches('\t'),
                        false => body,
                    };
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(candidate);
                    doc.content.push('\n');
                }
                if !terminated {
                    return Err((start, ErrorKind::UnterminatedHeredoc { name: doc.name }));
                }
                heredocs.push(doc);
            }
        }
        out.push(Logical {
            line: start,
            text: joined.trim().to_string(),
            heredocs,
        });
    }
    Ok((escape, out))
}

/// `# key = value` with a key BuildKit knows (`escape`, `syntax`, `check`); anything else ends
/// the directive block.
fn directive(line: &str) -> Option<(String, String)> {
    let body = line.strip_prefix('#')?;
    let (key, value) = body.split_once('=')?;
    let key = key.trim().to_ascii_lowercase();
    let value = value.trim();
    let known = matches!(key.as_str(), "escape" | "syntax" | "check");
    (known && !value.is_empty()).then(|| (key, value.to_string()))
}

/// Removes a trailing escape character (and the blanks after it); `true` means the
/// instruction ends on this line.
fn split_continuation(line: &str, escape: char) -> (&str, bool) {
    match line.trim_end_matches([' ', '\t']).strip_suffix(escape) {
        Some(kept) => (kept, false),
        None => (line, true),
    }
}

fn can_hold_heredocs(line: &str) -> bool {
    let (command, _, args) = split_command(line);
    let kind = command.to_ascii_uppercase();
    matches!(kind.as_str(), "RUN" | "COPY" | "ADD")
        && line.contains("<<")
        && json_array(args).is_none()
}

/// The heredoc markers among the words of an instruction line, in order.
fn heredoc_markers(line: &str) -> Result<Vec<Heredoc>, ErrorKind> {
    let raw = Mode {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: false,
    };
    // Like BuildKit, a line the lexer cannot read simply has no heredocs.
    let words = expand::lex_words(line, '\\', raw, &|_| None).unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(doc) = heredoc_marker(&word, line)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// Recognises `[fd]<<[-]delimiter`; the delimiter is unquoted, and quoting any part of it
/// turns expansion off.
pub(super) fn heredoc_marker(word: &str, line: &str) -> Result<Option<Heredoc>, ErrorKind> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let lex = |raw_quotes| {
        let mode = Mode {
            raw_quotes,
            raw_escapes: false,
            skip_unset: true,
        };
        expand::lex_words(rest, '\\', mode, &|_| None).map_err(|e| ErrorKind::Arguments {
            instruction: "heredoc",
            problem: format!("marker cannot be read ({e})"),
            text: line.to_string(),
        })
    };
    let (plain, quoted) = (lex(false)?, lex(true)?);
    let ([name], [raw]) = (plain.as_slice(), quoted.as_slice()) else {
        return Ok(None);
    };
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    Ok(Some(Heredoc {
        name: name.clone(),
        content: String::new(),
        expand: quotes(name) == quotes(raw),
        strip_tabs,
        fd: word[..digits].parse().ok(),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{doc, kinds, parse_str, run, strings};
    use super::super::*;
    use CommandForm::Shell;
    use InstructionKind as K;

    #[test]
    fn heredocs() {
        let cases: Vec<(&str, InstructionKind)> = vec![
            (
                "RUN <<EOF\necho $HOME\n# not a comment\n\nline \\\nEOF",
                K::Run(RunSpec {
                    heredocs: vec![doc(
                        "EOF",
                        "echo $HOME\n# not a comment\n\nline \\\n",
                        true,
                        false,
                    )],
                    ..run(Shell("<<EOF".into()))
                }),
            ),
            (
                "RUN <<-EOT\n\t\techo hi\n\tEOT",
                K::Run(RunSpec {
                    heredocs: vec![doc("EOT", "echo hi\n", true, true)],
                    ..run(Shell("<<-EOT".into()))
                }),
            ),
            (
                "RUN <<'EOF'\n$KEEP\nEOF",
                K::Run(RunSpec {
                    heredocs: vec![doc("EOF", "$KEEP\n", false, false)],
                    ..run(Shell("<<'EOF'".into()))
                }),
            ),
            (
                "RUN <<\"EOF\"\nx\nEOF",
                K::Run(RunSpec {
                    heredocs: vec![doc("EOF", "x\n", false, false)],
                    ..run(Shell("<<\"EOF\"".into()))
                }),
            ),
            (
                "RUN cat <<A - <<B > out\na\nA\nb\nB",
                K::Run(RunSpec {
                    heredocs: vec![doc("A", "a\n", true, false), doc("B", "b\n", true, false)],
                    ..run(Shell("cat <<A - <<B > out".into()))
                }),
            ),
            (
                "RUN 3<<FD cat /dev/fd/3\nthree\nFD",
                K::Run(RunSpec {
                    heredocs: vec![Heredoc {
                        fd: Some(3),
                        ..doc("FD", "three\n", true, false)
                    }],
                    ..run(Shell("3<<FD cat /dev/fd/3".into()))
                }),
            ),
            (
                "COPY <<EOF /etc/app.conf\nkey=$V\nEOF",
                K::Copy(CopySpec {
                    dest: "/etc/app.conf".into(),
                    heredocs: vec![doc("EOF", "key=$V\n", true, false)],
                    ..CopySpec::default()
                }),
            ),
            (
                "COPY --chmod=600 <<one.txt src <<two.txt /dst/\n1\none.txt\n2\ntwo.txt",
                K::Copy(CopySpec {
                    sources: strings(&["src"]),
                    dest: "/dst/".into(),
                    chmod: Some("600".into()),
                    heredocs: vec![
                        doc("one.txt", "1\n", true, false),
                        doc("two.txt", "2\n", true, false),
                    ],
                    ..CopySpec::default()
                }),
            ),
            (
                "RUN echo \"<<EOF\" <<<here",
                K::Run(run(Shell("echo \"<<EOF\" <<<here".into()))),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(kinds(body), vec![want], "{body:?}");
        }
        // Exec form never reads heredocs: the next line is an instruction again.
        assert_eq!(kinds("RUN [\"echo\", \"<<EOF\"]\nUSER x").len(), 2);
    }

    #[test]
    fn continuations_comments_and_directives() {
        let text = "\u{feff}# syntax=docker/dockerfile:1\n\
                    # ESCAPE = `\n\
                    \n\
                    # escape=\\\n\
                    FROM mcr.microsoft.com/windows/servercore AS Win\r\n\
                    COPY testfile.txt c:\\\n\
                    RUN dir c:\\ `\n\
                    # comment inside\n\
                    \n\
                    \x20   && echo done\n\
                    \x20 # indented comment between instructions\n\
                    WORKDIR c:\\app\n";
        let df = parse_str(text).unwrap();
        assert_eq!(df.escape, '`');
        let stage = &df.stages[0];
        assert_eq!((stage.name.as_deref(), stage.line), (Some("win"), 5));
        let lines: Vec<usize> = stage.instructions.iter().map(|i| i.line).collect();
        assert_eq!(lines, [6, 7, 12]);
        assert_eq!(
            stage.instructions[0].kind,
            K::Copy(CopySpec {
                sources: strings(&["testfile.txt"]),
                dest: "c:\\".into(),
                ..CopySpec::default()
            })
        );
        assert_eq!(
            stage.instructions[1].kind,
            K::Run(run(Shell("dir c:\\     && echo done".into())))
        );
        assert_eq!(stage.instructions[1].text, "RUN dir c:\\     && echo done");
        assert_eq!(stage.instructions[2].kind, K::Workdir("c:\\app".into()));

        let text = "FROM a\n# escape=`\nRUN apk add \\\n# inside\n    curl \\\n  # indented\n    git\n\nRUN echo done";
        let df = parse_str(text).unwrap();
        assert_eq!(
            df.escape, '\\',
            "a directive after an instruction is a comment"
        );
        let got: Vec<(usize, InstructionKind)> = df.stages[0]
            .instructions
            .iter()
            .map(|i| (i.line, i.kind.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, K::Run(run(Shell("apk add     curl     git".into())))),
                (9, K::Run(run(Shell("echo done".into()))))
            ]
        );
    }
}

//! Argument syntax shared by the instructions: leading `--flags`, JSON (exec) form versus
//! shell form, whitespace lists, and BuildKit's raw word splitting for `ARG`/`ENV`/`LABEL`
//! (quotes and escapes kept for the builder's expansion).

use super::{CommandForm, ErrorKind};

/// The instruction word, its leading `--flags` (quotes removed), and the rest.
pub(super) fn split_command(line: &str) -> (&str, Vec<String>, &str) {
    let line = line.trim();
    let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let mut flags = Vec::new();
    let mut rest = rest.trim_start();
    while rest.starts_with("--") {
        let (word, after) = flag_word(rest);
        rest = after.trim_start();
        if word == "--" {
            break;
        }
        flags.push(word);
    }
    (command, flags, rest.trim())
}

/// One flag word up to unquoted whitespace; quotes are removed and `\` escapes (BuildKit's
/// `extractBuilderFlags`).
fn flag_word(text: &str) -> (String, &str) {
    let mut word = String::new();
    let mut quote = None;
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => return (word, &text[at..]),
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => word.extend(chars.next().map(|(_, n)| n)),
            (_, c) => word.push(c),
        }
    }
    (word, "")
}

/// The items when `text` is a valid JSON array; anything else (even `[` followed by bad
/// JSON) is not JSON form.
pub(super) fn json_array(text: &str) -> Option<Vec<serde_json::Value>> {
    text.starts_with('[')
        .then(|| serde_json::from_str(text).ok())
        .flatten()
}

/// `Some(strings)` for exec form; an array with a non-string is an error, bad JSON is `None`.
pub(super) fn exec_form(
    instruction: &'static str,
    text: &str,
) -> Result<Option<Vec<String>>, ErrorKind> {
    let Some(items) = json_array(text) else {
        return Ok(None);
    };
    let not_strings = || ErrorKind::Arguments {
        instruction,
        problem: "in JSON form takes only strings".into(),
        text: text.to_string(),
    };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(not_strings()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(super) fn command_form(
    instruction: &'static str,
    text: &str,
) -> Result<CommandForm, ErrorKind> {
    Ok(match exec_form(instruction, text)? {
        Some(args) => CommandForm::Exec(args),
        None if text.is_empty() => CommandForm::Exec(Vec::new()),
        None => CommandForm::Shell(text.to_string()),
    })
}

/// JSON array, or whitespace-separated words (quotes are *not* honoured, as in Docker).
pub(super) fn word_list(
    instruction: &'static str,
    text: &str,
) -> Result<(Vec<String>, bool), ErrorKind> {
    Ok(match exec_form(instruction, text)? {
        Some(items) => (items, true),
        None => (text.split_whitespace().map(String::from).collect(), false),
    })
}

/// Splits on whitespace outside quotes, keeping quotes and escapes in the words (BuildKit's
/// `parseWords`, used for `ARG`, `ENV` and `LABEL`).
pub(super) fn raw_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quote.is_none() && c.is_whitespace() {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            blank_ok = false;
            continue;
        }
        match quote {
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                blank_ok = true;
            }
            Some(q) if c == q => quote = None,
            _ => {}
        }
        // An escape keeps itself and the next character; nothing escapes inside '…'.
        if c == escape && quote != Some('\'') {
            match chars.next() {
                Some(next) => {
                    word.push(c);
                    word.push(next);
                }
                None if quote.is_some() => quote = None,
                None => {}
            }
            continue;
        }
        word.push(c);
    }
    if blank_ok || !word.is_empty() {
        words.push(word);
    }
    words
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum FlagKind {
    Text,
    Bool,
    Repeated,
}
pub(super) use FlagKind::{Bool, Repeated, Text};

/// Flag values by name; booleans are stored as `"true"`/`"false"`.
pub(super) struct Flags(Vec<(&'static str, String)>);

impl Flags {
    pub(super) fn parse(
        instruction: &'static str,
        words: &[String],
        accepted: &[(&'static str, FlagKind)],
    ) -> Result<Flags, ErrorKind> {
        let mut values: Vec<(&'static str, String)> = Vec::new();
        for word in words {
            let body = word.strip_prefix("--").unwrap_or(word);
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(flag, kind)) = accepted.iter().find(|(n, _)| *n == name) else {
                let list: Vec<String> = accepted.iter().map(|(n, _)| format!("--{n}")).collect();
                return Err(ErrorKind::UnknownFlag {
                    instruction,
                    flag: name.to_string(),
                    accepted: if list.is_empty() {
                        "no flags".into()
                    } else {
                        list.join(", ")
                    },
                });
            };
            let flag_name = flag.to_string();
            if kind != Repeated && values.iter().any(|(n, _)| *n == flag) {
                return Err(ErrorKind::DuplicateFlag {
                    instruction,
                    flag: flag_name,
                });
            }
            let value = match (kind, value) {
                (Bool, None) => "true".to_string(),
                (Bool, Some(v)) if v.eq_ignore_ascii_case("true") => "true".into(),
                (Bool, Some(v)) if v.eq_ignore_ascii_case("false") => "false".into(),
                (Bool, Some(v)) => {
                    return Err(ErrorKind::BadFlagValue {
                        instruction,
                        flag: flag_name,
                        value: v.to_string(),
                        reason: "expected true or false",
                    })
                }
                (_, None) => {
                    return Err(ErrorKind::FlagNeedsValue {
                        instruction,
                        flag: flag_name,
                    })
                }
                (_, Some(v)) => v.to_string(),
            };
            values.push((flag, value));
        }
        Ok(Flags(values))
    }

    /// A text flag's value; an empty value counts as absent.
    pub(super) fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    pub(super) fn bool(&self, name: &str) -> bool {
        self.0.iter().any(|(n, v)| *n == name && v == "true")
    }

    pub(super) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_flags_from_arguments() {
        // (line, command, flags, rest)
        let cases: &[(&str, &str, &[&str], &str)] = &[
            ("RUN echo hi", "RUN", &[], "echo hi"),
            (
                "  copy   --from=a  --link x y ",
                "copy",
                &["--from=a", "--link"],
                "x y",
            ),
            (
                "RUN --mount='type=bind,src=a b' ls",
                "RUN",
                &["--mount=type=bind,src=a b"],
                "ls",
            ),
            ("RUN --x=a\\ b c", "RUN", &["--x=a b"], "c"),
            ("RUN -- --not-a-flag", "RUN", &[], "--not-a-flag"),
            ("RUN -x", "RUN", &[], "-x"),
            ("HEALTHCHECK", "HEALTHCHECK", &[], ""),
        ];
        for (line, command, flags, rest) in cases {
            let (c, f, r) = split_command(line);
            assert_eq!(
                (c, f.as_slice(), r),
                (
                    *command,
                    &flags.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..],
                    *rest
                ),
                "{line:?}"
            );
        }
    }

    #[test]
    fn keeps_quotes_and_escapes_in_raw_words() {
        let cases: &[(&str, char, &[&str])] = &[
            ("a=1 b=2", '\\', &["a=1", "b=2"]),
            ("a=\"x y\" b='p q'", '\\', &["a=\"x y\"", "b='p q'"]),
            ("a=x\\ y", '\\', &["a=x\\ y"]),
            ("a='it\\' b", '\\', &["a='it\\'", "b"]),
            ("p=C:\\dir q=`\"", '`', &["p=C:\\dir", "q=`\""]),
            ("\"\"", '\\', &["\"\""]),
            ("   ", '\\', &[]),
        ];
        for (text, escape, want) in cases {
            assert_eq!(raw_words(text, *escape), want.to_vec(), "{text:?}");
        }
    }

    #[test]
    fn tells_exec_form_from_shell_form() {
        let exec = |v: &[&str]| Ok(CommandForm::Exec(v.iter().map(|s| s.to_string()).collect()));
        let cases = [
            ("[\"a\", \"b c\"]", exec(&["a", "b c"])),
            ("[]", exec(&[])),
            ("", exec(&[])),
            (
                "[\"unterminated\"",
                Ok(CommandForm::Shell("[\"unterminated\"".into())),
            ),
            ("echo [x]", Ok(CommandForm::Shell("echo [x]".into()))),
        ];
        for (text, want) in cases {
            assert_eq!(command_form("CMD", text), want, "{text:?}");
        }
        assert!(command_form("CMD", "[\"a\", true]").is_err());
    }
}

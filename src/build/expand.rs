//! Word expansion: how a raw Dockerfile word becomes its value.
//!
//! The parser keeps every argument as written (`"$HOME/app"`, `${VERSION:-dev}`), because a
//! value can only be known at build time: `ENV` and `ARG` change the variables instruction by
//! instruction. The builder calls [`expand`] (one word, e.g. `WORKDIR`, `COPY` paths, `ENV`
//! values) or [`expand_words`] (a list that splits on whitespace, e.g. `EXPOSE $PORTS`) with the
//! stage's variables at that point.
//!
//! The rules are those of BuildKit's `shell.Lex`, a small subset of POSIX sh:
//!
//! - `'…'` is literal; the quotes are removed.
//! - `"…"` removes the quotes and expands `$…` inside; the escape character only escapes `"`,
//!   `$` and itself there, and is kept before anything else (`"C:\dir"` stays `C:\dir`).
//! - Outside quotes the escape character (`\`, or `` ` `` after `# escape=`` ` ``) makes the next
//!   character literal; a trailing escape is dropped.
//! - `$NAME`, `${NAME}`; `${NAME:-word}` (unset or empty → word), `${NAME-word}` (unset → word),
//!   `${NAME:+word}` (set and non-empty → word), `${NAME+word}` (set → word), `${NAME:?msg}`
//!   and `${NAME?msg}` (fail with msg). The `word` is itself expanded, so defaults nest.
//! - An unknown variable is the empty string; a `$` not followed by a name stays `$`.
//! - Word splitting ([`expand_words`]) happens on whitespace that is neither quoted, escaped nor
//!   produced inside quotes; whitespace coming from an unquoted variable does split, as in sh.
//!
//! Not supported (an error names them): the pattern operators `${NAME#pat}`, `${NAME%pat}` and
//! `${NAME/pat/repl}` of newer Dockerfile syntaxes.

/// Where a variable's value comes from: `None` means unset, which differs from empty for `-`,
/// `+` and `?` without a colon.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Why a word could not be expanded. Each variant quotes the whole word; the caller adds the
/// Dockerfile and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("unterminated {quote} quote in \"{word}\"")]
    UnclosedQuote { word: String, quote: &'static str },
    #[error("missing '}}' in \"{word}\"")]
    MissingBrace { word: String },
    #[error("bad substitution in \"{word}\" (a name must follow \"${{\")")]
    BadSubstitution { word: String },
    #[error("unsupported modifier '{modifier}' in \"{word}\" (supported: :- - :+ + :? ?)")]
    UnsupportedModifier { word: String, modifier: char },
    #[error("{name}: {message} (in \"{word}\")")]
    Required {
        word: String,
        name: String,
        message: String,
    },
}

/// Expands one word: quotes removed, escapes resolved, variables substituted. Whitespace is
/// kept as is (`ENV A="x y"` gives `x y`).
pub fn expand(word: &str, escape: char, lookup: Lookup<'_>) -> Result<String, ExpandError> {
    Lexer::new(word, escape, Mode::default(), lookup)
        .run()
        .map(|(joined, _)| joined)
}

/// Expands a word into a list, splitting on unquoted whitespace (`EXPOSE 80 "$PORTS"`).
pub fn expand_words(
    word: &str,
    escape: char,
    lookup: Lookup<'_>,
) -> Result<Vec<String>, ExpandError> {
    lex_words(word, escape, Mode::default(), lookup)
}

/// Lexer switches the parser needs to find heredoc markers (`<<"EOF"`) the way BuildKit does:
/// keep quotes and escapes in the output, and leave unset variables as written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mode {
    pub raw_quotes: bool,
    pub raw_escapes: bool,
    pub skip_unset: bool,
}

/// [`expand_words`] with the lexer switches exposed, for the Dockerfile parser.
pub(crate) fn lex_words(
    word: &str,
    escape: char,
    mode: Mode,
    lookup: Lookup<'_>,
) -> Result<Vec<String>, ExpandError> {
    Lexer::new(word, escape, mode, lookup)
        .run()
        .map(|(_, words)| words)
}

/// Words being accumulated; mirrors BuildKit's `wordsStruct`, including its quirk that an
/// empty quoted word (`""`) yields no word at all.
#[derive(Default)]
struct Words {
    done: Vec<String>,
    current: String,
    in_word: bool,
}

impl Words {
    /// A character that splits on whitespace (unquoted text and variable values).
    fn push_splitting(&mut self, c: char) {
        if !c.is_whitespace() {
            self.push_raw(c);
        } else if self.in_word && !self.current.is_empty() {
            self.done.push(std::mem::take(&mut self.current));
            self.in_word = false;
        }
    }

    fn push_raw(&mut self, c: char) {
        self.current.push(c);
        self.in_word = true;
    }

    fn push_raw_str(&mut self, s: &str) {
        self.current.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

struct Lexer<'a> {
    source: &'a str,
    chars: Vec<char>,
    pos: usize,
    escape: char,
    mode: Mode,
    lookup: Lookup<'a>,
}

/// Why a nested scan stopped early: a real error, or the end of the word before the closing
/// character (which the caller turns into its own message).
enum Stop {
    Error(ExpandError),
    Eof,
}

impl From<ExpandError> for Stop {
    fn from(e: ExpandError) -> Self {
        Stop::Error(e)
    }
}

impl<'a> Lexer<'a> {
    fn new(source: &'a str, escape: char, mode: Mode, lookup: Lookup<'a>) -> Self {
        Lexer {
            source,
            chars: source.chars().collect(),
            pos: 0,
            escape,
            mode,
            lookup,
        }
    }

    fn run(mut self) -> Result<(String, Vec<String>), ExpandError> {
        match self.scan(None) {
            Ok((joined, words)) => Ok((joined, words.finish())),
            Err(Stop::Error(e)) => Err(e),
            // Unreachable without a stop character, but keep a sensible answer.
            Err(Stop::Eof) => Err(self.missing_brace()),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn missing_brace(&self) -> ExpandError {
        ExpandError::MissingBrace {
            word: self.source.to_string(),
        }
    }

    /// The text between `start` and the current position, as written (for `skip_unset`).
    fn raw_since(&self, start: usize) -> String {
        self.chars[start..self.pos].iter().collect()
    }

    /// Scans until `stop` (consumed) or the end of the word, returning the joined text and the
    /// split words.
    fn scan(&mut self, stop: Option<char>) -> Result<(String, Words), Stop> {
        let mut joined = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((joined, words));
            }
            match c {
                '$' => {
                    let value = self.dollar()?;
                    joined.push_str(&value);
                    value.chars().for_each(|ch| words.push_splitting(ch));
                }
                '\'' => {
                    let value = self.single_quoted()?;
                    joined.push_str(&value);
                    words.push_raw_str(&value);
                }
                '"' => {
                    let value = self.double_quoted()?;
                    joined.push_str(&value);
                    words.push_raw_str(&value);
                }
                _ => {
                    self.pos += 1;
                    if c != self.escape {
                        joined.push(c);
                        words.push_splitting(c);
                        continue;
                    }
                    if self.mode.raw_escapes {
                        joined.push(c);
                        words.push_raw(c);
                    }
                    match self.next() {
                        Some(escaped) => {
                            joined.push(escaped);
                            words.push_raw(escaped);
                        }
                        None => break,
                    }
                }
            }
        }
        match stop {
            Some(_) => Err(Stop::Eof),
            None => Ok((joined, words)),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        let mut out = String::new();
        if self.mode.raw_quotes {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return Err(ExpandError::UnclosedQuote {
                        word: self.source.to_string(),
                        quote: "single",
                    })
                }
                Some('\'') => break,
                Some(c) => out.push(c),
            }
        }
        if self.mode.raw_quotes {
            out.push('\'');
        }
        Ok(out)
    }

    fn double_quoted(&mut self) -> Result<String, Stop> {
        self.pos += 1;
        let mut out = String::new();
        if self.mode.raw_quotes {
            out.push('"');
        }
        loop {
            let Some(c) = self.peek() else {
                return Err(Stop::Error(ExpandError::UnclosedQuote {
                    word: self.source.to_string(),
                    quote: "double",
                }));
            };
            if c == '"' {
                self.pos += 1;
                break;
            }
            if c == '$' {
                out.push_str(&self.dollar()?);
                continue;
            }
            self.pos += 1;
            if c == self.escape {
                match self.peek() {
                    // Only these can be escaped inside double quotes; any other escape stays.
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        if self.mode.raw_escapes {
                            out.push(c);
                        }
                        out.push(n);
                        self.pos += 1;
                    }
                    Some(_) => out.push(c),
                    // The loop then reports the missing closing quote.
                    None => {}
                }
                continue;
            }
            out.push(c);
        }
        if self.mode.raw_quotes {
            out.push('"');
        }
        Ok(out)
    }

    /// A variable name after `$`: a run of digits (`$1`), one special parameter (`$@`, `$$`…),
    /// or letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            Some(c @ ('@' | '*' | '#' | '?' | '-' | '$' | '!')) => {
                self.pos += 1;
                return c.to_string();
            }
            _ => {}
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// The text of `word` in `${NAME:-word}` up to the closing brace, itself expanded.
    fn operand(&mut self) -> Result<String, Stop> {
        match self.scan(Some('}')) {
            Ok((text, _)) => Ok(text),
            // BuildKit reports any failure that ran off the end as the missing brace.
            Err(_) if self.peek().is_none() => Err(Stop::Error(self.missing_brace())),
            Err(e) => Err(e),
        }
    }

    fn dollar(&mut self) -> Result<String, Stop> {
        let start = self.pos;
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match (self.lookup)(&name) {
                Some(v) => v,
                None if self.mode.skip_unset => self.raw_since(start),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(Stop::Error(self.missing_brace())),
            Some('{' | '}' | ':') => {
                return Err(Stop::Error(ExpandError::BadSubstitution {
                    word: self.source.to_string(),
                }))
            }
            Some(_) => {}
        }
        let name = self.name();
        let Some(op) = self.next() else {
            return Err(Stop::Error(self.missing_brace()));
        };
        let (colon, modifier) = match op {
            '}' => {
                return Ok(match (self.lookup)(&name) {
                    Some(v) => v,
                    None if self.mode.skip_unset => self.raw_since(start),
                    None => String::new(),
                })
            }
            ':' => match self.next() {
                Some(m) => (true, m),
                None => return Err(Stop::Error(self.missing_brace())),
            },
            other => (false, other),
        };
        if !matches!(modifier, '-' | '+' | '?') {
            return Err(Stop::Error(ExpandError::UnsupportedModifier {
                word: self.source.to_string(),
                modifier,
            }));
        }
        let operand = self.operand()?;
        let value = (self.lookup)(&name);
        if value.is_none() && self.mode.skip_unset {
            return Ok(self.raw_since(start));
        }
        // With a colon an empty value counts as unset.
        let present = match &value {
            Some(v) => !colon || !v.is_empty(),
            None => false,
        };
        match modifier {
            '-' if present => Ok(value.unwrap_or_default()),
            '-' => Ok(operand),
            '+' if present => Ok(operand),
            '+' => Ok(String::new()),
            _ if present => Ok(value.unwrap_or_default()),
            _ => {
                let message = if !operand.is_empty() {
                    operand
                } else if value.is_none() {
                    "is not allowed to be unset".to_string()
                } else {
                    "is not allowed to be empty".to_string()
                };
                Err(Stop::Error(ExpandError::Required {
                    word: self.source.to_string(),
                    name,
                    message,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "B" => Some("b".into()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("x  y".into()),
            "PORTS" => Some("80 443/udp".into()),
            "DIR" => Some("C:\\app".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_one_word() {
        let cases: &[(&str, char, &str)] = &[
            ("plain", '\\', "plain"),
            ("$A", '\\', "a"),
            ("${A}", '\\', "a"),
            ("$A$B", '\\', "ab"),
            ("${A}_x", '\\', "a_x"),
            ("$A_x", '\\', ""),
            ("$UNSET", '\\', ""),
            ("pre-$UNSET-post", '\\', "pre--post"),
            ("$", '\\', "$"),
            ("a$ b", '\\', "a$ b"),
            ("$1", '\\', ""),
            ("${A:-d}", '\\', "a"),
            ("${EMPTY:-d}", '\\', "d"),
            ("${UNSET:-d}", '\\', "d"),
            ("${A-d}", '\\', "a"),
            ("${EMPTY-d}", '\\', ""),
            ("${UNSET-d}", '\\', "d"),
            ("${A:+alt}", '\\', "alt"),
            ("${EMPTY:+alt}", '\\', ""),
            ("${UNSET:+alt}", '\\', ""),
            ("${A+alt}", '\\', "alt"),
            ("${EMPTY+alt}", '\\', "alt"),
            ("${UNSET+alt}", '\\', ""),
            ("${A:?boom}", '\\', "a"),
            ("${EMPTY?boom}", '\\', ""),
            ("${UNSET:-${A}}", '\\', "a"),
            ("${UNSET:-${NOPE:-deep}}", '\\', "deep"),
            ("${UNSET:-$A-$B}", '\\', "a-b"),
            ("${UNSET:-x y}", '\\', "x y"),
            ("${UNSET:-'}'}", '\\', "}"),
            ("'$A'", '\\', "$A"),
            ("\"$A\"", '\\', "a"),
            ("\"x  y\"", '\\', "x  y"),
            ("'a\"b'", '\\', "a\"b"),
            ("\"a'b\"", '\\', "a'b"),
            ("\\$A", '\\', "$A"),
            ("\\\\", '\\', "\\"),
            ("a\\ b", '\\', "a b"),
            ("trailing\\", '\\', "trailing"),
            ("\"q\\\"q\"", '\\', "q\"q"),
            ("\"\\$A\"", '\\', "$A"),
            ("\"C:\\dir\"", '\\', "C:\\dir"),
            ("C:\\dir", '`', "C:\\dir"),
            ("`$A", '`', "$A"),
            ("\"`\"\"", '`', "\""),
            ("$DIR\\x", '`', "C:\\app\\x"),
            ("$SPACED", '\\', "x  y"),
            ("ünï$A", '\\', "ünïa"),
        ];
        for (word, escape, want) in cases {
            assert_eq!(
                expand(word, *escape, &env).as_deref(),
                Ok(*want),
                "word {word:?} with escape {escape:?}"
            );
        }
    }

    #[test]
    fn splits_words() {
        let cases: &[(&str, &[&str])] = &[
            ("a b", &["a", "b"]),
            ("  a   b  ", &["a", "b"]),
            ("$PORTS", &["80", "443/udp"]),
            ("\"$PORTS\"", &["80 443/udp"]),
            ("'a b' c", &["a b", "c"]),
            ("a\\ b c", &["a b", "c"]),
            ("x$A y", &["xa", "y"]),
            ("$UNSET", &[]),
            ("\"\" a", &["a"]),
            ("${UNSET:-8080 9090}", &["8080", "9090"]),
        ];
        for (word, want) in cases {
            assert_eq!(
                expand_words(word, '\\', &env).unwrap(),
                want.to_vec(),
                "word {word:?}"
            );
        }
    }

    #[test]
    fn reports_bad_words() {
        let cases: &[(&str, &str)] = &[
            ("'open", "unterminated single quote in \"'open\""),
            ("\"open", "unterminated double quote in \"\"open\""),
            ("${A", "missing '}' in \"${A\""),
            ("${", "missing '}' in \"${\""),
            ("${A:-x", "missing '}' in \"${A:-x\""),
            ("${A:-\"x}", "missing '}' in \"${A:-\"x}\""),
            ("${}", "bad substitution in \"${}\""),
            ("${:-x}", "bad substitution in \"${:-x}\""),
            ("${A#x}", "unsupported modifier '#' in \"${A#x}\""),
            ("${A:=x}", "unsupported modifier '=' in \"${A:=x}\""),
            (
                "${UNSET:?need it}",
                "UNSET: need it (in \"${UNSET:?need it}\")",
            ),
            ("${UNSET?}", "UNSET: is not allowed to be unset"),
            ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ];
        for (word, want) in cases {
            let err = expand(word, '\\', &env).unwrap_err().to_string();
            assert!(err.starts_with(want), "word {word:?}: got {err:?}");
        }
    }

    #[test]
    fn raw_modes_keep_what_heredoc_detection_needs() {
        let raw = Mode {
            raw_quotes: true,
            raw_escapes: true,
            skip_unset: true,
        };
        let cases: &[(&str, &[&str])] = &[
            ("cat <<'EOF' > f", &["cat", "<<'EOF'", ">", "f"]),
            ("<<\"E O\"", &["<<\"E O\""]),
            ("a\\ b", &["a\\ b"]),
            (
                "$UNSET ${UNSET} ${UNSET:-x}",
                &["$UNSET", "${UNSET}", "${UNSET:-x}"],
            ),
            ("$A", &["a"]),
        ];
        for (line, want) in cases {
            assert_eq!(
                lex_words(line, '\\', raw, &env).unwrap(),
                want.to_vec(),
                "{line:?}"
            );
        }
    }
}

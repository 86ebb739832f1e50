//! `.dockerignore`: which context paths a build may see, and the path patterns behind it.
//!
//! The file lists patterns, one a line, matched against slash-separated paths relative to the
//! context root, in the dialect of moby/patternmatcher (what BuildKit and the docker CLI use):
//!
//! - A line starting with `#` is a comment; blank lines are skipped; whitespace around a
//!   pattern is trimmed. Each pattern is cleaned like Go's `path.Clean` (`./a//b/` → `a/b`)
//!   and a leading `/` dropped, so `/secret` and `secret` are the same.
//! - `*` matches any run of characters except `/`, `?` one character except `/`, `[a-z]` and
//!   `[^…]` a class, `\` escapes the next character. `**` matches any number of directories,
//!   including none (`**/*.pyc`, `build/**`).
//! - A pattern that matches a directory excludes everything under it (`node_modules` hides
//!   `node_modules/a/b`).
//! - `!pattern` is an exception that re-includes what it matches. Patterns apply in order and
//!   the last one that matches a path decides; a re-included path may sit inside an excluded
//!   directory.
//!
//! Because of exceptions, a walker may only skip an excluded directory when no exception can
//! reach inside it: [`DockerIgnore::may_have_exceptions_under`] answers that.
//!
//! Where the patterns come from ([`load`]): like BuildKit, `<Dockerfile>.dockerignore` next to
//! the Dockerfile wins over `<context>/.dockerignore`; with neither, nothing is excluded.
//!
//! The glob engine ([`Glob`]) is shared with COPY's source wildcards (Go `filepath.Match`), which
//! use the same syntax without the `**` rule.

use std::path::{Path, PathBuf};

use super::paths::clean;

/// Why the ignore file could not be used. Pattern errors name the file and line.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: bad pattern \"{pattern}\": {reason}")]
    Pattern {
        file: String,
        line: usize,
        pattern: String,
        reason: &'static str,
    },
}

/// The compiled patterns of one ignore file, in file order.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    file: Option<PathBuf>,
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    exception: bool,
    glob: Glob,
}

/// Reads the ignore file that applies to `dockerfile` built in `context`.
pub fn load(context: &Path, dockerfile: &Path) -> Result<DockerIgnore, IgnoreError> {
    let mut beside = dockerfile.as_os_str().to_owned();
    beside.push(".dockerignore");
    for candidate in [PathBuf::from(beside), context.join(".dockerignore")] {
        match std::fs::read_to_string(&candidate) {
            Ok(text) => {
                let name = candidate.display().to_string();
                let mut ignore = parse(&name, &text)?;
                ignore.file = Some(candidate);
                return Ok(ignore);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(IgnoreError::Read {
                    path: candidate,
                    source,
                })
            }
        }
    }
    Ok(DockerIgnore::default())
}

/// Compiles patterns given directly (one per element, same syntax as a file line); errors
/// call the list `patterns` and count lines from 1.
pub fn from_patterns(patterns: &[&str]) -> Result<DockerIgnore, IgnoreError> {
    parse("patterns", &patterns.join("\n"))
}

fn parse(file: &str, text: &str) -> Result<DockerIgnore, IgnoreError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for (index, line) in text.lines().enumerate() {
        // Only a `#` in the first column starts a comment, as in ignorefile.ReadAll.
        if line.starts_with('#') {
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let bad = |reason| IgnoreError::Pattern {
            file: file.to_string(),
            line: index + 1,
            pattern: trimmed.to_string(),
            reason,
        };
        let (exception, body) = match trimmed.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        if body.is_empty() {
            return Err(bad("\"!\" needs a pattern after it"));
        }
        let cleaned = clean(body);
        let cleaned = match cleaned.strip_prefix('/') {
            Some(rest) if !rest.is_empty() => rest.to_string(),
            _ => cleaned,
        };
        let glob = Glob::new(&cleaned, true).map_err(bad)?;
        patterns.push(Pattern { exception, glob });
    }
    Ok(DockerIgnore {
        file: None,
        patterns,
    })
}

impl DockerIgnore {
    /// The file the patterns came from, if any (for messages).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `rel_path` (slash-separated, relative to the context) is hidden from the build.
    /// The context root itself is never excluded.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let path = clean(rel_path.trim_start_matches('/'));
        if path == "." || self.patterns.is_empty() {
            return false;
        }
        let parents: Vec<&str> = path.match_indices('/').map(|(at, _)| &path[..at]).collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // Only a pattern that could flip the current answer needs evaluating.
            if pattern.exception != excluded {
                continue;
            }
            let hit =
                pattern.glob.matches(&path) || parents.iter().any(|p| pattern.glob.matches(p));
            if hit {
                excluded = !pattern.exception;
            }
        }
        excluded
    }

    /// Whether some `!` exception could re-include a path strictly inside `rel_dir`. When this
    /// is false and `rel_dir` is excluded, a walker may skip the whole directory. The answer
    /// errs on the side of `true`.
    pub fn may_have_exceptions_under(&self, rel_dir: &str) -> bool {
        let dir = clean(rel_dir.trim_start_matches('/'));
        let prefix = if dir == "." {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.patterns
            .iter()
            .filter(|p| p.exception)
            .any(|p| p.glob.may_match_under(&prefix))
    }
}

/// Whether `s` has an unescaped `*`, `?` or `[` (BuildKit's `containsWildcards`).
pub(crate) fn has_wildcards(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '[' => return true,
            '\\' => {
                chars.next();
            }
            _ => {}
        }
    }
    false
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run without `/`.
    Star,
    /// `[...]`: ranges, possibly negated.
    Class(bool, Vec<(char, char)>),
    /// `**` (with a following `/` eaten): nothing, or anything ending in `/`.
    AnyDirs,
    /// A trailing `**`: anything at all.
    Rest,
}

/// A compiled path pattern. Matching simulates the pattern as a small automaton over the
/// characters of the path, which also answers "could a longer path still match?".
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
    /// patternmatcher's shortcut for `**` followed only by literal text: a plain suffix test,
    /// kept because it is observable (`**foo` matches `xfoo`).
    suffix: Option<String>,
}

impl Glob {
    /// Compiles `pattern`; with `double_star` false, `**` is just two `*` (filepath.Match).
    pub(crate) fn new(pattern: &str, double_star: bool) -> Result<Glob, &'static str> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if double_star && chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    tokens.push(if i == chars.len() {
                        Token::Rest
                    } else {
                        Token::AnyDirs
                    });
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::One),
                '\\' => match chars.get(i) {
                    Some(&escaped) => {
                        tokens.push(Token::Literal(escaped));
                        i += 1;
                    }
                    None => return Err("a trailing \\ escapes nothing"),
                },
                '[' => {
                    let (class, next) = parse_class(&chars, i)?;
                    tokens.push(class);
                    i = next;
                }
                other => tokens.push(Token::Literal(other)),
            }
        }
        let suffix = match pattern.strip_prefix("**") {
            Some(rest) if double_star && !rest.contains(['*', '?', '[', ']', '\\']) => {
                Some(rest.to_string())
            }
            _ => None,
        };
        Ok(Glob { tokens, suffix })
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        if let Some(suffix) = &self.suffix {
            return path.ends_with(suffix.as_str())
                || suffix.strip_prefix('/').is_some_and(|s| path == s);
        }
        let states = self.run(path);
        states[self.tokens.len()]
    }

    /// Whether this pattern matches `prefix` (a directory path ending in `/`, or empty for
    /// the root), one of its ancestors, or some longer path starting with it.
    fn may_match_under(&self, prefix: &str) -> bool {
        if self.suffix.is_some() {
            return true;
        }
        let dir = prefix.trim_end_matches('/');
        let ancestors = dir.match_indices('/').map(|(at, _)| &dir[..at]);
        if !dir.is_empty() && (self.matches(dir) || ancestors.into_iter().any(|a| self.matches(a)))
        {
            return true;
        }
        self.run(prefix).iter().any(|&alive| alive)
    }

    /// The set of automaton states alive after reading `input`. State `i` (0..=n) waits for
    /// token `i`; state `n + 1 + i` is inside the `**` at token `i`, before its closing `/`.
    fn run(&self, input: &str) -> Vec<bool> {
        let n = self.tokens.len();
        let mut states = vec![false; 2 * n + 2];
        states[0] = true;
        self.close(&mut states);
        for c in input.chars() {
            let mut next = vec![false; 2 * n + 2];
            for i in (0..n).filter(|&i| states[i]) {
                match &self.tokens[i] {
                    Token::Literal(l) if *l == c => next[i + 1] = true,
                    Token::Literal(_) => {}
                    Token::One => next[i + 1] |= c != '/',
                    Token::Star => next[i] |= c != '/',
                    Token::Class(negated, ranges) => {
                        let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
                        next[i + 1] |= inside != *negated;
                    }
                    Token::AnyDirs => {
                        next[n + 1 + i] = true;
                        next[i + 1] |= c == '/';
                    }
                    Token::Rest => next[i] = true,
                }
            }
            for i in (0..n).filter(|&i| states[n + 1 + i]) {
                next[n + 1 + i] = true;
                next[i + 1] |= c == '/';
            }
            self.close(&mut next);
            states = next;
        }
        states
    }

    /// Adds the states reachable without reading: `*`, `**` and a trailing `**` may match
    /// nothing.
    fn close(&self, states: &mut [bool]) {
        for i in 0..self.tokens.len() {
            if states[i] && matches!(self.tokens[i], Token::Star | Token::AnyDirs | Token::Rest) {
                states[i + 1] = true;
            }
        }
    }
}

/// Parses a class body starting after `[`; returns the token and the index after `]`. The
/// rules are Go's: non-empty, `^` negates, `\` escapes, `a-z` ranges, `-` and `]` must be
/// escaped where they would be ambiguous.
fn parse_class(chars: &[char], mut i: usize) -> Result<(Token, usize), &'static str> {
    const UNCLOSED: &str = "a character class [ is not closed or is empty";
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        match chars.get(i) {
            None => return Err(UNCLOSED),
            Some(']') if !ranges.is_empty() => return Ok((Token::Class(negated, ranges), i + 1)),
            _ => {}
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, next) = class_char(chars, i + 1)?;
            hi = h;
            i = next;
            if hi < lo {
                return Err("a character range goes backwards");
            }
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &[char], i: usize) -> Result<(char, usize), &'static str> {
    match chars.get(i) {
        None | Some('-' | ']') => Err("a character class has a bare - or ]"),
        Some('\\') => chars
            .get(i + 1)
            .map(|&c| (c, i + 2))
            .ok_or("a trailing \\ escapes nothing"),
        Some(&c) => Ok((c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_file_beside_the_dockerfile_first() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path();
        std::fs::create_dir(ctx.join("docker")).unwrap();
        let dockerfile = ctx.join("docker/app.Dockerfile");

        assert!(load(ctx, &dockerfile).unwrap().is_empty());

        std::fs::write(ctx.join(".dockerignore"), "# comment\n*.log\n").unwrap();
        let ignore = load(ctx, &dockerfile).unwrap();
        assert!(ignore.is_excluded("x.log"));
        assert_eq!(ignore.file(), Some(ctx.join(".dockerignore").as_path()));

        std::fs::write(ctx.join("docker/app.Dockerfile.dockerignore"), "secret\n").unwrap();
        let ignore = load(ctx, &dockerfile).unwrap();
        assert!(ignore.is_excluded("secret") && !ignore.is_excluded("x.log"));

        std::fs::write(ctx.join("docker/app.Dockerfile.dockerignore"), "ok\n[\n").unwrap();
        let err = load(ctx, &dockerfile).unwrap_err().to_string();
        assert!(err.ends_with("app.Dockerfile.dockerignore:2: bad pattern \"[\": a character class [ is not closed or is empty"), "{err}");
    }

    /// (patterns, path, excluded?)
    const CASES: &[(&[&str], &str, bool)] = &[
        (&["foo"], "foo", true),
        (&["foo"], "foo/bar/baz", true),
        (&["foo"], "a/foo", false),
        (&["foo"], "foobar", false),
        (&["/foo/"], "foo/x", true),
        (&["./foo//bar/."], "foo/bar", true),
        (&["foo/../bar"], "bar", true),
        (&["  foo  "], "foo", true),
        (&["# foo"], "# foo", false),
        (&["", "   ", "#c"], "x", false),
        (&["*.md"], "README.md", true),
        (&["*.md"], "docs/a.md", false),
        (&["*/*.md"], "docs/a.md", true),
        (&["*"], "anything/below", true),
        (&["?.txt"], "a.txt", true),
        (&["?.txt"], "ab.txt", false),
        (&["a?b"], "a/b", false),
        (&["[a-c].txt"], "b.txt", true),
        (&["[a-c].txt"], "d.txt", false),
        (&["[^a-c].txt"], "d.txt", true),
        (&["\\*.txt"], "*.txt", true),
        (&["\\*.txt"], "a.txt", false),
        (&["**/*.pyc"], "a.pyc", true),
        (&["**/*.pyc"], "a/b/c.pyc", true),
        (&["**/node_modules"], "web/node_modules/x/y", true),
        (&["**/node_modules"], "node_modules", true),
        (&["build/**"], "build/x/y", true),
        (&["build/**"], "build", false),
        (&["a/**/b"], "a/b", true),
        (&["a/**/b"], "a/x/y/b", true),
        (&["a/**/b"], "a/xb", false),
        (&["**"], "x/y", true),
        (&["**foo"], "a/xfoo", true),
        (&["*", "!keep"], "keep", false),
        (&["*", "!keep"], "drop", true),
        (&["*", "!keep"], "keep/inner", false),
        (&["dir", "!dir/keep.txt"], "dir/keep.txt", false),
        (&["dir", "!dir/keep.txt"], "dir/other.txt", true),
        (&["dir", "!dir/keep.txt"], "dir", true),
        (
            &["*.log", "!important.log", "important.log"],
            "important.log",
            true,
        ),
        (&["!x", "x"], "x", true),
        (&["**/*.go", "!vendor/**"], "vendor/a/b.go", false),
        (&["docs", "!docs/**/*.md"], "docs/a/b.md", false),
        (&["docs", "!docs/**/*.md"], "docs/a/b.txt", true),
        (&[".git"], ".git/HEAD", true),
        (&["x"], ".", false),
        (&["*"], "", false),
        (&["a"], "/a", true),
    ];

    #[test]
    fn exclusion_rules() {
        for (patterns, path, want) in CASES {
            let ignore = from_patterns(patterns).unwrap();
            assert_eq!(
                ignore.is_excluded(path),
                *want,
                "patterns {patterns:?}, path {path:?}"
            );
        }
    }

    #[test]
    fn exceptions_under_directories() {
        // (patterns, directory, may an exception reach inside?)
        let cases: &[(&[&str], &str, bool)] = &[
            (&["dir"], "dir", false),
            (&["dir", "!dir/keep"], "dir", true),
            (&["dir", "!dir/keep"], "other", false),
            (&["dir", "!dir/sub/keep"], "dir/sub", true),
            (&["dir", "!dir/sub/keep"], "dir/else", false),
            (&["*", "!*/keep"], "anydir", true),
            (&["*", "!**/keep"], "a/b/c", true),
            (&["*", "!dir"], "dir/sub", true),
            (&["*", "!d[0-9]/x"], "d1", true),
            (&["*", "!d[0-9]/x"], "dx", false),
            (&["*", "!keep**"], "zzz", false),
            (&["*", "!**keep"], "zzz", true),
            (&["*", "!README.md"], "src", false),
            (&["*", "!src/*.rs"], ".", true),
        ];
        for (patterns, dir, want) in cases {
            let ignore = from_patterns(patterns).unwrap();
            assert_eq!(
                ignore.may_have_exceptions_under(dir),
                *want,
                "patterns {patterns:?}, dir {dir:?}"
            );
        }
    }

    #[test]
    fn bad_patterns_name_the_line() {
        let cases: &[(&str, &str)] = &[
            ("ok\n!\n", "patterns:2: bad pattern \"!\""),
            ("a[", "patterns:1: bad pattern \"a[\": a character class"),
            ("a[]", "patterns:1: bad pattern \"a[]\""),
            (
                "[z-a]",
                "patterns:1: bad pattern \"[z-a]\": a character range goes backwards",
            ),
            ("x\\", "patterns:1: bad pattern \"x\\\": a trailing"),
        ];
        for (text, want) in cases {
            let lines: Vec<&str> = text.lines().collect();
            let err = from_patterns(&lines).unwrap_err().to_string();
            assert!(err.starts_with(want), "{text:?}: got {err:?}");
        }
    }

    #[test]
    fn single_segment_globs() {
        // Go filepath.Match semantics for COPY sources: `**` is not special.
        let cases: &[(&str, &str, bool)] = &[
            ("*.txt", "a.txt", true),
            ("*.txt", ".hidden.txt", true),
            ("**.txt", "a.txt", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("file[0-9]", "file7", true),
            ("file[!0-9]", "file!", true),
            ("[\\]]", "]", true),
        ];
        for (pattern, name, want) in cases {
            let glob = Glob::new(pattern, false).unwrap();
            assert_eq!(glob.matches(name), *want, "{pattern:?} vs {name:?}");
        }
        assert!(has_wildcards("a/*.txt") && !has_wildcards("a\\*b") && !has_wildcards("plain"));
    }
}

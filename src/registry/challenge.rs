//! `WWW-Authenticate` challenges and token scopes.
//!
//! A registry that wants credentials answers 401 with one or more challenges (RFC 7235):
//!
//! ```text
//! WWW-Authenticate: Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"
//! ```
//!
//! One header may hold several challenges separated by commas, and the parameters of a
//! challenge are separated by commas too — while quoted values (`scope="…:pull,push"`)
//! contain commas of their own. So splitting on `,` is wrong; [`parse`] is a small
//! tokenizer: a bare token starts a new challenge, `name=value` adds a parameter to the
//! current one, quoted strings honour backslash escapes. Scheme and parameter names are
//! case-insensitive and kept lower-case.
//!
//! A Bearer challenge leads to the token service, which is asked for [`Scopes`]
//! (`repository:<name>:<actions>`). Names may contain `host:port/…`, so a scope string is
//! split on its *first* and *last* colon. A [`Scopes`] set keeps its order — some
//! registries read only the first scope, so the push scope goes first — and merges
//! actions when the registry asks for more in a later challenge.

use std::fmt;

/// One challenge: `scheme` (lower-case) and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
    /// The `token68` form (`Negotiate abc==`): unused by registries, parsed to be skipped.
    pub token68: Option<String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Scopes the registry said it needs (`scope="a b"` is space-separated).
    pub fn scopes(&self) -> Scopes {
        let mut scopes = Scopes::default();
        for s in self.param("scope").unwrap_or("").split_whitespace() {
            if let Some(scope) = Scope::parse(s) {
                scopes.add(scope);
            }
        }
        scopes
    }
}

/// Parses one `WWW-Authenticate` header value into its challenges.
pub(super) fn parse(input: &str) -> Result<Vec<Challenge>, String> {
    let mut c = Cursor {
        s: input.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    // True right after a scheme, until a comma: where a bare token is a token68.
    let mut after_scheme = false;
    loop {
        c.skip_ws();
        match c.peek() {
            None => break,
            Some(b',') => {
                c.i += 1;
                after_scheme = false;
                continue;
            }
            _ => {}
        }
        let start = c.i;
        let token = c.token();
        if token.is_empty() {
            return Err(format!("unexpected `{}` at byte {start}", c.rest_char()));
        }
        // A token68 right after the scheme may end in `=` padding (`abc==`).
        let mut pad = c.i;
        while c.s.get(pad) == Some(&b'=') {
            pad += 1;
        }
        if after_scheme && pad > c.i && matches!(next_non_ws(c.s, pad), None | Some(b',')) {
            let current = out.last_mut().expect("after_scheme implies a challenge");
            current.token68 = Some(format!("{token}{}", "=".repeat(pad - c.i)));
            c.i = pad;
            after_scheme = false;
            continue;
        }
        c.skip_ws();
        if c.peek() == Some(b'=') {
            let Some(current) = out.last_mut() else {
                return Err(format!("parameter `{token}` before any scheme"));
            };
            c.i += 1;
            c.skip_ws();
            let value = if c.peek() == Some(b'"') {
                c.quoted()?
            } else {
                c.bare_value()
            };
            current.params.push((token.to_ascii_lowercase(), value));
            after_scheme = false;
        } else if after_scheme {
            let current = out.last_mut().expect("after_scheme implies a challenge");
            current.token68 = Some(token.to_string());
            after_scheme = false;
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: Vec::new(),
                token68: None,
            });
            after_scheme = true;
        }
    }
    Ok(out)
}

fn next_non_ws(s: &[u8], mut i: usize) -> Option<u8> {
    while let Some(&b) = s.get(i) {
        if b != b' ' && b != b'\t' {
            return Some(b);
        }
        i += 1;
    }
    None
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn rest_char(&self) -> String {
        String::from_utf8_lossy(&self.s[self.i..])
            .chars()
            .next()
            .map(String::from)
            .unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// An RFC 7230 token, leniently extended with `/` and `+` (token68 characters).
    fn token(&mut self) -> &'a str {
        let start = self.i;
        while let Some(b) = self.peek() {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&b);
            if !tchar {
                break;
            }
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }

    /// An unquoted value: up to the next comma or space (lenient: realms are often
    /// unquoted URLs full of `:` and `/`).
    fn bare_value(&mut self) -> String {
        let start = self.i;
        while !matches!(self.peek(), None | Some(b',' | b' ' | b'\t')) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn quoted(&mut self) -> Result<String, String> {
        let open = self.i;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(format!("unterminated quoted string at byte {open}")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') if self.i + 1 < self.s.len() => {
                    out.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

/// `repository:<name>:<action>[,<action>…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Scope {
    pub resource: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    pub fn repository(name: &str, actions: &[&str]) -> Scope {
        Scope {
            resource: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Splits on the first and the last colon: the name may hold `host:port`.
    pub fn parse(s: &str) -> Option<Scope> {
        let (resource, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if resource.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            resource: resource.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.resource,
            self.name,
            self.actions.join(",")
        )
    }
}

/// An ordered set of scopes, one entry per resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Scopes(Vec<Scope>);

impl Scopes {
    /// What reading one repository needs.
    pub fn pull(repository: &str) -> Scopes {
        Scopes(vec![Scope::repository(repository, &["pull"])])
    }

    /// What a push needs: `pull,push` on the target first, then `pull` on every repository
    /// of the same registry that blobs will be mounted from.
    pub fn push<'a>(target: &str, mount_sources: impl IntoIterator<Item = &'a str>) -> Scopes {
        let mut scopes = Scopes(vec![Scope::repository(target, &["pull", "push"])]);
        for source in mount_sources {
            scopes.add(Scope::repository(source, &["pull"]));
        }
        scopes
    }

    /// Adds a scope, merging its actions into an existing entry for the same resource.
    /// Returns whether anything was new.
    pub fn add(&mut self, scope: Scope) -> bool {
        match self
            .0
            .iter_mut()
            .find(|s| s.resource == scope.resource && s.name == scope.name)
        {
            Some(existing) => {
                let mut changed = false;
                for action in scope.actions {
                    if !existing.actions.contains(&action) {
                        existing.actions.push(action);
                        changed = true;
                    }
                }
                changed
            }
            None => {
                self.0.push(scope);
                true
            }
        }
    }

    /// The union with `other`; returns whether `self` grew.
    pub fn merge(&mut self, other: &Scopes) -> bool {
        let mut changed = false;
        for scope in &other.0 {
            changed |= self.add(scope.clone());
        }
        changed
    }

    /// One string per scope, in order (the token request's `scope=` parameters).
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Scope::to_string).collect()
    }

    /// The token-cache key: the scopes, space-joined, in order.
    pub fn key(&self) -> String {
        self.to_strings().join(" ")
    }

    /// Whether the set asks to push anywhere.
    pub fn pushes(&self) -> bool {
        self.0
            .iter()
            .any(|s| s.actions.iter().any(|a| a == "push" || a == "*"))
    }
}

/// For the fuzz target: any header parses or is refused without panicking; schemes and
/// parameter names come out lower-case; every scope survives being printed (it is sent to
/// the token service as printed); and a realm quoted with escapes comes back exactly,
/// followed by its other parameters.
#[cfg(feature = "fuzzing")]
pub fn check_invariants(header: &str) {
    if let Ok(challenges) = parse(header) {
        for challenge in &challenges {
            assert!(!challenge.scheme.is_empty(), "an empty scheme");
            assert_eq!(challenge.scheme, challenge.scheme.to_ascii_lowercase());
            for (name, _) in &challenge.params {
                assert_eq!(name, &name.to_ascii_lowercase());
            }
            for scope in challenge.scopes().0 {
                assert_eq!(Scope::parse(&scope.to_string()).as_ref(), Some(&scope));
            }
        }
    }
    let escaped = header.replace('\\', "\\\\").replace('"', "\\\"");
    let built =
        format!("Bearer realm=\"{escaped}\", service=reg,scope=\"repository:a/b:pull,push\"");
    let challenges = parse(&built).unwrap_or_else(|e| panic!("{built:?} refused: {e}"));
    assert_eq!(challenges.len(), 1, "{built:?} is one challenge");
    assert_eq!(
        challenges[0].param("realm"),
        Some(header),
        "the realm of {built:?}"
    );
    assert_eq!(challenges[0].param("service"), Some("reg"));
    assert_eq!(challenges[0].scopes().key(), "repository:a/b:pull,push");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            token68: None,
        }
    }

    #[test]
    fn challenge_table() {
        let cases: Vec<(&str, Vec<Challenge>)> = vec![
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
                vec![ch(
                    "bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/alpine:pull"),
                    ],
                )],
            ),
            (
                r#"Basic realm="Registry Realm""#,
                vec![ch("basic", &[("realm", "Registry Realm")])],
            ),
            (
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/x:pull,push""#,
                vec![ch(
                    "bearer",
                    &[
                        ("realm", "https://ghcr.io/token"),
                        ("service", "ghcr.io"),
                        ("scope", "repository:org/x:pull,push"),
                    ],
                )],
            ),
            (
                r#"Basic realm="basic, with comma", Bearer realm="https://r/t", service="s""#,
                vec![
                    ch("basic", &[("realm", "basic, with comma")]),
                    ch("bearer", &[("realm", "https://r/t"), ("service", "s")]),
                ],
            ),
            (
                r#"Bearer realm="https://r",error="insufficient_scope",scope="repository:a:pull,push repository:b:pull""#,
                vec![ch(
                    "bearer",
                    &[
                        ("realm", "https://r"),
                        ("error", "insufficient_scope"),
                        ("scope", "repository:a:pull,push repository:b:pull"),
                    ],
                )],
            ),
            (
                r#"Bearer realm="say \"hi\" \\ there""#,
                vec![ch("bearer", &[("realm", r#"say "hi" \ there"#)])],
            ),
            (
                r#"BEARER Realm="x",SERVICE=y"#,
                vec![ch("bearer", &[("realm", "x"), ("service", "y")])],
            ),
            (
                "Bearer realm=https://host:5001/auth/token,service=reg",
                vec![ch(
                    "bearer",
                    &[
                        ("realm", "https://host:5001/auth/token"),
                        ("service", "reg"),
                    ],
                )],
            ),
            (
                r#"Bearer realm = "x" , service = "y" ,, "#,
                vec![ch("bearer", &[("realm", "x"), ("service", "y")])],
            ),
            ("Basic", vec![ch("basic", &[])]),
            ("Basic, Bearer", vec![ch("basic", &[]), ch("bearer", &[])]),
            ("", vec![]),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse(input).unwrap_or_else(|e| panic!("{input}: {e}")),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn token68_challenges_are_skipped_cleanly() {
        let got = parse(r#"Negotiate YWxhZGRpbjpvcGVuc2VzYW1l==, Basic realm="x""#).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].token68.as_deref(),
            Some("YWxhZGRpbjpvcGVuc2VzYW1l==")
        );
        assert_eq!(got[1], ch("basic", &[("realm", "x")]));
        let got = parse("Negotiate abc, Basic realm=x").unwrap();
        assert_eq!(got[0].token68.as_deref(), Some("abc"));
        assert_eq!(got[1].scheme, "basic");
    }

    #[test]
    fn malformed_challenges_fail() {
        for input in [
            r#"Bearer realm="unterminated"#,
            r#"realm="x""#,
            "Bearer \"x\"",
        ] {
            assert!(
                parse(input).is_err(),
                "{input} should fail, got {:?}",
                parse(input)
            );
        }
    }

    #[test]
    fn scope_table() {
        /// input → (resource, name, actions), or `None` when it must not parse.
        type Case = (
            &'static str,
            Option<(&'static str, &'static str, &'static [&'static str])>,
        );
        let cases: &[Case] = &[
            (
                "repository:library/alpine:pull",
                Some(("repository", "library/alpine", &["pull"])),
            ),
            (
                "repository:a/b:pull,push",
                Some(("repository", "a/b", &["pull", "push"])),
            ),
            (
                "repository:localhost:5000/a/b:pull",
                Some(("repository", "localhost:5000/a/b", &["pull"])),
            ),
            ("registry:catalog:*", Some(("registry", "catalog", &["*"]))),
            ("repository:a:", Some(("repository", "a", &[]))),
            ("repository", None),
            ("repository:a", None),
            (":a:pull", None),
        ];
        for (input, expected) in cases {
            let got = Scope::parse(input);
            match expected {
                None => assert!(got.is_none(), "{input}: {got:?}"),
                Some((resource, name, actions)) => {
                    let s = got.unwrap_or_else(|| panic!("{input} should parse"));
                    assert_eq!(
                        (s.resource.as_str(), s.name.as_str()),
                        (*resource, *name),
                        "{input}"
                    );
                    assert_eq!(
                        s.actions,
                        actions.iter().map(|a| a.to_string()).collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    #[test]
    fn push_scopes_put_the_target_first_and_merge() {
        let mut scopes = Scopes::push("team/app", ["library/python", "team/app", "library/python"]);
        assert_eq!(
            scopes.key(),
            "repository:team/app:pull,push repository:library/python:pull"
        );
        assert!(scopes.pushes());
        assert!(!Scopes::pull("a").pushes());
        // A challenge asking for what we have changes nothing; asking for more does.
        let same =
            parse(r#"Bearer realm="r",scope="repository:team/app:push""#).unwrap()[0].scopes();
        assert!(!scopes.merge(&same));
        let more = parse(
            r#"Bearer realm="r",scope="repository:other/x:pull repository:library/python:push""#,
        )
        .unwrap()[0]
            .scopes();
        assert!(scopes.merge(&more));
        assert_eq!(
            scopes.to_strings(),
            [
                "repository:team/app:pull,push",
                "repository:library/python:pull,push",
                "repository:other/x:pull"
            ]
        );
    }
}

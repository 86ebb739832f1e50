//! Image paths as text (`/app/src`, `pkg/*.txt`), cleaned one way: Go's `path.Clean`,
//! as BuildKit and the `.dockerignore` matcher use it. (`rootfs::clean` is the same rule
//! on `Path` components, for the walk inside a root, where names need not be UTF-8.)

/// Go's `path.Clean` for slash-separated paths: no empty or `.` segments, `..` resolved where
/// possible, no trailing slash; the empty path becomes `.`.
pub(crate) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    match (rooted, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_string(),
        (false, false) => parts.join("/"),
    }
}

/// Joins an image path onto a directory, lexically (`..` cannot climb above `/`).
pub fn join_path(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        clean(path)
    } else {
        clean(&format!("/{base}/{path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_go() {
        let cases = [
            ("", "."),
            ("./", "."),
            ("a//b/./c/", "a/b/c"),
            ("a/../../b", "../b"),
            ("/../a", "/a"),
            ("/", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "{input:?}");
        }
    }

    #[test]
    fn join_path_table() {
        assert_eq!(join_path("/", "app"), "/app");
        assert_eq!(join_path("/app", "src/"), "/app/src");
        assert_eq!(join_path("/app", "/opt"), "/opt");
        assert_eq!(join_path("/app", "../../.."), "/");
        assert_eq!(join_path("app", "./x/../y"), "/app/y");
    }
}

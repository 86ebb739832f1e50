//! "Did you mean …?": the known word nearest a mistyped one, for instructions, inputs and
//! plugin-manifest keys alike.
//!
//! Distance is optimal string alignment (`strsim::osa_distance`): Levenshtein with an
//! adjacent swap counted as one edit, so `imgae` is one edit from `image`, as a typist
//! would count it.

/// Edits between `a` and `b`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// The candidate nearest `word` that `near(distance, candidate)` accepts; the first of
/// equally near ones.
pub fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    near: impl Fn(usize, &str) -> bool,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| near(*d, c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swap_is_one_edit_and_the_nearest_wins() {
        assert_eq!(edit_distance("imgae", "image"), 1);
        assert_eq!(edit_distance("COPPY", "COPY"), 1);
        let words = ["template", "tags", "labels"];
        assert_eq!(closest("tag", words, |d, _| d <= 2), Some("tags"));
        assert_eq!(closest("registry", words, |d, _| d <= 2), None);
    }
}

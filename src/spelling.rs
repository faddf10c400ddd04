//! "Did you mean": how far apart two spellings are, and the nearest of a set of known names to
//! one that is none of them. One helper for every place a user types a name triage knows (path
//! segments of the API catalog, `--region`), so that all of them suggest alike.

/// Levenshtein distance, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name nearest to `given`, if one is near enough to be a misspelling of it: at most
/// a third of its characters changed (two swapped letters are two changes), and never more
/// than three. Compared without regard to ASCII case; the first of equally near names wins.
/// A name farther off than that is likely not a typo, and a suggestion would mislead.
pub fn nearest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    let len = given.chars().count();
    let allowed = (len / 3).clamp(1, 3);
    let mut best: Option<(usize, &'a str)> = None;
    for k in known {
        let d = edit_distance(&given, &k.to_ascii_lowercase());
        if d <= allowed && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_insertions_deletions_and_substitutions() {
        for (a, b, d) in [
            ("", "", 0),
            ("message", "messages", 1),
            ("eu-wset-1", "eu-west-1", 2),
            ("kitten", "sitting", 3),
            ("abc", "", 3),
        ] {
            assert_eq!(edit_distance(a, b), d, "distance of {a:?} and {b:?}");
        }
    }

    #[test]
    fn nearest_names_a_typo_and_nothing_for_a_stranger() {
        let known = ["mypurecloud.ie", "mypurecloud.de", "eu-west-1", "eu-west-2"];
        assert_eq!(nearest("mypurecloud.iee", known), Some("mypurecloud.ie"));
        assert_eq!(nearest("EU-WSET-1", known), Some("eu-west-1"));
        // Equally near: the first known one.
        assert_eq!(nearest("eu-west-3", known), Some("eu-west-1"));
        assert_eq!(nearest("genesys.example.org", known), None);
        assert_eq!(nearest("x", known), None);
    }
}

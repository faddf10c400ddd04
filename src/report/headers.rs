//! Diagnoses → response headers. Quoted upstream text (messages, ids) ends up in these values,
//! so each value is forced to visible ASCII on one line (no CR/LF or control character can
//! split the head; non-ASCII is escaped) and capped, and all of them together are capped too.

use std::borrow::Cow;

use http::{HeaderName, HeaderValue};

use crate::diagnose::Diagnosis;

/// Most bytes of one header value.
pub const MAX_VALUE: usize = 1024;
/// Most bytes of all triage headers together (names, values, ": " and CRLF).
pub const MAX_TOTAL: usize = 8 * 1024;
/// Appended where a value was cut.
pub const CUT_MARKER: &str = "...[cut by triage]";

/// Visible ASCII on one line, at most `max` bytes: controls become spaces, runs of spaces
/// shrink to one, non-ASCII becomes `\u{…}`, a cut value ends with [`CUT_MARKER`].
pub fn sanitize(s: &str, max: usize) -> String {
    sanitized(s, max).into_owned()
}

/// As [`sanitize`], borrowing `s` when it is clean already, as rule texts nearly always are:
/// that is found in one pass over the bytes instead of a push per character.
pub fn sanitized(s: &str, max: usize) -> Cow<'_, str> {
    if is_clean(s, max) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(sanitize_each(s, max))
}

/// Whether `sanitize` would return `s` unchanged: visible ASCII and single inner spaces, no
/// leading or trailing space, within `max`.
fn is_clean(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return true;
    };
    if b.len() > max || first == b' ' || !visible(last) {
        return false;
    }
    // No early exit inside the loop, so that it compiles to vector code: this runs on every
    // cause and fix of every diagnosed response, twice (headers and log line).
    let mut bad = false;
    for (&x, &y) in b.iter().zip(&b[1..]) {
        bad |= !visible(x) & (x != b' ') | (x == b' ') & (y == b' ');
    }
    !bad
}

/// `!`..=`~`.
#[inline(always)]
fn visible(b: u8) -> bool {
    b.wrapping_sub(b'!') < 0x5e
}

fn sanitize_each(s: &str, max: usize) -> String {
    use std::fmt::Write as _;
    let room = max.saturating_sub(CUT_MARKER.len());
    let mut out = String::with_capacity(s.len().min(max) + 8);
    let mut last_space = true;
    // The longest prefix, ending on a whole piece, that leaves room for the marker.
    let mut fits = 0;
    let mut over = false;
    for c in s.chars() {
        match c {
            '!'..='~' => {
                out.push(c);
                last_space = false;
            }
            c if c == ' ' || c.is_control() || c.is_whitespace() => {
                if last_space {
                    continue;
                }
                out.push(' ');
                last_space = true;
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
                last_space = false;
            }
        }
        if out.len() <= room {
            fits = out.len();
        }
        // Past `max` by more than one trailing space can undo: it will be cut; stop reading.
        if out.len() > max + 1 {
            over = true;
            break;
        }
    }
    if !over {
        while out.ends_with(' ') {
            out.pop();
        }
        if out.len() <= max {
            return out;
        }
    }
    out.truncate(fits);
    out.push_str(CUT_MARKER);
    out
}

/// RFC 8941 string content: `"` and `\` escaped (the text is already visible ASCII).
fn sf_string(s: &str) -> Cow<'_, str> {
    if !s.contains(['\\', '"']) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The headers for a diagnosed response (best diagnosis first in `diagnoses`); empty when there
/// is none.
pub fn headers(status: u16, diagnoses: &[Diagnosis]) -> Vec<(HeaderName, HeaderValue)> {
    let Some(best) = diagnoses.first() else {
        return Vec::new();
    };
    let ids = diagnoses
        .iter()
        .map(|d| d.rule.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let proxy_status = format!(
        "triage; received-status={status}; details=\"{}\"",
        sf_string(&sanitized(&best.rule, 200))
    );
    // Filled in order of importance, so the budget, if it runs short, cuts the long texts;
    // each carries its place in the response (rule, cause, fix, docs, operation, status).
    let mut wanted: Vec<(u8, &HeaderName, &str)> = Vec::with_capacity(6);
    wanted.push((5, &PROXY_STATUS, &proxy_status));
    wanted.push((0, &TRIAGE_RULE, &ids));
    if let Some(op) = &best.operation {
        wanted.push((4, &TRIAGE_OPERATION, op));
    }
    if let Some(d) = &best.docs {
        wanted.push((3, &TRIAGE_DOCS, d));
    }
    wanted.push((2, &TRIAGE_FIX, &best.fix));
    wanted.push((1, &TRIAGE_CAUSE, &best.cause));

    let mut budget = MAX_TOTAL;
    let mut out = Vec::with_capacity(wanted.len());
    for (place, name, value) in wanted {
        let overhead = name.as_str().len() + 4;
        if budget <= overhead + CUT_MARKER.len() {
            break;
        }
        let v = sanitize(value, MAX_VALUE.min(budget - overhead));
        if v.is_empty() {
            continue;
        }
        budget -= overhead + v.len();
        // The sanitised text becomes the value's bytes as they are, without another copy.
        if let Ok(hv) = HeaderValue::from_maybe_shared(bytes::Bytes::from(v)) {
            out.push((place, name.clone(), hv));
        }
    }
    out.sort_unstable_by_key(|(place, _, _)| *place);
    out.into_iter().map(|(_, n, v)| (n, v)).collect()
}

// Statics, not consts: a `HeaderName` is `Bytes` inside, which clippy rightly will not have
// copied into every use site.
static PROXY_STATUS: HeaderName = HeaderName::from_static("proxy-status");
static TRIAGE_RULE: HeaderName = HeaderName::from_static("triage-rule");
static TRIAGE_CAUSE: HeaderName = HeaderName::from_static("triage-cause");
static TRIAGE_FIX: HeaderName = HeaderName::from_static("triage-fix");
static TRIAGE_DOCS: HeaderName = HeaderName::from_static("triage-docs");
static TRIAGE_OPERATION: HeaderName = HeaderName::from_static("triage-operation");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Confidence, Severity};

    fn diag(cause: &str) -> Diagnosis {
        Diagnosis {
            rule: "missing-scope".into(),
            title: "t".into(),
            severity: Severity::Error,
            confidence: Confidence::Certain,
            cause: cause.into(),
            fix: "fix".into(),
            docs: None,
            sources: Vec::new().into(),
            evidence: vec![],
            operation: None,
        }
    }

    #[test]
    fn the_clean_fast_path_agrees_with_the_character_walk() {
        let long = "word ".repeat(300);
        let cases = [
            "",
            "plain text",
            "a  b",
            " lead",
            "trail ",
            "tab\there",
            "quote \" and \\ backslash",
            "caf\u{e9}",
            "exactly ten",
            "x",
            " ",
            "~ ~",
            "del\u{7f}x",
            "ends in del\u{7f}",
            "a b  c",
            long.trim_end(),
        ];
        for s in cases {
            for max in [0, 5, 11, 12, 40, 2048] {
                assert_eq!(sanitize(s, max), sanitize_each(s, max), "{s:?} at {max}");
            }
        }
    }

    #[test]
    fn hostile_text_stays_on_one_visible_line() {
        let s = sanitize("a\r\nInjected: 1\u{7}\tb é \u{1F600}", 1024);
        assert_eq!(s, "a Injected: 1 b \\u{e9} \\u{1f600}");
    }

    #[test]
    fn long_values_are_cut_with_marker() {
        let s = sanitize(&"x".repeat(20_000), MAX_VALUE);
        assert_eq!(s.len(), MAX_VALUE);
        assert!(s.ends_with(CUT_MARKER));
        let s = sanitize(&"é".repeat(2_000), 100);
        assert!(s.len() <= 100 && s.ends_with(CUT_MARKER), "{s}");
    }

    #[test]
    fn headers_in_order_and_within_budget() {
        let many: Vec<Diagnosis> = (0..400).map(|_| diag(&"c".repeat(5000))).collect();
        let h = headers(403, &many);
        let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["triage-rule", "triage-cause", "triage-fix", "proxy-status"]
        );
        let total: usize = h.iter().map(|(n, v)| n.as_str().len() + 4 + v.len()).sum();
        assert!(total <= MAX_TOTAL);
        assert!(h.iter().all(|(_, v)| v.len() <= MAX_VALUE));
        assert_eq!(
            h[3].1,
            "triage; received-status=403; details=\"missing-scope\""
        );

        let mut full = diag("cause");
        full.docs = Some("https://developer.genesys.cloud/x".into());
        full.operation = Some("getX".into());
        let names: Vec<String> = headers(403, &[full])
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "triage-rule",
                "triage-cause",
                "triage-fix",
                "triage-docs",
                "triage-operation",
                "proxy-status"
            ]
        );
    }
}

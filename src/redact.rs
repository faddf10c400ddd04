//! The one redaction policy. Every writer (logs, recordings, HAR exports, `triage redact`,
//! reports and the dashboard) goes through these functions instead of deciding for itself what
//! is secret.
//!
//! - Credentials (secret headers, cookies, secret query/form parameters, secret JSON keys at any
//!   depth) are replaced by `[redacted <fingerprint>]`: 8 hex digits of SHA-256, so two uses of
//!   the same token can still be told apart while the token itself is gone.
//! - Text that customers wrote (JSON `textBody`, `text`, `content` strings) is replaced by
//!   `[redacted: N chars]` unless the user asked to keep content.
//! - Everything is idempotent: redacting redacted data changes nothing (fingerprints survive a
//!   recording → HAR export).

use std::borrow::Cow;
use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue};
use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::exchange::{BodyPrefix, Exchange};

/// Headers whose values are credentials.
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Query, form and JSON keys whose values are credentials.
pub const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "token",
    "password",
    "assertion",
    "code_verifier",
];

/// JSON keys (at any depth of a request or response body) whose values are credentials. Unlike
/// [`SECRET_PARAMS`], `code` is not here: in JSON bodies it is the error code of the API.
pub const SECRET_JSON_KEYS: &[&str] = &[
    "client_secret",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "password",
    "assertion",
    "client_assertion",
    "code_verifier",
];

/// JSON keys whose string values are text that customers wrote.
pub const CONTENT_JSON_KEYS: &[&str] = &["textBody", "text", "content"];

/// Headers whose values are URLs that may carry secret query parameters (an OAuth redirect's
/// `code`), and HTTP/2's `:path` as some HAR tools keep it.
pub const URL_HEADERS: &[&str] = &[":path", "location", "content-location", "referer"];

pub fn is_secret_json_key(name: &str) -> bool {
    SECRET_JSON_KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(name))
}

pub fn is_content_json_key(name: &str) -> bool {
    CONTENT_JSON_KEYS.contains(&name)
}

pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

pub fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Whether a value is already a redaction placeholder (`[redacted 1a2b3c4d]`, possibly after a
/// scheme, or `[redacted: 12 chars]`), so that redacting twice keeps the first fingerprint.
pub fn is_redacted(value: &str) -> bool {
    static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:\S+ )?\[redacted(?: [0-9a-f]{8}|: \d+ chars)\]$").expect("valid regex")
    });
    PLACEHOLDER.is_match(value)
}

/// The placeholder for a credential: `[redacted <fingerprint>]`, or the value itself when it is
/// already a placeholder.
pub fn secret(value: &str) -> String {
    if is_redacted(value) {
        value.to_owned()
    } else {
        format!("[redacted {}]", fingerprint(value.as_bytes()))
    }
}

/// The placeholder for customer-written text: its length in characters.
pub fn content(text: &str) -> String {
    if is_redacted(text) {
        text.to_owned()
    } else {
        format!("[redacted: {} chars]", text.chars().count())
    }
}

/// A short, stable fingerprint of a secret, so two uses of the same token can be told apart
/// without the token being kept anywhere.
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let mut s = String::with_capacity(8);
    for b in &digest[..4] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A secret header value as it may be shown: the scheme kept (`Bearer`, `Basic`), the
/// credential replaced by its fingerprint.
pub fn header_value(name: &str, value: &[u8]) -> Cow<'static, str> {
    if URL_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return Cow::Owned(url(&String::from_utf8_lossy(value)).into_owned());
    }
    if !is_secret_header(name) {
        return Cow::Owned(String::from_utf8_lossy(value).into_owned());
    }
    let text = String::from_utf8_lossy(value);
    if is_redacted(&text) {
        return Cow::Owned(text.into_owned());
    }
    let (scheme, cred) = match text.split_once(' ') {
        Some((s, c))
            if name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("proxy-authorization") =>
        {
            (Some(s.to_owned()), c.trim().to_owned())
        }
        _ => (None, text.into_owned()),
    };
    let fp = fingerprint(cred.as_bytes());
    Cow::Owned(match scheme {
        Some(s) => format!("{s} [redacted {fp}]"),
        None => format!("[redacted {fp}]"),
    })
}

/// A query or form string with secret parameters' values replaced; other bytes untouched.
pub fn query(q: &str) -> Cow<'_, str> {
    if !q.split('&').any(|kv| match kv.split_once('=') {
        Some((k, v)) => is_secret_param(k) && !is_redacted(v),
        None => false,
    }) {
        return Cow::Borrowed(q);
    }
    let parts: Vec<String> = q
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if is_secret_param(k) => format!("{k}={}", secret(v)),
            _ => kv.to_owned(),
        })
        .collect();
    Cow::Owned(parts.join("&"))
}

/// `path?query` with the query redacted, for logs.
pub fn path_and_query<'a>(path: &'a str, query: Option<&str>) -> Cow<'a, str> {
    match query {
        Some(q) => Cow::Owned(format!("{path}?{}", self::query(q))),
        None => Cow::Borrowed(path),
    }
}

/// A URL (absolute, or `path?query`) with secret query parameters redacted; the rest untouched.
pub fn url(u: &str) -> Cow<'_, str> {
    let Some((head, rest)) = u.split_once('?') else {
        return Cow::Borrowed(u);
    };
    let (q, frag) = match rest.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (rest, None),
    };
    match query(q) {
        Cow::Borrowed(_) => Cow::Borrowed(u),
        Cow::Owned(q) => Cow::Owned(match frag {
            Some(f) => format!("{head}?{q}#{f}"),
            None => format!("{head}?{q}"),
        }),
    }
}

/// A header map with secret and URL-carrying header values redacted.
pub fn headers(map: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(map.len());
    for (name, value) in map {
        let redacted = header_value(name.as_str(), value.as_bytes());
        let value = if redacted.as_bytes() == value.as_bytes() {
            value.clone()
        } else {
            // Redacted values are built from ASCII placeholders and lossy UTF-8 of the original.
            HeaderValue::from_bytes(redacted.as_bytes())
                .unwrap_or_else(|_| HeaderValue::from_static("[redacted]"))
        };
        out.append(name.clone(), value);
    }
    out
}

/// A JSON value with secret keys (at any depth) replaced by placeholders and, unless
/// `keep_content`, customer-written text replaced by its length. Returns whether it changed.
pub fn json(value: &mut Value, keep_content: bool) -> bool {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_json_key(k) && !v.is_null() {
                    let text = match &*v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let red = secret(&text);
                    if red != text || !v.is_string() {
                        *v = Value::String(red);
                        changed = true;
                    }
                } else if !keep_content && is_content_json_key(k) && v.is_string() {
                    let text = v.as_str().unwrap_or_default();
                    let red = content(text);
                    if red != text {
                        *v = Value::String(red);
                        changed = true;
                    }
                } else {
                    changed |= json(v, keep_content);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                changed |= json(v, keep_content);
            }
        }
        _ => {}
    }
    changed
}

/// A request or response body (decoded bytes, possibly only a prefix) with secrets removed:
/// JSON through [`json`], forms through [`query`], and text that is neither (a cut-off JSON
/// prefix, say) by a textual pass over `"key": "value"` pairs. Unchanged bodies are borrowed.
pub fn body<'a>(bytes: &'a [u8], content_type: Option<&str>, keep_content: bool) -> Cow<'a, [u8]> {
    if bytes.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if let Ok(mut v) = serde_json::from_slice::<Value>(bytes) {
        if json(&mut v, keep_content) {
            return Cow::Owned(serde_json::to_vec(&v).unwrap_or_default());
        }
        return Cow::Borrowed(bytes);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        // Not text: nothing a textual policy can find. Binary bodies are kept as they are.
        return Cow::Borrowed(bytes);
    };
    let trimmed = text.trim_start();
    let looks_form = ct.contains("application/x-www-form-urlencoded")
        || (!trimmed.starts_with('{')
            && !trimmed.starts_with('[')
            && !trimmed.contains(char::is_whitespace)
            && trimmed.contains('='));
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if looks_form {
        if let Cow::Owned(q) = query(text.trim_end_matches(['\r', '\n'])) {
            out = Cow::Owned(q);
        }
    }
    if let Cow::Owned(t) = json_text(&out, keep_content) {
        out = Cow::Owned(t);
    }
    match out {
        Cow::Borrowed(_) => Cow::Borrowed(bytes),
        Cow::Owned(t) => Cow::Owned(t.into_bytes()),
    }
}

/// Textual redaction of `"key": "value"` pairs, for JSON that does not parse (cut off by the
/// inspection limit or by a truncated file). An unterminated value is redacted to the end.
fn json_text(text: &str, keep_content: bool) -> Cow<'_, str> {
    static PAIR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""([A-Za-z_]+)"(\s*:\s*)"((?:[^"\\]|\\.)*)("?)"#).expect("valid regex")
    });
    PAIR.replace_all(text, |c: &regex::Captures<'_>| {
        let key = &c[1];
        let value = &c[3];
        let red = if is_secret_json_key(key) {
            secret(value)
        } else if !keep_content && is_content_json_key(key) {
            content(value)
        } else {
            return c[0].to_owned();
        };
        format!("\"{key}\"{}\"{red}\"", &c[2])
    })
}

fn redact_prefix(body: &BodyPrefix, content_type: Option<&str>, keep_content: bool) -> BodyPrefix {
    match self::body(&body.bytes, content_type, keep_content) {
        Cow::Borrowed(_) => body.clone(),
        Cow::Owned(b) => BodyPrefix {
            bytes: b.into(),
            complete: body.complete,
        },
    }
}

/// An exchange as every writer may show it: secret headers, query parameters, form fields and
/// JSON keys redacted (fingerprints kept), customer text replaced by its length unless
/// `keep_content`. Paths, statuses and all other data are untouched.
pub fn exchange(ex: &Exchange, keep_content: bool) -> Exchange {
    let mut out = ex.clone();
    let ct = |h: &HeaderMap| {
        h.get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let req = &mut out.request;
    req.query = req.query.as_deref().map(|q| query(q).into_owned());
    req.body = redact_prefix(&req.body, ct(&req.headers).as_deref(), keep_content);
    req.headers = headers(&req.headers);
    if let Some(resp) = out.response.as_mut() {
        resp.body = redact_prefix(&resp.body, ct(&resp.headers).as_deref(), keep_content);
        resp.headers = headers(&resp.headers);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_keeps_scheme_and_fingerprint_only() {
        let v = header_value("Authorization", b"Bearer s3cr3t-token");
        assert!(v.starts_with("Bearer [redacted "), "{v}");
        assert!(!v.contains("s3cr3t"));
        assert_eq!(v, header_value("authorization", b"Bearer s3cr3t-token"));
        assert_ne!(v, header_value("authorization", b"Bearer other"));
    }

    #[test]
    fn query_secrets_are_replaced() {
        let q = query("grant_type=client_credentials&client_secret=abc&x=1");
        assert!(
            q.starts_with("grant_type=client_credentials&client_secret=[redacted "),
            "{q}"
        );
        assert!(q.ends_with("&x=1") && !q.contains("abc"));
        assert!(matches!(query("a=1&b=2"), Cow::Borrowed(_)));
    }

    #[test]
    fn non_secret_header_untouched() {
        assert_eq!(
            header_value("content-type", b"application/json"),
            "application/json"
        );
    }

    #[test]
    fn redaction_is_idempotent() {
        let once = header_value("authorization", b"Bearer tok-123");
        assert_eq!(header_value("authorization", once.as_bytes()), once);
        let q = query("code=abc&x=1").into_owned();
        assert_eq!(query(&q), q);
        assert!(is_redacted("[redacted: 12 chars]"));
        assert!(is_redacted("Bearer [redacted 0a1b2c3d]"));
        assert!(!is_redacted("Bearer abc"));
    }

    #[test]
    fn json_secrets_at_any_depth_and_content_by_length() {
        let body = br#"{"code":"bad.credentials","access_token":"AT-planted","nested":{"list":[{"client_secret":"CS-planted"}]},"textBody":"hello","message":{"text":"hi there"}}"#;
        let out = body_text(body, false);
        for planted in ["AT-planted", "CS-planted", "hello", "hi there"] {
            assert!(!out.contains(planted), "{planted} still in {out}");
        }
        assert!(out.contains(r#""code":"bad.credentials""#), "{out}");
        assert!(out.contains(r#""textBody":"[redacted: 5 chars]""#), "{out}");
        assert!(
            out.contains(&format!("[redacted {}]", fingerprint(b"AT-planted"))),
            "{out}"
        );
        let kept = body_text(body, true);
        assert!(
            kept.contains("hello") && !kept.contains("AT-planted"),
            "{kept}"
        );
    }

    #[test]
    fn forms_cut_off_json_and_urls() {
        let form = body_text(
            b"grant_type=authorization_code&code=C0DE&client_secret=S3C",
            false,
        );
        assert!(!form.contains("C0DE") && !form.contains("S3C"), "{form}");
        let cut = body_text(
            br#"{"access_token":"AT-cut","expires_in":86400,"refresh_token":"RT-cu"#,
            false,
        );
        assert!(!cut.contains("AT-cut") && !cut.contains("RT-cu"), "{cut}");
        assert_eq!(
            url("https://x/cb?code=abc#f"),
            format!("https://x/cb?code=[redacted {}]#f", fingerprint(b"abc"))
        );
        let loc = header_value("Location", b"https://app/cb?code=SECRET&state=1");
        assert!(
            !loc.contains("SECRET") && loc.ends_with("&state=1"),
            "{loc}"
        );
    }

    fn body_text(b: &[u8], keep: bool) -> String {
        String::from_utf8(body(b, None, keep).into_owned()).unwrap()
    }
}

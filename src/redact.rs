//! The one redaction policy. Every writer (logs now; recordings, HAR, reports and the dashboard
//! later) goes through these functions instead of deciding for itself what is secret.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

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

pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

pub fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Keys of JSON bodies whose values are credentials. As [`is_secret_param`], except `code`:
/// in a JSON body it is the Genesys error code (`ErrorBody.code`); an OAuth authorization code
/// travels in a query or form, never in the API's JSON.
pub fn is_secret_json_key(name: &str) -> bool {
    !name.eq_ignore_ascii_case("code") && is_secret_param(name)
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
    if !is_secret_header(name) {
        return Cow::Owned(String::from_utf8_lossy(value).into_owned());
    }
    let text = String::from_utf8_lossy(value);
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
    if !q
        .split('&')
        .any(|kv| is_secret_param(kv.split('=').next().unwrap_or("")))
    {
        return Cow::Borrowed(q);
    }
    let parts: Vec<String> = q
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if is_secret_param(k) => {
                format!("{k}=[redacted {}]", fingerprint(v.as_bytes()))
            }
            _ => kv.to_owned(),
        })
        .collect();
    Cow::Owned(parts.join("&"))
}

/// `path?query` with the query redacted, for logs.
pub fn path_and_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{path}?{}", self::query(q)),
        None => path.to_owned(),
    }
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
}

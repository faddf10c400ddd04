//! The one redaction policy. Every writer (logs, recordings, HAR exports, `triage redact`,
//! reports and the dashboard) goes through these functions instead of deciding for itself what
//! is secret.
//!
//! - Credentials (secret headers, cookies, secret query/form parameters, secret multipart
//!   fields, secret JSON keys at any depth, every field of an integration's
//!   `credentialFields`) are replaced by `[redacted <fingerprint>]`: 8 hex digits of SHA-256, so two uses of the same token can still be told apart while the token
//!   itself is gone.
//! - URLs are redacted in their query, in their fragment, where the implicit grant puts the
//!   token (`#access_token=…`), and in their authority's user part (`user:password@host`).
//! - Copies of an exchange's credentials anywhere else in it (an upstream message quoting the
//!   token it refused, a Basic password or a form's `client_secret` in an error description)
//!   get the same placeholder, wherever an exchange is recorded, shown or reported: see
//!   [`Secrets`]. Values shorter than [`Secrets::MIN_LEN`] bytes are not looked for.
//! - Names are matched the way a server may read them, not only as this file spells them:
//!   case and `_`/`-` are ignored (`clientSecret`, `Client-Secret`), and parameter names are
//!   percent-decoded first (`client%5Fsecret`). `;` separates parameters as `&` does.
//! - Text that customers wrote (JSON `textBody`, `text`, `content` strings) is replaced by
//!   `[redacted: N chars]` unless the user asked to keep content.
//! - A body that claims to be multipart but cannot be read as such is replaced whole by
//!   `[redacted multipart body: N bytes]`: what cannot be parsed cannot be shown safely.
//! - Everything is idempotent: redacting redacted data changes nothing (fingerprints survive a
//!   recording → HAR export).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

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
    // Not Genesys's, but a HAR from a browser or a gateway carries other services' keys too.
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-auth",
];

/// Query, form and multipart field names whose values are credentials: every JSON key of
/// [`SECRET_JSON_KEYS`], and the OAuth authorization `code`. Matched as [`is_secret_param`]
/// says (case, `_`/`-` and percent-encoding do not matter).
pub const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "token",
    "password",
    "assertion",
    "code_verifier",
    "secret",
    "api_key",
    "private_key",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    // The assertion an identity provider posts to the login host (SAML single sign-on): a
    // browser's HAR of a login carries it, and it logs in whoever replays it.
    "saml_response",
    "jwt",
    // Gateways in front of the API (`--any-host`) and signed URLs put their keys in the query:
    // Azure API Management's `subscription-key`, a SAS `sig`, S3's presigned `X-Amz-*`,
    // Google's `key`. No Platform API operation has a query parameter of these names.
    "key",
    "subscription_key",
    "sig",
    "signature",
    "x_amz_signature",
    "x_amz_security_token",
    "auth",
    "pwd",
    "passwd",
];

/// JSON keys (at any depth of a request or response body) whose values are credentials. Unlike
/// [`SECRET_PARAMS`], `code` is not here: in JSON bodies it is the error code of the API.
/// Matched as [`is_secret_json_key`] says: `clientSecret` (Genesys' own spelling, as in
/// `credentialFields` of `/api/v2/integrations/credentials`) is `client_secret`; `secret` is
/// the client secret in `/api/v2/oauth/clients` answers.
pub const SECRET_JSON_KEYS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "password",
    "assertion",
    "code_verifier",
    "secret",
    "api_key",
    "private_key",
    // A body that carries headers as data (a webhook's or an integration's configuration,
    // an SDK error printed as JSON).
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    // Guest chat's `CreateWebChatConversationResponse.jwt`: the guest's bearer credential for
    // the conversation's later calls.
    "jwt",
];

/// JSON keys whose members are all credentials, whatever their names: the `credentialFields`
/// of Genesys Cloud's integration credentials (`/api/v2/integrations/credentials`), where a
/// user-defined credential type names its fields as it likes (`apiToken`, `key`, `pin`).
/// Matched as [`is_secret_json_key`] matches.
pub const SECRET_JSON_CONTAINERS: &[&str] = &["credential_fields"];

/// JSON keys whose string values are text that customers wrote.
pub const CONTENT_JSON_KEYS: &[&str] = &["textBody", "text", "content"];

/// Headers whose values are URLs that may carry secret query parameters (an OAuth redirect's
/// `code`), and HTTP/2's `:path` as some HAR tools keep it.
pub const URL_HEADERS: &[&str] = &[":path", "location", "content-location", "referer"];

/// Longest secret name once normalised ("proxyauthorization"); a longer name cannot match, so
/// normalising needs no more room than this on the stack.
const MAX_NAME: usize = 18;

/// A name as it is compared with the lists: ASCII lowercase, `_` and `-` dropped and, for
/// parameter names (`decode`), `%XX` decoded and `+` read as a space first. `None` when it is
/// longer than any secret name. No allocation: this runs for every JSON key shown.
fn normalize(name: &[u8], decode: bool, buf: &mut [u8; MAX_NAME]) -> Option<usize> {
    let mut len = 0;
    let mut i = 0;
    while i < name.len() {
        let mut b = name[i];
        i += 1;
        if decode {
            if b == b'+' {
                b = b' ';
            } else if b == b'%' {
                if let Some(d) = name.get(i..i + 2).and_then(hex_byte) {
                    b = d;
                    i += 2;
                }
            }
        }
        if b == b'_' || b == b'-' {
            continue;
        }
        *buf.get_mut(len)? = b.to_ascii_lowercase();
        len += 1;
    }
    Some(len)
}

fn hex_byte(h: &[u8]) -> Option<u8> {
    let d = |c: u8| (c as char).to_digit(16);
    Some((d(h[0])? * 16 + d(h[1])?) as u8)
}

fn name_in(name: &[u8], decode: bool, list: &[Vec<u8>]) -> bool {
    let mut buf = [0; MAX_NAME];
    let Some(len) = normalize(name, decode, &mut buf) else {
        return false;
    };
    let norm = &buf[..len];
    // Compared whole with names normalised once: the rules ask this of every captured field
    // of every diagnosed response.
    list.iter().any(|k| k.as_slice() == norm)
}

/// A list of names as [`normalize`] writes them.
fn normalized(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter()
        .map(|k| {
            let mut buf = [0; MAX_NAME];
            let len = normalize(k.as_bytes(), false, &mut buf).expect("MAX_NAME fits every name");
            buf[..len].to_vec()
        })
        .collect()
}

static SECRET_JSON_NAMES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| normalized(SECRET_JSON_KEYS));
static SECRET_PARAM_NAMES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| normalized(SECRET_PARAMS));
static SECRET_JSON_CONTAINER_NAMES: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| normalized(SECRET_JSON_CONTAINERS));

/// Whether a JSON key holds a credential: `client_secret`, `clientSecret`, `Client-Secret` and
/// `CLIENTSECRET` alike.
pub fn is_secret_json_key(name: &str) -> bool {
    name_in(name.as_bytes(), false, &SECRET_JSON_NAMES)
}

/// Whether every member of a JSON object under this key is a credential
/// ([`SECRET_JSON_CONTAINERS`]).
pub fn is_secret_json_container(name: &str) -> bool {
    name_in(name.as_bytes(), false, &SECRET_JSON_CONTAINER_NAMES)
}

pub fn is_content_json_key(name: &str) -> bool {
    CONTENT_JSON_KEYS.contains(&name)
}

/// Whether a header's value is a credential by its name: one of [`SECRET_HEADERS`], or a name
/// that says so ([`SECRET_HEADER_WORDS`]: `X-Genesys-Token`, `X-Client-Secret`), as gateways
/// and SDK wrappers invent their own.
pub fn is_secret_header(name: &str) -> bool {
    // Asked of every header of every exchange a writer shows, and the `http` crate spells
    // names in lower case: the common ones are answered by one comparison. (A test holds
    // these to the general rule below.)
    match name {
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" => true,
        "host"
        | "date"
        | "accept"
        | "accept-encoding"
        | "accept-language"
        | "user-agent"
        | "content-type"
        | "content-length"
        | "content-encoding"
        | "transfer-encoding"
        | "connection"
        | "keep-alive"
        | "cache-control"
        | "pragma"
        | "vary"
        | "server"
        | "etag"
        | "location"
        | "retry-after"
        | "expires"
        | "last-modified"
        | "inin-correlation-id"
        | "x-request-id"
        | "via"
        | "origin"
        | "referer"
        | "strict-transport-security" => false,
        _ => secret_header_by_words(name),
    }
}

/// [`is_secret_header`]'s general rule.
fn secret_header_by_words(name: &str) -> bool {
    // Normalised once, on the stack.
    let mut buf = [0u8; 64];
    let long: Vec<u8>;
    let squeezed = name.bytes().filter(|b| *b != b'-' && *b != b'_');
    let norm: &[u8] = if name.len() <= buf.len() {
        let mut len = 0;
        for b in squeezed {
            buf[len] = b.to_ascii_lowercase();
            len += 1;
        }
        &buf[..len]
    } else {
        long = squeezed.map(|b| b.to_ascii_lowercase()).collect();
        &long
    };
    // [`SECRET_HEADERS`] whose names hold none of the words.
    if matches!(
        norm,
        b"authorization" | b"proxyauthorization" | b"cookie" | b"setcookie" | b"xauth"
    ) {
        return true;
    }
    // CORS headers name credentials without carrying any (`Access-Control-Allow-Credentials:
    // true`).
    if norm.starts_with(b"accesscontrol") {
        return false;
    }
    // Each word is tried only where its first letter stands.
    (0..norm.len()).any(|i| {
        matches!(
            norm[i],
            b't' | b's' | b'p' | b'a' | b'c' | b'f' | b'g' | b'j' | b'b'
        ) && SECRET_HEADER_WORDS
            .iter()
            .any(|w| norm[i..].starts_with(w.as_bytes()))
    })
}

/// Words that make a header name a credential's wherever they stand in it, compared as
/// [`normalize`] compares (case, `-` and `_` ignored). Not `key` (`Sec-WebSocket-Key`,
/// `Idempotency-Key`) nor `session` (`X-Journey-Session-Id`, which the API defines and which
/// is no credential). The `…key` words are the keys of gateways in front of the API (Azure API
/// Management's `Ocp-Apim-Subscription-Key`, Azure Functions' `X-Functions-Key`).
pub const SECRET_HEADER_WORDS: &[&str] = &[
    "token",
    "secret",
    "passw",
    "apikey",
    "credential",
    "subscriptionkey",
    "functionskey",
    "gatewaykey",
    "accesskey",
    "authkey",
    "privatekey",
    "clientkey",
    // A JWT or a bearer value is a credential whatever header carries it (`X-Genesys-Jwt`).
    "jwt",
    "bearer",
];

/// Whether a header (any name) carries a credential: by its name, or by a value that is one,
/// `Bearer …` or `Basic …` under a name no list knows (`X-Forwarded-Auth`).
pub fn is_secret_header_value(name: &str, value: &[u8]) -> bool {
    is_secret_header(name) || scheme_credential(value).is_some()
}

/// The credential of a value written as an `Authorization` header writes it: `Bearer <token>`
/// or `Basic <base64 of id:secret>`, alone in the value. A Basic one must decode to a pair,
/// and a Bearer one be at least 16 characters, so that prose (`Basic authentication`,
/// `Bearer token`) is not taken for one.
fn scheme_credential(value: &[u8]) -> Option<(&str, &str)> {
    // Asked of every header of every exchange a writer shows: the scheme is looked at first,
    // and most values have none.
    let value = value.trim_ascii();
    let space = value.iter().position(|&b| b == b' ')?;
    let scheme = &value[..space];
    if !scheme.eq_ignore_ascii_case(b"bearer") && !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    let (scheme, cred) = (&text[..space], text[space + 1..].trim());
    if cred.is_empty() || !cred.bytes().all(is_token68) || is_redacted(text) {
        return None;
    }
    credential_after_scheme(scheme, cred).then_some((scheme, cred))
}

/// `token68` of RFC 9110 §11.2, the characters of a credential after its scheme.
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

fn credential_after_scheme(scheme: &str, cred: &str) -> bool {
    if scheme.eq_ignore_ascii_case("bearer") {
        cred.len() >= 16
    } else if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(cred)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .is_some_and(|pair| pair.contains(':'))
    } else {
        false
    }
}

/// Every `Bearer <token>` and `Basic <id:secret>` credential written inside a text (a log
/// message a tool kept, a string under a name no policy knows), as [`scheme_credential`]
/// judges them, noted in `found`; the text is left as it is, for [`Secrets`] to scrub.
pub fn note_scheme_credentials(text: &str, found: &mut Vec<String>) {
    static SCHEME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(bearer|basic)[ \t]+([A-Za-z0-9\-._~+/]+=*)").expect("valid regex")
    });
    if !text
        .as_bytes()
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b"beare") || w.eq_ignore_ascii_case(b"basic"))
    {
        return;
    }
    for c in SCHEME.captures_iter(text) {
        // A sentence's full stop is not part of the token it ends.
        let (scheme, cred) = (&c[1], c[2].trim_end_matches('.'));
        if credential_after_scheme(scheme, cred) {
            note_header_credentials("authorization", Some(scheme), cred, &mut Some(found));
        }
    }
}

/// Whether a query, form or multipart field name (as written, possibly percent-encoded) holds a
/// credential: servers decode `client%5Fsecret` to `client_secret` before reading it.
pub fn is_secret_param(name: &str) -> bool {
    name_in(name.as_bytes(), true, &SECRET_PARAM_NAMES)
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
        return value.to_owned();
    }
    // A form or query value is fingerprinted as the server read it (`%2B` as `+`), so that the
    // one an upstream quotes back, or sends in a header, has the same placeholder as the one
    // sent: two fingerprints would say two secrets. (`+` is left alone: it is a space only in a
    // form, and a `+` in a token is far more common.)
    if value.contains('%') {
        let decoded = percent_decoded(value.as_bytes());
        if decoded.len() != value.len() {
            return format!("[redacted {}]", fingerprint(&decoded));
        }
    }
    format!("[redacted {}]", fingerprint(value.as_bytes()))
}

/// `%XX` decoded, nothing else; a `%` not followed by two hex digits stays as it is.
fn percent_decoded(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b.get(i + 1..i + 3).and_then(hex_byte) {
            Some(d) if b[i] == b'%' => {
                out.push(d);
                i += 3;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

/// [`secret`] of bytes that need not be UTF-8 (a multipart field); `None` when already a
/// placeholder.
fn secret_bytes(value: &[u8]) -> Option<Vec<u8>> {
    if std::str::from_utf8(value).is_ok_and(is_redacted) {
        return None;
    }
    Some(format!("[redacted {}]", fingerprint(value)).into_bytes())
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
    header_value_in(name, value, &mut None)
}

/// [`header_value`], adding the credentials it replaces to `found` (see [`Secrets`]).
pub fn header_value_found(name: &str, value: &[u8], found: &mut Vec<String>) -> Cow<'static, str> {
    header_value_in(name, value, &mut Some(found))
}

fn header_value_in(name: &str, value: &[u8], found: &mut Found<'_>) -> Cow<'static, str> {
    if URL_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return Cow::Owned(url_in(&String::from_utf8_lossy(value), found).into_owned());
    }
    if !is_secret_header_value(name, value) {
        return Cow::Owned(String::from_utf8_lossy(value).into_owned());
    }
    let text = String::from_utf8_lossy(value);
    if is_redacted(&text) {
        return Cow::Owned(text.into_owned());
    }
    let (scheme, cred) = split_credential(name, &text);
    let (scheme, cred) = (scheme.map(str::to_owned), cred.to_owned());
    if found.is_some() {
        note_header_credentials(name, scheme.as_deref(), &cred, found);
    }
    let fp = fingerprint(cred.as_bytes());
    Cow::Owned(match scheme {
        Some(s) => format!("{s} [redacted {fp}]"),
        None => format!("[redacted {fp}]"),
    })
}

/// A secret header's value as scheme and credential: `Bearer tok` is (`Bearer`, `tok`) for the
/// authorization headers; any other is all credential.
fn split_credential<'a>(name: &str, text: &'a str) -> (Option<&'a str>, &'a str) {
    let is_auth = name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("proxy-authorization");
    match text.split_once(' ') {
        Some((s, c)) if is_auth => (Some(s), c.trim()),
        // Any other header written as `Authorization` is written (`X-Genesys-Token: Bearer …`).
        _ => match scheme_credential(text.as_bytes()) {
            Some((s, c)) => (Some(s), c),
            None => (None, text),
        },
    }
}

/// The pieces of a secret header that an upstream may quote on their own: the credential after
/// the scheme, what a Basic credential decodes to (`client:secret`, and the secret alone; the
/// client id is no secret), cookie values (of a `Set-Cookie`, the first pair only: its
/// attributes, `Path=/` or a date, are not secret).
fn note_header_credentials(name: &str, scheme: Option<&str>, cred: &str, found: &mut Found<'_>) {
    note(found, cred);
    if scheme.is_some_and(|s| s.eq_ignore_ascii_case("basic")) {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(cred)
            .ok()
            .and_then(|d| String::from_utf8(d).ok());
        if let Some(pair) = decoded {
            note(found, &pair);
            if let Some((_, password)) = pair.split_once(':') {
                note(found, password);
            }
        }
    }
    let cookies = if name.eq_ignore_ascii_case("cookie") {
        usize::MAX
    } else if name.eq_ignore_ascii_case("set-cookie") {
        1
    } else {
        0
    };
    for pair in cred.split(';').take(cookies) {
        if let Some((_, v)) = pair.split_once('=') {
            note(found, v.trim().trim_matches('"'));
        }
    }
}

/// One `name=value` of a query or form string: where its name and value are, and whether it is
/// secret.
struct Param {
    name: Range<usize>,
    value: Range<usize>,
    secret: bool,
}

/// The `name=value` pairs of a query or form string. Some servers split at `;` as well as `&`,
/// so both end a pair; but a secret value runs on over `;` pieces without `=`
/// (`client_secret=ab;cd`), which a server splitting at `&` only reads as one secret.
fn params(q: &str) -> impl Iterator<Item = Param> + '_ {
    let b = q.as_bytes();
    let end_of = move |from: usize| {
        b[from..]
            .iter()
            .position(|&c| c == b'&' || c == b';')
            .map_or(b.len(), |p| from + p)
    };
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos <= b.len() {
            let start = pos;
            let end = end_of(start);
            pos = end + 1;
            let Some(eq) = b[start..end].iter().position(|&c| c == b'=') else {
                if start == end {
                    continue;
                }
                // A bare name (`a&flag&b=1`): a field without a value.
                return Some(Param {
                    name: start..end,
                    value: end..end,
                    secret: false,
                });
            };
            let secret = is_secret_param(&q[start..start + eq]);
            let mut value_end = end;
            if secret {
                while value_end < b.len() && b[value_end] == b';' {
                    let next = end_of(value_end + 1);
                    if b[value_end + 1..next].contains(&b'=') {
                        break;
                    }
                    value_end = next;
                }
                pos = value_end + 1;
                // A trailing `;` (`client_secret=X;`) ends the pair; it is not part of the secret.
                while value_end > start + eq + 1 && b[value_end - 1] == b';' {
                    value_end -= 1;
                }
            }
            return Some(Param {
                name: start..start + eq,
                value: start + eq + 1..value_end,
                secret,
            });
        }
        None
    })
}

/// The `name=value` fields of a query or form string as written (not decoded), split as
/// redaction splits them, so that what reads a field (the rules) and what hides it agree on
/// where it ends: `grant_type=x;assertion=…` is two fields, the second one secret.
pub fn form_fields(q: &str) -> impl Iterator<Item = (&str, &str)> + '_ {
    params(q).map(move |p| (&q[p.name], &q[p.value]))
}

/// The values of the secret parameters of a query or form string, as written.
pub fn secret_param_values(q: &str) -> impl Iterator<Item = &str> + '_ {
    params(q).filter(|p| p.secret).map(move |p| &q[p.value])
}

/// `%XX` decoded and `+` read as a space, as a server reads a parameter value.
fn form_decode(v: &str) -> Vec<u8> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if b.get(i + 1..i + 3).and_then(hex_byte).is_some() => {
                out.extend(b.get(i + 1..i + 3).and_then(hex_byte));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Whether a parameter value is already a placeholder, possibly percent-encoded by whatever
/// rebuilt the URL since (`[redacted%201a2b3c4d]`).
fn param_is_redacted(v: &str) -> bool {
    if is_redacted(v) {
        return true;
    }
    if !v.contains(['%', '+']) {
        return false;
    }
    std::str::from_utf8(&form_decode(v)).is_ok_and(is_redacted)
}

/// A query or form string with secret parameters' values replaced; names, separators and every
/// other byte untouched. Borrowed when nothing is secret.
pub fn query(q: &str) -> Cow<'_, str> {
    query_in(q, &mut None)
}

fn query_in<'a>(q: &'a str, found: &mut Found<'_>) -> Cow<'a, str> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for p in params(q) {
        let v = &q[p.value.clone()];
        if !p.secret || param_is_redacted(v) {
            continue;
        }
        if found.is_some() {
            note(found, v);
            // An upstream quotes the value it read, not the one that was sent.
            if v.contains(['%', '+']) {
                note(found, &String::from_utf8_lossy(&form_decode(v)));
            }
        }
        let o = out.get_or_insert_with(|| String::with_capacity(q.len() + 24));
        o.push_str(&q[copied..p.value.start]);
        o.push_str(&secret(v));
        copied = p.value.end;
    }
    match out {
        Some(mut o) => {
            o.push_str(&q[copied..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(q),
    }
}

/// `path?query` with the query redacted, for logs.
pub fn path_and_query<'a>(path: &'a str, query: Option<&str>) -> Cow<'a, str> {
    match query {
        Some(q) => Cow::Owned(format!("{path}?{}", self::query(q))),
        None => Cow::Borrowed(path),
    }
}

/// A URL (absolute, or `path?query`) with secret parameters redacted in its query and in its
/// fragment, where the implicit grant puts the token (`#access_token=…`); the rest untouched.
pub fn url(u: &str) -> Cow<'_, str> {
    url_in(u, &mut None)
}

/// [`url`], adding the credentials it replaces to `found` (see [`Secrets`]).
pub fn url_found<'a>(u: &'a str, found: &mut Vec<String>) -> Cow<'a, str> {
    url_in(u, &mut Some(found))
}

fn url_in<'a>(u: &'a str, found: &mut Found<'_>) -> Cow<'a, str> {
    if let Some((at, userinfo)) = userinfo_at(u) {
        // Credentials in the authority (`https://user:password@host/`): the password goes, or
        // the whole user part when it has none (a token given as the user name).
        let redacted = userinfo_redacted(userinfo, found);
        let rest = url_in(&u[at + userinfo.len()..], found);
        return Cow::Owned(format!("{}{redacted}{rest}", &u[..at]));
    }
    // The fragment begins at the first `#`; a `?` after it belongs to the fragment.
    let (before, frag) = match u.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (u, None),
    };
    let (head, q) = match before.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (before, None),
    };
    let q_red = q.map(|q| query_in(q, found));
    let frag_red = frag.map(|f| fragment(f, found));
    let changed = |c: &Option<Cow<'_, str>>| matches!(c, Some(Cow::Owned(_)));
    if !changed(&q_red) && !changed(&frag_red) {
        return Cow::Borrowed(u);
    }
    let mut out = String::with_capacity(u.len() + 24);
    out.push_str(head);
    if let Some(q) = q_red {
        out.push('?');
        out.push_str(&q);
    }
    if let Some(f) = frag_red {
        out.push('#');
        out.push_str(&f);
    }
    Cow::Owned(out)
}

/// Where the user part of an absolute URL's authority starts, and that part (`user:password`,
/// without the `@`): `None` when the URL has none, or is already redacted.
fn userinfo_at(u: &str) -> Option<(usize, &str)> {
    let scheme_end = u.find("://")?;
    if !u[..scheme_end]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let start = scheme_end + 3;
    let end = u[start..]
        .find(['/', '?', '#'])
        .map_or(u.len(), |i| start + i);
    let at = u[start..end].rfind('@')? + start;
    let info = &u[start..at];
    let password = info.split_once(':').map_or(info, |(_, p)| p);
    (!is_redacted(password) && !param_is_redacted(password)).then_some((start, info))
}

/// `user:[redacted …]` for `user:password`, `[redacted …]` for a user part alone.
fn userinfo_redacted(info: &str, found: &mut Found<'_>) -> String {
    match info.split_once(':') {
        Some((user, password)) => {
            note(found, password);
            format!("{user}:{}", secret(password))
        }
        None => {
            note(found, info);
            secret(info)
        }
    }
}

/// An authority as a log or an error may quote it (`host:port`, or `user:password@host`
/// from an absolute-form request): credentials in it redacted.
pub fn authority(a: &str) -> Cow<'_, str> {
    match a.rsplit_once('@') {
        Some((info, host)) => {
            let password = info.split_once(':').map_or(info, |(_, p)| p);
            if is_redacted(password) {
                return Cow::Borrowed(a);
            }
            Cow::Owned(format!("{}@{host}", userinfo_redacted(info, &mut None)))
        }
        None => Cow::Borrowed(a),
    }
}

/// A URL fragment with secret parameters redacted: `access_token=…&expires_in=…` as the
/// implicit grant writes it, or a single-page app's route with a query of its own
/// (`/callback?access_token=…`).
fn fragment<'a>(f: &'a str, found: &mut Found<'_>) -> Cow<'a, str> {
    match f.split_once('?') {
        Some((route, q)) if !route.contains(['=', '&']) => match query_in(q, found) {
            Cow::Owned(q) => Cow::Owned(format!("{route}?{q}")),
            Cow::Borrowed(_) => Cow::Borrowed(f),
        },
        _ => query_in(f, found),
    }
}

/// A header map with secret and URL-carrying header values redacted.
pub fn headers(map: &HeaderMap) -> HeaderMap {
    headers_in(map, &mut None)
}

fn headers_in(map: &HeaderMap, found: &mut Found<'_>) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(map.len());
    for (name, value) in map {
        let redacted = header_value_in(name.as_str(), value.as_bytes(), found);
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
    json_in(value, keep_content, &mut None)
}

/// [`json`], adding the credentials it replaces to `found` (see [`Secrets`]).
pub fn json_found(value: &mut Value, keep_content: bool, found: &mut Vec<String>) -> bool {
    json_in(value, keep_content, &mut Some(found))
}

fn json_in(value: &mut Value, keep_content: bool, found: &mut Found<'_>) -> bool {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_json_key(k) && !v.is_null() {
                    changed |= secret_value(k, v, found);
                } else if let (true, Value::Object(fields)) = (is_secret_json_container(k), &mut *v)
                {
                    for (name, field) in fields.iter_mut().filter(|(_, f)| !f.is_null()) {
                        changed |= secret_value(name, field, found);
                    }
                } else if !keep_content && is_content_json_key(k) && v.is_string() {
                    let text = v.as_str().unwrap_or_default();
                    let red = content(text);
                    if red != text {
                        *v = Value::String(red);
                        changed = true;
                    }
                } else {
                    changed |= json_in(v, keep_content, found);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                changed |= json_in(v, keep_content, found);
            }
        }
        Value::String(s) => {
            if let Some(mut inner) = embedded_json(s) {
                if json_in(&mut inner, keep_content, found) {
                    *s = inner.to_string();
                    changed = true;
                }
            }
        }
        _ => {}
    }
    changed
}

/// A string that holds a JSON document of its own: a data action's request template, a
/// configuration saved as text (`{"config":"{\"client_secret\":\"…\"}"}`). Its members are
/// credentials as the document's would be. Only an object or an array: a number or a word in
/// a string is text.
fn embedded_json(s: &str) -> Option<Value> {
    if !s.trim_start().starts_with(['{', '[']) {
        return None;
    }
    serde_json::from_str(s)
        .ok()
        .filter(|v: &Value| v.is_object() || v.is_array())
}

/// The value of a secret JSON member replaced by its placeholder (a non-string one as its JSON
/// text); whether it changed.
fn secret_value(key: &str, v: &mut Value, found: &mut Found<'_>) -> bool {
    let text = match &*v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if !is_redacted(&text) {
        note(found, &text);
        if found.is_some() {
            note_authorization_key(key, &text, found);
        }
    }
    let red = secret(&text);
    if red != text || !v.is_string() {
        *v = Value::String(red);
        return true;
    }
    false
}

/// Notes, in `found`, the credentials of a JSON document that [`json_in`] would replace, every
/// copy of a key given twice included (a server may read the first where a parser keeps the
/// last), in one pass over the text that builds no tree and runs no regex: for the proxy,
/// which does this for every diagnosed exchange. `false` when the bytes are not one JSON
/// document (a prefix, nesting past serde_json's limit), for the caller's textual pass.
fn note_json(bytes: &[u8], found: &mut Vec<String>) -> bool {
    use serde::de::DeserializeSeed as _;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk(found).deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// Whether a JSON text (or the start of one) may have a member whose name is a secret one, by
/// a look at its member names alone: without an escape in the text, every `"` opens or closes
/// a string, and the string that ends before a `:` is a name or nothing. A text with an escape
/// in it may spell a name otherwise (`\u0074oken`) and is taken to. Far cheaper than the walk,
/// and most error bodies name no credential.
fn may_name_a_secret(bytes: &[u8]) -> bool {
    if memchr::memchr(b'\\', bytes).is_some() {
        return true;
    }
    // Found from their colons, which are far fewer than the bytes: a name is the string that
    // ends just before one (spaces aside). Without escapes a `"` there closes a string, or
    // opens a value that starts with `:`; what lies before that one is no name of a secret,
    // and only looking at it is wasted, never a name missed.
    for colon in memchr::memchr_iter(b':', bytes) {
        let Some(close) = bytes[..colon]
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
        else {
            continue;
        };
        if bytes[close] != b'"' {
            continue;
        }
        let Some(open) = memchr::memrchr(b'"', &bytes[..close]) else {
            continue;
        };
        let name = &bytes[open + 1..close];
        // The shortest secret name is `jwt`; `_` and `-` only lengthen one.
        if name.len() < 3 {
            continue;
        }
        let mut buf = [0; MAX_NAME];
        if let Some(n) = normalize(name, false, &mut buf) {
            if !matches!(json_key_kind(&buf[..n]), KeyKind::Other) {
                return true;
            }
        }
    }
    false
}

/// [`note_json`]'s walk over any value.
struct Walk<'f>(&'f mut Vec<String>);

/// What a member's name makes of its value.
enum KeyKind {
    Other,
    Secret(Option<&'static str>),
    Container,
}

/// A member's name, classified as it is read, without keeping it.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = KeyKind;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<KeyKind, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for Key {
    type Value = KeyKind;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: serde::de::Error>(self, k: &str) -> Result<KeyKind, E> {
        // Normalised once for both lists: this runs for every member of every diagnosed body.
        let mut buf = [0; MAX_NAME];
        let Some(n) = normalize(k.as_bytes(), false, &mut buf) else {
            return Ok(KeyKind::Other);
        };
        Ok(json_key_kind(&buf[..n]))
    }
}

/// [`SECRET_JSON_KEYS`] and [`SECRET_JSON_CONTAINERS`] as [`normalize`] writes them, in a
/// `match` the compiler turns into a few comparisons (a test holds it to the lists).
fn json_key_kind(norm: &[u8]) -> KeyKind {
    match norm {
        b"authorization" => KeyKind::Secret(Some("authorization")),
        b"proxyauthorization" => KeyKind::Secret(Some("proxy-authorization")),
        b"cookie" => KeyKind::Secret(Some("cookie")),
        b"setcookie" => KeyKind::Secret(Some("set-cookie")),
        b"clientsecret" | b"clientassertion" | b"accesstoken" | b"refreshtoken" | b"idtoken"
        | b"token" | b"password" | b"assertion" | b"codeverifier" | b"secret" | b"apikey"
        | b"privatekey" | b"jwt" => KeyKind::Secret(None),
        b"credentialfields" => KeyKind::Container,
        _ => KeyKind::Other,
    }
}

/// A secret member's value: noted as [`secret_value`] notes it (a non-string as its JSON
/// text; `null` and placeholders not at all).
fn note_secret_value(v: &Value, header: Option<&str>, found: &mut Vec<String>) {
    let text = match v {
        Value::Null => return,
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    };
    if is_redacted(&text) {
        return;
    }
    found.push(text.clone().into_owned());
    if let Some(header) = header {
        note_as_header(header, &text, &mut Some(found));
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        // A JSON document inside a string (see [`embedded_json`]), walked as the body is.
        if s.trim_start().starts_with(['{', '[']) && may_name_a_secret(s.as_bytes()) {
            // Text that is not JSON after all is left as it is, as redaction leaves it.
            let _ = note_json(s.as_bytes(), self.0);
        }
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(kind) = map.next_key_seed(Key)? {
            match kind {
                KeyKind::Other => map.next_value_seed(Walk(&mut *self.0))?,
                // Rare: the value is kept whole to be noted as redaction would replace it.
                KeyKind::Secret(header) => {
                    let v: Value = map.next_value()?;
                    note_secret_value(&v, header, self.0);
                }
                KeyKind::Container => match map.next_value()? {
                    Value::Object(fields) => {
                        for (name, v) in &fields {
                            let header = note_header_of(name);
                            note_secret_value(v, header, self.0);
                        }
                    }
                    mut other => {
                        json_in(&mut other, true, &mut Some(&mut *self.0));
                    }
                },
            }
        }
        Ok(())
    }
}

/// The header a member of `credentialFields` stands for, when it is an authorization one.
fn note_header_of(name: &str) -> Option<&'static str> {
    let mut buf = [0; MAX_NAME];
    match normalize(name.as_bytes(), false, &mut buf).map(|n| &buf[..n]) {
        Some(b"authorization") => Some("authorization"),
        Some(b"proxyauthorization") => Some("proxy-authorization"),
        _ => None,
    }
}

/// An `Authorization` carried as data (a webhook's headers in JSON) holds what the header
/// would: an upstream may quote the token after the scheme alone, or a Basic pair decoded.
fn note_authorization_key(key: &str, value: &str, found: &mut Found<'_>) {
    if let Some(header) = note_header_of(key) {
        note_as_header(header, value, found);
    }
}

/// A value that stands for the authorization header `header`: its credential after the
/// scheme, noted as the header's would be.
fn note_as_header(header: &str, value: &str, found: &mut Found<'_>) {
    let (scheme, cred) = split_credential(header, value);
    if scheme.is_some() {
        note_header_credentials(header, scheme, cred, found);
    }
}

/// A request or response body (decoded bytes, possibly only a prefix) with secrets removed:
/// multipart bodies part by part, JSON through [`json`], forms through [`query`], and text that
/// is neither (a cut-off JSON prefix, say) by a textual pass over `"key": "value"` pairs.
/// Unchanged bodies are borrowed.
pub fn body<'a>(bytes: &'a [u8], content_type: Option<&str>, keep_content: bool) -> Cow<'a, [u8]> {
    body_at(bytes, content_type, keep_content, 0, &mut None)
}

/// [`body`], adding the credentials it replaces to `found` (see [`Secrets`]).
pub fn body_found<'a>(
    bytes: &'a [u8],
    content_type: Option<&str>,
    keep_content: bool,
    found: &mut Vec<String>,
) -> Cow<'a, [u8]> {
    body_at(bytes, content_type, keep_content, 0, &mut Some(found))
}

/// Multipart parts are bodies of their own, and may be multipart again; deeper than this they
/// are not read but replaced.
const MAX_MULTIPART_DEPTH: usize = 4;

fn body_at<'a>(
    bytes: &'a [u8],
    content_type: Option<&str>,
    keep_content: bool,
    depth: usize,
    found: &mut Found<'_>,
) -> Cow<'a, [u8]> {
    if bytes.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let ct = content_type.unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime
        .get(..10)
        .is_some_and(|m| m.eq_ignore_ascii_case("multipart/"))
    {
        return multipart(bytes, ct, keep_content, depth, found);
    }
    // A multipart body whose type was lost (a HAR without mimeType, a pasted request) still
    // names its fields: read it as such when it parses as such.
    if content_type.is_none() && bytes.starts_with(b"--") && depth < MAX_MULTIPART_DEPTH {
        if let Some((out, true)) = sniffed_boundary(bytes)
            .and_then(|b| multipart_parts(bytes, b, keep_content, depth, found))
        {
            return out;
        }
    }
    if let Ok(mut v) = serde_json::from_slice::<Value>(bytes) {
        if let Some(f) = found.as_deref_mut() {
            // A key given twice parses as its last value, where a server may read the first:
            // the walk notes every one.
            if may_name_a_secret(bytes) {
                note_json(bytes, f);
            }
        }
        if json_in(&mut v, keep_content, found) {
            return Cow::Owned(serde_json::to_vec(&v).unwrap_or_default());
        }
        return Cow::Borrowed(bytes);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        // Not text: nothing a textual policy can find. Binary bodies are kept as they are.
        return Cow::Borrowed(bytes);
    };
    let trimmed = text.trim_start();
    let looks_form = mime.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || (!trimmed.starts_with('{')
            && !trimmed.starts_with('[')
            && !trimmed.contains(char::is_whitespace)
            && trimmed.contains('='));
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if looks_form {
        let form = text.trim_end_matches(['\r', '\n']);
        if let Cow::Owned(mut q) = query_in(form, found) {
            q.push_str(&text[form.len()..]);
            out = Cow::Owned(q);
        }
    }
    if let Cow::Owned(t) = json_text(&out, keep_content, found) {
        out = Cow::Owned(t);
    }
    match out {
        Cow::Borrowed(_) => Cow::Borrowed(bytes),
        Cow::Owned(t) => Cow::Owned(t.into_bytes()),
    }
}

/// What replaces a body that says it is multipart but cannot be read as such: its fields
/// cannot be told apart, so none of it can be shown.
fn multipart_placeholder(len: usize) -> Vec<u8> {
    format!("[redacted multipart body: {len} bytes]").into_bytes()
}

fn is_multipart_placeholder(bytes: &[u8]) -> bool {
    static PLACEHOLDER: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r"^\[redacted multipart body: \d+ bytes\]$").expect("valid regex")
    });
    PLACEHOLDER.is_match(bytes)
}

/// A multipart body: by the boundary its type declares or, failing that, the one its first line
/// shows; replaced whole when neither reads.
fn multipart<'a>(
    bytes: &'a [u8],
    ct: &str,
    keep_content: bool,
    depth: usize,
    found: &mut Found<'_>,
) -> Cow<'a, [u8]> {
    if is_multipart_placeholder(bytes) {
        return Cow::Borrowed(bytes);
    }
    if depth >= MAX_MULTIPART_DEPTH {
        return Cow::Owned(multipart_placeholder(bytes.len()));
    }
    let declared = header_params(ct)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty());
    declared
        .and_then(|b| multipart_parts(bytes, b.as_bytes(), keep_content, depth, found))
        .or_else(|| {
            sniffed_boundary(bytes)
                .and_then(|b| multipart_parts(bytes, b, keep_content, depth, found))
        })
        .map_or_else(
            || Cow::Owned(multipart_placeholder(bytes.len())),
            |(out, _)| out,
        )
}

/// The boundary of a body whose first line is `--boundary`.
fn sniffed_boundary(bytes: &[u8]) -> Option<&[u8]> {
    let line = bytes.strip_prefix(b"--")?;
    let end = line.iter().position(|&c| c == b'\n')?;
    let b = line[..end].trim_ascii_end();
    (!b.is_empty() && b.len() <= 70 && b.iter().all(|c| c.is_ascii_graphic() || *c == b' '))
        .then_some(b)
}

/// Where the next delimiter line (`--boundary` at the start of a line) at or after `from`
/// begins, counting the line break before it, and where it ends.
fn find_delimiter(bytes: &[u8], from: usize, dash_boundary: &[u8]) -> Option<(usize, usize)> {
    let mut s = from;
    while let Some(p) = bytes
        .get(s..)?
        .windows(dash_boundary.len())
        .position(|w| w == dash_boundary)
    {
        let at = s + p;
        let after = at + dash_boundary.len();
        let line_start = at == 0 || bytes[at - 1] == b'\n';
        // `--boundaryX` is another boundary; `--boundary-` cut off may still be the closing one.
        let ends = match bytes.get(after) {
            None | Some(b' ' | b'\t' | b'\r' | b'\n') => true,
            Some(b'-') => bytes.get(after + 1).is_none_or(|&c| c == b'-'),
            Some(_) => false,
        };
        if line_start && ends {
            let start = match at {
                0 => 0,
                _ if at >= 2 && bytes[at - 2] == b'\r' => at - 2,
                _ => at - 1,
            };
            return Some((start.max(from), after));
        }
        s = at + 1;
    }
    None
}

/// Where a part's headers end and its content begins (after the blank line).
fn part_content_start(part: &[u8]) -> Option<(usize, usize)> {
    if part.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if part.starts_with(b"\n") {
        return Some((0, 1));
    }
    let mut i = 0;
    while let Some(p) = part[i..].iter().position(|&c| c == b'\n') {
        let nl = i + p;
        match &part[nl + 1..] {
            [b'\n', ..] => return Some((nl, nl + 2)),
            [b'\r', b'\n', ..] => return Some((nl, nl + 3)),
            _ => i = nl + 1,
        }
    }
    None
}

/// A multipart body with the values of secret fields replaced and every other part redacted as
/// a body of its own, and whether any part named itself (`Content-Disposition`). `None` when it
/// does not read as multipart with this boundary. A body cut off in a part's content (an
/// inspection-limit prefix) reads; one cut off in a part's headers does not.
fn multipart_parts<'a>(
    bytes: &'a [u8],
    boundary: &[u8],
    keep_content: bool,
    depth: usize,
    found: &mut Found<'_>,
) -> Option<(Cow<'a, [u8]>, bool)> {
    let dash_boundary = [b"--", boundary].concat();
    let (_, mut cur) = find_delimiter(bytes, 0, &dash_boundary)?;
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut named = false;
    loop {
        let rest = &bytes[cur..];
        if rest.starts_with(b"--") || rest == b"-" {
            // The closing delimiter: the epilogue is not part of any field.
            break;
        }
        let pad = rest
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        let part_start = match &rest[pad..] {
            [] => break,
            [b'\r', b'\n', ..] => cur + pad + 2,
            [b'\n', ..] => cur + pad + 1,
            // Cut off between `\r` and `\n`.
            [b'\r'] => break,
            _ => return None,
        };
        let next = find_delimiter(bytes, part_start, &dash_boundary);
        let part_end = next.map_or(bytes.len(), |(s, _)| s);
        let part = &bytes[part_start..part_end];
        let (headers_end, content_start) = part_content_start(part)?;
        let (name, secret, ct) = part_headers(&part[..headers_end]);
        named |= name;
        let content = &part[content_start..];
        let red = if secret {
            let red = secret_bytes(content);
            if red.is_some() && found.is_some() {
                note(found, &String::from_utf8_lossy(content));
            }
            red.map(Cow::Owned)
        } else {
            match body_at(content, ct.as_deref(), keep_content, depth + 1, found) {
                Cow::Owned(b) => Some(Cow::Owned(b)),
                Cow::Borrowed(_) => None,
            }
        };
        if let Some(red) = red {
            let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            o.extend_from_slice(&bytes[copied..part_start + content_start]);
            o.extend_from_slice(&red);
            copied = part_end;
        }
        match next {
            Some((_, after)) => cur = after,
            None => break,
        }
    }
    Some(match out {
        Some(mut o) => {
            o.extend_from_slice(&bytes[copied..]);
            (Cow::Owned(o), named)
        }
        None => (Cow::Borrowed(bytes), named),
    })
}

/// Of a part's headers: whether it has a `Content-Disposition`, whether the field it names is
/// secret (by `name` or RFC 5987 `name*`), and its `Content-Type`.
fn part_headers(headers: &[u8]) -> (bool, bool, Option<String>) {
    let text = String::from_utf8_lossy(headers);
    let (mut named, mut secret, mut ct) = (false, false, None);
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            named = true;
            secret |= header_params(value).iter().any(|(n, v)| {
                if n.eq_ignore_ascii_case("name") {
                    is_secret_param(v)
                } else if n.eq_ignore_ascii_case("name*") {
                    is_secret_param(v.rsplit_once('\'').map_or(&**v, |(_, v)| v))
                } else {
                    false
                }
            });
        } else if name.eq_ignore_ascii_case("content-type") {
            ct = Some(value.trim().to_owned());
        }
    }
    (named, secret, ct)
}

/// The parameters of a header value such as `form-data; name="a"; filename=b` or
/// `multipart/form-data; boundary=x`: names as written, quoted values unquoted. A first piece
/// without `=` is the type and skipped; a first piece with one is read as a parameter, so that a
/// disposition without its type still names its field.
fn header_params(v: &str) -> Vec<(&str, Cow<'_, str>)> {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = match v.find(';') {
        Some(semi) if !v[..semi].contains('=') => semi,
        None if !v.contains('=') => return out,
        _ => 0,
    };
    let ws = |c: u8| c == b' ' || c == b'\t';
    while i < b.len() {
        while i < b.len() && (b[i] == b';' || ws(b[i])) {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' {
            i += 1;
        }
        let name = v[name_start..i].trim();
        if i >= b.len() || b[i] == b';' {
            continue;
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if b.get(i) == Some(&b'"') {
            i += 1;
            let mut value = Vec::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
            i += 1;
            out.push((
                name,
                Cow::Owned(String::from_utf8_lossy(&value).into_owned()),
            ));
        } else {
            let value_start = i;
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
            out.push((name, Cow::Borrowed(v[value_start..i].trim())));
        }
    }
    out
}

/// Textual redaction of `"key": "value"` pairs, for JSON that does not parse (cut off by the
/// inspection limit or by a truncated file). An unterminated value is redacted to the end.
fn json_text<'a>(text: &'a str, keep_content: bool, found: &mut Found<'_>) -> Cow<'a, str> {
    static PAIR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""([A-Za-z0-9_-]+)"(\s*:\s*)"((?:[^"\\]|\\.)*)("?)"#).expect("valid regex")
    });
    PAIR.replace_all(text, |c: &regex::Captures<'_>| {
        let key = &c[1];
        let value = &c[3];
        let red = if is_secret_json_key(key) {
            if !is_redacted(value) && found.is_some() {
                note(found, value);
                // As it reads once unescaped, which is how a message quoting it spells it.
                if let Ok(decoded) = serde_json::from_str::<String>(&format!("\"{value}\"")) {
                    note_authorization_key(key, &decoded, found);
                    note(found, &decoded);
                }
            }
            secret(value)
        } else if !keep_content && is_content_json_key(key) {
            content(value)
        } else {
            return c[0].to_owned();
        };
        format!("\"{key}\"{}\"{red}\"", &c[2])
    })
}

fn redact_prefix(
    body: &BodyPrefix,
    content_type: Option<&str>,
    keep_content: bool,
    found: &mut Found<'_>,
) -> BodyPrefix {
    match body_at(&body.bytes, content_type, keep_content, 0, found) {
        Cow::Borrowed(_) => body.clone(),
        Cow::Owned(b) => BodyPrefix {
            // The size sent stays what it was: a HAR's bodySize is not the redacted copy's.
            original_size: body.size(),
            unknown_why: body.unknown_why.clone(),
            bytes: b.into(),
            complete: body.complete,
        },
    }
}

/// An exchange as every writer may show it: secret headers, query parameters, form fields and
/// JSON keys redacted (fingerprints kept), then every other copy of those credentials in it
/// (see [`Secrets`]); customer text replaced by its length unless `keep_content`. Paths,
/// statuses and all other data are untouched.
pub fn exchange(ex: &Exchange, keep_content: bool) -> Exchange {
    exchange_and_secrets(ex, keep_content).0
}

/// [`exchange`], and the credentials it found, for text made from the exchange elsewhere (a
/// diagnosis quoting the upstream's message).
pub fn exchange_and_secrets(ex: &Exchange, keep_content: bool) -> (Exchange, Secrets) {
    let mut found = Vec::new();
    let f = &mut Some(&mut found);
    let mut out = ex.clone();
    let ct = |h: &HeaderMap| {
        h.get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let req = &mut out.request;
    req.query = req.query.as_deref().map(|q| query_in(q, f).into_owned());
    req.body = redact_prefix(&req.body, ct(&req.headers).as_deref(), keep_content, f);
    req.headers = headers_in(&req.headers, f);
    if let Some(resp) = out.response.as_mut() {
        resp.body = redact_prefix(&resp.body, ct(&resp.headers).as_deref(), keep_content, f);
        resp.headers = headers_in(&resp.headers, f);
    }
    let secrets = Secrets::new(found);
    if !secrets.is_empty() {
        let req = &mut out.request;
        if let Some(Cow::Owned(q)) = req.query.as_deref().map(|q| secrets.scrub(q)) {
            req.query = Some(q);
        }
        if let Cow::Owned(p) = secrets.scrub(&req.path) {
            req.path = p;
        }
        secrets.scrub_prefix(&mut req.body);
        secrets.scrub_headers(&mut req.headers);
        if let Some(resp) = out.response.as_mut() {
            secrets.scrub_prefix(&mut resp.body);
            secrets.scrub_headers(&mut resp.headers);
        }
    }
    (out, secrets)
}

/// Where the redacting functions put each credential they replace when the caller wants to
/// find its other copies ([`Secrets`]); `None` when it does not (a log line), so that nothing
/// is copied on the proxy's path.
type Found<'a> = Option<&'a mut Vec<String>>;

/// The credentials of an exchange where redaction finds them (secret headers of the request
/// and the response, secret query parameters, and secret form, multipart and JSON fields of
/// either body, forms recognised as redaction recognises them, with or without their type),
/// without keeping a redacted copy: for the proxy, which must keep an upstream message that
/// echoes one of them (an `error_description` quoting the refresh token it refused) out of a
/// diagnosis it logs. Values shorter than [`Secrets::MIN_LEN`] are left out, as there.
pub fn credentials(ex: &Exchange) -> Vec<String> {
    let mut found = Vec::new();
    let f = &mut Some(&mut found);
    let ct = |h: &HeaderMap| {
        h.get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // As `header_value_in` notes them, without the placeholders it makes.
    let note_headers = |h: &HeaderMap, f: &mut Found<'_>| {
        for (name, value) in h {
            let (name, value) = (name.as_str(), value.as_bytes());
            if URL_HEADERS.iter().any(|u| u.eq_ignore_ascii_case(name)) {
                if value.iter().any(|b| matches!(b, b'?' | b'#' | b'@')) {
                    url_in(&String::from_utf8_lossy(value), f);
                }
            } else if is_secret_header_value(name, value) {
                let text = String::from_utf8_lossy(value);
                if !is_redacted(&text) {
                    let (scheme, cred) = split_credential(name, &text);
                    note_header_credentials(name, scheme, cred, f);
                }
            }
        }
    };
    // A JSON body (the usual one) is walked once, and not at all when it names no secret key
    // (then neither the walk nor the textual pass of a cut one has anything to note);
    // anything else is read as redaction reads it.
    let note_body = |bytes: &[u8], ct: Option<String>, f: &mut Found<'_>| {
        let form = ct.as_deref().is_some_and(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        let json = !form
            && bytes
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| matches!(b, b'{' | b'['));
        let noted = json
            && (!may_name_a_secret(bytes) || f.as_deref_mut().is_some_and(|f| note_json(bytes, f)));
        if !noted {
            body_at(bytes, ct.as_deref(), true, 0, f);
        }
    };
    let req = &ex.request;
    note_headers(&req.headers, f);
    if let Some(q) = req.query.as_deref() {
        query_in(q, f);
    }
    note_body(&req.body.bytes, ct(&req.headers), f);
    if let Some(resp) = &ex.response {
        note_headers(&resp.headers, f);
        note_body(&resp.body.bytes, ct(&resp.headers), f);
    }
    found.retain(|v| v.len() >= Secrets::MIN_LEN);
    found
}

/// Replaces, in what a diagnosis says, every copy of a credential of its exchange
/// ([`credentials`]) by the placeholder redaction gives it elsewhere.
///
/// What a diagnosis says is its rule's own text with the values it captured put in, and every
/// captured value is in its evidence (the request's method and path too): the values are
/// scrubbed, then put back where the cause and fix quote them. The rule's own text is never
/// searched, so a credential that is also a word of it (a password `secret`, and the fix's
/// `client_secret`) leaves that text whole.
pub fn scrub_diagnoses(ex: &Exchange, diagnoses: &mut [crate::diagnose::Diagnosis]) {
    if diagnoses.is_empty() {
        return;
    }
    let creds = credentials(ex);
    if creds.is_empty() {
        return;
    }
    // A rule's capture may cut a credential where the message has a delimiter of the rule's
    // (`scope [first-part]rest…]` gives `first-part`): the piece of it a captured value holds
    // goes too.
    let pieces = captured_pieces(diagnoses, &creds);
    // Most diagnoses quote no credential: one search of each value for each credential instead
    // of building the matcher. A value with escapes or entities in it may hold one spelled
    // otherwise (`\/`, `&amp;`), and gets the full pass.
    // (`str::contains`: the values are short, and a `memmem::Finder` costs more to build than
    // they take to search.)
    let quoted = |t: &str| {
        memchr::memchr2(b'\\', b'&', t.as_bytes()).is_some()
            || creds.iter().any(|c| t.contains(c.as_str()))
    };
    if pieces.is_empty()
        && !diagnoses
            .iter()
            .flat_map(|d| d.evidence.iter())
            .any(|(_, v)| quoted(v))
    {
        return;
    }
    // From here on the rare case: the shared mechanism, whatever it costs.
    let secrets = Secrets::new(creds);
    let scrub = |t: &str| -> Option<String> {
        let mut out = secrets.scrub(t);
        for (piece, placeholder) in &pieces {
            if out.contains(piece.as_str()) {
                out = Cow::Owned(out.replace(piece.as_str(), placeholder));
            }
        }
        match out {
            Cow::Owned(o) => Some(o),
            Cow::Borrowed(_) => None,
        }
    };
    for d in diagnoses {
        // Each value that held a credential, as it was and as it is now; the longest first,
        // so that a value inside another is put back after it.
        let mut changed: Vec<(Arc<str>, String)> = Vec::new();
        for (_, v) in &mut d.evidence {
            if let Some(t) = scrub(v) {
                changed.push((Arc::clone(v), t.clone()));
                *v = t.into();
            }
        }
        for text in [&mut d.cause, &mut d.fix] {
            if let Cow::Owned(t) = requote(text, &mut changed) {
                *text = t;
            }
        }
    }
}

/// `text` (a diagnosis's cause or fix: its rule's words with captured values put in) with
/// each value that redaction changed put back as it is shown: `(as captured, as shown)`, the
/// longest first so that a value inside another goes after it. Borrowed when none is there.
pub fn requote<'t, W: AsRef<str>>(text: &'t str, changed: &mut [(W, String)]) -> Cow<'t, str> {
    changed.sort_by_key(|c| std::cmp::Reverse(c.0.as_ref().len()));
    let mut out = Cow::Borrowed(text);
    for (was, now) in changed.iter() {
        let was = was.as_ref();
        if !was.is_empty() && out.contains(was) {
            out = Cow::Owned(out.replace(was, now));
        }
    }
    out
}

/// Whether a diagnosis's evidence named `name` holds a credential by its name. Evidence is
/// named by the rule's captures, not by headers: the header list counts, not its name words
/// (`token_scopes` is no credential).
pub fn is_secret_evidence(name: &str) -> bool {
    is_secret_json_key(name) || SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// A diagnosis as a writer shows it (its JSON: `cause`, `fix` and the captured `evidence`, an
/// object or `[name, value]` pairs), with the exchange's credentials (`secrets`) and every
/// value under a secret name redacted. The values are redacted, then put back where the cause
/// and fix quote them ([`requote`]); the rule's own words, the title and the docs are never
/// searched, so a credential that is also one of their words (a password `secret`, and the
/// fix's `client_secret`) leaves them whole.
pub fn diagnosis_json(d: &mut Value, secrets: &Secrets) {
    let mut changed: Vec<(String, String)> = Vec::new();
    let mut shown = |name: &str, v: &mut Value| {
        let Value::String(text) = v else {
            return;
        };
        let now = if is_secret_evidence(name) && !text.is_empty() {
            Cow::Owned(secret(text))
        } else {
            secrets.scrub(text)
        };
        if let Cow::Owned(now) = now {
            if now != *text {
                let was = std::mem::replace(text, now.clone());
                // As [`Secrets`] looks for none shorter, a short value may be a word of the
                // rule's own too.
                if was.len() >= Secrets::MIN_LEN {
                    changed.push((was, now));
                }
            }
        }
    };
    match d.get_mut("evidence") {
        Some(Value::Object(m)) => {
            for (k, v) in m.iter_mut() {
                shown(k, v);
            }
        }
        Some(Value::Array(pairs)) => {
            for pair in pairs {
                if let Some([Value::String(k), v]) = pair.as_array_mut().map(Vec::as_mut_slice) {
                    let k = k.clone();
                    shown(&k, v);
                }
            }
        }
        _ => {}
    }
    for key in ["cause", "fix"] {
        if let Some(Value::String(t)) = d.get_mut(key) {
            let new = match requote(t, &mut changed) {
                Cow::Borrowed(t) => secrets.scrub_words(t).into_owned(),
                Cow::Owned(t) => secrets.scrub_words(&t).into_owned(),
            };
            *t = new;
        }
    }
}

/// The pieces of credentials ([`PIECE_MIN`] bytes or more) that the diagnoses' captured values
/// hold cut off: a value that is inside a credential, or that ends with its beginning or
/// begins with its end; each with the placeholder of its credential, longest first. The
/// beginning of a Basic pair is its client id, no secret, and not taken for a piece.
fn captured_pieces(
    diagnoses: &[crate::diagnose::Diagnosis],
    creds: &[String],
) -> Vec<(String, String)> {
    let min = PIECE_MIN;
    let mut pieces: Vec<(String, String)> = Vec::new();
    let values = diagnoses
        .iter()
        .flat_map(|d| d.evidence.iter().map(|(_, v)| &**v));
    for v in values.filter(|v| v.len() >= min) {
        for c in creds.iter().filter(|c| c.len() > min) {
            let mut found: Vec<&str> = Vec::new();
            if c.contains(v) && v != c {
                found.push(v);
            }
            // The longest end of `v` that begins `c`, and the longest start of `v` that ends it.
            let lengths = || (min..c.len().min(v.len() + 1)).rev();
            let in_user_part = |p: &str| c.contains(':') && !p.contains(':');
            if let Some(p) =
                lengths().find_map(|k| c.get(..k).filter(|p| v.ends_with(p) && !in_user_part(p)))
            {
                found.push(p);
            }
            if let Some(p) =
                lengths().find_map(|k| c.get(c.len() - k..).filter(|p| v.starts_with(p)))
            {
                found.push(p);
            }
            for p in found {
                pieces.push((p.to_owned(), secret(c)));
            }
        }
    }
    pieces.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    pieces.dedup();
    pieces
}

/// The shortest piece of a credential looked for in what a rule captured: long enough not to
/// be a word of the message that a credential happens to begin or end with.
const PIECE_MIN: usize = 12;

fn note(found: &mut Found<'_>, value: &str) {
    if let Some(f) = found {
        f.push(value.to_owned());
    }
}

/// A credential as written, and as the usual escapers write it inside JSON (serde_json and
/// JavaScript; with `\/` as PHP; Go's `\u003c` for `<>&`; Python's and PHP's `\u00e9` beyond
/// ASCII; .NET's `\u0022` for HTML-sensitive characters and beyond ASCII) and HTML.
fn spellings(v: &str) -> Vec<String> {
    let mut out = vec![v.to_owned()];
    if v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.~:".contains(&b))
    {
        return out;
    }
    let go = |c: char| matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}');
    let dotnet = |c: char| !c.is_ascii() || "<>&'\"+`".contains(c);
    out.extend([
        json_spelling(v, |_| false, false, false),
        json_spelling(v, |_| false, false, true),
        json_spelling(v, go, false, false),
        json_spelling(v, |c| !c.is_ascii(), false, false),
        json_spelling(v, |c| !c.is_ascii(), false, true),
        json_spelling(v, dotnet, true, false),
    ]);
    // `"` and `'` as each escaper writes them, or not at all (Java's escapeHtml4 leaves `'`,
    // Python's `quote=False` both, Go writes `&#34;` and `&#39;`).
    let html = |quot: Option<&str>, apos: Option<&str>| {
        let mut s = String::with_capacity(v.len() + 16);
        for c in v.chars() {
            match (c, quot, apos) {
                ('&', ..) => s.push_str("&amp;"),
                ('<', ..) => s.push_str("&lt;"),
                ('>', ..) => s.push_str("&gt;"),
                ('"', Some(q), _) => s.push_str(q),
                ('\'', _, Some(a)) => s.push_str(a),
                (c, ..) => s.push(c),
            }
        }
        s
    };
    out.extend([
        html(Some("&quot;"), Some("&#39;")),
        html(Some("&quot;"), Some("&#x27;")),
        html(Some("&quot;"), None),
        html(Some("&#34;"), Some("&#39;")),
        html(None, None),
    ]);
    out.sort_unstable();
    out.dedup();
    out
}

/// `v` as a JSON string's content: `\u` escapes for what `as_u` says and control characters
/// (`upper` hex digits or lower), `\"`, `\\` and, with `slash`, `\/`.
fn json_spelling(v: &str, as_u: impl Fn(char) -> bool, upper: bool, slash: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(v.len() + 16);
    for c in v.chars() {
        if as_u(c) || (c as u32) < 0x20 {
            let short = match c {
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                _ => None,
            };
            match short.filter(|_| !as_u(c)) {
                Some(e) => s.push_str(e),
                None => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        let _ = if upper {
                            write!(s, "\\u{u:04X}")
                        } else {
                            write!(s, "\\u{u:04x}")
                        };
                    }
                }
            }
            continue;
        }
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '/' if slash => s.push_str("\\/"),
            c => s.push(c),
        }
    }
    s
}

/// The credentials of one exchange, as redacting its named fields found them, so that their
/// copies anywhere else in it are replaced too: an upstream message quoting the token it
/// refused (`Invalid token Bearer …`), the password of a Basic credential or a form's
/// `client_secret` echoed in an error description, a token in a non-secret header. Each copy
/// becomes the same `[redacted <fingerprint>]` as the field it came from.
///
/// Values shorter than [`Secrets::MIN_LEN`] bytes are not looked for: they are too likely to
/// be ordinary words or numbers of the exchange (`Basic eDp5` is `x:y`). Values that are part
/// of a placeholder's own text are not looked for either, so that redacting stays idempotent.
/// One pass over each text whatever the number of credentials.
#[derive(Default)]
pub struct Secrets {
    matcher: Option<aho_corasick::AhoCorasick>,
    /// The credentials and their escaped spellings, as the matcher's patterns are numbered.
    values: Vec<String>,
    /// What replaces each.
    placeholders: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    // Never the values themselves, even in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("placeholders", &self.placeholders)
            .finish()
    }
}

impl Secrets {
    /// The shortest credential looked for, in bytes. Real tokens and client secrets are far
    /// longer; a password of six bytes is still replaced.
    pub const MIN_LEN: usize = 6;

    /// Most bytes of credentials looked for with a DFA (see [`Secrets::new`]).
    const DFA_MAX_BYTES: usize = 1024;

    /// The words of every placeholder; a "credential" inside them would be found in every
    /// redacted text.
    const PLACEHOLDER_WORDS: &'static str = "[redacted multipart body: chars bytes]";

    /// The secrets among `values`, as the redacting functions reported them.
    pub fn new(mut values: Vec<String>) -> Self {
        for v in &mut values {
            // As an upstream quotes it: `Bearer  tok ` says `tok`.
            let t = v.trim();
            if t.len() != v.len() {
                *v = t.to_owned();
            }
        }
        values.retain(|v| {
            v.len() >= Self::MIN_LEN
                && !param_is_redacted(v)
                && !Self::PLACEHOLDER_WORDS.contains(v.as_str())
        });
        values.sort_unstable();
        values.dedup();
        if values.is_empty() {
            return Secrets::default();
        }
        // Each credential as written and as JSON and HTML escapers spell it: an upstream quotes
        // it inside the encoding of its own message.
        let mut patterns: Vec<(String, usize)> = values
            .iter()
            .enumerate()
            .flat_map(|(i, v)| spellings(v).into_iter().map(move |s| (s, i)))
            .collect();
        patterns.sort_unstable();
        patterns.dedup_by(|a, b| a.0 == b.0);
        // Longest first where two start at the same byte: `client:secret` over `secret`. The
        // build fails only past size limits far beyond any exchange's credentials. The DFA the
        // builder picks for few patterns takes time quadratic in a repetitive pattern's length
        // to build (minutes for a 64 KiB token of repeated text); past a few real tokens'
        // length an NFA, built in linear time, does.
        let total: usize = patterns.iter().map(|(p, _)| p.len()).sum();
        let matcher = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .kind(
                (total > Self::DFA_MAX_BYTES)
                    .then_some(aho_corasick::AhoCorasickKind::ContiguousNFA),
            )
            .build(patterns.iter().map(|(p, _)| p))
            .ok();
        let placeholders = patterns.iter().map(|(_, i)| secret(&values[*i])).collect();
        Secrets {
            matcher,
            values: patterns.into_iter().map(|(p, _)| p).collect(),
            placeholders,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `bytes` with every copy of a credential replaced; borrowed when there is none.
    pub fn scrub_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        self.scrub_where(bytes, |_| true)
    }

    /// A diagnosis's cause or fix with every copy of a credential replaced that stands as a
    /// word of its own: one inside a longer word (`client_secret`, for a password `secret`)
    /// is the rule's own text. What the diagnosis quotes is put back redacted first
    /// ([`requote`]); this catches a quote that its evidence does not hold.
    pub fn scrub_words<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let bytes = text.as_bytes();
        let out = self.scrub_where(bytes, |hit| {
            let inside_before =
                hit.start > 0 && word(bytes[hit.start - 1]) && word(bytes[hit.start]);
            let inside_after =
                hit.end < bytes.len() && word(bytes[hit.end]) && word(bytes[hit.end - 1]);
            !(inside_before || inside_after)
        });
        match out {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        }
    }

    /// `bytes` with the copies of credentials that `take` picks replaced.
    fn scrub_where<'a>(
        &self,
        bytes: &'a [u8],
        take: impl Fn(Range<usize>) -> bool,
    ) -> Cow<'a, [u8]> {
        let Some(m) = &self.matcher else {
            return Cow::Borrowed(bytes);
        };
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        for hit in m.find_iter(bytes).filter(|h| take(h.start()..h.end())) {
            let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 24));
            o.extend_from_slice(&bytes[copied..hit.start()]);
            o.extend_from_slice(self.placeholders[hit.pattern().as_usize()].as_bytes());
            copied = hit.end();
        }
        match out {
            Some(mut o) => {
                o.extend_from_slice(&bytes[copied..]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(bytes),
        }
    }

    /// `text` with every copy of a credential replaced; borrowed when there is none.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.scrub_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Whole UTF-8 patterns replaced by ASCII in UTF-8 text: still UTF-8.
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        }
    }

    /// Every string of a JSON value (a diagnosis, a HAR entry, a body) scrubbed, object keys
    /// included; whether one changed.
    pub fn scrub_json(&self, v: &mut Value) -> bool {
        if self.is_empty() {
            return false;
        }
        match v {
            Value::String(s) => match self.scrub(s) {
                Cow::Owned(new) => {
                    *s = new;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.scrub_json(v) | changed),
            Value::Object(map) => {
                let mut changed = map
                    .values_mut()
                    .fold(false, |changed, v| self.scrub_json(v) | changed);
                if map.keys().any(|k| matches!(self.scrub(k), Cow::Owned(_))) {
                    // Rare: an error keyed by the value it refused. Rebuilt in order.
                    *map = std::mem::take(map)
                        .into_iter()
                        .map(|(k, v)| (self.scrub(&k).into_owned(), v))
                        .collect();
                    changed = true;
                }
                changed
            }
            _ => false,
        }
    }

    /// A whole body (or a HAR's text of one) scrubbed. JSON may spell a copy with any
    /// character escaped (`\/`, `\u0026`, every one of them), so a JSON document with escapes
    /// in it is also searched as it decodes, and written anew when a copy was there.
    pub fn scrub_document<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let scrubbed = self.scrub_bytes(bytes);
        if self.is_empty() || memchr::memchr(b'\\', &scrubbed).is_none() {
            return scrubbed;
        }
        let Ok(mut v) = serde_json::from_slice::<Value>(&scrubbed) else {
            return scrubbed;
        };
        if !self.scrub_json(&mut v) {
            return scrubbed;
        }
        match serde_json::to_vec(&v) {
            Ok(b) => Cow::Owned(b),
            Err(_) => scrubbed,
        }
    }

    /// A body prefix scrubbed; when it was cut off (the inspection limit) inside a copy of a
    /// credential, the piece of it at the end goes too.
    fn scrub_prefix(&self, body: &mut BodyPrefix) {
        let mut bytes = if body.complete {
            self.scrub_document(&body.bytes)
        } else {
            self.scrub_bytes(&body.bytes)
        };
        if !body.complete {
            if let Some((cut, i)) = self.cut_copy(&bytes) {
                let mut b = bytes.into_owned();
                b.truncate(b.len() - cut);
                b.extend_from_slice(self.placeholders[i].as_bytes());
                bytes = Cow::Owned(b);
            }
        }
        if let Cow::Owned(b) = bytes {
            body.original_size = body.size();
            body.bytes = b.into();
        }
    }

    /// The longest end of `bytes` (at least [`Secrets::MIN_LEN`] long) that begins a
    /// credential, and which credential: linear in the credential's length (the prefix function
    /// of Knuth, Morris and Pratt), however the text repeats itself.
    fn cut_copy(&self, bytes: &[u8]) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for (i, v) in self.values.iter().enumerate() {
            let pat = v.as_bytes();
            let tail = &bytes[bytes.len().saturating_sub(pat.len() - 1)..];
            if tail.len() < Self::MIN_LEN {
                continue;
            }
            let mut fail = vec![0usize; pat.len()];
            let mut k = 0;
            for j in 1..pat.len() {
                while k > 0 && pat[j] != pat[k] {
                    k = fail[k - 1];
                }
                if pat[j] == pat[k] {
                    k += 1;
                }
                fail[j] = k;
            }
            let mut k = 0;
            for &c in tail {
                // `tail` is shorter than `pat`: `k` never reaches a whole match.
                while k > 0 && c != pat[k] {
                    k = fail[k - 1];
                }
                if c == pat[k] {
                    k += 1;
                }
            }
            if k >= Self::MIN_LEN && best.is_none_or(|(n, _)| k > n) {
                best = Some((k, i));
            }
        }
        best
    }

    /// Header values scrubbed (a token quoted in `WWW-Authenticate` or a custom error header).
    fn scrub_headers(&self, map: &mut HeaderMap) {
        for value in map.values_mut() {
            if let Cow::Owned(b) = self.scrub_bytes(value.as_bytes()) {
                *value = HeaderValue::from_bytes(&b)
                    .unwrap_or_else(|_| HeaderValue::from_static("[redacted]"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_form_value_and_its_quoted_copy_have_one_placeholder() {
        // Sent percent-encoded in a form, quoted back decoded by the upstream's error.
        let sent = "client_secret=j%2BhHX%7DxB%27q;grant_type=client_credentials";
        let redacted = super::query(sent);
        let placeholder = super::secret("j+hHX}xB'q");
        assert_eq!(
            redacted,
            format!("client_secret={placeholder};grant_type=client_credentials")
        );
        let mut found = Vec::new();
        super::url_found(&format!("/oauth/token?{sent}"), &mut found);
        let secrets = super::Secrets::new(found);
        assert_eq!(
            secrets.scrub("unauthorized_client: j+hHX}xB'q"),
            format!("unauthorized_client: {placeholder}")
        );
        // A `%` that starts no escape is the value's own.
        assert_ne!(super::secret("ab%zz"), super::secret("abzz"));
    }

    #[test]
    fn the_look_at_names_misses_no_secret_the_walk_finds() {
        // `may_name_a_secret` may say yes wrongly (then the walk runs), never no wrongly.
        let bodies: &[&str] = &[
            r#"{"access_token":"abcdefgh"}"#,
            r#"{ "client_secret" : "abcdefgh" }"#,
            "{\"token\"\n\t:\n\"abcdefgh\"}",
            r#"{"a":":","token":"abcdefgh"}"#,
            r#"{"a:b":"x","Access-Token":"abcdefgh"}"#,
            r#"{"message":"Error: token: nope","password":"abcdefgh"}"#,
            r#"[{"x":{"y":[{"refreshToken":"abcdefgh"}]}}]"#,
            r#"{"credentialFields":{"k":"abcdefgh"}}"#,
            r#"{"\u0074oken":"abcdefgh"}"#,
        ];
        for body in bodies {
            let mut found = Vec::new();
            assert!(super::note_json(body.as_bytes(), &mut found), "{body}");
            assert!(!found.is_empty(), "the walk finds a secret in {body}");
            assert!(
                super::may_name_a_secret(body.as_bytes()),
                "missed in {body}"
            );
        }
        for body in [
            r#"{"message":"The request conflicts: token","code":"request.conflict","status":409}"#,
            r#"{"tokens":"x","secretary":"y","a":":token"}"#,
            r#"{"access_tok"#,
        ] {
            assert!(!super::may_name_a_secret(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn common_header_names_get_the_general_rules_answer() {
        // Each name `is_secret_header` answers by a comparison, and a few it does not.
        for name in [
            "authorization",
            "proxy-authorization",
            "cookie",
            "set-cookie",
            "host",
            "date",
            "accept",
            "accept-encoding",
            "accept-language",
            "user-agent",
            "content-type",
            "content-length",
            "content-encoding",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "cache-control",
            "pragma",
            "vary",
            "server",
            "etag",
            "location",
            "retry-after",
            "expires",
            "last-modified",
            "inin-correlation-id",
            "x-request-id",
            "via",
            "origin",
            "referer",
            "strict-transport-security",
            "x-genesys-token",
            "access-control-allow-credentials",
            "Authorization",
        ] {
            assert_eq!(
                is_secret_header(name),
                secret_header_by_words(name),
                "{name}"
            );
        }
    }
    use super::*;

    #[test]
    fn the_json_key_match_is_the_lists() {
        let kind = |k: &str| {
            let mut buf = [0; MAX_NAME];
            match normalize(k.as_bytes(), false, &mut buf) {
                Some(n) => json_key_kind(&buf[..n]),
                None => KeyKind::Other,
            }
        };
        for k in SECRET_JSON_KEYS {
            assert!(matches!(kind(k), KeyKind::Secret(_)), "{k}");
        }
        for k in SECRET_JSON_CONTAINERS {
            assert!(matches!(kind(k), KeyKind::Container), "{k}");
        }
        for k in [
            "code",
            "message",
            "textBody",
            "contextId",
            "proxy_authorization",
        ] {
            assert_eq!(
                matches!(kind(k), KeyKind::Other),
                !is_secret_json_key(k) && !is_secret_json_container(k),
                "{k}"
            );
        }
    }

    #[test]
    fn header_names_that_say_credential_are_secret_and_others_are_not() {
        for name in SECRET_HEADERS.iter().copied().chain([
            "X-Genesys-Token",
            "x_client_secret",
            "X-Amz-Security-Token",
            "X-User-Password",
            "X-ApiKey",
            "X-Service-Credentials",
            "Set_Cookie",
            // Gateways' keys (`triage explain --any-host`).
            "Ocp-Apim-Subscription-Key",
            "Subscription-Key",
            "X-Functions-Key",
            "X-Gateway-Key",
            "X-Auth",
            "X-Genesys-Jwt",
            "X-Forwarded-Bearer",
        ]) {
            assert!(is_secret_header(name), "{name} should be secret");
        }
        // Each word counts wherever it stands: its first letter is one the look tries.
        for w in SECRET_HEADER_WORDS {
            assert!(secret_header_by_words(&format!("X-Vendor-{w}-Id")), "{w}");
        }
        for name in [
            "Access-Control-Allow-Credentials",
            "X-Journey-Session-Id",
            "Idempotency-Key",
            "Sec-WebSocket-Key",
            "ININ-Correlation-Id",
            "WWW-Authenticate",
            "Content-Type",
        ] {
            assert!(!is_secret_header(name), "{name} should not be secret");
        }
    }

    #[test]
    fn a_scheme_credential_under_any_name_is_redacted_and_prose_is_not() {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode("id:PW-0123456789");
        let mut found = Vec::new();
        let got = header_value_found("X-Relay", format!("Basic {basic}").as_bytes(), &mut found);
        assert_eq!(
            got,
            format!("Basic [redacted {}]", fingerprint(basic.as_bytes()))
        );
        assert!(found.contains(&"PW-0123456789".to_owned()), "{found:?}");
        let got = header_value("X-Fwd", b"Bearer abcDEF0123456789xyz");
        assert_eq!(
            got,
            format!("Bearer [redacted {}]", fingerprint(b"abcDEF0123456789xyz"))
        );
        for prose in [
            "Basic authentication",
            "Bearer token",
            "Basic realm=\"x\"",
            "Bearer [redacted 01234567]",
        ] {
            assert_eq!(header_value("X-Note", prose.as_bytes()), prose);
        }
        let mut found = Vec::new();
        note_scheme_credentials(
            "use Basic authentication, not Bearer tok-0123456789abcdef.",
            &mut found,
        );
        assert_eq!(found, ["tok-0123456789abcdef"]);
    }

    #[test]
    fn bearer_keeps_scheme_and_fingerprint_only() {
        let v = header_value("Authorization", b"Bearer s3cr3t-token");
        assert!(v.starts_with("Bearer [redacted "), "{v}");
        assert!(!v.contains("s3cr3t"));
        assert_eq!(v, header_value("authorization", b"Bearer s3cr3t-token"));
        assert_ne!(v, header_value("authorization", b"Bearer other"));
    }

    #[test]
    fn an_authorization_field_in_json_is_secret() {
        let mut v = serde_json::json!({"headers": {"Authorization": "Bearer JSONBEARER1"}});
        json(&mut v, true);
        let text = v.to_string();
        assert!(
            !text.contains("JSONBEARER1") && text.contains("[redacted "),
            "expected the value redacted, got {text}"
        );
    }

    #[test]
    fn other_services_api_keys_are_secret() {
        for name in ["X-Api-Key", "api-key", "X-Auth-Token", "x-access-token"] {
            let v = header_value(name, b"APIKEYSECRET");
            assert!(
                v.starts_with("[redacted ") && !v.contains("APIKEYSECRET"),
                "{name}: expected a placeholder, got {v}"
            );
        }
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
        // The keys of gateways and signed URLs, in front of the API.
        let q = query(
            "subscription-key=APIMKEY1&jwt=eyJ.x.y&key=GKEY&sig=SAS1&X-Amz-Signature=S3SIG\
             &X-Amz-Security-Token=STS1&pwd=PW1&auth=AU1&pageSize=25",
        );
        for planted in [
            "APIMKEY1", "eyJ", "GKEY", "SAS1", "S3SIG", "STS1", "PW1", "AU1",
        ] {
            assert!(!q.contains(planted), "{planted} in {q}");
        }
        assert!(q.ends_with("&pageSize=25"), "{q}");
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
        for q in [
            "client%5Fsecret=abc;x=1",
            "a=1;clientSecret=abc;x",
            "token=t&code=c",
        ] {
            let once = query(q).into_owned();
            assert_ne!(once, q);
            assert_eq!(query(&once), once);
        }
        // A placeholder that a URL writer percent-encoded since is still a placeholder.
        let enc = "code=%5Bredacted%201a2b3c4d%5D&x=1";
        assert!(matches!(query(enc), Cow::Borrowed(_)));
        let json = body_text(br#"{"clientSecret":"abc","nested":{"idToken":1}}"#, false);
        assert_eq!(body_text(json.as_bytes(), false), json);
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
    fn a_credential_that_is_a_word_of_a_rule_is_scrubbed_only_as_a_word_of_its_own() {
        let secrets = Secrets::new(vec!["secret".into(), "tok-0123456789".into()]);
        let red = |v: &[u8]| format!("[redacted {}]", fingerprint(v));
        assert_eq!(
            secrets.scrub_words(
                "base64(client_id:client_secret), sent secret; Bearer tok-0123456789."
            ),
            format!(
                "base64(client_id:client_secret), sent {}; Bearer {}.",
                red(b"secret"),
                red(b"tok-0123456789")
            )
        );
        assert!(matches!(secrets.scrub_words("secretive"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_inside_a_string_is_redacted_as_json() {
        // A data action's request template, a configuration saved as text.
        let body = br#"{"config":"{\"client_secret\":\"DBLJSON_KKK111\",\"url\":\"https://x\"}","n":"{not json"}"#;
        let out = body_text(body, false);
        assert!(!out.contains("DBLJSON_KKK111"), "{out}");
        assert!(
            out.contains(&format!(
                r#"\"client_secret\":\"[redacted {}]\""#,
                fingerprint(b"DBLJSON_KKK111")
            )),
            "{out}"
        );
        assert!(out.contains(r#""n":"{not json""#), "{out}");
        // And it is a credential of the exchange: quoted back, it is scrubbed from diagnoses.
        let mut found = Vec::new();
        assert!(note_json(body, &mut found));
        assert_eq!(found, ["DBLJSON_KKK111"]);
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

    #[test]
    fn json_keys_match_in_any_spelling() {
        let body = br#"{"credentialFields":{"clientSecret":"CREDSECRET1"},"accessToken":"AT-1","refreshToken":"RT-1","idToken":"IT-1","clientAssertion":"CA-1","codeVerifier":"CV-1","secret":"S-1","Client-Secret":"S-2","CLIENTSECRET":"S-3","apiKey":"AK-1","private_key":"PK-1","code":"bad.credentials","tokenType":"bearer","textBody":"hi"}"#;
        let out = body_text(body, false);
        for planted in [
            "CREDSECRET1",
            "AT-1",
            "RT-1",
            "IT-1",
            "CA-1",
            "CV-1",
            "S-1",
            "S-2",
            "S-3",
            "AK-1",
            "PK-1",
            "\"hi\"",
        ] {
            assert!(!out.contains(planted), "{planted} still in {out}");
        }
        let fp = fingerprint(b"CREDSECRET1");
        assert!(
            out.contains(&format!(r#"{{"clientSecret":"[redacted {fp}]"}}"#)),
            "{out}"
        );
        // The API's error code and other names that merely contain a secret word stay.
        assert!(out.contains(r#""code":"bad.credentials""#), "{out}");
        assert!(out.contains(r#""tokenType":"bearer""#), "{out}");
        for key in ["code", "tokenType", "secrets", "clientSecretHint", "text"] {
            assert!(!is_secret_json_key(key), "{key}");
        }
        // The textual pass over a cut-off body uses the same spellings.
        let cut = body_text(br#"{"accessToken":"AT-cut","Client-Secret":"CS-cu"#, false);
        assert!(!cut.contains("AT-cut") && !cut.contains("CS-cu"), "{cut}");
    }

    #[test]
    fn percent_encoded_and_respelled_param_names() {
        for (q, planted) in [
            ("client%5Fsecret=SEC_A1&x=1", "SEC_A1"),
            ("%63lient_secret=SEC&x=1", "SEC"),
            ("CLIENT%5fSECRET=SEC_B&x=1", "SEC_B"),
            ("clientSecret=SEC_C&x=1", "SEC_C"),
            ("client-secret=SEC_D&x=1", "SEC_D"),
            ("api_key=AK&x=1", "AK"),
            ("client_assertion=JWT&x=1", "JWT"),
            ("code=C0DE&x=1", "C0DE"),
        ] {
            let out = query(q);
            let name = q.split_once('=').unwrap().0;
            // The name is kept as written; only the value goes.
            assert_eq!(
                out,
                format!("{name}=[redacted {}]&x=1", fingerprint(planted.as_bytes())),
                "{q}"
            );
        }
        let form = body(
            b"grant_type=client_credentials&client%5Fsecret=FORMSECRET2",
            Some("application/x-www-form-urlencoded"),
            false,
        );
        let form = String::from_utf8(form.into_owned()).unwrap();
        assert_eq!(
            form,
            format!(
                "grant_type=client_credentials&client%5Fsecret=[redacted {}]",
                fingerprint(b"FORMSECRET2")
            )
        );
        // `+` is a space in a form: `client+secret` is another name.
        assert!(!is_secret_param("client+secret"));
        assert!(matches!(query("client+id=1&x=%5F"), Cow::Borrowed(_)));
    }

    #[test]
    fn semicolons_separate_params() {
        assert_eq!(
            query("a=1;client_secret=X"),
            format!("a=1;client_secret=[redacted {}]", fingerprint(b"X"))
        );
        assert_eq!(
            query("client_secret=X;b=2&c=3"),
            format!("client_secret=[redacted {}];b=2&c=3", fingerprint(b"X"))
        );
        // A `;` piece without `=` may be the rest of the secret to a server that splits at `&`.
        assert_eq!(
            query("client_secret=ab;cd&x=1"),
            format!("client_secret=[redacted {}]&x=1", fingerprint(b"ab;cd"))
        );
        let u = url("https://x/cb?state=1;code=C0DE#f");
        assert!(!u.contains("C0DE") && u.ends_with("#f"), "{u}");
        assert_eq!(
            query("client_secret=X;"),
            format!("client_secret=[redacted {}];", fingerprint(b"X"))
        );
        assert!(matches!(query("a=1;b=2&c"), Cow::Borrowed(_)));
        assert!(matches!(query(""), Cow::Borrowed(_)));
        assert!(matches!(query("&;=&x"), Cow::Borrowed(_)));
        assert_eq!(
            secret_param_values("a=1;token=T;x&client%5Fsecret=S").collect::<Vec<_>>(),
            ["T;x", "S"]
        );
    }

    const MULTIPART_CT: &str = "multipart/form-data; boundary=\"XyZ-42\"";

    fn multipart_body() -> Vec<u8> {
        let mut b = b"--XyZ-42\r\n\
            Content-Disposition: form-data; name=\"grant_type\"\r\n\r\n\
            client_credentials\r\n\
            --XyZ-42\r\n\
            Content-Disposition: form-data; name=\"client_secret\"\r\n\r\n\
            MPSECRET1\r\n\
            --XyZ-42\r\n\
            content-disposition: form-data; name*=UTF-8''client%5Fassertion\r\n\r\n\
            MPSECRET2\r\n\
            --XyZ-42\r\n\
            Content-Disposition: form-data; name=\"meta\"\r\n\
            Content-Type: application/json\r\n\r\n\
            {\"accessToken\":\"MPSECRET3\",\"textBody\":\"hello\"}\r\n\
            --XyZ-42\r\n\
            Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
            Content-Type: application/octet-stream\r\n\r\n"
            .to_vec();
        b.extend_from_slice(&[0xff, 0x00, 0xfe, b'=', 0x80]);
        b.extend_from_slice(b"\r\n--XyZ-42--\r\n");
        b
    }

    #[test]
    fn multipart_fields_by_name() {
        let input = multipart_body();
        let out = body(&input, Some(MULTIPART_CT), false).into_owned();
        let text = String::from_utf8_lossy(&out);
        for planted in ["MPSECRET1", "MPSECRET2", "MPSECRET3", "hello"] {
            assert!(!text.contains(planted), "{planted} still in {text}");
        }
        let fp = fingerprint(b"MPSECRET1");
        assert!(
            text.contains(&format!(
                "name=\"client_secret\"\r\n\r\n[redacted {fp}]\r\n--XyZ-42\r\n"
            )),
            "{text}"
        );
        assert!(text.contains("\r\n\r\nclient_credentials\r\n"), "{text}");
        // Binary parts and the framing are kept byte for byte.
        assert!(out.windows(5).any(|w| w == [0xff, 0x00, 0xfe, b'=', 0x80]));
        assert!(out.ends_with(b"\r\n--XyZ-42--\r\n"));
        assert_eq!(body(&out, Some(MULTIPART_CT), false), out);

        // Nothing secret: borrowed.
        let plain = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n";
        assert!(matches!(
            body(plain, Some("multipart/form-data; boundary=b"), false),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn multipart_without_its_type_or_cut_off() {
        let input = multipart_body();
        // No boundary in the type, or no type at all: the first line says it.
        for ct in [Some("multipart/form-data"), None] {
            let out = body_text_ct(&input, ct);
            assert!(
                !out.contains("MPSECRET1") && !out.contains("MPSECRET3"),
                "{out}"
            );
        }
        // Cut off inside the secret's value (an inspection-limit prefix): redacted to the end.
        let at = input.windows(9).position(|w| w == b"MPSECRET1").unwrap() + 4;
        let out = body_text_ct(&input[..at], Some(MULTIPART_CT));
        assert!(
            out.ends_with(&format!("[redacted {}]", fingerprint(b"MPSE"))),
            "{out}"
        );
        // LF-only line ends and an unquoted name.
        let lf = b"--b\nContent-Disposition: form-data; name=password\n\nPW-LF\n--b--\n";
        let out = body_text_ct(lf, Some("multipart/form-data; boundary=b"));
        assert!(!out.contains("PW-LF"), "{out}");
    }

    #[test]
    fn unreadable_multipart_is_replaced_whole() {
        let ct = Some("multipart/form-data; boundary=other");
        for input in [
            &b"client_secret=LEAK1"[..],
            b"--b\r\nContent-Disposition: form-data; name=\"client_secret\"\r\nLEAK2\r\n--b--",
            b"--b\r\nContent-Disposition: form-data; name=\"client_sec",
        ] {
            let out = body_text_ct(input, ct);
            assert_eq!(
                out,
                format!("[redacted multipart body: {} bytes]", input.len())
            );
            assert_eq!(body_text_ct(out.as_bytes(), ct), out);
        }
        // Without a multipart type, text that merely starts with `--` is read as before.
        assert!(matches!(
            body(b"-- hi\n\nthere", None, false),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn names_fit_the_normalising_buffer_and_json_keys_are_params() {
        for k in SECRET_PARAMS.iter().chain(SECRET_JSON_KEYS) {
            assert!(k.len() <= MAX_NAME + k.matches('_').count(), "{k}");
            assert_eq!(*k, k.to_ascii_lowercase());
            assert!(is_secret_param(k) && is_secret_param(&k.to_ascii_uppercase()));
        }
        for k in SECRET_JSON_KEYS {
            assert!(SECRET_PARAMS.contains(k), "{k}");
        }
        assert!(!is_secret_json_key("x_client_assertion_name_that_is_long"));
    }

    #[test]
    fn url_fragments_are_redacted_like_queries() {
        let fp = fingerprint(b"IMPLICITTOKEN1");
        for (input, expected) in [
            (
                "https://app/cb#access_token=IMPLICITTOKEN1&expires_in=86399&token_type=bearer",
                format!("https://app/cb#access_token=[redacted {fp}]&expires_in=86399&token_type=bearer"),
            ),
            (
                "https://app/cb?state=1#access_token=IMPLICITTOKEN1",
                format!("https://app/cb?state=1#access_token=[redacted {fp}]"),
            ),
            // A single-page app's route with a query of its own.
            (
                "https://app/#/callback?access_token=IMPLICITTOKEN1&state=1",
                format!("https://app/#/callback?access_token=[redacted {fp}]&state=1"),
            ),
            // A `?` after the `#` is the fragment's.
            (
                "/cb#id_token=IMPLICITTOKEN1?x",
                format!("/cb#id_token=[redacted {}]", fingerprint(b"IMPLICITTOKEN1?x")),
            ),
        ] {
            let got = url(input);
            assert_eq!(got, expected, "{input}");
            assert_eq!(url(&got), got, "idempotent: {input}");
        }
        for plain in ["https://app/cb#section", "https://x/a?b=1#c=2", "/p#"] {
            assert!(matches!(url(plain), Cow::Borrowed(_)), "{plain}");
        }
        for name in ["Location", "Referer", "Content-Location"] {
            let got = header_value(name, b"https://app/cb#access_token=IMPLICITTOKEN1&state=x");
            assert_eq!(
                got,
                format!("https://app/cb#access_token=[redacted {fp}]&state=x"),
                "{name}"
            );
        }
    }

    fn basic(user_password: &str) -> String {
        use base64::Engine as _;
        let cred = base64::engine::general_purpose::STANDARD.encode(user_password);
        format!("Basic {cred}")
    }

    fn exchange_of(
        req_headers: &[(&str, &str)],
        req_body: &str,
        status: u16,
        resp_headers: &[(&str, &str)],
        resp_body: &str,
    ) -> Exchange {
        let map = |h: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (n, v) in h {
                m.append(
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            m
        };
        Exchange {
            seq: 1,
            origin: crate::exchange::Origin::Live,
            started_at: std::time::UNIX_EPOCH,
            request: crate::exchange::Request {
                method: http::Method::POST,
                path: "/oauth/token".into(),
                query: None,
                headers: map(req_headers),
                body: BodyPrefix::complete(req_body.to_owned()),
                upstream: crate::exchange::UpstreamKind::Login,
                host: None,
                base_url: None,
                shown: crate::exchange::Shown::All,
            },
            response: Some(crate::exchange::Response {
                status: http::StatusCode::from_u16(status).unwrap(),
                version: None,
                headers: map(resp_headers),
                body: BodyPrefix::complete(resp_body.to_owned()),
                headers_shown: true,
            }),
            timings: Default::default(),
            inspection: Default::default(),
            outcome: None,
        }
    }

    fn response_text(ex: &Exchange) -> String {
        String::from_utf8_lossy(&ex.response.as_ref().unwrap().body.bytes).into_owned()
    }

    #[test]
    fn an_echoed_bearer_token_is_replaced_in_bodies_and_headers() {
        let ex = exchange_of(
            &[("authorization", "Bearer UPACCESSTOKEN1")],
            "",
            401,
            &[
                ("content-type", "text/plain"),
                (
                    "www-authenticate",
                    r#"Bearer error="invalid_token", token="UPACCESSTOKEN1""#,
                ),
            ],
            "Invalid token Bearer UPACCESSTOKEN1",
        );
        let fp = fingerprint(b"UPACCESSTOKEN1");
        let shown = exchange(&ex, false);
        assert_eq!(
            response_text(&shown),
            format!("Invalid token Bearer [redacted {fp}]")
        );
        let resp = shown.response.as_ref().unwrap();
        assert_eq!(
            resp.headers["www-authenticate"],
            format!(r#"Bearer error="invalid_token", token="[redacted {fp}]""#)
        );
        assert_eq!(
            shown.request.headers["authorization"],
            format!("Bearer [redacted {fp}]")
        );
        // Redacting what was redacted changes nothing.
        let twice = exchange(&shown, false);
        assert_eq!(response_text(&twice), response_text(&shown));
        assert_eq!(twice.response.unwrap().headers, resp.headers);
    }

    #[test]
    fn basic_credentials_are_looked_for_decoded_but_not_the_client_id() {
        let auth = basic("myclient:BASICPW9");
        let ex = exchange_of(
            &[("authorization", &auth)],
            "grant_type=client_credentials",
            400,
            &[],
            r#"{"error":"unauthorized_client","error_description":"client myclient with secret BASICPW9 may not use it, nor myclient:BASICPW9"}"#,
        );
        let (shown, secrets) = exchange_and_secrets(&ex, false);
        let expected = format!(
            r#"{{"error":"unauthorized_client","error_description":"client myclient with secret [redacted {}] may not use it, nor [redacted {}]"}}"#,
            fingerprint(b"BASICPW9"),
            fingerprint(b"myclient:BASICPW9"),
        );
        assert_eq!(response_text(&shown), expected);
        let cred = auth.strip_prefix("Basic ").unwrap();
        assert_eq!(
            secrets.scrub(&format!("bad header {auth}")),
            format!(
                "bad header Basic [redacted {}]",
                fingerprint(cred.as_bytes())
            )
        );
    }

    #[test]
    fn body_credentials_of_secret_names_are_looked_for_everywhere_in_the_exchange() {
        let ex = exchange_of(
            &[("content-type", "application/x-www-form-urlencoded")],
            "grant_type=refresh_token&client_id=myclient&client_secret=FORMPW9&refresh_token=REFRESH%2BPW9",
            400,
            &[("x-error", "secret FORMPW9 rejected")],
            "unauthorized_client: refresh token REFRESH+PW9 is revoked (FORMPW9)",
        );
        let (shown, secrets) = exchange_and_secrets(&ex, false);
        let (form, refresh) = (fingerprint(b"FORMPW9"), fingerprint(b"REFRESH+PW9"));
        assert_eq!(
            response_text(&shown),
            format!("unauthorized_client: refresh token [redacted {refresh}] is revoked ([redacted {form}])")
        );
        assert_eq!(
            shown.response.unwrap().headers["x-error"],
            format!("secret [redacted {form}] rejected")
        );
        // The client id is no secret.
        assert_eq!(secrets.scrub("client myclient"), "client myclient");

        let json = exchange_of(
            &[("content-type", "application/json")],
            r#"{"grant_type":"password","clientSecret":"JSONSECRET1","password":"PASSWORD9"}"#,
            401,
            &[],
            r#"{"error_description":"bad secret JSONSECRET1 or password PASSWORD9"}"#,
        );
        assert_eq!(
            response_text(&exchange(&json, false)),
            format!(
                r#"{{"error_description":"bad secret [redacted {}] or password [redacted {}]"}}"#,
                fingerprint(b"JSONSECRET1"),
                fingerprint(b"PASSWORD9")
            )
        );
    }

    /// An upstream quotes a credential inside the encoding of its own message: JSON escapes
    /// (serde's `\"`, PHP's `\/`, Go's `\u003c`, Python's `\u00e9`, or any character at all)
    /// and HTML entities. Each copy is found and replaced all the same.
    #[test]
    fn escaped_copies_of_a_credential_are_replaced() {
        const PW: &str = "pa\"s/s<&\u{e9}word9";
        let form = format!(
            "grant_type=password&username=u&password={}",
            "pa%22s%2Fs%3C%26%C3%A9word9"
        );
        let fp = fingerprint(PW.as_bytes());
        let json_bodies = [
            r#"{"error":"invalid_grant","error_description":"password pa\"s/s<&\u00e9word9 refused"}"#,
            r#"{"error":"invalid_grant","error_description":"password pa\"s\/s<&\u00e9word9 refused"}"#,
            r#"{"error":"invalid_grant","error_description":"password pa\"s/s\u003c\u0026\u00e9word9 refused"}"#,
            r#"{"error":"invalid_grant","error_description":"password pa\u0022s\u002fs\u003C\u0026\u00E9\u0077ord9 refused"}"#,
        ];
        for body in json_bodies {
            let ex = exchange_of(
                &[("content-type", "application/x-www-form-urlencoded")],
                &form,
                400,
                &[("content-type", "application/json")],
                body,
            );
            let got: Value =
                serde_json::from_slice(&exchange(&ex, false).response.unwrap().body.bytes).unwrap();
            assert_eq!(
                got["error_description"],
                format!("password [redacted {fp}] refused"),
                "{body}"
            );
        }
        for body in [
            "<p>password pa&quot;s/s&lt;&amp;\u{e9}word9 refused</p>",
            "<p>password pa&#34;s/s&lt;&amp;\u{e9}word9 refused</p>",
            "<p>password pa\"s/s&lt;&amp;\u{e9}word9 refused</p>",
        ] {
            let ex = exchange_of(&[], &form, 400, &[("content-type", "text/html")], body);
            assert_eq!(
                response_text(&exchange(&ex, false)),
                format!("<p>password [redacted {fp}] refused</p>"),
                "{body}"
            );
        }
    }

    /// An `Authorization` carried as data holds a token after its scheme, which an upstream
    /// may quote alone.
    #[test]
    fn a_token_in_a_json_authorization_is_looked_for_alone() {
        let ex = exchange_of(
            &[("content-type", "application/json")],
            r#"{"name":"hook","headers":{"Authorization":"Bearer WEBHOOKTOKEN9"}}"#,
            400,
            &[("content-type", "application/json")],
            r#"{"message":"Invalid value WEBHOOKTOKEN9","code":"invalid.value","status":400}"#,
        );
        let got = response_text(&exchange(&ex, false));
        assert!(
            got.contains(&format!(
                "Invalid value [redacted {}]",
                fingerprint(b"WEBHOOKTOKEN9")
            )),
            "{got}"
        );
    }

    /// A URL's user part is a credential (`https://user:password@host/`, or a token given as
    /// the user name), wherever the URL is shown: a HAR's URL, an absolute-form request.
    #[test]
    fn credentials_in_a_urls_authority_are_replaced() {
        let fp = fingerprint(b"URLPASSWORD9");
        let mut found = Vec::new();
        assert_eq!(
            url_found(
                "http://partner:URLPASSWORD9@partner.example.com/v1?a=1",
                &mut found
            ),
            format!("http://partner:[redacted {fp}]@partner.example.com/v1?a=1")
        );
        assert_eq!(found, ["URLPASSWORD9"]);
        let got = url("https://URLPASSWORD9@git.example.com/x");
        assert_eq!(got, format!("https://[redacted {fp}]@git.example.com/x"));
        assert_eq!(url(&got), got, "idempotent");
        assert_eq!(
            authority("partner:URLPASSWORD9@partner.example.com:8080"),
            format!("partner:[redacted {fp}]@partner.example.com:8080")
        );
        // An `@` after the authority is not a user part.
        for plain in ["https://host/a@b", "https://host/x?u=a@b.c", "mailto:a@b.c"] {
            assert!(matches!(url(plain), Cow::Borrowed(_)), "{plain}");
        }
    }

    /// A JSON key given twice parses as its last value, while a server may read the first:
    /// the credential of each is looked for.
    #[test]
    fn both_values_of_a_repeated_secret_key_are_looked_for() {
        let ex = exchange_of(
            &[("content-type", "application/json")],
            r#"{"credentialFields":{"token":"FIRSTTOKEN9"},"credentialFields":{"token":"LASTTOKEN9"}}"#,
            400,
            &[("content-type", "application/json")],
            r#"{"message":"Invalid value FIRSTTOKEN9","code":"invalid.value","status":400}"#,
        );
        let got = response_text(&exchange(&ex, false));
        assert!(
            got.contains(&format!(
                "Invalid value [redacted {}]",
                fingerprint(b"FIRSTTOKEN9")
            )),
            "{got}"
        );
    }

    /// Genesys Cloud's integration credentials name their fields as the credential type
    /// likes: every field of `credentialFields` is a credential. A SAML single sign-on post
    /// carries its assertion as `SAMLResponse`.
    #[test]
    fn credential_fields_and_saml_responses_are_secret() {
        let mut v = serde_json::json!({"name": "zendesk", "type": {"name": "userDefined"},
            "credentialFields": {"apiToken": "FIELDTOKEN9", "pin": 12345678, "loginUrl": "https://x"}});
        assert!(json(&mut v, false));
        let text = v.to_string();
        assert!(
            !text.contains("FIELDTOKEN9") && !text.contains("12345678"),
            "{text}"
        );
        assert_eq!(v["type"]["name"], "userDefined", "{text}");
        let form = query("SAMLResponse=PHNhbWxwOlJlc3BvbnNl9&RelayState=r1");
        assert_eq!(
            form,
            format!(
                "SAMLResponse=[redacted {}]&RelayState=r1",
                fingerprint(b"PHNhbWxwOlJlc3BvbnNl9")
            )
        );
    }

    #[test]
    fn short_values_and_cookie_attributes_are_not_looked_for() {
        let ex = exchange_of(
            &[
                ("authorization", &basic("x:short")),
                ("cookie", "a=1; session=COOKIEVAL9"),
            ],
            "password=12345",
            401,
            &[(
                "set-cookie",
                "sid=SETCOOKIE9; Path=/api/v2; Domain=example.com; HttpOnly",
            )],
            "user x, password 12345, short, path /api/v2 at example.com; COOKIEVAL9 SETCOOKIE9",
        );
        let got = response_text(&exchange(&ex, false));
        let expected = format!(
            "user x, password 12345, short, path /api/v2 at example.com; [redacted {}] [redacted {}]",
            fingerprint(b"COOKIEVAL9"),
            fingerprint(b"SETCOOKIE9")
        );
        assert_eq!(got, expected);
        // Nor is a credential that a placeholder's own words contain.
        let s = Secrets::new(vec!["redacted".into(), "[redacted".into()]);
        assert!(s.is_empty(), "{s:?}");
    }

    #[test]
    fn a_body_cut_inside_an_echoed_credential_loses_the_piece() {
        let mut ex = exchange_of(
            &[("authorization", "Bearer UPACCESSTOKEN1")],
            "",
            401,
            &[],
            "Invalid token Bearer UPACCESSTOK",
        );
        let fp = fingerprint(b"UPACCESSTOKEN1");
        ex.response.as_mut().unwrap().body.complete = false;
        assert_eq!(
            response_text(&exchange(&ex, false)),
            format!("Invalid token Bearer [redacted {fp}]")
        );
        // Fewer than MIN_LEN bytes of it at the end stay: as likely any other word.
        ex.response.as_mut().unwrap().body.bytes = "Invalid token Bearer UPAC".into();
        assert_eq!(
            response_text(&exchange(&ex, false)),
            "Invalid token Bearer UPAC"
        );
        // A whole body keeps its end.
        ex.response.as_mut().unwrap().body = BodyPrefix::complete("token UPACCESSTOK");
        assert_eq!(response_text(&exchange(&ex, false)), "token UPACCESSTOK");
    }

    #[test]
    fn scrub_replaces_every_credential_in_one_pass() {
        let s = Secrets::new(vec![
            "client:secret-value".into(),
            "secret-value".into(),
            " padded-token ".into(),
        ]);
        let got = s.scrub("a client:secret-value, b secret-value, c padded-token.");
        let expected = format!(
            "a [redacted {}], b [redacted {}], c [redacted {}].",
            fingerprint(b"client:secret-value"),
            fingerprint(b"secret-value"),
            fingerprint(b"padded-token")
        );
        assert_eq!(got, expected);
        assert!(matches!(s.scrub("nothing here"), Cow::Borrowed(_)));
        let mut v =
            serde_json::json!({"cause": "secret-value expired", "n": 1, "l": ["secret-value"]});
        assert!(s.scrub_json(&mut v));
        let fp = fingerprint(b"secret-value");
        assert_eq!(
            v,
            serde_json::json!({"cause": format!("[redacted {fp}] expired"), "n": 1, "l": [format!("[redacted {fp}]")]})
        );
    }

    fn body_text_ct(b: &[u8], ct: Option<&str>) -> String {
        String::from_utf8_lossy(&body(b, ct, false)).into_owned()
    }

    fn body_text(b: &[u8], keep: bool) -> String {
        String::from_utf8(body(b, None, keep).into_owned()).unwrap()
    }
}

//! The one redaction policy. Every writer (logs, recordings, HAR exports, `triage redact`,
//! reports and the dashboard) goes through these functions instead of deciding for itself what
//! is secret.
//!
//! - Credentials (secret headers, cookies, secret query/form parameters, secret multipart
//!   fields, secret JSON keys at any depth) are replaced by `[redacted <fingerprint>]`: 8 hex
//!   digits of SHA-256, so two uses of the same token can still be told apart while the token
//!   itself is gone.
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
];

/// JSON keys whose string values are text that customers wrote.
pub const CONTENT_JSON_KEYS: &[&str] = &["textBody", "text", "content"];

/// Headers whose values are URLs that may carry secret query parameters (an OAuth redirect's
/// `code`), and HTTP/2's `:path` as some HAR tools keep it.
pub const URL_HEADERS: &[&str] = &[":path", "location", "content-location", "referer"];

/// Longest secret name once normalised ("clientassertion"); a longer name cannot match, so
/// normalising needs no more room than this on the stack.
const MAX_NAME: usize = 16;

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

/// Whether a JSON key holds a credential: `client_secret`, `clientSecret`, `Client-Secret` and
/// `CLIENTSECRET` alike.
pub fn is_secret_json_key(name: &str) -> bool {
    name_in(name.as_bytes(), false, &SECRET_JSON_NAMES)
}

pub fn is_content_json_key(name: &str) -> bool {
    CONTENT_JSON_KEYS.contains(&name)
}

pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
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
        value.to_owned()
    } else {
        format!("[redacted {}]", fingerprint(value.as_bytes()))
    }
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

/// One `name=value` of a query or form string: where its value is, and whether it is secret.
struct Param {
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
                continue;
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
                value: start + eq + 1..value_end,
                secret,
            });
        }
        None
    })
}

/// The values of the secret parameters of a query or form string, as written.
pub fn secret_param_values(q: &str) -> impl Iterator<Item = &str> + '_ {
    params(q).filter(|p| p.secret).map(move |p| &q[p.value])
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
    std::str::from_utf8(&out).is_ok_and(is_redacted)
}

/// A query or form string with secret parameters' values replaced; names, separators and every
/// other byte untouched. Borrowed when nothing is secret.
pub fn query(q: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for p in params(q) {
        let v = &q[p.value.clone()];
        if !p.secret || param_is_redacted(v) {
            continue;
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
/// multipart bodies part by part, JSON through [`json`], forms through [`query`], and text that
/// is neither (a cut-off JSON prefix, say) by a textual pass over `"key": "value"` pairs.
/// Unchanged bodies are borrowed.
pub fn body<'a>(bytes: &'a [u8], content_type: Option<&str>, keep_content: bool) -> Cow<'a, [u8]> {
    body_at(bytes, content_type, keep_content, 0)
}

/// Multipart parts are bodies of their own, and may be multipart again; deeper than this they
/// are not read but replaced.
const MAX_MULTIPART_DEPTH: usize = 4;

fn body_at<'a>(
    bytes: &'a [u8],
    content_type: Option<&str>,
    keep_content: bool,
    depth: usize,
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
        return multipart(bytes, ct, keep_content, depth);
    }
    // A multipart body whose type was lost (a HAR without mimeType, a pasted request) still
    // names its fields: read it as such when it parses as such.
    if content_type.is_none() && bytes.starts_with(b"--") && depth < MAX_MULTIPART_DEPTH {
        if let Some((out, true)) =
            sniffed_boundary(bytes).and_then(|b| multipart_parts(bytes, b, keep_content, depth))
        {
            return out;
        }
    }
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
    let looks_form = mime.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        || (!trimmed.starts_with('{')
            && !trimmed.starts_with('[')
            && !trimmed.contains(char::is_whitespace)
            && trimmed.contains('='));
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if looks_form {
        let form = text.trim_end_matches(['\r', '\n']);
        if let Cow::Owned(mut q) = query(form) {
            q.push_str(&text[form.len()..]);
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
fn multipart<'a>(bytes: &'a [u8], ct: &str, keep_content: bool, depth: usize) -> Cow<'a, [u8]> {
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
        .and_then(|b| multipart_parts(bytes, b.as_bytes(), keep_content, depth))
        .or_else(|| {
            sniffed_boundary(bytes).and_then(|b| multipart_parts(bytes, b, keep_content, depth))
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
            secret_bytes(content).map(Cow::Owned)
        } else {
            match body_at(content, ct.as_deref(), keep_content, depth + 1) {
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
fn json_text(text: &str, keep_content: bool) -> Cow<'_, str> {
    static PAIR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""([A-Za-z0-9_-]+)"(\s*:\s*)"((?:[^"\\]|\\.)*)("?)"#).expect("valid regex")
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

    fn body_text_ct(b: &[u8], ct: Option<&str>) -> String {
        String::from_utf8_lossy(&body(b, ct, false)).into_owned()
    }

    fn body_text(b: &[u8], keep: bool) -> String {
        String::from_utf8(body(b, None, keep).into_owned()).unwrap()
    }
}

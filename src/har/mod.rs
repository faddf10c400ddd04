//! HAR 1.2 output, streamed entry by entry, always through the one redaction policy
//! ([`crate::redact`]):
//! - [`HarWriter`]: exchanges (with their diagnoses in the entry's `_triage` custom field, per
//!   HAR's rule that custom fields start with `_`) → a HAR file (`triage export --har`).
//! - [`redact_har`]: a customer's HAR → the same HAR with secrets removed (`triage redact`),
//!   keeping everything else (pages, initiators, timings, tool-specific fields) as it was.

use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use http::HeaderMap;
use serde_json::{json, Value};

use crate::exchange::{version_text, BodyPrefix, Exchange, Origin};
use crate::ingest::har::{EntryError, HarEvent, HarScanner};
use crate::ingest::IngestError;
use crate::redact;

/// `log.creator` of the files triage writes.
pub fn creator() -> Value {
    json!({"name": "triage", "version": env!("CARGO_PKG_VERSION")})
}

/// Writes a HAR 1.2 document one entry at a time: nothing but the current entry is held.
pub struct HarWriter<W: Write> {
    w: W,
    entries: usize,
    keep_content: bool,
}

impl<W: Write> HarWriter<W> {
    /// Writes the document's head. `keep_content` keeps customer-written text; credentials are
    /// redacted regardless.
    pub fn new(mut w: W, keep_content: bool) -> io::Result<Self> {
        write!(
            w,
            "{{\"log\":{{\"version\":\"1.2\",\"creator\":{},\"entries\":[",
            creator()
        )?;
        Ok(HarWriter {
            w,
            entries: 0,
            keep_content,
        })
    }

    /// Appends one exchange, redacted, with its diagnoses under `_triage.diagnoses`.
    pub fn write_entry(&mut self, exchange: &Exchange, diagnoses: &[Value]) -> io::Result<()> {
        self.write_entry_with(exchange, diagnoses, serde_json::Map::new())
    }

    /// [`write_entry`](Self::write_entry) with more fields under `_triage` (how a recorded
    /// exchange ended), redacted alike.
    pub fn write_entry_with(
        &mut self,
        exchange: &Exchange,
        diagnoses: &[Value],
        extra: serde_json::Map<String, Value>,
    ) -> io::Result<()> {
        let (redacted, secrets) = redact::exchange_and_secrets(exchange, self.keep_content);
        let mut diagnoses = diagnoses.to_vec();
        for d in &mut diagnoses {
            redact::diagnosis_json(d, &secrets);
        }
        let mut e = entry(&redacted, &diagnoses);
        for (k, mut v) in extra {
            redact::json(&mut v, true);
            secrets.scrub_json(&mut v);
            e["_triage"][k] = v;
        }
        self.w
            .write_all(if self.entries == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.w, &e)?;
        self.entries += 1;
        Ok(())
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Closes the document and returns the writer, flushed.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(b"\n]}}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}

fn name_values(h: &HeaderMap) -> Vec<Value> {
    h.iter()
        .map(|(n, v)| json!({"name": n.as_str(), "value": String::from_utf8_lossy(v.as_bytes())}))
        .collect()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `text` (+ `encoding: base64` when the bytes are not UTF-8) of a body.
fn body_text(b: &BodyPrefix) -> (String, Option<&'static str>) {
    match std::str::from_utf8(&b.bytes) {
        Ok(s) => (s.to_owned(), None),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&b.bytes),
            Some("base64"),
        ),
    }
}

/// `Content-Length` of a head, when it is one number.
fn content_length(h: &HeaderMap) -> Option<u64> {
    header(h, "content-length").and_then(|v| v.trim().parse().ok())
}

/// What HAR's `comment` of a `postData` or `content` says when its `text` is not the body that
/// went over the wire: a prefix (a capture or read limit), or a redacted copy. `size` is the
/// size written beside it, when known.
fn body_comment(b: &BodyPrefix, size: Option<u64>) -> Option<String> {
    let n = b.bytes.len();
    if !b.complete {
        return Some(match size {
            Some(size) => format!(
                "triage recorded only the first {n} bytes of this body of {size}, and redacted them"
            ),
            None => format!(
                "triage recorded only the first {n} bytes of this body, and redacted them; its whole size is not known"
            ),
        });
    }
    size.filter(|&s| s != n as u64).map(|s| {
        format!(
            "redacted by triage: credentials and customer text are replaced, so these {n} bytes \
             stand for the {s} of the body"
        )
    })
}

/// The HTTP version when it is not known: HAR requires one, and HTTP/1.1 is what the
/// SDKs speak; the entry's `comment` and `_triage.http_version` (null) say it is assumed.
const ASSUMED_VERSION: &str = "HTTP/1.1";

/// The HAR entry of an exchange, as is (callers redact first; [`HarWriter`] does).
///
/// The URL is the one the request went to, scheme and port included, when the exchange knows
/// it ([`crate::exchange::Request::base_url`]); otherwise (a recording made before triage
/// recorded it) `https://` and the host, which is what Genesys Cloud is reached by.
/// Sizes are those that went over the wire (HAR 1.2: `bodySize` is the body as sent or
/// received, `-1` when not known), not those of the text kept, which may be a prefix or
/// redacted (then a `comment` beside it says so); the headers stay as they were sent, so
/// `Content-Length` and `bodySize` agree.
pub fn entry(ex: &Exchange, diagnoses: &[Value]) -> Value {
    let req = &ex.request;
    let path = if req.path.is_empty() { "/" } else { &req.path };
    let base = match &req.base_url {
        Some(b) => b.to_string(),
        None => {
            let host = req.host.as_deref().unwrap_or(match req.upstream {
                crate::exchange::UpstreamKind::Api => "api.unknown.invalid",
                crate::exchange::UpstreamKind::Login => "login.unknown.invalid",
            });
            format!("https://{host}")
        }
    };
    let url = match &req.query {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    };
    let query_string: Vec<Value> = req
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (n, v) = kv.split_once('=').unwrap_or((kv, ""));
            json!({"name": n, "value": v})
        })
        .collect();
    // Request and response went over one connection: the response's version is the request's.
    let version = ex.response.as_ref().and_then(|r| r.version);
    let http_version = version.map_or(ASSUMED_VERSION, version_text);
    let version_comment = |v: &mut Value| {
        if version.is_none() {
            v["comment"] = json!("the HTTP version was not recorded; HTTP/1.1 is assumed");
        }
    };
    // What the request's head declared is what was sent; else what triage saw whole.
    let request_size = content_length(&req.headers).or_else(|| req.body.size());
    let mut request = json!({
        "method": req.method.as_str(),
        "url": url,
        "httpVersion": http_version,
        "cookies": [],
        "headers": name_values(&req.headers),
        "queryString": query_string,
        "headersSize": -1,
        "bodySize": request_size.map_or(-1, |s| s as i64),
    });
    version_comment(&mut request);
    if !req.body.is_empty() {
        let (text, encoding) = body_text(&req.body);
        let mut pd = json!({
            "mimeType": header(&req.headers, "content-type").unwrap_or(""),
            "text": text,
        });
        if let Some(enc) = encoding {
            pd["encoding"] = json!(enc);
        }
        if let Some(c) = body_comment(&req.body, request_size) {
            pd["comment"] = json!(c);
        }
        request["postData"] = pd;
    }

    let (response, wait_default) = match &ex.response {
        Some(r) => {
            let (text, encoding) = body_text(&r.body);
            // `content` is the decoded body; `bodySize` what came over the wire, which a
            // content coding makes another number, and which a response without a body (to a
            // HEAD, a 204 or 304) has none of, whatever its `Content-Length`.
            let no_body = ex.request.method == http::Method::HEAD
                || r.status.is_informational()
                || r.status == http::StatusCode::NO_CONTENT
                || r.status == http::StatusCode::NOT_MODIFIED;
            let coded = header(&r.headers, "content-encoding").is_some_and(|e| {
                !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity")
            });
            // Without a content coding, what came over the wire is the decoded body.
            let wire = content_length(&r.headers).filter(|_| !no_body);
            let decoded_size = r.body.size().or(wire.filter(|_| !coded));
            let received = if no_body {
                Some(0)
            } else {
                wire.or(if coded { None } else { decoded_size })
            };
            let mut content = json!({
                "size": decoded_size.unwrap_or(r.body.bytes.len() as u64),
                "mimeType": header(&r.headers, "content-type").unwrap_or(""),
                "text": text,
            });
            if let Some(enc) = encoding {
                content["encoding"] = json!(enc);
            }
            if let Some(c) = body_comment(&r.body, decoded_size) {
                content["comment"] = json!(c);
            }
            let mut response = json!({
                "status": r.status.as_u16(),
                "statusText": r.status.canonical_reason().unwrap_or(""),
                "httpVersion": http_version,
                "cookies": [],
                "headers": name_values(&r.headers),
                "content": content,
                "redirectURL": header(&r.headers, "location").unwrap_or(""),
                "headersSize": -1,
                "bodySize": received.map_or(-1, |s| s as i64),
            });
            version_comment(&mut response);
            (response, 0)
        }
        None => {
            let mut response = json!({
                "status": 0,
                "statusText": "",
                "httpVersion": http_version,
                "cookies": [],
                "headers": [],
                "content": {"size": 0, "mimeType": ""},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
                "_error": "no response received",
            });
            version_comment(&mut response);
            (response, 0)
        }
    };
    let wait = ex
        .timings
        .upstream_ms
        .or(ex.timings.total_ms)
        .unwrap_or(wait_default);
    let total = ex.timings.total_ms.unwrap_or(wait).max(wait);
    let origin = match &ex.origin {
        Origin::Live => json!("live"),
        Origin::File { path, index } => json!({"file": path, "index": index}),
    };
    json!({
        "startedDateTime": crate::ingest::format_time(ex.started_at),
        "time": total,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": wait, "receive": total - wait},
        "_triage": {
            "seq": ex.seq,
            "origin": origin,
            "upstream": req.upstream.as_str(),
            "http_version": version.map(version_text),
            "request_body_complete": req.body.complete,
            "response_body_complete": ex.response.as_ref().map(|r| r.body.complete),
            "diagnoses": diagnoses,
        },
    })
}

// ---- redaction of a HAR as other tools wrote it ----

fn header_of<'a>(headers: Option<&'a Value>, name: &str) -> Option<&'a str> {
    headers?.as_array()?.iter().find_map(|h| {
        let n = h.get("name")?.as_str()?;
        n.eq_ignore_ascii_case(name)
            .then(|| h.get("value")?.as_str())
            .flatten()
    })
}

fn set_str(v: &mut Value, key: &str, f: impl FnOnce(&str) -> Option<String>) {
    if let Some(s) = v.get(key).and_then(Value::as_str) {
        if let Some(new) = f(s) {
            v[key] = Value::String(new);
        }
    }
}

fn redact_name_values(list: Option<&mut Value>, mut f: impl FnMut(&str, &str) -> Option<String>) {
    for item in list.and_then(Value::as_array_mut).into_iter().flatten() {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        set_str(item, "value", |v| f(&name, v));
    }
}

fn redact_headers(list: Option<&mut Value>, found: &mut Vec<String>) {
    redact_name_values(list, |n, v| {
        let r = redact::header_value_found(n, v.as_bytes(), found);
        (r != v).then(|| r.into_owned())
    });
}

fn redact_cookies(list: Option<&mut Value>, found: &mut Vec<String>) {
    redact_name_values(list, |_, v| {
        found.push(v.to_owned());
        Some(redact::secret(v))
    });
}

/// Values of secret parameters (`queryString`, `postData.params`).
fn redact_params(list: Option<&mut Value>, found: &mut Vec<String>) {
    redact_name_values(list, |n, v| {
        redact::is_secret_param(n).then(|| {
            found.push(v.to_owned());
            redact::secret(v)
        })
    });
}

fn redact_url(v: &mut Value, key: &str, found: &mut Vec<String>) {
    set_str(v, key, |u| match redact::url_found(u, found) {
        std::borrow::Cow::Owned(s) => Some(s),
        _ => None,
    });
}

fn redact_text(
    text: &str,
    content_type: Option<&str>,
    keep_content: bool,
    found: &mut Vec<String>,
) -> Option<String> {
    match redact::body_found(text.as_bytes(), content_type, keep_content, found) {
        std::borrow::Cow::Borrowed(_) => None,
        std::borrow::Cow::Owned(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Removes secrets from one HAR entry as any tool wrote it: URLs, headers, cookies, query
/// strings, post data (text and params), response content (plain or base64, compressed or
/// not) and WebSocket messages; then every other copy of the credentials found there, in any
/// string of the entry (an error message quoting the token it refused). Everything else is
/// left as it was.
pub fn redact_entry(entry: &mut Value, keep_content: bool) {
    let mut found = Vec::new();
    let found = &mut found;
    let mut response_encoding = None;
    if let Some(req) = entry.get_mut("request") {
        redact_url(req, "url", found);
        redact_headers(req.get_mut("headers"), found);
        redact_cookies(req.get_mut("cookies"), found);
        redact_params(req.get_mut("queryString"), found);
        let ct = header_of(req.get("headers"), "content-type").map(str::to_owned);
        if let Some(pd) = req.get_mut("postData") {
            let mime = pd
                .get("mimeType")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(ct);
            redact_content(pd, mime.as_deref(), None, keep_content, found);
            redact_params(pd.get_mut("params"), found);
        }
    }
    if let Some(resp) = entry.get_mut("response") {
        redact_headers(resp.get_mut("headers"), found);
        redact_cookies(resp.get_mut("cookies"), found);
        redact_url(resp, "redirectURL", found);
        let ct = header_of(resp.get("headers"), "content-type").map(str::to_owned);
        let ce = header_of(resp.get("headers"), "content-encoding").map(str::to_owned);
        if let Some(content) = resp.get_mut("content") {
            let mime = content
                .get("mimeType")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(ct);
            redact_content(content, mime.as_deref(), ce.as_deref(), keep_content, found);
        }
        response_encoding = ce;
    }
    redact_urls(entry, found);
    for msg in entry
        .get_mut("_webSocketMessages")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        set_str(msg, "data", |d| redact_text(d, None, keep_content, found));
    }
    redact_extensions(entry, keep_content, found);
    note_scheme_credentials(entry, found);
    let secrets = redact::Secrets::new(std::mem::take(found));
    if secrets.is_empty() {
        return;
    }
    // Base64 text hides its copies from a scan of the strings: they are looked for decoded.
    if let Some(pd) = entry.pointer_mut("/request/postData") {
        scrub_base64_content(pd, None, &secrets);
    }
    if let Some(content) = entry.pointer_mut("/response/content") {
        scrub_base64_content(content, response_encoding.as_deref(), &secrets);
    }
    secrets.scrub_json(entry);
    // A body's text is a document of its own, whose escapes hide copies from a scan as written.
    for at in ["/request/postData", "/response/content"] {
        let Some(obj) = entry.pointer_mut(at) else {
            continue;
        };
        if obj.get("encoding").and_then(Value::as_str) == Some("base64") {
            continue;
        }
        set_str(obj, "text", |t| {
            match secrets.scrub_document(t.as_bytes()) {
                std::borrow::Cow::Owned(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                std::borrow::Cow::Borrowed(_) => None,
            }
        });
    }
}

/// Members that a tool added to the format (their names start with `_`: `_initiator`,
/// `_resourceType`, or a wrapper's own `_extra`) hold whatever it chose to keep, credentials
/// included: they get the policy of a body, by key at any depth and by string (a form or a
/// JSON document kept as text). `_webSocketMessages` has its own treatment above.
fn redact_extensions(v: &mut Value, keep_content: bool, found: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, m) in map.iter_mut() {
                if k.starts_with('_') && k != "_webSocketMessages" {
                    redact_free(m, keep_content, found);
                } else {
                    redact_extensions(m, keep_content, found);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| redact_extensions(v, keep_content, found)),
        _ => {}
    }
}

/// A value of no known shape, redacted as a body is: secret keys, then every string as a
/// body of unknown type.
pub fn redact_free(v: &mut Value, keep_content: bool, found: &mut Vec<String>) {
    redact::json_found(v, keep_content, found);
    free_strings(v, keep_content, found);
}

fn free_strings(v: &mut Value, keep_content: bool, found: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(new) = redact_text(s, None, keep_content, found) {
                *s = new;
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| free_strings(v, keep_content, found)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| free_strings(v, keep_content, found)),
        _ => {}
    }
}

/// `Bearer …` and `Basic …` credentials written into any string of the entry (a console
/// message, a comment, a header no list names), for [`redact::Secrets`] to replace wherever
/// they are.
fn note_scheme_credentials(v: &Value, found: &mut Vec<String>) {
    match v {
        Value::String(s) => redact::note_scheme_credentials(s, found),
        Value::Array(items) => items.iter().for_each(|v| note_scheme_credentials(v, found)),
        Value::Object(map) => map.values().for_each(|v| note_scheme_credentials(v, found)),
        _ => {}
    }
}

/// Every string that is a URL (`_initiator.url`, stack frames, tool-specific fields) gets its
/// secret query and fragment parameters redacted too.
fn redact_urls(v: &mut Value, found: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let url_like = ["http://", "https://", "ws://", "wss://", "/"]
                .iter()
                .any(|p| s.starts_with(p))
                && s.contains(['?', '#'])
                && !s.contains(char::is_whitespace);
            if url_like {
                if let std::borrow::Cow::Owned(new) = redact::url_found(s, found) {
                    *s = new;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_urls(v, found)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_urls(v, found)),
        _ => {}
    }
}

/// [`redact_loose`] of a member as the scanner read it. What does not parse (JSON that
/// serde_json refuses: a lone surrogate, nesting past its limit) cannot be searched, so it is
/// not copied either: a placeholder says how long it was.
fn write_loose(
    out: &mut (impl Write + ?Sized),
    raw: &[u8],
    keep_content: bool,
) -> io::Result<Option<String>> {
    let (v, why) = match serde_json::from_slice::<Value>(raw) {
        Ok(mut v) => {
            redact_loose(&mut v, keep_content);
            (v, None)
        }
        Err(e) => (
            json!(format!("[redacted: unreadable JSON, {} bytes]", raw.len())),
            Some(unreadable_why(raw, &e)),
        ),
    };
    serde_json::to_writer(out, &v)?;
    Ok(why)
}

/// Why serde_json refused `raw`: what the grammar-only scan names when the text is JSON (a
/// lone surrogate, nesting, a number too large), else serde_json's own words, without its
/// position (the caller names the member).
fn unreadable_why(raw: &[u8], e: &serde_json::Error) -> String {
    let why = match crate::ingest::rfc8259::scan(raw) {
        Some(crate::ingest::rfc8259::Scan {
            beyond_serde: Some((_, b)),
            ..
        }) => b.to_string(),
        _ => e.to_string(),
    };
    why.split(" at line ").next().unwrap_or(&why).to_owned()
}

/// A value outside the entries that a tool added (a member of `log` or of the document whose
/// name is its own), redacted as an entry's extensions, with the copies of what was found.
fn redact_loose(v: &mut Value, keep_content: bool) {
    let mut found = Vec::new();
    redact_free(v, keep_content, &mut found);
    scrub_found(v, found);
}

fn scrub_found(v: &mut Value, mut found: Vec<String>) {
    note_scheme_credentials(v, &mut found);
    let secrets = redact::Secrets::new(found);
    if !secrets.is_empty() {
        secrets.scrub_json(v);
    }
}

/// What a base64 `text` decodes to, decompressed: redaction reads it whole, so a compressed body
/// is decoded no further than this (or than its own coded size, when larger). Beyond it (a decompression bomb, or a download too large to
/// search) the body cannot be shown safely and is replaced, as an unreadable multipart is.
pub const MAX_DECODED_BODY: usize = 64 << 20;

enum Decoded {
    /// Not base64, or binary once decoded (an image): nothing textual to redact.
    NotText,
    Text(String),
    /// Decodes to more than [`MAX_DECODED_BODY`] bytes.
    TooLarge,
}

/// The text of a base64 postData or content object, decoded (and decompressed).
fn decoded_text(obj: &Value, content_encoding: Option<&str>) -> Decoded {
    if obj.get("encoding").and_then(Value::as_str) != Some("base64") {
        return Decoded::NotText;
    }
    let Some(text) = obj.get("text").and_then(Value::as_str) else {
        return Decoded::NotText;
    };
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) else {
        return Decoded::NotText;
    };
    let mut headers = HeaderMap::new();
    if let Some(ce) = content_encoding {
        crate::ingest::push_header(&mut headers, "content-encoding", ce);
    }
    // What is as large as its coded form costs no more than the entry already did.
    let limit = MAX_DECODED_BODY.max(raw.len());
    let decoded = crate::ingest::body_from_file(raw, &headers, limit);
    if !decoded.complete {
        return Decoded::TooLarge;
    }
    match String::from_utf8(decoded.bytes.to_vec()) {
        Ok(s) => Decoded::Text(s),
        Err(_) => Decoded::NotText,
    }
}

/// Stores redacted text in place of base64 text.
fn set_plain_text(obj: &mut Value, text: String) {
    obj["text"] = Value::String(text);
    if let Some(o) = obj.as_object_mut() {
        o.remove("encoding");
        o.insert("comment".into(), json!("redacted by triage"));
    }
}

/// `text` (+ `encoding`) of a postData or content object. Base64 (and still compressed) text is
/// decoded to look inside; when something was redacted the result is stored as plain text.
fn redact_content(
    obj: &mut Value,
    mime: Option<&str>,
    content_encoding: Option<&str>,
    keep_content: bool,
    found: &mut Vec<String>,
) {
    let Some(text) = obj.get("text").and_then(Value::as_str) else {
        return;
    };
    if obj.get("encoding").and_then(Value::as_str) != Some("base64") {
        if let Some(new) = redact_text(text, mime, keep_content, found) {
            obj["text"] = Value::String(new);
        }
        return;
    }
    match decoded_text(obj, content_encoding) {
        Decoded::NotText => {}
        Decoded::Text(s) => {
            if let Some(new) = redact_text(&s, mime, keep_content, found) {
                set_plain_text(obj, new);
            }
        }
        Decoded::TooLarge => set_plain_text(
            obj,
            format!(
                "[redacted body: decodes to more than {} MiB, too large to search for secrets]",
                MAX_DECODED_BODY >> 20
            ),
        ),
    }
}

/// Copies of credentials inside base64 text, replaced as in plain text.
fn scrub_base64_content(
    obj: &mut Value,
    content_encoding: Option<&str>,
    secrets: &redact::Secrets,
) {
    let Decoded::Text(s) = decoded_text(obj, content_encoding) else {
        return;
    };
    if let std::borrow::Cow::Owned(new) = secrets.scrub_document(s.as_bytes()) {
        set_plain_text(obj, String::from_utf8_lossy(&new).into_owned());
    }
}

/// What [`redact_har`] did.
#[derive(Debug, Default)]
pub struct RedactOutcome {
    /// Entries written.
    pub entries: usize,
    /// Where the input broke, when it did; the output then holds the entries before it and is
    /// still a complete HAR document.
    pub error: Option<IngestError>,
    /// Entries left out as JSON triage cannot read (a lone surrogate escape, nesting past
    /// serde_json's limit, `1e400`): what cannot be parsed cannot be redacted, and copying it
    /// as it is could pass its secrets on. The entries after one are redacted and written.
    pub unreadable_count: usize,
    /// The first [`crate::ingest::Skipped::MAX_PLACES`] of them, with where and why.
    pub unreadable: Vec<crate::ingest::Unreadable>,
    /// What outside the entries was JSON triage cannot read, and was not copied (`log.pages`
    /// written as `[]`, a tool's own member as a placeholder): each with why.
    pub left_out: Vec<String>,
}

/// Streams a HAR from `input` to `out` with every entry redacted; memory is bounded by the
/// largest entry. `input` may be `-` for standard input. Fails only on write errors (and on an
/// input that cannot be opened).
pub fn redact_har(
    input: &Path,
    out: &mut impl Write,
    keep_content: bool,
) -> Result<RedactOutcome, io::Error> {
    let src = crate::ingest::open_source(input).map_err(|e| match e {
        IngestError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })?;
    let mut sc = HarScanner::new(src, input);
    let mut outcome = RedactOutcome::default();
    let (mut top_first, mut log_first) = (true, true);
    let (mut in_log, mut in_entries, mut saw_log, mut saw_entries) = (false, false, false, false);
    // An empty list is written `[]`, as when there is none to copy: redacting the output again
    // must change nothing.
    let mut in_list = 0usize;
    let close_list = |n: usize| -> &'static [u8] {
        if n == 0 {
            b"]"
        } else {
            b"\n]"
        }
    };
    out.write_all(b"{")?;
    let mut pre_log: Vec<u8> = Vec::new();
    let sep = |first: &mut bool| -> &'static [u8] {
        if std::mem::replace(first, false) {
            b""
        } else {
            b","
        }
    };
    loop {
        let ev = match sc.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                outcome.error = Some(e);
                break;
            }
        };
        match ev {
            HarEvent::TopField { key, raw } => {
                // Until `log` is seen this may be no HAR at all (a pasted SDK error, a
                // config): its members wait, so that nothing of it reaches standard output
                // when it is refused. After `log`, they go out as they come.
                let w: &mut dyn Write = if saw_log { &mut *out } else { &mut pre_log };
                w.write_all(sep(&mut top_first))?;
                serde_json::to_writer(&mut *w, &key)?;
                w.write_all(b":")?;
                // Beside `log` only a tool's own members stand; nothing says what they hold.
                if let Some(why) = write_loose(&mut *w, &raw, keep_content)? {
                    outcome.left_out.push(format!(
                        "{}: {key} replaced by a placeholder: JSON triage cannot read: {why}",
                        input.display()
                    ));
                }
            }
            HarEvent::LogStart => {
                out.write_all(&std::mem::take(&mut pre_log))?;
                out.write_all(sep(&mut top_first))?;
                out.write_all(b"\"log\":{")?;
                in_log = true;
                saw_log = true;
            }
            HarEvent::LogField { key, raw } => {
                out.write_all(sep(&mut log_first))?;
                serde_json::to_writer(&mut *out, &key)?;
                out.write_all(b":")?;
                if key.starts_with('_') {
                    // A tool's own member of `log`: redacted as an entry's are.
                    if let Some(why) = write_loose(&mut *out, &raw, keep_content)? {
                        outcome.left_out.push(format!(
                            "{}: log.{key} replaced by a placeholder: JSON triage cannot read: {why}",
                            input.display()
                        ));
                    }
                } else if key == "pages" {
                    // Titles are URLs and may carry a token: what cannot be parsed cannot be
                    // redacted, so it is left out (an empty list), and said so, not copied.
                    let mut pages: Value = match serde_json::from_slice(&raw) {
                        Ok(v) => v,
                        Err(e) => {
                            let why = unreadable_why(&raw, &e);
                            outcome.left_out.push(format!(
                                "{}: log.pages left out: JSON triage cannot read: {why}",
                                input.display()
                            ));
                            Value::Array(Vec::new())
                        }
                    };
                    for p in pages.as_array_mut().into_iter().flatten() {
                        set_str(p, "title", |t| match redact::url(t) {
                            std::borrow::Cow::Owned(s) => Some(s),
                            _ => None,
                        });
                        let mut found = Vec::new();
                        redact_extensions(p, keep_content, &mut found);
                        scrub_found(p, found);
                    }
                    serde_json::to_writer(&mut *out, &pages)?;
                } else {
                    out.write_all(&raw)?;
                }
            }
            HarEvent::EntriesStart => {
                out.write_all(sep(&mut log_first))?;
                out.write_all(b"\"entries\":[")?;
                in_entries = true;
                saw_entries = true;
                in_list = 0;
            }
            HarEvent::Entry { index, raw, at } => {
                let mut v = match sc.parse_entry(&raw, at, index) {
                    Ok(v) => v,
                    Err(EntryError::Broken(e)) => {
                        outcome.error = Some(e);
                        break;
                    }
                    Err(EntryError::Unreadable(u)) => {
                        outcome.unreadable_count += 1;
                        if outcome.unreadable.len() < crate::ingest::Skipped::MAX_PLACES {
                            outcome.unreadable.push(u);
                        }
                        continue;
                    }
                };
                redact_entry(&mut v, keep_content);
                out.write_all(if in_list == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, &v)?;
                outcome.entries += 1;
                in_list += 1;
            }
            HarEvent::EntriesEnd => {
                out.write_all(close_list(in_list))?;
                in_entries = false;
            }
            HarEvent::LogEnd => {
                if !saw_entries {
                    out.write_all(sep(&mut log_first))?;
                    out.write_all(b"\"entries\":[]")?;
                }
                out.write_all(b"}")?;
                in_log = false;
            }
        }
    }
    // Close what a broken input left open, so the output is a complete document.
    if in_entries {
        out.write_all(close_list(in_list))?;
    }
    if in_log {
        if !saw_entries {
            out.write_all(sep(&mut log_first))?;
            out.write_all(b"\"entries\":[]")?;
        }
        out.write_all(b"}")?;
    }
    if !saw_log {
        // Members of a document that broke before `log` (or has none) are of no HAR file:
        // none of them is written.
        if outcome.error.is_none() {
            out.write_all(&pre_log)?;
        } else {
            top_first = true;
        }
        out.write_all(sep(&mut top_first))?;
        write!(
            out,
            "\"log\":{{\"version\":\"1.2\",\"creator\":{},\"entries\":[]}}",
            creator()
        )?;
    }
    out.write_all(b"}\n")?;
    // Not flushed: the caller decides whether the output is kept (a document that was no
    // HAR is thrown away unwritten).
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Inspection, Request, Response, Timings, UpstreamKind};

    fn exchange(
        method: http::Method,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Exchange {
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            crate::ingest::push_header(&mut h, n, v);
        }
        Exchange {
            seq: 1,
            origin: Origin::Live,
            started_at: std::time::UNIX_EPOCH,
            request: Request {
                method,
                path: "/api/v2/x".into(),
                query: None,
                headers: HeaderMap::new(),
                body: BodyPrefix::complete(bytes::Bytes::new()),
                upstream: UpstreamKind::Api,
                host: Some("api.mypurecloud.ie".into()),
                base_url: None,
                shown: crate::exchange::Shown::All,
            },
            response: Some(Response {
                status: http::StatusCode::from_u16(status).unwrap(),
                version: Some(http::Version::HTTP_2),
                headers: h,
                body: BodyPrefix::complete(body.to_owned()),
                headers_shown: true,
            }),
            timings: Timings::default(),
            inspection: Inspection::Complete,
            outcome: None,
        }
    }

    fn sizes(ex: &Exchange) -> (Value, Value) {
        let e = entry(ex, &[]);
        (
            e["response"]["bodySize"].clone(),
            e["response"]["content"]["size"].clone(),
        )
    }

    /// A browser's HAR keeps an error body as the upstream wrote it: a token it quotes may be
    /// `\/`-escaped there, or the whole body base64. `triage redact` finds it either way.
    #[test]
    fn a_har_body_quoting_a_token_escaped_loses_it() {
        let body = r#"{"message":"Invalid token ab\/cd+ef\/TOKEN9","code":"bad.credentials"}"#;
        for base64 in [false, true] {
            let text = if base64 {
                base64::engine::general_purpose::STANDARD.encode(body)
            } else {
                body.to_owned()
            };
            let mut entry = json!({
                "request": {"method": "GET", "url": "https://api.mypurecloud.ie/api/v2/users/me",
                    "headers": [{"name": "Authorization", "value": "Bearer ab/cd+ef/TOKEN9"}]},
                "response": {"status": 401, "headers": [],
                    "content": {"mimeType": "application/json", "text": text,
                        "encoding": if base64 { "base64" } else { "" }}},
            });
            redact_entry(&mut entry, false);
            let out = entry["response"]["content"]["text"].as_str().unwrap();
            assert!(
                !out.contains("TOKEN9") && out.contains("Invalid token [redacted "),
                "base64 {base64}: {out}"
            );
        }
    }

    #[test]
    fn response_sizes_are_on_the_wire_and_decoded() {
        let body = "x".repeat(200);
        // Compressed: 50 bytes came, 200 were decoded from them.
        let gz = exchange(
            http::Method::GET,
            404,
            &[("content-encoding", "gzip"), ("content-length", "50")],
            &body,
        );
        assert_eq!(sizes(&gz), (json!(50), json!(200)));
        // Compressed and chunked: what came over the wire is not known.
        let chunked = exchange(http::Method::GET, 404, &[("content-encoding", "br")], &body);
        assert_eq!(sizes(&chunked), (json!(-1), json!(200)));
        // Not coded: the body is what came.
        let plain = exchange(http::Method::GET, 404, &[], &body);
        assert_eq!(sizes(&plain), (json!(200), json!(200)));
        // A HEAD's Content-Length is of a body that was not sent.
        let head = exchange(http::Method::HEAD, 404, &[("content-length", "1234")], "");
        assert_eq!(sizes(&head), (json!(0), json!(0)));
        let not_modified = exchange(http::Method::GET, 304, &[("content-length", "9")], "");
        assert_eq!(sizes(&not_modified).0, json!(0));
    }
}

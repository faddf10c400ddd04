//! HAR 1.2 in bounded memory. [`HarScanner`] walks the document's structure byte by byte and
//! hands out one raw value at a time (each `log.entries[i]`, and the other members of `log` and
//! of the top object), so memory is bounded by the largest entry, not the file. [`HarReader`]
//! parses each entry on its own and maps it to an [`Exchange`].
//!
//! Shapes of the tools that write HAR differ in small ways, all accepted: Chrome's HTTP/2
//! pseudo-headers (`:authority`, dropped), `_initiator` and other `_` fields (ignored), decoded
//! `content.text` next to a `content-encoding` header; Firefox's `"status": 0` for blocked
//! requests (no response), missing `postData`, `bodySize: -1`; base64 `content.text` (Charles,
//! mitmproxy, binary bodies), compressed or not. A body an entry holds no usable text of (none,
//! an empty one whose size says there were bytes, base64 that is not) is unknown, not empty,
//! with the reason for the report. WebSocket and non-HTTP entries are skipped and
//! counted. Broken JSON is an error naming the byte, line, column and entry, and ends the file:
//! past it, where the next entry starts is a guess. An entry that is JSON but that serde_json
//! refuses (a lone surrogate escape, nesting past its limit, `1e400`) is skipped, named with
//! where and why, and the entries after it are read.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::{
    advance, body_from_file, index_of, limit_body, parse_time, push_header, rfc8259, split_url,
    upstream_for, IngestError, Position, ReadOptions, Unreadable,
};
use crate::exchange::{parse_version, BodyPrefix, Exchange, Origin, Request, Response, Timings};

/// One structural event of a HAR document, in document order.
#[derive(Debug)]
pub enum HarEvent {
    /// A member of the top-level object other than `log`, raw JSON.
    TopField { key: String, raw: Vec<u8> },
    /// `"log": {` was read.
    LogStart,
    /// A member of `log` other than `entries` (`version`, `creator`, `pages`, …), raw JSON.
    LogField { key: String, raw: Vec<u8> },
    /// `"entries": [` was read.
    EntriesStart,
    /// One element of `log.entries`, raw JSON (syntax not yet checked), with where it starts.
    Entry {
        index: usize,
        raw: Vec<u8>,
        at: Position,
    },
    /// The `]` of `entries` was read.
    EntriesEnd,
    /// The `}` of `log` was read.
    LogEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Top { first: bool },
    Log { first: bool },
    Entries { first: bool },
    End,
}

/// Streams the structure of a HAR document; see the module documentation.
pub struct HarScanner<R> {
    r: R,
    path: PathBuf,
    pos: Position,
    state: State,
    saw_log: bool,
    entries: usize,
    failed: bool,
}

impl<R: BufRead> HarScanner<R> {
    pub fn new(r: R, path: &Path) -> Self {
        HarScanner {
            r,
            path: path.to_owned(),
            pos: Position {
                offset: 0,
                line: 1,
                column: 1,
            },
            state: State::Start,
            saw_log: false,
            entries: 0,
            failed: false,
        }
    }

    /// Entries handed out so far.
    pub fn entries(&self) -> usize {
        self.entries
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn context(&self) -> Option<String> {
        match self.state {
            State::Entries { .. } => Some(format!("log.entries[{}]", self.entries)),
            State::Log { .. } => Some("log".into()),
            _ => None,
        }
    }

    fn broken(&self, at: Position, message: impl Into<String>) -> IngestError {
        IngestError::Broken {
            path: self.path.clone(),
            at,
            entry: matches!(self.state, State::Entries { .. }).then_some(self.entries),
            context: self.context(),
            message: message.into(),
        }
    }

    fn consume(&mut self, n: usize) -> Result<(), IngestError> {
        let buf = self
            .r
            .fill_buf()
            .map_err(|e| IngestError::io(&self.path, e))?;
        self.pos = advance(self.pos, &buf[..n]);
        self.r.consume(n);
        Ok(())
    }

    /// Skips whitespace; returns the next byte without consuming it, `None` at end of file.
    fn peek(&mut self) -> Result<Option<u8>, IngestError> {
        loop {
            let buf = self
                .r
                .fill_buf()
                .map_err(|e| IngestError::io(&self.path, e))?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|b| !b" \t\r\n".contains(b)) {
                Some(i) => {
                    let b = buf[i];
                    self.consume(i)?;
                    return Ok(Some(b));
                }
                None => {
                    let n = buf.len();
                    self.consume(n)?;
                }
            }
        }
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<(), IngestError> {
        match self.peek()? {
            Some(b) if b == want => self.consume(1),
            Some(b) => {
                Err(self.broken(self.pos, format!("expected {what}, found {:?}", b as char)))
            }
            None => Err(self.broken(
                self.pos,
                format!("unexpected end of file (truncated?), expected {what}"),
            )),
        }
    }

    /// Copies one JSON value (structure only; its syntax is checked when it is parsed) into `out`.
    fn capture(&mut self, out: &mut Vec<u8>) -> Result<Position, IngestError> {
        let start_byte = self.peek()?;
        let start = self.pos;
        let Some(first) = start_byte else {
            return Err(self.broken(
                start,
                "unexpected end of file (truncated?), expected a value",
            ));
        };
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut started = false;
        loop {
            let buf = self
                .r
                .fill_buf()
                .map_err(|e| IngestError::io(&self.path, e))?;
            if buf.is_empty() {
                if scalar && started {
                    return Ok(start);
                }
                return Err(self.broken(
                    self.pos,
                    format!(
                        "unexpected end of file (truncated?); the value being read started at {start}"
                    ),
                ));
            }
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                if scalar {
                    if b",}] \t\r\n".contains(&b) {
                        end = Some(i);
                        break;
                    }
                    started = true;
                    continue;
                }
                if in_str {
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        in_str = false;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let n = end.unwrap_or(buf.len());
            out.extend_from_slice(&buf[..n]);
            self.consume(n)?;
            if end.is_some() {
                return Ok(start);
            }
        }
    }

    fn key(&mut self) -> Result<String, IngestError> {
        match self.peek()? {
            Some(b'"') => {}
            Some(b) => {
                return Err(self.broken(
                    self.pos,
                    format!("expected a member name, found {:?}", b as char),
                ))
            }
            None => {
                return Err(self.broken(
                    self.pos,
                    "unexpected end of file (truncated?), expected a member name",
                ))
            }
        }
        let mut raw = Vec::new();
        let at = self.capture(&mut raw)?;
        let key = self.parse::<String>(&raw, at)?;
        self.expect(b':', "':'")?;
        Ok(key)
    }

    /// Parses a captured value strictly, turning a syntax error into a position in the file.
    pub fn parse<T: serde::de::DeserializeOwned>(
        &self,
        raw: &[u8],
        at: Position,
    ) -> Result<T, IngestError> {
        serde_json::from_slice(raw).map_err(|e| {
            let idx = index_of(raw, e.line(), e.column());
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            self.broken(advance(at, &raw[..idx]), msg)
        })
    }

    /// Parses the raw JSON of `log.entries[index]` strictly. A syntax error ends the scan; JSON
    /// that serde_json refuses ([`rfc8259`]) costs only the entry, and the scan goes on.
    pub fn parse_entry(
        &mut self,
        raw: &[u8],
        at: Position,
        index: usize,
    ) -> Result<Value, EntryError> {
        let e = match self.parse(raw, at) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        // Bytes that are not UTF-8 in an entry that is JSON otherwise (a tool that wrote a
        // body as Latin-1) cost that entry too: where the next one starts is still known.
        let scanned = rfc8259::scan(raw).map(|s| (s, None)).or_else(|| {
            let bad = std::str::from_utf8(raw).err()?.valid_up_to();
            rfc8259::scan(String::from_utf8_lossy(raw).as_bytes()).map(|s| (s, Some(bad)))
        });
        if let Some((scan, not_utf8)) = scanned {
            let (at, reason) = match (not_utf8, scan.beyond_serde) {
                (Some(off), _) => (
                    advance(at, &raw[..off]),
                    format!(
                        "the byte 0x{:02x} is not UTF-8, which JSON text must be",
                        raw[off]
                    ),
                ),
                (None, Some((off, why))) => (advance(at, &raw[..off]), why.to_string()),
                (None, None) => match &e {
                    IngestError::Broken { at, message, .. } => (*at, message.clone()),
                    other => (at, other.to_string()),
                },
            };
            return Err(EntryError::Unreadable(Unreadable {
                path: self.path.clone(),
                at,
                entry: index,
                request: request_text(scan.method.as_deref(), scan.url.as_deref()),
                reason,
                not_an_entry: false,
            }));
        }
        self.failed = true;
        Err(EntryError::Broken(match e {
            IngestError::Broken {
                path, at, message, ..
            } => IngestError::Broken {
                path,
                at,
                entry: Some(index),
                context: Some(format!("log.entries[{index}]")),
                message,
            },
            other => other,
        }))
    }

    /// The next event, `None` at the end of a complete document. After an error, `None`.
    /// The whole document was read, with no error.
    pub fn ended(&self) -> bool {
        !self.failed && matches!(self.state, State::End)
    }

    pub fn next_event(&mut self) -> Option<Result<HarEvent, IngestError>> {
        if self.failed {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.failed = true;
        }
        r.transpose()
    }

    fn step(&mut self) -> Result<Option<HarEvent>, IngestError> {
        loop {
            match self.state {
                State::Start => {
                    let buf = self
                        .r
                        .fill_buf()
                        .map_err(|e| IngestError::io(&self.path, e))?;
                    if buf.starts_with(b"\xEF\xBB\xBF") {
                        self.consume(3)?;
                    }
                    self.expect(b'{', "'{' (a HAR file is a JSON object)")?;
                    self.state = State::Top { first: true };
                }
                State::Top { first } => {
                    if self.peek()? == Some(b'}') {
                        self.consume(1)?;
                        self.state = State::End;
                        if let Some(b) = self.peek()? {
                            return Err(self.broken(
                                self.pos,
                                format!(
                                    "unexpected {:?} after the end of the HAR object",
                                    b as char
                                ),
                            ));
                        }
                        if !self.saw_log {
                            return Err(self.broken(self.pos, "no \"log\" object: not a HAR file"));
                        }
                        return Ok(None);
                    }
                    if !first {
                        self.expect(b',', "',' or '}'")?;
                    }
                    self.state = State::Top { first: false };
                    let key = self.key()?;
                    if key == "log" && !self.saw_log {
                        self.expect(b'{', "'{' (log is an object)")?;
                        self.saw_log = true;
                        self.state = State::Log { first: true };
                        return Ok(Some(HarEvent::LogStart));
                    }
                    let mut raw = Vec::new();
                    let at = self.capture(&mut raw)?;
                    self.parse::<serde::de::IgnoredAny>(&raw, at)?;
                    return Ok(Some(HarEvent::TopField { key, raw }));
                }
                State::Log { first } => {
                    if self.peek()? == Some(b'}') {
                        self.consume(1)?;
                        self.state = State::Top { first: false };
                        return Ok(Some(HarEvent::LogEnd));
                    }
                    if !first {
                        self.expect(b',', "',' or '}'")?;
                    }
                    self.state = State::Log { first: false };
                    let key = self.key()?;
                    if key == "entries" {
                        self.expect(b'[', "'[' (log.entries is an array)")?;
                        self.state = State::Entries { first: true };
                        return Ok(Some(HarEvent::EntriesStart));
                    }
                    let mut raw = Vec::new();
                    let at = self.capture(&mut raw)?;
                    self.parse::<serde::de::IgnoredAny>(&raw, at)?;
                    return Ok(Some(HarEvent::LogField { key, raw }));
                }
                State::Entries { first } => {
                    if self.peek()? == Some(b']') {
                        self.consume(1)?;
                        self.state = State::Log { first: false };
                        return Ok(Some(HarEvent::EntriesEnd));
                    }
                    if !first {
                        self.expect(b',', "',' or ']'")?;
                    }
                    self.state = State::Entries { first: false };
                    let mut raw = Vec::new();
                    let at = self.capture(&mut raw)?;
                    let index = self.entries;
                    self.entries += 1;
                    return Ok(Some(HarEvent::Entry { index, raw, at }));
                }
                State::End => return Ok(None),
            }
        }
    }
}

/// The reason [`HarReader`] counts an entry of JSON triage cannot read under.
pub const UNREADABLE: &str = "JSON triage cannot read";

/// Why entries that are JSON but no HAR entry were skipped (each is also an input error).
pub const NOT_AN_ENTRY: &str = "not a HAR entry";

/// Why an entry gave no exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotExchange {
    /// Not an HTTP exchange (a WebSocket, a `data:` URL): passed over and counted.
    Other(String),
    /// Not shaped as a HAR entry (no request, no method, no URL): an input error.
    Malformed(String),
}

impl NotExchange {
    pub fn reason(&self) -> &str {
        match self {
            NotExchange::Other(r) | NotExchange::Malformed(r) => r,
        }
    }
}

/// Why an entry was not read.
#[derive(Debug)]
pub enum EntryError {
    /// Broken syntax: the scan has ended.
    Broken(IngestError),
    /// JSON that serde_json refuses: the entry is skipped and the scan goes on.
    Unreadable(Unreadable),
}

/// `POST https://…` of an entry that could not be read, for naming it: credentials in the URL
/// redacted, control characters escaped, a long URL cut.
fn request_text(method: Option<&str>, url: Option<&str>) -> Option<String> {
    const MAX_URL: usize = 200;
    fn shown(s: &str, max: usize) -> String {
        let mut out = String::new();
        for (n, c) in s.chars().enumerate() {
            if n == max {
                out.push('…');
                break;
            }
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        out
    }
    let url = url.map(|u| shown(&crate::redact::url(u), MAX_URL));
    match (method.map(|m| shown(m, 20)), url) {
        (Some(m), Some(u)) => Some(format!("{m} {u}")),
        (m, u) => m.or(u),
    }
}

/// The exchanges of a HAR document, one entry at a time.
pub struct HarReader<R> {
    scanner: HarScanner<R>,
    opts: ReadOptions,
    seq: u64,
    /// Entries not turned into exchanges, by reason.
    pub skipped: super::SkippedByReason,
    /// The first entries skipped as [`UNREADABLE`], with where and why.
    pub unreadable: Vec<Unreadable>,
    /// An entry so far carried a credential header: the tool that wrote the file kept them,
    /// so the entries after it are not taken for sanitised.
    credentials_kept: bool,
    /// `log.entries` was seen.
    saw_entries: bool,
    /// The end of the document was looked at (once: the iterator may be asked again).
    end_checked: bool,
}

impl<R: BufRead> HarReader<R> {
    pub fn new(r: R, path: &Path, opts: &ReadOptions) -> Self {
        HarReader {
            scanner: HarScanner::new(r, path),
            opts: opts.clone(),
            seq: 0,
            skipped: super::SkippedByReason::new(),
            unreadable: Vec::new(),
            credentials_kept: false,
            saw_entries: false,
            end_checked: false,
        }
    }

    /// After a whole document: a HAR without calls is a capture that was not running (the
    /// Network tab opened after the calls, or cleared), and "nothing failed" would mislead.
    fn at_end(&mut self) -> Option<Result<Exchange, IngestError>> {
        if self.end_checked || !self.scanner.ended() {
            return None;
        }
        self.end_checked = true;
        let message = if !self.saw_entries {
            "the HAR has no log.entries, which HAR 1.2 requires: not a HAR file, or one cut \
             short by the tool that wrote it"
        } else if self.scanner.entries() == 0 {
            "the HAR holds no calls (log.entries is empty): save it with the browser's Network \
             tab open while the calls are made"
        } else {
            return None;
        };
        Some(Err(IngestError::invalid(self.scanner.path(), message)))
    }

    /// [`Shown::MaybeSanitized`] unless this file showed it keeps credential headers.
    fn judge_sanitised(&mut self, ex: &mut Exchange) {
        use crate::exchange::Shown;
        if ex.request.shown != Shown::MaybeSanitized {
            return;
        }
        let h = &ex.request.headers;
        self.credentials_kept |= Shown::SANITISED_HEADERS.iter().any(|n| h.contains_key(*n));
        if self.credentials_kept {
            ex.request.shown = Shown::All;
        }
    }
}

impl<R: BufRead> Iterator for HarReader<R> {
    type Item = Result<Exchange, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(event) = self.scanner.next_event() else {
                return self.at_end();
            };
            match event {
                Err(e) => return Some(Err(e)),
                Ok(HarEvent::Entry { index, raw, at }) => {
                    // The entry is parsed with its index still "in flight" for error context.
                    let value = match self.scanner.parse_entry(&raw, at, index) {
                        Ok(v) => v,
                        Err(EntryError::Broken(e)) => return Some(Err(e)),
                        Err(EntryError::Unreadable(u)) => {
                            self.skipped
                                .entry(UNREADABLE.to_owned())
                                .or_default()
                                .add(|| format!("log.entries[{index}]"));
                            if self.unreadable.len() < super::Skipped::MAX_PLACES {
                                self.unreadable.push(u);
                            }
                            continue;
                        }
                    };
                    let origin = Origin::File {
                        path: self.scanner.path().display().to_string(),
                        index,
                    };
                    match entry_to_exchange(&value, origin, self.seq + 1, self.opts.body_limit) {
                        Ok(mut ex) => {
                            self.judge_sanitised(&mut ex);
                            self.seq += 1;
                            return Some(Ok(ex));
                        }
                        Err(NotExchange::Other(reason)) => {
                            self.skipped
                                .entry(reason)
                                .or_default()
                                .add(|| format!("log.entries[{index}]"));
                        }
                        // An entry without its request is a broken file, not a kind of entry
                        // to pass over: it is an input error, as unreadable JSON is, and a
                        // failure in it is not lost behind "Nothing failed."
                        Err(NotExchange::Malformed(reason)) => {
                            self.skipped
                                .entry(NOT_AN_ENTRY.to_owned())
                                .or_default()
                                .add(|| format!("log.entries[{index}]"));
                            if self.unreadable.len() < super::Skipped::MAX_PLACES {
                                self.unreadable.push(Unreadable {
                                    path: self.scanner.path().to_owned(),
                                    at,
                                    entry: index,
                                    request: request_text(
                                        str_at(&value, &["request", "method"]),
                                        str_at(&value, &["request", "url"]),
                                    ),
                                    reason,
                                    not_an_entry: true,
                                });
                            }
                        }
                    }
                }
                Ok(HarEvent::EntriesStart) => self.saw_entries = true,
                Ok(_) => {}
            }
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn headers_of(v: Option<&Value>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for h in v.and_then(Value::as_array).into_iter().flatten() {
        if let (Some(n), Some(val)) = (
            h.get("name").and_then(Value::as_str),
            h.get("value").and_then(Value::as_str),
        ) {
            push_header(&mut map, n, val);
        }
    }
    map
}

/// The bytes of a `text` (+ optional `encoding: "base64"`) pair of `what` (`content`,
/// `postData`): `None` without a text; `Err` saying why for a text marked base64 that is not,
/// whose characters are no body (taking them for one would diagnose bytes never sent).
fn text_bytes(v: &Value, what: &str) -> Option<Result<Vec<u8>, String>> {
    let text = v.get("text")?.as_str()?;
    if v.get("encoding").and_then(Value::as_str) == Some("base64") {
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        return Some(
            base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(|e| {
                    let e = e.to_string();
                    let e = e.trim_end_matches('.');
                    let mut c = e.chars();
                    let e = c
                        .next()
                        .map(|f| f.to_lowercase().chain(c).collect::<String>())
                        .unwrap_or_default();
                    format!(
                        "the HAR entry's {what}.encoding is base64, but its {what}.text is \
                         not base64 ({e})"
                    )
                }),
        );
    }
    Some(Ok(text.as_bytes().to_vec()))
}

/// A body the file does not give, and why.
fn unknown_body(why: String) -> BodyPrefix {
    BodyPrefix {
        bytes: bytes::Bytes::new(),
        complete: false,
        original_size: None,
        unknown_why: Some(why.into()),
    }
}

/// A size as the file wrote it, for messages: `173`, `-1`.
fn size_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Maps one HAR entry to an exchange; `Err` for entries that are not HTTP exchanges, or not
/// HAR entries at all.
pub fn entry_to_exchange(
    e: &Value,
    origin: Origin,
    seq: u64,
    body_limit: usize,
) -> Result<Exchange, NotExchange> {
    let malformed = |r: &str| NotExchange::Malformed(r.to_owned());
    let other = |r: &str| NotExchange::Other(r.to_owned());
    if !e.is_object() {
        return Err(malformed("the entry is not an object"));
    }
    let resource = e.get("_resourceType").and_then(Value::as_str).unwrap_or("");
    if resource.eq_ignore_ascii_case("websocket") || e.get("_webSocketMessages").is_some() {
        return Err(other("WebSocket"));
    }
    let req = match e.get("request") {
        Some(r) if r.is_object() => r,
        Some(_) => return Err(malformed("its request is not an object")),
        None => return Err(malformed("no request")),
    };
    let method = str_at(req, &["method"]).ok_or_else(|| malformed("no request method"))?;
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| malformed(&format!("the request method {method:?} is no HTTP method")))?;
    let url = str_at(req, &["url"]).ok_or_else(|| malformed("no request URL"))?;
    let parts = split_url(url);
    match parts.scheme.as_str() {
        "http" | "https" => {}
        // HAR wants an absolute URL, but a tool that wrote the path alone still said which
        // call it was: explained without a host.
        "" if url.starts_with('/') => {}
        "ws" | "wss" => return Err(other("WebSocket")),
        _ => return Err(other("not an HTTP URL")),
    }
    let req_headers = headers_of(req.get("headers"));
    let req_size = num(req.get("bodySize"));
    let req_body = match req.get("postData") {
        Some(pd) => match text_bytes(pd, "postData") {
            // An empty text where the size says there were bytes: the tool did not keep them.
            Some(Ok(b)) if b.is_empty() && req_size.is_some_and(|n| n > 0.0) => {
                unknown_body(format!(
                    "the HAR entry's postData.text is empty, but its request.bodySize is {}",
                    size_text(req_size.unwrap_or_default())
                ))
            }
            Some(Ok(b)) => limit_body(b, body_limit),
            Some(Err(why)) => unknown_body(why),
            None => {
                // Only `params`: rebuild the form as `name=value&…`.
                let form: Vec<String> = pd
                    .get("params")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        let n = p.get("name")?.as_str()?;
                        let v = p.get("value").and_then(Value::as_str).unwrap_or("");
                        Some(format!("{n}={v}"))
                    })
                    .collect();
                limit_body(form.join("&").into_bytes(), body_limit)
            }
        },
        // No `postData` for a body the tool did not keep (Chrome leaves out large and binary
        // uploads): the size says there was one, and what it held is unknown.
        None if req_size.is_some_and(|n| n > 0.0) => unknown_body(format!(
            "the HAR entry has no postData, but its request.bodySize is {}",
            size_text(req_size.unwrap_or_default())
        )),
        None => BodyPrefix::complete(bytes::Bytes::new()),
    };
    let upstream = upstream_for(parts.host.as_deref(), &parts.path);
    let base_url = parts.base_url();
    // A HAR triage wrote says which bodies it holds only a prefix of (`triage export`), and
    // whether it knew the HTTP version; other tools' HARs do not.
    let ours = e.get("_triage").filter(|t| t.is_object());
    let whole = |key: &str| ours.and_then(|t| t.get(key)).and_then(Value::as_bool);
    let mut req_body = req_body;
    if whole("request_body_complete") == Some(false) {
        req_body.complete = false;
        req_body.original_size = None;
    }
    let request = Request {
        method,
        path: parts.path,
        query: parts.query,
        headers: req_headers,
        body: req_body,
        upstream,
        host: parts.host.map(Into::into),
        base_url: base_url.map(Into::into),
        // Another tool's HAR may have been sanitised (its credential headers dropped);
        // `triage export` keeps them, as placeholders.
        shown: if ours.is_some() {
            crate::exchange::Shown::All
        } else {
            crate::exchange::Shown::MaybeSanitized
        },
    };
    let version = match ours.and_then(|t| t.get("http_version")) {
        Some(v) => v.as_str().and_then(parse_version),
        None => str_at(e, &["response", "httpVersion"])
            .and_then(parse_version)
            .or_else(|| str_at(req, &["httpVersion"]).and_then(parse_version)),
    };

    let response = e.get("response").and_then(|r| {
        let status = num(r.get("status"))?;
        if !(100.0..=999.0).contains(&status) {
            return None; // Firefox/Chrome: 0 for blocked or failed requests.
        }
        let status = StatusCode::from_u16(status as u16).ok()?;
        let headers = headers_of(r.get("headers"));
        let content = r.get("content");
        // `content.size` 0 (or none) says the body was empty; a size above it, or -1 (the
        // tool did not know it), that an empty or absent text is a body the file did not keep.
        let size = num(content.and_then(|c| c.get("size"))).filter(|n| *n != 0.0);
        let mut body = match content.and_then(|c| text_bytes(c, "content")) {
            Some(Ok(raw)) if raw.is_empty() && size.is_some() => unknown_body(format!(
                "the HAR entry's content.text is empty, but its content.size is {}",
                size_text(size.unwrap_or_default())
            )),
            Some(Ok(raw)) => body_from_file(raw, &headers, body_limit),
            Some(Err(why)) => unknown_body(why),
            None => match size {
                Some(n) => unknown_body(format!(
                    "the HAR entry has no content.text, and its content.size is {}",
                    size_text(n)
                )),
                None => BodyPrefix::complete(bytes::Bytes::new()),
            },
        };
        if whole("response_body_complete") == Some(false) {
            body.complete = false;
            body.original_size = None;
        }
        Some(Response {
            status,
            version,
            headers,
            body,
            headers_shown: true,
        })
    });

    let ms = |v: Option<f64>| v.filter(|t| *t >= 0.0).map(|t| t.round() as u64);
    let timings = Timings {
        upstream_ms: ms(num(e.get("timings").and_then(|t| t.get("wait")))),
        total_ms: ms(num(e.get("time"))),
    };
    let started_at = e
        .get("startedDateTime")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .unwrap_or(UNIX_EPOCH);
    Ok(Exchange {
        seq,
        origin,
        started_at,
        request,
        response,
        timings,
        inspection: crate::exchange::Inspection::Complete,
        // How the exchange ended, which only a HAR that triage exported from a recording says.
        outcome: ours
            .and_then(|t| t.get("outcome"))
            .and_then(Value::as_str)
            .and_then(crate::exchange::Outcome::parse),
    }
    .read_from_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(e: Value) -> Result<Exchange, NotExchange> {
        entry_to_exchange(&e, Origin::Live, 1, 1 << 20)
    }

    #[test]
    fn charles_and_mitmproxy_shapes() {
        // Charles: capitalised headers, base64 text, a status given as a string, no timings.
        let ex = map(json!({
            "startedDateTime": "2026-03-01T10:20:30.123+00:00",
            "_charlesStatus": "COMPLETE",
            "request": {"method": "GET", "url": "http://api.mypurecloud.com/api/v2/x",
                        "headers": [{"name": "Host", "value": "api.mypurecloud.com"}]},
            "response": {"status": "503", "headers": [{"name": "Content-Type", "value": "text/html"}],
                         "content": {"size": -1, "mimeType": "text/html", "encoding": "base64",
                                     "text": "PGh0bWw+"}}
        }))
        .unwrap();
        assert_eq!(ex.status(), Some(503));
        assert_eq!(&ex.response.as_ref().unwrap().body.bytes[..], b"<html>");
        assert_eq!(ex.timings.total_ms, None);
        // mitmproxy: postData with params only, no text.
        let ex = map(json!({
            "request": {"method": "POST", "url": "https://login.mypurecloud.com/oauth/token",
                        "postData": {"mimeType": "application/x-www-form-urlencoded",
                                     "params": [{"name": "grant_type", "value": "client_credentials"}]}},
            "response": {"status": 401, "content": {"size": 0}}
        }))
        .unwrap();
        assert_eq!(&ex.request.body.bytes[..], b"grant_type=client_credentials");
        assert!(ex.response.as_ref().unwrap().body.complete);
    }

    #[test]
    fn non_http_entries_are_skipped_with_a_reason() {
        let other = |r: &str| NotExchange::Other(r.to_owned());
        let malformed = |r: &str| NotExchange::Malformed(r.to_owned());
        assert_eq!(
            map(json!({"request": {"method": "GET", "url": "data:image/png;base64,AAAA"}}))
                .unwrap_err(),
            other("not an HTTP URL")
        );
        assert_eq!(
            map(json!({"request": {"method": "GET", "url": "wss://streaming.x/y"}})).unwrap_err(),
            other("WebSocket")
        );
        // Not HAR entries: input errors, not kinds of entry.
        assert_eq!(
            map(json!({"response": {}})).unwrap_err(),
            malformed("no request")
        );
        assert_eq!(
            map(json!({"request": "x"})).unwrap_err(),
            malformed("its request is not an object")
        );
        assert_eq!(
            map(json!({"request": {"url": "https://api.mypurecloud.com/x"}})).unwrap_err(),
            malformed("no request method")
        );
        // A path without scheme and host is still the call.
        let ex = map(json!({"request": {"method": "POST", "url": "/api/v2/conversations/messages/agentless?x=1"},
                            "response": {"status": 400}}))
        .unwrap();
        assert_eq!(ex.request.path, "/api/v2/conversations/messages/agentless");
        assert_eq!(ex.request.host, None);
    }
}

//! Offline input: readers that turn files into [`Exchange`]s, one at a time, so that
//! `triage explain` (and anything else) sees exactly what the proxy would have built live.
//!
//! Four kinds of input, detected from their first bytes or named with `--input`:
//! - [`InputKind::Har`]: HAR 1.2 (Chrome, Firefox, Charles, mitmproxy), streamed entry by entry
//!   in bounded memory ([`har`]).
//! - [`InputKind::Recording`]: triage's own JSON Lines recordings ([`recording`]).
//! - [`InputKind::Curl`]: raw exchanges as `curl -i` (or `curl -v`) prints them ([`curl`]).
//! - [`InputKind::JsonBody`]: a bare JSON error body ([`json`]).
//!
//! Readers are lenient on what they do not need (unknown fields, odd shapes of a tool) and
//! strict on broken syntax: a truncated or malformed file yields every exchange read before the
//! break, then one [`IngestError`] naming the file and where it broke, then nothing. Recordings
//! are the exception: each line stands alone, so a broken line (a crash cut it off) is skipped
//! and counted in the [`Summary`] like a HAR's WebSocket entries, and reading goes on. So is a
//! HAR entry that is JSON but JSON serde_json refuses ([`Unreadable`]): its end is certain, so
//! the entries after it are read, but it is an input error all the same.
//!
//! What a file does not say is represented honestly: an unknown method is
//! [`Request::unknown_method`](crate::exchange::Request::unknown_method), an unknown path is `""`,
//! an unknown start time is [`std::time::UNIX_EPOCH`], unknown timings are `None`.

pub mod curl;
mod curl_cmd;
pub mod har;
pub mod json;
pub mod recording;
pub(crate) mod rfc8259;
mod sdk;
pub mod timeline;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::exchange::{BodyPrefix, Exchange, UpstreamKind};

/// The kinds of input `triage explain` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputKind {
    /// HAR 1.2 (browser dev tools, Charles, mitmproxy, `triage export`).
    Har,
    /// A triage recording (`triage proxy --record`), JSON Lines.
    Recording,
    /// Exchanges as `curl -i` or `curl -v` prints them, the curl command above each or not.
    Curl,
    /// A JSON error body: bare, an SDK error as printed, or quoted in a log line.
    #[value(name = "json")]
    JsonBody,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Har => "HAR",
            InputKind::Recording => "triage recording",
            InputKind::Curl => "curl -i output",
            InputKind::JsonBody => "JSON body",
        })
    }
}

/// What a reader needs besides the file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The kind of input; detected from the first bytes when `None`.
    pub kind: Option<InputKind>,
    /// Response status: a bare JSON body's (over its own `status` field), or that of `curl -i`
    /// output without a status line.
    pub status: Option<u16>,
    /// Request method, when the file does not say.
    pub method: Option<Method>,
    /// Request path (with an optional `?query`), when the file does not say.
    pub path: Option<String>,
    /// Most (decoded) bytes of each body kept, like the proxy's inspection limit.
    pub body_limit: usize,
    /// Diagnose exchanges with every host, not only Genesys Cloud's and local ones
    /// ([`crate::region::Region::is_genesys_or_local`]): for a gateway in front of the API.
    pub any_host: bool,
    /// The API's operations, to give a pasted Python SDK error the request of the SDK call it
    /// names; without it, that request stays unknown.
    pub catalog: Option<std::sync::Arc<crate::catalog::Catalog>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            kind: None,
            status: None,
            method: None,
            path: None,
            body_limit: 1024 * 1024,
            any_host: false,
            catalog: None,
        }
    }
}

impl ReadOptions {
    /// The flags that describe a request or response the input does not (`--status`,
    /// `--method`, `--path`) given for this read, by name: for a warning where an input gives
    /// its own.
    pub fn request_flags(&self) -> Vec<&'static str> {
        [
            ("--status", self.status.is_some()),
            ("--method", self.method.is_some()),
            ("--path", self.path.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }
}

/// The flags of an offline command (`triage explain`) that describe its input; flatten into the
/// command's arguments with `#[command(flatten)]`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InputArgs {
    /// Kind of input, when detection from its first bytes is not wanted.
    #[arg(long = "input", value_enum, value_name = "KIND")]
    pub kind: Option<InputKind>,

    /// Response status of a bare JSON body (used over the body's own `status` field, with a
    /// warning when they disagree), or of `curl -i` output without a status line.
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u16).range(100..=999))]
    pub status: Option<u16>,

    /// Request method, when the input does not say (a bare JSON body, `curl -i` output).
    #[arg(long, value_name = "METHOD", value_parser = parse_method)]
    pub method: Option<Method>,

    /// Request path (with an optional `?query`), when the input does not say; or the whole URL.
    #[arg(long, value_name = "PATH", value_parser = parse_path)]
    pub path: Option<String>,

    /// Explain exchanges with every host. By default those with hosts other than Genesys
    /// Cloud's (`*.mypurecloud.com`, `*.pure.cloud`, ...) and local ones (localhost, private
    /// addresses) are left out and counted: a browser's HAR holds other sites' calls too. Use
    /// this when a gateway with its own name stands in front of the API.
    #[arg(long)]
    pub any_host: bool,
}

impl InputArgs {
    pub fn options(&self) -> ReadOptions {
        ReadOptions {
            kind: self.kind,
            status: self.status,
            method: self.method.clone(),
            path: self.path.clone(),
            any_host: self.any_host,
            ..ReadOptions::default()
        }
    }
}

/// A path as the request line has it (`/api/v2/…`), or a URL: `api/v2/…` would match no rule,
/// and silently.
fn parse_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') || s.starts_with("http://") || s.starts_with("https://") {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?}: give the request's path from its first `/` (`/{s}`), or its whole URL"
        ))
    }
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::from_bytes(s.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{s:?} is not an HTTP method"))
}

/// A place in an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Byte offset from the start of the file, from 0.
    pub offset: u64,
    /// Line, from 1.
    pub line: u64,
    /// Column in bytes, from 1.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte {} (line {}, column {})",
            self.offset, self.line, self.column
        )
    }
}

/// Why a file could not be read (entirely).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Broken syntax or a truncated file. `entry` is the index (from 0) of the exchange being read
    /// when it broke, `context` says where in the structure (`log.entries[3]`).
    #[error("{}: broken at {at}{}: {message}", path.display(), context.as_deref().map(|c| format!(", in {c}")).unwrap_or_default())]
    Broken {
        path: PathBuf,
        at: Position,
        entry: Option<usize>,
        context: Option<String>,
        message: String,
    },
    /// Readable, but not something triage can turn into an exchange.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl IngestError {
    pub fn path(&self) -> &Path {
        match self {
            IngestError::Io { path, .. }
            | IngestError::Broken { path, .. }
            | IngestError::Invalid { path, .. } => path,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        IngestError::Invalid {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// A HAR entry that is JSON, but JSON triage cannot read (serde_json refuses a lone surrogate
/// escape, nesting past its limit, a number beyond `f64`): it is skipped, and the entries after
/// it are read. An input error all the same: the report lacks what the entry held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub path: PathBuf,
    /// Where in the file the first thing triage cannot read is.
    pub at: Position,
    /// The entry's index in `log.entries`, from 0.
    pub entry: usize,
    /// `POST https://…` (credentials redacted), when the entry says.
    pub request: Option<String>,
    pub reason: String,
    /// The entry is JSON, but not shaped as a HAR entry (no request method, `"request": "x"`):
    /// as much an input error as broken JSON, under another name.
    pub not_an_entry: bool,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: log.entries[{}]", self.path.display(), self.entry)?;
        if let Some(r) = &self.request {
            write!(f, " ({r})")?;
        }
        if self.not_an_entry {
            write!(
                f,
                " skipped: not a HAR entry at {}: {}; the entries after it are read",
                self.at, self.reason
            )
        } else {
            write!(
                f,
                " skipped: JSON triage cannot read at {}: {}; the entries after it are read",
                self.at, self.reason
            )
        }
    }
}

/// Entries of an input passed over for one reason: how many, and where the first ones are.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub count: usize,
    /// The first [`Skipped::MAX_PLACES`], in the input's own terms (`log.entries[3]`,
    /// `line 7`), so that the reader of a report can go and look.
    pub places: Vec<String>,
}

impl Skipped {
    /// Places kept per reason: enough to find the damage, bounded however much there is.
    pub const MAX_PLACES: usize = 10;

    /// Counts one more, at `place`.
    pub fn add(&mut self, place: impl FnOnce() -> String) {
        self.count += 1;
        if self.places.len() < Self::MAX_PLACES {
            self.places.push(place());
        }
    }

    /// "line 2, line 9 and 3 more": the places as one phrase.
    pub fn places_text(&self) -> String {
        let mut s = self.places.join(", ");
        let more = self.count - self.places.len();
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        s
    }
}

/// Skipped entries by reason, as every reader keeps them.
pub type SkippedByReason = BTreeMap<String, Skipped>;

/// "broken line: line 2, line 9; WebSocket: log.entries[4]": skipped entries as one phrase.
pub fn skipped_text(skipped: &SkippedByReason) -> String {
    skipped
        .iter()
        .map(|(reason, s)| format!("{reason}: {}", s.places_text()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a reader did besides yielding exchanges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Exchanges yielded.
    pub exchanges: usize,
    /// Entries read but not turned into exchanges, by reason: WebSocket entries and `data:`
    /// URLs of a HAR, lines of a recording that are not a record (cut off by a crash, broken).
    pub skipped: SkippedByReason,
    /// What the reader found that the user should know though it is no error: a flag that
    /// disagrees with what the input says (`--status 400` for a body saying `"status": 409`),
    /// naming both and which one was used.
    pub warnings: Vec<String>,
    /// The first [`Skipped::MAX_PLACES`] entries skipped as JSON triage cannot read, with where
    /// and why (all of them are counted in `skipped`): input errors, though reading went on.
    pub unreadable: Vec<Unreadable>,
}

impl Summary {
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().map(|s| s.count).sum()
    }
}

/// The exchanges of one file, in file order. After an `Err` the iterator ends.
pub struct Exchanges {
    kind: InputKind,
    inner: Inner,
    summary: Summary,
    done: bool,
}

/// What a reader of a small input read whole (`curl` output, a JSON body) makes of it: its
/// exchanges (a JSON body's one, a curl transcript's one or more), and its warnings.
type Single = Result<(Vec<Exchange>, Vec<String>), IngestError>;

enum Inner {
    Har(har::HarReader<Source>),
    Recording(recording::RecordingReader<Source>),
    /// The input as read, then the exchanges it gave that are still to come.
    Single(Option<Box<Single>>, std::vec::IntoIter<Exchange>),
}

impl Exchanges {
    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// Counts so far (complete once the iterator has ended).
    pub fn summary(&self) -> Summary {
        let mut s = self.summary.clone();
        s.skipped = match &self.inner {
            Inner::Har(h) => h.skipped.clone(),
            Inner::Recording(r) => r.skipped.clone(),
            Inner::Single(..) => SkippedByReason::new(),
        };
        if let Inner::Har(h) = &self.inner {
            s.unreadable = h.unreadable.clone();
        }
        s
    }
}

impl Iterator for Exchanges {
    type Item = Result<Exchange, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match &mut self.inner {
            Inner::Har(h) => h.next(),
            Inner::Recording(r) => r.next().map(|r| r.map(|rec| rec.exchange)),
            Inner::Single(read, pending) => match read.take().map(|b| *b) {
                Some(Ok((exchanges, warnings))) => {
                    self.summary.warnings.extend(warnings);
                    *pending = exchanges.into_iter();
                    pending.next().map(Ok)
                }
                Some(Err(e)) => Some(Err(e)),
                None => pending.next().map(Ok),
            },
        };
        match &item {
            None | Some(Err(_)) => self.done = true,
            Some(Ok(_)) => self.summary.exchanges += 1,
        }
        item
    }
}

/// The byte source of a reader: a file, or standard input for the path `-`.
pub type Source = Box<dyn BufRead + Send>;

/// The path that means standard input.
pub const STDIN: &str = "-";

pub(crate) fn open_source(path: &Path) -> Result<Source, IngestError> {
    let mut src: Source = if path.as_os_str() == STDIN {
        Box::new(BufReader::with_capacity(64 * 1024, std::io::stdin()))
    } else {
        let f = File::open(path).map_err(|e| IngestError::io(path, e))?;
        Box::new(BufReader::with_capacity(64 * 1024, f))
    };
    // Windows PowerShell 5.1 writes what `>` redirects (a `curl.exe -v` transcript, a saved
    // error body) as UTF-16 with a byte order mark; every reader here reads UTF-8.
    let head = src.fill_buf().map_err(|e| IngestError::io(path, e))?;
    let little = match head {
        [0xFF, 0xFE, ..] => true,
        [0xFE, 0xFF, ..] => false,
        _ => return Ok(src),
    };
    src.consume(2);
    Ok(Box::new(BufReader::with_capacity(
        64 * 1024,
        Utf16Reader {
            inner: src,
            little,
            pending: Vec::new(),
            read_at: 0,
            carry: Vec::new(),
        },
    )))
}

/// UTF-16 read as UTF-8, as it streams (a HAR of any size passes with flat memory). A lone
/// surrogate, which no editor writes, becomes U+FFFD as in any lossy decoding.
struct Utf16Reader {
    inner: Source,
    little: bool,
    /// UTF-8 decoded, read up to `read_at`.
    pending: Vec<u8>,
    read_at: usize,
    /// The bytes of a character split across two reads of `inner`: half a code unit, or a high
    /// surrogate waiting for its low one.
    carry: Vec<u8>,
}

impl Read for Utf16Reader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.read_at == self.pending.len() {
            self.pending.clear();
            self.read_at = 0;
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                if self.carry.is_empty() {
                    return Ok(0);
                }
                // The text ends inside a character.
                self.carry.clear();
                let mut b = [0; 4];
                let r = char::REPLACEMENT_CHARACTER.encode_utf8(&mut b);
                self.pending.extend_from_slice(r.as_bytes());
                break;
            }
            let mut bytes = std::mem::take(&mut self.carry);
            bytes.extend_from_slice(buf);
            let n = buf.len();
            self.inner.consume(n);
            let mut whole = bytes.len() / 2 * 2;
            let mut units: Vec<u16> = bytes[..whole]
                .chunks_exact(2)
                .map(|c| {
                    if self.little {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .collect();
            if units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
                units.pop();
                whole -= 2;
            }
            self.carry = bytes[whole..].to_vec();
            for c in char::decode_utf16(units) {
                let mut b = [0; 4];
                let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                self.pending
                    .extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
        let n = out.len().min(self.pending.len() - self.read_at);
        out[..n].copy_from_slice(&self.pending[self.read_at..self.read_at + n]);
        self.read_at += n;
        Ok(n)
    }
}

/// Opens `path` (`-` for standard input) and returns its exchanges, one at a time. Fails only
/// when the input cannot be opened or its kind cannot be told; later problems come out of the
/// iterator.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Exchanges, IngestError> {
    let mut src = open_source(path)?;
    let kind = match opts.kind {
        Some(k) => k,
        None => {
            // The first buffer's worth, without consuming it.
            let head = src.fill_buf().map_err(|e| IngestError::io(path, e))?;
            if head.is_empty() {
                // Named with --input, an empty input is that kind's to judge: an empty
                // recording is one of a proxy that saw no traffic.
                return Err(empty_input(path));
            }
            detect(head).ok_or_else(|| unknown_kind(path, head))?
        }
    };
    let inner = match kind {
        InputKind::Har => Inner::Har(har::HarReader::new(src, path, opts)),
        InputKind::Recording => {
            Inner::Recording(recording::RecordingReader::new(src, path, opts.body_limit))
        }
        InputKind::Curl => Inner::Single(
            Some(Box::new(read_small(src, path).and_then(|b| {
                let mut warnings = Vec::new();
                curl::parse(&b, path, opts, &mut warnings).map(|exs| (exs, warnings))
            }))),
            Vec::new().into_iter(),
        ),
        InputKind::JsonBody => Inner::Single(
            Some(Box::new(read_small(src, path).and_then(|b| {
                let mut warnings = Vec::new();
                json::parse(&b, path, opts, &mut warnings).map(|ex| (vec![ex], warnings))
            }))),
            Vec::new().into_iter(),
        ),
    };
    let mut summary = Summary::default();
    if matches!(kind, InputKind::Har | InputKind::Recording) {
        // Each exchange of these names its own status and request: a flag given for a pasted
        // body must not look as if it had changed them.
        let given = opts.request_flags();
        if !given.is_empty() {
            summary.warnings.push(format!(
                "{}: {} ignored: a {} gives each exchange's own (the flags are for a pasted JSON body or curl output)",
                path.display(),
                given.join(", "),
                kind,
            ));
        }
    }
    Ok(Exchanges {
        kind,
        inner,
        summary,
        done: false,
    })
}

/// Calls `f` with each exchange of `path`; the callback form of [`read`]. Returns the summary,
/// or the error that ended reading (after `f` saw every exchange before it).
pub fn for_each_exchange(
    path: &Path,
    opts: &ReadOptions,
    mut f: impl FnMut(Exchange),
) -> Result<Summary, IngestError> {
    let mut it = read(path, opts)?;
    for item in it.by_ref() {
        f(item?);
    }
    Ok(it.summary())
}

/// Largest single-exchange input (`curl -i` output, a JSON body) read whole.
const SMALL_INPUT_LIMIT: u64 = 64 * 1024 * 1024;

fn read_small(f: Source, path: &Path) -> Result<Vec<u8>, IngestError> {
    let mut buf = Vec::new();
    f.take(SMALL_INPUT_LIMIT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| IngestError::io(path, e))?;
    if buf.len() as u64 > SMALL_INPUT_LIMIT {
        return Err(IngestError::invalid(
            path,
            format!("larger than {SMALL_INPUT_LIMIT} bytes for a single exchange; is this the right --input kind?"),
        ));
    }
    Ok(buf)
}

/// Detects the kind of input from the start of a file.
pub fn detect_file(path: &Path) -> Result<InputKind, IngestError> {
    let f = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut buf = Vec::with_capacity(64 * 1024);
    f.take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|e| IngestError::io(path, e))?;
    if buf.is_empty() {
        return Err(empty_input(path));
    }
    detect(&buf).ok_or_else(|| unknown_kind(path, &buf))
}

/// An input of 0 bytes: said as such, since "cannot tell what kind of input this is" sent users
/// looking at a file's format when the file (an export that failed, a pipe with nothing in it)
/// held nothing at all.
fn empty_input(path: &Path) -> IngestError {
    let message = if path.as_os_str() == STDIN {
        format!(
            "standard input is empty (0 bytes): nothing to explain; pipe in {TAKES}, or give \
             it as FILE"
        )
    } else {
        format!("the file is empty (0 bytes): nothing to explain; give {TAKES}")
    };
    IngestError::invalid(path, message)
}

/// What `triage explain` reads, as its messages name it.
pub const TAKES: &str = "a HAR file, a triage recording, `curl -i` or `curl -v` output (the curl \
                         command above it or not), an SDK error as printed, or a JSON error body";

fn unknown_kind(path: &Path, head: &[u8]) -> IngestError {
    let mut message =
        format!("cannot tell what kind of input this is (expected {TAKES}); name it with --input");
    if let Some(hint) = named_call(&String::from_utf8_lossy(head)) {
        message.push_str(". ");
        message.push_str(&hint);
    }
    IngestError::invalid(path, message)
}

/// Text that names calls without being a capture of one (a ticket, a forum post: "POST
/// /api/v2/… returns a 409") holds nothing triage can read, so nothing is diagnosed from it.
/// The calls it names are where a capture starts, though: the hint names them and the command
/// that explains the failing one's error body once it is saved. Only what the text leaves no
/// doubt of is filled in: prose names calls of its advice too, and statuses other than the one
/// seen.
fn named_call(text: &str) -> Option<String> {
    use regex::Regex;
    use std::sync::LazyLock;
    static CALL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?:\b(GET|POST|PUT|PATCH|DELETE)\s+)?(?:https://[A-Za-z0-9.-]+)?(/(?:api/v2|oauth)/[A-Za-z0-9/_.~%{}:=&?-]*)",
        )
        .expect("a valid pattern")
    });
    static STATUS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b[45][0-9]{2}\b").expect("a valid pattern"));
    let mut calls: Vec<(Option<&str>, &str)> = Vec::new();
    for c in CALL.captures_iter(text) {
        // Prose ends a sentence or a clause right after the path.
        let path = c
            .get(2)
            .map_or("", |m| m.as_str())
            .trim_end_matches(['.', ',', ':', '?']);
        let method = c.get(1).map(|m| m.as_str());
        if let Some(known) = calls.iter_mut().find(|(_, p)| *p == path) {
            known.0 = known.0.or(method);
        } else if calls.len() < 4 {
            calls.push((method, path));
        }
    }
    let shown = |(m, p): &(Option<&str>, &str)| match m {
        Some(m) => format!("{m} {p}"),
        None => p.to_string(),
    };
    let (method, path, named) = match &calls[..] {
        [] => return None,
        [one] => (
            one.0.unwrap_or("METHOD"),
            one.1,
            format!("a call, {}", shown(one)),
        ),
        more => (
            "METHOD",
            "PATH",
            format!(
                "calls ({})",
                more.iter().map(shown).collect::<Vec<_>>().join(", ")
            ),
        ),
    };
    let mut statuses: Vec<&str> = STATUS.find_iter(text).map(|m| m.as_str()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    let status = match (&calls[..], &statuses[..]) {
        ([_], [one]) => one,
        _ => "CODE",
    };
    Some(format!(
        "It reads as text that names {named}, not a capture: save the failing call's error body \
         (or the whole SDK error) to a file and run `triage explain FILE --method {method} \
         --path {path} --status {status}`, or capture the call as a HAR file or with `curl -v`; \
         `triage ops show \"METHOD PATH\"` says whether a call it names is an operation of the API"
    ))
}

/// Detects the kind of input from its first bytes (64 KiB are plenty).
pub fn detect(prefix: &[u8]) -> Option<InputKind> {
    let s = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = s.iter().position(|b| !b.is_ascii_whitespace())?;
    let s = &s[start..];
    if s[0] == b'{' {
        let rest = &s[1..];
        let k = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        if rest[k..].starts_with(b"\"log\"") {
            return Some(InputKind::Har);
        }
        // Recordings start with `{"v":` (triage writes `v` first); a pasted body rarely does.
        if rest[k..].starts_with(b"\"v\"") {
            return Some(InputKind::Recording);
        }
        let first_line = s.split(|&b| b == b'\n').next().unwrap_or(s);
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(first_line) {
            if m.contains_key("v") && m.contains_key("request") {
                return Some(InputKind::Recording);
            }
        }
        // JSON does not order members, and HAR allows `_` ones anywhere: a tool may write one
        // before `log`. An error body has no member of that name.
        if has_top_level_member(s, b"log") {
            return Some(InputKind::Har);
        }
        return Some(InputKind::JsonBody);
    }
    // `[user@host dir]$ curl …` opens with a prompt, not an array.
    let prompted = s[0] == b'[' && curl::command_line(&curl::opening_line(s)).is_some();
    if (s[0] == b'[' && !prompted) || sdk::looks_python(&String::from_utf8_lossy(s)) {
        return Some(InputKind::JsonBody);
    }
    let curl_first_line = |s: &[u8]| {
        let line = curl::opening_line(s);
        let line = line.as_str();
        line.starts_with("HTTP/")
            || curl::command_line(line).is_some()
            || line.starts_with("> ")
            || line.starts_with("< ")
            || line.starts_with("* ")
            || curl::is_request_line(line)
    };
    // Only what is no other kind is looked at again as pasted from an email (its first line
    // a quoted blank one, `>`), so no other kind is read differently. A JSON body quoted so
    // opens with `{` or `[` once unquoted, which no curl transcript does.
    let unwrapped = curl::unwrap_pasted(s);
    if let (false, Some(b'{' | b'[')) = (
        prompted,
        unwrapped.iter().find(|b| !b.is_ascii_whitespace()),
    ) {
        return Some(InputKind::JsonBody);
    }
    if curl_first_line(s) || curl_first_line(&unwrapped) {
        return Some(InputKind::Curl);
    }
    // Last: an error body quoted in a log line or an exception's text.
    if sdk::quoted(&String::from_utf8_lossy(s)).is_some() {
        return Some(InputKind::JsonBody);
    }
    None
}

/// Whether the object `s` starts with has a member `name` of its own (not of an object inside
/// it), as far as `s` goes.
fn has_top_level_member(s: &[u8], name: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < s.len() && s[j] != b'"' {
                    j += if s[j] == b'\\' { 2 } else { 1 };
                }
                let Some(after) = s.get(j + 1..) else {
                    return false;
                };
                // A member name is a string followed by `:`; a value is not.
                let colon = after
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .is_some_and(|&b| b == b':');
                if depth == 1 && colon && &s[start..j] == name {
                    return true;
                }
                i = j + 1;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

// ---- helpers shared by the readers ----

/// Parts of a URL as triage keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub scheme: String,
    pub host: Option<String>,
    pub path: String,
    pub query: Option<String>,
}

impl UrlParts {
    /// `scheme://host[:port]` of an http(s) URL, credentials left out; `None` for a path.
    pub fn base_url(&self) -> Option<String> {
        match (self.scheme.as_str(), &self.host) {
            (scheme @ ("http" | "https"), Some(host)) => Some(format!("{scheme}://{host}")),
            _ => None,
        }
    }
}

/// Splits an absolute URL (or an origin-form `path?query`) byte-exactly, without normalising.
pub(crate) fn split_url(url: &str) -> UrlParts {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) if !s.contains(['/', '?']) => (s.to_ascii_lowercase(), Some(r)),
        _ => (String::new(), None),
    };
    let (host, path_query) = match rest {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            let authority = &r[..end];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            ((!host.is_empty()).then(|| host.to_owned()), &r[end..])
        }
        None => (None, url),
    };
    let path_query = path_query.split_once('#').map_or(path_query, |(p, _)| p);
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (path_query, None),
    };
    let path = if path.is_empty() && rest.is_some() {
        "/".to_owned()
    } else {
        path.to_owned()
    };
    UrlParts {
        scheme,
        host,
        path,
        query,
    }
}

/// The upstream of a request: the `login.` host, or else the path's routing rule.
pub(crate) fn upstream_for(host: Option<&str>, path: &str) -> UpstreamKind {
    match host {
        Some(h) if h.to_ascii_lowercase().starts_with("login.") => UpstreamKind::Login,
        _ => UpstreamKind::for_path(path),
    }
}

/// Adds a header from a file, dropping HTTP/2 pseudo-headers and what `http` cannot represent.
/// Returns false when the header was dropped.
pub(crate) fn push_header(map: &mut HeaderMap, name: &str, value: &str) -> bool {
    if name.starts_with(':') {
        return false;
    }
    let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.trim().as_bytes()),
        HeaderValue::from_bytes(value.trim().as_bytes()),
    ) else {
        return false;
    };
    map.append(n, v);
    true
}

/// A body as read from a file, decoded when it is still content-encoded: some tools store the
/// bytes on the wire, others (Chrome, `curl --compressed`) the decoded text while keeping the
/// `Content-Encoding` header. Text that already reads as JSON or UTF-8 is taken as decoded.
pub(crate) fn body_from_file(raw: Vec<u8>, headers: &HeaderMap, limit: usize) -> BodyPrefix {
    let encoding = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|e| !e.trim().eq_ignore_ascii_case("identity") && !e.trim().is_empty());
    if let Some(enc) = encoding {
        let gzip_magic = raw.starts_with(&[0x1f, 0x8b]);
        let looks_decoded = !gzip_magic
            && (serde_json::from_slice::<serde::de::IgnoredAny>(&raw).is_ok()
                || std::str::from_utf8(&raw).is_ok());
        if !looks_decoded {
            if let Some((bytes, complete)) = crate::proxy::decode::decode(Some(enc), &raw, limit) {
                return BodyPrefix {
                    bytes: bytes.into(),
                    complete,
                    original_size: None,
                    unknown_why: None,
                };
            }
        }
    }
    limit_body(raw, limit)
}

pub(crate) fn limit_body(mut raw: Vec<u8>, limit: usize) -> BodyPrefix {
    let size = raw.len();
    let complete = size <= limit;
    raw.truncate(limit);
    BodyPrefix {
        bytes: Bytes::from(raw),
        complete,
        // Cut here, but the file held it whole.
        original_size: (!complete).then_some(size as u64),
        unknown_why: None,
    }
}

/// Parses an RFC 3339 / ISO 8601 date-time as HAR tools write it.
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let t = time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .ok()?;
    let nanos = t.unix_timestamp_nanos();
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_nanos(u64::try_from(nanos).ok()?))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_nanos(u64::try_from(-nanos).ok()?))
    }
}

/// Formats a time as RFC 3339 in UTC with milliseconds, as HAR tools write it.
pub(crate) fn format_time(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let t = t
        .replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Line and column (from 1) of byte `offset` in `data`, starting from `start`.
pub(crate) fn advance(start: Position, data: &[u8]) -> Position {
    let mut p = start;
    p.offset += data.len() as u64;
    match data.iter().rposition(|&b| b == b'\n') {
        Some(last) => {
            p.line += data.iter().filter(|&&b| b == b'\n').count() as u64;
            p.column = (data.len() - last) as u64;
        }
        None => p.column += data.len() as u64,
    }
    p
}

/// Byte index in `data` of serde_json's 1-based (line, column).
pub(crate) fn index_of(data: &[u8], line: usize, column: usize) -> usize {
    let mut idx = 0;
    for _ in 1..line {
        match data[idx..].iter().position(|&b| b == b'\n') {
            Some(n) => idx += n + 1,
            None => return data.len(),
        }
    }
    (idx + column.saturating_sub(1)).min(data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_a_byte_order_mark_reads_as_utf8_whatever_the_reads_cut() {
        let text = "{\"message\":\"caf\u{e9} \u{1F600} ok\"}\r\n";
        for little in [true, false] {
            let mut bytes: Vec<u8> = if little {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for u in text.encode_utf16() {
                bytes.extend(if little {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                });
            }
            // Reads of 1 to 5 bytes cut code units and the emoji's surrogate pair apart.
            for cap in 1..=5 {
                let inner: Source = Box::new(BufReader::with_capacity(
                    cap,
                    std::io::Cursor::new(bytes[2..].to_vec()),
                ));
                let mut r = Utf16Reader {
                    inner,
                    little,
                    pending: Vec::new(),
                    read_at: 0,
                    carry: Vec::new(),
                };
                let mut out = String::new();
                r.read_to_string(&mut out).unwrap();
                assert_eq!(out, text, "little-endian {little}, reads of {cap}");
            }
        }
        // Through `open_source`, from a file, as PowerShell 5.1's `>` writes it.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ps.json");
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend("{}".encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&p, bytes).unwrap();
        let mut out = String::new();
        open_source(&p).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "{}");
    }

    /// The command the hint gives, from between its backquotes.
    fn command_of(hint: &str) -> &str {
        hint.split('`').nth(1).unwrap_or_default()
    }

    #[test]
    fn text_that_names_one_call_gets_the_command_that_explains_it() {
        let ticket = "Our send fails: POST https://api.mypurecloud.ie/api/v2/conversations/messages/agentless.\n\
                      It answers 409 Conflict every time.";
        let hint = named_call(ticket).expect("a call is named");
        assert_eq!(
            command_of(&hint),
            "triage explain FILE --method POST --path /api/v2/conversations/messages/agentless \
             --status 409",
            "{hint}"
        );
        assert!(
            hint.contains("names a call, POST /api/v2/conversations/messages/agentless,"),
            "{hint}"
        );
    }

    #[test]
    fn text_that_names_several_calls_or_statuses_leaves_the_choice_to_the_reader() {
        // A forum thread: the failing call, then the calls of the advice under it.
        let thread = "I post to /api/v2/conversations/messaging/messages and get a 409.\n\
                      1. GET /api/v2/conversations/messaging/{conversationId}\n\
                      2. POST /api/v2/conversations/messaging/messages with the new body.";
        let hint = named_call(thread).expect("calls are named");
        assert_eq!(
            command_of(&hint),
            "triage explain FILE --method METHOD --path PATH --status CODE",
            "{hint}"
        );
        assert!(
            hint.contains(
                "names calls (POST /api/v2/conversations/messaging/messages, \
                 GET /api/v2/conversations/messaging/{conversationId})"
            ),
            "{hint}"
        );
        // One call, two statuses (the one seen, and one in the advice).
        let hint = named_call("PUT /api/v2/users/me fails with 409; retry on 429").unwrap();
        assert!(
            command_of(&hint).ends_with("--method PUT --path /api/v2/users/me --status CODE"),
            "{hint}"
        );
        assert_eq!(named_call("The API rejects it with 409 Conflict."), None);
    }

    #[test]
    fn urls_split_byte_exact() {
        let u =
            split_url("https://user@api.mypurecloud.ie:443/api/v2/users/%7Bid%7D?a=1&b=%20#frag");
        assert_eq!(u.scheme, "https");
        assert_eq!(u.host.as_deref(), Some("api.mypurecloud.ie:443"));
        assert_eq!(u.path, "/api/v2/users/%7Bid%7D");
        assert_eq!(u.query.as_deref(), Some("a=1&b=%20"));
        assert_eq!(split_url("https://login.x.com").path, "/");
        let o = split_url("/oauth/token?x");
        assert_eq!((o.host, o.path.as_str()), (None, "/oauth/token"));
    }

    #[test]
    fn input_flags() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            input: InputArgs,
        }
        let t = T::try_parse_from([
            "t",
            "--input",
            "json",
            "--status",
            "409",
            "--method",
            "post",
            "--path",
            "/api/v2/x",
        ])
        .unwrap();
        let o = t.input.options();
        assert_eq!(o.kind, Some(InputKind::JsonBody));
        assert_eq!((o.status, o.method), (Some(409), Some(Method::POST)));
        assert_eq!(o.path.as_deref(), Some("/api/v2/x"));
        assert!(T::try_parse_from(["t", "--status", "42"]).is_err());
    }

    #[test]
    fn detection() {
        assert_eq!(detect(b"\xEF\xBB\xBF{\n  \"log\": {"), Some(InputKind::Har));
        assert_eq!(
            detect(b"{\"v\":1,\"seq\":1,\"request\":{}}\n{\"v\":1"),
            Some(InputKind::Recording)
        );
        assert_eq!(
            detect(b"{\"message\":\"x\",\"status\":409}"),
            Some(InputKind::JsonBody)
        );
        assert_eq!(detect(b"HTTP/2 409\r\n"), Some(InputKind::Curl));
        assert_eq!(
            detect(b"POST /api/v2/x HTTP/1.1\r\n"),
            Some(InputKind::Curl)
        );
        assert_eq!(
            detect(b">\n> HTTP/1.1 409 Conflict\n"),
            Some(InputKind::Curl),
            "quoted from an email, a quoted blank line first"
        );
        assert_eq!(detect(b">\n> hello\n"), None);
        // What curl says of itself before the exchange, a shell's prompt before the command.
        for curl in [
            &b"Note: Unnecessary use of -X or --request, POST is already inferred.\nHTTP/2 409\n"[..],
            b"  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n                                 Dload  Upload   Total   Spent    Left  Speed\n\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0*   Trying 1.2.3.4:443...\n",
            b"C:\\Users\\me> curl.exe -i https://x/y\r\n",
            b"[me@box tmp]$ curl -i https://x/y\n",
            b"me@box:~$ curl -i https://x/y\n",
        ] {
            assert_eq!(
                detect(curl),
                Some(InputKind::Curl),
                "{}",
                String::from_utf8_lossy(curl)
            );
        }
        assert_eq!(detect(b"[me@box tmp]\n"), Some(InputKind::JsonBody));
        assert_eq!(detect(b"hello"), None);
        assert_eq!(detect(b"  \n"), None);
    }

    #[test]
    fn times_round_trip() {
        let t = parse_time("2026-03-01T10:20:30.123Z").unwrap();
        assert_eq!(format_time(t), "2026-03-01T10:20:30.123Z");
        assert_eq!(parse_time("2026-03-01T11:20:30.123+01:00"), Some(t));
    }

    #[test]
    fn positions() {
        let p = advance(
            Position {
                offset: 0,
                line: 1,
                column: 1,
            },
            b"ab\ncd",
        );
        assert_eq!((p.offset, p.line, p.column), (5, 2, 3));
        assert_eq!(index_of(b"ab\ncd", 2, 2), 4);
    }
}

//! Recordings (`triage proxy --record FILE`): every exchange, redacted, with its diagnoses, one
//! JSON object per line, appended as it happens. Nothing is held in memory; each line goes to
//! the file in one `write` on a file opened for appending, so the file is readable while it
//! grows and a crash loses at most the line in flight: recording to the file again starts on a
//! new line, and [`crate::ingest::recording`], which reads recordings back, skips the cut-off
//! one.
//!
//! One line (format version 1):
//! ```json
//! {"v":1,"seq":1,"time":"2026-03-01T10:20:30.123Z","origin":"live",
//!  "request":{"method":"POST","path":"/api/v2/x","query":null,"host":"api.mypurecloud.ie",
//!             "base_url":"https://api.mypurecloud.ie",
//!             "upstream":"api","headers":[["authorization","Bearer [redacted 1a2b3c4d]"]],
//!             "body":"{…}","body_complete":true,"body_size":52},
//!  "response":{"status":409,"http_version":"HTTP/2","headers":[…],"body":"…",
//!              "body_encoding":"base64","body_complete":true},
//!  "timings":{"upstream_ms":12,"total_ms":15},"diagnoses":[…]}
//! ```
//! Bodies are UTF-8 text as a string, otherwise base64 with `"body_encoding":"base64"`;
//! `body_size` is the size of the whole (decoded) body as sent or received, written only when
//! `body` does not say it (redaction changed it, or it is cut); `response` is `null` when no
//! response was received; `diagnoses` are the engine's, opaque here. `base_url` (scheme and
//! authority the request went to), `http_version` (of the connection to the upstream) and
//! `body_size` came after the first recordings; a reader of one without them knows less, and
//! an older triage reading a newer recording ignores them.
//!
//! Also later, and absent when they would say nothing: `triage_answer`, triage's own answer
//! when it made one instead of relaying the upstream's (`response` is then `null`), as the
//! client got it and redacted like the rest:
//! ```json
//!  "triage_answer":{"status":502,"error":"connection_refused","detail":"…",
//!                   "headers":[["proxy-status","triage; error=connection_refused; details=\"…\""],…],
//!                   "body":"{\"type\":\"urn:triage:proxy-error:connection_refused\",…}"}
//! ```
//! and `outcome`, `"client-gone"` or `"cut-at-shutdown"` when the response did not reach its
//! end. A request triage refused (`CONNECT`, absolute-form) is recorded as the client sent it:
//! `host` and `base_url` are its target's, not an upstream's (`base_url` absent for
//! `CONNECT host:port`). The reader takes the host from `base_url` when there is one: `host`
//! may name something else (the proxy the client called, from its `Host` header).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::exchange::{BodyPrefix, Exchange, Origin, Request, Response, Timings, UpstreamKind};

/// The format version written in `"v"`.
pub const VERSION: u32 = 1;

/// One line of a recording.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    pub origin: RecordOrigin,
    pub request: RecordRequest,
    pub response: Option<RecordResponse>,
    /// triage's own answer, when it made one instead of relaying the upstream's (`response`
    /// is then `null`: the upstream said nothing the client saw).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_answer: Option<RecordAnswer>,
    /// How the exchange ended when the response did not reach its end: [`CLIENT_GONE`] or
    /// [`CUT_AT_SHUTDOWN`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default)]
    pub timings: RecordTimings,
    #[serde(default)]
    pub diagnoses: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordOrigin {
    Live,
    File { path: String, index: usize },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordRequest {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    pub upstream: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_encoding: Option<String>,
    #[serde(default = "yes")]
    pub body_complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordResponse {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_encoding: Option<String>,
    #[serde(default = "yes")]
    pub body_complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size: Option<u64>,
}

/// triage's own answer (the upstream failed, or triage refused the request), as the client got
/// it: its status, its `Proxy-Status` error type and details, its head and problem+json body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordAnswer {
    pub status: u16,
    /// The RFC 9209 type of its `Proxy-Status: triage; error=...`.
    pub error: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_encoding: Option<String>,
}

/// `outcome` of an exchange whose client left before the response was over.
pub const CLIENT_GONE: &str = "client-gone";
/// `outcome` of an exchange whose response the proxy's shutdown cut short.
pub const CUT_AT_SHUTDOWN: &str = "cut-at-shutdown";

impl Record {
    /// Adds how a live exchange ended. `secrets` are the exchange's credentials: triage's
    /// answer may quote what the client sent, so it goes through the same redaction.
    pub(crate) fn with_ending(
        mut self,
        ending: &crate::inspect::Ending,
        secrets: &crate::redact::Secrets,
        keep_content: bool,
    ) -> Record {
        self.triage_answer = ending.answered.as_ref().map(|a| {
            let headers = crate::redact::headers(&a.headers)
                .iter()
                .map(|(n, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes());
                    (n.as_str().to_owned(), secrets.scrub(&v).into_owned())
                })
                .collect();
            let ct = a
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let body = crate::redact::body(&a.body, ct, keep_content);
            let body = secrets.scrub_bytes(&body);
            let (body, body_encoding) = body_out(&BodyPrefix::complete(body.into_owned()));
            RecordAnswer {
                status: a.status,
                error: a.error.to_owned(),
                detail: secrets.scrub(&a.detail).into_owned(),
                headers,
                body,
                body_encoding,
            }
        });
        // An exchange read from a file brings its own outcome; a live one's is the ending's.
        if let Some(o) = ending.outcome() {
            self.outcome = Some(o.as_str().to_owned());
        }
        self
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct RecordTimings {
    #[serde(default)]
    pub upstream_ms: Option<u64>,
    #[serde(default)]
    pub total_ms: Option<u64>,
}

fn yes() -> bool {
    true
}

fn headers_out(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// A body as written: text as is, anything else base64.
fn body_out(b: &BodyPrefix) -> (Option<String>, Option<String>) {
    if b.bytes.is_empty() {
        return (None, None);
    }
    match std::str::from_utf8(&b.bytes) {
        Ok(s) => (Some(s.to_owned()), None),
        Err(_) => (
            Some(base64::engine::general_purpose::STANDARD.encode(&b.bytes)),
            Some("base64".to_owned()),
        ),
    }
}

/// `body_size` of a body: only what `body` and `body_complete` do not say already.
fn size_out(b: &BodyPrefix) -> Option<u64> {
    b.original_size
        .filter(|&s| !(b.complete && s == b.bytes.len() as u64))
}

fn body_in(
    body: Option<&str>,
    encoding: Option<&str>,
    complete: bool,
    size: Option<u64>,
) -> Result<BodyPrefix, String> {
    let bytes = match (body, encoding) {
        (None, _) => Vec::new(),
        (Some(s), None) => s.as_bytes().to_vec(),
        (Some(s), Some("base64")) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("body is not valid base64: {e}"))?,
        (Some(_), Some(other)) => return Err(format!("unknown body_encoding {other:?}")),
    };
    Ok(BodyPrefix {
        bytes: bytes.into(),
        complete,
        original_size: size,
        unknown_why: None,
    })
}

fn headers_in(h: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in h {
        crate::ingest::push_header(&mut map, n, v);
    }
    map
}

impl Record {
    /// The line for an exchange as given; callers redact first ([`Recorder`] always does).
    pub fn from_exchange(ex: &Exchange, diagnoses: &[Value]) -> Record {
        let (body, body_encoding) = body_out(&ex.request.body);
        let response = ex.response.as_ref().map(|r| {
            let (body, body_encoding) = body_out(&r.body);
            RecordResponse {
                status: r.status.as_u16(),
                http_version: r
                    .version
                    .map(|v| crate::exchange::version_text(v).to_owned()),
                headers: headers_out(&r.headers),
                body,
                body_encoding,
                body_complete: r.body.complete,
                body_size: size_out(&r.body),
            }
        });
        Record {
            v: VERSION,
            seq: ex.seq,
            time: crate::ingest::format_time(ex.started_at),
            origin: match &ex.origin {
                Origin::Live => RecordOrigin::Live,
                Origin::File { path, index } => RecordOrigin::File {
                    path: path.clone(),
                    index: *index,
                },
            },
            request: RecordRequest {
                method: ex.request.method.as_str().to_owned(),
                path: ex.request.path.clone(),
                query: ex.request.query.clone(),
                host: ex.request.host.as_deref().map(str::to_owned),
                base_url: ex.request.base_url.as_deref().map(str::to_owned),
                upstream: ex.request.upstream.as_str().to_owned(),
                headers: headers_out(&ex.request.headers),
                body,
                body_encoding,
                body_complete: ex.request.body.complete,
                body_size: size_out(&ex.request.body),
            },
            response,
            triage_answer: None,
            outcome: ex.outcome.map(|o| o.as_str().to_owned()),
            timings: RecordTimings {
                upstream_ms: ex.timings.upstream_ms,
                total_ms: ex.timings.total_ms,
            },
            diagnoses: diagnoses.to_vec(),
        }
    }

    /// The exchange of a line; `origin` and `seq` are the reader's (the file and its order).
    pub fn to_exchange(&self, origin: Origin, seq: u64) -> Result<Exchange, String> {
        if self.v != VERSION {
            return Err(format!(
                "recording format version {} (this triage reads version {VERSION})",
                self.v
            ));
        }
        let r = &self.request;
        let method = Method::from_bytes(r.method.as_bytes())
            .map_err(|_| format!("invalid method {:?}", r.method))?;
        let upstream = match r.upstream.as_str() {
            "login" => UpstreamKind::Login,
            "api" => UpstreamKind::Api,
            _ => UpstreamKind::for_path(&r.path),
        };
        let response = match &self.response {
            // What the client got is triage's answer: read as the response, it is explained
            // and exported; its `Proxy-Status: triage` says whose it is.
            None => match &self.triage_answer {
                None => None,
                Some(a) => Some(Response {
                    status: StatusCode::from_u16(a.status)
                        .map_err(|_| format!("invalid status {}", a.status))?,
                    version: None,
                    headers: headers_in(&a.headers),
                    body: body_in(a.body.as_deref(), a.body_encoding.as_deref(), true, None)?,
                    headers_shown: true,
                }),
            },
            Some(resp) => Some(Response {
                status: StatusCode::from_u16(resp.status)
                    .map_err(|_| format!("invalid status {}", resp.status))?,
                version: resp
                    .http_version
                    .as_deref()
                    .and_then(crate::exchange::parse_version),
                headers: headers_in(&resp.headers),
                body: body_in(
                    resp.body.as_deref(),
                    resp.body_encoding.as_deref(),
                    resp.body_complete,
                    resp.body_size,
                )?,
                headers_shown: true,
            }),
        };
        Ok(Exchange {
            seq,
            origin,
            started_at: crate::ingest::parse_time(&self.time).unwrap_or(UNIX_EPOCH),
            request: Request {
                method,
                path: r.path.clone(),
                query: r.query.clone(),
                headers: headers_in(&r.headers),
                body: body_in(
                    r.body.as_deref(),
                    r.body_encoding.as_deref(),
                    r.body_complete,
                    r.body_size,
                )?,
                upstream,
                // The host is the upstream's, as a HAR export's URL names it (built from
                // `base_url`), so that the recording and its export diagnose alike; `host`
                // alone may be the client's `Host` header, which names the proxy.
                host: r
                    .base_url
                    .as_deref()
                    .and_then(|b| crate::ingest::split_url(b).host)
                    .or_else(|| r.host.clone())
                    .map(Into::into),
                base_url: r.base_url.as_deref().map(Into::into),
                shown: crate::exchange::Shown::All,
            },
            response,
            timings: Timings {
                upstream_ms: self.timings.upstream_ms,
                total_ms: self.timings.total_ms,
            },
            inspection: crate::exchange::Inspection::Complete,
            // A name this triage does not know (a newer triage's) says nothing it can show.
            outcome: self
                .outcome
                .as_deref()
                .and_then(crate::exchange::Outcome::parse),
        }
        .read_from_file())
    }
}

/// Appends exchanges to a recording, redacted. Shareable between threads.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: Mutex<File>,
    keep_content: bool,
}

impl Recorder {
    /// Opens (creating it if needed) a recording for appending. When the file does not end
    /// with a line break (a proxy crashed mid-write), one is written first, so that the first
    /// new record starts on a line of its own instead of completing the broken one.
    pub fn open(path: impl AsRef<Path>) -> Result<Recorder, Error> {
        let path = path.as_ref().to_owned();
        let write_err = |source| Error::Write {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(write_err)?;
        if ends_mid_line(&mut file).map_err(write_err)? {
            file.write_all(b"\n").map_err(write_err)?;
        }
        Ok(Recorder {
            path,
            file: Mutex::new(file),
            keep_content: false,
        })
    }

    /// Keep customer-written text (`--keep-content`); credentials are redacted regardless.
    pub fn keep_content(mut self, keep: bool) -> Self {
        self.keep_content = keep;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one exchange, redacted, with its diagnoses: one line, one `write_all` on a file
    /// opened with `O_APPEND`, no user-space buffer, so it is in the file when this returns.
    pub fn append(&self, exchange: &Exchange, diagnoses: &[Value]) -> Result<(), Error> {
        self.append_ended(exchange, diagnoses, &crate::inspect::Ending::default())
    }

    /// [`append`](Self::append) of a live exchange, with how it ended: triage's own answer,
    /// the client leaving, the shutdown cutting it.
    pub fn append_ended(
        &self,
        exchange: &Exchange,
        diagnoses: &[Value],
        ending: &crate::inspect::Ending,
    ) -> Result<(), Error> {
        let (redacted, secrets) = crate::redact::exchange_and_secrets(exchange, self.keep_content);
        let mut record = Record::from_exchange(&redacted, diagnoses).with_ending(
            ending,
            &secrets,
            self.keep_content,
        );
        for d in &mut record.diagnoses {
            // Secret keys are scrubbed, and a cause quoting the upstream's message may quote a
            // credential of the exchange.
            crate::redact::diagnosis_json(d, &secrets);
        }
        let mut line = serde_json::to_vec(&record).map_err(|e| Error::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&line)
            .and_then(|()| file.flush())
            .map_err(|source| Error::Write {
                path: self.path.clone(),
                source,
            })
    }
}

/// True when `file` is a regular file whose last byte is not a line break. Pipes and devices
/// (`/dev/stdout`) cannot be read back and are left alone.
fn ends_mid_line(file: &mut File) -> std::io::Result<bool> {
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() == 0 {
        return Ok(false);
    }
    let mut last = [0u8];
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// A recording is where the pipeline puts every finished exchange.
impl crate::diagnose::Sink for Recorder {
    fn exchange(&self, done: &Arc<crate::diagnose::pipeline::Finished>) {
        let ex = &done.exchange;
        let values: Vec<Value> = done
            .diagnoses
            .iter()
            .filter_map(|d| serde_json::to_value(d).ok())
            .collect();
        if let Err(e) = self.append_ended(ex, &values, &done.ending) {
            // The proxy keeps serving; the log says the recording has a gap.
            tracing::warn!(target: "triage::record", error = %e, seq = ex.seq, "could not append to the recording");
        }
    }
}

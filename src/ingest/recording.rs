//! Reads triage recordings ([`crate::record`]) back, line by line, in bounded memory. Every line
//! stands alone, so a line that is not a record does not cost the others: it is skipped and
//! counted with its line number ([`RecordingReader::skipped`]), and reading goes on. Such lines
//! are what crashes leave: a last line cut off mid-write, or (from a triage that did not start
//! its first record on a new line) a cut-off record with a whole one appended to it, of which
//! the whole one is still read. A recording of which no line at all is a record is an error.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{IngestError, SkippedByReason};
use crate::exchange::{Exchange, Origin};
use crate::record::{Record, VERSION};

/// Longest line accepted: a 1 MiB body base64-encoded, twice over, and headers.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// Why a line was skipped.
const CUT_OFF: &str = "line cut off mid-write";
const BROKEN: &str = "broken line";
const TOO_LONG: &str = "line longer than 64 MiB";
const UNREADABLE: &str = "unreadable record";

/// How every record starts: `Recorder` writes `v` first, without spaces.
const RECORD_START: &[u8] = b"{\"v\":";

/// One recorded exchange with the diagnoses recorded with it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub exchange: Exchange,
    pub diagnoses: Vec<Value>,
    /// triage's own answer (then also the exchange's response: what the client got).
    pub triage_answer: Option<crate::record::RecordAnswer>,
    /// `client-gone` or `cut-at-shutdown` when the response did not reach its end.
    pub outcome: Option<String>,
}

/// The records of a recording, in file order. After an `Err` the iterator ends.
pub struct RecordingReader<R> {
    r: R,
    path: PathBuf,
    body_limit: usize,
    line: u64,
    index: usize,
    done: bool,
    buf: Vec<u8>,
    /// Lines that are not records, by reason, with their line numbers.
    pub skipped: SkippedByReason,
    /// The first bytes read, to say what the input is when no line is a record: a HAR given
    /// where a recording is expected is the likely mistake, and "broken line" hides it.
    head: Vec<u8>,
    /// Whether some line, record or not, is JSON.
    json_seen: bool,
}

/// Bytes kept of the input's start to tell its kind, as [`super::detect`] needs.
const HEAD: usize = 64 * 1024;

impl<R: BufRead> RecordingReader<R> {
    pub fn new(r: R, path: &Path, body_limit: usize) -> Self {
        RecordingReader {
            r,
            path: path.to_owned(),
            body_limit,
            line: 0,
            index: 0,
            done: false,
            buf: Vec::new(),
            skipped: SkippedByReason::new(),
            head: Vec::new(),
            json_seen: false,
        }
    }

    fn skip(&mut self, reason: impl Into<String>) {
        let line = self.line;
        self.skipped
            .entry(reason.into())
            .or_default()
            .add(|| format!("line {line}"));
    }

    fn next_record(&mut self) -> Option<Result<Recorded, IngestError>> {
        loop {
            self.buf.clear();
            let mut limited = <&mut R as std::io::Read>::take(&mut self.r, MAX_LINE as u64 + 1);
            let n = match limited.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(e) => return Some(Err(IngestError::io(&self.path, e))),
            };
            if n == 0 {
                return self.end();
            }
            if self.head.len() < HEAD {
                let take = (HEAD - self.head.len()).min(self.buf.len());
                self.head.extend_from_slice(&self.buf[..take]);
            }
            self.line += 1;
            if self.buf.len() > MAX_LINE {
                if let Err(e) = self.r.skip_until(b'\n') {
                    return Some(Err(IngestError::io(&self.path, e)));
                }
                self.skip(TOO_LONG);
                continue;
            }
            let mut text = &self.buf[..];
            if self.line == 1 {
                // Saved by an editor that marks UTF-8 (Notepad, PowerShell): not damage.
                text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            }
            let text = text.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let record: Record = match serde_json::from_slice(text) {
                Ok(r) => r,
                Err(e) => match appended_record(text) {
                    Some(r) => {
                        self.skip(CUT_OFF);
                        r
                    }
                    None => {
                        self.json_seen = self.json_seen
                            || serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok();
                        let reason = match version_of(text) {
                            Some(v) if v != u64::from(VERSION) => other_version(v),
                            _ if e.is_eof() => CUT_OFF.to_owned(),
                            _ => BROKEN.to_owned(),
                        };
                        self.skip(reason);
                        continue;
                    }
                },
            };
            let origin = Origin::File {
                path: self.path.display().to_string(),
                index: self.index,
            };
            let mut exchange = match record.to_exchange(origin, self.index as u64 + 1) {
                Ok(ex) => ex,
                Err(_) if record.v != VERSION => {
                    self.skip(other_version(record.v));
                    continue;
                }
                Err(_) => {
                    self.skip(UNREADABLE);
                    continue;
                }
            };
            for body in [
                Some(&mut exchange.request.body),
                exchange.response.as_mut().map(|r| &mut r.body),
            ]
            .into_iter()
            .flatten()
            {
                if body.bytes.len() > self.body_limit {
                    body.original_size = body.size();
                    body.bytes.truncate(self.body_limit);
                    body.complete = false;
                }
            }
            self.index += 1;
            return Some(Ok(Recorded {
                exchange,
                diagnoses: record.diagnoses,
                triage_answer: record.triage_answer,
                outcome: record.outcome,
            }));
        }
    }

    /// The end of the input: an error when lines were read and none of them was a record (not
    /// a recording, or nothing but damage), so that no one takes it for an empty recording.
    fn end(&mut self) -> Option<Result<Recorded, IngestError>> {
        if self.index > 0 || self.skipped.is_empty() {
            return None;
        }
        // Another kind of input, said as such: its lines are not damaged records. A JSON
        // object may be a record damaged past recognising, so only a hint is added for it.
        use super::InputKind;
        let written = "`triage proxy --record FILE` writes one";
        let file = self.path.display();
        let kind = super::detect(&self.head);
        let other = match kind {
            Some(InputKind::Har) => Some("a HAR file"),
            Some(InputKind::Curl) => Some("`curl` output"),
            _ => None,
        };
        let message = match other {
            Some(what) => format!(
                "{what}, not a triage recording ({written}); `triage explain {file}` reads it \
                 directly"
            ),
            None => {
                let mut m = format!(
                    "no line could be read as a triage record ({})",
                    super::skipped_text(&self.skipped)
                );
                if kind == Some(InputKind::JsonBody) {
                    m.push_str(&format!(
                        "; if it is a JSON error body or an SDK error as printed, `triage \
                         explain {file}` reads it"
                    ));
                } else if !self.json_seen {
                    m.push_str(&format!(
                        "; no line of it is JSON, so it is no triage recording (JSON Lines, \
                         one record a line: {written})"
                    ));
                }
                m
            }
        };
        Some(Err(IngestError::invalid(&self.path, message)))
    }
}

/// The format version of a line that is an object with a numeric `v`, whatever else it holds.
fn version_of(line: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        v: u64,
    }
    serde_json::from_slice::<Versioned>(line).ok().map(|r| r.v)
}

fn other_version(v: impl std::fmt::Display) -> String {
    format!("record of format version {v} (this triage reads version {VERSION})")
}

/// The whole record at the end of a line that holds a cut-off one before it, if there is one.
fn appended_record(line: &[u8]) -> Option<Record> {
    let mut from = 1;
    while let Some(i) = line
        .get(from..)?
        .windows(RECORD_START.len())
        .position(|w| w == RECORD_START)
    {
        let start = from + i;
        if let Ok(r) = serde_json::from_slice(&line[start..]) {
            return Some(r);
        }
        from = start + 1;
    }
    None
}

impl<R: BufRead> Iterator for RecordingReader<R> {
    type Item = Result<Recorded, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_record();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// Opens a recording (`-` for standard input) for reading with its diagnoses (for
/// `triage export`).
pub fn open(path: &Path, body_limit: usize) -> Result<RecordingReader<super::Source>, IngestError> {
    Ok(RecordingReader::new(
        super::open_source(path)?,
        path,
        body_limit,
    ))
}

//! Reads triage recordings ([`crate::record`]) back, line by line, in bounded memory. A partial
//! last line (the proxy crashed mid-write) or a broken line is the break point: every record
//! before it is yielded, then an error naming the line and byte offset.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{index_of, IngestError, Position};
use crate::exchange::{Exchange, Origin};
use crate::record::Record;

/// Longest line accepted: a 1 MiB body base64-encoded, twice over, and headers.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// One recorded exchange with the diagnoses recorded with it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub exchange: Exchange,
    pub diagnoses: Vec<Value>,
}

/// The records of a recording, in file order. After an `Err` the iterator ends.
pub struct RecordingReader<R> {
    r: R,
    path: PathBuf,
    body_limit: usize,
    offset: u64,
    line: u64,
    index: usize,
    done: bool,
    buf: Vec<u8>,
}

impl<R: BufRead> RecordingReader<R> {
    pub fn new(r: R, path: &Path, body_limit: usize) -> Self {
        RecordingReader {
            r,
            path: path.to_owned(),
            body_limit,
            offset: 0,
            line: 0,
            index: 0,
            done: false,
            buf: Vec::new(),
        }
    }

    fn broken(&self, at: Position, message: String) -> IngestError {
        IngestError::Broken {
            path: self.path.clone(),
            at,
            entry: Some(self.index),
            context: Some(format!("record {} (line {})", self.index, self.line)),
            message,
        }
    }

    fn next_record(&mut self) -> Option<Result<Recorded, IngestError>> {
        loop {
            self.buf.clear();
            let start = self.offset;
            let mut limited = <&mut R as std::io::Read>::take(&mut self.r, MAX_LINE as u64 + 1);
            let n = match limited.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(e) => return Some(Err(IngestError::io(&self.path, e))),
            };
            if n == 0 {
                return None;
            }
            self.offset += n as u64;
            self.line += 1;
            let at_line_start = Position {
                offset: start,
                line: self.line,
                column: 1,
            };
            if self.buf.len() > MAX_LINE {
                return Some(Err(self.broken(
                    at_line_start,
                    format!("line longer than {MAX_LINE} bytes"),
                )));
            }
            let complete_line = self.buf.last() == Some(&b'\n');
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let record: Record = match serde_json::from_slice(text) {
                Ok(r) => r,
                Err(e) => {
                    let lead = self.buf.len() - self.buf.trim_ascii_start().len();
                    let idx = lead + index_of(text, e.line(), e.column());
                    let at = Position {
                        offset: start + idx as u64,
                        line: self.line,
                        column: idx as u64 + 1,
                    };
                    let msg = e.to_string();
                    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
                    let message = if !complete_line && e.is_eof() {
                        format!("incomplete last line (the recording was cut off mid-write): {msg}")
                    } else {
                        format!("broken record: {msg}")
                    };
                    return Some(Err(self.broken(at, message)));
                }
            };
            let origin = Origin::File {
                path: self.path.display().to_string(),
                index: self.index,
            };
            let result = match record.to_exchange(origin, self.index as u64 + 1) {
                Ok(mut exchange) => {
                    for body in [
                        Some(&mut exchange.request.body),
                        exchange.response.as_mut().map(|r| &mut r.body),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        if body.bytes.len() > self.body_limit {
                            body.bytes.truncate(self.body_limit);
                            body.complete = false;
                        }
                    }
                    Ok(Recorded {
                        exchange,
                        diagnoses: record.diagnoses,
                    })
                }
                Err(m) => Err(self.broken(at_line_start, m)),
            };
            self.index += 1;
            return Some(result);
        }
    }
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

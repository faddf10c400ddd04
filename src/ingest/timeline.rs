//! Several inputs as one timeline: their exchanges in the order they happened, so that a replay
//! learns evidence only from exchanges that came before the one it diagnoses, whatever order
//! the files were given or written in.
//!
//! The order: by start time; exchanges with the same time keep the order of the inputs as
//! given, then their order in the file. Exchanges without a time (`curl -i` output, a bare JSON
//! body) come after every timed one, in that same order: they are usually the failure to
//! explain, and whatever the other inputs showed is context for them.
//!
//! Memory stays bounded: the inputs are merged as they are read, not loaded. The merge is exact
//! for inputs each in time order (browsers, Charles, mitmproxy and triage's recordings write
//! them so), however large. An input out of order in itself (entries moved by hand, captures
//! pasted together) is put right within a window of [`WINDOW`] bytes of exchanges read ahead,
//! so any input up to that size, whatever its order. Beyond it an exchange can come later than
//! its time; the evidence store still ignores what it learnt at a later time than the exchange
//! it is asked about ([`crate::evidence`]).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;

use super::{Exchanges, IngestError, ReadOptions, Summary};
use crate::exchange::Exchange;

/// Bytes of exchanges (bodies, headers and some overhead) read ahead at most.
pub const WINDOW: usize = 16 * 1024 * 1024;

/// What the timeline yields.
#[derive(Debug)]
pub enum Event {
    /// The next exchange in time. `input` is its input's position in the list given, `entry`
    /// its position in that input (from 0).
    Exchange {
        input: usize,
        entry: usize,
        exchange: Box<Exchange>,
    },
    /// An input could not be opened or broke after `exchanges_before` exchanges (those are
    /// still replayed, in their place in time).
    Error {
        input: usize,
        error: IngestError,
        exchanges_before: usize,
    },
}

/// Where an exchange goes in the timeline: timed ones first by time, then by input and entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    untimed: bool,
    time: SystemTime,
    input: usize,
    entry: usize,
}

struct Held {
    key: Key,
    bytes: usize,
    exchange: Box<Exchange>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

struct Input {
    path: PathBuf,
    /// Opened on its first read, dropped (closing the file) once read to the end.
    reader: Option<Exchanges>,
    finished: bool,
    read: usize,
    /// The key of the last exchange read.
    last: Option<Key>,
    summary: Summary,
}

/// The exchanges of several inputs, in the order they happened; see the module documentation.
pub struct Timeline {
    inputs: Vec<Input>,
    opts: ReadOptions,
    held: BinaryHeap<Reverse<Held>>,
    held_bytes: usize,
    window: usize,
    errors: VecDeque<Event>,
}

impl Timeline {
    pub fn new(paths: &[impl AsRef<Path>], opts: &ReadOptions) -> Self {
        Timeline {
            inputs: paths
                .iter()
                .map(|p| Input {
                    path: p.as_ref().to_owned(),
                    reader: None,
                    finished: false,
                    read: 0,
                    last: None,
                    summary: Summary::default(),
                })
                .collect(),
            opts: opts.clone(),
            held: BinaryHeap::new(),
            held_bytes: 0,
            window: WINDOW,
            errors: VecDeque::new(),
        }
    }

    /// Reads ahead at most `bytes` of exchanges instead of [`WINDOW`].
    pub fn with_window(mut self, bytes: usize) -> Self {
        self.window = bytes;
        self
    }

    /// What each input's reader did besides yielding exchanges, in the order given (complete
    /// once the timeline has ended).
    pub fn summaries(&self) -> Vec<Summary> {
        self.inputs
            .iter()
            .map(|i| match &i.reader {
                Some(r) => r.summary(),
                None => i.summary.clone(),
            })
            .collect()
    }

    /// Reads one exchange of input `i` into the window.
    fn read_from(&mut self, i: usize) {
        let input = &mut self.inputs[i];
        if input.reader.is_none() {
            match super::read(&input.path, &self.opts) {
                Ok(r) => input.reader = Some(r),
                Err(error) => {
                    input.finished = true;
                    self.errors.push_back(Event::Error {
                        input: i,
                        error,
                        exchanges_before: 0,
                    });
                    return;
                }
            }
        }
        let reader = input.reader.as_mut().expect("opened above");
        match reader.next() {
            Some(Ok(exchange)) => {
                let key = Key {
                    untimed: exchange.started_at == UNIX_EPOCH,
                    time: exchange.started_at,
                    input: i,
                    entry: input.read,
                };
                input.read += 1;
                input.last = Some(key);
                let bytes = held_bytes(&exchange);
                self.held_bytes += bytes;
                self.held.push(Reverse(Held {
                    key,
                    bytes,
                    exchange: Box::new(exchange),
                }));
            }
            end => {
                if let Some(Err(error)) = end {
                    self.errors.push_back(Event::Error {
                        input: i,
                        error,
                        exchanges_before: input.read,
                    });
                }
                input.summary = reader.summary();
                input.reader = None;
                input.finished = true;
            }
        }
    }

    /// The input that must be read before the earliest exchange held can go: one that has not
    /// shown an exchange later than it yet, so might still hold an earlier one.
    fn must_read(&self) -> Option<usize> {
        let earliest = self.held.peek().map(|Reverse(h)| h.key);
        self.inputs
            .iter()
            .enumerate()
            .filter(|(_, input)| !input.finished)
            .filter(|(_, input)| match (input.last, earliest) {
                (Some(last), Some(earliest)) => last < earliest,
                _ => true,
            })
            .min_by_key(|(_, input)| input.last)
            .map(|(i, _)| i)
    }
}

impl Iterator for Timeline {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.errors.pop_front() {
                return Some(e);
            }
            // Reading ahead goes through the inputs one after the other, so that small ones
            // are read to the end (and closed) before the next is opened.
            if self.held_bytes < self.window {
                if let Some(i) = self.inputs.iter().position(|i| !i.finished) {
                    self.read_from(i);
                    continue;
                }
            }
            match self.must_read() {
                Some(i) => self.read_from(i),
                None => break,
            }
        }
        let Reverse(h) = self.held.pop()?;
        self.held_bytes -= h.bytes;
        Some(Event::Exchange {
            input: h.key.input,
            entry: h.key.entry,
            exchange: h.exchange,
        })
    }
}

/// About what an exchange takes in memory, to keep the window to its size.
fn held_bytes(ex: &Exchange) -> usize {
    fn headers(h: &HeaderMap) -> usize {
        h.iter().map(|(n, v)| n.as_str().len() + v.len() + 32).sum()
    }
    let r = &ex.request;
    512 + r.path.len()
        + r.query.as_ref().map_or(0, String::len)
        + r.body.bytes.len()
        + headers(&r.headers)
        + ex.response
            .as_ref()
            .map_or(0, |resp| resp.body.bytes.len() + headers(&resp.headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A HAR of GETs at the given seconds past 10:00, in the order given; the path names the
    /// second.
    fn har(dir: &Path, name: &str, seconds: &[u32]) -> PathBuf {
        let entries: Vec<String> = seconds
            .iter()
            .map(|s| {
                format!(
                    r#"{{"startedDateTime":"2026-03-01T10:00:{s:02}.000Z","request":{{"method":"GET","url":"https://api.mypurecloud.ie/t{s}","headers":[]}},"response":{{"status":200,"headers":[],"content":{{"size":0}}}}}}"#
                )
            })
            .collect();
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        write!(f, r#"{{"log":{{"entries":[{}]}}}}"#, entries.join(",")).unwrap();
        path
    }

    fn order(t: Timeline) -> Vec<String> {
        t.map(|e| match e {
            Event::Exchange {
                input,
                entry,
                exchange,
            } => format!("{input}.{entry}{}", exchange.request.path),
            Event::Error { error, .. } => format!("error {error}"),
        })
        .collect()
    }

    #[test]
    fn inputs_merge_by_time_and_ties_keep_the_order_given() {
        let dir = tempfile::tempdir().unwrap();
        let a = har(dir.path(), "a.har", &[1, 5, 9]);
        let b = har(dir.path(), "b.har", &[0, 5, 7]);
        let body = dir.path().join("body.json");
        std::fs::write(&body, r#"{"message":"x","status":409}"#).unwrap();
        let got = order(Timeline::new(&[&body, &a, &b], &ReadOptions::default()));
        assert_eq!(
            got,
            ["2.0/t0", "1.0/t1", "1.1/t5", "2.1/t5", "2.2/t7", "1.2/t9", "0.0"],
            "by time, ties in the order given, the untimed body last"
        );
    }

    #[test]
    fn an_input_out_of_order_is_put_right_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let a = har(dir.path(), "a.har", &[9, 3, 5, 1]);
        let got = order(Timeline::new(&[&a], &ReadOptions::default()));
        assert_eq!(got, ["0.3/t1", "0.1/t3", "0.2/t5", "0.0/t9"]);
    }

    #[test]
    fn sorted_inputs_merge_exactly_with_no_window_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let a = har(dir.path(), "a.har", &[1, 2, 6, 8]);
        let b = har(dir.path(), "b.har", &[3, 4, 5, 7]);
        let got = order(Timeline::new(&[&a, &b], &ReadOptions::default()).with_window(0));
        assert_eq!(
            got,
            ["0.0/t1", "0.1/t2", "1.0/t3", "1.1/t4", "1.2/t5", "0.2/t6", "1.3/t7", "0.3/t8"]
        );
    }

    #[test]
    fn a_missing_input_is_an_error_and_the_others_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let a = har(dir.path(), "a.har", &[1]);
        let missing = dir.path().join("missing.har");
        let got = order(Timeline::new(&[&missing, &a], &ReadOptions::default()));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("error cannot read"), "{got:?}");
        assert_eq!(got[1], "1.0/t1");
    }
}

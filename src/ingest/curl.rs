//! Exchanges as `curl -i` prints them (status line, headers, blank line, body), each optionally
//! preceded by its request: either `curl -v`'s `> ` lines (with `< ` response lines and `* `
//! notes mixed in) or a plain pasted request (`POST /path HTTP/1.1`, headers, blank line, body),
//! and by the command that made it, a shell's prompt before it or not. When several responses
//! follow each other (`HTTP/1.1 100 Continue`, a proxy's `200 Connection established`), the last
//! one is the exchange's response; a request after a final response (`curl -v URL1 URL2`, a
//! redirect followed, two commands pasted one after the other) starts another exchange. What
//! curl says of itself rather than of the exchange (`Note: …`, the progress meter printed when
//! its output goes to a file, `-v`'s `{ [149 bytes data]`) is left out. A transcript pasted
//! from an email, every line indented alike or quoted with `> `, is read as curl printed it.

use std::borrow::Cow;
use std::path::Path;
use std::sync::LazyLock;
use std::time::UNIX_EPOCH;

use http::{HeaderMap, Method, StatusCode};
use regex::Regex;

use super::{
    body_from_file, limit_body, push_header, split_url, upstream_for, IngestError, ReadOptions,
};
use crate::exchange::{BodyPrefix, Exchange, Origin, Request, Response, Timings};

/// `METHOD target HTTP/x` as a request line.
pub fn is_request_line(line: &str) -> bool {
    let mut it = line.split(' ');
    let (Some(m), Some(t), Some(v), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    !m.is_empty()
        && m.bytes().all(|b| b.is_ascii_uppercase())
        && !t.is_empty()
        && v.starts_with("HTTP/")
}

/// A line curl printed (a request or status line, `curl -v`'s marked lines), which no command
/// line runs on into.
fn printed_by_curl(line: &str) -> bool {
    let l = line.trim_end();
    is_request_line(l)
        || status_line(l).is_some()
        || ["> ", "< ", "* "].iter().any(|m| l.starts_with(m))
        || l == ">"
        || l == "<"
}

/// The HTTP version of a status line (`HTTP/2 404`).
fn status_line_version(line: &str) -> Option<http::Version> {
    crate::exchange::parse_version(line.split_whitespace().next()?)
}

fn status_line(line: &str) -> Option<StatusCode> {
    let rest = line.strip_prefix("HTTP/")?;
    let code = rest.split_whitespace().nth(1)?;
    code.parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
}

/// One line of a transcript: its text (without the line break, and after curl's progress meter
/// when the meter was glued to it), where that text starts and where the line ends, in bytes.
#[derive(Clone)]
struct Line {
    text: String,
    start: usize,
    end: usize,
}

/// Splits `data` into lines; `\r\n` and `\n` both end a line. Lines of curl's progress meter
/// and `-v`'s `{ [N bytes data]` are left out: they can stand anywhere in what curl printed to
/// stderr, and no request or response line looks like them. (A body is taken from `data`
/// itself, so one is never changed by this.)
fn lines(data: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i + 1);
        let raw = String::from_utf8_lossy(&data[start..end]);
        let text = raw.trim_end_matches(['\r', '\n']);
        match meter(text) {
            Some(k) if k >= text.len() => {}
            // The meter is ASCII, so `k` counts the file's bytes too.
            Some(k) => out.push(Line {
                text: text[k..].to_owned(),
                start: start + k,
                end,
            }),
            None => out.push(Line {
                text: text.to_owned(),
                start,
                end,
            }),
        }
        start = end;
    }
    out
}

/// The lines of one exchange: those of the whole transcript from its first, which may begin
/// part way into a line (the next exchange's `* ` note glued to the end of a body).
struct Lines<'a> {
    first: Option<Line>,
    rest: &'a [Line],
}

impl<'a> Lines<'a> {
    fn from(all: &'a [Line], data: &[u8], at: usize) -> Self {
        let k = all.partition_point(|l| l.end <= at);
        let Some(line) = all.get(k) else {
            return Lines {
                first: None,
                rest: &[],
            };
        };
        let first = if line.start >= at {
            line.clone()
        } else {
            let raw = String::from_utf8_lossy(&data[at..line.end]);
            Line {
                text: raw.trim_end_matches(['\r', '\n']).to_owned(),
                start: at,
                end: line.end,
            }
        };
        Lines {
            first: Some(first),
            rest: &all[k + 1..],
        }
    }

    fn get(&self, i: usize) -> Option<&Line> {
        match i {
            0 => self.first.as_ref(),
            _ => self.rest.get(i - 1),
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// The text of line `i`, empty past the end.
    fn text(&self, i: usize) -> &str {
        self.get(i).map_or("", |l| l.text.as_str())
    }
}

/// A number as curl's progress meter prints it (`0`, `42000`, `1234k`, `12.3M`).
const METER_SIZE: &str = r"\d+(?:\.\d+)?[kMGTPE]?";
/// A time as curl's progress meter prints it (`--:--:--`, ` 0:00:01`, `  4d 05h`, `1234d`).
const METER_TIME: &str = r"(?:--:--:--|\d+:\d\d:\d\d|\d+d \d\dh|\d+d)";

/// One update of curl's progress meter: `  0     0    0     0    0     0      0      0
/// --:--:-- --:--:-- --:--:--     0`.
static PROGRESS: LazyLock<Regex> = LazyLock::new(|| {
    let (s, t) = (METER_SIZE, METER_TIME);
    Regex::new(&format!(
        r"^ *\d{{1,3}} +{s} +\d{{1,3}} +{s} +\d{{1,3}} +{s} +{s} +{s} +{t} +{t} +{t} +{s}"
    ))
    .expect("a valid pattern")
});

/// `curl -v`'s stand-in for data it sent or received when its output is not a terminal:
/// exactly `{ [149 bytes data]` or `} [19 bytes data]` (older curl: `[data not shown]`), so that
/// a body's line that opens with `{ [` is never taken for one.
static DATA_MARK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[{}] \[(?:\d+ bytes data|data not shown)\]$").expect("a valid pattern")
});

/// Where the text of a line resumes after curl's progress meter: its length when the line is
/// the meter alone (its heading, one update or several joined by `\r`, `-v`'s data marks);
/// where the glued line starts when curl wrote another line straight after an update
/// (`…     0*   Trying 127.0.0.1:18999...`); `None` when the line does not open with the meter.
fn meter(text: &str) -> Option<usize> {
    let t = text.trim_end();
    // The heading's two lines, told by their words (the first starts with `%`, the second
    // with `Dload`), so that only those are split.
    let words: Vec<&str> = match t.trim_start().as_bytes().first() {
        Some(b'%' | b'D') => t.split_whitespace().collect(),
        _ => Vec::new(),
    };
    if DATA_MARK.is_match(t)
        || words
            == [
                "%", "Total", "%", "Received", "%", "Xferd", "Average", "Speed", "Time", "Time",
                "Time", "Current",
            ]
        || words == ["Dload", "Upload", "Total", "Spent", "Left", "Speed"]
    {
        return Some(text.len());
    }
    progress(text)
}

/// [`meter`] for the meter's updates alone.
fn progress(text: &str) -> Option<usize> {
    let mut at = 0;
    let mut seen = false;
    loop {
        let seg = text.len() - text[at..].trim_start_matches('\r').len();
        let Some(m) = PROGRESS.find(&text[seg..]) else {
            return seen.then_some(seg);
        };
        let after = seg + m.end();
        let rest = &text[after..];
        // The last number ends where a digit or a unit cannot follow.
        if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '.') {
            return seen.then_some(seg);
        }
        seen = true;
        let rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return Some(text.len());
        }
        if !rest.starts_with('\r') {
            return Some(after);
        }
        at = text.len() - rest.len();
    }
}

/// What curl says of how it was called, before anything of the exchange (`Note: Unnecessary use
/// of -X or --request, POST is already inferred.`, `Warning: …`). Only skipped where no header
/// can stand (a `Warning` or `Note` header of a response is the response's).
fn curl_note(line: &str) -> bool {
    line.starts_with("Note: ") || line.starts_with("Warning: ")
}

/// A shell's prompt before a command pasted with it: `$ `, `% ` (zsh), `# `, `> `,
/// `user@host:~/dir$ `, `[user@host dir]$ `, `user@host dir % `, `host:dir user$ ` (macOS),
/// each perhaps after a virtualenv's `(venv) `; PowerShell's `PS C:\Users\me> ` and cmd's
/// `C:\Users\me>` (with a space or not). Only taken for one before `curl ` or `curl.exe `.
static PROMPT_BEFORE_CURL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"^(?:\([^)\s]*\) )?(?:"#,
        r#"(?:[$%#>]|PS>|[^\s@'"]+@[^\s:'"]+:[^\s'"]*[$#]|\[[^\]'"]*@[^\]'"]*\][$#]"#,
        r#"|[^\s@'"]+@[^\s'"]+ [^\s'"]+ [%#]|[^\s:'"]+:[^\s'"]* [^\s'"]+[$#]) +"#,
        r#"|(?:PS [^>]*>|[A-Za-z]:[\\/][^<>|"]*>) *"#,
        r#")curl(?:\.exe)? "#,
    ))
    .expect("a valid pattern")
});

/// A line that is a shell's prompt alone (`C:\Users\me>`, `user@host:~$`, `$`), as pasted after
/// the output when the copy ran on to it. A lone `>` is not one: it is `curl -v`'s.
static PROMPT_ALONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"^(?:\([^)\s]*\) )?(?:"#,
        r#"[$%#]|PS>|PS [^>]*>|[A-Za-z]:[\\/][^<>|"]*>|[^\s@'"]+@[^\s:'"]+:[^\s'"]*[$#]"#,
        r#"|\[[^\]'"]*@[^\]'"]*\][$#]|[^\s@'"]+@[^\s'"]+ [^\s'"]+ [%#]|[^\s:'"]+:[^\s'"]* [^\s'"]+[$#]"#,
        r#")\s*$"#,
    ))
    .expect("a valid pattern")
});

/// The line a transcript opens with, for telling what kind of input it is: the first that is
/// not blank nor curl's talk about itself (its notes, the progress meter), the meter glued
/// before it taken off.
pub(crate) fn opening_line(s: &[u8]) -> String {
    for raw in s.split(|&b| b == b'\n') {
        let raw = String::from_utf8_lossy(raw);
        let text = raw.trim_end_matches(['\r', '\n']);
        let text = match meter(text) {
            Some(k) if k >= text.len() => continue,
            Some(k) => &text[k..],
            None => text,
        };
        if text.trim().is_empty() || curl_note(text) {
            continue;
        }
        return text.trim().to_owned();
    }
    String::new()
}

/// The most lines one pasted command runs over (continued, or a quoted body).
const MAX_COMMAND_LINES: usize = 500;

/// The command of a `curl …` line, after a shell's prompt if there is one (`$ curl …`,
/// `C:\Users\me> curl.exe …`); `curl.exe …` as Firefox's "Copy as cURL (Windows)" writes it
/// (PowerShell's `curl` being another program).
pub(crate) fn command_line(line: &str) -> Option<&str> {
    let l = line.trim_start();
    if l.starts_with("curl ") || l.starts_with("curl.exe ") {
        return Some(l);
    }
    let m = PROMPT_BEFORE_CURL.find(l)?;
    let curl = if m.as_str().ends_with(".exe ") {
        "curl.exe ".len()
    } else {
        "curl ".len()
    };
    Some(&l[m.end() - curl..])
}

/// The command pasted at a line (`first` its text, `next` the index of the line after it): its
/// words (`None` when a quote never closes) and the index of the line after the command.
/// `budget` bounds the bytes split into words, since a quote left open makes each further line
/// split the command again: past it, the line is no command.
fn pasted_command(
    first: &str,
    all: &Lines<'_>,
    next: usize,
    budget: &mut usize,
) -> Option<(Option<Vec<String>>, usize)> {
    let first = command_line(first)?;
    let mut text = first.to_owned();
    let mut end = next;
    let words = loop {
        let continued = text.ends_with('\\') || text.ends_with('^');
        *budget = budget.checked_sub(text.len())?;
        match super::curl_cmd::words(&text) {
            Some(w) if !continued => break Some(w),
            _ if end >= all.len() || end - next >= MAX_COMMAND_LINES => break None,
            // A quote that runs into what curl printed was never closed in the command: a
            // `'` in the request's body below would close it, and the command would then
            // swallow the request it printed and give a body that was not sent.
            _ if printed_by_curl(all.text(end)) => break None,
            _ => {
                text.push('\n');
                text.push_str(all.text(end));
                end += 1;
            }
        }
    };
    if words.is_some() {
        return Some((words, end));
    }
    // A quote that never closes: the lines the first continues onto (`\`, `^`) are the
    // command's too, up to what curl printed.
    let continued = |l: &str| {
        let l = l.trim_end();
        l.ends_with('\\') || l.ends_with('^')
    };
    let mut k = next;
    if continued(first) {
        while k < all.len() && !printed_by_curl(all.text(k)) {
            k += 1;
            if !continued(all.text(k - 1)) {
                break;
            }
        }
    }
    Some((None, k))
}

/// The transcript as curl printed it, from one pasted out of an email: every line indented
/// alike (by spaces or a tab: the common indentation is removed), or quoted with `>` (one level
/// removed, with the space after it, as often as every line is quoted). Email quoting of
/// `curl -v` gives `> > GET …` and `> < HTTP/1.1 …`; curl's own lines are never all `>`, since
/// its response lines are `<`, so a transcript whose every line is quoted is quoted. (One of
/// request lines alone reads the same either way: a `> ` request is that request pasted.)
/// Lines of whitespace alone count as blank and do not decide either.
pub(crate) fn unwrap_pasted(data: &[u8]) -> Cow<'_, [u8]> {
    fn content(line: &[u8]) -> &[u8] {
        let l = line.strip_suffix(b"\n").unwrap_or(line);
        l.strip_suffix(b"\r").unwrap_or(l)
    }
    fn blank(line: &[u8]) -> bool {
        content(line).iter().all(|b| b.is_ascii_whitespace())
    }
    let mut out = Cow::Borrowed(data);
    // Each round removes one layer; a layer is at least one byte of every line that is not
    // blank, so this ends.
    loop {
        let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
        let texts: Vec<&[u8]> = lines.iter().copied().filter(|l| !blank(l)).collect();
        let Some(first) = texts.first() else {
            return out;
        };
        let mut indent = first
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .unwrap_or(first.len());
        for t in &texts[1..] {
            indent = first[..indent]
                .iter()
                .zip(t.iter())
                .take_while(|(a, b)| a == b)
                .count();
        }
        let next: Vec<u8> = if indent > 0 {
            lines
                .iter()
                .flat_map(|l| {
                    if blank(l) {
                        // Keep the line break only: a blank line's spaces are no content.
                        &l[content(l).len()..]
                    } else {
                        &l[indent..]
                    }
                })
                .copied()
                .collect()
        } else if texts.iter().all(|t| t.starts_with(b">")) {
            lines
                .iter()
                .flat_map(|l| {
                    let r = l.strip_prefix(b">").unwrap_or(l);
                    r.strip_prefix(b" ").unwrap_or(r)
                })
                .copied()
                .collect()
        } else {
            return out;
        };
        out = Cow::Owned(next);
    }
}

/// Removes what `curl -v` prints to stderr after the body (`* Connection #0 … left intact`)
/// when both streams were pasted together. Works on the bytes, one line at a time from the end,
/// so that a body of many such lines costs no more than its length.
fn strip_trailing_notes(body: &mut Vec<u8>) {
    let mut end = body.len();
    loop {
        let (last_start, last_end) = last_line(&body[..end]);
        let last = &body[last_start..last_end];
        let cut = if last.starts_with(b"* ") {
            Some(last_start)
        } else {
            memchr::memmem::find(last, b"* Connection #").map(|i| last_start + i)
        };
        match cut {
            Some(c) if c < end => end = c,
            _ => break,
        }
    }
    body.truncate(end);
}

/// Where the last line of `text` starts and ends, its line breaks left out.
fn last_line(text: &[u8]) -> (usize, usize) {
    let end = text.len()
        - text
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
    let start = text[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (start, end)
}

/// Where the JSON value a body opens with ends (an object or an array, as an error body is), in
/// bytes from its start; `None` when it opens with none or the value is not complete.
fn json_value_end(body: &[u8]) -> Option<usize> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if !matches!(body[start], b'{' | b'[') {
        return None;
    }
    let mut values =
        serde_json::Deserializer::from_slice(body).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Some(values.byte_offset()),
        _ => None,
    }
}

/// How much of what follows a complete JSON body to keep (the line break that ends it), when
/// all of it is curl's or the shell's: `* ` notes and curl's notes, the progress meter, and a
/// prompt alone on the last line (the copy ran on to it). `None` when anything else follows,
/// which is then left in the body.
fn curls_after_json(rest: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(rest);
    let parts: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let last = parts.iter().rposition(|l| !l.trim().is_empty());
    for (k, part) in parts.iter().enumerate() {
        let p = part.trim_start_matches([' ', '\t']);
        let curls = p.trim().is_empty()
            || curl_says(p)
            || meter(p).is_some_and(|m| m >= p.len())
            || (Some(k) == last && PROMPT_ALONE.is_match(p));
        if !curls {
            return None;
        }
    }
    let blank = rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
        .count();
    Some(if rest.get(blank) == Some(&b'\n') {
        blank + 1
    } else {
        0
    })
}

/// Removes the progress meter's last update where curl wrote it after the body (the body being
/// flushed first): lines of it alone, and updates joined by `\r` to the body's last line. Only
/// its updates, not `-v`'s data marks, which curl prints before a body, never after one: there
/// a line `{ [149 bytes data]` is the body's.
fn strip_trailing_meter(body: &mut Vec<u8>) {
    let update =
        |b: &[u8]| std::str::from_utf8(b).is_ok_and(|t| progress(t).is_some_and(|m| m >= t.len()));
    let mut end = body.len();
    loop {
        let (last_start, last_end) = last_line(&body[..end]);
        let last = &body[last_start..last_end];
        if last.is_empty() {
            break;
        }
        // The updates at its end, each after a `\r`, from the last back.
        let mut cut = last_end;
        while let Some(r) = body[last_start..cut].iter().rposition(|&b| b == b'\r') {
            if !update(&body[last_start + r + 1..cut]) {
                break;
            }
            cut = last_start + r;
        }
        if cut == last_end && update(last) {
            cut = last_start;
        }
        if cut == last_end {
            break;
        }
        end = cut;
    }
    body.truncate(end);
}

/// What follows the exchange's body in the transcript, when it is curl's or the shell's, taken
/// off the body.
fn strip_tail(body: &mut Vec<u8>, verbose: bool) {
    if let Some(end) = json_value_end(body) {
        if let Some(keep) = curls_after_json(&body[end..]) {
            body.truncate(end + keep);
            return;
        }
    }
    if verbose {
        strip_trailing_notes(body);
    }
    strip_trailing_meter(body);
}

/// What curl says of itself on stderr: `-v`'s `* ` notes, its notes on how it was called, and
/// its error (`curl: (56) Failure when receiving data from the peer`).
fn curl_says(line: &str) -> bool {
    line.starts_with("* ") || curl_note(line) || line.starts_with("curl: (")
}

/// Whether the run of `curl -v` lines from line `from` holds a request: another exchange's,
/// whether a response follows it or not. Also the index where the run ends, from which a scan
/// may go on.
fn exchange_in_run(all: &Lines<'_>, from: usize) -> (bool, usize) {
    let mut k = from;
    while let Some(l) = all.get(k) {
        let t = l.text.as_str();
        if let Some(r) = marked(t, '>') {
            if is_request_line(r.trim_start()) {
                return (true, k);
            }
        } else if marked(t, '<').is_none() && !curl_says(t) && !t.trim().is_empty() {
            break;
        }
        k += 1;
    }
    (false, k)
}

/// Whether a line (its text `first`, `next` the index of the line after it) opens another
/// exchange after a body: a pasted curl command with curl's output after it (a status line, or
/// `curl -v`'s lines up to a request), or `curl -v`'s lines alone up to a request. Straight
/// after a JSON body (`after_json`), a command alone, or a status line (`curl -i URL1 URL2`),
/// does too. Also the index from which a scan may go on when it does not.
fn opens_exchange(
    first: &str,
    all: &Lines<'_>,
    next: usize,
    after_json: bool,
    budget: &mut usize,
) -> (bool, usize) {
    if let Some((_, end)) = pasted_command(first, all, next, budget) {
        let mut k = end;
        while all
            .get(k)
            .is_some_and(|l| l.text.trim().is_empty() || curl_note(&l.text))
        {
            k += 1;
        }
        let t = all.text(k);
        let opens = after_json
            || status_line(t).is_some()
            || (verbose_line(t) && exchange_in_run(all, k).0);
        return (opens, end);
    }
    if after_json && status_line(first).is_some() {
        // A whole head (header lines, then a blank line), not a status line alone: that may
        // be a line of the body moved.
        let mut k = next;
        while all.get(k).is_some_and(|l| l.text.contains(':')) {
            k += 1;
        }
        return (all.get(k).is_some_and(|l| l.text.is_empty()), next);
    }
    if curl_says(first) {
        return exchange_in_run(all, next);
    }
    if marked(first, '>').is_some_and(|r| is_request_line(r.trim_start())) {
        return (true, next);
    }
    (false, next)
}

/// Whether a line after a JSON body leaves what follows it still straight after the body: curl's
/// talk, a prompt alone, a blank line.
fn only_curls(line: &str) -> bool {
    line.trim().is_empty() || curl_says(line) || PROMPT_ALONE.is_match(line)
}

/// Where the next exchange starts after a body that starts at byte `body_start`, line `from`:
/// at the first line that opens one, or, when the body is JSON, straight after it if what curl
/// printed next was glued to it (`{…}* Found bundle for host …`, `{…}user@host:~$ curl …`).
fn next_exchange(all: &Lines<'_>, from: usize, data: &[u8], body_start: usize) -> Option<usize> {
    let json_end = json_value_end(&data[body_start..]).map(|e| body_start + e);
    // The bytes of commands split into words while looking, so that a body of lines that each
    // open a quote costs no more than this.
    let mut budget = 1 << 20;
    // Whether all since the end of the JSON body, up to this line, was curl's or the shell's.
    let mut after_json = false;
    let mut past_json = false;
    let mut m = from;
    while let Some(line) = all.get(m) {
        if let Some(je) = json_end.filter(|&je| !past_json && je < line.end) {
            past_json = true;
            after_json = true;
            if je > line.start {
                let rest = String::from_utf8_lossy(&data[je..line.end]);
                let rest = rest.trim_end_matches(['\r', '\n']);
                let glued = rest.trim_start();
                if !glued.is_empty() {
                    if opens_exchange(glued, all, m + 1, true, &mut budget).0 {
                        return Some(je + rest.len() - glued.len());
                    }
                    after_json = only_curls(glued);
                }
                m += 1;
                continue;
            }
        }
        let (opens, past) = opens_exchange(&line.text, all, m + 1, after_json, &mut budget);
        if opens {
            return Some(line.start);
        }
        after_json = after_json && only_curls(&line.text);
        m = past.max(m + 1);
    }
    None
}

/// A line `curl -v` marks as its own: `> ` (sent), `< ` (received), `* ` (a note).
fn verbose_line(l: &str) -> bool {
    l.starts_with("> ") || l.starts_with("< ") || l.starts_with("* ") || l == ">"
}

/// The rest of a line `curl -v` marked with `mark`: `> ` and `< ` (or the bare mark for the
/// blank line ending a head); a line such as `<html>` is the body's.
fn marked(l: &str, mark: char) -> Option<&str> {
    let r = l.strip_prefix(mark)?;
    (r.is_empty() || r.starts_with(' ')).then_some(r)
}

/// Every exchange of a transcript, in its order. The input says what happened, so what it says
/// wins over `--status`, `--method` and `--path` (which fill in what it does not say); a flag
/// that disagrees is named in `warnings`.
pub(crate) fn parse(
    data: &[u8],
    path: &Path,
    opts: &ReadOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<Exchange>, IngestError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let data = &*unwrap_pasted(data);
    let all = lines(data);
    let mut out: Vec<Exchange> = Vec::new();
    // `--status`, `--method` and `--path` say what one pasted exchange leaves out: the first's.
    // A later one read with them would take a status no response gave.
    let later = ReadOptions {
        status: None,
        method: None,
        path: None,
        ..opts.clone()
    };
    let mut at = 0;
    loop {
        let segment = Lines::from(&all, data, at);
        let opts = if out.is_empty() { opts } else { &later };
        // Only a final response makes an exchange after the first: an interim one (`100
        // Continue`) alone says none followed.
        let read = parse_one(data, &segment, path, opts, warnings).and_then(|(ex, next)| match ex
            .status()
        {
            Some(100..=199) if !out.is_empty() => {
                Err(IngestError::invalid(path, "no final response"))
            }
            _ => Ok((ex, next)),
        });
        match read {
            Ok((mut ex, next)) => {
                ex.seq = out.len() as u64 + 1;
                if let Origin::File { index, .. } = &mut ex.origin {
                    *index = out.len();
                }
                out.push(ex);
                match next {
                    Some(n) if n > at => at = n,
                    _ => break,
                }
            }
            Err(e) if out.is_empty() => return Err(e),
            // A request with no response after it (curl could not connect for the next URL).
            Err(_) => {
                let opens = (0..segment.len())
                    .filter_map(|k| segment.get(k))
                    .find(|l| {
                        command_line(&l.text).is_some()
                            || marked(&l.text, '>').is_some_and(|r| is_request_line(r.trim_start()))
                    })
                    .map_or(at, |l| l.start);
                let line = 1 + data[..opens].iter().filter(|&&b| b == b'\n').count();
                warnings.push(format!(
                    "{}: line {line}: another exchange starts here (a curl command or request), \
                     but no response follows it: it is not read",
                    path.display()
                ));
                break;
            }
        }
    }
    let flags = opts.request_flags();
    if out.len() > 1 && !flags.is_empty() {
        warnings.push(format!(
            "{}: {} taken for the first of its {} exchanges only",
            path.display(),
            flags.join(", "),
            out.len()
        ));
    }
    Ok(out)
}

/// The exchange whose lines `all` open with, and the byte where the next exchange starts.
fn parse_one(
    data: &[u8],
    all: &Lines<'_>,
    path: &Path,
    opts: &ReadOptions,
    warnings: &mut Vec<String>,
) -> Result<(Exchange, Option<usize>), IngestError> {
    let mut i = 0;
    let mut method: Option<Method> = None;
    let mut target: Option<String> = None;
    // A pasted command line (`$ curl -i -X POST https://…`, over several lines with `\` or a
    // quoted body) says the method and the URL, and what the request carried as far as the
    // command gives it. curl's notes on how it was called follow it.
    let mut command: Option<super::curl_cmd::Command> = None;
    let mut unbounded = usize::MAX;
    loop {
        while all
            .get(i)
            .is_some_and(|l| l.text.trim().is_empty() || curl_note(&l.text))
        {
            i += 1;
        }
        let Some((words, end)) = pasted_command(all.text(i), all, i + 1, &mut unbounded) else {
            break;
        };
        match words {
            Some(w) => {
                let c = super::curl_cmd::parse(&w);
                method = c.method.clone().or(method);
                target = c.url.clone().or(target);
                command = Some(c);
            }
            // A quote that never closes: the first line, split at spaces, says its method and
            // URL; not what the request carried.
            None => {
                let words: Vec<String> = command_line(all.text(i))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_owned())
                    .collect();
                let c = super::curl_cmd::parse(&words);
                method = c.method.or(method);
                target = c.url.or(target);
                command = None;
            }
        }
        i = end;
    }
    let mut req_headers = HeaderMap::new();
    let mut req_body = Vec::new();
    // Whether the request itself was shown (`curl -v`'s `>` lines, or a pasted request), which
    // then says more of it than a command line does.
    let mut request_shown = false;
    let mut status: Option<StatusCode> = None;
    let mut version = None;
    let mut resp_headers = HeaderMap::new();
    let mut body_start = data.len();
    // Where the next exchange starts, when another follows.
    let mut next: Option<usize> = None;

    let verbose = verbose_line(all.text(i));
    if verbose {
        // curl -v: prefixed lines, then the body (stdout) after the last `<` block.
        // The end of a final response's head, after which a request is another exchange's;
        // a tunnel's `200 Connection established` and a `100 Continue` are not final.
        let mut final_head_end: Option<usize> = None;
        let mut is_final = false;
        while let Some(line) = all.get(i) {
            let l = line.text.as_str();
            if let Some(r) = marked(l, '>') {
                let r = r.trim_start();
                if is_request_line(r) {
                    if let Some(end) = final_head_end {
                        next = Some(end);
                        break;
                    }
                    request_shown = true;
                    let mut p = r.split(' ');
                    method = p.next().and_then(|m| Method::from_bytes(m.as_bytes()).ok());
                    target = p.next().map(str::to_owned);
                    req_headers.clear();
                } else if let Some((n, v)) = r.split_once(':') {
                    push_header(&mut req_headers, n, v);
                }
            } else if let Some(r) = marked(l, '<') {
                let r = r.trim_start();
                if let Some(s) = status_line(r) {
                    status = Some(s);
                    version = status_line_version(r);
                    resp_headers.clear();
                    is_final = !s.is_informational() && method != Some(Method::CONNECT);
                    final_head_end = None;
                } else if r.trim().is_empty() {
                    if is_final {
                        final_head_end = Some(line.end);
                    }
                } else if let Some((n, v)) = r.split_once(':') {
                    push_header(&mut resp_headers, n, v);
                }
            } else if !l.starts_with("* ") {
                break;
            }
            i += 1;
        }
        body_start = next.or(all.get(i).map(|l| l.start)).unwrap_or(data.len());
    } else {
        if let Some(l) = all.get(i).filter(|l| is_request_line(&l.text)) {
            request_shown = true;
            let mut p = l.text.split(' ');
            method = p.next().and_then(|m| Method::from_bytes(m.as_bytes()).ok());
            target = p.next().map(str::to_owned);
            i += 1;
            while let Some(l) = all.get(i) {
                i += 1;
                if l.text.is_empty() {
                    break;
                }
                if let Some((n, v)) = l.text.split_once(':') {
                    push_header(&mut req_headers, n, v);
                }
            }
            // The request body runs up to the status line.
            let from = i
                .checked_sub(1)
                .and_then(|k| all.get(k))
                .map_or(0, |l| l.end);
            let resp = (i..all.len()).find(|&k| status_line(all.text(k)).is_some());
            let to = resp
                .and_then(|k| k.checked_sub(1))
                .and_then(|k| all.get(k))
                .map_or(data.len(), |l| l.end);
            if to > from {
                let mut b = data[from..to].to_vec();
                while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                    b.pop();
                }
                req_body = b;
            }
            i = resp.unwrap_or(all.len());
        }
        // One or more responses; the last one wins.
        while let Some(s) = status_line(all.text(i)) {
            status = Some(s);
            version = status_line_version(all.text(i));
            resp_headers.clear();
            i += 1;
            let mut ended = false;
            while let Some(l) = all.get(i) {
                i += 1;
                body_start = l.end;
                if l.text.is_empty() {
                    ended = true;
                    break;
                }
                if let Some((n, v)) = l.text.split_once(':') {
                    push_header(&mut resp_headers, n, v);
                }
            }
            if !ended {
                body_start = data.len();
                break;
            }
        }
    }
    if next.is_none() && status.is_some() {
        next = next_exchange(all, i, data, body_start);
    }

    let file = path.display();
    if let (Some(got), Some(flag)) = (status, opts.status) {
        if got.as_u16() != flag {
            warnings.push(format!(
                "{file}: --status {flag} disagrees with the status line: {}; the report uses \
                 the status line's {}",
                got.as_u16(),
                got.as_u16()
            ));
        }
    }
    let status = status
        .or_else(|| opts.status.and_then(|s| StatusCode::from_u16(s).ok()))
        .ok_or_else(|| {
            IngestError::invalid(
                path,
                "no HTTP status line (`HTTP/1.1 409 Conflict`) found: is this `curl -i` output?",
            )
        })?;
    let end = next.unwrap_or(data.len());
    let mut body = data[body_start.min(end)..end].to_vec();
    strip_tail(&mut body, verbose);
    let body = body_from_file(body, &resp_headers, opts.body_limit);

    let host_header = req_headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let (Some(got), Some(flag)) = (&target, &opts.path) {
        let (g, f) = (split_url(got), split_url(flag));
        if (&g.path, &g.query) != (&f.path, &f.query) {
            warnings.push(format!(
                "{file}: --path {} disagrees with the request in the input: {}; the report uses \
                 the input's",
                crate::redact::url(flag),
                crate::redact::path_and_query(&g.path, g.query.as_deref())
            ));
        }
    }
    if let (Some(got), Some(flag)) = (&method, &opts.method) {
        if got != flag {
            warnings.push(format!(
                "{file}: --method {flag} disagrees with the request in the input: {got}; the \
                 report uses the input's"
            ));
        }
    }
    let target = target.or_else(|| opts.path.clone());
    let (host, path_s, query, base_url) = match target {
        Some(t) => {
            let u = split_url(&t);
            let base = u.base_url();
            (u.host.or(host_header), u.path, u.query, base)
        }
        None => (host_header, String::new(), None, None),
    };
    let method = method
        .or_else(|| opts.method.clone())
        .unwrap_or_else(Request::unknown_method);
    let upstream = upstream_for(host.as_deref(), &path_s);
    // How much of the request the input showed: a pasted request shows it whole; `curl -v`
    // its headers, not its body, which the command line may give; a command line alone what
    // it gives.
    use crate::exchange::Shown;
    let shown = match (&command, request_shown, verbose) {
        (_, true, false) => Shown::All,
        (Some(c), true, true) if c.body_known => {
            if req_body.is_empty() {
                req_body = c.body.clone().unwrap_or_default();
            }
            Shown::All
        }
        (_, true, true) => Shown::HeadOnly,
        (Some(c), false, _) if c.headers_known => {
            for (n, v) in &c.headers {
                push_header(&mut req_headers, n, v);
            }
            req_body = c.body.clone().unwrap_or_default();
            if c.body_known {
                Shown::All
            } else {
                Shown::HeadOnly
            }
        }
        _ => Shown::MethodAndUrl,
    };
    let exchange = Exchange {
        seq: 1,
        origin: Origin::File {
            path: path.display().to_string(),
            index: 0,
        },
        started_at: UNIX_EPOCH,
        request: Request {
            method,
            path: path_s,
            query,
            headers: req_headers,
            body: if req_body.is_empty() {
                BodyPrefix::complete(bytes::Bytes::new())
            } else {
                limit_body(req_body, opts.body_limit)
            },
            upstream,
            host: host.map(Into::into),
            base_url: base_url.map(Into::into),
            shown,
        },
        response: Some(Response {
            status,
            version,
            headers: resp_headers,
            body,
            headers_shown: true,
        }),
        timings: Timings::default(),
        inspection: crate::exchange::Inspection::Complete,
        outcome: None,
    }
    .read_from_file();
    Ok((exchange, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> (Vec<Exchange>, Vec<String>) {
        let mut warnings = Vec::new();
        let exs = parse(
            s.as_bytes(),
            Path::new("x.txt"),
            &ReadOptions::default(),
            &mut warnings,
        )
        .unwrap();
        (exs, warnings)
    }

    fn p(s: &str) -> Exchange {
        let (mut exs, _) = all(s);
        assert_eq!(exs.len(), 1, "one exchange in {s:?}");
        exs.remove(0)
    }

    const CONFLICT: &str = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;

    fn body(ex: &Exchange) -> String {
        String::from_utf8_lossy(&ex.response.as_ref().unwrap().body.bytes).into_owned()
    }

    #[test]
    fn curls_notes_are_skipped_with_or_without_the_command() {
        let note = "Note: Unnecessary use of -X or --request, POST is already inferred.";
        let cmd = r#"curl -X POST https://api.mypurecloud.ie/api/v2/x -H "Content-Type: application/json" -d '{"a":1}'"#;
        let i =
            format!("HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n{CONFLICT}");
        let v = format!("*   Trying 52.1.2.3:443...\n> POST /api/v2/x HTTP/2\n> Host: api.mypurecloud.ie\n>\n< HTTP/2 409\n< content-type: application/json\n<\n{CONFLICT}\n");
        for (how, text) in [
            ("-i, the command", format!("{cmd}\n{note}\n{i}")),
            ("-i alone", format!("{note}\n{i}")),
            ("-v, the command", format!("{cmd}\n{note}\n{v}")),
            ("-v alone", format!("{note}\r\n{v}")),
        ] {
            let ex = p(&text);
            assert_eq!(ex.status(), Some(409), "{how}");
            assert_eq!(body(&ex).trim_end(), CONFLICT, "{how}");
            if how.ends_with("command") {
                assert_eq!(ex.request.method, Method::POST, "{how}");
                assert_eq!(ex.request.path, "/api/v2/x", "{how}");
                assert_eq!(&ex.request.body.bytes[..], br#"{"a":1}"#, "{how}");
            }
        }
        // A response's own `Warning` or `Note` header is its header.
        let ex = p("HTTP/1.1 409 Conflict\r\nNote: kept\r\nWarning: 199 - \"kept\"\r\n\r\n{}");
        let h = &ex.response.as_ref().unwrap().headers;
        assert_eq!(h.get("note").unwrap(), "kept");
        assert_eq!(h.get("warning").unwrap(), "199 - \"kept\"");
    }

    #[test]
    fn the_progress_meter_is_curls_and_the_rest_reads_as_before() {
        let head = "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n                                 Dload  Upload   Total   Spent    Left  Speed\n";
        let printed = format!(
            "{head}\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0*   Trying 127.0.0.1:18999...\n\
             * Connected to 127.0.0.1 (127.0.0.1) port 18999 (#0)\n\
             > POST /api/v2/x HTTP/1.1\r\n> Host: 127.0.0.1:18999\r\n> Content-Length: 7\r\n> \r\n\
             }} [7 bytes data]\n\
             < HTTP/1.1 409 Conflict\r\n< Content-Type: application/json\r\n< \r\n\
             {{ [121 bytes data]\n\
             \r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0\r100   128  100   121  100     7  30052   3832 --:--:-- --:--:-- --:--:-- 42000\n\
             * Connection #0 to host 127.0.0.1 left intact\n\
             {CONFLICT}"
        );
        let ex = p(&printed);
        assert_eq!(
            (&ex.request.method, ex.status()),
            (&Method::POST, Some(409))
        );
        assert_eq!(ex.request.path, "/api/v2/x");
        assert_eq!(body(&ex), CONFLICT);
        // `curl -i` with the meter, whose last update follows the body.
        let ex = p(&format!(
            "{head}  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0\n\
             HTTP/1.1 409 Conflict\r\n\r\n{CONFLICT}\r100   121  100   121    0     0   523      0  0:00:01 --:--:--  0:00:01   524\n"
        ));
        assert_eq!(body(&ex), CONFLICT);
        let ex = p("HTTP/1.1 500 X\r\n\r\n<html>oops</html>\n100   121  100   121    0     0  1.2M      0 --:--:-- --:--:-- --:--:-- 1234k\n");
        assert_eq!(body(&ex), "<html>oops</html>\n");
    }

    #[test]
    fn the_meter_is_told_by_its_shape() {
        let update =
            "  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0";
        assert_eq!(meter(update), Some(update.len()));
        let glued = format!("\r{update}\r{update}* ALPN: curl offers h2");
        assert_eq!(&glued[meter(&glued).unwrap()..], "* ALPN: curl offers h2");
        assert_eq!(meter("{ [149 bytes data]"), Some(18));
        assert_eq!(meter("} [5 bytes data]"), Some(16));
        for body in [
            "{ [149 bytes data] }",
            "{ [\"a\"] }",
            "{ [1, 2]",
            "100 200 300",
            "  0     0    0     0",
            "Dload",
        ] {
            assert_eq!(meter(body), None, "{body:?}");
        }
    }

    #[test]
    fn a_body_that_opens_with_a_brace_and_a_bracket_is_the_bodys() {
        let ex = p("> GET /x HTTP/1.1\n>\n< HTTP/1.1 409 Conflict\n<\n{ [\"not\", \"json\"] }\n* Connection #0 to host x left intact\n");
        assert_eq!(body(&ex), "{ [\"not\", \"json\"] }\n");
        let ex = p("HTTP/1.1 409 Conflict\n\n{ [149 bytes data]\n");
        assert_eq!(
            body(&ex),
            "{ [149 bytes data]\n",
            "a `curl -i` body is never curl's"
        );
    }

    #[test]
    fn a_shells_prompt_before_the_command_is_not_the_commands() {
        let url = "https://api.mypurecloud.com/api/v2/x";
        for prompt in [
            "$ ",
            "% ",
            "> ",
            "# ",
            r"C:\Users\me> ",
            r"C:\Users\me>",
            r"PS C:\Users\me> ",
            "user@host:~$ ",
            "user@host:~/src/app# ",
            "[user@host dir]$ ",
            "user@host ~ % ",
            "MacBook-Pro:~ me$ ",
            "(venv) user@host:~$ ",
        ] {
            for curl in ["curl", "curl.exe"] {
                let line = format!("{prompt}{curl} -X DELETE {url}");
                assert_eq!(
                    command_line(&line),
                    Some(format!("{curl} -X DELETE {url}").as_str()),
                    "{line:?}"
                );
                let ex = p(&format!("{line}\r\nHTTP/1.1 409 Conflict\r\n\r\n{{}}"));
                assert_eq!(ex.request.method, Method::DELETE, "{line:?}");
            }
        }
        for not in [
            "> GET /x HTTP/1.1",
            "> curly: x",
            "echo $curl -X",
            "$curl -X DELETE x",
            "it's $ curl x",
        ] {
            assert_eq!(command_line(not), None, "{not:?}");
        }
    }

    #[test]
    fn a_prompt_after_a_json_body_is_not_the_bodys_and_nothing_else_is_taken_off() {
        for tail in [
            "\r\nC:\\Users\\me>",
            "\nC:\\Users\\me>\n",
            "\n\nuser@host:~$ ",
            "\nPS C:\\Users\\me> ",
            "user@host:~$ ",
            "\n$",
        ] {
            let ex = p(&format!("HTTP/1.1 409 Conflict\r\n\r\n{CONFLICT}{tail}"));
            assert_eq!(body(&ex).trim_end(), CONFLICT, "{tail:?}");
        }
        // Not a complete JSON body, or more than a prompt after it: the body as it was.
        for text in [
            "{\"a\": \nuser@host:~$",
            "oops\nuser@host:~$",
            "{\"a\":1}\nuser@host:~$ ls\n",
            "{\"a\":1}\nsee the docs\nuser@host:~$",
            "{\"a\":1}\n>",
        ] {
            let ex = p(&format!("HTTP/1.1 409 Conflict\r\n\r\n{text}"));
            assert_eq!(body(&ex), text);
        }
    }

    #[test]
    fn every_exchange_of_a_transcript_is_read() {
        let head = |path: &str, status: &str| {
            format!("> GET {path} HTTP/1.1\r\n> Host: api.mypurecloud.com\r\n> \r\n< HTTP/1.1 {status}\r\n< Content-Type: application/json\r\n< \r\n")
        };
        let other = r#"{"message":"no","code":"not.found","status":404}"#;
        let says = |exs: &[Exchange]| -> Vec<(String, Option<u16>, String)> {
            exs.iter()
                .map(|e| {
                    (
                        e.request.path.clone(),
                        e.status(),
                        body(e).trim_end().to_owned(),
                    )
                })
                .collect()
        };
        let want = vec![
            ("/a".to_owned(), Some(409), CONFLICT.to_owned()),
            ("/b".to_owned(), Some(404), other.to_owned()),
        ];
        // `curl -sv URL1 URL2`, the second's notes glued to the first's body.
        let (exs, warnings) = all(&format!(
            "*   Trying 1.2.3.4:443...\n{}{{ [121 bytes data]\n* Connection #0 to host x left intact\n{CONFLICT}* Found bundle for host: 0x55 [serially]\n* Re-using existing connection #0\n{}{other}",
            head("/a", "409 Conflict"),
            head("/b", "404 Not Found"),
        ));
        assert_eq!(says(&exs), want);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(exs.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        // Two commands and their output pasted one after the other, `-v` and `-i`, a body
        // with a line break after it or not.
        for (first, second) in [
            (
                format!("$ curl -v https://api.mypurecloud.com/a\n* Trying\n{}{CONFLICT}\n", head("/a", "409 Conflict")),
                format!("$ curl -v https://api.mypurecloud.com/b\nNote: x\n* Trying\n{}{other}\n", head("/b", "404 Not Found")),
            ),
            (
                format!("user@host:~$ curl -i https://api.mypurecloud.com/a\nHTTP/2 409\n\n{CONFLICT}"),
                format!("user@host:~$ curl -i -X GET \\\n  https://api.mypurecloud.com/b\nHTTP/2 404\n\n{other}\nuser@host:~$ "),
            ),
            (
                format!("HTTP/2 409\n\n{CONFLICT}"),
                format!("HTTP/2 404\n\n{other}"),
            ),
        ] {
            let (exs, warnings) = all(&format!("{first}{second}"));
            let got = says(&exs);
            if first.starts_with("HTTP") {
                // `curl -i URL1 URL2`: no request shown.
                assert_eq!(got.iter().map(|g| (g.1, g.2.clone())).collect::<Vec<_>>(), want.iter().map(|w| (w.1, w.2.clone())).collect::<Vec<_>>());
            } else {
                assert_eq!(got, want, "{first}{second}");
            }
            assert!(warnings.is_empty(), "{warnings:?}");
        }
        // A redirect followed is two exchanges; a proxy's tunnel and `100 Continue` are not.
        let (exs, _) = all(&format!(
            "> POST /a/ HTTP/1.1\n>\n< HTTP/1.1 308 Permanent Redirect\n< Location: /a\n<\n* Issue another request to this URL: 'https://x/a'\n> POST /a HTTP/1.1\n>\n< HTTP/1.1 100 Continue\n* We are completely uploaded and fine\n< HTTP/1.1 409 Conflict\n<\n{CONFLICT}"
        ));
        assert_eq!(
            exs.iter()
                .map(|e| (e.request.path.as_str(), e.status()))
                .collect::<Vec<_>>(),
            [("/a/", Some(308)), ("/a", Some(409))]
        );
        assert_eq!(body(&exs[0]), "");
        let ex = p(&format!(
            "> CONNECT api.mypurecloud.com:443 HTTP/1.1\n> Proxy-Authorization: Basic eDp5\n>\n< HTTP/1.1 200 Connection established\n<\n* CONNECT phase completed\n> GET /a HTTP/1.1\n> Host: api.mypurecloud.com\n>\n< HTTP/1.1 409 Conflict\n<\n{CONFLICT}"
        ));
        assert_eq!(
            (ex.request.method.as_str(), ex.request.path.as_str()),
            ("GET", "/a")
        );
        assert!(ex.request.headers.get("proxy-authorization").is_none());
        // A request no response follows (curl could not connect for the next URL) is named.
        let (exs, warnings) = all(&format!(
            "{}{CONFLICT}\n* Trying 2\n> GET /b HTTP/1.1\n>\n* Recv failure\ncurl: (56) Recv failure: Connection reset by peer\n",
            head("/a", "409 Conflict")
        ));
        assert_eq!(says(&exs), want[..1]);
        assert_eq!(
            warnings,
            ["x.txt: line 9: another exchange starts here (a curl command or request), but no response follows it: it is not read"]
        );
    }

    #[test]
    fn the_request_flags_are_the_first_exchanges_only() {
        let opts = ReadOptions {
            status: Some(409),
            ..ReadOptions::default()
        };
        let mut warnings = Vec::new();
        let text = format!(
            "> GET /a HTTP/1.1\n>\n< HTTP/1.1 409 Conflict\n<\n{CONFLICT}\n* Trying\n> GET /b HTTP/1.1\n>\n* Recv failure\n"
        );
        let exs = parse(text.as_bytes(), Path::new("x.txt"), &opts, &mut warnings).unwrap();
        assert_eq!(exs.len(), 1, "no exchange is made of the flag's status");
        let text = format!("HTTP/2 409\n\n{CONFLICT}\nHTTP/2 404\n\n{{}}");
        let mut warnings = Vec::new();
        let exs = parse(text.as_bytes(), Path::new("x.txt"), &opts, &mut warnings).unwrap();
        assert_eq!(
            exs.iter().map(Exchange::status).collect::<Vec<_>>(),
            [Some(409), Some(404)]
        );
        // The second is not said to disagree with a flag that was not for it.
        assert_eq!(
            warnings,
            ["x.txt: --status taken for the first of its 2 exchanges only"]
        );
    }

    #[test]
    fn interim_responses_read_as_the_final_one() {
        for text in [
            format!("HTTP/1.1 200 Connection established\r\n\r\nHTTP/2 409\r\ncontent-type: application/json\r\n\r\n{CONFLICT}"),
            format!("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\n\r\n{CONFLICT}"),
            format!("> POST /a HTTP/1.1\n> Expect: 100-continue\n>\n< HTTP/1.1 100 Continue\n* We are completely uploaded and fine\n< HTTP/1.1 409 Conflict\n<\n{CONFLICT}\n"),
        ] {
            let ex = p(&text);
            assert_eq!(ex.status(), Some(409), "{text}");
            assert_eq!(body(&ex).trim_end(), CONFLICT, "{text}");
        }
    }

    #[test]
    fn a_command_whose_quote_never_closes_still_gives_method_and_url() {
        let ex = p("$ curl -X PUT https://api.mypurecloud.com/api/v2/x -d '{\"a\":\nHTTP/1.1 409 Conflict\r\n\r\n{}");
        assert_eq!(ex.request.method, Method::PUT);
        assert_eq!(ex.request.path, "/api/v2/x");
        assert_eq!(ex.request.shown, crate::exchange::Shown::MethodAndUrl);
    }

    #[test]
    fn a_quote_that_never_closes_does_not_swallow_the_request_curl_printed() {
        // The `'` in the body closes the command's quote only lines later, in the request
        // curl printed: the command must not run on into it.
        let ex = p("$ curl -i -X POST 'https://login.mypurecloud.ie/oauth/token' --data-raw 'client_secret=ab'cd&grant_type=client_credentials'\nPOST /oauth/token HTTP/1.1\nHost: login.mypurecloud.ie\nContent-Type: application/x-www-form-urlencoded\n\nclient_secret=ab'cd&grant_type=client_credentials\nHTTP/1.1 400 X\ncontent-type: application/json\n\n{\"error\":\"invalid_client\"}");
        assert_eq!(ex.request.method, Method::POST);
        assert_eq!(ex.request.shown, crate::exchange::Shown::All);
        assert_eq!(
            &ex.request.body.bytes[..],
            b"client_secret=ab'cd&grant_type=client_credentials"
        );
        assert_eq!(ex.status(), Some(400));
    }

    #[test]
    fn a_quote_that_never_closes_in_a_command_over_lines_skips_the_whole_command() {
        let ex = p("curl 'https://api.mypurecloud.com/api/v2/x' \\\n  -H 'content-type: application/json' \\\n  --data-raw '{\"a\":\"it's\"}'\nHTTP/2 409\ncontent-type: application/json\n\n{\"code\":\"request.conflict\"}");
        assert_eq!(ex.request.path, "/api/v2/x");
        assert_eq!(ex.request.shown, crate::exchange::Shown::MethodAndUrl);
        assert_eq!(ex.status(), Some(409));
    }

    #[test]
    fn firefoxs_copy_as_curl_for_windows_is_read() {
        let ex = p("curl.exe ^\"https://api.mypurecloud.com/api/v2/x^\" -X PUT -H ^\"Content-Type: application/json^\" --data-raw ^\"^{^\\^\"a^\\^\":1^}^\"\nHTTP/1.1 409 Conflict\n\n{}");
        assert_eq!(ex.request.method, Method::PUT);
        assert_eq!(ex.request.path, "/api/v2/x");
        assert_eq!(&ex.request.body.bytes[..], br#"{"a":1}"#);
        assert_eq!(ex.request.shown, crate::exchange::Shown::All);
    }

    #[test]
    fn continue_then_conflict_uses_last() {
        let ex = p("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n{\"code\":\"request.conflict\"}");
        assert_eq!(ex.status(), Some(409));
        assert_eq!(
            &ex.response.unwrap().body.bytes[..],
            b"{\"code\":\"request.conflict\"}"
        );
        assert!(!ex.request.method_known() && !ex.request.path_known());
    }

    #[test]
    fn verbose_request_lines() {
        let ex = p("* Trying 1.2.3.4\n> POST /api/v2/conversations/calls HTTP/2\n> Host: api.mypurecloud.ie\n> authorization: Bearer x\n>\n< HTTP/2 400\n< content-type: application/json\n<\n{\"status\":400}\n");
        assert_eq!(ex.request.method, Method::POST);
        assert_eq!(ex.request.path, "/api/v2/conversations/calls");
        assert_eq!(ex.request.host.as_deref(), Some("api.mypurecloud.ie"));
        assert_eq!(ex.status(), Some(400));
        assert_eq!(&ex.response.unwrap().body.bytes[..], b"{\"status\":400}\n");
    }

    #[test]
    fn pasted_command_and_trailing_notes() {
        let ex = p("$ curl -i -X DELETE 'https://api.mypurecloud.ie/api/v2/groups/g1?force=true'\nHTTP/2 404\n\n{ \"code\": \"not.found\" }\n");
        assert_eq!(ex.request.method, Method::DELETE);
        assert_eq!(ex.request.path, "/api/v2/groups/g1");
        assert_eq!(ex.request.query.as_deref(), Some("force=true"));
        assert_eq!(ex.request.host.as_deref(), Some("api.mypurecloud.ie"));
        assert_eq!(
            &ex.response.unwrap().body.bytes[..],
            b"{ \"code\": \"not.found\" }\n"
        );
        let ex = p("> GET /x HTTP/1.1\n>\n< HTTP/1.1 400 Bad Request\n<\n{ \"status\": 400 }* Connection #0 to host x left intact\n* Closing\n");
        assert_eq!(&ex.response.unwrap().body.bytes[..], b"{ \"status\": 400 }");
    }

    #[test]
    fn pasted_from_an_email_reads_as_curl_printed_it() {
        let printed = "> GET /x HTTP/1.1\r\n> Host: h\r\n>\r\n< HTTP/1.1 404 Not Found\r\n<\r\n{\n  \"a\": 1\n}\n";
        let cases = [
            // Indented alike, a blank line indented less, or not at all.
            "    > GET /x HTTP/1.1\r\n    > Host: h\r\n    >\r\n    < HTTP/1.1 404 Not Found\r\n  \r\n".to_owned(),
            printed.lines().map(|l| format!("\t{l}\n")).collect::<String>(),
            // Quoted once, and twice with spaces inside.
            "> > GET /x HTTP/1.1\r\n> > Host: h\r\n> >\r\n> < HTTP/1.1 404 Not Found\r\n> <\r\n> {\n>   \"a\": 1\n> }\n".to_owned(),
            printed.lines().map(|l| format!(">   > {l}\n")).collect::<String>(),
        ];
        // `str::lines` took the CRs off.
        let lf = printed.replace("\r\n", "\n");
        let want: [&[u8]; 4] = [
            b"> GET /x HTTP/1.1\r\n> Host: h\r\n>\r\n< HTTP/1.1 404 Not Found\r\n\r\n",
            lf.as_bytes(),
            printed.as_bytes(),
            lf.as_bytes(),
        ];
        for (i, (case, want)) in cases.iter().zip(want).enumerate() {
            let got = unwrap_pasted(case.as_bytes());
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want),
                "case {i}: {case:?}"
            );
        }
        // What curl printed is left as it is, its indented body lines and all.
        for s in [
            printed,
            "HTTP/1.1 409\n\n  {\"a\": 1}\n",
            "> GET /x HTTP/1.1\n< HTTP/1.1 200\n",
        ] {
            assert!(
                matches!(unwrap_pasted(s.as_bytes()), Cow::Borrowed(_)),
                "{s:?}"
            );
        }
        let ex = p("\t> POST /api/v2/x HTTP/2\n\t> host: api.mypurecloud.ie\n\t>\n\t< HTTP/2 400\n\t<\n\t{\"status\":400}\n");
        assert_eq!(
            (&ex.request.method, ex.status()),
            (&Method::POST, Some(400))
        );
        assert_eq!(&ex.response.unwrap().body.bytes[..], b"{\"status\":400}\n");
    }

    #[test]
    fn plain_request_then_response() {
        let ex = p("POST /oauth/token HTTP/1.1\nHost: login.mypurecloud.com\n\ngrant_type=client_credentials\n\nHTTP/1.1 400 Bad Request\n\n{\"error\":\"invalid_client\"}");
        assert_eq!(ex.request.path, "/oauth/token");
        assert_eq!(&ex.request.body.bytes[..], b"grant_type=client_credentials");
        assert_eq!(ex.status(), Some(400));
    }
}

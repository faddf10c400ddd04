//! Where triage's log lines go: a shared buffer that a background thread writes out in batches.
//!
//! A proxy logs a line per exchange, so the writer sits on the hot path. tracing-appender's
//! non-blocking writer hands every line to its thread through a channel and wakes it each time:
//! a futex, a `sched_yield` and a `write(2)` per line, a fifth of the proxy's CPU under load
//! (docs/benchmarks.md). Here a line costs one uncontended lock and a copy; the flusher wakes
//! once per batch, waits [`BATCH_WINDOW`] for the batch to fill, and writes it with one call.
//! The buffer is bounded: lines beyond [`MAX_PENDING`] are dropped and counted, never waited
//! for, and the count is written out with the next batch.
//!
//! The pretty format is [`Line`]: the layout of tracing-subscriber's compact format, written
//! without its per-field `fmt` machinery (timestamps and integers by hand, strings copied when
//! they need no escaping), since the default formatter cost more than the exchange it logged.
//! The two lines of every exchange (`triage::exchange`, `triage::diagnosis`) skip even that:
//! [`log_line!`](crate::log_line) writes them straight into the buffer, in the same bytes.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// How long the flusher lets lines gather after the first one of a batch.
pub const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Bytes waiting to be written beyond which new lines are dropped.
pub const MAX_PENDING: usize = 4 << 20;
/// A spare buffer that grew past this during a burst is given back rather than kept.
const KEEP_CAPACITY: usize = 256 << 10;

struct State {
    lines: Vec<u8>,
    dropped: u64,
    closed: bool,
    /// The flusher wrote its last batch and stopped.
    finished: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `MakeWriter` for tracing-subscriber: each event's formatted line is appended whole.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Writes out what is left and stops the flusher when dropped: keep it alive for as long as
/// the program logs.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Installs the global subscriber: `RUST_LOG` if set, else `default_level`; lines go to stderr
/// through a [`BatchWriter`], so neither a slow terminal nor the volume of lines slows the proxy.
pub fn install(format: crate::cli::LogFormat, default_level: &str) -> FlushGuard {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let (writer, guard) = batch_writer(std::io::stderr());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let json = format == crate::cli::LogFormat::Json;
    let _ = DIRECT.set(Direct {
        shared: writer.shared.clone(),
        json,
        ansi: ansi && !json,
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        crate::cli::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        crate::cli::LogFormat::Pretty => builder.with_ansi(ansi).event_format(Line).init(),
    }
    guard
}

/// A batch writer over `out`, and the guard that owns its flusher thread.
pub fn batch_writer<W: Write + Send + 'static>(out: W) -> (BatchWriter, FlushGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            lines: Vec::new(),
            dropped: 0,
            closed: false,
            finished: false,
        }),
        wake: Condvar::new(),
        done: Condvar::new(),
    });
    let flusher = shared.clone();
    let thread = std::thread::Builder::new()
        .name("triage-log".into())
        .spawn(move || flush_loop(&flusher, out))
        .ok();
    let writer = BatchWriter {
        shared: shared.clone(),
    };
    (writer, FlushGuard { shared, thread })
}

fn flush_loop(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let mut st = shared.lock();
        while st.lines.is_empty() && !st.closed {
            st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        if !st.closed {
            // Let the batch fill: under load this turns thousands of writes into one.
            drop(st);
            std::thread::sleep(BATCH_WINDOW);
            st = shared.lock();
        }
        let closed = st.closed;
        std::mem::swap(&mut st.lines, &mut spare);
        let dropped = std::mem::take(&mut st.dropped);
        drop(st);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "triage: {dropped} log lines dropped: more than {} MiB waited to be written",
                MAX_PENDING >> 20
            );
        }
        // A failing log destination must not stop the proxy: the batch is lost, not retried.
        let _ = out.write_all(&spare).and_then(|()| out.flush());
        spare.clear();
        if spare.capacity() > KEEP_CAPACITY {
            spare = Vec::new();
        }
        if closed {
            let mut st = shared.lock();
            if st.lines.is_empty() {
                st.finished = true;
                shared.done.notify_all();
                return;
            }
        }
    }
}

/// How long the guard waits for the last batch: a log destination that blocks (a full pipe
/// nobody reads) must not keep the process from exiting.
const LAST_WRITE_WAIT: Duration = Duration::from_secs(1);

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let finished = close(&self.shared);
        if let Some(t) = self.thread.take().filter(|_| finished) {
            let _ = t.join();
        }
    }
}

/// Stops the flusher after its last batch and waits (up to [`LAST_WRITE_WAIT`]) for that batch
/// to be written; true if it was.
fn close(shared: &Shared) -> bool {
    let mut st = shared.lock();
    st.closed = true;
    shared.wake.notify_one();
    let (st, _) = shared
        .done
        .wait_timeout_while(st, LAST_WRITE_WAIT, |st| !st.finished)
        .unwrap_or_else(|p| p.into_inner());
    st.finished
}

/// Writes out what [`install`]'s writer holds, for a process about to `std::process::exit`, which
/// skips the [`FlushGuard`]'s drop. Lines logged after it are not written.
pub fn flush() {
    if let Some(d) = DIRECT.get() {
        close(&d.shared);
    }
}

/// One event's line on its way into the shared buffer.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut st = self.shared.lock();
        if st.lines.len() + buf.len() > MAX_PENDING {
            st.dropped += 1;
        } else {
            let first = st.lines.is_empty();
            st.lines.extend_from_slice(buf);
            drop(st);
            // Only the first line of a batch wakes the flusher; the rest just queue.
            if first {
                self.shared.wake.notify_one();
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

/// The lines logged for every exchange (the exchange and its diagnosis) skip tracing's
/// per-event machinery: dispatch, the field visitor, the formatter's own buffer. Together that
/// cost more than formatting the line itself. They are written straight into the batch buffer,
/// in the installed format, when the installed filter lets their target and level through.
/// Without [`install`] (the library in tests, or embedded), `None`: callers log through
/// `tracing` as usual; [`crate::log_line!`] does both.
static DIRECT: OnceLock<Direct> = OnceLock::new();

pub fn direct() -> Option<&'static Direct> {
    DIRECT.get()
}

/// A field value of a direct line.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Str(&'a str),
    U64(u64),
    I64(i64),
    /// A value the exchange does not have (no response yet, no correlation id): `null` in
    /// JSON, `-` in a pretty line, so that a reader of either never takes a stand-in for data.
    Absent,
}

impl<'a, T: Into<Val<'a>>> From<Option<T>> for Val<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Absent, Into::into)
    }
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Str(v)
    }
}

impl<'a> From<&'a String> for Val<'a> {
    fn from(v: &'a String) -> Self {
        Val::Str(v)
    }
}

impl From<u64> for Val<'_> {
    fn from(v: u64) -> Self {
        Val::U64(v)
    }
}

impl From<u16> for Val<'_> {
    fn from(v: u16) -> Self {
        Val::U64(v.into())
    }
}

impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::I64(v)
    }
}

/// Writes lines in the installed format into the batch buffer.
pub struct Direct {
    shared: Arc<Shared>,
    json: bool,
    ansi: bool,
}

impl Direct {
    /// Writes one event: the same bytes the installed subscriber would have written for
    /// `tracing::event!(target: target, level, field = value, ..., message)`.
    pub fn line(&self, level: Level, target: &str, message: &str, fields: &[(&str, Val<'_>)]) {
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => self.render(&mut line, level, target, message, fields),
            Err(_) => self.render(&mut Vec::new(), level, target, message, fields),
        })
    }

    fn render(
        &self,
        line: &mut Vec<u8>,
        level: Level,
        target: &str,
        message: &str,
        fields: &[(&str, Val<'_>)],
    ) {
        if self.json {
            json_line(line, level, target, message, fields);
        } else {
            head(line, self.ansi, level, target);
            let mut f = Fields {
                line,
                ansi: self.ansi,
            };
            f.message(message);
            for (name, v) in fields {
                match *v {
                    Val::Str(s) => f.str(name, s),
                    Val::U64(n) => f.int(name, n),
                    Val::I64(n) => f.int(name, n),
                    Val::Absent => f.absent(name),
                }
            }
            line.push(b'\n');
        }
        let _ = LineWriter {
            shared: &self.shared,
        }
        .write(line);
        if line.capacity() > KEEP_LINE_CAPACITY {
            *line = Vec::new();
        }
    }
}

/// The JSON line tracing-subscriber's `json().flatten_event(true)` writes: timestamp, level,
/// message, the fields in order, target.
fn json_line(
    line: &mut Vec<u8>,
    level: Level,
    target: &str,
    message: &str,
    fields: &[(&str, Val<'_>)],
) {
    line.clear();
    line.extend_from_slice(b"{\"timestamp\":\"");
    line.extend_from_slice(&timestamp(SystemTime::now()));
    line.extend_from_slice(b"\",\"level\":\"");
    line.extend_from_slice(level.as_str().as_bytes());
    line.extend_from_slice(b"\",\"message\":");
    json_str(line, message);
    for (name, v) in fields {
        line.push(b',');
        json_str(line, name);
        line.push(b':');
        match *v {
            Val::Str(s) => json_str(line, s),
            Val::U64(n) => line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Val::I64(n) => line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Val::Absent => line.extend_from_slice(b"null"),
        }
    }
    line.extend_from_slice(b",\"target\":");
    json_str(line, target);
    line.extend_from_slice(b"}\n");
}

fn json_str(line: &mut Vec<u8>, s: &str) {
    if plain(s, false) {
        line.push(b'"');
        line.extend_from_slice(s.as_bytes());
        line.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *line, s);
    }
}

/// Whether `s` can be quoted as it is: no quote, backslash or control character (nor, for a pretty
/// line, anything beyond ASCII, which `{:?}` would escape). One pass without early exit, so it
/// compiles to vector code: it runs on every string of every exchange line.
fn plain(s: &str, ascii: bool) -> bool {
    let top = if ascii { 0x7f } else { 0xff };
    let mut bad = false;
    for &b in s.as_bytes() {
        bad |= (b < 0x20) | (b == b'"') | (b == b'\\') | (b >= top);
    }
    !bad
}

/// Logs one event through [`direct`] when installed, else through `tracing`: the fields are
/// written once. Values are `&str`, `&String`, `u64`, `u16` or `i64`, or an `Option` of one.
#[macro_export]
macro_rules! log_line {
    ($level:ident, target: $target:literal, $message:literal, $($name:ident = $value:expr),* $(,)?) => {
        match $crate::logging::direct() {
            Some(d) => {
                if tracing::enabled!(target: $target, tracing::Level::$level) {
                    d.line(tracing::Level::$level, $target, $message,
                        &[$((stringify!($name), $crate::logging::Val::from($value))),*]);
                }
            }
            None => {
                tracing::event!(target: $target, tracing::Level::$level,
                    $($name = $crate::logging::Val::from($value).as_field()),*, $message);
            }
        }
    };
}

impl Val<'_> {
    /// As a tracing field value: strings as strings, numbers as numbers.
    pub fn as_field(&self) -> &dyn tracing::Value {
        match self {
            Val::Str(s) => s,
            Val::U64(n) => n,
            Val::I64(n) => n,
            // tracing's own formatters leave a field recorded as `None` out.
            Val::Absent => &NONE,
        }
    }
}

const NONE: Option<u64> = None;

/// The pretty log line: `2026-11-21T23:26:09.368602Z  INFO target: message key=value ...`.
/// String fields are quoted (as `{:?}` would), other values written as they display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        // The line is put together in a reused buffer with plain pushes, then handed over in
        // one write: the Writer is a `dyn fmt::Write`, and a call per piece cost more than the
        // pieces.
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => render(&mut line, w, event),
            // A value's Debug that logs lands here again: it gets a buffer of its own.
            Err(_) => render(&mut Vec::new(), w, event),
        })
    }
}

fn render(line: &mut Vec<u8>, mut w: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
    let ansi = w.has_ansi_escapes();
    let meta = event.metadata();
    head(line, ansi, *meta.level(), meta.target());
    let mut fields = Fields { line, ansi };
    event.record(&mut fields);
    line.push(b'\n');
    // Every piece was a `&str` or ASCII, so this never fails; the check is off the hot path
    // (the exchange lines go through `Direct`).
    let out = w.write_str(&String::from_utf8_lossy(line));
    if line.capacity() > KEEP_LINE_CAPACITY {
        *line = Vec::new();
    }
    out
}

/// Clears `line` and writes the timestamp, level and target of a pretty line.
fn head(line: &mut Vec<u8>, ansi: bool, level: Level, target: &str) {
    line.clear();
    line.extend_from_slice(&timestamp(SystemTime::now()));
    let (level, color) = match level {
        Level::TRACE => ("TRACE", "35"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::INFO => (" INFO", "32"),
        Level::WARN => (" WARN", "33"),
        Level::ERROR => ("ERROR", "31"),
    };
    line.push(b' ');
    if ansi {
        for part in [
            "\x1b[",
            color,
            "m",
            level,
            "\x1b[0m \x1b[2m",
            target,
            ":\x1b[0m",
        ] {
            line.extend_from_slice(part.as_bytes());
        }
    } else {
        line.extend_from_slice(level.as_bytes());
        line.push(b' ');
        line.extend_from_slice(target.as_bytes());
        line.push(b':');
    }
}

thread_local! {
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A line buffer that grew past this for one long line is not kept.
const KEEP_LINE_CAPACITY: usize = 16 << 10;

struct Fields<'a> {
    line: &'a mut Vec<u8>,
    ansi: bool,
}

impl Fields<'_> {
    /// The message goes bare, without a name or quotes.
    fn message(&mut self, value: &str) {
        self.line.push(b' ');
        self.line.extend_from_slice(value.as_bytes());
    }

    fn name(&mut self, name: &str) {
        self.line.push(b' ');
        if self.ansi {
            self.line.extend_from_slice(b"\x1b[3m");
            self.line.extend_from_slice(name.as_bytes());
            self.line.extend_from_slice(b"\x1b[0m=");
        } else {
            self.line.extend_from_slice(name.as_bytes());
            self.line.push(b'=');
        }
    }

    fn str(&mut self, name: &str, value: &str) {
        self.name(name);
        if plain(value, true) {
            self.line.push(b'"');
            self.line.extend_from_slice(value.as_bytes());
            self.line.push(b'"');
        } else {
            // Writing into a Vec cannot fail.
            let _ = write!(self.line, "{value:?}");
        }
    }

    fn absent(&mut self, name: &str) {
        self.name(name);
        self.line.push(b'-');
    }

    fn int(&mut self, name: &str, value: impl itoa::Integer) {
        self.name(name);
        self.line
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A field through tracing: its message is named "message".
    fn field(&mut self, field: &Field) {
        if field.name() == "message" {
            self.line.push(b' ');
        } else {
            self.name(field.name());
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message(value);
        } else {
            self.str(field.name(), value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.int(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.int(field.name(), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field);
        self.line
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.field(field);
        let _ = write!(self.line, "{value:?}");
    }
}

/// The line that says why triage stopped: plain text, or with `--log-format json` a JSON log
/// line like every other, so that whatever reads the log reads that too. Written directly, not
/// through the subscriber: a `RUST_LOG` that silences errors must not hide why triage exited.
pub fn fatal_line(format: crate::cli::LogFormat, message: &str) -> String {
    if format == crate::cli::LogFormat::Pretty {
        return format!("triage: error: {message}");
    }
    let ts = timestamp(SystemTime::now());
    serde_json::json!({
        "timestamp": std::str::from_utf8(&ts).unwrap_or_default(),
        "level": "ERROR",
        "message": message,
        "target": "triage",
    })
    .to_string()
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` (UTC). The part up to the second changes once a second, so
/// each thread keeps the last one it wrote rather than redo the calendar for every line.
fn timestamp(now: SystemTime) -> [u8; 27] {
    thread_local! {
        static SECOND: std::cell::Cell<(u64, [u8; 20])> =
            const { std::cell::Cell::new((u64::MAX, [0; 20])) };
    }
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let prefix = SECOND.with(|last| {
        let (at, prefix) = last.get();
        if at == secs {
            return prefix;
        }
        let prefix = to_the_second(secs);
        last.set((secs, prefix));
        prefix
    });
    let mut out = [0u8; 27];
    out[..20].copy_from_slice(&prefix);
    put_digits(&mut out[20..26], u64::from(d.subsec_micros()));
    out[26] = b'Z';
    out
}

/// `YYYY-MM-DDTHH:MM:SS.` for seconds since the epoch.
fn to_the_second(secs: u64) -> [u8; 20] {
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let tod = secs % 86_400;
    let mut out = *b"0000-00-00T00:00:00.";
    put_digits(&mut out[0..4], y.max(0) as u64);
    put_digits(&mut out[5..7], m.into());
    put_digits(&mut out[8..10], day.into());
    put_digits(&mut out[11..13], tod / 3600);
    put_digits(&mut out[14..16], tod / 60 % 60);
    put_digits(&mut out[17..19], tod % 60);
    out
}

/// `v` in decimal, zero-padded to fill `out`.
fn put_digits(out: &mut [u8], mut v: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_micros() {
        let at = |t: SystemTime| String::from_utf8(timestamp(t).to_vec()).unwrap();
        let t = UNIX_EPOCH + Duration::from_micros(1_795_305_969_368_602);
        assert_eq!(at(t), "2026-11-22T00:06:09.368602Z");
        // The same second again (the kept prefix), then the next one.
        assert_eq!(
            at(t + Duration::from_micros(17)),
            "2026-11-22T00:06:09.368619Z"
        );
        assert_eq!(
            at(t + Duration::from_secs(1)),
            "2026-11-22T00:06:10.368602Z"
        );
        assert_eq!(
            at(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(at(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn the_line_reads_like_the_compact_format() {
        let sink = Sink::default();
        let (w, guard) = batch_writer(sink.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(w)
            .with_ansi(false)
            .event_format(Line)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let path = "/api/v2/x?a=1";
            tracing::info!(target: "triage::exchange", seq = 7u64, method = %http::Method::GET,
                path = %path, upstream = "api", ms = -1i64, ok = true,
                cid = "quo\"te\n", "exchange");
        });
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().0.clone()).unwrap();
        let (stamp, rest) = text.split_at(27);
        assert!(stamp.ends_with('Z'), "{text}");
        assert_eq!(
            rest,
            "  INFO triage::exchange: exchange seq=7 method=GET path=/api/v2/x?a=1 upstream=\"api\" ms=-1 ok=true cid=\"quo\\\"te\\n\"\n"
        );
    }

    /// The same event through the installed subscriber and through [`Direct`]: the same bytes
    /// but the timestamp, in both formats.
    #[test]
    fn direct_lines_equal_the_subscribers_lines() {
        let fields = [
            ("seq", Val::U64(7)),
            ("method", Val::Str("GET")),
            ("path", Val::Str("/api/v2/x?a=1")),
            ("ms", Val::I64(-1)),
            ("cid", Val::Str("quo\"te\n\u{e9}")),
        ];
        let event = || {
            tracing::warn!(target: "triage::exchange", seq = 7u64, method = "GET",
                path = "/api/v2/x?a=1", ms = -1i64, cid = "quo\"te\n\u{e9}", "an exchange");
        };
        let strip = |text: String, at: std::ops::Range<usize>| {
            let mut t = text;
            t.replace_range(at, "");
            t
        };
        for json in [false, true] {
            let via_tracing = Sink::default();
            let (w, guard) = batch_writer(via_tracing.clone());
            let b = tracing_subscriber::fmt().with_writer(w).with_ansi(false);
            if json {
                let s = b
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .finish();
                tracing::subscriber::with_default(s, event);
            } else {
                tracing::subscriber::with_default(b.event_format(Line).finish(), event);
            }
            drop(guard);

            let direct = Sink::default();
            let (w, guard) = batch_writer(direct.clone());
            let d = Direct {
                shared: w.shared.clone(),
                json,
                ansi: false,
            };
            d.line(Level::WARN, "triage::exchange", "an exchange", &fields);
            drop(guard);

            let text = |s: &Sink| String::from_utf8(s.0.lock().unwrap().0.clone()).unwrap();
            let stamp = if json { 14..41 } else { 0..27 };
            assert_eq!(
                strip(text(&direct), stamp.clone()),
                strip(text(&via_tracing), stamp),
                "json: {json}"
            );
        }
    }

    /// What an exchange lacks is `null` in JSON and `-` in a pretty line, never a stand-in a
    /// reader could take for data (`-1` ms, status 0, correlation id `"-"`).
    #[test]
    fn absent_values_are_null_or_a_dash() {
        for (json, want) in [
            (
                true,
                r#""status":null,"upstream_ms":null,"correlation_id":null,"total_ms":3,"#,
            ),
            (
                false,
                " status=- upstream_ms=- correlation_id=- total_ms=3\n",
            ),
        ] {
            let sink = Sink::default();
            let (w, guard) = batch_writer(sink.clone());
            let d = Direct {
                shared: w.shared.clone(),
                json,
                ansi: false,
            };
            let fields = [
                ("status", Val::from(None::<u16>)),
                ("upstream_ms", Val::from(None::<u64>)),
                ("correlation_id", Val::from(None::<&str>)),
                ("total_ms", Val::from(Some(3u64))),
            ];
            d.line(Level::INFO, "triage::exchange", "exchange", &fields);
            drop(guard);
            let text = String::from_utf8(sink.0.lock().unwrap().0.clone()).unwrap();
            assert!(text.contains(want), "expected {want:?} in {text:?}");
        }
    }

    #[test]
    fn lines_arrive_whole_in_order_and_batched() {
        let sink = Sink::default();
        let (w, guard) = batch_writer(sink.clone());
        for i in 0..1000 {
            w.make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let want: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(bytes).unwrap(), want);
        assert!(writes < 10, "1000 lines took {writes} writes");
    }

    #[test]
    fn a_flood_is_dropped_and_counted_not_buffered() {
        let sink = Sink::default();
        let (w, guard) = batch_writer(sink.clone());
        let line = vec![b'x'; 1 << 20];
        // Written faster than one batch window: the buffer holds 4 MiB, the rest is dropped.
        for _ in 0..10 {
            w.make_writer().write_all(&line).unwrap();
        }
        drop(guard);
        let (bytes, _) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("triage: 6 log lines dropped"),
            "no drop notice"
        );
        assert_eq!(bytes.iter().filter(|&&b| b == b'x').count(), 4 << 20);
    }

    /// A destination that blocks until told to go on.
    struct Stuck(Arc<(Mutex<bool>, Condvar)>);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (m, c) = &*self.0;
            let _g = c.wait_while(m.lock().unwrap(), |go| !*go).unwrap();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_destination_does_not_hold_up_exit() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (w, guard) = batch_writer(Stuck(gate.clone()));
        w.make_writer().write_all(b"never written\n").unwrap();
        let t = std::time::Instant::now();
        drop(guard);
        let waited = t.elapsed();
        assert!(
            waited >= LAST_WRITE_WAIT && waited < LAST_WRITE_WAIT * 3,
            "waited {waited:?}"
        );
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
    }

    #[test]
    fn the_guard_flushes_at_once_on_drop() {
        let sink = Sink::default();
        let (w, guard) = batch_writer(sink.clone());
        w.make_writer().write_all(b"last words\n").unwrap();
        let t = std::time::Instant::now();
        drop(guard);
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(sink.0.lock().unwrap().0, b"last words\n");
    }
}

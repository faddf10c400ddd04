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

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        crate::cli::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        crate::cli::LogFormat::Pretty => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .event_format(Line)
            .init(),
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
        let mut st = self.shared.lock();
        st.closed = true;
        self.shared.wake.notify_one();
        let (st, _) = self
            .shared
            .done
            .wait_timeout_while(st, LAST_WRITE_WAIT, |st| !st.finished)
            .unwrap_or_else(|p| p.into_inner());
        let finished = st.finished;
        drop(st);
        if let Some(t) = self.thread.take().filter(|_| finished) {
            let _ = t.join();
        }
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
            Err(_) => render(&mut String::new(), w, event),
        })
    }
}

fn render(line: &mut String, mut w: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
    line.clear();
    let ansi = w.has_ansi_escapes();
    let mut stamp = [0u8; 27];
    timestamp(SystemTime::now(), &mut stamp);
    line.push_str(std::str::from_utf8(&stamp).unwrap_or_default());
    let meta = event.metadata();
    let (level, color) = match *meta.level() {
        Level::TRACE => ("TRACE", "35"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::INFO => (" INFO", "32"),
        Level::WARN => (" WARN", "33"),
        Level::ERROR => ("ERROR", "31"),
    };
    line.push(' ');
    if ansi {
        for part in [
            "\x1b[",
            color,
            "m",
            level,
            "\x1b[0m \x1b[2m",
            meta.target(),
            ":\x1b[0m",
        ] {
            line.push_str(part);
        }
    } else {
        line.push_str(level);
        line.push(' ');
        line.push_str(meta.target());
        line.push(':');
    }
    let mut fields = Fields { line, ansi };
    event.record(&mut fields);
    line.push('\n');
    let out = w.write_str(line);
    if line.capacity() > KEEP_LINE_CAPACITY {
        *line = String::new();
    }
    out
}

thread_local! {
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A line buffer that grew past this for one long line is not kept.
const KEEP_LINE_CAPACITY: usize = 16 << 10;

struct Fields<'a> {
    line: &'a mut String,
    ansi: bool,
}

impl Fields<'_> {
    fn name(&mut self, field: &Field) {
        self.line.push(' ');
        if field.name() == "message" {
            return;
        }
        if self.ansi {
            self.line.push_str("\x1b[3m");
            self.line.push_str(field.name());
            self.line.push_str("\x1b[0m=");
        } else {
            self.line.push_str(field.name());
            self.line.push('=');
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.name(field);
        if field.name() == "message" {
            self.line.push_str(value);
        } else if value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            self.line.push('"');
            self.line.push_str(value);
            self.line.push('"');
        } else {
            let _ = write!(self.line, "{value:?}");
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.name(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.name(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.name(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.name(field);
        let _ = write!(self.line, "{value:?}");
    }
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` (UTC) into `out`.
fn timestamp(now: SystemTime, out: &mut [u8; 27]) {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let tod = secs % 86_400;
    let mut put = |at: usize, v: u64, digits: usize| {
        let mut v = v;
        for i in (0..digits).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y.max(0) as u64, 4);
    put(5, m as u64, 2);
    put(8, day as u64, 2);
    put(11, tod / 3600, 2);
    put(14, tod / 60 % 60, 2);
    put(17, tod % 60, 2);
    put(20, u64::from(d.subsec_micros()), 6);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        out[i] = c;
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
        let mut out = [0u8; 27];
        let t = UNIX_EPOCH + Duration::from_micros(1_795_305_969_368_602);
        timestamp(t, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "2026-11-22T00:06:09.368602Z"
        );
        timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400), &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "2000-02-29T00:00:00.000000Z"
        );
        timestamp(UNIX_EPOCH, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "1970-01-01T00:00:00.000000Z"
        );
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

//! Input robustness: seeded random damage to what users hand triage offline — HAR files,
//! recordings, `curl -i`/`-v` transcripts, pasted JSON error bodies and rule files — starting
//! from the repo's fixtures and from inputs made here (recordings, an export, transcripts).
//! Each case runs in-process through the entry points the commands use (`ingest::read`,
//! `cli::explain::replay`, `har::redact_har`, `RuleSet::load`), on a thread of its own with a
//! time limit; a sample also runs the real binary under a memory limit and compares it with the
//! in-process run.
//!
//! Only what the docs promise (README, docs/explain.md, docs/rules.md, `src/redact.rs`) is
//! asserted:
//! - no panic, no hang, bounded memory; `triage explain` and `rules check` exit 0,
//!   1 or 2, never 101 or by a signal;
//! - an input error names the file and where: a byte, line and column that agree with the file's
//!   bytes, and the entry in flight; a rule file's error names file:line and, inside a rule
//!   whose id is readable, that id; rules load whole or not at all;
//! - nothing lost: a HAR reads as before up to its first damaged byte, and a HAR cut anywhere
//!   explains exactly as the entries wholly before the cut do, saying where it broke; in a
//!   recording every undamaged line is read, and every line that is not is named;
//! - odd but legal shapes (optional members left out, `params`-only `postData`, base64 content,
//!   huge, negative or string sizes, repeated, upper-case and HTTP/2 pseudo headers, `_` fields,
//!   `\u` escapes, CRLF, a BOM, blank lines and spacing in a transcript, a transcript indented
//!   or quoted as an email reply does) read as the plain one;
//! - `triage redact` writes a complete HAR whatever it reads, and redacting that changes
//!   nothing.
//!
//! Not here: inputs of many megabytes (tests/explain_memory.rs, tests/ingest_memory.rs), lines
//! over the recording reader's 64 MiB, standard input, several damaged files in one run, and
//! what a damaged input's exchanges are diagnosed as (only that the binary and the library
//! agree). A HAR entry of JSON that serde_json does not read (nested deeper than 127, a lone
//! surrogate escape, `1e400`) is held to what docs/explain.md promises: skipped, named with
//! where it is, an input error, and the entries after it read (`triage redact` leaves it out);
//! such JSON elsewhere (a bare body, a member of `log`) only to a clear error.
//!
//! `TRIAGE_FUZZ_CASES=N` runs N cases in each test (defaults below; the cut tests cut N files);
//! `TRIAGE_FUZZ_SEED=S` fixes the seed (default: from the clock, printed on failure);
//! `TRIAGE_FUZZ_CASE=K` runs case K of that seed alone, through the binary too;
//! `TRIAGE_FUZZ_BINARY=N` runs the binary on one case in N (0: never);
//! `TRIAGE_FUZZ_EVERY_BYTE=1` makes the cut tests cut at every byte, not a sample. A failing
//! case's input is kept in the temporary directory and named.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::exchange::Exchange;
use triage::ingest::{self, IngestError, InputKind, ReadOptions};
use triage::report::explain::Report;
use triage::rules::RuleSet;

mod common;

use common::fuzz::{self, case_seed, env_u64, Rng};

// ---------------------------------------------------------------------------------------------
// The PRNG and the TRIAGE_FUZZ_* variables: tests/common/fuzz.rs.

impl Rng {
    /// Printable ASCII, with some JSON-significant characters among it; a long one repeats
    /// a random 4 KiB (drawing every character costs seconds in a debug build).
    fn text(&mut self, n: usize) -> String {
        const CHARS: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:;/?#&=+%{}[]\"\\'";
        let chunk: String = (0..n.min(4096))
            .map(|_| char::from(self.pick(CHARS)))
            .collect();
        chunk.chars().cycle().take(n).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Running cases: each on a thread named after it (a stack overflow's abort message names the
// thread, so even that says which case), within a time limit, panics caught.

/// Longest an in-process case may take (a debug build, inputs of a few MiB at most).
const CASE_LIMIT: Duration = Duration::from_secs(30);
/// Longest a run of the binary may take.
const BINARY_LIMIT: Duration = Duration::from_secs(60);
/// Address space the binary may use (`ulimit -v`, KiB): a few MiB of input need far less.
const BINARY_MEMORY_KIB: u64 = 2 * 1024 * 1024;
/// Peak resident memory of this test process: the inputs are at most a few MiB each, and a
/// run takes some tens of MiB.
const PROCESS_PEAK: u64 = 512 * 1024 * 1024;
/// Stack of a case's thread: the binary's main thread has 8 MiB.
const CASE_STACK: usize = 8 * 1024 * 1024;

/// One generated input and what the check needs to know of it.
struct Case<T> {
    /// The base input and every mutation, with its parameters.
    desc: String,
    /// The input's bytes, written to `file` before the check runs.
    bytes: Vec<u8>,
    ext: &'static str,
    /// Also run the binary on it.
    binary: bool,
    extra: T,
}

/// Where a case's check runs: its input file and a directory of its own.
struct Env {
    file: PathBuf,
    dir: PathBuf,
}

struct Failure {
    n: usize,
    desc: String,
    kept: Option<PathBuf>,
    problems: Vec<String>,
}

/// Runs `count` cases (or `TRIAGE_FUZZ_CASE` alone) of test `name`: `gen` makes case `n` from
/// its own PRNG, `check` returns what is wrong with it (empty when nothing is).
fn run_cases<T: Send + Sync + 'static>(
    name: &'static str,
    default_cases: usize,
    binary_every: usize,
    limit: Duration,
    gen: impl Fn(&mut Rng, bool) -> Case<T>,
    check: fn(&Case<T>, &Env) -> Vec<String>,
) {
    let seed = fuzz::seed();
    let count = fuzz::cases(default_cases);
    let only = fuzz::only_case();
    let binary_every = env_u64("TRIAGE_FUZZ_BINARY").map_or(binary_every, |b| b as usize);
    eprintln!("input_fuzz {name}: seed {seed} ({count} cases)");
    let work = tempfile::tempdir().unwrap();
    let all: Vec<usize> = match only {
        Some(k) => vec![k],
        None => (0..count).collect(),
    };
    let started = Instant::now();
    let mut failures = Vec::new();
    let (mut binaries, mut slowest) = (0, (Duration::ZERO, 0));
    let mut generating = Duration::ZERO;
    for &n in &all {
        let mut rng = Rng::new(case_seed(seed, n));
        // One case in `binary_every` runs the binary too, whichever the seed makes them.
        let sampled = binary_every > 0 && (n as u64 + seed) % binary_every as u64 == 0;
        let g0 = Instant::now();
        let case = gen(&mut rng, sampled || only.is_some());
        generating += g0.elapsed();
        binaries += usize::from(case.binary);
        let dir = work.path().join(format!("case-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("input.{}", case.ext));
        std::fs::write(&file, &case.bytes).unwrap();
        let env = Env {
            file: file.clone(),
            dir: dir.clone(),
        };
        let case = Arc::new(case);
        let (tx, rx) = mpsc::channel();
        let c2 = case.clone();
        let t0 = Instant::now();
        std::thread::Builder::new()
            .name(format!("input_fuzz {name} seed {seed} case {n}"))
            .stack_size(CASE_STACK)
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&c2, &env)));
                let _ = tx.send(r);
            })
            .unwrap();
        let (problems, hung) = match rx.recv_timeout(limit) {
            Ok(Ok(p)) => (p, false),
            Ok(Err(panic)) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                (vec![format!("panicked: {msg}")], false)
            }
            Err(_) => (
                vec![format!(
                    "no result within {limit:?}: a hang (the thread is left running)"
                )],
                true,
            ),
        };
        if t0.elapsed() > slowest.0 {
            slowest = (t0.elapsed(), n);
        }
        if problems.is_empty() {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            let kept = std::env::temp_dir()
                .join(format!("triage-input-fuzz-{name}-{seed}-{n}.{}", case.ext));
            let kept = std::fs::write(&kept, &case.bytes).ok().map(|()| kept);
            failures.push(Failure {
                n,
                desc: case.desc.clone(),
                kept,
                problems,
            });
        }
        if hung {
            break;
        }
    }
    eprintln!(
        "input_fuzz {name}: {} cases ({binaries} through the binary) in {:.1?} ({:.1?} making them); slowest case {} in {:.1?}; peak memory {} MiB",
        all.len(),
        started.elapsed(),
        generating,
        slowest.1,
        slowest.0,
        common::peak_rss().unwrap_or(0) >> 20,
    );
    let mut report = String::new();
    const SHOWN: usize = 8;
    for f in failures.iter().take(SHOWN) {
        let _ = write!(report, "\ncase {}: {}", f.n, f.desc);
        if let Some(k) = &f.kept {
            let _ = write!(report, "\n  input kept at {}", k.display());
        }
        for p in &f.problems {
            let _ = write!(report, "\n  - {p}");
        }
    }
    if failures.len() > SHOWN {
        let rest: Vec<String> = failures[SHOWN..].iter().map(|f| f.n.to_string()).collect();
        let _ = write!(report, "\n(and cases {})", rest.join(", "));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed, seed {seed}; one reproduces with\n  TRIAGE_FUZZ_SEED={seed} TRIAGE_FUZZ_CASE=<case> cargo test --test input_fuzz {name}\n{report}",
        failures.len(),
        all.len()
    );
    if let Some(peak) = common::peak_rss() {
        assert!(
            peak < PROCESS_PEAK,
            "peak resident memory of the test process\n  expected: under {} MiB\n       got: {} MiB (seed {seed})",
            PROCESS_PEAK >> 20,
            peak >> 20
        );
    }
}

/// Shortens a value's text for a failure message.
fn short(s: impl std::fmt::Debug) -> String {
    let s = format!("{s:?}");
    if s.len() <= 400 {
        return s;
    }
    let cut = (0..=300)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} chars)", &s[..cut], s.len())
}

// ---------------------------------------------------------------------------------------------
// The binary.

struct Ran {
    /// `None` when a signal ended it.
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    timed_out: bool,
}

/// Runs `triage ARGS` with no rules from the environment, under the memory limit, killing it
/// at the time limit.
fn triage_bin(args: &[OsString]) -> Ran {
    let bin = env!("CARGO_BIN_EXE_triage");
    let mut cmd = if cfg!(unix) {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "ulimit -v {BINARY_MEMORY_KIB} && exec \"$0\" \"$@\""
            ))
            .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let mut child = cmd
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TRIAGE_RULES")
        .env_remove("TRIAGE_NO_BUILTIN_RULES")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the triage binary");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let t0 = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > BINARY_LIMIT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ran {
        code: status.code(),
        stdout: out_t.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
        timed_out,
    }
}

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_owned()).collect()
}

/// What is wrong with how a run of the binary ended, given the exit codes it may have.
fn exit_problems(what: &str, r: &Ran, allowed: &[i32], expected: Option<i32>) -> Vec<String> {
    let mut p = Vec::new();
    if r.timed_out {
        p.push(format!("{what}: killed after {BINARY_LIMIT:?}: a hang"));
    }
    match r.code {
        None => p.push(format!(
            "{what}: ended by a signal (a crash, or over the {} MiB memory limit); stderr: {}",
            BINARY_MEMORY_KIB >> 10,
            short(&r.stderr)
        )),
        Some(101) => p.push(format!(
            "{what}: exit 101, a panic; stderr: {}",
            short(&r.stderr)
        )),
        Some(c) if !allowed.contains(&c) => p.push(format!(
            "{what}: exit status\n  expected: one of {allowed:?}\n       got: {c}; stderr: {}",
            short(&r.stderr)
        )),
        Some(c) => {
            if let Some(e) = expected.filter(|&e| e != c) {
                p.push(format!(
                    "{what}: exit status (the in-process run's)\n  expected: {e}\n       got: {c}; stderr: {}",
                    short(&r.stderr)
                ));
            }
        }
    }
    if r.stderr.contains("panicked") {
        p.push(format!("{what}: a panic on stderr: {}", short(&r.stderr)));
    }
    p
}

// ---------------------------------------------------------------------------------------------
// What a reader made of an input, in terms that compare across runs.

/// An exchange as the diagnosis sees it.
#[derive(Debug, Clone, PartialEq)]
struct Core {
    method: String,
    path: String,
    query: Option<String>,
    host: Option<String>,
    status: Option<u16>,
    request_body: (Vec<u8>, bool),
    response_body: Option<(Vec<u8>, bool)>,
}

/// Everything a reader made of an exchange (but its place in the file).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    core: Core,
    time: SystemTime,
    request_headers: Vec<(String, Vec<u8>)>,
    response_headers: Vec<(String, Vec<u8>)>,
    version: Option<String>,
    timings: (Option<u64>, Option<u64>),
    base_url: Option<String>,
    inspection: String,
}

fn headers(h: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
    h.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn seen(ex: &Exchange) -> Seen {
    let r = &ex.request;
    Seen {
        core: Core {
            method: r.method.as_str().to_owned(),
            path: r.path.clone(),
            query: r.query.clone(),
            host: r.host.as_deref().map(str::to_owned),
            status: ex.status(),
            request_body: (r.body.bytes.to_vec(), r.body.complete),
            response_body: ex
                .response
                .as_ref()
                .map(|x| (x.body.bytes.to_vec(), x.body.complete)),
        },
        time: ex.started_at,
        request_headers: headers(&r.headers),
        response_headers: ex
            .response
            .as_ref()
            .map(|x| headers(&x.headers))
            .unwrap_or_default(),
        version: ex
            .response
            .as_ref()
            .and_then(|x| x.version)
            .map(|v| format!("{v:?}")),
        timings: (ex.timings.upstream_ms, ex.timings.total_ms),
        base_url: r.base_url.as_deref().map(str::to_owned),
        inspection: format!("{:?}", ex.inspection),
    }
}

/// One HAR entry as read: an exchange, or skipped for a reason.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Exchange(Box<Seen>),
    Skipped(String),
}

impl Item {
    fn same_kind(&self, other: &Item) -> bool {
        matches!(
            (self, other),
            (Item::Exchange(_), Item::Exchange(_)) | (Item::Skipped(_), Item::Skipped(_))
        )
    }
}

/// Everything a reader yielded for one file.
struct Reading {
    /// Exchanges in the order yielded.
    exchanges: Vec<Exchange>,
    error: Option<IngestError>,
    summary: ingest::Summary,
    /// For an input that could not be opened (or its kind told).
    open_error: Option<IngestError>,
}

fn read(path: &Path, opts: &ReadOptions) -> Reading {
    let mut it = match ingest::read(path, opts) {
        Ok(it) => it,
        Err(e) => {
            return Reading {
                exchanges: Vec::new(),
                error: None,
                summary: ingest::Summary::default(),
                open_error: Some(e),
            }
        }
    };
    let mut exchanges = Vec::new();
    let mut error = None;
    for item in it.by_ref() {
        match item {
            Ok(ex) => exchanges.push(ex),
            Err(e) => {
                assert!(error.is_none(), "the reader went on after an error: {e}");
                error = Some(e);
            }
        }
    }
    Reading {
        exchanges,
        error,
        summary: it.summary(),
        open_error: None,
    }
}

fn kind(k: InputKind) -> ReadOptions {
    ReadOptions {
        kind: Some(k),
        ..ReadOptions::default()
    }
}

/// HAR entries by index: exchanges by their origin, skipped ones by the places named. `None`
/// when more were skipped than are named (the places are capped).
fn har_items(r: &Reading) -> Option<BTreeMap<usize, Item>> {
    let mut items = BTreeMap::new();
    for ex in &r.exchanges {
        let triage::exchange::Origin::File { index, .. } = ex.origin else {
            panic!(
                "an exchange read from a file has a file origin: {:?}",
                ex.origin
            );
        };
        items.insert(index, Item::Exchange(Box::new(seen(ex))));
    }
    for (reason, s) in &r.summary.skipped {
        if s.count != s.places.len() {
            return None;
        }
        for p in &s.places {
            let i = p
                .strip_prefix("log.entries[")
                .and_then(|p| p.strip_suffix(']'))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("a HAR's skipped place is log.entries[N]: {p:?}"));
            items.insert(i, Item::Skipped(reason.clone()));
        }
    }
    Some(items)
}

/// What is wrong with where an error says an input broke: the file named, and a byte, line and
/// column that agree with the file's bytes.
fn position_problems(e: &IngestError, file: &Path, bytes: &[u8]) -> Vec<String> {
    let mut p = Vec::new();
    let msg = e.to_string();
    if !msg.contains(&file.display().to_string()) {
        p.push(format!("the error does not name the file: {msg}"));
    }
    if let IngestError::Broken {
        at, entry, context, ..
    } = e
    {
        let off = at.offset as usize;
        if off > bytes.len() {
            p.push(format!(
                "the error's byte is past the end of the file ({} bytes): {msg}",
                bytes.len()
            ));
        } else {
            let before = &bytes[..off];
            let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = (off - line_start) as u64 + 1;
            if (at.line, at.column) != (line, column) {
                p.push(format!(
                    "the error's line and column disagree with its byte {off}\n  expected: line {line}, column {column}\n       got: line {}, column {}: {msg}",
                    at.line, at.column
                ));
            }
        }
        if !msg.contains(&format!("byte {}", at.offset)) {
            p.push(format!("the message does not name the byte: {msg}"));
        }
        if let (Some(i), Some(c)) = (entry, context) {
            if !c.contains(&format!("[{i}]")) {
                p.push(format!("entry {i} and context {c:?} disagree: {msg}"));
            }
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Explaining, as `triage explain` does.

fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(Engine::new(RuleSet::builtin().expect("built-in rules"))))
        .clone()
}

fn explain(files: &[&Path], opts: &ReadOptions) -> Report {
    let pipeline = Pipeline::new(
        engine(),
        PipelineOptions {
            replay: true,
            ..PipelineOptions::default()
        },
    );
    let mut report = Report::new(false);
    triage::cli::explain::replay(&pipeline, files, opts, &mut report, |_| Ok(())).unwrap();
    render_all(&report);
    report
}

/// Renders a report in every format, as `triage explain` would: whatever the input held, no
/// renderer may fail on it. Text is wrapped too, as on a terminal.
fn render_all(report: &Report) {
    use triage::report::explain::{html, json, markdown, text};
    let mut out = Vec::new();
    text::render(report, &mut out, false, None).unwrap();
    text::render(report, &mut out, true, Some(24)).unwrap();
    markdown::render(report, &mut out).unwrap();
    html::render(report, &mut out).unwrap();
    let start = out.len();
    json::render(report, &mut out).unwrap();
    for line in out[start..]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        if let Err(e) = serde_json::from_slice::<Value>(line) {
            panic!(
                "a JSON Lines record is not JSON ({e}): {}",
                short(String::from_utf8_lossy(line))
            );
        }
    }
    assert!(std::str::from_utf8(&out).is_ok(), "a report is not UTF-8");
}

/// The exit status `triage explain` gives a report.
fn exit_of(report: &Report) -> i32 {
    let code = triage::cli::explain::exit_code(report, triage::cli::explain::FailOn::Failed);
    // `ExitCode` does not compare; its debug form names the value.
    match format!("{code:?}").as_str() {
        s if s.contains('2') => 2,
        s if s.contains('1') => 1,
        _ => 0,
    }
}

/// The report without the names of its files, to compare runs of files of other names.
fn anonymous(mut r: Report) -> Value {
    for rec in &mut r.records {
        rec.file.clear();
    }
    for s in r.skipped.iter_mut().chain(r.not_inspected.iter_mut()) {
        s.file.clear();
    }
    r.inputs.clear();
    r.errors.clear();
    serde_json::to_value(&r).unwrap()
}

/// Runs `triage explain ARGS --format json FILE` and checks it against the in-process report
/// of the same input with the same options: exit status, diagnosed records, the error named.
fn binary_explain(file: &Path, flags: &[&str], opts: &ReadOptions) -> Vec<String> {
    let report = explain(&[file], opts);
    let mut args: Vec<OsString> = vec!["explain".into(), "--format".into(), "json".into()];
    args.extend(flags.iter().map(OsString::from));
    args.push(file.into());
    let r = triage_bin(&args);
    let mut p = exit_problems("triage explain", &r, &[0, 1, 2], Some(exit_of(&report)));
    // Every record: each failure, diagnosed or not, and each diagnosed exchange.
    let want: Vec<Value> = report
        .records
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    let got: Vec<Value> = String::from_utf8_lossy(&r.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| json!({"not JSON": l, "error": e.to_string()}))
        })
        .collect();
    if want != got {
        p.push(format!(
            "triage explain --format json: stdout differs from the in-process report\n  expected: {}\n       got: {}",
            short(&want),
            short(&got)
        ));
    }
    for e in &report.errors {
        if !r.stderr.contains(&format!("triage: error: {}", e.message)) {
            p.push(format!(
                "triage explain: stderr does not give the input error\n  expected: triage: error: {}\n       got: {}",
                e.message,
                short(&r.stderr)
            ));
        }
        if e.exchanges_before > 0
            && !r
                .stderr
                .contains(&format!("covers the {} exchange", e.exchanges_before))
        {
            p.push(format!(
                "triage explain: stderr does not say the report covers the {} exchanges read before the break: {}",
                e.exchanges_before,
                short(&r.stderr)
            ));
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// JSON out of a value, with the shapes serde_json does not write: members written twice, raw
// bytes in place of a value (deep nesting, lone surrogates), any spacing, `\u` escapes.

#[derive(Debug, Clone, Copy)]
struct Style {
    indent: Option<&'static str>,
    newline: &'static str,
    colon: &'static str,
    escape_non_ascii: bool,
    escape_slash: bool,
}

impl Style {
    const COMPACT: Style = Style {
        indent: None,
        newline: "\n",
        colon: ":",
        escape_non_ascii: false,
        escape_slash: false,
    };

    fn random(rng: &mut Rng) -> (Style, String) {
        let mut s = Style::COMPACT;
        let mut d = Vec::new();
        match rng.below(4) {
            0 => d.push("compact"),
            1 => {
                s.indent = Some("  ");
                d.push("pretty");
            }
            2 => {
                s.indent = Some("\t");
                d.push("tab-indented");
            }
            _ => {
                s.indent = Some("    ");
                s.colon = " : ";
                d.push("spaced");
            }
        }
        if rng.one_in(4) {
            s.newline = "\r\n";
            d.push("CRLF");
        }
        if rng.one_in(6) {
            s.escape_non_ascii = true;
            d.push("\\u-escaped");
        }
        if rng.one_in(6) {
            s.escape_slash = true;
            d.push("\\/-escaped");
        }
        (s, d.join(", "))
    }
}

/// A JSON pointer's reference token.
fn token(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

struct Emitter<'a> {
    out: Vec<u8>,
    style: Style,
    /// Members written twice, by pointer.
    dups: &'a [String],
    /// Raw bytes written instead of the value at a pointer.
    raws: &'a [(String, Vec<u8>)],
    /// Byte ranges of `log.entries[i]`, in order.
    entries: Vec<(usize, usize)>,
}

fn emit(
    v: &Value,
    style: Style,
    dups: &[String],
    raws: &[(String, Vec<u8>)],
) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut e = Emitter {
        out: Vec::new(),
        style,
        dups,
        raws,
        entries: Vec::new(),
    };
    e.value(v, &mut String::new(), 0);
    (e.out, e.entries)
}

impl Emitter<'_> {
    fn newline(&mut self, level: usize) {
        if let Some(ind) = self.style.indent {
            self.out.extend_from_slice(self.style.newline.as_bytes());
            for _ in 0..level {
                self.out.extend_from_slice(ind.as_bytes());
            }
        }
    }

    fn string(&mut self, s: &str) {
        if !self.style.escape_non_ascii && !self.style.escape_slash {
            serde_json::to_writer(&mut self.out, s).unwrap();
            return;
        }
        self.out.push(b'"');
        for c in s.chars() {
            match c {
                '/' if self.style.escape_slash => self.out.extend_from_slice(b"\\/"),
                '"' => self.out.extend_from_slice(b"\\\""),
                '\\' => self.out.extend_from_slice(b"\\\\"),
                c if (c as u32) < 0x20 || !c.is_ascii() && self.style.escape_non_ascii => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        let _ = write!(self.out, "\\u{u:04x}");
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    self.out
                        .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        self.out.push(b'"');
    }

    fn value(&mut self, v: &Value, ptr: &mut String, level: usize) {
        if let Some((_, raw)) = self.raws.iter().find(|(p, _)| p == ptr) {
            let start = self.out.len();
            self.out.extend_from_slice(raw);
            self.note_entry(ptr, start);
            return;
        }
        let start = self.out.len();
        match v {
            Value::Object(m) => {
                self.out.push(b'{');
                let mut first = true;
                for (k, val) in m {
                    let len = ptr.len();
                    ptr.push('/');
                    ptr.push_str(&token(k));
                    let times = if self.dups.contains(ptr) { 2 } else { 1 };
                    for _ in 0..times {
                        if !std::mem::take(&mut first) {
                            self.out.push(b',');
                        }
                        self.newline(level + 1);
                        self.string(k);
                        self.out.extend_from_slice(self.style.colon.as_bytes());
                        self.value(val, ptr, level + 1);
                    }
                    ptr.truncate(len);
                }
                if !m.is_empty() {
                    self.newline(level);
                }
                self.out.push(b'}');
            }
            Value::Array(a) => {
                self.out.push(b'[');
                let mut first = true;
                for (i, val) in a.iter().enumerate() {
                    let len = ptr.len();
                    let _ = write!(ptr, "/{i}");
                    let times = if self.dups.contains(ptr) { 2 } else { 1 };
                    for _ in 0..times {
                        if !std::mem::take(&mut first) {
                            self.out.push(b',');
                        }
                        self.newline(level + 1);
                        self.value(val, ptr, level + 1);
                    }
                    ptr.truncate(len);
                }
                if !a.is_empty() {
                    self.newline(level);
                }
                self.out.push(b']');
            }
            Value::String(s) => self.string(s),
            other => serde_json::to_writer(&mut self.out, other).unwrap(),
        }
        self.note_entry(ptr, start);
    }

    fn note_entry(&mut self, ptr: &str, start: usize) {
        if ptr
            .strip_prefix("/log/entries/")
            .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
        {
            self.entries.push((start, self.out.len()));
        }
    }
}

/// Every pointer in `v` (the root is `""`), parents before children.
fn pointers(v: &Value) -> Vec<String> {
    fn walk(v: &Value, ptr: &mut String, out: &mut Vec<String>) {
        out.push(ptr.clone());
        match v {
            Value::Object(m) => {
                for (k, val) in m {
                    let len = ptr.len();
                    ptr.push('/');
                    ptr.push_str(&token(k));
                    walk(val, ptr, out);
                    ptr.truncate(len);
                }
            }
            Value::Array(a) => {
                for (i, val) in a.iter().enumerate() {
                    let len = ptr.len();
                    let _ = write!(ptr, "/{i}");
                    walk(val, ptr, out);
                    ptr.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut String::new(), &mut out);
    out
}

fn parent(ptr: &str) -> (&str, String) {
    let (p, last) = ptr.rsplit_once('/').unwrap_or(("", ptr));
    (p, last.replace("~1", "/").replace("~0", "~"))
}

/// The entry a pointer is in (`/log/entries/3/...` is in 3).
fn entry_of(ptr: &str) -> Option<usize> {
    ptr.strip_prefix("/log/entries/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Nested arrays or objects `depth` deep around a number.
fn nested(depth: usize, objects: bool) -> Vec<u8> {
    let (open, close): (&[u8], &[u8]) = if objects {
        (b"{\"a\":", b"}")
    } else {
        (b"[", b"]")
    };
    let mut v = Vec::with_capacity(depth * (open.len() + close.len()) + 1);
    for _ in 0..depth {
        v.extend_from_slice(open);
    }
    v.push(b'1');
    for _ in 0..depth {
        v.extend_from_slice(close);
    }
    v
}

/// A value of another JSON type than `v`.
fn other_type(rng: &mut Rng, v: &Value) -> Value {
    loop {
        let new = match rng.below(7) {
            0 => Value::Null,
            1 => json!(rng.pick(&[0i64, -1, 409, 1_000_000_000_000])),
            2 => json!(rng.pick(&[1.5f64, -0.0, 1e300])),
            3 => json!(rng.pick(&["", "409", "x", "https://api.mypurecloud.ie/x"])),
            4 => json!([]),
            5 => json!({}),
            _ => json!(rng.one_in(2)),
        };
        let same = std::mem::discriminant(&new) == std::mem::discriminant(v);
        if !same {
            return new;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Byte damage, shared by every kind of input.

/// Applies one random byte-level mutation; returns its description. `cut` only truncates.
fn damage_bytes(rng: &mut Rng, b: &mut Vec<u8>, cut: bool) -> String {
    let len = b.len();
    let at = rng.below(len + 1);
    if cut {
        b.truncate(at);
        return format!("cut at byte {at} of {len}");
    }
    match rng.below(9) {
        0 => {
            b.truncate(at);
            format!("cut at byte {at} of {len}")
        }
        1 if len > 0 => {
            let at = at.min(len - 1);
            let old = b[at];
            let new = rng.pick(&[
                b'{', b'}', b'[', b']', b'"', b',', b':', b'\\', b'\n', b'\r', 0, 0xff, b'x', b'0',
                b' ',
            ]);
            b[at] = new;
            format!("byte {at} {old:#04x} -> {new:#04x}")
        }
        2 => {
            let bad: &[&[u8]] = &[
                b"\xff",
                b"\xc3",
                b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80",
                b"\xef\xbb\xbf",
                b"\0",
            ];
            let ins = rng.pick(bad);
            b.splice(at..at, ins.iter().copied());
            format!(
                "{} inserted at byte {at}",
                short(String::from_utf8_lossy(ins))
            )
        }
        3 if len > 0 => {
            let n = rng.range(1, 64.min(len - at.min(len - 1)));
            let at = at.min(len - n);
            b.drain(at..at + n);
            format!("bytes {at}..{} deleted", at + n)
        }
        4 if len > 0 => {
            let at = at.min(len - 1);
            let n = rng.range(1, 64.min(len - at));
            let copy = b[at..at + n].to_vec();
            b.splice(at..at, copy);
            format!("bytes {at}..{} repeated", at + n)
        }
        5 => {
            let junk = rng.pick(&[&b"garbage"[..], b"}", b"]}", b",", b"{}", b"\x00\x01"]);
            b.extend_from_slice(junk);
            format!("{:?} appended", String::from_utf8_lossy(junk))
        }
        6 => {
            let n = rng.range(1, 16);
            let r = rng.bytes(n);
            b.splice(at..at, r.iter().copied());
            format!("{n} random bytes inserted at byte {at}")
        }
        _ => {
            b.truncate(at);
            format!("cut at byte {at} of {len}")
        }
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => Some(i),
        None if a.len() == b.len() => None,
        None => Some(a.len().min(b.len())),
    }
}

fn lf_to_crlf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 16);
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' && (i == 0 || b[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

// ---------------------------------------------------------------------------------------------
// HAR files.

struct HarBase {
    name: String,
    value: Value,
    /// What the reader makes of each entry of the unchanged file.
    items: BTreeMap<usize, Item>,
}

/// The fixtures' HAR files, and an export of a recording (`triage export --har` writes it).
fn har_bases() -> &'static [HarBase] {
    static BASES: OnceLock<Vec<HarBase>> = OnceLock::new();
    BASES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        let files = [
            "har/chrome.har",
            "har/firefox.har",
            "har/secrets.har",
            "explain/closed-conversation.har",
            "explain/earlier-send.har",
            "explain/later-get.har",
            "explain/other-hosts.har",
            "explain/secrets.har",
            "explain/successes.har",
            "explain/unsorted.har",
        ];
        for rel in files {
            let value: Value =
                serde_json::from_slice(&std::fs::read(fixture(rel)).unwrap()).unwrap();
            out.push((rel.to_owned(), value, Some(fixture(rel))));
        }
        out.push(("export of a recording".to_owned(), export_har(), None));
        out.into_iter()
            .map(|(name, value, path)| {
                let p = dir.path().join("base.har");
                std::fs::write(&p, emit(&value, Style::COMPACT, &[], &[]).0).unwrap();
                let r = read(&p, &kind(InputKind::Har));
                assert!(r.error.is_none(), "{name} reads: {:?}", r.error);
                let items = har_items(&r).unwrap();
                if let Some(path) = path {
                    // The emitter writes what the fixture says.
                    let direct = har_items(&read(&path, &kind(InputKind::Har))).unwrap();
                    let strip =
                        |m: BTreeMap<usize, Item>| -> Vec<Item> { m.into_values().collect() };
                    assert_eq!(strip(direct), strip(items.clone()), "{name} re-emitted");
                }
                HarBase { name, value, items }
            })
            .collect()
    })
}

/// What `triage export --har` makes of a recording of the Chrome and closed-conversation
/// fixtures, with their diagnoses.
fn export_har() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::new(
        engine(),
        PipelineOptions {
            replay: true,
            ..PipelineOptions::default()
        },
    );
    let mut w = triage::har::HarWriter::new(Vec::new(), false).unwrap();
    for rel in ["har/chrome.har", "explain/closed-conversation.har"] {
        let r = read(&fixture(rel), &ReadOptions::default());
        for ex in &r.exchanges {
            let d: Vec<Value> = pipeline
                .diagnose(ex)
                .iter()
                .map(|d| json!({"rule": d.rule, "cause": d.cause, "fix": d.fix}))
                .collect();
            w.write_entry(ex, &d).unwrap();
        }
    }
    drop(dir);
    serde_json::from_slice(&w.finish().unwrap()).unwrap()
}

/// How much a legal change of an entry may change what is read of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    /// Nothing.
    Nothing,
    /// Headers, time or timings; not the request, status or bodies.
    Details,
    /// The exchange itself (another body); it is still an exchange.
    Exchange,
}

fn entries_len(v: &Value) -> usize {
    v.pointer("/log/entries")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Sets the value at `ptr`, making the objects on the way when they are missing.
fn set_at(v: &mut Value, ptr: &str, new: Value) -> bool {
    let (par, key) = parent(ptr);
    if v.pointer(par).is_none() {
        let (gp, pk) = parent(par);
        match v.pointer_mut(gp).and_then(Value::as_object_mut) {
            Some(o) => {
                o.insert(pk, json!({}));
            }
            None => return false,
        }
    }
    match v.pointer_mut(par) {
        Some(Value::Object(o)) => {
            o.insert(key, new);
            true
        }
        _ => false,
    }
}

fn remove_at(v: &mut Value, ptr: &str) -> Option<Value> {
    let (par, key) = parent(ptr);
    match v.pointer_mut(par)? {
        Value::Object(o) => o.shift_remove(&key),
        Value::Array(a) => {
            let i: usize = key.parse().ok()?;
            (i < a.len()).then(|| a.remove(i))
        }
        _ => None,
    }
}

fn gzip_base64(data: &[u8]) -> String {
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

/// Swaps the places of members `i` and `j` (serde_json's map keeps the order written).
fn swap_members(o: &mut serde_json::Map<String, Value>, i: usize, j: usize) {
    let mut members: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
    members.swap(i, j);
    o.extend(members);
}

/// One odd but legal change to entry `k` (or the document); `None` when the drawn change does
/// not apply to this entry.
fn legal_change(rng: &mut Rng, v: &mut Value, k: usize) -> Option<(String, Change)> {
    let e = format!("/log/entries/{k}");
    let at = |p: &str| format!("{e}/{p}");
    let has = |v: &Value, p: &str| v.pointer(&at(p)).is_some();
    match rng.below(14) {
        0 => {
            let text_present = v
                .pointer(&at("response/content/text"))
                .is_some_and(Value::is_string);
            // Without `postData`, `bodySize` says whether there was a body nobody kept.
            let upload = if has(v, "request/postData") {
                Change::Nothing
            } else {
                Change::Exchange
            };
            let optional: &[(&str, Change)] = &[
                ("cache", Change::Nothing),
                ("timings", Change::Details),
                ("time", Change::Details),
                ("serverIPAddress", Change::Nothing),
                ("connection", Change::Nothing),
                ("pageref", Change::Nothing),
                ("_initiator", Change::Nothing),
                ("_priority", Change::Nothing),
                ("comment", Change::Nothing),
                ("startedDateTime", Change::Details),
                ("request/cookies", Change::Nothing),
                ("request/queryString", Change::Nothing),
                ("request/headersSize", Change::Nothing),
                ("request/bodySize", upload),
                ("request/httpVersion", Change::Details),
                ("request/postData/mimeType", Change::Nothing),
                ("request/postData", Change::Exchange),
                ("request/headers", Change::Exchange),
                ("response/headers", Change::Exchange),
                ("response/content", Change::Exchange),
                ("response", Change::Exchange),
                ("response/cookies", Change::Nothing),
                ("response/statusText", Change::Nothing),
                ("response/httpVersion", Change::Details),
                ("response/redirectURL", Change::Nothing),
                ("response/headersSize", Change::Nothing),
                ("response/bodySize", Change::Nothing),
                ("response/content/mimeType", Change::Nothing),
                ("response/content/compression", Change::Nothing),
                (
                    "response/content/size",
                    if text_present {
                        Change::Nothing
                    } else {
                        Change::Exchange
                    },
                ),
            ];
            let present: Vec<_> = optional.iter().filter(|(p, _)| has(v, p)).collect();
            let (p, c) = **present.get(rng.below(present.len().max(1)))?;
            remove_at(v, &at(p));
            Some((format!("entry {k}: optional {p} left out"), c))
        }
        1 => {
            let content = v.pointer_mut(&at("response/content"))?;
            if content.get("encoding").is_some() {
                return None;
            }
            let text = content.get("text")?.as_str()?.to_owned();
            use base64::Engine as _;
            content["text"] = json!(base64::engine::general_purpose::STANDARD.encode(text));
            content["encoding"] = json!("base64");
            Some((
                format!("entry {k}: content.text as base64"),
                Change::Nothing,
            ))
        }
        2 => {
            let pd = v.pointer_mut(&at("request/postData"))?;
            let form = pd
                .get("mimeType")?
                .as_str()?
                .contains("x-www-form-urlencoded");
            let text = pd.get("text")?.as_str()?.to_owned();
            let params: Vec<Value> = text
                .split('&')
                .map(|kv| {
                    let (n, v) = kv.split_once('=').unwrap_or((kv, ""));
                    json!({"name": n, "value": v})
                })
                .collect();
            if !form || text.is_empty() || text.split('&').any(|kv| !kv.contains('=')) {
                return None;
            }
            let o = pd.as_object_mut()?;
            o.shift_remove("text");
            o.insert("params".into(), Value::Array(params));
            Some((
                format!("entry {k}: postData with params only"),
                Change::Nothing,
            ))
        }
        3 => {
            let text_present = v
                .pointer(&at("response/content/text"))
                .is_some_and(Value::is_string);
            let upload = if has(v, "request/postData") {
                Change::Nothing
            } else {
                Change::Exchange
            };
            let mut fields = vec![
                ("request/bodySize", upload),
                ("request/headersSize", Change::Nothing),
                ("response/bodySize", Change::Nothing),
                ("response/headersSize", Change::Nothing),
                ("time", Change::Details),
                ("timings/wait", Change::Details),
                ("timings/send", Change::Details),
                ("timings/blocked", Change::Details),
            ];
            if text_present {
                fields.push(("response/content/size", Change::Nothing));
            }
            let (p, c) = rng.pick(&fields);
            let size = rng.pick(&[
                json!(-1),
                json!(0),
                json!(-12345),
                json!(1e15),
                json!(u64::MAX),
                json!(1.8446744073709552e19),
                json!(i64::MIN),
                json!(1.5),
                json!(3.4e38),
                json!("12"),
                json!("-1"),
                json!(""),
            ]);
            if !set_at(v, &at(p), size.clone()) {
                return None;
            }
            Some((format!("entry {k}: {p} = {size}"), c))
        }
        4 => {
            let side = rng.pick(&["request", "response"]);
            let hs = v
                .pointer_mut(&at(&format!("{side}/headers")))?
                .as_array_mut()?;
            if hs.is_empty() {
                return None;
            }
            let i = rng.below(hs.len());
            let h = hs[i].clone();
            let j = rng.below(hs.len() + 1);
            hs.insert(j, h.clone());
            Some((
                format!("entry {k}: {side} header {} repeated", h["name"]),
                Change::Details,
            ))
        }
        5 => {
            let host = v
                .pointer(&at("request/url"))
                .and_then(Value::as_str)
                .and_then(|u| u.split('/').nth(2))
                .unwrap_or("api.mypurecloud.ie")
                .to_owned();
            let method = v
                .pointer(&at("request/method"))
                .cloned()
                .unwrap_or(json!("GET"));
            let req = v.pointer_mut(&at("request/headers"))?.as_array_mut()?;
            for (n, val) in [
                (":authority", json!(host)),
                (":method", method),
                (":path", json!("/x")),
                (":scheme", json!("https")),
            ] {
                let j = rng.below(req.len() + 1);
                req.insert(j, json!({"name": n, "value": val}));
            }
            if let Some(resp) = v
                .pointer_mut(&at("response/headers"))
                .and_then(Value::as_array_mut)
            {
                resp.insert(0, json!({"name": ":status", "value": "200"}));
            }
            Some((format!("entry {k}: HTTP/2 pseudo-headers"), Change::Nothing))
        }
        6 => {
            let places = [
                "",
                "/request",
                "/response",
                "/response/content",
                "/request/headers/0",
                "/timings",
            ];
            let place = rng.pick(&places);
            let name = rng.pick(&[
                "_fuzz",
                "_transferSize",
                "_error",
                "_fromCache",
                "_securityState",
                "_x",
            ]);
            let value = match rng.below(4) {
                0 => other_type(rng, &Value::Null),
                1 => json!({"a": [1, {"b": [null, "c"]}], "d": "\u{e9}\u{1F600}"}),
                2 => {
                    let n = rng.range(0, 70_000);
                    json!(rng.text(n))
                }
                _ => json!([{"callFrames": [{"url": "https://x/app.js?access_token=abc"}]}]),
            };
            let o = v.pointer_mut(&format!("{e}{place}"))?.as_object_mut()?;
            o.insert(name.into(), value);
            Some((
                format!(
                    "entry {k}: custom field {name} in {}",
                    if place.is_empty() { "the entry" } else { place }
                ),
                Change::Nothing,
            ))
        }
        7 => {
            let n = rng.range(1, 300);
            let mut body = rng.bytes(n);
            body[0] = 0xff;
            use base64::Engine as _;
            let content = v.pointer_mut(&at("response/content"))?;
            *content = json!({"size": n, "mimeType": "application/octet-stream", "encoding": "base64",
                              "text": base64::engine::general_purpose::STANDARD.encode(&body)});
            Some((
                format!("entry {k}: a binary (non-UTF-8) response body of {n} bytes"),
                Change::Exchange,
            ))
        }
        8 => {
            let side = rng.pick(&["request", "response"]);
            let hs = v
                .pointer_mut(&at(&format!("{side}/headers")))?
                .as_array_mut()?;
            let i = rng.below(hs.len().max(1));
            let h = hs.get_mut(i)?;
            let name = h.get("name")?.as_str()?.to_ascii_uppercase();
            h["name"] = json!(name);
            Some((
                format!("entry {k}: {side} header {name} in upper case"),
                Change::Nothing,
            ))
        }
        9 => {
            let garbage = rng.pick(&["yesterday", "", "2026-13-45T99:99:99Z", "1772360430123"]);
            if !has(v, "startedDateTime") {
                return None;
            }
            set_at(v, &at("startedDateTime"), json!(garbage));
            Some((
                format!("entry {k}: startedDateTime {garbage:?}"),
                Change::Details,
            ))
        }
        10 => {
            let status = v.pointer(&at("response/status"))?.as_u64()?;
            set_at(v, &at("response/status"), json!(status.to_string()));
            Some((
                format!("entry {k}: status as the string \"{status}\""),
                Change::Nothing,
            ))
        }
        11 => {
            // Members of an object inside the entry in another order (not the header list,
            // whose order is the headers').
            let objects: Vec<String> = pointers(v.pointer(&e)?)
                .into_iter()
                .filter(|p| {
                    v.pointer(&format!("{e}{p}"))
                        .and_then(Value::as_object)
                        .is_some_and(|o| o.len() > 1)
                })
                .collect();
            let p = format!("{e}{}", objects.get(rng.below(objects.len().max(1)))?);
            let o = v.pointer_mut(&p)?.as_object_mut()?;
            let (a, b) = (rng.below(o.len()), rng.below(o.len()));
            swap_members(o, a, b);
            Some((
                format!("members {a} and {b} of {p} swapped"),
                Change::Nothing,
            ))
        }
        12 => {
            // The body as it came over the wire, gzip, as Charles and mitmproxy keep it.
            let text = v
                .pointer(&at("response/content/text"))?
                .as_str()?
                .to_owned();
            if v.pointer(&at("response/content/encoding")).is_some() {
                return None;
            }
            let hs = v.pointer_mut(&at("response/headers"))?.as_array_mut()?;
            if hs.iter().any(|h| {
                h["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("content-encoding"))
            }) {
                return None;
            }
            hs.push(json!({"name": "Content-Encoding", "value": "gzip"}));
            let content = v.pointer_mut(&at("response/content"))?;
            content["text"] = json!(gzip_base64(text.as_bytes()));
            content["encoding"] = json!("base64");
            // The header is new; the body reads as before.
            Some((
                format!("entry {k}: content as base64 of its gzip bytes"),
                Change::Details,
            ))
        }
        _ => {
            // A custom member of the document itself, before `log`.
            let o = v.as_object_mut()?;
            if o.contains_key("_comment") {
                return None;
            }
            o.shift_insert(0, "_comment".into(), json!("saved by a tool"));
            Some((
                "custom field _comment before log".to_owned(),
                Change::Nothing,
            ))
        }
    }
}

/// Structural damage: where, and what may follow from it.
#[derive(Debug, Clone)]
struct Structural {
    desc: String,
    /// The entry it is confined to (its index unchanged), when it is.
    entry: Option<usize>,
    /// The result is still JSON the reader parses (not too deep, no lone surrogate).
    parses: bool,
    /// The result is JSON by RFC 8259, though serde_json may refuse it (too deep, a lone
    /// surrogate, `1e400`): an entry holding it is skipped and named, and reading goes on.
    json: bool,
}

fn damage_structure(
    rng: &mut Rng,
    v: &mut Value,
    dups: &mut Vec<String>,
    raws: &mut Vec<(String, Vec<u8>)>,
) -> Option<Structural> {
    let all: Vec<String> = pointers(v).into_iter().filter(|p| !p.is_empty()).collect();
    let inside: Vec<String> = all
        .iter()
        .filter(|p| entry_of(p).is_some())
        .cloned()
        .collect();
    let ptr = if !inside.is_empty() && !rng.one_in(4) {
        rng.pick(&inside)
    } else {
        rng.pick(&all)
    };
    if raws.iter().any(|(p, _)| ptr.starts_with(p.as_str())) {
        return None;
    }
    // Damage to an entry's own value keeps its index; to its place in the list, not.
    let is_entry = ptr
        .strip_prefix("/log/entries/")
        .is_some_and(|r| !r.contains('/'));
    let within = entry_of(&ptr);
    let (par, key) = parent(&ptr);
    let (desc, entry, parses, json) = match rng.below(9) {
        8 => {
            // A gzip member whose trailer states another size than its data holds.
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            let gzipped = |p: &String| {
                let text = v
                    .pointer(p)
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str);
                text.and_then(|t| b64.decode(t).ok())
                    .filter(|r| r.len() > 18 && r.starts_with(&[0x1f, 0x8b]))
            };
            let all: Vec<&String> = all.iter().filter(|p| gzipped(p).is_some()).collect();
            let ptr = (*all.get(rng.below(all.len().max(1)))?).clone();
            let mut raw = gzipped(&ptr)?;
            let n = raw.len();
            let size = rng.pick(&[0u32, 1, 0x7fff_fff0, u32::MAX]);
            raw[n - 4..].copy_from_slice(&size.to_le_bytes());
            v.pointer_mut(&ptr)?["text"] = json!(b64.encode(raw));
            let within = entry_of(&ptr);
            (
                format!("{ptr}: its gzip trailer says {size} bytes"),
                within,
                true,
                true,
            )
        }
        0 => {
            remove_at(v, &ptr)?;
            (
                format!("{ptr} deleted"),
                within.filter(|_| !is_entry),
                true,
                true,
            )
        }
        1 => {
            dups.push(ptr.clone());
            (
                format!("{ptr} written twice"),
                within.filter(|_| !is_entry),
                true,
                true,
            )
        }
        2 => {
            let sib = match v.pointer_mut(par)? {
                Value::Object(o) if o.len() > 1 => {
                    let i = o.keys().position(|k| *k == key)?;
                    let j = rng.below(o.len());
                    swap_members(o, i, j);
                    j
                }
                Value::Array(a) if a.len() > 1 => {
                    let i: usize = key.parse().ok()?;
                    let j = rng.below(a.len());
                    a.swap(i, j);
                    j
                }
                _ => return None,
            };
            (
                format!("{ptr} swapped with sibling {sib}"),
                within.filter(|_| !is_entry),
                true,
                true,
            )
        }
        3 => {
            let old = v.pointer(&ptr)?.clone();
            let new = other_type(rng, &old);
            *v.pointer_mut(&ptr)? = new.clone();
            (
                format!("{ptr}: {} -> {new}", short(&old)),
                within,
                true,
                true,
            )
        }
        4 => {
            let depth = rng.pick(&[2, 20, 60, 126, 127, 128, 129, 200, 1000, 100_000]);
            let objects = rng.one_in(2);
            raws.push((ptr.clone(), nested(depth, objects)));
            let kind = if objects { "objects" } else { "arrays" };
            (
                format!("{ptr} replaced by {kind} {depth} deep"),
                within,
                depth <= 60,
                true,
            )
        }
        5 => {
            // Past the 1 MiB read limit only now and then: a debug build reads it slowly.
            let n = if rng.one_in(10) {
                1_048_577
            } else {
                rng.pick(&[100, 65_536])
            };
            let s = rng.text(n);
            *v.pointer_mut(&ptr)? = Value::String(s);
            (
                format!("{ptr} replaced by a string of {n} chars"),
                within,
                true,
                true,
            )
        }
        6 => {
            let raw = rng.pick(&[
                &br#""ab\ud800cd""#[..],
                br#""\udc00""#,
                br#""\ud83d""#,
                br#""x\ud800\ud800""#,
            ]);
            raws.push((ptr.clone(), raw.to_vec()));
            (
                format!(
                    "{ptr} replaced by {} (a lone surrogate)",
                    String::from_utf8_lossy(raw)
                ),
                within,
                false,
                true,
            )
        }
        _ => {
            let raw = rng.pick(&[
                &br#""a\x""#[..],
                br#""\u12""#,
                b"01",
                b"+1",
                b"NaN",
                b"'x'",
                b"tru",
                b"nul",
                b"1e400",
                b"-1e400",
            ]);
            raws.push((ptr.clone(), raw.to_vec()));
            (
                format!(
                    "{ptr} replaced by {} (not JSON serde_json reads)",
                    String::from_utf8_lossy(raw)
                ),
                within,
                false,
                raw.ends_with(b"1e400"),
            )
        }
    };
    Some(Structural {
        desc,
        entry,
        parses,
        json,
    })
}

struct HarExtra {
    base: usize,
    /// The legal file, before any damage, and where its entries are.
    clean: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Per entry, how much the legal changes may change what is read.
    changed: BTreeMap<usize, Change>,
    structural: Vec<Structural>,
    /// Byte damage (after the structural one) happened.
    bytes_damaged: bool,
    /// The only damage is a cut at this byte.
    cut: Option<usize>,
    /// The legal value with the entries wholly before the cut, as written.
    prefix: Option<Vec<u8>>,
}

fn gen_har(rng: &mut Rng, binary: bool) -> Case<HarExtra> {
    let bases = har_bases();
    let b = rng.below(bases.len());
    let base = &bases[b];
    let mut v = base.value.clone();
    let mut desc = vec![base.name.clone()];
    let mut changed = BTreeMap::new();
    let entries = entries_len(&v);
    for _ in 0..rng.below(4) {
        let k = rng.below(entries.max(1));
        if let Some((d, c)) = legal_change(rng, &mut v, k) {
            desc.push(format!("legal: {d}"));
            let slot = changed.entry(k).or_insert(Change::Nothing);
            *slot = (*slot).max(c);
        }
    }
    let (style, sd) = Style::random(rng);
    desc.push(format!("written {sd}"));
    let (clean, spans) = emit(&v, style, &[], &[]);
    let mut bytes = clean.clone();
    let (mut dups, mut raws) = (Vec::new(), Vec::new());
    let mut structural = Vec::new();
    let mut cut = None;
    let mut prefix = None;
    let mut bytes_damaged = false;
    match rng.below(8) {
        // Legal only.
        0 | 1 => {
            if rng.one_in(3) {
                bytes.splice(0..0, *b"\xEF\xBB\xBF");
                desc.push("a BOM".into());
            }
            if rng.one_in(3) {
                bytes.extend_from_slice(b"\r\n\n  \t");
                desc.push("whitespace after the end".into());
            }
        }
        // A cut alone.
        2 | 3 => {
            let c = rng.below(bytes.len() + 1);
            bytes.truncate(c);
            desc.push(format!("cut at byte {c} of {}", clean.len()));
            cut = Some(c);
            let keep = spans.iter().filter(|s| s.1 <= c).count();
            let mut pv = v.clone();
            if let Some(es) = pv.pointer_mut("/log/entries").and_then(Value::as_array_mut) {
                es.truncate(keep);
            }
            prefix = Some(emit(&pv, style, &[], &[]).0);
        }
        // Structural damage, maybe then bytes.
        _ => {
            let mut v2 = v.clone();
            for _ in 0..rng.range(1, 2) {
                if let Some(s) = damage_structure(rng, &mut v2, &mut dups, &mut raws) {
                    desc.push(format!("damage: {}", s.desc));
                    structural.push(s);
                }
            }
            bytes = emit(&v2, style, &dups, &raws).0;
            if rng.one_in(3) || structural.is_empty() {
                for _ in 0..rng.range(1, 2) {
                    desc.push(format!("damage: {}", damage_bytes(rng, &mut bytes, false)));
                }
                bytes_damaged = true;
            }
        }
    }
    Case {
        desc: desc.join("; "),
        bytes,
        ext: "har",
        binary,
        extra: HarExtra {
            base: b,
            clean,
            spans,
            changed,
            structural,
            bytes_damaged,
            cut,
            prefix,
        },
    }
}

fn check_har(case: &Case<HarExtra>, env: &Env) -> Vec<String> {
    let x = &case.extra;
    let base = &har_bases()[x.base];
    let mut p = Vec::new();
    let har = kind(InputKind::Har);

    // The legal file reads as the base does, bar what the legal changes may change.
    let clean_path = env.dir.join("clean.har");
    std::fs::write(&clean_path, &x.clean).unwrap();
    let clean = read(&clean_path, &har);
    if let Some(e) = &clean.error {
        p.push(format!(
            "the legal file (before damage) is an input error: {e}"
        ));
        return p;
    }
    let Some(clean_items) = har_items(&clean) else {
        return vec!["more skipped entries than the places named".into()];
    };
    let keys = |m: &BTreeMap<usize, Item>| m.keys().copied().collect::<Vec<_>>();
    if keys(&clean_items) != keys(&base.items) {
        p.push(format!(
            "legal shapes: entries read\n  expected: {:?}\n       got: {:?}",
            keys(&base.items),
            keys(&clean_items)
        ));
    }
    for (i, want) in &base.items {
        let Some(got) = clean_items.get(i) else {
            continue;
        };
        let change = x.changed.get(i).copied().unwrap_or(Change::Nothing);
        let same = match (want, got, change) {
            (_, _, Change::Nothing) => want == got,
            (Item::Exchange(a), Item::Exchange(b), Change::Details) => a.core == b.core,
            (a, b, _) => a.same_kind(b),
        };
        if !same {
            p.push(format!(
                "legal shapes: entry {i} ({change:?} may change)\n  expected: {}\n       got: {}",
                short(want),
                short(got)
            ));
        }
    }
    if case.bytes == x.clean || case.bytes.ends_with(&x.clean) {
        // A legal file with a BOM or trailing space: what users run detects it as a HAR.
        match ingest::detect_file(&env.file) {
            Ok(InputKind::Har) => {}
            other => p.push(format!("a legal HAR is detected as {other:?}, not a HAR")),
        }
    }

    // The damaged file: everything wholly before the first damaged byte reads as before.
    let got = read(&env.file, &har);
    if let Some(e) = &got.open_error {
        p.push(format!("opening with --input har failed: {e}"));
        return p;
    }
    let Some(items) = har_items(&got) else {
        return p;
    };
    let d = first_difference(&x.clean, &case.bytes);
    let bom_or_space = case.bytes.len() > x.clean.len()
        && (case.bytes.ends_with(&x.clean) || case.bytes.starts_with(&x.clean))
        && x.structural.is_empty()
        && !x.bytes_damaged;
    let d = if bom_or_space { None } else { d };
    match d {
        None => {
            if let Some(e) = &got.error {
                p.push(format!("a legal file is an input error: {e}"));
            }
            if items != clean_items {
                p.push("a BOM or trailing whitespace changed what is read".into());
            }
        }
        Some(d) => {
            for (i, &(_, end)) in x.spans.iter().enumerate() {
                if end > d {
                    break;
                }
                if items.get(&i) != clean_items.get(&i) {
                    p.push(format!(
                        "nothing lost: entry {i} ends at byte {end}, before the first damaged byte {d}, and reads differently\n  expected: {}\n       got: {}",
                        short(clean_items.get(&i)),
                        short(items.get(&i))
                    ));
                }
            }
            if let Some(e) = &got.error {
                p.extend(position_problems(e, &env.file, &case.bytes));
                if let IngestError::Broken { at, entry, .. } = e {
                    // serde_json places a control character in a string it skips over (a member
                    // of `log` is only checked) one byte early: a quirk, not a misplaced error.
                    if (at.offset as usize) + 1 < d {
                        p.push(format!(
                            "the error is placed at byte {}, before the first damaged byte {d}: {e}",
                            at.offset
                        ));
                    }
                    if let Some(i) = entry {
                        if *i != items.len() {
                            p.push(format!(
                                "the entry in flight\n  expected: {} (entries handed out before)\n       got: {i}: {e}",
                                items.len()
                            ));
                        }
                    }
                }
            }
        }
    }
    // Damage inside one entry costs that entry at most.
    let confined: BTreeSet<Option<usize>> = x.structural.iter().map(|s| s.entry).collect();
    if !x.bytes_damaged && confined.len() == 1 {
        if let Some(Some(k)) = confined.first() {
            let json = x.structural.iter().all(|s| s.json);
            match &got.error {
                Some(e) if json => p.push(format!(
                    "damage confined to entry {k}, still JSON, ended reading: {e}"
                )),
                Some(IngestError::Broken { entry, .. }) if *entry != Some(*k) => p.push(format!(
                    "damage confined to entry {k} broke reading elsewhere: {}",
                    got.error.as_ref().unwrap()
                )),
                Some(_) => {}
                None => {
                    for (i, want) in &clean_items {
                        if i != k && items.get(i) != Some(want) {
                            p.push(format!(
                                "damage confined to entry {k} changed entry {i}\n  expected: {}\n       got: {}",
                                short(want),
                                short(items.get(i))
                            ));
                        }
                    }
                    if !items.contains_key(k) {
                        p.push(format!("entry {k} is neither read nor named as skipped"));
                    }
                }
            }
        }
    }

    // Entries of JSON triage cannot read are named, each an input error of its own, and cost
    // only themselves.
    // (An entry that is JSON but no HAR entry, `"request": 409`, is named the same way.)
    let unreadable: usize = ["JSON triage cannot read", "not a HAR entry"]
        .iter()
        .filter_map(|r| got.summary.skipped.get(*r))
        .map(|s| s.count)
        .sum();
    if unreadable != got.summary.unreadable.len() {
        p.push(format!(
            "entries of JSON triage cannot read\n  expected: {unreadable} named\n       got: {}",
            got.summary.unreadable.len()
        ));
    }
    let damaged: BTreeSet<Option<usize>> = x.structural.iter().map(|s| s.entry).collect();
    for u in &got.summary.unreadable {
        let off = (u.at.offset as usize).min(case.bytes.len());
        let before = &case.bytes[..off];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let column = (off
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |n| n + 1)) as u64
            + 1;
        if (u.at.line, u.at.column) != (line, column) {
            p.push(format!(
                "an unreadable entry's line and column disagree with its byte {off}\n  expected: line {line}, column {column}\n       got: {u}"
            ));
        }
        if !x.bytes_damaged && !damaged.contains(&None) && !damaged.contains(&Some(u.entry)) {
            p.push(format!(
                "an undamaged entry is named as unreadable (the damage is in {damaged:?}): {u}"
            ));
        }
    }

    // The report: the error and the exchanges before it.
    let report = explain(&[&env.file], &har);
    let n_items = items.len();
    let (skips, ends): (Vec<_>, Vec<_>) = report.errors.iter().cloned().partition(|e| e.read_on);
    if skips.len() != got.summary.unreadable.len() {
        p.push(format!(
            "the report's errors of entries triage cannot read\n  expected: {}\n       got: {}",
            got.summary.unreadable.len(),
            short(skips.iter().map(|r| &r.message).collect::<Vec<_>>())
        ));
    }
    match (&got.error, ends.as_slice()) {
        (None, []) => {}
        (Some(e), [r]) => {
            if r.exchanges_before != got.exchanges.len() {
                p.push(format!(
                    "the report's error\n  expected: after {} exchanges\n       got: after {}: {}",
                    got.exchanges.len(),
                    r.exchanges_before,
                    r.message
                ));
            }
            if let IngestError::Broken { entry: Some(i), .. } = e {
                if !r.message.contains(&format!("(entry {i}, counting from 0)")) {
                    p.push(format!(
                        "the report's error does not name entry {i}: {}",
                        r.message
                    ));
                }
            }
        }
        (e, r) => p.push(format!(
            "errors in the report\n  expected: {}\n       got: {}",
            short(e.as_ref().map(ToString::to_string)),
            short(r.iter().map(|r| &r.message).collect::<Vec<_>>())
        )),
    }
    let t = &report.totals;
    if t.exchanges + t.other_hosts != got.exchanges.len()
        || t.skipped != got.summary.skipped_total()
    {
        p.push(format!(
            "the report's totals\n  expected: {} exchanges (with other hosts), {} skipped\n       got: {} + {} other hosts, {} skipped",
            got.exchanges.len(),
            got.summary.skipped_total(),
            t.exchanges,
            t.other_hosts,
            t.skipped
        ));
    }

    // An input error ends that input only: a good file after it is read whole.
    let good = fixture("explain/successes.har");
    let both = explain(&[&env.file, &good], &har);
    static GOOD: OnceLock<triage::report::explain::Totals> = OnceLock::new();
    let (b, g) = (
        &both.totals,
        GOOD.get_or_init(|| explain(&[&good], &har).totals),
    );
    if b.exchanges + b.other_hosts != t.exchanges + t.other_hosts + g.exchanges + g.other_hosts
        || both.errors.len() != report.errors.len()
    {
        p.push(format!(
            "with a good file after it\n  expected: {} exchanges, {} errors\n       got: {}, {}",
            t.exchanges + t.other_hosts + g.exchanges + g.other_hosts,
            report.errors.len(),
            b.exchanges + b.other_hosts,
            both.errors.len()
        ));
    }

    // A cut file explains as the entries wholly before the cut do, and says where it broke.
    if let (Some(c), Some(prefix)) = (x.cut, &x.prefix) {
        let whole: Vec<usize> = (0..x.spans.len()).filter(|&i| x.spans[i].1 <= c).collect();
        if keys(&items) != whole {
            p.push(format!(
                "cut at byte {c}: entries read\n  expected: {whole:?} (those wholly before the cut)\n       got: {:?}",
                keys(&items)
            ));
        }
        if c < x.clean.len() {
            match &got.error {
                None => p.push(format!("cut at byte {c} of {}: no error", x.clean.len())),
                Some(IngestError::Broken { at, .. }) => {
                    let last = whole.last().map_or(0, |&i| x.spans[i].1);
                    if (at.offset as usize) < last || at.offset as usize > c {
                        p.push(format!(
                            "cut at byte {c}: the error is placed at byte {}, not between the last whole entry's end {last} and the cut",
                            at.offset
                        ));
                    }
                }
                Some(e) => p.push(format!("cut at byte {c}: not a 'broken at' error: {e}")),
            }
        }
        let prefix_path = env.dir.join("prefix.har");
        std::fs::write(&prefix_path, prefix).unwrap();
        let want = anonymous(explain(&[&prefix_path], &har));
        let got_r = anonymous(report);
        if want != got_r {
            p.push(format!(
                "cut at byte {c}: the report differs from that of the {} entries before the cut\n  expected: {}\n       got: {}",
                whole.len(),
                short(&want),
                short(&got_r)
            ));
        }
    }

    // `triage redact`: a complete HAR whatever it reads, which redacting again leaves as is.
    let mut out = Vec::new();
    let outcome = triage::har::redact_har(&env.file, &mut out, false).expect("writing to memory");
    // Redaction works on the JSON: an entry that is JSON but no HAR entry is redacted and
    // written as any other.
    let unreadable = got
        .summary
        .skipped
        .get("JSON triage cannot read")
        .map_or(0, |s| s.count);
    if (outcome.entries, outcome.unreadable_count) != (n_items - unreadable, unreadable) {
        p.push(format!(
            "redact: entries written, left out\n  expected: {}, {unreadable} (those read, those triage cannot read)\n       got: {}, {}",
            n_items - unreadable,
            outcome.entries,
            outcome.unreadable_count
        ));
    }
    if outcome.error.is_some() != got.error.is_some() {
        p.push(format!(
            "redact: the input error\n  expected: {}\n       got: {}",
            short(got.error.as_ref().map(ToString::to_string)),
            short(outcome.error.as_ref().map(ToString::to_string))
        ));
    }
    let once = env.dir.join("redacted.har");
    std::fs::write(&once, &out).unwrap();
    let mut twice = Vec::new();
    let again = triage::har::redact_har(&once, &mut twice, false).expect("writing to memory");
    if let Some(e) = again.error {
        p.push(format!("redact: its own output is an input error: {e}"));
    }
    if twice != out {
        let at = first_difference(&out, &twice).unwrap_or(0);
        p.push(format!(
            "redact: redacting its output changed it at byte {at}\n  once:  {}\n  twice: {}",
            short(String::from_utf8_lossy(
                &out[at.saturating_sub(60)..(at + 60).min(out.len())]
            )),
            short(String::from_utf8_lossy(
                &twice[at.saturating_sub(60)..(at + 60).min(twice.len())]
            ))
        ));
    }
    // Read back rather than parsed whole: serde_json reads no deeper than 128 levels, and the
    // members copied as they were keep what they held (a lone surrogate escape).
    let back = read(&once, &har);
    // A HAR cut before its first entry is redacted whole into one with no calls, which
    // explain refuses as input (a capture that was not running), and rightly.
    let no_calls = |e: &IngestError| e.to_string().contains("the HAR holds no calls");
    if let Some(e) = back.error.as_ref().filter(|e| !no_calls(e)) {
        p.push(format!("redact: the output is not a complete HAR: {e}"));
    }
    if back.exchanges.len() + back.summary.skipped_total() != n_items - unreadable {
        p.push(format!(
            "redact: entries in the output\n  expected: {} (those read, less those triage cannot read)\n       got: {}",
            n_items - unreadable,
            back.exchanges.len() + back.summary.skipped_total()
        ));
    }
    if back.exchanges.len() != got.exchanges.len() {
        p.push(format!(
            "redact: exchanges in the output\n  expected: {}\n       got: {}",
            got.exchanges.len(),
            back.exchanges.len()
        ));
    }

    if case.binary {
        p.extend(binary_explain(&env.file, &[], &ReadOptions::default()));
        let out_path = env.dir.join("redacted-by-binary.har");
        let r = triage_bin(&os(&[&"redact", &env.file, &"-o", &out_path]));
        let entries_lost = outcome.error.is_some() || outcome.unreadable_count > 0;
        let lost = entries_lost || !outcome.left_out.is_empty();
        p.extend(exit_problems(
            "triage redact",
            &r,
            &[0, 2],
            Some(if lost { 2 } else { 0 }),
        ));
        // With no entry read (before the break, or besides those triage cannot read), the
        // binary writes nothing (an empty HAR in place of what the output held would destroy
        // it for nothing).
        let expected = (!entries_lost || outcome.entries > 0).then_some(&out);
        if std::fs::read(&out_path).ok().as_ref() != expected {
            p.push("triage redact: the binary's output differs from redact_har's".into());
        }
    }
    p
}

#[test]
fn har_files() {
    run_cases("har_files", 24, 24, CASE_LIMIT, gen_har, check_har);
}

// ---------------------------------------------------------------------------------------------
// Recordings.

struct RecordingBase {
    name: String,
    /// The records' lines, without their line breaks.
    lines: Vec<Vec<u8>>,
    /// What each line reads as.
    seen: Vec<Seen>,
}

/// Recordings of the fixtures' HAR exchanges, as `triage proxy --record` writes them.
fn recording_bases() -> &'static [RecordingBase] {
    static BASES: OnceLock<Vec<RecordingBase>> = OnceLock::new();
    BASES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        har_bases()
            .iter()
            .map(|base| {
                let har = dir.path().join("base.har");
                std::fs::write(&har, emit(&base.value, Style::COMPACT, &[], &[]).0).unwrap();
                let exchanges = read(&har, &kind(InputKind::Har)).exchanges;
                let rec = dir.path().join(format!("{}.jsonl", exchanges.len()));
                let _ = std::fs::remove_file(&rec);
                let recorder = triage::record::Recorder::open(&rec).unwrap();
                for (i, ex) in exchanges.iter().enumerate() {
                    recorder
                        .append(ex, &[json!({"rule": "fuzz", "n": i})])
                        .unwrap();
                }
                drop(recorder);
                let bytes = std::fs::read(&rec).unwrap();
                let lines: Vec<Vec<u8>> = bytes
                    .strip_suffix(b"\n")
                    .unwrap_or(&bytes)
                    .split(|&b| b == b'\n')
                    .map(<[u8]>::to_vec)
                    .collect();
                let r = read(&rec, &kind(InputKind::Recording));
                assert!(
                    r.error.is_none() && r.summary.skipped.is_empty(),
                    "{} recorded",
                    base.name
                );
                assert_eq!(lines.len(), r.exchanges.len(), "one line per record");
                RecordingBase {
                    name: format!("recording of {}", base.name),
                    lines,
                    seen: r.exchanges.iter().map(seen).collect(),
                }
            })
            .collect()
    })
}

/// A line of a recording being damaged: its bytes, and the record it still is whole, if so.
#[derive(Clone)]
struct Line {
    bytes: Vec<u8>,
    record: Option<usize>,
}

struct RecordingExtra {
    base: usize,
    /// Per line of the input (from 1, as the reader counts them): the record it holds whole.
    lines: Vec<Option<usize>>,
    /// Lines holding nothing but white space.
    blank: BTreeSet<usize>,
}

/// Damages one line's record as JSON; `None` when the line is no JSON to damage.
fn damage_record_json(rng: &mut Rng, line: &[u8]) -> Option<(Vec<u8>, String)> {
    let mut v: Value = serde_json::from_slice(line).ok()?;
    let (mut dups, mut raws) = (Vec::new(), Vec::new());
    let s = damage_structure(rng, &mut v, &mut dups, &mut raws)?;
    let (bytes, _) = emit(&v, Style::COMPACT, &dups, &raws);
    // Lines stay lines.
    (!bytes.contains(&b'\n')).then_some((bytes, s.desc))
}

fn gen_recording(rng: &mut Rng, binary: bool) -> Case<RecordingExtra> {
    let bases = recording_bases();
    let b = rng.below(bases.len());
    let base = &bases[b];
    let mut desc = vec![base.name.clone()];
    let mut lines: Vec<Line> = base
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| Line {
            bytes: l.clone(),
            record: Some(i),
        })
        .collect();
    let mut cut = false;
    let mutations = if rng.one_in(5) { 0 } else { rng.range(1, 3) };
    for _ in 0..mutations {
        let len = lines.len();
        let j = rng.below(len.max(1));
        match rng.below(9) {
            0 if len > 0 => {
                lines.remove(j);
                desc.push(format!("line {} deleted", j + 1));
            }
            1 if len > 0 => {
                let l = lines[j].clone();
                lines.insert(j, l);
                desc.push(format!("line {} repeated", j + 1));
            }
            2 if len > 1 => {
                let k = rng.below(len);
                lines.swap(j, k);
                desc.push(format!("lines {} and {} swapped", j + 1, k + 1));
            }
            3 => {
                let junk = match rng.below(6) {
                    0 => br#"{"v":1,"x":2}"#.to_vec(),
                    1 => br#"{"v":2,"seq":1,"time":"2026-03-01T10:00:00Z"}"#.to_vec(),
                    2 => b"not json at all".to_vec(),
                    3 => br#"{"v":1,"seq":1,"time":"x","origin":"live","request":{"method":"G ET","path":"/","upstream":"api"},"response":null}"#.to_vec(),
                    4 => {
                        let n = rng.range(1, 40);
                        rng.bytes(n).into_iter().filter(|&b| b != b'\n').collect()
                    }
                    _ => br#"[1,2,3]"#.to_vec(),
                };
                desc.push(format!(
                    "{} inserted before line {}",
                    short(String::from_utf8_lossy(&junk)),
                    j + 1
                ));
                lines.insert(
                    j.min(len),
                    Line {
                        bytes: junk,
                        record: None,
                    },
                );
            }
            4 => {
                let ws = rng.pick(&[&b""[..], b"  ", b"\t", b"\r"]);
                lines.insert(
                    j.min(len),
                    Line {
                        bytes: ws.to_vec(),
                        record: None,
                    },
                );
                desc.push(format!(
                    "blank line {:?} inserted before line {}",
                    String::from_utf8_lossy(ws),
                    j + 1
                ));
            }
            5 if len > 0 && !lines[j].bytes.is_empty() => {
                let l = &mut lines[j];
                let at = rng.below(l.bytes.len());
                let new = rng.pick(&[
                    b'{', b'}', b'"', b',', b':', b'\\', 0, 0xff, b'x', b'\r', b' ',
                ]);
                let old = std::mem::replace(&mut l.bytes[at], new);
                if old != new {
                    l.record = None;
                }
                desc.push(format!("line {} byte {at} {old:#04x} -> {new:#04x}", j + 1));
            }
            6 if len > 0 => {
                if let Some((bytes, d)) = damage_record_json(rng, &lines[j].bytes) {
                    lines[j] = Line {
                        bytes,
                        record: None,
                    };
                    desc.push(format!("line {}: {d}", j + 1));
                }
            }
            7 if len > 1 && j + 1 < len => {
                let next = lines.remove(j + 1);
                let l = &mut lines[j];
                l.bytes.extend_from_slice(&next.bytes);
                l.record = None;
                desc.push(format!("lines {} and {} joined", j + 1, j + 2));
            }
            _ => {
                cut = true;
            }
        }
    }
    // The text, CRLF or not, with a final line break or not, maybe with a BOM.
    let crlf = rng.one_in(4);
    let final_break = !rng.one_in(5);
    let bom = rng.one_in(6);
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    if bom {
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    for (i, l) in lines.iter().enumerate() {
        bytes.extend_from_slice(&l.bytes);
        ends.push(bytes.len());
        if i + 1 < lines.len() || final_break {
            bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
    }
    for (on, what) in [
        (crlf, "CRLF"),
        (!final_break, "no final line break"),
        (bom, "a BOM"),
    ] {
        if on {
            desc.push(what.to_owned());
        }
    }
    if cut {
        let at = rng.below(bytes.len() + 1);
        desc.push(format!("cut at byte {at} of {}", bytes.len()));
        bytes.truncate(at);
        let mut kept = Vec::new();
        if bom && (1..3).contains(&at) {
            // Part of a BOM is no BOM: a line of damage.
            kept.push(Line {
                bytes: bytes.clone(),
                record: None,
            });
        }
        for (i, l) in lines.iter().enumerate() {
            let start = ends[i] - l.bytes.len();
            if ends[i] <= at {
                kept.push(l.clone());
            } else if start < at {
                kept.push(Line {
                    bytes: bytes[start..].to_vec(),
                    record: None,
                });
            }
        }
        lines = kept;
    }
    // Line numbers as the reader counts them: a lone `\r` ends no line.
    let mut line_records = Vec::new();
    let mut blank = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        line_records.push(l.record);
        if l.bytes.trim_ascii().is_empty() {
            blank.insert(i + 1);
        }
    }
    Case {
        desc: desc.join("; "),
        bytes,
        ext: "jsonl",
        binary,
        extra: RecordingExtra {
            base: b,
            lines: line_records,
            blank,
        },
    }
}

fn check_recording(case: &Case<RecordingExtra>, env: &Env) -> Vec<String> {
    let x = &case.extra;
    let base = &recording_bases()[x.base];
    let mut p = Vec::new();
    let got = read(&env.file, &kind(InputKind::Recording));
    if let Some(e) = &got.open_error {
        return vec![format!("opening with --input recording failed: {e}")];
    }
    let yielded: Vec<Seen> = got.exchanges.iter().map(seen).collect();
    // Every whole line is read, in order.
    let mut from = 0;
    for (i, rec) in x.lines.iter().enumerate() {
        let Some(r) = rec else { continue };
        match yielded[from..].iter().position(|s| *s == base.seen[*r]) {
            Some(k) => from += k + 1,
            None => p.push(format!(
                "nothing lost: line {}, record {} of {} unchanged, was not read (in order)\n  expected: {}\n       got: {} exchanges read",
                i + 1,
                r + 1,
                base.name,
                short(&base.seen[*r].core),
                yielded.len()
            )),
        }
    }
    let non_blank = x.lines.len() - x.blank.len();
    if yielded.len() > non_blank {
        p.push(format!(
            "{} exchanges read from {non_blank} lines",
            yielded.len()
        ));
    }
    // Every line not read is named, and no whole line is.
    let skipped = got.summary.skipped_total();
    if skipped + yielded.len() < non_blank {
        p.push(format!(
            "lines unaccounted for: {non_blank} lines, {} read, {skipped} named as skipped ({})",
            yielded.len(),
            ingest::skipped_text(&got.summary.skipped)
        ));
    }
    for (reason, s) in &got.summary.skipped {
        for place in &s.places {
            let line: usize = place
                .strip_prefix("line ")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            match x.lines.get(line.wrapping_sub(1)) {
                None => p.push(format!(
                    "skipped place {place:?} ({reason}) is no line of the file"
                )),
                Some(Some(r)) => p.push(format!(
                    "line {line} is record {} whole, yet named as skipped ({reason})",
                    r + 1
                )),
                Some(None) if x.blank.contains(&line) => {
                    p.push(format!("blank line {line} named as skipped ({reason})"))
                }
                Some(None) => {}
            }
        }
    }
    // No record at all is an input error naming the file; anything read is none.
    match (&got.error, yielded.is_empty() && non_blank > 0) {
        (None, false) => {}
        (Some(e), true) => {
            p.extend(position_problems(e, &env.file, &case.bytes));
            if !e.to_string().contains("no line could be read") {
                p.push(format!("the error does not say no line could be read: {e}"));
            }
        }
        (e, _) => p.push(format!(
            "input error\n  expected: {}\n       got: {}",
            if yielded.is_empty() && non_blank > 0 {
                "one (no line is a record)"
            } else {
                "none"
            },
            short(e.as_ref().map(ToString::to_string))
        )),
    }
    // The report counts and names the same.
    let report = explain(&[&env.file], &kind(InputKind::Recording));
    let t = &report.totals;
    if t.exchanges + t.other_hosts != yielded.len() || t.skipped != skipped {
        p.push(format!(
            "the report's totals\n  expected: {} exchanges (with other hosts), {skipped} skipped\n       got: {} + {} other hosts, {} skipped",
            yielded.len(),
            t.exchanges,
            t.other_hosts,
            t.skipped
        ));
    }
    if report.errors.len() != usize::from(got.error.is_some()) {
        p.push(format!("the report's errors: {}", short(&report.errors)));
    }
    if case.binary {
        p.extend(binary_explain(&env.file, &[], &ReadOptions::default()));
        // `triage export --har` reads the same lines, and writes nothing when none is a record.
        let out = env.dir.join("export.har");
        let r = triage_bin(&os(&[&"export", &"--har", &out, &env.file]));
        let want = if yielded.is_empty() || got.error.is_some() {
            2
        } else {
            0
        };
        p.extend(exit_problems("triage export", &r, &[0, 2], Some(want)));
        match std::fs::read(&out) {
            Ok(b) if want == 0 => {
                let entries = serde_json::from_slice::<Value>(&b).ok().and_then(|h| {
                    h.pointer("/log/entries")
                        .and_then(Value::as_array)
                        .map(Vec::len)
                });
                if entries != Some(yielded.len()) {
                    p.push(format!(
                        "triage export: entries\n  expected: {}\n       got: {entries:?}",
                        yielded.len()
                    ));
                }
                // Explained, the export gives the recording's diagnoses.
                let records = |r: Report| -> Vec<Value> {
                    anonymous(r)["records"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                };
                let want = records(explain(&[&env.file], &kind(InputKind::Recording)));
                let got = records(explain(&[&out], &kind(InputKind::Har)));
                if want != got {
                    p.push(format!(
                        "triage export: explained, the export differs from the recording\n  expected: {}\n       got: {}",
                        short(&want),
                        short(&got)
                    ));
                }
            }
            Ok(_) => p.push("triage export: wrote a HAR though nothing was read".into()),
            Err(_) if want == 0 => p.push("triage export: wrote nothing".into()),
            Err(_) => {}
        }
    }
    p
}

#[test]
fn recordings() {
    run_cases(
        "recordings",
        30,
        30,
        CASE_LIMIT,
        gen_recording,
        check_recording,
    );
}

// ---------------------------------------------------------------------------------------------
// `curl -i` and `curl -v` transcripts.

/// What a transcript says, to compare with what is read of it.
#[derive(Debug, Clone, PartialEq)]
struct Said {
    /// `None` when neither the transcript nor a flag gives it.
    method: Option<String>,
    path: Option<String>,
    query: Option<String>,
    status: u16,
    /// Without `\r`, trailing white space trimmed.
    body: Vec<u8>,
}

fn normal_body(b: &[u8]) -> Vec<u8> {
    let b: Vec<u8> = b.iter().copied().filter(|&c| c != b'\r').collect();
    b.trim_ascii_end().to_vec()
}

fn said(ex: &Exchange) -> Said {
    let r = &ex.request;
    Said {
        method: r.method_known().then(|| r.method.as_str().to_owned()),
        path: r.path_known().then(|| r.path.clone()),
        query: r.query.clone(),
        status: ex.status().unwrap_or(0),
        body: normal_body(
            &ex.response
                .as_ref()
                .map(|x| x.body.bytes.to_vec())
                .unwrap_or_default(),
        ),
    }
}

/// One exchange to write as a transcript.
#[derive(Clone)]
struct Transcript {
    method: String,
    url: String,
    host: String,
    target: String,
    request_headers: Vec<(String, String)>,
    request_body: String,
    status: u16,
    reason: String,
    response_headers: Vec<(String, String)>,
    body: String,
}

/// The failed exchanges of the HAR fixtures with a text body, as transcripts.
fn transcripts() -> &'static [Transcript] {
    static T: OnceLock<Vec<Transcript>> = OnceLock::new();
    T.get_or_init(|| {
        let mut out = Vec::new();
        for base in har_bases() {
            for e in base
                .value
                .pointer("/log/entries")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let s = |p: &str| e.pointer(p).and_then(Value::as_str).map(str::to_owned);
                let (Some(method), Some(url), Some(status)) = (
                    s("/request/method"),
                    s("/request/url"),
                    e.pointer("/response/status").and_then(Value::as_u64),
                ) else {
                    continue;
                };
                let Some(rest) = url.strip_prefix("https://") else {
                    continue;
                };
                if status < 400 || e.pointer("/response/content/encoding").is_some() {
                    continue;
                }
                let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let headers = |p: &str| -> Vec<(String, String)> {
                    e.pointer(p)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|h| {
                            Some((
                                h["name"].as_str()?.to_owned(),
                                h["value"].as_str()?.to_owned(),
                            ))
                        })
                        .filter(|(n, _)| {
                            !n.starts_with(':')
                                && ![
                                    "content-length",
                                    "content-encoding",
                                    "transfer-encoding",
                                    "host",
                                ]
                                .contains(&n.to_ascii_lowercase().as_str())
                        })
                        .collect()
                };
                out.push(Transcript {
                    method,
                    url: url.clone(),
                    host: host.to_owned(),
                    target: if target.is_empty() {
                        "/".into()
                    } else {
                        target.to_owned()
                    },
                    request_headers: headers("/request/headers"),
                    request_body: s("/request/postData/text").unwrap_or_default(),
                    status: status as u16,
                    reason: s("/response/statusText").unwrap_or_default(),
                    response_headers: headers("/response/headers"),
                    body: s("/response/content/text").unwrap_or_default(),
                });
            }
        }
        assert!(
            out.len() >= 5,
            "failed exchanges with text bodies in the fixtures"
        );
        out
    })
}

struct CurlExtra {
    opts: ReadOptions,
    flags: Vec<String>,
    /// What the undamaged transcript says; `None` once it is damaged.
    want: Option<Said>,
}

fn gen_curl(rng: &mut Rng, binary: bool) -> Case<CurlExtra> {
    let mut desc = Vec::new();
    let mut opts = kind(InputKind::Curl);
    let mut flags = vec!["--input".to_owned(), "curl".to_owned()];
    let (mut text, want): (Vec<u8>, Said) = if rng.one_in(5) {
        let rel = rng.pick(&["curl/conflict.txt", "curl/verbose.txt"]);
        desc.push(rel.to_owned());
        let bytes = std::fs::read(fixture(rel)).unwrap();
        let ex = ingest::read(&fixture(rel), &opts)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        (bytes, said(&ex))
    } else {
        let t = rng.pick(transcripts());
        let (path, query) = match t.target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (t.target.clone(), None),
        };
        let mut want = Said {
            method: Some(t.method.clone()),
            path: Some(path),
            query,
            status: t.status,
            body: normal_body(t.body.as_bytes()),
        };
        // Line breaks: curl's (CRLF in the head), all LF (pasted), or all CRLF.
        let (head_nl, body_crlf) = match rng.below(3) {
            0 => ("\r\n", false),
            1 => ("\n", false),
            _ => ("\r\n", true),
        };
        let upper = rng.one_in(4);
        let odd_space = rng.one_in(3);
        let name = |n: &str| {
            if upper {
                n.to_ascii_uppercase()
            } else {
                n.to_owned()
            }
        };
        let header = |n: &str, v: &str, pre: &str| {
            let sep = if odd_space { ":   " } else { ": " };
            let trail = if odd_space { " \t" } else { "" };
            format!("{pre}{}{sep}{v}{trail}{head_nl}", name(n))
        };
        let reason = if t.reason.is_empty() || rng.one_in(4) {
            String::new()
        } else {
            format!(" {}", t.reason)
        };
        let status_line = if odd_space {
            format!("HTTP/1.1  {}  {reason}{head_nl}", t.status)
        } else {
            format!(
                "{} {}{reason}{head_nl}",
                rng.pick(&["HTTP/1.1", "HTTP/2", "HTTP/1.0"]),
                t.status
            )
        };
        let body = if body_crlf {
            t.body.replace('\n', "\r\n")
        } else {
            t.body.clone()
        };
        let mut s = String::new();
        let style = rng.below(4);
        match style {
            // `curl -i` with the command line above it.
            0 => {
                let prompt = rng.pick(&["$ ", "% ", ""]);
                s += &format!("{prompt}curl -i -X {} '{}'{head_nl}", t.method, t.url);
                if rng.one_in(3) {
                    s += &format!("HTTP/1.1 100 Continue{head_nl}{head_nl}");
                    desc.push("a 100 Continue first".into());
                }
                s += &status_line;
                for (n, v) in &t.response_headers {
                    s += &header(n, v, "");
                }
                s += head_nl;
                s += &body;
            }
            // `curl -v`: the request and the response prefixed, notes around.
            1 => {
                s += &format!("*   Trying 52.1.2.3:443...{head_nl}* Connected to {} (52.1.2.3) port 443{head_nl}", t.host);
                s += &format!("> {} {} HTTP/1.1{head_nl}", t.method, t.target);
                s += &header("Host", &t.host, "> ");
                for (n, v) in &t.request_headers {
                    s += &header(n, v, "> ");
                }
                s += &format!(">{head_nl}");
                s += &format!("< {status_line}");
                for (n, v) in &t.response_headers {
                    s += &header(n, v, "< ");
                }
                s += &format!("<{head_nl}");
                s += &body;
                if rng.one_in(2) {
                    s += &format!(
                        "{head_nl}* Connection #0 to host {} left intact{head_nl}",
                        t.host
                    );
                    desc.push("curl's closing note".into());
                }
            }
            // A pasted request, then the response.
            2 => {
                s += &format!("{} {} HTTP/1.1{head_nl}", t.method, t.target);
                s += &header("Host", &t.host, "");
                for (n, v) in &t.request_headers {
                    s += &header(n, v, "");
                }
                s += head_nl;
                if !t.request_body.is_empty() {
                    s += &t.request_body;
                    s += head_nl;
                    s += head_nl;
                }
                s += &status_line;
                for (n, v) in &t.response_headers {
                    s += &header(n, v, "");
                }
                s += head_nl;
                s += &body;
            }
            // The response alone, the request given by flags or not at all.
            _ => {
                s += &status_line;
                for (n, v) in &t.response_headers {
                    s += &header(n, v, "");
                }
                s += head_nl;
                s += &body;
                if rng.one_in(2) {
                    opts.method = Some(t.method.parse().unwrap());
                    opts.path = Some(t.target.clone());
                    flags.extend([
                        "--method".into(),
                        t.method.clone(),
                        "--path".into(),
                        t.target.clone(),
                    ]);
                    desc.push("--method and --path given".into());
                } else {
                    want.method = None;
                    want.path = None;
                    want.query = None;
                }
            }
        }
        desc.insert(
            0,
            format!(
                "{} {} -> {} as {}, {}{}{}",
                t.method,
                t.url,
                t.status,
                [
                    "curl -i with its command",
                    "curl -v",
                    "a pasted request and response",
                    "the response alone"
                ][style],
                match (head_nl, body_crlf) {
                    ("\n", _) => "LF",
                    (_, false) => "CRLF head",
                    _ => "CRLF",
                },
                if upper { ", upper-case names" } else { "" },
                if odd_space { ", odd spacing" } else { "" },
            ),
        );
        (s.into_bytes(), want)
    };
    if rng.one_in(4) {
        text.splice(0..0, *b"\n\r\n  \n");
        desc.push("blank lines first".into());
    }
    if rng.one_in(3) {
        desc.push(pasted_from_an_email(rng, &mut text));
    }
    if rng.one_in(4) {
        text.splice(0..0, *b"\xEF\xBB\xBF");
        desc.push("a BOM".into());
    }
    let mut damaged = false;
    if !rng.one_in(3) {
        for _ in 0..rng.range(1, 2) {
            let d = if rng.one_in(3) {
                damage_lines(rng, &mut text)
            } else {
                damage_bytes(rng, &mut text, false)
            };
            desc.push(format!("damage: {d}"));
        }
        damaged = true;
    }
    Case {
        desc: desc.join("; "),
        bytes: text,
        ext: "txt",
        binary,
        extra: CurlExtra {
            opts,
            flags,
            want: (!damaged).then_some(want),
        },
    }
}

/// Indents every line of a transcript alike, or quotes it as an email reply does (`> `, a
/// blank line `>`), once or twice, either way round; returns what it did.
fn pasted_from_an_email(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    let mut did = Vec::new();
    for _ in 0..rng.range(1, 2) {
        let quote = rng.one_in(2);
        let indent = rng.pick(&["  ", "    ", "\t", " \t"]);
        let mut out = Vec::with_capacity(text.len() * 2);
        for line in text.split_inclusive(|&b| b == b'\n') {
            let blank = line.iter().all(u8::is_ascii_whitespace);
            match (quote, blank) {
                (true, true) => out.push(b'>'),
                (true, false) => out.extend_from_slice(b"> "),
                (false, true) => {}
                (false, false) => out.extend_from_slice(indent.as_bytes()),
            }
            out.extend_from_slice(line);
        }
        *text = out;
        did.push(if quote {
            "quoted with > ".to_owned()
        } else {
            format!("indented by {indent:?}")
        });
    }
    format!("pasted from an email: {}", did.join(", then "))
}

/// Deletes, repeats or swaps lines of a text; returns what it did.
fn damage_lines(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let j = rng.below(lines.len());
    let d = match rng.below(3) {
        0 => {
            lines.remove(j);
            format!("line {} deleted", j + 1)
        }
        1 => {
            let l = lines[j].clone();
            lines.insert(j, l);
            format!("line {} repeated", j + 1)
        }
        _ => {
            let k = rng.below(lines.len());
            lines.swap(j, k);
            format!("lines {} and {} swapped", j + 1, k + 1)
        }
    };
    *text = lines.join(&b'\n');
    d
}

fn check_curl(case: &Case<CurlExtra>, env: &Env) -> Vec<String> {
    let x = &case.extra;
    let mut p = Vec::new();
    let got = read(&env.file, &x.opts);
    if let Some(e) = &got.open_error {
        return vec![format!("opening with --input curl failed: {e}")];
    }
    if got.exchanges.len() + usize::from(got.error.is_some()) != 1 {
        p.push(format!(
            "one exchange or one error\n  expected: 1\n       got: {} exchanges, error {:?}",
            got.exchanges.len(),
            got.error.as_ref().map(ToString::to_string)
        ));
    }
    if let Some(e) = &got.error {
        p.extend(position_problems(e, &env.file, &case.bytes));
    }
    if let Some(want) = &x.want {
        match got.exchanges.first() {
            None => p.push(format!(
                "a well-formed transcript is an input error: {}",
                short(got.error.as_ref().map(ToString::to_string))
            )),
            Some(ex) => {
                let s = said(ex);
                if s != *want {
                    p.push(format!(
                        "what is read\n  expected: {}\n       got: {}",
                        short(want),
                        short(&s)
                    ));
                }
            }
        }
    }
    let report = explain(&[&env.file], &x.opts);
    if report.errors.len() != usize::from(got.error.is_some()) {
        p.push(format!("the report's errors: {}", short(&report.errors)));
    }
    if case.binary {
        let flags: Vec<&str> = x.flags.iter().map(String::as_str).collect();
        p.extend(binary_explain(&env.file, &flags, &x.opts));
    }
    p
}

#[test]
fn curl_transcripts() {
    run_cases("curl_transcripts", 50, 50, CASE_LIMIT, gen_curl, check_curl);
}

// ---------------------------------------------------------------------------------------------
// Bare JSON error bodies.

/// The JSON error bodies of the fixtures: the bare ones and those of the HAR files' failures.
fn json_bodies() -> &'static [(String, Value)] {
    static B: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    B.get_or_init(|| {
        let mut out = Vec::new();
        for rel in ["json/429.json", "json/oauth.json"] {
            out.push((
                rel.to_owned(),
                serde_json::from_slice(&std::fs::read(fixture(rel)).unwrap()).unwrap(),
            ));
        }
        for t in transcripts() {
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&t.body) {
                out.push((
                    format!("the body of {} {} -> {}", t.method, t.url, t.status),
                    v,
                ));
            }
        }
        out
    })
}

struct JsonExtra {
    opts: ReadOptions,
    flags: Vec<String>,
    /// The body as JSON, when it still is (after any damage).
    value: Option<Value>,
}

fn gen_json(rng: &mut Rng, binary: bool) -> Case<JsonExtra> {
    let (name, mut v) = rng.pick(json_bodies());
    let mut desc = vec![name];
    let mut opts = kind(InputKind::JsonBody);
    let mut flags = vec!["--input".to_owned(), "json".to_owned()];
    if rng.one_in(3) || v.get("status").is_none() && !rng.one_in(4) {
        let s = rng.pick(&[400u16, 401, 409, 429, 503]);
        opts.status = Some(s);
        flags.extend(["--status".into(), s.to_string()]);
        desc.push(format!("--status {s}"));
    }
    if rng.one_in(3) {
        opts.method = Some(http::Method::POST);
        opts.path = Some("/api/v2/conversations/messages/agentless".into());
        flags.extend(
            [
                "--method",
                "POST",
                "--path",
                "/api/v2/conversations/messages/agentless",
            ]
            .map(str::to_owned),
        );
        desc.push("--method and --path given".into());
    }
    let (mut dups, mut raws) = (Vec::new(), Vec::new());
    let mut parses = true;
    match rng.below(6) {
        0 => {
            let new = rng.pick(&[
                json!("409"),
                json!(409.0),
                json!(-1),
                json!(1e10),
                json!(null),
                json!([409]),
                json!("abc"),
                json!(99),
                json!(1000),
                json!(0),
                json!(" 429 "),
            ]);
            desc.push(format!("status: {new}"));
            v["status"] = new;
        }
        1 => {
            if let Some(s) = damage_structure(rng, &mut v, &mut dups, &mut raws) {
                parses = s.parses;
                desc.push(format!("damage: {}", s.desc));
            }
        }
        _ => {}
    }
    let (style, sd) = Style::random(rng);
    desc.push(format!("written {sd}"));
    let (mut bytes, _) = emit(&v, style, &dups, &raws);
    if rng.one_in(4) {
        bytes.splice(0..0, *b"\xEF\xBB\xBF");
        desc.push("a BOM".into());
    }
    match rng.below(4) {
        0 => {
            desc.push(format!("damage: {}", damage_bytes(rng, &mut bytes, false)));
            parses = false;
        }
        1 if rng.one_in(3) => {
            bytes = rng
                .pick(&[
                    &b"<html><body><h1>502 Bad Gateway</h1></body></html>"[..],
                    b"Bad Gateway",
                    b"",
                    b"   \n",
                ])
                .to_vec();
            desc.push(format!("replaced by {:?}", String::from_utf8_lossy(&bytes)));
            parses = false;
        }
        _ => {}
    }
    // What the file says, as JSON: the reader's verdict is checked against it.
    let value = parses
        .then(|| {
            serde_json::from_slice::<Value>(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
                .ok()
        })
        .flatten();
    Case {
        desc: desc.join("; "),
        bytes,
        ext: "json",
        binary,
        extra: JsonExtra { opts, flags, value },
    }
}

fn check_json(case: &Case<JsonExtra>, env: &Env) -> Vec<String> {
    let x = &case.extra;
    let mut p = Vec::new();
    let got = read(&env.file, &x.opts);
    if let Some(e) = &got.open_error {
        return vec![format!("opening with --input json failed: {e}")];
    }
    if let Some(e) = &got.error {
        p.extend(position_problems(e, &env.file, &case.bytes));
    }
    if let Some(v) = &x.value {
        // The status is the flag's, else the body's `status` as a number or numeric string.
        let field = v.get("status");
        let from_body = field.and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|s| s.trim().parse().ok()))
        });
        let want = x
            .opts
            .status
            .map(u64::from)
            .or(from_body)
            .filter(|s| (100..=999).contains(s));
        match (want, got.exchanges.first(), &got.error) {
            (Some(s), Some(ex), None) => {
                if u64::from(ex.status().unwrap_or(0)) != s {
                    p.push(format!(
                        "status\n  expected: {s}\n       got: {:?}",
                        ex.status()
                    ));
                }
                let body = &ex.response.as_ref().unwrap().body.bytes;
                let stripped = case
                    .bytes
                    .strip_prefix(b"\xEF\xBB\xBF")
                    .unwrap_or(&case.bytes);
                if body[..] != stripped[..body.len().min(stripped.len())] {
                    p.push("the body read is not the file's".into());
                }
            }
            (None, None, Some(e)) => {
                let msg = e.to_string();
                if let Some(f) = field.filter(|_| msg.contains("has no \"status\" field")) {
                    p.push(format!(
                        "the body has a \"status\" field ({f}), yet the error says it has none: {msg}"
                    ));
                }
            }
            (w, ex, e) => p.push(format!(
                "outcome\n  expected: {}\n       got: {}",
                match w {
                    Some(s) => format!("an exchange with status {s}"),
                    None => "an input error (no usable status)".into(),
                },
                match (ex, e) {
                    (Some(ex), _) => format!("an exchange with status {:?}", ex.status()),
                    (None, Some(e)) => format!("the error {e}"),
                    (None, None) => "nothing".into(),
                }
            )),
        }
    } else if got.error.is_none() && got.exchanges.is_empty() {
        p.push("neither an exchange nor an error".into());
    }
    let report = explain(&[&env.file], &x.opts);
    if report.errors.len() != usize::from(got.error.is_some()) {
        p.push(format!("the report's errors: {}", short(&report.errors)));
    }
    if case.binary {
        let flags: Vec<&str> = x.flags.iter().map(String::as_str).collect();
        p.extend(binary_explain(&env.file, &flags, &x.opts));
    }
    p
}

#[test]
fn json_bodies_pasted() {
    run_cases(
        "json_bodies_pasted",
        50,
        50,
        CASE_LIMIT,
        gen_json,
        check_json,
    );
}

// ---------------------------------------------------------------------------------------------
// Rule files.

/// A small rule file of a user's own (as tests/rules_cli.rs writes one).
const USER_RULE: &str = r#"version = 1

[[rules]]
id = "user-rate-limited"
title = "Our own rate limit rule"
severity = "info"
sources = ["F429"]
cause = "slow down"
fix = "wait {secs}s"
when = { status = 429, response_header = { name = "retry-after", capture = "secs" } }

[[rules.examples]]
name = "hit"
expect = "match"
cause = "slow down"
fix = "wait 7s"
request = { method = "GET", path = "/api/v2/x" }
response = { status = 429, headers = { "retry-after" = "7" } }

[[rules.examples]]
name = "miss"
expect = "no-match"
request = { method = "GET", path = "/api/v2/x" }
response = { status = 429 }
"#;

/// The built-in rule files and a user's, each loadable alone.
fn rule_bases() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = triage::rules::BUILTIN
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect();
    out.push(("a user's rule file".to_owned(), USER_RULE.to_owned()));
    out
}

struct RulesExtra {
    /// A second, good file beside the damaged one.
    with_good_file: bool,
}

/// A line `key = value`'s value replaced; `None` when the line is no such line.
fn replace_value(line: &str, new: &str) -> Option<String> {
    let (key, _) = line.split_once(" = ")?;
    (!key.trim_start().starts_with(['#', '['])).then(|| format!("{key} = {new}"))
}

fn gen_rules(rng: &mut Rng, binary: bool) -> Case<RulesExtra> {
    let bases = rule_bases();
    let (name, text) = rng.pick(&bases);
    let mut desc = vec![name];
    let mut bytes = text.into_bytes();
    for _ in 0..rng.range(0, 3) {
        let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        let j = rng.below(lines.len());
        let line = String::from_utf8_lossy(&lines[j]).into_owned();
        let d = match rng.below(10) {
            0 => damage_lines(rng, &mut bytes),
            1 => damage_bytes(rng, &mut bytes, false),
            2 => damage_bytes(rng, &mut bytes, true),
            3 | 4 => {
                let new = match rng.below(9) {
                    0 => "42".to_owned(),
                    1 => "\"x\"".to_owned(),
                    2 => "[]".to_owned(),
                    3 => "{}".to_owned(),
                    4 => "true".to_owned(),
                    5 => "1979-05-27T07:32:00Z".to_owned(),
                    6 => format!("\"{}\"", "a".repeat(rng.pick(&[1000, 100_000]))),
                    7 => {
                        let depth = rng.pick(&[10, 100, 1000, 100_000]);
                        String::from_utf8(nested(depth, false)).unwrap()
                    }
                    _ => "{ a = { b = { c = [1, \"2\", { d = 3 }] } } }".to_owned(),
                };
                match replace_value(&line, &new) {
                    Some(l) => {
                        lines[j] = l.into_bytes();
                        bytes = lines.join(&b'\n');
                        format!("line {}: value -> {}", j + 1, short(&new))
                    }
                    None => continue,
                }
            }
            5 => {
                // A rule written twice: the same id twice.
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let starts: Vec<usize> =
                    text.match_indices("[[rules]]\n").map(|(i, _)| i).collect();
                if starts.is_empty() {
                    continue;
                }
                let k = rng.below(starts.len());
                let end = starts.get(k + 1).copied().unwrap_or(text.len());
                let block = text[starts[k]..end].to_owned();
                bytes = format!("{text}\n{block}").into_bytes();
                format!("rule {} of the file written again at its end", k + 1)
            }
            6 => match line.trim_start().strip_prefix("id = ") {
                Some(_) => {
                    let bad = rng.pick(&["\"Bad_Id\"", "\"\"", "\"a--b\"", "7"]);
                    lines[j] = format!("id = {bad}").into_bytes();
                    bytes = lines.join(&b'\n');
                    format!("line {}: id = {bad}", j + 1)
                }
                None => continue,
            },
            7 => match line.split_once(" = ") {
                Some((k, v)) if !k.trim_start().starts_with(['#', '[']) => {
                    lines[j] = format!("{k}x = {v}").into_bytes();
                    bytes = lines.join(&b'\n');
                    format!("line {}: key {}x, unknown", j + 1, k.trim())
                }
                _ => continue,
            },
            8 if rng.one_in(2) => {
                bytes = lf_to_crlf(&bytes);
                "CRLF".to_owned()
            }
            8 => {
                // As an editor on Windows may save it.
                bytes.splice(0..0, *b"\xEF\xBB\xBF");
                "a BOM".to_owned()
            }
            _ => {
                let ins = rng.pick(&[&b"\xff"[..], b"\xc3", b"\xed\xa0\x80"]);
                let at = lines[j].len().min(rng.below(lines[j].len() + 1));
                lines[j].splice(at..at, ins.iter().copied());
                bytes = lines.join(&b'\n');
                format!("line {}: {:x?} inserted at column {}", j + 1, ins, at + 1)
            }
        };
        desc.push(d);
    }
    let with_good_file = rng.one_in(3);
    if with_good_file {
        desc.push("beside a good file".into());
    }
    Case {
        desc: desc.join("; "),
        bytes,
        ext: "toml",
        binary,
        extra: RulesExtra { with_good_file },
    }
}

/// The id of the rule whose `[[rules]]` block holds `line` (from 1), when the block has one
/// readable `id = "…"` line.
fn rule_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = line.checked_sub(1)?.min(lines.len().checked_sub(1)?);
    let start = (0..=at).rev().find(|&i| lines[i].trim() == "[[rules]]")?;
    let end = (start + 1..lines.len())
        .find(|&i| lines[i].trim() == "[[rules]]")
        .unwrap_or(lines.len());
    let ids: Vec<&str> = lines[start + 1..end]
        .iter()
        .filter_map(|l| {
            let v = l
                .trim()
                .strip_prefix("id")?
                .trim_start()
                .strip_prefix('=')?
                .trim();
            let v = v.strip_prefix('"')?.strip_suffix('"')?;
            (!v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
            .then_some(v)
        })
        .collect();
    match ids.as_slice() {
        [id] => Some((*id).to_owned()),
        _ => None,
    }
}

fn check_rules(case: &Case<RulesExtra>, env: &Env) -> Vec<String> {
    let mut p = Vec::new();
    // The rules directory: the damaged file, and maybe a good one beside it.
    let dir = env.dir.join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("damaged.toml");
    std::fs::write(&file, &case.bytes).unwrap();
    let good = dir.join("zz-good.toml");
    if case.extra.with_good_file {
        std::fs::write(
            &good,
            USER_RULE.replace("user-rate-limited", "fuzz-good-rule"),
        )
        .unwrap();
    }
    let text = String::from_utf8_lossy(&case.bytes).into_owned();
    let n_lines = text.lines().count();
    let declared = std::str::from_utf8(&case.bytes)
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(t).ok())
        .map(|t| {
            t.get("rules")
                .and_then(|r| r.as_array())
                .map_or(0, Vec::len)
        });
    let loaded = RuleSet::load(false, std::slice::from_ref(&dir));
    match &loaded {
        Ok(set) => {
            // Whole: every rule of every file.
            let want = declared.map(|d| d + usize::from(case.extra.with_good_file));
            if want != Some(set.rules().len()) {
                p.push(format!(
                    "rules loaded\n  expected: {} (every [[rules]] of the files)\n       got: {}",
                    match want {
                        Some(w) => w.to_string(),
                        None => "none: the file is not TOML".into(),
                    },
                    set.rules().len()
                ));
            }
        }
        Err(errs) => {
            if errs.0.is_empty() {
                p.push("the load failed with no error".into());
            }
            for e in &errs.0 {
                let shown = e.to_string();
                if e.file != file.display().to_string() {
                    p.push(format!(
                        "an error names another file than the damaged one: {shown}"
                    ));
                    continue;
                }
                if e.line == 0 || e.line > n_lines + 1 {
                    p.push(format!(
                        "an error names no line of the file ({n_lines} lines): {shown}"
                    ));
                    continue;
                }
                // A damaged table header (`[rulesxamples.response]`) is a key at the top level
                // of the file, under no rule, whatever block it stands in: the loader says so
                // rather than blame the rule above it.
                let top_level = e.message.contains("at the top level of the file");
                if let Some(id) = rule_at(&text, e.line).filter(|_| !top_level) {
                    if e.rule.as_deref() != Some(id.as_str()) {
                        p.push(format!(
                            "an error at line {} of rule {id}'s block\n  expected: names rule {id}\n       got: {shown}",
                            e.line
                        ));
                    }
                }
            }
        }
    }
    if case.binary {
        let r = triage_bin(&os(&[&"rules", &"check", &"--no-builtin-rules", &dir]));
        // 2: the rules do not load; 1: they load, and an example does not behave as declared.
        let want = match &loaded {
            Ok(_) => 0,
            Err(_) if RuleSet::load_unchecked(false, std::slice::from_ref(&dir)).is_err() => 2,
            Err(_) => 1,
        };
        p.extend(exit_problems(
            "triage rules check",
            &r,
            &[0, 1, 2],
            Some(want),
        ));
        if let Err(errs) = &loaded {
            for e in &errs.0 {
                if !r.stderr.contains(&e.to_string()) {
                    p.push(format!(
                        "triage rules check: stderr lacks the error\n  expected: {e}\n       got: {}",
                        short(&r.stderr)
                    ));
                }
            }
        }
        let r = triage_bin(&os(&[
            &"explain",
            &"--no-builtin-rules",
            &"--rules",
            &dir,
            &fixture("explain/closed-conversation.har"),
        ]));
        let want = if loaded.is_ok() { 1 } else { 2 };
        p.extend(exit_problems(
            "triage explain --rules",
            &r,
            &[0, 1, 2],
            Some(want),
        ));
    }
    p
}

#[test]
fn rule_files() {
    for (name, text) in rule_bases() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.toml"), text).unwrap();
        if let Err(e) = RuleSet::load(false, &[dir.path().to_owned()]) {
            panic!("{name} loads alone: {e}");
        }
    }
    run_cases("rule_files", 16, 16, CASE_LIMIT, gen_rules, check_rules);
}

// ---------------------------------------------------------------------------------------------
// Cut at every byte: a HAR and a recording, each cut at every place a crash or a copy may have
// stopped, read in memory as `ingest::read` reads a file.

struct SweepExtra {
    base: usize,
    /// Where each entry (HAR) or line (recording) ends.
    ends: Vec<usize>,
    /// Where to cut.
    cuts: Vec<usize>,
}

fn gen_har_sweep(rng: &mut Rng, binary: bool) -> Case<SweepExtra> {
    let bases = har_bases();
    let b = rng.below(bases.len());
    let (style, sd) = Style::random(rng);
    let (bytes, spans) = emit(&bases[b].value, style, &[], &[]);
    let ends: Vec<usize> = spans.iter().flat_map(|s| [s.0, s.1]).collect();
    let cuts = cut_points(rng, bytes.len(), &ends);
    Case {
        desc: format!(
            "{} written {sd}, cut at {} of its {} bytes",
            bases[b].name,
            cuts.len(),
            bytes.len()
        ),
        bytes,
        ext: "har",
        binary,
        extra: SweepExtra {
            base: b,
            ends: spans.iter().map(|s| s.1).collect(),
            cuts,
        },
    }
}

/// Where to cut a file of `len` bytes whose entries or lines end at `ends`: every byte with
/// `TRIAGE_FUZZ_EVERY_BYTE=1`, else the bytes around each end and start (where an off-by-one
/// would show) and a sample of the others.
fn cut_points(rng: &mut Rng, len: usize, ends: &[usize]) -> Vec<usize> {
    if every_byte() {
        return (0..=len).collect();
    }
    let mut cuts: BTreeSet<usize> = [0, 1, 2, len.saturating_sub(1), len].into_iter().collect();
    for &e in ends {
        for c in e.saturating_sub(3)..=e + 3 {
            cuts.insert(c.min(len));
        }
    }
    for _ in 0..150 {
        cuts.insert(rng.below(len + 1));
    }
    cuts.into_iter().collect()
}

/// Reading a file cut at every byte reads it as often as it has bytes.
fn sweep_limit() -> Duration {
    if every_byte() {
        CASE_LIMIT * 20
    } else {
        CASE_LIMIT
    }
}

fn every_byte() -> bool {
    env_u64("TRIAGE_FUZZ_EVERY_BYTE").is_some_and(|v| v != 0)
}

fn check_har_sweep(case: &Case<SweepExtra>, env: &Env) -> Vec<String> {
    let base = &har_bases()[case.extra.base];
    let whole = &case.bytes;
    let mut p = Vec::new();
    let har = kind(InputKind::Har);
    for &c in &case.extra.cuts {
        let bytes = &whole[..c];
        let mut reader = ingest::har::HarReader::new(std::io::Cursor::new(bytes), &env.file, &har);
        let mut read_items = BTreeMap::new();
        let mut error = None;
        for item in reader.by_ref() {
            match item {
                Ok(ex) => {
                    let triage::exchange::Origin::File { index, .. } = ex.origin else {
                        unreachable!()
                    };
                    read_items.insert(index, Item::Exchange(Box::new(seen(&ex))));
                }
                Err(e) => error = Some(e),
            }
        }
        for (reason, s) in &reader.skipped {
            for place in &s.places {
                let i = place
                    .trim_start_matches("log.entries[")
                    .trim_end_matches(']')
                    .parse()
                    .unwrap();
                read_items.insert(i, Item::Skipped(reason.clone()));
            }
        }
        let before: Vec<usize> = (0..case.extra.ends.len())
            .filter(|&i| case.extra.ends[i] <= c)
            .collect();
        let mut problems = Vec::new();
        let want: BTreeMap<usize, Item> =
            before.iter().map(|i| (*i, base.items[i].clone())).collect();
        if read_items != want {
            problems.push(format!(
                "entries read\n  expected: {:?} (those wholly before the cut), as uncut\n       got: {:?}{}",
                before,
                read_items.keys().collect::<Vec<_>>(),
                if read_items.keys().eq(before.iter()) { " (but read differently)" } else { "" }
            ));
        }
        match (&error, c < whole.len()) {
            (None, false) => {}
            (Some(e @ IngestError::Broken { at, entry, .. }), true) => {
                problems.extend(position_problems(e, &env.file, bytes));
                let last = before.last().map_or(0, |&i| case.extra.ends[i]);
                if (at.offset as usize) < last || at.offset as usize > c {
                    problems.push(format!(
                        "the error is placed at byte {}, not between the last whole entry's end {last} and the cut: {e}",
                        at.offset
                    ));
                }
                if entry.is_some_and(|i| i != read_items.len()) {
                    problems.push(format!(
                        "the entry in flight is not the one after those read: {e}"
                    ));
                }
            }
            (e, _) => problems.push(format!(
                "error\n  expected: {}\n       got: {}",
                if c < whole.len() {
                    "a 'broken at' error"
                } else {
                    "none"
                },
                short(e.as_ref().map(ToString::to_string))
            )),
        }
        if !problems.is_empty() {
            p.push(format!("cut at byte {c}: {}", problems.join("; ")));
            if p.len() >= 5 {
                break;
            }
        }
    }
    p
}

#[test]
fn har_cut_at_every_byte() {
    run_cases(
        "har_cut_at_every_byte",
        1,
        0,
        sweep_limit(),
        gen_har_sweep,
        check_har_sweep,
    );
}

fn gen_recording_sweep(rng: &mut Rng, binary: bool) -> Case<SweepExtra> {
    let bases = recording_bases();
    let b = rng.below(bases.len());
    let crlf = rng.one_in(3);
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for l in &bases[b].lines {
        bytes.extend_from_slice(l);
        ends.push(bytes.len());
        bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    let cuts = cut_points(rng, bytes.len(), &ends);
    Case {
        desc: format!(
            "{}{}, cut at {} of its {} bytes",
            bases[b].name,
            if crlf { " with CRLF" } else { "" },
            cuts.len(),
            bytes.len()
        ),
        bytes,
        ext: "jsonl",
        binary,
        extra: SweepExtra {
            base: b,
            ends,
            cuts,
        },
    }
}

fn check_recording_sweep(case: &Case<SweepExtra>, env: &Env) -> Vec<String> {
    let base = &recording_bases()[case.extra.base];
    let whole = &case.bytes;
    let ends = &case.extra.ends;
    let mut p = Vec::new();
    for &c in &case.extra.cuts {
        let bytes = &whole[..c];
        let mut reader = ingest::recording::RecordingReader::new(
            std::io::Cursor::new(bytes),
            &env.file,
            1 << 20,
        );
        let mut got = Vec::new();
        let mut error = None;
        for item in reader.by_ref() {
            match item {
                Ok(r) => got.push(seen(&r.exchange)),
                Err(e) => error = Some(e),
            }
        }
        let whole_lines = ends.iter().filter(|&&e| e <= c).count();
        // The line the cut is in, when some of it is left.
        let start = if whole_lines == 0 {
            0
        } else {
            ends[whole_lines - 1]
        };
        let rest = &bytes[start.min(c)..];
        let cut_line = (!rest.trim_ascii().is_empty()).then_some(whole_lines + 1);
        let mut problems = Vec::new();
        if got[..] != base.seen[..whole_lines] {
            problems.push(format!(
                "records read\n  expected: the {whole_lines} whole lines'\n       got: {} records, not those",
                got.len()
            ));
        }
        let want_skipped: BTreeMap<String, Vec<String>> = cut_line
            .map(|l| {
                (
                    "line cut off mid-write".to_owned(),
                    vec![format!("line {l}")],
                )
            })
            .into_iter()
            .collect();
        let skipped: BTreeMap<String, Vec<String>> = reader
            .skipped
            .iter()
            .map(|(r, s)| (r.clone(), s.places.clone()))
            .collect();
        if skipped != want_skipped {
            problems.push(format!(
                "skipped\n  expected: {want_skipped:?}\n       got: {skipped:?}"
            ));
        }
        let want_error = whole_lines == 0 && cut_line.is_some();
        if error.is_some() != want_error {
            problems.push(format!(
                "error\n  expected: {}\n       got: {}",
                if want_error {
                    "no line could be read"
                } else {
                    "none"
                },
                short(error.as_ref().map(ToString::to_string))
            ));
        }
        if !problems.is_empty() {
            p.push(format!("cut at byte {c}: {}", problems.join("; ")));
            if p.len() >= 5 {
                break;
            }
        }
    }
    p
}

#[test]
fn recording_cut_at_every_byte() {
    run_cases(
        "recording_cut_at_every_byte",
        1,
        0,
        sweep_limit(),
        gen_recording_sweep,
        check_recording_sweep,
    );
}

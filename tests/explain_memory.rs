//! `triage explain` on a large HAR runs in bounded memory: the reader holds one entry at a
//! time, the pipeline's evidence is capped, and the report keeps at most
//! `Report::DEFAULT_MAX_RECORDS` records. Alone in its own test binary so that no other test's
//! allocations move the peak. The 200 MB run is `#[ignore]`d (see docs/benchmarks.md):
//!
//! ```text
//! cargo test --test explain_memory -- --ignored --nocapture
//! ```

mod common;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::ingest::ReadOptions;
use triage::report::explain::{self, Report};
use triage::rules::RuleSet;

/// Peak resident set size of this process so far, in bytes (Linux).
#[cfg(target_os = "linux")]
fn vm_hwm() -> u64 {
    common::peak_rss().expect("VmHWM in /proc/self/status")
}

/// A Chrome-like HAR of `entries` entries of about 5 KB: every third a success, the others
/// 409s with distinct correlation ids (diagnosed `request-conflict`), every tenth a 500 (no
/// diagnosis). The generator of tests/ingest_memory.rs, with statuses varied.
pub fn generate(path: &Path, entries: usize) -> u64 {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    write!(
        w,
        "{{\n  \"log\": {{\n    \"version\": \"1.2\",\n    \"creator\": {{\"name\": \"gen\", \"version\": \"1\"}},\n    \"entries\": ["
    )
    .unwrap();
    let filler = "x".repeat(4800);
    let entry = |status: u16| {
        let body = serde_json::json!({
            "message": "The request conflicts with the current state of the target resource.",
            "code": if status == 409 { "request.conflict" } else { "internal.server.error" },
            "status": status, "contextId": "ctx-@I@",
            "details": [{"fieldName": filler}],
        })
        .to_string();
        serde_json::json!({
            "startedDateTime": "2026-03-01T10:20:30.123Z", "time": 12.5, "cache": {},
            "request": {"method": "PUT", "url": "https://api.mypurecloud.ie/api/v2/users/@I@?x=1",
                "httpVersion": "http/2.0", "headers": [{"name": ":authority", "value": "api.mypurecloud.ie"},
                {"name": "authorization", "value": "Bearer PLANTED-token-@I@"}], "queryString": [], "cookies": [],
                "headersSize": -1, "bodySize": 2, "postData": {"mimeType": "application/json", "text": "{}"}},
            "response": {"status": status, "statusText": "", "httpVersion": "http/2.0",
                "headers": [{"name": "content-type", "value": "application/json"},
                    {"name": "inin-correlation-id", "value": "ctx-@I@"}], "cookies": [],
                "content": {"size": body.len(), "mimeType": "application/json", "text": body},
                "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "timings": {"send": 0, "wait": 10, "receive": 2.5},
        })
        .to_string()
    };
    let shapes: Vec<Vec<String>> = [200u16, 409, 500]
        .iter()
        .map(|&s| entry(s).split("@I@").map(str::to_owned).collect())
        .collect();
    for i in 0..entries {
        w.write_all(if i > 0 { b",\n      " } else { b"\n      " })
            .unwrap();
        let parts = if i % 10 == 9 {
            &shapes[2]
        } else if i % 3 == 0 {
            &shapes[0]
        } else {
            &shapes[1]
        };
        for (k, part) in parts.iter().enumerate() {
            if k > 0 {
                write!(w, "{i}").unwrap();
            }
            w.write_all(part.as_bytes()).unwrap();
        }
    }
    w.write_all(b"\n    ]\n  }\n}\n").unwrap();
    w.flush().unwrap();
    drop(w);
    std::fs::metadata(path).unwrap().len()
}

/// Explains `entries` generated entries; returns (file size, peak RSS growth, report).
fn explain_generated(entries: usize) -> (u64, u64, Report) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.har");
    let size = generate(&path, entries);
    let pipeline = Pipeline::new(
        Arc::new(Engine::new(RuleSet::load(true, &[]).unwrap())),
        PipelineOptions::default(),
    );
    let t0 = std::time::Instant::now();
    let before = vm_hwm();
    let mut report = Report::new(false);
    triage::cli::explain::replay(
        &pipeline,
        std::slice::from_ref(&path),
        &ReadOptions::default(),
        &mut report,
        |_| Ok(()),
    )
    .unwrap();
    let mut sink = std::io::sink();
    explain::text::render(&report, &mut sink, false, None).unwrap();
    explain::html::render(&report, &mut sink).unwrap();
    let growth = vm_hwm().saturating_sub(before);
    eprintln!(
        "explained {} entries ({} MB) in {:?}; {} failed, {} diagnosed, {} records kept; peak RSS growth {} MB",
        report.totals.exchanges,
        size / (1024 * 1024),
        t0.elapsed(),
        report.totals.failed,
        report.totals.diagnosed,
        report.records.len(),
        growth / (1024 * 1024)
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.totals.exchanges, entries);
    (size, growth, report)
}

#[cfg(target_os = "linux")]
#[test]
fn explaining_a_twenty_megabyte_har_stays_bounded() {
    let (size, growth, report) = explain_generated(4_000);
    assert!(size > 20_000_000, "generated {size} bytes");
    assert!(report.totals.diagnosed > 2_000);
    assert!(report.totals.undiagnosed > 300);
    assert!(
        growth < 48 * 1024 * 1024,
        "peak RSS grew by {} MB explaining a {} MB HAR; expected < 48 MB",
        growth / (1024 * 1024),
        size / (1024 * 1024)
    );
}

/// The figure in docs/benchmarks.md: a ~200 MB HAR.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "writes and explains a 200 MB HAR; run with --ignored"]
fn explaining_a_two_hundred_megabyte_har_stays_bounded() {
    let (size, growth, report) = explain_generated(40_000);
    assert!(size > 200_000_000, "generated {size} bytes");
    assert_eq!(
        report.records.len(),
        Report::DEFAULT_MAX_RECORDS,
        "records are capped"
    );
    assert!(report.totals.records_dropped > 0);
    assert!(
        growth < 96 * 1024 * 1024,
        "peak RSS grew by {} MB explaining a {} MB HAR; expected < 96 MB",
        growth / (1024 * 1024),
        size / (1024 * 1024)
    );
}

/// Writes the 40,000-entry HAR of the figure to `$TRIAGE_HAR_OUT`, to time the binary on it
/// (docs/benchmarks.md): `TRIAGE_HAR_OUT=big.har cargo test --test explain_memory -- --ignored
/// write_the_big_har`.
#[test]
#[ignore = "writes a 200 MB HAR where TRIAGE_HAR_OUT says"]
fn write_the_big_har() {
    let Some(out) = std::env::var_os("TRIAGE_HAR_OUT") else {
        eprintln!("TRIAGE_HAR_OUT is not set: nothing written");
        return;
    };
    let size = generate(Path::new(&out), 40_000);
    assert!(size > 200_000_000, "generated only {size} bytes");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), size);
    eprintln!("wrote {size} bytes to {}", Path::new(&out).display());
}

//! A large HAR is read in bounded memory: the streaming reader holds one entry at a time.
//! Alone in its own test binary so that no other test's allocations move the peak.

mod common;

use std::io::{BufWriter, Write};

use triage::ingest::{self, ReadOptions};

/// Peak resident set size of this process so far, in bytes (Linux).
#[cfg(target_os = "linux")]
fn vm_hwm() -> u64 {
    common::peak_rss().expect("VmHWM in /proc/self/status")
}

#[cfg(target_os = "linux")]
#[test]
fn fifty_megabyte_har_is_read_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.har");
    let entries = 10_000usize;
    {
        let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
        write!(
            w,
            "{{\n  \"log\": {{\n    \"version\": \"1.2\",\n    \"creator\": {{\"name\": \"gen\", \"version\": \"1\"}},\n    \"entries\": ["
        )
        .unwrap();
        // One entry serialised once, with `@I@` where each copy puts its index.
        let filler = "x".repeat(4800);
        let body = serde_json::json!({
            "message": "The request conflicts with the current state of the target resource.",
            "code": "request.conflict", "status": 409, "contextId": "ctx-@I@",
            "details": [{"fieldName": filler}],
        })
        .to_string();
        let entry = serde_json::json!({
            "startedDateTime": "2026-03-01T10:20:30.123Z", "time": 12.5, "cache": {},
            "request": {"method": "POST", "url": "https://api.mypurecloud.ie/api/v2/users/@I@?x=1",
                "httpVersion": "http/2.0", "headers": [{"name": ":authority", "value": "api.mypurecloud.ie"},
                {"name": "authorization", "value": "Bearer abc"}], "queryString": [], "cookies": [],
                "headersSize": -1, "bodySize": 2, "postData": {"mimeType": "application/json", "text": "{}"}},
            "response": {"status": 409, "statusText": "", "httpVersion": "http/2.0",
                "headers": [{"name": "content-type", "value": "application/json"}], "cookies": [],
                "content": {"size": body.len(), "mimeType": "application/json", "text": body},
                "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "timings": {"send": 0, "wait": 10, "receive": 2.5},
        })
        .to_string();
        let parts: Vec<&str> = entry.split("@I@").collect();
        for i in 0..entries {
            w.write_all(if i > 0 { b",\n      " } else { b"\n      " })
                .unwrap();
            for (k, part) in parts.iter().enumerate() {
                if k > 0 {
                    write!(w, "{i}").unwrap();
                }
                w.write_all(part.as_bytes()).unwrap();
            }
        }
        w.write_all(b"\n    ]\n  }\n}\n").unwrap();
        w.flush().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size > 50_000_000,
        "generated HAR is {size} bytes, expected > 50 MB"
    );

    let t0 = std::time::Instant::now();
    let before = vm_hwm();
    let mut count = 0usize;
    let mut conflicts = 0usize;
    let mut it = ingest::read(&path, &ReadOptions::default()).unwrap();
    for ex in it.by_ref() {
        let ex = ex.unwrap_or_else(|e| panic!("read error after {count} exchanges: {e}"));
        count += 1;
        if ex.status() == Some(409) && ex.correlation_id().is_some() {
            conflicts += 1;
        }
    }
    let growth = vm_hwm().saturating_sub(before);
    assert_eq!(count, entries, "exchanges read");
    assert_eq!(
        conflicts, entries,
        "exchanges with a 409 and a correlation id"
    );
    assert_eq!(it.summary().exchanges, entries);
    assert!(
        growth < 40 * 1024 * 1024,
        "peak RSS grew by {} MB while reading a {} MB HAR; expected < 40 MB",
        growth / (1024 * 1024),
        size / (1024 * 1024)
    );
    eprintln!(
        "read {count} entries from {} MB in {:?}; peak RSS growth {} KB",
        size / (1024 * 1024),
        t0.elapsed(),
        growth / 1024
    );
}

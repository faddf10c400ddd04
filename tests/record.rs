//! Recordings, HAR export and `triage redact`: round trips, crash-cut recordings, and planted
//! secrets that must never reach an output file.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use triage::exchange::{BodyPrefix, Exchange, Origin, Request, Response, Timings, UpstreamKind};
use triage::ingest::{self, recording, IngestError, InputKind, ReadOptions};
use triage::record::Recorder;
use triage::redact;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn triage(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PLANTED: &[&str] = &[
    "PLANTED-bearer-77",
    "PLANTED-authcode-11",
    "PLANTED-clientsecret-22",
    "PLANTED-accesstoken-33",
    "PLANTED-refresh-44",
    "PLANTED-cookie-55",
    "PLANTED-token-66",
    "PLANTED-customer-words",
];

fn assert_no_secrets(file: &Path, allowed: &[&str]) {
    let text = std::fs::read_to_string(file).unwrap();
    for p in PLANTED.iter().filter(|p| !allowed.contains(p)) {
        assert!(
            !text.contains(p),
            "planted secret {p} found in {}:\n{}",
            file.display(),
            &text[text.find(p).unwrap().saturating_sub(200)..][..300.min(text.len())]
        );
    }
}

fn exchanges(rel: &str) -> Vec<Exchange> {
    ingest::read(&fixture(rel), &ReadOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// An exchange with a binary response body and one without a response.
fn synthetic() -> Vec<Exchange> {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    let base = Exchange {
        seq: 7,
        origin: Origin::Live,
        started_at: std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_772_360_430_123),
        request: Request {
            method: Method::GET,
            path: "/api/v2/downloads/x".into(),
            query: None,
            headers: HeaderMap::new(),
            body: BodyPrefix::default(),
            upstream: UpstreamKind::Api,
            host: Some("api.mypurecloud.ie".into()),
            base_url: None,
            shown: triage::exchange::Shown::All,
        },
        response: Some(Response {
            status: StatusCode::NOT_FOUND,
            version: None,
            headers: h,
            body: BodyPrefix {
                bytes: Bytes::from_static(&[0, 159, 146, 150, 255]),
                complete: false,
                original_size: None,
                unknown_why: None,
            },
            headers_shown: true,
        }),
        timings: Timings {
            upstream_ms: Some(12),
            total_ms: Some(15),
        },
        inspection: triage::exchange::Inspection::OverLimit,
        outcome: None,
    };
    let mut none = base.clone();
    none.response = None;
    none.request.method = Method::POST;
    vec![base, none]
}

#[test]
fn recording_round_trip_keeps_method_path_status_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let mut originals = exchanges("har/chrome.har");
    originals.extend(exchanges("har/firefox.har"));
    originals.extend(synthetic());
    let recorder = Recorder::open(&rec).unwrap();
    for (i, ex) in originals.iter().enumerate() {
        recorder
            .append(ex, &[json!({"rule": "test.rule", "n": i})])
            .unwrap();
    }
    assert_eq!(ingest::detect_file(&rec).unwrap(), InputKind::Recording);
    let back: Vec<_> = recording::open(&rec, 1 << 20)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(back.len(), originals.len(), "records read back");
    for (i, (a, b)) in originals.iter().zip(&back).enumerate() {
        let b_ex = &b.exchange;
        assert_eq!(a.request.method, b_ex.request.method, "method of #{i}");
        assert_eq!(a.request.path, b_ex.request.path, "path of #{i}");
        assert_eq!(a.request.query, b_ex.request.query, "query of #{i}");
        assert_eq!(a.request.host, b_ex.request.host, "host of #{i}");
        assert_eq!(
            a.request.upstream, b_ex.request.upstream,
            "upstream of #{i}"
        );
        assert_eq!(a.status(), b_ex.status(), "status of #{i}");
        assert_eq!(
            a.request.body.bytes, b_ex.request.body.bytes,
            "request body of #{i}"
        );
        assert_eq!(
            a.response
                .as_ref()
                .map(|r| (&r.body.bytes, r.body.complete)),
            b_ex.response
                .as_ref()
                .map(|r| (&r.body.bytes, r.body.complete)),
            "response body of #{i}"
        );
        assert_eq!(
            a.request.base_url, b_ex.request.base_url,
            "scheme and authority of #{i}"
        );
        assert_eq!(
            a.response.as_ref().map(|r| r.version),
            b_ex.response.as_ref().map(|r| r.version),
            "HTTP version of #{i}"
        );
        // Sizes are of the bodies sent, whatever redaction did to the copies recorded.
        assert_eq!(
            a.request.body.size(),
            b_ex.request.body.size(),
            "request body size of #{i}"
        );
        assert_eq!(
            a.response.as_ref().map(|r| r.body.size()),
            b_ex.response.as_ref().map(|r| r.body.size()),
            "response body size of #{i}"
        );
        assert_eq!(a.started_at, b_ex.started_at, "time of #{i}");
        assert_eq!(a.timings.total_ms, b_ex.timings.total_ms, "timings of #{i}");
        assert_eq!(b.diagnoses, vec![json!({"rule": "test.rule", "n": i})]);
        // Secret headers come back as their fingerprints.
        if let Some(auth) = a.request.headers.get("authorization") {
            assert_eq!(
                b_ex.request
                    .headers
                    .get("authorization")
                    .unwrap()
                    .to_str()
                    .unwrap(),
                redact::header_value("authorization", auth.as_bytes()),
                "authorization of #{i}"
            );
        }
    }
    // The generic reader yields the same exchanges.
    let n = ingest::read(&rec, &ReadOptions::default()).unwrap().count();
    assert_eq!(n, originals.len());
}

/// A recording of the Firefox fixture's exchanges with `damage` written after the first `at`
/// records (each `damage` line as given, so without a line break it is a cut-off last line).
fn damaged_recording(dir: &Path, at: usize, damage: &[u8]) -> (PathBuf, usize) {
    let rec = dir.join("rec.jsonl");
    let exs = exchanges("har/firefox.har");
    let recorder = Recorder::open(&rec).unwrap();
    for ex in &exs[..at] {
        recorder.append(ex, &[]).unwrap();
    }
    drop(recorder);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&rec)
        .unwrap()
        .write_all(damage)
        .unwrap();
    if damage.ends_with(b"\n") {
        let recorder = Recorder::open(&rec).unwrap();
        for ex in &exs[at..] {
            recorder.append(ex, &[]).unwrap();
        }
    }
    (rec, exs.len())
}

/// Every item of a recording: the paths read, and the error if one ended it.
fn read_recording(rec: &Path) -> (Vec<String>, Option<IngestError>, ingest::Summary) {
    let mut it = ingest::read(rec, &ReadOptions::default()).unwrap();
    let mut paths = Vec::new();
    let mut err = None;
    for item in it.by_ref() {
        match item {
            Ok(ex) => paths.push(ex.request.path),
            Err(e) => err = Some(e),
        }
    }
    (paths, err, it.summary())
}

#[test]
fn a_broken_line_in_the_middle_is_skipped_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, n) = damaged_recording(dir.path(), 1, b"{\"v\":1,\"seq\":\"garbage\"}\n");
    let (paths, err, summary) = read_recording(&rec);
    assert!(err.is_none(), "a broken line is no error: {err:?}");
    let all: Vec<String> = exchanges("har/firefox.har")
        .into_iter()
        .map(|e| e.request.path)
        .collect();
    assert_eq!(paths, all, "every record around the broken line");
    assert_eq!(summary.exchanges, n);
    assert_eq!(summary.skipped_total(), 1, "{:?}", summary.skipped);
    let broken = &summary.skipped["broken line"];
    assert_eq!(broken.places, ["line 2"], "{:?}", summary.skipped);
}

#[test]
fn a_truncated_last_line_is_skipped_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, _) = damaged_recording(
        dir.path(),
        2,
        br#"{"v":1,"seq":3,"time":"2026-03-01T10:00:00Z","origin":"live","request":{"meth"#,
    );
    let (paths, err, summary) = read_recording(&rec);
    assert!(err.is_none(), "a cut-off last line is no error: {err:?}");
    assert_eq!(paths.len(), 2, "the two records before it");
    let cut = &summary.skipped["line cut off mid-write"];
    assert_eq!(
        (cut.count, cut.places.as_slice()),
        (1, &["line 3".to_owned()][..])
    );
}

#[test]
fn a_recording_saved_with_a_bom_reads_whole() {
    // An editor on Windows (Notepad, PowerShell's Out-File) may save it with a byte order mark.
    // The first record was read (as one appended to a cut-off line) but named "cut off
    // mid-write", and a blank first line named "broken": damage where there was none.
    let dir = tempfile::tempdir().unwrap();
    let (rec, n) = damaged_recording(dir.path(), 3, b"");
    let text = std::fs::read(&rec).unwrap();
    for (name, prefix) in [
        ("bom", &b"\xEF\xBB\xBF"[..]),
        ("bom-blank", b"\xEF\xBB\xBF\r\n"),
    ] {
        let p = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&p, [prefix, &text].concat()).unwrap();
        let (paths, err, summary) = read_recording(&p);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(paths.len(), n, "{name}: every record");
        assert!(
            summary.skipped.is_empty(),
            "{name}: nothing skipped\n  expected: {{}}\n       got: {:?}",
            summary.skipped
        );
    }
}

#[test]
fn a_record_appended_to_a_cut_off_line_is_still_read() {
    // What a triage that did not start a new line after a crash left behind: the cut-off
    // record and the next whole one on one line.
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let exs = exchanges("har/firefox.har");
    let recorder = Recorder::open(&rec).unwrap();
    recorder.append(&exs[0], &[]).unwrap();
    recorder.append(&exs[1], &[]).unwrap();
    drop(recorder);
    let text = std::fs::read(&rec).unwrap();
    let first_end = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut glued = text[..first_end].to_vec();
    glued.extend_from_slice(&text[first_end..first_end + 100]);
    glued.extend_from_slice(&text[first_end..]);
    std::fs::write(&rec, glued).unwrap();
    let (paths, err, summary) = read_recording(&rec);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        paths,
        [exs[0].request.path.clone(), exs[1].request.path.clone()]
    );
    assert_eq!(
        summary.skipped["line cut off mid-write"].places,
        ["line 2"],
        "{:?}",
        summary.skipped
    );
}

#[test]
fn a_recording_with_no_readable_line_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    std::fs::write(
        &rec,
        "{\"v\":1,\"seq\n{\"v\":1,\"x\":2}\n{\"v\":2,\"seq\":1}\n",
    )
    .unwrap();
    let (paths, err, _) = read_recording(&rec);
    assert!(paths.is_empty());
    let e = err
        .expect("an error when nothing could be read")
        .to_string();
    for want in [
        "no line could be read",
        "line cut off mid-write: line 1",
        "broken line: line 2",
        "record of format version 2 (this triage reads version 1): line 3",
    ] {
        assert!(e.contains(want), "{want} not in: {e}");
    }
    let (code, stderr) = triage(&[
        "export",
        "--har",
        dir.path().join("out.har").to_str().unwrap(),
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "no success with 0 entries: {stderr}");
    assert!(stderr.contains("no line could be read"), "{stderr}");
}

/// `triage export` with a recording that yields nothing: what `triage explain` does with input
/// that yields nothing (an error naming the file, exit 2), and no output file: neither a new
/// empty HAR nor one written over a good file of the same name.
#[test]
fn export_of_a_recording_that_yields_nothing_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        ("empty.jsonl", b"", "the recording is empty"),
        ("blank.jsonl", b"\n\n  \n", "the recording is empty"),
        (
            "junk.jsonl",
            b"{\"a\":1}\n",
            "no line could be read as a triage record",
        ),
    ];
    for (name, content, why) in cases {
        let rec = dir.path().join(name);
        std::fs::write(&rec, content).unwrap();

        let new = dir.path().join(format!("{name}.new.har"));
        let (code, stderr) = triage(&[
            "export",
            "--har",
            new.to_str().unwrap(),
            rec.to_str().unwrap(),
        ]);
        assert_eq!(
            code, 2,
            "{name}: exit code\n  expected: 2 (input error)\n       got: {code}\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("triage: error: {}", rec.display())) && stderr.contains(why),
            "{name}: stderr\n  expected: an error naming the file: {why}\n       got: {stderr}"
        );
        assert!(
            stderr.contains("nothing was read") && stderr.contains("was not written"),
            "{name}: stderr\n  expected: nothing was read; ... was not written\n       got: {stderr}"
        );
        assert!(
            !new.exists(),
            "{name}: an output file was created: {}",
            new.display()
        );

        let old = dir.path().join(format!("{name}.old.har"));
        std::fs::write(&old, "GOOD HAR FROM BEFORE").unwrap();
        let (code, stderr) = triage(&[
            "export",
            "--har",
            old.to_str().unwrap(),
            rec.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{name} over a file: exit code; {stderr}");
        assert!(
            stderr.contains("is left as it was"),
            "{name}: stderr\n  expected: ... is left as it was\n       got: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&old).unwrap(),
            "GOOD HAR FROM BEFORE",
            "{name}: the existing output was replaced"
        );

        let out = Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["export", "--har", "-", rec.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name} to standard output: exit code"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "",
            "{name}: standard output\n  expected: nothing\n       got: the text above"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// A HAR (or `curl` output) given where a recording is expected is said to be one, with the
/// command that reads it, not as "broken lines" of a recording; exit 2 and nothing written.
/// Something that is no JSON at all is said to be no JSON Lines.
#[test]
fn export_of_a_har_or_other_input_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.har");
    let har = fixture("har/chrome.har");
    let curl = fixture("curl/conflict.txt");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not JSON\nat all\n").unwrap();
    for (input, want) in [
        (
            &har,
            format!(
                "triage: error: {0}: a HAR file, not a triage recording (`triage proxy --record \
                 FILE` writes one); `triage explain {0}` reads it directly",
                har.display()
            ),
        ),
        (
            &curl,
            format!(
                "triage: error: {0}: `curl` output, not a triage recording",
                curl.display()
            ),
        ),
        (
            &text,
            "; no line of it is JSON, so it is no triage recording".to_owned(),
        ),
    ] {
        let (code, stderr) = triage(&[
            "export",
            "--har",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{input:?}: {stderr}");
        assert!(
            stderr.contains(&want),
            "{input:?}: {want}\nnot in: {stderr}"
        );
        assert!(
            !stderr.contains("broken line") || input == &text,
            "{input:?}: {stderr}"
        );
        assert!(!out.exists(), "{input:?}: an output was written");
    }
    // Read from standard input, too.
    let got = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["export", "--har", "-", "-"])
        .stdin(std::fs::File::open(&har).unwrap())
        .output()
        .unwrap();
    assert_eq!(got.status.code(), Some(2));
    assert!(got.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(
        stderr.contains("-: a HAR file, not a triage recording"),
        "{stderr}"
    );
}

#[test]
fn export_skips_a_broken_line_names_it_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, n) = damaged_recording(dir.path(), 1, b"{\"v\":1,\"seq\":\"garbage\"}\n");
    let out = dir.path().join("out.har");
    let (code, stderr) = triage(&[
        "export",
        "--har",
        out.to_str().unwrap(),
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("skipped 1 line"), "{stderr}");
    assert!(stderr.contains("broken line: line 2"), "{stderr}");
    let har: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(n));
}

#[test]
fn planted_secrets_never_reach_a_recording() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let recorder = Recorder::open(&rec).unwrap();
    for ex in exchanges("har/secrets.har") {
        recorder
            .append(
                &ex,
                &[json!({"evidence": {"access_token": "PLANTED-accesstoken-33"}})],
            )
            .unwrap();
    }
    assert_no_secrets(&rec, &[]);
    let text = std::fs::read_to_string(&rec).unwrap();
    let fp = redact::fingerprint(b"PLANTED-bearer-77");
    assert!(
        text.contains(&format!("Bearer [redacted {fp}]")),
        "fingerprint kept: {text}"
    );
    assert!(
        text.contains("[redacted: "),
        "customer text replaced by its length: {text}"
    );
}

#[test]
fn export_writes_har_1_2_with_triage_fields_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let out = dir.path().join("out.har");
    let recorder = Recorder::open(&rec).unwrap().keep_content(true);
    let mut all = exchanges("har/secrets.har");
    all.extend(exchanges("har/chrome.har"));
    all.extend(synthetic());
    for ex in &all {
        recorder
            .append(ex, &[json!({"rule": "r1", "cause": "c"})])
            .unwrap();
    }
    let (code, err) = triage(&[
        "export",
        "--har",
        out.to_str().unwrap(),
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "exit code; stderr: {err}");
    assert_no_secrets(&out, &[]);
    let har: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).expect("valid JSON");
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["creator"]["name"], "triage");
    let entries = har["log"]["entries"].as_array().expect("entries array");
    assert_eq!(entries.len(), all.len());
    for (i, e) in entries.iter().enumerate() {
        for f in [
            "startedDateTime",
            "time",
            "request",
            "response",
            "cache",
            "timings",
        ] {
            assert!(e.get(f).is_some(), "entry {i} lacks {f}: {e}");
        }
        for f in [
            "method",
            "url",
            "httpVersion",
            "cookies",
            "headers",
            "queryString",
            "headersSize",
            "bodySize",
        ] {
            assert!(e["request"].get(f).is_some(), "entry {i} request lacks {f}");
        }
        for f in [
            "status",
            "statusText",
            "httpVersion",
            "cookies",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
        ] {
            assert!(
                e["response"].get(f).is_some(),
                "entry {i} response lacks {f}"
            );
        }
        assert_eq!(
            e["_triage"]["diagnoses"][0]["rule"], "r1",
            "entry {i} _triage"
        );
        for t in ["send", "wait", "receive"] {
            assert!(
                e["timings"][t].as_i64().is_some_and(|v| v >= 0),
                "entry {i} timings.{t}"
            );
        }
    }
    assert_eq!(entries[3]["response"]["status"], 400);
    // The exported HAR reads back as the same exchanges.
    let back: Vec<_> = ingest::read(&out, &ReadOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(back.len(), all.len());
    assert_eq!(back[4].request.path, all[4].request.path);
    assert_eq!(
        back[4].response.as_ref().unwrap().body.bytes,
        all[4].response.as_ref().unwrap().body.bytes
    );
    assert!(back[all.len() - 1].response.is_none());
    // The synthetic binary body is a prefix in the recording, and still one read back.
    let prefix = &back[all.len() - 2];
    assert_eq!(
        prefix.response.as_ref().map(|r| r.body.complete),
        Some(false),
        "a prefix read back from the export"
    );
    assert_eq!(prefix.inspection, triage::exchange::Inspection::OverLimit);
}

#[test]
fn redact_removes_planted_secrets_and_keeps_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clean.har");
    let input = fixture("har/secrets.har");
    let (code, err) = triage(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "exit code; stderr: {err}");
    assert_no_secrets(&out, &[]);
    let text = std::fs::read_to_string(&out).unwrap();
    for secret in [
        "PLANTED-bearer-77",
        "PLANTED-authcode-11",
        "PLANTED-clientsecret-22",
        "PLANTED-cookie-55",
    ] {
        let fp = redact::fingerprint(secret.as_bytes());
        assert!(
            text.contains(&fp),
            "fingerprint {fp} of {secret} missing from output"
        );
    }
    let har: Value = serde_json::from_str(&text).expect("output is JSON");
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        har["log"]["entries"][0]["response"]["content"]["text"],
        json!({"access_token": format!("[redacted {}]", redact::fingerprint(b"PLANTED-accesstoken-33")),
               "refresh_token": format!("[redacted {}]", redact::fingerprint(b"PLANTED-refresh-44")),
               "token_type": "bearer", "expires_in": 86400}).to_string()
    );
    // The redacted HAR still reads as the same exchanges.
    let exs: Vec<_> = ingest::read(&out, &ReadOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(exs.len(), 3);
    assert_eq!(exs[2].status(), Some(400));
    let body: Value =
        serde_json::from_slice(&exs[2].response.as_ref().unwrap().body.bytes).unwrap();
    assert_eq!(body["code"], "chat.error.conversation.state");

    // --keep-content keeps what customers wrote, never the credentials.
    let kept = dir.path().join("kept.har");
    let (code, err) = triage(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        kept.to_str().unwrap(),
        "--keep-content",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_no_secrets(&kept, &["PLANTED-customer-words"]);
    assert!(std::fs::read_to_string(&kept)
        .unwrap()
        .contains("PLANTED-customer-words"));
}

#[test]
fn redact_of_a_truncated_har_writes_a_valid_har_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clean.har");
    let (code, err) = triage(&[
        "redact",
        fixture("har/truncated.har").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "exit code; stderr: {err}");
    assert!(
        err.contains("log.entries[2]") && err.contains("2 entries"),
        "stderr: {err}"
    );
    let har: Value = serde_json::from_slice(&std::fs::read(&out).unwrap())
        .expect("output is a complete JSON document");
    assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(2));
    assert!(!std::fs::read_to_string(&out)
        .unwrap()
        .contains("PLANTED-bearer-7f3a9c"));
}

/// A file that is no HAR at all gives no entry: the output it named keeps what it held, rather
/// than becoming an empty HAR.
#[test]
fn redact_of_what_is_no_har_leaves_the_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hello.txt");
    std::fs::write(&input, "hello, not a HAR\n").unwrap();
    let out = dir.path().join("existing.har");
    std::fs::write(&out, "keep me").unwrap();
    let (code, err) = triage(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "exit code; stderr: {err}");
    assert!(err.contains("is left as it was"), "stderr: {err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "a temporary file was left behind: {left:?}");
}

#[test]
fn redacting_the_redaction_of_a_har_cut_before_its_entries_changes_nothing() {
    // Cut before `entries`, the output gets an empty list of its own; redacting that output
    // again wrote the list another way (`[\n]` for `[]`), which is not "changes nothing".
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.har");
    let text = std::fs::read(fixture("har/chrome.har")).unwrap();
    let at = text.windows(9).position(|w| w == b"\"entries\"").unwrap();
    for input in [
        &text[..at],
        &br#"{"log": {"version": "1.2", "entries": []}}"#[..],
    ] {
        std::fs::write(&cut, input).unwrap();
        let mut once = Vec::new();
        triage::har::redact_har(&cut, &mut once, false).unwrap();
        let again = dir.path().join("once.har");
        std::fs::write(&again, &once).unwrap();
        let mut twice = Vec::new();
        let outcome = triage::har::redact_har(&again, &mut twice, false).unwrap();
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        assert_eq!(
            String::from_utf8_lossy(&twice),
            String::from_utf8_lossy(&once),
            "redacting the output again"
        );
    }
}

#[test]
fn redact_of_a_har_with_entries_twice_writes_json() {
    // A second `entries` list began with a comma, as if it went on from the first.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("twice.har");
    let entry = r#"{"request": {"method": "GET", "url": "https://api.mypurecloud.ie/api/v2/x"}}"#;
    std::fs::write(
        &input,
        format!(r#"{{"log": {{"entries": [{entry}], "entries": [{entry}, {entry}]}}}}"#),
    )
    .unwrap();
    let mut out = Vec::new();
    let outcome = triage::har::redact_har(&input, &mut out, false).unwrap();
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.entries, 3);
    let har: Result<Value, _> = serde_json::from_slice(&out);
    assert!(
        har.is_ok(),
        "the output is JSON: {:?}\n{}",
        har.err(),
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn a_long_repetitive_credential_is_redacted_in_linear_time() {
    // Copies of a credential are looked for with an Aho-Corasick automaton; its DFA takes time
    // quadratic in a periodic pattern's length to build, so a 64 KiB token of repeated text
    // kept `triage redact` (and every redacting writer) busy for minutes.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("token.har");
    let token = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2 * 1024);
    let har = json!({"log": {"entries": [har_entry(
        "https://api.mypurecloud.ie/api/v2/users/me",
        json!([{"name": "authorization", "value": format!("Bearer {token}")}]),
        None,
        401,
        json!([{"name": "content-type", "value": "application/json"}]),
        json!({"size": -1, "mimeType": "application/json",
               "text": json!({"message": format!("bad token {token}")}).to_string()}),
        "",
    )]}});
    std::fs::write(&input, har.to_string()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let outcome = triage::har::redact_har(&input, &mut out, false).unwrap();
        let _ = tx.send((outcome.entries, out));
    });
    let limit = std::time::Duration::from_secs(20);
    let (entries, out) = rx.recv_timeout(limit).unwrap_or_else(|_| {
        panic!(
            "redacting a {} KiB token took over {limit:?}",
            token.len() >> 10
        )
    });
    assert_eq!(entries, 1);
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("abcdefghijklmnopqrstuvwxyz"),
        "the token and its echo are redacted"
    );
}

#[cfg(unix)]
#[test]
fn redact_of_a_gzip_body_with_a_false_size_allocates_no_more_than_it_reads() {
    // A gzip member's last 4 bytes state its decoded size; the one-call decoder allocated that
    // much before decoding. Redaction decodes base64 bodies without a limit, so damaged bytes
    // stating 2 GiB had `triage redact` allocate 2 GiB (and die under a memory limit).
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"message": "Bearer PLANTED-bearer-77 expired"}"#)
        .unwrap();
    let mut body = gz.finish().unwrap();
    let n = body.len();
    body[n - 4..].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gz.har");
    let har = json!({"log": {"entries": [har_entry(
        "https://api.mypurecloud.ie/api/v2/users/me",
        json!([{"name": "authorization", "value": "Bearer PLANTED-bearer-77"}]),
        None,
        401,
        json!([{"name": "content-encoding", "value": "gzip"}]),
        json!({"size": -1, "mimeType": "application/json", "encoding": "base64",
               "text": base64::engine::general_purpose::STANDARD.encode(&body)}),
        "",
    )]}});
    std::fs::write(&input, har.to_string()).unwrap();
    let out = dir.path().join("out.har");
    // 1 GiB of address space: plenty for triage, not for the size the bytes state.
    let run = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_triage"))
        .args([
            "redact",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "exit status\n  expected: 0\n       got: {:?}; stderr: {}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    assert_no_secrets(&out, &[]);
}

#[test]
fn redact_refuses_to_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.har");
    std::fs::copy(fixture("har/chrome.har"), &p).unwrap();
    let (code, err) = triage(&["redact", p.to_str().unwrap(), "-o", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("are the same file"), "{err}");
    assert_eq!(
        std::fs::read(&p).unwrap(),
        std::fs::read(fixture("har/chrome.har")).unwrap()
    );
}

#[test]
fn redact_streams_stdin_to_stdout() {
    let input = std::fs::read(fixture("har/secrets.har")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["redact", "-", "-o", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for p in PLANTED {
        assert!(!text.contains(p), "planted secret {p} on stdout");
    }
    let har: Value = serde_json::from_str(&text).expect("stdout is a HAR");
    assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(3));
}

#[test]
fn recording_is_readable_while_it_grows() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let recorder = Recorder::open(&rec).unwrap();
    let exs = exchanges("har/firefox.har");
    for (n, ex) in exs.iter().enumerate() {
        recorder.append(ex, &[]).unwrap();
        // No flush, no close: each appended line is in the file as soon as append returns.
        let read: Vec<_> = ingest::read(&rec, &ReadOptions::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("after {} appends: {e}", n + 1));
        assert_eq!(read.len(), n + 1, "records visible after {} appends", n + 1);
    }
    // A second recorder (another proxy process) appends to the same file.
    Recorder::open(&rec).unwrap().append(&exs[0], &[]).unwrap();
    assert_eq!(
        ingest::read(&rec, &ReadOptions::default()).unwrap().count(),
        exs.len() + 1
    );
}

/// A HAR entry as browsers write it, with a response `content` of its own.
fn har_entry(
    url: &str,
    req_headers: Value,
    post: Option<Value>,
    status: u16,
    resp_headers: Value,
    content: Value,
    redirect: &str,
) -> Value {
    let mut request = json!({"method": "GET", "url": url, "httpVersion": "HTTP/1.1",
        "headers": req_headers, "queryString": [], "cookies": [], "headersSize": -1, "bodySize": -1});
    if let Some(p) = post {
        request["method"] = json!("POST");
        request["postData"] = p;
    }
    json!({"startedDateTime": "2026-03-01T10:20:41.500Z", "time": 10, "request": request,
        "response": {"status": status, "statusText": "X", "httpVersion": "HTTP/1.1",
            "headers": resp_headers, "cookies": [], "content": content, "redirectURL": redirect,
            "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}})
}

#[test]
fn redact_removes_fragment_tokens_and_every_echo_of_a_credential() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let echo_401 = r#"{"message":"Invalid token Bearer UPACCESSTOKEN1","code":"bad.credentials"}"#;
    let entries = vec![
        // The implicit grant: the token in the redirect's fragment.
        har_entry(
            "https://login.mypurecloud.com/oauth/authorize?client_id=c&response_type=token",
            json!([]),
            None,
            302,
            json!([{"name": "Location", "value": "https://app/cb#access_token=IMPLICITTOKEN1&expires_in=86399"}]),
            json!({"size": 0, "mimeType": "text/html", "text": ""}),
            "https://app/cb#access_token=IMPLICITTOKEN1&expires_in=86399",
        ),
        har_entry(
            "https://api.mypurecloud.com/api/v2/users/me#access_token=IMPLICITTOKEN1",
            json!([{"name": "Referer", "value": "https://app/cb#access_token=IMPLICITTOKEN1&state=s1"},
                   {"name": "Authorization", "value": "Bearer UPACCESSTOKEN1"}]),
            None,
            401,
            json!([{"name": "Content-Type", "value": "application/json"},
                   {"name": "X-Refused", "value": "token UPACCESSTOKEN1"}]),
            json!({"size": 70, "mimeType": "application/json", "text": echo_401}),
            "",
        ),
        // The same echo, base64 as some tools store it.
        har_entry(
            "https://api.mypurecloud.com/api/v2/users/me",
            json!([{"name": "Authorization", "value": "Bearer UPACCESSTOKEN1"}]),
            None,
            401,
            json!([{"name": "Content-Type", "value": "application/json"}]),
            json!({"size": 70, "mimeType": "application/json", "encoding": "base64", "text": b64(echo_401)}),
            "",
        ),
        // A Basic password, a JSON and a form secret quoted back.
        har_entry(
            "https://login.mypurecloud.com/oauth/token",
            json!([{"name": "Authorization", "value": format!("Basic {}", b64("myclient:BASICPW9"))},
                   {"name": "Content-Type", "value": "application/json"}]),
            Some(json!({"mimeType": "application/json",
                "text": r#"{"grant_type":"client_credentials","clientSecret":"JSONSECRET1"}"#})),
            401,
            json!([]),
            json!({"size": 80, "mimeType": "application/json",
                "text": r#"{"error":"invalid_client","error_description":"bad secret JSONSECRET1 for myclient (BASICPW9)"}"#}),
            "",
        ),
        har_entry(
            "https://login.mypurecloud.com/oauth/token",
            json!([{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}]),
            Some(json!({"mimeType": "application/x-www-form-urlencoded",
                "text": "grant_type=refresh_token&refresh_token=REFRESHPW9",
                "params": [{"name": "refresh_token", "value": "REFRESHPW9"}]})),
            400,
            json!([]),
            json!({"size": 60, "mimeType": "application/json",
                "text": r#"{"error":"unauthorized_client","error_description":"refresh token REFRESHPW9 is revoked"}"#}),
            "",
        ),
    ];
    let har = json!({"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": entries}});
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("echo.har");
    std::fs::write(&input, har.to_string()).unwrap();
    let out = dir.path().join("clean.har");
    let (code, err) = triage(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "exit code; stderr: {err}");
    let text = std::fs::read_to_string(&out).unwrap();
    for planted in [
        "IMPLICITTOKEN1",
        "UPACCESSTOKEN1",
        "BASICPW9",
        "JSONSECRET1",
        "REFRESHPW9",
    ] {
        assert!(!text.contains(planted), "{planted} kept in:\n{text}");
    }
    let red = |s: &str| format!("[redacted {}]", redact::fingerprint(s.as_bytes()));
    let got: Value = serde_json::from_str(&text).unwrap();
    let e = &got["log"]["entries"];
    let implicit = format!(
        "https://app/cb#access_token={}&expires_in=86399",
        red("IMPLICITTOKEN1")
    );
    assert_eq!(e[0]["response"]["headers"][0]["value"], implicit.as_str());
    assert_eq!(e[0]["response"]["redirectURL"], implicit.as_str());
    assert_eq!(
        e[1]["request"]["url"],
        format!(
            "https://api.mypurecloud.com/api/v2/users/me#access_token={}",
            red("IMPLICITTOKEN1")
        )
    );
    assert_eq!(
        e[1]["request"]["headers"][0]["value"],
        format!(
            "https://app/cb#access_token={}&state=s1",
            red("IMPLICITTOKEN1")
        )
    );
    let echo = format!(
        r#"{{"message":"Invalid token Bearer {}","code":"bad.credentials"}}"#,
        red("UPACCESSTOKEN1")
    );
    assert_eq!(e[1]["response"]["content"]["text"], echo.as_str());
    assert_eq!(
        e[1]["response"]["headers"][1]["value"],
        format!("token {}", red("UPACCESSTOKEN1"))
    );
    assert_eq!(e[2]["response"]["content"]["text"], echo.as_str());
    assert_eq!(e[2]["response"]["content"].get("encoding"), None);
    assert_eq!(
        e[3]["response"]["content"]["text"],
        format!(
            r#"{{"error":"invalid_client","error_description":"bad secret {} for myclient ({})"}}"#,
            red("JSONSECRET1"),
            red("BASICPW9")
        )
    );
    assert_eq!(
        e[4]["response"]["content"]["text"],
        format!(
            r#"{{"error":"unauthorized_client","error_description":"refresh token {} is revoked"}}"#,
            red("REFRESHPW9")
        )
    );
}

#[test]
fn a_recording_and_its_export_replace_an_echoed_token() {
    let mut ex = synthetic().remove(0);
    let mut auth = HeaderMap::new();
    auth.insert(
        "authorization",
        HeaderValue::from_static("Bearer UPACCESSTOKEN1"),
    );
    ex.request.headers = auth;
    let resp = ex.response.as_mut().unwrap();
    resp.status = StatusCode::UNAUTHORIZED;
    resp.headers
        .insert("content-type", HeaderValue::from_static("text/plain"));
    resp.body = BodyPrefix::complete(Bytes::from_static(b"Invalid token Bearer UPACCESSTOKEN1"));
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    Recorder::open(&rec)
        .unwrap()
        .append(
            &ex,
            &[json!({"cause": "The upstream said: Invalid token Bearer UPACCESSTOKEN1"})],
        )
        .unwrap();
    let har = dir.path().join("out.har");
    let (code, err) = triage(&[
        "export",
        "--har",
        har.to_str().unwrap(),
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let expected = format!(
        "Invalid token Bearer [redacted {}]",
        redact::fingerprint(b"UPACCESSTOKEN1")
    );
    for file in [&rec, &har] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains("UPACCESSTOKEN1"), "token kept in:\n{text}");
        assert_eq!(
            text.matches(&expected).count(),
            2,
            "the body and the cause keep their words in:\n{text}"
        );
    }
}

/// One recording line, as `Recorder` writes them.
fn record_line(v: Value) -> String {
    let mut s = serde_json::to_string(&v).unwrap();
    assert!(s.starts_with("{\"v\":"), "v first, as recordings have it");
    s.push('\n');
    s
}

/// `triage export --har` of `rec` to `out`, parsed.
fn export_har(rec: &Path, out: &Path) -> Value {
    let (code, err) = triage(&[
        "export",
        "--har",
        out.to_str().unwrap(),
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "export exit code; stderr: {err}");
    serde_json::from_slice(&std::fs::read(out).unwrap()).expect("the export is JSON")
}

/// The diagnoses of every diagnosed exchange, as `triage explain --format json` gives them
/// (the file and entry they came from left out).
fn explain_json(file: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["explain", "--format", "json"])
        .arg(file)
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "explain {}: no input error\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["diagnoses"].clone())
        .collect()
}

/// A recording of an older triage, which did not record the scheme, port or HTTP version:
/// the export keeps `https://` and the host (what Genesys Cloud is reached by), writes
/// HTTP/1.1 (HAR requires a version) and says it is assumed.
#[test]
fn export_of_a_recording_without_url_or_version_keeps_https_and_says_http_1_1_is_assumed() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("old.jsonl");
    std::fs::write(
        &rec,
        record_line(json!({"v":1,"seq":1,"time":"2026-03-01T10:00:00.000Z","origin":"live",
            "request":{"method":"GET","path":"/api/v2/users/me","query":"expand=x","host":"api.mypurecloud.ie","upstream":"api","headers":[]},
            "response":{"status":401,"headers":[["content-type","application/json"]],
                "body":"{\"message\":\"No authentication bearer token specified in authorization header.\",\"code\":\"authentication.required\",\"status\":401}"}})),
    )
    .unwrap();
    let har = export_har(&rec, &dir.path().join("old.har"));
    let e = &har["log"]["entries"][0];
    assert_eq!(
        e["request"]["url"], "https://api.mypurecloud.ie/api/v2/users/me?expand=x",
        "request.url of a recording that does not say the scheme"
    );
    for side in ["request", "response"] {
        assert_eq!(
            e[side]["httpVersion"], "HTTP/1.1",
            "{side}.httpVersion\n  expected: HTTP/1.1 (assumed)\n       got: {}",
            e[side]["httpVersion"]
        );
        assert!(
            e[side]["comment"]
                .as_str()
                .is_some_and(|c| c.contains("not recorded")),
            "{side}.comment\n  expected: that the version was not recorded\n       got: {}",
            e[side]["comment"]
        );
    }
    assert_eq!(e["_triage"]["http_version"], Value::Null);
    // Read back, the version is still not known: our own assumption is not taken for a fact.
    let back: Vec<Exchange> = ingest::read(&dir.path().join("old.har"), &ReadOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(back[0].response.as_ref().unwrap().version, None);
}

/// Bodies the recording holds only a prefix of (a capture or inspection limit): the export
/// gives their size as sent where the head says it (`Content-Length`), `-1` where nothing does,
/// and says in a `comment` that the text is a prefix; read back, they are prefixes again, so
/// `triage explain` of the export diagnoses what it did of the recording.
#[test]
fn an_export_is_honest_about_bodies_it_holds_a_prefix_of_and_explains_as_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("prefix.jsonl");
    let send = "/api/v2/conversations/messages/c1/communications/m1/messages";
    let conflict = "{\"message\":\"The request conflicts with the current state of the target resource.\",\"code\":\"request.conflict\",\"status\":409,\"details\":[{\"errorCode\":\"x\"";
    let request_prefix =
        "{\"textBody\":\"[redacted: 20 chars]\",\"padding\":\"aaaaaaaaaaaaaaaaaaaa";
    let mut text = String::new();
    for (seq, headers) in [
        (
            1,
            json!([
                ["content-type", "application/json"],
                ["content-length", "70000"]
            ]),
        ),
        (
            2,
            json!([
                ["content-type", "application/json"],
                ["transfer-encoding", "chunked"]
            ]),
        ),
    ] {
        text.push_str(&record_line(json!({"v":1,"seq":seq,"time":format!("2026-03-01T10:00:0{seq}.000Z"),"origin":"live",
            "request":{"method":"POST","path":send,"host":"api.mypurecloud.ie","upstream":"api","headers":headers,
                "body":request_prefix,"body_complete":false},
            "response":{"status":409,"headers":[["content-type","application/json"],["content-length","2000000"]],
                "body":conflict,"body_complete":false}})));
    }
    std::fs::write(&rec, text).unwrap();
    let out = dir.path().join("prefix.har");
    let har = export_har(&rec, &out);
    let entries = har["log"]["entries"].as_array().unwrap();
    let n = request_prefix.len();

    let with_length = &entries[0]["request"];
    assert_eq!(
        with_length["bodySize"], 70000,
        "request.bodySize\n  expected: 70000 (its Content-Length)\n       got: {}",
        with_length["bodySize"]
    );
    let comment = with_length["postData"]["comment"].as_str().unwrap_or("");
    assert!(
        comment.contains(&format!("first {n} bytes")) && comment.contains("70000"),
        "postData.comment\n  expected: that the text is the first {n} bytes of 70000\n       got: {comment:?}"
    );
    let chunked = &entries[1]["request"];
    assert_eq!(
        chunked["bodySize"], -1,
        "request.bodySize of a chunked body recorded in part\n  expected: -1 (not known)\n       got: {}",
        chunked["bodySize"]
    );
    let comment = chunked["postData"]["comment"].as_str().unwrap_or("");
    assert!(
        comment.contains(&format!("first {n} bytes")) && comment.contains("not known"),
        "postData.comment\n  expected: the first {n} bytes, whole size not known\n       got: {comment:?}"
    );
    let response = &entries[0]["response"];
    assert_eq!(
        response["bodySize"], 2_000_000,
        "response.bodySize: its Content-Length"
    );
    assert_eq!(
        response["content"]["size"], 2_000_000,
        "content.size: not content-coded, so its Content-Length"
    );
    assert!(
        response["content"]["comment"].as_str().is_some_and(|c| c
            .contains(&format!("first {} bytes", conflict.len()))
            && c.contains("2000000")),
        "content.comment\n  expected: that the text is the first {} bytes of 2000000\n       got: {}",
        conflict.len(),
        response["content"]
    );

    // Read back, the export's bodies are prefixes, as the recording's are.
    let from_rec: Vec<Exchange> = ingest::read(&rec, &ReadOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let from_har: Vec<Exchange> = ingest::read(&out, &ReadOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (i, (a, b)) in from_rec.iter().zip(&from_har).enumerate() {
        let whole = |ex: &Exchange| {
            (
                ex.request.body.complete,
                ex.response.as_ref().map(|r| r.body.complete),
                ex.inspection,
            )
        };
        assert_eq!(
            whole(b),
            whole(a),
            "exchange {i}: (request body whole, response body whole, inspection)\n  expected: as from the recording\n       got: from the export"
        );
    }
    assert_eq!(
        explain_json(&out),
        explain_json(&rec),
        "diagnoses of the export\n  expected: those of the recording"
    );
}

#[test]
fn how_a_live_exchange_ended_is_recorded_and_read_back() {
    use triage::inspect::{Answered, Ending};
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("ended.jsonl");
    let recorder = Recorder::open(&rec).unwrap();
    let [served, mut unanswered]: [Exchange; 2] = synthetic().try_into().unwrap();
    unanswered.request.headers.insert(
        "authorization",
        HeaderValue::from_static("Bearer PLANTED-bearer-77"),
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        "proxy-status",
        HeaderValue::from_static("triage; error=tls_protocol_error; details=\"handshake failed\""),
    );
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/problem+json"),
    );
    let answered = Ending {
        answered: Some(Answered {
            status: 502,
            error: "tls_protocol_error",
            detail: "handshake failed".into(),
            headers,
            // An answer quoting what the client sent must not carry its credential on.
            body: Bytes::from_static(
                br#"{"status":502,"detail":"handshake failed for Bearer PLANTED-bearer-77","proxy_status_error":"tls_protocol_error"}"#,
            ),
        }),
        ..Ending::default()
    };
    recorder.append_ended(&unanswered, &[], &answered).unwrap();
    let gone = Ending {
        client_gone: true,
        ..Ending::default()
    };
    recorder.append_ended(&served, &[], &gone).unwrap();
    let cut = Ending {
        cut_at_shutdown: true,
        ..Ending::default()
    };
    recorder.append_ended(&served, &[], &cut).unwrap();
    recorder.append(&served, &[]).unwrap();
    assert_no_secrets(&rec, &[]);

    let read: Vec<recording::Recorded> = recording::open(&rec, usize::MAX / 2)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(read.len(), 4);
    let a = read[0].triage_answer.as_ref().expect("triage's answer");
    assert_eq!(
        (a.status, a.error.as_str(), a.detail.as_str()),
        (502, "tls_protocol_error", "handshake failed")
    );
    // What the client got is the exchange's response; the upstream's stays none in the file.
    let resp = read[0].exchange.response.as_ref().unwrap();
    assert_eq!(resp.status, 502);
    assert!(resp.headers["proxy-status"]
        .to_str()
        .unwrap()
        .starts_with("triage; error=tls_protocol_error"));
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(&rec)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(line["response"].is_null(), "{line}");
    let outcomes: Vec<Option<&str>> = read.iter().map(|r| r.outcome.as_deref()).collect();
    assert_eq!(
        outcomes,
        [None, Some("client-gone"), Some("cut-at-shutdown"), None]
    );
    assert!(read[1..].iter().all(|r| r.triage_answer.is_none()));
}

#[test]
fn redact_removes_secrets_from_members_tools_add_and_headers_no_list_names() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut entry = har_entry(
        "https://api.mypurecloud.com/api/v2/conversations/messages",
        json!([{"name": "X-Genesys-Token", "value": "HDRTOKEN-0123456789"},
               {"name": "X-Forwarded-Auth", "value": "Bearer FWDBEARER-0123456789"},
               {"name": "X-Relay", "value": format!("Basic {}", b64("relay:RELAYPASSWORD-77"))},
               {"name": "X-Journey-Session-Id", "value": "journey-session-1"},
               {"name": "Idempotency-Key", "value": "idem-key-1"}]),
        None,
        409,
        json!([{"name": "Access-Control-Allow-Credentials", "value": "true"},
               {"name": "Content-Type", "value": "application/json"}]),
        json!({"size": 2, "mimeType": "application/json", "text": "{}"}),
        "",
    );
    entry["_extra"] = json!({"auth": {"access_token": "EXTRAACCESS-0123456789"}, "note": "kept"});
    entry["_custom"] = json!({"client_secret": "CUSTOMSECRET-0123456789",
        "log": ["sent Authorization: Bearer LOGBEARER-0123456789ab"],
        "form": "grant_type=client_credentials&client_secret=FORMSECRET-0123456789",
        "doc": r#"{"refresh_token":"DOCREFRESH-0123456789"}"#});
    entry["request"]["_wrapper"] = json!({"password": "WRAPPERPW-0123456789"});
    entry["comment"] = json!("retried with Bearer COMMENTBEARER-0123456789");
    let har = json!({
        "_exporter": {"apiKey": "TOPAPIKEY-0123456789"},
        "log": {"version": "1.2", "creator": {"name": "x", "version": "1"},
            "_session": {"token": "LOGTOKEN-0123456789"},
            "pages": [{"id": "p", "title": "t", "_auth": {"secret": "PAGESECRET-0123456789"}}],
            "entries": [entry]}});
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tools.har");
    std::fs::write(&input, har.to_string()).unwrap();
    let out = dir.path().join("clean.har");
    let (code, err) = triage(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "exit code; stderr: {err}");
    let text = std::fs::read_to_string(&out).unwrap();
    for planted in [
        "HDRTOKEN-0123456789",
        "FWDBEARER-0123456789",
        "RELAYPASSWORD-77",
        &b64("relay:RELAYPASSWORD-77"),
        "EXTRAACCESS-0123456789",
        "CUSTOMSECRET-0123456789",
        "LOGBEARER-0123456789ab",
        "FORMSECRET-0123456789",
        "DOCREFRESH-0123456789",
        "WRAPPERPW-0123456789",
        "COMMENTBEARER-0123456789",
        "TOPAPIKEY-0123456789",
        "LOGTOKEN-0123456789",
        "PAGESECRET-0123456789",
    ] {
        assert!(!text.contains(planted), "{planted} kept in:\n{text}");
    }
    let red = |s: &str| format!("[redacted {}]", redact::fingerprint(s.as_bytes()));
    let got: Value = serde_json::from_str(&text).unwrap();
    let e = &got["log"]["entries"][0];
    let headers = &e["request"]["headers"];
    assert_eq!(headers[0]["value"], red("HDRTOKEN-0123456789").as_str());
    assert_eq!(
        headers[1]["value"],
        format!("Bearer {}", red("FWDBEARER-0123456789")).as_str()
    );
    // Names and values that are no credentials stay as they were.
    assert_eq!(headers[3]["value"], "journey-session-1");
    assert_eq!(headers[4]["value"], "idem-key-1");
    assert_eq!(e["response"]["headers"][0]["value"], "true");
    assert_eq!(e["_extra"]["note"], "kept");
    assert_eq!(
        e["_custom"]["log"][0],
        format!(
            "sent Authorization: Bearer {}",
            red("LOGBEARER-0123456789ab")
        )
        .as_str()
    );
    assert_eq!(
        e["comment"],
        format!("retried with Bearer {}", red("COMMENTBEARER-0123456789")).as_str()
    );
    // Redacting the output again changes nothing.
    let again = dir.path().join("again.har");
    let (code, err) = triage(&[
        "redact",
        out.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "exit code; stderr: {err}");
    assert_eq!(std::fs::read_to_string(&again).unwrap(), text);
}

#[test]
fn redact_replaces_a_compressed_body_too_large_to_search() {
    // A small gzip member that decodes to 65 MiB: redaction would have to hold all of it to
    // search it for secrets, so it holds at most 64 MiB and replaces the body instead.
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..65 {
        gz.write_all(&zeros).unwrap();
    }
    gz.write_all(br#"{"access_token":"BOMBTOKEN-0123456789"}"#)
        .unwrap();
    let body = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bomb.har");
    let har = json!({"log": {"entries": [har_entry(
        "https://api.mypurecloud.ie/api/v2/users/me",
        json!([]),
        None,
        200,
        json!([{"name": "content-encoding", "value": "gzip"}]),
        json!({"size": -1, "mimeType": "application/json", "encoding": "base64",
               "text": base64::engine::general_purpose::STANDARD.encode(&body)}),
        "",
    )]}});
    std::fs::write(&input, har.to_string()).unwrap();
    let out = dir.path().join("out.har");
    let (code, err) = triage(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "exit code; stderr: {err}");
    let got: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let content = &got["log"]["entries"][0]["response"]["content"];
    assert_eq!(
        content["text"],
        "[redacted body: decodes to more than 64 MiB, too large to search for secrets]"
    );
    assert_eq!(content.get("encoding"), None, "{content}");
}

/// How each exchange ended reaches the export (`_triage.outcome`, absent when the response
/// reached the client whole), and the export explains as the recording: the same failures,
/// diagnoses and outcomes.
#[test]
fn an_export_carries_how_each_exchange_ended_and_explains_as_the_recording() {
    use triage::inspect::Ending;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("ended.jsonl");
    let recorder = Recorder::open(&rec).unwrap();
    let [served, unanswered]: [Exchange; 2] = synthetic().try_into().unwrap();
    let gone = Ending {
        client_gone: true,
        ..Ending::default()
    };
    let cut = Ending {
        cut_at_shutdown: true,
        ..Ending::default()
    };
    let mut ok = served.clone();
    if let Some(r) = ok.response.as_mut() {
        r.status = StatusCode::OK;
        r.body = BodyPrefix::default();
    }
    ok.inspection = triage::exchange::Inspection::NotWanted;
    let cases: [(&Exchange, &Ending, Option<&str>); 5] = [
        (&served, &gone, Some("client-gone")),
        (&ok, &cut, Some("cut-at-shutdown")),
        (&unanswered, &gone, Some("client-gone")),
        (&unanswered, &cut, Some("cut-at-shutdown")),
        (&ok, &Ending::default(), None),
    ];
    for (ex, ending, _) in &cases {
        recorder.append_ended(ex, &[], ending).unwrap();
    }
    let har = export_har(&rec, &dir.path().join("ended.har"));
    let got: Vec<Option<&str>> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["_triage"].is_object(), "{e}");
            e["_triage"].get("outcome").map(|o| o.as_str().unwrap())
        })
        .collect();
    let want: Vec<Option<&str>> = cases.iter().map(|c| c.2).collect();
    assert_eq!(
        got, want,
        "_triage.outcome of each entry\n  expected: {want:?}\n       got: {got:?}"
    );

    let explained = |file: &Path| -> Vec<(u64, Value, Value)> {
        let out = Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["explain", "--format", "json"])
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "explain {}: failures found\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["index"].as_u64().unwrap(),
                    v["status"].clone(),
                    v.get("outcome").cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    };
    let from_recording = explained(&rec);
    let want = vec![
        (1, json!(404), json!("client-gone")),
        (2, json!(200), json!("cut-at-shutdown")),
        (3, Value::Null, json!("client-gone")),
        (4, Value::Null, json!("cut-at-shutdown")),
    ];
    assert_eq!(
        from_recording, want,
        "explain of the recording (index, status, outcome)\n  expected: {want:?}\n       got: {from_recording:?}"
    );
    let from_export = explained(&dir.path().join("ended.har"));
    assert_eq!(
        from_export, from_recording,
        "explain of the export\n  expected: as of the recording\n       got: {from_export:?}"
    );
}

/// An exchange read from a file that says how it ended (an export's `_triage.outcome`) keeps
/// that when it is recorded again: only a live ending says otherwise.
#[test]
fn an_outcome_read_from_a_file_is_recorded_again() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("again.jsonl");
    let recorder = Recorder::open(&rec).unwrap();
    let [mut served, _]: [Exchange; 2] = synthetic().try_into().unwrap();
    served.outcome = Some(triage::exchange::Outcome::CutAtShutdown);
    recorder.append(&served, &[]).unwrap();
    let read: Vec<recording::Recorded> = recording::open(&rec, usize::MAX / 2)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let got: Vec<Option<&str>> = read.iter().map(|r| r.outcome.as_deref()).collect();
    assert_eq!(
        got,
        [Some("cut-at-shutdown")],
        "outcome recorded\n  expected: [Some(\"cut-at-shutdown\")]\n       got: {got:?}"
    );
    assert_eq!(
        read[0].exchange.outcome,
        Some(triage::exchange::Outcome::CutAtShutdown)
    );
}

#[test]
fn redact_replaces_a_tools_member_it_cannot_read_and_says_so() {
    // What does not parse cannot be searched for credentials: it is not copied, and, like an
    // entry or a pages list of such JSON, named, with exit status 2.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("members.har");
    let entry = har_entry(
        "https://api.mypurecloud.ie/api/v2/users/me",
        json!([]),
        None,
        200,
        json!([]),
        json!({"size": 2, "mimeType": "application/json", "text": "{}"}),
        "",
    );
    std::fs::write(
        &input,
        format!(
            r#"{{"_exporter":{{"n":1e400}},"log":{{"version":"1.2","_session":{{"token":"\ud800SECRETTOKEN-0123"}},"entries":[{entry}]}}}}"#
        ),
    )
    .unwrap();
    let out = dir.path().join("out.har");
    let (code, err) = triage(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "exit code; stderr: {err}");
    let f = input.display();
    for want in [
        format!("triage: error: {f}: _exporter replaced by a placeholder: JSON triage cannot read: the number 1e400 is beyond the range of a 64-bit float"),
        format!("triage: error: {f}: log._session replaced by a placeholder: JSON triage cannot read: a string holds the escape \\ud800, one half of a UTF-16 surrogate pair without the other, which is no Unicode text"),
    ] {
        assert!(
            err.lines().any(|l| l == want),
            "stderr\n  expected the line: {want}\n       got: {err}"
        );
    }
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("SECRETTOKEN"), "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["_exporter"], "[redacted: unreadable JSON, 11 bytes]");
    assert_eq!(got["log"]["entries"].as_array().unwrap().len(), 1);
}

/// `triage redact … -o - | head` and `triage export --har - … | head`: a reader that went away
/// is no error, as for `triage explain`: nothing on standard error, and the status of what was
/// read (0 here).
#[test]
fn redact_and_export_to_a_reader_that_went_away_end_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // Larger than a pipe's buffer, so that writing cannot finish before the reader is gone.
    let mut entries = Vec::new();
    let text = "x".repeat(4096);
    for i in 0..100 {
        entries.push(har_entry_json(i, &text));
    }
    let har = dir.path().join("big.har");
    std::fs::write(
        &har,
        json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}})
            .to_string(),
    )
    .unwrap();
    let rec = dir.path().join("rec.jsonl");
    let recorder = Recorder::open(&rec).unwrap();
    for ex in exchanges("har/chrome.har").iter().cycle().take(300) {
        recorder.append(ex, &[]).unwrap();
    }
    drop(recorder);
    for args in [
        vec!["redact", har.to_str().unwrap(), "-o", "-"],
        vec!["export", "--har", "-", rec.to_str().unwrap()],
    ] {
        let (code, stderr) = common::run_triage_reader_gone(&args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

fn har_entry_json(i: usize, text: &str) -> Value {
    json!({"startedDateTime": "2026-03-01T10:00:00Z", "time": 1,
        "request": {"method": "GET", "url": format!("https://api.mypurecloud.ie/api/v2/users/{i}"),
            "httpVersion": "HTTP/1.1", "headers": [], "queryString": [], "cookies": [],
            "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [],
            "cookies": [], "content": {"size": text.len(), "mimeType": "text/plain", "text": text},
            "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}})
}

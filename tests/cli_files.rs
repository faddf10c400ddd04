//! Output files of `redact`, `export --har` and `explain -o` that are the input under another
//! name (a hard link, standard input redirected from it): refused, the input left intact.
#![cfg(unix)]

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::run_triage as triage;
use serde_json::json;
use triage::ingest::{self, ReadOptions};
use triage::record::Recorder;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Runs `triage` with standard input read from `stdin`: (exit code, stdout, stderr).
fn triage_stdin(stdin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .stdin(Stdio::from(File::open(stdin).unwrap()))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of `fixture` in `dir` as `name`, and its bytes.
fn copy(dir: &Path, fixture_rel: &str, name: &str) -> (PathBuf, Vec<u8>) {
    let p = dir.join(name);
    std::fs::copy(fixture(fixture_rel), &p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

/// A recording of the exchanges of `har/secrets.har`, and its bytes.
fn recording(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let p = dir.join(name);
    let recorder = Recorder::open(&p).unwrap();
    for ex in ingest::read(&fixture("har/secrets.har"), &ReadOptions::default()).unwrap() {
        recorder
            .append(&ex.unwrap(), &[json!({"rule": "r1"})])
            .unwrap();
    }
    drop(recorder);
    let bytes = std::fs::read(&p).unwrap();
    assert!(!bytes.is_empty(), "the recording has entries");
    (p, bytes)
}

fn hard_link(dir: &Path, of: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::hard_link(of, &p).unwrap();
    p
}

#[track_caller]
fn assert_refused(
    (code, _, err): (i32, String, String),
    input: &str,
    output: &Path,
    file: &Path,
    before: &[u8],
) {
    assert_eq!(
        code, 2,
        "exit code\n  expected: 2\n       got: {code}\nstderr: {err}"
    );
    let expected = format!(
        "the output {} and the input {input} are the same file",
        output.display()
    );
    assert!(
        err.contains(&expected),
        "stderr\n  expected to contain: {expected}\n                  got: {err}"
    );
    let after = std::fs::read(file).unwrap();
    assert!(
        after == before,
        "{} changed\n  expected: {} bytes, as before\n       got: {} bytes",
        file.display(),
        before.len(),
        after.len()
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn redact_refuses_a_hard_link_of_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let (input, before) = copy(dir.path(), "har/secrets.har", "in.har");
    let out = hard_link(dir.path(), &input, "hard.har");
    let got = triage(&["redact", s(&input), "-o", s(&out)]);
    assert_refused(got, s(&input), &out, &input, &before);
}

#[test]
fn redact_refuses_an_output_that_is_its_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let (input, before) = copy(dir.path(), "har/secrets.har", "in.har");
    let got = triage_stdin(&input, &["redact", "-", "-o", s(&input)]);
    assert_refused(got, "(standard input)", &input, &input, &before);
}

#[test]
fn export_refuses_a_hard_link_of_its_recording() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, before) = recording(dir.path(), "rec.jsonl");
    let out = hard_link(dir.path(), &rec, "rec2.jsonl");
    let got = triage(&["export", "--har", s(&out), s(&rec)]);
    assert_refused(got, s(&rec), &out, &rec, &before);
}

#[test]
fn export_refuses_an_output_that_is_its_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let (rec, before) = recording(dir.path(), "rec.jsonl");
    let got = triage_stdin(&rec, &["export", "--har", s(&rec), "-"]);
    assert_refused(got, "(standard input)", &rec, &rec, &before);
}

#[test]
fn explain_refuses_a_hard_link_of_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (input, before) = copy(dir.path(), "explain/closed-conversation.har", "in.har");
    let out = hard_link(dir.path(), &input, "report.txt");
    let got = triage(&["explain", s(&input), "-o", s(&out)]);
    assert_refused(got, s(&input), &out, &input, &before);
}

#[test]
fn explain_refuses_an_output_that_is_its_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let (input, before) = copy(dir.path(), "explain/closed-conversation.har", "in.har");
    let got = triage_stdin(&input, &["explain", "-", "-o", s(&input)]);
    assert_refused(got, "(standard input)", &input, &input, &before);
}

#[test]
fn an_existing_output_is_replaced_whole_and_no_temporary_file_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = copy(dir.path(), "har/secrets.har", "in.har");
    let out = dir.path().join("out.har");
    std::fs::write(&out, "an older, longer output ".repeat(10_000)).unwrap();
    let (code, _, err) = triage(&["redact", s(&input), "-o", s(&out)]);
    assert_eq!(code, 0, "exit code; stderr: {err}");
    let har: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap())
        .expect("the output is one complete JSON document");
    assert!(har["log"]["entries"].is_array(), "{har}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["in.har", "out.har"], "files left in the directory");
}

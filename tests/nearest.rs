//! "Did you mean": the nearest real operations to a path that is none, as `triage ops show`
//! and the `unknown-endpoint` rule's fix name them. A mistyped last segment must bring up the
//! operation it is a misspelling of first, not another one of the same area.

mod common;

use common::run_triage as triage;
use http::Method;
use triage::catalog::load;

/// `.../message` for the real `.../messages` (POST, built-in catalog: FACTS.md).
const TYPO: &str = "/api/v2/conversations/messages/9a8b7c6d-0000-4000-8000-000000000001/communications/aaaa1111-0000-4000-8000-000000000002/message";
const MEANT: &str =
    "POST /api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages";

#[test]
fn the_catalog_ranks_the_closest_spelling_of_the_differing_segment_first() {
    let c = load::builtin();
    let near: Vec<String> = c
        .nearest(&Method::POST, TYPO, 3)
        .iter()
        .map(|o| o.signature())
        .collect();
    assert_eq!(
        near.first().map(String::as_str),
        Some(MEANT),
        "nearest to POST {TYPO}\n  expected first: {MEANT}\n  got: {near:#?}"
    );
}

#[test]
fn ops_show_names_the_misspelt_operation_first() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = triage(&[
        "ops",
        "--cache-dir",
        dir.path().to_str().unwrap(),
        "show",
        "POST",
        TYPO,
    ]);
    assert_eq!(code, 1, "not an operation: exit 1\n{out}{err}");
    let first = out
        .lines()
        .skip_while(|l| !l.starts_with("nearest real operations"))
        .nth(1)
        .unwrap_or("")
        .trim();
    assert!(
        first.starts_with(MEANT),
        "first nearest operation\n  expected: {MEANT} (...)\n       got: {first}\n{out}"
    );
}

#[test]
fn the_unknown_endpoint_fix_suggests_the_misspelt_operation_first() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("404.json");
    std::fs::write(
        &body,
        r#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#,
    )
    .unwrap();
    let (code, out, err) = triage(&[
        "explain",
        "--format",
        "json",
        "--input",
        "json",
        "--method",
        "POST",
        "--path",
        TYPO,
        body.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "a failure: exit 1\n{out}{err}");
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or("")).unwrap();
    let d = &rec["diagnoses"][0];
    assert_eq!(d["rule"], "unknown-endpoint", "{rec:#}");
    let fix = d["fix"].as_str().unwrap_or("");
    let first = fix
        .strip_prefix("The nearest real operations by path: ")
        .unwrap_or(fix);
    assert!(
        first.starts_with(MEANT),
        "first suggestion of the fix\n  expected: {MEANT} (...)\n       got: {fix}"
    );
}

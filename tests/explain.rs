//! `triage explain`: the binary where exit codes matter, the renderers directly otherwise.
//! Fixtures under `tests/fixtures/explain/` are Chrome-shaped HAR files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::Value;
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::ingest::{self, ReadOptions};
use triage::report::explain::{self, Report};
use triage::rules::RuleSet;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn triage_in(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("explain")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TRIAGE_RULES")
        .env_remove("TRIAGE_NO_BUILTIN_RULES")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn triage(args: &[&str]) -> Run {
    triage_in(args, None)
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn closed() -> String {
    fixture("explain/closed-conversation.har")
        .display()
        .to_string()
}

/// A replay pipeline, as `triage explain` builds it.
fn pipeline() -> Pipeline {
    Pipeline::new(
        Arc::new(Engine::new(RuleSet::load(true, &[]).unwrap())),
        PipelineOptions {
            replay: true,
            ..PipelineOptions::default()
        },
    )
}

/// The report of files replayed through one pipeline, as the CLI builds it.
fn report_of(files: &[PathBuf], opts: &ReadOptions, keep_content: bool) -> Report {
    let p = pipeline();
    let mut report = Report::new(keep_content);
    triage::cli::explain::replay(&p, files, opts, &mut report, |_| Ok(())).unwrap();
    report
}

fn render(report: &Report, format: explain::Format) -> String {
    let mut out = Vec::new();
    match format {
        explain::Format::Text => explain::text::render(report, &mut out, false, None),
        explain::Format::Json => explain::json::render(report, &mut out),
        explain::Format::Markdown => explain::markdown::render(report, &mut out),
        explain::Format::Html => explain::html::render(report, &mut out),
    }
    .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn closed_conversation_har_text_names_the_rule_and_exits_1() {
    let r = triage(&[&closed()]);
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    assert!(r.out.contains("conversation-closed"), "{}", r.out);
    assert!(r.out.contains("By rule"), "{}", r.out);
    assert!(r.out.contains("Failing exchanges"), "{}", r.out);
    assert!(
        r.out.contains("0e1f2a3b-0000-4000-8000-00000000c0de"),
        "correlation id: {}",
        r.out
    );
    assert!(
        r.out.contains("2 exchanges read, 1 failed, 1 diagnosed"),
        "{}",
        r.out
    );
    assert!(!r.out.contains('\x1b'), "no colour when not a terminal");
    // The fix is given once, in the summary.
    assert_eq!(
        r.out.matches("Resending unchanged will not help").count(),
        1
    );
}

#[test]
fn json_lines_parse_and_carry_the_rule() {
    let r = triage(&["--format", "json", &closed()]);
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 1, "one line per diagnosed exchange: {}", r.out);
    let l = &lines[0];
    assert_eq!(l["diagnoses"][0]["rule"], "conversation-closed");
    assert_eq!(l["index"], 2);
    assert_eq!(l["status"], 409);
    assert_eq!(l["method"], "POST");
    assert_eq!(l["time"], "2026-03-01T10:20:41.5Z");
    assert_eq!(l["correlation_id"], "0e1f2a3b-0000-4000-8000-00000000c0de");
    assert!(l["url"]
        .as_str()
        .unwrap()
        .starts_with("api.mypurecloud.ie/api/v2/conversations/messages/"));
    for k in ["severity", "cause", "fix", "docs", "evidence"] {
        assert!(
            l["diagnoses"][0].get(k).is_some(),
            "diagnoses[0].{k} missing: {l}"
        );
    }
    assert_eq!(
        l["diagnoses"][0]["evidence"]["conversationId"],
        "5c1e2f0a-0000-4000-8000-000000000001"
    );
    // Totals go to stderr, never stdout.
    assert!(r.err.contains("2 exchanges read"), "{}", r.err);
}

#[test]
fn markdown_has_the_summary_table_fixes_and_failures() {
    let report = report_of(
        &[fixture("explain/closed-conversation.har")],
        &ReadOptions::default(),
        false,
    );
    let md = render(&report, explain::Format::Markdown);
    assert!(md.starts_with("# triage explain report"), "{md}");
    assert!(md.contains("## Summary by rule"), "{md}");
    assert!(
        md.contains("| Rule | Severity | Count | First | Last | Correlation ids |"),
        "{md}"
    );
    assert!(md.contains("| conversation-closed | error | 1 |"), "{md}");
    assert!(md.contains("### conversation-closed: "), "{md}");
    assert!(md.contains("## Failing exchanges"), "{md}");
    assert!(
        md.contains(
            "<https://developer.genesys.cloud/commdigital/digital/openmessaging/outboundMessages>"
        ),
        "{md}"
    );
    // Through the binary too.
    let r = triage(&["--format", "markdown", &closed()]);
    assert_eq!(r.code, 1);
    assert_eq!(r.out, md, "the binary renders the same report");
}

#[test]
fn markdown_escapes_upstream_text() {
    let e = explain::markdown::escape("a | b `code` <img src=x> [l](u) *s*\nnext");
    assert_eq!(
        e,
        r"a \| b \`code\` &lt;img src=x&gt; \[l\]\(u\) \*s\* next"
    );
}

const HOSTILE_CODE: &str = "<script>alert('pwned')</script>|`x`";

fn hostile_body() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "message": "<script>document.location='https://evil.example/'</script>",
        "code": HOSTILE_CODE,
        "status": 409,
        "contextId": "<b>ctx</b>"
    }))
    .unwrap()
}

const SEND_PATH: &str = "/api/v2/conversations/messages/c-1/communications/m-1/messages";

#[test]
fn html_is_one_self_contained_file_escaping_a_hostile_message() {
    let r = triage_in(
        &[
            "--format", "html", "--input", "json", "--method", "POST", "--path", SEND_PATH, "-",
        ],
        Some(&hostile_body()),
    );
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    let html = r.out;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"));
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(html.contains("conversation-closed"), "{html}");
    // The captured code is in the cause, as text.
    assert!(
        html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;ctx&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>ctx"), "{html}");
    // No external resources: the only URLs are links to the rules' docs.
    for attr in ["src=", "<link", "@import", "url("] {
        assert!(!html.contains(attr), "{attr} in {html}");
    }
    for href in html.split("href=\"").skip(1) {
        let url = href.split('"').next().unwrap();
        assert!(
            url.starts_with('#') || url.starts_with("https://developer.genesys.cloud/"),
            "unexpected link {url}"
        );
    }
    assert!(!html.contains("evil.example"), "the message is not shown");
}

#[test]
fn hostile_text_is_escaped_in_markdown_and_clean_in_text() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("body.json");
    std::fs::write(&f, hostile_body()).unwrap();
    let opts = ReadOptions {
        method: Some(http::Method::POST),
        path: Some(SEND_PATH.into()),
        ..ReadOptions::default()
    };
    let report = report_of(&[f], &opts, false);
    let md = render(&report, explain::Format::Markdown);
    assert!(!md.contains("<script"), "{md}");
    assert!(
        md.contains(r"&lt;script&gt;alert\('pwned'\)&lt;/script&gt;\|\`x\`"),
        "{md}"
    );
    let text = render(&report, explain::Format::Text);
    assert!(text.contains("conversation-closed"), "{text}");
}

#[test]
fn a_recording_explains_as_live() {
    let dir = tempfile::tempdir().unwrap();
    let rec_path = dir.path().join("rec.jsonl");
    let recorder = triage::record::Recorder::open(&rec_path).unwrap();
    let live = pipeline();
    let mut live_rules: Vec<(usize, Vec<String>)> = Vec::new();
    // Live traffic comes in time order, as the replay puts it.
    let mut traffic: Vec<_> = [
        "explain/closed-conversation.har",
        "har/chrome.har",
        "explain/secrets.har",
        "har/firefox.har",
    ]
    .iter()
    .flat_map(|f| ingest::read(&fixture(f), &ReadOptions::default()).unwrap())
    .map(Result::unwrap)
    .collect();
    traffic.sort_by_key(|ex| ex.started_at);
    for (i, ex) in traffic.iter().enumerate() {
        let d = live.diagnose(ex);
        let values: Vec<Value> = d.iter().map(|d| serde_json::to_value(d).unwrap()).collect();
        recorder.append(ex, &values).unwrap();
        // Every failure has a line, diagnosed or not (no response at all is one); a diagnosed
        // success too.
        if !d.is_empty() || triage::report::explain::is_failure(ex.status()) {
            live_rules.push((i + 1, d.iter().map(|d| d.rule.clone()).collect()));
        }
    }
    assert!(
        live_rules
            .iter()
            .any(|(_, r)| r.first().is_some_and(|r| r == "conversation-closed")),
        "{live_rules:?}"
    );
    assert!(
        live_rules.iter().any(|(_, r)| r.is_empty()),
        "an undiagnosed failure among the traffic: {live_rules:?}"
    );
    let r = triage(&["--format", "json", rec_path.to_str().unwrap()]);
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    let explained: Vec<(usize, Vec<String>)> = json_lines(&r.out)
        .iter()
        .map(|l| {
            (
                l["index"].as_u64().unwrap() as usize,
                l["diagnoses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["rule"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(explained, live_rules);
}

#[test]
fn truncated_har_reports_what_was_read_and_where_it_broke() {
    let f = fixture("har/truncated.har");
    let r = triage(&["--format", "json", f.to_str().unwrap()]);
    assert_eq!(r.code, 2, "stderr: {}", r.err);
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 2, "{}", r.out);
    // The failure no rule explains has its line, with its correlation id.
    assert_eq!(lines[0]["diagnoses"], serde_json::json!([]));
    assert_eq!(lines[0]["correlation_id"], "ab12");
    assert_eq!(lines[0]["status"], 400);
    assert_eq!(lines[1]["diagnoses"][0]["rule"], "request-conflict");
    assert_eq!(lines[1]["index"], 2);
    for want in [
        "truncated.har",
        "byte 5018",
        "line 181",
        "log.entries[2]",
        "entry 2",
        "2 exchanges of",
    ] {
        assert!(r.err.contains(want), "{want} not in stderr: {}", r.err);
    }
    // Text: the report first, the error on stderr, still exit 2.
    let t = triage(&[f.to_str().unwrap()]);
    assert_eq!(t.code, 2);
    assert!(t.out.contains("request-conflict"), "{}", t.out);
    assert!(t.err.contains("byte 5018"), "{}", t.err);
    // Markdown and HTML reports name the break too.
    let md = triage(&["--format", "markdown", f.to_str().unwrap()]);
    assert_eq!(md.code, 2);
    assert!(md.out.contains("## Input errors"), "{}", md.out);
    assert!(md.out.contains("byte 5018"), "{}", md.out);
}

#[test]
fn a_missing_file_is_an_input_error() {
    let r = triage(&["/nonexistent/x.har"]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("/nonexistent/x.har"), "{}", r.err);
    // Not a clean bill of health: nothing was read at all.
    assert!(
        r.out.contains("Nothing was read (see the errors).") && !r.out.contains("Nothing failed"),
        "expected the report to say nothing was read, got: {}",
        r.out
    );
}

#[test]
fn bare_json_body_with_flags_is_missing_scope() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("body.json");
    std::fs::write(
        &f,
        r#"{"message":"App not authorized to use scope [conversations]","code":"app.not.authorized.for.scope","status":403}"#,
    )
    .unwrap();
    let r = triage(&[
        "--status",
        "403",
        "--method",
        "POST",
        "--path",
        "/api/v2/conversations/messages/agentless",
        "--format",
        "json",
        f.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 1, "{}", r.out);
    assert_eq!(lines[0]["diagnoses"][0]["rule"], "missing-scope");
    assert_eq!(lines[0]["status"], 403);
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["time"], Value::Null);
}

#[test]
fn only_successes_exit_0() {
    let f = fixture("explain/successes.har");
    let r = triage(&[f.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{} {}", r.out, r.err);
    assert!(r.out.contains("Nothing failed"), "{}", r.out);
    let j = triage(&["--format", "json", f.to_str().unwrap()]);
    assert_eq!(j.code, 0);
    assert_eq!(j.out, "");
}

#[test]
fn fail_on_undiagnosed_exits_1_only_for_a_failure_without_diagnosis() {
    // Every failure diagnosed: 1 by default, 0 with --fail-on undiagnosed.
    assert_eq!(triage(&[&closed()]).code, 1);
    assert_eq!(triage(&["--fail-on", "undiagnosed", &closed()]).code, 0);
    assert_eq!(triage(&["--fail-on", "failed", &closed()]).code, 1);
    // chrome.har has a 400 no rule explains.
    let chrome = fixture("har/chrome.har");
    let r = triage(&["--fail-on", "undiagnosed", chrome.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("(no diagnosis)"), "{}", r.out);
    // Successes only: 0 either way.
    let ok = fixture("explain/successes.har");
    assert_eq!(
        triage(&["--fail-on", "undiagnosed", ok.to_str().unwrap()]).code,
        0
    );
    // An input error wins: 2.
    let t = fixture("har/truncated.har");
    assert_eq!(
        triage(&["--fail-on", "undiagnosed", t.to_str().unwrap()]).code,
        2
    );
}

#[test]
fn planted_secrets_never_appear_in_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        fixture("explain/secrets.har"),
        fixture("explain/closed-conversation.har"),
        fixture("har/chrome.har"),
        fixture("har/secrets.har"),
    ];
    let files: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    for format in ["text", "json", "markdown", "html"] {
        let out_file = dir.path().join(format!("report.{format}"));
        let mut args = vec!["--format", format];
        args.extend(&files);
        let r = triage(&args);
        let mut args2 = vec!["--format", format, "-o", out_file.to_str().unwrap()];
        args2.extend(&files);
        let r2 = triage(&args2);
        assert_eq!(r2.out, "", "with -o nothing on stdout");
        let written = std::fs::read_to_string(&out_file).unwrap();
        for (what, text) in [
            ("stdout", &r.out),
            ("stderr", &r.err),
            ("-o file", &written),
        ] {
            for planted in [
                "PLANTED",
                "UExBTlRFRC1jbGllbnQ6", // the Basic credential
                "PRIVATE-customer-words",
            ] {
                assert!(
                    !text.contains(planted),
                    "{planted} in {format} {what}:\n{text}"
                );
            }
        }
        assert!(
            r.out.contains("oauth-client-error") && r.out.contains("token-invalid"),
            "{format}: {}",
            r.out
        );
    }
    // The query token is shown as its fingerprint.
    let r = triage(&["--format", "json", files[0]]);
    assert!(r.out.contains("access_token=[redacted "), "{}", r.out);
}

#[test]
fn evidence_carries_across_files_in_order_and_stdin_is_read() {
    let ok = fixture("explain/successes.har");
    let r = triage(&["--format", "json", ok.to_str().unwrap(), &closed()]);
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["index"], 4, "indexes run across files");
    assert_eq!(lines[0]["entry"], 1);
    assert!(lines[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("closed-conversation.har"));
    let har = std::fs::read(closed()).unwrap();
    let s = triage_in(&["--format", "json", "-"], Some(&har));
    assert_eq!(s.code, 1, "{}", s.err);
    let lines = json_lines(&s.out);
    assert_eq!(lines[0]["file"], "-");
    assert_eq!(lines[0]["diagnoses"][0]["rule"], "conversation-closed");
}

#[test]
fn summary_caps_correlation_ids_and_records() {
    // 15 failing sends with distinct correlation ids, stored records capped at 5.
    let p = pipeline();
    let mut report = Report::new(false).with_max_records(5);
    let base: Vec<_> = ingest::read(
        &fixture("explain/closed-conversation.har"),
        &ReadOptions::default(),
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    for i in 0..15 {
        let mut ex = base[1].clone();
        ex.response.as_mut().unwrap().headers.insert(
            "inin-correlation-id",
            http::HeaderValue::from_str(&format!("corr-{i}")).unwrap(),
        );
        let d = p.diagnose(&ex);
        report.observe("x", i, &ex, &d, false);
    }
    assert_eq!(report.records.len(), 5);
    assert_eq!(report.totals.records_dropped, 10);
    let s = &report.rules[0];
    assert_eq!(s.count, 15);
    assert_eq!(s.correlation_ids.len(), explain::MAX_CORRELATION_IDS);
    assert_eq!(s.more_correlation_ids, 5);
    assert!(explain::correlation_list(s).ends_with("corr-9 and 5 more"));
    let text = render(&report, explain::Format::Text);
    assert!(text.contains("and 10 more not listed"), "{text}");
}

#[test]
fn spec_names_operations_outside_the_builtin_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("swagger.json");
    std::fs::write(
        &spec,
        serde_json::to_vec(&serde_json::json!({
            "swagger": "2.0",
            "paths": {"/api/v2/users/{userId}": {"patch": {
                "operationId": "patchUser",
                "security": [{"PureCloud OAuth": ["users"]}],
                "responses": {}
            }}}
        }))
        .unwrap(),
    )
    .unwrap();
    let curl = fixture("curl/verbose.txt");
    let r = triage(&[
        "--format",
        "json",
        "--spec",
        spec.to_str().unwrap(),
        curl.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.err);
    let lines = json_lines(&r.out);
    assert_eq!(
        lines[0]["diagnoses"][0]["operation"], "patchUser",
        "{}",
        r.out
    );
    // A spec that does not load is a start-up error.
    let bad = triage(&["--spec", "/nonexistent/spec.json", curl.to_str().unwrap()]);
    assert_eq!(bad.code, 2);
    assert!(bad.err.contains("/nonexistent/spec.json"), "{}", bad.err);
}

#[test]
fn customer_text_in_evidence_is_redacted_unless_kept() {
    let ex = ingest::read(
        &fixture("explain/closed-conversation.har"),
        &ReadOptions::default(),
    )
    .unwrap()
    .nth(1)
    .unwrap()
    .unwrap();
    let mut d = pipeline().diagnose(&ex);
    d[0].evidence
        .push(("textBody".into(), "Hello, my card number is 4111".into()));
    d[0].evidence
        .push(("client_secret".into(), "a-client-secret-value".into()));
    for keep in [false, true] {
        let mut report = Report::new(keep);
        let rec = report.observe("x", 0, &ex, &d, false).unwrap();
        let ev = &rec.diagnoses[0].evidence;
        assert_eq!(
            ev["textBody"] == "Hello, my card number is 4111",
            keep,
            "keep_content {keep}: {ev:?}"
        );
        assert!(ev["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("[redacted "));
    }
}

#[test]
fn the_report_is_never_written_over_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.har");
    std::fs::copy(closed(), &f).unwrap();
    let r = triage(&["-o", f.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        std::fs::read_to_string(closed()).unwrap()
    );
}

#[test]
fn other_sites_calls_in_a_browser_har_are_left_out_and_counted() {
    // Three 409s from the Genesys API, and a 401 from another identity provider, a 429 from a
    // font server, a 409 from GitHub and a 403 from an unknown API: rules written for the
    // Platform API must not explain those.
    let f = fixture("explain/other-hosts.har");
    let r = triage(&[f.to_str().unwrap()]);
    assert_eq!(r.code, 1, "the Genesys 409s failed: {} {}", r.out, r.err);
    let first = r.out.lines().next().unwrap_or_default();
    assert!(
        first.contains("3 exchanges read")
            && first.contains("4 exchanges with other hosts left out (mytenant.eu.auth0.com, fonts.googleapis.com, api.github.com, api.example.com; --any-host explains them too)"),
        "expected the totals to count and name the other hosts, got: {first}"
    );
    for other in [
        "auth0",
        "googleapis",
        "github",
        "example.com/api",
        "oauth-client-error",
        "rate-limit",
    ] {
        assert!(
            !r.out.lines().skip(1).any(|l| l.contains(other)),
            "{other} should not be explained; got:\n{}",
            r.out
        );
    }
    let all = triage(&["--any-host", f.to_str().unwrap()]);
    assert!(
        all.out
            .starts_with("triage explain: 7 exchanges read, 7 failed"),
        "--any-host explains every exchange; got: {}",
        all.out.lines().next().unwrap_or_default()
    );
}

/// A token request (HAR entry) whose error description quotes what the client sent.
fn token_error_entry(
    headers: Value,
    post: Value,
    status: u16,
    error: &str,
    description: &str,
) -> Value {
    let body = serde_json::json!({"error": error, "error_description": description}).to_string();
    serde_json::json!({"startedDateTime": "2026-03-01T10:20:41.500Z", "time": 10,
        "request": {"method": "POST", "url": "https://login.mypurecloud.com/oauth/token",
            "httpVersion": "HTTP/1.1", "headers": headers, "queryString": [], "cookies": [],
            "headersSize": -1, "bodySize": -1, "postData": post},
        "response": {"status": status, "statusText": "X", "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": "application/json"}], "cookies": [],
            "content": {"size": body.len(), "mimeType": "application/json", "text": body},
            "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}})
}

#[test]
fn credentials_echoed_in_error_text_appear_in_no_format() {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("myclient:BASICPW9");
    let form = |text: &str| serde_json::json!({"mimeType": "application/x-www-form-urlencoded", "text": text});
    let form_type =
        serde_json::json!([{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}]);
    let entries = vec![
        token_error_entry(
            serde_json::json!([{"name": "Authorization", "value": format!("Basic {basic}")}]),
            form("grant_type=client_credentials"),
            400,
            "unauthorized_client",
            "client myclient with secret BASICPW9 may not use it",
        ),
        token_error_entry(
            serde_json::json!([{"name": "Authorization", "value": format!("Basic {basic}")}]),
            form("grant_type=client_credentials"),
            400,
            "unauthorized_client",
            &format!("bad header Basic {basic}"),
        ),
        token_error_entry(
            form_type.clone(),
            form("grant_type=client_credentials&client_id=myclient&client_secret=FORMPW9"),
            400,
            "unauthorized_client",
            "secret FORMPW9 rejected",
        ),
        token_error_entry(
            form_type,
            form("grant_type=refresh_token&client_id=myclient&refresh_token=REFRESHPW9"),
            400,
            "unauthorized_client",
            "refresh token REFRESHPW9 is revoked",
        ),
    ];
    let har = serde_json::json!({"log": {"version": "1.2",
        "creator": {"name": "x", "version": "1"}, "entries": entries}});
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("echo.har");
    std::fs::write(&input, har.to_string()).unwrap();
    let red = |s: &str| format!("[redacted {}]", triage::redact::fingerprint(s.as_bytes()));
    for format in ["text", "json", "markdown", "html"] {
        let r = triage(&["--format", format, input.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{format}: {}", r.err);
        for planted in ["BASICPW9", "FORMPW9", "REFRESHPW9", basic.as_str()] {
            assert!(
                !r.out.contains(planted) && !r.err.contains(planted),
                "{planted} in {format}:\n{}",
                r.out
            );
        }
        // The message around each credential is kept, and the client id is no secret
        // (Markdown escapes the placeholder's brackets).
        let shown = r.out.replace("\\[", "[").replace("\\]", "]");
        for expected in [
            format!(
                "client myclient with secret {} may not use it",
                red("BASICPW9")
            ),
            format!("bad header Basic {}", red(&basic)),
            format!("secret {} rejected", red("FORMPW9")),
            format!("refresh token {} is revoked", red("REFRESHPW9")),
        ] {
            assert!(
                shown.contains(&expected),
                "{format}: expected {expected} in:\n{}",
                r.out
            );
        }
    }
}

/// A credential that is also a word of the rule's own text (a test client's password `secret`,
/// and the fix's `client_secret`) is redacted where the upstream quotes it, and the rule's text
/// stays whole.
#[test]
fn a_credential_that_is_a_word_of_the_rules_text_leaves_that_text_whole() {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("myclient:secret");
    let entry = |error: &str, description: &str| {
        token_error_entry(
            serde_json::json!([{"name": "Authorization", "value": format!("Basic {basic}")},
                {"name": "Content-Type", "value": "application/x-www-form-urlencoded"}]),
            serde_json::json!({"mimeType": "application/x-www-form-urlencoded",
                "text": "grant_type=client_credentials"}),
            400,
            error,
            description,
        )
    };
    // The first one's fix spells out the Basic header; the second one's cause quotes the
    // description.
    let entries = vec![
        entry("invalid_request", "bad request"),
        entry("unauthorized_client", "client myclient sent secret"),
    ];
    let har = serde_json::json!({"log": {"version": "1.2",
        "creator": {"name": "x", "version": "1"}, "entries": entries}});
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("word.har");
    std::fs::write(&input, har.to_string()).unwrap();
    let red = format!("[redacted {}]", triage::redact::fingerprint(b"secret"));
    for format in ["text", "json", "markdown", "html"] {
        let r = triage(&["--format", format, input.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{format}: {}", r.err);
        // Markdown escapes punctuation with `\\`.
        let shown = r.out.replace('\\', "");
        for (what, expected) in [
            (
                "the rule's fix, whole",
                "base64(client_id:client_secret)".to_owned(),
            ),
            (
                "the quoted credential, redacted",
                format!("client myclient sent {red}"),
            ),
        ] {
            assert!(
                shown.contains(&expected),
                "{format}: {what}\n  expected: {expected}\n  in: {}",
                r.out
            );
        }
        assert!(!shown.contains("sent secret"), "{format}: {}", r.out);
    }
}

/// The failed send of a `--format json` run, and whether any of its diagnoses cites what
/// triage saw of the conversation.
fn send_and_cited_evidence(r: &Run) -> (Value, bool) {
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 1, "one failed send: {}", r.out);
    let send = lines[0].clone();
    let cited = send["diagnoses"].as_array().unwrap().iter().any(|d| {
        d["confidence"] == "certain"
            || d["evidence"].get("seen_ago").is_some()
            || d["cause"].as_str().unwrap().contains("triage saw")
    });
    (send, cited)
}

#[test]
fn evidence_from_a_later_file_is_not_cited_for_an_earlier_failure() {
    // The GET showing the conversation disconnected (09:00) is in the file given first; the
    // send that failed (08:00), an hour before it, in the second.
    let get = fixture("explain/later-get.har");
    let send = fixture("explain/earlier-send.har");
    for files in [[&get, &send], [&send, &get]] {
        let args: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
        let r = triage(&[&["--format", "json"], &args[..]].concat());
        assert_eq!(r.code, 1, "stderr: {}", r.err);
        let (line, cited) = send_and_cited_evidence(&r);
        assert!(!cited, "evidence seen an hour later cited: {line}");
        assert_eq!(line["index"], 1, "the send happened first: {line}");
        assert!(line["file"].as_str().unwrap().ends_with("earlier-send.har"));
        assert_eq!(line["entry"], 0);
    }
}

#[test]
fn an_unsorted_har_is_replayed_in_time_order() {
    // The GET at 09:00 is the first entry, the failed send at 08:00 the second.
    let f = fixture("explain/unsorted.har");
    let r = triage(&["--format", "json", f.to_str().unwrap()]);
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    let (line, cited) = send_and_cited_evidence(&r);
    assert!(!cited, "evidence seen an hour later cited: {line}");
    assert_eq!(
        (line["index"].as_u64(), line["entry"].as_u64()),
        (Some(1), Some(1))
    );

    // The same file with the send 40 minutes after the GET: now it is evidence, and its age is
    // the files' time, not the replay's.
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("sorted.har");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&later, text.replace("T08:00:00", "T09:40:00")).unwrap();
    let r = triage(&["--format", "json", later.to_str().unwrap()]);
    let (line, cited) = send_and_cited_evidence(&r);
    assert!(cited, "{line}");
    let best = &line["diagnoses"][0];
    assert_eq!(best["rule"], "conversation-closed");
    // Cited evidence, yet likely: what a disconnected conversation answers is unverified.
    assert_eq!(best["confidence"], "likely");
    assert!(
        best["cause"].as_str().unwrap().contains("triage saw"),
        "{line}"
    );
    assert_eq!(best["evidence"]["seen_ago"], "40 min", "{line}");
}

#[test]
fn a_recording_with_a_broken_line_is_explained_and_the_line_named() {
    let dir = tempfile::tempdir().unwrap();
    let rec_path = dir.path().join("rec.jsonl");
    let recorder = triage::record::Recorder::open(&rec_path).unwrap();
    let exs: Vec<_> = ingest::read(
        &fixture("explain/closed-conversation.har"),
        &ReadOptions::default(),
    )
    .unwrap()
    .map(Result::unwrap)
    .collect();
    recorder.append(&exs[0], &[]).unwrap();
    drop(recorder);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&rec_path)
        .unwrap();
    f.write_all(b"{\"v\":1,\"seq\":\"garbage\"}\n").unwrap();
    let recorder = triage::record::Recorder::open(&rec_path).unwrap();
    for ex in &exs[1..] {
        recorder.append(ex, &[]).unwrap();
    }
    let p = rec_path.to_str().unwrap();
    let r = triage(&[p]);
    assert_eq!(r.code, 1, "failures found, the input read: {}", r.err);
    assert!(
        r.out.contains("conversation-closed"),
        "the record after it: {}",
        r.out
    );
    assert!(r.out.contains("1 entry skipped"), "{}", r.out);
    assert!(
        r.out.contains("rec.jsonl: 1 skipped (broken line): line 2"),
        "{}",
        r.out
    );
    let j = triage(&["--format", "json", p]);
    assert_eq!(j.code, 1);
    assert!(j.err.contains("(broken line): line 2"), "{}", j.err);
    let md = triage(&["--format", "markdown", p]);
    assert!(md.out.contains("## Skipped input"), "{}", md.out);
}

#[test]
fn a_real_path_without_its_method_is_not_called_a_wrong_method() {
    // The path is a real operation's, but the body came without its method: nothing says the
    // method was wrong, so no fix may name "the operations it has" instead.
    let body =
        br#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#;
    let path = "/api/v2/conversations/messages/agentless";
    let r = triage_in(&["--format", "json", "--path", path, "-"], Some(body));
    assert!(
        !r.out.contains("unknown-endpoint"),
        "expected no unknown-endpoint diagnosis without a method, got:\n{}",
        r.out
    );
    // With the method given, a wrong one is still named.
    let r = triage_in(
        &["--format", "json", "--method", "GET", "--path", path, "-"],
        Some(body),
    );
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 1, "{}", r.out);
    assert_eq!(
        lines[0]["diagnoses"][0]["rule"], "unknown-endpoint",
        "{}",
        r.out
    );
    assert!(
        lines[0]["diagnoses"][0]["cause"]
            .as_str()
            .unwrap()
            .contains("has no GET operation on it"),
        "{}",
        r.out
    );
}

const CONFLICT_BODY: &[u8] = br#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409,"contextId":"c0ffee00-0000-4000-8000-000000000409"}"#;

#[test]
fn a_bare_body_without_its_request_says_so_and_quotes_no_fake_method_or_path() {
    // Neither --method nor --path: the report must neither print a made-up request nor lose
    // the diagnosis the body alone supports.
    let r = triage_in(&["-"], Some(CONFLICT_BODY));
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    assert!(
        !r.out.contains("UNKNOWN"),
        "expected no placeholder method, got:\n{}",
        r.out
    );
    let want_cause =
        "The request conflicts with the current state of the target resource (409 request.conflict).";
    assert!(
        r.out.contains(&format!("      {want_cause}")),
        "expected the cause {want_cause:?}, got:\n{}",
        r.out
    );
    assert!(
        r.out
            .contains("#1 (time unknown) (request not given) -> 409  request-conflict"),
        "expected the exchange line to say the request was not given, got:\n{}",
        r.out
    );
    let note = "note: the input does not say which request this was; give it with --method and --path (as in --method POST --path /api/v2/...) so that the rules that depend on it can match";
    assert!(
        r.out.contains(note),
        "expected the note {note:?}, got:\n{}",
        r.out
    );

    let j = triage_in(&["--format", "json", "-"], Some(CONFLICT_BODY));
    let lines = json_lines(&j.out);
    assert_eq!(lines.len(), 1, "{}", j.out);
    let l = &lines[0];
    assert_eq!(l["method"], Value::Null, "method not given: {l}");
    assert_eq!(l["diagnoses"][0]["rule"], "request-conflict", "{l}");
    assert_eq!(l["diagnoses"][0]["cause"], want_cause, "{l}");
    let evidence = l["diagnoses"][0]["evidence"].as_object().unwrap();
    assert!(
        !evidence.contains_key("method") && !evidence.contains_key("path"),
        "evidence must not cite a method or path it never saw: {l}"
    );
    assert!(
        l["notes"][0]
            .as_str()
            .unwrap_or_default()
            .contains("--method and --path"),
        "expected a note naming --method and --path: {l}"
    );

    for format in ["markdown", "html"] {
        let o = triage_in(&["--format", format, "-"], Some(CONFLICT_BODY));
        assert!(
            !o.out.contains("UNKNOWN"),
            "{format}: expected no placeholder method, got:\n{}",
            o.out
        );
        assert!(
            o.out.contains("--method and --path"),
            "{format}: expected the note, got:\n{}",
            o.out
        );
    }
}

#[test]
fn a_bare_body_with_only_one_of_method_and_path_names_what_is_missing() {
    let r = triage_in(&["--method", "PUT", "-"], Some(CONFLICT_BODY));
    let want = "The PUT request conflicts with the current state of the target resource (409 request.conflict).";
    assert!(r.out.contains(want), "expected {want:?}, got:\n{}", r.out);
    assert!(
        r.out
            .contains("#1 (time unknown) PUT (path unknown) -> 409"),
        "{}",
        r.out
    );
    assert!(
        r.out.contains(
            "note: the input does not give the request's path; give it with --path so that"
        ),
        "{}",
        r.out
    );
    let r = triage_in(
        &["--path", "/api/v2/routing/queues/q-1", "-"],
        Some(CONFLICT_BODY),
    );
    let want = "The request to /api/v2/routing/queues/q-1 conflicts with the current state of the target resource (409 request.conflict).";
    assert!(r.out.contains(want), "expected {want:?}, got:\n{}", r.out);
    assert!(
        r.out
            .contains("#1 (time unknown) (method unknown) /api/v2/routing/queues/q-1 -> 409"),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("note: the input does not give the request's method; give it with --method"),
        "{}",
        r.out
    );
    assert!(!r.out.contains("UNKNOWN"), "{}", r.out);
}

#[test]
fn pasted_bodies_without_their_request_are_not_a_retry_loop() {
    // Three bodies alike, with nothing of their requests: nothing shows they were one request
    // retried, so retry-loop must not say "this exact request has failed 3 times".
    let dir = tempfile::tempdir().unwrap();
    // Three files (one given three times is read once).
    let files: Vec<String> = (1..=3)
        .map(|i| {
            let f = dir.path().join(format!("body{i}.json"));
            std::fs::write(&f, CONFLICT_BODY).unwrap();
            f.to_str().unwrap().to_owned()
        })
        .collect();
    let [a, b, c] = [&files[0], &files[1], &files[2]].map(String::as_str);
    let r = triage(&["--format", "json", a, b, c]);
    assert_eq!(json_lines(&r.out).len(), 3, "{}", r.out);
    assert!(
        !r.out.contains("retry-loop"),
        "expected no retry-loop without the request, got:\n{}",
        r.out
    );
    // Given the request, the same three are a retry loop.
    let r = triage(&[
        "--format",
        "json",
        "--method",
        "PUT",
        "--path",
        "/api/v2/x",
        a,
        b,
        c,
    ]);
    let lines = json_lines(&r.out);
    assert_eq!(
        lines[2]["diagnoses"][1]["rule"], "retry-loop",
        "expected retry-loop as the third one's second diagnosis, got:\n{}",
        r.out
    );
}

/// A HAR of one failed call whose error body is `size` bytes long.
fn har_with_error_body(path: &str, status: u16, size: usize) -> Vec<u8> {
    let pad = "x".repeat(size.saturating_sub(60));
    let body = format!(r#"{{"message":"{pad}","code":"bad.request","status":{status}}}"#);
    serde_json::to_vec(&serde_json::json!({"log": {"version": "1.2",
        "creator": {"name": "test", "version": "1"},
        "entries": [{"startedDateTime": "2026-03-01T10:20:41.500Z", "time": 10,
            "request": {"method": "POST", "url": format!("https://api.mypurecloud.com{path}"),
                "httpVersion": "HTTP/1.1", "headers": [], "queryString": [], "cookies": [],
                "headersSize": -1, "bodySize": 0},
            "response": {"status": status, "statusText": "X", "httpVersion": "HTTP/1.1",
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "cookies": [],
                "content": {"size": body.len(), "mimeType": "application/json", "text": body},
                "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}}]}}))
    .unwrap()
}

#[test]
fn a_failure_whose_body_is_over_the_read_limit_says_it_was_not_inspected() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.har");
    std::fs::write(
        &f,
        har_with_error_body("/api/v2/routing/queues", 400, 2 * 1024 * 1024),
    )
    .unwrap();
    let f = f.to_str().unwrap();
    let totals = "1 failure without a diagnosis; 1 failure left undiagnosed with its response body over the 1 MiB read limit (not inspected)";
    let place = "big.har: 1 not inspected (response body over the 1 MiB read limit, left undiagnosed): #1 (entry 0)";
    let note = "note: the response body is over the 1 MiB read limit and was not inspected: no rule that reads the body could match";

    let r = triage(&[f]);
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    for want in [totals, place, note] {
        assert!(
            r.out.contains(want),
            "text: expected {want:?}, got:\n{}",
            r.out
        );
    }
    // JSON Lines has the failure, undiagnosed, with the note; the totals go to standard error.
    let j = triage(&["--format", "json", f]);
    let lines = json_lines(&j.out);
    assert_eq!(lines.len(), 1, "{}", j.out);
    assert_eq!(lines[0]["diagnoses"], serde_json::json!([]));
    assert!(
        lines[0]["notes"]
            .to_string()
            .contains(note.trim_start_matches("note: ")),
        "expected the note in {}",
        j.out
    );
    for want in [totals, place] {
        assert!(
            j.err.contains(want),
            "json: expected {want:?} on stderr, got:\n{}",
            j.err
        );
    }
    for format in ["markdown", "html"] {
        let o = triage(&["--format", format, f]);
        // Markdown escapes the parentheses.
        let out = o.out.replace('\\', "");
        for want in [
            "1 MiB read limit (not inspected)",
            "1 not inspected (response body over the 1 MiB read limit, left undiagnosed)",
            "the response body is over the 1 MiB read limit and was not inspected",
        ] {
            assert!(
                out.contains(want),
                "{format}: expected {want:?}, got:\n{}",
                o.out
            );
        }
    }

    // A body within the limit gets none of it.
    let small = dir.path().join("small.har");
    std::fs::write(
        &small,
        har_with_error_body("/api/v2/routing/queues", 400, 4096),
    )
    .unwrap();
    let s = triage(&[small.to_str().unwrap()]);
    assert!(
        !s.out.contains("read limit"),
        "a body within the limit was inspected: {}",
        s.out
    );
}

#[test]
fn status_flag_and_body_status_that_disagree_are_warned_of() {
    // The body says 409; --status says 400. --status is used (it is the HTTP status the user
    // saw; the body's field is a copy of it), and standard error says so, naming both.
    let r = triage_in(&["--status", "400", "-"], Some(CONFLICT_BODY));
    let want = "triage: warning: -: --status 400 disagrees with the body's \"status\": 409; the report uses --status 400";
    assert!(
        r.err.contains(want),
        "expected {want:?} on stderr, got:\n{}",
        r.err
    );
    assert!(r.out.contains("-> 400"), "--status is used: {}", r.out);
    assert!(
        !r.out.contains("warning"),
        "the warning is not in the report: {}",
        r.out
    );
    // The same with JSON Lines on standard output.
    let j = triage_in(
        &["--format", "json", "--status", "400", "-"],
        Some(CONFLICT_BODY),
    );
    assert!(
        j.err.contains(want),
        "json: expected {want:?}, got:\n{}",
        j.err
    );
    // Agreeing, or a body without a status: nothing to say.
    let same = triage_in(&["--status", "409", "-"], Some(CONFLICT_BODY));
    assert!(!same.err.contains("warning"), "{}", same.err);
    let bare = triage_in(
        &["--status", "409", "-"],
        Some(br#"{"code":"request.conflict"}"#),
    );
    assert!(!bare.err.contains("warning"), "{}", bare.err);
    assert!(bare.out.contains("-> 409"), "{}", bare.out);
}

#[test]
fn flags_that_disagree_with_curl_output_are_warned_of() {
    // A status line, a command line: the input says what happened, and wins over a flag that
    // says otherwise; standard error names both.
    let exchange =
        b"$ curl -i -X POST https://api.mypurecloud.com/api/v2/conversations/messages/agentless\n\
        HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n\
        {\"message\":\"x\",\"code\":\"request.conflict\",\"status\":409}";
    let r = triage_in(
        &[
            "--status",
            "400",
            "--method",
            "PUT",
            "--path",
            "/api/v2/x",
            "-",
        ],
        Some(exchange),
    );
    for want in [
        "triage: warning: -: --status 400 disagrees with the status line: 409; the report uses the status line's 409",
        "triage: warning: -: --method PUT disagrees with the request in the input: POST; the report uses the input's",
        "triage: warning: -: --path /api/v2/x disagrees with the request in the input: /api/v2/conversations/messages/agentless; the report uses the input's",
    ] {
        assert!(r.err.contains(want), "expected {want:?} on stderr, got:\n{}", r.err);
    }
    assert!(
        r.out
            .contains("POST api.mypurecloud.com/api/v2/conversations/messages/agentless -> 409"),
        "{}",
        r.out
    );
}

/// The lines of a block of the text report that starts with `first` (a line starting so), and
/// its continuation lines (indented to the column of the text), joined back into one text.
fn block(out: &str, first: &str, indent: usize) -> (Vec<String>, String) {
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no line starting with {first:?} in:\n{out}"));
    let mut block = vec![lines[start].to_owned()];
    let pad = " ".repeat(indent);
    for l in &lines[start + 1..] {
        if l.starts_with(&pad) && !l[indent..].starts_with(' ') {
            block.push((*l).to_owned());
        } else {
            break;
        }
    }
    let text = block
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                &l[first.len()..]
            } else {
                &l[indent..]
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    (block, text)
}

#[test]
fn long_lines_are_whole_in_a_file_or_pipe_even_with_columns_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["explain", &closed()])
        .env("NO_COLOR", "1")
        .env("COLUMNS", "40")
        .env_remove("TRIAGE_RULES")
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let (fix, _) = block(&out, "    fix: ", 9);
    assert_eq!(fix.len(), 1, "expected the fix on one line, got:\n{out}");
    assert!(fix[0].len() > 40, "{out}");
    let (cause, _) = block(&out, "      The send into conversation", 6);
    assert_eq!(
        cause.len(),
        1,
        "expected the cause on one line, got:\n{out}"
    );
}

#[test]
fn long_lines_wrap_to_a_terminals_width_without_breaking_words() {
    // A terminal 60 columns wide, by `script`'s pseudo-terminal.
    let script = Command::new("script").arg("--version").output();
    if !script.is_ok_and(|o| o.status.success()) {
        eprintln!("note: `script` (util-linux) not found; the terminal wrapping test is skipped");
        return;
    }
    let run = |cmd: String| {
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("NO_COLOR", "1")
            .env_remove("COLUMNS")
            .env_remove("TRIAGE_RULES")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    };
    let bin = env!("CARGO_BIN_EXE_triage");
    let wrapped = run(format!(
        "stty cols 60 rows 40; exec '{bin}' explain '{}'",
        closed()
    ));
    let whole = triage(&[&closed()]).out;

    for (first, indent) in [("    fix: ", 9), ("      The send into conversation", 6)] {
        let (lines, text) = block(&wrapped, first, indent);
        let (_, want) = block(&whole, first, indent);
        assert!(
            lines.len() > 1,
            "expected {first:?} wrapped, got:\n{wrapped}"
        );
        assert_eq!(text, want, "the wrapped words read back as the whole line");
        for l in &lines {
            let word_alone = !l.trim_start().contains(' ');
            assert!(
                l.chars().count() <= 60 || word_alone,
                "line over 60 columns that could have been wrapped: {l:?}\nin:\n{wrapped}"
            );
        }
    }
    // The docs URL is whole.
    assert!(
        wrapped.contains(
            "    docs: https://developer.genesys.cloud/commdigital/digital/openmessaging/outboundMessages"
        ),
        "{wrapped}"
    );

    // A terminal that does not tell its size: COLUMNS, else 80.
    let by_columns = run(format!("COLUMNS=50 exec '{bin}' explain '{}'", closed()));
    let (lines, _) = block(&by_columns, "    fix: ", 9);
    assert!(
        lines
            .iter()
            .all(|l| l.chars().count() <= 50 || !l.trim_start().contains(' ')),
        "expected lines of at most 50 columns, got:\n{by_columns}"
    );
}

#[test]
fn request_flags_given_with_a_har_are_named_as_ignored() {
    // A HAR names each exchange's status, method and path; flags meant for a pasted body must
    // not look as if they had changed any of them.
    let har = closed();
    let plain = triage(&[har.as_str()]);
    let flagged = triage(&["--status", "400", "--path", "/api/v2/x", har.as_str()]);
    let want = format!(
        "triage: warning: {har}: --status, --path ignored: a HAR gives each exchange's own"
    );
    assert!(
        flagged.err.contains(&want),
        "expected {want:?} on stderr, got:\n{}",
        flagged.err
    );
    assert_eq!(
        flagged.out, plain.out,
        "the report is the same with the flags"
    );
    assert_eq!(flagged.code, plain.code);
    assert!(!plain.err.contains("warning"), "{}", plain.err);
}

/// The rules of each explained exchange of a `--format json` report, by index.
fn rules_by_index(out: &str) -> Vec<(u64, String, Vec<String>)> {
    json_lines(out)
        .iter()
        .map(|l| {
            (
                l["index"].as_u64().unwrap(),
                l["url"].as_str().unwrap_or_default().to_owned(),
                l["diagnoses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["rule"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn a_recording_and_its_har_export_diagnose_alike_by_the_recorded_upstream() {
    // `host` as the client's `Host` header (the proxy's address) named it; `base_url` is where
    // each request went: an Irish login host, then the US API.
    let line = |seq: u32,
                base: &str,
                method: &str,
                path: &str,
                auth: &str,
                status: u16,
                body: &str| {
        serde_json::json!({"v":1,"seq":seq,"time":format!("2026-03-01T10:00:0{seq}.000Z"),
            "origin":"live",
            "request":{"method":method,"path":path,"query":null,"host":"127.0.0.1:8080",
                "base_url":base,"upstream":if path.starts_with("/oauth") {"login"} else {"api"},
                "headers":[["host","127.0.0.1:8080"],["authorization",auth]]},
            "response":{"status":status,"headers":[["content-type","application/json"]],"body":body},
            "diagnoses":[]})
        .to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("wr.jsonl");
    let har = dir.path().join("wr.har");
    std::fs::write(
        &rec,
        [
            line(
                1,
                "https://login.mypurecloud.ie",
                "POST",
                "/oauth/token",
                "Basic aWQ6c2VjcmV0",
                200,
                r#"{"access_token":"tok-from-ireland","token_type":"bearer","expires_in":86399}"#,
            ),
            line(
                2,
                "https://api.mypurecloud.com",
                "POST",
                "/api/v2/analytics/conversations/details/query",
                "Bearer tok-from-ireland",
                401,
                r#"{"message":"Invalid login credentials.","code":"bad.credentials","status":401}"#,
            ),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let export = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "export",
            "--har",
            har.to_str().unwrap(),
            rec.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let from_rec = triage(&["--format", "json", rec.to_str().unwrap()]);
    let from_har = triage(&["--format", "json", har.to_str().unwrap()]);
    assert_eq!(from_rec.code, 1, "stderr: {}", from_rec.err);
    let (rec_rules, har_rules) = (rules_by_index(&from_rec.out), rules_by_index(&from_har.out));
    assert_eq!(rec_rules, har_rules);
    assert_eq!(rec_rules.len(), 1, "{rec_rules:?}");
    assert!(
        rec_rules[0].1.starts_with("api.mypurecloud.com/"),
        "{rec_rules:?}"
    );
    assert_eq!(rec_rules[0].2[0], "wrong-region", "{rec_rules:?}");
    assert!(!from_rec.out.contains("127.0.0.1"), "{}", from_rec.out);
}

#[test]
fn pasted_sdk_errors_are_read_with_their_status_headers_and_body() {
    let body = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409,"contextId":"c0ffee-1"}"#;
    let python = format!(
        "(409)\nReason: Conflict\nHTTP response headers: HTTPHeaderDict({{'Content-Type': 'application/json', 'ININ-Correlation-Id': 'c0ffee-1', 'Content-Length': '150'}})\nHTTP response body: {body}\n"
    );
    let js = "{\n  status: 409,\n  statusText: 'Conflict',\n  headers: Object [AxiosHeaders] {\n    'content-type': 'application/json',\n    'inin-correlation-id': 'c0ffee-1'\n  },\n  body: {\n    message: 'The request conflicts with the current state of the target resource.',\n    code: 'request.conflict',\n    status: 409,\n    messageParams: {},\n    contextId: 'c0ffee-1',\n    details: [],\n    errors: []\n  },\n  text: undefined,\n  error: AxiosError: Request failed with status code 409\n      at settle (/app/node_modules/axios/dist/node/axios.cjs:2031:12) {\n    code: 'ERR_BAD_REQUEST'\n  }\n}\n";
    let path = "/api/v2/conversations/messages/c1/communications/m1/messages";
    for (name, pasted) in [("python", python.as_str()), ("js", js)] {
        for input in [&[][..], &["--input", "json"][..]] {
            let mut args = vec!["--format", "json", "--method", "POST", "--path", path];
            args.extend_from_slice(input);
            args.push("-");
            let r = triage_in(&args, Some(pasted.as_bytes()));
            assert_eq!(r.code, 1, "{name} {input:?}: {}", r.err);
            let l = &json_lines(&r.out)[0];
            assert_eq!(l["status"], 409, "{name}: {l}");
            assert_eq!(l["correlation_id"], "c0ffee-1", "{name}: {l}");
            assert_eq!(
                l["diagnoses"][0]["rule"], "conversation-closed",
                "{name}: {l}"
            );
        }
    }
    // Recognised but broken: the shape is named with what is missing.
    let cut = python.split("HTTP response body").next().unwrap();
    let r = triage_in(&["-"], Some(cut.as_bytes()));
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(
        r.err.contains("Python SDK ApiException") && r.err.contains("HTTP response body:"),
        "{}",
        r.err
    );
    let r = triage_in(
        &["-"],
        Some(b"{\n  status: 409,\n  statusText: 'Conflict',\n  headers: {}"),
    );
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(
        r.err.contains("JavaScript SDK error") && r.err.contains("body"),
        "{}",
        r.err
    );
}

/// The JavaScript SDK's extended rejection printed whole, by `JSON.stringify(e)` or by
/// `console.log(e)` (both as SDK 262.0.0 prints them): its status, correlation id and body are
/// read as the SDK error's, and the request is axios's `error.config` (its headers, in
/// `console.log`'s print, from the head Node kept), so no note says the request was not given.
/// Its credentials go through the redaction of every other input.
#[test]
fn a_js_sdk_error_printed_whole_gives_its_status_body_and_request() {
    const TOKEN: &str = "jsSdkBearerSecret0123456789";
    const COOKIE: &str = "jsSdkCookieSecret42";
    let stringify = fixture("json/js-sdk-stringify.json");
    let console = fixture("json/js-sdk-console-log.txt");
    let path = "/api/v2/conversations/messages/5c1e2f0a-0000-4000-8000-000000000001/communications/7d2a9b10-0000-4000-8000-000000000002/messages";
    for file in [&stringify, &console] {
        let r = triage(&["--format", "json", file.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{file:?}: {}", r.err);
        assert!(!r.err.contains("warning"), "{file:?}: {}", r.err);
        let l = &json_lines(&r.out)[0];
        assert_eq!(l["status"], 409, "{file:?}: {l}");
        assert_eq!(
            l["correlation_id"], "0e1f2a3b-0000-4000-8000-00000000c0de",
            "{file:?}: {l}"
        );
        assert_eq!(l["method"], "POST", "{file:?}: {l}");
        assert_eq!(
            l["url"],
            format!("api.mypurecloud.ie{path}"),
            "{file:?}: {l}"
        );
        assert_eq!(
            l["diagnoses"][0]["rule"], "conversation-closed",
            "{file:?}: {l}"
        );
        assert!(l.get("notes").is_none(), "{file:?}: {l}");
    }

    // `body` absent (axios had no parsed data), `text` the body; the status the SDK's, not a
    // body's.
    let mut v: Value = serde_json::from_slice(&std::fs::read(&stringify).unwrap()).unwrap();
    let body = v.as_object_mut().unwrap().remove("body").unwrap();
    v["text"] = Value::String(body.to_string());
    // An upstream message that quotes the request's token back, and no correlation header:
    // the token is scrubbed from every format, and the id comes from the body's contextId.
    v["headers"]
        .as_object_mut()
        .unwrap()
        .remove("inin-correlation-id");
    let quoting = v["text"].as_str().unwrap().replace(
        "target resource.",
        &format!("target resource. Token: {TOKEN}"),
    );
    v["text"] = Value::String(quoting);
    let dir = tempfile::tempdir().unwrap();
    let text_only = dir.path().join("text-only.json");
    std::fs::write(&text_only, v.to_string()).unwrap();
    for format in ["text", "json", "markdown", "html"] {
        for file in [&stringify, &console, &text_only] {
            let r = triage(&["--format", format, file.to_str().unwrap()]);
            assert_eq!(r.code, 1, "{format} {file:?}: {}", r.err);
            for secret in [TOKEN, COOKIE, &TOKEN[..16]] {
                assert!(
                    !r.out.contains(secret) && !r.err.contains(secret),
                    "{format} {file:?} shows {secret}: {}{}",
                    r.out,
                    r.err
                );
            }
            assert!(r.out.contains("conversation-closed"), "{format}: {}", r.out);
            assert!(
                r.out.contains("0e1f2a3b-0000-4000-8000-00000000c0de"),
                "{format} {file:?}: {}",
                r.out
            );
        }
    }

    // Flags that disagree with the request the error carries are named; the input's wins.
    let r = triage(&[
        "--format",
        "json",
        "--method",
        "GET",
        "--path",
        "/api/v2/users/me",
        stringify.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(
        r.err
            .contains("--method GET disagrees with the request in the input: POST")
            && r.err.contains("--path /api/v2/users/me disagrees"),
        "{}",
        r.err
    );
    assert_eq!(json_lines(&r.out)[0]["method"], "POST");
}

/// A Python traceback names the SDK method that failed; its operation gives the request a
/// printed exception lacks, as the real SDK prints it (purecloudplatformclientv2 240.0.0).
#[test]
fn a_python_traceback_gives_the_request_of_its_sdk_call() {
    let sdk = "/srv/app/.venv/lib/python3.11/site-packages/PureCloudPlatformClientV2";
    let exception = "PureCloudPlatformClientV2.rest.ApiException: (403)\nReason: Forbidden\nHTTP response headers: HTTPHeaderDict({'Content-Type': 'application/json', 'ININ-Correlation-Id': 'c0ffee-2'})\nHTTP response body: {\"message\": \"You are missing the following permission(s): conversation:message:create\", \"code\": \"missing.permissions\", \"status\": 403}\n";
    let traceback = format!(
        "Traceback (most recent call last):\n  File \"/srv/app/send.py\", line 6, in <module>\n    api.post_conversations_messages_agentless(body)\n  File \"{sdk}/apis/conversations_api.py\", line 22779, in post_conversations_messages_agentless\n    response = self.api_client.call_api(resource_path, 'POST',\n               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"{sdk}/api_client.py\", line 726, in call_api\n    return self.__call_api(resource_path, method,\n  File \"{sdk}/rest.py\", line 208, in request\n    raise ApiException(http_resp=r)\n{exception}"
    );
    let r = triage_in(&["--format", "json", "-"], Some(traceback.as_bytes()));
    assert_eq!(r.code, 1, "{}", r.err);
    let l = &json_lines(&r.out)[0];
    assert_eq!(l["method"], "POST", "{l}");
    assert_eq!(l["url"], "/api/v2/conversations/messages/agentless", "{l}");
    assert_eq!(l["diagnoses"][0]["rule"], "missing-permission", "{l}");
    let expected = "the request is the operation of the SDK call on line 4: post_conversations_messages_agentless is POST /api/v2/conversations/messages/agentless (catalog: built-in messaging catalog)";
    assert!(
        r.err.contains(expected),
        "expected {expected:?} in:\n{}",
        r.err
    );
    assert!(r.err.contains("and the SDK call from line 4"), "{}", r.err);

    // The SDK README's `print`: the call on the exception's line; a path with parameters keeps
    // their names, and says so.
    let readme = format!(
        "Exception when calling ConversationsApi->post_conversations_message_communication_messages: {}",
        exception.split_once(": ").unwrap().1.replace("403", "409").replace(
            "{\"message\": \"You are missing the following permission(s): conversation:message:create\", \"code\": \"missing.permissions\"",
            "{\"message\": \"The request conflicts with the current state of the target resource.\", \"code\": \"conflict\""
        )
    );
    let r = triage_in(&["--format", "json", "-"], Some(readme.as_bytes()));
    let l = &json_lines(&r.out)[0];
    assert_eq!(
        l["url"],
        "/api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages",
        "{l}"
    );
    assert_eq!(l["diagnoses"][0]["rule"], "conversation-closed", "{l}");
    assert!(r.err.contains("so the path keeps their names"), "{}", r.err);
    assert!(!r.err.contains("not explained"), "{}", r.err);

    // Outside the catalog: the method from the name, the path asked for.
    let users = "Exception when calling UsersApi->get_users_me: (401)\nReason: Unauthorized\nHTTP response headers: HTTPHeaderDict({})\nHTTP response body: {\"message\": \"Invalid login credentials\", \"code\": \"bad.credentials\", \"status\": 401}\n";
    let r = triage_in(&["--format", "json", "-"], Some(users.as_bytes()));
    let l = &json_lines(&r.out)[0];
    assert_eq!(l["method"], "GET", "{l}");
    assert!(l["url"].is_null(), "{l}");
    assert!(
        r.err.contains("get_users_me (operation getUsersMe, method GET), but the catalog (built-in messaging catalog) does not hold it: give the request's path with --path"),
        "{}",
        r.err
    );
    // The flags win over the call.
    let r = triage_in(
        &["--format", "json", "--path", "/api/v2/users/me", "-"],
        Some(users.as_bytes()),
    );
    let l = &json_lines(&r.out)[0];
    assert_eq!(l["method"], "GET", "{l}");
    assert_eq!(l["url"], "/api/v2/users/me", "{l}");
}

/// The closed-conversation HAR with the failed send repeated (a retry loop on its third try)
/// and one more send into another conversation: diagnoses whose fixes differ by exchange.
fn fixes_that_differ_har(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(closed()).unwrap();
    let mut har: Value = serde_json::from_str(&text).unwrap();
    let entries = har["log"]["entries"].as_array_mut().unwrap();
    let send = entries[1].clone();
    for (i, second) in [(1, "42"), (2, "43"), (3, "44")] {
        let mut e = send.clone();
        e["startedDateTime"] = Value::from(format!("2026-03-01T10:20:{second}.000Z"));
        if i == 3 {
            let url = e["request"]["url"].as_str().unwrap().replace(
                "5c1e2f0a-0000-4000-8000-000000000001",
                "9f9f9f9f-0000-4000-8000-000000000009",
            );
            e["request"]["url"] = Value::from(url);
        }
        entries.push(e);
    }
    let path = dir.join("fixes.har");
    std::fs::write(&path, serde_json::to_string(&har).unwrap()).unwrap();
    path
}

#[test]
fn every_exchange_is_shown_with_its_own_fix_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let har = fixes_that_differ_har(dir.path());
    let report = report_of(&[har], &ReadOptions::default(), false);
    let first = "Check the state with GET /api/v2/conversations/messages/5c1e2f0a-0000-4000-8000-000000000001 (";
    let other = "Check the state with GET /api/v2/conversations/messages/9f9f9f9f-0000-4000-8000-000000000009 (";
    let retry = "Sending it again unchanged keeps getting 409";
    let json = render(&report, explain::Format::Json);
    assert!(json.contains(other) && json.contains(retry), "{json}");

    let text = render(&report, explain::Format::Text);
    // The summary shows no one exchange's fix as the rule's.
    assert!(
        text.contains("    fix: differs by exchange; see each one's below\n"),
        "{text}"
    );
    // The first conversation's fix in full once, then referred to.
    assert_eq!(
        text.matches(&format!("      fix: {first}")).count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("      fix: as for #2\n").count(), 2, "{text}");
    assert_eq!(
        text.matches(&format!("      fix: {other}")).count(),
        1,
        "{text}"
    );
    // The second diagnosis of the third try, with its own cause and fix.
    assert!(text.contains("      also retry-loop: "), "{text}");
    assert!(text.contains(&format!("      fix: {retry}")), "{text}");

    let md = render(&report, explain::Format::Markdown);
    assert!(
        md.contains(
            "The fix differs by exchange; each one's is with it under *Failing exchanges*."
        ),
        "{md}"
    );
    let md_fix = |f: &str| format!("*Fix:* {}", markdown_escape(f));
    assert_eq!(md.matches(&md_fix(first)).count(), 1, "{md}");
    assert_eq!(md.matches("*Fix:* as for \\#2").count(), 2, "{md}");
    assert_eq!(md.matches(&md_fix(other)).count(), 1, "{md}");
    assert!(md.contains(&md_fix(retry)), "{md}");
    assert!(md.contains("**retry-loop:** "), "{md}");

    let html = render(&report, explain::Format::Html);
    assert!(html.contains("The fix differs by exchange"), "{html}");
    assert_eq!(html.matches(&format!("Fix: {first}")).count(), 1, "{html}");
    assert_eq!(html.matches("Fix: as for #2<").count(), 2, "{html}");
    assert_eq!(html.matches(&format!("Fix: {other}")).count(), 1, "{html}");
    assert!(html.contains(&format!("Fix: {retry}")), "{html}");
}

#[test]
fn a_fix_the_same_for_every_exchange_is_given_once() {
    // Three tries into one conversation: the rule's fix is true of all three, so it is in the
    // summary alone (the retry loop's, a second diagnosis, under its exchange).
    let dir = tempfile::tempdir().unwrap();
    let har = fixes_that_differ_har(dir.path());
    let text = std::fs::read_to_string(&har).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["log"]["entries"].as_array_mut().unwrap().pop();
    std::fs::write(&har, v.to_string()).unwrap();
    let report = report_of(&[har], &ReadOptions::default(), false);
    let out = render(&report, explain::Format::Text);
    assert_eq!(
        out.matches("Resending unchanged will not help").count(),
        1,
        "{out}"
    );
    assert!(out.contains("    fix: Check the state with GET"), "{out}");
    assert!(
        out.contains("      fix: Sending it again unchanged"),
        "{out}"
    );
}

fn markdown_escape(s: &str) -> String {
    explain::markdown::escape(s)
}

#[test]
fn json_says_null_for_a_url_the_input_did_not_give_and_the_totals_as_text_does() {
    let r = triage_in(&["--format", "json", "-"], Some(CONFLICT_BODY));
    assert_eq!(r.code, 1, "stderr: {}", r.err);
    let lines = json_lines(&r.out);
    assert_eq!(lines[0]["url"], Value::Null, "{}", r.out);
    assert_eq!(lines[0]["method"], Value::Null, "{}", r.out);
    // The totals line starts as the text report's first line does.
    let totals =
        "triage explain: 1 exchange read, 1 failed, 1 diagnosed, 0 failures without a diagnosis";
    assert!(r.err.lines().any(|l| l == totals), "{}", r.err);
    let text = triage_in(&["-"], Some(CONFLICT_BODY));
    assert_eq!(text.out.lines().next(), Some(totals), "{}", text.out);
}

#[test]
fn html_rule_ids_break_at_hyphens_only() {
    let report = report_of(
        &[fixture("explain/closed-conversation.har")],
        &ReadOptions::default(),
        false,
    );
    let html = render(&report, explain::Format::Html);
    // Every rule id is in a code element that the break-anywhere style of URLs and ids does
    // not apply to.
    assert!(
        html.contains("code.id{word-break:normal;overflow-wrap:normal}"),
        "{html}"
    );
    assert!(!html.contains("<code>conversation-closed</code>"), "{html}");
    assert_eq!(
        html.matches("<code class=\"id\">conversation-closed</code>")
            .count(),
        3,
        "{html}"
    );
}

/// A recording line of `triage proxy --record` (format 1), with `outcome` when given.
fn recorded(seq: u64, method: &str, path: &str, response: Value, outcome: Option<&str>) -> String {
    let mut line = serde_json::json!({
        "v": 1,
        "seq": seq,
        "time": format!("2026-03-01T10:20:3{seq}.000Z"),
        "origin": "live",
        "request": {
            "method": method, "path": path, "query": null, "host": "127.0.0.1:8787",
            "base_url": "https://api.mypurecloud.ie", "upstream": "api", "headers": [],
            "body": null, "body_complete": true
        },
        "response": response,
        "timings": {"upstream_ms": 5, "total_ms": 9},
        "diagnoses": []
    });
    if let Some(o) = outcome {
        line["outcome"] = o.into();
    }
    format!("{line}\n")
}

/// A recording of exchanges that ended each way: a diagnosed 403 whose client left mid-body,
/// a 200 cut at shutdown mid-body, a client that left and a shutdown that cut before the API
/// answered, a whole 200, and an outcome of a newer triage that this one does not know.
fn ended_recording(dir: &Path) -> PathBuf {
    let scope = serde_json::json!({
        "status": 403,
        "headers": [["content-type", "application/json"], ["inin-correlation-id", "corr-1"]],
        "body": r#"{"message":"App not authorized to use scope [conversations]","code":"app.not.authorized.for.scope","status":403}"#,
        "body_complete": true
    });
    // As the proxy records a success: its body streamed through, not read.
    let cut_200 = serde_json::json!({
        "status": 200, "headers": [["content-type", "application/json"]],
        "body": null, "body_complete": false
    });
    let whole_200 =
        serde_json::json!({"status": 200, "headers": [], "body": "{}", "body_complete": true});
    let lines = [
        recorded(
            1,
            "POST",
            "/api/v2/conversations/messages/agentless",
            scope,
            Some("client-gone"),
        ),
        recorded(
            2,
            "GET",
            "/api/v2/users/me",
            cut_200,
            Some("cut-at-shutdown"),
        ),
        recorded(
            3,
            "GET",
            "/api/v2/users/slow",
            Value::Null,
            Some("client-gone"),
        ),
        recorded(
            4,
            "GET",
            "/api/v2/users/slower",
            Value::Null,
            Some("cut-at-shutdown"),
        ),
        recorded(5, "GET", "/api/v2/users/me", whole_200.clone(), None),
        recorded(
            6,
            "GET",
            "/api/v2/users/me",
            whole_200,
            Some("an-outcome-of-a-newer-triage"),
        ),
    ];
    let rec = dir.join("ended.jsonl");
    std::fs::write(&rec, lines.concat()).unwrap();
    rec
}

const GONE_MID_BODY: &str = "the client disconnected before the response was complete (client gone): it did not get all of this response";
const CUT_MID_BODY: &str = "cut when triage shut down (its drain deadline ran out before the response was complete): the client did not get all of this response";
const GONE_BEFORE: &str = "the client disconnected before the API answered (client gone): the client never saw the API's response, and triage did not learn it";
const CUT_BEFORE: &str = "cut when triage shut down (its drain deadline ran out before the API answered): the client got no response from the API";

/// Each of `want` is a whole line of `out`, in that order.
fn assert_lines_in_order(what: &str, out: &str, want: &[String]) {
    let lines: Vec<&str> = out.lines().collect();
    let mut from = 0;
    for w in want {
        match lines[from..].iter().position(|l| l == w) {
            Some(i) => from += i + 1,
            None => {
                panic!("{what}: line missing or out of order\n  expected: {w}\n       got:\n{out}")
            }
        }
    }
}

#[test]
fn how_a_recorded_exchange_ended_is_said_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let rec = ended_recording(dir.path());
    let p = rec.to_str().unwrap();

    let text = triage(&[p]);
    assert_eq!(
        text.code, 1,
        "exit code\n  expected: 1 (failures)\n       got: {}\n{}",
        text.code, text.err
    );
    let want: Vec<String> = [
        "triage explain: 6 exchanges read, 4 failed, 1 diagnosed, 3 failures without a diagnosis",
        "Failing exchanges",
        "  #1 2026-03-01T10:20:31Z POST api.mypurecloud.ie/api/v2/conversations/messages/agentless -> 403  missing-scope  correlation id corr-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("      outcome: {GONE_MID_BODY}"),
        "  #2 2026-03-01T10:20:32Z GET api.mypurecloud.ie/api/v2/users/me -> 200  (no diagnosis)".into(),
        format!("      outcome: {CUT_MID_BODY}"),
        "  #3 2026-03-01T10:20:33Z GET api.mypurecloud.ie/api/v2/users/slow -> no response  (no diagnosis)".into(),
        format!("      outcome: {GONE_BEFORE}"),
        "  #4 2026-03-01T10:20:34Z GET api.mypurecloud.ie/api/v2/users/slower -> no response  (no diagnosis)".into(),
        format!("      outcome: {CUT_BEFORE}"),
    ])
    .collect();
    assert_lines_in_order("text", &text.out, &want);
    // The diagnosis stays with its exchange: its cause, then how the exchange ended.
    let lines: Vec<&str> = text.out.lines().collect();
    let first = lines.iter().position(|l| l.starts_with("  #1 ")).unwrap();
    assert!(
        lines[first + 1].starts_with("      The token's OAuth client is not authorized"),
        "line after #1\n  expected: the missing-scope cause\n       got: {}",
        lines[first + 1]
    );
    assert_eq!(text.out.matches("outcome: ").count(), 4, "{}", text.out);
    assert!(
        !text.out.contains("#5 ") && !text.out.contains("#6 "),
        "{}",
        text.out
    );

    let md = triage(&["--format", "markdown", p]);
    assert_eq!(md.code, 1, "{}", md.err);
    let esc = |s: &str| s.replace('(', "\\(").replace(')', "\\)");
    let md_rows: Vec<String> = vec![
        format!("| 2 | 2026-03-01T10:20:32Z | GET | api.mypurecloud.ie/api/v2/users/me | 200 |  | *no diagnosis* | *Outcome:* {} |", esc(CUT_MID_BODY)),
        format!("| 3 | 2026-03-01T10:20:33Z | GET | api.mypurecloud.ie/api/v2/users/slow | no response |  | *no diagnosis* | *Outcome:* {} |", esc(GONE_BEFORE)),
        format!("| 4 | 2026-03-01T10:20:34Z | GET | api.mypurecloud.ie/api/v2/users/slower | no response |  | *no diagnosis* | *Outcome:* {} |", esc(CUT_BEFORE)),
    ];
    assert_lines_in_order("markdown", &md.out, &md_rows);
    let row1 = md.out.lines().find(|l| l.starts_with("| 1 |")).unwrap();
    assert!(
        row1.ends_with(&format!("<br>*Outcome:* {} |", esc(GONE_MID_BODY))),
        "markdown row 1\n  expected: the cause, then <br>*Outcome:* {GONE_MID_BODY}\n       got: {row1}"
    );

    let html = triage(&["--format", "html", p]);
    assert_eq!(html.code, 1, "{}", html.err);
    let html_rows: Vec<String> = vec![
        format!("<tr><td class=\"n\">2</td><td>2026-03-01T10:20:32Z</td><td class=\"mono\">GET api.mypurecloud.ie/api/v2/users/me</td><td>200</td><td class=\"mono\"></td><td><em>no diagnosis</em><br><strong>outcome:</strong> {CUT_MID_BODY}</td></tr>"),
        format!("<tr><td class=\"n\">3</td><td>2026-03-01T10:20:33Z</td><td class=\"mono\">GET api.mypurecloud.ie/api/v2/users/slow</td><td>no response</td><td class=\"mono\"></td><td><em>no diagnosis</em><br><strong>outcome:</strong> {}</td></tr>", GONE_BEFORE.replace('\'', "&#39;")),
        format!("<tr><td class=\"n\">4</td><td>2026-03-01T10:20:34Z</td><td class=\"mono\">GET api.mypurecloud.ie/api/v2/users/slower</td><td>no response</td><td class=\"mono\"></td><td><em>no diagnosis</em><br><strong>outcome:</strong> {CUT_BEFORE}</td></tr>"),
    ];
    assert_lines_in_order("html", &html.out, &html_rows);
    let row1 = html
        .out
        .lines()
        .find(|l| l.starts_with("<tr><td class=\"n\">1</td>"))
        .unwrap();
    assert!(
        row1.ends_with(&format!(
            "<br><strong>outcome:</strong> {GONE_MID_BODY}</td></tr>"
        )),
        "html row 1\n  expected: the diagnosis, then the outcome\n       got: {row1}"
    );

    // JSON Lines: every exchange with a diagnosis or an outcome, `outcome` machine-readable,
    // absent where the response reached the client whole.
    let json = triage(&["--format", "json", p]);
    assert_eq!(json.code, 1, "{}", json.err);
    let got: Vec<(u64, Value, Value, Vec<String>)> = json_lines(&json.out)
        .iter()
        .map(|l| {
            (
                l["index"].as_u64().unwrap(),
                l["status"].clone(),
                l.get("outcome").cloned().unwrap_or(Value::Null),
                l["diagnoses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["rule"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let want = vec![
        (
            1,
            403.into(),
            "client-gone".into(),
            vec!["missing-scope".to_owned()],
        ),
        (2, 200.into(), "cut-at-shutdown".into(), vec![]),
        (3, Value::Null, "client-gone".into(), vec![]),
        (4, Value::Null, "cut-at-shutdown".into(), vec![]),
    ];
    assert_eq!(
        got, want,
        "JSON lines (index, status, outcome, rules)\n  expected: {want:?}\n       got: {got:?}\n{}",
        json.out
    );
    // A record without an outcome has no such key.
    let closed = triage(&["--format", "json", &closed()]);
    assert!(
        json_lines(&closed.out)
            .iter()
            .all(|l| l.get("outcome").is_none()),
        "{}",
        closed.out
    );

    // An exchange that did not reach the client whole is a failure no rule explains.
    let strict = triage(&["--fail-on", "undiagnosed", p]);
    assert_eq!(strict.code, 1, "{}", strict.err);
}

/// The errors `triage explain` and `triage redact` print for `har/unreadable.har`: three entries
/// that are JSON serde_json refuses, each named with its request, where and why.
fn unreadable_errors(file: &str) -> Vec<String> {
    [
        (1, "POST https://api.mypurecloud.ie/api/v2/conversations/messages/agentless", "byte 623 (line 3, column 294)", "a string holds the escape \\ud83d, one half of a UTF-16 surrogate pair without the other, which is no Unicode text"),
        (2, "GET https://api.mypurecloud.ie/api/v2/analytics/conversations/details", "byte 911 (line 4, column 279)", "the number 1e400 is beyond the range of a 64-bit float"),
        (3, "GET https://api.mypurecloud.ie/api/v2/routing/queues", "byte 2445 (line 5, column 1527)", "objects and arrays nested deeper than the 127 levels triage reads"),
    ]
    .into_iter()
    .map(|(i, request, at, why)| {
        format!("triage: error: {file}: log.entries[{i}] ({request}) skipped: JSON triage cannot read at {at}: {why}; the entries after it are read")
    })
    .collect()
}

fn assert_lines(what: &str, got: &str, want: &[String]) {
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(
        got,
        want,
        "{what}\n  expected:\n{}\n       got:\n{}",
        want.join("\n"),
        got.join("\n")
    );
}

#[test]
fn har_entries_of_json_triage_cannot_read_are_errors_that_cost_only_themselves() {
    let f = fixture("har/unreadable.har");
    let file = f.to_str().unwrap();
    let want: Vec<String> = unreadable_errors(file)
        .into_iter()
        .enumerate()
        .map(|(i, l)| format!("{l} (entry {}, counting from 0)", i + 1))
        .collect();
    let t = triage(&[file]);
    assert_eq!(
        t.code, 2,
        "an entry that could not be read is an input error"
    );
    assert_lines("explain's standard error", &t.err, &want);
    assert!(
        t.out.starts_with("triage explain: 2 exchanges read, 1 failed, 1 diagnosed, 0 failures without a diagnosis; 3 entries skipped\n"),
        "{}",
        t.out
    );
    assert!(
        t.out.contains(&format!(
            "  {file}: 3 skipped (JSON triage cannot read): log.entries[1], log.entries[2], log.entries[3]\n"
        )),
        "{}",
        t.out
    );
    assert!(
        t.out.contains("-> 409  request-conflict"),
        "the entry after them is explained: {}",
        t.out
    );
    let j = triage(&["--format", "json", "--fail-on", "undiagnosed", file]);
    assert_eq!(j.code, 2);
    assert_eq!(json_lines(&j.out).len(), 1, "{}", j.out);
    let md = triage(&["--format", "markdown", file]);
    let escaped: String = want
        .iter()
        .map(|l| {
            let mut e = String::new();
            for c in l.trim_start_matches("triage: error: ").chars() {
                if "\\[]()".contains(c) {
                    e.push('\\');
                }
                e.push(c);
            }
            format!("- {e}\n")
        })
        .collect();
    assert!(
        md.out.contains(&format!("## Input errors\n\n{escaped}")),
        "expected the three errors under Input errors:\n{escaped}\ngot:\n{}",
        md.out
    );
    let html = triage(&["--format", "html", file]);
    assert!(
        html.out
            .contains("</ul><p>The report covers every other entry.</p></div>"),
        "{}",
        html.out
    );
}

#[test]
fn redact_leaves_out_har_entries_it_cannot_read_and_names_them() {
    let f = fixture("har/unreadable.har");
    let file = f.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.har");
    let run = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["redact", file, "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    let mut want = unreadable_errors(file);
    want.push(format!(
        "triage: wrote 2 redacted entries to {}, leaving out the 3 entries triage cannot read (named above)",
        out.display()
    ));
    assert_eq!(run.status.code(), Some(2));
    assert_lines(
        "redact's standard error",
        &String::from_utf8_lossy(&run.stderr),
        &want,
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let urls: Vec<&str> = written["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "https://api.mypurecloud.ie/api/v2/users/me",
            "https://api.mypurecloud.ie/api/v2/conversations/messages/5c1e2f0a-0000-4000-8000-000000000001"
        ]
    );

    // Only unreadable entries: nothing is written, as for a HAR broken before its first entry.
    let only = dir.path().join("only.har");
    std::fs::write(&only, r#"{"log":{"entries":[{"request":{"method":"GET","url":"https://api.mypurecloud.ie/x"},"n":1e999}]}}"#).unwrap();
    std::fs::write(&out, "kept").unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "redact",
            only.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert_lines(
        "redact's standard error",
        &String::from_utf8_lossy(&run.stderr),
        &[
            format!("triage: error: {}: log.entries[0] (GET https://api.mypurecloud.ie/x) skipped: JSON triage cannot read at byte 88 (line 1, column 89): the number 1e999 is beyond the range of a 64-bit float; the entries after it are read", only.display()),
            format!("triage: no entry could be read, so nothing was written: {} is left as it was", out.display()),
        ],
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept");

    // Pages whose titles (URLs, maybe with a token) cannot be parsed are not copied as they are.
    let pages = dir.path().join("pages.har");
    std::fs::write(
        &pages,
        r#"{"log":{"pages":[{"id":"p","title":"https://x/?code=\ud800SECRET"}],"entries":[]}}"#,
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "redact",
            pages.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert_lines(
        "redact's standard error",
        &String::from_utf8_lossy(&run.stderr),
        &[
            format!("triage: error: {}: log.pages left out: JSON triage cannot read: a string holds the escape \\ud800, one half of a UTF-16 surrogate pair without the other, which is no Unicode text", pages.display()),
            format!("triage: wrote 0 redacted entries to {}", out.display()),
        ],
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written.contains(r#""pages":[]"#) && !written.contains("SECRET"),
        "{written}"
    );
}

#[test]
fn a_curl_transcript_pasted_from_an_email_explains_as_the_transcript() {
    let f = fixture("curl/verbose.txt");
    let printed = std::fs::read_to_string(&f).unwrap();
    let want = triage(&[f.to_str().unwrap()]);
    assert_eq!(want.code, 1, "{}", want.err);
    let dir = tempfile::tempdir().unwrap();
    for (how, text) in [
        (
            "indented",
            printed
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>(),
        ),
        (
            "quoted",
            printed
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        ">\n".to_owned()
                    } else {
                        format!("> {l}\n")
                    }
                })
                .collect(),
        ),
    ] {
        let p = dir.path().join(format!("{how}.txt"));
        std::fs::write(&p, text).unwrap();
        let got = triage(&[p.to_str().unwrap()]);
        assert_eq!(
            (got.code, got.out.as_str(), got.err.as_str()),
            (want.code, want.out.as_str(), ""),
            "{how}: the report of curl/verbose.txt"
        );
    }
}

#[test]
fn a_json_body_nested_past_the_parsers_limit_is_named_where_it_is_not_as_an_sdk_paste() {
    // Valid JSON that serde_json refuses (128 levels) was taken for a JavaScript SDK error
    // printed by console.log (the fallback for objects that do not parse), and its error was
    // placed in a copy of the body rather than in the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.json");
    let deep = format!("{}1{}", "[".repeat(128), "]".repeat(128));
    std::fs::write(
        &file,
        format!("{{\n  \"message\": \"conflict\",\n  \"code\": \"request.conflict\",\n  \"status\": {deep}\n}}\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let run = triage(&[f, "--status", "409"]);
    assert_eq!(run.code, 2, "exit code; stderr: {}", run.err);
    let want = format!(
        "triage: error: {f}: broken at byte 195 (line 4, column 139): recursion limit exceeded (entry 0, counting from 0)"
    );
    assert!(
        run.err.lines().any(|l| l == want),
        "stderr\n  expected the line: {want}\n       got: {}",
        run.err
    );
    assert!(!run.err.contains("SDK"), "{}", run.err);
}

#[test]
fn a_request_the_input_does_not_show_is_not_taken_for_one_without_headers() {
    // A token endpoint's `invalid_client`, given as a bare body with the request's method and
    // path, and as `curl -i` output after its command line: neither shows the request's
    // headers or body, so no diagnosis may say the request had no credentials (curl's `-u`
    // sent them here).
    let body = br#"{"error":"invalid_client","description":"invalid client","error_description":"invalid client"}"#;
    let bare = triage_in(
        &[
            "--method",
            "POST",
            "--path",
            "/oauth/token",
            "--status",
            "401",
            "-",
        ],
        Some(body),
    );
    let mut curl = b"$ curl -i -u my-client-id:my-client-secret-value -X POST https://login.mypurecloud.com/oauth/token -d grant_type=client_credentials\n\
        HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n"
        .to_vec();
    curl.extend_from_slice(body);
    let curl = triage_in(&["-"], Some(&curl));
    for (input, r) in [("bare body", bare), ("curl -i", curl)] {
        assert!(
            r.out.contains("oauth-client-error")
                && r.out
                    .contains("The client id or secret was not accepted (invalid_client)"),
            "{input}: expected the invalid_client diagnosis, got:\n{}",
            r.out
        );
        assert!(
            !r.out.contains("carried no client credentials"),
            "{input}: a diagnosis about headers nobody saw:\n{}",
            r.out
        );
    }
    // `curl -v` shows the headers but not the body, which may hold the client_id: not enough.
    let verbose = b"> POST /oauth/token HTTP/1.1\n> Host: login.mypurecloud.com\n> Content-Type: application/x-www-form-urlencoded\n>\n< HTTP/1.1 401 Unauthorized\n< Content-Type: application/json\n<\n";
    let mut shown = verbose.to_vec();
    shown.extend_from_slice(body);
    let r = triage_in(&["-"], Some(&shown));
    assert!(
        !r.out.contains("carried no client credentials"),
        "curl -v alone does not show the body:\n{}",
        r.out
    );
    // With the command line that gives the body, the request is whole, and without
    // credentials; so it is with the command alone, over several lines.
    let mut whole =
        b"$ curl -v -X POST https://login.mypurecloud.com/oauth/token -d grant_type=client_credentials\n"
            .to_vec();
    whole.extend_from_slice(verbose);
    whole.extend_from_slice(body);
    let mut alone = b"curl -i -X POST \\\n  https://login.mypurecloud.com/oauth/token \\\n  -d 'grant_type=client_credentials'\nHTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n".to_vec();
    alone.extend_from_slice(body);
    for (input, text) in [
        ("curl -v and its command", whole),
        ("a command over lines", alone),
    ] {
        let r = triage_in(&["-"], Some(&text));
        assert!(
            r.out.contains("carried no client credentials"),
            "{input}: a request shown without credentials is diagnosed as such:\n{}",
            r.out
        );
    }
}

#[test]
fn a_har_without_credential_headers_may_have_been_sanitised() {
    // Browsers' sanitised HAR export drops `Authorization` and `Cookie`: an entry without them
    // says nothing of whether the request had them. A HAR `triage export` wrote keeps them (as
    // placeholders), so there their absence is the request's.
    let har = |extra: &str| {
        format!(
            r#"{{"log":{{"version":"1.2","creator":{{"name":"WebInspector","version":"537.36"}},"entries":[
{{"startedDateTime":"2026-11-23T01:00:00Z","time":1,{extra}
 "request":{{"method":"POST","url":"https://login.mypurecloud.com/oauth/token","httpVersion":"HTTP/1.1","headers":[{{"name":"Content-Type","value":"application/x-www-form-urlencoded"}}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":29,"postData":{{"mimeType":"application/x-www-form-urlencoded","text":"grant_type=client_credentials"}}}},
 "response":{{"status":401,"statusText":"Unauthorized","httpVersion":"HTTP/1.1","headers":[{{"name":"Content-Type","value":"application/json"}}],"cookies":[],"content":{{"size":90,"mimeType":"application/json","text":"{{\"error\":\"invalid_client\",\"description\":\"invalid client\",\"error_description\":\"invalid client\"}}"}},"redirectURL":"","headersSize":-1,"bodySize":90}},
 "cache":{{}},"timings":{{"send":0,"wait":1,"receive":0}}}},
{{"startedDateTime":"2026-11-23T01:00:01Z","time":1,{extra}
 "request":{{"method":"GET","url":"https://api.mypurecloud.com/api/v2/users/me","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0}},
 "response":{{"status":401,"statusText":"Unauthorized","httpVersion":"HTTP/1.1","headers":[{{"name":"Content-Type","value":"application/json"}}],"cookies":[],"content":{{"size":90,"mimeType":"application/json","text":"{{\"message\":\"Authentication required\",\"code\":\"authentication.required\",\"status\":401}}"}},"redirectURL":"","headersSize":-1,"bodySize":90}},
 "cache":{{}},"timings":{{"send":0,"wait":1,"receive":0}}}}]}}}}"#
        )
    };
    let browser = triage_in(&["-"], Some(har("").as_bytes()));
    for claim in [
        "carried no client credentials",
        "the request has no Authorization header",
    ] {
        assert!(
            !browser.out.contains(claim),
            "a browser's HAR: {claim:?} of a header it may have dropped:\n{}",
            browser.out
        );
    }
    for diagnosis in [
        "The client id or secret was not accepted (invalid_client)",
        "The API did not accept the request's credentials (authentication.required).",
    ] {
        assert!(
            browser.out.contains(diagnosis),
            "a browser's HAR: expected {diagnosis:?} in:\n{}",
            browser.out
        );
    }
    assert_eq!(
        browser
            .out
            .matches("note: this HAR entry has no Authorization header, and a browser's sanitised export")
            .count(),
        2,
        "a note with each refused call:\n{}",
        browser.out
    );
    let ours = triage_in(&["-"], Some(har(r#""_triage":{},"#).as_bytes()));
    assert!(!ours.out.contains("sanitised export"), "{}", ours.out);
    for claim in [
        "carried no client credentials",
        "the request has no Authorization header",
    ] {
        assert!(
            ours.out.contains(claim),
            "triage's own HAR: expected {claim:?} in:\n{}",
            ours.out
        );
    }
}

#[test]
fn a_curl_command_gives_the_request_body_the_rules_read() {
    // The forum's recontact advice, as a support engineer reproduces it: a command over several
    // lines, the JSON body quoted across them, then `curl -i`'s output.
    let input = b"$ curl -i -X POST 'https://api.mypurecloud.com/api/v2/conversations/messages/agentless' \\\n\
        \x20 -H \"Authorization: Bearer $TOKEN\" \\\n\
        \x20 -H 'Content-Type: application/json' \\\n\
        \x20 -d '{\n\
        \x20   \"toAddressMessengerType\": \"webmessaging\",\n\
        \x20   \"allowRecontact\": true\n\
        \x20 }'\n\
        HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n\
        {\"message\":\"Invalid request\",\"code\":\"bad.request\",\"status\":400}";
    let r = triage_in(&["--format", "json", "-"], Some(input));
    let lines = json_lines(&r.out);
    let d = &lines[0]["diagnoses"][0];
    assert_eq!(d["rule"], "recontact-disabled", "{}", r.out);
    assert_eq!(
        d["cause"],
        "The request sets allowRecontact, a field that exists in no Genesys Cloud model: there is no recontact flag to turn on.",
        "{}",
        r.out
    );
}

#[test]
fn a_browsers_copy_as_curl_bash_with_an_ansi_c_quoted_body_is_read() {
    // Chrome's "Copy as cURL (bash)" writes a body with a `'` in it as `$'…'`, with `\'`.
    let input = br#"curl 'https://api.mypurecloud.com/api/v2/conversations/messages/abc/communications/def/messages' \
  -H 'content-type: application/json' \
  --data-raw $'{"textBody":"it\'s me","allowRecontact":true}'
HTTP/2 409
content-type: application/json

{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;
    let r = triage_in(&["--format", "json", "-"], Some(input));
    let lines = json_lines(&r.out);
    assert_eq!(
        lines[0]["diagnoses"][0]["rule"], "recontact-disabled",
        "{}",
        r.out
    );
    assert!(lines[0].get("notes").is_none(), "{}", r.out);
}

#[test]
fn an_error_body_quoted_in_a_log_line_or_stack_trace_is_read() {
    // An exception as SDKs other than Python's and JavaScript's print it: the body inside a
    // line of other text, a stack trace under it.
    let java = br#"com.mypurecloud.sdk.v2.ApiException: {"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409,"details":[]}
	at com.mypurecloud.sdk.v2.ApiClient.invoke(ApiClient.java:797) {inlined}
"#;
    let r = triage_in(
        &[
            "--format",
            "json",
            "--method",
            "POST",
            "--path",
            "/api/v2/conversations/messages/abc/communications/def/messages",
            "-",
        ],
        Some(java),
    );
    let lines = json_lines(&r.out);
    assert_eq!(lines[0]["status"], 409, "{}", r.out);
    assert_eq!(
        lines[0]["diagnoses"][0]["rule"], "conversation-closed",
        "{}",
        r.out
    );
    assert!(
        r.err.contains(
            "read the error body quoted on line 1; the rest of the text is not explained"
        ),
        "{}",
        r.err
    );
    // An OAuth error in a .NET-style message, found without --input.
    let dotnet = br#"ApiException: Error calling PostToken: {"error":"invalid_client","error_description":"invalid client"}"#;
    let r = triage_in(
        &[
            "--status",
            "401",
            "--method",
            "POST",
            "--path",
            "/oauth/token",
            "-",
        ],
        Some(dotnet),
    );
    assert!(r.out.contains("oauth-client-error"), "{}", r.out);
    // Braces that hold no error body are no input triage knows.
    let r = triage_in(&["-"], Some(b"a log line {\"user\":\"x\"} and { more }"));
    assert!(
        r.err.contains("cannot tell what kind of input this is"),
        "{}",
        r.err
    );
}

/// A ticket or forum post pasted whole is no capture: nothing is diagnosed from its prose, and
/// the error names the call it describes and the command that would explain it.
#[test]
fn pasted_prose_that_names_a_call_is_answered_with_the_command_that_explains_it() {
    let ticket = "Hi team, POST /api/v2/conversations/messages/agentless returns 409 Conflict \
                  for our proactive notifications. Is there a flag to allow recontact?\n";
    let r = triage_in(&["-"], Some(ticket.as_bytes()));
    assert_eq!(r.code, 2, "an input error: exit 2\n{}", r.err);
    let want = "It reads as text that names a call, POST \
                /api/v2/conversations/messages/agentless, not a capture: save the failing \
                call's error body (or the whole SDK error) to a file and run `triage explain \
                FILE --method POST --path /api/v2/conversations/messages/agentless --status 409`";
    assert!(
        r.err.contains(want),
        "the hint\n  expected: {want}\n       got: {}",
        r.err
    );
    assert!(
        r.out.contains("0 exchanges read, 0 failed, 0 diagnosed"),
        "{}",
        r.out
    );
}

#[test]
fn a_har_entry_whose_upload_was_not_kept_has_an_unknown_body() {
    // `bodySize` 29 and no `postData` (Chrome leaves large and binary uploads out): the body
    // may well hold the client_id, so "no client credentials" is not said.
    let har = r#"{"log":{"version":"1.2","creator":{"name":"triage","version":"1"},"entries":[{"startedDateTime":"2026-11-23T01:00:00Z","time":1,"_triage":{},
 "request":{"method":"POST","url":"https://login.mypurecloud.com/oauth/token","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/x-www-form-urlencoded"}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":29},
 "response":{"status":401,"statusText":"Unauthorized","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/json"}],"cookies":[],"content":{"size":90,"mimeType":"application/json","text":"{\"error\":\"invalid_client\",\"description\":\"invalid client\",\"error_description\":\"invalid client\"}"},"redirectURL":"","headersSize":-1,"bodySize":90},
 "cache":{},"timings":{"send":0,"wait":1,"receive":0}}]}}"#;
    let r = triage_in(&["-"], Some(har.as_bytes()));
    assert!(
        r.out
            .contains("The client id or secret was not accepted (invalid_client)")
            && !r.out.contains("carried no client credentials"),
        "{}",
        r.out
    );
    // The same entry with its body kept, and no client_id in it.
    let kept = har.replace(
        r#""bodySize":29},"#,
        r#""bodySize":29,"postData":{"mimeType":"application/x-www-form-urlencoded","text":"grant_type=client_credentials"}},"#,
    );
    let r = triage_in(&["-"], Some(kept.as_bytes()));
    assert!(r.out.contains("carried no client credentials"), "{}", r.out);
}

#[test]
fn a_har_that_kept_a_credential_header_is_not_taken_for_sanitised_after_it() {
    // An entry that carries `Authorization` shows the file kept credential headers: an entry
    // after it without one really had none. Before it, nothing is known yet.
    let entry = |t: &str, auth: bool, status: u16, body: &str| {
        let headers = if auth {
            r#"[{"name":"Authorization","value":"Bearer a-token-of-the-app-0123456789"}]"#
        } else {
            "[]"
        };
        format!(
            r#"{{"startedDateTime":"2026-11-23T01:00:0{t}Z","time":1,"request":{{"method":"GET","url":"https://api.mypurecloud.com/api/v2/users/me","httpVersion":"HTTP/1.1","headers":{headers},"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0}},"response":{{"status":{status},"statusText":"","httpVersion":"HTTP/1.1","headers":[{{"name":"Content-Type","value":"application/json"}}],"cookies":[],"content":{{"size":10,"mimeType":"application/json","text":{body}}},"redirectURL":"","headersSize":-1,"bodySize":10}},"cache":{{}},"timings":{{"send":0,"wait":1,"receive":0}}}}"#
        )
    };
    let ok = entry("0", true, 200, r#""{\"id\":\"u1\"}""#);
    let refused = |t| {
        entry(
            t,
            false,
            401,
            r#""{\"message\":\"Authentication required\",\"code\":\"authentication.required\",\"status\":401}""#,
        )
    };
    let har = |entries: &[String]| {
        format!(
            r#"{{"log":{{"version":"1.2","creator":{{"name":"WebInspector","version":"537.36"}},"entries":[{}]}}}}"#,
            entries.join(",")
        )
    };
    let after = triage_in(&["-"], Some(har(&[ok.clone(), refused("1")]).as_bytes()));
    assert!(
        after
            .out
            .contains("the request has no Authorization header"),
        "after an entry with Authorization:\n{}",
        after.out
    );
    let before = triage_in(
        &["-"],
        Some(har(&[refused("0"), ok.replace(":00:00Z", ":00:01Z")]).as_bytes()),
    );
    assert!(
        !before
            .out
            .contains("the request has no Authorization header")
            && before.out.contains(
                "The API did not accept the request's credentials (authentication.required)."
            ),
        "before any entry with Authorization:\n{}",
        before.out
    );
}

#[test]
fn a_failure_whose_request_was_not_shown_says_what_would_show_it() {
    // A bare error body, its request given by --method and --path alone.
    let bare_body = |method: &str, path: &str, body: &[u8]| {
        triage_in(&["--method", method, "--path", path, "-"], Some(body))
    };
    let body = br#"{"message":"Something odd","code":"odd.thing","status":400}"#;
    let bare = bare_body("POST", "/api/v2/conversations/messages/agentless", body);
    assert!(
        bare.out.contains("(no diagnosis)")
            && bare
                .out
                .contains("note: the input does not show the request's headers or body"),
        "{}",
        bare.out
    );
    let mut verbose = b"> POST /api/v2/conversations/messages/agentless HTTP/1.1\n> Host: api.mypurecloud.com\n> Content-Type: application/json\n>\n< HTTP/1.1 400 Bad Request\n< Content-Type: application/json\n<\n".to_vec();
    verbose.extend_from_slice(body);
    let r = triage_in(&["-"], Some(&verbose));
    assert!(
        r.out.contains(
            "note: the input does not show the request's body (`curl -v` does not print it)"
        ),
        "{}",
        r.out
    );
    // The note reads as one sentence, single-spaced.
    assert!(
        bare.out.contains(
            "note: the input does not show the request's headers or body: a rule that reads them could not be checked, and it might have matched. `curl -v` output with the curl command above it, or a HAR file, shows them"
        ),
        "{}",
        bare.out
    );
    // A diagnosed failure gets it too when a rule that reads the request might have said more:
    // `recontact-disabled` reads the body, which a bare 409 does not show.
    let conflict = bare_body(
        "PUT",
        "/api/v2/x",
        br#"{"message":"x","code":"request.conflict","status":409}"#,
    );
    assert!(
        conflict.out.contains("request-conflict")
            && conflict.out.contains(
                "note: the input does not show the request's headers or body: a rule that reads them could not be checked, and it might have said more than this diagnosis."
            ),
        "{}",
        conflict.out
    );
    // No rule for a 404 reads the request's headers or body: nothing to show, no note.
    let missing = bare_body(
        "GET",
        "/api/v2/users/u-1",
        br#"{"message":"x","code":"not.found","status":404}"#,
    );
    assert!(
        !missing.out.contains("does not show the request"),
        "{}",
        missing.out
    );
    // A request shown whole gets no such note.
    let mut whole = b"$ curl -v -X POST https://api.mypurecloud.com/api/v2/conversations/messages/agentless -d '{}'\n".to_vec();
    whole.extend_from_slice(&verbose);
    let r = triage_in(&["-"], Some(&whole));
    assert!(!r.out.contains("does not show the request"), "{}", r.out);
}

/// A file given twice is read once, with a warning; a path given without its first `/` is
/// refused, naming the path it would be.
#[test]
fn a_file_given_twice_is_read_once_and_a_path_needs_its_slash() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(
        &body,
        r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#,
    )
    .unwrap();
    let twice = dir.path().join(".").join("body.json");
    let r = triage(&[body.to_str().unwrap(), twice.to_str().unwrap()]);
    assert!(
        r.out.starts_with("triage explain: 1 exchange read"),
        "{}",
        r.out
    );
    let want = format!(
        "triage: warning: {} is given more than once: it is read once",
        twice.display()
    );
    assert!(
        r.err.contains(&want),
        "expected: {want}\n     got: {}",
        r.err
    );

    let r = triage(&["--path", "api/v2/users/me", body.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(
        r.err
            .contains("give the request's path from its first `/` (`/api/v2/users/me`)"),
        "{}",
        r.err
    );
}

/// What `triage explain --format json` read from `input`, each exchange's method, url, status
/// and first rule; and its stderr (warnings, the summary).
fn read_as(input: &[u8]) -> (Vec<(String, String, u64, String)>, String) {
    let r = triage_in(&["--format", "json", "-"], Some(input));
    let lines = json_lines(&r.out);
    let got = lines
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap_or("").to_owned(),
                l["url"].as_str().unwrap_or("").to_owned(),
                l["status"].as_u64().unwrap_or(0),
                l["diagnoses"][0]["rule"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    (got, r.err)
}

fn exchange(method: &str, url: &str, status: u64, rule: &str) -> (String, String, u64, String) {
    (method.into(), url.into(), status, rule.into())
}

/// [`CONFLICT_BODY`] as text.
const CONFLICT: &str = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;

#[test]
fn curls_notes_and_progress_meter_are_not_taken_for_the_exchange() {
    // `-X POST -d` makes curl print a note; `curl -v … > f 2>&1` its progress meter (an update
    // glued by `\r` to the next line) and `{ [N bytes data]` where data went.
    let note = "Note: Unnecessary use of -X or --request, POST is already inferred.\n";
    let cmd = "curl -v -X POST https://api.mypurecloud.ie/api/v2/conversations/messages/agentless -H \"Authorization: Bearer tok123456789\" -H \"Content-Type: application/json\" -d '{\"fromAddress\":\"dep-1\"}'\n";
    let verbose = format!(
        "*   Trying 52.1.2.3:443...\n* Connected to api.mypurecloud.ie (52.1.2.3) port 443\n\
         > POST /api/v2/conversations/messages/agentless HTTP/2\n> Host: api.mypurecloud.ie\n\
         > Authorization: Bearer tok123456789\n> Content-Type: application/json\n>\n\
         < HTTP/2 409\n< content-type: application/json\n<\n{CONFLICT}\n"
    );
    let redirected = format!(
        "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n\
         \x20                                Dload  Upload   Total   Spent    Left  Speed\n\
         \r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0*   Trying 127.0.0.1:18999...\n\
         * Connected to 127.0.0.1 (127.0.0.1) port 18999 (#0)\n\
         > POST /api/v2/conversations/messages/agentless HTTP/1.1\r\n> Host: 127.0.0.1:18999\r\n\
         > Authorization: Bearer tok123456789\r\n> Content-Type: application/json\r\n> Content-Length: 23\r\n> \r\n\
         }} [23 bytes data]\n\
         < HTTP/1.1 409 Conflict\r\n< Content-Type: application/json\r\n< ININ-Correlation-Id: c0ffee\r\n< \r\n\
         {{ [121 bytes data]\n\
         \r100   144  100   121  100    23  30052   3832 --:--:-- --:--:-- --:--:-- 42000\n\
         * Connection #0 to host 127.0.0.1 left intact\n\
         {CONFLICT}"
    );
    let i = format!(
        "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nININ-Correlation-Id: c0ffee\r\n\r\n{CONFLICT}"
    );
    let cases = [
        (
            "-v after its command",
            format!("{cmd}{note}{verbose}"),
            "api.mypurecloud.ie",
        ),
        ("-v alone", format!("{note}{verbose}"), "api.mypurecloud.ie"),
        (
            "-i after its command",
            format!("{}{note}{i}", cmd.replace("-v", "-i")),
            "api.mypurecloud.ie",
        ),
        (
            "-v to a file, its command above",
            format!(
                "{}{note}{redirected}",
                cmd.replace("https://api.mypurecloud.ie", "http://127.0.0.1:18999")
            ),
            "127.0.0.1:18999",
        ),
        (
            "-v to a file",
            format!("{note}{redirected}"),
            "127.0.0.1:18999",
        ),
        (
            "-v to a file, CRLF",
            format!("{note}{redirected}").replace('\n', "\r\n"),
            "127.0.0.1:18999",
        ),
    ];
    for (how, input, host) in cases {
        let (got, err) = read_as(input.as_bytes());
        assert_eq!(
            got,
            [exchange(
                "POST",
                &format!("{host}/api/v2/conversations/messages/agentless"),
                409,
                "request-conflict"
            )],
            "{how}: {err}"
        );
        assert!(!err.contains("warning"), "{how}: no warning:\n{err}");
    }
    // The notes printed before anything else do not hide a transcript's kind either.
    let r = triage_in(&["-"], Some(format!("{note}{i}").as_bytes()));
    assert!(r.out.contains("request-conflict"), "{}{}", r.out, r.err);
}

#[test]
fn a_shells_prompt_around_the_transcript_is_not_read_as_part_of_it() {
    // cmd's prompt before `curl.exe`, as pasted from a Windows terminal.
    let windows = "C:\\Users\\me> curl.exe -v -H \"Authorization: Bearer WINSECRETTOKEN999\" -H \"Content-Type: application/json\" -d \"{\\\"fromAddress\\\":\\\"dep-1\\\",\\\"toAddressMessengerType\\\":\\\"webmessaging\\\"}\" https://api.mypurecloud.ie/api/v2/conversations/messages/agentless\r\n\
        *   Trying 52.1.2.3:443...\r\n* Connected to api.mypurecloud.ie (52.1.2.3) port 443\r\n\
        > POST /api/v2/conversations/messages/agentless HTTP/1.1\r\n> Host: api.mypurecloud.ie\r\n\
        > Authorization: Bearer WINSECRETTOKEN999\r\n> Content-Type: application/json\r\n> Content-Length: 63\r\n>\r\n\
        * upload completely sent off: 63 bytes\r\n\
        < HTTP/1.1 400 Bad Request\r\n< Content-Type: application/json\r\n< ININ-Correlation-Id: win-1\r\n<\r\n\
        {\"message\":\"Value [null] is not valid for field type [String]. Allowable values are: externalContactId\",\"code\":\"invalid.value\",\"status\":400}* Connection #0 to host api.mypurecloud.ie left intact\r\n";
    let want = [exchange(
        "POST",
        "api.mypurecloud.ie/api/v2/conversations/messages/agentless",
        400,
        "agentless-webmessaging-contact",
    )];
    for prompt in [
        "C:\\Users\\me> ",
        "C:\\Users\\me>",
        "PS C:\\Users\\me> ",
        "> ",
        "$ ",
        "% ",
        "user@host:~$ ",
        "[user@host dir]$ ",
    ] {
        let input = windows.replacen("C:\\Users\\me> ", prompt, 1);
        let (got, err) = read_as(input.as_bytes());
        assert_eq!(got, want, "after {prompt:?}: {err}");
        assert!(!err.contains("warning"), "{prompt:?}: {err}");
        // And the prompt the copy ran on to after the output.
        for after in ["C:\\Users\\me>", "user@host:~$ "] {
            let (got, err) = read_as(format!("{input}{after}").as_bytes());
            assert_eq!(got, want, "after {prompt:?}, then {after:?}: {err}");
        }
    }
    let r = triage_in(&["--format", "markdown", "-"], Some(windows.as_bytes()));
    assert!(
        !r.out.contains("WINSECRETTOKEN999") && !r.err.contains("WINSECRETTOKEN999"),
        "{}",
        r.out
    );
    // `curl -i` output with the prompt after its JSON body: the body is still the body.
    let i = format!(
        "user@host:~$ curl -i -X POST https://api.mypurecloud.ie/api/v2/conversations/messages/agentless -d '{{}}'\n\
         HTTP/2 409\ncontent-type: application/json\n\n{CONFLICT}\nuser@host:~$"
    );
    let (got, err) = read_as(i.as_bytes());
    assert_eq!(
        got,
        [exchange(
            "POST",
            "api.mypurecloud.ie/api/v2/conversations/messages/agentless",
            409,
            "request-conflict"
        )],
        "{err}"
    );
}

#[test]
fn every_exchange_of_a_transcript_is_read() {
    let scope = r#"{"message":"App not authorized to use scope [conversations, conversations:readonly]","code":"app.not.authorized.for.scope","status":403}"#;
    let get = |id: &str, correlation: &str| {
        format!(
            "> GET /api/v2/conversations/messages/{id} HTTP/1.1\r\n> Host: api.mypurecloud.ie\r\n\
             > Authorization: Bearer tok123456789\r\n> \r\n\
             < HTTP/1.1 403 Forbidden\r\n< Content-Type: application/json\r\n< ININ-Correlation-Id: {correlation}\r\n< \r\n"
        )
    };
    let want = [
        exchange(
            "GET",
            "api.mypurecloud.ie/api/v2/conversations/messages/c1",
            403,
            "missing-scope",
        ),
        exchange(
            "GET",
            "api.mypurecloud.ie/api/v2/conversations/messages/c2",
            403,
            "missing-scope",
        ),
    ];
    let cases = [
        // `curl -sv URL1 URL2`: the notes on the second glued to the first body.
        (
            "curl -sv URL1 URL2",
            format!(
                "*   Trying 52.1.2.3:443...\n{}{{ [136 bytes data]\n* Connection #0 to host api.mypurecloud.ie left intact\n\
                 {scope}* Found bundle for host: 0x55b414c2a1e0 [serially]\n* Re-using existing connection #0 with host api.mypurecloud.ie\n{}{scope}",
                get("c1", "first"),
                get("c2", "second")
            ),
        ),
        // Two commands and their output, one after the other.
        (
            "two curl -v",
            format!(
                "$ curl -v https://api.mypurecloud.ie/api/v2/conversations/messages/c1 -H 'Authorization: Bearer tok123456789'\n* CONNECT phase completed\n{}{scope}\n\n\
                 $ curl -v https://api.mypurecloud.ie/api/v2/conversations/messages/c2 -H 'Authorization: Bearer tok123456789'\n* CONNECT phase completed\n{}{scope}\n",
                get("c1", "first"),
                get("c2", "second")
            ),
        ),
        (
            "two curl -i",
            format!(
                "$ curl -i https://api.mypurecloud.ie/api/v2/conversations/messages/c1 -H 'Authorization: Bearer tok123456789'\n\
                 HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n{scope}\
                 $ curl -i https://api.mypurecloud.ie/api/v2/conversations/messages/c2 -H 'Authorization: Bearer tok123456789'\n\
                 HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n{scope}\n"
            ),
        ),
    ];
    for (how, input) in cases {
        let (got, err) = read_as(input.as_bytes());
        assert_eq!(got, want, "{how}: {err}");
        assert!(!err.contains("warning"), "{how}: {err}");
        let r = triage_in(&["-"], Some(input.as_bytes()));
        assert!(
            r.out.contains("2 exchanges read, 2 failed, 2 diagnosed")
                && !r.out.contains("tok123456789"),
            "{how}: {}",
            r.out
        );
    }
    // A second request no response follows (curl could not reach it) is named where it starts.
    let input = format!(
        "{}{scope}\n* Connection #0 to host api.mypurecloud.ie left intact\n*   Trying 52.1.2.4:443...\n\
         > GET /api/v2/conversations/messages/c2 HTTP/1.1\r\n> \r\n\
         * Recv failure: Connection reset by peer\ncurl: (56) Recv failure: Connection reset by peer\n",
        get("c1", "first")
    );
    let (got, err) = read_as(input.as_bytes());
    assert_eq!(got, want[..1], "{err}");
    assert!(
        err.contains("-: line 12: another exchange starts here (a curl command or request), but no response follows it: it is not read"),
        "{err}"
    );
}

#[test]
fn an_interim_response_or_a_proxys_tunnel_reads_as_the_final_response() {
    let conflict = |before: &str| {
        format!("{before}HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n{CONFLICT}")
    };
    let verbose_conflict = format!(
        "*   Trying 52.1.2.3:443...\n> POST /api/v2/conversations/messages/agentless HTTP/1.1\n> Host: api.mypurecloud.ie\n\
         > Content-Length: 2000\n> Expect: 100-continue\n>\n< HTTP/1.1 100 Continue\n* We are completely uploaded and fine\n\
         < HTTP/1.1 409 Conflict\n< Content-Type: application/json\n<\n{CONFLICT}\n"
    );
    let verbose_proxy = format!(
        "* Uses proxy env variable https_proxy == 'http://proxy.corp:3128'\n*   Trying 10.0.0.1:3128...\n\
         > CONNECT api.mypurecloud.ie:443 HTTP/1.1\n> Host: api.mypurecloud.ie:443\n\
         > Proxy-Authorization: Basic cHJveHl1c2VyOlBST1hZUEFTU1dPUkQ=\n>\n\
         < HTTP/1.1 200 Connection established\n<\n* CONNECT phase completed\n\
         > GET /api/v2/conversations/messages/c1 HTTP/1.1\n> Host: api.mypurecloud.ie\n>\n\
         < HTTP/1.1 409 Conflict\n< Content-Type: application/json\n<\n{CONFLICT}\n"
    );
    for (how, input, want) in [
        (
            "curl -i, 100 Continue",
            conflict("HTTP/1.1 100 Continue\r\n\r\n"),
            exchange("", "", 409, "request-conflict"),
        ),
        (
            "curl -i, a proxy",
            conflict("HTTP/1.1 200 Connection established\r\n\r\n"),
            exchange("", "", 409, "request-conflict"),
        ),
        (
            "curl -v, 100 Continue",
            verbose_conflict,
            exchange(
                "POST",
                "api.mypurecloud.ie/api/v2/conversations/messages/agentless",
                409,
                "request-conflict",
            ),
        ),
        (
            "curl -v, a proxy",
            verbose_proxy,
            exchange(
                "GET",
                "api.mypurecloud.ie/api/v2/conversations/messages/c1",
                409,
                "request-conflict",
            ),
        ),
    ] {
        let (got, err) = read_as(input.as_bytes());
        assert_eq!(got, [want], "{how}: {err}");
        let r = triage_in(&["--format", "json", "-"], Some(input.as_bytes()));
        assert!(!r.out.contains("cHJveHl1c2Vy"), "{how}: {}", r.out);
    }
}

/// One HAR entry: `method url`, request headers and form body, response status and body.
fn har_entry(
    at: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    form: Option<&str>,
    status: u16,
    body: &str,
) -> Value {
    let headers: Vec<Value> = headers
        .iter()
        .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
        .collect();
    let mut request = serde_json::json!({"method": method, "url": url, "httpVersion": "HTTP/1.1",
        "headers": headers, "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0});
    if let Some(f) = form {
        request["postData"] =
            serde_json::json!({"mimeType": "application/x-www-form-urlencoded", "text": f});
    }
    serde_json::json!({"startedDateTime": at, "time": 10, "request": request,
        "response": {"status": status, "statusText": "X", "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": "application/json"}], "cookies": [],
            "content": {"size": body.len(), "mimeType": "application/json", "text": body},
            "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0}})
}

/// The diagnoses (rule, cause) of each exchange of `--format json`.
fn diagnoses_of(out: &str) -> Vec<(u64, Vec<(String, String)>)> {
    json_lines(out)
        .iter()
        .map(|l| {
            let d = l["diagnoses"].as_array().unwrap().iter();
            let d = d.map(|d| (d["rule"].to_string(), d["cause"].to_string()));
            (l["index"].as_u64().unwrap(), d.collect())
        })
        .collect()
}

/// What customers are told to send is a HAR through `triage redact`; a recording and its export
/// are redacted too. The diagnoses of a redacted file must be those of the original: a
/// credential replaced by `Bearer [redacted 1a2b3c4d]` is still a bearer token.
#[test]
fn a_redacted_har_gets_the_diagnoses_of_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let api = "https://api.mypurecloud.ie/api/v2/conversations/messages/c-1";
    let login = "https://login.mypurecloud.ie/oauth/token";
    let bad_credentials =
        r#"{"message":"Invalid login credentials.","code":"bad.credentials","status":401}"#;
    let required = r#"{"message":"No authentication bearer token specified in authorization header.","code":"authentication.required","status":401}"#;
    let invalid_client = r#"{"error":"invalid_client","description":"invalid client credentials","error_description":"invalid client credentials"}"#;
    let form = Some("grant_type=client_credentials");
    let basic = ("Authorization", "Basic Y2xpZW50Ondyb25n");
    let entries = vec![
        har_entry(
            "2026-03-01T10:00:00Z",
            "POST",
            login,
            &[basic],
            form,
            401,
            invalid_client,
        ),
        har_entry(
            "2026-03-01T10:00:01Z",
            "GET",
            api,
            &[("Authorization", "Bearer tok-1")],
            None,
            401,
            bad_credentials,
        ),
        har_entry(
            "2026-03-01T10:00:02Z",
            "GET",
            api,
            &[("authorization", "bearer  tok-2")],
            None,
            401,
            required,
        ),
        // Not a bearer token, redacted or not.
        har_entry(
            "2026-03-01T10:00:03Z",
            "GET",
            api,
            &[basic],
            None,
            401,
            bad_credentials,
        ),
        har_entry(
            "2026-03-01T10:00:04Z",
            "GET",
            api,
            &[("Authorization", "tok-3")],
            None,
            401,
            required,
        ),
        har_entry(
            "2026-03-01T10:00:05Z",
            "POST",
            login,
            &[("Authorization", "Bearer tok-4")],
            form,
            401,
            invalid_client,
        ),
    ];
    let har = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
        "entries": entries}});
    let made = dir.path().join("auth.har");
    std::fs::write(&made, serde_json::to_vec(&har).unwrap()).unwrap();

    let mut inputs = vec![made];
    for f in ["har/chrome.har", "har/firefox.har", "har/secrets.har"] {
        inputs.push(fixture(f));
    }
    for f in ["closed-conversation.har", "secrets.har", "unsorted.har"] {
        inputs.push(fixture(&format!("explain/{f}")));
    }
    for input in inputs {
        let name = input.file_name().unwrap().to_str().unwrap().to_owned();
        let red = dir.path().join(format!("red-{name}"));
        let status = Command::new(env!("CARGO_BIN_EXE_triage"))
            .args(["redact", "--keep-content", "-o"])
            .args([&red, &input])
            .status()
            .unwrap();
        assert!(status.success(), "triage redact {name}");
        let original = triage(&["--format", "json", input.to_str().unwrap()]);
        let redacted = triage(&["--format", "json", red.to_str().unwrap()]);
        let (want, got) = (diagnoses_of(&original.out), diagnoses_of(&redacted.out));
        assert!(
            !want.is_empty(),
            "{name}: nothing diagnosed: {}",
            original.err
        );
        assert_eq!(got, want, "{name}: redacted (left) vs original (right)");
    }
}

/// A HAR without calls, or with an entry that is no HAR entry, is an input error: "Nothing
/// failed" (exit 0) would hide a capture that was not running, or a failure in that entry.
#[test]
fn a_har_without_calls_or_with_a_broken_entry_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let creator = serde_json::json!({"name": "test", "version": "1"});
    let empty = write(
        "empty.har",
        serde_json::json!({"log": {"version": "1.2", "creator": creator, "entries": []}}),
    );
    let r = triage(&[&empty]);
    assert_eq!(r.code, 2, "{}", r.err);
    let want = "empty.har: the HAR holds no calls (log.entries is empty)";
    assert!(r.err.contains(want), "expected {want:?} in {}", r.err);

    let no_entries = write("no-entries.har", serde_json::json!({"log": {}}));
    let r = triage(&[&no_entries]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("the HAR has no log.entries"), "{}", r.err);

    let conflict = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;
    let mut relative = har_entry(
        "2026-03-01T10:00:01Z",
        "POST",
        "/api/v2/conversations/messages/c-1/communications/m-1/messages",
        &[],
        None,
        409,
        conflict,
    );
    relative["request"]["postData"] =
        serde_json::json!({"mimeType": "application/json", "text": "{\"textBody\":\"hi\"}"});
    let broken = write(
        "broken.har",
        serde_json::json!({"log": {"version": "1.2", "creator": creator, "entries": [
            {"startedDateTime": "2026-03-01T10:00:00Z", "request": "x",
             "response": {"status": 409, "content": {"text": conflict}}},
            relative,
        ]}}),
    );
    let r = triage(&["--format", "json", &broken]);
    assert_eq!(r.code, 2, "{}", r.err);
    let want = "broken.har: log.entries[0] skipped: not a HAR entry at byte ";
    assert!(r.err.contains(want), "expected {want:?} in {}", r.err);
    assert!(r.err.contains("its request is not an object"), "{}", r.err);
    // The entry after it is read, its URL a path alone.
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 1, "{}", r.out);
    assert_eq!(
        lines[0]["url"],
        "/api/v2/conversations/messages/c-1/communications/m-1/messages"
    );
    assert!(
        !lines[0]["diagnoses"].as_array().unwrap().is_empty(),
        "{}",
        r.out
    );
}

/// A HAR entry's body that the file does not give is unknown, not empty, and the report says
/// why: a text marked base64 that is not base64 (its characters are no body), an empty text
/// where the size says there were bytes (or -1, which does not say). An empty text of size 0,
/// as Chrome and Firefox write for an empty body, stays an empty body, with no note.
#[test]
fn a_har_body_triage_cannot_use_is_unknown_and_the_report_says_why() {
    let url = "https://api.mypurecloud.ie/api/v2/conversations/messages/agentless";
    let body = r#"{"message":"You are missing the following permission(s): conversation:message:create","code":"missing.permissions","status":403}"#;
    let entry = |i: usize, content: Value| {
        let mut e = har_entry(
            &format!("2026-03-01T10:0{i}:00Z"),
            "POST",
            url,
            &[("Authorization", "Bearer abcdefghijklmnopqrstuvwxyz")],
            None,
            403,
            body,
        );
        e["response"]["content"] = content;
        e
    };
    let mut bad_request = entry(
        5,
        serde_json::json!({"size": body.len(), "mimeType": "application/json", "text": body}),
    );
    bad_request["request"]["bodySize"] = 12.into();
    bad_request["request"]["postData"] =
        serde_json::json!({"mimeType": "application/json", "text": "%%%", "encoding": "base64"});
    let entries = vec![
        entry(
            0,
            serde_json::json!({"size": 173, "mimeType": "application/json", "text": "!!!notbase64***", "encoding": "base64"}),
        ),
        entry(
            1,
            serde_json::json!({"size": -1, "mimeType": "application/json", "text": ""}),
        ),
        entry(
            2,
            serde_json::json!({"size": 173, "mimeType": "application/json", "text": ""}),
        ),
        entry(
            3,
            serde_json::json!({"size": 0, "mimeType": "application/json", "text": ""}),
        ),
        entry(
            4,
            serde_json::json!({"size": body.len(), "mimeType": "application/json", "encoding": "base64",
                "text": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body)}),
        ),
        bad_request,
    ];
    let har = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
        "entries": entries}});
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("content.har");
    std::fs::write(&file, har.to_string()).unwrap();
    let r = triage(&["--format", "json", file.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.err);
    let lines = json_lines(&r.out);
    assert_eq!(lines.len(), 6, "{}", r.out);
    let notes = |i: usize| -> Vec<String> {
        lines[i]["notes"]
            .as_array()
            .map(|n| n.iter().map(|n| n.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let rules = |i: usize| lines[i]["diagnoses"].as_array().unwrap().len();
    let unknown = "the response body is unknown: the HAR entry's";
    assert!(
        notes(0).iter().any(|n| n.starts_with(unknown)
            && n.contains("content.encoding is base64, but its content.text is not base64")),
        "{:?}",
        notes(0)
    );
    assert_eq!(rules(0), 0, "{}", lines[0]);
    assert!(
        notes(1).iter().any(|n| n.starts_with(unknown)
            && n.contains("content.text is empty, but its content.size is -1")),
        "{:?}",
        notes(1)
    );
    assert!(
        notes(2)
            .iter()
            .any(|n| n.starts_with(unknown) && n.contains("its content.size is 173")),
        "{:?}",
        notes(2)
    );
    // An empty body of size 0 is known empty; a good base64 text is the body, diagnosed.
    assert!(
        notes(3).iter().all(|n| !n.contains("body is unknown")),
        "{:?}",
        notes(3)
    );
    assert!(notes(4).is_empty(), "{:?}", notes(4));
    assert_eq!(lines[4]["diagnoses"][0]["rule"], "missing-permission");
    // A request body marked base64 that is not: unknown, said with the request.
    assert!(
        notes(5)
            .iter()
            .any(|n| n.starts_with("the request body is unknown")
                && n.contains("postData.encoding is base64, but its postData.text is not base64")),
        "{:?}",
        notes(5)
    );
    // Every format says it.
    for format in ["text", "markdown", "html"] {
        let r = triage(&["--format", format, file.to_str().unwrap()]);
        assert!(r.out.contains("is not base64"), "{format}: {}", r.out);
    }
}

/// `triage redact` of a JSON file that is no HAR (an SDK error printed as JSON, a config) to
/// standard output writes nothing of it: its members are held until `log` is seen, and the
/// refused output is thrown away unwritten. Headers carried as JSON data are credentials too.
#[test]
fn redact_of_a_json_that_is_no_har_writes_nothing_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("error.json");
    let pad = "x".repeat(20_000);
    std::fs::write(
        &f,
        format!(
            r#"{{"status":409,"headers":{{"set-cookie":["AWSALB=COOKIESECRET42"],"cookie":"s=COOKIESECRET43"}},"pad":"{pad}","error":{{"config":{{"headers":{{"Authorization":"Bearer BEARERSECRET44"}}}}}}}}"#
        ),
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["redact", f.to_str().unwrap(), "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "",
        "nothing of a file that is no HAR"
    );
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("not a HAR file"), "{err}");
    for s in ["COOKIESECRET42", "COOKIESECRET43", "BEARERSECRET44"] {
        assert!(!err.contains(s), "{s} in {err}");
    }

    // The same members beside a `log`: written, their credentials redacted.
    let har = dir.path().join("with-log.har");
    std::fs::write(
        &har,
        r#"{"_saved":{"set-cookie":"AWSALB=COOKIESECRET42","cookie":"s=COOKIESECRET43"},"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[]}}"#,
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["redact", har.to_str().unwrap(), "-o", "-"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        out.contains(r#""_saved":{"set-cookie":"[redacted "#),
        "{out}"
    );
    assert!(!out.contains("COOKIESECRET"), "{out}");
}

//! Offline readers: HAR (Chrome and Firefox shapes), truncated and malformed HAR, `curl -i`,
//! bare JSON bodies. Fixtures are small hand-made files under `tests/fixtures/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use http::Method;
use triage::exchange::{Exchange, UpstreamKind};
use triage::ingest::{self, IngestError, InputKind, ReadOptions};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Every exchange of a file, and the error that ended it (if any).
fn read_all(
    rel: &str,
    opts: &ReadOptions,
) -> (Vec<Exchange>, Option<IngestError>, ingest::Summary) {
    read_all_at(&fixture(rel), opts)
}

fn read_all_at(
    path: &Path,
    opts: &ReadOptions,
) -> (Vec<Exchange>, Option<IngestError>, ingest::Summary) {
    let rel = path.display();
    let mut it = ingest::read(path, opts).unwrap_or_else(|e| panic!("open {rel}: {e}"));
    let mut out = Vec::new();
    let mut err = None;
    for item in it.by_ref() {
        match item {
            Ok(ex) => out.push(ex),
            Err(e) => err = Some(e),
        }
    }
    (out, err, it.summary())
}

fn body_json(ex: &Exchange) -> serde_json::Value {
    let r = ex.response.as_ref().expect("a response");
    serde_json::from_slice(&r.body.bytes).unwrap_or_else(|e| {
        panic!(
            "response body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&r.body.bytes)
        )
    })
}

fn header<'a>(h: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn kinds_are_detected_from_the_first_bytes() {
    for (rel, kind) in [
        ("har/chrome.har", InputKind::Har),
        ("har/firefox.har", InputKind::Har),
        ("curl/conflict.txt", InputKind::Curl),
        ("curl/verbose.txt", InputKind::Curl),
        ("json/429.json", InputKind::JsonBody),
    ] {
        assert_eq!(
            ingest::detect_file(&fixture(rel)).unwrap(),
            kind,
            "kind of {rel}"
        );
    }
}

#[test]
fn a_har_with_a_custom_member_before_log_is_detected_as_har() {
    // HAR 1.2 allows `_` members in any object and JSON does not order members: a tool may
    // write one before `log`. Detected as a bare JSON body, the file was one "body" without a
    // status, and the error asked for --status.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.har");
    let har = std::fs::read_to_string(fixture("har/firefox.har")).unwrap();
    let har = har.replacen('{', "{\"_comment\": {\"log\": \"not this one\"}, ", 1);
    std::fs::write(&p, har).unwrap();
    assert_eq!(
        ingest::detect_file(&p).unwrap(),
        InputKind::Har,
        "kind of a HAR with `_comment` first"
    );
    let (exs, err, _) = read_all_at(&p, &ReadOptions::default());
    assert!(err.is_none(), "unexpected error: {err:?}");
    assert_eq!(exs.len(), 3);
    // A body whose member names only mention `log` deeper down stays a body.
    assert_eq!(
        ingest::detect(br#"{"message": "x", "details": {"log": {}}, "status": 400}"#),
        Some(InputKind::JsonBody)
    );
}

#[test]
fn chrome_har_pseudo_headers_gzip_base64_and_websocket() {
    let (exs, err, summary) = read_all("har/chrome.har", &ReadOptions::default());
    assert!(err.is_none(), "unexpected error: {err:?}");
    assert_eq!(exs.len(), 3, "exchanges (the WebSocket entry is skipped)");
    assert_eq!(summary.exchanges, 3);
    assert_eq!(
        summary.skipped.get("WebSocket").map(|s| s.count),
        Some(1),
        "skipped: {:?}",
        summary.skipped
    );
    assert_eq!(summary.skipped["WebSocket"].places, ["log.entries[2]"]);

    let a = &exs[0];
    assert_eq!(a.request.method, Method::POST);
    assert_eq!(a.request.path, "/api/v2/conversations/calls");
    assert_eq!(a.request.query.as_deref(), Some("dryRun=true"));
    assert_eq!(a.request.host.as_deref(), Some("api.mypurecloud.ie"));
    assert_eq!(a.request.upstream, UpstreamKind::Api);
    assert!(
        a.request
            .headers
            .keys()
            .all(|k| !k.as_str().starts_with(':')),
        "pseudo-headers kept: {:?}",
        a.request.headers
    );
    assert!(header(&a.request.headers, "authorization").is_some());
    assert_eq!(&a.request.body.bytes[..], br#"{"phoneNumber":"+3531234"}"#);
    assert_eq!(a.status(), Some(400));
    // Chrome keeps `content-encoding: gzip` next to already-decoded text.
    assert_eq!(body_json(a)["code"], "invalid.value");
    assert_eq!(a.timings.upstream_ms, Some(80));
    assert_eq!(a.timings.total_ms, Some(85));
    assert_eq!(
        a.started_at,
        UNIX_EPOCH + Duration::from_millis(1_772_360_430_123),
        "startedDateTime 2026-03-01T10:20:30.123Z"
    );

    let b = &exs[1];
    assert_eq!(b.request.method, Method::PUT);
    assert_eq!(b.status(), Some(409));
    let r = b.response.as_ref().unwrap();
    assert!(r.body.complete);
    assert_eq!(
        body_json(b)["code"],
        "request.conflict",
        "base64 gzip body decoded"
    );
    assert_eq!(
        b.correlation_id().as_deref(),
        Some("c0ffee00-1111-2222-3333-444455556666")
    );

    let c = &exs[2];
    assert_eq!(c.request.upstream, UpstreamKind::Login);
    assert_eq!(c.request.path, "/oauth/token");
    assert_eq!(
        &c.request.body.bytes[..],
        b"grant_type=client_credentials&client_id=abc"
    );
    assert_eq!(body_json(c)["error"], "invalid_client");
    assert_eq!(
        (a.seq, b.seq, c.seq),
        (1, 2, 3),
        "seq counts exchanges from 1"
    );
    assert_eq!(
        c.origin,
        triage::exchange::Origin::File {
            path: fixture("har/chrome.har").display().to_string(),
            index: 3
        },
        "origin index is the entry's index in the file"
    );
}

#[test]
fn firefox_har_blocked_request_and_base64_body() {
    let (exs, err, _) = read_all("har/firefox.har", &ReadOptions::default());
    assert!(err.is_none(), "unexpected error: {err:?}");
    assert_eq!(exs.len(), 3);
    let a = &exs[0];
    assert_eq!(a.status(), Some(429));
    assert_eq!(
        header(&a.response.as_ref().unwrap().headers, "retry-after"),
        Some("42")
    );
    assert_eq!(a.correlation_id().as_deref(), Some("corr-429"));
    assert_eq!(a.request.query.as_deref(), Some("pageSize=100"));
    assert_eq!(
        a.started_at,
        UNIX_EPOCH + Duration::from_secs(1_772_359_201),
        "2026-03-01T11:00:01+01:00"
    );
    let b = &exs[1];
    assert!(
        b.response.is_none(),
        "status 0 (blocked) means no response, got {:?}",
        b.response
    );
    assert!(b.request.body.is_empty() && b.request.body.complete);
    assert_eq!(b.timings.upstream_ms, None, "wait -1 is unknown");
    let c = &exs[2];
    assert_eq!(c.request.method, Method::DELETE);
    assert_eq!(
        body_json(c)["code"],
        "bad.credentials",
        "base64 body decoded"
    );
}

#[test]
fn truncated_har_yields_what_was_read_then_names_the_break() {
    let path = fixture("har/truncated.har");
    let len = std::fs::metadata(&path).unwrap().len();
    let (exs, err, _) = read_all("har/truncated.har", &ReadOptions::default());
    assert_eq!(exs.len(), 2, "exchanges before the break");
    assert_eq!(exs[1].status(), Some(409));
    let err = err.expect("an error after the exchanges");
    let msg = err.to_string();
    eprintln!("{msg}");
    match &err {
        IngestError::Broken {
            at, entry, context, ..
        } => {
            assert_eq!(*entry, Some(2), "entry in flight; {msg}");
            assert_eq!(context.as_deref(), Some("log.entries[2]"), "{msg}");
            assert_eq!(at.offset, len, "broke at the end of the file; {msg}");
        }
        other => panic!("expected Broken, got {other:?}"),
    }
    assert!(msg.contains("truncated.har"), "error names the file: {msg}");
    assert!(msg.contains("end of file"), "error says why: {msg}");
    assert!(
        msg.contains(&format!("byte {len}")),
        "error names the byte: {msg}"
    );
}

#[test]
fn malformed_har_names_line_and_entry() {
    let path = fixture("har/malformed.har");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().position(|l| l.contains("\"DELETE\"")).unwrap() as u64 + 2; // the line after "DELETE" is where the missing comma is noticed
    let (exs, err, _) = read_all("har/malformed.har", &ReadOptions::default());
    assert_eq!(exs.len(), 1, "the entry before the broken one");
    match err {
        Some(IngestError::Broken { at, entry, .. }) => {
            assert_eq!(entry, Some(1));
            assert_eq!(at.line, line, "line of the error (offset {})", at.offset);
            assert_eq!(
                text.as_bytes()[..at.offset as usize]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64
                    + 1,
                at.line,
                "offset and line agree"
            );
        }
        other => panic!("expected Broken, got {other:?}"),
    }
}

#[test]
fn not_a_har_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.har");
    std::fs::write(
        &p,
        br#"{"log": {"entries": [], "pages": []}, "extra": 1} trailing"#,
    )
    .unwrap();
    let opts = ReadOptions {
        kind: Some(InputKind::Har),
        ..Default::default()
    };
    let err = ingest::read(&p, &opts)
        .unwrap()
        .find_map(Result::err)
        .expect("an error");
    assert!(err.to_string().contains("after the end"), "{err}");
    std::fs::write(&p, b"hello").unwrap();
    let err = ingest::read(&p, &ReadOptions::default())
        .err()
        .expect("unknown kind");
    assert!(err.to_string().contains("--input"), "{err}");
}

#[test]
fn curl_i_output_uses_the_last_response() {
    let (exs, err, _) = read_all("curl/conflict.txt", &ReadOptions::default());
    assert!(err.is_none(), "{err:?}");
    let ex = &exs[0];
    assert_eq!(ex.status(), Some(409));
    assert_eq!(body_json(ex)["code"], "request.conflict");
    assert_eq!(ex.correlation_id().as_deref(), Some("c0ffee00"));
    assert!(!ex.request.method_known() && !ex.request.path_known());

    let opts = ReadOptions {
        method: Some(Method::POST),
        path: Some("/api/v2/x?y=1".into()),
        ..Default::default()
    };
    let (exs, _, _) = read_all("curl/conflict.txt", &opts);
    assert_eq!(exs[0].request.method, Method::POST);
    assert_eq!(
        (
            exs[0].request.path.as_str(),
            exs[0].request.query.as_deref()
        ),
        ("/api/v2/x", Some("y=1"))
    );
}

#[test]
fn curl_v_output_gives_the_request() {
    let (exs, _, _) = read_all("curl/verbose.txt", &ReadOptions::default());
    let ex = &exs[0];
    assert_eq!(ex.request.method, Method::PATCH);
    assert_eq!(ex.request.path, "/api/v2/users/abc");
    assert_eq!(ex.request.query.as_deref(), Some("x=1"));
    assert_eq!(ex.request.host.as_deref(), Some("api.mypurecloud.ie"));
    assert_eq!(ex.status(), Some(403));
    assert_eq!(body_json(ex)["code"], "app.not.authorized.for.scope");
}

#[test]
fn curl_v_output_keeps_a_body_that_starts_with_an_angle_bracket() {
    // curl -v prefixes its own lines with "< " and "> "; an HTML or XML body (a gateway's 502,
    // a CDN's 429) starts with `<` too, and was taken for more response headers: lost.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.txt");
    std::fs::write(
        &p,
        "> GET /api/v2/users/me HTTP/1.1\n> Host: api.mypurecloud.ie\n>\n< HTTP/1.1 502 Bad Gateway\n< Content-Type: text/html\n<\n<html><body>502 Bad Gateway</body></html>\n>not a request line either\n",
    )
    .unwrap();
    let (exs, err, _) = read_all_at(&p, &ReadOptions::default());
    assert!(err.is_none(), "{err:?}");
    let r = exs[0].response.as_ref().unwrap();
    assert_eq!(r.status, 502);
    assert_eq!(
        String::from_utf8_lossy(&r.body.bytes),
        "<html><body>502 Bad Gateway</body></html>\n>not a request line either\n"
    );
    assert_eq!(header(&r.headers, "content-type"), Some("text/html"));
}

#[test]
fn a_pasted_body_names_where_it_broke_in_the_file_as_saved() {
    // The reader skips a BOM; the byte it named was counted without it. serde_json's column
    // of an error at the start of a line is 0, which a column counted from 1 never is.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.json");
    let opts = ReadOptions {
        kind: Some(InputKind::JsonBody),
        ..Default::default()
    };
    for (text, offset, line, column) in [
        // The `x` where a value should be, after the BOM's 3 bytes and 14 more.
        (&b"\xEF\xBB\xBF{\n  \"status\": x}"[..], 17, 2, 13),
        // Cut after a line break: the end of the file, at the start of line 2.
        (b"{\"status\": 409,\n", 16, 2, 1),
        (b"\xEF\xBB\xBF  \n", 6, 2, 1),
    ] {
        std::fs::write(&p, text).unwrap();
        let (_, err, _) = read_all_at(&p, &opts);
        match err {
            Some(IngestError::Broken { at, .. }) => assert_eq!(
                (at.offset, at.line, at.column),
                (offset, line, column),
                "where {:?} broke",
                String::from_utf8_lossy(text)
            ),
            other => panic!("expected Broken for {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn a_status_field_that_is_not_a_status_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.json");
    for status in ["null", "409.5", "\"conflict\"", "[409]"] {
        std::fs::write(&p, format!("{{\"message\": \"x\", \"status\": {status}}}")).unwrap();
        let (_, err, _) = read_all_at(&p, &ReadOptions::default());
        let e = err.expect("no usable status").to_string();
        assert!(
            !e.contains("has no") && e.contains(status) && e.contains("--status"),
            "the error for \"status\": {status}\n  expected: names the field's value and --status\n       got: {e}"
        );
    }
    // A number written with space around it, as a string, is still the status.
    std::fs::write(&p, r#"{"message": "x", "status": " 429 "}"#).unwrap();
    let (exs, err, _) = read_all_at(&p, &ReadOptions::default());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(exs[0].status(), Some(429));
}

#[test]
fn bare_json_body_status_from_body_or_flag() {
    let (exs, err, _) = read_all("json/429.json", &ReadOptions::default());
    assert!(err.is_none(), "{err:?}");
    let ex = &exs[0];
    assert_eq!(ex.status(), Some(429));
    assert!(
        !ex.request.method_known(),
        "method is unknown, not GET: {}",
        ex.request.method
    );
    assert_eq!(ex.request.path, "", "path is unknown");
    assert_eq!(ex.correlation_id().as_deref(), Some("corr-429"));

    // The OAuth body has no status: without --status that is an error saying so.
    let err = ingest::read(&fixture("json/oauth.json"), &ReadOptions::default())
        .unwrap()
        .next()
        .unwrap()
        .expect_err("no status");
    assert!(err.to_string().contains("--status"), "{err}");
    let opts = ReadOptions {
        status: Some(400),
        method: Some(Method::POST),
        path: Some("/oauth/token".into()),
        ..Default::default()
    };
    let (exs, _, _) = read_all("json/oauth.json", &opts);
    assert_eq!(exs[0].status(), Some(400));
    assert_eq!(exs[0].request.upstream, UpstreamKind::Login);
}

#[test]
fn callback_form_sees_every_exchange() {
    let mut paths = Vec::new();
    let summary =
        ingest::for_each_exchange(&fixture("har/firefox.har"), &ReadOptions::default(), |ex| {
            paths.push(ex.request.path)
        })
        .unwrap();
    assert_eq!(summary.exchanges, 3);
    assert_eq!(
        paths,
        [
            "/api/v2/analytics/conversations/details",
            "/api/v2/users/me",
            "/api/v2/groups/g1"
        ]
    );
    let err = ingest::for_each_exchange(
        &fixture("har/truncated.har"),
        &ReadOptions::default(),
        |_| {},
    )
    .expect_err("truncated");
    assert!(err.to_string().contains("log.entries[2]"), "{err}");
}

#[test]
fn body_limit_keeps_a_prefix() {
    let opts = ReadOptions {
        body_limit: 10,
        ..Default::default()
    };
    let (exs, _, _) = read_all("har/chrome.har", &opts);
    let r = exs[1].response.as_ref().unwrap();
    assert_eq!((r.body.bytes.len(), r.body.complete), (10, false));
}

/// `(byte, line, column)` of the first `needle` in `text`, as errors name a place.
fn place_of(text: &str, needle: &str) -> (usize, usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the file"));
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
    (at, line, column)
}

#[test]
fn har_entries_serde_json_refuses_are_skipped_and_named_and_later_ones_read() {
    let path = fixture("har/unreadable.har");
    let text = std::fs::read_to_string(&path).unwrap();
    let (exs, err, summary) = read_all("har/unreadable.har", &ReadOptions::default());
    assert!(err.is_none(), "no entry ends the file: {err:?}");
    let read: Vec<(String, Option<u16>)> = exs
        .iter()
        .map(|e| (e.request.path.clone(), e.status()))
        .collect();
    assert_eq!(
        read,
        [
            ("/api/v2/users/me".to_owned(), Some(200)),
            (
                "/api/v2/conversations/messages/5c1e2f0a-0000-4000-8000-000000000001".to_owned(),
                Some(409)
            ),
        ],
        "the entries around the unreadable ones, the one after them included"
    );
    let skipped = &summary.skipped["JSON triage cannot read"];
    assert_eq!(
        (skipped.count, skipped.places.as_slice()),
        (
            3,
            &["log.entries[1]", "log.entries[2]", "log.entries[3]"].map(String::from)[..]
        )
    );
    let file = path.display();
    let (b1, l1, c1) = place_of(&text, r"\ud83d");
    let (b2, l2, c2) = place_of(&text, "1e400");
    // The 128th open object of entry 3: its own, then the 127th of `_initiator`'s.
    let initiator = text.find(r#""_initiator":"#).unwrap() + r#""_initiator":"#.len();
    let b3 = initiator + 126 * r#"{"parent":"#.len();
    let (l3, c3) = (5, b3 - text[..b3].rfind('\n').unwrap());
    let want = [
        format!("{file}: log.entries[1] (POST https://api.mypurecloud.ie/api/v2/conversations/messages/agentless) skipped: JSON triage cannot read at byte {b1} (line {l1}, column {c1}): a string holds the escape \\ud83d, one half of a UTF-16 surrogate pair without the other, which is no Unicode text; the entries after it are read"),
        format!("{file}: log.entries[2] (GET https://api.mypurecloud.ie/api/v2/analytics/conversations/details) skipped: JSON triage cannot read at byte {b2} (line {l2}, column {c2}): the number 1e400 is beyond the range of a 64-bit float; the entries after it are read"),
        format!("{file}: log.entries[3] (GET https://api.mypurecloud.ie/api/v2/routing/queues) skipped: JSON triage cannot read at byte {b3} (line {l3}, column {c3}): objects and arrays nested deeper than the 127 levels triage reads; the entries after it are read"),
    ];
    let got: Vec<String> = summary.unreadable.iter().map(ToString::to_string).collect();
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(
            g, w,
            "unreadable entry {i}\n  expected: {w}\n       got: {g}"
        );
    }
    assert_eq!(got.len(), 3, "{got:#?}");
}

#[test]
fn a_syntax_error_inside_an_entry_still_ends_the_har() {
    // Not JSON at all: where the next entry starts is only a guess, so the file ends here.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.har");
    let entry = |path: &str, extra: &str| {
        format!(
            r#"{{"request":{{"method":"GET","url":"https://api.mypurecloud.ie{path}"{extra}}},"response":{{"status":404}}}}"#
        )
    };
    std::fs::write(
        &p,
        format!(
            "{{\"log\":{{\"entries\":[{},{},{}]}}}}",
            entry("/a", ""),
            entry("/b", r#","x":01"#),
            entry("/c", "")
        ),
    )
    .unwrap();
    let (exs, err, summary) = read_all_at(&p, &ReadOptions::default());
    assert_eq!(exs.len(), 1);
    assert!(summary.unreadable.is_empty());
    let err = err.expect("an error");
    // serde_json places it at the digit after the leading zero.
    let at = std::fs::read_to_string(&p).unwrap().find(":01").unwrap() + 2;
    assert_eq!(
        err.to_string(),
        format!(
            "{}: broken at byte {at} (line 1, column {}), in log.entries[1]: invalid number",
            p.display(),
            at + 1
        )
    );
}

/// `text` with every line given `prefix`, blank lines `blank` (as an email reply quotes or
/// indents what it quotes).
fn prefixed(text: &str, prefix: &str, blank: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| {
            if l.trim().is_empty() {
                format!("{blank}{l}")
            } else {
                format!("{prefix}{l}")
            }
        })
        .collect()
}

#[test]
fn curl_transcripts_pasted_from_an_email_read_as_curl_printed_them() {
    let dir = tempfile::tempdir().unwrap();
    for rel in ["curl/verbose.txt", "curl/conflict.txt"] {
        let printed = std::fs::read_to_string(fixture(rel)).unwrap();
        let (want, err, _) = read_all(rel, &ReadOptions::default());
        assert!(err.is_none(), "{rel}: {err:?}");
        let pasted = [
            ("indented by four spaces", prefixed(&printed, "    ", "")),
            ("indented by a tab", prefixed(&printed, "\t", "\t")),
            ("quoted", prefixed(&printed, "> ", ">")),
            (
                "quoted twice, then indented",
                prefixed(&prefixed(&printed, "> ", ">"), "  > ", "  >"),
            ),
        ];
        for (how, text) in pasted {
            let p = dir.path().join("pasted.txt");
            std::fs::write(&p, &text).unwrap();
            assert_eq!(
                ingest::detect_file(&p).unwrap(),
                InputKind::Curl,
                "{rel} {how}"
            );
            let (got, err, _) = read_all_at(&p, &ReadOptions::default());
            assert!(err.is_none(), "{rel} {how}: {err:?}");
            let key = |e: &Exchange| {
                (
                    e.request.method.clone(),
                    e.request.path.clone(),
                    e.request.query.clone(),
                    e.request.host.clone(),
                    e.request.headers.clone(),
                    e.status(),
                    e.response
                        .as_ref()
                        .map(|r| (r.headers.clone(), r.body.bytes.clone())),
                )
            };
            assert_eq!(
                got.iter().map(key).collect::<Vec<_>>(),
                want.iter().map(key).collect::<Vec<_>>(),
                "{rel} {how}:\n{text}"
            );
        }
    }
}

#[test]
fn curl_output_only_partly_indented_or_quoted_is_read_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    // The status line at the margin: what is indented is the body's own.
    let (exs, err, _) = read_all_at(
        &write_temp(
            &dir,
            "HTTP/1.1 409 Conflict\n\n  {\"code\": \"request.conflict\"}\n",
        ),
        &ReadOptions::default(),
    );
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        &exs[0].response.as_ref().unwrap().body.bytes[..],
        b"  {\"code\": \"request.conflict\"}\n"
    );
    // curl -v's request lines quoted, its response lines not: curl printed it so.
    let (exs, _, _) = read_all_at(
        &write_temp(
            &dir,
            "> GET /a HTTP/1.1\n>\n< HTTP/1.1 404\n<\n{\"status\":404}\n",
        ),
        &ReadOptions::default(),
    );
    assert_eq!(
        (exs[0].request.path.as_str(), exs[0].status()),
        ("/a", Some(404))
    );
    assert_eq!(
        &exs[0].response.as_ref().unwrap().body.bytes[..],
        b"{\"status\":404}\n"
    );
}

fn write_temp(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("t.txt");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_har_entry_with_bytes_that_are_not_utf8_costs_only_itself() {
    // A tool that wrote one body as Latin-1: the entry is JSON but for that byte, so where the
    // next entry starts is known, and only this one is lost.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.har");
    let entry = |path: &str, text: &[u8]| {
        let mut e = format!(
            r#"{{"request":{{"method":"GET","url":"https://api.mypurecloud.ie{path}"}},"response":{{"status":409,"content":{{"mimeType":"text/plain","text":""#
        )
        .into_bytes();
        e.extend_from_slice(text);
        e.extend_from_slice(br#""}}}"#);
        e
    };
    let mut har = b"{\"log\":{\"entries\":[".to_vec();
    har.extend(entry("/a", b"ok"));
    har.push(b',');
    let bad_entry_at = har.len();
    har.extend(entry("/b", b"caf\xe9"));
    har.push(b',');
    har.extend(entry("/c", b"ok"));
    har.extend_from_slice(b"]}}");
    std::fs::write(&p, &har).unwrap();
    let (exs, err, summary) = read_all_at(&p, &ReadOptions::default());
    assert!(err.is_none(), "no entry ends the file: {err:?}");
    let paths: Vec<&str> = exs.iter().map(|e| e.request.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/c"]);
    let at = bad_entry_at + har[bad_entry_at..].iter().position(|b| *b == 0xe9).unwrap();
    let got: Vec<String> = summary.unreadable.iter().map(ToString::to_string).collect();
    let want = format!(
        "{}: log.entries[1] (GET https://api.mypurecloud.ie/b) skipped: JSON triage cannot read at byte {at} (line 1, column {}): the byte 0xe9 is not UTF-8, which JSON text must be; the entries after it are read",
        p.display(),
        at + 1
    );
    assert_eq!(
        got.as_slice(),
        std::slice::from_ref(&want),
        "\n  expected: {want}\n       got: {got:?}"
    );
}

#[test]
fn json_bodies_pasted_from_an_email_read_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    for rel in ["json/429.json"] {
        let printed = std::fs::read_to_string(fixture(rel)).unwrap();
        let (want, err, _) = read_all(rel, &ReadOptions::default());
        assert!(err.is_none(), "{rel}: {err:?}");
        for (how, text) in [
            ("indented by four spaces", prefixed(&printed, "    ", "")),
            ("quoted", prefixed(&printed, "> ", ">")),
            (
                "quoted twice",
                prefixed(&prefixed(&printed, "> ", ">"), "> ", ">"),
            ),
        ] {
            let p = dir.path().join("pasted.json");
            std::fs::write(&p, &text).unwrap();
            assert_eq!(
                ingest::detect_file(&p).unwrap(),
                InputKind::JsonBody,
                "{rel} {how}"
            );
            let (got, err, _) = read_all_at(&p, &ReadOptions::default());
            assert!(err.is_none(), "{rel} {how}: {err:?}");
            // Indented JSON is JSON as it is: the same document, not the same bytes.
            let key = |e: &Exchange| (e.status(), body_json(e));
            let (g, w): (Vec<_>, Vec<_>) = (
                got.iter().map(key).collect(),
                want.iter().map(key).collect(),
            );
            assert_eq!(g, w, "{rel} {how}:\n{text}");
        }
    }
}

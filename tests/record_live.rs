//! `triage proxy --record`: exchanges recorded live, then explained offline, give the same
//! diagnoses the proxy gave live; and the recording holds no secret.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::*;
use http::Response;
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::record::Recorder;
use triage::rules::RuleSet;

#[tokio::test]
async fn a_recording_explains_offline_as_it_was_diagnosed_live() {
    let up = upstream(|seen| async move {
        if seen.method == http::Method::GET {
            return Response::new(full(r#"{"id":"c1","participants":[{"id":"p1","purpose":"customer","state":"disconnected"},{"id":"m1","purpose":"agent","state":"disconnected"}]}"#));
        }
        if seen.uri.contains("guests") {
            return Response::builder().status(404).body(full(r#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#)).unwrap();
        }
        Response::builder()
            .status(409)
            .header("inin-correlation-id", "corr-rec")
            .body(full(r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#))
            .unwrap()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline)).await;
    let c = client();
    let mut live: Vec<String> = Vec::new();
    let calls: [(&str, &str); 5] = [
        ("GET", "/api/v2/conversations/messages/c1"),
        (
            "POST",
            "/api/v2/conversations/messages/c1/communications/m1/messages",
        ),
        ("PUT", "/api/v2/communications/guests/g1"),
        (
            "POST",
            "/api/v2/conversations/messages/c1/communications/m1/messages",
        ),
        (
            "POST",
            "/api/v2/conversations/messages/c1/communications/m1/messages",
        ),
    ];
    for (m, path) in calls {
        let r = c
            .request(m.parse().unwrap(), format!("http://{}{path}", p.addr))
            .header("authorization", "Bearer PLANTED-SECRET-TOKEN")
            .body(r#"{"textBody":"Hello from the customer"}"#)
            .send()
            .await
            .unwrap();
        if let Some(v) = r.headers().get("triage-rule") {
            live.push(v.to_str().unwrap().to_owned());
        }
        r.bytes().await.unwrap();
    }
    p.shutdown().await.unwrap();
    assert_eq!(
        live,
        [
            "conversation-closed",
            "recontact-disabled, unknown-endpoint",
            "conversation-closed",
            "conversation-closed, retry-loop"
        ]
    );

    let recording = std::fs::read_to_string(&file).unwrap();
    assert_eq!(recording.lines().count(), 5, "one line per exchange");
    assert!(
        !recording.contains("PLANTED-SECRET-TOKEN"),
        "a secret reached the recording"
    );
    assert!(
        !recording.contains("Hello from the customer"),
        "customer text is redacted by default"
    );

    let offline = explained(&file);
    assert_eq!(offline, live, "offline diagnoses differ from live ones");
}

/// An upstream that quotes the credentials it refused: the bearer token in a 401 body and a
/// header, a form's `client_secret` in an `error_description`.
#[tokio::test]
async fn credentials_an_upstream_echoes_never_reach_the_recording() {
    const TOKEN: &str = "UPACCESSTOKEN1";
    const SECRET: &str = "FORMSECRET9";
    let up = upstream(|seen| async move {
        if seen.uri.starts_with("/oauth/token") {
            let body = String::from_utf8_lossy(&seen.body).into_owned();
            let secret = body.rsplit_once("client_secret=").map_or("", |(_, s)| s);
            return Response::builder()
                .status(400)
                .header("content-type", "application/json")
                .body(full(format!(
                    r#"{{"error":"invalid_client","error_description":"secret {secret} rejected"}}"#
                )))
                .unwrap();
        }
        let auth = seen.headers["authorization"].to_str().unwrap().to_owned();
        Response::builder()
            .status(401)
            .header("content-type", "application/json")
            .header("x-refused", auth.clone())
            .body(full(format!(
                r#"{{"message":"Invalid token {auth}","code":"bad.credentials","status":401}}"#
            )))
            .unwrap()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("echo.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline)).await;
    let c = client();
    let r = c
        .get(format!("http://{}/api/v2/users/me", p.addr))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    r.bytes().await.unwrap();
    let r = c
        .post(format!("http://{}/oauth/token", p.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id=myclient&client_secret={SECRET}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    r.bytes().await.unwrap();
    p.shutdown().await.unwrap();

    let recording = std::fs::read_to_string(&file).unwrap();
    assert_eq!(recording.lines().count(), 2, "{recording}");
    for planted in [TOKEN, SECRET] {
        assert!(
            !recording.contains(planted),
            "{planted} reached the recording:\n{recording}"
        );
    }
    let token = format!(
        "[redacted {}]",
        triage::redact::fingerprint(TOKEN.as_bytes())
    );
    let secret = format!(
        "[redacted {}]",
        triage::redact::fingerprint(SECRET.as_bytes())
    );
    for expected in [
        format!("Invalid token Bearer {token}"),
        format!(r#"["x-refused","Bearer {token}"]"#),
        format!("secret {secret} rejected"),
        "client_id=myclient".to_owned(),
    ] {
        assert!(
            recording.contains(&expected),
            "expected {expected} in the recording:\n{recording}"
        );
    }
}

/// A recording a crash cut off mid-line, recorded to again: the new records start on a line of
/// their own, so every one is read, and only the cut-off line is skipped (and named).
#[tokio::test]
async fn recording_after_a_crash_starts_a_new_line_and_every_record_reads() {
    let up = upstream(|_| async move {
        Response::builder()
            .status(409)
            .body(full(r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#))
            .unwrap()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crash.jsonl");
    // One whole record, then the start of one the crash cut off: no line break at the end.
    let whole = r#"{"v":1,"seq":1,"time":"2026-03-01T10:00:00.000Z","origin":"live","request":{"method":"GET","path":"/api/v2/users/me","upstream":"api"},"response":{"status":200}}"#;
    std::fs::write(&file, format!("{whole}\n{}", &whole[..60])).unwrap();

    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline)).await;
    let c = client();
    for _ in 0..3 {
        let r = c
            .post(format!("http://{}/api/v2/users/u1/presence", p.addr))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        r.bytes().await.unwrap();
    }
    p.shutdown().await.unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("\n{}\n{{\"v\":1,", &whole[..60])),
        "the first new record starts a line of its own:\n{text}"
    );
    let mut it = triage::ingest::read(&file, &Default::default()).unwrap();
    let read: Vec<_> = it
        .by_ref()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(read.len(), 4, "the record before the crash and the 3 after");
    assert_eq!(read[1].status(), Some(409));
    let skipped = it.summary().skipped;
    assert_eq!(
        skipped["line cut off mid-write"].places,
        ["line 2"],
        "{skipped:?}"
    );
    let (code, out, err) = run_triage(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 1, "failures, no input error: {err}");
    assert!(out.contains("4 exchanges read"), "{out}");
    assert!(
        out.contains("crash.jsonl: 1 skipped (line cut off mid-write): line 2"),
        "{out}"
    );
}

/// The rules of each diagnosed exchange, as `triage explain --format json` gives them.
fn explained(file: &std::path::Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["explain", "--format", "json"])
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "explain {}: failures found, no input error\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).unwrap();
            j["diagnoses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["rule"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// `triage export --har` of `rec` into `dir`, parsed.
fn export(rec: &std::path::Path, dir: &std::path::Path) -> (std::path::PathBuf, serde_json::Value) {
    let har = dir.join("export.har");
    let (code, _, err) = run_triage(&[
        "export",
        "--har",
        har.to_str().unwrap(),
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "export: {err}");
    let v = serde_json::from_slice(&std::fs::read(&har).unwrap()).expect("the export is JSON");
    (har, v)
}

fn header_of<'a>(headers: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    headers.as_array()?.iter().find_map(|h| {
        (h["name"].as_str()?.eq_ignore_ascii_case(name)).then(|| h["value"].as_str())?
    })
}

/// Recorded against an `http://` mock (as `--api-upstream http://127.0.0.1:9000` would be), the
/// export names the URLs the calls went to (scheme, host and port), the HTTP version spoken,
/// and sizes that agree with the headers sent, though the bodies it holds are redacted; and it
/// explains as the recording does, which explains as the proxy did live.
#[tokio::test]
async fn an_export_names_the_upstream_the_calls_went_to_and_explains_as_the_recording() {
    let up = upstream(|seen| async move {
        if seen.method == http::Method::GET {
            return Response::new(full(r#"{"id":"c1","participants":[{"id":"p1","purpose":"customer","state":"disconnected"},{"id":"m1","purpose":"agent","state":"disconnected"}]}"#));
        }
        if seen.uri.ends_with("/message") {
            return Response::builder().status(404).body(full(r#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#)).unwrap();
        }
        Response::builder()
            .status(409)
            .body(full(r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#))
            .unwrap()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline)).await;
    let c = client();
    let send = "/api/v2/conversations/messages/c1/communications/m1/messages";
    let body = r#"{"textBody":"Hello from the customer"}"#;
    let mut live = Vec::new();
    for (m, path) in [
        ("GET", "/api/v2/conversations/messages/c1"),
        ("POST", send),
        (
            "POST",
            "/api/v2/conversations/messages/c1/communications/m1/message",
        ),
    ] {
        let r = c
            .request(m.parse().unwrap(), format!("http://{}{path}", p.addr))
            .header("authorization", "Bearer PLANTED-SECRET-TOKEN")
            .header("content-type", "application/json")
            .body(if m == "GET" { "" } else { body })
            .send()
            .await
            .unwrap();
        if let Some(v) = r.headers().get("triage-rule") {
            live.push(v.to_str().unwrap().to_owned());
        }
        r.bytes().await.unwrap();
    }
    // A body sent chunked: no Content-Length says its size, only what triage saw of it.
    let chunked_body = r#"{"textBody":"Another message from the customer"}"#;
    let answer = raw(
        p.addr,
        format!(
            "POST {send} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunked_body}\r\n0\r\n\r\n",
            chunked_body.len()
        )
        .as_bytes(),
    )
    .await;
    let (head, _) = split_response(&answer);
    if let Some(l) = head.lines().find_map(|l| l.strip_prefix("triage-rule: ")) {
        live.push(l.to_owned());
    }
    p.shutdown().await.unwrap();
    assert_eq!(
        live,
        [
            "conversation-closed",
            "unknown-endpoint",
            "conversation-closed"
        ],
        "diagnosed live"
    );

    let (har_file, har) = export(&file, dir.path());
    let entries = har["log"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4, "one entry per exchange");
    let base = format!("http://{}/", up.addr);
    for (i, e) in entries.iter().enumerate() {
        let url = e["request"]["url"].as_str().unwrap_or("");
        assert!(
            url.starts_with(&base),
            "entry {i}: request.url\n  expected: {base}...\n       got: {url}"
        );
        for side in ["request", "response"] {
            assert_eq!(
                e[side]["httpVersion"], "HTTP/1.1",
                "entry {i}: {side}.httpVersion (the mock speaks HTTP/1.1)"
            );
        }
    }
    // A body with a Content-Length: bodySize is what was sent, as the header says, though the
    // text is redacted (the customer's words replaced by their length), which a comment says.
    let sent = &entries[1]["request"];
    assert_eq!(
        header_of(&sent["headers"], "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(
        sent["bodySize"],
        body.len(),
        "entry 1: request.bodySize\n  expected: {} (Content-Length, the body sent)\n       got: {}",
        body.len(),
        sent["bodySize"]
    );
    let text = sent["postData"]["text"].as_str().unwrap_or("");
    assert!(!text.contains("Hello from the customer"), "{text}");
    assert!(
        sent["postData"]["comment"]
            .as_str()
            .is_some_and(|c| c.contains("redacted")),
        "entry 1: postData.comment\n  expected: a note that the text is redacted\n       got: {}",
        sent["postData"]
    );
    // Chunked: no header to go by; bodySize is still the size sent, not the redacted copy's.
    let chunked = &entries[3]["request"];
    assert_eq!(header_of(&chunked["headers"], "content-length"), None);
    assert_eq!(
        chunked["bodySize"],
        chunked_body.len(),
        "entry 3: request.bodySize of a chunked body\n  expected: {} (the body sent)\n       got: {}",
        chunked_body.len(),
        chunked["bodySize"]
    );

    let from_recording = explained(&file);
    assert_eq!(
        from_recording, live,
        "the recording explains as the proxy diagnosed live"
    );
    assert_eq!(
        explained(&har_file),
        from_recording,
        "the export explains as the recording"
    );
}

/// Through an `https://` upstream that speaks HTTP/2, the export says so: `https`, the port the
/// upstream listens on, `HTTP/2`.
#[tokio::test]
async fn an_export_of_calls_to_an_h2_upstream_says_https_its_port_and_http2() {
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    let tls = tls_acceptor(&paths, &[b"h2"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(s) = tls.accept(s).await else { return };
                let svc = hyper::service::service_fn(
                    |_req: http::Request<hyper::body::Incoming>| async move {
                        Ok::<_, std::convert::Infallible>(
                        Response::builder()
                            .status(404)
                            .body(full(r#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#))
                            .unwrap(),
                    )
                    },
                );
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                        .await;
            });
        }
    });
    let url = format!("https://localhost:{port}");
    let mut cfg = config(&url, &url);
    cfg.ca_file = Some(paths.ca_cert.clone());
    let file = dir.path().join("h2.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let p = proxy_with(cfg, Arc::new(pipeline)).await;
    let r = client()
        .post(format!(
            "http://{}/api/v2/conversations/messages/c1/communications/m1/message",
            p.addr
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    r.bytes().await.unwrap();
    p.shutdown().await.unwrap();

    let (_, har) = export(&file, dir.path());
    let e = &har["log"]["entries"][0];
    let want = format!(
        "https://localhost:{port}/api/v2/conversations/messages/c1/communications/m1/message"
    );
    assert_eq!(
        e["request"]["url"], want,
        "request.url\n  expected: {want}\n       got: {}",
        e["request"]["url"]
    );
    for side in ["request", "response"] {
        assert_eq!(
            e[side]["httpVersion"], "HTTP/2",
            "{side}.httpVersion: the upstream spoke HTTP/2"
        );
    }
}

/// What the client got when triage answered itself is in the recording, marked as triage's,
/// with the request as the client sent it; explain and export say so.
#[tokio::test]
async fn triage_s_own_answers_are_recorded_as_the_client_got_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("err.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    // Nothing listens on port 1: every forwarded call is refused.
    let refused = "http://127.0.0.1:1";
    let p = proxy_with(config(refused, refused), Arc::new(pipeline)).await;
    let r = client()
        .get(format!("http://{}/api/v2/users/me", p.addr))
        .header("authorization", "Bearer PLANTED-SECRET-TOKEN")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    r.bytes().await.unwrap();
    let abs = raw(
        p.addr,
        b"GET http://user:PLANTED-PASSWORD@example.com/x?y=1 HTTP/1.1\r\nHost: example.com\r\n\
          Proxy-Authorization: Basic UExBTlRFRC1TRUNSRVQ=\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        abs.starts_with(b"HTTP/1.1 403"),
        "{}",
        String::from_utf8_lossy(&abs)
    );
    let conn = raw(
        p.addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        conn.starts_with(b"HTTP/1.1 403"),
        "{}",
        String::from_utf8_lossy(&conn)
    );
    p.shutdown().await.unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [
        "PLANTED-SECRET-TOKEN",
        "PLANTED-PASSWORD",
        "UExBTlRFRC1TRUNSRVQ=",
    ] {
        assert!(!text.contains(secret), "{secret} in the recording:\n{text}");
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (l, (status, error)) in lines.iter().zip([
        (502, "connection_refused"),
        (403, "http_request_denied"),
        (403, "http_request_denied"),
    ]) {
        assert!(
            l["response"].is_null(),
            "the upstream answered nothing: {l}"
        );
        let a = &l["triage_answer"];
        assert_eq!(
            (a["status"].as_u64(), a["error"].as_str()),
            (Some(status), Some(error)),
            "{l}"
        );
        assert!(!a["detail"].as_str().unwrap().is_empty(), "{l}");
        let ps = a["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "proxy-status")
            .unwrap_or_else(|| panic!("no Proxy-Status: {l}"));
        assert!(
            ps[1]
                .as_str()
                .unwrap()
                .starts_with(&format!("triage; error={error}; details=")),
            "{l}"
        );
        let body: serde_json::Value = serde_json::from_str(a["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["proxy_status_error"], error, "{l}");
    }
    // The refused requests as the client sent them: their targets and headers.
    let (abs, conn) = (&lines[1]["request"], &lines[2]["request"]);
    assert_eq!(abs["host"], "example.com", "{abs}");
    assert_eq!(abs["base_url"], "http://example.com", "{abs}");
    assert_eq!(
        (abs["path"].as_str(), abs["query"].as_str()),
        (Some("/x"), Some("y=1"))
    );
    let names: Vec<&str> = abs["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"host") && names.contains(&"proxy-authorization"),
        "{abs}"
    );
    assert_eq!(
        (conn["method"].as_str(), conn["host"].as_str()),
        (Some("CONNECT"), Some("example.com:443")),
        "{conn}"
    );

    let (code, out, err) = run_triage(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("502") && out.contains("triage-answered"),
        "{out}"
    );
    assert!(
        out.contains("connection_refused") && out.contains("http_request_denied"),
        "{out}"
    );
    assert!(!out.contains("no response"), "{out}");

    let (_, har) = export(&file, dir.path());
    let entries = har["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["response"]["status"], 502);
    assert_eq!(entries[0]["_triage"]["answered_by"], "triage");
    assert_eq!(entries[0]["_triage"]["error"], "connection_refused");
    assert!(
        header_of(&entries[0]["response"]["headers"], "proxy-status")
            .unwrap()
            .starts_with("triage; error=connection_refused")
    );
}

/// A client that compresses its request body (`Content-Encoding: gzip`): the recording keeps
/// it decoded and redacted, as it keeps responses, not as coded bytes that carry its
/// credentials past redaction; and a copy the upstream quotes is found too.
#[tokio::test]
async fn a_compressed_request_body_is_recorded_decoded_and_redacted() {
    const SECRET: &str = "GZIPPEDSECRET9";
    let up = upstream(|_| async move {
        Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(full(format!(
                r#"{{"message":"Invalid value {SECRET} for clientSecret","code":"invalid.value","status":400}}"#
            )))
            .unwrap()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gzip.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline)).await;
    let json = format!(r#"{{"name":"n","credentialFields":{{"clientSecret":"{SECRET}"}}}}"#);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, json.as_bytes()).unwrap();
    let r = client()
        .post(format!("http://{}/api/v2/integrations/credentials", p.addr))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    r.bytes().await.unwrap();
    p.shutdown().await.unwrap();

    let recording = std::fs::read_to_string(&file).unwrap();
    let record: serde_json::Value = serde_json::from_str(recording.trim()).unwrap();
    let fp = triage::redact::fingerprint(SECRET.as_bytes());
    assert_eq!(
        record["request"]["body"],
        format!(r#"{{"name":"n","credentialFields":{{"clientSecret":"[redacted {fp}]"}}}}"#),
        "{recording}"
    );
    assert!(
        record["response"]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("Invalid value [redacted {fp}]")),
        "{recording}"
    );
}

/// A client that gives up on a slow call, and a download the shutdown cuts mid-body: the
/// recording says how each ended, `triage explain` says it in words, and the export keeps it.
#[tokio::test]
async fn clients_that_left_and_calls_cut_at_shutdown_are_recorded_and_explained_as_such() {
    let up = upstream(|seen| async move {
        if seen.uri.ends_with("/slow") {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            return Response::new(full("late"));
        }
        // The first bytes at once, the rest after the shutdown's grace.
        let chunks = futures_util::stream::unfold(0, |i| async move {
            if i > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                return None;
            }
            Some((
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(
                    bytes::Bytes::from_static(b"{\"first\":"),
                )),
                1,
            ))
        });
        Response::new(http_body_util::BodyExt::boxed(
            http_body_util::StreamBody::new(chunks),
        ))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ended.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let mut cfg = config(&up.url(), &up.url());
    cfg.shutdown_grace = std::time::Duration::from_millis(200);
    let p = proxy_with(cfg, Arc::new(pipeline)).await;
    let addr = p.addr;
    let gave_up = client()
        .get(format!("http://{addr}/api/v2/users/slow"))
        .timeout(std::time::Duration::from_millis(200))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client gave up");
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let download = tokio::spawn(async move {
        let r = client()
            .get(format!("http://{addr}/api/v2/downloads/big"))
            .send()
            .await
            .unwrap();
        let _ = head_tx.send(r.status().as_u16());
        r.bytes().await
    });
    // Shut down once the client has the head, so that what is cut is the body.
    assert_eq!(head_rx.await.unwrap(), 200);
    p.shutdown().await.unwrap();
    assert!(
        download.await.unwrap().is_err(),
        "the cut body ended in an error"
    );

    let text = std::fs::read_to_string(&file).unwrap();
    let outcomes: Vec<(String, serde_json::Value)> = text
        .lines()
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                j["request"]["path"].as_str().unwrap().to_owned(),
                j["outcome"].clone(),
            )
        })
        .collect();
    let want = vec![
        ("/api/v2/users/slow".to_owned(), "client-gone".into()),
        ("/api/v2/downloads/big".to_owned(), "cut-at-shutdown".into()),
    ];
    assert_eq!(
        outcomes, want,
        "(path, outcome) recorded\n  expected: {want:?}\n       got: {outcomes:?}\n{text}"
    );

    let (code, out, err) = run_triage(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 1, "failures found: {err}");
    for line in [
        "      outcome: the client disconnected before the API answered (client gone): the client never saw the API's response, and triage did not learn it",
        "      outcome: cut when triage shut down (its drain deadline ran out before the response was complete): the client did not get all of this response",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "explain\n  expected the line: {line}\n       got:\n{out}"
        );
    }
    let (_, har) = export(&file, dir.path());
    let got: Vec<&serde_json::Value> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["_triage"]["outcome"])
        .collect();
    assert_eq!(
        got,
        [&want[0].1, &want[1].1],
        "_triage.outcome of the export"
    );
}

/// An exchange the shutdown grace ended while it waited for its upstream is recorded as cut
/// (`outcome`), with the 503 triage answered it, as a proxy's own answers always are.
#[tokio::test]
async fn an_exchange_answered_at_shutdown_is_recorded_as_cut() {
    let up = upstream(|_| async {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Response::new(full("too late"))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.jsonl");
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(engine, PipelineOptions::default())
        .with_sink(Arc::new(Recorder::open(&file).unwrap()));
    let mut cfg = config(&up.url(), &up.url());
    cfg.shutdown_grace = std::time::Duration::from_millis(200);
    let p = proxy_with(cfg, Arc::new(pipeline)).await;
    let addr = p.addr;
    let call = tokio::spawn(async move {
        client()
            .get(format!("http://{addr}/api/v2/slow"))
            .header("authorization", "Bearer PLANTED-SECRET-TOKEN")
            .send()
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    p.shutdown().await.unwrap();
    assert_eq!(call.await.unwrap().unwrap().status(), 503);

    let text = std::fs::read_to_string(&file).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "one record expected:\n{text}");
    let r = &records[0];
    assert_eq!(
        (
            &r["outcome"],
            &r["triage_answer"]["status"],
            &r["triage_answer"]["error"]
        ),
        (
            &serde_json::json!("cut-at-shutdown"),
            &serde_json::json!(503),
            &serde_json::json!("proxy_internal_response")
        ),
        "outcome and triage's answer in the record: {r:#}"
    );
    assert!(
        !text.contains("PLANTED-SECRET-TOKEN"),
        "the token reached the recording:\n{text}"
    );
}

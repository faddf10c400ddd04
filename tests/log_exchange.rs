//! The exchange log: one line per exchange, never a secret. Alone in its test binary (see
//! `LogCapture`).

mod common;

use common::*;
use http::Response;

#[tokio::test]
async fn one_log_line_per_exchange_and_no_secret_in_it() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let up = upstream(|_| async {
        Response::builder()
            .status(401)
            .header("inin-correlation-id", "corr-42")
            .header("set-cookie", "session=SETCOOKIESECRET")
            .body(full(
                r#"{"message":"Invalid login credentials.","code":"bad.credentials","status":401}"#,
            ))
            .unwrap()
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let c = client();
    c.get(format!(
        "http://{}/api/v2/users/me?code=QUERYSECRET&client%5Fsecret=PCTSECRET;access_token=SEMISECRET&pageSize=2",
        p.addr
    ))
    .header("authorization", "Bearer BEARERSECRET")
    .header("cookie", "session=COOKIESECRET")
    .send()
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    c.post(format!("http://{}/oauth/token", p.addr))
        .header("authorization", "Basic QkFTSUNTRUNSRVQ6c2VjcmV0")
        .body("grant_type=client_credentials&client_secret=FORMSECRET")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    p.shutdown().await.unwrap();

    let log = logs.text();
    for secret in [
        "BEARERSECRET",
        "COOKIESECRET",
        "SETCOOKIESECRET",
        "QUERYSECRET",
        "PCTSECRET",
        "SEMISECRET",
        "FORMSECRET",
        "QkFTSUNTRUNSRVQ6c2VjcmV0",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|j| j["target"] == "triage::exchange")
        .collect();
    assert_eq!(lines.len(), 2, "one line per exchange:\n{log}");
    let first = &lines[0]["fields"];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["status"], 401);
    assert_eq!(first["correlation_id"], "corr-42");
    assert!(
        first["path"]
            .as_str()
            .unwrap()
            .starts_with("/api/v2/users/me?code=[redacted "),
        "{first}"
    );
    assert!(
        first["path"].as_str().unwrap().ends_with("&pageSize=2"),
        "{first}"
    );
    assert!(
        first["upstream_ms"].is_number() && first["total_ms"].is_number(),
        "{first}"
    );
    assert_eq!(lines[1]["fields"]["path"], "/oauth/token");
    assert_eq!(lines[1]["fields"]["upstream"], "login");
}

/// An exchange that outlasts the shutdown grace is cut by triage, and its line says so rather
/// than blaming the client. One still waiting for its upstream gets triage's 503 first.
#[tokio::test]
async fn an_exchange_cut_at_shutdown_is_logged_as_such() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let up = upstream(|_| async {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Response::new(full("too late"))
    })
    .await;
    let mut cfg = config(&up.url(), &up.url());
    cfg.shutdown_grace = std::time::Duration::from_millis(200);
    let p = proxy(cfg).await;
    let addr = p.addr;
    let call = tokio::spawn(async move {
        client()
            .get(format!("http://{addr}/api/v2/slow"))
            .send()
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    p.shutdown().await.unwrap();
    let r = call
        .await
        .unwrap()
        .expect("the call still waiting for its upstream is answered");
    assert_eq!(r.status(), 503, "status of the cut call");

    let lines = logs.lines("triage::exchange");
    let got: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["fields"]["message"].clone(),
                l["fields"]["body"].clone(),
                l["fields"]["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(
            serde_json::json!("triage answered"),
            serde_json::json!("cut-at-shutdown"),
            serde_json::json!(503)
        )],
        "expected one exchange line saying triage cut it; got {lines:#?}"
    );
    let err = lines[0]["fields"]["error"].as_str().unwrap_or("");
    assert!(
        err.starts_with("proxy_internal_response: triage is shutting down: its shutdown grace (200ms) ran out before http://127.0.0.1:"),
        "the line's error: {err}"
    );
}

/// An error body just over the inspection limit: the frame read for inspection holds its end,
/// so the upstream's stream is over when the prefix goes out. The client gets it whole, and the
/// line says so, not that the client left.
#[tokio::test]
async fn a_body_just_over_the_inspect_limit_is_logged_complete() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let body = format!(
        r#"{{"message":"{}","code":"request.conflict","status":409}}"#,
        "x".repeat(100)
    );
    let sent = body.clone();
    let up = upstream(move |_| {
        let b = sent.clone();
        async move { Response::builder().status(409).body(full(b)).unwrap() }
    })
    .await;
    let mut cfg = config(&up.url(), &up.url());
    cfg.inspect_limit = 100;
    let p = proxy(cfg).await;
    let got = client()
        .get(format!("http://{}/api/v2/x", p.addr))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, body.as_bytes(), "the body the client got");
    p.shutdown().await.unwrap();

    let lines = logs.lines("triage::exchange");
    let got: Vec<_> = lines
        .iter()
        .map(|l| (l["fields"]["status"].clone(), l["fields"]["body"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![(serde_json::json!(409), serde_json::json!("complete"))],
        "(status, body) of the exchange line; lines: {lines:#?}"
    );
}

/// A request head triage's HTTP layer refuses before there is an exchange (414, 431, 400 with
/// no body, no Proxy-Status: hyper answers them itself) is still named in the log.
#[tokio::test]
async fn a_request_head_refused_before_any_exchange_is_logged() {
    let logs = LogCapture::default();
    let _g = logs.install();
    let up = upstream(|_| async { Response::new(full("never")) }).await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let long = format!("GET /{} HTTP/1.1\r\nHost: l\r\n\r\n", "a".repeat(70_000));
    let (head, _) = split_response(&raw(p.addr, long.as_bytes()).await);
    assert!(head.starts_with("HTTP/1.1 414"), "{head}");
    let (head, _) = split_response(&raw(p.addr, b"GET /a?\xff HTTP/1.1\r\nHost: l\r\n\r\n").await);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    p.shutdown().await.unwrap();
    assert!(up.seen().is_empty(), "nothing forwarded: {:?}", up.seen());

    let lines = logs.lines("triage::proxy::server");
    let got: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["level"].as_str().unwrap_or("").to_owned(),
                l["fields"]["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .filter(|(_, m)| m.starts_with("refused a request"))
        .collect();
    assert_eq!(
        got.len(),
        2,
        "two WARN lines, one per refused head; got {lines:#?}"
    );
    assert!(got.iter().all(|(l, _)| l == "WARN"), "{got:?}");
    assert!(got.iter().any(|(_, m)| m.contains("431 or 414")), "{got:?}");
    assert!(
        got.iter().any(|(_, m)| m.contains("not valid HTTP")),
        "{got:?}"
    );
}

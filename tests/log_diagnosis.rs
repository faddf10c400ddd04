//! The diagnosis log line. Alone in its test binary (see `LogCapture`).

mod common;

use std::sync::Arc;

use common::*;
use http::Response;
use triage::diagnose::Pipeline;

fn inspector(annotate_body: bool) -> Arc<Pipeline> {
    diagnosing(annotate_body)
}

#[tokio::test]
async fn one_diagnosis_log_line_without_secrets() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let up = upstream(|_| async {
        Response::builder()
            .status(401)
            .header("inin-correlation-id", "corr-7")
            .body(full(
                r#"{"message":"No authentication bearer token specified in authorization header.","code":"authentication.required","status":401}"#,
            ))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(false)).await;
    let r = client()
        .get(format!(
            "http://{}/api/v2/users/me?access_token=QUERYSECRET",
            p.addr
        ))
        .header("authorization", "TOKENSECRET")
        .send()
        .await
        .unwrap();
    let cause = r.headers()["triage-cause"].to_str().unwrap().to_owned();
    assert!(cause.contains("[redacted "), "{cause}");
    r.bytes().await.unwrap();
    p.shutdown().await.unwrap();

    let log = logs.text();
    assert!(
        !log.contains("TOKENSECRET") && !log.contains("QUERYSECRET"),
        "{log}"
    );
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|j| j["target"] == "triage::diagnosis")
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let f = &lines[0]["fields"];
    assert_eq!(f["rule"], "token-invalid");
    assert_eq!(f["cause"], cause.as_str());
    assert!(
        f["fix"].as_str().unwrap().contains("Authorization: Bearer"),
        "{f}"
    );
    // The evidence names what matched; the malformed credential it quotes is redacted.
    let evidence = f["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("status_code=401 authentication.required")
            && evidence.contains("authorization=[redacted "),
        "{f}"
    );
    assert_eq!(f["correlation_id"], "corr-7");
    assert_eq!(f["method"], "GET");
    assert_eq!(f["status"], 401);
    assert!(
        f["path"]
            .as_str()
            .unwrap()
            .starts_with("/api/v2/users/me?access_token=[redacted "),
        "{f}"
    );
}

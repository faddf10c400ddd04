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

/// An upstream that quotes back the credentials it refused (a refresh token, a Basic
/// password) in a message a rule quotes: the cause triage logs and puts in its headers must
/// not carry them.
#[tokio::test]
async fn echoed_credentials_stay_out_of_the_diagnosis() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let up = upstream(|_| async {
        Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(full(
                r#"{"error":"unauthorized_client","error_description":"refresh token REFRESHPW9 of client c1:BASICPW9 is revoked"}"#,
            ))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(false)).await;
    // Basic base64("c1:BASICPW9")
    let r = client()
        .post(format!("http://{}/oauth/token", p.addr))
        .header("authorization", "Basic YzE6QkFTSUNQVzk=")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&refresh_token=REFRESHPW9")
        .send()
        .await
        .unwrap();
    let cause = r.headers()["triage-cause"].to_str().unwrap().to_owned();
    r.bytes().await.unwrap();
    p.shutdown().await.unwrap();

    assert!(
        cause.starts_with("The OAuth client is not allowed the grant type it asked for (unauthorized_client: refresh token [redacted ")
            && !cause.contains("REFRESHPW9")
            && !cause.contains("BASICPW9"),
        "expected the quoted credentials replaced, got: {cause}"
    );
    let log = logs.text();
    for secret in ["REFRESHPW9", "BASICPW9"] {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
}

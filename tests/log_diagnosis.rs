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

/// Credentials the diagnosis may quote live in more places than `Authorization`, the query and
/// a form typed in lowercase: a cookie, an API key, a JSON field, a form whose type is spelt
/// in capitals (media types are case-insensitive, and the rules read it as a form). An upstream
/// quoting one where a rule captures it must not put it in the headers or the log.
#[tokio::test]
async fn credentials_outside_authorization_stay_out_of_the_diagnosis() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let up = upstream(|seen| async move {
        let echoed = String::from_utf8_lossy(&seen.body).into_owned();
        let quoted = ["COOKIEVALUE9", "APIKEYVALUE9", "JSONSECRET9", "FORMSECRET9"]
            .into_iter()
            .find(|s| echoed.contains(s) || format!("{:?}", seen.headers).contains(s))
            .unwrap_or("");
        if seen.uri.starts_with("/oauth/token") {
            return Response::builder()
                .status(400)
                .header("content-type", "application/json")
                .body(full(format!(
                    r#"{{"error":"unauthorized_client","error_description":"secret {quoted} may not"}}"#
                )))
                .unwrap();
        }
        Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .body(full(format!(
                r#"{{"message":"App not authorized to use scope [{quoted}]","code":"app.not.authorized.for.scope","status":403}}"#
            )))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(false)).await;
    let c = client();
    let base = format!("http://{}", p.addr);
    let mut causes = Vec::new();
    for req in [
        c.get(format!("{base}/api/v2/users/me"))
            .header("cookie", "sid=COOKIEVALUE9"),
        c.get(format!("{base}/api/v2/users/me"))
            .header("x-api-key", "APIKEYVALUE9"),
        c.post(format!("{base}/api/v2/integrations/credentials"))
            .header("content-type", "application/json")
            .body(r#"{"credentialFields":{"clientSecret":"JSONSECRET9"}}"#),
        c.post(format!("{base}/oauth/token"))
            .header("content-type", "Application/X-WWW-Form-URLEncoded")
            .body("grant_type=client_credentials&client_id=c1&client_secret=FORMSECRET9"),
    ] {
        let r = req.send().await.unwrap();
        causes.push(
            r.headers()
                .get("triage-cause")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
        );
        r.bytes().await.unwrap();
    }
    p.shutdown().await.unwrap();

    let log = logs.text();
    for (cause, secret) in
        causes
            .iter()
            .zip(["COOKIEVALUE9", "APIKEYVALUE9", "JSONSECRET9", "FORMSECRET9"])
    {
        assert!(
            cause.contains("[redacted ") && !cause.contains(secret),
            "expected {secret} replaced in the cause, got: {cause}"
        );
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
}

/// `;` separates form fields as `&` does for redaction; the rules read a form the same way, or
/// the field before a secret one (`grant_type`) would capture it.
#[tokio::test]
async fn a_semicolon_separated_secret_is_not_captured_with_the_field_before_it() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let up = upstream(|_| async {
        Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(full(r#"{"error":"invalid_grant"}"#))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(false)).await;
    let r = client()
        .post(format!("http://{}/oauth/token", p.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=urn:ietf:params:oauth:grant-type:saml2-bearer;assertion=ASSERTIONSECRET9")
        .send()
        .await
        .unwrap();
    let cause = r.headers()["triage-cause"].to_str().unwrap().to_owned();
    r.bytes().await.unwrap();
    p.shutdown().await.unwrap();

    assert_eq!(
        cause,
        "The token endpoint refused this urn:ietf:params:oauth:grant-type:saml2-bearer request: invalid_grant."
    );
    let log = logs.text();
    assert!(!log.contains("ASSERTIONSECRET9"), "{log}");
}

/// A rule's capture stops at its own delimiter, which may fall inside a credential the
/// upstream quoted (`scope [PIECE]REST]`): the piece of the credential it holds is replaced
/// too, not only whole copies.
#[tokio::test]
async fn a_capture_that_cuts_a_credential_does_not_quote_the_piece() {
    let logs = LogCapture::default();
    let _g = logs.install();

    let up = upstream(|_| async {
        Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .body(full(
                r#"{"message":"App not authorized to use scope [PIECEONEPIECE9]PIECETWO9]","code":"app.not.authorized.for.scope","status":403}"#,
            ))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(false)).await;
    let r = client()
        .get(format!("http://{}/api/v2/users/me", p.addr))
        .header("cookie", "sid=PIECEONEPIECE9]PIECETWO9")
        .send()
        .await
        .unwrap();
    let cause = r.headers()["triage-cause"].to_str().unwrap().to_owned();
    r.bytes().await.unwrap();
    p.shutdown().await.unwrap();

    assert!(
        cause.contains("any one of these would do: [redacted ")
            && !cause.contains("PIECEONEPIECE9"),
        "{cause}"
    );
    let log = logs.text();
    assert!(!log.contains("PIECEONEPIECE9"), "{log}");
}

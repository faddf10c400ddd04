//! The real Genesys Cloud Python SDK (`purecloudplatformclientv2`, installed into
//! `target/sdk-venv` by `.ci/setup-python-sdk`) with `configuration.host` pointed at triage:
//! a client-credentials login and an API call through the proxy, against fake upstreams.
//!
//! The SDK is driven by `tests/sdk/python_client.py`, which prints one JSON object. Without the
//! venv these tests skip with a note, except under `CI`, where they fail.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

const CLIENT_ID: &str = "sdk-client";
const CLIENT_SECRET: &str = "sdk-secret";
/// `Basic base64("sdk-client:sdk-secret")`, as the SDK builds it.
const BASIC: &str = "Basic c2RrLWNsaWVudDpzZGstc2VjcmV0";
const TOKEN: &str = "tok-1";

fn venv_python() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "the Python SDK venv is missing ({}): run .ci/setup-python-sdk",
        p.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    common::skip_note(&msg);
    None
}

/// Runs one step of `tests/sdk/python_client.py` against `host` and returns its JSON report.
async fn run_sdk(python: &Path, host: &str, step: &str) -> Value {
    run_sdk_with(
        python,
        host,
        step,
        &["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
    )
    .await
}

/// As [`run_sdk`], with the script's arguments given (credentials, ids).
async fn run_sdk_with(python: &Path, host: &str, step: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/python_client.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(&script)
        .arg(step)
        .args(["--host", host])
        .args(args)
        // The SDK reads no proxy variables, but keep urllib3 and friends honest.
        .env("NO_PROXY", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run_json_report(cmd, &format!("python_client.py {step}")).await
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("inin-correlation-id", "corr-sdk-1")
        .body(full(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// The login upstream: a token for the right Basic credentials and form body, 400 otherwise.
async fn login_upstream() -> Upstream {
    upstream(|s: Seen| async move {
        let auth_ok = s.headers.get("authorization").is_some_and(|v| v == BASIC);
        let form_ok = s
            .headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/x-www-form-urlencoded"));
        if s.method == Method::POST && s.uri == "/oauth/token" && auth_ok && form_ok && &s.body[..] == b"grant_type=client_credentials" {
            json_response(
                StatusCode::OK,
                &json!({"access_token": TOKEN, "token_type": "bearer", "expires_in": 86399}),
            )
        } else {
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_client", "description": "fake login upstream: unexpected request"}),
            )
        }
    })
    .await
}

fn bearer_ok(s: &Seen) -> bool {
    s.headers
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == format!("Bearer {TOKEN}").as_bytes())
}

fn assert_token_request(login: &Upstream) {
    let seen = login.seen();
    assert_eq!(seen.len(), 1, "login upstream saw {seen:#?}");
    let t = &seen[0];
    assert_eq!(t.method, Method::POST);
    assert_eq!(t.uri, "/oauth/token");
    assert_eq!(t.headers["authorization"], BASIC);
    assert_eq!(&t.body[..], b"grant_type=client_credentials");
}

#[tokio::test]
async fn python_sdk_logs_in_and_calls_the_api_through_triage() {
    let Some(python) = venv_python() else { return };
    let login = login_upstream().await;
    let api = upstream(|s: Seen| async move {
        if s.method == Method::GET && s.uri == "/api/v2/tokens/me" && bearer_ok(&s) {
            json_response(
                StatusCode::OK,
                &json!({
                    "organization": {"id": "org-1", "name": "Fake Org"},
                    "homeOrganization": {"id": "org-1", "name": "Fake Org"},
                    "authorizedScope": ["conversations", "messaging"],
                    "OAuthClient": {"id": CLIENT_ID, "name": "sdk test client"}
                }),
            )
        } else {
            json_response(
                StatusCode::UNAUTHORIZED,
                &json!({"message": "fake api upstream: unexpected request", "code": "bad.credentials", "status": 401}),
            )
        }
    })
    .await;
    let proxy = proxy(config(&api.url(), &login.url())).await;

    let r = run_sdk(&python, &format!("http://{}", proxy.addr), "login-and-get").await;

    assert_eq!(r["ok"], true, "SDK report: {r:#}");
    assert_eq!(
        r["result"]["organization"]["id"], "org-1",
        "SDK report: {r:#}"
    );
    assert_eq!(
        r["result"]["authorizedScope"],
        json!(["conversations", "messaging"])
    );
    // /oauth/token went to the login upstream only, /api/v2/... to the api upstream only.
    assert_token_request(&login);
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "api upstream saw {seen:#?}");
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(seen[0].uri, "/api/v2/tokens/me");
    assert_eq!(seen[0].headers["authorization"], "Bearer tok-1");
    proxy.shutdown().await.unwrap();
}

#[tokio::test]
async fn python_sdk_sees_proxy_error() {
    let Some(python) = venv_python() else { return };
    let login = login_upstream().await;
    // An api upstream nobody listens on: bind a port, then let it go.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let proxy = proxy(config(&format!("http://{dead}"), &login.url())).await;

    let r = run_sdk(&python, &format!("http://{}", proxy.addr), "login-and-get").await;

    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    assert_eq!(r["error"], "ApiException", "SDK report: {r:#}");
    assert_eq!(r["status"], 502, "SDK report: {r:#}");
    let ps = r["headers"]["proxy-status"].as_str().unwrap_or_default();
    assert!(
        ps.contains("error=connection_refused"),
        "proxy-status: {ps:?}; SDK report: {r:#}"
    );
    assert_token_request(&login);
    proxy.shutdown().await.unwrap();
}

/// Sending into a conversation the upstream refuses: the SDK raises ApiException carrying the
/// upstream's status and body unchanged, and its headers carry triage's diagnosis.
#[tokio::test]
async fn python_sdk_send_closed_raises_with_the_diagnosis() {
    let Some(python) = venv_python() else { return };
    let login = login_upstream().await;
    let refusal = json!({
        "message": "The request conflicts with the current state of the target resource.",
        "code": "request.conflict",
        "status": 409,
        "contextId": "ctx-sdk-1",
        "details": [],
        "errors": []
    });
    let body = refusal.clone();
    let api = upstream(move |s: Seen| {
        let body = body.clone();
        async move {
            if s.method == Method::POST && s.uri.ends_with("/messages") && bearer_ok(&s) {
                json_response(StatusCode::CONFLICT, &body)
            } else {
                json_response(
                    StatusCode::NOT_FOUND,
                    &json!({"message": "unexpected", "code": "not.found", "status": 404}),
                )
            }
        }
    })
    .await;
    let proxy = proxy_with(
        config(&api.url(), &login.url()),
        triage::cli::demo::default_inspector().unwrap(),
    )
    .await;

    let r = run_sdk(&python, &format!("http://{}", proxy.addr), "send-closed").await;
    assert_eq!(
        r["headers"]["triage-rule"], "conversation-closed",
        "SDK report: {r:#}"
    );
    assert!(r["headers"]["triage-fix"]
        .as_str()
        .unwrap()
        .contains("POST /api/v2/conversations/messages/agentless"));

    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    assert_eq!(r["status"], 409, "SDK report: {r:#}");
    assert_eq!(r["body"], refusal);
    assert_eq!(r["headers"]["inin-correlation-id"], "corr-sdk-1");
    assert_token_request(&login);
    let seen = api.seen();
    assert_eq!(
        seen.len(),
        1,
        "api upstream saw {seen:#?} (a 409 without Retry-After is not retried)"
    );
    assert_eq!(
        seen[0].uri,
        "/api/v2/conversations/messages/c0ffee00-0000-4000-8000-000000000001/communications/c0ffee00-0000-4000-8000-000000000002/messages"
    );
    let sent: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent, json!({"textBody": "hello from triage's SDK test"}));
    proxy.shutdown().await.unwrap();
}

/// The real SDK through triage in front of triage's own simulator (the built-in scenario): the
/// login and a call succeed, and the send into the scenario's closed conversation raises
/// ApiException whose headers name `conversation-closed`.
#[tokio::test]
async fn python_sdk_through_triage_in_front_of_the_simulator() {
    let Some(python) = venv_python() else { return };
    let scenario = triage::simulate::Scenario::builtin();
    let sim = triage::simulate::Simulator::bind("127.0.0.1:0".parse().unwrap(), &scenario)
        .await
        .unwrap()
        .spawn();
    let url = sim.url();
    let proxy = proxy_with(
        config(&url, &url),
        triage::cli::demo::default_inspector().unwrap(),
    )
    .await;
    let host = format!("http://{}", proxy.addr);
    // The built-in scenario's client and closed conversation (src/simulate/default.toml).
    let creds = [
        "--client-id",
        "a1f3c9d2-5b7e-4e21-8f0a-6c2d9b4e7a11",
        "--client-secret",
        "demo-secret",
    ];

    let r = run_sdk_with(&python, &host, "login-and-get", &creds).await;
    assert_eq!(r["ok"], true, "SDK report: {r:#}");
    assert!(
        r["result"]["organization"].is_object(),
        "tokens/me result: {r:#}"
    );

    let mut args = creds.to_vec();
    args.extend([
        "--conversation-id",
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "--communication-id",
        "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeee02",
    ]);
    let r = run_sdk_with(&python, &host, "send-closed", &args).await;
    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    assert_eq!(r["error"], "ApiException");
    assert_eq!(r["status"], 409);
    assert_eq!(
        r["headers"]["triage-rule"], "conversation-closed",
        "SDK report: {r:#}"
    );
    assert_eq!(r["body"]["code"], "request.conflict");
    proxy.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();
}

/// certs/README.md's set-up for Python: `triage proxy --tls`, an https host and the CA of
/// `triage certs` as `configuration.ssl_ca_cert`. The login and a call succeed; without the CA
/// the SDK refuses the certificate.
#[tokio::test]
async fn python_sdk_over_tls_trusting_the_triage_ca() {
    let Some(python) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    let scenario = triage::simulate::Scenario::builtin();
    let sim = triage::simulate::Simulator::bind("127.0.0.1:0".parse().unwrap(), &scenario)
        .await
        .unwrap()
        .spawn();
    let url = sim.url();
    let mut cfg = config(&url, &url);
    cfg.tls = Some(triage::proxy::ServerTls {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
    });
    let proxy = proxy_with(cfg, triage::cli::demo::default_inspector().unwrap()).await;
    let host = format!("https://127.0.0.1:{}", proxy.addr.port());
    let ca = paths.ca_cert.to_str().unwrap();
    let creds = [
        "--client-id",
        "a1f3c9d2-5b7e-4e21-8f0a-6c2d9b4e7a11",
        "--client-secret",
        "demo-secret",
    ];

    let mut args = creds.to_vec();
    args.extend(["--ca-cert", ca]);
    let r = run_sdk_with(&python, &host, "login-and-get", &args).await;
    assert_eq!(r["ok"], true, "SDK report: {r:#}");
    assert!(
        r["result"]["organization"].is_object(),
        "tokens/me result: {r:#}"
    );

    let r = run_sdk_with(&python, &host, "login-and-get", &creds).await;
    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    let err = r["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("CERTIFICATE_VERIFY_FAILED"),
        "expected a certificate error without ssl_ca_cert, got {err:?}"
    );
    proxy.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();
}

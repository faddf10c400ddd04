//! The real Genesys Cloud JavaScript SDK (`purecloud-platform-client-v2`, installed into
//! `target/js-sdk` by `.ci/setup-js-sdk`) pointed at triage with `setGateway`, as the README
//! tells JavaScript users to: the client-credentials login and API calls go through the proxy,
//! and triage's diagnosis reaches the SDK's caller the two ways the README names
//! (`setReturnExtendedResponses(true)`, or `--annotate-body`).
//!
//! The SDK is driven by `tests/sdk/js_client.js`, which prints one JSON object. Without node or
//! the installed SDK these tests skip with a note, except under `CI`, where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

const CLIENT_ID: &str = "sdk-client";
const CLIENT_SECRET: &str = "sdk-secret";
/// `Basic base64("sdk-client:sdk-secret")`, as the SDK builds it.
const BASIC: &str = "Basic c2RrLWNsaWVudDpzZGstc2VjcmV0";
const TOKEN: &str = "tok-js-1";

/// The built-in scenario's client and closed conversation (src/simulate/default.toml).
const SIM_CLIENT: [&str; 4] = [
    "--client-id",
    "a1f3c9d2-5b7e-4e21-8f0a-6c2d9b4e7a11",
    "--client-secret",
    "demo-secret",
];
const SIM_CLOSED: [&str; 4] = [
    "--conversation-id",
    "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "--communication-id",
    "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeee02",
];

fn sdk_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/js-sdk");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = dir
        .join("node_modules/purecloud-platform-client-v2")
        .is_dir();
    if node_ok && installed {
        return Some(dir);
    }
    let msg = if node_ok {
        format!(
            "the JavaScript SDK is not installed in {}: run .ci/setup-js-sdk",
            dir.display()
        )
    } else {
        "node is not on PATH (Debian: nodejs), and .ci/setup-js-sdk needs it".to_string()
    };
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    common::skip_note(&msg);
    None
}

/// Runs one step of `tests/sdk/js_client.js` with triage at `gateway` and returns its report.
async fn run_sdk(sdk: &Path, gateway: &str, step: &str, args: &[&str]) -> Value {
    run_sdk_env(sdk, gateway, step, args, &[]).await
}

/// As [`run_sdk`], with more environment for node.
async fn run_sdk_env(
    sdk: &Path,
    gateway: &str,
    step: &str,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/js_client.js");
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(&script)
        .arg(step)
        .args(["--gateway", gateway])
        .args(args)
        .env("TRIAGE_JS_SDK", sdk)
        // axios honours these; the SDK must reach triage directly.
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env("NO_PROXY", "*")
        .envs(env.iter().copied());
    run_json_report(cmd, &format!("js_client.js {step}")).await
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("inin-correlation-id", "corr-js-1")
        .body(full(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// Triage in front of its own simulator (the built-in scenario), diagnosing with the built-in
/// rules; `annotate_body` as `--annotate-body`.
async fn proxy_before_simulator(
    annotate_body: bool,
) -> (
    triage::proxy::server::ProxyHandle,
    triage::simulate::server::SimHandle,
) {
    proxy_before_simulator_tls(annotate_body, None).await
}

/// As [`proxy_before_simulator`], serving https with `tls` when given (`--tls`).
async fn proxy_before_simulator_tls(
    annotate_body: bool,
    tls: Option<triage::proxy::ServerTls>,
) -> (
    triage::proxy::server::ProxyHandle,
    triage::simulate::server::SimHandle,
) {
    let scenario = triage::simulate::Scenario::builtin();
    let sim = triage::simulate::Simulator::bind("127.0.0.1:0".parse().unwrap(), &scenario)
        .await
        .unwrap()
        .spawn();
    let url = sim.url();
    let inspector: Arc<dyn triage::inspect::Inspector> = diagnosing(annotate_body);
    let mut cfg = config(&url, &url);
    cfg.tls = tls;
    let proxy = proxy_with(cfg, inspector).await;
    (proxy, sim)
}

/// `setGateway` sends the login and the API calls to triage's one address; triage routes
/// `/oauth/token` to the login upstream and `/api/v2/...` to the api upstream, unchanged.
#[tokio::test]
async fn js_sdk_logs_in_and_calls_the_api_through_triage() {
    let Some(sdk) = sdk_dir() else { return };
    let login = upstream(|s: Seen| async move {
        let ok = s.method == Method::POST
            && s.uri == "/oauth/token"
            && s.headers.get("authorization").is_some_and(|v| v == BASIC)
            && &s.body[..] == b"grant_type=client_credentials";
        if ok {
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
    .await;
    let api = upstream(|s: Seen| async move {
        let bearer = format!("Bearer {TOKEN}");
        if s.method == Method::GET
            && s.uri == "/api/v2/tokens/me"
            && s.headers.get("authorization").is_some_and(|v| v == &bearer)
        {
            json_response(
                StatusCode::OK,
                &json!({
                    "organization": {"id": "org-js", "name": "Fake Org"},
                    "authorizedScope": ["conversations", "messaging"],
                    "OAuthClient": {"id": CLIENT_ID, "name": "js test client"}
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

    let r = run_sdk(
        &sdk,
        &format!("http://{}", proxy.addr),
        "login-and-get",
        &["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
    )
    .await;

    assert_eq!(r["ok"], true, "SDK report: {r:#}");
    assert_eq!(
        r["result"]["organization"]["id"], "org-js",
        "SDK report: {r:#}"
    );
    let seen = login.seen();
    assert_eq!(seen.len(), 1, "login upstream saw {seen:#?}");
    assert_eq!(seen[0].headers["authorization"], BASIC);
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "api upstream saw {seen:#?}");
    assert_eq!(seen[0].uri, "/api/v2/tokens/me");
    proxy.shutdown().await.unwrap();
}

/// With `setReturnExtendedResponses(true)` the SDK rejects with the response's headers too, so
/// `error.headers["triage-fix"]` is there, beside the upstream's body unchanged.
#[tokio::test]
async fn js_sdk_extended_rejection_carries_the_diagnosis_headers() {
    let Some(sdk) = sdk_dir() else { return };
    let (proxy, sim) = proxy_before_simulator(false).await;
    let mut args = SIM_CLIENT.to_vec();
    args.extend(SIM_CLOSED);
    args.push("--extended");

    let r = run_sdk(
        &sdk,
        &format!("http://{}", proxy.addr),
        "send-closed",
        &args,
    )
    .await;

    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    assert_eq!(r["error"], "rejected", "SDK report: {r:#}");
    assert_eq!(r["status"], 409, "SDK report: {r:#}");
    assert_eq!(
        r["headers"]["triage-rule"], "conversation-closed",
        "SDK report: {r:#}"
    );
    let fix = r["headers"]["triage-fix"].as_str().unwrap_or_default();
    assert!(
        fix.contains("POST /api/v2/conversations/messages/agentless"),
        "triage-fix: {fix:?}"
    );
    assert_eq!(r["body"]["code"], "request.conflict", "SDK report: {r:#}");
    assert!(r["body"].get("triage").is_none(), "body changed: {r:#}");
    proxy.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();
}

/// By default the SDK rejects with the error body alone; with `--annotate-body` that body names
/// the rule and the fix, in `message` and in a `triage` member.
#[tokio::test]
async fn js_sdk_default_rejection_carries_the_annotated_body() {
    let Some(sdk) = sdk_dir() else { return };
    let (proxy, sim) = proxy_before_simulator(true).await;
    let mut args = SIM_CLIENT.to_vec();
    args.extend(SIM_CLOSED);

    let r = run_sdk(
        &sdk,
        &format!("http://{}", proxy.addr),
        "send-closed",
        &args,
    )
    .await;

    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    assert_eq!(r["error"], "rejected", "SDK report: {r:#}");
    // The body alone: no status or headers reach the caller this way.
    assert_eq!(r["status"], Value::Null, "SDK report: {r:#}");
    assert_eq!(r["body"]["code"], "request.conflict", "SDK report: {r:#}");
    let message = r["body"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("The request conflicts with the current state of the target resource. [triage: conversation-closed: "),
        "message: {message:?}"
    );
    assert_eq!(
        r["body"]["triage"]["rule"], "conversation-closed",
        "SDK report: {r:#}"
    );
    proxy.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();
}

/// A login the login host refuses rejects with axios' Error, whose response carries triage's
/// headers; an upstream that is down gives triage's own 502, told apart by `Proxy-Status`.
#[tokio::test]
async fn js_sdk_sees_a_refused_login_and_triage_own_error() {
    let Some(sdk) = sdk_dir() else { return };
    let (front, sim) = proxy_before_simulator(false).await;
    let r = run_sdk(
        &sdk,
        &format!("http://{}", front.addr),
        "login-and-get",
        &[
            SIM_CLIENT[0],
            SIM_CLIENT[1],
            "--client-secret",
            "not-the-secret",
        ],
    )
    .await;
    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    assert_eq!(r["status"], 401, "SDK report: {r:#}");
    assert_eq!(
        r["headers"]["triage-rule"], "oauth-client-error",
        "SDK report: {r:#}"
    );
    assert_eq!(r["body"]["error"], "invalid_client", "SDK report: {r:#}");
    front.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();

    // An api upstream nobody listens on: bind a port, then let it go.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let login = upstream(|_s: Seen| async move {
        json_response(
            StatusCode::OK,
            &json!({"access_token": TOKEN, "token_type": "bearer", "expires_in": 86399}),
        )
    })
    .await;
    let proxy = proxy(config(&format!("http://{dead}"), &login.url())).await;
    let r = run_sdk(
        &sdk,
        &format!("http://{}", proxy.addr),
        "login-and-get",
        &[
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--extended",
        ],
    )
    .await;
    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    assert_eq!(r["status"], 502, "SDK report: {r:#}");
    let ps = r["headers"]["proxy-status"].as_str().unwrap_or_default();
    assert!(
        ps.contains("error=connection_refused"),
        "proxy-status: {ps:?}; SDK report: {r:#}"
    );
    assert_eq!(
        r["headers"]["content-type"], "application/problem+json",
        "SDK report: {r:#}"
    );
    proxy.shutdown().await.unwrap();
}

/// certs/README.md's set-up for Node: `triage proxy --tls`, the CA of `triage certs` trusted by
/// `NODE_EXTRA_CA_CERTS`, and an https gateway. The login and a call succeed, and a failure
/// still carries the diagnosis.
#[tokio::test]
async fn js_sdk_over_tls_trusting_the_triage_ca() {
    let Some(sdk) = sdk_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    let tls = triage::proxy::ServerTls {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
    };
    let (proxy, sim) = proxy_before_simulator_tls(false, Some(tls)).await;
    let gateway = format!("https://127.0.0.1:{}", proxy.addr.port());
    let env = [("NODE_EXTRA_CA_CERTS", paths.ca_cert.as_path())];

    let r = run_sdk_env(&sdk, &gateway, "login-and-get", &SIM_CLIENT, &env).await;
    assert_eq!(r["ok"], true, "SDK report: {r:#}");
    assert!(r["result"]["organization"].is_object(), "SDK report: {r:#}");

    let mut args = SIM_CLIENT.to_vec();
    args.extend(SIM_CLOSED);
    args.push("--extended");
    let r = run_sdk_env(&sdk, &gateway, "send-closed", &args, &env).await;
    assert_eq!(r["status"], 409, "SDK report: {r:#}");
    assert_eq!(
        r["headers"]["triage-rule"], "conversation-closed",
        "SDK report: {r:#}"
    );

    // Without the CA, node refuses triage's certificate: the trust step is needed.
    let r = run_sdk(&sdk, &gateway, "login-and-get", &SIM_CLIENT).await;
    assert_eq!(r["ok"], false, "SDK report: {r:#}");
    let err = r["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("certificate"),
        "expected a certificate error without NODE_EXTRA_CA_CERTS, got {err:?}"
    );
    proxy.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();
}

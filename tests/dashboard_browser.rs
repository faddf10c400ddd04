//! The dashboard end to end in headless Chromium: a failing call through an in-process proxy
//! shows up on the page with its rule, and the detail view (opened by `#seq`) shows the
//! diagnosis and a curl without the planted token.
//!
//! Needs Debian's `chromium` (or `$CHROMIUM`). Without it the test is skipped with a note,
//! except when `CI` is set: then it fails and says to run `.ci/install-browser`.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::Response;
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::monitor::Monitor;
use triage::rules::RuleSet;

const SEND_PATH: &str = "/api/v2/conversations/messages/c1/communications/m1/messages";
const TOKEN: &str = "PLANTED-browser-token-4b1d";

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Loads `url` in headless Chromium, lets its timers run for 5 s of virtual time, and returns
/// the DOM. With `screenshot`, also writes a PNG there.
async fn dump_dom(browser: &PathBuf, url: &str, screenshot: Option<&std::path::Path>) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(p) => cmd.arg(format!("--screenshot={}", p.display())),
        None => cmd.arg("--dump-dom"),
    };
    cmd.arg(url).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium finishes within 90 s")
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_call_shows_on_the_page_with_its_rule() {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed: run .ci/install-browser");
        }
        common::skip_note("chromium is not installed (run .ci/install-browser)");
        return;
    };
    let up = upstream(|_seen: Seen| async move {
        Response::builder()
            .status(409)
            .header("content-type", "application/json")
            .header("inin-correlation-id", "cid-browser")
            .body(full(r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409,"contextId":"cid-browser","details":[],"errors":[]}"#))
            .unwrap()
    })
    .await;
    let monitor = Arc::new(Monitor::default().upstreams(up.url(), up.url()));
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    let pipeline = Pipeline::new(
        engine,
        PipelineOptions {
            annotate_body: false,
            region: None,
            replay: false,
        },
    )
    .with_sink(monitor.clone());
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline)).await;
    let base = format!("http://{}", p.addr);
    let r = client()
        .post(format!("{base}{SEND_PATH}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(r#"{"textBody":"Hello again"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    r.bytes().await.unwrap();
    for _ in 0..100 {
        if !monitor.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(monitor.len(), 1);

    // The list: the failing call, highlighted, with its rule.
    let dom = dump_dom(&browser, &format!("{base}/__triage/"), None).await;
    assert!(
        dom.contains(r#"<span class="rule">conversation-closed</span>"#),
        "no row with the rule in the page:\n{dom}"
    );
    assert!(dom.contains(r#"class="row diagnosed"#), "{dom}");
    assert!(dom.contains(SEND_PATH), "{dom}");
    assert!(
        dom.contains("1 exchanges · 1 failed · 1 diagnosed"),
        "{dom}"
    );

    // The detail view of that exchange: diagnosis, evidence, curl, redacted exchange.
    let seq = 1;
    let dom = dump_dom(&browser, &format!("{base}/__triage/#{seq}"), None).await;
    for want in [
        "conversation-closed · error · likely · postConversationsMessageCommunicationMessages",
        "Message sent into a messaging conversation that has ended",
        "Cause: The send into conversation c1 was refused with 409",
        "\"conversationId\": \"c1\"",
        "authorization: Bearer $TOKEN",
        "copy as curl",
        "Exchange (redacted)",
    ] {
        let escaped = want.replace('"', "&quot;");
        assert!(
            dom.contains(want) || dom.contains(&escaped),
            "detail lacks {want:?}:\n{dom}"
        );
    }
    assert!(!dom.contains(TOKEN), "the planted token is on the page");

    if let Some(dir) = std::env::var_os("TRIAGE_SCREENSHOT_DIR") {
        let png = PathBuf::from(dir).join("dashboard.png");
        dump_dom(&browser, &format!("{base}/__triage/#{seq}"), Some(&png)).await;
        eprintln!("screenshot: {}", png.display());
    }
    assert!(up.seen().iter().all(|s| !s.uri.contains("__triage")));
    assert!(up.seen().iter().all(|s| !s.uri.contains("favicon")));
}

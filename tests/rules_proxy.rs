//! Every example of the built-in pack through the live proxy (fake upstream answering the
//! example's response): matches get the rule's headers, near misses do not, successes get
//! nothing, hostile upstream text cannot break the head, and `--annotate-body` keeps JSON valid.

mod common;

use std::sync::Arc;

use common::*;
use http::Response;
use triage::diagnose::Pipeline;
use triage::report::headers::{sanitize, MAX_TOTAL, MAX_VALUE};
use triage::rules::{Expect, RuleSet};

const EXAMPLE_HEADER: &str = "x-triage-test-example";

fn inspector(annotate_body: bool) -> Arc<Pipeline> {
    diagnosing(annotate_body)
}

/// A fake upstream answering each request with the response of the example named in its
/// `x-triage-test-example` header ("rule-id/index").
async fn example_upstream(set: &RuleSet) -> Upstream {
    let mut responses = std::collections::HashMap::new();
    for r in set.rules() {
        for (i, ex) in r.examples.iter().enumerate() {
            responses.insert(format!("{}/{i}", r.id), ex.def.response.clone());
        }
    }
    let responses = Arc::new(responses);
    upstream(move |seen: Seen| {
        let responses = responses.clone();
        async move {
            let key = seen.headers[EXAMPLE_HEADER].to_str().unwrap().to_owned();
            let resp = &responses[&key];
            let mut b = Response::builder().status(resp.status);
            for (k, v) in &resp.headers {
                b = b.header(k, v);
            }
            b.body(full(resp.body.clone().unwrap_or_default())).unwrap()
        }
    })
    .await
}

#[tokio::test]
async fn every_example_through_the_proxy() {
    let set = RuleSet::builtin().unwrap();
    let up = example_upstream(&set).await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(false)).await;
    let c = client();
    let mut checked = 0;
    for r in set.rules() {
        for (i, ex) in r.examples.iter().enumerate() {
            let d = &ex.def;
            // An example that assumes earlier traffic or a catalog answer cannot be replayed as
            // one request; tests/evidence_proxy.rs builds those situations live.
            if d.evidence.is_some() || d.operation.is_some() {
                continue;
            }
            // Nor one of an input that shows the body alone: live, every header is seen.
            if !d.response.headers_shown {
                continue;
            }
            let mut req = c.request(
                d.request.method.parse().unwrap(),
                format!("http://{}{}", p.addr, d.request.path),
            );
            for (k, v) in &d.request.headers {
                req = req.header(k, v);
            }
            req = req.header(EXAMPLE_HEADER, format!("{}/{i}", r.id));
            if let Some(b) = &d.request.body {
                req = req.body(b.clone());
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), d.response.status);
            let h = resp.headers().clone();
            let body = resp.text().await.unwrap();
            assert_eq!(
                body,
                d.response.body.clone().unwrap_or_default(),
                "body unchanged"
            );
            let ids: Vec<String> = h
                .get("triage-rule")
                .map(|v| v.to_str().unwrap().split(", ").map(str::to_owned).collect())
                .unwrap_or_default();
            let what = format!("{} / {}", r.id, d.name);
            match d.expect {
                Expect::Match => {
                    assert!(ids.contains(&r.id), "{what}: Triage-Rule {ids:?}");
                    if ids[0] == r.id {
                        // Live, a 403's cause also gets what the catalog says the operation
                        // requires; the rest is exactly the example's text.
                        let want = sanitize(d.cause.as_deref().unwrap(), MAX_VALUE);
                        let got = h["triage-cause"].to_str().unwrap();
                        let rest = got.strip_prefix(want.as_str()).unwrap_or_else(|| {
                            panic!(
                                "{what}: triage-cause\n  expected: {want:?}\n       got: {got:?}"
                            )
                        });
                        assert!(
                            rest.is_empty()
                                || (d.response.status == 403
                                    && rest.starts_with(" The API catalog says ")),
                            "{what}: unexpected addition to the cause: {rest:?}"
                        );
                        assert_header(
                            &h,
                            "triage-fix",
                            &sanitize(d.fix.as_deref().unwrap(), MAX_VALUE),
                        );
                        match &r.docs {
                            Some(url) => assert_header(&h, "triage-docs", url),
                            None => assert_no_header(&h, "triage-docs"),
                        }
                    }
                    assert_header(
                        &h,
                        "proxy-status",
                        &format!(
                            "triage; received-status={}; details=\"{}\"",
                            d.response.status, ids[0]
                        ),
                    );
                }
                Expect::NoMatch => {
                    assert!(!ids.contains(&r.id), "{what}: Triage-Rule {ids:?}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} examples");
}

#[tokio::test]
async fn a_success_gets_no_triage_headers() {
    let up = upstream(|_| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(full(r#"{"id":"m-1"}"#))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(true)).await;
    let r = client()
        .post(format!(
            "http://{}/api/v2/conversations/messages/c-1/communications/m-1/messages",
            p.addr
        ))
        .body(r#"{"textBody":"hi"}"#)
        .send()
        .await
        .unwrap();
    for h in [
        "triage-rule",
        "triage-cause",
        "triage-fix",
        "triage-docs",
        "proxy-status",
    ] {
        assert_no_header(r.headers(), h);
    }
    assert_eq!(r.text().await.unwrap(), r#"{"id":"m-1"}"#);
}

fn hostile_scope_body() -> String {
    let scopes = format!(
        "a\r\nX-Injected: 1\r\n\r\nHTTP/1.1 200 OK\u{7}\u{1b}[31m é\u{2028}{}",
        "s".repeat(20 * 1024)
    );
    serde_json::json!({
        "message": format!("App not authorized to use scope [{scopes}]"),
        "code": "app.not.authorized.for.scope",
        "status": 403,
    })
    .to_string()
}

#[tokio::test]
async fn hostile_upstream_text_cannot_break_or_bloat_the_head() {
    let body = hostile_scope_body();
    let up = upstream(move |_| {
        let body = body.clone();
        async move {
            Response::builder()
                .status(403)
                .header("content-type", "application/json")
                .body(full(body))
                .unwrap()
        }
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(false)).await;
    let raw_resp = raw(
        p.addr,
        b"GET /api/v2/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, _) = split_response(&raw_resp);
    let lower = head.to_ascii_lowercase();
    // The text may appear inside a value, never as a line of its own.
    assert!(
        !lower
            .split("\r\n")
            .any(|l| l.starts_with("x-injected") || l.starts_with("http/1.1 200")),
        "{head}"
    );
    assert!(lower.starts_with("http/1.1 403"), "{head}");
    let mut total = 0;
    for line in head.split("\r\n").skip(1) {
        assert!(
            line.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "non-visible byte in {line:?}"
        );
        let (name, value) = line.split_once(": ").unwrap();
        if name.starts_with("triage-") || name == "proxy-status" {
            assert!(value.len() <= MAX_VALUE, "{name} is {} bytes", value.len());
            total += line.len() + 2;
        }
    }
    assert!(lower.contains("triage-rule: missing-scope"), "{head}");
    assert!(lower.contains("...[cut by triage]"), "{head}");
    assert!(total <= MAX_TOTAL);
}

#[tokio::test]
async fn annotate_body_puts_the_fix_in_the_sdk_visible_message() {
    let body = r#"{"message":"App not authorized to use scope [conversations]","code":"app.not.authorized.for.scope","status":403,"contextId":"c-1"}"#;
    let up = upstream(move |_| async move {
        Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .body(full(body))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(true)).await;
    let r = client()
        .get(format!("http://{}/api/v2/conversations/c-1", p.addr))
        .send()
        .await
        .unwrap();
    let fix = r.headers()["triage-fix"].to_str().unwrap().to_owned();
    let len: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let text = r.text().await.unwrap();
    assert_eq!(len, text.len());
    let v: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
    assert_eq!(
        v["message"],
        format!("App not authorized to use scope [conversations] [triage: missing-scope: {fix}]")
    );
    assert_eq!(v["code"], "app.not.authorized.for.scope");
    assert_eq!(v["contextId"], "c-1");
    assert_eq!(v["triage"]["rule"], "missing-scope");
    assert_eq!(v["triage"]["fix"], fix);
}

#[tokio::test]
async fn annotate_body_with_hostile_text_stays_valid_json_and_a_sane_head() {
    let body = hostile_scope_body();
    let up = upstream(move |_| {
        let body = body.clone();
        async move {
            Response::builder()
                .status(403)
                .header("content-type", "application/json")
                .body(full(body))
                .unwrap()
        }
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(true)).await;
    let r = client()
        .get(format!("http://{}/api/v2/users", p.addr))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-injected").is_none());
    let text = r.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("[triage: missing-scope: "));
}

#[tokio::test]
async fn annotate_body_of_a_gzip_error_drops_the_encoding_and_fixes_the_length() {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"message":"Rate limit exceeded the maximum. Retry the request in [3] seconds","code":"too.many.requests.retry.after","status":429}"#)
        .unwrap();
    let gz = gz.finish().unwrap();
    let up = upstream(move |_| {
        let gz = gz.clone();
        async move {
            Response::builder()
                .status(429)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .header("retry-after", "3")
                .body(full(gz))
                .unwrap()
        }
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), inspector(true)).await;
    let r = client()
        .get(format!("http://{}/api/v2/users", p.addr))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_header(r.headers(), "retry-after", "3");
    assert_header(r.headers(), "triage-rule", "rate-limited");
    assert_no_header(r.headers(), "content-encoding");
    let len: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let text = r.text().await.unwrap();
    assert_eq!(len, text.len());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["message"]
        .as_str()
        .unwrap()
        .ends_with("[triage: rate-limited: Wait 3 seconds before retrying, and lower the request rate. The Python SDK (purecloudplatformclientv2) already retries a 429 that carries Retry-After by itself, sleeping Retry-After, up to 10 times and for POST too, so an exception means those retries ran out; the JS SDK never retries: catch status 429 and wait Retry-After yourself. Do not wait on inin-ratelimit-* headers: they were removed in 2021.]"));
}

/// The demo's story (another module's) through the real engine: every failed step carries the
/// rules the story expects. Step 5's token request succeeds (200), and successes are never
/// diagnosed, so its `invented-scope` expectation is not checked here.
#[tokio::test]
async fn demo_story_gets_the_expected_rules() {
    let mut out = Vec::new();
    let summary = triage::cli::demo::play(&mut out, false, inspector(false))
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    for st in &summary.steps {
        if st.status < 400 {
            assert!(st.rules.is_empty(), "{}: {:?}\n{text}", st.title, st.rules);
            continue;
        }
        for r in st.expected_rules {
            assert!(
                st.rules.iter().any(|x| x == r),
                "{}: {:?} lacks {r}\n{text}",
                st.title,
                st.rules
            );
        }
    }
}

//! The dashboard and metrics (`/__triage/...`) of a live proxy: a Pipeline with a Monitor sink
//! in front of a fake upstream. A failing call shows up with its rule, detail and curl; metrics
//! count it; triage's pages are never forwarded; the ring stays bounded; planted secrets never
//! appear in any `/__triage` answer.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::Response;
use serde_json::Value;
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::monitor::Monitor;
use triage::rules::RuleSet;

const SEND_PATH: &str = "/api/v2/conversations/messages/c1/communications/m1/messages";
const TOKEN: &str = "PLANTED-bearer-7f3a9c";
const CLIENT_SECRET: &str = "PLANTED-client-secret-51d2";
const CODE: &str = "PLANTED-auth-code-88e0";
const ACCESS_TOKEN: &str = "PLANTED-access-token-c0ffee";
/// Spellings a server reads as secret too: camelCase JSON, a percent-encoded name after a `;`,
/// a multipart field.
const CRED_SECRET: &str = "PLANTED-cred-secret-3e1a";
const QUERY_SECRET: &str = "PLANTED-query-secret-9b7c";
const MULTIPART_SECRET: &str = "PLANTED-multipart-secret-4d2f";

fn pipeline(monitor: Arc<Monitor>) -> Arc<Pipeline> {
    let engine = Arc::new(Engine::new(RuleSet::builtin().expect("built-in rules")));
    Arc::new(
        Pipeline::new(
            engine,
            PipelineOptions {
                annotate_body: false,
                region: None,
                replay: false,
            },
        )
        .with_sink(monitor),
    )
}

/// 409 request.conflict on sends, a token on /oauth/token, 401 elsewhere, 200 on `/ok`.
async fn fake_upstream() -> Upstream {
    upstream(|seen: Seen| async move {
        let path = seen.uri.split('?').next().unwrap_or("").to_owned();
        let (status, body) = if path == SEND_PATH {
            (409, r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409,"contextId":"cid-409","details":[],"errors":[]}"#.to_owned())
        } else if path == "/oauth/token" {
            (200, format!(r#"{{"access_token":"{ACCESS_TOKEN}","token_type":"bearer","expires_in":86399}}"#))
        } else if path.starts_with("/ok") {
            (200, r#"{"ok":true}"#.to_owned())
        } else {
            (401, r#"{"message":"Authentication failed","code":"authentication.required","status":401}"#.to_owned())
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("inin-correlation-id", "cid-409")
            .body(full(body))
            .unwrap()
    })
    .await
}

async fn get(c: &reqwest::Client, url: String) -> (u16, http::HeaderMap, String) {
    let r = c.get(url).send().await.unwrap();
    let s = r.status().as_u16();
    let h = r.headers().clone();
    (s, h, r.text().await.unwrap())
}

/// Polls the list until `n` exchanges are held (exchanges reach sinks once their body is over).
async fn wait_for(c: &reqwest::Client, base: &str, n: usize) -> Value {
    for _ in 0..100 {
        let (_, _, t) = get(c, format!("{base}/__triage/api/exchanges?since=0")).await;
        let j: Value = serde_json::from_str(&t).unwrap();
        if j["exchanges"].as_array().unwrap().len() >= n {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the dashboard did not get {n} exchanges");
}

async fn send_conflict(c: &reqwest::Client, base: &str) {
    let r = c
        .post(format!("{base}{SEND_PATH}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(r#"{"textBody":"Hello again"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    r.bytes().await.unwrap();
}

#[tokio::test]
async fn failing_call_appears_with_its_rule_detail_and_metrics() {
    let up = fake_upstream().await;
    let monitor = Arc::new(Monitor::default().upstreams(up.url(), up.url()));
    let p = proxy_with(config(&up.url(), &up.url()), pipeline(monitor.clone())).await;
    let base = format!("http://{}", p.addr);
    let c = client();
    send_conflict(&c, &base).await;

    let list = wait_for(&c, &base, 1).await;
    let x = &list["exchanges"][0];
    assert_eq!(x["status"], 409, "{list}");
    assert_eq!(x["method"], "POST");
    assert_eq!(x["path"], SEND_PATH);
    assert_eq!(x["rules"], serde_json::json!(["conversation-closed"]));
    assert_eq!(x["correlation_id"], "cid-409");
    for k in ["seq", "time", "total_ms", "triage_status"] {
        assert!(x.get(k).is_some(), "summary lacks {k}: {x}");
    }
    let seq = x["seq"].as_u64().unwrap();
    assert_eq!(list["oldest"], seq);

    // Nothing newer than what the page saw.
    let (_, _, t) = get(&c, format!("{base}/__triage/api/exchanges?since={seq}")).await;
    let j: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(j["exchanges"].as_array().unwrap().len(), 0, "{j}");
    let cursor = list["cursor"].as_u64().unwrap();
    let (_, _, t) = get(&c, format!("{base}/__triage/api/exchanges?after={cursor}")).await;
    let j: Value = serde_json::from_str(&t).unwrap();
    assert_eq!(j["exchanges"].as_array().unwrap().len(), 0, "{j}");

    // Detail: the diagnosis with its evidence, the redacted exchange, a curl without the token.
    let (s, h, t) = get(&c, format!("{base}/__triage/api/exchanges/{seq}")).await;
    assert_eq!(s, 200, "{t}");
    assert_header(&h, "content-type", "application/json");
    assert_header(&h, "cache-control", "no-store");
    assert_header(&h, "x-content-type-options", "nosniff");
    let d: Value = serde_json::from_str(&t).unwrap();
    let g = &d["diagnoses"][0];
    assert_eq!(g["rule"], "conversation-closed", "{d}");
    for k in ["severity", "confidence", "cause", "fix", "docs", "title"] {
        assert!(g[k].is_string(), "diagnosis lacks {k}: {g}");
    }
    assert_eq!(g["evidence"]["conversationId"], "c1", "{g}");
    assert_eq!(g["evidence"]["communicationId"], "m1", "{g}");
    assert_eq!(d["exchange"]["request"]["path"], SEND_PATH);
    assert_eq!(d["exchange"]["response"]["status"], 409);
    let curl = d["curl"].as_str().unwrap();
    assert!(curl.starts_with("curl -X 'POST'"), "{curl}");
    assert!(
        curl.contains(&format!("'{}{SEND_PATH}'", up.url())),
        "{curl}"
    );
    assert!(
        curl.contains(r#"-H "authorization: Bearer $TOKEN""#),
        "{curl}"
    );
    assert!(
        curl.contains("--data-raw '{\"textBody\":\"[redacted: 11 chars]\"}'"),
        "{curl}"
    );
    assert!(!t.contains(TOKEN) && !t.contains("Hello again"), "{t}");

    // Gone or never there: 404 JSON.
    let (s, h, _) = get(&c, format!("{base}/__triage/api/exchanges/999999")).await;
    assert_eq!(s, 404);
    assert_header(&h, "content-type", "application/json");

    // Metrics.
    let (s, h, m) = get(&c, format!("{base}/__triage/metrics")).await;
    assert_eq!(s, 200);
    assert_header(
        &h,
        "content-type",
        "text/plain; version=0.0.4; charset=utf-8",
    );
    assert!(
        m.contains("triage_exchanges_total{class=\"4xx\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("triage_exchanges_total{class=\"2xx\"} 0\n"),
        "{m}"
    );
    assert!(
        m.contains("triage_diagnoses_total{rule=\"conversation-closed\"} 1\n"),
        "{m}"
    );
    assert!(
        m.contains("triage_upstream_latency_seconds_count 1\n"),
        "{m}"
    );
    assert!(
        m.contains("triage_inspection_skipped_total{reason=\"over-limit\"} 0\n"),
        "{m}"
    );

    // The page, from the binary, with its security headers.
    let (s, h, page) = get(&c, format!("{base}/__triage/")).await;
    assert_eq!(s, 200);
    assert_header(&h, "content-type", "text/html; charset=utf-8");
    assert_header(&h, "cache-control", "no-store");
    assert_header(&h, "x-content-type-options", "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        page.contains("api/exchanges") && !page.contains("https://cdn"),
        "{page}"
    );
    assert!(
        !page.contains("innerHTML"),
        "the page must only use textContent"
    );

    // `/__triage` redirects to the page (relative API URLs need the slash).
    let nr = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = nr.get(format!("{base}/__triage")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 308);
    assert_header(r.headers(), "location", "/__triage/");

    // Read-only.
    let r = c
        .post(format!("{base}/__triage/api/exchanges"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_header(r.headers(), "allow", "GET");
    let (s, _, _) = get(&c, format!("{base}/__triage/no-such-page")).await;
    assert_eq!(s, 404);
    let (s, _, _) = get(&c, format!("{base}/__triage/api/exchanges?since=x")).await;
    assert_eq!(s, 400);

    // None of this reached the upstream; the page's own polling is not an exchange.
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen.iter().all(|s| !s.uri.contains("__triage")), "{seen:?}");
    assert_eq!(monitor.len(), 1);
}

#[tokio::test]
async fn planted_secrets_appear_in_no_triage_answer() {
    let up = fake_upstream().await;
    let monitor = Arc::new(Monitor::default());
    let p = proxy_with(config(&up.url(), &up.url()), pipeline(monitor)).await;
    let base = format!("http://{}", p.addr);
    let c = client();
    send_conflict(&c, &base).await;
    let r = c
        .post(format!("{base}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id=abc&client_secret={CLIENT_SECRET}"
        ))
        .send()
        .await
        .unwrap();
    r.bytes().await.unwrap();
    let r = c
        .post(format!("{base}/oauth/token"))
        .header("authorization", format!("Basic {CLIENT_SECRET}"))
        .body(format!("grant_type=authorization_code&code={CODE}"))
        .send()
        .await
        .unwrap();
    r.bytes().await.unwrap();
    let r = c
        .get(format!("{base}/api/v2/users/me?code={CODE}&x=1"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("cookie", format!("session={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    r.bytes().await.unwrap();
    let r = c
        .post(format!("{base}/api/v2/integrations/credentials"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"name":"crm","type":"userDefinedOAuth","credentialFields":{{"clientId":"abc","clientSecret":"{CRED_SECRET}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    r.bytes().await.unwrap();
    let r = c
        .post(format!(
            "{base}/api/v2/users/me?a=1;client%5Fsecret={QUERY_SECRET}"
        ))
        .header("content-type", "multipart/form-data; boundary=planted")
        .body(format!(
            "--planted\r\nContent-Disposition: form-data; name=\"client_secret\"\r\n\r\n\
             {MULTIPART_SECRET}\r\n--planted--\r\n"
        ))
        .send()
        .await
        .unwrap();
    r.bytes().await.unwrap();

    let list = wait_for(&c, &base, 6).await;
    let mut answers = vec![list.to_string()];
    for x in list["exchanges"].as_array().unwrap() {
        let (s, _, t) = get(&c, format!("{base}/__triage/api/exchanges/{}", x["seq"])).await;
        assert_eq!(s, 200);
        answers.push(t);
    }
    for path in ["/__triage/", "/__triage/metrics", "/__triage/api/exchanges"] {
        answers.push(get(&c, format!("{base}{path}")).await.2);
    }
    for a in &answers {
        for planted in [
            TOKEN,
            CLIENT_SECRET,
            CODE,
            ACCESS_TOKEN,
            CRED_SECRET,
            QUERY_SECRET,
            MULTIPART_SECRET,
        ] {
            assert!(!a.contains(planted), "{planted} leaked into:\n{a}");
        }
    }
    // The query secret is redacted in the summary's path, not dropped.
    let all = answers.join("\n");
    assert!(all.contains("/api/v2/users/me?code=[redacted "), "{all}");
    assert!(all.contains("client_secret=[redacted "), "{all}");
    assert!(all.contains("a=1;client%5Fsecret=[redacted "), "{all}");
}

/// An upstream quoting the credentials it refused, in its body and in a header: none of them
/// reaches a `/__triage` answer, and the text around them does.
#[tokio::test]
async fn credentials_an_upstream_echoes_appear_in_no_triage_answer() {
    const ECHOED_TOKEN: &str = "UPACCESSTOKEN1";
    const BASIC_PASSWORD: &str = "BASICPW9";
    let up = upstream(|seen: Seen| async move {
        let auth = seen.headers["authorization"].to_str().unwrap().to_owned();
        let (status, message) = if auth.starts_with("Basic ") {
            (
                400,
                format!("client myclient with secret {BASIC_PASSWORD} may not use it"),
            )
        } else {
            (401, format!("Invalid token {auth}"))
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-refused", auth)
            .body(full(format!(
                r#"{{"message":"{message}","code":"bad.credentials","status":{status}}}"#
            )))
            .unwrap()
    })
    .await;
    let monitor = Arc::new(Monitor::default());
    let p = proxy_with(config(&up.url(), &up.url()), pipeline(monitor)).await;
    let base = format!("http://{}", p.addr);
    let c = client();
    let r = c
        .get(format!("{base}/api/v2/users/me"))
        .header("authorization", format!("Bearer {ECHOED_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    r.bytes().await.unwrap();
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("myclient:{BASIC_PASSWORD}"));
    let r = c
        .post(format!("{base}/oauth/token"))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    r.bytes().await.unwrap();

    let list = wait_for(&c, &base, 2).await;
    let mut answers = vec![list.to_string()];
    for x in list["exchanges"].as_array().unwrap() {
        let (s, _, t) = get(&c, format!("{base}/__triage/api/exchanges/{}", x["seq"])).await;
        assert_eq!(s, 200);
        answers.push(t);
    }
    for a in &answers {
        for planted in [ECHOED_TOKEN, BASIC_PASSWORD, basic.as_str()] {
            assert!(!a.contains(planted), "{planted} leaked into:\n{a}");
        }
    }
    let all = answers.join("\n");
    let fp = |s: &str| triage::redact::fingerprint(s.as_bytes());
    for expected in [
        format!("Invalid token Bearer [redacted {}]", fp(ECHOED_TOKEN)),
        format!(
            "client myclient with secret [redacted {}] may not use it",
            fp(BASIC_PASSWORD)
        ),
        format!("Basic [redacted {}]", fp(&basic)),
    ] {
        assert!(all.contains(&expected), "expected {expected} in:\n{all}");
    }
}

#[tokio::test]
async fn ring_stays_bounded_and_oldest_moves() {
    let up = fake_upstream().await;
    let monitor = Arc::new(Monitor::new(5));
    let p = proxy_with(config(&up.url(), &up.url()), pipeline(monitor.clone())).await;
    let base = format!("http://{}", p.addr);
    let c = client();
    for i in 0..40 {
        let r = c.get(format!("{base}/ok/{i}")).send().await.unwrap();
        r.bytes().await.unwrap();
        // The page polls as the calls go on; its requests are no exchanges and take no
        // number of theirs.
        if i % 8 == 0 {
            get(&c, format!("{base}/__triage/api/exchanges")).await;
        }
    }
    for _ in 0..100 {
        let m = get(&c, format!("{base}/__triage/metrics")).await.2;
        if m.contains("triage_exchanges_total{class=\"2xx\"} 40\n") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(monitor.len(), 5);
    let (_, _, t) = get(&c, format!("{base}/__triage/api/exchanges")).await;
    let j: Value = serde_json::from_str(&t).unwrap();
    let seqs: Vec<u64> = j["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 5, "{j}");
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [36, 37, 38, 39, 40],
        "the last five calls' numbers\n{j}"
    );
    assert_eq!(j["oldest"].as_u64(), seqs.iter().min().copied());
    assert!(
        j["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["path"].as_str().unwrap().starts_with("/ok/3")),
        "{j}"
    );
    let first = j["exchanges"][0]["seq"].as_u64().unwrap();
    let (s, _, _) = get(&c, format!("{base}/__triage/api/exchanges/{}", first - 30)).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn pages_answer_only_loopback_hosts() {
    let up = fake_upstream().await;
    let p = proxy_with(
        config(&up.url(), &up.url()),
        pipeline(Arc::new(Monitor::default())),
    )
    .await;
    let evil = raw(
        p.addr,
        b"GET /__triage/api/exchanges HTTP/1.1\r\nHost: rebind.example:8787\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, _) = split_response(&evil);
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(
        head.contains("proxy-status: triage; error=http_request_denied;"),
        "triage's own refusal says so: {head}"
    );
    let ok = raw(
        p.addr,
        b"GET /__triage/api/exchanges HTTP/1.1\r\nHost: localhost:8787\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, _) = split_response(&ok);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(up.seen().is_empty());

    // --allow-remote: any host.
    let p2 = proxy_with(
        config(&up.url(), &up.url()),
        pipeline(Arc::new(Monitor::default().allow_remote(true))),
    )
    .await;
    let any = raw(
        p2.addr,
        b"GET /__triage/metrics HTTP/1.1\r\nHost: box.lan:8787\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, _) = split_response(&any);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn triage_answers_and_clients_that_left_say_so() {
    // Nothing listens at the login upstream: /oauth/token gets triage's own 502.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let slow = upstream(|_| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Response::new(full("late"))
    })
    .await;
    let p = proxy_with(
        config(&slow.url(), &dead_url),
        pipeline(Arc::new(Monitor::default())),
    )
    .await;
    let base = format!("http://{}", p.addr);
    let c = client();
    let r = c
        .post(format!("{base}/oauth/token"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    r.bytes().await.unwrap();
    // A client that gives up before the (slow) upstream answers.
    let gave_up = c
        .get(format!("{base}/api/v2/slow"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(gave_up.is_err());

    let list = wait_for(&c, &base, 2).await;
    let items = list["exchanges"].as_array().unwrap();
    let by_path = |p: &str| {
        items
            .iter()
            .find(|x| x["path"] == p)
            .unwrap_or_else(|| panic!("{p} not listed: {list}"))
            .clone()
    };
    let answered = by_path("/oauth/token");
    assert_eq!(answered["status"], Value::Null, "{answered}");
    assert_eq!(answered["triage_status"], 502, "{answered}");
    assert_eq!(answered["triage_error"], "connection_refused", "{answered}");
    assert!(
        answered["triage_detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{answered}"
    );
    assert_eq!(answered["client_gone"], false, "{answered}");
    assert_eq!(answered["cut_at_shutdown"], false, "{answered}");
    let left = by_path("/api/v2/slow");
    assert_eq!(left["triage_status"], Value::Null, "{left}");
    assert_eq!(left["client_gone"], true, "{left}");
    assert_eq!(left["cut_at_shutdown"], false, "{left}");

    // The detail says it in `triage explain`'s words, and its exchange as a recording has it.
    let d = detail(&c, &base, &left["seq"]).await;
    assert_eq!(
        d["outcome_text"], GONE_BEFORE,
        "outcome_text\n  expected: {GONE_BEFORE}\n       got: {}",
        d["outcome_text"]
    );
    assert_eq!(d["exchange"]["outcome"], "client-gone", "{d}");
    let d = detail(&c, &base, &answered["seq"]).await;
    assert_eq!(d["outcome_text"], Value::Null, "{d}");
    assert!(d["exchange"].get("outcome").is_none(), "{d}");
    assert_eq!(d["exchange"]["triage_answer"]["status"], 502, "{d}");
}

/// One exchange's detail from the API.
async fn detail(c: &reqwest::Client, base: &str, seq: &Value) -> Value {
    let (status, _, t) = get(c, format!("{base}/__triage/api/exchanges/{seq}")).await;
    assert_eq!(status, 200, "{t}");
    serde_json::from_str(&t).unwrap()
}

const GONE_BEFORE: &str = "the client disconnected before the API answered (client gone): the client never saw the API's response, and triage did not learn it";
const CUT_MID_BODY: &str = "cut when triage shut down (its drain deadline ran out before the response was complete): the client did not get all of this response";

/// A `/__triage` answer asked of the monitor itself, as JSON: after a shutdown the proxy no
/// longer listens, and what the shutdown cut is what is asked about.
fn ask(monitor: &Monitor, path: &str) -> Value {
    let (parts, ()) = http::Request::get(path)
        .header("host", "127.0.0.1:8787")
        .body(())
        .unwrap()
        .into_parts();
    let r = monitor.answer(&parts).expect("a triage page");
    assert_eq!(r.status(), 200, "{path}: {:?}", r.body());
    serde_json::from_slice(r.body()).unwrap()
}

#[tokio::test]
async fn an_exchange_cut_at_shutdown_says_so() {
    // A download whose first bytes come at once and whose rest would come after the shutdown's
    // grace: triage cuts it mid-body.
    let up = upstream(|_| async {
        let chunks = futures_util::stream::unfold(0, |i| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(30)).await;
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
    let monitor = Arc::new(Monitor::default());
    let mut cfg = config(&up.url(), &up.url());
    cfg.shutdown_grace = Duration::from_millis(200);
    let p = proxy_with(cfg, pipeline(monitor.clone())).await;
    let addr = p.addr;
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let call = tokio::spawn(async move {
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
        call.await.unwrap().is_err(),
        "the cut body ended in an error"
    );
    for _ in 0..100 {
        if !monitor.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let list = ask(&monitor, "/__triage/api/exchanges");
    let items = list["exchanges"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let x = &items[0];
    let got = (
        x["status"].clone(),
        x["triage_status"].clone(),
        x["client_gone"].clone(),
        x["cut_at_shutdown"].clone(),
    );
    let want = (Value::from(200), Value::Null, false.into(), true.into());
    assert_eq!(
        got, want,
        "(status, triage_status, client_gone, cut_at_shutdown)\n  expected: {want:?}\n       got: {got:?}"
    );
    let d = ask(&monitor, &format!("/__triage/api/exchanges/{}", x["seq"]));
    assert_eq!(
        d["outcome_text"], CUT_MID_BODY,
        "outcome_text\n  expected: {CUT_MID_BODY}\n       got: {}",
        d["outcome_text"]
    );
    assert_eq!(d["exchange"]["outcome"], "cut-at-shutdown", "{d}");
    assert_eq!(d["cut_at_shutdown"], true, "{d}");
}

/// The page's own words for how an exchange ended, run in node: the status column and the
/// failure filter treat a cut exchange as they treat one whose client left.
#[test]
fn the_page_shows_exchanges_cut_at_shutdown_as_it_shows_clients_that_left() {
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        if std::env::var_os("CI").is_some() {
            panic!("node is not on PATH (Debian: nodejs)");
        }
        common::skip_note("node is not on PATH (Debian: nodejs): the page's helpers are not run");
        return;
    }
    let page = triage::monitor::PAGE;
    let start = page.find("function failed(").expect("failed() in the page");
    let end = page
        .find("\nfunction visible(")
        .expect("visible() in the page");
    let helpers = &page[start..end];
    let cases = r#"[
      {"status":200,"triage_status":null,"client_gone":false,"cut_at_shutdown":true},
      {"status":null,"triage_status":null,"client_gone":false,"cut_at_shutdown":true},
      {"status":200,"triage_status":null,"client_gone":true,"cut_at_shutdown":false},
      {"status":null,"triage_status":null,"client_gone":true,"cut_at_shutdown":false},
      {"status":null,"triage_status":502,"triage_error":"connection_refused","client_gone":false,"cut_at_shutdown":false},
      {"status":200,"triage_status":null,"client_gone":false,"cut_at_shutdown":false}
    ]"#;
    let script = format!(
        "{helpers}\nconsole.log(JSON.stringify({cases}.map((x) => [statusText(x), failed(x), statusClass(x)])));"
    );
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = serde_json::json!([
        ["200 (cut at shutdown)", true, "s2"],
        ["cut at shutdown", true, "sgone"],
        ["200 (client left)", true, "s2"],
        ["client left", true, "sgone"],
        ["triage 502 connection_refused", true, "striage"],
        ["200", false, "s2"]
    ]);
    assert_eq!(
        got, want,
        "(status text, failed, class) per exchange\n  expected: {want}\n       got: {got}"
    );
}

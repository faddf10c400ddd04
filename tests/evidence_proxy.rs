//! Evidence and the catalog, live through the proxy: diagnoses that cite what the client's own
//! calls showed, notice retry loops and tokens used in the wrong region, and name operations.

mod common;

use std::sync::Arc;

use common::*;
use http::Response;
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::evidence::Store;
use triage::region::Region;
use triage::rules::RuleSet;

fn pipeline(region: Option<&'static str>) -> Pipeline {
    let engine = Arc::new(Engine::new(
        RuleSet::builtin().expect("built-in rules load"),
    ));
    let region = region.map(|r| Region::lookup(r).unwrap());
    Pipeline::new(
        engine,
        PipelineOptions {
            annotate_body: false,
            region,
            replay: false,
        },
    )
}

const CONFLICT: &str = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;

fn rules(h: &http::HeaderMap) -> Vec<String> {
    h.get("triage-rule")
        .map(|v| v.to_str().unwrap().split(", ").map(str::to_owned).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_send_after_a_get_that_showed_the_conversation_disconnected_cites_it() {
    let up = upstream(|seen| async move {
        if seen.method == http::Method::GET {
            return Response::builder()
                .header("content-type", "application/json")
                .body(full(r#"{"id":"c1","participants":[{"id":"p1","purpose":"customer","state":"disconnected"},{"id":"m1","purpose":"agent","state":"disconnected"}]}"#))
                .unwrap();
        }
        Response::builder().status(409).body(full(CONFLICT)).unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline(None))).await;
    let c = client();
    let r = c
        .get(format!(
            "http://{}/api/v2/conversations/messages/c1",
            p.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_no_header(r.headers(), "triage-rule");
    let r = c
        .post(format!(
            "http://{}/api/v2/conversations/messages/c1/communications/m1/messages",
            p.addr
        ))
        .body(r#"{"textBody":"hello"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(rules(r.headers())[0], "conversation-closed");
    let cause = r.headers()["triage-cause"].to_str().unwrap();
    assert!(
        cause.starts_with("The send into conversation c1 was refused with 409 request.conflict, and triage saw the conversation disconnected ")
            && cause.contains(" s ago (by GET /api/v2/conversations/messages/c1)"),
        "{cause}"
    );
    assert_header(
        r.headers(),
        "triage-operation",
        "postConversationsMessageCommunicationMessages",
    );
}

#[tokio::test]
async fn a_send_refused_although_seen_connected_says_so() {
    let up = upstream(|seen| async move {
        if seen.method == http::Method::GET {
            return Response::new(full(r#"{"id":"c2","participants":[{"id":"p1","purpose":"customer","state":"connected"},{"id":"m2","purpose":"agent","state":"connected"}]}"#));
        }
        Response::builder().status(409).body(full(CONFLICT)).unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline(None))).await;
    let c = client();
    c.get(format!(
        "http://{}/api/v2/conversations/messages/c2",
        p.addr
    ))
    .send()
    .await
    .unwrap();
    let r = c
        .post(format!(
            "http://{}/api/v2/conversations/messages/c2/communications/m2/messages",
            p.addr
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    let cause = r.headers()["triage-cause"].to_str().unwrap();
    assert!(
        cause.contains("yet triage saw the conversation connected"),
        "{cause}"
    );
    assert!(r.headers()["triage-fix"]
        .to_str()
        .unwrap()
        .starts_with("Read the current state first"));
}

#[tokio::test]
async fn three_identical_failures_are_a_retry_loop() {
    let up = upstream(|_| async {
        Response::builder()
            .status(409)
            .body(full(CONFLICT))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline(None))).await;
    let c = client();
    let send = || {
        c.post(format!(
            "http://{}/api/v2/conversations/messages/c3/communications/m3/messages",
            p.addr
        ))
        .header("authorization", "Bearer same-token")
        .body(r#"{"textBody":"again"}"#)
        .send()
    };
    let first = send().await.unwrap();
    assert!(!rules(first.headers()).contains(&"retry-loop".to_owned()));
    send().await.unwrap();
    let third = send().await.unwrap();
    assert_eq!(
        rules(third.headers()),
        vec!["conversation-closed", "retry-loop"]
    );
    // A different body is a different request: no loop.
    let other = c
        .post(format!(
            "http://{}/api/v2/conversations/messages/c3/communications/m3/messages",
            p.addr
        ))
        .header("authorization", "Bearer same-token")
        .body(r#"{"textBody":"changed"}"#)
        .send()
        .await
        .unwrap();
    assert!(!rules(other.headers()).contains(&"retry-loop".to_owned()));
}

#[tokio::test]
async fn a_token_from_one_regions_login_rejected_by_anothers_api_is_wrong_region() {
    let login_ie = upstream(|_| async {
        Response::new(full(
            r#"{"access_token":"tok-from-ireland","token_type":"bearer","expires_in":86399}"#,
        ))
    })
    .await;
    let api_us = upstream(|_| async {
        Response::builder()
            .status(401)
            .body(full(
                r#"{"message":"Invalid login credentials.","code":"bad.credentials","status":401}"#,
            ))
            .unwrap()
    })
    .await;
    // One process, one memory: triage in front of eu-west-1 issued the token, triage in front
    // of us-east-1 sees it refused.
    let store = Arc::new(Store::default());
    let ie = proxy_with(
        config(&login_ie.url(), &login_ie.url()),
        Arc::new(pipeline(Some("eu-west-1")).with_evidence(store.clone())),
    )
    .await;
    let us = proxy_with(
        config(&api_us.url(), &api_us.url()),
        Arc::new(pipeline(Some("us-east-1")).with_evidence(store)),
    )
    .await;
    let c = client();
    let r = c
        .post(format!("http://{}/oauth/token", ie.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", "Basic aWQ6c2VjcmV0")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("http://{}/api/v2/users/me", us.addr))
        .header("authorization", "Bearer tok-from-ireland")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(rules(r.headers())[0], "wrong-region", "{:?}", r.headers());
    let cause = r.headers()["triage-cause"].to_str().unwrap();
    assert!(
        cause.contains("region us-east-1") && cause.contains("(region eu-west-1)"),
        "{cause}"
    );
    assert!(!cause.contains("tok-from-ireland"));
    assert!(r.headers()["triage-fix"]
        .to_str()
        .unwrap()
        .contains("triage proxy --region eu-west-1"));
}

#[tokio::test]
async fn an_invented_path_and_a_wrong_method_are_told_apart_by_the_catalog() {
    let up = upstream(|_| async {
        Response::builder().status(404).body(full(r#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#)).unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline(None))).await;
    let c = client();
    let r = c
        .post(format!(
            "http://{}/api/v2/conversations/messages/c-1/participantz",
            p.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(rules(r.headers()), vec!["unknown-endpoint"]);
    assert!(
        r.headers()["triage-fix"]
            .to_str()
            .unwrap()
            .contains("patchConversationsMessageParticipant"),
        "{:?}",
        r.headers()
    );

    let r = c
        .put(format!(
            "http://{}/api/v2/conversations/messages/agentless",
            p.addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(rules(r.headers()), vec!["unknown-endpoint"]);
    let cause = r.headers()["triage-cause"].to_str().unwrap();
    assert!(
        cause.contains("is a real path") && cause.contains("no PUT operation"),
        "{cause}"
    );
    assert!(r.headers()["triage-fix"]
        .to_str()
        .unwrap()
        .contains("POST /api/v2/conversations/messages/agentless"));

    // A real operation answering 404 (the conversation does not exist) is not an unknown endpoint.
    let r = c
        .get(format!(
            "http://{}/api/v2/conversations/messages/c-404",
            p.addr
        ))
        .send()
        .await
        .unwrap();
    assert!(!rules(r.headers()).contains(&"unknown-endpoint".to_owned()));
}

#[tokio::test]
async fn a_403_names_the_operation_and_what_it_requires() {
    let up = upstream(|_| async {
        Response::builder()
            .status(403)
            .body(full(r#"{"message":"Unable to perform the requested action. You are missing the following permission(s): [conversation:message:create]","code":"missing.permissions","status":403,"messageParams":{"permissions":"conversation:message:create"}}"#))
            .unwrap()
    })
    .await;
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(pipeline(None))).await;
    let r = client()
        .post(format!(
            "http://{}/api/v2/conversations/messages/agentless",
            p.addr
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(rules(r.headers())[0], "missing-permission");
    assert_header(
        r.headers(),
        "triage-operation",
        "postConversationsMessagesAgentless",
    );
    let cause = r.headers()["triage-cause"].to_str().unwrap();
    assert!(cause.ends_with("The API catalog says postConversationsMessagesAgentless requires permissions: all of: conversation:message:create; accepted OAuth scopes: conversations."), "{cause}");
}

/// The API's answer to a call for a scope the token lacks.
fn scope_refusal() -> Response<Body> {
    Response::builder()
        .status(403)
        .body(full(r#"{"message":"App not authorized to use scope [conversations]","code":"app.not.authorized.for.scope","status":403}"#))
        .unwrap()
}

/// A proxy with `--probe-token` in front of `up`.
async fn probing_proxy(up: &Upstream) -> triage::proxy::server::ProxyHandle {
    let cfg = config(&up.url(), &up.url());
    let upstream_client = triage::proxy::upstream::build(&cfg).unwrap();
    let prober = triage::diagnose::probe::Prober::new(upstream_client, cfg.api.clone());
    proxy_with(cfg, Arc::new(pipeline(None).with_prober(prober))).await
}

/// An agentless send with `token`, through `p`.
fn send_with(
    c: &reqwest::Client,
    p: &triage::proxy::server::ProxyHandle,
    token: &str,
) -> reqwest::RequestBuilder {
    c.post(format!(
        "http://{}/api/v2/conversations/messages/agentless",
        p.addr
    ))
    .header("authorization", format!("Bearer {token}"))
    .body("{}")
}

/// The probes `up` was asked.
fn probes(up: &Upstream) -> Vec<Seen> {
    up.seen()
        .into_iter()
        .filter(|s| s.uri == "/api/v2/tokens/me")
        .collect()
}

#[tokio::test]
async fn probe_token_asks_tokens_me_once_and_the_diagnosis_cites_the_scopes() {
    let up = upstream(|seen| async move {
        if seen.uri == "/api/v2/tokens/me" {
            return Response::new(full(r#"{"organization":{"id":"o1","name":"Acme"},"OAuthClient":{"id":"c1","name":"Outreach bot"},"authorizedScope":["users:readonly","analytics"]}"#));
        }
        scope_refusal()
    })
    .await;
    let p = probing_proxy(&up).await;
    let c = client();
    // The first failure of a new token waits for the probe, and cites it; so does the next.
    for attempt in ["first", "second"] {
        let r = send_with(&c, &p, "code-grant-token").send().await.unwrap();
        assert_eq!(rules(r.headers())[0], "missing-scope", "{attempt} call");
        let cause = r.headers()["triage-cause"].to_str().unwrap();
        assert!(
            cause.contains(
                "The token's authorized scopes (GET /api/v2/tokens/me) are: users:readonly, analytics."
            ),
            "{attempt} call: {cause}"
        );
    }
    let probes = probes(&up);
    assert_eq!(probes.len(), 1, "one probe per token");
    assert_eq!(probes[0].method, http::Method::GET);
    assert!(probes[0].headers["user-agent"]
        .to_str()
        .unwrap()
        .contains("--probe-token"));
}

#[tokio::test]
async fn probe_token_failures_arriving_together_all_wait_for_the_one_probe() {
    let up = upstream(|seen| async move {
        if seen.uri == "/api/v2/tokens/me" {
            // Slow enough that the other failures arrive while the probe is out.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            return Response::new(full(r#"{"authorizedScope":["users:readonly"]}"#));
        }
        scope_refusal()
    })
    .await;
    let p = probing_proxy(&up).await;
    let c = client();
    let calls = (0..4).map(|_| send_with(&c, &p, "one-new-token-for-all").send());
    for (i, r) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        let r = r.unwrap();
        let cause = r.headers()["triage-cause"].to_str().unwrap();
        assert!(
            cause.contains(
                "The token's authorized scopes (GET /api/v2/tokens/me) are: users:readonly."
            ),
            "call {i}: {cause}"
        );
    }
    assert_eq!(probes(&up).len(), 1, "one probe per token");
}

#[tokio::test]
async fn probe_token_that_fails_leaves_the_failure_diagnosed_without_it() {
    let up = upstream(|seen| async move {
        if seen.uri == "/api/v2/tokens/me" {
            return Response::builder()
                .status(500)
                .body(full(r#"{"status":500}"#))
                .unwrap();
        }
        scope_refusal()
    })
    .await;
    let p = probing_proxy(&up).await;
    let started = std::time::Instant::now();
    let r = send_with(&client(), &p, "a-token-the-probe-cannot-read")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(rules(r.headers())[0], "missing-scope");
    let cause = r.headers()["triage-cause"].to_str().unwrap();
    assert!(
        cause.contains("any one of these would do: conversations.")
            && !cause.contains("authorized scopes"),
        "{cause}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "a failed probe ends the wait: took {:?}",
        started.elapsed()
    );
}

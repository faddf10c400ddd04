//! The API's own catalog: fetched from the upstream's `GET /api/v2/docs/swagger`, cached on disk
//! with its date, read back from the cache; and the built-in fallback when it cannot be had.

mod common;

use std::time::Duration;

use common::*;
use http::{Method, Response};
use triage::catalog::{fetch, Lookup, Source};

const SPEC: &str = r#"{"swagger":"2.0","paths":{"/api/v2/users/{userId}":{"get":{"operationId":"getUser","security":[{"PureCloud OAuth":["users","users:readonly"]}],"x-inin-requires-permissions":{"type":"ANY","permissions":["directory:user:view"]}}}}}"#;

#[tokio::test]
async fn the_upstreams_document_is_fetched_cached_and_read_back() {
    let up = upstream(|seen| async move {
        if seen.uri == "/api/v2/docs/swagger" {
            Response::new(full(SPEC))
        } else {
            Response::builder().status(404).body(full("{}")).unwrap()
        }
    })
    .await;
    let cfg = config(&up.url(), &up.url());
    let client = triage::proxy::upstream::build(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = fetch::cache_file(dir.path(), &cfg.api);

    let c = fetch::fetch(&client, &cfg.api, &file, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(c.source, Source::Upstream { .. }),
        "{:?}",
        c.source
    );
    assert!(
        matches!(c.lookup(&Method::GET, "/api/v2/users/u-123"), Lookup::Found { op, .. } if op.id == "getUser")
    );
    assert!(file.exists(), "cached at {}", file.display());

    let plan = fetch::Plan {
        spec: None,
        cache_dir: dir.path().to_owned(),
        max_age: Duration::from_secs(3600),
        fetch: true,
    };
    let (cached, fetch_later) = fetch::initial(&plan, &cfg.api).unwrap();
    assert!(!fetch_later, "a fresh cache needs no fetch");
    assert_eq!(cached.len(), 1);
    assert!(
        cached
            .source
            .to_string()
            .contains("/api/v2/docs/swagger (fetched "),
        "{}",
        cached.source
    );

    let stale = fetch::Plan {
        max_age: Duration::ZERO,
        ..plan
    };
    std::thread::sleep(Duration::from_millis(10));
    let (c, fetch_later) = fetch::initial(&stale, &cfg.api).unwrap();
    assert!(fetch_later, "a stale cache is refreshed");
    assert_eq!(
        c.source,
        Source::Builtin,
        "until then the built-in catalog answers"
    );
}

#[tokio::test]
async fn an_upstream_without_the_document_leaves_the_builtin_catalog() {
    let up =
        upstream(|_| async { Response::builder().status(404).body(full("{}")).unwrap() }).await;
    let cfg = config(&up.url(), &up.url());
    let client = triage::proxy::upstream::build(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shared = std::sync::Arc::new(fetch::Shared::new(triage::catalog::load::builtin()));
    fetch::refresh(
        shared.clone(),
        client,
        cfg.api.clone(),
        dir.path().to_owned(),
    )
    .await;
    assert_eq!(shared.get().source, Source::Builtin);
    assert!(!fetch::cache_file(dir.path(), &cfg.api).exists());
}

#[test]
fn a_spec_file_wins_over_cache_and_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, SPEC).unwrap();
    let api = triage::proxy::UpstreamUrl::parse("https://api.mypurecloud.ie").unwrap();
    let plan = fetch::Plan {
        spec: Some(spec),
        cache_dir: dir.path().to_owned(),
        max_age: Duration::from_secs(60),
        fetch: true,
    };
    let (c, fetch_later) = fetch::initial(&plan, &api).unwrap();
    assert!(!fetch_later);
    assert!(matches!(c.source, Source::File(_)));
}

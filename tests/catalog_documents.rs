//! The catalog loader against the real documents in ../shared/genesys. Where that folder is
//! absent (a user's own clone), the tests say so and pass; CI has it.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use http::Method;
use triage::catalog::{load, Lookup};

fn shared(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/genesys")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        common::skip_note(&format!("{} is absent (CI has it)", p.display()));
        None
    }
}

fn peak_rss_kib() -> Option<u64> {
    common::peak_rss().map(|b| b / 1024)
}

#[test]
fn the_2026_operations_catalog_loads_fast_and_small() {
    let Some(p) = shared("platform-operations-catalog-2026-02.json") else {
        return;
    };
    let before = peak_rss_kib();
    let t = Instant::now();
    let c = load::from_file(&p).unwrap();
    let took = t.elapsed();
    assert_eq!(c.len(), 2657);
    // Debug builds are several times slower than release; the bound is for both.
    assert!(took.as_secs_f64() < 3.0, "loading took {took:?}");
    if let (Some(b), Some(a)) = (before, peak_rss_kib()) {
        assert!(
            a.saturating_sub(b) < 64 * 1024,
            "peak RSS grew by {} KiB",
            a - b
        );
    }
    match c.lookup(&Method::POST, "/api/v2/conversations/messages/agentless") {
        Lookup::Found { op, .. } => {
            assert_eq!(op.id, "postConversationsMessagesAgentless");
            assert_eq!(op.scopes_text(), "conversations");
            assert_eq!(
                op.permissions_text(),
                "unknown",
                "that catalog's requiredPermissions are scopes, not permissions"
            );
        }
        other => panic!("{other:?}"),
    }
    let invented = c.lookup(
        &Method::POST,
        "/api/v2/conversations/messaging/participants",
    );
    assert!(matches!(invented, Lookup::NotFound), "{invented:?}");
    assert!(c
        .nearest(&Method::PUT, "/api/v2/communications/guests/abc", 3)
        .iter()
        .all(|o| !o.path.starts_with("/api/v2/communications")));
}

#[test]
fn the_guest_chat_swagger_carries_error_codes() {
    let Some(p) = shared("guest-chat-swagger-2025-11.json") else {
        return;
    };
    let c = load::from_file(&p).unwrap();
    assert_eq!(c.len(), 11);
    let op = c.get("postWebchatGuestConversations").unwrap();
    assert!(op.deprecated);
    assert!(
        op.error_codes
            .iter()
            .any(|(s, code, _)| *s == 409 && code == "request.conflict"),
        "{:?}",
        op.error_codes
    );
    assert!(op
        .error_codes
        .iter()
        .any(|(s, code, _)| *s == 403 && code == "app.not.authorized.for.scope"));
}

#[test]
fn the_2018_swagger_carries_permissions() {
    let Some(p) = shared("platform-swagger-2018-03-legacy.json") else {
        return;
    };
    let t = Instant::now();
    let c = load::from_file(&p).unwrap();
    assert!(t.elapsed().as_secs_f64() < 3.0);
    assert!(c.len() > 600, "{}", c.len());
    let op = c
        .operations()
        .iter()
        .find(|o| {
            o.path == "/api/v2/alerting/interactionstats/rules/{ruleId}" && o.method == Method::GET
        })
        .unwrap();
    assert_eq!(op.permissions_text(), "any of: alerting:rule:view");
    assert_eq!(
        op.scopes_text(),
        "unknown",
        "the 2018 document's only scope is the catch-all `all`"
    );
    assert!(matches!(
        c.lookup(&Method::PATCH, "/api/v2/alerting/interactionstats/rules/r1"),
        Lookup::WrongMethod { .. } | Lookup::Found { .. }
    ));
}

#[test]
fn the_builtin_catalog_agrees_with_the_messaging_table() {
    let Some(p) = shared("messaging-operations.tsv") else {
        return;
    };
    let c = load::builtin();
    let tsv = std::fs::read_to_string(p).unwrap();
    let mut n = 0;
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let op = c
            .get(f[2])
            .unwrap_or_else(|| panic!("built-in catalog lacks {}", f[2]));
        assert_eq!((op.method.as_str(), op.path.as_str()), (f[1], f[0]));
        if f[6] == "ALL" || f[6] == "ANY" {
            assert!(
                op.permissions_text().ends_with(&f[7].replace(',', ", ")),
                "{}: {} vs {}",
                f[2],
                op.permissions_text(),
                f[7]
            );
        }
        n += 1;
    }
    assert_eq!(n, c.len());
}

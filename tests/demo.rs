//! `triage demo` as a test: the story runs to the end through the proxy, every call answers the
//! status the story expects and carries the diagnoses it should, and both servers are gone
//! afterwards.

use triage::cli::demo::{default_inspector, play};

#[tokio::test]
async fn demo_plays_the_story() {
    let mut out = Vec::new();
    let summary = play(&mut out, false, default_inspector().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();

    let statuses: Vec<u16> = summary.steps.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [200, 200, 409, 404, 404, 404, 409, 202], "{text}");
    assert!(summary.statuses_as_expected());

    let codes: Vec<Option<&str>> = summary.steps.iter().map(|s| s.code.as_deref()).collect();
    assert_eq!(
        codes,
        [
            None,
            None,
            Some("request.conflict"),
            Some("not.found"),
            Some("not.found"),
            Some("not.found"),
            Some("request.conflict"),
            None
        ]
    );
    let paths: Vec<&str> = summary.steps.iter().map(|s| s.path.as_str()).collect();
    assert!(paths[3].starts_with("/api/v2/communications/guests/"));
    assert_eq!(paths[4], "/api/v2/conversations/messaging/participants");
    assert_eq!(paths[5], "/api/v2/oauth/token");
    assert_eq!(paths[7], "/api/v2/conversations/messages/agentless");

    // triage names each failure with the expected rules, best first, and nothing on successes.
    let rules: Vec<Vec<&str>> = summary
        .steps
        .iter()
        .map(|s| s.rules.iter().map(String::as_str).collect())
        .collect();
    let expected: Vec<Vec<&str>> = vec![
        vec![],
        vec![],
        vec!["conversation-closed"],
        vec!["recontact-disabled", "unknown-endpoint"],
        vec!["recontact-disabled", "unknown-endpoint"],
        vec!["unknown-endpoint", "invented-scope"],
        vec!["conversation-closed"],
        vec![],
    ];
    assert_eq!(rules, expected, "{text}");
    assert!(summary.rules_as_expected());
    // The closed-conversation diagnosis cites the client's own GET of step 2.
    let cause = summary.steps[2].cause.as_deref().unwrap();
    assert!(
        cause.contains("triage saw the conversation disconnected")
            && cause.contains("(by GET /api/v2/conversations/messages/"),
        "{cause}"
    );

    // Plain when not a terminal: no escape codes.
    assert!(!text.contains('\x1b'), "{text}");
    for line in [
        "[1/8] Log in with client credentials",
        "[8/8] The real fix: an agentless message",
        "-> 409 Conflict  request.conflict",
        "-> 202 Accepted",
        "scope=messaging:conversation:write",
        "triage: conversation-closed",
        "triage: recontact-disabled, unknown-endpoint",
        "triage: unknown-endpoint, invented-scope",
        "Summary",
        "the agentless send succeeded",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // Both servers are down: their ports refuse connections.
    for addr in [summary.proxy_addr.unwrap(), summary.simulator_addr.unwrap()] {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still open"
        );
    }
}

#[tokio::test]
async fn demo_colours_only_when_asked() {
    let mut out = Vec::new();
    play(&mut out, true, default_inspector().unwrap())
        .await
        .unwrap();
    assert!(String::from_utf8(out).unwrap().contains("\x1b[1m"));
}

#[test]
fn demo_binary_exits_zero_and_leaves_nothing_behind() {
    let exe = env!("CARGO_BIN_EXE_triage");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(exe)
        .arg("demo")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Summary"), "{stdout}");
    // The process has exited, so its listeners are closed by construction; the in-process
    // shutdown path is what `play` returning (above) proves.
}

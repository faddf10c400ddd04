//! The binary as a user runs it: flags, errors and exit codes.

mod common;

use common::run_triage as triage;

#[test]
fn unknown_region_is_an_error_listing_the_valid_ones() {
    let (code, _, err) = triage(&["proxy", "--region", "mypurecloud.fr"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown region \"mypurecloud.fr\""), "{err}");
    for r in [
        "mypurecloud.ie (eu-west-1)",
        "mypurecloud.com (us-east-1)",
        "apne3.pure.cloud (ap-northeast-3)",
    ] {
        assert!(err.contains(r), "missing {r} in: {err}");
    }
}

#[test]
fn non_loopback_listen_is_refused_without_allow_remote() {
    let (code, _, err) = triage(&[
        "proxy",
        "--listen",
        "0.0.0.0:0",
        "--api-upstream",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--allow-remote"), "{err}");
}

#[test]
fn bad_upstream_url_and_bad_sizes_are_clear_errors() {
    let (code, _, err) = triage(&["proxy", "--api-upstream", "ftp://x"]);
    assert_eq!(code, 2);
    assert!(err.contains("only http and https"), "{err}");
    let (code, _, err) = triage(&["proxy", "--inspect-limit", "lots"]);
    assert_ne!(code, 0);
    assert!(err.contains("is not a size"), "{err}");
}

#[test]
fn proxy_help_names_every_flag_and_its_env_var() {
    let (code, out, _) = triage(&["proxy", "--help"]);
    assert_eq!(code, 0);
    for f in [
        "--listen",
        "--allow-remote",
        "--region",
        "--api-upstream",
        "--login-upstream",
        "--ca-file",
        "--tls",
        "--inspect-limit",
        "--connect-timeout",
        "--response-timeout",
        "--idle-timeout",
        "TRIAGE_REGION",
    ] {
        assert!(out.contains(f), "--help lacks {f}:\n{out}");
    }
}

#[test]
fn certs_writes_the_ca_and_the_localhost_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = triage(&["certs", "--dir", d]);
    assert_eq!(code, 0, "{err}");
    for f in [
        "triage-ca.pem",
        "triage-ca.key",
        "localhost.pem",
        "localhost.key",
    ] {
        assert!(dir.path().join(f).exists(), "{f} missing; output: {out}");
    }
    let (code, _, err) = triage(&["certs", "--dir", d]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
}

#[test]
fn ops_show_and_search_print_what_an_operation_needs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out2, err) = triage(&[
        "ops",
        "--cache-dir",
        d,
        "show",
        "POST",
        "/api/v2/conversations/messages/c-1/communications/m-1/messages",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out2.contains("postConversationsMessageCommunicationMessages"),
        "{out2}"
    );
    assert!(
        out2.contains("any of: conversation:message:create, conversation:webmessaging:create"),
        "{out2}"
    );
    assert!(
        out2.contains("matched with conversationId=c-1, communicationId=m-1"),
        "{out2}"
    );

    let (code, out, _) = triage(&[
        "ops",
        "--cache-dir",
        d,
        "show",
        "PUT",
        "/api/v2/conversations/messages/agentless",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "PUT is not an operation of /api/v2/conversations/messages/agentless; it has: POST"
        ),
        "{out}"
    );

    let (code, out, _) = triage(&[
        "ops",
        "--cache-dir",
        d,
        "show",
        "PUT",
        "/api/v2/communications/guests/abc",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("no operation PUT /api/v2/communications/guests/abc"),
        "{out}"
    );

    let (code, out, _) = triage(&["ops", "--cache-dir", d, "search", "agentless"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("postConversationsMessagesAgentless") && out.contains("1 operation(s)"),
        "{out}"
    );
}

//! The binary as a user runs it: flags, errors and exit codes.

mod common;

use common::run_triage as triage;
use common::run_triage_env as triage_env;

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
fn a_misspelt_region_is_answered_with_the_nearest_one_and_the_list() {
    for (typed, meant) in [
        ("mypurecloud.iee", "mypurecloud.ie (eu-west-1)"),
        ("eu-wset-1", "mypurecloud.ie (eu-west-1)"),
    ] {
        let (code, _, err) = triage(&["proxy", "--region", typed]);
        assert_eq!(code, 2, "--region {typed}: exit 2 expected\n{err}");
        let want = format!("unknown region {typed:?}; did you mean {meant}? valid regions are: ");
        assert!(
            err.contains(&want),
            "--region {typed}\n  expected: {want}...\n       got: {err}"
        );
        assert!(
            err.contains("apne3.pure.cloud (ap-northeast-3)"),
            "--region {typed}: the list of valid regions is gone: {err}"
        );
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
    // The regions, which a dns_error's fix sends the user here to read.
    for r in [
        "Regions (--region takes the domain or the id):",
        "mypurecloud.ie           eu-west-1",
        "apne3.pure.cloud         ap-northeast-3",
    ] {
        assert!(out.contains(r), "--help lacks {r:?}:\n{out}");
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

    // Method and path quoted as one argument, as copied from a log line.
    let (code, one, err) = triage(&[
        "ops",
        "--cache-dir",
        d,
        "show",
        "POST /api/v2/conversations/messages/c-1/communications/m-1/messages",
    ]);
    assert_eq!(
        code, 0,
        "exit code\n  expected: 0\n       got: {code}\n{one}{err}"
    );
    assert_eq!(
        one, out2,
        "one argument\n  expected: as two arguments\n       got: {one}"
    );

    let (code, out, _) = triage(&["ops", "--cache-dir", d, "search", "agentless"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("postConversationsMessagesAgentless") && out.contains("1 operation(s)"),
        "{out}"
    );
}

#[test]
fn upstream_with_credentials_is_refused_without_echoing_them() {
    let url = "http://user:PW@127.0.0.1:19101";
    for (env, args) in [
        (vec![], vec!["proxy", "--api-upstream", url]),
        (vec![], vec!["proxy", "--login-upstream", url]),
        (vec![("TRIAGE_API_UPSTREAM", url)], vec!["proxy"]),
    ] {
        let (code, out, err) = triage_env(&env, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("credentials in the URL") && err.contains("not supported"),
            "{err}"
        );
        assert!(err.contains("own Authorization"), "{err}");
        assert!(
            !err.contains("PW") && !out.contains("PW"),
            "password echoed: {err}"
        );
    }
    // Nor does --help show it from the environment.
    let (code, out, _) = triage_env(&[("TRIAGE_API_UPSTREAM", url)], &["proxy", "--help"]);
    assert_eq!(code, 0);
    assert!(!out.contains("PW"), "{out}");
}

#[test]
fn upstream_port_that_is_no_tcp_port_is_an_argument_error() {
    for url in ["http://127.0.0.1:99999", "http://127.0.0.1:http"] {
        let (code, _, err) = triage(&["proxy", "--api-upstream", url]);
        assert_eq!(code, 2, "{url}: {err}");
        assert!(err.contains("is not a TCP port (1-65535)"), "{err}");
    }
}

#[test]
fn listen_refuses_host_names_other_than_localhost() {
    let (code, _, err) = triage(&["proxy", "--listen", "example.com:8787"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("localhost:PORT"), "{err}");
}

#[test]
fn port_in_use_names_the_os_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let os_error = std::net::TcpListener::bind(&addr).unwrap_err().to_string();
    let (code, _, err) = triage(&[
        "proxy",
        "--listen",
        &addr,
        "--api-upstream",
        "http://127.0.0.1:9",
        "--no-spec-fetch",
        "--cache-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert_eq!(err.matches(&os_error).count(), 1, "{err}");
    // What to do about it, not only what the OS said.
    assert!(
        err.contains("choose another port with --listen 127.0.0.1:PORT"),
        "{err}"
    );

    // With --log-format json, the line that says why triage stopped is JSON too, and it is
    // written even when RUST_LOG silences everything.
    let (code, _, err) = triage_env(
        &[("RUST_LOG", "off")],
        &[
            "--log-format",
            "json",
            "proxy",
            "--listen",
            &addr,
            "--api-upstream",
            "http://127.0.0.1:9",
            "--no-spec-fetch",
            "--cache-dir",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    let last: serde_json::Value = serde_json::from_str(err.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the last line is not JSON ({e}):\n{err}"));
    assert_eq!(last["level"], "ERROR", "{err}");
    assert!(
        last["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("cannot listen on {addr}"))),
        "{err}"
    );
    assert!(
        err.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "a line is not JSON:\n{err}"
    );
}

#[test]
fn max_connections_of_zero_is_refused() {
    let (code, _, err) = triage(&["proxy", "--max-connections", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must be at least 1"), "{err}");
}

#[test]
fn on_off_environment_variables_take_1_0_yes_no_on_off() {
    let vars = [
        "TRIAGE_ALLOW_REMOTE",
        "TRIAGE_TLS",
        "TRIAGE_ANNOTATE_BODY",
        "TRIAGE_KEEP_CONTENT",
        "TRIAGE_NO_DASHBOARD",
        "TRIAGE_PROBE_TOKEN",
        "TRIAGE_NO_SPEC_FETCH",
        "TRIAGE_NO_BUILTIN_RULES",
    ];
    // An unknown region fails after the arguments parsed: reaching it means the value was taken.
    for var in vars {
        for value in ["1", "0", "yes", "no", "on", "off", "true", "FALSE"] {
            let (code, _, err) = triage_env(&[(var, value)], &["proxy", "--region", "nowhere"]);
            assert_eq!(code, 2, "{var}={value}: {err}");
            assert!(err.contains("unknown region"), "{var}={value}: {err}");
        }
        let (code, _, err) = triage_env(&[(var, "maybe")], &["proxy", "--region", "nowhere"]);
        assert_eq!(code, 2, "{var}=maybe: {err}");
        let flag = format!(
            "--{}",
            var["TRIAGE_".len()..]
                .to_ascii_lowercase()
                .replace('_', "-")
        );
        let want = format!(
            "error: invalid value \"maybe\" in {var} ({flag}): an on/off variable takes 1, true, \
             yes or on for on, and 0, false, no or off for off\n"
        );
        assert!(
            err.starts_with(&want),
            "{var}=maybe\n  expected: {want}\n       got: {err}"
        );
    }
    // The flag alone still means on.
    let (code, _, err) = triage(&["proxy", "--no-dashboard", "--region", "nowhere"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown region"), "{err}");
    // And the value is the one given: `0` leaves a non-loopback address refused.
    let (code, _, err) = triage_env(
        &[("TRIAGE_ALLOW_REMOTE", "0")],
        &[
            "proxy",
            "--listen",
            "0.0.0.0:0",
            "--api-upstream",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-remote"), "{err}");
}

/// A `triage` process running in the background, its stderr collected line by line.
#[cfg(unix)]
struct Running {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _cache: tempfile::TempDir,
}

#[cfg(unix)]
impl Running {
    /// `triage --log-format json proxy ARGS` with no catalog fetch and a throwaway cache.
    fn proxy(env: &[(&str, &str)], args: &[&str]) -> Running {
        use std::io::BufRead;
        let cache = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
            .envs(env.iter().copied())
            .args([
                "--log-format",
                "json",
                "proxy",
                "--no-spec-fetch",
                "--cache-dir",
            ])
            .arg(cache.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(line);
            }
        });
        Running {
            child,
            lines,
            _cache: cache,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The first JSON log line whose message is `message`, waiting up to 20 s for it.
    fn wait_for(&self, message: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let found = self.lines().iter().find_map(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .filter(|v| v["message"] == message)
            });
            if let Some(v) = found {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {message:?} within 20 s:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let ok = std::process::Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {name}");
    }

    /// The exit code, if the process ends within `within`.
    fn exit_within(&mut self, within: std::time::Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

#[cfg(unix)]
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
#[test]
fn json_log_format_writes_only_json_lines_and_localhost_listens_on_loopback() {
    let mut p = Running::proxy(
        &[],
        &[
            "--listen",
            "localhost:0",
            "--api-upstream",
            "http://127.0.0.1:9",
        ],
    );
    let ready = p.wait_for("triage proxy ready: point your SDK at the listen address");
    let listen = ready["listen"].as_str().unwrap().to_owned();
    assert!(listen.starts_with("http://127.0.0.1:"), "{ready}");
    let dashboard = p.wait_for("triage dashboard");
    assert_eq!(dashboard["url"], format!("{listen}/__triage/"));
    p.signal("INT");
    assert_eq!(p.exit_within(std::time::Duration::from_secs(20)), Some(0));
    for line in p.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
            "not JSON: {line}"
        );
    }
}

#[cfg(unix)]
#[test]
fn no_dashboard_from_the_environment_turns_the_dashboard_off() {
    let mut p = Running::proxy(
        &[("TRIAGE_NO_DASHBOARD", "1")],
        &[
            "--listen",
            "127.0.0.1:0",
            "--api-upstream",
            "http://127.0.0.1:9",
        ],
    );
    p.wait_for("triage proxy ready: point your SDK at the listen address");
    p.signal("TERM");
    assert_eq!(p.exit_within(std::time::Duration::from_secs(20)), Some(0));
    assert!(
        !p.lines().iter().any(|l| l.contains("triage dashboard")),
        "{:?}",
        p.lines()
    );
}

const TEAPOT_RULE: &str = r#"version = 1

[[rules]]
id = "teapot"
title = "A teapot"
severity = "info"
sources = ["TEST"]
cause = "The upstream is a teapot ({code})."
fix = "Ask a coffee pot."
when = { status = 418, response_body = { path = "code", capture = "code" } }

[[rules.examples]]
name = "hit"
expect = "match"
cause = "The upstream is a teapot (teapot)."
fix = "Ask a coffee pot."
request = { method = "GET", path = "/api/v2/x" }
response = { status = 418, body = '{"code":"teapot"}' }

[[rules.examples]]
name = "miss"
expect = "no-match"
request = { method = "GET", path = "/api/v2/x" }
response = { status = 418 }
"#;

/// The `Triage-Rule` header of a GET through the proxy at `listen` (`http://…`), if any.
#[cfg(unix)]
fn triage_rule_of_a_call(listen: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(listen.trim_start_matches("http://")).unwrap();
    c.write_all(b"GET /api/v2/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert!(got.starts_with("HTTP/1.1 418"), "{got}");
    got.lines()
        .find_map(|l| l.strip_prefix("triage-rule: "))
        .map(str::to_owned)
}

/// SIGHUP reloads the rules, as daemons do: a rule added while the proxy runs diagnoses the
/// next call, and rules that do not load leave those in use in place, said in the log. The
/// proxy goes on running through both.
#[cfg(unix)]
#[test]
fn sighup_reloads_the_rules_and_keeps_them_when_the_files_do_not_load() {
    // An upstream that is a teapot, for every call.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in upstream.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = r#"{"message":"short and stout","code":"teapot","status":418}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 418 I'm a teapot\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("other.toml"), "version = 1\n").unwrap();
    let mut p = Running::proxy(
        &[],
        &[
            "--listen",
            "127.0.0.1:0",
            "--api-upstream",
            &upstream_url,
            "--rules",
            rules.path().to_str().unwrap(),
        ],
    );
    let ready = p.wait_for("triage proxy ready: point your SDK at the listen address");
    let listen = ready["listen"].as_str().unwrap().to_owned();
    assert_eq!(
        triage_rule_of_a_call(&listen),
        None,
        "no rule for a teapot yet"
    );

    std::fs::write(rules.path().join("teapot.toml"), TEAPOT_RULE).unwrap();
    p.signal("HUP");
    let reloaded = p.wait_for("rules reloaded (SIGHUP)");
    assert_eq!(triage_rule_of_a_call(&listen).as_deref(), Some("teapot"));

    // Saved half-edited: an error, and the teapot rule still answers.
    std::fs::write(rules.path().join("teapot.toml"), "[[rules]]\nid = ").unwrap();
    p.signal("HUP");
    let refused = p
        .wait_for("rules not reloaded (SIGHUP): the rules in use stay in use until the files load");
    assert!(
        refused["errors"]
            .as_str()
            .unwrap_or("")
            .contains("teapot.toml"),
        "the error names the file: {refused}"
    );
    assert_eq!(triage_rule_of_a_call(&listen).as_deref(), Some("teapot"));
    assert!(reloaded["rules"].as_u64().unwrap() > 1, "{reloaded}");

    p.signal("TERM");
    assert_eq!(p.exit_within(std::time::Duration::from_secs(20)), Some(0));
}

#[cfg(unix)]
#[test]
fn second_signal_during_graceful_shutdown_exits_at_once() {
    use std::io::Write;
    use std::time::Duration;
    // An upstream that takes the request and never answers keeps an exchange open.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
    let (accepted, on_accept) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let conn = upstream.accept().unwrap();
        accepted.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(120));
        drop(conn);
    });
    let mut p = Running::proxy(
        &[],
        &["--listen", "127.0.0.1:0", "--api-upstream", &upstream_url],
    );
    let ready = p.wait_for("triage proxy ready: point your SDK at the listen address");
    let addr = ready["listen"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://");
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET /api/v2/users/me HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    on_accept.recv_timeout(Duration::from_secs(20)).unwrap();

    p.signal("INT");
    p.wait_for("shutdown requested");
    // The first signal is graceful: the open exchange gets its grace period (30 s).
    assert_eq!(p.exit_within(Duration::from_millis(500)), None);
    p.signal("TERM");
    assert_eq!(p.exit_within(Duration::from_secs(5)), Some(143));
    let forced =
        p.wait_for("second shutdown signal: exiting now, without waiting for open exchanges");
    assert_eq!(forced["level"], "WARN");
}

/// What `triage explain`'s messages say it reads.
const TAKES: &str = "a HAR file, a triage recording, `curl -i` or `curl -v` output (the curl \
                     command above it or not), an SDK error as printed, or a JSON error body";

/// `triage explain` with nothing to explain says so, names where it looked and what it takes,
/// and exits 2 (bad input) as documented.
#[test]
fn explain_of_an_empty_input_says_it_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("customer.har");
    std::fs::write(&empty, b"").unwrap();
    let (code, _, err) = triage(&["explain", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "an empty FILE: exit 2 expected\n{err}");
    let want = format!(
        "triage: error: {}: the file is empty (0 bytes): nothing to explain; give {TAKES}\n",
        empty.display()
    );
    assert!(
        err.contains(&want),
        "an empty FILE\n  expected: {want}       got: {err}"
    );

    // No FILE and an empty pipe: standard input is read, and found empty.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("explain")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "no FILE, empty stdin\n{err}");
    let want = format!(
        "triage: error: -: standard input is empty (0 bytes): nothing to explain; pipe in \
         {TAKES}, or give it as FILE\n"
    );
    assert!(
        err.contains(&want),
        "no FILE, empty stdin\n  expected: {want}       got: {err}"
    );
}

/// No FILE reads a pipe, as `jq` or `grep` do.
#[test]
fn explain_without_a_file_reads_what_is_piped_in() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "explain",
            "--status",
            "404",
            "--method",
            "GET",
            "--path",
            "/api/v2/nope",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failure was piped in: exit 1 expected\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("triage explain: 1 exchange read, 1 failed"),
        "expected the piped body explained, got: {text}"
    );
}

/// At a terminal, no FILE would wait for a HAR file typed by hand: triage says what to pass.
/// Needs `script` (util-linux) for a terminal.
#[cfg(target_os = "linux")]
#[test]
fn explain_without_a_file_at_a_terminal_says_what_to_pass() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        common::skip_note("`script` (util-linux) is not installed: no terminal to test with");
        return;
    }
    // `script` runs the command with a new terminal as its standard input and output.
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} explain", env!("CARGO_BIN_EXE_triage")),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let want = format!(
        "triage: error: no FILE given and standard input is a terminal: pass {TAKES} as FILE, \
         or pipe one in (`triage explain --help` says more)\n"
    );
    assert_eq!(text, want, "triage explain at a terminal: expected vs got");
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit status (script -e passes it on)"
    );
}

/// Commands that print to standard output end quietly when its reader went away (`triage rules
/// list | head`), as `triage explain` does: no panic of `println!`, no "cannot write -: Broken
/// pipe", and the status they would have had.
#[test]
fn printing_to_a_reader_that_went_away_is_quiet() {
    for (args, want) in [
        (&["rules", "list"][..], 0),
        (&["rules", "test"][..], 0),
        (&["rules", "explain", "conversation-closed"][..], 0),
        (&["ops", "search", "conversations"][..], 0),
        // Its status is its own: no operation found.
        (&["ops", "search", "no-such-operation-words"][..], 1),
    ] {
        let (code, stderr) = common::run_triage_reader_gone(args);
        assert_eq!(code, Some(want), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

//! `triage rules …` and the rule flags of `triage proxy`, as a user runs them.

mod common;

use common::run_triage as triage;

const USER_RULE: &str = r#"version = 1

[[rules]]
id = "rate-limited"
title = "Our own rate limit rule"
severity = "info"
sources = ["F429"]
cause = "slow down"
fix = "wait {secs}s"
when = { status = 429, response_header = { name = "retry-after", capture = "secs" } }

[[rules.examples]]
name = "hit"
expect = "match"
cause = "slow down"
fix = "wait 7s"
request = { method = "GET", path = "/api/v2/x" }
response = { status = 429, headers = { "retry-after" = "7" } }

[[rules.examples]]
name = "miss"
expect = "no-match"
request = { method = "GET", path = "/api/v2/x" }
response = { status = 429 }
"#;

#[test]
fn list_names_the_builtin_rules() {
    let (code, out, err) = triage(&["rules", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("conversation-closed") && out.contains("rate-limited"),
        "{out}"
    );
}

#[test]
fn check_and_test_pass_for_the_builtin_pack() {
    let (code, out, err) = triage(&["rules", "check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: "), "{out}");
    let (code, out, _) = triage(&["rules", "test"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 failed"), "{out}");
}

#[test]
fn a_user_rule_overrides_a_builtin_one_by_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.toml"), USER_RULE).unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = triage(&["rules", "list", "--rules", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Our own rate limit rule"), "{out}");
    assert!(!out.contains("Rate limit exceeded (429)"), "{out}");
    let (code, out, _) = triage(&["rules", "list", "--no-builtin-rules", "--rules", d]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn a_failing_example_shows_a_diff_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.toml"),
        USER_RULE.replace("fix = \"wait 7s\"", "fix = \"wait 8s\""),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, _) = triage(&["rules", "test", d]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  rate-limited / hit"), "{out}");
    assert!(
        out.contains("expected: wait 8s") && out.contains("got: wait 7s"),
        "{out}"
    );
    assert!(
        !out.contains("conversation-closed"),
        "only DIR's rules: {out}"
    );
    let (code, _, err) = triage(&["rules", "check", d]);
    assert_eq!(code, 1);
    assert!(
        err.contains("mine.toml:12: rule rate-limited: example \"hit\""),
        "{err}"
    );
    let (code, _, err) = triage(&[
        "proxy",
        "--rules",
        d,
        "--api-upstream",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code, 2, "the proxy refuses to start on bad rules");
    assert!(err.contains("does not behave as declared"), "{err}");
}

#[test]
fn check_reports_file_line_and_rule_for_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        USER_RULE.replace(
            "severity = \"info\"",
            "severity = \"info\"\ncolour = \"red\"",
        ),
    )
    .unwrap();
    let (code, _, err) = triage(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "rules that do not load: {err}");
    assert!(
        err.contains("bad.toml:7: rule rate-limited:") && err.contains("colour"),
        "{err}"
    );
}

#[test]
fn explain_gives_the_long_form() {
    let (code, out, _) = triage(&["rules", "explain", "missing-scope"]);
    assert_eq!(code, 0);
    for part in [
        "## Cause",
        "## Fix",
        "## Evidence it matches",
        "## Example",
        "## Sources",
        "SCOPEX",
    ] {
        assert!(out.contains(part), "lacks {part}: {out}");
    }
    // An unknown id is bad input: exit 2 and the error prefix, as for every other command.
    let (code, _, err) = triage(&["rules", "explain", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("triage: error: no rule \"nope\"; known: "),
        "{err}"
    );
}

#[test]
fn proxy_help_lists_the_builtin_rules_and_rule_flags() {
    let (code, out, _) = triage(&["proxy", "--help"]);
    assert_eq!(code, 0);
    for s in [
        "--rules",
        "--no-builtin-rules",
        "--annotate-body",
        "TRIAGE_RULES",
        "recontact-disabled",
        "participant-not-active",
    ] {
        assert!(out.contains(s), "--help lacks {s}:\n{out}");
    }
}

#[cfg(unix)]
#[test]
fn check_does_not_follow_a_symlinked_directory_loop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), USER_RULE).unwrap();
    // Followed, it read self/a.toml, self/self/a.toml… until ELOOP: each a duplicate id. (Two
    // such links made the walk exponential, a hang rather than a failure, so one it is.)
    std::os::unix::fs::symlink(".", dir.path().join("self")).unwrap();
    // A symlink to a file is still read.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("b.toml"),
        USER_RULE.replace("rate-limited", "rate-limited-too"),
    )
    .unwrap();
    std::os::unix::fs::symlink(other.path().join("b.toml"), dir.path().join("b.toml")).unwrap();
    let (code, out, err) = triage(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(
        code, 0,
        "exit code\n  expected: 0\n       got: {code}\nstderr: {err}"
    );
    assert!(
        !err.contains("duplicate"),
        "stderr\n  expected: no duplicate ids\n       got: {err}"
    );
    assert!(out.starts_with("ok: "), "stdout: {out}");
    let (code, out, err) = triage(&["rules", "list", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rate-limited-too"),
        "the rule behind a file symlink\n  expected in: {out}"
    );
}

#[test]
fn a_rule_file_that_is_not_utf8_names_the_line() {
    // Read as a string, such a file failed with "stream did not contain valid UTF-8": no line,
    // no rule, in a file of hundreds of lines.
    let dir = tempfile::tempdir().unwrap();
    let text = USER_RULE.replace("title = \"Our own", "title = \"Our \u{e9}\u{e9} own");
    let mut bytes = text.into_bytes();
    let at = bytes.iter().position(|&b| b == 0xc3).unwrap();
    bytes[at] = 0xe9; // Latin-1 `é`, as an editor set to Windows-1252 saves it.
    std::fs::write(dir.path().join("latin1.toml"), bytes).unwrap();
    let (code, _, err) = triage(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("latin1.toml:5: rule rate-limited: ") && err.contains("UTF-8"),
        "stderr\n  expected: latin1.toml:5: rule rate-limited: … UTF-8 …\n       got: {err}"
    );
}

#[test]
fn a_rule_missing_a_field_is_named_by_its_own_id() {
    // serde names the rule's table, which starts at its `[[rules]]` line; the id was looked
    // for before that line, so the first rule of a file got none and any other rule the id of
    // the rule before it.
    let dir = tempfile::tempdir().unwrap();
    let second = USER_RULE
        .split_once("[[rules]]")
        .unwrap()
        .1
        .replace("rate-limited", "second-rule")
        .replace("when = { status = 429, response_header = { name = \"retry-after\", capture = \"secs\" } }\n", "");
    std::fs::write(
        dir.path().join("two.toml"),
        format!("{USER_RULE}\n[[rules]]{second}"),
    )
    .unwrap();
    let (code, _, err) = triage(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("two.toml:26: rule second-rule: missing field `when`"),
        "stderr\n  expected: two.toml:26: rule second-rule: missing field `when`\n       got: {err}"
    );
    let first = USER_RULE.replace(
        "when = { status = 429, response_header = { name = \"retry-after\", capture = \"secs\" } }\n",
        "",
    );
    std::fs::write(dir.path().join("two.toml"), first).unwrap();
    let (_, _, err) = triage(&["rules", "check", dir.path().to_str().unwrap()]);
    assert!(
        err.contains("two.toml:3: rule rate-limited: missing field `when`"),
        "stderr\n  expected: two.toml:3: rule rate-limited: missing field `when`\n       got: {err}"
    );
}

/// How rules are found and told apart: a file as well as a directory, hidden files skipped, an
/// empty directory refused, a directory given twice read once, a replaced built-in named and
/// kept in its place, and the exit status that tells rules that do not load (2) from examples
/// that fail (1).
#[test]
fn rule_directories_as_a_rule_author_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, USER_RULE).unwrap();
    // An editor's lock file (Emacs: a dangling link) and a hidden copy are not rule files.
    #[cfg(unix)]
    std::os::unix::fs::symlink("user@host.1234", dir.path().join(".#mine.toml")).unwrap();
    std::fs::write(dir.path().join(".old.toml"), "not = toml [").unwrap();

    let (code, out, err) = triage(&["rules", "check", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: "), "{out}");
    let note = "mine.toml:4: rule rate-limited replaces the built-in rule of the same id";
    assert!(err.contains(note), "expected {note:?} in {err:?}");

    // Given twice (TRIAGE_RULES and the argument, spelt differently): read once.
    let (code, _, err) = common::run_triage_env(
        &[("TRIAGE_RULES", d)],
        &["rules", "check", &format!("{d}/.")],
    );
    assert_eq!(code, 0, "{err}");

    // One file.
    let (code, out, _) = triage(&["rules", "list", "--rules", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    // In the built-in rule's place, with its file named.
    let ids: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let (code, builtin, _) = triage(&["rules", "list"]);
    assert_eq!(code, 0);
    let builtin_ids: Vec<&str> = builtin
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids, builtin_ids);
    assert!(out.contains("Our own rate limit rule  ("), "{out}");

    // An empty directory is a mistake, said as one.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = triage(&["rules", "check", empty.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no rule files in this directory"), "{err}");

    // A failing match example says which condition did not hold.
    std::fs::write(
        &file,
        USER_RULE.replace(
            "response = { status = 429, headers",
            "response = { status = 200, headers",
        ),
    )
    .unwrap();
    let (code, out, _) = triage(&["rules", "test", d]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("only responses with status 400 or more"),
        "{out}"
    );
}

#[test]
fn check_names_each_bad_rule_in_the_files_terms() {
    // Arrays where tables belong loaded (serde filled the fields by position); one error per
    // file hid the others; the top-level typo was blamed on the rule above it.
    let dir = tempfile::tempdir().unwrap();
    let positional = USER_RULE
        .replace(
            "when = { status = 429, response_header = { name = \"retry-after\", capture = \"secs\" } }",
            "when = [ [ { status = 429 } ] ]",
        )
        .replace("fix = \"wait {secs}s\"", "fix = \"wait\"");
    let second = USER_RULE
        .split_once("[[rules]]")
        .unwrap()
        .1
        .replace("rate-limited", "second-rule")
        .replace("when = { status = 429,", "when = { status = 429.0,");
    std::fs::write(
        dir.path().join("bad.toml"),
        format!("{positional}\n[[rules]]{second}\n[rule.when]\nstatus = 1\n"),
    )
    .unwrap();
    let (code, _, err) = triage(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let bad = dir.path().join("bad.toml").display().to_string();
    let want = format!(
        "{bad}:10: rule rate-limited: when: expected a condition table ({{ status = 400, … }}), got an array\n\
         {bad}:33: rule second-rule: status: expected a status code (400), a class (\"4xx\"), a range \
         (\"400-499\") or a list of them, got a float 429.0\n\
         {bad}:49: unknown key `rule` at the top level of the file, expected `version` or `rules` \
         (a rule's own keys and tables are under `rules`: [[rules]], [rules.when], [[rules.examples]])\n\
         3 error(s); nothing loaded\n"
    );
    assert_eq!(err, want);
}

#[test]
fn one_rule_can_be_disabled_by_id() {
    let body = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, body).unwrap();
    let f = file.to_str().unwrap();

    let (code, out, err) = triage(&["explain", f, "--status", "409"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("request-conflict"),
        "expected the rule in {out}"
    );

    let (code, out, err) = triage(&[
        "explain",
        f,
        "--status",
        "409",
        "--disable-rule",
        "request-conflict",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        !out.contains("request-conflict"),
        "expected no request-conflict in {out}"
    );

    let (code, out, _) = triage(&["rules", "list", "--disable-rule", "request-conflict"]);
    assert_eq!(code, 0);
    assert!(!out.contains("request-conflict"), "{out}");
    assert!(out.contains("missing-scope"), "{out}");

    // The environment variable takes a list; a misspelt id is an error that names the near one,
    // not a rule silently left on.
    let (code, _, err) = common::run_triage_env(
        &[("TRIAGE_DISABLE_RULES", "missing-scope,request-conflit")],
        &["rules", "check"],
    );
    assert_eq!(code, 2, "{err}");
    let want = "--disable-rule: rule request-conflit: no loaded rule has this id \
                (did you mean request-conflict?)";
    assert!(err.contains(want), "expected {want:?} in {err:?}");
    let (code, out, err) = common::run_triage_env(
        &[("TRIAGE_DISABLE_RULES", "missing-scope,request-conflict")],
        &["rules", "check"],
    );
    assert_eq!(code, 0, "{err}");
    let (_, all, _) = triage(&["rules", "check"]);
    let count = |s: &str| -> usize {
        s.trim_start_matches("ok: ")
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(count(&out) + 2, count(&all), "{out} vs {all}");
}

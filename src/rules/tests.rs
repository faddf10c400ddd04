//! Loader tests: strictness (file, line, rule id on every error) and matcher semantics.

use super::*;

fn src(text: &str) -> Vec<RuleSource> {
    vec![RuleSource {
        name: "t.toml".into(),
        text: text.into(),
        builtin: false,
    }]
}

const GOOD: &str = r#"version = 1

[[rules]]
id = "closed"
title = "Closed"
severity = "error"
when = { method = "POST", path = "/api/v2/c/{conversationId}/m", status = [400, 409] }
cause = "conversation {conversationId} is closed"
fix = "start a new one"
sources = ["GCS"]

[[rules.examples]]
name = "hit"
expect = "match"
cause = "conversation abc is closed"
fix = "start a new one"
request = { method = "POST", path = "/api/v2/c/abc/m" }
response = { status = 409 }

[[rules.examples]]
name = "miss"
expect = "no-match"
request = { method = "POST", path = "/api/v2/c/abc/m" }
response = { status = 200 }
"#;

fn load(text: &str) -> Result<RuleSet, LoadErrors> {
    let set = RuleSet::compile(&src(text))?;
    set.check_examples()?;
    Ok(set)
}

fn one_error(text: &str) -> LoadError {
    let e = load(text).expect_err("should fail");
    assert_eq!(e.0.len(), 1, "{e}");
    e.0[0].clone()
}

#[test]
fn good_file_loads_and_matches() {
    let set = load(GOOD).unwrap();
    assert_eq!(set.rules().len(), 1);
}

#[test]
fn unknown_key_names_file_line_and_rule() {
    let e = one_error(&GOOD.replace("severity = \"error\"", "severity = \"error\"\nseverty = 1"));
    assert_eq!(
        (e.file.as_str(), e.line, e.rule.as_deref()),
        ("t.toml", 7, Some("closed"))
    );
    assert!(e.message.contains("severty"), "{e}");
}

#[test]
fn bad_regex_is_an_error() {
    let e = one_error(&GOOD.replace(
        "status = [400, 409] }",
        "status = [400, 409], response_body = { path = \"code\", regex = \"(\" } }",
    ));
    assert_eq!(e.line, 7);
    assert!(e.message.contains("bad regex"), "{e}");
}

#[test]
fn unknown_placeholder_is_an_error() {
    let e = one_error(&GOOD.replace("start a new one\"\nsources", "start {nope}\"\nsources"));
    assert_eq!(e.rule.as_deref(), Some("closed"));
    assert!(e.message.contains("{nope}"), "{e}");
}

#[test]
fn an_empty_cause_or_fix_is_an_error() {
    let e = one_error(&GOOD.replacen("fix = \"start a new one\"", "fix = \"  \"", 1));
    assert!(e.message.starts_with("fix is empty"), "{e}");
    assert_eq!(e.line, 9);
}

#[test]
fn duplicate_ids_are_an_error() {
    let body = GOOD.strip_prefix("version = 1\n").unwrap();
    let e = one_error(&format!("{GOOD}{body}"));
    assert!(e.message.contains("duplicate id"), "{e}");
    assert_eq!(e.line, 27);
}

#[test]
fn misbehaving_example_is_an_error_with_diff() {
    let e = one_error(&GOOD.replace(
        "cause = \"conversation abc is closed\"",
        "cause = \"conversation abd is closed\"",
    ));
    assert!(e.message.contains("differs at character 16"), "{e}");
    assert_eq!(e.line, 12);
}

#[test]
fn missing_near_miss_is_an_error() {
    let cut = GOOD.find("[[rules.examples]]\nname = \"miss\"").unwrap();
    let e = one_error(&GOOD[..cut]);
    assert!(e.message.contains("no-match"), "{e}");
}

#[test]
fn user_rule_overrides_builtin_by_id() {
    let mut sources = src(GOOD);
    sources[0].builtin = true;
    sources.push(RuleSource {
        name: "user.toml".into(),
        text: GOOD.replace("title = \"Closed\"", "title = \"Mine\""),
        builtin: false,
    });
    let set = RuleSet::compile(&sources).unwrap();
    assert_eq!(set.rules().len(), 1);
    assert_eq!(&*set.rules()[0].title, "Mine");
}

#[test]
fn regex_is_whole_value_and_captures_named_groups() {
    let text = GOOD
        .replace(
            "status = [400, 409] }",
            "status = [400, 409], response_body = { path = \"message\", regex = 'scope \\[(?P<scopes>[^\\]]*)\\]' } }",
        )
        .replace("start a new one\"\nsources", "use {scopes}\"\nsources")
        .replace("fix = \"start a new one\"\nrequest", "fix = \"use a, b\"\nrequest")
        .replace(
            "response = { status = 409 }",
            "response = { status = 409, body = '{\"message\":\"scope [a, b]\"}' }",
        )
        .replace(
            "response = { status = 200 }",
            "response = { status = 409, body = '{\"message\":\"x scope [a, b]\"}' }",
        );
    load(&text).unwrap();
}

#[test]
fn candidates_come_from_lookups_not_from_every_rule() {
    let mut text = String::from("version = 1\n");
    for i in 0..500 {
        text.push_str(&format!(
            "[[rules]]\nid = \"r{i}\"\ntitle = \"t\"\nseverity = \"info\"\nsources = [\"X\"]\n\
             cause = \"c\"\nfix = \"f\"\nwhen = {{ status = {}, response_body = {{ path = \"code\", equals = \"code.{i}\" }} }}\n\
             [[rules.examples]]\nname = \"m\"\nexpect = \"match\"\ncause = \"c\"\nfix = \"f\"\n\
             request = {{ method = \"GET\", path = \"/x\" }}\nresponse = {{ status = {}, body = '{{\"code\":\"code.{i}\"}}' }}\n\
             [[rules.examples]]\nname = \"n\"\nexpect = \"no-match\"\n\
             request = {{ method = \"GET\", path = \"/x\" }}\nresponse = {{ status = 200 }}\n",
            400 + i % 100,
            400 + i % 100,
        ));
    }
    let set = load(&text).unwrap();
    let ex = &set.rules()[123].examples[0].exchange;
    let view = View::new(ex, &set.matchers);
    assert_eq!(set.candidates(&view), vec![123]);
    assert_eq!(set.matches(ex).len(), 1);
}

/// A rule file's `[[rules]]` with cause `c`, fix `f`, and two examples on `POST /x`: one that
/// matches, answered `response` (a TOML inline table), and one that does not, answered 200.
fn rule_with_examples(id: &str, when: &str, response: &str) -> String {
    format!(
        "[[rules]]\nid = \"{id}\"\ntitle = \"t\"\nseverity = \"error\"\nwhen = {when}\n\
         cause = \"c\"\nfix = \"f\"\nsources = [\"GCS\"]\n\
         [[rules.examples]]\nname = \"m\"\nexpect = \"match\"\ncause = \"c\"\nfix = \"f\"\n\
         request = {{ method = \"POST\", path = \"/x\" }}\nresponse = {response}\n\
         [[rules.examples]]\nname = \"n\"\nexpect = \"no-match\"\n\
         request = {{ method = \"POST\", path = \"/x\" }}\nresponse = {{ status = 200 }}\n"
    )
}

#[test]
fn conditions_on_a_request_nobody_saw_neither_hold_nor_fail() {
    // Each rule's first example has the request seen without any header or body; the same
    // exchange is then tried as an input that did not show the request.
    let rule = |id: &str, when: &str| {
        rule_with_examples(id, when, r#"{ status = 401, body = '{"code":"a"}' }"#)
    };
    let text = [
        "version = 1\n".to_owned(),
        rule("missing", r#"{ status = 401, request_header = { name = "authorization", missing = true } }"#),
        rule("not-equals", r#"{ status = 401, not = { request_header = { name = "content-type", equals = "application/json" } } }"#),
        rule("any-known-branch", r#"{ status = 401, any = [{ request_body = { path = "x", missing = true } }, { response_body = { path = "code", equals = "a" } }] }"#),
        rule("not-all-failing", r#"{ status = 401, not = { all = [{ request_body = { path = "x", missing = true } }, { response_body = { path = "code", equals = "b" } }] } }"#),
        rule("not-any-unknown", r#"{ status = 401, not = { any = [{ request_body = { path = "x", missing = true } }, { response_body = { path = "code", equals = "b" } }] } }"#),
        rule("not-response-code", r#"{ status = 401, not = { response_body = { path = "code", equals = "b" } } }"#),
    ]
    .concat();
    // Not `load`: not-any-unknown's example does not match when seen, as the test shows.
    let set = RuleSet::compile(&src(&text)).unwrap();
    let mut ex = set.rules()[0].examples[0].exchange.clone();
    let ids = |ex: &Exchange| {
        let mut ids: Vec<&str> = set.matches(ex).iter().map(|m| &*m.rule.id).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(
        ids(&ex),
        [
            "any-known-branch",
            "missing",
            "not-all-failing",
            "not-equals",
            "not-response-code"
        ],
        "seen, without headers or body"
    );
    ex.request.shown = crate::exchange::Shown::MethodAndUrl;
    assert_eq!(
        ids(&ex),
        ["any-known-branch", "not-all-failing", "not-response-code"],
        "unseen: only what the response settles"
    );
    // A response body held only in part may have any code in the rest.
    ex.response.as_mut().unwrap().body.complete = false;
    assert_eq!(
        ids(&ex),
        Vec::<&str>::new(),
        "unseen, and a response body cut short"
    );
}

#[test]
fn a_rule_left_unknown_by_an_unshown_request_is_told_from_one_that_fails() {
    let rule = |id: &str, when: &str| rule_with_examples(id, when, "{ status = 400 }");
    let text = [
        "version = 1\n".to_owned(),
        rule(
            "body",
            r#"{ status = 400, request_body = { path = "x", equals = 1 } }"#,
        ),
        rule(
            "no-header",
            r#"{ status = 401, not = { request_header = { name = "authorization" } } }"#,
        ),
    ]
    .concat();
    let set = RuleSet::compile(&src(&text)).unwrap();
    let exchange = |status: u16, method: &str, shown| {
        use crate::exchange::*;
        Exchange {
            seq: 1,
            origin: Origin::Live,
            started_at: std::time::UNIX_EPOCH,
            request: Request {
                method: method.parse().unwrap(),
                path: "/x".into(),
                query: None,
                headers: Default::default(),
                body: BodyPrefix::complete(bytes::Bytes::new()),
                upstream: UpstreamKind::Api,
                host: None,
                base_url: None,
                shown,
            },
            response: Some(Response {
                status: http::StatusCode::from_u16(status).unwrap(),
                version: None,
                headers: Default::default(),
                body: BodyPrefix::complete(bytes::Bytes::new()),
                headers_shown: true,
            }),
            timings: Timings::default(),
            inspection: Inspection::Complete,
            outcome: None,
        }
    };
    let noting = |status, method, shown| {
        let (matches, undecided) =
            set.matches_noting(&exchange(status, method, shown), &matcher::NO_CONTEXT);
        let ids: Vec<String> = matches.iter().map(|m| m.rule.id.clone()).collect();
        (ids, undecided)
    };
    use crate::exchange::Shown;
    let none = Vec::<String>::new();
    // The body could hold `x: 1`: unknown, not false.
    assert_eq!(
        noting(400, "POST", Shown::MethodAndUrl),
        (none.clone(), true)
    );
    // The status rules each rule out: false whatever the request was.
    assert_eq!(
        noting(409, "POST", Shown::MethodAndUrl),
        (none.clone(), false)
    );
    // Headers unknown: the header rule neither matches nor fails.
    assert_eq!(
        noting(401, "POST", Shown::MethodAndUrl),
        (none.clone(), true)
    );
    // Headers shown, body not: the body rule is unknown, the header rule decided (it holds).
    assert_eq!(noting(400, "POST", Shown::HeadOnly), (none.clone(), true));
    assert_eq!(
        noting(401, "POST", Shown::HeadOnly),
        (vec!["no-header".to_owned()], false)
    );
    // A GET is taken to have had no body: no note for it.
    assert_eq!(
        noting(400, "GET", Shown::MethodAndUrl),
        (none.clone(), false)
    );
    // The whole request shown: nothing is unknown.
    assert_eq!(noting(400, "POST", Shown::All), (none, false));
}

/// Every error of loading `text` as `t.toml`, one a line, as `triage rules check` prints them.
fn errors(text: &str) -> String {
    load(text).expect_err("should fail").to_string()
}

const WHEN: &str =
    r#"when = { method = "POST", path = "/api/v2/c/{conversationId}/m", status = [400, 409] }"#;

#[test]
fn a_table_given_as_an_array_is_refused() {
    // serde's derive took an array for a struct, filling its fields by position.
    assert_eq!(
        errors(&GOOD.replace(WHEN, "when = [ [ { status = 409 } ] ]")),
        "t.toml:7: rule closed: when: expected a condition table ({ status = 400, … }), got an array"
    );
    assert_eq!(
        errors(&GOOD.replace(
            r#"request = { method = "POST", path = "/api/v2/c/abc/m" }
response = { status = 409 }"#,
            r#"request = [ "POST", "/api/v2/c/abc/m" ]
response = { status = 409 }"#
        )),
        "t.toml:17: rule closed: request: expected a request table \
         ({ method = \"GET\", path = \"/api/v2/…\" }), got an array"
    );
    assert_eq!(
        errors(&GOOD.replace("response = { status = 409 }", "response = [ 409 ]")),
        "t.toml:18: rule closed: response: expected a response table \
         ({ status = 400, body = '…' }), got an array"
    );
    // `not` takes one table; the message said "invalid type: map, expected a sequence".
    assert_eq!(
        errors(&GOOD.replace(
            "status = [400, 409] }",
            "status = [400, 409], not = [ { status = 400 } ] }"
        )),
        "t.toml:7: rule closed: not: expected a condition table ({ status = 400, … }), got an array"
    );
    assert_eq!(
        errors(&GOOD.replace(
            "status = [400, 409] }",
            "status = [400, 409], any = { status = 400 } }"
        )),
        "t.toml:7: rule closed: any: expected a list of condition tables ([ { … }, { … } ]), \
         got a table"
    );
}

#[test]
fn type_errors_say_what_the_file_should_hold() {
    let status =
        |v: &str| errors(&GOOD.replace("status = [400, 409] }", &format!("status = {v} }}")));
    let want = |got: &str| {
        format!(
            "t.toml:7: rule closed: status: expected a status code (400), a class (\"4xx\"), \
             a range (\"400-499\") or a list of them, got {got}"
        )
    };
    assert_eq!(status("400.0"), want("a float 400.0"));
    assert_eq!(status("true"), want("a boolean true"));
    assert_eq!(
        status("[400, \"5xx\"]"),
        "t.toml:7: rule closed: status: expected a status code (400), got a string \"5xx\""
    );
    assert_eq!(
        errors(&GOOD.replace(WHEN, r#"when = { method = 5, status = 409 }"#)),
        "t.toml:7: rule closed: method: expected a method (\"POST\") or a list of them, \
         got an integer 5"
    );
    assert_eq!(
        errors(&GOOD.replace("status = [400, 409] }", r#"response_body = "code" }"#)),
        "t.toml:7: rule closed: response_body: expected a test table \
         ({ path = \"code\", equals = \"…\" }), got a string \"code\""
    );
    assert_eq!(
        errors(&GOOD.replace("status = [400, 409] }", "not = 5 }")),
        "t.toml:7: rule closed: not: expected a condition table ({ status = 400, … }), \
         got an integer 5"
    );
    assert_eq!(
        errors(&GOOD.replace(
            "severity = \"error\"",
            "severity = \"fatal\"\npriority = \"high\""
        )),
        "t.toml:7: rule closed: priority: expected an integer from -2147483648 to 2147483647, \
         got a string \"high\""
    );
    assert_eq!(
        errors(&GOOD.replace("severity = \"error\"", "severity = \"fatal\"")),
        "t.toml:6: rule closed: severity: expected \"error\", \"warning\" or \"info\", \
         got a string \"fatal\""
    );
}

#[test]
fn a_duplicate_key_is_named() {
    assert_eq!(
        errors(&GOOD.replace("title = \"Closed\"", "title = \"Closed\"\ntitle = \"Shut\"")),
        "t.toml:6: rule closed: duplicate key `title`: it is set twice in the same table"
    );
    // Examples written as one table, twice: the fix is the double brackets.
    let single = GOOD.replace("[[rules.examples]]", "[rules.examples]");
    assert_eq!(
        errors(&single),
        "t.toml:20: rule closed: duplicate key `examples`: [rules.examples] is a single table \
         and can be defined once; write [[rules.examples]], with double brackets, for each \
         entry of the list"
    );
}

#[test]
fn an_unknown_top_level_table_is_the_files_not_a_rules() {
    // `[rule.when]` for `[rules.when]`: the rule then has no `when`, and the file a key it
    // does not know, which no rule is to blame for.
    let text = GOOD.replace(&format!("{WHEN}\n"), "").replacen(
        "[[rules.examples]]",
        "[rule.when]\nstatus = 409\n\n[[rules.examples]]",
        1,
    );
    assert_eq!(
        errors(&text),
        "t.toml:3: rule closed: missing field `when`\n\
         t.toml:11: unknown key `rule` at the top level of the file, expected `version` or \
         `rules` (a rule's own keys and tables are under `rules`: [[rules]], [rules.when], \
         [[rules.examples]])"
    );
}

#[test]
fn a_bad_regex_shows_the_authors_pattern() {
    let e = one_error(&GOOD.replace(
        "status = [400, 409] }",
        "status = [400, 409], response_body = { path = \"code\", regex = \"a(b\" } }",
    ));
    assert_eq!(
        e.to_string(),
        "t.toml:7: rule closed: response_body: bad regex: regex parse error:\n    a(b\n     ^\n\
         error: unclosed group"
    );
    // A pattern that parsed only inside the anchoring wrapper would not be anchored whole.
    let e = one_error(&GOOD.replace(
        "status = [400, 409] }",
        "status = [400, 409], response_body = { path = \"code\", regex = \"a)|(b\" } }",
    ));
    assert!(e.message.contains("bad regex"), "{e}");
}

#[test]
fn a_name_bound_by_only_some_branches_says_which_does_not() {
    let text = GOOD.replace(
        WHEN,
        "when = { any = [\n  { status = 409, response_body = { path = \"code\", capture = \"code\" } },\n  { status = 400 },\n] }",
    )
    .replace("cause = \"conversation {conversationId} is closed\"", "cause = \"{code}\"");
    assert_eq!(
        errors(&text),
        "t.toml:11: rule closed: template names {code}, which not every match binds: \
         `any` branch 2 (line 9) does not bind it"
    );
    let text = GOOD.replace(
        "status = [400, 409] }",
        "status = [400, 409], not = { response_body = { path = \"code\", capture = \"code\" } } }",
    )
    .replace("cause = \"conversation {conversationId} is closed\"", "cause = \"{code}\"");
    assert_eq!(
        errors(&text),
        "t.toml:8: rule closed: template names {code}, which not every match binds: it is \
         captured under `not` (line 7), which binds nothing: a `not` holds when its condition \
         does not"
    );
}

#[test]
fn builtin_names_and_twice_bound_names_are_refused() {
    assert_eq!(
        errors(&GOOD.replace(
            "status = [400, 409] }",
            "status = [400, 409], response_body = { path = \"code\", capture = \"status\" } }"
        )),
        "t.toml:7: rule closed: response_body: capture name \"status\" is one of the names \
         every match binds (method, path, status, status_code), which would hide it; choose \
         another name"
    );
    assert_eq!(
        errors(&GOOD.replace("{conversationId}/m\"", "{method}/m\"")),
        "t.toml:7: rule closed: path template \"/api/v2/c/{method}/m\": parameter {method} is \
         one of the names every match binds (method, path, status, status_code), which would \
         hide it; choose another name"
    );
    assert_eq!(
        errors(&GOOD.replace(
            "status = [400, 409] }",
            "status = [400, 409], response_body = { path = \"m\", regex = '(?P<path>.*)' } }"
        )),
        "t.toml:7: rule closed: response_body: regex group (?P<path>…) is one of the names \
         every match binds (method, path, status, status_code), which would hide it; choose \
         another name"
    );
    assert_eq!(
        errors(&GOOD.replace(
            WHEN,
            "when = { status = 409, all = [\n  { response_body = { path = \"code\", capture = \"a\" } },\n  { response_body = { path = \"message\", capture = \"a\" } },\n] }"
        )),
        "t.toml:9: rule closed: {a} is captured twice in one match (also on line 8): the \
         later value would replace the earlier; give one another name"
    );
    assert_eq!(
        errors(&GOOD.replace(
            "status = [400, 409] }",
            "status = [400, 409], request_header = { name = \"x\", capture = \"conversationId\" } }"
        )),
        "t.toml:7: rule closed: {conversationId} is captured twice in one match (also on \
         line 7): the later value would replace the earlier; give one another name"
    );
    assert_eq!(
        errors(&GOOD.replace(
            "status = [400, 409] }",
            "status = [400, 409], response_body = { path = \"m\", regex = '(?P<a>.*)', capture = \"a\" } }"
        )),
        "t.toml:7: rule closed: response_body: capture \"a\" is also a named group of the \
         regex: one would replace the other; give one another name"
    );
}

#[test]
fn context_paths_are_checked() {
    let e = one_error(&GOOD.replace(
        "status = [400, 409] }",
        "status = [400, 409], evidence = { path = \"conversaton.state\", equals = \"x\" } }",
    ));
    assert_eq!(
        e.to_string(),
        format!(
            "t.toml:7: rule closed: evidence: unknown path \"conversaton.state\" (did you mean \
             \"conversation.state\"?); the evidence paths are {}",
            matcher::EVIDENCE_PATHS.join(", ")
        )
    );
    let e = one_error(&GOOD.replace(
        "status = [400, 409] }",
        "status = [400, 409], operation = { path = \"lookp\", equals = \"found\" } }",
    ));
    assert!(
        e.to_string().starts_with(
            "t.toml:7: rule closed: operation: unknown path \"lookp\" (did you mean \"lookup\"?); \
             the operation paths are lookup, catalog,"
        ),
        "{e}"
    );
    // Tables and wildcards are paths too.
    load(&GOOD.replace(
        "status = [400, 409] }",
        "status = [400, 409], not = { all = [{ evidence = { path = \"token\" } }, { operation = { path = \"params.conversationId\" } }] } }",
    ))
    .unwrap();
    // An example's context, the same way.
    let e = one_error(&GOOD.replace(
        "response = { status = 200 }",
        "response = { status = 200 }\nevidence = { conversation = { stat = \"x\" } }",
    ));
    assert_eq!(
        e.to_string(),
        format!(
            "t.toml:25: rule closed: example \"miss\": evidence: unknown path \
             \"conversation.stat\" (did you mean \"conversation.state\"?); the evidence paths \
             are {}",
            matcher::EVIDENCE_PATHS.join(", ")
        )
    );
}

#[test]
fn conditions_that_cannot_match_are_refused() {
    assert_eq!(
        errors(&GOOD.replace("{conversationId}/m\"", "{conversationId}/m?x=1\"")),
        "t.toml:7: rule closed: path template \"/api/v2/c/{conversationId}/m?x=1\": a path \
         condition never sees the query (?x=1); test it with a `query` condition, like \
         query = { name = \"…\", equals = \"…\" }"
    );
    assert_eq!(
        errors(&GOOD.replace(WHEN, "when = { status = 409, path = [] }")),
        "t.toml:7: rule closed: path: an empty list matches nothing; give a path template"
    );
    assert_eq!(
        errors(&GOOD.replace(WHEN, "when = { status = 409, method = [] }")),
        "t.toml:7: rule closed: method: an empty list matches nothing; name a method"
    );
    assert_eq!(
        errors(&GOOD.replace(WHEN, "when = { status = [] }")),
        "t.toml:7: rule closed: status: an empty list matches nothing; give a status"
    );
}

#[test]
fn example_names_are_unique_within_a_rule() {
    assert_eq!(
        errors(&GOOD.replace("name = \"miss\"", "name = \"hit\"")),
        "t.toml:20: rule closed: example \"hit\": the name is used twice (first on line 12); \
         give each example its own"
    );
}

#[test]
fn each_rule_reports_its_own_structural_error() {
    let body = GOOD.strip_prefix("version = 1\n").unwrap();
    let text = format!(
        "{}{}{}",
        GOOD.replace("severity = \"error\"", "severity = \"error\"\ncolour = 1"),
        body.replace("id = \"closed\"", "id = \"second\"")
            .replace("status = [400, 409] }", "status = 400.5 }"),
        body.replace("id = \"closed\"", "id = \"third\"")
            .replace("start a new one\"\nsources", "start {nope}\"\nsources"),
    );
    assert_eq!(
        errors(&text),
        "t.toml:7: rule closed: unknown field `colour`, expected one of `id`, `title`, \
         `severity`, `confidence`, `priority`, `when`, `cause`, `fix`, `variants`, `docs`, \
         `sources`, `examples`\n\
         t.toml:31: rule second: status: expected a status code (400), a class (\"4xx\"), a \
         range (\"400-499\") or a list of them, got a float 400.5\n\
         t.toml:56: rule third: template names {nope} which no match binds (bound: \
         conversationId, method, path, status, status_code)"
    );
}

#[test]
fn the_file_level_shapes_are_named() {
    let e = |text: &str| load(text).expect_err("should fail").to_string();
    assert_eq!(
        e("version = 1\nrules = [1]\n"),
        "t.toml:2: rules: expected a rule table ([[rules]]), got an integer 1"
    );
    assert_eq!(
        e("version = 1\n[rules]\nid = \"x\"\n"),
        "t.toml:2: rules: expected a list of rules, got a single table; write [[rules]], with \
         double brackets, before each rule"
    );
    assert_eq!(
        e("version = \"1\"\n"),
        "t.toml:1: version: expected an integer, got a string \"1\""
    );
    // A class past 5xx was multiplied out of range (a panic in a debug build).
    assert_eq!(
        e(&GOOD.replace("status = [400, 409] }", "status = \"999xx\" }")),
        "t.toml:7: rule closed: status 99900 is not an HTTP status (100-599)"
    );
}

//! The built-in pack as data: its examples behave, it names only real Genesys operations and
//! documentation, its docs pages are current, and its files fit the published JSON Schema.

use std::path::Path;

use serde_json::Value;
use triage::rules::{builtin_sources, schema, RuleSet, BUILTIN};

#[test]
fn builtin_examples_behave_as_declared() {
    let set = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let failures: Vec<String> = set
        .run_examples()
        .into_iter()
        .filter_map(|o| o.failure.map(|f| format!("{} / {}: {f}", o.rule, o.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_required_rule_ids_exist() {
    let set = RuleSet::builtin().unwrap();
    for id in [
        "conversation-closed",
        "missing-scope",
        "missing-permission",
        "token-invalid",
        "oauth-client-error",
        "rate-limited",
        "recontact-disabled",
        "unknown-endpoint",
        "request-conflict",
        "participant-not-active",
    ] {
        assert!(set.get(id).is_some(), "rule {id} missing");
    }
}

/// FACTS.md §5: what the forum invented. A fix must never suggest any of it.
const INVENTED: &[&str] = &[
    "allowRecontact",
    "allow_recontact",
    "previousConversationId",
    "/api/v2/communications",
    "/api/v2/conversations/messaging/participants",
    "/api/v2/conversations/messaging/messages",
    "/api/v2/conversations/messaging/search",
    "/api/v2/conversations/webchat",
    "/api/v2/webmessaging/guests",
    "messaging:conversation:write",
    "conversations:messaging:write",
    "messaging:outbound",
    "webchat:guest",
    "messaging:contact:write",
    "X-Rate-Limit",
    "/api/v2/oauth",
];

/// Real operations a fix may name (FACTS.md §4.1, §4.5, §6.1, messaging-operations.tsv).
const REAL_OPERATIONS: &[&str] = &[
    "POST /api/v2/conversations/messages/agentless",
    "POST /api/v2/conversations/messages",
    "POST /api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages",
    "GET /api/v2/conversations/messages/{conversationId}",
    "GET /api/v2/conversations/{conversationId}",
    "GET /api/v2/tokens/me",
    "GET /api/v2/webmessaging/messages",
    "POST /oauth/token",
];

#[test]
fn fixes_name_only_real_operations_and_nothing_invented() {
    let set = RuleSet::builtin().unwrap();
    let op = regex::Regex::new(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s,;)]*[^\s,;).])").unwrap();
    let mut named_ops = 0;
    for r in set.rules() {
        let mut fixes = vec![r.fix.source().to_owned()];
        fixes.extend(
            r.variants
                .iter()
                .filter_map(|v| v.fix.as_ref())
                .map(|f| f.source().to_owned()),
        );
        for fix in fixes {
            let fix = fix.replace("{{", "{").replace("}}", "}");
            for bad in INVENTED {
                assert!(
                    !fix.contains(bad),
                    "{}: fix names invented {bad}: {fix}",
                    r.id
                );
            }
            for c in op.captures_iter(&fix) {
                let named = format!("{} {}", &c[1], &c[2]);
                named_ops += 1;
                assert!(
                    REAL_OPERATIONS.contains(&named.as_str()),
                    "{}: fix names {named}, not a known real operation",
                    r.id
                );
            }
        }
    }
    assert!(
        named_ops >= 10,
        "the operation pattern found only {named_ops}"
    );
}

#[test]
fn docs_urls_are_the_verified_ones() {
    let allowed = [
        "https://developer.genesys.cloud/commdigital/digital/openmessaging/outboundMessages",
        "https://developer.genesys.cloud/commdigital/digital/openmessaging/sms-notification-guide",
        "https://developer.genesys.cloud/forum/t/normalized-platform-api-429-responses/12028",
    ];
    for r in RuleSet::builtin().unwrap().rules() {
        if let Some(d) = &r.docs {
            assert!(
                allowed.contains(&&**d),
                "{}: docs {d} not in FACTS.md",
                r.id
            );
        }
        assert!(!r.sources.is_empty());
    }
}

#[test]
fn docs_rules_pages_are_current() {
    let set = RuleSet::builtin().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules");
    let hint = "run `cargo run -- rules docs --out docs/rules`";
    let pages = triage::report::rule_docs::pages(&set);
    for (name, text) in &pages {
        let on_disk = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|_| panic!("docs/rules/{name} missing; {hint}"));
        assert!(&on_disk == text, "docs/rules/{name} is stale; {hint}");
    }
    let expected: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            expected.contains(&name.as_str()),
            "docs/rules/{name} has no rule; {hint}"
        );
    }
}

#[test]
fn builtin_files_are_the_ones_under_rules() {
    for (name, text) in BUILTIN {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        assert_eq!(&std::fs::read_to_string(path).unwrap(), text);
    }
    assert_eq!(builtin_sources().len(), BUILTIN.len());
}

fn load_schema() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.schema.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).expect("schema is JSON")
}

#[test]
fn schema_names_every_key_the_loader_accepts() {
    let s = load_schema();
    let keys = |v: &Value| -> Vec<String> {
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let defs = &s["$defs"];
    for (what, node, accepted) in [
        ("file", &s, schema::FILE_KEYS),
        ("rule", &defs["rule"], schema::RULE_KEYS),
        ("condition", &defs["condition"], schema::CONDITION_KEYS),
        ("body field", &defs["bodyField"], schema::FIELD_KEYS),
        ("named field", &defs["namedField"], schema::FIELD_KEYS),
    ] {
        let named = keys(node);
        for k in accepted {
            let skip =
                (what == "body field" && *k == "name") || (what == "named field" && *k == "path");
            assert!(
                skip || named.contains(&k.to_string()),
                "schema {what} lacks {k}"
            );
        }
    }
}

/// A small validator for the parts of JSON Schema the rules schema uses.
fn validate(schema: &Value, root: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return validate(&root["$defs"][name], root, v, at, errs);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = options.iter().any(|o| {
            let mut e = Vec::new();
            validate(o, root, v, at, &mut e);
            e.is_empty()
        });
        if !ok {
            errs.push(format!("{at}: matches no alternative"));
        }
        return;
    }
    let holds = |sub: &Value| {
        let mut e = Vec::new();
        validate(sub, root, v, at, &mut e);
        e.is_empty()
    };
    for sub in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        validate(sub, root, v, at, errs);
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        if !options.iter().any(holds) {
            errs.push(format!("{at}: matches no alternative"));
        }
    }
    if let Some(n) = schema.get("not") {
        if holds(n) {
            errs.push(format!("{at}: matches what it must not ({n})"));
        }
    }
    if let (Some(cond), Some(then)) = (schema.get("if"), schema.get("then")) {
        if holds(cond) {
            validate(then, root, v, at, errs);
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errs.push(format!("{at}: must be {c}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} not one of {e:?}"));
        }
    }
    let ty_ok = |t: &str| match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    };
    match schema.get("type") {
        Some(Value::String(t)) if !ty_ok(t) => errs.push(format!("{at}: not {t}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| ty_ok(t.as_str().unwrap_or(""))) => {
            errs.push(format!("{at}: wrong type"))
        }
        _ => {}
    }
    if let Value::Object(o) = v {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(req.as_str().unwrap()) {
                errs.push(format!("{at}: missing {req}"));
            }
        }
        for (k, val) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(ps, root, val, &format!("{at}.{k}"), errs),
                None => {
                    if let Some(ap) = schema.get("additionalProperties") {
                        if ap == &Value::Bool(false) {
                            errs.push(format!("{at}: unknown key {k}"));
                        } else {
                            validate(ap, root, val, &format!("{at}.{k}"), errs);
                        }
                    }
                }
            }
        }
    }
    if let (Value::Array(a), Some(items)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            validate(items, root, x, &format!("{at}[{i}]"), errs);
        }
    }
}

#[test]
fn builtin_files_fit_the_schema() {
    let s = load_schema();
    for (name, text) in BUILTIN {
        let t: toml::Value = toml::from_str(text).unwrap();
        let v: Value = serde_json::to_value(t).unwrap();
        let mut errs = Vec::new();
        validate(&s, &s, &v, name, &mut errs);
        assert!(errs.is_empty(), "{}", errs.join("\n"));
    }
    // The validator does reject what the loader rejects.
    let bad: Value = serde_json::json!({"version": 1, "rules": [{"id": "x", "colour": 1}]});
    let mut errs = Vec::new();
    validate(&s, &s, &bad, "bad", &mut errs);
    assert!(
        errs.iter().any(|e| e.contains("unknown key colour")),
        "{errs:?}"
    );
    // An example's texts: required to match, refused not to.
    let example = |v: Value| {
        let mut errs = Vec::new();
        validate(&s["$defs"]["example"], &s, &v, "example", &mut errs);
        errs
    };
    let request = serde_json::json!({"method": "GET", "path": "/x"});
    let response = serde_json::json!({"status": 400});
    for (expect, cause, ok) in [
        ("match", true, true),
        ("match", false, false),
        ("no-match", false, true),
        ("no-match", true, false),
    ] {
        let mut v = serde_json::json!({"name": "e", "expect": expect, "request": request, "response": response});
        if cause {
            v["cause"] = "c".into();
            v["fix"] = "f".into();
        }
        assert_eq!(example(v).is_empty(), ok, "{expect}, cause given: {cause}");
    }
    let mut v = serde_json::json!({"name": "e", "expect": "no-match", "request": request, "response": response});
    v["evidence"] = serde_json::json!({"conversaton": {"state": "x"}});
    assert!(!example(v).is_empty(), "an unknown evidence path");
}

/// The dotted paths an object schema of the context documents lists.
fn schema_paths(node: &Value, at: &str, out: &mut Vec<String>) {
    for (k, v) in node["properties"].as_object().unwrap() {
        let p = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        if v.get("properties").is_some() {
            schema_paths(v, &p, out);
        } else if v.get("additionalProperties").is_some_and(Value::is_object) {
            out.push(format!("{p}.*"));
        } else {
            out.push(p);
        }
    }
}

#[test]
fn schema_lists_the_context_paths_the_loader_accepts() {
    use triage::rules::matcher::{EVIDENCE_PATHS, OPERATION_PATHS};
    let s = load_schema();
    for (what, accepted) in [("evidence", EVIDENCE_PATHS), ("operation", OPERATION_PATHS)] {
        let mut listed = Vec::new();
        schema_paths(&s["$defs"]["example"]["properties"][what], "", &mut listed);
        let mut want: Vec<String> = accepted.iter().map(|p| p.to_string()).collect();
        listed.sort();
        want.sort();
        assert_eq!(listed, want, "the schema's example {what}");
        let text = s["$defs"]["condition"]["properties"][what]["description"]
            .as_str()
            .unwrap();
        for p in accepted {
            let p = p.replace('*', "NAME");
            assert!(
                text.contains(&p),
                "the {what} condition's description lacks {p}"
            );
        }
    }
}

//! What a rule file's author reads when it does not load: parse and serde errors restated in
//! the file's terms (keys, tables, lists; not Rust's types), and the load-time analyses that
//! say where a template's name goes unbound. Only called on the error paths, or per file.

use std::ops::Range;

use toml::de::DeValue;
use toml::Spanned;

use super::matcher::{self, Source};
use super::schema::{CondDef, FieldDef};

/// The keys whose value is a list of tables, written `[[a.b]]`.
const LIST_KEYS: &[&str] = &["rules", "examples", "variants", "any", "all"];

/// A TOML syntax error's message. A duplicate key is named (the parser says only "duplicate
/// key"), and a table header written twice gets the fix it most likely needs: double brackets
/// for an entry of a list (`[rules.examples]` twice), or the key it misspells.
pub fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim();
    let Some(span) = e.span().filter(|_| msg == "duplicate key") else {
        return msg.to_owned();
    };
    let key = text
        .get(span.clone())
        .unwrap_or("")
        .trim_matches(['"', '\'']);
    let line_start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let line = line.split('#').next().unwrap_or("").trim();
    if !line.starts_with('[') {
        return format!("duplicate key `{key}`: it is set twice in the same table");
    }
    let header = line.trim_matches(['[', ']']).trim();
    let segs: Vec<&str> = header.split('.').map(str::trim).collect();
    if LIST_KEYS.contains(&key) {
        return format!(
            "duplicate key `{key}`: [{header}] is a single table and can be defined once; \
             write [[{header}]], with double brackets, for each entry of the list"
        );
    }
    let fixed: Vec<&str> = segs
        .iter()
        .map(|s| match *s {
            "rule" => "rules",
            "example" => "examples",
            "variant" => "variants",
            s => s,
        })
        .collect();
    let hint = if fixed != segs {
        format!(" (did you mean [{}]?)", fixed.join("."))
    } else {
        String::new()
    };
    format!("duplicate key `{key}`: table [{header}] is defined twice{hint}")
}

/// An unknown key at the top of a file: blamed on the file, not on the rule above it.
pub fn unknown_top_key(key: &str) -> String {
    let hint = if key.starts_with("rule") || key == "when" || key.starts_with("example") {
        " (a rule's own keys and tables are under `rules`: [[rules]], [rules.when], \
         [[rules.examples]])"
    } else {
        ""
    };
    format!("unknown key `{key}` at the top level of the file, expected `version` or `rules`{hint}")
}

/// `rules` given as something other than a list of tables.
pub fn rules_not_a_list(v: &DeValue<'_>) -> String {
    match v {
        DeValue::Table(_) => "rules: expected a list of rules, got a single table; write \
                              [[rules]], with double brackets, before each rule"
            .to_owned(),
        other => format!(
            "rules: expected a list of rules ([[rules]] tables), got {}",
            kind(other)
        ),
    }
}

fn kind(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("a string {s:?}"),
        DeValue::Integer(i) => format!("an integer {i}"),
        DeValue::Float(f) => format!("a float {f}"),
        DeValue::Boolean(b) => format!("a boolean {b}"),
        DeValue::Datetime(d) => format!("a date-time {d}"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// The `id` of a rule's table, when it is a string.
pub fn id_of(entry: &Spanned<DeValue<'_>>) -> Option<String> {
    let DeValue::Table(t) = entry.get_ref() else {
        return None;
    };
    t.iter().find_map(|(k, v)| match v.get_ref() {
        DeValue::String(s) if k.get_ref() == "id" => Some(s.to_string()),
        _ => None,
    })
}

/// A deserialization error of `tree` (whose own key is `key`) in the file's terms: serde's
/// "invalid type: integer `5`, expected i32" becomes "priority: expected an integer from …,
/// got an integer 5", the key found by the error's span.
pub fn serde_message(e: &toml::de::Error, tree: &Spanned<DeValue<'_>>, key: &str) -> String {
    let key = e.span().and_then(|span| key_at(tree, &span, key));
    plain(e.message().trim(), key.as_deref())
}

/// The key of the deepest value of `v` at exactly `span` (an array's elements have its key).
fn key_at(v: &Spanned<DeValue<'_>>, span: &Range<usize>, key: &str) -> Option<String> {
    let inner = match v.get_ref() {
        DeValue::Table(t) => t.iter().find_map(|(k, x)| key_at(x, span, k.get_ref())),
        DeValue::Array(a) => a.iter().find_map(|x| key_at(x, span, key)),
        _ => None,
    };
    inner.or_else(|| (v.span() == *span).then(|| key.to_owned()))
}

fn plain(msg: &str, key: Option<&str>) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        let Some(rest) = msg.strip_prefix(prefix) else {
            continue;
        };
        let Some(i) = rest.rfind(", expected ") else {
            continue;
        };
        let (got, exp) = (&rest[..i], &rest[i + ", expected ".len()..]);
        let s = format!("expected {}, got {}", expected(exp, key), got_text(got));
        return match key {
            Some(k) => format!("{k}: {s}"),
            None => s,
        };
    }
    msg.to_owned()
}

/// What serde says it expected, in the file's terms.
fn expected(exp: &str, key: Option<&str>) -> String {
    match exp {
        "i32" => "an integer from -2147483648 to 2147483647",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "i64" => "an integer",
        "u8" | "u64" | "usize" => "an integer of 0 or more",
        "f32" | "f64" => "a number",
        "a map" => "a table",
        "a sequence" => match key {
            Some("all" | "any") => "a list of condition tables ([ { … }, { … } ])",
            Some("sources") => "a list of source keys ([\"GCS\"])",
            Some("examples") => "a list of examples ([[rules.examples]] tables)",
            Some("variants") => "a list of variants ([[rules.variants]] tables)",
            Some("one_of") => "a list of values",
            _ => "an array",
        },
        other => other,
    }
    .to_owned()
}

/// What serde says it got ("integer `5`", "sequence"), in the file's terms.
fn got_text(got: &str) -> String {
    let quoted = |p: &str| got.strip_prefix(p).map(|v| v.trim_matches('`').to_owned());
    if let Some(v) = quoted("integer ") {
        format!("an integer {v}")
    } else if let Some(v) = quoted("floating point ") {
        format!("a float {v}")
    } else if let Some(v) = quoted("boolean ") {
        format!("a boolean {v}")
    } else if got.starts_with("string ") {
        format!("a {got}")
    } else {
        match got {
            "sequence" => "an array".to_owned(),
            "map" => "a table".to_owned(),
            other => other.to_owned(),
        }
    }
}

/// The names a field test binds: its `capture` and its regex's named groups.
fn field_names(f: &FieldDef) -> Vec<String> {
    let mut out: Vec<String> = f.capture.iter().cloned().collect();
    if let Some(Ok(r)) = f.regex.as_deref().map(regex::Regex::new) {
        out.extend(r.capture_names().flatten().map(str::to_owned));
    }
    out
}

fn params(template: &str) -> Vec<String> {
    matcher::check_template(template)
        .map(|ps| ps.iter().map(|p| p.to_string()).collect())
        .unwrap_or_default()
}

/// Whether every match of `d` binds `name`, read from the condition as written (as
/// [`Cond::bound`](matcher::Cond::bound) reads the compiled one).
fn binds(d: &CondDef, name: &str) -> bool {
    let paths = d.path.as_ref().map(|p| p.get_ref().to_vec());
    d.all
        .iter()
        .flat_map(|v| v.get_ref())
        .any(|c| binds(c.get_ref(), name))
        || d.any.as_ref().is_some_and(|v| {
            !v.get_ref().is_empty() && v.get_ref().iter().all(|c| binds(c.get_ref(), name))
        })
        || paths.is_some_and(|ts| {
            !ts.is_empty() && ts.iter().all(|t| params(t).iter().any(|p| p == name))
        })
        || d.fields()
            .any(|(_, f)| field_names(f.get_ref()).iter().any(|n| n == name))
}

/// Whether `name` is captured anywhere in `d`, under a `not` too.
fn mentions(d: &CondDef, name: &str) -> bool {
    d.all
        .iter()
        .chain(&d.any)
        .flat_map(|v| v.get_ref())
        .any(|c| mentions(c.get_ref(), name))
        || d.not.as_ref().is_some_and(|n| mentions(n.get_ref(), name))
        || d.path.as_ref().is_some_and(|p| {
            p.get_ref()
                .to_vec()
                .iter()
                .any(|t| params(t).iter().any(|p| p == name))
        })
        || d.fields()
            .any(|(_, f)| field_names(f.get_ref()).iter().any(|n| n == name))
}

/// Where a condition that does not bind `name` in every match binds it in some: the `any`
/// branch or path template that lacks it, or the `not` it sits under. `line` gives a line.
pub fn why_unbound(
    c: &Spanned<CondDef>,
    name: &str,
    line: &dyn Fn(usize) -> usize,
) -> Option<String> {
    let d = c.get_ref();
    if binds(d, name) || !mentions(d, name) {
        return None;
    }
    if let Some(any) = &d.any {
        let branches = any.get_ref();
        if branches.iter().any(|b| mentions(b.get_ref(), name)) {
            if let Some((i, b)) = branches
                .iter()
                .enumerate()
                .find(|(_, b)| !binds(b.get_ref(), name))
            {
                return Some(why_unbound(b, name, line).unwrap_or_else(|| {
                    format!(
                        "`any` branch {} (line {}) does not bind it",
                        i + 1,
                        line(b.span().start)
                    )
                }));
            }
        }
    }
    if let Some(p) = &d.path {
        let ts = p.get_ref().to_vec();
        if let Some(t) = ts.iter().find(|t| !params(t).iter().any(|p| p == name)) {
            if ts.len() > 1 && ts.iter().any(|t| params(t).iter().any(|p| p == name)) {
                return Some(format!(
                    "path template {t:?} (line {}) does not bind it",
                    line(p.span().start)
                ));
            }
        }
    }
    for c in d.all.iter().flat_map(|v| v.get_ref()) {
        if let Some(why) = why_unbound(c, name, line) {
            return Some(why);
        }
    }
    if let Some(n) = &d.not {
        if mentions(n.get_ref(), name) {
            return Some(format!(
                "it is captured under `not` (line {}), which binds nothing: a `not` holds \
                 when its condition does not",
                line(n.span().start)
            ));
        }
    }
    None
}

/// Why an example's `evidence` or `operation` table holds something no condition can see:
/// a path the context document never has.
pub fn unknown_context_key(source: Source, table: &toml::Table) -> Option<String> {
    fn walk(source: Source, t: &toml::Table, at: &mut Vec<String>) -> Option<String> {
        let known = matcher::context_paths(source)?;
        for (k, v) in t {
            at.push(k.clone());
            let path: Vec<&str> = at.iter().map(String::as_str).collect();
            let ok = match v {
                toml::Value::Table(_) => matcher::is_context_table(known, &path),
                _ => matcher::is_context_leaf(known, &path),
            };
            if !ok {
                let joined = path.join(".");
                let s = source.key_name();
                return Some(match matcher::unknown_context_path(source, &joined) {
                    Some(why) => format!("{s}: {why}"),
                    None => match v {
                        toml::Value::Table(_) => format!("{s}: {joined} is a value, not a table"),
                        _ => format!("{s}: {joined} is a table ({joined}.…), not a value"),
                    },
                });
            }
            if let toml::Value::Table(inner) = v {
                if let Some(e) = walk(source, inner, at) {
                    return Some(e);
                }
            }
            at.pop();
        }
        None
    }
    walk(source, table, &mut Vec::new())
}

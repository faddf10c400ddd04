//! Compiled matchers and their evaluation over one exchange. Pure: no I/O, no async. A match
//! returns what it matched (a [`Captures`] list the templates quote), never just a bool.
//!
//! The per-exchange work is shared by all rules through [`View`]: the path is walked once through
//! one trie holding every rule's path templates, bodies are parsed once, and every regex over the
//! same value is tried first as one `RegexSet`, so adding rules does not add a pass per rule.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use regex::{Regex, RegexSet};
use serde_json::Value;

use super::lazy_json::LazyJson;
use crate::exchange::Exchange;
use crate::exchange::Shown;

/// Names and values a match bound, in binding order. Small, so a Vec beats a map. Both are
/// shared strings: names come from the rules and are bound on every match, and a rule's
/// built-in captures are copied into each of its matches, so a copy costs a reference count
/// rather than an allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures(pub Vec<(Arc<str>, Arc<str>)>);

impl Captures {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| &**n == name).map(|(_, v)| &**v)
    }
    pub fn push(&mut self, name: &Arc<str>, value: Arc<str>) {
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value;
        } else {
            self.0.push((Arc::clone(name), value));
        }
    }
    pub fn extend(&mut self, other: Captures) {
        if self.0.is_empty() {
            *self = other;
            return;
        }
        for (n, v) in other.0 {
            match self.0.iter_mut().find(|(have, _)| *have == n) {
                Some(slot) => slot.1 = v,
                None => self.0.push((n, v)),
            }
        }
    }
}

/// The names of the captures every match binds, in order: method, path, status, status_code.
static BUILTIN_NAMES: std::sync::LazyLock<[Arc<str>; 4]> =
    std::sync::LazyLock::new(|| ["method", "path", "status", "status_code"].map(Arc::from));

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Query,
    RequestHeader,
    ResponseHeader,
    RequestBody,
    ResponseBody,
    Evidence,
    Operation,
}

impl Source {
    pub fn key_name(self) -> &'static str {
        match self {
            Source::Query => "query",
            Source::RequestHeader => "request_header",
            Source::ResponseHeader => "response_header",
            Source::RequestBody => "request_body",
            Source::ResponseBody => "response_body",
            Source::Evidence => "evidence",
            Source::Operation => "operation",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Test {
    Exists,
    Missing,
    /// Equal (on the text form) to one of these.
    OneOf(Vec<String>),
    /// A whole-value regex: index into [`Matchers::regexes`].
    Regex(usize),
    Number {
        gt: Option<f64>,
        ge: Option<f64>,
        lt: Option<f64>,
        le: Option<f64>,
    },
}

#[derive(Debug, Clone)]
pub struct Field {
    pub source: Source,
    /// Header or parameter name (headers lower-cased), or a dotted JSON path split in segments.
    pub key: Vec<String>,
    pub test: Test,
    pub capture: Option<Arc<str>>,
    /// Whether the field holds a credential ([`is_secret`]): known from its name when the rule
    /// is compiled, not asked again for every response.
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Method(Vec<http::Method>),
    /// Any of these templates (ids in the shared [`PathTrie`]).
    Path(Vec<usize>),
    /// Inclusive ranges.
    Status(Vec<(u16, u16)>),
    Field(Field),
}

impl Cond {
    /// Names every match of this condition binds (any-branches: only names bound by all).
    pub fn bound(&self, m: &Matchers) -> BTreeSet<String> {
        match self {
            Cond::All(cs) => cs.iter().flat_map(|c| c.bound(m)).collect(),
            Cond::Any(cs) => {
                let mut it = cs.iter().map(|c| c.bound(m));
                let first = it.next().unwrap_or_default();
                it.fold(first, |acc, b| acc.intersection(&b).cloned().collect())
            }
            Cond::Not(_) | Cond::Method(_) | Cond::Status(_) => BTreeSet::new(),
            Cond::Path(ids) => {
                let mut it = ids.iter().map(|&i| {
                    m.trie.templates[i]
                        .params
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<BTreeSet<_>>()
                });
                let first = it.next().unwrap_or_default();
                it.fold(first, |acc, b| acc.intersection(&b).cloned().collect())
            }
            Cond::Field(f) => {
                let mut s: BTreeSet<String> = f.capture.iter().map(|c| c.to_string()).collect();
                if let Test::Regex(i) = f.test {
                    s.extend(
                        m.regexes[i]
                            .regex
                            .capture_names()
                            .flatten()
                            .map(str::to_owned),
                    );
                }
                s
            }
        }
    }

    /// Names some match of this condition may bind (any-branches: the names of each), with
    /// what a `not` encloses left out: it binds nothing.
    pub fn may_bind(&self, m: &Matchers) -> BTreeSet<String> {
        match self {
            Cond::All(cs) | Cond::Any(cs) => cs.iter().flat_map(|c| c.may_bind(m)).collect(),
            Cond::Path(ids) => ids
                .iter()
                .flat_map(|&i| m.trie.templates[i].params.iter().map(|p| p.to_string()))
                .collect(),
            _ => self.bound(m),
        }
    }

    /// The statuses this condition can match, when it constrains the status at all: lets the
    /// engine skip a rule without evaluating it.
    pub fn statuses(&self) -> Option<Vec<(u16, u16)>> {
        match self {
            Cond::Status(r) => Some(r.clone()),
            Cond::All(cs) => {
                let mut out: Option<Vec<(u16, u16)>> = None;
                for c in cs {
                    if let Some(r) = c.statuses() {
                        out = Some(match out {
                            None => r,
                            Some(prev) => intersect(&prev, &r),
                        });
                    }
                }
                out
            }
            Cond::Any(cs) => {
                let mut out = Vec::new();
                for c in cs {
                    out.extend(c.statuses()?);
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// The response `code` values this condition requires, when it requires one: lets the
    /// engine find the rules for a code by lookup instead of trying each.
    pub fn codes(&self) -> Option<Vec<String>> {
        match self {
            Cond::Field(Field {
                source: Source::ResponseBody,
                key,
                test: Test::OneOf(values),
                ..
            }) if key.len() == 1 && key[0] == "code" => Some(values.clone()),
            Cond::All(cs) => {
                let mut out: Option<Vec<String>> = None;
                for c in cs {
                    if let Some(v) = c.codes() {
                        out = Some(match out {
                            None => v,
                            Some(prev) => prev.into_iter().filter(|x| v.contains(x)).collect(),
                        });
                    }
                }
                out
            }
            Cond::Any(cs) => {
                let mut out = Vec::new();
                for c in cs {
                    out.extend(c.codes()?);
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// Counts leaf tests: a rough measure of how specific a rule is, used to order diagnoses.
    pub fn weight(&self) -> usize {
        match self {
            Cond::All(cs) | Cond::Any(cs) => cs.iter().map(Cond::weight).sum(),
            Cond::Not(c) => c.weight(),
            _ => 1,
        }
    }
}

fn intersect(a: &[(u16, u16)], b: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    for &(a0, a1) in a {
        for &(b0, b1) in b {
            let (lo, hi) = (a0.max(b0), a1.min(b1));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    out
}

/// A regex with its slot in the per-subject `RegexSet`.
#[derive(Debug, Clone)]
pub struct CompiledRegex {
    pub regex: Regex,
    /// The regex's named groups, bound as captures when it matches.
    pub names: Vec<Arc<str>>,
    pub subject: usize,
    pub slot: usize,
}

/// Everything shared by the compiled rules of one rule set.
#[derive(Debug, Clone, Default)]
pub struct Matchers {
    pub trie: PathTrie,
    pub regexes: Vec<CompiledRegex>,
    /// One set per subject (source + key), in subject order.
    pub sets: Vec<RegexSet>,
    subjects: HashMap<(Source, Vec<String>), usize>,
    pending: Vec<Vec<String>>,
}

impl Matchers {
    /// Registers a whole-value regex; returns its index. Call [`Matchers::finish`] after the last.
    pub fn add_regex(
        &mut self,
        source: Source,
        key: &[String],
        pattern: &str,
    ) -> Result<usize, regex::Error> {
        // Checked alone first: an error then shows the author's pattern, with the caret where
        // it belongs, not the wrapper's; and a pattern that only parses inside the wrapper
        // (`a)|(b`) would not be anchored as a whole.
        Regex::new(pattern)?;
        let anchored = format!("(?s)^(?:{pattern})$");
        let regex = Regex::new(&anchored)?;
        let next = self.subjects.len();
        let subject = *self.subjects.entry((source, key.to_vec())).or_insert(next);
        if subject == self.pending.len() {
            self.pending.push(Vec::new());
        }
        let slot = self.pending[subject].len();
        self.pending[subject].push(anchored);
        let names = regex.capture_names().flatten().map(Arc::from).collect();
        self.regexes.push(CompiledRegex {
            regex,
            names,
            subject,
            slot,
        });
        Ok(self.regexes.len() - 1)
    }

    /// Builds the regex sets.
    pub fn finish(&mut self) -> Result<(), regex::Error> {
        self.sets = self
            .pending
            .iter()
            .map(RegexSet::new)
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

/// Path templates of every rule in one trie. `{name}` matches one segment; a last segment
/// `{name*}` matches the rest (one or more segments).
#[derive(Debug, Clone, Default)]
pub struct PathTrie {
    nodes: Vec<Node>,
    pub templates: Vec<Template>,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub text: String,
    pub params: Vec<Arc<str>>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literal: foldhash::HashMap<String, usize>,
    param: Option<usize>,
    /// Templates ending here.
    ends: Vec<usize>,
    /// Templates ending here with a `{rest*}` segment.
    rest: Vec<usize>,
}

/// Why a path template is not valid.
pub fn check_template(t: &str) -> Result<Vec<Arc<str>>, String> {
    if !t.starts_with('/') {
        return Err(format!("path template {t:?} must start with '/'"));
    }
    if let Some((_, q)) = t.split_once('?') {
        return Err(format!(
            "path template {t:?}: a path condition never sees the query (?{q}); test it with a \
             `query` condition, like query = {{ name = \"…\", equals = \"…\" }}"
        ));
    }
    let segs: Vec<&str> = split_path(t);
    let mut params = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        if let Some(inner) = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
            let (name, rest) = match inner.strip_suffix('*') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if rest && i + 1 != segs.len() {
                return Err(format!(
                    "path template {t:?}: {{{name}*}} must be the last segment"
                ));
            }
            if !is_ident(name) {
                return Err(format!("path template {t:?}: bad parameter name {name:?}"));
            }
            if params.iter().any(|p: &Arc<str>| &**p == name) {
                return Err(format!("path template {t:?}: parameter {name:?} twice"));
            }
            params.push(Arc::from(name));
        } else if s.contains('{') || s.contains('}') {
            return Err(format!(
                "path template {t:?}: a parameter must be a whole segment, like {{id}}"
            ));
        }
    }
    Ok(params)
}

pub fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn split_path(p: &str) -> Vec<&str> {
    let p = p.strip_prefix('/').unwrap_or(p);
    let p = p.strip_suffix('/').unwrap_or(p);
    if p.is_empty() {
        Vec::new()
    } else {
        p.split('/').collect()
    }
}

impl PathTrie {
    /// Adds a template (already checked) and returns its id; equal templates share one id.
    pub fn insert(&mut self, t: &str) -> Result<usize, String> {
        if let Some(i) = self.templates.iter().position(|x| x.text == t) {
            return Ok(i);
        }
        let params = check_template(t)?;
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
        }
        let id = self.templates.len();
        let mut node = 0;
        let segs = split_path(t);
        for s in &segs {
            if s.starts_with('{') {
                if s.ends_with("*}") {
                    self.nodes[node].rest.push(id);
                    self.templates.push(Template {
                        text: t.to_owned(),
                        params,
                    });
                    return Ok(id);
                }
                node = match self.nodes[node].param {
                    Some(n) => n,
                    None => {
                        self.nodes.push(Node::default());
                        let n = self.nodes.len() - 1;
                        self.nodes[node].param = Some(n);
                        n
                    }
                };
            } else {
                let next = self.nodes.len();
                let n = *self.nodes[node]
                    .literal
                    .entry((*s).to_owned())
                    .or_insert(next);
                if n == next {
                    self.nodes.push(Node::default());
                }
                node = n;
            }
        }
        self.nodes[node].ends.push(id);
        self.templates.push(Template {
            text: t.to_owned(),
            params,
        });
        Ok(id)
    }

    /// Every template matching `path`, with its parameter values, in one walk.
    pub fn matches(&self, path: &str) -> Vec<(usize, Vec<String>)> {
        let mut out = Vec::new();
        if self.nodes.is_empty() {
            return out;
        }
        let segs = split_path(path);
        let mut vals = Vec::new();
        self.walk(0, &segs, &mut vals, &mut out);
        out
    }

    fn walk(
        &self,
        node: usize,
        segs: &[&str],
        vals: &mut Vec<String>,
        out: &mut Vec<(usize, Vec<String>)>,
    ) {
        let n = &self.nodes[node];
        if !segs.is_empty() {
            for &id in &n.rest {
                let mut v = vals.clone();
                v.push(segs.join("/"));
                out.push((id, v));
            }
        }
        let Some((first, rest)) = segs.split_first() else {
            out.extend(n.ends.iter().map(|&id| (id, vals.clone())));
            return;
        };
        if let Some(&next) = n.literal.get(*first) {
            self.walk(next, rest, vals, out);
        }
        if let Some(next) = n.param {
            if !first.is_empty() {
                vals.push((*first).to_owned());
                self.walk(next, rest, vals, out);
                vals.pop();
            }
        }
    }
}

/// What the diagnosis knows beyond the exchange itself, as JSON documents that `evidence` and
/// `operation` conditions query by dotted path: the memory of past traffic and the API
/// catalog's view of the request's operation. `Null` when unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    pub evidence: Value,
    pub operation: SharedDoc,
}

/// Every path an `evidence` condition may name: the leaves of the evidence document that
/// `diagnose::context` builds (its test checks that it builds no other). A table's own path
/// (`conversation`) names the table whole, as compact JSON.
pub const EVIDENCE_PATHS: &[&str] = &[
    "conversation.id",
    "conversation.state",
    "conversation.customer_state",
    "conversation.communication_id",
    "conversation.communication_state",
    "conversation.all_ended",
    "conversation.seen_ago",
    "conversation.age_s",
    "conversation.via",
    "token.fingerprint",
    "token.login_host",
    "token.region",
    "token.organization",
    "token.client",
    "token.scopes",
    "token.same_region",
    "repeats.count",
    "repeats.status",
    "request.region",
];

/// Every path an `operation` condition may name, as [`EVIDENCE_PATHS`] for the catalog's
/// document of the operation; `*` stands for any one segment (a path parameter's name).
pub const OPERATION_PATHS: &[&str] = &[
    "lookup",
    "catalog",
    "id",
    "signature",
    "scopes",
    "permissions",
    "params.*",
    "template",
    "allowed_methods",
    "allowed",
    "nearest",
];

/// The paths of a context document (`evidence` or `operation`), `None` for other sources.
pub fn context_paths(source: Source) -> Option<&'static [&'static str]> {
    match source {
        Source::Evidence => Some(EVIDENCE_PATHS),
        Source::Operation => Some(OPERATION_PATHS),
        _ => None,
    }
}

/// Whether `path` (split in segments) is a leaf of `known`, `*` matching any one segment.
pub fn is_context_leaf(known: &[&str], path: &[&str]) -> bool {
    known.iter().any(|k| {
        let ks: Vec<&str> = k.split('.').collect();
        ks.len() == path.len() && ks.iter().zip(path).all(|(k, p)| *k == "*" || k == p)
    })
}

/// Whether `path` is a table of `known`: a proper prefix of one of its leaves.
pub fn is_context_table(known: &[&str], path: &[&str]) -> bool {
    known.iter().any(|k| {
        let ks: Vec<&str> = k.split('.').collect();
        ks.len() > path.len() && ks.iter().zip(path).all(|(k, p)| *k == "*" || k == p)
    })
}

/// Why `path` names nothing of the `source` context document, listing the paths it has (and
/// the closest, for a typo); `None` when it names a leaf or a table of it.
pub fn unknown_context_path(source: Source, path: &str) -> Option<String> {
    let known = context_paths(source)?;
    let segs: Vec<&str> = path.split('.').collect();
    if is_context_leaf(known, &segs) || is_context_table(known, &segs) {
        return None;
    }
    let shown: Vec<String> = known.iter().map(|k| k.replace('*', "NAME")).collect();
    // The leaves and the tables above them, for the closest to a typo.
    let tables = known
        .iter()
        .flat_map(|k| k.match_indices('.').map(move |(i, _)| k[..i].to_owned()));
    let closest = shown
        .iter()
        .cloned()
        .chain(tables)
        .map(|k| (edit_distance(&k, path), k))
        .min()
        .filter(|(d, _)| *d <= 3 && *d < path.len())
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default();
    Some(format!(
        "unknown path {path:?}{closest}; the {} paths are {}",
        source.key_name(),
        shown.join(", ")
    ))
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// The context of an exchange seen with no memory and no catalog.
pub static NO_CONTEXT: Context = Context {
    evidence: Value::Null,
    operation: SharedDoc(None),
};

/// A JSON document that several exchanges may share (the catalog's answer for one operation,
/// asked again by every retry of a call); `Null` when absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedDoc(Option<std::sync::Arc<Value>>);

impl SharedDoc {
    pub fn new(v: Value) -> Self {
        SharedDoc((!v.is_null()).then(|| std::sync::Arc::new(v)))
    }
}

impl std::ops::Deref for SharedDoc {
    type Target = Value;

    fn deref(&self) -> &Value {
        static NULL: Value = Value::Null;
        self.0.as_deref().unwrap_or(&NULL)
    }
}

/// One exchange as the matchers see it, with the shared work done at most once.
pub struct View<'a> {
    pub ex: &'a Exchange,
    pub ctx: &'a Context,
    m: &'a Matchers,
    paths: OnceCell<Vec<(usize, Vec<String>)>>,
    req_body: OnceCell<Body<'a>>,
    resp_body: OnceCell<Body<'a>>,
    query: OnceCell<Vec<(String, String)>>,
    sets: Vec<OnceCell<Vec<bool>>>,
    code: OnceCell<Option<String>>,
    builtins: OnceCell<Captures>,
    /// While [`could_hold_if_shown`](Self::could_hold_if_shown) asks: the parts of the request
    /// the input did not show come out as whatever makes a condition hold.
    hopeful: Cell<bool>,
}

enum Body<'a> {
    Json(LazyJson<'a>),
    Form(Vec<(String, String)>),
    None,
}

impl<'a> View<'a> {
    pub fn new(ex: &'a Exchange, m: &'a Matchers) -> Self {
        Self::with_context(ex, &NO_CONTEXT, m)
    }

    pub fn with_context(ex: &'a Exchange, ctx: &'a Context, m: &'a Matchers) -> Self {
        View {
            ex,
            ctx,
            m,
            paths: OnceCell::new(),
            req_body: OnceCell::new(),
            resp_body: OnceCell::new(),
            query: OnceCell::new(),
            sets: (0..m.sets.len()).map(|_| OnceCell::new()).collect(),
            code: OnceCell::new(),
            builtins: OnceCell::new(),
            hopeful: Cell::new(false),
        }
    }

    /// Whether the request showed less than all of itself: its headers or body unknown, or
    /// its body held only in part.
    pub fn request_partly_shown(&self) -> bool {
        self.ex.request.shown != Shown::All || !self.ex.request.body.complete
    }

    /// Whether a condition that does not hold might have, had the input shown the whole
    /// request: it holds when what the input left out of the request is taken for whatever
    /// suits it. Kleene's logic again: false, not unknown, is what this rules out.
    pub fn could_hold_if_shown(&self, c: &Cond) -> bool {
        self.hopeful.set(true);
        let held = self.eval(c).is_some();
        self.hopeful.set(false);
        held
    }

    /// The response body's `code`, the key of the engine's code index.
    pub fn response_code(&self) -> Option<&str> {
        self.code
            .get_or_init(|| {
                self.value(Source::ResponseBody, &["code".to_owned()])
                    .map(Cow::into_owned)
            })
            .as_deref()
    }

    /// The captures every matching rule has: `method`, `path`, `status` and
    /// `status_code` (`409 request.conflict`), formatted once per exchange and shared by every
    /// rule that matches it; `method` and `path` only when the exchange has them.
    pub fn builtins(&self) -> &Captures {
        self.builtins.get_or_init(|| {
            let ex = self.ex;
            let status = ex.status().map(|s| s.to_string()).unwrap_or_default();
            let status_code = match self.response_code() {
                // Reports sanitise every text they emit; here only the length is bounded.
                Some(code) => {
                    let code = code
                        .char_indices()
                        .nth(120)
                        .map_or(code, |(i, _)| &code[..i]);
                    let mut s = String::with_capacity(status.len() + 1 + code.len());
                    s.push_str(&status);
                    s.push(' ');
                    s.push_str(code);
                    s
                }
                None => status.clone(),
            };
            let [method, path, status_name, status_code_name] = &*BUILTIN_NAMES;
            let mut caps = Vec::with_capacity(4);
            // A method or path the input did not give (a bare error body) is left unbound
            // rather than quoted: templates then say so (`Template::render`), and evidence
            // never cites a request nobody saw.
            if ex.request.method_known() {
                caps.push((method.clone(), ex.request.method.as_str().into()));
            }
            if ex.request.path_known() {
                caps.push((path.clone(), ex.request.path.as_str().into()));
            }
            caps.push((status_name.clone(), status.into()));
            caps.push((status_code_name.clone(), status_code.into()));
            Captures(caps)
        })
    }

    /// Evaluates a condition; `Some` with what it bound when it holds. A condition that turns
    /// on what the input did not show (the headers or body of a request nobody saw) does not
    /// hold, and neither does its negation.
    pub fn eval(&self, c: &Cond) -> Option<Captures> {
        self.eval_as(c, false)
    }

    /// `negated`: whether an odd number of `not`s encloses `c`. A field the input did not show
    /// then comes out as whatever makes the whole condition fail: absent where it counts for
    /// the condition, present under a `not`. That is Kleene's three-valued logic, with unknown
    /// taken for false at the top, at the cost of one flag.
    fn eval_as(&self, c: &Cond, negated: bool) -> Option<Captures> {
        match c {
            Cond::All(cs) => {
                let mut caps = Captures::default();
                for c in cs {
                    caps.extend(self.eval_as(c, negated)?);
                }
                Some(caps)
            }
            Cond::Any(cs) => cs.iter().find_map(|c| self.eval_as(c, negated)),
            Cond::Not(c) => match self.eval_as(c, !negated) {
                Some(_) => None,
                None => Some(Captures::default()),
            },
            Cond::Field(f) if self.hidden(f) => {
                // A GET or HEAD is taken to have had no body here: no Platform API operation
                // reads one, and no SDK sends one. This only spares a note; the diagnosis still
                // takes the body for unknown.
                let bodiless = matches!(
                    self.ex.request.method,
                    http::Method::GET | http::Method::HEAD
                );
                let of_request = match f.source {
                    Source::RequestHeader => true,
                    Source::RequestBody => !bodiless,
                    _ => false,
                };
                if self.hopeful.get() && of_request {
                    (!negated).then(Captures::default)
                } else {
                    negated.then(Captures::default)
                }
            }
            c => self.eval_leaf(c),
        }
    }

    /// Whether the field is one the input may have left out (of the request, or of a body it
    /// holds only a part of): then what the exchange holds of it settles nothing.
    fn hidden(&self, f: &Field) -> bool {
        let shown = self.ex.request.shown;
        match f.source {
            // A body held only in part (over a size limit, or a HAR entry saved without its
            // content) may hold anything in the rest.
            Source::RequestBody => {
                matches!(shown, Shown::HeadOnly | Shown::MethodAndUrl)
                    || !self.ex.request.body.complete
            }
            Source::ResponseBody => self.ex.response.as_ref().is_some_and(|r| !r.body.complete),
            // A bare error body shows no headers: one it lacks may have been sent.
            Source::ResponseHeader => self.ex.response.as_ref().is_some_and(|r| {
                !r.headers_shown
                    && f.key
                        .first()
                        .is_none_or(|name| !r.headers.contains_key(name.as_str()))
            }),
            Source::RequestHeader => {
                shown != Shown::All
                    && f.key.first().is_some_and(|name| {
                        shown.may_lack_header(name)
                            && !self.ex.request.headers.contains_key(name.as_str())
                    })
            }
            _ => false,
        }
    }

    /// A condition that combines no others, on what the input showed: the method, path and
    /// status are what it said (or `UNKNOWN`, `""`, which no condition takes for a real one).
    fn eval_leaf(&self, c: &Cond) -> Option<Captures> {
        match c {
            // Combinations are [`eval_as`](Self::eval_as)'s.
            Cond::All(_) | Cond::Any(_) | Cond::Not(_) => self.eval(c),
            Cond::Method(ms) => ms.contains(&self.ex.request.method).then(Captures::default),
            Cond::Status(ranges) => {
                let s = self.ex.status()?;
                ranges
                    .iter()
                    .any(|&(lo, hi)| lo <= s && s <= hi)
                    .then(Captures::default)
            }
            Cond::Path(ids) => {
                let hits = self
                    .paths
                    .get_or_init(|| self.m.trie.matches(&self.ex.request.path));
                ids.iter().find_map(|id| {
                    let (_, vals) = hits.iter().find(|(h, _)| h == id)?;
                    let t = &self.m.trie.templates[*id];
                    let mut caps = Captures::default();
                    for (n, v) in t.params.iter().zip(vals) {
                        caps.push(n, percent_decode(v).into());
                    }
                    Some(caps)
                })
            }
            Cond::Field(f) => self.field(f),
        }
    }

    /// Why `c` does not hold here, for `triage rules test`: the first condition of an `all`
    /// that fails, every alternative of an `any`, and for a test on a field what it wanted
    /// against what the exchange has. Only called once a rule has not matched.
    pub fn why_not(&self, c: &Cond) -> String {
        match c {
            Cond::All(cs) => cs
                .iter()
                .find(|c| self.eval(c).is_none())
                .map_or_else(|| "every condition holds".to_owned(), |c| self.why_not(c)),
            Cond::Any(cs) => {
                let each: Vec<String> = cs.iter().map(|c| self.why_not(c)).collect();
                format!("no alternative of an `any` holds ({})", each.join("; "))
            }
            Cond::Not(inner) => format!("a `not` condition holds: {}", self.describe(inner)),
            Cond::Method(ms) => format!(
                "method: wanted {}, got {}",
                ms.iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                self.ex.request.method
            ),
            Cond::Status(ranges) => format!(
                "status: wanted {}, got {}",
                ranges
                    .iter()
                    .map(|&(lo, hi)| if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    })
                    .collect::<Vec<_>>()
                    .join(" or "),
                self.ex
                    .status()
                    .map_or("no response".to_owned(), |s| s.to_string())
            ),
            Cond::Path(ids) => format!(
                "path: wanted {}, got {:?}",
                ids.iter()
                    .map(|&i| self.m.trie.templates[i].text.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                self.ex.request.path
            ),
            Cond::Field(f) if self.hidden(f) => format!(
                "{}: not shown by the example (its request or response leaves it out)",
                field_name(f)
            ),
            Cond::Field(f) => {
                let got = match self.value(f.source, &f.key) {
                    None => "it is absent".to_owned(),
                    Some(v) if f.secret => format!("a value of {} characters", v.chars().count()),
                    Some(v) if v.chars().count() > 120 => {
                        format!("got {:?}…", v.chars().take(120).collect::<String>())
                    }
                    Some(v) => format!("got {v:?}"),
                };
                format!(
                    "{}: wanted {}, {got}",
                    field_name(f),
                    self.test_text(&f.test)
                )
            }
        }
    }

    /// A condition as a reader of the rule would name it, for [`why_not`](Self::why_not).
    fn describe(&self, c: &Cond) -> String {
        match c {
            Cond::Field(f) => format!("{} {}", field_name(f), self.test_text(&f.test)),
            Cond::Method(ms) => format!(
                "method {}",
                ms.iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            Cond::Status(_) => "its status test".to_owned(),
            Cond::Path(_) => "its path test".to_owned(),
            Cond::All(_) | Cond::Any(_) | Cond::Not(_) => "its conditions".to_owned(),
        }
    }

    fn test_text(&self, t: &Test) -> String {
        match t {
            Test::Exists => "present".to_owned(),
            Test::Missing => "absent".to_owned(),
            Test::OneOf(o) if o.len() == 1 => format!("{:?}", o[0]),
            Test::OneOf(o) => format!("one of {o:?}"),
            Test::Regex(i) => {
                let p = self.m.regexes[*i].regex.as_str();
                // The whole-value wrapper the loader puts round the rule's pattern.
                let p = p
                    .strip_prefix("(?s)^(?:")
                    .and_then(|p| p.strip_suffix(")$"))
                    .unwrap_or(p);
                format!("a match of /{p}/")
            }
            Test::Number { gt, ge, lt, le } => {
                let parts: Vec<String> = [("> ", gt), (">= ", ge), ("< ", lt), ("<= ", le)]
                    .into_iter()
                    .filter_map(|(op, v)| v.map(|v| format!("{op}{v}")))
                    .collect();
                format!("a number {}", parts.join(" and "))
            }
        }
    }

    fn field(&self, f: &Field) -> Option<Captures> {
        let value = self.value(f.source, &f.key);
        let secret = f.secret;
        let mut caps = Captures::default();
        match (&f.test, &value) {
            (Test::Missing, None) => return Some(caps),
            (Test::Missing, Some(_)) | (_, None) => return None,
            (Test::Exists, Some(_)) => {}
            (Test::OneOf(options), Some(v)) => {
                if !options.iter().any(|o| o.as_str() == v.as_ref()) {
                    return None;
                }
            }
            (Test::Number { gt, ge, lt, le }, Some(v)) => {
                let n: f64 = v.trim().parse().ok()?;
                let ok = gt.is_none_or(|x| n > x)
                    && ge.is_none_or(|x| n >= x)
                    && lt.is_none_or(|x| n < x)
                    && le.is_none_or(|x| n <= x);
                if !ok {
                    return None;
                }
            }
            (Test::Regex(i), Some(v)) => {
                let r = &self.m.regexes[*i];
                let hits = self.sets[r.subject].get_or_init(|| {
                    let set = &self.m.sets[r.subject];
                    let found = set.matches(v.as_ref());
                    (0..set.len()).map(|k| found.matched(k)).collect()
                });
                if !hits[r.slot] {
                    return None;
                }
                if !r.names.is_empty() {
                    let c = r.regex.captures(v.as_ref())?;
                    for n in &r.names {
                        let text = c.name(n).map(|m| m.as_str()).unwrap_or("");
                        caps.push(n, shown(f, secret, text));
                    }
                }
            }
        }
        if let (Some(name), Some(v)) = (&f.capture, value) {
            caps.push(name, shown(f, secret, &v));
        }
        Some(caps)
    }

    /// The text form of a field: strings as they are, numbers and booleans as written, objects
    /// and arrays as compact JSON. Secrets come back as they are, for matching (a malformed
    /// Basic credential is a diagnosis); only captures are redacted, so no rule can quote one.
    fn value(&self, source: Source, key: &[String]) -> Option<Cow<'_, str>> {
        let first = key.first()?;
        match source {
            Source::RequestHeader | Source::ResponseHeader => {
                let headers = if source == Source::RequestHeader {
                    &self.ex.request.headers
                } else {
                    &self.ex.response.as_ref()?.headers
                };
                let mut vals = headers.get_all(first.as_str()).iter();
                let one = String::from_utf8_lossy(vals.next()?.as_bytes());
                // Repeated headers read as one comma-joined value.
                let rest: Vec<_> = vals
                    .map(|v| String::from_utf8_lossy(v.as_bytes()))
                    .collect();
                if rest.is_empty() {
                    return Some(one);
                }
                let mut all = one.into_owned();
                for v in rest {
                    all.push_str(", ");
                    all.push_str(&v);
                }
                Some(Cow::Owned(all))
            }
            Source::Query => {
                let q = self.query.get_or_init(|| {
                    self.ex
                        .request
                        .query
                        .as_deref()
                        .map(parse_form)
                        .unwrap_or_default()
                });
                lookup_pairs(q, first)
            }
            Source::RequestBody => {
                let b = self.req_body.get_or_init(|| {
                    let r = &self.ex.request;
                    let form = r
                        .headers
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|ct| {
                            ct.to_ascii_lowercase()
                                .starts_with("application/x-www-form-urlencoded")
                        });
                    if form {
                        Body::Form(parse_form(&r.body.text()))
                    } else {
                        lazy_json(&r.body).map_or(Body::None, Body::Json)
                    }
                });
                body_value(b, key)
            }
            Source::ResponseBody => {
                let b = self.resp_body.get_or_init(|| {
                    self.ex
                        .response
                        .as_ref()
                        .and_then(|r| lazy_json(&r.body))
                        .map(Body::Json)
                        .unwrap_or(Body::None)
                });
                body_value(b, key)
            }
            Source::Evidence => json_value(&self.ctx.evidence, key),
            Source::Operation => json_value(&self.ctx.operation, key),
        }
    }
}

fn lookup_pairs<'p>(pairs: &'p [(String, String)], key: &str) -> Option<Cow<'p, str>> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| Cow::Borrowed(v.as_str()))
}

/// Whether a field holds a credential, by the one policy of [`crate::redact`].
pub fn is_secret(source: Source, key: &[String]) -> bool {
    let last = key.last().map(String::as_str).unwrap_or("");
    match source {
        Source::RequestHeader | Source::ResponseHeader => crate::redact::is_secret_header(last),
        Source::Query => crate::redact::is_secret_param(last),
        // A request body may be a form carrying an OAuth `code`: the strict list. In the API's
        // JSON responses `code` is the error code.
        Source::RequestBody => crate::redact::is_secret_param(last),
        Source::ResponseBody => crate::redact::is_secret_json_key(last),
        // Built by triage from redacted facts: nothing secret in them.
        Source::Evidence | Source::Operation => false,
    }
}

/// What a capture may show of a value.
fn shown(f: &Field, secret: bool, v: &str) -> Arc<str> {
    if !secret {
        return v.into();
    }
    match f.source {
        Source::RequestHeader | Source::ResponseHeader => {
            (*crate::redact::header_value(&f.key[0], v.as_bytes())).into()
        }
        _ => format!("[redacted {}]", crate::redact::fingerprint(v.as_bytes())).into(),
    }
}

fn body_value<'b>(b: &'b Body<'_>, key: &[String]) -> Option<Cow<'b, str>> {
    match b {
        Body::None => None,
        Body::Form(pairs) => {
            if key.len() != 1 {
                return None;
            }
            lookup_pairs(pairs, &key[0])
        }
        Body::Json(v) => v.text_at(key),
    }
}

/// A complete body read as JSON, as [`BodyPrefix::json`](crate::exchange::BodyPrefix::json)
/// would.
fn lazy_json(b: &crate::exchange::BodyPrefix) -> Option<LazyJson<'_>> {
    if !b.complete || b.bytes.is_empty() {
        return None;
    }
    LazyJson::parse(&b.bytes)
}

/// A value at a dotted path of a JSON document, as text; `null` counts as absent.
fn json_value<'v>(v: &'v Value, key: &[String]) -> Option<Cow<'v, str>> {
    let mut cur = v;
    for seg in key {
        cur = match cur {
            Value::Object(o) => o.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match cur {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// `a=1&b=x+y` → pairs, percent-decoded (`+` is a space in forms and queries).
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    crate::redact::form_fields(s)
        .map(|(k, v)| {
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Lossy percent-decoding: a malformed escape is kept as written.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(n) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `response_body.code`, `request_header.authorization`: a field as the rule file names it.
fn field_name(f: &Field) -> String {
    format!("{}.{}", f.source.key_name(), f.key.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_matches_params_and_literals_together() {
        let mut t = PathTrie::default();
        let a = t
            .insert("/api/v2/conversations/messages/{conversationId}")
            .unwrap();
        let b = t
            .insert("/api/v2/conversations/messages/agentless")
            .unwrap();
        let c = t.insert("/api/v2/communications/{rest*}").unwrap();
        let m = t.matches("/api/v2/conversations/messages/agentless");
        assert!(m.contains(&(a, vec!["agentless".into()])));
        assert!(m.contains(&(b, vec![])));
        assert_eq!(
            t.matches("/api/v2/communications/guests/g1"),
            vec![(c, vec!["guests/g1".into()])]
        );
        assert!(t.matches("/api/v2/communications").is_empty());
        assert!(t.matches("/api/v2/conversations/messages/x/y").is_empty());
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(check_template("/a/{x}/{x}").is_err());
        assert!(check_template("/a/x{y}").is_err());
        assert!(check_template("/a/{r*}/b").is_err());
        assert!(check_template("a").is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(
            parse_form("grant_type=client_credentials&x=a+b"),
            vec![
                ("grant_type".into(), "client_credentials".into()),
                ("x".into(), "a b".into())
            ]
        );
    }
}

//! The API catalog: what triage knows of Platform API operations — method, path template,
//! operationId, accepted OAuth scopes, required permissions, documented error codes. Pure data
//! and lookups; loading from documents is in [`load`], fetching and caching in [`fetch`].
//!
//! Lookups answer the questions a diagnosis asks: which operation is this request
//! ([`Catalog::lookup`]), is the path real but the method wrong, and which real operations are
//! nearest to a path that does not exist ([`Catalog::nearest`]).

pub mod fetch;
pub mod load;

use std::collections::HashMap;

use http::Method;

/// Whether all or any one of the listed permissions is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PermissionMode {
    All,
    Any,
}

/// What an operation's security needs. `None` in a field means the source did not say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Operation {
    pub id: String,
    #[serde(serialize_with = "ser_method")]
    pub method: Method,
    /// Path template, e.g. `/api/v2/conversations/messages/{conversationId}`.
    pub path: String,
    pub summary: Option<String>,
    /// Accepted OAuth scopes (any one suffices); `None` when unknown. Non-OAuth schemes are
    /// kept as `<Scheme-Name>`.
    pub scopes: Option<Vec<String>>,
    /// Required permissions: `None` when the source does not say, `Some(None)` when none are
    /// required, else the mode and the list.
    pub permissions: Option<Option<(PermissionMode, Vec<String>)>>,
    /// Documented error codes: (status, code, message).
    pub error_codes: Vec<(u16, String, String)>,
    pub deprecated: bool,
}

fn ser_method<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

impl Operation {
    /// `POST /api/v2/...` as people write it.
    pub fn signature(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Scopes as a human list, or why there is none.
    pub fn scopes_text(&self) -> String {
        match &self.scopes {
            None => "unknown".into(),
            Some(s) if s.is_empty() => "none".into(),
            Some(s) => s.join(", "),
        }
    }

    pub fn permissions_text(&self) -> String {
        match &self.permissions {
            None => "unknown".into(),
            Some(None) => "none".into(),
            Some(Some((mode, p))) => {
                let m = match mode {
                    PermissionMode::All => "all of",
                    PermissionMode::Any => "any of",
                };
                format!("{m}: {}", p.join(", "))
            }
        }
    }
}

/// Where a catalog came from, for people to judge how complete it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The compact messaging catalog compiled into triage.
    Builtin,
    /// A document given with `--spec` or read from the cache.
    File(String),
    /// The upstream's own `GET /api/v2/docs/swagger`, fetched at the given time (RFC 3339).
    Upstream { url: String, fetched: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin => write!(f, "built-in messaging catalog"),
            Source::File(p) => write!(f, "{p}"),
            Source::Upstream { url, fetched } => write!(f, "{url} (fetched {fetched})"),
        }
    }
}

/// The answer of [`Catalog::lookup`].
#[derive(Debug)]
pub enum Lookup<'a> {
    /// The request is this operation; `params` are the path template's values.
    Found {
        op: &'a Operation,
        params: Vec<(String, String)>,
    },
    /// The path is real but not with this method (405-style).
    WrongMethod {
        path: String,
        allowed: Vec<&'a Operation>,
    },
    /// No operation has this path.
    NotFound,
}

#[derive(Debug, Default)]
struct Node {
    literal: HashMap<String, Node>,
    param: Option<(String, Box<Node>)>,
    /// Operation indexes at this path, by method.
    ops: Vec<usize>,
    template: Option<String>,
}

#[derive(Debug)]
pub struct Catalog {
    ops: Vec<Operation>,
    by_id: HashMap<String, usize>,
    root: Node,
    pub source: Source,
}

impl Catalog {
    pub fn new(mut ops: Vec<Operation>, source: Source) -> Self {
        ops.sort_by(|a, b| {
            a.path
                .cmp(&b.path)
                .then_with(|| a.method.as_str().cmp(b.method.as_str()))
        });
        ops.dedup_by(|a, b| a.path == b.path && a.method == b.method);
        let mut root = Node::default();
        let mut by_id = HashMap::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            by_id.insert(op.id.clone(), i);
            let mut node = &mut root;
            for seg in segments(&op.path) {
                node = match param_name(seg) {
                    Some(name) => {
                        // Genesys names the same position differently across operations
                        // (`{conversationId}` vs `{id}`): one param child per position.
                        &mut *node
                            .param
                            .get_or_insert_with(|| (name.to_owned(), Box::default()))
                            .1
                    }
                    None => node.literal.entry(seg.to_owned()).or_default(),
                };
            }
            node.ops.push(i);
            node.template.get_or_insert_with(|| op.path.clone());
        }
        Catalog {
            ops,
            by_id,
            root,
            source,
        }
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    pub fn get(&self, id: &str) -> Option<&Operation> {
        self.by_id.get(id).map(|&i| &self.ops[i]).or_else(|| {
            // operationIds are camelCase; people type them in any case.
            self.ops.iter().find(|o| o.id.eq_ignore_ascii_case(id))
        })
    }

    /// Which operation a request is. Literal segments win over parameters, as in the API's
    /// own routing (`/messages/agentless` is not `/messages/{conversationId}`).
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_> {
        let path = path.split('?').next().unwrap_or(path);
        let segs: Vec<&str> = segments(path).collect();
        let mut params = Vec::new();
        let Some(node) = walk(&self.root, &segs, &mut params) else {
            return Lookup::NotFound;
        };
        let here: Vec<&Operation> = node.ops.iter().map(|&i| &self.ops[i]).collect();
        match here.iter().find(|o| {
            o.method == *method
                || (method == Method::HEAD
                    && o.method == Method::GET
                    && !here.iter().any(|x| x.method == Method::HEAD))
        }) {
            Some(op) => {
                // Name the values by the matched operation's own template.
                let names: Vec<&str> = segments(&op.path).filter_map(param_name).collect();
                params.reverse();
                let params = names
                    .iter()
                    .map(|n| n.to_string())
                    .zip(params.into_iter().map(str::to_owned))
                    .collect();
                Lookup::Found { op, params }
            }
            None => Lookup::WrongMethod {
                path: node.template.clone().unwrap_or_else(|| path.to_owned()),
                allowed: here,
            },
        }
    }

    /// Real operations nearest to a path that is not one: by shared segments (literal matches
    /// weigh most, near-spellings count), the method as a tie-breaker, then how closely the
    /// segments that differ are spelt, position by position. Best first.
    pub fn nearest(&self, method: &Method, path: &str, n: usize) -> Vec<&Operation> {
        let path = path.split('?').next().unwrap_or(path);
        let want: Vec<&str> = segments(path).collect();
        let mut scored: Vec<(f64, f64, &Operation)> = self
            .ops
            .iter()
            .filter(|o| !o.deprecated)
            .map(|o| {
                (
                    similarity(&want, &o.path) + if o.method == *method { 0.05 } else { 0.0 },
                    misspelling(&want, &o.path),
                    o,
                )
            })
            .filter(|(s, _, _)| *s >= 0.5)
            .collect();
        scored.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
                .then_with(|| a.2.path.len().cmp(&b.2.path.len()))
        });
        scored.into_iter().take(n).map(|(_, _, o)| o).collect()
    }

    /// Operations whose id, path or summary contain every word of `text` (case-insensitive).
    pub fn search(&self, text: &str) -> Vec<&Operation> {
        let words: Vec<String> = text
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        self.ops
            .iter()
            .filter(|o| {
                let hay = format!(
                    "{} {} {} {}",
                    o.id,
                    o.method,
                    o.path,
                    o.summary.as_deref().unwrap_or("")
                )
                .to_ascii_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect()
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn param_name(seg: &str) -> Option<&str> {
    seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
}

/// Depth-first, literal before parameter; collects parameter values in reverse order.
fn walk<'n, 'p>(node: &'n Node, segs: &[&'p str], params: &mut Vec<&'p str>) -> Option<&'n Node> {
    let Some((first, rest)) = segs.split_first() else {
        return (!node.ops.is_empty()).then_some(node);
    };
    if let Some(child) = node.literal.get(*first) {
        if let Some(found) = walk(child, rest, params) {
            return Some(found);
        }
    }
    if let Some((_, child)) = &node.param {
        if let Some(found) = walk(child, rest, params) {
            params.push(first);
            return Some(found);
        }
    }
    None
}

/// 0..1: how alike a concrete path is to a template. The `/api/v2` prefix says nothing; the
/// area (`conversations`, `webdeployments`) must match, near-spellings of other words count
/// (`messaging` ~ `messages`), id-looking values are not words. A wrong suggestion is worse
/// than none, so the bar is high.
fn similarity(want: &[&str], template: &str) -> f64 {
    let strip = |v: Vec<&'_ str>| -> Vec<String> {
        let v: Vec<String> = v.into_iter().map(|s| s.to_ascii_lowercase()).collect();
        if v.len() >= 2 && v[0] == "api" && v[1] == "v2" {
            v[2..].to_vec()
        } else {
            v
        }
    };
    let want = strip(want.to_vec());
    let have = strip(segments(template).collect());
    let (Some(w0), Some(h0)) = (want.first(), have.first()) else {
        return 0.0;
    };
    if word_similarity(w0, h0) < 0.8 {
        return 0.0;
    }
    let want_words: Vec<&String> = want.iter().filter(|w| !looks_like_id(w)).collect();
    let have_words: Vec<&String> = have.iter().filter(|h| param_name(h).is_none()).collect();
    let matched: f64 = want_words
        .iter()
        .map(|w| {
            have_words
                .iter()
                .map(|h| {
                    let s = word_similarity(w, h);
                    if s >= 1.0 {
                        1.0
                    } else if s >= 0.6 {
                        s * 0.8
                    } else {
                        0.0
                    }
                })
                .fold(0.0, f64::max)
        })
        .sum();
    let denom = want_words.len().max(have_words.len()).max(1) as f64;
    let shape = if want.len() == have.len() { 0.05 } else { 0.0 };
    matched / denom + shape
}

/// How far a concrete path is from a template where they differ, segment by segment in place:
/// 0 for none, up to 1 per literal segment spelt otherwise, 1 per segment only one of them has.
/// [`similarity`] compares words wherever they stand, so `.../m1/message` matches the
/// `messages` of `/conversations/messages/...` as well in every template of that area, and
/// `.../typing` tied with `.../messages`; in place, `message` is next to `messages` and far
/// from `typing`. Parameters take any value, so they never differ.
fn misspelling(want: &[&str], template: &str) -> f64 {
    let have: Vec<&str> = segments(template).collect();
    let aligned: f64 = want
        .iter()
        .zip(&have)
        .filter(|(_, h)| param_name(h).is_none())
        .map(|(w, h)| {
            if w.eq_ignore_ascii_case(h) {
                0.0
            } else {
                1.0 - word_similarity(&w.to_ascii_lowercase(), &h.to_ascii_lowercase())
            }
        })
        .sum();
    aligned + want.len().abs_diff(have.len()) as f64
}

fn word_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let d = crate::spelling::edit_distance(a, b);
    1.0 - d as f64 / a.len().max(b.len()).max(1) as f64
}

/// Whether a path segment looks like an id (a GUID, a number) rather than a word.
pub fn looks_like_id(s: &str) -> bool {
    // Past `/api/v2`, the API's own path words never hold a digit; ids (GUIDs, numbers) do.
    s.chars().any(|c| c.is_ascii_digit()) || (s.contains('-') && s.len() >= 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Catalog {
        load::builtin()
    }

    #[test]
    fn lookup_prefers_literals_and_names_params_by_the_template() {
        let c = builtin();
        match c.lookup(&Method::POST, "/api/v2/conversations/messages/agentless") {
            Lookup::Found { op, params } => {
                assert_eq!(op.id, "postConversationsMessagesAgentless");
                assert!(params.is_empty());
            }
            other => panic!("{other:?}"),
        }
        match c.lookup(
            &Method::POST,
            "/api/v2/conversations/messages/c-1/communications/m-2/messages",
        ) {
            Lookup::Found { op, params } => {
                assert_eq!(op.id, "postConversationsMessageCommunicationMessages");
                assert_eq!(
                    params,
                    vec![
                        ("conversationId".into(), "c-1".into()),
                        ("communicationId".into(), "m-2".into())
                    ]
                );
                assert_eq!(
                    op.permissions_text(),
                    "any of: conversation:message:create, conversation:webmessaging:create"
                );
                assert_eq!(op.scopes_text(), "conversations");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_method_is_told_apart_from_a_missing_path() {
        let c = builtin();
        match c.lookup(&Method::PUT, "/api/v2/conversations/messages/agentless") {
            Lookup::WrongMethod { path, allowed } => {
                assert_eq!(path, "/api/v2/conversations/messages/agentless");
                assert_eq!(
                    allowed
                        .iter()
                        .map(|o| o.method.as_str())
                        .collect::<Vec<_>>(),
                    vec!["POST"]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c.lookup(&Method::PUT, "/api/v2/communications/guests/g1"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn nearest_real_operations_for_the_forums_invented_paths() {
        let c = builtin();
        let near = c.nearest(
            &Method::POST,
            "/api/v2/conversations/messaging/participants",
            3,
        );
        assert!(!near.is_empty());
        assert!(
            near.iter()
                .all(|o| o.path.starts_with("/api/v2/conversations/")),
            "{near:?}"
        );
        assert_eq!(
            near[0].id, "patchConversationsMessageParticipant",
            "{near:?}"
        );
        assert!(c
            .nearest(&Method::PUT, "/api/v2/communications/guests/abc", 3)
            .is_empty());
        let near = c.nearest(
            &Method::GET,
            "/api/v2/conversations/messaging/abc-123-def",
            3,
        );
        assert!(
            near.iter()
                .any(|o| o.path == "/api/v2/conversations/messages/{conversationId}"),
            "{:?}",
            near.iter().map(|o| o.signature()).collect::<Vec<_>>()
        );
        assert!(c.nearest(&Method::GET, "/totally/else", 3).is_empty());
    }

    #[test]
    fn search_matches_all_words() {
        let c = builtin();
        let r = c.search("agentless");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].id, "postConversationsMessagesAgentless");
        assert!(c.get("POSTCONVERSATIONSMESSAGESAGENTLESS").is_some());
    }
}

//! The context of one exchange as the rules see it: what the evidence store remembers that bears
//! on it, and what the API catalog says of its operation — both as small JSON documents that
//! `evidence` and `operation` conditions query by dotted path (see docs/rules.md).

use std::sync::{Arc, Mutex};

use http::Method;
use serde_json::{json, Map, Value};

use crate::catalog::{Catalog, Lookup, Source};
use crate::evidence::Facts;
use crate::exchange::{Exchange, UpstreamKind};
use crate::rules::matcher::{self, SharedDoc};

/// Path prefixes the built-in catalog covers completely: outside them it cannot tell a real
/// operation from an invented one, so it says "unknown" rather than guess.
const BUILTIN_COVERS: &[&str] = &[
    "/api/v2/conversations/messages",
    "/api/v2/webmessaging/",
    "/api/v2/webdeployments/",
    "/api/v2/tokens/",
];

#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The documents the rule conditions query.
    pub rules: matcher::Context,
}

/// "40 s", "3 min", "2 h": how long ago, for people.
pub fn ago(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

impl Context {
    /// Builds the context of `ex` from what the store knows (`facts`), the catalog's document
    /// of its operation (see [`Operations`]), and the region the request went to.
    pub fn with_operation(
        ex: &Exchange,
        facts: Option<&Facts>,
        operation: SharedDoc,
        request_region: Option<&str>,
    ) -> Context {
        let mut evidence = Map::new();
        if let Some(f) = facts {
            if let (Some(id), Some(c)) = (&f.conversation_id, &f.conversation) {
                let comm = communication_id(&ex.request.path);
                let mut conv = json!({
                    "id": id,
                    "customer_state": c.customer_state(),
                    "all_ended": c.all_ended(),
                    "via": c.via,
                    "age_s": f.conversation_age_s,
                    "seen_ago": f.conversation_age_s.map(ago),
                });
                if let Some(comm) = comm {
                    conv["communication_id"] = json!(comm);
                    conv["communication_state"] = json!(c.communication_state(comm));
                }
                // The state a send depends on: the communication's, else the customer's.
                conv["state"] = json!(comm
                    .and_then(|m| c.communication_state(m))
                    .or(c.customer_state()));
                evidence.insert("conversation".into(), conv);
            }
            if let Some(t) = &f.token {
                let mut tok = json!({
                    "fingerprint": t.fingerprint,
                    "login_host": t.login_host,
                    "region": t.region,
                    "organization": t.organization,
                    "client": t.client,
                    "scopes": t.scopes.as_ref().map(|s| s.join(", ")),
                });
                if let (Some(a), Some(b)) = (t.region.as_deref(), request_region) {
                    tok["same_region"] = json!(a == b);
                }
                evidence.insert("token".into(), tok);
            }
            if let Some(r) = &f.repeats {
                evidence.insert(
                    "repeats".into(),
                    json!({ "count": r.count, "status": r.status }),
                );
            }
        }
        if let Some(r) = request_region {
            evidence.insert("request".into(), json!({ "region": r }));
        }
        let evidence = if evidence.is_empty() {
            Value::Null
        } else {
            Value::Object(evidence)
        };
        Context {
            rules: matcher::Context {
                evidence,
                operation,
            },
        }
    }

    pub fn operation_id(&self) -> Option<String> {
        let op = &self.rules.operation;
        (op["lookup"] == "found")
            .then(|| op["id"].as_str().map(str::to_owned))
            .flatten()
    }

    /// What the operation requires, as a sentence for 403 diagnoses.
    pub fn requirement(&self) -> Option<String> {
        let op = &self.rules.operation;
        if op["lookup"] != "found" {
            return None;
        }
        Some(format!(
            "The API catalog says {} requires permissions: {}; accepted OAuth scopes: {}.",
            op["id"].as_str()?,
            op["permissions"].as_str()?,
            op["scopes"].as_str()?
        ))
    }
}

/// The catalog's document of an exchange's operation; `Null` for requests that are not API
/// calls.
fn operation_of(ex: &Exchange, c: &Catalog) -> Value {
    if ex.request.upstream == UpstreamKind::Api && ex.request.path.starts_with("/api/") {
        operation(ex, c)
    } else {
        Value::Null
    }
}

/// Most paths [`Operations`] remembers before it starts again.
const MEMO_PATHS: usize = 256;

/// The catalog's documents of recently diagnosed operations, by method and path. A client that
/// retries a failing call asks the same question each time, and the answer (a lookup among
/// hundreds of operations, then a document) cost more than the rest of the context.
#[derive(Default)]
pub struct Operations {
    memo: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    /// The catalog the documents came from; a new catalog (fetched from the API) starts over.
    /// Kept alive here, so that its address cannot be reused by another.
    catalog: Option<Arc<Catalog>>,
    by_path: foldhash::HashMap<String, Vec<(Method, UpstreamKind, SharedDoc)>>,
}

impl Operations {
    /// The document of `ex`'s operation in `catalog` (it depends on the method, the path and
    /// the upstream alone).
    pub fn get(&self, ex: &Exchange, catalog: &Arc<Catalog>) -> SharedDoc {
        let path = ex.request.path.as_str();
        let method = &ex.request.method;
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if !memo
            .catalog
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, catalog))
        {
            memo.catalog = Some(catalog.clone());
            memo.by_path.clear();
        }
        if let Some((_, _, doc)) = memo.by_path.get(path).and_then(|ms| {
            ms.iter()
                .find(|(m, up, _)| m == method && *up == ex.request.upstream)
        }) {
            return doc.clone();
        }
        // Asked under the lock: a lookup takes microseconds, and the memo stays one consistent
        // picture of one catalog.
        let doc = SharedDoc::new(operation_of(ex, catalog));
        if memo.by_path.len() >= MEMO_PATHS {
            memo.by_path.clear();
        }
        memo.by_path.entry(path.to_owned()).or_default().push((
            method.clone(),
            ex.request.upstream,
            doc.clone(),
        ));
        doc
    }
}

/// The `communicationId` of a messaging send path.
fn communication_id(path: &str) -> Option<&str> {
    let segs: Vec<&str> = path.split('/').collect();
    // ["", "api", "v2", "conversations", "messages", cid, "communications", comm, ...]
    (segs.len() > 7 && segs[6] == "communications").then(|| segs[7])
}

fn covered(c: &Catalog, path: &str) -> bool {
    c.source != Source::Builtin || BUILTIN_COVERS.iter().any(|p| path.starts_with(p))
}

fn operation(ex: &Exchange, c: &Catalog) -> Value {
    let path = ex.request.path.as_str();
    let method = &ex.request.method;
    let nearest = |n: usize| -> String {
        c.nearest(method, path, n)
            .iter()
            .map(|o| format!("{} ({})", o.signature(), o.id))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let base = |lookup: &str| json!({ "lookup": lookup, "catalog": c.source.to_string() });
    match c.lookup(method, path) {
        // The path is real, but a request read without its method (a bare error body) may be
        // any of its operations or none: calling it a wrong method would advise switching to
        // one that may be the very one that failed.
        Lookup::WrongMethod { .. } if !ex.request.method_known() => base("unknown"),
        // Outside the paths the built-in catalog covers, a word where its template has an id
        // (`GET /api/v2/conversations/calls` read as `/conversations/{conversationId}`) is another
        // operation it does not know: naming this one (and its permissions) would be wrong.
        Lookup::Found { op, .. } if !covered(c, path) && word_in_param(path, &op.path) => {
            base("unknown")
        }
        Lookup::Found { op, params } => {
            let mut v = base("found");
            v["id"] = json!(op.id);
            v["signature"] = json!(op.signature());
            v["scopes"] = json!(op.scopes_text());
            v["permissions"] = json!(op.permissions_text());
            for (k, val) in params {
                v["params"][k] = json!(val);
            }
            v
        }
        // A word where the template has an id (`POST /conversations/messaging` read as
        // `/conversations/{conversationId}`) means a path that does not exist, not a wrong method.
        Lookup::WrongMethod {
            path: template,
            allowed,
        } if !word_in_param(path, &template) => {
            let mut v = base("wrong-method");
            v["template"] = json!(template);
            v["allowed_methods"] = json!(allowed
                .iter()
                .map(|o| o.method.as_str())
                .collect::<Vec<_>>()
                .join(", "));
            v["allowed"] = json!(allowed
                .iter()
                .map(|o| format!("{} ({})", o.signature(), o.id))
                .collect::<Vec<_>>()
                .join("; "));
            v
        }
        _ if covered(c, path) => {
            let mut v = base("not-found");
            let n = nearest(3);
            if !n.is_empty() {
                v["nearest"] = json!(n);
            }
            v
        }
        _ => base("unknown"),
    }
}

/// True when a template parameter took a value that reads as a word, not an id.
fn word_in_param(path: &str, template: &str) -> bool {
    path.split('/').zip(template.split('/')).any(|(v, t)| {
        t.starts_with('{')
            && !crate::catalog::looks_like_id(v)
            && v.chars().all(|c| c.is_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{BodyPrefix, Inspection, Origin, Request, Timings};
    use http::{HeaderMap, Method};

    fn ex(method: Method, path: &str) -> Exchange {
        Exchange {
            seq: 1,
            origin: Origin::Live,
            started_at: std::time::SystemTime::now(),
            request: Request {
                method,
                path: path.into(),
                query: None,
                headers: HeaderMap::new(),
                body: BodyPrefix::default(),
                upstream: UpstreamKind::for_path(path),
                host: None,
                base_url: None,
                shown: crate::exchange::Shown::All,
            },
            response: None,
            timings: Timings::default(),
            inspection: Inspection::Complete,
            outcome: None,
        }
    }

    /// The context of `ex` with no facts, its operation read from the catalog `c`.
    fn build(ex: &Exchange, c: &Catalog) -> Context {
        Context::with_operation(ex, None, SharedDoc::new(operation_of(ex, c)), None)
    }

    #[test]
    fn operation_context_found_wrong_method_not_found_unknown() {
        let c = crate::catalog::load::builtin();
        let ctx = build(
            &ex(Method::POST, "/api/v2/conversations/messages/agentless"),
            &c,
        );
        assert_eq!(ctx.rules.operation["lookup"], "found");
        assert_eq!(
            ctx.operation_id().as_deref(),
            Some("postConversationsMessagesAgentless")
        );
        assert!(ctx
            .requirement()
            .unwrap()
            .contains("all of: conversation:message:create"));

        let ctx = build(
            &ex(Method::PUT, "/api/v2/conversations/messages/agentless"),
            &c,
        );
        assert_eq!(ctx.rules.operation["lookup"], "wrong-method");
        assert_eq!(ctx.rules.operation["allowed_methods"], "POST");

        let ctx = build(
            &ex(
                Request::unknown_method(),
                "/api/v2/conversations/messages/agentless",
            ),
            &c,
        );
        assert_eq!(
            ctx.rules.operation["lookup"], "unknown",
            "a real path read without its method is not a wrong method"
        );

        let ctx = build(
            &ex(
                Method::POST,
                "/api/v2/conversations/messages/x/participantz",
            ),
            &c,
        );
        assert_eq!(ctx.rules.operation["lookup"], "not-found");

        for word in ["calls", "chats", "emails", "settings"] {
            let ctx = build(
                &ex(Method::GET, &format!("/api/v2/conversations/{word}")),
                &c,
            );
            assert_eq!(
                ctx.rules.operation["lookup"], "unknown",
                "GET /api/v2/conversations/{word} is not getConversation"
            );
            assert!(ctx.requirement().is_none());
        }
        let ctx = build(
            &ex(
                Method::GET,
                "/api/v2/conversations/5c1e2f0a-0000-4000-8000-000000000001",
            ),
            &c,
        );
        assert_eq!(ctx.operation_id().as_deref(), Some("getConversation"));

        let ctx = build(&ex(Method::GET, "/api/v2/users/me"), &c);
        assert_eq!(
            ctx.rules.operation["lookup"], "unknown",
            "the built-in catalog does not cover users"
        );
    }

    #[test]
    fn remembered_operations_are_the_catalogs_answers() {
        let ops = Operations::default();
        let c = Arc::new(crate::catalog::load::builtin());
        let post = ex(Method::POST, "/api/v2/conversations/messages/agentless");
        let put = ex(Method::PUT, "/api/v2/conversations/messages/agentless");
        for _ in 0..2 {
            assert_eq!(*ops.get(&post, &c), operation_of(&post, &c));
            assert_eq!(*ops.get(&put, &c), operation_of(&put, &c));
        }
        assert_eq!(ops.get(&post, &c)["lookup"], "found");
        assert_eq!(ops.get(&put, &c)["lookup"], "wrong-method");
        // Another catalog (the API's own, fetched later) is asked afresh.
        let other = Arc::new(crate::catalog::Catalog::new(
            Vec::new(),
            crate::catalog::Source::File("empty.json".into()),
        ));
        assert_eq!(*ops.get(&post, &other), operation_of(&post, &other));
        let login = ex(Method::POST, "/oauth/token");
        assert!(ops.get(&login, &c).is_null());
    }

    /// The dotted paths of a document's values (objects walked, anything else a leaf).
    fn leaves(v: &Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    leaves(x, &p, out);
                }
            }
            _ => {
                out.insert(at.to_owned());
            }
        }
    }

    #[test]
    fn the_documents_hold_exactly_the_paths_rules_may_name() {
        use crate::evidence::{ConversationSeen, ParticipantSeen, Repeats, TokenSeen};
        use crate::rules::matcher::{is_context_leaf, EVIDENCE_PATHS, OPERATION_PATHS};
        let facts = Facts {
            conversation_id: Some("c1".into()),
            conversation: Some(ConversationSeen {
                participants: vec![ParticipantSeen {
                    id: "p1".into(),
                    purpose: Some("customer".into()),
                    state: Some("connected".into()),
                    communications: vec![("m1".into(), Some("connected".into()))],
                }],
                via: "a successful send".into(),
                at: std::time::SystemTime::now(),
            }),
            conversation_age_s: Some(40),
            token: Some(TokenSeen {
                login_host: Some("login.mypurecloud.com".into()),
                region: Some("us-east-1".into()),
                organization: Some("o".into()),
                client: Some("k".into()),
                scopes: Some(vec!["a".into()]),
                fingerprint: "f".into(),
            }),
            repeats: Some(Repeats {
                count: 2,
                status: 409,
                first: std::time::SystemTime::now(),
            }),
        };
        let c = crate::catalog::load::builtin();
        let send = ex(
            Method::POST,
            "/api/v2/conversations/messages/c1/communications/m1/messages",
        );
        let ctx = Context::with_operation(
            &send,
            Some(&facts),
            SharedDoc::new(operation_of(&send, &c)),
            Some("us-east-1"),
        );
        let mut evidence = std::collections::BTreeSet::new();
        leaves(&ctx.rules.evidence, "", &mut evidence);
        let listed: std::collections::BTreeSet<String> =
            EVIDENCE_PATHS.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            evidence, listed,
            "the evidence document and EVIDENCE_PATHS differ"
        );

        let mut operation = std::collections::BTreeSet::new();
        for (method, path) in [
            (
                Method::POST,
                "/api/v2/conversations/messages/c1/communications/m1/messages",
            ),
            (Method::PUT, "/api/v2/conversations/messages/agentless"),
            (
                Method::POST,
                "/api/v2/conversations/messages/x/participantz",
            ),
            (Method::GET, "/api/v2/users/me"),
        ] {
            leaves(&operation_of(&ex(method, path), &c), "", &mut operation);
        }
        for p in &operation {
            let segs: Vec<&str> = p.split('.').collect();
            assert!(
                is_context_leaf(OPERATION_PATHS, &segs),
                "{p} is not in OPERATION_PATHS"
            );
        }
        for k in OPERATION_PATHS {
            let segs: Vec<&str> = k.split('.').collect();
            assert!(
                operation.iter().any(|p| {
                    let ps: Vec<&str> = p.split('.').collect();
                    is_context_leaf(&[k], &ps) && segs.len() == ps.len()
                }),
                "no operation document has {k}: {operation:?}"
            );
        }
    }

    #[test]
    fn ago_reads_well() {
        assert_eq!(ago(40), "40 s");
        assert_eq!(ago(600), "10 min");
        assert_eq!(ago(7200), "2 h");
    }
}

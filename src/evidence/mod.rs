//! Evidence: a bounded memory of the traffic triage has seen, so a diagnosis can cite what the
//! client's own calls showed ("this conversation was seen disconnected 40 s ago by your GET").
//!
//! What is kept, per process: the last states seen of conversations, what is known of each
//! token (which login host issued it, what `GET /api/v2/tokens/me` said), and recent failures
//! (to notice a client retrying a call that cannot succeed). Tokens themselves are never kept:
//! only a 128-bit key from a keyed hash (SipHash with random keys drawn per store), which cannot
//! be turned back into the token. Every map is capped in entries and age ([`bounded`]).

pub mod bounded;

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use http::{header, Method};
use serde::Serialize;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::hash::{BuildHasher, Hasher, RandomState};

use crate::exchange::Exchange;
use crate::region::Region;
use bounded::Bounded;

/// Caps of the store.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub conversations: usize,
    pub conversation_age: Duration,
    pub tokens: usize,
    /// Genesys tokens live at most 48 hours (FACTS.md §6.2).
    pub token_age: Duration,
    pub failures: usize,
    /// The window in which repeated identical failures count as a retry loop.
    pub failure_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            conversations: 10_000,
            conversation_age: Duration::from_secs(6 * 3600),
            tokens: 1_000,
            token_age: Duration::from_secs(48 * 3600),
            failures: 10_000,
            failure_window: Duration::from_secs(60),
        }
    }
}

/// One participant as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantSeen {
    pub id: String,
    pub purpose: Option<String>,
    pub state: Option<String>,
    /// Communication ids of this participant (message communications), with their states.
    pub communications: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSeen {
    pub participants: Vec<ParticipantSeen>,
    /// How triage learnt it: `GET /api/v2/conversations/messages/{id}`, `a successful send`, …
    pub via: String,
    #[serde(skip)]
    pub at: SystemTime,
}

impl ConversationSeen {
    /// State of the customer (or external) participant, the one a send must reach.
    pub fn customer_state(&self) -> Option<&str> {
        self.participants
            .iter()
            .find(|p| matches!(p.purpose.as_deref(), Some("customer") | Some("external")))
            .and_then(|p| p.state.as_deref())
    }

    /// State of the communication with this id, or of the participant that owns it.
    pub fn communication_state(&self, id: &str) -> Option<&str> {
        self.participants.iter().find_map(|p| {
            if p.id == id {
                return p.state.as_deref();
            }
            p.communications
                .iter()
                .find(|(c, _)| c == id)
                .and_then(|(_, s)| s.as_deref().or(p.state.as_deref()))
        })
    }

    /// True when every participant seen is disconnected or terminated.
    pub fn all_ended(&self) -> bool {
        !self.participants.is_empty()
            && self.participants.iter().all(|p| {
                matches!(
                    p.state.as_deref(),
                    Some("disconnected") | Some("terminated")
                )
            })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenSeen {
    /// The login host that issued the token, when triage saw the issue.
    pub login_host: Option<String>,
    /// Region id of that host.
    pub region: Option<String>,
    pub organization: Option<String>,
    pub client: Option<String>,
    /// `authorizedScope` of `GET /api/v2/tokens/me`.
    pub scopes: Option<Vec<String>>,
    /// A short fingerprint that may be shown (never the token).
    pub fingerprint: String,
}

/// How often this very request failed recently (it included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Repeats {
    pub count: u32,
    pub status: u16,
    #[serde(skip)]
    pub first: SystemTime,
}

#[derive(Debug, Clone)]
struct FailureSeen {
    count: u32,
    status: u16,
    first: SystemTime,
    first_at: Instant,
}

/// What the store knows that bears on one exchange.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    pub conversation_id: Option<String>,
    pub conversation: Option<ConversationSeen>,
    /// Seconds since the conversation was seen.
    pub conversation_age_s: Option<u64>,
    pub token: Option<TokenSeen>,
    pub repeats: Option<Repeats>,
}

#[derive(Debug)]
struct Inner {
    conversations: Bounded<String, ConversationSeen>,
    tokens: Bounded<[u8; 16], TokenSeen>,
    failures: Bounded<[u8; 16], FailureSeen>,
    /// Tokens `--probe-token` has asked about already.
    probed: Bounded<[u8; 16], ()>,
}

/// The store, shared by all connections of a proxy or by one offline replay.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    limits: Limits,
    /// The keys of [`Store::key`], drawn at random for each store.
    keys: (u64, u64),
}

impl Default for Store {
    fn default() -> Self {
        Store::new(Limits::default())
    }
}

/// Two 64-bit keys no one can predict: std's `RandomState` draws its own keys from the OS, so
/// what it hashes is as unpredictable, without another source of randomness to depend on.
fn random_keys() -> (u64, u64) {
    let draw = |tag: u8| {
        let mut h = RandomState::new().build_hasher();
        h.write_u8(tag);
        h.finish()
    };
    (draw(0), draw(1))
}

/// Statuses that retrying unchanged cannot fix.
pub fn non_retryable(status: u16) -> bool {
    matches!(status, 400 | 403 | 404 | 409)
}

/// True when the input gave the request's method and path, so that it can be told apart from
/// another request.
fn request_known(ex: &Exchange) -> bool {
    ex.request.method_known() && ex.request.path_known()
}

/// The bearer token of a request, if any.
fn bearer(ex: &Exchange) -> Option<&str> {
    let v = ex
        .request
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The conversation id a path names, for the conversation paths of FACTS.md §4.
pub fn conversation_id(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v2/conversations/")?;
    let mut segs = rest.split('/');
    let first = segs.next()?;
    let id = match first {
        "messages" | "chats" | "calls" | "emails" | "callbacks" => segs.next()?,
        _ => first,
    };
    // Literal sub-resources are not ids.
    let literal = matches!(
        id,
        "" | "agentless" | "inbound" | "cachedmedia" | "messaging" | "participants"
    );
    (!literal).then_some(id)
}

fn str_field(v: &serde_json::Value, k: &str) -> Option<String> {
    v.get(k).and_then(|s| s.as_str()).map(str::to_owned)
}

fn participants_of(body: &serde_json::Value) -> Vec<ParticipantSeen> {
    let Some(ps) = body.get("participants").and_then(|p| p.as_array()) else {
        return vec![];
    };
    ps.iter()
        .filter_map(|p| {
            let id = str_field(p, "id")?;
            let comms = p
                .get("messages")
                .and_then(|m| m.as_array())
                .map(|ms| {
                    ms.iter()
                        .filter_map(|m| Some((str_field(m, "id")?, str_field(m, "state"))))
                        .collect()
                })
                .unwrap_or_default();
            // `GET /api/v2/conversations/{id}` keeps the state on each communication;
            // the participant's own is then the first communication's.
            let state = str_field(p, "state").or_else(|| {
                p.get("messages")
                    .and_then(|m| m.as_array())
                    .and_then(|ms| ms.first())
                    .and_then(|m| str_field(m, "state"))
            });
            Some(ParticipantSeen {
                id,
                purpose: str_field(p, "purpose").map(|s| s.to_ascii_lowercase()),
                state,
                communications: comms,
            })
        })
        .collect()
}

impl Store {
    pub fn new(limits: Limits) -> Self {
        Store {
            keys: random_keys(),
            inner: Mutex::new(Inner {
                conversations: Bounded::new(limits.conversations, limits.conversation_age),
                tokens: Bounded::new(limits.tokens, limits.token_age),
                failures: Bounded::new(limits.failures, limits.failure_window),
                probed: Bounded::new(limits.tokens, limits.token_age),
            }),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key of a token or a failing request: a keyed 128-bit SipHash-1-3 of the
    /// length-prefixed parts. A cryptographic digest was the first choice, but on CPUs without
    /// SHA instructions it was a tenth of the cost of diagnosing a failure; a keyed hash keeps
    /// what matters here (the token cannot be recovered, keys do not collide), and one 128-bit
    /// pass costs half of two 64-bit ones.
    fn key(&self, parts: &[&[u8]]) -> [u8; 16] {
        let mut h = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        for p in parts {
            h.write_usize(p.len());
            h.write(p);
        }
        h.finish128().as_bytes()
    }

    /// Whether triage should read this response's body to learn from it, beyond failures.
    pub fn wants_body(method: &Method, path: &str, status: u16) -> bool {
        if !(200..300).contains(&status) {
            return false;
        }
        (method == Method::GET
            && (conversation_id(path).is_some() && path.matches('/').count() <= 5
                || path == "/api/v2/tokens/me"))
            || (method == Method::POST && path == "/oauth/token")
    }

    /// Learns from an exchange. Called for every inspected exchange, success or failure.
    pub fn observe(&self, ex: &Exchange, now: Instant) {
        self.observe_in(ex, now, None)
    }

    /// As [`observe`](Self::observe), with the region the request went to when its host does
    /// not name one (a mock or a gateway in front of a region).
    pub fn observe_in(&self, ex: &Exchange, now: Instant, region: Option<&str>) {
        self.observe_locked(&mut self.lock(), ex, now, region);
    }

    /// Learns from `ex` and, when it failed (status >= 400), says what is known that bears on
    /// it: [`observe_in`](Self::observe_in) then [`facts`](Self::facts), under one lock and
    /// with the failing request's key computed once.
    pub fn observe_then_facts(
        &self,
        ex: &Exchange,
        now: Instant,
        region: Option<&str>,
    ) -> Option<Facts> {
        let mut inner = self.lock();
        let failure = self.observe_locked(&mut inner, ex, now, region);
        ex.status()
            .is_some_and(|s| s >= 400)
            .then(|| self.facts_locked(&inner, ex, now, failure))
    }

    /// The key of a request that failed, as the failures map keys it.
    fn failure_key(&self, ex: &Exchange) -> [u8; 16] {
        self.key(&[
            // The same call to another region's API is another request (a HAR of a
            // multi-region integration).
            ex.request.host.as_deref().unwrap_or("").as_bytes(),
            ex.request.method.as_str().as_bytes(),
            ex.request.path.as_bytes(),
            ex.request.query.as_deref().unwrap_or("").as_bytes(),
            &ex.request.body.bytes,
            bearer(ex).unwrap_or("").as_bytes(),
        ])
    }

    /// Returns the failure key when it computed one.
    fn observe_locked(
        &self,
        inner: &mut Inner,
        ex: &Exchange,
        now: Instant,
        region: Option<&str>,
    ) -> Option<[u8; 16]> {
        let resp = ex.response.as_ref()?;
        let status = resp.status.as_u16();
        let path = ex.request.path.as_str();
        let method = &ex.request.method;
        let at = ex.started_at;

        let mut failure = None;
        // A request read without its method or path (a bare error body) cannot be told from
        // another: two pasted bodies are not "the same request" failing twice.
        if non_retryable(status) && request_known(ex) {
            let k = self.failure_key(ex);
            failure = Some(k);
            let window = self.limits.failure_window;
            inner.failures.update(
                k,
                now,
                || FailureSeen {
                    count: 0,
                    status,
                    first: at,
                    first_at: now,
                },
                |f| {
                    // Count only within the window that starts at the first failure.
                    if now.saturating_duration_since(f.first_at) > window || f.status != status {
                        *f = FailureSeen {
                            count: 0,
                            status,
                            first: at,
                            first_at: now,
                        };
                    }
                    f.count += 1;
                },
            );
        }
        if !(200..300).contains(&status) {
            return failure;
        }
        if method == Method::POST && path == "/oauth/token" {
            if let Some(tok) = resp.body.json().and_then(|j| str_field(&j, "access_token")) {
                let host = ex.request.host.clone();
                let region = host
                    .as_deref()
                    .and_then(Region::for_host)
                    .map(|r| r.id)
                    .or(region)
                    .map(str::to_owned);
                let seen = TokenSeen {
                    login_host: host.as_deref().map(str::to_owned),
                    region,
                    fingerprint: crate::redact::fingerprint(tok.as_bytes()),
                    ..Default::default()
                };
                inner.tokens.put(self.key(&[tok.as_bytes()]), seen, now);
            }
            return failure;
        }
        if method == Method::GET && path == "/api/v2/tokens/me" {
            if let (Some(tok), Some(j)) = (bearer(ex), resp.body.json()) {
                let fp = crate::redact::fingerprint(tok.as_bytes());
                inner.tokens.update(
                    self.key(&[tok.as_bytes()]),
                    now,
                    || TokenSeen {
                        fingerprint: fp,
                        ..Default::default()
                    },
                    |t| {
                        t.organization = j
                            .get("organization")
                            .and_then(|o| str_field(o, "name").or_else(|| str_field(o, "id")));
                        t.client = j
                            .get("OAuthClient")
                            .and_then(|o| str_field(o, "name").or_else(|| str_field(o, "id")));
                        t.scopes = j
                            .get("authorizedScope")
                            .and_then(|s| s.as_array())
                            .map(|a| {
                                a.iter()
                                    .filter_map(|v| v.as_str().map(str::to_owned))
                                    .collect()
                            });
                    },
                );
            }
            return failure;
        }
        let Some(cid) = conversation_id(path) else {
            return failure;
        };
        let cid = cid.to_owned();
        if method == Method::GET {
            if let Some(j) = resp.body.json() {
                let participants = participants_of(&j);
                if !participants.is_empty() {
                    let via = format!("{} {}", method, ex.request.path);
                    inner.conversations.put(
                        cid,
                        ConversationSeen {
                            participants,
                            via,
                            at,
                        },
                        now,
                    );
                }
            }
        } else if method == Method::POST
            && path.ends_with("/messages")
            && path.contains("/communications/")
        {
            // A send went through: that communication took messages at that moment.
            let comm = path.split('/').nth(7).map(str::to_owned);
            if let Some(comm) = comm {
                inner.conversations.update(
                    cid,
                    now,
                    || ConversationSeen {
                        participants: vec![],
                        via: String::new(),
                        at,
                    },
                    |c| {
                        c.via = "a successful send".into();
                        c.at = at;
                        match c.participants.iter_mut().find(|p| {
                            p.id == comm || p.communications.iter().any(|(id, _)| *id == comm)
                        }) {
                            Some(p) => p.state = Some("connected".into()),
                            None => c.participants.push(ParticipantSeen {
                                id: comm,
                                purpose: None,
                                state: Some("connected".into()),
                                communications: vec![],
                            }),
                        }
                    },
                );
            }
        }
        failure
    }

    /// What is known that bears on this exchange.
    pub fn facts(&self, ex: &Exchange, now: Instant) -> Facts {
        self.facts_locked(&self.lock(), ex, now, None)
    }

    fn facts_locked(
        &self,
        inner: &Inner,
        ex: &Exchange,
        now: Instant,
        failure: Option<[u8; 16]>,
    ) -> Facts {
        let mut f = Facts::default();
        if let Some(cid) = conversation_id(&ex.request.path) {
            f.conversation_id = Some(cid.to_owned());
            if let Some((c, at)) = inner.conversations.get(&cid.to_owned(), now) {
                f.conversation_age_s = Some(now.saturating_duration_since(at).as_secs());
                f.conversation = Some(c.clone());
            }
        }
        let token = bearer(ex);
        if let Some(tok) = token {
            f.token = inner
                .tokens
                .get(&self.key(&[tok.as_bytes()]), now)
                .map(|(t, _)| t.clone());
        }
        if let Some(resp) = ex.response.as_ref().filter(|_| request_known(ex)) {
            let k = failure.unwrap_or_else(|| self.failure_key(ex));
            if let Some((r, _)) = inner.failures.get(&k, now) {
                if r.status == resp.status.as_u16() {
                    f.repeats = Some(Repeats {
                        count: r.count,
                        status: r.status,
                        first: r.first,
                    });
                }
            }
        }
        f
    }

    /// True the first time it is asked about a token whose `GET /api/v2/tokens/me` triage has
    /// not seen: the caller may then make that call itself (`--probe-token`), once per token.
    pub fn claim_probe(&self, token: &str, now: Instant) -> bool {
        let k = self.key(&[token.as_bytes()]);
        let mut inner = self.lock();
        let known = inner
            .tokens
            .get(&k, now)
            .is_some_and(|(t, _)| t.scopes.is_some() || t.organization.is_some());
        if known || inner.probed.get(&k, now).is_some() {
            return false;
        }
        inner.probed.put(k, (), now);
        true
    }

    /// The bearer token of a request, if it has one.
    pub fn bearer_of(ex: &Exchange) -> Option<&str> {
        bearer(ex)
    }

    /// Entries held, for tests and metrics: (conversations, tokens, failures).
    pub fn sizes(&self) -> (usize, usize, usize) {
        let i = self.lock();
        (i.conversations.len(), i.tokens.len(), i.failures.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{BodyPrefix, Origin, Request, Response, Timings, UpstreamKind};
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn ex(method: Method, path: &str, token: Option<&str>, status: u16, body: &str) -> Exchange {
        let mut headers = HeaderMap::new();
        if let Some(t) = token {
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
            );
        }
        Exchange {
            seq: 1,
            origin: Origin::Live,
            started_at: SystemTime::now(),
            request: Request {
                method,
                path: path.into(),
                query: None,
                headers,
                body: BodyPrefix::complete(""),
                upstream: UpstreamKind::for_path(path),
                host: Some(
                    if path.starts_with("/oauth") {
                        "login.mypurecloud.ie"
                    } else {
                        "api.mypurecloud.com"
                    }
                    .into(),
                ),
                base_url: None,
                shown: crate::exchange::Shown::All,
            },
            response: Some(Response {
                status: StatusCode::from_u16(status).unwrap(),
                version: None,
                headers: HeaderMap::new(),
                body: BodyPrefix::complete(body.to_owned()),
                headers_shown: true,
            }),
            timings: Timings::default(),
            inspection: crate::exchange::Inspection::Complete,
            outcome: None,
        }
    }

    #[test]
    fn conversation_states_are_remembered_from_a_get() {
        let s = Store::default();
        let now = Instant::now();
        let body = r#"{"id":"c1","participants":[{"id":"p-cust","purpose":"customer","state":"disconnected"},{"id":"p-agent","purpose":"agent","state":"disconnected","messages":[{"id":"comm-1","state":"disconnected"}]}]}"#;
        s.observe(
            &ex(
                Method::GET,
                "/api/v2/conversations/messages/c1",
                Some("t"),
                200,
                body,
            ),
            now,
        );
        let f = s.facts(
            &ex(
                Method::POST,
                "/api/v2/conversations/messages/c1/communications/comm-1/messages",
                Some("t"),
                409,
                "{}",
            ),
            now + Duration::from_secs(40),
        );
        let c = f.conversation.unwrap();
        assert_eq!(c.customer_state(), Some("disconnected"));
        assert_eq!(c.communication_state("comm-1"), Some("disconnected"));
        assert!(c.all_ended());
        assert_eq!(c.via, "GET /api/v2/conversations/messages/c1");
        assert_eq!(f.conversation_age_s, Some(40));
    }

    #[test]
    fn tokens_are_known_by_key_never_kept() {
        let s = Store::default();
        let now = Instant::now();
        s.observe(
            &ex(
                Method::POST,
                "/oauth/token",
                None,
                200,
                r#"{"access_token":"SECRET-TOKEN-123","token_type":"bearer","expires_in":86399}"#,
            ),
            now,
        );
        let f = s.facts(
            &ex(
                Method::GET,
                "/api/v2/users/me",
                Some("SECRET-TOKEN-123"),
                401,
                "{}",
            ),
            now,
        );
        let t = f.token.unwrap();
        assert_eq!(t.login_host.as_deref(), Some("login.mypurecloud.ie"));
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        let dump = format!("{:?}", s);
        assert!(
            !dump.contains("SECRET-TOKEN-123"),
            "the store holds the token: {dump}"
        );
    }

    #[test]
    fn identical_failures_are_counted_in_the_window() {
        let s = Store::default();
        let t0 = Instant::now();
        let e = ex(
            Method::POST,
            "/api/v2/conversations/messages/c1/communications/m1/messages",
            Some("t"),
            409,
            "{}",
        );
        for i in 0..3 {
            s.observe(&e, t0 + Duration::from_secs(i));
        }
        assert_eq!(
            s.facts(&e, t0 + Duration::from_secs(3))
                .repeats
                .unwrap()
                .count,
            3
        );
        s.observe(&e, t0 + Duration::from_secs(120));
        assert_eq!(
            s.facts(&e, t0 + Duration::from_secs(120))
                .repeats
                .unwrap()
                .count,
            1,
            "a new window starts"
        );
        let other = ex(
            Method::POST,
            "/api/v2/conversations/messages/c2/communications/m1/messages",
            Some("t"),
            409,
            "{}",
        );
        assert!(s.facts(&other, t0).repeats.is_none());
        // The same call to three regions' API hosts: three requests, none repeated.
        let s = Store::default();
        for (i, host) in [
            "api.mypurecloud.com",
            "api.mypurecloud.ie",
            "api.mypurecloud.de",
        ]
        .into_iter()
        .enumerate()
        {
            let mut e = e.clone();
            e.request.host = Some(host.into());
            s.observe(&e, t0 + Duration::from_secs(i as u64));
            assert!(
                s.facts(&e, t0 + Duration::from_secs(i as u64))
                    .repeats
                    .is_none_or(|r| r.count == 1),
                "{host}"
            );
        }
    }

    #[test]
    fn failures_of_a_request_not_given_are_not_repeats() {
        let s = Store::default();
        let t0 = Instant::now();
        let mut e = ex(Method::POST, "/api/v2/x", None, 409, "{}");
        e.request.method = crate::exchange::Request::unknown_method();
        e.request.path = String::new();
        for i in 0..3 {
            s.observe(&e, t0 + Duration::from_secs(i));
        }
        assert!(
            s.facts(&e, t0 + Duration::from_secs(3)).repeats.is_none(),
            "three pasted bodies are not one request retried"
        );
    }

    #[test]
    fn memory_stays_flat_under_a_long_stream_of_conversations() {
        let s = Store::new(Limits {
            conversations: 1000,
            ..Limits::default()
        });
        let now = Instant::now();
        for i in 0..50_000 {
            let body = format!(
                r#"{{"participants":[{{"id":"p{i}","purpose":"customer","state":"connected"}}]}}"#
            );
            s.observe(
                &ex(
                    Method::GET,
                    &format!("/api/v2/conversations/messages/c{i}"),
                    None,
                    200,
                    &body,
                ),
                now,
            );
        }
        assert_eq!(s.sizes().0, 1000);
    }

    #[test]
    fn conversation_ids_from_paths() {
        assert_eq!(
            conversation_id("/api/v2/conversations/messages/abc/communications/x/messages"),
            Some("abc")
        );
        assert_eq!(conversation_id("/api/v2/conversations/abc"), Some("abc"));
        assert_eq!(
            conversation_id("/api/v2/conversations/messages/agentless"),
            None
        );
        assert_eq!(
            conversation_id("/api/v2/conversations/messaging/participants"),
            None
        );
        assert_eq!(conversation_id("/api/v2/users/me"), None);
    }
}

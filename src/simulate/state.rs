//! The simulated world while it runs: tokens issued, rate-limit windows, conversations and
//! their participants' states. Built from a [`Scenario`]; changed by the calls made against it.
//! It lives behind a `std::sync::Mutex` that the server takes for one request's routing and
//! never holds across an await.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::scenario::{Behaviour, Client, MessengerType, ParticipantState, Scenario};

/// A token the simulator knows: issued by `/oauth/token` or listed in the scenario.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub client_id: String,
    /// `None` for scenario tokens, which never expire.
    pub expires_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct Participant {
    pub id: String,
    pub purpose: String,
    pub name: Option<String>,
    pub state: ParticipantState,
    pub communication_id: String,
    pub start_time: String,
    pub end_time: Option<String>,
    pub disconnect_type: Option<String>,
    /// Ids of messages sent on this participant's communication.
    pub message_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub organization: String,
    pub messenger_type: MessengerType,
    pub start_time: String,
    pub deployment: Option<String>,
    pub external_contact_id: Option<String>,
    pub participants: Vec<Participant>,
}

impl Conversation {
    /// Over when no participant is still connected.
    pub fn is_ended(&self) -> bool {
        self.participants
            .iter()
            .all(|p| p.state == ParticipantState::Disconnected)
    }

    pub fn end_time(&self) -> Option<&str> {
        if !self.is_ended() {
            return None;
        }
        self.participants
            .iter()
            .filter_map(|p| p.end_time.as_deref())
            .max()
    }

    /// `MessageConversation`, as `GET /api/v2/conversations/messages/{id}` returns it (a small
    /// but faithful subset of the model's fields, FACTS.md §4.4).
    pub fn message_conversation_json(&self) -> Value {
        let participants: Vec<Value> = self
            .participants
            .iter()
            .map(|p| {
                let mut v = json!({
                    "id": p.id,
                    "name": p.name,
                    "startTime": p.start_time,
                    "connectedTime": p.start_time,
                    "purpose": p.purpose,
                    "state": p.state.as_str(),
                    "direction": if p.purpose == "customer" { "inbound" } else { "outbound" },
                    "held": false,
                    "type": self.messenger_type.as_str(),
                    "messages": p.message_ids.iter().map(|m| json!({
                        "messageId": m,
                        "messageStatus": "sent",
                    })).collect::<Vec<_>>(),
                });
                self.add_end(&mut v, p);
                if p.purpose == "customer" {
                    if let Some(c) = &self.external_contact_id {
                        v["externalContact"] = json!({
                            "id": c,
                            "selfUri": format!("/api/v2/externalcontacts/contacts/{c}"),
                        });
                    }
                }
                v
            })
            .collect();
        json!({
            "id": self.id,
            "participants": participants,
            "selfUri": format!("/api/v2/conversations/messages/{}", self.id),
        })
    }

    /// `Conversation`, as `GET /api/v2/conversations/{id}` returns it: the participant's
    /// message communications are in `messages[]`, whose `id` is the `{communicationId}`.
    pub fn conversation_json(&self) -> Value {
        let participants: Vec<Value> = self
            .participants
            .iter()
            .map(|p| {
                let mut comm = json!({
                    "id": p.communication_id,
                    "state": p.state.as_str(),
                    "type": self.messenger_type.as_str(),
                    "held": false,
                });
                if p.state == ParticipantState::Disconnected {
                    comm["disconnectType"] =
                        json!(p.disconnect_type.as_deref().unwrap_or("client"));
                }
                let mut v = json!({
                    "id": p.id,
                    "startTime": p.start_time,
                    "name": p.name,
                    "purpose": p.purpose,
                    "messages": [comm],
                });
                if let Some(t) = &p.end_time {
                    v["endTime"] = json!(t);
                }
                v
            })
            .collect();
        let mut v = json!({
            "id": self.id,
            "startTime": self.start_time,
            "participants": participants,
            "selfUri": format!("/api/v2/conversations/{}", self.id),
        });
        if let Some(t) = self.end_time() {
            v["endTime"] = json!(t);
        }
        v
    }

    fn add_end(&self, v: &mut Value, p: &Participant) {
        if p.state == ParticipantState::Disconnected {
            v["disconnectType"] = json!(p.disconnect_type.as_deref().unwrap_or("client"));
            if let Some(t) = &p.end_time {
                v["endTime"] = json!(t);
            }
        }
    }
}

struct Window {
    start: Instant,
    count: u32,
}

/// Everything that changes while the simulator runs.
pub struct World {
    pub behaviour: Behaviour,
    organizations: HashMap<String, String>,
    clients: HashMap<String, Client>,
    tokens: HashMap<String, IssuedToken>,
    /// deployment id → organization id
    deployments: HashMap<String, String>,
    conversations: HashMap<String, Conversation>,
    windows: HashMap<String, Window>,
    ids: IdGen,
}

impl World {
    pub fn new(scenario: &Scenario) -> World {
        let started = now_iso();
        let organizations = scenario
            .organizations
            .iter()
            .map(|o| (o.id.get_ref().clone(), o.name.clone()))
            .collect();
        let clients = scenario
            .clients
            .iter()
            .map(|c| (c.id.get_ref().clone(), c.clone()))
            .collect();
        let tokens = scenario
            .tokens
            .iter()
            .map(|t| {
                (
                    t.value.clone(),
                    IssuedToken {
                        client_id: t.client.get_ref().clone(),
                        expires_at: None,
                    },
                )
            })
            .collect();
        let deployments = scenario
            .deployments
            .iter()
            .map(|d| (d.id.get_ref().clone(), d.organization.get_ref().clone()))
            .collect();
        let conversations = scenario
            .conversations
            .iter()
            .map(|c| {
                let start = c.start_time.clone().unwrap_or_else(|| started.clone());
                let participants = c
                    .participants
                    .iter()
                    .map(|p| Participant {
                        id: p.id.clone(),
                        purpose: p.purpose.clone(),
                        name: p.name.clone(),
                        state: p.state,
                        communication_id: p.communication_id.clone(),
                        start_time: start.clone(),
                        end_time: match p.state {
                            ParticipantState::Disconnected => {
                                Some(p.end_time.clone().unwrap_or_else(|| start.clone()))
                            }
                            ParticipantState::Connected => None,
                        },
                        disconnect_type: p.disconnect_type.clone(),
                        message_ids: Vec::new(),
                    })
                    .collect();
                (
                    c.id.get_ref().clone(),
                    Conversation {
                        id: c.id.get_ref().clone(),
                        organization: c.organization.get_ref().clone(),
                        messenger_type: c.messenger_type,
                        start_time: start,
                        deployment: c.deployment.as_ref().map(|d| d.get_ref().clone()),
                        external_contact_id: c.external_contact_id.clone(),
                        participants,
                    },
                )
            })
            .collect();
        World {
            behaviour: scenario.behaviour.clone(),
            organizations,
            clients,
            tokens,
            deployments,
            conversations,
            windows: HashMap::new(),
            ids: IdGen::new(),
        }
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id)
    }

    pub fn organization_name(&self, id: &str) -> Option<&str> {
        self.organizations.get(id).map(String::as_str)
    }

    pub fn deployment_org(&self, id: &str) -> Option<&str> {
        self.deployments.get(id).map(String::as_str)
    }

    pub fn issue_token(&mut self, client_id: &str) -> String {
        let value = format!("{}{}", self.ids.hex(), self.ids.hex());
        let lifetime = Duration::from_secs(self.behaviour.token_lifetime_seconds);
        self.tokens.insert(
            value.clone(),
            IssuedToken {
                client_id: client_id.to_owned(),
                expires_at: Instant::now().checked_add(lifetime),
            },
        );
        value
    }

    /// The token's client, unless the token is unknown or expired.
    pub fn token(&self, value: &str) -> Option<&IssuedToken> {
        self.tokens.get(value).filter(|t| match t.expires_at {
            Some(e) => Instant::now() < e,
            None => true,
        })
    }

    /// Counts a call against the client's limit; `Some(retry_after_seconds)` when over it.
    pub fn rate_limited(&mut self, client_id: &str, now: Instant) -> Option<u64> {
        let limit = self.clients.get(client_id)?.rate_limit?;
        let window = Duration::from_secs(limit.window_seconds);
        let w = self.windows.entry(client_id.to_owned()).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.duration_since(w.start) >= window {
            w.start = now;
            w.count = 0;
        }
        if w.count >= limit.requests {
            let left = window.saturating_sub(now.duration_since(w.start));
            // Round up: retrying after the floor would still be inside the window.
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return Some(secs.max(1));
        }
        w.count += 1;
        None
    }

    /// A conversation visible to an organization (others' are "not found", as in a real org).
    pub fn conversation(&self, org: &str, id: &str) -> Option<&Conversation> {
        self.conversations.get(id).filter(|c| c.organization == org)
    }

    pub fn conversation_mut(&mut self, org: &str, id: &str) -> Option<&mut Conversation> {
        self.conversations
            .get_mut(id)
            .filter(|c| c.organization == org)
    }

    pub fn insert_conversation(&mut self, c: Conversation) {
        self.conversations.insert(c.id.clone(), c);
    }

    /// A connected conversation of this contact on this deployment, if any.
    pub fn active_conversation_for(&self, deployment: &str, contact: &str) -> Option<&str> {
        self.conversations
            .values()
            .find(|c| {
                !c.is_ended()
                    && c.deployment.as_deref() == Some(deployment)
                    && c.external_contact_id.as_deref() == Some(contact)
            })
            .map(|c| c.id.as_str())
    }

    pub fn new_id(&mut self) -> String {
        self.ids.uuid()
    }
}

/// Disconnects one participant, stamping the time.
pub fn disconnect(p: &mut Participant, disconnect_type: &str) {
    if p.state == ParticipantState::Connected {
        p.state = ParticipantState::Disconnected;
        p.end_time = Some(now_iso());
        p.disconnect_type = Some(disconnect_type.to_owned());
    }
}

/// Random-looking ids without a dependency: splitmix64 seeded from the clock. Ids need only be
/// unique within one run, not unpredictable.
struct IdGen(u64);

impl IdGen {
    fn new() -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
        IdGen(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn hex(&mut self) -> String {
        format!("{:016x}", self.next())
    }

    /// A version-4-shaped UUID, like the ids and correlation ids of the real API.
    fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            8 | ((b >> 60) & 0x3),
            (b >> 48) & 0x0fff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// The current time as the API writes it: `2026-11-21T21:09:14.123Z`.
pub fn now_iso() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    iso_from_unix(d.as_secs(), d.subsec_millis())
}

fn iso_from_unix(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_from_unix(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_from_unix(1_795_000_000, 7), "2026-11-18T11:06:40.007Z");
        assert_eq!(iso_from_unix(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn uuids_are_shaped_right() {
        let mut g = IdGen(1);
        let u = g.uuid();
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }

    #[test]
    fn rate_window() {
        let mut s = Scenario::builtin();
        s.clients[0].rate_limit = Some(super::super::scenario::RateLimit {
            requests: 1,
            window_seconds: 10,
        });
        let id = s.clients[0].id.get_ref().clone();
        let mut w = World::new(&s);
        let t0 = Instant::now();
        assert_eq!(w.rate_limited(&id, t0), None);
        assert_eq!(
            w.rate_limited(&id, t0 + Duration::from_millis(1500)),
            Some(9)
        );
        assert_eq!(w.rate_limited(&id, t0 + Duration::from_secs(10)), None);
    }
}

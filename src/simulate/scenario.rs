//! The simulator's world as a support engineer writes it: a TOML file of organizations, OAuth
//! clients, web messaging deployments, conversations and limits. Loading is strict — an unknown
//! key or a dangling reference is an error naming the file and line — because a typo that
//! silently falls back to a default would reproduce the wrong failure.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;

/// The built-in scenario: the forum threads' story (a web messaging guest whose conversation has
/// closed) plus a few clients that exercise the 401/403/429 paths.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text shown by `triage simulate` at start-up.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub behaviour: Behaviour,
    #[serde(default, rename = "organization")]
    pub organizations: Vec<Organization>,
    #[serde(default, rename = "client")]
    pub clients: Vec<Client>,
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenSpec>,
    #[serde(default, rename = "deployment")]
    pub deployments: Vec<Deployment>,
    #[serde(default, rename = "conversation")]
    pub conversations: Vec<ConversationSpec>,
}

/// Switches for behaviours the real API's documentation does not pin down (FACTS.md §10), so
/// rules can be exercised against every plausible variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Behaviour {
    /// How a send into a disconnected conversation is refused.
    #[serde(default)]
    pub closed_send: ClosedSend,
    /// `expires_in` of issued tokens (the real default validity is 24 hours, answered as 86399).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: u64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            closed_send: ClosedSend::default(),
            token_lifetime_seconds: default_token_lifetime(),
        }
    }
}

fn default_token_lifetime() -> u64 {
    86399
}

/// The simulator's own choice for a send into a closed conversation; the real status and code
/// are UNVERIFIED (FACTS.md §2.4), so both plausible answers are available.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ClosedSend {
    /// 409 `request.conflict` (what the forum threads report).
    #[default]
    #[serde(rename = "409-request-conflict")]
    Conflict409,
    /// 400 `conversation.error.participant.no.active.conversations` (the legacy state-error style).
    #[serde(rename = "400-no-active-conversation")]
    NoActiveConversation400,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub id: Spanned<String>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grant {
    /// Authorised by roles (permissions); scopes do not apply (FACTS.md §6.4).
    #[default]
    ClientCredentials,
    /// A code/implicit/PKCE-style client acting for a user: scopes apply. The simulator has no
    /// browser flow, so such clients get their tokens from `[[token]]` entries.
    Code,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub id: Spanned<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub secret: String,
    pub organization: Spanned<String>,
    #[serde(default)]
    pub grant: Grant,
    /// Permissions granted by the client's roles (or, for a code client, its user's roles).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// OAuth scopes; only consulted for `grant = "code"` clients.
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, rename = "rate-limit")]
    pub rate_limit: Option<RateLimit>,
}

/// At most `requests` API calls per `window_seconds` (fixed window per client); the next call
/// gets 429 with `Retry-After` = seconds until the window ends.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RateLimit {
    pub requests: u32,
    pub window_seconds: u64,
}

/// A bearer token that exists from the start, e.g. the one in a customer's log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub value: String,
    pub client: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub id: Spanned<String>,
    pub organization: Spanned<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessengerType {
    Sms,
    Whatsapp,
    Open,
    Webmessaging,
    Apple,
}

impl MessengerType {
    pub const ALL: &'static str = "sms, whatsapp, open, webmessaging, apple";

    pub fn as_str(self) -> &'static str {
        match self {
            MessengerType::Sms => "sms",
            MessengerType::Whatsapp => "whatsapp",
            MessengerType::Open => "open",
            MessengerType::Webmessaging => "webmessaging",
            MessengerType::Apple => "apple",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sms" => MessengerType::Sms,
            "whatsapp" => MessengerType::Whatsapp,
            "open" => MessengerType::Open,
            "webmessaging" => MessengerType::Webmessaging,
            "apple" => MessengerType::Apple,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConversationSpec {
    pub id: Spanned<String>,
    pub organization: Spanned<String>,
    #[serde(rename = "type")]
    pub messenger_type: MessengerType,
    /// ISO-8601 start time; defaults to the simulator's start.
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub deployment: Option<Spanned<String>>,
    #[serde(default)]
    pub external_contact_id: Option<String>,
    #[serde(default, rename = "participant")]
    pub participants: Vec<ParticipantSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantState {
    Connected,
    Disconnected,
}

impl ParticipantState {
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantState::Connected => "connected",
            ParticipantState::Disconnected => "disconnected",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ParticipantSpec {
    pub id: String,
    /// `customer`, `agent`, `api`, `acd`, `workflow`…
    pub purpose: String,
    pub state: ParticipantState,
    /// The id of this participant's message communication (the `{communicationId}` of a send).
    pub communication_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    /// `client`, `endpoint`, `system`, `session.expired`… (defaults to `client` when disconnected).
    #[serde(default)]
    pub disconnect_type: Option<String>,
}

impl Scenario {
    /// The built-in default scenario.
    pub fn builtin() -> Scenario {
        // The embedded file is checked by a unit test, so this cannot fail at run time.
        Scenario::from_toml(DEFAULT_TOML, "<built-in default.toml>")
            .expect("the built-in scenario is valid")
    }

    /// The built-in scenario's text: a starting point for a custom scenario.
    pub fn builtin_toml() -> &'static str {
        DEFAULT_TOML
    }

    pub fn load(path: &Path) -> Result<Scenario, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Scenario::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Scenario, Error> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            Error::Scenario {
                file: origin.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        scenario.validate(text, origin)?;
        Ok(scenario)
    }

    fn validate(&self, text: &str, origin: &str) -> Result<(), Error> {
        let err = |at: &Spanned<String>, message: String| {
            let (line, column) = line_col(text, at.span().start);
            Error::Scenario {
                file: origin.to_owned(),
                line,
                column,
                message,
            }
        };
        let mut orgs = HashSet::new();
        for o in &self.organizations {
            if !orgs.insert(o.id.get_ref().as_str()) {
                return Err(err(
                    &o.id,
                    format!("duplicate organization id {:?}", o.id.get_ref()),
                ));
            }
        }
        let known_org = |r: &Spanned<String>| {
            if orgs.contains(r.get_ref().as_str()) {
                Ok(())
            } else {
                Err(err(r, format!("unknown organization {:?}", r.get_ref())))
            }
        };
        let mut clients = HashSet::new();
        for c in &self.clients {
            known_org(&c.organization)?;
            if !clients.insert(c.id.get_ref().as_str()) {
                return Err(err(
                    &c.id,
                    format!("duplicate client id {:?}", c.id.get_ref()),
                ));
            }
            if let Some(r) = c.rate_limit {
                if r.requests == 0 || r.window_seconds == 0 {
                    return Err(err(
                        &c.id,
                        "rate-limit needs requests >= 1 and window-seconds >= 1".into(),
                    ));
                }
            }
        }
        for t in &self.tokens {
            if !clients.contains(t.client.get_ref().as_str()) {
                return Err(err(
                    &t.client,
                    format!("unknown client {:?}", t.client.get_ref()),
                ));
            }
        }
        let mut deployments = HashSet::new();
        for d in &self.deployments {
            known_org(&d.organization)?;
            deployments.insert(d.id.get_ref().as_str());
        }
        let mut convs = HashSet::new();
        for c in &self.conversations {
            known_org(&c.organization)?;
            if !convs.insert(c.id.get_ref().as_str()) {
                return Err(err(
                    &c.id,
                    format!("duplicate conversation id {:?}", c.id.get_ref()),
                ));
            }
            if let Some(d) = &c.deployment {
                if !deployments.contains(d.get_ref().as_str()) {
                    return Err(err(d, format!("unknown deployment {:?}", d.get_ref())));
                }
            }
            if c.participants.is_empty() {
                return Err(err(
                    &c.id,
                    "a conversation needs at least one [[conversation.participant]]".into(),
                ));
            }
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenario_is_valid() {
        let s = Scenario::from_toml(DEFAULT_TOML, "default.toml").unwrap();
        assert!(!s.clients.is_empty());
        assert!(!s.conversations.is_empty());
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = "[[organization]]\nid = \"o\"\nname = \"O\"\ncolour = \"red\"\n";
        let e = Scenario::from_toml(text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:4:"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn dangling_reference_names_line() {
        let text = "[[organization]]\nid = \"o\"\nname = \"O\"\n\n[[client]]\nid = \"c\"\nsecret = \"s\"\norganization = \"nope\"\n";
        let e = Scenario::from_toml(text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:8:"), "{e}");
        assert!(e.contains("unknown organization \"nope\""), "{e}");
    }
}

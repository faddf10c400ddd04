//! One request in, one response out: the simulator's behaviour per operation, with no I/O so
//! it can be unit-tested and reasoned about. The order of checks is routing → authentication →
//! rate limit → scope → permission → the operation's own validation and state, so a request
//! that is wrong in several ways gets the answer a gateway-then-service API would give first.

use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};

use super::scenario::{ClosedSend, Grant, MessengerType, ParticipantState};
use super::state::{self, Conversation, Participant, World};

/// A request as the simulator sees it: the body already read.
#[derive(Debug, Clone)]
pub struct SimRequest {
    pub method: Method,
    /// Path without the query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
pub struct SimResponse {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl SimResponse {
    fn json(status: u16, cid: &str, body: &Value) -> SimResponse {
        let mut headers = vec![(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )];
        if let Ok(v) = HeaderValue::from_str(cid) {
            headers.push((HeaderName::from_static("inin-correlation-id"), v));
        }
        SimResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    fn empty(status: u16, cid: &str) -> SimResponse {
        let mut r = SimResponse::json(status, cid, &Value::Null);
        r.headers.retain(|(n, _)| n != http::header::CONTENT_TYPE);
        r.body = Bytes::new();
        r
    }

    /// The body parsed as JSON (for tests and the demo).
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// An `ErrorBody` (FACTS.md §2.1) whose `contextId` is the correlation id of the response.
/// `template` is the message with `{name}` placeholders and `params` their values.
fn api_error(
    cid: &str,
    status: u16,
    code: &str,
    template: &str,
    params: &[(&str, String)],
) -> SimResponse {
    let mut message = template.to_owned();
    let mut map = Map::new();
    for (k, v) in params {
        message = message.replace(&format!("{{{k}}}"), v);
        map.insert((*k).to_owned(), Value::String(v.clone()));
    }
    SimResponse::json(
        status,
        cid,
        &json!({
            "message": message,
            "code": code,
            "status": status,
            "messageWithParams": template,
            "messageParams": map,
            "contextId": cid,
            "details": [],
            "errors": [],
        }),
    )
}

fn not_found(cid: &str) -> SimResponse {
    api_error(
        cid,
        404,
        "not.found",
        "The requested resource was not found.",
        &[],
    )
}

fn bad_request(cid: &str) -> SimResponse {
    api_error(
        cid,
        400,
        "bad.request",
        "The request could not be understood by the server due to malformed syntax.",
        &[],
    )
}

/// `constraint.validation` carries a free message (catalogue template `%s`).
fn invalid(cid: &str, message: String) -> SimResponse {
    api_error(
        cid,
        400,
        "constraint.validation",
        "{message}",
        &[("message", message)],
    )
}

/// An OAuth-style error of the token endpoint (FACTS.md §2.1), not an `ErrorBody`.
fn oauth_error(cid: &str, status: u16, error: &str, description: &str) -> SimResponse {
    SimResponse::json(
        status,
        cid,
        &json!({"error": error, "description": description, "error_description": description}),
    )
}

enum Perms {
    None,
    All(&'static [&'static str]),
    Any(&'static [&'static str]),
}

/// Accepted scopes (any one) and required permissions of an operation, from
/// shared/genesys/messaging-operations.tsv.
struct Security {
    scopes: &'static [&'static str],
    perms: Perms,
}

enum Route<'a> {
    Token,
    TokensMe,
    Agentless,
    GetMessageConversation(&'a str),
    PatchMessageConversation(&'a str),
    PatchParticipant(&'a str, &'a str),
    Send(&'a str, &'a str),
    GetConversation(&'a str),
}

impl Route<'_> {
    fn security(&self) -> Security {
        const CONV: &[&str] = &["conversations"];
        const CONV_RO: &[&str] = &["conversations", "conversations:readonly"];
        match self {
            Route::Token => Security {
                scopes: &[],
                perms: Perms::None,
            },
            Route::TokensMe => Security {
                scopes: &["user-basic-info"],
                perms: Perms::None,
            },
            Route::Agentless => Security {
                scopes: CONV,
                perms: Perms::All(&["conversation:message:create"]),
            },
            Route::GetMessageConversation(_) => Security {
                scopes: CONV_RO,
                perms: Perms::None,
            },
            Route::PatchMessageConversation(_) => Security {
                scopes: CONV,
                perms: Perms::Any(&[
                    "conversation:communication:disconnect",
                    "conversation:message:park",
                ]),
            },
            Route::PatchParticipant(..) => Security {
                scopes: CONV,
                perms: Perms::Any(&[
                    "conversation:participant:wrapup",
                    "conversation:call:record",
                    "conversation:communication:disconnect",
                ]),
            },
            Route::Send(..) => Security {
                scopes: CONV,
                perms: Perms::Any(&[
                    "conversation:message:create",
                    "conversation:webmessaging:create",
                ]),
            },
            Route::GetConversation(_) => Security {
                scopes: CONV_RO,
                perms: Perms::Any(&["conversation:communication:view"]),
            },
        }
    }
}

fn route<'a>(method: &Method, path: &'a str) -> Option<Route<'a>> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let r = match (method.as_str(), segs.as_slice()) {
        ("POST", ["oauth", "token"]) => Route::Token,
        ("GET", ["api", "v2", "tokens", "me"]) => Route::TokensMe,
        ("POST", ["api", "v2", "conversations", "messages", "agentless"]) => Route::Agentless,
        ("GET", ["api", "v2", "conversations", "messages", id]) => {
            Route::GetMessageConversation(id)
        }
        ("PATCH", ["api", "v2", "conversations", "messages", id]) => {
            Route::PatchMessageConversation(id)
        }
        ("PATCH", ["api", "v2", "conversations", "messages", id, "participants", p]) => {
            Route::PatchParticipant(id, p)
        }
        (
            "POST",
            ["api", "v2", "conversations", "messages", id, "communications", c, "messages"],
        ) => Route::Send(id, c),
        ("GET", ["api", "v2", "conversations", id]) => Route::GetConversation(id),
        _ => return None,
    };
    Some(r)
}

/// Answers one request against the world.
pub fn handle(world: &Mutex<World>, req: &SimRequest) -> SimResponse {
    // A poisoned lock only means an earlier request panicked; the world is still usable.
    let mut w = world.lock().unwrap_or_else(|e| e.into_inner());
    let cid = w.new_id();
    let Some(route) = route(&req.method, &req.path) else {
        return not_found(&cid);
    };
    if let Route::Token = route {
        return token(&mut w, req, &cid);
    }

    // Authentication.
    let bearer = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty());
    let Some(bearer) = bearer else {
        return api_error(
            &cid,
            401,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
            &[],
        );
    };
    let Some(client) = w
        .token(bearer)
        .and_then(|t| w.client(&t.client_id))
        .cloned()
    else {
        return api_error(
            &cid,
            401,
            "bad.credentials",
            "Invalid login credentials.",
            &[],
        );
    };

    if let Some(secs) = w.rate_limited(client.id.get_ref(), Instant::now()) {
        let mut r = api_error(
            &cid,
            429,
            "too.many.requests.retry.after",
            "Rate limit exceeded the maximum. Retry the request in [{retryAfter}] seconds",
            &[("retryAfter", secs.to_string())],
        );
        r.headers
            .push((http::header::RETRY_AFTER, HeaderValue::from(secs)));
        return r;
    }

    let sec = route.security();
    // Scopes only apply to clients not using the client-credentials grant (FACTS.md §6.4).
    if client.grant == Grant::Code
        && !sec.scopes.is_empty()
        && !sec
            .scopes
            .iter()
            .any(|s| client.scopes.iter().any(|c| c == s))
    {
        return api_error(
            &cid,
            403,
            "app.not.authorized.for.scope",
            "App not authorized to use scope {scope}",
            &[("scope", format!("[{}]", sec.scopes.join(", ")))],
        );
    }
    let has = |p: &&str| client.permissions.iter().any(|c| c == p);
    match sec.perms {
        Perms::None => {}
        Perms::All(ps) => {
            let missing: Vec<&str> = ps.iter().filter(|p| !has(p)).copied().collect();
            if !missing.is_empty() {
                return api_error(
                    &cid,
                    403,
                    "missing.permissions",
                    "Unable to perform the requested action. You are missing the following permission(s): {permissions}",
                    &[("permissions", format!("[{}]", missing.join(", ")))],
                );
            }
        }
        Perms::Any(ps) => {
            if !ps.iter().any(has) {
                return api_error(
                    &cid,
                    403,
                    "missing.any.permissions",
                    "Unable to perform the requested action. You must have at least one of the following permissions assigned: {permissions}",
                    &[("permissions", format!("[{}]", ps.join(", ")))],
                );
            }
        }
    }

    let org = client.organization.get_ref().clone();
    match route {
        Route::Token => not_found(&cid),
        Route::TokensMe => {
            let org_ref = json!({
                "id": org,
                "name": w.organization_name(&org),
                "selfUri": format!("/api/v2/organizations/{org}"),
            });
            let scopes: &[String] = match client.grant {
                Grant::Code => &client.scopes,
                // What the real API lists for a client-credentials token is UNVERIFIED.
                Grant::ClientCredentials => &[],
            };
            SimResponse::json(
                200,
                &cid,
                &json!({
                    "organization": org_ref,
                    "homeOrganization": org_ref,
                    "authorizedScope": scopes,
                    "OAuthClient": {
                        "id": client.id.get_ref(),
                        "name": client.name,
                        "organization": {"id": org},
                    },
                }),
            )
        }
        Route::GetMessageConversation(id) => match w.conversation(&org, id) {
            Some(c) => SimResponse::json(200, &cid, &c.message_conversation_json()),
            None => not_found(&cid),
        },
        Route::GetConversation(id) => match w.conversation(&org, id) {
            Some(c) => SimResponse::json(200, &cid, &c.conversation_json()),
            None => not_found(&cid),
        },
        Route::PatchMessageConversation(id) => {
            let Some(body) = json_object(&req.body) else {
                return bad_request(&cid);
            };
            let Some(c) = w.conversation_mut(&org, id) else {
                return not_found(&cid);
            };
            match body.get("state").and_then(Value::as_str) {
                Some("disconnected") => {
                    for p in &mut c.participants {
                        state::disconnect(p, "client");
                    }
                    SimResponse::json(200, &cid, &c.conversation_json())
                }
                other => invalid_state(&cid, other),
            }
        }
        Route::PatchParticipant(id, pid) => {
            let Some(body) = json_object(&req.body) else {
                return bad_request(&cid);
            };
            let Some(c) = w.conversation_mut(&org, id) else {
                return not_found(&cid);
            };
            let Some(p) = c.participants.iter_mut().find(|p| p.id == pid) else {
                return not_found(&cid);
            };
            match body.get("state").and_then(Value::as_str) {
                Some("disconnected") => {
                    state::disconnect(p, "client");
                    SimResponse::empty(202, &cid)
                }
                // Wrap-up or recording changes have no effect on the simulated world.
                None => SimResponse::empty(202, &cid),
                other => invalid_state(&cid, other),
            }
        }
        Route::Send(id, comm) => {
            let closed_send = w.behaviour.closed_send;
            let msg_id = w.new_id();
            let Some(c) = w.conversation_mut(&org, id) else {
                return not_found(&cid);
            };
            let messenger = c.messenger_type;
            let ended = c.is_ended();
            let Some(p) = c
                .participants
                .iter_mut()
                .find(|p| p.communication_id == comm)
            else {
                return not_found(&cid);
            };
            let Some(body) = json_object(&req.body) else {
                return bad_request(&cid);
            };
            let text = body.get("textBody").and_then(Value::as_str);
            let fields = usize::from(text.is_some())
                + usize::from(
                    body.get("mediaIds")
                        .and_then(Value::as_array)
                        .is_some_and(|a| !a.is_empty()),
                )
                + usize::from(body.get("messagingTemplate").is_some_and(|v| !v.is_null()));
            if fields != 1 {
                return invalid(
                    &cid,
                    "Exactly one message body field is accepted per request: textBody, mediaIds or messagingTemplate.".into(),
                );
            }
            if ended || p.state != ParticipantState::Connected {
                return closed_send_error(&cid, closed_send);
            }
            p.message_ids.push(msg_id.clone());
            SimResponse::json(200, &cid, &message_data(&msg_id, messenger, text))
        }
        Route::Agentless => agentless(&mut w, &org, &cid, &req.body),
    }
}

fn invalid_state(cid: &str, got: Option<&str>) -> SimResponse {
    api_error(
        cid,
        400,
        "invalid.value",
        "Value [{value}] is not valid for field type [{field}]. Allowable values are: {allowed}",
        &[
            ("value", got.unwrap_or("null").to_owned()),
            ("field", "state".to_owned()),
            ("allowed", "disconnected".to_owned()),
        ],
    )
}

/// The simulator's own answer to a send into a closed conversation (real one UNVERIFIED).
fn closed_send_error(cid: &str, how: ClosedSend) -> SimResponse {
    match how {
        ClosedSend::Conflict409 => api_error(
            cid,
            409,
            "request.conflict",
            "The request conflicts with the current state of the target resource.",
            &[],
        ),
        ClosedSend::NoActiveConversation400 => api_error(
            cid,
            400,
            "conversation.error.participant.no.active.conversations",
            "The participant has no active conversation.",
            &[],
        ),
    }
}

fn message_data(id: &str, messenger: MessengerType, text: Option<&str>) -> Value {
    json!({
        "id": id,
        "timestamp": state::now_iso(),
        "direction": "outbound",
        "messengerType": messenger.as_str(),
        "textBody": text,
        "status": "sent",
    })
}

fn json_object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// `POST /api/v2/conversations/messages/agentless` with the field rules of FACTS.md §4.2.
fn agentless(w: &mut World, org: &str, cid: &str, body: &[u8]) -> SimResponse {
    let Some(body) = json_object(body) else {
        return bad_request(cid);
    };
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let Some(kind) = field("toAddressMessengerType") else {
        return invalid(cid, "toAddressMessengerType is required.".into());
    };
    let Some(messenger) = MessengerType::parse(kind) else {
        return api_error(
            cid,
            400,
            "invalid.value",
            "Value [{value}] is not valid for field type [{field}]. Allowable values are: {allowed}",
            &[
                ("value", kind.to_owned()),
                ("field", "toAddressMessengerType".to_owned()),
                ("allowed", MessengerType::ALL.to_owned()),
            ],
        );
    };
    let Some(from) = field("fromAddress") else {
        return invalid(cid, "fromAddress is required.".into());
    };
    let to = field("toAddress");
    let contact = field("externalContactId");
    let text = field("textBody");
    let template = body.get("messagingTemplate").filter(|v| !v.is_null());
    let use_existing = body
        .get("useExistingActiveConversation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match messenger {
        MessengerType::Webmessaging => {
            if to.is_some() {
                return invalid(cid, "toAddress cannot be used when toAddressMessengerType is webmessaging; identify the recipient with externalContactId.".into());
            }
            if contact.is_none() {
                return invalid(
                    cid,
                    "externalContactId is required when toAddressMessengerType is webmessaging."
                        .into(),
                );
            }
            if w.deployment_org(from) != Some(org) {
                return invalid(cid, format!("fromAddress [{from}] is not a web messaging deployment id of this organization; for webmessaging, fromAddress is the deployment id."));
            }
        }
        _ => {
            if to.is_none() {
                return invalid(
                    cid,
                    format!("toAddress is required when toAddressMessengerType is {kind}."),
                );
            }
        }
    }
    if messenger == MessengerType::Sms && text.is_none() {
        return invalid(
            cid,
            "textBody is required when toAddressMessengerType is sms.".into(),
        );
    }
    if messenger == MessengerType::Whatsapp && template.is_none() {
        return invalid(
            cid,
            "messagingTemplate is required when toAddressMessengerType is whatsapp.".into(),
        );
    }
    if text.is_none() && template.is_none() {
        return invalid(
            cid,
            "One of textBody or messagingTemplate is required.".into(),
        );
    }
    let max = if messenger == MessengerType::Sms {
        765
    } else {
        2000
    };
    if let Some(t) = text {
        if t.chars().count() > max {
            return invalid(cid, format!("textBody is longer than {max} characters."));
        }
    }

    let msg_id = w.new_id();
    let existing = match (use_existing, messenger, contact) {
        (true, MessengerType::Webmessaging, Some(c)) => {
            w.active_conversation_for(from, c).map(str::to_owned)
        }
        _ => None,
    };
    let conversation_id = match existing {
        Some(id) => id,
        None => {
            let now = state::now_iso();
            let id = w.new_id();
            let mk = |w: &mut World, purpose: &str| Participant {
                id: w.new_id(),
                purpose: purpose.to_owned(),
                name: None,
                state: ParticipantState::Connected,
                communication_id: w.new_id(),
                start_time: now.clone(),
                end_time: None,
                disconnect_type: None,
                message_ids: Vec::new(),
            };
            let customer = mk(w, "customer");
            let mut api = mk(w, "api");
            api.message_ids.push(msg_id.clone());
            w.insert_conversation(Conversation {
                id: id.clone(),
                organization: org.to_owned(),
                messenger_type: messenger,
                start_time: now,
                deployment: (messenger == MessengerType::Webmessaging).then(|| from.to_owned()),
                external_contact_id: contact.map(str::to_owned),
                participants: vec![customer, api],
            });
            id
        }
    };
    let message = message_data(&msg_id, messenger, text);
    let mut resp = json!({
        "id": msg_id,
        "conversationId": conversation_id,
        "fromAddress": from,
        "messengerType": messenger.as_str(),
        "useExistingActiveConversation": use_existing,
        "textBody": text,
        "timestamp": message["timestamp"].clone(),
        "message": message,
    });
    if let Some(t) = to {
        resp["toAddress"] = json!(t);
    }
    SimResponse::json(202, cid, &resp)
}

/// `POST /oauth/token`, client-credentials grant only.
fn token(w: &mut World, req: &SimRequest, cid: &str) -> SimResponse {
    let form = parse_form(&req.body);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let basic = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .and_then(base64_decode)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    // Credentials in the form body are accepted too (undocumented but works, FACTS.md §6.1).
    let creds = basic.or_else(|| {
        Some((
            get("client_id")?.to_owned(),
            get("client_secret")?.to_owned(),
        ))
    });
    let Some((id, secret)) = creds else {
        return oauth_error(
            cid,
            401,
            "invalid_client",
            "client authentication is required",
        );
    };
    let Some(client) = w.client(&id).filter(|c| c.secret == secret).cloned() else {
        return oauth_error(
            cid,
            401,
            "invalid_client",
            "client not found or bad client secret",
        );
    };
    match get("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                cid,
                400,
                "unsupported_grant_type",
                &format!(
                "the simulator only issues tokens for the client_credentials grant, not {other}"
            ),
            )
        }
        None => return oauth_error(cid, 400, "invalid_request", "grant_type is required"),
    }
    if client.grant != Grant::ClientCredentials {
        return oauth_error(
            cid,
            400,
            "unauthorized_client",
            "client is not authorized to use the client_credential grant type",
        );
    }
    // A `scope` parameter is ignored: scopes do not apply to client credentials (FACTS.md
    // §6.4), and the token response has no `scope` field to report it either way.
    let value = w.issue_token(client.id.get_ref());
    SimResponse::json(
        200,
        cid,
        &json!({
            "access_token": value,
            "token_type": "bearer",
            "expires_in": w.behaviour.token_lifetime_seconds,
        }),
    )
}

fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::scenario::Scenario;

    fn world() -> Mutex<World> {
        Mutex::new(World::new(&Scenario::builtin()))
    }

    fn req(method: Method, path: &str, auth: Option<&str>, body: &str) -> SimRequest {
        let mut headers = HeaderMap::new();
        if let Some(a) = auth {
            headers.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(a).unwrap(),
            );
        }
        SimRequest {
            method,
            path: path.to_owned(),
            headers,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn decoders() {
        assert_eq!(base64_decode("YTpi").unwrap(), b"a:b");
        assert_eq!(base64_decode("YWI6Y2Q=").unwrap(), b"ab:cd");
        assert_eq!(
            percent_decode("messaging%3Aconversation%3Awrite+x"),
            "messaging:conversation:write x"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn unknown_path_is_not_found_with_matching_context_id() {
        let r = handle(&world(), &req(Method::GET, "/api/v2/nope", None, ""));
        assert_eq!(r.status, 404);
        let body = r.json_body().unwrap();
        let cid = r
            .headers
            .iter()
            .find(|(n, _)| n == "inin-correlation-id")
            .unwrap()
            .1
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(body["contextId"], cid);
        assert_eq!(body["code"], "not.found");
    }

    #[test]
    fn scope_check_applies_to_code_clients_only() {
        let w = world();
        let r = handle(
            &w,
            &req(
                Method::GET,
                "/api/v2/conversations/messages/x",
                Some("Bearer desktop-user-token"),
                "",
            ),
        );
        assert_eq!(r.status, 403);
        let b = r.json_body().unwrap();
        assert_eq!(b["code"], "app.not.authorized.for.scope");
        assert_eq!(
            b["message"],
            "App not authorized to use scope [conversations, conversations:readonly]"
        );
    }
}

//! The simulator per route and per scenario switch, over real HTTP on 127.0.0.1:0.

use std::io::Write;

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use triage::simulate::{Scenario, SimHandle, Simulator};

const ORG: &str = "6d6b1e2c-0c1e-4b55-9c3a-3f0c2a7d9e10";
const NOTIFIER: (&str, &str) = ("a1f3c9d2-5b7e-4e21-8f0a-6c2d9b4e7a11", "demo-secret");
const REPORTING: (&str, &str) = ("b2e4d0a3-6c8f-4f32-9a1b-7d3e0c5f8b22", "reporting-secret");
const DESKTOP: (&str, &str) = ("c3f5e1b4-7d90-4a43-8b2c-8e4f1d6a9c33", "desktop-secret");
const BULK: (&str, &str) = ("d4a6f2c5-8e01-4b54-9c3d-9f5a2e7b0d44", "bulk-secret");
const CLOSED: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const CLOSED_AGENT_COMM: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeee02";
const OPEN: &str = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
const OPEN_CUSTOMER: &str = "22222222-3333-4444-8555-666666666601";
const OPEN_AGENT_COMM: &str = "bbbbbbbb-cccc-4ddd-8eee-ffffffffff02";
const DEPLOYMENT: &str = "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f";
const CONTACT: &str = "e7d6c5b4-a392-4817-9605-f4e3d2c1b0a9";

struct Sim {
    handle: SimHandle,
    http: Client,
    base: String,
}

impl Sim {
    async fn start(scenario: &Scenario) -> Sim {
        let handle = Simulator::bind("127.0.0.1:0".parse().unwrap(), scenario)
            .await
            .unwrap()
            .spawn();
        let base = handle.url();
        Sim {
            handle,
            http: Client::builder().no_proxy().build().unwrap(),
            base,
        }
    }

    async fn default() -> Sim {
        Sim::start(&Scenario::builtin()).await
    }

    async fn token_request(&self, (id, secret): (&str, &str), form: &str) -> Response {
        self.http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, client: (&str, &str)) -> String {
        let r = self
            .token_request(client, "grant_type=client_credentials")
            .await;
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        b["access_token"].as_str().unwrap().to_owned()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut rb = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.unwrap()
    }

    async fn stop(self) {
        drop(self.http);
        self.handle.shutdown().await.unwrap();
    }
}

/// Status, body, and the check every API error must pass: `ININ-Correlation-Id` == `contextId`
/// and the full `ErrorBody` shape.
async fn api_error(r: Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let cid = r
        .headers()
        .get("inin-correlation-id")
        .expect("correlation id header")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(r.headers()["content-type"], "application/json");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], code, "{b}");
    assert_eq!(b["status"], status);
    assert_eq!(b["contextId"], cid.as_str());
    assert!(b["message"].is_string());
    assert!(b["messageWithParams"].is_string());
    assert!(b["messageParams"].is_object());
    assert_eq!(b["details"], json!([]));
    assert_eq!(b["errors"], json!([]));
    b
}

fn send_path(conv: &str, comm: &str) -> String {
    format!("/api/v2/conversations/messages/{conv}/communications/{comm}/messages")
}

#[tokio::test]
async fn token_issue_has_the_real_shape_and_ignores_scope() {
    let sim = Sim::default().await;
    for form in [
        "grant_type=client_credentials",
        "grant_type=client_credentials&scope=messaging%3Aconversation%3Awrite",
    ] {
        let r = sim.token_request(NOTIFIER, form).await;
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["access_token", "token_type", "expires_in"]);
        assert_eq!(b["token_type"], "bearer");
        assert_eq!(b["expires_in"], 86399);
    }
    // Credentials in the form body work too.
    let r = sim
        .http
        .post(format!("{}/oauth/token", sim.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            NOTIFIER.0, NOTIFIER.1
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sim.stop().await;
}

#[tokio::test]
async fn token_refusals_use_the_oauth_shape() {
    let sim = Sim::default().await;
    let r = sim
        .token_request((NOTIFIER.0, "wrong"), "grant_type=client_credentials")
        .await;
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "invalid_client");
    assert_eq!(b["description"], b["error_description"]);

    let r = sim
        .token_request(DESKTOP, "grant_type=client_credentials")
        .await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b,
        json!({"error": "unauthorized_client",
               "description": "client is not authorized to use the client_credential grant type",
               "error_description": "client is not authorized to use the client_credential grant type"})
    );

    let r = sim.token_request(NOTIFIER, "grant_type=password").await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "unsupported_grant_type");
    sim.stop().await;
}

#[tokio::test]
async fn authentication_errors() {
    let sim = Sim::default().await;
    let path = format!("/api/v2/conversations/messages/{CLOSED}");
    let b = api_error(
        sim.call("GET", &path, None, None).await,
        401,
        "authentication.required",
    )
    .await;
    assert_eq!(
        b["message"],
        "No authentication bearer token specified in authorization header."
    );
    let b = api_error(
        sim.call("GET", &path, Some("nope"), None).await,
        401,
        "bad.credentials",
    )
    .await;
    assert_eq!(b["message"], "Invalid login credentials.");
    sim.stop().await;
}

#[tokio::test]
async fn tokens_me() {
    let sim = Sim::default().await;
    let t = sim.token(NOTIFIER).await;
    let r = sim.call("GET", "/api/v2/tokens/me", Some(&t), None).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["organization"]["id"], ORG);
    assert_eq!(b["OAuthClient"]["id"], NOTIFIER.0);
    assert_eq!(b["authorizedScope"], json!([]));

    let r = sim
        .call("GET", "/api/v2/tokens/me", Some("desktop-user-token"), None)
        .await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b["authorizedScope"],
        json!(["user-basic-info", "messaging:readonly"])
    );
    sim.stop().await;
}

#[tokio::test]
async fn conversations_show_state() {
    let sim = Sim::default().await;
    let t = sim.token(NOTIFIER).await;
    let r = sim
        .call(
            "GET",
            &format!("/api/v2/conversations/messages/{CLOSED}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["id"], CLOSED);
    let ps = b["participants"].as_array().unwrap();
    assert_eq!(ps.len(), 2);
    assert_eq!(ps[0]["purpose"], "customer");
    assert_eq!(ps[0]["type"], "webmessaging");
    assert_eq!(ps[0]["externalContact"]["id"], CONTACT);
    for p in ps {
        assert_eq!(p["state"], "disconnected");
        assert!(p["endTime"].is_string());
    }

    let r = sim
        .call(
            "GET",
            &format!("/api/v2/conversations/{CLOSED}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert!(b["endTime"].is_string());
    assert_eq!(b["participants"][1]["messages"][0]["id"], CLOSED_AGENT_COMM);
    assert_eq!(b["participants"][1]["messages"][0]["state"], "disconnected");

    let r = sim
        .call(
            "GET",
            &format!("/api/v2/conversations/{OPEN}"),
            Some(&t),
            None,
        )
        .await;
    let b: Value = r.json().await.unwrap();
    assert!(b.get("endTime").is_none());

    api_error(
        sim.call(
            "GET",
            "/api/v2/conversations/messages/does-not-exist",
            Some(&t),
            None,
        )
        .await,
        404,
        "not.found",
    )
    .await;
    sim.stop().await;
}

#[tokio::test]
async fn send_into_closed_conversation_default_is_409() {
    let sim = Sim::default().await;
    let t = sim.token(NOTIFIER).await;
    let b = api_error(
        sim.call(
            "POST",
            &send_path(CLOSED, CLOSED_AGENT_COMM),
            Some(&t),
            Some(json!({"textBody": "hi"})),
        )
        .await,
        409,
        "request.conflict",
    )
    .await;
    assert_eq!(
        b["message"],
        "The request conflicts with the current state of the target resource."
    );
    sim.stop().await;
}

#[tokio::test]
async fn send_into_closed_conversation_400_variant() {
    let text = Scenario::builtin_toml().replace(
        "closed-send = \"409-request-conflict\"",
        "closed-send = \"400-no-active-conversation\"",
    );
    let scenario = Scenario::from_toml(&text, "variant.toml").unwrap();
    let sim = Sim::start(&scenario).await;
    let t = sim.token(NOTIFIER).await;
    let b = api_error(
        sim.call(
            "POST",
            &send_path(CLOSED, CLOSED_AGENT_COMM),
            Some(&t),
            Some(json!({"textBody": "hi"})),
        )
        .await,
        400,
        "conversation.error.participant.no.active.conversations",
    )
    .await;
    assert_eq!(b["message"], "The participant has no active conversation.");
    sim.stop().await;
}

#[tokio::test]
async fn a_disconnect_disconnects() {
    let sim = Sim::default().await;
    let t = sim.token(NOTIFIER).await;
    let send = send_path(OPEN, OPEN_AGENT_COMM);
    let r = sim
        .call("POST", &send, Some(&t), Some(json!({"textBody": "hi"})))
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "sent");
    assert_eq!(b["textBody"], "hi");

    // Two message body fields at once are refused.
    api_error(
        sim.call(
            "POST",
            &send,
            Some(&t),
            Some(json!({"textBody": "hi", "mediaIds": ["m"]})),
        )
        .await,
        400,
        "constraint.validation",
    )
    .await;

    let r = sim
        .call(
            "PATCH",
            &format!("/api/v2/conversations/messages/{OPEN}/participants/{OPEN_CUSTOMER}"),
            Some(&t),
            Some(json!({"state": "disconnected"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = sim
        .call(
            "GET",
            &format!("/api/v2/conversations/messages/{OPEN}"),
            Some(&t),
            None,
        )
        .await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["participants"][0]["state"], "disconnected");
    assert!(b["participants"][0]["endTime"].is_string());
    assert_eq!(b["participants"][1]["state"], "connected");

    // Disconnecting the whole conversation closes it; sends then fail.
    let r = sim
        .call(
            "PATCH",
            &format!("/api/v2/conversations/messages/{OPEN}"),
            Some(&t),
            Some(json!({"state": "disconnected"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert!(b["endTime"].is_string());
    api_error(
        sim.call("POST", &send, Some(&t), Some(json!({"textBody": "hi"})))
            .await,
        409,
        "request.conflict",
    )
    .await;
    api_error(
        sim.call(
            "PATCH",
            &format!("/api/v2/conversations/messages/{OPEN}"),
            Some(&t),
            Some(json!({"state": "open"})),
        )
        .await,
        400,
        "invalid.value",
    )
    .await;
    sim.stop().await;
}

#[tokio::test]
async fn agentless_web_messaging_field_rules() {
    let sim = Sim::default().await;
    let t = sim.token(NOTIFIER).await;
    let path = "/api/v2/conversations/messages/agentless";
    let good = json!({
        "fromAddress": DEPLOYMENT,
        "toAddressMessengerType": "webmessaging",
        "externalContactId": CONTACT,
        "textBody": "hello",
    });
    let r = sim.call("POST", path, Some(&t), Some(good.clone())).await;
    assert_eq!(r.status(), 202);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["fromAddress"], DEPLOYMENT);
    assert_eq!(b["messengerType"], "webmessaging");
    assert_eq!(b["useExistingActiveConversation"], false);
    let conv = b["conversationId"].as_str().unwrap().to_owned();
    // The new conversation exists and is connected.
    let r = sim
        .call(
            "GET",
            &format!("/api/v2/conversations/messages/{conv}"),
            Some(&t),
            None,
        )
        .await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["participants"][1]["purpose"], "api");
    assert_eq!(c["participants"][0]["state"], "connected");

    let mut with_to = good.clone();
    with_to["toAddress"] = json!("+15551234567");
    let e = api_error(
        sim.call("POST", path, Some(&t), Some(with_to)).await,
        400,
        "constraint.validation",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("toAddress"), "{e}");

    let mut no_contact = good.clone();
    no_contact
        .as_object_mut()
        .unwrap()
        .remove("externalContactId");
    let e = api_error(
        sim.call("POST", path, Some(&t), Some(no_contact)).await,
        400,
        "constraint.validation",
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("externalContactId"),
        "{e}"
    );

    let mut wrong_from = good.clone();
    wrong_from["fromAddress"] = json!("not-a-deployment");
    let e = api_error(
        sim.call("POST", path, Some(&t), Some(wrong_from)).await,
        400,
        "constraint.validation",
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("deployment id"),
        "{e}"
    );

    let mut bad_type = good.clone();
    bad_type["toAddressMessengerType"] = json!("webchat");
    let e = api_error(
        sim.call("POST", path, Some(&t), Some(bad_type)).await,
        400,
        "invalid.value",
    )
    .await;
    assert_eq!(
        e["message"],
        "Value [webchat] is not valid for field type [toAddressMessengerType]. Allowable values are: sms, whatsapp, open, webmessaging, apple"
    );

    let sms = json!({"fromAddress": "+15550001111", "toAddress": "+15551234567", "toAddressMessengerType": "sms"});
    let e = api_error(
        sim.call("POST", path, Some(&t), Some(sms)).await,
        400,
        "constraint.validation",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("textBody"), "{e}");

    api_error(
        sim.call("POST", path, Some(&t), None).await,
        400,
        "bad.request",
    )
    .await;
    sim.stop().await;
}

#[tokio::test]
async fn permissions_and_scopes() {
    let sim = Sim::default().await;
    let t = sim.token(REPORTING).await;
    let body = json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging", "externalContactId": CONTACT, "textBody": "x"});
    let e = api_error(
        sim.call(
            "POST",
            "/api/v2/conversations/messages/agentless",
            Some(&t),
            Some(body.clone()),
        )
        .await,
        403,
        "missing.permissions",
    )
    .await;
    assert_eq!(
        e["message"],
        "Unable to perform the requested action. You are missing the following permission(s): [conversation:message:create]"
    );
    let e = api_error(
        sim.call(
            "POST",
            &send_path(OPEN, OPEN_AGENT_COMM),
            Some(&t),
            Some(json!({"textBody": "x"})),
        )
        .await,
        403,
        "missing.any.permissions",
    )
    .await;
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("conversation:message:create"));

    // A code-grant token without the `conversations` scope.
    let e = api_error(
        sim.call(
            "POST",
            "/api/v2/conversations/messages/agentless",
            Some("desktop-user-token"),
            Some(body),
        )
        .await,
        403,
        "app.not.authorized.for.scope",
    )
    .await;
    assert_eq!(
        e["message"],
        "App not authorized to use scope [conversations]"
    );
    assert_eq!(e["messageParams"]["scope"], "[conversations]");
    sim.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let sim = Sim::default().await;
    let t = sim.token(BULK).await;
    let path = format!("/api/v2/conversations/messages/{CLOSED}");
    for _ in 0..2 {
        assert_eq!(sim.call("GET", &path, Some(&t), None).await.status(), 200);
    }
    let r = sim.call("GET", &path, Some(&t), None).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let b = api_error(r, 429, "too.many.requests.retry.after").await;
    assert_eq!(
        b["message"],
        format!("Rate limit exceeded the maximum. Retry the request in [{retry}] seconds")
    );
    // Other clients are not affected.
    let other = sim.token(NOTIFIER).await;
    assert_eq!(
        sim.call("GET", &path, Some(&other), None).await.status(),
        200
    );
    sim.stop().await;
}

#[tokio::test]
async fn paths_that_are_not_operations_are_404() {
    let sim = Sim::default().await;
    let t = sim.token(NOTIFIER).await;
    for (m, p) in [
        ("PUT", "/api/v2/communications/guests/g1"),
        ("POST", "/api/v2/conversations/messaging/participants"),
        ("POST", "/api/v2/conversations/messaging"),
        ("GET", "/oauth/nothing"),
        ("DELETE", "/api/v2/conversations/messages/agentless"),
    ] {
        let b = api_error(
            sim.call(m, p, Some(&t), Some(json!({}))).await,
            404,
            "not.found",
        )
        .await;
        assert_eq!(b["message"], "The requested resource was not found.");
    }
    sim.stop().await;
}

#[test]
fn scenario_errors_name_file_and_line() {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        f,
        "[[organization]]\nid = \"o\"\nname = \"O\"\n\n[[conversation]]\nid = \"c\"\norganization = \"o\"\ntype = \"webmessaging\"\nstate = \"closed\"\n"
    )
    .unwrap();
    let e = Scenario::load(f.path()).unwrap_err().to_string();
    let expected = format!("{}:9:", f.path().display());
    assert!(e.starts_with(&expected), "{e}");
    assert!(e.contains("state"), "{e}");

    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        f,
        "[[organization]]\nid = \"o\"\nname = \"O\"\n\n[[deployment]]\nid = \"d\"\norganization = \"o\"\n\n[[conversation]]\nid = \"c\"\norganization = \"o\"\ntype = \"webmessaging\"\ndeployment = \"x\"\n"
    )
    .unwrap();
    let e = Scenario::load(f.path()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:13:", f.path().display())), "{e}");
    assert!(e.contains("unknown deployment \"x\""), "{e}");
}

/// `triage simulate` prints the ids a reproduction needs (conversations, their participants'
/// communications, the calls that use them), and logs the ids a successful POST created.
#[tokio::test]
async fn the_binary_prints_the_scenarios_ids_and_logs_what_a_post_created() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = Vec::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = line.starts_with("  Ctrl-C stops it.");
        banner.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    let url = banner[0]
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the banner's first line names the URL")
        .to_owned();
    let want = [
        "  Conversations:".to_owned(),
        format!("    {CLOSED}  webmessaging, disconnected, deployment {DEPLOYMENT}, externalContactId {CONTACT}"),
        "      customer  participant 11111111-2222-4333-8444-555555555501  communication aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeee01  disconnected  Web guest".to_owned(),
        format!("      agent     participant 11111111-2222-4333-8444-555555555502  communication {CLOSED_AGENT_COMM}  disconnected  Agent"),
        format!("      GET  /api/v2/conversations/messages/{CLOSED}"),
        format!("      POST {}", send_path(CLOSED, CLOSED_AGENT_COMM)),
    ];
    let at = banner
        .iter()
        .position(|l| l == "  Conversations:")
        .unwrap_or_else(|| panic!("no Conversations in the banner:\n{}", banner.join("\n")));
    assert_eq!(
        &banner[at..at + want.len()],
        &want[..],
        "the banner's first conversation: expected vs got"
    );
    for line in [
        format!("    {DEPLOYMENT}  Acme website messenger"),
        "    desktop-user-token  of client c3f5e1b4-7d90-4a43-8b2c-8e4f1d6a9c33".to_owned(),
        format!("    {OPEN}  webmessaging, connected, deployment {DEPLOYMENT}, externalContactId 0a1b2c3d-4e5f-4607-8819-2a3b4c5d6e7f"),
    ] {
        assert!(
            banner.contains(&line),
            "missing from the banner: {line:?}\n{}",
            banner.join("\n")
        );
    }

    let http = Client::builder().no_proxy().build().unwrap();
    let r = http
        .post(format!("{url}/oauth/token"))
        .basic_auth(NOTIFIER.0, Some(NOTIFIER.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let t: Value = r.json().await.unwrap();
    let r = http
        .post(format!("{url}/api/v2/conversations/messages/agentless"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .json(&json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging", "externalContactId": CONTACT, "textBody": "hello again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let b: Value = r.json().await.unwrap();
    let want = format!(
        "message {}, conversation {}",
        b["id"].as_str().unwrap(),
        b["conversationId"].as_str().unwrap()
    );
    // A graceful stop, so that the batched log lines are written.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let logs: Vec<Value> = std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let created: Vec<&Value> = logs
        .iter()
        .filter(|l| l["message"] == "simulated")
        .map(|l| &l["created"])
        .collect();
    assert_eq!(
        created,
        [&Value::Null, &Value::String(want)],
        "`created` of the token request and the agentless send: expected vs got\n{logs:#?}"
    );
}

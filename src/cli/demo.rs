//! `triage demo`: the forum threads' story (shared/seeds/), played as a client would against the
//! simulator with triage in between, so a newcomer sees in seconds what triage is for. Both
//! servers run in-process on free loopback ports and are shut down before the command returns.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};

use crate::error::Error;
use crate::inspect::Inspector;
use crate::proxy::{Config, Proxy, UpstreamUrl};
use crate::simulate::{Scenario, Simulator};

#[derive(Debug, Args)]
pub struct DemoArgs {}

/// The inspector the demo runs the proxy with: the same pipeline as `triage proxy` (built-in
/// rules, built-in catalog, a fresh memory of traffic).
pub fn default_inspector() -> Result<Arc<dyn Inspector>, Error> {
    let rules = crate::rules::RuleSet::builtin()?;
    let engine = Arc::new(crate::diagnose::Engine::new(rules));
    Ok(Arc::new(crate::diagnose::Pipeline::new(
        engine,
        crate::diagnose::PipelineOptions::default(),
    )))
}

// The built-in scenario's cast (src/simulate/default.toml).
const CLIENT_ID: &str = "a1f3c9d2-5b7e-4e21-8f0a-6c2d9b4e7a11";
const CLIENT_SECRET: &str = "demo-secret";
const CLOSED_CONVERSATION: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const AGENT_COMMUNICATION: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeee02";
const GUEST_ID: &str = "11111111-2222-4333-8444-555555555501";
const DEPLOYMENT: &str = "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f";
const EXTERNAL_CONTACT: &str = "e7d6c5b4-a392-4817-9605-f4e3d2c1b0a9";

/// One call of the story and what came back.
#[derive(Debug, Clone)]
pub struct Step {
    pub title: &'static str,
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    pub expected_status: u16,
    /// Rule ids the story expects triage to name, best first.
    pub expected_rules: &'static [&'static str],
    /// `Triage-Rule`, split on commas; empty when triage said nothing.
    pub rules: Vec<String>,
    pub cause: Option<String>,
    pub fix: Option<String>,
    pub docs: Option<String>,
    /// The error `code` of the body, when it has one.
    pub code: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub steps: Vec<Step>,
    /// Where the proxy and the simulator listened (both closed when `play` returns).
    pub proxy_addr: Option<SocketAddr>,
    pub simulator_addr: Option<SocketAddr>,
}

impl Summary {
    /// Every call answered the status the story expects.
    pub fn statuses_as_expected(&self) -> bool {
        self.steps.iter().all(|s| s.status == s.expected_status)
    }

    /// Every call was diagnosed with the rules the story expects, best first.
    pub fn rules_as_expected(&self) -> bool {
        self.steps.iter().all(|s| {
            s.rules
                .iter()
                .map(String::as_str)
                .eq(s.expected_rules.iter().copied())
        })
    }
}

pub fn run(_args: DemoArgs) -> Result<ExitCode, Error> {
    let color = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    crate::cli::runtime()?.block_on(async move {
        let mut out = std::io::stdout().lock();
        let summary = play(&mut out, color, default_inspector()?).await?;
        Ok(
            if summary.statuses_as_expected() && summary.rules_as_expected() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            },
        )
    })
}

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn status(&self, status: u16) -> String {
        let text = format!(
            "{status} {}",
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
        );
        self.wrap(if status < 400 { "32" } else { "31" }, text.trim_end())
    }
    fn rule(&self, s: &str) -> String {
        self.wrap("1;36", s)
    }
}

/// Plays the story into `out`. Starts the simulator (built-in scenario) and the proxy with
/// `inspector` on loopback, and shuts both down before returning, also on error.
pub async fn play(
    out: &mut impl Write,
    color: bool,
    inspector: Arc<dyn Inspector>,
) -> Result<Summary, Error> {
    let scenario = Scenario::builtin();
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let sim = Simulator::bind(loopback, &scenario).await?.spawn();
    let upstream = UpstreamUrl::parse(&sim.url())?;
    let mut cfg = Config::new(loopback, upstream.clone(), upstream);
    cfg.shutdown_grace = Duration::from_secs(2);
    cfg.response_timeout = Duration::from_secs(10);
    let proxy = match Proxy::bind(cfg, inspector).await {
        Ok(p) => p.spawn(),
        Err(e) => {
            let _ = sim.shutdown().await;
            return Err(e);
        }
    };
    let base = format!("http://{}", proxy.addr);
    let (proxy_addr, simulator_addr) = (proxy.addr, sim.addr);
    let result = story(out, &Paint(color), &base, &scenario).await;
    let proxy_down = proxy.shutdown().await;
    let sim_down = sim.shutdown().await;
    let mut summary = result?;
    proxy_down?;
    sim_down?;
    summary.proxy_addr = Some(proxy_addr);
    summary.simulator_addr = Some(simulator_addr);
    Ok(summary)
}

fn demo_err(e: impl std::fmt::Display) -> Error {
    Error::Config(format!("demo: {e}"))
}

struct Call<'a> {
    title: &'static str,
    method: &'static str,
    path: String,
    bearer: Option<&'a str>,
    json: Option<Value>,
    form: Option<&'static str>,
    expected_status: u16,
    expected_rules: &'static [&'static str],
    /// Told before the call: why the developer makes it.
    why: &'static str,
}

async fn story(
    out: &mut impl Write,
    p: &Paint,
    base: &str,
    scenario: &Scenario,
) -> Result<Summary, Error> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(demo_err)?;
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(Error::Io);

    w(out, p.bold("triage demo: a proactive message to a web messaging guest whose conversation has closed"))?;
    w(out, p.dim(&format!(
        "The story of two Genesys Cloud developer-forum threads, played against triage's simulator through triage ({base}).\n\
         The simulator answers a send into a closed conversation with {} (its own choice: the real status is unverified).",
        match scenario.behaviour.closed_send {
            crate::simulate::ClosedSend::Conflict409 => "409 request.conflict",
            crate::simulate::ClosedSend::NoActiveConversation400 => "400 conversation.error.participant.no.active.conversations",
        }
    )))?;

    let mut summary = Summary::default();
    let send_path = format!(
        "/api/v2/conversations/messages/{CLOSED_CONVERSATION}/communications/{AGENT_COMMUNICATION}/messages"
    );
    let send_body = json!({"textBody": "Hello again! Your replacement part has shipped."});

    let login = Call {
        title: "Log in with client credentials",
        method: "POST",
        path: "/oauth/token".into(),
        bearer: None,
        json: None,
        form: Some("grant_type=client_credentials"),
        expected_status: 200,
        expected_rules: &[],
        why: "The integration gets a token, as every SDK does.",
    };
    let (step, body) = call(out, p, &client, base, &login, 1).await?;
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    summary.steps.push(step);

    let calls = [
        Call {
            title: "Look at yesterday's conversation",
            method: "GET",
            path: format!("/api/v2/conversations/messages/{CLOSED_CONVERSATION}"),
            bearer: Some(&token),
            json: None,
            form: None,
            expected_status: 200,
            expected_rules: &[],
            why: "The thread's first step: fetch the closed conversation (here with the real path). Its participants are disconnected; triage remembers that.",
        },
        Call {
            title: "Send to the guest in yesterday's conversation",
            method: "POST",
            path: send_path.clone(),
            bearer: Some(&token),
            json: Some(send_body.clone()),
            form: None,
            expected_status: 409,
            expected_rules: &["conversation-closed"],
            why:
                "The developer's original call: a message on the old conversation's communication.",
        },
        Call {
            title: "Forum fix 1: set allowRecontact on the guest",
            method: "PUT",
            path: format!("/api/v2/communications/guests/{GUEST_ID}"),
            bearer: Some(&token),
            json: Some(json!({"allowRecontact": true})),
            form: None,
            expected_status: 404,
            expected_rules: &["recontact-disabled", "unknown-endpoint"],
            why: "The first thread says a guest's allowRecontact flag must be set first.",
        },
        Call {
            title: "Forum fix 2: post to the messaging participants endpoint",
            method: "POST",
            path: "/api/v2/conversations/messaging/participants".into(),
            bearer: Some(&token),
            json: Some(json!({"text": {"content": "Hello"}})),
            form: None,
            expected_status: 404,
            expected_rules: &["recontact-disabled", "unknown-endpoint"],
            why: "The thread's title endpoint.",
        },
        Call {
            title: "Forum fix 3: a token with the scope messaging:conversation:write",
            method: "POST",
            path: "/api/v2/oauth/token".into(),
            bearer: None,
            json: None,
            form: Some("grant_type=client_credentials&scope=messaging:conversation:write"),
            expected_status: 404,
            expected_rules: &["unknown-endpoint", "invented-scope"],
            why: "The second thread's curl, as written: the token endpoint under /api/v2, and a scope that does not exist.",
        },
        Call {
            title: "Retry the send",
            method: "POST",
            path: send_path.clone(),
            bearer: Some(&token),
            json: Some(send_body),
            form: None,
            expected_status: 409,
            expected_rules: &["conversation-closed"],
            why: "Same call, same answer: the conversation is still closed.",
        },
        Call {
            title: "The real fix: an agentless message",
            method: "POST",
            path: "/api/v2/conversations/messages/agentless".into(),
            bearer: Some(&token),
            json: Some(json!({
                "fromAddress": DEPLOYMENT,
                "toAddressMessengerType": "webmessaging",
                "externalContactId": EXTERNAL_CONTACT,
                "textBody": "Hello again! Your replacement part has shipped.",
            })),
            form: None,
            expected_status: 202,
            expected_rules: &[],
            why: "Web messaging: fromAddress is the deployment id, the guest is named by externalContactId.",
        },
    ];
    for (i, c) in calls.iter().enumerate() {
        let (step, _) = call(out, p, &client, base, c, i + 2).await?;
        summary.steps.push(step);
    }
    drop(client);

    write_summary(out, p, &summary)?;
    Ok(summary)
}

const STEPS: usize = 8;

async fn call(
    out: &mut impl Write,
    p: &Paint,
    client: &reqwest::Client,
    base: &str,
    c: &Call<'_>,
    n: usize,
) -> Result<(Step, Value), Error> {
    let method = http::Method::from_bytes(c.method.as_bytes()).map_err(demo_err)?;
    let mut rb = client.request(method, format!("{base}{}", c.path));
    if let Some(t) = c.bearer {
        rb = rb.bearer_auth(t);
    }
    if let Some(j) = &c.json {
        rb = rb.json(j);
    }
    if let Some(f) = c.form {
        rb = rb
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(f);
    }
    let resp = rb.send().await.map_err(demo_err)?;
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let rules: Vec<String> = header("triage-rule")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let (cause, fix, docs) = (
        header("triage-cause"),
        header("triage-fix"),
        header("triage-docs"),
    );
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body["code"]
        .as_str()
        .or_else(|| body["error"].as_str())
        .map(str::to_owned);

    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(Error::Io);
    w(out, String::new())?;
    w(out, p.bold(&format!("[{n}/{STEPS}] {}", c.title)))?;
    w(out, p.dim(&format!("      {}", c.why)))?;
    let extra = match c.form {
        Some(f) => format!("  {f}"),
        None => String::new(),
    };
    w(out, format!("      {} {}{extra}", c.method, c.path))?;
    let detail = match (&code, body["message"].as_str()) {
        (Some(code), Some(m)) => format!("  {code}: {m}"),
        (Some(code), None) => format!("  {code}"),
        _ if body["access_token"].is_string() => "  (access token issued)".to_owned(),
        _ if body["conversationId"].is_string() => {
            format!(
                "  (conversation {})",
                body["conversationId"].as_str().unwrap_or("")
            )
        }
        _ => String::new(),
    };
    w(out, format!("   -> {}{detail}", p.status(status)))?;
    if rules.is_empty() {
        w(out, format!("      triage: {}", p.dim("no diagnosis")))?;
    } else {
        w(out, format!("      triage: {}", p.rule(&rules.join(", "))))?;
        for (label, v) in [("cause", &cause), ("fix", &fix), ("docs", &docs)] {
            if let Some(v) = v {
                w(out, format!("        {label}: {v}"))?;
            }
        }
    }
    let step = Step {
        title: c.title,
        method: c.method,
        path: c.path.clone(),
        status,
        expected_status: c.expected_status,
        expected_rules: c.expected_rules,
        rules,
        cause,
        fix,
        docs,
        code,
    };
    Ok((step, body))
}

fn write_summary(out: &mut impl Write, p: &Paint, s: &Summary) -> Result<(), Error> {
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(Error::Io);
    w(out, String::new())?;
    w(out, p.bold("Summary"))?;
    for (i, st) in s.steps.iter().enumerate() {
        let diag = if st.rules.is_empty() {
            p.dim("no diagnosis")
        } else {
            p.rule(&st.rules.join(", "))
        };
        let mark = if st.status == st.expected_status {
            ""
        } else {
            "  (unexpected status)"
        };
        w(
            out,
            format!(
                "  {}. {:<68} {}  {diag}{mark}",
                i + 1,
                st.title,
                p.status(st.status)
            ),
        )?;
    }
    let failed = s.steps.iter().filter(|st| st.status >= 400).count();
    let diagnosed = s.steps.iter().filter(|st| !st.rules.is_empty()).count();
    w(out, String::new())?;
    w(out, format!(
        "{} calls: {failed} failed the way the forum threads describe, {diagnosed} diagnosed by triage; \
         the agentless send {}.",
        s.steps.len(),
        if s.steps.last().is_some_and(|st| st.status < 300) { "succeeded" } else { "did NOT succeed" }
    ))?;
    w(out, p.dim("None of the forum's fixes exist in the Platform API; the agentless message is the real way to reach the guest again (`triage rules explain recontact-disabled`)."))?;
    Ok(())
}

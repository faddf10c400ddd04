//! `triage simulate`: serve the built-in API simulator with a scenario until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::error::Error;
use crate::simulate::scenario::{Grant, ParticipantState};
use crate::simulate::{Scenario, Simulator};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to serve both faces on (`/oauth/token` and `/api/v2/...`): IP:PORT, or
    /// localhost:PORT for 127.0.0.1:PORT.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8790", value_parser = crate::cli::proxy::parse_listen, env = "TRIAGE_SIMULATE_LISTEN")]
    pub listen: SocketAddr,

    /// Scenario file (TOML) describing the world; the built-in default when absent.
    /// See docs/simulator.md.
    #[arg(long, value_name = "FILE", env = "TRIAGE_SIMULATE_SCENARIO")]
    pub scenario: Option<PathBuf>,
}

pub fn run(args: SimulateArgs) -> Result<ExitCode, Error> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::builtin(),
    };
    crate::cli::runtime()?.block_on(async move {
        let sim = Simulator::bind(args.listen, &scenario).await?;
        let url = format!("http://{}", sim.local_addr());
        // A reader of the banner that went away (`| head`) is no reason to stop serving.
        match super::output::print(format_args!(
            "{}\n",
            banner(&url, &scenario, args.scenario.as_deref())
        )) {
            Err(e) if !e.is_broken_pipe() => return Err(e),
            _ => {}
        }
        tracing::info!(listen = %url, "triage simulate ready");
        sim.serve(crate::cli::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// What a support engineer needs to start calling: the URL, the credentials, the next command.
fn banner(url: &str, s: &Scenario, file: Option<&std::path::Path>) -> String {
    let mut out = String::new();
    let source = file.map_or("built-in default".to_owned(), |p| p.display().to_string());
    out.push_str(&format!(
        "triage simulate: serving {url} (scenario: {source})\n"
    ));
    if let Some(d) = &s.description {
        out.push_str(&format!("  {d}\n"));
    }
    out.push_str("  OAuth clients:\n");
    for c in &s.clients {
        let grant = match c.grant {
            Grant::ClientCredentials => "client-credentials",
            Grant::Code => "code (use a [[token]])",
        };
        out.push_str(&format!(
            "    {}  secret {:?}  {}  {}\n",
            c.id.get_ref(),
            c.secret,
            grant,
            c.name.as_deref().unwrap_or("")
        ));
    }
    if !s.tokens.is_empty() {
        out.push_str("  Tokens (Authorization: Bearer TOKEN):\n");
        for t in &s.tokens {
            out.push_str(&format!(
                "    {}  of client {}\n",
                t.value,
                t.client.get_ref()
            ));
        }
    }
    if !s.deployments.is_empty() {
        out.push_str("  Web messaging deployments (fromAddress of an agentless send):\n");
        for d in &s.deployments {
            out.push_str(&format!(
                "    {}  {}\n",
                d.id.get_ref(),
                d.name.as_deref().unwrap_or("")
            ));
        }
    }
    ids_of_conversations(&mut out, s);
    out.push_str(&format!(
        "  Put triage in front of it: triage proxy --api-upstream {url} --login-upstream {url}\n"
    ));
    out.push_str("  Ctrl-C stops it.");
    out
}

/// The conversations' ids and the calls that use them, ready to paste into a request or a
/// follow-up: a reproduction needs the conversation id and the communication id of a send,
/// which were only in the scenario file (or nowhere, for the built-in one).
fn ids_of_conversations(out: &mut String, s: &Scenario) {
    if s.conversations.is_empty() {
        return;
    }
    out.push_str("  Conversations:\n");
    for c in &s.conversations {
        let id = c.id.get_ref();
        let open = c
            .participants
            .iter()
            .any(|p| p.state == ParticipantState::Connected);
        let mut about = vec![
            c.messenger_type.as_str().to_owned(),
            if open { "connected" } else { "disconnected" }.to_owned(),
        ];
        if let Some(d) = &c.deployment {
            about.push(format!("deployment {}", d.get_ref()));
        }
        if let Some(x) = &c.external_contact_id {
            about.push(format!("externalContactId {x}"));
        }
        out.push_str(&format!("    {id}  {}\n", about.join(", ")));
        for p in &c.participants {
            out.push_str(&format!(
                "      {:9} participant {}  communication {}  {}{}\n",
                p.purpose,
                p.id,
                p.communication_id,
                p.state.as_str(),
                p.name
                    .as_deref()
                    .map_or_else(String::new, |n| format!("  {n}"))
            ));
        }
        out.push_str(&format!("      GET  /api/v2/conversations/messages/{id}\n"));
        // A send goes out on the sender's side: the agent's communication, else the first
        // participant that is not the customer.
        let sender = c
            .participants
            .iter()
            .find(|p| p.purpose == "agent")
            .or_else(|| c.participants.iter().find(|p| p.purpose != "customer"));
        if let Some(p) = sender {
            out.push_str(&format!(
                "      POST /api/v2/conversations/messages/{id}/communications/{}/messages\n",
                p.communication_id
            ));
        }
    }
}

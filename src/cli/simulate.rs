//! `triage simulate`: serve the built-in API simulator with a scenario until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::error::Error;
use crate::simulate::scenario::Grant;
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
        println!("{}", banner(&url, &scenario, args.scenario.as_deref()));
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
    out.push_str(&format!(
        "  Put triage in front of it: triage proxy --api-upstream {url} --login-upstream {url}\n"
    ));
    out.push_str("  Ctrl-C stops it.");
    out
}

//! The `triage` binary: parse arguments, install tracing, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use triage::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's output is the story on stdout; per-exchange logs would drown it.
    let default_level = match cli.command {
        Command::Demo(_) => "warn",
        _ => "info",
    };
    let logs = triage::logging::install(cli.log_format, default_level);
    let result = triage::cli::run(cli);
    // Batched log lines go out before the error line, so they read in order.
    drop(logs);
    match result {
        Ok(code) => code,
        Err(e) => {
            let e = anyhow::Error::from(e);
            eprintln!("triage: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

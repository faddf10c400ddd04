//! The `triage` binary: parse arguments, install tracing, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use triage::cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's output is the story on stdout; per-exchange logs would drown it.
    let default_level = match cli.command {
        Command::Demo(_) => "warn",
        _ => "info",
    };
    let _guard = install_tracing(cli.log_format, default_level);
    match triage::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let e = anyhow::Error::from(e);
            eprintln!("triage: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr through a background writer, so a slow terminal never slows the proxy.
fn install_tracing(
    format: LogFormat,
    default_level: &str,
) -> tracing_appender::non_blocking::WorkerGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // The default buffer (128k lines) is allocated and touched up front: several MiB of RSS for
    // a burst triage never needs to absorb. Lines beyond the buffer are dropped, not waited for.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(16 * 1024)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Pretty => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .compact()
            .init(),
    }
    guard
}

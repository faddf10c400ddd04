//! The command line: one file per subcommand. `main.rs` parses [`Cli`], installs tracing and
//! calls [`run`]; everything here is a library function so tests can drive it.

pub mod certs;
pub mod demo;
pub mod explain;
pub mod export;
pub mod ops;
mod output;
pub mod proxy;
pub mod redact;
pub mod rules;
pub mod simulate;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::Error;

#[derive(Debug, Parser)]
#[command(
    name = "triage",
    version,
    about = "Explains why calls to the Genesys Cloud Platform API fail.",
    long_about = "triage explains why calls to the Genesys Cloud Platform API fail.\n\n\
        `triage proxy` sits between your SDK and the API, forwards every call unchanged, and \
        names the cause and the fix of failed calls in response headers and its log.",
    propagate_version = true
)]
pub struct Cli {
    /// Log format: `pretty` for people, `json` for machines. `RUST_LOG` sets the levels.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "TRIAGE_LOG_FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the diagnostic reverse proxy in front of a Genesys Cloud region.
    Proxy(proxy::ProxyArgs),
    /// Create a local CA and a localhost certificate for `triage proxy --tls`.
    Certs(certs::CertsArgs),
    /// List, check, test and explain the diagnosis rules.
    Rules(rules::RulesCmd),
    /// Serve the built-in simulator of the Platform API slice triage's rules cover.
    Simulate(simulate::SimulateArgs),
    /// Play the forum threads' story against the simulator through triage, step by step.
    Demo(demo::DemoArgs),
    /// Look up Platform API operations: scopes, permissions and, where the API document lists
    /// them, documented errors.
    Ops(ops::OpsArgs),
    /// Convert a recording (`triage proxy --record`) to HAR 1.2, diagnoses included.
    Export(export::ExportArgs),
    /// Remove secrets and customer text from a HAR file before sharing it.
    Redact(redact::RedactArgs),
    /// Explain the failed calls in a HAR file, recording, curl output, SDK error or error body.
    Explain(explain::ExplainArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    let result = match cli.command {
        Command::Proxy(args) => proxy::run(args, cli.log_format),
        Command::Certs(args) => certs::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Simulate(args) => simulate::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Ops(args) => ops::run(args),
        Command::Export(args) => export::run(args),
        Command::Redact(args) => redact::run(args),
        Command::Explain(args) => explain::run(args),
    };
    match result {
        // Standard output's reader went away (`| head`) before a command that knows no status
        // of its own for it (`rules list`, `demo`) was done: it took what it wanted. Those with
        // one (`explain`, `redact`, `export`, `ops`, `rules test`) return it themselves.
        Err(e) if e.is_broken_pipe() => Ok(ExitCode::SUCCESS),
        r => r,
    }
}

/// A multi-threaded runtime for the async subcommands.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Io)
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP (whose default action would end the process without
/// letting open exchanges finish); the server then shuts down gracefully. A second signal
/// while it does exits the process at once: once tokio handles a signal its default
/// action (terminate) is gone for good, so without this a hung exchange could only be ended
/// with SIGKILL.
pub async fn shutdown_signal() {
    let mut signals = Signals::new();
    if signals.recv().await == HUP_STATUS {
        // A hang-up is the terminal going away (the simulator has nothing to reload).
        tracing::info!("shutdown requested (SIGHUP)");
    } else {
        tracing::info!("shutdown requested");
    }
    exit_on_second(signals);
}

/// A second signal while the server shuts down exits the process at once.
fn exit_on_second(mut signals: Signals) {
    tokio::spawn(async move {
        let code = signals.recv().await;
        tracing::warn!("second shutdown signal: exiting now, without waiting for open exchanges");
        crate::logging::flush();
        std::process::exit(code);
    });
}

/// [`shutdown_signal`] for a server whose SIGHUP means "reload": Ctrl-C and SIGTERM shut it
/// down; each SIGHUP, until then and after, calls `reload` (on a blocking thread: it may read
/// files) instead.
pub async fn shutdown_signal_or_reload(reload: impl Fn() + Send + Sync + 'static) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut hup) = signal(SignalKind::hangup()) {
            let reload = Arc::new(reload);
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    let r = reload.clone();
                    let _ = tokio::task::spawn_blocking(move || r()).await;
                }
            });
        }
    }
    #[cfg(not(unix))]
    drop(reload);
    let mut signals = Signals::new();
    #[cfg(unix)]
    {
        signals.hup = None;
    }
    signals.recv().await;
    tracing::info!("shutdown requested");
    exit_on_second(signals);
}

/// Ctrl-C and SIGTERM, registered once so that no signal between the first and the second wait
/// is lost.
struct Signals {
    waited: bool,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

/// The status a shell reports for a process a hang-up ended (128 + SIGHUP).
const HUP_STATUS: i32 = 129;

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                waited: false,
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals { waited: false }
    }

    /// Waits for the next signal; returns the status a shell reports for a process that signal
    /// killed (128 + its number).
    async fn recv(&mut self) -> i32 {
        // The first wait keeps what `tokio::signal::ctrl_c()` did: a Ctrl-C handler that cannot
        // be installed, or whose driver is gone, ends it at once. A later wait must not take
        // that for a second signal.
        let first = !std::mem::replace(&mut self.waited, true);
        #[cfg(unix)]
        {
            let (int, term, hup) = (&mut self.int, &mut self.term, &mut self.hup);
            let int = async {
                let ended = match int {
                    Some(s) => s.recv().await.is_none(),
                    None => true,
                };
                if ended && !first {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = int => 130,
                _ = next(term, first) => 143,
                _ = next(hup, first) => HUP_STATUS,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() && !first {
                std::future::pending::<()>().await;
            }
            130
        }
    }
}

/// The next delivery of a signal other than Ctrl-C: one that could not be registered never
/// comes, and a driver that is gone counts as a signal only on the first wait (as Ctrl-C's).
#[cfg(unix)]
async fn next(sig: &mut Option<tokio::signal::unix::Signal>, first: bool) {
    match sig {
        Some(s) => {
            if s.recv().await.is_none() && !first {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

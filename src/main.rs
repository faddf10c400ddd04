//! The `triage` binary: parse arguments, install tracing, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use triage::cli::{Cli, Command};

// jemalloc: a diagnosed exchange allocates and frees many small strings across the proxy's
// tasks, where glibc's malloc took a quarter of triage's user time (docs/benchmarks.md). Not on
// MSVC, which jemalloc does not build for; there the system allocator serves.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's output is the story on stdout; per-exchange logs would drown it.
    let default_level = match cli.command {
        Command::Demo(_) => "warn",
        _ => "info",
    };
    let log_format = cli.log_format;
    let logs = triage::logging::install(log_format, default_level);
    let result = triage::cli::run(cli);
    // Batched log lines go out before the error line, so they read in order.
    drop(logs);
    match result {
        Ok(code) => code,
        Err(e) => {
            // Not anyhow's `{:#}`: most messages already end with their source (`cannot listen
            // on ADDR: {source}`), which the chain would then print a second time.
            let message = triage::proxy::problem::chain(&e);
            eprintln!("{}", triage::logging::fatal_line(log_format, &message));
            ExitCode::from(2)
        }
    }
}

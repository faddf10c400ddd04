//! `triage ops`: what the catalog knows of an operation — for a support engineer asking
//! "what does this call need?".

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;

use crate::catalog::{self, fetch, Catalog, Lookup, Operation};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct OpsArgs {
    /// A Swagger 2.0 / OpenAPI document or operations catalog to read instead of the cache.
    #[arg(long, global = true, value_name = "FILE", env = "TRIAGE_SPEC")]
    pub spec: Option<PathBuf>,

    /// Where `triage proxy` caches the API's own document.
    #[arg(long, global = true, value_name = "DIR", env = "TRIAGE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: OpsCommand,
}

#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Operations whose id, path or summary contain all the words.
    Search {
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// One operation, by operationId or as `METHOD PATH` (a concrete path works too).
    Show {
        #[arg(required = true)]
        what: Vec<String>,
    },
}

/// The best catalog available without the network: `--spec`, else any cached document, else
/// the built-in one.
fn catalog(args: &OpsArgs) -> Result<Catalog, Error> {
    if let Some(spec) = &args.spec {
        return catalog::load::from_file(spec);
    }
    let dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(fetch::default_cache_dir);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("swagger-") && n.ends_with(".json"))
            {
                if let Ok(c) = catalog::load::from_file(&p) {
                    return Ok(c);
                }
            }
        }
    }
    Ok(catalog::load::builtin())
}

pub fn run(args: OpsArgs) -> Result<ExitCode, Error> {
    let c = catalog(&args)?;
    let mut out = String::new();
    let code = match &args.command {
        OpsCommand::Search { text } => {
            let hits = c.search(&text.join(" "));
            for op in &hits {
                out.push_str(&format!(
                    "{:<7} {:<80} {}\n",
                    op.method.as_str(),
                    op.path,
                    op.id
                ));
            }
            out.push_str(&format!("{} operation(s) in {}\n", hits.len(), c.source));
            if hits.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        OpsCommand::Show { what } => show(&c, what, &mut out),
    };
    match super::output::print(format_args!("{out}")) {
        Err(e) if !e.is_broken_pipe() => Err(e),
        _ => Ok(code),
    }
}

/// `METHOD PATH` quoted as one argument, as it is copied from a log line, split in two. Only a
/// standard HTTP method counts as the first word, so an operationId is never split.
fn split_method_path(what: &[String]) -> Option<Vec<String>> {
    const METHODS: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    let [one] = what else { return None };
    let (m, p) = one.trim().split_once(char::is_whitespace)?;
    let p = p.trim_start();
    (METHODS.iter().any(|k| k.eq_ignore_ascii_case(m)) && !p.is_empty())
        .then(|| vec![m.to_owned(), p.to_owned()])
}

fn show(c: &Catalog, what: &[String], out: &mut String) -> ExitCode {
    let describe = |op: &Operation, out: &mut String| {
        out.push_str(&format!("{}  {}\n", op.id, op.signature()));
        if let Some(s) = &op.summary {
            out.push_str(&format!("  summary:     {s}\n"));
        }
        if op.deprecated {
            out.push_str("  deprecated:  yes\n");
        }
        out.push_str(&format!("  scopes:      {} (any one suffices; scopes apply to code/implicit/PKCE grants, not client credentials)\n", op.scopes_text()));
        out.push_str(&format!("  permissions: {} (client credentials: grant them through a role on the OAuth client)\n", op.permissions_text()));
        if !op.error_codes.is_empty() {
            out.push_str("  documented errors:\n");
            for (s, code, msg) in &op.error_codes {
                out.push_str(&format!("    {s} {code}: {msg}\n"));
            }
        }
    };
    let split = split_method_path(what);
    let what = split.as_deref().unwrap_or(what);
    let found = match what {
        [id] => c.get(id).map(|op| vec![op]),
        [m, p] => {
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok();
            match method.map(|m| (c.lookup(&m, p), m)) {
                Some((Lookup::Found { op, params }, _)) => {
                    if !params.is_empty() {
                        let list: Vec<String> =
                            params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        out.push_str(&format!("matched with {}\n", list.join(", ")));
                    }
                    Some(vec![op])
                }
                Some((Lookup::WrongMethod { path, allowed }, m)) => {
                    let methods: Vec<&str> = allowed.iter().map(|o| o.method.as_str()).collect();
                    out.push_str(&format!(
                        "{m} is not an operation of {path}; it has: {}\n",
                        methods.join(", ")
                    ));
                    Some(allowed)
                }
                _ => None,
            }
        }
        _ => None,
    };
    match found {
        Some(ops) => {
            for op in ops {
                describe(op, out);
            }
            out.push_str(&format!("(catalog: {})\n", c.source));
            ExitCode::SUCCESS
        }
        None => {
            out.push_str(&format!(
                "no operation {} in {}\n",
                what.join(" "),
                c.source
            ));
            if let [m, p] = what {
                let m =
                    Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
                let near = c.nearest(&m, p, 5);
                if !near.is_empty() {
                    out.push_str("nearest real operations:\n");
                    for op in near {
                        out.push_str(&format!("  {}  ({})\n", op.signature(), op.id));
                    }
                }
            }
            ExitCode::from(1)
        }
    }
}

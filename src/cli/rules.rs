//! `triage rules`: list, check, test, explain and document the rules.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::proxy::RulesArgs;
use crate::error::Error;
use crate::rules::RuleSet;

#[derive(Debug, Args)]
pub struct RulesCmd {
    #[command(subcommand)]
    pub command: RulesSub,
}

#[derive(Debug, Subcommand)]
pub enum RulesSub {
    /// List the loaded rules: id, severity, title.
    List {
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// Load the rules (built-in, --rules, and DIR) strictly, examples included; exit 1 on error.
    Check {
        dir: Option<PathBuf>,
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// Run every example (of DIR's rules when given) and show expected-vs-got; exit 1 on failure.
    Test {
        dir: Option<PathBuf>,
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// The long form of a rule: cause, evidence, fix, an example exchange, sources.
    Explain {
        id: String,
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// Write one Markdown page per built-in rule and an index.
    Docs {
        #[arg(long, default_value = "docs/rules")]
        out: PathBuf,
    },
}

fn with_dir(rules: &RulesArgs, dir: &Option<PathBuf>) -> RulesArgs {
    let mut r = rules.clone();
    r.rules.extend(dir.iter().cloned());
    r
}

pub fn run(cmd: RulesCmd) -> Result<ExitCode, Error> {
    match cmd.command {
        RulesSub::List { rules } => {
            let set = rules.load()?;
            let w = set.rules().iter().map(|r| r.id.len()).max().unwrap_or(0);
            for r in set.rules() {
                println!("{:w$}  {:7}  {}", r.id, r.severity.as_str(), r.title);
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesSub::Check { dir, rules } => {
            let r = with_dir(&rules, &dir);
            match RuleSet::load(!r.no_builtin_rules, &r.rules) {
                Ok(set) => {
                    let n: usize = set.rules().iter().map(|r| r.examples.len()).sum();
                    println!("ok: {} rules, {n} examples", set.rules().len());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    eprintln!("{} error(s); nothing loaded", e.0.len());
                    Ok(ExitCode::from(1))
                }
            }
        }
        RulesSub::Test { dir, rules } => {
            let r = with_dir(&rules, &dir);
            let set = match RuleSet::load_unchecked(!r.no_builtin_rules, &r.rules) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let only_added = dir.is_some();
            let outcomes: Vec<_> = set
                .run_examples()
                .into_iter()
                .filter(|o| !only_added || set.get(&o.rule).is_some_and(|r| !r.builtin))
                .collect();
            let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
            for o in &outcomes {
                match &o.failure {
                    None => println!("ok    {} / {}", o.rule, o.name),
                    Some(f) => println!("FAIL  {} / {} ({}:{}){f}", o.rule, o.name, o.file, o.line),
                }
            }
            println!(
                "\n{} examples: {} passed, {failed} failed",
                outcomes.len(),
                outcomes.len() - failed
            );
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        RulesSub::Explain { id, rules } => {
            let set = rules.load()?;
            match set.get(&id) {
                Some(r) => {
                    print!("{}", crate::report::rule_docs::page(r));
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
                    // Bad input, as everywhere else: exit 2 through the one error path.
                    Err(Error::Input(format!(
                        "no rule {id:?}; known: {}",
                        ids.join(", ")
                    )))
                }
            }
        }
        RulesSub::Docs { out } => {
            let set = RuleSet::builtin()?;
            std::fs::create_dir_all(&out).map_err(|e| Error::Write {
                path: out.clone(),
                source: e,
            })?;
            for (name, text) in crate::report::rule_docs::pages(&set) {
                let p = out.join(name);
                std::fs::write(&p, text).map_err(|e| Error::Write { path: p, source: e })?;
            }
            println!("wrote {} pages to {}", set.rules().len() + 1, out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `triage proxy --help`'s list of built-in rules, from the same definitions.
pub fn builtin_rules_help() -> String {
    let mut s = String::from("Built-in rules (`triage rules explain ID` for each):\n");
    match RuleSet::compile(&crate::rules::builtin_sources()) {
        Ok(set) => {
            for r in set.rules() {
                s.push_str(&format!("  {:24} {}\n", r.id, r.title));
            }
        }
        Err(e) => s.push_str(&format!("  (the built-in rules do not load: {e})\n")),
    }
    s
}

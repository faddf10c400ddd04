//! `triage rules`: list, check, test, explain and document the rules.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::output::print;
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
    /// Load the rules (built-in, --rules, and DIR; DIR may be one file) strictly, examples
    /// included: exit 2 when they do not load, 1 when an example does not behave as declared.
    Check {
        dir: Option<PathBuf>,
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// Run every example (of DIR's rules when given) and show expected-vs-got: exit 1 when one
    /// fails, 2 when the rules do not load.
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
    /// Write one Markdown page per rule (built-in, and those of --rules) and an index.
    Docs {
        #[arg(long, default_value = "docs/rules")]
        out: PathBuf,
        #[command(flatten)]
        rules: RulesArgs,
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
            report_replaced(&set);
            let w = set.rules().iter().map(|r| r.id.len()).max().unwrap_or(0);
            let added = set.rules().iter().any(|r| !r.builtin);
            for r in set.rules() {
                let mut line = format!("{:w$}  {:7}  {}", r.id, r.severity.as_str(), r.title);
                // Where a rule comes from, once rules of other files are loaded.
                if added && !r.builtin {
                    line.push_str(&format!("  ({}:{})", r.file, r.line));
                }
                print(format_args!("{line}\n"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesSub::Check { dir, rules } => {
            let r = with_dir(&rules, &dir);
            // As everywhere in triage, 2 is input that cannot be used (rules that do not
            // load); 1 is rules that load but whose examples do not behave as declared.
            let set = match r.load_unchecked() {
                Ok(set) => set,
                Err(e) => {
                    eprintln!("{e}");
                    eprintln!("{} error(s); nothing loaded", e.0.len());
                    return Ok(ExitCode::from(2));
                }
            };
            if let Err(e) = set.check_examples() {
                eprintln!("{e}");
                eprintln!("{} example(s) do not behave as declared", e.0.len());
                return Ok(ExitCode::from(1));
            }
            report_replaced(&set);
            let n: usize = set.rules().iter().map(|r| r.examples.len()).sum();
            print(format_args!(
                "ok: {} rules, {n} examples\n",
                set.rules().len()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        RulesSub::Test { dir, rules } => {
            let r = with_dir(&rules, &dir);
            let set = match r.load_unchecked() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    eprintln!("{} error(s); no example run", e.0.len());
                    return Ok(ExitCode::from(2));
                }
            };
            let only_added = dir.is_some();
            let outcomes: Vec<_> = set
                .run_examples()
                .into_iter()
                .filter(|o| !only_added || set.get(&o.rule).is_some_and(|r| !r.builtin))
                .collect();
            let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
            let code = if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
            let printed = outcomes
                .iter()
                .try_for_each(|o| match &o.failure {
                    None => print(format_args!("ok    {} / {}\n", o.rule, o.name)),
                    Some(f) => print(format_args!(
                        "FAIL  {} / {} ({}:{})\n  {}\n",
                        o.rule,
                        o.name,
                        o.file,
                        o.line,
                        f.trim_start_matches('\n').trim_start()
                    )),
                })
                .and_then(|()| {
                    print(format_args!(
                        "\n{} examples: {} passed, {failed} failed\n",
                        outcomes.len(),
                        outcomes.len() - failed
                    ))
                });
            // A reader that went away (`| head`) does not change what the examples did.
            match printed {
                Err(e) if !e.is_broken_pipe() => Err(e),
                _ => Ok(code),
            }
        }
        RulesSub::Explain { id, rules } => {
            let set = rules.load()?;
            match set.get(&id) {
                Some(r) => {
                    print(format_args!("{}", crate::report::rule_docs::page(r)))?;
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
        RulesSub::Docs { out, rules } => {
            let set = rules.load()?;
            std::fs::create_dir_all(&out).map_err(|e| Error::Write {
                path: out.clone(),
                source: e,
            })?;
            for (name, text) in crate::report::rule_docs::pages(&set) {
                let p = out.join(name);
                std::fs::write(&p, text).map_err(|e| Error::Write { path: p, source: e })?;
            }
            print(format_args!(
                "wrote {} pages to {}\n",
                set.rules().len() + 1,
                out.display()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Says on standard error which added rules replace built-in ones.
fn report_replaced(set: &RuleSet) {
    for r in set.replacing() {
        eprintln!(
            "note: {}:{}: rule {} replaces the built-in rule of the same id",
            r.file, r.line, r.id
        );
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

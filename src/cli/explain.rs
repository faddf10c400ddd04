//! `triage explain FILE…`: replays HAR files, recordings, `curl -i` output or bare JSON error
//! bodies through one diagnosis [`Pipeline`], all their exchanges in the order they happened
//! (evidence builds up as it would have live, across files), and reports what failed and why.

use std::io::{self, BufWriter, IntoInnerError, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::output::{refuse_same_file, Output};
use crate::catalog;
use crate::cli::proxy::RulesArgs;
use crate::diagnose::{Engine, Pipeline, PipelineOptions};
use crate::error::Error;
use crate::ingest::timeline::Event;
use crate::ingest::{self, InputArgs, ReadOptions, STDIN};
use crate::report::explain::{self, Format, Report};

const AFTER_HELP: &str = "\
Exit status:
  0  nothing failed (or, with --fail-on undiagnosed, every failure has a diagnosis)
  1  failures found (with --fail-on undiagnosed: at least one failure has no diagnosis)
  2  input error: a file is missing, empty, of unknown kind, truncated or malformed (the report
     of what was read before the break is still written; the error names the file, byte, line,
     column and entry), a HAR entry that is JSON triage cannot read (skipped, and named: the
     entries after it are read), a recording with no readable line, no FILE while standard
     input is a terminal, or bad flags or rules

A line of a recording that is not a record (cut off by a crash) is skipped, and the report
names it; the other lines are read.

The exchanges of all inputs are replayed in the order they happened (by start time; those
without a time last), so that evidence comes only from exchanges before the one diagnosed.

An exchange failed when it has a status of 400 or more, or no response at all (a request the
browser blocked or the connection lost). It is diagnosed when at least one rule matched it.

Every output is redacted: tokens, cookies, client secrets and other credentials are replaced by
a fingerprint, and text customers wrote by its length unless --keep-content.";

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct ExplainArgs {
    /// Inputs, replayed through one pipeline in the order their exchanges happened (`-` for
    /// standard input): HAR 1.2, a triage recording, `curl -i` or `curl -v` output (with the
    /// curl command above it or not), an SDK error as printed, or a JSON error body (bare, or
    /// quoted in a log line). None: standard input, when it is not a terminal.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Output format: `text` for the terminal, `json` for JSON Lines (one object per failed or
    /// diagnosed exchange), `markdown` for a ticket, `html` for one self-contained file.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write the report to OUT instead of standard output (`-` for standard output).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// What makes the exit status 1: `failed`, any failed exchange; `undiagnosed`, a failed
    /// exchange that no rule explains (for CI pipelines).
    #[arg(long, value_enum, default_value_t = FailOn::Failed, value_name = "WHAT")]
    pub fail_on: FailOn,

    /// Keep text customers wrote (`textBody`, `text`, `content`) in the report; credentials
    /// are redacted regardless.
    #[arg(long)]
    pub keep_content: bool,

    /// The API catalog to use (a Swagger 2.0 document or operations catalog) instead of the
    /// built-in one, so that operations outside the messaging slice are known too.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    #[command(flatten)]
    pub rules: RulesArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Exit 1 when any exchange failed, diagnosed or not.
    Failed,
    /// Exit 1 only when a failed exchange has no diagnosis.
    Undiagnosed,
}

pub fn run(mut args: ExplainArgs) -> Result<ExitCode, Error> {
    if args.files.is_empty() {
        // As `jq` or `grep` do: no FILE reads a pipe. At a terminal, waiting for a HAR file
        // typed by hand would look like a hang.
        if io::stdin().is_terminal() {
            return Err(Error::Input(format!(
                "no FILE given and standard input is a terminal: pass {} as FILE, or pipe one \
                 in (`triage explain --help` says more)",
                ingest::TAKES
            )));
        }
        args.files.push(PathBuf::from(STDIN));
    }
    // A file given twice (a shell glob and a name, `- -`) would have its exchanges replayed
    // twice: counted twice, and seen as retries of themselves.
    let mut seen: Vec<PathBuf> = Vec::new();
    args.files.retain(|f| {
        let key = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        if seen.contains(&key) {
            eprintln!(
                "triage: warning: {} is given more than once: it is read once",
                f.display()
            );
            false
        } else {
            seen.push(key);
            true
        }
    });
    if let Some(out) = &args.output {
        for f in &args.files {
            refuse_same_file(f, out)?;
        }
    }
    let rules = args.rules.load()?;
    let mut pipeline = Pipeline::new(
        Arc::new(Engine::new(rules)),
        PipelineOptions {
            replay: true,
            ..PipelineOptions::default()
        },
    );
    if let Some(spec) = &args.spec {
        let c = catalog::load::from_file(spec)?;
        pipeline = pipeline.with_catalog(Arc::new(catalog::fetch::Shared::new(c)));
    }
    let to_stdout = args
        .output
        .as_deref()
        .is_none_or(|o| o.as_os_str() == STDIN);
    let colour = to_stdout && args.format == Format::Text && explain::text::use_colour();
    // Wrapped for a reader at a terminal only: a file or a pipe keeps whole lines.
    let width = (to_stdout && args.format == Format::Text)
        .then(explain::text::terminal_width)
        .flatten();
    let out_path = args.output.as_deref().unwrap_or(Path::new(STDIN));
    let out = Output::create(out_path).map_err(|source| Error::Write {
        path: out_path.to_path_buf(),
        source,
    })?;
    let mut out = BufWriter::new(out);
    let out_err = |source| Error::Write {
        path: args
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from("(standard output)")),
        source,
    };

    let opts = ReadOptions {
        catalog: Some(pipeline.catalog()),
        ..args.input.options()
    };
    let mut report = Report::new(args.keep_content);
    if args.format == Format::Json {
        // Records are written as they come; none need keeping.
        report = report.streaming();
    }
    let written = replay(&pipeline, &args.files, &opts, &mut report, |rec| {
        if args.format == Format::Json {
            explain::json::write_record(&mut out, rec)?;
            // Lines reach a reader of the pipe as they are diagnosed.
            if to_stdout {
                out.flush()?;
            }
        }
        Ok(())
    });
    // Before the report, so that on a terminal it is read first.
    for w in &report.warnings {
        eprintln!("triage: warning: {w}");
    }
    let written = written.and_then(|()| {
        match args.format {
            Format::Text => explain::text::render(&report, &mut out, colour, width),
            Format::Json => Ok(()),
            Format::Markdown => explain::markdown::render(&report, &mut out),
            Format::Html => explain::html::render(&report, &mut out),
        }
        .and_then(|()| out.into_inner().map_err(IntoInnerError::into_error))
        // Input errors still commit: the report covers what was read before the break.
        .and_then(Output::commit)
    });
    match written {
        // The reader went away (`| head`): not an error of the input.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            return Ok(exit_code(&report, args.fail_on))
        }
        Err(e) => return Err(out_err(e)),
        Ok(()) => {}
    }

    for e in &report.errors {
        eprintln!("triage: error: {}", e.message);
        if e.exchanges_before > 0 && !e.read_on {
            eprintln!(
                "triage: the report covers the {} exchange{} of {} read before the break",
                e.exchanges_before,
                if e.exchanges_before == 1 { "" } else { "s" },
                e.file
            );
        }
    }
    if args.format == Format::Json || !to_stdout {
        // The same prefix as the text report's first line, so one grep finds both.
        eprintln!("triage explain: {}", explain::totals_line(&report.totals));
        for line in explain::skipped_lines(&report) {
            eprintln!("triage: {line}");
        }
        if let Some(p) = args.output.as_ref().filter(|_| !to_stdout) {
            eprintln!("triage: report written to {}", p.display());
        }
    }
    Ok(exit_code(&report, args.fail_on))
}

/// Replays the inputs through the pipeline into the report, all of them as one timeline (in the
/// order the exchanges happened, see [`ingest::timeline`]), so that evidence only ever comes
/// from earlier exchanges; `each` sees every record as it is made (JSON Lines streams them).
/// Input errors and skipped entries are recorded in the report; the other inputs are read on.
pub fn replay(
    pipeline: &Pipeline,
    paths: &[impl AsRef<Path>],
    opts: &ingest::ReadOptions,
    report: &mut Report,
    mut each: impl FnMut(&explain::ExchangeRecord) -> io::Result<()>,
) -> io::Result<()> {
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.as_ref().display().to_string())
        .collect();
    for name in &names {
        report.input(name);
    }
    // Notes of bodies over the limit name the limit the readers cut at.
    report.totals.body_limit = opts.body_limit;
    let mut timeline = ingest::timeline::Timeline::new(paths, opts);
    for event in timeline.by_ref() {
        match event {
            Event::Exchange {
                input,
                entry,
                exchange,
            } => {
                // A request to another site that triage refused (absolute-form) is triage's
                // doing, recorded for that: it is explained, not left out.
                let triage_answered = explain::answered_by_triage(&exchange);
                if let Some(host) = exchange.request.host.as_deref().filter(|h| {
                    !opts.any_host
                        && !triage_answered
                        && !crate::region::Region::is_genesys_or_local(h)
                }) {
                    // Not fed to the pipeline either: another site's calls are no evidence.
                    report.other_host(host);
                    continue;
                }
                let (diagnoses, undecided) = pipeline.diagnose_noting(&exchange);
                let seen = report.observe(&names[input], entry, &exchange, &diagnoses, undecided);
                if let Some(rec) = seen {
                    each(&rec)?;
                }
            }
            Event::Error {
                error,
                exchanges_before,
                ..
            } => report.error(&error, exchanges_before),
        }
    }
    for (name, summary) in names.iter().zip(timeline.summaries()) {
        report.skipped(name, &summary.skipped);
        for u in &summary.unreadable {
            report.unreadable(u);
        }
        report.warnings.extend(summary.warnings);
    }
    report.sort_errors();
    Ok(())
}

/// 2 on an input error, else 1 when `fail_on` holds, else 0.
pub fn exit_code(report: &Report, fail_on: FailOn) -> ExitCode {
    if !report.errors.is_empty() {
        return ExitCode::from(2);
    }
    let fail = match fail_on {
        FailOn::Failed => report.any_failed(),
        FailOn::Undiagnosed => report.any_undiagnosed(),
    };
    ExitCode::from(u8::from(fail))
}

//! `triage export --har OUT.har RECORDING`: a recording → HAR 1.2 that browsers and HAR viewers
//! open, diagnoses in each entry's `_triage` field, redacted. Lines that are not records (cut
//! off by a crash) are skipped and named; a recording with none that is, or with no line at
//! all, is an input error (exit 2), and then nothing is written.

use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::{refuse_same_file, Output};
use crate::error::Error;
use crate::har::HarWriter;
use crate::ingest::{self, recording};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write HAR 1.2 to this file.
    #[arg(long, value_name = "OUT.har")]
    pub har: PathBuf,

    /// Keep text that customers wrote (`textBody`, `text`, `content`); credentials are
    /// redacted regardless.
    #[arg(long)]
    pub keep_content: bool,

    /// A recording of `triage proxy --record`.
    #[arg(value_name = "RECORDING")]
    pub recording: PathBuf,
}

pub fn run(args: ExportArgs) -> Result<ExitCode, Error> {
    refuse_same_file(&args.recording, &args.har)?;
    let mut reader = recording::open(&args.recording, usize::MAX / 2)
        .map_err(|e| Error::Input(e.to_string()))?;
    let write_err = |source| Error::Write {
        path: args.har.clone(),
        source,
    };
    // Opened before reading, so that an output that cannot be written is said at once; staged,
    // so that nothing replaces an existing file before the end.
    let mut file = Some(Output::create(&args.har).map_err(write_err)?);
    // Begun at the first record: with none, not a byte reaches the output, not even into a
    // pipe or onto standard output, which cannot be taken back.
    let mut har = None;
    let mut broken = None;
    // Standard output's reader went away (`| head`): it has what it wanted, so the export
    // ends quietly, as `explain` does, with the status of what was read.
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    for item in reader.by_ref() {
        match item {
            Ok(rec) => {
                let w = match &mut har {
                    Some(w) => w,
                    None => har.insert(
                        match HarWriter::new(
                            BufWriter::new(file.take().expect("the output, once")),
                            args.keep_content,
                        ) {
                            Ok(w) => w,
                            Err(e) if gone(&e) => return Ok(ExitCode::SUCCESS),
                            Err(e) => return Err(write_err(e)),
                        },
                    ),
                };
                // The response of an exchange triage answered is triage's: the entry says so,
                // as the recording does, and how the exchange ended.
                let mut ended = serde_json::Map::new();
                if let Some(a) = &rec.triage_answer {
                    ended.insert("answered_by".into(), "triage".into());
                    ended.insert("error".into(), a.error.clone().into());
                    ended.insert("detail".into(), a.detail.clone().into());
                }
                if let Some(o) = &rec.outcome {
                    ended.insert("outcome".into(), o.clone().into());
                }
                match w.write_entry_with(&rec.exchange, &rec.diagnoses, ended) {
                    Ok(()) => {}
                    Err(e) if gone(&e) => return Ok(ExitCode::SUCCESS),
                    Err(e) => return Err(write_err(e)),
                }
            }
            Err(e) => broken = Some(e),
        }
    }
    let Some(har) = har else {
        // As `triage explain` has it, input that yields nothing is an input error: an empty
        // HAR would read as a session in which nothing happened, and would have replaced a
        // good file of the same name.
        match broken {
            Some(e) => eprintln!("triage: error: {e}"),
            None => eprintln!(
                "triage: error: {}: the recording is empty: no record to export",
                args.recording.display()
            ),
        }
        drop(file);
        let out = args.har.display();
        if args.har.as_os_str() == ingest::STDIN {
            eprintln!("triage: nothing was read; nothing was written to standard output");
        } else if args.har.exists() {
            eprintln!("triage: nothing was read; {out} is left as it was");
        } else {
            eprintln!("triage: nothing was read; {out} was not written");
        }
        return Ok(ExitCode::from(2));
    };
    let n = har.entries();
    match har
        .finish()
        .and_then(|w| w.into_inner().map_err(std::io::IntoInnerError::into_error))
        .and_then(Output::commit)
    {
        Ok(()) => {}
        Err(e) if gone(&e) => {
            return Ok(if broken.is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e) => return Err(write_err(e)),
    }
    let skipped: usize = reader.skipped.values().map(|s| s.count).sum();
    if skipped > 0 {
        eprintln!(
            "triage: skipped {skipped} line{} of {} that {} not a record ({})",
            if skipped == 1 { "" } else { "s" },
            args.recording.display(),
            if skipped == 1 { "is" } else { "are" },
            ingest::skipped_text(&reader.skipped)
        );
    }
    match broken {
        None => {
            eprintln!("triage: wrote {n} entries to {}", args.har.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(e) => {
            eprintln!("triage: error: {e}");
            eprintln!(
                "triage: wrote the {n} entries before the break to {}",
                args.har.display()
            );
            Ok(ExitCode::from(2))
        }
    }
}

//! `triage export --har OUT.har RECORDING`: a recording → HAR 1.2 that browsers and HAR viewers
//! open, diagnoses in each entry's `_triage` field, redacted. Lines that are not records (cut
//! off by a crash) are skipped and named; a recording with none that is, is an error.

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
    let file = Output::create(&args.har).map_err(write_err)?;
    let mut har = HarWriter::new(BufWriter::new(file), args.keep_content).map_err(write_err)?;
    let mut broken = None;
    for item in reader.by_ref() {
        match item {
            Ok(rec) => har
                .write_entry(&rec.exchange, &rec.diagnoses)
                .map_err(write_err)?,
            Err(e) => broken = Some(e),
        }
    }
    let n = har.entries();
    har.finish()
        .and_then(|w| w.into_inner().map_err(std::io::IntoInnerError::into_error))
        .and_then(Output::commit)
        .map_err(write_err)?;
    let skipped: usize = reader.skipped.values().map(|s| s.count).sum();
    // With nothing written, the error says what was skipped.
    if skipped > 0 && n > 0 {
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
            if n > 0 {
                eprintln!(
                    "triage: wrote the {n} entries before the break to {}",
                    args.har.display()
                );
            } else {
                eprintln!("triage: {} has no entries", args.har.display());
            }
            Ok(ExitCode::from(2))
        }
    }
}

//! `triage export --har OUT.har RECORDING`: a recording → HAR 1.2 that browsers and HAR viewers
//! open, diagnoses in each entry's `_triage` field, redacted.

use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::{refuse_same_file, Output};
use crate::error::Error;
use crate::har::HarWriter;
use crate::ingest::recording;

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
    let reader = recording::open(&args.recording, usize::MAX / 2)
        .map_err(|e| Error::Input(e.to_string()))?;
    let write_err = |source| Error::Write {
        path: args.har.clone(),
        source,
    };
    let file = Output::create(&args.har).map_err(write_err)?;
    let mut har = HarWriter::new(BufWriter::new(file), args.keep_content).map_err(write_err)?;
    let mut broken = None;
    for item in reader {
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

//! `triage redact IN.har -o OUT.har`: removes secrets (tokens, cookies, client secrets, `code`
//! query parameters) and, unless `--keep-content`, customer-written text from a HAR before it
//! is shared further. Streams: a HAR of any size in bounded memory.

use std::fs::File;
use std::io::{BufWriter, IntoInnerError};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::{refuse_same_file, Output};
use crate::error::Error;
use crate::ingest::STDIN;

#[derive(Debug, Args)]
pub struct RedactArgs {
    /// The HAR file to redact (`-` for standard input).
    #[arg(value_name = "IN.har")]
    pub input: PathBuf,

    /// Where to write the redacted HAR (`-` for standard output; never the input file).
    #[arg(short, long, value_name = "OUT.har")]
    pub output: PathBuf,

    /// Keep text that customers wrote (`textBody`, `text`, `content`); credentials are
    /// redacted regardless.
    #[arg(long)]
    pub keep_content: bool,
}

pub fn run(args: RedactArgs) -> Result<ExitCode, Error> {
    refuse_same_file(&args.input, &args.output)?;
    if args.input.as_os_str() != STDIN {
        if let Err(source) = File::open(&args.input) {
            return Err(Error::Read {
                path: args.input,
                source,
            });
        }
    }
    let write_err = |source| Error::Write {
        path: args.output.clone(),
        source,
    };
    let mut out = BufWriter::new(Output::create(&args.output).map_err(write_err)?);
    let outcome = match crate::har::redact_har(&args.input, &mut out, args.keep_content) {
        Ok(o) => o,
        // Standard output's reader went away (`| head`): it has what it wanted, and what the
        // rest of the input holds is no longer anyone's concern. Quiet, as `explain`.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(write_err(e)),
    };
    for u in &outcome.unreadable {
        eprintln!("triage: error: {u}");
    }
    let more = outcome.unreadable_count - outcome.unreadable.len();
    if more > 0 {
        eprintln!("triage: error: and {more} more entries of JSON triage cannot read");
    }
    for e in &outcome.left_out {
        eprintln!("triage: error: {e}");
    }
    if let Some(e) = &outcome.error {
        eprintln!("triage: error: {e}");
    }
    if outcome.entries == 0 && (outcome.error.is_some() || outcome.unreadable_count > 0) {
        // Nothing was read (not a HAR, broken before its first entry, or no entry triage can
        // read): an empty HAR in place of whatever the output held would destroy it for
        // nothing. Dropping the staged output removes it; what the buffer holds is thrown
        // away unwritten (dropping the buffer would flush it to standard output).
        let (staged, _unwritten) = out.into_parts();
        drop(staged);
        if args.output.as_os_str() != STDIN {
            eprintln!(
                "triage: no entry could be read, so nothing was written: {} is left as it was",
                args.output.display()
            );
        }
        return Ok(ExitCode::from(2));
    }
    let code = if outcome.error.is_some()
        || outcome.unreadable_count > 0
        || !outcome.left_out.is_empty()
    {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    // A broken input still commits: the entries before the break are the output.
    match out
        .into_inner()
        .map_err(IntoInnerError::into_error)
        .and_then(Output::commit)
    {
        Ok(()) => {}
        // The whole input was read: the status is what it says, quietly (see above).
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(code),
        Err(e) => return Err(write_err(e)),
    }
    let left_out = match outcome.unreadable_count {
        0 => String::new(),
        1 => ", leaving out the 1 entry triage cannot read (named above)".to_owned(),
        n => format!(", leaving out the {n} entries triage cannot read (named above)"),
    };
    if outcome.error.is_some() {
        eprintln!(
            "triage: wrote the {} entries before the break, redacted, to {}{left_out}",
            outcome.entries,
            args.output.display()
        );
        return Ok(code);
    }
    eprintln!(
        "triage: wrote {} redacted entries to {}{left_out}",
        outcome.entries,
        args.output.display()
    );
    Ok(code)
}

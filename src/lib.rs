//! triage explains why calls to the Genesys Cloud Platform API fail.
//!
//! The crate is laid out the way the data flows (see `docs/architecture.md`): the [`proxy`]
//! moves bytes and builds an [`exchange::Exchange`]; the [`inspect`] seam hands it to whatever
//! looks at traffic; the CLI in [`cli`] wires the pieces for each subcommand.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod certs;
pub mod cli;
pub mod diagnose;
pub mod error;
pub mod evidence;
pub mod exchange;
pub mod har;
pub mod ingest;
pub mod inspect;
pub mod logging;
pub mod monitor;
pub mod proxy;
pub mod record;
pub mod redact;
pub mod region;
pub mod report;
pub mod rules;
pub mod simulate;
pub mod spelling;

pub use error::{Error, Result};

//! JSON Lines: one object per failed exchange (diagnosed or not) and per diagnosed one,
//! written as each one is diagnosed, so a large input streams. A failure no rule explains has
//! `diagnoses: []`: its correlation id is what a support engineer hands Genesys. Fields:
//! `index`, `file`, `entry`, `time`, `method`, `url` (`null` when the input did not give the
//! path), `status`, `correlation_id`, `diagnoses: [{rule, title, severity, confidence, cause,
//! fix, docs, evidence, operation}]`, and when present `notes` and `outcome` (`client-gone`,
//! `cut-at-shutdown`). Nothing else goes to standard output.

use std::io::{self, Write};

use super::{ExchangeRecord, Report};

/// Writes one record as a line.
pub fn write_record(w: &mut dyn Write, r: &ExchangeRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *w, r).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Every stored record [`write_record`] writes, one line each.
pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    for r in &report.records {
        write_record(w, r)?;
    }
    Ok(())
}

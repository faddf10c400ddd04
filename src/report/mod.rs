//! Renders diagnoses: response headers (sanitised, capped), the log line, the annotated body,
//! and the reports of `triage explain` ([`explain`]).
//! Secrets never reach here unredacted: the matcher redacts what it captures, and the log uses
//! [`crate::redact`] for the request line.

pub mod annotate;
pub mod explain;
pub mod headers;
pub mod log;
pub mod rule_docs;

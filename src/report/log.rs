//! The log line of a diagnosis (target `triage::diagnosis`): pretty or JSON by the subscriber
//! `main` installed. Upstream text is sanitised like header values (no terminal escapes in a
//! pretty log); the request line goes through [`crate::redact`].

use crate::diagnose::Diagnosis;
use crate::exchange::Exchange;
use crate::report::headers::sanitize;

/// Most bytes of cause or fix in a log line.
const MAX_LOGGED: usize = 4096;

pub fn diagnosis(ex: &Exchange, diagnoses: &[Diagnosis]) {
    let Some(best) = diagnoses.first() else {
        return;
    };
    let also: Vec<&str> = diagnoses[1..].iter().map(|d| d.rule.as_str()).collect();
    let path = crate::redact::path_and_query(&ex.request.path, ex.request.query.as_deref());
    tracing::info!(
        target: "triage::diagnosis",
        rule = %best.rule,
        also = %also.join(","),
        confidence = best.confidence.as_str(),
        cause = %sanitize(&best.cause, MAX_LOGGED),
        fix = %sanitize(&best.fix, MAX_LOGGED),
        correlation_id = %sanitize(&ex.correlation_id().unwrap_or_default(), 200),
        method = %ex.request.method,
        path = %sanitize(&path, 2048),
        status = ex.status().unwrap_or(0),
        "diagnosis"
    );
}

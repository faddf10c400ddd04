//! The log line of a diagnosis (target `triage::diagnosis`): pretty or JSON by the subscriber
//! `main` installed. Upstream text is sanitised like header values (no terminal escapes in a
//! pretty log); the request line goes through [`crate::redact`].

use crate::diagnose::Diagnosis;
use crate::exchange::Exchange;
use crate::report::headers::sanitized;

/// Most bytes of cause or fix in a log line.
const MAX_LOGGED: usize = 4096;

pub fn diagnosis(ex: &Exchange, diagnoses: &[Diagnosis]) {
    let Some(best) = diagnoses.first() else {
        return;
    };
    let also = diagnoses[1..]
        .iter()
        .map(|d| d.rule.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let path = crate::redact::path_and_query(&ex.request.path, ex.request.query.as_deref());
    let cid = ex.correlation_id().map(|c| sanitized(&c, 200).into_owned());
    crate::log_line!(INFO, target: "triage::diagnosis", "diagnosis",
        rule = &best.rule,
        also = &also,
        confidence = best.confidence.as_str(),
        cause = &*sanitized(&best.cause, MAX_LOGGED),
        evidence = &*sanitized(&evidence(best), MAX_LOGGED),
        fix = &*sanitized(&best.fix, MAX_LOGGED),
        correlation_id = cid.as_ref(),
        method = ex.request.method.as_str(),
        path = &*sanitized(&path, 2048),
        status = ex.status(),
    );
}

/// What the rule matched, as `name=value; ...` (`status_code=409 request.conflict; count=3`),
/// without the method, path and status the line names already. Captures of secrets were redacted when captured.
fn evidence(d: &Diagnosis) -> String {
    let shown = || {
        d.evidence
            .iter()
            .filter(|(name, _)| !matches!(&**name, "method" | "path" | "status"))
    };
    let len = shown().map(|(n, v)| n.len() + v.len() + 3).sum();
    let mut out = String::with_capacity(len);
    for (name, value) in shown() {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

//! `--annotate-body`: puts the fix where SDK users see it. The JS SDK rejects with the error
//! body alone, so the fix is appended to the body's `message` (the OAuth shape's
//! `error_description`) and a `triage` member is added. Anything not a JSON object is left
//! alone. The proxy drops `Content-Encoding` and fixes `Content-Length` for the new body.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::diagnose::Diagnosis;
use crate::exchange::BodyPrefix;

/// The annotated body, or `None` when the body is not a complete JSON object.
pub fn annotate(body: &BodyPrefix, best: &Diagnosis) -> Option<Bytes> {
    let Value::Object(mut obj) = body.json()? else {
        return None;
    };
    let note = format!(" [triage: {}: {}]", best.rule, best.fix);
    let key = if obj.get("message").is_some_and(Value::is_string) {
        Some("message")
    } else if obj.get("error_description").is_some_and(Value::is_string) {
        Some("error_description")
    } else {
        None
    };
    if let Some(k) = key {
        if let Some(Value::String(m)) = obj.get_mut(k) {
            m.push_str(&note);
        }
    }
    obj.insert(
        "triage".into(),
        json!({
            "rule": best.rule,
            "cause": best.cause,
            "fix": best.fix,
            "docs": best.docs,
        }),
    );
    serde_json::to_vec(&Value::Object(obj))
        .ok()
        .map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Confidence, Severity};

    #[test]
    fn message_gets_fix_and_body_stays_json() {
        let d = Diagnosis {
            rule: "rate-limited".into(),
            title: "t".into(),
            severity: Severity::Warning,
            confidence: Confidence::Certain,
            cause: "c".into(),
            fix: "wait \"42\" s".into(),
            docs: None,
            sources: Vec::new().into(),
            evidence: vec![],
            operation: None,
        };
        let body =
            BodyPrefix::complete(&br#"{"message":"Rate\nlimit","code":"x","status":429}"#[..]);
        let out = annotate(&body, &d).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["message"],
            "Rate\nlimit [triage: rate-limited: wait \"42\" s]"
        );
        assert_eq!(v["code"], "x");
        assert_eq!(v["triage"]["rule"], "rate-limited");
        assert!(annotate(&BodyPrefix::complete(&b"[1]"[..]), &d).is_none());
        assert!(annotate(&BodyPrefix::complete(&b"not json"[..]), &d).is_none());
    }
}

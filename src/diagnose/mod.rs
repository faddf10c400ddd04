//! Joins an [`Exchange`] and the compiled rules into diagnoses, best first. The same code serves
//! the live proxy (through [`DiagnosingInspector`]) and offline explanation.

use std::sync::Arc;

use crate::exchange::Exchange;
use crate::inspect::{Inspector, Verdict};
use crate::rules::{Confidence, RuleSet, Severity};

/// One explanation of a failed exchange.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnosis {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    /// `likely` where the API's exact behaviour is not verified (FACTS.md).
    pub confidence: Confidence,
    pub cause: String,
    pub fix: String,
    pub docs: Option<String>,
    /// FACTS.md source keys behind the rule.
    pub sources: Vec<String>,
    /// What the rule matched: path parameters, body fields, message parts, header values.
    /// Secrets were redacted when captured.
    pub evidence: Vec<(String, String)>,
}

/// The diagnosis engine: compiled rules now; memory of past traffic and the operation catalog
/// join later as a context parameter of [`Engine::diagnose`].
#[derive(Debug, Clone)]
pub struct Engine {
    rules: RuleSet,
}

impl Engine {
    pub fn new(rules: RuleSet) -> Self {
        Engine { rules }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Every rule matching `ex`, best first; empty for an exchange without a response.
    pub fn diagnose(&self, ex: &Exchange) -> Vec<Diagnosis> {
        if ex.response.is_none() {
            return Vec::new();
        }
        self.rules
            .matches(ex)
            .into_iter()
            .map(|m| Diagnosis {
                rule: m.rule.id.clone(),
                title: m.rule.title.clone(),
                severity: m.rule.severity,
                confidence: m.confidence,
                cause: m.cause,
                fix: m.fix,
                docs: m.rule.docs.clone(),
                sources: m.rule.sources.clone(),
                evidence: m.captures.0,
            })
            .collect()
    }
}

/// How the proxy shows a diagnosis beyond the headers and the log line.
#[derive(Debug, Clone, Copy, Default)]
pub struct InspectorOptions {
    /// `--annotate-body`: also put the fix into the JSON error body.
    pub annotate_body: bool,
}

/// The proxy's [`Inspector`]: diagnose, log, and answer with headers (and, when asked, an
/// annotated body).
#[derive(Debug, Clone)]
pub struct DiagnosingInspector {
    engine: Arc<Engine>,
    options: InspectorOptions,
}

impl DiagnosingInspector {
    pub fn new(engine: Arc<Engine>, options: InspectorOptions) -> Self {
        DiagnosingInspector { engine, options }
    }
}

impl Inspector for DiagnosingInspector {
    fn inspect(&self, ex: &Exchange) -> Verdict {
        let Some(resp) = &ex.response else {
            return Verdict::default();
        };
        let diagnoses = self.engine.diagnose(ex);
        let Some(best) = diagnoses.first() else {
            return Verdict::default();
        };
        crate::report::log::diagnosis(ex, &diagnoses);
        let body = if self.options.annotate_body {
            crate::report::annotate::annotate(&resp.body, best)
        } else {
            None
        };
        Verdict {
            headers: crate::report::headers::headers(resp.status.as_u16(), &diagnoses),
            body,
        }
    }
}

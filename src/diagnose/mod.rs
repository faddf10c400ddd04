//! Joins an [`Exchange`], the compiled rules, the evidence seen so far and the API catalog into
//! diagnoses, best first. The same code serves the live proxy (through [`Pipeline`]) and
//! offline explanation (`triage explain` replays files through a [`Pipeline`] too).

pub mod context;
pub mod pipeline;
pub mod probe;

pub use context::Context;
pub use pipeline::{Finished, Pipeline, PipelineOptions, Sink};

use std::sync::{Arc, RwLock};

use crate::exchange::Exchange;
use crate::rules::{Confidence, RuleSet, Severity};

/// One explanation of a failed exchange.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnosis {
    pub rule: String,
    pub title: Arc<str>,
    pub severity: Severity,
    /// `likely` where the API's exact behaviour is not verified (FACTS.md).
    pub confidence: Confidence,
    pub cause: String,
    pub fix: String,
    pub docs: Option<Arc<str>>,
    /// FACTS.md source keys behind the rule.
    pub sources: Arc<[String]>,
    /// What the rule matched: path parameters, body fields, message parts, header values.
    /// Secrets were redacted when captured.
    pub evidence: Vec<(Arc<str>, Arc<str>)>,
    /// The operationId of the request, when the catalog knows it.
    pub operation: Option<String>,
}

/// The diagnosis engine: compiled rules, applied to an exchange in its [`Context`] (memory of
/// past traffic, the operation catalog). The rules can be replaced whole while it runs
/// (`triage proxy` on SIGHUP); an exchange is diagnosed by one set from start to end.
#[derive(Debug)]
pub struct Engine {
    rules: RwLock<Arc<RuleSet>>,
}

impl Engine {
    pub fn new(rules: RuleSet) -> Self {
        Engine {
            rules: RwLock::new(Arc::new(rules)),
        }
    }

    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `rules` in place for the exchanges diagnosed from now on.
    pub fn replace(&self, rules: RuleSet) {
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
    }

    /// Every rule matching `ex` with no context, best first; empty without a response.
    pub fn diagnose(&self, ex: &Exchange) -> Vec<Diagnosis> {
        self.diagnose_in(ex, &Context::default())
    }

    /// Every rule matching `ex` in its context, best first; empty without a response. A 403's
    /// diagnoses also name what the catalog says the operation requires.
    pub fn diagnose_in(&self, ex: &Exchange, ctx: &Context) -> Vec<Diagnosis> {
        self.diagnosing(ex, ctx, false).0
    }

    /// [`diagnose_in`](Self::diagnose_in), and whether a rule that did not match might have,
    /// had the input shown the whole request (its headers, its body).
    pub fn diagnose_noting(&self, ex: &Exchange, ctx: &Context) -> (Vec<Diagnosis>, bool) {
        self.diagnosing(ex, ctx, true)
    }

    fn diagnosing(&self, ex: &Exchange, ctx: &Context, note: bool) -> (Vec<Diagnosis>, bool) {
        if ex.response.is_none() {
            return (Vec::new(), false);
        }
        let operation = ctx.operation_id();
        let requirement = (ex.status() == Some(403))
            .then(|| ctx.requirement())
            .flatten();
        let rules = self.rules();
        let (matches, undecided) = if note {
            rules.matches_noting(ex, &ctx.rules)
        } else {
            (rules.matches_in(ex, &ctx.rules), false)
        };
        let diagnoses = matches
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
                operation: operation.clone(),
            })
            .map(|mut d| {
                if let Some(req) = &requirement {
                    d.cause = format!("{} {req}", d.cause);
                }
                d
            })
            .collect();
        (diagnoses, undecided)
    }
}

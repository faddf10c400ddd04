//! The pipeline every exchange goes through, live or from a file: learn from it (evidence),
//! diagnose it in its context (rules + evidence + catalog), and hand it to the sinks
//! (recording, dashboard). As the proxy's [`Inspector`] it also answers with the diagnostic
//! headers. `triage explain` replays files through the same pipeline, so evidence builds up as
//! it would have live.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};

use super::{Context, Diagnosis, Engine};
use crate::catalog;
use crate::evidence::Store;
use crate::exchange::Exchange;
use crate::inspect::{Ending, Inspector, Verdict};
use crate::region::Region;

/// An exchange that is over, with its diagnoses (empty when there was none). Shared by the
/// sinks.
#[derive(Debug)]
pub struct Finished {
    pub exchange: Exchange,
    pub diagnoses: Vec<Diagnosis>,
    /// Live only: triage's own answer, or the client leaving early.
    pub ending: Ending,
}

/// Where finished exchanges go: a recording, the dashboard, metrics.
pub trait Sink: Send + Sync {
    fn exchange(&self, done: &Arc<Finished>);

    /// Answers a triage page (`/__triage/...`), if the sink serves it.
    fn local(&self, req: &http::request::Parts) -> Option<http::Response<Bytes>> {
        let _ = req;
        None
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PipelineOptions {
    /// `--annotate-body`: also put the fix into the JSON error body.
    pub annotate_body: bool,
    /// Replaying a file (`triage explain`): time is the exchanges' own (`started_at`), so
    /// "seen 40 s ago" and the retry-loop window mean what they meant when it happened.
    pub replay: bool,
    /// The region the proxy serves, for exchanges whose host names none (mocks, gateways).
    pub region: Option<&'static Region>,
}

/// A replay's time: the exchanges' own, laid onto this process's clock.
#[derive(Debug, Clone, Copy)]
struct ReplayClock {
    /// The instant that stands for the Unix epoch.
    epoch: Instant,
    /// The latest time replayed.
    latest: SystemTime,
}

pub struct Pipeline {
    engine: Arc<Engine>,
    evidence: Arc<Store>,
    catalog: Arc<catalog::fetch::Shared>,
    options: PipelineOptions,
    sinks: Vec<Arc<dyn Sink>>,
    prober: Option<Arc<super::probe::Prober>>,
    operations: super::context::Operations,
    /// For replays: the exchanges' time.
    replay_clock: Mutex<Option<ReplayClock>>,
    /// Diagnoses made at `inspect`, waiting for the exchange's `finished` (bounded by the
    /// exchanges in flight).
    pending: Mutex<foldhash::HashMap<u64, Vec<Diagnosis>>>,
}

impl Pipeline {
    /// A pipeline with a fresh evidence store and the built-in catalog.
    pub fn new(engine: Arc<Engine>, options: PipelineOptions) -> Self {
        Pipeline {
            engine,
            evidence: Arc::new(Store::default()),
            catalog: Arc::new(catalog::fetch::Shared::new(catalog::load::builtin())),
            options,
            sinks: Vec::new(),
            prober: None,
            operations: Default::default(),
            replay_clock: Mutex::new(None),
            pending: Mutex::new(Default::default()),
        }
    }

    pub fn with_evidence(mut self, store: Arc<Store>) -> Self {
        self.evidence = store;
        self
    }

    pub fn with_catalog(mut self, catalog: Arc<catalog::fetch::Shared>) -> Self {
        self.catalog = catalog;
        self
    }

    /// The catalog diagnoses read now (a fetch may replace it later).
    pub fn catalog(&self) -> Arc<catalog::Catalog> {
        self.catalog.get()
    }

    /// `--probe-token`: ask `GET /api/v2/tokens/me` about each new token, once.
    pub fn with_prober(mut self, prober: super::probe::Prober) -> Self {
        self.prober = Some(Arc::new(prober));
        self
    }

    pub fn with_sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.sinks.push(sink);
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn evidence(&self) -> &Store {
        &self.evidence
    }

    /// The region an exchange's request went to: its host's, else the configured one.
    fn region_of(&self, ex: &Exchange) -> Option<&'static str> {
        ex.request
            .host
            .as_deref()
            .and_then(Region::for_host)
            .or(self.options.region)
            .map(|r| r.id)
    }

    /// Learns from `ex`, then diagnoses it in its context. Successes teach but get no
    /// diagnosis.
    pub fn diagnose(&self, ex: &Exchange) -> Vec<Diagnosis> {
        self.diagnosing(ex, false).0
    }

    /// [`diagnose`](Self::diagnose), and whether a rule that did not match might have, had the
    /// input shown the whole request: reports then say what input would show it.
    pub fn diagnose_noting(&self, ex: &Exchange) -> (Vec<Diagnosis>, bool) {
        self.diagnosing(ex, true)
    }

    fn diagnosing(&self, ex: &Exchange, note: bool) -> (Vec<Diagnosis>, bool) {
        let now = self.now(ex);
        let region = self.region_of(ex);
        // With no rules at all (`--no-builtin-rules` and no `--rules`), the evidence is still
        // learnt, but nothing would read facts or a context.
        if self.engine.rules().rules().is_empty() {
            self.evidence.observe_in(ex, now, region);
            return (Vec::new(), false);
        }
        let Some(mut facts) = self.evidence.observe_then_facts(ex, now, region) else {
            return (Vec::new(), false);
        };
        if self.options.replay && ex.started_at == UNIX_EPOCH {
            // The replay clock puts an exchange without a time at the latest time replayed;
            // an age measured from there would be another exchange's, not this one's.
            facts.conversation_age_s = None;
        }
        let operation = self.operations.get(ex, &self.catalog.get());
        let ctx = Context::with_operation(ex, Some(&facts), operation, region);
        let (mut diagnoses, undecided) = if note {
            self.engine.diagnose_noting(ex, &ctx)
        } else {
            (self.engine.diagnose_in(ex, &ctx), false)
        };
        // A cause may quote the upstream's message, and the upstream may have quoted the
        // request's credentials back; what is logged, put in headers or shown must not.
        crate::redact::scrub_diagnoses(ex, &mut diagnoses);
        (diagnoses, undecided)
    }

    /// The instant an exchange happened at: now, live; in a replay its own time, laid onto the
    /// clock of this process, so that ages are the file's and an exchange replayed after a
    /// later one still comes before it. One without a time counts as the latest one replayed
    /// (the replay puts those last).
    fn now(&self, ex: &Exchange) -> Instant {
        if !self.options.replay {
            return Instant::now();
        }
        let mut clock = self.replay_clock.lock().unwrap_or_else(|p| p.into_inner());
        let c = clock.get_or_insert_with(|| ReplayClock {
            epoch: Instant::now(),
            latest: UNIX_EPOCH,
        });
        let t = if ex.started_at == UNIX_EPOCH {
            c.latest
        } else {
            ex.started_at
        };
        c.latest = c.latest.max(t);
        let since_epoch = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        c.epoch.checked_add(since_epoch).unwrap_or(c.epoch)
    }

    /// Hands a finished exchange to the sinks.
    /// Whether `inspect`'s diagnoses of `ex` wait in `pending` for its `finished`: not for an
    /// exchange whose body nobody read (the proxy inspects none), so that the successes,
    /// most of the traffic, take no lock shared by every connection on their way out.
    fn keeps_pending(&self, ex: &Exchange) -> bool {
        !self.sinks.is_empty() && ex.inspection != crate::exchange::Inspection::NotWanted
    }

    pub fn finish(&self, exchange: Exchange, diagnoses: Vec<Diagnosis>, ending: Ending) {
        let done = Arc::new(Finished {
            exchange,
            diagnoses,
            ending,
        });
        for s in &self.sinks {
            s.exchange(&done);
        }
    }
}

impl Inspector for Pipeline {
    fn wants_body(&self, method: &Method, path: &str, status: StatusCode) -> bool {
        status.as_u16() >= 400 || Store::wants_body(method, path, status.as_u16())
    }

    fn prepare(&self, ex: &Exchange) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        let prober = self.prober.as_ref()?;
        // The probe's fact that a diagnosis cites, the token's authorized scopes, is cited for
        // a 403 (missing-scope); no other failure is worth the wait of a round trip.
        if ex.response.as_ref()?.status != StatusCode::FORBIDDEN {
            return None;
        }
        prober.before_diagnosis(&self.evidence, ex)
    }

    fn inspect(&self, ex: &Exchange) -> Verdict {
        let Some(resp) = &ex.response else {
            return Verdict::default();
        };
        let diagnoses = self.diagnose(ex);
        let Some(best) = diagnoses.first() else {
            return Verdict::default();
        };
        crate::report::log::diagnosis(ex, &diagnoses);
        let body = if self.options.annotate_body {
            crate::report::annotate::annotate(&resp.body, best)
        } else {
            None
        };
        let headers = crate::report::headers::headers(resp.status.as_u16(), &diagnoses);
        if self.keeps_pending(ex) {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(ex.seq, diagnoses);
        }
        Verdict { headers, body }
    }

    fn finished(&self, ex: Exchange, ending: Ending) {
        if let Some(p) = &self.prober {
            p.maybe_probe(&self.evidence, &ex);
        }
        if self.sinks.is_empty() {
            return;
        }
        let diagnoses = if self.keeps_pending(&ex) {
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&ex.seq)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        self.finish(ex, diagnoses, ending);
    }

    fn local(&self, req: &http::request::Parts) -> Option<http::Response<Bytes>> {
        self.sinks.iter().find_map(|s| s.local(req))
    }
}

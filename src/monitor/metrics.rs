//! Prometheus metrics of a running proxy (`/__triage/metrics`, text format 0.0.4): exchanges by
//! status class, diagnoses by rule, upstream latency, inspection skips. Counters are atomics or
//! a short-held mutex; nothing here is on the path of a streaming body.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::exchange::{Exchange, Inspection};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    /// 1xx..5xx, then exchanges without an upstream response: triage's own answers, and
    /// exchanges that ended (client gone, shutdown) before the upstream answered.
    by_class: [AtomicU64; 6],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ms: AtomicU64,
    over_limit: AtomicU64,
    undecodable: AtomicU64,
    /// Few distinct rule ids: a map under a mutex is simplest.
    diagnoses: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    pub fn exchange(&self, ex: &Exchange) {
        let idx = match ex.status() {
            Some(s) if (100..600).contains(&s) => (s / 100 - 1) as usize,
            _ => 5,
        };
        self.by_class[idx].fetch_add(1, Ordering::Relaxed);
        if let (Some(ms), Some(_)) = (ex.timings.upstream_ms, &ex.response) {
            let secs = ms as f64 / 1000.0;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
                }
            }
            self.latency_count.fetch_add(1, Ordering::Relaxed);
            self.latency_sum_ms.fetch_add(ms, Ordering::Relaxed);
        }
        match ex.inspection {
            Inspection::OverLimit => {
                self.over_limit.fetch_add(1, Ordering::Relaxed);
            }
            Inspection::Undecodable => {
                self.undecodable.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    pub fn diagnosis(&self, rule: &str) {
        let mut m = self.diagnoses.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(rule.to_owned()).or_default() += 1;
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP triage_exchanges_total Exchanges through the proxy, by response status class (\"triage\": no upstream response: triage answered, or the client left or triage shut down before the upstream did).\n# TYPE triage_exchanges_total counter\n");
        for (i, class) in ["1xx", "2xx", "3xx", "4xx", "5xx", "triage"]
            .iter()
            .enumerate()
        {
            let _ = writeln!(
                out,
                "triage_exchanges_total{{class=\"{class}\"}} {}",
                get(&self.by_class[i])
            );
        }
        out.push_str("# HELP triage_diagnoses_total Diagnoses made, by rule id (best rule of each exchange).\n# TYPE triage_diagnoses_total counter\n");
        for (rule, n) in self
            .diagnoses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "triage_diagnoses_total{{rule=\"{}\"}} {n}",
                rule.replace(['"', '\\', '\n'], "_")
            );
        }
        out.push_str("# HELP triage_upstream_latency_seconds Time from sending a request upstream to its response head.\n# TYPE triage_upstream_latency_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "triage_upstream_latency_seconds_bucket{{le=\"{b}\"}} {}",
                get(&self.latency_buckets[i])
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "triage_upstream_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "triage_upstream_latency_seconds_sum {}",
            get(&self.latency_sum_ms) as f64 / 1000.0
        );
        let _ = writeln!(out, "triage_upstream_latency_seconds_count {count}");
        out.push_str("# HELP triage_inspection_skipped_total Error responses whose body was not inspected, by reason.\n# TYPE triage_inspection_skipped_total counter\n");
        let _ = writeln!(
            out,
            "triage_inspection_skipped_total{{reason=\"over-limit\"}} {}",
            get(&self.over_limit)
        );
        let _ = writeln!(
            out,
            "triage_inspection_skipped_total{{reason=\"undecodable\"}} {}",
            get(&self.undecodable)
        );
        out
    }
}

//! Prometheus metrics of a running proxy (`/__triage/metrics`, text format 0.0.4): exchanges by
//! status class, diagnoses by rule, upstream latency, inspection skips. Counters are atomics or
//! a short-held mutex; nothing here is on the path of a streaming body.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::exchange::{Exchange, Inspection};

/// Upper bounds of the latency buckets, in milliseconds (the exposition gives them in seconds).
const BUCKETS_MS: [u64; 12] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

#[derive(Debug, Default)]
pub struct Metrics {
    /// 1xx..5xx, then exchanges without an upstream response: triage's own answers, and
    /// exchanges that ended (client gone, shutdown) before the upstream answered.
    by_class: [AtomicU64; 6],
    /// Exchanges whose latency fell in each bucket and no lower one: one atomic add per
    /// exchange, where cumulative counts would take one per bucket it falls under (all twelve
    /// for a fast call), each a locked instruction on a cache line the workers share. The
    /// exposition sums them.
    latency_buckets: [AtomicU64; BUCKETS_MS.len()],
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
            if let Some(i) = BUCKETS_MS.iter().position(|&b| ms <= b) {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
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
        let mut below = 0;
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            below += get(&self.latency_buckets[i]);
            let _ = writeln!(
                out,
                "triage_upstream_latency_seconds_bucket{{le=\"{}\"}} {below}",
                *b as f64 / 1000.0
            );
        }
        // Read after the buckets, but an exchange may land between the two reads in either
        // order: a histogram's counts never fall from one bucket to the next.
        let count = get(&self.latency_count).max(below);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{BodyPrefix, Origin, Request, Response, Shown, Timings, UpstreamKind};
    use http::{HeaderMap, Method, StatusCode};

    fn answered_after(ms: u64) -> Exchange {
        Exchange {
            seq: 1,
            origin: Origin::Live,
            started_at: std::time::SystemTime::UNIX_EPOCH,
            request: Request {
                method: Method::GET,
                path: "/api/v2/users/me".into(),
                query: None,
                headers: HeaderMap::new(),
                body: BodyPrefix::default(),
                upstream: UpstreamKind::Api,
                host: None,
                base_url: None,
                shown: Shown::All,
            },
            response: Some(Response {
                status: StatusCode::OK,
                version: None,
                headers: HeaderMap::new(),
                body: BodyPrefix::default(),
                headers_shown: true,
            }),
            timings: Timings {
                upstream_ms: Some(ms),
                total_ms: Some(ms),
            },
            inspection: Inspection::NotWanted,
            outcome: None,
        }
    }

    #[test]
    fn the_latency_histogram_is_cumulative_as_prometheus_reads_it() {
        let m = Metrics::default();
        for ms in [0, 5, 6, 10, 240, 30_000, 30_001] {
            m.exchange(&answered_after(ms));
        }
        let text = m.render();
        let buckets: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("triage_upstream_latency_seconds"))
            .collect();
        assert_eq!(
            buckets,
            [
                r#"triage_upstream_latency_seconds_bucket{le="0.005"} 2"#,
                r#"triage_upstream_latency_seconds_bucket{le="0.01"} 4"#,
                r#"triage_upstream_latency_seconds_bucket{le="0.025"} 4"#,
                r#"triage_upstream_latency_seconds_bucket{le="0.05"} 4"#,
                r#"triage_upstream_latency_seconds_bucket{le="0.1"} 4"#,
                r#"triage_upstream_latency_seconds_bucket{le="0.25"} 5"#,
                r#"triage_upstream_latency_seconds_bucket{le="0.5"} 5"#,
                r#"triage_upstream_latency_seconds_bucket{le="1"} 5"#,
                r#"triage_upstream_latency_seconds_bucket{le="2.5"} 5"#,
                r#"triage_upstream_latency_seconds_bucket{le="5"} 5"#,
                r#"triage_upstream_latency_seconds_bucket{le="10"} 5"#,
                r#"triage_upstream_latency_seconds_bucket{le="30"} 6"#,
                r#"triage_upstream_latency_seconds_bucket{le="+Inf"} 7"#,
                "triage_upstream_latency_seconds_sum 60.262",
                "triage_upstream_latency_seconds_count 7",
            ]
        );
    }
}

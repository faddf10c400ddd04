//! The diagnosis path alone, in process: the pipeline (built-in rules, evidence, the built-in
//! catalog, the dashboard's monitor) inspecting and finishing the bench upstream's 409, over and
//! over, with the log line written to a sink that drops it. For callgrind:
//!
//!   cargo build --release --example bench-diagnose
//!   valgrind --tool=callgrind target/release/examples/bench-diagnose 20000
//!
//! Instructions per exchange are the total divided by the count given; the set-up (loading
//! the rules and the catalog) is a fixed cost that a larger count makes small.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::exchange::{
    BodyPrefix, Exchange, Inspection, Origin, Request, Response, Shown, Timings, UpstreamKind,
};
use triage::inspect::{Ending, Inspector};
use triage::rules::RuleSet;

// The binary's allocator, so that allocation costs what it costs in triage.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const CONFLICT: &str = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409,"contextId":"0b5f7e3a-6c1d-4e2f-9a8b-7c6d5e4f3a2b","details":[],"errors":[]}"#;

fn exchange(seq: u64) -> Exchange {
    let mut req = HeaderMap::new();
    req.insert("host", HeaderValue::from_static("127.0.0.1:18112"));
    req.insert("content-type", HeaderValue::from_static("application/json"));
    req.insert(
        "authorization",
        HeaderValue::from_static("Bearer bench-token"),
    );
    req.insert("content-length", HeaderValue::from_static("38"));
    let mut resp = HeaderMap::new();
    resp.insert("content-type", HeaderValue::from_static("application/json"));
    resp.insert(
        "inin-correlation-id",
        HeaderValue::from_static("0b5f7e3a-6c1d-4e2f-9a8b-7c6d5e4f3a2b"),
    );
    resp.insert("content-length", HeaderValue::from_static("197"));
    Exchange {
        seq,
        origin: Origin::Live,
        started_at: SystemTime::now(),
        request: Request {
            method: Method::POST,
            path: "/api/v2/bench/conflict".into(),
            query: None,
            headers: req,
            body: BodyPrefix::complete(Bytes::from_static(
                br#"{"textBody":"hello from the benchmark"}"#,
            )),
            upstream: UpstreamKind::Api,
            host: Some("127.0.0.1".into()),
            base_url: Some("http://127.0.0.1:18111".into()),
            shown: Shown::All,
        },
        response: Some(Response {
            status: StatusCode::CONFLICT,
            version: Some(http::Version::HTTP_11),
            headers: resp,
            body: BodyPrefix::complete(Bytes::from_static(CONFLICT.as_bytes())),
            headers_shown: true,
        }),
        timings: Timings::default(),
        inspection: Inspection::Complete,
        outcome: None,
    }
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let _guard = triage::logging::install(triage::cli::LogFormat::Pretty, "info");
    let rules = RuleSet::builtin().expect("built-in rules");
    let monitor = triage::monitor::Monitor::new(triage::monitor::DEFAULT_CAPACITY);
    let pipeline = Pipeline::new(Arc::new(Engine::new(rules)), PipelineOptions::default())
        .with_sink(Arc::new(monitor));
    let mut diagnosed = 0;
    for seq in 1..=n {
        let ex = exchange(seq);
        let verdict = pipeline.inspect(&ex);
        diagnosed += usize::from(!verdict.headers.is_empty());
        pipeline.finished(ex, Ending::default());
    }
    eprintln!("{diagnosed} of {n} diagnosed");
}

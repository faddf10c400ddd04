//! Offline replay keeps the time of the file: evidence ages and the retry-loop window follow the
//! exchanges' own timestamps, not the speed at which the file is read.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::exchange::{
    BodyPrefix, Exchange, Inspection, Origin, Request, Response, Timings, UpstreamKind,
};
use triage::rules::RuleSet;

fn at(t: SystemTime, method: Method, path: &str, status: u16, body: &'static str) -> Exchange {
    Exchange {
        seq: 1,
        origin: Origin::File {
            path: "t.har".into(),
            index: 0,
        },
        started_at: t,
        request: Request {
            method,
            path: path.into(),
            query: None,
            headers: HeaderMap::new(),
            body: BodyPrefix::complete(Bytes::new()),
            upstream: UpstreamKind::Api,
            host: None,
            base_url: None,
            shown: triage::exchange::Shown::All,
        },
        response: Some(Response {
            status: StatusCode::from_u16(status).unwrap(),
            version: None,
            headers: HeaderMap::new(),
            body: BodyPrefix::complete(body),
            headers_shown: true,
        }),
        timings: Timings::default(),
        inspection: Inspection::Complete,
        outcome: None,
    }
}

fn replay() -> Pipeline {
    let engine = Arc::new(Engine::new(RuleSet::builtin().unwrap()));
    Pipeline::new(
        engine,
        PipelineOptions {
            replay: true,
            ..PipelineOptions::default()
        },
    )
}

const CONFLICT: &str = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;
const SEND: &str = "/api/v2/conversations/messages/c1/communications/m1/messages";

#[test]
fn failures_hours_apart_in_a_file_are_no_retry_loop() {
    let p = replay();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for h in 0..3 {
        let d = p.diagnose(&at(
            t0 + Duration::from_secs(3600 * h),
            Method::POST,
            SEND,
            409,
            CONFLICT,
        ));
        assert!(
            d.iter().all(|d| d.rule != "retry-loop"),
            "hour {h}: {:?}",
            d.iter().map(|d| &d.rule).collect::<Vec<_>>()
        );
    }
    let p = replay();
    let rules: Vec<String> = (0..3)
        .flat_map(|s| {
            p.diagnose(&at(
                t0 + Duration::from_secs(s),
                Method::POST,
                SEND,
                409,
                CONFLICT,
            ))
        })
        .map(|d| d.rule)
        .collect();
    assert!(rules.contains(&"retry-loop".to_owned()), "{rules:?}");
}

#[test]
fn seen_ago_is_the_files_time() {
    let p = replay();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    p.diagnose(&at(
        t0,
        Method::GET,
        "/api/v2/conversations/messages/c1",
        200,
        r#"{"participants":[{"id":"m1","purpose":"agent","state":"disconnected"}]}"#,
    ));
    let d = p.diagnose(&at(
        t0 + Duration::from_secs(95),
        Method::POST,
        SEND,
        409,
        CONFLICT,
    ));
    assert!(
        d[0].cause.contains("disconnected 95 s ago"),
        "{}",
        d[0].cause
    );
}

const DISCONNECTED: &str =
    r#"{"participants":[{"id":"m1","purpose":"agent","state":"disconnected"}]}"#;

#[test]
fn evidence_from_a_later_time_is_not_known_to_an_earlier_exchange() {
    // Fed out of order (as from an input unsorted beyond the replay's window): the GET at 10:00
    // first, then the send at 09:00. What the GET showed was not known at 09:00.
    let p = replay();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let get = "/api/v2/conversations/messages/c1";
    p.diagnose(&at(
        t0 + Duration::from_secs(3600),
        Method::GET,
        get,
        200,
        DISCONNECTED,
    ));
    let d = p.diagnose(&at(t0, Method::POST, SEND, 409, CONFLICT));
    assert!(
        d.iter().all(|d| !d.cause.contains("triage saw")),
        "evidence from an hour later cited: {:?}",
        d.iter().map(|d| &d.cause).collect::<Vec<_>>()
    );
    // Two hours on, the GET is in the past: it is evidence.
    let d = p.diagnose(&at(
        t0 + Duration::from_secs(7200),
        Method::POST,
        SEND,
        409,
        CONFLICT,
    ));
    assert!(
        d[0].cause.contains("disconnected 60 min ago"),
        "{}",
        d[0].cause
    );
}

#[test]
fn an_exchange_without_a_time_comes_after_the_latest_one() {
    let p = replay();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let get = "/api/v2/conversations/messages/c1";
    p.diagnose(&at(t0, Method::GET, get, 200, DISCONNECTED));
    p.diagnose(&at(
        t0 + Duration::from_secs(30),
        Method::GET,
        "/api/v2/users/me",
        200,
        "{}",
    ));
    let d = p.diagnose(&at(
        SystemTime::UNIX_EPOCH,
        Method::POST,
        SEND,
        409,
        CONFLICT,
    ));
    // What the GET showed is evidence, but not how long before: the 30 s would be measured
    // from the last timed exchange, not from this one's own (unknown) time.
    assert_eq!(
        d[0].cause,
        "The send into conversation c1 was refused with 409 request.conflict, and triage saw \
         the conversation disconnected (by GET /api/v2/conversations/messages/c1); this \
         failure's time is unknown, so whether it was already so when the send was refused \
         cannot be told. A disconnected messaging conversation very likely takes no new messages, \
         which likely explains the refusal."
    );
    // Nor can it say the GET came first: the evidence makes the diagnosis likely, not certain.
    assert_eq!(d[0].confidence, triage::rules::Confidence::Likely);
}

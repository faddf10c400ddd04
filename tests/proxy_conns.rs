//! Client connections that triage ends on its own: clients that send no complete request head
//! in time (trickling one, or holding a connection idle), and shutdown, which must not wait for
//! such clients nor cut an exchange in flight. The head timeout is set short here; exchanges
//! that outlast it must pass whole.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEAD_TIMEOUT: Duration = Duration::from_millis(300);

async fn ok_upstream() -> Upstream {
    upstream(|_| async { Response::new(full("ok")) }).await
}

fn short_heads(up: &Upstream) -> triage::proxy::Config {
    let mut cfg = config(&up.url(), &up.url());
    cfg.head_timeout = HEAD_TIMEOUT;
    cfg
}

/// Reads until the peer closes (or resets); returns what came and when it closed.
async fn until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "expected triage to close the connection within {within:?}; it is still open (read so far: {:?})",
        String::from_utf8_lossy(&got)
    );
    (got, Instant::now())
}

fn assert_between(what: &str, took: Duration, min: Duration, max: Duration) {
    assert!(
        took >= min && took <= max,
        "{what}: expected between {min:?} and {max:?}, got {took:?}"
    );
}

#[tokio::test]
async fn a_client_that_trickles_a_head_is_closed() {
    let up = ok_upstream().await;
    let p = proxy(short_heads(&up)).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    let start = Instant::now();
    s.write_all(b"GET /api/v2/x HTTP/1.1\r\nhost: a\r\nx-slow: ")
        .await
        .unwrap();
    // One byte every 50 ms: always some activity, never a whole head.
    let trickle = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if s.write_all(b"a").await.is_err() {
                return s;
            }
            let mut probe = [0u8; 1];
            // A closed connection shows as a read of 0 (or a reset) without waiting.
            match tokio::time::timeout(Duration::from_millis(1), s.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return s,
                _ => {}
            }
        }
    });
    let _s = tokio::time::timeout(Duration::from_secs(5), trickle)
        .await
        .expect("the trickling client was never cut off")
        .unwrap();
    assert_between(
        "trickled head closed after",
        start.elapsed(),
        HEAD_TIMEOUT,
        HEAD_TIMEOUT * 3,
    );
    assert!(up.seen().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_head_timeout() {
    // Longer than the others, to tell the promised window (one to one and a third timeouts
    // after the exchange) from one a third later, with room for a loaded machine.
    const TIMEOUT: Duration = Duration::from_millis(900);
    let up = ok_upstream().await;
    let mut cfg = short_heads(&up);
    cfg.head_timeout = TIMEOUT;
    let p = proxy(cfg).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET /api/v2/x HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let answered = Instant::now();
    let (head, body) = split_response(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "got {head}");
    assert_eq!(body, b"ok");
    let (rest, closed) = until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(rest.is_empty(), "nothing more was sent: {rest:?}");
    assert_between(
        "idle connection closed after",
        closed - answered,
        TIMEOUT,
        TIMEOUT * 4 / 3 + Duration::from_millis(150),
    );
}

#[tokio::test]
async fn exchanges_longer_than_the_head_timeout_pass_whole() {
    // A response head that takes three head timeouts, then a body that streams for three more.
    let up = upstream(|s| async move {
        if s.uri.ends_with("/slow-head") {
            tokio::time::sleep(HEAD_TIMEOUT * 3).await;
            return Response::new(full("late"));
        }
        let chunks = futures_util::stream::unfold(0, |i| async move {
            if i == 6 {
                return None;
            }
            tokio::time::sleep(HEAD_TIMEOUT / 2).await;
            Some((
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(
                    Bytes::from(format!("chunk{i};")),
                )),
                i + 1,
            ))
        });
        Response::new(StreamBody::new(chunks).boxed())
    })
    .await;
    let p = proxy(short_heads(&up)).await;
    let c = client();
    let late = c
        .get(format!("http://{}/api/v2/slow-head", p.addr))
        .send()
        .await
        .expect("a slow response head is not cut");
    assert_eq!(late.text().await.unwrap(), "late");
    // The same client reuses its connection, idle for a moment between the two.
    let slow = c
        .get(format!("http://{}/api/v2/slow-body", p.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .expect("a slow body is not cut");
    assert_eq!(slow, "chunk0;chunk1;chunk2;chunk3;chunk4;chunk5;");
}

#[tokio::test]
async fn a_quiet_http2_connection_is_told_goodbye() {
    let up = ok_upstream().await;
    let p = proxy(short_heads(&up)).await;
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(p.addr).await.unwrap());
    let (mut send, conn) = hyper::client::conn::http2::handshake::<_, _, Body>(
        hyper_util::rt::TokioExecutor::new(),
        io,
    )
    .await
    .unwrap();
    let driver = tokio::spawn(conn);
    let resp = send
        .send_request(
            http::Request::get(format!("http://{}/api/v2/x", p.addr))
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    let answered = Instant::now();
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
    // GOAWAY ends the client's connection cleanly.
    let ended = tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the idle HTTP/2 connection was never closed")
        .unwrap();
    assert!(
        ended.is_ok(),
        "closed with GOAWAY, not torn down: {ended:?}"
    );
    assert_between(
        "idle HTTP/2 connection closed after",
        answered.elapsed(),
        HEAD_TIMEOUT,
        HEAD_TIMEOUT * 3,
    );
}

#[tokio::test]
async fn shutdown_does_not_wait_for_clients_without_a_request() {
    let up = ok_upstream().await;
    // The default head timeout (30 s) and grace (30 s): shutdown must not lean on either.
    let p = proxy(config(&up.url(), &up.url())).await;
    let mut mid_head = TcpStream::connect(p.addr).await.unwrap();
    mid_head
        .write_all(b"GET /api/v2/x HTTP/1.1\r\nhost: a\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(p.addr).await.unwrap();
    let mut kept_alive = TcpStream::connect(p.addr).await.unwrap();
    kept_alive
        .write_all(b"GET /api/v2/x HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = kept_alive.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(50)).await;

    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), p.shutdown())
        .await
        .expect("shutdown waited on clients that had nothing in flight")
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        start.elapsed()
    );
    for (name, s) in [
        ("mid-head", &mut mid_head),
        ("silent", &mut silent),
        ("kept-alive", &mut kept_alive),
    ] {
        let (got, _) = until_closed(s, Duration::from_secs(2)).await;
        assert!(
            got.is_empty(),
            "{name}: closed without an answer, got {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// The shutdown grace of [`short_grace_proxy`].
const GRACE: Duration = Duration::from_millis(300);

/// A proxy in front of `up` whose shutdown grace is [`GRACE`].
async fn short_grace_proxy(up: &Upstream) -> triage::proxy::server::ProxyHandle {
    let mut cfg = config(&up.url(), &up.url());
    cfg.shutdown_grace = GRACE;
    proxy(cfg).await
}

/// Shuts `p` (a [`short_grace_proxy`]) down, which must take the grace and not much more.
async fn shut_down_after_grace(p: triage::proxy::server::ProxyHandle, what: &str) {
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), p.shutdown())
        .await
        .expect("shutdown outlasted its grace")
        .unwrap();
    assert_between(what, start.elapsed(), GRACE, Duration::from_millis(1500));
}

/// After the grace: an exchange still waiting for its upstream gets triage's 503 (the client
/// learns why, and that the request may have reached the API); one whose response head went
/// out already can only be cut.
#[tokio::test]
async fn shutdown_grace_answers_what_waits_and_cuts_what_streams() {
    let up = upstream(|s| async move {
        if s.uri.ends_with("/slow-head") {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Response::new(full("too late"));
        }
        let chunks = futures_util::stream::unfold(0, |i| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Some((
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(
                    Bytes::from(format!("chunk{i};")),
                )),
                i + 1,
            ))
        });
        Response::new(StreamBody::new(chunks).boxed())
    })
    .await;
    let p = short_grace_proxy(&up).await;
    let mut waiting = TcpStream::connect(p.addr).await.unwrap();
    waiting
        .write_all(b"GET /api/v2/slow-head HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut streaming = TcpStream::connect(p.addr).await.unwrap();
    streaming
        .write_all(b"GET /api/v2/slow-body HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    shut_down_after_grace(p, "shutdown with exchanges in flight took").await;

    let (got, _) = until_closed(&mut waiting, Duration::from_secs(2)).await;
    let (head, body) = split_response(&got);
    let details = format!(
        "triage is shutting down: its shutdown grace (300ms) ran out before {} answered; the \
         request may have reached the API",
        up.url()
    );
    for line in [
        "HTTP/1.1 503 Service Unavailable".to_owned(),
        "content-type: application/problem+json".to_owned(),
        format!("proxy-status: triage; error=proxy_internal_response; details=\"{details}\""),
        "connection: close".to_owned(),
    ] {
        assert!(
            head.lines().any(|l| l == line),
            "the waiting exchange's answer\n  expected the line: {line}\n  got: {head}"
        );
    }
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (
            &problem["title"],
            &problem["status"],
            &problem["detail"],
            &problem["blame"]
        ),
        (
            &serde_json::json!("triage is shutting down"),
            &serde_json::json!(503),
            &serde_json::json!(details),
            &serde_json::json!("triage")
        ),
        "the 503's problem body: {problem:#}"
    );

    let (got, _) = until_closed(&mut streaming, Duration::from_secs(2)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.starts_with("HTTP/1.1 200 OK\r\n")
            && got.contains("chunk0;")
            && !got.ends_with("0\r\n\r\n"),
        "the streaming exchange: expected its head and first chunk, then a cut (no last \
         chunk), got {got:?}"
    );
    assert!(
        !got.contains("503"),
        "no 503 after a response head: {got:?}"
    );
}

/// The same for an HTTP/2 client: its stream is a task of its own, woken at the cut to answer.
#[tokio::test]
async fn shutdown_grace_answers_an_http2_stream_that_waits() {
    let up = upstream(|_| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Response::new(full("too late"))
    })
    .await;
    let p = short_grace_proxy(&up).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let url = format!("http://{}/api/v2/slow-head", p.addr);
    let waiting = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    shut_down_after_grace(p, "shutdown with an HTTP/2 exchange in flight took").await;
    let r = waiting
        .await
        .unwrap()
        .expect("the HTTP/2 stream was answered, not reset");
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.status(), 503);
    let status = r.headers()["proxy-status"].to_str().unwrap().to_owned();
    assert!(
        status.starts_with(
            "triage; error=proxy_internal_response; details=\"triage is shutting down"
        ),
        "proxy-status: {status}"
    );
}

/// An exchange in flight when shutdown begins finishes, and its response says
/// `Connection: close`: hyper closes the connection after it, and a client must not reuse it.
#[tokio::test]
async fn a_response_finished_during_the_drain_says_connection_close() {
    let up = upstream(|_| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Response::new(full("ok"))
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET /api/v2/x HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stop = tokio::spawn(p.shutdown());
    let (got, _) = until_closed(&mut s, Duration::from_secs(5)).await;
    let (head, body) = split_response(&got);
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.lines().any(|l| l == "connection: close"),
        "expected a 200 with connection: close, got {head}"
    );
    assert_eq!(body, b"ok", "the body passes whole");
    stop.await.unwrap().unwrap();

    // Before shutdown, the same answer keeps the connection.
    let up2 = upstream(|_| async { Response::new(full("ok")) }).await;
    let p2 = proxy(config(&up2.url(), &up2.url())).await;
    let got = raw(p2.addr, b"GET /api/v2/x HTTP/1.0\r\nhost: a\r\n\r\n").await;
    let (head, _) = split_response(&got);
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "a response while running says nothing of closing: {head}"
    );
}

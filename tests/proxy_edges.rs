//! Edge cases of forwarding that a black-box audit of triage found: framing an upstream got
//! wrong, trailers, `OPTIONS *` behind a path prefix, bodies that only grow past the
//! inspection limit once decoded, clients that leave or upload slowly while triage waits for
//! the upstream, a TLS handshake that never completes, and the headers of triage's own pages;
//! and that tests/proxy_differential.rs found: GET bodies of unknown length, and transfer
//! codings other than chunked.

mod common;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use triage::exchange::{Exchange, Inspection};
use triage::inspect::{Inspector, Verdict};

/// A raw HTTP/1.1 upstream: for each request head (and its `content-length` body, read and
/// dropped) it writes `answer(path)` and closes. Returns its address and the request heads.
async fn raw_upstream(
    answer: fn(&str) -> Vec<u8>,
) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let end = loop {
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break end;
                    }
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                seen.lock().unwrap().push(head);
                let _ = s.write_all(&answer(&path)).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, heads)
}

const STALE_BODY: &str = r#"{"message":"x","code":"request.conflict","status":409}"#;

fn stale_length(path: &str) -> Vec<u8> {
    let status = if path.ends_with("409") {
        "409 Conflict"
    } else {
        "200 OK"
    };
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\
transfer-encoding: chunked\r\n\r\n{:x}\r\n{STALE_BODY}\r\n0\r\n\r\n",
        STALE_BODY.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_content_length_beside_chunked_is_dropped_not_passed_on() {
    let (addr, _) = raw_upstream(stale_length).await;
    let url = format!("http://{addr}");
    let p = proxy(config(&url, &url)).await;
    for path in ["/api/v2/x/200", "/api/v2/x/409"] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let (head, body) = split_response(&raw(p.addr, req.as_bytes()).await);
        let lower = head.to_ascii_lowercase();
        assert!(
            !lower.contains("content-length: 100"),
            "{path}: the upstream's stale Content-Length was passed on:\n{head}"
        );
        assert_eq!(String::from_utf8_lossy(&body), STALE_BODY, "{path}: {head}");
    }
}

fn with_trailers(path: &str) -> Vec<u8> {
    let status = if path.ends_with("409") {
        "409 Conflict"
    } else {
        "200 OK"
    };
    format!(
        "HTTP/1.1 {status}\r\ntransfer-encoding: chunked\r\ntrailer: x-trail\r\n\r\n\
5\r\nhello\r\n0\r\nx-trail: yes\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn trailers_reach_a_client_that_asked_for_them_streamed_and_inspected() {
    let (addr, heads) = raw_upstream(with_trailers).await;
    let url = format!("http://{addr}");
    let seen = Arc::new(Recorder::default());
    let p = proxy_with(config(&url, &url), seen.clone()).await;
    for path in ["/api/v2/x/200", "/api/v2/x/409"] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\nConnection: close\r\n\r\n"
        );
        let answer = String::from_utf8_lossy(&raw(p.addr, req.as_bytes()).await).into_owned();
        let lower = answer.to_ascii_lowercase();
        assert!(
            lower.contains("\r\ntrailer: x-trail\r\n"),
            "{path}: no Trailer header:\n{answer}"
        );
        assert!(
            lower.ends_with("0\r\nx-trail: yes\r\n\r\n"),
            "{path}: the trailer did not follow the last chunk:\n{answer}"
        );
    }
    // TE is hop-by-hop, but triage relays trailers, so it asks the upstream for them too.
    for head in heads.lock().unwrap().iter() {
        assert!(
            head.to_ascii_lowercase().contains("\r\nte: trailers"),
            "{head}"
        );
    }
    // Each response reached the client whole, trailers last: none is "client gone" (the
    // streamed one was, when the upstream's stream had not yet said it was over).
    p.shutdown().await.unwrap();
    let endings = seen.endings.lock().unwrap();
    let outcomes: Vec<(&str, Option<triage::exchange::Outcome>)> = endings
        .iter()
        .map(|(path, e)| (path.as_str(), e.outcome()))
        .collect();
    assert_eq!(
        outcomes,
        [("/api/v2/x/200", None), ("/api/v2/x/409", None)],
        "(path, outcome) of each exchange: expected vs got"
    );
}

#[tokio::test]
async fn options_asterisk_is_not_prefixed() {
    fn ok(_: &str) -> Vec<u8> {
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()
    }
    let (addr, heads) = raw_upstream(ok).await;
    let url = format!("http://{addr}/pre");
    let p = proxy(config(&url, &url)).await;
    let (head, _) = split_response(
        &raw(
            p.addr,
            b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await,
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let seen = heads.lock().unwrap()[0].clone();
    assert!(
        seen.starts_with("OPTIONS * HTTP/1.1\r\n"),
        "upstream got: {seen}"
    );
}

/// Records how each exchange was inspected and finished.
#[derive(Default)]
struct Recorder {
    inspected: Mutex<Vec<Inspection>>,
    finished: Mutex<Vec<Exchange>>,
    endings: Mutex<Vec<(String, triage::inspect::Ending)>>,
}

impl Inspector for Recorder {
    fn inspect(&self, ex: &Exchange) -> Verdict {
        self.inspected.lock().unwrap().push(ex.inspection);
        Verdict::default()
    }
    fn finished(&self, ex: Exchange, ending: triage::inspect::Ending) {
        self.endings
            .lock()
            .unwrap()
            .push((ex.request.path.clone(), ending));
        self.finished.lock().unwrap().push(ex);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_once_decoded_is_skipped_as_over_the_limit() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&vec![b'a'; 64 * 1024]).unwrap();
    let gz = Bytes::from(e.finish().unwrap());
    assert!(gz.len() < 1024, "the encoded body fits the limit");
    let up = upstream(move |_| {
        let gz = gz.clone();
        async move {
            Response::builder()
                .status(409)
                .header("content-encoding", "gzip")
                .body(full(gz))
                .unwrap()
        }
    })
    .await;
    let rec = Arc::new(Recorder::default());
    let mut cfg = config(&up.url(), &up.url());
    cfg.inspect_limit = 4096;
    let p = proxy_with(cfg, rec.clone()).await;
    let r = client()
        .get(format!("http://{}/api/v2/x", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let _ = r.bytes().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        rec.inspected.lock().unwrap().is_empty(),
        "an incomplete decoded body was inspected"
    );
    let finished = rec.finished.lock().unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].inspection, Inspection::OverLimit);
}

#[tokio::test]
async fn a_client_that_leaves_while_the_upstream_thinks_is_still_recorded() {
    let up = upstream(|_| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Response::new(full("late"))
    })
    .await;
    let rec = Arc::new(Recorder::default());
    let p = proxy_with(config(&up.url(), &up.url()), rec.clone()).await;
    let gave_up = client()
        .get(format!("http://{}/api/v2/slow", p.addr))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client was meant to give up");
    let deadline = Instant::now() + Duration::from_secs(2);
    while rec.finished.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let finished = rec.finished.lock().unwrap();
    assert_eq!(
        finished.len(),
        1,
        "the abandoned exchange was never finished"
    );
    assert_eq!(finished[0].request.path, "/api/v2/slow");
    assert!(finished[0].response.is_none());
}

#[tokio::test]
async fn the_response_timeout_counts_from_the_end_of_a_slow_upload() {
    let up = upstream(|seen| async move { Response::new(full(seen.body)) }).await;
    let mut cfg = config(&up.url(), &up.url());
    cfg.response_timeout = Duration::from_millis(400);
    cfg.idle_timeout = Duration::from_secs(5);
    let p = proxy(cfg).await;
    // Six pieces 200 ms apart: never idle, but 1.2 s in all, three response timeouts.
    let pieces: Vec<String> = (0..6).map(|i| format!("piece{i};")).collect();
    let len: usize = pieces.iter().map(String::len).sum();
    let mut s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    let head = format!(
        "POST /api/v2/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for piece in &pieces {
        tokio::time::sleep(Duration::from_millis(200)).await;
        s.write_all(piece.as_bytes()).await.unwrap();
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let (head, body) = split_response(&answer);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(String::from_utf8_lossy(&body), pieces.concat());
}

#[tokio::test]
async fn a_tls_handshake_that_never_ends_is_a_connect_timeout() {
    // Accepts TCP and then says nothing: the TLS handshake waits forever.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let url = format!("https://127.0.0.1:{port}");
    let mut cfg = config(&url, &url);
    cfg.connect_timeout = Duration::from_millis(300);
    cfg.response_timeout = Duration::from_secs(20);
    let p = proxy(cfg).await;
    let started = Instant::now();
    let r = client()
        .get(format!("http://{}/api/v2/x", p.addr))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?}: the response timeout, not the connect timeout",
        started.elapsed()
    );
    let ps = r.headers()["proxy-status"].to_str().unwrap().to_owned();
    assert!(ps.starts_with("triage; error=connection_timeout"), "{ps}");
}

#[tokio::test]
async fn every_triage_page_answer_is_no_store_and_nosniff() {
    let up = upstream(|_| async { Response::new(full("never")) }).await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let r = client()
        .get(format!("http://{}/__triage/nope", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_header(r.headers(), "cache-control", "no-store");
    assert_header(r.headers(), "x-content-type-options", "nosniff");
    assert!(up.seen().is_empty(), "a triage page was forwarded");
}

#[tokio::test]
async fn https_to_a_plain_http_upstream_is_a_tls_protocol_error() {
    let up = upstream(|_| async { Response::new(full("plain")) }).await;
    let url = format!("https://{}", up.addr);
    let p = proxy(config(&url, &url)).await;
    let r = client()
        .get(format!("http://{}/api/v2/x", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let ps = r.headers()["proxy-status"].to_str().unwrap().to_owned();
    assert!(ps.starts_with("triage; error=tls_protocol_error"), "{ps}");
}

#[tokio::test]
async fn a_get_body_of_unknown_length_reaches_the_upstream_whole() {
    // hyper's client sends a GET body without Content-Length as no body at all unless the
    // request says chunked; triage must say so, for HTTP/1.1 chunked and HTTP/2 DATA alike.
    let up = upstream(|_| async { Response::new(full("ok")) }).await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let (head, body) = split_response(
        &raw(
            p.addr,
            b"GET /api/v2/search HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\n\
Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        .await,
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"ok");

    let s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    let (mut tx, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(s),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let frames = ["via ", "h2"].map(|d| {
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from_static(d.as_bytes())))
    });
    let req = http::Request::get(format!("http://{}/api/v2/search", p.addr))
        .body(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
        .unwrap();
    let r = tx.send_request(req).await.unwrap();
    assert_eq!(r.status(), 200);

    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, "hello world", "HTTP/1.1 chunked GET body");
    assert_eq!(
        seen[1].body, "via h2",
        "HTTP/2 GET body without content-length"
    );
}

fn gzip_transfer_coded(_: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b"transfer-coded").unwrap();
    let gz = e.finish().unwrap();
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n{:x}\r\n",
        gz.len()
    )
    .into_bytes();
    out.extend_from_slice(&gz);
    out.extend_from_slice(b"\r\n0\r\n\r\n");
    out
}

#[tokio::test]
async fn a_transfer_coding_other_than_chunked_is_refused_not_passed_on_undecoded() {
    // Transfer codings are hop-by-hop: stripped with Transfer-Encoding, a gzip one would reach
    // the other side as unlabelled gzip bytes. triage does not decode them, so it says so.
    let (addr, heads) = raw_upstream(gzip_transfer_coded).await;
    let url = format!("http://{addr}");
    let p = proxy(config(&url, &url)).await;
    let (head, _) = split_response(
        &raw(
            p.addr,
            b"GET /api/v2/x HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n",
        )
        .await,
    );
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert!(
        head.contains("proxy-status: triage; error=http_protocol_error")
            && head.contains("transfer coding \\\"gzip\\\""),
        "{head}"
    );

    let (head, _) = split_response(
        &raw(
            p.addr,
            b"POST /api/v2/x HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: gzip, chunked\r\n\
Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        )
        .await,
    );
    assert!(head.starts_with("HTTP/1.1 501"), "{head}");
    assert!(
        head.contains("proxy-status: triage; error=http_request_error"),
        "{head}"
    );
    assert_eq!(
        heads.lock().unwrap().len(),
        1,
        "the gzip-coded request was not forwarded: only the GET reached the upstream"
    );
}

/// An absolute-form request for another host is refused; the URL's credentials are not quoted
/// in the answer that says so (nor in the log line, which has the same words).
#[tokio::test]
async fn a_refused_absolute_form_request_does_not_quote_its_password() {
    let up = upstream(|_| async { Response::new(full("")) }).await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let raw = raw(
        p.addr,
        b"GET http://partner:URLPASSWORD9@partner.example.com/v1 HTTP/1.1\r\nHost: partner.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    // Named by its host alone: the user part is no business of the answer.
    assert!(
        text.contains("absolute-form request for partner.example.com:")
            && !text.contains("URLPASSWORD9")
            && !text.contains("partner:"),
        "{text}"
    );
    p.shutdown().await.unwrap();
}

fn switching_protocols(_: &str) -> Vec<u8> {
    b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
        .to_vec()
}

/// triage forwards no upgrade (`Upgrade` is hop-by-hop), so a 101 from the upstream would reach
/// the client without its `Upgrade` header, an invalid response before a dead connection:
/// triage answers 502 with its Proxy-Status instead, and the upstream saw no upgrade asked.
#[tokio::test]
async fn an_upstream_101_is_refused_not_relayed_without_its_upgrade() {
    let (addr, heads) = raw_upstream(switching_protocols).await;
    let url = format!("http://{addr}");
    let p = proxy(config(&url, &url)).await;
    let (head, _) = split_response(
        &raw(
            p.addr,
            b"GET /api/v2/x HTTP/1.1\r\nHost: l\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await,
    );
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert!(
        head.contains("proxy-status: triage; error=http_protocol_error")
            && head.contains("101 Switching Protocols"),
        "{head}"
    );
    let seen = heads.lock().unwrap().join("\n").to_ascii_lowercase();
    assert!(!seen.contains("upgrade:"), "no upgrade forwarded: {seen}");
}

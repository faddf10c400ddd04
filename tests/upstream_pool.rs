//! triage's own pool of upstream connections: HTTP/1 connections are reused once a response
//! body ends, whatever kind of body it was; connections the upstream closed, that a client
//! left half read, or that answered in HTTP/1.0, are never handed a request. (HTTP/2 pooling:
//! tests/proxy_tls.rs.)

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A raw HTTP/1.1 upstream: reads one request head (requests here have no body), answers
/// with `answer(path)`, and keeps the connection for the next request unless `close_after`
/// says to close it. Counts the connections it accepted.
async fn raw_upstream(
    answer: fn(&str) -> Vec<u8>,
    close_after: fn(usize) -> bool,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut served = 0;
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                        if s.write_all(&answer(&path)).await.is_err() {
                            return;
                        }
                        served += 1;
                        if close_after(served) {
                            let _ = s.shutdown().await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, accepted)
}

fn answers(path: &str) -> Vec<u8> {
    match path {
        "/api/v2/empty" => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        "/api/v2/chunked" => {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                .to_vec()
        }
        "/api/v2/conflict" => {
            let body = r#"{"message":"conflict","code":"request.conflict","status":409}"#;
            format!(
                "HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
        _ => b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
    }
}

async fn send(c: &reqwest::Client, addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let r = c
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} through triage: {e}"));
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn one_http1_connection_serves_sequential_exchanges_of_every_body_kind() {
    let (addr, accepted) = raw_upstream(answers, |_| false).await;
    let url = format!("http://{addr}");
    let p = proxy_with(config(&url, &url), diagnosing(false)).await;
    let c = client();
    for round in 0..3 {
        for (path, want) in [
            ("/api/v2/small", (200, "ok")),
            ("/api/v2/empty", (204, "")),
            ("/api/v2/chunked", (200, "abcde")),
            (
                "/api/v2/conflict",
                (
                    409,
                    r#"{"message":"conflict","code":"request.conflict","status":409}"#,
                ),
            ),
        ] {
            let (status, body) = send(&c, p.addr, path).await;
            assert_eq!(
                (status, body.as_str()),
                want,
                "round {round}, {path}: expected {want:?}, got ({status}, {body:?})"
            );
        }
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "expected 12 sequential exchanges on one pooled upstream connection"
    );
}

#[tokio::test]
async fn connections_the_upstream_closed_are_not_reused() {
    // Every connection serves one exchange and is closed by the upstream, without a
    // `Connection: close` to warn: the next request must go out on a new one, not fail.
    let (addr, accepted) = raw_upstream(answers, |_| true).await;
    let url = format!("http://{addr}");
    let p = proxy(config(&url, &url)).await;
    let c = client();
    for i in 0..20 {
        let (status, body) = send(&c, p.addr, "/api/v2/small").await;
        assert_eq!(
            (status, body.as_str()),
            (200, "ok"),
            "exchange {i}: expected (200, \"ok\"), got ({status}, {body:?})"
        );
        // Let the closing FIN arrive, as it would between a real SDK's calls.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 20);
}

#[tokio::test]
async fn a_connection_whose_response_was_left_half_read_is_not_reused() {
    fn answer(path: &str) -> Vec<u8> {
        if path == "/api/v2/big" {
            // Announces more than it sends: the body never ends.
            let mut r = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n".to_vec();
            r.extend_from_slice(&[b'x'; 1000]);
            r
        } else {
            answers(path)
        }
    }
    let (addr, accepted) = raw_upstream(answer, |_| false).await;
    let url = format!("http://{addr}");
    let p = proxy(config(&url, &url)).await;
    let c = client();
    let mut r = c
        .get(format!("http://{}/api/v2/big", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.chunk().await.unwrap().unwrap().len(), 1000);
    drop(r);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        let (status, body) = send(&c, p.addr, "/api/v2/small").await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "expected the half-read connection dropped and one new connection for the rest"
    );
}

#[tokio::test]
async fn no_exchange_waits_behind_another_exchanges_upload() {
    // The upstream answers a POST at once, before its body is in: hyper keeps sending the
    // body on that connection. Another exchange meanwhile must get a connection of its own.
    let (addr, accepted) = raw_upstream(answers, |_| false).await;
    let url = format!("http://{addr}");
    let p = proxy(config(&url, &url)).await;
    let mut uploader = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    uploader
        .write_all(
            b"POST /api/v2/conflict HTTP/1.1\r\nhost: x\r\ncontent-length: 20\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let mut head = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), uploader.read(&mut head))
        .await
        .expect("the early answer reaches the uploading client")
        .unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 409"),
        "expected the upstream's early 409, got {:?}",
        String::from_utf8_lossy(&head[..n])
    );
    let c = client();
    let other = tokio::time::timeout(Duration::from_secs(3), send(&c, p.addr, "/api/v2/small"))
        .await
        .expect("another exchange completes while the upload is still going");
    assert_eq!((other.0, other.1.as_str()), (200, "ok"));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    uploader.write_all(b"0123456789").await.unwrap();
}

/// Reads one request (head, then a `content-length` or chunked body) from `s` into `buf`;
/// returns its head and body bytes as sent, or `None` at the end of the connection.
async fn read_request(
    s: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> Option<(String, Vec<u8>)> {
    async fn fill(s: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<()> {
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        fill(s, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end + 4);
    let lower = head.to_ascii_lowercase();
    let body_end = if lower.contains("transfer-encoding: chunked") {
        loop {
            if let Some(e) = buf.windows(5).position(|w| w == b"0\r\n\r\n") {
                break e + 5;
            }
            fill(s, buf).await?;
        }
    } else {
        let len = lower
            .split("content-length: ")
            .nth(1)
            .and_then(|v| v.split("\r\n").next())
            .map_or(0, |v| v.parse().unwrap());
        while buf.len() < len {
            fill(s, buf).await?;
        }
        len
    };
    Some((head, buf.drain(..body_end).collect()))
}

#[tokio::test]
async fn a_connection_that_answered_in_http10_is_not_reused() {
    // After an HTTP/1.0 answer hyper speaks HTTP/1.0 on the connection, where a body without
    // a length cannot go: the next request (a chunked upload) would leave with no body.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some((head, body)) = read_request(&mut s, &mut buf).await {
                    record.lock().unwrap().push((head, body));
                    let answer: &[u8] =
                        b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok";
                    if s.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let url = format!("http://{addr}");
    let p = proxy(config(&url, &url)).await;
    let first = raw(
        p.addr,
        b"GET /api/v2/first HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        first.starts_with(b"HTTP/1.1 200"),
        "triage answers in its own HTTP version: {}",
        String::from_utf8_lossy(&first)
    );
    let second = raw(
        p.addr,
        b"POST /api/v2/upload HTTP/1.1\r\nHost: l\r\nTransfer-Encoding: chunked\r\n\
Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert!(second.starts_with(b"HTTP/1.1 200"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[1].0.starts_with("POST /api/v2/upload HTTP/1.1\r\n"),
        "{}",
        seen[1].0
    );
    assert_eq!(
        seen[1].1, b"5\r\nhello\r\n0\r\n\r\n",
        "the upload reached the upstream whole"
    );
}

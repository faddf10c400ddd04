//! What triage does when something goes wrong: requests it must refuse, upstreams that are
//! down, slow or untrusted, clients that leave — and that triage's own answers are always
//! marked as triage's (`Proxy-Status: triage; error=...`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use triage::exchange::Exchange;
use triage::inspect::{Inspector, Verdict};

/// A GET through triage at `addr`.
async fn get(addr: std::net::SocketAddr, path: &str) -> reqwest::Response {
    client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap()
}

async fn problem(r: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = r.status().as_u16();
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let ps = r.headers()["proxy-status"].to_str().unwrap().to_owned();
    let body: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.unwrap()).expect("problem+json body");
    (status, ps, body)
}

#[tokio::test]
async fn connect_and_foreign_absolute_form_are_refused_but_self_absolute_form_is_served() {
    let up = upstream(|_| async { Response::new(full("ok")) }).await;
    let p = proxy(config(&up.url(), &up.url())).await;

    let (head, body) = split_response(
        &raw(p.addr, b"CONNECT api.mypurecloud.com:443 HTTP/1.1\r\nHost: api.mypurecloud.com:443\r\nConnection: close\r\n\r\n").await,
    );
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(
        head.contains("proxy-status: triage; error=http_request_denied"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("not an open proxy"));

    let (head, _) = split_response(
        &raw(p.addr, b"GET http://example.com/api/v2/x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n").await,
    );
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(head.contains("error=http_request_denied"), "{head}");

    let own = format!(
        "GET http://127.0.0.1:{}/api/v2/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        p.addr.port()
    );
    let (head, body) = split_response(&raw(p.addr, own.as_bytes()).await);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"ok");
    assert_eq!(
        up.seen().len(),
        1,
        "only the request addressed to triage itself went upstream"
    );
}

#[tokio::test]
async fn upstream_down_is_a_502_with_proxy_status_and_problem_json() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{dead}");
    let p = proxy(config(&url, &url)).await;
    let r = get(p.addr, "/api/v2/users/me").await;
    let (status, ps, body) = problem(r).await;
    assert_eq!(status, 502);
    assert!(
        ps.starts_with("triage; error=connection_refused; details=\""),
        "{ps}"
    );
    assert_eq!(body["status"], 502);
    assert_eq!(body["blame"], "upstream");
    assert_eq!(body["upstream"], url);
    assert!(
        body["fix"].as_str().unwrap().contains("--api-upstream"),
        "{body}"
    );
}

#[tokio::test]
async fn an_upstream_head_over_the_read_buffer_is_a_502_that_says_so() {
    // Twice the buffer, and half of it: hyper checks the limit between reads, so a head just
    // over it can still slip through in one read; one twice as large cannot, and a large head
    // that fits passes.
    let limit = triage::proxy::upstream::UPSTREAM_READ_BUFFER;
    let up = upstream(move |req| async move {
        let size = if req.uri.ends_with("/huge") {
            2 * limit
        } else {
            limit / 2
        };
        Response::builder()
            .header("x-big", "v".repeat(size))
            .body(full("ok"))
            .unwrap()
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let r = get(p.addr, "/api/v2/huge").await;
    let (status, ps, body) = problem(r).await;
    assert_eq!(status, 502);
    assert!(
        ps.starts_with("triage; error=http_response_header_section_size; details=\""),
        "{ps}"
    );
    assert!(body["title"].as_str().unwrap().contains("64 KiB"), "{body}");

    let r = get(p.addr, "/api/v2/large").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-big"].len(), limit / 2);
    assert!(r.headers().get("proxy-status").is_none());
}

#[tokio::test]
async fn slow_upstream_is_a_504() {
    let up = upstream(|_| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Response::new(full("late"))
    })
    .await;
    let mut cfg = config(&up.url(), &up.url());
    cfg.response_timeout = Duration::from_millis(300);
    let p = proxy(cfg).await;
    let started = std::time::Instant::now();
    let r = get(p.addr, "/api/v2/slow").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let (status, ps, body) = problem(r).await;
    assert_eq!(status, 504);
    assert!(
        ps.starts_with("triage; error=http_response_timeout"),
        "{ps}"
    );
    assert_eq!(body["blame"], "upstream");
}

#[tokio::test]
async fn untrusted_upstream_certificate_is_a_502_and_ca_file_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    // A TLS upstream whose certificate chains to a CA the system does not trust.
    let tls = tls_acceptor(&paths, &[b"http/1.1"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(s) = tls.accept(s).await else { return };
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(Response::new(full("secure ok")))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let url = format!("https://localhost:{port}");

    let p = proxy(config(&url, &url)).await;
    let r = get(p.addr, "/api/v2/x").await;
    let (status, ps, body) = problem(r).await;
    assert_eq!(status, 502);
    assert!(
        ps.starts_with("triage; error=tls_certificate_error"),
        "{ps}"
    );
    assert!(body["fix"].as_str().unwrap().contains("--ca-file"));
    p.shutdown().await.unwrap();

    let mut cfg = config(&url, &url);
    cfg.ca_file = Some(paths.ca_cert.clone());
    let p = proxy(cfg).await;
    let r = get(p.addr, "/api/v2/x").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "secure ok");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_body_releases_the_upstream() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let up = upstream(move |_| {
        let rx = rx.lock().unwrap().take().unwrap();
        async move {
            let s = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| {
                    (
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(
                            b,
                        )),
                        rx,
                    )
                })
            });
            Response::new(StreamBody::new(s).boxed())
        }
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let mut r = get(p.addr, "/api/v2/endless").await;
    tx.send(Bytes::from_static(b"chunk")).await.unwrap();
    assert_eq!(r.chunk().await.unwrap().unwrap(), "chunk");
    drop(r);
    // Once triage drops its side, the upstream's body channel closes: nothing is left running.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if tx.send(Bytes::from_static(b"more")).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the upstream body was still being pulled 5 s after the client left"
    );
}

/// An inspector that records what it was given and adds a header.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Exchange>>,
    finished: Mutex<Vec<(u64, Option<u64>)>>,
}

impl Inspector for Recorder {
    fn inspect(&self, ex: &Exchange) -> Verdict {
        self.seen.lock().unwrap().push(ex.clone());
        Verdict {
            headers: vec![(
                http::HeaderName::from_static("triage-test"),
                http::HeaderValue::from_static("seen"),
            )],
            body: None,
        }
    }
    fn local(&self, req: &http::request::Parts) -> Option<Response<Bytes>> {
        (req.uri.path() == "/__triage/hello")
            .then(|| Response::new(Bytes::from_static(b"hello from triage")))
    }
    fn finished(&self, ex: Exchange, _: triage::inspect::Ending) {
        self.finished
            .lock()
            .unwrap()
            .push((ex.seq, ex.timings.total_ms));
    }
}

#[tokio::test]
async fn inspector_gets_request_prefix_and_decoded_body_and_its_headers_are_added() {
    use std::io::Write;
    let payload = br#"{"code":"request.conflict","status":409}"#;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(payload).unwrap();
    let gz = Bytes::from(e.finish().unwrap());
    let gz2 = gz.clone();
    let up = upstream(move |seen| {
        let gz = gz2.clone();
        async move {
            if seen.uri.contains("big") {
                return Response::builder()
                    .status(400)
                    .body(full(vec![b'x'; 4096]))
                    .unwrap();
            }
            if seen.uri.contains("ok") {
                return Response::new(full("fine"));
            }
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
    cfg.inspect_limit = 1024;
    let p = proxy_with(cfg, rec.clone()).await;
    let c = client();

    let r = c
        .post(format!(
            "http://{}/api/v2/conversations/messages/c1/communications/m1/messages?x=1",
            p.addr
        ))
        .header("content-type", "application/json")
        .body(r#"{"textBody":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_header(r.headers(), "triage-test", "seen");
    assert_header(r.headers(), "content-encoding", "gzip");
    assert_eq!(
        r.bytes().await.unwrap(),
        gz,
        "the client still gets the encoded bytes"
    );

    let r = c
        .get(format!("http://{}/api/v2/ok", p.addr))
        .send()
        .await
        .unwrap();
    assert_no_header(r.headers(), "triage-test");
    let r = c
        .get(format!("http://{}/api/v2/big", p.addr))
        .send()
        .await
        .unwrap();
    assert_no_header(r.headers(), "triage-test");
    assert_eq!(
        r.bytes().await.unwrap().len(),
        4096,
        "an over-limit body streams on uninspected"
    );

    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "only the complete error response was inspected"
    );
    let ex = &seen[0];
    assert_eq!(ex.request.method, http::Method::POST);
    assert_eq!(
        ex.request.path,
        "/api/v2/conversations/messages/c1/communications/m1/messages"
    );
    assert_eq!(ex.request.query.as_deref(), Some("x=1"));
    assert_eq!(ex.request.body.bytes, r#"{"textBody":"hi"}"#);
    assert!(ex.request.body.complete);
    let resp = ex.response.as_ref().unwrap();
    assert_eq!(resp.status, 409);
    assert_eq!(
        resp.body.bytes,
        payload.as_slice(),
        "the inspector sees the decoded body"
    );
    assert!(resp.body.complete);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fin = rec.finished.lock().unwrap().clone();
    assert_eq!(fin.len(), 3, "finished() sees every exchange: {fin:?}");
    assert!(
        fin.iter().all(|f| f.1.is_some()),
        "finished() gets the total time"
    );
}

#[tokio::test]
async fn in_flight_exchanges_finish_on_shutdown() {
    let up = upstream(|_| async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Response::new(full("finished"))
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let addr = p.addr;
    let req = tokio::spawn(async move {
        client()
            .get(format!("http://{addr}/api/v2/x"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    p.shutdown().await.unwrap();
    assert_eq!(req.await.unwrap(), "finished");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening after shutdown"
    );
}

#[tokio::test]
async fn non_loopback_listen_needs_allow_remote() {
    let mut cfg = config("http://127.0.0.1:9", "http://127.0.0.1:9");
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    let err = triage::proxy::Proxy::bind(cfg.clone(), Arc::new(triage::inspect::NoInspector))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("--allow-remote"), "{err}");
    cfg.allow_remote = true;
    assert!(
        triage::proxy::Proxy::bind(cfg, Arc::new(triage::inspect::NoInspector))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn triage_pages_are_answered_locally_and_never_forwarded() {
    let up = upstream(|_| async { Response::new(full("upstream")) }).await;
    let p = proxy_with(config(&up.url(), &up.url()), Arc::new(Recorder::default())).await;
    let c = client();
    let r = c
        .get(format!("http://{}/__triage/hello", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello from triage");
    let r = c
        .get(format!("http://{}/__triage/nothing-here", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_header(
        r.headers(),
        "proxy-status",
        "triage; error=proxy_internal_response",
    );
    let r = c
        .post(format!("http://{}/__triage", p.addr))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        up.seen().is_empty(),
        "nothing under /__triage reaches the upstream"
    );
}

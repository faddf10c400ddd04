//! Transparency: through triage, status, headers (bar hop-by-hop) and body bytes are what the
//! upstream sent, and the request the upstream gets is what the client sent.

mod common;

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{HeaderValue, Response};
use http_body_util::{BodyExt, StreamBody};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn query_and_path_are_byte_exact() {
    let up = upstream(|_| async { Response::new(full("ok")) }).await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let path = "/api/v2/users/a%2Fb/x%20y?q=a%2Fb%20c&q=2&empty=&plus=a+b&pct=%E2%9C%93&raw=~!*'()";
    let raw_req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let (head, body) = split_response(&raw(p.addr, raw_req.as_bytes()).await);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"ok");
    let seen = up.seen();
    assert_eq!(
        seen[0].uri, path,
        "the upstream must get the path and query byte for byte"
    );
}

#[tokio::test]
async fn oauth_goes_to_login_upstream_and_the_rest_to_api() {
    let api = upstream(|_| async { Response::new(full("api")) }).await;
    let login = upstream(|_| async { Response::new(full("login")) }).await;
    let p = proxy(config(&api.url(), &login.url())).await;
    let c = client();
    let r = c
        .post(format!("http://{}/oauth/token", p.addr))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", "Basic Y2xpZW50OnNlY3JldA==")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "login");
    let r = c
        .get(format!("http://{}/api/v2/tokens/me", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "api");

    let l = login.seen();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].uri, "/oauth/token");
    assert_eq!(l[0].body, "grant_type=client_credentials");
    assert_eq!(l[0].headers["authorization"], "Basic Y2xpZW50OnNlY3JldA==");
    assert_eq!(
        l[0].headers["host"],
        login.addr.to_string(),
        "Host is the upstream's"
    );
    let a = api.seen();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].uri, "/api/v2/tokens/me");
    assert_eq!(a[0].headers["host"], api.addr.to_string());
}

#[tokio::test]
async fn upstream_path_prefix_is_kept() {
    let up = upstream(|_| async { Response::new(full("ok")) }).await;
    let p = proxy(config(&format!("{}/gateway/api", up.url()), &up.url())).await;
    client()
        .get(format!("http://{}/api/v2/x?a=1", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(up.seen()[0].uri, "/gateway/api/api/v2/x?a=1");
}

#[tokio::test]
async fn hop_by_hop_headers_are_dropped_both_ways_and_the_rest_kept() {
    let up = upstream(|_| async {
        Response::builder()
            .header("connection", "x-up-hop")
            .header("x-up-hop", "secret-hop")
            .header("keep-alive", "timeout=5")
            .header("x-end-to-end", "kept")
            .header("retry-after", "42")
            .header("inin-correlation-id", "corr-1")
            .body(full("ok"))
            .unwrap()
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let req = b"GET /api/v2/x HTTP/1.1\r\nHost: localhost\r\nConnection: close, X-Client-Hop\r\n\
X-Client-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eDp5\r\nTE: gzip\r\n\
Upgrade: h2c\r\nAuthorization: Bearer tok\r\nCookie: a=1\r\nX-Custom: v\r\nUser-Agent: PureCloud SDK/python\r\n\r\n";
    let (head, _) = split_response(&raw(p.addr, req).await);
    let s = &up.seen()[0];
    for h in [
        "x-client-hop",
        "keep-alive",
        "proxy-authorization",
        "te",
        "upgrade",
        "connection",
    ] {
        assert!(
            s.headers.get(h).is_none(),
            "hop-by-hop {h} reached the upstream: {:?}",
            s.headers
        );
    }
    // (`TE: trailers` is the exception: triage relays trailers, so it asks for them itself;
    // tests/proxy_edges.rs.)
    assert_eq!(s.headers["authorization"], "Bearer tok");
    assert_eq!(s.headers["cookie"], "a=1");
    assert_eq!(s.headers["x-custom"], "v");
    assert_eq!(s.headers["user-agent"], "PureCloud SDK/python");

    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("x-up-hop"), "{head}");
    assert!(!lower.contains("keep-alive"), "{head}");
    assert!(lower.contains("x-end-to-end: kept"), "{head}");
    assert!(lower.contains("retry-after: 42"), "{head}");
    assert!(lower.contains("inin-correlation-id: corr-1"), "{head}");
}

#[tokio::test]
async fn repeated_and_large_headers_survive_in_order() {
    let big = "v".repeat(16 * 1024);
    let big2 = big.clone();
    let up = upstream(move |_| {
        let big = big2.clone();
        async move {
            Response::builder()
                .header("set-cookie", "a=1; Path=/")
                .header("set-cookie", "b=2; Path=/")
                .header("x-multi", "first")
                .header("x-multi", "second")
                .header("x-big", big)
                .body(full("ok"))
                .unwrap()
        }
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let r = client()
        .get(format!("http://{}/api/v2/x", p.addr))
        .header("x-req", "one")
        .header("x-req", "two")
        .header("x-req-big", big.as_str())
        .send()
        .await
        .unwrap();
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().cloned().collect();
    assert_eq!(
        cookies,
        vec![
            HeaderValue::from_static("a=1; Path=/"),
            HeaderValue::from_static("b=2; Path=/")
        ]
    );
    let multi: Vec<_> = r.headers().get_all("x-multi").iter().cloned().collect();
    assert_eq!(
        multi,
        vec![
            HeaderValue::from_static("first"),
            HeaderValue::from_static("second")
        ]
    );
    assert_eq!(r.headers()["x-big"].len(), big.len());
    let s = &up.seen()[0];
    let reqs: Vec<_> = s.headers.get_all("x-req").iter().cloned().collect();
    assert_eq!(
        reqs,
        vec![
            HeaderValue::from_static("one"),
            HeaderValue::from_static("two")
        ]
    );
    assert_eq!(s.headers["x-req-big"], big.as_str());
}

#[tokio::test]
async fn gzip_bodies_stay_encoded_on_success_and_on_inspected_errors() {
    let payload = br#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409}"#;
    let gz = Bytes::from(gzip(payload));
    for status in [200u16, 409] {
        let gz2 = gz.clone();
        let up = upstream(move |_| {
            let gz = gz2.clone();
            async move {
                Response::builder()
                    .status(status)
                    .header("content-encoding", "gzip")
                    .header("content-type", "application/json")
                    .header("content-length", gz.len())
                    .body(full(gz))
                    .unwrap()
            }
        })
        .await;
        let p = proxy(config(&up.url(), &up.url())).await;
        let (head, body) = split_response(
            &raw(p.addr, b"POST /api/v2/x HTTP/1.1\r\nHost: l\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").await,
        );
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("content-encoding: gzip"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("content-length: {}", gz.len())),
            "{head}"
        );
        assert_eq!(
            body,
            gz.as_ref(),
            "status {status}: gzip bytes must arrive unchanged"
        );
    }
}

/// An upstream body fed by a channel, so a test controls when each chunk goes.
fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| {
            (
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(b)),
                rx,
            )
        })
    });
    (tx, StreamBody::new(stream).boxed())
}

#[tokio::test]
async fn chunked_bodies_stream_without_waiting_for_the_end() {
    for status in [200u16, 500] {
        let (tx, body) = channel_body();
        let body = std::sync::Mutex::new(Some(body));
        let body = std::sync::Arc::new(body);
        let up = upstream(move |_| {
            let b = body.lock().unwrap().take().unwrap();
            async move { Response::builder().status(status).body(b).unwrap() }
        })
        .await;
        let mut cfg = config(&up.url(), &up.url());
        // For the inspected status, a first chunk larger than the limit must flow on at once.
        cfg.inspect_limit = 8;
        let p = proxy(cfg).await;
        let sender = tokio::spawn(async move {
            tx.send(Bytes::from_static(b"first chunk, over the limit\n"))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let mut r = client()
            .get(format!("http://{}/api/v2/stream", p.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
        assert!(r.headers().get("content-length").is_none());
        let first = tokio::time::timeout(Duration::from_secs(5), r.chunk())
            .await
            .expect("the first chunk arrives while the upstream is still sending")
            .unwrap()
            .unwrap();
        assert_eq!(first, "first chunk, over the limit\n");
        sender.abort();
    }
}

#[tokio::test]
async fn twenty_mib_download_and_upload_pass_intact() {
    const N: usize = 20 * 1024 * 1024;
    let up = upstream(|seen| async move {
        if seen.method == http::Method::POST {
            // Echo the upload's length and a checksum so the test sees it arrived intact.
            let sum: u64 = seen.body.iter().map(|&b| b as u64).sum();
            return Response::new(full(format!("{} {}", seen.body.len(), sum)));
        }
        let chunks = (0..N / 65536).map(|i| {
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(Bytes::from(
                vec![(i % 251) as u8; 65536],
            )))
        });
        Response::new(StreamBody::new(futures_util::stream::iter(chunks)).boxed())
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let c = client();
    let r = c
        .get(format!("http://{}/api/v2/big", p.addr))
        .send()
        .await
        .unwrap();
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), N);
    assert!(body
        .chunks(65536)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == (i % 251) as u8)));

    let upload: Vec<u8> = (0..N).map(|i| (i % 253) as u8).collect();
    let expected_sum: u64 = upload.iter().map(|&b| b as u64).sum();
    let r = c
        .post(format!("http://{}/api/v2/upload", p.addr))
        .body(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), format!("{N} {expected_sum}"));
}

#[tokio::test]
async fn head_204_and_304_have_no_body_and_keep_their_headers() {
    let up = upstream(|seen| async move {
        let b = Response::builder();
        match seen.uri.as_str() {
            "/api/v2/head" => b
                .header("content-length", "1234")
                .header("etag", "\"e1\"")
                .body(full("")),
            "/api/v2/204" => b
                .status(204)
                .header("inin-correlation-id", "c204")
                .body(full("")),
            _ => b.status(304).header("etag", "\"e1\"").body(full("")),
        }
        .unwrap()
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let raw_head = raw(
        p.addr,
        b"HEAD /api/v2/head HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&raw_head).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("content-length: 1234"),
        "HEAD keeps the upstream's Content-Length: {text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "HEAD has no body: {text:?}");

    let r = raw(
        p.addr,
        b"DELETE /api/v2/204 HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&r).to_ascii_lowercase();
    assert!(
        text.starts_with("http/1.1 204") && text.contains("inin-correlation-id: c204"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "204 has no body: {text:?}");

    let r = raw(p.addr, b"GET /api/v2/304 HTTP/1.1\r\nHost: l\r\nIf-None-Match: \"e1\"\r\nConnection: close\r\n\r\n").await;
    let text = String::from_utf8_lossy(&r).to_ascii_lowercase();
    assert!(
        text.starts_with("http/1.1 304") && text.contains("etag: \"e1\""),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "304 has no body: {text:?}");
    assert_eq!(up.seen()[2].headers["if-none-match"], "\"e1\"");
}

#[tokio::test]
async fn rate_limit_headers_and_error_body_pass_unchanged() {
    let body = r#"{"message":"Rate limit exceeded the maximum. Retry the request in [42] seconds","code":"too.many.requests.retry.after","status":429,"contextId":"c-429","details":[],"errors":[]}"#;
    let up = upstream(move |_| async move {
        Response::builder()
            .status(429)
            .header("retry-after", "42")
            .header("inin-correlation-id", "c-429")
            .header("content-type", "application/json")
            .body(full(body))
            .unwrap()
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let r = client()
        .get(format!("http://{}/api/v2/x", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_header(r.headers(), "retry-after", "42");
    assert_header(r.headers(), "inin-correlation-id", "c-429");
    assert_no_header(r.headers(), "proxy-status");
    assert_eq!(r.text().await.unwrap(), body);
}

#[tokio::test]
async fn http2_client_with_prior_knowledge() {
    let up = upstream(|seen| async move {
        Response::builder()
            .header("x-seen-version", format!("{:?}", seen.version))
            .body(full("h2 ok"))
            .unwrap()
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let c = h2_client();
    let r = c
        .get(format!("http://{}/api/v2/x?y=%2F", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "h2 ok");
    assert_eq!(up.seen()[0].uri, "/api/v2/x?y=%2F");
    assert!(up.seen()[0].headers.get("host").is_some());
}

#[tokio::test]
async fn http2_cookie_crumbs_reach_an_http1_upstream_as_one_field() {
    // RFC 9113 §8.2.3: an HTTP/2 client may split Cookie into several fields; an HTTP/1.1
    // upstream must get them joined by "; ", or it reads only the first.
    let up = upstream(|_| async { Response::new(full("ok")) }).await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let c = h2_client();
    let r = c
        .get(format!("http://{}/api/v2/x", p.addr))
        .header("cookie", "a=1")
        .header("x-other", "between")
        .header("cookie", "b=2; c=3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let seen = &up.seen()[0];
    let cookies: Vec<_> = seen.headers.get_all("cookie").iter().cloned().collect();
    assert_eq!(cookies, vec![HeaderValue::from_static("a=1; b=2; c=3")]);
    assert_eq!(seen.headers["x-other"], "between");
}

/// A client that speaks HTTP/2 to triage from the first byte (prior knowledge, no upgrade).
fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

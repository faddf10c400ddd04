//! `triage proxy --tls` with the certificate of `triage certs` (HTTP/2 by ALPN).

mod common;

use common::*;
use http::Response;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use triage::proxy::ServerTls;

#[tokio::test]
async fn tls_listener_serves_h2_and_http1_with_the_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    assert!(
        triage::certs::generate(dir.path(), false).is_err(),
        "an existing CA is not overwritten without --force"
    );

    let up = upstream(|_| async { Response::new(full("over tls")) }).await;
    let mut cfg = config(&up.url(), &up.url());
    cfg.tls = Some(ServerTls {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
    });
    let p = proxy(cfg).await;

    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_file_iter(&paths.ca_cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let tls =
        rustls::ClientConfig::builder_with_provider(triage::proxy::upstream::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    for (h2, want) in [
        (true, http::Version::HTTP_2),
        (false, http::Version::HTTP_11),
    ] {
        let b = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_only();
        let conn = if h2 {
            b.enable_http2().build()
        } else {
            b.enable_http1().build()
        };
        let c: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(conn);
        for host in ["localhost", "127.0.0.1"] {
            let uri: http::Uri = format!("https://{host}:{}/api/v2/x", p.addr.port())
                .parse()
                .unwrap();
            let r = c.get(uri).await.unwrap();
            assert_eq!(r.version(), want);
            assert_eq!(
                r.into_body().collect().await.unwrap().to_bytes(),
                "over tls"
            );
        }
    }
}

#[tokio::test]
async fn an_https_upstream_that_offers_h2_is_spoken_to_in_h2_over_pooled_connections() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    let tls = tls_acceptor(&paths, &[b"h2"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let conns = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            conns.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(s) = tls.accept(s).await else { return };
                let svc = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        Ok::<_, std::convert::Infallible>(Response::new(full(format!(
                            "{:?}",
                            req.version()
                        ))))
                    },
                );
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let url = format!("https://localhost:{port}");
    let mut cfg = config(&url, &url);
    cfg.ca_file = Some(paths.ca_cert.clone());
    let p = proxy(cfg).await;
    let c = client();
    for _ in 0..5 {
        let r = c
            .get(format!("http://{}/api/v2/x", p.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.text().await.unwrap(),
            "HTTP/2.0",
            "the upstream saw HTTP/2"
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one pooled HTTP/2 connection served every request"
    );
}

#[tokio::test]
async fn an_http2_upstream_may_send_as_large_a_head_as_an_http1_one() {
    // hyper's HTTP/2 client takes 16 KiB of response fields by default, where triage's
    // HTTP/1 client takes 64 KiB: a 40 KiB head must pass either way.
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    let tls = tls_acceptor(&paths, &[b"h2"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(s) = tls.accept(s).await else { return };
                let svc = hyper::service::service_fn(
                    |_: http::Request<hyper::body::Incoming>| async move {
                        let mut r = Response::new(full("big head"));
                        for i in 0..4 {
                            r.headers_mut().insert(
                                http::HeaderName::from_bytes(format!("x-big-{i}").as_bytes())
                                    .unwrap(),
                                http::HeaderValue::from_str(&"v".repeat(10 * 1024)).unwrap(),
                            );
                        }
                        Ok::<_, std::convert::Infallible>(r)
                    },
                );
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let url = format!("https://localhost:{port}");
    let mut cfg = config(&url, &url);
    cfg.ca_file = Some(paths.ca_cert.clone());
    let p = proxy(cfg).await;
    let r = client()
        .get(format!("http://{}/api/v2/x", p.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "proxy-status: {:?}",
        r.headers().get("proxy-status")
    );
    assert_eq!(r.headers()["x-big-3"].len(), 10 * 1024);
    assert_eq!(r.text().await.unwrap(), "big head");
}

/// Plain HTTP sent to the `--tls` port gets a short 400 that names the port and says to use
/// https://, as Go's net/http and nginx answer, instead of an empty reply; TLS on the same
/// port still works.
#[tokio::test]
async fn plain_http_on_the_tls_port_is_told_to_use_https() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let paths = triage::certs::generate(dir.path(), false).unwrap();
    let up = upstream(|_| async { Response::new(full("over tls")) }).await;
    let mut cfg = config(&up.url(), &up.url());
    cfg.tls = Some(ServerTls {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
    });
    let p = proxy(cfg).await;
    let port = p.addr.port();

    for request in [
        &b"GET /api/v2/users/me HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer t\r\n\r\n"[..],
        // The method may come in pieces.
        &b"P"[..],
    ] {
        let mut s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut got))
            .await
            .expect("the answer ends with a close")
            .unwrap();
        let body = format!(
            "Client sent an HTTP request to an HTTPS port: triage listens with --tls on port \
             {port}, so use https:// (or start triage without --tls for plain http).\n"
        );
        let want = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(
            String::from_utf8_lossy(&got),
            want,
            "answer to {:?} on the TLS port",
            String::from_utf8_lossy(request)
        );
    }
    assert!(
        up.seen().is_empty(),
        "nothing was forwarded: {:?}",
        up.seen()
    );

    // A TLS client on the same port is served as before.
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_file_iter(&paths.ca_cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let tls =
        rustls::ClientConfig::builder_with_provider(triage::proxy::upstream::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let conn = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let c: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build(conn);
    let r = c
        .get(
            format!("https://localhost:{port}/api/v2/x")
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.into_body().collect().await.unwrap().to_bytes(),
        "over tls"
    );
}

/// An upstream whose certificate is its own CA (`openssl req -x509`'s default), and the same
/// upstream addressed as http://: each answer's fix says what to do, not the generic advice.
#[tokio::test]
async fn a_self_signed_ca_upstream_and_http_to_a_tls_port_get_their_own_fix() {
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.path().join("up.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let server =
        rustls::ServerConfig::builder_with_provider(triage::proxy::upstream::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let a = acceptor.clone();
            // The handshake fails either way; nothing is served.
            tokio::spawn(async move {
                let _ = a.accept(s).await;
            });
        }
    });

    for (url, fix) in [
        (
            format!("https://127.0.0.1:{port}"),
            "The upstream presents a CA certificate as its own",
        ),
        (
            format!("http://127.0.0.1:{port}"),
            "If the upstream serves TLS at that address, write its URL with https://.",
        ),
    ] {
        let mut cfg = config(&url, &url);
        cfg.ca_file = Some(cert_path.clone());
        let p = proxy(cfg).await;
        let r = client()
            .get(format!("http://{}/api/v2/users/me", p.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502, "{url}");
        let problem: serde_json::Value = r.json().await.unwrap();
        assert!(
            problem["fix"].as_str().unwrap().contains(fix),
            "{url}: expected {fix:?} in the fix of {problem:#}"
        );
        p.shutdown().await.unwrap();
    }
}

//! `triage proxy --tls` with the certificate of `triage certs` (HTTP/2 by ALPN), and the
//! exchange log: one line per exchange, never a secret.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

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

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_log_line_per_exchange_and_no_secret_in_it() {
    let buf = Buf::default();
    let b2 = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || b2.clone())
        .finish();
    let _g = tracing::subscriber::set_default(subscriber);

    let up = upstream(|_| async {
        Response::builder()
            .status(401)
            .header("inin-correlation-id", "corr-42")
            .header("set-cookie", "session=SETCOOKIESECRET")
            .body(full(
                r#"{"message":"Invalid login credentials.","code":"bad.credentials","status":401}"#,
            ))
            .unwrap()
    })
    .await;
    let p = proxy(config(&up.url(), &up.url())).await;
    let c = client();
    c.get(format!(
        "http://{}/api/v2/users/me?code=QUERYSECRET&pageSize=2",
        p.addr
    ))
    .header("authorization", "Bearer BEARERSECRET")
    .header("cookie", "session=COOKIESECRET")
    .send()
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    c.post(format!("http://{}/oauth/token", p.addr))
        .header("authorization", "Basic QkFTSUNTRUNSRVQ6c2VjcmV0")
        .body("grant_type=client_credentials&client_secret=FORMSECRET")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    p.shutdown().await.unwrap();

    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    for secret in [
        "BEARERSECRET",
        "COOKIESECRET",
        "SETCOOKIESECRET",
        "QUERYSECRET",
        "FORMSECRET",
        "QkFTSUNTRUNSRVQ6c2VjcmV0",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|j| j["target"] == "triage::exchange")
        .collect();
    assert_eq!(lines.len(), 2, "one line per exchange:\n{log}");
    let first = &lines[0]["fields"];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["status"], 401);
    assert_eq!(first["correlation_id"], "corr-42");
    assert!(
        first["path"]
            .as_str()
            .unwrap()
            .starts_with("/api/v2/users/me?code=[redacted "),
        "{first}"
    );
    assert!(
        first["path"].as_str().unwrap().ends_with("&pageSize=2"),
        "{first}"
    );
    assert!(
        first["upstream_ms"].is_number() && first["total_ms"].is_number(),
        "{first}"
    );
    assert_eq!(lines[1]["fields"]["path"], "/oauth/token");
    assert_eq!(lines[1]["fields"]["upstream"], "login");
}

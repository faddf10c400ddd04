//! The client towards the upstreams: pooled connections, HTTP/2 where the upstream offers it
//! by ALPN, HTTP/1.1 otherwise, TLS by rustls with the system roots plus `--ca-file`.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::body::TeeBody;
use super::Config;
use crate::error::Error;

pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, TeeBody>;

/// The most an upstream HTTP/1 connection buffers from its socket, and so about the largest
/// response head it accepts (hyper checks between reads; a larger head answers 502
/// `http_response_header_section_size`).
pub const UPSTREAM_READ_BUFFER: usize = 64 * 1024;

/// The one crypto provider triage uses, for both directions.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Root certificates: the system's (when any upstream is https) plus `--ca-file`.
pub fn root_store(cfg: &Config) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    if cfg.api.is_https() || cfg.login.is_https() {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // A malformed system certificate must not stop triage; the others still count.
            let _ = roots.add(cert);
        }
    }
    if let Some(path) = &cfg.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| Error::Tls(format!("cannot read --ca-file {}: {e}", path.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| Error::Tls(format!("--ca-file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::Tls(format!(
                "--ca-file {} holds no PEM certificate",
                path.display()
            )));
        }
        for c in certs {
            roots.add(c).map_err(|e| {
                Error::Tls(format!(
                    "--ca-file {}: unusable certificate: {e}",
                    path.display()
                ))
            })?;
        }
    }
    Ok(roots)
}

pub fn build(cfg: &Config) -> Result<UpstreamClient, Error> {
    let tls = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(root_store(cfg)?)
        .with_no_client_auth();

    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(cfg.connect_timeout));
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(60)));

    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);

    Ok(Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .http2_keep_alive_interval(Some(Duration::from_secs(30)))
        .http2_keep_alive_while_idle(false)
        // hyper grows a connection's read buffer up to this while a body streams fast; its
        // default (~400 KiB) times the streams in flight is most of a proxy's memory. 64 KiB
        // reads keep a download at full speed and still hold any real response head.
        .http1_max_buf_size(UPSTREAM_READ_BUFFER)
        .build(https))
}

//! The client towards the upstreams: pooled connections, HTTP/2 where the upstream offers it
//! by ALPN, HTTP/1.1 otherwise, TLS by rustls with the system roots plus `--ca-file`.
//!
//! The pool is triage's own, over hyper's connection API. triage talks to one or two upstreams,
//! so a general pool (hyper-util's legacy client: a hashed map of hosts, checkout futures
//! racing new connections, a spawned task per HTTP/1 response to hand its connection back)
//! cost more per exchange than all of triage's forwarding besides (docs/benchmarks.md). Here
//! the hosts are a short list; an HTTP/1 connection goes back to its host's idle stack when
//! its response body ends, from the body itself; an HTTP/2 connection is shared by all.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{header, HeaderValue, Request, Response, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tower_service::Service;

use super::body::TeeBody;
use super::Config;
use crate::error::Error;

/// How long an idle HTTP/1 connection is kept for reuse.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle HTTP/1 connections kept per upstream; more are closed when their exchange ends.
const MAX_IDLE_PER_HOST: usize = 64;

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

/// The client triage forwards with (also used by the catalog fetch and `--probe-token`).
/// Cloning it is cheap and shares the pool.
#[derive(Clone)]
pub struct UpstreamClient {
    inner: Arc<Inner>,
}

struct Inner {
    connector: HttpsConnector<HttpConnector>,
    /// For the whole connect: DNS, TCP and the TLS handshake. The connector's own timeout
    /// covers TCP alone, and a TLS handshake that never completes would otherwise run into
    /// the (longer) response timeout and be reported as a slow response.
    connect_timeout: Duration,
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
    hosts: Mutex<Vec<Host>>,
}

/// The connections to one upstream (scheme and authority).
struct Host {
    scheme: Scheme,
    authority: Authority,
    /// What hyper-util would put in `Host` for an HTTP/1 request there: the host, and the port
    /// unless it is the scheme's default. Built once.
    host_header: Option<HeaderValue>,
    /// HTTP/1 connections between exchanges, the most recently used last.
    idle: Vec<(http1::SendRequest<TeeBody>, Instant)>,
    /// The one HTTP/2 connection, once ALPN chose HTTP/2 there.
    h2: Option<http2::SendRequest<TeeBody>>,
}

/// A failure of the client: connecting (DNS, TCP, TLS, handshake) or the exchange itself.
/// Displayed as hyper-util's client errors were, so messages and their classification in
/// [`super::problem`] read the same; the cause is the source.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client error (Connect)")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("client error (SendRequest)")]
    Send(#[source] hyper::Error),
    #[error("client error (UserAbsoluteUriRequired)")]
    NotAbsolute,
}

impl ClientError {
    /// Whether no connection could be made (as against one that failed during the exchange).
    pub fn is_connect(&self) -> bool {
        matches!(self, ClientError::Connect(_))
    }
}

/// A connection taken from the pool or just made, with what a send on it needs to know.
enum Conn {
    H1 {
        tx: http1::SendRequest<TeeBody>,
        /// Reused connections may have been closed by the upstream meanwhile: a request they
        /// hand back unsent is tried again.
        reused: bool,
    },
    H2 {
        tx: http2::SendRequest<TeeBody>,
        reused: bool,
    },
}

impl UpstreamClient {
    /// Sends `req` (an absolute URI) and returns the response head; the body streams after.
    pub async fn request(
        &self,
        mut req: Request<TeeBody>,
    ) -> Result<Response<UpstreamBody>, ClientError> {
        let (slot, host) = {
            let uri = req.uri();
            let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
                return Err(ClientError::NotAbsolute);
            };
            self.inner.slot(scheme, authority)
        };
        loop {
            let conn = match self.inner.checkout(slot) {
                Some(c) => c,
                None => self.connect(slot).await?,
            };
            match conn {
                Conn::H2 { mut tx, reused } => {
                    return match tx.try_send_request(req).await {
                        Ok(resp) => Ok(resp.map(|b| UpstreamBody::new(b, None))),
                        Err(mut e) => match e.take_message() {
                            // The shared connection closed before the request went out.
                            Some(r) if reused => {
                                req = r;
                                self.inner.forget_closed_h2(slot);
                                continue;
                            }
                            _ => Err(ClientError::Send(e.into_error())),
                        },
                    };
                }
                Conn::H1 { mut tx, reused } => {
                    if let Err(e) = tx.ready().await {
                        // A fresh connection that is closed already is a failure, not a loop.
                        if reused {
                            continue;
                        }
                        return Err(ClientError::Send(e));
                    }
                    // Kept for a retry, which may go out on HTTP/2.
                    let origin = origin_form(req.uri());
                    let absolute = std::mem::replace(req.uri_mut(), origin);
                    if let Some(h) = &host {
                        if !req.headers().contains_key(header::HOST) {
                            req.headers_mut().insert(header::HOST, h.clone());
                        }
                    }
                    match tx.try_send_request(req).await {
                        Ok(resp) => {
                            let (parts, body) = resp.into_parts();
                            // After an HTTP/1.0 answer hyper speaks HTTP/1.0 on the connection,
                            // where a body of unknown length cannot be sent and is dropped
                            // unsent: such a connection is closed after its response, not reused.
                            let release = (parts.version == Version::HTTP_11).then(|| Release {
                                tx,
                                inner: self.inner.clone(),
                                slot,
                            });
                            return Ok(Response::from_parts(
                                parts,
                                UpstreamBody::new(body, release),
                            ));
                        }
                        Err(mut e) => match e.take_message() {
                            Some(mut r) if reused => {
                                *r.uri_mut() = absolute;
                                req = r;
                                continue;
                            }
                            _ => return Err(ClientError::Send(e.into_error())),
                        },
                    }
                }
            }
        }
    }

    /// A new connection to the host in `slot`, HTTP/2 if ALPN says so. Its driving task is
    /// spawned; an HTTP/2 one is shared from then on.
    async fn connect(&self, slot: usize) -> Result<Conn, ClientError> {
        let dst = {
            let hosts = self.inner.lock();
            let h = &hosts[slot];
            let mut parts = http::uri::Parts::default();
            parts.scheme = Some(h.scheme.clone());
            parts.authority = Some(h.authority.clone());
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            Uri::from_parts(parts).map_err(|e| ClientError::Connect(e.into()))?
        };
        let mut connector = self.inner.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(ClientError::Connect)?;
        let io = match tokio::time::timeout(self.inner.connect_timeout, connector.call(dst)).await {
            Ok(io) => io.map_err(ClientError::Connect)?,
            Err(_) => {
                return Err(ClientError::Connect(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "connect (TCP and TLS handshake) timed out after {:?}",
                        self.inner.connect_timeout
                    ),
                ))))
            }
        };
        if io.connected().is_negotiated_h2() {
            let (tx, conn) = self
                .inner
                .h2
                .handshake(io)
                .await
                .map_err(|e| ClientError::Connect(e.into()))?;
            drive(conn);
            self.inner.lock()[slot].h2 = Some(tx.clone());
            Ok(Conn::H2 { tx, reused: false })
        } else {
            let (tx, conn) = self
                .inner
                .h1
                .handshake(io)
                .await
                .map_err(|e| ClientError::Connect(e.into()))?;
            drive(conn);
            Ok(Conn::H1 { tx, reused: false })
        }
    }
}

/// Runs a connection's I/O in a task of its own until the connection ends.
fn drive<F>(conn: F)
where
    F: std::future::Future<Output = hyper::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection ended with an error");
        }
    });
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Vec<Host>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index of the host `scheme://authority` (added on first use) and its HTTP/1 `Host`.
    /// Upstreams are one or two, so a scan beats hashing the key.
    fn slot(&self, scheme: &Scheme, authority: &Authority) -> (usize, Option<HeaderValue>) {
        let mut hosts = self.lock();
        if let Some(i) = hosts
            .iter()
            .position(|h| h.authority == *authority && h.scheme == *scheme)
        {
            return (i, hosts[i].host_header.clone());
        }
        hosts.push(Host {
            scheme: scheme.clone(),
            authority: authority.clone(),
            host_header: host_header(scheme, authority),
            idle: Vec::new(),
            h2: None,
        });
        let i = hosts.len() - 1;
        (i, hosts[i].host_header.clone())
    }

    /// A connection to reuse, if one is open: the shared HTTP/2 one, else the most recently
    /// idled HTTP/1 one that is ready. Closed and expired ones are dropped on the way; one still
    /// sending its last request body (the upstream answered before reading it all) stays for
    /// later, so that no exchange waits behind another's upload.
    fn checkout(&self, slot: usize) -> Option<Conn> {
        let mut hosts = self.lock();
        let host = &mut hosts[slot];
        if let Some(tx) = &host.h2 {
            if !tx.is_closed() {
                return Some(Conn::H2 {
                    tx: tx.clone(),
                    reused: true,
                });
            }
            host.h2 = None;
        }
        let now = Instant::now();
        let idle = &mut host.idle;
        let mut i = idle.len();
        while i > 0 {
            i -= 1;
            let (tx, since) = &idle[i];
            if now.saturating_duration_since(*since) > IDLE_TIMEOUT {
                // Those before it idled longer still.
                idle.drain(..=i);
                break;
            }
            if tx.is_closed() {
                idle.remove(i);
            } else if tx.is_ready() {
                let (tx, _) = idle.remove(i);
                return Some(Conn::H1 { tx, reused: true });
            }
        }
        None
    }

    /// Drops the shared HTTP/2 connection once it is closed (another exchange may have
    /// replaced it with a new one already).
    fn forget_closed_h2(&self, slot: usize) {
        let mut hosts = self.lock();
        let h2 = &mut hosts[slot].h2;
        if h2.as_ref().is_some_and(|cur| cur.is_closed()) {
            *h2 = None;
        }
    }

    fn put(&self, slot: usize, tx: http1::SendRequest<TeeBody>) {
        let mut hosts = self.lock();
        let idle = &mut hosts[slot].idle;
        if idle.len() < MAX_IDLE_PER_HOST && !tx.is_closed() {
            idle.push((tx, Instant::now()));
        }
    }
}

/// hyper-util's `Host` value: the host, with the port as written unless it is the scheme's
/// default.
fn host_header(scheme: &Scheme, authority: &Authority) -> Option<HeaderValue> {
    let default = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    let value = match authority.port() {
        Some(p) if p.as_u16() != default => format!("{}:{}", authority.host(), p.as_str()),
        _ => authority.host().to_owned(),
    };
    HeaderValue::from_str(&value).ok()
}

/// `/path?query` of an absolute URI, as an HTTP/1 request line carries it.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) if pq.as_str() != "/" => {
            let mut parts = http::uri::Parts::default();
            parts.path_and_query = Some(pq.clone());
            Uri::from_parts(parts).unwrap_or_default()
        }
        _ => Uri::default(),
    }
}

/// Hands an HTTP/1 connection back to its host's idle stack.
struct Release {
    tx: http1::SendRequest<TeeBody>,
    inner: Arc<Inner>,
    slot: usize,
}

impl Release {
    fn release(self) {
        self.inner.put(self.slot, self.tx);
    }
}

/// An upstream response body. For HTTP/1 it holds its connection, and gives it back to the
/// pool the moment the body ends; a body dropped before its end closes the connection
/// instead (hyper cannot reuse it with a response half read).
pub struct UpstreamBody {
    inner: Incoming,
    release: Option<Release>,
}

impl UpstreamBody {
    fn new(inner: Incoming, release: Option<Release>) -> Self {
        let mut body = UpstreamBody { inner, release };
        // HEAD, 204, 304 and empty bodies are over before anyone polls them.
        if body.inner.is_end_stream() {
            body.done();
        }
        body
    }

    fn done(&mut self) {
        if let Some(r) = self.release.take() {
            r.release();
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_frame(cx));
        match &frame {
            None => self.done(),
            Some(Ok(_)) if self.inner.is_end_stream() => self.done(),
            // A broken body leaves a broken connection: it is not given back.
            Some(Err(_)) => self.release = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
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

    let mut h1 = http1::Builder::new();
    // hyper grows a connection's read buffer up to this while a body streams fast; its
    // default (~400 KiB) times the streams in flight is most of a proxy's memory. 64 KiB
    // reads keep a download at full speed and still hold any real response head.
    h1.max_buf_size(UPSTREAM_READ_BUFFER);
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    // The same bound on a response head as over HTTP/1 (hyper's HTTP/2 default is 16 KiB, and a
    // head over it failed as a reset stream, reported as the upstream closing the connection).
    h2.max_header_list_size(UPSTREAM_READ_BUFFER as u32);
    h2.timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_while_idle(false);

    Ok(UpstreamClient {
        inner: Arc::new(Inner {
            connector: https,
            connect_timeout: cfg.connect_timeout,
            h1,
            h2,
            hosts: Mutex::new(Vec::new()),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> Option<String> {
        let uri: Uri = url.parse().expect("valid URL");
        host_header(uri.scheme().unwrap(), uri.authority().unwrap())
            .map(|v| v.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn the_host_header_is_what_hyper_util_wrote() {
        assert_eq!(host("http://mock.local").as_deref(), Some("mock.local"));
        assert_eq!(host("http://mock.local:80/").as_deref(), Some("mock.local"));
        assert_eq!(
            host("http://127.0.0.1:8080/gw").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(host("http://[::1]:9000").as_deref(), Some("[::1]:9000"));
        assert_eq!(
            host("https://api.mypurecloud.ie").as_deref(),
            Some("api.mypurecloud.ie")
        );
        assert_eq!(
            host("https://gw.example:443").as_deref(),
            Some("gw.example")
        );
        assert_eq!(
            host("https://gw.example:8443").as_deref(),
            Some("gw.example:8443")
        );
    }

    #[test]
    fn http1_requests_carry_the_origin_form() {
        let u: Uri = "http://h:1/api/v2/x?a=%2F".parse().unwrap();
        assert_eq!(origin_form(&u).to_string(), "/api/v2/x?a=%2F");
        let u: Uri = "http://h:1".parse().unwrap();
        assert_eq!(origin_form(&u).to_string(), "/");
    }
}

//! Listening: HTTP/1.1 and HTTP/2 (prior knowledge on plain TCP, ALPN under TLS), a bound on
//! open connections, and graceful shutdown that lets in-flight exchanges finish.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::conns::{Activity, Conns, Ended};
use super::forward::{self, Shared};
use super::{upstream, Config, ServerTls};
use crate::error::Error;
use crate::inspect::Inspector;

/// How long, once the shutdown grace is over, connections get to write the 503 of exchanges
/// still waiting for their upstream before every connection left is closed.
const CUT_ANSWER_TIME: Duration = Duration::from_millis(250);

/// A bound, not yet serving, proxy.
pub struct Proxy {
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
}

impl Proxy {
    /// Binds the listener and prepares the upstream client. Refuses a non-loopback address
    /// unless `allow_remote` is set: a diagnostic proxy carries bearer tokens.
    pub async fn bind(cfg: Config, inspector: Arc<dyn Inspector>) -> Result<Proxy, Error> {
        if !cfg.listen.ip().is_loopback() && !cfg.allow_remote {
            return Err(Error::Config(format!(
                "refusing to listen on {}: it is not a loopback address, and anyone who can reach it could use your tokens through triage. Pass --allow-remote to do it anyway.",
                cfg.listen
            )));
        }
        let tls = cfg.tls.as_ref().map(server_tls).transpose()?;
        let client = upstream::build(&cfg)?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: cfg.listen.to_string(),
                source,
            })?;
        let local = listener.local_addr()?;
        Ok(Proxy {
            listener,
            shared: Arc::new(Shared::new(cfg, client, inspector, local)),
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    pub fn config(&self) -> &Config {
        &self.shared.cfg
    }

    /// Serves until `shutdown` completes, then stops accepting and waits (up to the grace
    /// period) for open exchanges to finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let Proxy {
            listener,
            shared,
            tls,
        } = self;
        let cfg = &shared.cfg;
        let conns = Conns::new(cfg.head_timeout);
        let ticker = conns.ticker();
        let slots = Arc::new(Semaphore::new(cfg.max_connections));

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            // The head timeout is kept by `conns`, at a fraction of the cost of hyper's timer.
            .header_read_timeout(None)
            .max_headers(200)
            .max_buf_size(512 * 1024);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(512 * 1024)
            .max_concurrent_streams(256)
            .keep_alive_interval(Duration::from_secs(30));
        let builder = Arc::new(builder);

        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("semaphore is never closed"),
                _ = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, don't spin or die.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let activity = Arc::new(Activity::default());
            let service = {
                let shared = shared.clone();
                let activity = activity.clone();
                service_fn(move |req: Request<Incoming>| {
                    let http1 = req.version() <= http::Version::HTTP_11;
                    let busy = activity.begin(req.version());
                    let shared = shared.clone();
                    // The exchange's future is made inside this one, in place: made outside
                    // and moved in, its few kilobytes cost ~10 000 instructions of copying.
                    async move {
                        let mut resp = forward::handle(&shared, req).await?;
                        // Once shutdown began, hyper closes an HTTP/1 connection after this
                        // response; saying so spares the client a reused connection that is
                        // gone. (HTTP/2 has its GOAWAY.)
                        if http1 && shared.stopping.load(std::sync::atomic::Ordering::Relaxed) {
                            resp.headers_mut().insert(
                                http::header::CONNECTION,
                                http::HeaderValue::from_static("close"),
                            );
                        }
                        Ok::<_, Infallible>(resp.map(|b| b.holding(busy)))
                    }
                })
            };
            let builder = builder.clone();
            let conns = conns.clone();
            match &tls {
                None => {
                    let served = conns.serve(
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .into_owned(),
                        activity,
                    );
                    tokio::spawn(async move {
                        report(peer, served.await);
                        drop(permit);
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let port = shared.local_addr.port();
                    tokio::spawn(async move {
                        let hs = tokio::time::timeout(Duration::from_secs(10), async {
                            match plain_http(&stream).await {
                                Some(method) => {
                                    answer_plain_http(stream, port).await;
                                    Err(method)
                                }
                                None => Ok(acceptor.accept(stream).await),
                            }
                        })
                        .await;
                        let stream = match hs {
                            Ok(Ok(Ok(s))) => s,
                            Ok(Err(method)) => {
                                tracing::info!(%peer, %method, "plain HTTP request on the --tls port: answered 400, use https://");
                                return;
                            }
                            Ok(Ok(Err(e))) => {
                                tracing::info!(%peer, error = %e, "TLS handshake with client failed");
                                return;
                            }
                            Err(_) => {
                                tracing::info!(%peer, "TLS handshake with client timed out");
                                return;
                            }
                        };
                        let served = conns.serve(
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .into_owned(),
                            activity,
                        );
                        report(peer, served.await);
                        drop(permit);
                    });
                }
            }
        }
        drop(listener);
        let open = conns.open();
        if open > 0 {
            tracing::info!(
                open,
                "shutting down: waiting for open connections to finish"
            );
        }
        shared
            .stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        conns.drain();
        if tokio::time::timeout(cfg.shutdown_grace, conns.all_closed())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?cfg.shutdown_grace, "shutdown grace period over; answering 503 to exchanges still waiting for the upstream, closing the others");
            shared.cut.store(true, std::sync::atomic::Ordering::Relaxed);
            shared.cut_notify.notify_waiters();
            conns.cut();
            // Writing a short 503 takes a moment; a connection that closes on its own ends
            // this early.
            let _ = tokio::time::timeout(CUT_ANSWER_TIME, conns.all_closed()).await;
            conns.force();
            // Each connection's task closes it on its next poll, which the force just woke.
            let _ = tokio::time::timeout(Duration::from_secs(1), conns.all_closed()).await;
        }
        ticker.abort();
        Ok(())
    }

    /// Serves in the background; for tests and for commands that run the proxy beside
    /// something else (`triage demo`). Dropping or triggering the handle shuts it down.
    pub fn spawn(self) -> ProxyHandle {
        let addr = self.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(async move {
            let _ = rx.await;
        }));
        ProxyHandle {
            addr,
            stop: Some(tx),
            task,
        }
    }
}

/// The method of a plain HTTP request sent to the TLS port, if that is what the first bytes
/// are; `None` for a TLS handshake (its first byte is 0x16, a handshake record) and anything
/// else, which the TLS acceptor then refuses in its own words. One peek: the bytes stay for
/// the acceptor.
async fn plain_http(stream: &tokio::net::TcpStream) -> Option<String> {
    let mut buf = [0u8; 8];
    let n = stream.peek(&mut buf).await.ok()?;
    let first = buf[..n].first()?;
    if *first == 0x16 || !first.is_ascii_uppercase() {
        return None;
    }
    // A method is a token of letters; the first peek may hold only part of it.
    let method: String = buf[..n]
        .iter()
        .take_while(|b| b.is_ascii_uppercase())
        .map(|&b| char::from(b))
        .collect();
    let whole = buf[..n].get(method.len()).is_none_or(|&b| b == b' ');
    whole.then_some(method)
}

/// Answers a plain HTTP request on the TLS port the way Go's net/http and nginx do: a short
/// 400 saying to use https://, then close. Without it the client saw an empty reply or a
/// reset, and nothing said that only the scheme was wrong.
async fn answer_plain_http(mut stream: tokio::net::TcpStream, port: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = format!(
        "Client sent an HTTP request to an HTTPS port: triage listens with --tls on port \
         {port}, so use https:// (or start triage without --tls for plain http).\n"
    );
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    if stream
        .write_all(format!("{head}{body}").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let _ = stream.shutdown().await;
    // Closed with the request still unread, the socket would send a reset, and the client
    // could lose the answer before reading it: read what it sent until it closes (bounded).
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut left: usize = 64 * 1024;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// Logs how a client connection ended, when that is worth a line.
fn report(peer: SocketAddr, ended: Ended<Result<(), Box<dyn std::error::Error + Send + Sync>>>) {
    match ended {
        Ended::Done(Ok(())) | Ended::Drained => {}
        Ended::Done(Err(e)) => match e.downcast_ref::<hyper::Error>() {
            // hyper answered a request head it could not parse itself (414, 431, 400) before
            // triage saw an exchange: without this line the client's error would be nowhere
            // in triage's log, and look like the API's.
            Some(h) if h.is_parse_too_large() => tracing::warn!(
                %peer, error = %e,
                "refused a request whose head is over triage's limits (answered 431 or 414 with no body, before any exchange; Genesys Cloud takes far smaller heads)"
            ),
            Some(h) if h.is_parse() => tracing::warn!(
                %peer, error = %e,
                "refused a request that is not valid HTTP (answered 400 with no body, before any exchange)"
            ),
            _ => tracing::debug!(%peer, error = %e, "connection ended with an error"),
        },
        Ended::Quiet => {
            tracing::debug!(%peer, "closed a connection that sent no complete request head in time")
        }
        Ended::Forced => {
            tracing::debug!(%peer, "closed a connection still open when the shutdown grace ran out")
        }
    }
}

/// A proxy serving in the background.
pub struct ProxyHandle {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl ProxyHandle {
    /// Stops accepting, lets open exchanges finish, and waits for that.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| Error::Config(format!("proxy task failed: {e}")))?
    }
}

fn server_tls(t: &ServerTls) -> Result<TlsAcceptor, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| {
            Error::Tls(format!(
                "{}: {e} (run `triage certs` to create it)",
                t.cert.display()
            ))
        })?;
    let key = PrivateKeyDer::from_pem_file(&t.key).map_err(|e| {
        Error::Tls(format!(
            "{}: {e} (run `triage certs` to create it)",
            t.key.display()
        ))
    })?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(upstream::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(format!("{}: {e}", t.cert.display())))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

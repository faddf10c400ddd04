//! Serving the simulator: HTTP/1.1 and HTTP/2 (prior knowledge) on one plain TCP listener, for
//! both faces of a region (`/oauth/*` and `/api/*`), with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::routes::{self, SimRequest};
use super::scenario::Scenario;
use super::state::World;
use crate::error::Error;

/// Largest request body the simulator reads; the real API's limits are far above anything the
/// simulated operations need.
const MAX_BODY: usize = 1024 * 1024;

/// A bound, not yet serving, simulator.
pub struct Simulator {
    listener: TcpListener,
    world: Arc<Mutex<World>>,
    addr: SocketAddr,
}

impl Simulator {
    pub async fn bind(addr: SocketAddr, scenario: &Scenario) -> Result<Simulator, Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Listen {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr()?;
        Ok(Simulator {
            listener,
            world: Arc::new(Mutex::new(World::new(scenario))),
            addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then lets open connections finish (briefly: every
    /// simulated answer is immediate).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let Simulator {
            listener, world, ..
        } = self;
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30));
        let builder = Arc::new(builder);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "simulator accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let world = world.clone();
            let service = service_fn(move |req| answer(world.clone(), req));
            let watcher = graceful.watcher();
            let builder = builder.clone();
            tokio::spawn(async move {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                if let Err(e) = watcher.watch(conn.into_owned()).await {
                    tracing::debug!(%peer, error = %e, "simulator connection ended with an error");
                }
            });
        }
        drop(listener);
        let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
        Ok(())
    }

    /// Serves in the background (for `triage demo` and tests).
    pub fn spawn(self) -> SimHandle {
        let addr = self.addr;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(async move {
            let _ = rx.await;
        }));
        SimHandle {
            addr,
            stop: Some(tx),
            task,
        }
    }
}

/// A simulator serving in the background.
pub struct SimHandle {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, the base URL for both faces.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open connections finish, and waits for that.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| Error::Config(format!("simulator task failed: {e}")))?
    }
}

async fn answer(
    world: Arc<Mutex<World>>,
    req: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::debug!(error = %e, "simulator could not read a request body");
            Bytes::new()
        }
    };
    let sim_req = SimRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    };
    // The world's lock is taken and released inside `handle`, with no await in between.
    let resp = routes::handle(&world, &sim_req);
    match created(&sim_req, &resp) {
        Some(ids) => {
            tracing::info!(method = %sim_req.method, path = %sim_req.path, status = resp.status.as_u16(), created = %ids, "simulated")
        }
        None => {
            tracing::info!(method = %sim_req.method, path = %sim_req.path, status = resp.status.as_u16(), "simulated")
        }
    }
    let mut out = http::Response::new(Full::new(resp.body));
    *out.status_mut() = resp.status;
    for (name, value) in resp.headers {
        out.headers_mut().append(name, value);
    }
    Ok(out)
}

/// The ids a successful POST made (a sent message, an agentless send's message and new
/// conversation), for the log line: a reproduction's next call or `triage explain` needs them,
/// and without this they were only in the response body the client may not print.
fn created(req: &SimRequest, resp: &routes::SimResponse) -> Option<String> {
    if req.method != http::Method::POST || !resp.status.is_success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    let mut ids = Vec::new();
    if let Some(id) = v.get("id").and_then(|i| i.as_str()) {
        ids.push(format!("message {id}"));
    }
    if let Some(c) = v.get("conversationId").and_then(|i| i.as_str()) {
        ids.push(format!("conversation {c}"));
    }
    (!ids.is_empty()).then(|| ids.join(", "))
}

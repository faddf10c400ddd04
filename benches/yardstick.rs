//! The yardstick for benches/compare.sh (`cargo run --release --example bench-yardstick --
//! LISTEN UPSTREAM`): the least a hyper-based reverse proxy costs on this machine, built the
//! straightforward way: hyper 1 + hyper-util, the same server as triage (auto HTTP/1.1+HTTP/2),
//! hyper-util's pooled legacy client, a multi-thread tokio runtime with default settings; it
//! rewrites the URI to a fixed upstream, drops hop-by-hop headers and streams both bodies. No
//! inspection, no logging, no timeouts. (triage has had its own, cheaper pool since
//! 2026-11-22; docs/benchmarks.md says what that is worth.)

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:18002".into())
        .parse()
        .expect("listen address");
    let upstream: http::uri::Authority = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:18001".into())
        .parse()
        .expect("upstream host:port");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    let listener = TcpListener::bind(listen).await.expect("bind");
    eprintln!(
        "bench-yardstick on http://{} -> http://{upstream}",
        listener.local_addr().unwrap()
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (client, upstream) = (client.clone(), upstream.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |mut req: Request<Incoming>| {
                let (client, upstream) = (client.clone(), upstream.clone());
                async move {
                    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
                    let uri = Uri::builder()
                        .scheme("http")
                        .authority(upstream.clone())
                        .path_and_query(pq)
                        .build()
                        .unwrap();
                    *req.uri_mut() = uri;
                    *req.version_mut() = http::Version::HTTP_11;
                    for h in [
                        header::CONNECTION,
                        header::TE,
                        header::TRAILER,
                        header::TRANSFER_ENCODING,
                        header::UPGRADE,
                    ] {
                        req.headers_mut().remove(h);
                    }
                    req.headers_mut().insert(
                        header::HOST,
                        HeaderValue::from_str(upstream.as_str()).unwrap(),
                    );
                    let r = match client.request(req).await {
                        Ok(resp) => {
                            let (mut parts, body) = resp.into_parts();
                            for h in [header::CONNECTION, header::TRANSFER_ENCODING] {
                                parts.headers.remove(h);
                            }
                            Response::from_parts(parts, body.boxed())
                        }
                        Err(_) => Response::builder()
                            .status(StatusCode::BAD_GATEWAY)
                            .body(
                                Full::new(Bytes::new())
                                    .map_err(|e: Infallible| match e {})
                                    .boxed(),
                            )
                            .unwrap(),
                    };
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

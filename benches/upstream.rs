//! Benchmark upstream (`cargo run --release --example bench-upstream -- 127.0.0.1:PORT`): a
//! plain hyper HTTP/1.1 server with canned Genesys-like answers, used by benches/compare.sh.
//!
//! Routes by the last path segment (`/api/v2/bench/small` is `small`):
//! - `GET /small`: 200 JSON, about 300 bytes.
//! - `* /conflict`: 409 JSON ErrorBody with `ININ-Correlation-Id` (request body read and dropped).
//! - `* /conflict-gz`: the same, gzip-encoded, `Content-Encoding: gzip`.
//! - `GET /stream20m`: 20 MiB in 64 KiB chunks, `Transfer-Encoding: chunked`.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, Infallible>;

const SMALL: &str = r#"{"id":"5f1c2a3e-8b4d-4c6e-9f0a-1b2c3d4e5f60","name":"Bench Queue","description":"A queue used by the triage benchmark","dateCreated":"2026-01-01T00:00:00.000Z","memberCount":12,"joinedMemberCount":7,"mediaSettings":{"message":{"alertingTimeoutSeconds":30}},"selfUri":"/api/v2/routing/queues/5f1c2a3e-8b4d-4c6e-9f0a-1b2c3d4e5f60"}"#;
const CONFLICT: &str = r#"{"message":"The request conflicts with the current state of the target resource.","code":"request.conflict","status":409,"contextId":"0b5f7e3a-6c1d-4e2f-9a8b-7c6d5e4f3a2b","details":[],"errors":[]}"#;
const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 320; // 20 MiB

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn json(status: StatusCode, body: Body, gzip: bool) -> Response<Body> {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(
            "inin-correlation-id",
            "0b5f7e3a-6c1d-4e2f-9a8b-7c6d5e4f3a2b",
        );
    if gzip {
        r = r.header("content-encoding", "gzip");
    }
    r.body(body).unwrap()
}

#[tokio::main]
async fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18001".into())
        .parse()
        .expect("listen address");
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(CONFLICT.as_bytes()).unwrap();
        Bytes::from(e.finish().unwrap())
    };
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let listener = TcpListener::bind(addr).await.expect("bind");
    eprintln!(
        "bench-upstream on http://{}",
        listener.local_addr().unwrap()
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (gz, chunk) = (gz.clone(), chunk.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let (gz, chunk) = (gz.clone(), chunk.clone());
                async move {
                    // Routed by the last path segment, so /api/v2/bench/small is /small.
                    let path = req.uri().path().rsplit('/').next().unwrap_or("").to_owned();
                    // Read (and drop) any request body so the connection stays reusable.
                    let _ = req.into_body().collect().await;
                    let r = match path.as_str() {
                        "small" => json(StatusCode::OK, full(SMALL), false),
                        "conflict" => json(StatusCode::CONFLICT, full(CONFLICT), false),
                        "conflict-gz" => json(StatusCode::CONFLICT, full(gz), true),
                        "stream20m" => {
                            let s = stream::iter(
                                (0..CHUNKS)
                                    .map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone()))),
                            );
                            Response::builder()
                                .header("content-type", "application/octet-stream")
                                .body(StreamBody::new(s).boxed())
                                .unwrap()
                        }
                        _ => json(StatusCode::NOT_FOUND, full(r#"{"status":404}"#), false),
                    };
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

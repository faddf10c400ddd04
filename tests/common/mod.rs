//! Test support: an in-process fake upstream, a proxy in front of it, and a raw-socket client
//! for byte-exact assertions. Everything binds `127.0.0.1:0`.
#![allow(dead_code)]

pub mod fuzz;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use triage::inspect::{Inspector, NoInspector};
use triage::proxy::{Config, Proxy, UpstreamUrl};

pub type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

/// What the fake upstream received, for asserting that the proxy changed nothing.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub uri: String,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fake upstream serving `handler` (HTTP/1.1 and HTTP/2). Request bodies are read whole
/// before the handler runs, and recorded.
pub async fn upstream<F, Fut>(handler: F) -> Upstream
where
    F: Fn(Seen) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    let seen = seen.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let s = Seen {
                            method: parts.method,
                            uri: parts.uri.to_string(),
                            version: parts.version,
                            headers: parts.headers,
                            body,
                        };
                        seen.lock().unwrap().push(s.clone());
                        Ok::<_, Infallible>(handler(s).await)
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Upstream { addr, seen, task }
}

/// A proxy config whose api and login upstreams are the given URLs.
pub fn config(api: &str, login: &str) -> Config {
    Config::new(
        "127.0.0.1:0".parse().unwrap(),
        UpstreamUrl::parse(api).unwrap(),
        UpstreamUrl::parse(login).unwrap(),
    )
}

pub async fn proxy(cfg: Config) -> triage::proxy::server::ProxyHandle {
    proxy_with(cfg, Arc::new(NoInspector)).await
}

pub async fn proxy_with(
    cfg: Config,
    inspector: Arc<dyn Inspector>,
) -> triage::proxy::server::ProxyHandle {
    Proxy::bind(cfg, inspector)
        .await
        .expect("proxy binds")
        .spawn()
}

/// Sends raw bytes and reads the whole answer (the request should carry `Connection: close`).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answer within 10s")
        .unwrap();
    out
}

/// Splits a raw HTTP/1.1 response into (status line + headers, body), body de-chunked if chunked.
pub fn split_response(raw: &[u8]) -> (String, Vec<u8>) {
    let pos = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..pos]).into_owned();
    let body = &raw[pos + 4..];
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        head,
        if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
    )
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_str = std::str::from_utf8(&b[..line_end]).unwrap();
        let size = usize::from_str_radix(size_str.split(';').next().unwrap().trim(), 16).unwrap();
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A reqwest client that never uses a system proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Asserts a header's value, with a readable message.
#[track_caller]
pub fn assert_header(headers: &http::HeaderMap, name: &str, expected: &str) {
    let got: Vec<_> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    assert!(
        got.len() == 1 && got[0] == expected,
        "header {name}:\n  expected: {expected:?}\n       got: {got:?}"
    );
}

#[track_caller]
pub fn assert_no_header(headers: &http::HeaderMap, name: &str) {
    assert!(
        headers.get(name).is_none(),
        "header {name} should be absent, got {:?}",
        headers.get(name)
    );
}

/// Captures JSON log lines for the current thread. Each test that uses it lives in a test
/// binary of its own: tracing caches per-callsite interest process-wide, and parallel tests
/// without a subscriber would race it.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Installs a JSON subscriber writing here for the current thread.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let w = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || w.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The JSON lines of one target.
    pub fn lines(&self, target: &str) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|j| j["target"] == target)
            .collect()
    }
}

/// Peak resident memory of this process so far (`VmHWM`), in bytes; `None` off Linux.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// A TLS acceptor with the localhost certificate `triage certs` wrote, offering `alpn`.
pub fn tls_acceptor(paths: &triage::certs::CertPaths, alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(&paths.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&paths.key).unwrap();
    let mut cfg =
        rustls::ServerConfig::builder_with_provider(triage::proxy::upstream::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// Runs the `triage` binary: (exit code, stdout, stderr).
pub fn run_triage(args: &[&str]) -> (i32, String, String) {
    run_triage_env(&[], args)
}

/// Runs the `triage` binary with its standard output a pipe whose reader is gone before it
/// writes (`triage … | head -c 0`): (exit status, standard error).
pub fn run_triage_reader_gone(args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the `triage` binary with extra environment variables: (exit code, stdout, stderr).
pub fn run_triage_env(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The proxy's pipeline with the built-in rules, a fresh memory and the built-in catalog.
pub fn diagnosing(annotate_body: bool) -> Arc<triage::diagnose::Pipeline> {
    let engine = Arc::new(triage::diagnose::Engine::new(
        triage::rules::RuleSet::builtin().expect("built-in rules load"),
    ));
    let options = triage::diagnose::PipelineOptions {
        annotate_body,
        ..Default::default()
    };
    Arc::new(triage::diagnose::Pipeline::new(engine, options))
}

/// Runs an SDK driver script (`tests/sdk/*`) set up in `cmd`, which must exit 0 within 120 s and
/// print one JSON object on stdout: that report. `what` names the script and step in failures.
pub async fn run_json_report(mut cmd: tokio::process::Command, what: &str) -> serde_json::Value {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what}: did not finish within 120s"))
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("{what} printed no JSON ({e}):\nstdout: {stdout}\nstderr: {stderr}")
    })
}

/// Says that a test is skipping, past the test harness's capture (which keeps `eprintln!` of a
/// passing test out of sight): a skipped test passes, and must not look as if it ran.
#[allow(dead_code)]
pub fn skip_note(msg: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "note: {test}: skipping: {msg}");
}

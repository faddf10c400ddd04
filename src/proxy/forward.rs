//! One exchange: refuse what triage must not forward, route by path to the api or login
//! upstream, keep the request and response byte-exact but for hop-by-hop headers, and — only
//! for responses the inspector wants — read a bounded body prefix before answering.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri, Version};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::body::{BodyOutcome, Capture, FinishGuard, Outcome, ProxyBody, TeeBody};
use super::problem::{self, ErrorKind, ProxyError};
use super::upstream::UpstreamClient;
use super::Config;
use crate::exchange::{self, BodyPrefix, Exchange, Inspection, Origin, Timings, UpstreamKind};
use crate::inspect::Inspector;
use crate::redact;

/// State shared by every connection of one proxy.
pub struct Shared {
    pub cfg: Config,
    pub client: UpstreamClient,
    pub inspector: Arc<dyn Inspector>,
    pub local_addr: SocketAddr,
    seq: AtomicU64,
    /// Set when shutdown begins: HTTP/1 responses then say `Connection: close`.
    pub(super) stopping: std::sync::atomic::AtomicBool,
    /// Set when the shutdown grace ran out: an exchange still waiting for its upstream answers
    /// 503, and exchanges dropped from then on were cut by triage, not left by their clients,
    /// and are logged so.
    pub(super) cut: std::sync::atomic::AtomicBool,
    /// Told at the cut, to wake the HTTP/2 streams still waiting for their upstream (each is a
    /// task of its own, which waking the connections does not reach).
    pub(super) cut_notify: tokio::sync::Notify,
}

impl Shared {
    pub fn new(
        cfg: Config,
        client: UpstreamClient,
        inspector: Arc<dyn Inspector>,
        local_addr: SocketAddr,
    ) -> Self {
        Shared {
            cfg,
            client,
            inspector,
            local_addr,
            seq: AtomicU64::new(0),
            stopping: std::sync::atomic::AtomicBool::new(false),
            cut: std::sync::atomic::AtomicBool::new(false),
            cut_notify: tokio::sync::Notify::new(),
        }
    }

    /// Whether an absolute-form authority names triage itself (then it is not a forward-proxy
    /// request, just a client that writes absolute URIs).
    fn is_self(&self, authority: &http::uri::Authority) -> bool {
        let port = authority.port_u16().unwrap_or(80);
        if port != self.local_addr.port() {
            return false;
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip == self.local_addr.ip())
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones addressed to triage itself. `Trailer` is
/// not one: it is end-to-end (RFC 9110 §6.6.2), and hyper sends trailers on only for the fields
/// it names. (RFC 2616's list had "Trailers", a typo for TE.)
static HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Whether `name` is in [`HOP_BY_HOP`], by its text: a `match` on a few short strings is a
/// length switch and one compare, where comparing `HeaderName`s walks the list.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authorization"
            | "te"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Drops the hop-by-hop headers; returns whether `TE` asked for trailers.
fn strip_hop_by_hop(headers: &mut HeaderMap) -> bool {
    // Most messages carry none: a scan of the names they have is cheaper than seven lookups.
    if !headers.keys().any(is_hop_by_hop) {
        return false;
    }
    let trailers = headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"));
    // Framed by Transfer-Encoding, a Content-Length beside it is stale: passed on alone it
    // would frame the message wrong and hang the client (RFC 9112 §6.3: remove it).
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
    // Headers named by Connection are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(n);
    }
    trailers
}

/// A transfer coding other than `chunked` (hyper undoes only that one), by its name. Transfer
/// codings are hop-by-hop: stripped with `Transfer-Encoding`, a `gzip` one would leave its
/// bytes unlabelled in the body.
fn foreign_transfer_coding(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        // Nearly every chunked response passes here: no allocation until one is refused.
        .find(|c| {
            !c.is_empty()
                && !c.eq_ignore_ascii_case(b"chunked")
                && !c.eq_ignore_ascii_case(b"identity")
        })
        .map(|c| String::from_utf8_lossy(c).to_ascii_lowercase())
}

/// An HTTP/2 client may send `Cookie` as several fields ("crumbs", for better compression);
/// before HTTP/1.1 they must be one field again, joined by "; " (RFC 9113 §8.2.3), or the
/// upstream reads only the first. One field is as good on HTTP/2.
fn join_cookie_crumbs(headers: &mut HeaderMap) {
    let mut crumbs = headers.get_all(header::COOKIE).iter();
    if crumbs.next().is_none() || crumbs.next().is_none() {
        return;
    }
    let mut joined = Vec::new();
    for (i, crumb) in headers.get_all(header::COOKIE).iter().enumerate() {
        if i > 0 {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(crumb.as_bytes());
    }
    // Valid crumbs joined by "; " are a valid value.
    if let Ok(v) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, v);
    }
}

fn upstream_uri(
    up: &super::UpstreamUrl,
    pq: Option<&http::uri::PathAndQuery>,
) -> Result<Uri, ProxyError> {
    let internal = |e: &dyn std::fmt::Display| {
        ProxyError::new(
            ErrorKind::ProxyInternalError,
            format!("building upstream URI: {e}"),
        )
    };
    // Without a prefix the client's path and query are reused as they are (a shared slice of
    // the request, not a copy parsed again).
    let pq = match (pq, up.prefix.is_empty()) {
        (Some(pq), true) => pq.clone(),
        // `OPTIONS *` asks about the server, not a path: no prefix applies.
        (Some(pq), false) if pq.as_str() == "*" => pq.clone(),
        (None, true) => http::uri::PathAndQuery::from_static("/"),
        (pq, false) => {
            let full = format!("{}{}", up.prefix, pq.map_or("/", |p| p.as_str()));
            http::uri::PathAndQuery::try_from(full).map_err(|e| internal(&e))?
        }
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(up.scheme.clone());
    parts.authority = Some(up.authority.clone());
    parts.path_and_query = Some(pq);
    Uri::from_parts(parts).map_err(|e| internal(&e))
}

/// What the log line of an exchange needs, kept cheaply until the body is done.
struct LogInfo {
    seq: u64,
    method: Method,
    uri: Uri,
    upstream: UpstreamKind,
    status: u16,
    upstream_ms: Option<u64>,
    correlation_id: Option<HeaderValue>,
    note: Option<&'static str>,
    /// triage's own answer, when it made one.
    error: Option<crate::inspect::Answered>,
    /// Ended by the shutdown grace (with triage's 503, when `error` is set).
    cut: bool,
}

fn emit(info: &LogInfo, outcome: BodyOutcome, total_ms: u64) {
    let path = redact::path_and_query(info.uri.path(), info.uri.query());
    let cid = info.correlation_id.as_ref().and_then(|v| v.to_str().ok());
    let upstream_ms = info.upstream_ms;
    // 0 until a response head is known: a client that left first has none.
    let status = (info.status != 0).then_some(info.status);
    let body = match outcome {
        BodyOutcome::Complete => "complete",
        BodyOutcome::Aborted => "client-gone",
        BodyOutcome::UpstreamError => "upstream-error",
        BodyOutcome::Cut => "cut-at-shutdown",
    };
    let method = info.method.as_str();
    let upstream = info.upstream.as_str();
    if let Some(a) = &info.error {
        let err = format!("{}: {}", a.error, a.detail);
        if outcome == BodyOutcome::Cut {
            // Every exchange the shutdown ended says so in `body`, answered or not.
            crate::log_line!(WARN, target: "triage::exchange", "triage answered", seq = info.seq,
                method = method, path = &*path, upstream = upstream, status = status, upstream_ms = upstream_ms,
                total_ms = total_ms, correlation_id = cid, error = &err, body = body);
        } else {
            crate::log_line!(WARN, target: "triage::exchange", "triage answered", seq = info.seq,
                method = method, path = &*path, upstream = upstream, status = status, upstream_ms = upstream_ms,
                total_ms = total_ms, correlation_id = cid, error = &err);
        }
    } else {
        crate::log_line!(INFO, target: "triage::exchange", "exchange", seq = info.seq,
            method = method, path = &*path, upstream = upstream, status = status, upstream_ms = upstream_ms,
            total_ms = total_ms, correlation_id = cid, body = body, inspect = info.note);
    }
}

fn is_triage_page(path: &str) -> bool {
    path == "/__triage" || path.starts_with("/__triage/")
}

/// Serves one request. Never fails: triage's own failures become responses here.
pub async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let (parts, body) = req.into_parts();

    if is_triage_page(parts.uri.path()) {
        // triage's own pages are answered here and never forwarded.
        let mut resp = shared
            .inspector
            .local(&parts)
            .unwrap_or_else(|| problem::not_a_page(parts.uri.path()));
        // Whatever answered (the dashboard, or nobody), triage's pages are never cached or
        // sniffed (docs/dashboard.md).
        let h = resp.headers_mut();
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        h.entry(header::X_CONTENT_TYPE_OPTIONS)
            .or_insert(HeaderValue::from_static("nosniff"));
        return Ok(resp.map(|b| ProxyBody::full(b, None)));
    }

    // Numbered after triage's own pages are told apart: the dashboard polls them every second,
    // and the numbers are the exchanges' (the log's, the recording's, the page's own links).
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let method = parts.method.clone();
    let uri = parts.uri.clone();
    // An HTTP/2 stream's waits are woken at the shutdown's cut by `Shared::cut_notify`.
    let woken = (parts.version == Version::HTTP_2).then_some(&shared.cut_notify);
    let kind = UpstreamKind::for_path(uri.path());
    let up = shared.cfg.upstream(kind);
    let mut pending = Abandon::new(
        shared,
        Pending {
            info: LogInfo {
                seq,
                method: method.clone(),
                uri: uri.clone(),
                upstream: kind,
                status: 0,
                upstream_ms: None,
                correlation_id: None,
                note: None,
                error: None,
                cut: false,
            },
            started,
            started_at,
            host: up.shared_host().clone(),
            base: Some(up.shared_base().clone()),
            headers: HeaderMap::new(),
            capture: None,
        },
    );

    // The target without any `user:password@`: it goes into the answer, the log and recordings.
    let target_authority = uri.authority().map(|a| match a.port() {
        Some(p) => format!("{}:{p}", a.host()),
        None => a.host().to_owned(),
    });
    let denied = if method == Method::CONNECT {
        Some("CONNECT is not supported: triage is a reverse proxy for the Genesys Cloud API, not an open proxy".to_owned())
    } else if parts.version <= Version::HTTP_11 {
        match (uri.authority(), &target_authority) {
            (Some(a), Some(t)) if !shared.is_self(a) => Some(format!(
                "absolute-form request for {t}: triage forwards only to its configured upstreams"
            )),
            _ => None,
        }
    } else {
        None
    };
    if let Some(detail) = denied {
        // A refused request is recorded as the client sent it: the target it asked for, with
        // its headers, not the upstream it never went to.
        let mut refused = pending.take();
        refused.headers = parts.headers;
        if let Some(t) = target_authority {
            refused.base = uri.scheme_str().map(|s| format!("{s}://{t}").into());
            refused.host = t.into();
        }
        return Ok(answer(
            shared,
            ProxyError::new(ErrorKind::HttpRequestDenied, detail),
            refused,
        ));
    }

    let target = match upstream_uri(up, uri.path_and_query()) {
        Ok(t) => t,
        Err(e) => return Ok(answer(shared, e, pending.take())),
    };

    let mut headers = parts.headers;
    if let Some(coding) = foreign_transfer_coding(&headers) {
        let detail = format!(
            "the request body has transfer coding {coding:?}, which triage does not decode; \
             forwarded without it, the upstream would read the coded bytes as the body"
        );
        pending.headers = headers;
        return Ok(answer(
            shared,
            ProxyError::new(ErrorKind::HttpRequestTransferCoding, detail),
            pending.take(),
        ));
    }
    if strip_hop_by_hop(&mut headers) {
        // triage relays trailers end to end, so it may ask the upstream for them on the
        // client's behalf: without this some servers never send them.
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    headers.remove(header::HOST);
    // hyper answered any `Expect: 100-continue` already; the upstream must not wait for it.
    headers.remove(header::EXPECT);
    if parts.version == Version::HTTP_2 {
        join_cookie_crumbs(&mut headers);
    }
    pending.headers = headers.clone();
    // hyper's HTTP/1 client sends a GET or HEAD body of unknown length (chunked, or HTTP/2
    // DATA without content-length) as no body at all, unless the request itself says chunked.
    if matches!(method, Method::GET | Method::HEAD)
        && !body.is_end_stream()
        && !headers.contains_key(header::CONTENT_LENGTH)
    {
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
    }

    let capture =
        (!body.is_end_stream()).then(|| Arc::new(Capture::new(shared.cfg.request_capture_limit)));
    pending.capture = capture.clone();
    let mut up_req = Request::new(TeeBody::new(body, capture.clone(), shared.cfg.idle_timeout));
    *up_req.method_mut() = method.clone();
    *up_req.uri_mut() = target;
    *up_req.headers_mut() = headers;

    let up_started = Instant::now();
    let request = shared.client.request(up_req);
    // One pinned request future whichever way it is awaited: this future is moved whole for
    // every exchange, so two copies of it in its states would cost a copy each time.
    tokio::pin!(request);
    let waited = unless_cut(&shared.cut, woken, async {
        // The response timeout counts from the end of the upload: a client that uploads slowly
        // is not the upstream's fault. A stalled upload is bounded by the body's idle timeout
        // instead.
        let early = match &capture {
            Some(c) => tokio::select! {
                biased;
                r = &mut request => Some(r),
                () = c.ended() => None,
            },
            None => None,
        };
        match early {
            Some(r) => Ok(r),
            None => tokio::time::timeout(shared.cfg.response_timeout, &mut request).await,
        }
    })
    .await;
    let Some(result) = waited else {
        return Ok(cut_short(shared, up, pending.take()));
    };
    let upstream_ms = up_started.elapsed().as_millis() as u64;
    pending.info.upstream_ms = Some(upstream_ms);

    let resp = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let err = if capture.as_ref().is_some_and(|c| c.client_error()) {
                ProxyError::new(ErrorKind::HttpRequestError, problem::chain(&e))
            } else {
                let kind = problem::classify(&e, e.is_connect());
                ProxyError::new(kind, format!("{}: {}", up, problem::chain(&e)))
            };
            return Ok(answer(
                shared,
                err.with_upstream(up.to_string()),
                pending.take(),
            ));
        }
        Err(_) => {
            let err = ProxyError::new(
                ErrorKind::HttpResponseTimeout,
                format!(
                    "no response head from {up} within {:?}",
                    shared.cfg.response_timeout
                ),
            )
            .with_upstream(up.to_string());
            return Ok(answer(shared, err, pending.take()));
        }
    };

    let (mut rparts, rbody) = resp.into_parts();
    // triage takes `Upgrade` off a request as the hop-by-hop header it is, so no upstream was
    // asked to switch; a 101 relayed without its `Upgrade` header is no valid response
    // (RFC 9110 §15.2.2), and the connection after it would carry nothing triage can speak.
    if rparts.status == http::StatusCode::SWITCHING_PROTOCOLS {
        let err = ProxyError::new(
            ErrorKind::HttpProtocolError,
            format!(
                "{up} answered 101 Switching Protocols, though triage does not forward an \
                 upgrade (WebSocket, h2c): triage relays HTTP requests and responses only"
            ),
        )
        .with_upstream(up.to_string());
        return Ok(answer(shared, err, pending.take()));
    }
    if let Some(coding) = foreign_transfer_coding(&rparts.headers) {
        let err = ProxyError::new(
            ErrorKind::HttpProtocolError,
            format!(
                "{up} sent the {} response body with transfer coding {coding:?}, which triage \
                 does not decode; passed on without it, the body would reach the client garbled",
                rparts.status
            ),
        )
        .with_upstream(up.to_string());
        return Ok(answer(shared, err, pending.take()));
    }
    strip_hop_by_hop(&mut rparts.headers);
    pending.info.status = rparts.status.as_u16();
    pending.info.correlation_id = rparts
        .headers
        .get(&crate::exchange::CORRELATION_ID)
        .cloned();

    if !shared
        .inspector
        .wants_body(&method, uri.path(), rparts.status)
    {
        let ex = pending.exchange(
            Some((
                rparts.status,
                rparts.version,
                rparts.headers.clone(),
                BodyPrefix::default(),
            )),
            Inspection::NotWanted,
        );
        let guard = finish_guard(shared, pending.take(), ex);
        let body = ProxyBody::stream(rbody, shared.cfg.idle_timeout, guard);
        // An intermediary speaks its own HTTP version (RFC 9110 §6.2); hyper would put an
        // HTTP/1.0 upstream's in the status line, and frame the body as HTTP/1.0 does.
        rparts.version = Version::HTTP_11;
        return Ok(Response::from_parts(rparts, body));
    }

    // The inspection point: read a bounded prefix before the response head goes out.
    let limit = shared.cfg.inspect_limit;
    let mut buf = BytesMut::new();
    let mut rest = Some(rbody);
    let mut trailers = None;
    let mut complete = false;
    while let Some(b) = rest.as_mut() {
        let Some(frame) = unless_cut(
            &shared.cut,
            woken,
            tokio::time::timeout(shared.cfg.idle_timeout, b.frame()),
        )
        .await
        else {
            return Ok(cut_short(shared, up, pending.take()));
        };
        match frame {
            Err(_) => {
                let err = ProxyError::new(
                    ErrorKind::HttpResponseTimeout,
                    format!(
                        "{up} sent the response head ({}) but its body stalled for {:?}",
                        rparts.status, shared.cfg.idle_timeout
                    ),
                )
                .with_upstream(up.to_string());
                return Ok(answer(shared, err, pending.take()));
            }
            Ok(None) => {
                complete = true;
                rest = None;
            }
            Ok(Some(Err(e))) => {
                let err = ProxyError::new(
                    ErrorKind::HttpResponseIncomplete,
                    format!(
                        "{up} broke off the {} response body: {}",
                        rparts.status,
                        problem::chain(&e)
                    ),
                )
                .with_upstream(up.to_string());
                return Ok(answer(shared, err, pending.take()));
            }
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    buf.extend_from_slice(&data);
                    if buf.len() > limit {
                        break;
                    }
                }
                Err(frame) => {
                    trailers = frame.into_trailers().ok();
                    complete = true;
                    rest = None;
                }
            },
        }
    }
    let raw = buf.freeze();

    let encoding = rparts
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (decoded, inspection) = if complete {
        match super::decode::decode_bytes(encoding, &raw, limit) {
            Some((bytes, true)) => (
                BodyPrefix {
                    bytes,
                    complete: true,
                    original_size: None,
                    unknown_why: None,
                },
                Inspection::Complete,
            ),
            // Small on the wire, over the limit once decoded: skipped like a large body.
            Some((bytes, false)) => {
                pending.info.note = Some("skipped: decoded body over --inspect-limit");
                tracing::info!(target: "triage::inspect", seq, limit, "response body over --inspect-limit once decoded; not inspected");
                (
                    BodyPrefix {
                        bytes,
                        complete: false,
                        original_size: None,
                        unknown_why: None,
                    },
                    Inspection::OverLimit,
                )
            }
            None => {
                pending.info.note = Some("undecodable content-encoding");
                (BodyPrefix::default(), Inspection::Undecodable)
            }
        }
    } else {
        pending.info.note = Some("skipped: body over --inspect-limit");
        tracing::info!(target: "triage::inspect", seq, limit, "response body over --inspect-limit; streamed uninspected");
        let prefix = match encoding {
            None => BodyPrefix {
                bytes: raw.slice(..limit.min(raw.len())),
                complete: false,
                original_size: None,
                unknown_why: None,
            },
            Some(_) => BodyPrefix::default(),
        };
        (prefix, Inspection::OverLimit)
    };

    let ex = pending.exchange(
        Some((
            rparts.status,
            rparts.version,
            rparts.headers.clone(),
            decoded,
        )),
        inspection,
    );
    let verdict = if inspection == Inspection::Complete {
        if let Some(ready) = shared.inspector.prepare(&ex) {
            // Bounded by the inspector; the shutdown's cut ends the wait sooner.
            unless_cut(&shared.cut, woken, ready).await;
        }
        shared.inspector.inspect(&ex)
    } else {
        Default::default()
    };
    for (name, value) in verdict.headers {
        rparts.headers.append(name, value);
    }
    let body_bytes = match verdict.body {
        Some(replacement) => {
            rparts.headers.remove(header::CONTENT_ENCODING);
            rparts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(replacement.len()));
            replacement
        }
        None => raw,
    };
    let guard = finish_guard(shared, pending.take(), ex);
    let body = ProxyBody::prefixed(body_bytes, rest, trailers, shared.cfg.idle_timeout, guard);
    // triage's own HTTP version, as above.
    rparts.version = Version::HTTP_11;
    Ok(Response::from_parts(rparts, body))
}

/// Awaits `f` unless the shutdown grace runs out first (`None` then). One relaxed load per
/// poll, of a flag no one writes until then. It registers no waker of its own: an HTTP/1
/// connection's task, which polls this exchange, is woken by `Conns::cut`. An HTTP/2 stream
/// runs in a task of its own that nothing else wakes at the cut: it passes `woken`
/// ([`Shared::cut_notify`]), and is woken by it.
async fn unless_cut<F: std::future::Future>(
    cut: &std::sync::atomic::AtomicBool,
    woken: Option<&tokio::sync::Notify>,
    f: F,
) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut notified = std::pin::pin!(woken.map(tokio::sync::Notify::notified));
    if let Some(n) = notified.as_mut().as_pin_mut() {
        // Registered before the flag is first read, so a cut between the two is not missed.
        n.enable();
    }
    std::future::poll_fn(|cx| {
        if cut.load(Ordering::Relaxed) {
            return std::task::Poll::Ready(None);
        }
        if let Some(n) = notified.as_mut().as_pin_mut() {
            // Only to be woken: the flag above says whether the cut came.
            let _ = std::future::Future::poll(n, cx);
        }
        f.as_mut().poll(cx).map(Some)
    })
    .await
}

/// triage's answer to an exchange that the shutdown grace cut before its response head went
/// out: a 503 that says so, recorded with the outcome `cut-at-shutdown`.
fn cut_short(
    shared: &Arc<Shared>,
    up: &super::UpstreamUrl,
    mut pending: Pending,
) -> Response<ProxyBody> {
    pending.info.cut = true;
    let err = ProxyError::new(
        ErrorKind::ShuttingDown,
        format!(
            "triage is shutting down: its shutdown grace ({:?}) ran out before {up} answered; \
             the request may have reached the API",
            shared.cfg.shutdown_grace
        ),
    )
    .with_upstream(up.to_string());
    answer(shared, err, pending)
}

/// A [`Pending`] exchange while triage waits on the upstream. When the client goes away then,
/// hyper drops the request's future; the drop still logs the exchange (`body="client-gone"`)
/// and hands it to the inspector, as a response body cut short does.
struct Abandon<'a> {
    shared: &'a Arc<Shared>,
    pending: Option<Pending>,
}

impl<'a> Abandon<'a> {
    fn new(shared: &'a Arc<Shared>, pending: Pending) -> Self {
        Abandon {
            shared,
            pending: Some(pending),
        }
    }

    /// The exchange, now in the hands of whoever answers.
    fn take(mut self) -> Pending {
        self.pending.take().expect("an exchange is taken once")
    }
}

impl std::ops::Deref for Abandon<'_> {
    type Target = Pending;

    fn deref(&self) -> &Pending {
        self.pending.as_ref().expect("present until taken")
    }
}

impl std::ops::DerefMut for Abandon<'_> {
    fn deref_mut(&mut self) -> &mut Pending {
        self.pending.as_mut().expect("present until taken")
    }
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if let Some(mut p) = self.pending.take() {
            let ex = p.exchange(None, Inspection::NotWanted);
            // A guard dropped before its body ran reports the client as gone.
            drop(finish_guard(self.shared, p, ex));
        }
    }
}

/// What an exchange has gathered before its response is known.
struct Pending {
    info: LogInfo,
    started: Instant,
    started_at: SystemTime,
    host: Arc<str>,
    /// `None` for a target that is no URL (`CONNECT host:port`).
    base: Option<Arc<str>>,
    headers: HeaderMap,
    capture: Option<Arc<Capture>>,
}

impl Pending {
    fn exchange(
        &mut self,
        response: Option<(http::StatusCode, http::Version, HeaderMap, BodyPrefix)>,
        inspection: Inspection,
    ) -> Exchange {
        let body = match &self.capture {
            None => BodyPrefix::complete(Bytes::new()),
            Some(c) => {
                let (bytes, complete) = c.snapshot();
                request_body(&self.headers, bytes, complete, c.limit())
            }
        };
        Exchange {
            seq: self.info.seq,
            origin: Origin::Live,
            started_at: self.started_at,
            request: exchange::Request {
                method: self.info.method.clone(),
                path: self.info.uri.path().to_owned(),
                query: self.info.uri.query().map(str::to_owned),
                headers: std::mem::take(&mut self.headers),
                body,
                upstream: self.info.upstream,
                host: Some(self.host.clone()),
                base_url: self.base.clone(),
                shown: crate::exchange::Shown::All,
            },
            response: response.map(|(status, version, headers, body)| exchange::Response {
                status,
                version: Some(version),
                headers,
                body,
                headers_shown: true,
            }),
            timings: Timings {
                upstream_ms: self.info.upstream_ms,
                total_ms: None,
            },
            inspection,
            outcome: None,
        }
    }
}

/// A request body as the exchange keeps it: decoded, as response bodies are, so that what
/// reads or redacts it sees its fields. A coded body that was cut off (over the capture limit)
/// or does not decode is not kept: its bytes would carry its credentials past redaction,
/// which cannot read them.
fn request_body(headers: &HeaderMap, bytes: Bytes, complete: bool, limit: usize) -> BodyPrefix {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let coded = encoding.is_some_and(|e| {
        e.split(',')
            .any(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"))
    });
    if !coded {
        return BodyPrefix {
            bytes,
            complete,
            original_size: None,
            unknown_why: None,
        };
    }
    let decoded = complete
        .then(|| super::decode::decode_bytes(encoding, &bytes, limit))
        .flatten();
    match decoded {
        Some((bytes, whole)) => BodyPrefix {
            bytes,
            complete: whole,
            original_size: None,
            unknown_why: None,
        },
        None => BodyPrefix {
            bytes: Bytes::new(),
            complete: false,
            original_size: None,
            unknown_why: None,
        },
    }
}

/// What happens when the response body is over: log the exchange, then hand it to the
/// inspector's `finished`.
pub struct Finish {
    shared: Arc<Shared>,
    info: LogInfo,
    ex: Exchange,
}

impl Finish {
    pub(super) fn finish(self: Box<Self>, o: Outcome) {
        let Finish {
            shared,
            info,
            mut ex,
        } = *self;
        let total_ms = o.total.as_millis() as u64;
        let mut o = o;
        if info.cut || (o.body == BodyOutcome::Aborted && shared.cut.load(Ordering::Relaxed)) {
            o.body = BodyOutcome::Cut;
        }
        emit(&info, o.body, total_ms);
        ex.timings.total_ms = Some(total_ms);
        let ending = crate::inspect::Ending {
            answered: info.error,
            client_gone: o.body == BodyOutcome::Aborted,
            cut_at_shutdown: o.body == BodyOutcome::Cut,
        };
        shared.inspector.finished(ex, ending);
    }
}

fn finish_guard(shared: &Arc<Shared>, pending: Pending, ex: Exchange) -> FinishGuard {
    FinishGuard::new(
        pending.started,
        Finish {
            shared: shared.clone(),
            info: pending.info,
            ex,
        },
    )
}

/// Turns a triage failure into its response, logging it and telling the inspector.
fn answer(shared: &Arc<Shared>, err: ProxyError, mut pending: Pending) -> Response<ProxyBody> {
    let resp: Response<Bytes> = err.into_response();
    pending.info.status = resp.status().as_u16();
    let (parts, bytes) = resp.into_parts();
    pending.info.error = Some(crate::inspect::Answered {
        status: pending.info.status,
        error: err.kind.token(),
        detail: err.detail.clone(),
        headers: parts.headers.clone(),
        body: bytes.clone(),
    });
    let ex = pending.exchange(None, Inspection::NotWanted);
    Response::from_parts(
        parts,
        ProxyBody::full(bytes, Some(finish_guard(shared, pending, ex))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hop_by_hop_text_check_agrees_with_the_list() {
        for n in &HOP_BY_HOP {
            assert!(is_hop_by_hop(n), "{n}");
        }
        for n in [
            "content-length",
            "host",
            "authorization",
            "x-te",
            "connections",
        ] {
            assert!(!is_hop_by_hop(&HeaderName::from_static(n)), "{n}");
        }
    }
}

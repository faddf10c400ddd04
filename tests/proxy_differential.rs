//! Differential transparency: seeded random exchanges through triage, each compared with what
//! was sent. Clients are raw HTTP/1.0 and HTTP/1.1 sockets (exact bytes: framing, obs-text,
//! header-name case) and hyper's HTTP/2 client with prior knowledge, its connection shared by
//! the workers. Upstreams are raw HTTP/1.x servers (so that chunk sizes, close-delimited
//! bodies, HTTP/1.0 answers, 1xx and trailers are exactly what the case says) and, behind a
//! third proxy, HTTP/2 servers over TLS as Genesys Cloud's are. Each records the request
//! triage forwarded and answers with the case's response, sometimes before reading the
//! request body.
//!
//! Both sides must match what the other end sent, bar what HTTP lets a proxy change:
//! hop-by-hop fields and framing, `Host`, a `Date` it adds, header-name case, its own HTTP
//! version, HTTP/2 cookie crumbs joined for HTTP/1.1; and bar triage's own fields (`triage-*`,
//! `Proxy-Status`), which may only appear on a diagnosed failure. Where hyper or HTTP/1.1
//! cannot carry something (trailers beside a content-length, `Trailer` and a 304's length on
//! HTTP/1), the check says so where it allows it.
//!
//! `TRIAGE_FUZZ_CASES=N` runs N cases (default 200); `TRIAGE_FUZZ_SEED=S` fixes the seed
//! (default: from the clock, printed on failure); `TRIAGE_FUZZ_CASE=K` runs case K of that seed
//! alone and lists every field of a failure, which is how one reproduces;
//! `TRIAGE_FUZZ_LOG=triage=debug` logs.

mod common;

use common::fuzz::{self, case_seed, Rng};

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// The PRNG and the TRIAGE_FUZZ_* variables: tests/common/fuzz.rs.

// ---------------------------------------------------------------------------------------------
// The case model.

/// A field as written on the wire: the name in the case it was sent in, the value's bytes.
type Field = (String, Vec<u8>);
type Fields = Vec<Field>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// HTTP/1.0 on a raw socket.
    H10,
    /// HTTP/1.1 on a raw socket.
    H11,
    /// HTTP/2 with prior knowledge (hyper's client).
    H2,
}

impl Proto {
    fn is_h1(self) -> bool {
        self != Proto::H2
    }

    fn version(self) -> &'static str {
        match self {
            Proto::H10 => "HTTP/1.0",
            Proto::H11 => "HTTP/1.1",
            Proto::H2 => "HTTP/2",
        }
    }
}

#[derive(Debug, Clone)]
enum ReqFraming {
    /// No body and no framing field.
    None,
    /// `Content-Length` (HTTP/1.1 and HTTP/2 alike).
    Length,
    /// HTTP/1.1 chunked, or HTTP/2 DATA frames without `content-length`; the piece sizes.
    Pieces(Vec<usize>),
}

struct Req {
    method: &'static str,
    /// The request-target as the client sends it (origin-form, or absolute-form naming triage).
    target: String,
    /// Origin-form path and query: what the upstream must get after the upstream's prefix.
    path: String,
    /// Every field the client sends, framing and hop-by-hop ones included, in order.
    headers: Fields,
    body: Vec<u8>,
    framing: ReqFraming,
    /// HTTP/2: pieces as separate DATA frames (when `framing` is `Length`, the sizes to use).
    pieces: Vec<usize>,
    trailers: Fields,
}

#[derive(Debug, Clone)]
enum RespFraming {
    Length,
    Chunked {
        sizes: Vec<usize>,
        delays_ms: Vec<u64>,
    },
    /// HTTP/1.0 style: no length, the end of the connection ends the body.
    Close,
    /// 204/304: no body and no framing field.
    Empty,
}

struct Resp {
    /// A 1xx the upstream sends before the final answer.
    interim: Option<&'static str>,
    /// The upstream's HTTP version.
    version: &'static str,
    /// The upstream answers before it reads the request body (then reads it).
    early: bool,
    status: u16,
    reason: String,
    /// Every field the upstream sends, framing and hop-by-hop ones included, in order.
    headers: Fields,
    /// The body as on the wire (content-coded if the case says so). Not sent for HEAD.
    body: Vec<u8>,
    framing: RespFraming,
    trailers: Fields,
    /// For the description: what the content coding is.
    coding: &'static str,
    /// A Genesys-shaped error body (before any content coding).
    genesys: bool,
}

struct Case {
    proto: Proto,
    proxy: usize,
    proxy_label: &'static str,
    /// Open a new client connection for this case.
    fresh: bool,
    req: Req,
    resp: Arc<Resp>,
}

impl Case {
    fn describe(&self) -> String {
        let r = &self.req;
        let mut s = format!(
            "{} {} {}{}\n    via proxy {} ({})",
            self.proto.version(),
            r.method,
            show(r.target.as_bytes(), 100),
            if self.fresh { " (new connection)" } else { "" },
            self.proxy,
            self.proxy_label,
        );
        let framing = match &r.framing {
            ReqFraming::None => "no framing".to_owned(),
            ReqFraming::Length => "content-length".to_owned(),
            ReqFraming::Pieces(p) if self.proto.is_h1() => format!("chunked x{}", p.len()),
            ReqFraming::Pieces(p) => format!("{} DATA frames", p.len()),
        };
        let _ = write!(
            s,
            "\n    request: {} fields, body {} B ({framing}), {} trailers",
            r.headers.len(),
            r.body.len(),
            r.trailers.len()
        );
        let p = &self.resp;
        let framing = match &p.framing {
            RespFraming::Length => "content-length".to_owned(),
            RespFraming::Chunked { sizes, delays_ms } => format!(
                "{} x{}, {} ms of pauses",
                if p.version == "HTTP/2" {
                    "DATA frames"
                } else {
                    "chunked"
                },
                sizes.len(),
                delays_ms.iter().sum::<u64>()
            ),
            RespFraming::Close if p.version == "HTTP/2" => "no content-length".to_owned(),
            RespFraming::Close => "close-delimited".to_owned(),
            RespFraming::Empty => "no body".to_owned(),
        };
        let _ = write!(
            s,
            "\n    response: {}{} {} {} fields, body {} B{}{} ({framing}), {} trailers",
            p.interim.map_or(String::new(), |i| format!(
                "{} then ",
                i.split("\r\n").next().unwrap_or(i)
            )),
            p.version,
            p.status,
            p.headers.len(),
            p.body.len(),
            if p.coding.is_empty() { "" } else { " " },
            p.coding,
            p.trailers.len()
        );
        if p.genesys {
            s.push_str(", Genesys error body");
        }
        if p.early {
            s.push_str(", answered before the request body was read");
        }
        s
    }

    /// Every field of both sides, for a case run alone.
    fn dump(&self) -> String {
        let mut s = String::from("request fields:");
        for (n, v) in &self.req.headers {
            let _ = write!(s, "\n    {n}: {}", show(v, 120));
        }
        for (n, v) in &self.req.trailers {
            let _ = write!(s, "\n    (trailer) {n}: {}", show(v, 120));
        }
        s.push_str("\nresponse fields:");
        for (n, v) in &self.resp.headers {
            let _ = write!(s, "\n    {n}: {}", show(v, 120));
        }
        for (n, v) in &self.resp.trailers {
            let _ = write!(s, "\n    (trailer) {n}: {}", show(v, 120));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Generation.

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
];

const TCHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Either case of each letter, as HTTP/1.1 names are case-insensitive.
fn mixed_case(rng: &mut Rng, name: &str) -> String {
    match rng.below(4) {
        0 => name.to_owned(),
        1 => name.to_ascii_uppercase(),
        2 => title_case(name),
        _ => name
            .chars()
            .map(|c| {
                if rng.one_in(2) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
    }
}

fn title_case(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let out = if up { c.to_ascii_uppercase() } else { c };
            up = c == '-';
            out
        })
        .collect()
}

/// An extension field name no one else uses: `x-` and tchars.
fn odd_name(rng: &mut Rng) -> String {
    let fixed = [
        "x-request-id",
        "x-under_score",
        "x-dotted.name",
        "x-tilde~and|pipe",
        "x-!#$%&'*+-.^_`|~",
        "x-genesys-thing",
        "inin-organization-id",
        "x-a",
    ];
    if rng.one_in(2) {
        return rng.pick(&fixed).to_owned();
    }
    let len = rng.range(1, 24);
    let mut s = String::from("x-");
    for _ in 0..len {
        s.push(char::from(TCHARS[rng.below(TCHARS.len())]));
    }
    s
}

/// A field value: visible ASCII, inner spaces and tabs, sometimes obs-text (0x80-0xFF), empty
/// or long. Never leading or trailing whitespace (that is not part of a value) nor DEL.
fn field_value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(14) {
        0 => 0,
        1 => rng.range(1024, 8 * 1024),
        2 => rng.range(100, 1000),
        _ => rng.range(1, 40),
    };
    let obs = rng.one_in(4);
    (0..len)
        .map(|i| {
            let edge = i == 0 || i + 1 == len;
            if !edge && rng.one_in(8) {
                if rng.one_in(3) {
                    b'\t'
                } else {
                    b' '
                }
            } else if obs && rng.one_in(3) {
                0x80 + rng.below(128) as u8
            } else {
                0x21 + rng.below(0x5e) as u8
            }
        })
        .collect()
}

fn token(rng: &mut Rng, len: usize) -> String {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| char::from(ALNUM[rng.below(ALNUM.len())]))
        .collect()
}

fn pct(rng: &mut Rng) -> String {
    let b = rng.below(256);
    if rng.one_in(2) {
        format!("%{b:02X}")
    } else {
        format!("%{b:02x}")
    }
}

/// A path segment: unreserved, sub-delims, `:` `@` and percent-encodings in either hex case.
fn segment(rng: &mut Rng) -> String {
    match rng.below(40) {
        0 => return ".".to_owned(),
        1 => return "..".to_owned(),
        2 => return String::new(),
        _ => {}
    }
    const UNRESERVED: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
    const SUB: &[u8] = b"!$&'()*+,;=:@";
    let len = rng.range(1, 14);
    let mut s = String::new();
    for _ in 0..len {
        match rng.below(10) {
            0 | 1 => s.push_str(&pct(rng)),
            2 => s.push(char::from(SUB[rng.below(SUB.len())])),
            _ => s.push(char::from(UNRESERVED[rng.below(UNRESERVED.len())])),
        }
    }
    s
}

/// A query: absent, empty, or pairs with odd-but-legal bytes (`/`, `?`, `+`, sub-delims,
/// percent-encodings, empty keys and values, `&&`).
fn query(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 | 1 => return String::new(),
        2 if rng.one_in(3) => return "?".to_owned(),
        _ => {}
    }
    const QCHARS: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$'()*+,;:@/?";
    let mut s = String::from("?");
    let pairs = rng.range(1, 6);
    for i in 0..pairs {
        if i > 0 {
            s.push('&');
            if rng.one_in(8) {
                s.push('&');
            }
        }
        let part = |rng: &mut Rng, s: &mut String| {
            for _ in 0..rng.range(0, 12) {
                if rng.one_in(5) {
                    s.push_str(&pct(rng));
                } else {
                    s.push(char::from(QCHARS[rng.below(QCHARS.len())]));
                }
            }
        };
        part(rng, &mut s);
        if !rng.one_in(5) {
            s.push('=');
            part(rng, &mut s);
            if rng.one_in(6) {
                s.push('=');
            }
        }
    }
    s
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PathKind {
    Generic,
    Send,
    TokensMe,
    OauthToken,
}

fn path(rng: &mut Rng, kind: PathKind) -> String {
    let p = match kind {
        PathKind::Generic => {
            let mut p = String::from("/api/v2");
            for _ in 0..rng.range(1, 5) {
                p.push('/');
                p.push_str(&segment(rng));
            }
            if rng.one_in(8) {
                p.push('/');
            }
            p
        }
        PathKind::Send => format!(
            "/api/v2/conversations/messages/{}/communications/{}/messages",
            rng.uuid(),
            rng.uuid()
        ),
        PathKind::TokensMe => "/api/v2/tokens/me".to_owned(),
        PathKind::OauthToken => "/oauth/token".to_owned(),
    };
    p + &query(rng)
}

/// A body size: mostly empty or small, sometimes over the inspection limits, now and then a
/// few MiB.
fn body_size(rng: &mut Rng) -> usize {
    match rng.below(40) {
        0..=11 => 0,
        12..=25 => rng.range(1, 600),
        26..=34 => rng.range(601, 64 * 1024),
        35..=37 => rng.range(64 * 1024 + 1, 1024 * 1024),
        _ => rng.range(1024 * 1024, 3 * 1024 * 1024),
    }
}

/// Splits `len` into pieces (each at least 1 byte).
fn pieces(rng: &mut Rng, len: usize) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let max = match rng.below(4) {
        0 if len <= 8 * 1024 => rng.range(1, 16),
        0 | 1 => rng.range(1, 8 * 1024),
        2 => rng.range(8 * 1024, 512 * 1024),
        _ => len,
    };
    // At most about a thousand pieces: h2 takes a flood of tiny DATA frames for an attack
    // (and closes the connection), rightly.
    let max = max.max(len / 1000);
    let mut out = Vec::new();
    let mut left = len;
    while left > 0 {
        let n = rng.range(1, max.min(left));
        out.push(n);
        left -= n;
    }
    out
}

fn genesys_error(rng: &mut Rng, status: u16) -> Vec<u8> {
    let code = match status {
        400 => rng.pick(&["bad.request", "invalid.value", "invalid.date"]),
        401 => rng.pick(&[
            "bad.credentials",
            "authentication.required",
            "credentials.expired",
        ]),
        403 => rng.pick(&[
            "missing.permissions",
            "missing.any.permissions",
            "app.not.authorized.for.scope",
            "not.authorized",
        ]),
        404 => "not.found",
        409 => "request.conflict",
        429 => "too.many.requests.retry.after",
        500 => "internal.server.error",
        _ => "service.unavailable",
    };
    let message = rng.pick(&[
        "The request conflicts with the current state of the target resource.",
        "Rate limit exceeded the maximum. Retry the request in [42] seconds",
        "The requested resource was not found.",
        "Unable to perform the requested action. You are missing the following permission(s): [conversation:message:create]",
        "caf\\u00e9 \u{2713} with a \\\"quote\\\" and a \\\\ backslash",
        "",
    ]);
    format!(
        r#"{{"message":"{message}","code":"{code}","status":{status},"messageParams":{{}},"contextId":"{}","details":[],"errors":[]}}"#,
        rng.uuid()
    )
    .into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 1, 22);
        w.write_all(data).unwrap();
    }
    out
}

/// Text that compresses, for content-coded bodies (small: the coders are slow unoptimised).
fn compressible(rng: &mut Rng, len: usize) -> Vec<u8> {
    let words = [
        "conversation",
        "message",
        "\"id\":",
        "{",
        "}",
        ",",
        " ",
        "é",
        "\n",
    ];
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(rng.pick(&words).as_bytes());
    }
    out.truncate(len);
    out
}

struct Gen<'a> {
    rng: Rng,
    proxies: &'a [ProxyInfo],
}

impl Gen<'_> {
    fn case(&mut self, n: usize) -> Case {
        let rng = &mut self.rng;
        let proto = match rng.below(12) {
            0..=3 => Proto::H2,
            4 => Proto::H10,
            _ => Proto::H11,
        };
        let proxy = rng.below(self.proxies.len());
        let fresh = rng.one_in(4);
        let kind = match rng.below(20) {
            0..=12 => PathKind::Generic,
            13..=15 => PathKind::Send,
            16 => PathKind::TokensMe,
            _ => PathKind::OauthToken,
        };
        let method = match kind {
            PathKind::Send | PathKind::OauthToken if !rng.one_in(5) => "POST",
            _ => rng.pick(&[
                "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
            ]),
        };
        let path = path(rng, kind);
        let req = self.request(n, proto, proxy, method, path);
        let mut resp = self.response(method, kind, self.proxies[proxy].h2_upstream);
        // hyper's HTTP/1 server never ends a request body whose trailers arrive after the
        // response is complete (hyper 1.12: the body channel is left open), so an upstream
        // that answers early would wait for the rest forever. Not triage's to fix.
        if proto.is_h1() && !req.trailers.is_empty() {
            resp.early = false;
        }
        let resp = Arc::new(resp);
        Case {
            proto,
            proxy,
            proxy_label: self.proxies[proxy].label,
            fresh,
            req,
            resp,
        }
    }

    fn request(
        &mut self,
        n: usize,
        proto: Proto,
        proxy: usize,
        method: &'static str,
        path: String,
    ) -> Req {
        let addr = self.proxies[proxy].addr;
        let rng = &mut self.rng;
        let h1 = proto.is_h1();
        let h10 = proto == Proto::H10;
        let name = |rng: &mut Rng, n: &str| {
            if h1 {
                mixed_case(rng, n)
            } else {
                n.to_owned()
            }
        };
        let target = if h1 && rng.one_in(25) {
            format!("http://{addr}{path}")
        } else {
            path.clone()
        };

        // Bodies mostly on the methods that carry them; GET, DELETE and OPTIONS now and then.
        let size = match method {
            "POST" | "PUT" | "PATCH" => body_size(rng),
            "HEAD" => 0,
            _ if rng.one_in(8) => body_size(rng).max(1),
            _ => 0,
        };
        let body = if rng.one_in(3) {
            compressible(rng, size)
        } else {
            rng.bytes(size)
        };
        let framing = if size == 0 {
            match rng.below(10) {
                0..=5 => ReqFraming::None,
                6..=8 => ReqFraming::Length,
                _ if h10 => ReqFraming::None,
                _ => ReqFraming::Pieces(Vec::new()),
            }
        } else if h10 || rng.one_in(2) {
            ReqFraming::Length
        } else {
            ReqFraming::Pieces(pieces(rng, size))
        };
        let frame_sizes = match &framing {
            ReqFraming::Pieces(p) => p.clone(),
            _ => pieces(rng, size),
        };
        // Trailers need a body that can carry them: chunked, or HTTP/2 DATA frames.
        let trailers: Fields = if matches!(framing, ReqFraming::Pieces(_)) || (!h1 && rng.one_in(3))
        {
            if rng.one_in(4) {
                (0..rng.range(1, 3))
                    .map(|i| {
                        let len = rng.range(0, 30);
                        (format!("x-trail-{i}"), token(rng, len).into())
                    })
                    .collect()
            } else {
                Vec::new()
            }
        } else {
            Vec::new()
        };

        let mut fields: Fields = Vec::new();
        fields.push(("x-fuzz-case".to_owned(), n.to_string().into_bytes()));
        let common = [
            ("authorization", "Bearer "),
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("accept-encoding", "gzip, deflate, br"),
            ("user-agent", "PureCloud SDK/python"),
            ("if-none-match", "\"etag-1\""),
            ("inin-client-path", "/x"),
        ];
        for (k, v) in common {
            if rng.one_in(2) {
                let v = if k == "authorization" {
                    format!("{v}{}", token(rng, 40))
                } else {
                    v.to_owned()
                };
                fields.push((name(rng, k), v.into_bytes()));
            }
        }
        let cookies = if h1 { 1 } else { rng.range(1, 3) };
        if rng.one_in(3) {
            for i in 0..cookies {
                let c = format!("c{i}={}", token(rng, 10));
                fields.push((name(rng, "cookie"), c.into_bytes()));
            }
        }
        for _ in 0..rng.range(0, 8) {
            let n = odd_name(rng);
            fields.push((name(rng, &n), field_value(rng)));
        }
        // Repeated names, to be interleaved with the rest by the shuffle below.
        if rng.one_in(2) {
            for _ in 0..rng.range(2, 4) {
                fields.push((name(rng, "x-repeat"), field_value(rng)));
            }
        }
        if !trailers.is_empty() {
            let names: Vec<String> = trailers.iter().map(|(n, _)| n.clone()).collect();
            fields.push((name(rng, "trailer"), names.join(", ").into_bytes()));
        }
        if h1 {
            if rng.one_in(4) {
                let hop = format!("x-hop-{}", rng.below(100));
                fields.push((name(rng, "connection"), format!("keep-alive, {hop}").into()));
                fields.push((name(rng, &hop), field_value(rng)));
                fields.push((name(rng, "keep-alive"), b"timeout=5, max=100".to_vec()));
            }
            if rng.one_in(10) {
                fields.push((name(rng, "proxy-authorization"), b"Basic eDp5".to_vec()));
            }
            if rng.one_in(10) {
                fields.push((name(rng, "proxy-connection"), b"keep-alive".to_vec()));
            }
            if h10 && rng.one_in(2) {
                fields.push((name(rng, "connection"), b"keep-alive".to_vec()));
            } else if rng.one_in(15) {
                fields.push((name(rng, "connection"), b"close".to_vec()));
            }
            if size > 0 && !h10 && rng.one_in(8) {
                fields.push((name(rng, "expect"), b"100-continue".to_vec()));
            }
        }
        if rng.one_in(3) {
            let te = if h1 {
                rng.pick(&["trailers", "gzip", "trailers, deflate;q=0.5", "deflate"])
            } else {
                "trailers"
            };
            fields.push((name(rng, "te"), te.as_bytes().to_vec()));
        }
        match &framing {
            ReqFraming::Length => {
                fields.push((name(rng, "content-length"), length_value(rng, size)))
            }
            ReqFraming::Pieces(_) if h1 => {
                fields.push((name(rng, "transfer-encoding"), b"chunked".to_vec()))
            }
            _ => {}
        }
        shuffle(rng, &mut fields);
        if h1 {
            // Host first, as clients write it.
            fields.insert(0, (name(rng, "host"), addr.to_string().into_bytes()));
        }
        Req {
            method,
            target,
            path,
            headers: fields,
            body,
            framing,
            pieces: frame_sizes,
            trailers,
        }
    }

    /// `h2`: the upstream speaks HTTP/2, so the answer has no HTTP/1 framing or hop-by-hop
    /// fields, and trailers may follow a body of known length.
    fn response(&mut self, method: &str, kind: PathKind, h2: bool) -> Resp {
        let rng = &mut self.rng;
        let status = match kind {
            PathKind::Send if rng.one_in(2) => rng.pick(&[409, 409, 400]),
            _ => rng.pick(&[
                200, 200, 200, 200, 201, 202, 204, 207, 302, 304, 400, 401, 403, 404, 409, 418,
                429, 500, 502, 503, 599,
            ]),
        };
        let head = method == "HEAD";
        let genesys = status >= 400 && !rng.one_in(3);
        let plain = if genesys {
            genesys_error(rng, status)
        } else if matches!(status, 204 | 304) {
            Vec::new()
        } else {
            // Now and then exactly at the inspection limits of the two proxies.
            let size = if rng.one_in(12) {
                rng.pick(&[2047, 2048, 2049, 4096, 4097, 1048575, 1048576, 1048577])
            } else {
                body_size(rng)
            };
            if rng.one_in(3) {
                compressible(rng, size)
            } else {
                rng.bytes(size)
            }
        };
        let (body, coding) = if plain.is_empty() || !rng.one_in(3) {
            (plain, "")
        } else {
            // The coders are slow in a debug build: a prefix of a large body does.
            let small = &plain[..plain.len().min(200 * 1024)];
            match rng.below(9) {
                0 | 1 => (gzip(small), "gzip"),
                2 => (brotli(&small[..small.len().min(32 * 1024)]), "br"),
                3 => (zlib(small), "deflate"),
                4 => (raw_deflate(small), "deflate"),
                5 => (
                    brotli(&gzip(&small[..small.len().min(32 * 1024)])),
                    "gzip, br",
                ),
                // Labelled gzip but not gzip: triage cannot decode it and must pass it on.
                6 => (plain, "gzip"),
                7 => {
                    let mut g = gzip(small);
                    g.truncate(g.len() / 2);
                    (g, "gzip")
                }
                _ => (rng.bytes(small.len().min(4096)), "br"),
            }
        };
        let label = match (coding, rng.below(6)) {
            ("gzip", 0) => "GZIP",
            ("gzip", 1) => "x-gzip",
            (c, _) => c,
        };
        let coding_note = match coding {
            "" => "",
            _ if genesys || !body.is_empty() => coding,
            _ => "",
        };

        let framing = if matches!(status, 204 | 304) {
            RespFraming::Empty
        } else {
            match rng.below(20) {
                0..=8 => RespFraming::Length,
                9..=16 => {
                    let sizes = pieces(rng, body.len());
                    let mut budget = 40u64;
                    let delays_ms = sizes
                        .iter()
                        .map(|_| {
                            if budget > 0 && rng.one_in(6) {
                                let d = rng.range(1, 10) as u64;
                                let d = d.min(budget);
                                budget -= d;
                                d
                            } else {
                                0
                            }
                        })
                        .collect();
                    RespFraming::Chunked { sizes, delays_ms }
                }
                _ => RespFraming::Close,
            }
        };
        let can_trail = match framing {
            RespFraming::Chunked { .. } => true,
            RespFraming::Length | RespFraming::Close => h2,
            RespFraming::Empty => false,
        };
        let trailers: Fields = if can_trail && rng.one_in(4) {
            (0..rng.range(1, 3))
                .map(|i| {
                    let v = if rng.one_in(3) {
                        field_value(rng)
                    } else {
                        token(rng, 12).into()
                    };
                    (mixed_case(rng, &format!("x-resp-trail-{i}")), v)
                })
                .collect()
        } else {
            Vec::new()
        };

        let mut fields: Fields = Vec::new();
        let name = |rng: &mut Rng, n: &str| mixed_case(rng, n);
        if genesys || rng.one_in(3) {
            fields.push((name(rng, "content-type"), b"application/json".to_vec()));
        }
        if !label.is_empty() {
            fields.push((name(rng, "content-encoding"), label.as_bytes().to_vec()));
        }
        if rng.one_in(2) {
            let id = rng.uuid();
            fields.push((name(rng, "inin-correlation-id"), id.into_bytes()));
        }
        if matches!(status, 429 | 503) || rng.one_in(10) {
            let v = rng.pick(&["42", "0", "Wed, 21 Oct 2015 07:28:00 GMT"]);
            fields.push((name(rng, "retry-after"), v.as_bytes().to_vec()));
        }
        if rng.one_in(2) {
            for _ in 0..rng.range(1, 4) {
                let c = format!("{}={}; Path=/; HttpOnly", token(rng, 5), token(rng, 20));
                fields.push((name(rng, "set-cookie"), c.into_bytes()));
            }
        }
        for _ in 0..rng.range(0, 8) {
            let n = odd_name(rng);
            fields.push((name(rng, &n), field_value(rng)));
        }
        if rng.one_in(3) {
            fields.push((name(rng, "date"), b"Tue, 15 Nov 1994 08:12:31 GMT".to_vec()));
        }
        if status == 302 {
            fields.push((name(rng, "location"), b"/api/v2/elsewhere?a=%2F".to_vec()));
        }
        if matches!(status, 200 | 304) && rng.one_in(3) {
            fields.push((name(rng, "etag"), b"W/\"e-1\"".to_vec()));
        }
        if rng.one_in(10) {
            // An upstream's own Proxy-Status (a CDN in front of it) must pass as it is.
            fields.push((
                name(rng, "proxy-status"),
                b"cdn.example; received-status=200".to_vec(),
            ));
        }
        if !h2 && rng.one_in(5) {
            let hop = format!("x-up-hop-{}", rng.below(100));
            fields.push((name(rng, "connection"), format!("keep-alive, {hop}").into()));
            fields.push((name(rng, &hop), b"secret".to_vec()));
            fields.push((name(rng, "keep-alive"), b"timeout=5".to_vec()));
        }
        if !trailers.is_empty() {
            let names: Vec<String> = trailers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect();
            fields.push((name(rng, "trailer"), names.join(", ").into_bytes()));
        }
        match &framing {
            RespFraming::Length => {
                fields.push((name(rng, "content-length"), length_value(rng, body.len())))
            }
            RespFraming::Chunked { .. } if h2 => {}
            RespFraming::Chunked { .. } => {
                fields.push((name(rng, "transfer-encoding"), b"chunked".to_vec()))
            }
            RespFraming::Close => {
                if !h2 && rng.one_in(2) {
                    fields.push((name(rng, "connection"), b"close".to_vec()));
                }
            }
            // A 304 may state the length of the representation it stands for (RFC 9110 §8.6).
            RespFraming::Empty if status == 304 && rng.one_in(3) => {
                let len = rng.range(1, 5000).to_string();
                fields.push((name(rng, "content-length"), len.into_bytes()))
            }
            RespFraming::Empty => {}
        }
        shuffle(rng, &mut fields);
        let interim = match rng.below(25) {
            _ if h2 => None,
            0 => Some("HTTP/1.1 100 Continue\r\n\r\n"),
            1 => Some("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"),
            _ => None,
        };
        let reason = rng
            .pick(&["OK", "", "Whatever", "Conflict", "Not Found Here"])
            .to_owned();
        // An HTTP/1.0 upstream, where its framing allows.
        let version = if h2 {
            "HTTP/2"
        } else if !matches!(framing, RespFraming::Chunked { .. }) && rng.one_in(8) {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        };
        Resp {
            interim,
            version,
            early: rng.one_in(10),
            status,
            reason,
            headers: fields,
            body,
            framing,
            trailers: if head { Vec::new() } else { trailers },
            coding: coding_note,
            genesys,
        }
    }
}

/// A Content-Length value, now and then with leading zeros (1*DIGIT allows them).
fn length_value(rng: &mut Rng, len: usize) -> Vec<u8> {
    if rng.one_in(20) {
        format!("00{len}").into_bytes()
    } else {
        len.to_string().into_bytes()
    }
}

fn shuffle<T>(rng: &mut Rng, xs: &mut [T]) {
    for i in (1..xs.len()).rev() {
        let j = rng.below(i + 1);
        xs.swap(i, j);
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 reading, for both the upstream (requests) and the HTTP/1.1 client (responses).

struct Reader<R> {
    r: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    fn new(r: R) -> Self {
        Reader { r, buf: Vec::new() }
    }

    /// Reads more into the buffer; false at the end of the stream.
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = self.r.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// A message head without its final CRLFCRLF; `None` at a clean end of stream.
    async fn head(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut from = 0;
        loop {
            if let Some(i) = find(&self.buf[from..], b"\r\n\r\n") {
                let end = from + i;
                let head = self.buf[..end].to_vec();
                self.buf.drain(..end + 4);
                return Ok(Some(head));
            }
            from = self.buf.len().saturating_sub(3);
            if !self.fill().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(eof("in a message head"));
            }
        }
    }

    async fn exact(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(eof(&format!("after {} of {n} body bytes", self.buf.len())));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut from = 0;
        loop {
            if let Some(i) = find(&self.buf[from..], b"\r\n") {
                let end = from + i;
                let line = self.buf[..end].to_vec();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            from = self.buf.len().saturating_sub(1);
            if !self.fill().await? {
                return Err(eof("in a chunked body line"));
            }
        }
    }

    /// A chunked body and its trailers.
    async fn chunked(&mut self) -> std::io::Result<(Vec<u8>, Fields)> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size = line.split(|&b| b == b';').next().unwrap_or(&[]);
            let size = std::str::from_utf8(size)
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| bad(&format!("chunk size line {}", show(&line, 40))))?;
            if size == 0 {
                break;
            }
            body.extend(self.exact(size).await?);
            if self.exact(2).await? != b"\r\n" {
                return Err(bad("no CRLF after a chunk"));
            }
        }
        let mut trailers = Vec::new();
        loop {
            let line = self.line().await?;
            if line.is_empty() {
                return Ok((body, trailers));
            }
            trailers.push(parse_field(&line)?);
        }
    }

    async fn until_closed(&mut self) -> std::io::Result<Vec<u8>> {
        while self.fill().await? {}
        Ok(std::mem::take(&mut self.buf))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn eof(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("end of stream {what}"),
    )
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

fn parse_field(line: &[u8]) -> std::io::Result<(String, Vec<u8>)> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| bad(&format!("field line without a colon: {}", show(line, 60))))?;
    let name = std::str::from_utf8(&line[..colon])
        .map_err(|_| bad("non-UTF-8 field name"))?
        .to_ascii_lowercase();
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    let v = &line[colon + 1..];
    let start = v.iter().position(|b| !ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    Ok((name, v[start..end].to_vec()))
}

/// Start line and fields (names lowercased) of a head.
fn parse_head(head: &[u8]) -> std::io::Result<(String, Fields)> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let fields = lines.map(parse_field).collect::<Result<_, _>>()?;
    Ok((start, fields))
}

fn get<'a>(fields: &'a [Field], name: &str) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .collect()
}

/// Whether a comma-separated field lists `token`.
fn lists(fields: &[Field], name: &str, token: &str) -> bool {
    get(fields, name).iter().any(|v| {
        String::from_utf8_lossy(v)
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

// ---------------------------------------------------------------------------------------------
// The raw upstream.

/// What the upstream received.
#[derive(Debug)]
struct SeenReq {
    upstream: &'static str,
    /// HTTP/2: the `:authority`.
    authority: Option<String>,
    method: String,
    target: String,
    version: String,
    /// Names lowercased.
    headers: Fields,
    body: Vec<u8>,
    trailers: Fields,
}

#[derive(Default)]
struct UpState {
    plans: Mutex<HashMap<usize, Arc<Resp>>>,
    seen: Mutex<HashMap<usize, Vec<SeenReq>>>,
    errors: Mutex<Vec<String>>,
}

impl UpState {
    /// Puts what an upstream received for `case` on record.
    fn saw(&self, case: usize, seen: SeenReq) {
        self.seen
            .lock()
            .unwrap()
            .entry(case)
            .or_default()
            .push(seen);
    }
}

async fn raw_upstream(name: &'static str, state: Arc<UpState>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let (r, mut w) = s.into_split();
                let mut r = Reader::new(r);
                loop {
                    match serve_one(name, &state, &mut r, &mut w).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            state
                                .errors
                                .lock()
                                .unwrap()
                                .push(format!("{name} upstream: {e}"));
                            break;
                        }
                    }
                }
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// Reads one request and answers it; false when the connection is over.
async fn serve_one(
    name: &'static str,
    state: &UpState,
    r: &mut Reader<OwnedReadHalf>,
    w: &mut OwnedWriteHalf,
) -> std::io::Result<bool> {
    let Some(head) = r.head().await? else {
        return Ok(false);
    };
    let (start, headers) = parse_head(&head)?;
    let mut parts = start.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let version = parts.next().unwrap_or_default().to_owned();
    let case = get(&headers, "x-fuzz-case")
        .first()
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<usize>().ok())
        .ok_or_else(|| bad(&format!("request without x-fuzz-case: {start}")))?;
    let plan = state
        .plans
        .lock()
        .unwrap()
        .get(&case)
        .cloned()
        .ok_or_else(|| bad(&format!("no plan for case {case}")))?;
    let head_req = method == "HEAD";
    let mut seen = SeenReq {
        upstream: name,
        authority: None,
        method,
        target,
        version,
        headers,
        body: Vec::new(),
        trailers: Vec::new(),
    };
    // An early answer goes out before the request body is read; either way what the upstream
    // saw is on record before a late answer lets the client go on.
    let early = if plan.early {
        Some(answer(&plan, head_req, w).await?)
    } else {
        None
    };
    read_body(r, &mut seen).await?;
    state.saw(case, seen);
    match early {
        Some(keep) => Ok(keep),
        None => answer(&plan, head_req, w).await,
    }
}

/// The last chunk of a chunked body, its trailers and the blank line that ends the message.
fn end_chunked(out: &mut Vec<u8>, trailers: &Fields) {
    out.extend_from_slice(b"0\r\n");
    for (n, v) in trailers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

async fn read_body(r: &mut Reader<OwnedReadHalf>, seen: &mut SeenReq) -> std::io::Result<()> {
    (seen.body, seen.trailers) = if lists(&seen.headers, "transfer-encoding", "chunked") {
        r.chunked().await?
    } else if let Some(len) = get(&seen.headers, "content-length").first() {
        let len = std::str::from_utf8(len)
            .ok()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("bad content-length"))?;
        (r.exact(len).await?, Vec::new())
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(())
}

/// Writes the planned answer; false when the connection is to close after it.
async fn answer(plan: &Resp, head_req: bool, w: &mut OwnedWriteHalf) -> std::io::Result<bool> {
    let mut out = Vec::new();
    if let Some(i) = plan.interim {
        out.extend_from_slice(i.as_bytes());
    }
    let _ = write!(out, "{} {} {}\r\n", plan.version, plan.status, plan.reason);
    for (n, v) in &plan.headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    // As a server would: it closes where the answer says so or its framing needs it, and only
    // there (closing a connection the answer left open would race triage's next request on
    // it). An HTTP/1.0 answer keeps the connection only when it says keep-alive; an answer to
    // HEAD has no body to delimit.
    let close = (matches!(plan.framing, RespFraming::Close) && !head_req)
        || (plan.version == "HTTP/1.0" && !lists(&plan.headers, "connection", "keep-alive"))
        || lists(&plan.headers, "connection", "close");
    if head_req {
        w.write_all(&out).await?;
        return Ok(!close);
    }
    match &plan.framing {
        RespFraming::Empty => w.write_all(&out).await?,
        RespFraming::Length | RespFraming::Close => {
            out.extend_from_slice(&plan.body);
            w.write_all(&out).await?;
        }
        RespFraming::Chunked { sizes, delays_ms } => {
            let mut at = 0;
            for (size, delay) in sizes.iter().zip(delays_ms) {
                let _ = write!(out, "{size:x}\r\n");
                out.extend_from_slice(&plan.body[at..at + size]);
                out.extend_from_slice(b"\r\n");
                at += size;
                if *delay > 0 {
                    w.write_all(&out).await?;
                    out.clear();
                    tokio::time::sleep(Duration::from_millis(*delay)).await;
                }
            }
            end_chunked(&mut out, &plan.trailers);
            w.write_all(&out).await?;
        }
    }
    Ok(!close)
}

/// An HTTP/2 upstream over TLS (ALPN h2) answering each request with its case's plan; returns
/// its port. Framing is HTTP/2's own: a planned length is a content-length field, anything else
/// DATA frames without one.
async fn h2_upstream(
    name: &'static str,
    state: Arc<UpState>,
    tls: tokio_rustls::TlsAcceptor,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let (state, tls) = (state.clone(), tls.clone());
            tokio::spawn(async move {
                let Ok(s) = tls.accept(s).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(h2_answer(name, &state, req).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .max_header_list_size(1024 * 1024)
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    port
}

async fn h2_answer(
    name: &'static str,
    state: &Arc<UpState>,
    req: http::Request<Incoming>,
) -> http::Response<H2Body> {
    let (parts, body) = req.into_parts();
    let case = parts
        .headers
        .get("x-fuzz-case")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let plan = case.and_then(|c| state.plans.lock().unwrap().get(&c).cloned());
    let (Some(case), Some(plan)) = (case, plan) else {
        state.errors.lock().unwrap().push(format!(
            "{name} upstream: a request without a known case: {}",
            parts.uri
        ));
        return http::Response::builder()
            .status(599)
            .body(Empty::new().boxed())
            .unwrap();
    };
    let seen = SeenReq {
        upstream: name,
        authority: parts.uri.authority().map(|a| a.to_string()),
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map_or_else(String::new, |pq| pq.to_string()),
        version: match parts.version {
            http::Version::HTTP_2 => "HTTP/2".to_owned(),
            v => format!("{v:?}"),
        },
        headers: map_fields(&parts.headers),
        body: Vec::new(),
        trailers: Vec::new(),
    };
    let record = {
        let state = state.clone();
        async move {
            let mut seen = seen;
            let mut body = body;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => seen.body.extend_from_slice(&d),
                        Err(f) => {
                            if let Ok(t) = f.into_trailers() {
                                seen.trailers = map_fields(&t);
                            }
                        }
                    },
                    Err(e) => {
                        state
                            .errors
                            .lock()
                            .unwrap()
                            .push(format!("{name} upstream, case {case}: request body: {e}"));
                        break;
                    }
                }
            }
            state.saw(case, seen);
        }
    };
    if plan.early {
        tokio::spawn(record);
    } else {
        record.await;
    }
    let mut b = http::Response::builder().status(plan.status);
    for (n, v) in &plan.headers {
        b = b.header(n.as_str(), v.as_slice());
    }
    let head_req = parts.method == http::Method::HEAD;
    let body: H2Body = if head_req || matches!(plan.framing, RespFraming::Empty) {
        Empty::new().boxed()
    } else {
        let (sizes, delays) = match &plan.framing {
            RespFraming::Chunked { sizes, delays_ms } => (sizes.clone(), delays_ms.clone()),
            _ => (vec![plan.body.len()], vec![0]),
        };
        let mut frames = Vec::new();
        let mut at = 0;
        for (size, delay) in sizes.into_iter().zip(delays) {
            frames.push((Bytes::copy_from_slice(&plan.body[at..at + size]), delay));
            at += size;
        }
        let trailers = (!plan.trailers.is_empty()).then(|| {
            let mut t = http::HeaderMap::new();
            for (n, v) in &plan.trailers {
                t.append(
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    http::HeaderValue::from_bytes(v).unwrap(),
                );
            }
            t
        });
        let stream = futures_util::stream::unfold(
            (frames.into_iter(), trailers),
            |(mut frames, mut trailers)| async move {
                match frames.next() {
                    Some((data, delay)) => {
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        Some((Ok(http_body::Frame::data(data)), (frames, trailers)))
                    }
                    None => trailers
                        .take()
                        .map(|t| (Ok(http_body::Frame::trailers(t)), (frames, None))),
                }
            },
        );
        StreamBody::new(stream).boxed()
    };
    b.body(body).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Clients.

/// What the client received.
struct Got {
    /// The status line's version (HTTP/2 for HTTP/2).
    version: String,
    status: u16,
    /// Names lowercased.
    headers: Fields,
    body: Vec<u8>,
    trailers: Fields,
    /// HTTP/1.1: bytes after the end of the message as its framing gives it.
    extra: Vec<u8>,
    /// HTTP/1.1: the connection cannot be used again.
    closed: bool,
}

struct H1Conn {
    r: Reader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

fn h1_request_bytes(req: &Req, version: &str) -> Vec<u8> {
    let mut out = format!("{} {} {version}\r\n", req.method, req.target).into_bytes();
    for (n, v) in &req.headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    match &req.framing {
        ReqFraming::None => {}
        ReqFraming::Length => out.extend_from_slice(&req.body),
        ReqFraming::Pieces(sizes) => {
            let mut at = 0;
            for (i, size) in sizes.iter().enumerate() {
                // Both hex cases and a chunk extension now and then: all legal.
                // (hyper allows 16 KiB of extensions in a body: a few of them.)
                if i % 3 == 1 && i < 100 {
                    let _ = write!(out, "{size:X};ext=\"v\"\r\n");
                } else {
                    let _ = write!(out, "{size:x}\r\n");
                }
                out.extend_from_slice(&req.body[at..at + size]);
                out.extend_from_slice(b"\r\n");
                at += size;
            }
            end_chunked(&mut out, &req.trailers);
        }
    }
    out
}

async fn h1_exchange(conn: &mut H1Conn, req: &Req, version: &str) -> std::io::Result<Got> {
    let bytes = h1_request_bytes(req, version);
    let head_req = req.method == "HEAD";
    let (written, got) = tokio::join!(
        conn.w.write_all(&bytes),
        h1_read_response(&mut conn.r, head_req)
    );
    let mut got = got?;
    written?;
    got.closed |= lists(&req.headers, "connection", "close");
    Ok(got)
}

async fn h1_read_response(r: &mut Reader<OwnedReadHalf>, head_req: bool) -> std::io::Result<Got> {
    loop {
        let head = r
            .head()
            .await?
            .ok_or_else(|| eof("before a response head"))?;
        let (start, headers) = parse_head(&head)?;
        let status: u16 = start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&format!("status line {start:?}")))?;
        if (100..200).contains(&status) {
            continue;
        }
        let version = start.split(' ').next().unwrap_or_default().to_owned();
        let mut closed = lists(&headers, "connection", "close");
        let (body, trailers) = if head_req || matches!(status, 204 | 304) {
            (Vec::new(), Vec::new())
        } else if lists(&headers, "transfer-encoding", "chunked") {
            r.chunked().await?
        } else if let Some(len) = get(&headers, "content-length").first() {
            let len = std::str::from_utf8(len)
                .ok()
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| bad("bad content-length"))?;
            (r.exact(len).await?, Vec::new())
        } else {
            closed = true;
            (r.until_closed().await?, Vec::new())
        };
        // Bytes already here beyond the message mean its framing was wrong.
        let extra = std::mem::take(&mut r.buf);
        return Ok(Got {
            version,
            status,
            headers,
            body,
            trailers,
            extra,
            closed,
        });
    }
}

type H2Body = BoxBody<Bytes, Infallible>;
type H2Sender = hyper::client::conn::http2::SendRequest<H2Body>;

async fn h2_connect(addr: SocketAddr) -> Result<H2Sender, String> {
    let s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    // hyper's client takes 16 KiB of response fields by default; the cases send more.
    let (tx, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .max_header_list_size(1024 * 1024)
        .handshake(TokioIo::new(s))
        .await
        .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(tx)
}

async fn h2_exchange(tx: &mut H2Sender, addr: SocketAddr, req: &Req) -> Result<Got, String> {
    let mut b = http::Request::builder()
        .method(req.method)
        .uri(format!("http://{addr}{}", req.target));
    for (n, v) in &req.headers {
        b = b.header(n.as_str(), v.as_slice());
    }
    let body: H2Body = if req.body.is_empty() && req.trailers.is_empty() && req.pieces.is_empty() {
        Empty::new().boxed()
    } else {
        let mut frames = Vec::new();
        let mut at = 0;
        for size in &req.pieces {
            frames.push(Ok(http_body::Frame::data(Bytes::copy_from_slice(
                &req.body[at..at + size],
            ))));
            at += size;
        }
        if !req.trailers.is_empty() {
            let mut t = http::HeaderMap::new();
            for (n, v) in &req.trailers {
                t.append(
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    http::HeaderValue::from_bytes(v).unwrap(),
                );
            }
            frames.push(Ok(http_body::Frame::trailers(t)));
        }
        StreamBody::new(futures_util::stream::iter(frames)).boxed()
    };
    let request = b
        .body(body)
        .map_err(|e| format!("building the request: {e}"))?;
    tx.ready()
        .await
        .map_err(|e| format!("HTTP/2 connection: {e}"))?;
    let resp = tx
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP/2 request: {}", chain(&e)))?;
    let (parts, mut body) = resp.into_parts();
    let mut data = Vec::new();
    let mut trailers = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            format!(
                "HTTP/2 response body: {} (after {} B)",
                chain(&e),
                data.len()
            )
        })?;
        match frame.into_data() {
            Ok(d) => data.extend_from_slice(&d),
            Err(f) => {
                if let Ok(t) = f.into_trailers() {
                    trailers = map_fields(&t);
                }
            }
        }
    }
    Ok(Got {
        version: match parts.version {
            http::Version::HTTP_2 => "HTTP/2".to_owned(),
            v => format!("{v:?}"),
        },
        status: parts.status.as_u16(),
        headers: map_fields(&parts.headers),
        body: data,
        trailers,
        extra: Vec::new(),
        closed: false,
    })
}

/// An error with its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let _ = write!(s, ": {c}");
        cur = c.source();
    }
    s
}

/// A header map as fields, values of a name in their order.
fn map_fields(h: &http::HeaderMap) -> Fields {
    h.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Checks.

fn show(v: &[u8], max: usize) -> String {
    let s: String = v.escape_ascii().to_string();
    if s.len() <= max {
        format!("\"{s}\"")
    } else {
        let cut = (0..=max)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        format!("\"{}\"... ({} bytes)", &s[..cut], v.len())
    }
}

fn by_name(fields: &[Field]) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut m: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (n, v) in fields {
        m.entry(n.to_ascii_lowercase()).or_default().push(v.clone());
    }
    m
}

/// Per name, the values in order: a mismatch per name that differs.
fn diff_fields(what: &str, expected: &[Field], got: &[Field], out: &mut Vec<String>) {
    let e = by_name(expected);
    let g = by_name(got);
    let names: std::collections::BTreeSet<&String> = e.keys().chain(g.keys()).collect();
    for n in names {
        let ev = e.get(n).map(Vec::as_slice).unwrap_or_default();
        let gv = g.get(n).map(Vec::as_slice).unwrap_or_default();
        if ev != gv {
            let list = |vs: &[Vec<u8>]| {
                vs.iter()
                    .map(|v| show(v, 80))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push(format!(
                "{what} field {n:?}:\n        expected [{}]\n             got [{}]",
                list(ev),
                list(gv)
            ));
        }
    }
}

fn diff_body(what: &str, expected: &[u8], got: &[u8], out: &mut Vec<String>) {
    if expected == got {
        return;
    }
    let at = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    let around = |b: &[u8]| show(&b[at.min(b.len())..(at + 16).min(b.len())], 80);
    out.push(format!(
        "{what} body: expected {} bytes, got {} bytes; first difference at offset {at}: expected {} got {}",
        expected.len(),
        got.len(),
        around(expected),
        around(got)
    ));
}

/// Names a message's `Connection` field lists (hop-by-hop too).
fn connection_named(fields: &[Field]) -> Vec<String> {
    get(fields, "connection")
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `fields` (names lowercased) without hop-by-hop ones and without `also`.
fn end_to_end(fields: &[Field], also: &[&str]) -> Fields {
    let named = connection_named(fields);
    fields
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| {
            !HOP_BY_HOP.contains(&n.as_str()) && !named.contains(n) && !also.contains(&n.as_str())
        })
        .collect()
}

fn content_length(fields: &[Field]) -> Result<Option<u64>, String> {
    let v = get(fields, "content-length");
    match v.as_slice() {
        [] => Ok(None),
        [one] => std::str::from_utf8(one)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("unparsable content-length {}", show(one, 40))),
        many => Err(format!("{} content-length fields", many.len())),
    }
}

struct Ctx {
    seed: u64,
    /// The HTTP/2 client connection to each proxy, shared by the workers.
    h2: Mutex<HashMap<usize, H2Sender>>,
    /// A case run alone: failures list every field.
    verbose: bool,
    proxies: Vec<ProxyInfo>,
    up: Arc<UpState>,
}

#[derive(Clone)]
struct ProxyInfo {
    addr: SocketAddr,
    /// What sets it apart, for failure messages.
    label: &'static str,
    /// Its upstreams speak HTTP/2 over TLS (else raw HTTP/1.1 over TCP).
    h2_upstream: bool,
    /// The upstreams' names (as they record requests) and their `Host`/`:authority`.
    api: (&'static str, String),
    login: (&'static str, String),
    api_prefix: &'static str,
}

/// Whether triage reads this response before answering (so it may frame it by length).
fn inspected(method: &str, path: &str, status: u16) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    status >= 400
        || ((200..300).contains(&status)
            && ((method == "POST" && path == "/oauth/token")
                || (method == "GET"
                    && (path == "/api/v2/tokens/me"
                        || path.starts_with("/api/v2/conversations/")))))
}

fn check_request(ctx: &Ctx, case: &Case, seen: &[SeenReq], out: &mut Vec<String>) {
    let req = &case.req;
    let s = match seen {
        [one] => one,
        [] => {
            out.push("the upstream never received the request".to_owned());
            return;
        }
        many => {
            out.push(format!(
                "the upstream received the request {} times",
                many.len()
            ));
            &many[0]
        }
    };
    let info = &ctx.proxies[case.proxy];
    let login =
        req.path == "/oauth" || req.path.starts_with("/oauth/") || req.path.starts_with("/oauth?");
    let ((upstream, host), prefix) = if login {
        (&info.login, "")
    } else {
        (&info.api, info.api_prefix)
    };
    if s.upstream != *upstream {
        out.push(format!(
            "request went to the {} upstream, expected {upstream}",
            s.upstream
        ));
    }
    if s.method != req.method {
        out.push(format!("method: expected {} got {}", req.method, s.method));
    }
    let target = format!("{prefix}{}", req.path);
    if s.target != target {
        out.push(format!(
            "request-target:\n        expected {}\n             got {}",
            show(target.as_bytes(), 300),
            show(s.target.as_bytes(), 300)
        ));
    }
    let version = if info.h2_upstream {
        "HTTP/2"
    } else {
        "HTTP/1.1"
    };
    if s.version != version {
        out.push(format!(
            "upstream request version {:?}, expected {version}",
            s.version
        ));
    }
    if info.h2_upstream && s.authority.as_deref() != Some(host.as_str()) {
        out.push(format!(":authority {:?}, expected {host:?}", s.authority));
    }

    // Fields: the client's, bar hop-by-hop, Host (the upstream's), Expect (triage answered it)
    // and framing; `TE: trailers` when the client asked for trailers.
    let mut expected = end_to_end(&req.headers, &["host", "expect", "content-length"]);
    if case.proto == Proto::H2 {
        // RFC 9113 §8.2.3: cookie crumbs are one field again before HTTP/1.1.
        let crumbs: Vec<Vec<u8>> = get(&expected, "cookie")
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        if crumbs.len() > 1 {
            let at = expected.iter().position(|(n, _)| n == "cookie").unwrap();
            expected.retain(|(n, _)| n != "cookie");
            expected.insert(at, ("cookie".to_owned(), crumbs.join(&b"; "[..])));
        }
    }
    if !info.h2_upstream {
        expected.push(("host".to_owned(), host.clone().into_bytes()));
    }
    if lists(&req.headers, "te", "trailers") {
        expected.push(("te".to_owned(), b"trailers".to_vec()));
    }
    // TE is hop-by-hop, but the one triage sends of its own is compared.
    let mut got = end_to_end(&s.headers, &["content-length"]);
    got.extend(s.headers.iter().filter(|(n, _)| n == "te").cloned());
    diff_fields("request", &expected, &got, out);

    // Framing: a length the client gave stays; otherwise chunked, or a length that is right.
    let chunked = lists(&s.headers, "transfer-encoding", "chunked");
    let te_other: Vec<_> = get(&s.headers, "transfer-encoding")
        .into_iter()
        .filter(|v| !v.eq_ignore_ascii_case(b"chunked"))
        .collect();
    if !te_other.is_empty() {
        out.push(format!("upstream got transfer-encoding {te_other:?}"));
    }
    match (content_length(&req.headers), content_length(&s.headers)) {
        (_, Err(e)) => out.push(format!("upstream request: {e}")),
        (Ok(Some(sent)), Ok(got)) => {
            if got != Some(sent) || chunked {
                out.push(format!(
                    "request framing: the client sent content-length {sent}, the upstream got content-length {got:?}{}",
                    if chunked { " and chunked" } else { "" }
                ));
            }
        }
        (_, Ok(got)) => {
            let len = req.body.len() as u64;
            // (HTTP/2 frames a body of unknown length by its DATA frames.)
            let ok = match got {
                Some(l) => l == len && !chunked,
                None => chunked || len == 0 || info.h2_upstream,
            };
            if !ok {
                out.push(format!(
                    "request framing: {} body bytes sent without a length, upstream got content-length {got:?}, chunked {chunked}",
                    len
                ));
            }
        }
    }
    diff_body("request", &req.body, &s.body, out);
    // An HTTP/2 request framed by content-length and followed by trailers cannot keep both on
    // HTTP/1.1; triage keeps the length and the trailers are lost (RFC 9110 §6.5.1 lets an
    // intermediary discard them).
    let trailers_lost =
        case.proto == Proto::H2 && matches!(req.framing, ReqFraming::Length) && !info.h2_upstream;
    let expected_trailers = if trailers_lost {
        &[][..]
    } else {
        &req.trailers[..]
    };
    diff_fields("request trailer", expected_trailers, &s.trailers, out);
}

fn check_response(case: &Case, got: &Got, out: &mut Vec<String>) -> bool {
    let req = &case.req;
    let plan = &case.resp;
    if got.status != plan.status {
        let ps = get(&got.headers, "proxy-status")
            .iter()
            .map(|v| show(v, 300))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(format!(
            "status: expected {} got {} (proxy-status: [{ps}], body {})",
            plan.status,
            got.status,
            show(&got.body, 300)
        ));
        return false;
    }
    let failed = got.status >= 400;
    // An intermediary speaks its own HTTP version (RFC 9110 §6.2), which is the client's.
    if got.version != case.proto.version() {
        out.push(format!(
            "status line version: expected {} got {}",
            case.proto.version(),
            got.version
        ));
    }

    // triage's own fields: only on failures, Proxy-Status only beside a diagnosis.
    let own: Vec<&String> = got
        .headers
        .iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("triage-"))
        .collect();
    let diagnosed = own.iter().any(|n| *n == "triage-rule");
    if !own.is_empty() && !failed {
        out.push(format!(
            "triage fields on a {} response: {own:?}",
            got.status
        ));
    }
    let up_ps: Vec<&[u8]> = get(&plan.headers, "proxy-status");
    let got_ps: Vec<&[u8]> = get(&got.headers, "proxy-status");
    if got_ps.len() < up_ps.len() || got_ps[..up_ps.len()] != up_ps[..] {
        out.push(format!(
            "proxy-status: the upstream's [{}] must come first and unchanged, got [{}]",
            up_ps
                .iter()
                .map(|v| show(v, 80))
                .collect::<Vec<_>>()
                .join(", "),
            got_ps
                .iter()
                .map(|v| show(v, 80))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else if got_ps.len() > up_ps.len() && !(failed && diagnosed) {
        out.push(format!(
            "proxy-status added on a {} response that was not diagnosed: {}",
            got.status,
            show(got_ps[up_ps.len()..][0], 120)
        ));
    }

    let head_req = req.method == "HEAD";
    let bodiless = head_req || matches!(plan.status, 204 | 304);
    // hyper's HTTP/1 server leaves `Trailer` out where no chunked body can follow (HEAD, 204,
    // 304, an HTTP/1.0 client), so no trailers can be announced there.
    let dropped: &[&str] = if case.proto == Proto::H10 || (case.proto.is_h1() && bodiless) {
        &["content-length", "trailer"]
    } else {
        &["content-length"]
    };
    let expected = end_to_end(&plan.headers, dropped);
    let mut got_fields = end_to_end(&got.headers, dropped);
    got_fields.retain(|(n, _)| !n.starts_with("triage-"));
    // triage's Proxy-Status follows the upstream's, which are compared as fields.
    let mut kept_ps = 0;
    got_fields.retain(|(n, _)| {
        if n != "proxy-status" {
            return true;
        }
        kept_ps += 1;
        kept_ps <= up_ps.len()
    });
    // A proxy must add a Date the upstream did not send (RFC 9110 §6.6.1).
    if get(&plan.headers, "date").is_empty() {
        let dates = get(&got_fields, "date").len();
        if dates > 1 {
            out.push(format!("{dates} date fields where the upstream sent none"));
        }
        got_fields.retain(|(n, _)| n != "date");
    }
    diff_fields("response", &expected, &got_fields, out);

    // Content-Length: the upstream's stays; where it sent none, one may appear only on a body
    // triage read whole before answering, and must then be right.
    let expected_body: &[u8] = if bodiless { &[] } else { &plan.body };
    match (content_length(&plan.headers), content_length(&got.headers)) {
        (_, Err(e)) => out.push(format!("response: {e}")),
        // hyper's HTTP/1.1 server writes no content-length on a 304 (it has no body to frame),
        // though the upstream may state the representation's length there (RFC 9110 §8.6).
        (Ok(Some(_)), Ok(None)) if case.proto.is_h1() && plan.status == 304 => {}
        (Ok(Some(up)), Ok(got_cl)) => {
            if got_cl != Some(up) {
                out.push(format!(
                    "response content-length: the upstream sent {up}, the client got {got_cl:?}"
                ));
            }
        }
        (_, Ok(Some(got_cl))) => {
            // (An empty body's length is known however it was framed.)
            let allowed = !bodiless
                && (inspected(req.method, &req.path, plan.status) || expected_body.is_empty())
                && got_cl == expected_body.len() as u64;
            if !allowed {
                out.push(format!(
                    "response content-length {got_cl} where the upstream sent none ({} body bytes{})",
                    expected_body.len(),
                    if bodiless { ", bodiless" } else { "" }
                ));
            }
        }
        (_, Ok(None)) => {}
    }
    diff_body("response", expected_body, &got.body, out);
    if !got.extra.is_empty() {
        out.push(format!(
            "{} bytes after the end of the response: {}",
            got.extra.len(),
            show(&got.extra, 80)
        ));
    }
    // HTTP/1.1 carries trailers only after a chunked body, so a body the upstream (HTTP/2)
    // gave a length loses them there; RFC 9110 §6.5.1 lets an intermediary discard them.
    let trailers_expected = match case.proto {
        Proto::H2 => true,
        Proto::H11 => {
            lists(&req.headers, "te", "trailers") && get(&plan.headers, "content-length").is_empty()
        }
        Proto::H10 => false,
    };
    let expected_trailers: Fields = if trailers_expected && !bodiless {
        plan.trailers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    } else {
        Vec::new()
    };
    diff_fields("response trailer", &expected_trailers, &got.trailers, out);
    diagnosed
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Failure {
    n: usize,
    desc: String,
    problems: Vec<String>,
}

#[derive(Default)]
struct Stats {
    h10: usize,
    h11: usize,
    h2: usize,
    diagnosed: usize,
    failures_seen: usize,
    bytes: usize,
}

const CASE_TIMEOUT: Duration = Duration::from_secs(20);

async fn run_cases(ctx: Arc<Ctx>, cases: Vec<usize>, stats: Arc<Mutex<Stats>>) -> Vec<Failure> {
    let mut failures = Vec::new();
    let mut h1: HashMap<usize, H1Conn> = HashMap::new();
    for n in cases {
        let case = Gen {
            rng: Rng::new(case_seed(ctx.seed, n)),
            proxies: &ctx.proxies,
        }
        .case(n);
        ctx.up.plans.lock().unwrap().insert(n, case.resp.clone());
        let addr = ctx.proxies[case.proxy].addr;
        let mut problems = Vec::new();
        let got = tokio::time::timeout(CASE_TIMEOUT, async {
            match case.proto {
                Proto::H10 | Proto::H11 => {
                    // An HTTP/1.0 exchange gets a connection of its own.
                    if case.fresh || case.proto == Proto::H10 {
                        h1.remove(&case.proxy);
                    }
                    let conn = match h1.entry(case.proxy) {
                        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            let s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                            let _ = s.set_nodelay(true);
                            let (r, w) = s.into_split();
                            v.insert(H1Conn {
                                r: Reader::new(r),
                                w,
                            })
                        }
                    };
                    let got = h1_exchange(conn, &case.req, case.proto.version()).await;
                    if case.proto == Proto::H10 || !matches!(&got, Ok(g) if !g.closed) {
                        h1.remove(&case.proxy);
                    }
                    got.map_err(|e| format!("{} exchange: {e}", case.proto.version()))
                }
                Proto::H2 => {
                    // One HTTP/2 connection per proxy, shared by the workers: their exchanges
                    // are concurrent streams on it.
                    let shared = (!case.fresh)
                        .then(|| ctx.h2.lock().unwrap().get(&case.proxy).cloned())
                        .flatten();
                    let mut tx = match shared {
                        Some(tx) => tx,
                        None => {
                            let tx = h2_connect(addr).await?;
                            ctx.h2.lock().unwrap().insert(case.proxy, tx.clone());
                            tx
                        }
                    };
                    h2_exchange(&mut tx, addr, &case.req).await
                }
            }
        })
        .await;
        // An upstream that answered early records the request once it has read the body.
        let deadline = Instant::now() + Duration::from_secs(5);
        let seen = loop {
            let seen = ctx.up.seen.lock().unwrap().remove(&n);
            match seen {
                Some(s) => break s,
                None if case.resp.early && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                None => break Vec::new(),
            }
        };
        ctx.up.plans.lock().unwrap().remove(&n);
        let mut diagnosed = false;
        match got {
            Err(_) => {
                problems.push(format!("no complete answer within {CASE_TIMEOUT:?}"));
            }
            Ok(Err(e)) => problems.push(e),
            Ok(Ok(got)) => {
                diagnosed = check_response(&case, &got, &mut problems);
            }
        }
        check_request(&ctx, &case, &seen, &mut problems);
        {
            let mut st = stats.lock().unwrap();
            match case.proto {
                Proto::H10 => st.h10 += 1,
                Proto::H11 => st.h11 += 1,
                Proto::H2 => st.h2 += 1,
            }
            st.diagnosed += usize::from(diagnosed);
            st.failures_seen += usize::from(case.resp.status >= 400);
            st.bytes += case.req.body.len() + case.resp.body.len();
        }
        if !problems.is_empty() {
            // A failed exchange may leave its connection unusable: the next case starts afresh.
            h1.remove(&case.proxy);
            if case.proto == Proto::H2 {
                ctx.h2.lock().unwrap().remove(&case.proxy);
            }
            let mut desc = case.describe();
            if ctx.verbose {
                desc = format!("{desc}\n{}", case.dump());
            }
            failures.push(Failure { n, desc, problems });
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_exchanges_pass_through_unchanged() {
    let seed = fuzz::seed();
    let count = fuzz::cases(200);
    let only = fuzz::only_case();
    eprintln!("proxy_differential: seed {seed} ({count} cases)");
    if let Ok(filter) = std::env::var("TRIAGE_FUZZ_LOG") {
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .finish(),
        );
    }

    let up = Arc::new(UpState::default());
    let api = raw_upstream("api", up.clone()).await;
    let login = raw_upstream("login", up.clone()).await;
    let certs_dir = tempfile::tempdir().unwrap();
    let certs = triage::certs::generate(certs_dir.path(), false).unwrap();
    let tls = common::tls_acceptor(&certs, &[b"h2"]);
    let api_h2 = h2_upstream("api-h2", up.clone(), tls.clone()).await;
    let login_h2 = h2_upstream("login-h2", up.clone(), tls).await;
    // Two proxies in front of raw HTTP/1.1 upstreams (one with a path prefix and a small
    // inspection limit), one in front of HTTP/2 upstreams over TLS, as Genesys Cloud's are.
    let setups = [
        ("HTTP/1.1 upstreams", "", 1024 * 1024, false),
        (
            "HTTP/1.1 upstreams, api prefix /gw/api, 2 KiB inspect limit",
            "/gw/api",
            2048,
            false,
        ),
        (
            "HTTP/2 upstreams over TLS, 4 KiB inspect limit",
            "",
            4096,
            true,
        ),
    ];
    let mut proxies = Vec::new();
    for (label, api_prefix, limit, h2_upstream) in setups {
        let (api_url, login_url, api_host, login_host, names) = if h2_upstream {
            (
                format!("https://localhost:{api_h2}{api_prefix}"),
                format!("https://localhost:{login_h2}"),
                format!("localhost:{api_h2}"),
                format!("localhost:{login_h2}"),
                ("api-h2", "login-h2"),
            )
        } else {
            (
                format!("http://{api}{api_prefix}"),
                format!("http://{login}"),
                api.to_string(),
                login.to_string(),
                ("api", "login"),
            )
        };
        let mut cfg = common::config(&api_url, &login_url);
        cfg.inspect_limit = limit;
        cfg.ca_file = Some(certs.ca_cert.clone());
        let p = common::proxy_with(cfg, common::diagnosing(false)).await;
        proxies.push((
            ProxyInfo {
                addr: p.addr,
                label,
                h2_upstream,
                api: (names.0, api_host),
                login: (names.1, login_host),
                api_prefix,
            },
            p,
        ));
    }
    let ctx = Arc::new(Ctx {
        seed,
        h2: Mutex::new(HashMap::new()),
        verbose: only.is_some(),
        proxies: proxies.iter().map(|(i, _)| i.clone()).collect(),
        up: up.clone(),
    });

    let started = Instant::now();
    let stats = Arc::new(Mutex::new(Stats::default()));
    let all: Vec<usize> = match only {
        Some(k) => vec![k],
        None => (0..count).collect(),
    };
    const WORKERS: usize = 4;
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let mine: Vec<usize> = all.iter().copied().filter(|n| n % WORKERS == w).collect();
        tasks.push(tokio::spawn(run_cases(ctx.clone(), mine, stats.clone())));
    }
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.expect("a worker panicked"));
    }
    failures.sort_by_key(|f| f.n);
    let st = stats.lock().unwrap();
    eprintln!(
        "proxy_differential: {} cases (HTTP/1.0 {}, HTTP/1.1 {}, HTTP/2 {}) in {:.1?}, {} MiB of bodies, {} of {} failures diagnosed",
        all.len(),
        st.h10,
        st.h11,
        st.h2,
        started.elapsed(),
        st.bytes / (1024 * 1024),
        st.diagnosed,
        st.failures_seen
    );
    let upstream_errors = up.errors.lock().unwrap().clone();

    let mut report = String::new();
    const SHOWN: usize = 10;
    for f in failures.iter().take(SHOWN) {
        let _ = write!(report, "\ncase {}: {}", f.n, f.desc);
        for p in &f.problems {
            let _ = write!(report, "\n  - {p}");
        }
    }
    if failures.len() > SHOWN {
        let rest: Vec<String> = failures[SHOWN..].iter().map(|f| f.n.to_string()).collect();
        let _ = write!(report, "\n(and cases {})", rest.join(", "));
    }
    if !upstream_errors.is_empty() {
        let _ = write!(report, "\nupstream errors:");
        for e in upstream_errors.iter().take(8) {
            let _ = write!(report, "\n  - {e}");
        }
    }
    assert!(
        failures.is_empty() && upstream_errors.is_empty(),
        "{} of {} cases failed, seed {seed}; one reproduces with\n  TRIAGE_FUZZ_SEED={seed} TRIAGE_FUZZ_CASE=<case> cargo test --test proxy_differential\n{report}",
        failures.len(),
        all.len()
    );
    if only.is_none() && all.len() >= 100 {
        assert!(
            st.diagnosed > 0,
            "no failure was diagnosed in {} cases: the diagnosis path was not exercised",
            all.len()
        );
    }
}

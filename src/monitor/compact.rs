//! An exchange as the dashboard's ring keeps it: path, query and both heads packed into one
//! allocation, unpacked into an [`Exchange`] only when a page asks for it.
//!
//! Why: the ring holds the last thousand exchanges, and each new one evicts the oldest. Kept
//! as `Exchange`s, every eviction walks two `HeaderMap`s, a dozen small allocations written a
//! thousand exchanges ago and long out of the CPU's caches; and the proxy would have to copy
//! every header value out of hyper's read buffers, which the maps would otherwise keep alive.
//! Packed, an eviction frees one block without reading it, and the proxy's hot path copies
//! nothing for the dashboard's sake.
//!
//! The block holds `path`, `query`, then each head as `name:value\n` lines: header names cannot
//! hold `:` and values cannot hold `\n` (RFC 9110 §5.1, §5.5; `http` enforces both), so the
//! text splits back unambiguously.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::exchange::{
    BodyPrefix, Exchange, Inspection, Origin, Request, Response, Timings, UpstreamKind,
};

/// One packed exchange. Body prefixes stay shared `Bytes`: triage's own copies, never slices
/// of hyper's buffers.
pub(super) struct Compact {
    pub seq: u64,
    origin: Origin,
    started_at: SystemTime,
    timings: Timings,
    inspection: Inspection,
    method: Method,
    upstream: UpstreamKind,
    host: Option<Arc<str>>,
    status: Option<StatusCode>,
    request_body: BodyPrefix,
    response_body: BodyPrefix,
    has_query: bool,
    /// Where `path`, `query` and the request head end in `block`; the response head is the rest.
    path_end: u32,
    query_end: u32,
    request_end: u32,
    block: Box<[u8]>,
}

impl Compact {
    /// Packs `ex`, cutting each body prefix to `max_body` bytes.
    pub fn pack(ex: &Exchange, max_body: usize) -> Compact {
        let req = &ex.request;
        let query = req.query.as_deref().unwrap_or("");
        let resp_headers = ex.response.as_ref().map(|r| &r.headers);
        let len = req.path.len()
            + query.len()
            + head_len(&req.headers)
            + resp_headers.map_or(0, head_len);
        let mut block = Vec::with_capacity(len);
        block.extend_from_slice(req.path.as_bytes());
        let path_end = block.len();
        block.extend_from_slice(query.as_bytes());
        let query_end = block.len();
        put_head(&mut block, &req.headers);
        let request_end = block.len();
        if let Some(h) = resp_headers {
            put_head(&mut block, h);
        }
        // Heads are bounded by hyper's buffers (64 KiB upstream) and paths by the request
        // line, far below 4 GiB; saturate rather than wrap all the same.
        let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Compact {
            seq: ex.seq,
            origin: ex.origin.clone(),
            started_at: ex.started_at,
            timings: ex.timings,
            inspection: ex.inspection,
            method: req.method.clone(),
            upstream: req.upstream,
            host: req.host.clone(),
            status: ex.response.as_ref().map(|r| r.status),
            request_body: capped(&req.body, max_body),
            response_body: ex
                .response
                .as_ref()
                .map(|r| capped(&r.body, max_body))
                .unwrap_or_default(),
            has_query: req.query.is_some(),
            path_end: at(path_end),
            query_end: at(query_end),
            request_end: at(request_end),
            block: block.into_boxed_slice(),
        }
    }

    /// The exchange again, as it was packed (bodies as cut).
    pub fn unpack(&self) -> Exchange {
        let b = &self.block;
        let (p, q, r) = (
            self.path_end as usize,
            self.query_end as usize,
            self.request_end as usize,
        );
        let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
        Exchange {
            seq: self.seq,
            origin: self.origin.clone(),
            started_at: self.started_at,
            request: Request {
                method: self.method.clone(),
                path: text(&b[..p]),
                query: self.has_query.then(|| text(&b[p..q])),
                headers: get_head(&b[q..r]),
                body: self.request_body.clone(),
                upstream: self.upstream,
                host: self.host.clone(),
            },
            response: self.status.map(|status| Response {
                status,
                headers: get_head(&b[r..]),
                body: self.response_body.clone(),
            }),
            timings: self.timings,
            inspection: self.inspection,
        }
    }
}

fn head_len(h: &HeaderMap) -> usize {
    h.iter().map(|(n, v)| n.as_str().len() + v.len() + 2).sum()
}

fn put_head(block: &mut Vec<u8>, h: &HeaderMap) {
    for (name, value) in h {
        block.extend_from_slice(name.as_str().as_bytes());
        block.push(b':');
        block.extend_from_slice(value.as_bytes());
        block.push(b'\n');
    }
}

fn get_head(text: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for line in text.split(|&c| c == b'\n') {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        // Both parts were a valid name and value when packed.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) {
            h.append(n, v);
        }
    }
    h
}

/// A body prefix cut to `max` bytes, copying so that the rest of a large buffer is not kept
/// alive.
fn capped(body: &BodyPrefix, max: usize) -> BodyPrefix {
    if body.bytes.len() > max {
        BodyPrefix {
            bytes: Bytes::copy_from_slice(&body.bytes[..max]),
            complete: false,
        }
    } else {
        body.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(query: Option<&str>, response: bool) -> Exchange {
        let mut req_h = HeaderMap::new();
        req_h.append("authorization", "Bearer t:with:colons".parse().unwrap());
        req_h.append("x-a", "1".parse().unwrap());
        req_h.append("x-a", "two".parse().unwrap());
        req_h.append("x-empty", HeaderValue::from_static(""));
        req_h.append("x-bytes", HeaderValue::from_bytes(b"caf\xe9\tx").unwrap());
        let mut resp_h = HeaderMap::new();
        resp_h.append("content-type", "application/json".parse().unwrap());
        resp_h.append("set-cookie", "a=1".parse().unwrap());
        resp_h.append("set-cookie", "b=2".parse().unwrap());
        Exchange {
            seq: 7,
            origin: Origin::Live,
            started_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(9),
            request: Request {
                method: Method::from_bytes(b"PURGE").unwrap(),
                path: "/api/v2/a%2Fb/é".into(),
                query: query.map(str::to_owned),
                headers: req_h,
                body: BodyPrefix::complete(&b"{\"a\":1}"[..]),
                upstream: UpstreamKind::Login,
                host: Some("api.example".into()),
            },
            response: response.then(|| Response {
                status: StatusCode::CONFLICT,
                headers: resp_h,
                body: BodyPrefix::complete(vec![b'x'; 100]),
            }),
            timings: Timings {
                upstream_ms: Some(3),
                total_ms: Some(4),
            },
            inspection: Inspection::Complete,
        }
    }

    fn same(a: &Exchange, b: &Exchange) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn unpacks_what_was_packed() {
        for query in [None, Some(""), Some("a=%20&b=:")] {
            for response in [false, true] {
                let ex = exchange(query, response);
                same(&Compact::pack(&ex, 1024).unpack(), &ex);
            }
        }
    }

    #[test]
    fn bodies_are_cut_and_marked_incomplete() {
        let ex = exchange(None, true);
        let got = Compact::pack(&ex, 5).unpack();
        assert_eq!(&got.request.body.bytes[..], b"{\"a\":");
        assert!(!got.request.body.complete);
        let body = &got.response.unwrap().body;
        assert_eq!(&body.bytes[..], b"xxxxx");
        assert!(!body.complete);
    }
}

//! An exchange as the dashboard's ring keeps it: path, query, both heads, both body prefixes and
//! the diagnoses packed into one allocation, unpacked only when a page asks for them.
//!
//! Why: the ring holds the last thousand exchanges, and each new one evicts the oldest. Kept
//! as `Exchange`s and `Diagnosis`es, every eviction walked two `HeaderMap`s, the bodies and
//! each diagnosis's strings: a few dozen allocations written a thousand exchanges ago and long
//! out of the CPU's caches (callgrind's cache model counted ~44 last-level misses per diagnosed
//! 409 for the ring alone). The proxy also had to copy every header value out of hyper's read
//! buffers, which the maps would otherwise have kept alive. Packed, an eviction frees the
//! entry and its one block without walking what they hold, and the proxy's hot path copies
//! nothing for the dashboard's sake.
//!
//! The block holds `path`, `query`, then each head as `name:value\n` lines (header names cannot
//! hold `:` and values cannot hold `\n`, RFC 9110 §5.1, §5.5, and `http` enforces both, so the
//! text splits back unambiguously), then the body prefixes, then the diagnoses as
//! length-prefixed fields.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::diagnose::Diagnosis;
use crate::exchange::{
    BodyPrefix, Exchange, Inspection, Origin, Request, Response, Timings, UpstreamKind,
};
use crate::rules::{Confidence, Severity};

/// One packed exchange with its diagnoses.
pub(super) struct Compact {
    pub seq: u64,
    origin: Origin,
    started_at: SystemTime,
    timings: Timings,
    inspection: Inspection,
    method: Method,
    upstream: UpstreamKind,
    host: Option<Arc<str>>,
    base_url: Option<Arc<str>>,
    status: Option<StatusCode>,
    version: Option<http::Version>,
    has_query: bool,
    request_complete: bool,
    response_complete: bool,
    /// Where each part ends in `block`: path, query, request head, response head, request
    /// body, response body; the diagnoses are the rest.
    ends: [u32; 6],
    /// Kept with its spare capacity: shrinking it to fit would copy it.
    block: Vec<u8>,
}

impl Compact {
    /// Packs `ex` and its diagnoses, cutting each body prefix to `max_body` bytes.
    pub fn pack(ex: &Exchange, diagnoses: &[Diagnosis], max_body: usize) -> Compact {
        let req = &ex.request;
        let resp = ex.response.as_ref();
        let query = req.query.as_deref().unwrap_or("");
        let (req_body, request_complete) = cut(&req.body, max_body);
        let (resp_body, response_complete) =
            resp.map_or((&[][..], false), |r| cut(&r.body, max_body));
        let len = req.path.len()
            + query.len()
            + head_guess(&req.headers)
            + resp.map_or(0, |r| head_guess(&r.headers))
            + req_body.len()
            + resp_body.len()
            + diagnoses.iter().map(diagnosis_len).sum::<usize>();
        let mut block = Vec::with_capacity(len);
        // Parts are bounded (heads by hyper's buffers, bodies by `max_body`, texts by the
        // rules) far below 4 GiB; saturate rather than wrap all the same.
        let end = |b: &Vec<u8>| u32::try_from(b.len()).unwrap_or(u32::MAX);
        let mut ends = [0; 6];
        block.extend_from_slice(req.path.as_bytes());
        ends[0] = end(&block);
        block.extend_from_slice(query.as_bytes());
        ends[1] = end(&block);
        put_head(&mut block, &req.headers);
        ends[2] = end(&block);
        if let Some(r) = resp {
            put_head(&mut block, &r.headers);
        }
        ends[3] = end(&block);
        block.extend_from_slice(req_body);
        ends[4] = end(&block);
        block.extend_from_slice(resp_body);
        ends[5] = end(&block);
        for d in diagnoses {
            put_diagnosis(&mut block, d);
        }
        Compact {
            seq: ex.seq,
            origin: ex.origin.clone(),
            started_at: ex.started_at,
            timings: ex.timings,
            inspection: ex.inspection,
            method: req.method.clone(),
            upstream: req.upstream,
            host: req.host.clone(),
            base_url: req.base_url.clone(),
            status: resp.map(|r| r.status),
            version: resp.and_then(|r| r.version),
            has_query: req.query.is_some(),
            request_complete,
            response_complete,
            ends,
            block,
        }
    }

    fn part(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.block.len(), |&e| e as usize);
        &self.block[start..end]
    }

    /// The exchange again, as it was packed (bodies as cut).
    pub fn unpack(&self) -> Exchange {
        let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
        Exchange {
            seq: self.seq,
            origin: self.origin.clone(),
            started_at: self.started_at,
            request: Request {
                method: self.method.clone(),
                path: text(self.part(0)),
                query: self.has_query.then(|| text(self.part(1))),
                headers: get_head(self.part(2)),
                body: BodyPrefix {
                    bytes: Bytes::copy_from_slice(self.part(4)),
                    complete: self.request_complete,
                    original_size: None,
                    unknown_why: None,
                },
                upstream: self.upstream,
                host: self.host.clone(),
                base_url: self.base_url.clone(),
                shown: crate::exchange::Shown::All,
            },
            response: self.status.map(|status| Response {
                status,
                version: self.version,
                headers: get_head(self.part(3)),
                body: BodyPrefix {
                    bytes: Bytes::copy_from_slice(self.part(5)),
                    complete: self.response_complete,
                    original_size: None,
                    unknown_why: None,
                },
                // Only live exchanges are packed, and the proxy saw every header.
                headers_shown: true,
            }),
            timings: self.timings,
            inspection: self.inspection,
            outcome: None,
        }
    }

    /// The diagnoses, best first, as they were packed.
    pub fn diagnoses(&self) -> Vec<Diagnosis> {
        let mut r = Reader(self.part(6));
        let mut out = Vec::new();
        while !r.0.is_empty() {
            match get_diagnosis(&mut r) {
                Some(d) => out.push(d),
                // Cannot happen: the block was written by `put_diagnosis`.
                None => break,
            }
        }
        out
    }
}

/// A body prefix cut to `max` bytes, and whether it is still the whole body.
fn cut(b: &BodyPrefix, max: usize) -> (&[u8], bool) {
    let n = b.bytes.len().min(max);
    (&b.bytes[..n], b.complete && n == b.bytes.len())
}

/// Room for a head's lines, guessed from its number of values: summing the real lengths
/// would walk the map twice, and a guess short by a little costs one reallocation.
fn head_guess(h: &HeaderMap) -> usize {
    h.len() * 48
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

const LEN: usize = 4;

fn diagnosis_len(d: &Diagnosis) -> usize {
    let s = |t: &str| LEN + t.len();
    let o = |t: Option<&str>| 1 + t.map_or(0, s);
    s(&d.rule)
        + s(&d.title)
        + 2
        + s(&d.cause)
        + s(&d.fix)
        + o(d.docs.as_deref())
        + LEN
        + d.sources.iter().map(|t| s(t)).sum::<usize>()
        + LEN
        + d.evidence.iter().map(|(n, v)| s(n) + s(v)).sum::<usize>()
        + o(d.operation.as_deref())
}

fn put_str(block: &mut Vec<u8>, t: &str) {
    put_len(block, t.len());
    block.extend_from_slice(t.as_bytes());
}

fn put_len(block: &mut Vec<u8>, n: usize) {
    block.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_opt(block: &mut Vec<u8>, t: Option<&str>) {
    block.push(u8::from(t.is_some()));
    if let Some(t) = t {
        put_str(block, t);
    }
}

fn put_diagnosis(block: &mut Vec<u8>, d: &Diagnosis) {
    put_str(block, &d.rule);
    put_str(block, &d.title);
    block.push(match d.severity {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    });
    block.push(match d.confidence {
        Confidence::Certain => 0,
        Confidence::Likely => 1,
    });
    put_str(block, &d.cause);
    put_str(block, &d.fix);
    put_opt(block, d.docs.as_deref());
    put_len(block, d.sources.len());
    for t in d.sources.iter() {
        put_str(block, t);
    }
    put_len(block, d.evidence.len());
    for (n, v) in &d.evidence {
        put_str(block, n);
        put_str(block, v);
    }
    put_opt(block, d.operation.as_deref());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn len(&mut self) -> Option<usize> {
        let b: [u8; LEN] = self.take(LEN)?.try_into().ok()?;
        Some(u32::from_le_bytes(b) as usize)
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn opt(&mut self) -> Option<Option<&'a str>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.str().map(Some),
        }
    }
}

fn get_diagnosis(r: &mut Reader<'_>) -> Option<Diagnosis> {
    let rule = r.str()?.to_owned();
    let title = r.str()?.into();
    let severity = match r.byte()? {
        0 => Severity::Error,
        1 => Severity::Warning,
        _ => Severity::Info,
    };
    let confidence = match r.byte()? {
        0 => Confidence::Certain,
        _ => Confidence::Likely,
    };
    let cause = r.str()?.to_owned();
    let fix = r.str()?.to_owned();
    let docs = r.opt()?.map(Arc::from);
    let sources = (0..r.len()?)
        .map(|_| r.str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()?
        .into();
    let evidence = (0..r.len()?)
        .map(|_| Some((Arc::from(r.str()?), Arc::from(r.str()?))))
        .collect::<Option<Vec<_>>>()?;
    let operation = r.opt()?.map(str::to_owned);
    Some(Diagnosis {
        rule,
        title,
        severity,
        confidence,
        cause,
        fix,
        docs,
        sources,
        evidence,
        operation,
    })
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
                base_url: Some("http://api.example:9000".into()),
                shown: crate::exchange::Shown::All,
            },
            response: response.then(|| Response {
                status: StatusCode::CONFLICT,
                version: Some(http::Version::HTTP_2),
                headers: resp_h,
                body: BodyPrefix::complete(vec![b'x'; 100]),
                headers_shown: true,
            }),
            timings: Timings {
                upstream_ms: Some(3),
                total_ms: Some(4),
            },
            inspection: Inspection::Complete,
            outcome: None,
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
                same(&Compact::pack(&ex, &[], 1024).unpack(), &ex);
            }
        }
    }

    #[test]
    fn diagnoses_come_back_as_they_were() {
        let d = |rule: &str, docs: bool| Diagnosis {
            rule: rule.into(),
            title: "A title".into(),
            severity: Severity::Warning,
            confidence: Confidence::Likely,
            cause: "cause with \"quotes\" and é".into(),
            fix: String::new(),
            docs: docs.then(|| "https://developer.genesys.cloud/x".into()),
            sources: vec!["GCS".to_owned(), "OAS".to_owned()].into(),
            evidence: vec![("count".into(), "3".into()), ("empty".into(), "".into())],
            operation: docs.then(|| "postX".to_owned()),
        };
        let ds = [d("request-conflict", true), d("retry-loop", false)];
        let packed = Compact::pack(&exchange(Some("a=1"), true), &ds, 1024);
        assert_eq!(format!("{:?}", packed.diagnoses()), format!("{ds:?}"));
        same(&packed.unpack(), &exchange(Some("a=1"), true));
        assert!(Compact::pack(&exchange(None, false), &[], 1024)
            .diagnoses()
            .is_empty());
    }

    #[test]
    fn bodies_are_cut_and_marked_incomplete() {
        let ex = exchange(None, true);
        let got = Compact::pack(&ex, &[], 5).unpack();
        assert_eq!(&got.request.body.bytes[..], b"{\"a\":");
        assert!(!got.request.body.complete);
        let body = &got.response.unwrap().body;
        assert_eq!(&body.bytes[..], b"xxxxx");
        assert!(!body.complete);
    }
}

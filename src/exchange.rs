//! The one type that flows through triage: an HTTP exchange as seen by the proxy (live) or read
//! back from a file (HAR, recording, `curl -i`, a pasted body). Everything downstream of the
//! readers — diagnosis, evidence, reports — sees only this type and never knows where it came from.

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// Where an exchange came from. Reports may mention it; the diagnosis never branches on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Seen live by `triage proxy`.
    Live,
    /// Read from a file; `index` counts exchanges from 0 in file order.
    File { path: String, index: usize },
}

/// Which upstream a request is (or was) meant for: the routing decision of the proxy, and for
/// offline input the host the request was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// `api.<domain>`: every Platform API operation.
    Api,
    /// `login.<domain>`: `/oauth/*`.
    Login,
}

impl UpstreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::Api => "api",
            UpstreamKind::Login => "login",
        }
    }

    /// Routing rule of FACTS.md §8: the SDKs send `/oauth/token` to the same host as the API
    /// calls, so the path alone decides.
    pub fn for_path(path: &str) -> Self {
        if path == "/oauth" || path.starts_with("/oauth/") {
            UpstreamKind::Login
        } else {
            UpstreamKind::Api
        }
    }
}

/// A body as far as triage looked at it: a bounded prefix, decoded from its content coding.
#[derive(Debug, Clone, Default)]
pub struct BodyPrefix {
    /// The (decoded) bytes seen, at most the inspection limit.
    pub bytes: Bytes,
    /// True when `bytes` is the whole (decoded) body.
    pub complete: bool,
    /// The size in bytes of the whole (decoded) body as it went over the wire, when that is
    /// known and `bytes` no longer says it: redaction changed them, or a limit cut them after
    /// the whole body was seen. `None` otherwise; [`BodyPrefix::size`] is the size either way.
    pub original_size: Option<u64>,
    /// Why the file that gave the exchange does not give this body (none of it, though it had
    /// one, or text triage cannot decode), for the report to say beside the exchange; `None`
    /// when it gives what it holds. Such a body is not `complete`.
    pub unknown_why: Option<std::sync::Arc<str>>,
}

impl BodyPrefix {
    pub fn complete(bytes: impl Into<Bytes>) -> Self {
        BodyPrefix {
            bytes: bytes.into(),
            complete: true,
            original_size: None,
            unknown_why: None,
        }
    }

    /// The size in bytes of the whole (decoded) body as sent or received, when known: a HAR's
    /// `bodySize` must not be the length of a redacted copy or of a prefix.
    pub fn size(&self) -> Option<u64> {
        self.original_size
            .or_else(|| self.complete.then_some(self.bytes.len() as u64))
    }

    /// The body parsed as JSON, when it is complete and is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        if !self.complete || self.bytes.is_empty() {
            return None;
        }
        serde_json::from_slice(&self.bytes).ok()
    }

    /// The body as UTF-8 text (lossy), for form bodies and quoting.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path exactly as sent, percent-encoding preserved, without the query; `""` when not
    /// known (see [`Request::path_known`]).
    pub path: String,
    /// The raw query string without `?`, byte-exact.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: BodyPrefix,
    /// The upstream the request went (or would go) to.
    pub upstream: UpstreamKind,
    /// The host the request was sent to, when known (`api.mypurecloud.ie`); offline readers fill
    /// it from the URL, the proxy from its configured upstream.
    pub host: Option<std::sync::Arc<str>>,
    /// Scheme and authority the request was sent to (`https://api.mypurecloud.ie`,
    /// `http://127.0.0.1:9000`), when known: the proxy's upstream, a file's URL. Never a path
    /// (a gateway's path prefix is not part of the API path the rules read).
    pub base_url: Option<std::sync::Arc<str>>,
    /// How much of the request the input showed; conditions on what it did not show neither
    /// hold nor fail (`rules::matcher`).
    pub shown: Shown,
}

/// How much of a request the input showed, so that what it left out is not taken for absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shown {
    /// Every header and the body: what the proxy saw, a triage recording or export, a pasted
    /// request, a `curl` command line that gives them.
    #[default]
    All,
    /// A HAR file from another tool. Browsers' sanitised export (Chrome's default) and redaction
    /// by hand before a file is shared drop `Authorization`, `Proxy-Authorization` and `Cookie`,
    /// so that their absence says nothing of the request; what the file holds is as sent.
    MaybeSanitized,
    /// Every header, not the body: `curl -v` output (curl does not print what it uploads),
    /// or a command line whose data is in a file (`-d @body.json`).
    HeadOnly,
    /// At most the method and URL (a bare error body; `curl -i` output with neither the request
    /// nor a command line that gives it): the headers and body are unknown, not empty.
    MethodAndUrl,
}

impl Shown {
    /// The request headers a sanitised HAR drops (lower case).
    pub const SANITISED_HEADERS: [&'static str; 3] =
        ["authorization", "proxy-authorization", "cookie"];

    /// Whether the request's header `name` (lower case) may have been left out of the input.
    pub fn may_lack_header(self, name: &str) -> bool {
        match self {
            Shown::All | Shown::HeadOnly => false,
            Shown::MaybeSanitized => Self::SANITISED_HEADERS.contains(&name),
            Shown::MethodAndUrl => true,
        }
    }
}

impl Request {
    /// The method of a request whose method is not known (a bare error body read without
    /// `--method`): the extension method `UNKNOWN`, which no rule about a real method matches
    /// and which reads honestly in reports. Never a silent `GET`.
    pub fn unknown_method() -> Method {
        Method::from_bytes(b"UNKNOWN").expect("UNKNOWN is a valid method token")
    }

    /// False when the method is [`Request::unknown_method`].
    pub fn method_known(&self) -> bool {
        self.method.as_str() != "UNKNOWN"
    }

    /// False when the path is not known: offline readers then leave `path` empty (`""`), which
    /// no real request has (the proxy always sees at least `/`).
    pub fn path_known(&self) -> bool {
        !self.path.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    /// The HTTP version the response came in, when known: the proxy's, of its connection to the
    /// upstream (the request went out on the same one); a file's, as the file says.
    pub version: Option<http::Version>,
    pub headers: HeaderMap,
    /// Decoded prefix of the body; empty when the body was not inspected.
    pub body: BodyPrefix,
    /// Whether the input showed the response's headers. Not for a bare error body, nor an SDK
    /// error printed without them: there a header the exchange lacks is unknown, not absent
    /// (the headers it holds are the few the reader could tell, such as `Content-Type`).
    pub headers_shown: bool,
}

/// An HTTP version as HAR files and recordings write it (`HTTP/1.1`, `HTTP/2`).
pub fn version_text(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// An HTTP version as tools write it: `HTTP/1.1`, `HTTP/2`, Chrome's `http/2.0` and `h2`,
/// `h3`, `http/2+quic/46` (any case). `None` for anything else, `""` included.
pub fn parse_version(s: &str) -> Option<http::Version> {
    let s = s.trim().to_ascii_lowercase();
    let v = s.strip_prefix("http/").unwrap_or(&s);
    Some(match v {
        "0.9" => http::Version::HTTP_09,
        "1.0" => http::Version::HTTP_10,
        "1.1" => http::Version::HTTP_11,
        "2" | "2.0" | "h2" | "h2c" => http::Version::HTTP_2,
        "3" | "3.0" | "h3" => http::Version::HTTP_3,
        v if v.starts_with("2+quic") || v.starts_with("h3-") => http::Version::HTTP_3,
        _ => return None,
    })
}

/// Timings in milliseconds, when known.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// From sending the request upstream to receiving the response head.
    pub upstream_ms: Option<u64>,
    /// From receiving the request to the end of the response body.
    pub total_ms: Option<u64>,
}

/// What became of the response body's inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Inspection {
    /// Nobody asked for the body (a success nobody learns from): it streamed through.
    #[default]
    NotWanted,
    /// The body was read whole (and decoded) before the response went on.
    Complete,
    /// The body was larger than the inspection limit and streamed on uninspected.
    OverLimit,
    /// The body's content coding could not be decoded.
    Undecodable,
}

impl Inspection {
    /// For an exchange read from a file: the body there is all there is to inspect, whole
    /// or cut at the reader's limit.
    pub fn of_file(response: Option<&Response>) -> Inspection {
        match response {
            Some(r) if !r.body.complete && !r.body.is_empty() => Inspection::OverLimit,
            _ => Inspection::Complete,
        }
    }
}

/// How an exchange ended when its response did not reach the client whole, as a recording
/// says (`outcome`, [`crate::record`]) or a HAR that `triage export` wrote (`_triage.outcome`).
/// Live, the proxy tells this through [`crate::inspect::Ending`] instead, as the exchange is
/// built before it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The client went away (or its connection closed) before the response was over: while
    /// triage waited for the upstream, or mid-body.
    ClientGone,
    /// triage closed the connection when its shutdown's drain deadline ran out.
    CutAtShutdown,
}

impl Outcome {
    /// The name recordings, HAR exports and reports write.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ClientGone => "client-gone",
            Outcome::CutAtShutdown => "cut-at-shutdown",
        }
    }

    /// The outcome of its name; `None` for a name this triage does not know (a newer one's).
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "client-gone" => Some(Outcome::ClientGone),
            "cut-at-shutdown" => Some(Outcome::CutAtShutdown),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Exchange {
    /// Order of arrival, from 1, per proxy process or per input file.
    pub seq: u64,
    pub origin: Origin,
    pub started_at: SystemTime,
    pub request: Request,
    /// `None` when no response was received (the upstream failed).
    pub response: Option<Response>,
    pub timings: Timings,
    pub inspection: Inspection,
    /// How it ended short of its response's end, when a file says so; `None` live (see
    /// [`Outcome`]) and for a response that reached the client whole.
    pub outcome: Option<Outcome>,
}

/// Genesys Cloud's per-request id, which support asks for. A static name: looked up by a
/// `&str`, it would be parsed again on every response.
pub static CORRELATION_ID: http::HeaderName = http::HeaderName::from_static("inin-correlation-id");

impl Exchange {
    /// Marks an exchange read from a file: its inspection is whatever body the file held.
    pub fn read_from_file(mut self) -> Self {
        self.inspection = Inspection::of_file(self.response.as_ref());
        self
    }

    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status.as_u16())
    }

    /// `ININ-Correlation-Id` of the response, or failing that the body's `contextId` (the same
    /// value, FACTS.md §2.1).
    pub fn correlation_id(&self) -> Option<String> {
        let resp = self.response.as_ref()?;
        if let Some(v) = resp
            .headers
            .get(&CORRELATION_ID)
            .and_then(|v| v.to_str().ok())
        {
            return Some(v.to_owned());
        }
        resp.body.json().and_then(|j| {
            j.get("contextId")
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_tools_write_them_and_are_written_as_har_examples_do() {
        for (text, v) in [
            ("HTTP/1.1", http::Version::HTTP_11),
            ("http/1.0", http::Version::HTTP_10),
            ("HTTP/2", http::Version::HTTP_2),
            ("http/2.0", http::Version::HTTP_2),
            ("h2", http::Version::HTTP_2),
            ("HTTP/3", http::Version::HTTP_3),
            ("h3", http::Version::HTTP_3),
            ("http/2+quic/46", http::Version::HTTP_3),
        ] {
            assert_eq!(parse_version(text), Some(v), "{text}");
        }
        for unknown in ["", "unknown", "SPDY/3"] {
            assert_eq!(parse_version(unknown), None, "{unknown:?}");
        }
        for v in [
            http::Version::HTTP_10,
            http::Version::HTTP_11,
            http::Version::HTTP_2,
            http::Version::HTTP_3,
        ] {
            assert_eq!(parse_version(version_text(v)), Some(v));
        }
        assert_eq!(version_text(http::Version::HTTP_2), "HTTP/2");
    }

    #[test]
    fn the_size_of_a_body_is_the_one_sent_not_of_what_is_kept() {
        let whole = BodyPrefix::complete(&b"12345"[..]);
        assert_eq!(whole.size(), Some(5));
        let cut = BodyPrefix {
            bytes: Bytes::from_static(b"12"),
            complete: false,
            original_size: None,
            unknown_why: None,
        };
        assert_eq!(cut.size(), None, "a prefix of a body of unknown size");
        let redacted = BodyPrefix {
            original_size: Some(5),
            unknown_why: None,
            ..BodyPrefix::complete(&b"[redacted]"[..])
        };
        assert_eq!(redacted.size(), Some(5));
    }
}

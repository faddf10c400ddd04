//! The one place where triage's own failures become responses: `Proxy-Status` (RFC 9209) with
//! an `error=` parameter and an `application/problem+json` body (RFC 9457). Relayed upstream
//! responses never carry `error=`, so a user can always tell the API's failure from triage's.

use std::borrow::Cow;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::error::Blame;

/// A failure of an exchange that triage answers itself.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct ProxyError {
    pub kind: ErrorKind,
    /// What failed, for people; may quote the underlying error.
    pub detail: String,
    /// The upstream involved, when there is one.
    pub upstream: Option<String>,
}

/// RFC 9209 §2.3 error types that triage produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    DnsError,
    ConnectionRefused,
    ConnectionTimeout,
    ConnectionTerminated,
    TlsCertificateError,
    TlsProtocolError,
    HttpResponseTimeout,
    HttpResponseIncomplete,
    /// The upstream's response head was larger than triage buffers
    /// ([`super::upstream::UPSTREAM_READ_BUFFER`]).
    HttpResponseHeaderSectionSize,
    HttpProtocolError,
    /// The client sent something triage will not forward (CONNECT, absolute-form elsewhere).
    HttpRequestDenied,
    /// The client's own request broke (its body ended early).
    HttpRequestError,
    /// The client's request body has a transfer coding triage does not decode (`gzip, chunked`).
    HttpRequestTransferCoding,
    ProxyInternalError,
    /// triage stopped before the upstream answered: the shutdown grace ran out.
    ShuttingDown,
}

impl ErrorKind {
    pub fn token(self) -> &'static str {
        match self {
            ErrorKind::DnsError => "dns_error",
            ErrorKind::ConnectionRefused => "connection_refused",
            ErrorKind::ConnectionTimeout => "connection_timeout",
            ErrorKind::ConnectionTerminated => "connection_terminated",
            ErrorKind::TlsCertificateError => "tls_certificate_error",
            ErrorKind::TlsProtocolError => "tls_protocol_error",
            ErrorKind::HttpResponseTimeout => "http_response_timeout",
            ErrorKind::HttpResponseIncomplete => "http_response_incomplete",
            ErrorKind::HttpResponseHeaderSectionSize => "http_response_header_section_size",
            ErrorKind::HttpProtocolError => "http_protocol_error",
            ErrorKind::HttpRequestDenied => "http_request_denied",
            ErrorKind::HttpRequestError | ErrorKind::HttpRequestTransferCoding => {
                "http_request_error"
            }
            ErrorKind::ProxyInternalError => "proxy_internal_error",
            // RFC 9209 has no type for an intermediary that stops; this one says the answer is
            // triage's own, not the next hop's.
            ErrorKind::ShuttingDown => "proxy_internal_response",
        }
    }

    pub fn blame(self) -> Blame {
        match self {
            ErrorKind::HttpRequestDenied
            | ErrorKind::HttpRequestError
            | ErrorKind::HttpRequestTransferCoding => Blame::Client,
            ErrorKind::ProxyInternalError | ErrorKind::ShuttingDown => Blame::Triage,
            _ => Blame::Upstream,
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorKind::ConnectionTimeout | ErrorKind::HttpResponseTimeout => {
                StatusCode::GATEWAY_TIMEOUT
            }
            ErrorKind::HttpRequestDenied => StatusCode::FORBIDDEN,
            ErrorKind::HttpRequestError => StatusCode::BAD_REQUEST,
            // RFC 9112 §6.1: a transfer coding the server does not understand.
            ErrorKind::HttpRequestTransferCoding => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::ProxyInternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    fn title(self) -> &'static str {
        match self {
            ErrorKind::DnsError => "triage could not resolve the upstream host",
            ErrorKind::ConnectionRefused => "the upstream refused the connection",
            ErrorKind::ConnectionTimeout => "connecting to the upstream timed out",
            ErrorKind::ConnectionTerminated => "the upstream closed the connection",
            ErrorKind::TlsCertificateError => "the upstream's TLS certificate is not trusted",
            ErrorKind::TlsProtocolError => "the TLS handshake with the upstream failed",
            ErrorKind::HttpResponseTimeout => "the upstream did not answer in time",
            ErrorKind::HttpResponseIncomplete => "the upstream's response was cut short",
            ErrorKind::HttpResponseHeaderSectionSize => {
                "the upstream's response head was larger than triage accepts (64 KiB, or more than 100 header fields)"
            }
            ErrorKind::HttpProtocolError => "the upstream spoke broken HTTP",
            ErrorKind::HttpRequestDenied => "triage does not forward this request",
            ErrorKind::HttpRequestError => "the client's request was incomplete",
            ErrorKind::HttpRequestTransferCoding => {
                "triage does not decode the request body's transfer coding"
            }
            ErrorKind::ProxyInternalError => "triage failed internally",
            ErrorKind::ShuttingDown => "triage is shutting down",
        }
    }

    /// The likely fix, for the problem body.
    fn fix(self) -> &'static str {
        match self {
            ErrorKind::DnsError => "Check the network and the region: `--region` must name a Genesys Cloud region (`triage proxy --help` lists them), and `--api-upstream`/`--login-upstream`, if given, must be resolvable hosts.",
            ErrorKind::ConnectionRefused => "Nothing listens at the upstream address. Check `--api-upstream`/`--login-upstream` (or `--region`) and that the network path (VPN, firewall) is open.",
            ErrorKind::ConnectionTimeout => "The upstream host did not accept a connection in time: check the network path (VPN, firewall, corporate proxy) or raise `--connect-timeout`.",
            ErrorKind::ConnectionTerminated => "The upstream dropped the connection. Retry; if it persists, check for a middlebox (corporate proxy, firewall) between triage and the API.",
            ErrorKind::TlsCertificateError => "If a corporate proxy intercepts TLS, pass its root certificate with `--ca-file corp-root.pem`. Otherwise check that the upstream host is a real Genesys Cloud host.",
            ErrorKind::TlsProtocolError => "Check that the upstream URL uses the right scheme (`https://` for Genesys Cloud) and, behind TLS interception, pass its root with `--ca-file`.",
            ErrorKind::HttpResponseTimeout => "The API did not send a response head within `--response-timeout`. Retry later, or raise the timeout for slow operations.",
            ErrorKind::HttpResponseIncomplete => "Retry the request; the connection to the API broke before the response was complete.",
            ErrorKind::HttpResponseHeaderSectionSize => "Genesys Cloud's heads are far smaller: check that the upstream URL points at the API (not a gateway or mock that sends huge or very many headers).",
            ErrorKind::HttpProtocolError => "Check that the upstream URL points at an HTTP server (Genesys Cloud, a mock, or a gateway).",
            ErrorKind::HttpRequestDenied => "Point the SDK at triage as its API host (`configuration.host = \"http://127.0.0.1:8787\"` in Python, `client.setGateway(...)` in JS), not as an HTTP proxy: triage forwards only to its configured upstreams.",
            ErrorKind::HttpRequestError => "The client stopped sending the request body before it was complete; check the client.",
            ErrorKind::HttpRequestTransferCoding => "Send the body with Content-Length or plain chunked; to compress it, use Content-Encoding instead of a transfer coding.",
            ErrorKind::ProxyInternalError => "This is a bug in triage; please report it with the log line.",
            ErrorKind::ShuttingDown => "triage was stopped (Ctrl-C or SIGTERM) while this request waited for the API, longer than the shutdown grace. The request may have reached the API: check its effect before retrying a call that is not idempotent, then retry once triage runs again (or point the SDK at the API).",
        }
    }
}

impl ProxyError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        ProxyError {
            kind,
            detail: detail.into(),
            upstream: None,
        }
    }

    pub fn with_upstream(mut self, upstream: impl Into<String>) -> Self {
        self.upstream = Some(upstream.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The likely fix: the kind's, made precise where the detail tells more.
    pub fn fix(&self) -> Cow<'static, str> {
        let d = &self.detail;
        let plain_http = self
            .upstream
            .as_deref()
            .is_some_and(|u| u.starts_with("http://"));
        match self.kind {
            // webpki refuses a certificate that is its own CA, which is what a plain
            // `openssl req -x509` makes: trusting it with --ca-file cannot help.
            ErrorKind::TlsCertificateError if d.contains("CaUsedAsEndEntity") => Cow::Borrowed(
                "The upstream presents a CA certificate as its own (what `openssl req -x509` makes by default), which TLS clients refuse whatever is trusted. Give the upstream a certificate signed by a CA, and pass that CA with `--ca-file` (`triage certs` writes such a pair for localhost: certs/triage-ca.pem, and certs/localhost.pem with its key certs/localhost.key).",
            ),
            // A TLS server that reads HTTP closes the connection or answers with an alert.
            ErrorKind::ConnectionTerminated | ErrorKind::HttpProtocolError if plain_http => {
                Cow::Owned(format!(
                    "{} If the upstream serves TLS at that address, write its URL with https://.",
                    self.kind.fix()
                ))
            }
            ErrorKind::HttpRequestError if d.contains("(idle timeout)") => Cow::Borrowed(
                "The client sent nothing of the request body for the whole `--idle-timeout`: raise `--idle-timeout` for a client that uploads slowly, or check the client.",
            ),
            _ => Cow::Borrowed(self.kind.fix()),
        }
    }

    /// The `Proxy-Status` value: `triage; error=<type>; details="<detail>"`.
    pub fn proxy_status(&self) -> HeaderValue {
        let v = format!(
            "triage; error={}; details={}",
            self.kind.token(),
            sf_string(&self.detail, 512)
        );
        HeaderValue::from_str(&v)
            .unwrap_or_else(|_| HeaderValue::from_static("triage; error=proxy_internal_error"))
    }

    /// The whole response triage answers with.
    pub fn into_response<B: From<Bytes>>(&self) -> Response<B> {
        let body = serde_json::json!({
            "type": format!("urn:triage:proxy-error:{}", self.kind.token()),
            "title": self.kind.title(),
            "status": self.status().as_u16(),
            "detail": self.detail,
            "fix": self.fix(),
            "blame": match self.kind.blame() { Blame::Client => "client", Blame::Upstream => "upstream", Blame::Triage => "triage" },
            "upstream": self.upstream,
            "proxy_status_error": self.kind.token(),
        });
        let bytes = Bytes::from(serde_json::to_vec_pretty(&body).expect("JSON of plain values"));
        let mut resp = Response::new(B::from(bytes.clone()));
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        h.insert("proxy-status", self.proxy_status());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

/// The answer for a `/__triage/...` path that is not one of triage's pages. Never forwarded:
/// those paths belong to triage.
pub fn not_a_page(path: &str) -> Response<Bytes> {
    let body = serde_json::json!({
        "type": "urn:triage:proxy-error:not-a-page",
        "title": "no such triage page",
        "status": 404,
        "detail": format!("{path} is reserved for triage's own pages and is never forwarded; the dashboard's pages (/__triage/, /__triage/metrics, /__triage/api/exchanges) are not served when triage runs with --no-dashboard"),
    });
    let bytes = Bytes::from(serde_json::to_vec_pretty(&body).expect("JSON of plain values"));
    let mut resp = Response::new(bytes.clone());
    *resp.status_mut() = StatusCode::NOT_FOUND;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    h.insert(
        "proxy-status",
        HeaderValue::from_static("triage; error=proxy_internal_response"),
    );
    resp
}

/// An RFC 8941 sf-string: printable ASCII only, `"` and `\` escaped, cut at `max` characters.
pub fn sf_string(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 2);
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        if i >= max {
            out.push_str("...");
            break;
        }
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

/// Maps an error of the upstream client to the RFC 9209 type it is, by walking its sources.
pub fn classify(err: &(dyn std::error::Error + 'static), connecting: bool) -> ErrorKind {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut text = String::new();
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return classify_tls(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return ErrorKind::ConnectionRefused,
                std::io::ErrorKind::TimedOut => return ErrorKind::ConnectionTimeout,
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => return ErrorKind::ConnectionTerminated,
                _ => {}
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return ErrorKind::HttpResponseIncomplete;
            }
            if h.is_parse_too_large() {
                return ErrorKind::HttpResponseHeaderSectionSize;
            }
            if h.is_parse() {
                return ErrorKind::HttpProtocolError;
            }
            if h.is_timeout() {
                return ErrorKind::HttpResponseTimeout;
            }
        }
        text.push_str(&e.to_string());
        text.push(' ');
        // An io::Error's `source()` is the source *of* the error it wraps, skipping that error
        // itself, and connectors wrap io::Errors in io::Errors: a TLS handshake's rustls error
        // sits two levels down. Step into the wrapped error instead.
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate") {
        ErrorKind::TlsCertificateError
    } else if lower.contains("tls") || lower.contains("handshake") {
        ErrorKind::TlsProtocolError
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        ErrorKind::DnsError
    } else if lower.contains("timed out") {
        ErrorKind::ConnectionTimeout
    } else if connecting {
        ErrorKind::ConnectionRefused
    } else {
        ErrorKind::ConnectionTerminated
    }
}

fn classify_tls(e: &rustls::Error) -> ErrorKind {
    match e {
        rustls::Error::InvalidCertificate(_) => ErrorKind::TlsCertificateError,
        _ => ErrorKind::TlsProtocolError,
    }
}

/// The whole error chain on one line, for `detail`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_upload_is_told_to_raise_the_idle_timeout() {
        let e = ProxyError::new(
            ErrorKind::HttpRequestError,
            "the request body stopped: no data for 3s (idle timeout)",
        );
        assert!(e.fix().contains("raise `--idle-timeout`"), "{}", e.fix());
        let e = ProxyError::new(ErrorKind::HttpRequestError, "the client closed mid-body");
        assert_eq!(e.fix(), ErrorKind::HttpRequestError.fix());
    }

    #[test]
    fn sf_string_escapes_and_strips_controls() {
        assert_eq!(sf_string("a\"b\\c\r\nd", 100), r#""a\"b\\c??d""#);
        assert_eq!(sf_string("abcdef", 3), r#""abc...""#);
    }

    #[test]
    fn problem_response_has_proxy_status_and_json() {
        let e = ProxyError::new(
            ErrorKind::ConnectionRefused,
            "connect to 127.0.0.1:1 refused",
        )
        .with_upstream("http://127.0.0.1:1");
        let r: Response<Bytes> = e.into_response();
        assert_eq!(r.status(), 502);
        assert_eq!(
            r.headers()["proxy-status"],
            r#"triage; error=connection_refused; details="connect to 127.0.0.1:1 refused""#
        );
        let j: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(j["status"], 502);
        assert_eq!(j["blame"], "upstream");
    }

    #[test]
    fn classify_io_kinds() {
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(classify(&e, true), ErrorKind::ConnectionRefused);
        let e = std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert_eq!(classify(&e, true), ErrorKind::TlsCertificateError);
    }
}

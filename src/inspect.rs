//! The seam between the proxy and everything that looks at traffic. The proxy moves bytes and
//! knows nothing of rules: it asks an [`Inspector`] whether a response body is worth reading,
//! hands it the finished [`Exchange`], and applies the [`Verdict`] it gets back. A new rule, a
//! new kind of evidence or a new report never changes forwarding code.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Method, StatusCode};

use crate::exchange::Exchange;

/// What the inspector wants the proxy to change in a response. Empty by default: the response
/// then reaches the client exactly as the upstream sent it.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// Headers appended to the response (already sanitised by the inspector).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// A replacement body, not content-encoded. The proxy then drops `Content-Encoding` and
    /// sets `Content-Length` so the response stays self-consistent.
    pub body: Option<Bytes>,
}

impl Verdict {
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.body.is_none()
    }
}

pub trait Inspector: Send + Sync + 'static {
    /// Answers a request to triage's own pages (`/__triage/...`), which are never forwarded.
    /// `None` means triage has no such page (the proxy answers 404).
    fn local(&self, req: &http::request::Parts) -> Option<http::Response<Bytes>> {
        let _ = req;
        None
    }

    /// Whether the proxy should read (up to its limit) and decode this response's body before
    /// answering. Called on the hot path for every response: keep it cheap.
    fn wants_body(&self, method: &Method, path: &str, status: StatusCode) -> bool {
        let _ = (method, path);
        status.as_u16() >= 400
    }

    /// Evidence to wait for before [`inspect`](Self::inspect) is asked about this exchange
    /// (its response head known, its body read when wanted): a fetch under way whose answer the
    /// diagnosis would cite. The inspector bounds the wait. `None`, the default and the usual
    /// answer, costs the proxy nothing.
    fn prepare(&self, exchange: &Exchange) -> Option<BoxFuture<'static, ()>> {
        let _ = exchange;
        None
    }

    /// Looks at an exchange whose response head is known and whose body, when wanted, was read.
    /// Called before the response head goes to the client, so it must not block.
    fn inspect(&self, exchange: &Exchange) -> Verdict;

    /// Called once for every exchange when it is over (response body sent, or the client
    /// left), with the final timings and how it ended; the response body is there only when
    /// [`wants_body`](Self::wants_body) asked for it. For recordings, the dashboard and
    /// metrics. Runs on the connection's task: keep it short.
    /// The exchange is handed over: keeping it costs no copy.
    fn finished(&self, exchange: Exchange, ending: Ending) {
        drop((exchange, ending));
    }
}

/// How an exchange ended, beyond what its response says: triage answered it itself (the
/// upstream failed, or the request was refused), or the client left before the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ending {
    /// triage's own answer: its status and `error=` type, with the details.
    pub answered: Option<Answered>,
    /// The client went away before the response was over.
    pub client_gone: bool,
    /// The response was cut short because the proxy shut down (not the client's doing).
    pub cut_at_shutdown: bool,
}

impl Ending {
    /// The outcome recordings and reports name, when the response did not reach its end.
    pub fn outcome(&self) -> Option<crate::exchange::Outcome> {
        if self.cut_at_shutdown {
            Some(crate::exchange::Outcome::CutAtShutdown)
        } else if self.client_gone {
            Some(crate::exchange::Outcome::ClientGone)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub status: u16,
    /// The RFC 9209 type in `Proxy-Status: triage; error=...`.
    pub error: &'static str,
    pub detail: String,
    /// The head and problem+json body the client got, for recordings: what the client saw,
    /// not something the upstream said.
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// An inspector that never changes anything: plain transparent forwarding.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoInspector;

impl Inspector for NoInspector {
    fn inspect(&self, _: &Exchange) -> Verdict {
        Verdict::default()
    }
}

//! Bodies as they stream through the proxy. Nothing here buffers a whole body: the request body
//! is teed into a bounded prefix as it passes, and the response body is a (possibly already
//! read, bounded) prefix followed by the rest of the upstream stream. Both enforce the idle
//! timeout, and the response body carries the [`FinishGuard`] that logs the exchange when the
//! body is done or the client went away.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::upstream::UpstreamBody;
use tokio::time::Sleep;

/// Errors while a body streams.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("{0}")]
    Hyper(#[from] hyper::Error),
    #[error("no data for {0:?} (idle timeout)")]
    Idle(Duration),
}

/// An idle timer that costs nothing until a poll finds the body not ready.
struct Idle {
    dur: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Idle {
    fn new(dur: Duration) -> Self {
        Idle { dur, sleep: None }
    }

    fn activity(&mut self) {
        if let Some(s) = self.sleep.as_mut() {
            s.as_mut().reset((Instant::now() + self.dur).into());
        }
    }

    /// Called when the inner body is pending; true once the body was silent for too long.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let dur = self.dur;
        let s = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(dur)));
        s.as_mut().poll(cx).is_ready()
    }
}

/// The bounded copy of a request body that the tee fills as the body passes; it also tells
/// when the upload is over, which is when the wait for the response head starts to count.
#[derive(Debug, Default)]
pub struct Capture {
    state: Mutex<CaptureState>,
    ended: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct CaptureState {
    bytes: BytesMut,
    limit: usize,
    complete: bool,
    client_error: bool,
    ended: bool,
}

impl Capture {
    pub fn new(limit: usize) -> Self {
        Capture {
            state: Mutex::new(CaptureState {
                limit,
                ..Default::default()
            }),
            ended: tokio::sync::Notify::new(),
        }
    }

    /// Resolves once the request body has ended, whole or broken.
    pub async fn ended(&self) {
        let notified = self.ended.notified();
        tokio::pin!(notified);
        // Registered before the check, so an end between the two is not missed.
        notified.as_mut().enable();
        if self.state.lock().unwrap_or_else(|p| p.into_inner()).ended {
            return;
        }
        notified.await;
    }

    /// The prefix captured so far and whether it is the whole body.
    /// Most bytes kept.
    pub fn limit(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).limit
    }

    pub fn snapshot(&self) -> (Bytes, bool) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (Bytes::copy_from_slice(&s.bytes), s.complete)
    }

    /// True when the client's body broke (it disconnected or sent a malformed body).
    pub fn client_error(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .client_error
    }

    fn push(&self, data: &[u8]) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let room = s.limit.saturating_sub(s.bytes.len());
        if data.len() > room {
            // Past the limit the body is no longer whole; `complete` stays false.
            s.bytes.extend_from_slice(&data[..room]);
            s.limit = 0;
        } else {
            s.bytes.extend_from_slice(data);
        }
    }

    fn end(&self, error: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if error {
            s.client_error = true;
        } else if s.limit > 0 || s.bytes.is_empty() {
            s.complete = true;
        }
        s.ended = true;
        drop(s);
        self.ended.notify_waiters();
    }
}

pin_project_lite::pin_project! {
    /// The client's request body on its way upstream, teeing a bounded prefix.
    pub struct TeeBody {
        #[pin]
        inner: Option<Incoming>,
        capture: Option<Arc<Capture>>,
        idle: Idle,
    }
}

impl TeeBody {
    pub fn new(inner: Incoming, capture: Option<Arc<Capture>>, idle: Duration) -> Self {
        TeeBody {
            inner: Some(inner),
            capture,
            idle: Idle::new(idle),
        }
    }

    /// A body with no bytes (for requests triage makes itself).
    pub fn empty() -> Self {
        TeeBody {
            inner: None,
            capture: None,
            idle: Idle::new(Duration::from_secs(1)),
        }
    }
}

impl Body for TeeBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let mut inner = inner;
        match inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let inner_ended = inner.is_end_stream();
                this.idle.activity();
                if let (Some(c), Some(data)) = (this.capture.as_ref(), frame.data_ref()) {
                    c.push(data);
                    // A client stops polling once the body says it is over; note it now.
                    if inner_ended {
                        c.end(false);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(c) = this.capture.as_ref() {
                    c.end(true);
                }
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                if let Some(c) = this.capture.as_ref() {
                    c.end(false);
                }
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.idle.expired(cx) {
                    if let Some(c) = this.capture.as_ref() {
                        c.end(true);
                    }
                    return Poll::Ready(Some(Err(BodyError::Idle(this.idle.dur))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

/// Runs once when a response body is over — fully sent, failed, or dropped because the client
/// went away — so that every exchange is logged exactly once with its real total time.
pub struct FinishGuard {
    // Boxed: the exchange it carries is most of its size, and hyper moves a response body
    // several times on its way out; one allocation costs less than copying ~700 bytes each
    // time (docs/benchmarks.md).
    on_finish: Option<Box<super::forward::Finish>>,
    started: Instant,
    outcome: BodyOutcome,
}

/// How a response body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyOutcome {
    Complete,
    /// The client went away (or the connection closed) before the body was sent.
    Aborted,
    /// The upstream's body failed or went idle mid-stream.
    UpstreamError,
    /// triage closed the connection when the shutdown grace ran out.
    Cut,
}

/// What the guard reports.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub body: BodyOutcome,
    pub total: Duration,
}

impl FinishGuard {
    pub fn new(started: Instant, f: super::forward::Finish) -> Self {
        FinishGuard {
            on_finish: Some(Box::new(f)),
            started,
            outcome: BodyOutcome::Aborted,
        }
    }

    fn set(&mut self, o: BodyOutcome) {
        self.outcome = o;
    }
}

impl Drop for FinishGuard {
    fn drop(&mut self) {
        if let Some(f) = self.on_finish.take() {
            f.finish(Outcome {
                body: self.outcome,
                total: self.started.elapsed(),
            });
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body: an optional prefix already read (for inspection or made by triage),
    /// then the rest of the upstream's stream, then trailers read during inspection.
    pub struct ProxyBody {
        prefix: Option<Bytes>,
        #[pin]
        rest: Option<UpstreamBody>,
        // Boxed for the same reason as the guard's exchange: rare, and large inline.
        trailers: Option<Box<HeaderMap>>,
        idle: Idle,
        guard: Option<FinishGuard>,
        // Marks the exchange as in flight on its connection until the body is done.
        busy: Option<super::conns::Busy>,
    }
}

impl ProxyBody {
    /// The upstream's body, streamed as it comes.
    pub fn stream(rest: UpstreamBody, idle: Duration, guard: FinishGuard) -> Self {
        ProxyBody {
            prefix: None,
            rest: Some(rest),
            trailers: None,
            idle: Idle::new(idle),
            guard: Some(guard),
            busy: None,
        }
        .noting_empty()
    }

    /// A body that is over before its first poll (HEAD, 204, 304) is complete as it stands:
    /// hyper will never poll it.
    fn noting_empty(mut self) -> Self {
        if self.is_end_stream() {
            if let Some(g) = self.guard.as_mut() {
                g.set(BodyOutcome::Complete);
            }
        }
        self
    }

    /// A prefix already read, then (when the read stopped early) the rest of the stream.
    pub fn prefixed(
        prefix: Bytes,
        rest: Option<UpstreamBody>,
        trailers: Option<HeaderMap>,
        idle: Duration,
        guard: FinishGuard,
    ) -> Self {
        let prefix = (!prefix.is_empty()).then_some(prefix);
        ProxyBody {
            prefix,
            rest,
            trailers: trailers.map(Box::new),
            idle: Idle::new(idle),
            guard: Some(guard),
            busy: None,
        }
        .noting_empty()
    }

    /// A whole body triage made.
    pub fn full(bytes: Bytes, guard: Option<FinishGuard>) -> Self {
        let prefix = (!bytes.is_empty()).then_some(bytes);
        ProxyBody {
            prefix,
            rest: None,
            trailers: None,
            idle: Idle::new(Duration::from_secs(60)),
            guard,
            busy: None,
        }
        .noting_empty()
    }
}

impl ProxyBody {
    /// Keeps the connection's in-flight mark until this body is done or dropped.
    pub(crate) fn holding(mut self, busy: super::conns::Busy) -> Self {
        self.busy = Some(busy);
        self
    }
}

impl From<Bytes> for ProxyBody {
    fn from(b: Bytes) -> Self {
        ProxyBody::full(b, None)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut this = self.project();
        if let Some(p) = this.prefix.take() {
            // hyper stops polling once `is_end_stream` holds, so completion is noted here: also
            // when the upstream's stream is over already (the last frame read for inspection
            // held the end of a body just over the limit), else the exchange reads as cut.
            if this.trailers.is_none()
                && this
                    .rest
                    .as_ref()
                    .as_pin_ref()
                    .is_none_or(|r| r.is_end_stream())
            {
                if let Some(g) = this.guard.as_mut() {
                    g.set(BodyOutcome::Complete);
                }
            }
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        if let Some(mut rest) = this.rest.as_mut().as_pin_mut() {
            match rest.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.idle.activity();
                    // Trailers are a body's last frame: hyper sends them and polls no more,
                    // while the upstream's stream may not say it is over until polled again.
                    if this.trailers.is_none() && (frame.is_trailers() || rest.is_end_stream()) {
                        if let Some(g) = this.guard.as_mut() {
                            g.set(BodyOutcome::Complete);
                        }
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(Some(Err(e))) => {
                    if let Some(g) = this.guard.as_mut() {
                        g.set(BodyOutcome::UpstreamError);
                    }
                    this.guard.take();
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(None) => this.rest.set(None),
                Poll::Pending => {
                    if this.idle.expired(cx) {
                        if let Some(g) = this.guard.as_mut() {
                            g.set(BodyOutcome::UpstreamError);
                        }
                        this.guard.take();
                        return Poll::Ready(Some(Err(BodyError::Idle(this.idle.dur))));
                    }
                    return Poll::Pending;
                }
            }
        }
        if let Some(t) = this.trailers.take() {
            if let Some(g) = this.guard.as_mut() {
                g.set(BodyOutcome::Complete);
            }
            return Poll::Ready(Some(Ok(Frame::trailers(*t))));
        }
        if let Some(mut g) = this.guard.take() {
            g.set(BodyOutcome::Complete);
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none()
            && self.trailers.is_none()
            && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let pre = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        match &self.rest {
            None if self.trailers.is_none() => SizeHint::with_exact(pre),
            // An exact size would have hyper frame the body by Content-Length, which has no
            // room for trailers: left open, the body goes chunked with its trailers.
            None => {
                let mut out = SizeHint::new();
                out.set_lower(pre);
                out
            }
            Some(r) => {
                let h = r.size_hint();
                let mut out = SizeHint::new();
                out.set_lower(h.lower() + pre);
                if let Some(u) = h.upper() {
                    out.set_upper(u + pre);
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod size {
    /// hyper moves a response body several times per exchange; it once carried the whole
    /// exchange inline (920 bytes), which cost more in copies than the rest of its bookkeeping.
    /// The upstream body's 40 bytes beyond hyper's are its pooled connection, handed back when
    /// the body ends: cheaper carried inline than boxed per exchange. The connection's in-flight
    /// mark (`Busy`) is one pointer.
    #[test]
    fn a_response_body_stays_small() {
        let size = std::mem::size_of::<super::ProxyBody>();
        assert!(
            size <= 184,
            "ProxyBody is {size} bytes; box what makes it grow"
        );
    }
}

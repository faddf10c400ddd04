//! The client connections that are open, and the two reasons triage ends one on its own:
//! shutdown, and a client that sends no complete request head in time (the guard against
//! clients that open connections and trickle a head, or hold one idle).
//!
//! Why not hyper's `header_read_timeout` and hyper-util's `GracefulShutdown`: the first arms,
//! registers and drops a timer for every request head (~1 600 instructions per request, 4% of a
//! whole proxied 200; docs/benchmarks.md), and the second polls a `watch` channel on every poll
//! of every connection (~300 more). Here a poll of a connection costs two atomic loads and a
//! waker comparison. One ticker serves all connections: it counts time in steps of a third of
//! the head timeout and wakes each connection, which then checks whether a request head arrived
//! since the last step. A connection is closed after four quiet steps in a row, so between one
//! and one and a third head timeouts after its last exchange ended (30 to 40 s by default).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::Version;
use tokio::sync::Notify;

/// Steps that end a connection, counted from the step before its last sign of life (its
/// opening, or the end of its last exchange). Steps are a third of the head timeout apart, so
/// the close comes between one and one and a third timeouts after that sign of life.
const QUIET_STEPS: u32 = 4;

const RUNNING: u8 = 0;
const DRAINING: u8 = 1;
/// The grace is over: exchanges still waiting for their upstream answer 503 (see
/// `forward::unless_cut`), which their connections are polled on to write; then FORCED.
const CUTTING: u8 = 2;
const FORCED: u8 = 3;

/// Every open client connection, by id, with the waker of the task serving it.
pub(crate) struct Conns {
    registry: Mutex<Registry>,
    /// RUNNING, DRAINING (shutdown asked: finish what is in flight), CUTTING (grace is over:
    /// answer what waits on its upstream) or FORCED (close whatever is left).
    state: AtomicU8,
    /// The ticker's count of steps.
    step: AtomicU64,
    /// Told when the last connection closes.
    closed: Notify,
    step_length: Duration,
}

#[derive(Default)]
struct Registry {
    next: u64,
    wakers: HashMap<u64, Option<Waker>>,
}

impl Conns {
    pub(crate) fn new(head_timeout: Duration) -> Arc<Conns> {
        Arc::new(Conns {
            registry: Mutex::default(),
            state: AtomicU8::new(RUNNING),
            step: AtomicU64::new(0),
            closed: Notify::new(),
            step_length: (head_timeout / 3).max(Duration::from_millis(1)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // The registry holds no invariant a panic could break halfway.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection and wraps it. The connection counts as open from here on, even
    /// before its task first runs.
    pub(crate) fn serve<C: Graceful>(
        self: &Arc<Self>,
        conn: C,
        activity: Arc<Activity>,
    ) -> Served<C> {
        let id = {
            let mut r = self.lock();
            r.next += 1;
            let id = r.next;
            r.wakers.insert(id, None);
            id
        };
        Served {
            conn,
            conns: self.clone(),
            id,
            activity,
            waker: None,
            seen_step: self.step.load(Ordering::Relaxed),
            seen_heads: 0,
            quiet: 0,
            draining: false,
        }
    }

    pub(crate) fn open(&self) -> usize {
        self.lock().wakers.len()
    }

    /// Counts time for every connection until the returned task is aborted.
    pub(crate) fn ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let conns = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(conns.step_length);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await; // the first tick is immediate
            loop {
                every.tick().await;
                conns.step.fetch_add(1, Ordering::Relaxed);
                conns.wake_all();
            }
        })
    }

    /// Asks every connection to finish what it has in flight and close: HTTP/1 connections
    /// between exchanges close at once, HTTP/2 ones send GOAWAY.
    pub(crate) fn drain(&self) {
        self.state.store(DRAINING, Ordering::Release);
        self.wake_all();
    }

    /// The grace is over: wakes every connection so that an HTTP/1 exchange still waiting for
    /// its upstream sees the cut and answers 503 (an HTTP/2 stream, a task of its own, is woken
    /// by the forwarder's `cut_notify`), and keeps polling them so that the answer is written
    /// (a body already streaming streams on until [`Conns::force`]).
    pub(crate) fn cut(&self) {
        self.state.store(CUTTING, Ordering::Release);
        self.wake_all();
    }

    /// Closes every connection at once, whatever it was doing.
    pub(crate) fn force(&self) {
        self.state.store(FORCED, Ordering::Release);
        self.wake_all();
    }

    /// Resolves when no connection is open.
    pub(crate) async fn all_closed(&self) {
        loop {
            let notified = self.closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn wake_all(&self) {
        let wakers: Vec<Waker> = self.lock().wakers.values().flatten().cloned().collect();
        // Woken outside the lock: a woken task may run at once on another thread and poll.
        for w in wakers {
            w.wake();
        }
    }

    fn set_waker(&self, id: u64, waker: &Waker) {
        if let Some(slot) = self.lock().wakers.get_mut(&id) {
            *slot = Some(waker.clone());
        }
    }

    fn remove(&self, id: u64) {
        let now_empty = {
            let mut r = self.lock();
            r.wakers.remove(&id);
            r.wakers.is_empty()
        };
        if now_empty {
            self.closed.notify_waiters();
        }
    }
}

/// What the service tells the connection's guard: how many request heads arrived, and how many
/// exchanges are still in flight (from the head until the response body is done or dropped).
#[derive(Default)]
pub(crate) struct Activity {
    heads: AtomicU64,
    busy: AtomicU32,
    http2: AtomicBool,
}

impl Activity {
    /// A request head arrived; the exchange counts as in flight until the token is dropped.
    pub(crate) fn begin(self: &Arc<Self>, version: Version) -> Busy {
        self.heads.fetch_add(1, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::Relaxed);
        if version == Version::HTTP_2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        Busy(self.clone())
    }

    fn idle(&self) -> bool {
        self.busy.load(Ordering::Relaxed) == 0
    }
}

/// An exchange in flight; held by the response body, so that a download that takes an hour is
/// not mistaken for a quiet connection.
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection that can be asked to finish what it has in flight and close.
pub(crate) trait Graceful: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, B, S, E> Graceful for hyper_util::server::conn::auto::Connection<'_, I, S, E>
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: 'static,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper_util::server::conn::auto::Connection::graceful_shutdown(self);
    }
}

/// How a served connection ended.
#[derive(Debug)]
pub(crate) enum Ended<T> {
    /// It ran its course (the client closed it, or it closed after draining).
    Done(T),
    /// No request head arrived for the head timeout, and no exchange was in flight.
    Quiet,
    /// Shutdown found it before its first request head was complete.
    Drained,
    /// Still open when the shutdown grace ran out.
    Forced,
}

pin_project_lite::pin_project! {
    /// A connection under the guard of [`Conns`].
    pub(crate) struct Served<C> {
        #[pin]
        conn: C,
        conns: Arc<Conns>,
        id: u64,
        activity: Arc<Activity>,
        waker: Option<Waker>,
        seen_step: u64,
        seen_heads: u64,
        quiet: u32,
        draining: bool,
    }

    impl<C> PinnedDrop for Served<C> {
        fn drop(this: Pin<&mut Self>) {
            this.conns.remove(this.id);
        }
    }
}

impl<C: Graceful> Future for Served<C> {
    type Output = Ended<C::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // A task's waker rarely changes; the registry's lock is taken only when it does.
        if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            this.conns.set_waker(*this.id, cx.waker());
            *this.waker = Some(cx.waker().clone());
        }
        // Checked after the waker is in place, so a shutdown that wakes everyone cannot slip
        // between the check and the registration.
        match this.conns.state.load(Ordering::Acquire) {
            RUNNING => {
                let step = this.conns.step.load(Ordering::Relaxed);
                if step != *this.seen_step {
                    let steps = u32::try_from(step - *this.seen_step).unwrap_or(u32::MAX);
                    *this.seen_step = step;
                    let heads = this.activity.heads.load(Ordering::Relaxed);
                    // `quiet` counts the whole steps the connection has surely been idle, so
                    // that the close comes between three and four steps after its last sign
                    // of life: an exchange still in flight resets it; one that began and
                    // ended since the last step ended within that step, which counts as one.
                    *this.quiet = if !this.activity.idle() {
                        0
                    } else if heads != *this.seen_heads {
                        1
                    } else {
                        this.quiet.saturating_add(steps)
                    };
                    *this.seen_heads = heads;
                    if *this.quiet >= QUIET_STEPS {
                        if !this.activity.http2.load(Ordering::Relaxed) {
                            // HTTP/1 has no way to say goodbye between exchanges, and a client
                            // trickling a head would never finish it: close, as hyper's own
                            // header-read timeout does.
                            return Poll::Ready(Ended::Quiet);
                        }
                        if !*this.draining {
                            *this.draining = true;
                            this.conn.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            DRAINING | CUTTING => {
                if !*this.draining {
                    *this.draining = true;
                    this.conn.as_mut().graceful_shutdown();
                }
                if this.activity.heads.load(Ordering::Relaxed) == 0 {
                    // No request yet, perhaps part of a head: hyper's graceful shutdown waits
                    // for a connection's first head to finish, which a slow or stuck client
                    // may never do. Nothing was answered on it, so nothing can be cut short.
                    // (Later heads need no help: between exchanges hyper closes at once.)
                    return Poll::Ready(Ended::Drained);
                }
            }
            _ => return Poll::Ready(Ended::Forced),
        }
        this.conn.poll(cx).map(Ended::Done)
    }
}

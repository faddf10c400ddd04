//! `--probe-token`: when a new bearer token passes through, triage asks the API itself — once,
//! read-only, `GET /api/v2/tokens/me` — what the token is (organization, OAuth client,
//! authorized scopes), so later diagnoses can cite it. Off by default, and logged when it
//! happens: it is a call the user's code did not make. The token is used for that one call and
//! never kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderMap, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use tokio::sync::watch;

use crate::evidence::Store;
use crate::exchange::{BodyPrefix, Exchange, Inspection, Origin, Response, Timings, UpstreamKind};
use crate::proxy::body::TeeBody;
use crate::proxy::upstream::UpstreamClient;
use crate::proxy::UpstreamUrl;

/// Most bytes of a `tokens/me` answer read.
const MAX_BODY: usize = 256 * 1024;

pub struct Prober {
    client: UpstreamClient,
    api: UpstreamUrl,
    /// Probes under way, by the token's fingerprint: a failure that arrives while its token's
    /// probe is out waits for it too. An entry leaves when its probe ends, and every probe
    /// ends within its timeouts.
    under_way: Mutex<HashMap<String, watch::Receiver<bool>>>,
}

/// How long a failure's answer waits for its token's probe before it is diagnosed without.
const WAIT: Duration = Duration::from_secs(5);

impl Prober {
    pub fn new(client: UpstreamClient, api: UpstreamUrl) -> Self {
        Prober {
            client,
            api,
            under_way: Mutex::default(),
        }
    }

    /// Probes the token of `ex` in the background if it is new to `store`. Needs a Tokio runtime.
    pub fn maybe_probe(self: &Arc<Self>, store: &Arc<Store>, ex: &Exchange) {
        drop(self.start(store, ex));
    }

    /// For a failure about to be diagnosed: probes its token if it is new to `store`, or finds
    /// that token's probe under way, and returns the wait for it (at most [`WAIT`]), so that
    /// the first failure of a token cites what the probe found, not only the later ones.
    pub fn before_diagnosis(
        self: &Arc<Self>,
        store: &Arc<Store>,
        ex: &Exchange,
    ) -> Option<BoxFuture<'static, ()>> {
        let mut done = match self.start(store, ex) {
            Some(done) => done,
            None => {
                let under_way = self.under_way.lock().unwrap_or_else(|p| p.into_inner());
                if under_way.is_empty() {
                    return None;
                }
                let token = Store::bearer_of(ex)?;
                under_way
                    .get(&crate::redact::fingerprint(token.as_bytes()))?
                    .clone()
            }
        };
        Some(Box::pin(async move {
            // A probe says when it is over, found or failed; one whose task is gone (the runtime
            // shutting down) drops its sender, which ends the wait as well.
            let _ = tokio::time::timeout(WAIT, done.wait_for(|over| *over)).await;
        }))
    }

    /// Starts the probe of the token of `ex` if it is new to `store`; the receiver turns true
    /// once what the probe found is in `store`.
    fn start(self: &Arc<Self>, store: &Arc<Store>, ex: &Exchange) -> Option<watch::Receiver<bool>> {
        if ex.request.upstream != UpstreamKind::Api || ex.request.path == "/api/v2/tokens/me" {
            return None;
        }
        let token = Store::bearer_of(ex)?;
        // Held from the claim to the entry: a failure that finds the token claimed finds its
        // probe too.
        let mut under_way = self.under_way.lock().unwrap_or_else(|p| p.into_inner());
        if !store.claim_probe(token, Instant::now()) {
            return None;
        }
        let auth = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
        let fp = crate::redact::fingerprint(token.as_bytes());
        let (tx, rx) = watch::channel(false);
        under_way.insert(fp.clone(), rx.clone());
        drop(under_way);
        tracing::info!(target: "triage::probe", token = %fp, "--probe-token: asking GET /api/v2/tokens/me about a new token");
        let (me, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            match me.tokens_me(auth).await {
                Ok(ex) => store.observe(&ex, Instant::now()),
                Err(e) => {
                    tracing::info!(target: "triage::probe", token = %fp, error = %e, "--probe-token: GET /api/v2/tokens/me failed")
                }
            }
            me.under_way
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&fp);
            let _ = tx.send(true);
        });
        Some(rx)
    }

    async fn tokens_me(&self, auth: HeaderValue) -> Result<Exchange, String> {
        let uri: http::Uri = format!("{}/api/v2/tokens/me", self.api)
            .parse()
            .map_err(|e| format!("{e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let mut req = Request::new(TeeBody::empty());
        *req.method_mut() = Method::GET;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers.clone();
        req.headers_mut().insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!(
                "triage/",
                env!("CARGO_PKG_VERSION"),
                " (--probe-token)"
            )),
        );
        let started_at = SystemTime::now();
        let resp = tokio::time::timeout(Duration::from_secs(15), self.client.request(req))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| crate::proxy::problem::chain(&e))?;
        let (parts, body) = resp.into_parts();
        let bytes = tokio::time::timeout(
            Duration::from_secs(15),
            http_body_util::Limited::new(body, MAX_BODY).collect(),
        )
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?
        .to_bytes();
        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok());
        let decoded = crate::proxy::decode::decode(encoding, &bytes, MAX_BODY)
            .map(|(b, _)| Bytes::from(b))
            .unwrap_or_default();
        Ok(Exchange {
            seq: 0,
            origin: Origin::Live,
            started_at,
            request: crate::exchange::Request {
                method: Method::GET,
                path: "/api/v2/tokens/me".into(),
                query: None,
                headers,
                body: BodyPrefix::complete(Bytes::new()),
                upstream: UpstreamKind::Api,
                host: Some(self.api.host().into()),
                base_url: Some(self.api.shared_base().clone()),
                shown: crate::exchange::Shown::All,
            },
            response: Some(Response {
                status: parts.status,
                version: Some(parts.version),
                headers: parts.headers,
                body: BodyPrefix::complete(decoded),
                headers_shown: true,
            }),
            timings: Timings::default(),
            inspection: Inspection::Complete,
            outcome: None,
        })
    }
}

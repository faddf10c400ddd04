//! The live dashboard and metrics of a running proxy (`/__triage/...`), as a
//! [`Sink`] of the pipeline: every finished exchange is counted in the
//! [`Metrics`] and kept, packed ([`compact`]), in a bounded ring of recent exchanges that the page
//! (`page.html`, served from the binary) polls through a small JSON API.
//!
//! Routes (all `GET`; anything else is 405):
//! - `/__triage` → redirect to `/__triage/`, the page.
//! - `/__triage/api/exchanges?since=SEQ` (or `?after=CURSOR`) → `{"exchanges":[summary…],
//!   "oldest":SEQ|null,"cursor":N}`.
//! - `/__triage/api/exchanges/{seq}` → a summary with `diagnoses`, `outcome_text` (how it ended
//!   when its response was cut short), `exchange` (the recording's redacted JSON line) and
//!   `curl`; 404 JSON when it left the ring.
//! - `/__triage/metrics` → Prometheus text format 0.0.4.
//!
//! Everything shown goes through [`crate::redact`] as it is shown: no answer of these routes
//! ever holds a credential. The ring holds exchanges as the proxy saw them, in its memory only.

mod compact;
pub mod metrics;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Map, Value};

pub use metrics::Metrics;

use crate::diagnose::{Diagnosis, Finished, Sink};
use crate::record::Record;
use compact::Compact;

/// The page, served from the binary: no CDN, works offline.
pub const PAGE: &str = include_str!("page.html");

/// Exchanges kept by default.
pub const DEFAULT_CAPACITY: usize = 1000;

/// Most bytes of each (redacted) body kept per exchange, so the ring's memory stays flat
/// whatever the traffic: `capacity × 2 × MAX_BODY` at worst.
pub const MAX_BODY: usize = 32 * 1024;

/// The prefix of triage's own pages.
pub const PREFIX: &str = "/__triage";

const CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One exchange as the dashboard keeps it: packed with its diagnoses ([`compact`]), redacted
/// only when a page asks for it, so the proxy's hot path pays for neither redaction nor JSON.
struct Entry {
    /// Order in which exchanges finished (they finish out of `seq` order).
    cursor: u64,
    exchange: Compact,
    ending: crate::inspect::Ending,
}

struct Ring {
    entries: VecDeque<Arc<Entry>>,
    cursor: u64,
}

/// The dashboard: metrics plus a bounded ring of recent redacted exchanges.
pub struct Monitor {
    capacity: usize,
    ring: Mutex<Ring>,
    metrics: Metrics,
    keep_content: bool,
    allow_remote: bool,
    api_base: Option<String>,
    login_base: Option<String>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new(DEFAULT_CAPACITY)
    }
}

impl Monitor {
    /// A monitor keeping the last `capacity` exchanges (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Monitor {
            capacity,
            ring: Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(4096)),
                cursor: 0,
            }),
            metrics: Metrics::default(),
            keep_content: false,
            allow_remote: false,
            api_base: None,
            login_base: None,
        }
    }

    /// Keep customer-written text (`--keep-content`); credentials are redacted regardless.
    pub fn keep_content(mut self, keep: bool) -> Self {
        self.keep_content = keep;
        self
    }

    /// Answer requests whatever their `Host` (`--allow-remote`). By default only requests
    /// addressed to a loopback name (`127.0.0.1`, `[::1]`, `localhost`) get a page, which
    /// keeps other web sites out even through DNS rebinding.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// The upstream base URLs, for "copy as curl" (`https://api.mypurecloud.com`); without
    /// them the command uses `https://` and the exchange's host.
    pub fn upstreams(mut self, api: impl Into<String>, login: impl Into<String>) -> Self {
        self.api_base = Some(api.into());
        self.login_base = Some(login.into());
        self
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// How many exchanges are held now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a finished exchange: counted and kept (redaction happens when it is shown).
    pub fn add(&self, done: &Arc<Finished>) {
        let ex = &done.exchange;
        self.metrics.exchange(ex);
        if let Some(best) = done.diagnoses.first() {
            self.metrics.diagnosis(&best.rule);
        }
        let exchange = Compact::pack(ex, &done.diagnoses, MAX_BODY);
        let mut ring = self.lock();
        ring.cursor += 1;
        let entry = Arc::new(Entry {
            cursor: ring.cursor,
            exchange,
            ending: done.ending.clone(),
        });
        // The evicted entry is dropped after the lock is released.
        let evicted = (ring.entries.len() >= self.capacity)
            .then(|| ring.entries.pop_front())
            .flatten();
        ring.entries.push_back(entry);
        drop(ring);
        drop(evicted);
    }

    /// Answers a `/__triage/...` request, or `None` for a path that is not a page.
    pub fn answer(&self, req: &http::request::Parts) -> Option<Response<Bytes>> {
        let path = req.uri.path();
        let rest = path.strip_prefix(PREFIX)?;
        let route = match rest {
            "" => Route::Redirect,
            "/" | "/index.html" => Route::Page,
            "/metrics" => Route::Metrics,
            "/api/exchanges" => Route::List,
            r => match r.strip_prefix("/api/exchanges/") {
                Some(seq) => Route::Detail(seq),
                None => return None,
            },
        };
        if !self.allow_remote && !loopback_host(req) {
            let mut r = json_response(
                StatusCode::FORBIDDEN,
                &json!({"error": "triage's pages answer only requests addressed to 127.0.0.1, [::1] or localhost (start the proxy with --allow-remote to change that)"}),
            );
            // triage's own refusal, said as every other one is (README: `error=` types).
            r.headers_mut().insert(
                "proxy-status",
                HeaderValue::from_static(
                    "triage; error=http_request_denied; details=\"triage's pages answer only requests addressed to a loopback host\"",
                ),
            );
            return Some(r);
        }
        if req.method != Method::GET {
            let mut r = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": format!("{} is not allowed here: triage's pages are read-only (GET)", req.method)}),
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            return Some(r);
        }
        Some(match route {
            Route::Redirect => {
                let mut r = with_common(Response::new(Bytes::new()));
                *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
                r.headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("/__triage/"));
                r
            }
            Route::Page => {
                let mut r = with_common(Response::new(Bytes::from_static(PAGE.as_bytes())));
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CSP),
                );
                h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
                h.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                r
            }
            Route::Metrics => {
                let mut r = with_common(Response::new(Bytes::from(self.metrics.render())));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                r
            }
            Route::List => self.list(req.uri.query()),
            Route::Detail(seq) => self.detail(seq),
        })
    }

    fn list(&self, query: Option<&str>) -> Response<Bytes> {
        let mut since = 0u64;
        let mut after = None;
        for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let n = match (k, v.parse::<u64>()) {
                ("since" | "after", Ok(n)) => n,
                ("since" | "after", Err(_)) => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("{k} must be a whole number, got {v:?}")}),
                    )
                }
                _ => continue,
            };
            if k == "since" {
                since = n;
            } else {
                after = Some(n);
            }
        }
        let (entries, cursor) = {
            let ring = self.lock();
            (
                ring.entries.iter().cloned().collect::<Vec<_>>(),
                ring.cursor,
            )
        };
        let oldest = entries.iter().map(|e| e.exchange.seq).min();
        let exchanges: Vec<Value> = entries
            .iter()
            .filter(|e| e.exchange.seq > since && after.is_none_or(|a| e.cursor > a))
            .map(|e| self.summary(e, &e.exchange.diagnoses()).0)
            .collect();
        json_response(
            StatusCode::OK,
            &json!({"exchanges": exchanges, "oldest": oldest, "cursor": cursor}),
        )
    }

    fn detail(&self, seq: &str) -> Response<Bytes> {
        let Ok(seq) = seq.parse::<u64>() else {
            // All digits, and still no u64: a number no exchange has, not a malformed one.
            let error = if !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()) {
                "no such exchange: no exchange has an id that large"
            } else {
                "no such exchange: the id is a number (an exchange's seq)"
            };
            return json_response(StatusCode::NOT_FOUND, &json!({ "error": error }));
        };
        let entry = self
            .lock()
            .entries
            .iter()
            .find(|e| e.exchange.seq == seq)
            .cloned();
        let Some(e) = entry else {
            return json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("exchange {seq} is not held (any more): the dashboard keeps the last {} exchanges", self.capacity)}),
            );
        };
        let diagnoses = e.exchange.diagnoses();
        let (summary, record, secrets) = self.summary(&e, &diagnoses);
        let mut out = match summary {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let mut diags: Vec<Value> = diagnoses.iter().map(diagnosis_json).collect();
        for d in &mut diags {
            // Secret keys are scrubbed, and a cause quoting the upstream's message may quote a
            // credential of the exchange.
            crate::redact::diagnosis_json(d, &secrets);
        }
        out.insert("diagnoses".into(), Value::Array(diags));
        // In the words of `triage explain`'s outcome line, so that both faces say it alike.
        let outcome_text = e
            .ending
            .outcome()
            .map(|o| crate::report::explain::outcome_text(o, record.response.is_some()));
        out.insert("outcome_text".into(), json!(outcome_text));
        out.insert("curl".into(), Value::String(self.curl(&record)));
        out.insert(
            "exchange".into(),
            serde_json::to_value(&record).unwrap_or(Value::Null),
        );
        json_response(StatusCode::OK, &Value::Object(out))
    }

    /// The summary the list shows, the redacted record it was made from, and the credentials
    /// of the exchange for text quoted from it.
    fn summary(
        &self,
        e: &Entry,
        diagnoses: &[Diagnosis],
    ) -> (Value, Record, crate::redact::Secrets) {
        let ex = e.exchange.unpack();
        let (redacted, secrets) = crate::redact::exchange_and_secrets(&ex, self.keep_content);
        // As a recording line holds it, how it ended included.
        let record = Record::from_exchange(&redacted, &[]).with_ending(
            &e.ending,
            &secrets,
            self.keep_content,
        );
        let mut summary = json!({
            "seq": e.exchange.seq,
            "time": record.time,
            "method": record.request.method,
            "path": crate::redact::path_and_query(&redacted.request.path, redacted.request.query.as_deref()),
            "upstream": record.request.upstream,
            "status": ex.status(),
            // When triage answered itself (the upstream failed, or it refused the request):
            // its status and RFC 9209 error type, so a 502 is told from a 504 and why.
            "triage_status": e.ending.answered.as_ref().map(|a| a.status),
            "triage_error": e.ending.answered.as_ref().map(|a| a.error),
            "triage_detail": e.ending.answered.as_ref().map(|a| &a.detail),
            "client_gone": e.ending.client_gone,
            "cut_at_shutdown": e.ending.cut_at_shutdown,
            "upstream_ms": ex.timings.upstream_ms,
            "total_ms": ex.timings.total_ms,
            "correlation_id": redacted.correlation_id(),
            "rules": diagnoses.iter().map(|d| d.rule.as_str()).collect::<Vec<_>>(),
            "title": diagnoses.first().map(|d| &*d.title),
        });
        secrets.scrub_json(&mut summary);
        (summary, record, secrets)
    }

    /// "Copy as curl" of a redacted record: credentials stay placeholders (`$TOKEN`), every
    /// other word is single-quoted for POSIX shells.
    fn curl(&self, r: &Record) -> String {
        let req = &r.request;
        let base = match (req.upstream.as_str(), &self.api_base, &self.login_base) {
            ("login", _, Some(b)) => b.clone(),
            ("api", Some(b), _) => b.clone(),
            _ => format!(
                "https://{}",
                req.host.as_deref().unwrap_or("api.mypurecloud.com")
            ),
        };
        let mut url = format!("{}{}", base.trim_end_matches('/'), req.path);
        if let Some(q) = &req.query {
            url.push('?');
            url.push_str(q);
        }
        curl_command(
            &req.method,
            &url,
            &req.headers,
            req.body.as_deref(),
            req.body_encoding.is_some(),
        )
    }
}

enum Route<'a> {
    Redirect,
    Page,
    Metrics,
    List,
    Detail(&'a str),
}

impl Sink for Monitor {
    fn exchange(&self, done: &Arc<Finished>) {
        self.add(done);
    }

    fn local(&self, req: &http::request::Parts) -> Option<Response<Bytes>> {
        self.answer(req)
    }
}

/// A diagnosis as the page reads it; evidence as an object.
fn diagnosis_json(d: &Diagnosis) -> Value {
    let evidence: Map<String, Value> = d
        .evidence
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    json!({
        "rule": d.rule,
        "title": d.title,
        "severity": d.severity,
        "confidence": d.confidence,
        "cause": d.cause,
        "fix": d.fix,
        "docs": d.docs,
        "sources": d.sources,
        "evidence": evidence,
        "operation": d.operation,
    })
}

/// Whether the request is addressed to a loopback name (its `Host`, or its authority in
/// HTTP/2).
fn loopback_host(req: &http::request::Parts) -> bool {
    let host = req
        .uri
        .authority()
        .map(|a| a.host().to_owned())
        .or_else(|| {
            let v = req.headers.get(header::HOST)?.to_str().ok()?;
            let a: http::uri::Authority = v.parse().ok()?;
            Some(a.host().to_owned())
        });
    let Some(host) = host else {
        // HTTP/1.0 without Host: only possible from a raw client on this machine's listener.
        return true;
    };
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn with_common(mut r: Response<Bytes>) -> Response<Bytes> {
    let len = r.body().len();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response<Bytes> {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = with_common(Response::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    r
}

/// A word for a POSIX shell: single-quoted, `'` as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Headers curl sets itself or that say nothing about the request.
const CURL_SKIP: &[&str] = &["host", "content-length", "connection", "accept-encoding"];

/// A curl command for a (redacted) request. Secret headers become shell variables
/// (`"Authorization: Bearer $TOKEN"`): the redacted value is never a usable credential, and
/// the variable keeps the real one out of the clipboard.
pub fn curl_command(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
    body_binary: bool,
) -> String {
    let mut words = vec![format!("curl -X {}", shell_quote(method)), shell_quote(url)];
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if CURL_SKIP.contains(&lower.as_str()) {
            continue;
        }
        if crate::redact::is_secret_header(&lower) {
            words.push(format!("-H {}", secret_header(name, value)));
        } else {
            words.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
        }
    }
    match body {
        Some(_) if body_binary => words.push("--data-binary @body.bin".to_owned()),
        Some(b) => words.push(format!("--data-raw {}", shell_quote(b))),
        None => {}
    }
    words.join(" \\\n  ")
}

/// A secret header as a double-quoted word whose only expansion is a fixed variable name.
fn secret_header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let var = match lower.as_str() {
        "authorization" | "proxy-authorization" => {
            let scheme = value.split_once(' ').map(|(s, _)| s).unwrap_or("");
            let ok = !scheme.is_empty()
                && scheme.len() <= 20
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            match (ok, scheme.to_ascii_lowercase().as_str()) {
                (true, "bearer") => "Bearer $TOKEN".to_owned(),
                (true, "basic") => "Basic $CLIENT_CREDENTIALS".to_owned(),
                (true, _) => format!("{scheme} $CREDENTIALS"),
                (false, _) => "$AUTHORIZATION".to_owned(),
            }
        }
        "cookie" => "$COOKIE".to_owned(),
        _ => "$SECRET".to_owned(),
    };
    // Header names are tokens (no quotes or `$`); checked all the same.
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("\"{name}: {var}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_too_large_for_any_exchange_is_not_called_no_number() {
        let m = Monitor::default();
        let error = |id: &str| {
            let body = m.detail(id).into_body();
            serde_json::from_slice::<Value>(&body).unwrap()["error"].clone()
        };
        assert_eq!(
            error("99999999999999999999"),
            "no such exchange: no exchange has an id that large"
        );
        assert_eq!(
            error("x1"),
            "no such exchange: the id is a number (an exchange's seq)"
        );
    }

    #[test]
    fn quoting_survives_hostile_text() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        let c = curl_command(
            "POST",
            "https://api.example/x?a=1&b='$(rm -rf /)'",
            &[
                ("authorization".into(), "Bearer [redacted 1a2b3c4d]".into()),
                ("content-type".into(), "application/json".into()),
                ("x-evil".into(), "$(id) `id` \"q\"".into()),
            ],
            Some(r#"{"a":"it's $HOME"}"#),
            false,
        );
        assert!(c.contains(r#"-H "authorization: Bearer $TOKEN""#), "{c}");
        assert!(c.contains(r#"--data-raw '{"a":"it'\''s $HOME"}'"#), "{c}");
        assert!(c.contains(r#"-H 'x-evil: $(id) `id` "q"'"#), "{c}");
        assert!(!c.contains("1a2b3c4d"), "{c}");
    }

    #[test]
    fn odd_auth_scheme_is_not_echoed() {
        assert_eq!(
            secret_header("Authorization", "Bear\"$(x) [redacted 1a2b3c4d]"),
            "\"Authorization: $AUTHORIZATION\""
        );
    }
}

//! Getting the full catalog: the upstream serves its own Swagger document at
//! `GET /api/v2/docs/swagger` (FACTS.md §9). triage fetches it once, keeps it on disk with the
//! time it was fetched, and refreshes it when stale. Until then — and offline — the built-in
//! catalog answers, and says so.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;

use super::{load, Catalog, Source};
use crate::error::Error;
use crate::proxy::body::TeeBody;
use crate::proxy::upstream::UpstreamClient;
use crate::proxy::UpstreamUrl;

/// Larger than any Platform API document (tens of MB), small enough to refuse nonsense.
pub const MAX_SPEC_BYTES: usize = 256 * 1024 * 1024;

/// The catalog in use, swapped whole when a better one arrives.
#[derive(Debug)]
pub struct Shared {
    current: RwLock<Arc<Catalog>>,
}

impl Shared {
    pub fn new(c: Catalog) -> Self {
        Shared {
            current: RwLock::new(Arc::new(c)),
        }
    }

    pub fn get(&self) -> Arc<Catalog> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set(&self, c: Catalog) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(c);
    }
}

/// Where cached documents live: `$TRIAGE_CACHE_DIR`, else `$XDG_CACHE_HOME/triage`, else
/// `~/.cache/triage`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TRIAGE_CACHE_DIR") {
        return d.into();
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("triage");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/triage"))
        .unwrap_or_else(|| PathBuf::from(".triage-cache"))
}

/// The cache file for an upstream's document.
pub fn cache_file(dir: &Path, api: &UpstreamUrl) -> PathBuf {
    let name: String = api
        .authority
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("swagger-{name}.json"))
}

/// A cached document, if there is one younger than `max_age`.
pub fn load_cached(file: &Path, api: &UpstreamUrl, max_age: Duration) -> Option<Catalog> {
    let modified = std::fs::metadata(file).ok()?.modified().ok()?;
    if SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default()
        > max_age
    {
        return None;
    }
    let bytes = std::fs::read(file).ok()?;
    let url = spec_url(api);
    let fetched = humantime::format_rfc3339_seconds(modified).to_string();
    load::from_json(&bytes, Source::Upstream { url, fetched }).ok()
}

pub fn spec_url(api: &UpstreamUrl) -> String {
    format!("{api}/api/v2/docs/swagger")
}

/// Fetches the upstream's document, writes it to `file` (atomically), and returns it parsed.
pub async fn fetch(
    client: &UpstreamClient,
    api: &UpstreamUrl,
    file: &Path,
    timeout: Duration,
) -> Result<Catalog, Error> {
    let url = spec_url(api);
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Error::Config(format!("{url}: {e}")))?;
    let req = http::Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("triage/", env!("CARGO_PKG_VERSION")),
        )
        .body(TeeBody::empty())
        .map_err(|e| Error::Config(e.to_string()))?;
    let work = async {
        let resp = client.request(req).await.map_err(|e| {
            Error::Input(format!(
                "fetching {url}: {}",
                crate::proxy::problem::chain(&e)
            ))
        })?;
        if !resp.status().is_success() {
            return Err(Error::Input(format!(
                "fetching {url}: status {}",
                resp.status()
            )));
        }
        let body = http_body_util::Limited::new(resp.into_body(), MAX_SPEC_BYTES);
        let bytes = body
            .collect()
            .await
            .map_err(|e| Error::Input(format!("fetching {url}: {e}")))?
            .to_bytes();
        Ok(bytes)
    };
    let bytes = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Error::Input(format!("fetching {url}: timed out after {timeout:?}")))??;
    let fetched = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let catalog = load::from_json(&bytes, Source::Upstream { url, fetched })?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    let tmp = file.with_extension("json.part");
    std::fs::write(&tmp, &bytes).map_err(|source| Error::Write {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, file).map_err(|source| Error::Write {
        path: file.to_owned(),
        source,
    })?;
    Ok(catalog)
}

/// What the proxy does at start: a `--spec` file if given; else a fresh cache; else the
/// built-in catalog now and the upstream's document in the background.
pub struct Plan {
    pub spec: Option<PathBuf>,
    pub cache_dir: PathBuf,
    pub max_age: Duration,
    pub fetch: bool,
}

/// Returns the catalog to start with, and whether a background fetch is worth starting.
pub fn initial(plan: &Plan, api: &UpstreamUrl) -> Result<(Catalog, bool), Error> {
    if let Some(spec) = &plan.spec {
        return Ok((load::from_file(spec)?, false));
    }
    let file = cache_file(&plan.cache_dir, api);
    if let Some(c) = load_cached(&file, api, plan.max_age) {
        return Ok((c, false));
    }
    Ok((load::builtin(), plan.fetch))
}

/// The background refresh: on success swaps the catalog in; on failure says that the
/// built-in catalog stays in use.
pub async fn refresh(
    shared: Arc<Shared>,
    client: UpstreamClient,
    api: UpstreamUrl,
    cache_dir: PathBuf,
) {
    let file = cache_file(&cache_dir, &api);
    match fetch(&client, &api, &file, Duration::from_secs(120)).await {
        Ok(c) => {
            tracing::info!(target: "triage::catalog", operations = c.len(), source = %c.source, cache = %file.display(), "API catalog loaded");
            shared.set(c);
        }
        Err(e) => {
            tracing::warn!(target: "triage::catalog", error = %e, "could not fetch the API's own catalog; using the built-in messaging catalog (diagnoses outside messaging name fewer operations)");
        }
    }
}

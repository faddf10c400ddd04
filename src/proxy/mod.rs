//! The transparent forwarding proxy. It moves bytes between a client (an SDK) and the two
//! upstreams of a Genesys Cloud region, and knows nothing of rules: what it sees it hands to an
//! [`Inspector`](crate::inspect::Inspector), whose [`Verdict`](crate::inspect::Verdict) it
//! applies.
//!
//! - [`server`]: listeners (HTTP/1.1 and HTTP/2, plain or TLS), connection limits, shutdown.
//! - [`forward`]: one exchange — routing, header hygiene, the inspection point.
//! - [`body`]: the body types that stream through, tee a prefix, and log when done.
//! - [`problem`]: the one place where triage's own failures become responses.
//! - [`upstream`]: the pooled HTTP/1.1+HTTP/2 client and its TLS roots.
//! - [`decode`]: content-decoding of inspected bodies.

pub mod body;
mod conns;
pub mod decode;
pub mod forward;
pub mod problem;
pub mod server;
pub mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;

pub use server::Proxy;

use crate::error::Error;

/// An upstream base URL: scheme, authority and an optional path prefix (for gateways).
#[derive(Debug, Clone)]
pub struct UpstreamUrl {
    pub scheme: http::uri::Scheme,
    pub authority: http::uri::Authority,
    /// Path prefix without trailing `/` (empty for none).
    pub prefix: String,
    /// The authority's host, shared by every exchange sent there.
    host: std::sync::Arc<str>,
    /// `scheme://authority` as a URL of the exchange names it (the default port left out, as
    /// in the `Host` header), shared by every exchange sent there.
    base: std::sync::Arc<str>,
}

impl UpstreamUrl {
    /// Refuses what an upstream cannot be: no http(s) scheme, no host, a query, credentials in
    /// the URL, or a port that is not a TCP port (`http::Uri` takes any digits or none, so
    /// `:99999` would only fail at the first call). Errors never quote a URL with user info.
    pub fn parse(s: &str) -> Result<Self, Error> {
        // Any `@` counts, not only one the URI parser puts in the authority: a password with a
        // `/` in it moves the `@` into the path, and the value must not be echoed either way.
        if s.contains('@') {
            return Err(Error::Config(
                "credentials in the URL (user:password@host) are not supported: triage \
                 forwards each client's own Authorization header to the upstream; give the URL \
                 without them"
                    .to_owned(),
            ));
        }
        // Quoted with secret query and fragment parameters redacted: a gateway's key in the
        // URL must not reach the terminal or a CI log in an error.
        let shown = crate::redact::url(s);
        let uri: Uri = s
            .parse()
            .map_err(|e| Error::Config(format!("invalid upstream URL {shown:?}: {e}")))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| {
            Error::Config(format!(
                "upstream URL {shown:?} needs a scheme (https:// or http://)"
            ))
        })?;
        if scheme != http::uri::Scheme::HTTP && scheme != http::uri::Scheme::HTTPS {
            return Err(Error::Config(format!(
                "upstream URL {shown:?}: only http and https are supported"
            )));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::Config(format!("upstream URL {shown:?} has no host")))?;
        if uri.query().is_some() {
            return Err(Error::Config(format!(
                "upstream URL {shown:?} must not have a query"
            )));
        }
        let port = match authority.as_str().strip_prefix('[') {
            // An IPv6 literal: the port, if any, follows the closing bracket.
            Some(rest) => rest
                .split_once(']')
                .and_then(|(_, after)| after.strip_prefix(':')),
            None => authority.as_str().split_once(':').map(|(_, p)| p),
        };
        if let Some(p) = port.filter(|p| !matches!(p.parse::<u16>(), Ok(1..))) {
            return Err(Error::Config(format!(
                "upstream URL {shown:?}: port {p:?} is not a TCP port (1-65535)"
            )));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let default_port = if scheme == http::uri::Scheme::HTTPS {
            443
        } else {
            80
        };
        let base = match authority.port_u16() {
            Some(p) if p != default_port => format!("{scheme}://{}:{p}", authority.host()),
            _ => format!("{scheme}://{}", authority.host()),
        };
        Ok(UpstreamUrl {
            scheme,
            host: authority.host().into(),
            base: base.into(),
            authority,
            prefix,
        })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == http::uri::Scheme::HTTPS
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn shared_host(&self) -> &std::sync::Arc<str> {
        &self.host
    }

    /// `scheme://host[:port]`, without the path prefix.
    pub fn shared_base(&self) -> &std::sync::Arc<str> {
        &self.base
    }
}

impl std::fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// Server-side TLS material for `--tls`.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything the proxy needs to run. Built by the CLI from flags; built directly by tests.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Permits a non-loopback listen address.
    pub allow_remote: bool,
    pub api: UpstreamUrl,
    pub login: UpstreamUrl,
    /// Extra trusted roots for the upstream (PEM).
    pub ca_file: Option<PathBuf>,
    pub tls: Option<ServerTls>,
    /// Most bytes of an error response body read for inspection.
    pub inspect_limit: usize,
    /// Most bytes of a request body kept for inspection.
    pub request_capture_limit: usize,
    pub connect_timeout: Duration,
    /// Time allowed for the upstream's response head.
    pub response_timeout: Duration,
    /// Longest silence allowed while a body streams.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// How long a client connection may go without a complete request head while no exchange
    /// is in flight on it (a client trickling a head, or one holding a connection idle). It is
    /// closed between one and one and a third of this after its last sign of life.
    pub head_timeout: Duration,
    /// How long in-flight exchanges get to finish on shutdown.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Defaults for a given pair of upstreams; the CLI overrides from flags.
    pub fn new(listen: SocketAddr, api: UpstreamUrl, login: UpstreamUrl) -> Self {
        Config {
            listen,
            allow_remote: false,
            api,
            login,
            ca_file: None,
            tls: None,
            inspect_limit: 1024 * 1024,
            request_capture_limit: 64 * 1024,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            head_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }

    pub fn upstream(&self, kind: crate::exchange::UpstreamKind) -> &UpstreamUrl {
        match kind {
            crate::exchange::UpstreamKind::Api => &self.api,
            crate::exchange::UpstreamKind::Login => &self.login,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UpstreamUrl;

    #[test]
    fn the_base_an_exchange_names_is_scheme_and_authority_without_the_prefix() {
        for (url, base) in [
            ("https://api.mypurecloud.ie", "https://api.mypurecloud.ie"),
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("http://127.0.0.1:9000/gateway/", "http://127.0.0.1:9000"),
            ("https://gw.example:443", "https://gw.example"),
            ("http://mock.local:80", "http://mock.local"),
            ("https://gw.example:80", "https://gw.example:80"),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ] {
            let u = UpstreamUrl::parse(url).unwrap();
            assert_eq!(&**u.shared_base(), base, "base of {url}");
        }
    }
}

//! `triage proxy`: flags → [`proxy::Config`](crate::proxy::Config), then serve until Ctrl-C.

use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::{BoolishValueParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::Args;

use crate::catalog::fetch;
use crate::cli::LogFormat;
use crate::diagnose::{Engine, Pipeline, PipelineOptions};
use crate::error::Error;
use crate::inspect::Inspector;
use crate::monitor::Monitor;
use crate::proxy::{Config, Proxy, ServerTls, UpstreamUrl};
use crate::record::Recorder;
use crate::region::Region;
use crate::rules::RuleSet;

// The on/off flags parse their TRIAGE_* variables with [`OnOff`]: environments (CI, compose
// files, systemd units) say `1`, `yes` or `on` as often as `true`, and clap's default accepts
// only `true`/`false`. A bare `--flag` still means true.
#[derive(Debug, Args)]
#[command(after_long_help = format!("{}\n{}", Region::help_table(), crate::cli::rules::builtin_rules_help()))]
pub struct ProxyArgs {
    /// Address to listen on: IP:PORT, or localhost:PORT for 127.0.0.1:PORT (no other host
    /// names). A non-loopback address also needs --allow-remote.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787", value_parser = parse_listen, env = "TRIAGE_LISTEN")]
    pub listen: SocketAddr,

    /// Allow listening on a non-loopback address (anyone who reaches it can use your tokens).
    #[arg(long, env = "TRIAGE_ALLOW_REMOTE", value_parser = OnOff)]
    pub allow_remote: bool,

    /// Genesys Cloud region, by domain (mypurecloud.ie) or region id (eu-west-1); the list is
    /// below.
    #[arg(long, default_value = "mypurecloud.com", env = "TRIAGE_REGION")]
    pub region: String,

    /// Override the API upstream (default https://api.<region domain>); http:// allowed.
    #[arg(long, value_name = "URL", value_parser = UpstreamArg, env = "TRIAGE_API_UPSTREAM", hide_env_values = true)]
    pub api_upstream: Option<String>,

    /// Override the login upstream for /oauth/* (default https://login.<region domain>).
    #[arg(long, value_name = "URL", value_parser = UpstreamArg, env = "TRIAGE_LOGIN_UPSTREAM", hide_env_values = true)]
    pub login_upstream: Option<String>,

    /// Extra trusted root certificates (PEM) for the upstream, e.g. a corporate TLS proxy's.
    #[arg(long, value_name = "PEM", env = "TRIAGE_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Serve https to clients (HTTP/1.1 and HTTP/2 by ALPN) with the certificate of `triage certs`.
    #[arg(long, env = "TRIAGE_TLS", value_parser = OnOff)]
    pub tls: bool,

    /// Server certificate for --tls.
    #[arg(long, default_value = "certs/localhost.pem", env = "TRIAGE_TLS_CERT")]
    pub tls_cert: PathBuf,

    /// Server private key for --tls.
    #[arg(long, default_value = "certs/localhost.key", env = "TRIAGE_TLS_KEY")]
    pub tls_key: PathBuf,

    /// Most bytes of an error response body read for diagnosis; larger bodies stream uninspected.
    #[arg(long, default_value = "1MiB", value_parser = parse_size, env = "TRIAGE_INSPECT_LIMIT")]
    pub inspect_limit: usize,

    /// Time allowed to connect to the upstream.
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "TRIAGE_CONNECT_TIMEOUT")]
    pub connect_timeout: Duration,

    /// Time allowed for the upstream's response head (answered with 504 after).
    #[arg(long, default_value = "60s", value_parser = parse_duration, env = "TRIAGE_RESPONSE_TIMEOUT")]
    pub response_timeout: Duration,

    /// Longest silence allowed while a body streams, either way.
    #[arg(long, default_value = "60s", value_parser = parse_duration, env = "TRIAGE_IDLE_TIMEOUT")]
    pub idle_timeout: Duration,

    /// Most client connections open at once; more wait to be accepted.
    #[arg(long, default_value_t = 1024, env = "TRIAGE_MAX_CONNECTIONS", value_parser = parse_max_connections)]
    pub max_connections: usize,

    #[command(flatten)]
    pub rules: RulesArgs,

    /// Also append the fix to the JSON error body's `message` and add a `triage` member, so the
    /// SDK's exception text carries it (the JS SDK shows the body, not the headers).
    #[arg(long, env = "TRIAGE_ANNOTATE_BODY", value_parser = OnOff)]
    pub annotate_body: bool,

    /// Append every exchange (redacted) with its diagnoses to FILE as JSON Lines, as it happens.
    #[arg(long, value_name = "FILE", env = "TRIAGE_RECORD")]
    pub record: Option<PathBuf>,

    /// Keep the text customers wrote (`textBody`, `text`, `content`) in recordings and the
    /// dashboard; by default it is replaced by its length.
    #[arg(long, env = "TRIAGE_KEEP_CONTENT", value_parser = OnOff)]
    pub keep_content: bool,

    /// Do not serve the live dashboard and metrics (`/__triage/`); those paths then get 404.
    #[arg(long, env = "TRIAGE_NO_DASHBOARD", value_parser = OnOff)]
    pub no_dashboard: bool,

    /// The API catalog to use: a Swagger 2.0 document or operations catalog. By default triage
    /// fetches the upstream's own `GET /api/v2/docs/swagger` once and caches it.
    #[arg(long, value_name = "FILE", env = "TRIAGE_SPEC")]
    pub spec: Option<PathBuf>,

    /// Ask `GET /api/v2/tokens/me` (read-only) once about each new bearer token, so diagnoses
    /// can cite its organization, OAuth client and scopes. Off by default; logged when done.
    #[arg(long, env = "TRIAGE_PROBE_TOKEN", value_parser = OnOff)]
    pub probe_token: bool,

    /// Do not fetch the upstream's catalog; use `--spec`, the cache, or the built-in one.
    #[arg(long, env = "TRIAGE_NO_SPEC_FETCH", value_parser = OnOff)]
    pub no_spec_fetch: bool,

    /// Where the fetched catalog is cached [default: $XDG_CACHE_HOME/triage or ~/.cache/triage].
    #[arg(long, value_name = "DIR", env = "TRIAGE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Which rules to load; shared by `triage proxy` and `triage rules`.
#[derive(Debug, Clone, Default, Args)]
pub struct RulesArgs {
    /// Add the rule files (*.toml) of DIR, or the one rule file DIR names; a rule there replaces
    /// a built-in rule of the same id (said at start). Repeatable; the environment variable
    /// takes a ':'-separated list.
    #[arg(
        long = "rules",
        value_name = "DIR",
        env = "TRIAGE_RULES",
        value_delimiter = ':'
    )]
    pub rules: Vec<PathBuf>,

    /// Do not load the built-in Genesys rule pack.
    #[arg(long, env = "TRIAGE_NO_BUILTIN_RULES", value_parser = OnOff)]
    pub no_builtin_rules: bool,

    /// Leave out the rule of this id (built-in or added); an unknown id is an error.
    /// Repeatable; the environment variable takes a ','-separated list.
    #[arg(
        long = "disable-rule",
        value_name = "ID",
        env = "TRIAGE_DISABLE_RULES",
        value_delimiter = ','
    )]
    pub disable: Vec<String>,
}

impl RulesArgs {
    /// Loads and checks the rules (examples included): nothing half-loads.
    pub fn load(&self) -> Result<RuleSet, Error> {
        Ok(RuleSet::load(!self.no_builtin_rules, &self.rules)?.disable(&self.disable)?)
    }

    /// Loads the rules without running their examples (`triage rules check` and `test` run
    /// them to report each one).
    pub fn load_unchecked(&self) -> Result<RuleSet, crate::rules::LoadErrors> {
        RuleSet::load_unchecked(!self.no_builtin_rules, &self.rules)?.disable(&self.disable)
    }
}

impl ProxyArgs {
    /// The proxy configuration these flags describe.
    pub fn config(&self) -> Result<Config, Error> {
        let region = Region::lookup(&self.region)?;
        let api = UpstreamUrl::parse(self.api_upstream.as_deref().unwrap_or(&region.api_url()))?;
        let login = UpstreamUrl::parse(
            self.login_upstream
                .as_deref()
                .unwrap_or(&region.login_url()),
        )?;
        let mut cfg = Config::new(self.listen, api, login);
        cfg.allow_remote = self.allow_remote;
        cfg.ca_file = self.ca_file.clone();
        cfg.tls = self.tls.then(|| ServerTls {
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
        });
        cfg.inspect_limit = self.inspect_limit;
        cfg.connect_timeout = self.connect_timeout;
        cfg.response_timeout = self.response_timeout;
        cfg.idle_timeout = self.idle_timeout;
        cfg.max_connections = self.max_connections;
        Ok(cfg)
    }
}

/// How long a fetched catalog is used before it is fetched again.
const CATALOG_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

pub fn run(args: ProxyArgs, log_format: LogFormat) -> Result<ExitCode, Error> {
    let cfg = args.config()?;
    let region = Region::lookup(&args.region)?;
    let rules = args.rules.load()?;
    tracing::info!(rules = rules.rules().len(), "rules loaded");
    if !args.rules.disable.is_empty() {
        tracing::info!(rules = %args.rules.disable.join(","), "rules disabled (--disable-rule)");
    }
    for r in rules.replacing() {
        tracing::warn!(file = %r.file, line = r.line, rule = %r.id,
            "an added rule replaces the built-in rule of the same id");
    }

    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(fetch::default_cache_dir);
    let plan = fetch::Plan {
        spec: args.spec.clone(),
        cache_dir: cache_dir.clone(),
        max_age: CATALOG_MAX_AGE,
        fetch: !args.no_spec_fetch,
    };
    let (catalog, fetch_later) = fetch::initial(&plan, &cfg.api)?;
    tracing::info!(target: "triage::catalog", operations = catalog.len(), source = %catalog.source, "API catalog");
    let catalog = Arc::new(fetch::Shared::new(catalog));

    let engine = Arc::new(Engine::new(rules));
    let reload = reloader(args.rules.clone(), engine.clone());
    let mut pipeline = Pipeline::new(
        engine,
        PipelineOptions {
            annotate_body: args.annotate_body,
            region: Some(region),
            replay: false,
        },
    )
    .with_catalog(catalog.clone());
    if let Some(path) = &args.record {
        let recorder = Recorder::open(path)?.keep_content(args.keep_content);
        tracing::info!(file = %path.display(), "recording every exchange (redacted)");
        pipeline = pipeline.with_sink(Arc::new(recorder));
    }
    if !args.no_dashboard {
        let monitor = Monitor::new(crate::monitor::DEFAULT_CAPACITY)
            .keep_content(args.keep_content)
            .allow_remote(args.allow_remote)
            .upstreams(cfg.api.to_string(), cfg.login.to_string());
        pipeline = pipeline.with_sink(Arc::new(monitor));
    }
    if args.probe_token {
        let client = crate::proxy::upstream::build(&cfg)?;
        tracing::info!("--probe-token: triage will call GET /api/v2/tokens/me once per new token");
        pipeline =
            pipeline.with_prober(crate::diagnose::probe::Prober::new(client, cfg.api.clone()));
    }
    let dashboard = !args.no_dashboard;
    let inspector: Arc<dyn Inspector> = Arc::new(pipeline);
    crate::cli::runtime()?.block_on(async move {
        if fetch_later {
            let client = crate::proxy::upstream::build(&cfg)?;
            tokio::spawn(fetch::refresh(catalog, client, cfg.api.clone(), cache_dir));
        }
        let proxy = Proxy::bind(cfg, inspector).await?;
        let cfg = proxy.config();
        let scheme = if cfg.tls.is_some() { "https" } else { "http" };
        if !cfg.listen.ip().is_loopback() {
            tracing::warn!(listen = %cfg.listen, "listening on a non-loopback address (--allow-remote): anyone who can reach it can send requests with your tokens");
        }
        tracing::info!(
            listen = %format!("{scheme}://{}", proxy.local_addr()),
            api = %cfg.api,
            login = %cfg.login,
            "triage proxy ready: point your SDK at the listen address"
        );
        let host = client_host(proxy.local_addr());
        if log_format == LogFormat::Pretty {
            eprint!("{}", sdk_hints(scheme, &host, proxy.local_addr().port()));
        }
        if dashboard {
            let url = format!("{scheme}://{host}/__triage/");
            match log_format {
                // A person wants a line to copy; a log collector wants nothing but JSON lines.
                LogFormat::Pretty => eprintln!("triage dashboard: {url}"),
                LogFormat::Json => tracing::info!(url = %url, "triage dashboard"),
            }
        }
        proxy
            .serve(crate::cli::shutdown_signal_or_reload(reload))
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// What SIGHUP does: load the rules again as the command line named them, and put them in
/// place if they load (examples included); if not, say why and keep those in use, so that a
/// rule file saved half-edited never leaves the proxy without rules.
pub fn reloader(args: RulesArgs, engine: Arc<Engine>) -> impl Fn() + Send + Sync + 'static {
    move || match args.load() {
        Ok(set) => {
            for r in set.replacing() {
                tracing::warn!(file = %r.file, line = r.line, rule = %r.id,
                    "an added rule replaces the built-in rule of the same id");
            }
            tracing::info!(rules = set.rules().len(), "rules reloaded (SIGHUP)");
            engine.replace(set);
        }
        Err(e) => tracing::error!(
            errors = %e,
            "rules not reloaded (SIGHUP): the rules in use stay in use until the files load"
        ),
    }
}

/// The `host:port` a client on this machine uses to reach `addr`: `127.0.0.1` for an
/// unspecified address, `[::1]`-style brackets for IPv6.
fn client_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// The lines that point each SDK at triage (README "Use it with your SDK", FACTS.md §8), with
/// this run's address filled in, for a person to copy.
pub fn sdk_hints(scheme: &str, host_port: &str, port: u16) -> String {
    let host = host_port
        .strip_suffix(&format!(":{port}"))
        .unwrap_or(host_port);
    let mut hints = format!(
        "point your SDK at triage:\n  \
         Python:     PureCloudPlatformClientV2.configuration.host = \"{scheme}://{host_port}\"\n  \
         JavaScript: client.setGateway({{ host: \"{host}\", protocol: \"{scheme}\", port: {port} }})\n"
    );
    if scheme == "https" {
        hints.push_str(
            "  and trust the CA of `triage certs` in it (Python: configuration.ssl_ca_cert, \
             Node: NODE_EXTRA_CA_CERTS; see certs/README.md)\n",
        );
    }
    hints
}

/// `IP:PORT` or `localhost:PORT`. Only the literal `localhost` is taken, as 127.0.0.1: resolving
/// names would make the listen address (and whether it is loopback) depend on DNS or /etc/hosts.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match t.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => port
            .parse::<u16>()
            .map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p)))
            .map_err(|_| format!("{port:?} is not a port (0-65535)")),
        _ => Err(
            "expected IP:PORT or localhost:PORT (e.g. 127.0.0.1:8787, [::1]:8787, \
             localhost:8787); host names other than localhost are not resolved"
                .to_owned(),
        ),
    }
}

/// The value parser of the on/off flags: clap's `BoolishValueParser`, with an error that names
/// the variable. A bare flag never fails to parse (clap hands it `true`), so a value that
/// fails came from the environment, and "invalid value for '--no-dashboard'" sent users
/// looking for a flag they never typed.
#[derive(Debug, Clone, Copy)]
pub struct OnOff;

impl TypedValueParser for OnOff {
    type Value = bool;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<bool, clap::Error> {
        BoolishValueParser::new()
            .parse_ref(cmd, arg, value)
            .map_err(|_| {
                let flag = arg
                    .and_then(|a| a.get_long())
                    .map_or_else(String::new, |l| format!(" (--{l})"));
                let var = arg
                    .and_then(|a| a.get_env())
                    .map_or_else(|| "the variable".into(), |v| v.to_string_lossy());
                cmd.clone().error(
                    ErrorKind::ValueValidation,
                    format!(
                        "invalid value {:?} in {var}{flag}: an on/off variable takes 1, true, \
                         yes or on for on, and 0, false, no or off for off",
                        value.to_string_lossy()
                    ),
                )
            })
    }
}

/// The value parser of `--api-upstream` and `--login-upstream`. Hand-written rather than a
/// `fn(&str)` because clap's error for those quotes the whole value, and a rejected value may
/// hold a password.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamArg;

impl TypedValueParser for UpstreamArg {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let flag = arg
            .and_then(|a| a.get_long())
            .map_or_else(|| "the upstream URL".to_owned(), |l| format!("--{l}"));
        let fail = |msg: String| {
            cmd.clone()
                .error(ErrorKind::ValueValidation, format!("{flag}: {msg}"))
        };
        let s = value
            .to_str()
            .ok_or_else(|| fail("the URL is not valid UTF-8".to_owned()))?;
        check_upstream(s).map_err(fail)?;
        Ok(s.to_owned())
    }
}

/// Whether `s` can be an upstream, by [`UpstreamUrl::parse`]'s rules, at argument parsing.
pub fn check_upstream(s: &str) -> Result<(), String> {
    UpstreamUrl::parse(s).map(|_| ()).map_err(|e| e.to_string())
}

/// `1MiB`, `512KiB`, `64k`, `1048576`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (try 1MiB, 256KiB, 65536)"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return Err(format!("{s:?}: unknown unit (use B, KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// A timeout: `30s`, `500ms`, `2m`, or plain seconds; not zero, which would fail every call
/// (no connection, response head or body chunk comes in no time at all).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 30s, 500ms, 2m)"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => n
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{s:?} is too long"))?,
        _ => return Err(format!("{s:?}: unknown unit (use ms, s, m)")),
    };
    if d.is_zero() {
        return Err(format!(
            "{s:?}: a timeout of zero would fail every call; give at least 1ms"
        ));
    }
    Ok(d)
}

/// At least one: with none, no client could ever be served.
fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1 (0 would accept no client)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}: a whole number of connections, at least 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_positive_and_bounded() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for zero in ["0", "0s", "0ms", "0m"] {
            let e = parse_duration(zero).unwrap_err();
            assert!(
                e.contains("a timeout of zero would fail every call"),
                "{zero}: {e}"
            );
        }
        assert!(parse_duration("999999999999999999m").is_err());
    }

    #[test]
    fn sdk_hints_name_this_runs_address_for_each_sdk() {
        let v4 = client_host("127.0.0.1:8787".parse().unwrap());
        assert_eq!(
            sdk_hints("http", &v4, 8787),
            "point your SDK at triage:\n  \
             Python:     PureCloudPlatformClientV2.configuration.host = \"http://127.0.0.1:8787\"\n  \
             JavaScript: client.setGateway({ host: \"127.0.0.1\", protocol: \"http\", port: 8787 })\n"
        );
        // The JS SDK joins protocol, host and port as given: an IPv6 host keeps its brackets.
        let v6 = client_host("[::1]:9000".parse().unwrap());
        let hints = sdk_hints("https", &v6, 9000);
        assert!(hints.contains("host = \"https://[::1]:9000\""), "{hints}");
        assert!(
            hints.contains("host: \"[::1]\", protocol: \"https\", port: 9000"),
            "{hints}"
        );
        assert!(
            hints.contains("NODE_EXTRA_CA_CERTS"),
            "https names the CA: {hints}"
        );
        assert!(!sdk_hints("http", &v4, 8787).contains("CA"));
        assert_eq!(
            client_host("0.0.0.0:8787".parse().unwrap()),
            "127.0.0.1:8787"
        );
    }

    #[test]
    fn listen_takes_ip_port_and_localhost_port_only() {
        assert_eq!(
            parse_listen("localhost:8787").unwrap(),
            "127.0.0.1:8787".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_listen("LocalHost:0").unwrap(),
            "127.0.0.1:0".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_listen("[::1]:9").unwrap(),
            "[::1]:9".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_listen("localhost:99999")
            .unwrap_err()
            .contains("not a port"));
        for bad in [
            "example.com:80",
            "localhost",
            "localhost.evil.example:80",
            "8787",
        ] {
            let e = parse_listen(bad).unwrap_err();
            assert!(e.contains("not resolved"), "{bad}: {e}");
        }
    }

    #[test]
    fn upstream_ports_must_be_tcp_ports() {
        for ok in [
            "https://api.mypurecloud.ie",
            "http://127.0.0.1:19101",
            "http://127.0.0.1:65535/gateway/",
            "http://[::1]",
            "http://[::1]:8080",
        ] {
            assert_eq!(check_upstream(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:99999",
            "http://127.0.0.1:0",
            "http://127.0.0.1:abc",
            "http://127.0.0.1:",
            "http://[::1]:65536",
        ] {
            let e = check_upstream(bad).unwrap_err();
            assert!(e.contains("is not a TCP port (1-65535)"), "{bad}: {e}");
        }
    }

    #[test]
    fn upstream_credentials_are_refused_without_quoting_them() {
        for bad in [
            "http://user:PW@127.0.0.1:19101",
            "https://PW@api.example",
            // A `/` in the password puts the `@` in the URI's path.
            "http://user:P/W@host",
        ] {
            let e = check_upstream(bad).unwrap_err();
            assert!(e.contains("Authorization"), "{e}");
            assert!(!e.contains("PW") && !e.contains("P/W"), "{e}");
        }
    }
}

//! Secrets never leak: seeded random sessions of Genesys-like exchanges through a live triage
//! (recording, dashboard, diagnosis headers, logs) and then through `triage export --har`,
//! `triage redact` and `triage explain` in every format, with fresh random credentials planted
//! where a real client or API puts them: `Authorization: Bearer` and `Basic`, token-request
//! forms (odd spellings that src/redact.rs claims: case, `-`/`_`, percent-encoded names, `;`
//! separators; multipart too), secret query parameters, JSON keys at depth and an integration's
//! `credentialFields`, cookies, API-key headers, a SAML post, credentials in an absolute-form
//! URL, compressed request bodies, an `/oauth/token` answer, a redirect's `Location`, and
//! upstream errors that quote the request's credentials back (plain, `\/`- or `\u`-escaped,
//! HTML-escaped, in text or a header), gzipped or not, cut by the inspection limit or not,
//! answered with the statuses the rules diagnose. Every output is then
//! searched for every credential, as written and in the spellings a reader could turn back
//! (JSON and Rust string escapes, HTML entities, percent-encoding, base64, gzip in base64),
//! by any run of [`WINDOW`] of its characters, so that a credential cut short still counts.
//!
//! What the policy leaves out is not planted: values shorter than `Secrets::MIN_LEN`, a
//! credential of one exchange quoted in another, client ids, and the upstream's own response
//! body as the client receives it (triage forwards it unchanged; only what triage adds to it
//! is searched). Nor is a `credentialFields` given twice in one body: a JSON parser keeps the
//! last, and only secret key names (not that container) are read textually as well.
//!
//! `TRIAGE_FUZZ_CASES=N` runs N cases (default 40, about 20 s unoptimised);
//! `TRIAGE_FUZZ_SEED=S` fixes the seed (default: from the clock, printed on failure);
//! `TRIAGE_FUZZ_CASE=K` runs case K of that seed alone and prints its exchanges. Logs are
//! captured at `trace` for every crate (`TRIAGE_FUZZ_LOG` sets another filter): at that level
//! h2 logs frames without their fields, hyper logs nothing (its tracing is off), and
//! hyper-util only pool keys and addresses. The binary is spawned only for what only it prints
//! (command-line errors and warnings on stderr), in a test of its own.

mod common;

use common::fuzz::{self, case_seed, Rng};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use triage::diagnose::{Engine, Pipeline, PipelineOptions};
use triage::monitor::Monitor;
use triage::record::Recorder;
use triage::rules::RuleSet;

/// Characters of a credential that count as a leak when found together.
const WINDOW: usize = 16;

// ---------------------------------------------------------------------------------------------
// The PRNG and the TRIAGE_FUZZ_* variables: tests/common/fuzz.rs.

// ---------------------------------------------------------------------------------------------
// Credentials: random, long enough to be looked for, from alphabets that fit where they go.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    /// Letters and digits.
    Alnum,
    /// base64url, as Genesys client secrets and many tokens.
    B64Url,
    /// RFC 6750's b64token: what a bearer token may hold.
    Token68,
    /// RFC 6265's cookie-octet.
    Cookie,
    /// A password: any printable ASCII, a space, sometimes beyond ASCII. Bodies only.
    Password,
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn secret_text(rng: &mut Rng, a: Alphabet) -> String {
    let len = rng.range(20, 44);
    let extra: &str = match a {
        Alphabet::Alnum => "",
        Alphabet::B64Url => "-_",
        Alphabet::Token68 => "-._~+/",
        Alphabet::Cookie => "!#$%&'()*+-./:<=>?@[]^_`{|}~",
        Alphabet::Password => " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    };
    let wide = ["é", "ß", "漢", "😀", "\u{2028}", "ñ"];
    let mut s = String::new();
    // Starts with a letter: a window of it is then never a word of the outputs by chance.
    s.push(char::from(ALNUM[rng.below(52)]));
    while s.chars().count() < len {
        if a == Alphabet::Password && rng.one_in(25) {
            s.push_str(rng.pick(&wide));
        } else if !extra.is_empty() && rng.one_in(4) {
            s.push(char::from(extra.as_bytes()[rng.below(extra.len())]));
        } else {
            s.push(char::from(ALNUM[rng.below(ALNUM.len())]));
        }
    }
    if a == Alphabet::Token68 && rng.one_in(3) {
        s.push('=');
    }
    s
}

/// A credential planted in the session, and every place it was put.
#[derive(Debug, Clone)]
struct Planted {
    value: String,
    sites: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// The session model.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    H1,
    H2,
}

#[derive(Debug, Clone)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    /// Decoded; gzipped on the wire when `gzip`.
    body: Vec<u8>,
    gzip: bool,
}

#[derive(Debug, Clone)]
struct Exch {
    method: String,
    /// Path and query as sent.
    target: String,
    login: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    resp: Resp,
}

#[derive(Debug, Clone)]
struct Case {
    proto: Proto,
    annotate: bool,
    keep_content: bool,
    probe: bool,
    inspect_limit: usize,
    exchanges: Vec<Exch>,
    planted: Vec<Planted>,
}

impl Case {
    fn describe(&self) -> String {
        let mut s = format!(
            "{:?} client, annotate-body {}, keep-content {}, probe-token {}, inspect-limit {}, {} exchanges:",
            self.proto,
            self.annotate,
            self.keep_content,
            self.probe,
            self.inspect_limit,
            self.exchanges.len()
        );
        for (i, e) in self.exchanges.iter().enumerate() {
            let _ = write!(
                s,
                "\n    #{i} {} {} -> {}{}",
                e.method,
                e.target,
                e.resp.status,
                if e.resp.gzip { " (gzip)" } else { "" }
            );
        }
        s
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        for (i, e) in self.exchanges.iter().enumerate() {
            let _ = write!(s, "\n--- exchange #{i}\n{} {}", e.method, e.target);
            for (n, v) in &e.headers {
                let _ = write!(s, "\n{n}: {v}");
            }
            let _ = write!(s, "\n\n{}", String::from_utf8_lossy(&e.body));
            let _ = write!(s, "\n--- response #{i}: {}", e.resp.status);
            for (n, v) in &e.resp.headers {
                let _ = write!(s, "\n{n}: {v}");
            }
            let _ = write!(s, "\n\n{}", String::from_utf8_lossy(&e.resp.body));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Generation.

struct Gen<'a> {
    rng: &'a mut Rng,
    planted: Vec<Planted>,
    /// The exchange being generated, for the sites' names.
    at: String,
    /// A token the session holds (from a token answer), for the API calls after it.
    token: Option<String>,
    refresh: Option<String>,
    /// Whether the client speaks HTTP/1.1, which can send any request-target.
    h1: bool,
}

/// How an upstream writes JSON strings.
#[derive(Debug, Clone, Copy)]
enum Escaping {
    /// As serde_json does: `"`, `\` and control characters.
    Plain,
    /// `/` as `\/` too (PHP, some Java).
    Slash,
    /// `<`, `>`, `&`, U+2028 and U+2029 as `\u…` too (Go's encoding/json).
    Go,
    /// Everything beyond ASCII as `\u…` (Python's json.dumps).
    Ascii,
    /// Every character but letters and digits as `\u…`.
    All,
}

fn json_string(s: &str, e: Escaping) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let esc = match e {
            Escaping::Plain | Escaping::Slash => false,
            Escaping::Go => matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'),
            Escaping::Ascii => !c.is_ascii(),
            Escaping::All => !c.is_ascii_alphanumeric(),
        };
        if esc || (c as u32) < 0x20 {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{u:04x}");
            }
            continue;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if matches!(e, Escaping::Slash) => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON object written as an upstream would, members in order.
fn json_object(members: &[(&str, String)], e: Escaping) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:{v}", json_string(k, e));
    }
    out.push('}');
    out
}

/// Percent-encoding as a form or query writer does; `+` for a space sometimes, lowercase hex
/// sometimes, and some sub-delimiters left as they are.
fn form_encode(rng: &mut Rng, s: &str) -> String {
    let plus = rng.one_in(2);
    let lower = rng.one_in(3);
    let lax = rng.one_in(4);
    let mut out = String::new();
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (lax && matches!(b, b'!' | b'*' | b'\'' | b'(' | b')' | b':' | b'@' | b'/'));
        if keep {
            out.push(char::from(b));
        } else if b == b' ' && plus {
            out.push('+');
        } else if lower {
            let _ = write!(out, "%{b:02x}");
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A parameter name spelt as servers still read it (src/redact.rs: case, `-`/`_`, camelCase,
/// percent-encoded characters).
fn spell_param(rng: &mut Rng, name: &str) -> String {
    match rng.below(6) {
        0 | 1 => name.to_owned(),
        2 => name.to_ascii_uppercase(),
        3 => name.replace('_', "-"),
        4 => {
            let mut out = String::new();
            let mut up = false;
            for c in name.chars() {
                if c == '_' {
                    up = true;
                } else if up {
                    out.push(c.to_ascii_uppercase());
                    up = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => {
            let mut out = String::new();
            for b in name.bytes() {
                if b == b'_' || rng.one_in(4) {
                    let _ = write!(out, "%{b:02X}");
                } else {
                    out.push(char::from(b));
                }
            }
            out
        }
    }
}

/// A JSON key spelt as the policy still reads it.
fn spell_key(rng: &mut Rng, name: &str) -> String {
    match rng.below(5) {
        0 | 1 => name.to_owned(),
        2 => name.to_ascii_uppercase(),
        3 => name.replace('_', "-"),
        _ => {
            let mut out = String::new();
            let mut up = false;
            for c in name.chars() {
                if c == '_' {
                    up = true;
                } else if up {
                    out.push(c.to_ascii_uppercase());
                    up = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

fn mixed_case(rng: &mut Rng, name: &str) -> String {
    name.chars()
        .map(|c| {
            if rng.one_in(2) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

const SECRET_JSON: &[&str] = &[
    "client_secret",
    "client_assertion",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "password",
    "assertion",
    "code_verifier",
    "secret",
    "api_key",
    "private_key",
];

const SECRET_HEADERS: &[&str] = &["x-api-key", "api-key", "x-auth-token", "x-access-token"];

impl Gen<'_> {
    fn plant(&mut self, a: Alphabet, site: &str) -> String {
        let v = secret_text(self.rng, a);
        self.planted.push(Planted {
            value: v.clone(),
            sites: vec![format!("{}: {site}", self.at)],
        });
        v
    }

    /// Notes another place a credential went (the same value used again, or echoed).
    fn also(&mut self, value: &str, site: &str) {
        let at = format!("{}: {site}", self.at);
        if let Some(p) = self.planted.iter_mut().find(|p| p.value == value) {
            p.sites.push(at);
        }
    }

    fn escaping(&mut self) -> Escaping {
        self.rng.pick(&[
            Escaping::Plain,
            Escaping::Plain,
            Escaping::Slash,
            Escaping::Go,
            Escaping::Ascii,
            Escaping::All,
        ])
    }

    fn session(&mut self) -> Vec<Exch> {
        let n = self.rng.range(1, 4);
        let mut out = Vec::new();
        for i in 0..n {
            self.at = format!("exchange #{i}");
            let e = match self.rng.below(40) {
                0..=15 => self.token_request(),
                16..=19 => self.authorize(),
                20 if self.h1 => self.foreign(),
                21 => self.saml_post(),
                _ => self.api_call(),
            };
            out.push(e);
        }
        out
    }

    /// `POST /oauth/token`: Basic or form client credentials, a grant's own secrets, and an
    /// answer that issues tokens or refuses, quoting what it refused.
    fn token_request(&mut self) -> Exch {
        let mut headers = Vec::new();
        let mut fields: Vec<(String, String)> = Vec::new();
        // Values as the upstream reads them, for its error to quote.
        let mut quotable: Vec<String> = Vec::new();
        let client_id = self.rng.uuid();
        let grant = if self.refresh.is_some() && self.rng.one_in(2) {
            "refresh_token"
        } else {
            self.rng.pick(&[
                "client_credentials",
                "client_credentials",
                "refresh_token",
                "authorization_code",
                "password",
                "urn:ietf:params:oauth:grant-type:saml2-bearer",
            ])
        };
        fields.push(("grant_type".into(), grant.to_owned()));
        match self.rng.below(4) {
            0 | 1 => {
                let alpha = self.rng.pick(&[Alphabet::B64Url, Alphabet::Password]);
                let secret = self.plant(alpha, "client secret in `Authorization: Basic`");
                let pair = format!("{client_id}:{secret}");
                let cred = base64::engine::general_purpose::STANDARD.encode(&pair);
                self.planted.push(Planted {
                    value: cred.clone(),
                    sites: vec![format!(
                        "{}: the `Authorization: Basic` credential",
                        self.at
                    )],
                });
                headers.push((
                    self.header_name("authorization"),
                    format!("{} {cred}", self.rng.pick(&["Basic", "basic", "BASIC"])),
                ));
                quotable.push(secret);
                quotable.push(pair);
            }
            2 => {
                // The pair not encoded at all, as people do (the rule about it says so).
                let secret = self.plant(
                    Alphabet::B64Url,
                    "client secret in `Basic id:secret`, not base64",
                );
                headers.push((
                    self.header_name("authorization"),
                    format!("Basic {client_id}:{secret}"),
                ));
                quotable.push(format!("{client_id}:{secret}"));
            }
            _ => {
                fields.push(("client_id".into(), client_id.clone()));
                let alpha = self.rng.pick(&[Alphabet::B64Url, Alphabet::Password]);
                let name = spell_param(self.rng, "client_secret");
                let secret = self.plant(alpha, &format!("form field `{name}`"));
                fields.push((name, secret.clone()));
                quotable.push(secret);
            }
        }
        match grant {
            "refresh_token" => {
                let name = spell_param(self.rng, "refresh_token");
                let r = match self.refresh.clone() {
                    Some(r) if self.rng.one_in(2) => {
                        self.also(&r, &format!("form field `{name}`"));
                        r
                    }
                    _ => self.plant(Alphabet::B64Url, &format!("form field `{name}`")),
                };
                fields.push((name, r.clone()));
                quotable.push(r);
            }
            "authorization_code" => {
                let name = spell_param(self.rng, "code");
                let c = self.plant(Alphabet::B64Url, &format!("form field `{name}`"));
                fields.push((name, c.clone()));
                quotable.push(c);
                fields.push((
                    "redirect_uri".into(),
                    "https://app.example.com/callback".to_owned(),
                ));
                if self.rng.one_in(2) {
                    let name = spell_param(self.rng, "code_verifier");
                    let v = self.plant(Alphabet::B64Url, &format!("form field `{name}`"));
                    fields.push((name, v.clone()));
                    quotable.push(v);
                }
            }
            "password" => {
                fields.push(("username".into(), "agent@example.com".to_owned()));
                let name = spell_param(self.rng, "password");
                let p = self.plant(Alphabet::Password, &format!("form field `{name}`"));
                fields.push((name, p.clone()));
                quotable.push(p);
            }
            "client_credentials" => {}
            _ => {
                let name = spell_param(self.rng, "assertion");
                let a = self.plant(Alphabet::B64Url, &format!("form field `{name}`"));
                fields.push((name, a.clone()));
                quotable.push(a);
            }
        }
        // Order, separators and the content type vary as clients vary.
        let k = fields.len();
        for i in (1..k).rev() {
            let j = self.rng.below(i + 1);
            fields.swap(i, j);
        }
        if self.rng.one_in(8) {
            // A multipart form, as some HTTP libraries send any form.
            let boundary = format!("----fuzz{}", self.rng.hex(12));
            let mut body = String::new();
            for (n, v) in &fields {
                let _ = write!(
                    body,
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n"
                );
            }
            let _ = write!(body, "--{boundary}--\r\n");
            headers.push((
                self.header_name("content-type"),
                format!("multipart/form-data; boundary={boundary}"),
            ));
            let resp = self.oauth_error(&quotable);
            return Exch {
                method: "POST".into(),
                target: "/oauth/token".into(),
                login: true,
                headers,
                body: body.into_bytes(),
                resp,
            };
        }
        let sep = if self.rng.one_in(4) { ";" } else { "&" };
        let body = fields
            .iter()
            .map(|(n, v)| format!("{n}={}", form_encode(self.rng, v)))
            .collect::<Vec<_>>()
            .join(sep);
        match self.rng.below(5) {
            0 => {}
            1 => headers.push((
                self.header_name("content-type"),
                "application/x-www-form-urlencoded; charset=UTF-8".into(),
            )),
            2 => headers.push((
                self.header_name("content-type"),
                "Application/X-WWW-Form-URLEncoded".into(),
            )),
            _ => headers.push((
                self.header_name("content-type"),
                "application/x-www-form-urlencoded".into(),
            )),
        }
        let resp = if self.rng.one_in(3) {
            self.token_answer()
        } else {
            self.oauth_error(&quotable)
        };
        Exch {
            method: "POST".into(),
            target: "/oauth/token".into(),
            login: true,
            headers,
            body: body.into_bytes(),
            resp,
        }
    }

    fn token_answer(&mut self) -> Resp {
        let e = self.escaping();
        let access = self.plant(
            Alphabet::Token68,
            "`access_token` of an /oauth/token answer",
        );
        let mut members = vec![
            ("access_token", json_string(&access, e)),
            ("token_type", json_string("bearer", e)),
            ("expires_in", "86399".to_owned()),
        ];
        if self.rng.one_in(2) {
            let r = self.plant(
                Alphabet::B64Url,
                "`refresh_token` of an /oauth/token answer",
            );
            members.push(("refresh_token", json_string(&r, e)));
            self.refresh = Some(r);
        }
        if self.rng.one_in(4) {
            let id = self.plant(Alphabet::B64Url, "`id_token` of an /oauth/token answer");
            members.push(("id_token", json_string(&id, e)));
        }
        self.token = Some(access);
        let mut headers = vec![("content-type".into(), "application/json".into())];
        self.maybe_set_cookie(&mut headers);
        Resp {
            status: 200,
            headers,
            body: json_object(&members, e).into_bytes(),
            gzip: self.rng.one_in(3),
        }
    }

    /// An OAuth error: `error` and an `error_description` that may quote a credential of the
    /// request (as the upstream read it), or an HTML page or plain text that does.
    fn oauth_error(&mut self, quotable: &[String]) -> Resp {
        let e = self.escaping();
        let (status, error) = self.rng.pick(&[
            (400, "invalid_client"),
            (400, "invalid_grant"),
            (400, "unauthorized_client"),
            (400, "unauthorized_client"),
            (400, "invalid_request"),
            (400, "unsupported_grant_type"),
            (401, "invalid_client"),
            (429, "too_many_requests"),
        ]);
        let quoted = self.quote(quotable);
        let description = match &quoted {
            Some(q) => self.rng.pick(&[
                format!("client secret {q} is invalid"),
                format!("refresh token {q} is revoked"),
                q.to_string(),
                format!("Bad credentials [{q}] for client"),
                format!("authorization code {q} was already used"),
            ]),
            None => "Client authentication failed".to_owned(),
        };
        let mut headers = vec![("content-type".into(), "application/json".into())];
        if status == 429 {
            headers.push(("retry-after".into(), self.rng.range(1, 60).to_string()));
        }
        if let Some(q) = quoted.as_ref().filter(|q| header_safe(q)) {
            if self.rng.one_in(3) {
                headers.push((
                    "www-authenticate".into(),
                    format!("Basic realm=\"login\", error=\"{error}\", error_description=\"{q}\""),
                ));
            }
        }
        self.maybe_set_cookie(&mut headers);
        let body = if self.rng.one_in(8) {
            headers[0].1 = "text/html; charset=utf-8".into();
            format!(
                "<html><body><h1>{status}</h1><p>{}</p></body></html>",
                html_escape(&description)
            )
        } else {
            let mut members = vec![
                ("error", json_string(error, e)),
                ("error_description", json_string(&description, e)),
            ];
            if self.rng.one_in(4) {
                members.push((
                    "padding",
                    json_string(&"x".repeat(self.rng.range(100, 3000)), e),
                ));
                members.swap(0, 2);
            }
            json_object(&members, e)
        };
        Resp {
            status,
            headers,
            body: body.into_bytes(),
            gzip: self.rng.one_in(3),
        }
    }

    /// One of `quotable` to echo, usually.
    fn quote(&mut self, quotable: &[String]) -> Option<String> {
        if quotable.is_empty() || self.rng.one_in(4) {
            return None;
        }
        let q = self.rng.pick(quotable);
        // Note it as echoed on the credential it is or contains.
        let hits: Vec<String> = self
            .planted
            .iter()
            .filter(|p| q.contains(&p.value))
            .map(|p| p.value.clone())
            .collect();
        for v in hits {
            self.also(&v, "quoted back by the upstream's error");
        }
        Some(q)
    }

    /// An absolute-form request for another host, with credentials in its URL (a client that
    /// took triage for a forward proxy): triage refuses it itself.
    fn foreign(&mut self) -> Exch {
        let password = self.plant(
            Alphabet::B64Url,
            "the password in an absolute-form request's URL",
        );
        Exch {
            method: "GET".into(),
            target: format!("http://partner:{password}@partner.example.com/v1/items"),
            login: false,
            headers: Vec::new(),
            body: Vec::new(),
            resp: Resp {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
                gzip: false,
            },
        }
    }

    /// A browser's SAML single sign-on post to the login host: the identity provider's
    /// assertion as `SAMLResponse`.
    fn saml_post(&mut self) -> Exch {
        let assertion = self.plant(Alphabet::B64Url, "form field `SAMLResponse` of a SAML post");
        let body = format!(
            "SAMLResponse={}&RelayState={}",
            form_encode(self.rng, &assertion),
            self.rng.hex(8)
        );
        let quoted = self.quote(std::slice::from_ref(&assertion));
        let message = match quoted {
            Some(q) => format!("Invalid SAML response {q}"),
            None => "Invalid SAML response".to_owned(),
        };
        Exch {
            method: "POST".into(),
            target: "/saml".into(),
            login: true,
            headers: vec![(
                self.header_name("content-type"),
                "application/x-www-form-urlencoded".into(),
            )],
            body: body.into_bytes(),
            resp: Resp {
                status: 400,
                headers: vec![("content-type".into(), "application/json".into())],
                body: json_object(
                    &[
                        ("message", json_string(&message, Escaping::Plain)),
                        ("code", json_string("bad.request", Escaping::Plain)),
                        ("status", "400".into()),
                    ],
                    Escaping::Plain,
                )
                .into_bytes(),
                gzip: false,
            },
        }
    }

    /// `GET /oauth/authorize`, answered with a redirect carrying a code or (implicit grant) a
    /// token.
    fn authorize(&mut self) -> Exch {
        let client_id = self.rng.uuid();
        let target = format!(
            "/oauth/authorize?client_id={client_id}&response_type=code&redirect_uri={}",
            form_encode(self.rng, "https://app.example.com/callback")
        );
        let location = if self.rng.one_in(2) {
            let code = self.plant(Alphabet::B64Url, "`code` in a redirect's Location");
            format!("https://app.example.com/callback?code={code}&state=s1")
        } else {
            let t = self.plant(Alphabet::B64Url, "`#access_token` in a redirect's Location");
            format!("https://app.example.com/callback#access_token={t}&expires_in=86399&token_type=bearer")
        };
        let mut headers = vec![("location".into(), location)];
        self.maybe_set_cookie(&mut headers);
        Exch {
            method: "GET".into(),
            target,
            login: true,
            headers: Vec::new(),
            body: Vec::new(),
            resp: Resp {
                status: 302,
                headers,
                body: Vec::new(),
                gzip: false,
            },
        }
    }

    fn maybe_set_cookie(&mut self, headers: &mut Vec<(String, String)>) {
        if self.rng.one_in(3) {
            let v = self.plant(Alphabet::Cookie, "a `Set-Cookie` value");
            let name = self
                .rng
                .pick(&["JSESSIONID", "sid", "ININ-Session", "AWSALB"]);
            headers.push((
                "set-cookie".into(),
                format!("{name}={v}; Path=/; Secure; HttpOnly; SameSite=None"),
            ));
        }
    }

    fn header_name(&mut self, name: &str) -> String {
        // HTTP/2 lowercases names; the client writes them as they are on HTTP/1.1 only.
        mixed_case(self.rng, name)
    }

    /// An API call with a bearer token (or none, or not as a bearer), maybe cookies, an API
    /// key, a secret query parameter and a JSON body with secrets at depth, answered with the
    /// statuses the rules diagnose, often quoting one of the request's credentials.
    fn api_call(&mut self) -> Exch {
        let c = self.rng.uuid();
        let m = self.rng.uuid();
        let (method, mut path, body_kind) = self.rng.pick(&[
            ("GET", "/api/v2/users/me".to_owned(), 0),
            ("GET", format!("/api/v2/conversations/messages/{c}"), 0),
            (
                "POST",
                format!("/api/v2/conversations/messages/{c}/communications/{m}/messages"),
                1,
            ),
            (
                "POST",
                "/api/v2/conversations/messages/agentless".to_owned(),
                1,
            ),
            ("POST", "/api/v2/integrations/credentials".to_owned(), 2),
            ("PUT", format!("/api/v2/integrations/credentials/{c}"), 2),
            ("POST", "/api/v2/oauth/clients".to_owned(), 2),
            ("POST", "/api/v2/users".to_owned(), 2),
            (
                "PATCH",
                format!("/api/v2/conversations/messages/{c}/participants/{m}"),
                1,
            ),
            ("PUT", format!("/api/v2/communications/guests/{m}"), 1),
            (
                "GET",
                "/api/v2/analytics/conversations/details".to_owned(),
                0,
            ),
            ("POST", "/api/v2/processautomation/triggers".to_owned(), 2),
        ]);
        let mut headers = Vec::new();
        let mut quotable = Vec::new();
        match self.rng.below(8) {
            0 => {}
            1 => {
                // Not a bearer: a token alone, or another scheme.
                let t = self.plant(
                    Alphabet::Token68,
                    "`Authorization` without the Bearer scheme",
                );
                let v = if self.rng.one_in(2) {
                    t.clone()
                } else {
                    format!("Token {t}")
                };
                headers.push((self.header_name("authorization"), v));
                quotable.push(t);
            }
            _ => {
                let t = match self.token.clone() {
                    Some(t) if self.rng.one_in(2) => {
                        self.also(&t, "`Authorization: Bearer`");
                        t
                    }
                    _ => self.plant(Alphabet::Token68, "`Authorization: Bearer`"),
                };
                let scheme = self.rng.pick(&["Bearer", "bearer", "Bearer ", "BEARER"]);
                headers.push((self.header_name("authorization"), format!("{scheme} {t}")));
                quotable.push(t);
            }
        }
        if self.rng.one_in(3) {
            let n = self.rng.range(1, 3);
            let mut crumbs = Vec::new();
            for _ in 0..n {
                let v = self.plant(Alphabet::Cookie, "a `Cookie` value");
                let name = self
                    .rng
                    .pick(&["JSESSIONID", "sid", "ININ-Auth", "AWSALB", "__cf_bm"]);
                let v = if self.rng.one_in(5) {
                    format!("\"{v}\"")
                } else {
                    v
                };
                crumbs.push(format!("{name}={v}"));
                quotable.push(v.trim_matches('"').to_owned());
            }
            headers.push((self.header_name("cookie"), crumbs.join("; ")));
        }
        if self.rng.one_in(4) {
            let name = self.rng.pick(SECRET_HEADERS);
            let alpha = self.rng.pick(&[Alphabet::Alnum, Alphabet::B64Url]);
            let k = self.plant(alpha, &format!("header `{name}`"));
            headers.push((self.header_name(name), k.clone()));
            quotable.push(k);
        }
        // A secret query parameter among ordinary ones.
        let mut params: Vec<String> = Vec::new();
        if self.rng.one_in(3) {
            params.push("pageSize=25".into());
        }
        if self.rng.one_in(3) {
            let canonical =
                self.rng
                    .pick(&["access_token", "access_token", "api_key", "token", "code"]);
            let name = spell_param(self.rng, canonical);
            let alpha = self
                .rng
                .pick(&[Alphabet::B64Url, Alphabet::Token68, Alphabet::Password]);
            let v = self.plant(alpha, &format!("query parameter `{name}`"));
            params.push(format!("{name}={}", form_encode(self.rng, &v)));
            quotable.push(v);
        }
        if self.rng.one_in(3) {
            params.push("expand=presence".into());
        }
        if !params.is_empty() {
            let sep = if self.rng.one_in(4) { ";" } else { "&" };
            path = format!("{path}?{}", params.join(sep));
        }
        let body = match body_kind {
            1 => {
                headers.push((self.header_name("content-type"), "application/json".into()));
                format!(
                    r#"{{"textBody":"Hello from the customer {}"}}"#,
                    self.rng.hex(6)
                )
                .into_bytes()
            }
            2 => {
                headers.push((self.header_name("content-type"), "application/json".into()));
                if self.rng.one_in(8) {
                    // Some clients compress what they send.
                    headers.push((self.header_name("content-encoding"), "gzip".into()));
                }
                self.secret_json(&mut quotable).into_bytes()
            }
            _ => Vec::new(),
        };
        if self.rng.one_in(10) {
            // Meant for a proxy in between; hop-by-hop, so triage drops it.
            let t = self.plant(Alphabet::Token68, "`Proxy-Authorization: Bearer`");
            headers.push((
                self.header_name("proxy-authorization"),
                format!("Bearer {t}"),
            ));
        }
        let resp = self.api_answer(&path, &quotable);
        Exch {
            method: method.into(),
            target: path,
            login: false,
            headers,
            body,
            resp,
        }
    }

    /// A JSON body with one to three secret keys at some depth, spelt as the policy reads them.
    fn secret_json(&mut self, quotable: &mut Vec<String>) -> String {
        let e = self.escaping();
        let mut members: Vec<(String, String)> = vec![(
            "name".into(),
            json_string(&format!("integration {}", self.rng.hex(4)), e),
        )];
        for _ in 0..self.rng.range(1, 3) {
            // Once a body: a second `credentialFields` would hide the first from a parser
            // (the repeated-key case is left to the plain secret keys, which the textual pass
            // finds; see the module header).
            let has_fields = members.iter().any(|(k, _)| k == "credentialFields");
            if !has_fields && self.rng.one_in(5) {
                // An integration credential of a user-defined type: its fields named at will.
                let name = self.rng.pick(&["apiToken", "key", "pin", "hmac", "bot"]);
                let v = self.plant(
                    Alphabet::B64Url,
                    &format!("`credentialFields.{name}` of an integration credential"),
                );
                quotable.push(v.clone());
                members.push((
                    "credentialFields".into(),
                    format!("{{{}:{}}}", json_string(name, e), json_string(&v, e)),
                ));
                continue;
            }
            let (key, value) = if self.rng.one_in(6) {
                // Headers carried as data: the `Authorization` of a webhook.
                let t = self.plant(
                    Alphabet::Token68,
                    "JSON `Authorization` of headers carried as data",
                );
                quotable.push(t.clone());
                ("Authorization".to_owned(), format!("Bearer {t}"))
            } else {
                let canonical = self.rng.pick(SECRET_JSON);
                let key = spell_key(self.rng, canonical);
                let alpha = self.rng.pick(&[Alphabet::B64Url, Alphabet::Password]);
                let v = self.plant(alpha, &format!("JSON key `{key}`"));
                quotable.push(v.clone());
                (key, v)
            };
            let depth = self.rng.range(0, 3);
            if depth == 0 {
                members.push((key, json_string(&value, e)));
                continue;
            }
            // The object that holds the secret, inside objects and arrays.
            // Keys as serializers write them (none escapes a letter or `_` in a key); values in
            // the upstream's escaping. A key both escaped and given twice is out of reach of
            // the textual pass, which reads plain keys only.
            let k = json_string(&key, Escaping::Plain);
            let mut v = format!("{{{k}:{}}}", json_string(&value, e));
            for _ in 1..depth {
                v = if self.rng.one_in(3) {
                    format!("[{v}]")
                } else {
                    let wrap = self.rng.pick(&["config", "headers", "request", "auth"]);
                    format!("{{{}:{v}}}", json_string(wrap, Escaping::Plain))
                };
            }
            let top = self.rng.pick(&["config", "settings", "auth"]);
            members.push((top.to_owned(), v));
        }
        let mut out = String::from("{");
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{v}", json_string(k, Escaping::Plain));
        }
        out.push('}');
        out
    }

    fn api_answer(&mut self, path: &str, quotable: &[String]) -> Resp {
        let e = self.escaping();
        let (status, code, message) = self.rng.pick(&[
            (200, "", "ok"),
            (400, "invalid.value", "Value [VALUE] is not valid for field type"),
            (400, "bad.request", "The request could not be understood by the server due to malformed syntax."),
            (401, "bad.credentials", "Invalid login credentials."),
            (401, "authentication.required", "No authentication bearer token specified in authorization header."),
            (401, "credentials.expired", "The token has expired."),
            (403, "missing.permissions", "Unable to perform the requested action. You are missing the following permission(s): conversation:message:create"),
            (403, "app.not.authorized.for.scope", "App not authorized to use scope [conversations]"),
            (403, "not.authorized", "You are not authorized to perform the requested action."),
            (404, "not.found", "The requested resource was not found."),
            (409, "request.conflict", "The request conflicts with the current state of the target resource."),
            (429, "too.many.requests", "Rate limit exceeded the maximum. [600] requests for [60] seconds"),
            (503, "service.unavailable", "Service Unavailable"),
        ]);
        let quoted = if status >= 400 {
            self.quote(quotable)
        } else {
            None
        };
        let message = match &quoted {
            Some(q) => match self.rng.below(5) {
                0 => format!("Invalid token {q}"),
                1 => {
                    message
                        .replace("[VALUE]", &format!("[{q}]"))
                        .replace("[conversations]", &format!("[{q}]"))
                        + &format!(" ({q})")
                }
                2 => format!("{message} Bearer {q}"),
                3 => format!("App not authorized to use scope [{q}]"),
                _ => format!("{message} Credential: {q}"),
            },
            None => message.replace("[VALUE]", "[x]"),
        };
        let mut headers = vec![("content-type".into(), "application/json".into())];
        headers.push(("inin-correlation-id".into(), self.rng.uuid()));
        if status == 429 {
            headers.push(("retry-after".into(), self.rng.range(1, 60).to_string()));
        }
        if let Some(q) = quoted.as_ref().filter(|q| header_safe(q)) {
            match self.rng.below(3) {
                0 => headers.push((
                    "www-authenticate".into(),
                    format!("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token {q} is not valid\""),
                )),
                1 => headers.push(("x-error-detail".into(), format!("refused {q}"))),
                _ => {}
            }
        }
        self.maybe_set_cookie(&mut headers);
        let body = if status == 200 {
            if path.starts_with("/api/v2/oauth/clients") && self.rng.one_in(2) {
                let s = self.plant(
                    Alphabet::B64Url,
                    "`secret` of an /api/v2/oauth/clients answer",
                );
                json_object(
                    &[
                        ("id", json_string(&self.rng.uuid(), e)),
                        ("secret", json_string(&s, e)),
                    ],
                    e,
                )
            } else {
                format!(r#"{{"id":"{}","state":"connected"}}"#, self.rng.uuid())
            }
        } else if self.rng.one_in(10) {
            headers[0].1 = "text/plain".into();
            message.clone()
        } else {
            let mut members = vec![
                ("message", json_string(&message, e)),
                ("code", json_string(code, e)),
                ("status", status.to_string()),
                ("contextId", json_string(&self.rng.uuid(), e)),
                ("details", "[]".to_owned()),
            ];
            if self.rng.one_in(4) {
                members.insert(
                    0,
                    (
                        "padding",
                        json_string(&"p".repeat(self.rng.range(100, 3000)), e),
                    ),
                );
            }
            json_object(&members, e)
        };
        Resp {
            status,
            headers,
            body: body.into_bytes(),
            gzip: self.rng.one_in(3),
        }
    }
}

/// Whether a value may stand in a header as it is (visible ASCII and spaces, no quotes).
fn header_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn generate(seed: u64) -> Case {
    let mut rng = Rng(seed);
    let proto = if rng.one_in(3) { Proto::H2 } else { Proto::H1 };
    let annotate = rng.one_in(2);
    let keep_content = rng.one_in(4);
    let probe = rng.one_in(4);
    let inspect_limit = rng.pick(&[1024 * 1024, 1024 * 1024, 2048, 600]);
    let mut g = Gen {
        rng: &mut rng,
        planted: Vec::new(),
        at: String::new(),
        token: None,
        refresh: None,
        h1: proto == Proto::H1,
    };
    let mut exchanges = g.session();
    let planted = std::mem::take(&mut g.planted);
    if proto == Proto::H2 {
        for e in &mut exchanges {
            for (n, _) in &mut e.headers {
                *n = n.to_ascii_lowercase();
            }
        }
    }
    Case {
        proto,
        annotate,
        keep_content,
        probe,
        inspect_limit,
        exchanges,
        planted,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Log capture: one subscriber for the whole binary (the proxy logs from every thread), the
// pretty and the JSON format side by side, each into a buffer a case drains.

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

struct Logs {
    pretty: Buf,
    json: Buf,
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let l = Logs {
            pretty: Buf::default(),
            json: Buf::default(),
        };
        let (p, j) = (l.pretty.clone(), l.json.clone());
        let filter = std::env::var("TRIAGE_FUZZ_LOG").unwrap_or_else(|_| "trace".into());
        // `try_init` also routes the `log` crate's records (rustls) here.
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(filter))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .event_format(triage::logging::Line)
                    .with_writer(move || p.clone()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(move || j.clone()),
            )
            .try_init();
        l
    })
}

// ---------------------------------------------------------------------------------------------
// The live part: a fake upstream answering each exchange as planned, triage in front of it with
// a recording and the dashboard, and a client.

/// Which planned exchange a request is: the client sends its index in this header.
const INDEX: &str = "x-fuzz-exchange";

async fn fake_upstream(case: Arc<Case>) -> common::Upstream {
    common::upstream(move |seen: common::Seen| {
        let case = case.clone();
        async move {
            let idx = seen
                .headers
                .get(INDEX)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            let Some(e) = idx.and_then(|i| case.exchanges.get(i)) else {
                // `--probe-token`'s own call.
                return http::Response::builder()
                    .header("content-type", "application/json")
                    .body(common::full(
                        r#"{"organization":{"name":"Org"},"OAuthClient":{"name":"client"},"authorizedScope":["conversations"]}"#,
                    ))
                    .unwrap();
            };
            let mut b = http::Response::builder().status(e.resp.status);
            for (n, v) in &e.resp.headers {
                b = b.header(n.as_str(), v.as_str());
            }
            let body = if e.resp.gzip {
                b = b.header("content-encoding", "gzip");
                gzip(&e.resp.body)
            } else {
                e.resp.body.clone()
            };
            b.body(common::full(body)).unwrap()
        }
    })
    .await
}

/// What the client got: status, headers, body as received.
struct Got {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The request body as it goes on the wire: compressed when its head says so.
fn wire_body(e: &Exch) -> Vec<u8> {
    let gzipped = e
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-encoding") && v == "gzip");
    if gzipped {
        gzip(&e.body)
    } else {
        e.body.clone()
    }
}

async fn h1_send(addr: SocketAddr, e: &Exch, i: usize) -> Result<Got, String> {
    let body = wire_body(e);
    let mut req = format!("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n", e.method, e.target);
    for (n, v) in &e.headers {
        let _ = write!(req, "{n}: {v}\r\n");
    }
    let _ = write!(
        req,
        "{INDEX}: {i}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&body);
    let raw = raw(addr, &bytes).await?;
    let (head, body) = common::split_response(&raw);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Got { headers, body })
}

async fn raw(addr: SocketAddr, request: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(request).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(out)
}

async fn h2_send(addr: SocketAddr, e: &Exch, i: usize) -> Result<Got, String> {
    let s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut tx, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Full<Bytes>>(TokioIo::new(s))
        .await
        .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
    tokio::spawn(conn);
    let mut b = http::Request::builder()
        .method(e.method.as_str())
        .uri(format!("http://{addr}{}", e.target))
        .header(INDEX, i.to_string());
    for (n, v) in &e.headers {
        // Cookies go as crumbs, as HTTP/2 clients send them (RFC 9113 §8.2.3).
        if n == "cookie" {
            for crumb in v.split("; ") {
                b = b.header("cookie", crumb);
            }
        } else {
            b = b.header(n.as_str(), v.as_str());
        }
    }
    let req = b
        .body(Full::new(Bytes::from(wire_body(e))))
        .map_err(|e| e.to_string())?;
    let resp = tx.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Got { headers, body })
}

async fn get_page(addr: SocketAddr, path: &str) -> Result<String, String> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let raw = raw(addr, req.as_bytes()).await?;
    let (head, body) = common::split_response(&raw);
    Ok(format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&body)))
}

/// One output of triage, to be searched.
struct Output {
    name: String,
    text: String,
}

/// Runs the session live; returns the outputs and the problems met on the way.
async fn live(
    case: Arc<Case>,
    engine: Arc<Engine>,
    dir: &Path,
    outputs: &mut Vec<Output>,
    problems: &mut Vec<String>,
) {
    let up = fake_upstream(case.clone()).await;
    let mut cfg = common::config(&up.url(), &up.url());
    cfg.inspect_limit = case.inspect_limit;
    let monitor = Arc::new(
        Monitor::new(triage::monitor::DEFAULT_CAPACITY)
            .keep_content(case.keep_content)
            .upstreams(up.url(), up.url()),
    );
    let recorder = Recorder::open(dir.join("recording.jsonl"))
        .expect("recording opens")
        .keep_content(case.keep_content);
    let mut pipeline = Pipeline::new(
        engine,
        PipelineOptions {
            annotate_body: case.annotate,
            region: None,
            replay: false,
        },
    )
    .with_sink(Arc::new(recorder))
    .with_sink(monitor.clone());
    if case.probe {
        let client = triage::proxy::upstream::build(&cfg).expect("upstream client");
        pipeline = pipeline.with_prober(triage::diagnose::probe::Prober::new(
            client,
            cfg.api.clone(),
        ));
    }
    let p = common::proxy_with(cfg, Arc::new(pipeline)).await;

    for (i, e) in case.exchanges.iter().enumerate() {
        let got = match case.proto {
            Proto::H1 => h1_send(p.addr, e, i).await,
            Proto::H2 => h2_send(p.addr, e, i).await,
        };
        let got = match got {
            Ok(g) => g,
            Err(err) => {
                problems.push(format!("exchange #{i}: the client got no answer: {err}"));
                continue;
            }
        };
        // What triage added to the answer: its headers, and with --annotate-body its note in
        // the body. The rest is the upstream's own answer, forwarded as it was.
        let added: Vec<String> = got
            .headers
            .iter()
            .filter(|(n, _)| n.starts_with("triage-") || n == "proxy-status")
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        outputs.push(Output {
            name: format!("the diagnosis headers the client got for exchange #{i}"),
            text: added.join("\n"),
        });
        if let Some(note) = annotation(&e.resp.body, &got.body) {
            outputs.push(Output {
                name: format!("the --annotate-body note in exchange #{i}'s body"),
                text: note,
            });
        }
    }

    // Exchanges reach the dashboard once their body is over.
    let deadline = Instant::now() + Duration::from_secs(5);
    while monitor.len() < case.exchanges.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut pages = vec![
        "/__triage/".to_owned(),
        "/__triage/api/exchanges?since=0".to_owned(),
        "/__triage/metrics".to_owned(),
    ];
    pages.extend(
        (1..=case.exchanges.len() as u64 + 1).map(|s| format!("/__triage/api/exchanges/{s}")),
    );
    for page in pages {
        match get_page(p.addr, &page).await {
            Ok(text) => outputs.push(Output {
                name: format!("the dashboard's {page}"),
                text,
            }),
            Err(e) => problems.push(format!("{page}: {e}")),
        }
    }
    if let Err(e) = p.shutdown().await {
        problems.push(format!("shutdown: {e}"));
    }
    drop(up);
}

/// The text triage added to a JSON error body (`--annotate-body`): the end of `message` and the
/// `triage` member.
fn annotation(sent: &[u8], got: &[u8]) -> Option<String> {
    let got: serde_json::Value = serde_json::from_slice(got).ok()?;
    let note = got.get("triage")?;
    let sent: Option<serde_json::Value> = serde_json::from_slice(sent).ok();
    let before = sent
        .as_ref()
        .and_then(|s| s.get("message"))
        .and_then(|m| m.as_str())
        .unwrap_or("");
    let after = got.get("message").and_then(|m| m.as_str()).unwrap_or("");
    let tail = after.strip_prefix(before).unwrap_or(after);
    Some(format!("{tail}\n{note}"))
}

// ---------------------------------------------------------------------------------------------
// The offline part: what a support engineer gets from files.

/// The session as a browser would save it: a HAR with every credential as sent.
fn raw_har(case: &Case) -> String {
    let entries: Vec<serde_json::Value> = case
        .exchanges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let host = if e.login {
                "login.mypurecloud.ie"
            } else {
                "api.mypurecloud.ie"
            };
            let (path, query) = e.target.split_once('?').unwrap_or((&e.target, ""));
            let qs: Vec<serde_json::Value> = query
                .split(['&', ';'])
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (n, v) = kv.split_once('=').unwrap_or((kv, ""));
                    serde_json::json!({"name": n, "value": v})
                })
                .collect();
            let hv = |h: &[(String, String)]| -> Vec<serde_json::Value> {
                h.iter()
                    .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
                    .collect()
            };
            let cookies = |h: &[(String, String)], name: &str| -> Vec<serde_json::Value> {
                h.iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .flat_map(|(_, v)| {
                        let v = if name == "set-cookie" {
                            v.split(';').next().unwrap_or("").to_owned()
                        } else {
                            v.clone()
                        };
                        v.split("; ")
                            .filter_map(|c| c.split_once('='))
                            .map(|(n, v)| serde_json::json!({"name": n.trim(), "value": v}))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            };
            let mut request = serde_json::json!({
                "method": e.method,
                "url": if e.target.starts_with("http") { e.target.clone() } else { format!("https://{host}{path}{}", if query.is_empty() { String::new() } else { format!("?{query}") }) },
                "httpVersion": "HTTP/1.1",
                "headers": hv(&e.headers),
                "cookies": cookies(&e.headers, "cookie"),
                "queryString": qs,
                "headersSize": -1,
                "bodySize": e.body.len(),
            });
            if !e.body.is_empty() {
                let ct = e
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                    .map_or("", |(_, v)| v.as_str());
                request["postData"] = serde_json::json!({
                    "mimeType": ct,
                    "text": String::from_utf8_lossy(&e.body),
                });
            }
            let ct = e
                .resp
                .headers
                .iter()
                .find(|(n, _)| n == "content-type")
                .map_or("", |(_, v)| v.as_str());
            // Chrome keeps bodies as text, some tools as base64.
            let content = if i % 2 == 1 {
                serde_json::json!({"size": e.resp.body.len(), "mimeType": ct,
                    "text": base64::engine::general_purpose::STANDARD.encode(&e.resp.body), "encoding": "base64"})
            } else {
                serde_json::json!({"size": e.resp.body.len(), "mimeType": ct,
                    "text": String::from_utf8_lossy(&e.resp.body)})
            };
            serde_json::json!({
                "startedDateTime": format!("2026-03-01T10:00:{:02}.000Z", i),
                "time": 12,
                "request": request,
                "response": {
                    "status": e.resp.status,
                    "statusText": "",
                    "httpVersion": "HTTP/1.1",
                    "headers": hv(&e.resp.headers),
                    "cookies": cookies(&e.resp.headers, "set-cookie"),
                    "content": content,
                    "redirectURL": e.resp.headers.iter().find(|(n, _)| n == "location").map_or("", |(_, v)| v.as_str()),
                    "headersSize": -1,
                    "bodySize": e.resp.body.len(),
                },
                "cache": {},
                "timings": {"send": 0, "wait": 10, "receive": 2},
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({"log": {"version": "1.2", "creator": {"name": "fuzz", "version": "1"}, "entries": entries}}))
        .unwrap()
}

/// One exchange as pasted into a ticket: the curl command line, the request (headers and
/// body), and the answer as `curl -i` prints it.
fn curl_transcript(e: &Exch) -> String {
    let host = if e.login {
        "login.mypurecloud.ie"
    } else {
        "api.mypurecloud.ie"
    };
    let url = if e.target.starts_with("http") {
        e.target.clone()
    } else {
        format!("https://{host}{}", e.target)
    };
    let mut s = format!("$ curl -i -X {} '{url}'", e.method);
    for (n, v) in &e.headers {
        let _ = write!(s, " -H '{n}: {v}'");
    }
    if !e.body.is_empty() {
        let _ = write!(s, " --data-raw '{}'", String::from_utf8_lossy(&e.body));
    }
    let _ = write!(s, "\n{} {} HTTP/1.1\nHost: {host}\n", e.method, e.target);
    for (n, v) in &e.headers {
        let _ = writeln!(s, "{n}: {v}");
    }
    s.push('\n');
    if !e.body.is_empty() {
        s.push_str(&String::from_utf8_lossy(&e.body));
        s.push('\n');
    }
    let _ = writeln!(s, "HTTP/1.1 {} X", e.resp.status);
    for (n, v) in &e.resp.headers {
        let _ = writeln!(s, "{n}: {v}");
    }
    s.push('\n');
    s.push_str(&String::from_utf8_lossy(&e.resp.body));
    s
}

/// Runs a triage command in this process, as `main` would (without its logging, which the test
/// installed).
fn triage_cli(args: &[&str]) -> Result<(), String> {
    use clap::Parser as _;
    let cli =
        triage::cli::Cli::try_parse_from(std::iter::once("triage").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
    triage::cli::run(cli)
        .map(|_| ())
        .map_err(|e| triage::proxy::problem::chain(&e))
}

/// The files of a case and what triage makes of them offline.
fn offline(
    case: &Case,
    n: usize,
    engine: &Arc<Engine>,
    dir: &Path,
    outputs: &mut Vec<Output>,
    problems: &mut Vec<String>,
) {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (rec, exported, raw, curl, redacted) = (
        p("recording.jsonl"),
        p("exported.har"),
        p("raw.har"),
        p("curl.txt"),
        p("redacted.har"),
    );
    match std::fs::read_to_string(&rec) {
        Ok(text) => outputs.push(Output {
            name: "the recording".into(),
            text,
        }),
        Err(e) => problems.push(format!("no recording: {e}")),
    }
    std::fs::write(&raw, raw_har(case)).unwrap();
    std::fs::write(
        &curl,
        curl_transcript(&case.exchanges[n % case.exchanges.len()]),
    )
    .unwrap();

    let mut ran = |what: &str, r: Result<(), String>, out: &str, outputs: &mut Vec<Output>| {
        if let Err(e) = r {
            outputs.push(Output {
                name: format!("the error of {what}"),
                text: e.clone(),
            });
            problems.push(format!("{what} failed: {e}"));
        }
        if let Ok(text) = std::fs::read_to_string(out) {
            outputs.push(Output {
                name: what.to_owned(),
                text,
            });
        }
    };
    let chain = |r: Result<std::process::ExitCode, triage::Error>| {
        r.map(|_| ()).map_err(|e| triage::proxy::problem::chain(&e))
    };
    // The commands' own functions (clap's parsing is slow unoptimised: once a case at most).
    ran(
        "`triage export --har` of the recording",
        chain(triage::cli::export::run(triage::cli::export::ExportArgs {
            har: exported.clone().into(),
            keep_content: case.keep_content,
            recording: rec.clone().into(),
        })),
        &exported,
        outputs,
    );
    ran(
        "`triage redact` of the browser's HAR",
        chain(triage::cli::redact::run(triage::cli::redact::RedactArgs {
            input: raw.clone().into(),
            output: redacted.clone().into(),
            keep_content: case.keep_content,
        })),
        &redacted,
        outputs,
    );
    let inputs = [&rec, &exported, &raw, &curl];
    let what = "the recording, its HAR export, the browser's HAR and the curl transcript";
    // The command itself, in one format every fourth case: it loads the rule pack, which is
    // slow unoptimised...
    if n % 4 == 0 {
        let format = ["text", "json", "markdown", "html"][n / 4 % 4];
        let out = p(&format!("cli-report.{format}"));
        let mut args = vec!["explain", "--format", format, "-o", &out];
        args.extend(inputs.iter().map(|s| s.as_str()));
        ran(
            &format!("`triage explain --format {format}` of {what}"),
            triage_cli(&args),
            &out,
            outputs,
        );
    }
    // ...and its replay and every renderer, with the rule pack loaded once.
    let pipeline = Pipeline::new(
        engine.clone(),
        PipelineOptions {
            replay: true,
            ..PipelineOptions::default()
        },
    );
    let mut report = triage::report::explain::Report::new(case.keep_content);
    let opts = triage::ingest::ReadOptions::default();
    if let Err(e) = triage::cli::explain::replay(&pipeline, &inputs, &opts, &mut report, |_| Ok(()))
    {
        problems.push(format!("replaying {what}: {e}"));
    }
    use triage::report::explain as x;
    let mut rendered: Vec<(&str, Vec<u8>)> = Vec::new();
    for format in ["text", "json", "markdown", "html"] {
        let mut w = Vec::new();
        let r = match format {
            "text" => x::text::render(&report, &mut w, false, Some(80)),
            "json" => x::json::render(&report, &mut w),
            "markdown" => x::markdown::render(&report, &mut w),
            _ => x::html::render(&report, &mut w),
        };
        if let Err(e) = r {
            problems.push(format!("rendering {format}: {e}"));
        }
        rendered.push((format, w));
    }
    for (format, w) in rendered {
        outputs.push(Output {
            name: format!("the {format} report of {what}"),
            text: String::from_utf8_lossy(&w).into_owned(),
        });
    }
    // What the command prints on stderr beside the report.
    let mut stderr = vec![x::totals_line(&report.totals)];
    stderr.extend(x::skipped_lines(&report));
    stderr.extend(report.warnings.iter().cloned());
    stderr.extend(report.errors.iter().map(|e| e.message.clone()));
    outputs.push(Output {
        name: format!("what `triage explain` prints on stderr for {what}"),
        text: stderr.join("\n"),
    });
}

// ---------------------------------------------------------------------------------------------
// The search: every credential, by any WINDOW of its characters, in every output as written and
// as a reader could decode it.

/// The ways a reader can turn text back: each a decoded copy of the output.
fn views(text: &str) -> Vec<(&'static str, String)> {
    let unescaped = unescape(text);
    let html = html_unescape(text);
    let mut v = vec![
        ("percent-decoded", percent_decode(text, false)),
        ("form-decoded", percent_decode(text, true)),
        (
            "JSON-unescaped then percent-decoded",
            percent_decode(&unescaped, false),
        ),
        ("base64-decoded", base64_runs(text)),
        (
            "JSON-unescaped then base64-decoded",
            base64_runs(&unescaped),
        ),
        ("HTML-unescaped", html),
    ];
    v.insert(0, ("JSON/Rust-unescaped", unescaped));
    v.insert(0, ("as written", text.to_owned()));
    v
}

/// JSON's and Rust's `{:?}` string escapes undone (`\"`, `\\`, `\/`, `\n`, `\uXXXX` with
/// surrogate pairs, `\u{…}`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('0') => out.push('\0'),
            Some('u') if it.peek() == Some(&'{') => {
                it.next();
                let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                let Ok(u) = u16::from_str_radix(&hex, 16) else {
                    out.push_str(&hex);
                    continue;
                };
                if (0xD800..0xDC00).contains(&u) {
                    // A high surrogate: its low one follows as `\uXXXX`.
                    let rest: String = it.clone().take(6).collect();
                    if let Some(lo) = rest
                        .strip_prefix("\\u")
                        .and_then(|h| u16::from_str_radix(h, 16).ok())
                    {
                        for _ in 0..6 {
                            it.next();
                        }
                        out.extend(char::decode_utf16([u, lo]).map(|r| r.unwrap_or('\u{fffd}')));
                        continue;
                    }
                }
                out.push(char::from_u32(u.into()).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn html_unescape(s: &str) -> String {
    static ENTITY: OnceLock<regex::Regex> = OnceLock::new();
    let re =
        ENTITY.get_or_init(|| regex::Regex::new(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-z]+);").unwrap());
    re.replace_all(s, |c: &regex::Captures<'_>| {
        let e = &c[1];
        let ch = if let Some(h) = e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
            u32::from_str_radix(h, 16).ok().and_then(char::from_u32)
        } else if let Some(d) = e.strip_prefix('#') {
            d.parse().ok().and_then(char::from_u32)
        } else {
            match e {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => None,
            }
        };
        ch.map_or_else(|| c[0].to_owned(), String::from)
    })
    .into_owned()
}

fn percent_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
            {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every run of base64 (standard or URL-safe) in `s`, decoded from each of its first four
/// offsets, gunzipped when it is gzip; the results joined by line breaks.
fn base64_runs(s: &str) -> String {
    static RUN: OnceLock<regex::Regex> = OnceLock::new();
    let re = RUN.get_or_init(|| regex::Regex::new(r"[A-Za-z0-9+/_-]{16,}={0,2}").unwrap());
    let mut out = String::new();
    for m in re.find_iter(s) {
        let run = m.as_str().trim_end_matches('=');
        for off in 0..4.min(run.len()) {
            let mut piece = &run[off..];
            // One character past a whole group of four cannot be base64's end.
            if piece.len() % 4 == 1 {
                piece = &piece[..piece.len() - 1];
            }
            let std = piece.replace('-', "+").replace('_', "/");
            let Ok(bytes) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(std.as_bytes())
            else {
                continue;
            };
            let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut d = flate2::read::GzDecoder::new(&bytes[..]);
                let mut v = Vec::new();
                let _ = std::io::Read::read_to_end(&mut d, &mut v);
                v
            } else {
                bytes
            };
            out.push_str(&String::from_utf8_lossy(&bytes));
            out.push('\n');
        }
    }
    out
}

/// A leak: which credential, where it was planted, in which output, and the text around it.
fn search(planted: &[Planted], outputs: &[Output]) -> Vec<String> {
    let mut pats: Vec<String> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (i, p) in planted.iter().enumerate() {
        let chars: Vec<char> = p.value.chars().collect();
        for w in chars.windows(WINDOW.min(chars.len())) {
            pats.push(w.iter().collect());
            owner.push(i);
        }
    }
    let ac = aho_corasick::AhoCorasick::new(&pats).unwrap();
    let mut leaks = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for o in outputs {
        for (view, text) in views(&o.text) {
            for m in ac.find_iter(&text) {
                let who = owner[m.pattern().as_usize()];
                if !seen.insert((who, o.name.clone())) {
                    continue;
                }
                let p = &planted[who];
                let from = floor(&text, m.start().saturating_sub(160));
                let to = ceil(&text, (m.end() + 160).min(text.len()));
                leaks.push(format!(
                    "credential {:?} (planted at: {}) is in {} ({view}, byte {}):\n        …{}…",
                    p.value,
                    p.sites.join("; "),
                    o.name,
                    m.start(),
                    text[from..to].replace('\n', "\n        ")
                ));
            }
        }
    }
    leaks
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------------------

struct Failure {
    n: usize,
    desc: String,
    problems: Vec<String>,
}

#[test]
fn planted_credentials_reach_no_output() {
    let seed = fuzz::seed();
    let count = fuzz::cases(40);
    let only = fuzz::only_case();
    eprintln!("secrets_differential: seed {seed} ({count} cases)");
    let logs = logs();
    let engine = Arc::new(Engine::new(RuleSet::builtin().expect("built-in rules")));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let cases: Vec<usize> = match only {
        Some(k) => vec![k],
        None => (0..count).collect(),
    };
    let mut failures = Vec::new();
    let mut stats: BTreeMap<&str, usize> = BTreeMap::new();
    for &n in &cases {
        let cs = case_seed(seed, n);
        let case = Arc::new(generate(cs));
        let dir = tempfile::tempdir().unwrap();
        let mut outputs = Vec::new();
        let mut problems = Vec::new();
        logs.pretty.take();
        logs.json.take();
        rt.block_on(live(
            case.clone(),
            engine.clone(),
            dir.path(),
            &mut outputs,
            &mut problems,
        ));
        offline(&case, n, &engine, dir.path(), &mut outputs, &mut problems);
        // What the case's background tasks log later lands in the next case's capture: nothing
        // of theirs is searched for, nor missed for long.
        outputs.push(Output {
            name: "the log (pretty format)".into(),
            text: logs.pretty.take(),
        });
        outputs.push(Output {
            name: "the log (JSON format)".into(),
            text: logs.json.take(),
        });
        *stats.entry("exchanges").or_default() += case.exchanges.len();
        *stats.entry("credentials").or_default() += case.planted.len();
        for o in &outputs {
            if o.name.starts_with("the diagnosis headers") && o.text.contains("triage-rule") {
                *stats.entry("diagnosed").or_default() += 1;
            }
        }
        problems.extend(search(&case.planted, &outputs));
        if !problems.is_empty() {
            let mut desc = case.describe();
            if only.is_some() {
                desc.push_str(&case.dump());
            }
            failures.push(Failure { n, desc, problems });
        }
    }
    eprintln!(
        "secrets_differential: {} cases, {} exchanges, {} credentials planted, {} exchanges diagnosed, in {:.1?}",
        cases.len(),
        stats.get("exchanges").unwrap_or(&0),
        stats.get("credentials").unwrap_or(&0),
        stats.get("diagnosed").unwrap_or(&0),
        started.elapsed()
    );
    let mut report = String::new();
    const SHOWN: usize = 5;
    for f in failures.iter().take(SHOWN) {
        let _ = write!(report, "\ncase {}: {}", f.n, f.desc);
        for p in f.problems.iter().take(6) {
            let _ = write!(report, "\n  - {p}");
        }
        if f.problems.len() > 6 {
            let _ = write!(report, "\n  - (and {} more)", f.problems.len() - 6);
        }
    }
    if failures.len() > SHOWN {
        let rest: Vec<String> = failures[SHOWN..].iter().map(|f| f.n.to_string()).collect();
        let _ = write!(report, "\n(and cases {})", rest.join(", "));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases leaked, seed {seed}; one reproduces with\n  TRIAGE_FUZZ_SEED={seed} TRIAGE_FUZZ_CASE=<case> cargo test --test secrets_differential\n{report}",
        failures.len(),
        cases.len()
    );
}

/// What only the binary prints, on its standard error: a rejected upstream URL that carries a
/// gateway's key, and `triage explain`'s warning about a `--path` that carries a token. Small
/// on purpose: one process each.
#[test]
fn command_line_errors_and_warnings_quote_no_credential() {
    let seed = fuzz::seed();
    let mut rng = Rng(seed ^ 0xC11);
    let mut secret = || secret_text(&mut rng, Alphabet::B64Url);
    let (key, token, path_token) = (secret(), secret(), secret());
    let dir = tempfile::tempdir().unwrap();
    let curl = dir.path().join("curl.txt");
    std::fs::write(
        &curl,
        "GET /api/v2/users/me HTTP/1.1\nHost: api.mypurecloud.ie\n\nHTTP/1.1 401 Unauthorized\ncontent-type: application/json\n\n{\"message\":\"Invalid login credentials.\",\"code\":\"bad.credentials\",\"status\":401}",
    )
    .unwrap();
    let api = format!("https://gw.example.com/genesys?api_key={key}");
    // Refused for its query (a fragment alone is dropped, and the proxy would start).
    let login = format!("https://login.example.com/?x=1#access_token={token}");
    let path = format!("/api/v2/users/{}?access_token={path_token}", "me2");
    let runs = [
        (
            "`triage proxy --api-upstream URL?api_key=…`",
            vec![],
            vec![
                "proxy",
                "--listen",
                "127.0.0.1:0",
                "--no-spec-fetch",
                "--api-upstream",
                &api,
            ],
        ),
        (
            "`TRIAGE_LOGIN_UPSTREAM=URL?x=1#access_token=… triage proxy`",
            vec![("TRIAGE_LOGIN_UPSTREAM", login.as_str())],
            vec!["proxy", "--listen", "127.0.0.1:0", "--no-spec-fetch"],
        ),
        (
            "`triage explain --path PATH?access_token=…`",
            vec![],
            vec!["explain", "--path", &path, curl.to_str().unwrap()],
        ),
    ];
    let mut leaks = Vec::new();
    for (what, env, args) in runs {
        let (code, out, err) = common::run_triage_env(&env, &args);
        for s in [&key, &token, &path_token] {
            for (stream, text) in [("stdout", &out), ("stderr", &err)] {
                if text.contains(s.as_str()) {
                    leaks.push(format!(
                        "{what} (exit {code}) printed {s:?} on {stream}:\n{text}"
                    ));
                }
            }
        }
        assert!(
            err.contains("upstream URL") || err.contains("--path"),
            "{what}: expected the error or warning, got (exit {code}):\n{err}"
        );
    }
    assert!(leaks.is_empty(), "seed {seed}:\n{}", leaks.join("\n"));
}

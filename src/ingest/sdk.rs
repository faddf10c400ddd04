//! Errors as the Genesys Cloud SDKs print them, pasted where a bare JSON body is expected:
//!
//! - Python (`purecloudplatformclientv2`): `print(e)` of an `ApiException` is its `__str__`
//!   (rest.py): `(409)\nReason: Conflict\nHTTP response headers: HTTPHeaderDict({...})\n`
//!   `HTTP response body: {...}\n`, the headers a Python dict's `repr`, the body the decoded text.
//! - JavaScript (`purecloud-platform-client-v2`): `console.log(e)` of what a call rejects with,
//!   Node's `util.inspect` of a JavaScript object: with `returnExtended`, `{ status, statusText,
//!   headers, body, text, error }` (ApiClient.js `callApi`); without it, the body alone. The
//!   same object through `JSON.stringify(e)` is JSON, and only its shape tells it from a body.
//!
//! The printed forms are not JSON, so each is read by its own small parser into the status, the
//! headers and the JSON body, which then go where a pasted body's would. The JavaScript one's
//! `error` is axios's, whose `config` holds the request it sent (method, URL, headers, body):
//! a bare body lacks exactly that, so it is read too.

use serde_json::{Map, Value};

/// What a pasted SDK error gives.
#[derive(Debug)]
pub(crate) struct Pasted {
    /// Which SDK's shape it was, for messages.
    pub shape: &'static str,
    /// The HTTP status the SDK got (not the body's copy); `None` for the JS SDK's body alone.
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub warnings: Vec<String>,
    /// The SDK method the Python text names as the failed call, if it names one.
    pub call: Option<SdkCall>,
    /// The request the JavaScript SDK's error carries (axios's `error.config`), if it does.
    pub request: Option<SdkRequest>,
}

/// The request a JavaScript SDK error carries in axios's `error.config`, as far as the print
/// kept it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SdkRequest {
    /// As axios spells it (`post`).
    pub method: Option<String>,
    /// The whole URL the SDK built (`https://api.mypurecloud.ie/api/v2/…`).
    pub url: Option<String>,
    /// Every header sent; `None` when the print left them out (`console.log` writes the
    /// config's as `[Object [AxiosHeaders]]`, so they come from the request head Node kept).
    pub headers: Option<Vec<(String, String)>>,
    /// The body sent, empty for none; `None` when the print left it out.
    pub body: Option<Vec<u8>>,
}

/// The SDK method a pasted Python error names: the README's `Exception when calling
/// ConversationsApi->post_conversations_messages_agentless: (403)`, or the innermost traceback
/// frame in the SDK's `apis/*_api.py`. Its name is the operationId in snake case (the SDK is
/// generated from the API document), which gives the request a bare error body lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SdkCall {
    /// As the SDK spells it: `post_conversations_messages_agentless`.
    pub name: String,
    /// The line of the text it was read from, from 1.
    pub line: usize,
}

impl SdkCall {
    /// The operationId the method was generated from: `postConversationsMessagesAgentless`.
    pub fn operation_id(&self) -> String {
        let mut id = String::with_capacity(self.name.len());
        let mut upper = false;
        for c in self.name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                id.extend(c.to_uppercase());
                upper = false;
            } else {
                id.push(c);
            }
        }
        id
    }
}

/// The SDK call named in the lines of `text` before the exception (which starts at `at`, on
/// line `line`): on the exception's own line (the README's `print`), else the last frame in
/// the SDK's generated API classes.
fn python_call(text: &str, at: usize, line: usize) -> Option<SdkCall> {
    let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    if let Some(name) = text[start..at]
        .rsplit_once("->")
        .and_then(|(_, rest)| rest.strip_suffix(": "))
        .filter(|n| is_sdk_method(n))
    {
        return Some(SdkCall {
            name: name.to_owned(),
            line,
        });
    }
    // `  File ".../PureCloudPlatformClientV2/apis/conversations_api.py", line 22779, in post_…`
    // (`\` on Windows). Older SDKs go through `post_…_with_http_info`, the same operation.
    let mut found = None;
    for (n, l) in text[..start].lines().enumerate() {
        let l = l.trim();
        let Some((file, name)) = l
            .strip_prefix("File \"")
            .and_then(|l| l.split_once("\", line "))
            .and_then(|(file, rest)| Some((file, rest.split_once(", in ")?.1)))
        else {
            continue;
        };
        let file = file.replace('\\', "/");
        let in_sdk = file.contains("PureCloudPlatformClientV2/apis/") && file.ends_with("_api.py");
        let name = name.strip_suffix("_with_http_info").unwrap_or(name);
        if in_sdk && is_sdk_method(name) {
            found = Some(SdkCall {
                name: name.to_owned(),
                line: n + 1,
            });
        }
    }
    found
}

/// An API method of the SDK: a verb, then words, in snake case.
fn is_sdk_method(name: &str) -> bool {
    let verb = name.split('_').next().unwrap_or("");
    ["get", "post", "put", "patch", "delete", "head"].contains(&verb)
        && name.len() > verb.len() + 1
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub(crate) const PYTHON: &str = "Python SDK ApiException (print(e))";
pub(crate) const JS: &str = "JavaScript SDK error (console.log(e))";
pub(crate) const JS_JSON: &str = "JavaScript SDK error (JSON.stringify(e))";

/// Whether `text` holds the Python SDK's `ApiException` as it prints: `(status)`, then
/// `Reason:` on the next line.
pub(crate) fn looks_python(text: &str) -> bool {
    python_start(text).is_some()
}

/// The most lines looked through for the exception: a traceback's frames come before it.
const MAX_PYTHON_LINES: usize = 200;

/// Where the exception's `(status)` starts in `text`, and on which line. Alone on its line
/// (`print(e)`), or after the text that introduces it: the SDK's README prints
/// `Exception when calling ConversationsApi->post_…: (429)`, and a traceback ends with
/// `PureCloudPlatformClientV2.rest.ApiException: (429)` under its frames.
fn python_start(text: &str) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut lines = text.split_inclusive('\n').take(MAX_PYTHON_LINES).peekable();
    let mut number = 0;
    while let Some(line) = lines.next() {
        number += 1;
        let this = at;
        at += line.len();
        let trimmed = line.trim_end();
        let Some(open) = trimmed.rfind('(') else {
            continue;
        };
        let status = &trimmed[open + 1..];
        let Some(digits) = status.strip_suffix(')') else {
            continue;
        };
        let introduced =
            open == trimmed.len() - trimmed.trim_start().len() || trimmed[..open].ends_with(": ");
        if introduced
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && lines.peek().is_some_and(|l| l.starts_with("Reason:"))
        {
            return Some((this + open, number));
        }
    }
    None
}

/// The SDK error `text` is, if it is one: `None` when it is neither shape (then it is read as
/// JSON); `Err` naming the shape and what is missing when it is one but broken.
pub(crate) fn recognise(text: &str) -> Option<Result<Pasted, String>> {
    if let Some((at, line)) = python_start(text) {
        let mut read = python(&text[at..]);
        if let (Ok(p), true) = (&mut read, text[..at].contains(|c: char| !c.is_whitespace())) {
            p.call = python_call(text, at, line);
            match &p.call {
                // `Exception when calling …->…: (409)`: all of it read.
                Some(call) if call.line == line => {}
                Some(call) => p.warnings.push(format!(
                    "read the exception from line {line}, and the SDK call from line {}; the \
                     rest of the text before the exception is not explained",
                    call.line
                )),
                None => p.warnings.push(format!(
                    "read the exception from line {line}; the text before it is not explained"
                )),
            }
        }
        return Some(read);
    }
    let t = text.trim_start();
    // JSON parses as JSON; only what does not, and opens an object, may be util.inspect's.
    // JSON that serde_json refuses (nested past its limit, say) is still JSON, and its error
    // is the JSON reader's to give, at its place in the file.
    if t.starts_with('{') {
        match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(obj)) if stringified(&obj) => {
                return Some(extended(obj, JS_JSON, true, Vec::new()));
            }
            Ok(_) => {}
            Err(_) if super::rfc8259::scan(t.as_bytes()).is_none() => return js(t),
            Err(_) => {}
        }
    }
    if !t.starts_with(['{', '[']) {
        return quoted(text).map(Ok);
    }
    None
}

pub(crate) const QUOTED: &str = "error body quoted in a log line or stack trace";

/// The most `{` tried as the start of a quoted error body: a stack trace has a few, and a text
/// with thousands is no log line quoting one.
const MAX_QUOTED_TRIES: usize = 64;

/// An error body quoted inside other text: a log line, or an exception as an SDK other than
/// Python's and JavaScript's prints it (`ApiException: {"message":…}`, `Error calling X: {…}`).
/// The first JSON object in it shaped as a Platform API error (`message` with `code` or
/// `status`) or an OAuth one (`error` as a string) is the body; `None` when there is none.
pub(crate) fn quoted(text: &str) -> Option<Pasted> {
    let starts = text.match_indices('{').take(MAX_QUOTED_TRIES);
    for (at, _) in starts {
        let mut stream =
            serde_json::Deserializer::from_str(&text[at..]).into_iter::<Map<String, Value>>();
        let Some(Ok(m)) = stream.next() else {
            continue;
        };
        let api = m.contains_key("message") && (m.contains_key("code") || m.contains_key("status"));
        let oauth = m.get("error").is_some_and(Value::is_string);
        if !(api || oauth) {
            continue;
        }
        let end = at + stream.byte_offset();
        let line = text[..at].matches('\n').count() + 1;
        return Some(Pasted {
            shape: QUOTED,
            status: None,
            headers: Vec::new(),
            body: text.as_bytes()[at..end].to_vec(),
            warnings: vec![format!(
                "read the error body quoted on line {line}; the rest of the text is not explained"
            )],
            call: None,
            request: None,
        });
    }
    None
}

fn python(text: &str) -> Result<Pasted, String> {
    let broken = |what: &str| format!("a {PYTHON}, but {what}");
    let text = text.trim_start();
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.trim_end();
    let status: u16 = first[1..first.len() - 1]
        .parse()
        .map_err(|_| broken("its status is not a number"))?;
    if status == 0 {
        // rest.py raises status 0 for a TLS failure: there was no HTTP response.
        return Err(broken(
            "its status is 0: the SDK got no HTTP response (its Reason says why), so there is nothing to explain",
        ));
    }
    let mut headers = Vec::new();
    let mut body = None;
    let mut warnings = Vec::new();
    let mut lines = rest.split_inclusive('\n');
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("HTTP response headers: ") {
            match python_headers(h.trim_end()) {
                Some(h) => headers = h,
                None => warnings.push(format!(
                    "the headers of the pasted {PYTHON} could not be read; the report goes without them"
                )),
            }
        } else if let Some(b) = line.strip_prefix("HTTP response body: ") {
            // The body is the rest, whatever lines it spans.
            let mut all = b.to_owned();
            all.extend(lines.by_ref().map(str::to_owned));
            body = Some(all.trim().to_owned());
        }
    }
    let body = body.ok_or_else(|| {
        broken("it has no \"HTTP response body:\" line (the body is what is explained; paste the whole of print(e))")
    })?;
    Ok(Pasted {
        shape: PYTHON,
        status: Some(status),
        headers,
        body: body.into_bytes(),
        warnings,
        call: None,
        request: None,
    })
}

/// `HTTPHeaderDict({'Content-Type': 'application/json', ...})` (or a plain dict's repr).
fn python_headers(text: &str) -> Option<Vec<(String, String)>> {
    let inner = text
        .strip_prefix("HTTPHeaderDict(")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or(text)
        .trim();
    let mut p = Lit::new(inner.strip_prefix('{')?.strip_suffix('}')?);
    let mut out = Vec::new();
    loop {
        p.ws();
        if p.at_end() {
            return Some(out);
        }
        let name = p.string()?;
        p.ws();
        p.eat(':')?;
        p.ws();
        let value = p.string()?;
        out.push((name, value));
        p.ws();
        if p.eat(',').is_none() {
            p.ws();
            return p.at_end().then_some(out);
        }
    }
}

/// Whether a JSON object is the JavaScript SDK's extended rejection through `JSON.stringify`,
/// not an error body: the SDK's own members, without the body's pair of `code` and `message`.
fn stringified(obj: &Map<String, Value>) -> bool {
    (obj.contains_key("statusText") || obj.contains_key("body"))
        && obj.contains_key("status")
        && !(obj.contains_key("code") && obj.contains_key("message"))
}

fn js(text: &str) -> Option<Result<Pasted, String>> {
    let mut p = Lit::new(text);
    let (value, complete) = p.object_lenient();
    let obj = value?;
    let extended_shape = obj.contains_key("statusText") || obj.contains_key("body");
    let mut warnings = Vec::new();
    if p.elided {
        warnings.push(format!(
            "the pasted {JS} has values console.log left out ([Object], [Array], more items); \
             what they held is unknown (console.dir(e, {{depth: null}}) prints them all)"
        ));
    }
    if !extended_shape {
        // Without `returnExtended` the SDK rejects with the body itself.
        if !complete || !obj.contains_key("code") && !obj.contains_key("message") {
            return None;
        }
        let body = serde_json::to_vec(&Value::Object(obj)).ok()?;
        return Some(Ok(Pasted {
            shape: JS,
            status: None,
            headers: Vec::new(),
            body,
            warnings,
            call: None,
            request: None,
        }));
    }
    Some(extended(obj, JS, complete, warnings))
}

/// The SDK's extended rejection, `{ status, statusText, headers, body, text, error }`, as
/// `shape` printed it (`complete` when read to its end).
fn extended(
    obj: Map<String, Value>,
    shape: &'static str,
    complete: bool,
    warnings: Vec<String>,
) -> Result<Pasted, String> {
    let broken = |what: &str| format!("a {shape}, but {what}");
    let status = obj
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| broken("it has no numeric \"status\""))?;
    let headers = match obj.get("headers") {
        Some(Value::Object(h)) => h
            .iter()
            .filter_map(|(n, v)| match v {
                Value::String(s) => Some((n.clone(), s.clone())),
                Value::Number(x) => Some((n.clone(), x.to_string())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    // `body` is axios's parsed `data`; `text` the SDK's copy as text, which axios leaves
    // undefined: the first that holds something.
    let body = ["body", "text"]
        .iter()
        .find_map(|k| match obj.get(*k) {
            Some(Value::String(s)) => Some(s.clone().into_bytes()),
            Some(v @ (Value::Object(_) | Value::Array(_))) => serde_json::to_vec(v).ok(),
            _ => None,
        })
        .ok_or_else(|| {
            broken(if complete {
                "it has no \"body\" (the body is what is explained)"
            } else {
                "it is cut off before its \"body\" (paste the whole of console.log(e))"
            })
        })?;
    Ok(Pasted {
        shape,
        status: Some(status),
        headers,
        body,
        warnings,
        call: None,
        request: axios_request(&obj, shape == JS_JSON),
    })
}

/// The request of axios's `error.config`: `method`, `url` (against `baseURL` when relative),
/// `headers` and `data`. `console.log` prints the config's headers as `[Object [AxiosHeaders]]`,
/// but Node's request beside it (`error.request`, a `ClientRequest`) keeps the head it wrote,
/// `_header`, which holds them all. `json` says the print was `JSON.stringify`'s, where a
/// `null` is a `null` and not a value left out.
fn axios_request(obj: &Map<String, Value>, json: bool) -> Option<SdkRequest> {
    let error = obj.get("error").and_then(Value::as_object);
    let config = error
        .and_then(|e| e.get("config"))
        .or_else(|| obj.get("config"))
        .and_then(Value::as_object)?;
    let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
    let url = text("url").map(|u| match text("baseURL") {
        Some(base) if !u.contains("://") => {
            format!(
                "{}/{}",
                base.trim_end_matches('/'),
                u.trim_start_matches('/')
            )
        }
        _ => u,
    });
    let headers = match config.get("headers") {
        Some(Value::Object(h)) => Some(
            h.iter()
                .filter_map(|(n, v)| match v {
                    Value::String(s) => Some((n.clone(), s.clone())),
                    Value::Number(x) => Some((n.clone(), x.to_string())),
                    _ => None,
                })
                .collect(),
        ),
        _ => error
            .and_then(|e| e.get("request"))
            .and_then(|r| r.get("_header"))
            .and_then(Value::as_str)
            .and_then(request_head),
    };
    // The SDK sets `data` only for a request with a body (DefaultHttpClient.js), so its
    // absence is no body; `console.log` writes one it left out as `[Object]`, read as null.
    let body = match config.get("data") {
        None => Some(Vec::new()),
        Some(Value::Null) if json => Some(Vec::new()),
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(v) => serde_json::to_vec(v).ok(),
    };
    let method = text("method");
    (method.is_some() || url.is_some()).then_some(SdkRequest {
        method,
        url,
        headers,
        body,
    })
}

/// The headers of a request head as Node wrote it (`POST /p HTTP/1.1\r\nName: value\r\n…`).
fn request_head(head: &str) -> Option<Vec<(String, String)>> {
    let mut lines = head.split("\r\n");
    lines
        .next()
        .filter(|l| l.ends_with("HTTP/1.1") || l.ends_with("HTTP/1.0"))?;
    Some(
        lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect(),
    )
}

/// A reader of JavaScript literals as `util.inspect` writes them, and of Python string reprs.
struct Lit<'a> {
    s: &'a [u8],
    i: usize,
    /// Something was left out by the printer (`[Object]`, `... n more items`).
    elided: bool,
    /// Nesting so far: a pasted file is anyone's, and must not overflow the stack.
    depth: usize,
}

/// Deepest nesting read, as serde_json's limit.
const MAX_DEPTH: usize = 128;

impl<'a> Lit<'a> {
    fn new(s: &'a str) -> Self {
        Lit {
            s: s.as_bytes(),
            i: 0,
            elided: false,
            depth: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: char) -> Option<()> {
        (self.peek() == Some(c as u8)).then(|| self.i += 1)
    }

    fn starts(&self, prefix: &str) -> bool {
        self.s[self.i..].starts_with(prefix.as_bytes())
    }

    /// A quoted string (`'`, `"` or `` ` ``) with backslash escapes.
    fn string(&mut self) -> Option<String> {
        let q = self.peek().filter(|q| matches!(q, b'\'' | b'"' | b'`'))?;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.i += 1;
            match b {
                _ if b == q => break,
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'0' => out.push(0),
                        b'x' => {
                            let h = std::str::from_utf8(self.s.get(self.i..self.i + 2)?).ok()?;
                            let c = char::from_u32(u32::from_str_radix(h, 16).ok()?)?;
                            self.i += 2;
                            out.extend(c.to_string().bytes());
                        }
                        b'u' => {
                            let h = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            let c = char::from_u32(u32::from_str_radix(h, 16).ok()?)
                                .unwrap_or(char::REPLACEMENT_CHARACTER);
                            self.i += 4;
                            out.extend(c.to_string().bytes());
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).ok()
    }

    /// An object key: an identifier or a quoted name.
    fn key(&mut self) -> Option<String> {
        if matches!(self.peek(), Some(b'\'' | b'"' | b'`')) {
            return self.string();
        }
        // A symbol key (`[Symbol(kCapture)]: false`), which Node's own objects have.
        if self.peek() == Some(b'[') {
            return self.tag();
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$') || b >= 0x80)
        {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// `{ key: value, ... }` after an optional class tag (`Object [AxiosHeaders] {`); the keys
    /// read before a value that is not a literal (an `AxiosError` with its stack) are kept,
    /// and the second value says whether the object was read to its end.
    fn object_lenient(&mut self) -> (Option<Map<String, Value>>, bool) {
        self.ws();
        if self.eat('{').is_none() {
            return (None, false);
        }
        let mut map = Map::new();
        loop {
            self.ws();
            if self.eat('}').is_some() {
                return (Some(map), true);
            }
            let Some(k) = self.key() else {
                return (Some(map), false);
            };
            self.ws();
            if self.eat(':').is_none() {
                return (Some(map), false);
            }
            self.ws();
            let Some(v) = self.value() else {
                return (Some(map), false);
            };
            map.insert(k, v);
            self.ws();
            if self.eat(',').is_none() {
                self.ws();
                let closed = self.eat('}').is_some();
                return (Some(map), closed);
            }
        }
    }

    /// `[…]` with no space after the `[` (an array has one, or is `[]`), brackets inside
    /// included (`[Object [AxiosHeaders]]`), on one line: what it says, brackets and all.
    fn tag(&mut self) -> Option<String> {
        let start = self.i;
        if self.peek() != Some(b'[')
            || self
                .s
                .get(self.i + 1)
                .is_none_or(|b| b.is_ascii_whitespace() || *b == b']')
        {
            return None;
        }
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned());
                    }
                }
                b'\n' => break,
                _ => {}
            }
        }
        self.i = start;
        None
    }

    /// Whether `{` follows on the same line, after spaces: then what came before was a tag.
    fn object_follows(&mut self) -> bool {
        let save = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        if self.peek() == Some(b'{') {
            return true;
        }
        self.i = save;
        false
    }

    /// An error as `util.inspect` prints it: `Name: message`, its stack's `at …` lines, and
    /// `{` after the last one when it has properties of its own (axios's `code`, `config`).
    /// The object of those properties, with `name` and `message`.
    fn error(&mut self, name: String) -> Option<Value> {
        let line_end = |l: &Self, from: usize| {
            l.s[from..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(l.s.len(), |n| from + n)
        };
        let end = line_end(self, self.i);
        let message = String::from_utf8_lossy(&self.s[self.i..end])
            .trim()
            .to_owned();
        self.i = end;
        loop {
            let next = self.i + 1;
            if next >= self.s.len() {
                break;
            }
            let end = line_end(self, next);
            let line = String::from_utf8_lossy(&self.s[next..end]);
            let line = line.trim_start();
            if !(line.starts_with("at ") || line.starts_with("... ")) {
                break;
            }
            self.i = end;
        }
        let mut props = Map::new();
        let line_start = self.s[..self.i]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |n| n + 1);
        if self.s[line_start..self.i].trim_ascii_end().ends_with(b" {") {
            self.i = line_start
                + self.s[line_start..self.i]
                    .iter()
                    .rposition(|b| *b == b'{')?;
            if self.depth >= MAX_DEPTH {
                return None;
            }
            self.depth += 1;
            let read = self.value_at(b'{');
            self.depth -= 1;
            match read? {
                Value::Object(m) => props = m,
                _ => return None,
            }
        }
        props.insert("name".into(), Value::String(name));
        props.insert("message".into(), Value::String(message));
        Some(Value::Object(props))
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        // A circular reference's mark: `<ref *1> ClientRequest {`.
        if self.starts("<ref *") {
            while self.peek().is_some_and(|b| b != b'>') {
                self.i += 1;
            }
            self.i += 1;
            self.ws();
        }
        // `[Object: null prototype] {` tags an object; alone, `[Object]`, `[Array]`,
        // `[Function: f]`, `[Getter]`, `[Circular *1]`, it is a value left out.
        if self.tag().is_some() {
            if !self.object_follows() {
                self.elided = true;
                return Some(Value::Null);
            }
        } else if self
            .peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            // A class's object (`ClientRequest {`, `Object [AxiosHeaders] {`) or an error with
            // its stack (`AxiosError: Request failed …`); other words are literals, below.
            let save = self.i;
            let name = self.key()?;
            if self.starts(": ") && name.ends_with("Error") {
                self.i += 2;
                // What console.log left out of axios's error (its config's transformers, Node's
                // socket) is not what is explained: the request read from it says what it lacks.
                let elided = self.elided;
                let read = self.error(name);
                self.elided = elided;
                return read;
            }
            let tagged = {
                let before = self.i;
                while self.peek() == Some(b' ') {
                    self.i += 1;
                }
                if self.tag().is_none() {
                    self.i = before;
                }
                self.object_follows()
            };
            if !tagged {
                self.i = save;
            }
        }
        let open = self.peek()?;
        if matches!(open, b'{' | b'[') {
            if self.depth >= MAX_DEPTH {
                return None;
            }
            self.depth += 1;
        }
        let v = self.value_at(open);
        if matches!(open, b'{' | b'[') {
            self.depth -= 1;
        }
        v
    }

    fn value_at(&mut self, open: u8) -> Option<Value> {
        let v = match open {
            b'{' => match self.object_lenient() {
                (Some(m), true) => Value::Object(m),
                _ => return None,
            },
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat(']').is_some() {
                        break;
                    }
                    if self.starts("... ") {
                        // `... 3 more items`
                        self.elided = true;
                        while self.peek().is_some_and(|b| b != b']' && b != b',') {
                            self.i += 1;
                        }
                    } else {
                        items.push(self.value()?);
                    }
                    self.ws();
                    if self.eat(',').is_none() {
                        self.ws();
                        self.eat(']')?;
                        break;
                    }
                }
                Value::Array(items)
            }
            b'\'' | b'"' | b'`' => {
                let mut s = self.string()?;
                // Strings of several lines print as `'a\n' +\n  'b'`.
                loop {
                    let save = self.i;
                    self.ws();
                    if self.eat('+').is_some() {
                        self.ws();
                        if let Some(more) = self.string() {
                            s.push_str(&more);
                            continue;
                        }
                    }
                    self.i = save;
                    break;
                }
                Value::String(s)
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_')
                }) {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                match word {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" | "undefined" => Value::Null,
                    _ => match serde_json::from_str::<serde_json::Number>(word) {
                        Ok(n) => Value::Number(n),
                        Err(_) => return None,
                    },
                }
            }
        };
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY: &str = "(409)\nReason: Conflict\nHTTP response headers: HTTPHeaderDict({'Content-Type': 'application/json', 'Content-Length': '123', 'ININ-Correlation-Id': 'c0ffee-1', 'Retry-After': '3'})\nHTTP response body: {\"message\":\"It's taken\",\"code\":\"request.conflict\",\"status\":409}\n";

    #[test]
    fn the_sdk_call_is_read_from_the_readme_print_and_the_traceback() {
        let exc = "(403)\nReason: Forbidden\nHTTP response body: {}\n";
        let call = |text: &str| recognise(text).unwrap().unwrap().call;
        let readme = format!("Exception when calling UsersApi->get_users_me: {exc}");
        assert_eq!(
            call(&readme),
            Some(SdkCall {
                name: "get_users_me".into(),
                line: 1
            })
        );
        // The innermost frame in the SDK's API classes; `_with_http_info` is the same call;
        // a Windows path as well.
        let tb = format!(
            "Traceback (most recent call last):\n  File \"app.py\", line 3, in get_users_me\n  File \"C:\\py\\PureCloudPlatformClientV2\\apis\\users_api.py\", line 9, in get_user\n  File \"C:\\py\\PureCloudPlatformClientV2\\apis\\users_api.py\", line 30, in get_user_with_http_info\n  File \"C:\\py\\PureCloudPlatformClientV2\\rest.py\", line 208, in request\nPureCloudPlatformClientV2.rest.ApiException: {exc}"
        );
        assert_eq!(
            call(&tb),
            Some(SdkCall {
                name: "get_user".into(),
                line: 4
            })
        );
        // Frames of the user's own code, or not an API method: nothing.
        let own = format!("  File \"app.py\", line 3, in get_users_me\nApiException: {exc}");
        assert_eq!(call(&own), None);
        let odd = format!("Exception when calling UsersApi->__init__: {exc}");
        assert_eq!(call(&odd), None);
        assert_eq!(call(exc), None);
        assert_eq!(
            SdkCall {
                name: "post_conversations_messages_agentless".into(),
                line: 1
            }
            .operation_id(),
            "postConversationsMessagesAgentless"
        );
    }

    #[test]
    fn python_print_of_an_api_exception() {
        let p = recognise(PY).unwrap().unwrap();
        assert_eq!(p.status, Some(409));
        assert!(p
            .headers
            .contains(&("ININ-Correlation-Id".into(), "c0ffee-1".into())));
        assert!(p.headers.contains(&("Retry-After".into(), "3".into())));
        let body: Value = serde_json::from_slice(&p.body).unwrap();
        assert_eq!(body["code"], "request.conflict");
    }

    #[test]
    fn python_without_its_body_says_what_is_missing() {
        let cut = PY.split("HTTP response body").next().unwrap();
        let e = recognise(cut).unwrap().unwrap_err();
        assert!(
            e.contains(PYTHON) && e.contains("HTTP response body:"),
            "{e}"
        );
    }

    const JS_EXTENDED: &str = r#"{
  status: 409,
  statusText: 'Conflict',
  headers: Object [AxiosHeaders] {
    'content-type': 'application/json',
    'inin-correlation-id': 'c0ffee-2',
    'retry-after': '3'
  },
  body: {
    message: "It's taken",
    code: 'request.conflict',
    status: 409,
    messageParams: {},
    contextId: 'c0ffee-2',
    details: [],
    errors: [ [Object], ... 2 more items ]
  },
  text: undefined,
  error: AxiosError: Request failed with status code 409
      at settle (/app/node_modules/axios/dist/node/axios.cjs:2031:12) {
    code: 'ERR_BAD_REQUEST'
  }
}"#;

    #[test]
    fn js_console_log_of_an_extended_error() {
        let p = recognise(JS_EXTENDED).unwrap().unwrap();
        assert_eq!(p.status, Some(409));
        assert!(p
            .headers
            .contains(&("inin-correlation-id".into(), "c0ffee-2".into())));
        let body: Value = serde_json::from_slice(&p.body).unwrap();
        assert_eq!(body["code"], "request.conflict");
        assert_eq!(body["message"], "It's taken");
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    }

    #[test]
    fn js_tags_errors_and_symbol_keys_are_read_where_console_log_puts_them() {
        // An elided value that names a class is not the tag of the next `{` in the text; an
        // error without properties ends at its stack; a symbol key is a key.
        let text = "{\n  status: 400,\n  statusText: 'Bad Request',\n  headers: [Object: null prototype],\n  body: { message: 'm', code: 'bad.request' },\n  text: undefined,\n  error: Error: boom\n      at f (/a.js:1:1)\n}";
        let p = recognise(text).unwrap().unwrap();
        let body: Value = serde_json::from_slice(&p.body).unwrap();
        assert_eq!(body["code"], "bad.request");
        assert_eq!(p.request, None);
        let text = "{\n  status: 400,\n  body: { code: 'x' },\n  error: AxiosError: m\n      at f (/a.js:1:1) {\n    config: <ref *1> Object [X] {\n      method: 'get',\n      url: '/api/v2/users/me',\n      baseURL: 'https://api.mypurecloud.ie/',\n      [Symbol(k)]: [Circular *1]\n    },\n    request: ClientRequest { _header: 'GET /api/v2/users/me HTTP/1.1\\r\\nAuthorization: Bearer t\\r\\n\\r\\n' }\n  }\n}";
        let p = recognise(text).unwrap().unwrap();
        assert_eq!(
            p.request,
            Some(SdkRequest {
                method: Some("get".into()),
                url: Some("https://api.mypurecloud.ie/api/v2/users/me".into()),
                headers: Some(vec![("Authorization".into(), "Bearer t".into())]),
                body: Some(Vec::new()),
            })
        );
        // Printed by JSON.stringify: JSON, told from a body by the SDK's members.
        let p = recognise(r#"{"status":409,"statusText":"Conflict","body":{"code":"c"},"error":{"config":{"method":"put","url":"https://x/p","headers":{"A":"1"},"data":null}}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(p.shape, JS_JSON);
        assert_eq!(p.request.unwrap().body, Some(Vec::new()));
        assert!(recognise(r#"{"status":409,"code":"c","message":"m","body":1}"#).is_none());
    }

    #[test]
    fn js_body_alone_and_broken_shapes() {
        let p = recognise("{\n  message: 'x',\n  code: 'bad.request',\n  status: 400\n}")
            .unwrap()
            .unwrap();
        assert_eq!(p.status, None);
        let e = recognise("{\n  status: 409,\n  statusText: 'Conflict',\n  headers: {}")
            .unwrap()
            .unwrap_err();
        assert!(e.contains(JS) && e.contains("body"), "{e}");
        assert!(recognise("{\"status\": 409}").is_none());
    }
}

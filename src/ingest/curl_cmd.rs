//! A `curl` command line pasted above its output: what it says of the request it sent. The
//! words are split as a POSIX shell splits them (quotes, bash's `$'…'`, backslashes, lines
//! continued with `\` or, from Windows' cmd, `^`), and the options that shape a request are
//! read as curl reads them: the method, the URL, `-H`, `-d` and its kin, `--json`, `-u`,
//! `--oauth2-bearer`, `-b`, `-A`, `-e`, `-G`. What the command takes from elsewhere (`-d @file`,
//! `-F`, `-T`, `-K`, `-H @file`, a cookie file) leaves that part of the request unknown, never
//! empty.

use base64::Engine as _;
use http::Method;

/// What a command line says of its request.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Command {
    pub method: Option<Method>,
    pub url: Option<String>,
    /// The headers curl sends, as the command gives or implies them, in order.
    pub headers: Vec<(String, String)>,
    /// The body, when the command gives it whole.
    pub body: Option<Vec<u8>>,
    /// Every header curl sends that a rule could ask about is known.
    pub headers_known: bool,
    /// The body is known: `body`, or none at all.
    pub body_known: bool,
}

/// The words of a shell command line, as `sh` splits them; `None` for an unterminated quote.
/// Line continuations (a backslash, or cmd's `^`, at the end of a line) join lines. A command
/// written for Windows' cmd (browsers' "Copy as cURL (cmd)": `curl ^"https://…^" ^` with every
/// special character escaped by `^`) is read once its escapes are undone.
pub(crate) fn words(line: &str) -> Option<Vec<String>> {
    if line.contains("^\"") {
        return sh_words(&uncaret(line));
    }
    sh_words(line)
}

/// cmd's escapes undone: `^x` is `x`, and `^` at the end of a line joins it to the next.
fn uncaret(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '^' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\r') if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            Some('\n') | None => {}
            Some(e) => out.push(e),
        }
    }
    out
}

/// The rest of a `$'…'` word, its escapes undone as bash undoes them; `None` when it never
/// closes. `\xHH` and octal escapes give bytes (a browser writes `\xE9` for `é`); they are read
/// as UTF-8 where they form it.
fn ansi_c_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut out: Vec<u8> = Vec::new();
    let digits = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, radix, max| {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            match chars.peek().and_then(|c| c.to_digit(radix)) {
                Some(d) => {
                    v = v * radix + d;
                    chars.next();
                    n += 1;
                }
                None => break,
            }
        }
        (n > 0).then_some(v)
    };
    let push_char = |out: &mut Vec<u8>, c: char| {
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    loop {
        match chars.next()? {
            '\'' => break,
            '\\' => match chars.next()? {
                'n' => out.push(b'\n'),
                't' => out.push(b'\t'),
                'r' => out.push(b'\r'),
                'a' => out.push(0x07),
                'b' => out.push(0x08),
                'e' | 'E' => out.push(0x1b),
                'f' => out.push(0x0c),
                'v' => out.push(0x0b),
                'x' => match digits(chars, 16, 2) {
                    Some(v) => out.push(v as u8),
                    None => out.extend_from_slice(b"\\x"),
                },
                c @ ('u' | 'U') if chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) => {
                    let v = digits(chars, 16, if c == 'u' { 4 } else { 8 }).unwrap_or(0);
                    push_char(&mut out, char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                c @ '0'..='7' => {
                    let mut v = c as u32 - '0' as u32;
                    for _ in 0..2 {
                        match chars.peek().and_then(|d| d.to_digit(8)) {
                            Some(d) => {
                                v = v * 8 + d;
                                chars.next();
                            }
                            None => break,
                        }
                    }
                    out.push(v as u8);
                }
                c => {
                    // `\\`, `\'`, `\"`, `\?` are the character; any other keeps its backslash.
                    if !matches!(c, '\\' | '\'' | '"' | '?') {
                        out.push(b'\\');
                    }
                    push_char(&mut out, c);
                }
            },
            c => push_char(&mut out, c),
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn sh_words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            // bash's `$'…'`, which browsers' "Copy as cURL (bash)" writes for a body with a `'`
            // or a line break in it.
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                in_word = true;
                word.push_str(&ansi_c_quoted(&mut chars)?);
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            // Inside double quotes a backslash escapes only these.
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                }
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => {}
            },
            '^' if matches!(chars.peek(), Some('\n' | '\r')) => {
                while matches!(chars.peek(), Some('\n' | '\r')) {
                    chars.next();
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    Some(out)
}

/// Long options of curl's that take an argument this reader has no use for: skipped with it, so
/// that the argument is not taken for the URL (`--proxy http://proxy:3128`).
const WITH_ARGUMENT: &[&str] = &[
    "--output",
    "--write-out",
    "--max-time",
    "--connect-timeout",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "--proxy",
    "--preproxy",
    "--proxy-user",
    "--cacert",
    "--capath",
    "--cert",
    "--key",
    "--cert-type",
    "--key-type",
    "--pass",
    "--resolve",
    "--connect-to",
    "--cookie-jar",
    "--limit-rate",
    "--range",
    "--interface",
    "--dns-servers",
    "--speed-limit",
    "--speed-time",
    "--time-cond",
    "--max-redirs",
    "--proto",
    "--proto-redir",
    "--ciphers",
    "--tls-max",
    "--expect100-timeout",
    "--keepalive-time",
    "--local-port",
    "--noproxy",
    "--stderr",
    "--trace",
    "--trace-ascii",
    "--pinnedpubkey",
    "--request-target",
    "--unix-socket",
    "--abstract-unix-socket",
    "--proxy-header",
    "--max-filesize",
    "--output-dir",
    "--dump-header",
    "--variable",
    "--aws-sigv4",
    "--parallel-max",
    "--happy-eyeballs-timeout-ms",
];

/// Long options of curl's that take from elsewhere what the request carries (`-K`, `-T`, `-F`).
const ELSEWHERE: &[&str] = &["--config", "--upload-file", "--form", "--form-string"];

/// Short options of curl's that take an argument (the others are flags).
const SHORT_WITH_ARGUMENT: &[u8] = b"XHduAebxoFTKwmrcEUYyzD";

/// Long options read here that take an argument.
const LONG_WITH_ARGUMENT: &[&str] = &[
    "--request",
    "--url",
    "--header",
    "--data",
    "--data-ascii",
    "--data-binary",
    "--data-raw",
    "--data-urlencode",
    "--json",
    "--user",
    "--oauth2-bearer",
    "--cookie",
    "--user-agent",
    "--referer",
];

/// The options of a command's words, each with its argument, as curl reads them: `-X POST`,
/// `-XPOST`, `-sSX POST` (flags run together, the last taking the rest or the next word),
/// `--request POST`; anything else (the URL) with no option name.
fn options(words: &[String]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        if let Some(long) = w.strip_prefix("--").filter(|l| !l.is_empty()) {
            let name = format!("--{long}");
            let takes = LONG_WITH_ARGUMENT.contains(&name.as_str())
                || WITH_ARGUMENT.contains(&name.as_str())
                || ELSEWHERE.contains(&name.as_str());
            let arg = if takes { it.next().cloned() } else { None };
            out.push((name, arg));
        } else if w.len() > 1 && w.starts_with('-') {
            for (i, c) in w.char_indices().skip(1) {
                let opt = format!("-{c}");
                if c.is_ascii() && SHORT_WITH_ARGUMENT.contains(&(c as u8)) {
                    let rest = &w[i + c.len_utf8()..];
                    let arg = if rest.is_empty() {
                        it.next().cloned()
                    } else {
                        Some(rest.to_owned())
                    };
                    out.push((opt, arg));
                    break;
                }
                out.push((opt, None));
            }
        } else {
            out.push((String::new(), Some(w.clone())));
        }
    }
    out
}

/// Reads the words of a `curl …` command (the first word is `curl`).
pub(crate) fn parse(words: &[String]) -> Command {
    let mut cmd = Command {
        headers_known: true,
        body_known: true,
        ..Command::default()
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    // Headers curl would add that `-H 'Name:'` removed.
    let mut removed: Vec<String> = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut json = false;
    let mut get = false;
    let mut head = false;
    let mut user: Option<String> = None;
    let mut bearer: Option<String> = None;
    for (opt, arg) in options(words) {
        match (opt.as_str(), arg) {
            ("-X" | "--request", Some(m)) => cmd.method = Method::from_bytes(m.as_bytes()).ok(),
            ("--url", Some(u)) => cmd.url = Some(u),
            ("", Some(u)) if u.starts_with("http://") || u.starts_with("https://") => {
                cmd.url = Some(u);
            }
            ("-H" | "--header", Some(h)) => {
                if h.starts_with('@') {
                    cmd.headers_known = false;
                } else if let Some(name) = h.strip_suffix(';') {
                    // `Name;` sends the header empty.
                    headers.push((name.trim().to_owned(), String::new()));
                } else if let Some((n, v)) = h.split_once(':') {
                    let (n, v) = (n.trim(), v.trim());
                    if v.is_empty() {
                        // `Name:` removes the header, the command's or curl's own.
                        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(n));
                        removed.push(n.to_owned());
                    } else {
                        headers.push((n.to_owned(), v.to_owned()));
                    }
                }
            }
            ("-d" | "--data" | "--data-ascii" | "--data-binary", Some(d)) => {
                if d.starts_with('@') {
                    cmd.body_known = false;
                } else {
                    data.push(d);
                }
            }
            ("--data-raw", Some(d)) => data.push(d),
            ("--data-urlencode", Some(d)) => match d.split_once('=') {
                // `name@file`, `@file`: the content is elsewhere.
                Some((name, _)) if name.contains('@') => cmd.body_known = false,
                None if d.contains('@') => cmd.body_known = false,
                Some((name, value)) => data.push(format!("{name}={}", urlencode(value))),
                None => data.push(urlencode(&d)),
            },
            ("--json", Some(d)) => {
                json = true;
                if d.starts_with('@') {
                    cmd.body_known = false;
                } else {
                    data.push(d);
                }
            }
            ("-u" | "--user", Some(u)) => user = Some(u),
            ("--oauth2-bearer", Some(b)) => bearer = Some(b),
            ("-b" | "--cookie", Some(c)) => {
                if c.contains('=') {
                    headers.push(("Cookie".into(), c));
                } else {
                    // A file of cookies: which it sends depends on the file.
                    cmd.headers_known = false;
                }
            }
            ("-A" | "--user-agent", Some(a)) => headers.push(("User-Agent".into(), a)),
            ("-e" | "--referer", Some(r)) => headers.push(("Referer".into(), r)),
            ("-G" | "--get", _) => get = true,
            ("-I" | "--head", _) => head = true,
            (o, _) if ELSEWHERE.contains(&o) || matches!(o, "-K" | "-T" | "-F") => {
                cmd.headers_known = false;
                cmd.body_known = false;
            }
            _ => {}
        }
    }
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    // What curl adds of its own, unless the command set it.
    let mut implied: Vec<(String, String)> = Vec::new();
    if let Some(host) = cmd.url.as_deref().and_then(|u| super::split_url(u).host) {
        implied.push(("Host".into(), host));
    }
    if let Some(b) = bearer {
        implied.push(("Authorization".into(), format!("Bearer {b}")));
    } else if let Some(u) = user {
        if u.contains(':') {
            let b64 = base64::engine::general_purpose::STANDARD.encode(u.as_bytes());
            implied.push(("Authorization".into(), format!("Basic {b64}")));
        } else {
            // curl asks for the password: the header's value is not in the command.
            cmd.headers_known = false;
        }
    }
    implied.push((
        "Accept".into(),
        if json { "application/json" } else { "*/*" }.into(),
    ));
    let sends_body = !data.is_empty() && !get;
    if sends_body {
        let content_type = if json {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        implied.push(("Content-Type".into(), content_type.into()));
    }
    for (k, v) in implied {
        if !has(&headers, &k) && !removed.iter().any(|r| r.eq_ignore_ascii_case(&k)) {
            cmd.headers.push((k, v));
        }
    }
    cmd.headers.extend(headers);
    if !data.is_empty() {
        // `--json` pieces are joined as they are; the others with `&`.
        let joined = data.join(if json { "" } else { "&" });
        if get {
            if let Some(url) = cmd.url.as_mut() {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&joined);
            }
        } else {
            cmd.body = Some(joined.into_bytes());
        }
    }
    if cmd.method.is_none() {
        cmd.method = Some(if head {
            Method::HEAD
        } else if sends_body || !cmd.body_known {
            Method::POST
        } else {
            Method::GET
        });
    }
    if cmd.url.is_none() {
        cmd.method = None;
    }
    cmd
}

/// `--data-urlencode`'s encoding: every byte but unreserved characters percent-encoded.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        parse(&words(line).expect("quotes close"))
    }

    fn header<'a>(c: &'a Command, name: &str) -> Option<&'a str> {
        c.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn words_split_as_a_shell_splits_them() {
        assert_eq!(
            words(r#"curl -H 'a: b c' -d "{\"x\": \"$y\"}" it\ is "a"'b'"#).unwrap(),
            [
                "curl",
                "-H",
                "a: b c",
                "-d",
                r#"{"x": "$y"}"#,
                "it is",
                "ab"
            ]
        );
        assert_eq!(
            words("curl -X POST \\\n  https://x/y \\\r\n  -d a=1").unwrap(),
            ["curl", "-X", "POST", "https://x/y", "-d", "a=1"]
        );
        assert_eq!(
            words("curl -X POST ^\n  https://x/y").unwrap(),
            ["curl", "-X", "POST", "https://x/y"]
        );
        assert_eq!(words("curl 'open"), None);
        // bash's `$'…'`, as browsers' "Copy as cURL (bash)" writes a body with `'` or a line
        // break, or a character outside printable ASCII, in it.
        assert_eq!(
            words(r#"curl --data-raw $'{"a":"it\'s\\n\x41\u00e9\351\\\\\u0041bc"}' x$'\t'y $notquoted"#)
                .unwrap(),
            [
                "curl",
                "--data-raw",
                "{\"a\":\"it's\\n\u{41}\u{e9}\u{fffd}\\\\Abc\"}",
                "x\ty",
                "$notquoted"
            ]
        );
        assert_eq!(words("curl -d $'open"), None);
        // Chrome's "Copy as cURL (cmd)".
        assert_eq!(
            words("curl ^\"https://api.example/x?a=1^&b=2^\" ^\n  -H ^\"content-type: application/json^\" ^\n  --data-raw ^\"^{^\\^\"a^\\^\":1^}^\"").unwrap(),
            [
                "curl",
                "https://api.example/x?a=1&b=2",
                "-H",
                "content-type: application/json",
                "--data-raw",
                r#"{"a":1}"#
            ]
        );
    }

    #[test]
    fn a_token_request_with_user_and_form_data() {
        let c = cmd("curl -s -u my-id:my-secret -X POST https://login.mypurecloud.ie/oauth/token -d grant_type=client_credentials");
        assert_eq!(c.method, Some(Method::POST));
        assert_eq!(
            c.url.as_deref(),
            Some("https://login.mypurecloud.ie/oauth/token")
        );
        assert_eq!(
            header(&c, "authorization"),
            Some("Basic bXktaWQ6bXktc2VjcmV0")
        );
        assert_eq!(
            header(&c, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(header(&c, "host"), Some("login.mypurecloud.ie"));
        assert_eq!(
            c.body.as_deref(),
            Some(&b"grant_type=client_credentials"[..])
        );
        assert!(c.headers_known && c.body_known);
    }

    #[test]
    fn json_bodies_headers_and_defaults() {
        let c = cmd(
            r#"curl https://api.mypurecloud.com/api/v2/conversations/messages/agentless -H "Authorization: Bearer abc" -H 'Content-Type: application/json' --data-raw '{"toAddress":"+1"}'"#,
        );
        assert_eq!(c.method, Some(Method::POST));
        assert_eq!(header(&c, "authorization"), Some("Bearer abc"));
        assert_eq!(header(&c, "content-type"), Some("application/json"));
        assert_eq!(
            c.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .count(),
            1,
            "the command's Content-Type replaces curl's"
        );
        assert_eq!(c.body.as_deref(), Some(&br#"{"toAddress":"+1"}"#[..]));
        let j = cmd(r#"curl --json '{"a":1}' https://x/y"#);
        assert_eq!(header(&j, "content-type"), Some("application/json"));
        assert_eq!(header(&j, "accept"), Some("application/json"));
        assert_eq!(j.method, Some(Method::POST));
        let g = cmd("curl -G -d a=1 --data-urlencode 'q=a b' https://x/y?z=2");
        assert_eq!(g.method, Some(Method::GET));
        assert_eq!(g.url.as_deref(), Some("https://x/y?z=2&a=1&q=a%20b"));
        assert_eq!(g.body, None);
        let b = cmd("curl --oauth2-bearer tok https://x/y -H 'Accept:'");
        assert_eq!(header(&b, "authorization"), Some("Bearer tok"));
        assert_eq!(header(&b, "accept"), None, "`Accept:` removes curl's own");
        assert_eq!(b.method, Some(Method::GET));
    }

    #[test]
    fn what_comes_from_elsewhere_is_unknown() {
        let f = cmd("curl -X POST https://x/y -d @body.json -H 'Authorization: Bearer t'");
        assert!(f.headers_known && !f.body_known);
        assert_eq!(f.body, None);
        for line in [
            "curl -F file=@a.png https://x/y",
            "curl -K opts.txt https://x/y",
            "curl -H @headers.txt https://x/y",
            "curl -b cookies.txt https://x/y",
            "curl -u just-the-id https://x/y",
        ] {
            assert!(!cmd(line).headers_known, "{line}");
        }
        let p = cmd("curl -x http://proxy:3128 https://api.example/x");
        assert_eq!(p.url.as_deref(), Some("https://api.example/x"));
        let s = cmd("curl -sSiXPUT -uid:pw https://api.example/x -d@b.json");
        assert_eq!(s.method, Some(Method::PUT));
        assert_eq!(header(&s, "authorization"), Some("Basic aWQ6cHc="));
        assert!(!s.body_known);
    }
}

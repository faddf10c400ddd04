//! One exchange as `curl -i` prints it (status line, headers, blank line, body), optionally
//! preceded by the request: either `curl -v`'s `> ` lines (with `< ` response lines and `* `
//! notes mixed in) or a plain pasted request (`POST /path HTTP/1.1`, headers, blank line, body).
//! When several responses follow each other (`HTTP/1.1 100 Continue`, a proxy's
//! `200 Connection established`), the last one is the exchange's response. A transcript pasted
//! from an email, every line indented alike or quoted with `> `, is read as curl printed it.

use std::borrow::Cow;
use std::path::Path;
use std::time::UNIX_EPOCH;

use http::{HeaderMap, Method, StatusCode};

use super::{
    body_from_file, limit_body, push_header, split_url, upstream_for, IngestError, ReadOptions,
};
use crate::exchange::{BodyPrefix, Exchange, Origin, Request, Response, Timings};

/// `METHOD target HTTP/x` as a request line.
pub fn is_request_line(line: &str) -> bool {
    let mut it = line.split(' ');
    let (Some(m), Some(t), Some(v), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    !m.is_empty()
        && m.bytes().all(|b| b.is_ascii_uppercase())
        && !t.is_empty()
        && v.starts_with("HTTP/")
}

/// A line curl printed (a request or status line, `curl -v`'s marked lines), which no command
/// line runs on into.
fn printed_by_curl(line: &str) -> bool {
    let l = line.trim_end();
    is_request_line(l)
        || status_line(l).is_some()
        || ["> ", "< ", "* "].iter().any(|m| l.starts_with(m))
        || l == ">"
        || l == "<"
}

/// The HTTP version of a status line (`HTTP/2 404`).
fn status_line_version(line: &str) -> Option<http::Version> {
    crate::exchange::parse_version(line.split_whitespace().next()?)
}

fn status_line(line: &str) -> Option<StatusCode> {
    let rest = line.strip_prefix("HTTP/")?;
    let code = rest.split_whitespace().nth(1)?;
    code.parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
}

/// Splits `data` into lines, keeping each line's end offset; `\r\n` and `\n` both end a line.
fn lines(data: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| start + i + 1);
        let line = String::from_utf8_lossy(&data[start..end]);
        out.push((line.trim_end_matches(['\r', '\n']).to_owned(), end));
        start = end;
    }
    out
}

/// The most lines one pasted command runs over (continued, or a quoted body).
const MAX_COMMAND_LINES: usize = 500;

/// The command of a `$ curl …` / `curl …` line; `curl.exe …` as Firefox's "Copy as cURL
/// (Windows)" writes it (PowerShell's `curl` being another program).
pub(crate) fn command_line(line: &str) -> Option<&str> {
    let l = line.trim_start();
    let l = l.strip_prefix("$ ").or(l.strip_prefix("% ")).unwrap_or(l);
    (l.starts_with("curl ") || l.starts_with("curl.exe ")).then_some(l)
}

/// The transcript as curl printed it, from one pasted out of an email: every line indented
/// alike (by spaces or a tab: the common indentation is removed), or quoted with `>` (one level
/// removed, with the space after it, as often as every line is quoted). Email quoting of
/// `curl -v` gives `> > GET …` and `> < HTTP/1.1 …`; curl's own lines are never all `>`, since
/// its response lines are `<`, so a transcript whose every line is quoted is quoted. (One of
/// request lines alone reads the same either way: a `> ` request is that request pasted.)
/// Lines of whitespace alone count as blank and do not decide either.
pub(crate) fn unwrap_pasted(data: &[u8]) -> Cow<'_, [u8]> {
    fn content(line: &[u8]) -> &[u8] {
        let l = line.strip_suffix(b"\n").unwrap_or(line);
        l.strip_suffix(b"\r").unwrap_or(l)
    }
    fn blank(line: &[u8]) -> bool {
        content(line).iter().all(|b| b.is_ascii_whitespace())
    }
    let mut out = Cow::Borrowed(data);
    // Each round removes one layer; a layer is at least one byte of every line that is not
    // blank, so this ends.
    loop {
        let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
        let texts: Vec<&[u8]> = lines.iter().copied().filter(|l| !blank(l)).collect();
        let Some(first) = texts.first() else {
            return out;
        };
        let mut indent = first
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .unwrap_or(first.len());
        for t in &texts[1..] {
            indent = first[..indent]
                .iter()
                .zip(t.iter())
                .take_while(|(a, b)| a == b)
                .count();
        }
        let next: Vec<u8> = if indent > 0 {
            lines
                .iter()
                .flat_map(|l| {
                    if blank(l) {
                        // Keep the line break only: a blank line's spaces are no content.
                        &l[content(l).len()..]
                    } else {
                        &l[indent..]
                    }
                })
                .copied()
                .collect()
        } else if texts.iter().all(|t| t.starts_with(b">")) {
            lines
                .iter()
                .flat_map(|l| {
                    let r = l.strip_prefix(b">").unwrap_or(l);
                    r.strip_prefix(b" ").unwrap_or(r)
                })
                .copied()
                .collect()
        } else {
            return out;
        };
        out = Cow::Owned(next);
    }
}

/// Removes what `curl -v` prints to stderr after the body (`* Connection #0 … left intact`)
/// when both streams were pasted together.
fn strip_trailing_notes(body: &mut Vec<u8>) {
    loop {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_end_matches(['\r', '\n']);
        let last_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        let last = &trimmed[last_start..];
        let cut = if last.starts_with("* ") {
            Some(last_start)
        } else {
            last.find("* Connection #").map(|i| last_start + i)
        };
        match cut {
            Some(c) if c < body.len() => body.truncate(c),
            _ => break,
        }
    }
}

/// The input says what happened, so what it says wins over `--status`, `--method` and
/// `--path` (which fill in what it does not say); a flag that disagrees is named in `warnings`.
pub(crate) fn parse(
    data: &[u8],
    path: &Path,
    opts: &ReadOptions,
    warnings: &mut Vec<String>,
) -> Result<Exchange, IngestError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let data = &*unwrap_pasted(data);
    let all = lines(data);
    let mut i = all
        .iter()
        .position(|(l, _)| !l.trim().is_empty())
        .unwrap_or(all.len());

    let mut method: Option<Method> = None;
    let mut target: Option<String> = None;
    // A pasted command line (`$ curl -i -X POST https://…`, over several lines with `\` or a
    // quoted body) says the method and the URL, and what the request carried as far as the
    // command gives it.
    let mut command: Option<super::curl_cmd::Command> = None;
    while let Some(first) = all.get(i).and_then(|(l, _)| command_line(l)) {
        let mut text = first.to_owned();
        let mut end = i + 1;
        let words = loop {
            let continued = text.ends_with('\\') || text.ends_with('^');
            match super::curl_cmd::words(&text) {
                Some(w) if !continued => break Some(w),
                _ if end >= all.len() || end - i > MAX_COMMAND_LINES => break None,
                // A quote that runs into what curl printed was never closed in the command: a
                // `'` in the request's body below would close it, and the command would then
                // swallow the request it printed and give a body that was not sent.
                _ if printed_by_curl(&all[end].0) => break None,
                _ => {
                    text.push('\n');
                    text.push_str(&all[end].0);
                    end += 1;
                }
            }
        };
        match words {
            Some(w) => {
                let c = super::curl_cmd::parse(&w);
                method = c.method.clone().or(method);
                target = c.url.clone().or(target);
                command = Some(c);
                i = end;
            }
            // A quote that never closes: the first line, split at spaces, says its method and
            // URL; not what the request carried. The lines it continues onto (`\`, `^`) are
            // the command's too, up to what curl printed.
            None => {
                let words: Vec<String> = first
                    .split_whitespace()
                    .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_owned())
                    .collect();
                let c = super::curl_cmd::parse(&words);
                method = c.method.or(method);
                target = c.url.or(target);
                command = None;
                let continued = |l: &str| {
                    let l = l.trim_end();
                    l.ends_with('\\') || l.ends_with('^')
                };
                while all.get(i).is_some_and(|(l, _)| continued(l))
                    && all.get(i + 1).is_some_and(|(l, _)| !printed_by_curl(l))
                {
                    i += 1;
                }
                i += 1;
            }
        }
    }
    while all.get(i).is_some_and(|(l, _)| l.trim().is_empty()) {
        i += 1;
    }
    let mut req_headers = HeaderMap::new();
    let mut req_body = Vec::new();
    // Whether the request itself was shown (`curl -v`'s `>` lines, or a pasted request), which
    // then says more of it than a command line does.
    let mut request_shown = false;
    let mut status: Option<StatusCode> = None;
    let mut version = None;
    let mut resp_headers = HeaderMap::new();
    let mut body_start = data.len();

    let verbose = all.get(i).is_some_and(|(l, _)| {
        l.starts_with("> ") || l.starts_with("< ") || l.starts_with("* ") || l == ">"
    });
    if verbose {
        // curl -v: prefixed lines, then the body (stdout) after the last `<` block. curl writes
        // "> " and "< " (or the bare mark for the blank line ending a head); a line such as
        // `<html>` is the body's.
        fn marked(l: &str, mark: char) -> Option<&str> {
            let r = l.strip_prefix(mark)?;
            (r.is_empty() || r.starts_with(' ')).then_some(r)
        }
        let mut last = i;
        while let Some((l, _)) = all.get(i) {
            if let Some(r) = marked(l, '>') {
                let r = r.trim_start();
                if is_request_line(r) {
                    request_shown = true;
                    let mut p = r.split(' ');
                    method = p.next().and_then(|m| Method::from_bytes(m.as_bytes()).ok());
                    target = p.next().map(str::to_owned);
                    req_headers.clear();
                } else if let Some((n, v)) = r.split_once(':') {
                    push_header(&mut req_headers, n, v);
                }
            } else if let Some(r) = marked(l, '<') {
                let r = r.trim_start();
                if let Some(s) = status_line(r) {
                    status = Some(s);
                    version = status_line_version(r);
                    resp_headers.clear();
                } else if let Some((n, v)) = r.split_once(':') {
                    push_header(&mut resp_headers, n, v);
                }
            } else if !(l.starts_with("* ") || l.starts_with("{ [") || l.starts_with("} [")) {
                break;
            }
            last = i;
            i += 1;
        }
        body_start = all.get(last).map_or(data.len(), |(_, end)| *end);
    } else {
        if let Some((l, _)) = all.get(i).filter(|(l, _)| is_request_line(l)) {
            request_shown = true;
            let mut p = l.split(' ');
            method = p.next().and_then(|m| Method::from_bytes(m.as_bytes()).ok());
            target = p.next().map(str::to_owned);
            i += 1;
            while let Some((l, _)) = all.get(i) {
                i += 1;
                if l.is_empty() {
                    break;
                }
                if let Some((n, v)) = l.split_once(':') {
                    push_header(&mut req_headers, n, v);
                }
            }
            // The request body runs up to the status line.
            let from = i
                .checked_sub(1)
                .and_then(|k| all.get(k))
                .map_or(0, |(_, e)| *e);
            let resp = (i..all.len()).find(|&k| status_line(&all[k].0).is_some());
            let to = resp
                .and_then(|k| k.checked_sub(1))
                .and_then(|k| all.get(k))
                .map_or(data.len(), |(_, e)| *e);
            if to > from {
                let mut b = data[from..to].to_vec();
                while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                    b.pop();
                }
                req_body = b;
            }
            i = resp.unwrap_or(all.len());
        }
        // One or more responses; the last one wins.
        while let Some(s) = all.get(i).and_then(|(l, _)| status_line(l)) {
            status = Some(s);
            version = status_line_version(&all[i].0);
            resp_headers.clear();
            i += 1;
            while let Some((l, end)) = all.get(i) {
                i += 1;
                body_start = *end;
                if l.is_empty() {
                    break;
                }
                if let Some((n, v)) = l.split_once(':') {
                    push_header(&mut resp_headers, n, v);
                }
            }
            if i >= all.len() {
                body_start = data.len();
                break;
            }
        }
    }

    let file = path.display();
    if let (Some(got), Some(flag)) = (status, opts.status) {
        if got.as_u16() != flag {
            warnings.push(format!(
                "{file}: --status {flag} disagrees with the status line: {}; the report uses \
                 the status line's {}",
                got.as_u16(),
                got.as_u16()
            ));
        }
    }
    let status = status
        .or_else(|| opts.status.and_then(|s| StatusCode::from_u16(s).ok()))
        .ok_or_else(|| {
            IngestError::invalid(
                path,
                "no HTTP status line (`HTTP/1.1 409 Conflict`) found: is this `curl -i` output?",
            )
        })?;
    let mut body = data[body_start.min(data.len())..].to_vec();
    if verbose {
        strip_trailing_notes(&mut body);
    }
    let body = body_from_file(body, &resp_headers, opts.body_limit);

    let host_header = req_headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let (Some(got), Some(flag)) = (&target, &opts.path) {
        let (g, f) = (split_url(got), split_url(flag));
        if (&g.path, &g.query) != (&f.path, &f.query) {
            warnings.push(format!(
                "{file}: --path {} disagrees with the request in the input: {}; the report uses \
                 the input's",
                crate::redact::url(flag),
                crate::redact::path_and_query(&g.path, g.query.as_deref())
            ));
        }
    }
    if let (Some(got), Some(flag)) = (&method, &opts.method) {
        if got != flag {
            warnings.push(format!(
                "{file}: --method {flag} disagrees with the request in the input: {got}; the \
                 report uses the input's"
            ));
        }
    }
    let target = target.or_else(|| opts.path.clone());
    let (host, path_s, query, base_url) = match target {
        Some(t) => {
            let u = split_url(&t);
            let base = u.base_url();
            (u.host.or(host_header), u.path, u.query, base)
        }
        None => (host_header, String::new(), None, None),
    };
    let method = method
        .or_else(|| opts.method.clone())
        .unwrap_or_else(Request::unknown_method);
    let upstream = upstream_for(host.as_deref(), &path_s);
    // How much of the request the input showed: a pasted request shows it whole; `curl -v`
    // its headers, not its body, which the command line may give; a command line alone what
    // it gives.
    use crate::exchange::Shown;
    let shown = match (&command, request_shown, verbose) {
        (_, true, false) => Shown::All,
        (Some(c), true, true) if c.body_known => {
            if req_body.is_empty() {
                req_body = c.body.clone().unwrap_or_default();
            }
            Shown::All
        }
        (_, true, true) => Shown::HeadOnly,
        (Some(c), false, _) if c.headers_known => {
            for (n, v) in &c.headers {
                push_header(&mut req_headers, n, v);
            }
            req_body = c.body.clone().unwrap_or_default();
            if c.body_known {
                Shown::All
            } else {
                Shown::HeadOnly
            }
        }
        _ => Shown::MethodAndUrl,
    };
    Ok(Exchange {
        seq: 1,
        origin: Origin::File {
            path: path.display().to_string(),
            index: 0,
        },
        started_at: UNIX_EPOCH,
        request: Request {
            method,
            path: path_s,
            query,
            headers: req_headers,
            body: if req_body.is_empty() {
                BodyPrefix::complete(bytes::Bytes::new())
            } else {
                limit_body(req_body, opts.body_limit)
            },
            upstream,
            host: host.map(Into::into),
            base_url: base_url.map(Into::into),
            shown,
        },
        response: Some(Response {
            status,
            version,
            headers: resp_headers,
            body,
            headers_shown: true,
        }),
        timings: Timings::default(),
        inspection: crate::exchange::Inspection::Complete,
        outcome: None,
    }
    .read_from_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Exchange {
        parse(
            s.as_bytes(),
            Path::new("x.txt"),
            &ReadOptions::default(),
            &mut Vec::new(),
        )
        .unwrap()
    }

    #[test]
    fn a_command_whose_quote_never_closes_still_gives_method_and_url() {
        let ex = p("$ curl -X PUT https://api.mypurecloud.com/api/v2/x -d '{\"a\":\nHTTP/1.1 409 Conflict\r\n\r\n{}");
        assert_eq!(ex.request.method, Method::PUT);
        assert_eq!(ex.request.path, "/api/v2/x");
        assert_eq!(ex.request.shown, crate::exchange::Shown::MethodAndUrl);
    }

    #[test]
    fn a_quote_that_never_closes_does_not_swallow_the_request_curl_printed() {
        // The `'` in the body closes the command's quote only lines later, in the request
        // curl printed: the command must not run on into it.
        let ex = p("$ curl -i -X POST 'https://login.mypurecloud.ie/oauth/token' --data-raw 'client_secret=ab'cd&grant_type=client_credentials'\nPOST /oauth/token HTTP/1.1\nHost: login.mypurecloud.ie\nContent-Type: application/x-www-form-urlencoded\n\nclient_secret=ab'cd&grant_type=client_credentials\nHTTP/1.1 400 X\ncontent-type: application/json\n\n{\"error\":\"invalid_client\"}");
        assert_eq!(ex.request.method, Method::POST);
        assert_eq!(ex.request.shown, crate::exchange::Shown::All);
        assert_eq!(
            &ex.request.body.bytes[..],
            b"client_secret=ab'cd&grant_type=client_credentials"
        );
        assert_eq!(ex.status(), Some(400));
    }

    #[test]
    fn a_quote_that_never_closes_in_a_command_over_lines_skips_the_whole_command() {
        let ex = p("curl 'https://api.mypurecloud.com/api/v2/x' \\\n  -H 'content-type: application/json' \\\n  --data-raw '{\"a\":\"it's\"}'\nHTTP/2 409\ncontent-type: application/json\n\n{\"code\":\"request.conflict\"}");
        assert_eq!(ex.request.path, "/api/v2/x");
        assert_eq!(ex.request.shown, crate::exchange::Shown::MethodAndUrl);
        assert_eq!(ex.status(), Some(409));
    }

    #[test]
    fn firefoxs_copy_as_curl_for_windows_is_read() {
        let ex = p("curl.exe ^\"https://api.mypurecloud.com/api/v2/x^\" -X PUT -H ^\"Content-Type: application/json^\" --data-raw ^\"^{^\\^\"a^\\^\":1^}^\"\nHTTP/1.1 409 Conflict\n\n{}");
        assert_eq!(ex.request.method, Method::PUT);
        assert_eq!(ex.request.path, "/api/v2/x");
        assert_eq!(&ex.request.body.bytes[..], br#"{"a":1}"#);
        assert_eq!(ex.request.shown, crate::exchange::Shown::All);
    }

    #[test]
    fn continue_then_conflict_uses_last() {
        let ex = p("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n{\"code\":\"request.conflict\"}");
        assert_eq!(ex.status(), Some(409));
        assert_eq!(
            &ex.response.unwrap().body.bytes[..],
            b"{\"code\":\"request.conflict\"}"
        );
        assert!(!ex.request.method_known() && !ex.request.path_known());
    }

    #[test]
    fn verbose_request_lines() {
        let ex = p("* Trying 1.2.3.4\n> POST /api/v2/conversations/calls HTTP/2\n> Host: api.mypurecloud.ie\n> authorization: Bearer x\n>\n< HTTP/2 400\n< content-type: application/json\n<\n{\"status\":400}\n");
        assert_eq!(ex.request.method, Method::POST);
        assert_eq!(ex.request.path, "/api/v2/conversations/calls");
        assert_eq!(ex.request.host.as_deref(), Some("api.mypurecloud.ie"));
        assert_eq!(ex.status(), Some(400));
        assert_eq!(&ex.response.unwrap().body.bytes[..], b"{\"status\":400}\n");
    }

    #[test]
    fn pasted_command_and_trailing_notes() {
        let ex = p("$ curl -i -X DELETE 'https://api.mypurecloud.ie/api/v2/groups/g1?force=true'\nHTTP/2 404\n\n{ \"code\": \"not.found\" }\n");
        assert_eq!(ex.request.method, Method::DELETE);
        assert_eq!(ex.request.path, "/api/v2/groups/g1");
        assert_eq!(ex.request.query.as_deref(), Some("force=true"));
        assert_eq!(ex.request.host.as_deref(), Some("api.mypurecloud.ie"));
        assert_eq!(
            &ex.response.unwrap().body.bytes[..],
            b"{ \"code\": \"not.found\" }\n"
        );
        let ex = p("> GET /x HTTP/1.1\n>\n< HTTP/1.1 400 Bad Request\n<\n{ \"status\": 400 }* Connection #0 to host x left intact\n* Closing\n");
        assert_eq!(&ex.response.unwrap().body.bytes[..], b"{ \"status\": 400 }");
    }

    #[test]
    fn pasted_from_an_email_reads_as_curl_printed_it() {
        let printed = "> GET /x HTTP/1.1\r\n> Host: h\r\n>\r\n< HTTP/1.1 404 Not Found\r\n<\r\n{\n  \"a\": 1\n}\n";
        let cases = [
            // Indented alike, a blank line indented less, or not at all.
            "    > GET /x HTTP/1.1\r\n    > Host: h\r\n    >\r\n    < HTTP/1.1 404 Not Found\r\n  \r\n".to_owned(),
            printed.lines().map(|l| format!("\t{l}\n")).collect::<String>(),
            // Quoted once, and twice with spaces inside.
            "> > GET /x HTTP/1.1\r\n> > Host: h\r\n> >\r\n> < HTTP/1.1 404 Not Found\r\n> <\r\n> {\n>   \"a\": 1\n> }\n".to_owned(),
            printed.lines().map(|l| format!(">   > {l}\n")).collect::<String>(),
        ];
        // `str::lines` took the CRs off.
        let lf = printed.replace("\r\n", "\n");
        let want: [&[u8]; 4] = [
            b"> GET /x HTTP/1.1\r\n> Host: h\r\n>\r\n< HTTP/1.1 404 Not Found\r\n\r\n",
            lf.as_bytes(),
            printed.as_bytes(),
            lf.as_bytes(),
        ];
        for (i, (case, want)) in cases.iter().zip(want).enumerate() {
            let got = unwrap_pasted(case.as_bytes());
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want),
                "case {i}: {case:?}"
            );
        }
        // What curl printed is left as it is, its indented body lines and all.
        for s in [
            printed,
            "HTTP/1.1 409\n\n  {\"a\": 1}\n",
            "> GET /x HTTP/1.1\n< HTTP/1.1 200\n",
        ] {
            assert!(
                matches!(unwrap_pasted(s.as_bytes()), Cow::Borrowed(_)),
                "{s:?}"
            );
        }
        let ex = p("\t> POST /api/v2/x HTTP/2\n\t> host: api.mypurecloud.ie\n\t>\n\t< HTTP/2 400\n\t<\n\t{\"status\":400}\n");
        assert_eq!(
            (&ex.request.method, ex.status()),
            (&Method::POST, Some(400))
        );
        assert_eq!(&ex.response.unwrap().body.bytes[..], b"{\"status\":400}\n");
    }

    #[test]
    fn plain_request_then_response() {
        let ex = p("POST /oauth/token HTTP/1.1\nHost: login.mypurecloud.com\n\ngrant_type=client_credentials\n\nHTTP/1.1 400 Bad Request\n\n{\"error\":\"invalid_client\"}");
        assert_eq!(ex.request.path, "/oauth/token");
        assert_eq!(&ex.request.body.bytes[..], b"grant_type=client_credentials");
        assert_eq!(ex.status(), Some(400));
    }
}

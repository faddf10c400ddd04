//! A bare JSON error body, as a user pastes it from a log. The status comes from `--status` or
//! else the body's own `status` field: the flag is the HTTP status the user saw, the field only
//! the body's copy of it, so the flag wins, with a warning when the two disagree (a body pasted
//! from another response, or a typo, must not pass unnoticed). The method and path come from
//! `--method`/`--path`, and otherwise stay honestly unknown ([`Request::unknown_method`], path
//! `""`), never a made-up `GET /`: templates and reports then say that the request was not
//! given.

use std::path::Path;
use std::time::UNIX_EPOCH;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::{
    advance, index_of, limit_body, split_url, upstream_for, IngestError, Position, ReadOptions,
};
use crate::exchange::{BodyPrefix, Exchange, Origin, Request, Response, Timings};

pub(crate) fn parse(
    data: &[u8],
    path: &Path,
    opts: &ReadOptions,
    warnings: &mut Vec<String>,
) -> Result<Exchange, IngestError> {
    let file = data;
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    // A body pasted from an email, every line quoted (`> `) or indented alike: read as it was
    // before, a copy whose places are its own (as a pasted SDK error's body is).
    let opens_json = |d: &[u8]| {
        d.iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'{' | b'['))
    };
    let unquoted = if opens_json(data) {
        None
    } else {
        match super::curl::unwrap_pasted(data) {
            std::borrow::Cow::Owned(u) if opens_json(&u) => Some(u),
            _ => None,
        }
    };
    let data = unquoted.as_deref().unwrap_or(data);
    let pasted = match std::str::from_utf8(data)
        .ok()
        .and_then(super::sdk::recognise)
    {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return Err(IngestError::invalid(path, e)),
    };
    let data = match &pasted {
        Some(p) => {
            warnings.extend(
                p.warnings
                    .iter()
                    .map(|w| format!("{}: {w}", path.display())),
            );
            &p.body[..]
        }
        None => data,
    };
    let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| {
        // Where in the file as saved, its BOM included; the end of the file for one cut
        // short (serde_json names its last byte, at column 0 after a line break).
        let idx = if e.is_eof() {
            data.len()
        } else {
            index_of(data, e.line(), e.column())
        };
        let start = Position {
            offset: 0,
            line: 1,
            column: 1,
        };
        let msg = e.to_string();
        IngestError::Broken {
            path: path.to_owned(),
            // In a pasted SDK error, or an unquoted paste, the body is a copy made from the
            // text: a place in it.
            at: match (&pasted, &unquoted) {
                (None, None) => advance(start, &file[..file.len() - data.len() + idx]),
                _ => advance(start, &data[..idx]),
            },
            entry: Some(0),
            context: None,
            message: match &pasted {
                Some(p) => format!(
                    "the body of the pasted {} is not JSON: {}",
                    p.shape,
                    msg.split(" at line ").next().unwrap_or(&msg)
                ),
                None => msg.split(" at line ").next().unwrap_or(&msg).to_owned(),
            },
        }
    })?;
    // A pasted SDK error names the HTTP status it got: that, not the body's copy.
    let status_field = value.get("status");
    let body_status = pasted
        .as_ref()
        .and_then(|p| p.status)
        .map(u64::from)
        .or_else(|| {
            status_field.and_then(|s| {
                s.as_u64()
                    .or_else(|| s.as_str().and_then(|s| s.trim().parse().ok()))
            })
        });
    if let (Some(flag), Some(body)) = (opts.status, body_status) {
        if u64::from(flag) != body {
            warnings.push(format!(
                "{}: --status {flag} disagrees with the body's \"status\": {body}; the report \
                 uses --status {flag}",
                path.display()
            ));
        }
    }
    let status = opts.status.map(u64::from).or(body_status).ok_or_else(|| {
        IngestError::invalid(
            path,
            match status_field {
                None => "the body has no \"status\" field: give the response status with --status"
                    .to_owned(),
                Some(v) => format!(
                    "the body's \"status\" field, {v}, is not a status code: give the response \
                     status with --status"
                ),
            },
        )
    })?;
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| IngestError::invalid(path, format!("{status} is not an HTTP status")))?;
    // The request a JavaScript SDK error carries (axios's config) is the one sent: it wins
    // over the flags, as a curl transcript's does, and a flag that disagrees is named.
    let sent = pasted.as_ref().and_then(|p| p.request.as_ref());
    let sent_method = sent
        .and_then(|r| r.method.as_deref())
        .and_then(|m| http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok());
    let sent_url = sent.and_then(|r| r.url.as_deref());
    if let (Some(got), Some(flag)) = (sent_url, &opts.path) {
        let (g, f) = (split_url(got), split_url(flag));
        if (&g.path, &g.query) != (&f.path, &f.query) {
            warnings.push(format!(
                "{}: --path {} disagrees with the request in the input: {}; the report uses \
                 the input's",
                path.display(),
                crate::redact::url(flag),
                crate::redact::path_and_query(&g.path, g.query.as_deref())
            ));
        }
    }
    if let (Some(got), Some(flag)) = (&sent_method, &opts.method) {
        if got != flag {
            warnings.push(format!(
                "{}: --method {flag} disagrees with the request in the input: {got}; the \
                 report uses the input's",
                path.display()
            ));
        }
    }
    let call = pasted
        .as_ref()
        .and_then(|p| p.call.as_ref())
        .filter(|_| opts.method.is_none() || opts.path.is_none())
        .and_then(|call| sdk_call_request(call, opts, path, warnings));
    let (host, req_path, query, base_url) = match (sent_url.or(opts.path.as_deref()), &call) {
        (Some(p), _) => {
            let u = split_url(p);
            let base = u.base_url();
            (u.host, u.path, u.query, base)
        }
        (None, Some((_, template))) if !template.is_empty() => (None, template.clone(), None, None),
        (None, _) => (None, String::new(), None, None),
    };
    let method = match (sent_method.or_else(|| opts.method.clone()), call) {
        (Some(m), _) => m,
        (None, Some((m, _))) => m,
        (None, None) => Request::unknown_method(),
    };
    // What of the request the error showed: axios's config holds its headers and body, as
    // far as the print kept them.
    use crate::exchange::Shown;
    let mut req_headers = HeaderMap::new();
    let mut req_body = BodyPrefix::complete(bytes::Bytes::new());
    let mut shown = Shown::MethodAndUrl;
    if let Some(r) = sent {
        for (n, v) in r.headers.iter().flatten() {
            super::push_header(&mut req_headers, n, v);
        }
        if let Some(b) = r.body.as_ref().filter(|b| !b.is_empty()) {
            req_body = limit_body(b.clone(), opts.body_limit);
        }
        shown = match (r.headers.is_some(), r.body.is_some()) {
            (true, true) => Shown::All,
            (true, false) => Shown::HeadOnly,
            // Its body alone: the rules cannot take a header it lacks for absent.
            (false, _) => Shown::MethodAndUrl,
        };
    }
    let mut headers = HeaderMap::new();
    // Of the SDK's headers, those a diagnosis reads; the rest (lengths, encodings) described
    // the bytes the SDK received, not this body.
    for (n, v) in pasted.iter().flat_map(|p| &p.headers) {
        if [
            "inin-correlation-id",
            "retry-after",
            "content-type",
            "www-authenticate",
        ]
        .iter()
        .any(|k| n.eq_ignore_ascii_case(k))
        {
            super::push_header(&mut headers, n, v);
        }
    }
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(Exchange {
        seq: 1,
        origin: Origin::File {
            path: path.display().to_string(),
            index: 0,
        },
        started_at: UNIX_EPOCH,
        request: Request {
            method,
            upstream: upstream_for(host.as_deref(), &req_path),
            path: req_path,
            query,
            headers: req_headers,
            body: req_body,
            host: host.map(Into::into),
            base_url: base_url.map(Into::into),
            shown,
        },
        response: Some(Response {
            status,
            version: None,
            headers,
            body: limit_body(data.to_vec(), opts.body_limit),
            // A bare body shows none; an SDK error printed whole shows them all.
            headers_shown: pasted.as_ref().is_some_and(|p| !p.headers.is_empty()),
        }),
        timings: Timings::default(),
        inspection: crate::exchange::Inspection::Complete,
        outcome: None,
    }
    .read_from_file())
}

/// The method and path template of the operation a pasted Python SDK error names (`call`), as
/// the catalog has it, with a warning that says where the request came from. Outside the
/// catalog the method still comes from the name: every operationId starts with its method
/// (all 2 657 of the 2026 operations catalog), and the SDK's method names are operationIds in
/// snake case.
fn sdk_call_request(
    call: &super::sdk::SdkCall,
    opts: &ReadOptions,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Option<(http::Method, String)> {
    let id = call.operation_id();
    let found = opts.catalog.as_ref().and_then(|c| {
        c.get(&id)
            .map(|op| (op.method.clone(), op.path.clone(), c.source.to_string()))
    });
    let Some((method, template, source)) = found else {
        let verb = call.name.split('_').next().unwrap_or_default();
        let method = http::Method::from_bytes(verb.to_ascii_uppercase().as_bytes()).ok()?;
        let whose = opts
            .catalog
            .as_ref()
            .map_or("no catalog was given".to_owned(), |c| {
                format!("the catalog ({}) does not hold it", c.source)
            });
        warnings.push(format!(
            "{}: the SDK call on line {} is {} (operation {id}, method {method}), but {whose}: \
             give the request's path with --path, or the API's document with --spec",
            path.display(),
            call.line,
            call.name,
        ));
        return Some((method, String::new()));
    };
    warnings.push(format!(
        "{}: the request is the operation of the SDK call on line {}: {} is {method} \
         {template} (catalog: {source}){}",
        path.display(),
        call.line,
        call.name,
        if template.contains('{') {
            "; its path parameters are not in the input, so the path keeps their names"
        } else {
            ""
        }
    ));
    Some((method, template))
}

//! Cause and fix templates: literal text with `{name}` placeholders filled from a match's
//! captures (`{{` and `}}` for literal braces). Rendering is one pass over the parsed template,
//! so text quoted from upstream is inserted as data and never read as a template.

use std::collections::BTreeSet;

use super::matcher::Captures;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
    /// Whether a `{method}` or `{path}` placeholder is there: only then can a request the
    /// input did not give change how it renders.
    quotes_request: bool,
}

impl Template {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => name.push(ch),
                            None => return Err(format!("unclosed placeholder {{{name}")),
                        }
                    }
                    if !super::matcher::is_ident(&name) {
                        return Err(format!(
                            "bad placeholder {{{name}}} (write {{{{ for a literal brace)"
                        ));
                    }
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Var(name));
                }
                '}' => return Err("a lone '}' (write }} for a literal brace)".into()),
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        let quotes_request = pieces
            .iter()
            .any(|p| matches!(p, Piece::Var(n) if n == "method" || n == "path"));
        Ok(Template {
            source: s.to_owned(),
            pieces,
            quotes_request,
        })
    }

    /// The placeholder names, for checking against what the rule's match binds.
    pub fn names(&self) -> BTreeSet<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Var(n) => Some(n.as_str()),
                Piece::Text(_) => None,
            })
            .collect()
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Fills the placeholders; a name bound by an optional regex group that did not take part
    /// renders empty (loading already refused names no match can bind). `{method}` and
    /// `{path}` are unbound when the input did not give them (a bare error body): rather than
    /// a made-up request, `{method} {path}` then reads "the request", "the POST request" or
    /// "the request to /api/v2/…" (capitalised at the start of a sentence), and either one
    /// alone "(method not given)" or "(path not given)".
    pub fn render(&self, caps: &Captures) -> String {
        fn piece<'a>(p: &'a Piece, caps: &'a Captures) -> &'a str {
            match p {
                Piece::Text(t) => t,
                Piece::Var(n) => caps.get(n).unwrap_or(""),
            }
        }
        // Sized first: grown piece by piece, a long fix text was copied several times over.
        let len = self.pieces.iter().map(|p| piece(p, caps).len()).sum();
        let mut out = String::with_capacity(len);
        // Live, the request is always known: one look at the captures, not one per piece.
        let unbound =
            self.quotes_request && (caps.get("method").is_none() || caps.get("path").is_none());
        if !unbound {
            for p in &self.pieces {
                out.push_str(piece(p, caps));
            }
            return out;
        }
        let mut i = 0;
        while i < self.pieces.len() {
            match self.request_not_given(i, caps) {
                Some((text, used)) => {
                    if text.starts_with("the ") && starts_sentence(&out) {
                        out.push('T');
                        out.push_str(&text[1..]);
                    } else {
                        out.push_str(&text);
                    }
                    i += used;
                }
                None => {
                    out.push_str(piece(&self.pieces[i], caps));
                    i += 1;
                }
            }
        }
        out
    }

    /// What stands for `{method} {path}` (or either alone) at piece `i` when the request's
    /// method or path is not bound, and how many pieces it replaces.
    fn request_not_given(&self, i: usize, caps: &Captures) -> Option<(String, usize)> {
        let Piece::Var(name) = &self.pieces[i] else {
            return None;
        };
        match name.as_str() {
            "method" => {
                let pair = matches!(
                    (self.pieces.get(i + 1), self.pieces.get(i + 2)),
                    (Some(Piece::Text(sp)), Some(Piece::Var(p))) if sp == " " && p == "path"
                );
                match (caps.get("method"), pair.then(|| caps.get("path"))) {
                    (Some(_), Some(Some(_))) => None,
                    (None, Some(None)) => Some(("the request".to_owned(), 3)),
                    (Some(m), Some(None)) => Some((format!("the {m} request"), 3)),
                    (None, Some(Some(p))) => Some((format!("the request to {p}"), 3)),
                    (Some(_), None) => None,
                    (None, None) => Some(("(method not given)".to_owned(), 1)),
                }
            }
            "path" if caps.get("path").is_none() => Some(("(path not given)".to_owned(), 1)),
            _ => None,
        }
    }
}

/// True when text following `before` starts a sentence.
fn starts_sentence(before: &str) -> bool {
    let t = before.trim_end();
    t.is_empty() || t.ends_with(['.', '!', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_without_reinterpreting_values() {
        let t = Template::parse("scope {scopes} {{literal}}").unwrap();
        let caps = Captures(vec![("scopes".into(), "{scopes}".into())]);
        assert_eq!(t.render(&caps), "scope {scopes} {literal}");
        assert!(Template::parse("x {bad name}").is_err());
        assert!(Template::parse("x {open").is_err());
        assert!(Template::parse("x } y").is_err());
    }

    #[test]
    fn a_request_not_given_reads_as_such() {
        let status = || ("status".into(), "409".into());
        let t = Template::parse("{method} {path} failed with {status}. Then {method} {path} did.")
            .unwrap();
        let caps = |m: Option<&str>, p: Option<&str>| {
            let mut c = Captures::default();
            if let Some(m) = m {
                c.0.push(("method".into(), m.into()));
            }
            if let Some(p) = p {
                c.0.push(("path".into(), p.into()));
            }
            c.0.push(status());
            c
        };
        for (m, p, want) in [
            (
                Some("POST"),
                Some("/api/v2/x"),
                "POST /api/v2/x failed with 409. Then POST /api/v2/x did.",
            ),
            (
                None,
                None,
                "The request failed with 409. Then the request did.",
            ),
            (
                Some("PUT"),
                None,
                "The PUT request failed with 409. Then the PUT request did.",
            ),
            (
                None,
                Some("/api/v2/x"),
                "The request to /api/v2/x failed with 409. Then the request to /api/v2/x did.",
            ),
        ] {
            assert_eq!(t.render(&caps(m, p)), want, "method {m:?}, path {p:?}");
        }
        let alone = Template::parse("(this {request_id}) no {method} operation on {path}").unwrap();
        assert_eq!(
            alone.render(&caps(None, None)),
            "(this ) no (method not given) operation on (path not given)"
        );
        assert_eq!(
            alone.render(&caps(Some("GET"), Some("/a"))),
            "(this ) no GET operation on /a"
        );
    }
}

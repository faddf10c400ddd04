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
        Ok(Template {
            source: s.to_owned(),
            pieces,
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
    /// renders empty (loading already refused names no match can bind).
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
        for p in &self.pieces {
            out.push_str(piece(p, caps));
        }
        out
    }
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
}

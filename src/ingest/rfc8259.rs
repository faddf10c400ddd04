//! JSON by RFC 8259's grammar alone, for the HAR entries serde_json refuses though they are
//! JSON: a string with a lone surrogate escape (`"\ud800"`), objects and arrays nested deeper
//! than its recursion limit, a number beyond `f64` (`1e400`). Such an entry costs only itself
//! (the HAR reader skips it and reads on), where broken syntax ends the file: after it, where
//! the next entry starts is only a guess. The check is iterative, so no depth overflows the
//! stack, and it picks out the entry's `request.method` and `request.url`, so that the skipped
//! entry can be named.

/// Open objects and arrays serde_json reads at most: its recursion limit of 128 counts the
/// one that fails too.
pub(crate) const SERDE_MAX_DEPTH: usize = 127;

/// What a scan of one JSON value found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// `request.method` and `request.url` of an entry, as strings (a lone surrogate decoded
    /// as U+FFFD), the URL cut at [`MAX_KEPT`] bytes.
    pub method: Option<String>,
    pub url: Option<String>,
    /// The first thing serde_json refuses, with its byte offset in the value.
    pub beyond_serde: Option<(usize, Beyond)>,
}

/// Why serde_json refuses JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Beyond {
    /// The escape as written (`\ud800`).
    LoneSurrogate(String),
    /// Objects and arrays open at this `{` or `[`, counting it.
    TooDeep(usize),
    /// The number as written, cut at 40 bytes.
    NumberOutOfRange(String),
}

impl std::fmt::Display for Beyond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Beyond::LoneSurrogate(e) => write!(
                f,
                "a string holds the escape {e}, one half of a UTF-16 surrogate pair without the \
                 other, which is no Unicode text"
            ),
            Beyond::TooDeep(_) => write!(
                f,
                "objects and arrays nested deeper than the {SERDE_MAX_DEPTH} levels triage reads"
            ),
            Beyond::NumberOutOfRange(n) => {
                write!(f, "the number {n} is beyond the range of a 64-bit float")
            }
        }
    }
}

/// Longest `request.url` kept, in bytes.
const MAX_KEPT: usize = 4096;

/// Where a string value sits, for the two the scan keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Request,
    Method,
    Url,
    Other,
}

/// Scans `raw`, one JSON value with whitespace around it at most. `None` when it is not JSON
/// by RFC 8259 (text that is not UTF-8 included).
pub(crate) fn scan(raw: &[u8]) -> Option<Scan> {
    std::str::from_utf8(raw).ok()?;
    let mut s = Scan::default();
    let mut p = Parser { b: raw, i: 0 };
    // Per open container: whether it is an object, and the key of the member being read.
    let mut stack: Vec<(bool, Key)> = Vec::new();
    p.ws();
    'value: loop {
        // A value starts at p.i.
        let wanted = match stack.as_slice() {
            [(true, Key::Request), (true, k @ (Key::Method | Key::Url))] => Some(*k),
            _ => None,
        };
        match *p.b.get(p.i)? {
            c @ (b'{' | b'[') => {
                if stack.len() == SERDE_MAX_DEPTH && s.beyond_serde.is_none() {
                    s.beyond_serde = Some((p.i, Beyond::TooDeep(stack.len() + 1)));
                }
                p.i += 1;
                p.ws();
                let close = if c == b'{' { b'}' } else { b']' };
                if p.b.get(p.i) == Some(&close) {
                    p.i += 1;
                } else if c == b'{' {
                    let key = p.key(stack.is_empty(), stack.len() == 1, &mut s)?;
                    stack.push((true, key));
                    continue 'value;
                } else {
                    stack.push((false, Key::Other));
                    continue 'value;
                }
            }
            b'"' => {
                let kept = p.string(wanted.is_some(), &mut s)?;
                match (wanted, kept) {
                    (Some(Key::Method), Some(v)) => s.method = Some(v),
                    (Some(Key::Url), Some(v)) => s.url = Some(v),
                    _ => {}
                }
            }
            b't' => p.literal(b"true")?,
            b'f' => p.literal(b"false")?,
            b'n' => p.literal(b"null")?,
            _ => p.number(&mut s)?,
        }
        // After a value: the end of the text, or `,` / the close of the container.
        loop {
            p.ws();
            let Some(&(object, _)) = stack.last() else {
                return (p.i == p.b.len()).then_some(s);
            };
            match (*p.b.get(p.i)?, object) {
                (b',', true) => {
                    p.i += 1;
                    p.ws();
                    let depth = stack.len();
                    let key = p.key(depth == 1, depth == 2, &mut s)?;
                    stack.last_mut().expect("an object is open").1 = key;
                    continue 'value;
                }
                (b',', false) => {
                    p.i += 1;
                    p.ws();
                    continue 'value;
                }
                (b'}', true) | (b']', false) => {
                    p.i += 1;
                    stack.pop();
                }
                _ => return None,
            }
        }
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| b" \t\r\n".contains(c)) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// A member name and its `:`; `entry` when it names a member of the entry itself,
    /// `request` when one of a member of the entry.
    fn key(&mut self, entry: bool, request: bool, s: &mut Scan) -> Option<Key> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let name = self.string(entry || request, s)?;
        self.ws();
        if self.b.get(self.i) != Some(&b':') {
            return None;
        }
        self.i += 1;
        self.ws();
        Some(match name.as_deref() {
            Some("request") if entry => Key::Request,
            Some("method") if request => Key::Method,
            Some("url") if request => Key::Url,
            _ => Key::Other,
        })
    }

    fn hex4(&self, at: usize) -> Option<u16> {
        let h = self.b.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(h).ok()?, 16)
            .ok()
            .filter(|_| h.iter().all(u8::is_ascii_hexdigit))
    }

    /// A string from its opening quote; its text when `keep`.
    fn string(&mut self, keep: bool, s: &mut Scan) -> Option<Option<String>> {
        self.i += 1;
        let mut out = keep.then(String::new);
        loop {
            let c = *self.b.get(self.i)?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                0..=0x1f => return None,
                b'\\' => {
                    let e = *self.b.get(self.i + 1)?;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let at = self.i;
                            let n = self.hex4(self.i + 2)?;
                            self.i += 6;
                            let pair = (0xD800..0xDC00).contains(&n)
                                && self.b.get(self.i..self.i + 2) == Some(b"\\u")
                                && self
                                    .hex4(self.i + 2)
                                    .is_some_and(|m| (0xDC00..0xE000).contains(&m));
                            let ch = if pair {
                                let m = self.hex4(self.i + 2).expect("checked above");
                                self.i += 6;
                                let c = 0x1_0000
                                    + ((u32::from(n) - 0xD800) << 10)
                                    + (u32::from(m) - 0xDC00);
                                char::from_u32(c).unwrap_or('\u{FFFD}')
                            } else if (0xD800..0xE000).contains(&n) {
                                if s.beyond_serde.is_none() {
                                    let written =
                                        String::from_utf8_lossy(&self.b[at..at + 6]).into_owned();
                                    s.beyond_serde = Some((at, Beyond::LoneSurrogate(written)));
                                }
                                '\u{FFFD}'
                            } else {
                                char::from_u32(u32::from(n)).unwrap_or('\u{FFFD}')
                            };
                            push(&mut out, ch);
                            continue;
                        }
                        _ => return None,
                    };
                    push(&mut out, ch);
                    self.i += 2;
                }
                _ => {
                    // Whole UTF-8 characters: the text was checked to be UTF-8 at the start.
                    let len = match c {
                        0x00..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    if let Some(o) = out.as_mut() {
                        if o.len() < MAX_KEPT {
                            o.push_str(std::str::from_utf8(&self.b[self.i..self.i + len]).ok()?);
                        }
                    }
                    self.i += len;
                }
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self, s: &mut Scan) -> Option<()> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let from = p.i;
            while p.b.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            (p.i > from).then_some(())
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => digits(self)?,
            _ => return None,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            digits(self)?;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            digits(self)?;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        if s.beyond_serde.is_none() && text.parse::<f64>().is_ok_and(f64::is_infinite) {
            let shown: String = text.chars().take(40).collect();
            s.beyond_serde = Some((start, Beyond::NumberOutOfRange(shown)));
        }
        Some(())
    }
}

fn push(out: &mut Option<String>, c: char) {
    if let Some(o) = out.as_mut() {
        if o.len() < MAX_KEPT {
            o.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_reads(raw: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(raw).is_ok()
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut v = vec![b'['; depth];
        v.extend(std::iter::repeat_n(b']', depth));
        v
    }

    #[test]
    fn json_serde_refuses_is_json_here_and_says_why() {
        type Found = Option<(usize, Beyond)>;
        let cases: &[(&[u8], Found)] = &[
            (
                br#"{"a":"x\ud800y"}"#,
                Some((7, Beyond::LoneSurrogate(r"\ud800".into()))),
            ),
            (
                br#"["\udc00"]"#,
                Some((2, Beyond::LoneSurrogate(r"\udc00".into()))),
            ),
            (
                br#"["\ud800\ud800"]"#,
                Some((2, Beyond::LoneSurrogate(r"\ud800".into()))),
            ),
            (br#"["\ud83d\ude00"]"#, None),
            (
                b"[1e400]",
                Some((1, Beyond::NumberOutOfRange("1e400".into()))),
            ),
            (
                b" -1E+400 ",
                Some((1, Beyond::NumberOutOfRange("-1E+400".into()))),
            ),
            (b"[1e-400, 1.7976931348623157e308]", None),
        ];
        for (raw, want) in cases {
            let got = scan(raw).map(|s| s.beyond_serde);
            let raw = String::from_utf8_lossy(raw);
            assert_eq!(got, Some(want.clone()), "{raw}");
            assert_eq!(
                serde_reads(raw.as_bytes()),
                want.is_none(),
                "serde_json on {raw}"
            );
        }
        // serde_json's limit is where the scan places it.
        assert!(serde_reads(&nested(SERDE_MAX_DEPTH)));
        assert_eq!(scan(&nested(SERDE_MAX_DEPTH)).unwrap().beyond_serde, None);
        assert!(!serde_reads(&nested(SERDE_MAX_DEPTH + 1)));
        assert_eq!(
            scan(&nested(100_000)).unwrap().beyond_serde,
            Some((SERDE_MAX_DEPTH, Beyond::TooDeep(SERDE_MAX_DEPTH + 1)))
        );
    }

    #[test]
    fn broken_syntax_is_not_json() {
        for raw in [
            &br#""a\x""#[..],
            br#""\u12""#,
            b"01",
            b"+1",
            b"NaN",
            b"'x'",
            b"tru",
            b"nul",
            b"1.",
            b"[1,]",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"{1:2}",
            b"[1 2]",
            b"[",
            b"[]]",
            b"\"a\x01\"",
            b"\"\xff\"",
            b"",
        ] {
            assert_eq!(scan(raw), None, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn the_request_of_an_entry_is_named() {
        let s = scan(
            br#"{"request":{"headers":[{"name":"url","value":"no"}],"method":"P\u004fST","url":"https://h/x?\ud800"},"response":{"url":"no"},"url":"no"}"#,
        )
        .unwrap();
        assert_eq!(s.method.as_deref(), Some("POST"));
        assert_eq!(s.url.as_deref(), Some("https://h/x?\u{FFFD}"));
        let s =
            scan(br#"{"x":{"request":{"method":"GET"}},"request":[{"method":"PUT"}]}"#).unwrap();
        assert_eq!((s.method, s.url), (None, None));
    }
}

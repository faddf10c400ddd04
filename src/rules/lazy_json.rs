//! A JSON body as the matchers read it: a member is found by walking the text, without building
//! a tree. Rules read a few fields of small error bodies; a `serde_json::Value` of the whole
//! body (order-preserving maps: a hash and an allocation per key) cost more than matching every
//! rule against it. The answers are those of the `Value` walk they replace: the last of
//! duplicate keys wins, `null` counts as absent, objects and arrays read as compact JSON.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

/// A syntactically valid JSON text, with the members of a top-level object listed (rules look
/// up several of them); anything deeper is parsed only when asked for.
#[derive(Debug, Clone)]
pub struct LazyJson<'a> {
    text: &'a str,
    /// The members when the value is an object, in order.
    top: Option<Vec<(Key<'a>, &'a RawValue)>>,
}

impl<'a> LazyJson<'a> {
    /// `None` unless `bytes` is one whole, valid JSON value (as `serde_json::from_slice` would
    /// accept it). One pass over the text.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let top = if text.trim_start().starts_with('{') {
            Some(de.deserialize_map(Members).ok()?)
        } else {
            <&RawValue as serde::Deserialize>::deserialize(&mut de).ok()?;
            None
        };
        de.end().ok()?;
        Some(LazyJson { text, top })
    }

    /// The value at a dotted path (object members by name, array elements by index), as text:
    /// strings as they are, numbers and booleans as written by `serde_json`, objects and
    /// arrays as compact JSON; `None` for `null` and for a path that leads nowhere.
    pub fn text_at(&self, key: &[String]) -> Option<Cow<'a, str>> {
        let (mut cur, rest) = match (&self.top, key.split_first()) {
            (Some(members), Some((first, rest))) => {
                let (_, v) = members.iter().rev().find(|(k, _)| k.0 == first.as_str())?;
                (*v, rest)
            }
            _ => (serde_json::from_str::<&RawValue>(self.text).ok()?, key),
        };
        for seg in rest {
            cur = child(cur, seg)?;
        }
        text(cur)
    }
}

fn child<'a>(v: &'a RawValue, seg: &str) -> Option<&'a RawValue> {
    let mut de = serde_json::Deserializer::from_str(v.get());
    match v.get().as_bytes().first()? {
        b'{' => de.deserialize_map(Member(seg)).ok().flatten(),
        b'[' => {
            let index = seg.parse::<usize>().ok()?;
            de.deserialize_seq(Element(index)).ok().flatten()
        }
        _ => None,
    }
}

fn text(v: &RawValue) -> Option<Cow<'_, str>> {
    let raw = v.get();
    match raw.as_bytes().first()? {
        b'n' => None,
        // Borrowed from the body unless it has escapes to undo.
        b'"' => match serde_json::from_str::<&str>(raw) {
            Ok(s) => Some(Cow::Borrowed(s)),
            Err(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
        },
        // Rare for a rule: the one place a tree is still built, for its canonical text.
        _ => serde_json::from_str::<Value>(raw)
            .ok()
            .map(|v| Cow::Owned(v.to_string())),
    }
}

/// Lists an object's members, in order.
struct Members;

impl<'de> Visitor<'de> for Members {
    type Value = Vec<(Key<'de>, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
            out.push(entry);
        }
        Ok(out)
    }
}

/// Finds an object's member by name (the last one, as a map keeps it).
struct Member<'k>(&'k str);

impl<'de> Visitor<'de> for Member<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(k) = map.next_key::<Key<'de>>()? {
            let v = map.next_value::<&'de RawValue>()?;
            if k.0 == self.0 {
                found = Some(v);
            }
        }
        Ok(found)
    }
}

/// Finds an array's element by index.
struct Element(usize);

impl<'de> Visitor<'de> for Element {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut i = 0;
        while let Some(v) = seq.next_element::<&'de RawValue>()? {
            if i == self.0 {
                found = Some(v);
            }
            i += 1;
        }
        Ok(found)
    }
}

/// An object key, borrowed from the text unless it has escapes.
#[derive(Debug, Clone)]
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Vec<String> {
        if path.is_empty() {
            return Vec::new();
        }
        path.split('.').map(str::to_owned).collect()
    }

    /// The `Value` walk this replaces.
    fn by_value(body: &str, path: &str) -> Option<String> {
        let root = serde_json::from_str::<Value>(body).ok()?;
        let mut cur = &root;
        for seg in key(path) {
            cur = match cur {
                Value::Object(o) => o.get(&seg)?,
                Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        match cur {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    #[test]
    fn answers_as_the_value_walk_did() {
        let bodies = [
            r#"{"message":"The request conflicts.","code":"request.conflict","status":409,
               "messageParams":{"a":"x","n":null},"details":[{"errorCode":"E1"},{"errorCode":"E2"}],
               "errors":[],"f":1.50,"e":1e3,"t":true,"esc\"aped":"q\u00e9\n","dup":1,"dup":2}"#,
            r#"  [1, {"a": [true, null]}, "x"]  "#,
            r#""just a string""#,
            "409",
            "null",
        ];
        let paths = [
            "",
            "code",
            "status",
            "message",
            "messageParams",
            "messageParams.a",
            "messageParams.n",
            "messageParams.missing",
            "details",
            "details.1.errorCode",
            "details.2",
            "details.x",
            "errors",
            "errors.0",
            "f",
            "e",
            "t",
            "esc\"aped",
            "dup",
            "code.deeper",
            "0",
            "1.a.0",
            "1.a.1",
            "2",
            "-1",
        ];
        for body in bodies {
            let lazy = LazyJson::parse(body.as_bytes()).expect(body);
            for p in paths {
                assert_eq!(
                    lazy.text_at(&key(p)).map(Cow::into_owned),
                    by_value(body, p),
                    "{p:?} of {body}"
                );
            }
        }
    }

    #[test]
    fn only_whole_valid_json_parses() {
        for bad in [
            "",
            "{",
            r#"{"a":1} x"#,
            r#"{"a":}"#,
            "\u{0}",
            "[1,]",
            "{\"a\":1}{}",
        ] {
            assert!(LazyJson::parse(bad.as_bytes()).is_none(), "{bad:?}");
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad:?}");
        }
        assert!(LazyJson::parse(b"{\"a\":\"\xff\"}").is_none(), "not UTF-8");
        assert!(LazyJson::parse(b" {\"a\":1}\n").is_some());
    }
}

//! The rule file format as serde sees it: exactly what a TOML file may say, nothing more
//! (`deny_unknown_fields` everywhere), with byte spans kept so that every later error can name
//! a line. No validation happens here; `compile` turns these into checked, compiled rules.
//!
//! Every table here is a table only: serde's derive would also take an array for a struct
//! (`request = ["GET", "/x"]` filled `method` and `path` by position), which the format and
//! its schema do not allow. Each is derived as `remote = "Self"` and deserialized through
//! [`table_only!`], which asks for a map. And every value that has alternatives (`status`,
//! `method`, `path`, the enums) says what it expects in the file's terms, not Rust's.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// Deserializes a struct derived with `#[serde(remote = "Self")]` from a table, and from
/// nothing else: an array or a scalar is "expected <what>, got …".
macro_rules! table_only {
    ($t:ty, $what:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct TableVisitor;
                impl<'de> Visitor<'de> for TableVisitor {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$t, A::Error> {
                        // The derived (inherent) function, not this trait's.
                        <$t>::deserialize(MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(TableVisitor)
            }
        }
    };
}

/// The top-level keys a rule file may have; the schema test checks the JSON Schema names them.
pub const FILE_KEYS: &[&str] = &["version", "rules"];
/// The keys a rule may have.
pub const RULE_KEYS: &[&str] = &[
    "id",
    "title",
    "severity",
    "confidence",
    "priority",
    "when",
    "cause",
    "fix",
    "variants",
    "docs",
    "sources",
    "examples",
];
/// The keys a condition table may have.
pub const CONDITION_KEYS: &[&str] = &[
    "all",
    "any",
    "not",
    "method",
    "path",
    "status",
    "query",
    "request_header",
    "response_header",
    "request_body",
    "response_body",
    "evidence",
    "operation",
];

#[derive(Debug, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct RuleDef {
    pub id: Spanned<String>,
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub confidence: Option<Confidence>,
    #[serde(default)]
    pub priority: i32,
    pub when: Spanned<CondDef>,
    pub cause: Spanned<String>,
    pub fix: Spanned<String>,
    #[serde(default)]
    pub variants: Vec<VariantDef>,
    #[serde(default)]
    pub docs: Option<Spanned<String>>,
    pub sources: Spanned<Vec<String>>,
    #[serde(default)]
    pub examples: Vec<Spanned<ExampleDef>>,
}

/// A refinement of a rule: when its `when` also matches, its texts replace the rule's. The
/// first matching variant wins; with none matching, the rule's own texts are used.
#[derive(Debug, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct VariantDef {
    pub when: Spanned<CondDef>,
    #[serde(default)]
    pub cause: Option<Spanned<String>>,
    #[serde(default)]
    pub fix: Option<Spanned<String>>,
    #[serde(default)]
    pub confidence: Option<Confidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// How sure the rule is: `likely` where FACTS.md marks the API's exact behaviour UNVERIFIED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Certain,
    Likely,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
        }
    }
}

/// A condition table. Several keys in one table must all hold (an implicit `all`).
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct CondDef {
    #[serde(default)]
    pub all: Option<Spanned<Vec<Spanned<CondDef>>>>,
    #[serde(default)]
    pub any: Option<Spanned<Vec<Spanned<CondDef>>>>,
    #[serde(default)]
    pub not: Option<Box<Spanned<CondDef>>>,
    #[serde(default)]
    pub method: Option<Spanned<OneOrMany<Methods>>>,
    #[serde(default)]
    pub path: Option<Spanned<OneOrMany<Paths>>>,
    #[serde(default)]
    pub status: Option<Spanned<StatusDef>>,
    #[serde(default)]
    pub query: Option<Spanned<FieldDef>>,
    #[serde(default)]
    pub request_header: Option<Spanned<FieldDef>>,
    #[serde(default)]
    pub response_header: Option<Spanned<FieldDef>>,
    #[serde(default)]
    pub request_body: Option<Spanned<FieldDef>>,
    #[serde(default)]
    pub response_body: Option<Spanned<FieldDef>>,
    /// What triage saw before (the evidence context), by dotted path.
    #[serde(default)]
    pub evidence: Option<Spanned<FieldDef>>,
    /// What the API catalog says of the request's operation, by dotted path.
    #[serde(default)]
    pub operation: Option<Spanned<FieldDef>>,
}

impl CondDef {
    /// The field tests of this table, each with its key.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &Spanned<FieldDef>)> {
        [
            ("query", &self.query),
            ("request_header", &self.request_header),
            ("response_header", &self.response_header),
            ("request_body", &self.request_body),
            ("response_body", &self.response_body),
            ("evidence", &self.evidence),
            ("operation", &self.operation),
        ]
        .into_iter()
        .filter_map(|(k, f)| f.as_ref().map(|f| (k, f)))
    }
}

/// What a list of strings holds, for its messages.
pub trait ListOf {
    /// "a method (\"POST\")": one item, with an example.
    const ONE: &'static str;
}

/// `method = "POST"` or `method = ["PUT", "PATCH"]`.
#[derive(Debug, Clone, Copy)]
pub struct Methods;
impl ListOf for Methods {
    const ONE: &'static str = "a method (\"POST\")";
}

/// `path = "/api/v2/x/{id}"` or a list of templates.
#[derive(Debug, Clone, Copy)]
pub struct Paths;
impl ListOf for Paths {
    const ONE: &'static str = "a path template (\"/api/v2/users/{userId}\")";
}

/// One string or a list of them (`"POST"`, `["PUT", "PATCH"]`).
#[derive(Debug, Clone)]
pub struct OneOrMany<K> {
    pub items: Vec<String>,
    kind: PhantomData<K>,
}

impl<K> OneOrMany<K> {
    pub fn to_vec(&self) -> Vec<String> {
        self.items.clone()
    }
}

impl<'de, K: ListOf> Deserialize<'de> for OneOrMany<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<'de, K: ListOf> Visitor<'de> for V<K> {
            type Value = OneOrMany<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{} or a list of them", K::ONE)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany {
                    items: vec![v.to_owned()],
                    kind: PhantomData,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(s) = seq.next_element::<Item<K>>()? {
                    items.push(s.0);
                }
                Ok(OneOrMany {
                    items,
                    kind: PhantomData,
                })
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// One string of a list, expected as [`ListOf::ONE`].
struct Item<K>(String, PhantomData<K>);

impl<'de, K: ListOf> Deserialize<'de> for Item<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<'de, K: ListOf> Visitor<'de> for V<K> {
            type Value = Item<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(K::ONE)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Item(v.to_owned(), PhantomData))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `409`, `[400, 409]`, or a range `"400-499"` / `"4xx"`. Numbers are kept as written, for
/// the compiler to say which is not an HTTP status.
#[derive(Debug, Clone)]
pub enum StatusDef {
    One(i64),
    Many(Vec<i64>),
    Range(String),
}

impl<'de> Deserialize<'de> for StatusDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusDef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a status code (400), a class (\"4xx\"), a range (\"400-499\") or a list of them",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatusDef, E> {
                Ok(StatusDef::One(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatusDef, E> {
                i64::try_from(v)
                    .map(StatusDef::One)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StatusDef, E> {
                Ok(StatusDef::Range(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusDef, A::Error> {
                let mut out = Vec::new();
                while let Some(StatusItem(n)) = seq.next_element()? {
                    out.push(n);
                }
                Ok(StatusDef::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One status of a list: a number only (`[400, "5xx"]` is not a list the format has).
struct StatusItem(i64);

impl<'de> Deserialize<'de> for StatusItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code (400)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatusItem, E> {
                Ok(StatusItem(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatusItem, E> {
                i64::try_from(v)
                    .map(StatusItem)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A test on one value: a query parameter or header (`name`), or a body field (`path`).
/// With no test key it means "exists".
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct FieldDef {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub equals: Option<toml::Value>,
    #[serde(default)]
    pub one_of: Option<Vec<toml::Value>>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub missing: Option<bool>,
    #[serde(default)]
    pub gt: Option<f64>,
    #[serde(default)]
    pub ge: Option<f64>,
    #[serde(default)]
    pub lt: Option<f64>,
    #[serde(default)]
    pub le: Option<f64>,
    /// Binds the whole value to this name for the templates.
    #[serde(default)]
    pub capture: Option<String>,
}

pub const FIELD_KEYS: &[&str] = &[
    "name", "path", "equals", "one_of", "regex", "exists", "missing", "gt", "ge", "lt", "le",
    "capture",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Match,
    NoMatch,
}

/// Deserializes a unit enum from one of its names, saying which names there are.
macro_rules! named {
    ($t:ty, $expecting:expr, { $($name:literal => $v:expr),+ $(,)? }) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        match v {
                            $($name => Ok($v),)+
                            _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                        }
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

named!(Severity, "\"error\", \"warning\" or \"info\"", {
    "error" => Severity::Error,
    "warning" => Severity::Warning,
    "info" => Severity::Info,
});
named!(Confidence, "\"certain\" or \"likely\"", {
    "certain" => Confidence::Certain,
    "likely" => Confidence::Likely,
});
named!(Expect, "\"match\" or \"no-match\"", {
    "match" => Expect::Match,
    "no-match" => Expect::NoMatch,
});

table_only!(RuleDef, "a rule table ([[rules]])");
table_only!(VariantDef, "a variant table ([[rules.variants]])");
table_only!(CondDef, "a condition table ({ status = 400, … })");
table_only!(
    FieldDef,
    "a test table ({ path = \"code\", equals = \"…\" })"
);
table_only!(ExampleDef, "an example table ([[rules.examples]])");
table_only!(
    ExampleRequest,
    "a request table ({ method = \"GET\", path = \"/api/v2/…\" })"
);
table_only!(
    ExampleResponse,
    "a response table ({ status = 400, body = '…' })"
);

/// An exchange a rule must match (with the texts it must produce) or must not match.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ExampleDef {
    pub name: String,
    pub expect: Expect,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub fix: Option<String>,
    pub request: ExampleRequest,
    pub response: ExampleResponse,
    /// The evidence context the example assumes (as `evidence` conditions see it).
    #[serde(default)]
    pub evidence: Option<Spanned<toml::Table>>,
    /// The operation context the example assumes (as `operation` conditions see it).
    #[serde(default)]
    pub operation: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ExampleRequest {
    pub method: String,
    /// Path, optionally with `?query`.
    pub path: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct ExampleResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// `false`: the example stands for an input that shows the body alone (a bare error
    /// body), so a header it lacks is unknown, not absent.
    #[serde(default = "shown")]
    pub headers_shown: bool,
}

fn shown() -> bool {
    true
}

//! The rule file format as serde sees it: exactly what a TOML file may say, nothing more
//! (`deny_unknown_fields` everywhere), with byte spans kept so that every later error can name
//! a line. No validation happens here; `compile` turns these into checked, compiled rules.

use serde::Deserialize;
use toml::Spanned;

/// One rule file: `version = 1` and its `[[rules]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDef {
    pub version: Spanned<u32>,
    #[serde(default)]
    pub rules: Vec<RuleDef>,
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct VariantDef {
    pub when: Spanned<CondDef>,
    #[serde(default)]
    pub cause: Option<Spanned<String>>,
    #[serde(default)]
    pub fix: Option<Spanned<String>>,
    #[serde(default)]
    pub confidence: Option<Confidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
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
#[serde(deny_unknown_fields)]
pub struct CondDef {
    #[serde(default)]
    pub all: Option<Vec<Spanned<CondDef>>>,
    #[serde(default)]
    pub any: Option<Vec<Spanned<CondDef>>>,
    #[serde(default)]
    pub not: Option<Box<Spanned<CondDef>>>,
    #[serde(default)]
    pub method: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub path: Option<Spanned<OneOrMany>>,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `409`, `[400, 409]`, or a range `"400-499"` / `"4xx"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusDef {
    One(u16),
    Many(Vec<u16>),
    Range(String),
}

/// A test on one value: a query parameter or header (`name`), or a body field (`path`).
/// With no test key it means "exists".
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    Match,
    NoMatch,
}

/// An exchange a rule must match (with the texts it must produce) or must not match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub evidence: Option<toml::Table>,
    /// The operation context the example assumes (as `operation` conditions see it).
    #[serde(default)]
    pub operation: Option<toml::Table>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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

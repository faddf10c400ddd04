//! Rules are data: TOML files (`rules/**/*.toml`, format in `docs/rules.md`) loaded strictly —
//! every error names file, line and rule id and nothing half-loads — then compiled once into
//! matchers shared by all rules. Pure: the only I/O is [`dir_sources`] reading files, and the
//! matcher itself never touches anything but the [`Exchange`] it is given.

mod lazy_json;
mod load;
pub mod matcher;
pub mod schema;
pub mod template;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use toml::Spanned;

use crate::exchange::{self, BodyPrefix, Exchange, Origin, UpstreamKind};
use matcher::{Captures, Cond, Field, Matchers, Source, Test, View};
use schema::{CondDef, FieldDef, StatusDef};
pub use schema::{Confidence, ExampleDef, Expect, Severity};
use template::Template;

/// The built-in pack, compiled in so triage works from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/genesys/messaging.toml",
        include_str!("../../rules/genesys/messaging.toml"),
    ),
    (
        "rules/genesys/auth.toml",
        include_str!("../../rules/genesys/auth.toml"),
    ),
    (
        "rules/genesys/rate-limits.toml",
        include_str!("../../rules/genesys/rate-limits.toml"),
    ),
    (
        "rules/genesys/endpoints.toml",
        include_str!("../../rules/genesys/endpoints.toml"),
    ),
    (
        "rules/genesys/evidence.toml",
        include_str!("../../rules/genesys/evidence.toml"),
    ),
    (
        "rules/triage/proxy.toml",
        include_str!("../../rules/triage/proxy.toml"),
    ),
];

/// Names every template may use: the request's method and path (as sent) and the status.
/// `status_code` is the status followed by the body's `code` when there is one (`409 request.conflict`).
pub const BUILTIN_CAPTURES: &[&str] = &["method", "path", "status", "status_code"];

/// One rule file's text and where it came from.
#[derive(Debug, Clone)]
pub struct RuleSource {
    pub name: String,
    pub text: String,
    pub builtin: bool,
}

/// The built-in files as sources.
pub fn builtin_sources() -> Vec<RuleSource> {
    BUILTIN
        .iter()
        .map(|(name, text)| RuleSource {
            name: (*name).to_owned(),
            text: (*text).to_owned(),
            builtin: false,
        })
        .map(|mut s| {
            s.builtin = true;
            s
        })
        .collect()
}

/// Every `*.toml` under `dir` (recursively, in name order). Symlinked directories below `dir`
/// are not descended into: a link to `.` or a parent would read the same files again and again
/// (each a duplicate id), without end. A symlink to a file is read.
///
/// `dir` may also be one rule file, read whatever its name. A directory without a rule file is
/// an error: a typo in `--rules`, or rules saved as `*.TOML`, would otherwise add nothing,
/// silently.
pub fn dir_sources(dir: &Path) -> Result<Vec<RuleSource>, LoadErrors> {
    let whole = |message: String| {
        LoadErrors(vec![LoadError {
            file: dir.display().to_string(),
            line: 0,
            rule: None,
            message,
        }])
    };
    let mut files = Vec::new();
    if dir.is_file() {
        files.push(dir.to_path_buf());
    } else {
        collect_toml(dir, &mut files)
            .map_err(|e| whole(format!("cannot read rules directory: {e}")))?;
        if files.is_empty() {
            return Err(whole(
                "no rule files in this directory (rule files end in `.toml`; names starting \
                 with `.` are skipped)"
                    .to_owned(),
            ));
        }
    }
    files.sort();
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let bytes = match std::fs::read(&f) {
            Ok(b) => b,
            Err(e) => {
                errs.push(LoadError {
                    file: name,
                    line: 0,
                    rule: None,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        match String::from_utf8(bytes) {
            Ok(text) => out.push(RuleSource {
                name,
                text,
                builtin: false,
            }),
            Err(e) => errs.push(not_utf8(name, e)),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(LoadErrors(errs))
    }
}

/// Where a rule file stops being UTF-8 (one saved as Latin-1 or Windows-1252, say), as a
/// load error naming the line and rule like any other.
fn not_utf8(file: String, e: std::string::FromUtf8Error) -> LoadError {
    let bytes = e.as_bytes();
    let at = e.utf8_error().valid_up_to();
    let line_start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    LoadError {
        file,
        line: line_of(&String::from_utf8_lossy(&bytes[..at]), at),
        rule: rule_near(&String::from_utf8_lossy(bytes), Some(at)),
        message: format!(
            "not UTF-8 text: byte {:#04x} at column {} (save the file as UTF-8)",
            bytes[at],
            at - line_start + 1
        ),
    }
}

fn collect_toml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        // Hidden files and directories: an editor's lock (`.#rule.toml`, a dangling link while
        // the file is open in Emacs), a swap file, `.git`.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // The entry's own type: a symlink is not a directory here, whatever it points to.
        if entry.file_type()?.is_dir() {
            collect_toml(&p, out)?;
        } else if p.is_dir() {
            continue;
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

/// A loading error: where, which rule, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(r) = &self.rule {
            write!(f, ": rule {r}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All errors of one load; loading stops at none of them, so one run shows every problem.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<LoadErrors> for crate::Error {
    fn from(e: LoadErrors) -> Self {
        crate::Error::Rules(e.to_string())
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: Arc<str>,
    pub severity: Severity,
    pub confidence: Confidence,
    pub priority: i32,
    pub when: Cond,
    /// The `when` as written, for `triage rules explain` and the docs.
    pub when_source: String,
    pub cause: Template,
    pub fix: Template,
    pub variants: Vec<Variant>,
    /// Shared with every diagnosis the rule makes, as is the title: not copied per failure.
    pub docs: Option<Arc<str>>,
    pub sources: Arc<[String]>,
    pub examples: Vec<Example>,
    pub file: String,
    pub line: usize,
    pub builtin: bool,
    weight: usize,
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub when: Cond,
    pub when_source: String,
    pub cause: Option<Template>,
    pub fix: Option<Template>,
    pub confidence: Option<Confidence>,
}

#[derive(Debug, Clone)]
pub struct Example {
    pub def: ExampleDef,
    pub line: usize,
    pub exchange: Exchange,
    /// The evidence and operation context the example declares.
    pub context: matcher::Context,
}

/// A rule that matched an exchange, with its texts rendered.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub rule: &'a Rule,
    pub captures: Captures,
    pub cause: String,
    pub fix: String,
    pub confidence: Confidence,
}

/// Compiled rules plus the matchers they share.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    matchers: Matchers,
    /// Rules requiring no particular `code` whose `when` admits the status, per status.
    by_status: Vec<Vec<usize>>,
    /// Rules with neither a status nor a code constraint.
    any_status: Vec<usize>,
    /// Rules requiring one of some response `code`s, by code.
    by_code: foldhash::HashMap<String, Vec<usize>>,
    /// Ids of the added rules that replaced a built-in rule of the same id.
    replaced: BTreeSet<String>,
}

/// The outcome of one example.
#[derive(Debug, Clone)]
pub struct ExampleOutcome {
    pub rule: String,
    pub file: String,
    pub line: usize,
    pub name: String,
    /// `None` when the example behaved as declared; else a readable expected-vs-got text.
    pub failure: Option<String>,
}

impl RuleSet {
    /// The built-in pack (unless `builtin` is false) plus every file of `dirs`; a rule in `dirs`
    /// replaces a built-in rule of the same id. Examples are checked.
    pub fn load(builtin: bool, dirs: &[PathBuf]) -> Result<RuleSet, LoadErrors> {
        let set = RuleSet::load_unchecked(builtin, dirs)?;
        set.check_examples()?;
        Ok(set)
    }

    /// Like [`RuleSet::load`] without running the examples (`triage rules test` runs them
    /// itself to report each one).
    pub fn load_unchecked(builtin: bool, dirs: &[PathBuf]) -> Result<RuleSet, LoadErrors> {
        let mut sources = if builtin {
            builtin_sources()
        } else {
            Vec::new()
        };
        // The same directory given twice (`TRIAGE_RULES` and then `triage rules check DIR`,
        // or `r1` and `./r1/`) is read once: its rules are not duplicates of themselves.
        let mut seen = Vec::new();
        for d in dirs {
            let key = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            sources.extend(dir_sources(d)?);
        }
        RuleSet::compile(&sources)
    }

    /// The built-in pack, examples checked.
    pub fn builtin() -> Result<RuleSet, LoadErrors> {
        RuleSet::load(true, &[])
    }

    /// Parses, validates and compiles; does not run the examples.
    pub fn compile(sources: &[RuleSource]) -> Result<RuleSet, LoadErrors> {
        let mut errs = Vec::new();
        let mut matchers = Matchers::default();
        let mut rules: Vec<Rule> = Vec::new();
        for src in sources {
            compile_file(src, &mut matchers, &mut rules, &mut errs);
        }
        // Ids: unique within the built-in pack and within the added files; an added rule
        // replaces a built-in one.
        let mut seen: HashMap<(bool, String), (String, usize)> = HashMap::new();
        for r in &rules {
            if let Some((f, l)) = seen.get(&(r.builtin, r.id.clone())) {
                errs.push(LoadError {
                    file: r.file.clone(),
                    line: r.line,
                    rule: Some(r.id.clone()),
                    message: format!("duplicate id; first defined at {f}:{l}"),
                });
            } else {
                seen.insert((r.builtin, r.id.clone()), (r.file.clone(), r.line));
            }
        }
        let overridden: BTreeSet<String> = rules
            .iter()
            .filter(|r| !r.builtin)
            .map(|r| r.id.clone())
            .collect();
        let replaced: BTreeSet<String> = rules
            .iter()
            .filter(|r| r.builtin && overridden.contains(&r.id))
            .map(|r| r.id.clone())
            .collect();
        // A replacement takes the built-in rule's place: the order of loading breaks ties
        // between matches, and replacing a rule's text should not change where it ranks.
        let mut added: HashMap<String, Rule> = HashMap::new();
        let mut kept = Vec::with_capacity(rules.len());
        for r in rules {
            if !r.builtin && replaced.contains(&r.id) && !added.contains_key(&r.id) {
                added.insert(r.id.clone(), r);
            } else {
                kept.push(r);
            }
        }
        let mut rules: Vec<Rule> = kept
            .into_iter()
            .filter_map(|r| {
                if r.builtin && overridden.contains(&r.id) {
                    added.remove(&r.id)
                } else {
                    Some(r)
                }
            })
            .collect();
        // Unplaced replacements cannot remain (each replaced id had a built-in slot), but
        // losing a rule silently would be worse than a misplaced one.
        rules.extend(added.into_values());
        if let Err(e) = matchers.finish() {
            errs.push(LoadError {
                file: "(rule set)".into(),
                line: 0,
                rule: None,
                message: format!("regex set: {e}"),
            });
        }
        if !errs.is_empty() {
            return Err(LoadErrors(errs));
        }
        Ok(RuleSet::indexed(rules, matchers, replaced))
    }

    /// The set without the rules of `ids` (`--disable-rule`): one built-in rule that misleads
    /// in a user's setting can go without the whole pack. An id no rule has is an error, as a
    /// misspelt id would otherwise leave the rule on with no word said.
    pub fn disable(self, ids: &[String]) -> Result<RuleSet, LoadErrors> {
        if ids.is_empty() {
            return Ok(self);
        }
        let errs: Vec<LoadError> = ids
            .iter()
            .filter(|id| self.get(id).is_none())
            .map(|id| {
                let known = self.rules.iter().map(|r| r.id.as_str());
                let hint = match crate::spelling::nearest(id, known) {
                    Some(n) => format!(" (did you mean {n}?)"),
                    None => " (`triage rules list` lists them)".to_string(),
                };
                LoadError {
                    file: "--disable-rule".into(),
                    line: 0,
                    rule: Some(id.clone()),
                    message: format!("no loaded rule has this id{hint}"),
                }
            })
            .collect();
        if !errs.is_empty() {
            return Err(LoadErrors(errs));
        }
        let RuleSet {
            rules,
            matchers,
            mut replaced,
            ..
        } = self;
        let rules: Vec<Rule> = rules.into_iter().filter(|r| !ids.contains(&r.id)).collect();
        replaced.retain(|id| !ids.contains(id));
        Ok(RuleSet::indexed(rules, matchers, replaced))
    }

    /// Builds the lookups from status and code to the rules that may match.
    fn indexed(rules: Vec<Rule>, matchers: Matchers, replaced: BTreeSet<String>) -> RuleSet {
        let mut by_status = vec![Vec::new(); 600];
        let mut any_status = Vec::new();
        let mut by_code: foldhash::HashMap<String, Vec<usize>> = Default::default();
        for (i, r) in rules.iter().enumerate() {
            if let Some(codes) = r.when.codes() {
                for c in codes {
                    by_code.entry(c).or_default().push(i);
                }
                continue;
            }
            match r.when.statuses() {
                None => any_status.push(i),
                Some(ranges) => {
                    for (s, slot) in by_status.iter_mut().enumerate() {
                        let s = s as u16;
                        if ranges.iter().any(|&(lo, hi)| lo <= s && s <= hi) {
                            slot.push(i);
                        }
                    }
                }
            }
        }
        RuleSet {
            rules,
            matchers,
            by_status,
            any_status,
            by_code,
            replaced,
        }
    }

    /// The added rules that replace a built-in rule of the same id: a user who reused an id by
    /// accident has lost the built-in rule, and is told so where rules are loaded.
    pub fn replacing(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| self.replaced.contains(&r.id))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Every matching rule, best first: higher `priority`, then `certain` before `likely`, then
    /// the more specific `when`, then load order.
    pub fn matches<'a>(&'a self, ex: &Exchange) -> Vec<Match<'a>> {
        self.matches_in(ex, &matcher::NO_CONTEXT)
    }

    /// Every rule matching `ex` given what is known beyond it (evidence, catalog), best first.
    pub fn matches_in<'a>(&'a self, ex: &Exchange, ctx: &matcher::Context) -> Vec<Match<'a>> {
        self.matching(ex, ctx, false).0
    }

    /// [`matches_in`](Self::matches_in), and whether a rule that did not match might have, had
    /// the input shown the whole request (then the matches may not be all there are).
    pub fn matches_noting<'a>(
        &'a self,
        ex: &Exchange,
        ctx: &matcher::Context,
    ) -> (Vec<Match<'a>>, bool) {
        self.matching(ex, ctx, true)
    }

    /// The matches, best first, and with `note` whether a rule was left undecided by what the
    /// input did not show of the request.
    fn matching<'a>(
        &'a self,
        ex: &Exchange,
        ctx: &matcher::Context,
        note: bool,
    ) -> (Vec<Match<'a>>, bool) {
        let view = View::with_context(ex, ctx, &self.matchers);
        let mut candidates_left = self.candidates(&view);
        let mut out: Vec<(usize, Match<'a>)> = Vec::new();
        candidates_left.retain(|&i| match self.match_rule(&self.rules[i], &view) {
            Some(m) => {
                out.push((i, m));
                false
            }
            None => true,
        });
        out.sort_by(|(ia, a), (ib, b)| {
            b.rule
                .priority
                .cmp(&a.rule.priority)
                .then(a.confidence.cmp(&b.confidence))
                .then(b.rule.weight.cmp(&a.rule.weight))
                .then(ia.cmp(ib))
        });
        // Only when asked, when the input left part of the request out, and only for the rules
        // that did not match.
        let undecided = note
            && view.request_partly_shown()
            && candidates_left
                .iter()
                .any(|&i| view.could_hold_if_shown(&self.rules[i].when));
        (out.into_iter().map(|(_, m)| m).collect(), undecided)
    }

    /// The rules that can match at all, found by status and code lookups rather than by trying
    /// every rule; in load order.
    fn candidates(&self, view: &View<'_>) -> Vec<usize> {
        let by_status = view
            .ex
            .status()
            .and_then(|s| self.by_status.get(s as usize))
            .map_or(&[][..], |l| &l[..]);
        // No rule keys on a code: the body need not be read for one.
        let by_code = if self.by_code.is_empty() {
            &[][..]
        } else {
            view.response_code()
                .and_then(|code| self.by_code.get(code))
                .map_or(&[][..], |l| &l[..])
        };
        let mut c = Vec::with_capacity(self.any_status.len() + by_status.len() + by_code.len());
        c.extend_from_slice(&self.any_status);
        c.extend_from_slice(by_status);
        c.extend_from_slice(by_code);
        c.sort_unstable();
        c.dedup();
        c
    }

    fn match_rule<'a>(&'a self, rule: &'a Rule, view: &View<'_>) -> Option<Match<'a>> {
        let mut captures = view.eval(&rule.when)?;
        captures.extend(view.builtins().clone());
        let mut cause = &rule.cause;
        let mut fix = &rule.fix;
        let mut confidence = rule.confidence;
        for v in &rule.variants {
            if let Some(c) = view.eval(&v.when) {
                captures.extend(c);
                cause = v.cause.as_ref().unwrap_or(cause);
                fix = v.fix.as_ref().unwrap_or(fix);
                confidence = v.confidence.unwrap_or(confidence);
                break;
            }
        }
        Some(Match {
            rule,
            cause: cause.render(&captures),
            fix: fix.render(&captures),
            captures,
            confidence,
        })
    }

    /// Runs every example of every rule against that rule alone.
    pub fn run_examples(&self) -> Vec<ExampleOutcome> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for ex in &rule.examples {
                let view = View::with_context(&ex.exchange, &ex.context, &self.matchers);
                let got = self.match_rule(rule, &view);
                // Rules see failures only: the proxy inspects, and explain diagnoses, responses
                // of 400 and over. An example matching a success would pass here and never fire.
                let success = ex.exchange.status().filter(|&s| s < 400);
                let failure = match (ex.def.expect, got) {
                    (Expect::Match, _) if success.is_some() => Some(format!(
                        "expected a match on a {} response, but triage diagnoses only responses \
                         with status 400 or more: live, this rule would never see it",
                        success.unwrap_or_default()
                    )),
                    (Expect::NoMatch, None) => None,
                    (Expect::NoMatch, Some(m)) => Some(format!(
                        "expected no match, but the rule matched:\n  cause: {}\n  fix:   {}",
                        m.cause, m.fix
                    )),
                    (Expect::Match, None) => Some(format!(
                        "expected a match, but the rule did not match:\n  {}",
                        view.why_not(&rule.when)
                    )),
                    (Expect::Match, Some(m)) => {
                        let mut diff = String::new();
                        for (what, want, got) in [
                            ("cause", ex.def.cause.as_deref(), m.cause.as_str()),
                            ("fix", ex.def.fix.as_deref(), m.fix.as_str()),
                        ] {
                            if let Some(want) = want {
                                if want != got {
                                    diff.push_str(&text_diff(what, want, got));
                                }
                            }
                        }
                        (!diff.is_empty()).then_some(diff)
                    }
                };
                out.push(ExampleOutcome {
                    rule: rule.id.clone(),
                    file: rule.file.clone(),
                    line: ex.line,
                    name: ex.def.name.clone(),
                    failure,
                });
            }
        }
        out
    }

    /// Every example failure as a load error.
    pub fn check_examples(&self) -> Result<(), LoadErrors> {
        let errs: Vec<LoadError> = self
            .run_examples()
            .into_iter()
            .filter_map(|o| {
                o.failure.map(|f| LoadError {
                    file: o.file,
                    line: o.line,
                    rule: Some(o.rule),
                    message: format!("example {:?} does not behave as declared: {f}", o.name),
                })
            })
            .collect();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(LoadErrors(errs))
        }
    }
}

/// Expected vs got, with the first differing position marked.
pub fn text_diff(what: &str, want: &str, got: &str) -> String {
    let at = want
        .char_indices()
        .zip(got.chars())
        .find(|((_, a), b)| a != b)
        .map(|((i, _), _)| i)
        .unwrap_or(want.len().min(got.len()));
    let col = want[..at].chars().count();
    format!(
        "\n  {what} differs at character {}:\n    expected: {want}\n         got: {got}\n              {}^\n",
        col + 1,
        " ".repeat(col)
    )
}

/// The text of a condition as written: an inline value, or for table syntax (`[rules.when]`)
/// the table with its sub-tables, up to the next header outside it.
fn source_of(src: &RuleSource, span: std::ops::Range<usize>) -> String {
    let text = src.text.get(span.clone()).unwrap_or("").trim();
    let line_start = src.text[..span.start.min(src.text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let rest = &src.text[line_start..];
    if !rest.trim_start().starts_with('[') {
        return text.to_owned();
    }
    // Table syntax: the header names the table (`[rules.when]`, or `[[rules.when.all]]` when
    // the span is the `when` key inside it); keep it and its sub-tables.
    let line_end = line_start + rest.find('\n').unwrap_or(rest.len());
    let name = src.text[line_start..span.end.clamp(line_start, line_end)]
        .trim()
        .trim_matches(|c| c == '[' || c == ']')
        .to_owned();
    let mut out = Vec::new();
    for line in rest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            let header = t.trim_matches(|c| c == '[' || c == ']');
            if !(header == name || header.starts_with(&format!("{name}."))) {
                break;
            }
        }
        out.push(line);
    }
    while out
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.trim().starts_with('#'))
    {
        out.pop();
    }
    out.join("\n")
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct Ctx<'a> {
    src: &'a RuleSource,
    rule: Option<String>,
    errs: &'a mut Vec<LoadError>,
}

impl Ctx<'_> {
    fn err(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        self.errs.push(LoadError {
            file: self.src.name.clone(),
            line: line_of(&self.src.text, span.start),
            rule: self.rule.clone(),
            message: message.into(),
        });
    }
}

/// Compiles one file's rules into `rules`; its errors are added to `errs` in line order.
fn compile_file(
    src: &RuleSource,
    matchers: &mut Matchers,
    rules: &mut Vec<Rule>,
    errs: &mut Vec<LoadError>,
) {
    let first = errs.len();
    compile_file_rules(src, matchers, rules, errs);
    errs[first..].sort_by_key(|e| e.line);
}

fn compile_file_rules(
    src: &RuleSource,
    matchers: &mut Matchers,
    rules: &mut Vec<Rule>,
    errs: &mut Vec<LoadError>,
) {
    // Parsed to a tree first, then each `[[rules]]` entry deserialized on its own: a rule that
    // does not fit the format is reported with its own id and line, and the others still are.
    let root = match toml::de::DeTable::parse(&src.text) {
        Ok(root) => root,
        Err(e) => {
            let line = e.span().map(|s| line_of(&src.text, s.start)).unwrap_or(0);
            errs.push(LoadError {
                file: src.name.clone(),
                line,
                rule: rule_near(&src.text, e.span().map(|s| s.start)),
                message: load::syntax_message(&src.text, &e),
            });
            return;
        }
    };
    let root_span = root.span();
    let mut cx = Ctx {
        src,
        rule: None,
        errs,
    };
    let (mut version, mut entries) = (None, None);
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "version" => version = Some(value),
            "rules" => entries = Some((key.span(), value)),
            other => cx.err(key.span(), load::unknown_top_key(other)),
        }
    }
    let Some(version) = version else {
        cx.err(
            root_span,
            "missing field `version` (a rule file starts with version = 1)",
        );
        return;
    };
    let version_span = version.span();
    match i64::deserialize(toml::de::ValueDeserializer::from(version.clone())) {
        Ok(1) => {}
        Ok(v) => {
            cx.err(
                version_span,
                format!("unsupported version {v} (this triage reads version 1)"),
            );
            return;
        }
        Err(e) => {
            cx.err(version_span, load::serde_message(&e, &version, "version"));
            return;
        }
    }
    let Some((key_span, entries)) = entries else {
        return;
    };
    let toml::de::DeValue::Array(list) = entries.get_ref() else {
        cx.err(key_span, load::rules_not_a_list(entries.get_ref()));
        return;
    };
    for entry in list.iter() {
        cx.rule = load::id_of(entry);
        match <schema::RuleDef as Deserialize>::deserialize(toml::de::ValueDeserializer::from(
            entry.clone(),
        )) {
            Ok(def) => {
                if let Some(r) = compile_rule(def, matchers, &mut cx) {
                    rules.push(r);
                }
            }
            Err(e) => {
                let span = e.span().unwrap_or(entry.span());
                cx.err(span, load::serde_message(&e, entry, "rules"));
            }
        }
    }
}

/// The id of the rule a parse error is in, found by scanning back for `id = "…"`: serde errors
/// know the position but not the rule. The rule's own `[[rules]]` counts when the error is on
/// its line: serde places an error of the whole rule (a missing field) at its start.
fn rule_near(text: &str, offset: Option<usize>) -> Option<String> {
    let at = offset?.min(text.len());
    let end = text
        .get(at..)
        .and_then(|rest| rest.find('\n'))
        .map_or(text.len(), |i| at + i);
    let before = text.get(..end)?;
    let start = before.rfind("[[rules]]")?;
    text[start..].lines().skip(1).find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("id")?.trim_start().strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_owned())
    })
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn compile_rule(def: schema::RuleDef, m: &mut Matchers, cx: &mut Ctx<'_>) -> Option<Rule> {
    let id = def.id.get_ref().clone();
    cx.rule = Some(id.clone());
    let n_errs = cx.errs.len();
    let line = line_of(&cx.src.text, def.id.span().start);
    if !is_kebab(&id) {
        cx.err(def.id.span(), "id must be kebab-case (a-z, 0-9, '-')");
    }
    if def.title.trim().is_empty() {
        cx.err(def.id.span(), "title is empty");
    }
    // An empty cause or fix sends a diagnosis without its `Triage-Cause` or `Triage-Fix`.
    for (what, text) in [("cause", &def.cause), ("fix", &def.fix)] {
        if text.get_ref().trim().is_empty() {
            cx.err(
                text.span(),
                format!("{what} is empty: say what failed and how to fix it"),
            );
        }
    }
    let when = compile_cond(&def.when, m, cx);
    // Without a compiled `when` the bound names are unknown: skip the template checks rather
    // than report errors that are only echoes of the first.
    let bound = when.as_ref().map(|w| {
        let mut b = w.bound(m);
        b.extend(BUILTIN_CAPTURES.iter().map(|s| (*s).to_owned()));
        b
    });
    let cause = bound
        .as_ref()
        .and_then(|b| compile_template(&def.cause, b, &[&def.when], cx));
    let fix = bound
        .as_ref()
        .and_then(|b| compile_template(&def.fix, b, &[&def.when], cx));
    let bound = bound.unwrap_or_default();
    let mut variants = Vec::new();
    for v in &def.variants {
        let Some(vw) = compile_cond(&v.when, m, cx) else {
            continue;
        };
        let mut vb = bound.clone();
        vb.extend(vw.bound(m));
        let whens = [&v.when, &def.when];
        let vc = v
            .cause
            .as_ref()
            .and_then(|t| compile_template(t, &vb, &whens, cx));
        let vf = v
            .fix
            .as_ref()
            .and_then(|t| compile_template(t, &vb, &whens, cx));
        if v.cause.is_none() && v.fix.is_none() && v.confidence.is_none() {
            cx.err(v.when.span(), "a variant must set cause, fix or confidence");
        }
        variants.push(Variant {
            when: vw,
            when_source: source_of(cx.src, v.when.span()),
            cause: vc,
            fix: vf,
            confidence: v.confidence,
        });
    }
    let docs = def.docs.as_ref().map(|d| d.get_ref().clone());
    if let Some(d) = &def.docs {
        if !d.get_ref().starts_with("https://") || d.get_ref().contains(char::is_whitespace) {
            cx.err(d.span(), "docs must be an https:// URL");
        }
    }
    if def.sources.get_ref().is_empty() || def.sources.get_ref().iter().any(|s| s.trim().is_empty())
    {
        cx.err(
            def.sources.span(),
            "sources must name where each fact comes from (FACTS.md keys)",
        );
    }
    let mut examples = Vec::new();
    let (mut n_match, mut n_miss) = (0, 0);
    let mut names: HashMap<&str, usize> = HashMap::new();
    for e in &def.examples {
        let ex_line = line_of(&cx.src.text, e.span().start);
        let d = e.get_ref();
        if let Some(&first) = names.get(d.name.as_str()) {
            cx.err(
                e.span(),
                format!(
                    "example {:?}: the name is used twice (first on line {first}); \
                     give each example its own",
                    d.name
                ),
            );
        } else {
            names.insert(&d.name, ex_line);
        }
        for (source, table) in [
            (Source::Evidence, &d.evidence),
            (Source::Operation, &d.operation),
        ] {
            if let Some(t) = table {
                if let Some(why) = load::unknown_context_key(source, t.get_ref()) {
                    cx.err(t.span(), format!("example {:?}: {why}", d.name));
                }
            }
        }
        match d.expect {
            Expect::Match => {
                n_match += 1;
                if d.cause.is_none() || d.fix.is_none() {
                    cx.err(
                        e.span(),
                        format!(
                            "example {:?}: expect = \"match\" needs the expected cause and fix",
                            d.name
                        ),
                    );
                }
            }
            Expect::NoMatch => {
                n_miss += 1;
                if d.cause.is_some() || d.fix.is_some() {
                    cx.err(
                        e.span(),
                        format!(
                            "example {:?}: a no-match example has no cause or fix",
                            d.name
                        ),
                    );
                }
            }
        }
        match example_exchange(d, &cx.src.name, examples.len()) {
            Ok(exchange) => examples.push(Example {
                def: d.clone(),
                line: ex_line,
                exchange,
                context: matcher::Context {
                    evidence: d
                        .evidence
                        .as_ref()
                        .map(|t| toml_to_json(t.get_ref()))
                        .unwrap_or_default(),
                    operation: matcher::SharedDoc::new(
                        d.operation
                            .as_ref()
                            .map(|t| toml_to_json(t.get_ref()))
                            .unwrap_or_default(),
                    ),
                },
            }),
            Err(msg) => cx.err(e.span(), format!("example {:?}: {msg}", d.name)),
        }
    }
    if n_match == 0 || n_miss == 0 {
        cx.err(
            def.id.span(),
            "needs at least one example with expect = \"match\" and one with expect = \"no-match\"",
        );
    }
    if cx.errs.len() != n_errs {
        return None;
    }
    let when = when?;
    Some(Rule {
        weight: when.weight(),
        id,
        title: def.title.into(),
        severity: def.severity,
        confidence: def.confidence.unwrap_or(Confidence::Certain),
        priority: def.priority,
        when,
        when_source: source_of(cx.src, def.when.span()),
        cause: cause?,
        fix: fix?,
        variants,
        docs: docs.map(Into::into),
        sources: def.sources.into_inner().into(),
        examples,
        file: cx.src.name.clone(),
        line,
        builtin: cx.src.builtin,
    })
}

/// Parses a template and checks that every name it uses is bound by every match of `whens`
/// (a variant's `when` and the rule's, or the rule's alone), saying where one is bound only in
/// some matches.
fn compile_template(
    t: &Spanned<String>,
    bound: &BTreeSet<String>,
    whens: &[&Spanned<CondDef>],
    cx: &mut Ctx<'_>,
) -> Option<Template> {
    let tpl = match Template::parse(t.get_ref()) {
        Ok(tpl) => tpl,
        Err(e) => {
            cx.err(t.span(), e);
            return None;
        }
    };
    let unknown: Vec<&str> = tpl
        .names()
        .into_iter()
        .filter(|n| !bound.contains(*n))
        .collect();
    if unknown.is_empty() {
        return Some(tpl);
    }
    let text = &cx.src.text;
    let line = |at: usize| line_of(text, at);
    let mut nowhere = Vec::new();
    let mut partly = Vec::new();
    for n in unknown {
        match whens.iter().find_map(|w| load::why_unbound(w, n, &line)) {
            Some(why) => partly.push(format!(
                "template names {{{n}}}, which not every match binds: {why}"
            )),
            None => nowhere.push(format!("{{{n}}}")),
        }
    }
    for msg in partly {
        cx.err(t.span(), msg);
    }
    if !nowhere.is_empty() {
        cx.err(
            t.span(),
            format!(
                "template names {} which no match binds (bound: {})",
                nowhere.join(", "),
                if bound.is_empty() {
                    "nothing".to_owned()
                } else {
                    bound.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            ),
        );
    }
    None
}

fn compile_cond(c: &Spanned<CondDef>, m: &mut Matchers, cx: &mut Ctx<'_>) -> Option<Cond> {
    let d = c.get_ref();
    let span = c.span();
    let mut parts = Vec::new();
    let mut ok = true;
    // What each part of the table may bind, and where: all of them hold together, so two
    // binding one name would have the later replace the earlier.
    let mut binders: Vec<(std::ops::Range<usize>, BTreeSet<String>)> = Vec::new();
    for (key, list) in [("all", &d.all), ("any", &d.any)] {
        let Some(list) = list else {
            continue;
        };
        if list.get_ref().is_empty() {
            cx.err(list.span(), format!("{key} needs at least one condition"));
            ok = false;
            continue;
        }
        let mut conds = Vec::new();
        for x in list.get_ref() {
            match compile_cond(x, m, cx) {
                Some(c) => {
                    if key == "all" {
                        binders.push((x.span(), c.may_bind(m)));
                    }
                    conds.push(c);
                }
                None => ok = false,
            }
        }
        if key == "all" {
            parts.push(Cond::All(conds));
        } else {
            let any = Cond::Any(conds);
            binders.push((list.span(), any.may_bind(m)));
            parts.push(any);
        }
    }
    if let Some(n) = &d.not {
        match compile_cond(n, m, cx) {
            Some(c) => parts.push(Cond::Not(Box::new(c))),
            None => ok = false,
        }
    }
    if let Some(ms) = &d.method {
        let mut methods = Vec::new();
        if ms.get_ref().items.is_empty() {
            cx.err(
                ms.span(),
                "method: an empty list matches nothing; name a method",
            );
            ok = false;
        }
        for s in ms.get_ref().to_vec() {
            match Method::from_bytes(s.to_ascii_uppercase().as_bytes()) {
                Ok(me) => methods.push(me),
                Err(_) => {
                    cx.err(ms.span(), format!("bad method {s:?}"));
                    ok = false;
                }
            }
        }
        parts.push(Cond::Method(methods));
    }
    if let Some(ps) = &d.path {
        let mut ids = Vec::new();
        if ps.get_ref().items.is_empty() {
            cx.err(
                ps.span(),
                "path: an empty list matches nothing; give a path template",
            );
            ok = false;
        }
        for t in ps.get_ref().to_vec() {
            match m.trie.insert(&t) {
                Ok(id) => {
                    let reserved = m.trie.templates[id]
                        .params
                        .iter()
                        .find(|p| BUILTIN_CAPTURES.contains(&&***p));
                    if let Some(p) = reserved {
                        cx.err(
                            ps.span(),
                            format!("path template {t:?}: parameter {{{p}}} {RESERVED}"),
                        );
                        ok = false;
                    }
                    ids.push(id)
                }
                Err(e) => {
                    cx.err(ps.span(), e);
                    ok = false;
                }
            }
        }
        let path = Cond::Path(ids);
        binders.push((ps.span(), path.may_bind(m)));
        parts.push(path);
    }
    if let Some(s) = &d.status {
        match status_ranges(s.get_ref()) {
            Ok(r) => parts.push(Cond::Status(r)),
            Err(e) => {
                cx.err(s.span(), e);
                ok = false;
            }
        }
    }
    for (source, f) in [
        (Source::Query, &d.query),
        (Source::RequestHeader, &d.request_header),
        (Source::ResponseHeader, &d.response_header),
        (Source::RequestBody, &d.request_body),
        (Source::ResponseBody, &d.response_body),
        (Source::Evidence, &d.evidence),
        (Source::Operation, &d.operation),
    ] {
        if let Some(f) = f {
            match compile_field(source, f.get_ref(), m) {
                Ok(field) => {
                    let field = Cond::Field(field);
                    binders.push((f.span(), field.may_bind(m)));
                    parts.push(field)
                }
                Err(e) => {
                    cx.err(f.span(), format!("{}: {e}", source.key_name()));
                    ok = false;
                }
            }
        }
    }
    binders.sort_by_key(|(span, _)| span.start);
    for (i, (later, names)) in binders.iter().enumerate() {
        for (earlier, before) in &binders[..i] {
            for n in names.intersection(before) {
                cx.err(
                    later.clone(),
                    format!(
                        "{{{n}}} is captured twice in one match (also on line {}): the later \
                         value would replace the earlier; give one another name",
                        line_of(&cx.src.text, earlier.start)
                    ),
                );
                ok = false;
            }
        }
    }
    if parts.is_empty() && ok {
        cx.err(span, "empty condition (it would match everything)");
        return None;
    }
    if !ok {
        return None;
    }
    Some(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Cond::All(parts)
    })
}

/// Why a name of [`BUILTIN_CAPTURES`] cannot be captured.
const RESERVED: &str = "is one of the names every match binds (method, path, status, \
                        status_code), which would hide it; choose another name";

fn status_ranges(s: &StatusDef) -> Result<Vec<(u16, u16)>, String> {
    let check = |n: i64| match u16::try_from(n) {
        Ok(n) if (100..=599).contains(&n) => Ok(n),
        _ => Err(format!("status {n} is not an HTTP status (100-599)")),
    };
    match s {
        StatusDef::One(n) => check(*n).map(|n| vec![(n, n)]),
        StatusDef::Many(v) if v.is_empty() => {
            Err("status: an empty list matches nothing; give a status".into())
        }
        StatusDef::Many(v) => v.iter().map(|&n| check(n).map(|n| (n, n))).collect(),
        StatusDef::Range(r) => {
            let r = r.trim();
            if let Some(d) = r.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()) {
                let lo = check(i64::from(d) * 100)?;
                return Ok(vec![(lo, lo + 99)]);
            }
            let (a, b) = r.split_once('-').ok_or_else(|| {
                format!("status {r:?}: use 409, [400, 409], \"400-499\" or \"4xx\"")
            })?;
            let a: u16 = a
                .trim()
                .parse()
                .map_err(|_| format!("bad status range {r:?}"))?;
            let b: u16 = b
                .trim()
                .parse()
                .map_err(|_| format!("bad status range {r:?}"))?;
            if a > b {
                return Err(format!("status range {r:?} is empty"));
            }
            Ok(vec![(check(a.into())?, check(b.into())?)])
        }
    }
}

fn text_of(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "cannot compare with {other}: use a string, integer or boolean"
        )),
    }
}

fn compile_field(source: Source, f: &FieldDef, m: &mut Matchers) -> Result<Field, String> {
    let key: Vec<String> = match source {
        Source::Query | Source::RequestHeader | Source::ResponseHeader => {
            if f.path.is_some() {
                return Err("use `name`, not `path`, for query parameters and headers".into());
            }
            let n = f.name.clone().ok_or("needs `name`")?;
            if source == Source::Query {
                vec![n]
            } else {
                HeaderName::from_bytes(n.as_bytes())
                    .map_err(|_| format!("bad header name {n:?}"))?;
                vec![n.to_ascii_lowercase()]
            }
        }
        Source::RequestBody | Source::ResponseBody | Source::Evidence | Source::Operation => {
            if f.name.is_some() {
                return Err(
                    "use `path` (like \"messageParams.scope\"), not `name`, for body fields".into(),
                );
            }
            let p = f.path.clone().ok_or("needs `path`")?;
            if p.is_empty() || p.split('.').any(str::is_empty) {
                return Err(format!("bad field path {p:?}"));
            }
            if let Some(why) = matcher::unknown_context_path(source, &p) {
                return Err(why);
            }
            p.split('.').map(str::to_owned).collect()
        }
    };
    let numeric = f.gt.is_some() || f.ge.is_some() || f.lt.is_some() || f.le.is_some();
    let kinds = [
        f.equals.is_some(),
        f.one_of.is_some(),
        f.regex.is_some(),
        f.exists.is_some(),
        f.missing.is_some(),
        numeric,
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if kinds > 1 {
        return Err("use one test: equals, one_of, regex, exists, missing or gt/ge/lt/le".into());
    }
    let test = if let Some(v) = &f.equals {
        Test::OneOf(vec![text_of(v)?])
    } else if let Some(vs) = &f.one_of {
        if vs.is_empty() {
            return Err("one_of is empty".into());
        }
        Test::OneOf(vs.iter().map(text_of).collect::<Result<_, _>>()?)
    } else if let Some(r) = &f.regex {
        Test::Regex(
            m.add_regex(source, &key, r)
                .map_err(|e| format!("bad regex: {e}"))?,
        )
    } else if numeric {
        Test::Number {
            gt: f.gt,
            ge: f.ge,
            lt: f.lt,
            le: f.le,
        }
    } else if f.missing == Some(true) || f.exists == Some(false) {
        Test::Missing
    } else {
        Test::Exists
    };
    if let Some(c) = &f.capture {
        if !matcher::is_ident(c) {
            return Err(format!("capture name {c:?} must be an identifier"));
        }
        if BUILTIN_CAPTURES.contains(&c.as_str()) {
            return Err(format!("capture name {c:?} {RESERVED}"));
        }
        if matches!(test, Test::Missing) {
            return Err("cannot capture a missing value".into());
        }
    }
    if let Test::Regex(i) = test {
        let names = &m.regexes[i].names;
        if let Some(n) = names.iter().find(|n| BUILTIN_CAPTURES.contains(&&***n)) {
            return Err(format!("regex group (?P<{n}>…) {RESERVED}"));
        }
        if let Some(c) = f
            .capture
            .as_deref()
            .filter(|c| names.iter().any(|n| &**n == *c))
        {
            return Err(format!(
                "capture {c:?} is also a named group of the regex: one would replace the \
                 other; give one another name"
            ));
        }
    }
    Ok(Field {
        secret: matcher::is_secret(source, &key),
        source,
        key,
        test,
        capture: f.capture.as_deref().map(Arc::from),
    })
}

fn header_map(h: &std::collections::BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (k, v) in h {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("bad header name {k:?}"))?;
        let value = HeaderValue::from_str(v).map_err(|_| format!("bad value for header {k}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// An example as the exchange the proxy would have built.
pub fn example_exchange(d: &ExampleDef, file: &str, index: usize) -> Result<Exchange, String> {
    let method = Method::from_bytes(d.request.method.as_bytes())
        .map_err(|_| format!("bad method {:?}", d.request.method))?;
    let (path, query) = match d.request.path.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (d.request.path.clone(), None),
    };
    if !path.starts_with('/') {
        return Err(format!("request path {path:?} must start with '/'"));
    }
    let status = StatusCode::from_u16(d.response.status)
        .map_err(|_| format!("bad status {}", d.response.status))?;
    Ok(Exchange {
        seq: index as u64 + 1,
        origin: Origin::File {
            path: file.to_owned(),
            index,
        },
        started_at: std::time::SystemTime::UNIX_EPOCH,
        request: exchange::Request {
            method,
            upstream: UpstreamKind::for_path(&path),
            path,
            query,
            headers: header_map(&d.request.headers)?,
            body: BodyPrefix::complete(d.request.body.clone().unwrap_or_default().into_bytes()),
            host: None,
            base_url: None,
            shown: crate::exchange::Shown::All,
        },
        response: Some(exchange::Response {
            status,
            version: None,
            headers: header_map(&d.response.headers)?,
            body: BodyPrefix::complete(d.response.body.clone().unwrap_or_default().into_bytes()),
            headers_shown: d.response.headers_shown,
        }),
        timings: Default::default(),
        inspection: exchange::Inspection::Complete,
        outcome: None,
    })
}

#[cfg(test)]
mod tests;

/// A TOML table as the JSON the context conditions query.
fn toml_to_json(t: &toml::Table) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

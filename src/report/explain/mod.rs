//! The report of `triage explain`: one data model collected while files stream through the
//! diagnosis [`Pipeline`](crate::diagnose::Pipeline), and one renderer per output format, each a
//! function of that data ([`text`], [`json`], [`markdown`], [`html`]). Grouping and redaction
//! happen here, once; renderers only lay out and escape.
//!
//! Memory is bounded whatever the input size: only failing or diagnosed exchanges become
//! records, at most [`Report::DEFAULT_MAX_RECORDS`] are stored (the rest are counted), and the
//! by-rule summary keeps at most [`MAX_CORRELATION_IDS`] correlation ids per rule.

pub mod html;
pub mod json;
pub mod markdown;
pub mod text;

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use serde::Serialize;

use crate::diagnose::Diagnosis;
use crate::exchange::{Exchange, Inspection, Outcome};
use crate::ingest::{IngestError, Skipped, SkippedByReason, Unreadable};
use crate::redact;
use crate::rules::{Confidence, Severity};

/// Correlation ids listed per rule in the summary; the rest are counted.
pub const MAX_CORRELATION_IDS: usize = 10;

/// One diagnosis as reports show it (redacted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagnosisRecord {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub cause: String,
    pub fix: String,
    pub docs: Option<String>,
    /// What the rule matched, in order; secrets and (unless `--keep-content`) customer text
    /// redacted.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// One failing or diagnosed exchange.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExchangeRecord {
    /// Position in the whole run (all inputs, in order), from 1.
    pub index: usize,
    /// The input the exchange was read from (`-` for standard input).
    pub file: String,
    /// Position in its input, from 0 (the HAR entry index for HAR files, skipped entries
    /// excluded).
    pub entry: usize,
    /// RFC 3339 start time; `None` when the input did not say.
    pub time: Option<String>,
    /// `None` when the input did not say (a bare error body without `--method`).
    pub method: Option<String>,
    /// Host (when known) and path, query redacted; in JSON `null` when the input did not give
    /// the path, rather than the placeholder the other formats show.
    #[serde(serialize_with = "url_or_null")]
    pub url: String,
    /// False when the input did not give the path (`url` then says so).
    #[serde(skip)]
    pub path_known: bool,
    /// `None` when no response was received.
    pub status: Option<u16>,
    pub correlation_id: Option<String>,
    /// Best first; empty for an undiagnosed failure.
    pub diagnoses: Vec<DiagnosisRecord>,
    /// What the reader of the report should know to trust the diagnoses, or their absence:
    /// what the input did not give and how to give it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How the exchange ended when its response did not reach the client whole (a
    /// recording's `outcome`): `client-gone` or `cut-at-shutdown`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// What `outcome` meant for the client, in words ([`outcome_text`]).
    #[serde(skip)]
    pub outcome_text: Option<String>,
}

impl ExchangeRecord {
    pub fn failed(&self) -> bool {
        is_failure(self.status) || self.outcome.is_some()
    }

    /// The request as reports show it: `POST api.mypurecloud.ie/api/v2/…`, and what was not
    /// given said as such, never a made-up method.
    pub fn request_text(&self) -> String {
        match (&self.method, self.path_known) {
            (None, false) if self.url == PATH_UNKNOWN => "(request not given)".to_owned(),
            (None, _) => format!("(method unknown) {}", self.url),
            (Some(m), _) => format!("{m} {}", self.url),
        }
    }
}

fn url_or_null<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    if url.ends_with(PATH_UNKNOWN) {
        s.serialize_none()
    } else {
        s.serialize_str(url)
    }
}

/// What `url` says of a path the input did not give.
const PATH_UNKNOWN: &str = "(path unknown)";

/// The note of an exchange whose input did not give its method or path, naming the flags that
/// give them: without them, the rules that depend on the request cannot match.
fn request_note(ex: &Exchange) -> Option<String> {
    let r = &ex.request;
    Some(
        match (r.method_known(), r.path_known()) {
            (true, true) => return None,
            (false, false) => {
                "the input does not say which request this was; give it with --method and \
                 --path (as in --method POST --path /api/v2/...) so that the rules that depend \
                 on it can match"
            }
            (false, true) => {
                "the input does not give the request's method; give it with --method so that \
                 the rules that depend on it can match"
            }
            (true, false) => {
                "the input does not give the request's path; give it with --path so that the \
                 rules that depend on it can match"
            }
        }
        .to_owned(),
    )
}

/// The note of a refused call (401, 403) from a HAR that may have been sanitised and whose
/// entry has no `Authorization`: the rules took the header for unknown, not missing, and the
/// reader should know why a diagnosis does not say whether one was sent.
fn credentials_note(ex: &Exchange) -> Option<String> {
    let refused = matches!(ex.status(), Some(401 | 403));
    let unknown = ex.request.shown == crate::exchange::Shown::MaybeSanitized
        && !ex.request.headers.contains_key(http::header::AUTHORIZATION);
    (refused && unknown).then(|| {
        "this HAR entry has no Authorization header, and a browser's sanitised export \
         (Chrome's default) drops it: triage does not take it for missing, and the diagnosis \
         rests on the response. A HAR exported with its sensitive data and then passed \
         through `triage redact` keeps the header as a placeholder, which the rules can check"
            .to_owned()
    })
}

/// The note of a failure whose request the input did not show whole, when a rule that did not
/// match might have with the rest of it (`undecided`): the reader learns that the diagnosis,
/// or its absence, rests on what was shown, and what input would show the rest.
fn unshown_note(ex: &Exchange, diagnosed: bool, undecided: bool) -> Option<String> {
    use crate::exchange::Shown;
    let r = &ex.request;
    if !undecided || !is_failure(ex.status()) {
        return None;
    }
    let unchecked = |what: &str| {
        let might = if diagnosed {
            "it might have said more than this diagnosis"
        } else {
            "it might have matched"
        };
        format!("a rule that reads {what} could not be checked, and {might}")
    };
    Some(match r.shown {
        Shown::MethodAndUrl => format!(
            "the input does not show the request's headers or body: {}. `curl -v` output \
             with the curl command above it, or a HAR file, shows them",
            unchecked("them")
        ),
        Shown::HeadOnly => format!(
            "the input does not show the request's body (`curl -v` does not print it): {}. \
             Paste the curl command above the output to give it",
            unchecked("it")
        ),
        // What a sanitised HAR drops has its own note (`credentials_note`).
        Shown::MaybeSanitized if r.body.complete => return None,
        Shown::MaybeSanitized | Shown::All => match &r.body.unknown_why {
            Some(why) => format!("the request body is unknown: {why}; {}", unchecked("it")),
            None => format!(
                "the input holds only part of the request's body, or none of it: {}",
                unchecked("it")
            ),
        },
    })
}

/// The notes of bodies the input does not give, saying why (a HAR entry's text that is not
/// the base64 it claims, or empty where its size says there were bytes): a failure left
/// without a diagnosis, or with a poorer one, is then no mystery. The request's, when
/// [`unshown_note`] has not said it already.
fn unknown_body_notes(ex: &Exchange, request_said: bool) -> impl Iterator<Item = String> + '_ {
    let request = ex
        .request
        .body
        .unknown_why
        .as_ref()
        .filter(|_| !request_said)
        .map(|why| format!("the request body is unknown: {why}"));
    let response = ex
        .response
        .as_ref()
        .and_then(|r| r.body.unknown_why.as_ref())
        .map(|why| {
            format!(
                "the response body is unknown: {why}; a rule that reads it could not be checked"
            )
        });
    request.into_iter().chain(response)
}

/// An exchange failed when it got no response or a status of 400 or more.
pub fn is_failure(status: Option<u16>) -> bool {
    status.is_none_or(|s| s >= 400)
}

/// Whether the response is triage's own answer (`Proxy-Status: triage; error=…`), not the
/// API's.
pub fn answered_by_triage(ex: &Exchange) -> bool {
    ex.response.as_ref().is_some_and(|r| {
        r.headers
            .get("proxy-status")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("triage;"))
    })
}

/// What an outcome meant for the client, as every report format says it. Whether the API had
/// answered decides the words: a client that left mid-body got part of a response, one that
/// left while triage waited for the upstream got none, and triage never learnt the answer.
pub fn outcome_text(outcome: Outcome, api_answered: bool) -> &'static str {
    match (outcome, api_answered) {
        (Outcome::ClientGone, true) => {
            "the client disconnected before the response was complete (client gone): it did \
             not get all of this response"
        }
        (Outcome::ClientGone, false) => {
            "the client disconnected before the API answered (client gone): the client never \
             saw the API's response, and triage did not learn it"
        }
        (Outcome::CutAtShutdown, true) => {
            "cut when triage shut down (its drain deadline ran out before the response was \
             complete): the client did not get all of this response"
        }
        (Outcome::CutAtShutdown, false) => {
            "cut when triage shut down (its drain deadline ran out before the API answered): \
             the client got no response from the API"
        }
    }
}

/// One rule in the summary: the exchanges whose best diagnosis it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleSummary {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub count: usize,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// The first [`MAX_CORRELATION_IDS`] distinct correlation ids.
    pub correlation_ids: Vec<String>,
    /// Distinct correlation ids not listed.
    pub more_correlation_ids: usize,
    /// The fix when every exchange grouped here was given the same one; `None` when they
    /// differ (an id, an operation in it), so that no exchange is shown another's fix.
    pub fix: Option<String>,
    pub docs: Option<String>,
    /// First exchange (run index) with this rule.
    pub first_index: usize,
}

/// How a diagnosis's fix is shown under its exchange ([`Report::fixes_shown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixShown<'a> {
    /// The summary of its rule says this very text, true of every exchange it groups.
    InSummary,
    /// Shown here, in full.
    Own(&'a str),
    /// The same text as for the exchange of this index, listed above.
    AsFor(usize),
}

impl FixShown<'_> {
    /// The text after "fix: ", `None` when nothing is to be said.
    pub fn text(&self) -> Option<String> {
        match self {
            FixShown::InSummary => None,
            FixShown::Own(f) => Some((*f).to_owned()),
            FixShown::AsFor(i) => Some(format!("as for #{i}")),
        }
    }
}

/// Counts over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Exchanges read from all inputs.
    pub exchanges: usize,
    /// Entries read but not turned into exchanges (WebSocket, `data:` URLs, …).
    pub skipped: usize,
    /// Exchanges without a response or with a status of 400 or more.
    pub failed: usize,
    /// Exchanges with at least one diagnosis.
    pub diagnosed: usize,
    /// Failed exchanges without any diagnosis.
    pub undiagnosed: usize,
    /// Failing or diagnosed exchanges not stored as records (over the cap).
    pub records_dropped: usize,
    /// Failures without a diagnosis whose response body was over the read limit, so not
    /// inspected: no rule that reads the body had a chance.
    pub not_inspected: usize,
    /// The read limit of response bodies, in bytes, for saying so.
    pub body_limit: usize,
    /// Exchanges with hosts other than Genesys Cloud's and local ones, left out.
    pub other_hosts: usize,
    /// The first few of those hosts, for the totals line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_host_names: Vec<String>,
    /// More other hosts were seen than are named.
    #[serde(skip)]
    pub other_hosts_unnamed: bool,
}

/// Where an input broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    pub file: String,
    /// The whole message: file, byte offset, line, column and entry when known.
    pub message: String,
    pub offset: Option<u64>,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// The exchange (from 0) being read when it broke.
    pub entry: Option<usize>,
    /// Exchanges of this input read (and reported) before the break.
    pub exchanges_before: usize,
    /// Only the entry was lost: the input was read on after it.
    pub read_on: bool,
}

impl InputError {
    pub fn from_ingest(e: &IngestError) -> Self {
        let file = e.path().display().to_string();
        let mut out = InputError {
            file,
            message: e.to_string(),
            offset: None,
            line: None,
            column: None,
            entry: None,
            exchanges_before: 0,
            read_on: false,
        };
        if let IngestError::Broken { at, entry, .. } = e {
            out.offset = Some(at.offset);
            out.line = Some(at.line);
            out.column = Some(at.column);
            out.entry = *entry;
            if let Some(n) = entry {
                out.message = format!("{} (entry {n}, counting from 0)", out.message);
            }
        }
        out
    }

    pub fn from_unreadable(u: &Unreadable) -> Self {
        InputError {
            file: u.path.display().to_string(),
            message: format!("{u} (entry {}, counting from 0)", u.entry),
            offset: Some(u.at.offset),
            line: Some(u.at.line),
            column: Some(u.at.column),
            entry: Some(u.entry),
            exchanges_before: 0,
            read_on: true,
        }
    }
}

/// Entries of one input passed over for one reason (a WebSocket entry, a recording line cut
/// off by a crash), with where the first ones are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedInput {
    pub file: String,
    pub reason: String,
    #[serde(flatten)]
    pub skipped: Skipped,
}

/// Everything a renderer needs.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The inputs, in the order they were replayed.
    pub inputs: Vec<String>,
    pub totals: Totals,
    /// By best rule, in order of first appearance.
    pub rules: Vec<RuleSummary>,
    /// Failing or diagnosed exchanges in run order, at most `max_records`.
    pub records: Vec<ExchangeRecord>,
    pub errors: Vec<InputError>,
    /// What inputs held that was not read as exchanges, by input and reason.
    pub skipped: Vec<SkippedInput>,
    /// Failures left undiagnosed with a response body over the read limit, by input, with
    /// where they are (`#4 (entry 3)`).
    pub not_inspected: Vec<SkippedInput>,
    /// Flags that disagree with what an input says, naming both and the one used
    /// ([`crate::ingest::Summary::warnings`]): for standard error, not for the report.
    #[serde(skip)]
    pub warnings: Vec<String>,
    #[serde(skip)]
    max_records: usize,
    #[serde(skip)]
    streaming: bool,
    #[serde(skip)]
    keep_content: bool,
    #[serde(skip)]
    rule_index: BTreeMap<String, usize>,
    #[serde(skip)]
    all_ids: BTreeMap<String, std::collections::HashSet<String>>,
}

impl Report {
    /// Stored records at most, by default.
    pub const DEFAULT_MAX_RECORDS: usize = 10_000;

    pub fn new(keep_content: bool) -> Self {
        Report {
            inputs: Vec::new(),
            totals: Totals {
                body_limit: crate::ingest::ReadOptions::default().body_limit,
                ..Totals::default()
            },
            rules: Vec::new(),
            records: Vec::new(),
            errors: Vec::new(),
            skipped: Vec::new(),
            not_inspected: Vec::new(),
            warnings: Vec::new(),
            max_records: Self::DEFAULT_MAX_RECORDS,
            streaming: false,
            keep_content,
            rule_index: BTreeMap::new(),
            all_ids: BTreeMap::new(),
        }
    }

    /// Most records stored; the others are counted in [`Totals::records_dropped`].
    pub fn with_max_records(mut self, n: usize) -> Self {
        self.max_records = n;
        self
    }

    /// Stores no records (the caller writes each as [`Report::observe`] returns it, like JSON
    /// Lines), and counts none as dropped.
    pub fn streaming(mut self) -> Self {
        self.max_records = 0;
        self.streaming = true;
        self
    }

    pub fn keep_content(&self) -> bool {
        self.keep_content
    }

    /// An input begins.
    pub fn input(&mut self, name: impl Into<String>) {
        self.inputs.push(name.into());
    }

    /// An input broke after `exchanges_before` exchanges; what was read stays in the report.
    pub fn error(&mut self, e: &IngestError, exchanges_before: usize) {
        let mut err = InputError::from_ingest(e);
        err.exchanges_before = exchanges_before;
        self.errors.push(err);
    }

    /// An entry of an input that could not be read, though the input was read on.
    pub fn unreadable(&mut self, u: &Unreadable) {
        self.errors.push(InputError::from_unreadable(u));
    }

    /// Puts the errors in the order of the inputs, and of where they are in each: entries
    /// skipped along the way are only known once their input has been read.
    pub fn sort_errors(&mut self) {
        let inputs = &self.inputs;
        self.errors.sort_by_key(|e| {
            (
                inputs
                    .iter()
                    .position(|i| *i == e.file)
                    .unwrap_or(usize::MAX),
                e.offset.unwrap_or(u64::MAX),
            )
        });
    }

    /// What a report without failures says: an input that could not be read is not a clean
    /// bill of health.
    pub fn nothing_failed(&self) -> &'static str {
        match (self.errors.is_empty(), self.totals.exchanges) {
            (true, _) => "Nothing failed.",
            (false, 0) => "Nothing was read (see the errors).",
            (false, _) => "Nothing failed in what was read (see the errors).",
        }
    }

    /// An exchange with another site's host, left out of the report.
    pub fn other_host(&mut self, host: &str) {
        const NAMED: usize = 5;
        self.totals.other_hosts += 1;
        let names = &mut self.totals.other_host_names;
        if !names.iter().any(|n| n == host) {
            if names.len() < NAMED {
                names.push(host.to_owned());
            } else {
                self.totals.other_hosts_unnamed = true;
            }
        }
    }

    /// What an input's reader passed over ([`crate::ingest::Summary::skipped`]).
    pub fn skipped(&mut self, file: &str, skipped: &SkippedByReason) {
        for (reason, s) in skipped {
            self.totals.skipped += s.count;
            self.skipped.push(SkippedInput {
                file: file.to_owned(),
                reason: reason.clone(),
                skipped: s.clone(),
            });
        }
    }

    /// Counts an exchange and its diagnoses; returns the (redacted) record when the exchange
    /// failed or was diagnosed. The record is also stored, up to the cap.
    pub fn observe(
        &mut self,
        file: &str,
        entry: usize,
        ex: &Exchange,
        diagnoses: &[Diagnosis],
        undecided: bool,
    ) -> Option<ExchangeRecord> {
        self.totals.exchanges += 1;
        // A response that did not reach the client whole failed it, whatever its status.
        let failed = is_failure(ex.status()) || ex.outcome.is_some();
        if failed {
            self.totals.failed += 1;
            if diagnoses.is_empty() {
                self.totals.undiagnosed += 1;
            }
        }
        if !diagnoses.is_empty() {
            self.totals.diagnosed += 1;
        }
        if !failed && diagnoses.is_empty() {
            return None;
        }
        let over_limit = failed && ex.inspection == Inspection::OverLimit;
        if over_limit && diagnoses.is_empty() {
            self.totals.not_inspected += 1;
            let reason = format!(
                "response body over the {} read limit, left undiagnosed",
                size_text(self.totals.body_limit)
            );
            let i = match self.not_inspected.iter().position(|n| n.file == file) {
                Some(i) => i,
                None => {
                    self.not_inspected.push(SkippedInput {
                        file: file.to_owned(),
                        reason,
                        skipped: Skipped::default(),
                    });
                    self.not_inspected.len() - 1
                }
            };
            let index = self.totals.exchanges;
            self.not_inspected[i]
                .skipped
                .add(|| format!("#{index} (entry {entry})"));
        }
        let mut rec = record(
            self.totals.exchanges,
            file,
            entry,
            ex,
            diagnoses,
            undecided,
            self.keep_content,
        );
        if over_limit {
            rec.notes.push(format!(
                "the response body is over the {} read limit and was not inspected: no rule \
                 that reads the body could match",
                size_text(self.totals.body_limit)
            ));
        }
        self.summarise(&rec);
        if self.records.len() < self.max_records {
            self.records.push(rec.clone());
        } else if !self.streaming {
            self.totals.records_dropped += 1;
        }
        Some(rec)
    }

    fn summarise(&mut self, rec: &ExchangeRecord) {
        let Some(best) = rec.diagnoses.first() else {
            return;
        };
        let i = match self.rule_index.get(&best.rule) {
            Some(&i) => i,
            None => {
                self.rules.push(RuleSummary {
                    rule: best.rule.clone(),
                    title: best.title.clone(),
                    severity: best.severity,
                    count: 0,
                    first_time: rec.time.clone(),
                    last_time: None,
                    correlation_ids: Vec::new(),
                    more_correlation_ids: 0,
                    fix: Some(best.fix.clone()),
                    docs: best.docs.clone(),
                    first_index: rec.index,
                });
                self.rule_index
                    .insert(best.rule.clone(), self.rules.len() - 1);
                self.rules.len() - 1
            }
        };
        let s = &mut self.rules[i];
        s.count += 1;
        if s.fix.as_deref().is_some_and(|f| f != best.fix) {
            s.fix = None;
        }
        if rec.time.is_some() {
            if s.first_time.is_none() {
                s.first_time = rec.time.clone();
            }
            s.last_time = rec.time.clone();
        }
        if let Some(id) = &rec.correlation_id {
            // Distinct ids: the listed ones are remembered; beyond them only a bounded set
            // is kept to count distinct ids (and counting stops growing it at the cap).
            if s.correlation_ids.contains(id) {
                return;
            }
            if s.correlation_ids.len() < MAX_CORRELATION_IDS {
                s.correlation_ids.push(id.clone());
            } else {
                let seen = self.all_ids.entry(best.rule.clone()).or_default();
                if seen.len() < Self::DEFAULT_MAX_RECORDS {
                    if seen.insert(id.clone()) {
                        s.more_correlation_ids += 1;
                    }
                } else {
                    s.more_correlation_ids += 1;
                }
            }
        }
    }

    /// True when something failed (exit status 1 under `--fail-on failed`).
    pub fn any_failed(&self) -> bool {
        self.totals.failed > 0
    }

    /// True when a failure has no diagnosis (exit status 1 under `--fail-on undiagnosed`).
    pub fn any_undiagnosed(&self) -> bool {
        self.totals.undiagnosed > 0
    }

    /// The fix of `d` to show with its exchange: `None` when the summary of its rule already
    /// shows that very text, for every exchange it groups.
    pub fn own_fix<'a>(&self, d: &'a DiagnosisRecord) -> Option<&'a str> {
        let common = self
            .rule_index
            .get(&d.rule)
            .and_then(|&i| self.rules[i].fix.as_deref());
        (common != Some(d.fix.as_str())).then_some(d.fix.as_str())
    }

    /// The fix of each diagnosis of the listed failures as its exchange shows it, in
    /// [`Report::failures`] order: none when the summary says it, else the text the first time
    /// it is listed and a reference to that exchange after, so a long fix repeated by a retry
    /// is read once.
    pub fn fixes_shown(&self) -> Vec<Vec<FixShown<'_>>> {
        let mut first: std::collections::HashMap<(&str, &str), usize> = Default::default();
        self.failures()
            .map(|r| {
                r.diagnoses
                    .iter()
                    .map(|d| match self.own_fix(d) {
                        None => FixShown::InSummary,
                        Some(fix) => match first.entry((d.rule.as_str(), fix)) {
                            std::collections::hash_map::Entry::Occupied(e) => {
                                FixShown::AsFor(*e.get())
                            }
                            std::collections::hash_map::Entry::Vacant(e) => {
                                e.insert(r.index);
                                FixShown::Own(fix)
                            }
                        },
                    })
                    .collect()
            })
            .collect()
    }

    /// Stored records of failures (diagnosed or not).
    pub fn failures(&self) -> impl Iterator<Item = &ExchangeRecord> {
        self.records.iter().filter(|r| r.failed())
    }
}

/// RFC 3339 time of an exchange, `None` when its input did not say.
fn time_of(ex: &Exchange) -> Option<String> {
    (ex.started_at != UNIX_EPOCH).then(|| crate::ingest::format_time(ex.started_at))
}

/// Host and path of a request, query redacted.
pub fn url_of(ex: &Exchange) -> String {
    let r = &ex.request;
    let path = if r.path_known() {
        redact::path_and_query(&r.path, r.query.as_deref())
    } else {
        PATH_UNKNOWN.into()
    };
    match &r.host {
        Some(h) if r.path_known() => format!("{h}{path}"),
        Some(h) => format!("{h} {path}"),
        None => path.into_owned(),
    }
}

fn record(
    index: usize,
    file: &str,
    entry: usize,
    ex: &Exchange,
    diagnoses: &[Diagnosis],
    undecided: bool,
    keep_content: bool,
) -> ExchangeRecord {
    // What is shown of the exchange goes through the one redaction policy, and so does every
    // text quoted from it into a diagnosis (a cause quoting the upstream's message, say).
    let (shown, secrets) = redact::exchange_and_secrets(ex, keep_content);
    let scrub = |t: &str| secrets.scrub(t).into_owned();
    // First as the proxy does it: the credentials of the exchange, whole or cut by a rule's
    // capture, out of the captured values and back into the text where quoted. The rule's own
    // text is never searched (a token `expired` leaves "likely expired" whole).
    let mut scrubbed = diagnoses.to_vec();
    redact::scrub_diagnoses(ex, &mut scrubbed);
    let diagnoses: Vec<DiagnosisRecord> = scrubbed
        .iter()
        .map(|d| {
            // Each captured value as it is shown; where the cause and fix quote one that
            // changed, it is put back as shown (`redact::requote`), and the rule's own words
            // are never searched (a password `secret` leaves its `client_secret` whole).
            let mut changed: Vec<(&str, String)> = Vec::new();
            let evidence = d
                .evidence
                .iter()
                .map(|(k, v)| {
                    let shown = if redact::is_secret_evidence(k) {
                        redact::secret(v)
                    } else if !keep_content && redact::is_content_json_key(k) {
                        redact::content(v)
                    } else {
                        scrub(v)
                    };
                    // A short text a customer wrote ("Hi") may be a word of the rule's too:
                    // only a text as long as a credential looked for is put back.
                    if shown != **v && v.len() >= redact::Secrets::MIN_LEN {
                        changed.push((v, shown.clone()));
                    }
                    (k.to_string(), serde_json::Value::String(shown))
                })
                .collect();
            DiagnosisRecord {
                rule: d.rule.clone(),
                title: d.title.to_string(),
                severity: d.severity,
                confidence: d.confidence,
                cause: redact::requote(&d.cause, &mut changed).into_owned(),
                fix: redact::requote(&d.fix, &mut changed).into_owned(),
                docs: d.docs.as_deref().map(str::to_owned),
                evidence,
                operation: d.operation.clone(),
            }
        })
        .collect();
    let diagnosed = !diagnoses.is_empty();
    ExchangeRecord {
        index,
        file: file.to_owned(),
        entry,
        time: time_of(&shown),
        method: shown
            .request
            .method_known()
            .then(|| shown.request.method.as_str().to_owned()),
        url: scrub(&url_of(&shown)),
        path_known: shown.request.path_known(),
        status: shown.status(),
        correlation_id: shown.correlation_id().map(|c| scrub(&c)),
        diagnoses,
        notes: {
            let unshown = unshown_note(ex, diagnosed, undecided);
            let request_said = unshown.is_some();
            request_note(ex)
                .into_iter()
                .chain(credentials_note(ex))
                .chain(unshown)
                .chain(unknown_body_notes(ex, request_said))
                .collect()
        },
        outcome: ex.outcome,
        outcome_text: ex.outcome.map(|o| {
            let api_answered = ex.response.is_some() && !answered_by_triage(ex);
            outcome_text(o, api_answered).to_owned()
        }),
    }
}

/// "3 exchanges read, 2 failed, 1 diagnosed, 1 undiagnosed": the totals as one sentence.
pub fn totals_line(t: &Totals) -> String {
    let mut s = format!(
        "{} exchange{} read, {} failed, {} diagnosed, {} failure{} without a diagnosis",
        t.exchanges,
        plural(t.exchanges),
        t.failed,
        t.diagnosed,
        t.undiagnosed,
        plural(t.undiagnosed)
    );
    if t.not_inspected > 0 {
        let one = t.not_inspected == 1;
        s.push_str(&format!(
            "; {} failure{} left undiagnosed with {} over the {} read limit (not inspected)",
            t.not_inspected,
            plural(t.not_inspected),
            if one {
                "its response body"
            } else {
                "their response bodies"
            },
            size_text(t.body_limit)
        ));
    }
    if t.skipped > 0 {
        s.push_str(&format!(
            "; {} entr{} skipped",
            t.skipped,
            if t.skipped == 1 { "y" } else { "ies" }
        ));
    }
    if t.other_hosts > 0 {
        let more = if t.other_hosts_unnamed { ", ..." } else { "" };
        s.push_str(&format!(
            "; {} exchange{} with other hosts left out ({}{more}; --any-host explains them too)",
            t.other_hosts,
            plural(t.other_hosts),
            t.other_host_names.join(", ")
        ));
    }
    if t.records_dropped > 0 {
        s.push_str(&format!(
            "; {} failing exchange{} beyond the first {} not listed",
            t.records_dropped,
            plural(t.records_dropped),
            Report::DEFAULT_MAX_RECORDS
        ));
    }
    s
}

/// "r.jsonl: 1 skipped (line cut off mid-write): line 3": what was skipped and where, one line
/// per input and reason; then the failures whose bodies were not inspected, the same way
/// ("big.har: 1 not inspected (response body over the 1 MiB read limit, left undiagnosed):
/// #4 (entry 3)").
pub fn skipped_lines(report: &Report) -> Vec<String> {
    let line = |what: &str, s: &SkippedInput| {
        format!(
            "{}: {} {what} ({}): {}",
            s.file,
            s.skipped.count,
            s.reason,
            s.skipped.places_text()
        )
    };
    report
        .skipped
        .iter()
        .map(|s| line("skipped", s))
        .chain(
            report
                .not_inspected
                .iter()
                .map(|s| line("not inspected", s)),
        )
        .collect()
}

/// A byte count as limits are given: `1 MiB`, `512 KiB`, `1000 bytes`.
pub fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    match bytes {
        0 => "0 bytes".to_owned(),
        b if b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The correlation ids of a rule as one list: "a, b and 3 more".
pub fn correlation_list(s: &RuleSummary) -> String {
    let mut out = s.correlation_ids.join(", ");
    if s.more_correlation_ids > 0 {
        out.push_str(&format!(" and {} more", s.more_correlation_ids));
    }
    out
}

/// The status as shown: `409`, or `no response`.
pub fn status_text(status: Option<u16>) -> String {
    status.map_or_else(|| "no response".to_owned(), |s| s.to_string())
}

/// Output formats of `triage explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A terminal summary grouped by rule, then the failing exchanges.
    Text,
    /// JSON Lines: one object per diagnosed exchange.
    Json,
    /// A Markdown report to paste into a ticket.
    Markdown,
    /// One self-contained HTML file.
    Html,
}

//! One self-contained HTML file: inline CSS, no scripts, no external resources; the only links
//! are the rules' documentation. Every piece of text is HTML-escaped ([`escape`]), so an
//! upstream message carrying markup renders as text.

use std::io::{self, Write};

use super::{correlation_list, skipped_lines, status_text, totals_line, Report};

/// Text safe in HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A link to a rule's documentation: only `https://` and `http://` URLs become links.
fn link(url: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!(
            "<a href=\"{0}\" rel=\"noopener noreferrer\">{0}</a>",
            escape(url)
        )
    } else {
        escape(url)
    }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;line-height:1.45}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}\
table{border-collapse:collapse;width:100%;font-size:.9rem}\
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.n{text-align:right}\
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}\
code.id{word-break:normal;overflow-wrap:normal}\
.error{color:#b42318;font-weight:600}.warning{color:#9a6700;font-weight:600}.info{color:#0969da}\
.rule{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}\
.muted{color:#57606a}.broken{background:#fff1f0;border:1px solid #ffa39e;padding:.5rem 1rem}";

pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "<!DOCTYPE html>")?;
    writeln!(w, "<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(
        w,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(w, "<title>triage explain report</title>")?;
    writeln!(w, "<style>{STYLE}</style></head><body>")?;
    writeln!(w, "<h1>triage explain report</h1>")?;
    if !report.inputs.is_empty() {
        let inputs: Vec<String> = report
            .inputs
            .iter()
            .map(|i| format!("<code>{}</code>", escape(i)))
            .collect();
        writeln!(w, "<p>Inputs: {}</p>", inputs.join(", "))?;
    }
    writeln!(w, "<p>{}.</p>", escape(&totals_line(&report.totals)))?;
    writeln!(
        w,
        "<p class=\"muted\">Secrets are redacted{}.</p>",
        if report.keep_content() {
            ""
        } else {
            ", and so is text customers wrote"
        }
    )?;
    if !report.errors.is_empty() {
        writeln!(w, "<div class=\"broken\"><strong>Input errors</strong><ul>")?;
        for e in &report.errors {
            writeln!(w, "<li>{}</li>", escape(&e.message))?;
        }
        // An entry skipped along the way lost only itself; a break lost the rest of its input.
        let covers = if report.errors.iter().all(|e| e.read_on) {
            "The report covers every other entry."
        } else {
            "The report covers what was read before the break."
        };
        writeln!(w, "</ul><p>{covers}</p></div>")?;
    }
    let skipped = skipped_lines(report);
    if !skipped.is_empty() {
        writeln!(w, "<div class=\"muted\"><strong>Skipped input</strong><ul>")?;
        for line in skipped {
            writeln!(w, "<li>{}</li>", escape(&line))?;
        }
        writeln!(w, "</ul></div>")?;
    }
    if !report.rules.is_empty() {
        writeln!(w, "<h2>Summary by rule</h2>")?;
        writeln!(w, "<table><thead><tr><th>Rule</th><th>Severity</th><th>Count</th><th>First</th><th>Last</th><th>Correlation ids</th></tr></thead><tbody>")?;
        for s in &report.rules {
            let sev = s.severity.as_str();
            writeln!(
                w,
                "<tr><td><a href=\"#rule-{id}\"><code class=\"id\">{rule}</code></a></td><td class=\"{sev}\">{sev}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                s.count,
                escape(s.first_time.as_deref().unwrap_or("")),
                escape(s.last_time.as_deref().unwrap_or("")),
                escape(&correlation_list(s)),
                id = anchor(&s.rule),
                rule = escape(&s.rule),
            )?;
        }
        writeln!(w, "</tbody></table>")?;
        writeln!(w, "<h2>Fixes</h2>")?;
        for s in &report.rules {
            writeln!(
                w,
                "<div class=\"rule\" id=\"rule-{}\"><h3><code class=\"id\">{}</code>: {}</h3><p>{}</p>",
                anchor(&s.rule),
                escape(&s.rule),
                escape(&s.title),
                match &s.fix {
                    Some(fix) => escape(fix),
                    None => "The fix differs by exchange; each one&#39;s is with it under \
                             <em>Failing exchanges</em>."
                        .to_owned(),
                }
            )?;
            if let Some(d) = &s.docs {
                writeln!(w, "<p>Docs: {}</p>", link(d))?;
            }
            writeln!(w, "</div>")?;
        }
    }
    let failures: Vec<_> = report.failures().collect();
    if failures.is_empty() {
        if report.totals.failed == 0 {
            writeln!(w, "<p>{}</p>", report.nothing_failed())?;
        }
    } else {
        writeln!(w, "<h2>Failing exchanges</h2>")?;
        writeln!(w, "<table><thead><tr><th>#</th><th>Time</th><th>Request</th><th>Status</th><th>Correlation id</th><th>Diagnosis</th></tr></thead><tbody>")?;
        let fixes = report.fixes_shown();
        for (r, fixes) in failures.into_iter().zip(fixes) {
            // Each diagnosis with its own cause and evidence, and its own fix unless the
            // summary says that very text.
            let mut diagnosis = if r.diagnoses.is_empty() {
                "<em>no diagnosis</em>".to_owned()
            } else {
                let parts: Vec<String> = r
                    .diagnoses
                    .iter()
                    .zip(&fixes)
                    .map(|(d, fix)| {
                        let evidence: Vec<String> = d
                            .evidence
                            .iter()
                            .map(|(k, v)| {
                                format!(
                                    "<code>{}</code> = <code>{}</code>",
                                    escape(k),
                                    escape(v.as_str().unwrap_or_default())
                                )
                            })
                            .collect();
                        let mut s = format!(
                            "<code class=\"id\">{}</code><br>{}",
                            escape(&d.rule),
                            escape(&d.cause)
                        );
                        if let Some(fix) = fix.text() {
                            s.push_str(&format!("<br>Fix: {}", escape(&fix)));
                        }
                        if !evidence.is_empty() {
                            s.push_str(&format!(
                                "<br><span class=\"muted\">evidence: {}</span>",
                                evidence.join("; ")
                            ));
                        }
                        s
                    })
                    .collect();
                parts.join("<hr>")
            };
            if let Some(o) = &r.outcome_text {
                diagnosis.push_str(&format!("<br><strong>outcome:</strong> {}", escape(o)));
            }
            for n in &r.notes {
                diagnosis.push_str(&format!(
                    "<br><span class=\"muted\">note: {}</span>",
                    escape(n)
                ));
            }
            writeln!(
                w,
                "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                r.index,
                escape(r.time.as_deref().unwrap_or("")),
                escape(&r.request_text()),
                status_text(r.status),
                escape(r.correlation_id.as_deref().unwrap_or("")),
                diagnosis
            )?;
        }
        writeln!(w, "</tbody></table>")?;
        if report.totals.records_dropped > 0 {
            writeln!(
                w,
                "<p>… and {} more not listed.</p>",
                report.totals.records_dropped
            )?;
        }
    }
    writeln!(w, "</body></html>")
}

/// A rule id as an element id: letters, digits and `-` only.
fn anchor(rule: &str) -> String {
    rule.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

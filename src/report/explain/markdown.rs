//! A Markdown report to paste into a ticket: totals, a summary table by rule, the fix per rule,
//! the failing exchanges as a table, and where an input broke. All text quoted from traffic is
//! escaped ([`escape`]): it can neither break a table nor inject HTML or formatting.

use std::io::{self, Write};

use super::{correlation_list, skipped_lines, status_text, totals_line, Report};

/// Text safe in Markdown, inline and in table cells: Markdown punctuation backslash-escaped,
/// `<`, `>` and `&` as entities, line breaks as spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '`' | '\\' | '*' | '_' | '[' | ']' | '#' | '~' | '!' | '{' | '}' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A link to a rule's documentation, when it is an http(s) URL.
fn link(url: &str) -> String {
    if (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')'))
    {
        format!("<{url}>")
    } else {
        escape(url)
    }
}

pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "# triage explain report")?;
    writeln!(w)?;
    if !report.inputs.is_empty() {
        let inputs: Vec<String> = report
            .inputs
            .iter()
            .map(|i| format!("`{}`", i.replace('`', "'")))
            .collect();
        writeln!(w, "Inputs: {}  ", inputs.join(", "))?;
    }
    writeln!(w, "{}.", escape(&totals_line(&report.totals)))?;
    writeln!(w)?;
    writeln!(
        w,
        "Secrets are redacted{}.",
        if report.keep_content() {
            ""
        } else {
            ", and so is text customers wrote"
        }
    )?;
    writeln!(w)?;
    if !report.rules.is_empty() {
        writeln!(w, "## Summary by rule")?;
        writeln!(w)?;
        writeln!(
            w,
            "| Rule | Severity | Count | First | Last | Correlation ids |"
        )?;
        writeln!(w, "| --- | --- | ---: | --- | --- | --- |")?;
        for s in &report.rules {
            writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} |",
                escape(&s.rule),
                s.severity.as_str(),
                s.count,
                escape(s.first_time.as_deref().unwrap_or("")),
                escape(s.last_time.as_deref().unwrap_or("")),
                escape(&correlation_list(s)),
            )?;
        }
        writeln!(w)?;
        writeln!(w, "## Fixes")?;
        for s in &report.rules {
            writeln!(w)?;
            writeln!(w, "### {}: {}", escape(&s.rule), escape(&s.title))?;
            writeln!(w)?;
            match &s.fix {
                Some(fix) => writeln!(w, "{}", escape(fix))?,
                None => writeln!(
                    w,
                    "The fix differs by exchange; each one's is with it under *Failing exchanges*."
                )?,
            }
            if let Some(d) = &s.docs {
                writeln!(w)?;
                writeln!(w, "Docs: {}", link(d))?;
            }
        }
        writeln!(w)?;
    }
    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        writeln!(w, "## Failing exchanges")?;
        writeln!(w)?;
        writeln!(
            w,
            "| # | Time | Method | URL | Status | Correlation id | Rule | Cause |"
        )?;
        writeln!(w, "| ---: | --- | --- | --- | --- | --- | --- | --- |")?;
        let fixes = report.fixes_shown();
        for (r, fixes) in failures.into_iter().zip(fixes) {
            let (rule, mut cause) = if r.diagnoses.is_empty() {
                ("*no diagnosis*".to_owned(), String::new())
            } else {
                let rules = r.diagnoses.iter().map(|d| escape(&d.rule));
                // Each diagnosis's own cause, and its own fix unless the summary says that
                // very text; named by rule when there is more than one.
                let causes = r.diagnoses.iter().zip(&fixes).map(|(d, fix)| {
                    let mut c = if r.diagnoses.len() > 1 {
                        format!("**{}:** {}", escape(&d.rule), escape(&d.cause))
                    } else {
                        escape(&d.cause)
                    };
                    if let Some(fix) = fix.text() {
                        c.push_str(&format!(" *Fix:* {}", escape(&fix)));
                    }
                    c
                });
                (
                    rules.collect::<Vec<_>>().join(", "),
                    causes.collect::<Vec<_>>().join("<br>"),
                )
            };
            if let Some(o) = &r.outcome_text {
                if !cause.is_empty() {
                    cause.push_str("<br>");
                }
                cause.push_str(&format!("*Outcome:* {}", escape(o)));
            }
            for n in &r.notes {
                if !cause.is_empty() {
                    cause.push(' ');
                }
                cause.push_str(&format!("*Note:* {}", escape(n)));
            }
            writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.index,
                escape(r.time.as_deref().unwrap_or("")),
                escape(r.method.as_deref().unwrap_or("(unknown)")),
                escape(&r.url),
                status_text(r.status),
                escape(r.correlation_id.as_deref().unwrap_or("")),
                rule,
                cause
            )?;
        }
        if report.totals.records_dropped > 0 {
            writeln!(w)?;
            writeln!(
                w,
                "… and {} more not listed.",
                report.totals.records_dropped
            )?;
        }
        writeln!(w)?;
    } else if report.totals.failed == 0 {
        writeln!(w, "{}", report.nothing_failed())?;
        writeln!(w)?;
    }
    if !report.errors.is_empty() {
        writeln!(w, "## Input errors")?;
        writeln!(w)?;
        for e in &report.errors {
            writeln!(w, "- {}", escape(&e.message))?;
        }
        writeln!(w)?;
    }
    let skipped = skipped_lines(report);
    if !skipped.is_empty() {
        writeln!(w, "## Skipped input")?;
        writeln!(w)?;
        for line in skipped {
            writeln!(w, "- {}", escape(&line))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

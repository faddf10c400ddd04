//! The terminal report: totals, the summary grouped by rule (count, first and last time,
//! correlation ids, the fix once), then the failing exchanges, one or two lines each. Colour
//! only when asked ([`use_colour`] decides for standard output).

use std::io::{self, Write};

use super::{correlation_list, skipped_lines, status_text, totals_line, Report};

/// Colour for standard output: a terminal, and `NO_COLOR` unset or empty.
pub fn use_colour() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

struct Style(bool);

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn red(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// Upstream text made safe for a terminal: control characters (escape sequences, CR, …)
/// become spaces.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub fn render(report: &Report, w: &mut dyn Write, colour: bool) -> io::Result<()> {
    let st = Style(colour);
    writeln!(
        w,
        "{} {}",
        st.bold("triage explain:"),
        totals_line(&report.totals)
    )?;
    for line in skipped_lines(report) {
        writeln!(w, "  {}", st.dim(&clean(&line)))?;
    }
    if report.totals.failed == 0 && report.rules.is_empty() {
        writeln!(w, "{}", report.nothing_failed())?;
        return Ok(());
    }
    if !report.rules.is_empty() {
        writeln!(w)?;
        writeln!(w, "{}", st.bold("By rule"))?;
        for s in &report.rules {
            let sev = s.severity.as_str();
            let sev = if sev == "error" {
                st.red(sev)
            } else {
                st.yellow(sev)
            };
            writeln!(
                w,
                "  {} ({sev}) x{}: {}",
                st.bold(&s.rule),
                s.count,
                clean(&s.title)
            )?;
            match (&s.first_time, &s.last_time) {
                (Some(a), Some(b)) if a != b => writeln!(w, "    first {a}, last {b}")?,
                (Some(a), _) => writeln!(w, "    at {a}")?,
                _ => {}
            }
            if !s.correlation_ids.is_empty() {
                writeln!(w, "    correlation ids: {}", clean(&correlation_list(s)))?;
            }
            writeln!(w, "    fix: {}", clean(&s.fix))?;
            if let Some(d) = &s.docs {
                writeln!(w, "    docs: {}", clean(d))?;
            }
        }
    }
    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        writeln!(w)?;
        writeln!(w, "{}", st.bold("Failing exchanges"))?;
        for r in failures {
            let rules = if r.diagnoses.is_empty() {
                st.yellow("(no diagnosis)")
            } else {
                r.diagnoses
                    .iter()
                    .map(|d| d.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            writeln!(
                w,
                "  #{} {} {} -> {}  {}{}",
                r.index,
                st.dim(r.time.as_deref().unwrap_or("(time unknown)")),
                clean(&r.request_text()),
                st.bold(&status_text(r.status)),
                rules,
                r.correlation_id
                    .as_deref()
                    .map(|c| format!("  correlation id {}", clean(c)))
                    .unwrap_or_default()
            )?;
            if let Some(d) = r.diagnoses.first() {
                writeln!(w, "      {}", clean(&d.cause))?;
            }
            for n in &r.notes {
                writeln!(w, "      note: {}", clean(n))?;
            }
        }
    }
    if report.totals.records_dropped > 0 {
        writeln!(
            w,
            "  … and {} more not listed",
            report.totals.records_dropped
        )?;
    }
    Ok(())
}

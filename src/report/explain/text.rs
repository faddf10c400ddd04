//! The terminal report: totals, the summary grouped by rule (count, first and last time,
//! correlation ids, the fix once when every exchange has the same), then the failing exchanges,
//! each with every diagnosis's cause and whatever fix the summary does not already give, then
//! how it ended when its response did not reach the client whole, and its notes. Colour
//! and wrapping only when asked ([`use_colour`] and [`terminal_width`] decide for standard
//! output): written to a file or a pipe, every fix and cause stays on one line, whole for grep
//! and copy-paste.

use std::io::{self, IsTerminal, Write};

use super::{correlation_list, skipped_lines, status_text, totals_line, Report};

/// Colour for standard output: a terminal, and `NO_COLOR` unset or empty.
pub fn use_colour() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The width to wrap long lines at: that of the terminal standard output is, else `COLUMNS`
/// (a terminal that does not tell its size), else 80; `None` when standard output is not a
/// terminal.
pub fn terminal_width() -> Option<usize> {
    let stdout = io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    let width = terminal_size::terminal_size_of(&stdout)
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse().ok())
        })
        .filter(|&w| w > 0)
        .unwrap_or(80);
    Some(width)
}

/// Narrowest text column wrapping leaves, however deep the indent and narrow the terminal: a
/// column of a few characters would be harder to read than lines that run over.
const MIN_COLUMN: usize = 30;

/// `prefix` then `text`, wrapped at `width` (when given) at spaces only, each continuation line
/// indented to the column where the text began. A word longer than the line (a URL, an id) is
/// never broken: it runs over instead, so that it can still be copied whole.
pub fn wrap(prefix: &str, text: &str, width: Option<usize>) -> String {
    let indent = prefix.chars().count();
    let Some(width) = width.filter(|&w| indent + text.chars().count() > w) else {
        return format!("{prefix}{text}");
    };
    let column = width.saturating_sub(indent).max(MIN_COLUMN);
    let mut out = String::with_capacity(prefix.len() + text.len() + 64);
    out.push_str(prefix);
    let mut used = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if used > 0 && used + 1 + len > column {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            used = 0;
        } else if used > 0 {
            out.push(' ');
            used += 1;
        }
        out.push_str(word);
        used += len;
    }
    out
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

/// Writes the report; `width` wraps the long lines (fixes, causes, notes) at that many columns
/// (see [`terminal_width`]), `None` leaves them whole.
pub fn render(
    report: &Report,
    w: &mut dyn Write,
    colour: bool,
    width: Option<usize>,
) -> io::Result<()> {
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
            match &s.fix {
                Some(fix) => writeln!(w, "{}", wrap("    fix: ", &clean(fix), width))?,
                None => writeln!(w, "    fix: differs by exchange; see each one's below")?,
            }
            if let Some(d) = &s.docs {
                writeln!(w, "    docs: {}", clean(d))?;
            }
        }
    }
    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        writeln!(w)?;
        writeln!(w, "{}", st.bold("Failing exchanges"))?;
        let fixes = report.fixes_shown();
        for (r, fixes) in failures.into_iter().zip(fixes) {
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
            // Every diagnosis with its own cause, and its own fix unless the summary above
            // already says that very text: the best one's cause first, as before, the others
            // named.
            for (i, (d, fix)) in r.diagnoses.iter().zip(fixes).enumerate() {
                let cause = if i == 0 {
                    clean(&d.cause)
                } else {
                    format!("also {}: {}", d.rule, clean(&d.cause))
                };
                writeln!(w, "{}", wrap("      ", &cause, width))?;
                if let Some(fix) = fix.text() {
                    writeln!(w, "{}", wrap("      fix: ", &clean(&fix), width))?;
                }
            }
            if let Some(o) = &r.outcome_text {
                writeln!(w, "{}", wrap("      outcome: ", o, width))?;
            }
            for n in &r.notes {
                writeln!(w, "{}", wrap("      note: ", &clean(n), width))?;
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

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_to_the_texts_column_and_never_inside_a_word() {
        let url =
            "https://developer.genesys.cloud/commdigital/digital/openmessaging/outboundMessages";
        let text = format!("Check the state first, then send again; see {url} for the details.");
        let got = wrap("    fix: ", &text, Some(50));
        let want = format!(
            "    fix: Check the state first, then send again;\n         see\n         {url}\n         for the details."
        );
        assert_eq!(got, want);
        // The words read back as they were.
        let words: Vec<&str> = got.split_whitespace().skip(1).collect();
        assert_eq!(words.join(" "), text);
        // Short enough, or no width: untouched, spaces and all.
        assert_eq!(wrap("  ", "a  b", Some(80)), "  a  b");
        assert_eq!(wrap("  ", &text, None), format!("  {text}"));
        // A deep indent on a narrow terminal still leaves a readable column.
        let narrow = wrap(
            "      note: ",
            "one two three four five six seven eight nine",
            Some(20),
        );
        assert!(
            narrow
                .lines()
                .skip(1)
                .all(|l| l.starts_with("            ") && !l[12..].starts_with(' ')),
            "{narrow}"
        );
        assert_eq!(narrow.lines().count(), 2, "{narrow}");
    }
}

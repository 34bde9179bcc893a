//! The human format, ruff-like.

use std::fmt::Write;

use super::terminal_safe;
use crate::Report;

/// `path:line:col: ML001 message`, then the source line with a caret under
/// the reported range, then a one-line summary.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let _ = writeln!(
            out,
            "{}:{}:{}: {} {}",
            terminal_safe(&d.path.display().to_string()),
            d.line,
            d.column,
            d.rule.code(),
            terminal_safe(&d.message)
        );
        if !d.source_line.is_empty() {
            let gutter = d.line.to_string();
            let width = if d.end_line == d.line {
                d.end_column.saturating_sub(d.column).max(1)
            } else {
                1
            };
            // The caret is placed under the escaped text, so that an escape
            // before the column widens the indent as it widens the line.
            let before: String = d.source_line.chars().take(d.column - 1).collect();
            let indent: String = terminal_safe(&before)
                .chars()
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{gutter} | {}", terminal_safe(&d.source_line));
            let _ = writeln!(
                out,
                "{} | {indent}{}",
                " ".repeat(gutter.len()),
                "^".repeat(width)
            );
        }
    }
    let errors = report.error_count();
    let findings = report.diagnostics.len() - errors;
    let files = report.files_checked;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if report.diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "All clear: no leak patterns in {}.",
            plural(files, "file")
        );
    } else {
        let _ = write!(
            out,
            "Found {} in {}",
            plural(findings, "leak pattern"),
            plural(files, "file")
        );
        if errors > 0 {
            let _ = write!(out, "; {} could not be checked", plural(errors, "file"));
        }
        let _ = writeln!(out, ".");
    }
    out
}

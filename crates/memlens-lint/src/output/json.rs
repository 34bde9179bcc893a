//! The JSON format: an array of diagnostics, one object each.

use serde::Serialize;

use crate::Report;

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: &'static str,
    message: &'a str,
    path: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    source_line: &'a str,
}

/// A pretty-printed JSON array; `severity` is `error` for files that could
/// not be checked (ML000) and `warning` for leak patterns.
pub fn render_json(report: &Report) -> String {
    let items: Vec<JsonDiagnostic<'_>> = report
        .diagnostics
        .iter()
        .map(|d| JsonDiagnostic {
            code: d.rule.code(),
            name: d.rule.name(),
            severity: if d.is_error() { "error" } else { "warning" },
            message: &d.message,
            path: d.path.display().to_string(),
            line: d.line,
            column: d.column,
            end_line: d.end_line,
            end_column: d.end_column,
            source_line: &d.source_line,
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).expect("diagnostics serialize");
    out.push('\n');
    out
}

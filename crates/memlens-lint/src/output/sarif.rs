//! SARIF 2.1.0, the static-analysis interchange format code-scanning
//! services read.

use serde_json::{json, Value};

use crate::{Report, Rule};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// One run whose driver lists every rule, and one result per diagnostic with
/// its physical location (1-based lines and columns, paths as URIs relative
/// to where memlens ran).
pub fn render_sarif(report: &Report) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code(),
                "name": rule.name(),
                "shortDescription": { "text": rule.summary() },
                "defaultConfiguration": { "level": level(*rule) },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            json!({
                "ruleId": d.rule.code(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == d.rule),
                "level": level(d.rule),
                "message": { "text": d.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&d.path) },
                        "region": {
                            "startLine": d.line,
                            "startColumn": d.column,
                            "endLine": d.end_line,
                            "endColumn": d.end_column.max(d.column),
                            "snippet": { "text": d.source_line },
                        }
                    }
                }],
            })
        })
        .collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "memlens",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/memlens",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serializes");
    out.push('\n');
    out
}

fn level(rule: Rule) -> &'static str {
    if rule.is_error() {
        "error"
    } else {
        "warning"
    }
}

/// A relative URI reference: forward slashes, spaces and `%` escaped.
fn uri(path: &std::path::Path) -> String {
    let text = path.display().to_string().replace('\\', "/");
    let text = text.strip_prefix("./").unwrap_or(&text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            _ => out.push(c),
        }
    }
    out
}

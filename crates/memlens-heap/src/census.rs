//! Census: how many objects of each type are alive, and how many bytes they take.

use std::collections::HashMap;

use crate::json::push_json_string;
use crate::units::{group_thousands, human_bytes};

/// One type's line in a census.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusRow {
    /// The type, as `module.qualname` (`builtins.str`, `myapp.models.User`).
    pub type_name: String,
    /// Live objects of that type.
    pub count: u64,
    /// Their total size in bytes (the sum of `sys.getsizeof` for builtin types).
    pub size: u64,
}

impl CensusRow {
    /// A row for `type_name` with `count` objects taking `size` bytes.
    pub fn new(type_name: impl Into<String>, count: u64, size: u64) -> Self {
        CensusRow {
            type_name: type_name.into(),
            count,
            size,
        }
    }
}

/// Counts and sizes per type, largest total size first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    rows: Vec<CensusRow>,
}

/// How many rows `Display` shows before summarizing the rest in one line.
const DISPLAY_ROWS: usize = 25;

impl Census {
    /// Builds a census from rows; rows with the same type name are merged
    /// (two distinct classes can share a `module.qualname`).
    pub fn from_rows(rows: impl IntoIterator<Item = CensusRow>) -> Self {
        let mut merged: HashMap<String, (u64, u64)> = HashMap::new();
        for row in rows {
            let entry = merged.entry(row.type_name).or_default();
            entry.0 += row.count;
            entry.1 += row.size;
        }
        let mut rows: Vec<CensusRow> = merged
            .into_iter()
            .map(|(type_name, (count, size))| CensusRow {
                type_name,
                count,
                size,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.size
                .cmp(&a.size)
                .then(b.count.cmp(&a.count))
                .then(a.type_name.cmp(&b.type_name))
        });
        Census { rows }
    }

    /// The rows, largest total size first.
    pub fn rows(&self) -> &[CensusRow] {
        &self.rows
    }

    /// The row of one type, if any object of it is alive.
    pub fn get(&self, type_name: &str) -> Option<&CensusRow> {
        self.rows.iter().find(|row| row.type_name == type_name)
    }

    /// Total number of objects.
    pub fn total_count(&self) -> u64 {
        self.rows.iter().map(|row| row.count).sum()
    }

    /// Total size in bytes.
    pub fn total_size(&self) -> u64 {
        self.rows.iter().map(|row| row.size).sum()
    }

    /// The census as an aligned table; `limit` rows at most (`None`: all).
    pub fn render_table(&self, limit: Option<usize>) -> String {
        let total_size = self.total_size();
        let shown = limit.unwrap_or(usize::MAX).min(self.rows.len());
        let cells: Vec<[String; 4]> = self.rows[..shown]
            .iter()
            .map(|row| {
                [
                    group_thousands(row.count as i64),
                    human_bytes(row.size),
                    percent(row.size, total_size),
                    row.type_name.clone(),
                ]
            })
            .collect();
        let headers = ["objects", "size", "share", "type"];
        let mut out = format!(
            "memlens census: {} objects, {} in {} types\n",
            group_thousands(self.total_count() as i64),
            human_bytes(total_size),
            group_thousands(self.rows.len() as i64)
        );
        out.push_str(&render_columns(&headers, &cells));
        if shown < self.rows.len() {
            let rest = &self.rows[shown..];
            out.push_str(&format!(
                "... {} more types: {} objects, {}\n",
                group_thousands(rest.len() as i64),
                group_thousands(rest.iter().map(|r| r.count).sum::<u64>() as i64),
                human_bytes(rest.iter().map(|r| r.size).sum())
            ));
        }
        out
    }

    /// The census as JSON: `{"total_count":…, "total_size":…, "types": {name: {"count", "size"}}}`.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"total_count\": {}, \"total_size\": {}, \"types\": {{",
            self.total_count(),
            self.total_size()
        );
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_json_string(&mut out, &row.type_name);
            out.push_str(&format!(
                ": {{\"count\": {}, \"size\": {}}}",
                row.count, row.size
            ));
        }
        out.push_str("}}");
        out
    }
}

impl std::fmt::Display for Census {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_table(Some(DISPLAY_ROWS)))
    }
}

/// `part` as a percentage of `whole`, one decimal.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.0%".to_string();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// Lays out rows of cells under headers: every column right-aligned except
/// the last (the type name), two spaces between columns.
pub(crate) fn render_columns<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for (i, header) in headers.iter().enumerate() {
        widths[i] = header.chars().count();
    }
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_line = |cells: Vec<&str>| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:>width$}", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_line(headers.to_vec());
    for row in rows {
        push_line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Census {
        Census::from_rows(vec![
            CensusRow::new("builtins.int", 300, 8_400),
            CensusRow::new("builtins.str", 1_200, 80_000),
            CensusRow::new("app.Node", 100, 5_600),
            CensusRow::new("builtins.int", 10, 280),
        ])
    }

    #[test]
    fn rows_are_merged_by_name_and_sorted_by_size() {
        let census = sample();
        let names: Vec<_> = census.rows().iter().map(|r| r.type_name.as_str()).collect();
        assert_eq!(names, ["builtins.str", "builtins.int", "app.Node"]);
        assert_eq!(
            census.get("builtins.int"),
            Some(&CensusRow::new("builtins.int", 310, 8_680))
        );
        assert_eq!(census.total_count(), 1_610);
        assert_eq!(census.total_size(), 94_280);
    }

    #[test]
    fn table_is_aligned_with_human_units() {
        let table = sample().render_table(None);
        assert_eq!(
            table,
            "memlens census: 1,610 objects, 92.1 KiB in 3 types\n\
             objects      size  share  type\n  \
               1,200  78.1 KiB  84.9%  builtins.str\n    \
                 310   8.5 KiB   9.2%  builtins.int\n    \
                 100   5.5 KiB   5.9%  app.Node\n"
        );
    }

    #[test]
    fn a_limited_table_summarizes_the_rest() {
        let table = sample().render_table(Some(1));
        assert!(
            table.ends_with("... 2 more types: 410 objects, 13.9 KiB\n"),
            "{table}"
        );
    }

    #[test]
    fn json_lists_every_type() {
        let json = Census::from_rows(vec![CensusRow::new("a.\"b\"", 2, 64)]).to_json();
        assert_eq!(
            json,
            r#"{"total_count": 2, "total_size": 64, "types": {"a.\"b\"": {"count": 2, "size": 64}}}"#
        );
    }

    #[test]
    fn an_empty_census_renders() {
        let census = Census::default();
        assert!(census
            .render_table(None)
            .starts_with("memlens census: 0 objects, 0 B in 0 types"));
    }
}

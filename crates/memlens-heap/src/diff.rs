//! Census diff: what grew and what shrank between two censuses.

use std::collections::HashMap;

use crate::census::{render_columns, Census};
use crate::json::push_json_string;
use crate::units::{group_thousands, human_bytes, signed_human_bytes};

/// One type's change between two censuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffRow {
    /// The type, as `module.qualname`.
    pub type_name: String,
    /// Objects in the first census.
    pub count_before: u64,
    /// Objects in the second census.
    pub count_after: u64,
    /// Bytes in the first census.
    pub size_before: u64,
    /// Bytes in the second census.
    pub size_after: u64,
}

impl DiffRow {
    /// Change in the number of objects (positive: growth).
    pub fn count_delta(&self) -> i64 {
        self.count_after as i64 - self.count_before as i64
    }

    /// Change in bytes (positive: growth).
    pub fn size_delta(&self) -> i64 {
        self.size_after as i64 - self.size_before as i64
    }
}

/// The types whose count or size changed, biggest growth first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CensusDiff {
    rows: Vec<DiffRow>,
}

const DISPLAY_ROWS: usize = 25;

/// Compares two censuses: `after` minus `before`, types that did not change left out.
pub fn census_diff(before: &Census, after: &Census) -> CensusDiff {
    let mut by_name: HashMap<&str, DiffRow> = HashMap::new();
    for row in before.rows() {
        let entry = by_name
            .entry(&row.type_name)
            .or_insert_with(|| empty_row(&row.type_name));
        entry.count_before = row.count;
        entry.size_before = row.size;
    }
    for row in after.rows() {
        let entry = by_name
            .entry(&row.type_name)
            .or_insert_with(|| empty_row(&row.type_name));
        entry.count_after = row.count;
        entry.size_after = row.size;
    }
    let mut rows: Vec<DiffRow> = by_name
        .into_values()
        .filter(|row| row.count_delta() != 0 || row.size_delta() != 0)
        .collect();
    rows.sort_by(|a, b| {
        b.size_delta()
            .cmp(&a.size_delta())
            .then(b.count_delta().cmp(&a.count_delta()))
            .then(a.type_name.cmp(&b.type_name))
    });
    CensusDiff { rows }
}

fn empty_row(type_name: &str) -> DiffRow {
    DiffRow {
        type_name: type_name.to_string(),
        count_before: 0,
        count_after: 0,
        size_before: 0,
        size_after: 0,
    }
}

impl CensusDiff {
    /// The changed types, biggest growth in bytes first, shrinking types last.
    pub fn rows(&self) -> &[DiffRow] {
        &self.rows
    }

    /// Net change in the number of objects.
    pub fn count_delta(&self) -> i64 {
        self.rows.iter().map(DiffRow::count_delta).sum()
    }

    /// Net change in bytes.
    pub fn size_delta(&self) -> i64 {
        self.rows.iter().map(DiffRow::size_delta).sum()
    }

    /// The diff as an aligned table; `limit` rows at most (`None`: all).
    pub fn render_table(&self, limit: Option<usize>) -> String {
        let mut out = format!(
            "memlens census diff: {} objects, {} in {} changed types\n",
            signed_count(self.count_delta()),
            signed_human_bytes(self.size_delta()),
            group_thousands(self.rows.len() as i64)
        );
        if self.rows.is_empty() {
            out.push_str("no type changed\n");
            return out;
        }
        let shown = limit.unwrap_or(usize::MAX).min(self.rows.len());
        let cells: Vec<[String; 5]> = self.rows[..shown]
            .iter()
            .map(|row| {
                [
                    signed_count(row.count_delta()),
                    signed_human_bytes(row.size_delta()),
                    group_thousands(row.count_after as i64),
                    human_bytes(row.size_after),
                    row.type_name.clone(),
                ]
            })
            .collect();
        out.push_str(&render_columns(
            &["+objects", "+size", "objects", "size", "type"],
            &cells,
        ));
        if shown < self.rows.len() {
            let rest = &self.rows[shown..];
            out.push_str(&format!(
                "... {} more changed types: {} objects, {}\n",
                group_thousands(rest.len() as i64),
                signed_count(rest.iter().map(DiffRow::count_delta).sum()),
                signed_human_bytes(rest.iter().map(DiffRow::size_delta).sum())
            ));
        }
        out
    }

    /// The diff as JSON: `{"count_delta", "size_delta", "types": {name: {…}}}`.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"count_delta\": {}, \"size_delta\": {}, \"types\": {{",
            self.count_delta(),
            self.size_delta()
        );
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_json_string(&mut out, &row.type_name);
            out.push_str(&format!(
                ": {{\"count_delta\": {}, \"size_delta\": {}, \"count_before\": {}, \"count_after\": {}, \"size_before\": {}, \"size_after\": {}}}",
                row.count_delta(),
                row.size_delta(),
                row.count_before,
                row.count_after,
                row.size_before,
                row.size_after
            ));
        }
        out.push_str("}}");
        out
    }
}

impl std::fmt::Display for CensusDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_table(Some(DISPLAY_ROWS)))
    }
}

fn signed_count(delta: i64) -> String {
    if delta > 0 {
        format!("+{}", group_thousands(delta))
    } else {
        group_thousands(delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::CensusRow;

    #[test]
    fn growth_comes_first_and_unchanged_types_are_left_out() {
        let before = Census::from_rows(vec![
            CensusRow::new("builtins.str", 10, 600),
            CensusRow::new("builtins.int", 5, 140),
            CensusRow::new("app.Gone", 1, 48),
        ]);
        let after = Census::from_rows(vec![
            CensusRow::new("builtins.str", 10, 600),
            CensusRow::new("builtins.int", 1_005, 28_140),
            CensusRow::new("app.Node", 2, 96),
        ]);
        let diff = census_diff(&before, &after);
        let names: Vec<_> = diff.rows().iter().map(|r| r.type_name.as_str()).collect();
        assert_eq!(names, ["builtins.int", "app.Node", "app.Gone"]);
        assert_eq!(diff.count_delta(), 1_001);
        assert_eq!(diff.size_delta(), 28_048);
        assert_eq!(
            diff.render_table(None),
            "memlens census diff: +1,001 objects, +27.4 KiB in 3 changed types\n\
             +objects      +size  objects      size  type\n  \
               +1,000  +27.3 KiB    1,005  27.5 KiB  builtins.int\n      \
                   +2      +96 B        2      96 B  app.Node\n      \
                   -1      -48 B        0       0 B  app.Gone\n"
        );
    }

    #[test]
    fn identical_censuses_give_an_empty_diff() {
        let census = Census::from_rows(vec![CensusRow::new("builtins.str", 10, 600)]);
        let diff = census_diff(&census, &census);
        assert!(diff.rows().is_empty());
        assert!(diff.render_table(None).ends_with("no type changed\n"));
        assert_eq!(
            diff.to_json(),
            r#"{"count_delta": 0, "size_delta": 0, "types": {}}"#
        );
    }
}

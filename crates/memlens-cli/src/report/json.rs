//! `--json` of the capture reports: the facts of summary, table, tree, stats
//! and diff as one versioned document each (schema `memlens.<verb>/1`,
//! docs/reports.md "JSON"). The rows are the ones the text reports print,
//! computed by the same functions in [`super::text`].
//!
//! Bytes and blocks are integers: exact captures count them, sampled ones
//! estimate them (rounded here, and `"estimated": true` says so).

use memlens_trace::format::Mode;
use memlens_trace::profile::{Amount, Metric, Profile};
use memlens_trace::reader::Ending;
use serde_json::{json, Map, Value};

use super::text::{self, SortBy};

/// The version of every document written here; bumped when a field changes
/// meaning or goes away (new fields do not bump it).
const VERSION: u32 = 1;

fn whole(value: f64) -> Value {
    // Estimates are fractional; a count of bytes or blocks is not.
    let rounded = value.round();
    if rounded.abs() < 9.0e15 {
        json!(rounded as i64)
    } else {
        json!(rounded)
    }
}

fn amount(a: Amount) -> Value {
    json!({ "bytes": whole(a.bytes), "blocks": whole(a.count) })
}

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Allocated => "allocated",
        Metric::Peak => "peak",
        Metric::Leaks => "leaks",
    }
}

fn location(profile: &Profile, location: Option<u32>) -> Value {
    match location.and_then(|l| profile.locations().get(l as usize)) {
        Some(l) => json!({ "function": l.function, "file": l.filename, "line": l.line }),
        None => Value::Null,
    }
}

fn captures(profile: &Profile) -> Value {
    let list: Vec<Value> = profile
        .processes()
        .iter()
        .map(|p| {
            let h = &p.header;
            let (mode, interval) = match h.mode {
                Mode::Exact => ("exact", Value::Null),
                Mode::Sampled { mean_interval } => ("sampled", json!(mean_interval)),
            };
            let cut = match &p.ending {
                Ending::Cut { reason, .. } => json!(reason),
                Ending::Complete { .. } => Value::Null,
            };
            json!({
                "path": p.path.display().to_string(),
                "pid": h.pid,
                "ppid": h.ppid,
                "python": h.python_version,
                "argv": h.argv,
                "mode": mode,
                "sample_interval": interval,
                "max_frames": h.max_frames,
                "native": h.native,
                "start_unix_ns": h.start_unix_ns,
                "duration_ns": p.duration_ns,
                "peak_bytes": whole(p.peak_bytes),
                "peak_ns": p.peak_ns,
                "dropped_events": p.dropped_events,
                "cut": cut,
            })
        })
        .collect();
    Value::Array(list)
}

fn totals(profile: &Profile) -> Value {
    let t = profile.totals();
    json!({
        "allocated": { "bytes": whole(t.allocated_bytes), "blocks": whole(t.allocations) },
        "frees": whole(t.frees),
        "peak_bytes": whole(t.peak_bytes),
        "leaked": { "bytes": whole(t.leaked_bytes), "blocks": whole(t.leaked_blocks) },
    })
}

/// The fields every capture document starts with.
fn document(verb: &str, profile: &Profile, metric: Metric) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("schema".into(), json!(format!("memlens.{verb}/{VERSION}")));
    doc.insert("captures".into(), captures(profile));
    doc.insert("estimated".into(), json!(profile.is_sampled()));
    doc.insert("metric".into(), json!(metric_name(metric)));
    doc.insert("totals".into(), totals(profile));
    doc
}

/// `memlens summary --json`.
pub fn summary(profile: &Profile, metric: Metric, limit: usize) -> Value {
    let mut doc = document("summary", profile, metric);
    let functions: Vec<Value> = text::top_functions(profile, metric)
        .into_iter()
        .take(limit)
        .map(|row| {
            json!({
                "function": row.function,
                "file": row.filename,
                "line": row.line,
                "total": amount(row.total),
                "own": amount(row.own),
            })
        })
        .collect();
    doc.insert("functions".into(), Value::Array(functions));
    Value::Object(doc)
}

fn sites(profile: &Profile, sites: &[(Option<u32>, Amount)], limit: usize) -> Value {
    Value::Array(
        sites
            .iter()
            .take(limit)
            .map(|(loc, a)| {
                json!({
                    "site": location(profile, *loc),
                    "bytes": whole(a.bytes),
                    "blocks": whole(a.count),
                })
            })
            .collect(),
    )
}

/// `memlens table --json`.
pub fn table(profile: &Profile, metric: Metric, limit: usize, sort: SortBy) -> Value {
    let mut doc = document("table", profile, metric);
    let ranked = text::ranked_sites(profile, metric, sort);
    let all: Amount = ranked.iter().fold(Amount::default(), |acc, (_, a)| Amount {
        bytes: acc.bytes + a.bytes,
        count: acc.count + a.count,
    });
    doc.insert(
        "sort".into(),
        json!(if sort == SortBy::Bytes {
            "bytes"
        } else {
            "blocks"
        }),
    );
    doc.insert("site_count".into(), json!(ranked.len()));
    doc.insert("sites_total".into(), amount(all));
    doc.insert("sites".into(), sites(profile, &ranked, limit));
    Value::Object(doc)
}

/// `memlens tree --json`: the pruned tree as a flat list in depth-first
/// order, each node naming its parent (`null` under the root).
pub fn tree(
    profile: &Profile,
    metric: Metric,
    min_percent: f64,
    max_children: usize,
    max_depth: usize,
) -> Value {
    let mut doc = document("tree", profile, metric);
    let (rows, all) = text::pruned_tree(profile, metric, min_percent, max_children, max_depth);
    let nodes = profile.nodes();
    let listed: Vec<Value> = rows
        .iter()
        .map(|row| {
            let node = &nodes[row.node as usize];
            let parent = (node.parent != 0 && node.parent != u32::MAX).then_some(node.parent);
            json!({
                "id": row.node,
                "parent": parent,
                "depth": row.depth,
                "frame": location(profile, (node.location != u32::MAX).then_some(node.location)),
                "total": amount(row.amount),
                "own": amount(node.stats.get(metric)),
            })
        })
        .collect();
    doc.insert("min_percent".into(), json!(min_percent));
    doc.insert("root".into(), amount(all));
    doc.insert("nodes".into(), Value::Array(listed));
    Value::Object(doc)
}

/// `memlens stats --json`.
pub fn stats(profile: &Profile, metric: Metric) -> Value {
    let mut doc = document("stats", profile, metric);
    let threads: Vec<Value> = profile
        .processes()
        .iter()
        .flat_map(|p| {
            p.threads
                .iter()
                .map(move |(id, name)| json!({ "pid": p.header.pid, "id": id, "name": name }))
        })
        .collect();
    doc.insert("threads".into(), Value::Array(threads));
    let histogram: Vec<Value> = profile
        .size_histogram()
        .iter()
        .enumerate()
        .filter(|(_, a)| a.count > 0.0)
        .map(|(b, a)| {
            // Bucket b holds sizes with b significant bits: [2^(b-1), 2^b - 1]
            // (b is at most 64, so both fit a u64).
            let (low, high) = match b {
                0 => (0u128, 0u128),
                b => (1u128 << (b - 1), (1u128 << b) - 1),
            };
            json!({
                "min_size": low as u64,
                "max_size": high as u64,
                "blocks": whole(a.count),
                "bytes": whole(a.bytes),
            })
        })
        .collect();
    doc.insert("size_histogram".into(), Value::Array(histogram));
    let mut allocators = Map::new();
    for (i, a) in profile.by_allocator().iter().enumerate() {
        if a.count > 0.0 {
            if let Some(name) = text::ALLOCATORS.get(i) {
                allocators.insert((*name).into(), amount(*a));
            }
        }
    }
    doc.insert("allocators".into(), Value::Object(allocators));
    doc.insert(
        "top_by_bytes".into(),
        sites(
            profile,
            &text::ranked_sites(profile, metric, SortBy::Bytes),
            5,
        ),
    );
    doc.insert(
        "top_by_blocks".into(),
        sites(
            profile,
            &text::ranked_sites(profile, metric, SortBy::Count),
            5,
        ),
    );
    Value::Object(doc)
}

/// `memlens diff --json`.
pub fn diff(before: &Profile, after: &Profile, metric: Metric, limit: usize) -> Value {
    let rows = text::grown_sites(before, after, metric);
    let grown: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|(label, b, a)| {
            json!({
                "site_label": label,
                "before": amount(*b),
                "after": amount(*a),
                "growth": amount(Amount { bytes: a.bytes - b.bytes, count: a.count - b.count }),
            })
        })
        .collect();
    json!({
        "schema": format!("memlens.diff/{VERSION}"),
        "metric": metric_name(metric),
        "estimated": before.is_sampled() || after.is_sampled(),
        "before": { "captures": captures(before), "totals": totals(before) },
        "after": { "captures": captures(after), "totals": totals(after) },
        "grown_site_count": rows.len(),
        "grown": grown,
    })
}

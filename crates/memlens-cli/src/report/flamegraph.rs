//! `memlens flamegraph`: one self-contained HTML file — the aggregated call
//! tree and the memory-over-time series embedded as JSON, drawn by our own
//! script (no external scripts, no CDN) on a canvas.
//!
//! The tree is aggregated here, so the page's size depends on the number of
//! distinct call stacks, not on the number of events. Branches too small to
//! see (under a millionth of every figure) are folded into their caller.

use memlens_trace::format::Mode;
use memlens_trace::profile::{Amount, Metric, Profile};
use serde_json::{json, Value};

const TEMPLATE: &str = include_str!("flamegraph.html");

/// Below this share of every figure a branch is folded into its caller.
const FOLD_BELOW: f64 = 1e-6;

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Allocated => "allocated",
        Metric::Peak => "peak",
        Metric::Leaks => "leaks",
    }
}

/// The data the page draws.
pub fn data(profile: &Profile, initial: Metric, title: &str) -> Value {
    let metrics = [Metric::Allocated, Metric::Peak, Metric::Leaks];
    let nodes = profile.nodes();
    let inclusive: Vec<Vec<Amount>> = metrics.iter().map(|&m| profile.inclusive(m)).collect();
    let totals: Vec<f64> = inclusive.iter().map(|inc| inc[0].bytes).collect();
    let keep: Vec<bool> = (0..nodes.len())
        .map(|i| {
            i == 0
                || (0..3)
                    .any(|m| totals[m] > 0.0 && inclusive[m][i].bytes >= totals[m] * FOLD_BELOW)
        })
        .collect();
    // Own figures, with folded branches added to the nearest kept ancestor.
    let mut own: Vec<[Amount; 3]> = nodes
        .iter()
        .map(|n| [n.stats.allocated, n.stats.peak, n.stats.leaks])
        .collect();
    for i in (1..nodes.len()).rev() {
        if !keep[i] {
            let parent = nodes[i].parent as usize;
            let moved = own[i];
            for m in 0..3 {
                own[parent][m].bytes += moved[m].bytes;
                own[parent][m].count += moved[m].count;
            }
        }
    }
    let mut new_index = vec![u32::MAX; nodes.len()];
    let mut parent = Vec::new();
    let mut location = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); 6];
    for (i, node) in nodes.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        new_index[i] = parent.len() as u32;
        parent.push(if i == 0 {
            -1
        } else {
            i64::from(new_index[node.parent as usize])
        });
        location.push(if i == 0 { -1 } else { i64::from(node.location) });
        for m in 0..3 {
            values[2 * m].push(own[i][m].bytes.round());
            values[2 * m + 1].push(own[i][m].count.round());
        }
    }
    let locations: Vec<Value> = profile
        .locations()
        .iter()
        .map(|l| json!([l.function, l.filename, l.line]))
        .collect();
    let processes: Vec<Value> = profile
        .processes()
        .iter()
        .map(|p| {
            json!({
                "pid": p.header.pid,
                "command": p.header.argv.join(" "),
                "python": p.header.python_version,
                "sampled": matches!(p.header.mode, Mode::Sampled { .. }),
                "duration_ms": p.duration_ns as f64 / 1e6,
                "peak": p.peak_bytes.round(),
                "peak_ms": p.peak_ns as f64 / 1e6,
                "timeline": p.timeline.iter().map(|(ns, b)| json!([(*ns as f64 / 1e6), b.round()])).collect::<Vec<_>>(),
            })
        })
        .collect();
    let totals = profile.totals();
    json!({
        "title": title,
        "sampled": profile.is_sampled(),
        "initial": metric_name(initial),
        "locations": locations,
        "nodes": {
            "parent": parent,
            "location": location,
            "allocated": values[0], "allocated_count": values[1],
            "peak": values[2], "peak_count": values[3],
            "leaks": values[4], "leaks_count": values[5],
        },
        "totals": {
            "allocated": totals.allocated_bytes.round(),
            "allocations": totals.allocations.round(),
            "peak": totals.peak_bytes.round(),
            "leaks": totals.leaked_bytes.round(),
        },
        "processes": processes,
    })
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page.
pub fn render(profile: &Profile, initial: Metric, title: &str) -> String {
    let data = data(profile, initial, title).to_string();
    // JSON inside a script element must not close it.
    let data = data.replace("</", "<\\/").replace("<!--", "<\\!--");
    // Split first, so that neither substitution can touch the other's text.
    let (head, rest) = TEMPLATE.split_once("__TITLE__").unwrap_or((TEMPLATE, ""));
    let (middle, tail) = rest.split_once("__DATA__").unwrap_or((rest, ""));
    let title = escape_html(title);
    let mut page = String::with_capacity(TEMPLATE.len() + title.len() + data.len());
    for part in [head, &title, middle, &data, tail] {
        page.push_str(part);
    }
    page
}

//! The terminal reports: summary, table, tree, stats and diff. Each renders
//! to a `String` so tests can snapshot exactly what a user reads.

use std::collections::HashMap;
use std::fmt::Write as _;

use comfy_table::{Cell, CellAlignment};
use memlens_trace::format::Mode;
use memlens_trace::profile::{Amount, Metric, Profile, SIZE_BUCKETS};

use super::units::{approx, bytes, count, duration, percent};

/// The allocator domains, in the order of [`Profile::by_allocator`].
pub(crate) const ALLOCATORS: [&str; 6] = [
    "PyMem_RawMalloc",
    "PyMem_Malloc",
    "PyObject_Malloc",
    "malloc (native)",
    "mmap (native)",
    "numpy data",
];

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// One line per process: file, pid, Python, mode, command, duration.
pub fn headline(profile: &Profile) -> String {
    let mut out = String::new();
    for process in profile.processes() {
        let h = &process.header;
        let mode = match h.mode {
            Mode::Exact => "exact".to_string(),
            Mode::Sampled { mean_interval } => {
                format!("sampled every {} on average", bytes(mean_interval as f64))
            }
        };
        let frames = if h.max_frames == 1 {
            "1 frame".to_string()
        } else {
            format!("{} frames", h.max_frames)
        };
        let _ = writeln!(out, "Capture   {}", process.path.display());
        let _ = writeln!(
            out,
            "Process   pid {} (parent {}), Python {}, {mode}, {frames}{}",
            h.pid,
            h.ppid,
            h.python_version,
            if h.native { ", native" } else { "" }
        );
        let _ = writeln!(out, "Command   {}", h.argv.join(" "));
        let _ = writeln!(out, "Duration  {}", duration(process.duration_ns));
    }
    if profile.is_sampled() {
        out.push_str("Figures marked ~ are estimates from a sampled capture.\n");
    }
    out
}

fn totals_lines(profile: &Profile) -> String {
    let t = profile.totals();
    let est = approx(profile.is_sampled());
    let peak_label = if profile.processes().len() > 1 {
        "Peak (sum of each process's peak)"
    } else {
        "Peak"
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Allocated {est}{} in {est}{} blocks",
        bytes(t.allocated_bytes),
        count(t.allocations)
    );
    let _ = writeln!(out, "{peak_label:<9} {est}{}", bytes(t.peak_bytes));
    let _ = writeln!(
        out,
        "Leaked    {est}{} in {est}{} blocks (still live at exit)",
        bytes(t.leaked_bytes),
        count(t.leaked_blocks)
    );
    out
}

fn metric_total(profile: &Profile, metric: Metric) -> f64 {
    let t = profile.totals();
    match metric {
        Metric::Allocated => t.allocated_bytes,
        Metric::Peak => t.peak_bytes,
        Metric::Leaks => t.leaked_bytes,
    }
}

/// One function of `memlens summary`: memory under it (callees included,
/// a recursive function counted once per stack) and in its own frames.
pub struct FunctionRow<'a> {
    pub function: &'a str,
    pub filename: &'a str,
    /// The first line of the function seen in the capture.
    pub line: u32,
    pub total: Amount,
    pub own: Amount,
}

/// The functions of a capture by memory under them, largest first.
pub fn top_functions(profile: &Profile, metric: Metric) -> Vec<FunctionRow<'_>> {
    // Functions: own and inclusive (a recursive function counted once per stack).
    let nodes = profile.nodes();
    let locations = profile.locations();
    let mut functions: HashMap<(&str, &str), (Amount, Amount, u32)> = HashMap::new();
    for node in nodes.iter().skip(1) {
        let own = node.stats.get(metric);
        let loc = &locations[node.location as usize];
        let entry = functions.entry((&loc.function, &loc.filename)).or_insert((
            Amount::default(),
            Amount::default(),
            loc.line,
        ));
        entry.1.bytes += own.bytes;
        entry.1.count += own.count;
        entry.2 = entry.2.min(loc.line);
    }
    let inclusive = profile.inclusive(metric);
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let loc = &locations[node.location as usize];
        let key = (loc.function.as_str(), loc.filename.as_str());
        let mut ancestor = node.parent;
        let mut recursive = false;
        while ancestor != 0 && ancestor != u32::MAX {
            let a = &nodes[ancestor as usize];
            let al = &locations[a.location as usize];
            if al.function == key.0 && al.filename == key.1 {
                recursive = true;
                break;
            }
            ancestor = a.parent;
        }
        if !recursive {
            if let Some(entry) = functions.get_mut(&key) {
                entry.0.bytes += inclusive[i].bytes;
                entry.0.count += inclusive[i].count;
            }
        }
    }
    let mut rows: Vec<_> = functions
        .into_iter()
        .filter(|(_, (total, _, _))| total.bytes > 0.0)
        .collect();
    rows.sort_by(|a, b| b.1 .0.bytes.total_cmp(&a.1 .0.bytes).then(a.0.cmp(&b.0)));
    rows.into_iter()
        .map(|((function, filename), (total, own, line))| FunctionRow {
            function,
            filename,
            line,
            total,
            own,
        })
        .collect()
}

/// `memlens summary`: the headline, totals and the top functions.
pub fn summary(profile: &Profile, metric: Metric, limit: usize) -> String {
    let mut out = headline(profile);
    out.push('\n');
    out.push_str(&totals_lines(profile));
    out.push('\n');
    let est = approx(profile.is_sampled());
    let rows = top_functions(profile, metric);
    let whole = metric_total(profile, metric);
    let _ = writeln!(
        out,
        "Top {} functions by memory {}",
        limit.min(rows.len()),
        metric.describe()
    );
    let mut table = super::table();
    table.set_header(vec!["Function", "Total", "%", "Own", "Own blocks", "File"]);
    for row in rows.into_iter().take(limit) {
        table.add_row(vec![
            Cell::new(row.function),
            right(format!("{est}{}", bytes(row.total.bytes))),
            right(percent(row.total.bytes, whole)),
            right(format!("{est}{}", bytes(row.own.bytes))),
            right(format!("{est}{}", count(row.own.count))),
            Cell::new(format!("{}:{}", row.filename, row.line)),
        ]);
    }
    let _ = writeln!(out, "{table}");
    out
}

/// How `memlens table` orders its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SortBy {
    /// Most bytes first.
    Bytes,
    /// Most blocks first.
    Count,
}

/// The allocation sites (innermost frame) ranked by bytes or by blocks;
/// `None` is "no Python frame".
pub fn ranked_sites(profile: &Profile, metric: Metric, sort: SortBy) -> Vec<(Option<u32>, Amount)> {
    let mut sites = profile.sites(metric);
    if sort == SortBy::Count {
        sites.sort_by(|a, b| {
            b.1.count
                .total_cmp(&a.1.count)
                .then(b.1.bytes.total_cmp(&a.1.bytes))
        });
    }
    sites
}

/// `memlens table`: the top allocation sites (innermost frame).
pub fn table(profile: &Profile, metric: Metric, limit: usize, sort: SortBy) -> String {
    let est = approx(profile.is_sampled());
    let sites = ranked_sites(profile, metric, sort);
    let whole_bytes: f64 = sites.iter().map(|s| s.1.bytes).sum();
    let whole_count: f64 = sites.iter().map(|s| s.1.count).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Top {} of {} allocation sites by {}, memory {}: {est}{} in {est}{} blocks",
        limit.min(sites.len()),
        sites.len(),
        if sort == SortBy::Bytes {
            "bytes"
        } else {
            "blocks"
        },
        metric.describe(),
        bytes(whole_bytes),
        count(whole_count)
    );
    let mut table = super::table();
    table.set_header(vec!["#", "Bytes", "%", "Blocks", "%", "Avg size", "Site"]);
    for (rank, (location, amount)) in sites.iter().take(limit).enumerate() {
        let average = if amount.count > 0.0 {
            amount.bytes / amount.count
        } else {
            0.0
        };
        table.add_row(vec![
            right((rank + 1).to_string()),
            right(format!("{est}{}", bytes(amount.bytes))),
            right(percent(amount.bytes, whole_bytes)),
            right(format!("{est}{}", count(amount.count))),
            right(percent(amount.count, whole_count)),
            right(bytes(average)),
            Cell::new(profile.site_label(*location)),
        ]);
    }
    let _ = writeln!(out, "{table}");
    out
}

/// One line of `memlens tree`: a call-tree node kept by the pruning, in
/// depth-first order (biggest branch first).
pub struct TreeRow {
    /// The node in [`Profile::nodes`].
    pub node: u32,
    /// Depth below the root, 1 for the outermost frames.
    pub depth: usize,
    /// Whether it is the last child shown under its parent.
    pub last: bool,
    /// Memory under it, callees included.
    pub amount: Amount,
}

/// The call tree pruned as `memlens tree` shows it: branches under
/// `min_percent` of the whole hidden, at most `max_children` under a frame,
/// `max_depth` frames deep. Returns the rows and the whole.
pub fn pruned_tree(
    profile: &Profile,
    metric: Metric,
    min_percent: f64,
    max_children: usize,
    max_depth: usize,
) -> (Vec<TreeRow>, Amount) {
    let inclusive = profile.inclusive(metric);
    let nodes = profile.nodes();
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate().skip(1) {
        children[node.parent as usize].push(i as u32);
    }
    for list in &mut children {
        list.sort_by(|a, b| {
            inclusive[*b as usize]
                .bytes
                .total_cmp(&inclusive[*a as usize].bytes)
                .then(a.cmp(b))
        });
    }
    let whole = inclusive[0];
    let threshold = whole.bytes * min_percent / 100.0;
    let mut rows = Vec::new();
    // Iterative walk: (node, is last child, depth).
    let mut stack: Vec<(u32, bool, usize)> = Vec::new();
    let push_children = |stack: &mut Vec<(u32, bool, usize)>, parent: u32, depth: usize| {
        let shown: Vec<u32> = children[parent as usize]
            .iter()
            .copied()
            .filter(|&c| {
                inclusive[c as usize].bytes > 0.0 && inclusive[c as usize].bytes >= threshold
            })
            .take(max_children)
            .collect();
        for (k, &child) in shown.iter().enumerate().rev() {
            stack.push((child, k + 1 == shown.len(), depth));
        }
    };
    push_children(&mut stack, 0, 1);
    while let Some((node, last, depth)) = stack.pop() {
        rows.push(TreeRow {
            node,
            depth,
            last,
            amount: inclusive[node as usize],
        });
        if depth < max_depth {
            push_children(&mut stack, node, depth + 1);
        }
    }
    (rows, whole)
}

/// `memlens tree`: the call tree, pruned to the branches that matter.
pub fn tree(
    profile: &Profile,
    metric: Metric,
    min_percent: f64,
    max_children: usize,
    max_depth: usize,
) -> String {
    let est = approx(profile.is_sampled());
    let (rows, whole) = pruned_tree(profile, metric, min_percent, max_children, max_depth);
    let whole = whole.bytes;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Call tree of memory {} (branches under {min_percent}% hidden)",
        metric.describe()
    );
    let _ = writeln!(
        out,
        "{:>11} {:>6}  <all>",
        format!("{est}{}", bytes(whole)),
        "100%"
    );
    // Whether each ancestor (by depth) was the last child: its column is blank.
    let mut lasts: Vec<bool> = Vec::new();
    for row in &rows {
        lasts.truncate(row.depth - 1);
        let prefix: String = lasts
            .iter()
            .map(|&last| if last { "   " } else { "│  " })
            .collect();
        lasts.push(row.last);
        let branch = if row.last { "└─ " } else { "├─ " };
        let location = &profile.locations()[profile.nodes()[row.node as usize].location as usize];
        let _ = writeln!(
            out,
            "{:>11} {:>6}  {prefix}{branch}{}  {}:{}",
            format!("{est}{}", bytes(row.amount.bytes)),
            percent(row.amount.bytes, whole),
            location.function,
            location.filename,
            location.line
        );
    }
    out
}

fn bucket_label(bucket: usize) -> String {
    // Powers of two print without decimals: "64 KiB".
    fn power(value: u128) -> String {
        bytes(value as f64).replace(".0 ", " ")
    }
    match bucket {
        0 => "0 B".to_string(),
        1 => "1 B".to_string(),
        b if b <= 10 => format!("{}–{} B", 1u128 << (b - 1), (1u128 << b) - 1),
        b => format!("{}–{}", power(1u128 << (b - 1)), power(1u128 << b)),
    }
}

/// `memlens stats`: totals, the size histogram, allocators, threads and top sites.
pub fn stats(profile: &Profile, metric: Metric) -> String {
    let est = approx(profile.is_sampled());
    let t = profile.totals();
    let mut out = headline(profile);
    out.push('\n');
    out.push_str(&totals_lines(profile));
    let _ = writeln!(out, "Frees     {est}{}", count(t.frees));
    let threads: Vec<&str> = profile
        .processes()
        .iter()
        .flat_map(|p| p.threads.iter().map(|(_, name)| name.as_str()))
        .collect();
    // Threads often share a name (the OS name is the program's): count them.
    let mut names: Vec<(&str, usize)> = Vec::new();
    for name in &threads {
        match names.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 += 1,
            None => names.push((name, 1)),
        }
    }
    let listed: Vec<String> = names
        .iter()
        .map(|(name, n)| {
            if *n > 1 {
                format!("{name} ×{n}")
            } else {
                name.to_string()
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "Threads   {}{}",
        threads.len(),
        if listed.is_empty() {
            String::new()
        } else {
            format!(": {}", listed.join(", "))
        }
    );
    let dropped: u64 = profile.processes().iter().map(|p| p.dropped_events).sum();
    if dropped > 0 {
        let _ = writeln!(
            out,
            "Dropped   {} events (the writer fell behind)",
            count(dropped as f64)
        );
    }
    for p in profile.processes().iter().filter(|p| p.peak_bytes > 0.0) {
        let _ = writeln!(
            out,
            "Peak of pid {} reached at {}",
            p.header.pid,
            duration(p.peak_ns)
        );
    }
    out.push('\n');
    let histogram = profile.size_histogram();
    let used: Vec<usize> = (0..SIZE_BUCKETS)
        .filter(|&b| histogram[b].count > 0.0)
        .collect();
    let _ = writeln!(out, "Allocation sizes (all allocations)");
    if let (Some(&first), Some(&last)) = (used.first(), used.last()) {
        let most = used.iter().map(|&b| histogram[b].count).fold(0.0, f64::max);
        for (b, amount) in histogram.iter().enumerate().take(last + 1).skip(first) {
            let width = if most > 0.0 {
                (amount.count / most * 30.0).round() as usize
            } else {
                0
            };
            let _ = writeln!(
                out,
                "  {:>15}  {:>13}  {:>6}  {}",
                bucket_label(b),
                format!("{est}{}", count(amount.count)),
                percent(amount.count, t.allocations),
                "█".repeat(width)
            );
        }
    }
    out.push('\n');
    let mut table = super::table();
    table.set_header(vec!["Allocator", "Blocks", "Bytes"]);
    for (i, amount) in profile.by_allocator().iter().enumerate() {
        if amount.count > 0.0 {
            table.add_row(vec![
                Cell::new(ALLOCATORS[i]),
                right(format!("{est}{}", count(amount.count))),
                right(format!("{est}{}", bytes(amount.bytes))),
            ]);
        }
    }
    let _ = writeln!(out, "{table}");
    out.push('\n');
    for (title, sort) in [("bytes", SortBy::Bytes), ("blocks", SortBy::Count)] {
        let sites = ranked_sites(profile, metric, sort);
        let _ = writeln!(out, "Top 5 sites by {title}, memory {}", metric.describe());
        for (location, amount) in sites.iter().take(5) {
            let _ = writeln!(
                out,
                "  {:>11}  {:>13} blocks  {}",
                format!("{est}{}", bytes(amount.bytes)),
                format!("{est}{}", count(amount.count)),
                profile.site_label(*location)
            );
        }
    }
    out
}

/// The sites (by label, so captures of different runs match) whose memory
/// grew from `before` to `after`, most growth first: (label, before, after).
pub fn grown_sites(
    before: &Profile,
    after: &Profile,
    metric: Metric,
) -> Vec<(String, Amount, Amount)> {
    let by_label = |profile: &Profile| -> HashMap<String, Amount> {
        let mut map: HashMap<String, Amount> = HashMap::new();
        for (location, amount) in profile.sites(metric) {
            let entry = map.entry(profile.site_label(location)).or_default();
            entry.bytes += amount.bytes;
            entry.count += amount.count;
        }
        map
    };
    let a = by_label(before);
    let b = by_label(after);
    let mut rows: Vec<(String, Amount, Amount)> = b
        .iter()
        .map(|(label, after)| {
            (
                label.clone(),
                a.get(label).copied().unwrap_or_default(),
                *after,
            )
        })
        .filter(|(_, before, after)| after.bytes > before.bytes)
        .collect();
    rows.sort_by(|x, y| {
        (y.2.bytes - y.1.bytes)
            .total_cmp(&(x.2.bytes - x.1.bytes))
            .then(x.0.cmp(&y.0))
    });
    rows
}

/// `memlens diff`: the sites whose memory grew from `before` to `after`.
pub fn diff(before: &Profile, after: &Profile, metric: Metric, limit: usize) -> String {
    let est = approx(before.is_sampled() || after.is_sampled());
    let rows = grown_sites(before, after, metric);
    let total_before = metric_total(before, metric);
    let total_after = metric_total(after, metric);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Memory {}: {est}{} before, {est}{} after ({}{est}{})",
        metric.describe(),
        bytes(total_before),
        bytes(total_after),
        if total_after >= total_before { "+" } else { "" },
        bytes(total_after - total_before)
    );
    if rows.is_empty() {
        let _ = writeln!(out, "No site grew.");
        return out;
    }
    let sites = if rows.len() == 1 { "site" } else { "sites" };
    let _ = writeln!(
        out,
        "{} {sites} grew; the top {}:",
        rows.len(),
        limit.min(rows.len())
    );
    let mut table = super::table();
    table.set_header(vec!["Growth", "Before", "After", "Blocks +/-", "Site"]);
    for (label, before, after) in rows.into_iter().take(limit) {
        let blocks = after.count - before.count;
        table.add_row(vec![
            right(format!("+{est}{}", bytes(after.bytes - before.bytes))),
            right(format!("{est}{}", bytes(before.bytes))),
            right(format!("{est}{}", bytes(after.bytes))),
            right(format!(
                "{}{est}{}",
                if blocks >= 0.0 { "+" } else { "" },
                count(blocks)
            )),
            Cell::new(label),
        ]);
    }
    let _ = writeln!(out, "{table}");
    out
}

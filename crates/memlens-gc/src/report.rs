//! From a log to what users read: pause distributions per generation, the
//! share of wall time in GC (overall and in the worst windows), the live set
//! after full collections and its slope, a gctrace-style line per
//! collection, and advice with the figures behind it.

use std::fmt::Write as _;

use memlens_heap::human_bytes;
use serde::Serialize;

use crate::event::{GcEvent, GcMeta};
use crate::file::GcLog;

/// The pause distribution and yield of one generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationStats {
    /// 0, 1 or 2.
    pub generation: u8,
    /// Collections of this generation.
    pub count: u64,
    /// Their pauses added up.
    pub total_ns: u64,
    /// Mean pause.
    pub mean_ns: u64,
    /// Median pause (nearest rank).
    pub p50_ns: u64,
    /// 90th percentile pause.
    pub p90_ns: u64,
    /// 99th percentile pause.
    pub p99_ns: u64,
    /// 99.9th percentile pause.
    pub p999_ns: u64,
    /// Longest pause.
    pub max_ns: u64,
    /// Objects freed.
    pub collected: u64,
    /// Objects that could not be freed.
    pub uncollectable: u64,
    /// Objects examined, when every collection reported it (3.15+).
    pub candidates: Option<u64>,
    /// collected ÷ candidates, when known.
    pub efficiency: Option<f64>,
    /// Collections per second of wall time.
    pub per_second: f64,
}

/// The window of a given length with the most time in GC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// The window's length in seconds (shorter than asked when the run is).
    pub length_s: f64,
    /// Where it starts, seconds since the monitor started.
    pub start_s: f64,
    /// Time in GC inside it.
    pub gc_ns: u64,
    /// gc_ns ÷ the window's length.
    pub share: f64,
}

/// The resident set after each full collection, and its trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSet {
    /// (seconds since start, RSS bytes) after each measured full collection.
    pub points: Vec<(f64, u64)>,
    /// Least-squares slope of those points, bytes per second (3+ points).
    pub slope_bytes_per_s: Option<f64>,
}

/// One piece of advice: what to do and the figures it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// A stable name: `uncollectable`, `disabled`, `explicit-collect`,
    /// `freeze`, `threshold`, `live-set-growth`, `version`.
    pub kind: &'static str,
    /// The advice, with its figures, in one paragraph.
    pub text: String,
}

/// Everything `memlens gc-report` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GcReport {
    /// The interpreter.
    pub python_version: String,
    /// The program's command line.
    pub argv: Vec<String>,
    /// Monitored wall time, seconds.
    pub duration_s: f64,
    /// Collections recorded.
    pub collections: u64,
    /// Collections seen but not recorded.
    pub dropped: u64,
    /// Collections per second.
    pub per_second: f64,
    /// Time in GC.
    pub gc_ns: u64,
    /// gc_ns ÷ wall time.
    pub gc_share: f64,
    /// The 1 s window with the most GC time.
    pub worst_1s: Option<Window>,
    /// The 10 s window with the most GC time.
    pub worst_10s: Option<Window>,
    /// Per generation, 0 to 2 (generations never collected included).
    pub generations: Vec<GenerationStats>,
    /// Objects freed in all.
    pub collected: u64,
    /// Objects that could not be freed in all.
    pub uncollectable: u64,
    /// `len(gc.garbage)` at the end minus at the start.
    pub garbage_growth: i64,
    /// The live set after full collections.
    pub live_set: LiveSet,
    /// What to change, if anything.
    pub advice: Vec<Advice>,
}

/// The value at quantile `q` of sorted `values` (nearest rank), 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// The wall time the report divides by: the monitor's duration, or the end
/// of the last collection if the metadata says less.
fn wall_ns(log: &GcLog) -> u64 {
    let last = log.events.iter().map(|e| e.end_ns).max().unwrap_or(0);
    log.meta.duration_ns.max(last)
}

/// Builds the report of `log`.
pub fn report(log: &GcLog) -> GcReport {
    let wall = wall_ns(log);
    let wall_s = wall as f64 / 1e9;
    let mut events = log.events.clone();
    events.sort_by_key(|e| (e.start_ns, e.end_ns));
    let generations: Vec<GenerationStats> = (0..=2u8)
        .map(|g| generation_stats(&events, g, wall_s))
        .collect();
    let gc_ns: u64 = events.iter().map(GcEvent::pause_ns).sum();
    let live_set = live_set(&events);
    let mut report = GcReport {
        python_version: log.meta.python_version.clone(),
        argv: log.meta.argv.clone(),
        duration_s: wall_s,
        collections: events.len() as u64,
        dropped: log.meta.dropped,
        per_second: ratio(events.len() as f64, wall_s),
        gc_ns,
        gc_share: ratio(gc_ns as f64, wall as f64),
        worst_1s: worst_window(&events, 1_000_000_000, wall),
        worst_10s: worst_window(&events, 10_000_000_000, wall),
        collected: generations.iter().map(|g| g.collected).sum(),
        uncollectable: generations.iter().map(|g| g.uncollectable).sum(),
        garbage_growth: log.meta.garbage_at_end as i64 - log.meta.garbage_at_start as i64,
        generations,
        live_set,
        advice: Vec::new(),
    };
    report.advice = crate::advice::advise(&report, &log.meta);
    report
}

fn generation_stats(events: &[GcEvent], generation: u8, wall_s: f64) -> GenerationStats {
    let mine: Vec<&GcEvent> = events
        .iter()
        .filter(|e| e.generation == generation)
        .collect();
    let mut pauses: Vec<u64> = mine.iter().map(|e| e.pause_ns()).collect();
    pauses.sort_unstable();
    let total_ns: u64 = pauses.iter().sum();
    let count = pauses.len() as u64;
    let collected: u64 = mine.iter().map(|e| e.collected).sum();
    let candidates = if mine.is_empty() {
        None
    } else {
        mine.iter()
            .map(|e| e.candidates)
            .try_fold(0u64, |sum, c| c.map(|c| sum.saturating_add(c)))
    };
    GenerationStats {
        generation,
        count,
        total_ns,
        mean_ns: total_ns.checked_div(count).unwrap_or(0),
        p50_ns: percentile(&pauses, 0.50),
        p90_ns: percentile(&pauses, 0.90),
        p99_ns: percentile(&pauses, 0.99),
        p999_ns: percentile(&pauses, 0.999),
        max_ns: pauses.last().copied().unwrap_or(0),
        collected,
        uncollectable: mine.iter().map(|e| e.uncollectable).sum(),
        candidates,
        efficiency: candidates
            .filter(|&c| c > 0)
            .map(|c| collected as f64 / c as f64),
        per_second: ratio(count as f64, wall_s),
    }
}

/// The window of `length` ns with the most GC time, starting at a
/// collection's start (a best window can always be slid to start at one).
/// `events` are sorted by start.
fn worst_window(events: &[GcEvent], length: u64, wall: u64) -> Option<Window> {
    if events.is_empty() {
        return None;
    }
    let length = length.min(wall.max(1));
    let mut prefix = Vec::with_capacity(events.len() + 1);
    prefix.push(0u64);
    for e in events {
        prefix.push(prefix[prefix.len() - 1] + e.pause_ns());
    }
    let mut best = (0u64, 0u64);
    let mut k = 0;
    for (i, e) in events.iter().enumerate() {
        let end = e.start_ns.saturating_add(length);
        k = k.max(i);
        while k < events.len() && events[k].start_ns < end {
            k += 1;
        }
        // Events i..k start inside the window; only the last can run past it.
        let mut inside = prefix[k] - prefix[i];
        inside -= events[k - 1].end_ns.saturating_sub(end);
        if inside > best.1 {
            best = (e.start_ns, inside);
        }
    }
    Some(Window {
        length_s: length as f64 / 1e9,
        start_s: best.0 as f64 / 1e9,
        gc_ns: best.1,
        share: ratio(best.1 as f64, length as f64),
    })
}

fn live_set(events: &[GcEvent]) -> LiveSet {
    let points: Vec<(f64, u64)> = events
        .iter()
        .filter(|e| e.generation == 2)
        .filter_map(|e| e.rss_bytes.map(|rss| (e.end_ns as f64 / 1e9, rss)))
        .collect();
    LiveSet {
        slope_bytes_per_s: slope(&points),
        points,
    }
}

/// Least-squares slope of `points`; None below 3 points or with no time span.
pub fn slope(points: &[(f64, u64)]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(x, y) in points {
        sxy += (x - mean_x) * (y as f64 - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// A duration for people: `812ns`, `45.2µs`, `12.3ms`, `1.24s`.
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{:.1}µs", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

/// One line per collection, like Go's `GODEBUG=gctrace=1`, in time order:
///
/// `gc 7 @1.204s 0.81%: gen2 12.345ms collected=120 uncollectable=0 examined=- rss=41.2MiB thread=140...`
///
/// The percentage is the share of wall time spent in GC from the start of
/// the run to the end of this collection.
pub fn gctrace(log: &GcLog) -> String {
    let mut events = log.events.clone();
    events.sort_by_key(|e| (e.start_ns, e.end_ns));
    let mut out = String::new();
    let mut spent = 0u64;
    for (n, e) in events.iter().enumerate() {
        spent += e.pause_ns();
        let rss = e
            .rss_bytes
            .map_or_else(|| "-".to_string(), |b| human_bytes(b).replace(' ', ""));
        let examined = e
            .candidates
            .map_or_else(|| "-".to_string(), |c| c.to_string());
        let _ = writeln!(
            out,
            "gc {} @{:.3}s {:.2}%: gen{} {:.3}ms collected={} uncollectable={} examined={} rss={} thread={}",
            n + 1,
            e.start_ns as f64 / 1e9,
            ratio(spent as f64, e.end_ns.max(1) as f64) * 100.0,
            e.generation,
            e.pause_ns() as f64 / 1e6,
            e.collected,
            e.uncollectable,
            examined,
            rss,
            e.thread
        );
    }
    out
}

/// The report as people read it.
pub fn render_text(report: &GcReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "GC monitor: {} collections in {:.2}s ({:.1}/s), {} in GC = {} of wall time",
        report.collections,
        report.duration_s,
        report.per_second,
        human_ns(report.gc_ns),
        percent(report.gc_share)
    );
    if !report.argv.is_empty() {
        let _ = writeln!(out, "program: {}", report.argv.join(" "));
    }
    if !report.python_version.is_empty() {
        let version = report
            .python_version
            .split_whitespace()
            .next()
            .unwrap_or("");
        let _ = writeln!(out, "python:  {version}");
    }
    if report.dropped > 0 {
        let _ = writeln!(
            out,
            "warning: {} collections were seen but not recorded",
            report.dropped
        );
    }
    let mut shown = None;
    for window in [&report.worst_1s, &report.worst_10s].into_iter().flatten() {
        // A run shorter than 1 s clamps both windows to its length: say it once.
        if shown == Some(window.length_s) {
            continue;
        }
        shown = Some(window.length_s);
        let _ = writeln!(
            out,
            "worst {:.1}s window: {} in GC ({}) from {:.3}s",
            window.length_s,
            human_ns(window.gc_ns),
            percent(window.share),
            window.start_s
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<4} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7} {:>10}",
        "gen",
        "count",
        "per s",
        "total",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "collected",
        "uncoll",
        "efficiency"
    );
    for g in &report.generations {
        // A generation never collected has no pauses: '-', not a 0ns that
        // reads as a measured instant collection.
        let pause = |ns: u64| {
            if g.count == 0 {
                "-".to_string()
            } else {
                human_ns(ns)
            }
        };
        let _ = writeln!(
            out,
            "{:<4} {:>8} {:>8.1} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7} {:>10}",
            g.generation,
            g.count,
            g.per_second,
            pause(g.total_ns),
            pause(g.p50_ns),
            pause(g.p90_ns),
            pause(g.p99_ns),
            pause(g.p999_ns),
            pause(g.max_ns),
            g.collected,
            g.uncollectable,
            g.efficiency.map_or_else(|| "-".to_string(), percent)
        );
    }
    out.push('\n');
    let points = &report.live_set.points;
    match (
        points.first(),
        points.last(),
        report.live_set.slope_bytes_per_s,
    ) {
        (Some(first), Some(last), slope) => {
            let _ = write!(
                out,
                "RSS after full collections: {} at {:.2}s -> {} at {:.2}s ({} points",
                human_bytes(first.1),
                first.0,
                human_bytes(last.1),
                last.0,
                points.len()
            );
            match slope {
                Some(s) if s < 0.0 => {
                    let _ = writeln!(out, ", slope -{}/s)", human_bytes((-s) as u64));
                }
                Some(s) => {
                    let _ = writeln!(out, ", slope +{}/s)", human_bytes(s as u64));
                }
                None => out.push_str(")\n"),
            }
        }
        _ => out.push_str("RSS after full collections: no full collection measured\n"),
    }
    if report.advice.is_empty() {
        out.push_str("\nadvice: none; the collector is not a problem here\n");
    } else {
        out.push_str("\nadvice:\n");
        for a in &report.advice {
            let _ = writeln!(out, "- [{}] {}", a.kind, a.text);
        }
    }
    out
}

/// The pause statistics of a generation, null in JSON when it was never
/// collected (its `total_ns`, a sum, stays 0).
const PAUSE_FIELDS: [&str; 6] = ["mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"];

/// The report as a JSON value: the fields of [`GcReport`], except that a
/// generation never collected has `null` pauses (it has no distribution;
/// 0 would read as measured).
pub fn report_json(report: &GcReport) -> serde_json::Value {
    let mut doc = serde_json::to_value(report)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
    if let Some(generations) = doc.get_mut("generations").and_then(|g| g.as_array_mut()) {
        for g in generations {
            if g["count"] == 0 {
                for field in PAUSE_FIELDS {
                    g[field] = serde_json::Value::Null;
                }
            }
        }
    }
    doc
}

/// The report as pretty JSON text ([`report_json`]).
pub fn render_json(report: &GcReport) -> String {
    serde_json::to_string_pretty(&report_json(report))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A meta and events pair as the report sees them (for tests and callers
/// that did not read a file).
pub fn report_of(meta: GcMeta, events: Vec<GcEvent>) -> GcReport {
    report(&GcLog { meta, events })
}

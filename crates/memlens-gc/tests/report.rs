//! The report's figures on logs whose answers are known.

use memlens_gc::{gctrace, render_json, render_text, report_of, GcEvent, GcMeta};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

fn ev(start_ns: u64, pause_ns: u64, generation: u8, collected: u64) -> GcEvent {
    GcEvent {
        start_ns,
        end_ns: start_ns + pause_ns,
        generation,
        collected,
        uncollectable: 0,
        candidates: None,
        thread: 1,
        rss_bytes: None,
    }
}

fn meta(duration_ns: u64) -> GcMeta {
    GcMeta {
        python_version: "3.11.7".into(),
        duration_ns,
        thresholds: vec![700, 10, 10],
        thresholds_at_end: vec![700, 10, 10],
        enabled_at_start: true,
        enabled_at_end: true,
        ..GcMeta::default()
    }
}

#[test]
fn percentiles_share_and_counts() {
    // 1000 gen-0 pauses of 1..=1000 µs over 100 s.
    let events: Vec<GcEvent> = (1..=1000u64)
        .map(|i| ev(i * 100 * MS, i * 1000, 0, i))
        .collect();
    let r = report_of(meta(101 * S), events);
    let g0 = &r.generations[0];
    assert_eq!(g0.count, 1000);
    assert_eq!(g0.p50_ns, 500_000);
    assert_eq!(g0.p90_ns, 900_000);
    assert_eq!(g0.p99_ns, 990_000);
    assert_eq!(g0.p999_ns, 999_000);
    assert_eq!(g0.max_ns, 1_000_000);
    assert_eq!(g0.total_ns, 500_500_000);
    assert_eq!(g0.collected, 500_500);
    assert_eq!(r.generations[1].count, 0);
    assert_eq!(r.gc_ns, 500_500_000);
    assert!((r.gc_share - 500_500_000.0 / (101 * S) as f64).abs() < 1e-12);
    // The worst second holds the ten longest pauses (991..=1000 µs, at 99.1 s .. 100.0 s).
    let w = r.worst_1s.unwrap();
    assert_eq!(w.gc_ns, (991..=1000u64).sum::<u64>() * 1000);
    assert!((w.start_s - 99.1).abs() < 1e-9, "{}", w.start_s);
}

#[test]
fn a_pause_running_past_the_window_counts_only_inside() {
    let events = vec![ev(0, 100 * MS, 2, 0), ev(950 * MS, 200 * MS, 2, 0)];
    let r = report_of(meta(5 * S), events);
    let w = r.worst_1s.unwrap();
    // From 0: 100 ms + the 50 ms of the second pause before 1 s. From 0.95 s: 200 ms.
    assert_eq!(w.gc_ns, 200 * MS);
    assert!((w.start_s - 0.95).abs() < 1e-9);
    // The 10 s window is the whole 5 s run.
    let w10 = r.worst_10s.unwrap();
    assert_eq!(w10.gc_ns, 300 * MS);
    assert!((w10.length_s - 5.0).abs() < 1e-9);
}

#[test]
fn slow_full_collections_that_reclaim_nothing_advise_freeze() {
    let mut events = Vec::new();
    for i in 0..20u64 {
        events.push(ev(i * S, 40 * MS, 2, 3));
        for j in 0..10u64 {
            events.push(ev(i * S + (j + 1) * 50 * MS, MS / 10, 1, 0));
        }
    }
    let r = report_of(meta(20 * S), events);
    let kinds: Vec<&str> = r.advice.iter().map(|a| a.kind).collect();
    assert!(kinds.contains(&"freeze"), "{kinds:?}");
    let freeze = r.advice.iter().find(|a| a.kind == "freeze").unwrap();
    assert!(freeze.text.contains("p50 40.0ms"), "{}", freeze.text);
    assert!(freeze.text.contains("800.0ms"), "{}", freeze.text);
    assert!(!kinds.contains(&"threshold"), "{kinds:?}");
}

#[test]
fn full_collections_that_reclaim_a_lot_do_not_advise_freeze() {
    let events: Vec<GcEvent> = (0..20u64).map(|i| ev(i * S, 40 * MS, 2, 50_000)).collect();
    let r = report_of(meta(20 * S), events);
    assert!(
        r.advice.iter().all(|a| a.kind != "freeze"),
        "{:?}",
        r.advice
    );
}

#[test]
fn gen0_churn_advises_a_threshold_with_its_figures() {
    // 200 gen-0 collections a second for 5 s, 100 µs each: 2% of wall time.
    let events: Vec<GcEvent> = (0..1000u64)
        .map(|i| ev(i * 5 * MS, 100_000, 0, 0))
        .collect();
    let r = report_of(meta(5 * S), events);
    let t = r
        .advice
        .iter()
        .find(|a| a.kind == "threshold")
        .expect("threshold advice");
    assert!(
        t.text.contains("gc.set_threshold(7000, 10, 10)"),
        "{}",
        t.text
    );
    assert!(t.text.contains("200 times a second"), "{}", t.text);
    assert!(t.text.contains("about 20 times"), "{}", t.text);
}

#[test]
fn many_full_collections_without_young_ones_are_explicit() {
    let events: Vec<GcEvent> = (0..50u64).map(|i| ev(i * 100 * MS, MS, 2, 0)).collect();
    let r = report_of(meta(5 * S), events);
    assert!(
        r.advice.iter().any(|a| a.kind == "explicit-collect"),
        "{:?}",
        r.advice
    );
}

#[test]
fn a_disabled_collector_and_uncollectable_objects_raise_alarms() {
    let mut m = meta(S);
    m.enabled_at_end = false;
    m.garbage_at_end = 4;
    let mut e = ev(0, MS, 2, 10);
    e.uncollectable = 4;
    let r = report_of(m, vec![e]);
    let kinds: Vec<&str> = r.advice.iter().map(|a| a.kind).collect();
    assert_eq!(&kinds[..2], ["uncollectable", "disabled"]);
    assert_eq!(r.uncollectable, 4);
    assert_eq!(r.garbage_growth, 4);
}

#[test]
fn a_growing_live_set_has_a_slope_and_a_warning() {
    let events: Vec<GcEvent> = (0..10u64)
        .map(|i| {
            let mut e = ev(i * S, MS, 2, 0);
            e.rss_bytes = Some((100 << 20) + i * (5 << 20));
            e
        })
        .collect();
    let r = report_of(meta(10 * S), events);
    let slope = r.live_set.slope_bytes_per_s.unwrap();
    assert!((slope - (5 << 20) as f64).abs() < 1.0, "{slope}");
    assert!(r.advice.iter().any(|a| a.kind == "live-set-growth"));
    let flat: Vec<GcEvent> = (0..10u64)
        .map(|i| {
            let mut e = ev(i * S, MS, 2, 0);
            e.rss_bytes = Some(100 << 20);
            e
        })
        .collect();
    let r = report_of(meta(10 * S), flat);
    assert_eq!(r.live_set.slope_bytes_per_s, Some(0.0));
    assert!(r.advice.iter().all(|a| a.kind != "live-set-growth"));
}

#[test]
fn efficiency_needs_candidates_from_every_collection() {
    let mut a = ev(0, MS, 1, 10);
    a.candidates = Some(1000);
    let mut b = ev(10 * MS, MS, 1, 30);
    b.candidates = Some(1000);
    let r = report_of(meta(S), vec![a, b]);
    assert_eq!(r.generations[1].candidates, Some(2000));
    assert_eq!(r.generations[1].efficiency, Some(0.02));
    let c = ev(20 * MS, MS, 1, 0);
    let r = report_of(meta(S), vec![a, b, c]);
    assert_eq!(r.generations[1].efficiency, None);
}

#[test]
fn gctrace_has_one_line_per_collection_in_time_order() {
    let mut late = ev(2 * S, 3 * MS, 2, 7);
    late.rss_bytes = Some(3 << 20);
    let early = ev(S, MS, 0, 1);
    let text = gctrace(&memlens_gc::GcLog {
        meta: meta(3 * S),
        events: vec![late, early],
    });
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "gc 1 @1.000s 0.10%: gen0 1.000ms collected=1 uncollectable=0 examined=- rss=- thread=1"
    );
    assert_eq!(
        lines[1],
        "gc 2 @2.000s 0.20%: gen2 3.000ms collected=7 uncollectable=0 examined=- rss=3.0MiB thread=1"
    );
}

#[test]
fn text_and_json_carry_the_figures() {
    let events: Vec<GcEvent> = (0..10u64).map(|i| ev(i * 100 * MS, 2 * MS, 0, 5)).collect();
    let r = report_of(meta(S), events);
    let text = render_text(&r);
    assert!(
        text.starts_with(
            "GC monitor: 10 collections in 1.00s (10.0/s), 20.0ms in GC = 2.00% of wall time"
        ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["collections"], 10);
    assert_eq!(json["generations"][0]["p99_ns"], 2_000_000);
    assert_eq!(json["generations"][2]["count"], 0);
}

#[test]
fn an_empty_log_reports_zeroes() {
    let r = report_of(meta(0), Vec::new());
    assert_eq!(r.collections, 0);
    assert_eq!(r.gc_share, 0.0);
    assert!(r.worst_1s.is_none());
    assert!(render_text(&r).contains("no full collection measured"));
}

#[test]
fn a_generation_never_collected_shows_no_pauses() {
    // GIVEN a run whose collections are all of generation 0
    let events: Vec<GcEvent> = (0..4u64).map(|i| ev(i * 100 * MS, 2 * MS, 0, 1)).collect();
    let r = report_of(meta(S), events);
    // WHEN it is rendered
    let text = render_text(&r);
    let row = |g: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(g))
            .unwrap_or_else(|| panic!("no row {g}: {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    // THEN generations 1 and 2 show '-' for every pause figure, generation 0 its times
    for g in ["1", "2"] {
        assert_eq!(
            row(g)[1..],
            ["0", "0.0", "-", "-", "-", "-", "-", "-", "0", "0", "-"]
        );
    }
    assert_eq!(row("0")[4], "2.0ms");
    // AND in JSON their pause statistics are null, their total 0
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    let g2 = &json["generations"][2];
    for field in ["mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"] {
        assert!(g2[field].is_null(), "{field}: {g2}");
    }
    assert_eq!(g2["total_ns"], 0);
    assert_eq!(json["generations"][0]["p50_ns"], 2_000_000);
}

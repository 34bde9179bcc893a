//! Advice from a report: each rule fires on figures and says them.

use memlens_heap::human_bytes;

use crate::event::GcMeta;
use crate::report::{human_ns, Advice, GcReport};

/// A full collection is "slow" from this median pause on.
const SLOW_FULL_NS: u64 = 5_000_000;
/// A full collection reclaiming less than this share of what it examined
/// (or, without candidates, fewer objects than this on average) is wasted work.
const LOW_EFFICIENCY: f64 = 0.01;
const FEW_COLLECTED: u64 = 100;
/// Generation-0 churn: at least this many collections per second, taking at
/// least this share of wall time.
const CHURN_PER_SECOND: f64 = 50.0;
const CHURN_SHARE: f64 = 0.01;
/// A rough size of a tracked container object, for memory cost estimates.
const TYPICAL_OBJECT_BYTES: u64 = 100;

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The rules, in order of urgency.
pub fn advise(report: &GcReport, meta: &GcMeta) -> Vec<Advice> {
    let mut out = Vec::new();
    let [g0, g1, g2] = [
        &report.generations[0],
        &report.generations[1],
        &report.generations[2],
    ];

    if report.uncollectable > 0 || report.garbage_growth > 0 {
        out.push(Advice {
            kind: "uncollectable",
            text: format!(
                "{} objects could not be freed and gc.garbage grew by {} ({} -> {}): they stay in memory \
                 for the life of the process. Look at gc.garbage (objects in cycles that the collector \
                 refuses to free, e.g. C types without tp_clear, or DEBUG_SAVEALL left on).",
                report.uncollectable,
                report.garbage_growth.max(0),
                meta.garbage_at_start,
                meta.garbage_at_end
            ),
        });
    }

    let disabled_threshold = meta.thresholds_at_end.first() == Some(&0)
        || (meta.thresholds_at_end.is_empty() && meta.thresholds.first() == Some(&0));
    if !meta.enabled_at_end || !meta.enabled_at_start || disabled_threshold {
        let how = if disabled_threshold {
            "gc.set_threshold(0)"
        } else {
            "gc.disable()"
        };
        let growth = report
            .live_set
            .slope_bytes_per_s
            .filter(|&s| s > 0.0)
            .map(|s| {
                format!(
                    " while RSS after full collections grew by {}/s",
                    human_bytes(s as u64)
                )
            })
            .unwrap_or_default();
        out.push(Advice {
            kind: "disabled",
            text: format!(
                "automatic collection was off for part of the run ({how}, by the program or a library): \
                 only {} explicit collections ran{growth}. Cyclic garbage is freed only by those; if \
                 the pauses were the reason, gc.freeze() after start-up or a higher threshold keeps \
                 the collector on at a lower cost.",
                report.collections
            ),
        });
    }

    // Automatic full collections need threshold2 young collections each
    // (and a quarter of the long-lived heap pending): more than that were
    // asked for.
    let t2 = meta.thresholds.get(2).copied().unwrap_or(10).max(1);
    let automatic_full_max = g1.count / t2 + 1;
    if g2.count > automatic_full_max + 2 && g2.per_second >= 1.0 {
        out.push(Advice {
            kind: "explicit-collect",
            text: format!(
                "{} full collections ran ({:.1}/s, {} in all) where the thresholds allow at most \
                 {automatic_full_max}: something calls gc.collect() in a loop. Each reclaimed {:.0} objects \
                 on average; call it less often, or gc.collect(0) for the young generation only.",
                g2.count,
                g2.per_second,
                human_ns(g2.total_ns),
                g2.collected as f64 / g2.count as f64
            ),
        });
    }

    if g2.count >= 2 && g2.p50_ns >= SLOW_FULL_NS {
        let wasted = match g2.efficiency {
            Some(e) => e < LOW_EFFICIENCY,
            None => g2.collected / g2.count < FEW_COLLECTED,
        };
        if wasted {
            let yield_text = match (g2.efficiency, g2.candidates) {
                (Some(e), Some(c)) => format!(
                    "examined {} objects each and reclaimed {} of them",
                    c / g2.count,
                    pct(e)
                ),
                _ => format!(
                    "reclaimed {} objects each on average",
                    g2.collected / g2.count
                ),
            };
            let frozen = if meta.freeze_count > 0 {
                format!(
                    " ({} objects are frozen already; freeze later, after the rest of start-up)",
                    meta.freeze_count
                )
            } else {
                String::new()
            };
            out.push(Advice {
                kind: "freeze",
                text: format!(
                    "{} full collections took p50 {} / max {} ({} in all) and {yield_text}: they keep \
                     re-examining long-lived objects. Call gc.freeze() once start-up has built them \
                     (after imports, caches, models; before forking workers){frozen}: frozen objects are \
                     never examined again, which saves up to {} here.",
                    g2.count,
                    human_ns(g2.p50_ns),
                    human_ns(g2.max_ns),
                    human_ns(g2.total_ns),
                    human_ns(g2.total_ns)
                ),
            });
        }
    }

    let gc_ns = report.gc_ns.max(1) as f64;
    let g0_share_of_gc = g0.total_ns as f64 / gc_ns;
    if g0.per_second >= CHURN_PER_SECOND && report.gc_share >= CHURN_SHARE && g0_share_of_gc >= 0.5
    {
        let t0 = meta.thresholds.first().copied().unwrap_or(700).max(1);
        let new_t0 = t0 * 10;
        let rest: Vec<String> = meta
            .thresholds
            .iter()
            .skip(1)
            .map(|t| t.to_string())
            .collect();
        let call = if rest.is_empty() {
            format!("gc.set_threshold({new_t0})")
        } else {
            format!("gc.set_threshold({new_t0}, {})", rest.join(", "))
        };
        out.push(Advice {
            kind: "threshold",
            text: format!(
                "generation 0 ran {:.0} times a second and took {} of the time in GC ({} of wall time): \
                 young-object churn. {call} makes it run about {:.0} times a second; each pause grows \
                 at most with the objects that survive until it runs (p50 {} now, at most ~{} then), \
                 and up to {} more objects ({} at ~{TYPICAL_OBJECT_BYTES} B each) wait for a collection.",
                g0.per_second,
                pct(g0_share_of_gc),
                pct(report.gc_share),
                g0.per_second / 10.0,
                human_ns(g0.p50_ns),
                human_ns(g0.p50_ns.saturating_mul(10)),
                new_t0 - t0,
                human_bytes((new_t0 - t0) * TYPICAL_OBJECT_BYTES)
            ),
        });
    }

    if let (Some(slope), Some(first), Some(last)) = (
        report.live_set.slope_bytes_per_s,
        report.live_set.points.first(),
        report.live_set.points.last(),
    ) {
        let grown = last.1.saturating_sub(first.1);
        if slope > 0.0 && grown >= 1 << 20 && grown * 10 >= first.1 {
            out.push(Advice {
                kind: "live-set-growth",
                text: format!(
                    "RSS after full collections grew from {} to {} (+{}/s over {} full collections): what \
                     survives a full collection keeps growing, a leak signal. `memlens run` shows which \
                     lines allocated what is still live; `memlens.census_diff()` which types grow.",
                    human_bytes(first.1),
                    human_bytes(last.1),
                    human_bytes(slope as u64),
                    report.live_set.points.len()
                ),
            });
        }
    }

    if let Some(note) = version_note(&meta.python_version, meta.thresholds.first().copied()) {
        out.push(Advice {
            kind: "version",
            text: note,
        });
    }
    out
}

fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let head = version.split_whitespace().next()?;
    let mut parts = head.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

fn version_note(version: &str, t0: Option<u64>) -> Option<String> {
    let (major, minor, patch) = parse_version(version)?;
    if (major, minor) == (3, 14) && patch < 5 {
        return Some(format!(
            "Python 3.14.{patch} runs the incremental collector of 3.14.0-3.14.4 (two generations), \
             which showed large memory regressions in production; 3.14.5 restored the 3.13 collector: upgrade."
        ));
    }
    if (major, minor) < (3, 13) && t0 == Some(700) {
        return None;
    }
    if (major, minor) >= (3, 13) && t0 == Some(700) {
        return Some(
            "the generation-0 threshold is 700, the default before 3.13; since 3.13 it is 2000. \
             A program that sets 700 explicitly collects almost three times as often."
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_suffixes() {
        assert_eq!(parse_version("3.14.2 (main, Oct 1)"), Some((3, 14, 2)));
        assert_eq!(parse_version("3.13.0rc1"), Some((3, 13, 0)));
        assert_eq!(parse_version("nonsense"), None);
        assert!(version_note("3.14.3", Some(2000))
            .unwrap()
            .contains("3.14.5"));
        assert!(version_note("3.14.5", Some(2000)).is_none());
        assert!(version_note("3.13.1", Some(700)).unwrap().contains("2000"));
        assert!(version_note("3.11.7", Some(700)).is_none());
    }
}

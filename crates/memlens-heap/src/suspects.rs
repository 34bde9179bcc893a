//! Leak suspects, the way Eclipse MAT finds them: the dominators that keep a
//! large share of the heap alive, followed down to where the memory
//! accumulates.

use std::collections::BTreeMap;

use crate::dominators::DominatorTree;
use crate::json::push_json_string;
use crate::model::{HeapSnapshot, NodeId};
use crate::paths::{RootPath, RootPaths};
use crate::units::{group_thousands, human_bytes};

/// Thresholds of [`leak_suspects`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuspectOptions {
    /// A top-level dominator retaining at least this share of the reachable
    /// heap is a suspect (MAT: 0.10).
    pub min_share: f64,
    /// Walk down while one child keeps at least this share of its parent's
    /// retained size (MAT: 0.70).
    pub accumulation_share: f64,
    /// Types listed in each breakdown.
    pub breakdown_limit: usize,
}

impl Default for SuspectOptions {
    fn default() -> Self {
        SuspectOptions {
            min_share: 0.10,
            accumulation_share: 0.70,
            breakdown_limit: 10,
        }
    }
}

/// One type among what an accumulation point immediately dominates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakdownRow {
    /// `module.qualname`.
    pub type_name: String,
    /// Immediately dominated objects of the type.
    pub count: u64,
    /// Their retained bytes.
    pub retained: u64,
}

/// A dominator that keeps a large share of the heap alive.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspect {
    /// The top-level dominator.
    pub node: NodeId,
    /// Its retained size.
    pub retained: u64,
    /// Its share of the reachable heap, `0.0..=1.0`.
    pub share: f64,
    /// Where the memory accumulates: the last node of `chain`.
    pub accumulation: NodeId,
    /// The accumulation point's retained size.
    pub accumulation_retained: u64,
    /// From `node` down to `accumulation`, each child keeping
    /// `accumulation_share` of its parent.
    pub chain: Vec<NodeId>,
    /// The shortest path from a root to the accumulation point.
    pub path: Option<RootPath>,
    /// What the accumulation point immediately dominates, by type, largest
    /// retained size first.
    pub breakdown: Vec<BreakdownRow>,
    /// Types left out of the breakdown by its limit.
    pub breakdown_omitted: u64,
}

/// The leak suspects of a snapshot, and its garbage.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspects {
    /// Reachable bytes, the base of the shares.
    pub total: u64,
    /// Largest retained size first.
    pub suspects: Vec<Suspect>,
    /// Objects no root reaches (cyclic garbage).
    pub unreachable_count: u64,
    /// Their owned bytes.
    pub unreachable_size: u64,
}

/// Finds the leak suspects: every child of the super-root retaining at least
/// `min_share` of the reachable heap, walked down to its accumulation point.
pub fn leak_suspects(
    snap: &HeapSnapshot,
    dom: &DominatorTree,
    paths: &RootPaths,
    opts: SuspectOptions,
) -> Suspects {
    let total = dom.reachable_size();
    let mut suspects = Vec::new();
    for &node in dom.top_level() {
        let retained = dom.retained(node);
        if total == 0 || (retained as f64) < opts.min_share * total as f64 {
            continue; // children come largest first, but keep going: cheap
        }
        let mut chain = vec![node];
        let mut cur = node;
        while let Some(&big) = dom.children(cur).first() {
            let parent = dom.retained(cur) as f64;
            if parent == 0.0 || (dom.retained(big) as f64) < opts.accumulation_share * parent {
                break;
            }
            chain.push(big);
            cur = big;
        }
        let mut by_type: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for &child in dom.children(cur) {
            let entry = by_type
                .entry(snap.type_name(snap.type_of(child)))
                .or_insert((0, 0));
            entry.0 += 1;
            entry.1 += dom.retained(child);
        }
        let mut breakdown: Vec<BreakdownRow> = by_type
            .into_iter()
            .map(|(type_name, (count, retained))| BreakdownRow {
                type_name,
                count,
                retained,
            })
            .collect();
        breakdown.sort_by(|a, b| b.retained.cmp(&a.retained).then(b.count.cmp(&a.count)));
        let breakdown_omitted = breakdown.len().saturating_sub(opts.breakdown_limit) as u64;
        breakdown.truncate(opts.breakdown_limit);
        suspects.push(Suspect {
            node,
            retained,
            share: retained as f64 / total as f64,
            accumulation: cur,
            accumulation_retained: dom.retained(cur),
            chain,
            path: paths.path(snap, cur),
            breakdown,
            breakdown_omitted,
        });
    }
    Suspects {
        total,
        suspects,
        unreachable_count: dom.unreachable_count(),
        unreachable_size: dom.unreachable_size(),
    }
}

impl Suspects {
    /// A report: per suspect its share, the accumulation point and its path,
    /// and the breakdown.
    pub fn render(&self, snap: &HeapSnapshot) -> String {
        let mut out = format!(
            "memlens leak suspects: {} found, {} reachable\n",
            self.suspects.len(),
            human_bytes(self.total)
        );
        for (i, s) in self.suspects.iter().enumerate() {
            out.push_str(&format!(
                "\nsuspect {}: {} at {:#x} retains {} ({:.1}% of the heap)\n",
                i + 1,
                snap.type_name(snap.type_of(s.node)),
                snap.addr(s.node),
                human_bytes(s.retained),
                100.0 * s.share
            ));
            if s.accumulation != s.node {
                out.push_str(&format!(
                    "  accumulates in {} at {:#x} ({}), {} levels down\n",
                    snap.type_name(snap.type_of(s.accumulation)),
                    snap.addr(s.accumulation),
                    human_bytes(s.accumulation_retained),
                    s.chain.len() - 1
                ));
            }
            if let Some(path) = &s.path {
                out.push_str(&format!("  reached as {}\n", path.expression(snap)));
            }
            for row in &s.breakdown {
                out.push_str(&format!(
                    "  {:>11} {:>11}  {}\n",
                    group_thousands(row.count as i64),
                    human_bytes(row.retained),
                    row.type_name
                ));
            }
            if s.breakdown_omitted > 0 {
                out.push_str(&format!("  ... {} more types\n", s.breakdown_omitted));
            }
        }
        if self.unreachable_count > 0 {
            out.push_str(&format!(
                "\nunreachable (cyclic garbage not yet collected): {} objects, {}\n",
                group_thousands(self.unreachable_count as i64),
                human_bytes(self.unreachable_size)
            ));
        }
        out
    }

    /// `{"total", "unreachable_count", "unreachable_size", "suspects":
    /// [{"node", "type", "addr", "retained", "share", "accumulation":
    /// {...}, "chain", "path", "breakdown": [...]}]}`.
    pub fn to_json(&self, snap: &HeapSnapshot) -> String {
        let mut out = format!(
            "{{\"total\":{},\"unreachable_count\":{},\"unreachable_size\":{},\"suspects\":[",
            self.total, self.unreachable_count, self.unreachable_size
        );
        for (i, s) in self.suspects.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!("{{\"node\":{},\"type\":", s.node));
            push_json_string(&mut out, &snap.type_name(snap.type_of(s.node)));
            out.push_str(&format!(
                ",\"addr\":{},\"retained\":{},\"share\":{:.6},\"accumulation\":{{\"node\":{},\"type\":",
                snap.addr(s.node),
                s.retained,
                s.share,
                s.accumulation
            ));
            push_json_string(&mut out, &snap.type_name(snap.type_of(s.accumulation)));
            out.push_str(&format!(
                ",\"addr\":{},\"retained\":{}}},\"chain\":{:?},\"path\":",
                snap.addr(s.accumulation),
                s.accumulation_retained,
                s.chain
            ));
            match &s.path {
                Some(p) => out.push_str(&p.to_json(snap)),
                None => out.push_str("null"),
            }
            out.push_str(",\"breakdown\":[");
            for (j, row) in s.breakdown.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str("{\"type\":");
                push_json_string(&mut out, &row.type_name);
                out.push_str(&format!(
                    ",\"count\":{},\"retained\":{}}}",
                    row.count, row.retained
                ));
            }
            out.push_str(&format!(
                "],\"breakdown_omitted\":{}}}",
                s.breakdown_omitted
            ));
        }
        out.push_str("]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EdgeKind, EdgeLabel, RootKind, SnapshotBuilder, SnapshotMeta};

    /// Module `app` -> dict -> `_cache` dict -> 100 `Order`s of 100 B each,
    /// plus a small module `small` and garbage.
    fn snapshot() -> HeapSnapshot {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let module = b.add_type("builtins", "module");
        let dict = b.add_type("builtins", "dict");
        let order = b.add_type("app", "Order");
        let m = b.add_node(1, module, 50, 50, 1, 0);
        let md = b.add_node(2, dict, 50, 50, 1, 0);
        let cache = b.add_node(3, dict, 500, 500, 1, 0);
        let cache_name = b.intern("_cache");
        b.add_edge(m, md, EdgeLabel::bare(EdgeKind::Dict));
        b.add_edge(md, cache, EdgeLabel::named(EdgeKind::Attr, cache_name));
        for i in 0..100u32 {
            let o = b.add_node(100 + u64::from(i), order, 100, 100, 1, 0);
            let key = b.intern(&format!("{i}"));
            b.add_edge(cache, o, EdgeLabel::named(EdgeKind::DictValue, key));
        }
        let small = b.add_node(9, module, 40, 40, 1, 0);
        let g = b.add_node(10, dict, 64, 64, 1, 0);
        b.add_edge(g, g, EdgeLabel::index(0));
        b.add_root(RootKind::Module, "app", m, 0);
        b.add_root(RootKind::Module, "small", small, 0);
        b.finish()
    }

    #[test]
    fn a_cache_is_found_and_followed_down_to_where_it_accumulates() {
        // GIVEN a module whose cache holds 96% of the heap
        let snap = snapshot();
        let dom = DominatorTree::compute(&snap);
        let paths = RootPaths::compute(&snap);
        // WHEN suspects are sought
        let found = leak_suspects(&snap, &dom, &paths, SuspectOptions::default());
        // THEN the module is the one suspect, accumulating in the cache dict
        assert_eq!(found.total, 50 + 50 + 500 + 100 * 100 + 40);
        assert_eq!(found.suspects.len(), 1);
        let s = &found.suspects[0];
        assert_eq!(
            (s.node, s.accumulation, s.chain.clone()),
            (0, 2, vec![0, 1, 2])
        );
        assert_eq!(s.accumulation_retained, 10_500);
        assert_eq!(
            s.breakdown,
            vec![BreakdownRow {
                type_name: "app.Order".into(),
                count: 100,
                retained: 10_000
            }]
        );
        assert_eq!(s.path.as_ref().unwrap().expression(&snap), "app._cache");
        let text = found.render(&snap);
        assert!(text.contains("suspect 1: builtins.module at 0x1 retains 10.4 KiB (99.6% of the heap)\n  accumulates in builtins.dict at 0x3 (10.3 KiB), 2 levels down\n  reached as app._cache\n"), "{text}");
        assert!(
            text.contains("unreachable (cyclic garbage not yet collected): 1 objects, 64 B"),
            "{text}"
        );
        let json = found.to_json(&snap);
        assert!(
            json.contains("\"chain\":[0, 1, 2]")
                && json.contains(
                    "\"breakdown\":[{\"type\":\"app.Order\",\"count\":100,\"retained\":10000}]"
                ),
            "{json}"
        );
    }

    #[test]
    fn thresholds_decide_what_is_a_suspect_and_where_the_walk_stops() {
        let snap = snapshot();
        let dom = DominatorTree::compute(&snap);
        let paths = RootPaths::compute(&snap);
        // a 0.3% module is a suspect only with a tiny threshold
        let low = SuspectOptions {
            min_share: 0.001,
            ..SuspectOptions::default()
        };
        assert_eq!(leak_suspects(&snap, &dom, &paths, low).suspects.len(), 2);
        // asking each child to keep 99.9% stops the walk at the module
        let strict = SuspectOptions {
            accumulation_share: 0.999,
            breakdown_limit: 0,
            ..SuspectOptions::default()
        };
        let s = &leak_suspects(&snap, &dom, &paths, strict).suspects[0];
        assert_eq!((s.accumulation, s.breakdown_omitted), (0, 1));
        assert!(s.breakdown.is_empty());
    }
}

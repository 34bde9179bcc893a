//! The census by type with retained sizes, and the top of the dominator
//! tree as an indented tree.

use crate::dominators::DominatorTree;
use crate::json::push_json_string;
use crate::model::{HeapSnapshot, NodeId, TypeId};
use crate::units::{group_thousands, human_bytes};

/// One type of a [`TypeSummary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSummaryRow {
    /// The type's id in the snapshot.
    pub ty: TypeId,
    /// `module.qualname`.
    pub type_name: String,
    /// Instances.
    pub count: u64,
    /// Sum of shallow sizes.
    pub shallow: u64,
    /// Sum of owned sizes.
    pub owned: u64,
    /// Sum of the retained sizes of the instances no other instance of the
    /// type dominates: what freeing every instance would free, counted once.
    pub retained: u64,
}

/// The census by type: count, shallow, owned and retained size.
#[derive(Debug, Clone)]
pub struct TypeSummary {
    rows: Vec<TypeSummaryRow>,
    total_count: u64,
    total_owned: u64,
}

impl TypeSummary {
    /// Summarises `snap` by type; `dom` must be its dominator tree.
    ///
    /// Retained per type walks the dominator tree once, depth first with an
    /// explicit stack, counting per type how many instances are open on the
    /// current branch: an instance adds its retained size only when none is.
    pub fn compute(snap: &HeapSnapshot, dom: &DominatorTree) -> TypeSummary {
        let types = snap.types().len();
        let mut rows: Vec<TypeSummaryRow> = (0..types as TypeId)
            .map(|ty| TypeSummaryRow {
                ty,
                type_name: snap.type_name(ty),
                count: 0,
                shallow: 0,
                owned: 0,
                retained: 0,
            })
            .collect();
        for node in 0..snap.node_count() as NodeId {
            let row = &mut rows[snap.type_of(node) as usize];
            row.count += 1;
            row.shallow += snap.shallow(node);
            row.owned += snap.owned(node);
        }
        let mut open = vec![0u32; types];
        // (node, index of the next child to visit)
        let mut stack: Vec<(NodeId, u32)> = Vec::new();
        for &top in dom.top_level().iter().chain(dom.unreachable_entries()) {
            stack.push((top, 0));
            enter(snap, dom, top, &mut open, &mut rows);
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let children = dom.children(node);
                if let Some(&child) = children.get(*next as usize) {
                    *next += 1;
                    enter(snap, dom, child, &mut open, &mut rows);
                    stack.push((child, 0));
                } else {
                    open[snap.type_of(node) as usize] -= 1;
                    stack.pop();
                }
            }
        }
        rows.retain(|r| r.count > 0);
        rows.sort_by(|a, b| {
            b.retained
                .cmp(&a.retained)
                .then(b.owned.cmp(&a.owned))
                .then(a.type_name.cmp(&b.type_name))
        });
        TypeSummary {
            rows,
            total_count: snap.node_count() as u64,
            total_owned: snap.total_owned(),
        }
    }

    /// The rows, largest retained size first, then owned size, then name.
    pub fn rows(&self) -> &[TypeSummaryRow] {
        &self.rows
    }

    /// The row of a type by name.
    pub fn get(&self, type_name: &str) -> Option<&TypeSummaryRow> {
        self.rows.iter().find(|r| r.type_name == type_name)
    }

    /// An aligned table of the first `limit` rows (all with `None`).
    pub fn render_table(&self, limit: Option<usize>) -> String {
        let mut out = format!(
            "memlens heap summary: {} objects, {} owned in {} types\n",
            group_thousands(self.total_count as i64),
            human_bytes(self.total_owned),
            self.rows.len()
        );
        out.push_str(&format!(
            "{:>11} {:>11} {:>11} {:>11}  type\n",
            "objects", "shallow", "owned", "retained"
        ));
        let shown = limit.unwrap_or(usize::MAX).min(self.rows.len());
        for r in &self.rows[..shown] {
            out.push_str(&format!(
                "{:>11} {:>11} {:>11} {:>11}  {}\n",
                group_thousands(r.count as i64),
                human_bytes(r.shallow),
                human_bytes(r.owned),
                human_bytes(r.retained),
                r.type_name
            ));
        }
        if shown < self.rows.len() {
            out.push_str(&format!("... {} more types\n", self.rows.len() - shown));
        }
        out
    }

    /// `{"total_count", "total_owned", "types": [{"type", "count",
    /// "shallow", "owned", "retained"}]}` in row order.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"total_count\":{},\"total_owned\":{},\"types\":[",
            self.total_count, self.total_owned
        );
        for (i, r) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":");
            push_json_string(&mut out, &r.type_name);
            out.push_str(&format!(
                ",\"count\":{},\"shallow\":{},\"owned\":{},\"retained\":{}}}",
                r.count, r.shallow, r.owned, r.retained
            ));
        }
        out.push_str("]}");
        out
    }
}

fn enter(
    snap: &HeapSnapshot,
    dom: &DominatorTree,
    node: NodeId,
    open: &mut [u32],
    rows: &mut [TypeSummaryRow],
) {
    let ty = snap.type_of(node) as usize;
    if open[ty] == 0 {
        rows[ty].retained += dom.retained(node);
    }
    open[ty] += 1;
}

/// One line of the dominator tree view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomTreeRow {
    /// 0 for the start's children.
    pub depth: u32,
    /// The node.
    pub node: NodeId,
    /// Its type.
    pub type_name: String,
    /// Its name (function, class, module), if any.
    pub name: Option<String>,
    /// Its owned size.
    pub owned: u64,
    /// Its retained size.
    pub retained: u64,
    /// How many nodes it immediately dominates.
    pub children: u32,
    /// Of those, how many the view leaves out (depth or child limit).
    pub omitted: u32,
}

/// The dominator tree below `start` (the super-root when `None`), in
/// preorder: at most `max_depth` levels and `max_children` children per
/// node, largest retained size first.
pub fn dominator_rows(
    snap: &HeapSnapshot,
    dom: &DominatorTree,
    start: Option<NodeId>,
    max_depth: usize,
    max_children: usize,
) -> Vec<DomTreeRow> {
    let first: &[NodeId] = match start {
        Some(node) => dom.children(node),
        None => dom.top_level(),
    };
    let mut rows = Vec::new();
    if max_depth == 0 {
        return rows;
    }
    // Stack of (children slice, next index, depth).
    let mut stack: Vec<(&[NodeId], usize, u32)> = vec![(first, 0, 0)];
    while let Some(top) = stack.last_mut() {
        let (children, next, depth) = (top.0, top.1, top.2);
        if next >= children.len().min(max_children) {
            stack.pop();
            continue;
        }
        top.1 += 1;
        let node = children[next];
        let below = dom.children(node);
        let descend = (depth as usize + 1) < max_depth;
        let shown = if descend {
            below.len().min(max_children)
        } else {
            0
        };
        rows.push(DomTreeRow {
            depth,
            node,
            type_name: snap.type_name(snap.type_of(node)),
            name: snap.name(node).map(|id| snap.str(id).to_owned()),
            owned: snap.owned(node),
            retained: dom.retained(node),
            children: below.len() as u32,
            omitted: (below.len() - shown) as u32,
        });
        if shown > 0 {
            stack.push((below, 0, depth + 1));
        }
    }
    rows
}

/// The rows as an indented tree; shares are of `total` bytes.
pub fn render_dominator_tree(rows: &[DomTreeRow], total: u64) -> String {
    let mut out = String::new();
    for r in rows {
        let share = if total == 0 {
            0.0
        } else {
            100.0 * r.retained as f64 / total as f64
        };
        out.push_str(&format!(
            "{:>10} {:>5.1}%  {}{}",
            human_bytes(r.retained),
            share,
            "  ".repeat(r.depth as usize),
            r.type_name
        ));
        if let Some(name) = &r.name {
            out.push_str(&format!(" {name:?}"));
        }
        out.push_str(&format!(" ({} own)", human_bytes(r.owned)));
        if r.omitted > 0 {
            out.push_str(&format!(" [+{} more]", r.omitted));
        }
        out.push('\n');
    }
    out
}

/// The rows as a JSON array of `{"depth", "node", "type", "name", "owned",
/// "retained", "children", "omitted"}`.
pub fn dominator_rows_json(rows: &[DomTreeRow]) -> String {
    let mut out = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"depth\":{},\"node\":{},\"type\":",
            r.depth, r.node
        ));
        push_json_string(&mut out, &r.type_name);
        out.push_str(",\"name\":");
        match &r.name {
            Some(name) => push_json_string(&mut out, name),
            None => out.push_str("null"),
        }
        out.push_str(&format!(
            ",\"owned\":{},\"retained\":{},\"children\":{},\"omitted\":{}}}",
            r.owned, r.retained, r.children, r.omitted
        ));
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EdgeLabel, RootKind, SnapshotBuilder, SnapshotMeta};

    /// root list L (type list) -> A1 (Node) -> A2 (Node) -> s (str);
    /// L -> B (Node); garbage Node G.
    fn snapshot() -> HeapSnapshot {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let list = b.add_type("builtins", "list");
        let node = b.add_type("app", "Node");
        let s = b.add_type("builtins", "str");
        let l = b.add_node(1, list, 100, 100, 1, 0);
        let a1 = b.add_node(2, node, 10, 10, 1, 0);
        let a2 = b.add_node(3, node, 20, 20, 1, 0);
        let st = b.add_node(4, s, 5, 1000, 1, 0);
        let bb = b.add_node(5, node, 30, 30, 1, 0);
        b.add_node(6, node, 40, 40, 1, 0);
        b.add_edge(l, a1, EdgeLabel::index(0));
        b.add_edge(a1, a2, EdgeLabel::index(0));
        b.add_edge(a2, st, EdgeLabel::index(0));
        b.add_edge(l, bb, EdgeLabel::index(1));
        let name = b.intern("cache");
        b.set_node_name(l, name);
        b.add_root(RootKind::Module, "m", l, 0);
        b.finish()
    }

    #[test]
    fn retained_by_type_counts_nested_instances_once() {
        let snap = snapshot();
        let dom = DominatorTree::compute(&snap);
        let summary = TypeSummary::compute(&snap, &dom);
        let rows: Vec<(&str, u64, u64, u64, u64)> = summary
            .rows()
            .iter()
            .map(|r| {
                (
                    r.type_name.as_str(),
                    r.count,
                    r.shallow,
                    r.owned,
                    r.retained,
                )
            })
            .collect();
        // Node: A1 retains A1+A2+s = 1030 (A2 nested, not added), B 30, G 40
        assert_eq!(
            rows,
            vec![
                ("builtins.list", 1, 100, 100, 1160),
                ("app.Node", 4, 100, 100, 1100),
                ("builtins.str", 1, 5, 1000, 1000),
            ]
        );
        let table = summary.render_table(Some(2));
        assert!(
            table.starts_with("memlens heap summary: 6 objects, 1.2 KiB owned in 3 types\n"),
            "{table}"
        );
        assert!(table.ends_with("... 1 more types\n"), "{table}");
        assert!(summary.to_json().contains(
            "{\"type\":\"app.Node\",\"count\":4,\"shallow\":100,\"owned\":100,\"retained\":1100}"
        ));
        assert_eq!(summary.get("builtins.str").map(|r| r.count), Some(1));
    }

    #[test]
    fn the_dominator_view_respects_depth_and_child_limits() {
        let snap = snapshot();
        let dom = DominatorTree::compute(&snap);
        let rows = dominator_rows(&snap, &dom, None, 2, 1);
        let got: Vec<(u32, NodeId, u64, u32)> = rows
            .iter()
            .map(|r| (r.depth, r.node, r.retained, r.omitted))
            .collect();
        // L (2 children, 1 shown), then A1 at depth 1 whose child is cut by depth
        assert_eq!(got, vec![(0, 0, 1160, 1), (1, 1, 1030, 1)]);
        let text = render_dominator_tree(&rows, dom.reachable_size());
        assert_eq!(
            text,
            "   1.1 KiB 100.0%  builtins.list \"cache\" (100 B own) [+1 more]\n   1.0 KiB  88.8%    app.Node (10 B own) [+1 more]\n"
        );
        let all = dominator_rows(&snap, &dom, None, 10, 10);
        assert_eq!(
            all.iter().map(|r| r.node).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(dominator_rows_json(&all)
            .starts_with("[{\"depth\":0,\"node\":0,\"type\":\"builtins.list\",\"name\":\"cache\""));
        assert!(dominator_rows(&snap, &dom, None, 0, 10).is_empty());
        assert_eq!(dominator_rows(&snap, &dom, Some(1), 1, 10).len(), 1);
    }
}

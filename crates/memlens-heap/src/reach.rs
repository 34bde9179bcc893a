//! Reachability from the roots: which nodes no root keeps alive.

use crate::model::{EdgeKind, EdgeLabel, HeapSnapshot, NodeFlags, NodeId};

/// Marks [`NodeFlags::UNREACHABLE`] on every node that no root reaches
/// through strong references (weak-reference edges do not keep an object
/// alive), clears it on the others, and returns how many are unreachable.
///
/// Iterative (an explicit stack), `O(nodes + edges)`, one bit per node.
pub fn mark_unreachable(snap: &mut HeapSnapshot) -> u64 {
    let n = snap.node_count();
    let mut seen = vec![false; n];
    let mut stack: Vec<NodeId> = Vec::new();
    for root in snap.roots() {
        if !std::mem::replace(&mut seen[root.node as usize], true) {
            stack.push(root.node);
        }
    }
    let weak = EdgeLabel::bare(EdgeKind::Weak).pack() >> 28;
    let (offsets, targets, labels) = snap.forward_csr();
    while let Some(node) = stack.pop() {
        let range = offsets[node as usize] as usize..offsets[node as usize + 1] as usize;
        for (&t, &l) in targets[range.clone()].iter().zip(&labels[range]) {
            if l >> 28 != weak && !std::mem::replace(&mut seen[t as usize], true) {
                stack.push(t);
            }
        }
    }
    let mut unreachable = 0;
    for (node, &reached) in seen.iter().enumerate() {
        let node = node as NodeId;
        let mut flags = snap.flags(node);
        if reached {
            flags.0 &= !NodeFlags::UNREACHABLE;
        } else {
            flags.0 |= NodeFlags::UNREACHABLE;
            unreachable += 1;
        }
        snap.set_flags(node, flags);
    }
    unreachable
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RootKind, SnapshotBuilder, SnapshotMeta};

    #[test]
    fn nodes_outside_every_root_and_behind_weak_edges_are_unreachable() {
        // GIVEN root -> a -> b, a cycle c <-> d no root reaches, and a weak
        // edge from a to e
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let ty = b.add_type("builtins", "list");
        let ids: Vec<_> = (0..6).map(|i| b.add_node(i, ty, 8, 8, 1, 0)).collect();
        let (root, a, bb, c, d, e) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);
        b.add_edge(root, a, EdgeLabel::index(0));
        b.add_edge(a, bb, EdgeLabel::index(0));
        b.add_edge(c, d, EdgeLabel::index(0));
        b.add_edge(d, c, EdgeLabel::index(0));
        b.add_edge(a, e, EdgeLabel::bare(EdgeKind::Weak));
        b.add_root(RootKind::Module, "m", root, 0);
        let mut s = b.finish();
        // WHEN marked
        let count = mark_unreachable(&mut s);
        // THEN the cycle and the weakly held node are unreachable
        assert_eq!(count, 3);
        for (node, expected) in [
            (root, false),
            (a, false),
            (bb, false),
            (c, true),
            (d, true),
            (e, true),
        ] {
            assert_eq!(
                s.flags(node).contains(NodeFlags::UNREACHABLE),
                expected,
                "node {node}"
            );
        }
        // and marking again gives the same answer
        assert_eq!(mark_unreachable(&mut s), 3);
    }

    #[test]
    fn a_long_chain_needs_no_recursion() {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let ty = b.add_type("builtins", "list");
        let n = 1_000_000u32;
        for i in 0..n {
            b.add_node(i as u64, ty, 8, 8, 1, 0);
        }
        for i in 0..n - 1 {
            b.add_edge(i, i + 1, EdgeLabel::index(0));
        }
        b.add_root(RootKind::Other, "head", 0, 0);
        let mut s = b.finish();
        assert_eq!(mark_unreachable(&mut s), 0);
    }
}

//! Dominator tree and retained sizes (SEMI-NCA, iterative, `u32` arrays).
//!
//! The graph gets a *super-root* whose children are the snapshot's root
//! nodes. Node `d` dominates node `v` when every path from the super-root to
//! `v` goes through `d`; the retained size of `d` is the owned size of
//! everything it dominates — what would be freed if `d` were.
//!
//! Nodes no root reaches (cyclic garbage the collector has not freed yet)
//! hang from a second pseudo-root, the *garbage root*, whose children are
//! one entry per garbage component: first the garbage nodes no other garbage
//! node refers to, then, in id order, the lowest id of each cycle still not
//! covered. Edges from garbage to live nodes are ignored, so garbage never
//! changes a live node's dominator. Weak edges never retain and are ignored.
//!
//! Algorithm: one iterative depth-first search (the DFS stack is the parent
//! array itself, the per-vertex edge cursor lives in an array used later for
//! labels), a predecessor CSR over DFS numbers, then SEMI-NCA (Georgiadis,
//! Tarjan & Werneck 2006): semidominators by the Lengauer–Tarjan `eval` with
//! path compression — done by pointer reversal, so without a stack — and the
//! immediate dominator as the nearest common ancestor of the DFS parent and
//! the semidominator. Peak extra memory: 32 bytes per node and 4 per edge.

use crate::model::{EdgeKind, HeapSnapshot, NodeFlags, NodeId};

/// Marks a DFS number or node that does not exist (also "not yet visited").
const NONE: u32 = u32::MAX;
/// In [`DominatorTree`]'s per-node `idom`: dominated by the super-root.
const BY_SUPER_ROOT: u32 = u32::MAX;
/// In [`DominatorTree`]'s per-node `idom`: dominated by the garbage root.
const BY_GARBAGE_ROOT: u32 = u32::MAX - 1;
const WEAK: u32 = EdgeKind::Weak as u32;

/// The immediate dominator of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dominator {
    /// The super-root: the node is a root, or reachable from several roots
    /// by paths with no node in common.
    SuperRoot,
    /// The garbage root: the node is reachable from no root and is an entry
    /// of its garbage component.
    Unreachable,
    /// Another node.
    Node(NodeId),
}

/// The dominator tree of a snapshot, with retained sizes.
///
/// Per node it keeps 4 bytes (immediate dominator), 8 (retained size) and 8
/// (the tree's children, in CSR form).
#[derive(Debug, Clone)]
pub struct DominatorTree {
    idom: Vec<u32>,
    retained: Vec<u64>,
    reachable: Vec<bool>,
    /// Children CSR: `n` real nodes, then the super-root, then the garbage root.
    child_offsets: Vec<u32>,
    children: Vec<NodeId>,
    reachable_count: u64,
    reachable_size: u64,
    unreachable_count: u64,
    unreachable_size: u64,
}

impl DominatorTree {
    /// Computes the dominator tree of `snap`.
    ///
    /// Snapshots hold at most `u32::MAX - 2` nodes (ids are `u32`), so the
    /// two pseudo-roots always have a number.
    pub fn compute(snap: &HeapSnapshot) -> DominatorTree {
        let n = snap.node_count();
        let (offsets, targets, labels) = snap.forward_csr();
        let owned = snap.node_columns().owned;

        // --- Depth-first search, numbering vertices in preorder. ---
        // Vertex 0 is the super-root; the garbage root, if any, comes right
        // after the last live vertex. While scanning, the DFS writes each
        // edge's target number into `target_pre`, so building predecessors
        // needs no random lookups of `pre`.
        let mut dfs = Dfs {
            offsets,
            targets,
            labels,
            pre: vec![NONE; n],
            vert: vec![[NONE, 0, 0]; n + 2],
            target_pre: vec![NONE; targets.len()],
            next: 1,
        };
        for root in snap.roots() {
            if dfs.pre[root.node as usize] == NONE {
                let p = dfs.number(root.node, 0);
                dfs.visit_from(p);
            }
        }
        let live_end = dfs.next; // first number past the live vertices
        let garbage_root = if (live_end as usize) < n + 1 {
            let g = dfs.next;
            dfs.next += 1;
            // Which garbage nodes another garbage node refers to (self
            // references aside): those are no entries in the first pass.
            let mut referred = vec![false; n];
            for (src, _) in dfs.pre.iter().enumerate().filter(|(_, &p)| p == NONE) {
                for e in offsets[src] as usize..offsets[src + 1] as usize {
                    let t = targets[e] as usize;
                    if t != src && dfs.pre[t] == NONE && labels[e] >> 28 != WEAK {
                        referred[t] = true;
                    }
                }
            }
            for pass in 0..2 {
                for (node, &is_referred) in referred.iter().enumerate() {
                    if dfs.pre[node] == NONE && (pass == 1 || !is_referred) {
                        let p = dfs.number(node as NodeId, g);
                        dfs.visit_from(p);
                    }
                }
            }
            Some(g)
        } else {
            None
        };
        let Dfs {
            pre,
            vert,
            target_pre,
            next,
            ..
        } = dfs;
        let count = next as usize; // vertices numbered, pseudo-roots included
        let mut vert = vert;
        vert.truncate(count);

        // --- Predecessors by DFS number (strong edges, no garbage -> live). ---
        let is_garbage = |p: u32| garbage_root.is_some_and(|g| p > g);
        let keep = |p: u32, q: u32| q != NONE && q != p && (!is_garbage(p) || is_garbage(q));
        let mut pred_offsets = vec![0u64; count + 1];
        for (src, &p) in pre.iter().enumerate() {
            for &q in &target_pre[offsets[src] as usize..offsets[src + 1] as usize] {
                if keep(p, q) {
                    pred_offsets[q as usize + 1] += 1;
                }
            }
        }
        for i in 0..count {
            pred_offsets[i + 1] += pred_offsets[i];
        }
        let mut preds = vec![0u32; pred_offsets[count] as usize];
        {
            let mut fill: Vec<u64> = pred_offsets[..count].to_vec();
            for (src, &p) in pre.iter().enumerate() {
                for &q in &target_pre[offsets[src] as usize..offsets[src + 1] as usize] {
                    if keep(p, q) {
                        let slot = &mut fill[q as usize];
                        preds[*slot as usize] = p;
                        *slot += 1;
                    }
                }
            }
        }
        drop(target_pre);

        // --- SEMI-NCA. ---
        // The super-root has an edge to every root: their semidominator is 0.
        let mut root_by_pre = vec![false; count];
        for root in snap.roots() {
            root_by_pre[pre[root.node as usize] as usize] = true;
        }
        if let Some(g) = garbage_root {
            root_by_pre[g as usize] = true;
        }
        let vertex: Vec<u32> = vert.iter().map(|v| v[0]).collect();
        let mut idom: Vec<u32> = vert.iter().map(|v| v[1]).collect();
        if let Some(g) = garbage_root {
            idom[g as usize] = 0;
        }
        // Per vertex, side by side for the cache: [ancestor, best], `best`
        // being the smallest semidominator on the compressed path up from
        // the vertex (SEMI-NCA only ever needs the semidominator of
        // Lengauer–Tarjan's label, never the label itself).
        drop(vert);
        let mut info: Vec<[u32; 2]> = (0..count as u32).map(|i| [idom[i as usize], i]).collect();
        let mut semi: Vec<u32> = vec![0; count];
        for w in (1..count).rev() {
            let s = if root_by_pre[w] {
                0
            } else {
                let mut s = idom[w];
                for &q in &preds[pred_offsets[w] as usize..pred_offsets[w + 1] as usize] {
                    let candidate = if (q as usize) < w {
                        q
                    } else {
                        eval(q, w as u32 + 1, &mut info)
                    };
                    s = s.min(candidate);
                }
                s
            };
            semi[w] = s;
            info[w][BEST] = s;
        }
        drop(preds);
        drop(pred_offsets);
        drop(root_by_pre);
        drop(info);
        for w in 1..count {
            let sd = semi[w];
            let mut c = idom[w];
            while c > sd {
                c = idom[c as usize];
            }
            idom[w] = c;
        }
        drop(semi);

        // --- Retained sizes: children before parents in reverse preorder. ---
        let mut retained_by_pre = vec![0u64; count];
        for w in 1..count {
            let node = vertex[w];
            if node != NONE {
                retained_by_pre[w] = owned[node as usize];
            }
        }
        for w in (1..count).rev() {
            let d = idom[w] as usize;
            retained_by_pre[d] += retained_by_pre[w];
        }
        let garbage_size = garbage_root.map_or(0, |g| retained_by_pre[g as usize]);
        let reachable_size = retained_by_pre[0] - garbage_size;
        let reachable_count = live_end as u64 - 1;
        let unreachable_count = n as u64 - reachable_count;

        let mut node_idom = vec![BY_SUPER_ROOT; n];
        let mut retained = vec![0u64; n];
        let mut reachable = vec![false; n];
        for node in 0..n {
            let p = pre[node] as usize;
            retained[node] = retained_by_pre[p];
            reachable[node] = p < live_end as usize;
            let d = idom[p];
            node_idom[node] = if d == 0 {
                BY_SUPER_ROOT
            } else if Some(d) == garbage_root {
                BY_GARBAGE_ROOT
            } else {
                vertex[d as usize]
            };
        }
        drop(retained_by_pre);
        drop(idom);
        drop(vertex);
        drop(pre);

        let (child_offsets, children) = children_csr(&node_idom, &retained);
        DominatorTree {
            idom: node_idom,
            retained,
            reachable,
            child_offsets,
            children,
            reachable_count,
            reachable_size,
            unreachable_count,
            unreachable_size: garbage_size,
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.idom.len()
    }

    /// The immediate dominator of `node`. Like every accessor here, panics
    /// on a node id out of range (ids come from the same snapshot).
    pub fn idom(&self, node: NodeId) -> Dominator {
        match self.idom[node as usize] {
            BY_SUPER_ROOT => Dominator::SuperRoot,
            BY_GARBAGE_ROOT => Dominator::Unreachable,
            d => Dominator::Node(d),
        }
    }

    /// The owned size of everything `node` dominates, itself included.
    pub fn retained(&self, node: NodeId) -> u64 {
        self.retained[node as usize]
    }

    /// Whether a root reaches `node` by strong edges.
    pub fn is_reachable(&self, node: NodeId) -> bool {
        self.reachable[node as usize]
    }

    /// The nodes `node` immediately dominates: largest retained size first,
    /// then ascending id.
    pub fn children(&self, node: NodeId) -> &[NodeId] {
        self.slot_children(node as usize)
    }

    /// The children of the super-root (roots and nodes shared by several
    /// roots), in [`children`](Self::children) order.
    pub fn top_level(&self) -> &[NodeId] {
        self.slot_children(self.idom.len())
    }

    /// The children of the garbage root: the entry of each garbage
    /// component, and garbage nodes several entries share.
    pub fn unreachable_entries(&self) -> &[NodeId] {
        self.slot_children(self.idom.len() + 1)
    }

    fn slot_children(&self, slot: usize) -> &[NodeId] {
        let begin = self.child_offsets[slot] as usize;
        let end = self.child_offsets[slot + 1] as usize;
        &self.children[begin..end]
    }

    /// Nodes reachable from a root.
    pub fn reachable_count(&self) -> u64 {
        self.reachable_count
    }

    /// Owned bytes reachable from a root: the super-root's retained size.
    pub fn reachable_size(&self) -> u64 {
        self.reachable_size
    }

    /// Nodes reachable from no root (cyclic garbage).
    pub fn unreachable_count(&self) -> u64 {
        self.unreachable_count
    }

    /// Owned bytes of the unreachable nodes.
    pub fn unreachable_size(&self) -> u64 {
        self.unreachable_size
    }

    /// Whether `a` dominates `b` (every node dominates itself).
    pub fn dominates(&self, a: NodeId, b: NodeId) -> bool {
        let mut cur = b;
        loop {
            if cur == a {
                return true;
            }
            match self.idom[cur as usize] {
                BY_SUPER_ROOT | BY_GARBAGE_ROOT => return false,
                d => cur = d,
            }
        }
    }

    /// The chain of dominators of `node`, itself first, up to its top-level
    /// (or garbage-entry) ancestor.
    pub fn dominator_chain(&self, node: NodeId) -> Vec<NodeId> {
        let mut chain = vec![node];
        let mut cur = node;
        while let Dominator::Node(d) = self.idom(cur) {
            chain.push(d);
            cur = d;
        }
        chain
    }

    /// Sets [`NodeFlags::UNREACHABLE`] on every unreachable node of `snap`
    /// (and clears it on the others). `snap` must be the snapshot the tree
    /// was computed from.
    pub fn mark_unreachable(&self, snap: &mut HeapSnapshot) {
        for node in 0..self.idom.len().min(snap.node_count()) {
            let id = node as NodeId;
            let mut flags = snap.flags(id);
            if self.reachable[node] {
                flags.0 &= !NodeFlags::UNREACHABLE;
            } else {
                flags.0 |= NodeFlags::UNREACHABLE;
            }
            snap.set_flags(id, flags);
        }
    }
}

/// The depth-first numbering. Per vertex `vert` holds `[node, DFS parent,
/// edge cursor]`; the DFS stack is the parent chain itself.
struct Dfs<'a> {
    offsets: &'a [u64],
    targets: &'a [NodeId],
    labels: &'a [u32],
    pre: Vec<u32>,
    vert: Vec<[u32; 3]>,
    target_pre: Vec<u32>,
    next: u32,
}

impl Dfs<'_> {
    /// Gives `node` the next number, as a child of vertex `parent`.
    fn number(&mut self, node: NodeId, parent: u32) -> u32 {
        let p = self.next;
        self.next += 1;
        self.pre[node as usize] = p;
        self.vert[p as usize] = [node, parent, 0];
        p
    }

    /// Numbers everything newly reachable from vertex `start` (already
    /// numbered) along strong edges, in preorder.
    fn visit_from(&mut self, start: u32) {
        let mut cur = start;
        loop {
            let [node, parent, cursor] = self.vert[cur as usize];
            let begin = self.offsets[node as usize] as usize;
            let end = self.offsets[node as usize + 1] as usize;
            let mut e = begin + cursor as usize;
            let mut found = NONE;
            while e < end {
                let t = self.targets[e];
                if self.labels[e] >> 28 != WEAK {
                    let q = self.pre[t as usize];
                    if q == NONE {
                        found = t;
                        break;
                    }
                    self.target_pre[e] = q;
                }
                e += 1;
            }
            if found != NONE {
                self.vert[cur as usize][2] = (e + 1 - begin) as u32;
                let p = self.number(found, cur);
                self.target_pre[e] = p;
                cur = p;
            } else if cur == start {
                break;
            } else {
                cur = parent;
            }
        }
    }
}

const ANCESTOR: usize = 0;
const BEST: usize = 1;

/// `eval` of Lengauer–Tarjan restricted to the vertices numbered
/// `>= last_linked` (those already processed), returning the smallest
/// semidominator on the forest path from `v` up to (excluding) the first
/// unlinked ancestor, and compressing that path. The path is walked up
/// reversing the ancestor pointers and down restoring them, so no stack is
/// needed even for a path millions of vertices long. `info[v]` is
/// `[ancestor, best semidominator up the compressed path]`.
fn eval(v: u32, last_linked: u32, info: &mut [[u32; 2]]) -> u32 {
    if info[v as usize][ANCESTOR] < last_linked {
        return info[v as usize][BEST];
    }
    let mut prev = NONE;
    let mut x = v;
    loop {
        let up = info[x as usize][ANCESTOR];
        info[x as usize][ANCESTOR] = prev;
        prev = x;
        x = up;
        if info[x as usize][ANCESTOR] < last_linked {
            break;
        }
    }
    // `x` is the topmost linked vertex; its ancestor is the forest root.
    let [top, mut best] = info[x as usize];
    let mut cur = prev;
    while cur != NONE {
        let [down, own] = info[cur as usize];
        best = best.min(own);
        info[cur as usize] = [top, best];
        cur = down;
    }
    best
}

/// The children of every dominator as CSR: slot `n` is the super-root, slot
/// `n + 1` the garbage root; each slot sorted by retained size descending,
/// then id.
fn children_csr(idom: &[u32], retained: &[u64]) -> (Vec<u32>, Vec<NodeId>) {
    let n = idom.len();
    let slot = |d: u32| match d {
        BY_SUPER_ROOT => n,
        BY_GARBAGE_ROOT => n + 1,
        d => d as usize,
    };
    let mut offsets = vec![0u32; n + 3];
    for &d in idom {
        offsets[slot(d) + 1] += 1;
    }
    for i in 0..n + 2 {
        offsets[i + 1] += offsets[i];
    }
    let mut fill: Vec<u32> = offsets[..n + 2].to_vec();
    let mut children = vec![0 as NodeId; n];
    for (node, &d) in idom.iter().enumerate() {
        let s = &mut fill[slot(d)];
        children[*s as usize] = node as NodeId;
        *s += 1;
    }
    for s in 0..n + 2 {
        let part = &mut children[offsets[s] as usize..offsets[s + 1] as usize];
        if part.len() > 1 {
            part.sort_unstable_by(|&a, &b| {
                retained[b as usize]
                    .cmp(&retained[a as usize])
                    .then(a.cmp(&b))
            });
        }
    }
    (offsets, children)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EdgeLabel, RootKind, SnapshotBuilder, SnapshotMeta};
    use proptest::prelude::*;

    /// A snapshot of `n` nodes (owned size of node `i` = `sizes[i]`), strong
    /// edges `(from, to)`, weak edges, and roots.
    fn snapshot(
        sizes: &[u64],
        edges: &[(u32, u32)],
        weak: &[(u32, u32)],
        roots: &[u32],
    ) -> HeapSnapshot {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let ty = b.add_type("builtins", "object");
        for (i, &size) in sizes.iter().enumerate() {
            b.add_node(0x1000 + 16 * i as u64, ty, size, size, 1, 0);
        }
        for (i, &(s, t)) in edges.iter().enumerate() {
            b.add_edge(s, t, EdgeLabel::index(i as u32));
        }
        for &(s, t) in weak {
            b.add_edge(s, t, EdgeLabel::bare(EdgeKind::Weak));
        }
        for &r in roots {
            b.add_root(RootKind::Module, "m", r, 0);
        }
        b.finish()
    }

    /// What a dominator computation says, in plain vectors, for comparing
    /// against the naive algorithm.
    #[derive(Debug, PartialEq)]
    struct Answer {
        idom: Vec<Dominator>,
        retained: Vec<u64>,
        reachable: Vec<bool>,
        entries: Vec<NodeId>,
    }

    fn answer(dom: &DominatorTree) -> Answer {
        let n = dom.node_count() as u32;
        let mut entries = dom.unreachable_entries().to_vec();
        entries.sort_unstable();
        Answer {
            idom: (0..n).map(|v| dom.idom(v)).collect(),
            retained: (0..n).map(|v| dom.retained(v)).collect(),
            reachable: (0..n).map(|v| dom.is_reachable(v)).collect(),
            entries,
        }
    }

    fn reach(adj: &[Vec<usize>], from: &[usize], removed: Option<usize>) -> Vec<bool> {
        let mut seen = vec![false; adj.len()];
        let mut stack: Vec<usize> = from
            .iter()
            .copied()
            .filter(|&f| Some(f) != removed)
            .collect();
        for &f in &stack {
            seen[f] = true;
        }
        while let Some(u) = stack.pop() {
            for &v in &adj[u] {
                if !seen[v] && Some(v) != removed {
                    seen[v] = true;
                    stack.push(v);
                }
            }
        }
        seen
    }

    /// The definition, computed the slow way: `d` dominates `v` when
    /// removing `d` cuts `v` off the super-root.
    #[allow(clippy::needless_range_loop)] // index loops read as the definition
    fn naive(sizes: &[u64], edges: &[(u32, u32)], roots: &[u32]) -> Answer {
        let n = sizes.len();
        let mut strong = vec![Vec::new(); n];
        for &(s, t) in edges {
            strong[s as usize].push(t as usize);
        }
        let roots: Vec<usize> = roots.iter().map(|&r| r as usize).collect();
        let live = reach(&strong, &roots, None);
        // Garbage entries: no garbage referrer, then lowest uncovered id.
        let mut referred = vec![false; n];
        for (s, ts) in strong.iter().enumerate() {
            for &t in ts {
                if !live[s] && t != s {
                    referred[t] = true;
                }
            }
        }
        let garbage_adj: Vec<Vec<usize>> = (0..n)
            .map(|s| strong[s].iter().copied().filter(|&t| !live[t]).collect())
            .collect();
        let mut entries: Vec<usize> = (0..n).filter(|&v| !live[v] && !referred[v]).collect();
        let mut covered = reach(&garbage_adj, &entries, None);
        for v in 0..n {
            if !live[v] && !covered[v] {
                entries.push(v);
                let more = reach(&garbage_adj, &[v], None);
                for (c, m) in covered.iter_mut().zip(more) {
                    *c |= m;
                }
            }
        }
        // The augmented graph: S = n, G = n + 1.
        let (s_root, g_root) = (n, n + 1);
        let mut adj = vec![Vec::new(); n + 2];
        for (s, ts) in strong.iter().enumerate() {
            for &t in ts {
                if live[s] || !live[t] {
                    adj[s].push(t);
                }
            }
        }
        adj[s_root] = roots.clone();
        adj[s_root].push(g_root);
        adj[g_root] = entries.clone();
        // doms[v][d]: d dominates v.
        let mut doms = vec![vec![false; n + 2]; n + 2];
        for d in 0..n + 2 {
            let without = reach(&adj, &[s_root], Some(d));
            for v in 0..n + 2 {
                doms[v][d] = v == d || d == s_root || !without[v];
            }
        }
        let depth = |v: usize| doms[v].iter().filter(|&&x| x).count();
        let mut idom = Vec::new();
        let mut retained = Vec::new();
        for v in 0..n {
            let best = (0..n + 2)
                .filter(|&d| d != v && doms[v][d])
                .max_by_key(|&d| depth(d))
                .unwrap();
            idom.push(match best {
                d if d == s_root => Dominator::SuperRoot,
                d if d == g_root => Dominator::Unreachable,
                d => Dominator::Node(d as NodeId),
            });
            retained.push((0..n).filter(|&w| doms[w][v]).map(|w| sizes[w]).sum());
        }
        let entries: Vec<NodeId> = (0..n as NodeId)
            .filter(|&v| idom[v as usize] == Dominator::Unreachable)
            .collect();
        Answer {
            idom,
            retained,
            reachable: live,
            entries,
        }
    }

    fn dominators(sizes: &[u64], edges: &[(u32, u32)], roots: &[u32]) -> DominatorTree {
        DominatorTree::compute(&snapshot(sizes, edges, &[], roots))
    }

    #[test]
    fn the_lengauer_tarjan_paper_graph_has_its_published_dominators() {
        // GIVEN the flow graph of Lengauer & Tarjan (1979), R = 0, A..L = 1..12
        let (r, a, b, c, d, e, f, g, h, i, j, k, l) = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
        let edges = [
            (r, a),
            (r, b),
            (r, c),
            (a, d),
            (b, a),
            (b, d),
            (b, e),
            (c, f),
            (c, g),
            (d, l),
            (e, h),
            (f, i),
            (g, i),
            (g, j),
            (h, e),
            (h, k),
            (i, k),
            (j, i),
            (k, i),
            (k, r),
            (l, h),
        ];
        // WHEN dominators are computed from the root R
        let dom = dominators(&[1; 13], &edges, &[r]);
        // THEN idom(I) = idom(K) = idom(H) = idom(E) = R, idom(F) = idom(G) = C ...
        let expect = [
            (a, r),
            (b, r),
            (c, r),
            (d, r),
            (e, r),
            (f, c),
            (g, c),
            (h, r),
            (i, r),
            (j, g),
            (k, r),
            (l, d),
        ];
        for (v, want) in expect {
            assert_eq!(dom.idom(v), Dominator::Node(want), "idom of {v}");
        }
        assert_eq!(dom.idom(r), Dominator::SuperRoot);
        assert_eq!(dom.retained(r), 13);
        assert_eq!(dom.retained(c), 4); // C, F, G, J
        assert_eq!(dom.children(c), &[g, f]); // G retains 2, F 1
        assert_eq!(dom.top_level(), &[r]);
        assert_eq!(dom.reachable_size(), 13);
        assert_eq!(dom.unreachable_count(), 0);
        assert!(dom.dominates(c, j) && !dom.dominates(g, f));
        assert_eq!(dom.dominator_chain(j), vec![j, g, c, r]);
    }

    #[test]
    fn a_node_two_roots_share_hangs_from_the_super_root() {
        // GIVEN roots 0 and 1 both holding 2, which holds 3
        let dom = dominators(&[10, 20, 30, 40], &[(0, 2), (1, 2), (2, 3)], &[0, 1]);
        // THEN 2 is dominated by neither root, and retains 3
        assert_eq!(dom.idom(2), Dominator::SuperRoot);
        assert_eq!(dom.idom(3), Dominator::Node(2));
        assert_eq!(dom.retained(0), 10);
        assert_eq!(dom.retained(2), 70);
        assert_eq!(dom.top_level(), &[2, 1, 0]);
        assert_eq!(dom.reachable_size(), 100);
    }

    #[test]
    fn garbage_gets_its_own_root_and_never_moves_a_live_dominator() {
        // GIVEN a live chain 0 -> 1 -> 2 and a garbage cycle 3 <-> 4 that
        // also points at 2, plus garbage 5 -> 3 and an isolated node 6
        let edges = [(0, 1), (1, 2), (3, 4), (4, 3), (4, 2), (5, 3)];
        let dom = dominators(&[1, 2, 4, 8, 16, 32, 64], &edges, &[0]);
        // THEN the live dominators ignore the garbage edge into 2
        assert_eq!(dom.idom(2), Dominator::Node(1));
        assert_eq!(dom.retained(0), 7);
        // and the garbage hangs from the garbage root through its entries
        assert_eq!(dom.idom(5), Dominator::Unreachable);
        assert_eq!(dom.idom(3), Dominator::Node(5));
        assert_eq!(dom.idom(4), Dominator::Node(3));
        assert_eq!(dom.retained(5), 56);
        assert_eq!(dom.unreachable_entries(), &[6, 5]);
        assert_eq!(dom.unreachable_count(), 4);
        assert_eq!(dom.unreachable_size(), 120);
        assert_eq!((dom.reachable_count(), dom.reachable_size()), (3, 7));
        assert!(!dom.is_reachable(3) && dom.is_reachable(2));
    }

    #[test]
    fn a_garbage_cycle_with_no_outside_referrer_is_entered_at_its_lowest_id() {
        let dom = dominators(&[1, 1, 1, 1], &[(2, 3), (3, 1), (1, 2)], &[0]);
        assert_eq!(dom.unreachable_entries(), &[1]);
        assert_eq!(dom.retained(1), 3);
        assert_eq!(dom.idom(3), Dominator::Node(2));
    }

    #[test]
    fn weak_edges_do_not_retain() {
        // GIVEN 0 -> 1 strongly and 0 -> 2 only weakly
        let snap = snapshot(&[1, 1, 1], &[(0, 1)], &[(0, 2), (1, 2)], &[0]);
        let mut snap = snap;
        let dom = DominatorTree::compute(&snap);
        assert_eq!(dom.retained(0), 2);
        assert!(!dom.is_reachable(2));
        dom.mark_unreachable(&mut snap);
        assert!(snap.flags(2).contains(NodeFlags::UNREACHABLE));
        assert!(!snap.flags(1).contains(NodeFlags::UNREACHABLE));
    }

    #[test]
    fn an_empty_snapshot_and_a_rootless_one_are_fine() {
        let dom = dominators(&[], &[], &[]);
        assert_eq!((dom.node_count(), dom.reachable_size()), (0, 0));
        assert!(dom.top_level().is_empty());
        let dom = dominators(&[5, 5], &[(0, 1)], &[]);
        assert_eq!(dom.unreachable_entries(), &[0]);
        assert_eq!(dom.retained(0), 10);
    }

    #[test]
    fn a_ten_million_long_linked_list_needs_no_recursion() {
        // GIVEN a list 0 -> 1 -> ... -> n-1 whose tail points back at node 1,
        // so one `eval` compresses a path n - 2 vertices long
        let n: u32 = 10_000_000;
        let mut b = SnapshotBuilder::with_capacity(SnapshotMeta::default(), n as usize, n as usize);
        let ty = b.add_type("builtins", "list");
        for i in 0..n {
            b.add_node(u64::from(i), ty, 8, 8, 1, 0);
        }
        for i in 0..n - 1 {
            b.add_edge(i, i + 1, EdgeLabel::index(0));
        }
        b.add_edge(n - 1, 1, EdgeLabel::index(1));
        b.add_root(RootKind::Module, "m", 0, 0);
        let snap = b.finish();
        // WHEN the dominators are computed
        let dom = DominatorTree::compute(&snap);
        // THEN each node dominates the rest of the list
        assert_eq!(dom.retained(0), 8 * u64::from(n));
        assert_eq!(dom.retained(1), 8 * u64::from(n - 1));
        assert_eq!(dom.idom(n - 1), Dominator::Node(n - 2));
        assert_eq!(dom.idom(1), Dominator::Node(0));
        assert_eq!(dom.dominator_chain(n - 1).len(), n as usize);
    }

    fn graph() -> impl Strategy<Value = (Vec<u64>, Vec<(u32, u32)>, Vec<u32>)> {
        (1usize..24).prop_flat_map(|n| {
            let node = 0..n as u32;
            (
                proptest::collection::vec(1u64..100, n),
                proptest::collection::vec((node.clone(), node.clone()), 0..3 * n),
                proptest::collection::vec(node, 0..4),
            )
        })
    }

    proptest! {
        #[test]
        fn semi_nca_agrees_with_the_definition((sizes, edges, roots) in graph()) {
            let dom = dominators(&sizes, &edges, &roots);
            prop_assert_eq!(answer(&dom), naive(&sizes, &edges, &roots));
            // retained sizes add up: super-root and garbage root cover all
            let top: u64 = dom.top_level().iter().map(|&v| dom.retained(v)).sum();
            let gar: u64 = dom.unreachable_entries().iter().map(|&v| dom.retained(v)).sum();
            prop_assert_eq!(top, dom.reachable_size());
            prop_assert_eq!(gar, dom.unreachable_size());
            prop_assert_eq!(top + gar, sizes.iter().sum::<u64>());
        }

        #[test]
        fn weak_edges_change_nothing_but_reachability_through_them(
            (sizes, edges, roots) in graph(),
            weak in proptest::collection::vec((0u32..24, 0u32..24), 0..10),
        ) {
            let n = sizes.len() as u32;
            let weak: Vec<(u32, u32)> =
                weak.into_iter().filter(|&(s, t)| s < n && t < n).collect();
            let with = DominatorTree::compute(&snapshot(&sizes, &edges, &weak, &roots));
            prop_assert_eq!(answer(&with), answer(&dominators(&sizes, &edges, &roots)));
        }
    }
}

//! The object graph: `u32` node indices, edges in CSR (compressed sparse row) form.
//!
//! Forward edges are stored as one flat array of targets plus one offset per
//! node; the reverse edges (referrers) are built the first time they are
//! asked for. Eight bytes per node and four per edge, no per-node allocation.

use std::collections::VecDeque;
use std::sync::OnceLock;

pub use crate::model::NodeId;

/// Builds a [`HeapGraph`] one node at a time, in node order.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    offsets: Vec<u64>,
    targets: Vec<NodeId>,
}

impl GraphBuilder {
    /// A builder expecting about `nodes` nodes.
    pub fn with_capacity(nodes: usize) -> Self {
        GraphBuilder {
            offsets: Vec::with_capacity(nodes + 1),
            targets: Vec::with_capacity(nodes * 2),
        }
    }

    /// Starts the next node; the edges pushed until the next call are its referents.
    /// Returns the node's index.
    pub fn start_node(&mut self) -> NodeId {
        self.offsets.push(self.targets.len() as u64);
        (self.offsets.len() - 1) as NodeId
    }

    /// Adds an edge from the current node to `target`.
    pub fn push_edge(&mut self, target: NodeId) {
        self.targets.push(target);
    }

    /// Finishes the graph; `nodes` is the total number of nodes (nodes never
    /// started have no referents).
    pub fn finish(mut self, nodes: usize) -> HeapGraph {
        while self.offsets.len() <= nodes {
            self.offsets.push(self.targets.len() as u64);
        }
        // Extra nodes (a caller error) are cut off with their edges.
        self.offsets.truncate(nodes + 1);
        let end = self.offsets[nodes] as usize;
        self.targets.truncate(end);
        HeapGraph {
            offsets: self.offsets,
            targets: self.targets,
            reverse: OnceLock::new(),
        }
    }
}

/// A directed graph over live objects: who refers to whom.
#[derive(Debug)]
pub struct HeapGraph {
    offsets: Vec<u64>,
    targets: Vec<NodeId>,
    reverse: OnceLock<(Vec<u64>, Vec<NodeId>)>,
}

impl HeapGraph {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The nodes `node` refers to, in traversal order (duplicates kept: an
    /// object held twice has two edges). Empty for an unknown node.
    pub fn referents(&self, node: NodeId) -> &[NodeId] {
        let n = node as usize;
        if n + 1 >= self.offsets.len() {
            return &[];
        }
        &self.targets[self.offsets[n] as usize..self.offsets[n + 1] as usize]
    }

    /// The nodes that refer to `node`. Empty for an unknown node.
    pub fn referrers(&self, node: NodeId) -> &[NodeId] {
        let (offsets, sources) = self.reverse.get_or_init(|| self.build_reverse());
        let n = node as usize;
        if n + 1 >= offsets.len() {
            return &[];
        }
        &sources[offsets[n] as usize..offsets[n + 1] as usize]
    }

    fn build_reverse(&self) -> (Vec<u64>, Vec<NodeId>) {
        let nodes = self.node_count();
        let mut offsets = vec![0u64; nodes + 1];
        for &target in self.targets.iter().filter(|&&t| (t as usize) < nodes) {
            offsets[target as usize + 1] += 1;
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut sources = vec![0; self.targets.len()];
        for source in 0..nodes {
            for &target in self
                .referents(source as NodeId)
                .iter()
                .filter(|&&t| (t as usize) < nodes)
            {
                let slot = &mut fill[target as usize];
                sources[*slot as usize] = source as NodeId;
                *slot += 1;
            }
        }
        (offsets, sources)
    }

    /// Breadth-first search from `start` along referents (`forward`) or
    /// referrers, at most `max_depth` edges deep, for the nearest node where
    /// `is_goal` holds. Nodes for which `skip` holds are never entered.
    /// Returns the path `start … goal`, or `None`.
    pub fn shortest_path(
        &self,
        start: NodeId,
        forward: bool,
        max_depth: usize,
        mut is_goal: impl FnMut(NodeId) -> bool,
        mut skip: impl FnMut(NodeId) -> bool,
    ) -> Option<Vec<NodeId>> {
        let nodes = self.node_count();
        if start as usize >= nodes {
            return None;
        }
        const UNSEEN: u32 = u32::MAX;
        let mut parent = vec![UNSEEN; nodes];
        parent[start as usize] = start;
        let mut queue = VecDeque::from([(start, 0usize)]);
        while let Some((node, depth)) = queue.pop_front() {
            if is_goal(node) {
                let mut path = vec![node];
                let mut cur = node;
                while cur != start {
                    cur = parent[cur as usize];
                    path.push(cur);
                }
                path.reverse();
                return Some(path);
            }
            if depth >= max_depth {
                continue;
            }
            let next = if forward {
                self.referents(node)
            } else {
                self.referrers(node)
            };
            for &n in next {
                if (n as usize) < nodes && parent[n as usize] == UNSEEN && !skip(n) {
                    parent[n as usize] = node;
                    queue.push_back((n, depth + 1));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 -> 1 -> 2 -> 3, 0 -> 3, 4 isolated.
    fn diamond() -> HeapGraph {
        let mut b = GraphBuilder::with_capacity(5);
        b.start_node();
        b.push_edge(1);
        b.push_edge(3);
        b.start_node();
        b.push_edge(2);
        b.start_node();
        b.push_edge(3);
        b.finish(5)
    }

    #[test]
    fn referents_and_referrers_are_mirror_images() {
        let g = diamond();
        assert_eq!(g.node_count(), 5);
        assert_eq!(g.edge_count(), 4);
        assert_eq!(g.referents(0), &[1, 3]);
        assert_eq!(g.referents(3), &[] as &[u32]);
        assert_eq!(g.referrers(3), &[0, 2]);
        assert_eq!(g.referrers(0), &[] as &[u32]);
        assert_eq!(g.referents(99), &[] as &[u32]);
        assert_eq!(g.referrers(99), &[] as &[u32]);
    }

    #[test]
    fn shortest_path_takes_the_fewest_edges_either_way() {
        let g = diamond();
        assert_eq!(
            g.shortest_path(0, true, 10, |n| n == 3, |_| false),
            Some(vec![0, 3])
        );
        assert_eq!(
            g.shortest_path(3, false, 10, |n| n == 1, |_| false),
            Some(vec![3, 2, 1])
        );
        assert_eq!(g.shortest_path(3, false, 1, |n| n == 1, |_| false), None);
        assert_eq!(g.shortest_path(0, true, 10, |n| n == 3, |n| n == 3), None);
        assert_eq!(g.shortest_path(0, true, 10, |n| n == 4, |_| false), None);
        assert_eq!(g.shortest_path(7, true, 10, |_| true, |_| false), None);
    }

    #[test]
    fn a_ten_million_node_chain_is_searched_without_recursion() {
        let n = 10_000_000u32;
        let mut b = GraphBuilder::with_capacity(n as usize);
        for i in 0..n {
            b.start_node();
            if i + 1 < n {
                b.push_edge(i + 1);
            }
        }
        let g = b.finish(n as usize);
        let path = g
            .shortest_path(n - 1, false, usize::MAX, |node| node == 0, |_| false)
            .unwrap();
        assert_eq!(path.len(), n as usize);
    }

    #[test]
    fn an_empty_graph_is_fine() {
        let g = GraphBuilder::default().finish(0);
        assert_eq!(g.node_count(), 0);
        assert_eq!(g.shortest_path(0, true, 1, |_| true, |_| false), None);
    }
}

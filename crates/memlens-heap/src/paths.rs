//! Shortest paths from the roots, spelled as Python expressions.
//!
//! [`RootPaths::compute`] runs a breadth-first search from the named roots
//! (modules, classes, sys), then from the frames, then from the hidden
//! holders (roots in snapshot order within a tier, edges in walk order, weak
//! edges skipped), so each node gets one shortest path from the most useful
//! root, the same on every run. [`RootPath::expression`] spells it the way a user would reach
//! the object: `pkg.mod._cache['k'][3].items`.

use std::collections::{BTreeMap, VecDeque};

use crate::json::push_json_string;
use crate::model::{EdgeKind, EdgeLabel, HeapSnapshot, NodeId, RootKind, TypeId};
use crate::units::human_bytes;

const UNREACHED: u32 = u32::MAX;
const IS_ROOT: u32 = u32::MAX - 1;
const WEAK: u32 = EdgeKind::Weak as u32;

/// One shortest path per node, from the nearest root.
///
/// Per node: the BFS parent (4 bytes) and the edge index it came by (8).
#[derive(Debug, Clone)]
pub struct RootPaths {
    parent: Vec<u32>,
    /// The edge index from the parent, or the root index for a root node.
    via: Vec<u64>,
}

/// One step of a path: the edge taken and the node it leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathStep {
    /// The edge's label.
    pub label: EdgeLabel,
    /// The node reached.
    pub node: NodeId,
    /// The edge's index in the snapshot's forward CSR.
    pub edge: u64,
}

/// A path from a root: the root (an index into [`HeapSnapshot::roots`]) and
/// the edges taken from its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPath {
    /// Index of the root in `snap.roots()`.
    pub root: usize,
    /// The steps from the root's node; empty when the target is the root.
    pub steps: Vec<PathStep>,
}

/// Indices of the roots whose name is `name`, in snapshot order.
pub fn find_roots(snap: &HeapSnapshot, name: &str) -> Vec<usize> {
    snap.roots()
        .iter()
        .enumerate()
        .filter(|(_, r)| snap.str(r.name) == name)
        .map(|(i, _)| i)
        .collect()
}

/// The search tier of a root kind: named roots, then frames, then holders
/// outside the graph.
fn tier(kind: RootKind) -> u8 {
    match kind {
        RootKind::Frame => 1,
        RootKind::HiddenHolder => 2,
        _ => 0,
    }
}

impl RootPaths {
    /// Shortest paths from all roots (see [`compute_from`](Self::compute_from)
    /// for the order roots are preferred in).
    pub fn compute(snap: &HeapSnapshot) -> RootPaths {
        let all: Vec<usize> = (0..snap.roots().len()).collect();
        RootPaths::compute_from(snap, &all)
    }

    /// Shortest paths from the roots `roots` (indices into `snap.roots()`;
    /// out-of-range indices are ignored) only.
    ///
    /// Roots are searched in three tiers, each to completion before the
    /// next: named roots (modules, builtins, sys, classes, other), then
    /// threads' frames, then hidden holders. A node any module reaches gets
    /// its path from a module even when a frame or a reference from C is
    /// one step closer: that is the holder a user can act on.
    pub fn compute_from(snap: &HeapSnapshot, roots: &[usize]) -> RootPaths {
        let n = snap.node_count();
        let (offsets, targets, labels) = snap.forward_csr();
        let mut parent = vec![UNREACHED; n];
        let mut via = vec![0u64; n];
        let mut queue = VecDeque::new();
        let mut sorted: Vec<usize> = roots
            .iter()
            .copied()
            .filter(|&r| r < snap.roots().len())
            .collect();
        sorted.sort_unstable_by_key(|&r| (tier(snap.roots()[r].kind), r));
        let mut next = 0;
        while next < sorted.len() {
            let current = tier(snap.roots()[sorted[next]].kind);
            while next < sorted.len() && tier(snap.roots()[sorted[next]].kind) == current {
                let r = sorted[next];
                next += 1;
                let node = snap.roots()[r].node as usize;
                if parent[node] == UNREACHED {
                    parent[node] = IS_ROOT;
                    via[node] = r as u64;
                    queue.push_back(node as NodeId);
                }
            }
            while let Some(src) = queue.pop_front() {
                let s = src as usize;
                for e in offsets[s] as usize..offsets[s + 1] as usize {
                    let t = targets[e] as usize;
                    if parent[t] == UNREACHED && labels[e] >> 28 != WEAK {
                        parent[t] = src;
                        via[t] = e as u64;
                        queue.push_back(t as NodeId);
                    }
                }
            }
        }
        RootPaths { parent, via }
    }

    /// Whether some root (of those searched) reaches `node`.
    pub fn is_reached(&self, node: NodeId) -> bool {
        self.parent
            .get(node as usize)
            .is_some_and(|&p| p != UNREACHED)
    }

    /// The number of edges from the nearest root, if reached.
    pub fn depth(&self, node: NodeId) -> Option<u32> {
        if !self.is_reached(node) {
            return None;
        }
        let mut depth = 0;
        let mut cur = node as usize;
        while self.parent[cur] != IS_ROOT {
            cur = self.parent[cur] as usize;
            depth += 1;
        }
        Some(depth)
    }

    /// The shortest path from a root to `node`, if reached.
    pub fn path(&self, snap: &HeapSnapshot, node: NodeId) -> Option<RootPath> {
        if !self.is_reached(node) {
            return None;
        }
        let (_, _, labels) = snap.forward_csr();
        let mut steps = Vec::new();
        let mut cur = node as usize;
        while self.parent[cur] != IS_ROOT {
            let edge = self.via[cur];
            steps.push(PathStep {
                label: EdgeLabel::unpack(labels[edge as usize])
                    .unwrap_or(EdgeLabel::bare(EdgeKind::Unknown)),
                node: cur as NodeId,
                edge,
            });
            cur = self.parent[cur] as usize;
        }
        steps.reverse();
        Some(RootPath {
            root: self.via[cur] as usize,
            steps,
        })
    }
}

impl RootPath {
    /// The node the path leads to.
    pub fn target(&self, snap: &HeapSnapshot) -> NodeId {
        self.steps
            .last()
            .map_or(snap.roots()[self.root].node, |s| s.node)
    }

    /// The path as a Python expression: `pkg.mod._cache['k'][3].items`.
    pub fn expression(&self, snap: &HeapSnapshot) -> String {
        self.spell(snap, false)
    }

    /// The expression with indices and non-identifier keys masked as `[*]`:
    /// the path's *signature*, the same for every item of one container.
    pub fn masked_expression(&self, snap: &HeapSnapshot) -> String {
        self.spell(snap, true)
    }

    fn spell(&self, snap: &HeapSnapshot, masked: bool) -> String {
        let root = snap.roots()[self.root];
        let root_name = snap.str(root.name);
        let mut out = String::new();
        let mut steps = self.steps.iter().peekable();
        match root.kind {
            RootKind::Frame => match steps.peek() {
                Some(s) if s.label.kind == EdgeKind::Attr && s.label.name != 0 => {
                    out.push_str(snap.str(s.label.name));
                    steps.next();
                }
                _ => {
                    out.push_str("<frame ");
                    out.push_str(root_name);
                    out.push('>');
                }
            },
            RootKind::HiddenHolder => {
                out.push_str(&format!("<held from C: {} refs>", root.missing))
            }
            RootKind::Other if root_name.is_empty() => out.push_str("<root>"),
            _ => out.push_str(root_name),
        }
        let mut namespace = matches!(root.kind, RootKind::Module | RootKind::Builtins);
        let mut prev_node = root.node;
        while let Some(step) = steps.next() {
            let name = snap.str(step.label.name);
            // A function's or module's `__dict__` reached as an attribute is
            // spelled as the namespace it is (`f.cache`, not
            // `f.__dict__['cache']`).
            let is_dict = step.label.kind == EdgeKind::Dict
                || (step.label.kind == EdgeKind::Attr && name == "__dict__");
            match step.label.kind {
                _ if is_dict => {
                    let next_is_name = steps.peek().is_some_and(|s| {
                        s.label.kind == EdgeKind::Attr
                            || (s.label.kind == EdgeKind::DictValue
                                && identifier_key(snap.str(s.label.name)).is_some())
                    });
                    if !next_is_name {
                        out.push_str(".__dict__");
                    }
                    namespace = true;
                    prev_node = step.node;
                    continue;
                }
                EdgeKind::Attr if name.is_empty() => out.push_str(".<?>"),
                EdgeKind::Attr | EdgeKind::Dict => {
                    out.push('.');
                    out.push_str(name);
                }
                EdgeKind::DictValue => match identifier_key(name) {
                    Some(ident) if namespace => {
                        out.push('.');
                        out.push_str(ident);
                    }
                    Some(_) => {
                        out.push('[');
                        out.push_str(&quoted_key(name));
                        out.push(']');
                    }
                    None if masked => out.push_str("[*]"),
                    None if !name.is_empty() => {
                        out.push('[');
                        out.push_str(&quoted_key(name));
                        out.push(']');
                    }
                    None => {
                        out.push_str("[<");
                        out.push_str(&key_type(snap, prev_node, step.edge));
                        out.push_str(">]");
                    }
                },
                EdgeKind::Index if masked => out.push_str("[*]"),
                EdgeKind::Index => out.push_str(&format!("[{}]", step.label.index)),
                EdgeKind::Cell => out.push_str(&format!(".<cell {name}>")),
                EdgeKind::DictKey if name.is_empty() => out.push_str(".<key>"),
                EdgeKind::DictKey => out.push_str(&format!(".<key {name}>")),
                EdgeKind::Class => out.push_str(".__class__"),
                EdgeKind::Default => out.push_str(&format!(".__defaults__[{}]", step.label.index)),
                EdgeKind::Weak => out.push_str("()"),
                EdgeKind::Internal if name.is_empty() => out.push_str(".<internal>"),
                EdgeKind::Internal => out.push_str(&format!(".<{name}>")),
                EdgeKind::Unknown => out.push_str(".<?>"),
            }
            namespace = false;
            prev_node = step.node;
        }
        out
    }

    /// The path step by step, one line per step: how it is reached, the
    /// node's type, address and sizes.
    pub fn describe(&self, snap: &HeapSnapshot) -> String {
        let root = snap.roots()[self.root];
        let mut out = format!(
            "{} root {}\n",
            root.kind.as_str(),
            quoted_text(snap.str(root.name))
        );
        out.push_str(&node_line(snap, "  ", root.node));
        for step in &self.steps {
            let spelled = step_text(snap, step);
            out.push_str(&node_line(snap, &format!("  {spelled} -> "), step.node));
        }
        out
    }
}

/// How one step is reached, for [`RootPath::describe`].
fn step_text(snap: &HeapSnapshot, step: &PathStep) -> String {
    {
        let name = snap.str(step.label.name);
        match step.label.kind {
            EdgeKind::Attr => format!(".{name}"),
            EdgeKind::DictValue if name.is_empty() => "[<key>]".into(),
            EdgeKind::DictValue => format!("[{}]", quoted_key(name)),
            EdgeKind::Index => format!("[{}]", step.label.index),
            EdgeKind::Dict => ".__dict__".into(),
            EdgeKind::Class => ".__class__".into(),
            EdgeKind::Cell => format!("closure cell {name}"),
            EdgeKind::DictKey => "dict key".into(),
            EdgeKind::Default => format!("default argument {}", step.label.index),
            EdgeKind::Weak => "weak reference".into(),
            EdgeKind::Internal => format!("internal {name}"),
            EdgeKind::Unknown => "unlabelled reference".into(),
        }
    }
}

impl RootPath {
    /// `{"root": {...}, "expression": ..., "steps": [{"kind", "name",
    /// "index", "node", "type", "addr", "owned"}]}`.
    pub fn to_json(&self, snap: &HeapSnapshot) -> String {
        let root = snap.roots()[self.root];
        let mut out = String::from("{\"root\":{\"kind\":");
        push_json_string(&mut out, root.kind.as_str());
        out.push_str(",\"name\":");
        push_json_string(&mut out, snap.str(root.name));
        out.push_str(&format!(",\"node\":{}}},\"expression\":", root.node));
        push_json_string(&mut out, &self.expression(snap));
        out.push_str(",\"signature\":");
        push_json_string(&mut out, &self.masked_expression(snap));
        out.push_str(",\"steps\":[");
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"kind\":");
            push_json_string(&mut out, step.label.kind.as_str());
            out.push_str(",\"name\":");
            push_json_string(&mut out, snap.str(step.label.name));
            out.push_str(&format!(
                ",\"index\":{},\"node\":{},\"type\":",
                step.label.index, step.node
            ));
            push_json_string(&mut out, &snap.type_name(snap.type_of(step.node)));
            out.push_str(&format!(
                ",\"addr\":{},\"owned\":{}}}",
                snap.addr(step.node),
                snap.owned(step.node)
            ));
        }
        out.push_str("]}");
        out
    }
}

fn node_line(snap: &HeapSnapshot, prefix: &str, node: NodeId) -> String {
    format!(
        "{prefix}{} at {:#x} ({})\n",
        snap.type_name(snap.type_of(node)),
        snap.addr(node),
        human_bytes(snap.owned(node))
    )
}

fn quoted_text(text: &str) -> String {
    format!("{text:?}")
}

/// The identifier inside a key repr `'name'` (or a bare identifier).
fn identifier_key(repr: &str) -> Option<&str> {
    let inner = repr
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| repr.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
        .unwrap_or(repr);
    let mut chars = inner.chars();
    let first = chars.next()?;
    let ok = (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && !(inner == repr && is_keyword_literal(inner));
    ok.then_some(inner)
}

fn is_keyword_literal(text: &str) -> bool {
    matches!(text, "None" | "True" | "False")
}

/// A key repr as it goes between brackets: a bare identifier is taken for a
/// string key and quoted; anything else (`'k'`, `3`, `(1, 2)`) is kept.
fn quoted_key(repr: &str) -> String {
    match identifier_key(repr) {
        Some(ident) if ident == repr => format!("'{ident}'"),
        _ => repr.to_owned(),
    }
}

/// The type of the key of a dict value reached by `edge`: the `DictKey`
/// edge just before it in the dict's edges, if the walker emitted one.
fn key_type(snap: &HeapSnapshot, dict: NodeId, edge: u64) -> String {
    let (offsets, targets, labels) = snap.forward_csr();
    let (begin, end) = (offsets[dict as usize], offsets[dict as usize + 1]);
    let is_key = |e: u64| labels[e as usize] >> 28 == EdgeKind::DictKey as u32;
    // The capture puts each key right after its value; other writers may
    // put it before.
    if edge + 1 < end && is_key(edge + 1) {
        return snap.type_name(snap.type_of(targets[edge as usize + 1]));
    }
    if edge > begin && is_key(edge - 1) {
        return snap.type_name(snap.type_of(targets[edge as usize - 1]));
    }
    // Keys listed apart (a dict of str keys): their one type, if they share it.
    let mut types = (begin..end)
        .filter(|&e| is_key(e))
        .map(|e| snap.type_of(targets[e as usize]));
    match types.next() {
        Some(first) if types.all(|t| t == first) => snap.type_name(first),
        _ => "key".into(),
    }
}

/// Shortest paths to the instances of one type, grouped by signature.
#[derive(Debug, Clone)]
pub struct TypePaths {
    /// The type.
    pub type_name: String,
    /// Groups, most instances first, then by signature.
    pub groups: Vec<PathGroup>,
    /// Instances no searched root reaches.
    pub unreached: u64,
    /// Groups left out by the limit.
    pub omitted_groups: u64,
}

/// Instances of a type whose shortest paths share a signature.
#[derive(Debug, Clone)]
pub struct PathGroup {
    /// The masked expression ([`RootPath::masked_expression`]).
    pub signature: String,
    /// Instances in the group.
    pub count: u64,
    /// Their owned bytes.
    pub owned: u64,
    /// The path to the group's first instance (lowest node id).
    pub example: RootPath,
}

/// The shortest path to every instance of `ty`, grouped by signature; at
/// most `limit` groups are kept (the largest).
pub fn paths_to_type(
    snap: &HeapSnapshot,
    paths: &RootPaths,
    ty: TypeId,
    limit: usize,
) -> TypePaths {
    let mut groups: BTreeMap<String, PathGroup> = BTreeMap::new();
    let mut unreached = 0;
    for node in 0..snap.node_count() as NodeId {
        if snap.type_of(node) != ty {
            continue;
        }
        let Some(path) = paths.path(snap, node) else {
            unreached += 1;
            continue;
        };
        let signature = path.masked_expression(snap);
        let group = groups.entry(signature.clone()).or_insert(PathGroup {
            signature,
            count: 0,
            owned: 0,
            example: path,
        });
        group.count += 1;
        group.owned += snap.owned(node);
    }
    let mut groups: Vec<PathGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.owned.cmp(&a.owned)));
    let omitted_groups = groups.len().saturating_sub(limit) as u64;
    groups.truncate(limit);
    TypePaths {
        type_name: snap.type_name(ty),
        groups,
        unreached,
        omitted_groups,
    }
}

impl TypePaths {
    /// One line per group: count, bytes, signature, and an example.
    pub fn render(&self, snap: &HeapSnapshot) -> String {
        let total: u64 = self.groups.iter().map(|g| g.count).sum();
        let mut out = format!("paths to {} ({total} reached", self.type_name);
        if self.unreached > 0 {
            out.push_str(&format!(", {} unreached", self.unreached));
        }
        out.push_str(")\n");
        for g in &self.groups {
            out.push_str(&format!(
                "{:>9} {:>10}  {}\n          e.g. {}\n",
                g.count,
                human_bytes(g.owned),
                g.signature,
                g.example.expression(snap)
            ));
        }
        if self.omitted_groups > 0 {
            out.push_str(&format!("... {} more signatures\n", self.omitted_groups));
        }
        out
    }

    /// `{"type", "unreached", "omitted_groups", "groups": [{"signature",
    /// "count", "owned", "example": <path>}]}`.
    pub fn to_json(&self, snap: &HeapSnapshot) -> String {
        let mut out = String::from("{\"type\":");
        push_json_string(&mut out, &self.type_name);
        out.push_str(&format!(
            ",\"unreached\":{},\"omitted_groups\":{},\"groups\":[",
            self.unreached, self.omitted_groups
        ));
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"signature\":");
            push_json_string(&mut out, &g.signature);
            out.push_str(&format!(
                ",\"count\":{},\"owned\":{},\"example\":{}}}",
                g.count,
                g.owned,
                g.example.to_json(snap)
            ));
        }
        out.push_str("]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SnapshotBuilder, SnapshotMeta};

    /// `pkg.mod` (module) --Dict--> dict --Attr _cache--> dict
    /// --DictValue 'k'--> list --Index 3--> obj --Dict--> d --Attr items--> list
    fn example() -> (HeapSnapshot, NodeId) {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let module = b.add_type("builtins", "module");
        let dict = b.add_type("builtins", "dict");
        let list = b.add_type("builtins", "list");
        let obj = b.add_type("app", "Order");
        let m = b.add_node(0x10, module, 72, 72, 1, 0);
        let md = b.add_node(0x20, dict, 200, 200, 1, 0);
        let cache = b.add_node(0x30, dict, 300, 300, 1, 0);
        let l = b.add_node(0x40, list, 88, 88, 1, 0);
        let o = b.add_node(0x50, obj, 48, 48, 1, 0);
        let od = b.add_node(0x60, dict, 100, 100, 1, 0);
        let items = b.add_node(0x70, list, 56, 56, 1, 0);
        let cache_name = b.intern("_cache");
        let k = b.intern("'k'");
        let items_name = b.intern("items");
        b.add_edge(m, md, EdgeLabel::bare(EdgeKind::Dict));
        b.add_edge(md, cache, EdgeLabel::named(EdgeKind::Attr, cache_name));
        b.add_edge(cache, l, EdgeLabel::named(EdgeKind::DictValue, k));
        b.add_edge(l, o, EdgeLabel::index(3));
        b.add_edge(o, od, EdgeLabel::bare(EdgeKind::Dict));
        b.add_edge(od, items, EdgeLabel::named(EdgeKind::Attr, items_name));
        b.add_root(RootKind::Module, "pkg.mod", m, 0);
        (b.finish(), items)
    }

    #[test]
    fn a_path_reads_as_the_python_expression_that_reaches_the_object() {
        // GIVEN pkg.mod._cache['k'][3].items
        let (snap, items) = example();
        // WHEN its shortest path is asked for
        let paths = RootPaths::compute(&snap);
        let path = paths.path(&snap, items).unwrap();
        // THEN it is spelled as Python, __dict__ hops left out
        assert_eq!(path.expression(&snap), "pkg.mod._cache['k'][3].items");
        assert_eq!(
            path.masked_expression(&snap),
            "pkg.mod._cache['k'][*].items"
        );
        assert_eq!(path.steps.len(), 6);
        assert_eq!(path.target(&snap), items);
        assert_eq!(paths.depth(items), Some(6));
        let text = path.describe(&snap);
        assert!(text.starts_with("module root \"pkg.mod\"\n"), "{text}");
        assert!(
            text.contains("  [3] -> app.Order at 0x50 (48 B)\n"),
            "{text}"
        );
        let json = path.to_json(&snap);
        assert!(json.contains("\"expression\":\"pkg.mod._cache['k'][3].items\""));
        assert!(json.contains("{\"kind\":\"index\",\"name\":\"\",\"index\":3,\"node\":4,\"type\":\"app.Order\",\"addr\":80,\"owned\":48}"));
    }

    fn spell(kind: RootKind, root_name: &str, steps: &[(EdgeLabel, &str)]) -> String {
        // A chain of nodes, one per step, with the given labels; `&str` in a
        // step is the label's name.
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let ty = b.add_type("builtins", "object");
        let str_ty = b.add_type("builtins", "str");
        let mut prev = b.add_node(0, ty, 16, 16, 1, 0);
        b.add_root(kind, root_name, prev, 3);
        for (i, (label, name)) in steps.iter().enumerate() {
            let node = b.add_node(16 * (i as u64 + 1), ty, 16, 16, 1, 0);
            let mut label = *label;
            if !label.kind.has_index() {
                label.name = b.intern(name);
            }
            if label.kind == EdgeKind::DictValue && name.is_empty() {
                let key = b.add_node(0x9000 + i as u64, str_ty, 50, 50, 1, 0);
                b.add_edge(prev, key, EdgeLabel::bare(EdgeKind::DictKey));
            }
            b.add_edge(prev, node, label);
            prev = node;
        }
        let snap = b.finish();
        let paths = RootPaths::compute(&snap);
        let target = (0..snap.node_count() as u32)
            .filter(|&v| snap.type_of(v) == ty)
            .max()
            .unwrap();
        paths.path(&snap, target).unwrap().expression(&snap)
    }

    #[test]
    fn every_edge_kind_has_a_spelling() {
        use EdgeKind::*;
        let named = |k, n| (EdgeLabel::named(k, 0), n);
        type Case<'a> = (RootKind, &'a str, Vec<(EdgeLabel, &'a str)>, &'a str);
        let table: Vec<Case> = vec![
            (
                RootKind::Frame,
                "thread main f (a.py:3)",
                vec![named(Attr, "x")],
                "x",
            ),
            (
                RootKind::Frame,
                "f",
                vec![named(Internal, "f_back")],
                "<frame f>.<f_back>",
            ),
            (RootKind::Module, "m", vec![named(DictValue, "'k'")], "m.k"),
            (
                RootKind::Sys,
                "sys",
                vec![named(Attr, "modules"), named(DictValue, "'os'")],
                "sys.modules['os']",
            ),
            (
                RootKind::Sys,
                "s",
                vec![named(Attr, "d"), named(DictValue, "3")],
                "s.d[3]",
            ),
            (
                RootKind::Sys,
                "s",
                vec![named(Attr, "d"), named(DictValue, "k")],
                "s.d['k']",
            ),
            (
                RootKind::Sys,
                "s",
                vec![named(Attr, "d"), named(DictValue, "")],
                "s.d[<builtins.str>]",
            ),
            (
                RootKind::Class,
                "app.C",
                vec![(EdgeLabel::bare(Dict), ""), named(DictValue, "'x'")],
                "app.C.x",
            ),
            (
                RootKind::Class,
                "C",
                vec![(EdgeLabel::bare(Dict), "")],
                "C.__dict__",
            ),
            (
                RootKind::Class,
                "C",
                vec![(EdgeLabel::bare(Class), "")],
                "C.__class__",
            ),
            (RootKind::Other, "f", vec![named(Cell, "n")], "f.<cell n>"),
            (
                RootKind::Other,
                "f",
                vec![(
                    EdgeLabel {
                        kind: Default,
                        name: 0,
                        index: 1,
                    },
                    "",
                )],
                "f.__defaults__[1]",
            ),
            (
                RootKind::Other,
                "d",
                vec![(EdgeLabel::bare(DictKey), "")],
                "d.<key>",
            ),
            (
                RootKind::Other,
                "o",
                vec![(EdgeLabel::bare(Unknown), "")],
                "o.<?>",
            ),
            (
                RootKind::HiddenHolder,
                "hidden",
                vec![named(Attr, "a")],
                "<held from C: 3 refs>.a",
            ),
        ];
        for (kind, root, steps, want) in table {
            assert_eq!(spell(kind, root, &steps), want, "{steps:?}");
        }
    }

    #[test]
    fn bfs_takes_the_fewest_edges_from_the_first_root_and_skips_weak_edges() {
        // GIVEN roots a (0) and b (1); 0 -> 2 -> 3, 1 -> 3, and 0 -weak-> 4
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let ty = b.add_type("builtins", "object");
        for i in 0..5 {
            b.add_node(i, ty, 8, 8, 1, 0);
        }
        let x = b.intern("x");
        b.add_edge(0, 2, EdgeLabel::named(EdgeKind::Attr, x));
        b.add_edge(2, 3, EdgeLabel::index(0));
        b.add_edge(1, 3, EdgeLabel::index(7));
        b.add_edge(0, 4, EdgeLabel::bare(EdgeKind::Weak));
        b.add_root(RootKind::Module, "a", 0, 0);
        b.add_root(RootKind::Module, "b", 1, 0);
        let snap = b.finish();
        let paths = RootPaths::compute(&snap);
        assert_eq!(paths.path(&snap, 3).unwrap().expression(&snap), "b[7]");
        assert_eq!(paths.path(&snap, 0).unwrap().steps, vec![]);
        assert!(paths.path(&snap, 4).is_none());
        // WHEN only root a is searched, 3 is reached through 2
        let from_a = RootPaths::compute_from(&snap, &find_roots(&snap, "a"));
        assert_eq!(from_a.path(&snap, 3).unwrap().expression(&snap), "a.x[0]");
        assert!(!from_a.is_reached(1));
        assert_eq!(find_roots(&snap, "nope"), Vec::<usize>::new());
    }

    #[test]
    fn a_module_path_wins_over_a_closer_frame_or_hidden_holder() {
        // GIVEN node 3 held directly by a hidden holder and a frame, and by module m via 2
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let ty = b.add_type("builtins", "object");
        for i in 0..5 {
            b.add_node(i, ty, 8, 8, 1, 0);
        }
        let cache = b.intern("cache");
        let local = b.intern("x");
        b.add_edge(0, 2, EdgeLabel::named(EdgeKind::Attr, cache));
        b.add_edge(2, 3, EdgeLabel::index(4));
        b.add_edge(1, 3, EdgeLabel::named(EdgeKind::Attr, local));
        b.add_edge(1, 4, EdgeLabel::named(EdgeKind::Attr, local));
        b.add_root(RootKind::HiddenHolder, "hidden", 3, 1);
        b.add_root(RootKind::Frame, "thread 1 f (a.py:3)", 1, 0);
        b.add_root(RootKind::Module, "m", 0, 0);
        b.add_root(RootKind::HiddenHolder, "hidden", 4, 1);
        let snap = b.finish();
        // WHEN the paths are computed
        let paths = RootPaths::compute(&snap);
        // THEN the module's path is taken though it is two steps; a node only
        // the frame holds is reached from the frame, before its hidden holder
        assert_eq!(
            paths.path(&snap, 3).unwrap().expression(&snap),
            "m.cache[4]"
        );
        assert_eq!(paths.path(&snap, 4).unwrap().expression(&snap), "x");
        // AND without the named roots, the frame comes before the hidden holder
        let no_module = RootPaths::compute_from(&snap, &[0, 1]);
        assert_eq!(no_module.path(&snap, 3).unwrap().expression(&snap), "x");
    }

    #[test]
    fn instances_of_a_type_are_grouped_by_masked_path() {
        // GIVEN m.items[0..3] and m.other holding app.Order instances, and one unreached
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let module = b.add_type("builtins", "module");
        let list = b.add_type("builtins", "list");
        let order = b.add_type("app", "Order");
        let m = b.add_node(1, module, 72, 72, 1, 0);
        let l = b.add_node(2, list, 88, 88, 1, 0);
        let items = b.intern("items");
        let other = b.intern("other");
        b.add_edge(m, l, EdgeLabel::named(EdgeKind::Attr, items));
        for i in 0..3 {
            let o = b.add_node(10 + i, order, 48, 48, 1, 0);
            b.add_edge(l, o, EdgeLabel::index(i as u32));
        }
        let o = b.add_node(20, order, 48, 48, 1, 0);
        b.add_edge(m, o, EdgeLabel::named(EdgeKind::Attr, other));
        b.add_node(30, order, 48, 48, 1, 0);
        b.add_root(RootKind::Module, "m", m, 0);
        let snap = b.finish();
        let paths = RootPaths::compute(&snap);
        let found = paths_to_type(&snap, &paths, order, 10);
        assert_eq!(found.unreached, 1);
        let got: Vec<(&str, u64, u64)> = found
            .groups
            .iter()
            .map(|g| (g.signature.as_str(), g.count, g.owned))
            .collect();
        assert_eq!(got, vec![("m.items[*]", 3, 144), ("m.other", 1, 48)]);
        assert_eq!(found.groups[0].example.expression(&snap), "m.items[0]");
        let text = found.render(&snap);
        assert!(
            text.contains("m.items[*]\n          e.g. m.items[0]\n"),
            "{text}"
        );
        assert!(found
            .to_json(&snap)
            .starts_with("{\"type\":\"app.Order\",\"unreached\":1,"));
        let limited = paths_to_type(&snap, &paths, order, 1);
        assert_eq!(limited.omitted_groups, 1);
    }
}

//! Chrome DevTools `.heapsnapshot` export, the V8 heap snapshot JSON that
//! the DevTools Memory tab, memlab and other V8 tools read.
//!
//! Layout of the output:
//!
//! - node 0 is the synthetic root (id 1); its `element` edges lead to one
//!   `synthetic` node per memlens root, named by root kind and name
//!   (`module sys`, `frame main:12 x`), which holds the root's node by an
//!   `internal` edge;
//! - when some nodes are reachable from no root (cyclic garbage), a
//!   synthetic `(unreachable)` node hangs from the root by a `shortcut` edge
//!   and holds each garbage component's entry (see [`DominatorTree`]). A
//!   root shortcut is essential to V8's dominator rules, but it does not
//!   make its targets page-owned, so edges from garbage to live objects
//!   never retain — the same semantics as memlens's dominator tree;
//! - then every memlens node, in node order: type `string` for `str` and
//!   `bytes`, `number` for `int`, `float`, `bool` and `complex`, `closure`
//!   for functions and methods, `code` for code objects, `object`
//!   otherwise; named by its type (`builtins.dict`), followed by the node's
//!   own name if it has one (`builtins.function handler`); `self_size` is
//!   the owned size, saturated at `u32::MAX` (the field is 32-bit in V8
//!   readers).
//!
//! Edges: attribute and named dict value → `property`, index → `element`,
//! closure cell → `context`, weak → `weak`, dict key, `__dict__`,
//! `__class__`, default argument and named internal slots → `internal`,
//! unnamed dict values and unlabelled references → `hidden` (indexed by the
//! edge's position). Only `weak` edges are non-retaining, as in memlens.
//!
//! Ids are 32-bit and persistent: synthetic nodes have even ids (the root
//! is 1), objects odd ids hashed from their address and type name, so the
//! same object gets the same id in every snapshot of one process and a
//! reused address holding another type gets another id. On a collision
//! (two objects hashing alike) objects are taken in address order, the
//! first keeps the hash and the next takes the following free odd id.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufWriter, Write};

use crate::dominators::DominatorTree;
use crate::model::{EdgeKind, HeapSnapshot, NodeId, RootKind, StrId};

const NODE_FIELDS: usize = 7;
const NODE_TYPES: [&str; 14] = [
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
    "concatenated string",
    "sliced string",
    "symbol",
    "bigint",
];
const T_STRING: u32 = 2;
const T_OBJECT: u32 = 3;
const T_CODE: u32 = 4;
const T_CLOSURE: u32 = 5;
const T_NUMBER: u32 = 7;
const T_SYNTHETIC: u32 = 9;

const EDGE_TYPES: [&str; 7] = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];
const E_CONTEXT: u32 = 0;
const E_ELEMENT: u32 = 1;
const E_PROPERTY: u32 = 2;
const E_INTERNAL: u32 = 3;
const E_HIDDEN: u32 = 4;
const E_SHORTCUT: u32 = 5;
const E_WEAK: u32 = 6;

/// The id of the synthetic root node.
pub const ROOT_ID: u32 = 1;

/// The most objects an export holds: half the 32-bit id space, less the
/// synthetic nodes' share.
pub const MAX_EXPORT_NODES: usize = (1 << 31) - (1 << 20);

/// What an export wrote: the file's `snapshot.node_count` and
/// `snapshot.edge_count`, synthetic nodes and their edges included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapsnapshotCounts {
    /// Nodes: the snapshot's objects, the root, one holder per memlens
    /// root and `(unreachable)` when there is garbage.
    pub nodes: usize,
    /// Edges: the snapshot's references and the synthetic nodes' edges.
    pub edges: usize,
}

/// Writes `snap` as a Chrome DevTools `.heapsnapshot` to `out`, streaming
/// (only the string table is held in memory). Computes the dominator tree
/// to find the garbage entries; see [`write_heapsnapshot_with`] to reuse one.
pub fn write_heapsnapshot<W: Write>(
    snap: &HeapSnapshot,
    out: &mut W,
) -> io::Result<HeapsnapshotCounts> {
    let dom = DominatorTree::compute(snap);
    write_heapsnapshot_with(snap, &dom, out)
}

/// [`write_heapsnapshot`] with a dominator tree already computed for `snap`.
///
/// The format has no retained-size field: readers (DevTools, memlab)
/// compute dominators themselves. `dom` places the cyclic garbage so that
/// their retained sizes come out as memlens's.
pub fn write_heapsnapshot_with<W: Write>(
    snap: &HeapSnapshot,
    dom: &DominatorTree,
    out: &mut W,
) -> io::Result<HeapsnapshotCounts> {
    let n = snap.node_count();
    if n > MAX_EXPORT_NODES || snap.roots().len() > (1 << 19) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{n} nodes do not fit the 32-bit ids of a .heapsnapshot"),
        ));
    }
    let ids = object_ids(snap);
    let garbage: &[NodeId] = if dom.node_count() == n {
        dom.unreachable_entries()
    } else {
        &[]
    };
    let roots = snap.roots();
    // Node indices: 0 root, 1..=R root holders, then (unreachable), then objects.
    let holders = roots.len();
    let garbage_node = holders + 1;
    let base = holders + 1 + usize::from(!garbage.is_empty());
    let edge_count =
        holders + usize::from(!garbage.is_empty()) + holders + garbage.len() + snap.edge_count();
    let node_count = base + n;

    let mut strings = Strings::new(snap);
    let mut w = BufWriter::with_capacity(1 << 16, out);
    write_header(&mut w, node_count, edge_count)?;

    // --- nodes ---
    w.write_all(b"\"nodes\":[")?;
    let root_name = strings.text("(memlens roots)");
    let synthetic_edges = holders + usize::from(!garbage.is_empty());
    write_node(
        &mut w,
        true,
        T_SYNTHETIC,
        root_name,
        ROOT_ID,
        0,
        synthetic_edges,
    )?;
    for (i, root) in roots.iter().enumerate() {
        let name = strings.text(&root_label(snap, root.kind, root.name, root.missing));
        write_node(&mut w, false, T_SYNTHETIC, name, 2 * (i as u32 + 1), 0, 1)?;
    }
    if !garbage.is_empty() {
        let name = strings.text("(unreachable)");
        let id = 2 * (holders as u32 + 1);
        write_node(&mut w, false, T_SYNTHETIC, name, id, 0, garbage.len())?;
    }
    let columns = snap.node_columns();
    let (offsets, _, _) = snap.forward_csr();
    for node in 0..n {
        let ty = columns.type_of[node];
        let name = strings.node_name(ty, columns.name[node]);
        let kind = strings.node_type(ty);
        let size = columns.owned[node].min(u32::MAX as u64);
        let edges = (offsets[node + 1] - offsets[node]) as usize;
        write_node(&mut w, false, kind, name, ids[node], size, edges)?;
    }

    // --- edges ---
    w.write_all(b"],\n\"edges\":[")?;
    let mut first = true;
    let mut edge = |w: &mut BufWriter<&mut W>, ty: u32, name: u64, to: usize| {
        let sep = if first { "" } else { "," };
        first = false;
        write!(w, "{sep}{ty},{name},{}", to * NODE_FIELDS)
    };
    for i in 0..holders {
        edge(&mut w, E_ELEMENT, i as u64 + 1, i + 1)?;
    }
    if !garbage.is_empty() {
        let name = strings.text("(unreachable)") as u64;
        edge(&mut w, E_SHORTCUT, name, garbage_node)?;
    }
    for root in roots {
        let name = strings.text(root.kind.as_str()) as u64;
        edge(&mut w, E_INTERNAL, name, base + root.node as usize)?;
    }
    for (i, &entry) in garbage.iter().enumerate() {
        edge(&mut w, E_ELEMENT, i as u64 + 1, base + entry as usize)?;
    }
    for node in 0..n {
        for (position, (target, label)) in snap.edges(node as NodeId).enumerate() {
            let (ty, name) = match label.kind {
                EdgeKind::Attr => (E_PROPERTY, strings.snap_or(label.name, "(attribute)")),
                EdgeKind::DictValue if label.name != 0 => {
                    (E_PROPERTY, strings.snap_or(label.name, "(value)"))
                }
                EdgeKind::DictValue | EdgeKind::Unknown => (E_HIDDEN, position as u32),
                EdgeKind::Index => (E_ELEMENT, label.index),
                EdgeKind::Cell => (E_CONTEXT, strings.snap_or(label.name, "(cell)")),
                EdgeKind::Weak => (E_WEAK, strings.snap_or(label.name, "(weak)")),
                EdgeKind::DictKey => (E_INTERNAL, strings.snap_or(label.name, "(key)")),
                EdgeKind::Dict => (E_INTERNAL, strings.text("__dict__")),
                EdgeKind::Class => (E_INTERNAL, strings.text("__class__")),
                EdgeKind::Default => (
                    E_INTERNAL,
                    strings.text(&format!("__defaults__[{}]", label.index)),
                ),
                EdgeKind::Internal => (E_INTERNAL, strings.snap_or(label.name, "(internal)")),
            };
            edge(&mut w, ty, name as u64, base + target as usize)?;
        }
    }

    // --- the rest ---
    w.write_all(
        b"],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n\"locations\":[],\n\"strings\":[",
    )?;
    let mut escaped = String::new();
    for (i, s) in strings.list.iter().enumerate() {
        escaped.clear();
        if i > 0 {
            escaped.push_str(",\n");
        }
        crate::json::push_json_string(&mut escaped, s);
        w.write_all(escaped.as_bytes())?;
    }
    w.write_all(b"]}\n")?;
    w.flush()?;
    Ok(HeapsnapshotCounts {
        nodes: node_count,
        edges: edge_count,
    })
}

fn write_header<W: Write>(w: &mut W, nodes: usize, edges: usize) -> io::Result<()> {
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    writeln!(
        w,
        "{{\"snapshot\":{{\"meta\":{{\
\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\",\"trace_node_id\",\"detachedness\"],\
\"node_types\":[[{}],\"string\",\"number\",\"number\",\"number\",\"number\",\"number\"],\
\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],\
\"edge_types\":[[{}],\"string_or_number\",\"node\"],\
\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\",\"line\",\"column\"],\
\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],\
\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],\
\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}},\
\"node_count\":{nodes},\"edge_count\":{edges},\"trace_function_count\":0}},",
        list(&NODE_TYPES),
        list(&EDGE_TYPES),
    )
}

fn write_node<W: Write>(
    w: &mut W,
    first: bool,
    ty: u32,
    name: u32,
    id: u32,
    size: u64,
    edges: usize,
) -> io::Result<()> {
    let sep = if first { "" } else { ",\n" };
    write!(w, "{sep}{ty},{name},{id},{size},{edges},0,0")
}

fn root_label(snap: &HeapSnapshot, kind: RootKind, name: StrId, missing: u32) -> String {
    let name = snap.str(name);
    match kind {
        RootKind::HiddenHolder => format!("held from C ({missing} refs) {name}"),
        _ if name.is_empty() => kind.as_str().to_owned(),
        _ => format!("{} {name}", kind.as_str()),
    }
}

/// The output string table: snapshot strings mapped on first use, composed
/// strings deduplicated, type names and node types cached per type.
struct Strings<'a> {
    snap: &'a HeapSnapshot,
    list: Vec<String>,
    from_snap: Vec<u32>,
    composed: HashMap<String, u32>,
    type_names: Vec<u32>,
    type_kinds: Vec<u32>,
    named: HashMap<(u32, StrId), u32>,
}

const UNSET: u32 = u32::MAX;

impl<'a> Strings<'a> {
    fn new(snap: &'a HeapSnapshot) -> Strings<'a> {
        let types = snap.types().len() + 1;
        Strings {
            snap,
            list: vec![String::new()],
            from_snap: vec![UNSET; snap.strings().len()],
            composed: HashMap::from([(String::new(), 0)]),
            type_names: vec![UNSET; types],
            type_kinds: vec![UNSET; types],
            named: HashMap::new(),
        }
    }

    fn text(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.composed.get(s) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(s.to_owned());
        self.composed.insert(s.to_owned(), id);
        id
    }

    /// A snapshot string, or `fallback` for the empty name.
    fn snap_or(&mut self, id: StrId, fallback: &str) -> u32 {
        let s = self.snap.str(id);
        if s.is_empty() {
            return self.text(fallback);
        }
        match self.from_snap.get(id as usize) {
            Some(&out) if out != UNSET => out,
            _ => {
                let out = self.text(s);
                if let Some(slot) = self.from_snap.get_mut(id as usize) {
                    *slot = out;
                }
                out
            }
        }
    }

    fn slot(&self, ty: u32) -> usize {
        (ty as usize).min(self.type_names.len() - 1)
    }

    fn type_name(&mut self, ty: u32) -> u32 {
        let slot = self.slot(ty);
        if self.type_names[slot] == UNSET {
            let name = self.snap.type_name(ty);
            self.type_names[slot] = self.text(&name);
        }
        self.type_names[slot]
    }

    fn node_name(&mut self, ty: u32, name: StrId) -> u32 {
        if name == 0 || self.snap.str(name).is_empty() {
            return self.type_name(ty);
        }
        if let Some(&id) = self.named.get(&(ty, name)) {
            return id;
        }
        let text = format!("{} {}", self.snap.type_name(ty), self.snap.str(name));
        let id = self.text(&text);
        self.named.insert((ty, name), id);
        id
    }

    fn node_type(&mut self, ty: u32) -> u32 {
        let slot = self.slot(ty);
        if self.type_kinds[slot] == UNSET {
            self.type_kinds[slot] = match self.snap.type_name(ty).as_str() {
                "builtins.str" | "builtins.bytes" | "str" | "bytes" => T_STRING,
                "builtins.int" | "builtins.float" | "builtins.bool" | "builtins.complex" => {
                    T_NUMBER
                }
                "builtins.function"
                | "builtins.method"
                | "builtins.builtin_function_or_method"
                | "function"
                | "method" => T_CLOSURE,
                "builtins.code" | "code" => T_CODE,
                _ => T_OBJECT,
            };
        }
        self.type_kinds[slot]
    }
}

/// The persistent odd id of every node (see the module docs).
pub fn object_ids(snap: &HeapSnapshot) -> Vec<u32> {
    let n = snap.node_count();
    let columns = snap.node_columns();
    let mut type_hash: HashMap<u32, u64> = HashMap::new();
    let mut order: Vec<NodeId> = (0..n as NodeId).collect();
    order.sort_unstable_by_key(|&i| (columns.addr[i as usize], i));
    let mut used: HashSet<u32> = HashSet::with_capacity(n);
    let mut ids = vec![0u32; n];
    for node in order {
        let ty = columns.type_of[node as usize];
        let th = *type_hash
            .entry(ty)
            .or_insert_with(|| fnv1a(snap.type_name(ty).as_bytes()));
        let mut id = ((mix(columns.addr[node as usize] ^ th) >> 32) as u32) | 1;
        while id == ROOT_ID || !used.insert(id) {
            id = id.wrapping_add(2);
        }
        ids[node as usize] = id;
    }
    ids
}

fn mix(mut z: u64) -> u64 {
    // The splitmix64 finalizer: every input bit flips about half the output.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EdgeLabel, SnapshotBuilder, SnapshotMeta};

    fn export(snap: &HeapSnapshot) -> String {
        let mut out = Vec::new();
        write_heapsnapshot(snap, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn section<'a>(text: &'a str, key: &str) -> &'a str {
        let start = text.find(&format!("\"{key}\":[")).unwrap() + key.len() + 4;
        let end = start + text[start..].find(']').unwrap();
        &text[start..end]
    }

    fn numbers(text: &str) -> Vec<u64> {
        text.split([',', '\n'])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect()
    }

    #[test]
    fn an_empty_snapshot_exports_only_the_root() {
        let snap = SnapshotBuilder::new(SnapshotMeta::default()).finish();
        let text = export(&snap);
        assert!(text.contains("\"node_count\":1,\"edge_count\":0"));
        assert_eq!(numbers(section(&text, "nodes")), vec![9, 1, 1, 0, 0, 0, 0]);
        assert_eq!(section(&text, "edges"), "");
        assert!(text.ends_with("]}\n"));
    }

    #[test]
    fn roots_garbage_and_edges_are_laid_out_as_documented() {
        // GIVEN a module holding a dict with an attribute, an index and a weak
        // edge, and a garbage pair
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let module = b.add_type("builtins", "module");
        let list = b.add_type("builtins", "list");
        let m = b.add_node(0x1000, module, 72, 72, 1, 0);
        let l = b.add_node(0x2000, list, 56, 5_000_000_000, 1, 0);
        let g1 = b.add_node(0x3000, list, 56, 56, 1, 0);
        let g2 = b.add_node(0x4000, list, 56, 56, 1, 0);
        let name = b.intern("items");
        let sys = b.intern("sys\n\"x\"");
        b.set_node_name(m, sys);
        b.add_edge(m, l, EdgeLabel::named(EdgeKind::Attr, name));
        b.add_edge(l, m, EdgeLabel::index(3));
        b.add_edge(l, g1, EdgeLabel::bare(EdgeKind::Weak));
        b.add_edge(g1, g2, EdgeLabel::index(0));
        b.add_edge(g2, g1, EdgeLabel::index(0));
        b.add_root(RootKind::Module, "sys", m, 0);
        let snap = b.finish();
        // WHEN exported
        let mut out = Vec::new();
        let counts = write_heapsnapshot(&snap, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // THEN root, one holder, (unreachable), four objects, as the counts say
        assert_eq!(counts, HeapsnapshotCounts { nodes: 7, edges: 9 });
        assert!(text.contains("\"node_count\":7,\"edge_count\":9"));
        let nodes = numbers(section(&text, "nodes"));
        assert_eq!(nodes.len(), 7 * 7);
        assert_eq!(&nodes[7..14], &[9, nodes[8], 2, 0, 1, 0, 0]);
        assert_eq!(nodes[14 + 2], 4, "(unreachable) is synthetic, even id");
        assert_eq!(nodes[28 + 3], u32::MAX as u64, "self_size saturates");
        assert_eq!(nodes[28 + 4], 2, "the list has two edges");
        let ids = object_ids(&snap);
        assert!(ids.iter().all(|id| id % 2 == 1 && *id != 1));
        assert_eq!(nodes[21 + 2], ids[0] as u64);
        // AND edges: root -> holder, root -shortcut-> (unreachable), holder -> m,
        // (unreachable) -> g1, then the graph's
        let edges = numbers(section(&text, "edges"));
        assert_eq!(edges.len(), 9 * 3);
        assert_eq!(&edges[0..3], &[E_ELEMENT as u64, 1, 7]);
        assert_eq!((edges[3], edges[5]), (E_SHORTCUT as u64, 14));
        assert_eq!((edges[6], edges[8]), (E_INTERNAL as u64, 21));
        assert_eq!((edges[9], edges[11]), (E_ELEMENT as u64, 35));
        assert_eq!((edges[12], edges[14]), (E_PROPERTY as u64, 28));
        assert_eq!(&edges[15..18], &[E_ELEMENT as u64, 3, 21]);
        assert_eq!((edges[18], edges[20]), (E_WEAK as u64, 35));
        // AND names are escaped in the string table
        assert!(text.contains(r#""builtins.module sys\n\"x\"""#));
        assert!(text.contains("\"module sys\""));
        assert!(text.contains("\"items\""));
    }

    #[test]
    fn ids_follow_the_address_and_type_and_survive_other_objects() {
        let build = |extra: bool| {
            let mut b = SnapshotBuilder::new(SnapshotMeta::default());
            let dict = b.add_type("builtins", "dict");
            let list = b.add_type("builtins", "list");
            if extra {
                b.add_node(0x9000, list, 56, 56, 1, 0);
            }
            b.add_node(0x1000, dict, 64, 64, 1, 0);
            b.add_node(0x1000, list, 64, 64, 1, 0);
            b.finish()
        };
        let (a, b) = (object_ids(&build(false)), object_ids(&build(true)));
        assert_eq!(a[0], b[1], "same address and type, same id");
        assert_ne!(a[0], a[1], "a reused address of another type differs");
    }

    #[test]
    fn colliding_hashes_take_the_next_free_odd_id() {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let ty = b.add_type("builtins", "object");
        for _ in 0..3 {
            b.add_node(0x1000, ty, 16, 16, 1, 0);
        }
        let ids = object_ids(&b.finish());
        let distinct: HashSet<u32> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), 3);
        assert!(ids.iter().all(|id| id % 2 == 1));
        assert_eq!(ids[1], ids[0].wrapping_add(2), "probing steps by 2");
    }
}

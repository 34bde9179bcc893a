//! The heap model: one node per live object, typed and sized, labelled edges
//! in CSR form, and the named roots the graph hangs from.
//!
//! The walker (`memlens-py`) fills a [`SnapshotBuilder`] in whatever order it
//! discovers objects and references; [`SnapshotBuilder::finish`] sorts the
//! edges by source into an immutable [`HeapSnapshot`]. Every algorithm
//! (reachability, dominators, paths, census, diff) reads that snapshot, and
//! the file format writes and reads it, so nothing here knows about CPython.
//!
//! Memory: per node 8 (address) + 4 (type) + 8 (shallow) + 8 (owned) + 4
//! (refcount, saturated) + 1 (flags) + 4 (name) + 8 (edge offset) bytes, per
//! edge 4 (target) + 4 (packed label) bytes; the reverse CSR (referrers) adds
//! 8 per node and 4 per edge the first time it is asked for.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Index of a node (one live object) in a [`HeapSnapshot`], dense `0..n`.
pub type NodeId = u32;
/// Index of a type in [`HeapSnapshot::types`].
pub type TypeId = u32;
/// Index of a string in the snapshot's string table; `0` is always `""`.
pub type StrId = u32;

/// Per-node flags, a `u8` bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NodeFlags(pub u8);

impl NodeFlags {
    /// The cyclic GC tracks the object.
    pub const GC_TRACKED: u8 = 1;
    /// The object is immortal (its refcount means nothing).
    pub const IMMORTAL: u8 = 2;
    /// The object is in the permanent generation (`gc.freeze()`).
    pub const FROZEN: u8 = 4;
    /// No root reaches the object: cyclic garbage not yet collected
    /// (set by analysis, not by the walker).
    pub const UNREACHABLE: u8 = 8;
    /// The owned size exceeds the shallow size because a native
    /// `__sizeof__` reported a buffer the object owns.
    pub const HAS_OWNED: u8 = 16;

    /// Whether every bit of `flag` is set.
    pub fn contains(self, flag: u8) -> bool {
        self.0 & flag == flag
    }
}

/// What kind of reference an edge is; decides how a path step is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EdgeKind {
    /// An attribute (or a frame's local variable): `.name`.
    Attr = 0,
    /// A dict to one of its keys.
    DictKey = 1,
    /// A dict to the value of a key: `[key]`; `name` holds the key's repr
    /// when the key is an identifier-like string or strings are included.
    DictValue = 2,
    /// A sequence item: `[index]`.
    Index = 3,
    /// A closure cell variable: `name` is the variable.
    Cell = 4,
    /// An object to its `__dict__`.
    Dict = 5,
    /// An object to its `__class__`.
    Class = 6,
    /// A function to a default argument; `index` is its position.
    Default = 7,
    /// A weak reference to its referent.
    Weak = 8,
    /// A reference that has no Python spelling (`name` says which slot).
    Internal = 9,
    /// A reference the walker could not label.
    Unknown = 10,
}

impl EdgeKind {
    const ALL: [EdgeKind; 11] = [
        EdgeKind::Attr,
        EdgeKind::DictKey,
        EdgeKind::DictValue,
        EdgeKind::Index,
        EdgeKind::Cell,
        EdgeKind::Dict,
        EdgeKind::Class,
        EdgeKind::Default,
        EdgeKind::Weak,
        EdgeKind::Internal,
        EdgeKind::Unknown,
    ];

    /// The kind for its numeric code, if there is one.
    pub fn from_code(code: u8) -> Option<EdgeKind> {
        EdgeKind::ALL.get(code as usize).copied()
    }

    /// Whether the label's payload is `index` (else it is `name`).
    pub fn has_index(self) -> bool {
        matches!(self, EdgeKind::Index | EdgeKind::Default)
    }

    /// A lower-case name, for JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Attr => "attr",
            EdgeKind::DictKey => "dict_key",
            EdgeKind::DictValue => "dict_value",
            EdgeKind::Index => "index",
            EdgeKind::Cell => "cell",
            EdgeKind::Dict => "dict",
            EdgeKind::Class => "class",
            EdgeKind::Default => "default",
            EdgeKind::Weak => "weak",
            EdgeKind::Internal => "internal",
            EdgeKind::Unknown => "unknown",
        }
    }
}

/// The label of an edge: its kind, and a name or an index.
///
/// Stored packed in a `u32` (kind in the top 4 bits, a 28-bit payload): the
/// payload is `index` for [`EdgeKind::Index`] and [`EdgeKind::Default`] and
/// `name` for every other kind. A payload that does not fit in 28 bits is
/// stored as [`EdgeLabel::PAYLOAD_OVERFLOW`] (an index past 268 million, or a
/// string table that large).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EdgeLabel {
    /// What kind of reference.
    pub kind: EdgeKind,
    /// Attribute, cell variable, internal slot name or dict key repr; `0` = none.
    pub name: StrId,
    /// Item index or default-argument position.
    pub index: u32,
}

impl EdgeLabel {
    /// The largest payload a packed label holds; larger ones become this.
    pub const PAYLOAD_OVERFLOW: u32 = (1 << 28) - 1;

    /// A label with a name payload.
    pub fn named(kind: EdgeKind, name: StrId) -> EdgeLabel {
        EdgeLabel {
            kind,
            name,
            index: 0,
        }
    }

    /// An `[index]` label.
    pub fn index(index: u32) -> EdgeLabel {
        EdgeLabel {
            kind: EdgeKind::Index,
            name: 0,
            index,
        }
    }

    /// A label of `kind` without payload (`__dict__`, `__class__`, unknown).
    pub fn bare(kind: EdgeKind) -> EdgeLabel {
        EdgeLabel {
            kind,
            name: 0,
            index: 0,
        }
    }

    /// The packed form: kind in the top 4 bits, payload below.
    pub fn pack(self) -> u32 {
        let payload = if self.kind.has_index() {
            self.index
        } else {
            self.name
        };
        ((self.kind as u32) << 28) | payload.min(Self::PAYLOAD_OVERFLOW)
    }

    /// Unpacks a label; `None` for an unknown kind code.
    pub fn unpack(packed: u32) -> Option<EdgeLabel> {
        let kind = EdgeKind::from_code((packed >> 28) as u8)?;
        let payload = packed & Self::PAYLOAD_OVERFLOW;
        Some(if kind.has_index() {
            EdgeLabel {
                kind,
                name: 0,
                index: payload,
            }
        } else {
            EdgeLabel::named(kind, payload)
        })
    }
}

/// What holds a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RootKind {
    /// A module in `sys.modules`; the root name is the module name and its
    /// node the module (or its `__dict__`).
    Module = 0,
    /// The builtins module.
    Builtins = 1,
    /// The interpreter's own references: sys attributes, type cache, atexit.
    Sys = 2,
    /// A thread's frame, named `thread <id> <func> (<file>:<line>)`; its
    /// local variables are `Attr` edges.
    Frame = 3,
    /// A class object.
    Class = 4,
    /// An object whose refcount exceeds the references found: something
    /// outside the graph (C state, the C stack) holds `missing` references.
    HiddenHolder = 5,
    /// Any other root.
    Other = 6,
}

impl RootKind {
    const ALL: [RootKind; 7] = [
        RootKind::Module,
        RootKind::Builtins,
        RootKind::Sys,
        RootKind::Frame,
        RootKind::Class,
        RootKind::HiddenHolder,
        RootKind::Other,
    ];

    /// The kind for its numeric code, if there is one.
    pub fn from_code(code: u8) -> Option<RootKind> {
        RootKind::ALL.get(code as usize).copied()
    }

    /// A lower-case name, for JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            RootKind::Module => "module",
            RootKind::Builtins => "builtins",
            RootKind::Sys => "sys",
            RootKind::Frame => "frame",
            RootKind::Class => "class",
            RootKind::HiddenHolder => "hidden_holder",
            RootKind::Other => "other",
        }
    }
}

/// A named root of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Root {
    /// What holds it.
    pub kind: RootKind,
    /// Its name (module name, frame description…).
    pub name: StrId,
    /// The node it holds.
    pub node: NodeId,
    /// For [`RootKind::HiddenHolder`]: references held from outside the graph.
    pub missing: u32,
}

/// A type: module and qualified name (`collections`, `OrderedDict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeInfo {
    /// The type's `__module__`.
    pub module: StrId,
    /// The type's `__qualname__`.
    pub qualname: StrId,
}

/// Facts about the process and the capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Python version, `"3.11.7"`.
    pub python: String,
    /// Process id of the snapshotted process.
    pub pid: u32,
    /// Capture time, nanoseconds since the Unix epoch.
    pub unix_time_ns: u64,
    /// Resident set size at capture.
    pub rss_bytes: u64,
    /// Whether string contents (str values, non-identifier keys) were kept.
    pub strings_included: bool,
    /// Host name, if recorded.
    pub hostname: Option<String>,
    /// Command line, if recorded.
    pub argv: Option<Vec<String>>,
}

/// Collects nodes, edges and roots in any order; [`finish`](Self::finish)
/// builds the [`HeapSnapshot`].
///
/// Node ids are dense, in [`add_node`](Self::add_node) call order. Edges may
/// name nodes added later; edges or roots naming a node never added are
/// dropped at `finish` (counted in [`HeapSnapshot::dropped_references`]).
#[derive(Debug)]
pub struct SnapshotBuilder {
    meta: SnapshotMeta,
    strings: Vec<Box<str>>,
    string_index: HashMap<Box<str>, StrId>,
    types: Vec<TypeInfo>,
    type_index: HashMap<(StrId, StrId), TypeId>,
    nodes: NodeTable,
    edge_sources: Vec<NodeId>,
    edge_targets: Vec<NodeId>,
    edge_labels: Vec<u32>,
    roots: Vec<Root>,
}

#[derive(Debug, Default)]
struct NodeTable {
    addr: Vec<u64>,
    type_of: Vec<TypeId>,
    shallow: Vec<u64>,
    owned: Vec<u64>,
    refcount: Vec<u32>,
    flags: Vec<u8>,
    name: Vec<StrId>,
}

impl NodeTable {
    fn with_capacity(n: usize) -> NodeTable {
        NodeTable {
            addr: Vec::with_capacity(n),
            type_of: Vec::with_capacity(n),
            shallow: Vec::with_capacity(n),
            owned: Vec::with_capacity(n),
            refcount: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
            name: Vec::with_capacity(n),
        }
    }

    fn len(&self) -> usize {
        self.addr.len()
    }
}

impl SnapshotBuilder {
    /// An empty builder.
    pub fn new(meta: SnapshotMeta) -> SnapshotBuilder {
        SnapshotBuilder::with_capacity(meta, 0, 0)
    }

    /// An empty builder sized for about `nodes` nodes and `edges` edges.
    pub fn with_capacity(meta: SnapshotMeta, nodes: usize, edges: usize) -> SnapshotBuilder {
        let mut builder = SnapshotBuilder {
            meta,
            strings: Vec::new(),
            string_index: HashMap::new(),
            types: Vec::new(),
            type_index: HashMap::new(),
            nodes: NodeTable::with_capacity(nodes),
            edge_sources: Vec::with_capacity(edges),
            edge_targets: Vec::with_capacity(edges),
            edge_labels: Vec::with_capacity(edges),
            roots: Vec::new(),
        };
        builder.intern("");
        builder
    }

    /// The metadata, to fill in after construction.
    pub fn meta_mut(&mut self) -> &mut SnapshotMeta {
        &mut self.meta
    }

    /// The id of `s` in the string table, adding it once.
    pub fn intern(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.string_index.get(s) {
            return id;
        }
        let id = self.strings.len() as StrId;
        self.strings.push(s.into());
        self.string_index.insert(s.into(), id);
        id
    }

    /// The id of the type `module.qualname`, adding it once.
    pub fn add_type(&mut self, module: &str, qualname: &str) -> TypeId {
        let key = (self.intern(module), self.intern(qualname));
        if let Some(&id) = self.type_index.get(&key) {
            return id;
        }
        let id = self.types.len() as TypeId;
        self.types.push(TypeInfo {
            module: key.0,
            qualname: key.1,
        });
        self.type_index.insert(key, id);
        id
    }

    /// Adds a node and returns its id (`0, 1, 2…` in call order).
    ///
    /// `owned` below `shallow` is raised to `shallow`; a refcount above
    /// `u32::MAX` is stored as `u32::MAX` (immortal objects carry a flag).
    pub fn add_node(
        &mut self,
        addr: u64,
        ty: TypeId,
        shallow: u64,
        owned: u64,
        refcount: u64,
        flags: u8,
    ) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.addr.push(addr);
        self.nodes.type_of.push(ty);
        self.nodes.shallow.push(shallow);
        self.nodes.owned.push(owned.max(shallow));
        self.nodes
            .refcount
            .push(u32::try_from(refcount).unwrap_or(u32::MAX));
        self.nodes.flags.push(flags);
        self.nodes.name.push(0);
        id
    }

    /// Number of nodes added so far.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Gives a node a name (a function's, class's or module's `__name__`).
    /// Ignored for a node not yet added.
    pub fn set_node_name(&mut self, node: NodeId, name: StrId) {
        if let Some(slot) = self.nodes.name.get_mut(node as usize) {
            *slot = name;
        }
    }

    /// Adds an edge `from -> to`. Edges keep their order per source node.
    pub fn add_edge(&mut self, from: NodeId, to: NodeId, label: EdgeLabel) {
        self.edge_sources.push(from);
        self.edge_targets.push(to);
        self.edge_labels.push(label.pack());
    }

    /// Adds an edge with an already packed label (see [`EdgeLabel::pack`]);
    /// for readers of stored snapshots.
    pub fn add_edge_packed(&mut self, from: NodeId, to: NodeId, packed_label: u32) {
        self.edge_sources.push(from);
        self.edge_targets.push(to);
        self.edge_labels.push(packed_label);
    }

    /// Adds a named root holding `node`.
    pub fn add_root(&mut self, kind: RootKind, name: &str, node: NodeId, missing: u32) {
        let name = self.intern(name);
        self.roots.push(Root {
            kind,
            name,
            node,
            missing,
        });
    }

    /// Sorts the edges by source (stable) into the immutable snapshot.
    pub fn finish(self) -> HeapSnapshot {
        let SnapshotBuilder {
            meta,
            strings,
            string_index,
            mut types,
            type_index,
            mut nodes,
            edge_sources,
            edge_targets,
            edge_labels,
            mut roots,
        } = self;
        drop(string_index);
        drop(type_index);
        let n = nodes.len();
        let mut strings = strings;
        let string_count = strings.len() as u32;
        let mut dropped = 0u64;

        // Names and types pointing past their tables are caller errors:
        // keep the node, forget the bad reference.
        for name in nodes.name.iter_mut() {
            if *name >= string_count {
                *name = 0;
                dropped += 1;
            }
        }
        for ty in &mut types {
            if ty.module >= string_count {
                ty.module = 0;
            }
            if ty.qualname >= string_count {
                ty.qualname = 0;
            }
        }
        let type_count = types.len() as u32;
        if nodes.type_of.iter().any(|&t| t >= type_count) {
            let unknown = types.len() as TypeId;
            strings.push("<unknown>".into());
            types.push(TypeInfo {
                module: 0,
                qualname: strings.len() as StrId - 1,
            });
            for t in nodes.type_of.iter_mut().filter(|t| **t >= type_count) {
                *t = unknown;
                dropped += 1;
            }
        }

        // Counting sort by source: stable, O(n + e), no comparison sort.
        let valid = |s: NodeId, t: NodeId| (s as usize) < n && (t as usize) < n;
        let mut offsets = vec![0u64; n + 1];
        for (&s, &t) in edge_sources.iter().zip(&edge_targets) {
            if valid(s, t) {
                offsets[s as usize + 1] += 1;
            } else {
                dropped += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let kept = offsets[n] as usize;
        let already_sorted =
            kept == edge_sources.len() && edge_sources.windows(2).all(|w| w[0] <= w[1]);
        let (targets, labels) = if already_sorted {
            drop(edge_sources);
            (edge_targets, edge_labels)
        } else {
            let mut fill: Vec<u64> = offsets[..n].to_vec();
            let mut targets = vec![0 as NodeId; kept];
            let mut labels = vec![0u32; kept];
            for i in 0..edge_sources.len() {
                let (s, t) = (edge_sources[i], edge_targets[i]);
                if valid(s, t) {
                    let slot = &mut fill[s as usize];
                    targets[*slot as usize] = t;
                    labels[*slot as usize] = edge_labels[i];
                    *slot += 1;
                }
            }
            (targets, labels)
        };
        let before = roots.len();
        roots.retain(|r| (r.node as usize) < n);
        dropped += (before - roots.len()) as u64;

        HeapSnapshot {
            meta,
            strings,
            types,
            nodes,
            offsets,
            targets,
            labels,
            roots,
            dropped,
            reverse: OnceLock::new(),
        }
    }
}

/// The columns of a snapshot as plain vectors, for readers of stored
/// snapshots: [`HeapSnapshot::from_parts`] checks them and takes them over
/// without copying.
#[derive(Debug, Default)]
pub struct SnapshotParts {
    /// Capture metadata.
    pub meta: SnapshotMeta,
    /// String table; entry 0 must be `""`.
    pub strings: Vec<Box<str>>,
    /// Type table.
    pub types: Vec<TypeInfo>,
    /// Per node: address.
    pub addr: Vec<u64>,
    /// Per node: type.
    pub type_of: Vec<TypeId>,
    /// Per node: shallow size.
    pub shallow: Vec<u64>,
    /// Per node: owned size (`>= shallow`).
    pub owned: Vec<u64>,
    /// Per node: refcount, saturated.
    pub refcount: Vec<u32>,
    /// Per node: [`NodeFlags`] bits.
    pub flags: Vec<u8>,
    /// Per node: name, `0` = none.
    pub name: Vec<StrId>,
    /// CSR offsets, `node_count + 1` entries, from 0 to the edge count.
    pub offsets: Vec<u64>,
    /// Edge targets in source order.
    pub targets: Vec<NodeId>,
    /// Packed edge labels, parallel to `targets`.
    pub labels: Vec<u32>,
    /// Roots.
    pub roots: Vec<Root>,
}

/// Borrowed per-node columns of a snapshot (see [`SnapshotParts`] for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct NodeColumns<'a> {
    pub addr: &'a [u64],
    pub type_of: &'a [TypeId],
    pub shallow: &'a [u64],
    pub owned: &'a [u64],
    pub refcount: &'a [u32],
    pub flags: &'a [u8],
    pub name: &'a [StrId],
}

/// Why [`HeapSnapshot::from_parts`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsError(pub String);

impl std::fmt::Display for PartsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PartsError {}

/// An immutable heap snapshot: the node table, labelled edges in CSR form
/// by source, the type and string tables, and the roots.
#[derive(Debug)]
pub struct HeapSnapshot {
    meta: SnapshotMeta,
    strings: Vec<Box<str>>,
    types: Vec<TypeInfo>,
    nodes: NodeTable,
    offsets: Vec<u64>,
    targets: Vec<NodeId>,
    labels: Vec<u32>,
    roots: Vec<Root>,
    dropped: u64,
    reverse: OnceLock<(Vec<u64>, Vec<NodeId>)>,
}

impl HeapSnapshot {
    /// A snapshot from stored columns, after checking that every column has
    /// one entry per node, offsets are monotonic and every id is in range.
    pub fn from_parts(parts: SnapshotParts) -> Result<HeapSnapshot, PartsError> {
        let fail = |what: String| Err(PartsError(what));
        let n = parts.addr.len();
        let columns = [
            ("type", parts.type_of.len()),
            ("shallow size", parts.shallow.len()),
            ("owned size", parts.owned.len()),
            ("refcount", parts.refcount.len()),
            ("flags", parts.flags.len()),
            ("name", parts.name.len()),
        ];
        for (what, len) in columns {
            if len != n {
                return fail(format!("{what} column has {len} entries for {n} nodes"));
            }
        }
        if parts.strings.first().is_some_and(|s| !s.is_empty()) {
            return fail("string 0 is not empty".into());
        }
        let strings = parts.strings.len().max(1) as u64;
        let types = parts.types.len() as u64;
        if let Some(t) = parts
            .types
            .iter()
            .find(|t| t.module as u64 >= strings || t.qualname as u64 >= strings)
        {
            return fail(format!(
                "type names string {} of {strings}",
                t.module.max(t.qualname)
            ));
        }
        if let Some(t) = parts.type_of.iter().find(|&&t| t as u64 >= types) {
            return fail(format!("node type {t} out of {types} types"));
        }
        if let Some(s) = parts.name.iter().find(|&&s| s as u64 >= strings) {
            return fail(format!("node name {s} out of {strings} strings"));
        }
        if let Some(i) = (0..n).find(|&i| parts.owned[i] < parts.shallow[i]) {
            return fail(format!("node {i} owns less than its shallow size"));
        }
        if parts.offsets.len() != n + 1
            || parts.offsets[0] != 0
            || parts.offsets.windows(2).any(|w| w[0] > w[1])
            || parts.offsets[n] != parts.targets.len() as u64
        {
            return fail("edge offsets are not a valid index of the edges".into());
        }
        if parts.labels.len() != parts.targets.len() {
            return fail("edge labels and targets differ in number".into());
        }
        if let Some(t) = parts.targets.iter().find(|&&t| t as usize >= n) {
            return fail(format!("edge target {t} out of {n} nodes"));
        }
        if let Some(l) = parts
            .labels
            .iter()
            .find(|&&l| EdgeLabel::unpack(l).is_none())
        {
            return fail(format!("edge label {l:#x} has an unknown kind"));
        }
        if let Some(r) = parts
            .roots
            .iter()
            .find(|r| r.node as usize >= n || r.name as u64 >= strings)
        {
            return fail(format!("root of node {} is out of range", r.node));
        }
        let mut strings = parts.strings;
        if strings.is_empty() {
            strings.push("".into());
        }
        Ok(HeapSnapshot {
            meta: parts.meta,
            strings,
            types: parts.types,
            nodes: NodeTable {
                addr: parts.addr,
                type_of: parts.type_of,
                shallow: parts.shallow,
                owned: parts.owned,
                refcount: parts.refcount,
                flags: parts.flags,
                name: parts.name,
            },
            offsets: parts.offsets,
            targets: parts.targets,
            labels: parts.labels,
            roots: parts.roots,
            dropped: 0,
            reverse: OnceLock::new(),
        })
    }

    /// The per-node columns, for writers.
    pub fn node_columns(&self) -> NodeColumns<'_> {
        let t = &self.nodes;
        NodeColumns {
            addr: &t.addr,
            type_of: &t.type_of,
            shallow: &t.shallow,
            owned: &t.owned,
            refcount: &t.refcount,
            flags: &t.flags,
            name: &t.name,
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The node's type. Every accessor below panics on a node id out of
    /// range, like slice indexing: ids come from this snapshot.
    pub fn type_of(&self, node: NodeId) -> TypeId {
        self.nodes.type_of[node as usize]
    }

    /// The node's own size (`object.__sizeof__` of its C struct and items).
    pub fn shallow(&self, node: NodeId) -> u64 {
        self.nodes.shallow[node as usize]
    }

    /// What the node owns (`sys.getsizeof` for native `__sizeof__`), `>= shallow`.
    pub fn owned(&self, node: NodeId) -> u64 {
        self.nodes.owned[node as usize]
    }

    /// The object's address in the snapshotted process.
    pub fn addr(&self, node: NodeId) -> u64 {
        self.nodes.addr[node as usize]
    }

    /// The reference count at capture (saturated at `u32::MAX`).
    pub fn refcount(&self, node: NodeId) -> u64 {
        self.nodes.refcount[node as usize] as u64
    }

    /// The node's flags.
    pub fn flags(&self, node: NodeId) -> NodeFlags {
        NodeFlags(self.nodes.flags[node as usize])
    }

    /// Sets the node's flags (analysis marks [`NodeFlags::UNREACHABLE`]).
    pub fn set_flags(&mut self, node: NodeId, flags: NodeFlags) {
        self.nodes.flags[node as usize] = flags.0;
    }

    /// The node's name, if the walker gave it one.
    pub fn name(&self, node: NodeId) -> Option<StrId> {
        match self.nodes.name[node as usize] {
            0 => None,
            id => Some(id),
        }
    }

    /// The outgoing edges of `node`: `(target, label)` in walk order.
    pub fn edges(&self, node: NodeId) -> impl ExactSizeIterator<Item = (NodeId, EdgeLabel)> + '_ {
        let range = self.edge_range(node);
        self.targets[range.clone()]
            .iter()
            .zip(&self.labels[range])
            .map(|(&t, &l)| {
                (
                    t,
                    EdgeLabel::unpack(l).unwrap_or(EdgeLabel::bare(EdgeKind::Unknown)),
                )
            })
    }

    /// The targets of the outgoing edges of `node`, without labels.
    pub fn referents(&self, node: NodeId) -> &[NodeId] {
        &self.targets[self.edge_range(node)]
    }

    fn edge_range(&self, node: NodeId) -> std::ops::Range<usize> {
        let n = node as usize;
        self.offsets[n] as usize..self.offsets[n + 1] as usize
    }

    /// The nodes with an edge to `node` (one entry per edge), ascending.
    /// The reverse CSR is built on first use.
    pub fn referrers(&self, node: NodeId) -> &[NodeId] {
        let (offsets, sources) = self.reverse_csr();
        let n = node as usize;
        &sources[offsets[n] as usize..offsets[n + 1] as usize]
    }

    /// The reverse CSR `(offsets, sources)`, built on first use.
    pub fn reverse_csr(&self) -> (&[u64], &[NodeId]) {
        let (o, s) = self.reverse.get_or_init(|| {
            let n = self.node_count();
            let mut offsets = vec![0u64; n + 1];
            for &t in &self.targets {
                offsets[t as usize + 1] += 1;
            }
            for i in 0..n {
                offsets[i + 1] += offsets[i];
            }
            let mut fill: Vec<u64> = offsets[..n].to_vec();
            let mut sources = vec![0 as NodeId; self.targets.len()];
            for src in 0..n {
                for &t in self.referents(src as NodeId) {
                    let slot = &mut fill[t as usize];
                    sources[*slot as usize] = src as NodeId;
                    *slot += 1;
                }
            }
            (offsets, sources)
        });
        (o, s)
    }

    /// The forward CSR `(offsets, targets, packed labels)`, for writers.
    pub fn forward_csr(&self) -> (&[u64], &[NodeId], &[u32]) {
        (&self.offsets, &self.targets, &self.labels)
    }

    /// The roots, in the order added.
    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// The type table.
    pub fn types(&self) -> &[TypeInfo] {
        &self.types
    }

    /// `module.qualname` of a type (`builtins.dict`); the qualname alone
    /// when the module is empty.
    pub fn type_name(&self, ty: TypeId) -> String {
        match self.types.get(ty as usize) {
            Some(t) if self.str(t.module).is_empty() => self.str(t.qualname).to_owned(),
            Some(t) => format!("{}.{}", self.str(t.module), self.str(t.qualname)),
            None => "<unknown>".to_owned(),
        }
    }

    /// A string of the table; `""` for an id out of range.
    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    /// The whole string table, in id order.
    pub fn strings(&self) -> &[Box<str>] {
        &self.strings
    }

    /// The node table column of addresses, for writers.
    pub fn addrs(&self) -> &[u64] {
        &self.nodes.addr
    }

    /// Capture metadata.
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// Edges, roots, names and types that named something out of range and
    /// were dropped or replaced by the builder (0 for a sound walk).
    pub fn dropped_references(&self) -> u64 {
        self.dropped
    }

    /// Sum of owned sizes over all nodes.
    pub fn total_owned(&self) -> u64 {
        self.nodes.owned.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SnapshotMeta {
        SnapshotMeta {
            python: "3.11.7".into(),
            pid: 42,
            ..SnapshotMeta::default()
        }
    }

    #[test]
    fn labels_pack_and_unpack_losslessly_within_28_bits() {
        let cases = [
            EdgeLabel::named(EdgeKind::Attr, 7),
            EdgeLabel::named(EdgeKind::DictValue, EdgeLabel::PAYLOAD_OVERFLOW),
            EdgeLabel::index(123_456),
            EdgeLabel {
                kind: EdgeKind::Default,
                name: 0,
                index: 2,
            },
            EdgeLabel::bare(EdgeKind::Class),
            EdgeLabel::bare(EdgeKind::Unknown),
        ];
        for label in cases {
            assert_eq!(EdgeLabel::unpack(label.pack()), Some(label));
        }
        assert_eq!(
            EdgeLabel::unpack(EdgeLabel::index(u32::MAX).pack()),
            Some(EdgeLabel::index(EdgeLabel::PAYLOAD_OVERFLOW))
        );
        assert_eq!(EdgeLabel::unpack(0xF000_0000), None);
    }

    #[test]
    fn strings_and_types_are_deduplicated() {
        let mut b = SnapshotBuilder::new(meta());
        assert_eq!(b.intern(""), 0);
        let x = b.intern("x");
        assert_eq!(b.intern("x"), x);
        let dict = b.add_type("builtins", "dict");
        let list = b.add_type("builtins", "list");
        assert_ne!(dict, list);
        assert_eq!(b.add_type("builtins", "dict"), dict);
        let s = b.finish();
        assert_eq!(s.types().len(), 2);
        assert_eq!(s.type_name(dict), "builtins.dict");
        assert_eq!(s.str(x), "x");
        assert_eq!(s.str(9999), "");
    }

    #[test]
    fn edges_added_in_any_order_come_out_grouped_by_source_in_call_order() {
        // GIVEN three nodes and edges added out of source order
        let mut b = SnapshotBuilder::with_capacity(meta(), 3, 4);
        let ty = b.add_type("builtins", "list");
        let a = b.add_node(0x10, ty, 56, 56, 1, NodeFlags::GC_TRACKED);
        let c = b.add_node(0x20, ty, 56, 100, 2, 0);
        b.add_edge(c, a, EdgeLabel::index(0));
        b.add_edge(a, c, EdgeLabel::index(1));
        let late = 2; // an edge to a node added later
        b.add_edge(a, late, EdgeLabel::index(0));
        b.add_edge(c, c, EdgeLabel::index(1));
        let d = b.add_node(0x30, ty, 40, 10, u64::MAX, NodeFlags::IMMORTAL);
        assert_eq!(d, late);
        b.add_root(RootKind::Module, "__main__", a, 0);
        // WHEN finished
        let s = b.finish();
        // THEN edges are per source, in the order they were added
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.edge_count(), 4);
        let from_a: Vec<_> = s.edges(a).collect();
        assert_eq!(
            from_a,
            vec![(c, EdgeLabel::index(1)), (d, EdgeLabel::index(0))]
        );
        assert_eq!(s.referents(c), &[a, c]);
        assert_eq!(s.referrers(c), &[a, c]);
        assert_eq!(s.referrers(a), &[c]);
        assert_eq!(s.referrers(d), &[a]);
        // and sizes, refcounts and flags are as given (owned >= shallow)
        assert_eq!(s.owned(c), 100);
        assert_eq!(s.owned(d), 40);
        assert_eq!(s.refcount(d), u32::MAX as u64);
        assert!(s.flags(a).contains(NodeFlags::GC_TRACKED));
        assert!(s.flags(d).contains(NodeFlags::IMMORTAL));
        assert_eq!(s.addr(c), 0x20);
        assert_eq!(s.roots()[0].kind, RootKind::Module);
        assert_eq!(s.str(s.roots()[0].name), "__main__");
        assert_eq!(s.dropped_references(), 0);
        assert_eq!(s.total_owned(), 56 + 100 + 40);
    }

    #[test]
    fn references_to_nodes_never_added_are_dropped_and_counted() {
        let mut b = SnapshotBuilder::new(meta());
        let a = b.add_node(1, 5, 16, 16, 1, 0); // type 5 was never added
        b.add_edge(a, 9, EdgeLabel::index(0));
        b.add_edge(9, a, EdgeLabel::index(0));
        b.add_edge(a, a, EdgeLabel::bare(EdgeKind::Unknown));
        b.add_root(RootKind::Other, "ghost", 77, 0);
        b.set_node_name(a, 12345);
        let s = b.finish();
        assert_eq!(s.edge_count(), 1);
        assert!(s.roots().is_empty());
        assert_eq!(s.name(a), None);
        assert_eq!(s.type_name(s.type_of(a)), "<unknown>");
        assert_eq!(s.dropped_references(), 5);
    }

    #[test]
    fn sorted_input_takes_the_fast_path_with_the_same_result() {
        let mut b = SnapshotBuilder::new(meta());
        for i in 0..4 {
            b.add_node(i, 0, 8, 8, 1, 0);
        }
        b.add_type("builtins", "int");
        for i in 0..3 {
            b.add_edge(i, i + 1, EdgeLabel::index(i));
        }
        let s = b.finish();
        assert_eq!(s.referents(0), &[1]);
        assert_eq!(s.referents(3), &[] as &[u32]);
        assert_eq!(s.referrers(3), &[2]);
    }

    #[test]
    fn node_names_are_kept() {
        let mut b = SnapshotBuilder::new(meta());
        let ty = b.add_type("builtins", "function");
        let f = b.add_node(1, ty, 144, 144, 1, NodeFlags::GC_TRACKED);
        let name = b.intern("handler");
        b.set_node_name(f, name);
        let s = b.finish();
        assert_eq!(s.name(f).map(|id| s.str(id)), Some("handler"));
        assert_eq!(s.meta().pid, 42);
    }

    #[test]
    fn an_empty_snapshot_is_fine() {
        let s = SnapshotBuilder::new(meta()).finish();
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.edge_count(), 0);
        assert_eq!(s.reverse_csr().0, &[0]);
    }

    #[test]
    fn from_parts_rejects_out_of_range_ids_and_accepts_a_sound_table() {
        let good = || SnapshotParts {
            strings: vec!["".into(), "builtins".into(), "list".into()],
            types: vec![TypeInfo {
                module: 1,
                qualname: 2,
            }],
            addr: vec![1, 2],
            type_of: vec![0, 0],
            shallow: vec![8, 8],
            owned: vec![8, 9],
            refcount: vec![1, 1],
            flags: vec![0, 0],
            name: vec![0, 0],
            offsets: vec![0, 1, 1],
            targets: vec![1],
            labels: vec![EdgeLabel::index(0).pack()],
            roots: vec![Root {
                kind: RootKind::Sys,
                name: 1,
                node: 0,
                missing: 0,
            }],
            ..SnapshotParts::default()
        };
        let s = HeapSnapshot::from_parts(good()).unwrap();
        assert_eq!(s.referents(0), &[1]);
        assert_eq!(s.type_name(0), "builtins.list");
        type Breaker = Box<dyn Fn(&mut SnapshotParts)>;
        let broken: Vec<(&str, Breaker)> = vec![
            ("target", Box::new(|p| p.targets[0] = 2)),
            ("type", Box::new(|p| p.type_of[1] = 1)),
            ("offsets", Box::new(|p| p.offsets[1] = 2)),
            (
                "column",
                Box::new(|p| p.flags.pop().map(drop).unwrap_or(())),
            ),
            ("label", Box::new(|p| p.labels[0] = 0xF000_0000)),
            ("root", Box::new(|p| p.roots[0].node = 5)),
            ("name", Box::new(|p| p.name[0] = 3)),
            ("owned", Box::new(|p| p.owned[0] = 1)),
        ];
        for (what, breakit) in broken {
            let mut p = good();
            breakit(&mut p);
            assert!(HeapSnapshot::from_parts(p).is_err(), "{what}");
        }
    }
}

//! The `memlens heap` reports on a heap snapshot (`.mlh`): loading it with
//! one-line errors, the header every report starts with, and the versioned
//! JSON envelope (schema `memlens.heap-<verb>/1`, docs/heap.md).
//!
//! The analyses and their layouts are memlens-heap's ([`TypeSummary`],
//! [`dominator_rows`], [`RootPaths`], [`leak_suspects`]); this module picks
//! what each verb shows and wraps it. Every list memlens-heap returns has a
//! full tie-break, so the same file always prints the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;
use memlens_heap::{
    dominator_rows, dominator_rows_json, group_thousands, human_bytes, leak_suspects,
    paths_to_type, render_dominator_tree, DomTreeRow, DominatorTree, HeapSnapshot,
    HeapsnapshotCounts, NodeId, PathGroup, RootKind, RootPaths, SuspectOptions, TypeId, TypePaths,
    TypeSummary,
};
use serde_json::{json, Map, Value};

/// The version of every document written here; bumped when a field changes
/// meaning or goes away (new fields do not bump it).
const VERSION: u32 = 1;

/// A snapshot read from a file, with its dominator tree (every report
/// states the garbage and most need retained sizes).
pub struct Loaded {
    /// The file, as the user named it.
    pub path: String,
    /// The snapshot.
    pub snap: HeapSnapshot,
    /// Its dominator tree.
    pub dom: DominatorTree,
}

/// Reads a `.mlh` file and computes its dominator tree; every failure is one
/// line naming the file.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        anyhow::bail!("{} is a directory, not a heap snapshot", path.display());
    }
    let mut input = BufReader::new(file);
    let head = input
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?;
    if head.starts_with(&memlens_trace::format::MAGIC) {
        anyhow::bail!(
            "{} is a memlens allocation capture, not a heap snapshot: read it with \
             `memlens summary`, `table` or `tree`; heap snapshots (.mlh) come from \
             memlens.snapshot()",
            path.display()
        );
    }
    let snap = memlens_format::read_snapshot(input)
        .with_context(|| format!("cannot read heap snapshot {}", path.display()))?;
    let dom = DominatorTree::compute(&snap);
    Ok(Loaded {
        path: path.display().to_string(),
        snap,
        dom,
    })
}

/// `1 object`, `2,000 objects`.
fn counted(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", group_thousands(n as i64))
}

/// What outside the graph holds: hidden-holder roots, their objects and
/// the references the walk could not account for.
fn hidden_holders(snap: &HeapSnapshot) -> (u64, u64) {
    snap.roots()
        .iter()
        .filter(|r| r.kind == RootKind::HiddenHolder)
        .fold((0, 0), |(n, refs), r| (n + 1, refs + u64::from(r.missing)))
}

fn roots_by_kind(snap: &HeapSnapshot) -> BTreeMap<RootKind, u64> {
    let mut kinds = BTreeMap::new();
    for root in snap.roots() {
        *kinds.entry(root.kind).or_insert(0) += 1;
    }
    kinds
}

/// The lines every text report starts with: file, process, heap, roots,
/// hidden holders and garbage.
pub fn header(l: &Loaded) -> String {
    let (snap, dom) = (&l.snap, &l.dom);
    let m = snap.meta();
    let mut out = String::new();
    let _ = writeln!(out, "Snapshot  {}", l.path);
    let mut process = format!("pid {}", m.pid);
    if !m.python.is_empty() {
        let _ = write!(process, ", Python {}", m.python);
    }
    if m.rss_bytes > 0 {
        let _ = write!(process, ", RSS {}", human_bytes(m.rss_bytes));
    }
    if let Some(host) = &m.hostname {
        let _ = write!(process, ", host {host}");
    }
    let _ = writeln!(out, "Process   {process}");
    if let Some(argv) = m.argv.as_ref().filter(|a| !a.is_empty()) {
        let _ = writeln!(out, "Command   {}", argv.join(" "));
    }
    let _ = writeln!(
        out,
        "Heap      {}, {}, {} owned; string contents {}",
        counted(snap.node_count() as u64, "object"),
        counted(snap.edge_count() as u64, "reference"),
        human_bytes(snap.total_owned()),
        if m.strings_included {
            "kept"
        } else {
            "left out"
        }
    );
    let kinds: Vec<String> = roots_by_kind(snap)
        .into_iter()
        .map(|(kind, n)| format!("{} {}", group_thousands(n as i64), kind.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "Roots     {}{}",
        group_thousands(snap.roots().len() as i64),
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    );
    let (held, missing) = hidden_holders(snap);
    if held > 0 {
        let _ = writeln!(
            out,
            "Hidden    {} held from outside the graph (C state, the C stack) by {}",
            counted(held, "object"),
            counted(missing, "reference")
        );
    }
    let _ = writeln!(
        out,
        "Reachable {}, {}",
        counted(dom.reachable_count(), "object"),
        human_bytes(dom.reachable_size())
    );
    if dom.unreachable_count() > 0 {
        let _ = writeln!(
            out,
            "Garbage   {}, {} reachable from no root (cyclic garbage not yet collected)",
            counted(dom.unreachable_count(), "object"),
            human_bytes(dom.unreachable_size())
        );
    }
    if snap.dropped_references() > 0 {
        let _ = writeln!(
            out,
            "Dropped   {} to objects the walk never recorded",
            counted(snap.dropped_references(), "reference")
        );
    }
    out
}

/// The `snapshot` object of every document: the facts [`header`] prints.
fn snapshot_json(l: &Loaded) -> Value {
    let (snap, dom) = (&l.snap, &l.dom);
    let m = snap.meta();
    let (held, missing) = hidden_holders(snap);
    let by_kind: Map<String, Value> = roots_by_kind(snap)
        .into_iter()
        .map(|(kind, n)| (kind.as_str().to_owned(), json!(n)))
        .collect();
    json!({
        "file": l.path,
        "python": m.python,
        "pid": m.pid,
        "unix_time_ns": m.unix_time_ns,
        "rss_bytes": m.rss_bytes,
        "hostname": m.hostname,
        "argv": m.argv,
        "strings_included": m.strings_included,
        "objects": snap.node_count(),
        "references": snap.edge_count(),
        "owned": snap.total_owned(),
        "dropped_references": snap.dropped_references(),
        "roots": { "count": snap.roots().len(), "by_kind": by_kind },
        "hidden_holders": { "objects": held, "missing_references": missing },
        "reachable": { "objects": dom.reachable_count(), "bytes": dom.reachable_size() },
        "unreachable": { "objects": dom.unreachable_count(), "bytes": dom.unreachable_size() },
    })
}

/// The fields every heap document starts with.
fn document(verb: &str, l: &Loaded) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert(
        "schema".into(),
        json!(format!("memlens.heap-{verb}/{VERSION}")),
    );
    doc.insert("snapshot".into(), snapshot_json(l));
    doc
}

/// A JSON text memlens-heap rendered, as a value to embed.
fn parsed(text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).context("internal error: memlens-heap wrote invalid JSON")
}

/// One object as the JSON documents show it.
fn node_json(l: &Loaded, node: NodeId) -> Value {
    let snap = &l.snap;
    json!({
        "node": node,
        "type": snap.type_name(snap.type_of(node)),
        "name": snap.name(node).map(|id| snap.str(id)),
        "addr": snap.addr(node),
        "shallow": snap.shallow(node),
        "owned": snap.owned(node),
        "retained": l.dom.retained(node),
        "reachable": l.dom.is_reachable(node),
    })
}

/// One object as the text reports name it: `builtins.dict at 0x7f3a10`.
fn node_text(snap: &HeapSnapshot, node: NodeId) -> String {
    let ty = snap.type_name(snap.type_of(node));
    match snap.name(node) {
        Some(name) => format!("{ty} {:?} at {:#x}", snap.str(name), snap.addr(node)),
        None => format!("{ty} at {:#x}", snap.addr(node)),
    }
}

// ---------------------------------------------------------------- summary

/// The objects held from outside the graph, largest retained size first
/// (then node id): (node, missing references).
fn hidden_list(l: &Loaded) -> Vec<(NodeId, u32)> {
    let mut held: Vec<(NodeId, u32)> = l
        .snap
        .roots()
        .iter()
        .filter(|r| r.kind == RootKind::HiddenHolder)
        .map(|r| (r.node, r.missing))
        .collect();
    held.sort_by(|a, b| {
        l.dom
            .retained(b.0)
            .cmp(&l.dom.retained(a.0))
            .then(a.0.cmp(&b.0))
    });
    held.dedup_by_key(|h| h.0);
    held
}

/// `memlens heap summary`: the header, the `top` largest types by retained
/// size, and the largest objects held from outside the graph.
pub fn summary_text(l: &Loaded, top: usize) -> String {
    let summary = TypeSummary::compute(&l.snap, &l.dom);
    let mut out = header(l);
    out.push('\n');
    out.push_str(&summary.render_table(Some(top)));
    let held = hidden_list(l);
    if !held.is_empty() {
        let _ = writeln!(
            out,
            "\nheld from outside the graph (refcount above the references found), largest first:"
        );
        let _ = writeln!(out, "{:>11} {:>11}  object", "references", "retained");
        for &(node, missing) in held.iter().take(top) {
            let _ = writeln!(
                out,
                "{:>11} {:>11}  {}",
                group_thousands(i64::from(missing)),
                human_bytes(l.dom.retained(node)),
                node_text(&l.snap, node)
            );
        }
        if held.len() > top {
            let _ = writeln!(out, "... {} more", held.len() - top);
        }
    }
    out
}

/// `memlens heap summary --json` (`memlens.heap-summary/1`).
pub fn summary_json(l: &Loaded, top: usize) -> anyhow::Result<Value> {
    let summary = TypeSummary::compute(&l.snap, &l.dom);
    let mut doc = document("summary", l);
    let mut types = parsed(&summary.to_json())?;
    let types = types
        .get_mut("types")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    doc.insert("type_count".into(), json!(types.len()));
    doc.insert(
        "types".into(),
        Value::Array(types.into_iter().take(top).collect()),
    );
    let held: Vec<Value> = hidden_list(l)
        .into_iter()
        .take(top)
        .map(|(node, missing)| {
            let mut v = node_json(l, node);
            v["missing_references"] = json!(missing);
            v
        })
        .collect();
    doc.insert("hidden_holders".into(), Value::Array(held));
    Ok(Value::Object(doc))
}

// ------------------------------------------------------------- dominators

/// What `memlens heap dominators` shows.
#[derive(Debug, Clone, Copy)]
pub struct TreeOptions {
    /// Start below this node instead of the super-root.
    pub start: Option<NodeId>,
    /// Levels shown.
    pub depth: usize,
    /// Children shown per node, largest first.
    pub children: usize,
    /// Objects retaining less than this share of the reachable heap (percent)
    /// are left out.
    pub min_percent: f64,
}

/// The rows of the tree: memlens-heap's, less those under `min_percent`,
/// with each row's `omitted` counting the children left out either way.
fn tree_rows(l: &Loaded, opts: TreeOptions) -> Vec<DomTreeRow> {
    let rows = dominator_rows(&l.snap, &l.dom, opts.start, opts.depth, opts.children);
    let floor = opts.min_percent / 100.0 * l.dom.reachable_size() as f64;
    // Retained sizes shrink going down, so a kept row's parent is kept too.
    let mut kept: Vec<DomTreeRow> = rows
        .into_iter()
        .filter(|r| r.retained as f64 >= floor)
        .collect();
    // Count each row's children shown: the stack holds the open ancestors.
    let mut shown = vec![0u32; kept.len()];
    let mut open: Vec<usize> = Vec::new();
    for i in 0..kept.len() {
        while open.last().is_some_and(|&p| kept[p].depth >= kept[i].depth) {
            open.pop();
        }
        if let Some(&p) = open.last() {
            shown[p] += 1;
        }
        open.push(i);
    }
    for (row, shown) in kept.iter_mut().zip(shown) {
        row.omitted = row.children.saturating_sub(shown);
    }
    kept
}

/// `memlens heap dominators`: the header and the top of the dominator tree.
pub fn dominators_text(l: &Loaded, opts: TreeOptions) -> String {
    let rows = tree_rows(l, opts);
    let total = l.dom.reachable_size();
    let mut out = header(l);
    let below = match opts.start {
        Some(node) => format!(
            " below {} (retains {})",
            node_text(&l.snap, node),
            human_bytes(l.dom.retained(node))
        ),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "\nmemlens heap dominators{below}: what each object keeps alive, {} levels, \
         objects retaining at least {}% of {} reachable",
        opts.depth,
        opts.min_percent,
        human_bytes(total)
    );
    let _ = writeln!(out, "{:>10} {:>6}  object", "retained", "share");
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    out.push_str(&render_dominator_tree(&rows, total));
    if opts.start.is_none() && !rows.is_empty() {
        out.push_str(
            "(--node ID shows the tree below one object; --json lists ids and addresses)\n",
        );
    }
    out
}

/// `memlens heap dominators --json` (`memlens.heap-dominators/1`).
pub fn dominators_json(l: &Loaded, opts: TreeOptions) -> anyhow::Result<Value> {
    let rows = tree_rows(l, opts);
    let mut doc = document("dominators", l);
    doc.insert(
        "start".into(),
        opts.start.map_or(Value::Null, |n| node_json(l, n)),
    );
    doc.insert("depth".into(), json!(opts.depth));
    doc.insert("children".into(), json!(opts.children));
    doc.insert("min_percent".into(), json!(opts.min_percent));
    doc.insert("total".into(), json!(l.dom.reachable_size()));
    let mut listed = parsed(&dominator_rows_json(&rows))?;
    if let Some(list) = listed.as_array_mut() {
        for (v, row) in list.iter_mut().zip(&rows) {
            v["addr"] = json!(l.snap.addr(row.node));
        }
    }
    doc.insert("nodes".into(), listed);
    Ok(Value::Object(doc))
}

// ------------------------------------------------------------------- path

/// The node `text` names: a node id (`42`) or an address (`0x7f3a10`).
pub fn resolve_node(snap: &HeapSnapshot, text: &str) -> anyhow::Result<NodeId> {
    let text = text.trim();
    let n = snap.node_count();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        let addr =
            u64::from_str_radix(hex, 16).with_context(|| format!("`{text}` is not an address"))?;
        return snap
            .addrs()
            .iter()
            .position(|&a| a == addr)
            .map(|i| i as NodeId)
            .with_context(|| format!("no object at address {addr:#x} in the snapshot"));
    }
    let id: u64 = text.parse().map_err(|_| {
        anyhow::anyhow!("`{text}` is neither a node id (42) nor an address (0x7f3a10)")
    })?;
    if id >= n as u64 {
        anyhow::bail!(
            "no node {id}: the snapshot has {} objects (ids 0 to {})",
            group_thousands(n as i64),
            n.saturating_sub(1)
        );
    }
    Ok(id as NodeId)
}

/// The types named `name`: its full `module.qualname`, or a qualname
/// when that names one type. An unknown name is an error listing the
/// closest names.
pub fn resolve_type(snap: &HeapSnapshot, name: &str) -> anyhow::Result<Vec<TypeId>> {
    let name = name.trim();
    let all: Vec<(TypeId, String)> = (0..snap.types().len() as TypeId)
        .map(|ty| (ty, snap.type_name(ty)))
        .collect();
    let exact: Vec<TypeId> = all
        .iter()
        .filter(|(_, n)| n == name)
        .map(|&(ty, _)| ty)
        .collect();
    if !exact.is_empty() {
        return Ok(exact);
    }
    let by_qualname: Vec<&(TypeId, String)> = all
        .iter()
        .filter(|(ty, _)| snap.str(snap.types()[*ty as usize].qualname) == name)
        .collect();
    let mut full: Vec<&str> = by_qualname.iter().map(|(_, n)| n.as_str()).collect();
    full.sort_unstable();
    full.dedup();
    match full.len() {
        0 => {}
        1 => return Ok(by_qualname.iter().map(|&&(ty, _)| ty).collect()),
        _ => anyhow::bail!(
            "type `{name}` is ambiguous: {}; give the module too",
            full.join(", ")
        ),
    }
    let mut names: Vec<&str> = all.iter().map(|(_, n)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let close = close_matches(name, &names, 5);
    if close.is_empty() {
        anyhow::bail!(
            "no type `{name}` in the snapshot (`memlens heap summary` lists its {} types)",
            names.len()
        );
    }
    anyhow::bail!(
        "no type `{name}` in the snapshot; close matches: {}",
        close.join(", ")
    )
}

/// Up to `limit` of `names` that look like `query`: containing it (or its
/// qualname containing it), or within a few edits, closest first.
fn close_matches<'a>(query: &str, names: &[&'a str], limit: usize) -> Vec<&'a str> {
    let q = query.to_lowercase();
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .filter_map(|&name| {
            let lower = name.to_lowercase();
            let qualname = lower.rsplit('.').next().unwrap_or(&lower);
            let distance = edit_distance(&q, &lower).min(edit_distance(&q, qualname));
            let near = distance <= (q.chars().count() / 3).max(2);
            let contains = !q.is_empty() && (lower.contains(&q) || q.contains(qualname));
            (near || contains).then_some((if near { distance } else { 100 }, name))
        })
        .collect();
    scored.sort_unstable();
    scored.into_iter().take(limit).map(|(_, n)| n).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Which paths `memlens heap path` looks for.
#[derive(Debug, Clone)]
pub enum PathQuery {
    /// To one object.
    Node(NodeId),
    /// To every instance of these types (one name, maybe several type
    /// objects), grouped by signature.
    Type(String, Vec<TypeId>),
}

/// The shortest paths, from every root or from the roots named `root`.
fn root_paths(l: &Loaded, root: Option<&str>) -> anyhow::Result<RootPaths> {
    let Some(name) = root else {
        return Ok(RootPaths::compute(&l.snap));
    };
    let roots = memlens_heap::find_roots(&l.snap, name);
    if roots.is_empty() {
        let mut names: Vec<&str> = l.snap.roots().iter().map(|r| l.snap.str(r.name)).collect();
        names.sort_unstable();
        names.dedup();
        let close = close_matches(name, &names, 5);
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!("; close matches: {}", close.join(", "))
        };
        anyhow::bail!("no root named `{name}` in the snapshot{hint}");
    }
    Ok(RootPaths::compute_from(&l.snap, &roots))
}

/// The paths to every instance of `types`, grouped by signature across
/// them, `limit` groups kept.
fn type_paths(
    l: &Loaded,
    paths: &RootPaths,
    name: &str,
    types: &[TypeId],
    limit: usize,
) -> TypePaths {
    let mut each = types
        .iter()
        .map(|&ty| paths_to_type(&l.snap, paths, ty, usize::MAX));
    let Some(mut merged) = each.next() else {
        return TypePaths {
            type_name: name.to_owned(),
            groups: Vec::new(),
            unreached: 0,
            omitted_groups: 0,
        };
    };
    // Several type objects of one name (a class defined twice): one list.
    let mut groups: BTreeMap<String, PathGroup> = BTreeMap::new();
    for other in std::iter::once(std::mem::take(&mut merged.groups))
        .chain(each.map(|t| {
            merged.unreached += t.unreached;
            t.groups
        }))
        .flatten()
    {
        match groups.get_mut(&other.signature) {
            Some(g) => {
                g.count += other.count;
                g.owned += other.owned;
                if other.example.target(&l.snap) < g.example.target(&l.snap) {
                    g.example = other.example;
                }
            }
            None => {
                groups.insert(other.signature.clone(), other);
            }
        }
    }
    let mut groups: Vec<PathGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.owned.cmp(&a.owned)));
    merged.omitted_groups = groups.len().saturating_sub(limit) as u64;
    groups.truncate(limit);
    merged.groups = groups;
    merged.type_name = name.to_owned();
    merged
}

/// `memlens heap path`: how the object (or each group of instances) is
/// reached, as a Python expression and step by step.
pub fn path_text(
    l: &Loaded,
    query: &PathQuery,
    root: Option<&str>,
    all: usize,
) -> anyhow::Result<String> {
    let paths = root_paths(l, root)?;
    let snap = &l.snap;
    let from = root.map_or(String::new(), |r| format!(" from root {r:?}"));
    let mut out = header(l);
    match query {
        PathQuery::Node(node) => {
            let _ = writeln!(
                out,
                "\nmemlens heap path{from} to {} ({} owned, retains {})",
                node_text(snap, *node),
                human_bytes(snap.owned(*node)),
                human_bytes(l.dom.retained(*node))
            );
            match paths.path(snap, *node) {
                Some(path) => {
                    let _ = writeln!(out, "  {}\n", path.expression(snap));
                    out.push_str(&path.describe(snap));
                }
                None => out.push_str(&unreached_text(l, *node, root.is_some())),
            }
        }
        PathQuery::Type(name, types) => {
            let found = type_paths(l, &paths, name, types, all);
            let _ = write!(out, "\nmemlens heap {}", found.render(snap));
            if found.omitted_groups > 0 {
                let _ = writeln!(out, "(--all N shows N signatures)");
            }
            for (i, g) in found.groups.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "\nsignature {} of {}: {} objects like {}\n",
                    i + 1,
                    found.groups.len() as u64 + found.omitted_groups,
                    group_thousands(g.count as i64),
                    g.example.expression(snap)
                );
                out.push_str(&g.example.describe(snap));
            }
        }
    }
    Ok(out)
}

fn unreached_text(l: &Loaded, node: NodeId, from_some: bool) -> String {
    if !l.dom.is_reachable(node) {
        "  unreachable: no root reaches it (cyclic garbage the collector has not freed yet)\n"
            .into()
    } else if from_some {
        "  not reached from that root (other roots reach it)\n".into()
    } else {
        "  reached only through weak references\n".into()
    }
}

/// `memlens heap path --json` (`memlens.heap-path/1`).
pub fn path_json(
    l: &Loaded,
    query: &PathQuery,
    root: Option<&str>,
    all: usize,
) -> anyhow::Result<Value> {
    let paths = root_paths(l, root)?;
    let mut doc = document("path", l);
    doc.insert("root".into(), json!(root));
    match query {
        PathQuery::Node(node) => {
            doc.insert("target".into(), node_json(l, *node));
            let path = match paths.path(&l.snap, *node) {
                Some(p) => parsed(&p.to_json(&l.snap))?,
                None => Value::Null,
            };
            doc.insert("path".into(), path);
        }
        PathQuery::Type(name, types) => {
            let found = type_paths(l, &paths, name, types, all);
            doc.insert("type_paths".into(), parsed(&found.to_json(&l.snap))?);
        }
    }
    Ok(Value::Object(doc))
}

// --------------------------------------------------------------- suspects

/// `memlens heap suspects`: the header and MAT-style leak suspects.
pub fn suspects_text(l: &Loaded, opts: SuspectOptions) -> String {
    let paths = RootPaths::compute(&l.snap);
    let found = leak_suspects(&l.snap, &l.dom, &paths, opts);
    let mut out = header(l);
    let _ = writeln!(
        out,
        "\nSuspects: objects retaining at least {}% of the reachable heap, followed down \
         while one child keeps {}% of its parent",
        opts.min_share * 100.0,
        opts.accumulation_share * 100.0
    );
    out.push_str(&found.render(&l.snap));
    out
}

/// `memlens heap suspects --json` (`memlens.heap-suspects/1`).
pub fn suspects_json(l: &Loaded, opts: SuspectOptions) -> anyhow::Result<Value> {
    let paths = RootPaths::compute(&l.snap);
    let found = leak_suspects(&l.snap, &l.dom, &paths, opts);
    let mut doc = document("suspects", l);
    doc.insert("min_share".into(), json!(opts.min_share));
    doc.insert("accumulation_share".into(), json!(opts.accumulation_share));
    if let Value::Object(fields) = parsed(&found.to_json(&l.snap))? {
        doc.extend(fields);
    }
    Ok(Value::Object(doc))
}

// ----------------------------------------------------------------- export

/// `memlens heap export`'s one line: `Wrote app.heapsnapshot (31 nodes, 35
/// edges, 4.1 KiB)`.
pub fn export_text(output: &Path, counts: HeapsnapshotCounts, size: u64) -> String {
    format!(
        "Wrote {} ({}, {}, {})\n",
        output.display(),
        counted(counts.nodes as u64, "node"),
        counted(counts.edges as u64, "edge"),
        human_bytes(size)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_matches_catch_typos_case_and_missing_modules() {
        let names = [
            "app.Request",
            "app.Response",
            "builtins.dict",
            "builtins.list",
        ];
        assert_eq!(close_matches("app.Requets", &names, 5), ["app.Request"]);
        assert_eq!(close_matches("request", &names, 5)[0], "app.Request");
        assert_eq!(close_matches("dict", &names, 5)[0], "builtins.dict");
        assert!(close_matches("zzzzzzzz", &names, 5).is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}

//! The leak finder: which types grow at every checkpoint, which of their
//! instances are new since a baseline snapshot, the holder that keeps them
//! (the last object on their root path that was already alive), what kind of
//! holder it is, and the fix.
//!
//! The caller takes censuses at checkpoints, a baseline snapshot once growth
//! is suspected and a final snapshot; everything else happens here. Root
//! kinds and root names follow docs/leak-corpus.md.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::census::Census;
use crate::dominators::DominatorTree;
use crate::json::push_json_string;
use crate::model::{EdgeKind, HeapSnapshot, NodeId, RootKind};
use crate::paths::{PathStep, RootPath, RootPaths};
use crate::units::{group_thousands, human_bytes};

/// What keeps a leak alive, most specific first (the order decides when a
/// path shows several mechanisms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeakKind {
    /// Alive, yet nothing refers to them: a reference count leaked in C.
    CRefcountLeak,
    /// Held by references the walk cannot see (C state: atexit, codecs).
    HiddenHolder,
    /// Cyclic garbage that is never collected.
    UnreachableCycle,
    /// Small numpy views keeping their large bases alive.
    ViewPinsBase,
    /// A stored exception whose traceback pins frames and their locals.
    Traceback,
    /// Copies of a `contextvars.Context` keeping a variable's value.
    Contextvar,
    /// A `threading.local`'s per-thread value.
    ThreadLocal,
    /// A collection of asyncio tasks or futures.
    AsyncioTasks,
    /// logging's registry of loggers and their handlers.
    LoggingManager,
    /// A registry of callbacks.
    Listener,
    /// A `functools` cache on a method (its keys hold `self`).
    CacheMethod,
    /// A function's memo: a `functools` cache, a function attribute, a pickle memo.
    MemoCache,
    /// A closure cell of a function.
    ClosureCell,
    /// A function's default argument value.
    DefaultArgument,
    /// A class attribute, shared by every instance.
    ClassAttribute,
    /// A module-level name.
    ModuleGlobal,
    /// A local variable of a running frame.
    FrameLocal,
    /// Anything else.
    Other,
}

impl LeakKind {
    /// The name used in reports and JSON (`module_global`…).
    pub fn as_str(self) -> &'static str {
        match self {
            LeakKind::CRefcountLeak => "c_refcount_leak",
            LeakKind::HiddenHolder => "hidden_holder",
            LeakKind::UnreachableCycle => "unreachable_cycle",
            LeakKind::ViewPinsBase => "view_pins_base",
            LeakKind::Traceback => "traceback",
            LeakKind::Contextvar => "contextvar",
            LeakKind::ThreadLocal => "thread_local",
            LeakKind::AsyncioTasks => "asyncio_tasks",
            LeakKind::LoggingManager => "logging_manager",
            LeakKind::Listener => "listener",
            LeakKind::CacheMethod => "cache_method",
            LeakKind::MemoCache => "memo_cache",
            LeakKind::ClosureCell => "closure_cell",
            LeakKind::DefaultArgument => "default_argument",
            LeakKind::ClassAttribute => "class_attribute",
            LeakKind::ModuleGlobal => "module_global",
            LeakKind::FrameLocal => "frame_local",
            LeakKind::Other => "other",
        }
    }

    /// How a user would say it, for the text report.
    fn describe(self) -> &'static str {
        match self {
            LeakKind::CRefcountLeak => "leaked reference count (nothing refers to them)",
            LeakKind::HiddenHolder => "held from C (references the walk cannot see)",
            LeakKind::UnreachableCycle => "cyclic garbage that is never collected",
            LeakKind::ViewPinsBase => "small views pinning large base buffers",
            LeakKind::Traceback => "a stored exception's traceback",
            LeakKind::Contextvar => "context copies keeping a ContextVar's value",
            LeakKind::ThreadLocal => "a thread-local value",
            LeakKind::AsyncioTasks => "a collection of asyncio tasks",
            LeakKind::LoggingManager => "logging's registry of loggers",
            LeakKind::Listener => "a callback registry",
            LeakKind::CacheMethod => "a functools cache on a method",
            LeakKind::MemoCache => "a function's memo",
            LeakKind::ClosureCell => "a closure variable",
            LeakKind::DefaultArgument => "a mutable default argument",
            LeakKind::ClassAttribute => "a class attribute shared by every instance",
            LeakKind::ModuleGlobal => "a module-level name",
            LeakKind::FrameLocal => "a local variable of a running function",
            LeakKind::Other => "another holder",
        }
    }
}

/// Thresholds of [`growing_types`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowthOptions {
    /// A type must grow by at least this many objects overall.
    pub min_objects: u64,
    /// And over at least this many checkpoint intervals.
    pub min_intervals: usize,
    /// Every interval must grow (rounds of `leaks.check`); otherwise three
    /// in four must, and none may shrink by more than noise.
    pub every_interval: bool,
}

impl Default for GrowthOptions {
    fn default() -> Self {
        GrowthOptions {
            min_objects: 20,
            min_intervals: 3,
            every_interval: false,
        }
    }
}

/// One type's counts and bytes at each checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeGrowth {
    /// `module.qualname`.
    pub type_name: String,
    /// Instances at each checkpoint.
    pub counts: Vec<u64>,
    /// Their bytes at each checkpoint.
    pub sizes: Vec<u64>,
}

impl TypeGrowth {
    /// Objects gained from the first checkpoint to the last.
    pub fn growth(&self) -> u64 {
        let first = self.counts.first().copied().unwrap_or(0);
        let last = self.counts.last().copied().unwrap_or(0);
        last.saturating_sub(first)
    }
}

/// Types whose instance count grows over `points` (censuses in checkpoint
/// order), largest growth first. memlens's own types are never reported.
pub fn growing_types(points: &[&Census], opts: &GrowthOptions) -> Vec<TypeGrowth> {
    let intervals = points.len().saturating_sub(1);
    if intervals < opts.min_intervals.max(1) {
        return Vec::new();
    }
    let last = points[points.len() - 1];
    let mut out = Vec::new();
    for row in last.rows() {
        if row.type_name.starts_with("memlens.") {
            continue;
        }
        let series: Vec<(u64, u64)> = points
            .iter()
            .map(|p| p.get(&row.type_name).map_or((0, 0), |r| (r.count, r.size)))
            .collect();
        let counts: Vec<u64> = series.iter().map(|s| s.0).collect();
        if !grows(&counts, opts) {
            continue;
        }
        out.push(TypeGrowth {
            type_name: row.type_name.clone(),
            counts,
            sizes: series.iter().map(|s| s.1).collect(),
        });
    }
    out.sort_by(|a, b| {
        b.growth()
            .cmp(&a.growth())
            .then_with(|| a.type_name.cmp(&b.type_name))
    });
    out
}

/// Program types (not `builtins.`, not memlens's) that gained at least
/// `min_objects` from the first of `points` to the last but are not in
/// `confirmed`: too few checkpoints saw them grow to confirm a leak, yet
/// they tell what a confirmed holder keeps (see [`LeakOptions::companions`]).
pub fn rising_types(
    points: &[&Census],
    min_objects: u64,
    confirmed: &[TypeGrowth],
) -> Vec<TypeGrowth> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for row in last.rows() {
        let name = row.type_name.as_str();
        if name.starts_with("memlens.")
            || name.starts_with("builtins.")
            || confirmed.iter().any(|g| g.type_name == name)
        {
            continue;
        }
        let before = first.get(name).map_or(0, |r| r.count);
        if row.count < before + min_objects.max(1) {
            continue;
        }
        let series: Vec<(u64, u64)> = points
            .iter()
            .map(|p| p.get(name).map_or((0, 0), |r| (r.count, r.size)))
            .collect();
        out.push(TypeGrowth {
            type_name: row.type_name.clone(),
            counts: series.iter().map(|s| s.0).collect(),
            sizes: series.iter().map(|s| s.1).collect(),
        });
    }
    out
}

fn grows(counts: &[u64], opts: &GrowthOptions) -> bool {
    let first = counts[0];
    let last = counts[counts.len() - 1];
    if last < first + opts.min_objects {
        return false;
    }
    let intervals = counts.len() - 1;
    let mut up = 0;
    for pair in counts.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b > a {
            up += 1;
        } else if opts.every_interval {
            return false;
        } else if a - b > 2.max(a / 200) {
            // A drop beyond noise: what grows is also freed.
            return false;
        }
    }
    up * 4 >= intervals * 3 && up >= opts.min_intervals
}

/// What the caller knows of the process, for naming and classifying.
#[derive(Debug, Clone, Default)]
pub struct LeakOptions {
    /// A leak must count at least this many new objects.
    pub min_objects: u64,
    /// The name `__main__` is spelled as (the script's stem), in root
    /// names and type names.
    pub main_name: Option<String>,
    /// Whether the cyclic collector was enabled at the end.
    pub gc_enabled: bool,
    /// `gc.get_threshold()[0]` at the end.
    pub gc_threshold0: u64,
    /// Objects registered with a C-level registry, by address:
    /// `"atexit.register"`, `"codecs.register"`.
    pub registered: HashMap<u64, String>,
    /// Functions with defaults, by address: the names of the parameters
    /// their `__defaults__` belong to, in order.
    pub default_names: HashMap<u64, Vec<String>>,
    /// Seconds from the first checkpoint to each checkpoint.
    pub seconds: Vec<f64>,
    /// Steps of the path shown per leak.
    pub path_steps: usize,
    /// Top-level modules of the standard library: what they keep from C
    /// (caches, weak references of their own) is not reported as held
    /// from C unless a registry is named.
    pub library_modules: Vec<String>,
    /// Modules still being imported when the baseline was taken, by
    /// address: what their import adds afterwards is new, not grown.
    pub incomplete_modules: HashSet<u64>,
    /// Program types that rose without confirmed growth ([`rising_types`]):
    /// their new instances join a leak another type confirmed, under the
    /// same holder, and never make one of their own.
    pub companions: Vec<TypeGrowth>,
}

/// One leak: a holder and the new objects it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    /// What kind of holder.
    pub kind: LeakKind,
    /// The holder as a Python expression (docs/leak-corpus.md, "Root names").
    pub root_name: String,
    /// The type that grows most in this leak (program types first).
    pub growing_type: String,
    /// New objects per type in this leak, most first.
    pub types: Vec<(String, u64)>,
    /// New objects in all.
    pub objects: u64,
    /// Bytes the new objects keep alive (retained by the entries).
    pub retained: u64,
    /// The growing type's count at each checkpoint.
    pub counts: Vec<u64>,
    /// The growing type's bytes at each checkpoint.
    pub sizes: Vec<u64>,
    /// One path from a root to an instance of the growing type.
    pub path: Option<RootPath>,
    /// The path as an expression with indices masked: the leak's signature.
    pub signature: String,
    /// The step of `path` into the first new object: the reference that
    /// should not hold (an index into `path.steps`).
    pub suspect_step: Option<usize>,
    /// For a listener: the registered callable, `module.qualname`.
    pub listener: Option<String>,
    /// What to do.
    pub fix: String,
}

/// Every leak found, largest retained first.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakReport {
    /// The leaks.
    pub leaks: Vec<Leak>,
    /// Types that grew at every checkpoint.
    pub growing: Vec<TypeGrowth>,
    /// Checkpoints taken.
    pub checkpoints: usize,
    /// Seconds the checkpoints span.
    pub seconds: f64,
    /// Whether a baseline snapshot told new objects from old ones.
    pub had_baseline: bool,
}

/// Where a candidate's path enters new objects.
struct Placed {
    key: GroupKey,
    kind: LeakKind,
    name: String,
    entry: NodeId,
    path: Option<RootPath>,
    suspect_step: Option<usize>,
    listener: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum GroupKey {
    Holder(NodeId),
    Named(String),
}

/// Finds the leaks in `new`: instances of `growing` types that are not in
/// `old` (by address and type), grouped by the holder that keeps them.
/// Without `old`, every instance of a growing program type is a candidate
/// (builtin types need the baseline to tell new objects from old).
pub fn find_leaks(
    old: Option<&HeapSnapshot>,
    new: &HeapSnapshot,
    dom: &DominatorTree,
    paths: &RootPaths,
    growing: &[TypeGrowth],
    opts: &LeakOptions,
) -> LeakReport {
    let seconds = opts.seconds.last().copied().unwrap_or(0.0);
    let checkpoints = growing
        .first()
        .map_or(opts.seconds.len(), |g| g.counts.len());
    let mut report = LeakReport {
        leaks: Vec::new(),
        growing: growing.to_vec(),
        checkpoints,
        seconds,
        had_baseline: old.is_some(),
    };
    if growing.is_empty() {
        return report;
    }
    let type_names: Vec<String> = (0..new.types().len() as u32)
        .map(|t| new.type_name(t))
        .collect();
    let growing_index: HashMap<&str, usize> = growing
        .iter()
        .enumerate()
        .map(|(i, g)| (g.type_name.as_str(), i))
        .collect();
    let companion_types: HashSet<&str> = opts
        .companions
        .iter()
        .map(|g| g.type_name.as_str())
        .filter(|t| !growing_index.contains_key(t))
        .collect();
    let old_set: Option<HashSet<(u64, String)>> = old.map(|o| {
        (0..o.node_count() as NodeId)
            .map(|n| (o.addr(n), o.type_name(o.type_of(n))))
            .collect()
    });
    // Without a baseline, only instances of growing program types count as
    // new: the holder is then the object right before the first of them.
    let is_new = |n: NodeId| {
        let name = &type_names[new.type_of(n) as usize];
        match &old_set {
            Some(set) => !set.contains(&(new.addr(n), name.clone())),
            None => growing_index.contains_key(name.as_str()) && !name.starts_with("builtins."),
        }
    };
    let mut candidates: Vec<NodeId> = Vec::new();
    let mut companions: Vec<NodeId> = Vec::new();
    for n in 0..new.node_count() as NodeId {
        let name = type_names[new.type_of(n) as usize].as_str();
        if companion_types.contains(name) {
            let fresh = match &old_set {
                Some(set) => !set.contains(&(new.addr(n), name.to_owned())),
                None => true,
            };
            if fresh {
                companions.push(n);
            }
            continue;
        }
        if !growing_index.contains_key(name) {
            continue;
        }
        if old_set.is_none() && name.starts_with("builtins.") {
            continue;
        }
        if is_new(n) {
            candidates.push(n);
        }
    }
    let cx = Context {
        snap: new,
        paths,
        type_names: &type_names,
        opts,
    };
    struct Group {
        kind: LeakKind,
        name: String,
        entries: HashSet<NodeId>,
        types: BTreeMap<String, u64>,
        examples: BTreeMap<String, (Option<RootPath>, Option<usize>)>,
        listener: Option<String>,
    }
    // How many candidates' paths pass through each node: the holder is
    // where a path fans out to the candidates.
    let found: Vec<(NodeId, Option<RootPath>)> = candidates
        .iter()
        .map(|&c| (c, paths.path(new, c)))
        .collect();
    let joining: Vec<(NodeId, Option<RootPath>)> = companions
        .iter()
        .map(|&c| (c, paths.path(new, c)))
        .collect();
    let mut through: HashMap<NodeId, u32> = HashMap::new();
    for (_, path) in found.iter().chain(&joining) {
        if let Some(path) = path {
            *through.entry(new.roots()[path.root].node).or_default() += 1;
            for step in &path.steps {
                *through.entry(step.node).or_default() += 1;
            }
        }
    }
    let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();
    let confirmed = found.len();
    for (i, (c, path)) in found.into_iter().chain(joining).enumerate() {
        let placed = cx.place(c, path, &is_new, &through);
        if i >= confirmed && !groups.contains_key(&placed.key) {
            continue;
        }
        let group = groups.entry(placed.key).or_insert_with(|| Group {
            kind: placed.kind,
            name: placed.name,
            entries: HashSet::new(),
            types: BTreeMap::new(),
            examples: BTreeMap::new(),
            listener: placed.listener,
        });
        group.entries.insert(placed.entry);
        let ty = cx.display_type(new.type_of(c));
        *group.types.entry(ty.clone()).or_default() += 1;
        group
            .examples
            .entry(ty)
            .or_insert((placed.path, placed.suspect_step));
    }
    for (_, mut group) in groups {
        if group.name.is_empty() {
            continue;
        }
        let objects: u64 = group.types.values().sum();
        if objects < opts.min_objects.max(1) {
            continue;
        }
        // A confirmed type must have a real share of its growth here;
        // companions alone do not make a holder a leak.
        let confirmed_share = group.types.iter().any(|(t, &n)| {
            growing
                .iter()
                .find(|g| cx.display_name(&g.type_name) == *t)
                .is_some_and(|g| n * 10 >= g.growth())
        });
        if !confirmed_share {
            continue;
        }
        let mut types: Vec<(String, u64)> = group.types.into_iter().collect();
        types.sort_by(|a, b| {
            let builtin = |t: &str| !t.contains('.');
            builtin(&a.0)
                .cmp(&builtin(&b.0))
                .then(b.1.cmp(&a.1))
                .then_with(|| a.0.cmp(&b.0))
        });
        // Among types that grew about as much (the key tuples and their
        // strings), the owner: the one nearest the holder.
        let top_builtin = !types[0].0.contains('.');
        let depth = |t: &str| {
            group
                .examples
                .get(t)
                .and_then(|(p, _)| p.as_ref().map(|p| p.steps.len()))
                .unwrap_or(usize::MAX)
        };
        let own = |t: &str| match &opts.main_name {
            Some(m) => !t.starts_with(&format!("{m}.")),
            None => true,
        };
        // A dict's keys name its entries; the values are what it holds.
        let key_only = |t: &str| {
            group
                .examples
                .get(t)
                .and_then(|(p, _)| p.as_ref().and_then(|p| p.steps.last()))
                .is_some_and(|s| s.label.kind == EdgeKind::DictKey)
        };
        let growing_type = types
            .iter()
            .filter(|(t, n)| t.contains('.') != top_builtin && n * 10 >= types[0].1 * 9)
            .min_by_key(|(t, _)| (own(t), depth(t), key_only(t)))
            .map_or_else(|| types[0].0.clone(), |(t, _)| t.clone());
        let own_count = types
            .iter()
            .find(|(t, _)| *t == growing_type)
            .map_or(0, |(_, n)| *n);
        let library = |t: &str| {
            !t.contains('.')
                || t.split('.')
                    .next()
                    .is_some_and(|m| opts.library_modules.iter().any(|l| l == m))
        };
        if matches!(group.kind, LeakKind::CRefcountLeak | LeakKind::HiddenHolder)
            && library(&growing_type)
            && !group.name.starts_with("c:atexit")
            && !group.name.starts_with("c:codecs")
        {
            // Builtin containers held from C (an extension's caches, a
            // module imported since the baseline) are not a program's leak.
            continue;
        }
        let series = growing
            .iter()
            .chain(&opts.companions)
            .find(|g| cx.display_name(&g.type_name) == growing_type);
        let entries: HashSet<NodeId> = group.entries;
        let retained = entries
            .iter()
            .filter(|&&e| {
                !dom.dominator_chain(e)
                    .iter()
                    .skip(1)
                    .any(|d| entries.contains(d))
            })
            .map(|&e| dom.retained(e))
            .sum();
        // Objects that are new only because their module was imported
        // after the baseline, or a sliver of what the type gained, are not
        // this type's growth.
        if let Some(series) = series {
            if own_count * 10 < series.growth() {
                continue;
            }
        }
        let (path, suspect_step) = group.examples.remove(&growing_type).unwrap_or((None, None));
        let signature = path
            .as_ref()
            .map(|p| cx.main_spelled(&p.masked_expression(new)))
            .unwrap_or_default();
        report.leaks.push(Leak {
            kind: group.kind,
            fix: fix_for(group.kind, &group.name),
            root_name: group.name,
            growing_type,
            types,
            objects,
            retained,
            counts: series.map(|s| s.counts.clone()).unwrap_or_default(),
            sizes: series.map(|s| s.sizes.clone()).unwrap_or_default(),
            path,
            signature,
            suspect_step,
            listener: group.listener,
        });
    }
    report.leaks.sort_by(|a, b| {
        b.retained
            .cmp(&a.retained)
            .then(b.objects.cmp(&a.objects))
            .then_with(|| a.root_name.cmp(&b.root_name))
    });
    report
}

struct Context<'a> {
    snap: &'a HeapSnapshot,
    paths: &'a RootPaths,
    type_names: &'a [String],
    opts: &'a LeakOptions,
}

const CALLABLE_TYPES: &[&str] = &[
    "builtins.method",
    "builtins.function",
    "builtins.builtin_function_or_method",
    "functools.partial",
    "weakref.WeakMethod",
    "weakref.finalize",
];

const TASK_TYPES: &[&str] = &[
    "_asyncio.Task",
    "_asyncio.Future",
    "asyncio.tasks.Task",
    "asyncio.futures.Future",
    "asyncio.tasks._PyTask",
    "asyncio.futures._PyFuture",
];

impl Context<'_> {
    fn tname(&self, n: NodeId) -> &str {
        &self.type_names[self.snap.type_of(n) as usize]
    }

    /// `module.qualname` as reports show it: `builtins.` dropped,
    /// `__main__` spelled as the script.
    fn display_name(&self, full: &str) -> String {
        let short = full.strip_prefix("builtins.").unwrap_or(full);
        match (&self.opts.main_name, short.strip_prefix("__main__.")) {
            (Some(main), Some(rest)) => format!("{main}.{rest}"),
            _ => short.to_owned(),
        }
    }

    fn display_type(&self, ty: u32) -> String {
        self.display_name(&self.type_names[ty as usize])
    }

    fn main_spelled(&self, expr: &str) -> String {
        match (&self.opts.main_name, expr.strip_prefix("__main__")) {
            (Some(main), Some(rest)) if rest.is_empty() || rest.starts_with(['.', '[']) => {
                format!("{main}{rest}")
            }
            _ => expr.to_owned(),
        }
    }

    /// The expression of the path's first `steps` steps.
    fn spell(&self, path: &RootPath, steps: usize) -> String {
        let prefix = RootPath {
            root: path.root,
            steps: path.steps[..steps].to_vec(),
        };
        self.main_spelled(&prefix.expression(self.snap))
    }

    fn is_class(&self, n: NodeId) -> bool {
        self.snap
            .edges(n)
            .any(|(_, l)| l.kind == EdgeKind::Attr && self.snap.str(l.name) == "__mro__")
    }

    fn place(
        &self,
        c: NodeId,
        path: Option<RootPath>,
        is_new: &dyn Fn(NodeId) -> bool,
        through: &HashMap<NodeId, u32>,
    ) -> Placed {
        let snap = self.snap;
        let Some(path) = path else {
            return self.place_unreachable(c);
        };
        let root = snap.roots()[path.root];
        let nodes: Vec<NodeId> = std::iter::once(root.node)
            .chain(path.steps.iter().map(|s| s.node))
            .collect();
        let first_new = nodes
            .iter()
            .position(|&n| is_new(n))
            .unwrap_or(nodes.len() - 1);
        if root.kind == RootKind::HiddenHolder {
            return self.place_hidden(c, &path, &nodes, first_new);
        }
        let importing = nodes[..=first_new]
            .iter()
            .rev()
            .find(|&&n| self.tname(n) == "builtins.module")
            .is_some_and(|&m| self.opts.incomplete_modules.contains(&snap.addr(m)));
        if importing || (first_new == 0 && root.kind == RootKind::Module) {
            // A module imported since the baseline (or still importing
            // then): what its import made is new, not grown.
            return Placed {
                key: GroupKey::Named("new module".into()),
                kind: LeakKind::Other,
                name: String::new(),
                entry: root.node,
                path: None,
                suspect_step: None,
                listener: None,
            };
        }
        // The holder: where the path fans out to the candidates (the next
        // node leads to at most an eighth of them), at the latest the
        // object right before the candidate.
        let count = |n: NodeId| through.get(&n).copied().unwrap_or(1);
        let last = nodes.len() - 1;
        // A namespace (a module's, a class's, an instance's attributes)
        // does not fan out: each attribute is a holder of its own.
        let named_slot = |i: usize| {
            let into_next = &path.steps[i].label.kind;
            *into_next == EdgeKind::Attr
                || (*into_next == EdgeKind::DictValue
                    && (i == 0
                        || path.steps[i - 1].label.kind == EdgeKind::Dict
                        || is_attr(snap, &path.steps[i - 1], "__dict__")))
        };
        let holder_at = (0..last)
            .find(|&i| count(nodes[i + 1]) * 8 <= count(nodes[i]) && !named_slot(i))
            .unwrap_or(last.saturating_sub(1))
            .min(last.saturating_sub(1));
        let first_new = holder_at + 1;
        let entry = nodes[first_new.min(last)];
        let suspect_step = Some(holder_at);
        let holder_expr = self.spell(&path, holder_at);
        let mut placed = Placed {
            key: GroupKey::Holder(nodes[holder_at]),
            kind: LeakKind::Other,
            name: holder_expr.clone(),
            entry,
            path: Some(path.clone()),
            suspect_step,
            listener: None,
        };
        let types: Vec<&str> = nodes.iter().map(|&n| self.tname(n)).collect();
        // Most specific first.
        if holder_expr == "gc.garbage" {
            placed.kind = LeakKind::UnreachableCycle;
            return placed;
        }
        if self.pins_base(entry) {
            placed.kind = LeakKind::ViewPinsBase;
            return placed;
        }
        if let Some(tb) = types
            .iter()
            .position(|t| *t == "builtins.traceback" || *t == "builtins.frame")
        {
            if tb > 0 {
                placed.kind = LeakKind::Traceback;
                placed.name = self.spell(&path, tb - 1);
                placed.key = GroupKey::Holder(nodes[tb - 1]);
                return placed;
            }
        }
        if let Some(ctx) = types.iter().position(|t| *t == "_contextvars.Context") {
            placed.kind = LeakKind::Contextvar;
            placed.name = self
                .context_var(&nodes[ctx..])
                .unwrap_or_else(|| "contextvars.Context".into());
            placed.key = GroupKey::Named(format!("contextvar {}", placed.name));
            return placed;
        }
        if let Some(local) = types[..=holder_at]
            .iter()
            .position(|t| *t == "_thread._local")
        {
            placed.kind = LeakKind::ThreadLocal;
            placed.name = self.thread_local_name(&path, local, holder_at);
            return placed;
        }
        if TASK_TYPES.contains(&self.tname(entry)) || TASK_TYPES.contains(&self.tname(c)) {
            placed.kind = LeakKind::AsyncioTasks;
            return placed;
        }
        if types[..=holder_at].contains(&"logging.Manager") {
            placed.kind = LeakKind::LoggingManager;
            return placed;
        }
        if let Some(callable) = self.registered_callable(&nodes, first_new, &holder_expr) {
            placed.kind = LeakKind::Listener;
            placed.listener = self.callable_name(callable);
            return placed;
        }
        if let Some(w) = types[..=holder_at]
            .iter()
            .position(|t| *t == "functools._lru_cache_wrapper")
        {
            let on_class = nodes[..w].iter().any(|&n| self.is_class(n));
            placed.kind = if on_class {
                LeakKind::CacheMethod
            } else {
                LeakKind::MemoCache
            };
            placed.name = self.spell(&path, w);
            placed.key = GroupKey::Holder(nodes[w]);
            return placed;
        }
        if let Some(p) = types[..=holder_at]
            .iter()
            .position(|t| *t == "_pickle.Pickler" || *t == "pickle._Pickler")
        {
            placed.kind = LeakKind::MemoCache;
            placed.name = self.spell(&path, p);
            placed.key = GroupKey::Holder(nodes[p]);
            return placed;
        }
        let prefix = &path.steps[..holder_at];
        // A dict attached to a function as an attribute.
        if let Some(i) = prefix
            .iter()
            .position(|s| s.label.kind == EdgeKind::Attr && snap.str(s.label.name) == "__dict__")
        {
            if types[i] == "builtins.function" {
                placed.kind = LeakKind::MemoCache;
                return placed;
            }
        }
        if let Some(j) = prefix.iter().rposition(|s| s.label.kind == EdgeKind::Cell) {
            let var = snap.str(prefix[j].label.name).to_owned();
            let func = prefix[..j]
                .iter()
                .rposition(|s| is_attr(snap, s, "__closure__"))
                .unwrap_or(j);
            placed.kind = LeakKind::ClosureCell;
            placed.name = format!("{} closure '{var}'", self.function_expr(&path, func));
            return placed;
        }
        if let Some(j) = prefix.iter().rposition(|s| {
            is_attr(snap, s, "__defaults__")
                || is_attr(snap, s, "__kwdefaults__")
                || s.label.kind == EdgeKind::Default
        }) {
            let func_node = nodes[j];
            let param = match prefix[j].label.kind {
                EdgeKind::Default => Some(prefix[j].label.index as usize),
                _ if is_attr(snap, &prefix[j], "__kwdefaults__") => None,
                _ => prefix
                    .get(j + 1)
                    .filter(|s| s.label.kind == EdgeKind::Index)
                    .map(|s| s.label.index as usize),
            };
            let name = match (param, prefix.get(j + 1)) {
                (Some(i), _) => self
                    .opts
                    .default_names
                    .get(&snap.addr(func_node))
                    .and_then(|names| names.get(i))
                    .cloned()
                    .unwrap_or_else(|| format!("#{i}")),
                (None, Some(step)) => snap
                    .str(step.label.name)
                    .trim_matches(['\'', '"'])
                    .to_owned(),
                (None, None) => "?".into(),
            };
            placed.kind = LeakKind::DefaultArgument;
            placed.name = format!("{} default '{name}'", self.function_expr(&path, j));
            return placed;
        }
        if nodes[..holder_at].iter().skip(1).any(|&n| self.is_class(n)) {
            placed.kind = LeakKind::ClassAttribute;
            return placed;
        }
        placed.kind = match root.kind {
            RootKind::Module | RootKind::Builtins | RootKind::Sys => LeakKind::ModuleGlobal,
            RootKind::Class => LeakKind::ClassAttribute,
            RootKind::Frame => LeakKind::FrameLocal,
            _ => LeakKind::Other,
        };
        placed
    }

    /// The expression of a function reached by the path's first `steps`
    /// steps, without a trailing unspellable step (a classmethod's or
    /// staticmethod's wrapped function).
    fn function_expr(&self, path: &RootPath, steps: usize) -> String {
        let mut steps = steps;
        while steps > 0
            && matches!(
                path.steps[steps - 1].label.kind,
                EdgeKind::Unknown | EdgeKind::Internal
            )
        {
            steps -= 1;
        }
        self.spell(path, steps)
    }

    fn place_unreachable(&self, c: NodeId) -> Placed {
        let opts = self.opts;
        let (kind, name) = if !opts.gc_enabled || opts.gc_threshold0 == 0 {
            (LeakKind::UnreachableCycle, "gc:disabled")
        } else if opts.gc_threshold0 >= 70_000 {
            (LeakKind::UnreachableCycle, "gc:delayed")
        } else {
            // The collector runs: this garbage is freed at its next
            // collection. Grouped apart and named so.
            (LeakKind::UnreachableCycle, "gc:pending")
        };
        let refs = self.snap.referrers(c).len();
        if refs == 0
            && self.snap.refcount(c) > 0
            && !self
                .snap
                .flags(c)
                .contains(crate::model::NodeFlags::GC_TRACKED)
        {
            return Placed {
                key: GroupKey::Named("c:refcount".into()),
                kind: LeakKind::CRefcountLeak,
                name: "c:refcount".into(),
                entry: c,
                path: None,
                suspect_step: None,
                listener: None,
            };
        }
        Placed {
            key: GroupKey::Named(name.into()),
            kind,
            name: name.into(),
            entry: c,
            path: None,
            suspect_step: None,
            listener: None,
        }
    }

    fn place_hidden(
        &self,
        c: NodeId,
        path: &RootPath,
        nodes: &[NodeId],
        first_new: usize,
    ) -> Placed {
        let snap = self.snap;
        let root_node = nodes[0];
        // Nothing refers to the object itself and nothing registered it:
        // a reference count leaked by C code.
        if root_node == c
            && snap.referrers(c).is_empty()
            && !self.opts.registered.contains_key(&snap.addr(c))
        {
            return Placed {
                key: GroupKey::Named("c:refcount".into()),
                kind: LeakKind::CRefcountLeak,
                name: "c:refcount".into(),
                entry: c,
                path: Some(path.clone()),
                suspect_step: None,
                listener: None,
            };
        }
        let registry = nodes
            .iter()
            .take(first_new + 2)
            .find_map(|&n| self.opts.registered.get(&snap.addr(n)));
        let name = match registry {
            Some(r) => format!("c:{r}"),
            None => format!("c:{}", self.display_type(snap.type_of(root_node))),
        };
        let callable = nodes
            .iter()
            .find(|&&n| CALLABLE_TYPES.contains(&self.tname(n)))
            .and_then(|&n| self.callable_name(n));
        Placed {
            key: GroupKey::Named(name.clone()),
            kind: LeakKind::HiddenHolder,
            name,
            entry: nodes[first_new],
            path: Some(path.clone()),
            suspect_step: Some(first_new.saturating_sub(1)),
            listener: callable,
        }
    }

    /// Whether `entry` is a numpy array much smaller than an array it refers
    /// to (its base).
    fn pins_base(&self, entry: NodeId) -> bool {
        let snap = self.snap;
        if self.tname(entry) != "numpy.ndarray" {
            return false;
        }
        let own = snap.owned(entry);
        snap.edges(entry)
            .any(|(to, _)| self.tname(to) == "numpy.ndarray" && snap.owned(to) >= 4096.max(own * 8))
    }

    /// The ContextVar whose value a context copy holds: a ContextVar among
    /// the objects of the context's mapping on the path.
    fn context_var(&self, nodes: &[NodeId]) -> Option<String> {
        for &n in nodes {
            for to in self.snap.referents(n) {
                if self.tname(*to) == "_contextvars.ContextVar" {
                    let path = self.paths.path(self.snap, *to)?;
                    return Some(self.main_spelled(&path.expression(self.snap)));
                }
            }
        }
        None
    }

    /// `mod.local_obj.attr...`: the thread-local's per-thread namespace
    /// spelled as attributes, whichever thread's dict the path went through.
    fn thread_local_name(&self, path: &RootPath, local: usize, holder_at: usize) -> String {
        let snap = self.snap;
        let mut out = self.spell(path, local);
        // Skip the thread-keyed bookkeeping up to the per-thread dict: the
        // first step keyed by an identifier.
        let rest = &path.steps[local..holder_at];
        let start = rest
            .iter()
            .position(|s| {
                s.label.kind == EdgeKind::DictValue && is_identifier(snap.str(s.label.name))
            })
            .unwrap_or(rest.len());
        let tail = RootPath {
            root: path.root,
            steps: rest[start..].to_vec(),
        };
        let spelled = tail.expression(snap);
        let root_name = RootPath {
            root: path.root,
            steps: Vec::new(),
        }
        .expression(snap);
        let mut tail_text = spelled
            .strip_prefix(&root_name)
            .unwrap_or(&spelled)
            .to_owned();
        if let Some(first) = rest.get(start) {
            let key = snap.str(first.label.name).trim_matches(['\'', '"']);
            for quoted in [format!("['{key}']"), format!("[\"{key}\"]")] {
                if let Some(after) = tail_text.strip_prefix(&quoted) {
                    tail_text = format!(".{key}{after}");
                    break;
                }
            }
        }
        out.push_str(&tail_text);
        out
    }

    /// The registered callable of a listener: the first new object on the
    /// path (or the one right after it, inside a registration record) when
    /// it is callable, or anything in `weakref.finalize`'s registry.
    fn registered_callable(
        &self,
        nodes: &[NodeId],
        first_new: usize,
        holder: &str,
    ) -> Option<NodeId> {
        let callable = |n: &NodeId| CALLABLE_TYPES.contains(&self.tname(*n));
        let near = &nodes[first_new..nodes.len().min(first_new + 2)];
        if let Some(&n) = near.iter().find(|n| callable(n)) {
            return Some(n);
        }
        if holder == "weakref.finalize._registry" {
            return nodes[first_new..]
                .iter()
                .find(|n| callable(n))
                .copied()
                .or(Some(nodes[first_new]));
        }
        None
    }

    /// `module.qualname` of a function or bound method node, when the
    /// snapshot names it.
    fn callable_name(&self, n: NodeId) -> Option<String> {
        let snap = self.snap;
        let func = if self.tname(n) == "builtins.method" {
            snap.edges(n)
                .find(|(_, l)| l.kind == EdgeKind::Attr && snap.str(l.name) == "__func__")
                .map(|(to, _)| to)?
        } else {
            n
        };
        let mut module = None;
        let mut qualname = None;
        for (to, label) in snap.edges(func) {
            if label.kind != EdgeKind::Attr {
                continue;
            }
            match snap.str(label.name) {
                "__qualname__" => qualname = Some(to),
                "__module__" => module = Some(to),
                _ => {}
            }
        }
        let text = |n: NodeId| snap.name(n).map(|s| snap.str(s).to_owned());
        let qual = qualname
            .and_then(text)
            .or_else(|| snap.name(func).map(|s| snap.str(s).to_owned()))?;
        let module = module.and_then(text);
        Some(match module {
            Some(m) => self.display_name(&format!("{m}.{qual}")),
            None => qual,
        })
    }
}

fn is_attr(snap: &HeapSnapshot, step: &PathStep, name: &str) -> bool {
    step.label.kind == EdgeKind::Attr && snap.str(step.label.name) == name
}

fn is_identifier(repr: &str) -> bool {
    let inner = repr.trim_matches(['\'', '"']);
    let mut chars = inner.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The fix for a kind of holder, naming it.
fn fix_for(kind: LeakKind, name: &str) -> String {
    match kind {
        LeakKind::CRefcountLeak => "A C extension takes a reference it never releases (a Py_INCREF too many, or a new reference never Py_DECREF'd): find the call that returns these objects and fix or report its reference counting.".into(),
        LeakKind::HiddenHolder if name == "c:atexit.register" => "atexit keeps every registered callable until the interpreter exits: call atexit.unregister() in close(), or register one module-level function that holds the objects weakly.".into(),
        LeakKind::HiddenHolder if name == "c:codecs.register" => "codecs.register() keeps every search function for the life of the interpreter: register once at module level (not on every reload or call), and codecs.unregister() it when done (3.10+).".into(),
        LeakKind::HiddenHolder => format!("References held in C ({name}) keep these objects: find what registers them with a C-level registry and unregister them when done."),
        LeakKind::UnreachableCycle if name == "gc:disabled" => "The cyclic collector is disabled (gc.disable() or a zero threshold) and these reference cycles are never freed: re-enable it (gc.enable()), call gc.collect() at safe points, or break the cycles with weakref.".into(),
        LeakKind::UnreachableCycle if name == "gc:delayed" => "The first collection threshold is so high that collections do not come: lower it (gc.set_threshold) or call gc.collect() at safe points.".into(),
        LeakKind::UnreachableCycle if name == "gc.garbage" => "gc.DEBUG_SAVEALL keeps every collected cycle in gc.garbage: drop the flag (gc.set_debug(0)) outside debugging, or clear gc.garbage.".into(),
        LeakKind::UnreachableCycle => "These reference cycles wait for the collector; break them with weakref if they are large.".into(),
        LeakKind::ViewPinsBase => format!("Small views in {name} keep their whole base arrays alive: store a copy (view.copy()) instead of the slice."),
        LeakKind::Traceback => format!("The exception {name} keeps its traceback, and through it every frame and local it passed: raise a fresh exception each time, keep only what you need (str(exc)), or clear exc.__traceback__ (exc.with_traceback(None))."),
        LeakKind::Contextvar => format!("Copies of the context (callbacks scheduled with loop.call_later/call_soon, tasks, copy_context()) keep the value of {name}: reset it (token = var.set(v); ... var.reset(token)) before scheduling, or cancel the handles when done."),
        LeakKind::ThreadLocal => format!("{name} grows for the life of its thread: clear it at the end of each request, or bound it (collections.deque(maxlen=...))."),
        LeakKind::AsyncioTasks => format!("Finished tasks stay in {name}: discard each when it is done (task.add_done_callback({name}.discard) with a set), or use asyncio.TaskGroup."),
        LeakKind::LoggingManager if name.ends_with(".handlers") => format!("A handler is added to {name} for every client: add it once (check the logger's handlers first) or removeHandler() it when the client closes."),
        LeakKind::LoggingManager => "logging keeps every logger ever created in logging.Logger.manager.loggerDict: use one logger per module or class, not per connection or object; pass per-connection context with a LoggerAdapter or extra=.".into(),
        LeakKind::Listener => format!("Callbacks registered in {name} are never removed: unregister them when their owner is done (in close()), or register them weakly (weakref.WeakMethod, a WeakSet)."),
        LeakKind::CacheMethod => format!("{name} is a functools cache on a method: its keys keep every self alive. Cache a module-level function of the arguments instead, keep a cache per instance, or bound it (lru_cache(maxsize=...))."),
        LeakKind::MemoCache => format!("The memo {name} is never cleared: bound it (functools.lru_cache(maxsize=...)), key it weakly, or clear it (a pickler's clear_memo()) between units of work."),
        LeakKind::ClosureCell => format!("{name} lives as long as the function: bound that memo (functools.lru_cache(maxsize=...)), or key it weakly (weakref.WeakKeyDictionary)."),
        LeakKind::DefaultArgument => format!("{name} is a mutable default, made once and shared by every call: default to None and create the container in the body."),
        LeakKind::ClassAttribute => format!("{name} is a class attribute, shared by every instance and never emptied: make it an instance attribute (set in __init__), or bound or clear it."),
        LeakKind::ModuleGlobal => format!("{name} is a module-level container that only grows: bound it (functools.lru_cache(maxsize=...), an LRU dict), evict entries when done, or key it weakly (weakref.WeakValueDictionary)."),
        LeakKind::FrameLocal => format!("{name} is a local of a function that is still running: return or clear it."),
        LeakKind::Other => format!("{name} keeps them: bound or clear it."),
    }
}

impl LeakReport {
    /// The report as text: one block per leak, ≤ 30 lines each.
    pub fn render(&self, snap: &HeapSnapshot) -> String {
        let mut out = String::new();
        if self.leaks.is_empty() {
            out.push_str(&format!(
                "memlens leaks: no leak found ({} checkpoints over {:.2} s",
                self.checkpoints, self.seconds
            ));
            if self.checkpoints < 4 {
                out.push_str(
                    "; too few to confirm growth: run longer, or use memlens.leaks.check()",
                );
            }
            out.push_str(")\n");
            return out;
        }
        out.push_str(&format!(
            "memlens leaks: {} leak{} found ({} checkpoints over {:.2} s)\n",
            self.leaks.len(),
            if self.leaks.len() == 1 { "" } else { "s" },
            self.checkpoints,
            self.seconds
        ));
        for (i, leak) in self.leaks.iter().enumerate() {
            out.push('\n');
            out.push_str(&format!(
                "#{} {}: {} new objects, {} retained\n",
                i + 1,
                leak.growing_type,
                group_thousands(leak.objects as i64),
                human_bytes(leak.retained)
            ));
            out.push_str(&format!(
                "   root      {} ({})\n",
                leak.root_name,
                leak.kind.describe()
            ));
            out.push_str(&format!("   kind      {}\n", leak.kind.as_str()));
            if let Some(listener) = &leak.listener {
                out.push_str(&format!("   callable  {listener}\n"));
            }
            if leak.counts.len() >= 2 {
                let first = leak.counts[0];
                let last = leak.counts[leak.counts.len() - 1];
                let intervals = leak.counts.len() - 1;
                let bytes = leak.sizes[leak.sizes.len() - 1].saturating_sub(leak.sizes[0]);
                out.push_str(&format!(
                    "   grows     {} -> {} objects over {} checkpoints (+{} per checkpoint, +{})\n",
                    group_thousands(first as i64),
                    group_thousands(last as i64),
                    intervals,
                    group_thousands(((last - first.min(last)) / intervals as u64) as i64),
                    human_bytes(bytes)
                ));
            }
            let types: Vec<String> = leak
                .types
                .iter()
                .take(5)
                .map(|(t, n)| format!("{t} {}", group_thousands(*n as i64)))
                .collect();
            out.push_str(&format!("   new       {}\n", types.join(", ")));
            if let Some(path) = &leak.path {
                out.push_str(&format!("   path      {}\n", leak.signature));
                let steps = path.describe(snap);
                let lines: Vec<&str> = steps.lines().collect();
                let shown = 12usize;
                for (j, line) in lines.iter().enumerate().skip(1) {
                    if j > shown && j + 2 < lines.len() {
                        if j == shown + 1 {
                            out.push_str(&format!(
                                "             ... {} more steps\n",
                                lines.len() - shown - 3
                            ));
                        }
                        continue;
                    }
                    let mark = match leak.suspect_step {
                        Some(s) if s + 2 == j => "!",
                        _ => " ",
                    };
                    out.push_str(&format!("           {mark}{}\n", line.trim_start()));
                }
            }
            out.push_str(&format!("   fix       {}\n", leak.fix));
        }
        out
    }

    /// The report as JSON, schema `memlens.leaks/1` (docs/leaks.md).
    pub fn to_json(&self, snap: &HeapSnapshot) -> String {
        let mut out = String::from("{\"schema\":\"memlens.leaks/1\"");
        out.push_str(&format!(
            ",\"checkpoints\":{},\"seconds\":{:.3},\"baseline\":{}",
            self.checkpoints, self.seconds, self.had_baseline
        ));
        out.push_str(",\"growing_types\":[");
        for (i, g) in self.growing.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":");
            push_json_string(&mut out, &g.type_name);
            out.push_str(&format!(
                ",\"counts\":{:?},\"sizes\":{:?}}}",
                g.counts, g.sizes
            ));
        }
        out.push_str("],\"leaks\":[");
        for (i, leak) in self.leaks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"kind\":");
            push_json_string(&mut out, leak.kind.as_str());
            out.push_str(",\"root\":");
            push_json_string(&mut out, &leak.root_name);
            out.push_str(",\"growing_type\":");
            push_json_string(&mut out, &leak.growing_type);
            out.push_str(&format!(
                ",\"objects\":{},\"retained\":{},\"counts\":{:?},\"sizes\":{:?}",
                leak.objects, leak.retained, leak.counts, leak.sizes
            ));
            out.push_str(",\"types\":{");
            for (j, (t, n)) in leak.types.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_json_string(&mut out, t);
                out.push_str(&format!(":{n}"));
            }
            out.push_str("},\"listener\":");
            match &leak.listener {
                Some(l) => push_json_string(&mut out, l),
                None => out.push_str("null"),
            }
            out.push_str(",\"signature\":");
            push_json_string(&mut out, &leak.signature);
            out.push_str(",\"path\":");
            match &leak.path {
                Some(p) => out.push_str(&p.to_json(snap)),
                None => out.push_str("null"),
            }
            out.push_str(",\"suspect_step\":");
            match leak.suspect_step {
                Some(s) => out.push_str(&s.to_string()),
                None => out.push_str("null"),
            }
            out.push_str(",\"fix\":");
            push_json_string(&mut out, &leak.fix);
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::CensusRow;
    use crate::model::{EdgeLabel, SnapshotBuilder, SnapshotMeta};

    fn census(items: u64, other: u64) -> Census {
        Census::from_rows(vec![
            CensusRow::new("app.Item", items, items * 48),
            CensusRow::new("builtins.str", other, other * 50),
            CensusRow::new("memlens.Census", items, 0),
        ])
    }

    #[test]
    fn a_type_grows_only_when_nearly_every_interval_grows() {
        let opts = GrowthOptions::default();
        let rising: Vec<Census> = (0..6).map(|i| census(100 + 30 * i, 500)).collect();
        let refs: Vec<&Census> = rising.iter().collect();
        let grown = growing_types(&refs, &opts);
        assert_eq!(grown.len(), 1, "{grown:?}");
        assert_eq!(grown[0].type_name, "app.Item");
        assert_eq!(grown[0].growth(), 150);
        // Fills, then stays flat: a plateau.
        let plateau: Vec<Census> = [100, 160, 200, 200, 200, 200]
            .iter()
            .map(|&n| census(n, 500))
            .collect();
        assert!(growing_types(&plateau.iter().collect::<Vec<_>>(), &opts).is_empty());
        // Grows, but is also freed in bulk: not a leak.
        let sawtooth: Vec<Census> = [100, 140, 180, 60, 100, 140]
            .iter()
            .map(|&n| census(n, 500))
            .collect();
        assert!(growing_types(&sawtooth.iter().collect::<Vec<_>>(), &opts).is_empty());
        // Too little growth in all.
        let small: Vec<Census> = (0..6).map(|i| census(100 + i, 500)).collect();
        assert!(growing_types(&small.iter().collect::<Vec<_>>(), &opts).is_empty());
    }

    /// `app` module -> its dict -> `_cache` dict -> `new` Items (and one
    /// old Item); `other` dict -> one new Item.
    fn snapshot(new: u64) -> HeapSnapshot {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let module_t = b.add_type("builtins", "module");
        let dict_t = b.add_type("builtins", "dict");
        let item_t = b.add_type("app", "Item");
        let module = b.add_node(0x1000, module_t, 72, 72, 1, 1);
        let globals = b.add_node(0x2000, dict_t, 200, 200, 1, 1);
        let cache = b.add_node(0x3000, dict_t, 4000, 4000, 1, 1);
        let other = b.add_node(0x4000, dict_t, 200, 200, 1, 1);
        b.add_root(RootKind::Module, "app", module, 0);
        let dunder = b.intern("__dict__");
        b.add_edge(module, globals, EdgeLabel::named(EdgeKind::Attr, dunder));
        let name = b.intern("_cache");
        b.add_edge(globals, cache, EdgeLabel::named(EdgeKind::DictValue, name));
        let name = b.intern("other");
        b.add_edge(globals, other, EdgeLabel::named(EdgeKind::DictValue, name));
        let old = b.add_node(0x9000, item_t, 48, 48, 1, 1);
        b.add_edge(cache, old, EdgeLabel::bare(EdgeKind::DictValue));
        for i in 0..new {
            let item = b.add_node(0x10_0000 + i * 64, item_t, 48, 48, 1, 1);
            b.add_edge(cache, item, EdgeLabel::bare(EdgeKind::DictValue));
        }
        let stray = b.add_node(0x20_0000, item_t, 48, 48, 1, 1);
        b.add_edge(other, stray, EdgeLabel::bare(EdgeKind::DictValue));
        b.finish()
    }

    #[test]
    fn new_instances_are_grouped_under_the_container_they_fan_out_from() {
        let old = snapshot(0);
        let new = snapshot(40);
        let dom = DominatorTree::compute(&new);
        let paths = RootPaths::compute(&new);
        let growing = vec![TypeGrowth {
            type_name: "app.Item".into(),
            counts: vec![2, 20, 41],
            sizes: vec![96, 960, 1968],
        }];
        let opts = LeakOptions {
            min_objects: 20,
            gc_enabled: true,
            gc_threshold0: 700,
            ..LeakOptions::default()
        };
        let report = find_leaks(Some(&old), &new, &dom, &paths, &growing, &opts);
        assert_eq!(report.leaks.len(), 1, "{}", report.render(&new));
        let leak = &report.leaks[0];
        assert_eq!(leak.kind, LeakKind::ModuleGlobal);
        assert_eq!(leak.root_name, "app._cache");
        assert_eq!(leak.growing_type, "app.Item");
        // The Item already in the baseline is old; the stray one is in
        // another holder, below the threshold.
        assert_eq!(leak.objects, 40);
        assert_eq!(leak.retained, 40 * 48);
        assert!(leak.fix.contains("app._cache"));
        let text = report.render(&new);
        assert!(text.contains("#1 app.Item: 40 new objects"), "{text}");
        let json = report.to_json(&new);
        assert!(
            json.starts_with("{\"schema\":\"memlens.leaks/1\""),
            "{json}"
        );
        assert!(json.contains("\"root\":\"app._cache\""), "{json}");
        // Nothing grows: no leak.
        let none = find_leaks(Some(&old), &new, &dom, &paths, &[], &opts);
        assert!(none.leaks.is_empty());
        assert!(none
            .render(&new)
            .starts_with("memlens leaks: no leak found"));
    }

    /// `app` module whose namespace holds nine caches, each keeping
    /// `per_cache` new dicts, each dict one new `app.Item`.
    fn namespace_snapshot(per_cache: u64, module_addr: u64) -> HeapSnapshot {
        let mut b = SnapshotBuilder::new(SnapshotMeta::default());
        let module_t = b.add_type("builtins", "module");
        let dict_t = b.add_type("builtins", "dict");
        let item_t = b.add_type("app", "Item");
        let module = b.add_node(module_addr, module_t, 72, 72, 1, 1);
        let globals = b.add_node(0x2000, dict_t, 200, 200, 1, 1);
        b.add_root(RootKind::Module, "app", module, 0);
        let dunder = b.intern("__dict__");
        b.add_edge(module, globals, EdgeLabel::named(EdgeKind::Attr, dunder));
        for c in 0..9u64 {
            let cache = b.add_node(0x3000 + c * 0x100, dict_t, 4000, 4000, 1, 1);
            let name = b.intern(&format!("_c{c}"));
            b.add_edge(globals, cache, EdgeLabel::named(EdgeKind::DictValue, name));
            for i in 0..per_cache {
                let entry = b.add_node(0x10_0000 + (c * 1000 + i) * 64, dict_t, 64, 64, 1, 1);
                b.add_edge(cache, entry, EdgeLabel::bare(EdgeKind::DictValue));
                let item = b.add_node(0x90_0000 + (c * 1000 + i) * 64, item_t, 48, 48, 1, 1);
                b.add_edge(entry, item, EdgeLabel::bare(EdgeKind::DictValue));
            }
        }
        b.finish()
    }

    fn dict_growth() -> Vec<TypeGrowth> {
        vec![TypeGrowth {
            type_name: "builtins.dict".into(),
            counts: vec![11, 100, 200, 281],
            sizes: vec![0, 0, 0, 0],
        }]
    }

    fn item_rise() -> Vec<TypeGrowth> {
        vec![TypeGrowth {
            type_name: "app.Item".into(),
            counts: vec![0, 270, 270, 270],
            sizes: vec![0, 0, 0, 0],
        }]
    }

    #[test]
    fn each_attribute_of_a_namespace_is_a_holder_of_its_own() {
        let old = namespace_snapshot(0, 0x1000);
        let new = namespace_snapshot(30, 0x1000);
        let dom = DominatorTree::compute(&new);
        let paths = RootPaths::compute(&new);
        let opts = LeakOptions {
            min_objects: 20,
            gc_enabled: true,
            ..LeakOptions::default()
        };
        // Each cache has a ninth of the new dicts: under the fan-out rule
        // alone the module's namespace would be taken for the holder.
        let report = find_leaks(Some(&old), &new, &dom, &paths, &dict_growth(), &opts);
        let mut names: Vec<&str> = report.leaks.iter().map(|l| l.root_name.as_str()).collect();
        names.sort_unstable();
        let want: Vec<String> = (0..9).map(|c| format!("app._c{c}")).collect();
        assert_eq!(names, want, "{}", report.render(&new));
        assert!(report.leaks.iter().all(|l| l.growing_type == "dict"));
    }

    #[test]
    fn a_rising_program_type_names_the_leak_a_builtin_type_confirmed() {
        let old = namespace_snapshot(0, 0x1000);
        let new = namespace_snapshot(30, 0x1000);
        let dom = DominatorTree::compute(&new);
        let paths = RootPaths::compute(&new);
        let opts = LeakOptions {
            min_objects: 20,
            gc_enabled: true,
            companions: item_rise(),
            ..LeakOptions::default()
        };
        let report = find_leaks(Some(&old), &new, &dom, &paths, &dict_growth(), &opts);
        assert_eq!(report.leaks.len(), 9, "{}", report.render(&new));
        for leak in &report.leaks {
            assert_eq!(leak.growing_type, "app.Item");
            assert_eq!(leak.objects, 60);
            assert_eq!(leak.counts, vec![0, 270, 270, 270]);
        }
        // On its own a companion makes no leak.
        let alone = find_leaks(Some(&old), &new, &dom, &paths, &[], &opts);
        assert!(alone.leaks.is_empty(), "{}", alone.render(&new));
        // rising_types: the program type that rose, not the confirmed one.
        let points: Vec<Census> = [0, 270]
            .iter()
            .map(|&n| {
                Census::from_rows(vec![
                    CensusRow::new("app.Item", n, n * 48),
                    CensusRow::new("builtins.dict", 11 + n, 0),
                    CensusRow::new("app.Flat", 5, 0),
                ])
            })
            .collect();
        let refs: Vec<&Census> = points.iter().collect();
        let rising = rising_types(&refs, 20, &[]);
        assert_eq!(rising.len(), 1, "{rising:?}");
        assert_eq!(rising[0].type_name, "app.Item");
        assert!(rising_types(&refs, 20, &rising).is_empty());
    }

    #[test]
    fn what_a_module_still_importing_at_the_baseline_adds_is_not_a_leak() {
        let old = namespace_snapshot(0, 0x1000);
        let new = namespace_snapshot(30, 0x1000);
        let dom = DominatorTree::compute(&new);
        let paths = RootPaths::compute(&new);
        let opts = LeakOptions {
            min_objects: 20,
            gc_enabled: true,
            incomplete_modules: [0x1000].into_iter().collect(),
            ..LeakOptions::default()
        };
        let report = find_leaks(Some(&old), &new, &dom, &paths, &dict_growth(), &opts);
        assert!(report.leaks.is_empty(), "{}", report.render(&new));
    }
}

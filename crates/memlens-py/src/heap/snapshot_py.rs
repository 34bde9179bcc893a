//! The Python face of heap snapshots: `memlens._core.heap_snapshot`,
//! `heap_snapshot_fork`, `load_snapshot` and the `Snapshot` class. The
//! documented API over them is `python/memlens/_snapshot.py`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use memlens_heap::{
    dominator_rows, dominator_rows_json, leak_suspects, render_dominator_tree, DominatorTree,
    EdgeKind, HeapSnapshot, NodeFlags, RootKind, RootPath, RootPaths, SuspectOptions, TypeSummary,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::error::HeapError;
use super::snapshot::{self, CaptureOptions, CaptureStats};
use super::walker::AddressHash;
use crate::errors;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Snapshot>()?;
    m.add_function(wrap_pyfunction!(heap_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(heap_snapshot_fork, m)?)?;
    m.add_function(wrap_pyfunction!(load_snapshot, m)?)?;
    Ok(())
}

/// A heap snapshot: every object that was alive, typed and sized, the
/// labelled references between them and the named roots. Holds no
/// reference to any object (addresses only).
#[pyclass(frozen, module = "memlens", name = "Snapshot")]
pub(crate) struct Snapshot {
    pub(super) inner: HeapSnapshot,
    stats: Option<CaptureStats>,
    by_address: OnceLock<HashMap<u64, u32, AddressHash>>,
    dominators: OnceLock<DominatorTree>,
    /// Shortest paths from every root, and from every root but frames.
    paths: OnceLock<RootPaths>,
    paths_no_frames: OnceLock<RootPaths>,
}

impl Snapshot {
    fn new(inner: HeapSnapshot, stats: Option<CaptureStats>) -> Snapshot {
        Snapshot {
            inner,
            stats,
            by_address: OnceLock::new(),
            dominators: OnceLock::new(),
            paths: OnceLock::new(),
            paths_no_frames: OnceLock::new(),
        }
    }

    pub(super) fn dom(&self) -> &DominatorTree {
        self.dominators
            .get_or_init(|| DominatorTree::compute(&self.inner))
    }

    pub(super) fn root_paths(&self, frames: bool) -> &RootPaths {
        if frames {
            return self.paths.get_or_init(|| RootPaths::compute(&self.inner));
        }
        self.paths_no_frames.get_or_init(|| {
            // Frames, and frames held from C (a running frame's object):
            // what is left are the holders outside running code.
            let frame_type = self.inner.types().iter().position(|t| {
                self.inner.str(t.module) == "builtins" && self.inner.str(t.qualname) == "frame"
            });
            let roots: Vec<usize> = (0..self.inner.roots().len())
                .filter(|&r| {
                    let root = self.inner.roots()[r];
                    root.kind != RootKind::Frame
                        && !(root.kind == RootKind::HiddenHolder
                            && frame_type == Some(self.inner.type_of(root.node) as usize))
                })
                .collect();
            RootPaths::compute_from(&self.inner, &roots)
        })
    }

    fn address_index(&self) -> &HashMap<u64, u32, AddressHash> {
        self.by_address.get_or_init(|| {
            let mut map =
                HashMap::with_capacity_and_hasher(self.inner.node_count(), AddressHash::default());
            for (i, &a) in self.inner.addrs().iter().enumerate() {
                map.insert(a, i as u32);
            }
            map
        })
    }

    /// The node meant by `obj` (a live object, looked up by address) or
    /// `node` (an index): exactly one of them.
    fn resolve(&self, obj: Option<&Bound<'_, PyAny>>, node: Option<usize>) -> PyResult<u32> {
        match (obj, node) {
            (Some(_), Some(_)) => Err(errors::configuration("give an object or node=, not both")),
            (None, None) => Err(errors::configuration("give an object or node=")),
            (None, Some(i)) => Ok(self.check(i)?),
            (Some(o), None) => self
                .address_index()
                .get(&(o.as_ptr() as u64))
                .copied()
                .ok_or_else(|| {
                    errors::configuration(format!(
                        "this {} object is not in the snapshot (created after it, or the snapshot \
                         was taken in another process)",
                        o.get_type()
                            .qualname()
                            .map(|q| q.to_string())
                            .unwrap_or_else(|_| "?".into())
                    ))
                }),
        }
    }

    /// Distinct shortest paths to `target`, one through each strong
    /// referrer (shortest first), at most `limit`.
    fn paths_to(&self, target: u32, limit: usize, frames: bool) -> Vec<RootPath> {
        let s = &self.inner;
        let paths = self.root_paths(frames);
        if limit == 0 {
            return Vec::new();
        }
        match paths.path(s, target) {
            None => return Vec::new(),
            Some(p) if p.steps.is_empty() => return vec![p], // a root itself
            Some(_) => {}
        }
        let mut found: Vec<RootPath> = Vec::new();
        let (offsets, _, _) = s.forward_csr();
        let mut seen = std::collections::HashSet::new();
        for &from in s.referrers(target) {
            if !seen.insert(from) || from == target {
                continue;
            }
            let Some(mut path) = paths.path(s, from) else {
                continue;
            };
            if path.steps.iter().any(|step| step.node == target) {
                continue;
            }
            let begin = offsets[from as usize];
            let Some((i, (_, label))) = s
                .edges(from)
                .enumerate()
                .find(|(_, (t, l))| *t == target && l.kind != EdgeKind::Weak)
            else {
                continue;
            };
            path.steps.push(memlens_heap::PathStep {
                label,
                node: target,
                edge: begin + i as u64,
            });
            found.push(path);
        }
        // Named roots first, then frames, then holders outside the graph;
        // shortest first within each.
        found.sort_by_key(|p| {
            let tier = match s.roots()[p.root].kind {
                RootKind::Frame => 1,
                RootKind::HiddenHolder => 2,
                _ => 0,
            };
            (tier, p.steps.len())
        });
        let mut expressions = std::collections::HashSet::new();
        found.retain(|p| expressions.insert(p.expression(s)));
        found.truncate(limit);
        found
    }

    /// A `memlens.HeapReport` of `text` and the JSON document `json`.
    fn report<'py>(py: Python<'py>, text: String, json: String) -> PyResult<Bound<'py, PyAny>> {
        py.import("memlens._snapshot")?
            .getattr("HeapReport")?
            .call1((text, json))
    }

    fn check(&self, node: usize) -> Result<u32, HeapError> {
        if node < self.inner.node_count() {
            Ok(node as u32)
        } else {
            Err(HeapError::NodeOutOfRange {
                index: node,
                len: self.inner.node_count(),
            })
        }
    }

    fn flag_names(flags: NodeFlags) -> Vec<&'static str> {
        [
            (NodeFlags::GC_TRACKED, "gc_tracked"),
            (NodeFlags::IMMORTAL, "immortal"),
            (NodeFlags::FROZEN, "frozen"),
            (NodeFlags::UNREACHABLE, "unreachable"),
            (NodeFlags::HAS_OWNED, "has_owned"),
        ]
        .into_iter()
        .filter(|(bit, _)| flags.contains(*bit))
        .map(|(_, name)| name)
        .collect()
    }
}

#[pymethods]
impl Snapshot {
    fn __repr__(&self) -> String {
        format!(
            "<memlens.Snapshot: {} objects, {} references, {}>",
            memlens_heap::group_thousands(self.inner.node_count() as i64),
            memlens_heap::group_thousands(self.inner.edge_count() as i64),
            memlens_heap::human_bytes(self.inner.total_owned())
        )
    }

    fn __len__(&self) -> usize {
        self.inner.node_count()
    }

    /// Number of objects (nodes).
    #[getter]
    fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    /// Number of references (edges).
    #[getter]
    fn edge_count(&self) -> usize {
        self.inner.edge_count()
    }

    /// Bytes the objects own (`sys.getsizeof` summed).
    #[getter]
    fn total_size(&self) -> u64 {
        self.inner.total_owned()
    }

    /// Number of objects no root reaches (cyclic garbage not yet collected).
    #[getter]
    fn unreachable_count(&self) -> usize {
        (0..self.inner.node_count() as u32)
            .filter(|&n| self.inner.flags(n).contains(NodeFlags::UNREACHABLE))
            .count()
    }

    /// Whether string contents were kept (`strings=True`).
    #[getter]
    fn strings_included(&self) -> bool {
        self.inner.meta().strings_included
    }

    /// `{"python", "pid", "unix_time_ns", "rss_bytes", "strings_included",
    /// "hostname"}`, plus `"walk_seconds"` and `"build_seconds"` for a
    /// snapshot taken in this process.
    #[getter]
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.inner.meta();
        let out = PyDict::new(py);
        out.set_item("python", &m.python)?;
        out.set_item("pid", m.pid)?;
        out.set_item("unix_time_ns", m.unix_time_ns)?;
        out.set_item("rss_bytes", m.rss_bytes)?;
        out.set_item("strings_included", m.strings_included)?;
        out.set_item("hostname", &m.hostname)?;
        if let Some(stats) = &self.stats {
            out.set_item("walk_seconds", stats.walk_ns as f64 / 1e9)?;
            out.set_item("build_seconds", stats.build_ns as f64 / 1e9)?;
        }
        Ok(out)
    }

    /// The census of the snapshot: count and owned size per type.
    fn census(&self) -> super::Census {
        let types = self.inner.types().len();
        let mut totals = vec![(0u64, 0u64); types];
        for n in 0..self.inner.node_count() as u32 {
            let t = &mut totals[self.inner.type_of(n) as usize];
            t.0 += 1;
            t.1 += self.inner.owned(n);
        }
        let rows = totals
            .into_iter()
            .enumerate()
            .filter(|(_, (count, _))| *count > 0)
            .map(|(ty, (count, size))| {
                memlens_heap::CensusRow::new(self.inner.type_name(ty as u32), count, size)
            });
        super::Census {
            inner: memlens_heap::Census::from_rows(rows.collect::<Vec<_>>()),
        }
    }

    /// The roots `[(kind, name, node, missing), ...]`, of one kind
    /// (`"module"`, `"builtins"`, `"sys"`, `"frame"`, `"class"`,
    /// `"hidden_holder"`, `"other"`) or all.
    #[pyo3(signature = (kind = None))]
    fn roots(&self, kind: Option<&str>) -> PyResult<Vec<(&'static str, String, u32, u32)>> {
        let wanted = match kind {
            None => None,
            Some(k) => Some(
                (0..=6)
                    .filter_map(RootKind::from_code)
                    .find(|r| r.as_str() == k)
                    .ok_or_else(|| errors::configuration(format!("no root kind {k:?}")))?,
            ),
        };
        Ok(self
            .inner
            .roots()
            .iter()
            .filter(|r| wanted.is_none_or(|w| w == r.kind))
            .map(|r| {
                (
                    r.kind.as_str(),
                    self.inner.str(r.name).to_owned(),
                    r.node,
                    r.missing,
                )
            })
            .collect())
    }

    /// `{"type", "address", "size" (shallow), "owned", "refcount", "flags",
    /// "name"}` of node `i`.
    fn node<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyDict>> {
        let n = self.check(i)?;
        let s = &self.inner;
        let out = PyDict::new(py);
        out.set_item("type", s.type_name(s.type_of(n)))?;
        out.set_item("address", s.addr(n))?;
        out.set_item("size", s.shallow(n))?;
        out.set_item("owned", s.owned(n))?;
        out.set_item("refcount", s.refcount(n))?;
        out.set_item("flags", Snapshot::flag_names(s.flags(n)))?;
        out.set_item("name", s.name(n).map(|id| s.str(id)))?;
        Ok(out)
    }

    /// The node of a live object (by address), or None. Meaningful for an
    /// object alive since the snapshot was taken in this process.
    fn node_of(&self, obj: &Bound<'_, PyAny>) -> Option<u32> {
        self.address_index().get(&(obj.as_ptr() as u64)).copied()
    }

    /// The references of node `i`: `[(target, kind, label), ...]`; label is
    /// the name, the index, or None.
    fn edges(&self, i: usize) -> PyResult<Vec<(u32, &'static str, Option<String>)>> {
        let n = self.check(i)?;
        Ok(self
            .inner
            .edges(n)
            .map(|(t, l)| {
                let label = if l.kind.has_index() {
                    Some(l.index.to_string())
                } else if l.name != 0 {
                    Some(self.inner.str(l.name).to_owned())
                } else {
                    None
                };
                (t, l.kind.as_str(), label)
            })
            .collect())
    }

    /// The nodes with a reference to node `i` (one entry per reference).
    fn referrers(&self, i: usize) -> PyResult<Vec<u32>> {
        Ok(self.inner.referrers(self.check(i)?).to_vec())
    }

    /// Number of strong references to node `i` the snapshot holds (weak
    /// references left out).
    fn strong_referrer_count(&self, i: usize) -> PyResult<usize> {
        let n = self.check(i)?;
        Ok(self
            .inner
            .referrers(n)
            .iter()
            .filter(|&&from| {
                self.inner
                    .edges(from)
                    .any(|(t, l)| t == n && l.kind != EdgeKind::Weak)
            })
            .count())
    }

    /// The owned size of everything only `obj` (or node `node`) keeps
    /// alive, itself included (its dominator subtree).
    #[pyo3(signature = (obj = None, *, node = None))]
    fn retained_size(&self, obj: Option<&Bound<'_, PyAny>>, node: Option<usize>) -> PyResult<u64> {
        let n = self.resolve(obj, node)?;
        Ok(self.dom().retained(n))
    }

    /// The shortest path from a root to `obj` (or node `node`) as a Python
    /// expression, or None if no root reaches it. `frames=False` leaves
    /// the threads' frames out of the roots.
    #[pyo3(signature = (obj = None, *, node = None, frames = true))]
    fn path(
        &self,
        obj: Option<&Bound<'_, PyAny>>,
        node: Option<usize>,
        frames: bool,
    ) -> PyResult<Option<String>> {
        let n = self.resolve(obj, node)?;
        Ok(self
            .root_paths(frames)
            .path(&self.inner, n)
            .map(|p| p.expression(&self.inner)))
    }

    /// Up to `limit` shortest paths from roots to `obj` (or node `node`),
    /// one through each object holding it: `[(expression, steps), ...]`,
    /// `steps` the path step by step (one line per step).
    #[pyo3(signature = (obj = None, *, node = None, limit = 5, frames = true))]
    fn paths(
        &self,
        obj: Option<&Bound<'_, PyAny>>,
        node: Option<usize>,
        limit: usize,
        frames: bool,
    ) -> PyResult<Vec<(String, String)>> {
        let n = self.resolve(obj, node)?;
        Ok(self
            .paths_to(n, limit, frames)
            .iter()
            .map(|p| (p.expression(&self.inner), p.describe(&self.inner)))
            .collect())
    }

    /// Count, shallow, owned and retained size per type, largest retained
    /// first: a `HeapReport` (`str()` is the table, `.data` the JSON).
    #[pyo3(signature = (limit = 25))]
    fn summary<'py>(&self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyAny>> {
        let summary = TypeSummary::compute(&self.inner, self.dom());
        Snapshot::report(py, summary.render_table(Some(limit)), summary.to_json())
    }

    /// The top of the dominator tree, `depth` levels, `children` per node:
    /// a `HeapReport`.
    #[pyo3(signature = (depth = 4, children = 8))]
    fn dominators<'py>(
        &self,
        py: Python<'py>,
        depth: usize,
        children: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dom = self.dom();
        let rows = dominator_rows(&self.inner, dom, None, depth, children);
        let text = render_dominator_tree(&rows, dom.reachable_size());
        Snapshot::report(py, text, dominator_rows_json(&rows))
    }

    /// Leak suspects, MAT-style: dominators retaining at least `min_share`
    /// of the heap, walked down to their accumulation point: a `HeapReport`.
    #[pyo3(signature = (min_share = 0.10))]
    fn suspects<'py>(&self, py: Python<'py>, min_share: f64) -> PyResult<Bound<'py, PyAny>> {
        if !(0.0..=1.0).contains(&min_share) {
            return Err(errors::configuration(format!(
                "min_share must be between 0 and 1, not {min_share}"
            )));
        }
        let opts = SuspectOptions {
            min_share,
            ..SuspectOptions::default()
        };
        let found = leak_suspects(&self.inner, self.dom(), self.root_paths(true), opts);
        Snapshot::report(py, found.render(&self.inner), found.to_json(&self.inner))
    }

    /// Writes the snapshot as a `.mlh` file, atomically (a temporary file
    /// renamed into place). Returns `{"node_bytes", "edge_bytes",
    /// "raw_bytes", "file_bytes"}` (uncompressed sizes, then the file's).
    fn save<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let stats = py
            .detach(|| snapshot::save_atomic(&self.inner, &path))
            .map_err(|e| io_error("write", &path, e))?;
        write_stats(py, stats)
    }
}

fn write_stats(py: Python<'_>, stats: memlens_format::WriteStats) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("node_bytes", stats.node_bytes)?;
    out.set_item("edge_bytes", stats.edge_bytes)?;
    out.set_item("raw_bytes", stats.raw_bytes)?;
    out.set_item("file_bytes", stats.file_bytes)?;
    Ok(out)
}

/// An `OSError` of the subclass `error` maps to, naming the path.
fn io_error(action: &str, path: &std::path::Path, error: std::io::Error) -> PyErr {
    let message = format!("cannot {action} snapshot {}: {error}", path.display());
    let err = PyErr::from(error);
    Python::attach(|py| PyErr::from_type(err.get_type(py), message))
}

/// Walks the live heap into a [`Snapshot`]. `own_dir`: frames of code
/// under this directory on top of the calling thread are memlens's own
/// and left out.
#[pyfunction]
#[pyo3(signature = (*, strings = false, own_dir = None))]
fn heap_snapshot(py: Python<'_>, strings: bool, own_dir: Option<&str>) -> PyResult<Snapshot> {
    let (inner, stats) = snapshot::capture(
        py,
        CaptureOptions {
            strings,
            hold: true,
        },
        own_dir,
    )?;
    Ok(Snapshot::new(inner, Some(stats)))
}

/// Reads a `.mlh` file.
#[pyfunction]
fn load_snapshot(py: Python<'_>, path: PathBuf) -> PyResult<Snapshot> {
    let result = py.detach(|| {
        let file = std::fs::File::open(&path)?;
        memlens_format::read_snapshot(std::io::BufReader::with_capacity(1 << 20, file))
    });
    match result {
        Ok(inner) => Ok(Snapshot::new(inner, None)),
        Err(memlens_format::FormatError::Io(e)) => Err(io_error("read", &path, e)),
        Err(other) => Err(errors::file_format(format!(
            "cannot read snapshot {}: {other}",
            path.display()
        ))),
    }
}

/// Forks; the child walks the heap (no reference taken, collector paused,
/// `timeout` seconds of `alarm` as a watchdog), writes `path` through a
/// temporary file renamed into place, and `_exit`s; the parent returns at
/// once `(child pid, parent pause in ns, temporary path)`. A child that
/// fails exits 1 (2 on a panic) and leaves only the temporary file, which
/// the caller removes.
#[pyfunction]
#[pyo3(signature = (path, *, strings = false, timeout = 600, own_dir = None, _child_delay_ms = 0))]
fn heap_snapshot_fork(
    py: Python<'_>,
    path: PathBuf,
    strings: bool,
    timeout: u32,
    own_dir: Option<String>,
    _child_delay_ms: u64,
) -> PyResult<(i32, u64, PathBuf)> {
    // Everything that can fail for a reason the caller should hear about
    // is checked here, before the fork.
    let partial = snapshot::partial_path(&path, std::process::id());
    let file = std::fs::File::create(&partial).map_err(|e| io_error("write", &path, e))?;
    let started = std::time::Instant::now();
    // SAFETY: fork with the GIL held: the child is a copy of this thread
    // only; it runs no Python code, takes no lock but the allocator's
    // (which glibc's fork leaves usable), and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let err = std::io::Error::last_os_error();
        drop(file);
        let _ = std::fs::remove_file(&partial);
        return Err(errors::capture(format!(
            "cannot fork for a snapshot: {err}"
        )));
    }
    if pid == 0 {
        // SAFETY: in the child: default SIGALRM action (terminate), armed.
        unsafe {
            libc::signal(libc::SIGALRM, libc::SIG_DFL);
            libc::alarm(timeout.max(1));
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let options = CaptureOptions {
                strings,
                hold: false,
            };
            let (snap, _) =
                snapshot::capture(py, options, own_dir.as_deref()).map_err(|e| e.to_string())?;
            snapshot::write_to(&snap, file).map_err(|e| e.to_string())?;
            if _child_delay_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(_child_delay_ms));
            }
            std::fs::rename(&partial, &path).map_err(|e| e.to_string())
        }));
        let code = match result {
            Ok(Ok(())) => 0,
            Ok(Err(message)) => {
                snapshot::child_message(&message);
                1
            }
            Err(_) => 2,
        };
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) }
    }
    let pause = started.elapsed().as_nanos() as u64;
    drop(file);
    Ok((pid, pause, partial))
}

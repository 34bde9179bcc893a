//! The heap engine's Python face: `memlens._core.walk`, `census`,
//! `census_diff`, `sizeof`, `referents` and the classes they return.
//!
//! The walk itself is in [`walker`], version-specific layouts in [`layout`];
//! census tables and the graph structure come from the pure `memlens-heap`
//! crate. The documented Python API over these primitives is
//! `python/memlens/_heap.py`.

mod deep_size;
mod error;
mod labels;
mod layout;
mod leaks_py;
mod names;
mod object_list;
mod snapshot;
mod snapshot_py;
mod walker;

use std::collections::HashMap;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};
use pyo3::{PyTraverseError, PyVisit};

use error::HeapError;
use walker::{AddressHash, Exclusions, HeapVisitor};

/// Registers the heap engine's functions and classes on `memlens._core`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    layout::init(m.py())?;
    m.add_class::<Census>()?;
    m.add_class::<CensusDiff>()?;
    m.add_class::<HeapGraph>()?;
    m.add_function(wrap_pyfunction!(census, m)?)?;
    m.add_function(wrap_pyfunction!(census_diff, m)?)?;
    m.add_function(wrap_pyfunction!(walk, m)?)?;
    m.add_function(wrap_pyfunction!(sizeof, m)?)?;
    m.add_function(wrap_pyfunction!(referents, m)?)?;
    m.add_function(wrap_pyfunction!(type_names, m)?)?;
    m.add_function(wrap_pyfunction!(edge_label, m)?)?;
    m.add_function(wrap_pyfunction!(type_counts, m)?)?;
    m.add_function(wrap_pyfunction!(dot_to_svg, m)?)?;
    m.add_function(wrap_pyfunction!(object_at, m)?)?;
    m.add_function(wrap_pyfunction!(object_list::all_objects, m)?)?;
    m.add_function(wrap_pyfunction!(object_list::type_totals_of, m)?)?;
    m.add_function(wrap_pyfunction!(object_list::live_type_totals, m)?)?;
    m.add_class::<deep_size::DeepSizer>()?;
    snapshot_py::register(m)?;
    m.add_class::<leaks_py::LeakWatch>()?;
    Ok(())
}

/// memlens's own objects, left out of every walk: instances of its result
/// classes, plus whatever the caller asks to leave out.
fn exclusions(py: Python<'_>, exclude: Option<&Bound<'_, PyAny>>) -> PyResult<Exclusions> {
    exclusions_with(py, exclude, &[])
}

/// [`exclusions`], plus the objects at `addresses`.
fn exclusions_with(
    py: Python<'_>,
    exclude: Option<&Bound<'_, PyAny>>,
    addresses: &[usize],
) -> PyResult<Exclusions> {
    let mut addresses = addresses.to_vec();
    if let Some(exclude) = exclude {
        for item in exclude.try_iter()? {
            addresses.push(item?.as_ptr() as usize);
        }
    }
    let types = vec![
        py.get_type::<Census>().as_type_ptr(),
        py.get_type::<CensusDiff>().as_type_ptr(),
        py.get_type::<HeapGraph>().as_type_ptr(),
        py.get_type::<snapshot_py::Snapshot>().as_type_ptr(),
    ];
    Ok(Exclusions::new(addresses, types))
}

/// Counts and sizes per type pointer: a direct-mapped table in front of a
/// hash map, since a heap has few types and millions of objects.
struct TypeTotals {
    slots: Vec<(usize, u64, u64)>,
    spill: HashMap<usize, (u64, u64), AddressHash>,
}

impl Default for TypeTotals {
    fn default() -> Self {
        TypeTotals {
            slots: vec![(0, 0, 0); 1024],
            spill: HashMap::default(),
        }
    }
}

impl TypeTotals {
    /// All totals, by type address.
    fn into_totals(self) -> HashMap<usize, (u64, u64), AddressHash> {
        let mut totals = self.spill;
        for (tp, count, size) in self.slots {
            if tp != 0 {
                let entry = totals.entry(tp).or_default();
                entry.0 += count;
                entry.1 += size;
            }
        }
        totals
    }
}

impl TypeTotals {
    fn add(&mut self, tp: usize, count: u64, size: u64) {
        let slot = &mut self.slots[(tp >> 4) % 1024];
        if slot.0 == tp || slot.0 == 0 {
            slot.0 = tp;
            slot.1 += count;
            slot.2 += size;
        } else {
            let entry = self.spill.entry(tp).or_default();
            entry.0 += count;
            entry.1 += size;
        }
    }
}

impl HeapVisitor for TypeTotals {
    fn object(&mut self, obj: *mut ffi::PyObject, _tracked: bool, _refcount: isize, size: u64) {
        // SAFETY: the walker only reports live objects, with the GIL held.
        let tp = unsafe { ffi::Py_TYPE(obj) as usize };
        self.add(tp, 1, size);
    }

    fn owned(&mut self, obj: *mut ffi::PyObject, shallow: u64, owned: u64) {
        // SAFETY: as above (the walker holds the object).
        let tp = unsafe { ffi::Py_TYPE(obj) as usize };
        self.add(tp, 0, owned - shallow);
    }
}

/// Turns per-type-pointer totals into census rows keyed `module.qualname`.
/// Runs after the walk: every type in `totals` is alive (its instances are).
fn census_from_totals(
    py: Python<'_>,
    totals: impl IntoIterator<Item = (usize, (u64, u64))>,
) -> memlens_heap::Census {
    memlens_heap::Census::from_rows(totals.into_iter().map(|(tp, (count, size))| {
        // SAFETY: tp is the type of a live object seen by the walk; the GIL is held.
        let names = unsafe { names::type_names(py, tp as *mut ffi::PyTypeObject) };
        memlens_heap::CensusRow::new(names.key(), count, size)
    }))
}

/// Counts every live object by type, untracked ones included.
///
/// `gc_only=True` counts only what the garbage collector tracks (what
/// `gc.get_objects()` and objgraph see). `exclude` lists objects to leave out
/// (with everything reachable only through them).
#[pyfunction]
#[pyo3(signature = (*, gc_only = false, exclude = None))]
fn census(py: Python<'_>, gc_only: bool, exclude: Option<&Bound<'_, PyAny>>) -> PyResult<Census> {
    let exclusions = exclusions(py, exclude)?;
    let mut totals = TypeTotals::default();
    walker::walk_heap(py, &exclusions, gc_only, &[], &mut totals)?;
    Ok(Census {
        inner: census_from_totals(py, totals.into_totals()),
    })
}

/// `[(type, count, size), ...]` over every live object (GC-tracked ones only
/// with `gc_only`): the census by type object, without names, for callers
/// that name types their own way (objgraph's short and long names).
#[pyfunction]
#[pyo3(signature = (*, gc_only = false, exclude = None))]
fn type_counts<'py>(
    py: Python<'py>,
    gc_only: bool,
    exclude: Option<&Bound<'py, PyAny>>,
) -> PyResult<Vec<(Bound<'py, PyAny>, u64, u64)>> {
    let exclusions = exclusions(py, exclude)?;
    let mut totals = TypeTotals::default();
    walker::walk_heap(py, &exclusions, gc_only, &[], &mut totals)?;
    Ok(totals
        .into_totals()
        .into_iter()
        .map(|(tp, (count, size))| {
            (
                // SAFETY: each key is the type of an object the walk found; types
                // outlive their instances and no Python code ran since.
                unsafe { Bound::from_borrowed_ptr(py, tp as *mut ffi::PyObject) },
                count,
                size,
            )
        })
        .collect())
}

/// Lays out a Graphviz DOT graph and draws it as SVG, in-process (for
/// machines without the `dot` program). ValueError when it cannot.
#[pyfunction]
fn dot_to_svg(dot: &str) -> PyResult<String> {
    memlens_heap::dot_to_svg(dot).map_err(|err| HeapError::Render(err.to_string()).into())
}

/// The growth from `before` to `after`, per type.
#[pyfunction]
fn census_diff(before: &Census, after: &Census) -> CensusDiff {
    CensusDiff {
        inner: memlens_heap::census_diff(&before.inner, &after.inner),
    }
}

/// The size of `obj` in bytes, what it owns: `sys.getsizeof(obj)` for
/// builtin types (computed from its layout) and for types whose
/// `__sizeof__` is native code (numpy arrays, Arrow buffers…, which is
/// called); for other types basicsize + itemsize × length plus headers (a
/// `__sizeof__` written in Python is never called).
#[pyfunction]
fn sizeof(obj: &Bound<'_, PyAny>) -> u64 {
    // SAFETY: obj is a live object borrowed for the call; the GIL is held
    // and no exception is set (we are called from Python).
    unsafe { layout::object_owned_size(obj.as_ptr()) }
}

/// The objects `obj` refers to, as its `tp_traverse` reports them (what
/// `gc.get_referents` returns), in traversal order.
#[pyfunction]
fn referents<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let mut children = Vec::new();
    // SAFETY: obj is live and the GIL is held; children are borrowed from obj,
    // which the call keeps alive while they are turned into strong references.
    unsafe {
        walker::traverse(obj.as_ptr(), &mut children);
        let objects: Vec<Bound<'py, PyAny>> = children
            .into_iter()
            .map(|child| Bound::from_borrowed_ptr(obj.py(), child))
            .collect();
        PyList::new(obj.py(), objects)
    }
}

/// `(module, name, qualname)` of a type, read from the type object (no
/// metaclass code runs).
#[pyfunction]
fn type_names(tp: &Bound<'_, PyType>) -> (String, String, String) {
    // SAFETY: tp is a live type object; the GIL is held.
    let names = unsafe { names::type_names(tp.py(), tp.as_type_ptr()) };
    (names.module, names.name, names.qualname)
}

/// How `parent` refers to `child`: an attribute name (`items`), a dict key
/// (`['key']`), an index (`[3]`), or None.
#[pyfunction]
fn edge_label(parent: &Bound<'_, PyAny>, child: &Bound<'_, PyAny>) -> Option<String> {
    // SAFETY: both objects are live for the call; the GIL is held.
    unsafe { labels::edge_label(parent.as_ptr(), child.as_ptr()) }
}

/// A census: counts and total sizes per type (`module.qualname`), largest first.
///
/// `str(census)` is an aligned table of the 25 largest types; `format(None)`
/// shows all; `to_dict()` / `to_json()` give plain data.
#[pyclass(frozen, module = "memlens")]
pub(crate) struct Census {
    inner: memlens_heap::Census,
}

#[pymethods]
impl Census {
    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "<memlens.Census: {} objects, {} in {} types>",
            memlens_heap::group_thousands(self.inner.total_count() as i64),
            memlens_heap::human_bytes(self.inner.total_size()),
            self.inner.rows().len()
        )
    }

    /// The table with at most `limit` types (all of them when None).
    #[pyo3(signature = (limit = None))]
    fn format(&self, limit: Option<usize>) -> String {
        self.inner.render_table(limit)
    }

    /// Total number of objects.
    #[getter]
    fn total_count(&self) -> u64 {
        self.inner.total_count()
    }

    /// Total size in bytes.
    #[getter]
    fn total_size(&self) -> u64 {
        self.inner.total_size()
    }

    /// `[(type, count, size), ...]`, largest size first.
    #[getter]
    fn rows(&self) -> Vec<(String, u64, u64)> {
        self.inner
            .rows()
            .iter()
            .map(|r| (r.type_name.clone(), r.count, r.size))
            .collect()
    }

    /// `{"total_count": n, "total_size": bytes, "types": {type: {"count": n, "size": bytes}}}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let types = PyDict::new(py);
        for row in self.inner.rows() {
            let entry = PyDict::new(py);
            entry.set_item("count", row.count)?;
            entry.set_item("size", row.size)?;
            types.set_item(&row.type_name, entry)?;
        }
        let out = PyDict::new(py);
        out.set_item("total_count", self.inner.total_count())?;
        out.set_item("total_size", self.inner.total_size())?;
        out.set_item("types", types)?;
        Ok(out)
    }

    /// The same data as `to_dict()`, as a JSON string.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    fn __len__(&self) -> usize {
        self.inner.rows().len()
    }

    /// `(count, size)` of one type; KeyError when none is alive.
    fn __getitem__(&self, type_name: &str) -> PyResult<(u64, u64)> {
        let row = self
            .inner
            .get(type_name)
            .ok_or_else(|| HeapError::UnknownType(type_name.to_string()))?;
        Ok((row.count, row.size))
    }

    fn __contains__(&self, type_name: &str) -> bool {
        self.inner.get(type_name).is_some()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Census>()
            .map(|other| other.get().inner == self.inner)
            .unwrap_or(false)
    }
}

/// The change between two censuses, per type: biggest growth first.
#[pyclass(frozen, module = "memlens")]
pub(crate) struct CensusDiff {
    inner: memlens_heap::CensusDiff,
}

#[pymethods]
impl CensusDiff {
    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "<memlens.CensusDiff: {} objects, {} in {} changed types>",
            self.inner.count_delta(),
            memlens_heap::signed_human_bytes(self.inner.size_delta()),
            self.inner.rows().len()
        )
    }

    /// The table with at most `limit` types (all of them when None).
    #[pyo3(signature = (limit = None))]
    fn format(&self, limit: Option<usize>) -> String {
        self.inner.render_table(limit)
    }

    /// Net change in the number of objects.
    #[getter]
    fn count_delta(&self) -> i64 {
        self.inner.count_delta()
    }

    /// Net change in bytes.
    #[getter]
    fn size_delta(&self) -> i64 {
        self.inner.size_delta()
    }

    /// `[(type, count_delta, size_delta, count_after, size_after), ...]`, biggest growth first.
    #[getter]
    fn rows(&self) -> Vec<(String, i64, i64, u64, u64)> {
        self.inner
            .rows()
            .iter()
            .map(|r| {
                (
                    r.type_name.clone(),
                    r.count_delta(),
                    r.size_delta(),
                    r.count_after,
                    r.size_after,
                )
            })
            .collect()
    }

    /// `{"count_delta", "size_delta", "types": {type: {"count_delta", "size_delta",
    /// "count_before", "count_after", "size_before", "size_after"}}}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let types = PyDict::new(py);
        for row in self.inner.rows() {
            let entry = PyDict::new(py);
            entry.set_item("count_delta", row.count_delta())?;
            entry.set_item("size_delta", row.size_delta())?;
            entry.set_item("count_before", row.count_before)?;
            entry.set_item("count_after", row.count_after)?;
            entry.set_item("size_before", row.size_before)?;
            entry.set_item("size_after", row.size_after)?;
            types.set_item(&row.type_name, entry)?;
        }
        let out = PyDict::new(py);
        out.set_item("count_delta", self.inner.count_delta())?;
        out.set_item("size_delta", self.inner.size_delta())?;
        out.set_item("types", types)?;
        Ok(out)
    }

    /// The same data as `to_dict()`, as a JSON string.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    fn __len__(&self) -> usize {
        self.inner.rows().len()
    }

    fn __bool__(&self) -> bool {
        !self.inner.rows().is_empty()
    }
}

/// Records every object the walk finds, in order: node `i` is `objects[i]`.
#[derive(Default)]
struct NodeRecorder {
    objects: Vec<*mut ffi::PyObject>,
    types: Vec<u32>,
    type_index: HashMap<usize, u32, AddressHash>,
    type_objects: Vec<*mut ffi::PyTypeObject>,
    sizes: Vec<u64>,
    refcounts: Vec<isize>,
    tracked: Vec<bool>,
    index: HashMap<usize, u32, AddressHash>,
}

impl NodeRecorder {
    fn reserve(&mut self, nodes: usize) {
        self.objects.reserve(nodes);
        self.types.reserve(nodes);
        self.sizes.reserve(nodes);
        self.refcounts.reserve(nodes);
        self.tracked.reserve(nodes);
        self.index.reserve(nodes);
    }
}

/// Finds the object at one address, if it is a live object.
struct AddressFinder {
    address: usize,
    found: Option<*mut ffi::PyObject>,
}

impl HeapVisitor for AddressFinder {
    fn object(&mut self, obj: *mut ffi::PyObject, _tracked: bool, _refcount: isize, _size: u64) {
        if obj as usize == self.address {
            self.found = Some(obj);
        }
    }
}

/// The live object whose `id()` is `address`, or None. The address is only
/// compared with the addresses of the objects the walk finds: memory at an
/// address that is not a live object is never read.
#[pyfunction]
fn object_at(py: Python<'_>, address: u64) -> PyResult<Option<Py<PyAny>>> {
    let exclusions = exclusions(py, None)?;
    let mut finder = AddressFinder {
        address: address as usize,
        found: None,
    };
    walker::walk_heap(py, &exclusions, false, &[], &mut finder)?;
    // SAFETY: the walk just found this object alive and no Python code has run since.
    Ok(finder
        .found
        .map(|obj| unsafe { Bound::from_borrowed_ptr(py, obj) }.unbind()))
}

impl HeapVisitor for NodeRecorder {
    fn owned(&mut self, obj: *mut ffi::PyObject, _shallow: u64, owned: u64) {
        if let Some(&node) = self.index.get(&(obj as usize)) {
            self.sizes[node as usize] = owned;
        }
    }

    fn object(&mut self, obj: *mut ffi::PyObject, tracked: bool, refcount: isize, size: u64) {
        // SAFETY: the walker only reports live objects, with the GIL held.
        let tp = unsafe { ffi::Py_TYPE(obj) };
        let next_type = self.type_objects.len() as u32;
        let type_id = *self.type_index.entry(tp as usize).or_insert(next_type);
        if type_id == next_type {
            self.type_objects.push(tp);
        }
        self.index.insert(obj as usize, self.objects.len() as u32);
        self.objects.push(obj);
        self.types.push(type_id);
        self.sizes.push(size);
        self.refcounts.push(refcount);
        self.tracked.push(tracked);
    }
}

/// A snapshot of the live heap: every object the walk found (node `i`),
/// its type, size, refcount and references, as a graph.
///
/// The snapshot holds a strong reference to each object it found, so node
/// indices stay valid and objects can be handed back; refcounts were read
/// before those references were taken. Drop it to let the objects go.
#[pyclass(frozen, module = "memlens._core")]
pub(crate) struct HeapGraph {
    objects: Vec<Py<PyAny>>,
    types: Vec<u32>,
    type_objects: Vec<Py<PyType>>,
    sizes: Vec<u64>,
    refcounts: Vec<isize>,
    tracked: Vec<bool>,
    index: HashMap<usize, u32, AddressHash>,
    graph: memlens_heap::HeapGraph,
}

impl HeapGraph {
    fn check(&self, node: usize) -> Result<u32, HeapError> {
        if node < self.objects.len() {
            Ok(node as u32)
        } else {
            Err(HeapError::NodeOutOfRange {
                index: node,
                len: self.objects.len(),
            })
        }
    }

    fn type_ids_of(&self, types: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        let mut wanted = vec![false; self.type_objects.len()];
        let mut addresses = Vec::new();
        for tp in types.try_iter()? {
            addresses.push(tp?.as_ptr() as usize);
        }
        for (i, tp) in self.type_objects.iter().enumerate() {
            wanted[i] = addresses.contains(&(tp.as_ptr() as usize));
        }
        Ok(wanted)
    }
}

/// Walks the live heap into a [`HeapGraph`] snapshot.
///
/// `gc_only=True` keeps only GC-tracked objects (objgraph's view); `exclude`
/// lists objects to leave out, with everything reachable only through them.
#[pyfunction]
///
/// `roots` are objects to start from as well, for objects that no tracked
/// object may reach (a str held only by a running function's local).
#[pyo3(signature = (*, gc_only = false, exclude = None, roots = None))]
fn walk(
    py: Python<'_>,
    gc_only: bool,
    exclude: Option<&Bound<'_, PyAny>>,
    roots: Option<&Bound<'_, PyAny>>,
) -> PyResult<HeapGraph> {
    let exclusions = exclusions(py, exclude)?;
    let mut extra_roots = Vec::new();
    if let Some(roots) = roots {
        for root in roots.try_iter()? {
            extra_roots.push(root?);
        }
    }
    // Size the tables like the previous walk's: rehashing a million-entry
    // map is most of the cost of growing it.
    static LAST_WALK_NODES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let expected = LAST_WALK_NODES.load(std::sync::atomic::Ordering::Relaxed);
    let mut nodes = NodeRecorder::default();
    nodes.reserve(expected + expected / 8);
    walker::walk_heap(py, &exclusions, gc_only, &extra_roots, &mut nodes)?;
    // Still no Python code has run since the walk: every recorded object is
    // alive. Edges next, then strong references.
    let mut builder = memlens_heap::GraphBuilder::with_capacity(nodes.objects.len());
    let mut children = Vec::new();
    for &obj in &nodes.objects {
        builder.start_node();
        children.clear();
        // SAFETY: obj is a live object found by the walk; the GIL is held.
        unsafe { walker::traverse_with_keys(obj, &mut children) };
        for child in &children {
            if let Some(&target) = nodes.index.get(&(*child as usize)) {
                builder.push_edge(target);
            }
        }
    }
    let graph = builder.finish(nodes.objects.len());
    LAST_WALK_NODES.store(nodes.objects.len(), std::sync::atomic::Ordering::Relaxed);
    // SAFETY: every pointer is a live object (see above); from_borrowed_ptr
    // takes a new strong reference to each.
    let (objects, type_objects) = unsafe {
        (
            nodes
                .objects
                .iter()
                .map(|&obj| Bound::from_borrowed_ptr(py, obj).unbind())
                .collect(),
            nodes
                .type_objects
                .iter()
                .map(|&tp| {
                    Bound::<PyAny>::from_borrowed_ptr(py, tp.cast())
                        .cast_into::<PyType>()
                        .map(Bound::unbind)
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    Ok(HeapGraph {
        objects,
        types: nodes.types,
        type_objects,
        sizes: nodes.sizes,
        refcounts: nodes.refcounts,
        tracked: nodes.tracked,
        index: nodes.index,
        graph,
    })
}

#[pymethods]
impl HeapGraph {
    /// Shows the cyclic GC every object the snapshot holds.
    ///
    /// A snapshot often holds the frame or container that holds the snapshot
    /// (a function's frame is walked while its local will receive the
    /// graph); without this the GC cannot see that cycle and the whole
    /// walked heap stays alive. The other members of such a cycle (frames,
    /// lists, dicts) have `tp_clear`, which is enough to break it.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for object in &self.objects {
            visit.call(object)?;
        }
        for tp in &self.type_objects {
            visit.call(tp)?;
        }
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.objects.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<memlens._core.HeapGraph: {} objects, {} references>",
            self.objects.len(),
            self.graph.edge_count()
        )
    }

    /// Number of references (edges) between the walked objects.
    #[getter]
    fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// The object of node `i`.
    fn object(&self, py: Python<'_>, i: usize) -> PyResult<Py<PyAny>> {
        Ok(self.objects[self.check(i)? as usize].clone_ref(py))
    }

    /// The objects of the given nodes (all nodes when None), in order.
    #[pyo3(signature = (indices = None))]
    fn objects<'py>(
        &self,
        py: Python<'py>,
        indices: Option<Vec<usize>>,
    ) -> PyResult<Bound<'py, PyList>> {
        match indices {
            None => PyList::new(py, self.objects.iter().map(|o| o.bind(py))),
            Some(indices) => {
                let mut out = Vec::with_capacity(indices.len());
                for i in indices {
                    out.push(self.objects[self.check(i)? as usize].bind(py).clone());
                }
                PyList::new(py, out)
            }
        }
    }

    /// The node of `obj` (by identity), or None if the walk did not find it.
    fn index(&self, obj: &Bound<'_, PyAny>) -> Option<u32> {
        self.index.get(&(obj.as_ptr() as usize)).copied()
    }

    /// The node of the object at `address`, or None. Never dereferences the
    /// address: it is only looked up among the walked objects.
    fn index_at(&self, address: usize) -> Option<u32> {
        self.index.get(&address).copied()
    }

    /// `id()` of node `i`'s object.
    fn address(&self, i: usize) -> PyResult<usize> {
        Ok(self.objects[self.check(i)? as usize].as_ptr() as usize)
    }

    /// The type of node `i`.
    fn type_of(&self, py: Python<'_>, i: usize) -> PyResult<Py<PyType>> {
        Ok(self.type_objects[self.types[self.check(i)? as usize] as usize].clone_ref(py))
    }

    /// Size in bytes of node `i` (see `memlens._core.sizeof`).
    fn size(&self, i: usize) -> PyResult<u64> {
        Ok(self.sizes[self.check(i)? as usize])
    }

    /// Reference count of node `i` when walked (the walk's own references removed).
    fn refcount(&self, i: usize) -> PyResult<isize> {
        Ok(self.refcounts[self.check(i)? as usize])
    }

    /// Whether the GC tracks node `i`'s object.
    fn is_tracked(&self, i: usize) -> PyResult<bool> {
        Ok(self.tracked[self.check(i)? as usize])
    }

    /// Nodes that node `i` refers to (duplicates kept), in traversal order.
    fn referents(&self, i: usize) -> PyResult<Vec<u32>> {
        Ok(self.graph.referents(self.check(i)?).to_vec())
    }

    /// Nodes that refer to node `i`.
    fn referrers(&self, i: usize) -> PyResult<Vec<u32>> {
        Ok(self.graph.referrers(self.check(i)?).to_vec())
    }

    /// How node `parent` refers to node `child` (see `memlens._core.edge_label`).
    fn edge_label(&self, parent: usize, child: usize) -> PyResult<Option<String>> {
        let (p, c) = (self.check(parent)? as usize, self.check(child)? as usize);
        // SAFETY: the snapshot holds both objects alive; the GIL is held (&self of a pyclass).
        Ok(unsafe { labels::edge_label(self.objects[p].as_ptr(), self.objects[c].as_ptr()) })
    }

    /// `[(type, count, size), ...]` over all nodes (only GC-tracked ones with
    /// `tracked_only`), in first-seen order.
    #[pyo3(signature = (tracked_only = false))]
    fn type_counts(&self, py: Python<'_>, tracked_only: bool) -> Vec<(Py<PyType>, u64, u64)> {
        let mut totals = vec![(0u64, 0u64); self.type_objects.len()];
        for (node, &tp) in self.types.iter().enumerate() {
            if tracked_only && !self.tracked[node] {
                continue;
            }
            totals[tp as usize].0 += 1;
            totals[tp as usize].1 += self.sizes[node];
        }
        totals
            .into_iter()
            .enumerate()
            .filter(|(_, (count, _))| *count > 0)
            .map(|(tp, (count, size))| (self.type_objects[tp].clone_ref(py), count, size))
            .collect()
    }

    /// Nodes whose type is exactly one of `types` (only GC-tracked ones with `tracked_only`).
    #[pyo3(signature = (types, tracked_only = false))]
    fn indices_of_types(&self, types: &Bound<'_, PyAny>, tracked_only: bool) -> PyResult<Vec<u32>> {
        let wanted = self.type_ids_of(types)?;
        Ok((0..self.objects.len())
            .filter(|&n| wanted[self.types[n] as usize] && (!tracked_only || self.tracked[n]))
            .map(|n| n as u32)
            .collect())
    }

    /// The census of this snapshot (only GC-tracked objects with `tracked_only`).
    #[pyo3(signature = (tracked_only = false))]
    fn census(&self, py: Python<'_>, tracked_only: bool) -> Census {
        let counts = self.type_counts(py, tracked_only);
        let totals = counts
            .into_iter()
            .map(|(tp, count, size)| (tp.as_ptr() as usize, (count, size)));
        Census {
            inner: census_from_totals(py, totals),
        }
    }

    /// Shortest path from node `start` along references (`forward=True`) or
    /// referrers, at most `max_depth` edges, to the nearest node that is in
    /// `goals` or for whose object `predicate(obj)` is true; nodes in `skip`
    /// are never entered. Returns the nodes `[start, ..., goal]` or None.
    #[pyo3(signature = (start, *, forward, goals = None, predicate = None, max_depth = 20, skip = None))]
    #[allow(clippy::too_many_arguments)]
    fn shortest_path(
        &self,
        py: Python<'_>,
        start: usize,
        forward: bool,
        goals: Option<Vec<usize>>,
        predicate: Option<&Bound<'_, PyAny>>,
        max_depth: usize,
        skip: Option<Vec<usize>>,
    ) -> PyResult<Option<Vec<u32>>> {
        let start = self.check(start)?;
        let mut is_goal_node = vec![false; self.objects.len()];
        for g in goals.unwrap_or_default() {
            is_goal_node[self.check(g)? as usize] = true;
        }
        let mut skipped = vec![false; self.objects.len()];
        for s in skip.unwrap_or_default() {
            if s < skipped.len() {
                skipped[s] = true;
            }
        }
        let mut error = None;
        let path = self.graph.shortest_path(
            start,
            forward,
            max_depth,
            |node| {
                if is_goal_node[node as usize] {
                    return true;
                }
                match predicate {
                    Some(predicate) if error.is_none() => {
                        match predicate
                            .call1((self.objects[node as usize].bind(py),))
                            .and_then(|r| r.is_truthy())
                        {
                            Ok(hit) => hit,
                            Err(err) => {
                                error = Some(err);
                                true
                            }
                        }
                    }
                    _ => false,
                }
            },
            |node| skipped[node as usize],
        );
        if let Some(err) = error {
            return Err(err);
        }
        Ok(path)
    }

    /// Every node reachable from `starts` along references (the starts
    /// included), breadth first, never entering nodes in `skip`.
    #[pyo3(signature = (starts, *, skip = None))]
    fn reachable(&self, starts: Vec<usize>, skip: Option<Vec<usize>>) -> PyResult<Vec<u32>> {
        let mut seen = vec![false; self.objects.len()];
        for s in skip.unwrap_or_default() {
            if s < seen.len() {
                seen[s] = true;
            }
        }
        let mut order = Vec::new();
        for s in starts {
            let s = self.check(s)?;
            if !seen[s as usize] {
                seen[s as usize] = true;
                order.push(s);
            }
        }
        let mut next = 0;
        while next < order.len() {
            let node = order[next];
            next += 1;
            for &child in self.graph.referents(node) {
                if !seen[child as usize] {
                    seen[child as usize] = true;
                    order.push(child);
                }
            }
        }
        Ok(order)
    }

    /// Nodes that no walked object refers to (held only from outside the
    /// object graph: C globals, the interpreter, running frames), in order.
    fn unreferenced(&self) -> Vec<u32> {
        (0..self.objects.len() as u32)
            .filter(|&n| self.graph.referrers(n).is_empty())
            .collect()
    }

    /// Total size in bytes of the given nodes (all nodes when None).
    #[pyo3(signature = (indices = None))]
    fn total_size(&self, indices: Option<Vec<usize>>) -> PyResult<u64> {
        match indices {
            None => Ok(self.sizes.iter().sum()),
            Some(indices) => {
                let mut total = 0;
                for i in indices {
                    total += self.sizes[self.check(i)? as usize];
                }
                Ok(total)
            }
        }
    }
}

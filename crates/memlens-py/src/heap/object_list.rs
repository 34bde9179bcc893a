//! Whole-heap object lists and per-type totals over a caller's list: the two
//! primitives behind `memlens.pympler.muppy.get_objects()` and
//! `summary.summarize()`, which hand millions of objects to Python.

use std::collections::HashMap;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple, PyType};

use super::layout;
use super::walker::{self, AddressHash, HeapVisitor};

/// `[(type, count, size), ...]` rows and the objects set aside.
type TotalsAndObjects<'py> = (Vec<(Bound<'py, PyAny>, u64, u64)>, Bound<'py, PyList>);

/// Records every walked object whose type is not in `skip_types`.
struct ObjectCollector {
    skip_types: Vec<*mut ffi::PyTypeObject>,
    objects: Vec<*mut ffi::PyObject>,
}

impl HeapVisitor for ObjectCollector {
    fn object(&mut self, obj: *mut ffi::PyObject, _tracked: bool, _refcount: isize, _size: u64) {
        // SAFETY: the walker reports live objects with the GIL held.
        let tp = unsafe { ffi::Py_TYPE(obj) };
        if !self.skip_types.contains(&tp) {
            self.objects.push(obj);
        }
    }
}

/// Every live object (GC-tracked ones only with `gc_only`) as a new list,
/// without building a graph: `gc.get_objects()` plus the untracked objects.
/// Leaves out instances of `skip_types` (exact type) and the `exclude`d
/// objects with whatever is reachable only through them; the list itself is
/// not in it.
#[pyfunction]
#[pyo3(signature = (*, gc_only = false, skip_types = None, exclude = None))]
pub(crate) fn all_objects<'py>(
    py: Python<'py>,
    gc_only: bool,
    skip_types: Option<&Bound<'py, PyTuple>>,
    exclude: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let exclusions = super::exclusions(py, exclude)?;
    let mut collector = ObjectCollector {
        skip_types: type_pointers(skip_types)?,
        objects: Vec::with_capacity(1 << 16),
    };
    walker::walk_heap(py, &exclusions, gc_only, &[], &mut collector)?;
    // SAFETY: no Python code ran and nothing was allocated since the walk,
    // so every recorded object is alive; each gets a strong reference before
    // the list (an allocation that may start a collection) is created.
    let objects: Vec<Bound<'py, PyAny>> = collector
        .objects
        .iter()
        .map(|&obj| unsafe { Bound::from_borrowed_ptr(py, obj) })
        .collect();
    PyList::new(py, objects)
}

/// `([(type, count, size), ...], split_objects)` over the items of
/// `objects` (any iterable): counts and sizes (as `memlens.sizeof`) per
/// exact type, except that instances of `split_types` are not counted but
/// returned in `split_objects`, for callers that name them one by one.
#[pyfunction]
#[pyo3(signature = (objects, split_types = None))]
pub(crate) fn type_totals_of<'py>(
    py: Python<'py>,
    objects: &Bound<'py, PyAny>,
    split_types: Option<&Bound<'py, PyTuple>>,
) -> PyResult<TotalsAndObjects<'py>> {
    let split = type_pointers(split_types)?;
    let mut totals: HashMap<usize, (u64, u64), AddressHash> = HashMap::default();
    let mut set_aside: Vec<Bound<'py, PyAny>> = Vec::new();
    if let Ok(list) = objects.cast::<PyList>() {
        // The fast path: borrowed items and per-type layouts computed once.
        let mut layouts: HashMap<usize, layout::TypeLayout, AddressHash> = HashMap::default();
        let mut set_aside_pointers = Vec::new();
        // SAFETY: the GIL is held and this loop runs no Python code and
        // allocates no Python object, so no collection or finalizer can run:
        // the list cannot change and every item it holds stays alive.
        unsafe {
            let list = list.as_ptr();
            for i in 0..ffi::PyList_GET_SIZE(list) {
                let obj = ffi::PyList_GET_ITEM(list, i);
                let tp = ffi::Py_TYPE(obj);
                if split.contains(&tp) {
                    set_aside_pointers.push(obj);
                    continue;
                }
                let type_layout = layouts
                    .entry(tp as usize)
                    .or_insert_with(|| layout::type_layout(tp));
                let entry = totals.entry(tp as usize).or_default();
                entry.0 += 1;
                let shallow = layout::object_size_with(obj, type_layout);
                entry.1 += layout::owned_size(obj, type_layout, shallow);
            }
            // Strong references to all before anything is allocated.
            set_aside.extend(
                set_aside_pointers
                    .into_iter()
                    .map(|obj| Bound::from_borrowed_ptr(py, obj)),
            );
        }
    } else {
        for item in objects.try_iter()? {
            let item = item?;
            let obj = item.as_ptr();
            // SAFETY: `item` holds the object; the GIL is held.
            let tp = unsafe { ffi::Py_TYPE(obj) };
            if split.contains(&tp) {
                set_aside.push(item);
                continue;
            }
            // SAFETY: as above.
            let size = unsafe { layout::object_owned_size(obj) };
            let entry = totals.entry(tp as usize).or_default();
            entry.0 += 1;
            entry.1 += size;
        }
    }
    let split_objects = PyList::new(py, set_aside)?;
    let rows = totals
        .into_iter()
        .map(|(tp, (count, size))| {
            (
                // SAFETY: each key is the type of an object still held by the
                // caller; types outlive their instances.
                unsafe { Bound::from_borrowed_ptr(py, tp as *mut ffi::PyObject) },
                count,
                size,
            )
        })
        .collect();
    Ok((rows, split_objects))
}

fn type_pointers(types: Option<&Bound<'_, PyTuple>>) -> PyResult<Vec<*mut ffi::PyTypeObject>> {
    let mut pointers = Vec::new();
    if let Some(types) = types {
        for tp in types.iter() {
            pointers.push(tp.cast::<PyType>()?.as_type_ptr());
        }
    }
    Ok(pointers)
}

/// Totals per exact type over the walk, except instances of `split_types`,
/// which are collected instead.
struct SplitTotals {
    skip_types: Vec<*mut ffi::PyTypeObject>,
    split_types: Vec<*mut ffi::PyTypeObject>,
    totals: HashMap<usize, (u64, u64), AddressHash>,
    split_objects: Vec<*mut ffi::PyObject>,
}

impl HeapVisitor for SplitTotals {
    fn object(&mut self, obj: *mut ffi::PyObject, _tracked: bool, _refcount: isize, size: u64) {
        // SAFETY: the walker reports live objects with the GIL held.
        let tp = unsafe { ffi::Py_TYPE(obj) };
        if self.skip_types.contains(&tp) {
            return;
        }
        if self.split_types.contains(&tp) {
            self.split_objects.push(obj);
            return;
        }
        let entry = self.totals.entry(tp as usize).or_default();
        entry.0 += 1;
        entry.1 += size;
    }

    fn owned(&mut self, obj: *mut ffi::PyObject, shallow: u64, owned: u64) {
        // SAFETY: as above.
        let tp = unsafe { ffi::Py_TYPE(obj) };
        if let Some(entry) = self.totals.get_mut(&(tp as usize)) {
            entry.1 += owned - shallow;
        }
    }
}

/// `type_totals_of(live_objects(...), split_types)` in one walk, without
/// the list of every object: what a heap summary needs.
#[pyfunction]
#[pyo3(signature = (*, skip_types = None, split_types = None, exclude = None))]
pub(crate) fn live_type_totals<'py>(
    py: Python<'py>,
    skip_types: Option<&Bound<'py, PyTuple>>,
    split_types: Option<&Bound<'py, PyTuple>>,
    exclude: Option<&Bound<'py, PyAny>>,
) -> PyResult<TotalsAndObjects<'py>> {
    let exclusions = super::exclusions(py, exclude)?;
    let mut visitor = SplitTotals {
        skip_types: type_pointers(skip_types)?,
        split_types: type_pointers(split_types)?,
        totals: HashMap::default(),
        split_objects: Vec::new(),
    };
    walker::walk_heap(py, &exclusions, false, &[], &mut visitor)?;
    // SAFETY: nothing was allocated and no Python code ran since the walk:
    // every recorded object and type is alive; all get strong references
    // before the first allocation.
    let split_objects: Vec<Bound<'py, PyAny>> = visitor
        .split_objects
        .iter()
        .map(|&obj| unsafe { Bound::from_borrowed_ptr(py, obj) })
        .collect();
    let rows: Vec<(Bound<'py, PyAny>, u64, u64)> = visitor
        .totals
        .into_iter()
        .map(|(tp, (count, size))| {
            (
                // SAFETY: as above; types outlive their instances.
                unsafe { Bound::from_borrowed_ptr(py, tp as *mut ffi::PyObject) },
                count,
                size,
            )
        })
        .collect();
    Ok((rows, PyList::new(py, split_objects)?))
}

//! Deep sizes for `memlens.pympler.asizeof`: an object's size plus the sizes
//! of everything it reaches through `tp_traverse`, each object counted once.
//!
//! The walk is iterative and reads instance attributes in place (3.11+
//! inline values are visited by `tp_traverse` without creating a
//! `__dict__`), so sizing ten thousand instances materializes no dict.

use std::collections::HashSet;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple, PyType};

use super::layout;
use super::walker::{self, AddressHash};

/// Sizes objects deeply, remembering what it has counted across calls (so
/// that an object shared by two arguments of `asizesof` counts once).
///
/// Three kinds of objects: classes and instances of `zero_types` count 0 and
/// are not entered (pympler leaves out classes, functions and code by
/// default); instances of `flat_types` (modules) count their own size and
/// are entered only when sized directly; everything else counts its size,
/// rounded up to `align`, and is entered up to `limit` levels deep.
/// Classes count 0 unless `classes` (pympler's `code=True`); objects given
/// to `exclude_refs` count their own size and are never entered.
#[pyclass(module = "memlens._core", unsendable)]
pub(crate) struct DeepSizer {
    seen: HashSet<usize, AddressHash>,
    /// Objects reached again after being counted (pympler's `duplicate`).
    repeated: HashSet<usize, AddressHash>,
    not_entered: HashSet<usize, AddressHash>,
    classes: bool,
    zero_types: Vec<*mut ffi::PyTypeObject>,
    flat_types: Vec<*mut ffi::PyTypeObject>,
    mask: u64,
    limit: usize,
}

enum Kind {
    Zero,
    Flat,
    FlatUnlessTop,
    Sized,
}

impl DeepSizer {
    /// # Safety
    /// `obj` is a live object; the GIL is held.
    unsafe fn kind(&self, obj: *mut ffi::PyObject) -> Kind {
        // SAFETY: obj is live (caller).
        unsafe {
            let tp = ffi::Py_TYPE(obj);
            if (ffi::PyType_Check(obj) != 0 && !self.classes) || self.zero_types.contains(&tp) {
                Kind::Zero
            } else if self.not_entered.contains(&(obj as usize)) {
                Kind::Flat
            } else if self.flat_types.contains(&tp) {
                Kind::FlatUnlessTop
            } else {
                Kind::Sized
            }
        }
    }

    /// Appends the referent of a live weak reference to `children`: pympler
    /// counts what a weakref points to as part of it.
    ///
    /// # Safety
    /// `obj` is a live object; the GIL is held.
    unsafe fn push_weak_referent(obj: *mut ffi::PyObject, children: &mut Vec<*mut ffi::PyObject>) {
        // SAFETY: obj is live (caller); a weakref's layout starts with
        // PyObject_HEAD then wr_object, which CPython sets to None when the
        // referent goes away, before the referent is freed.
        unsafe {
            if ffi::PyWeakref_CheckRef(obj) != 0 {
                let referent = (*(obj as *mut ffi::PyWeakReference)).wr_object;
                if !referent.is_null() && referent != ffi::Py_None() {
                    children.push(referent);
                }
            }
        }
    }

    fn aligned(&self, size: u64) -> u64 {
        (size + self.mask) & !self.mask
    }
}

#[pymethods]
impl DeepSizer {
    #[new]
    #[pyo3(signature = (zero_types, flat_types, align = 8, limit = 100, classes = false))]
    fn new(
        zero_types: &Bound<'_, PyTuple>,
        flat_types: &Bound<'_, PyTuple>,
        align: u64,
        limit: usize,
        classes: bool,
    ) -> PyResult<Self> {
        let pointers = |types: &Bound<'_, PyTuple>| -> PyResult<Vec<*mut ffi::PyTypeObject>> {
            types
                .iter()
                .map(|tp| Ok(tp.cast::<PyType>()?.as_type_ptr()))
                .collect()
        };
        Ok(DeepSizer {
            seen: HashSet::default(),
            repeated: HashSet::default(),
            not_entered: HashSet::default(),
            classes,
            zero_types: pointers(zero_types)?,
            flat_types: pointers(flat_types)?,
            mask: align.saturating_sub(1),
            limit,
        })
    }

    /// The object's own size, rounded up to the alignment (0 for the kinds
    /// that count nothing).
    fn flat(&self, obj: &Bound<'_, PyAny>) -> u64 {
        // SAFETY: obj is live for the call; the GIL is held.
        unsafe {
            match self.kind(obj.as_ptr()) {
                Kind::Zero => 0,
                _ => self.aligned(layout::object_owned_size(obj.as_ptr())),
            }
        }
    }

    /// Marks `obj` as counted; False when it was counted already.
    fn mark(&mut self, obj: &Bound<'_, PyAny>) -> bool {
        let fresh = self.seen.insert(obj.as_ptr() as usize);
        if !fresh {
            self.repeated.insert(obj.as_ptr() as usize);
        }
        fresh
    }

    /// Counts `obj` flat from now on: its referents are not entered.
    fn exclude_refs(&mut self, obj: &Bound<'_, PyAny>) {
        self.not_entered.insert(obj.as_ptr() as usize);
    }

    /// How many distinct objects were reached again after being counted.
    fn duplicates(&self) -> usize {
        self.repeated.len()
    }

    /// The deep size of `obj` at nesting `depth`, leaving out what was
    /// counted before (0 when `obj` itself was, unless `again`: then `obj`
    /// is sized even though marked, as `asizesof` does for its arguments).
    #[pyo3(signature = (obj, depth = 0, again = false))]
    fn size(&mut self, obj: &Bound<'_, PyAny>, depth: usize, again: bool) -> u64 {
        let mut total = 0;
        if again {
            self.seen.remove(&(obj.as_ptr() as usize));
        }
        let mut stack = vec![(obj.as_ptr(), depth)];
        let mut children = Vec::new();
        while let Some((current, level)) = stack.pop() {
            if !self.seen.insert(current as usize) {
                self.repeated.insert(current as usize);
                continue;
            }
            // SAFETY: `current` is `obj` (held by the caller) or was reported
            // by tp_traverse of a live object; no Python code runs meanwhile
            // (a native `__sizeof__` is C code that only reads its object).
            unsafe {
                match self.kind(current) {
                    Kind::Zero => continue,
                    kind => {
                        total += self.aligned(layout::object_owned_size(current));
                        let enter = level < self.limit
                            && !matches!(kind, Kind::Flat)
                            && !(matches!(kind, Kind::FlatUnlessTop) && level > 0);
                        if enter {
                            children.clear();
                            walker::traverse_with_keys(current, &mut children);
                            Self::push_weak_referent(current, &mut children);
                            stack.extend(children.iter().map(|&child| (child, level + 1)));
                        }
                    }
                }
            }
        }
        total
    }

    /// What `size` enters from `obj` at nesting `depth`: its referents, or
    /// nothing for the kinds it does not enter.
    #[pyo3(signature = (obj, depth = 0))]
    fn children<'py>(&self, obj: &Bound<'py, PyAny>, depth: usize) -> PyResult<Bound<'py, PyList>> {
        let mut children = Vec::new();
        // SAFETY: obj is live for the call; the GIL is held. The children are
        // borrowed from obj, which is held while they get strong references.
        unsafe {
            let enter = match self.kind(obj.as_ptr()) {
                Kind::Zero | Kind::Flat => false,
                Kind::FlatUnlessTop => depth == 0,
                Kind::Sized => true,
            };
            if enter && depth < self.limit {
                walker::traverse_with_keys(obj.as_ptr(), &mut children);
                Self::push_weak_referent(obj.as_ptr(), &mut children);
            }
            let objects: Vec<Bound<'py, PyAny>> = children
                .into_iter()
                .map(|child| Bound::from_borrowed_ptr(obj.py(), child))
                .collect();
            PyList::new(obj.py(), objects)
        }
    }

    /// Forgets what was counted.
    fn clear(&mut self) {
        self.seen.clear();
        self.repeated.clear();
    }
}

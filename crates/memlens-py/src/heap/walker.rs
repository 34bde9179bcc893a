//! The heap walk: every GC-tracked object, and everything they reach
//! through `tp_traverse` (untracked str, int, float, bytes, tuples, dicts…).
//!
//! # Why nothing can change under the walk
//! The walk holds the GIL from start to end and never gives it up: it calls
//! no Python code (no `__getattr__`, no `__sizeof__`, no `__eq__`), creates no
//! Python object and frees none. Only the thread that holds the GIL may
//! allocate, free or mutate Python objects, so no object found by the walk
//! can be freed, moved or changed before it ends — "freed mid-walk" cannot
//! happen. `tp_traverse` slots are C code written to run inside the garbage
//! collector, under the same constraints.
//!
//! # How tracked objects are enumerated
//! - 3.9–3.13: the GC's generation lists, followed directly: their heads are
//!   found once at import (`layout::find_generation_heads`, verified against
//!   `gc.get_threshold()`), the permanent generation of `gc.freeze()`
//!   included (`gc.get_objects()` and `PyUnstable_GC_VisitObjects` skip it).
//! - Should the heads not be found, 3.12+ uses `PyUnstable_GC_VisitObjects`
//!   (looked up with `dlsym` so the same source builds for 3.9–3.11), which
//!   allocates nothing either. Before 3.12, should that fail, `gc.get_objects()` is
//!   called once before the walk instead; the list it returns is left out of
//!   the results, and its reference to each object subtracted from refcounts.
//!
//! Objects reached from tracked ones are followed with an explicit stack (a
//! chain of ten million untracked tuples needs no recursion); tracked
//! children are skipped there since they are enumerated as roots, so only
//! untracked objects need the `seen` set — and only those with more than one
//! reference: `tp_traverse` reports each owned reference exactly once (the
//! collector's reference accounting relies on it), so an object whose
//! refcount is 1 can only be reached once. Dicts also push the str keys
//! that `dict_traverse` skips (`traverse_with_keys`: str-only and split
//! tables), so those keys too are reached once; only when the table kinds
//! could not be checked at import is every exact str remembered.

use std::collections::HashSet;
use std::ffi::{c_int, c_void, CStr};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;

use super::layout;

/// A hasher for object addresses: they are unique and 16-byte aligned, so a
/// multiply spreads them well; SipHash would dominate the walk's time.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = ((n as u64) >> 4)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// Hash-map state for address-keyed maps.
pub(crate) type AddressHash = BuildHasherDefault<AddressHasher>;

/// What the walker reports for each object it finds.
pub(crate) trait HeapVisitor {
    /// Called once per live object; `tracked` says whether the GC tracks it,
    /// `refcount` is its reference count with the walk's own references
    /// removed, `size` its size in bytes (`layout::object_size`).
    fn object(&mut self, obj: *mut ffi::PyObject, tracked: bool, refcount: isize, size: u64);

    /// Called after the walk for each object whose type has a native
    /// `__sizeof__` (a numpy array, an Arrow buffer…): `owned` is what it
    /// owns (`sys.getsizeof`), `shallow` the size [`HeapVisitor::object`]
    /// reported. Only called when `owned > shallow`.
    fn owned(&mut self, _obj: *mut ffi::PyObject, _shallow: u64, _owned: u64) {}
}

/// Objects the walk must neither report nor enter: memlens's own.
pub(crate) struct Exclusions {
    addresses: HashSet<usize, AddressHash>,
    types: Vec<*mut ffi::PyTypeObject>,
}

impl Exclusions {
    /// Excludes the objects at `addresses` and every instance of `types`.
    pub(crate) fn new(
        addresses: impl IntoIterator<Item = usize>,
        types: Vec<*mut ffi::PyTypeObject>,
    ) -> Self {
        Exclusions {
            addresses: addresses.into_iter().collect(),
            types,
        }
    }

    /// Whether `obj` is left out.
    ///
    /// # Safety
    /// `obj` is a live object.
    unsafe fn excludes(&self, obj: *mut ffi::PyObject) -> bool {
        // SAFETY: obj is live, so its type pointer is readable.
        let tp = unsafe { ffi::Py_TYPE(obj) };
        self.addresses.contains(&(obj as usize)) || self.types.contains(&tp)
    }
}

type VisitObjectsFn = unsafe extern "C" fn(
    callback: unsafe extern "C" fn(*mut ffi::PyObject, *mut c_void) -> c_int,
    arg: *mut c_void,
);

/// `PyUnstable_GC_VisitObjects` when the running interpreter has it (3.12+).
fn visit_objects_fn() -> Option<VisitObjectsFn> {
    static FUNCTION: OnceLock<usize> = OnceLock::new();
    let address = *FUNCTION.get_or_init(|| {
        if layout::minor() < 12 {
            return 0;
        }
        extern "C" {
            fn dlsym(handle: *mut c_void, symbol: *const std::ffi::c_char) -> *mut c_void;
        }
        const SYMBOL: &CStr = c"PyUnstable_GC_VisitObjects";
        // SAFETY: dlsym with RTLD_DEFAULT (NULL on Linux) only looks a symbol up.
        unsafe { dlsym(std::ptr::null_mut(), SYMBOL.as_ptr()) as usize }
    });
    if address == 0 {
        None
    } else {
        // SAFETY: the symbol is CPython's PyUnstable_GC_VisitObjects, whose C
        // signature is exactly VisitObjectsFn.
        Some(unsafe { std::mem::transmute::<usize, VisitObjectsFn>(address) })
    }
}

/// Size layouts of the types seen so far, direct-mapped by type address:
/// most objects belong to a few types, and this spares a hash lookup and a
/// walk up `tp_base` per object.
struct TypeCache {
    slots: Vec<(usize, Option<layout::TypeLayout>)>,
}

impl TypeCache {
    const SLOTS: usize = 1024;

    fn new() -> Self {
        TypeCache {
            slots: vec![(0, None); Self::SLOTS],
        }
    }

    /// The size of `obj`, and whether its type has a native `__sizeof__`
    /// to ask after the walk.
    ///
    /// # Safety
    /// `obj` is a live object; the GIL is held.
    #[inline]
    unsafe fn size_of(&mut self, obj: *mut ffi::PyObject) -> (u64, Option<layout::TypeLayout>) {
        // SAFETY: obj is live (caller), so is its type.
        unsafe {
            let tp = ffi::Py_TYPE(obj);
            let slot = &mut self.slots[(tp as usize >> 4) % Self::SLOTS];
            if slot.0 != tp as usize || slot.1.is_none() {
                *slot = (tp as usize, Some(layout::type_layout(tp)));
            }
            match &slot.1 {
                Some(type_layout) => (
                    layout::object_size_with(obj, type_layout),
                    Some(*type_layout).filter(layout::TypeLayout::has_native_sizeof),
                ),
                None => (layout::object_size(obj), None),
            }
        }
    }
}

/// The state shared by the root enumeration and the traversal.
struct Walk<'a, V: HeapVisitor> {
    visitor: &'a mut V,
    exclusions: &'a Exclusions,
    seen_untracked: HashSet<usize, AddressHash>,
    stack: Vec<*mut ffi::PyObject>,
    types: TypeCache,
    /// References the enumeration itself holds on each tracked object.
    root_refs: isize,
    gc_only: bool,
    /// Objects whose native `__sizeof__` is asked after the walk, each with
    /// a strong reference (taken once the walk has read its refcount) and
    /// its shallow size.
    native: Vec<(*mut ffi::PyObject, u64, layout::TypeLayout)>,
    /// Whether `native` holds a strong reference to each object (false in a
    /// fork child, where nothing else runs and nothing can free them).
    hold_native: bool,
}

impl<V: HeapVisitor> Walk<'_, V> {
    /// The shallow size of `obj`; an object with a native `__sizeof__` is
    /// remembered (with a reference, so it outlives anything that native
    /// code might do) for [`Walk::ask_native_sizes`].
    ///
    /// # Safety
    /// `obj` is live; the GIL is held.
    #[inline]
    unsafe fn sized(&mut self, obj: *mut ffi::PyObject) -> u64 {
        // SAFETY: obj is live (caller).
        unsafe {
            let (size, native) = self.types.size_of(obj);
            if let Some(type_layout) = native {
                if self.hold_native {
                    ffi::Py_INCREF(obj);
                }
                self.native.push((obj, size, type_layout));
            }
            size
        }
    }

    /// Calls the native `__sizeof__` of the objects [`Walk::sized`]
    /// remembered, now that no traversal is under way, and reports what
    /// they own. The collector is paused meanwhile (3.10+), so that the ints
    /// those calls allocate cannot start a collection.
    fn ask_native_sizes(&mut self) {
        if self.native.is_empty() {
            return;
        }
        // SAFETY: the GIL is held (the walk's caller); each object is kept
        // alive by the reference taken in `sized`, released here.
        unsafe {
            let was_enabled = pause_collector();
            for (obj, shallow, type_layout) in std::mem::take(&mut self.native) {
                let owned = layout::owned_size(obj, &type_layout, shallow);
                if owned > shallow {
                    self.visitor.owned(obj, shallow, owned);
                }
                if self.hold_native {
                    ffi::Py_DECREF(obj);
                }
            }
            if was_enabled {
                resume_collector();
            }
        }
    }

    /// Reports a tracked object, then everything untracked it reaches.
    ///
    /// # Safety
    /// `root` is a live GC-tracked object; the GIL is held.
    unsafe fn visit_root(&mut self, root: *mut ffi::PyObject) {
        // SAFETY: root is live (caller); children pushed by tp_traverse are
        // live objects referenced by live objects.
        unsafe {
            if self.exclusions.excludes(root) {
                return;
            }
            let mut refcount = ffi::Py_REFCNT(root);
            if !layout::is_immortal(refcount) {
                refcount -= self.root_refs;
            }
            let size = self.sized(root);
            self.visitor.object(root, true, refcount, size);
            if self.gc_only {
                return;
            }
            traverse_with_keys(root, &mut self.stack);
            self.drain();
        }
    }

    /// Reports the untracked `roots` (tracked ones were enumerated already)
    /// and everything untracked they reach.
    fn visit_extra_roots(&mut self, roots: &[Bound<'_, PyAny>]) {
        if self.gc_only {
            return;
        }
        self.stack.extend(roots.iter().map(|root| root.as_ptr()));
        // SAFETY: the roots are live (the caller holds them); the GIL is held.
        unsafe { self.drain() };
    }

    /// Reports the untracked objects on the stack and everything untracked
    /// they reach.
    ///
    /// # Safety
    /// The stack holds live objects; the GIL is held.
    unsafe fn drain(&mut self) {
        let str_keys_exact = layout::dict_table_kinds_known();
        // SAFETY: objects on the stack are live (caller, and tp_traverse only
        // reports live referents of live objects).
        unsafe {
            while let Some(obj) = self.stack.pop() {
                if layout::is_tracked(obj) {
                    continue;
                }
                // tp_traverse visits each owned reference exactly once (the
                // collector's own accounting depends on it), so an object with
                // a single reference is reached once: no need to remember it.
                // `traverse_with_keys` adds only the keys dict_traverse skips;
                // should the table kinds be unknown it adds every str key, and
                // then a str is always remembered.
                if (ffi::Py_REFCNT(obj) != 1
                    || (!str_keys_exact && ffi::PyUnicode_CheckExact(obj) != 0))
                    && !self.seen_untracked.insert(obj as usize)
                {
                    continue;
                }
                if self.exclusions.excludes(obj) {
                    continue;
                }
                let refcount = ffi::Py_REFCNT(obj);
                let size = self.sized(obj);
                self.visitor.object(obj, false, refcount, size);
                traverse_with_keys(obj, &mut self.stack);
            }
        }
    }
}

/// Pushes the objects `obj` refers to onto `stack`, if `obj` is a GC object
/// (non-GC objects such as str and int refer to nothing the GC can see).
///
/// # Safety
/// `obj` is a live object; the GIL is held.
pub(crate) unsafe fn traverse(obj: *mut ffi::PyObject, stack: &mut Vec<*mut ffi::PyObject>) {
    unsafe extern "C" fn push(child: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
        if !child.is_null() {
            // SAFETY: arg is the &mut Vec passed to tp_traverse below.
            unsafe { (*arg.cast::<Vec<*mut ffi::PyObject>>()).push(child) };
        }
        0
    }
    // SAFETY: obj is live; tp_traverse is only called on GC objects, which is
    // what the collector does too; it calls `push` for each referent.
    unsafe {
        if !layout::is_gc(obj) {
            return;
        }
        if let Some(tp_traverse) = (*ffi::Py_TYPE(obj)).tp_traverse {
            tp_traverse(obj, push, (stack as *mut Vec<*mut ffi::PyObject>).cast());
        }
    }
}

/// What `traverse` pushes, plus the str keys of a dict (exact dicts and
/// subclasses; split tables too, whose keys live in the shared keys object).
/// CPython's `dict_traverse` skips the keys of str-only tables (str cannot
/// form cycles), yet they are objects the dict holds. Only exact str keys
/// are added, and only for the tables whose keys `dict_traverse` skips
/// (`layout::dict_traverse_skips_keys`): general tables report all their
/// keys themselves, so each key is pushed once. Should the table kinds be
/// unknown (`layout::dict_table_kinds_known` false), every str key is added
/// and one of a general table is pushed twice: callers that report objects
/// must then remember every str they have seen.
///
/// # Safety
/// `obj` is a live object; the GIL is held.
pub(crate) unsafe fn traverse_with_keys(
    obj: *mut ffi::PyObject,
    stack: &mut Vec<*mut ffi::PyObject>,
) {
    // SAFETY: obj is live (caller); PyDict_Next only reads the table (also
    // for dict subclasses: it is the C-level table), runs no Python code,
    // creates nothing and returns borrowed references held by the dict.
    unsafe {
        traverse(obj, stack);
        if ffi::PyDict_Check(obj) != 0
            && layout::dict_traverse_skips_keys(obj.cast()) != Some(false)
        {
            let mut position: ffi::Py_ssize_t = 0;
            let mut key = std::ptr::null_mut();
            let mut value = std::ptr::null_mut();
            while ffi::PyDict_Next(obj, &mut position, &mut key, &mut value) != 0 {
                if ffi::PyUnicode_CheckExact(key) != 0 {
                    stack.push(key);
                }
            }
        }
    }
}

/// Walks the whole heap, reporting each live object once to `visitor`.
/// With `gc_only`, only GC-tracked objects are reported (objgraph's view).
/// `extra_roots` are untracked objects to start from as well (objects the
/// caller holds that no tracked object may reach, e.g. a local str).
pub(crate) fn walk_heap<V: HeapVisitor>(
    py: Python<'_>,
    exclusions: &Exclusions,
    gc_only: bool,
    extra_roots: &[Bound<'_, PyAny>],
    visitor: &mut V,
) -> PyResult<()> {
    walk_heap_with(py, exclusions, gc_only, extra_roots, visitor, true)
}

/// [`walk_heap`], where `hold` says whether objects asked for their native
/// `__sizeof__` are held by a reference meanwhile: a fork child, alone in
/// its process, passes false and touches no refcount.
pub(crate) fn walk_heap_with<V: HeapVisitor>(
    py: Python<'_>,
    exclusions: &Exclusions,
    gc_only: bool,
    extra_roots: &[Bound<'_, PyAny>],
    visitor: &mut V,
    hold: bool,
) -> PyResult<()> {
    let mut walk = Walk {
        visitor,
        exclusions,
        seen_untracked: HashSet::default(),
        stack: Vec::new(),
        types: TypeCache::new(),
        root_refs: 0,
        gc_only,
        native: Vec::new(),
        hold_native: hold,
    };
    if let Some(heads) = layout::generation_heads() {
        // Fast path: follow the generation lists (circular, doubly
        // linked through each object's PyGC_Head) instead of copying them into
        // a list. Nothing can be tracked or untracked while we hold the GIL and
        // allocate no Python object.
        for head in heads {
            // SAFETY: `head` is a verified generation head; every node of its
            // ring but the head itself is the PyGC_Head of a live tracked object.
            unsafe {
                let mut node = *(head as *const usize);
                while node != head && node != 0 {
                    let obj = (node + 2 * std::mem::size_of::<usize>()) as *mut ffi::PyObject;
                    let next = *(node as *const usize);
                    walk.visit_root(obj);
                    node = next;
                }
            }
        }
        walk.visit_extra_roots(extra_roots);
        walk.ask_native_sizes();
        return Ok(());
    }
    if let Some(visit_objects) = visit_objects_fn() {
        unsafe extern "C" fn on_object<V: HeapVisitor>(
            obj: *mut ffi::PyObject,
            arg: *mut c_void,
        ) -> c_int {
            // SAFETY: arg is the &mut Walk passed below; obj is a live tracked
            // object handed to us by the GC with the GIL held.
            unsafe { (*arg.cast::<Walk<'_, V>>()).visit_root(obj) };
            1
        }
        // PyUnstable_GC_VisitObjects holds one extra reference during the callback.
        walk.root_refs = 1;
        // SAFETY: the GIL is held (py); the callback makes no Python calls.
        unsafe { visit_objects(on_object::<V>, (&mut walk as *mut Walk<'_, V>).cast()) };
        walk.visit_extra_roots(extra_roots);
        walk.ask_native_sizes();
        return Ok(());
    }
    let objects = gc_objects(py)?;
    walk.root_refs = 1;
    let list = objects.as_ptr();
    // SAFETY: `objects` is a list we own and nothing else can see; its items
    // are live while it holds them, and the GIL is held throughout.
    unsafe {
        let length = ffi::PyList_GET_SIZE(list);
        // Most heaps have at least as many untracked objects as tracked ones.
        walk.seen_untracked.reserve(length.max(0) as usize);
        for i in 0..length {
            walk.visit_root(ffi::PyList_GET_ITEM(list, i));
        }
    }
    walk.visit_extra_roots(extra_roots);
    drop(objects);
    walk.ask_native_sizes();
    Ok(())
}

/// The objects of the permanent generation (`gc.freeze()`), when the
/// generation lists were found; empty otherwise.
///
/// # Safety
/// The GIL is held.
pub(crate) unsafe fn frozen_objects() -> HashSet<usize, AddressHash> {
    let mut frozen = HashSet::default();
    if let Some(heads) = layout::generation_heads() {
        if let Some(&head) = heads.get(3) {
            // SAFETY: a verified generation head, as in walk_heap_with.
            unsafe {
                let mut node = *(head as *const usize);
                while node != head && node != 0 {
                    frozen.insert(node + 2 * std::mem::size_of::<usize>());
                    node = *(node as *const usize);
                }
            }
        }
    }
    frozen
}

/// Stops automatic collections; returns whether they were enabled. Objects
/// the walk reported are not held by references (only the native-size ones
/// are): a collection started by an allocation could free cyclic garbage
/// among them before the caller is done with them.
///
/// # Safety
/// The GIL is held.
pub(crate) unsafe fn pause_collector() -> bool {
    #[cfg(Py_3_10)]
    {
        // SAFETY: the GIL is held (caller).
        unsafe { ffi::PyGC_Disable() != 0 }
    }
    #[cfg(not(Py_3_10))]
    {
        // 3.9 has no C API for it: gc.isenabled() and gc.disable(), C
        // functions of the gc module (already imported: sys.modules).
        // SAFETY: the GIL is held (caller).
        let py = unsafe { Python::assume_attached() };
        let call = |name: &str| -> Option<bool> {
            let gc = py.import("gc").ok()?;
            gc.getattr(name)
                .ok()?
                .call0()
                .ok()?
                .extract::<Option<bool>>()
                .ok()?
        };
        let enabled = call("isenabled").unwrap_or(false);
        if enabled {
            let _ = call("disable");
        }
        enabled
    }
}

/// Undoes [`pause_collector`].
///
/// # Safety
/// The GIL is held.
pub(crate) unsafe fn resume_collector() {
    #[cfg(Py_3_10)]
    // SAFETY: the GIL is held (caller).
    unsafe {
        ffi::PyGC_Enable();
    }
    #[cfg(not(Py_3_10))]
    {
        // SAFETY: the GIL is held (caller).
        let py = unsafe { Python::assume_attached() };
        if let Ok(gc) = py.import("gc") {
            let _ = gc.call_method0("enable");
        }
    }
}

/// `gc.get_objects()` (3.9–3.11), with the function looked up once so that
/// later walks make no attribute lookups.
fn gc_objects(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_OBJECTS: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let function = GET_OBJECTS.get_or_try_init(py, || {
        py.import("gc")?.getattr("get_objects").map(Bound::unbind)
    })?;
    function.bind(py).call0()
}

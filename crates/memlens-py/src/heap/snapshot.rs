//! Heap snapshots: the live heap walked into a `memlens_heap::HeapSnapshot`
//! (typed, sized, labelled edges, named roots, hidden holders, unreachable
//! nodes), in process or in a fork child that writes the `.mlh` file.
//!
//! # Phases
//! 1. Before the walk, Python-level facts are gathered (this allocates):
//!    every thread's frames (`sys._current_frames()`), their local variables
//!    and the thread names. Frames and locals are held by references during
//!    the walk (a running frame's locals are not visited by `tp_traverse` on
//!    3.11+, and its frame object is untracked); those references are
//!    subtracted from the refcounts recorded.
//! 2. The walk ([`walker::walk_heap_with`]) reports every object once.
//! 3. With the collector paused and the GIL held throughout, the node table,
//!    the labelled edges (`tp_traverse` of each object, matched against what
//!    its layout says each reference is), the roots and the hidden holders
//!    are built. Nothing here runs Python code; the only allocations are
//!    C getters on code objects (`co_freevars`) and native `__sizeof__`
//!    calls of the walk, so no object the walk found can be freed before the
//!    snapshot is built.

use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::io::Write;
use std::path::{Path, PathBuf};

use memlens_heap::{
    EdgeKind, EdgeLabel, NodeFlags, RootKind, SnapshotBuilder, SnapshotMeta, StrId,
};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::layout::{self, Attributes};
use super::names;
use super::walker::{self, AddressHash, HeapVisitor};

/// Longest str or bytes content kept as a node name with `strings=True`.
const MAX_CONTENT_CHARS: usize = 1024;

extern "C" {
    /// The bound-method type (not bound by pyo3-ffi).
    static mut PyMethod_Type: ffi::PyTypeObject;
}

/// Options of one capture.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CaptureOptions {
    /// Keep string contents (str values, bytes, non-identifier keys).
    pub(crate) strings: bool,
    /// Hold references during the walk (false in a fork child).
    pub(crate) hold: bool,
}

/// What the walk records of each object, node `i` = `objects[i]`.
#[derive(Default)]
struct Recorder {
    objects: Vec<*mut ffi::PyObject>,
    type_ids: Vec<u32>,
    type_ptrs: Vec<*mut ffi::PyTypeObject>,
    type_index: HashMap<usize, u32, AddressHash>,
    last_type: (usize, u32),
    shallow: Vec<u64>,
    owned: Vec<u64>,
    refcount: Vec<isize>,
    tracked: Vec<bool>,
    index: HashMap<usize, u32, AddressHash>,
    /// References the capture itself holds on objects, subtracted from
    /// their refcounts.
    held: HashMap<usize, isize, AddressHash>,
}

impl Recorder {
    fn reserve(&mut self, n: usize) {
        self.objects.reserve(n);
        self.type_ids.reserve(n);
        self.shallow.reserve(n);
        self.owned.reserve(n);
        self.refcount.reserve(n);
        self.tracked.reserve(n);
        self.index.reserve(n);
    }
}

impl HeapVisitor for Recorder {
    fn object(&mut self, obj: *mut ffi::PyObject, tracked: bool, refcount: isize, size: u64) {
        // SAFETY: the walker only reports live objects, with the GIL held.
        let tp = unsafe { ffi::Py_TYPE(obj) };
        let type_id = if self.last_type.0 == tp as usize {
            self.last_type.1
        } else {
            let next = self.type_ptrs.len() as u32;
            let id = *self.type_index.entry(tp as usize).or_insert(next);
            if id == next {
                self.type_ptrs.push(tp);
            }
            self.last_type = (tp as usize, id);
            id
        };
        let refcount = if self.held.is_empty() || layout::is_immortal(refcount) {
            refcount
        } else {
            refcount - self.held.get(&(obj as usize)).copied().unwrap_or(0)
        };
        self.index.insert(obj as usize, self.objects.len() as u32);
        self.objects.push(obj);
        self.type_ids.push(type_id);
        self.shallow.push(size);
        self.owned.push(size);
        self.refcount.push(refcount);
        self.tracked.push(tracked);
    }

    fn owned(&mut self, obj: *mut ffi::PyObject, _shallow: u64, owned: u64) {
        if let Some(&node) = self.index.get(&(obj as usize)) {
            self.owned[node as usize] = owned;
        }
    }
}

/// A running frame, found before the walk.
struct FrameInfo {
    frame: *mut ffi::PyObject,
    root_name: String,
    func: String,
    /// `(value, variable name)` of its local variables.
    locals: Vec<(*mut ffi::PyObject, String)>,
    /// On 3.11+ a running frame's locals are not visited by `tp_traverse`:
    /// they become edges of their own.
    explicit_locals: bool,
    /// 3.11 and 3.12: the dict reading `f_locals` put in the frame (the
    /// frame holds it; a running frame's `tp_traverse` does not say so).
    locals_dict: Option<*mut ffi::PyObject>,
}

/// Python-level facts gathered before the walk, with the references that
/// keep the frames and locals alive meanwhile.
struct PreWalk<'py> {
    frames: Vec<FrameInfo>,
    /// memlens's own frames (the `snapshot()` call): left out.
    own_frames: Vec<usize>,
    held: Vec<Bound<'py, PyAny>>,
    /// The local variables of memlens's own frames (once per reference):
    /// those references are memlens's, not the program's, and are
    /// subtracted from the refcounts (else `why_alive(obj)`'s own argument
    /// would show as a holder of `obj` outside the graph).
    own_refs: Vec<usize>,
}

fn attr_str(obj: &Bound<'_, PyAny>, name: &str) -> String {
    obj.getattr(name)
        .and_then(|v| v.extract::<String>())
        .unwrap_or_default()
}

/// Every thread's frames, newest first per thread, with their locals.
/// memlens's own frames on top of the calling thread (whose code lives in
/// `own_dir`) are left out.
fn gather_frames<'py>(py: Python<'py>, own_dir: Option<&str>) -> PyResult<PreWalk<'py>> {
    let sys = py.import("sys")?;
    let current = sys.getattr("_current_frames")?.call0()?;
    let current = current.cast_into::<PyDict>()?;
    // threading is only looked at if the program imported it.
    let modules = sys.getattr("modules")?;
    let active = modules
        .get_item("threading")
        .ok()
        .and_then(|t| t.getattr("_active").ok());
    let this_thread = py
        .import("_thread")
        .and_then(|t| t.getattr("get_ident")?.call0()?.extract::<u64>())
        .unwrap_or(0);
    let minor = layout::minor();
    let mut out = PreWalk {
        frames: Vec::new(),
        own_frames: Vec::new(),
        held: Vec::new(),
        own_refs: Vec::new(),
    };
    for (ident, top) in current.iter() {
        let ident_value: u64 = ident.extract().unwrap_or(0);
        let thread_name = active
            .as_ref()
            .and_then(|a| a.get_item(&ident).ok())
            .map(|t| attr_str(&t, "_name"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "thread".to_owned());
        let mut frame = Some(top);
        let mut skipping = ident_value == this_thread;
        while let Some(f) = frame.take() {
            let code = f.getattr("f_code")?;
            let file = attr_str(&code, "co_filename");
            let next = f.getattr("f_back").ok().filter(|b| !b.is_none());
            if skipping && own_dir.is_some_and(|d| !d.is_empty() && file.starts_with(d)) {
                let flags: u64 = code
                    .getattr("co_flags")
                    .and_then(|v| v.extract())
                    .unwrap_or(0);
                if flags & 1 != 0 {
                    own_locals(&f, &code, &mut out)?;
                }
                out.own_frames.push(f.as_ptr() as usize);
                frame = next;
                continue;
            }
            skipping = false;
            let func = if minor >= 11 {
                attr_str(&code, "co_qualname")
            } else {
                attr_str(&code, "co_name")
            };
            let line: i64 = f.getattr("f_lineno").and_then(|l| l.extract()).unwrap_or(0);
            let flags: u64 = code
                .getattr("co_flags")
                .and_then(|v| v.extract())
                .unwrap_or(0);
            let optimized = flags & 1 != 0;
            let mut locals = Vec::new();
            let mut locals_dict = None;
            if optimized {
                let mapping = f.getattr("f_locals")?;
                if minor >= 11 && mapping.is_exact_instance_of::<PyDict>() {
                    locals_dict = Some(mapping.as_ptr());
                }
                let items = mapping.call_method0("items")?;
                for item in items.try_iter()? {
                    let item = item?;
                    let item = item.cast::<PyTuple>()?;
                    let (name, value) = (item.get_item(0)?, item.get_item(1)?);
                    let name: String = name.extract().unwrap_or_default();
                    locals.push((value.as_ptr(), name));
                    out.held.push(value);
                }
                out.held.push(mapping);
            }
            out.frames.push(FrameInfo {
                frame: f.as_ptr(),
                root_name: format!("thread {thread_name} ({ident_value}) {func} ({file}:{line})"),
                func,
                locals,
                explicit_locals: optimized && minor >= 11,
                locals_dict,
            });
            out.held.push(f);
            frame = next;
        }
    }
    Ok(out)
}

/// Records the references a frame of memlens's own holds on its local
/// variables, to be subtracted: one per fast local (a cell or free variable
/// holds its cell, not the value), and through 3.12 one more from the
/// `f_locals` dict that reading them creates in the frame — that dict is
/// memlens's too and is left out of the walk. (3.13's `f_locals` is a
/// proxy holding nothing.)
fn own_locals<'py>(
    frame: &Bound<'py, PyAny>,
    code: &Bound<'py, PyAny>,
    out: &mut PreWalk<'py>,
) -> PyResult<()> {
    let mut cells: HashSet<String> = HashSet::new();
    for attr in ["co_cellvars", "co_freevars"] {
        if let Ok(names) = code.getattr(attr) {
            for name in names.try_iter()? {
                cells.insert(name?.extract().unwrap_or_default());
            }
        }
    }
    let mapping = frame.getattr("f_locals")?;
    let is_dict = mapping.is_exact_instance_of::<PyDict>();
    if is_dict {
        out.own_frames.push(mapping.as_ptr() as usize);
    }
    for item in mapping.call_method0("items")?.try_iter()? {
        let item = item?;
        let item = item.cast::<PyTuple>()?;
        let (name, value) = (item.get_item(0)?, item.get_item(1)?);
        let name: String = name.extract().unwrap_or_default();
        let count = usize::from(!cells.contains(&name)) + usize::from(is_dict);
        for _ in 0..count {
            out.own_refs.push(value.as_ptr() as usize);
        }
        out.held.push(value);
    }
    out.held.push(mapping);
    Ok(())
}

/// Whether `text` is a Python identifier (`str.isidentifier`, near enough).
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// `repr()` of a str, Python's quoting.
fn str_repr(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The state of the edge-building phase.
struct Labeler<'a> {
    b: &'a mut SnapshotBuilder,
    strings: bool,
    /// Dict key object -> (attribute name, value label name).
    key_names: HashMap<usize, (StrId, StrId), AddressHash>,
    /// The `__dict__` of a module, class or instance.
    attr_dicts: HashSet<usize, AddressHash>,
    /// Closure cell -> variable name.
    cell_names: HashMap<usize, StrId, AddressHash>,
    /// Type -> its `__slots__` `(name, offset)`.
    slots: HashMap<usize, Vec<(StrId, isize)>, AddressHash>,
    /// Frame -> its locals and `f_locals` dict `(value, packed label)`.
    frame_locals: HashMap<usize, Vec<(usize, u32)>, AddressHash>,
    fixed: FixedNames,
}

/// Interned names of the fixed slots.
struct FixedNames {
    item: StrId,
    func: [(StrId, &'static str); 11],
    mro: StrId,
    bases: StrId,
    base: StrId,
    method_func: StrId,
    method_self: StrId,
    cell_contents: StrId,
}

impl FixedNames {
    fn new(b: &mut SnapshotBuilder) -> FixedNames {
        let func = [
            "__globals__",
            "__code__",
            "__closure__",
            "__defaults__",
            "__kwdefaults__",
            "__dict__",
            "__module__",
            "__name__",
            "__qualname__",
            "__doc__",
            "__annotations__",
        ]
        .map(|n| (b.intern(n), n));
        FixedNames {
            item: b.intern("item"),
            func,
            mro: b.intern("__mro__"),
            bases: b.intern("__bases__"),
            base: b.intern("__base__"),
            method_func: b.intern("__func__"),
            method_self: b.intern("__self__"),
            cell_contents: b.intern("cell_contents"),
        }
    }
}

impl Labeler<'_> {
    /// `(attribute name, value label)` for a dict key.
    ///
    /// # Safety
    /// `key` is live; the GIL is held.
    unsafe fn key_names(&mut self, key: *mut ffi::PyObject) -> (StrId, StrId) {
        if let Some(&names) = self.key_names.get(&(key as usize)) {
            return names;
        }
        // SAFETY: key is live (caller).
        let names = unsafe {
            if let Some(text) = layout::read_str(key) {
                if is_identifier(&text) || self.strings {
                    (self.b.intern(&text), self.b.intern(&str_repr(&text)))
                } else {
                    (0, 0)
                }
            } else if ffi::PyLong_CheckExact(key) != 0 {
                let mut overflow = 0;
                let value = ffi::PyLong_AsLongLongAndOverflow(key, &mut overflow);
                if overflow == 0 && (value != -1 || ffi::PyErr_Occurred().is_null()) {
                    (0, self.b.intern(&value.to_string()))
                } else {
                    ffi::PyErr_Clear();
                    (0, 0)
                }
            } else {
                (0, 0)
            }
        };
        self.key_names.insert(key as usize, names);
        names
    }

    /// The `__slots__` of `tp`, interned, cached per type.
    ///
    /// # Safety
    /// `tp` is live; the GIL is held.
    unsafe fn slots_of(&mut self, tp: *mut ffi::PyTypeObject) -> &[(StrId, isize)] {
        if !self.slots.contains_key(&(tp as usize)) {
            // SAFETY: tp is live (caller).
            let slots = unsafe { layout::slot_offsets(tp) };
            // SAFETY: tp is a live type object (caller).
            let basicsize = unsafe { (*tp).tp_basicsize };
            let interned = slots
                .into_iter()
                .filter(|(_, offset)| *offset > 0 && offset + 8 <= basicsize)
                .map(|(name, offset)| (self.b.intern(&name), offset))
                .collect();
            self.slots.insert(tp as usize, interned);
        }
        &self.slots[&(tp as usize)]
    }

    /// What each reference of `obj` is, as `(child, packed label)` in the
    /// order `tp_traverse` most likely reports them; returns the label for
    /// references not listed.
    ///
    /// # Safety
    /// `obj` is live; the GIL is held.
    unsafe fn labels(&mut self, obj: *mut ffi::PyObject, out: &mut Vec<(usize, u32)>) -> u32 {
        out.clear();
        let unknown = EdgeLabel::bare(EdgeKind::Unknown).pack();
        // SAFETY: obj is live; every field read is guarded by its type check.
        unsafe {
            let tp = ffi::Py_TYPE(obj);
            if ffi::PyList_Check(obj) != 0 {
                for i in 0..ffi::PyList_GET_SIZE(obj) {
                    let item = ffi::PyList_GET_ITEM(obj, i);
                    out.push((item as usize, EdgeLabel::index(i as u32).pack()));
                }
                if ffi::PyList_CheckExact(obj) != 0 {
                    return unknown;
                }
            } else if ffi::PyTuple_Check(obj) != 0 {
                for i in 0..ffi::PyTuple_GET_SIZE(obj) {
                    let item = ffi::PyTuple_GET_ITEM(obj, i);
                    out.push((item as usize, EdgeLabel::index(i as u32).pack()));
                }
                if ffi::PyTuple_CheckExact(obj) != 0 {
                    return unknown;
                }
            } else if ffi::PyDict_Check(obj) != 0 {
                self.dict_labels(obj, out);
                if ffi::PyDict_CheckExact(obj) != 0 {
                    return unknown;
                }
            } else if ffi::PyType_Check(obj) != 0 {
                let t = obj.cast::<ffi::PyTypeObject>();
                out.push((
                    (*t).tp_dict as usize,
                    EdgeLabel::bare(EdgeKind::Dict).pack(),
                ));
                let f = &self.fixed;
                for (field, name) in [
                    ((*t).tp_mro, f.mro),
                    ((*t).tp_bases, f.bases),
                    ((*t).tp_base.cast(), f.base),
                ] {
                    out.push((
                        field as usize,
                        EdgeLabel::named(EdgeKind::Attr, name).pack(),
                    ));
                }
                out.push((tp as usize, EdgeLabel::bare(EdgeKind::Class).pack()));
                return EdgeLabel::bare(EdgeKind::Internal).pack();
            } else if ffi::PyModule_Check(obj) != 0 {
                let dict = layout::module_dict(obj);
                out.push((dict as usize, EdgeLabel::bare(EdgeKind::Dict).pack()));
                return EdgeLabel::bare(EdgeKind::Internal).pack();
            } else if ffi::PyFunction_Check(obj) != 0 {
                let f = obj.cast::<ffi::PyFunctionObject>();
                let fields = [
                    (*f).func_globals,
                    (*f).func_code,
                    (*f).func_closure,
                    (*f).func_defaults,
                    (*f).func_kwdefaults,
                    (*f).func_dict,
                    (*f).func_module,
                    (*f).func_name,
                    (*f).func_qualname,
                    (*f).func_doc,
                    (*f).func_annotations,
                ];
                for (field, (name, _)) in fields.iter().zip(self.fixed.func) {
                    if !field.is_null() {
                        out.push((
                            *field as usize,
                            EdgeLabel::named(EdgeKind::Attr, name).pack(),
                        ));
                    }
                }
                return EdgeLabel::bare(EdgeKind::Internal).pack();
            } else if ffi::Py_IS_TYPE(obj, &raw mut PyMethod_Type) != 0 {
                let (function, bound_to) = layout::method_parts(obj);
                let f = &self.fixed;
                out.push((
                    function as usize,
                    EdgeLabel::named(EdgeKind::Attr, f.method_func).pack(),
                ));
                out.push((
                    bound_to as usize,
                    EdgeLabel::named(EdgeKind::Attr, f.method_self).pack(),
                ));
                return EdgeLabel::bare(EdgeKind::Internal).pack();
            } else if ffi::Py_IS_TYPE(obj, &raw mut ffi::PyCell_Type) != 0 {
                let name = self
                    .cell_names
                    .get(&(obj as usize))
                    .copied()
                    .unwrap_or(self.fixed.cell_contents);
                return EdgeLabel::named(EdgeKind::Cell, name).pack();
            } else if ffi::PyFrame_Check(obj) != 0 {
                if let Some(locals) = self.frame_locals.get(&(obj as usize)) {
                    out.extend_from_slice(locals);
                }
                return EdgeLabel::bare(EdgeKind::Internal).pack();
            } else if ffi::PyAnySet_Check(obj) != 0 {
                return EdgeLabel::named(EdgeKind::Internal, self.fixed.item).pack();
            }
            // Instances (and subclasses of the builtins above).
            if ffi::PyType_HasFeature(tp, ffi::Py_TPFLAGS_HEAPTYPE) != 0 {
                out.push((tp as usize, EdgeLabel::bare(EdgeKind::Class).pack()));
                let slots: Vec<(StrId, isize)> = self.slots_of(tp).to_vec();
                for (name, offset) in slots {
                    let value = *(obj as *const u8)
                        .add(offset as usize)
                        .cast::<*mut ffi::PyObject>();
                    if !value.is_null() {
                        out.push((
                            value as usize,
                            EdgeLabel::named(EdgeKind::Attr, name).pack(),
                        ));
                    }
                }
                match layout::instance_attributes(obj) {
                    Attributes::Dict(dict) => {
                        out.push((dict as usize, EdgeLabel::bare(EdgeKind::Dict).pack()));
                    }
                    Attributes::Values { keys, values } => {
                        let mut pairs = Vec::new();
                        layout::shared_key_values(keys, values, |k, v| pairs.push((k, v)));
                        for (key, value) in pairs {
                            let (name, _) = self.key_names(key);
                            out.push((
                                value as usize,
                                EdgeLabel::named(EdgeKind::Attr, name).pack(),
                            ));
                        }
                    }
                    Attributes::None => {}
                }
            }
        }
        unknown
    }

    /// Labels of a dict's values (and of the str keys `traverse_with_keys`
    /// adds), in traversal order.
    ///
    /// # Safety
    /// `dict` is a live dict; the GIL is held.
    unsafe fn dict_labels(&mut self, dict: *mut ffi::PyObject, out: &mut Vec<(usize, u32)>) {
        let attr = self.attr_dicts.contains(&(dict as usize));
        // SAFETY: dict is live (caller); PyDict_Next only reads.
        unsafe {
            let values_only = layout::dict_traverse_skips_keys(dict.cast()) != Some(false);
            let key_label = EdgeLabel::bare(EdgeKind::DictKey).pack();
            let mut position: ffi::Py_ssize_t = 0;
            let mut key = std::ptr::null_mut();
            let mut value = std::ptr::null_mut();
            while ffi::PyDict_Next(dict, &mut position, &mut key, &mut value) != 0 {
                let (attr_name, value_name) = self.key_names(key);
                let label = if attr {
                    EdgeLabel::named(EdgeKind::Attr, attr_name)
                } else {
                    EdgeLabel::named(EdgeKind::DictValue, value_name)
                };
                out.push((value as usize, label.pack()));
                if !values_only {
                    out.push((key as usize, key_label));
                }
            }
            if values_only {
                let mut position: ffi::Py_ssize_t = 0;
                while ffi::PyDict_Next(dict, &mut position, &mut key, &mut value) != 0 {
                    if ffi::PyUnicode_CheckExact(key) != 0 {
                        out.push((key as usize, key_label));
                    }
                }
            }
        }
    }
}

/// Matches the children `tp_traverse` reported against the labels the
/// layout gave, each label used once, in order where possible.
struct Matcher {
    used: Vec<bool>,
    first: HashMap<usize, u32, AddressHash>,
    next_same: Vec<u32>,
}

impl Matcher {
    const LINEAR: usize = 24;

    fn match_all(
        &mut self,
        children: &[*mut ffi::PyObject],
        labels: &[(usize, u32)],
        default: u32,
        mut each: impl FnMut(*mut ffi::PyObject, u32),
    ) {
        self.used.clear();
        self.used.resize(labels.len(), false);
        let mut indexed = false;
        let mut cursor = 0;
        for &child in children {
            let c = child as usize;
            let mut found = None;
            if cursor < labels.len() && labels[cursor].0 == c && !self.used[cursor] {
                found = Some(cursor);
            } else if labels.len() <= Self::LINEAR {
                found = (0..labels.len()).find(|&i| labels[i].0 == c && !self.used[i]);
            } else {
                if !indexed {
                    self.first.clear();
                    self.next_same.clear();
                    self.next_same.resize(labels.len(), u32::MAX);
                    for i in (0..labels.len()).rev() {
                        if let Some(prev) = self.first.insert(labels[i].0, i as u32) {
                            self.next_same[i] = prev;
                        }
                    }
                    indexed = true;
                }
                let mut i = self.first.get(&c).copied().unwrap_or(u32::MAX);
                while i != u32::MAX && self.used[i as usize] {
                    i = self.next_same[i as usize];
                }
                if i != u32::MAX {
                    found = Some(i as usize);
                }
            }
            match found {
                Some(i) => {
                    self.used[i] = true;
                    cursor = i + 1;
                    each(child, labels[i].1);
                }
                None => each(child, default),
            }
        }
    }
}

/// A str or bytes object's contents, for `strings=True`.
///
/// # Safety
/// `obj` is live; the GIL is held.
unsafe fn content(obj: *mut ffi::PyObject) -> Option<String> {
    // SAFETY: obj is live; bytes are read within their size.
    unsafe {
        if ffi::PyUnicode_CheckExact(obj) != 0 {
            return layout::read_str(obj).map(|s| s.chars().take(MAX_CONTENT_CHARS).collect());
        }
        if ffi::PyBytes_CheckExact(obj) != 0 {
            let size = (ffi::PyBytes_Size(obj).max(0) as usize).min(MAX_CONTENT_CHARS);
            let data = ffi::PyBytes_AsString(obj) as *const u8;
            if data.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            let bytes = std::slice::from_raw_parts(data, size);
            return Some(
                bytes
                    .iter()
                    .flat_map(|&b| std::ascii::escape_default(b))
                    .map(char::from)
                    .collect(),
            );
        }
        None
    }
}

/// The process's resident set size, from `/proc/self/statm`.
fn rss_bytes() -> u64 {
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

fn meta(py: Python<'_>, strings: bool) -> SnapshotMeta {
    let version: String = py
        .import("sys")
        .and_then(|s| s.getattr("version")?.extract())
        .unwrap_or_default();
    let version = version.split_whitespace().next().unwrap_or("").to_owned();
    let argv = if strings {
        py.import("sys")
            .and_then(|s| s.getattr("argv")?.extract::<Vec<String>>())
            .ok()
    } else {
        None
    };
    SnapshotMeta {
        python: version,
        pid: std::process::id(),
        unix_time_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        rss_bytes: rss_bytes(),
        strings_included: strings,
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned()),
        argv,
    }
}

/// Counts of a capture, for the caller.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CaptureStats {
    pub(crate) walk_ns: u64,
    pub(crate) build_ns: u64,
    pub(crate) unreachable: u64,
    pub(crate) hidden_holders: u64,
}

/// Walks the live heap into a snapshot.
pub(crate) fn capture(
    py: Python<'_>,
    options: CaptureOptions,
    own_dir: Option<&str>,
) -> PyResult<(memlens_heap::HeapSnapshot, CaptureStats)> {
    let mut stats = CaptureStats::default();
    let started = std::time::Instant::now();
    let meta = meta(py, options.strings);
    let prewalk = gather_frames(py, own_dir)?;
    // Interned before the walk: nothing may be created once it starts.
    let name_key = pyo3::intern!(py, "__name__").as_ptr();
    let freevars_key = pyo3::intern!(py, "co_freevars").as_ptr();

    static LAST_NODES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let expected = LAST_NODES.load(std::sync::atomic::Ordering::Relaxed);
    let mut rec = Recorder::default();
    rec.reserve(expected + expected / 8);
    for held in &prewalk.held {
        *rec.held.entry(held.as_ptr() as usize).or_default() += 1;
    }
    for &own in &prewalk.own_refs {
        *rec.held.entry(own).or_default() += 1;
    }
    let exclusions = super::exclusions_with(py, None, &prewalk.own_frames)?;
    // The collector stays paused until the snapshot is built: objects are
    // recorded by address only.
    // SAFETY: the GIL is held.
    let was_enabled = unsafe { walker::pause_collector() };
    let result = (|| {
        walker::walk_heap_with(
            py,
            &exclusions,
            false,
            &prewalk.held,
            &mut rec,
            options.hold,
        )?;
        stats.walk_ns = started.elapsed().as_nanos() as u64;
        // SAFETY: the GIL is held, the collector paused and no Python code
        // has run since the walk: every recorded object is alive.
        Ok::<_, PyErr>(unsafe {
            build(
                &rec,
                &prewalk,
                options,
                meta,
                name_key,
                freevars_key,
                &mut stats,
            )
        })
    })();
    if was_enabled {
        // SAFETY: the GIL is held.
        unsafe { walker::resume_collector() };
    }
    LAST_NODES.store(rec.objects.len(), std::sync::atomic::Ordering::Relaxed);
    drop(prewalk);
    let mut snap = result?;
    stats.unreachable = memlens_heap::mark_unreachable(&mut snap);
    stats.build_ns = started.elapsed().as_nanos() as u64 - stats.walk_ns;
    Ok((snap, stats))
}

/// Builds the snapshot from the recorded objects.
///
/// # Safety
/// Every object in `rec` is alive; the GIL is held; the collector is paused.
unsafe fn build(
    rec: &Recorder,
    prewalk: &PreWalk<'_>,
    options: CaptureOptions,
    meta: SnapshotMeta,
    name_key: *mut ffi::PyObject,
    freevars_key: *mut ffi::PyObject,
    stats: &mut CaptureStats,
) -> memlens_heap::HeapSnapshot {
    let n = rec.objects.len();
    // SAFETY: the caller holds the GIL (this function's contract).
    let py = unsafe { Python::assume_attached() };
    let mut b = SnapshotBuilder::with_capacity(meta, n, n * 2);
    let fixed = FixedNames::new(&mut b);
    // SAFETY: every object in rec is alive (caller), so are their types.
    unsafe {
        let types: Vec<u32> = rec
            .type_ptrs
            .iter()
            .map(|&tp| {
                let names = names::type_names(py, tp);
                b.add_type(&names.module, &names.qualname)
            })
            .collect();
        let frozen = walker::frozen_objects();
        for i in 0..n {
            let obj = rec.objects[i];
            let refcount = rec.refcount[i];
            let mut flags = 0;
            if rec.tracked[i] {
                flags |= NodeFlags::GC_TRACKED;
            }
            if layout::is_immortal(refcount) {
                flags |= NodeFlags::IMMORTAL;
            }
            if !frozen.is_empty() && frozen.contains(&(obj as usize)) {
                flags |= NodeFlags::FROZEN;
            }
            if rec.owned[i] > rec.shallow[i] {
                flags |= NodeFlags::HAS_OWNED;
            }
            let refcount = if layout::is_immortal(refcount) {
                u64::MAX
            } else {
                refcount.max(0) as u64
            };
            b.add_node(
                obj as u64,
                types[rec.type_ids[i] as usize],
                rec.shallow[i],
                rec.owned[i],
                refcount,
                flags,
            );
        }

        let mut labeler = Labeler {
            b: &mut b,
            strings: options.strings,
            key_names: HashMap::default(),
            attr_dicts: HashSet::default(),
            cell_names: HashMap::default(),
            slots: HashMap::default(),
            frame_locals: HashMap::default(),
            fixed,
        };
        let f_locals = labeler.b.intern("f_locals");
        for frame in &prewalk.frames {
            let mut locals: Vec<(usize, u32)> = frame
                .locals
                .iter()
                .map(|(value, name)| {
                    let name = labeler.b.intern(name);
                    (
                        *value as usize,
                        EdgeLabel::named(EdgeKind::Attr, name).pack(),
                    )
                })
                .collect();
            if let Some(dict) = frame.locals_dict {
                locals.push((
                    dict as usize,
                    EdgeLabel::named(EdgeKind::Internal, f_locals).pack(),
                ));
            }
            labeler.frame_locals.insert(frame.frame as usize, locals);
        }

        // Names of nodes, attribute dicts and closure cell names, first.
        for (i, &obj) in rec.objects.iter().enumerate() {
            let node = i as u32;
            let tp = ffi::Py_TYPE(obj);
            if ffi::PyType_Check(obj) != 0 {
                let t = obj.cast::<ffi::PyTypeObject>();
                labeler.attr_dicts.insert((*t).tp_dict as usize);
                let names = names::type_names(py, t);
                let name = labeler.b.intern(&names.qualname);
                labeler.b.set_node_name(node, name);
            } else if ffi::PyModule_Check(obj) != 0 {
                let dict = layout::module_dict(obj);
                if !dict.is_null() && ffi::PyDict_Check(dict) != 0 {
                    labeler.attr_dicts.insert(dict as usize);
                    let name = ffi::PyDict_GetItem(dict, name_key);
                    if let Some(text) = (!name.is_null()).then(|| layout::read_str(name)).flatten()
                    {
                        let id = labeler.b.intern(&text);
                        labeler.b.set_node_name(node, id);
                    }
                }
            } else if ffi::PyFunction_Check(obj) != 0 {
                let f = obj.cast::<ffi::PyFunctionObject>();
                if let Some(text) = layout::read_str((*f).func_qualname) {
                    let id = labeler.b.intern(&text);
                    labeler.b.set_node_name(node, id);
                }
                let closure = (*f).func_closure;
                if !closure.is_null() && ffi::PyTuple_Check(closure) != 0 {
                    let names = ffi::PyObject_GetAttr((*f).func_code, freevars_key);
                    if names.is_null() {
                        ffi::PyErr_Clear();
                    } else {
                        if ffi::PyTuple_Check(names) != 0 {
                            let count =
                                ffi::PyTuple_GET_SIZE(names).min(ffi::PyTuple_GET_SIZE(closure));
                            for k in 0..count {
                                if let Some(text) =
                                    layout::read_str(ffi::PyTuple_GET_ITEM(names, k))
                                {
                                    let id = labeler.b.intern(&text);
                                    labeler
                                        .cell_names
                                        .insert(ffi::PyTuple_GET_ITEM(closure, k) as usize, id);
                                }
                            }
                        }
                        ffi::Py_DECREF(names);
                    }
                }
            } else if ffi::PyType_HasFeature(tp, ffi::Py_TPFLAGS_HEAPTYPE) != 0 {
                if let Attributes::Dict(dict) = layout::instance_attributes(obj) {
                    labeler.attr_dicts.insert(dict as usize);
                }
            } else if options.strings {
                if let Some(text) = content(obj) {
                    let id = labeler.b.intern(&text);
                    labeler.b.set_node_name(node, id);
                }
            }
        }
        for frame in &prewalk.frames {
            if let Some(&node) = rec.index.get(&(frame.frame as usize)) {
                let id = labeler.b.intern(&frame.func);
                labeler.b.set_node_name(node, id);
            }
        }

        // Edges.
        let mut incoming = vec![0u32; n];
        let mut children: Vec<*mut ffi::PyObject> = Vec::new();
        let mut labels: Vec<(usize, u32)> = Vec::new();
        let mut matcher = Matcher {
            used: Vec::new(),
            first: HashMap::default(),
            next_same: Vec::new(),
        };
        let weak = EdgeLabel::bare(EdgeKind::Weak);
        for (i, &obj) in rec.objects.iter().enumerate() {
            let from = i as u32;
            children.clear();
            walker::traverse_with_keys(obj, &mut children);
            let explicit_frame = ffi::PyFrame_Check(obj) != 0
                && prewalk
                    .frames
                    .iter()
                    .any(|f| f.frame == obj && f.explicit_locals);
            if children.is_empty() && !explicit_frame && ffi::PyWeakref_Check(obj) == 0 {
                continue;
            }
            let default = labeler.labels(obj, &mut labels);
            let b = &mut *labeler.b;
            matcher.match_all(&children, &labels, default, |child, label| {
                if let Some(&to) = rec.index.get(&(child as usize)) {
                    b.add_edge_packed(from, to, label);
                    incoming[to as usize] += 1;
                }
            });
            if explicit_frame {
                // 3.11+: the interpreter frame holds these; tp_traverse of a
                // running frame does not report them.
                let from_traverse: HashSet<usize> = children.iter().map(|&c| c as usize).collect();
                for &(value, packed) in &labels {
                    if from_traverse.contains(&value) {
                        continue;
                    }
                    if let Some(&to) = rec.index.get(&value) {
                        b.add_edge_packed(from, to, packed);
                        incoming[to as usize] += 1;
                    }
                }
            }
            if ffi::PyWeakref_Check(obj) != 0 {
                let referent: *mut ffi::PyObject = *(obj as *const u8)
                    .add(2 * std::mem::size_of::<usize>())
                    .cast();
                if let Some(&to) = rec.index.get(&(referent as usize)) {
                    b.add_edge(from, to, weak);
                }
            }
        }
        drop(labeler);

        // Roots: modules, builtins, sys, frames, classes.
        let node_of = |obj: *mut ffi::PyObject| rec.index.get(&(obj as usize)).copied();
        let modules = ffi::PyImport_GetModuleDict();
        if !modules.is_null() && ffi::PyDict_Check(modules) != 0 {
            if let Some(node) = node_of(modules) {
                b.add_root(RootKind::Sys, "sys.modules", node, 0);
            }
            let mut position: ffi::Py_ssize_t = 0;
            let mut key = std::ptr::null_mut();
            let mut value = std::ptr::null_mut();
            while ffi::PyDict_Next(modules, &mut position, &mut key, &mut value) != 0 {
                let (Some(name), Some(node)) = (layout::read_str(key), node_of(value)) else {
                    continue;
                };
                let kind = match name.as_str() {
                    "builtins" => RootKind::Builtins,
                    "sys" => RootKind::Sys,
                    _ => RootKind::Module,
                };
                b.add_root(kind, &name, node, 0);
            }
        }
        let builtins = ffi::PyEval_GetBuiltins();
        if let Some(node) = (!builtins.is_null()).then(|| node_of(builtins)).flatten() {
            b.add_root(RootKind::Builtins, "builtins.__dict__", node, 0);
        }
        for frame in &prewalk.frames {
            if let Some(node) = node_of(frame.frame) {
                b.add_root(RootKind::Frame, &frame.root_name, node, 0);
            }
        }
        for (i, &obj) in rec.objects.iter().enumerate() {
            if ffi::PyType_Check(obj) != 0 {
                let names = names::type_names(py, obj.cast());
                b.add_root(RootKind::Class, &names.key(), i as u32, 0);
            }
        }
        // Hidden holders: references no walked object accounts for.
        for (i, (&refcount, &found)) in rec.refcount.iter().zip(&incoming).enumerate() {
            if layout::is_immortal(refcount) {
                continue;
            }
            let missing = refcount - found as isize;
            if missing > 0 {
                b.add_root(
                    RootKind::HiddenHolder,
                    "hidden",
                    i as u32,
                    u32::try_from(missing).unwrap_or(u32::MAX),
                );
                stats.hidden_holders += 1;
            }
        }
    }
    b.finish()
}

/// Writes `snap` to `path` atomically: a temporary file beside it, renamed
/// over `path` once complete, so `path` is never a partial snapshot.
pub(crate) fn save_atomic(
    snap: &memlens_heap::HeapSnapshot,
    path: &Path,
) -> std::io::Result<memlens_format::WriteStats> {
    let tmp = partial_path(path, std::process::id());
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let stats = write_to(snap, file)?;
        std::fs::rename(&tmp, path)?;
        Ok(stats)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `snap` on `file` and syncs it.
pub(crate) fn write_to(
    snap: &memlens_heap::HeapSnapshot,
    file: std::fs::File,
) -> std::io::Result<memlens_format::WriteStats> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let stats = memlens_format::write_snapshot(snap, &mut out)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    out.flush()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(stats)
}

/// `DIR/.NAME.PID.partial`: where a snapshot is written before its rename.
pub(crate) fn partial_path(path: &Path, pid: u32) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot.mlh".to_owned());
    path.with_file_name(format!(".{name}.{pid}.partial"))
}

/// Writes a message on standard error with one `write(2)`: a fork child
/// takes no lock another thread of its parent may have held.
pub(crate) fn child_message(message: &str) {
    let text = format!("memlens: snapshot child: {message}\n");
    // SAFETY: writes a buffer we own to fd 2.
    unsafe {
        libc::write(2, text.as_ptr().cast::<c_void>(), text.len());
    }
}

//! Everything that depends on the CPython version: object layouts, size
//! rules, where an instance keeps its attributes.
//!
//! One build of the extension serves one CPython minor version, but the
//! version is still read at run time (`Py_GetVersion`) and every layout
//! decision goes through [`minor`], so that the differences between 3.9 and
//! 3.13 are all in this file. Offsets are for 64-bit builds with the GIL
//! (the only ones memlens supports); sizes follow each version's
//! `__sizeof__` implementation, checked against `sys.getsizeof` by
//! `tests/heap/test_sizes.py`.

use std::ffi::{c_char, c_ulong, c_void, CStr};
use std::sync::OnceLock;

use pyo3::ffi;

/// CPython's type flags that moved or appeared across versions.
const TPFLAGS_INLINE_VALUES: c_ulong = 1 << 2; // 3.13+
const TPFLAGS_MANAGED_WEAKREF: c_ulong = 1 << 3; // 3.12+
const TPFLAGS_MANAGED_DICT: c_ulong = 1 << 4; // 3.11+
const TPFLAGS_IMMUTABLETYPE: c_ulong = 1 << 8; // 3.10+
const TPFLAGS_HEAPTYPE: c_ulong = 1 << 9;
const TPFLAGS_HAVE_GC: c_ulong = 1 << 14;

const WORD: usize = std::mem::size_of::<*mut c_void>();
/// Larger than any object a 64-bit process can allocate in practice (1 TiB).
const MAX_PLAUSIBLE_SIZE: u64 = 1 << 40;

/// `sizeof(PyGC_Head)`: two words on every supported version.
const GC_HEAD_SIZE: u64 = 16;

/// The running interpreter's minor version (9 for 3.9).
pub(crate) fn minor() -> u32 {
    static MINOR: OnceLock<u32> = OnceLock::new();
    *MINOR.get_or_init(|| {
        // SAFETY: Py_GetVersion returns a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(ffi::Py_GetVersion()) };
        let text = version.to_string_lossy();
        text.split(|c: char| !c.is_ascii_digit())
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    })
}

/// Reads a value of type `T` at `offset` bytes from `base`.
///
/// # Safety
/// `base + offset` must point to a readable, aligned `T` inside a live object.
#[inline]
unsafe fn read<T: Copy>(base: *const c_void, offset: usize) -> T {
    // SAFETY: guaranteed by the caller.
    unsafe { *(base.cast::<u8>().add(offset).cast::<T>()) }
}

/// The type's flags.
///
/// # Safety
/// `tp` is a live type object and the GIL is held.
#[inline]
pub(crate) unsafe fn type_flags(tp: *mut ffi::PyTypeObject) -> c_ulong {
    // SAFETY: tp is a live type object.
    unsafe { (*tp).tp_flags }
}

/// Whether `obj` is a GC object right now (`PyObject_IS_GC`: the type is GC
/// and, for type objects, it is a heap type). Only such objects may be
/// traversed: `type_traverse` on a static type aborts the interpreter.
///
/// # Safety
/// `obj` is a live object and the GIL is held.
#[inline]
pub(crate) unsafe fn is_gc(obj: *mut ffi::PyObject) -> bool {
    // SAFETY: obj is live; this is PyObject_IS_GC, inlined: the type's
    // HAVE_GC flag, then its tp_is_gc slot (set by `type` only: C code).
    unsafe {
        let tp = ffi::Py_TYPE(obj);
        if type_flags(tp) & TPFLAGS_HAVE_GC == 0 {
            return false;
        }
        match (*tp).tp_is_gc {
            Some(is_gc) => is_gc(obj) != 0,
            None => true,
        }
    }
}

/// Whether the GC tracks `obj` (`PyObject_GC_IsTracked`, inlined): a GC
/// object whose GC header is linked into a generation list.
///
/// # Safety
/// `obj` is a live object and the GIL is held.
#[inline]
pub(crate) unsafe fn is_tracked(obj: *mut ffi::PyObject) -> bool {
    // SAFETY: GC objects have a PyGC_Head (two words) right before the
    // object on every supported version; `_gc_next` is 0 when untracked.
    unsafe { is_gc(obj) && *obj.cast::<usize>().sub(2) != 0 }
}

/// Whether the object's refcount marks it immortal: 3.12+'s immortal bit,
/// or 3.11's deep-frozen objects (the stdlib's code objects and their
/// constants, statically allocated with a refcount of 999,999,999 that
/// no program reaches otherwise).
pub(crate) fn is_immortal(refcount: isize) -> bool {
    match minor() {
        11 => refcount >= 999_000_000,
        m => m >= 12 && (refcount as u32 as i32) < 0,
    }
}

/// The bytes `sys.getsizeof` adds in front of the object: the GC header
/// (since 3.11 for every instance of a GC type, static type objects included)
/// and, since 3.11, the managed dict/weakref pre-header.
unsafe fn preheader_size(obj: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> u64 {
    let minor = minor();
    // 3.13+ adds no pre-header for static type objects (`int`, `str`…).
    if minor >= 13 && tp == &raw mut ffi::PyType_Type {
        // SAFETY: obj is a live type object (its type is `type`).
        let flags = unsafe { type_flags(obj.cast()) };
        if flags & TPFLAGS_HEAPTYPE == 0 {
            return 0;
        }
    }
    // SAFETY: obj and tp are live (caller).
    let gc = unsafe {
        if minor >= 11 {
            type_flags(tp) & TPFLAGS_HAVE_GC != 0
        } else {
            is_gc(obj)
        }
    };
    // SAFETY: tp is live.
    let flags = unsafe { type_flags(tp) };
    let preheader_flags = match minor {
        0..=10 => 0,
        11 => TPFLAGS_MANAGED_DICT,
        _ => TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF,
    };
    let mut size = if gc { GC_HEAD_SIZE } else { 0 };
    if flags & preheader_flags != 0 {
        size += 2 * WORD as u64;
    }
    size
}

/// How an object's `__sizeof__` is computed: by the nearest builtin base
/// with its own rule, else `object.__sizeof__` (basicsize + itemsize × len).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SizeRule {
    Object,
    Int,
    Str,
    List,
    Dict,
    Set,
    ByteArray,
    Type,
    /// `collections.OrderedDict`: the dict, its fast-node index and nodes.
    OrderedDict,
    /// `collections.deque`: the blocks holding the items.
    Deque,
    /// `array.array`: the allocated item buffer.
    Array,
    /// Code objects: the variable part (3.11+), caches and `co_extra`.
    Code,
    /// Frame objects: the locals and value stack the code needs.
    Frame,
    /// Generators, coroutines, async generators (3.11+: embedded frame).
    Generator,
}

/// Type objects with their own `__sizeof__` that live outside the static
/// builtins pyo3 exposes, resolved once by [`init`] (never during a walk):
/// deque and OrderedDict from the built-in `_collections` module, the rest
/// are static types of the interpreter. 0 when not resolved. (`array.array`
/// is recognized by [`is_array_type`]: importing `array` to learn its
/// address would cost every `import memlens`.)
#[derive(Default)]
struct ExtraTypes {
    ordered_dict: usize,
    deque: usize,
    code: usize,
    frame: usize,
    generators: [usize; 3],
}

static EXTRA_TYPES: OnceLock<ExtraTypes> = OnceLock::new();

/// The interned `"__sizeof__"`, made by [`init`] (never during a walk).
static SIZEOF_NAME: OnceLock<usize> = OnceLock::new();

extern "C" {
    /// The attribute `name` found along `tp`'s MRO, as a borrowed reference,
    /// or NULL; reads type dicts (and the type attribute cache) only, and
    /// runs no Python code. Exported by every CPython 3.9–3.13.
    fn _PyType_Lookup(tp: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// The `__sizeof__` of `tp` when it is native code that knows memory the
/// layout rules cannot see (a numpy array's data buffer, an Arrow array's
/// buffers, `io.BytesIO`'s buffer…): a method of a C extension type
/// (`method_descriptor`) or a compiled Cython method. 0 for a `__sizeof__`
/// written in Python (never called: it is the program's code), for
/// `object.__sizeof__`, and for the builtins whose size the layout rules
/// already give (`bytes`, `tuple` and every type with a rule).
///
/// # Safety
/// `tp` is a live type; the GIL is held.
unsafe fn native_sizeof_of(tp: *mut ffi::PyTypeObject, rule: SizeRule) -> usize {
    let Some(&name) = SIZEOF_NAME.get() else {
        return 0;
    };
    if rule != SizeRule::Object {
        return 0;
    }
    // SAFETY: tp is live (caller), name is an interned str kept forever.
    unsafe {
        let descr = _PyType_Lookup(tp, name as *mut ffi::PyObject);
        if descr.is_null() {
            return 0;
        }
        let descr_type = ffi::Py_TYPE(descr);
        if descr_type == &raw mut ffi::PyMethodDescr_Type {
            let owner = (*descr.cast::<ffi::PyDescrObject>()).d_type;
            let layout_knows = [
                &raw mut ffi::PyBaseObject_Type,
                &raw mut ffi::PyBytes_Type,
                &raw mut ffi::PyTuple_Type,
            ];
            return if layout_knows.contains(&owner) {
                0
            } else {
                descr as usize
            };
        }
        let type_name = (*descr_type).tp_name;
        if !type_name.is_null()
            && CStr::from_ptr(type_name)
                .to_bytes()
                .ends_with(b"cython_function_or_method")
        {
            return descr as usize;
        }
        0
    }
}

/// What `obj` owns, in bytes: `shallow` (its [`object_size_with`]) unless
/// its type has a native `__sizeof__`, which is then called as
/// `sys.getsizeof` calls it (plus the same pre-header).
///
/// Calling it runs native code and allocates the int it returns, so it is
/// never called from inside a `tp_traverse` callback: the walker calls it
/// after the walk (see `walker::walk_heap`), the deep sizer between two
/// traversals. A `__sizeof__` that raises or returns nonsense leaves the
/// shallow size; a value below the shallow size is raised to it.
///
/// # Safety
/// `obj` is a live object of the type `layout` was made for; the GIL is
/// held; no exception is set.
pub(crate) unsafe fn owned_size(obj: *mut ffi::PyObject, layout: &TypeLayout, shallow: u64) -> u64 {
    if layout.native_sizeof == 0 {
        return shallow;
    }
    // SAFETY: the descriptor is borrowed from obj's live type's MRO; obj is
    // live; calling a method descriptor with its instance first is how
    // `obj.__sizeof__()` dispatches, minus the attribute lookup (which could
    // run a Python `__getattribute__`).
    unsafe {
        let args = [obj];
        let result = ffi::PyObject_Vectorcall(
            layout.native_sizeof as *mut ffi::PyObject,
            args.as_ptr(),
            1,
            std::ptr::null_mut(),
        );
        if result.is_null() {
            ffi::PyErr_Clear();
            return shallow;
        }
        let value = ffi::PyLong_AsUnsignedLongLong(result);
        ffi::Py_DECREF(result);
        if !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return shallow;
        }
        let preheader = layout
            .preheader
            .unwrap_or_else(|| preheader_size(obj, ffi::Py_TYPE(obj)));
        value.saturating_add(preheader).max(shallow)
    }
}

/// [`owned_size`] of `obj`, its layout looked up: what `sys.getsizeof`
/// says for builtins and native `__sizeof__` types alike.
///
/// # Safety
/// As [`owned_size`]; in addition the caller must hold every object it will
/// read after this call by a strong reference or through live referrers,
/// since native code runs.
pub(crate) unsafe fn object_owned_size(obj: *mut ffi::PyObject) -> u64 {
    // SAFETY: obj is live (caller).
    unsafe {
        let type_layout = type_layout(ffi::Py_TYPE(obj));
        let shallow = object_size_with(obj, &type_layout);
        owned_size(obj, &type_layout, shallow)
    }
}

unsafe fn size_rule(mut tp: *mut ffi::PyTypeObject) -> SizeRule {
    // Only the addresses of the static builtin type objects are taken.
    let known = {
        [
            (&raw mut ffi::PyLong_Type, SizeRule::Int),
            (&raw mut ffi::PyUnicode_Type, SizeRule::Str),
            (&raw mut ffi::PyList_Type, SizeRule::List),
            (&raw mut ffi::PyDict_Type, SizeRule::Dict),
            (&raw mut ffi::PySet_Type, SizeRule::Set),
            (&raw mut ffi::PyFrozenSet_Type, SizeRule::Set),
            (&raw mut ffi::PyByteArray_Type, SizeRule::ByteArray),
            (&raw mut ffi::PyType_Type, SizeRule::Type),
        ]
    };
    let extra = EXTRA_TYPES.get();
    let extra_rule = |tp: usize| -> Option<SizeRule> {
        let extra = extra?;
        if tp == 0 {
            None
        } else if tp == extra.ordered_dict {
            Some(SizeRule::OrderedDict)
        } else if tp == extra.deque {
            Some(SizeRule::Deque)
        } else if tp == extra.code {
            Some(SizeRule::Code)
        } else if tp == extra.frame {
            Some(SizeRule::Frame)
        } else if extra.generators.contains(&tp) {
            Some(SizeRule::Generator)
        } else {
            None
        }
    };
    while !tp.is_null() {
        if let Some((_, rule)) = known.iter().find(|(known_tp, _)| *known_tp == tp) {
            return *rule;
        }
        if let Some(rule) = extra_rule(tp as usize) {
            return rule;
        }
        // SAFETY: tp is a live type.
        if unsafe { is_array_type(tp) } {
            return SizeRule::Array;
        }
        // SAFETY: tp is a live type; tp_base is NULL or a live type.
        tp = unsafe { (*tp).tp_base };
    }
    SizeRule::Object
}

/// Whether `tp` is the `array` module's `array.array`: named so, and a
/// static type (3.9) or an immutable one made from a spec (3.10+), which a
/// Python class (`type("array.array", …)`) never is.
///
/// # Safety
/// `tp` is a live type object.
unsafe fn is_array_type(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: a live type's tp_name is a NUL-terminated string.
    let name = unsafe { (*tp).tp_name };
    // SAFETY: as above.
    if name.is_null() || unsafe { CStr::from_ptr(name) }.to_bytes() != b"array.array" {
        return false;
    }
    // SAFETY: tp is live.
    let flags = unsafe { type_flags(tp) };
    flags & TPFLAGS_HEAPTYPE == 0 || (minor() >= 10 && flags & TPFLAGS_IMMUTABLETYPE != 0)
}

/// What the size of an instance depends on, computed once per type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TypeLayout {
    rule: SizeRule,
    basicsize: u64,
    itemsize: u64,
    /// The pre-header when it is the same for every instance, else None
    /// (type objects: it depends on the instance).
    preheader: Option<u64>,
    /// The type's own native `__sizeof__` (a borrowed descriptor owned by
    /// the type's MRO), 0 when the layout rule already gives its size.
    native_sizeof: usize,
}

impl TypeLayout {
    /// Whether instances own memory that only their native `__sizeof__` can
    /// tell (see [`native_sizeof_of`]).
    pub(crate) fn has_native_sizeof(&self) -> bool {
        self.native_sizeof != 0
    }
}

/// The size layout of `tp`'s instances.
///
/// # Safety
/// `tp` is a live type object and the GIL is held.
pub(crate) unsafe fn type_layout(tp: *mut ffi::PyTypeObject) -> TypeLayout {
    // SAFETY: tp is live.
    unsafe {
        let rule = size_rule(tp);
        let flags = type_flags(tp);
        let preheader = if rule == SizeRule::Type || (*tp).tp_is_gc.is_some() {
            None
        } else {
            let gc = if flags & TPFLAGS_HAVE_GC != 0 {
                GC_HEAD_SIZE
            } else {
                0
            };
            let preheader_flags = match minor() {
                0..=10 => 0,
                11 => TPFLAGS_MANAGED_DICT,
                _ => TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF,
            };
            Some(
                gc + if flags & preheader_flags != 0 {
                    2 * WORD as u64
                } else {
                    0
                },
            )
        };
        TypeLayout {
            rule,
            basicsize: (*tp).tp_basicsize.max(0) as u64,
            itemsize: (*tp).tp_itemsize.max(0) as u64,
            preheader,
            native_sizeof: native_sizeof_of(tp, rule),
        }
    }
}

/// The size of `obj` in bytes, as `sys.getsizeof(obj)` reports it for every
/// builtin type, computed from the object's layout without calling any
/// Python code. For other types it is what `object.__sizeof__` would say
/// (basicsize + itemsize × length, plus the GC and dict pre-headers): a
/// class's own `__sizeof__` is never called, since it is user code.
///
/// # Safety
/// `obj` is a live object and the GIL is held.
pub(crate) unsafe fn object_size(obj: *mut ffi::PyObject) -> u64 {
    // SAFETY: obj is live; its type is live.
    unsafe { object_size_with(obj, &type_layout(ffi::Py_TYPE(obj))) }
}

/// [`object_size`] with the type's layout already known.
///
/// # Safety
/// `obj` is a live object, `layout` is [`type_layout`] of its type, and the
/// GIL is held.
pub(crate) unsafe fn object_size_with(obj: *mut ffi::PyObject, layout: &TypeLayout) -> u64 {
    // SAFETY: obj is live; every read below stays inside the layout of the
    // builtin base that `size_rule` found for its type.
    unsafe {
        let basicsize = layout.basicsize;
        let base = obj as *const c_void;
        let body = match layout.rule {
            SizeRule::Object => {
                // A few types declare an itemsize without keeping their length
                // in ob_size (3.11+ generators keep a pointer there): a length
                // no allocation could hold means "not a length".
                let length = read::<isize>(base, 2 * WORD).unsigned_abs() as u64;
                match layout.itemsize.checked_mul(length) {
                    Some(items) if layout.itemsize > 0 && items < MAX_PLAUSIBLE_SIZE => {
                        basicsize + items
                    }
                    _ => basicsize,
                }
            }
            SizeRule::Int => int_size(base),
            SizeRule::Str => str_size(base),
            SizeRule::List => basicsize + read::<isize>(base, 4 * WORD).max(0) as u64 * WORD as u64,
            SizeRule::Dict => basicsize + dict_extra_size(base),
            SizeRule::Set => {
                let mask: isize = read(base, 4 * WORD);
                let table: *const c_void = read(base, 5 * WORD);
                let smalltable = base.cast::<u8>().add(8 * WORD).cast::<c_void>();
                if table != smalltable {
                    basicsize + (mask.max(0) as u64 + 1) * 2 * WORD as u64
                } else {
                    basicsize
                }
            }
            SizeRule::ByteArray => basicsize + read::<isize>(base, 3 * WORD).max(0) as u64,
            SizeRule::Type => type_size(obj.cast()),
            SizeRule::OrderedDict => {
                basicsize + dict_extra_size(base) + ordered_dict_extra_size(base)
            }
            SizeRule::Deque => basicsize + deque_blocks_size(base),
            SizeRule::Array => basicsize + array_buffer_size(base),
            SizeRule::Code => code_size(base, layout),
            SizeRule::Frame => frame_size(base),
            SizeRule::Generator => generator_size(base, basicsize),
        };
        body + match layout.preheader {
            Some(size) => size,
            None => preheader_size(obj, ffi::Py_TYPE(obj)),
        }
    }
}

/// `OrderedDict.__sizeof__` adds to the dict's size the fast-node index
/// (`od_fast_nodes_size` pointers) and, unless empty, one `_ODictNode`
/// (next, prev, key, hash: four words) per item. `PyODictObject` is private
/// (Objects/odictobject.c) but stable 3.9–3.13: a `PyDictObject` (6 words),
/// then `od_first`, `od_last`, `od_fast_nodes`, `od_fast_nodes_size`.
///
/// # Safety
/// `base` is a live `OrderedDict` (or subclass instance).
unsafe fn ordered_dict_extra_size(base: *const c_void) -> u64 {
    const DICT: usize = 6 * WORD;
    // SAFETY: the fields below are inside PyODictObject, which base is.
    unsafe {
        let used: isize = read(base, 2 * WORD); // ma_used
        let first: *const c_void = read(base, DICT);
        let fast_nodes_size: isize = read(base, DICT + 3 * WORD);
        let mut size = fast_nodes_size.max(0) as u64 * WORD as u64;
        if !first.is_null() {
            size += used.max(0) as u64 * 4 * WORD as u64;
        }
        size
    }
}

/// `deque.__sizeof__` adds one block (left link, 64 items, right link) per
/// block in use: `(leftindex + len + 63) / 64`. `dequeobject` is private
/// (Modules/_collectionsmodule.c), stable 3.9–3.13: var-object header, then
/// `leftblock`, `rightblock`, `leftindex`.
///
/// # Safety
/// `base` is a live deque (or subclass instance).
unsafe fn deque_blocks_size(base: *const c_void) -> u64 {
    const BLOCKLEN: u64 = 64;
    const BLOCK: u64 = (BLOCKLEN + 2) * WORD as u64;
    // SAFETY: ob_size and leftindex are inside dequeobject, which base is.
    let (len, leftindex) =
        unsafe { (read::<isize>(base, 2 * WORD), read::<isize>(base, 5 * WORD)) };
    let blocks = (leftindex.max(0) as u64 + len.max(0) as u64).div_ceil(BLOCKLEN);
    blocks * BLOCK
}

/// `array.__sizeof__` adds `allocated × itemsize`. `arrayobject` is private
/// (Modules/arraymodule.c), stable 3.9–3.13: var-object header, `ob_item`,
/// `allocated`, `ob_descr`; the descriptor starts with `char typecode; int
/// itemsize`.
///
/// # Safety
/// `base` is a live array (or subclass instance).
unsafe fn array_buffer_size(base: *const c_void) -> u64 {
    // SAFETY: allocated and ob_descr are inside arrayobject; ob_descr points
    // to a static descriptor table entry in the array module (never NULL).
    unsafe {
        let allocated: isize = read(base, 4 * WORD);
        let descr: *const c_void = read(base, 5 * WORD);
        if descr.is_null() {
            return 0;
        }
        let itemsize: i32 = read(descr, 4);
        allocated.max(0) as u64 * itemsize.max(0) as u64
    }
}

/// Offsets in `PyCodeObject` (public header `cpython/code.h`, 64-bit).
struct CodeOffsets {
    stacksize: usize,
    /// `co_nlocals` (≤3.10) or `co_nlocalsplus` (3.11+).
    nlocals: usize,
    extra: usize,
}

fn code_offsets() -> CodeOffsets {
    match minor() {
        0..=10 => CodeOffsets {
            stacksize: 32,
            nlocals: 28,
            extra: 144,
        },
        11 => CodeOffsets {
            stacksize: 68,
            nlocals: 76,
            extra: 176,
        },
        12 => CodeOffsets {
            stacksize: 64,
            nlocals: 72,
            extra: 184,
        },
        _ => CodeOffsets {
            stacksize: 64,
            nlocals: 72,
            extra: 192,
        },
    }
}

/// Reads the code's `(locals, stacksize)`: on 3.9–3.10 the locals include
/// cell and free variables (the frame's `f_localsplus` holds all three).
///
/// # Safety
/// `code` is a live code object.
unsafe fn code_frame_slots(code: *const c_void) -> u64 {
    let offsets = code_offsets();
    // SAFETY: the fields are inside PyCodeObject; on ≤3.10 co_cellvars and
    // co_freevars are tuples (never NULL on a constructed code object).
    unsafe {
        let stacksize: i32 = read(code, offsets.stacksize);
        let nlocals: i32 = read(code, offsets.nlocals);
        let mut slots = stacksize.max(0) as u64 + nlocals.max(0) as u64;
        if minor() <= 10 {
            for offset in [80, 88] {
                let names: *mut ffi::PyObject = read(code, offset);
                if !names.is_null() {
                    slots += read::<isize>(names.cast(), 2 * WORD).max(0) as u64;
                }
            }
        }
        slots
    }
}

/// `code.__sizeof__`: 3.9–3.10, the basic size plus the `co_cell2arg` map
/// (one `Py_ssize_t` per cell variable) and, once built, the opcache (a
/// byte per code unit for the map, `co_opcache_size` entries of 32 bytes); 3.11+, the basic size plus the bytecode (2 bytes a
/// code unit), rounded up to a word. Both add `co_extra` (PEP 523 scratch
/// space: a length word, then one pointer per slot).
///
/// # Safety
/// `base` is a live code object and `layout` its type's layout.
unsafe fn code_size(base: *const c_void, layout: &TypeLayout) -> u64 {
    let offsets = code_offsets();
    // SAFETY: every field read is inside PyCodeObject; co_extra, when set,
    // points to a `_PyCodeObjectExtra` (ce_size, then the slots).
    unsafe {
        let mut size = if minor() <= 10 {
            let mut size = layout.basicsize;
            let cell2arg: *const c_void = read(base, 96);
            let cellvars: *mut ffi::PyObject = read(base, 88);
            if !cell2arg.is_null() && !cellvars.is_null() {
                size += read::<isize>(cellvars.cast(), 2 * WORD).max(0) as u64 * WORD as u64;
            }
            let opcache: *const c_void = read(base, 160);
            if !opcache.is_null() {
                // The map: one byte per code unit of co_code (a bytes object
                // at offset 48, its length the third word).
                let bytecode: *mut ffi::PyObject = read(base, 48);
                if !bytecode.is_null() {
                    size += read::<isize>(bytecode.cast(), 2 * WORD).max(0) as u64 / 2;
                }
                const OPCACHE_ENTRY: u64 = 32; // sizeof(_PyOpcache)
                size += read::<u8>(base, 172) as u64 * OPCACHE_ENTRY;
            }
            size
        } else {
            let units = read::<isize>(base, 2 * WORD).max(0) as u64;
            let unrounded = layout.basicsize + units * layout.itemsize;
            (unrounded + WORD as u64 - 1) & !(WORD as u64 - 1)
        };
        let extra: *const c_void = read(base, offsets.extra);
        if !extra.is_null() {
            let slots = read::<isize>(extra, 0).max(1) as u64;
            size += WORD as u64 + slots * WORD as u64;
        }
        size
    }
}

/// `offsetof(_PyInterpreterFrame, localsplus)` on 3.11–3.13.
const INTERPRETER_FRAME_LOCALSPLUS: usize = 72;

/// The code object an interpreter frame (3.11+) runs, or NULL when its
/// executable is not a code object.
///
/// # Safety
/// `frame` points to a live `_PyInterpreterFrame`.
unsafe fn interpreter_frame_code(frame: *const c_void) -> *const c_void {
    // SAFETY: f_code (3.11: after f_func, f_globals, f_builtins, f_locals;
    // 3.12: first) / f_executable (3.13: first) is a strong reference.
    unsafe {
        let code: *mut ffi::PyObject = read(frame, if minor() == 11 { 4 * WORD } else { 0 });
        if code.is_null() || ffi::Py_TYPE(code) != &raw mut ffi::PyCode_Type {
            return std::ptr::null();
        }
        code.cast()
    }
}

/// `frame.__sizeof__`: 3.9–3.10, `sizeof(PyFrameObject)` plus one word per
/// local, cell, free variable and stack slot beyond the first; 3.11+, the
/// frame object up to its embedded interpreter frame's `localsplus`, plus
/// `co_nlocalsplus + co_stacksize` words.
///
/// # Safety
/// `base` is a live frame object.
unsafe fn frame_size(base: *const c_void) -> u64 {
    // SAFETY: f_code (≤3.10) and f_frame (3.11+) are inside PyFrameObject;
    // both point to live objects the frame keeps alive.
    unsafe {
        match minor() {
            0..=10 => {
                let frame_struct: u64 = if minor() == 9 { 368 } else { 360 };
                let code: *const c_void = read(base, 4 * WORD);
                if code.is_null() {
                    return frame_struct;
                }
                frame_struct + code_frame_slots(code).saturating_sub(1) * WORD as u64
            }
            minor => {
                let frame_data: usize = if minor >= 13 { 64 } else { 48 };
                let header = (frame_data + INTERPRETER_FRAME_LOCALSPLUS) as u64;
                let frame: *const c_void = read(base, 3 * WORD);
                let code = if frame.is_null() {
                    std::ptr::null()
                } else {
                    interpreter_frame_code(frame)
                };
                if code.is_null() {
                    return header;
                }
                header + code_frame_slots(code) * WORD as u64
            }
        }
    }
}

/// Generators, coroutines and async generators: 3.9–3.10 have no
/// `__sizeof__` of their own (the basic size); 3.11+ embed the frame, and
/// `gen_sizeof` counts it like a frame's: up to `localsplus`, then
/// `co_nlocalsplus + co_stacksize` words.
///
/// # Safety
/// `base` is a live generator, coroutine or async generator.
unsafe fn generator_size(base: *const c_void, basicsize: u64) -> u64 {
    // SAFETY: gi_code (3.11) / gi_iframe (3.12+) are inside PyGenObject;
    // the code is kept alive by the generator.
    unsafe {
        let (iframe, code) = match minor() {
            0..=10 => return basicsize,
            11 => (80, read::<*const c_void>(base, 2 * WORD)),
            _ => (72, interpreter_frame_code(base.cast::<u8>().add(72).cast())),
        };
        let header = (iframe + INTERPRETER_FRAME_LOCALSPLUS) as u64;
        if code.is_null() {
            return header;
        }
        header + code_frame_slots(code) * WORD as u64
    }
}

/// `int.__sizeof__`: the digits after a fixed header.
unsafe fn int_size(base: *const c_void) -> u64 {
    const HEADER: u64 = 24;
    const DIGIT: u64 = 4;
    // SAFETY: base is an int; ob_size (≤3.11) / lv_tag (3.12+) is the third word.
    let word: isize = unsafe { read(base, 2 * WORD) };
    match minor() {
        0..=10 => HEADER + word.unsigned_abs() as u64 * DIGIT,
        11 => HEADER + (word.unsigned_abs() as u64).max(1) * DIGIT,
        _ => HEADER + ((word as usize >> 3) as u64).max(1) * DIGIT,
    }
}

/// Offsets inside `PyASCIIObject` / `PyCompactUnicodeObject` / `PyUnicodeObject`.
struct StrLayout {
    ascii_size: usize,
    compact_size: usize,
    utf8_length: usize,
    utf8: usize,
    /// ≤3.11 only: the `wchar_t` cache.
    wstr: Option<(usize, usize)>,
    legacy_data: usize,
    legacy_size: usize,
}

fn str_layout() -> StrLayout {
    if minor() <= 11 {
        StrLayout {
            ascii_size: 48,
            compact_size: 72,
            utf8_length: 48,
            utf8: 56,
            wstr: Some((40, 64)),
            legacy_data: 72,
            legacy_size: 80,
        }
    } else {
        StrLayout {
            ascii_size: 40,
            compact_size: 56,
            utf8_length: 40,
            utf8: 48,
            wstr: None,
            legacy_data: 56,
            legacy_size: 64,
        }
    }
}

/// The decoded `state` bit field of a str.
struct StrState {
    kind: usize,
    compact: bool,
    ascii: bool,
    ready: bool,
}

unsafe fn str_state(base: *const c_void) -> StrState {
    // SAFETY: base is a str; `state` is the 32-bit field after length and hash.
    let state: u32 = unsafe { read(base, 4 * WORD) };
    StrState {
        kind: ((state >> 2) & 0b111) as usize,
        compact: state & (1 << 5) != 0,
        ascii: state & (1 << 6) != 0,
        // `ready` exists up to 3.11; later strings are always ready.
        ready: minor() >= 12 || state & (1 << 7) != 0,
    }
}

/// Pointer to the characters of a str (NULL for a legacy string without data).
unsafe fn str_data(base: *const c_void, state: &StrState, layout: &StrLayout) -> *const c_void {
    // SAFETY: base is a str whose layout matches `state`.
    unsafe {
        if state.compact && state.ascii {
            base.cast::<u8>().add(layout.ascii_size).cast()
        } else if state.compact {
            base.cast::<u8>().add(layout.compact_size).cast()
        } else {
            read(base, layout.legacy_data)
        }
    }
}

/// `str.__sizeof__`: header, characters, and the cached UTF-8 / wchar_t copies.
unsafe fn str_size(base: *const c_void) -> u64 {
    let layout = str_layout();
    // SAFETY: base is a str; all offsets come from its version's layout.
    unsafe {
        let state = str_state(base);
        let length = read::<isize>(base, 2 * WORD).max(0) as u64;
        let kind = state.kind as u64;
        let compact_ascii = state.compact && state.ascii;
        let data = str_data(base, &state, &layout);
        let mut size = if compact_ascii {
            layout.ascii_size as u64 + length + 1
        } else if state.compact {
            layout.compact_size as u64 + (length + 1) * kind
        } else if data.is_null() {
            layout.legacy_size as u64
        } else {
            layout.legacy_size as u64 + (length + 1) * kind
        };
        if let Some((wstr_offset, wstr_length_offset)) = layout.wstr {
            let wstr: *const c_void = read(base, wstr_offset);
            if !wstr.is_null() && (!state.ready || wstr != data) {
                let wstr_length = if compact_ascii {
                    length
                } else {
                    read::<isize>(base, wstr_length_offset).max(0) as u64
                };
                size += (wstr_length + 1) * 4;
            }
        }
        if !compact_ascii {
            let utf8: *const c_void = read(base, layout.utf8);
            if !utf8.is_null() && utf8 != data {
                size += read::<isize>(base, layout.utf8_length).max(0) as u64 + 1;
            }
        }
        size
    }
}

/// Reads a str's characters into a Rust `String`, without asking CPython for
/// a UTF-8 copy (which would be cached in the str and change its size).
///
/// # Safety
/// `obj` is a live object and the GIL is held.
pub(crate) unsafe fn read_str(obj: *mut ffi::PyObject) -> Option<String> {
    // SAFETY: obj is live; it is only read as a str after the type check.
    unsafe {
        if ffi::PyUnicode_Check(obj) == 0 {
            return None;
        }
        let layout = str_layout();
        let base = obj as *const c_void;
        let state = str_state(base);
        if !state.ready {
            return None;
        }
        let data = str_data(base, &state, &layout);
        if data.is_null() {
            return Some(String::new());
        }
        let length = read::<isize>(base, 2 * WORD).max(0) as usize;
        let chars = (0..length).map(|i| match state.kind {
            1 => read::<u8>(data, i) as u32,
            2 => read::<u16>(data, 2 * i) as u32,
            _ => read::<u32>(data, 4 * i),
        });
        Some(
            chars
                .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
        )
    }
}

/// The dict-specific part of `dict.__sizeof__`: the values array of a split
/// dict and the keys table when this dict owns it.
unsafe fn dict_extra_size(base: *const c_void) -> u64 {
    // SAFETY: base is a dict: ma_keys and ma_values are its 5th and 6th words.
    unsafe {
        let keys: *const c_void = read(base, 4 * WORD);
        let values: *const c_void = read(base, 5 * WORD);
        if keys.is_null() {
            return 0;
        }
        let mut size = 0;
        if !values.is_null() {
            size += if minor() <= 10 {
                usable_fraction(read::<isize>(keys, WORD).max(0) as u64) * WORD as u64
            } else {
                shared_keys_usable(keys) * WORD as u64
            };
        }
        if read::<isize>(keys, 0) == 1 {
            size += keys_size(keys);
        }
        size
    }
}

fn usable_fraction(slots: u64) -> u64 {
    (slots << 1) / 3
}

/// `shared_keys_usable_size` (3.11+): entries used plus entries still free.
unsafe fn shared_keys_usable(keys: *const c_void) -> u64 {
    // SAFETY: keys is a 3.11+ PyDictKeysObject: dk_usable at 16, dk_nentries at 24.
    unsafe { (read::<isize>(keys, 2 * WORD).max(0) + read::<isize>(keys, 3 * WORD).max(0)) as u64 }
}

/// `_PyDict_KeysSize`: header, index table and entry table of a keys object.
unsafe fn keys_size(keys: *const c_void) -> u64 {
    // SAFETY: keys is a live PyDictKeysObject of this version's layout.
    unsafe {
        if minor() <= 10 {
            let slots = read::<isize>(keys, WORD).max(0) as u64;
            let index_bytes = match slots {
                0..=0xff => 1,
                0x100..=0xffff => 2,
                0x1_0000..=0xffff_ffff => 4,
                _ => 8,
            };
            40 + index_bytes * slots + usable_fraction(slots) * 3 * WORD as u64
        } else {
            let log2_size: u8 = read(keys, WORD);
            let log2_index_bytes: u8 = read(keys, WORD + 1);
            let kind: u8 = read(keys, WORD + 2);
            let entry = if kind == 0 {
                3 * WORD as u64
            } else {
                2 * WORD as u64
            };
            let slots = 1u64 << log2_size.min(62);
            32 + (1u64 << log2_index_bytes.min(62)) + usable_fraction(slots) * entry
        }
    }
}

/// `type.__sizeof__`: the type struct, plus the shared-keys table of a heap type.
unsafe fn type_size(obj: *mut ffi::PyTypeObject) -> u64 {
    // SAFETY: obj is a live type object (its type derives from `type`).
    unsafe {
        if type_flags(obj) & TPFLAGS_HEAPTYPE != 0 {
            let heap = obj.cast::<ffi::PyHeapTypeObject>();
            let mut size = ffi::PyType_Type.tp_basicsize.max(0) as u64;
            let keys = (*heap).ht_cached_keys;
            if !keys.is_null() {
                size += keys_size(keys);
            }
            size
        } else {
            static_type_size()
        }
    }
}

/// `sizeof(PyTypeObject)` of the running interpreter, as `type.__sizeof__`
/// reports it for a static type; measured once by [`init`].
static STATIC_TYPE_SIZE: OnceLock<u64> = OnceLock::new();

fn static_type_size() -> u64 {
    STATIC_TYPE_SIZE
        .get()
        .copied()
        .unwrap_or(std::mem::size_of::<ffi::PyTypeObject>() as u64)
}

/// Measures what the layout cannot tell: called once at import, never
/// during a walk (it calls `type.__sizeof__(object)`, C code on a builtin type).
pub(crate) fn init(py: pyo3::Python<'_>) -> pyo3::PyResult<()> {
    use pyo3::types::PyAnyMethods;
    let builtins = py.import("builtins")?;
    let size: u64 = builtins
        .getattr("type")?
        .getattr("__sizeof__")?
        .call1((builtins.getattr("object")?,))?
        .extract()?;
    let _ = STATIC_TYPE_SIZE.set(size);
    // Kept for the life of the process: type lookups borrow it.
    let _ = SIZEOF_NAME.set(pyo3::types::PyString::intern(py, "__sizeof__").into_ptr() as usize);
    // Type objects with their own `__sizeof__`: deque and OrderedDict from
    // the built-in C module (`collections` re-exports them; importing it
    // would cost every `import memlens`), the others by address. A module
    // that cannot be imported leaves 0: its objects cannot exist.
    let address = |module: &str, name: &str| -> pyo3::PyResult<usize> {
        Ok(py
            .import(module)
            .and_then(|module| module.getattr(name))
            .map(|tp| tp.as_ptr() as usize)
            .unwrap_or(0))
    };
    let _ = EXTRA_TYPES.set(ExtraTypes {
        ordered_dict: address("_collections", "OrderedDict")?,
        deque: address("_collections", "deque")?,
        code: &raw mut ffi::PyCode_Type as usize,
        frame: &raw mut ffi::PyFrame_Type as usize,
        generators: [
            &raw mut ffi::PyGen_Type as usize,
            &raw mut ffi::PyCoro_Type as usize,
            &raw mut ffi::PyAsyncGen_Type as usize,
        ],
    });
    find_general_lookup(py)?;
    // MEMLENS_NO_GC_LISTS=1 keeps the fallbacks (tests use it):
    // PyUnstable_GC_VisitObjects on 3.12+, gc.get_objects() before.
    // 3.14's incremental collector has other lists; the probe's check fails there.
    if minor() <= 13 && std::env::var_os("MEMLENS_NO_GC_LISTS").is_none() {
        let thresholds: (i64, i64, i64) = py
            .import("gc")?
            .getattr("get_threshold")?
            .call0()?
            .extract()?;
        find_generation_heads(py, thresholds)?;
    }
    Ok(())
}

/// What tells a dict table whose keys `dict_traverse` visits (a general
/// table) from one whose keys it skips (str-only and split tables): on
/// 3.9–3.10 the general table's `dk_lookup` function, on 3.11+ the
/// `dk_kind` byte (0 for general). Set at import once checked against a
/// dict with an int key and one with a str key; 0 when the check failed.
static GENERAL_LOOKUP: OnceLock<usize> = OnceLock::new();

/// Marker stored in [`GENERAL_LOOKUP`] on 3.11+, where `dk_kind` is read.
const KIND_BYTE: usize = 1;

/// The word or byte that [`GENERAL_LOOKUP`] compares, for one dict.
///
/// # Safety
/// `dict` is a live dict (or subclass instance) of this version's layout.
unsafe fn table_kind(dict: *const c_void) -> Option<usize> {
    // SAFETY: ma_keys is the 5th word of a dict; dk_lookup is the 3rd word
    // of a 3.9–3.10 keys object, dk_kind the 11th byte of a 3.11+ one.
    unsafe {
        let keys: *const c_void = read(dict, 4 * WORD);
        if keys.is_null() {
            return None;
        }
        Some(if minor() <= 10 {
            read::<usize>(keys, 2 * WORD)
        } else {
            usize::from(read::<u8>(keys, 10))
        })
    }
}

fn find_general_lookup(py: pyo3::Python<'_>) -> pyo3::PyResult<()> {
    use pyo3::types::PyDictMethods;
    let general = pyo3::types::PyDict::new(py);
    general.set_item(1, py.None())?;
    let unicode = pyo3::types::PyDict::new(py);
    unicode.set_item("key", py.None())?;
    // SAFETY: both are live exact dicts.
    let (g, u) = unsafe {
        (
            table_kind(general.as_ptr().cast()),
            table_kind(unicode.as_ptr().cast()),
        )
    };
    let found = match (g, u) {
        (Some(g), Some(u)) if minor() <= 10 && g != 0 && u != 0 && g != u => g,
        (Some(0), Some(1)) if minor() >= 11 => KIND_BYTE,
        _ => 0,
    };
    let _ = GENERAL_LOOKUP.set(found);
    Ok(())
}

/// Whether [`dict_traverse_skips_keys`] can tell every table's kind.
pub(crate) fn dict_table_kinds_known() -> bool {
    GENERAL_LOOKUP.get().is_some_and(|&g| g != 0)
}

/// Whether `dict_traverse` is known to skip this dict's keys (str-only and
/// split tables): `Some(true)` skips them, `Some(false)` visits them, `None`
/// when the layout check at import failed.
///
/// # Safety
/// `dict` is a live dict (or subclass instance); the GIL is held.
pub(crate) unsafe fn dict_traverse_skips_keys(dict: *const c_void) -> Option<bool> {
    let general = *GENERAL_LOOKUP.get()?;
    if general == 0 {
        return None;
    }
    // SAFETY: as the caller promises.
    let kind = unsafe { table_kind(dict) }?;
    Some(if general == KIND_BYTE {
        kind != 0
    } else {
        kind != general
    })
}

/// 3.9–3.13: address of the youngest generation's list head, when found and
/// verified by [`find_generation_heads`]; 0 otherwise.
static GENERATION0: OnceLock<usize> = OnceLock::new();

/// `sizeof(struct gc_generation)` on 3.9–3.13: the list head, then two ints.
const GENERATION_SIZE: usize = 2 * WORD + 8;

/// Finds the GC's generation lists (3.9–3.13) without knowing the layout of
/// the interpreter state: a freshly tracked object is appended to the
/// youngest generation, so its `_gc_next` is that generation's head; the
/// three heads sit in an array of `struct gc_generation`. The guess is kept
/// only if the thresholds stored next to each head are the ones
/// `gc.get_threshold()` reports and the head links back to the new object.
fn find_generation_heads(py: pyo3::Python<'_>, thresholds: (i64, i64, i64)) -> pyo3::PyResult<()> {
    use pyo3::types::PyAnyMethods;
    let probe = pyo3::types::PyList::empty(py);
    let probe_ptr = probe.as_ptr();
    // SAFETY: probe is a live list, tracked by the GC (lists always are), so
    // it has a PyGC_Head of two words right before it. The head it links to
    // is the youngest generation's, inside the interpreter state; the words
    // read at fixed offsets from it stay inside that state's `generations`
    // array when the guess is right, and the guess is verified on the
    // thresholds before anything else is read through it.
    let head0 = unsafe {
        let gc_head = probe_ptr.cast::<usize>().sub(2);
        let head0 = *gc_head;
        if head0 == 0 || head0 % WORD != 0 {
            return Ok(());
        }
        let threshold = |generation: usize| -> i64 {
            *((head0 + generation * GENERATION_SIZE + 2 * WORD) as *const i32) as i64
        };
        let links_back = *((head0 + WORD) as *const usize) & !3 == gc_head as usize;
        let verified = links_back
            && (threshold(0), threshold(1), threshold(2)) == thresholds
            && thresholds.0 > 0;
        if verified {
            head0
        } else {
            0
        }
    };
    let _ = probe.len();
    drop(probe);
    let _ = GENERATION0.set(head0);
    Ok(())
}

/// The generation list heads (3.9–3.13), if found at import: the three
/// generations, then the permanent generation of `gc.freeze()` when its place
/// in the GC state checks out.
pub(crate) fn generation_heads() -> Option<Vec<usize>> {
    match GENERATION0.get() {
        Some(&head0) if head0 != 0 => {
            let mut heads: Vec<usize> = (0..3).map(|g| head0 + g * GENERATION_SIZE).collect();
            heads.extend(permanent_generation_head(head0));
            Some(heads)
        }
        _ => None,
    }
}

/// The permanent generation's list head, which follows the three
/// generations and the `generation0` pointer in `struct _gc_runtime_state`
/// on 3.9–3.13. Kept only if that pointer points back at the youngest head
/// and the ring at the guessed place is well formed (empty, or its first
/// node links back to it).
fn permanent_generation_head(head0: usize) -> Option<usize> {
    let after_generations = head0 + 3 * GENERATION_SIZE;
    let head = after_generations + WORD;
    // SAFETY: head0 is the verified youngest head inside the GC state; the
    // words read here lie within the same struct when the layout is the one
    // documented above, and each read is checked before the next depends on it.
    unsafe {
        if *(after_generations as *const usize) != head0 {
            return None;
        }
        let first = *(head as *const usize);
        let last = *((head + WORD) as *const usize) & !3;
        if first == 0 || last == 0 || first % WORD != 0 || last % WORD != 0 {
            return None;
        }
        if first == head {
            return (last == head).then_some(head);
        }
        // The first node's prev must be the head (low bits hold GC flags).
        (*((first + WORD) as *const usize) & !3 == head).then_some(head)
    }
}

/// Where an instance's attributes are, without materializing a `__dict__`.
pub(crate) enum Attributes {
    /// A real dict (materialized, or the type has a classic `tp_dictoffset`).
    Dict(*mut ffi::PyObject),
    /// 3.11+ values stored without a dict: `values[i]` belongs to the `i`th
    /// key of the class's shared keys.
    Values {
        keys: *const c_void,
        values: *const *mut ffi::PyObject,
    },
    /// No attributes stored outside slots.
    None,
}

/// Finds the attribute storage of `obj` by reading the layout only:
/// `_PyObject_GetDictPtr` and `obj.__dict__` would create the dict on 3.11+.
///
/// # Safety
/// `obj` is a live object and the GIL is held.
pub(crate) unsafe fn instance_attributes(obj: *mut ffi::PyObject) -> Attributes {
    // SAFETY: obj is live; the pre-header words read below exist exactly when
    // the type has the managed-dict / inline-values flags checked first.
    unsafe {
        let tp = ffi::Py_TYPE(obj);
        let flags = type_flags(tp);
        let minor = minor();
        let base = obj as *const c_void;
        let heap = tp.cast::<ffi::PyHeapTypeObject>();
        if minor >= 11 && flags & TPFLAGS_MANAGED_DICT != 0 {
            let keys = if flags & TPFLAGS_HEAPTYPE != 0 {
                (*heap).ht_cached_keys as *const c_void
            } else {
                std::ptr::null()
            };
            let before = base.cast::<*const c_void>();
            match minor {
                11 => {
                    let dict = *before.sub(3);
                    if !dict.is_null() {
                        return Attributes::Dict(dict as *mut _);
                    }
                    let values = *before.sub(4);
                    if !values.is_null() && !keys.is_null() {
                        return Attributes::Values {
                            keys,
                            values: values.cast(),
                        };
                    }
                }
                12 => {
                    let dict_or_values = *before.sub(3) as usize;
                    if dict_or_values & 1 != 0 {
                        if !keys.is_null() {
                            return Attributes::Values {
                                keys,
                                // Stored as `values - 1` (odd), so `+ 1` gives the values.
                                values: (dict_or_values + 1) as *const _,
                            };
                        }
                    } else if dict_or_values != 0 {
                        return Attributes::Dict(dict_or_values as *mut _);
                    }
                }
                _ => {
                    let dict = *before.sub(3);
                    if !dict.is_null() {
                        return Attributes::Dict(dict as *mut _);
                    }
                    if flags & TPFLAGS_INLINE_VALUES != 0 && !keys.is_null() {
                        let values = base.cast::<u8>().add((*tp).tp_basicsize.max(0) as usize);
                        // PyDictValues: capacity, size, embedded, valid (u8 each), then the values.
                        let valid: u8 = read(values.cast(), 3);
                        if valid != 0 {
                            return Attributes::Values {
                                keys,
                                values: values.add(WORD).cast(),
                            };
                        }
                    }
                }
            }
            return Attributes::None;
        }
        let mut offset = (*tp).tp_dictoffset;
        if offset == 0 {
            return Attributes::None;
        }
        if offset < 0 {
            let itemsize = (*tp).tp_itemsize.max(0);
            let length = read::<isize>(base, 2 * WORD).unsigned_abs() as isize;
            let size =
                ((*tp).tp_basicsize + length * itemsize + WORD as isize - 1) & !(WORD as isize - 1);
            offset += size;
        }
        if offset <= 0 {
            return Attributes::None;
        }
        let dict: *mut ffi::PyObject = read(base, offset as usize);
        if dict.is_null() {
            Attributes::None
        } else {
            Attributes::Dict(dict)
        }
    }
}

/// The `(key, value)` pairs of split-keys values, in key order.
///
/// # Safety
/// `keys` and `values` come from [`instance_attributes`] on a live object,
/// with the GIL held.
pub(crate) unsafe fn shared_key_values(
    keys: *const c_void,
    values: *const *mut ffi::PyObject,
    mut each: impl FnMut(*mut ffi::PyObject, *mut ffi::PyObject),
) {
    // SAFETY: a 3.11+ shared keys object: entries follow the index table,
    // each entry is (key, value) and only the key is used; the instance's
    // value for entry i is values[i].
    unsafe {
        let nentries = read::<isize>(keys, 3 * WORD).max(0) as usize;
        let log2_index_bytes: u8 = read(keys, WORD + 1);
        let entries = keys
            .cast::<u8>()
            .add(32 + (1usize << log2_index_bytes.min(40)));
        for i in 0..nentries {
            let key: *mut ffi::PyObject = read(entries.cast(), i * 2 * WORD);
            let value = *values.add(i);
            if !key.is_null() && !value.is_null() {
                each(key, value);
            }
        }
    }
}

/// The `__slots__` member descriptors of `tp` and its bases: `(name, offset)`
/// of each object-valued slot.
///
/// # Safety
/// `tp` is a live type object and the GIL is held.
pub(crate) unsafe fn slot_offsets(mut tp: *mut ffi::PyTypeObject) -> Vec<(String, isize)> {
    const T_OBJECT: i32 = 6;
    const T_OBJECT_EX: i32 = 16;
    let mut slots = Vec::new();
    // SAFETY: tp_members is NULL or a NULL-name-terminated PyMemberDef array.
    unsafe {
        while !tp.is_null() {
            let mut member = (*tp).tp_members;
            while !member.is_null() && !(*member).name.is_null() {
                let kind = (*member).type_code;
                if kind == T_OBJECT || kind == T_OBJECT_EX {
                    let name = CStr::from_ptr((*member).name as *const c_char)
                        .to_string_lossy()
                        .into_owned();
                    slots.push((name, (*member).offset));
                }
                member = member.add(1);
            }
            tp = (*tp).tp_base;
        }
    }
    slots
}

/// A module's `__dict__` (`PyModuleObject.md_dict`, the first field after
/// the header on every supported version).
///
/// # Safety
/// `module` is a live module object and the GIL is held.
pub(crate) unsafe fn module_dict(module: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: guaranteed by the caller; md_dict is the third word.
    unsafe { read(module as *const c_void, 2 * WORD) }
}

/// A bound method's `(__func__, __self__)` (`PyMethodObject.im_func` and
/// `im_self`, right after the header on every supported version).
///
/// # Safety
/// `method` is a live bound-method object and the GIL is held.
pub(crate) unsafe fn method_parts(
    method: *mut ffi::PyObject,
) -> (*mut ffi::PyObject, *mut ffi::PyObject) {
    // SAFETY: guaranteed by the caller; im_func and im_self are the 3rd and 4th words.
    unsafe {
        (
            read(method as *const c_void, 2 * WORD),
            read(method as *const c_void, 3 * WORD),
        )
    }
}

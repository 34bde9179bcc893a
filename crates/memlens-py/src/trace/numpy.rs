//! numpy data buffers, seen through numpy's memory-handler API (NEP 49,
//! numpy ≥ 1.22).
//!
//! numpy allocates an array's data buffer with `malloc`/`calloc` behind its
//! own handler, not through CPython's allocators, so the allocator hooks do
//! not see it. numpy picks the handler for a new array from a `ContextVar`
//! (`PyDataMem_GetHandler`) whose default value is one capsule,
//! `PyDataMem_DefaultHandler`, pointing to numpy's static default handler;
//! every array keeps a reference to the capsule it was allocated with and
//! frees through it.
//!
//! Setting a handler with `PyDataMem_SetHandler` would only change the
//! calling thread's context: other threads, and every new thread (which
//! starts with an empty context, hence the default), would keep numpy's
//! handler. So instead memlens points the *default capsule itself* at a
//! wrapper handler while tracing ([`attach`]), and back at numpy's
//! ([`detach`]). That covers every thread and every context that uses the
//! default handler, at once; arrays allocated before tracing free through
//! the same capsule, hence through the wrapper, which forwards to numpy's
//! own functions (the very allocator they came from). What is not covered:
//! a context where the program installed its own handler with
//! `PyDataMem_SetHandler` (its arrays are not recorded).
//!
//! Each wrapped call records an [`Allocator::NumpyData`] block in
//! [`NUMPY_DOMAIN`] (389047, the domain numpy reports to stdlib
//! `tracemalloc`), with the Python stack when the caller holds the GIL.
//! The wrapper keeps numpy's handler name, so `get_handler_name()` answers
//! as without memlens.

use super::hooks;
use memlens_trace::events::{Allocator, NUMPY_DOMAIN};
use pyo3::ffi;
use pyo3::prelude::*;
use std::cell::UnsafeCell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_uint, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Mutex;

/// numpy's `PyDataMemAllocator` (version 1 of the struct).
#[repr(C)]
#[derive(Clone, Copy)]
struct DataMemAllocator {
    ctx: *mut c_void,
    malloc: Option<unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void>,
    calloc: Option<unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void>,
    realloc: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> *mut c_void>,
    free: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, usize)>,
}

/// numpy's `PyDataMem_Handler`.
#[repr(C)]
#[derive(Clone, Copy)]
struct DataMemHandler {
    name: [c_char; 127],
    version: u8,
    allocator: DataMemAllocator,
}

/// The capsule name numpy requires of a handler.
const CAPSULE_NAME: &CStr = c"mem_handler";
/// Module names of numpy's core extension: numpy 2.x, then 1.x.
const CORE_MODULES: [&CStr; 2] = [
    c"numpy._core._multiarray_umath",
    c"numpy.core._multiarray_umath",
];
/// Slots of numpy's C-API table (`_ARRAY_API`), stable since 1.22.
const API_FEATURE_VERSION: usize = 211;
const API_DEFAULT_HANDLER: usize = 306;
/// C-API feature version of numpy 1.22, which introduced the handler API.
const FEATURE_VERSION_1_22: c_uint = 0xf;

/// numpy's handler that the wrapper forwards to (set once: numpy's static
/// default handler, which lives as long as the process).
static ORIGINAL: AtomicPtr<DataMemHandler> = AtomicPtr::new(ptr::null_mut());

struct WrapperCell(UnsafeCell<DataMemHandler>);
// SAFETY: written only under the GIL while the default capsule does not
// point to it (so numpy does not read it), read by numpy afterwards.
unsafe impl Sync for WrapperCell {}

static WRAPPER: WrapperCell = WrapperCell(UnsafeCell::new(DataMemHandler {
    name: [0; 127],
    version: 1,
    allocator: DataMemAllocator {
        ctx: ptr::null_mut(),
        malloc: Some(wrapped_malloc),
        calloc: Some(wrapped_calloc),
        realloc: Some(wrapped_realloc),
        free: Some(wrapped_free),
    },
}));

/// The default capsule while the wrapper is installed in it (as an
/// address), guarded by the mutex and the GIL.
static INSTALLED: Mutex<usize> = Mutex::new(0);

fn original() -> Option<&'static DataMemHandler> {
    let handler = ORIGINAL.load(Ordering::Acquire);
    // SAFETY: numpy's default handler is a static of its extension module,
    // which is never unloaded.
    (!handler.is_null()).then(|| unsafe { &*handler })
}

/// Records a block numpy's handler just gave out.
fn record_numpy_block(block: *mut c_void, size: usize) {
    hooks::record_external_alloc(
        Allocator::NumpyData,
        NUMPY_DOMAIN,
        block as u64,
        size as u64,
    );
}

/// Whether numpy's handler allocates through CPython's RAW domain with the
/// GIL held (numpy ≥ 2.5, C-API feature version 0x16): its blocks must not
/// be recorded by the Python hooks too. Older numpy calls libc directly and
/// releases the GIL inside `calloc`.
static ROUTES_THROUGH_PYTHON: AtomicBool = AtomicBool::new(false);
/// The C-API feature version of numpy 2.5.
const FEATURE_VERSION_2_5: c_uint = 0x16;

fn guarded(allocate: impl FnOnce() -> *mut c_void) -> (*mut c_void, bool) {
    hooks::external_guarded(ROUTES_THROUGH_PYTHON.load(Ordering::Relaxed), allocate)
}

unsafe extern "C" fn wrapped_malloc(_ctx: *mut c_void, size: usize) -> *mut c_void {
    let Some(handler) = original() else {
        return ptr::null_mut();
    };
    let inner = handler.allocator;
    let (block, outer) = guarded(|| match inner.malloc {
        // SAFETY: numpy's own function with its own context.
        Some(malloc) => unsafe { malloc(inner.ctx, size) },
        None => ptr::null_mut(),
    });
    if outer && !block.is_null() {
        record_numpy_block(block, size);
    }
    block
}

unsafe extern "C" fn wrapped_calloc(_ctx: *mut c_void, nelem: usize, elsize: usize) -> *mut c_void {
    let Some(handler) = original() else {
        return ptr::null_mut();
    };
    let inner = handler.allocator;
    let (block, outer) = guarded(|| match inner.calloc {
        // SAFETY: numpy's own function with its own context.
        Some(calloc) => unsafe { calloc(inner.ctx, nelem, elsize) },
        None => ptr::null_mut(),
    });
    if outer && !block.is_null() {
        record_numpy_block(block, nelem.saturating_mul(elsize));
    }
    block
}

unsafe extern "C" fn wrapped_realloc(
    _ctx: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    let Some(handler) = original() else {
        return ptr::null_mut();
    };
    let inner = handler.allocator;
    if !old.is_null() {
        hooks::record_external_free(Allocator::NumpyData, NUMPY_DOMAIN, old as u64);
    }
    let (block, outer) = guarded(|| match inner.realloc {
        // SAFETY: numpy's own function with its own context; `old` came
        // from this handler (numpy frees through the array's handler).
        Some(realloc) => unsafe { realloc(inner.ctx, old, size) },
        None => ptr::null_mut(),
    });
    if outer && !block.is_null() {
        record_numpy_block(block, size);
    }
    block
}

unsafe extern "C" fn wrapped_free(_ctx: *mut c_void, block: *mut c_void, size: usize) {
    let Some(handler) = original() else {
        return;
    };
    let inner = handler.allocator;
    if !block.is_null() {
        hooks::record_external_free(Allocator::NumpyData, NUMPY_DOMAIN, block as u64);
    }
    guarded(|| {
        if let Some(free) = inner.free {
            // SAFETY: numpy's own function; the block came from it.
            unsafe { free(inner.ctx, block, size) };
        }
        ptr::null_mut()
    });
}

/// numpy's C-API table, when numpy's core module is imported and has the
/// handler API (≥ 1.22).
///
/// # Safety
/// The GIL is held.
unsafe fn api_table(module: *mut ffi::PyObject) -> Option<(*const *mut c_void, c_uint)> {
    // SAFETY: GIL held; attribute lookup on a live module.
    let capsule = unsafe { ffi::PyObject_GetAttrString(module, c"_ARRAY_API".as_ptr()) };
    if capsule.is_null() {
        // SAFETY: GIL held; the lookup's AttributeError is not ours to raise.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: GIL held; `capsule` is a live object. numpy's table capsule
    // is unnamed; the pointer stays valid while the module lives (forever).
    let table = unsafe {
        let table = if ffi::PyCapsule_CheckExact(capsule) != 0 {
            ffi::PyCapsule_GetPointer(capsule, ptr::null())
        } else {
            ptr::null_mut()
        };
        ffi::Py_DECREF(capsule);
        if table.is_null() {
            ffi::PyErr_Clear();
        }
        table as *const *mut c_void
    };
    if table.is_null() {
        return None;
    }
    // SAFETY: slot 211 has been `PyArray_GetNDArrayCFeatureVersion` since
    // numpy 1.0; it takes nothing and only returns a constant.
    let feature = unsafe {
        let function: unsafe extern "C" fn() -> c_uint =
            std::mem::transmute(*table.add(API_FEATURE_VERSION));
        function()
    };
    (feature >= FEATURE_VERSION_1_22).then_some((table, feature))
}

/// Points numpy's default handler capsule at the wrapper, if numpy's core
/// module is `module` (or, when `module` is NULL, is already imported).
/// Idempotent; the caller holds the GIL.
fn attach_to(_py: Python<'_>, module: *mut ffi::PyObject) -> bool {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *installed != 0 {
        return true;
    }
    let module = if module.is_null() {
        // SAFETY: GIL held; sys.modules lookups return borrowed references.
        let modules = unsafe { ffi::PyImport_GetModuleDict() };
        CORE_MODULES
            .iter()
            .map(|name| {
                // SAFETY: GIL held; `modules` is the live sys.modules dict.
                unsafe { ffi::PyDict_GetItemString(modules, name.as_ptr()) }
            })
            .find(|m| !m.is_null())
            .unwrap_or(ptr::null_mut())
    } else {
        module
    };
    if module.is_null() {
        return false;
    }
    // SAFETY: GIL held.
    let Some((table, feature)) = (unsafe { api_table(module) }) else {
        return false;
    };
    // SAFETY: slot 306 is the address of the global `PyDataMem_DefaultHandler`
    // (numpy ≥ 1.22, checked above); the capsule it holds is created at
    // import and never released.
    let capsule = unsafe { *(*table.add(API_DEFAULT_HANDLER) as *const *mut ffi::PyObject) };
    // SAFETY: GIL held; `capsule` is numpy's live default capsule.
    let current = unsafe {
        if capsule.is_null() || ffi::PyCapsule_IsValid(capsule, CAPSULE_NAME.as_ptr()) == 0 {
            return false;
        }
        ffi::PyCapsule_GetPointer(capsule, CAPSULE_NAME.as_ptr()) as *mut DataMemHandler
    };
    let wrapper = WRAPPER.0.get();
    if current.is_null() || current == wrapper {
        return current == wrapper;
    }
    // SAFETY: `current` is a version-1 handler owned by numpy (static).
    let current_ref = unsafe { &*current };
    if current_ref.version != 1 {
        return false;
    }
    let previous = ORIGINAL.load(Ordering::Acquire);
    if !previous.is_null() && previous != current {
        // Someone else replaced numpy's default handler since we first
        // wrapped it: leave theirs alone.
        return false;
    }
    ROUTES_THROUGH_PYTHON.store(feature >= FEATURE_VERSION_2_5, Ordering::Relaxed);
    ORIGINAL.store(current, Ordering::Release);
    // SAFETY: numpy does not read the wrapper while the capsule points to
    // its own handler; the GIL serializes attach/detach.
    unsafe { (*wrapper).name = current_ref.name };
    // SAFETY: GIL held; a pointer swap in a capsule without destructor.
    if unsafe { ffi::PyCapsule_SetPointer(capsule, wrapper as *mut c_void) } != 0 {
        // SAFETY: GIL held.
        unsafe { ffi::PyErr_Clear() };
        return false;
    }
    *installed = capsule as usize;
    true
}

/// Installs the wrapper if numpy is imported (called when tracing starts).
pub(crate) fn attach(py: Python<'_>) -> bool {
    attach_to(py, ptr::null_mut())
}

/// Gives numpy's default capsule its own handler back (tracing stops).
/// Blocks allocated meanwhile are freed by numpy's functions directly from
/// then on, which is where the wrapper forwarded them anyway.
pub(crate) fn detach(_py: Python<'_>) {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    let capsule = std::mem::replace(&mut *installed, 0) as *mut ffi::PyObject;
    let original = ORIGINAL.load(Ordering::Acquire);
    if capsule.is_null() || original.is_null() {
        return;
    }
    // SAFETY: GIL held; the capsule is numpy's immortal default capsule.
    unsafe {
        if ffi::PyCapsule_GetPointer(capsule, CAPSULE_NAME.as_ptr()) as *mut DataMemHandler
            == WRAPPER.0.get()
            && ffi::PyCapsule_SetPointer(capsule, original as *mut c_void) != 0
        {
            ffi::PyErr_Clear();
        }
    }
}

/// Whether numpy's default handler is wrapped right now.
pub(crate) fn is_attached() -> bool {
    *INSTALLED.lock().unwrap_or_else(|e| e.into_inner()) != 0
}

/// `_core._numpy_attach(module)`: called by memlens' import hook right
/// after numpy's core extension module was imported during a trace.
#[pyfunction]
fn _numpy_attach(py: Python<'_>, module: &Bound<'_, PyAny>) -> bool {
    super::is_tracing() && attach_to(py, module.as_ptr())
}

/// `_core._numpy_attached()`: whether numpy data buffers are being traced.
#[pyfunction]
fn _numpy_attached() -> bool {
    is_attached()
}

/// `_core._trace_any_running()`: whether any trace (capture or
/// `memlens.tracemalloc`) runs.
#[pyfunction]
fn _trace_any_running() -> bool {
    super::is_tracing()
}

/// Registers the numpy functions on `memlens._core`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_trace_any_running, m)?)?;
    m.add_function(wrap_pyfunction!(_numpy_attach, m)?)?;
    m.add_function(wrap_pyfunction!(_numpy_attached, m)?)?;
    Ok(())
}

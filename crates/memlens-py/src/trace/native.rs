//! Allocations made by C code through libc (`malloc` family, anonymous
//! `mmap`), seen through the native interposer.
//!
//! `memlens run --native` starts the program with `libmemlens_preload.so`
//! in `LD_PRELOAD` (crate `memlens-preload`). That library forwards every
//! call to libc and, once [`enable`] has handed it [`on_native_event`],
//! reports each block to it. The callback records them through the hooks'
//! external entry points, so they share the reentrancy guard (a `malloc`
//! made under a Python allocator hook, e.g. a pymalloc arena or a
//! `PyMem_RawMalloc` block, is recorded once, as Python's), the sampling
//! countdowns and the stack capture: [`Allocator::Native`] and
//! [`Allocator::Mmap`] blocks carry the Python stack when the calling
//! thread holds the GIL, [`StackId::EMPTY`](memlens_trace::events::StackId::EMPTY)
//! otherwise. The capture's writer thread is left out: what memlens
//! allocates is not the program's memory.

use super::hooks;
use memlens_trace::events::{
    AllocEvent, Allocator, EventSink, Frame, FrameId, FreeEvent, StackId, ThreadId, UnmapEvent,
    PYTHON_DOMAIN,
};
use std::cell::Cell;
use std::os::raw::c_void;
use std::sync::Arc;

/// Event kinds the interposer reports (its `ABI_VERSION` 1).
const EVENT_ALLOC: u32 = 1;
const EVENT_FREE: u32 = 2;
const EVENT_MMAP: u32 = 3;
const EVENT_MUNMAP: u32 = 4;
/// The interposer ABI this side speaks.
const ABI_VERSION: u32 = 1;
/// The exported function of the interposer that takes the callback.
const SET_CALLBACK: &std::ffi::CStr = c"memlens_preload_set_callback";
/// The name of the capture writer's thread (memlens-trace's writer).
const WRITER_THREAD: &[u8] = b"memlens-capture";

type Callback = unsafe extern "C" fn(u32, usize, usize);
type SetCallback = unsafe extern "C" fn(Option<Callback>) -> u32;

thread_local! {
    /// 0: not classified yet, 1: traced, 2: memlens' own thread.
    static THREAD_KIND: Cell<u8> = const { Cell::new(0) };
    /// Set while this thread is inside the sink.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// A sink that marks the calling thread while it works, so that what the
/// sink allocates and frees (its buffers grow under its own lock, on any
/// thread, including from free hooks that run without the reentrancy
/// guard) is never reported back into it: the interposer's events are
/// dropped on a thread inside the sink.
pub(crate) struct GuardedSink(pub Arc<dyn EventSink>);

impl GuardedSink {
    #[inline(always)]
    fn guarded(&self, f: impl FnOnce(&dyn EventSink)) {
        match IN_SINK.try_with(|flag| flag.replace(true)) {
            Ok(was) => {
                f(&*self.0);
                let _ = IN_SINK.try_with(|flag| flag.set(was));
            }
            Err(_) => f(&*self.0),
        }
    }
}

impl EventSink for GuardedSink {
    fn frame(&self, id: FrameId, frame: Frame<'_>) {
        self.guarded(|sink| sink.frame(id, frame));
    }
    fn stack(&self, id: StackId, parent: Option<StackId>, frame: FrameId) {
        self.guarded(|sink| sink.stack(id, parent, frame));
    }
    fn thread(&self, id: ThreadId, name: &str) {
        self.guarded(|sink| sink.thread(id, name));
    }
    fn alloc(&self, event: AllocEvent) {
        self.guarded(|sink| sink.alloc(event));
    }
    fn free(&self, event: FreeEvent) {
        self.guarded(|sink| sink.free(event));
    }
    fn unmap(&self, event: UnmapEvent) {
        self.guarded(|sink| sink.unmap(event));
    }
}

/// The interposer's registration function, when the library is loaded.
fn set_callback() -> Option<SetCallback> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // global scope, where an LD_PRELOAD library is.
    let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, SET_CALLBACK.as_ptr()) };
    // SAFETY: the symbol is the interposer's function of this type.
    (!symbol.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, SetCallback>(symbol) })
}

/// Whether the interposer is loaded in this process.
pub(crate) fn available() -> bool {
    set_callback().is_some()
}

/// Asks the interposer to report to the tracer. Fails when it is not loaded
/// or speaks another ABI.
pub(crate) fn enable() -> Result<(), String> {
    let set = set_callback().ok_or_else(|| {
        "the native interposer (libmemlens_preload.so) is not loaded in this process; \
         start the program with `memlens run --native`"
            .to_owned()
    })?;
    // SAFETY: registers a function that lives as long as the process (this
    // extension is never unloaded).
    let version = unsafe { set(Some(on_native_event)) };
    if version != ABI_VERSION {
        // SAFETY: as above.
        unsafe { set(None) };
        return Err(format!(
            "the native interposer speaks ABI {version}, this memlens expects {ABI_VERSION}; \
             reinstall memlens"
        ));
    }
    Ok(())
}

/// Stops the reports (calls already running finish against a stopped
/// tracer, which ignores them).
pub(crate) fn disable() {
    if let Some(set) = set_callback() {
        // SAFETY: unregistering is always valid.
        unsafe { set(None) };
    }
}

/// Whether the calling thread is memlens' own (classified once per thread
/// by name; no allocation).
fn own_thread() -> bool {
    THREAD_KIND
        .try_with(|kind| {
            if kind.get() == 0 {
                let mut name = [0u8; 16];
                // SAFETY: the buffer is writable for its length; for the
                // calling thread glibc answers with prctl, allocating nothing.
                let status = unsafe {
                    libc::pthread_getname_np(
                        libc::pthread_self(),
                        name.as_mut_ptr() as *mut libc::c_char,
                        name.len(),
                    )
                };
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                kind.set(if status == 0 && &name[..end] == WRITER_THREAD {
                    2
                } else {
                    1
                });
            }
            kind.get() == 2
        })
        .unwrap_or(true)
}

/// The interposer's callback: one block allocated or given back. Frees are
/// reported before libc takes the block back.
unsafe extern "C" fn on_native_event(kind: u32, address: usize, size: usize) {
    if IN_SINK.try_with(|flag| flag.get()).unwrap_or(true) {
        return;
    }
    match kind {
        EVENT_ALLOC if !own_thread() => hooks::record_external_alloc(
            Allocator::Native,
            PYTHON_DOMAIN,
            address as u64,
            size as u64,
        ),
        EVENT_MMAP if !own_thread() => hooks::record_external_alloc(
            Allocator::Mmap,
            PYTHON_DOMAIN,
            address as u64,
            size as u64,
        ),
        EVENT_FREE if !own_thread() => {
            hooks::record_external_free(Allocator::Native, PYTHON_DOMAIN, address as u64)
        }
        EVENT_MUNMAP if !own_thread() => hooks::record_external_unmap(address as u64, size as u64),
        _ => {}
    }
}

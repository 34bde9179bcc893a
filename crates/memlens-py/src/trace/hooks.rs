//! The hooks on CPython's RAW, MEM and OBJ allocator domains.
//!
//! Each installed [`Layer`] wraps the allocator that was in place before it
//! and is leaked on purpose: a GIL-less RAW call may still be running in it
//! after [`stop`], and another hook (stdlib `tracemalloc`) may have saved it
//! and reinstall it later. A layer left behind that way is disabled and only
//! forwards.
//!
//! Hot path of an allocation: call the wrapped allocator, check the layer is
//! enabled, load the tracer, check the per-thread reentrancy flag, count
//! down the sampling interval (sampled mode), walk up to `max_frames` frames
//! of the thread's own chain, reuse the stack ids of the unchanged outer
//! frames from the thread's last capture, hash only the frames that changed,
//! and hand an [`AllocEvent`] to the sink. No Python call, no Python object,
//! no GIL taken; RAW calls on threads without the GIL get the empty stack.

use super::frames::{self, RawLocation};
use super::sampling::{self, Rng};
use super::spin::SpinLock;
use super::stacks::{FastHash, Interner};
use super::{Mode, TraceConfig, TraceError, MAX_FRAMES};
use memlens_trace::events::{
    AllocEvent, Allocator, EventSink, FreeEvent, StackId, ThreadId, PYTHON_DOMAIN,
};
use pyo3::ffi::{self, PyMemAllocatorDomain, PyMemAllocatorEx};
use pyo3::Python;
use std::cell::{Cell, UnsafeCell};
use std::collections::HashSet;
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Once};

const RAW: u8 = 0;
const MEM: u8 = 1;
const OBJ: u8 = 2;
const MAX: usize = MAX_FRAMES as usize;

/// One installed hook: the allocator it wraps and whether it records.
#[repr(C)]
struct Layer {
    prev: PyMemAllocatorEx,
    enabled: AtomicBool,
}

/// The running trace.
struct Tracer {
    sink: Arc<dyn EventSink>,
    /// 0 in exact mode, else the mean sampling interval in bytes.
    sample_mean: u64,
    max_frames: AtomicU32,
    generation: u64,
    /// Only touched under the GIL.
    interner: UnsafeCell<Interner>,
    next_thread: AtomicU32,
    sampled: Option<SampledSet>,
}

// SAFETY: `interner` is only accessed by threads holding the GIL (hooks with
// a thread state, `stop`), which serializes it; everything else is atomic,
// immutable or `Sync`.
unsafe impl Sync for Tracer {}
// SAFETY: as above; the tracer is created and dropped under the GIL.
unsafe impl Send for Tracer {}

/// The running tracer, or null.
static ACTIVE: AtomicPtr<Tracer> = AtomicPtr::new(ptr::null_mut());
/// RAW-domain hook calls currently using the tracer.
static RAW_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Numbers tracing sessions, so per-thread state knows when it is stale.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// The layers installed by the running trace, as addresses (0: none).
static INSTALLED: SpinLock<[usize; 3]> = SpinLock::new([0; 3]);
static FORK_HANDLERS: Once = Once::new();

/// Addresses of live sampled blocks, with a lock-free pre-filter so that
/// frees of unsampled blocks (nearly all) cost one atomic load.
struct SampledSet {
    counts: Box<[AtomicU16]>,
    live: SpinLock<HashSet<u64, FastHash>>,
}

const FILTER_BITS: u32 = 14;

impl SampledSet {
    fn new() -> Self {
        SampledSet {
            counts: (0..1usize << FILTER_BITS).map(|_| AtomicU16::new(0)).collect(),
            live: SpinLock::new(HashSet::default()),
        }
    }

    #[inline]
    fn slot(address: u64) -> usize {
        ((address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
    }

    fn insert(&self, address: u64) {
        if self.live.lock().insert(address) {
            self.counts[Self::slot(address)].fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn remove(&self, address: u64) -> bool {
        let slot = Self::slot(address);
        if self.counts[slot].load(Ordering::Relaxed) == 0 {
            return false;
        }
        let removed = self.live.lock().remove(&address);
        if removed {
            self.counts[slot].fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }
}

/// Per-thread state of the hooks.
struct PerThread {
    /// Set while this thread records an event (reentrancy guard).
    busy: Cell<bool>,
    /// The session the fields below belong to.
    generation: Cell<u64>,
    thread: Cell<u32>,
    countdown: Cell<i64>,
    rng: Cell<u64>,
    /// The last captured stack, outermost first, with the stack id of each
    /// prefix.
    cache_len: Cell<usize>,
    cache: UnsafeCell<[(RawLocation, StackId); MAX]>,
    /// Scratch space for the frame walk, innermost first.
    walk: UnsafeCell<[RawLocation; MAX]>,
}

thread_local! {
    static PER_THREAD: PerThread = const {
        PerThread {
            busy: Cell::new(false),
            generation: Cell::new(0),
            thread: Cell::new(0),
            countdown: Cell::new(0),
            rng: Cell::new(0),
            cache_len: Cell::new(0),
            cache: UnsafeCell::new([(RawLocation::NONE, StackId::EMPTY); MAX]),
            walk: UnsafeCell::new([RawLocation::NONE; MAX]),
        }
    };
}

#[inline(always)]
fn allocator_of<const D: u8>() -> Allocator {
    match D {
        RAW => Allocator::PyRaw,
        MEM => Allocator::PyMem,
        _ => Allocator::PyObject,
    }
}

#[inline(always)]
fn layer_of(ctx: *mut c_void) -> &'static Layer {
    // SAFETY: `ctx` is the leaked `Layer` we registered with this hook; it
    // is never freed.
    unsafe { &*(ctx as *const Layer) }
}

/// Runs `allocate` (the wrapped allocator) with this thread's busy flag set,
/// so that allocators it calls in turn (pymalloc asks the RAW domain for
/// large blocks) are not traced a second time; then `record`s the result
/// unless the thread was already busy (a nested call, or memlens' own work).
#[inline(always)]
fn guarded(allocate: impl FnOnce() -> *mut c_void, record: impl FnOnce(&PerThread, *mut c_void)) -> *mut c_void {
    let mut allocate = Some(allocate);
    let traced = PER_THREAD.try_with(|local| {
        if local.busy.replace(true) {
            return None;
        }
        let block = (allocate.take().expect("allocate once"))();
        if !block.is_null() {
            record(local, block);
        }
        local.busy.set(false);
        Some(block)
    });
    match traced {
        Ok(Some(block)) => block,
        // Nested call, or thread-local storage already torn down.
        _ => match allocate.take() {
            Some(allocate) => allocate(),
            None => ptr::null_mut(),
        },
    }
}

extern "C" fn malloc_hook<const D: u8>(ctx: *mut c_void, size: usize) -> *mut c_void {
    let layer = layer_of(ctx);
    let prev = layer.prev;
    let allocate = move || match prev.malloc {
        Some(malloc) => malloc(prev.ctx, size),
        None => ptr::null_mut(),
    };
    if !layer.enabled.load(Ordering::Relaxed) {
        return allocate();
    }
    guarded(allocate, |local, block| after_alloc::<D>(local, block, size))
}

extern "C" fn calloc_hook<const D: u8>(ctx: *mut c_void, nelem: usize, elsize: usize) -> *mut c_void {
    let layer = layer_of(ctx);
    let prev = layer.prev;
    let allocate = move || match prev.calloc {
        Some(calloc) => calloc(prev.ctx, nelem, elsize),
        None => ptr::null_mut(),
    };
    if !layer.enabled.load(Ordering::Relaxed) {
        return allocate();
    }
    guarded(allocate, |local, block| after_alloc::<D>(local, block, nelem.saturating_mul(elsize)))
}

extern "C" fn realloc_hook<const D: u8>(ctx: *mut c_void, old: *mut c_void, size: usize) -> *mut c_void {
    let layer = layer_of(ctx);
    let prev = layer.prev;
    let allocate = move || match prev.realloc {
        Some(realloc) => realloc(prev.ctx, old, size),
        None => ptr::null_mut(),
    };
    if !layer.enabled.load(Ordering::Relaxed) {
        return allocate();
    }
    guarded(allocate, |local, block| {
        if !old.is_null() {
            before_free::<D>(old);
        }
        after_alloc::<D>(local, block, size);
    })
}

extern "C" fn free_hook<const D: u8>(ctx: *mut c_void, block: *mut c_void) {
    let layer = layer_of(ctx);
    // Report before giving the block back, so its address cannot be handed
    // out again (and reported) by another thread before our free. No
    // reentrancy guard here: a nested free (pymalloc giving a large block
    // back to RAW) names an address the RAW side never traced, and is
    // ignored by the sink.
    if !block.is_null() && layer.enabled.load(Ordering::Relaxed) {
        before_free::<D>(block);
    }
    if let Some(free) = layer.prev.free {
        free(layer.prev.ctx, block);
    }
}

/// Runs `f` with the tracer: directly for MEM/OBJ (the caller holds the GIL,
/// so `stop` cannot run), counted as in flight for RAW (any thread).
#[inline(always)]
fn with_tracer<const D: u8>(f: impl FnOnce(&Tracer)) {
    if D == RAW {
        RAW_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        let tracer = ACTIVE.load(Ordering::SeqCst);
        if !tracer.is_null() {
            // SAFETY: `stop` waits for RAW_IN_FLIGHT to drop to zero after
            // clearing ACTIVE, before freeing the tracer.
            f(unsafe { &*tracer });
        }
        RAW_IN_FLIGHT.fetch_sub(1, Ordering::Release);
    } else {
        let tracer = ACTIVE.load(Ordering::Acquire);
        if !tracer.is_null() {
            // SAFETY: the caller holds the GIL and `stop` (which frees the
            // tracer) needs it too.
            f(unsafe { &*tracer });
        }
    }
}

/// Records a block just allocated; the caller has set the busy flag.
#[inline(always)]
fn after_alloc<const D: u8>(local: &PerThread, block: *mut c_void, size: usize) {
    with_tracer::<D>(|tracer| {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: called from a hook of domain D on this thread, with
            // the busy flag set.
            unsafe { record_alloc::<D>(tracer, local, block as u64, size as u64) }
        }));
    });
}

#[inline(always)]
fn before_free<const D: u8>(block: *mut c_void) {
    with_tracer::<D>(|tracer| {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let address = block as u64;
            if let Some(sampled) = &tracer.sampled {
                if !sampled.remove(address) {
                    return;
                }
            }
            tracer.sink.free(FreeEvent { address, allocator: allocator_of::<D>(), domain: PYTHON_DOMAIN });
        }));
    });
}

/// # Safety
/// Called from a hook of domain `D` on the current thread, with `local`
/// this thread's state and its busy flag set.
#[inline(always)]
unsafe fn record_alloc<const D: u8>(tracer: &Tracer, local: &PerThread, address: u64, size: u64) {
    if local.generation.get() != tracer.generation {
        adopt_thread(tracer, local);
    }
    if tracer.sample_mean != 0 {
        let left = local.countdown.get() - size as i64;
        if left > 0 {
            local.countdown.set(left);
            return;
        }
        let mut rng = Rng(local.rng.get());
        local.countdown.set(rng.next_interval(tracer.sample_mean));
        local.rng.set(rng.0);
    }
    // SAFETY: only reads the thread's own state (see frames).
    let tstate = unsafe {
        if D == RAW {
            frames::thread_state_if_gil_held()
        } else {
            frames::thread_state_holding_gil()
        }
    };
    let stack = if tstate.is_null() {
        StackId::EMPTY
    } else {
        // SAFETY: `tstate` is ours and we hold the GIL.
        unsafe { capture_stack(tracer, local, tstate) }
    };
    if let Some(sampled) = &tracer.sampled {
        sampled.insert(address);
    }
    tracer.sink.alloc(AllocEvent {
        address,
        size,
        allocator: allocator_of::<D>(),
        domain: PYTHON_DOMAIN,
        thread: ThreadId(local.thread.get()),
        stack,
    });
}

#[cold]
fn adopt_thread(tracer: &Tracer, local: &PerThread) {
    local.generation.set(tracer.generation);
    local.cache_len.set(0);
    let id = tracer.next_thread.fetch_add(1, Ordering::Relaxed);
    local.thread.set(id);
    if local.rng.get() == 0 {
        local.rng.set(sampling::seed(local as *const PerThread as u64));
    }
    if tracer.sample_mean != 0 {
        let mut rng = Rng(local.rng.get());
        local.countdown.set(rng.next_interval(tracer.sample_mean));
        local.rng.set(rng.0);
    }
    tracer.sink.thread(ThreadId(id), &current_thread_name());
}

/// The OS name of the calling thread (no allocation through Python).
fn current_thread_name() -> String {
    let mut buffer = [0u8; 64];
    // SAFETY: the buffer is writable for its length; for the calling thread
    // glibc answers with prctl(PR_GET_NAME), allocating nothing.
    let status = unsafe {
        libc::pthread_getname_np(libc::pthread_self(), buffer.as_mut_ptr() as *mut libc::c_char, buffer.len())
    };
    if status != 0 {
        return String::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// The stack id of the calling thread's current Python stack.
///
/// # Safety
/// `tstate` is the calling thread's state, the GIL is held, and the busy
/// flag of `local` is set (so the caches are not reentered).
#[inline(always)]
unsafe fn capture_stack(tracer: &Tracer, local: &PerThread, tstate: *mut ffi::PyThreadState) -> StackId {
    let max = (tracer.max_frames.load(Ordering::Relaxed) as usize).clamp(1, MAX);
    // SAFETY: per-thread scratch, not aliased while busy is set; the
    // interner is serialized by the GIL.
    unsafe {
        let walk = &mut *local.walk.get();
        let cache = &mut *local.cache.get();
        let interner = &mut *tracer.interner.get();
        let depth = frames::walk(tstate, &mut walk[..max]);
        let cached = local.cache_len.get();
        let mut parent = StackId::EMPTY;
        let mut i = 0;
        while i < depth && i < cached && cache[i].0 == walk[depth - 1 - i] {
            parent = cache[i].1;
            i += 1;
        }
        while i < depth {
            let location = walk[depth - 1 - i];
            parent = interner.child(&*tracer.sink, parent, location);
            cache[i] = (location, parent);
            i += 1;
        }
        local.cache_len.set(depth);
        parent
    }
}

const DOMAINS: [PyMemAllocatorDomain; 3] = [
    PyMemAllocatorDomain::PYMEM_DOMAIN_RAW,
    PyMemAllocatorDomain::PYMEM_DOMAIN_MEM,
    PyMemAllocatorDomain::PYMEM_DOMAIN_OBJ,
];

fn hook_table<const D: u8>(layer: *mut Layer) -> PyMemAllocatorEx {
    PyMemAllocatorEx {
        ctx: layer as *mut c_void,
        malloc: Some(malloc_hook::<D>),
        calloc: Some(calloc_hook::<D>),
        realloc: Some(realloc_hook::<D>),
        free: Some(free_hook::<D>),
    }
}

/// Installs one enabled layer per domain, on top of the current allocators.
fn install(_py: Python<'_>) -> [usize; 3] {
    let mut installed = [0usize; 3];
    for (index, domain) in DOMAINS.into_iter().enumerate() {
        let mut prev = PyMemAllocatorEx { ctx: ptr::null_mut(), malloc: None, calloc: None, realloc: None, free: None };
        // SAFETY: the GIL is held; GetAllocator fills the struct.
        unsafe { ffi::PyMem_GetAllocator(domain, &mut prev) };
        let layer: *mut Layer = Box::leak(Box::new(Layer { prev, enabled: AtomicBool::new(true) }));
        let mut table = match index as u8 {
            RAW => hook_table::<RAW>(layer),
            MEM => hook_table::<MEM>(layer),
            _ => hook_table::<OBJ>(layer),
        };
        // SAFETY: the GIL is held (as PyMem_SetAllocator requires); the
        // layer outlives every call since it is never freed.
        unsafe { ffi::PyMem_SetAllocator(domain, &mut table) };
        installed[index] = layer as usize;
    }
    installed
}

/// Disables our layers and takes each off its chain if it is still on top.
fn uninstall(_py: Python<'_>, installed: [usize; 3]) {
    for (index, domain) in DOMAINS.into_iter().enumerate() {
        let layer = installed[index] as *mut Layer;
        if layer.is_null() {
            continue;
        }
        // SAFETY: our layers are leaked, never freed.
        let layer_ref = unsafe { &*layer };
        layer_ref.enabled.store(false, Ordering::SeqCst);
        let mut current = PyMemAllocatorEx { ctx: ptr::null_mut(), malloc: None, calloc: None, realloc: None, free: None };
        // SAFETY: the GIL is held.
        unsafe { ffi::PyMem_GetAllocator(domain, &mut current) };
        if current.ctx == layer as *mut c_void {
            let mut prev = layer_ref.prev;
            // SAFETY: the GIL is held; restores the allocator we wrapped.
            unsafe { ffi::PyMem_SetAllocator(domain, &mut prev) };
        }
    }
}

pub(super) fn start(py: Python<'_>, config: TraceConfig, sink: Arc<dyn EventSink>) -> Result<(), TraceError> {
    if !frames::SUPPORTED {
        return Err(TraceError::Unsupported("unknown frame layout".into()));
    }
    frames::check_runtime().map_err(TraceError::Unsupported)?;
    if config.max_frames < 1 || config.max_frames > MAX_FRAMES {
        return Err(TraceError::InvalidConfig(format!("max_frames must be in 1..={MAX_FRAMES}, not {}", config.max_frames)));
    }
    let sample_mean = match config.mode {
        Mode::Exact => 0,
        Mode::Sampled { mean_bytes: 0 } => {
            return Err(TraceError::InvalidConfig("the mean sampling interval must be at least 1 byte".into()))
        }
        Mode::Sampled { mean_bytes } => mean_bytes,
    };
    let mut installed = INSTALLED.lock();
    if !ACTIVE.load(Ordering::SeqCst).is_null() {
        return Err(TraceError::AlreadyTracing);
    }
    FORK_HANDLERS.call_once(register_fork_handlers);
    let tracer = Box::new(Tracer {
        sink,
        sample_mean,
        max_frames: AtomicU32::new(config.max_frames),
        generation: GENERATION.fetch_add(1, Ordering::SeqCst) + 1,
        interner: UnsafeCell::new(Interner::new()),
        next_thread: AtomicU32::new(0),
        sampled: (sample_mean != 0).then(SampledSet::new),
    });
    ACTIVE.store(Box::into_raw(tracer), Ordering::SeqCst);
    *installed = install(py);
    Ok(())
}

pub(super) fn stop(py: Python<'_>) -> Result<(), TraceError> {
    let mut installed = INSTALLED.lock();
    let tracer = ACTIVE.swap(ptr::null_mut(), Ordering::SeqCst);
    if tracer.is_null() {
        return Err(TraceError::NotTracing);
    }
    uninstall(py, *installed);
    *installed = [0; 3];
    while RAW_IN_FLIGHT.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
    // SAFETY: ACTIVE no longer points to it, no RAW hook is using it, and
    // MEM/OBJ hooks and other GIL holders are excluded since we hold the GIL.
    let mut tracer = unsafe { Box::from_raw(tracer) };
    // SAFETY: GIL held, hooks off: nobody uses the interner any more.
    unsafe { tracer.interner.get_mut().release_codes() };
    drop(tracer);
    Ok(())
}

pub(super) fn is_tracing() -> bool {
    !ACTIVE.load(Ordering::SeqCst).is_null()
}

pub(super) fn set_max_frames(max_frames: u32) -> Result<(), TraceError> {
    if max_frames < 1 || max_frames > MAX_FRAMES {
        return Err(TraceError::InvalidConfig(format!("max_frames must be in 1..={MAX_FRAMES}, not {max_frames}")));
    }
    let tracer = ACTIVE.load(Ordering::SeqCst);
    if tracer.is_null() {
        return Err(TraceError::NotTracing);
    }
    // SAFETY: callers hold the GIL (Python API), so `stop` cannot free it.
    unsafe { &*tracer }.max_frames.store(max_frames, Ordering::Relaxed);
    Ok(())
}

/// Bytes used by the running tracer's interner (for
/// `get_tracemalloc_memory`); the caller holds the GIL.
pub(super) fn interner_memory(_py: Python<'_>) -> usize {
    let tracer = ACTIVE.load(Ordering::SeqCst);
    if tracer.is_null() {
        return 0;
    }
    // SAFETY: GIL held: the tracer is alive and the interner not in use.
    let tracer = unsafe { &*tracer };
    // SAFETY: as above.
    let interner = unsafe { &*tracer.interner.get() };
    let sampled = tracer.sampled.as_ref().map_or(0, |s| s.counts.len() * 2 + s.live.lock().capacity() * 9);
    interner.memory_usage() + sampled + std::mem::size_of::<Tracer>()
}

/// Locks taken around fork(): no hook may be half-way through a locked
/// section when the child is created (its other threads vanish).
fn register_fork_handlers() {
    extern "C" fn prepare() {
        super::table::fork_prepare();
        if let Some(sampled) = active_sampled_set() {
            sampled.live.lock_raw();
        }
    }
    extern "C" fn parent() {
        if let Some(sampled) = active_sampled_set() {
            sampled.live.unlock_raw();
        }
        super::table::fork_release();
    }
    extern "C" fn child() {
        // The threads counted in flight do not exist in the child.
        RAW_IN_FLIGHT.store(0, Ordering::SeqCst);
        parent();
    }
    // SAFETY: registers three plain functions; they never unwind.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
}

fn active_sampled_set() -> Option<&'static SampledSet> {
    let tracer = ACTIVE.load(Ordering::SeqCst);
    if tracer.is_null() {
        return None;
    }
    // SAFETY: fork runs on a thread holding the GIL (os.fork), so `stop`
    // cannot free the tracer during the fork handlers.
    unsafe { &*tracer }.sampled.as_ref()
}

/// Runs `f` with this thread's allocations left out of the trace: what
/// memlens allocates to answer a query (snapshot tuples) is not the traced
/// program's memory, and must not re-enter the sink while it is locked.
pub(crate) fn untraced<R>(f: impl FnOnce() -> R) -> R {
    let was_busy = PER_THREAD.try_with(|local| local.busy.replace(true)).unwrap_or(true);
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = PER_THREAD.try_with(|local| local.busy.set(self.0));
        }
    }
    let _restore = Restore(was_busy);
    f()
}

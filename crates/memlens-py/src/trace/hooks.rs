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
use super::stacks::{Deaths, FastHash, Interner, SharedStacks};
use super::table;
use super::{Mode, TraceConfig, TraceError, MAX_FRAMES};
use memlens_trace::events::{
    AllocEvent, Allocator, EventSink, FreeEvent, StackId, ThreadId, UnmapEvent, PYTHON_DOMAIN,
};
use memlens_trace::writer::CaptureWriter;
use pyo3::ffi::{self, PyMemAllocatorDomain, PyMemAllocatorEx};
use pyo3::Python;
use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
#[cfg(Py_3_12)]
use std::os::raw::c_int;
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
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
    /// A sampled session's layer: its free hook probes [`SAMPLED_FILTER`]
    /// without loading the tracer (exact mode skips the probe).
    sampled: bool,
    /// A sampled session's MEM or OBJ layer over plain pymalloc, which
    /// hooks no free: see [`raw_backed_sampling`].
    raw_backed: bool,
}

/// The smallest request pymalloc does not serve from its pools but passes
/// to the RAW domain (its small-request limit is 512 bytes, 3.8-3.13).
const RAW_BACKED_MIN: usize = 513;

/// The running trace.
struct Tracer {
    sink: Arc<dyn EventSink>,
    /// Where exact-mode events of the Python hooks go without the dynamic
    /// call through `sink` (the sink itself, known by type).
    direct: Direct,
    /// 0 in exact mode, else the mean sampling interval in bytes.
    sample_mean: u64,
    max_frames: AtomicU32,
    /// A frame of the thread that started the trace below which stacks are
    /// not walked (0: none): `memlens run`'s own frames, the same under
    /// every stack of the program it runs.
    floor: AtomicUsize,
    generation: u64,
    /// Only touched under the GIL.
    interner: UnsafeCell<Interner>,
    /// The interned stacks, for threads without the GIL.
    shared_stacks: SharedStacks,
    next_thread: AtomicU32,
    sampled: Option<SampledSet>,
    /// What a stack cut short at `max_frames` says about the whole chain.
    totals: Totals,
}

/// What a stack cut short at the frame limit says about the whole chain
/// (tracemalloc's `Traceback.total_nframe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Totals {
    /// Nothing (capture files).
    Off,
    /// That it was cut: [`TRUNCATED_FLAG`] set on the stack id, one look
    /// past the last frame kept.
    Flag,
    /// Its length: every frame is counted, and the stack is a marker node
    /// ([`EventSink::truncated`]) above the frames kept.
    Count,
}

/// Set on a stack id (never on a stack the interner names) when the stack
/// was cut at the frame limit and the whole chain was not counted.
pub(crate) const TRUNCATED_FLAG: u32 = 1 << 31;

// SAFETY: `interner` is only accessed by threads holding the GIL (hooks with
// a thread state, `stop`), which serializes it; everything else is atomic,
// immutable or `Sync`.
unsafe impl Sync for Tracer {}
// SAFETY: as above; the tracer is created and dropped under the GIL.
unsafe impl Send for Tracer {}

/// A sink the hooks know by type, so that the hot path calls it directly
/// and inlined: the in-memory trace table (`memlens.tracemalloc`) or a
/// capture writer (`memlens run`). Used in exact mode only (sampled mode's
/// free filter is cheaper than either).
pub(crate) enum Direct {
    /// Only through `Tracer::sink`.
    None,
    /// `sink` is the trace table.
    Table,
    /// `sink` is this writer.
    Capture(Arc<CaptureWriter>),
}

/// The running tracer, or null.
static ACTIVE: AtomicPtr<Tracer> = AtomicPtr::new(ptr::null_mut());
/// RAW-domain hook calls currently using the tracer.
static RAW_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Numbers tracing sessions, so per-thread state knows when it is stale.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// The layers installed by the running trace, as addresses (0: none).
static INSTALLED: SpinLock<[usize; 3]> = SpinLock::new([0; 3]);
/// The same addresses, readable from the hooks (see [`layers_on_top`]).
static ON_TOP: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static FORK_HANDLERS: Once = Once::new();

/// Addresses of live sampled blocks (with the allocator each was recorded
/// under), behind [`SAMPLED_FILTER`], a lock-free pre-filter, so that frees
/// of unsampled blocks (nearly all) cost one atomic load.
struct SampledSet {
    live: SpinLock<HashMap<u64, Allocator, FastHash>>,
}

/// 8 KiB of counters: small enough to stay in L1 next to the interpreter's
/// working set; a counter that saturates stays set (only false positives).
const FILTER_BITS: u32 = 13;

/// The sampled session's filter: per slot, how many live sampled blocks
/// hash there. A static rather than part of the session, so that a RAW
/// free on a thread without the GIL may probe it at any moment, even while
/// `stop` tears the session down. Zeroed when a sampled session starts,
/// before its layers are enabled.
static SAMPLED_FILTER: [AtomicU8; 1 << FILTER_BITS] =
    [const { AtomicU8::new(0) }; 1 << FILTER_BITS];

impl SampledSet {
    fn new() -> Self {
        for counter in &SAMPLED_FILTER {
            counter.store(0, Ordering::Relaxed);
        }
        SampledSet {
            live: SpinLock::new(HashMap::default()),
        }
    }

    #[inline]
    fn slot(address: u64) -> usize {
        ((address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
    }

    #[inline(always)]
    fn counter(address: u64) -> &'static AtomicU8 {
        let slot = Self::slot(address);
        debug_assert!(slot < SAMPLED_FILTER.len());
        // SAFETY: `slot` keeps FILTER_BITS bits and the filter has
        // 1 << FILTER_BITS counters.
        unsafe { SAMPLED_FILTER.get_unchecked(slot) }
    }

    fn insert(&self, address: u64, allocator: Allocator) {
        if self.live.lock().insert(address, allocator).is_none() {
            let counter = Self::counter(address);
            if counter.load(Ordering::Relaxed) < u8::MAX {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// False when `address` is certainly not a live sampled block.
    #[inline(always)]
    fn maybe_contains(address: u64) -> bool {
        Self::counter(address).load(Ordering::Relaxed) != 0
    }

    /// Takes `address` out of the set; the allocator it was recorded under,
    /// or None when it is not a live sampled block.
    #[inline]
    fn remove(&self, address: u64) -> Option<Allocator> {
        let counter = Self::counter(address);
        let count = counter.load(Ordering::Relaxed);
        if count == 0 {
            return None;
        }
        let removed = self.live.lock().remove(&address);
        if removed.is_some() && count < u8::MAX {
            counter.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }
}

/// Hook state of whichever thread holds the GIL. Every hook call made with
/// the GIL held (MEM and OBJ always, RAW when the caller holds it) is
/// serialized by the GIL, so this needs no lock and, unlike thread-local
/// storage, costs no `__tls_get_addr` call on the hot path. The stack cache
/// belongs to the thread state in `tstate` and is dropped when another
/// thread takes the GIL.
///
/// `repr(C)` keeps the two fields of sampled mode's hot path, `countdown`
/// and `busy`, on one cache line at the start (left to itself, rustc put
/// `busy` after the 17 KiB of caches: 1.085× → 1.049× sampled on 3.11).
#[repr(C)]
struct GilState {
    /// Bytes left before the next sample (sampled mode).
    countdown: i64,
    /// Set while a GIL holder is inside a traced call or memlens' own work
    /// (reentrancy guard: pymalloc's own RAW calls are not traced twice).
    busy: bool,
    /// The session the fields below belong to.
    generation: u64,
    rng: u64,
    /// The thread state the cache and thread id belong to.
    tstate: *mut ffi::PyThreadState,
    thread: u32,
    /// The last captured stack, outermost first, with the stack id of each
    /// prefix.
    cache_len: usize,
    cache: [(RawLocation, StackId); MAX],
    /// Scratch space for the frame walk, innermost first.
    walk: [RawLocation; MAX],
    /// A direct-mapped cache in front of the interner's hash map:
    /// (parent, location) → stack, for the few call sites a loop cycles
    /// through.
    recent: [(u32, RawLocation, StackId); RECENT],
}

const RECENT: usize = 512;

struct GilCell(UnsafeCell<GilState>);

// SAFETY: only accessed by the thread holding the GIL (see `gil_state`).
unsafe impl Sync for GilCell {}

static GIL_STATE: GilCell = GilCell(UnsafeCell::new(GilState {
    countdown: 0,
    busy: false,
    generation: 0,
    rng: 0,
    tstate: ptr::null_mut(),
    thread: 0,
    cache_len: 0,
    cache: [(RawLocation::NONE, StackId::EMPTY); MAX],
    walk: [RawLocation::NONE; MAX],
    recent: [(u32::MAX, RawLocation::NONE, StackId::EMPTY); RECENT],
}));

/// # Safety
/// The caller holds the GIL and no other reference from `gil_state` is live
/// (hooks take it once per call, and nested calls only read `busy` through
/// the same path after it was set, returning before touching anything).
#[allow(clippy::mut_from_ref)]
#[inline(always)]
unsafe fn gil_state() -> &'static mut GilState {
    // SAFETY: serialized by the GIL, per the caller.
    unsafe { &mut *GIL_STATE.0.get() }
}

/// Per-thread state for RAW calls made without the GIL, and each thread's
/// capture-wide id.
struct PerThread {
    busy: Cell<bool>,
    generation: Cell<u64>,
    thread: Cell<u32>,
    countdown: Cell<i64>,
    rng: Cell<u64>,
}

thread_local! {
    static PER_THREAD: PerThread = const {
        PerThread {
            busy: Cell::new(false),
            generation: Cell::new(0),
            thread: Cell::new(0),
            countdown: Cell::new(0),
            rng: Cell::new(0),
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

/// Runs `allocate` (the wrapped allocator) under the reentrancy guard, then
/// `record`s the block it returned. Nested calls (pymalloc asking the RAW
/// domain for a large block) and memlens' own work are not recorded.
#[inline(always)]
fn traced_call<const D: u8>(
    allocate: impl FnOnce() -> *mut c_void,
    record: impl FnOnce(Caller, *mut c_void),
) -> *mut c_void {
    let tstate = if D == RAW {
        // SAFETY: only reads the thread state; for RAW we check the GIL.
        unsafe { frames::thread_state_if_gil_held() }
    } else {
        ptr::null_mut()
    };
    if D != RAW || !tstate.is_null() {
        // SAFETY: the caller holds the GIL; no reference into the state is
        // held while the wrapped allocator (which may re-enter) runs.
        if unsafe { gil_state().busy } {
            return allocate();
        }
        // SAFETY: as above.
        unsafe { gil_state().busy = true };
        let block = allocate();
        if !block.is_null() {
            record(Caller::Gil { tstate }, block);
        }
        // SAFETY: as above.
        unsafe { gil_state().busy = false };
        return block;
    }
    let mut allocate = Some(allocate);
    let traced = PER_THREAD.try_with(|local| {
        if local.busy.replace(true) {
            return None;
        }
        let block = match allocate.take() {
            Some(allocate) => allocate(),
            None => ptr::null_mut(),
        };
        if !block.is_null() {
            record(Caller::NoGil(local), block);
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

/// Who is allocating: a GIL holder (with its thread state when known), or a
/// thread without the GIL (RAW domain only).
#[derive(Clone, Copy)]
enum Caller<'a> {
    Gil { tstate: *mut ffi::PyThreadState },
    NoGil(&'a PerThread),
}

/// Sampled mode's hot path for a GIL holder's allocation that does not
/// reach the next sample point: count its bytes down and allocate under the
/// reentrancy guard, without looking at the tracer at all. Gives
/// `allocate` back (`Err`) when the request needs the full path (exact
/// mode, a sample point, a nested call, a RAW call).
///
/// `GilState::countdown` is positive only while a sampled trace runs (it is
/// set when the state joins a sampled session and zeroed by [`stop`]), so a
/// positive countdown alone says the request is traced and unsampled.
#[inline(always)]
fn allocate_unsampled<const D: u8, F: FnOnce() -> *mut c_void>(
    size: usize,
    allocate: F,
) -> Result<*mut c_void, F> {
    if D == RAW {
        return Err(allocate);
    }
    // SAFETY: MEM and OBJ callers hold the GIL; the reference is dropped
    // before the wrapped allocator (which may re-enter) runs.
    unsafe {
        let state = gil_state();
        let left = state.countdown.wrapping_sub(size as i64);
        if state.busy || left <= 0 {
            return Err(allocate);
        }
        state.countdown = left;
        state.busy = true;
    }
    let block = allocate();
    // SAFETY: as above.
    unsafe { gil_state().busy = false };
    Ok(block)
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
    let allocate = match allocate_unsampled::<D, _>(size, allocate) {
        Ok(block) => return block,
        Err(allocate) => allocate,
    };
    if raw_backed_sample_point::<D>(layer) {
        let allocate = move || match prev.malloc {
            Some(malloc) => malloc(prev.ctx, size.max(RAW_BACKED_MIN)),
            None => ptr::null_mut(),
        };
        return traced_call::<D>(allocate, |caller, block| {
            after_alloc::<D>(caller, block, size)
        });
    }
    traced_call::<D>(allocate, |caller, block| {
        after_alloc::<D>(caller, block, size)
    })
}

/// Whether a request that missed sampled mode's fast path is (or may be) a
/// sample point of a layer whose sampled blocks must be raw-backed (see
/// [`raw_backed_sampling`]): not memlens' own work or a nested call.
#[inline(always)]
fn raw_backed_sample_point<const D: u8>(layer: &Layer) -> bool {
    // SAFETY: MEM and OBJ callers hold the GIL (RAW never gets here).
    D != RAW && layer.raw_backed && !unsafe { gil_state().busy }
}

extern "C" fn calloc_hook<const D: u8>(
    ctx: *mut c_void,
    nelem: usize,
    elsize: usize,
) -> *mut c_void {
    let layer = layer_of(ctx);
    let prev = layer.prev;
    let allocate = move || match prev.calloc {
        Some(calloc) => calloc(prev.ctx, nelem, elsize),
        None => ptr::null_mut(),
    };
    if !layer.enabled.load(Ordering::Relaxed) {
        return allocate();
    }
    let size = nelem.saturating_mul(elsize);
    let allocate = match allocate_unsampled::<D, _>(size, allocate) {
        Ok(block) => return block,
        Err(allocate) => allocate,
    };
    if raw_backed_sample_point::<D>(layer) && size < RAW_BACKED_MIN {
        let allocate = move || match prev.calloc {
            Some(calloc) => calloc(prev.ctx, 1, RAW_BACKED_MIN),
            None => ptr::null_mut(),
        };
        return traced_call::<D>(allocate, |caller, block| {
            after_alloc::<D>(caller, block, size)
        });
    }
    traced_call::<D>(allocate, |caller, block| {
        after_alloc::<D>(caller, block, size)
    })
}

extern "C" fn realloc_hook<const D: u8>(
    ctx: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    let layer = layer_of(ctx);
    let prev = layer.prev;
    let allocate = move || match prev.realloc {
        Some(realloc) => realloc(prev.ctx, old, size),
        None => ptr::null_mut(),
    };
    if !layer.enabled.load(Ordering::Relaxed) {
        return allocate();
    }
    // Sampled mode: moving a block sampling never picked is an allocation
    // like any other for the countdown.
    let allocate = if old.is_null() || surely_untraced(layer, old) {
        match allocate_unsampled::<D, _>(size, allocate) {
            Ok(block) => return block,
            Err(allocate) => allocate,
        }
    } else {
        allocate
    };
    if raw_backed_sample_point::<D>(layer) {
        let allocate = move || match prev.realloc {
            Some(realloc) => realloc(prev.ctx, old, size.max(RAW_BACKED_MIN)),
            None => ptr::null_mut(),
        };
        return traced_call::<D>(allocate, |caller, block| {
            after_realloc::<D>(caller, old, block, size)
        });
    }
    traced_call::<D>(allocate, |caller, block| {
        after_realloc::<D>(caller, old, block, size)
    })
}

/// Records a realloc: the old block's free (if any), then the new block.
#[inline(always)]
fn after_realloc<const D: u8>(
    caller: Caller<'_>,
    old: *mut c_void,
    block: *mut c_void,
    size: usize,
) {
    if !old.is_null() {
        before_free::<D>(old);
    }
    after_alloc::<D>(caller, block, size);
}

extern "C" fn free_hook<const D: u8>(ctx: *mut c_void, block: *mut c_void) {
    let layer = layer_of(ctx);
    // Both ways out are tail calls, so the untraced paths (pass-through
    // hooks, a sampled session's unsampled blocks) need no stack frame.
    if !block.is_null() && layer.enabled.load(Ordering::Relaxed) && !surely_untraced(layer, block) {
        return free_traced::<D>(layer, block);
    }
    if let Some(free) = layer.prev.free {
        free(layer.prev.ctx, block);
    }
}

/// Whether a free is surely of no traced block: sampling never picked a
/// block at this address (one probe of the static filter, safe on any
/// thread at any time). False when it may be traced, and in exact mode.
#[inline(always)]
fn surely_untraced(layer: &Layer, block: *mut c_void) -> bool {
    layer.sampled && !SampledSet::maybe_contains(block as u64)
}

/// A free that may be of a traced block: reported, then given back.
#[inline(never)]
fn free_traced<const D: u8>(layer: &Layer, block: *mut c_void) {
    // Report before giving the block back, so its address cannot be handed
    // out again (and reported) by another thread before our free. No
    // reentrancy guard here: a nested free (pymalloc giving a large block
    // back to RAW) names an address the RAW side never traced, and is
    // ignored by the sink.
    before_free::<D>(block);
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

/// Records a block just allocated, under the reentrancy guard. The sampled
/// fast path (most allocations: not sampled) is a countdown subtraction; the
/// rest runs out of line, behind `catch_unwind`.
#[inline(always)]
fn after_alloc<const D: u8>(caller: Caller<'_>, block: *mut c_void, size: usize) {
    with_tracer::<D>(|tracer| {
        if let Caller::Gil { .. } = caller {
            if tracer.sample_mean != 0 {
                // SAFETY: a GIL holder inside a traced call (busy set).
                let state = unsafe { gil_state() };
                let left = state.countdown - size as i64;
                if state.generation == tracer.generation && left > 0 {
                    state.countdown = left;
                    return;
                }
            }
        }
        record_out_of_line::<D>(tracer, caller, block, size);
    });
}

#[inline(never)]
fn record_out_of_line<const D: u8>(
    tracer: &Tracer,
    caller: Caller<'_>,
    block: *mut c_void,
    size: usize,
) {
    let _ = catch_unwind(AssertUnwindSafe(|| match caller {
        // SAFETY: a GIL holder inside a traced call (busy set).
        Caller::Gil { tstate } => unsafe {
            record_with_gil::<D>(tracer, tstate, block as u64, size as u64)
        },
        Caller::NoGil(local) => record_without_gil::<D>(tracer, local, block as u64, size as u64),
    }));
}

#[inline(always)]
fn before_free<const D: u8>(block: *mut c_void) {
    if D != RAW {
        // Fast path for the common case, a GIL holder freeing a block that
        // sampling never picked: one filter load, no unwinding frame.
        let tracer = ACTIVE.load(Ordering::Acquire);
        if tracer.is_null() {
            return;
        }
        // SAFETY: the caller holds the GIL and `stop` needs it too.
        match &unsafe { &*tracer }.direct {
            // Exact mode: straight to the sink (neither can unwind: the
            // writer catches panics on its slow path).
            Direct::Table => {
                table::free_gil(block as u64);
                return;
            }
            Direct::Capture(writer) => {
                writer.free_serialized(FreeEvent {
                    address: block as u64,
                    allocator: allocator_of::<D>(),
                    domain: PYTHON_DOMAIN,
                });
                return;
            }
            Direct::None => {}
        }
        // SAFETY: the caller holds the GIL and `stop` needs it too.
        if unsafe { &*tracer }.sampled.is_some() && !SampledSet::maybe_contains(block as u64) {
            return;
        }
    }
    with_tracer::<D>(|tracer| {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let address = block as u64;
            let mut allocator = allocator_of::<D>();
            if let Some(sampled) = &tracer.sampled {
                match sampled.remove(address) {
                    None => return,
                    // A raw-backed sampled MEM/OBJ block comes back through
                    // the RAW hook: freed as what it was recorded as. Those
                    // frees hold the GIL (inside PyObject_Free), which the
                    // in-memory table's MEM/OBJ side needs; without it (a C
                    // caller mixing domains) the block stays recorded.
                    Some(recorded) => {
                        allocator = recorded;
                        if D == RAW
                            && matches!(recorded, Allocator::PyMem | Allocator::PyObject)
                            // SAFETY: only reads the interpreter's thread state.
                            && unsafe { frames::thread_state_if_gil_held() }.is_null()
                        {
                            allocator = Allocator::PyRaw;
                        }
                    }
                }
            }
            let event = FreeEvent {
                address,
                allocator,
                domain: PYTHON_DOMAIN,
            };
            // MEM and OBJ frees hold the GIL; a RAW free may not.
            if D == RAW {
                tracer.sink.free(event);
            } else {
                tracer.sink.free_serialized(event);
            }
        }));
    });
}

/// # Safety
/// The caller holds the GIL, is inside a traced call (busy set), and
/// `tstate` is its thread state when already known (RAW), else NULL.
#[inline]
unsafe fn record_with_gil<const D: u8>(
    tracer: &Tracer,
    tstate: *mut ffi::PyThreadState,
    address: u64,
    size: u64,
) {
    let block = NewBlock {
        allocator: allocator_of::<D>(),
        domain: PYTHON_DOMAIN,
        address,
        size,
    };
    // SAFETY: forwarded from the caller. The GIL serializes this call with
    // every other one made by the Python hooks.
    unsafe { record_block_with_gil::<true>(tracer, tstate, block) }
}

/// Records a block for a caller holding the GIL: session reset, sampling
/// countdown, thread switch, stack capture. `SERIALIZED` says the caller
/// is one of the Python hooks, serialized by the GIL with one another, so
/// the sink's `alloc_serialized` path may be used.
///
/// # Safety
/// The caller holds the GIL, is inside a traced call (busy set), and
/// `tstate` is its thread state when already known, else NULL.
#[inline(always)]
unsafe fn record_block_with_gil<const SERIALIZED: bool>(
    tracer: &Tracer,
    tstate: *mut ffi::PyThreadState,
    block: NewBlock,
) {
    // SAFETY: GIL held, per the caller.
    let state = unsafe { gil_state() };
    if state.generation != tracer.generation {
        state.generation = tracer.generation;
        state.tstate = ptr::null_mut();
        state.cache_len = 0;
        state.recent = [(u32::MAX, RawLocation::NONE, StackId::EMPTY); RECENT];
        if state.rng == 0 {
            state.rng = sampling::seed(block.address);
        }
        // Positive only in sampled mode: `allocate_unsampled` relies on it.
        state.countdown = 0;
        if tracer.sample_mean != 0 {
            let mut rng = Rng(state.rng);
            state.countdown = rng.next_interval(tracer.sample_mean);
            state.rng = rng.0;
        }
    }
    if tracer.sample_mean != 0 {
        let left = state.countdown - block.size as i64;
        if left > 0 {
            state.countdown = left;
            return;
        }
        let mut rng = Rng(state.rng);
        state.countdown = rng.next_interval(tracer.sample_mean);
        state.rng = rng.0;
    }
    let tstate = if tstate.is_null() {
        // SAFETY: the caller holds the GIL, so the current state is its own.
        unsafe { frames::thread_state_holding_gil() }
    } else {
        tstate
    };
    if tstate != state.tstate {
        state.tstate = tstate;
        state.cache_len = 0;
        state.thread = PER_THREAD
            .try_with(|local| thread_id(tracer, local))
            .unwrap_or(0);
    }
    let stack = if tstate.is_null() {
        StackId::EMPTY
    } else {
        // SAFETY: `tstate` is ours and we hold the GIL.
        unsafe { capture_stack(tracer, state, tstate, SERIALIZED) }
    };
    if let Some(sampled) = &tracer.sampled {
        sampled.insert(block.address, block.allocator);
    }
    let event = AllocEvent {
        address: block.address,
        size: block.size,
        allocator: block.allocator,
        domain: block.domain,
        thread: ThreadId(state.thread),
        stack,
    };
    if SERIALIZED {
        match &tracer.direct {
            Direct::Table => table::TableSink.alloc(event),
            Direct::Capture(writer) => writer.alloc_serialized(event),
            Direct::None => tracer.sink.alloc_serialized(event),
        }
    } else {
        tracer.sink.alloc(event);
    }
}

/// A RAW allocation on a thread without the GIL.
fn record_without_gil<const D: u8>(tracer: &Tracer, local: &PerThread, address: u64, size: u64) {
    let block = NewBlock {
        allocator: allocator_of::<D>(),
        domain: PYTHON_DOMAIN,
        address,
        size,
    };
    record_block_without_gil(tracer, local, block);
}

/// Records a block for a thread without the GIL: the stack from the
/// interned chains ([`stack_without_gil`]), the thread's own sampling
/// countdown.
fn record_block_without_gil(tracer: &Tracer, local: &PerThread, block: NewBlock) {
    let thread = thread_id(tracer, local);
    if tracer.sample_mean != 0 {
        let left = local.countdown.get() - block.size as i64;
        if left > 0 {
            local.countdown.set(left);
            return;
        }
        let mut rng = Rng(local.rng.get());
        local.countdown.set(rng.next_interval(tracer.sample_mean));
        local.rng.set(rng.0);
        if let Some(sampled) = &tracer.sampled {
            sampled.insert(block.address, block.allocator);
        }
    }
    tracer.sink.alloc(AllocEvent {
        address: block.address,
        size: block.size,
        allocator: block.allocator,
        domain: block.domain,
        thread: ThreadId(thread),
        stack: stack_without_gil(tracer),
    });
}

/// One block just handed out, by a Python allocator or an external one.
#[derive(Clone, Copy)]
struct NewBlock {
    allocator: Allocator,
    domain: u32,
    address: u64,
    size: u64,
}

/// This thread's id in the running capture, announcing it on first sight.
fn thread_id(tracer: &Tracer, local: &PerThread) -> u32 {
    if local.generation.get() == tracer.generation {
        return local.thread.get();
    }
    local.generation.set(tracer.generation);
    let id = tracer.next_thread.fetch_add(1, Ordering::Relaxed);
    local.thread.set(id);
    if local.rng.get() == 0 {
        local
            .rng
            .set(sampling::seed(local as *const PerThread as u64));
    }
    if tracer.sample_mean != 0 {
        let mut rng = Rng(local.rng.get());
        local.countdown.set(rng.next_interval(tracer.sample_mean));
        local.rng.set(rng.0);
    }
    tracer.sink.thread(ThreadId(id), &current_thread_name());
    id
}

/// Announces `name` as the calling thread's name in the running trace
/// (announcing the thread first if it is new). Called from Python, with the
/// GIL, when a `threading.Thread` starts: the hooks only know OS names and
/// must never call Python to learn better ones. False when no trace runs.
pub(super) fn name_current_thread(py: Python<'_>, name: &str) -> bool {
    let tracer = ACTIVE.load(Ordering::SeqCst);
    if tracer.is_null() {
        return false;
    }
    // SAFETY: the GIL is held, so `stop` cannot free the tracer meanwhile.
    let tracer = unsafe { &*tracer };
    untraced(py, || {
        PER_THREAD
            .try_with(|local| {
                let id = thread_id(tracer, local);
                tracer.sink.thread(ThreadId(id), name);
            })
            .is_ok()
    })
}

/// The OS name of the calling thread (no allocation through Python).
fn current_thread_name() -> String {
    let mut buffer = [0u8; 64];
    // SAFETY: the buffer is writable for its length; for the calling thread
    // glibc answers with prctl(PR_GET_NAME), allocating nothing.
    let status = unsafe {
        libc::pthread_getname_np(
            libc::pthread_self(),
            buffer.as_mut_ptr() as *mut libc::c_char,
            buffer.len(),
        )
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
/// `tstate` is the calling thread's state, the GIL is held, and `state`
/// belongs to `tstate`.
#[inline(always)]
unsafe fn capture_stack(
    tracer: &Tracer,
    state: &mut GilState,
    tstate: *mut ffi::PyThreadState,
    python_hook: bool,
) -> StackId {
    let max = (tracer.max_frames.load(Ordering::Relaxed) as usize).clamp(1, MAX);
    // SAFETY: the interner is serialized by the GIL; the walk reads our
    // own frames.
    unsafe {
        let interner = &mut *tracer.interner.get();
        let floor = tracer.floor.load(Ordering::Relaxed) as *const u8;
        let (depth, total) = match tracer.totals {
            Totals::Off => (frames::walk(tstate, floor, &mut state.walk[..max]), 0),
            Totals::Flag => frames::walk_measuring::<false>(tstate, floor, &mut state.walk[..max]),
            Totals::Count => frames::walk_measuring::<true>(tstate, floor, &mut state.walk[..max]),
        };
        let shared = depth.min(state.cache_len);
        let mut parent = StackId::EMPTY;
        let mut i = 0;
        // The outer frames shared with the previous capture.
        while i < shared {
            // SAFETY: i < shared ≤ depth ≤ MAX and i < cache_len ≤ MAX.
            let (walked, (cached, stack)) = (
                *state.walk.get_unchecked(depth - 1 - i),
                *state.cache.get_unchecked(i),
            );
            if walked.code != cached.code || walked.offset != cached.offset {
                break;
            }
            parent = stack;
            i += 1;
        }
        while i < depth {
            let location = state.walk[depth - 1 - i];
            let slot = ((location.code as usize >> 4)
                ^ (location.offset as usize).wrapping_mul(31)
                ^ (parent.0 as usize).wrapping_mul(0x9E37))
                % RECENT;
            let (recent_parent, recent_location, recent_stack) = state.recent[slot];
            parent = if recent_parent == parent.0 && recent_location == location {
                recent_stack
            } else {
                let stack = interner.child(
                    &*tracer.sink,
                    parent,
                    location,
                    &tracer.shared_stacks,
                    python_hook,
                );
                state.recent[slot] = (parent.0, location, stack);
                stack
            };
            state.cache[i] = (location, parent);
            i += 1;
        }
        state.cache_len = depth;
        if total > depth {
            if let Totals::Flag = tracer.totals {
                return StackId(parent.0 | TRUNCATED_FLAG);
            }
            // The whole chain's length rides on a marker stack above the
            // frames kept (a null code object).
            let marker = RawLocation {
                code: ptr::null_mut(),
                offset: total as i32,
            };
            let slot = (total.wrapping_mul(0x9E37_79B9) ^ (parent.0 as usize).wrapping_mul(0x9E37))
                % RECENT;
            let (recent_parent, recent_location, recent_stack) = state.recent[slot];
            parent = if recent_parent == parent.0 && recent_location == marker {
                recent_stack
            } else {
                let stack = interner.truncated(&*tracer.sink, parent, total as u32);
                state.recent[slot] = (parent.0, marker, stack);
                stack
            };
        }
        parent
    }
}

const DOMAINS: [PyMemAllocatorDomain; 3] = [
    PyMemAllocatorDomain::PYMEM_DOMAIN_RAW,
    PyMemAllocatorDomain::PYMEM_DOMAIN_MEM,
    PyMemAllocatorDomain::PYMEM_DOMAIN_OBJ,
];

fn hook_table<const D: u8>(layer: *mut Layer) -> PyMemAllocatorEx {
    // SAFETY: the layer was just leaked and is never freed.
    let layer_ref = unsafe { &*layer };
    PyMemAllocatorEx {
        ctx: layer as *mut c_void,
        malloc: Some(malloc_hook::<D>),
        calloc: Some(calloc_hook::<D>),
        realloc: Some(realloc_hook::<D>),
        // pymalloc's own free, called with our context, which it ignores.
        free: if layer_ref.raw_backed {
            layer_ref.prev.free
        } else {
            Some(free_hook::<D>)
        },
    }
}

/// Whether a sampled session may leave the MEM and OBJ frees unhooked.
///
/// Sampled mode must see the free of every block it sampled, and hooking
/// free costs every free a hop and a filter probe (a third of the sampled
/// mode's cost on allocation-heavy code). Over plain pymalloc it need not:
/// a sample point asks pymalloc for at least [`RAW_BACKED_MIN`] bytes,
/// which pymalloc takes from the RAW domain, and pymalloc hands a block it
/// did not carve from its pools back to the RAW domain on free and realloc
/// (`PyMem_RawFree` / `PyMem_RawRealloc`, counted in its own
/// `sys.getallocatedblocks()` bookkeeping as any large block is). So the
/// sampled block's free reaches the RAW layer's hook, and the MEM and OBJ
/// layers keep pymalloc's free function itself, which ignores its context.
///
/// Only when the interpreter's allocators are exactly pymalloc's
/// (`_PyMem_GetCurrentAllocatorName()` says "pymalloc": no debug hooks, no
/// other tool's hooks, whose free needs its own context) and
/// `MEMLENS_SAMPLED_FREE_HOOKS` is unset (which keeps the free hooks: a
/// diagnostic, and how the tests cover both ways). Looked up with dlsym:
/// the symbol is private, so its absence only means "no".
fn raw_backed_sampling() -> bool {
    if std::env::var_os("MEMLENS_SAMPLED_FREE_HOOKS").is_some() {
        return false;
    }
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // process's global symbols, where the interpreter's are.
    let symbol = unsafe {
        libc::dlsym(
            libc::RTLD_DEFAULT,
            c"_PyMem_GetCurrentAllocatorName".as_ptr(),
        )
    };
    if symbol.is_null() {
        return false;
    }
    // SAFETY: the function takes nothing and returns a static string or
    // NULL (3.8-3.13); the caller holds the GIL.
    let name = unsafe {
        let name_of: unsafe extern "C" fn() -> *const std::ffi::c_char =
            std::mem::transmute(symbol);
        name_of()
    };
    // SAFETY: a non-null result is a static NUL-terminated string.
    !name.is_null() && unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes() == b"pymalloc"
}

/// Installs one layer per domain, on top of the current allocators.
fn install(py: Python<'_>, sampled: bool) -> [usize; 3] {
    install_layers(py, true, sampled)
}

/// The allocator installed on top of `domain` now.
fn current_allocator(domain: PyMemAllocatorDomain) -> PyMemAllocatorEx {
    let mut current = PyMemAllocatorEx {
        ctx: ptr::null_mut(),
        malloc: None,
        calloc: None,
        realloc: None,
        free: None,
    };
    // SAFETY: GetAllocator only fills the struct; it takes no lock before
    // 3.13 and, from 3.13, one under which no allocation is made, so it is
    // safe from inside an allocation hook as well as with the GIL held.
    unsafe { ffi::PyMem_GetAllocator(domain, &mut current) };
    current
}

/// Installs one layer per domain, recording when `enabled` (a disabled
/// layer only forwards), a sampled session's when `sampled`.
fn install_layers(_py: Python<'_>, enabled: bool, sampled: bool) -> [usize; 3] {
    let mut installed = [0usize; 3];
    // Asked before any layer is on (ours would make the answer "unknown").
    let raw_backed = sampled && raw_backed_sampling();
    for (index, domain) in DOMAINS.into_iter().enumerate() {
        let prev = current_allocator(domain);
        let layer: *mut Layer = Box::leak(Box::new(Layer {
            prev,
            enabled: AtomicBool::new(enabled),
            sampled,
            raw_backed: raw_backed && index as u8 != RAW && prev.ctx.is_null(),
        }));
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
        let current = current_allocator(domain);
        if current.ctx == layer as *mut c_void {
            let mut prev = layer_ref.prev;
            // SAFETY: the GIL is held; restores the allocator we wrapped.
            unsafe { ffi::PyMem_SetAllocator(domain, &mut prev) };
        }
    }
}

pub(super) fn start(
    py: Python<'_>,
    config: TraceConfig,
    sink: Arc<dyn EventSink>,
    direct: Direct,
    totals: Totals,
) -> Result<(), TraceError> {
    if !frames::SUPPORTED {
        return Err(TraceError::Unsupported("unknown frame layout".into()));
    }
    if cfg!(Py_GIL_DISABLED) {
        return Err(TraceError::Unsupported(
            "free-threaded builds (the hooks rely on the GIL)".into(),
        ));
    }
    frames::check_runtime().map_err(TraceError::Unsupported)?;
    if !(1..=MAX_FRAMES).contains(&config.max_frames) {
        return Err(TraceError::InvalidConfig(format!(
            "max_frames must be in 1..={MAX_FRAMES}, not {}",
            config.max_frames
        )));
    }
    let sample_mean = match config.mode {
        Mode::Exact => 0,
        Mode::Sampled { mean_bytes: 0 } => {
            return Err(TraceError::InvalidConfig(
                "the mean sampling interval must be at least 1 byte".into(),
            ))
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
        direct: if sample_mean == 0 {
            direct
        } else {
            Direct::None
        },
        sample_mean,
        max_frames: AtomicU32::new(config.max_frames),
        floor: AtomicUsize::new(0),
        generation: GENERATION.fetch_add(1, Ordering::SeqCst) + 1,
        interner: UnsafeCell::new(Interner::new(death_notices())),
        shared_stacks: SharedStacks::default(),
        next_thread: AtomicU32::new(0),
        sampled: (sample_mean != 0).then(SampledSet::new),
        totals,
    });
    ACTIVE.store(Box::into_raw(tracer), Ordering::SeqCst);
    *installed = install(py, sample_mean != 0);
    for (slot, &layer) in ON_TOP.iter().zip(installed.iter()) {
        slot.store(layer, Ordering::Release);
    }
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
    for slot in &ON_TOP {
        slot.store(0, Ordering::Release);
    }
    // SAFETY: the GIL is held (`py`); a stale countdown must not let
    // `allocate_unsampled` treat a later session's requests as sampled.
    unsafe { gil_state().countdown = 0 };
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

/// How the interner will learn of code deaths: a code watcher on 3.12+
/// (registered once per process, it stays: watchers are few, and it does
/// nothing while no trace runs), else a code-extra slot, else not at all.
/// Called with the GIL held, outside any hook.
fn death_notices() -> Deaths {
    #[cfg(Py_3_12)]
    {
        static WATCHER: std::sync::OnceLock<c_int> = std::sync::OnceLock::new();
        // SAFETY: the GIL is held (`start`), no exception is set; a failure
        // (all watchers taken) sets one, which is cleared.
        let id = *WATCHER.get_or_init(|| unsafe {
            let id = PyCode_AddWatcher(code_event);
            if id < 0 {
                ffi::PyErr_Clear();
            }
            id
        });
        if id >= 0 {
            return Deaths::Watcher;
        }
    }
    match code_extra_index() {
        Some(index) => Deaths::Extra(index),
        None => Deaths::Unknown,
    }
}

#[cfg(Py_3_12)]
extern "C" {
    /// `PyCode_AddWatcher` (3.12+; not in pyo3's bindings). The event is a
    /// `PyCodeEvent`: 0 created, 1 destroyed.
    fn PyCode_AddWatcher(callback: unsafe extern "C" fn(c_int, *mut c_void) -> c_int) -> c_int;
}

/// The code watcher: a code object is being deallocated (or created).
#[cfg(Py_3_12)]
unsafe extern "C" fn code_event(event: c_int, code: *mut c_void) -> c_int {
    const PY_CODE_EVENT_DESTROY: c_int = 1;
    if event == PY_CODE_EVENT_DESTROY {
        // SAFETY: CPython calls watchers with the GIL held.
        unsafe { forget_dead_code(code) };
    }
    0
}

/// The interpreter's code-extra slot whose free function is [`code_freed`]
/// (requested once per process: slots cannot be given back), or None when
/// the interpreter has none left. Called with the GIL held.
fn code_extra_index() -> Option<ffi::Py_ssize_t> {
    static INDEX: std::sync::OnceLock<ffi::Py_ssize_t> = std::sync::OnceLock::new();
    // SAFETY: the GIL is held (`start`); the function only appends to the
    // interpreter's table of free functions and fails with -1 when full
    // (setting no exception).
    let index =
        *INDEX.get_or_init(|| unsafe { ffi::PyUnstable_Eval_RequestCodeExtraIndex(code_freed) });
    (index >= 0).then_some(index)
}

/// CPython's call when a code object is deallocated, with each of its
/// code-extra slots' value: ours holds the code's own address, set when the
/// interner first saw it (other slots, or ours unset, pass NULL).
unsafe extern "C" fn code_freed(extra: *mut c_void) {
    if !extra.is_null() {
        // SAFETY: deallocations run with the GIL held.
        unsafe { forget_dead_code(extra) };
    }
}

/// Drops what the running trace keyed by the address of `code`, a code
/// object being deallocated, so that a code object later allocated there
/// is not taken for this one.
///
/// # Safety
/// The GIL is held. The hooks never release a Python reference, so this
/// never runs inside one: no hook is using the interner or the GIL state,
/// and no lock a hook holds is taken here but the shared map's (which
/// its holders, RAW hooks without the GIL, release without waiting on
/// anything).
unsafe fn forget_dead_code(code: *mut c_void) {
    let tracer = ACTIVE.load(Ordering::Acquire);
    if tracer.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the GIL is held, so `stop` cannot free the tracer
        // meanwhile; see above for the interner and the GIL state.
        unsafe {
            let tracer = &*tracer;
            let interner = &mut *tracer.interner.get();
            if interner.forget_code(code as usize, &tracer.shared_stacks) {
                let state = gil_state();
                state.cache_len = 0;
                for entry in state.recent.iter_mut() {
                    if entry.1.code as *mut c_void == code {
                        *entry = (u32::MAX, RawLocation::NONE, StackId::EMPTY);
                    }
                }
            }
        }
    }));
}

/// Whether our layers are the outermost allocator of every domain: a hook
/// call is then made by CPython itself, never by another layer that holds
/// a lock of its own, so the hook may allocate through PyMem (tagging a
/// code object). Called with the GIL held, on the rare first sight of a
/// code object.
pub(super) fn layers_on_top() -> bool {
    DOMAINS
        .into_iter()
        .zip(ON_TOP.iter())
        .all(|(domain, ours)| {
            let current = current_allocator(domain);
            let ours = ours.load(Ordering::Acquire);
            ours != 0 && current.ctx as usize == ours
        })
}

/// Whether the running trace hooks the MEM and OBJ frees (None: no trace).
pub(super) fn frees_hooked(_py: Python<'_>) -> Option<bool> {
    let installed = INSTALLED.lock();
    if ACTIVE.load(Ordering::SeqCst).is_null() || installed[OBJ as usize] == 0 {
        return None;
    }
    // SAFETY: our layers are leaked, never freed.
    Some(!unsafe { &*(installed[OBJ as usize] as *const Layer) }.raw_backed)
}

/// Installs (`on`) or removes layers that only forward to the allocators
/// they wrap: the benchmarks' measure of what the hop through a hook costs
/// by itself, the floor under sampled mode. Refused while a trace runs.
pub(super) fn set_passthrough(py: Python<'_>, on: bool) -> Result<(), TraceError> {
    static PASSTHROUGH: SpinLock<[usize; 3]> = SpinLock::new([0; 3]);
    let installed = INSTALLED.lock();
    if !ACTIVE.load(Ordering::SeqCst).is_null() {
        return Err(TraceError::AlreadyTracing);
    }
    let mut passthrough = PASSTHROUGH.lock();
    match (on, passthrough[0] != 0) {
        (true, false) => *passthrough = install_layers(py, false, false),
        (false, true) => {
            uninstall(py, *passthrough);
            *passthrough = [0; 3];
        }
        _ => {}
    }
    drop(installed);
    Ok(())
}

/// Stops stack walks of the calling thread at the frame `depth` Python
/// frames below its innermost one: that frame and its callers are left out
/// of every stack recorded from now on. Errors when no trace runs or the
/// stack is not that deep.
pub(super) fn set_floor(_py: Python<'_>, depth: usize) -> Result<(), TraceError> {
    let tracer = ACTIVE.load(Ordering::SeqCst);
    if tracer.is_null() {
        return Err(TraceError::NotTracing);
    }
    // SAFETY: the GIL is held (the token), so the current state is ours.
    let tstate = unsafe { frames::thread_state_holding_gil() };
    // SAFETY: our own state, GIL held.
    let floor = unsafe { frames::ancestor(tstate, depth) };
    if floor.is_null() {
        return Err(TraceError::InvalidConfig(format!(
            "the calling stack has no frame at depth {depth}"
        )));
    }
    // SAFETY: the GIL is held and `stop` (which frees the tracer) needs it.
    unsafe { &*tracer }
        .floor
        .store(floor as usize, Ordering::Relaxed);
    Ok(())
}

pub(super) fn is_tracing() -> bool {
    !ACTIVE.load(Ordering::SeqCst).is_null()
}

pub(super) fn set_max_frames(max_frames: u32) -> Result<(), TraceError> {
    if !(1..=MAX_FRAMES).contains(&max_frames) {
        return Err(TraceError::InvalidConfig(format!(
            "max_frames must be in 1..={MAX_FRAMES}, not {max_frames}"
        )));
    }
    let tracer = ACTIVE.load(Ordering::SeqCst);
    if tracer.is_null() {
        return Err(TraceError::NotTracing);
    }
    // SAFETY: callers hold the GIL (Python API), so `stop` cannot free it.
    unsafe { &*tracer }
        .max_frames
        .store(max_frames, Ordering::Relaxed);
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
    let sampled = tracer.sampled.as_ref().map_or(0, |s| {
        SAMPLED_FILTER.len()
            + s.live.lock().capacity() * (std::mem::size_of::<(u64, Allocator)>() + 1)
    });
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
pub(crate) fn untraced<R>(_py: Python<'_>, f: impl FnOnce() -> R) -> R {
    // SAFETY: the GIL is held (`_py`).
    let was_busy = std::mem::replace(unsafe { &mut gil_state().busy }, true);
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: still under the GIL taken by the caller.
            unsafe { gil_state().busy = self.0 };
        }
    }
    let _restore = Restore(was_busy);
    f()
}

// ---------------------------------------------------------------------------
// Allocators outside CPython's three domains (numpy's data-memory handler,
// the native malloc/mmap interposer): one entry point to run them under the
// reentrancy guard, and two to record what they did. They reuse the hooks'
// guard flags, sampling countdowns, thread ids and stack capture, so an
// external block looks exactly like a Python one except for its allocator
// and domain.
// ---------------------------------------------------------------------------

/// Runs `allocate`, an external allocator memlens wraps (numpy's handler),
/// with this thread marked busy, so what it does underneath (libc calls the
/// native interposer sees) is not recorded a second time. Returns its
/// result, and whether this call was the outermost one (the one to record);
/// a nested call or a thread whose thread-local storage is gone gets
/// `false`.
///
/// The per-thread flag is always set. The GIL holder's flag, which keeps
/// the Python hooks from recording, is set only when `uses_python_allocators`
/// says the allocator calls them itself while keeping the GIL (numpy ≥ 2.5
/// allocates through `PyMem_RawMalloc`): an allocator that releases the GIL
/// inside (older numpy's `calloc`) must leave it clear, or the threads that
/// take the GIL meanwhile would not be traced.
pub(crate) fn external_guarded(
    uses_python_allocators: bool,
    allocate: impl FnOnce() -> *mut c_void,
) -> (*mut c_void, bool) {
    let mut allocate = Some(allocate);
    let outer = PER_THREAD.try_with(|local| {
        if local.busy.replace(true) {
            return None;
        }
        // SAFETY: only reads the interpreter's current-thread state.
        let gil =
            uses_python_allocators && !unsafe { frames::thread_state_if_gil_held() }.is_null();
        // SAFETY: the GIL is held when `gil`; no reference into the state
        // is kept while the allocator runs.
        let was_busy = gil && std::mem::replace(unsafe { &mut gil_state().busy }, true);
        let block = allocate
            .take()
            .map_or(ptr::null_mut(), |allocate| allocate());
        if gil {
            // SAFETY: as above (the allocator kept the GIL).
            unsafe { gil_state().busy = was_busy };
        }
        local.busy.set(false);
        Some(block)
    });
    match outer {
        Ok(Some(block)) => (block, true),
        _ => (
            allocate
                .take()
                .map_or(ptr::null_mut(), |allocate| allocate()),
            false,
        ),
    }
}

/// Records a block handed out by an external allocator, unless the caller
/// is inside a traced call (a Python hook, an [`external_guarded`] call, or
/// memlens' own work): pymalloc's arenas and `PyMem_RawMalloc` blocks are
/// recorded once, by the Python hooks. A thread holding the GIL gets its
/// Python stack, any other thread the part of its Python stack already
/// interned ([`stack_without_gil`]). Sampling follows the
/// same per-thread countdowns as Python allocations.
///
/// Callable from any thread, with or without the GIL, concurrently; never
/// calls into Python and never panics.
pub(crate) fn record_external_alloc(allocator: Allocator, domain: u32, address: u64, size: u64) {
    if ACTIVE.load(Ordering::Relaxed).is_null() {
        return;
    }
    // SAFETY: only reads the interpreter's current-thread state.
    let tstate = unsafe { frames::thread_state_if_gil_held() };
    let _ = PER_THREAD.try_with(|local| {
        // SAFETY: `tstate` non-null means this thread holds the GIL.
        if local.busy.get() || (!tstate.is_null() && unsafe { gil_state().busy }) {
            return;
        }
        local.busy.set(true);
        RAW_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        let tracer = ACTIVE.load(Ordering::SeqCst);
        if !tracer.is_null() {
            // SAFETY: `stop` waits for RAW_IN_FLIGHT to drop to zero after
            // clearing ACTIVE, before freeing the tracer.
            let tracer = unsafe { &*tracer };
            let event = NewBlock {
                allocator,
                domain,
                address,
                size,
            };
            if tstate.is_null() {
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    record_block_without_gil(tracer, local, event)
                }));
            } else {
                // SAFETY: the GIL is held; the guard keeps what the sink
                // allocates through Python's allocators out of the trace.
                unsafe { gil_state().busy = true };
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: GIL held, busy set, `tstate` is ours.
                    unsafe { record_block_with_gil::<false>(tracer, tstate, event) }
                }));
                // SAFETY: as above.
                unsafe { gil_state().busy = false };
            }
        }
        RAW_IN_FLIGHT.fetch_sub(1, Ordering::Release);
        local.busy.set(false);
    });
}

/// Records that an external allocator takes a block back; call it before
/// the block is really given back (so its address cannot be handed out and
/// recorded again by another thread first). Skipped inside a traced call,
/// like allocations: the sink may be freeing while it holds its own lock.
/// In sampled mode, frees of blocks sampling never picked cost one filter
/// load.
pub(crate) fn record_external_free(allocator: Allocator, domain: u32, address: u64) {
    with_external_tracer(|tracer| {
        if let Some(sampled) = &tracer.sampled {
            if sampled.remove(address).is_none() {
                return;
            }
        }
        tracer.sink.free(FreeEvent {
            address,
            allocator,
            domain,
        });
    });
}

/// Records that `[address, address + size)` of anonymous mappings is given
/// back (`munmap`, or the old range of an `mremap`); call it before the
/// range is really unmapped, as [`record_external_free`]. The range may cut
/// a mapping or span several, so in sampled mode it is always recorded
/// (the reader ignores ranges that cover no sampled mapping).
pub(crate) fn record_external_unmap(address: u64, size: u64) {
    with_external_tracer(|tracer| {
        if let Some(sampled) = &tracer.sampled {
            let _ = sampled.remove(address);
        }
        tracer.sink.unmap(UnmapEvent { address, size });
    });
}

/// Runs `f` with the tracer for an external allocator's free, unless no
/// trace runs or the caller is inside a traced call (the sink may be
/// freeing while it holds its own lock).
fn with_external_tracer(f: impl FnOnce(&Tracer)) {
    if ACTIVE.load(Ordering::Relaxed).is_null() {
        return;
    }
    // SAFETY: only reads the interpreter's current-thread state.
    let tstate = unsafe { frames::thread_state_if_gil_held() };
    // SAFETY: `tstate` non-null means this thread holds the GIL.
    if !tstate.is_null() && unsafe { gil_state().busy } {
        return;
    }
    if PER_THREAD
        .try_with(|local| local.busy.get())
        .unwrap_or(true)
    {
        return;
    }
    RAW_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let tracer = ACTIVE.load(Ordering::SeqCst);
    if !tracer.is_null() {
        // SAFETY: as in `record_external_alloc`.
        let tracer = unsafe { &*tracer };
        let _ = catch_unwind(AssertUnwindSafe(|| f(tracer)));
    }
    RAW_IN_FLIGHT.fetch_sub(1, Ordering::Release);
}

#[cfg(Py_3_13)]
use ffi::Py_IsFinalizing as is_finalizing;

#[cfg(not(Py_3_13))]
extern "C" {
    /// Whether the interpreter is finalizing (exported by 3.9–3.12 under
    /// this name; `Py_IsFinalizing` from 3.13).
    #[link_name = "_Py_IsFinalizing"]
    fn is_finalizing() -> std::os::raw::c_int;
}

/// The Python stack of a thread that has released the GIL (C code called
/// from Python), as far as its chain is already interned; EMPTY for a
/// thread that never ran Python. The thread reads only its own frames:
/// only it pushes and pops them, and it is running C code now.
fn stack_without_gil(tracer: &Tracer) -> StackId {
    // During finalization the interpreter deletes the states of threads
    // still running C code (daemon threads): never read them then.
    // SAFETY: reads one flag of the runtime; callable without the GIL.
    if unsafe { is_finalizing() } != 0 {
        return StackId::EMPTY;
    }
    // SAFETY: reads this thread's own thread state from thread-local
    // storage; usable without the GIL, allocates nothing.
    let tstate = unsafe { ffi::PyGILState_GetThisThreadState() };
    if tstate.is_null() {
        return StackId::EMPTY;
    }
    let max = (tracer.max_frames.load(Ordering::Relaxed) as usize).clamp(1, MAX);
    let mut walked = [RawLocation::NONE; MAX];
    // SAFETY: `tstate` is this thread's own state and its frame chain is
    // not changing while this thread is in C code.
    let floor = tracer.floor.load(Ordering::Relaxed) as *const u8;
    // SAFETY: as above.
    let depth = unsafe { frames::walk(tstate, floor, &mut walked[..max]) };
    tracer.shared_stacks.find(&walked[..depth])
}

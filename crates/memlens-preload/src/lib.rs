//! `libmemlens_preload.so`: an `LD_PRELOAD` library that interposes the
//! libc allocation functions, forwards every call to the next definition
//! (libc, or another preloaded allocator), and reports the blocks to a
//! callback registered by memlens' tracer.
//!
//! Interposed: `malloc`, `calloc`, `realloc`, `free`, `posix_memalign`,
//! `aligned_alloc`, `memalign`, `valloc`, `pvalloc`, `mmap`, `mmap64` and
//! `munmap`. Only anonymous mappings are reported (file mappings are page
//! cache, not heap); `mremap` is not interposed.
//!
//! Until the tracer calls [`memlens_preload_set_callback`], each call costs
//! one atomic load on top of libc's. With a callback, a per-thread flag
//! keeps the callback from being re-entered by the allocations it makes
//! itself (and those its thread-local storage needs). The library links no
//! Python and allocates nothing.
//!
//! Bootstrap: the real functions are found with `dlsym(RTLD_NEXT, …)`, and
//! `dlsym` may itself call `calloc`; calls made before the lookup is done
//! are served from a small static arena, whose blocks are never returned to
//! libc.
//!
//! Event ABI (version [`ABI_VERSION`]): `callback(kind, address, size)`,
//! kind 1 = block allocated, 2 = block about to be freed (size 0), 3 =
//! anonymous mapping created, 4 = mapping about to be removed. A `realloc`
//! reports the free of the old block before the call and the new block
//! after it.

use std::cell::Cell;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The callback ABI this library speaks.
pub const ABI_VERSION: u32 = 1;

const EVENT_ALLOC: u32 = 1;
const EVENT_FREE: u32 = 2;
const EVENT_MMAP: u32 = 3;
const EVENT_MUNMAP: u32 = 4;

type Callback = unsafe extern "C" fn(u32, usize, usize);

/// The registered callback, as an address (0: none).
static CALLBACK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while this thread runs the callback.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Registers (or, with `None`, removes) the function that receives the
/// events; returns [`ABI_VERSION`].
///
/// # Safety
/// `callback` must stay callable for the rest of the process's life, from
/// any thread, and must not unwind.
#[no_mangle]
pub unsafe extern "C" fn memlens_preload_set_callback(callback: Option<Callback>) -> u32 {
    CALLBACK.store(callback.map_or(0, |f| f as usize), Ordering::Release);
    ABI_VERSION
}

#[inline(always)]
fn report(kind: u32, address: usize, size: usize) {
    let callback = CALLBACK.load(Ordering::Acquire);
    if callback == 0 {
        return;
    }
    report_slow(callback, kind, address, size);
}

#[inline(never)]
fn report_slow(callback: usize, kind: u32, address: usize, size: usize) {
    IN_CALLBACK.with(|busy| {
        if busy.replace(true) {
            return;
        }
        // SAFETY: `callback` was registered as a `Callback` and, per the
        // registration contract, is still callable.
        unsafe {
            let callback: Callback = std::mem::transmute::<usize, Callback>(callback);
            callback(kind, address, size);
        }
        busy.set(false);
    });
}

/// The next definitions of the functions we interpose.
struct Real {
    malloc: unsafe extern "C" fn(usize) -> *mut c_void,
    calloc: unsafe extern "C" fn(usize, usize) -> *mut c_void,
    realloc: unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void,
    free: unsafe extern "C" fn(*mut c_void),
    posix_memalign: unsafe extern "C" fn(*mut *mut c_void, usize, usize) -> c_int,
    aligned_alloc: unsafe extern "C" fn(usize, usize) -> *mut c_void,
    memalign: unsafe extern "C" fn(usize, usize) -> *mut c_void,
    valloc: unsafe extern "C" fn(usize) -> *mut c_void,
    pvalloc: unsafe extern "C" fn(usize) -> *mut c_void,
    mmap: unsafe extern "C" fn(*mut c_void, usize, c_int, c_int, c_int, i64) -> *mut c_void,
    munmap: unsafe extern "C" fn(*mut c_void, usize) -> c_int,
}

const UNRESOLVED: u8 = 0;
const RESOLVING: u8 = 1;
const RESOLVED: u8 = 2;
const FAILED: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(UNRESOLVED);
struct RealCell(std::cell::UnsafeCell<Option<Real>>);
// SAFETY: written once by the thread that wins the RESOLVING transition,
// read only after RESOLVED is published with Release ordering.
unsafe impl Sync for RealCell {}
static REAL: RealCell = RealCell(std::cell::UnsafeCell::new(None));

/// The real functions, or `None` while they are being looked up (the
/// caller then uses the bootstrap arena) or if the lookup failed.
#[inline(always)]
fn real() -> Option<&'static Real> {
    if STATE.load(Ordering::Acquire) == RESOLVED {
        // SAFETY: published before RESOLVED, never written again.
        return unsafe { (*REAL.0.get()).as_ref() };
    }
    resolve()
}

#[cold]
fn resolve() -> Option<&'static Real> {
    match STATE.compare_exchange(UNRESOLVED, RESOLVING, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        Err(RESOLVED) => {
            // SAFETY: as in `real`.
            return unsafe { (*REAL.0.get()).as_ref() };
        }
        // Resolving (maybe on this very thread, from inside dlsym): the
        // arena serves meanwhile.
        Err(_) => return None,
    }
    /// Looks one symbol up in the libraries after this one.
    fn next(name: &std::ffi::CStr) -> Option<usize> {
        // SAFETY: dlsym with a NUL-terminated name.
        let symbol = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
        (!symbol.is_null()).then_some(symbol as usize)
    }
    /// A function pointer of type `F` at `address`.
    ///
    /// # Safety
    /// `address` is a C function whose prototype `F` spells out.
    unsafe fn function<F: Copy>(address: usize) -> F {
        debug_assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
        // SAFETY: per the caller; `F` is a function pointer type, the size
        // of an address.
        unsafe { std::mem::transmute_copy::<usize, F>(&address) }
    }
    let found = (|| {
        // SAFETY: each symbol is the C function of that name, whose
        // prototype the field's type spells out.
        unsafe {
            Some(Real {
                malloc: function(next(c"malloc")?),
                calloc: function(next(c"calloc")?),
                realloc: function(next(c"realloc")?),
                free: function(next(c"free")?),
                posix_memalign: function(next(c"posix_memalign")?),
                aligned_alloc: function(next(c"aligned_alloc")?),
                memalign: function(next(c"memalign")?),
                valloc: function(next(c"valloc")?),
                pvalloc: function(next(c"pvalloc")?),
                mmap: function(next(c"mmap")?),
                munmap: function(next(c"munmap")?),
            })
        }
    })();
    let Some(found) = found else {
        STATE.store(FAILED, Ordering::Release);
        return None;
    };
    // SAFETY: only the thread that moved STATE to RESOLVING writes, once.
    unsafe { *REAL.0.get() = Some(found) };
    STATE.store(RESOLVED, Ordering::Release);
    // SAFETY: just written.
    unsafe { (*REAL.0.get()).as_ref() }
}

/// Static memory for the allocations made while the real functions are
/// looked up (a few small `calloc`s by `dlsym`). Each block starts with a
/// 16-byte header holding its size.
const ARENA_BYTES: usize = 64 * 1024;
#[repr(C, align(16))]
struct Arena(std::cell::UnsafeCell<[u8; ARENA_BYTES]>);
// SAFETY: disjoint ranges are handed out by an atomic bump pointer.
unsafe impl Sync for Arena {}
static ARENA: Arena = Arena(std::cell::UnsafeCell::new([0; ARENA_BYTES]));
static ARENA_USED: AtomicUsize = AtomicUsize::new(0);
const HEADER: usize = 16;

fn arena_alloc(size: usize) -> *mut c_void {
    let Some(needed) = size.checked_add(HEADER + 15).map(|n| n & !15) else {
        return ptr::null_mut();
    };
    let start = ARENA_USED.fetch_add(needed, Ordering::Relaxed);
    if start
        .checked_add(needed)
        .is_none_or(|end| end > ARENA_BYTES)
    {
        return ptr::null_mut();
    }
    // SAFETY: [start, start + needed) is inside the arena and ours alone;
    // the arena is zeroed and never reused, so the block reads as zeroed.
    unsafe {
        let base = (ARENA.0.get() as *mut u8).add(start);
        (base as *mut usize).write(size);
        base.add(HEADER) as *mut c_void
    }
}

#[inline(always)]
fn in_arena(block: *mut c_void) -> bool {
    let start = ARENA.0.get() as usize;
    (start..start + ARENA_BYTES).contains(&(block as usize))
}

/// The size stored in front of an arena block.
fn arena_size(block: *mut c_void) -> usize {
    // SAFETY: arena blocks have their size in the header before them.
    unsafe { ((block as *mut u8).sub(HEADER) as *const usize).read() }
}

fn set_errno(code: c_int) {
    // SAFETY: errno is this thread's.
    unsafe { *libc::__errno_location() = code };
}

/// `malloc`, forwarded and reported.
///
/// # Safety
/// As libc's `malloc`.
#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    let Some(real) = real() else {
        return arena_alloc(size);
    };
    // SAFETY: forwarding the caller's arguments.
    let block = unsafe { (real.malloc)(size) };
    if !block.is_null() {
        report(EVENT_ALLOC, block as usize, size);
    }
    block
}

/// `calloc`, forwarded and reported.
///
/// # Safety
/// As libc's `calloc`.
#[no_mangle]
pub unsafe extern "C" fn calloc(nelem: usize, elsize: usize) -> *mut c_void {
    let Some(real) = real() else {
        return match nelem.checked_mul(elsize) {
            Some(size) => arena_alloc(size),
            None => ptr::null_mut(),
        };
    };
    // SAFETY: forwarding the caller's arguments.
    let block = unsafe { (real.calloc)(nelem, elsize) };
    if !block.is_null() {
        report(EVENT_ALLOC, block as usize, nelem.saturating_mul(elsize));
    }
    block
}

/// `realloc`, forwarded and reported as a free then an allocation.
///
/// # Safety
/// As libc's `realloc`.
#[no_mangle]
pub unsafe extern "C" fn realloc(old: *mut c_void, size: usize) -> *mut c_void {
    if in_arena(old) {
        // SAFETY: a fresh block (ours) receives the arena block's bytes.
        unsafe {
            let block = malloc(size);
            if !block.is_null() {
                ptr::copy_nonoverlapping(
                    old as *const u8,
                    block as *mut u8,
                    arena_size(old).min(size),
                );
            }
            return block;
        }
    }
    let Some(real) = real() else {
        return if old.is_null() {
            arena_alloc(size)
        } else {
            ptr::null_mut()
        };
    };
    if !old.is_null() {
        report(EVENT_FREE, old as usize, 0);
    }
    // SAFETY: forwarding the caller's arguments.
    let block = unsafe { (real.realloc)(old, size) };
    if !block.is_null() {
        report(EVENT_ALLOC, block as usize, size);
    }
    block
}

/// `free`, reported then forwarded.
///
/// # Safety
/// As libc's `free`.
#[no_mangle]
pub unsafe extern "C" fn free(block: *mut c_void) {
    if block.is_null() || in_arena(block) {
        return;
    }
    let Some(real) = real() else {
        // Cannot happen for a block libc gave out (the lookup is done by
        // then); leaking is the only safe answer.
        return;
    };
    report(EVENT_FREE, block as usize, 0);
    // SAFETY: forwarding the caller's block.
    unsafe { (real.free)(block) }
}

/// `posix_memalign`, forwarded and reported.
///
/// # Safety
/// As libc's `posix_memalign`.
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(
    out: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    let Some(real) = real() else {
        return libc::ENOMEM;
    };
    // SAFETY: forwarding the caller's arguments.
    let status = unsafe { (real.posix_memalign)(out, alignment, size) };
    if status == 0 && !out.is_null() {
        // SAFETY: on success libc wrote the block to `*out`.
        report(EVENT_ALLOC, unsafe { *out } as usize, size);
    }
    status
}

macro_rules! aligned_forward {
    ($(#[$doc:meta])* $name:ident ($($arg:ident),*), $size:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As libc's function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: usize),*) -> *mut c_void {
            let Some(real) = real() else {
                set_errno(libc::ENOMEM);
                return ptr::null_mut();
            };
            // SAFETY: forwarding the caller's arguments.
            let block = unsafe { (real.$name)($($arg),*) };
            if !block.is_null() {
                report(EVENT_ALLOC, block as usize, $size);
            }
            block
        }
    };
}

aligned_forward!(
    /// `aligned_alloc`, forwarded and reported.
    aligned_alloc(alignment, size), size
);
aligned_forward!(
    /// `memalign`, forwarded and reported.
    memalign(alignment, size), size
);
aligned_forward!(
    /// `valloc`, forwarded and reported.
    valloc(size), size
);
aligned_forward!(
    /// `pvalloc`, forwarded and reported (with the size asked for).
    pvalloc(size), size
);

/// `mmap`, forwarded; anonymous mappings are reported.
///
/// # Safety
/// As libc's `mmap`.
#[no_mangle]
pub unsafe extern "C" fn mmap(
    address: *mut c_void,
    length: usize,
    protection: c_int,
    flags: c_int,
    fd: c_int,
    offset: i64,
) -> *mut c_void {
    let Some(real) = real() else {
        // SAFETY: the raw system call, for a mapping asked for during the
        // lookup (never seen in practice).
        return unsafe {
            libc::syscall(
                libc::SYS_mmap,
                address,
                length,
                protection,
                flags,
                fd,
                offset,
            ) as *mut c_void
        };
    };
    // SAFETY: forwarding the caller's arguments.
    let mapped = unsafe { (real.mmap)(address, length, protection, flags, fd, offset) };
    if mapped != libc::MAP_FAILED && flags & libc::MAP_ANONYMOUS != 0 {
        report(EVENT_MMAP, mapped as usize, length);
    }
    mapped
}

/// `mmap64`: the same function as `mmap` on 64-bit Linux.
///
/// # Safety
/// As libc's `mmap64`.
#[no_mangle]
pub unsafe extern "C" fn mmap64(
    address: *mut c_void,
    length: usize,
    protection: c_int,
    flags: c_int,
    fd: c_int,
    offset: i64,
) -> *mut c_void {
    // SAFETY: same contract.
    unsafe { mmap(address, length, protection, flags, fd, offset) }
}

/// `munmap`, reported then forwarded.
///
/// # Safety
/// As libc's `munmap`.
#[no_mangle]
pub unsafe extern "C" fn munmap(address: *mut c_void, length: usize) -> c_int {
    let Some(real) = real() else {
        // SAFETY: the raw system call.
        return unsafe { libc::syscall(libc::SYS_munmap, address, length) as c_int };
    };
    report(EVENT_MUNMAP, address as usize, length);
    // SAFETY: forwarding the caller's arguments.
    unsafe { (real.munmap)(address, length) }
}

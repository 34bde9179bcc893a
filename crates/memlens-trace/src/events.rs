//! The events that capture hands to a consumer.
//!
//! This is the contract between the allocator hooks in the extension crate
//! (which produce events) and the consumers in this crate (the streaming
//! capture-file writer) or in the extension (the in-memory trace table behind
//! `memlens.tracemalloc`).
//!
//! Stacks are interned as a trie: a [`StackId`] names a whole call chain, and
//! is announced once as "frame F called from stack P". A shadow stack or a
//! frame walk can therefore hand out a stack id per allocation in O(1) once
//! the chain has been seen, and a file stores each distinct chain once.

/// An interned code location (function, file, line). Announced once through
/// [`EventSink::frame`] before any stack uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId(pub u32);

/// An interned call chain. Announced once through [`EventSink::stack`]
/// before any allocation uses it. [`StackId::EMPTY`] is the chain with no
/// Python frame (an allocation made before the interpreter runs code, or on
/// a thread that does not hold the GIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackId(pub u32);

impl StackId {
    /// The stack with no frames; never announced, always valid.
    pub const EMPTY: StackId = StackId(0);
}

/// A thread as numbered by the capture (dense, in order of first sight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub u32);

/// Which allocator served the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Allocator {
    /// `PyMem_RawMalloc` and friends (may run without the GIL).
    PyRaw = 0,
    /// `PyMem_Malloc` and friends.
    PyMem = 1,
    /// `PyObject_Malloc` and friends (pymalloc).
    PyObject = 2,
    /// libc malloc family, seen through the native interposer.
    Native = 3,
    /// `mmap` seen through the native interposer.
    Mmap = 4,
    /// A numpy data buffer, seen through numpy's memory-handler API.
    NumpyData = 5,
}

/// tracemalloc's domain of Python allocations.
pub const PYTHON_DOMAIN: u32 = 0;
/// tracemalloc's domain of numpy data buffers (numpy registers this number).
pub const NUMPY_DOMAIN: u32 = 389_047;

/// One code location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The function's qualified name as the interpreter reports it.
    pub function: &'a str,
    /// The code object's file name, as `co_filename` holds it.
    pub filename: &'a str,
    /// The line being executed (1-based; 0 when unknown).
    pub line: u32,
}

/// A block handed out by an allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocEvent {
    /// The block's address.
    pub address: u64,
    /// The size asked for, in bytes.
    pub size: u64,
    /// Which allocator served it.
    pub allocator: Allocator,
    /// tracemalloc domain ([`PYTHON_DOMAIN`], [`NUMPY_DOMAIN`], or a number
    /// a C extension passed to `PyTraceMalloc_Track`).
    pub domain: u32,
    /// The allocating thread.
    pub thread: ThreadId,
    /// The Python call chain at the moment of allocation.
    pub stack: StackId,
}

/// A block given back. A realloc that moves a block is a free of the old
/// address followed by an alloc of the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeEvent {
    /// The block's address.
    pub address: u64,
    /// Which allocator it was returned to.
    pub allocator: Allocator,
    /// Its tracemalloc domain.
    pub domain: u32,
}

/// A range of anonymous memory mappings given back (`munmap`, or the old
/// range of an `mremap`): part of one mapping, a whole one, or several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmapEvent {
    /// The range's first byte.
    pub address: u64,
    /// Its length in bytes.
    pub size: u64,
}

/// Receives events from the capture hooks.
///
/// Implementations are called from allocator hooks: on any thread, with or
/// without the GIL, possibly concurrently. They must not call into Python,
/// must not block for long (buffer and hand work to another thread), and
/// must never panic. Memory they allocate comes from Rust's global allocator
/// (libc), which the Python-level hooks do not see.
///
/// # Two paths for events
///
/// [`alloc`](Self::alloc) and [`free`](Self::free) may be called by any
/// thread at any time, concurrently with every other method.
///
/// [`alloc_serialized`](Self::alloc_serialized) and
/// [`free_serialized`](Self::free_serialized) carry the same events for
/// callers that are serialized with one another: the caller promises that
/// every `*_serialized` call returns before the next one starts and
/// happens-before it (the hooks call them only while holding the GIL, whose
/// hand-over between threads gives both). They may still run concurrently
/// with the plain methods and with the definitions (`frame`, `stack`,
/// `thread`). A sink can use the promise to record without a lock; the
/// default implementations forward to the plain methods.
///
/// Whichever path events take, a sink that records an order must keep the
/// happens-before order of the calls: if one call returns before another
/// starts on the same or a synchronized thread (a block is freed after the
/// allocation that returned it; an address is reused after its free), the
/// first event comes first. In particular a free is never recorded before
/// the allocation of its block, whether either was made with the GIL or
/// without it.
///
/// Definitions are announced before any event uses them: a `frame` before
/// the `stack` that names it, a `stack` or `thread` before the first event
/// carrying its id (on either path).
pub trait EventSink: Send + Sync {
    /// A code location seen for the first time.
    fn frame(&self, id: FrameId, frame: Frame<'_>);
    /// A call chain seen for the first time: `frame` called from `parent`
    /// (`None` for an outermost frame).
    fn stack(&self, id: StackId, parent: Option<StackId>, frame: FrameId);
    /// A call chain cut short at the frame limit, seen for the first time:
    /// `id` has the frames of `parent`, and the whole chain had `total`
    /// frames. Announced only to sinks that asked for totals (the in-memory
    /// trace table, for tracemalloc's `Traceback.total_nframe`).
    fn truncated(&self, id: StackId, parent: StackId, total: u32) {
        let _ = (id, parent, total);
    }
    /// A thread seen for the first time, with its name when known. A
    /// thread announced again has been renamed: the later name wins.
    fn thread(&self, id: ThreadId, name: &str);
    /// A block allocated.
    fn alloc(&self, event: AllocEvent);
    /// A block freed.
    fn free(&self, event: FreeEvent);
    /// A range of anonymous mappings ([`Allocator::Mmap`] blocks) given
    /// back. Sinks that keep no ranges treat it as the free of the mapping
    /// starting at its address.
    fn unmap(&self, event: UnmapEvent) {
        self.free(FreeEvent {
            address: event.address,
            allocator: Allocator::Mmap,
            domain: PYTHON_DOMAIN,
        });
    }
    /// A block allocated, by a caller serialized with every other
    /// `*_serialized` call (see the trait documentation).
    #[inline]
    fn alloc_serialized(&self, event: AllocEvent) {
        self.alloc(event);
    }
    /// A block freed, by a caller serialized with every other
    /// `*_serialized` call (see the trait documentation).
    #[inline]
    fn free_serialized(&self, event: FreeEvent) {
        self.free(event);
    }
}

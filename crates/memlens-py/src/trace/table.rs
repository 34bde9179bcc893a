//! The in-memory trace table behind `memlens.tracemalloc`: an [`EventSink`]
//! that keeps every live traced block with its stack, the current and peak
//! traced bytes, and the frames and stacks needed to build tracebacks.
//!
//! An entry is 24 bytes in a table at most ¾ full, against
//! tracemalloc's hash-table entry plus a separately allocated `trace_t` per
//! block.

use super::address_map::AddressMap;
use super::sampling::estimated_bytes;
use super::spin::SpinLock;
use memlens_trace::events::{
    AllocEvent, Allocator, EventSink, Frame, FrameId, FreeEvent, StackId, ThreadId,
};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// One live traced block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TracedBlock {
    /// Bytes (in sampled mode: the unbiased estimate).
    pub size: u64,
    /// Its allocation stack.
    pub stack: u32,
    /// tracemalloc domain.
    pub domain: u32,
}

/// Frames and stacks announced by the hooks.
#[derive(Default)]
pub(crate) struct Names {
    /// By frame id: (filename, line).
    pub frames: Vec<(String, u32)>,
    /// By stack id (index 0 is the empty stack): (parent, frame), where
    /// the frame is [`TRUNCATED`] for a stack cut short at the frame limit.
    pub stacks: Vec<(u32, u32)>,
    /// The whole chain's length of each truncated stack.
    pub totals: std::collections::HashMap<u32, u32>,
}

/// The frame id of a truncated stack's marker node (no real frame has it).
pub(crate) const TRUNCATED: u32 = u32::MAX;

type BlockMap = AddressMap;

/// The blocks of the MEM and OBJ domains, only touched with the GIL held.
struct GilBlocks {
    map: BlockMap,
    current: i64,
}

/// The in-memory trace table (one per process).
///
/// MEM and OBJ blocks are allocated and freed only by threads holding the
/// GIL, so they live in a map the GIL serializes: no lock, no atomic on the
/// hot path. RAW blocks may come and go on any thread and live in their own
/// spin-locked map; a block is always freed through the domain that
/// allocated it, so the two maps never share an address.
pub(crate) struct TraceTable {
    gil: UnsafeCell<GilBlocks>,
    raw: SpinLock<BlockMap>,
    raw_current: AtomicI64,
    peak: AtomicI64,
    /// 0 in exact mode, else the mean sampling interval.
    sample_mean: AtomicU64,
    names: Mutex<Names>,
}

// SAFETY: `gil` is only accessed with the GIL held (hooks of the MEM and OBJ
// domains, and Python-facing functions); the rest is atomic or locked.
unsafe impl Sync for TraceTable {}

/// The process's trace table, created on first use.
pub(crate) fn global() -> &'static TraceTable {
    static TABLE: OnceLock<TraceTable> = OnceLock::new();
    TABLE.get_or_init(|| TraceTable {
        gil: UnsafeCell::new(GilBlocks {
            map: AddressMap::default(),
            current: 0,
        }),
        raw: SpinLock::new(AddressMap::default()),
        raw_current: AtomicI64::new(0),
        peak: AtomicI64::new(0),
        sample_mean: AtomicU64::new(0),
        names: Mutex::new(Names {
            frames: Vec::new(),
            stacks: vec![(0, 0)],
            totals: std::collections::HashMap::new(),
        }),
    })
}

impl TraceTable {
    /// # Safety
    /// The GIL is held and no other reference to the GIL part is live.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    unsafe fn gil_blocks(&self) -> &mut GilBlocks {
        // SAFETY: serialized by the GIL, per the caller.
        unsafe { &mut *self.gil.get() }
    }

    /// Forgets every trace, frame and stack; sets the sampling mode. GIL held.
    pub(crate) fn reset(&self, sample_mean: u64) {
        self.clear_traces();
        self.sample_mean.store(sample_mean, Ordering::SeqCst);
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        *names = Names {
            frames: Vec::new(),
            stacks: vec![(0, 0)],
            totals: std::collections::HashMap::new(),
        };
    }

    /// Forgets the traces (not the frames and stacks, which stay valid for
    /// the running session) and zeroes the counters. GIL held.
    pub(crate) fn clear_traces(&self) {
        // SAFETY: callers hold the GIL (Python-facing functions).
        let gil = unsafe { self.gil_blocks() };
        gil.map = AddressMap::default();
        gil.current = 0;
        let mut raw = self.raw.lock();
        *raw = AddressMap::default();
        self.raw_current.store(0, Ordering::SeqCst);
        self.peak.store(0, Ordering::SeqCst);
    }

    fn current(&self) -> i64 {
        // SAFETY: callers hold the GIL.
        unsafe { self.gil_blocks() }.current + self.raw_current.load(Ordering::SeqCst)
    }

    /// (current, peak) traced bytes. GIL held.
    pub(crate) fn traced_memory(&self) -> (u64, u64) {
        let current = self.current().max(0) as u64;
        let peak = self.peak.load(Ordering::SeqCst).max(0) as u64;
        (current, peak.max(current))
    }

    /// Sets the peak to the current traced bytes. GIL held.
    pub(crate) fn reset_peak(&self) {
        self.peak.store(self.current(), Ordering::SeqCst);
    }

    /// Every live block, as (address, block). GIL held.
    pub(crate) fn blocks(&self) -> Vec<(u64, TracedBlock)> {
        // SAFETY: callers hold the GIL.
        let gil = unsafe { self.gil_blocks() };
        let mut out: Vec<(u64, TracedBlock)> = gil.map.iter().collect();
        out.extend(self.raw.lock().iter());
        out
    }

    /// The block starting at `address`, if traced. GIL held.
    pub(crate) fn block_at(&self, address: u64) -> Option<TracedBlock> {
        // SAFETY: callers hold the GIL.
        let gil = unsafe { self.gil_blocks() };
        gil.map
            .get(address)
            .or_else(|| self.raw.lock().get(address))
    }

    /// Runs `f` on the frames and stacks.
    pub(crate) fn with_names<R>(&self, f: impl FnOnce(&Names) -> R) -> R {
        f(&self.names.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Bytes the table itself uses. GIL held.
    pub(crate) fn memory_usage(&self) -> usize {
        const ENTRY: usize = 8 + 16;
        // SAFETY: callers hold the GIL.
        let gil = unsafe { self.gil_blocks() }.map.capacity() * ENTRY;
        let raw = self.raw.lock().capacity() * ENTRY;
        let names = self.with_names(|n| {
            n.frames
                .iter()
                .map(|(f, _)| f.capacity() + 32)
                .sum::<usize>()
                + n.stacks.capacity() * 8
        });
        gil + raw + names + std::mem::size_of::<Self>()
    }

    #[inline(always)]
    fn raise_peak(&self, current: i64) {
        if current > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(current, Ordering::Relaxed);
        }
    }
}

/// Forgets a MEM or OBJ block (exact mode). GIL held.
#[inline(always)]
pub(crate) fn free_gil(address: u64) {
    // SAFETY: callers hold the GIL (MEM and OBJ hooks).
    let gil = unsafe { global().gil_blocks() };
    if let Some(block) = gil.map.remove(address) {
        gil.current -= block.size as i64;
    }
}

/// A sink handle onto the global table (the tracer wants an `Arc<dyn EventSink>`).
pub(crate) struct TableSink;

impl EventSink for TableSink {
    fn frame(&self, id: FrameId, frame: Frame<'_>) {
        let mut names = global().names.lock().unwrap_or_else(|e| e.into_inner());
        let index = id.0 as usize;
        if names.frames.len() <= index {
            names.frames.resize(index + 1, (String::new(), 0));
        }
        names.frames[index] = (frame.filename.to_owned(), frame.line);
    }

    fn stack(&self, id: StackId, parent: Option<StackId>, frame: FrameId) {
        let mut names = global().names.lock().unwrap_or_else(|e| e.into_inner());
        let index = id.0 as usize;
        if names.stacks.len() <= index {
            names.stacks.resize(index + 1, (0, 0));
        }
        names.stacks[index] = (parent.map_or(0, |p| p.0), frame.0);
    }

    fn truncated(&self, id: StackId, parent: StackId, total: u32) {
        let mut names = global().names.lock().unwrap_or_else(|e| e.into_inner());
        let index = id.0 as usize;
        if names.stacks.len() <= index {
            names.stacks.resize(index + 1, (0, 0));
        }
        names.stacks[index] = (parent.0, TRUNCATED);
        names.totals.insert(id.0, total);
    }

    fn thread(&self, _id: ThreadId, _name: &str) {}

    #[inline(always)]
    fn alloc(&self, event: AllocEvent) {
        let table = global();
        let mean = table.sample_mean.load(Ordering::Relaxed);
        let size = if mean == 0 {
            event.size
        } else {
            estimated_bytes(event.size, mean).round() as u64
        };
        let block = TracedBlock {
            size,
            stack: event.stack.0,
            domain: event.domain,
        };
        // RAW and external blocks (numpy data, native) may come without
        // the GIL: they live in the locked map.
        if !matches!(event.allocator, Allocator::PyMem | Allocator::PyObject) {
            let replaced = table.raw.lock().insert(event.address, block);
            let delta = size as i64 - replaced.map_or(0, |b| b.size as i64);
            let raw = table.raw_current.fetch_add(delta, Ordering::Relaxed) + delta;
            // SAFETY: a racy read of the GIL part's counter only feeds the
            // peak; a torn value is impossible for an aligned i64 on x86_64
            // and the peak is an approximation for GIL-less allocations.
            let gil = unsafe { std::ptr::addr_of!((*table.gil.get()).current).read_volatile() };
            table.raise_peak(gil + raw);
        } else {
            // SAFETY: MEM and OBJ hooks run with the GIL held.
            let gil = unsafe { table.gil_blocks() };
            let replaced = gil.map.insert(event.address, block);
            gil.current += size as i64 - replaced.map_or(0, |b| b.size as i64);
            let current = gil.current + table.raw_current.load(Ordering::Relaxed);
            table.raise_peak(current);
        }
    }

    #[inline]
    fn free(&self, event: FreeEvent) {
        let table = global();
        if !matches!(event.allocator, Allocator::PyMem | Allocator::PyObject) {
            if let Some(block) = table.raw.lock().remove(event.address) {
                table
                    .raw_current
                    .fetch_sub(block.size as i64, Ordering::Relaxed);
            }
        } else {
            // MEM and OBJ hooks run with the GIL held.
            free_gil(event.address);
        }
    }
}

/// Takes the RAW map's lock (fork prepare).
pub(crate) fn fork_prepare() {
    global().raw.lock_raw();
}

/// Releases what [`fork_prepare`] took (fork parent and child).
pub(crate) fn fork_release() {
    global().raw.unlock_raw();
}

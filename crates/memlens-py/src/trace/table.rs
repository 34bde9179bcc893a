//! The in-memory trace table behind `memlens.tracemalloc`: an [`EventSink`]
//! that keeps every live traced block with its stack, the current and peak
//! traced bytes, and the frames and stacks needed to build tracebacks.
//!
//! Blocks are spread over [`SHARDS`] spin-locked hash maps by address, so
//! GIL-less frees on other threads rarely contend with the allocating
//! thread. An entry is 24 bytes plus one control byte, against tracemalloc's
//! hash-table entry plus a separately allocated `trace_t` per block.

use super::sampling::estimated_bytes;
use super::spin::SpinLock;
use super::stacks::FastHash;
use memlens_trace::events::{AllocEvent, EventSink, Frame, FrameId, FreeEvent, StackId, ThreadId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Number of address shards.
pub(crate) const SHARDS: usize = 64;

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
    /// By stack id (index 0 is the empty stack): (parent, frame).
    pub stacks: Vec<(u32, u32)>,
}

/// The in-memory trace table (one per process).
pub(crate) struct TraceTable {
    shards: Vec<SpinLock<HashMap<u64, TracedBlock, FastHash>>>,
    current: AtomicI64,
    peak: AtomicI64,
    /// 0 in exact mode, else the mean sampling interval.
    sample_mean: AtomicU64,
    names: Mutex<Names>,
}

/// The process's trace table, created on first use.
pub(crate) fn global() -> &'static TraceTable {
    static TABLE: OnceLock<TraceTable> = OnceLock::new();
    TABLE.get_or_init(|| TraceTable {
        shards: (0..SHARDS).map(|_| SpinLock::new(HashMap::default())).collect(),
        current: AtomicI64::new(0),
        peak: AtomicI64::new(0),
        sample_mean: AtomicU64::new(0),
        names: Mutex::new(Names { frames: Vec::new(), stacks: vec![(0, 0)] }),
    })
}

/// A sink handle onto the global table (the tracer wants an `Arc<dyn EventSink>`).
pub(crate) struct TableSink;

impl TraceTable {
    #[inline]
    fn shard(&self, address: u64) -> &SpinLock<HashMap<u64, TracedBlock, FastHash>> {
        let index = ((address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        &self.shards[index % SHARDS]
    }

    /// Forgets every trace, frame and stack; sets the sampling mode.
    pub(crate) fn reset(&self, sample_mean: u64) {
        self.clear_traces();
        self.sample_mean.store(sample_mean, Ordering::SeqCst);
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        *names = Names { frames: Vec::new(), stacks: vec![(0, 0)] };
    }

    /// Forgets the traces (not the frames and stacks, which stay valid for
    /// the running session) and zeroes the counters.
    pub(crate) fn clear_traces(&self) {
        for shard in &self.shards {
            let mut map = shard.lock();
            map.clear();
            map.shrink_to(0);
        }
        self.current.store(0, Ordering::SeqCst);
        self.peak.store(0, Ordering::SeqCst);
    }

    /// (current, peak) traced bytes.
    pub(crate) fn traced_memory(&self) -> (u64, u64) {
        let current = self.current.load(Ordering::SeqCst).max(0) as u64;
        let peak = self.peak.load(Ordering::SeqCst).max(0) as u64;
        (current, peak.max(current))
    }

    /// Sets the peak to the current traced bytes.
    pub(crate) fn reset_peak(&self) {
        self.peak.store(self.current.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Every live block, as (address, block).
    pub(crate) fn blocks(&self) -> Vec<(u64, TracedBlock)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let map = shard.lock();
            out.extend(map.iter().map(|(&address, &block)| (address, block)));
        }
        out
    }

    /// The block starting at `address`, if traced.
    pub(crate) fn block_at(&self, address: u64) -> Option<TracedBlock> {
        self.shard(address).lock().get(&address).copied()
    }

    /// Runs `f` on the frames and stacks.
    pub(crate) fn with_names<R>(&self, f: impl FnOnce(&Names) -> R) -> R {
        f(&self.names.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Bytes the table itself uses.
    pub(crate) fn memory_usage(&self) -> usize {
        let blocks: usize = self.shards.iter().map(|s| s.lock().capacity() * (8 + 16 + 1)).sum();
        let names = self.with_names(|n| {
            n.frames.iter().map(|(f, _)| f.capacity() + 32).sum::<usize>() + n.stacks.capacity() * 8
        });
        blocks + names + SHARDS * 48
    }

    fn insert(&self, address: u64, block: TracedBlock) {
        let replaced = self.shard(address).lock().insert(address, block);
        let delta = block.size as i64 - replaced.map_or(0, |b| b.size as i64);
        let current = self.current.fetch_add(delta, Ordering::Relaxed) + delta;
        if current > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(current, Ordering::Relaxed);
        }
    }

    fn remove(&self, address: u64) {
        if let Some(block) = self.shard(address).lock().remove(&address) {
            self.current.fetch_sub(block.size as i64, Ordering::Relaxed);
        }
    }
}

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

    fn thread(&self, _id: ThreadId, _name: &str) {}

    #[inline]
    fn alloc(&self, event: AllocEvent) {
        let table = global();
        let mean = table.sample_mean.load(Ordering::Relaxed);
        let size = if mean == 0 { event.size } else { estimated_bytes(event.size, mean).round() as u64 };
        table.insert(event.address, TracedBlock { size, stack: event.stack.0, domain: event.domain });
    }

    #[inline]
    fn free(&self, event: FreeEvent) {
        global().remove(event.address);
    }
}

/// Takes every shard lock (fork prepare).
pub(crate) fn fork_prepare() {
    for shard in &global().shards {
        shard.lock_raw();
    }
}

/// Releases what [`fork_prepare`] took (fork parent and child).
pub(crate) fn fork_release() {
    for shard in &global().shards {
        shard.unlock_raw();
    }
}

//! The allocation tracer: hooks on CPython's allocators that report every
//! allocation and free (or a Poisson sample of them) to an [`EventSink`].
//!
//! # Streaming API (stable)
//!
//! ```ignore
//! use memlens_trace::events::EventSink;
//! let sink: Arc<dyn EventSink> = Arc::new(my_writer);
//! trace::start(py, TraceConfig { mode: Mode::Exact, max_frames: 1 }, sink)?;
//! // ... run the program ...
//! trace::stop(py)?; // after this returns the sink is never called again
//! ```
//!
//! - [`start`] installs the hooks on the RAW, MEM and OBJ domains, each
//!   wrapping the allocator installed before it. It fails if a trace is
//!   already running (one sink at a time).
//! - [`stop`] disables the hooks, removes them from the allocator chain when
//!   they are still on top (otherwise, when someone wrapped them after us,
//!   e.g. stdlib `tracemalloc`, they stay in the chain as pure
//!   pass-through), waits for GIL-less hooks in flight, releases the
//!   interned code objects and drops the tracer's reference to the sink.
//! - Both need the GIL (`Python<'_>`).
//!
//! What the sink receives: frames and stacks announced once before use
//! (stacks are a trie, innermost frame last added; at most
//! [`TraceConfig::max_frames`] frames, the innermost ones), threads on first
//! sight, an alloc for every block handed out (sampled mode: sampled blocks
//! only, with their real size; estimate with [`sampling::estimated_bytes`])
//! and a free for every traced block given back (sampled mode: frees of
//! sampled blocks only). A realloc is a free of the old block then an alloc
//! of the new one, even in place. Allocations made on a thread that does not
//! hold the GIL (RAW domain) get [`StackId::EMPTY`].
//!
//! While tracing, numpy data buffers are recorded too, as
//! `Allocator::NumpyData` blocks in `NUMPY_DOMAIN` (see [`numpy`]), and so
//! are libc allocations when the native interposer is loaded and the caller
//! asked for them (see [`native`]).
//!
//! Hook calls happen on any thread, concurrently for GIL-less RAW calls and
//! frees; the sink must follow [`EventSink`]'s rules (no Python, no
//! blocking, no panics).
//!
//! # Not supported
//! Free-threaded builds (the interner relies on the GIL); sub-interpreters
//! (frames of the main interpreter only are expected).

mod address_map;
pub(crate) mod frames;
mod hooks;
pub(crate) mod native;
pub(crate) mod numpy;
pub(crate) mod python;
pub mod sampling;
mod spin;
pub(crate) mod stacks;
pub(crate) mod table;

use memlens_trace::events::EventSink;
use pyo3::Python;
use std::fmt;
use std::sync::Arc;

pub use memlens_trace::events::StackId;

/// The most frames a stack can hold.
pub const MAX_FRAMES: u32 = 128;

/// What the hooks record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every allocation and free.
    Exact,
    /// Poisson sampling by bytes with the given mean interval
    /// ([`sampling::DEFAULT_MEAN_BYTES`] is 512 KiB).
    Sampled {
        /// Mean number of bytes between two samples (≥ 1).
        mean_bytes: u64,
    },
}

/// How to trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceConfig {
    /// Exact or sampled.
    pub mode: Mode,
    /// Frames kept per stack, innermost first: 1 to [`MAX_FRAMES`].
    pub max_frames: u32,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            mode: Mode::Exact,
            max_frames: 1,
        }
    }
}

/// Why tracing could not start or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceError {
    /// A trace is already running (only one sink at a time).
    AlreadyTracing,
    /// No trace is running.
    NotTracing,
    /// `max_frames` or `mean_bytes` out of range.
    InvalidConfig(String),
    /// This interpreter is not one the tracer supports.
    Unsupported(String),
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::AlreadyTracing => write!(f, "an allocation trace is already running"),
            TraceError::NotTracing => write!(f, "no allocation trace is running"),
            TraceError::InvalidConfig(why) => write!(f, "invalid trace configuration: {why}"),
            TraceError::Unsupported(why) => write!(f, "allocation tracing unsupported: {why}"),
        }
    }
}

impl std::error::Error for TraceError {}

/// Starts tracing into `sink`. See the module documentation.
pub fn start(
    py: Python<'_>,
    config: TraceConfig,
    sink: Arc<dyn EventSink>,
) -> Result<(), TraceError> {
    start_into(py, config, sink, hooks::Direct::None, hooks::Totals::Off)
}

/// Starts tracing into the process's in-memory trace table
/// (`memlens.tracemalloc`). With `count_frames`, each stack cut at the frame
/// limit records the length of the whole chain (the stdlib's
/// `total_nframe`, at the cost of walking every frame); without, it only
/// records that it was cut.
pub(crate) fn start_table(
    py: Python<'_>,
    config: TraceConfig,
    count_frames: bool,
) -> Result<(), TraceError> {
    let totals = if count_frames {
        hooks::Totals::Count
    } else {
        hooks::Totals::Flag
    };
    start_into(
        py,
        config,
        Arc::new(table::TableSink),
        hooks::Direct::Table,
        totals,
    )
}

/// Starts tracing into a capture writer (`memlens run` without `--native`),
/// which the hooks call directly.
pub(crate) fn start_capture(
    py: Python<'_>,
    config: TraceConfig,
    writer: Arc<memlens_trace::writer::CaptureWriter>,
) -> Result<(), TraceError> {
    start_into(
        py,
        config,
        writer.clone(),
        hooks::Direct::Capture(writer),
        hooks::Totals::Off,
    )
}

fn start_into(
    py: Python<'_>,
    config: TraceConfig,
    sink: Arc<dyn EventSink>,
    direct: hooks::Direct,
    totals: hooks::Totals,
) -> Result<(), TraceError> {
    hooks::start(py, config, sink, direct, totals)?;
    // numpy imported later is attached by memlens' import hook (Python).
    hooks::untraced(py, || numpy::attach(py));
    Ok(())
}

/// Leaves the calling thread's frames from `depth` frames below its
/// innermost one (0: the innermost) out of every stack recorded from now
/// on: a launcher's own frames, which would sit under every stack.
pub fn set_floor(py: Python<'_>, depth: usize) -> Result<(), TraceError> {
    hooks::set_floor(py, depth)
}

/// Stops tracing; the sink is not called after this returns.
pub fn stop(py: Python<'_>) -> Result<(), TraceError> {
    if is_tracing() {
        numpy::detach(py);
    }
    hooks::stop(py)
}

/// Names the calling thread in the running trace (see the sink's
/// [`EventSink::thread`]); false when no trace runs. Needs the GIL.
pub fn name_current_thread(py: Python<'_>, name: &str) -> bool {
    hooks::name_current_thread(py, name)
}

/// Whether a trace is running.
pub fn is_tracing() -> bool {
    hooks::is_tracing()
}

/// Changes the frames kept per stack of the running trace (used by
/// `tracemalloc.start(n)` while tracing).
pub fn set_max_frames(max_frames: u32) -> Result<(), TraceError> {
    hooks::set_max_frames(max_frames)
}

//! What one collection and one monitored run look like.

use serde::{Deserialize, Serialize};

/// One run of CPython's cyclic collector, timed from its `start` callback to
/// its `stop` callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcEvent {
    /// When the collection started: monotonic nanoseconds since the monitor started.
    pub start_ns: u64,
    /// When it ended, on the same clock (`>= start_ns`).
    pub end_ns: u64,
    /// The oldest generation collected (0, 1 or 2).
    pub generation: u8,
    /// Unreachable objects freed.
    pub collected: u64,
    /// Unreachable objects that could not be freed (they went to `gc.garbage`).
    pub uncollectable: u64,
    /// Objects the collection examined, when the interpreter says (3.15's
    /// `candidates`).
    pub candidates: Option<u64>,
    /// The thread the collection ran on (`threading.get_ident()`).
    pub thread: u64,
    /// Resident set size after the collection, in bytes, when measured
    /// (the monitor measures it after every full collection).
    pub rss_bytes: Option<u64>,
}

impl GcEvent {
    /// The pause: how long the program was stopped.
    pub fn pause_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// What is known about the monitored run as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GcMeta {
    /// `sys.version` of the interpreter, e.g. `3.11.7 (main, ...)`.
    pub python_version: String,
    /// The process id.
    pub pid: u32,
    /// The program's command line.
    pub argv: Vec<String>,
    /// Wall-clock time the monitor started, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// How long the monitor ran, in monotonic nanoseconds (the wall time
    /// the GC share is computed against).
    pub duration_ns: u64,
    /// `gc.get_threshold()` when the monitor started.
    pub thresholds: Vec<u64>,
    /// `gc.get_threshold()` when it stopped (a program or library may change it).
    #[serde(default)]
    pub thresholds_at_end: Vec<u64>,
    /// Whether automatic collection was enabled when the monitor started.
    pub enabled_at_start: bool,
    /// Whether it was enabled when the monitor stopped.
    #[serde(default = "yes")]
    pub enabled_at_end: bool,
    /// `gc.get_freeze_count()` when the monitor stopped.
    #[serde(default)]
    pub freeze_count: u64,
    /// `len(gc.garbage)` when the monitor started and stopped.
    #[serde(default)]
    pub garbage_at_start: u64,
    /// See [`garbage_at_start`](Self::garbage_at_start).
    #[serde(default)]
    pub garbage_at_end: u64,
    /// Collections seen whose event could not be recorded.
    #[serde(default)]
    pub dropped: u64,
}

fn yes() -> bool {
    true
}

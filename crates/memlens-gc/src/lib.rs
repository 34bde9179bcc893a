//! The GC monitor's pure-Rust half.
//!
//! The extension crate times every run of CPython's cyclic collector (from
//! `gc.callbacks`) into [`GcEvent`]s and writes them with [`GcLogWriter`] to
//! a GC event log (`.mlg`, on memlens-format's container). This crate reads
//! logs back ([`read_gc_log`]: a damaged file is an error that says where,
//! never a panic) and turns them into what `memlens gc-report` shows:
//! [`report()`] (pause percentiles per generation, the share of wall time in
//! GC, the worst 1 s and 10 s windows, collected and uncollectable, the RSS
//! after full collections and its slope), [`gctrace`] (one line per
//! collection, like Go's), JSON, and [`Advice`].
//!
//! ```
//! use memlens_gc::{read_gc_log, report, write_gc_log, GcEvent, GcMeta};
//!
//! let meta = GcMeta { duration_ns: 1_000_000_000, thresholds: vec![700, 10, 10], ..GcMeta::default() };
//! let events: Vec<GcEvent> = (0..10u64)
//!     .map(|i| GcEvent {
//!         start_ns: i * 100_000_000, end_ns: i * 100_000_000 + 2_000_000, generation: 0,
//!         collected: 5, uncollectable: 0, candidates: None, thread: 1, rss_bytes: None,
//!     })
//!     .collect();
//! let mut file = Vec::new();
//! write_gc_log(&mut file, &meta, &events).unwrap();
//! let report = report(&read_gc_log(&file[..]).unwrap());
//! assert_eq!(report.generations[0].count, 10);
//! assert_eq!(report.generations[0].p99_ns, 2_000_000);
//! assert!((report.gc_share - 0.02).abs() < 1e-9);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod advice;
mod event;
mod file;
mod report;

pub use event::{GcEvent, GcMeta};
pub use file::{read_gc_log, write_gc_log, GcFileError, GcLog, GcLogWriter, RECORD_FIELDS};
pub use report::{
    gctrace, human_ns, percentile, render_json, render_text, report, report_json, report_of, slope,
    Advice, GcReport, GenerationStats, LiveSet, Window,
};

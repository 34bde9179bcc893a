//! Allocation events, stack interning, capture files, peaks and leaks, reports and exports.
//!
//! [`events`] is the contract between the allocator hooks (in the extension
//! crate) and everything that consumes what they see. [`writer`] streams
//! events into a capture file ([`format`] describes it), [`reader`] reads one
//! back, [`profile`] replays captures into what reports show (totals by call
//! stack, the peak, the leaks, memory over time) and [`export`] writes pprof
//! and speedscope files.
//!
//! ```
//! use std::sync::Arc;
//! use memlens_trace::events::*;
//! use memlens_trace::format::{Header, Mode};
//! use memlens_trace::writer::{CaptureWriter, WriterOptions};
//!
//! # fn main() -> memlens_trace::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("example.mlc");
//! let header = Header {
//!     python_version: "3.11.7".into(), pid: 1, ppid: 0, argv: vec!["app.py".into()],
//!     mode: Mode::Exact, max_frames: 1, native: false, start_unix_ns: 0,
//! };
//! let writer = CaptureWriter::create(&path, &header, WriterOptions::default())?;
//! writer.frame(FrameId(1), Frame { function: "main", filename: "app.py", line: 3 });
//! writer.stack(StackId(1), None, FrameId(1));
//! writer.alloc(AllocEvent {
//!     address: 0x1000, size: 64, allocator: Allocator::PyObject,
//!     domain: PYTHON_DOMAIN, thread: ThreadId(0), stack: StackId(1),
//! });
//! writer.finish()?;
//! let profile = memlens_trace::profile::Profile::load(&[path], &mut |_| {})?;
//! assert_eq!(profile.totals().leaked_bytes, 64.0);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod error;
pub mod events;
pub mod export;
pub mod format;
pub mod profile;
pub mod reader;
pub mod writer;

pub use error::{Error, ErrorKind, Result};

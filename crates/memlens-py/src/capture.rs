//! Streaming a trace to a capture file: the native half of `memlens run`.
//!
//! One capture at a time per process. In a fork child, the parent's writer
//! goes quiet at once (a `pthread_atfork` child handler, before any Python
//! code runs) and the Python side starts the child's own capture.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use memlens_trace::events::EventSink;
use memlens_trace::format::{Header, Mode};
use memlens_trace::writer::{note_fork_in_child, CaptureWriter, WriterOptions};
use pyo3::prelude::*;

use crate::errors;
use crate::trace::{self, TraceConfig, TraceError};

/// The writer of the running capture (the parent's, in a fork child until replaced).
static CURRENT: Mutex<Option<(PathBuf, Arc<CaptureWriter>)>> = Mutex::new(None);
static FORK_HANDLER: Once = Once::new();

fn register_fork_handler() {
    extern "C" fn child() {
        note_fork_in_child();
    }
    // SAFETY: registers one plain function that only bumps an atomic
    // counter; it never unwinds and takes no lock.
    FORK_HANDLER.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(child));
    });
}

fn current() -> std::sync::MutexGuard<'static, Option<(PathBuf, Arc<CaptureWriter>)>> {
    CURRENT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts tracing into a new capture at `path`.
///
/// `mode` is "exact" or "sampled" (`interval`: mean bytes between samples).
/// `native` also records libc allocations, through the interposer the
/// process was started with (`memlens run --native`).
#[pyfunction]
#[pyo3(signature = (path, mode, interval, frames, argv, native=false))]
pub fn capture_start(
    py: Python<'_>,
    path: PathBuf,
    mode: &str,
    interval: u64,
    frames: u32,
    argv: Vec<String>,
    native: bool,
) -> PyResult<()> {
    let (trace_mode, file_mode) = match mode {
        "exact" => (trace::Mode::Exact, Mode::Exact),
        "sampled" if interval > 0 => (
            trace::Mode::Sampled {
                mean_bytes: interval,
            },
            Mode::Sampled {
                mean_interval: interval,
            },
        ),
        _ => {
            return Err(errors::configuration(format!(
                "unknown tracing mode {mode:?} (interval {interval})"
            )))
        }
    };
    let mut slot = current();
    if slot.is_some() {
        return Err(errors::capture(
            "a memlens capture is already running in this process",
        ));
    }
    if native && !trace::native::available() {
        return Err(errors::capture(
            "native tracing needs libmemlens_preload.so loaded with LD_PRELOAD \
             (`memlens run --native` does that)",
        ));
    }
    register_fork_handler();
    let version = py.version_info();
    let header = Header {
        python_version: format!("{}.{}.{}", version.major, version.minor, version.patch),
        pid: std::process::id(),
        ppid: std::os::unix::process::parent_id(),
        argv,
        mode: file_mode,
        max_frames: frames,
        native,
        start_unix_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    let writer =
        CaptureWriter::create(&path, &header, WriterOptions::default()).map_err(errors::os)?;
    let config = TraceConfig {
        mode: trace_mode,
        max_frames: frames,
    };
    let started = if native {
        let sink: Arc<dyn EventSink> = Arc::new(trace::native::GuardedSink(writer.clone()));
        trace::start(py, config, sink)
    } else {
        trace::start_capture(py, config, writer.clone())
    };
    if let Err(err) = started {
        let _ = writer.finish();
        let _ = std::fs::remove_file(&path);
        return Err(errors::trace_as_capture(err));
    }
    if native {
        if let Err(why) = trace::native::enable() {
            let _ = trace::stop(py);
            let _ = writer.finish();
            let _ = std::fs::remove_file(&path);
            return Err(errors::capture(why));
        }
    }
    *slot = Some((path, writer));
    Ok(())
}

/// Stops tracing and closes the capture. Returns `(path, events, dropped,
/// file bytes)`, or `None` when no capture runs. In a fork child it drops
/// the parent's writer without touching the parent's file.
#[pyfunction]
pub fn capture_stop(py: Python<'_>) -> PyResult<Option<(String, u64, u64, u64)>> {
    let Some((path, writer)) = current().take() else {
        return Ok(None);
    };
    trace::native::disable();
    match trace::stop(py) {
        Ok(()) | Err(TraceError::NotTracing) => {}
        Err(err) => return Err(errors::trace_as_capture(err)),
    }
    let stats = py.detach(|| writer.finish()).map_err(errors::os)?;
    Ok(Some((
        path.to_string_lossy().into_owned(),
        stats.events,
        stats.dropped,
        stats.file_bytes,
    )))
}

/// Leaves the calling thread's frames from `depth` Python frames below the
/// caller (0: the caller itself) out of every stack the running capture
/// records: `memlens run` calls it so that its own frames and its
/// launcher's, the same under every stack of the program, are neither
/// walked nor stored.
#[pyfunction]
pub fn capture_floor(py: Python<'_>, depth: usize) -> PyResult<()> {
    if current().is_none() {
        return Err(errors::capture("no memlens capture is running"));
    }
    trace::set_floor(py, depth).map_err(errors::trace_as_capture)
}

/// Whether the native interposer (`libmemlens_preload.so`) is loaded in
/// this process.
#[pyfunction]
pub fn native_available() -> bool {
    trace::native::available()
}

/// Records `name` (`threading.current_thread().name`) as the calling
/// thread's name in the running capture; False when no capture runs here.
#[pyfunction]
pub fn capture_thread_name(py: Python<'_>, name: &str) -> bool {
    // In a fork child before its own capture starts, the parent's writer
    // is quiet and ignores the name.
    let running = current().is_some();
    running && trace::name_current_thread(py, name)
}

/// Registers the capture functions on `memlens._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(capture_start, m)?)?;
    m.add_function(wrap_pyfunction!(capture_floor, m)?)?;
    m.add_function(wrap_pyfunction!(capture_stop, m)?)?;
    m.add_function(wrap_pyfunction!(native_available, m)?)?;
    m.add_function(wrap_pyfunction!(capture_thread_name, m)?)?;
    Ok(())
}

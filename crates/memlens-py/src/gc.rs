//! The GC monitor's native half: a `gc.callbacks` entry written in Rust.
//!
//! `memlens.gc_monitor` appends [`gc_callback`] to `gc.callbacks`. On
//! "start" it notes the monotonic time; on "stop" it records a
//! [`GcEvent`]: the pause, the generation, collected, uncollectable, 3.15's
//! `candidates` when the info dict has it, the thread, and after a full
//! collection the RSS. No Python bytecode runs in it, it creates no Python
//! object (the dict keys are interned once), and it never raises: anything
//! unexpected is counted as a dropped event.
//!
//! The only lock is this module's own, taken with `try_lock` in the
//! callback (never waited for): no code of the program can hold it, and the
//! functions below never call into Python while they hold it, so a
//! collection firing inside them cannot deadlock; at worst it is counted
//! as dropped. Events go to a `Vec` reserved for 64 Ki events up front; it
//! grows (a Rust allocation, never a Python one) only past that.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use memlens_gc::{GcEvent, GcLog, GcMeta};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors;

const RESERVED_EVENTS: usize = 1 << 16;

struct Monitor {
    base: Instant,
    start_unix_ns: u64,
    /// Set by `gc_monitor_stop`: how long the monitor ran.
    duration_ns: Option<u64>,
    pending: Option<u64>,
    events: Vec<GcEvent>,
    statm: Option<File>,
}

static MONITOR: Mutex<Option<Monitor>> = Mutex::new(None);
static ACTIVE: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static PAGE_SIZE: OnceLock<u64> = OnceLock::new();

fn monitor() -> std::sync::MutexGuard<'static, Option<Monitor>> {
    MONITOR.lock().unwrap_or_else(|p| p.into_inner())
}

fn page_size() -> u64 {
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf only reads a configuration value; it has no
        // preconditions and touches no memory of ours.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
    })
}

/// RSS from an open `/proc/self/statm` (its second field, in pages).
fn rss_bytes(statm: &File) -> Option<u64> {
    let mut buf = [0u8; 128];
    let n = statm.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let pages: u64 = text.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn thread_ident() -> u64 {
    // SAFETY: pthread_self has no preconditions and always succeeds; it is
    // the value `threading.get_ident()` returns on POSIX.
    unsafe { libc::pthread_self() as u64 }
}

fn item_u64(info: &Bound<'_, PyDict>, key: &Bound<'_, PyString>) -> Option<u64> {
    info.get_item(key).ok().flatten()?.extract::<u64>().ok()
}

/// The `gc.callbacks` entry: `(phase, info)` as CPython passes them.
/// Returns None and never raises, whatever it is given.
#[pyfunction]
pub fn gc_callback(py: Python<'_>, phase: &Bound<'_, PyAny>, info: &Bound<'_, PyAny>) {
    if !ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    let now = Instant::now();
    let Ok(phase) = phase.cast::<PyString>() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let start = match phase.to_str() {
        Ok("start") => true,
        Ok("stop") => false,
        _ => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let Ok(mut guard) = MONITOR.try_lock() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let Some(state) = guard.as_mut() else {
        return;
    };
    if state.duration_ns.is_some() {
        return;
    }
    let at = now.saturating_duration_since(state.base).as_nanos() as u64;
    if start {
        state.pending = Some(at);
        return;
    }
    // A stop without its start: the monitor started inside a collection
    // (from a finalizer). Nothing to time.
    let Some(start_ns) = state.pending.take() else {
        return;
    };
    let event = info.cast::<PyDict>().ok().and_then(|info| {
        let generation = item_u64(info, intern!(py, "generation"))?;
        Some(GcEvent {
            start_ns,
            end_ns: at,
            generation: u8::try_from(generation).ok().filter(|&g| g <= 2)?,
            collected: item_u64(info, intern!(py, "collected"))?,
            uncollectable: item_u64(info, intern!(py, "uncollectable"))?,
            candidates: item_u64(info, intern!(py, "candidates")),
            thread: thread_ident(),
            rss_bytes: if generation == 2 {
                state.statm.as_ref().and_then(rss_bytes)
            } else {
                None
            },
        })
    });
    match event {
        Some(event) => state.events.push(event),
        None => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts recording (the callback must be in `gc.callbacks` as well).
#[pyfunction]
pub fn gc_monitor_start() -> PyResult<()> {
    let mut slot = monitor();
    if slot.as_ref().is_some_and(|m| m.duration_ns.is_none()) {
        return Err(errors::capture(
            "the memlens GC monitor is already running in this process",
        ));
    }
    page_size();
    *slot = Some(Monitor {
        base: Instant::now(),
        start_unix_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        duration_ns: None,
        pending: None,
        events: Vec::with_capacity(RESERVED_EVENTS),
        statm: File::open("/proc/self/statm").ok(),
    });
    DROPPED.store(0, Ordering::Relaxed);
    ACTIVE.store(true, Ordering::Relaxed);
    Ok(())
}

/// Stops recording; the events stay until the next start. Returns
/// `(events, dropped)`, or None when the monitor never ran.
#[pyfunction]
pub fn gc_monitor_stop() -> Option<(usize, u64)> {
    ACTIVE.store(false, Ordering::Relaxed);
    let mut slot = monitor();
    let state = slot.as_mut()?;
    if state.duration_ns.is_none() {
        state.duration_ns = Some(state.base.elapsed().as_nanos() as u64);
    }
    Some((state.events.len(), DROPPED.load(Ordering::Relaxed)))
}

/// Whether the monitor is recording.
#[pyfunction]
pub fn gc_monitor_running() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Copies the log out under the lock (no Python inside it), filling in what
/// the monitor itself knows.
fn snapshot(meta_json: &str) -> PyResult<GcLog> {
    let mut meta: GcMeta = serde_json::from_str(meta_json)
        .map_err(|e| PyValueError::new_err(format!("GC monitor metadata: {e}")))?;
    let slot = monitor();
    let Some(state) = slot.as_ref() else {
        return Err(errors::capture("the memlens GC monitor has not run"));
    };
    meta.start_unix_ns = state.start_unix_ns;
    meta.duration_ns = state
        .duration_ns
        .unwrap_or_else(|| state.base.elapsed().as_nanos() as u64);
    meta.dropped = DROPPED.load(Ordering::Relaxed);
    meta.pid = std::process::id();
    Ok(GcLog {
        meta,
        events: state.events.clone(),
    })
}

/// The events so far as `(start_ns, end_ns, generation, collected,
/// uncollectable, candidates, thread, rss_bytes)` tuples.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn gc_monitor_events() -> PyResult<Vec<(u64, u64, u8, u64, u64, Option<u64>, u64, Option<u64>)>>
{
    let events = {
        let slot = monitor();
        let Some(state) = slot.as_ref() else {
            return Ok(Vec::new());
        };
        state.events.clone()
    };
    Ok(events
        .into_iter()
        .map(|e| {
            (
                e.start_ns,
                e.end_ns,
                e.generation,
                e.collected,
                e.uncollectable,
                e.candidates,
                e.thread,
                e.rss_bytes,
            )
        })
        .collect())
}

/// Writes the log to `path` with the metadata Python gathered (JSON of
/// `GcMeta`); returns `(events, dropped, file bytes)`.
#[pyfunction]
pub fn gc_monitor_write(
    py: Python<'_>,
    path: PathBuf,
    meta_json: &str,
) -> PyResult<(usize, u64, u64)> {
    let log = snapshot(meta_json)?;
    py.detach(|| {
        let file = File::create(&path)?;
        let bytes = memlens_gc::write_gc_log(std::io::BufWriter::new(file), &log.meta, &log.events)
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>((log.events.len(), log.meta.dropped, bytes))
    })
    .map_err(|e| errors::os(format!("cannot write {}: {e}", path.display())))
}

fn render(log: &GcLog, format: &str) -> PyResult<String> {
    match format {
        "text" => Ok(memlens_gc::render_text(&memlens_gc::report(log))),
        "json" => Ok(memlens_gc::render_json(&memlens_gc::report(log))),
        "trace" => Ok(memlens_gc::gctrace(log)),
        _ => Err(errors::configuration(format!(
            "unknown report format {format:?}: text, json or trace"
        ))),
    }
}

/// The report of the running (or last) monitor, without a file.
#[pyfunction]
#[pyo3(signature = (meta_json, format="text"))]
pub fn gc_monitor_report(meta_json: &str, format: &str) -> PyResult<String> {
    render(&snapshot(meta_json)?, format)
}

/// The report of a GC event log file (`format`: text, json or trace).
#[pyfunction]
#[pyo3(signature = (path, format="text"))]
pub fn gc_report(py: Python<'_>, path: PathBuf, format: &str) -> PyResult<String> {
    let log = py
        .detach(|| {
            let file = File::open(&path).map_err(|e| (true, e.to_string()))?;
            memlens_gc::read_gc_log(std::io::BufReader::new(file))
                .map_err(|e| (false, e.to_string()))
        })
        .map_err(|(os, message)| {
            let message = format!("{}: {message}", path.display());
            if os {
                errors::os(message)
            } else {
                errors::file_format(message)
            }
        })?;
    render(&log, format)
}

/// Registers the GC monitor functions on `memlens._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gc_callback, m)?)?;
    m.add_function(wrap_pyfunction!(gc_monitor_start, m)?)?;
    m.add_function(wrap_pyfunction!(gc_monitor_stop, m)?)?;
    m.add_function(wrap_pyfunction!(gc_monitor_running, m)?)?;
    m.add_function(wrap_pyfunction!(gc_monitor_events, m)?)?;
    m.add_function(wrap_pyfunction!(gc_monitor_write, m)?)?;
    m.add_function(wrap_pyfunction!(gc_monitor_report, m)?)?;
    m.add_function(wrap_pyfunction!(gc_report, m)?)?;
    Ok(())
}

//! The native half of `memlens.tracemalloc`: start and stop the tracer into
//! the in-memory [`TraceTable`](super::table), and read it back as the raw
//! tuples the Python layer wraps (the same shapes as CPython's
//! `_tracemalloc`: a trace is `(domain, size, traceback, total_nframe)`, a
//! traceback a tuple of `(filename, lineno)` frames, most recent first).

use super::table;
use super::{hooks, Mode, TraceConfig, TraceError};
use crate::errors;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Whether the running trace feeds the table (rather than, say, a capture).
static TABLE_TRACING: AtomicBool = AtomicBool::new(false);
static TRACEBACK_LIMIT: AtomicU32 = AtomicU32::new(1);

/// Starts tracing into the table, or changes the frame limit if it already is.
#[pyfunction]
#[pyo3(signature = (nframe, sample_bytes=None, count_frames=false))]
fn _trace_start(
    py: Python<'_>,
    nframe: u32,
    sample_bytes: Option<u64>,
    count_frames: bool,
) -> PyResult<()> {
    if TABLE_TRACING.load(Ordering::SeqCst) {
        super::set_max_frames(nframe).map_err(errors::trace)?;
        TRACEBACK_LIMIT.store(nframe, Ordering::SeqCst);
        return Ok(());
    }
    let mode = match sample_bytes {
        None => Mode::Exact,
        Some(mean_bytes) => Mode::Sampled { mean_bytes },
    };
    table::global().reset(sample_bytes.unwrap_or(0));
    super::start_table(
        py,
        TraceConfig {
            mode,
            max_frames: nframe,
        },
        count_frames,
    )
    .map_err(|error| match error {
        TraceError::AlreadyTracing => errors::capture(
            "memlens is already tracing allocations into a capture (memlens run); \
             memlens.tracemalloc cannot start a second trace",
        ),
        other => errors::trace(other),
    })?;
    TRACEBACK_LIMIT.store(nframe, Ordering::SeqCst);
    TABLE_TRACING.store(true, Ordering::SeqCst);
    Ok(())
}

/// Stops tracing into the table and forgets the traces.
#[pyfunction]
fn _trace_stop(py: Python<'_>) -> PyResult<()> {
    if TABLE_TRACING.swap(false, Ordering::SeqCst) {
        super::stop(py).map_err(errors::trace)?;
        table::global().reset(0);
    }
    Ok(())
}

#[pyfunction]
fn _trace_is_tracing() -> bool {
    TABLE_TRACING.load(Ordering::SeqCst)
}

#[pyfunction]
fn _trace_clear_traces() {
    if TABLE_TRACING.load(Ordering::SeqCst) {
        table::global().clear_traces();
    }
}

#[pyfunction]
fn _trace_traceback_limit() -> u32 {
    TRACEBACK_LIMIT.load(Ordering::SeqCst)
}

#[pyfunction]
fn _trace_traced_memory() -> (u64, u64) {
    if !TABLE_TRACING.load(Ordering::SeqCst) {
        return (0, 0);
    }
    table::global().traced_memory()
}

#[pyfunction]
fn _trace_reset_peak() {
    if TABLE_TRACING.load(Ordering::SeqCst) {
        table::global().reset_peak();
    }
}

/// Bytes used by the tracer itself: the table and the stack interner.
#[pyfunction]
fn _trace_memory(py: Python<'_>) -> usize {
    if !TABLE_TRACING.load(Ordering::SeqCst) {
        return 0;
    }
    table::global().memory_usage() + hooks::interner_memory(py)
}

/// Installs (`True`) or removes hooks that only forward to the allocators
/// they wrap, to measure the cost of the hook hop alone
/// (`benches/alloc_overhead.py`). Not part of the public API.
#[pyfunction]
fn _trace_passthrough(py: Python<'_>, on: bool) -> PyResult<()> {
    hooks::set_passthrough(py, on).map_err(errors::trace)
}

/// `_core._trace_frees_hooked()`: whether the running trace hooks the MEM
/// and OBJ domains' free (exact mode, and sampled mode unless its sampled
/// blocks are raw-backed); None when no trace runs. A test aid.
#[pyfunction]
fn _trace_frees_hooked(py: Python<'_>) -> Option<bool> {
    hooks::frees_hooked(py)
}

/// Builds traceback tuples, sharing one tuple per stack.
struct TracebackBuilder<'py> {
    py: Python<'py>,
    frames: HashMap<u32, Bound<'py, PyTuple>>,
    stacks: HashMap<u32, (Bound<'py, PyTuple>, Option<usize>)>,
}

impl<'py> TracebackBuilder<'py> {
    fn new(py: Python<'py>) -> Self {
        TracebackBuilder {
            py,
            frames: HashMap::new(),
            stacks: HashMap::new(),
        }
    }

    fn traceback(
        &mut self,
        names: &table::Names,
        stack: u32,
    ) -> PyResult<(Bound<'py, PyTuple>, Option<usize>)> {
        if let Some(found) = self.stacks.get(&stack) {
            return Ok(found.clone());
        }
        let mut items = Vec::new();
        // The whole chain's length: counted (a marker node), unknown (the
        // stack was cut and not counted), or the frames themselves.
        let mut total = Some(None);
        let mut current = stack;
        if current & hooks::TRUNCATED_FLAG != 0 {
            current &= !hooks::TRUNCATED_FLAG;
            total = None;
        } else if let Some(&(parent, table::TRUNCATED)) = names.stacks.get(current as usize) {
            total = Some(names.totals.get(&current).map(|&t| t as usize));
            current = parent;
        }
        while current != 0
            && (current as usize) < names.stacks.len()
            && items.len() < super::MAX_FRAMES as usize
        {
            let (parent, frame) = names.stacks[current as usize];
            let tuple = match self.frames.get(&frame) {
                Some(tuple) => tuple.clone(),
                None => {
                    let (filename, line) = names
                        .frames
                        .get(frame as usize)
                        .cloned()
                        .unwrap_or_default();
                    let tuple = PyTuple::new(
                        self.py,
                        [
                            filename.into_pyobject(self.py)?.into_any(),
                            line.into_pyobject(self.py)?.into_any(),
                        ],
                    )?;
                    self.frames.insert(frame, tuple.clone());
                    tuple
                }
            };
            items.push(tuple);
            current = parent;
        }
        if items.is_empty() {
            // tracemalloc reports allocations without a Python frame as
            // coming from "<unknown>", line 0.
            let unknown = PyTuple::new(
                self.py,
                [
                    "<unknown>".into_pyobject(self.py)?.into_any(),
                    0u32.into_pyobject(self.py)?.into_any(),
                ],
            )?;
            items.push(unknown);
        }
        let total = total.map(|counted| counted.unwrap_or(items.len()).max(items.len()));
        let tuple = PyTuple::new(self.py, items)?;
        self.stacks.insert(stack, (tuple.clone(), total));
        Ok((tuple, total))
    }
}

/// Every live trace as `(domain, size, traceback, total_nframe)`.
#[pyfunction]
fn _trace_raw_traces(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    if !TABLE_TRACING.load(Ordering::SeqCst) {
        // CPython's own exception and message: this is the tracemalloc drop-in.
        return Err(PyRuntimeError::new_err(
            "the tracemalloc module must be tracing memory allocations to take a snapshot",
        ));
    }
    let table = table::global();
    let blocks = table.blocks();
    hooks::untraced(py, || {
        table.with_names(|names| {
            let mut builder = TracebackBuilder::new(py);
            let list = PyList::empty(py);
            for (_, block) in blocks {
                let (traceback, total) = builder.traceback(names, block.stack)?;
                list.append((block.domain, block.size, traceback, total))?;
            }
            Ok(list)
        })
    })
}

/// The traceback of the block holding `obj`, or None when untraced.
#[pyfunction]
fn _trace_object_traceback<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    if !TABLE_TRACING.load(Ordering::SeqCst) {
        return Ok(None);
    }
    let address = obj.as_ptr() as u64 - object_preheader_size(obj) as u64;
    let table = table::global();
    let Some(block) = table.block_at(address) else {
        return Ok(None);
    };
    hooks::untraced(py, || {
        table.with_names(|names| {
            Ok(Some(
                TracebackBuilder::new(py).traceback(names, block.stack)?.0,
            ))
        })
    })
}

/// Bytes CPython places before an object inside its memory block (the GC
/// header, and from 3.11 the managed dict and weakref pointers).
fn object_preheader_size(obj: &Bound<'_, PyAny>) -> usize {
    // SAFETY: `obj` is alive (we hold a reference) and so is its type.
    let flags = unsafe { (*pyo3::ffi::Py_TYPE(obj.as_ptr())).tp_flags };
    let gc = if flags & pyo3::ffi::Py_TPFLAGS_HAVE_GC != 0 {
        2 * std::mem::size_of::<usize>()
    } else {
        0
    };
    #[cfg(all(Py_3_11, not(Py_3_12)))]
    let preheader_flags: std::os::raw::c_ulong = 1 << 4;
    #[cfg(Py_3_12)]
    let preheader_flags: std::os::raw::c_ulong = (1 << 4) | (1 << 3);
    #[cfg(not(Py_3_11))]
    let preheader_flags: std::os::raw::c_ulong = 0;
    let managed = if (flags as std::os::raw::c_ulong) & preheader_flags != 0 {
        2 * std::mem::size_of::<usize>()
    } else {
        0
    };
    gc + managed
}

/// Groups raw traces the way `Snapshot.statistics` does, returning
/// `{key frames: (size, count)}`. Keys are computed once per distinct
/// traceback object (snapshots share one tuple per stack), so the per-trace
/// work is a pointer lookup and two additions.
#[pyfunction]
fn _trace_group<'py>(
    py: Python<'py>,
    traces: &Bound<'py, PyAny>,
    key_type: &str,
    cumulative: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let keys = PyDict::new(py);
    let mut totals: Vec<(u64, u64)> = Vec::new();
    let mut groups_of: HashMap<usize, Vec<usize>> = HashMap::new();
    let key_for = |frames: Bound<'py, PyTuple>, totals: &mut Vec<(u64, u64)>| -> PyResult<usize> {
        if let Some(index) = keys.get_item(&frames)? {
            return index.extract();
        }
        keys.set_item(&frames, totals.len())?;
        totals.push((0, 0));
        Ok(totals.len() - 1)
    };
    let key_of_frame = |frame: &Bound<'py, PyAny>| -> PyResult<Bound<'py, PyTuple>> {
        if key_type == "filename" {
            let filename = frame.get_item(0)?;
            PyTuple::new(
                py,
                [PyTuple::new(
                    py,
                    [filename, 0u32.into_pyobject(py)?.into_any()],
                )?],
            )
        } else {
            PyTuple::new(py, [frame.clone()])
        }
    };
    for trace in traces.try_iter()? {
        let trace = trace?;
        let size: u64 = trace.get_item(1)?.extract()?;
        let traceback = trace.get_item(2)?;
        let pointer = traceback.as_ptr() as usize;
        let groups = match groups_of.entry(pointer) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let traceback_tuple = traceback.cast::<PyTuple>()?;
                let mut groups = Vec::new();
                if cumulative {
                    for frame in traceback_tuple.iter() {
                        groups.push(key_for(key_of_frame(&frame)?, &mut totals)?);
                    }
                } else if key_type == "traceback" {
                    groups.push(key_for(traceback_tuple.clone(), &mut totals)?);
                } else {
                    groups.push(key_for(
                        key_of_frame(&traceback_tuple.get_item(0)?)?,
                        &mut totals,
                    )?);
                }
                entry.insert(groups)
            }
        };
        for &group in groups.iter() {
            totals[group].0 += size;
            totals[group].1 += 1;
        }
    }
    let result = PyDict::new(py);
    for (key, index) in keys.iter() {
        let index: usize = index.extract()?;
        result.set_item(key, totals[index])?;
    }
    Ok(result)
}

/// Registers the functions above on `memlens._core`.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(_trace_start, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_stop, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_is_tracing, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_clear_traces, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_traceback_limit, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_traced_memory, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_reset_peak, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_memory, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_raw_traces, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_object_traceback, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_group, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_passthrough, module)?)?;
    module.add_function(wrap_pyfunction!(_trace_frees_hooked, module)?)?;
    Ok(())
}

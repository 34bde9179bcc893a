//! `memlens._core`, the native half of the memlens Python package.
//!
//! This is the only crate that links CPython. Everything here either captures
//! (walks the heap, hooks allocators and the GC) or bridges to the pure-Rust
//! crates; analysis and rendering live in those crates.

mod capture;
mod cli;
mod errors;
mod gc;
mod heap;
mod lint;
pub mod trace;

use pyo3::prelude::*;

/// A byte count in binary units with one decimal (`512 B`, `12.4 MiB`): the
/// formatter the CLI and the heap tables use, for the Python verbs and the
/// examples, so that every size memlens prints reads the same.
#[pyfunction]
fn format_bytes(size: u64) -> String {
    memlens_heap::human_bytes(size)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(lint::lint_paths, m)?)?;
    m.add_function(wrap_pyfunction!(format_bytes, m)?)?;
    heap::register(m)?;
    trace::python::register(m)?;
    trace::numpy::register(m)?;
    capture::register(m)?;
    gc::register(m)?;
    Ok(())
}

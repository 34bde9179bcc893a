//! `memlens._core.lint_paths`: the lint engine for `memlens.lint()`.

use std::path::PathBuf;

use crate::errors;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Lints files and directories and returns one dict per diagnostic
/// (`code`, `name`, `message`, `path`, `line`, `column`, `end_line`,
/// `end_column`, `source_line`, `is_error`).
///
/// Each file gets the settings of the nearest `[tool.memlens.lint]` above
/// it; `select` replaces its selection and `ignore` adds to it;
/// `include_tests` lints test files found in directories too. The GIL is
/// released while files are linted.
#[pyfunction]
#[pyo3(signature = (paths, select=None, ignore=None, include_tests=false))]
pub fn lint_paths<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    select: Option<Vec<String>>,
    ignore: Option<Vec<String>>,
    include_tests: bool,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let report = py
        .detach(|| {
            memlens_lint::lint_paths_with_nearest_config(
                &paths,
                select,
                ignore.unwrap_or_default(),
                include_tests,
            )
        })
        .map_err(errors::lint)?;
    report
        .diagnostics
        .iter()
        .map(|d| {
            let item = PyDict::new(py);
            item.set_item("code", d.rule.code())?;
            item.set_item("name", d.rule.name())?;
            item.set_item("message", &d.message)?;
            item.set_item("path", d.path.display().to_string())?;
            item.set_item("line", d.line)?;
            item.set_item("column", d.column)?;
            item.set_item("end_line", d.end_line)?;
            item.set_item("end_column", d.end_column)?;
            item.set_item("source_line", &d.source_line)?;
            item.set_item("is_error", d.is_error())?;
            Ok(item)
        })
        .collect()
}

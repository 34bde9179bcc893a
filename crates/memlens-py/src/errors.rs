//! The one place where Rust errors become Python exceptions.
//!
//! The exception classes are defined once, in `python/memlens/_errors.py`
//! (`memlens.MemlensError` and its subclasses, each also deriving from the
//! builtin exception callers caught before they existed); this module looks
//! them up once per interpreter and raises them. (`FileFormatError` is raised for
//! `.mlh` files read through `memlens_format` and GC event logs read through
//! `memlens._core.gc_report`.) Errors of the operating
//! system stay `OSError` (and its subclasses, chosen from the `io::Error`
//! kind by pyo3).

use crate::trace::TraceError;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The memlens exception classes, by the name `memlens._errors` gives them.
#[derive(Clone, Copy)]
enum Class {
    Capture,
    Configuration,
    FileFormat,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Capture => "CaptureError",
            Class::Configuration => "ConfigurationError",
            Class::FileFormat => "FileFormatError",
        }
    }

    fn cell(self) -> &'static PyOnceLock<Py<PyType>> {
        static CAPTURE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static CONFIGURATION: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static FILE_FORMAT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        match self {
            Class::Capture => &CAPTURE,
            Class::Configuration => &CONFIGURATION,
            Class::FileFormat => &FILE_FORMAT,
        }
    }

    /// The builtin base, raised instead if `memlens._errors` cannot be
    /// imported (the message is what matters then).
    fn builtin(self, message: String) -> PyErr {
        match self {
            Class::Configuration | Class::FileFormat => PyValueError::new_err(message),
            Class::Capture => PyRuntimeError::new_err(message),
        }
    }

    fn raise(self, message: impl Into<String>) -> PyErr {
        let message = message.into();
        Python::attach(|py| {
            let class = self.cell().get_or_try_init(py, || {
                py.import("memlens._errors")?
                    .getattr(self.name())?
                    .cast_into::<PyType>()
                    .map(Bound::unbind)
                    .map_err(PyErr::from)
            });
            match class {
                Ok(class) => PyErr::from_type(class.bind(py).clone(), message),
                Err(_) => self.builtin(message),
            }
        })
    }
}

/// `memlens.CaptureError` (a `RuntimeError`): tracing cannot do that now.
pub(crate) fn capture(message: impl Into<String>) -> PyErr {
    Class::Capture.raise(message)
}

/// `memlens.ConfigurationError` (a `ValueError`): invalid settings.
pub(crate) fn configuration(message: impl Into<String>) -> PyErr {
    Class::Configuration.raise(message)
}

/// `memlens.FileFormatError` (a `ValueError`): a memlens file that is
/// truncated, corrupt, foreign or too new.
pub(crate) fn file_format(message: impl Into<String>) -> PyErr {
    Class::FileFormat.raise(message)
}

/// `OSError` for a failed read or write, with the error's message.
pub(crate) fn os(error: impl std::fmt::Display) -> PyErr {
    PyOSError::new_err(error.to_string())
}

/// A tracer error: invalid settings are a [`configuration`] error, the rest
/// (already or not tracing, unsupported interpreter) a [`capture`] error.
pub(crate) fn trace(error: TraceError) -> PyErr {
    match error {
        TraceError::InvalidConfig(_) => configuration(error.to_string()),
        _ => capture(error.to_string()),
    }
}

/// A tracer error where callers have always seen a `RuntimeError`, invalid
/// settings included (starting a capture): a [`capture`] error.
pub(crate) fn trace_as_capture(error: impl std::fmt::Display) -> PyErr {
    capture(error.to_string())
}

/// A lint error: a missing path is `FileNotFoundError`, a failed read
/// `OSError`, a bad selector or configuration a [`configuration`] error.
pub(crate) fn lint(error: memlens_lint::Error) -> PyErr {
    match error {
        memlens_lint::Error::PathNotFound(_) => PyFileNotFoundError::new_err(error.to_string()),
        memlens_lint::Error::Io { .. } => os(error),
        _ => configuration(error.to_string()),
    }
}

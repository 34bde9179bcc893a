//! Where heap-engine errors become Python exceptions: the only place that
//! picks exception types for them.

use pyo3::exceptions::{PyIndexError, PyKeyError, PyValueError};
use pyo3::PyErr;

/// Something a caller of the heap API got wrong.
#[derive(Debug)]
pub(crate) enum HeapError {
    /// A node index outside the walked heap.
    NodeOutOfRange { index: usize, len: usize },
    /// A census has no such type.
    UnknownType(String),
    /// A graph picture could not be drawn.
    Render(String),
}

impl std::fmt::Display for HeapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeapError::NodeOutOfRange { index, len } => {
                write!(
                    f,
                    "node {index} is out of range: the walked heap has {len} objects"
                )
            }
            HeapError::UnknownType(name) => write!(f, "no objects of type {name:?} in this census"),
            HeapError::Render(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for HeapError {}

impl From<HeapError> for PyErr {
    fn from(err: HeapError) -> PyErr {
        let message = err.to_string();
        match err {
            HeapError::NodeOutOfRange { .. } => PyIndexError::new_err(message),
            HeapError::UnknownType(_) => PyKeyError::new_err(message),
            HeapError::Render(_) => PyValueError::new_err(message),
        }
    }
}

//! Type names read from the type object itself: no `__getattribute__`, no
//! metaclass property is ever run to name a type.

use std::ffi::CStr;

use pyo3::ffi;
use pyo3::prelude::*;

use super::layout;

/// A type's module, `__name__` and `__qualname__`.
#[derive(Clone, Debug)]
pub(crate) struct TypeNames {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) qualname: String,
}

impl TypeNames {
    /// The census key: `module.qualname` (`builtins.str`, `app.Outer.Inner`).
    pub(crate) fn key(&self) -> String {
        format!("{}.{}", self.module, self.qualname)
    }
}

/// Reads the names of `tp` the way `type.__module__`, `type.__name__` and
/// `type.__qualname__` compute them, straight from the type struct.
///
/// # Safety
/// `tp` is a live type object and the GIL is held.
pub(crate) unsafe fn type_names(py: Python<'_>, tp: *mut ffi::PyTypeObject) -> TypeNames {
    // SAFETY: tp is live; heap types have ht_name/ht_qualname set by CPython,
    // static types have a NUL-terminated tp_name.
    unsafe {
        if layout::type_flags(tp) & (1 << 9) != 0 {
            let heap = tp.cast::<ffi::PyHeapTypeObject>();
            let name = layout::read_str((*heap).ht_name).unwrap_or_else(|| "?".to_string());
            let qualname = layout::read_str((*heap).ht_qualname).unwrap_or_else(|| name.clone());
            let mut module = "builtins".to_string();
            let dict = (*tp).tp_dict;
            if !dict.is_null() {
                let key = pyo3::intern!(py, "__module__");
                let value = ffi::PyDict_GetItem(dict, key.as_ptr());
                if !value.is_null() {
                    module = layout::read_str(value).unwrap_or_else(|| "?".to_string());
                }
            }
            TypeNames {
                module,
                name,
                qualname,
            }
        } else {
            let full = if (*tp).tp_name.is_null() {
                "?".to_string()
            } else {
                CStr::from_ptr((*tp).tp_name).to_string_lossy().into_owned()
            };
            let (module, name) = match full.rfind('.') {
                Some(dot) => (full[..dot].to_string(), full[dot + 1..].to_string()),
                None => ("builtins".to_string(), full),
            };
            TypeNames {
                module,
                qualname: name.clone(),
                name,
            }
        }
    }
}

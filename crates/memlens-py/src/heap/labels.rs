//! Edge labels: how a parent refers to a child — attribute name, dict key,
//! index. Read from the layout (never `obj.__dict__`, which would create the
//! dict on 3.11+), without running any Python code.

use pyo3::ffi;

use super::layout::{self, Attributes};

extern "C" {
    /// The bound-method type (not bound by pyo3-ffi).
    static mut PyMethod_Type: ffi::PyTypeObject;
}

/// How `parent` refers to `child`, e.g. `items`, `key`, `['a key']`, `[3]`,
/// `__dict__`; `None` when the reference is internal or unknown.
///
/// # Safety
/// `parent` and `child` are live objects and the GIL is held.
pub(crate) unsafe fn edge_label(
    parent: *mut ffi::PyObject,
    child: *mut ffi::PyObject,
) -> Option<String> {
    // SAFETY: parent is live; every access is guarded by the matching type check.
    unsafe {
        if ffi::PyDict_Check(parent) != 0 {
            return dict_label(parent, child, true);
        }
        if ffi::PyList_Check(parent) != 0 {
            let length = ffi::PyList_GET_SIZE(parent);
            return (0..length)
                .find(|&i| ffi::PyList_GET_ITEM(parent, i) == child)
                .map(|i| format!("[{i}]"));
        }
        if ffi::PyTuple_Check(parent) != 0 {
            let length = ffi::PyTuple_GET_SIZE(parent);
            return (0..length)
                .find(|&i| ffi::PyTuple_GET_ITEM(parent, i) == child)
                .map(|i| format!("[{i}]"));
        }
        if ffi::PyType_Check(parent) != 0 {
            let tp = parent.cast::<ffi::PyTypeObject>();
            let fields = [
                ((*tp).tp_dict, "__dict__"),
                ((*tp).tp_mro, "__mro__"),
                ((*tp).tp_bases, "__bases__"),
                ((*tp).tp_base.cast(), "__base__"),
            ];
            if let Some((_, name)) = fields.iter().find(|(field, _)| *field == child) {
                return Some(name.to_string());
            }
            let dict = (*tp).tp_dict;
            if !dict.is_null() {
                return dict_label(dict, child, false);
            }
            return None;
        }
        if ffi::PyModule_Check(parent) != 0 {
            let dict = layout::module_dict(parent);
            if dict == child {
                return Some("__dict__".to_string());
            }
            if !dict.is_null() && ffi::PyDict_Check(dict) != 0 {
                return dict_label(dict, child, false);
            }
            return None;
        }
        if ffi::PyFunction_Check(parent) != 0 {
            let f = parent.cast::<ffi::PyFunctionObject>();
            let fields = [
                ((*f).func_globals, "__globals__"),
                ((*f).func_code, "__code__"),
                ((*f).func_closure, "__closure__"),
                ((*f).func_defaults, "__defaults__"),
                ((*f).func_kwdefaults, "__kwdefaults__"),
                ((*f).func_dict, "__dict__"),
                ((*f).func_module, "__module__"),
                ((*f).func_name, "__name__"),
                ((*f).func_qualname, "__qualname__"),
                ((*f).func_doc, "__doc__"),
                ((*f).func_annotations, "__annotations__"),
            ];
            return fields
                .iter()
                .find(|(field, _)| *field == child)
                .map(|(_, name)| name.to_string());
        }
        if ffi::Py_IS_TYPE(parent, &raw mut PyMethod_Type) != 0 {
            let (function, bound_to) = layout::method_parts(parent);
            if function == child {
                return Some("__func__".to_string());
            }
            if bound_to == child {
                return Some("__self__".to_string());
            }
            return None;
        }
        if ffi::Py_IS_TYPE(parent, &raw mut ffi::PyCell_Type) != 0 {
            return Some("cell_contents".to_string());
        }
        instance_label(parent, child)
    }
}

/// Label of `child` inside a dict: its key (`['a key']` in a plain dict,
/// `key` for an attribute dict).
unsafe fn dict_label(
    dict: *mut ffi::PyObject,
    child: *mut ffi::PyObject,
    subscript: bool,
) -> Option<String> {
    let mut position: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: dict is a live dict; PyDict_Next returns borrowed references and
    // allocates nothing.
    unsafe {
        while ffi::PyDict_Next(dict, &mut position, &mut key, &mut value) != 0 {
            if value == child {
                return Some(key_label(key, subscript));
            }
            if key == child {
                return Some("(key)".to_string());
            }
        }
    }
    None
}

/// A dict key as a label: str and int keys verbatim, others by type.
unsafe fn key_label(key: *mut ffi::PyObject, subscript: bool) -> String {
    // SAFETY: key is a live object.
    unsafe {
        if let Some(text) = layout::read_str(key) {
            let identifier = text
                .chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && text.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
            // objgraph's convention: identifier keys plain, others quoted.
            return if !subscript || identifier {
                text
            } else {
                format!("[{text:?}]").replace('"', "'")
            };
        }
        if ffi::PyLong_CheckExact(key) != 0 {
            let mut overflow = 0;
            let value = ffi::PyLong_AsLongLongAndOverflow(key, &mut overflow);
            if overflow == 0 && (value != -1 || ffi::PyErr_Occurred().is_null()) {
                return format!("[{value}]");
            }
            ffi::PyErr_Clear();
        }
        let tp = ffi::Py_TYPE(key);
        let name = if (*tp).tp_name.is_null() {
            "?".into()
        } else {
            std::ffi::CStr::from_ptr((*tp).tp_name).to_string_lossy()
        };
        format!("[<{name} key>]")
    }
}

/// Label of an instance attribute: in the attribute dict, in the 3.11+
/// values stored without a dict, or in a `__slots__` slot.
unsafe fn instance_label(parent: *mut ffi::PyObject, child: *mut ffi::PyObject) -> Option<String> {
    // SAFETY: parent is live; instance_attributes and slot_offsets read only
    // what the type's layout says is there.
    unsafe {
        let tp = ffi::Py_TYPE(parent);
        if child == tp.cast() {
            return Some("__class__".to_string());
        }
        match layout::instance_attributes(parent) {
            Attributes::Dict(dict) => {
                if dict == child {
                    return Some("__dict__".to_string());
                }
                if ffi::PyDict_Check(dict) != 0 {
                    if let Some(label) = dict_label(dict, child, false) {
                        return Some(label);
                    }
                }
            }
            Attributes::Values { keys, values } => {
                let mut found = None;
                layout::shared_key_values(keys, values, |key, value| {
                    if found.is_none() && value == child {
                        found = layout::read_str(key);
                    }
                });
                if found.is_some() {
                    return found;
                }
            }
            Attributes::None => {}
        }
        let base = parent as *const u8;
        let basicsize = (*tp).tp_basicsize;
        for (name, offset) in layout::slot_offsets(tp) {
            if offset > 0
                && offset + 8 <= basicsize
                && *(base.add(offset as usize).cast::<*mut ffi::PyObject>()) == child
            {
                return Some(name);
            }
        }
        None
    }
}

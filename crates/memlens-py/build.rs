//! Exposes pyo3's `Py_3_X` cfgs to this crate: the frame layouts and a few
//! CPython details are chosen at compile time for the target interpreter.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}

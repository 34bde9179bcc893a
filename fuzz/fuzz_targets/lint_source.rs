//! `memlens lint` on arbitrary file contents: a diagnostic list (ML000 for
//! what does not parse), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memlens_lint::{lint_source, Settings};

fuzz_target!(|data: &[u8]| {
    let _ = lint_source("fuzz.py".as_ref(), data, &Settings::default());
});

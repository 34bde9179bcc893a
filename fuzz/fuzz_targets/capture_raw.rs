//! The capture reader on raw bytes: magic, header, frame envelopes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::read_and_report(data));

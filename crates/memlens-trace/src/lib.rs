//! Allocation events, stack interning, capture files, peaks and leaks, reports and exports.
#![forbid(unsafe_code)]

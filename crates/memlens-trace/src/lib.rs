//! Allocation events, stack interning, capture files, peaks and leaks, reports and exports.
//!
//! [`events`] is the contract between the allocator hooks (in the extension
//! crate) and everything that consumes what they see.
#![forbid(unsafe_code)]

pub mod events;

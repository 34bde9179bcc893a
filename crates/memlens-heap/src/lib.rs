//! Heap graph, snapshot format, census and diff, paths to roots, dominators.
#![forbid(unsafe_code)]

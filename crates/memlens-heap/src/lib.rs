//! Heap graph, census and census diff — the pure-Rust half of the heap engine.
//!
//! The extension crate (`memlens-py`) walks a live CPython heap and hands the
//! results here as plain data: per-type counts and sizes ([`Census`]) and the
//! object graph ([`HeapGraph`], compact `u32` node indices with CSR
//! adjacency). Nothing in this crate knows about CPython, so everything in it
//! is tested with `cargo test`.
//!
//! ```
//! use memlens_heap::{Census, CensusRow};
//!
//! let before = Census::from_rows(vec![CensusRow::new("builtins.str", 10, 560)]);
//! let after = Census::from_rows(vec![CensusRow::new("builtins.str", 12, 672)]);
//! let diff = memlens_heap::census_diff(&before, &after);
//! assert_eq!(diff.rows()[0].count_delta(), 2);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod census;
mod devtools;
mod diff;
mod dominators;
mod graph;
mod json;
mod leaks;
pub mod model;
mod paths;
mod reach;
mod summary;
mod suspects;
mod svg;
mod units;

pub use census::{Census, CensusRow};
pub use devtools::{
    object_ids, write_heapsnapshot, write_heapsnapshot_with, HeapsnapshotCounts, MAX_EXPORT_NODES,
};
pub use diff::{census_diff, CensusDiff, DiffRow};
pub use dominators::{Dominator, DominatorTree};
pub use graph::{GraphBuilder, HeapGraph};
pub use leaks::{
    find_leaks, growing_types, rising_types, GrowthOptions, Leak, LeakKind, LeakOptions,
    LeakReport, TypeGrowth,
};
pub use model::{
    EdgeKind, EdgeLabel, HeapSnapshot, NodeColumns, NodeFlags, NodeId, PartsError, Root, RootKind,
    SnapshotBuilder, SnapshotMeta, SnapshotParts, StrId, TypeId, TypeInfo,
};
pub use paths::{find_roots, paths_to_type, PathGroup, PathStep, RootPath, RootPaths, TypePaths};
pub use reach::mark_unreachable;
pub use summary::{
    dominator_rows, dominator_rows_json, render_dominator_tree, DomTreeRow, TypeSummary,
    TypeSummaryRow,
};
pub use suspects::{leak_suspects, BreakdownRow, Suspect, SuspectOptions, Suspects};
pub use svg::{dot_to_svg, RenderError};
pub use units::{group_thousands, human_bytes, signed_human_bytes};

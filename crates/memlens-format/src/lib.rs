//! The one file container every memlens file uses, and the heap snapshot
//! file (`.mlh`) written on it.
//!
//! A container is a 12-byte header (magic `MLNS`, format version, file kind)
//! followed by chunks, each `tag u32 | stored_len u64 | raw_len u64 |
//! crc32c u32 | zstd payload`, and an end chunk counting the chunks before
//! it, so a file cut anywhere is reported as truncated rather than read as
//! a smaller whole. Readers never allocate from a declared length: lengths
//! are checked against [`Limits`] and data is read incrementally.
//!
//! ```
//! use memlens_heap::{EdgeLabel, RootKind, SnapshotBuilder, SnapshotMeta};
//!
//! let mut b = SnapshotBuilder::new(SnapshotMeta::default());
//! let ty = b.add_type("builtins", "dict");
//! let node = b.add_node(0x1000, ty, 64, 64, 1, 0);
//! b.add_edge(node, node, EdgeLabel::index(0));
//! b.add_root(RootKind::Module, "__main__", node, 0);
//! let snapshot = b.finish();
//!
//! let mut file = Vec::new();
//! memlens_format::write_snapshot(&snapshot, &mut file).unwrap();
//! let back = memlens_format::read_snapshot(&file[..]).unwrap();
//! assert_eq!(back.node_count(), 1);
//! assert_eq!(back.edge_count(), 1);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod container;
mod error;
mod heap;
mod varint;

pub use container::{ContainerReader, ContainerWriter, FileKind, Limits, FORMAT_VERSION, MAGIC};
pub use error::FormatError;
pub use heap::{read_snapshot, read_snapshot_with, write_snapshot, SnapshotWriter, WriteStats};

//! Heap snapshot files: round trips, sizes, and a reader that never panics.

use memlens_format::{read_snapshot, write_snapshot, FormatError};
use memlens_heap::{
    EdgeKind, EdgeLabel, HeapSnapshot, NodeFlags, RootKind, SnapshotBuilder, SnapshotMeta,
};
use proptest::prelude::*;

fn meta() -> SnapshotMeta {
    SnapshotMeta {
        python: "3.11.7".into(),
        pid: 4242,
        unix_time_ns: 1_796_000_000_000_000_000,
        rss_bytes: 50 << 20,
        strings_included: false,
        hostname: Some("build-1".into()),
        argv: Some(vec!["python".into(), "app.py".into()]),
    }
}

/// `n` nodes; `edges` as (from, to, kind code, payload) taken modulo `n`.
fn build(n: u32, edges: &[(u32, u32, u8, u32)]) -> HeapSnapshot {
    let mut b = SnapshotBuilder::new(meta());
    let types = [
        b.add_type("builtins", "dict"),
        b.add_type("builtins", "list"),
        b.add_type("app.models", "User"),
    ];
    let attr = b.intern("items");
    for i in 0..n {
        let ty = types[i as usize % 3];
        let addr = 0x7f00_0000_0000 + (i as u64 * 0x9e37) % 0x10_0000 * 16;
        let node = b.add_node(
            addr,
            ty,
            56 + i as u64 % 7 * 8,
            56 + i as u64 % 5 * 1000,
            1 + i as u64 % 4,
            NodeFlags::GC_TRACKED,
        );
        if i % 5 == 0 {
            b.set_node_name(node, attr);
        }
    }
    if n > 0 {
        for &(from, to, kind, payload) in edges {
            let kind = EdgeKind::from_code(kind % 11).unwrap();
            let label = if kind.has_index() {
                EdgeLabel {
                    kind,
                    name: 0,
                    index: payload,
                }
            } else {
                EdgeLabel::named(kind, payload % 2 * attr)
            };
            b.add_edge(from % n, to % n, label);
        }
        b.add_root(RootKind::Module, "app.models", 0, 0);
        b.add_root(RootKind::HiddenHolder, "hidden", n - 1, 3);
    }
    b.finish()
}

fn assert_same(a: &HeapSnapshot, b: &HeapSnapshot) {
    assert_eq!(a.meta(), b.meta());
    assert_eq!(a.node_count(), b.node_count());
    assert_eq!(a.edge_count(), b.edge_count());
    assert_eq!(a.strings(), b.strings());
    assert_eq!(a.types(), b.types());
    assert_eq!(a.roots(), b.roots());
    assert_eq!(a.node_columns(), b.node_columns());
    assert_eq!(a.addrs(), b.addrs());
    assert_eq!(a.forward_csr(), b.forward_csr());
}

fn file(snap: &HeapSnapshot) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot(snap, &mut out).unwrap();
    out
}

#[test]
fn a_snapshot_survives_a_round_trip_exactly() {
    let snap = build(
        1000,
        &[(1, 2, 0, 1), (999, 0, 3, 7), (5, 5, 8, 0), (2, 1, 7, 2)],
    );
    let back = read_snapshot(&file(&snap)[..]).unwrap();
    assert_same(&snap, &back);
}

#[test]
fn an_empty_snapshot_survives_a_round_trip() {
    let snap = build(0, &[]);
    assert_same(&snap, &read_snapshot(&file(&snap)[..]).unwrap());
}

#[test]
fn a_node_costs_at_most_24_bytes_and_an_edge_8_before_compression() {
    // GIVEN 200,000 nodes at heap-like addresses with 3 edges each
    let n = 200_000u32;
    let edges: Vec<_> = (0..n * 3)
        .map(|i| (i / 3, i.wrapping_mul(2_654_435_761) % n, 0, 1))
        .collect();
    let snap = build(n, &edges);
    let mut out = Vec::new();
    let stats = write_snapshot(&snap, &mut out).unwrap();
    let per_node = stats.node_bytes as f64 / n as f64;
    let per_edge = stats.edge_bytes as f64 / (3 * n) as f64;
    println!(
        "per node {per_node:.1} B, per edge {per_edge:.1} B raw; file {:.1} B per node",
        stats.file_bytes as f64 / n as f64
    );
    assert!(per_node <= 24.0, "{per_node} B per node");
    assert_eq!(per_edge, 8.0);
    assert_eq!(stats.file_bytes, out.len() as u64);
    assert!(stats.file_bytes < stats.raw_bytes);
}

#[test]
fn a_file_of_another_kind_or_program_gets_a_clear_error() {
    let err = read_snapshot(&b"\x7fELF\x02\x01\x01"[..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a memlens file (no MLNS header): was it written by memlens?"
    );
    let bytes = file(&build(10, &[(1, 2, 0, 0)]));
    let err = read_snapshot(&bytes[..bytes.len() - 10]).unwrap_err();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err}");
    assert!(err.to_string().starts_with("file is truncated at byte"));
}

/// Rewrites chunk `index`'s payload with `f`, recompressing and recomputing
/// the checksum, so mutations reach the snapshot decoder.
fn rewrite_chunk(bytes: &[u8], index: usize, mut f: impl FnMut(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = bytes[..12].to_vec();
    let mut pos = 12;
    let mut i = 0;
    while pos + 24 <= bytes.len() {
        let stored = u64::from_le_bytes(bytes[pos + 4..pos + 12].try_into().unwrap()) as usize;
        let payload = &bytes[pos + 24..pos + 24 + stored];
        if i == index {
            let mut data = zstd::bulk::decompress(payload, 1 << 26).unwrap();
            f(&mut data);
            let z = zstd::bulk::compress(&data, 1).unwrap();
            let mut head = bytes[pos..pos + 24].to_vec();
            head[4..12].copy_from_slice(&(z.len() as u64).to_le_bytes());
            head[12..20].copy_from_slice(&(data.len() as u64).to_le_bytes());
            let crc = crc32c::crc32c_append(crc32c::crc32c(&head[..20]), &z);
            head[20..24].copy_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&head);
            out.extend_from_slice(&z);
        } else {
            out.extend_from_slice(&bytes[pos..pos + 24 + stored]);
        }
        pos += 24 + stored;
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_snapshot_round_trips(
        n in 0u32..60,
        edges in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u8>(), 0u32..1000), 0..200),
    ) {
        let snap = build(n, &edges);
        let back = read_snapshot(&file(&snap)[..]).unwrap();
        assert_same(&snap, &back);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut with_magic = b"MLNS\x01\x00\x02\x00\x00\x00\x00\x00".to_vec();
        with_magic.extend_from_slice(&bytes);
        prop_assert!(read_snapshot(&bytes[..]).is_err());
        let _ = read_snapshot(&with_magic[..]);
    }

    #[test]
    fn truncated_and_bit_flipped_files_are_errors_not_panics(
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        let bytes = file(&build(40, &[(1, 2, 0, 1), (3, 4, 3, 2), (39, 0, 2, 1)]));
        let at = cut.index(bytes.len());
        prop_assert!(read_snapshot(&bytes[..at]).is_err());
        let mut flipped = bytes.clone();
        for (i, bit) in flips {
            let i = i.index(flipped.len() - 12) + 12;
            flipped[i] ^= 1 << bit;
        }
        // Two flips of the same bit cancel; an unchanged file is valid.
        prop_assume!(flipped != bytes);
        prop_assert!(read_snapshot(&flipped[..]).is_err());
    }

    #[test]
    fn mutated_payloads_behind_valid_checksums_never_panic(
        chunk in 0usize..7,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let bytes = file(&build(40, &[(1, 2, 0, 1), (3, 4, 3, 2), (39, 0, 2, 1)]));
        let mutated = rewrite_chunk(&bytes, chunk, |data| {
            if data.is_empty() {
                data.push(0);
            }
            for (i, v) in &edits {
                let i = i.index(data.len());
                data[i] = *v;
            }
            if let Some(cut) = cut {
                let at = cut.index(data.len());
                data.truncate(at);
            }
        });
        if let Ok(snap) = read_snapshot(&mutated[..]) {
            // Whatever decodes is internally consistent: every accessor works.
            for node in 0..snap.node_count() as u32 {
                let _ = snap.edges(node).count();
                let _ = snap.referrers(node);
                let _ = snap.type_name(snap.type_of(node));
            }
        }
    }
}

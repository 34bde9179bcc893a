//! A damaged GC event log is an error that says what is wrong, never a panic.

use memlens_gc::{read_gc_log, write_gc_log, GcEvent, GcFileError, GcMeta};
use proptest::prelude::*;

fn arb_event() -> impl Strategy<Value = GcEvent> {
    (
        0u64..1 << 40,
        0u64..1 << 30,
        0u8..3,
        any::<u32>(),
        0u32..10,
        proptest::option::of(0u64..1 << 40),
        any::<u64>(),
        proptest::option::of(0u64..1 << 40),
    )
        .prop_map(
            |(start_ns, pause, generation, collected, uncollectable, candidates, thread, rss)| {
                GcEvent {
                    start_ns,
                    end_ns: start_ns + pause,
                    generation,
                    collected: collected.into(),
                    uncollectable: uncollectable.into(),
                    candidates,
                    thread,
                    rss_bytes: rss,
                }
            },
        )
}

fn meta() -> GcMeta {
    GcMeta {
        python_version: "3.11.7 (main)".into(),
        pid: 7,
        argv: vec!["app.py".into(), "--x".into()],
        duration_ns: 1 << 41,
        thresholds: vec![700, 10, 10],
        enabled_at_start: true,
        enabled_at_end: true,
        ..GcMeta::default()
    }
}

fn file_of(events: &[GcEvent]) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_gc_log(&mut bytes, &meta(), events).unwrap();
    bytes
}

proptest! {
    #[test]
    fn what_is_written_is_read(events in proptest::collection::vec(arb_event(), 0..200)) {
        let log = read_gc_log(&file_of(&events)[..]).unwrap();
        prop_assert_eq!(log.meta, meta());
        prop_assert_eq!(log.events, events);
    }

    #[test]
    fn every_truncation_is_an_error(events in proptest::collection::vec(arb_event(), 1..50), cut in any::<prop::sample::Index>()) {
        let bytes = file_of(&events);
        let cut = cut.index(bytes.len());
        let err = read_gc_log(&bytes[..cut]).unwrap_err();
        let text = err.to_string();
        prop_assert!(text.contains("truncated") || text.contains("not a memlens file"), "{}", text);
    }

    #[test]
    fn corrupted_bytes_never_panic(
        events in proptest::collection::vec(arb_event(), 1..50),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
    ) {
        let mut bytes = file_of(&events);
        for (at, mask) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        // Either the damage is caught, or it was in a place that cannot change the content
        // (it cannot: every byte after the header is checksummed).
        if let Err(err) = read_gc_log(&bytes[..]) {
            prop_assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_gc_log(&bytes[..]);
        let mut framed = b"MLNS\x01\x00\x04\x00\x00\x00\x00\x00".to_vec();
        framed.extend_from_slice(&bytes);
        prop_assert!(read_gc_log(&framed[..]).is_err());
    }
}

#[test]
fn a_flip_after_the_header_is_always_caught() {
    let events: Vec<GcEvent> = (0..20)
        .map(|i| GcEvent {
            start_ns: i * 1000,
            end_ns: i * 1000 + 10,
            generation: (i % 3) as u8,
            collected: i,
            uncollectable: 0,
            candidates: None,
            thread: 1,
            rss_bytes: Some(1 << 20),
        })
        .collect();
    let bytes = file_of(&events);
    for i in 12..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x04;
        assert!(read_gc_log(&b[..]).is_err(), "flip at {i} went unnoticed");
    }
}

#[test]
fn other_memlens_files_are_named() {
    let mut w =
        memlens_format::ContainerWriter::new(Vec::new(), memlens_format::FileKind::HeapSnapshot)
            .unwrap();
    w.chunk(*b"AAAA", b"").unwrap();
    let bytes = w.finish().unwrap().0;
    let err = read_gc_log(&bytes[..]).unwrap_err();
    assert!(matches!(err, GcFileError::Format(_)));
    assert_eq!(
        err.to_string(),
        "this is a memlens heap snapshot file, not a GC event log file"
    );
}

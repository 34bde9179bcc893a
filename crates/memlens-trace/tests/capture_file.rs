//! The capture file: what is written reads back, a cut file reads up to its
//! last complete frame, and corrupt input is an error, never a panic.

mod synthetic;

use std::path::PathBuf;
use std::time::Duration;

use memlens_trace::events::*;
use memlens_trace::format::Mode;
use memlens_trace::profile::{Metric, Profile};
use memlens_trace::reader::{CaptureReader, Ending, Record};
use memlens_trace::writer::{CaptureWriter, WriterOptions};
use memlens_trace::ErrorKind;
use proptest::prelude::*;

fn small_blocks() -> WriterOptions {
    WriterOptions {
        block_events: 1000,
        ..WriterOptions::default()
    }
}

/// Reads every record; returns (allocs, frees, dropped, ending).
fn count_records(bytes: &[u8]) -> memlens_trace::Result<(u64, u64, u64, Ending)> {
    let mut reader = CaptureReader::new(bytes)?;
    let (mut allocs, mut frees, mut dropped) = (0, 0, 0);
    while let Some(block) = reader.next_block()? {
        let mut records = block.records()?;
        while let Some(record) = records.next()? {
            match record {
                Record::Alloc(_) => allocs += 1,
                Record::Free(_) => frees += 1,
                Record::Dropped { events } => dropped += events,
                _ => {}
            }
        }
    }
    Ok((allocs, frees, dropped, reader.ending().cloned().unwrap()))
}

fn sample_capture(n: u64) -> (tempfile::TempDir, PathBuf, (u64, u64)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.mlc");
    let counts = synthetic::write_capture(&path, n, small_blocks());
    (dir, path, counts)
}

#[test]
fn every_event_written_reads_back_in_order() {
    // GIVEN a writer that receives a known sequence
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order.mlc");
    let header = synthetic::header(Mode::Sampled {
        mean_interval: 4096,
    });
    let writer = CaptureWriter::create(&path, &header, small_blocks()).unwrap();
    writer.thread(ThreadId(3), "worker");
    writer.frame(
        FrameId(9),
        Frame {
            function: "f",
            filename: "a.py",
            line: 7,
        },
    );
    writer.stack(StackId(5), None, FrameId(9));
    let alloc = AllocEvent {
        address: 0xdead_beef,
        size: 123,
        allocator: Allocator::NumpyData,
        domain: 77,
        thread: ThreadId(3),
        stack: StackId(5),
    };
    writer.alloc(alloc);
    let free = FreeEvent {
        address: 0xdead_beef,
        allocator: Allocator::NumpyData,
        domain: 77,
    };
    writer.free(free);
    // WHEN it finishes and the file is read
    let stats = writer.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    // THEN the header and the records are what was written
    assert_eq!(reader.header(), &header);
    let mut seen = Vec::new();
    while let Some(block) = reader.next_block().unwrap() {
        let mut records = block.records().unwrap();
        while let Some(record) = records.next().unwrap() {
            match record {
                Record::Tick { .. } => {}
                Record::Frame { id, frame } => seen.push(format!("frame {} {:?}", id.0, frame)),
                other => seen.push(format!("{other:?}")),
            }
        }
    }
    assert_eq!(
        seen,
        vec![
            "Thread { id: ThreadId(3), name: \"worker\" }".to_string(),
            "frame 9 Frame { function: \"f\", filename: \"a.py\", line: 7 }".to_string(),
            "Stack { id: StackId(5), parent: None, frame: FrameId(9) }".to_string(),
            format!("{:?}", Record::Alloc(alloc)),
            format!("{:?}", Record::Free(free)),
        ]
    );
    assert_eq!(stats.events, 2);
    assert!(matches!(
        reader.ending(),
        Some(Ending::Complete {
            events: 2,
            dropped: 0,
            ..
        })
    ));
    assert_eq!(stats.file_bytes, bytes.len() as u64);
}

/// Keeps every event it is given, to compare with what a capture reads back.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl EventSink for Recorder {
    fn frame(&self, _: FrameId, _: Frame<'_>) {}
    fn stack(&self, _: StackId, _: Option<StackId>, _: FrameId) {}
    fn thread(&self, _: ThreadId, _: &str) {}
    fn alloc(&self, event: AllocEvent) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{:?}", Record::Alloc(event)));
    }
    fn free(&self, event: FreeEvent) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{:?}", Record::Free(event)));
    }
}

#[test]
fn a_long_churn_reads_back_event_for_event() {
    // GIVEN the same 200,000 allocations (and their frees) given to a recorder and to a writer
    let recorder = Recorder::default();
    synthetic::churn(&recorder, 200_000, 50, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.mlc");
    let writer =
        CaptureWriter::create(&path, &synthetic::header(Mode::Exact), small_blocks()).unwrap();
    synthetic::announce_sites(&*writer, 50);
    synthetic::churn(&*writer, 200_000, 50, 3);
    writer.finish().unwrap();
    // WHEN the capture is read
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    let mut seen = Vec::new();
    while let Some(block) = reader.next_block().unwrap() {
        let mut records = block.records().unwrap();
        while let Some(record) = records.next().unwrap() {
            if matches!(record, Record::Alloc(_) | Record::Free(_)) {
                seen.push(format!("{record:?}"));
            }
        }
    }
    // THEN every event comes back, in order, with its address, size, thread and stack
    let expected = recorder.0.into_inner().unwrap();
    assert_eq!(seen.len(), expected.len());
    assert!(
        seen == expected,
        "first difference at {:?}",
        seen.iter().zip(&expected).position(|(a, b)| a != b)
    );
}

#[test]
fn a_capture_cut_anywhere_reads_up_to_its_last_complete_frame() {
    // GIVEN a complete capture of several frames
    let (_dir, path, (allocs, _)) = sample_capture(20_000);
    let bytes = std::fs::read(&path).unwrap();
    let full = count_records(&bytes).unwrap();
    assert_eq!(full.0, allocs);
    // WHEN it is cut at many points past its header (as SIGKILL leaves it)
    let header_end = 18 + u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
    let mut previous = 0;
    for cut in (header_end..bytes.len()).step_by(97) {
        let (got_allocs, _, _, ending) = count_records(&bytes[..cut]).unwrap();
        // THEN it reads a prefix, never more than the whole, and says it was cut
        assert!(got_allocs <= allocs);
        assert!(
            got_allocs >= previous,
            "a longer prefix never reads fewer events"
        );
        previous = got_allocs;
        assert!(matches!(ending, Ending::Cut { .. }), "{ending:?}");
    }
}

#[test]
fn a_capture_cut_inside_its_header_is_a_truncation_error() {
    let (_dir, path, _) = sample_capture(10);
    let bytes = std::fs::read(&path).unwrap();
    for cut in [9, 14, 20] {
        let err = CaptureReader::new(&bytes[..cut]).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Truncated, "{err}");
    }
}

#[test]
fn wrong_magic_and_newer_versions_say_what_is_wrong() {
    let (_dir, path, _) = sample_capture(10);
    let mut bytes = std::fs::read(&path).unwrap();
    let err = CaptureReader::new(&b"PK\x03\x04 not a capture"[..])
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::NotACapture);
    assert!(err.to_string().contains("not a memlens capture"));
    bytes[8] = 99;
    let err = CaptureReader::new(&bytes[..]).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::UnsupportedVersion);
    assert!(err.to_string().contains("version 99"), "{err}");
}

#[test]
fn version_1_captures_without_unmapped_ranges_are_still_read() {
    // GIVEN a capture written before the UNMAP op existed (its events are
    // encoded the same; only the header's version differs)
    let (_dir, path, (allocs, frees)) = sample_capture(2000);
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 2);
    bytes[8..10].copy_from_slice(&1u16.to_le_bytes());
    // WHEN it is read, THEN every record comes back
    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    let mut events = (0, 0);
    while let Some(block) = reader.next_block().unwrap() {
        let mut records = block.records().unwrap();
        while let Some(record) = records.next().unwrap() {
            match record {
                Record::Alloc(_) => events.0 += 1,
                Record::Free(_) => events.1 += 1,
                _ => {}
            }
        }
    }
    assert_eq!(events, (allocs, frees));
}

#[test]
fn a_flipped_byte_in_a_frame_is_a_checksum_error() {
    let (_dir, path, _) = sample_capture(5000);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    let err = count_records(&bytes).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(
        err.to_string().contains("checksum") || err.to_string().contains("frame"),
        "{err}"
    );
}

#[test]
fn a_writer_that_falls_behind_drops_and_counts_but_keeps_definitions() {
    // GIVEN a writer with room for one block and no patience
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropping.mlc");
    let options = WriterOptions {
        block_events: 200,
        queue_blocks: 1,
        wait_when_full: Duration::ZERO,
        zstd_level: 19,
        ..WriterOptions::default()
    };
    // WHEN events arrive faster than it writes
    let (allocs, frees) = synthetic::write_capture(&path, 50_000, options);
    // THEN every event is either in the file or counted as dropped, and the file replays
    let (got_allocs, got_frees, dropped, ending) =
        count_records(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(got_allocs + got_frees + dropped, allocs + frees);
    assert!(matches!(ending, Ending::Complete { dropped: d, .. } if d == dropped));
    Profile::load(&[path], &mut |_| {}).unwrap();
}

#[test]
fn peak_and_leaks_follow_the_live_blocks() {
    // GIVEN: site A allocates 100 and 50, site B allocates 200; A's 100 is
    // freed before B allocates; at exit B's block is freed
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peak.mlc");
    let writer =
        CaptureWriter::create(&path, &synthetic::header(Mode::Exact), small_blocks()).unwrap();
    writer.frame(
        FrameId(1),
        Frame {
            function: "a",
            filename: "m.py",
            line: 1,
        },
    );
    writer.frame(
        FrameId(2),
        Frame {
            function: "b",
            filename: "m.py",
            line: 2,
        },
    );
    writer.stack(StackId(1), None, FrameId(1));
    writer.stack(StackId(2), None, FrameId(2));
    let alloc = |address, size, stack| AllocEvent {
        address,
        size,
        allocator: Allocator::PyMem,
        domain: PYTHON_DOMAIN,
        thread: ThreadId(0),
        stack: StackId(stack),
    };
    let free = |address| FreeEvent {
        address,
        allocator: Allocator::PyMem,
        domain: PYTHON_DOMAIN,
    };
    writer.alloc(alloc(0x10, 100, 1));
    writer.alloc(alloc(0x20, 50, 1));
    writer.free(free(0x10));
    writer.alloc(alloc(0x30, 200, 2)); // peak: 250 = A 50 + B 200
    writer.free(free(0x30));
    writer.free(free(0x999)); // allocated before tracing: ignored
    writer.finish().unwrap();
    // WHEN it is replayed
    let profile = Profile::load(&[path], &mut |_| {}).unwrap();
    // THEN
    let totals = profile.totals();
    assert_eq!(totals.allocated_bytes, 350.0);
    assert_eq!(totals.allocations, 3.0);
    assert_eq!(totals.peak_bytes, 250.0);
    assert_eq!(totals.leaked_bytes, 50.0);
    let peak: Vec<_> = profile
        .sites(Metric::Peak)
        .into_iter()
        .map(|(l, a)| (profile.site_label(l), a.bytes))
        .collect();
    assert_eq!(
        peak,
        vec![
            ("b (m.py:2)".to_string(), 200.0),
            ("a (m.py:1)".to_string(), 50.0)
        ]
    );
    let leaks: Vec<_> = profile
        .sites(Metric::Leaks)
        .into_iter()
        .filter(|s| s.1.bytes > 0.0)
        .map(|(l, _)| profile.site_label(l))
        .collect();
    assert_eq!(leaks, vec!["a (m.py:1)".to_string()]);
}

/// Writes `events` (mmap allocations as (address, size, stack) and unmapped
/// ranges) after two stacks, and replays the capture.
fn replay_mappings(mode: Mode, events: &[(bool, u64, u64, u32)]) -> Profile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maps.mlc");
    let writer = CaptureWriter::create(&path, &synthetic::header(mode), small_blocks()).unwrap();
    for (id, function) in [(1, "a"), (2, "b")] {
        writer.frame(
            FrameId(id),
            Frame {
                function,
                filename: "m.py",
                line: id,
            },
        );
        writer.stack(StackId(id), None, FrameId(id));
    }
    for &(map, address, size, stack) in events {
        if map {
            writer.alloc(AllocEvent {
                address,
                size,
                allocator: Allocator::Mmap,
                domain: PYTHON_DOMAIN,
                thread: ThreadId(0),
                stack: StackId(stack),
            });
        } else {
            writer.unmap(UnmapEvent { address, size });
        }
    }
    writer.finish().unwrap();
    Profile::load(&[path], &mut |_| {}).unwrap()
}

fn leaked(profile: &Profile) -> Vec<(String, f64, f64)> {
    profile
        .sites(Metric::Leaks)
        .into_iter()
        .filter(|s| s.1.bytes > 0.0)
        .map(|(l, a)| (profile.site_label(l), a.bytes, a.count))
        .collect()
}

#[test]
fn unmapping_part_of_a_mapping_keeps_the_rest_live_at_its_site() {
    // GIVEN mappings cut in the middle, at the head, by one range across two
    // neighbours, replaced in part by a fixed mapping, and unmapped whole
    const K: u64 = 4096;
    let profile = replay_mappings(
        Mode::Exact,
        &[
            (true, 100 * K, 8 * K, 1),
            (false, 102 * K, 4 * K, 0), // a: 2 + 2 pages left
            (true, 200 * K, 4 * K, 1),
            (true, 204 * K, 4 * K, 2),
            (false, 203 * K, 2 * K, 0), // a: 3 pages left, b: 3 pages left
            (true, 300 * K, 4 * K, 1),
            (true, 300 * K, K, 2), // MAP_FIXED over a's first page
            (true, 400 * K, 4 * K, 2),
            (false, 400 * K, 4 * K, 0), // b's mapping goes entirely
            (false, 900 * K, 4 * K, 0), // covers nothing: ignored
        ],
    );
    // THEN what is left is live at the site that mapped it
    assert_eq!(
        leaked(&profile),
        vec![
            ("a (m.py:1)".to_string(), (4.0 + 3.0 + 3.0) * K as f64, 4.0),
            ("b (m.py:2)".to_string(), (3.0 + 1.0) * K as f64, 2.0),
        ]
    );
    assert_eq!(profile.totals().peak_bytes, 18.0 * K as f64);
    // AND only the mapping that went entirely counts as freed
    assert_eq!(profile.totals().frees, 1.0);
}

#[test]
fn a_sampled_mapping_cut_in_part_keeps_its_share_of_the_estimate() {
    // GIVEN a sampled 100-page mapping of which 75 pages are unmapped
    let mean = 1 << 20;
    let profile = replay_mappings(
        Mode::Sampled {
            mean_interval: mean,
        },
        &[(true, 1 << 30, 100 << 12, 1), (false, 1 << 30, 75 << 12, 0)],
    );
    // THEN the rest stands for a quarter of the mapping's estimate
    let p = 1.0 - (-((100u64 << 12) as f64) / mean as f64).exp();
    let left = leaked(&profile);
    assert_eq!(left.len(), 1);
    assert!(
        (left[0].1 - (25u64 << 12) as f64 / p).abs() < 1e-3,
        "{left:?}"
    );
}

#[test]
fn sampled_captures_are_weighted_to_unbiased_estimates() {
    // GIVEN a sampled capture (mean interval 1000 bytes) holding one 10-byte sample
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sampled.mlc");
    let writer = CaptureWriter::create(
        &path,
        &synthetic::header(Mode::Sampled {
            mean_interval: 1000,
        }),
        small_blocks(),
    )
    .unwrap();
    writer.alloc(AllocEvent {
        address: 1,
        size: 10,
        allocator: Allocator::PyObject,
        domain: PYTHON_DOMAIN,
        thread: ThreadId(0),
        stack: StackId::EMPTY,
    });
    writer.finish().unwrap();
    // WHEN replayed, THEN it stands for 1/p blocks of its size, p = 1 - exp(-10/1000)
    let profile = Profile::load(&[path], &mut |_| {}).unwrap();
    let p = 1.0 - (-10.0f64 / 1000.0).exp();
    assert!(profile.is_sampled());
    assert!((profile.totals().allocations - 1.0 / p).abs() < 1e-6);
    assert!((profile.totals().allocated_bytes - 10.0 / p).abs() < 1e-6);
}

#[test]
fn a_sampled_site_whose_blocks_are_all_freed_is_not_a_leak() {
    // GIVEN a sampled capture where one site allocates blocks of many sizes
    // and frees them in another order (estimates are fractional weights)
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sampled.mlc");
    let writer = CaptureWriter::create(
        &path,
        &synthetic::header(Mode::Sampled {
            mean_interval: 512 * 1024,
        }),
        small_blocks(),
    )
    .unwrap();
    let sizes: Vec<u64> = (0..500u64).map(|i| 16 + (i * 7919) % 5000).collect();
    for (i, size) in sizes.iter().enumerate() {
        writer.alloc(AllocEvent {
            address: 1000 + i as u64 * 8192,
            size: *size,
            allocator: Allocator::PyObject,
            domain: PYTHON_DOMAIN,
            thread: ThreadId(0),
            stack: StackId::EMPTY,
        });
    }
    for i in (0..sizes.len())
        .rev()
        .step_by(2)
        .chain((0..sizes.len()).rev().skip(1).step_by(2))
    {
        writer.free(FreeEvent {
            address: 1000 + i as u64 * 8192,
            allocator: Allocator::PyRaw,
            domain: PYTHON_DOMAIN,
        });
    }
    writer.finish().unwrap();
    // WHEN replayed, THEN nothing is left live there: not even a rounding residue
    let profile = Profile::load(&[path], &mut |_| {}).unwrap();
    assert!(
        profile.sites(Metric::Leaks).is_empty(),
        "{:?}",
        profile.sites(Metric::Leaks)
    );
}

#[test]
fn an_allocation_on_an_unannounced_stack_is_a_corrupt_capture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.mlc");
    let writer =
        CaptureWriter::create(&path, &synthetic::header(Mode::Exact), small_blocks()).unwrap();
    writer.alloc(AllocEvent {
        address: 1,
        size: 10,
        allocator: Allocator::PyObject,
        domain: PYTHON_DOMAIN,
        thread: ThreadId(0),
        stack: StackId(77),
    });
    writer.finish().unwrap();
    let err = Profile::load(&[path], &mut |_| {}).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(err.to_string().contains("unknown stack 77"), "{err}");
}

/// Bytes per allocation event on the synthetic stream; the real figure is
/// measured on the reference workload (README).
#[test]
fn synthetic_churn_compresses_below_half_a_byte_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("size.mlc");
    let (allocs, frees) = synthetic::write_capture(&path, 300_000, WriterOptions::default());
    let size = std::fs::metadata(&path).unwrap().len() as f64;
    let per_alloc = size / allocs as f64;
    eprintln!("{allocs} allocs, {frees} frees: {size} bytes, {per_alloc:.3} bytes per allocation");
    assert!(per_alloc < 0.5);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// The reader (and the replay) never panics on mutated or cut input.
    #[test]
    fn mutated_captures_never_panic(
        cut in 0usize..6000,
        flips in proptest::collection::vec((0usize..6000, any::<u8>()), 0..6),
    ) {
        static SAMPLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let sample = SAMPLE.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("sample.mlc");
            synthetic::write_capture_with_mappings(&path, 3000);
            std::fs::read(path).unwrap()
        });
        let mut bytes = sample.clone();
        for (at, value) in flips {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= value;
            }
        }
        bytes.truncate(cut.min(bytes.len()));
        let _ = count_records(&bytes);
        if let Ok(reader) = CaptureReader::new(&bytes[..]) {
            let mut profile_bytes = Vec::new();
            profile_bytes.extend_from_slice(&bytes);
            let _ = replay(reader);
        }
    }

    /// Block payloads that pass the checksum but hold garbage are errors, not panics.
    #[test]
    fn garbage_blocks_with_valid_checksums_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (_dir, path, _) = sample_capture(0);
        let mut bytes = std::fs::read(&path).unwrap();
        let header_end = 18 + u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
        bytes.truncate(header_end);
        let compressed = zstd_frame(&payload);
        bytes.extend_from_slice(&compressed);
        let _ = count_records(&bytes);
        if let Ok(reader) = CaptureReader::new(&bytes[..]) {
            let _ = replay(reader);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// A block that passes its checksum but whose content was altered
    /// (bytes changed, cut or extended) is an error or a consistent replay,
    /// never a panic.
    #[test]
    fn altered_block_contents_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        static SAMPLE: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
        let (head, raw) = SAMPLE.get_or_init(|| {
            let (_dir, path, _) = sample_capture(300);
            let bytes = std::fs::read(path).unwrap();
            let header_end = 18 + u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
            let stored = u32::from_le_bytes(bytes[header_end + 1..header_end + 5].try_into().unwrap()) as usize;
            let payload = &bytes[header_end + 13..header_end + 13 + stored];
            (bytes[..header_end].to_vec(), zstd::bulk::decompress(payload, 1 << 24).unwrap())
        });
        let mut raw = raw.clone();
        for (at, value) in flips {
            let i = at % raw.len();
            raw[i] ^= value | 1;
        }
        if let Some(cut) = cut {
            raw.truncate(cut % (raw.len() + 1));
        }
        let mut bytes = head.clone();
        bytes.extend_from_slice(&zstd_frame(&raw));
        let _ = count_records(&bytes);
        if let Ok(reader) = CaptureReader::new(&bytes[..]) {
            let _ = replay(reader);
        }
    }
}

fn replay(reader: CaptureReader<&[u8]>) -> memlens_trace::Result<()> {
    let mut profile = Profile::load(&[], &mut |_| {})?;
    profile.add_capture("fuzz.mlc".as_ref(), reader, &mut |_| {})?;
    Ok(())
}

/// An events frame with a valid checksum around `payload`.
fn zstd_frame(payload: &[u8]) -> Vec<u8> {
    let compressed = zstd::bulk::compress(payload, 1).unwrap();
    let mut frame = vec![1u8];
    frame.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&frame), &compressed);
    frame.extend_from_slice(&crc.to_le_bytes());
    frame.extend_from_slice(&compressed);
    frame
}

/// An alloc or free read back (owned, unlike [`Record`]).
#[derive(Debug)]
enum Event {
    Alloc(AllocEvent),
    Free(FreeEvent),
}

/// Every alloc and free record of a capture, in file order.
fn events_of(path: &std::path::Path) -> Vec<Event> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    let mut seen = Vec::new();
    while let Some(block) = reader.next_block().unwrap() {
        let mut records = block.records().unwrap();
        while let Some(record) = records.next().unwrap() {
            match record {
                Record::Alloc(a) => seen.push(Event::Alloc(a)),
                Record::Free(f) => seen.push(Event::Free(f)),
                _ => {}
            }
        }
    }
    seen
}

#[test]
fn serialized_and_plain_calls_interleaved_on_one_thread_keep_their_order() {
    // GIVEN a writer fed by one thread alternating between the two paths,
    // with far more events than the ring holds
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.mlc");
    let writer =
        CaptureWriter::create(&path, &synthetic::header(Mode::Exact), small_blocks()).unwrap();
    synthetic::announce_sites(&*writer, 1);
    let mut expected = Vec::new();
    for i in 0..30_000u64 {
        let alloc = AllocEvent {
            address: 0x10_000 + 16 * (i % 97),
            size: i,
            allocator: Allocator::PyObject,
            domain: if i % 11 == 0 { 5 } else { PYTHON_DOMAIN },
            thread: ThreadId(0),
            stack: StackId(1),
        };
        let free = FreeEvent {
            address: alloc.address,
            allocator: alloc.allocator,
            domain: alloc.domain,
        };
        // WHEN runs of serialized calls alternate with plain ones
        if (i / 1000) % 2 == 0 || i % 7 == 0 {
            writer.alloc_serialized(alloc);
            writer.free_serialized(free);
        } else {
            writer.alloc(alloc);
            writer.free(free);
        }
        expected.push(format!("{:?}", Record::Alloc(alloc)));
        expected.push(format!("{:?}", Record::Free(free)));
    }
    let stats = writer.finish().unwrap();
    // THEN the capture holds every event in call order
    let seen: Vec<String> = events_of(&path).iter().map(|r| format!("{r:?}")).collect();
    assert_eq!(stats.events, 60_000);
    assert!(
        seen == expected,
        "first difference at {:?}",
        seen.iter().zip(&expected).position(|(a, b)| a != b)
    );
}

#[test]
fn a_block_handed_between_a_serialized_and_a_plain_thread_is_freed_after_its_allocation() {
    // GIVEN a "GIL holder" thread using the serialized path and a "GIL-less"
    // thread using the plain one, each freeing the blocks the other allocated
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handoff.mlc");
    let writer =
        CaptureWriter::create(&path, &synthetic::header(Mode::Exact), small_blocks()).unwrap();
    synthetic::announce_sites(&*writer, 1);
    writer.thread(ThreadId(1), "no-gil");
    let (to_plain, from_serial) = std::sync::mpsc::channel::<u64>();
    let (to_serial, from_plain) = std::sync::mpsc::channel::<u64>();
    let n = 50_000u64;
    let event = |address, thread| AllocEvent {
        address,
        size: 32,
        allocator: Allocator::PyRaw,
        domain: PYTHON_DOMAIN,
        thread: ThreadId(thread),
        stack: StackId(1),
    };
    let free = |address| FreeEvent {
        address,
        allocator: Allocator::PyRaw,
        domain: PYTHON_DOMAIN,
    };
    // WHEN each allocates, hands the address over, and frees what it receives
    std::thread::scope(|scope| {
        let serial = &writer;
        scope.spawn(move || {
            for i in 0..n {
                let address = 0x1000_0000 + 16 * i;
                serial.alloc_serialized(event(address, 0));
                to_plain.send(address).unwrap();
                if let Ok(theirs) = from_plain.try_recv() {
                    serial.free_serialized(free(theirs));
                }
            }
            drop(to_plain);
            for theirs in from_plain {
                serial.free_serialized(free(theirs));
            }
        });
        let plain = &writer;
        scope.spawn(move || {
            for (i, mine) in from_serial.into_iter().enumerate() {
                plain.free(free(mine));
                let address = 0x2000_0000 + 16 * i as u64;
                plain.alloc(event(address, 1));
                to_serial.send(address).unwrap();
            }
        });
    });
    writer.finish().unwrap();
    // THEN every free comes after its block's allocation, and none is lost
    let mut live = std::collections::HashSet::new();
    let (mut allocs, mut frees) = (0, 0);
    for record in events_of(&path) {
        match record {
            Event::Alloc(a) => {
                assert!(live.insert(a.address), "{:#x} allocated twice", a.address);
                allocs += 1;
            }
            Event::Free(f) => {
                assert!(
                    live.remove(&f.address),
                    "{:#x} freed before its allocation",
                    f.address
                );
                frees += 1;
            }
        }
    }
    assert_eq!((allocs, frees), (2 * n, 2 * n));
    assert!(live.is_empty());
}

#[test]
fn a_thread_announced_again_keeps_its_later_name() {
    // GIVEN a capture where a thread is first seen by its OS name, then renamed
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renamed.mlc");
    let writer =
        CaptureWriter::create(&path, &synthetic::header(Mode::Exact), small_blocks()).unwrap();
    writer.thread(ThreadId(0), "python");
    writer.thread(ThreadId(1), "python");
    writer.thread(ThreadId(1), "worker-1");
    writer.finish().unwrap();
    // WHEN it is loaded
    let profile = Profile::load(&[path], &mut |_| {}).unwrap();
    // THEN each thread is listed once, under its latest name
    assert_eq!(
        profile.processes()[0].threads,
        vec![(0, "python".to_string()), (1, "worker-1".to_string())]
    );
}

//! The block decoder and the replay behind the reports: the input, cut at
//! each `0xFF 0x00` pair, becomes the decompressed payloads of events frames
//! wrapped in a valid envelope (header, lengths, zstd, checksums), so the
//! fuzzer's bytes reach the column decoder instead of a checksum error.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use memlens_trace::format::{Header, Mode};
use memlens_trace::writer::{CaptureWriter, WriterOptions};

#[path = "common.rs"]
mod common;

/// The magic, version and header of a real capture, written once.
fn head() -> &'static [u8] {
    static HEAD: OnceLock<Vec<u8>> = OnceLock::new();
    HEAD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.mlc");
        let header = Header {
            python_version: "3.11.7".into(),
            pid: 1,
            ppid: 0,
            argv: vec!["fuzz.py".into()],
            mode: Mode::Exact,
            max_frames: 8,
            native: false,
            start_unix_ns: 0,
        };
        let writer = CaptureWriter::create(&path, &header, WriterOptions::default()).unwrap();
        writer.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
        bytes[..18 + header_len].to_vec()
    })
}

fn events_frame(payload: &[u8], out: &mut Vec<u8>) {
    let compressed = zstd::bulk::compress(payload, 1).unwrap();
    let start = out.len();
    out.push(1);
    out.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out[start..]), &compressed);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&compressed);
}

fuzz_target!(|data: &[u8]| {
    let mut file = head().to_vec();
    let mut rest = data;
    loop {
        let cut = rest.windows(2).position(|w| w == [0xFF, 0x00]);
        let (payload, next) = match cut {
            Some(at) => (&rest[..at], Some(&rest[at + 2..])),
            None => (rest, None),
        };
        events_frame(payload, &mut file);
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    common::read_and_report(&file);
});

//! Where a capture's bytes go, and what the writer costs per event:
//!
//! ```sh
//! cargo run --release -p memlens-trace --example capture_anatomy -- app.mlc [MAX_EVENTS]
//! ```
//!
//! Reads up to MAX_EVENTS events (default 10 million) into memory, prints the
//! compressed size of each column, then writes them again through
//! [`CaptureWriter`] at several zstd levels and prints the time per event
//! and the bytes per event of each.

use std::time::Instant;

use memlens_trace::events::*;
use memlens_trace::format::Mode;
use memlens_trace::reader::{CaptureReader, Record};
use memlens_trace::writer::{CaptureWriter, WriterOptions};

enum Owned {
    Frame(u32, String, String, u32),
    Stack(u32, Option<u32>, u32),
    Alloc(AllocEvent),
    Free(FreeEvent),
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(
        args.next()
            .ok_or("usage: capture_anatomy FILE [MAX_EVENTS]")?,
    );
    let max: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000_000);
    let mut reader = CaptureReader::open(&path)?;
    let header = reader.header().clone();
    let mut events = Vec::new();
    let mut count = 0u64;
    let mut columns: Vec<(&'static str, usize, usize)> = Vec::new();
    'blocks: while let Some(block) = reader.next_block()? {
        for (i, (name, bytes)) in block.columns()?.into_iter().enumerate() {
            if columns.len() <= i {
                columns.push((name, 0, 0));
            }
            columns[i].1 += bytes.len();
            columns[i].2 += zstd::bulk::compress(bytes, 3)?.len();
        }
        let mut records = block.records()?;
        while let Some(record) = records.next()? {
            match record {
                Record::Frame { id, frame } => events.push(Owned::Frame(
                    id.0,
                    frame.function.into(),
                    frame.filename.into(),
                    frame.line,
                )),
                Record::Stack { id, parent, frame } => {
                    events.push(Owned::Stack(id.0, parent.map(|p| p.0), frame.0))
                }
                Record::Alloc(a) => {
                    events.push(Owned::Alloc(a));
                    count += 1;
                }
                Record::Free(f) => {
                    events.push(Owned::Free(f));
                    count += 1;
                }
                _ => {}
            }
            if count >= max {
                break 'blocks;
            }
        }
    }
    let allocs = events
        .iter()
        .filter(|e| matches!(e, Owned::Alloc(_)))
        .count();
    println!(
        "{}: {count} events ({allocs} allocations), mode {:?}",
        path.display(),
        header.mode
    );
    for (name, raw, compressed) in &columns {
        println!(
            "  {name:<12} raw {:.3} B/event, alone with zstd 3: {:.3} B/event",
            *raw as f64 / count as f64,
            *compressed as f64 / count as f64
        );
    }
    let dir = std::env::temp_dir();
    for level in [1, 3, 6] {
        let out = dir.join(format!("anatomy-{}-{level}.mlc", std::process::id()));
        let options = WriterOptions {
            zstd_level: level,
            ..WriterOptions::default()
        };
        let header = memlens_trace::format::Header {
            mode: Mode::Exact,
            ..header.clone()
        };
        let started = Instant::now();
        let writer = CaptureWriter::create(&out, &header, options)?;
        for event in &events {
            match event {
                Owned::Frame(id, function, filename, line) => writer.frame(
                    FrameId(*id),
                    Frame {
                        function,
                        filename,
                        line: *line,
                    },
                ),
                Owned::Stack(id, parent, frame) => {
                    writer.stack(StackId(*id), parent.map(StackId), FrameId(*frame))
                }
                Owned::Alloc(a) => writer.alloc(*a),
                Owned::Free(f) => writer.free(*f),
            }
        }
        let stats = writer.finish()?;
        let elapsed = started.elapsed();
        println!(
            "zstd level {level}: {:.1} ns per event (wall, writer thread included), {:.3} bytes per event, {:.3} per allocation",
            elapsed.as_nanos() as f64 / count as f64,
            stats.file_bytes as f64 / count as f64,
            stats.file_bytes as f64 / allocs as f64
        );
        let _ = std::fs::remove_file(out);
    }
    Ok(())
}

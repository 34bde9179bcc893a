//! Writes a synthetic capture shaped like a Python program's, to try the
//! reports on large inputs without running Python:
//!
//! ```sh
//! cargo run --release -p memlens-trace --example synthetic_capture -- big.mlc 20000000
//! ```
//!
//! A few hundred functions call each other up to twelve deep; each
//! iteration allocates a dozen blocks from its own call stack, frees most of
//! them soon, and keeps a few (a cache that grows).

use std::path::PathBuf;

use memlens_trace::events::*;
use memlens_trace::format::Mode;
use memlens_trace::writer::{CaptureWriter, WriterOptions};

#[path = "../tests/synthetic/mod.rs"]
mod synthetic;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .ok_or("usage: synthetic_capture OUT.mlc [EVENTS]")?,
    );
    let events: u64 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let mut header = synthetic::header(Mode::Exact);
    header.pid = std::process::id();
    header.argv = vec!["synthetic.py".into(), events.to_string()];
    header.max_frames = 16;
    let writer = CaptureWriter::create(&path, &header, WriterOptions::default())?;
    writer.thread(ThreadId(0), "MainThread");
    let modules = [
        "app.py",
        "models.py",
        "db/query.py",
        "util/text.py",
        "cache.py",
        "io/reader.py",
    ];
    let verbs = [
        "load", "parse", "build", "render", "fetch", "merge", "encode", "split", "index", "format",
    ];
    let nouns = [
        "rows", "user", "order", "cache", "page", "token", "record", "batch", "frame", "item",
    ];
    let mut rng = synthetic::Rng::new(0x9e37_79b9_7f4a_7c15);
    let functions = 300u32;
    for f in 0..functions {
        let name = format!(
            "{}_{}",
            verbs[(f % 10) as usize],
            nouns[((f / 10) % 10) as usize]
        );
        let file = modules[(f % 6) as usize];
        writer.frame(
            FrameId(f + 1),
            Frame {
                function: &name,
                filename: file,
                line: 10 + f % 200,
            },
        );
    }
    // Stacks: a random tree of 3000 call chains.
    let mut depth = vec![0u32];
    writer.stack(StackId(1), None, FrameId(1));
    depth.push(1);
    let stacks = 3000u32;
    for s in 2..=stacks {
        let parent = 1 + rng.below(u64::from(s - 1)) as u32;
        let parent = if depth[parent as usize] >= 12 {
            1
        } else {
            parent
        };
        writer.stack(
            StackId(s),
            Some(StackId(parent)),
            FrameId(1 + rng.below(u64::from(functions)) as u32),
        );
        depth.push(depth[parent as usize] + 1);
    }
    // Each iteration allocates a dozen blocks from stacks spread over the tree.
    let stack_of = |i: u64, k: usize| {
        let base = 1 + (i * 7919) % u64::from(stacks);
        StackId((1 + (base + k as u64 * 13) % u64::from(stacks)) as u32)
    };
    synthetic::churn_with(&*writer, events / 2, 7, 500, stack_of);
    let stats = writer.finish()?;
    eprintln!(
        "{}: {} events, {} bytes ({:.3} bytes per event)",
        path.display(),
        stats.events,
        stats.file_bytes,
        stats.file_bytes as f64 / stats.events as f64
    );
    Ok(())
}

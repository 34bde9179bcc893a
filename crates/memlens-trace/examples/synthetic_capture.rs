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
use memlens_trace::format::{Header, Mode};
use memlens_trace::writer::{CaptureWriter, WriterOptions};

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

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
    let header = Header {
        python_version: "3.11.7".into(),
        pid: std::process::id(),
        ppid: 1,
        argv: vec!["synthetic.py".into(), events.to_string()],
        mode: Mode::Exact,
        max_frames: 16,
        native: false,
        start_unix_ns: 0,
    };
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
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
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
    let mut free_slots: Vec<Vec<u64>> = vec![Vec::new(); 64];
    let mut next = 0x7f00_0000_0000u64;
    let mut written = 0u64;
    let mut iteration = 0u64;
    while written < events {
        let base = 1 + (iteration * 7919) % u64::from(stacks);
        let mut live = Vec::new();
        for k in 0..12u64 {
            let size = 16 + ((k * 24 + iteration % 17) % 480);
            let class = (size / 16) as usize;
            let address = free_slots[class].pop().unwrap_or_else(|| {
                next += 512;
                next
            });
            let stack = StackId((1 + (base + k * 13) % u64::from(stacks)) as u32);
            writer.alloc(AllocEvent {
                address,
                size,
                allocator: Allocator::PyObject,
                domain: PYTHON_DOMAIN,
                thread: ThreadId(0),
                stack,
            });
            live.push((address, class));
        }
        written += 12;
        if iteration % 500 == 0 {
            live.pop();
        }
        for (address, class) in live {
            writer.free(FreeEvent {
                address,
                allocator: Allocator::PyObject,
                domain: PYTHON_DOMAIN,
            });
            free_slots[class].push(address);
            written += 1;
        }
        iteration += 1;
    }
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

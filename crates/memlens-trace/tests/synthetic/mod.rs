//! Synthetic event streams shaped like a Python program's: a few hundred
//! call sites, small blocks reused LIFO per size class the way pymalloc
//! reuses them, most blocks freed soon after, one in a thousand kept.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use memlens_trace::events::*;
use memlens_trace::format::{Header, Mode};
use memlens_trace::writer::{CaptureWriter, WriterOptions};

pub fn header(mode: Mode) -> Header {
    Header {
        python_version: "3.11.7".into(),
        pid: 4242,
        ppid: 1,
        argv: vec!["workload.py".into(), "100".into()],
        mode,
        max_frames: 1,
        native: false,
        start_unix_ns: 1_764_000_000_000_000_000,
    }
}

/// A tiny deterministic generator (xorshift).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Announces `sites` call sites, two frames deep, on `sink`.
pub fn announce_sites(sink: &dyn EventSink, sites: u32) {
    sink.thread(ThreadId(0), "MainThread");
    sink.frame(
        FrameId(1),
        Frame {
            function: "main",
            filename: "workload.py",
            line: 40,
        },
    );
    sink.stack(StackId(1), None, FrameId(1));
    for i in 0..sites {
        sink.frame(
            FrameId(2 + i),
            Frame {
                function: "make",
                filename: "workload.py",
                line: 10 + i,
            },
        );
        sink.stack(StackId(2 + i), Some(StackId(1)), FrameId(2 + i));
    }
}

/// Emits about `n` allocations the way a loop body does: each iteration
/// allocates the same dozen blocks from the same sites (one size varies),
/// frees them, and keeps one in a thousand. Returns (alloc events, free events).
pub fn churn(sink: &dyn EventSink, n: u64, sites: u32, seed: u64) -> (u64, u64) {
    churn_with(sink, n, seed, 1000, |_, k| {
        StackId(2 + (k as u32 * 7) % sites)
    })
}

/// [`churn`] with the stack of block `k` of iteration `i` chosen by
/// `stack_of`, keeping one block in `keep_every` iterations.
pub fn churn_with(
    sink: &dyn EventSink,
    n: u64,
    seed: u64,
    keep_every: u64,
    mut stack_of: impl FnMut(u64, usize) -> StackId,
) -> (u64, u64) {
    let mut rng = Rng::new(seed);
    let sizes: Vec<u64> = (0..12).map(|_| 16 + (rng.below(12) * 8)).collect();
    let mut free_slots: Vec<Vec<u64>> = vec![Vec::new(); 4096];
    let mut next_addr: u64 = 0x7f00_0000_0000;
    let (mut allocs, mut frees) = (0, 0);
    let mut i = 0;
    while allocs < n {
        let mut live = Vec::with_capacity(sizes.len());
        for (k, &size) in sizes.iter().enumerate() {
            let size = if k == 3 { size + i % 17 } else { size };
            let class = (size / 16) as usize;
            let address = free_slots[class].pop().unwrap_or_else(|| {
                next_addr += 64;
                next_addr
            });
            sink.alloc(AllocEvent {
                address,
                size,
                allocator: Allocator::PyObject,
                domain: PYTHON_DOMAIN,
                thread: ThreadId(0),
                stack: stack_of(i, k),
            });
            allocs += 1;
            live.push((address, class));
        }
        if i % keep_every == 0 {
            live.swap_remove(0);
        }
        for (address, class) in live.into_iter().rev() {
            sink.free(FreeEvent {
                address,
                allocator: Allocator::PyObject,
                domain: PYTHON_DOMAIN,
            });
            free_slots[class].push(address);
            frees += 1;
        }
        i += 1;
    }
    (allocs, frees)
}

/// Writes a complete synthetic capture to `path`.
pub fn write_capture(path: &Path, n: u64, options: WriterOptions) -> (u64, u64) {
    let writer: Arc<CaptureWriter> =
        CaptureWriter::create(path, &header(Mode::Exact), options).unwrap();
    announce_sites(&*writer, 50);
    let counts = churn(&*writer, n, 50, 7);
    writer.finish().unwrap();
    counts
}

/// [`write_capture`] followed by anonymous mappings, some unmapped whole,
/// some in part (so that readers of the sample meet every kind of op).
#[allow(dead_code)]
pub fn write_capture_with_mappings(path: &Path, n: u64) -> (u64, u64) {
    let writer: Arc<CaptureWriter> =
        CaptureWriter::create(path, &header(Mode::Exact), WriterOptions::default()).unwrap();
    announce_sites(&*writer, 50);
    let counts = churn(&*writer, n, 50, 7);
    let page = 4096;
    for i in 0..8u64 {
        let address = 0x7e00_0000_0000 + i * 64 * page;
        writer.alloc(AllocEvent {
            address,
            size: 16 * page,
            allocator: Allocator::Mmap,
            domain: PYTHON_DOMAIN,
            thread: ThreadId(0),
            stack: StackId(2 + i as u32),
        });
        writer.unmap(UnmapEvent {
            address: address + (i % 3) * 4 * page,
            size: (i + 1) * 2 * page,
        });
    }
    writer.finish().unwrap();
    (counts.0 + 8, counts.1)
}

//! The streaming capture writer: an [`EventSink`] that encodes events into
//! blocks and hands full blocks to a background thread, which compresses and
//! writes them.
//!
//! Memory is bounded: at most [`WriterOptions::queue_blocks`] sealed blocks
//! wait for the writer thread. When the queue is full the allocating thread
//! waits up to [`WriterOptions::wait_when_full`]; if the writer is still
//! behind, the block's events are dropped and counted (its stack and frame
//! definitions are kept), and the capture records how many were lost.
//!
//! Two ways in, one order out. Events are encoded into the block under one
//! mutex, so that the file keeps the order in which blocks were allocated
//! and freed across threads (a free must follow its allocation). Callers
//! that are serialized with one another (the hooks of threads holding the
//! GIL) use [`EventSink::alloc_serialized`] and
//! [`EventSink::free_serialized`] instead: they append a fixed-size record to
//! a single-producer ring without taking the mutex (a few plain stores and
//! one release store). Whoever takes the mutex next (a full ring's producer,
//! a caller of the plain methods, the writer thread every tick, `finish`)
//! first moves the ring's records into the block, in order, then adds its own
//! work. So:
//!
//! - a record published to the ring before a plain call starts (e.g. the
//!   allocation, under the GIL, of a block that a thread without the GIL then
//!   frees) is encoded before that call's event, since the plain call drains
//!   the ring after taking the mutex;
//! - a plain event (e.g. a GIL-less allocation) is encoded before returning,
//!   so every ring record pushed after it (its free under the GIL) is drained
//!   after it.
//!
//! Within each path, order is the order of the calls; between the paths it
//! follows the happens-before order of the calls, which is all that a free
//! following its allocation needs.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::events::{
    AllocEvent, Allocator, EventSink, Frame, FrameId, FreeEvent, StackId, ThreadId, UnmapEvent,
    NUMPY_DOMAIN, PYTHON_DOMAIN,
};
use crate::format::{self, def, op, put_str, put_varint, AddressCoder, Header};

/// Longest function or file name stored; longer ones are cut (on a UTF-8 boundary).
const MAX_NAME_BYTES: usize = 4096;

/// Incremented in a forked child: every writer created before the fork
/// belongs to the parent and goes quiet in the child.
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

/// Tells every existing writer that this process is a fork child: they stop
/// recording (their file and thread belong to the parent) and their `Drop`
/// does nothing. Call it first thing in the child (a `pthread_atfork` child
/// handler), then start a new writer for the child's own file.
pub fn note_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Tuning for [`CaptureWriter`]; the defaults suit a traced Python program.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Events per block before it is sealed and handed to the writer thread.
    pub block_events: u32,
    /// Sealed blocks that may wait for the writer thread.
    pub queue_blocks: usize,
    /// How long an allocating thread waits for room before dropping a block.
    pub wait_when_full: Duration,
    /// Interval of the memory-over-time ticks.
    pub tick: Duration,
    /// A block holding events is written at least this often, so a killed
    /// process loses at most this much.
    pub flush_every: Duration,
    /// zstd compression level.
    pub zstd_level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            block_events: 256 * 1024,
            queue_blocks: 8,
            wait_when_full: Duration::from_millis(200),
            tick: Duration::from_millis(10),
            flush_every: Duration::from_millis(250),
            zstd_level: 3,
        }
    }
}

/// What a finished capture holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Allocation and free events written.
    pub events: u64,
    /// Events dropped because the writer fell behind.
    pub dropped: u64,
    /// Bytes in the file.
    pub file_bytes: u64,
}

/// Columns of the block being filled.
#[derive(Default)]
struct Block {
    defs: Vec<u8>,
    ops: Vec<u8>,
    addrs: Vec<u8>,
    sizes: Vec<u8>,
    stacks: Vec<u8>,
    misc: Vec<u8>,
    n_ops: u64,
    events: u64,
    end_ns: u64,
}

impl Block {
    /// Empties the columns, keeping their buffers.
    fn clear(&mut self) {
        for column in [
            &mut self.defs,
            &mut self.ops,
            &mut self.addrs,
            &mut self.sizes,
            &mut self.stacks,
            &mut self.misc,
        ] {
            column.clear();
        }
        self.n_ops = 0;
        self.events = 0;
        self.end_ns = 0;
    }

    fn is_empty(&self) -> bool {
        self.n_ops == 0 && self.defs.is_empty()
    }

    /// Appends an alloc or free op: `plain` when the block is in its
    /// allocator's default domain, else `in_domain` with the domain.
    #[inline(always)]
    fn push_op(&mut self, plain: u8, in_domain: u8, allocator: Allocator, domain: u32) {
        if domain == default_domain(allocator) {
            self.ops.push(plain | allocator as u8);
        } else {
            self.ops.push(in_domain | allocator as u8);
            put_varint(&mut self.misc, u64::from(domain));
        }
        self.n_ops += 1;
    }

    fn raw_bytes(&self) -> usize {
        self.defs.len()
            + self.ops.len()
            + self.addrs.len()
            + self.sizes.len()
            + self.stacks.len()
            + self.misc.len()
    }

    /// The payload of an events frame (see [`crate::format`]), written into
    /// `out` (emptied first; the writer thread reuses one buffer).
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.raw_bytes() + 64);
        put_varint(out, self.end_ns);
        put_varint(out, self.defs.len() as u64);
        out.extend_from_slice(&self.defs);
        put_varint(out, self.n_ops);
        for column in [
            &self.ops,
            &self.addrs,
            &self.sizes,
            &self.stacks,
            &self.misc,
        ] {
            put_varint(out, column.len() as u64);
            out.extend_from_slice(column);
        }
    }
}

struct Encoder {
    block: Block,
    addresses: AddressCoder,
    last_thread: Option<u32>,
    last_tick: Instant,
    last_seal: Instant,
    closed: bool,
}

impl Encoder {
    #[inline(always)]
    fn switch_thread(&mut self, thread: ThreadId) {
        if self.last_thread != Some(thread.0) {
            self.block.ops.push(op::SWITCH_THREAD);
            put_varint(&mut self.block.misc, u64::from(thread.0));
            self.block.n_ops += 1;
            self.last_thread = Some(thread.0);
        }
    }

    #[inline(always)]
    fn alloc(&mut self, event: &AllocEvent) {
        self.switch_thread(event.thread);
        let block = &mut self.block;
        block.push_op(
            op::ALLOC,
            op::ALLOC_IN_DOMAIN,
            event.allocator,
            event.domain,
        );
        self.addresses.encode_alloc(&mut block.addrs, event.address);
        put_varint(&mut block.sizes, event.size);
        put_varint(&mut block.stacks, u64::from(event.stack.0));
    }

    #[inline(always)]
    fn free(&mut self, event: &FreeEvent) {
        let block = &mut self.block;
        block.push_op(op::FREE, op::FREE_IN_DOMAIN, event.allocator, event.domain);
        self.addresses.encode_free(&mut block.addrs, event.address);
    }

    #[inline]
    fn unmap(&mut self, event: &UnmapEvent) {
        let block = &mut self.block;
        block.ops.push(op::UNMAP);
        block.n_ops += 1;
        self.addresses.encode_free(&mut block.addrs, event.address);
        put_varint(&mut block.sizes, event.size);
    }

    /// Takes the filled block; the next one starts from a clean state so
    /// that each block decodes on its own.
    fn take(&mut self, end_ns: u64, spare: Option<Block>) -> Block {
        let mut block = std::mem::replace(&mut self.block, spare.unwrap_or_default());
        block.end_ns = end_ns;
        self.addresses = AddressCoder::default();
        self.last_thread = None;
        block
    }
}

/// Records in the serialized callers' ring: 32 KiB, small enough to stay
/// in the producing core's caches between drains, large enough that the
/// mutex taken to drain a full ring costs nothing per event.
const RING_RECORDS: usize = 1024;
const RING_MASK: usize = RING_RECORDS - 1;
const _: () = assert!(RING_RECORDS.is_power_of_two());

/// Record tag: an allocation (else a free).
const RECORD_ALLOC: u64 = 1 << 8;

/// A counter on its own cache line, so that the producer's stores to `tail`
/// do not invalidate the line holding `head` that consumers write.
#[repr(align(64))]
struct Padded(AtomicUsize);

/// The ring of [`EventSink::alloc_serialized`] and
/// [`EventSink::free_serialized`] records. One producer at a time (the
/// serialized callers) writes records and then publishes them by storing
/// `tail` (release); consumers, only ever holding [`Inner::encoder`], read
/// the records up to `tail` (acquire) and free the slots by storing `head`.
/// All fields are atomics, so this is sound whatever the callers do; the
/// serialization promise is only needed for the events to come out right.
struct Ring {
    /// Records of four words: `allocator | RECORD_ALLOC? | thread << 32`,
    /// address, size, `stack | domain << 32`.
    slots: Box<[[AtomicU64; 4]; RING_RECORDS]>,
    head: Padded,
    tail: Padded,
}

impl Ring {
    fn new() -> Ring {
        let slots: Vec<[AtomicU64; 4]> = (0..RING_RECORDS).map(|_| Default::default()).collect();
        Ring {
            slots: slots
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("the ring has RING_RECORDS slots")),
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
        }
    }
}

fn allocator_from(code: u8) -> Allocator {
    match code {
        0 => Allocator::PyRaw,
        1 => Allocator::PyMem,
        2 => Allocator::PyObject,
        3 => Allocator::Native,
        4 => Allocator::Mmap,
        _ => Allocator::NumpyData,
    }
}

struct Queue {
    blocks: std::collections::VecDeque<Block>,
    closed: bool,
}

struct Inner {
    encoder: Mutex<Encoder>,
    ring: Ring,
    queue: Mutex<Queue>,
    /// Emptied blocks handed back by the writer thread, so their buffers are reused.
    spare: Mutex<Vec<Block>>,
    not_empty: Condvar,
    not_full: Condvar,
    options: WriterOptions,
    start: Instant,
    generation: u32,
    /// Set when finished or when the file can no longer be written.
    dead: AtomicBool,
    events: AtomicU64,
    dropped: AtomicU64,
    file_bytes: AtomicU64,
}

/// Streams events to a capture file. Create it with [`CaptureWriter::create`],
/// hand it to the tracer as an `Arc<dyn EventSink>`, and call
/// [`CaptureWriter::finish`] when tracing stops.
pub struct CaptureWriter {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<Result<()>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn default_domain(allocator: Allocator) -> u32 {
    match allocator {
        Allocator::NumpyData => NUMPY_DOMAIN,
        _ => PYTHON_DOMAIN,
    }
}

fn truncate_name(s: &str) -> &str {
    if s.len() <= MAX_NAME_BYTES {
        return s;
    }
    let mut end = MAX_NAME_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Inner {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn quiet(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
            || FORK_GENERATION.load(Ordering::Relaxed) != self.generation
    }

    /// Seals the current block and queues it. `wait` bounds how long to wait
    /// for room; if there is none by then, the events are dropped. `None`
    /// (the writer thread itself) always queues.
    fn seal(&self, enc: &mut Encoder, wait: Option<Duration>) {
        if enc.block.is_empty() {
            return;
        }
        let spare = lock(&self.spare).pop();
        let mut block = enc.take(self.now_ns(), spare);
        enc.last_seal = Instant::now();
        let mut queue = lock(&self.queue);
        if queue.blocks.len() >= self.options.queue_blocks {
            if let Some(wait) = wait {
                let deadline = Instant::now() + wait;
                while queue.blocks.len() >= self.options.queue_blocks && !queue.closed {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    queue = self
                        .not_full
                        .wait_timeout(queue, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
            // Only the writer thread seals without a wait; it is the consumer, so it may overfill by one.
            if wait.is_some() && queue.blocks.len() >= self.options.queue_blocks {
                let lost = block.events;
                self.dropped.fetch_add(lost, Ordering::Relaxed);
                block = Block {
                    defs: block.defs,
                    end_ns: block.end_ns,
                    ..Block::default()
                };
                block.ops.push(op::DROPPED);
                put_varint(&mut block.misc, lost);
                block.n_ops = 1;
            }
        }
        self.events.fetch_add(block.events, Ordering::Relaxed);
        queue.blocks.push_back(block);
        drop(queue);
        self.not_empty.notify_one();
    }

    /// Counts an event just encoded and seals the block when it is full.
    /// `wait` as for [`Inner::seal`].
    #[inline]
    fn after_event(&self, enc: &mut Encoder, wait: Option<Duration>) {
        enc.block.events += 1;
        // Long names can make a block big before it is full of events.
        if enc.block.events >= u64::from(self.options.block_events)
            || (enc.block.events % 1024 == 0 && enc.block.raw_bytes() >= 8 << 20)
        {
            self.seal(enc, wait);
        }
    }

    /// Moves the ring's published records into the block, in order. Called
    /// with the encoder locked (the only consumers); `wait` as for
    /// [`Inner::seal`].
    fn drain_ring(&self, enc: &mut Encoder, wait: Option<Duration>) {
        let ring = &self.ring;
        let tail = ring.tail.0.load(Ordering::Acquire);
        let mut head = ring.head.0.load(Ordering::Relaxed);
        while head != tail {
            let slot = &ring.slots[head & RING_MASK];
            let tag = slot[0].load(Ordering::Relaxed);
            let address = slot[1].load(Ordering::Relaxed);
            let ids = slot[3].load(Ordering::Relaxed);
            let allocator = allocator_from(tag as u8);
            let domain = (ids >> 32) as u32;
            if tag & RECORD_ALLOC != 0 {
                enc.alloc(&AllocEvent {
                    address,
                    size: slot[2].load(Ordering::Relaxed),
                    allocator,
                    domain,
                    thread: ThreadId((tag >> 32) as u32),
                    stack: StackId(ids as u32),
                });
            } else {
                enc.free(&FreeEvent {
                    address,
                    allocator,
                    domain,
                });
            }
            head = head.wrapping_add(1);
            self.after_event(enc, wait);
        }
        ring.head.0.store(head, Ordering::Release);
    }

    /// Appends a record to the ring (the serialized callers' path). When the
    /// ring is full its producer drains it itself, under the mutex.
    #[inline(always)]
    fn push(&self, record: [u64; 4]) {
        let ring = &self.ring;
        let tail = ring.tail.0.load(Ordering::Relaxed);
        if tail.wrapping_sub(ring.head.0.load(Ordering::Acquire)) >= RING_RECORDS
            && !self.drain_full_ring()
        {
            return;
        }
        let slot = &ring.slots[tail & RING_MASK];
        for (word, value) in slot.iter().zip(record) {
            word.store(value, Ordering::Relaxed);
        }
        ring.tail.0.store(tail.wrapping_add(1), Ordering::Release);
    }

    /// Empties a full ring; false when the writer is quiet (finished, or
    /// this is a fork child, where the mutex may be held by a thread that
    /// no longer exists), in which case the record is dropped.
    #[cold]
    #[inline(never)]
    ///
    /// Never unwinds: the tracer's hooks call [`EventSink::alloc_serialized`]
    /// and [`EventSink::free_serialized`] from C without a guard of their
    /// own, and this is the only part of those that could panic.
    fn drain_full_ring(&self) -> bool {
        if self.quiet() {
            return false;
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut enc = lock(&self.encoder);
            if enc.closed {
                return false;
            }
            self.drain_ring(&mut enc, Some(self.options.wait_when_full));
            true
        }))
        .unwrap_or(false)
    }
}

impl CaptureWriter {
    /// Creates (truncating) `path`, writes the header, and starts the writer thread.
    pub fn create(
        path: &Path,
        header: &Header,
        options: WriterOptions,
    ) -> Result<Arc<CaptureWriter>> {
        let mut file = File::create(path)
            .map_err(|e| Error::io(format!("cannot create capture {}", path.display()), e))?;
        let body = header.encode();
        let mut head = Vec::with_capacity(body.len() + 18);
        head.extend_from_slice(&format::MAGIC);
        head.extend_from_slice(&format::FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&(body.len() as u32).to_le_bytes());
        head.extend_from_slice(&body);
        head.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        file.write_all(&head)
            .map_err(|e| Error::io(format!("cannot write capture {}", path.display()), e))?;
        let now = Instant::now();
        let inner = Arc::new(Inner {
            ring: Ring::new(),
            encoder: Mutex::new(Encoder {
                block: Block::default(),
                addresses: AddressCoder::default(),
                last_thread: None,
                last_tick: now,
                last_seal: now,
                closed: false,
            }),
            spare: Mutex::new(Vec::new()),
            queue: Mutex::new(Queue {
                blocks: Default::default(),
                closed: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            options,
            start: now,
            generation: FORK_GENERATION.load(Ordering::SeqCst),
            dead: AtomicBool::new(false),
            events: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            file_bytes: AtomicU64::new(head.len() as u64),
        });
        let thread_inner = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("memlens-capture".into())
            .spawn(move || write_blocks(&thread_inner, file))
            .map_err(|e| Error::io("cannot start the capture writer thread", e))?;
        Ok(Arc::new(CaptureWriter {
            inner,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Writes what is buffered, closes the capture with an end frame and
    /// returns its totals. Later events are ignored; calling it again
    /// returns the same totals. In a fork child it does nothing.
    pub fn finish(&self) -> Result<WriterStats> {
        let inner = &self.inner;
        let stats = || WriterStats {
            events: inner.events.load(Ordering::Relaxed),
            dropped: inner.dropped.load(Ordering::Relaxed),
            file_bytes: inner.file_bytes.load(Ordering::Relaxed),
        };
        if FORK_GENERATION.load(Ordering::SeqCst) != inner.generation {
            return Ok(stats());
        }
        {
            let mut enc = lock(&inner.encoder);
            if !enc.closed {
                let patient = Some(Duration::from_secs(3600));
                inner.drain_ring(&mut enc, patient);
                enc.closed = true;
                inner.seal(&mut enc, patient);
            }
            inner.dead.store(true, Ordering::SeqCst);
        }
        lock(&inner.queue).closed = true;
        inner.not_empty.notify_all();
        let handle = lock(&self.thread).take();
        if let Some(handle) = handle {
            match handle.join() {
                Ok(result) => result?,
                Err(_) => {
                    return Err(Error::new(
                        crate::ErrorKind::Io,
                        "the capture writer thread failed",
                    ))
                }
            }
        }
        Ok(stats())
    }
}

impl Drop for CaptureWriter {
    fn drop(&mut self) {
        if FORK_GENERATION.load(Ordering::SeqCst) == self.inner.generation {
            let _ = self.finish();
        } else if let Some(handle) = lock(&self.thread).take() {
            // In a fork child the writer thread does not exist: leave its
            // handle (and the parent's blocks) alone rather than detach it.
            std::mem::forget(handle);
        }
    }
}

impl CaptureWriter {
    /// Encodes one event through the locked path: under the encoder lock,
    /// after the events the GIL holders left in the ring (so it follows
    /// them), then seals the block when full.
    fn record_locked(&self, encode: impl FnOnce(&mut Encoder)) {
        let inner = &self.inner;
        if inner.quiet() {
            return;
        }
        let mut enc = lock(&inner.encoder);
        if enc.closed {
            return;
        }
        let wait = Some(inner.options.wait_when_full);
        inner.drain_ring(&mut enc, wait);
        encode(&mut enc);
        inner.after_event(&mut enc, wait);
    }
}

impl EventSink for CaptureWriter {
    fn frame(&self, id: FrameId, frame: Frame<'_>) {
        let inner = &self.inner;
        if inner.quiet() {
            return;
        }
        let mut enc = lock(&inner.encoder);
        let defs = &mut enc.block.defs;
        defs.push(def::FRAME);
        put_varint(defs, u64::from(id.0));
        put_str(defs, truncate_name(frame.function));
        put_str(defs, truncate_name(frame.filename));
        put_varint(defs, u64::from(frame.line));
    }

    fn stack(&self, id: StackId, parent: Option<StackId>, frame: FrameId) {
        let inner = &self.inner;
        if inner.quiet() {
            return;
        }
        let mut enc = lock(&inner.encoder);
        let defs = &mut enc.block.defs;
        defs.push(def::STACK);
        put_varint(defs, u64::from(id.0));
        put_varint(defs, parent.map_or(0, |p| u64::from(p.0) + 1));
        put_varint(defs, u64::from(frame.0));
    }

    fn thread(&self, id: ThreadId, name: &str) {
        let inner = &self.inner;
        if inner.quiet() {
            return;
        }
        let mut enc = lock(&inner.encoder);
        let defs = &mut enc.block.defs;
        defs.push(def::THREAD);
        put_varint(defs, u64::from(id.0));
        put_str(defs, truncate_name(name));
    }

    fn alloc(&self, event: AllocEvent) {
        self.record_locked(|enc| enc.alloc(&event));
    }

    fn free(&self, event: FreeEvent) {
        self.record_locked(|enc| enc.free(&event));
    }

    fn unmap(&self, event: UnmapEvent) {
        self.record_locked(|enc| enc.unmap(&event));
    }

    #[inline]
    fn alloc_serialized(&self, event: AllocEvent) {
        self.inner.push([
            u64::from(event.allocator as u8) | RECORD_ALLOC | u64::from(event.thread.0) << 32,
            event.address,
            event.size,
            u64::from(event.stack.0) | u64::from(event.domain) << 32,
        ]);
    }

    #[inline]
    fn free_serialized(&self, event: FreeEvent) {
        self.inner.push([
            u64::from(event.allocator as u8),
            event.address,
            0,
            u64::from(event.domain) << 32,
        ]);
    }
}

/// The header of a frame holding `payload` (see [`crate::format`]).
fn frame_header(kind: u8, payload: &[u8], raw_len: usize) -> [u8; format::FRAME_HEADER_LEN] {
    let mut header = [0u8; format::FRAME_HEADER_LEN];
    header[0] = kind;
    header[1..5].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[5..9].copy_from_slice(&(raw_len as u32).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[..9]), payload);
    header[9..13].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The writer thread: compresses and writes sealed blocks, adds the
/// memory-over-time ticks, flushes idle blocks, and closes with an end frame.
fn write_blocks(inner: &Inner, mut file: File) -> Result<()> {
    let options = &inner.options;
    let mut failure: Option<Error> = None;
    // One compression context and two buffers for the whole capture: a
    // fresh context and fresh megabyte buffers per block cost page faults.
    let mut compressor = zstd::bulk::Compressor::new(options.zstd_level)
        .map_err(|e| Error::io("cannot start the capture compressor", e));
    let mut compressed: Vec<u8> = Vec::new();
    let mut raw_buffer: Vec<u8> = Vec::new();
    let mut write = |kind: u8, raw: &[u8], failure: &mut Option<Error>| {
        if failure.is_some() {
            return;
        }
        let compressor = match &mut compressor {
            Ok(compressor) => compressor,
            Err(e) => {
                *failure = Some(Error::new(crate::ErrorKind::Io, e.to_string()));
                inner.dead.store(true, Ordering::SeqCst);
                return;
            }
        };
        compressed.clear();
        compressed.reserve(zstd::zstd_safe::compress_bound(raw.len()));
        if let Err(e) = compressor.compress_to_buffer(raw, &mut compressed) {
            *failure = Some(Error::io("cannot compress a capture block", e));
            inner.dead.store(true, Ordering::SeqCst);
            return;
        }
        let header = frame_header(kind, &compressed, raw.len());
        match file
            .write_all(&header)
            .and_then(|()| file.write_all(&compressed))
        {
            Ok(()) => {
                inner
                    .file_bytes
                    .fetch_add((header.len() + compressed.len()) as u64, Ordering::Relaxed);
            }
            Err(e) => {
                *failure = Some(Error::io("cannot write the capture", e));
                inner.dead.store(true, Ordering::SeqCst);
            }
        }
    };
    loop {
        let (block, closed) = {
            let mut queue = lock(&inner.queue);
            if queue.blocks.is_empty() && !queue.closed {
                queue = inner
                    .not_empty
                    .wait_timeout(queue, options.tick)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let block = queue.blocks.pop_front();
            (block, queue.closed)
        };
        match block {
            Some(block) => {
                inner.not_full.notify_all();
                block.encode_into(&mut raw_buffer);
                write(format::FRAME_EVENTS, &raw_buffer, &mut failure);
                let mut spare = lock(&inner.spare);
                if spare.len() < 2 {
                    let mut block = block;
                    block.clear();
                    spare.push(block);
                }
            }
            None if closed => break,
            None => {}
        }
        // Ticks and idle flushes never wait for an allocating thread: one
        // that holds the encoder may itself be waiting for this thread.
        if let Ok(mut enc) = inner.encoder.try_lock() {
            if enc.closed {
                continue;
            }
            inner.drain_ring(&mut enc, None);
            let now = Instant::now();
            if now.duration_since(enc.last_tick) >= options.tick {
                enc.last_tick = now;
                let ns = inner.now_ns();
                enc.block.ops.push(op::TICK);
                put_varint(&mut enc.block.misc, ns);
                enc.block.n_ops += 1;
            }
            let since_seal = now.duration_since(enc.last_seal);
            if (enc.block.events > 0 && since_seal >= options.flush_every)
                || since_seal >= options.flush_every * 8
            {
                inner.seal(&mut enc, None);
            }
        }
    }
    let mut end = Vec::new();
    put_varint(&mut end, inner.events.load(Ordering::Relaxed));
    put_varint(&mut end, inner.dropped.load(Ordering::Relaxed));
    put_varint(&mut end, inner.now_ns());
    write(format::FRAME_END, &end, &mut failure);
    if failure.is_none() {
        if let Err(e) = file.sync_data() {
            failure = Some(Error::io("cannot flush the capture to disk", e));
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

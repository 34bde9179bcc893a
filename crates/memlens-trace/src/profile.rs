//! Replays captures into what the reports show: per call stack, what was
//! allocated over the run, what was live at the peak, and what was still
//! live at exit (leaks); totals, a size histogram, threads and memory over
//! time.
//!
//! Several captures (a parent and the children it forked or spawned) load
//! into one [`Profile`]: their call stacks merge by location, their figures
//! add up, and each keeps its own timeline and header. The peak of several
//! processes is the sum of each one's peak.
//!
//! Sampled captures are weighted back to unbiased estimates: a sampled
//! block of `s` bytes, taken with probability `p = 1 - exp(-s / interval)`,
//! counts as `1 / p` blocks and `s / p` bytes.
//!
//! The peak is found in one pass: per call stack the live bytes are kept,
//! and each new maximum copies only the stacks that changed since the last
//! one (amortized O(1) per event).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::events::{Allocator, StackId, PYTHON_DOMAIN};
use crate::format::{Header, Mode};
use crate::reader::{CaptureReader, Ending, Record};

/// A code location, shared by every capture of the profile.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The function's qualified name.
    pub function: String,
    /// The file, as the interpreter named it.
    pub filename: String,
    /// The line (0 when unknown).
    pub line: u32,
}

/// Which figure a report ranks by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Everything allocated during the run (freed or not).
    Allocated,
    /// What was live at the moment of peak memory.
    Peak,
    /// What was still live when tracing stopped.
    Leaks,
}

impl Metric {
    /// How reports name it.
    pub fn describe(self) -> &'static str {
        match self {
            Metric::Allocated => "allocated over the run",
            Metric::Peak => "live at the peak",
            Metric::Leaks => "still live at exit",
        }
    }
}

/// Bytes and blocks (estimates in sampled captures).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Amount {
    /// Bytes.
    pub bytes: f64,
    /// Blocks.
    pub count: f64,
}

impl Amount {
    fn add(&mut self, other: Amount) {
        self.bytes += other.bytes;
        self.count += other.count;
    }
}

/// The figures of one call stack, for its own frame (children excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeStats {
    /// Allocated over the run.
    pub allocated: Amount,
    /// Live at the peak.
    pub peak: Amount,
    /// Live at exit.
    pub leaks: Amount,
}

impl NodeStats {
    /// The figure for `metric`.
    pub fn get(&self, metric: Metric) -> Amount {
        match metric {
            Metric::Allocated => self.allocated,
            Metric::Peak => self.peak,
            Metric::Leaks => self.leaks,
        }
    }
}

/// A call stack: a node of the call tree. Node 0 is the root (no frame):
/// allocations made with no Python frame on the stack land there.
#[derive(Clone, Debug)]
pub struct Node {
    /// The calling node (`u32::MAX` for the root).
    pub parent: u32,
    /// Index into [`Profile::locations`] (`u32::MAX` for the root).
    pub location: u32,
    /// Its own figures.
    pub stats: NodeStats,
}

/// One capture's process.
#[derive(Clone, Debug)]
pub struct Process {
    /// The capture file.
    pub path: PathBuf,
    /// Its header.
    pub header: Header,
    /// How the file ended.
    pub ending: Ending,
    /// Nanoseconds from start to the last record.
    pub duration_ns: u64,
    /// The peak of traced memory, bytes.
    pub peak_bytes: f64,
    /// When it happened (the first tick after it), ns since start.
    pub peak_ns: u64,
    /// Memory over time: (ns since start, the most traced bytes since the
    /// previous point), at most ~2000 points; the peak is always one of them.
    pub timeline: Vec<(u64, f64)>,
    /// Thread names, by capture thread id.
    pub threads: Vec<(u32, String)>,
    /// Events lost because the writer fell behind.
    pub dropped_events: u64,
}

/// Totals over every capture of a profile.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// Blocks allocated.
    pub allocations: f64,
    /// Bytes allocated.
    pub allocated_bytes: f64,
    /// Blocks freed (of those allocated while tracing).
    pub frees: f64,
    /// Sum of each process's peak.
    pub peak_bytes: f64,
    /// Bytes still live at exit.
    pub leaked_bytes: f64,
    /// Blocks still live at exit.
    pub leaked_blocks: f64,
}

/// Buckets of the size histogram: bucket `b` holds sizes in `[2^(b-1), 2^b)`, bucket 0 holds size 0.
pub const SIZE_BUCKETS: usize = 65;

/// Everything the reports need, from one or several captures.
#[derive(Clone, Debug)]
pub struct Profile {
    locations: Vec<Location>,
    location_index: HashMap<Location, u32>,
    nodes: Vec<Node>,
    node_index: HashMap<(u32, u32), u32>,
    processes: Vec<Process>,
    totals: Totals,
    size_histogram: Vec<Amount>,
    by_allocator: Vec<Amount>,
    sampled: bool,
}

/// Progress of a load, in bytes of capture read.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Bytes read so far, all files together.
    pub done: u64,
    /// Bytes to read.
    pub total: u64,
}

/// The bucket of the size histogram a size falls in.
pub fn size_bucket(size: u64) -> usize {
    (64 - size.leading_zeros()) as usize
}

/// What one live block weighs: `(bytes, blocks)`.
fn weight(mode: Mode, size: u64) -> (f64, f64) {
    match mode {
        Mode::Exact => (size as f64, 1.0),
        Mode::Sampled { mean_interval } => {
            let p = -(-(size.max(1) as f64) / mean_interval as f64).exp_m1();
            (size as f64 / p, 1.0 / p)
        }
    }
}

/// Per-process replay state.
struct Replay {
    mode: Mode,
    frames: HashMap<u32, u32>,
    stacks: HashMap<u32, u32>,
    live: HashMap<(u8, u32, u64), (u32, u64)>,
    /// Live anonymous mappings by first byte: (node, length, length when
    /// mapped). They never overlap (a new mapping replaces what it covers,
    /// as `MAP_FIXED` does), and an unmapped range may cut them anywhere.
    mappings: BTreeMap<u64, (u32, u64, u64)>,
    current: Vec<Amount>,
    at_peak: Vec<Amount>,
    dirty: Vec<u32>,
    is_dirty: Vec<bool>,
    current_bytes: f64,
    peak_bytes: f64,
    peak_ns: u64,
    /// A new peak was reached since the last tick.
    peak_pending: bool,
    /// The most traced bytes since the last tick.
    interval_max: f64,
    last_ns: u64,
    timeline: Vec<(u64, f64)>,
    threads: Vec<(u32, String)>,
    dropped: u64,
}

fn allocator_class(allocator: Allocator) -> u8 {
    match allocator {
        Allocator::PyRaw | Allocator::PyMem | Allocator::PyObject => 0,
        Allocator::Native => 1,
        Allocator::Mmap => 2,
        Allocator::NumpyData => 3,
    }
}

impl Replay {
    fn touch(&mut self, node: u32) {
        let i = node as usize;
        if i >= self.current.len() {
            self.current.resize(i + 1, Amount::default());
            self.at_peak.resize(i + 1, Amount::default());
            self.is_dirty.resize(i + 1, false);
        }
        if !self.is_dirty[i] {
            self.is_dirty[i] = true;
            self.dirty.push(node);
        }
    }

    fn new_peak_check(&mut self) {
        if self.current_bytes > self.interval_max {
            self.interval_max = self.current_bytes;
        }
        if self.current_bytes > self.peak_bytes {
            self.peak_bytes = self.current_bytes;
            self.peak_pending = true;
            for node in self.dirty.drain(..) {
                let i = node as usize;
                self.at_peak[i] = self.current[i];
                self.is_dirty[i] = false;
            }
        }
    }
}

impl Profile {
    fn empty() -> Profile {
        Profile {
            locations: Vec::new(),
            location_index: HashMap::new(),
            nodes: vec![Node {
                parent: u32::MAX,
                location: u32::MAX,
                stats: NodeStats::default(),
            }],
            node_index: HashMap::new(),
            processes: Vec::new(),
            totals: Totals::default(),
            size_histogram: vec![Amount::default(); SIZE_BUCKETS],
            by_allocator: vec![Amount::default(); 6],
            sampled: false,
        }
    }

    /// Loads and combines captures, calling `progress` after each block.
    pub fn load(paths: &[PathBuf], progress: &mut dyn FnMut(Progress)) -> Result<Profile> {
        let total = paths
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum();
        let mut profile = Profile::empty();
        let mut done_before = 0;
        for path in paths {
            let reader = CaptureReader::open(path)?;
            done_before = profile
                .add_capture(path, reader, &mut |done| {
                    progress(Progress {
                        done: done_before + done,
                        total,
                    })
                })
                .map_err(|e| e.with_context(path.display()))?;
        }
        Ok(profile)
    }

    /// Replays one capture into the profile; returns the bytes it read.
    pub fn add_capture<R: std::io::Read>(
        &mut self,
        path: &Path,
        mut reader: CaptureReader<R>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let header = reader.header().clone();
        let mode = header.mode;
        self.sampled |= matches!(mode, Mode::Sampled { .. });
        let mut replay = Replay {
            mode,
            frames: HashMap::new(),
            stacks: HashMap::new(),
            live: HashMap::new(),
            mappings: BTreeMap::new(),
            current: Vec::new(),
            at_peak: Vec::new(),
            dirty: Vec::new(),
            is_dirty: Vec::new(),
            current_bytes: 0.0,
            peak_bytes: 0.0,
            peak_ns: 0,
            peak_pending: false,
            interval_max: 0.0,
            last_ns: 0,
            timeline: vec![(0, 0.0)],
            threads: Vec::new(),
            dropped: 0,
        };
        while let Some(block) = reader.next_block()? {
            let mut records = block.records()?;
            while let Some(record) = records.next()? {
                self.apply(&mut replay, record)?;
            }
            replay.last_ns = replay.last_ns.max(block.end_ns());
            progress(reader.offset());
        }
        let ending = reader.ending().cloned().unwrap_or(Ending::Cut {
            offset: reader.offset(),
            reason: String::new(),
        });
        let duration_ns = match ending {
            Ending::Complete { end_ns, .. } => end_ns.max(replay.last_ns),
            Ending::Cut { .. } => replay.last_ns,
        };
        if let Ending::Complete { dropped, .. } = ending {
            replay.dropped = replay.dropped.max(dropped);
        }
        replay
            .timeline
            .push((duration_ns, replay.interval_max.max(replay.current_bytes)));
        if replay.peak_pending {
            replay.peak_ns = duration_ns;
        }
        // Fold the process into the shared call tree.
        for (i, amount) in replay.at_peak.iter().enumerate() {
            self.nodes[i].stats.peak.add(*amount);
        }
        for (i, amount) in replay.current.iter().enumerate() {
            self.nodes[i].stats.leaks.add(*amount);
            self.totals.leaked_bytes += amount.bytes;
            self.totals.leaked_blocks += amount.count;
        }
        self.totals.peak_bytes += replay.peak_bytes;
        let timeline = downsample(&replay.timeline, 2000);
        self.processes.push(Process {
            path: path.to_path_buf(),
            header,
            ending,
            duration_ns,
            peak_bytes: replay.peak_bytes,
            peak_ns: replay.peak_ns,
            timeline,
            threads: replay.threads,
            dropped_events: replay.dropped,
        });
        Ok(reader.offset())
    }

    fn intern_node(&mut self, parent: u32, location: u32) -> u32 {
        if let Some(&node) = self.node_index.get(&(parent, location)) {
            return node;
        }
        let node = self.nodes.len() as u32;
        self.nodes.push(Node {
            parent,
            location,
            stats: NodeStats::default(),
        });
        self.node_index.insert((parent, location), node);
        node
    }

    fn apply(&mut self, replay: &mut Replay, record: Record<'_>) -> Result<()> {
        match record {
            Record::Frame { id, frame } => {
                let location = Location {
                    function: frame.function.into(),
                    filename: frame.filename.into(),
                    line: frame.line,
                };
                let index = match self.location_index.get(&location) {
                    Some(&i) => i,
                    None => {
                        let i = self.locations.len() as u32;
                        self.locations.push(location.clone());
                        self.location_index.insert(location, i);
                        i
                    }
                };
                replay.frames.insert(id.0, index);
            }
            Record::Stack { id, parent, frame } => {
                if id == StackId::EMPTY {
                    return Err(Error::corrupt("stack id 0 (the empty stack) is redefined"));
                }
                let parent_node = match parent {
                    None | Some(StackId::EMPTY) => 0,
                    Some(p) => *replay.stacks.get(&p.0).ok_or_else(|| {
                        Error::corrupt(format!("stack {} calls from unknown stack {}", id.0, p.0))
                    })?,
                };
                let location = *replay.frames.get(&frame.0).ok_or_else(|| {
                    Error::corrupt(format!("stack {} uses unknown frame {}", id.0, frame.0))
                })?;
                // memlens's own launcher (`memlens run` → runpy) sits under every
                // stack of the program it runs: fold it into the root.
                let node =
                    if parent_node == 0 && is_launcher_frame(&self.locations[location as usize]) {
                        0
                    } else {
                        self.intern_node(parent_node, location)
                    };
                replay.stacks.insert(id.0, node);
            }
            // A thread announced again was renamed (`memlens run` gives
            // Python threads their `threading` name once they start).
            Record::Thread { id, name } => {
                match replay.threads.iter_mut().find(|(known, _)| *known == id.0) {
                    Some(entry) => entry.1 = name.to_string(),
                    None => replay.threads.push((id.0, name.to_string())),
                }
            }
            Record::Alloc(event) => {
                let node = if event.stack == StackId::EMPTY {
                    0
                } else {
                    *replay.stacks.get(&event.stack.0).ok_or_else(|| {
                        Error::corrupt(format!(
                            "an allocation uses unknown stack {}",
                            event.stack.0
                        ))
                    })?
                };
                let (bytes, count) = weight(replay.mode, event.size);
                let amount = Amount { bytes, count };
                self.nodes[node as usize].stats.allocated.add(amount);
                self.totals.allocations += count;
                self.totals.allocated_bytes += bytes;
                self.size_histogram[size_bucket(event.size)].add(amount);
                self.by_allocator[event.allocator as usize].add(amount);
                if is_mapping(event.allocator, event.domain) {
                    // What the new mapping covers was unmapped by the kernel.
                    self.totals.frees += unmap(replay, event.address, event.size);
                    replay
                        .mappings
                        .insert(event.address, (node, event.size, event.size));
                } else {
                    let key = (
                        allocator_class(event.allocator),
                        event.domain,
                        event.address,
                    );
                    if let Some((old_node, old_size)) = replay.live.insert(key, (node, event.size))
                    {
                        // The free of the previous block at this address was not seen.
                        release(replay, old_node, old_size);
                    }
                }
                replay.touch(node);
                replay.current[node as usize].add(amount);
                replay.current_bytes += bytes;
                replay.new_peak_check();
            }
            Record::Free(event) if is_mapping(event.allocator, event.domain) => {
                if let Some((node, length, mapped)) = replay.mappings.remove(&event.address) {
                    release_part(replay, node, length, mapped);
                    self.totals.frees += weight(replay.mode, mapped).1;
                }
            }
            Record::Unmap(event) => {
                self.totals.frees += unmap(replay, event.address, event.size);
            }
            Record::Free(event) => {
                let key = (
                    allocator_class(event.allocator),
                    event.domain,
                    event.address,
                );
                if let Some((node, size)) = replay.live.remove(&key) {
                    release(replay, node, size);
                    self.totals.frees += weight(replay.mode, size).1;
                }
            }
            Record::Tick { ns } => {
                replay.last_ns = replay.last_ns.max(ns);
                replay
                    .timeline
                    .push((ns, replay.interval_max.max(replay.current_bytes)));
                replay.interval_max = replay.current_bytes;
                if replay.peak_pending {
                    replay.peak_ns = ns;
                    replay.peak_pending = false;
                }
            }
            Record::Dropped { events } => replay.dropped += events,
        }
        Ok(())
    }

    /// Every code location, indexed by [`Node::location`].
    pub fn locations(&self) -> &[Location] {
        &self.locations
    }

    /// The call tree; a node's parent always comes before it.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The processes, in the order their captures were given.
    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    /// Totals over all captures.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Whether any capture was sampled (its figures are estimates).
    pub fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// Allocations by size bucket (see [`size_bucket`]).
    pub fn size_histogram(&self) -> &[Amount] {
        &self.size_histogram
    }

    /// Allocations by allocator, indexed by `Allocator as usize`.
    pub fn by_allocator(&self) -> &[Amount] {
        &self.by_allocator
    }

    /// Each node's figure for `metric` including its descendants.
    pub fn inclusive(&self, metric: Metric) -> Vec<Amount> {
        let mut totals: Vec<Amount> = self.nodes.iter().map(|n| n.stats.get(metric)).collect();
        for i in (1..self.nodes.len()).rev() {
            let parent = self.nodes[i].parent as usize;
            let amount = totals[i];
            totals[parent].add(amount);
        }
        totals
    }

    /// The call chain of a node, outermost first (the root excluded).
    pub fn stack_of(&self, node: u32) -> Vec<u32> {
        let mut chain = Vec::new();
        let mut at = node;
        while at != 0 && (at as usize) < self.nodes.len() {
            chain.push(at);
            at = self.nodes[at as usize].parent;
        }
        chain.reverse();
        chain
    }

    /// Figures by allocating location (the innermost frame), largest bytes
    /// first; `None` is "no Python frame". Sites with nothing are left out.
    pub fn sites(&self, metric: Metric) -> Vec<(Option<u32>, Amount)> {
        let mut by_location: HashMap<Option<u32>, Amount> = HashMap::new();
        for node in &self.nodes {
            let amount = node.stats.get(metric);
            if amount.count == 0.0 && amount.bytes == 0.0 {
                continue;
            }
            let location = (node.location != u32::MAX).then_some(node.location);
            by_location.entry(location).or_default().add(amount);
        }
        let mut sites: Vec<_> = by_location.into_iter().collect();
        sites.sort_by(|a, b| {
            b.1.bytes
                .total_cmp(&a.1.bytes)
                .then(b.1.count.total_cmp(&a.1.count))
                .then_with(|| self.site_key(a.0).cmp(&self.site_key(b.0)))
        });
        sites
    }

    fn site_key(&self, location: Option<u32>) -> Option<&Location> {
        location.and_then(|l| self.locations.get(l as usize))
    }

    /// How a site is printed: `function (file:line)`.
    pub fn site_label(&self, location: Option<u32>) -> String {
        match self.site_key(location) {
            Some(l) => format!("{} ({}:{})", l.function, l.filename, l.line),
            None => "[no Python frame]".to_string(),
        }
    }
}

/// Frames of `memlens run` itself, which wrap the traced program's stacks.
fn is_launcher_frame(location: &Location) -> bool {
    const LAUNCHER_FILES: [&str; 7] = [
        "/bin/memlens",
        "memlens/__main__.py",
        "memlens/_cli.py",
        "memlens/_verb_run.py",
        "memlens/_run.py",
        "/runpy.py",
        "<frozen runpy>",
    ];
    LAUNCHER_FILES
        .iter()
        .any(|suffix| location.filename.ends_with(suffix))
}

/// Whether blocks of this allocator and domain are anonymous mappings,
/// which `munmap` may give back in part.
fn is_mapping(allocator: Allocator, domain: u32) -> bool {
    allocator == Allocator::Mmap && domain == PYTHON_DOMAIN
}

/// Gives back the bytes `[address, address + size)` of the live mappings:
/// a mapping inside the range goes, one cut by it keeps the part (or two
/// parts) outside, with its stack. Returns the (estimated) number of
/// mappings that went entirely.
fn unmap(replay: &mut Replay, address: u64, size: u64) -> f64 {
    let end = address.saturating_add(size);
    let cut: Vec<(u64, (u32, u64, u64))> = replay
        .mappings
        .range(..end)
        .rev()
        .take_while(|(&start, &(_, length, _))| start.saturating_add(length) > address)
        .map(|(&start, &block)| (start, block))
        .collect();
    let mut gone = 0.0;
    for (start, (node, length, mapped)) in cut {
        replay.mappings.remove(&start);
        release_part(replay, node, length, mapped);
        let stop = start.saturating_add(length);
        let mut kept = false;
        for (piece_start, piece_end) in [(start, address.max(start)), (end.min(stop), stop)] {
            if piece_end > piece_start {
                let piece = piece_end - piece_start;
                replay.mappings.insert(piece_start, (node, piece, mapped));
                let (bytes, count) = part_weight(replay.mode, piece, mapped);
                replay.touch(node);
                let current = &mut replay.current[node as usize];
                current.bytes += bytes;
                current.count += count;
                replay.current_bytes += bytes;
                kept = true;
            }
        }
        if !kept {
            gone += weight(replay.mode, mapped).1;
        }
    }
    gone
}

/// What `length` bytes of a block weigh when the block had `mapped` bytes
/// when it was recorded (and sampled, in sampled mode): the part's share of
/// the whole block's weight.
fn part_weight(mode: Mode, length: u64, mapped: u64) -> (f64, f64) {
    let (bytes, count) = weight(mode, mapped);
    if mapped == 0 {
        return (0.0, count);
    }
    (bytes * (length as f64 / mapped as f64), count)
}

/// Gives back `length` bytes of a block recorded with `mapped` bytes.
fn release_part(replay: &mut Replay, node: u32, length: u64, mapped: u64) {
    let (bytes, count) = part_weight(replay.mode, length, mapped);
    replay.touch(node);
    let current = &mut replay.current[node as usize];
    current.bytes -= bytes;
    current.count -= count;
    snap_residue(current);
    replay.current_bytes -= bytes;
}

fn release(replay: &mut Replay, node: u32, size: u64) {
    let (bytes, count) = weight(replay.mode, size);
    replay.touch(node);
    let current = &mut replay.current[node as usize];
    current.bytes -= bytes;
    current.count -= count;
    snap_residue(current);
    replay.current_bytes -= bytes;
}

/// Sampled weights are fractions, so a site whose blocks are all given back
/// in another order than they came can be left with a rounding residue
/// (~1e-12 blocks, a few bytes either side of zero). A live block weighs at
/// least one count, so anything this close to zero is nothing.
fn snap_residue(current: &mut Amount) {
    if current.count.abs() < 1e-6 {
        current.bytes = 0.0;
        current.count = 0.0;
    }
}

/// Reduces a timeline to at most about `max` points, keeping each bucket's maximum.
fn downsample(points: &[(u64, f64)], max: usize) -> Vec<(u64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max);
    let mut out: Vec<(u64, f64)> = points
        .chunks(per)
        .map(|chunk| {
            chunk.iter().copied().fold(
                (chunk[0].0, f64::MIN),
                |best, p| if p.1 > best.1 { p } else { best },
            )
        })
        .collect();
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        out.insert(0, *first);
        out.push(*last);
    }
    out
}

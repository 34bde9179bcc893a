//! Dominator tree benchmark on a synthetic heap: prints build time, dominator
//! time and the extra peak memory the computation needed.
//!
//! ```text
//! cargo run --release -p memlens-heap --example dominator_bench [NODES] [EDGES_PER_NODE]
//! ```
//!
//! The graph (10 M nodes, 3 edges per node by default, 1,000 roots) looks
//! like a walked heap (see [`add_heap_like_edges`]); `UNIFORM=1` makes every
//! edge random instead, the worst case for caches. Peak memory is
//! the kernel's high-water mark (`VmHWM`, reset through `/proc/self/clear_refs`)
//! minus the resident size before the computation.

use std::time::Instant;

use memlens_heap::{DominatorTree, EdgeLabel, RootKind, SnapshotBuilder, SnapshotMeta};

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of this thread in seconds: the machine may be shared, so wall
/// time alone says little.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// Worst case: tree parents and extra targets uniformly random (no locality).
fn add_uniform_edges(b: &mut SnapshotBuilder, rng: &mut XorShift, nodes: u32, per_node: u32) {
    for i in 1..nodes {
        let parent = if i % 2 == 0 {
            i - 1 - rng.below(u64::from(i).min(16)) as u32
        } else {
            rng.below(u64::from(i)) as u32
        };
        b.add_edge(parent, i, EdgeLabel::index(0));
        for k in 1..per_node {
            let target = if k == 1 {
                (i + 1 + rng.below(100) as u32) % nodes
            } else {
                rng.below(u64::from(nodes)) as u32
            };
            b.add_edge(i, target, EdgeLabel::index(k));
        }
    }
}

/// Like a walked heap: ids in breadth-first walk order (a node's children
/// are consecutive), fan-out mostly 0-4 with a few large containers, then
/// per node one edge to a popular shared object (skewed to low ids: types,
/// interned strings), and the rest half to a neighbour, half anywhere.
fn add_heap_like_edges(b: &mut SnapshotBuilder, rng: &mut XorShift, nodes: u32, per_node: u32) {
    let mut next_child: u32 = 1000.min(nodes); // the first 1000 are roots
    let mut parent: u32 = 0;
    while next_child < nodes {
        let fanout = match rng.below(100) {
            0 => 200 + rng.below(2000) as u32,
            1..=30 => 0,
            _ => 1 + rng.below(4) as u32,
        };
        for _ in 0..fanout.min(nodes - next_child) {
            b.add_edge(parent, next_child, EdgeLabel::index(0));
            next_child += 1;
        }
        parent = (parent + 1) % next_child;
    }
    for i in 0..nodes {
        for k in 1..per_node {
            let target = match k {
                1 => {
                    let r = rng.below(1 << 20) as f64 / (1u64 << 20) as f64;
                    (r.powi(6) * f64::from(nodes)) as u32
                }
                k if k % 2 == 0 => (i + 1 + rng.below(1000) as u32) % nodes,
                _ => rng.below(u64::from(nodes)) as u32,
            };
            b.add_edge(i, target, EdgeLabel::index(k));
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let nodes: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let per_node: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let edges = nodes as usize * per_node as usize;

    let started = Instant::now();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut b = SnapshotBuilder::with_capacity(SnapshotMeta::default(), nodes as usize, edges);
    let types: Vec<u32> = (0..16)
        .map(|i| b.add_type("bench", &format!("T{i}")))
        .collect();
    for i in 0..nodes {
        let size = 16 + 8 * rng.below(32);
        b.add_node(
            0x1000 + 64 * u64::from(i),
            types[i as usize % 16],
            size,
            size,
            1,
            0,
        );
    }
    let random = std::env::var_os("UNIFORM").is_some();
    if random {
        add_uniform_edges(&mut b, &mut rng, nodes, per_node);
    } else {
        add_heap_like_edges(&mut b, &mut rng, nodes, per_node);
    }
    for r in 0..nodes.min(1000) {
        b.add_root(RootKind::Module, &format!("mod{r}"), r, 0);
    }
    let snap = b.finish();
    let build = started.elapsed();

    let rss_before = status_kib("VmRSS:").unwrap_or(0);
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let dom = DominatorTree::compute(&snap);
    let cpu = cpu_seconds() - cpu_before;
    let took = started.elapsed();
    let peak = status_kib("VmHWM:").unwrap_or(0);

    let n = snap.node_count() as u64;
    let e = snap.edge_count() as u64;
    let extra = peak.saturating_sub(rss_before) * 1024;
    let kept = n * (4 + 8 + 1 + 4) + (n + 3) * 4;
    println!(
        "graph: {n} nodes, {e} edges, {} roots (built in {:.2} s)",
        snap.roots().len(),
        build.as_secs_f64()
    );
    println!(
        "dominators: {cpu:.2} s CPU ({:.2} s wall)",
        took.as_secs_f64()
    );
    if reset {
        println!(
            "extra peak memory: {:.0} MiB, i.e. 8 B/edge + {:.1} B/node (budget 40 B/node + 8 B/edge = {:.0} MiB)",
            extra as f64 / 1048576.0,
            extra.saturating_sub(8 * e) as f64 / n.max(1) as f64,
            (40 * n + 8 * e) as f64 / 1048576.0,
        );
    } else {
        println!("extra peak memory: unknown (/proc/self/clear_refs not writable)");
    }
    println!("result kept: {:.0} MiB", kept as f64 / 1048576.0);
    println!(
        "reachable: {} nodes {} B; unreachable: {} nodes; top-level: {}",
        dom.reachable_count(),
        dom.reachable_size(),
        dom.unreachable_count(),
        dom.top_level().len()
    );
}

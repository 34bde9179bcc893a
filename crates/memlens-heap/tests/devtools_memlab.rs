//! The `.heapsnapshot` export read back by a real reader: memlab
//! (`@memlab/core`, npm) loads the file, computes its own dominator tree
//! (Lengauer–Tarjan, with V8's rules for weak and shortcut edges) and must
//! find the retained size memlens's [`DominatorTree`] finds, for every node.
//!
//! The npm packages come from `tests/heap/js/package-lock.json`, installed by
//! `scripts/test.sh` (`npm ci`), never from inside a test. The test is
//! `#[ignore]`d so that a plain `cargo test` lists it as ignored;
//! `scripts/test.sh` runs it with `--ignored` and fails under CI when node
//! is missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use memlens_heap::{
    object_ids, write_heapsnapshot, DominatorTree, EdgeKind, EdgeLabel, HeapSnapshot, NodeId,
    RootKind, SnapshotBuilder, SnapshotMeta,
};

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/heap/js")
}

/// A graph with a cycle, a shared child, a weak edge, an object only weakly
/// held, an unreachable cycle with an edge into live objects, a node held
/// by two roots, and a hidden holder.
fn fixture() -> (HeapSnapshot, Vec<&'static str>) {
    let mut b = SnapshotBuilder::new(SnapshotMeta {
        python: "3.11.7".into(),
        pid: 4242,
        ..SnapshotMeta::default()
    });
    let module = b.add_type("builtins", "module");
    let dict = b.add_type("builtins", "dict");
    let list = b.add_type("builtins", "list");
    let func = b.add_type("builtins", "function");
    let cell = b.add_type("builtins", "cell");
    let text = b.add_type("builtins", "str");
    let weakref = b.add_type("weakref", "ReferenceType");
    let mut names = Vec::new();
    let mut node = |b: &mut SnapshotBuilder, name: &'static str, ty, size: u64| {
        let addr = 0x7f00_0000_0000 + 0x40 * names.len() as u64;
        names.push(name);
        b.add_node(addr, ty, size.min(64), size, 1, 0)
    };
    let m = node(&mut b, "module", module, 72);
    let globals = node(&mut b, "globals", dict, 640);
    let cache = node(&mut b, "cache", list, 10_000);
    let a = node(&mut b, "cycle_a", dict, 300);
    let c = node(&mut b, "cycle_b", dict, 500);
    let shared = node(&mut b, "shared", text, 1_000);
    let f = node(&mut b, "handler", func, 144);
    let cl = node(&mut b, "closure_cell", cell, 40);
    let w = node(&mut b, "weakref", weakref, 80);
    let weak_only = node(&mut b, "weak_only", dict, 2_000);
    let g1 = node(&mut b, "garbage_1", list, 4_000);
    let g2 = node(&mut b, "garbage_2", list, 6_000);
    let g3 = node(&mut b, "garbage_tail", text, 700);
    let both = node(&mut b, "two_roots", list, 900);
    let held = node(&mut b, "held_from_c", dict, 3_000);
    let held_child = node(&mut b, "held_child", text, 50);
    let local = node(&mut b, "frame_local", list, 250);
    let n = |b: &mut SnapshotBuilder, s: &str| b.intern(s);
    let items = n(&mut b, "items");
    let key = n(&mut b, "'cache'");
    let fname = n(&mut b, "handler");
    b.set_node_name(f, fname);
    let x = n(&mut b, "x");
    b.add_edge(m, globals, EdgeLabel::bare(EdgeKind::Dict));
    b.add_edge(globals, cache, EdgeLabel::named(EdgeKind::DictValue, key));
    b.add_edge(globals, f, EdgeLabel::bare(EdgeKind::DictValue));
    b.add_edge(globals, w, EdgeLabel::named(EdgeKind::DictValue, items));
    b.add_edge(cache, a, EdgeLabel::index(0));
    b.add_edge(cache, shared, EdgeLabel::index(1));
    b.add_edge(a, c, EdgeLabel::named(EdgeKind::Attr, items));
    b.add_edge(c, a, EdgeLabel::named(EdgeKind::Attr, items));
    b.add_edge(c, shared, EdgeLabel::index(0));
    b.add_edge(f, cl, EdgeLabel::named(EdgeKind::Cell, x));
    b.add_edge(cl, shared, EdgeLabel::bare(EdgeKind::Internal));
    b.add_edge(f, globals, EdgeLabel::bare(EdgeKind::Unknown));
    b.add_edge(w, weak_only, EdgeLabel::bare(EdgeKind::Weak));
    b.add_edge(
        f,
        a,
        EdgeLabel {
            kind: EdgeKind::Default,
            name: 0,
            index: 0,
        },
    );
    b.add_edge(g1, g2, EdgeLabel::index(0));
    b.add_edge(g2, g1, EdgeLabel::index(0));
    b.add_edge(g2, g3, EdgeLabel::index(1));
    b.add_edge(g1, cache, EdgeLabel::index(1)); // garbage into live: retains nothing
    b.add_edge(g3, g3, EdgeLabel::bare(EdgeKind::Class));
    b.add_edge(both, shared, EdgeLabel::index(0));
    b.add_edge(held, held_child, EdgeLabel::bare(EdgeKind::DictKey));
    b.add_edge(local, both, EdgeLabel::index(0));
    b.add_root(RootKind::Module, "__main__", m, 0);
    b.add_root(RootKind::Sys, "modules", both, 0);
    b.add_root(RootKind::Frame, "main:12 x", local, 0);
    b.add_root(RootKind::HiddenHolder, "", held, 1);
    (b.finish(), names)
}

#[test]
#[ignore = "needs node and the npm packages of tests/heap/js; scripts/test.sh runs it"]
fn memlab_reads_the_export_and_finds_memlens_retained_sizes() {
    let found = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "node is needed by this test (see .ci/apt-packages.txt)"
    );
    let js = js_dir();
    assert!(
        js.join("node_modules/@memlab/core").exists(),
        "run `npm ci` in {} first (scripts/test.sh does)",
        js.display()
    );
    // GIVEN the fixture, its dominator tree and its export
    let (snap, names) = fixture();
    let dom = DominatorTree::compute(&snap);
    assert_eq!(
        dom.unreachable_count(),
        4,
        "weak_only and the garbage cycle"
    );
    let dir = std::env::temp_dir().join(format!("memlens-devtools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fixture.heapsnapshot");
    let mut file = std::fs::File::create(&path).unwrap();
    write_heapsnapshot(&snap, &mut file).unwrap();
    drop(file);
    // WHEN memlab loads it and computes its dominators
    let out = Command::new("node")
        .arg(js.join("check_heapsnapshot.mjs"))
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: HashMap<u32, (u64, u64, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let mut parts = line.splitn(5, ' ');
            let id = parts.next().unwrap().parse().unwrap();
            let retained = parts.next().unwrap().parse().unwrap();
            let size = parts.next().unwrap().parse().unwrap();
            let ty = parts.next().unwrap().to_owned();
            (id, (retained, size, ty))
        })
        .collect();
    // THEN memlab saw every object with its owned size and memlens's retained size
    let ids = object_ids(&snap);
    assert_eq!(seen.len(), snap.node_count() + 1 + snap.roots().len() + 1);
    for node in 0..snap.node_count() as NodeId {
        let (retained, size, _) = &seen[&ids[node as usize]];
        let name = names[node as usize];
        assert_eq!(*size, snap.owned(node), "{name}: self size");
        assert_eq!(*retained, dom.retained(node), "{name}: retained size");
    }
    // AND the root retains everything, the holders are synthetic
    let (root_retained, _, root_type) = &seen[&1];
    assert_eq!(*root_retained, snap.total_owned());
    assert_eq!(root_type, "synthetic");
    assert_eq!(seen[&ids[6]].2, "closure", "a function is a closure");
}

//! Deterministic heap snapshots for the `memlens heap` tests, built with
//! `SnapshotBuilder` the way the CPython walker labels edges, and written
//! with the memlens-format writer.
#![allow(dead_code)]

use std::path::Path;

use memlens_heap::{
    EdgeKind, EdgeLabel, HeapSnapshot, NodeFlags, NodeId, RootKind, SnapshotBuilder, SnapshotMeta,
};

/// The small application heap every heap test reads:
///
/// ```text
/// module app ─Dict→ app.__dict__ ─Attr cache→ dict ─DictValue 'k'→ list ─Index i→ Request ×N
///   Request ─Dict→ __dict__ ─Attr body→ bytes (10,033 B each)
/// app.__dict__ ─Attr handler→ function ─Attr __closure__→ tuple ─Index 0→ cell ─Cell state→ dict
/// app.__dict__ ─Attr old→ legacy.Request (a second type named Request)
/// class app.Request (a Class root); a frame root whose local `tmp` is a str;
/// a weakref from the module dict to the first Request (never retains);
/// a bytearray held from C (a hidden holder missing 1 reference);
/// a two-list garbage cycle no root reaches.
/// ```
pub struct AppHeap {
    pub snap: HeapSnapshot,
    pub list: NodeId,
    pub requests: Vec<NodeId>,
    pub bodies: Vec<NodeId>,
    pub garbage: NodeId,
}

pub fn app_heap(requests: usize, pid: u32) -> AppHeap {
    let meta = SnapshotMeta {
        python: "3.11.7".into(),
        pid,
        unix_time_ns: 1_700_000_000_000_000_000,
        rss_bytes: 50 << 20,
        strings_included: false,
        hostname: None,
        argv: Some(vec!["python".into(), "app.py".into()]),
    };
    let mut b = SnapshotBuilder::new(meta);
    let module_t = b.add_type("builtins", "module");
    let dict_t = b.add_type("builtins", "dict");
    let list_t = b.add_type("builtins", "list");
    let tuple_t = b.add_type("builtins", "tuple");
    let bytes_t = b.add_type("builtins", "bytes");
    let str_t = b.add_type("builtins", "str");
    let func_t = b.add_type("builtins", "function");
    let cell_t = b.add_type("builtins", "cell");
    let type_t = b.add_type("builtins", "type");
    let frame_t = b.add_type("builtins", "frame");
    let weak_t = b.add_type("builtins", "weakref");
    let bytearray_t = b.add_type("builtins", "bytearray");
    let req_t = b.add_type("app", "Request");
    let legacy_t = b.add_type("legacy", "Request");
    let gc = NodeFlags::GC_TRACKED;
    let mut addr = 0x7f00_0000_1000u64;
    let mut next = |size: u64| {
        addr += size.max(16).next_multiple_of(16);
        addr
    };
    let module = b.add_node(next(72), module_t, 72, 72, 5, gc);
    let module_name = b.intern("app");
    b.set_node_name(module, module_name);
    let mdict = b.add_node(next(1200), dict_t, 1200, 1200, 1, gc);
    let cache = b.add_node(next(232), dict_t, 232, 232, 1, gc);
    let list_size = 56 + 8 * requests as u64;
    let list = b.add_node(next(list_size), list_t, list_size, list_size, 1, gc);
    let mut reqs = Vec::new();
    let mut bodies = Vec::new();
    let body_name = b.intern("body");
    for i in 0..requests {
        let r = b.add_node(next(48), req_t, 48, 48, 1, gc);
        let d = b.add_node(next(104), dict_t, 104, 104, 1, gc);
        let body = b.add_node(next(10_033), bytes_t, 10_033, 10_033, 1, 0);
        b.add_edge(r, d, EdgeLabel::bare(EdgeKind::Dict));
        b.add_edge(d, body, EdgeLabel::named(EdgeKind::Attr, body_name));
        b.add_edge(list, r, EdgeLabel::index(i as u32));
        reqs.push(r);
        bodies.push(body);
    }
    let func = b.add_node(next(160), func_t, 160, 160, 2, gc);
    let handler = b.intern("handler");
    b.set_node_name(func, handler);
    let closure = b.add_node(next(48), tuple_t, 48, 48, 1, gc);
    let cell = b.add_node(next(40), cell_t, 40, 40, 1, gc);
    let state = b.add_node(next(640), dict_t, 640, 640, 1, gc);
    let cls = b.add_node(next(1000), type_t, 1000, 1000, 8, gc);
    let cls_name = b.intern("Request");
    b.set_node_name(cls, cls_name);
    let frame = b.add_node(next(400), frame_t, 400, 400, 1, gc);
    let tmp = b.add_node(next(60), str_t, 60, 60, 1, 0);
    let weak = b.add_node(next(64), weak_t, 64, 64, 1, gc);
    let old = b.add_node(next(48), legacy_t, 48, 48, 1, gc);
    let held = b.add_node(next(4153), bytearray_t, 57, 4153, 2, 0);
    let g1 = b.add_node(next(56), list_t, 56, 56, 1, gc);
    let g2 = b.add_node(next(56), list_t, 56, 56, 1, gc);

    let attr = |b: &mut SnapshotBuilder, name: &str| {
        let id = b.intern(name);
        EdgeLabel::named(EdgeKind::Attr, id)
    };
    b.add_edge(module, mdict, EdgeLabel::bare(EdgeKind::Dict));
    for (name, to) in [
        ("cache", cache),
        ("handler", func),
        ("Request", cls),
        ("last", weak),
        ("old", old),
    ] {
        let l = attr(&mut b, name);
        b.add_edge(mdict, to, l);
    }
    let k = b.intern("'k'");
    b.add_edge(cache, list, EdgeLabel::named(EdgeKind::DictValue, k));
    let l = attr(&mut b, "__closure__");
    b.add_edge(func, closure, l);
    b.add_edge(closure, cell, EdgeLabel::index(0));
    let state_name = b.intern("state");
    b.add_edge(cell, state, EdgeLabel::named(EdgeKind::Cell, state_name));
    if let Some(&first) = reqs.first() {
        b.add_edge(weak, first, EdgeLabel::bare(EdgeKind::Weak));
    }
    for &r in &reqs {
        b.add_edge(r, cls, EdgeLabel::bare(EdgeKind::Class));
    }
    let l = attr(&mut b, "tmp");
    b.add_edge(frame, tmp, l);
    b.add_edge(g1, g2, EdgeLabel::index(0));
    b.add_edge(g2, g1, EdgeLabel::index(0));
    b.add_root(RootKind::Module, "app", module, 0);
    b.add_root(RootKind::Class, "app.Request", cls, 0);
    b.add_root(RootKind::Frame, "thread 1 main (app.py:10)", frame, 0);
    b.add_root(RootKind::HiddenHolder, "held from C", held, 1);
    AppHeap {
        snap: b.finish(),
        list,
        requests: reqs,
        bodies,
        garbage: g1,
    }
}

/// Writes `snap` to `path` as a `.mlh` file.
pub fn write(snap: &HeapSnapshot, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    memlens_format::write_snapshot(snap, std::io::BufWriter::new(file)).unwrap();
}

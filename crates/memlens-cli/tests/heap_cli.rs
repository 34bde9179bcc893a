//! `memlens heap …` through the standalone binary on a deterministic
//! snapshot: what users read, the JSON documents, and bad files.

mod fixture;
mod heap_fixture;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use memlens_trace::format::Mode;
use serde_json::Value;

fn memlens(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_memlens"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The output of a run that must succeed, with the temporary directory
/// taken out of paths.
fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = memlens(args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    assert!(stderr.is_empty(), "{args:?}: {stderr}");
    stdout.replace(&format!("{}/", dir.display()), "")
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let text = ok(dir, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{text}"))
}

fn snapshot_file(dir: &Path) -> PathBuf {
    let path = dir.join("app.mlh");
    heap_fixture::write(&heap_fixture::app_heap(3, 4242).snap, &path);
    path
}

#[test]
fn summary_lists_types_by_retained_size_with_roots_holders_and_garbage() {
    // GIVEN a snapshot of an app whose cache holds three requests with 10 kB bodies
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let p = path.to_str().unwrap();
    // WHEN the summary is asked for THEN the header and the table read as the snapshot shows
    insta::assert_snapshot!("heap_summary", ok(dir.path(), &["heap", "summary", p]));
    insta::assert_snapshot!(
        "heap_summary_top3",
        ok(dir.path(), &["heap", "summary", "--top", "3", p])
    );
    // AND the JSON document carries the same figures under a versioned schema
    let text = ok(dir.path(), &["heap", "summary", p, "--json"]);
    insta::assert_snapshot!("heap_summary_json", text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema"], "memlens.heap-summary/1");
    let bytes = doc["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "builtins.bytes")
        .unwrap();
    assert_eq!(bytes["count"], 3);
    assert_eq!(bytes["owned"], 3 * 10_033);
    assert_eq!(doc["snapshot"]["unreachable"]["objects"], 2);
    // AND the same file prints the same bytes every time
    assert_eq!(
        ok(dir.path(), &["heap", "summary", "--json", p]),
        ok(dir.path(), &["heap", "summary", "--json", p])
    );
}

#[test]
fn dominators_show_what_each_object_keeps_alive_as_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let p = path.to_str().unwrap();
    // WHEN the top of the dominator tree is asked for THEN the module keeps the cache alive
    insta::assert_snapshot!(
        "heap_dominators",
        ok(dir.path(), &["heap", "dominators", p])
    );
    // AND every level and share can be shown, and the tree below one object
    insta::assert_snapshot!(
        "heap_dominators_all",
        ok(
            dir.path(),
            &[
                "heap",
                "dominators",
                p,
                "--depth",
                "10",
                "--min-percent",
                "0"
            ]
        )
    );
    let heap = heap_fixture::app_heap(3, 4242);
    let list = heap.list.to_string();
    let below = ok(
        dir.path(),
        &["heap", "dominators", p, "--node", &list, "--depth", "1"],
    );
    assert!(
        below.contains("below builtins.list at 0x7f0000001640 (retains 29.9 KiB)"),
        "{below}"
    );
    assert_eq!(
        below.matches("app.Request (48 B own)").count(),
        3,
        "{below}"
    );
    let by_addr = ok(
        dir.path(),
        &[
            "heap",
            "dominators",
            p,
            "--node",
            "0x7f0000001640",
            "--depth",
            "1",
        ],
    );
    assert_eq!(below, by_addr, "an address names the same object as its id");
    // AND the JSON rows carry ids and addresses to drill down with
    let text = ok(dir.path(), &["heap", "dominators", p, "--json"]);
    insta::assert_snapshot!("heap_dominators_json", text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema"], "memlens.heap-dominators/1");
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["type"], "builtins.module");
    assert_eq!(nodes[0]["depth"], 0);
    assert_eq!(nodes[3]["node"], heap.list);
    assert_eq!(
        nodes[3]["omitted"], 3,
        "its requests are one level too deep"
    );
    // AND objects under the floor are left out, their parents saying so
    let doc = json(
        dir.path(),
        &["heap", "dominators", p, "--json", "--min-percent", "20"],
    );
    let nodes = doc["nodes"].as_array().unwrap();
    assert!(nodes
        .iter()
        .all(|n| n["retained"].as_u64().unwrap() * 5 >= 38_752));
    assert_eq!(nodes[1]["type"], "builtins.dict");
    assert_eq!(
        nodes[1]["omitted"], 3,
        "handler, last and old are under 20%: {doc}"
    );
}

#[test]
fn path_spells_the_way_from_a_root_as_python_and_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let p = path.to_str().unwrap();
    let heap = heap_fixture::app_heap(3, 4242);
    // WHEN the path to one body is asked for THEN it is the expression that reaches it
    let body = heap.bodies[1].to_string();
    insta::assert_snapshot!(
        "heap_path_node",
        ok(dir.path(), &["heap", "path", p, "--node", &body])
    );
    // AND a type's instances are grouped by signature, a qualname being enough
    insta::assert_snapshot!(
        "heap_path_type",
        ok(dir.path(), &["heap", "path", p, "--type", "bytes"])
    );
    let text = ok(dir.path(), &["heap", "path", p, "--type", "app.Request"]);
    assert!(text.contains("app.cache['k'][*]\n"), "{text}");
    // AND the JSON document has the expression, the signature and every step
    let text = ok(dir.path(), &["heap", "path", p, "--node", &body, "--json"]);
    insta::assert_snapshot!("heap_path_node_json", text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema"], "memlens.heap-path/1");
    assert_eq!(doc["path"]["expression"], "app.cache['k'][1].body");
    assert_eq!(doc["path"]["signature"], "app.cache['k'][*].body");
    assert_eq!(doc["path"]["steps"].as_array().unwrap().len(), 6);
    let doc = json(
        dir.path(),
        &["heap", "path", p, "--type", "builtins.bytes", "--json"],
    );
    let groups = doc["type_paths"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["count"], 3);
    assert_eq!(groups[0]["example"]["expression"], "app.cache['k'][0].body");
    // AND objects held from C, garbage and other roots' objects say how they stand
    let held = ok(dir.path(), &["heap", "path", p, "--type", "bytearray"]);
    assert!(held.contains("<held from C: 1 refs>"), "{held}");
    let garbage = heap.garbage.to_string();
    let text = ok(dir.path(), &["heap", "path", p, "--node", &garbage]);
    assert!(text.contains("unreachable: no root reaches it"), "{text}");
    let doc = json(
        dir.path(),
        &["heap", "path", p, "--node", &garbage, "--json"],
    );
    assert_eq!(doc["path"], Value::Null);
    assert_eq!(doc["target"]["reachable"], false);
    let text = ok(
        dir.path(),
        &["heap", "path", p, "--node", &body, "--root", "held from C"],
    );
    assert!(text.contains("not reached from that root"), "{text}");
    let text = ok(
        dir.path(),
        &[
            "heap",
            "path",
            p,
            "--type",
            "str",
            "--root",
            "thread 1 main (app.py:10)",
        ],
    );
    assert!(text.contains("e.g. tmp\n"), "{text}");
}

#[test]
fn suspects_follow_the_big_retainers_down_to_the_accumulation_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let p = path.to_str().unwrap();
    // WHEN leak suspects are asked for THEN the cache's list is where the memory accumulates
    insta::assert_snapshot!("heap_suspects", ok(dir.path(), &["heap", "suspects", p]));
    let text = ok(dir.path(), &["heap", "suspects", p, "--json"]);
    insta::assert_snapshot!("heap_suspects_json", text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema"], "memlens.heap-suspects/1");
    let suspects = doc["suspects"].as_array().unwrap();
    assert_eq!(suspects.len(), 2);
    assert_eq!(suspects[0]["accumulation"]["type"], "builtins.list");
    assert_eq!(suspects[0]["path"]["expression"], "app.cache['k']");
    assert_eq!(suspects[0]["breakdown"][0]["type"], "app.Request");
    assert_eq!(suspects[0]["breakdown"][0]["count"], 3);
    assert_eq!(doc["unreachable_count"], 2);
    // AND a higher bar leaves only the module
    let doc = json(
        dir.path(),
        &["heap", "suspects", p, "--json", "--min-percent", "50"],
    );
    assert_eq!(doc["suspects"].as_array().unwrap().len(), 1);
}

/// One line on stderr naming the problem, nothing on stdout, exit 2.
fn assert_clean_failure(args: &[&str], what: &str) -> String {
    let (code, stdout, stderr) = memlens(args);
    assert_eq!(code, 2, "{what}: exit {code}, stderr {stderr}");
    assert!(stdout.is_empty(), "{what}: {stdout}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
    assert!(stderr.starts_with("memlens: error: "), "{what}: {stderr}");
    stderr
}

#[test]
fn unknown_types_nodes_and_roots_are_errors_that_help() {
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let p = path.to_str().unwrap();
    // GIVEN a type name with a typo THEN the error lists the close names
    let err = assert_clean_failure(&["heap", "path", p, "--type", "app.Reqest"], "typo");
    assert!(
        err.contains("no type `app.Reqest` in the snapshot; close matches: app.Request"),
        "{err}"
    );
    let err = assert_clean_failure(&["heap", "path", p, "--type", "Dict"], "case");
    assert!(err.contains("close matches: builtins.dict"), "{err}");
    let err = assert_clean_failure(&["heap", "path", p, "--type", "zzzzzzzzzz"], "far");
    assert!(
        err.contains("memlens heap summary` lists its 14 types"),
        "{err}"
    );
    // AND a qualname two types share asks for the module
    let err = assert_clean_failure(&["heap", "path", p, "--type", "Request"], "ambiguous");
    assert!(
        err.contains("`Request` is ambiguous: app.Request, legacy.Request"),
        "{err}"
    );
    // AND nodes out of range, unknown addresses, junk and unknown roots are refused
    let err = assert_clean_failure(&["heap", "path", p, "--node", "25"], "range");
    assert!(
        err.contains("no node 25: the snapshot has 25 objects (ids 0 to 24)"),
        "{err}"
    );
    let err = assert_clean_failure(&["heap", "dominators", p, "--node", "0x10"], "addr");
    assert!(err.contains("no object at address 0x10"), "{err}");
    assert_clean_failure(&["heap", "path", p, "--node", "0xzz"], "bad hex");
    assert_clean_failure(&["heap", "path", p, "--node", "many"], "junk");
    let err = assert_clean_failure(
        &["heap", "path", p, "--type", "str", "--root", "ap"],
        "root",
    );
    assert!(err.contains("no root named `ap`"), "{err}");
    assert!(err.contains("close matches: app"), "{err}");
    // AND clap refuses missing or conflicting targets and nonsense numbers
    for args in [
        &["heap", "path", p][..],
        &["heap", "path", p, "--type", "str", "--node", "1"],
        &["heap", "summary", p, "--top", "0"],
        &["heap", "dominators", p, "--min-percent", "nan"],
        &["heap", "nosuch", p],
        &["heap"],
    ] {
        let (code, stdout, stderr) = memlens(args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn truncated_flipped_and_foreign_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let whole = std::fs::read(&path).unwrap();
    let bad = dir.path().join("bad.mlh");
    let b = bad.to_str().unwrap();
    // GIVEN the file cut at every length THEN every verb says it is truncated or not a snapshot
    for cut in 0..whole.len() {
        std::fs::write(&bad, &whole[..cut]).unwrap();
        let verb = ["summary", "dominators", "suspects"][cut % 3];
        assert_clean_failure(&["heap", verb, b], &format!("cut at {cut}"));
    }
    std::fs::write(&bad, &whole[..whole.len() - 1]).unwrap();
    let err = assert_clean_failure(&["heap", "summary", b, "--json"], "one byte short");
    assert!(err.contains("cannot read heap snapshot"), "{err}");
    assert!(err.contains("bad.mlh"), "the message names the file: {err}");
    assert!(err.contains("truncated"), "{err}");
    // GIVEN a bit flipped anywhere THEN the checksum or the content check catches it, or the
    // file still reads whole, and no verb panics on it
    let mut read_anyway = 0;
    for at in 0..whole.len() {
        let mut flipped = whole.clone();
        flipped[at] ^= 0x10;
        std::fs::write(&bad, &flipped).unwrap();
        let (code, _, stderr) = memlens(&["heap", "summary", b]);
        assert!(!stderr.contains("panicked"), "flip at {at}: {stderr}");
        if code != 0 {
            assert_clean_failure(&["heap", "summary", b], &format!("flip at {at}"));
            continue;
        }
        read_anyway += 1;
        for args in [
            &["heap", "dominators", b, "--min-percent", "0"][..],
            &["heap", "suspects", b],
            &["heap", "path", b, "--node", "3"],
        ] {
            let (code, _, stderr) = memlens(args);
            assert!(code == 0, "flip at {at}, {args:?}: {stderr}");
        }
    }
    assert!(
        read_anyway < whole.len() / 10,
        "{read_anyway} flips went unseen"
    );
    // GIVEN an allocation capture THEN the error names the verbs that read it
    let capture = dir.path().join("app.mlc");
    fixture::write_program(&capture, 7, Mode::Exact, 10);
    let err = assert_clean_failure(&["heap", "summary", capture.to_str().unwrap()], "capture");
    assert!(
        err.contains("app.mlc is a memlens allocation capture, not a heap snapshot"),
        "{err}"
    );
    assert!(err.contains("memlens summary"), "{err}");
    // GIVEN a GC log, JSON, an empty file, a directory or no file THEN one line each
    let mut gc_log = whole.clone();
    gc_log[6] = 4; // the container's kind code: a GC event log
    std::fs::write(&bad, &gc_log).unwrap();
    let err = assert_clean_failure(&["heap", "suspects", b], "gc log");
    assert!(
        err.contains("this is a memlens GC event log file, not a heap snapshot file"),
        "{err}"
    );
    std::fs::write(&bad, b"{\"snapshot\": {}}").unwrap();
    let err = assert_clean_failure(&["heap", "summary", b], "JSON");
    assert!(err.contains("not a memlens file"), "{err}");
    std::fs::write(&bad, b"").unwrap();
    assert_clean_failure(&["heap", "path", b, "--node", "0"], "empty");
    let err = assert_clean_failure(&["heap", "summary", dir.path().to_str().unwrap()], "dir");
    assert!(err.contains("is a directory"), "{err}");
    let err = assert_clean_failure(&["heap", "dominators", "/nonexistent/x.mlh"], "missing");
    assert!(err.contains("cannot open /nonexistent/x.mlh"), "{err}");
}

#[test]
fn a_reader_that_goes_away_ends_the_report_quietly() {
    // GIVEN a snapshot whose summary is far longer than a pipe holds
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.mlh");
    let mut b = memlens_heap::SnapshotBuilder::new(memlens_heap::SnapshotMeta::default());
    let module_t = b.add_type("builtins", "module");
    let module = b.add_node(0x1000, module_t, 72, 72, 1, 0);
    b.add_root(memlens_heap::RootKind::Module, "wide", module, 0);
    for i in 0..5_000u32 {
        let ty = b.add_type("wide", &format!("Type{i:05}_with_a_long_enough_name"));
        let node = b.add_node(0x10_0000 + 64 * u64::from(i), ty, 64, 64, 1, 0);
        b.add_edge(module, node, memlens_heap::EdgeLabel::index(i));
    }
    heap_fixture::write(&b.finish(), &path);
    for json in [false, true] {
        // WHEN the reader closes the pipe after a few bytes (`| head -c 100`)
        let mut args = vec!["heap", "summary", "--top", "5000", path.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_memlens"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut head = [0u8; 100];
        stdout.read_exact(&mut head).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        // THEN memlens stops without a panic or a message, and exits 0
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "json {json}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "json {json}");
    }
}

#[test]
fn export_writes_a_heapsnapshot_devtools_can_read() {
    // GIVEN the app snapshot
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let p = path.to_str().unwrap();
    let out = dir.path().join("app.heapsnapshot");
    let o = out.to_str().unwrap();
    // WHEN it is exported THEN one line says what was written
    let said = ok(dir.path(), &["heap", "export", p, "-o", o]);
    let size = std::fs::metadata(&out).unwrap().len();
    let heap = heap_fixture::app_heap(3, 4242);
    // 25 objects, the synthetic root, 4 root holders and (unreachable); 26
    // references, 4 + 1 edges from the root, 4 from the holders, 1 to garbage
    assert_eq!(
        said,
        format!(
            "Wrote app.heapsnapshot (31 nodes, 36 edges, {})\n",
            memlens_heap::human_bytes(size)
        )
    );
    // AND the file is V8 heap snapshot JSON whose counts match its arrays
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let meta = &doc["snapshot"];
    let nodes = meta["node_count"].as_u64().unwrap();
    assert_eq!(
        nodes,
        heap.snap.node_count() as u64 + 1 + heap.snap.roots().len() as u64 + 1
    );
    let node_fields = meta["meta"]["node_fields"].as_array().unwrap().len() as u64;
    assert_eq!(
        doc["nodes"].as_array().unwrap().len() as u64,
        nodes * node_fields
    );
    let edges = meta["edge_count"].as_u64().unwrap();
    assert_eq!(doc["edges"].as_array().unwrap().len() as u64, edges * 3);
    assert!(doc["strings"]
        .as_array()
        .unwrap()
        .contains(&Value::from("app.Request")));
    // AND the default name is the snapshot's with .heapsnapshot
    std::fs::remove_file(&out).unwrap();
    ok(dir.path(), &["heap", "export", p]);
    assert!(out.exists());
}

#[test]
fn export_never_replaces_a_file_unasked_nor_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = snapshot_file(dir.path());
    let p = path.to_str().unwrap();
    let out = dir.path().join("old.heapsnapshot");
    let o = out.to_str().unwrap();
    std::fs::write(&out, b"keep me").unwrap();
    // GIVEN an existing output THEN it is kept unless --force is given
    let err = assert_clean_failure(&["heap", "export", p, "-o", o], "exists");
    assert!(err.contains("already exists; pass --force"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    ok(dir.path(), &["heap", "export", p, "-o", o, "--force"]);
    assert!(std::fs::read(&out).unwrap().starts_with(b"{\"snapshot\""));
    // GIVEN the input as the output THEN it is refused, even with --force
    let before = std::fs::read(&path).unwrap();
    let err = assert_clean_failure(&["heap", "export", p, "-o", p, "--force"], "same");
    assert!(err.contains("it is the input"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // GIVEN a corrupt snapshot THEN one line, and no output or temporary left
    let bad = dir.path().join("bad.mlh");
    std::fs::write(&bad, &before[..before.len() / 2]).unwrap();
    let fresh = dir.path().join("fresh.heapsnapshot");
    let err = assert_clean_failure(
        &[
            "heap",
            "export",
            bad.to_str().unwrap(),
            "-o",
            fresh.to_str().unwrap(),
        ],
        "corrupt",
    );
    assert!(err.contains("cannot read heap snapshot"), "{err}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with("fresh")), "{names:?}");
}

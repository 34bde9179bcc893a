//! What users read from `memlens summary/table/tree/stats/diff/flamegraph/export`,
//! run through the standalone binary on deterministic captures.

mod fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use memlens_trace::format::Mode;

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

fn capture(dir: &Path, name: &str, pid: u32, mode: Mode, cache: u64) -> PathBuf {
    let path = dir.join(name);
    fixture::write_program(&path, pid, mode, cache);
    path
}

/// Paths and durations vary between runs; snapshots hold neither.
fn redact(dir: &Path, text: &str) -> String {
    let text = text.replace(&format!("{}/", dir.display()), "");
    regex_lite_replace(&text)
}

fn regex_lite_replace(text: &str) -> String {
    // Replace "<digits>[.<digits>] ms|s" after "Duration  " and "reached at ".
    text.lines()
        .map(|line| {
            for prefix in ["Duration  ", "reached at "] {
                if let Some(at) = line.find(prefix) {
                    return format!("{}{}[duration]", &line[..at], prefix);
                }
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_report(args: &[&str], dir: &Path) -> String {
    let (code, stdout, stderr) = memlens(args);
    assert_eq!(code, 0, "{stderr}");
    redact(dir, &stdout)
}

#[test]
fn summary_table_tree_and_stats_read_well() {
    // GIVEN a capture of a program that parses rows, fills a cache and has a worker thread
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "app.mlc", 1234, Mode::Exact, 300);
    let file = path.to_str().unwrap();
    // WHEN each report runs, THEN its output is what the snapshot shows
    insta::assert_snapshot!("summary", run_report(&["summary", file], dir.path()));
    insta::assert_snapshot!(
        "summary_peak",
        run_report(&["summary", "--peak", file], dir.path())
    );
    insta::assert_snapshot!("table", run_report(&["table", file], dir.path()));
    insta::assert_snapshot!(
        "table_leaks",
        run_report(&["table", "--leaks", file], dir.path())
    );
    insta::assert_snapshot!(
        "table_by_count",
        run_report(
            &["table", "--sort", "count", "--limit", "3", file],
            dir.path()
        )
    );
    insta::assert_snapshot!("tree", run_report(&["tree", file], dir.path()));
    insta::assert_snapshot!(
        "tree_peak",
        run_report(&["tree", "--peak", file], dir.path())
    );
    insta::assert_snapshot!("stats", run_report(&["stats", file], dir.path()));
}

#[test]
fn sampled_captures_mark_figures_as_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(
        dir.path(),
        "sampled.mlc",
        77,
        Mode::Sampled {
            mean_interval: 512 * 1024,
        },
        10,
    );
    let out = run_report(
        &["table", "--limit", "3", path.to_str().unwrap()],
        dir.path(),
    );
    insta::assert_snapshot!("table_sampled", out);
    let out = run_report(&["summary", path.to_str().unwrap()], dir.path());
    assert!(out.contains("Figures marked ~ are estimates from a sampled capture."));
}

#[test]
fn diff_lists_the_sites_that_grew() {
    // GIVEN two captures, the second with a bigger cache
    let dir = tempfile::tempdir().unwrap();
    let before = capture(dir.path(), "before.mlc", 1, Mode::Exact, 100);
    let after = capture(dir.path(), "after.mlc", 2, Mode::Exact, 400);
    // WHEN they are compared at exit
    let out = run_report(
        &[
            "diff",
            "--leaks",
            before.to_str().unwrap(),
            after.to_str().unwrap(),
        ],
        dir.path(),
    );
    // THEN only the cache grew
    insta::assert_snapshot!("diff_leaks", out);
}

#[test]
fn several_captures_combine() {
    // GIVEN a parent and a child capture
    let dir = tempfile::tempdir().unwrap();
    let parent = capture(dir.path(), "app.mlc", 10, Mode::Exact, 100);
    let child = capture(dir.path(), "app.11.mlc", 11, Mode::Exact, 50);
    // WHEN summarized together, THEN both processes are listed and their figures add up
    let out = run_report(
        &[
            "summary",
            "--leaks",
            parent.to_str().unwrap(),
            child.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(
        out.contains("pid 10 (parent 1)") && out.contains("pid 11 (parent 1)"),
        "{out}"
    );
    assert!(out.contains("Leaked    29.3 KiB in 152 blocks"), "{out}");
    assert!(out.contains("Peak (sum of each process's peak)"), "{out}");
}

#[test]
fn corrupt_and_truncated_captures_are_clear_errors_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = capture(dir.path(), "good.mlc", 5, Mode::Exact, 10);
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.mlc", Vec::new(), "not a memlens capture"),
        (
            "text.mlc",
            b"hello, world\n".to_vec(),
            "not a memlens capture",
        ),
        (
            "header_cut.mlc",
            bytes[..20].to_vec(),
            "ends inside its header",
        ),
        (
            "flipped.mlc",
            {
                let mut b = bytes.clone();
                let at = b.len() - 40;
                b[at] ^= 0xff;
                b
            },
            "checksum mismatch",
        ),
    ];
    for (name, content, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        for verb in ["summary", "table", "tree", "stats"] {
            let (code, _, stderr) = memlens(&[verb, path.to_str().unwrap()]);
            assert_eq!(code, 2, "{verb} {name}: {stderr}");
            assert!(stderr.contains(message), "{verb} {name}: {stderr}");
            assert!(stderr.contains(name), "the error names the file: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    let (code, _, stderr) = memlens(&["summary", dir.path().join("missing.mlc").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot open"), "{stderr}");
}

#[test]
fn a_capture_cut_mid_frame_is_reported_with_a_warning() {
    // GIVEN a capture whose last frame was torn (the process was killed while writing)
    let dir = tempfile::tempdir().unwrap();
    let good = capture(dir.path(), "good.mlc", 5, Mode::Exact, 10);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("killed.mlc");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    // WHEN it is summarized, THEN the report runs and says the file was cut
    let (code, _stdout, stderr) = memlens(&["summary", cut.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("was cut short"), "{stderr}");
}

#[test]
fn flamegraph_is_one_self_contained_html_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "app.mlc", 1234, Mode::Exact, 300);
    let out = dir.path().join("flame.html");
    let (code, stdout, stderr) = memlens(&[
        "flamegraph",
        "--peak",
        path.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("flame.html"));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<script src") && !html.contains("<link "),
        "no external resources"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network references"
    );
    assert!(html.contains("\"initial\":\"peak\""));
    assert!(html.contains("parse_row") && html.contains("build_cache"));
}

#[test]
fn exports_write_pprof_and_speedscope() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "app.mlc", 1234, Mode::Exact, 300);
    let pprof = dir.path().join("app.pb.gz");
    let (code, _, stderr) = memlens(&[
        "export",
        "--format",
        "pprof",
        path.to_str().unwrap(),
        "-o",
        pprof.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        &std::fs::read(&pprof).unwrap()[..2],
        &[0x1f, 0x8b],
        "gzip'd"
    );
    let (code, _, stderr) = memlens(&["export", "--format", "speedscope", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("app.speedscope.json")).unwrap())
            .unwrap();
    assert_eq!(doc["profiles"].as_array().unwrap().len(), 3);
    assert_eq!(doc["profiles"][2]["endValue"], 300 * 200 + 24);
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = memlens(args);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn json_reports_hold_the_figures_the_text_shows() {
    // GIVEN the capture of the text snapshots (1,303 blocks; worker 1 MiB, 300 cache entries of 200 B)
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "app.mlc", 1234, Mode::Exact, 300);
    let file = path.to_str().unwrap();
    // WHEN table runs with --json
    let table = run_json(&["table", "--json", file]);
    // THEN the document names its schema, the capture and the same ranked sites
    assert_eq!(table["schema"], "memlens.table/1");
    assert_eq!(table["captures"][0]["pid"], 1234);
    assert_eq!(table["captures"][0]["mode"], "exact");
    assert_eq!(table["estimated"], false);
    assert_eq!(table["metric"], "allocated");
    assert_eq!(table["site_count"], 5);
    assert_eq!(table["sites_total"]["blocks"], 1303);
    let sites = table["sites"].as_array().unwrap();
    assert_eq!(sites[0]["site"]["function"], "worker");
    assert_eq!(sites[0]["site"]["line"], 17);
    assert_eq!(sites[1]["site"]["function"], "build_cache");
    assert_eq!(sites[1]["blocks"], 300);
    assert_eq!(sites[1]["bytes"], 300 * 200);
    assert!(sites[4]["site"].is_null(), "[no Python frame] is null");
    // AND --limit and --sort apply as in text
    let by_count = run_json(&["table", "--json", "--sort", "count", "--limit", "2", file]);
    assert_eq!(by_count["sort"], "blocks");
    let sites = by_count["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0]["site"]["function"], "parse_row");

    // WHEN summary, stats and tree run with --json
    let summary = run_json(&["summary", "--json", "--leaks", file]);
    let stats = run_json(&["stats", "--json", file]);
    let tree = run_json(&["tree", "--json", "--peak", file]);
    // THEN each is its own schema with the totals, and the rows add up
    assert_eq!(summary["schema"], "memlens.summary/1");
    assert_eq!(summary["metric"], "leaks");
    let leaked = summary["totals"]["leaked"]["bytes"].as_i64().unwrap();
    let functions = summary["functions"].as_array().unwrap();
    assert!(!functions.is_empty());
    let own: i64 = functions
        .iter()
        .map(|f| f["own"]["bytes"].as_i64().unwrap())
        .sum();
    assert!(
        own <= leaked,
        "own bytes of listed functions within what leaked"
    );
    assert_eq!(stats["schema"], "memlens.stats/1");
    let histogram_blocks: i64 = stats["size_histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["blocks"].as_i64().unwrap())
        .sum();
    assert_eq!(histogram_blocks, 1303);
    for bucket in stats["size_histogram"].as_array().unwrap() {
        assert!(bucket["min_size"].as_u64() <= bucket["max_size"].as_u64());
    }
    assert!(stats["allocators"]
        .as_object()
        .is_some_and(|a| !a.is_empty()));
    assert_eq!(stats["top_by_bytes"][0]["site"]["function"], "worker");
    assert_eq!(tree["schema"], "memlens.tree/1");
    assert_eq!(tree["metric"], "peak");
    let nodes = tree["nodes"].as_array().unwrap();
    let ids: Vec<_> = nodes.iter().map(|n| n["id"].clone()).collect();
    for node in nodes {
        // a parent is listed before its children (depth-first order)
        if !node["parent"].is_null() {
            let at = ids
                .iter()
                .position(|id| *id == node["parent"])
                .expect("parent listed");
            let me = ids.iter().position(|id| *id == node["id"]).unwrap();
            assert!(at < me);
        } else {
            assert_eq!(node["depth"], 1);
        }
        assert!(node["total"]["bytes"].as_i64() >= node["own"]["bytes"].as_i64());
    }
}

#[test]
fn json_diff_and_sampled_estimates() {
    // GIVEN two captures, the second with a bigger cache, and a sampled capture
    let dir = tempfile::tempdir().unwrap();
    let before = capture(dir.path(), "before.mlc", 1, Mode::Exact, 100);
    let after = capture(dir.path(), "after.mlc", 2, Mode::Exact, 400);
    let sampled = capture(
        dir.path(),
        "sampled.mlc",
        77,
        Mode::Sampled {
            mean_interval: 512 * 1024,
        },
        10,
    );
    // WHEN diff runs with --json
    let diff = run_json(&[
        "diff",
        "--json",
        "--leaks",
        before.to_str().unwrap(),
        after.to_str().unwrap(),
    ]);
    // THEN only the cache grew, by 300 entries of 200 B
    assert_eq!(diff["schema"], "memlens.diff/1");
    assert_eq!(diff["grown_site_count"], 1);
    let grown = &diff["grown"][0];
    assert!(grown["site_label"]
        .as_str()
        .unwrap()
        .starts_with("build_cache"));
    assert_eq!(grown["growth"]["blocks"], 300);
    assert_eq!(grown["growth"]["bytes"], 300 * 200);
    assert_eq!(diff["before"]["captures"][0]["pid"], 1);
    // AND a sampled capture says its figures are estimates, as whole numbers
    let table = run_json(&["table", "--json", sampled.to_str().unwrap()]);
    assert_eq!(table["estimated"], true);
    assert_eq!(table["captures"][0]["sample_interval"], 512 * 1024);
    assert!(table["sites"][0]["bytes"].is_i64());
}

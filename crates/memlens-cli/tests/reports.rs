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

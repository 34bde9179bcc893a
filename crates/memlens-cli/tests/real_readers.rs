//! The outputs checked by the real consumers: the flame graph runs in
//! headless Chromium, the pprof export is decoded by `pprof-format` (npm) and
//! the speedscope export validates against the schema shipped in the
//! `speedscope` npm package.
//!
//! Chromium comes from Debian (`.ci/apt-packages.txt`), the npm packages from
//! `tests/capture/js/package-lock.json`, installed by `scripts/test.sh`
//! (`npm ci`), never from inside a test. The tests are `#[ignore]`d so that a
//! plain `cargo test` lists them as ignored instead of passing them silently;
//! `scripts/test.sh` runs them with `--ignored` when the tools are there, fails
//! under CI when they are not, and prints the skip otherwise.

mod fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use memlens_trace::format::Mode;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Fails the test, with what to install, unless `program` runs.
fn require(program: &str) {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is needed by this test (Debian package, see .ci/apt-packages.txt)"
    );
}

fn memlens(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_memlens"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs chromium; scripts/test.sh runs it"]
fn the_flame_graph_renders_and_its_search_and_zoom_run_in_chromium() {
    require("chromium");
    // GIVEN a flame graph of a capture
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("app.mlc");
    fixture::write_program(&capture, 1234, Mode::Exact, 300);
    let page = dir.path().join("app.html");
    memlens(&[
        "flamegraph",
        capture.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    // WHEN headless Chromium loads it with the self-test, which searches, zooms and switches figures
    let profile_dir = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile_dir.path().display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            &format!("file://{}#selftest=parse", page.display()),
        ])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    // THEN the self-test ran without a script error and saw what the capture holds
    let start = dom
        .find("<pre id=\"selftest\">")
        .expect("the self-test ran")
        + "<pre id=\"selftest\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert_eq!(
        report["matched_bytes"], 55_468,
        "search for 'parse' finds parse_row's bytes: {report}"
    );
    assert_eq!(report["focus"], "worker", "{report}");
    assert_eq!(report["leaks_total"], 300 * 200 + 24, "{report}");
    assert_eq!(report["peak_total"], (1 << 20) + 4096, "{report}");
    assert_eq!(
        report["chart_points"], 1,
        "one memory line per process: {report}"
    );
    assert!(report["drawn_initial"].as_u64().unwrap() >= 6, "{report}");
}

#[test]
#[ignore = "needs node and the npm packages of tests/capture/js; scripts/test.sh runs it"]
fn pprof_and_speedscope_exports_are_read_by_real_readers() {
    require("node");
    let js = repo_root().join("tests/capture/js");
    assert!(
        js.join("node_modules/pprof-format").exists(),
        "run `npm ci` in {} first (scripts/test.sh does)",
        js.display()
    );
    // GIVEN both exports of a capture
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("app.mlc");
    fixture::write_program(&capture, 1234, Mode::Exact, 300);
    let pprof = dir.path().join("app.pb.gz");
    let speedscope = dir.path().join("app.speedscope.json");
    memlens(&[
        "export",
        "--format",
        "pprof",
        capture.to_str().unwrap(),
        "-o",
        pprof.to_str().unwrap(),
    ]);
    memlens(&[
        "export",
        "--format",
        "speedscope",
        capture.to_str().unwrap(),
        "-o",
        speedscope.to_str().unwrap(),
    ]);
    // WHEN the real readers read them
    let out = Command::new("node")
        .arg(js.join("check_exports.mjs"))
        .args([&pprof, &speedscope])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // THEN pprof holds the six figures with the right totals and sites
    let pprof = &seen["pprof"];
    assert_eq!(pprof["default_sample_type"], "peak_space");
    assert_eq!(pprof["totals"]["alloc_objects/count"], 1303);
    assert_eq!(pprof["totals"]["peak_space/bytes"], (1 << 20) + 4096);
    assert_eq!(pprof["totals"]["inuse_space/bytes"], 300 * 200 + 24);
    assert_eq!(pprof["peak_by_leaf"]["worker app.py:17"], 1 << 20);
    assert_eq!(pprof["peak_by_leaf"]["load app.py:8"], 4096);
    // AND the speedscope file is valid against speedscope's own schema
    assert_eq!(
        seen["speedscope"]["valid"], true,
        "{}",
        seen["speedscope"]["errors"]
    );
    assert_eq!(seen["speedscope"]["profiles"].as_array().unwrap().len(), 3);
}

//! Every rule against its fixture: the positive cases (marked `# MLxxx` in
//! the fixture) are reported, the negative cases are not, and the rendered
//! diagnostics are pinned by a snapshot.

use std::path::{Path, PathBuf};

use memlens_lint::output::render_text;
use memlens_lint::{lint_source, Report, Rule, RuleSelection, Settings};

fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    (PathBuf::from("fixtures").join(name), bytes)
}

fn only(rule: Rule) -> Settings {
    Settings {
        selection: RuleSelection::new(Some(&[rule.code().to_string()]), &[]).unwrap(),
        ..Settings::default()
    }
}

/// GIVEN a fixture whose positive lines carry a `# MLxxx` marker comment
/// WHEN it is linted with only that rule
/// THEN exactly the marked lines are reported, and the text output matches the snapshot.
fn check_fixture(rule: Rule, name: &str) -> String {
    let (path, bytes) = fixture(name);
    let diagnostics = lint_source(&path, &bytes, &only(rule));
    let text = String::from_utf8(bytes).unwrap();
    let marked: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains(&format!("# {}", rule.code())))
        .map(|(i, _)| i + 1)
        .collect();
    let reported: Vec<usize> = diagnostics.iter().map(|d| d.line).collect();
    assert!(
        diagnostics.iter().all(|d| d.rule == rule),
        "{diagnostics:#?}"
    );
    assert_eq!(
        reported,
        marked,
        "reported lines vs lines marked `# {}`:\n{diagnostics:#?}",
        rule.code()
    );
    render_text(&Report {
        diagnostics,
        files_checked: 1,
    })
}

#[test]
fn ml001_module_container_grows() {
    insta::assert_snapshot!(check_fixture(
        Rule::ModuleContainerGrows,
        "ML001_module_container_grows.py"
    ));
}

#[test]
fn ml002_class_attribute_mutated() {
    insta::assert_snapshot!(check_fixture(
        Rule::ClassAttributeMutated,
        "ML002_class_attribute_mutated.py"
    ));
}

#[test]
fn ml003_closure_grows_captured() {
    insta::assert_snapshot!(check_fixture(
        Rule::ClosureGrowsCaptured,
        "ML003_closure_grows_captured.py"
    ));
}

#[test]
fn ml004_listener_never_removed() {
    insta::assert_snapshot!(check_fixture(
        Rule::ListenerNeverRemoved,
        "ML004_listener_never_removed.py"
    ));
}

#[test]
fn ml005_cache_on_method() {
    insta::assert_snapshot!(check_fixture(
        Rule::CacheOnMethod,
        "ML005_cache_on_method.py"
    ));
}

#[test]
fn ml006_logger_per_call() {
    insta::assert_snapshot!(check_fixture(
        Rule::LoggerPerCall,
        "ML006_logger_per_call.py"
    ));
}

#[test]
fn ml007_exception_stored() {
    insta::assert_snapshot!(check_fixture(
        Rule::ExceptionStored,
        "ML007_exception_stored.py"
    ));
}

#[test]
fn a_noqa_comment_suppresses_only_the_named_rule() {
    // GIVEN a growing global whose growth line says `# noqa: ML001`
    let source = b"_seen = []\n\ndef f(x):\n    _seen.append(x)  # noqa: ML001\n\ndef g(x):\n    _other.append(x)\n\n_other = []\n";
    // WHEN linted with every rule
    let diagnostics = lint_source(Path::new("m.py"), source, &Settings::default());
    // THEN only the unsuppressed container is reported
    let lines: Vec<(usize, Rule)> = diagnostics.iter().map(|d| (d.line, d.rule)).collect();
    assert_eq!(lines, [(7, Rule::ModuleContainerGrows)]);
}

/// GIVEN a module using Scrapy's signals (PyDispatcher keeps weak references)
/// WHEN a bound method is connected without `weak=False`
/// THEN ML004 does not report it; with `weak=False` it does.
#[test]
fn ml004_scrapy_signals_hold_weak_references() {
    let source = "from scrapy import signals\n\nclass Ext:\n    def __init__(self, crawler):\n        crawler.signals.connect(self.on_close, signal=signals.spider_closed)\n        crawler.signals.connect(self.on_open, signal=signals.spider_opened, weak=False)\n\n    def on_close(self, spider):\n        pass\n\n    def on_open(self, spider):\n        pass\n";
    let diagnostics = lint_source(
        Path::new("ext.py"),
        source.as_bytes(),
        &only(Rule::ListenerNeverRemoved),
    );
    let lines: Vec<usize> = diagnostics.iter().map(|d| d.line).collect();
    assert_eq!(lines, [6], "{diagnostics:#?}");
}

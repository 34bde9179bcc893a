//! The rule pages in `docs/lint-rules/` are generated from each rule's own
//! doc comment (the `//!` block of its file under `src/rules/`), and the
//! rule table there from [`Rule::ALL`]. This test regenerates both and fails
//! when the committed files differ, so the docs cannot drift from the code.
//!
//! After editing a rule's doc comment, or adding a rule, rewrite the pages:
//!
//! ```sh
//! MEMLENS_UPDATE_DOCS=1 cargo test -p memlens-lint --test rule_docs
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use memlens_lint::{Rule, RuleSelection};

/// Rewrites the pages instead of comparing when set to `1`.
const UPDATE_VARIABLE: &str = "MEMLENS_UPDATE_DOCS";

/// The sections every rule doc has, in this order (ruff's rule page layout).
const SECTIONS: [&str; 4] = [
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn docs_dir() -> PathBuf {
    crate_dir().join("../../docs/lint-rules")
}

/// The file that holds `rule`: its kebab-case name in snake case.
fn source_file(rule: Rule) -> String {
    format!("{}.rs", rule.name().replace('-', "_"))
}

/// The page of `rule` inside `docs/lint-rules/`.
fn page_file(rule: Rule) -> String {
    format!("{}-{}.md", rule.code(), rule.name())
}

fn is_default(rule: Rule) -> bool {
    RuleSelection::default().is_enabled(rule)
}

/// The leading `//!` block of a source file, with the markers removed.
fn module_doc(source: &str) -> String {
    let mut doc = String::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("//!") else {
            break;
        };
        doc.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        doc.push('\n');
    }
    doc
}

fn generated_notice(source: &str) -> String {
    format!(
        "<!-- Generated from crates/memlens-lint/src/rules/{source} by \
         `{UPDATE_VARIABLE}=1 cargo test -p memlens-lint --test rule_docs`: \
         edit the doc comment there, not this file. -->\n"
    )
}

/// The page of one rule: its doc comment, titled by code and name.
fn render_page(rule: Rule) -> String {
    let source = source_file(rule);
    let path = crate_dir().join("src/rules").join(&source);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: every rule has its file ({e})", path.display()));
    let doc = module_doc(&text);
    let (title, body) = doc.split_once('\n').unwrap_or((&doc, ""));
    let expected_title = format!("{} `{}`.", rule.code(), rule.name());
    assert_eq!(
        title.trim(),
        expected_title,
        "{source}: the doc comment opens with the rule's code and name"
    );
    let mut from = 0;
    for section in SECTIONS {
        let at = body[from..]
            .lines()
            .position(|line| line == section)
            .unwrap_or_else(|| {
                panic!("{source}: the doc comment has `{section}` after the previous section")
            });
        from += body[from..]
            .lines()
            .take(at + 1)
            .map(|line| line.len() + 1)
            .sum::<usize>();
    }
    let mut page = generated_notice(&source);
    let _ = writeln!(page, "# {} `{}`\n", rule.code(), rule.name());
    let _ = writeln!(
        page,
        "{} Default: {}.\n",
        rule.summary(),
        if is_default(rule) { "on" } else { "off" }
    );
    page.push_str(body.trim_start_matches('\n'));
    page
}

/// The rule table: code, name, default, summary, one row per rule.
fn render_index() -> String {
    let mut index = format!(
        "<!-- Generated from the rule table (crates/memlens-lint/src/rule.rs) by \
         `{UPDATE_VARIABLE}=1 cargo test -p memlens-lint --test rule_docs`. -->\n"
    );
    index.push_str(
        "# memlens lint rules\n\n\
         Every rule [`memlens lint`](../lint.md) knows. Codes are stable; a rule\n\
         that is on by default runs unless `--select`/`--ignore` or\n\
         `[tool.memlens.lint]` say otherwise. Each page says what the rule finds,\n\
         why it leaks, an example, and what to write instead.\n\n\
         | code | name | default | what it finds |\n\
         |------|------|---------|---------------|\n",
    );
    for rule in Rule::ALL {
        let _ = writeln!(
            index,
            "| {code} | [{name}]({page}) | {default} | {summary} |",
            code = rule.code(),
            name = rule.name(),
            page = page_file(rule),
            default = if is_default(rule) { "on" } else { "off" },
            summary = rule.summary(),
        );
    }
    index
}

/// GIVEN the rules' doc comments and the rule table in the code
/// WHEN the pages are generated from them
/// THEN they equal the pages committed in docs/lint-rules/, and no page is
///      left there for a rule that does not exist.
#[test]
fn rule_pages_in_docs_match_the_code() {
    let update = std::env::var(UPDATE_VARIABLE).as_deref() == Ok("1");
    let dir = docs_dir();
    let mut expected = vec![("README.md".to_string(), render_index())];
    expected.extend(Rule::ALL.map(|rule| (page_file(rule), render_page(rule))));
    let mut stale = Vec::new();
    for (name, content) in &expected {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            stale.push(name.clone());
        }
    }
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| !expected.iter().any(|(known, _)| known == name))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty(),
        "docs/lint-rules/ is out of date for {stale:?}; regenerate it with \
         `{UPDATE_VARIABLE}=1 cargo test -p memlens-lint --test rule_docs`"
    );
    assert!(
        extra.is_empty(),
        "docs/lint-rules/ has pages for no rule: {extra:?}"
    );
}

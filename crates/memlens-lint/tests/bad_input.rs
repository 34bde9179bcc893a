//! Files that cannot be linted give one located ML000 diagnostic; nothing panics.

use std::path::Path;

use memlens_lint::{lint_paths, lint_source, Error, Rule, Settings};

fn lint(bytes: &[u8]) -> Vec<memlens_lint::Diagnostic> {
    lint_source(Path::new("bad.py"), bytes, &Settings::default())
}

#[test]
fn a_syntax_error_is_one_error_at_its_location() {
    // GIVEN a file with an unclosed call on line 2
    let diagnostics = lint(b"x = 1\ny = f(\n");
    // THEN one ML000 diagnostic points at line 2 or 3 and says "syntax error"
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0].rule, Rule::UnreadableSource);
    assert!(
        diagnostics[0].message.starts_with("syntax error"),
        "{}",
        diagnostics[0].message
    );
    assert!(diagnostics[0].line >= 2);
}

#[test]
fn a_python2_file_is_called_python2() {
    let diagnostics = lint(b"import sys\nprint \"hello\"\n");
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].line, 2);
    assert!(
        diagnostics[0].message.contains("Python 2"),
        "{}",
        diagnostics[0].message
    );
}

#[test]
fn a_binary_file_is_one_error() {
    let diagnostics = lint(b"\x7fELF\x02\x01\x01\x00\x00\x00garbage");
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].rule, Rule::UnreadableSource);
    assert!(diagnostics[0].message.starts_with("binary file"));
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (1, 8));
}

#[test]
fn a_latin1_file_is_one_error_on_the_offending_line() {
    let diagnostics = lint(b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n");
    assert_eq!(diagnostics.len(), 1);
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (2, 12));
    assert!(diagnostics[0].message.contains("UTF-8"));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic sweep of awkward inputs: truncations of real code,
    // lone surrogates' bytes, deep nesting, stray indentation.
    let code = include_bytes!("fixtures/ML004_listener_never_removed.py");
    for end in (0..code.len()).step_by(7) {
        let _ = lint(&code[..end]);
    }
    let _ = lint(&[b'('; 5000]);
    let _ = lint("x = [".repeat(2000).as_bytes());
    let _ = lint(b"\xed\xa0\x80");
    let _ = lint(b"  x = 1\n");
    let _ = lint(b"");
}

#[test]
fn a_run_goes_on_past_a_bad_file_and_a_missing_path_is_an_error() {
    // GIVEN a directory with a good file that leaks and a bad file
    let dir = std::env::temp_dir().join(format!("memlens-lint-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.py"), b"def (:\n").unwrap();
    std::fs::write(
        dir.join("good.py"),
        b"_x = []\ndef f(v):\n    _x.append(v)\n",
    )
    .unwrap();
    // WHEN the directory is linted
    let report = lint_paths(std::slice::from_ref(&dir), &Settings::default()).unwrap();
    // THEN both files are checked: one error, one finding
    let rules: Vec<Rule> = report.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(rules, [Rule::UnreadableSource, Rule::ModuleContainerGrows]);
    assert_eq!(report.files_checked, 2);
    // AND a path that does not exist is an error naming it
    let missing = dir.join("nope");
    let err = lint_paths(std::slice::from_ref(&missing), &Settings::default()).unwrap_err();
    assert!(matches!(err, Error::PathNotFound(ref p) if p == &missing));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_pathologically_deep_expression_does_not_overflow_the_stack() {
    // GIVEN a valid file whose expression nests fifty thousand levels deep
    // (a left-leaning `1 + 1 + …` chain), which a default 2 MiB thread stack
    // cannot walk
    let dir = std::env::temp_dir().join(format!("memlens-lint-deep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = format!(
        "x = 1{}\n_l = []\ndef f(v):\n    _l.append(v)\n",
        " + 1".repeat(50_000)
    );
    std::fs::write(dir.join("deep.py"), source).unwrap();
    // WHEN it is linted through lint_paths
    let report = lint_paths(std::slice::from_ref(&dir), &Settings::default()).unwrap();
    // THEN the run completes and still finds the leak after the deep line
    let rules: Vec<Rule> = report.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(rules, [Rule::ModuleContainerGrows]);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn rendered_text(path: &str, bytes: &[u8]) -> String {
    let report = memlens_lint::Report {
        diagnostics: lint_source(Path::new(path), bytes, &Settings::default()),
        files_checked: 1,
    };
    memlens_lint::output::render_text(&report)
}

#[test]
fn escape_sequences_in_a_file_do_not_reach_the_terminal() {
    // GIVEN a flagged line holding a clear-screen and a recolour sequence,
    // a carriage return and a bidi override, in a file whose name has an ESC too
    let source =
        "_cache = []\n\ndef f(x):\n    y = \"\x1b[2J\x1b[31m\u{202e}\"; _cache.append(x)  # \r\n";
    let text = rendered_text("evil\x1b].py", source.as_bytes());
    // THEN the text output holds no control character but newlines
    assert!(text.contains("ML001"), "{text}");
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.contains("\\x1b[2J\\x1b[31m\\u202e\"; _cache.append(x)"),
        "{text}"
    );
    assert!(text.contains("evil\\x1b].py"), "{text}");
    // AND the caret still sits under the reported call: the escapes before
    // it widened the indent as they widened the line
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("4 | "))
        .expect("source line shown");
    let caret = lines[at + 1].find('^').unwrap();
    let call = lines[at].rfind("_cache.append(x)").unwrap();
    assert_eq!(caret, call, "{text}");
}

#[test]
fn a_binary_file_is_named_not_echoed() {
    // GIVEN an ELF header linted as Python
    let text = rendered_text("a.out", b"\x7fELF\x02\x01\x01\x00\x00\x00\x03\x00>");
    // THEN the report says it is binary and shows no raw byte of it
    assert!(text.contains("binary file"), "{text}");
    assert!(!text.contains('\x7f') && !text.contains('\x02'), "{text:?}");
}

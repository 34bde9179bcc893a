//! Each file is linted with the configuration of the nearest
//! `pyproject.toml` above it, as ruff does.

use std::path::{Path, PathBuf};

use memlens_lint::lint_paths_with_nearest_config;

const GROWS: &str = "_seen = []\n\ndef handle(x):\n    _seen.append(x)\n";

fn write(root: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn reported(root: &Path, paths: &[PathBuf], select: Option<Vec<String>>) -> Vec<String> {
    let report = lint_paths_with_nearest_config(paths, select, Vec::new(), false).unwrap();
    report
        .diagnostics
        .iter()
        .map(|d| {
            let relative = d.path.strip_prefix(root).unwrap_or(&d.path);
            format!("{}:{}", relative.display(), d.rule.code())
        })
        .collect()
}

/// GIVEN a project whose pyproject ignores ML001, with a sub-project whose
///       own pyproject selects ML001 and excludes its `generated/` folder
/// WHEN the whole tree is linted in one run
/// THEN each file follows the nearest configuration above it.
#[test]
fn given_nested_pyprojects_when_linted_then_each_file_uses_the_nearest_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        &[
            (
                "pyproject.toml",
                "[tool.memlens.lint]\nignore = [\"ML001\"]\n",
            ),
            ("app/top.py", GROWS),
            (
                "sub/pyproject.toml",
                "[tool.memlens.lint]\nselect = [\"ML001\"]\nexclude = [\"generated/\"]\n",
            ),
            ("sub/inner.py", GROWS),
            ("sub/generated/made.py", GROWS),
            // A pyproject without the table does not stop the search upwards.
            ("plain/pyproject.toml", "[project]\nname = \"plain\"\n"),
            ("plain/mod.py", GROWS),
        ],
    );
    assert_eq!(
        reported(root, &[root.to_path_buf()], None),
        ["sub/inner.py:ML001"]
    );
}

/// GIVEN an excluded file
/// WHEN it is named directly
/// THEN it is linted anyway, with its configuration's selection.
#[test]
fn given_an_excluded_file_when_named_directly_then_it_is_linted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        &[
            (
                "pyproject.toml",
                "[tool.memlens.lint]\nexclude = [\"gen/\"]\n",
            ),
            ("gen/made.py", GROWS),
        ],
    );
    assert!(reported(root, &[root.to_path_buf()], None).is_empty());
    assert_eq!(
        reported(root, &[root.join("gen/made.py")], None),
        ["gen/made.py:ML001"]
    );
}

/// GIVEN nested configurations
/// WHEN `select` is given on the command line
/// THEN it replaces every file's configured selection (excludes still apply).
#[test]
fn given_a_command_line_select_when_linted_then_it_overrides_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        &[
            (
                "pyproject.toml",
                "[tool.memlens.lint]\nignore = [\"ML001\"]\n",
            ),
            ("a.py", GROWS),
            (
                "sub/pyproject.toml",
                "[tool.memlens.lint]\nselect = [\"ML002\"]\n",
            ),
            ("sub/b.py", GROWS),
        ],
    );
    assert_eq!(
        reported(root, &[root.to_path_buf()], Some(vec!["ML001".into()])),
        ["a.py:ML001", "sub/b.py:ML001"]
    );
}

/// GIVEN a malformed configuration in a sub-project
/// WHEN the tree is linted
/// THEN the run fails naming that file.
#[test]
fn given_a_malformed_nested_configuration_when_linted_then_it_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        &[
            ("a.py", GROWS),
            (
                "sub/pyproject.toml",
                "[tool.memlens.lint]\nselekt = [\"ML001\"]\n",
            ),
            ("sub/b.py", GROWS),
        ],
    );
    let err =
        lint_paths_with_nearest_config(&[root.to_path_buf()], None, Vec::new(), false).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("pyproject.toml") && message.contains("selekt"),
        "{message}"
    );
}

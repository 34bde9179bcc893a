//! Finding the Python files under the given paths.

use std::path::{Path, PathBuf};

use ignore::overrides::OverrideBuilder;
use ignore::WalkBuilder;

use crate::{Error, Settings};

fn is_python(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("py" | "pyi")
    )
}

/// Whether a file found under a walked directory is test code: a `tests`
/// or `test` folder between the walked directory and the file, or a file
/// named `test_*.py`, `*_test.py` or `conftest.py` (pytest's and
/// unittest's conventions). `relative` is the path below the walked
/// directory, so naming a test folder yourself (`memlens lint tests/`)
/// lints what is in it.
pub(crate) fn is_test_file(relative: &Path) -> bool {
    let in_test_folder = relative.parent().is_some_and(|folders| {
        folders
            .components()
            .any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "test")))
    });
    let stem = relative.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    in_test_folder || stem.starts_with("test_") || stem.ends_with("_test") || stem == "conftest"
}

fn below(root: &Path, path: &Path) -> bool {
    is_test_file(path.strip_prefix(root).unwrap_or(path))
}

/// Files named directly are always linted; directories are walked
/// respecting `.gitignore` (in or out of a git checkout), hidden entries
/// skipped, and the settings' `exclude` globs applied.
pub(crate) fn discover(paths: &[PathBuf], settings: &Settings) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(Error::PathNotFound(path.clone()));
        }
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        let mut walker = WalkBuilder::new(path);
        walker.require_git(false).hidden(true);
        if !settings.exclude.is_empty() {
            let root = settings.root.clone().unwrap_or_else(|| path.clone());
            let mut overrides = OverrideBuilder::new(root);
            for pattern in &settings.exclude {
                overrides
                    .add(&format!("!{pattern}"))
                    .map_err(|e| Error::InvalidExclude {
                        pattern: pattern.clone(),
                        message: e.to_string(),
                    })?;
            }
            let overrides = overrides.build().map_err(|e| Error::InvalidExclude {
                pattern: settings.exclude.join(", "),
                message: e.to_string(),
            })?;
            walker.overrides(overrides);
        }
        for entry in walker.build() {
            // An unreadable directory entry is skipped, not fatal: the rest of the tree is still linted.
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_some_and(|t| t.is_file())
                && is_python(entry.path())
                && (settings.include_tests || !below(path, entry.path()))
            {
                files.push(entry.into_path());
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// A file found by [`discover_all`].
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) path: PathBuf,
    /// Named directly: linted whatever the excludes and the test-file default say.
    pub(crate) named: bool,
    /// Test code by [`is_test_file`] (below the directory that was walked).
    pub(crate) test: bool,
}

/// Every Python file under `paths`, walked as [`discover`] does but without
/// excludes or the test-file default (each file's own configuration decides
/// those).
pub(crate) fn discover_all(paths: &[PathBuf]) -> Result<Vec<Found>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(Error::PathNotFound(path.clone()));
        }
        if path.is_file() {
            files.push(Found {
                path: path.clone(),
                named: true,
                test: false,
            });
            continue;
        }
        let mut walker = WalkBuilder::new(path);
        walker.require_git(false).hidden(true);
        for entry in walker.build() {
            // An unreadable directory entry is skipped, not fatal: the rest of the tree is still linted.
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_some_and(|t| t.is_file()) && is_python(entry.path()) {
                let test = below(path, entry.path());
                files.push(Found {
                    path: entry.into_path(),
                    named: false,
                    test,
                });
            }
        }
    }
    // A file both named and found by walking counts as named.
    files.sort_by(|a, b| a.path.cmp(&b.path).then(b.named.cmp(&a.named)));
    files.dedup_by(|later, earlier| later.path == earlier.path);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files_are_recognised_by_folder_and_name() {
        for test in [
            "tests/util.py",
            "pkg/tests/ui/io/test_convert.py",
            "pkg/test/helpers.py",
            "test_app.py",
            "pkg/app_test.py",
            "pkg/conftest.py",
        ] {
            assert!(is_test_file(Path::new(test)), "{test}");
        }
        for source in [
            "app.py",
            "pkg/testing.py",
            "pkg/testing/helpers.py",
            "pkg/latest.py",
            "pkg/contest.py",
            "unittest/case.py",
        ] {
            assert!(!is_test_file(Path::new(source)), "{source}");
        }
    }
}

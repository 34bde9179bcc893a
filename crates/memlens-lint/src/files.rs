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
            if entry.file_type().is_some_and(|t| t.is_file()) && is_python(entry.path()) {
                files.push(entry.into_path());
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every Python file under `paths`, walked as [`discover`] does but without
/// excludes (each file's own configuration decides those), each with
/// whether it was named directly (then it is linted whatever the excludes say).
pub(crate) fn discover_all(paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(Error::PathNotFound(path.clone()));
        }
        if path.is_file() {
            files.push((path.clone(), true));
            continue;
        }
        let mut walker = WalkBuilder::new(path);
        walker.require_git(false).hidden(true);
        for entry in walker.build() {
            // An unreadable directory entry is skipped, not fatal: the rest of the tree is still linted.
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_some_and(|t| t.is_file()) && is_python(entry.path()) {
                files.push((entry.into_path(), false));
            }
        }
    }
    // A file both named and found by walking counts as named.
    files.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    files.dedup_by(|later, earlier| later.0 == earlier.0);
    Ok(files)
}

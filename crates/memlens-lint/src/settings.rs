//! Settings: rule selection and exclusions, from arguments and from
//! `[tool.memlens.lint]` in `pyproject.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, RuleSelection};

/// Everything a run needs besides the paths.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Which rules run.
    pub selection: RuleSelection,
    /// Gitignore-style globs of files and directories to skip while walking.
    pub exclude: Vec<String>,
    /// Directory the `exclude` globs are relative to (the pyproject's).
    pub root: Option<PathBuf>,
    /// Lint test files found while walking directories (`tests/` and `test/`
    /// folders, `test_*.py`, `*_test.py`, `conftest.py`). Off by default:
    /// what a test registers or caches lives for one test, so findings there
    /// are not process-lifetime leaks.
    pub include_tests: bool,
}

/// The `[tool.memlens.lint]` table.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// Rule codes or prefixes to run (default: all).
    pub select: Option<Vec<String>>,
    /// Rule codes or prefixes to skip.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Globs to skip while walking directories.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Also lint test files (see [`Settings::include_tests`]).
    pub include_tests: Option<bool>,
}

#[derive(Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}
#[derive(Deserialize)]
struct Tool {
    memlens: Option<MemlensTool>,
}
#[derive(Deserialize)]
struct MemlensTool {
    lint: Option<toml::Value>,
}

/// The nearest `pyproject.toml` at or above `start` that has a
/// `[tool.memlens.lint]` table, with that table.
pub fn find_config(start: &Path) -> Result<Option<(PathBuf, FileConfig)>, Error> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    while let Some(current) = dir {
        let candidate = current.join("pyproject.toml");
        if candidate.is_file() {
            if let Some(config) = read_config(&candidate)? {
                return Ok(Some((candidate, config)));
            }
        }
        dir = current.parent();
    }
    Ok(None)
}

/// The `[tool.memlens.lint]` table of one `pyproject.toml`, if it has one.
pub fn read_config(path: &Path) -> Result<Option<FileConfig>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| Error::InvalidConfig {
        path: path.to_path_buf(),
        message,
    };
    let pyproject: Pyproject = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let Some(table) = pyproject.tool.and_then(|t| t.memlens).and_then(|m| m.lint) else {
        return Ok(None);
    };
    let config = FileConfig::deserialize(table).map_err(|e| invalid(e.to_string()))?;
    Ok(Some(config))
}

impl Settings {
    /// Combines the configuration file (if any) with command-line selectors,
    /// layered as ruff does: a command-line `select` starts afresh (the
    /// file's select and ignore no longer apply); otherwise the file's
    /// selection applies and command-line `ignore` adds to its ignores.
    /// Test files are linted when the file's `include-tests` says so or
    /// `include_tests` (the command line's `--include-tests`) is set.
    pub fn resolve(
        config: Option<(PathBuf, FileConfig)>,
        select: Option<Vec<String>>,
        ignore: Vec<String>,
        include_tests: bool,
    ) -> Result<Self, Error> {
        let (root, file) = match config {
            Some((path, file)) => (path.parent().map(Path::to_path_buf), file),
            None => (None, FileConfig::default()),
        };
        let (select, ignores) = match select {
            Some(select) => (Some(select), ignore),
            None => {
                let mut ignores = file.ignore;
                ignores.extend(ignore);
                (file.select, ignores)
            }
        };
        Ok(Settings {
            selection: RuleSelection::new(select.as_deref(), &ignores)?,
            exclude: file.exclude,
            root,
            include_tests: include_tests || file.include_tests.unwrap_or(false),
        })
    }
}

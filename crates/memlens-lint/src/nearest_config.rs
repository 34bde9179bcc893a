//! Settings per file, as ruff resolves them: each file is linted with the
//! `[tool.memlens.lint]` table of the nearest `pyproject.toml` above it, so a
//! sub-project's configuration applies to its own files only.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::{read_config, Error, Settings};

/// The settings one configuration file resolves to, with its excludes compiled.
#[derive(Debug)]
pub(crate) struct ResolvedConfig {
    pub(crate) settings: Settings,
    excludes: Option<Gitignore>,
}

impl ResolvedConfig {
    fn new(
        config: Option<(PathBuf, crate::FileConfig)>,
        select: &Option<Vec<String>>,
        ignore: &[String],
        include_tests: bool,
    ) -> Result<Self, Error> {
        let settings = Settings::resolve(config, select.clone(), ignore.to_vec(), include_tests)?;
        let excludes = match (&settings.root, settings.exclude.is_empty()) {
            (Some(root), false) => {
                let mut builder = GitignoreBuilder::new(root);
                for pattern in &settings.exclude {
                    builder
                        .add_line(None, pattern)
                        .map_err(|e| Error::InvalidExclude {
                            pattern: pattern.clone(),
                            message: e.to_string(),
                        })?;
                }
                Some(builder.build().map_err(|e| Error::InvalidExclude {
                    pattern: settings.exclude.join(", "),
                    message: e.to_string(),
                })?)
            }
            _ => None,
        };
        Ok(Self { settings, excludes })
    }

    /// Whether the configuration's `exclude` globs cover `path` (absolute)
    /// or one of the directories above it.
    pub(crate) fn excludes(&self, path: &Path) -> bool {
        let (Some(excludes), Some(root)) = (&self.excludes, &self.settings.root) else {
            return false;
        };
        // The matcher wants paths under its root; a config found by walking
        // up from `path` always is one, but stay safe if it is not.
        path.starts_with(root)
            && excludes
                .matched_path_or_any_parents(path, false)
                .is_ignore()
    }
}

/// Finds and caches, per directory, the configuration that applies there.
#[derive(Debug)]
pub(crate) struct NearestConfigs {
    select: Option<Vec<String>>,
    ignore: Vec<String>,
    include_tests: bool,
    by_directory: Mutex<HashMap<PathBuf, Arc<ResolvedConfig>>>,
    without_file: Arc<ResolvedConfig>,
}

impl NearestConfigs {
    /// Command-line `select` and `ignore` are layered over every file's
    /// configuration as [`Settings::resolve`] does, and so is `include_tests`.
    pub(crate) fn new(
        select: Option<Vec<String>>,
        ignore: Vec<String>,
        include_tests: bool,
    ) -> Result<Self, Error> {
        let without_file = Arc::new(ResolvedConfig::new(None, &select, &ignore, include_tests)?);
        Ok(Self {
            select,
            ignore,
            include_tests,
            by_directory: Mutex::new(HashMap::new()),
            without_file,
        })
    }

    /// The configuration for a file, and the file's absolute, normalized path.
    pub(crate) fn for_file(&self, file: &Path) -> Result<(Arc<ResolvedConfig>, PathBuf), Error> {
        let absolute = normalized_absolute(file);
        let config = match absolute.parent() {
            Some(directory) => self.for_directory(directory)?,
            None => Arc::clone(&self.without_file),
        };
        Ok((config, absolute))
    }

    fn for_directory(&self, directory: &Path) -> Result<Arc<ResolvedConfig>, Error> {
        if let Some(hit) = self.cache().get(directory) {
            return Ok(Arc::clone(hit));
        }
        let candidate = directory.join("pyproject.toml");
        let table = if candidate.is_file() {
            read_config(&candidate)?
        } else {
            None
        };
        let resolved = match table {
            Some(file) => Arc::new(ResolvedConfig::new(
                Some((candidate, file)),
                &self.select,
                &self.ignore,
                self.include_tests,
            )?),
            None => match directory.parent() {
                Some(parent) => self.for_directory(parent)?,
                None => Arc::clone(&self.without_file),
            },
        };
        self.cache()
            .insert(directory.to_path_buf(), Arc::clone(&resolved));
        Ok(resolved)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<ResolvedConfig>>> {
        // The cache holds only finished entries: a panic elsewhere cannot leave it half-written.
        self.by_directory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `path` made absolute with `.` and `..` resolved lexically (symlinks are
/// not followed: configuration is found by the path the user gave).
fn normalized_absolute(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut normalized = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_dot_dot_components_when_normalized_then_they_are_resolved_lexically() {
        let path = normalized_absolute(Path::new("/a/b/../c/./x.py"));
        assert_eq!(path, Path::new("/a/c/x.py"));
    }
}

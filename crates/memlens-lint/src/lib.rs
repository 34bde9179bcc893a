//! Finds leak-prone patterns in Python source.
//!
//! Each rule (ML001–ML007, see [`Rule`] and [`rules`]) looks for one shape of
//! code that keeps objects alive longer than intended: module-level
//! containers that only grow, class attributes shared by every instance,
//! escaping closures with growing captures, listeners never removed, caches
//! on methods, loggers per call, stored tracebacks. Files that cannot be
//! parsed produce an `ML000` diagnostic instead of an error, so a run over a
//! tree always finishes.
//!
//! ```
//! use memlens_lint::{lint_source, Rule, Settings};
//!
//! let source = "_seen = []\n\ndef handle(x):\n    _seen.append(x)\n";
//! let diagnostics = lint_source("app.py".as_ref(), source.as_bytes(), &Settings::default());
//! assert_eq!(diagnostics[0].rule, Rule::ModuleContainerGrows);
//! assert_eq!((diagnostics[0].line, diagnostics[0].column), (4, 5));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod diagnostic;
mod error;
mod files;
mod nearest_config;
mod noqa;
pub mod output;
mod patterns;
mod rule;
pub mod rules;
mod scope;
mod settings;
mod source;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use diagnostic::{Diagnostic, Violation};
pub use error::Error;
pub use rule::{Rule, RuleSelection};
pub use settings::{find_config, read_config, FileConfig, Settings};

/// Lints one file's bytes; `path` is only used to label the diagnostics.
///
/// Runs on the caller's stack: for untrusted input prefer [`lint_paths`],
/// whose threads have room for pathologically deep syntax trees. Never
/// panics on any input: undecodable or unparsable bytes give a single
/// `ML000` diagnostic located where the trouble starts.
pub fn lint_source(path: &Path, bytes: &[u8], settings: &Settings) -> Vec<Diagnostic> {
    let text = match source::decode(bytes) {
        Ok(text) => text,
        Err((undecodable, prefix)) => {
            let index = source::LineIndex::new(prefix);
            return vec![locate(
                path,
                &index,
                Rule::UnreadableSource,
                undecodable.message,
                undecodable.offset..undecodable.offset,
            )];
        }
    };
    let index = source::LineIndex::new(text);
    let parsed = match ruff_python_parser::parse_module(text) {
        Ok(parsed) => parsed,
        Err(err) => {
            let range = err.location.start().to_usize()..err.location.end().to_usize();
            let hint = if source::looks_like_python2(text, range.clone()) {
                " (this looks like Python 2 source)"
            } else {
                ""
            };
            let message = format!("syntax error: {}{hint}", err.error);
            return vec![locate(path, &index, Rule::UnreadableSource, message, range)];
        }
    };
    let mut diagnostics: Vec<Diagnostic> =
        rules::check_module(&parsed.syntax().body, &settings.selection)
            .into_iter()
            .map(|violation| {
                locate(
                    path,
                    &index,
                    violation.rule,
                    violation.message,
                    violation.range,
                )
            })
            .filter(|diagnostic| !noqa::suppresses(&diagnostic.source_line, diagnostic.rule))
            .collect();
    diagnostics.sort_by_key(|d| (d.line, d.column, d.rule));
    diagnostics
}

fn locate(
    path: &Path,
    index: &source::LineIndex<'_>,
    rule: Rule,
    message: String,
    range: std::ops::Range<usize>,
) -> Diagnostic {
    let (line, column) = index.location(range.start);
    let (end_line, end_column) = index.location(range.end);
    Diagnostic {
        rule,
        message,
        path: path.to_path_buf(),
        line,
        column,
        end_line,
        end_column,
        source_line: index.line_text(line).to_string(),
    }
}

/// The outcome of linting a set of paths.
#[derive(Debug, Default)]
pub struct Report {
    /// Every diagnostic, sorted by path, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were checked (unreadable ones included).
    pub files_checked: usize,
}

impl Report {
    /// How many diagnostics say a file could not be checked.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Walks `paths` (files and directories; `.gitignore` and the configured
/// excludes are honoured in directories), lints every `.py`/`.pyi` file in
/// parallel, and returns the diagnostics sorted by path.
///
/// A missing path is an error; a file that cannot be read or parsed is an
/// `ML000` diagnostic and the run goes on.
pub fn lint_paths(paths: &[PathBuf], settings: &Settings) -> Result<Report, Error> {
    let files = files::discover(paths, settings)?;
    // Syntax trees are walked (and dropped) recursively: a pathological file
    // (`1 + 1 + …` a hundred thousand times) nests that deep. Lint threads get
    // a stack large enough for it; the memory is only reserved, not used.
    let pool = lint_pool()?;
    let mut diagnostics: Vec<Diagnostic> = pool.install(|| lint_files(&files, settings));
    diagnostics.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.rule).cmp(&(&b.path, b.line, b.column, b.rule))
    });
    Ok(Report {
        diagnostics,
        files_checked: files.len(),
    })
}

/// Like [`lint_paths`], but each file gets the settings of the nearest
/// `pyproject.toml` with a `[tool.memlens.lint]` table above it (as ruff
/// resolves configuration): its selection, and its `exclude` globs for the
/// files under it. Command-line `select` and `ignore` are layered over every
/// file's configuration as [`Settings::resolve`] describes; files with no
/// configuration above them get those alone. Files named directly are linted
/// whatever the excludes say.
///
/// A malformed configuration that applies to any of the files is an error.
pub fn lint_paths_with_nearest_config(
    paths: &[PathBuf],
    select: Option<Vec<String>>,
    ignore: Vec<String>,
) -> Result<Report, Error> {
    let configs = nearest_config::NearestConfigs::new(select, ignore)?;
    let mut jobs = Vec::new();
    for (path, named) in files::discover_all(paths)? {
        let (config, absolute) = configs.for_file(&path)?;
        if !named && config.excludes(&absolute) {
            continue;
        }
        jobs.push((path, config));
    }
    let pool = lint_pool()?;
    let mut diagnostics: Vec<Diagnostic> = pool.install(|| {
        jobs.par_iter()
            .flat_map_iter(|(path, config)| lint_file(path, &config.settings))
            .collect()
    });
    diagnostics.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.rule).cmp(&(&b.path, b.line, b.column, b.rule))
    });
    Ok(Report {
        diagnostics,
        files_checked: jobs.len(),
    })
}

fn lint_pool() -> Result<rayon::ThreadPool, Error> {
    rayon::ThreadPoolBuilder::new()
        .stack_size(LINT_THREAD_STACK)
        .thread_name(|i| format!("memlens-lint-{i}"))
        .build()
        .map_err(|e| Error::Io {
            path: PathBuf::from("<thread pool>"),
            source: std::io::Error::other(e),
        })
}

/// Stack size of lint threads: see [`lint_paths`].
const LINT_THREAD_STACK: usize = 1 << 30;

fn lint_files(files: &[PathBuf], settings: &Settings) -> Vec<Diagnostic> {
    files
        .par_iter()
        .flat_map_iter(|path| lint_file(path, settings))
        .collect()
}

fn lint_file(path: &Path, settings: &Settings) -> Vec<Diagnostic> {
    match std::fs::read(path) {
        Ok(bytes) => lint_source(path, &bytes, settings),
        Err(err) => vec![Diagnostic {
            rule: Rule::UnreadableSource,
            message: format!("cannot read file: {err}"),
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            source_line: String::new(),
        }],
    }
}

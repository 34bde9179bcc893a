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
//! A run over several files ends with a cross-module pass (`instances`):
//! findings that leak once per instance of a class (ML001, ML002, ML004 and
//! ML006 in a constructor or start-up method, ML005 anywhere in the class)
//! are dropped when every file of the run makes that class only once per
//! process — at import, in `main` or a plug-in's `setup`, in the
//! constructor of another such class, or under a lazy-initialisation guard.
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
mod instances;
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

/// Lints one file's bytes; `path` labels the diagnostics (and places the
/// file among modules for the cross-module pass, which here sees this file
/// alone: a class it makes only at import counts as made once).
///
/// Runs on the caller's stack: for untrusted input prefer [`lint_paths`],
/// whose threads have room for pathologically deep syntax trees. Never
/// panics on any input: undecodable or unparsable bytes give a single
/// `ML000` diagnostic located where the trouble starts.
pub fn lint_source(path: &Path, bytes: &[u8], settings: &Settings) -> Vec<Diagnostic> {
    finish(vec![lint_one(path, bytes, settings)])
}

/// One file's findings before the cross-module pass.
struct FileOutcome {
    diagnostics: Vec<Diagnostic>,
    /// For each diagnostic, the code of this file whose run count bounds it.
    per_instance: Vec<Option<instances::FindingScope>>,
    /// What the file tells the cross-module pass (none if it did not parse
    /// or no rule that uses the pass ran on it).
    facts: Option<instances::FileFacts>,
}

impl FileOutcome {
    fn error(diagnostic: Diagnostic) -> Self {
        FileOutcome {
            diagnostics: vec![diagnostic],
            per_instance: vec![None],
            facts: None,
        }
    }
}

fn lint_one(path: &Path, bytes: &[u8], settings: &Settings) -> FileOutcome {
    let text = match source::decode(bytes) {
        Ok(text) => text,
        Err((undecodable, prefix)) => {
            let index = source::LineIndex::new(prefix);
            return FileOutcome::error(locate(
                path,
                &index,
                Rule::UnreadableSource,
                undecodable.message,
                undecodable.offset..undecodable.offset,
            ));
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
            return FileOutcome::error(locate(
                path,
                &index,
                Rule::UnreadableSource,
                message,
                range,
            ));
        }
    };
    let body = &parsed.syntax().body;
    let mut found: Vec<(Diagnostic, Option<instances::FindingScope>)> =
        rules::check_module(body, &settings.selection)
            .into_iter()
            .map(|violation| {
                let per_instance = instances::scope_of(body, violation.rule, violation.range.start);
                let diagnostic = locate(
                    path,
                    &index,
                    violation.rule,
                    violation.message,
                    violation.range,
                );
                (diagnostic, per_instance)
            })
            .filter(|(diagnostic, _)| !noqa::suppresses(&diagnostic.source_line, diagnostic.rule))
            .collect();
    found.sort_by_key(|(d, _)| (d.line, d.column, d.rule));
    let facts = settings
        .selection
        .rules()
        .iter()
        .any(|&rule| instances::uses_the_pass(rule))
        .then(|| instances::collect(path, body));
    let (diagnostics, per_instance) = found.into_iter().unzip();
    FileOutcome {
        diagnostics,
        per_instance,
        facts,
    }
}

/// The cross-module pass over every file of a run: drops the findings whose
/// code runs once per process.
fn finish(outcomes: Vec<FileOutcome>) -> Vec<Diagnostic> {
    let conditional = outcomes
        .iter()
        .any(|o| o.per_instance.iter().any(Option::is_some));
    if !conditional {
        return outcomes.into_iter().flat_map(|o| o.diagnostics).collect();
    }
    let facts: Vec<&instances::FileFacts> =
        outcomes.iter().filter_map(|o| o.facts.as_ref()).collect();
    let index = instances::Index::new(&facts);
    let mut kept = Vec::new();
    let mut position = 0;
    for outcome in &outcomes {
        let file = outcome.facts.as_ref().map(|_| position);
        if file.is_some() {
            position += 1;
        }
        for (diagnostic, per_instance) in outcome.diagnostics.iter().zip(&outcome.per_instance) {
            let once = match (per_instance, file) {
                (Some(scope), Some(file)) => index.runs_once(file, scope),
                _ => false,
            };
            if !once {
                kept.push(diagnostic.clone());
            }
        }
    }
    kept
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

/// Walks `paths` (files and directories; `.gitignore`, the configured
/// excludes and the test-file default are honoured in directories), lints
/// every `.py`/`.pyi` file in parallel, runs the cross-module pass over
/// them, and returns the diagnostics sorted by path.
///
/// A missing path is an error; a file that cannot be read or parsed is an
/// `ML000` diagnostic and the run goes on.
pub fn lint_paths(paths: &[PathBuf], settings: &Settings) -> Result<Report, Error> {
    let files = files::discover(paths, settings)?;
    // Syntax trees are walked (and dropped) recursively: a pathological file
    // (`1 + 1 + …` a hundred thousand times) nests that deep. Lint threads get
    // a stack large enough for it; the memory is only reserved, not used.
    let pool = lint_pool()?;
    let outcomes: Vec<FileOutcome> = pool.install(|| {
        files
            .par_iter()
            .map(|path| lint_file(path, settings))
            .collect()
    });
    let mut diagnostics = finish(outcomes);
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
/// resolves configuration): its selection, its `exclude` globs and its
/// `include-tests` for the files under it. Command-line `select` and
/// `ignore` are layered over every file's configuration as
/// [`Settings::resolve`] describes, and `include_tests` (the command line's
/// `--include-tests`) turns test files on everywhere; files with no
/// configuration above them get those alone. Files named directly are
/// linted whatever the excludes and the test-file default say.
///
/// A malformed configuration that applies to any of the files is an error.
pub fn lint_paths_with_nearest_config(
    paths: &[PathBuf],
    select: Option<Vec<String>>,
    ignore: Vec<String>,
    include_tests: bool,
) -> Result<Report, Error> {
    let configs = nearest_config::NearestConfigs::new(select, ignore, include_tests)?;
    let mut jobs = Vec::new();
    for found in files::discover_all(paths)? {
        let (config, absolute) = configs.for_file(&found.path)?;
        if !found.named
            && (config.excludes(&absolute) || (found.test && !config.settings.include_tests))
        {
            continue;
        }
        jobs.push((found.path, config));
    }
    let pool = lint_pool()?;
    let outcomes: Vec<FileOutcome> = pool.install(|| {
        jobs.par_iter()
            .map(|(path, config)| lint_file(path, &config.settings))
            .collect()
    });
    let mut diagnostics = finish(outcomes);
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

fn lint_file(path: &Path, settings: &Settings) -> FileOutcome {
    match std::fs::read(path) {
        Ok(bytes) => lint_one(path, &bytes, settings),
        Err(err) => FileOutcome::error(Diagnostic {
            rule: Rule::UnreadableSource,
            message: format!("cannot read file: {err}"),
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            source_line: String::new(),
        }),
    }
}

//! `memlens lint`: find leak-prone patterns in Python source.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use memlens_lint::output::{render_json, render_sarif, render_text};
use memlens_lint::{lint_paths, lint_paths_with_nearest_config, read_config, Settings};

use crate::ExitCode;

/// Find leak-prone patterns in Python source (rules ML001–ML007).
///
/// Walks the given files and directories (respecting .gitignore), lints every
/// .py/.pyi file in parallel and prints one diagnostic per finding. Each file
/// is linted with the `[tool.memlens.lint]` table (select, ignore, exclude) of
/// the nearest pyproject.toml above it, unless --config names one file for
/// all; `# noqa` and `# noqa: ML001` on a line
/// suppress findings there. Test files found in directories are skipped
/// unless --include-tests (or `include-tests = true`) asks for them. Exit status: 0 clean, 1 findings, 2 error
/// (including files that could not be parsed).
#[derive(Args, Debug)]
pub struct LintArgs {
    /// Files or directories to lint.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Only these rules (codes or prefixes, comma separated): replaces the configured selection.
    #[arg(long, value_delimiter = ',')]
    pub select: Option<Vec<String>>,
    /// Skip these rules (codes or prefixes, comma separated), on top of the configured ones.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Also lint test files found in directories (tests/ and test/ folders,
    /// test_*.py, *_test.py, conftest.py), skipped by default: what a test
    /// makes lives for one test.
    #[arg(long)]
    pub include_tests: bool,
    /// Read settings for every file from this pyproject.toml instead of the nearest one above each file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `memlens lint --format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    /// `path:line:col: CODE message` and the source line.
    Text,
    /// A JSON array of diagnostics.
    Json,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
}

pub fn run(args: LintArgs) -> anyhow::Result<i32> {
    let report = match &args.config {
        Some(path) => {
            let config = read_config(path)?.map(|file| (path.clone(), file));
            let settings = Settings::resolve(config, args.select, args.ignore, args.include_tests)?;
            lint_paths(&args.paths, &settings)?
        }
        None => lint_paths_with_nearest_config(
            &args.paths,
            args.select,
            args.ignore,
            args.include_tests,
        )?,
    };
    let rendered = match args.format {
        OutputFormat::Text => render_text(&report),
        OutputFormat::Json => render_json(&report),
        OutputFormat::Sarif => render_sarif(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, rendered)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`memlens lint | head`) is not an error worth a message.
            let _ = stdout
                .write_all(rendered.as_bytes())
                .and_then(|()| stdout.flush());
        }
    }
    let code = if report.error_count() > 0 {
        ExitCode::Error
    } else if report.diagnostics.is_empty() {
        ExitCode::Clean
    } else {
        ExitCode::Findings
    };
    Ok(code.into())
}

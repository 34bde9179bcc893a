//! The `memlens` command tree.
//!
//! This crate owns argument parsing (clap) and dispatch for every verb. It is
//! pure Rust: verbs that need a live Python interpreter (running a program
//! under the tracer, the demo) are delegated to a [`PythonHost`], which the
//! extension crate implements. The standalone `memlens` binary built by cargo
//! has no host and answers those verbs with a clear error.
//!
//! ```
//! use memlens_cli::{run, NoPython};
//! let code = run(["memlens", "--version"].map(String::from).to_vec(), &NoPython);
//! assert_eq!(code, 0);
//! ```
#![forbid(unsafe_code)]

mod commands;
mod exit;
mod output;
mod report;

pub use commands::run;
pub use exit::ExitCode;

/// Verbs that need the Python interpreter run through this trait.
///
/// The extension module implements it by calling into `memlens._cli`; the
/// cargo-built binary uses [`NoPython`].
pub trait PythonHost {
    /// Runs the Python-side implementation of `verb` with the already
    /// validated arguments and returns the process exit code.
    fn run_verb(&self, verb: &str, args: &[String]) -> anyhow::Result<i32>;
}

/// A host for the standalone binary: every Python verb fails with a message
/// that says how to get it.
pub struct NoPython;

impl PythonHost for NoPython {
    fn run_verb(&self, verb: &str, _args: &[String]) -> anyhow::Result<i32> {
        anyhow::bail!(
            "`memlens {verb}` needs the Python package: install memlens with pip and run the `memlens` it installs"
        )
    }
}

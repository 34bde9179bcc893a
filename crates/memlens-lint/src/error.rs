//! Errors a caller of the lint library can get back.
//!
//! A file that cannot be linted (bad syntax, not UTF-8, binary) is *not* an
//! error here: it becomes an [`ML000`](crate::Rule::UnreadableSource)
//! diagnostic so that a run over many files goes on. These errors stop a run.

use std::path::PathBuf;

/// Why a lint run could not start or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path given on the command line (or to `memlens.lint`) does not exist.
    #[error("{}: no such file or directory", .0.display())]
    PathNotFound(PathBuf),
    /// A rule code in `--select`, `--ignore` or the configuration matches no rule.
    #[error("unknown rule selector `{0}`: rule codes are ML001 to ML007 (a prefix such as `ML00` selects several)")]
    UnknownSelector(String),
    /// `pyproject.toml` exists but its `[tool.memlens.lint]` table is malformed.
    #[error("{}: invalid [tool.memlens.lint] configuration: {message}", path.display())]
    InvalidConfig {
        /// The offending `pyproject.toml`.
        path: PathBuf,
        /// What the TOML parser or the schema check said.
        message: String,
    },
    /// An `exclude` glob in the configuration does not parse.
    #[error("invalid exclude pattern `{pattern}`: {message}")]
    InvalidExclude {
        /// The pattern as written.
        pattern: String,
        /// What the glob parser said.
        message: String,
    },
    /// Reading a configuration file or a directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

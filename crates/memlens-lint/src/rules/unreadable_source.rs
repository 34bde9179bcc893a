//! ML000 `unreadable-source`.
//!
//! ## What it does
//! Reports a file that memlens could not check: a syntax error (source that
//! looks like Python 2 is named as such), bytes that are not UTF-8, a binary
//! file, or a file that cannot be read. The diagnostic points at the first
//! byte that could not be decoded or parsed. It is not a pattern rule: it
//! cannot be deselected (`--ignore ML000` is accepted and changes nothing),
//! a `# noqa` does not silence it, and a run that reports it exits with
//! status 2, since part of the code was not checked. The other files of the
//! run are linted all the same.
//!
//! The diagnostics are made where files are read and parsed
//! (`lint_one` and `lint_file` in the crate root), not in this module.
//!
//! ## Why is this bad?
//! A file that was not checked may hold any of the patterns the other rules
//! find; a lint run that said nothing about it would read as "no leak
//! found" when nothing was looked at.
//!
//! ## Example
//! ```python
//! print "hello"
//! ```
//!
//! ## Use instead
//! Python 3 source saved as UTF-8 (`print("hello")`), or leave generated and
//! vendored files out with `exclude` in `[tool.memlens.lint]`.

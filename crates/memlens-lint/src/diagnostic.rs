//! What a rule reports, located in a file.

use std::path::PathBuf;

use serde::Serialize;

use crate::Rule;

/// One finding: a rule, a message, and where it is (1-based line and column,
/// columns counted in characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The rule that fired.
    #[serde(serialize_with = "serialize_code")]
    pub rule: Rule,
    /// What is wrong, naming the objects involved.
    pub message: String,
    /// The file, as given or as found by walking a directory.
    pub path: PathBuf,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based character column of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based character column just past the end.
    pub end_column: usize,
    /// The text of the start line, without its line ending.
    pub source_line: String,
}

fn serialize_code<S: serde::Serializer>(rule: &Rule, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(rule.code())
}

impl Diagnostic {
    /// Whether this reports a file that could not be checked (ML000).
    pub fn is_error(&self) -> bool {
        self.rule.is_error()
    }
}

/// A rule's finding before it is located: a byte range into the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule that fired.
    pub rule: Rule,
    /// What is wrong.
    pub message: String,
    /// Byte offsets `start..end` into the source text.
    pub range: std::ops::Range<usize>,
}

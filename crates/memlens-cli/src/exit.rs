//! Process exit codes shared by every verb.

/// What a `memlens` invocation ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    /// Success, and for checking verbs (lint): nothing found.
    Clean = 0,
    /// A checking verb found something (lint findings, a failed budget).
    Findings = 1,
    /// Bad arguments, unreadable input, or an internal error.
    Error = 2,
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> i32 {
        code as i32
    }
}

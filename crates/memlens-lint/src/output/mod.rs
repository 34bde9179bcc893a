//! One file per output format.

mod json;
mod sarif;
mod terminal;
mod text;

pub use json::render_json;
pub use sarif::render_sarif;
pub use terminal::terminal_safe;
pub use text::render_text;

/// The formats `memlens lint --format` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `path:line:col: CODE message` with the source line, and a summary.
    Text,
    /// A JSON array of diagnostic objects.
    Json,
    /// A SARIF 2.1.0 log, for code-scanning tools.
    Sarif,
}

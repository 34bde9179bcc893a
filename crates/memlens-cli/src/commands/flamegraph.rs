//! `memlens flamegraph`: a self-contained HTML flame graph.

use std::path::PathBuf;

use clap::Args;

use std::io::Write;

use crate::output;
use crate::report::{self, CaptureArgs};

/// Write a flame graph of the captures to one self-contained HTML file.
///
/// The page has search (text or /regex/), zoom (click a frame; click above or
/// press Esc to zoom out), a switch between memory allocated over the run,
/// live at the peak and still live at exit, and a chart of memory over time.
/// It needs no network. --peak or --leaks chooses what it shows first.
#[derive(Args, Debug)]
pub struct FlamegraphArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// The HTML file to write (default: the first capture's name with `.html`).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists (never one of the captures).
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(args: FlamegraphArgs) -> anyhow::Result<i32> {
    let first = &args.capture.files[0];
    let output = args.output.unwrap_or_else(|| first.with_extension("html"));
    output::check_target(&output, &args.capture.files, args.force, "flame graph")?;
    let profile = report::load(&args.capture.files)?;
    let title = first
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let page = report::flamegraph::render(&profile, args.capture.metric(), &title);
    output::write_atomically(&output, |out| out.write_all(page.as_bytes()))?;
    output::print(&format!("Wrote {}\n", output.display()))?;
    Ok(0)
}

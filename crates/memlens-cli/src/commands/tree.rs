//! `memlens tree`: the call tree of memory.

use clap::Args;

use crate::report::{self, CaptureArgs};

/// Show the call tree of memory, biggest branches first.
///
/// Each line is a frame with the memory allocated under it (callees
/// included). Figures are memory allocated over the run unless --peak or
/// --leaks is given.
#[derive(Args, Debug)]
pub struct TreeArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// Hide branches holding less than this share of the total, in percent.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true, value_parser = super::values::percent)]
    pub min_percent: f64,
    /// Show at most this many callees under each frame.
    #[arg(long, default_value_t = 10, value_parser = super::values::count)]
    pub limit: usize,
    /// Stop this many frames deep.
    #[arg(long, default_value_t = 32, value_parser = super::values::count)]
    pub max_depth: usize,
}

pub fn run(args: TreeArgs) -> anyhow::Result<i32> {
    let profile = report::load(&args.capture.files)?;
    crate::output::print(&report::text::tree(
        &profile,
        args.capture.metric(),
        args.min_percent,
        args.limit,
        args.max_depth,
    ))?;
    Ok(0)
}

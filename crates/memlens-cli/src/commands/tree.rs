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
    /// Print a JSON document instead of text (schema `memlens.tree/1`,
    /// docs/reports.md).
    #[arg(long)]
    pub json: bool,
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
    let (metric, pct) = (args.capture.metric(), args.min_percent);
    if args.json {
        let doc = report::json::tree(&profile, metric, pct, args.limit, args.max_depth);
        crate::output::print_json(&doc)?;
    } else {
        let text = report::text::tree(&profile, metric, pct, args.limit, args.max_depth);
        crate::output::print(&text)?;
    }
    Ok(0)
}

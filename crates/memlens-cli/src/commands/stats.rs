//! `memlens stats`: the numbers of a capture.

use clap::Args;

use crate::report::{self, CaptureArgs};

/// Show totals, the allocation size histogram, allocators, threads, the peak
/// and the top sites.
///
/// The top sites rank memory allocated over the run unless --peak or
/// --leaks is given.
#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// Print a JSON document instead of text (schema `memlens.stats/1`,
    /// docs/reports.md).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatsArgs) -> anyhow::Result<i32> {
    let profile = report::load(&args.capture.files)?;
    let metric = args.capture.metric();
    if args.json {
        crate::output::print_json(&report::json::stats(&profile, metric))?;
    } else {
        crate::output::print(&report::text::stats(&profile, metric))?;
    }
    Ok(0)
}

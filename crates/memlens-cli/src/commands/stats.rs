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
}

pub fn run(args: StatsArgs) -> anyhow::Result<i32> {
    let profile = report::load(&args.capture.files)?;
    crate::output::print(&report::text::stats(&profile, args.capture.metric()))?;
    Ok(0)
}

//! `memlens summary`: what a capture holds, in one screen.

use clap::Args;

use crate::report::{self, CaptureArgs};

/// Summarize captures: process, duration, totals, peak, leaks, top functions.
///
/// Figures are memory allocated over the run unless --peak (live at the
/// moment of peak memory) or --leaks (still live at exit) is given.
/// Several captures (a program and its children) are combined.
#[derive(Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// Print a JSON document instead of text (schema `memlens.summary/1`,
    /// docs/reports.md).
    #[arg(long)]
    pub json: bool,
    /// How many functions to list.
    #[arg(long, default_value_t = 10, value_parser = super::values::count)]
    pub limit: usize,
}

pub fn run(args: SummaryArgs) -> anyhow::Result<i32> {
    let profile = report::load(&args.capture.files)?;
    let metric = args.capture.metric();
    if args.json {
        crate::output::print_json(&report::json::summary(&profile, metric, args.limit))?;
    } else {
        crate::output::print(&report::text::summary(&profile, metric, args.limit))?;
    }
    Ok(0)
}

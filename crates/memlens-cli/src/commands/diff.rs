//! `memlens diff`: what grew between two captures.

use std::path::PathBuf;

use clap::Args;
use memlens_trace::profile::Metric;

use crate::report;

/// List the allocation sites whose memory grew from capture BEFORE to AFTER.
///
/// Compares memory live at the peak unless --leaks (still live at exit) or
/// --allocated (allocated over the run) is given.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The earlier capture.
    #[arg(value_name = "BEFORE")]
    pub before: PathBuf,
    /// The later capture.
    #[arg(value_name = "AFTER")]
    pub after: PathBuf,
    /// Compare what was still live at exit.
    #[arg(long, conflicts_with = "allocated")]
    pub leaks: bool,
    /// Compare everything allocated over the run.
    #[arg(long)]
    pub allocated: bool,
    /// How many sites to list.
    #[arg(long, default_value_t = 25, value_parser = super::values::count)]
    pub limit: usize,
    /// Print a JSON document instead of text (schema `memlens.diff/1`,
    /// docs/reports.md).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiffArgs) -> anyhow::Result<i32> {
    let metric = if args.leaks {
        Metric::Leaks
    } else if args.allocated {
        Metric::Allocated
    } else {
        Metric::Peak
    };
    let before = report::load(std::slice::from_ref(&args.before))?;
    let after = report::load(std::slice::from_ref(&args.after))?;
    if args.json {
        crate::output::print_json(&report::json::diff(&before, &after, metric, args.limit))?;
    } else {
        crate::output::print(&report::text::diff(&before, &after, metric, args.limit))?;
    }
    Ok(0)
}

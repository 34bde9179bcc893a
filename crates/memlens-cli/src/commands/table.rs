//! `memlens table`: the top allocation sites.

use clap::Args;

use crate::report::text::SortBy;
use crate::report::{self, CaptureArgs};

/// List the top allocation sites (innermost frame) by bytes and blocks.
///
/// Figures are memory allocated over the run unless --peak (live at the
/// moment of peak memory) or --leaks (still live at exit) is given.
#[derive(Args, Debug)]
pub struct TableArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// Print a JSON document instead of text (schema `memlens.table/1`,
    /// docs/reports.md).
    #[arg(long)]
    pub json: bool,
    /// How many sites to list.
    #[arg(long, default_value_t = 25, value_parser = super::values::count)]
    pub limit: usize,
    /// Order by bytes or by number of blocks.
    #[arg(long, value_enum, default_value_t = SortBy::Bytes)]
    pub sort: SortBy,
}

pub fn run(args: TableArgs) -> anyhow::Result<i32> {
    let profile = report::load(&args.capture.files)?;
    let metric = args.capture.metric();
    if args.json {
        crate::output::print_json(&report::json::table(
            &profile, metric, args.limit, args.sort,
        ))?;
    } else {
        crate::output::print(&report::text::table(
            &profile, metric, args.limit, args.sort,
        ))?;
    }
    Ok(0)
}

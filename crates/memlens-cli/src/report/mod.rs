//! What the capture reports share: loading captures (with a progress bar and
//! warnings about cut captures), the `--peak` / `--leaks` choice, human
//! units and table style.

pub mod flamegraph;
pub mod heap;
pub mod json;
pub mod text;
pub mod units;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memlens_trace::profile::{Metric, Profile, Progress};
use memlens_trace::reader::Ending;

/// Capture files and which figure to report, shared by every report verb.
#[derive(Args, Debug, Clone)]
pub struct CaptureArgs {
    /// Capture files (`.mlc`) written by `memlens run`; several (a parent and
    /// its children) are combined.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Report what was live at the moment of peak memory.
    #[arg(long, conflicts_with = "leaks")]
    pub peak: bool,
    /// Report what was still live when the program exited (leaks).
    #[arg(long)]
    pub leaks: bool,
}

impl CaptureArgs {
    /// The figure chosen: allocated over the run unless `--peak` or `--leaks`.
    pub fn metric(&self) -> Metric {
        if self.peak {
            Metric::Peak
        } else if self.leaks {
            Metric::Leaks
        } else {
            Metric::Allocated
        }
    }
}

/// Loads captures, showing a progress bar on stderr when it is a terminal and
/// the read takes more than a second; warns about captures that were cut
/// short or lost events.
pub fn load(files: &[PathBuf]) -> anyhow::Result<Profile> {
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("reading captures");
    let interactive = std::io::stderr().is_terminal();
    let mut shown = false;
    let result = Profile::load(files, &mut |Progress { done, total }| {
        if interactive && !shown && started.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let profile = result.context("cannot read the capture")?;
    for process in profile.processes() {
        if let Ending::Cut { reason, .. } = &process.ending {
            eprintln!(
                "memlens: warning: {} was cut short: {reason}; reporting what it recorded",
                process.path.display()
            );
        }
        if process.dropped_events > 0 {
            eprintln!(
                "memlens: warning: {} lost {} events because its writer fell behind; figures are low",
                process.path.display(),
                process.dropped_events
            );
        }
    }
    Ok(profile)
}

/// A new table in the house style.
pub fn table() -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table
}

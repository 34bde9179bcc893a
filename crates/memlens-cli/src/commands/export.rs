//! `memlens export`: pprof and speedscope files.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::output;
use crate::report;

/// The formats `memlens export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// gzip'd profile.proto, for `go tool pprof`, Pyroscope, Grafana…
    Pprof,
    /// speedscope's JSON file format (https://www.speedscope.app).
    Speedscope,
}

/// Export captures as pprof or speedscope, with every figure: memory allocated
/// over the run, live at the peak, and still live at exit.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Capture files; several (a program and its children) are combined.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The output format.
    #[arg(long, short, value_enum)]
    pub format: Format,
    /// The file to write (default: the first capture's name with `.pb.gz` or `.speedscope.json`).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists (never one of the captures).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<i32> {
    let first = &args.files[0];
    let output = args.output.unwrap_or_else(|| {
        first.with_extension(match args.format {
            Format::Pprof => "pb.gz",
            Format::Speedscope => "speedscope.json",
        })
    });
    output::check_target(&output, &args.files, args.force, "export")?;
    let profile = report::load(&args.files)?;
    output::write_atomically(&output, |out| match args.format {
        Format::Pprof => memlens_trace::export::pprof::write_pprof(&profile, out),
        Format::Speedscope => {
            let name = first
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let doc = memlens_trace::export::speedscope::to_speedscope(&profile, &name);
            serde_json::to_writer(&mut *out, &doc).map_err(std::io::Error::other)
        }
    })?;
    output::print(&format!("Wrote {}\n", output.display()))?;
    Ok(0)
}

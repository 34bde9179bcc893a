//! `memlens run`: run a Python program under the allocation tracer.

use std::path::PathBuf;

use clap::Args;

use crate::PythonHost;

/// Run a Python program under the allocation tracer, streaming to a capture file.
///
/// The program runs in this interpreter as `python script.py` or
/// `python -m module` would run it (same sys.argv, __main__ and sys.path[0]).
/// Every allocation (--exact, the default) or a Poisson sample by bytes
/// (--sampled: unbiased estimates at almost no cost) is written to a
/// compressed capture, `memlens-<name>.<pid>.mlc` unless -o is given.
/// Children made by fork and multiprocessing (fork, spawn, forkserver) and
/// Python subprocesses are followed: each writes `<name>.<child pid>.mlc`
/// beside it. At exit memlens says where the captures are and which report
/// commands to run; every report takes several captures at once.
#[derive(Args, Debug)]
#[command(
    override_usage = "memlens run [OPTIONS] SCRIPT [ARGS]...\n       memlens run [OPTIONS] -m MODULE [ARGS]...",
    after_help = "Examples:\n  memlens run app.py --port 8000\n  memlens run --sampled -o job.mlc -m mypkg.job input.csv\n  memlens summary job.mlc job.*.mlc"
)]
pub struct RunArgs {
    /// Record a Poisson sample of allocations by bytes (estimates, near-zero overhead).
    #[arg(long, conflicts_with = "exact")]
    pub sampled: bool,
    /// Record every allocation and free (the default).
    #[arg(long)]
    pub exact: bool,
    /// Mean bytes between two samples in --sampled mode.
    #[arg(long, value_name = "BYTES", default_value_t = 512 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub sample_interval: u64,
    /// Python frames kept per allocation (innermost first).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=128))]
    pub frames: u32,
    /// Also trace allocations made by C extensions (malloc, mmap) through the preload library.
    #[arg(long)]
    pub native: bool,
    /// The capture file (default: memlens-<name>.<pid>.mlc in the current directory).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Run a library module as a script, like `python -m`; what follows is its arguments.
    #[arg(short = 'm', value_name = "MODULE", num_args = 1.., allow_hyphen_values = true, conflicts_with = "target")]
    pub module: Option<Vec<String>>,
    /// The script and its arguments.
    #[arg(
        value_name = "SCRIPT",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required_unless_present = "module"
    )]
    pub target: Vec<String>,
}

pub fn run(args: RunArgs, host: &dyn PythonHost) -> anyhow::Result<i32> {
    host.run_verb("run", &forwarded(&args))
}

/// The validated arguments in the fixed shape `memlens._verb_run` reads.
fn forwarded(args: &RunArgs) -> Vec<String> {
    let mut out = vec![
        "--mode".to_string(),
        if args.sampled { "sampled" } else { "exact" }.to_string(),
        "--interval".to_string(),
        args.sample_interval.to_string(),
        "--frames".to_string(),
        args.frames.to_string(),
    ];
    if args.native {
        out.push("--native".to_string());
    }
    if let Some(output) = &args.output {
        out.push("--output".to_string());
        out.push(output.to_string_lossy().into_owned());
    }
    let (kind, values) = match &args.module {
        Some(module) => ("--module", module.as_slice()),
        None => ("--script", args.target.as_slice()),
    };
    out.push(kind.to_string());
    if let Some((first, rest)) = values.split_first() {
        out.push(first.clone());
        out.push("--".to_string());
        out.extend(rest.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(argv: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from(std::iter::once("run").chain(argv.iter().copied())).unwrap();
        forwarded(&cli.run)
    }

    #[test]
    fn the_program_keeps_its_own_arguments() {
        let table: &[(&[&str], &str)] = &[
            (&["app.py"], "--mode exact --interval 524288 --frames 25 --script app.py --"),
            (&["app.py", "--port", "80", "-v"], "--mode exact --interval 524288 --frames 25 --script app.py -- --port 80 -v"),
            (
                &["--sampled", "-o", "x.mlc", "-m", "pkg.mod", "--flag", "-x"],
                "--mode sampled --interval 524288 --frames 25 --output x.mlc --module pkg.mod -- --flag -x",
            ),
            (&["--frames", "1", "app.py", "--frames", "9"], "--mode exact --interval 524288 --frames 1 --script app.py -- --frames 9"),
        ];
        for (argv, expected) in table {
            assert_eq!(parse(argv).join(" "), *expected, "{argv:?}");
        }
    }

    #[test]
    fn a_program_is_required_and_modes_exclude_each_other() {
        assert!(Cli::try_parse_from(["run"]).is_err());
        assert!(Cli::try_parse_from(["run", "--sampled", "--exact", "a.py"]).is_err());
        assert!(Cli::try_parse_from(["run", "--frames", "0", "a.py"]).is_err());
    }
}

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
    override_usage = "memlens run [OPTIONS] SCRIPT [ARGS]...\n       memlens run [OPTIONS] -m MODULE [ARGS]...\n       memlens run [OPTIONS] -c CODE [ARGS]...",
    after_help = "Examples:\n  memlens run app.py --port 8000\n  memlens run --sampled -o job.mlc -m mypkg.job input.csv\n  memlens run -c 'import json; json.loads(open(\"big.json\").read())'\n  memlens summary job.mlc job.*.mlc"
)]
pub struct RunArgs {
    /// Record a Poisson sample of allocations by bytes (estimates, near-zero overhead).
    #[arg(long, conflicts_with = "exact")]
    pub sampled: bool,
    /// Record every allocation and free (the default).
    #[arg(long)]
    pub exact: bool,
    /// Mean bytes between two samples in --sampled mode.
    #[arg(long, value_name = "BYTES", default_value_t = 512 * 1024, value_parser = clap::value_parser!(u64).range(1..=super::values::MAX_SAMPLE_INTERVAL))]
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
    /// Overwrite the capture file if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// Run a library module as a script, like `python -m`; what follows is its arguments.
    #[arg(short = 'm', value_name = "MODULE", num_args = 1.., allow_hyphen_values = true, conflicts_with_all = ["target", "code"])]
    pub module: Option<Vec<String>>,
    /// Run CODE, like `python -c`; what follows is its arguments (sys.argv[1:]).
    #[arg(short = 'c', value_name = "CODE", num_args = 1.., allow_hyphen_values = true, conflicts_with = "target")]
    pub code: Option<Vec<String>>,
    /// The script and its arguments.
    #[arg(
        value_name = "SCRIPT",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required_unless_present_any = ["module", "code"]
    )]
    pub target: Vec<String>,
}

pub fn run(args: RunArgs, host: &dyn PythonHost) -> anyhow::Result<i32> {
    if args.module.is_none() && args.code.is_none() {
        if let Some(first) = args.target.first().filter(|first| first.starts_with('-')) {
            anyhow::bail!("{}", not_an_option(first));
        }
    }
    host.run_verb("run", &forwarded(&args))
}

/// The options `memlens run` takes, for suggestions.
const RUN_OPTIONS: &[&str] = &[
    "--sampled",
    "--exact",
    "--sample-interval",
    "--frames",
    "--native",
    "--output",
    "--force",
    "--help",
];

/// What to say when the program's place holds something that looks like an
/// option: `memlens run --smapled app.py` must not try to run `--smapled`.
fn not_an_option(word: &str) -> String {
    let name = word.split('=').next().unwrap_or(word);
    let hint = match name {
        "--live" | "--live-remote" | "--live-port" => {
            "memlens run has no live view yet: run the program, then `memlens summary` its capture"
                .to_string()
        }
        "--follow-fork" => {
            "memlens run always follows forked children; drop the option".to_string()
        }
        "--trace-python-allocators" => {
            "memlens run always traces Python's allocators; drop the option".to_string()
        }
        "--aggregate" => {
            "memlens run has no --aggregate; --sampled records an unbiased sample instead"
                .to_string()
        }
        _ => match closest(name, RUN_OPTIONS) {
            Some(option) => format!("did you mean {option}?"),
            None => "see `memlens run --help`".to_string(),
        },
    };
    format!(
        "unknown option {name} for memlens run ({hint}); a script whose name starts with '-' is run as ./{word}"
    )
}

/// The option nearest to `word` by edit distance, if it is near enough to be a typo.
pub(super) fn closest<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    let word = word.trim_start_matches('-');
    options
        .iter()
        .map(|option| (edit_distance(word, option.trim_start_matches('-')), *option))
        .filter(|&(distance, option)| distance <= 2.max(option.len() / 4))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, option)| option)
}

/// Levenshtein distance, counting an adjacent swap (`smapled`) as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
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
    if args.force {
        out.push("--force".to_string());
    }
    if let Some(output) = &args.output {
        out.push("--output".to_string());
        out.push(output.to_string_lossy().into_owned());
    }
    let (kind, values) = match (&args.module, &args.code) {
        (Some(module), _) => ("--module", module.as_slice()),
        (None, Some(code)) => ("--code", code.as_slice()),
        (None, None) => ("--script", args.target.as_slice()),
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
            (&["-c", "print(1)", "-x", "--y"], "--mode exact --interval 524288 --frames 25 --code print(1) -- -x --y"),
            (&["--sampled", "-c", "-"], "--mode sampled --interval 524288 --frames 25 --code - --"),
        ];
        for (argv, expected) in table {
            assert_eq!(parse(argv).join(" "), *expected, "{argv:?}");
        }
    }

    #[test]
    fn a_mistyped_option_is_not_taken_for_the_script() {
        let table: &[(&str, &str)] = &[
            ("--smapled", "did you mean --sampled?"),
            ("--frame=3", "did you mean --frames?"),
            ("--nativ", "did you mean --native?"),
            ("--live", "no live view"),
            ("--zzzzzzzz", "see `memlens run --help`"),
        ];
        for (word, expected) in table {
            let cli = Cli::try_parse_from(["run", word, "app.py"]).unwrap();
            let err = super::run(cli.run, &crate::NoPython)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{word}: {err}");
            assert!(
                err.starts_with(&format!(
                    "unknown option {}",
                    word.split('=').next().unwrap()
                )),
                "{err}"
            );
        }
        // The program's own options, after the script, are its own.
        let cli = Cli::try_parse_from(["run", "app.py", "--smapled"]).unwrap();
        let err = super::run(cli.run, &crate::NoPython)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs the Python package"), "{err}");
    }

    #[test]
    fn a_program_is_required_and_modes_exclude_each_other() {
        assert!(Cli::try_parse_from(["run"]).is_err());
        assert!(Cli::try_parse_from(["run", "--sampled", "--exact", "a.py"]).is_err());
        assert!(Cli::try_parse_from(["run", "--frames", "0", "a.py"]).is_err());
        assert!(Cli::try_parse_from(["run", "-c"]).is_err());
        assert!(
            Cli::try_parse_from(["run", "-m", "m", "-c", "x"]).is_ok_and(|c| c.run.code.is_none())
        );
    }
}

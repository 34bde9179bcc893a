//! `memlens leaks`: run a Python program and find its leaks unprompted.

use std::path::PathBuf;

use clap::Args;

use crate::PythonHost;

/// Run a Python program and find what leaks: what grows, the root that holds it, and the fix.
///
/// The program runs in this interpreter as `python script.py`, `python -m
/// module` or `python -c code` would run it. While it runs, memlens takes a
/// census of the heap at checkpoints (on a timer and after full
/// collections; within 5% of the program's time after its first second),
/// takes a baseline snapshot once a type has grown twice in a row, and at
/// exit a final snapshot: the objects of the types that grew at every
/// checkpoint and are new since the baseline are grouped by the holder that
/// keeps them, classified (module global, class attribute, closure, cache,
/// listener, traceback, held from C…) and reported with the fix, on stderr
/// after the program's own output. The exit status is the program's
/// (3 with --fail-on-leak when it exited 0 and a leak was found).
#[derive(Args, Debug)]
#[command(
    override_usage = "memlens leaks [OPTIONS] SCRIPT [ARGS]...\n       memlens leaks [OPTIONS] -m MODULE [ARGS]...\n       memlens leaks [OPTIONS] -c CODE [ARGS]...",
    after_help = "Examples:\n  memlens leaks app.py --requests 5000\n  memlens leaks --json -o leaks.json -m mypkg.worker\n  memlens leaks --fail-on-leak tests/soak.py"
)]
pub struct LeaksArgs {
    /// Write the report to FILE instead of stderr.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the report file if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// Write the report as JSON (schema memlens.leaks/1, docs/leaks.md).
    #[arg(long)]
    pub json: bool,
    /// Exit with status 3 when a leak is found and the program exited 0.
    #[arg(long)]
    pub fail_on_leak: bool,
    /// A leak must count at least this many new objects.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub min_objects: u64,
    /// Also save the final heap snapshot (.mlh) for `memlens heap`.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
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

/// The options `memlens leaks` takes, for suggestions.
const LEAKS_OPTIONS: &[&str] = &[
    "--output",
    "--force",
    "--json",
    "--fail-on-leak",
    "--min-objects",
    "--snapshot",
    "--help",
];

pub fn run(args: LeaksArgs, host: &dyn PythonHost) -> anyhow::Result<i32> {
    if args.module.is_none() && args.code.is_none() {
        if let Some(first) = args.target.first().filter(|first| first.starts_with('-')) {
            let name = first.split('=').next().unwrap_or(first);
            let hint = match super::run::closest(name, LEAKS_OPTIONS) {
                Some(option) => format!("did you mean {option}?"),
                None => "see `memlens leaks --help`".to_string(),
            };
            anyhow::bail!(
                "unknown option {name} for memlens leaks ({hint}); a script whose name starts with '-' is run as ./{first}"
            );
        }
    }
    if let (Some(output), Some(snapshot)) = (&args.output, &args.snapshot) {
        if output == snapshot {
            anyhow::bail!(
                "--output and --snapshot name the same file {}",
                output.display()
            );
        }
    }
    host.run_verb("leaks", &forwarded(&args))
}

/// The arguments handed to the Python half: `--key value` options, then
/// the program.
fn forwarded(args: &LeaksArgs) -> Vec<String> {
    let mut out = vec!["--min-objects".to_string(), args.min_objects.to_string()];
    for (flag, on) in [
        ("--force", args.force),
        ("--json", args.json),
        ("--fail-on-leak", args.fail_on_leak),
    ] {
        if on {
            out.push(flag.to_string());
        }
    }
    for (flag, path) in [("--output", &args.output), ("--snapshot", &args.snapshot)] {
        if let Some(path) = path {
            out.push(flag.to_string());
            out.push(path.to_string_lossy().into_owned());
        }
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
        leaks: LeaksArgs,
    }

    #[test]
    fn the_program_keeps_its_own_arguments() {
        let table: &[(&[&str], &str)] = &[
            (&["app.py"], "--min-objects 20 --script app.py --"),
            (
                &["--json", "app.py", "--json", "-o", "x"],
                "--min-objects 20 --json --script app.py -- --json -o x",
            ),
            (
                &["-o", "r.txt", "-m", "pkg.mod", "-x"],
                "--min-objects 20 --output r.txt --module pkg.mod -- -x",
            ),
            (
                &["--min-objects", "5", "-c", "pass", "a"],
                "--min-objects 5 --code pass -- a",
            ),
        ];
        for (argv, expected) in table {
            let cli =
                Cli::try_parse_from(std::iter::once("leaks").chain(argv.iter().copied())).unwrap();
            assert_eq!(forwarded(&cli.leaks).join(" "), *expected, "{argv:?}");
        }
    }

    #[test]
    fn a_mistyped_option_is_an_error_with_a_suggestion() {
        let cli = Cli::try_parse_from(["leaks", "--jsn", "app.py"]).unwrap();
        let err = super::run(cli.leaks, &crate::NoPython)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean --json?"), "{err}");
        assert!(Cli::try_parse_from(["leaks", "--min-objects", "0", "a.py"]).is_err());
        assert!(Cli::try_parse_from(["leaks"]).is_err());
    }
}

//! One module per verb; this file holds the command tree and dispatch.

mod completions;
mod demo;
mod diff;
mod export;
mod flamegraph;
mod heap;
mod leaks;
mod lint;
mod run;
mod stats;
mod summary;
mod table;
mod tree;
mod values;

use clap::{Parser, Subcommand};

use crate::{ExitCode, PythonHost};

/// memlens: what uses memory in a Python program, why it is still alive, and how to shrink it.
#[derive(Parser, Debug)]
#[command(name = "memlens", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Demo(demo::DemoArgs),
    Lint(lint::LintArgs),
    Run(run::RunArgs),
    Summary(summary::SummaryArgs),
    Table(table::TableArgs),
    Tree(tree::TreeArgs),
    Stats(stats::StatsArgs),
    Flamegraph(flamegraph::FlamegraphArgs),
    Diff(diff::DiffArgs),
    Export(export::ExportArgs),
    Heap(heap::HeapArgs),
    Leaks(leaks::LeaksArgs),
    Completions(completions::CompletionsArgs),
}

/// Parses `argv` (program name first) and runs the verb, returning the exit code.
///
/// Never panics on user input: argument errors print clap's message and
/// return 2; `--help` and `--version` print and return 0.
pub fn run(argv: Vec<String>, host: &dyn PythonHost) -> i32 {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                ExitCode::Error
            } else {
                ExitCode::Clean
            };
            let _ = err.print();
            return code.into();
        }
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(args, host),
        Command::Lint(args) => lint::run(args),
        Command::Run(args) => run::run(args, host),
        Command::Summary(args) => summary::run(args),
        Command::Table(args) => table::run(args),
        Command::Tree(args) => tree::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Flamegraph(args) => flamegraph::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Export(args) => export::run(args),
        Command::Heap(args) => heap::run(args),
        Command::Leaks(args) => leaks::run(args, host),
        Command::Completions(args) => completions::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader of a pipe went away (`| head`): it had what it wanted.
        Err(err) if crate::output::is_broken_pipe(&err) => ExitCode::Clean.into(),
        Err(err) => {
            eprintln!("memlens: error: {}", crate::output::describe(&err));
            ExitCode::Error.into()
        }
    }
}

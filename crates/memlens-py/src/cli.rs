//! The `memlens` console script: hands `sys.argv` to the clap command tree.

use pyo3::prelude::*;

/// Verbs that need the interpreter call back into `memlens._cli.run_verb`.
struct InterpreterHost;

impl memlens_cli::PythonHost for InterpreterHost {
    fn run_verb(&self, verb: &str, args: &[String]) -> anyhow::Result<i32> {
        Python::attach(|py| {
            let module = py.import("memlens._cli")?;
            let code: i32 = module
                .call_method1("run_verb", (verb, args.to_vec()))?
                .extract()?;
            Ok::<i32, PyErr>(code)
        })
        .map_err(|err| anyhow::anyhow!("{err}"))
    }
}

/// Runs the command line `argv` (program name first) and returns the exit code.
///
/// The GIL is released while Rust works so that verbs analysing large files
/// do not stall other Python threads; the host re-attaches when needed.
#[pyfunction]
pub fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| memlens_cli::run(argv, &InterpreterHost))
}

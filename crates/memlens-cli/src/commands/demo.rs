//! `memlens demo`: run the bundled leak examples and show what grows and who holds it.

use clap::Args;

use crate::PythonHost;

/// Run the four classic leaks and show what grows and who holds it.
///
/// Runs the four classic leaks from `examples/` under memlens and reports, for
/// each, the type that grows per iteration and the reference chain from the
/// root that holds it; then shows that the fixed versions do not grow.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Run only the named scenario (module_list, class_attribute, closure, listener).
    #[arg(long)]
    pub only: Option<String>,
    /// Iterations of the leaking call between the two censuses.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
}

pub fn run(args: DemoArgs, host: &dyn PythonHost) -> anyhow::Result<i32> {
    let mut forwarded = vec!["--iterations".to_string(), args.iterations.to_string()];
    if let Some(only) = args.only {
        forwarded.extend(["--only".to_string(), only]);
    }
    host.run_verb("demo", &forwarded)
}

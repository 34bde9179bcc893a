//! The cargo-built `memlens` binary: every verb that needs no Python.

fn main() {
    let code = memlens_cli::run(std::env::args().collect(), &memlens_cli::NoPython);
    std::process::exit(code);
}

//! `memlens completions`: a shell completion script, generated from the
//! command tree itself so it never falls behind the verbs and options.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a completion script for your shell.
///
/// bash:  memlens completions bash > ~/.local/share/bash-completion/completions/memlens
/// zsh:   memlens completions zsh > "${fpath[1]}/_memlens"
/// fish:  memlens completions fish > ~/.config/fish/completions/memlens.fish
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<i32> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "memlens", &mut script);
    // Not through output::print: the script is ours, not the program's, and
    // must reach the shell byte for byte.
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(anyhow::Error::from)?;
    Ok(0)
}

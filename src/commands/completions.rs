//! `ladder completions`: shell completion scripts, generated from the CLI
//! definition (what `completions/` holds).

use crate::error::Result;
use clap::CommandFactory;

/// Print a shell completion script
///
/// bash: `ladder completions bash > ~/.local/share/bash-completion/completions/ladder`;
/// zsh: into a directory on $fpath as `_ladder`; fish: `~/.config/fish/completions/ladder.fish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args, json: bool) -> Result<()> {
    let out = script(args.shell);
    if json {
        crate::render::emit_json(&serde_json::json!({
            "shell": args.shell.to_string(),
            "script": String::from_utf8_lossy(&out),
        }));
    } else {
        crate::render::emit(&String::from_utf8_lossy(&out));
    }
    Ok(())
}

/// The completion script for a shell, as bytes (used by the generator test).
pub fn script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "ladder", &mut out);
    out
}

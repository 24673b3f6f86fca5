//! The command line: global flags and the subcommands. One source of truth
//! for `--help`, the man pages and the shell completions.

use crate::commands;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Plan, approve, apply once, replay: a safe gate between an agent and a command
///
/// ladder turns "run this" into rungs: `plan` fixes the exact command under a
/// content hash and classifies its blast radius by policy; people `approve` or
/// `reject` that hash; `apply` runs it once, only if everything still matches;
/// a retry with the same key gets the recorded outcome back (`replay`); `log`
/// shows the hash-chained ledger of every rung.
#[derive(Debug, Parser)]
#[command(
    name = "ladder",
    version,
    max_term_width = 100,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// State file [default: state.db in the user data directory]
    #[arg(long, global = true, env = "LADDER_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]
    ///
    /// When the system policy /etc/ladder/policy.toml exists, it is always in
    /// force, and this policy is laid over it: it can only make a verdict
    /// stricter.
    #[arg(long, global = true, env = "LADDER_POLICY", value_name = "PATH")]
    pub policy: Option<PathBuf>,

    /// Who is acting [default: $LADDER_ACTOR, else the OS user]
    #[arg(long, global = true, value_name = "NAME")]
    pub actor: Option<String>,

    /// Print one JSON object on stdout (log: JSON Lines), errors included
    #[arg(long, global = true)]
    pub json: bool,
}

// The commands, one file each in commands/. A command's `--help` is the
// `///` comment on its `Args` struct (`policy`'s on its `Command` enum),
// next to the flags it describes. So clap builds every command's flags at
// each call: `#[command(defer = true)]` would build only the invoked one's
// and save a little of every call (BENCHMARKS.md, fifth session), but
// `ladder --help` would then list the commands without their descriptions
// unless those moved here, away from the flags. (A `///` comment on this
// enum would replace ladder's own description.)
#[derive(Debug, Subcommand)]
pub enum Command {
    Plan(commands::plan::Args),
    Approve(commands::approve::Args),
    Reject(commands::reject::Args),
    Apply(commands::apply::Args),
    Replay(commands::replay::Args),
    Log(commands::log::Args),
    Show(commands::show::Args),
    List(commands::list::Args),
    Resolve(commands::resolve::Args),
    #[command(subcommand)]
    Policy(commands::policy::Command),
    Mcp(commands::mcp::Args),
    Completions(commands::completions::Args),
    Man(commands::man::Args),
}

/// A clap error in one line, as the contract wants errors: its message
/// spans lines ("required arguments were not provided:" then the
/// arguments), followed by usage, which are dropped.
pub fn one_line(e: &clap::Error) -> String {
    let rendered = e.to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    lines.join(" ").trim_start_matches("error: ").to_string()
}

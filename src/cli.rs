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

// Each command's description lives here, on its variant, and its flags on
// its `Args` struct. `defer` builds a command's flags only when that command
// runs (or help, a man page or a completion script needs them): `ladder
// apply` no longer builds the other commands' flags, ~0.05 ms of every call
// (`policy`'s subcommands are deferred the same way in commands/policy.rs).
// The descriptions stay on the variants because `ladder --help` lists them
// without building any command. (A `///` comment here would replace
// ladder's own description.)
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Describe a command, classify it by policy, and store it as a plan
    ///
    /// The plan fixes the exact argv, the program file it will run (resolved on
    /// PATH now, bound by its identity), an interpreter's script, the working
    /// directory, the bound environment (--env, the variables the policy's rules
    /// look at, and the loader environment: PATH, HOME, LD_*, BASH_ENV,
    /// KUBECONFIG...) and the dry-run's result under a sha256 hash. Planning the same key with
    /// the same content again returns the existing plan; different content under
    /// a live key is refused (key_conflict). A key whose plan was rejected,
    /// expired or denied may be planned again.
    Plan(commands::plan::Args),
    /// Approve a pending plan's current hash
    ///
    /// With no PLAN on a terminal, walks the pending queue oldest first, showing
    /// each plan's card and asking approve / reject / skip / quit. Asks for
    /// confirmation on a terminal unless --yes; without a terminal, --yes is
    /// required. The answer approves the plan whose card was shown, by its id and
    /// hash: if that plan was rejected or expired meanwhile, the approval is
    /// refused with its state's code, even when another plan now holds the key.
    /// With --hash, a plan whose hash differs is refused (hash_mismatch) before
    /// anything is asked. The planner may not approve their own plan when policy
    /// separates duties, and nobody approves the same plan twice.
    Approve(commands::approve::Args),
    /// Reject a plan; the reason is returned to the agent by `show` and `apply`
    ///
    /// A pending or approved plan that has not started can be rejected. Its key
    /// may then be planned again, as a new plan with fresh approvals. With
    /// --hash, a plan whose hash differs is refused (hash_mismatch): the key
    /// may hold another plan than the one you reviewed.
    Reject(commands::reject::Args),
    /// Run an approved plan's command once and record its outcome
    ///
    /// Checks, in order, and refuses with the first failing code: plan exists;
    /// key matches; hash matches; already applied (then replays the recorded
    /// outcome instead of running); in flight; interrupted; rejected; expired;
    /// denied; then the stored plan must hash to its hash (else tampered) and
    /// takes the stricter verdict of the policy in force; approvals short
    /// (counted from the approval records); budget; drift (bound environment,
    /// program, files, directory and dry-run: else stale). Then runs the bound program
    /// by its path (no shell, no PATH lookup) in the planned directory, streams
    /// its output while recording it, and exits with its exit code (128+N for
    /// signal N).
    Apply(commands::apply::Args),
    /// Write a plan's recorded stdout and stderr and exit with its recorded code
    ///
    /// Runs nothing. The recorded stdout and stderr are written byte for byte;
    /// only when stderr is a terminal does a line before them say that this
    /// is a replay. With --json, prints the execution object with
    /// "replayed": true. A record that no longer matches the digests and byte
    /// counts taken while the command ran is refused (tampered, exit 21).
    Replay(commands::replay::Args),
    /// Show the audit ledger, newest last; --verify checks the hash chain
    ///
    /// Every rung is an event chained to the one before by its hash. --verify
    /// recomputes the whole chain, checks that the database still refuses edits
    /// and deletions of events (its triggers as the schema wrote them), checks
    /// every plan against its events (hash, command, tier and approvals as
    /// planned; approved, started and applied only as the ledger shows), and
    /// names the first broken event or disagreeing plan (exit 21).
    Log(commands::log::Args),
    /// Show one plan: command, decision, approvals, window, outcome
    Show(commands::show::Args),
    /// List plans (default: the pending ones)
    List(commands::list::Args),
    /// Settle an interrupted plan: succeeded, failed, or retry (one more apply)
    ///
    /// When ladder dies while a command runs, nobody knows whether it took
    /// effect, so ladder refuses to run it again (outcome_unknown) until a person
    /// checks and says. `succeeded` and `failed` record the outcome (exit 0 or 1;
    /// later applies replay it); `retry` permits exactly one more apply. Name the
    /// plan or its key; with --hash, a plan whose hash differs is refused
    /// (hash_mismatch).
    Resolve(commands::resolve::Args),
    /// Show, validate or explain the policy that classifies commands
    #[command(subcommand)]
    Policy(commands::policy::Command),
    /// Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout
    ///
    /// For agent frameworks that speak the Model Context Protocol: one long-lived
    /// process answers JSON-RPC 2.0 messages, one per line, and keeps the state
    /// open and the policy loaded between calls, so a call skips the start-up a
    /// new process pays. Each tool takes its command's flags as arguments (the
    /// command to plan as an array of strings) and returns what --json prints;
    /// isError is true exactly when the command would exit non-zero. approve,
    /// reject and resolve are not tools: people decide those in a terminal.
    /// Commands that apply runs read /dev/null as stdin. Requests are answered
    /// one at a time, in order; the server exits when stdin closes.
    Mcp(commands::mcp::Args),
    /// Print a shell completion script
    ///
    /// bash: `ladder completions bash > ~/.local/share/bash-completion/completions/ladder`;
    /// zsh: into a directory on $fpath as `_ladder`; fish: `~/.config/fish/completions/ladder.fish`.
    Completions(commands::completions::Args),
    /// Print the man page, or write one page per command into a directory
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

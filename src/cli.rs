//! The command line: global flags and the subcommands. One source of truth
//! for `--help`, the man pages and the shell completions.

use crate::commands;
use crate::error::{Error, Kind};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
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

/// Where ladder's own options are listed, apart from a command's.
const GLOBAL: &str = "Global options";

#[derive(Debug, clap::Args)]
pub struct Global {
    /// State file [default: state.db in the user data directory]
    #[arg(long, global = true, env = "LADDER_STATE", value_name = "PATH", help_heading = GLOBAL)]
    pub state: Option<PathBuf>,

    /// Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]
    ///
    /// When the system policy /etc/ladder/policy.toml exists, it is always in
    /// force, and this policy is laid over it: it can only make a verdict
    /// stricter.
    #[arg(long, global = true, env = "LADDER_POLICY", value_name = "PATH", help_heading = GLOBAL)]
    pub policy: Option<PathBuf>,

    /// Who is acting [default: $LADDER_ACTOR, else the OS user]
    #[arg(long, global = true, value_name = "NAME", help_heading = GLOBAL)]
    pub actor: Option<String>,

    /// Print one JSON object on stdout (log: JSON Lines), errors included
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never
    #[arg(long, global = true, value_name = "WHEN", value_enum, help_heading = GLOBAL, default_value_t = crate::context::ColorChoice::Auto)]
    pub color: crate::context::ColorChoice,
}

impl Global {
    /// What a context is made from.
    pub fn settings(&self) -> crate::context::Settings {
        crate::context::Settings {
            state: self.state.clone(),
            policy: self.policy.clone(),
            actor: self.actor.clone(),
            json: self.json,
            color: self.color,
        }
    }
}

// The commands, one file each in commands/. A command's `--help` is the
// `///` comment on its `Args` struct (`policy`'s on its `Command` enum),
// next to the flags it describes. So clap builds every command's flags at
// each call: `#[command(defer = true)]` would build only the invoked one's
// and save a little of every call (BENCHMARKS.md, *Process start-up*), but
// `ladder --help` would then list the commands without their descriptions
// unless those moved here, away from the flags. (A `///` comment on this
// enum would replace ladder's own description.)
#[derive(Debug, Subcommand)]
pub enum Command {
    Plan(commands::plan::Args),
    Approve(commands::approve::Args),
    Reject(commands::reject::Args),
    Cancel(commands::cancel::Args),
    Apply(commands::apply::Args),
    Replay(commands::replay::Args),
    Log(commands::log::Args),
    Show(commands::show::Args),
    List(commands::list::Args),
    Resolve(commands::resolve::Args),
    Rollback(commands::rollback::Args),
    #[command(subcommand)]
    Policy(commands::policy::Command),
    #[command(subcommand)]
    State(commands::state::Command),
    Mcp(commands::mcp::Args),
    Completions(commands::completions::Args),
    Man(commands::man::Args),
}

/// `ladder` from its arguments (the program name first) to the code it
/// exits with: what `main` does once the process is set up. It prints help,
/// the version and argument errors itself, and runs the command; it never
/// exits the process, so tests can call it.
pub fn main(args: Vec<OsString>) -> crate::Exit {
    match parse(&args) {
        Entry::CompleteIds => crate::complete_ids().into(),
        Entry::Run(cli) => crate::run(*cli),
        Entry::Print(e)
            if e.kind() == clap::error::ErrorKind::DisplayVersion && json_asked(&args) =>
        {
            let version = serde_json::json!({
                "name": "ladder",
                "version": env!("CARGO_PKG_VERSION"),
            });
            match crate::render::emit_json(version) {
                Ok(()) => 0,
                Err(_) => 1,
            }
            .into()
        }
        Entry::Print(e) => {
            // --help and --version: print as clap does, exit 0 (1 when
            // stdout fails, as for any other output).
            match e.print() {
                Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                    crate::render::stdout_failed(&err);
                    1
                }
                _ => 0,
            }
            .into()
        }
        Entry::Refuse { error, json } => {
            crate::report_error(&error, json);
            error.kind.exit_code().into()
        }
    }
}

/// What a command line asks for, decided before anything runs or prints.
#[derive(Debug)]
enum Entry {
    /// `ladder __complete-ids` (see [`crate::complete_ids`]).
    CompleteIds,
    /// A command to run (boxed: it is by far the largest variant).
    Run(Box<Cli>),
    /// `--help` or `--version`: clap's text, for stdout.
    Print(clap::Error),
    /// An argument error, the contract's way.
    Refuse { error: Error, json: bool },
}

/// `ladder`, and the subcommand (and its own subcommand) a command line
/// names, for the help an argument error points to.
fn command_named(args: &[OsString]) -> String {
    use clap::CommandFactory as _;
    let cli = Cli::command();
    let mut named = vec!["ladder".to_string()];
    let mut at = &cli;
    let mut words = args.iter().skip(1).take_while(|a| *a != "--");
    while let Some(word) = words.next() {
        let Some(word) = word.to_str() else { break };
        if matches!(word, "--state" | "--policy" | "--actor" | "--color") {
            words.next();
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        match at.find_subcommand(word) {
            Some(sub) => {
                named.push(word.to_string());
                at = sub;
            }
            None => break,
        }
    }
    named.join(" ")
}

fn parse(args: &[OsString]) -> Entry {
    if args.get(1).is_some_and(|a| a == "__complete-ids") {
        return Entry::CompleteIds;
    }
    let e = match Cli::try_parse_from(args) {
        Ok(cli) => return Entry::Run(Box::new(cli)),
        Err(e) if !e.use_stderr() => return Entry::Print(e),
        Err(e) => e,
    };
    // `ladder plan ls -la` is the most common slip: the command belongs
    // after `--`.
    let forgot_dashes = e.kind() == clap::error::ErrorKind::UnknownArgument
        && args.iter().any(|a| a == "plan" || a == "explain")
        && !args.iter().any(|a| a == "--");
    let hint = if forgot_dashes {
        "put the command after `--`, e.g. `ladder plan --key K -- ls -la`".to_string()
    } else {
        format!("see `{} --help`", command_named(args))
    };
    Entry::Refuse {
        error: Error::new(Kind::Usage, one_line(&e)).with_hint(hint),
        // --json must shape even argument errors, which clap reports
        // before we know the parsed flags.
        json: json_asked(args),
    }
}

/// Whether `--json` is among ladder's own arguments (before `--`).
fn json_asked(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

pub use crate::error::clap_line as one_line;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(args: &[&str]) -> Entry {
        let args: Vec<OsString> = std::iter::once("ladder")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        parse(&args)
    }

    fn refusal(args: &[&str]) -> (Error, bool) {
        match parse_line(args) {
            Entry::Refuse { error, json } => (error, json),
            other => panic!("{args:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_command_without_its_double_dash_is_told_where_it_goes() {
        for args in [
            &["plan", "--key", "k", "ls", "-la"][..],
            &["policy", "explain", "ls", "-la"],
        ] {
            let (e, _) = refusal(args);
            assert_eq!(e.kind, Kind::Usage);
            assert!(
                e.hint
                    .as_deref()
                    .unwrap()
                    .starts_with("put the command after `--`"),
                "{args:?}: {e:?}"
            );
            assert!(!e.message.contains('\n'), "{:?}", e.message);
        }
        // With the `--` there, or in a command that takes no command, the
        // slip is another one.
        for (args, help) in [
            (&["plan", "--bogus", "--", "ls"][..], "ladder plan"),
            (&["--actor", "list", "list", "-la"], "ladder list"),
            (
                &["policy", "explain", "--bogus", "--", "ls"],
                "ladder policy explain",
            ),
            (&["--bogus"], "ladder"),
        ] {
            let (e, _) = refusal(args);
            assert_eq!(
                e.hint.as_deref(),
                Some(format!("see `{help} --help`").as_str()),
                "{args:?}"
            );
        }
    }

    #[test]
    fn json_before_the_double_dash_shapes_an_argument_error() {
        assert!(refusal(&["plan", "--bogus", "--json", "--", "ls"]).1);
        assert!(refusal(&["--json"]).1);
        assert!(!refusal(&["plan", "--bogus", "--", "ls"]).1);
        // After `--`, it is an argument of the command being planned.
        assert!(!refusal(&["plan", "--bogus", "--", "ls", "--json"]).1);
    }

    #[test]
    fn complete_ids_is_answered_before_clap_sees_it() {
        assert!(matches!(
            parse_line(&["__complete-ids"]),
            Entry::CompleteIds
        ));
        // Only as the first argument: elsewhere clap judges it.
        assert!(matches!(
            parse_line(&["list", "__complete-ids"]),
            Entry::Refuse { .. }
        ));
    }

    #[test]
    fn help_and_version_are_printed_not_refused() {
        let Entry::Print(help) = parse_line(&["plan", "--help"]) else {
            panic!("plan --help is not printed");
        };
        // A command's help is the `///` comment on its `Args` struct.
        let help = help.to_string();
        assert!(
            help.starts_with("Describe a command, classify it by policy"),
            "{help}"
        );
        assert!(help.contains("--key <KEY>"), "{help}");
        assert!(matches!(parse_line(&["--version"]), Entry::Print(_)));
    }

    #[test]
    fn a_command_line_that_parses_is_run() {
        let Entry::Run(cli) = parse_line(&["list", "--json"]) else {
            panic!("list --json does not run");
        };
        assert!(cli.global.json);
        assert!(matches!(cli.command, Command::List(_)));
    }

    #[test]
    fn main_returns_the_code_instead_of_exiting() {
        // Prints one error line on stderr.
        let exit = main(vec!["ladder".into(), "--no-such-flag".into()]);
        assert_eq!(exit.code(), Kind::Usage.exit_code());
    }
}

//! ladder: a gate between "run this" and the side effect.
//!
//! cli → commands → rungs → (policy | store | runner) → render. Each rung
//! lives in `rungs/` under its name (`plan.rs`, `approve.rs`, `reject.rs`,
//! `apply.rs`, `replay.rs`, `resolve.rs`; `dry_run.rs`, `lifecycle.rs`,
//! `inspect.rs`); `commands/` turns flags into a rung's request and its
//! outcome into output, one file per subcommand. The pure cores: `plan_hash`
//! (the canonical form and its digest), `policy` (TOML model, argv
//! patterns, evaluation), `gate` (may this rung proceed?), `ledger` (event
//! hashing and chain verification), `audit` (plan rows against the
//! ledger), `binding` (what a plan binds of the machine). The edges:
//! `store` (where state lives, run liveness included), `runner` (spawning
//! the command), `render` (cards, tables, JSON).

pub mod audit;
pub mod binding;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod context;
pub mod digest;
pub mod duration;
pub mod error;
pub mod gate;
pub mod ledger;
pub mod mcp;
pub mod meta;
pub mod model;
pub mod names;
pub mod notify;
pub mod plan_hash;
pub mod policy;
pub mod preview;
pub mod render;
pub mod rungs;
pub mod runner;
pub mod signing;
pub mod store;
pub mod text;
pub mod tier;

use clap::CommandFactory as _;
use cli::{Cli, Command};
use context::Ctx;
use error::Result;

/// The code `ladder` exits with, and the state the command opened, still
/// open.
///
/// `main` hands the code to `std::process::exit` while this is in scope, on
/// purpose: exiting runs no destructors, so the SQLite connection, the
/// policy and the caches are not torn down just before the kernel does it
/// anyway, a cost every command would pay (BENCHMARKS.md, *Process start-up*).
/// Nothing is lost: a transaction never outlives the closure that opened it,
/// output is written unbuffered, and SQLite writes nothing at close with the
/// WAL kept (see `SqliteStore::configure`); the kernel releases the locks and
/// descriptors. A caller that goes on instead (a test) drops it, which
/// closes the state as usual.
#[must_use = "exit with `code()` while this is in scope"]
pub struct Exit {
    code: i32,
    _open: Option<Ctx>,
}

impl Exit {
    pub fn code(&self) -> i32 {
        self.code
    }
}

impl From<i32> for Exit {
    fn from(code: i32) -> Self {
        Exit { code, _open: None }
    }
}

/// Runs one parsed command line and returns what ladder exits with (0, the
/// wrapped command's own code for `apply` and `replay`, or the error's,
/// reported on the way).
pub fn run(cli: Cli) -> Exit {
    let json = cli.global.json;
    let code = |result: Result<i32>| -> i32 {
        match result {
            Ok(code) => code,
            Err(e) => {
                report_error(&e, json);
                e.kind.exit_code()
            }
        }
    };
    // Commands that need no state, policy or actor.
    match cli.command {
        Command::Completions(args) => {
            let done = commands::completions::run(args, json, Cli::command());
            return code(done.map(|_| 0)).into();
        }
        Command::Man(args) => {
            return code(commands::man::run(args, json, Cli::command()).map(|_| 0)).into();
        }
        _ => {}
    }
    let settings = cli.global.settings();
    if let Command::Mcp(args) = cli.command {
        return code(commands::mcp::run(&settings, args, Cli::command())).into();
    }
    let mut ctx = match Ctx::new(&settings) {
        Ok(ctx) => ctx,
        Err(e) => return code(Err(e)).into(),
    };
    let result = dispatch(&mut ctx, cli.command);
    ctx.show_store_warnings();
    Exit {
        code: code(result),
        _open: Some(ctx),
    }
}

/// Runs one command in a context and returns the code the CLI exits with.
pub fn dispatch(ctx: &mut Ctx, command: Command) -> Result<i32> {
    match command {
        Command::Plan(args) => commands::plan::run(ctx, args).map(|_| 0),
        Command::Approve(args) => commands::approve::run(ctx, args).map(|_| 0),
        Command::Reject(args) => commands::reject::run(ctx, args).map(|_| 0),
        Command::Cancel(args) => commands::cancel::run(ctx, args).map(|_| 0),
        Command::Apply(args) => commands::apply::run(ctx, args),
        Command::Replay(args) => commands::replay::run(ctx, args),
        Command::Log(args) => commands::log::run(ctx, args).map(|_| 0),
        Command::Show(args) => commands::show::run(ctx, args).map(|_| 0),
        Command::List(args) => commands::list::run(ctx, args).map(|_| 0),
        Command::Resolve(args) => commands::resolve::run(ctx, args).map(|_| 0),
        Command::Rollback(args) => commands::rollback::run(ctx, args).map(|_| 0),
        Command::Policy(cmd) => commands::policy::run(ctx, cmd).map(|_| 0),
        Command::State(cmd) => commands::state::run(ctx, cmd).map(|_| 0),
        Command::Completions(args) => {
            commands::completions::run(args, ctx.json, Cli::command()).map(|_| 0)
        }
        Command::Man(args) => commands::man::run(args, ctx.json, Cli::command()).map(|_| 0),
        Command::Mcp(_) => Err(error::Error::usage(
            "`ladder mcp` does not run inside itself",
        )),
    }
}

/// `ladder __complete-ids`: plan ids for the shell completion scripts. Kept
/// outside the clap definition so it does not show up in help, man pages or
/// the completions themselves; never fails loudly (a completion must not
/// print errors into the user's command line).
pub fn complete_ids() -> i32 {
    let global = context::Settings {
        state: std::env::var_os("LADDER_STATE")
            .filter(|s| !s.is_empty())
            .map(Into::into),
        policy: None,
        actor: Some("completion".into()),
        json: false,
        color: context::ColorChoice::Never,
    };
    match Ctx::new(&global).and_then(|mut ctx| commands::completions::plan_ids(&mut ctx)) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Prints an error the contract's way: a JSON object on stdout with
/// `--json`, else one line on stderr starting `ladder: `.
pub fn report_error(e: &error::Error, json: bool) {
    if json {
        // The error's own exit code stands even when its report cannot be
        // written; it then goes to stderr, so it is not lost.
        if let Err(failed) = render::write_json_stdout(error_json(e)) {
            render::stdout_failed(&failed);
            render::note(format_args!("ladder: {}", e.one_line()));
        }
    } else {
        if let Some(preface) = &e.preface {
            render::note_part(preface);
        }
        render::note(format_args!("ladder: {}", e.one_line()));
    }
}

/// An error as the contract's JSON object: `{"error": {code, message, hint,
/// exit_code, ...}}`, with the plan beside it when the error carries one.
pub fn error_json(e: &error::Error) -> serde_json::Value {
    let mut obj = serde_json::json!({
        "error": {
            "code": e.kind.name(),
            "message": e.message,
            "hint": e.hint,
            "exit_code": e.kind.exit_code(),
        }
    });
    if let (Some(serde_json::Value::Object(extra)), Some(map)) = (&e.extra, obj.as_object_mut()) {
        for (k, v) in extra {
            if k == "plan" {
                map.insert(k.clone(), v.clone());
            } else if let Some(serde_json::Value::Object(err)) = map.get_mut("error") {
                err.insert(k.clone(), v.clone());
            }
        }
    }
    obj
}

//! `ladder plan`: the first rung. Fix the exact command under a hash and let
//! policy classify it.

use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::model::Status;
use crate::render;
use crate::rungs::{
    self,
    dry_run::split_dry_run,
    plan::{Planned, Request},
};
use serde_json::json;
use std::ffi::OsString;
use std::path::PathBuf;

/// Describe a command, classify it by policy, and store it as a plan
///
/// The plan fixes the exact argv, the program file it will run (resolved on
/// PATH now, bound by its identity), an interpreter's script, the working
/// directory, the bound environment (--env, the variables the policy's rules
/// look at, and the loader environment: PATH, HOME, LD_*, BASH_ENV,
/// KUBECONFIG...) and the dry-run's result under a sha256 hash. Planning the
/// same key with the same content again returns the existing plan; different
/// content under a live key is refused (key_conflict). A key whose plan was
/// rejected, expired or denied may be planned again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Idempotency key of this action [default: a new UUID, printed]
    #[arg(long)]
    pub key: Option<String>,

    /// Command to run first to preview the change (split like a POSIX shell, run without one)
    #[arg(long, value_name = "CMD")]
    pub dry_run: Option<String>,

    /// Dry-run exit codes to accept besides the policy's (e.g. 0,1 for `kubectl diff`)
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub dry_run_ok: Vec<i32>,

    /// Bind this environment variable's value into the hash (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,

    /// Why the agent wants to run this
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// What it acts on (a host, a cluster, a database...)
    #[arg(long, value_name = "TEXT")]
    pub target: Option<String>,

    /// The change expected
    #[arg(long, value_name = "TEXT")]
    pub effect: Option<String>,

    /// How to undo it
    #[arg(long, value_name = "CMD")]
    pub rollback: Option<String>,

    /// The agent's confidence, from 0 to 1
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub confidence: Option<f64>,

    /// Metadata for the audit trail, outside the hash: model, run, trace... (repeatable; TRACEPARENT is recorded too)
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,

    /// Working directory of the command [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// The command and its arguments (after `--`)
    #[arg(required = true, last = true, value_name = "PROGRAM")]
    pub command: Vec<OsString>,
}

/// The caller's W3C trace context, when it passed one down.
pub fn traceparent() -> Option<String> {
    std::env::var("TRACEPARENT").ok()
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let generated_key = args.key.is_none();
    let key = match args.key {
        Some(k) => k,
        None => ctx.new_id(&format!("key\0{:?}", args.command)),
    };
    let dry_run = args.dry_run.as_deref().map(split_dry_run).transpose()?;
    let meta = crate::meta::collect(&args.meta, traceparent().as_deref())?;
    let request = Request {
        key,
        command: args.command,
        cwd: args.cwd,
        dry_run,
        dry_run_ok: args.dry_run_ok,
        env: args.env,
        reason: args.reason,
        target: args.target,
        effect: args.effect,
        rollback: args.rollback,
        confidence: args.confidence,
        meta,
        rollback_of: None,
    };
    let policy = ctx.policy()?;
    let planned = rungs::plan::plan(&mut ctx.rung()?, &policy, request)?;
    let note = generated_key.then_some("no --key given; generated key");
    show_planned(ctx, planned, note)
}

/// Shows a plan that `plan` or `rollback` made or found: a denied plan is
/// the error; otherwise its card (JSON: the plan object) and what to do
/// next. `new_key` says how a key ladder chose was chosen.
pub fn show_planned(ctx: &mut Ctx, planned: Planned, new_key: Option<&str>) -> Result<()> {
    for warning in &planned.warnings {
        render::note(format_args!("ladder: warning: {warning}"));
    }
    let plan = planned.plan;
    if plan.status == Status::Denied {
        let why = planned
            .denied
            .unwrap_or_else(|| "policy denies this command".into());
        return Err(Error::new(
            Kind::Denied,
            format!("plan {} is denied: {why}", plan.short_id()),
        )
        .with_extra(json!({ "plan": render::plan_json(&plan) })));
    }

    if ctx.json {
        render::emit_json(render::plan_json(&plan))?;
        return Ok(());
    }
    if !planned.created {
        render::note(format_args!(
            "ladder: key `{}` already has this plan; nothing new stored",
            plan.key
        ));
    } else if let Some(how) = new_key {
        render::note(format_args!("ladder: {how} {}", plan.key));
    }
    render::emit(&render::plan_card(
        &plan,
        ctx.now(),
        render::Paint { on: ctx.color },
    ))?;
    let id = plan.short_id();
    let next = match plan.status {
        Status::Pending => format!(
            "next: a reviewer runs `ladder approve {id}`, then `ladder apply {id} --key {} --hash {}`",
            shell_words::quote(&plan.key),
            plan.hash
        ),
        Status::Approved => format!(
            "next: `ladder apply {id} --key {} --hash {}`",
            shell_words::quote(&plan.key),
            plan.hash
        ),
        _ => String::new(),
    };
    if !next.is_empty() {
        render::note(&next);
    }
    Ok(())
}

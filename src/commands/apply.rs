//! `ladder apply`: runs an approved plan's command once and records the
//! outcome; a retry gets the recorded outcome back.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::render;
use crate::rungs::{
    self, PlanRef,
    apply::{Applied, Request, RunOptions},
};
use crate::runner::StdinMode;
use std::time::Duration;

/// Run an approved plan's command once and record its outcome
///
/// Checks, in order, and refuses with the first failing code: plan exists; key
/// matches; hash matches; already applied (then replays the recorded outcome
/// instead of running); in flight; interrupted; rejected; expired; denied; then
/// the stored plan must hash to its hash (else tampered) and takes the stricter
/// verdict of the policy in force; approvals short (counted from the approval
/// records); budget; drift (bound environment, program, files, directory and
/// dry-run: else stale). Then runs the bound program by its path (no shell, no
/// PATH lookup) in the planned directory, streams its output while recording
/// it, and exits with its exit code (128+N for signal N).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix [default: the key's live plan]
    pub plan: Option<String>,

    /// The plan's idempotency key
    #[arg(long, required = true)]
    pub key: String,

    /// The plan's hash: what was reviewed is what runs
    #[arg(long, required = true, value_name = "H")]
    pub hash: String,

    /// Wait up to this long for approvals (e.g. 10m) instead of refusing
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,

    /// Kill the command if it runs longer than this (e.g. 30s)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let wait = args
        .wait
        .as_deref()
        .map(parse_duration("--wait"))
        .transpose()?;
    let timeout = args
        .timeout
        .as_deref()
        .map(parse_duration("--timeout"))
        .transpose()?;
    // PLAN wins; without it, the key's live plan.
    let target = PlanRef::from_args(args.plan.as_ref(), Some(&args.key))
        .ok_or_else(|| Error::usage("name a plan or pass --key"))?;
    let request = Request {
        target,
        key: args.key.clone(),
        hash: rungs::normalize_hash(&args.hash),
        wait,
        timeout,
    };
    let opts = RunOptions {
        tee: !ctx.json,
        stdin: if ctx.server {
            StdinMode::Null
        } else {
            StdinMode::Inherit
        },
    };
    let (json, key) = (ctx.json, args.key.clone());
    let mut on_wait = || {
        if !json {
            render::note(format_args!(
                "ladder: waiting up to {} for approval of key `{key}`...",
                wait.map(crate::duration::short).unwrap_or_default(),
            ));
        }
    };
    let policy = ctx.policy()?;
    let applied = rungs::apply::apply(&mut ctx.rung()?, &policy, &request, &opts, &mut on_wait)?;
    let (plan, exec) = match applied {
        Applied::Replayed(plan) => return render::replayed(&plan, ctx.json, ctx.now(), true),
        Applied::Ran { plan, exec } => (plan, exec),
    };
    let code = exec.exit_code.unwrap_or(1);
    if ctx.json {
        let json = render::execution_json(&exec, false);
        return Ok(render::emit_json_passing(json, code));
    }
    if exec.timed_out {
        render::note(format_args!(
            "ladder: plan {} timed out and was killed; exit {code} recorded",
            plan.short_id(),
        ));
    }
    Ok(code)
}

fn parse_duration(flag: &'static str) -> impl Fn(&str) -> Result<Duration> {
    move |text| crate::duration::parse(text).map_err(|e| Error::usage(format!("{flag}: {e}")))
}

//! `ladder rollback`: plan a plan's recorded undo, through the same ladder.

use crate::context::Ctx;
use crate::error::Result;
use crate::rungs::{self, PlanRef, dry_run::split_dry_run, rollback::Request};

/// Plan the rollback a plan recorded (--rollback CMD) as a new plan
///
/// The recorded command is split like --dry-run (quotes honoured, nothing
/// expanded), planned in the original plan's directory with the variables
/// it bound, and classified by the policy in force like any other command:
/// it needs the approvals its tier needs, then `ladder apply`. Its JSON and
/// card name the plan it undoes (`rollback_of`), and `show` of the original
/// names it (`rollback_plan`). Its key is `rollback:<original id>` unless
/// --key is given, so running this again returns the same plan. Refused
/// when the plan recorded no rollback (not_found) or never ran.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan to undo: id or unique prefix (4+ characters)
    pub plan: String,

    /// Key of the rollback plan [default: rollback:<plan id>]
    #[arg(long)]
    pub key: Option<String>,

    /// Command to run first to preview the undo (split like a POSIX shell, run without one)
    #[arg(long, value_name = "CMD")]
    pub dry_run: Option<String>,

    /// Why it is rolled back [default: roll back plan <id>]
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Metadata for the audit trail, outside the hash (repeatable; TRACEPARENT is recorded too)
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let derived = args.key.is_none();
    let request = Request {
        original: PlanRef::Id(args.plan),
        key: args.key,
        dry_run: args.dry_run.as_deref().map(split_dry_run).transpose()?,
        reason: args.reason,
        meta: crate::meta::collect(&args.meta, super::plan::traceparent().as_deref())?,
    };
    let policy = ctx.policy()?;
    let planned = rungs::rollback::rollback(&mut ctx.rung()?, &policy, request)?;
    let note = derived.then_some("the rollback plan's key is");
    super::plan::show_planned(ctx, planned, note)
}

//! `ladder cancel`: withdraw a plan that has not run.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::render;
use crate::rungs::{self, PlanRef};

/// Withdraw a plan that has not run: it ends cancelled
///
/// For the planner who changed their mind (or a reviewer tidying the
/// queue): a pending or approved plan that has not started ends
/// `cancelled`, a `cancelled` event is logged, and its key may be planned
/// again (a new plan, fresh approvals). Approve, reject and apply of a
/// cancelled plan are refused with exit 23 (cancelled). A plan that ended
/// otherwise answers with its state's code (rejected 11, expired 12, denied
/// 18, cancelled 23), a running one 16 (in_flight), an interrupted one 17,
/// and one that ran 22 (not_allowed): undo it with `ladder rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix (4+ characters)
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub plan: Option<String>,

    /// Cancel the live plan of this key instead of naming the plan
    #[arg(long)]
    pub key: Option<String>,

    /// Why it is withdrawn (kept with the plan and in the ledger)
    #[arg(long, value_name = "T")]
    pub reason: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let target = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref())
        .ok_or_else(|| Error::usage("name the plan to cancel (PLAN or --key)"))?;
    let own_only = ctx.server;
    let mut plan =
        rungs::cancel::cancel(&mut ctx.rung()?, &target, args.reason.as_deref(), own_only)?;
    super::show::judge_for_people(ctx, &mut plan);
    if ctx.json {
        render::emit_json(render::plan_json(&plan))?;
    } else {
        render::note(format_args!("ladder: cancelled plan {}", plan.short_id()));
        render::emit(&render::plan_card(
            &plan,
            ctx.now(),
            render::Paint { on: ctx.color },
        ))?;
    }
    Ok(())
}

//! `ladder reject`: a reviewer ends a plan, with a reason for the agent.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::render;
use crate::rungs::{self, PlanRef};

/// Reject a plan; the reason is returned to the agent by `show` and `apply`
///
/// A pending or approved plan that has not started can be rejected. Its key
/// may then be planned again, as a new plan with fresh approvals. With
/// --hash, a plan whose hash differs is refused (hash_mismatch): the key
/// may hold another plan than the one you reviewed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix (4+ characters)
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub plan: Option<String>,

    /// Reject the live plan of this key instead of naming the plan
    #[arg(long)]
    pub key: Option<String>,

    /// Reject only if the plan's hash is this one (what you reviewed)
    #[arg(long, value_name = "H")]
    pub hash: Option<String>,

    /// Why: shown to the agent
    #[arg(long, value_name = "T")]
    pub reason: String,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let target = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref())
        .ok_or_else(|| Error::usage("name the plan to reject (PLAN or --key)"))?;
    let hash = args.hash.as_deref().map(rungs::normalize_hash);
    let plan = rungs::reject::reject(&mut ctx.rung()?, &target, hash.as_deref(), &args.reason)?;
    if ctx.json {
        render::emit_json(render::plan_json(&plan))?;
    } else {
        render::note(format_args!("ladder: rejected plan {}", plan.short_id()));
        render::emit(&render::plan_card(
            &plan,
            ctx.now(),
            render::Paint { on: ctx.color },
        ))?;
    }
    Ok(())
}

//! `ladder reject`: a reviewer ends a plan, with a reason for the agent.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::model::Plan;
use crate::render;
use crate::rungs::{self, PlanRef};

/// Reject a plan; the reason is returned to the agent by `show` and `apply`
///
/// A pending or approved plan that has not started can be rejected. Its key
/// may then be planned again, as a new plan with fresh approvals. With
/// --hash, a plan whose hash differs is refused (hash_mismatch): the key
/// may hold another plan than the one you reviewed. With --sign, the
/// rejection is signed and the reviewer is the key's principal.
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

    #[arg(long, value_name = "KEY", help = super::sign::HELP)]
    pub sign: Option<String>,
}

/// Rejects the plan a reviewer saw (its id and hash), signed with `sign`
/// when given.
pub fn reject_plan(ctx: &mut Ctx, shown: &Plan, reason: &str, sign: Option<&str>) -> Result<Plan> {
    let target = PlanRef::Id(shown.id.clone());
    let signed = match sign {
        Some(key) => Some(super::sign::sign(
            ctx,
            "reject",
            key,
            shown,
            crate::signing::DecisionKind::Reject,
            Some(reason.trim()),
        )?),
        None => None,
    };
    rungs::reject::reject(
        &mut ctx.rung()?,
        &target,
        Some(&shown.hash),
        reason,
        signed.as_ref().map(|(s, t)| (s, t)),
    )
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let target = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref())
        .ok_or_else(|| Error::usage("name the plan to reject (PLAN or --key)"))?;
    let hash = args.hash.as_deref().map(rungs::normalize_hash);
    let plan = match args.sign.as_deref() {
        None => rungs::reject::reject(
            &mut ctx.rung()?,
            &target,
            hash.as_deref(),
            &args.reason,
            None,
        )?,
        Some(key) => {
            let shown = crate::store::read(ctx.store()?, |tx| target.find(tx))?;
            if let Err(e) = crate::gate::check_hash(&shown, hash.as_deref()) {
                let refusal = rungs::refuse(&shown, e);
                return Err(rungs::refused(&mut ctx.rung()?, "reject", refusal));
            }
            reject_plan(ctx, &shown, &args.reason, Some(key))?
        }
    };
    let mut plan = plan;
    super::show::judge_for_people(ctx, &mut plan);
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

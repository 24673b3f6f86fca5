//! `ladder show`: one plan's card.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::render;
use crate::rungs::{self, PlanRef};

/// Show one plan: command, decision, approvals, window, outcome
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix (4+ characters)
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub plan: Option<String>,

    /// Show the newest plan of this key
    #[arg(long)]
    pub key: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let now = ctx.now();
    if !ctx.state_exists() {
        let what = args.plan.or(args.key).unwrap_or_default();
        return Err(Error::new(
            crate::error::Kind::NotFound,
            format!("no plan `{what}`: no state yet at {}", ctx.location()),
        ));
    }
    let target = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref())
        .ok_or_else(|| Error::usage("name a plan or pass --key"))?;
    let mut plan = rungs::inspect::show(&mut ctx.rung()?, &target)?;
    judge_for_people(ctx, &mut plan);
    if ctx.json {
        render::emit_json(render::plan_json(&plan))?;
    } else {
        render::emit(&render::plan_card(
            &plan,
            now,
            render::Paint { on: ctx.color },
        ))?;
    }
    Ok(())
}

/// Marks on a plan about to be shown what the policy in force makes of it:
/// a stricter verdict, and which approvals are signed and count (checked
/// here as apply will). A policy that does not load stops the rungs that
/// need it, not a reviewer looking at a plan.
pub fn judge_for_people(ctx: &mut Ctx, plan: &mut crate::model::Plan) {
    // What the card shows must be what the hash binds.
    if let Err(e) = crate::gate::integrity(plan) {
        render::note(format_args!(
            "ladder: warning: {}: do not approve it",
            e.one_line()
        ));
    }
    let Ok(policy) = ctx.policy() else { return };
    rungs::note_in_force(plan, &policy);
    let signed = plan.approvals.iter().any(|a| a.signature.is_some());
    if signed || policy.signs_any() {
        match crate::signing::Trust::of(&policy) {
            Ok(trust) => crate::signing::judge(plan, &policy, trust.as_ref()),
            Err(e) => render::note(format_args!("ladder: warning: {}", e.one_line())),
        }
    }
}

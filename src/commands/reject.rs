//! `ladder reject`: a reviewer ends a plan, with a reason for the agent.

use crate::commands::PlanRef;
use crate::commands::{event, expire_due, record_refusal, settle_dead_run};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::gate;
use crate::model::{Plan, Rejection, Status};
use crate::render;
use crate::store;
use serde_json::json;

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
    let hash = args.hash.as_deref().map(crate::commands::normalize_hash);
    let plan = reject_plan(ctx, &target, hash.as_deref(), &args.reason)?;
    if ctx.json {
        render::emit_json(render::plan_json(&plan));
    } else {
        render::note(format_args!("ladder: rejected plan {}", plan.short_id()));
        render::emit(&render::plan_card(
            &plan,
            ctx.now(),
            render::Paint { on: ctx.color },
        ));
    }
    Ok(())
}

/// Ends a plan as `rejected`, in one transaction with its ledger event;
/// refused `hash_mismatch` when `hash` (normalised) is given and is not the
/// plan's.
pub fn reject_plan(
    ctx: &mut Ctx,
    target: &PlanRef,
    hash: Option<&str>,
    reason: &str,
) -> Result<Plan> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::usage("--reason must say why the plan is rejected"));
    }
    let now = ctx.now();
    let actor = ctx.actor.clone();
    let state = ctx.state_path().to_path_buf();
    store::write(ctx.store()?, |tx| {
        expire_due(tx, now)?;
        let plan = match target.find(tx) {
            Ok(p) => settle_dead_run(tx, &state, now, p)?,
            Err(e) => {
                record_refusal(tx, now, &actor, "reject", None, target.key(), &e)?;
                return Ok(Err(e));
            }
        };
        if let Err(e) = gate::reject(&plan, hash, now) {
            record_refusal(tx, now, &actor, "reject", Some(&plan), None, &e)?;
            return Ok(Err(e));
        }
        let rejection = Rejection {
            actor: actor.clone(),
            reason: reason.to_string(),
            at: now,
        };
        tx.set_rejection(&plan.id, &rejection)?;
        tx.set_status(&plan.id, Status::Rejected, None)?;
        tx.append_event(&event(
            now,
            "rejected",
            &plan,
            &actor,
            json!({ "reason": reason }),
        ))?;
        let mut updated = plan;
        updated.status = Status::Rejected;
        updated.rejection = Some(rejection);
        Ok(Ok(updated))
    })?
}

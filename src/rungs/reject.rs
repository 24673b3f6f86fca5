//! Reject: a reviewer ends a plan, with a reason for the agent.

use super::{PlanRef, Rung, event, expire_due, refuse, refuse_key, settle_dead_run};
use crate::error::{Error, Result};
use crate::gate;
use crate::model::{Plan, Rejection, Status};
use serde_json::json;

/// Ends a plan as `rejected`, in one transaction with its ledger event;
/// refused `hash_mismatch` when `hash` (normalised) is given and is not the
/// plan's.
pub fn reject(rung: &mut Rung, target: &PlanRef, hash: Option<&str>, reason: &str) -> Result<Plan> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::usage("--reason must say why the plan is rejected"));
    }
    let (now, actor) = (rung.now(), rung.actor.to_string());
    super::write(rung, "reject", |tx| {
        expire_due(tx, now)?;
        let plan = match target.find(tx) {
            Ok(p) => settle_dead_run(tx, now, p)?,
            Err(e) => return Err(refuse_key(target.key(), e)),
        };
        if let Err(e) = gate::reject(&plan, hash, now) {
            return Err(refuse(&plan, e));
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
        Ok(updated)
    })
}

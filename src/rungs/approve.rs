//! Approve: a reviewer approves one exact plan hash.

use super::{PlanRef, Rung, event, expire_due, refuse, refuse_key, settle_dead_run};
use crate::error::Result;
use crate::gate;
use crate::model::{Approval, Plan, Status};
use crate::policy::InForce;
use serde_json::json;

/// Records an approval in one transaction with its ledger event; the plan
/// becomes `approved` when the quorum of distinct reviewers is reached.
pub fn approve(
    rung: &mut Rung,
    policy: &InForce,
    target: &PlanRef,
    hash: Option<&str>,
    comment: Option<&str>,
) -> Result<Plan> {
    let (now, actor) = (rung.now(), rung.actor.to_string());
    let sod = policy.defaults().separation_of_duties;
    let apply_ttl = policy.defaults().apply_ttl;
    super::write(rung, "approve", |tx| {
        expire_due(tx, now)?;
        let plan = match target.find(tx) {
            Ok(p) => settle_dead_run(tx, now, p)?,
            Err(e) => return Err(refuse_key(target.key(), e)),
        };
        if let Err(e) = gate::approve(&plan, &actor, hash, sod, now) {
            return Err(refuse(&plan, e));
        }
        let approval = Approval {
            actor: actor.clone(),
            at: now,
            comment: comment.map(str::to_string),
            hash: plan.hash.clone(),
            signature: None,
            signature_kind: None,
        };
        tx.insert_approval(&plan.id, &approval)?;
        let mut updated = plan;
        updated.approvals.push(approval);
        let quorum = updated.approvals_counted() >= updated.approvals_required;
        if quorum {
            updated.status = Status::Approved;
            updated.expires_at = Some(now + crate::clock::millis(apply_ttl));
            tx.set_status(&updated.id, Status::Approved, updated.expires_at)?;
        }
        tx.append_event(&event(
            now,
            "approved",
            &updated,
            &actor,
            json!({
                "hash": updated.hash,
                "approvals": updated.approvals_counted(),
                "required": updated.approvals_required,
                "quorum": quorum,
                "comment": comment,
            }),
        ))?;
        Ok(updated)
    })
}

/// A hash the reviewer passed that is not the plan's, refused (and
/// recorded) before anyone is asked: they are not looking at the plan they
/// meant.
pub fn check_shown_hash(rung: &mut Rung, shown: &Plan, hash: Option<&str>) -> Result<()> {
    match gate::check_hash(shown, hash) {
        Ok(()) => Ok(()),
        Err(e) => Err(super::refused(rung, "approve", refuse(shown, e))),
    }
}

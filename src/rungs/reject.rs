//! Reject: a reviewer ends a plan, with a reason for the agent.

use super::{PlanRef, Rung, event, expire_due, refuse, refuse_key, settle_dead_run};
use crate::error::{Error, Result};
use crate::gate;
use crate::model::{Plan, Rejection, Status};
use crate::signing::{Decision, DecisionKind, Signed, Trust};
use serde_json::json;

/// Ends a plan as `rejected`, in one transaction with its ledger event;
/// refused `hash_mismatch` when `hash` (normalised) is given and is not the
/// plan's.
///
/// A signed rejection (`signed`, made over the plan's id and the hash the
/// reviewer saw, which must then be `hash`) names its principal as the
/// reviewer. A rejection only ever stops a plan, so no tier requires one
/// to be signed; a signature makes it attributable.
pub fn reject(
    rung: &mut Rung,
    target: &PlanRef,
    hash: Option<&str>,
    reason: &str,
    signed: Option<(&Signed, &Trust)>,
) -> Result<Plan> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::usage("--reason must say why the plan is rejected"));
    }
    let now = rung.now();
    let (actor, at) = match signed {
        Some((s, _)) => (s.principal.clone(), s.at),
        None => (rung.actor.to_string(), now),
    };
    super::write(rung, "reject", |tx| {
        expire_due(tx, now)?;
        let plan = match target.find(tx) {
            Ok(p) => settle_dead_run(tx, now, p)?,
            Err(e) => return Err(refuse_key(target.key(), e)),
        };
        if let Err(e) = gate::reject(&plan, hash, now) {
            return Err(refuse(&plan, e));
        }
        if let Some((s, trust)) = signed {
            let decision = Decision {
                kind: DecisionKind::Reject,
                plan: &plan.id,
                hash: &plan.hash,
                principal: &s.principal,
                at: s.at,
                policy_sha256: "",
                note: Some(reason),
            };
            if let Err(e) = super::signed_for(trust, &decision, s) {
                return Err(refuse(&plan, e));
            }
        }
        let rejection = Rejection {
            actor: actor.clone(),
            reason: reason.to_string(),
            at,
            signature: signed.map(|(s, _)| s.signature.clone()),
        };
        tx.set_rejection(&plan.id, &rejection)?;
        tx.set_status(&plan.id, Status::Rejected, None)?;
        let mut detail = json!({ "reason": reason, "hash": plan.hash });
        if let Some((s, _)) = signed {
            detail["signature"] = super::approve::signature_detail(s);
        }
        tx.append_event(&event(at, "rejected", &plan, &actor, detail))?;
        let mut updated = plan;
        updated.status = Status::Rejected;
        updated.rejection = Some(rejection);
        Ok(updated)
    })
}

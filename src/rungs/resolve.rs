//! Resolve: a person settles a run whose outcome nobody knows (its ladder
//! died while the command ran): it succeeded, it failed, or it may run once
//! more.

use super::{PlanRef, Rung, event, refuse, refuse_key, settle_dead_run};
use crate::error::{Error, Kind, Result};
use crate::model::{Outcome, Plan, Resolution, Status};
use crate::policy::InForce;
use serde_json::json;

/// Records a person's resolution of an `interrupted` plan, in one
/// transaction with its ledger event: `applied` with the outcome they
/// vouch for, or `approved` again for one more apply (`retry`).
pub fn resolve(
    rung: &mut Rung,
    policy: &InForce,
    target: &PlanRef,
    hash: Option<&str>,
    outcome: Outcome,
    reason: &str,
) -> Result<Plan> {
    let (now, actor) = (rung.now(), rung.actor.to_string());
    let (apply_ttl, sod) = {
        let d = policy.defaults();
        (d.apply_ttl, d.separation_of_duties)
    };
    super::write(rung, "resolve", |tx| {
        let plan = match target.find(tx) {
            Ok(p) => p,
            Err(e) => return Err(refuse_key(target.key(), e)),
        };
        let plan = settle_dead_run(tx, now, plan)?;
        if plan.status == Status::Running {
            let e = Error::new(
                Kind::InFlight,
                format!(
                    "plan {} is still running: nothing to resolve yet",
                    plan.short_id()
                ),
            );
            return Err(refuse(&plan, e));
        }
        if plan.status != Status::Interrupted {
            let e = Error::usage(format!(
                "plan {} is {}, not interrupted: there is nothing to resolve",
                plan.short_id(),
                plan.status
            ));
            return Err(refuse(&plan, e));
        }
        // As approve and reject: the plan's state answers first, then
        // whether it is the plan the person checked.
        if let Err(e) = crate::gate::check_hash(&plan, hash) {
            return Err(refuse(&plan, e));
        }
        // Settling is a person's judgement: under separation of duties, not
        // the planner's, nor the applier's (else an agent could kill its own
        // run and retry it, running the command twice).
        let applier = plan.execution.as_ref().map(|e| e.actor.as_str());
        if sod && (plan.actor == actor || applier == Some(actor.as_str())) {
            let e = Error::new(
                Kind::NotAllowed,
                format!(
                    "{actor} planned or applied {} and may not resolve it (separation of duties)",
                    plan.short_id()
                ),
            )
            .with_hint("ask a reviewer to check what happened and resolve it");
            return Err(refuse(&plan, e));
        }
        let resolution = Resolution {
            actor: actor.clone(),
            outcome,
            reason: reason.to_string(),
            at: now,
        };
        let attempt = plan.execution.as_ref().map(|e| e.attempt);
        if let Some(a) = attempt {
            let code = match outcome {
                Outcome::Succeeded => Some(0),
                Outcome::Failed => Some(1),
                Outcome::Retry => None,
            };
            tx.resolve_execution(&plan.id, a, &resolution, code)?;
        }
        match outcome {
            Outcome::Retry => {
                let expires = now + crate::clock::millis(apply_ttl);
                tx.set_status(&plan.id, Status::Approved, Some(expires))?;
                tx.set_retry_allowed(&plan.id, true)?;
            }
            _ => tx.set_status(&plan.id, Status::Applied, None)?,
        }
        tx.append_event(&event(
            now,
            "resolved",
            &plan,
            &actor,
            json!({ "outcome": outcome.as_str(), "reason": reason, "attempt": attempt }),
        ))?;
        Ok(tx.plan(&plan.id)?.unwrap_or(plan))
    })
}

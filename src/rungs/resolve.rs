//! Resolve: a person settles a run whose outcome nobody knows (its ladder
//! died while the command ran): it succeeded, it failed, or it may run once
//! more.

use super::{PlanRef, Rung, event, refuse, refuse_key, settle_dead_run};
use crate::error::{Error, Kind, Result};
use crate::model::{Outcome, Plan, Resolution, Status};
use crate::policy::InForce;
use crate::signing::{Decision, DecisionKind, Signed, Trust};
use serde_json::json;

/// Records a person's resolution of an `interrupted` plan, in one
/// transaction with its ledger event: `applied` with the outcome they
/// vouch for, or `approved` again for one more apply (`retry`).
///
/// On a tier that needs signatures, a `retry` is a decision to run the
/// command again: it must be `signed` (over the plan, its hash and the
/// attempt it settles), or it is refused `not_allowed`.
pub fn resolve(
    rung: &mut Rung,
    policy: &InForce,
    target: &PlanRef,
    hash: Option<&str>,
    outcome: Outcome,
    reason: &str,
    signed: Option<(&Signed, &Trust)>,
) -> Result<Plan> {
    let now = rung.now();
    let (actor, at) = match signed {
        Some((s, _)) => (s.principal.clone(), s.at),
        None => (rung.actor.to_string(), now),
    };
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
        // A decision binds what the person was shown: a row that no longer
        // hashes to its hash is not that.
        if let Err(e) = crate::gate::integrity(&plan) {
            return Err(refuse(&plan, e));
        }
        // Settling is a person's judgement: under separation of duties, not
        // the planner's, nor the applier's (else an agent could kill its own
        // run and retry it, running the command twice).
        let applier = plan.execution.as_ref().map(|e| e.actor.as_str());
        let same = |name: &str| crate::names::same(name, &actor);
        if sod && (same(&plan.actor) || applier.is_some_and(same)) {
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
        let attempt = plan.execution.as_ref().map(|e| e.attempt);
        // The row's tier, or the policy's own verdict on the command when it
        // is stricter: the tier column is the state file's.
        let signed_tier = || {
            policy.signed(plan.tier)
                || policy.signs_any()
                    && policy.signed(super::policy_verdict(&plan, policy, None).tier)
        };
        if outcome == Outcome::Retry && signed.is_none() && signed_tier() {
            let e = Error::new(
                Kind::NotAllowed,
                format!(
                    "plan {} is {}: a retry runs it again, and needs a signed decision",
                    plan.short_id(),
                    plan.tier
                ),
            )
            .with_hint("resolve with --sign KEY (a key listed in the policy's allowed_signers)");
            return Err(refuse(&plan, e));
        }
        if let Some((s, trust)) = signed {
            let decision = Decision {
                kind: DecisionKind::Resolve(outcome, attempt.unwrap_or(0)),
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
        let resolution = Resolution {
            actor: actor.clone(),
            outcome,
            reason: reason.to_string(),
            at,
            signature: signed.map(|(s, _)| s.signature.clone()),
        };
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
        let mut detail = json!({
            "outcome": outcome.as_str(),
            "reason": reason,
            "attempt": attempt,
            "hash": plan.hash,
        });
        if let Some((s, _)) = signed {
            detail["signature"] = super::approve::signature_detail(s);
        }
        tx.append_event(&event(at, "resolved", &plan, &actor, detail))?;
        Ok(tx.plan(&plan.id)?.unwrap_or(plan))
    })
}

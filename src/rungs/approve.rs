//! Approve: a reviewer approves one exact plan hash.

use super::{PlanRef, Rung, event, expire_due, refuse, refuse_key, settle_dead_run};
use crate::error::{Error, Kind, Result};
use crate::gate;
use crate::model::{Approval, Plan, Status};
use crate::policy::InForce;
use crate::signing::{Signed, Trust};
use serde_json::json;

/// What an approval says besides "yes".
#[derive(Default)]
pub struct Request<'a> {
    /// The hash the reviewer looked at (normalised), when they named one;
    /// with a signature, the hash it signs.
    pub hash: Option<&'a str>,
    pub comment: Option<&'a str>,
    /// The reviewer's signature over this approval (see
    /// [`crate::signing::sign`]); its principal is the approver.
    pub signed: Option<&'a Signed>,
    /// The policy's allowed_signers, when it has them: which approvals count.
    pub trust: Option<&'a Trust>,
}

/// Records an approval in one transaction with its ledger event; the plan
/// becomes `approved` when the quorum of distinct reviewers is reached.
/// On a tier that needs signatures, an unsigned approval is refused
/// (`not_allowed`) rather than recorded to count for nothing.
pub fn approve(rung: &mut Rung, policy: &InForce, target: &PlanRef, req: &Request) -> Result<Plan> {
    let now = rung.now();
    let (actor, at) = match req.signed {
        Some(s) => (s.principal.clone(), s.at),
        None => (rung.actor.to_string(), now),
    };
    let sod = policy.defaults().separation_of_duties;
    let apply_ttl = policy.defaults().apply_ttl;
    super::write(rung, "approve", |tx| {
        expire_due(tx, now)?;
        let mut plan = match target.find(tx) {
            Ok(p) => settle_dead_run(tx, now, p)?,
            Err(e) => return Err(refuse_key(target.key(), e)),
        };
        if let Err(e) = gate::approve(&plan, &actor, req.hash, sod, now) {
            return Err(refuse(&plan, e));
        }
        // The approval binds the hash; the reviewer was shown the row. A
        // row that no longer hashes to its hash is not what they approve.
        if let Err(e) = gate::integrity(&plan) {
            return Err(refuse(&plan, e));
        }
        if policy.signs_any() {
            super::note_in_force(&mut plan, policy);
        }
        crate::signing::judge(&mut plan, policy, req.trust);
        if plan.signatures_required && req.signed.is_none() {
            let e = Error::new(
                Kind::NotAllowed,
                format!(
                    "plan {} is {}: only signed approvals count",
                    plan.short_id(),
                    plan.in_force.as_ref().map_or(plan.tier, |v| v.tier)
                ),
            )
            .with_hint("approve with --sign KEY (a key listed in the policy's allowed_signers)");
            return Err(refuse(&plan, e));
        }
        let approval = Approval {
            actor: actor.clone(),
            at,
            comment: req.comment.map(str::to_string),
            hash: plan.hash.clone(),
            signature: req.signed.map(|s| s.signature.clone()),
            check: Default::default(),
        };
        let mut updated = plan;
        updated.approvals.push(approval);
        crate::signing::judge(&mut updated, policy, req.trust);
        if let Some(crate::model::Check::Invalid(why)) =
            updated.approvals.last().map(|a| a.check.clone())
        {
            // Signed for another plan or hash than this one is now.
            let e = Error::new(
                Kind::NotAllowed,
                format!("the signature by {actor} does not count: {why}"),
            );
            return Err(refuse(&updated, e));
        }
        if let Some(s) = req.signed {
            let same_key = updated.approvals[..updated.approvals.len() - 1]
                .iter()
                .find(|a| a.hash == updated.hash && a.check.key() == Some(&s.fingerprint));
            if let Some(earlier) = same_key {
                let e = Error::new(
                    Kind::NotAllowed,
                    format!(
                        "key {} already approved plan {} as {}: one key is one reviewer",
                        s.fingerprint,
                        updated.short_id(),
                        crate::names::visible(&earlier.actor)
                    ),
                );
                return Err(refuse(&updated, e));
            }
        }
        tx.insert_approval(&updated.id, updated.approvals.last().expect("pushed above"))?;
        let counted = updated.approvals_counted_under(sod);
        let quorum = counted >= updated.approvals_required;
        if quorum {
            updated.status = Status::Approved;
            updated.expires_at = Some(now + crate::clock::millis(apply_ttl));
            tx.set_status(&updated.id, Status::Approved, updated.expires_at)?;
        }
        let mut detail = json!({
            "hash": updated.hash,
            "approvals": counted,
            "required": updated.approvals_required,
            "quorum": quorum,
            "comment": req.comment,
        });
        if let Some(s) = req.signed {
            detail["signature"] = signature_detail(s);
        }
        tx.append_event(&event(at, "approved", &updated, &actor, detail))?;
        Ok(updated)
    })
}

/// What the ledger keeps of a signed decision: enough to check it again
/// from the ledger alone (`log --verify`).
pub fn signature_detail(s: &Signed) -> serde_json::Value {
    json!({
        "armored": s.signature.armored,
        "policy": s.signature.policy_sha256,
        "key": s.fingerprint,
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

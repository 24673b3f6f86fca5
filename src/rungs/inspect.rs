//! The reads: a plan, the plans, the ledger, and the ledger's verification.
//! Each brings the plans up to date first where it shows their status
//! (expired windows, dead runs: see [`super::read_settled`]).

use super::{PlanRef, Rung, find_plan, read_settled};
use crate::audit::{Audit, Disagreement};
use crate::error::{Error, Kind, Result};
use crate::ledger::Verifier;
use crate::model::{Check, Event, Millis, Outcome, Plan, Signature, Status};
use crate::signing::{Decision, DecisionKind, Trust};
use crate::store::{self, EventFilter};
use serde_json::json;

/// One plan, as it stands now.
pub fn show(rung: &mut Rung, target: &PlanRef) -> Result<Plan> {
    let mut plan = read_settled(rung, |tx| target.find(tx))?;
    if rung.store.read_only() {
        as_of(&mut plan, rung.now());
    }
    Ok(plan)
}

/// Plans with these statuses (all when empty), newest last, at most
/// `limit`.
pub fn list(rung: &mut Rung, statuses: &[Status], limit: Option<u64>) -> Result<Vec<Plan>> {
    let mut plans = read_settled(rung, |tx| tx.plans(statuses, limit))?;
    if rung.store.read_only() {
        let now = rung.now();
        plans.iter_mut().for_each(|p| as_of(p, now));
        plans.retain(|p| statuses.is_empty() || statuses.contains(&p.status));
    }
    Ok(plans)
}

/// A plan read from a state that cannot be settled (read-only) as it
/// stands at `now`: a window that passed is expired, as the next write
/// would record it.
fn as_of(plan: &mut Plan, now: Millis) {
    if crate::gate::is_due(plan, now) {
        plan.status = Status::Expired;
    }
}

/// Which events to read.
pub struct EventQuery<'a> {
    /// A plan id or unique prefix.
    pub plan: Option<&'a str>,
    pub key: Option<&'a str>,
    pub since: Option<Millis>,
    /// The newest this many; `None`: all.
    pub limit: Option<u64>,
    /// Only events of plans whose metadata holds each pair.
    pub meta: &'a [(String, String)],
}

/// The ledger's events that match, oldest first. A key no event names is
/// `not_found` (a typo, not an empty history).
pub fn events(rung: &mut Rung, q: &EventQuery) -> Result<Vec<Event>> {
    store::read(rung.store, |tx| {
        let plan = match q.plan {
            Some(p) => Some(find_plan(tx, p)?.id),
            None => None,
        };
        if let Some(k) = q.key {
            let any = tx.events(&EventFilter {
                key: Some(k.to_string()),
                limit: Some(1),
                ..Default::default()
            })?;
            if any.is_empty() {
                return Err(
                    Error::new(Kind::NotFound, format!("no events for key `{k}`"))
                        .with_hint("list plans and their keys with `ladder list --status all`"),
                );
            }
        }
        tx.events(&EventFilter {
            plan: plan.clone(),
            key: q.key.map(str::to_string),
            since: q.since,
            limit: q.limit,
            meta: q.meta.to_vec(),
        })
    })
}

/// A verified ledger: how many events, and the head of the chain.
pub struct Verified {
    pub events: u64,
    /// The last event's sequence number (0: no events).
    pub seq: i64,
    pub head: String,
    /// Signed decisions checked (events and approval rows).
    pub signatures: u64,
    /// Signed decisions that could not be checked: the policy in force has
    /// no allowed_signers.
    pub unchecked: u64,
}

/// A head recorded earlier (`--expect SEQ:HASH`, or a checkpoint's): the
/// event at `seq` must still be there with this hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    /// Where it came from, for the message.
    pub origin: String,
}

/// What else `verify` holds the ledger to.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    pub anchors: &'a [Anchor],
    /// The policy's allowed_signers: every signed decision is checked
    /// against it.
    pub trust: Option<&'a Trust>,
}

/// Checks the whole chain, that the database still refuses to change
/// events, every plan row against its events, every anchor, and every
/// signed decision (in the ledger and in the approvals table); the first
/// break or disagreement is `tampered`.
pub fn verify(rung: &mut Rung, opts: &VerifyOptions) -> Result<Verified> {
    let (mut signatures, mut unchecked) = (0u64, 0u64);
    let (events, seq, head) = store::read(rung.store, |tx| {
        let mut v = Verifier::default();
        let mut audit = Audit::default();
        let mut last_seq = 0;
        tx.for_each_event(&mut |e| {
            v.check(&e).map_err(|b| {
                Error::new(
                    Kind::Tampered,
                    format!("ledger broken at event {}: {b}", e.seq),
                )
                .with_extra(json!({
                    "seq": e.seq,
                    "events_verified": v.checked,
                }))
            })?;
            last_seq = e.seq;
            for a in opts.anchors.iter().filter(|a| a.seq == e.seq) {
                if a.hash != e.hash {
                    return Err(Error::new(
                        Kind::Tampered,
                        format!(
                            "event {} is not the one {} recorded: its hash is {}, not {}",
                            e.seq, a.origin, e.hash, a.hash
                        ),
                    )
                    .with_extra(json!({ "seq": e.seq })));
                }
            }
            match signed_event(&e, opts.trust) {
                SignedEvent::None => {}
                SignedEvent::Unchecked => unchecked += 1,
                SignedEvent::Valid => signatures += 1,
                SignedEvent::Invalid(why) => {
                    return Err(Error::new(
                        Kind::Tampered,
                        format!(
                            "event {}: the signed {} by {} does not verify: {why}",
                            e.seq, e.kind, e.actor
                        ),
                    )
                    .with_extra(json!({ "seq": e.seq })));
                }
            }
            audit.event(&e).map_err(disagreement)
        })?;
        if let Some(a) = opts.anchors.iter().find(|a| a.seq > last_seq) {
            return Err(Error::new(
                Kind::Tampered,
                format!(
                    "the ledger ends at event {last_seq}, but {} recorded event {}: it was truncated",
                    a.origin, a.seq
                ),
            ));
        }
        if let Err(why) = tx.ledger_is_append_only()? {
            return Err(
                Error::new(Kind::Tampered, why).with_extra(json!({ "events_verified": v.checked }))
            );
        }
        // The chain holds; the plan rows, which ladder updates in place,
        // must agree with it.
        tx.for_each_plan_row(&mut |row| audit.plan(&row).map_err(disagreement))?;
        audit.finish().map_err(disagreement)?;
        // Approval rows are what apply counts: each signed one must sign
        // exactly its own plan, hash, principal and time.
        tx.for_each_signed_approval(&mut |plan, a| {
            let Some(trust) = opts.trust else {
                unchecked += 1;
                return Ok(());
            };
            let sig = a.signature.as_ref().expect("selected signed");
            let decision = Decision {
                kind: DecisionKind::Approve,
                plan,
                hash: &a.hash,
                principal: &a.actor,
                at: a.at,
                policy_sha256: "",
                note: a.comment.as_deref(),
            };
            let why = match trust.check(&decision, sig) {
                Check::Valid(_) => {
                    signatures += 1;
                    return Ok(());
                }
                Check::Invalid(why) => why,
                Check::Unchecked => "it was not checked".to_string(),
            };
            Err(Error::new(
                Kind::Tampered,
                format!(
                    "plan {}: the signed approval by {} does not verify: {why}",
                    crate::model::short(plan),
                    a.actor
                ),
            )
            .with_extra(json!({ "plan_id": plan })))
        })?;
        Ok((v.checked, last_seq, v.head().to_string()))
    })?;
    Ok(Verified {
        events,
        seq,
        head,
        signatures,
        unchecked,
    })
}

pub(super) enum SignedEvent {
    None,
    Unchecked,
    Valid,
    Invalid(String),
}

/// Checks the signature an `approved`, `rejected` or `resolved` event
/// carries, rebuilding what it signs from the event itself.
pub(super) fn signed_event(e: &Event, trust: Option<&Trust>) -> SignedEvent {
    if !matches!(e.kind.as_str(), "approved" | "rejected" | "resolved") {
        return SignedEvent::None;
    }
    let Ok(detail) = serde_json::from_str::<serde_json::Value>(&e.detail) else {
        return SignedEvent::None;
    };
    let Some(sig) = detail.get("signature").filter(|s| !s.is_null()) else {
        return SignedEvent::None;
    };
    let Some(trust) = trust else {
        return SignedEvent::Unchecked;
    };
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let (Some(armored), Some(policy), Some(hash), Some(plan)) = (
        text(sig, "armored"),
        text(sig, "policy"),
        text(&detail, "hash"),
        e.plan.clone(),
    ) else {
        return SignedEvent::Invalid("its signature record is incomplete".into());
    };
    let kind = match e.kind.as_str() {
        "approved" => DecisionKind::Approve,
        "rejected" => DecisionKind::Reject,
        _ => {
            let outcome = match detail.get("outcome").and_then(|o| o.as_str()) {
                Some("succeeded") => Outcome::Succeeded,
                Some("failed") => Outcome::Failed,
                Some("retry") => Outcome::Retry,
                _ => return SignedEvent::Invalid("its outcome is not one ladder records".into()),
            };
            let attempt = detail.get("attempt").and_then(|a| a.as_u64()).unwrap_or(0);
            DecisionKind::Resolve(outcome, attempt as u32)
        }
    };
    let note = match kind {
        DecisionKind::Approve => text(&detail, "comment"),
        _ => text(&detail, "reason"),
    };
    let decision = Decision {
        kind,
        plan: &plan,
        hash: &hash,
        principal: &e.actor,
        at: e.at,
        policy_sha256: "",
        note: note.as_deref(),
    };
    let signature = Signature {
        armored,
        policy_sha256: policy,
    };
    match trust.check(&decision, &signature) {
        Check::Valid(_) => SignedEvent::Valid,
        Check::Invalid(why) => SignedEvent::Invalid(why),
        Check::Unchecked => SignedEvent::Unchecked,
    }
}

/// A plan row that disagrees with the ledger, as `tampered`.
fn disagreement(d: Disagreement) -> Error {
    Error::new(Kind::Tampered, d.to_string()).with_extra(json!({ "plan_id": d.plan, "seq": d.seq }))
}

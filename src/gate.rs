//! The gates: pure decisions on whether a rung may proceed on a plan.
//!
//! Each gate looks at a plan (and what the caller already knows, such as
//! whether the plan's run lock is held) and answers with the contract's
//! refusal, checked in the contract's order. No I/O here: the commands do
//! the reading, the recording and the running.

use crate::error::{Error, Kind, Result};
use crate::model::{Millis, Plan, Status, Verdict};
use crate::policy::Evaluation;

/// What apply should do with a plan that passed its gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyGate {
    /// Approved and within its window: check budget and drift, then run.
    Run,
    /// Already applied under this key: give back the recorded outcome.
    Replay,
    /// Marked running but no live ladder holds its run lock: the process
    /// that ran it died. Record `interrupted`, then refuse `outcome_unknown`.
    Interrupted,
}

/// Whether a plan's approval or apply window has passed.
pub fn is_due(plan: &Plan, now: Millis) -> bool {
    plan.status.can_expire() && plan.expires_at.is_some_and(|t| t <= now)
}

fn refusal_for_ended(plan: &Plan) -> Option<Error> {
    let id = plan.short_id();
    match plan.status {
        Status::Rejected => {
            let why = plan
                .rejection
                .as_ref()
                .map(|r| format!(" by {}: {}", r.actor, r.reason))
                .unwrap_or_default();
            Some(
                Error::new(Kind::Rejected, format!("plan {id} was rejected{why}"))
                    .with_hint("address the reason and plan again"),
            )
        }
        Status::Expired => Some(expired(plan)),
        Status::Denied => Some(
            Error::new(Kind::Denied, format!("plan {id} is denied by policy"))
                .with_hint("see `ladder show` for the rule that denied it"),
        ),
        Status::Cancelled => {
            let why = plan
                .cancellation
                .as_ref()
                .map(|c| {
                    let reason = c.reason.as_deref().map(|r| format!(": {r}"));
                    format!(" by {}{}", c.actor, reason.unwrap_or_default())
                })
                .unwrap_or_default();
            Some(
                Error::new(Kind::Cancelled, format!("plan {id} was cancelled{why}"))
                    .with_hint("plan it again (same key) if it is still wanted"),
            )
        }
        _ => None,
    }
}

/// Apply's checks after "plan exists", in the contract's order: key, hash,
/// already applied, in flight, interrupted, rejected, expired, denied,
/// approvals. Budget and drift need the store and a process; the caller
/// checks them after this passes.
///
/// Approvals are counted from the approval records for the plan's hash
/// (under separation of duties, never the planner's), whatever the status
/// says: a status is one column of a file the agent may be able to write.
pub fn apply(
    plan: &Plan,
    key: &str,
    hash: &str,
    now: Millis,
    lock_held: bool,
    separation_of_duties: bool,
) -> Result<ApplyGate> {
    let id = plan.short_id();
    if plan.key != key {
        return Err(Error::new(
            Kind::KeyConflict,
            format!("plan {id} belongs to key `{}`, not `{key}`", plan.key),
        )
        .with_hint("pass the key the plan was made with"));
    }
    check_hash(plan, Some(hash))?;
    match plan.status {
        Status::Applied => return Ok(ApplyGate::Replay),
        Status::Running if lock_held => {
            return Err(Error::new(
                Kind::InFlight,
                format!("plan {id} is being applied right now by another process"),
            )
            .with_hint("wait for it to finish, then apply again to get its outcome"));
        }
        Status::Running => return Ok(ApplyGate::Interrupted),
        Status::Interrupted => return Err(outcome_unknown(plan)),
        _ => {}
    }
    if let Some(e) = refusal_for_ended(plan) {
        return Err(e);
    }
    if plan.tier == crate::tier::Tier::Deny {
        // Only an edited row is `deny` and not `denied`.
        return Err(Error::new(
            Kind::Denied,
            format!("plan {id} is in tier deny: it never runs"),
        ));
    }
    if is_due(plan, now) {
        return Err(expired(plan));
    }
    if plan.status == Status::Pending
        || plan.approvals_counted_under(separation_of_duties) < plan.approvals_required
    {
        return Err(needs_approval(plan));
    }
    Ok(ApplyGate::Run)
}

/// Whether a plan's row is a plan anyone reviewed: its stored content
/// (argv, directory, bound environment, binding, dry-run) must hash to its
/// hash, and a dry-run output kept whole must match its digest (a rule may
/// look at it). Anything else was edited outside ladder: `tampered`.
pub fn integrity(plan: &Plan) -> Result<()> {
    let id = plan.short_id();
    if plan.content_hash() != plan.hash {
        return Err(Error::new(
            Kind::Tampered,
            format!(
                "plan {id} was altered in the state file: its content does not hash to its hash"
            ),
        )
        .with_hint("nothing ran; check who can write the state file, and plan again"));
    }
    if let Some(d) = plan.dry_run.as_ref().filter(|d| !d.truncated) {
        if crate::plan_hash::sha256_hex(&d.stdout) != d.stdout_sha256 {
            return Err(Error::new(
                Kind::Tampered,
                format!("plan {id} was altered in the state file: its dry-run output does not match its digest"),
            )
            .with_hint("nothing ran; check who can write the state file, and plan again"));
        }
    }
    Ok(())
}

/// A stricter verdict the policy in force gives a plan than the one it
/// holds, if it gives one.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub to: Verdict,
    /// Why the policy in force denies it, when it does.
    pub denied: Option<String>,
    /// How the policy in force decided, one sentence each.
    pub reasons: Vec<String>,
}

/// Compares a plan's verdict with `in_force`, the policy in force's
/// evaluation of the same command: the stricter of the two applies, so a
/// plan made under a looser `--policy` gets the tier and approvals of the
/// policy in force, and never the other way round.
pub fn escalation(plan: &Plan, in_force: &Evaluation, policy_sha256: &str) -> Option<Escalation> {
    let raises = in_force.denied.is_some()
        || in_force.tier > plan.tier
        || in_force.approvals_required > plan.approvals_required;
    if !raises || plan.status == Status::Denied {
        return None;
    }
    let tier_raised = in_force.tier > plan.tier;
    Some(Escalation {
        to: Verdict {
            tier: plan.tier.max(in_force.tier),
            rule: if tier_raised {
                in_force.rule.clone()
            } else {
                plan.rule.clone()
            },
            approvals_required: plan.approvals_required.max(in_force.approvals_required),
            policy_sha256: policy_sha256.to_string(),
        },
        denied: in_force.denied.clone(),
        reasons: in_force.reasons.clone(),
    })
}

/// The refusal for a plan whose window passed, saying which window.
fn expired(plan: &Plan) -> Error {
    let id = plan.short_id();
    let what = if plan.approvals_missing() > 0 {
        "expired waiting for approval"
    } else {
        "was approved but expired before it was applied"
    };
    Error::new(Kind::Expired, format!("plan {id} {what}"))
        .with_hint("plan it again (same key) to start a fresh approval window")
}

pub fn outcome_unknown(plan: &Plan) -> Error {
    let id = plan.short_id();
    Error::new(
        Kind::OutcomeUnknown,
        format!("plan {id} was interrupted while running: its outcome is unknown"),
    )
    .with_hint(format!(
        "check what happened, then run `ladder resolve {id} --outcome succeeded|failed|retry --reason ...`"
    ))
}

pub fn needs_approval(plan: &Plan) -> Error {
    let id = plan.short_id();
    let missing = plan.approvals_missing().max(1);
    Error::new(
        Kind::NeedsApproval,
        format!(
            "plan {id} needs {missing} more approval{}",
            if missing == 1 { "" } else { "s" }
        ),
    )
    .with_hint(format!("run `ladder approve {id}`, or apply with --wait"))
}

/// Approve's checks: the plan is pending and in its window, the hash (when
/// given) is the plan's, the actor did not plan it (under separation of
/// duties) and has not approved it already. Names people cannot tell apart
/// are one actor here ([`crate::names::same`]).
pub fn approve(
    plan: &Plan,
    actor: &str,
    hash: Option<&str>,
    separation_of_duties: bool,
    now: Millis,
) -> Result<()> {
    let id = plan.short_id();
    if let Some(e) = refusal_for_ended(plan) {
        return Err(e);
    }
    match plan.status {
        Status::Pending => {}
        Status::Running => {
            return Err(Error::new(
                Kind::InFlight,
                format!("plan {id} is being applied right now: there is nothing to approve"),
            ));
        }
        Status::Interrupted => return Err(outcome_unknown(plan)),
        _ => {
            return Err(Error::new(
                Kind::NotAllowed,
                format!(
                    "plan {id} is {}, not pending: there is nothing to approve",
                    plan.status
                ),
            ));
        }
    }
    if is_due(plan, now) {
        return Err(Error::new(
            Kind::Expired,
            format!("plan {id} expired before it was approved"),
        )
        .with_hint("ask the planner to plan it again"));
    }
    check_hash(plan, hash)?;
    if separation_of_duties && crate::names::same(&plan.actor, actor) {
        return Err(Error::new(
            Kind::NotAllowed,
            if plan.actor == actor {
                format!("{actor} planned {id} and may not approve it (separation of duties)")
            } else {
                format!(
                    "{} planned {id}, and {} reads as the same name: it may not approve it (separation of duties)",
                    crate::names::visible(&plan.actor),
                    crate::names::visible(actor)
                )
            },
        )
        .with_hint("ask another reviewer to approve it"));
    }
    if plan
        .approvals
        .iter()
        .any(|a| crate::names::same(&a.actor, actor) && a.hash == plan.hash)
    {
        return Err(Error::new(
            Kind::NotAllowed,
            format!("{actor} already approved plan {id}"),
        )
        .with_hint("a second approval must come from a different reviewer"));
    }
    Ok(())
}

/// Reject's checks, in approve's order: the plan has not run and is still
/// in its window, and the hash (when given) is the plan's.
pub fn reject(plan: &Plan, hash: Option<&str>, now: Millis) -> Result<()> {
    let id = plan.short_id();
    if let Some(e) = refusal_for_ended(plan) {
        return Err(e);
    }
    if !matches!(plan.status, Status::Pending | Status::Approved) {
        return Err(Error::new(
            Kind::NotAllowed,
            format!(
                "plan {id} is {}: only a pending or approved plan can be rejected",
                plan.status
            ),
        ));
    }
    if is_due(plan, now) {
        return Err(Error::new(
            Kind::Expired,
            format!("plan {id} has already expired"),
        ));
    }
    check_hash(plan, hash)
}

/// Cancel's checks: only a plan nobody has decided to end and that has not
/// started can be withdrawn. An ended plan answers with its state's code
/// (a second cancel: `cancelled`), a running one `in_flight`, an
/// interrupted one `outcome_unknown`, and one that ran `not_allowed` (undo
/// it with `ladder rollback`).
pub fn cancel(plan: &Plan, now: Millis) -> Result<()> {
    let id = plan.short_id();
    if let Some(e) = refusal_for_ended(plan) {
        return Err(e);
    }
    match plan.status {
        Status::Pending | Status::Approved => {}
        Status::Running => {
            return Err(Error::new(
                Kind::InFlight,
                format!("plan {id} is running: it is too late to cancel it"),
            )
            .with_hint("wait for its outcome; `ladder rollback` plans its undo"));
        }
        Status::Interrupted => return Err(outcome_unknown(plan)),
        _ => {
            return Err(Error::new(
                Kind::NotAllowed,
                format!(
                    "plan {id} is {}: only a plan that has not run can be cancelled",
                    plan.status
                ),
            )
            .with_hint(format!(
                "to undo what it did, `ladder rollback {id}` plans its recorded rollback"
            )));
        }
    }
    if let Some(e) = &plan.execution {
        // Approved again by `resolve --outcome retry`: it started once, so
        // freeing its key could run the action a second time.
        return Err(Error::new(
            Kind::NotAllowed,
            format!(
                "plan {id} already started once (attempt {}): cancelling it would free a key whose action may have run",
                e.attempt
            ),
        )
        .with_hint("left alone, it expires when its window passes and its key stays spent"));
    }
    if is_due(plan, now) {
        return Err(expired(plan));
    }
    Ok(())
}

/// Rollback's checks on the plan to undo: it recorded a rollback command
/// (else `not_found`) and it ran, or started to (`applied`, or
/// `interrupted`: whatever it did may need undoing). One running answers
/// `in_flight`; one that ended without running, its state's code; one
/// waiting to run, `not_allowed` (cancel it instead).
pub fn rollback(plan: &Plan) -> Result<&str> {
    let id = plan.short_id();
    let Some(command) = plan.rollback.as_deref().filter(|c| !c.trim().is_empty()) else {
        return Err(Error::new(
            Kind::NotFound,
            format!("plan {id} recorded no rollback command"),
        )
        .with_hint(
            "plan the undo yourself with `ladder plan`; next time, plan with --rollback CMD",
        ));
    };
    if let Some(e) = refusal_for_ended(plan) {
        return Err(e);
    }
    match plan.status {
        Status::Applied | Status::Interrupted => Ok(command),
        Status::Running => Err(Error::new(
            Kind::InFlight,
            format!("plan {id} is running: roll it back once it has finished"),
        )),
        Status::Approved if plan.execution.is_some() => Err(Error::new(
            Kind::NotAllowed,
            format!(
                "plan {id} is approved to run again (resolve --outcome retry): roll it back once that run has finished"
            ),
        )),
        _ => Err(Error::new(
            Kind::NotAllowed,
            format!(
                "plan {id} is {} and never ran: there is nothing to roll back",
                plan.status
            ),
        )
        .with_hint(format!("to withdraw it, `ladder cancel {id}`"))),
    }
}

/// A reviewer's or an applier's hash (when given, already normalised) must
/// be the plan's: it is what they looked at, and a plan they did not look
/// at is not theirs to decide on.
pub fn check_hash(plan: &Plan, hash: Option<&str>) -> Result<()> {
    match hash {
        Some(h) if h != plan.hash => {
            let id = plan.short_id();
            Err(Error::new(
                Kind::HashMismatch,
                format!(
                    "hash {} is not plan {id}'s hash {}",
                    abbrev(h),
                    abbrev(&plan.hash)
                ),
            )
            .with_hint(hash_hint(h, &plan.hash, id)))
        }
        _ => Ok(()),
    }
}

/// The hint for a hash that does not match: a prefix is the usual slip.
fn hash_hint(given: &str, plan_hash: &str, id: &str) -> String {
    if given.len() < 64 && !given.is_empty() && plan_hash.starts_with(given) {
        format!("pass the full 64-character hash (see `ladder show {id}`), not a prefix")
    } else {
        format!("the plan may have changed: review it with `ladder show {id}` and pass its hash")
    }
}

fn abbrev(hash: &str) -> String {
    match hash.get(..12) {
        Some(h) if hash.len() > 12 => format!("{h}…"),
        _ if hash.is_empty() => "\"\"".to_string(),
        _ => format!("{hash} ({} characters)", hash.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Approval;
    use crate::tier::Tier;
    use std::collections::BTreeMap;

    fn plan(status: Status) -> Plan {
        Plan {
            seq: 1,
            id: "3f2a9c1e-0000-4000-8000-000000000000".into(),
            key: "k".into(),
            hash: "h".repeat(64),
            status,
            tier: Tier::Irreversible,
            rule: None,
            approvals_required: 1,
            approvals: vec![Approval {
                actor: "reviewer".into(),
                at: 0,
                comment: None,
                hash: "h".repeat(64),
                signature: None,
                check: Default::default(),
            }],
            command: vec!["true".into()],
            cwd: "/".into(),
            env: BTreeMap::new(),
            env_shown: BTreeMap::new(),
            dry_run: None,
            dry_run_ok: vec![0],
            reason: None,
            target: None,
            effect: None,
            rollback: None,
            confidence: None,
            actor: "agent".into(),
            created_at: 0,
            expires_at: Some(1000),
            rejection: None,
            cancellation: None,
            execution: None,
            meta: Default::default(),
            rollback_of: None,
            rollback_plan: None,
            policy_sha256: String::new(),
            decision: vec![],
            retry_allowed: false,
            binding: None,
            escalated_from: None,
            in_force: None,
            signatures_required: false,
        }
    }

    fn code(r: Result<ApplyGate>) -> &'static str {
        match r {
            Ok(ApplyGate::Run) => "run",
            Ok(ApplyGate::Replay) => "replay",
            Ok(ApplyGate::Interrupted) => "interrupted",
            Err(e) => e.kind.name(),
        }
    }

    #[test]
    fn apply_checks_in_contract_order() {
        let h = "h".repeat(64);
        let p = plan(Status::Approved);
        assert_eq!(
            code(apply(&p, "other", "x", 0, false, true)),
            "key_conflict"
        );
        assert_eq!(code(apply(&p, "k", "x", 0, false, true)), "hash_mismatch");
        assert_eq!(code(apply(&p, "k", &h, 0, false, true)), "run");
        assert_eq!(
            code(apply(&plan(Status::Applied), "k", &h, 5000, false, true)),
            "replay"
        );
        assert_eq!(
            code(apply(&plan(Status::Running), "k", &h, 0, true, true)),
            "in_flight"
        );
        assert_eq!(
            code(apply(&plan(Status::Running), "k", &h, 0, false, true)),
            "interrupted"
        );
        assert_eq!(
            code(apply(&plan(Status::Interrupted), "k", &h, 0, false, true)),
            "outcome_unknown"
        );
        assert_eq!(
            code(apply(&plan(Status::Rejected), "k", &h, 0, false, true)),
            "rejected"
        );
        assert_eq!(
            code(apply(&plan(Status::Expired), "k", &h, 0, false, true)),
            "expired"
        );
        assert_eq!(
            code(apply(&plan(Status::Denied), "k", &h, 0, false, true)),
            "denied"
        );
        assert_eq!(
            code(apply(&plan(Status::Cancelled), "k", &h, 0, false, true)),
            "cancelled"
        );
        assert_eq!(
            code(apply(&plan(Status::Pending), "k", &h, 0, false, true)),
            "needs_approval"
        );
        // The window is checked before approvals: a pending plan past its
        // window is expired, not waiting.
        assert_eq!(
            code(apply(&plan(Status::Pending), "k", &h, 1000, false, true)),
            "expired"
        );
        assert_eq!(code(apply(&p, "k", &h, 1000, false, true)), "expired");
    }

    #[test]
    fn apply_recounts_approvals_whatever_the_status_says() {
        let h = "h".repeat(64);
        // `status = 'approved'` written into the row, no approval records.
        let mut forged = plan(Status::Approved);
        forged.approvals.clear();
        assert_eq!(
            code(apply(&forged, "k", &h, 0, false, true)),
            "needs_approval"
        );
        // An approval in the planner's own name counts for nothing under
        // separation of duties, and for one without it.
        forged.approvals.push(Approval {
            actor: "agent".into(),
            at: 0,
            comment: None,
            hash: h.clone(),
            signature: None,
            check: Default::default(),
        });
        assert_eq!(
            code(apply(&forged, "k", &h, 0, false, true)),
            "needs_approval"
        );
        assert_eq!(code(apply(&forged, "k", &h, 0, false, false)), "run");
        // An approval of another hash does not count either.
        let mut moved = plan(Status::Approved);
        moved.approvals[0].hash = "0".repeat(64);
        assert_eq!(
            code(apply(&moved, "k", &h, 0, false, true)),
            "needs_approval"
        );
    }

    #[test]
    fn the_stricter_verdict_applies() {
        let p = plan(Status::Approved);
        let eval = |tier: Tier, approvals: u32, denied: Option<&str>| Evaluation {
            tier,
            rule: Some("in force".into()),
            approvals_required: approvals,
            denied: denied.map(str::to_string),
            matched: vec![],
            skipped: vec![],
            reasons: vec!["because".into()],
            dry_run_exit_codes: vec![0],
        };
        assert_eq!(escalation(&p, &eval(Tier::ReadOnly, 0, None), "s"), None);
        assert_eq!(
            escalation(&p, &eval(Tier::Irreversible, 1, None), "s"),
            None
        );
        let up = escalation(&p, &eval(Tier::Critical, 2, None), "s").unwrap();
        assert_eq!(up.to.tier, Tier::Critical);
        assert_eq!(up.to.approvals_required, 2);
        assert_eq!(up.to.rule.as_deref(), Some("in force"));
        // More approvals at a lower tier: the tier and rule stay, the count rises.
        let more = escalation(&p, &eval(Tier::Reversible, 3, None), "s").unwrap();
        assert_eq!(more.to.tier, Tier::Irreversible);
        assert_eq!(more.to.rule, None);
        assert_eq!(more.to.approvals_required, 3);
        let denied = escalation(&p, &eval(Tier::Deny, 0, Some("no")), "s").unwrap();
        assert_eq!(denied.denied.as_deref(), Some("no"));
    }

    #[test]
    fn a_row_that_does_not_hash_to_its_hash_is_tampered() {
        let mut p = plan(Status::Approved);
        p.hash = p.content_hash();
        assert!(integrity(&p).is_ok());
        p.command = vec!["rm".into(), "-rf".into(), "/srv".into()];
        assert_eq!(integrity(&p).unwrap_err().kind, Kind::Tampered);
    }

    #[test]
    fn approve_enforces_duties_and_distinct_reviewers() {
        let mut p = plan(Status::Pending);
        assert_eq!(
            approve(&p, "agent", None, true, 0).unwrap_err().kind,
            Kind::NotAllowed
        );
        assert!(approve(&p, "agent", None, false, 0).is_ok());
        assert!(approve(&p, "alice", None, true, 0).is_ok());
        assert_eq!(
            approve(&p, "alice", Some("zz"), true, 0).unwrap_err().kind,
            Kind::HashMismatch
        );
        p.approvals.push(Approval {
            actor: "alice".into(),
            at: 0,
            comment: None,
            hash: p.hash.clone(),
            signature: None,
            check: Default::default(),
        });
        assert_eq!(
            approve(&p, "alice", None, true, 0).unwrap_err().kind,
            Kind::NotAllowed
        );
        assert_eq!(
            approve(&p, "bob", None, true, 1000).unwrap_err().kind,
            Kind::Expired
        );
        for (status, kind) in [
            (Status::Rejected, Kind::Rejected),
            (Status::Expired, Kind::Expired),
            (Status::Denied, Kind::Denied),
            (Status::Cancelled, Kind::Cancelled),
            (Status::Applied, Kind::NotAllowed),
            (Status::Approved, Kind::NotAllowed),
            (Status::Running, Kind::InFlight),
            (Status::Interrupted, Kind::OutcomeUnknown),
        ] {
            assert_eq!(
                approve(&plan(status), "bob", None, true, 0)
                    .unwrap_err()
                    .kind,
                kind
            );
        }
    }

    #[test]
    fn approvals_count_distinct_actors_on_the_current_hash() {
        let mut p = plan(Status::Pending);
        p.approvals_required = 2;
        let a = |actor: &str, hash: &str| Approval {
            actor: actor.into(),
            at: 0,
            comment: None,
            hash: hash.into(),
            signature: None,
            check: Default::default(),
        };
        p.approvals = vec![a("alice", &p.hash), a("alice", &p.hash), a("bob", "old")];
        assert_eq!(p.approvals_counted(), 1);
        assert_eq!(p.approvals_missing(), 1);
    }

    #[test]
    fn reject_only_before_running() {
        assert!(reject(&plan(Status::Pending), None, 0).is_ok());
        assert!(reject(&plan(Status::Approved), None, 0).is_ok());
        assert_eq!(
            reject(&plan(Status::Applied), None, 0).unwrap_err().kind,
            Kind::NotAllowed
        );
        assert_eq!(
            reject(&plan(Status::Pending), None, 1000).unwrap_err().kind,
            Kind::Expired
        );
    }

    #[test]
    fn reject_binds_the_hash_after_the_state() {
        let h = "h".repeat(64);
        assert!(reject(&plan(Status::Pending), Some(&h), 0).is_ok());
        assert_eq!(
            reject(&plan(Status::Pending), Some("zz"), 0)
                .unwrap_err()
                .kind,
            Kind::HashMismatch
        );
        // As approve: a plan that ended answers with its state first.
        assert_eq!(
            reject(&plan(Status::Rejected), Some("zz"), 0)
                .unwrap_err()
                .kind,
            Kind::Rejected
        );
    }

    #[test]
    fn cancel_only_what_has_not_run_and_each_ending_keeps_its_code() {
        assert!(cancel(&plan(Status::Pending), 0).is_ok());
        assert!(cancel(&plan(Status::Approved), 0).is_ok());
        for (status, kind) in [
            (Status::Cancelled, Kind::Cancelled),
            (Status::Rejected, Kind::Rejected),
            (Status::Expired, Kind::Expired),
            (Status::Denied, Kind::Denied),
            (Status::Running, Kind::InFlight),
            (Status::Interrupted, Kind::OutcomeUnknown),
            (Status::Applied, Kind::NotAllowed),
        ] {
            assert_eq!(cancel(&plan(status), 0).unwrap_err().kind, kind, "{status}");
        }
        // A window that passed is the plan's end, not a cancellation.
        assert_eq!(
            cancel(&plan(Status::Pending), 1000).unwrap_err().kind,
            Kind::Expired
        );
        assert_eq!(
            reject(&plan(Status::Cancelled), None, 0).unwrap_err().kind,
            Kind::Cancelled
        );
    }

    #[test]
    fn rollback_needs_a_recorded_command_and_a_run() {
        let mut p = plan(Status::Applied);
        assert_eq!(rollback(&p).unwrap_err().kind, Kind::NotFound);
        p.rollback = Some("kubectl rollout undo deploy/web".into());
        assert_eq!(rollback(&p).unwrap(), "kubectl rollout undo deploy/web");
        p.status = Status::Interrupted;
        assert!(rollback(&p).is_ok());
        // Approved again for a retry: it ran once, and will run again.
        p.status = Status::Approved;
        p.execution = Some(crate::model::Execution::started(&p, 1, "agent", 0));
        let e = rollback(&p).unwrap_err();
        assert_eq!(e.kind, Kind::NotAllowed);
        assert!(e.message.contains("approved to run again"), "{e}");
        p.execution = None;
        for (status, kind) in [
            (Status::Pending, Kind::NotAllowed),
            (Status::Approved, Kind::NotAllowed),
            (Status::Running, Kind::InFlight),
            (Status::Rejected, Kind::Rejected),
            (Status::Cancelled, Kind::Cancelled),
            (Status::Expired, Kind::Expired),
        ] {
            p.status = status;
            assert_eq!(rollback(&p).unwrap_err().kind, kind, "{status}");
        }
    }

    #[test]
    fn a_plan_approved_again_for_a_retry_cannot_be_cancelled() {
        let mut p = plan(Status::Approved);
        p.execution = Some(crate::model::Execution::started(&p, 1, "agent", 0));
        let e = cancel(&p, 0).unwrap_err();
        assert_eq!(e.kind, Kind::NotAllowed);
        assert!(e.message.contains("already started once"), "{e}");
    }
}

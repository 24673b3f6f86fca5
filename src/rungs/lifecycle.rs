//! What every rung settles before it answers, so that expiry is exact
//! whenever anyone looks, without a daemon, and no run that is over is
//! called "in flight".

use super::{Rung, SYSTEM_ACTOR, event};
use crate::error::Result;
use crate::model::{Millis, Plan, Status};
use crate::store::Tx;
use serde_json::json;

/// Moves every plan whose window has passed to `expired`, each with its
/// ledger event. Runs at the start of each write, so expiry is exact
/// whenever anyone looks, without a daemon.
pub fn expire_due(tx: &mut dyn Tx, now: Millis) -> Result<()> {
    for plan in tx.plans_due_to_expire(now)? {
        tx.set_status(&plan.id, Status::Expired, plan.expires_at)?;
        let window = if plan.status == Status::Pending {
            "approval"
        } else {
            "apply"
        };
        tx.append_event(&event(
            now,
            "expired",
            &plan,
            SYSTEM_ACTOR,
            json!({ "window": window, "was": plan.status.as_str() }),
        ))?;
    }
    Ok(())
}

/// Reads through `f` what a read-only command shows, with the plans
/// brought up to date first: expired windows, and `running` plans whose
/// ladder died (their run lock is free) become `interrupted`. In the common
/// case nothing needs settling, and the check and the read share one
/// transaction; otherwise the changes are written, then `f` reads.
pub fn read_settled<T>(rung: &mut Rung, mut f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    let now = rung.now();
    // A state this user may only read cannot be settled: it is read as
    // stored (`inspect` shows a window that passed as expired), and a run's
    // liveness cannot be checked from here.
    if rung.store.read_only() {
        return crate::store::read(rung.store, f);
    }
    let mut dead = vec![];
    let settled = crate::store::read(rung.store, |tx| {
        let due = !tx.plans_due_to_expire(now)?.is_empty();
        dead.clear();
        for p in tx.plans(&[Status::Running], None)? {
            if !tx.run_is_live(&p)? {
                dead.push(p.id);
            }
        }
        if due || !dead.is_empty() {
            return Ok(None);
        }
        f(tx).map(Some)
    })?;
    if let Some(value) = settled {
        return Ok(value);
    }
    crate::store::write(rung.store, |tx| {
        expire_due(tx, now)?;
        for id in &dead {
            // Check again under the write lock: it may have finished.
            if let Some(p) = tx.plan(id)? {
                settle_dead_run(tx, now, p)?;
            }
        }
        Ok(())
    })?;
    crate::store::read(rung.store, f)
}

/// A `running` plan whose ladder died (nobody holds its run lock) is
/// `interrupted`: marks it so in this transaction and returns the plan as it
/// now stands; any other plan comes back unchanged. Every command that
/// answers from a plan's status settles it first, so none of them calls a
/// run that is over "in flight".
pub fn settle_dead_run(tx: &mut dyn Tx, now: Millis, plan: Plan) -> Result<Plan> {
    if plan.status != Status::Running || tx.run_is_live(&plan)? {
        return Ok(plan);
    }
    mark_interrupted(tx, now, &plan)?;
    Ok(Plan {
        status: Status::Interrupted,
        expires_at: None,
        ..plan
    })
}

/// Records that a plan's runner died: the plan is `interrupted` until a
/// person resolves it.
pub fn mark_interrupted(tx: &mut dyn Tx, now: Millis, plan: &Plan) -> Result<()> {
    tx.set_status(&plan.id, Status::Interrupted, None)?;
    let started = plan.execution.as_ref();
    tx.append_event(&event(
        now,
        "interrupted",
        plan,
        SYSTEM_ACTOR,
        json!({
            "attempt": started.map(|e| e.attempt),
            "started_at": started.map(|e| crate::clock::rfc3339(e.started_at)),
            "started_by": started.map(|e| e.actor.clone()),
        }),
    ))?;
    Ok(())
}

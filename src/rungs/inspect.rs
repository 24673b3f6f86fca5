//! The reads: a plan, the plans, the ledger, and the ledger's verification.
//! Each brings the plans up to date first where it shows their status
//! (expired windows, dead runs: see [`super::refresh`]).

use super::{PlanRef, Rung, find_plan, refresh};
use crate::audit::{Audit, Disagreement};
use crate::error::{Error, Kind, Result};
use crate::ledger::Verifier;
use crate::model::{Event, Millis, Plan, Status};
use crate::store::{self, EventFilter};
use serde_json::json;

/// One plan, as it stands now.
pub fn show(rung: &mut Rung, target: &PlanRef) -> Result<Plan> {
    refresh(rung)?;
    store::read(rung.store, |tx| target.find(tx))
}

/// Plans with these statuses (all when empty), newest last, at most
/// `limit`.
pub fn list(rung: &mut Rung, statuses: &[Status], limit: Option<u64>) -> Result<Vec<Plan>> {
    refresh(rung)?;
    store::read(rung.store, |tx| tx.plans(statuses, limit))
}

/// Which events to read.
pub struct EventQuery<'a> {
    /// A plan id or unique prefix.
    pub plan: Option<&'a str>,
    pub key: Option<&'a str>,
    pub since: Option<Millis>,
    /// The newest this many; `None`: all.
    pub limit: Option<u64>,
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
        })
    })
}

/// A verified ledger: how many events, and the head of the chain.
pub struct Verified {
    pub events: u64,
    pub head: String,
}

/// Checks the whole chain, that the database still refuses to change
/// events, and every plan row against its events; the first break or
/// disagreement is `tampered`.
pub fn verify(rung: &mut Rung) -> Result<Verified> {
    let (events, head) = store::read(rung.store, |tx| {
        let mut v = Verifier::default();
        let mut audit = Audit::default();
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
            audit.event(&e).map_err(disagreement)
        })?;
        if let Err(why) = tx.ledger_is_append_only()? {
            return Err(
                Error::new(Kind::Tampered, why).with_extra(json!({ "events_verified": v.checked }))
            );
        }
        // The chain holds; the plan rows, which ladder updates in place,
        // must agree with it.
        tx.for_each_plan_row(&mut |row| audit.plan(&row).map_err(disagreement))?;
        audit.finish().map_err(disagreement)?;
        Ok((v.checked, v.head().to_string()))
    })?;
    Ok(Verified { events, head })
}

/// A plan row that disagrees with the ledger, as `tampered`.
fn disagreement(d: Disagreement) -> Error {
    Error::new(Kind::Tampered, d.to_string()).with_extra(json!({ "plan_id": d.plan, "seq": d.seq }))
}

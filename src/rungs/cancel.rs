//! Cancel: the requester (or a reviewer) withdraws a plan nobody has run.

use super::{PlanRef, Rung, event, expire_due, refuse, refuse_key, settle_dead_run};
use crate::error::{Error, Kind, Result};
use crate::gate;
use crate::model::{Cancellation, Plan, Status};
use serde_json::json;

/// Ends a pending or approved plan as `cancelled`, in one transaction with
/// its ledger event. Its key is free again: planning it anew makes a new
/// plan, with fresh approvals.
///
/// Anyone who may reject a plan may cancel it; the event says whether the
/// planner withdrew it or a reviewer did. Cancelling only ever stops a
/// plan, so, like a rejection, it needs no signature on any tier.
///
/// With `own_only` (a tool call of `ladder mcp`, where the actor is the
/// agent's), only the planner may cancel: deciding on someone else's plan
/// is a person's rung.
pub fn cancel(
    rung: &mut Rung,
    target: &PlanRef,
    reason: Option<&str>,
    own_only: bool,
) -> Result<Plan> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let now = rung.now();
    let actor = rung.actor.to_string();
    super::write(rung, "cancel", |tx| {
        expire_due(tx, now)?;
        let plan = match target.find(tx) {
            Ok(p) => settle_dead_run(tx, now, p)?,
            Err(e) => return Err(refuse_key(target.key(), e)),
        };
        if let Err(e) = gate::cancel(&plan, now) {
            return Err(refuse(&plan, e));
        }
        // The run records are rows of the state file; the ledger is what
        // says whether the plan ever started.
        if tx.last_event_of(&plan.id, "started")?.is_some() {
            let e = Error::new(
                Kind::NotAllowed,
                format!(
                    "plan {} started once (the ledger says so): cancelling it would free a key whose action may have run",
                    plan.short_id()
                ),
            );
            return Err(refuse(&plan, e));
        }
        if own_only && !crate::names::same(&plan.actor, &actor) {
            let e = Error::new(
                Kind::NotAllowed,
                format!(
                    "{} planned {}: an agent may cancel only its own plans over MCP",
                    crate::names::visible(&plan.actor),
                    plan.short_id()
                ),
            )
            .with_hint("a person cancels or rejects it in a terminal");
            return Err(refuse(&plan, e));
        }
        let cancellation = Cancellation {
            actor: actor.clone(),
            reason: reason.map(str::to_string),
            at: now,
        };
        tx.set_cancellation(&plan.id, &cancellation)?;
        tx.set_status(&plan.id, Status::Cancelled, None)?;
        let by = if crate::names::same(&plan.actor, &actor) {
            "planner"
        } else {
            "reviewer"
        };
        let detail = json!({
            "reason": reason,
            "hash": plan.hash,
            "was": plan.status.as_str(),
            "by": by,
        });
        tx.append_event(&event(now, "cancelled", &plan, &actor, detail))?;
        let mut updated = plan;
        updated.status = Status::Cancelled;
        updated.expires_at = None;
        updated.cancellation = Some(cancellation);
        Ok(updated)
    })
}

//! `ladder state copy`: a whole state carried from one store to another
//! (a local SQLite file into the team's PostgreSQL database), its ledger
//! event for event, so the chain verifies on the target as it did on the
//! source.

use super::{EventFilter, Store, read};
use crate::error::{Error, Kind, Result};
use crate::model::{Event, Execution, Plan};
use crate::tier::Tier;

/// What was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub plans: usize,
    pub executions: usize,
    pub events: usize,
}

/// Copies everything `from` holds into `to`, which must hold nothing yet
/// (no plan, no event): one write transaction on the target, so a copy
/// that fails leaves it as empty as it was. The source is read in one
/// snapshot, into memory.
pub fn copy(from: &mut dyn Store, to: &mut dyn Store) -> Result<Copied> {
    let (plans, executions, events) = read(from, |tx| {
        let plans = tx.plans(&[], None)?;
        let mut executions: Vec<(Execution, Tier, Option<String>)> = Vec::new();
        tx.for_each_execution(&mut |e, tier, rule| {
            executions.push((e, tier, rule));
            Ok(())
        })?;
        let mut events: Vec<Event> = Vec::new();
        tx.for_each_event(&mut |e| {
            events.push(e);
            Ok(())
        })?;
        Ok((plans, executions, events))
    })?;
    let target = to.location();
    super::write(to, |tx| {
        let has_events = !tx
            .events(&EventFilter {
                limit: Some(1),
                ..EventFilter::default()
            })?
            .is_empty();
        if has_events || !tx.plans(&[], Some(1))?.is_empty() {
            return Err(Error::new(
                Kind::Usage,
                format!("{target} already holds state: copy only into an empty one"),
            ));
        }
        for plan in &plans {
            copy_plan(tx, plan)?;
        }
        for (exec, tier, rule) in &executions {
            tx.insert_execution(exec, *tier, rule.as_deref())?;
            tx.finish_execution(exec)?;
            if let Some(r) = &exec.resolution {
                tx.resolve_execution(&exec.plan, exec.attempt, r, exec.exit_code)?;
            }
        }
        for e in &events {
            tx.copy_event(e)?;
        }
        Ok(())
    })?;
    Ok(Copied {
        plans: plans.len(),
        executions: executions.len(),
        events: events.len(),
    })
}

fn copy_plan(tx: &mut dyn super::Tx, plan: &Plan) -> Result<()> {
    tx.insert_plan(plan)?;
    if let Some(r) = &plan.rejection {
        tx.set_rejection(&plan.id, r)?;
    }
    if let Some(c) = &plan.cancellation {
        tx.set_cancellation(&plan.id, c)?;
    }
    for a in &plan.approvals {
        tx.insert_approval(&plan.id, a)?;
    }
    Ok(())
}

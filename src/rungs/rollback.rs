//! Rollback: the undo a plan recorded (`plan --rollback CMD`), planned as a
//! new plan that climbs the same ladder: classified by the policy in force,
//! approved, applied and replayed like any other.

use super::plan::{Planned, Request as PlanRequest};
use super::{PlanRef, Rung, read_settled, refuse};
use crate::error::{Error, Kind, Result};
use crate::meta::Meta;
use crate::policy::InForce;
use std::ffi::OsString;

/// What undoing a plan asks for.
pub struct Request {
    /// The plan to undo.
    pub original: PlanRef,
    /// The new plan's key; by default [`key_for`] the original.
    pub key: Option<String>,
    /// A preview of the undo (already split into an argv).
    pub dry_run: Option<Vec<OsString>>,
    pub reason: Option<String>,
    pub meta: Meta,
}

/// The key a rollback plan gets unless one is given: derived from the
/// plan it undoes, so a retried `ladder rollback` finds the plan the first
/// call made instead of making a second.
pub fn key_for(original_id: &str) -> String {
    format!("rollback:{original_id}")
}

/// Plans the original's recorded rollback command (split like `--dry-run`,
/// run in the original's directory, binding the variables it bound), with
/// `rollback_of` naming the original. A rollback plan that already holds
/// the key is given back as it is, however far it has climbed.
pub fn rollback(rung: &mut Rung, policy: &InForce, req: Request) -> Result<Planned> {
    let original = read_settled(rung, |tx| req.original.find(tx))?;
    let key = req.key.unwrap_or_else(|| key_for(&original.id));
    let checked = crate::gate::integrity(&original)
        .and_then(|()| crate::gate::rollback(&original))
        .map(str::to_string)
        .and_then(|command| recorded(rung, &original, command));
    let command = match checked {
        Ok(c) => c,
        Err(e) => return Err(super::refused(rung, "rollback", refuse(&original, e))),
    };
    // Checked when planned; a row edited since is refused above.
    let argv = super::dry_run::split_command("the recorded rollback", &command)?;
    let existing = read_settled(rung, |tx| tx.latest_plan_for_key(&key))?;
    if let Some(p) = existing
        .filter(|p| p.status.holds_key() && p.rollback_of.as_deref() == Some(original.id.as_str()))
    {
        return Ok(Planned {
            plan: p,
            created: false,
            denied: None,
            warnings: vec![],
        });
    }
    let env = original
        .env
        .keys()
        .filter(|name| !crate::binding::is_loader_var(name))
        .cloned()
        .collect();
    super::plan::plan(
        rung,
        policy,
        PlanRequest {
            key,
            command: argv,
            cwd: Some(original.cwd.clone()),
            dry_run: req.dry_run,
            dry_run_ok: vec![],
            env,
            reason: Some(
                req.reason
                    .unwrap_or_else(|| format!("roll back plan {}", original.id)),
            ),
            target: original.target.clone(),
            effect: None,
            rollback: None,
            confidence: None,
            meta: req.meta,
            rollback_of: Some(original.id.clone()),
        },
    )
}

/// The rollback command as the ledger recorded it when the original was
/// planned. The row is not in the hash, so one edited in the state file
/// would otherwise be planned under "its recorded rollback" (`tampered`).
/// A plan made before the ledger recorded rollbacks has only its row (its
/// planned event must still be there, and the row must hash to its hash:
/// the directory the undo runs in is the original's).
fn recorded(rung: &mut Rung, original: &crate::model::Plan, command: String) -> Result<String> {
    let planned = crate::store::read(rung.store, |tx| tx.last_event_of(&original.id, "planned"))?;
    let detail: serde_json::Value = planned
        .as_ref()
        .and_then(|e| serde_json::from_str(&e.detail).ok())
        .unwrap_or_default();
    if planned.is_none() {
        return Err(Error::new(
            Kind::Tampered,
            format!(
                "plan {} has no planned event in the ledger: its row was not made by ladder",
                original.short_id()
            ),
        )
        .with_hint("nothing was planned; check who can write the state file"));
    }
    match detail.get("rollback") {
        Some(v) if v.as_str() != Some(command.as_str()) => Err(Error::new(
            Kind::Tampered,
            format!(
                "plan {}'s rollback command was altered in the state file: the ledger recorded {}",
                original.short_id(),
                v
            ),
        )
        .with_hint("nothing was planned; check who can write the state file")),
        _ => Ok(command),
    }
}

//! One file per subcommand. Each reads as: parse → context → store, policy
//! or runner → render. Helpers shared by the rungs live here.

pub mod apply;
pub mod approve;
pub mod completions;
pub mod list;
pub mod log;
pub mod man;
pub mod mcp;
pub mod plan;
pub mod policy;
pub mod reject;
pub mod replay;
pub mod resolve;
pub mod show;

use crate::error::{Error, Kind, Result};
use crate::model::{Millis, NewEvent, Plan, Status};
use crate::plan_hash::sha256_hex;
use crate::policy::{DryRunFacts, Evaluation, InForce, Input};
use crate::store::Tx;
use serde_json::{Value, json};
use std::os::unix::ffi::OsStrExt;

/// The actor recorded for what the clock does (expiry), not a person.
pub const SYSTEM_ACTOR: &str = "ladder";

/// An event about a plan.
pub fn event(now: Millis, kind: &'static str, plan: &Plan, actor: &str, detail: Value) -> NewEvent {
    NewEvent {
        at: now,
        kind,
        plan: Some(plan.id.clone()),
        key: Some(plan.key.clone()),
        actor: actor.to_string(),
        detail,
    }
}

/// Records a refusal in the ledger. A refusal changes nothing else.
pub fn record_refusal(
    tx: &mut dyn Tx,
    now: Millis,
    actor: &str,
    command: &str,
    plan: Option<&Plan>,
    key: Option<&str>,
    err: &Error,
) -> Result<()> {
    tx.append_event(&NewEvent {
        at: now,
        kind: "refused",
        plan: plan.map(|p| p.id.clone()),
        key: plan.map(|p| p.key.clone()).or(key.map(str::to_string)),
        actor: actor.to_string(),
        detail: json!({
            "command": command,
            "code": err.kind.name(),
            "message": err.message,
        }),
    })?;
    Ok(())
}

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

/// The policy in force's evaluation of a plan's command, on the plan's
/// environment (a bound variable whose value here is not the one bound
/// reads as unset: it is not the plan's, and `drift` refuses it; one the
/// plan did not bind reads as it is here) and on `dry_run_stdout`, or else
/// the stored dry-run output (which `gate::integrity` holds to its digest
/// when it is whole).
pub fn policy_verdict(plan: &Plan, policy: &InForce, dry_run_stdout: Option<&[u8]>) -> Evaluation {
    let lookup = |name: &str| {
        let value = std::env::var_os(name);
        match plan.env.get(name) {
            Some(bound) if value.as_ref().map(|v| sha256_hex(v.as_bytes())) != *bound => None,
            _ => value,
        }
    };
    // PATH is bound: a PATH other than the plan's is refused by `drift`.
    let argv = crate::binding::policy_argv(
        &plan.command,
        &plan.cwd,
        std::env::var_os("PATH").as_deref(),
    );
    policy.evaluate(&Input {
        argv: &argv,
        env: &lookup,
        dry_run: plan.dry_run.as_ref().map(|d| DryRunFacts {
            exit_code: d.exit_code,
            stdout: dry_run_stdout.unwrap_or(&d.stdout),
        }),
        confidence: plan.confidence,
    })
}

/// Marks on `plan` the stricter verdict the policy in force gives it, if
/// it gives one, so that a reviewer sees before approving what `apply`
/// will raise the plan to. Only for a plan that can still run; nothing is
/// written (apply records the raise).
pub fn note_in_force(plan: &mut Plan, policy: &InForce) {
    if !matches!(plan.status, Status::Pending | Status::Approved) {
        return;
    }
    if let Some(up) =
        crate::gate::escalation(plan, &policy_verdict(plan, policy, None), &policy.sha256())
    {
        plan.in_force = Some(up.to);
    }
}

/// Finds a plan by id or unique id prefix (4 characters or more, like git).
pub fn find_plan(tx: &mut dyn Tx, wanted: &str) -> Result<Plan> {
    let wanted = wanted.trim().to_ascii_lowercase();
    if wanted.len() < 4 {
        return Err(Error::usage(format!(
            "plan id `{wanted}` is too short: give at least 4 characters"
        )));
    }
    let ids = tx.plan_ids_with_prefix(&wanted, 2)?;
    match ids.as_slice() {
        [] => Err(
            Error::new(Kind::NotFound, format!("no plan with id `{wanted}`"))
                .with_hint("list plans with `ladder list --status all`"),
        ),
        [id] => tx
            .plan(id)?
            .ok_or_else(|| Error::new(Kind::NotFound, format!("no plan with id `{wanted}`"))),
        _ => Err(Error::usage(format!(
            "plan id `{wanted}` is ambiguous: it starts more than one plan id"
        ))
        .with_hint("give more characters")),
    }
}

/// How a command names a plan: by id (or unique prefix), or by its key.
#[derive(Debug, Clone)]
pub enum PlanRef {
    Id(String),
    Key(String),
}

impl PlanRef {
    /// From a command's `PLAN` argument and `--key` flag (PLAN wins).
    pub fn from_args(plan: Option<&String>, key: Option<&String>) -> Option<PlanRef> {
        match (plan, key) {
            (Some(p), _) => Some(PlanRef::Id(p.clone())),
            (None, Some(k)) => Some(PlanRef::Key(k.clone())),
            (None, None) => None,
        }
    }

    pub fn find(&self, tx: &mut dyn Tx) -> Result<Plan> {
        match self {
            PlanRef::Id(id) => find_plan(tx, id),
            PlanRef::Key(k) => find_by_key(tx, k),
        }
    }

    /// The key, when the plan was named by it (for refusal events).
    pub fn key(&self) -> Option<&str> {
        match self {
            PlanRef::Key(k) => Some(k),
            PlanRef::Id(_) => None,
        }
    }
}

/// Brings plans up to date before a read-only command shows them: expired
/// windows, and `running` plans whose ladder died (their run lock is free)
/// become `interrupted`. Writes only when something actually changed.
pub fn refresh(ctx: &mut crate::context::Ctx, now: Millis) -> Result<()> {
    let (due, dead) = crate::store::read(ctx.store()?, |tx| {
        let due = !tx.plans_due_to_expire(now)?.is_empty();
        let mut dead = vec![];
        for p in tx.plans(&[Status::Running], None)? {
            if !tx.run_is_live(&p)? {
                dead.push(p.id);
            }
        }
        Ok((due, dead))
    })?;
    if due || !dead.is_empty() {
        crate::store::write(ctx.store()?, |tx| {
            expire_due(tx, now)?;
            for id in &dead {
                // Check again under the write lock: it may have finished.
                if let Some(p) = tx.plan(id)? {
                    settle_dead_run(tx, now, p)?;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
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
    apply::mark_interrupted(tx, now, &plan)?;
    Ok(Plan {
        status: Status::Interrupted,
        expires_at: None,
        ..plan
    })
}

/// The plan that currently holds `key` (its newest plan).
pub fn find_by_key(tx: &mut dyn Tx, key: &str) -> Result<Plan> {
    tx.latest_plan_for_key(key)?.ok_or_else(|| {
        Error::new(Kind::NotFound, format!("no plan for key `{key}`"))
            .with_hint("plan it first with `ladder plan --key ...`")
    })
}

/// A `--hash` argument as compared: surrounding space and letter case
/// ignored. A wrong or partial hash is the gate's `hash_mismatch`.
pub fn normalize_hash(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

/// Validates an idempotency key: 1 to 255 printable characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > 255 {
        return Err(Error::usage("a key must be 1 to 255 characters"));
    }
    if key.chars().any(crate::render::is_unprintable) {
        return Err(Error::usage(
            "a key may not contain control, bidirectional or invisible characters",
        ));
    }
    Ok(())
}

/// Asks a yes/no question on the terminal (stderr prompt, stdin answer).
pub fn confirm(question: &str) -> Result<bool> {
    let answer = prompt(&format!("{question} [y/N] "))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Prints a prompt on stderr and reads one line from stdin.
pub fn prompt(text: &str) -> Result<String> {
    use std::io::{BufRead, Write};
    let mut err = std::io::stderr();
    let _ = write!(err, "{text}");
    let _ = err.flush();
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::new(Kind::Error, format!("failed to read answer: {e}")))?;
    if n == 0 {
        // End of input is a "no", never a "yes".
        return Ok(String::new());
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_and_bounded() {
        assert!(check_key("deploy-2026-11-21 #3").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
        assert!(check_key(&"k".repeat(255)).is_ok());
        assert!(check_key(&"é".repeat(255)).is_ok(), "characters, not bytes");
        assert!(check_key("a\nb").is_err());
        assert!(check_key("a\u{7f}b").is_err());
    }
}

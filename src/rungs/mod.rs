//! The rungs of the ladder: what each step does to the state, whoever asks
//! for it (`ladder <command>`, or a tool call of `ladder mcp`) and however
//! the answer is shown.
//!
//! A rung takes a [`Rung`] (the store, the clock, who is acting), the
//! policy in force where it judges, and the request; it returns what
//! happened, or an error. A rung that refuses records the refusal in the
//! ledger, in the same transaction as what it settled on the way (a window
//! that ended, a run whose ladder died), through [`write`]: its closure
//! stops with [`refuse`], and the caller gets the refusal as its error.
//!
//! Where each lives: `plan.rs` makes a plan, `dry_run.rs` runs a plan's
//! dry-run and apply's drift check, `approve.rs`, `reject.rs`, `cancel.rs`,
//! `apply.rs` (check, start, run, finish), `replay.rs`, `resolve.rs`,
//! `rollback.rs` (a recorded undo planned as a new plan); `lifecycle.rs`
//! is what every rung settles first (expiry, dead runs), `verdict.rs` the
//! policy's verdict on a stored plan, `find.rs` how a plan is named.

pub mod apply;
pub mod approve;
pub mod cancel;
pub mod dry_run;
mod find;
pub mod inspect;
mod lifecycle;
pub mod plan;
pub mod reject;
pub mod replay;
pub mod resolve;
pub mod rollback;
mod verdict;

pub use find::{PlanRef, check_key, find_by_key, find_plan, normalize_hash};
pub use lifecycle::{expire_due, mark_interrupted, read_settled, settle_dead_run};
pub use verdict::{note_in_force, policy_verdict};

use crate::clock::{Clock, IdSource};
use crate::error::{Error, Result};
use crate::model::{Millis, NewEvent, Plan};
use crate::store::{Store, Tx};
use serde_json::{Value, json};

/// The actor recorded for what the clock does (expiry), not a person.
pub const SYSTEM_ACTOR: &str = "ladder";

/// What a rung runs with.
pub struct Rung<'a> {
    pub store: &'a mut dyn Store,
    pub clock: &'a Clock,
    /// Who is acting: recorded on every event and decision.
    pub actor: &'a str,
    pub ids: IdSource,
}

impl Rung<'_> {
    pub fn now(&self) -> Millis {
        self.clock.now()
    }
}

/// Why a rung's transaction stops short of its outcome.
pub enum Stop {
    /// The rung said no: the refusal is recorded and returned.
    Refused(Box<Refusal>),
    /// Something failed (the store, the disk): nothing is written.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

/// A refusal, and what it is about, for the ledger's `refused` event.
pub struct Refusal {
    pub error: Error,
    plan: Option<String>,
    key: Option<String>,
}

/// A refusal about `plan`.
pub fn refuse(plan: &Plan, error: Error) -> Stop {
    Stop::Refused(Box::new(Refusal {
        error,
        plan: Some(plan.id.clone()),
        key: Some(plan.key.clone()),
    }))
}

/// A refusal about no plan in particular (none was found), or about the
/// key that was asked for.
pub fn refuse_key(key: Option<&str>, error: Error) -> Stop {
    Stop::Refused(Box::new(Refusal {
        error,
        plan: None,
        key: key.map(str::to_string),
    }))
}

/// Runs `f` in one write transaction of the rung's store. What `f` returns
/// commits; a refusal commits what `f` wrote before it with the `refused`
/// event, and comes back as the error; a failure rolls everything back.
pub fn write<T>(
    rung: &mut Rung,
    command: &'static str,
    f: impl FnMut(&mut dyn Tx) -> std::result::Result<T, Stop>,
) -> Result<T> {
    write_in(rung, command, false, f)
}

fn write_in<T>(
    rung: &mut Rung,
    command: &'static str,
    durable: bool,
    mut f: impl FnMut(&mut dyn Tx) -> std::result::Result<T, Stop>,
) -> Result<T> {
    let (now, actor) = (rung.now(), rung.actor);
    let mut refused = None;
    let mut run = |tx: &mut dyn Tx| match f(tx) {
        Ok(value) => Ok(Some(value)),
        Err(Stop::Failed(e)) => Err(e),
        Err(Stop::Refused(r)) => {
            tx.append_event(&refusal_event(now, actor, command, &r))?;
            refused = Some(r.error);
            Ok(None)
        }
    };
    let out = if durable {
        crate::store::write_durable(rung.store, &mut run)?
    } else {
        crate::store::write(rung.store, &mut run)?
    };
    match (out, refused) {
        (Some(value), _) => Ok(value),
        (None, Some(e)) => Err(e),
        (None, None) => unreachable!("a refusal is recorded with its error"),
    }
}

/// [`write`], and the commit is on stable storage before this returns (see
/// [`Store::write_durable_tx`]).
pub fn write_durable<T>(
    rung: &mut Rung,
    command: &'static str,
    f: impl FnMut(&mut dyn Tx) -> std::result::Result<T, Stop>,
) -> Result<T> {
    write_in(rung, command, true, f)
}

/// Records a refusal made outside a rung's transaction (the world drifted,
/// another process holds the run) and returns it as the error; a failure
/// to record it is the error instead.
pub fn refused(rung: &mut Rung, command: &'static str, refusal: Stop) -> Error {
    match refusal {
        Stop::Failed(e) => e,
        Stop::Refused(r) => {
            let event = refusal_event(rung.now(), rung.actor, command, &r);
            match crate::store::write(rung.store, |tx| tx.append_event(&event).map(drop)) {
                Ok(()) => r.error,
                Err(e) => e,
            }
        }
    }
}

/// The ledger's record of a refusal. A refusal changes nothing else.
fn refusal_event(now: Millis, actor: &str, command: &str, r: &Refusal) -> NewEvent {
    NewEvent {
        at: now,
        kind: "refused",
        plan: r.plan.clone(),
        key: r.key.clone(),
        actor: actor.to_string(),
        detail: json!({
            "command": command,
            "code": r.error.kind.name(),
            "message": r.error.message,
        }),
    }
}

/// Checks, inside a rung's transaction, that a signature made for a
/// decision signs this decision on the plan as it is now (not one that
/// changed while the reviewer signed).
pub fn signed_for(
    trust: &crate::signing::Trust,
    decision: &crate::signing::Decision,
    signed: &crate::signing::Signed,
) -> Result<()> {
    let why = match trust.check(decision, &signed.signature) {
        crate::model::Check::Valid(_) => return Ok(()),
        crate::model::Check::Invalid(why) => why,
        crate::model::Check::Unchecked => "it was not checked".to_string(),
    };
    Err(Error::new(
        crate::error::Kind::NotAllowed,
        format!(
            "the signature by {} does not count: {why}",
            signed.principal
        ),
    ))
}

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

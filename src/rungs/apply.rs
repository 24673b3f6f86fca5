//! Apply: the rung with the side effect. Runs the command once,
//! only if everything still matches, and records the outcome.
//!
//! The order of work is what makes "at most once" hold:
//!
//! 1. In one write transaction: expire what is due, find the plan, run the
//!    contract's checks (`gate::apply`) and the budgets. A refusal is
//!    recorded and returned; an applied plan is replayed.
//! 2. Outside any transaction: the drift check (bound environment values and
//!    a fresh dry-run must reproduce the plan hash).
//! 3. Take the plan's run lock, then in one write transaction check again
//!    and mark the plan `running` with a `started` event. The commit is
//!    synced to disk before the command starts.
//! 4. Run the command, streaming and recording its output.
//! 5. In one write transaction: record the outcome, mark it `applied`.
//!
//! If ladder dies during 4, the run lock is released by the kernel, and the
//! next apply finds a `running` plan nobody holds: `interrupted`.

use super::dry_run::drift;
use super::{
    PlanRef, Rung, SYSTEM_ACTOR, Stop, event, expire_due, mark_interrupted, refuse, refuse_key,
    replay,
};
use crate::audit::Audit;
use crate::binding;
use crate::error::{Error, Kind, Result};
use crate::gate::{self, ApplyGate};
use crate::model::{Execution, Millis, Plan, PlanRow, Status, Verdict};
use crate::policy::{Budget, Evaluation, InForce};
use crate::runner::{self, StdinMode};
use crate::signing::Trust;
use crate::store::{self, BudgetScope, EventFilter, Tx};
use serde_json::json;
use std::time::{Duration, Instant};

/// What a caller asks to apply: the plan (by id, or the key's live plan),
/// the key and hash it must have, and how long to wait and to run.
pub struct Request {
    pub target: PlanRef,
    pub key: String,
    /// Normalised (see [`super::normalize_hash`]).
    pub hash: String,
    /// Wait this long for approvals instead of refusing `needs_approval`.
    pub wait: Option<Duration>,
    /// Kill the command if it runs longer than this.
    pub timeout: Option<Duration>,
}

/// How the command runs: whether its output is also streamed to ours, and
/// what its stdin is (under `ladder mcp` stdin is the protocol).
pub struct RunOptions {
    pub tee: bool,
    pub stdin: StdinMode,
}

/// What came of an apply.
pub enum Applied {
    /// The command ran; its outcome is recorded.
    Ran {
        plan: Box<Plan>,
        exec: Box<Execution>,
    },
    /// It had run already: its recorded outcome is what to give back.
    Replayed(Box<Plan>),
}

/// Runs a plan's command once, when everything still matches, and records
/// the outcome (see the module's steps). `on_wait` is called once when the
/// plan still needs approvals and `req.wait` lets it wait for them.
pub fn apply(
    rung: &mut Rung,
    policy: &InForce,
    req: &Request,
    opts: &RunOptions,
    on_wait: &mut dyn FnMut(),
) -> Result<Applied> {
    if req.timeout.is_some_and(|t| t.is_zero()) {
        return Err(Error::usage("--timeout must be longer than zero"));
    }
    let deadline = req.wait.map(|w| Instant::now() + w);
    let mut verdict = Memo::default();
    // Read once, and only where a tier needs signatures: every counted
    // approval is checked against it again below, from its signature.
    let trust = match policy.signs_any() {
        true => crate::signing::Trust::of(policy)?,
        false => None,
    };
    let trust = trust.as_ref();

    // Rung checks, polling while approvals are short and --wait allows.
    let mut pause = Duration::from_millis(100);
    let mut told = false;
    let plan = loop {
        let waiting = deadline.is_some_and(|d| Instant::now() < d);
        match check(rung, req, policy, trust, &mut verdict, waiting)? {
            Decision::Run(p) => break *p,
            Decision::Replay(p) => return Ok(Applied::Replayed(p)),
            Decision::Wait => {
                if !told {
                    on_wait();
                    told = true;
                }
                // No transaction is open while we wait: reviewers can write
                // (and a server store wakes us when one does).
                let left = deadline.map_or(pause, |d| d.saturating_duration_since(Instant::now()));
                rung.store.wait_for_change(pause.min(left))?;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    };

    // Drift: the world must still be the one that was reviewed.
    let again = match drift(&plan, policy) {
        Ok(again) => again,
        Err(e) => return Err(super::refused(rung, "apply", refuse(&plan, e))),
    };
    // The dry-run's output as it came out just now (its digests are the
    // reviewed ones) is what a rule's `dry_run_output` judges under the run
    // lock, not the row's copy: a copy edited in the state file and marked
    // truncated cannot be checked against its digest, and would lower the
    // verdict of the policy in force.
    if let Some(d) = &again {
        verdict.judge(&plan, policy, Some(&d.stdout));
    }

    // The run lock is taken before the plan is marked running, so nobody
    // can ever see `running` without a live holder unless the holder died.
    let Some(lock) = rung.store.try_lock_run(&plan)? else {
        let e = Error::new(
            Kind::InFlight,
            format!(
                "plan {} is being applied right now by another process",
                plan.short_id()
            ),
        );
        return Err(super::refused(rung, "apply", refuse(&plan, e)));
    };
    let exec = match start(rung, &plan, req, policy, trust, &mut verdict)? {
        Started::Running(exec) => *exec,
        Started::Replay(p) => return Ok(Applied::Replayed(p)),
    };

    let cap = policy.defaults().output_cap as usize;
    // The program bound at plan time and checked by `drift`, by its path:
    // no PATH lookup between the check and the run. A program that was
    // missing then (and still is) fails as it would have, 127.
    let program = plan
        .binding
        .as_ref()
        .map(|b| &b.program)
        .filter(|p| p.id != binding::MISSING)
        .map(|p| p.path.as_path());
    let outcome = runner::run(
        &runner::Spec {
            argv: &plan.command,
            program,
            cwd: &plan.cwd,
            cap,
            tee: opts.tee,
            stdin: opts.stdin,
            timeout: req.timeout,
            forward_signals: true,
        },
        &mut |_| {},
    )
    .map_err(|e| Error::new(Kind::Error, format!("failed to run the command: {e}")))?;

    let finished_at = rung.now().max(exec.started_at);
    let exec = Execution {
        pid: outcome.pid,
        finished_at: Some(finished_at),
        exit_code: Some(outcome.exit_code),
        signal: outcome.signal,
        timed_out: outcome.timed_out,
        stdout_bytes: outcome.stdout.bytes,
        stderr_bytes: outcome.stderr.bytes,
        stdout_sha256: Some(outcome.stdout.sha256.clone()),
        stderr_sha256: Some(outcome.stderr.sha256.clone()),
        truncated: outcome.stdout.truncated || outcome.stderr.truncated,
        stdout: outcome.stdout.head,
        stderr: outcome.stderr.head,
        ..exec
    };
    let mut lock = lock;
    if !rung.store.run_lock_held(&plan, &mut lock)? {
        // Another applier may have found the plan running with nobody
        // holding it, and called it interrupted: what happened is recorded,
        // and a person settles it, rather than ladder guessing.
        return Err(lost_lock(rung, &plan, &exec, finished_at));
    }
    finish(rung, &plan, &exec, finished_at)?;
    drop(lock);
    Ok(Applied::Ran {
        plan: Box::new(plan),
        exec: Box::new(exec),
    })
}

/// The run lock was lost while the command ran (the store's connection
/// died): the outcome is recorded on its execution, the plan is left
/// `interrupted` (`outcome_unknown`) for a person to resolve, and nothing
/// says `applied`.
fn lost_lock(rung: &mut Rung, plan: &Plan, exec: &Execution, finished_at: Millis) -> Error {
    let recorded = store::write(rung.store, |tx| {
        tx.finish_execution(exec)?;
        let fresh = tx.plan(&plan.id)?;
        if let Some(fresh) = fresh.filter(|p| p.status == Status::Running) {
            super::lifecycle::mark_interrupted(tx, finished_at, &fresh)?;
        }
        Ok(())
    });
    let mut e = Error::new(
        Kind::OutcomeUnknown,
        format!(
            "plan {}'s command ran (exit {}), but its run lock was lost while it ran: it is recorded as interrupted",
            plan.short_id(),
            exec.exit_code.unwrap_or(-1)
        ),
    )
    .with_hint("check what it did, then `ladder resolve` it");
    if let Err(why) = recorded {
        e = e.with_hint(format!("and recording it failed too: {}", why.one_line()));
    }
    e
}

/// Step 5: records the outcome, in one transaction with its `applied`
/// event.
fn finish(rung: &mut Rung, plan: &Plan, exec: &Execution, finished_at: Millis) -> Result<()> {
    let actor = rung.actor.to_string();
    store::write(rung.store, |tx| {
        tx.finish_execution(exec)?;
        tx.set_status(&plan.id, Status::Applied, None)?;
        if plan.retry_allowed {
            tx.set_retry_allowed(&plan.id, false)?;
        }
        tx.append_event(&event(
            finished_at,
            "applied",
            plan,
            &actor,
            json!({
                "attempt": exec.attempt,
                "exit_code": exec.exit_code,
                "signal": exec.signal,
                "timed_out": exec.timed_out,
                "duration_ms": finished_at - exec.started_at,
                "stdout_bytes": exec.stdout_bytes,
                "stderr_bytes": exec.stderr_bytes,
                "stdout_sha256": exec.stdout_sha256,
                "stderr_sha256": exec.stderr_sha256,
                "truncated": exec.truncated,
            }),
        ))?;
        Ok(())
    })
}

/// What step 3 found under the run lock.
enum Started {
    /// Marked running: go.
    Running(Box<Execution>),
    /// Someone applied it in the meantime.
    Replay(Box<Plan>),
}

enum Decision {
    Run(Box<Plan>),
    Replay(Box<Plan>),
    Wait,
}

/// Step 1: the contract's checks in one write transaction.
fn check(
    rung: &mut Rung,
    req: &Request,
    policy: &InForce,
    trust: Option<&Trust>,
    verdict: &mut Memo,
    waiting: bool,
) -> Result<Decision> {
    let (now, actor) = (rung.now(), rung.actor.to_string());
    let (key, hash) = (req.key.as_str(), req.hash.as_str());
    let sod = policy.defaults().separation_of_duties;
    let budgets = policy.budgets();
    // The common case (an approved plan, intact, in its window, no stricter
    // verdict in force, within budget) needs nothing written yet: decide it
    // from a read snapshot. `start` checks again under the write lock
    // before anything runs.
    let ready = store::read(rung.store, |tx| {
        let Ok(mut plan) = req.target.find(tx) else {
            return Ok(None);
        };
        judge(&mut plan, policy, trust, verdict);
        let runnable = plan.status == Status::Approved
            && signed_gate(&plan, policy, trust, now).is_ok()
            && matches!(
                gate::apply(&plan, key, hash, now, false, sod),
                Ok(ApplyGate::Run)
            )
            && gate::integrity(&plan).is_ok()
            && gate::escalation(&plan, verdict.of(&plan, policy), &policy.sha256()).is_none()
            && budget_check(tx, &plan, &actor, budgets, now)?.is_none();
        Ok(runnable.then_some(plan))
    })?;
    if let Some(plan) = ready {
        return Ok(Decision::Run(Box::new(plan)));
    }
    super::write(rung, "apply", |tx| {
        expire_due(tx, now)?;
        let plan = match req.target.find(tx) {
            Ok(p) => p,
            Err(e) => return Err(refuse_key(Some(key), e)),
        };
        let mut plan = vet(tx, &plan, key, hash, policy, verdict, now)?;
        judge(&mut plan, policy, trust, verdict);
        if let Err(e) = signed_gate(&plan, policy, trust, now) {
            return Err(refuse(&plan, e));
        }
        let lock_held = plan.status == Status::Running && tx.run_is_live(&plan)?;
        match gate::apply(&plan, key, hash, now, lock_held, sod) {
            Ok(ApplyGate::Run) => match budget_check(tx, &plan, &actor, budgets, now)? {
                Some(e) => Err(refuse(&plan, e)),
                None => Ok(Decision::Run(Box::new(plan))),
            },
            Ok(ApplyGate::Replay) => {
                replay::admit(tx, now, &actor, &plan)?;
                Ok(Decision::Replay(Box::new(plan)))
            }
            Ok(ApplyGate::Interrupted) => {
                mark_interrupted(tx, now, &plan)?;
                Err(refuse(&plan, gate::outcome_unknown(&plan)))
            }
            Err(e) if e.kind == Kind::NeedsApproval && waiting => Ok(Decision::Wait),
            Err(e) => Err(refuse(&plan, e)),
        }
    })
}

/// The policy in force's evaluation of a plan, made once per apply: the
/// read in step 1 and the one under the run lock in step 3 see the same
/// content (the same hash, each row checked by `gate::integrity` first),
/// and one evaluation of a default policy costs about as much as the rest
/// of the checks together.
#[derive(Default)]
struct Memo(Option<(String, Evaluation)>);

impl Memo {
    fn of(&mut self, plan: &Plan, policy: &InForce) -> &Evaluation {
        if self.0.as_ref().is_none_or(|(hash, _)| *hash != plan.hash) {
            self.judge(plan, policy, None);
        }
        &self.0.as_ref().expect("set above").1
    }

    /// Evaluates `plan` afresh, on `dry_run_stdout` when given (else the
    /// stored dry-run output).
    fn judge(&mut self, plan: &Plan, policy: &InForce, dry_run_stdout: Option<&[u8]>) {
        let eval = super::policy_verdict(plan, policy, dry_run_stdout);
        self.0 = Some((plan.hash.clone(), eval));
    }
}

/// The plan as apply may trust it, or why not. For a plan that could still
/// run (pending or approved, the key and hash it was asked for): its row
/// must hash to its hash (`tampered` otherwise), and when the policy in
/// force gives a stricter verdict than the one it was planned under, the
/// plan takes that verdict here, recorded with an `escalated` event: back
/// to `pending` when its approvals no longer suffice, `denied` when the
/// policy in force denies it. The contract's other checks are the gate's.
fn vet(
    tx: &mut dyn Tx,
    plan: &Plan,
    key: &str,
    hash: &str,
    policy: &InForce,
    verdict: &mut Memo,
    now: Millis,
) -> std::result::Result<Plan, Stop> {
    let live = matches!(plan.status, Status::Pending | Status::Approved)
        && plan.key == key
        && plan.hash == hash
        && !gate::is_due(plan, now);
    if !live {
        return Ok(plan.clone());
    }
    if let Err(e) = gate::integrity(plan) {
        return Err(refuse(plan, e));
    }
    let Some(up) = gate::escalation(plan, verdict.of(plan, policy), &policy.sha256()) else {
        return Ok(plan.clone());
    };
    if plan.policy_sha256 == policy.sha256() {
        // The policy that decided at plan time, on the same bound inputs,
        // cannot give a stricter verdict now: the row's was edited.
        return Err(refuse(
            plan,
            Error::new(
                Kind::Tampered,
                format!(
                    "plan {} was altered in the state file: its tier or approvals are not what its own policy gives it",
                    plan.short_id()
                ),
            )
            .with_hint("nothing ran; check who can write the state file, and plan again"),
        ));
    }
    let from = Verdict {
        tier: plan.tier,
        rule: plan.rule.clone(),
        approvals_required: plan.approvals_required,
        policy_sha256: plan.policy_sha256.clone(),
    };
    let mut decision = plan.decision.clone();
    decision.push(format!(
        "the policy in force ({}) is stricter than the one this was planned under:",
        policy.origin()
    ));
    decision.extend(up.reasons.iter().cloned());
    tx.escalate(&plan.id, &up.to, &from, &decision)?;
    let mut raised = Plan {
        tier: up.to.tier,
        rule: up.to.rule.clone(),
        approvals_required: up.to.approvals_required,
        escalated_from: Some(from.clone()),
        decision,
        ..plan.clone()
    };
    let sod = policy.defaults().separation_of_duties;
    if up.denied.is_some() {
        raised.status = Status::Denied;
        raised.expires_at = None;
    } else if raised.status == Status::Approved
        && raised.approvals_counted_under(sod) < raised.approvals_required
    {
        // Back to waiting for approval, with a fresh window for it (a plan
        // that was pending keeps the window it had).
        raised.status = Status::Pending;
        raised.expires_at = Some(now + crate::clock::millis(policy.defaults().approval_ttl));
    }
    tx.set_status(&raised.id, raised.status, raised.expires_at)?;
    tx.append_event(&event(
        now,
        "escalated",
        &raised,
        SYSTEM_ACTOR,
        json!({
            "from": from,
            "to": up.to,
            "policy": policy.origin(),
            "status": raised.status.as_str(),
            "reasons": up.reasons,
        }),
    ))?;
    if let Some(why) = &up.denied {
        tx.append_event(&event(
            now,
            "denied",
            &raised,
            SYSTEM_ACTOR,
            json!({ "reason": why }),
        ))?;
    }
    Ok(raised)
}

/// Whether the ledger, which is append-only where the plan's row is not,
/// agrees that the plan may run now: planned with this hash, command and
/// verdict, approved by a quorum of that hash, and not run already without a
/// `resolve --outcome retry` since (an applied plan whose status was written
/// back to `approved` would run twice). The same check `log --verify` makes
/// of every plan ([`crate::audit`]), over this plan's events only.
fn ledger_agrees(
    tx: &mut dyn Tx,
    plan: &Plan,
    policy: &InForce,
    trust: Option<&Trust>,
) -> std::result::Result<(), Stop> {
    let events = tx.events(&EventFilter {
        plan: Some(plan.id.clone()),
        ..EventFilter::default()
    })?;
    let row = PlanRow {
        id: plan.id.clone(),
        hash: plan.hash.clone(),
        status: plan.status.as_str().to_string(),
        tier: plan.tier.as_str().to_string(),
        approvals_required: plan.approvals_required,
        command: plan.command.clone(),
    };
    // Signed tiers of the policy in force too: a row whose tier was
    // written down is not a way around them.
    let signed = plan.signatures_required;
    let mut audit = Audit::signing(|t| signed || policy.signed(t));
    let checked = events
        .iter()
        .try_for_each(|e| {
            // A signed decision the audit counts must verify: one copied
            // from another event (another attempt) does not.
            if let super::inspect::SignedEvent::Invalid(why) =
                super::inspect::signed_event(e, trust)
            {
                return Err(crate::audit::Disagreement {
                    plan: plan.id.clone(),
                    seq: Some(e.seq),
                    what: format!(
                        "its signed {} by {} does not verify: {why}",
                        e.kind, e.actor
                    ),
                });
            }
            audit.event(e)
        })
        .and_then(|()| audit.plan(&row));
    checked.map_err(|d| {
        refuse(
            plan,
            Error::new(
                Kind::Tampered,
                format!("the state file was altered: {d}; nothing ran"),
            )
            .with_hint("check who can write the state file, and `ladder log --verify`"),
        )
    })
}

/// The first budget this apply would overspend, as a refusal.
fn budget_check(
    tx: &mut dyn Tx,
    plan: &Plan,
    actor: &str,
    budgets: &[Budget],
    now: Millis,
) -> Result<Option<Error>> {
    for b in budgets {
        let applies = b.tiers.contains(&plan.tier)
            && b.rule
                .as_deref()
                .is_none_or(|r| plan.rule.as_deref() == Some(r))
            && b.actor.as_deref().is_none_or(|a| a == actor);
        if !applies {
            continue;
        }
        let window = crate::clock::millis(b.per);
        let (used, oldest) = tx.budget_usage(&BudgetScope {
            tiers: &b.tiers,
            rule: b.rule.as_deref(),
            actor: b.actor.as_deref(),
            since: now - window,
        })?;
        if used >= b.max {
            let frees = oldest.map(|t| t + window).unwrap_or(now);
            return Ok(Some(
                Error::new(
                    Kind::BudgetExceeded,
                    format!(
                        "budget \"{}\" is spent: {used} of {} applies in the last {}",
                        b.name,
                        b.max,
                        crate::duration::short(b.per)
                    ),
                )
                .with_hint(format!(
                    "it frees up {} ({})",
                    crate::clock::relative(frees, now),
                    crate::clock::rfc3339(frees)
                )),
            ));
        }
    }
    Ok(None)
}

/// [`crate::signing::judge`], also under the policy in force's own verdict
/// on the bound command: the tier column is the state file's, which whoever
/// can write the file can lower.
fn judge(plan: &mut Plan, policy: &InForce, trust: Option<&Trust>, verdict: &mut Memo) {
    crate::signing::judge(plan, policy, trust);
    if !plan.signatures_required && policy.signs_any() {
        plan.signatures_required = policy.signed(verdict.of(plan, policy).tier);
    }
}

/// What a tier that needs signatures holds an approved plan to, from the
/// signatures themselves (`approved`, `expires_at` and `retry_allowed` are
/// columns anyone who can write the state file can set):
///
/// - its window ends at most `apply_ttl` after its last signed approval
///   (or signed retry);
/// - a plan that ran before runs again only on a signed
///   `resolve --outcome retry` of its last run.
fn signed_gate(plan: &Plan, policy: &InForce, trust: Option<&Trust>, now: Millis) -> Result<()> {
    // Other states answer with their own codes, in the contract's order.
    if plan.status != Status::Approved || !(plan.signatures_required || policy.signed(plan.tier)) {
        return Ok(());
    }
    // A signed retry opens a fresh window too (its signature is checked
    // below before it counts for anything).
    let retried = plan
        .execution
        .as_ref()
        .and_then(|e| e.resolution.as_ref())
        .filter(|r| r.outcome == crate::model::Outcome::Retry && r.signature.is_some())
        .map(|r| r.at);
    let last_signed = plan
        .approvals
        .iter()
        .filter(|a| a.hash == plan.hash && a.check.is_valid())
        .map(|a| a.at)
        .chain(retried)
        .max();
    let apply_ttl = crate::clock::millis(policy.defaults().apply_ttl);
    if let Some(at) = last_signed.filter(|at| now >= at.saturating_add(apply_ttl)) {
        return Err(Error::new(
            Kind::Expired,
            format!(
                "plan {}'s window to apply ended at {}, apply_ttl after its last signed approval ({})",
                plan.short_id(),
                crate::clock::rfc3339(at.saturating_add(apply_ttl)),
                crate::clock::rfc3339(at)
            ),
        )
        .with_hint("plan it again for fresh approvals"));
    }
    let Some(last) = plan.execution.as_ref() else {
        return Ok(());
    };
    let why = match (&last.resolution, trust) {
        (Some(r), Some(trust)) if r.outcome == crate::model::Outcome::Retry => match &r.signature {
            None => "its retry was not signed".to_string(),
            Some(sig) => {
                let decision = crate::signing::Decision {
                    kind: crate::signing::DecisionKind::Resolve(r.outcome, last.attempt),
                    plan: &plan.id,
                    hash: &plan.hash,
                    principal: &r.actor,
                    at: r.at,
                    policy_sha256: "",
                    note: Some(&r.reason),
                };
                match trust.check(&decision, sig) {
                    crate::model::Check::Valid(_) => return Ok(()),
                    crate::model::Check::Invalid(why) => {
                        format!("its retry's signature does not count: {why}")
                    }
                    crate::model::Check::Unchecked => "its retry was not checked".to_string(),
                }
            }
        },
        _ => "no signed `resolve --outcome retry` allows another run".to_string(),
    };
    Err(Error::new(
        Kind::NotAllowed,
        format!("plan {} ran before: {why}", plan.short_id()),
    )
    .with_hint("a reviewer must resolve it with --outcome retry --sign KEY"))
}

/// Step 3: under the run lock, check again and mark the plan running.
fn start(
    rung: &mut Rung,
    plan: &Plan,
    req: &Request,
    policy: &InForce,
    trust: Option<&Trust>,
    verdict: &mut Memo,
) -> Result<Started> {
    let (now, actor) = (rung.now(), rung.actor.to_string());
    let (key, hash) = (req.key.as_str(), req.hash.as_str());
    let sod = policy.defaults().separation_of_duties;
    super::write_durable(rung, "apply", |tx| {
        expire_due(tx, now)?;
        let Some(fresh) = tx.plan(&plan.id)? else {
            return Err(Stop::Failed(Error::new(
                Kind::NotFound,
                format!("plan {} vanished", plan.short_id()),
            )));
        };
        // The row is read again, so it is vetted again: what runs is what
        // this transaction finds, not what step 1 found. Its content hashes
        // to the hash asked for (`vet`), so it binds what `drift` checked.
        let mut fresh = vet(tx, &fresh, key, hash, policy, verdict, now)?;
        judge(&mut fresh, policy, trust, verdict);
        if let Err(e) = signed_gate(&fresh, policy, trust, now) {
            return Err(refuse(&fresh, e));
        }
        // We hold the run lock ourselves, so a `running` plan here means its
        // previous runner died between our check and now.
        match gate::apply(&fresh, key, hash, now, false, sod) {
            Ok(ApplyGate::Run) => {}
            Ok(ApplyGate::Replay) => {
                replay::admit(tx, now, &actor, &fresh)?;
                return Ok(Started::Replay(Box::new(fresh)));
            }
            Ok(ApplyGate::Interrupted) => {
                mark_interrupted(tx, now, &fresh)?;
                return Err(refuse(&fresh, gate::outcome_unknown(&fresh)));
            }
            Err(e) => return Err(refuse(&fresh, e)),
        }
        ledger_agrees(tx, &fresh, policy, trust)?;
        if let Some(e) = budget_check(tx, &fresh, &actor, policy.budgets(), now)? {
            return Err(refuse(&fresh, e));
        }
        let attempt = tx.execution_count(&fresh.id)? + 1;
        let exec = Execution::started(&fresh, attempt, &actor, now);
        tx.insert_execution(&exec, fresh.tier, fresh.rule.as_deref())?;
        tx.set_status(&fresh.id, Status::Running, None)?;
        tx.append_event(&event(
            now,
            "started",
            &fresh,
            &actor,
            json!({
                "attempt": exec.attempt,
                "hash": fresh.hash,
                "command": crate::text::argv_line(&fresh.command),
                "cwd": fresh.cwd.to_string_lossy(),
                "ladder_pid": std::process::id(),
            }),
        ))?;
        Ok(Started::Running(Box::new(exec)))
    })
}

//! `ladder apply`: the rung with the side effect. Runs the command once,
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

use crate::audit::Audit;
use crate::binding::{self, Binding};
use crate::commands::PlanRef;
use crate::commands::plan::run_dry_run;
use crate::commands::{event, expire_due, record_refusal, replay};
use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::gate::{self, ApplyGate};
use crate::model::Verdict;
use crate::model::{DryRun, Execution, Millis, Plan, PlanRow, Status};
use crate::plan_hash::{self, DryRunDigest, HashInput, sha256_hex};
use crate::policy::{Budget, Evaluation, InForce};
use crate::render;
use crate::runlock;
use crate::runner::{self, StdinMode};
use crate::store::{self, BudgetScope, EventFilter, Tx};
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

/// Run an approved plan's command once and record its outcome
///
/// Checks, in order, and refuses with the first failing code: plan exists; key
/// matches; hash matches; already applied (then replays the recorded outcome
/// instead of running); in flight; interrupted; rejected; expired; denied; then
/// the stored plan must hash to its hash (else tampered) and takes the stricter
/// verdict of the policy in force; approvals short (counted from the approval
/// records); budget; drift (bound environment, program, files, directory and
/// dry-run: else stale). Then runs the bound program by its path (no shell, no
/// PATH lookup) in the planned directory, streams its output while recording
/// it, and exits with its exit code (128+N for signal N).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix [default: the key's live plan]
    pub plan: Option<String>,

    /// The plan's idempotency key
    #[arg(long, required = true)]
    pub key: String,

    /// The plan's hash: what was reviewed is what runs
    #[arg(long, required = true, value_name = "H")]
    pub hash: String,

    /// Wait up to this long for approvals (e.g. 10m) instead of refusing
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,

    /// Kill the command if it runs longer than this (e.g. 30s)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
}

/// What step 3 found under the run lock.
enum Started {
    /// Marked running: go.
    Running(Box<Execution>),
    /// Someone applied it in the meantime.
    Replay(Box<Plan>),
    Refused(Error),
}

enum Decision {
    Run(Box<Plan>),
    Replay(Box<Plan>),
    Wait,
    Refuse(Error),
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let wait = args
        .wait
        .as_deref()
        .map(parse_duration("--wait"))
        .transpose()?;
    let timeout = args
        .timeout
        .as_deref()
        .map(parse_duration("--timeout"))
        .transpose()?;
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(Error::usage("--timeout must be longer than zero"));
    }
    let hash = crate::commands::normalize_hash(&args.hash);
    let deadline = wait.map(|w| Instant::now() + w);
    let policy = ctx.policy()?;
    let mut verdict = Memo::default();

    // Rung checks, polling while approvals are short and --wait allows.
    let mut pause = Duration::from_millis(100);
    let mut told = false;
    let plan = loop {
        let waiting = deadline.is_some_and(|d| Instant::now() < d);
        match check(ctx, &args, &hash, &policy, &mut verdict, waiting)? {
            Decision::Run(p) => break *p,
            Decision::Replay(p) => return replay::emit(ctx, &p, true),
            Decision::Refuse(e) => return Err(e),
            Decision::Wait => {
                if !told && !ctx.json {
                    render::note(format_args!(
                        "ladder: waiting up to {} for approval of key `{}`...",
                        wait.map(crate::duration::short).unwrap_or_default(),
                        args.key
                    ));
                    told = true;
                }
                // No transaction is open while we sleep: reviewers can write.
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    };

    // Drift: the world must still be the one that was reviewed.
    let again = match drift(&plan, &policy) {
        Ok(again) => again,
        Err(e) => {
            let now = ctx.now();
            let actor = ctx.actor.clone();
            store::write(ctx.store()?, |tx| {
                record_refusal(tx, now, &actor, "apply", Some(&plan), None, &e)
            })?;
            return Err(e);
        }
    };
    // The dry-run's output as it came out just now (its digests are the
    // reviewed ones) is what a rule's `dry_run_output` judges under the run
    // lock, not the row's copy: a copy edited in the state file and marked
    // truncated cannot be checked against its digest, and would lower the
    // verdict of the policy in force.
    if let Some(d) = &again {
        verdict.judge(&plan, &policy, Some(&d.stdout));
    }

    // The run lock is taken before the plan is marked running, so nobody
    // can ever see `running` without a live holder unless the holder died.
    let state = ctx.state_path().to_path_buf();
    let Some(lock) = runlock::try_acquire(&state, plan.seq)? else {
        let e = Error::new(
            Kind::InFlight,
            format!(
                "plan {} is being applied right now by another process",
                plan.short_id()
            ),
        );
        let now = ctx.now();
        let actor = ctx.actor.clone();
        store::write(ctx.store()?, |tx| {
            record_refusal(tx, now, &actor, "apply", Some(&plan), None, &e)
        })?;
        return Err(e);
    };
    let exec = match start(ctx, &plan, &args.key, &hash, &policy, &mut verdict)? {
        Started::Running(exec) => *exec,
        Started::Replay(p) => return replay::emit(ctx, &p, true),
        Started::Refused(e) => return Err(e),
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
            tee: !ctx.json,
            // Under `ladder mcp`, stdin is the protocol: a command reading
            // it would swallow the agent's next requests.
            stdin: if ctx.server {
                StdinMode::Null
            } else {
                StdinMode::Inherit
            },
            timeout,
            forward_signals: true,
        },
        &mut |_| {},
    )
    .map_err(|e| Error::new(Kind::Error, format!("failed to run the command: {e}")))?;

    let finished_at = ctx.now().max(exec.started_at);
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
    let actor = ctx.actor.clone();
    store::write(ctx.store()?, |tx| {
        tx.finish_execution(&exec)?;
        tx.set_status(&plan.id, Status::Applied, None)?;
        if plan.retry_allowed {
            tx.set_retry_allowed(&plan.id, false)?;
        }
        tx.append_event(&event(
            finished_at,
            "applied",
            &plan,
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
    })?;
    drop(lock);

    if ctx.json {
        let json = render::execution_json(&exec, false);
        return Ok(render::emit_json_passing(json, outcome.exit_code));
    }
    if outcome.timed_out {
        render::note(format_args!(
            "ladder: plan {} timed out and was killed; exit {} recorded",
            plan.short_id(),
            outcome.exit_code
        ));
    }
    Ok(outcome.exit_code)
}

fn parse_duration(flag: &'static str) -> impl Fn(&str) -> Result<Duration> {
    move |text| crate::duration::parse(text).map_err(|e| Error::usage(format!("{flag}: {e}")))
}

fn find(tx: &mut dyn Tx, args: &Args) -> Result<Plan> {
    // PLAN wins; without it, the key's live plan.
    PlanRef::from_args(args.plan.as_ref(), Some(&args.key))
        .ok_or_else(|| Error::usage("name a plan or pass --key"))?
        .find(tx)
}

/// Step 1: the contract's checks in one write transaction.
fn check(
    ctx: &mut Ctx,
    args: &Args,
    hash: &str,
    policy: &InForce,
    verdict: &mut Memo,
    waiting: bool,
) -> Result<Decision> {
    let now = ctx.now();
    let actor = ctx.actor.clone();
    let state = ctx.state_path().to_path_buf();
    let sod = policy.defaults().separation_of_duties;
    let budgets = policy.budgets();
    // The common case (an approved plan, intact, in its window, no stricter
    // verdict in force, within budget) needs nothing written yet: decide it
    // from a read snapshot. `start` checks again under the write lock
    // before anything runs.
    let ready = store::read(ctx.store()?, |tx| {
        let Ok(plan) = find(tx, args) else {
            return Ok(None);
        };
        let runnable = plan.status == Status::Approved
            && matches!(
                gate::apply(&plan, &args.key, hash, now, false, sod),
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
    store::write(ctx.store()?, |tx| {
        expire_due(tx, now)?;
        let plan = match find(tx, args) {
            Ok(p) => p,
            Err(e) => {
                record_refusal(tx, now, &actor, "apply", None, Some(&args.key), &e)?;
                return Ok(Decision::Refuse(e));
            }
        };
        let plan = match vet(tx, &plan, &args.key, hash, policy, verdict, now)? {
            Ok(p) => p,
            Err(e) => {
                record_refusal(tx, now, &actor, "apply", Some(&plan), None, &e)?;
                return Ok(Decision::Refuse(e));
            }
        };
        let lock_held = plan.status == Status::Running && runlock::is_held(&state, plan.seq)?;
        match gate::apply(&plan, &args.key, hash, now, lock_held, sod) {
            Ok(ApplyGate::Run) => match budget_check(tx, &plan, &actor, budgets, now)? {
                Some(e) => {
                    record_refusal(tx, now, &actor, "apply", Some(&plan), None, &e)?;
                    Ok(Decision::Refuse(e))
                }
                None => Ok(Decision::Run(Box::new(plan))),
            },
            Ok(ApplyGate::Replay) => match replay::admit(tx, now, &actor, "apply", &plan)? {
                Ok(()) => Ok(Decision::Replay(Box::new(plan))),
                Err(e) => Ok(Decision::Refuse(e)),
            },
            Ok(ApplyGate::Interrupted) => {
                mark_interrupted(tx, now, &plan)?;
                let e = gate::outcome_unknown(&plan);
                record_refusal(tx, now, &actor, "apply", Some(&plan), None, &e)?;
                Ok(Decision::Refuse(e))
            }
            Err(e) if e.kind == Kind::NeedsApproval && waiting => Ok(Decision::Wait),
            Err(e) => {
                record_refusal(tx, now, &actor, "apply", Some(&plan), None, &e)?;
                Ok(Decision::Refuse(e))
            }
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
) -> Result<std::result::Result<Plan, Error>> {
    let live = matches!(plan.status, Status::Pending | Status::Approved)
        && plan.key == key
        && plan.hash == hash
        && !gate::is_due(plan, now);
    if !live {
        return Ok(Ok(plan.clone()));
    }
    if let Err(e) = gate::integrity(plan) {
        return Ok(Err(e));
    }
    let Some(up) = gate::escalation(plan, verdict.of(plan, policy), &policy.sha256()) else {
        return Ok(Ok(plan.clone()));
    };
    if plan.policy_sha256 == policy.sha256() {
        // The policy that decided at plan time, on the same bound inputs,
        // cannot give a stricter verdict now: the row's was edited.
        return Ok(Err(Error::new(
            Kind::Tampered,
            format!(
                "plan {} was altered in the state file: its tier or approvals are not what its own policy gives it",
                plan.short_id()
            ),
        )
        .with_hint("nothing ran; check who can write the state file, and plan again")));
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
        super::SYSTEM_ACTOR,
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
            super::SYSTEM_ACTOR,
            json!({ "reason": why }),
        ))?;
    }
    Ok(Ok(raised))
}

/// Whether the ledger, which is append-only where the plan's row is not,
/// agrees that the plan may run now: planned with this hash, command and
/// verdict, approved by a quorum of that hash, and not run already without a
/// `resolve --outcome retry` since (an applied plan whose status was written
/// back to `approved` would run twice). The same check `log --verify` makes
/// of every plan ([`crate::audit`]), over this plan's events only.
fn ledger_agrees(tx: &mut dyn Tx, plan: &Plan) -> Result<std::result::Result<(), Error>> {
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
    let mut audit = Audit::default();
    let checked = events
        .iter()
        .try_for_each(|e| audit.event(e))
        .and_then(|()| audit.plan(&row));
    Ok(checked.map_err(|d| {
        Error::new(
            Kind::Tampered,
            format!("the state file was altered: {d}; nothing ran"),
        )
        .with_hint("check who can write the state file, and `ladder log --verify`")
    }))
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
        super::SYSTEM_ACTOR,
        json!({
            "attempt": started.map(|e| e.attempt),
            "started_at": started.map(|e| crate::clock::rfc3339(e.started_at)),
            "started_by": started.map(|e| e.actor.clone()),
        }),
    ))?;
    Ok(())
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

/// Step 2: the world must be the one that was reviewed. The bound
/// environment, the program, its files and directory (`binding`) and a
/// fresh dry-run must reproduce the plan's hash; the fresh dry-run comes
/// back for the policy in force to judge. A dry-run that now outlives
/// `dry_run_timeout` is `stale`, like one that now exits differently: the
/// plan's preview no longer holds, and what to do is plan again (once the
/// dry-run finishes).
fn drift(plan: &Plan, policy: &InForce) -> Result<Option<DryRun>> {
    let stale = |changed: Vec<String>| {
        Error::new(
            Kind::Stale,
            format!("plan {} is stale: {}", plan.short_id(), changed.join("; ")),
        )
        .with_hint("review the change and plan again with a new key")
    };
    let Some(bound) = &plan.binding else {
        return Err(stale(vec![
            "it was planned by a ladder that did not bind the program, its directory and \
             its loader environment"
                .into(),
        ]));
    };
    let env: BTreeMap<String, Option<String>> = plan
        .env
        .keys()
        .map(|k| {
            (
                k.clone(),
                std::env::var_os(k).map(|v| sha256_hex(v.as_bytes())),
            )
        })
        .collect();
    let mut changed: Vec<String> = env
        .iter()
        .filter(|(k, v)| plan.env.get(*k) != Some(v))
        .map(|(k, _)| format!("${k} changed"))
        .collect();
    // A loader variable that was not set at plan time is not among the
    // bound names (only the set ones are stored): look for new ones.
    changed.extend(
        binding::loader_env_now()
            .into_iter()
            .filter(|(k, _)| !plan.env.contains_key(k))
            .map(|(k, _)| format!("${k} is set now and was not when planned")),
    );
    let now = match std::fs::canonicalize(&plan.cwd) {
        Ok(real) if real != plan.cwd => {
            changed.push(format!(
                "the working directory {} now leads to {}",
                plan.cwd.display(),
                real.display()
            ));
            None
        }
        Ok(_) => match Binding::of(
            &plan.command,
            &plan.cwd,
            std::env::var_os("PATH").as_deref(),
        ) {
            Ok(now) => Some(now),
            Err(e) => {
                changed.push(format!(
                    "the working directory {} cannot be read ({e})",
                    plan.cwd.display()
                ));
                None
            }
        },
        Err(e) => {
            changed.push(format!(
                "the working directory {} is gone ({e})",
                plan.cwd.display()
            ));
            None
        }
    };
    if let Some(now) = &now {
        changed.extend(bound.differences(now));
    }
    let dry = match &plan.dry_run {
        None => None,
        Some(d) => {
            let defaults = policy.defaults();
            let again = match run_dry_run(
                &d.command,
                &plan.cwd,
                defaults.output_cap,
                defaults.dry_run_timeout,
            ) {
                Ok(again) => again,
                // Only a dry-run the time limit killed is refused so.
                Err(e) if e.kind == Kind::DryRunFailed => {
                    return Err(stale(vec![e.message]).with_hint(
                        "find out why the dry-run hangs now, then plan again with a new key",
                    ));
                }
                Err(e) => return Err(e),
            };
            if again.exit_code != d.exit_code {
                changed.push(format!(
                    "the dry-run now exits {} (was {})",
                    again.exit_code, d.exit_code
                ));
            }
            if again.stdout_sha256 != d.stdout_sha256 {
                changed.push("the dry-run's output changed".into());
            }
            if again.stderr_sha256 != d.stderr_sha256 {
                changed.push("the dry-run's error output changed".into());
            }
            Some(again)
        }
    };
    if !changed.is_empty() {
        return Err(stale(changed));
    }
    let hash = plan_hash::digest(&HashInput {
        key: &plan.key,
        argv: &plan.command,
        cwd: &plan.cwd,
        env: &env,
        dry_run: dry.as_ref().map(|d| DryRunDigest {
            argv: &d.command,
            exit_code: d.exit_code,
            stdout_sha256: &d.stdout_sha256,
            stderr_sha256: &d.stderr_sha256,
        }),
        binding: now.as_ref(),
    });
    if hash == plan.hash {
        return Ok(dry);
    }
    Err(stale(vec![
        "the plan's content no longer hashes the same".into(),
    ]))
}

/// Step 3: under the run lock, check again and mark the plan running.
fn start(
    ctx: &mut Ctx,
    plan: &Plan,
    key: &str,
    hash: &str,
    policy: &InForce,
    verdict: &mut Memo,
) -> Result<Started> {
    let now = ctx.now();
    let actor = ctx.actor.clone();
    let sod = policy.defaults().separation_of_duties;
    store::write_durable(ctx.store()?, |tx| {
        expire_due(tx, now)?;
        let Some(fresh) = tx.plan(&plan.id)? else {
            return Err(Error::new(
                Kind::NotFound,
                format!("plan {} vanished", plan.short_id()),
            ));
        };
        // The row is read again, so it is vetted again: what runs is what
        // this transaction finds, not what step 1 found. Its content hashes
        // to the hash asked for (`vet`), so it binds what `drift` checked.
        let fresh = match vet(tx, &fresh, key, hash, policy, verdict, now)? {
            Ok(p) => p,
            Err(e) => {
                record_refusal(tx, now, &actor, "apply", Some(plan), None, &e)?;
                return Ok(Started::Refused(e));
            }
        };
        // We hold the run lock ourselves, so a `running` plan here means its
        // previous runner died between our check and now.
        match gate::apply(&fresh, key, hash, now, false, sod) {
            Ok(ApplyGate::Run) => {}
            Ok(ApplyGate::Replay) => {
                return Ok(match replay::admit(tx, now, &actor, "apply", &fresh)? {
                    Ok(()) => Started::Replay(Box::new(fresh)),
                    Err(e) => Started::Refused(e),
                });
            }
            Ok(ApplyGate::Interrupted) => {
                mark_interrupted(tx, now, &fresh)?;
                let e = gate::outcome_unknown(&fresh);
                record_refusal(tx, now, &actor, "apply", Some(&fresh), None, &e)?;
                return Ok(Started::Refused(e));
            }
            Err(e) => {
                record_refusal(tx, now, &actor, "apply", Some(&fresh), None, &e)?;
                return Ok(Started::Refused(e));
            }
        }
        if let Err(e) = ledger_agrees(tx, &fresh)? {
            record_refusal(tx, now, &actor, "apply", Some(&fresh), None, &e)?;
            return Ok(Started::Refused(e));
        }
        if let Some(e) = budget_check(tx, &fresh, &actor, policy.budgets(), now)? {
            record_refusal(tx, now, &actor, "apply", Some(&fresh), None, &e)?;
            return Ok(Started::Refused(e));
        }
        let exec = Execution {
            plan: fresh.id.clone(),
            key: fresh.key.clone(),
            attempt: tx.execution_count(&fresh.id)? + 1,
            actor: actor.clone(),
            pid: None,
            started_at: now,
            finished_at: None,
            exit_code: None,
            signal: None,
            timed_out: false,
            stdout: vec![],
            stderr: vec![],
            stdout_bytes: 0,
            stderr_bytes: 0,
            stdout_sha256: None,
            stderr_sha256: None,
            truncated: false,
            resolution: None,
        };
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
                "command": render::argv_line(&fresh.command),
                "cwd": fresh.cwd.to_string_lossy(),
                "ladder_pid": std::process::id(),
            }),
        ))?;
        Ok(Started::Running(Box::new(exec)))
    })
}

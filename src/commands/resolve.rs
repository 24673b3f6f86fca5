//! `ladder resolve`: a person settles a plan whose run was interrupted.

use crate::commands::{PlanRef, event, normalize_hash, record_refusal, settle_dead_run};
use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::model::{Outcome, Resolution, Status};
use crate::render;
use crate::store;
use serde_json::json;

/// Settle an interrupted plan: succeeded, failed, or retry (one more apply)
///
/// When ladder dies while a command runs, nobody knows whether it took
/// effect, so ladder refuses to run it again (outcome_unknown) until a person
/// checks and says. `succeeded` and `failed` record the outcome (exit 0 or 1;
/// later applies replay it); `retry` permits exactly one more apply. Name the
/// plan or its key; with --hash, a plan whose hash differs is refused
/// (hash_mismatch).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix (4+ characters)
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub plan: Option<String>,

    /// Resolve the plan of this key instead of naming the plan
    #[arg(long)]
    pub key: Option<String>,

    /// Resolve only if the plan's hash is this one (what you checked)
    #[arg(long, value_name = "H")]
    pub hash: Option<String>,

    /// What happened
    #[arg(long, value_enum)]
    pub outcome: OutcomeArg,

    /// How you know
    #[arg(long, value_name = "T")]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutcomeArg {
    Succeeded,
    Failed,
    Retry,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let target = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref())
        .ok_or_else(|| Error::usage("name the plan to resolve (PLAN or --key)"))?;
    let hash = args.hash.as_deref().map(normalize_hash);
    let reason = args.reason.trim().to_string();
    if reason.is_empty() {
        return Err(Error::usage("--reason must say how the outcome is known"));
    }
    let outcome = match args.outcome {
        OutcomeArg::Succeeded => Outcome::Succeeded,
        OutcomeArg::Failed => Outcome::Failed,
        OutcomeArg::Retry => Outcome::Retry,
    };
    let now = ctx.now();
    let actor = ctx.actor.clone();
    let (apply_ttl, sod) = {
        let policy = ctx.policy()?;
        let d = policy.defaults();
        (d.apply_ttl, d.separation_of_duties)
    };
    let state = ctx.state_path().to_path_buf();
    let plan = store::write(ctx.store()?, |tx| {
        let plan = match target.find(tx) {
            Ok(p) => p,
            Err(e) => {
                record_refusal(tx, now, &actor, "resolve", None, target.key(), &e)?;
                return Ok(Err(e));
            }
        };
        let plan = settle_dead_run(tx, &state, now, plan)?;
        if plan.status == Status::Running {
            let e = Error::new(
                Kind::InFlight,
                format!(
                    "plan {} is still running: nothing to resolve yet",
                    plan.short_id()
                ),
            );
            record_refusal(tx, now, &actor, "resolve", Some(&plan), None, &e)?;
            return Ok(Err(e));
        }
        if plan.status != Status::Interrupted {
            let e = Error::usage(format!(
                "plan {} is {}, not interrupted: there is nothing to resolve",
                plan.short_id(),
                plan.status
            ));
            record_refusal(tx, now, &actor, "resolve", Some(&plan), None, &e)?;
            return Ok(Err(e));
        }
        // As approve and reject: the plan's state answers first, then
        // whether it is the plan the person checked.
        if let Err(e) = crate::gate::check_hash(&plan, hash.as_deref()) {
            record_refusal(tx, now, &actor, "resolve", Some(&plan), None, &e)?;
            return Ok(Err(e));
        }
        // Settling is a person's judgement: under separation of duties, not
        // the planner's, nor the applier's (else an agent could kill its own
        // run and retry it, running the command twice).
        let applier = plan.execution.as_ref().map(|e| e.actor.as_str());
        if sod && (plan.actor == actor || applier == Some(actor.as_str())) {
            let e = Error::new(
                Kind::NotAllowed,
                format!(
                    "{actor} planned or applied {} and may not resolve it (separation of duties)",
                    plan.short_id()
                ),
            )
            .with_hint("ask a reviewer to check what happened and resolve it");
            record_refusal(tx, now, &actor, "resolve", Some(&plan), None, &e)?;
            return Ok(Err(e));
        }
        let resolution = Resolution {
            actor: actor.clone(),
            outcome,
            reason: reason.clone(),
            at: now,
        };
        let attempt = plan.execution.as_ref().map(|e| e.attempt);
        if let Some(a) = attempt {
            let code = match outcome {
                Outcome::Succeeded => Some(0),
                Outcome::Failed => Some(1),
                Outcome::Retry => None,
            };
            tx.resolve_execution(&plan.id, a, &resolution, code)?;
        }
        match outcome {
            Outcome::Retry => {
                let expires = now + crate::clock::millis(apply_ttl);
                tx.set_status(&plan.id, Status::Approved, Some(expires))?;
                tx.set_retry_allowed(&plan.id, true)?;
            }
            _ => tx.set_status(&plan.id, Status::Applied, None)?,
        }
        tx.append_event(&event(
            now,
            "resolved",
            &plan,
            &actor,
            json!({ "outcome": outcome.as_str(), "reason": reason, "attempt": attempt }),
        ))?;
        Ok(Ok(tx.plan(&plan.id)?.unwrap_or(plan)))
    })??;
    if ctx.json {
        render::emit_json(render::plan_json(&plan));
    } else {
        let next = match outcome {
            Outcome::Retry => format!(
                "; one more apply is allowed: `ladder apply {} --key {} --hash {}`",
                plan.short_id(),
                shell_words::quote(&plan.key),
                plan.hash
            ),
            _ => "; later applies of its key replay this outcome".into(),
        };
        render::note(format_args!(
            "ladder: plan {} resolved as {}{next}",
            plan.short_id(),
            outcome.as_str()
        ));
        render::emit(&render::plan_card(
            &plan,
            now,
            render::Paint { on: ctx.color },
        ));
    }
    Ok(())
}

//! `ladder resolve`: a person settles a plan whose run was interrupted.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::model::Outcome;
use crate::render;
use crate::rungs::{self, PlanRef, normalize_hash};

/// Settle an interrupted plan: succeeded, failed, or retry (one more apply)
///
/// When ladder dies while a command runs, nobody knows whether it took
/// effect, so ladder refuses to run it again (outcome_unknown) until a person
/// checks and says. `succeeded` and `failed` record the outcome (exit 0 or 1;
/// later applies replay it); `retry` permits exactly one more apply. Name the
/// plan or its key; with --hash, a plan whose hash differs is refused
/// (hash_mismatch). On a tier with `signed = true`, `retry` needs --sign:
/// it decides that the command runs again.
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

    #[arg(long, value_name = "KEY", help = super::sign::HELP)]
    pub sign: Option<String>,
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
    let policy = ctx.policy()?;
    let (target, hash, signed) = match args.sign.as_deref() {
        None => (target, hash, None),
        Some(key) => {
            let shown = crate::store::read(ctx.store()?, |tx| target.find(tx))?;
            if let Err(e) = crate::gate::check_hash(&shown, hash.as_deref()) {
                let refusal = rungs::refuse(&shown, e);
                return Err(rungs::refused(&mut ctx.rung()?, "resolve", refusal));
            }
            let attempt = shown.execution.as_ref().map_or(0, |e| e.attempt);
            let signed = super::sign::sign(
                ctx,
                "resolve",
                key,
                &shown,
                crate::signing::DecisionKind::Resolve(outcome, attempt),
                Some(&reason),
            )?;
            (
                PlanRef::Id(shown.id.clone()),
                Some(shown.hash.clone()),
                Some(signed),
            )
        }
    };
    let plan = rungs::resolve::resolve(
        &mut ctx.rung()?,
        &policy,
        &target,
        hash.as_deref(),
        outcome,
        &reason,
        signed.as_ref().map(|(s, t)| (s, t)),
    )?;
    let mut plan = plan;
    super::show::judge_for_people(ctx, &mut plan);
    let now = ctx.now();
    if ctx.json {
        render::emit_json(render::plan_json(&plan))?;
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
        ))?;
    }
    Ok(())
}

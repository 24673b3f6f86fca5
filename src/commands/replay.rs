//! `ladder replay`: give a retrying caller the recorded outcome back, byte
//! for byte, without running anything.

use crate::commands::PlanRef;
use crate::commands::{event, record_refusal, settle_dead_run};
use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::gate;
use crate::model::{Millis, Plan, Status};
use crate::render;
use crate::store::{self, Tx};
use serde_json::json;
use std::io::{IsTerminal, Write};

// The flags of `ladder replay`; its help text is on `Command::Replay` in cli.rs.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix (4+ characters)
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub plan: Option<String>,

    /// Replay the outcome recorded under this key
    #[arg(long)]
    pub key: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let now = ctx.now();
    let actor = ctx.actor.clone();
    let state = ctx.state_path().to_path_buf();
    let plan = store::write(ctx.store()?, |tx| {
        let found = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref())
            .ok_or_else(|| Error::usage("name a plan or pass --key"))
            .and_then(|target| target.find(tx));
        let refuse = |tx: &mut dyn Tx, plan: Option<&Plan>, e: Error| -> Result<Result<Plan>> {
            record_refusal(tx, now, &actor, "replay", plan, args.key.as_deref(), &e)?;
            Ok(Err(e))
        };
        let plan = match found {
            Ok(p) => settle_dead_run(tx, &state, now, p)?,
            Err(e) => return refuse(tx, None, e),
        };
        match plan.status {
            Status::Applied => {
                record(tx, now, &actor, &plan)?;
                Ok(Ok(plan))
            }
            Status::Interrupted => refuse(tx, Some(&plan), gate::outcome_unknown(&plan)),
            Status::Running => {
                let e = Error::new(
                    Kind::InFlight,
                    format!(
                        "plan {} is running: there is no outcome to replay yet",
                        plan.short_id()
                    ),
                );
                refuse(tx, Some(&plan), e)
            }
            _ => {
                let e = Error::new(
                    Kind::NotFound,
                    format!(
                        "plan {} ({}) has no recorded execution",
                        plan.short_id(),
                        plan.status
                    ),
                );
                refuse(tx, Some(&plan), e)
            }
        }
    })??;
    // The contract's replay writes the recorded stderr byte for byte: a
    // script capturing it gets exactly that. A person at a terminal is also
    // told where it comes from.
    emit(ctx, &plan, std::io::stderr().is_terminal())
}

/// Logs a `replayed` event for an applied plan.
pub fn record(tx: &mut dyn Tx, now: Millis, actor: &str, plan: &Plan) -> Result<()> {
    let exec = plan.execution.as_ref();
    tx.append_event(&event(
        now,
        "replayed",
        plan,
        actor,
        json!({
            "attempt": exec.map(|e| e.attempt),
            "exit_code": exec.and_then(|e| e.exit_code),
        }),
    ))?;
    Ok(())
}

/// Writes the recorded outcome and returns the exit code to pass through.
/// With `announce`, ladder's own lines on stderr say that this is a replay
/// (and of a settled or truncated record); without, stderr carries the
/// recorded bytes only.
pub fn emit(ctx: &Ctx, plan: &Plan, announce: bool) -> Result<i32> {
    let Some(exec) = &plan.execution else {
        return Err(Error::new(
            Kind::NotFound,
            format!("plan {} has no recorded execution", plan.short_id()),
        ));
    };
    let code = exec.exit_code.unwrap_or(1);
    if ctx.json {
        let json = render::execution_json(exec, true);
        return Ok(render::emit_json_passing(json, code));
    }
    if announce {
        let when = exec
            .finished_at
            .map(|t| crate::clock::relative(t, ctx.now()))
            .unwrap_or_else(|| "by resolve".into());
        render::note(format_args!(
            "ladder: plan {} was already applied ({when}); replaying its recorded outcome, nothing was run",
            plan.short_id()
        ));
        if let Some(r) = &exec.resolution {
            render::note(format_args!(
                "ladder: the outcome was settled by {} as {}: {}",
                r.actor,
                r.outcome.as_str(),
                r.reason
            ));
        }
    }
    // The recorded stderr and the truncation notice are written even when
    // stdout is gone: they are what a reader of stderr needs most.
    let code = render::emit_passing(&exec.stdout, code);
    let _ = std::io::stderr().write_all(&exec.stderr);
    if exec.truncated && announce {
        render::note(format_args!(
            "ladder: the record is truncated: {} stdout and {} stderr bytes were written in all",
            exec.stdout_bytes, exec.stderr_bytes
        ));
    }
    Ok(code)
}

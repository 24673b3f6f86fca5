//! `ladder replay`: give a retrying caller the recorded outcome back, byte
//! for byte, without running anything.

use crate::commands::PlanRef;
use crate::commands::{event, record_refusal, settle_dead_run};
use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::gate;
use crate::model::{Execution, Millis, Plan, Status};
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
            Status::Applied => Ok(admit(tx, now, &actor, "replay", &plan)?.map(|()| plan)),
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

/// Lets a replay of an applied plan go ahead when its record is still the
/// one that was written (see [`check_record`]), logging `replayed`; else
/// logs the refusal and returns it.
pub fn admit(
    tx: &mut dyn Tx,
    now: Millis,
    actor: &str,
    command: &str,
    plan: &Plan,
) -> Result<Result<()>> {
    if let Some(exec) = &plan.execution {
        if let Err(why) = check_record(exec) {
            let e = Error::new(
                Kind::Tampered,
                format!(
                    "the recorded outcome of plan {} was altered in the state file: {why}; nothing is replayed",
                    plan.short_id()
                ),
            );
            record_refusal(tx, now, actor, command, Some(plan), None, &e)?;
            return Ok(Err(e));
        }
    }
    record(tx, now, actor, plan)?;
    Ok(Ok(()))
}

/// Checks a recorded outcome against its own digests and byte counts, which
/// were computed over everything the command wrote. The executions table is
/// not append-only like the ledger, so whoever can write the state file
/// could otherwise hand a retrying caller bytes the command never wrote.
pub fn check_record(exec: &Execution) -> std::result::Result<(), String> {
    check_stream(
        "stdout",
        &exec.stdout,
        exec.stdout_bytes,
        exec.stdout_sha256.as_deref(),
        exec.truncated,
    )?;
    check_stream(
        "stderr",
        &exec.stderr,
        exec.stderr_bytes,
        exec.stderr_sha256.as_deref(),
        exec.truncated,
    )
}

fn check_stream(
    name: &str,
    head: &[u8],
    bytes: u64,
    sha256: Option<&str>,
    truncated: bool,
) -> std::result::Result<(), String> {
    let kept = head.len() as u64;
    if kept > bytes {
        return Err(format!(
            "its {name} holds {kept} bytes, more than the {bytes} the command wrote"
        ));
    }
    let Some(sha256) = sha256 else {
        // A run that never finished (settled by `resolve`) recorded nothing.
        return match bytes {
            0 => Ok(()),
            _ => Err(format!("its {name} has {bytes} bytes but no digest")),
        };
    };
    if kept < bytes {
        // A truncated record keeps only the head of the stream, and the
        // digest covers the whole stream: the head can be checked for its
        // length only, not for its content.
        return match truncated {
            true => Ok(()),
            false => Err(format!(
                "its {name} holds {kept} of {bytes} bytes and is not marked truncated"
            )),
        };
    }
    // The whole stream is here (whether or not the record is marked
    // truncated): its digest must match.
    if crate::plan_hash::sha256_hex(head) != sha256 {
        return Err(format!("its {name} no longer matches its sha256"));
    }
    Ok(())
}

/// Logs a `replayed` event for an applied plan.
fn record(tx: &mut dyn Tx, now: Millis, actor: &str, plan: &Plan) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::check_stream;
    use crate::plan_hash::sha256_hex;

    #[test]
    fn a_whole_stream_must_match_its_digest_and_count() {
        let sha = sha256_hex(b"hello");
        assert_eq!(
            check_stream("stdout", b"hello", 5, Some(&sha), false),
            Ok(())
        );
        assert!(check_stream("stdout", b"hellO", 5, Some(&sha), false).is_err());
        assert!(check_stream("stdout", b"hello", 4, Some(&sha), false).is_err());
        // Marked truncated, but the head is the whole stream: still checked.
        assert!(check_stream("stdout", b"hellO", 5, Some(&sha), true).is_err());
    }

    #[test]
    fn a_truncated_stream_is_checked_for_length_only() {
        let sha = sha256_hex(b"hello world");
        assert_eq!(
            check_stream("stderr", b"hell", 11, Some(&sha), true),
            Ok(())
        );
        assert_eq!(
            check_stream("stderr", b"HELL", 11, Some(&sha), true),
            Ok(())
        );
        assert!(check_stream("stderr", b"hell", 11, Some(&sha), false).is_err());
        assert!(check_stream("stderr", b"hello world!", 11, Some(&sha), true).is_err());
    }

    #[test]
    fn a_run_that_never_finished_recorded_nothing() {
        assert_eq!(check_stream("stdout", b"", 0, None, false), Ok(()));
        assert!(check_stream("stdout", b"x", 1, None, false).is_err());
        assert!(check_stream("stdout", b"", 3, None, true).is_err());
    }
}

//! Replay: a retrying caller gets the recorded outcome back, byte for byte,
//! without anything being run; only once the record is checked against its
//! digests and against the ledger.

use super::{PlanRef, Rung, Stop, event, refuse, refuse_key, settle_dead_run};
use crate::error::{Error, Kind, Result};
use crate::gate;
use crate::model::{Event, Execution, Millis, Plan, Status};
use crate::store::Tx;
use serde_json::{Value, json};

/// The applied plan whose recorded outcome to give back, logged as
/// `replayed`; refused when there is none (yet), or when its record was
/// altered.
pub fn replay(rung: &mut Rung, target: &PlanRef) -> Result<Plan> {
    let (now, actor) = (rung.now(), rung.actor.to_string());
    super::write(rung, "replay", |tx| {
        let plan = match target.find(tx) {
            Ok(p) => settle_dead_run(tx, now, p)?,
            Err(e) => return Err(refuse_key(target.key(), e)),
        };
        match plan.status {
            Status::Applied => {
                admit(tx, now, &actor, &plan)?;
                Ok(plan)
            }
            Status::Interrupted => Err(refuse(&plan, gate::outcome_unknown(&plan))),
            Status::Running => Err(refuse(
                &plan,
                Error::new(
                    Kind::InFlight,
                    format!(
                        "plan {} is running: there is no outcome to replay yet",
                        plan.short_id()
                    ),
                ),
            )),
            _ => Err(refuse(
                &plan,
                Error::new(
                    Kind::NotFound,
                    format!(
                        "plan {} ({}) has no recorded execution",
                        plan.short_id(),
                        plan.status
                    ),
                ),
            )),
        }
    })
}

/// Lets a replay of an applied plan go ahead when its record is still the
/// one that was written (see [`check_record`]), logging `replayed`; else
/// refuses `tampered`.
pub fn admit(
    tx: &mut dyn Tx,
    now: Millis,
    actor: &str,
    plan: &Plan,
) -> std::result::Result<(), Stop> {
    if let Some(exec) = &plan.execution {
        // A settled run's record is vouched for by its `resolved` event, a
        // finished one's by its `applied` event.
        let kind = match exec.resolution {
            Some(_) => "resolved",
            None => "applied",
        };
        let vouched = tx.last_event_of(&plan.id, kind)?;
        let checked =
            check_record(exec).and_then(|()| check_against_ledger(exec, vouched.as_ref()));
        if let Err(why) = checked {
            let e = Error::new(
                Kind::Tampered,
                format!(
                    "the recorded outcome of plan {} was altered in the state file: {why}; nothing is replayed",
                    plan.short_id()
                ),
            );
            return Err(refuse(plan, e));
        }
    }
    record(tx, now, actor, plan)?;
    Ok(())
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

/// Checks a record against the ledger event written with it (`applied`, or
/// `resolved` for a run a person settled). The row's digests and counts can
/// be rewritten together with its bytes; the ledger is append-only, and
/// `log --verify` shows when it is not.
pub fn check_against_ledger(
    exec: &Execution,
    event: Option<&Event>,
) -> std::result::Result<(), String> {
    let Some(event) = event else {
        return Err(format!(
            "no {} event in the ledger records it",
            match exec.resolution {
                Some(_) => "resolved",
                None => "applied",
            }
        ));
    };
    let detail: Value = serde_json::from_str(&event.detail).unwrap_or(Value::Null);
    if detail["attempt"] != json!(exec.attempt) {
        return Err(format!(
            "it is attempt {}, but the ledger's event {} records another",
            exec.attempt, event.seq
        ));
    }
    let expected = match &exec.resolution {
        Some(r) => {
            let code = match r.outcome {
                crate::model::Outcome::Succeeded => Some(0),
                crate::model::Outcome::Failed => Some(1),
                crate::model::Outcome::Retry => None,
            };
            if detail["outcome"] != json!(r.outcome.as_str()) {
                return Err(format!(
                    "its resolution is not the one event {} records",
                    event.seq
                ));
            }
            vec![("exit_code", json!(code), json!(exec.exit_code))]
        }
        None => vec![
            (
                "exit_code",
                detail["exit_code"].clone(),
                json!(exec.exit_code),
            ),
            ("signal", detail["signal"].clone(), json!(exec.signal)),
            (
                "timed_out",
                detail["timed_out"].clone(),
                json!(exec.timed_out),
            ),
            (
                "stdout_bytes",
                detail["stdout_bytes"].clone(),
                json!(exec.stdout_bytes),
            ),
            (
                "stderr_bytes",
                detail["stderr_bytes"].clone(),
                json!(exec.stderr_bytes),
            ),
            (
                "stdout_sha256",
                detail["stdout_sha256"].clone(),
                json!(exec.stdout_sha256),
            ),
            (
                "stderr_sha256",
                detail["stderr_sha256"].clone(),
                json!(exec.stderr_sha256),
            ),
            (
                "truncated",
                detail["truncated"].clone(),
                json!(exec.truncated),
            ),
        ],
    };
    for (field, logged, stored) in expected {
        if logged != stored {
            return Err(format!(
                "its {field} is {stored}, but the ledger's event {} records {logged}",
                event.seq
            ));
        }
    }
    Ok(())
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
        // length only, not for its content. (Whether the record is
        // truncated at all is checked against the ledger.)
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

#[cfg(test)]
mod tests {
    use super::{check_against_ledger, check_stream};
    use crate::model::{Event, Execution, Outcome, Resolution};
    use crate::plan_hash::sha256_hex;
    use serde_json::json;

    fn exec() -> Execution {
        Execution {
            plan: "p".into(),
            key: "k".into(),
            attempt: 1,
            actor: "agent".into(),
            pid: Some(7),
            started_at: 1,
            finished_at: Some(2),
            exit_code: Some(3),
            signal: None,
            timed_out: false,
            stdout: b"out".to_vec(),
            stderr: vec![],
            stdout_bytes: 3,
            stderr_bytes: 0,
            stdout_sha256: Some(sha256_hex(b"out")),
            stderr_sha256: Some(sha256_hex(b"")),
            truncated: false,
            resolution: None,
        }
    }

    fn event(kind: &str, detail: serde_json::Value) -> Event {
        Event {
            seq: 9,
            at: 2,
            kind: kind.into(),
            plan: Some("p".into()),
            key: Some("k".into()),
            actor: "agent".into(),
            detail: detail.to_string(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn applied(e: &Execution) -> Event {
        event(
            "applied",
            json!({
                "attempt": e.attempt, "exit_code": e.exit_code, "signal": e.signal,
                "timed_out": e.timed_out, "stdout_bytes": e.stdout_bytes,
                "stderr_bytes": e.stderr_bytes, "stdout_sha256": e.stdout_sha256,
                "stderr_sha256": e.stderr_sha256, "truncated": e.truncated,
            }),
        )
    }

    #[test]
    fn a_record_must_be_the_one_its_applied_event_logged() {
        let e = exec();
        assert_eq!(check_against_ledger(&e, Some(&applied(&e))), Ok(()));
        assert!(check_against_ledger(&e, None).is_err());
        let logged = applied(&e);
        let mut forged = e.clone();
        forged.stdout = b"evil".to_vec();
        forged.stdout_bytes = 4;
        forged.stdout_sha256 = Some(sha256_hex(b"evil"));
        let why = check_against_ledger(&forged, Some(&logged)).unwrap_err();
        assert!(why.contains("stdout_bytes"), "{why}");
        for change in [
            |x: &mut Execution| x.exit_code = Some(0),
            |x: &mut Execution| x.truncated = true,
            |x: &mut Execution| x.attempt = 2,
            |x: &mut Execution| x.stderr_sha256 = None,
        ] {
            let mut x = e.clone();
            change(&mut x);
            assert!(check_against_ledger(&x, Some(&logged)).is_err(), "{x:?}");
        }
    }

    #[test]
    fn a_settled_record_must_be_the_one_its_resolved_event_logged() {
        let mut e = exec();
        e.exit_code = Some(0);
        e.resolution = Some(Resolution {
            actor: "alice".into(),
            outcome: Outcome::Succeeded,
            reason: "checked".into(),
            at: 3,
            signature: None,
        });
        let resolved = event("resolved", json!({"attempt": 1, "outcome": "succeeded"}));
        assert_eq!(check_against_ledger(&e, Some(&resolved)), Ok(()));
        e.exit_code = Some(1);
        assert!(check_against_ledger(&e, Some(&resolved)).is_err());
        let failed = event("resolved", json!({"attempt": 1, "outcome": "failed"}));
        assert!(check_against_ledger(&e, Some(&failed)).is_err());
    }

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

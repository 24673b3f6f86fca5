//! Between rows and the model: how plans, executions and events are stored
//! in columns, and read back (a value that does not decode is a corrupt
//! state file, never a panic).

use crate::binding::{Binding, BoundFile};
use crate::error::{Error, Kind};
use crate::model::{
    Cancellation, DryRun, Event, Execution, Outcome, Plan, Rejection, Resolution, Signature,
};
use rusqlite::Row;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

pub(super) fn db(e: rusqlite::Error) -> Error {
    let write = matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly));
    if write {
        Error::new(Kind::Error, format!("state file is read-only ({e})"))
            .with_hint("check the file's permissions, or keep state elsewhere")
    } else {
        Error::new(Kind::Error, format!("state database error: {e}"))
    }
}

pub(super) fn encode_argv(argv: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in argv {
        out.extend_from_slice(a.as_bytes());
        out.push(0);
    }
    out
}

pub(super) fn decode_argv(bytes: &[u8]) -> Vec<OsString> {
    let mut parts: Vec<OsString> = bytes
        .split(|b| *b == 0)
        .map(|p| OsString::from_vec(p.to_vec()))
        .collect();
    // Every element is NUL-terminated, so the split leaves one empty tail.
    parts.pop();
    parts
}

pub(super) fn corrupt(what: &str, value: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("corrupt {what}: {value}").into(),
    )
}

pub(super) const PLAN_COLUMNS: &str =
    "seq, id, key, hash, status, tier, rule, approvals_required, command, cwd, env,
    dry_run_command, dry_run_exit, dry_run_stdout, dry_run_stderr, dry_run_stdout_sha256,
    dry_run_stderr_sha256, dry_run_stdout_bytes, dry_run_stderr_bytes, dry_run_truncated,
    dry_run_ok, reason, target, effect, rollback, confidence, actor, created_at, expires_at,
    policy_sha256, decision, retry_allowed, rejected_by, rejected_reason, rejected_at,
    cwd_id, program, program_id, files, escalated_from, rejected_signature,
    rejected_signed_policy, meta, rollback_of, cancelled_by, cancelled_reason, cancelled_at,
    env_shown";

/// The newest plan that rolls back each plan selected, read with it.
pub(super) const ROLLBACK_PLAN: &str = "(SELECT r.id FROM plans r WHERE r.rollback_of = plans.id
    ORDER BY r.seq DESC LIMIT 1) AS rollback_plan";

pub(super) fn plan_from_row(r: &Row) -> rusqlite::Result<Plan> {
    let status: String = r.get("status")?;
    let tier: String = r.get("tier")?;
    let env: String = r.get("env")?;
    let dry_run_ok: String = r.get("dry_run_ok")?;
    let decision: String = r.get("decision")?;
    let dry_cmd: Option<Vec<u8>> = r.get("dry_run_command")?;
    let dry_run = match dry_cmd {
        None => None,
        Some(cmd) => Some(DryRun {
            command: decode_argv(&cmd),
            exit_code: r.get("dry_run_exit")?,
            stdout: r
                .get::<_, Option<Vec<u8>>>("dry_run_stdout")?
                .unwrap_or_default(),
            stderr: r
                .get::<_, Option<Vec<u8>>>("dry_run_stderr")?
                .unwrap_or_default(),
            stdout_sha256: r.get("dry_run_stdout_sha256")?,
            stderr_sha256: r.get("dry_run_stderr_sha256")?,
            stdout_bytes: r.get::<_, i64>("dry_run_stdout_bytes")? as u64,
            stderr_bytes: r.get::<_, i64>("dry_run_stderr_bytes")? as u64,
            truncated: r.get("dry_run_truncated")?,
        }),
    };
    let cwd_id: Option<String> = r.get("cwd_id")?;
    let binding = match cwd_id {
        None => None,
        Some(cwd_id) => Some(Binding {
            program: BoundFile {
                path: path_column(r, "program")?.unwrap_or_default(),
                id: r
                    .get::<_, Option<String>>("program_id")?
                    .unwrap_or_default(),
            },
            files: decode_files(&r.get::<_, Option<Vec<u8>>>("files")?.unwrap_or_default())
                .map_err(|e| corrupt("files", e))?,
            cwd_id,
        }),
    };
    let escalated_from = match r.get::<_, Option<String>>("escalated_from")? {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("escalated_from", e))?),
    };
    let rejected_by: Option<String> = r.get("rejected_by")?;
    let rejection = match rejected_by {
        Some(actor) => Some(Rejection {
            actor,
            reason: r.get("rejected_reason")?,
            at: r.get("rejected_at")?,
            signature: signature(r, "rejected_signature", "rejected_signed_policy")?,
        }),
        None => None,
    };
    let cancellation = match r.get::<_, Option<String>>("cancelled_by")? {
        Some(actor) => Some(Cancellation {
            actor,
            reason: r.get("cancelled_reason")?,
            at: r.get("cancelled_at")?,
        }),
        None => None,
    };
    let meta = crate::meta::from_column(r.get::<_, Option<String>>("meta")?.as_deref())
        .map_err(|e| corrupt("meta", e))?;
    Ok(Plan {
        seq: r.get("seq")?,
        id: r.get("id")?,
        key: r.get("key")?,
        hash: r.get("hash")?,
        status: status.parse().map_err(|e| corrupt("status", e))?,
        tier: tier.parse().map_err(|e| corrupt("tier", e))?,
        rule: r.get("rule")?,
        approvals_required: r.get("approvals_required")?,
        approvals: Vec::new(),
        command: decode_argv(&r.get::<_, Vec<u8>>("command")?),
        cwd: PathBuf::from(OsString::from_vec(r.get::<_, Vec<u8>>("cwd")?)),
        env: serde_json::from_str::<BTreeMap<String, Option<String>>>(&env)
            .map_err(|e| corrupt("env", e))?,
        dry_run,
        dry_run_ok: serde_json::from_str(&dry_run_ok).map_err(|e| corrupt("dry_run_ok", e))?,
        reason: r.get("reason")?,
        target: r.get("target")?,
        effect: r.get("effect")?,
        rollback: r.get("rollback")?,
        confidence: r.get("confidence")?,
        actor: r.get("actor")?,
        created_at: r.get("created_at")?,
        expires_at: r.get("expires_at")?,
        rejection,
        cancellation,
        meta,
        rollback_of: r.get("rollback_of")?,
        env_shown: crate::meta::from_column(r.get::<_, Option<String>>("env_shown")?.as_deref())
            .map_err(|e| corrupt("env_shown", e))?,
        rollback_plan: r.get("rollback_plan")?,
        execution: None,
        policy_sha256: r.get("policy_sha256")?,
        decision: serde_json::from_str(&decision).map_err(|e| corrupt("decision", e))?,
        retry_allowed: r.get("retry_allowed")?,
        binding,
        escalated_from,
        in_force: None,
        signatures_required: false,
    })
}

/// Bound files as stored: each path and identity followed by a NUL byte
/// (a path holds no NUL; an identity is digits and colons).
pub(super) fn encode_files(files: &[BoundFile]) -> Vec<u8> {
    let parts: Vec<OsString> = files
        .iter()
        .flat_map(|f| [f.path.clone().into_os_string(), OsString::from(&f.id)])
        .collect();
    encode_argv(&parts)
}

pub(super) fn decode_files(bytes: &[u8]) -> std::result::Result<Vec<BoundFile>, String> {
    let mut parts = decode_argv(bytes).into_iter();
    let mut out = vec![];
    while let Some(path) = parts.next() {
        let id = parts
            .next()
            .and_then(|id| id.into_string().ok())
            .ok_or("a path without its identity")?;
        out.push(BoundFile {
            path: PathBuf::from(path),
            id,
        });
    }
    Ok(out)
}

/// A decision's signature: the armoured text and the policy digest it
/// signed, both or neither.
pub(super) fn signature(
    r: &Row,
    armored: &str,
    policy: &str,
) -> rusqlite::Result<Option<Signature>> {
    let armored: Option<String> = r.get(armored)?;
    let policy: Option<String> = r.get(policy)?;
    Ok(armored.map(|armored| Signature {
        armored,
        policy_sha256: policy.unwrap_or_default(),
    }))
}

pub(super) fn path_column(r: &Row, name: &str) -> rusqlite::Result<Option<PathBuf>> {
    Ok(r.get::<_, Option<Vec<u8>>>(name)?
        .map(|b| PathBuf::from(OsString::from_vec(b))))
}

pub(super) fn execution_from_row(r: &Row) -> rusqlite::Result<Execution> {
    let resolved_by: Option<String> = r.get("resolved_by")?;
    let resolution = match resolved_by {
        None => None,
        Some(actor) => {
            let outcome: String = r.get("resolved_outcome")?;
            Some(Resolution {
                actor,
                outcome: match outcome.as_str() {
                    "succeeded" => Outcome::Succeeded,
                    "failed" => Outcome::Failed,
                    "retry" => Outcome::Retry,
                    other => return Err(corrupt("resolution", other)),
                },
                reason: r.get("resolved_reason")?,
                at: r.get("resolved_at")?,
                signature: signature(r, "resolved_signature", "resolved_signed_policy")?,
            })
        }
    };
    Ok(Execution {
        plan: r.get("plan")?,
        key: r.get("key")?,
        attempt: r.get("attempt")?,
        actor: r.get("actor")?,
        pid: r.get("pid")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        exit_code: r.get("exit_code")?,
        signal: r.get("signal")?,
        timed_out: r.get("timed_out")?,
        stdout: r.get::<_, Option<Vec<u8>>>("stdout")?.unwrap_or_default(),
        stderr: r.get::<_, Option<Vec<u8>>>("stderr")?.unwrap_or_default(),
        stdout_bytes: r.get::<_, i64>("stdout_bytes")? as u64,
        stderr_bytes: r.get::<_, i64>("stderr_bytes")? as u64,
        stdout_sha256: r.get("stdout_sha256")?,
        stderr_sha256: r.get("stderr_sha256")?,
        truncated: r.get("truncated")?,
        resolution,
    })
}

pub(super) fn event_from_row(r: &Row) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        plan: r.get(3)?,
        key: r.get(4)?,
        actor: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

pub(super) const EVENT_COLUMNS: &str = "seq, at, kind, plan, key, actor, detail, prev_hash, hash";

//! The contract's JSON objects: a plan, an execution record, an event.
//! Field names and shapes are what scripts depend on (`../CONTRACT.md`).

use super::card::suggested_dry_run;
use crate::clock::rfc3339;
use crate::model::{Check, Event, Execution, Millis, Plan, Status};
use crate::text::{argv_base64, argv_line, argv_strings};
use base64::Engine as _;
use serde_json::{Value, json};

/// Recorded bytes as JSON: the text (invalid UTF-8 replaced) and, when the
/// bytes are not UTF-8, the exact bytes in base64 beside it.
fn bytes_fields(obj: &mut serde_json::Map<String, Value>, name: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            obj.insert(name.into(), json!(s));
        }
        Err(_) => {
            obj.insert(name.into(), json!(String::from_utf8_lossy(bytes)));
            obj.insert(
                format!("{name}_base64"),
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
    }
}

/// The version of the JSON ladder prints, in every object it prints (as
/// terraform's `show -json` does): the minor number grows when fields are
/// added, the major one when a field changes meaning or goes.
pub const FORMAT_VERSION: &str = "1.0";

/// `value` with its `format_version`, when it is an object.
pub fn stamped(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("format_version".into(), json!(FORMAT_VERSION));
    }
    value
}

fn time(ms: Option<Millis>) -> Value {
    ms.map(|t| json!(rfc3339(t))).unwrap_or(Value::Null)
}

pub fn execution_json(e: &Execution, replayed: bool) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("plan".into(), json!(e.plan));
    obj.insert("key".into(), json!(e.key));
    obj.insert("attempt".into(), json!(e.attempt));
    obj.insert("actor".into(), json!(e.actor));
    obj.insert("exit_code".into(), json!(e.exit_code));
    obj.insert("signal".into(), json!(e.signal));
    obj.insert("timed_out".into(), json!(e.timed_out));
    obj.insert("started_at".into(), json!(rfc3339(e.started_at)));
    obj.insert("finished_at".into(), time(e.finished_at));
    obj.insert(
        "duration_ms".into(),
        json!(e.finished_at.map(|f| f - e.started_at)),
    );
    bytes_fields(&mut obj, "stdout", &e.stdout);
    bytes_fields(&mut obj, "stderr", &e.stderr);
    obj.insert("stdout_bytes".into(), json!(e.stdout_bytes));
    obj.insert("stderr_bytes".into(), json!(e.stderr_bytes));
    obj.insert("stdout_sha256".into(), json!(e.stdout_sha256));
    obj.insert("stderr_sha256".into(), json!(e.stderr_sha256));
    obj.insert("truncated".into(), json!(e.truncated));
    obj.insert("replayed".into(), json!(replayed));
    obj.insert(
        "resolution".into(),
        match &e.resolution {
            None => Value::Null,
            Some(r) => json!({
                "actor": r.actor,
                "outcome": r.outcome.as_str(),
                "signed": r.signature.is_some(),
                "reason": r.reason,
                "at": rfc3339(r.at),
            }),
        },
    );
    Value::Object(obj)
}

pub fn plan_json(p: &Plan) -> Value {
    let dry_run = match &p.dry_run {
        None => Value::Null,
        Some(d) => {
            let mut obj = serde_json::Map::new();
            obj.insert("command".into(), json!(argv_strings(&d.command)));
            obj.insert("exit_code".into(), json!(d.exit_code));
            bytes_fields(&mut obj, "stdout", &d.stdout);
            bytes_fields(&mut obj, "stderr", &d.stderr);
            obj.insert("stdout_bytes".into(), json!(d.stdout_bytes));
            obj.insert("stderr_bytes".into(), json!(d.stderr_bytes));
            obj.insert("stdout_sha256".into(), json!(d.stdout_sha256));
            obj.insert("stderr_sha256".into(), json!(d.stderr_sha256));
            obj.insert("truncated".into(), json!(d.truncated));
            Value::Object(obj)
        }
    };
    let env_shown: std::collections::BTreeMap<&str, &str> = p
        .env_shown
        .keys()
        .filter_map(|k| Some((k.as_str(), p.shown_value(k)?)))
        .collect();
    let mut plan = json!({
        "id": p.id,
        "key": p.key,
        "hash": p.hash,
        "status": p.status.as_str(),
        "tier": p.tier.as_str(),
        "rule": p.rule,
        "approvals_required": p.approvals_required,
        "approvals_missing": if p.status == Status::Pending { p.approvals_missing() } else { 0 },
        "approvals": p.approvals.iter().map(|a| json!({
            "actor": a.actor,
            "at": rfc3339(a.at),
            "comment": a.comment,
            "hash": a.hash,
            "signed": a.signature.is_some(),
            "signature": a.signature.as_ref().map(|s| &s.armored),
            "signature_kind": a.signature.as_ref().map(|_| "ssh"),
            "signature_valid": match &a.check {
                Check::Unchecked => None,
                Check::Valid(_) => Some(true),
                Check::Invalid(_) => Some(false),
            },
            "signer_key": match &a.check {
                Check::Valid(fingerprint) => Some(fingerprint.as_str()),
                _ => None,
            },
            "signature_problem": match &a.check {
                Check::Invalid(why) => Some(why.as_str()),
                _ => None,
            },
        })).collect::<Vec<_>>(),
        "signatures_required": p.signatures_required,
        "command": argv_strings(&p.command),
        "command_base64": argv_base64(&p.command),
        "cwd": p.cwd.to_string_lossy(),
        "env": p.env,
        "dry_run": dry_run,
        "dry_run_ok": p.dry_run_ok,
        "reason": p.reason,
        "target": p.target,
        "effect": p.effect,
        "rollback": p.rollback,
        "confidence": p.confidence,
        "actor": p.actor,
        "created_at": rfc3339(p.created_at),
        "expires_at": time(p.expires_at),
        "rejection": p.rejection.as_ref().map(|r| json!({
            "actor": r.actor,
            "signed": r.signature.is_some(),
            "reason": r.reason,
            "at": rfc3339(r.at),
        })),
        "cancellation": p.cancellation.as_ref().map(|c| json!({
            "actor": c.actor,
            "reason": c.reason,
            "at": rfc3339(c.at),
        })),
        "execution": p.execution.as_ref().map(|e| execution_json(e, false)),
        "meta": p.meta,
        "rollback_of": p.rollback_of,
        "rollback_plan": p.rollback_plan,
        "decision": p.decision,
        "policy_sha256": p.policy_sha256,
        "retry_allowed": p.retry_allowed,
        "hash_version": if p.binding.is_some() { 2 } else { 1 },
        "program": p.binding.as_ref().map(|b| b.program.path.to_string_lossy()),
        "program_id": p.binding.as_ref().map(|b| &b.program.id),
        "files": p.binding.as_ref().map(|b| b.files.iter().map(|f| json!({
            "path": f.path.to_string_lossy(),
            "id": f.id,
        })).collect::<Vec<_>>()),
        "cwd_id": p.binding.as_ref().map(|b| &b.cwd_id),
        "escalated_from": p.escalated_from,
        "in_force": p.in_force,
        "suggested_dry_run": suggested_dry_run(p).map(|argv| argv_line(&argv)),
    });
    // Beside `env` (the macro's recursion limit ends the object above).
    plan["env_shown"] = json!(env_shown);
    plan
}

pub fn event_json(e: &Event) -> Value {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::String(e.detail.clone()));
    json!({
        "seq": e.seq,
        "at": rfc3339(e.at),
        "kind": e.kind,
        "plan": e.plan,
        "key": e.key,
        "actor": e.actor,
        "detail": detail,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_output_keeps_exact_bytes_in_base64() {
        let mut obj = serde_json::Map::new();
        bytes_fields(&mut obj, "stdout", &[0x66, 0xff]);
        assert_eq!(obj["stdout"], json!("f\u{fffd}"));
        assert_eq!(obj["stdout_base64"], json!("Zv8="));
        let mut obj = serde_json::Map::new();
        bytes_fields(&mut obj, "stdout", b"ok");
        assert!(!obj.contains_key("stdout_base64"));
    }
}

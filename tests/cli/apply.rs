//! `ladder apply`: each check in the contract's order (plan and key, hash,
//! status, windows, approvals, budget, drift), then how the command runs (once,
//! streamed or captured, without a shell, under a timeout).

use crate::harness::{
    Run, STRICT_POLICY, T0, TestEnv, apply_args, assert_human_error, assert_refused, count, hash,
    id, last_event, marker_plan, state_rows, strict, strict_at,
};

#[test]
fn apply_with_no_such_plan_or_key_is_not_found() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "nf", &[]);
    t.approve("alice", &plan);
    let r = t.json(
        "agent",
        &["apply", "--key", "no-such-key", "--hash", hash(&plan)],
    );
    assert_refused(&r, 3, "not_found");
    let ev = last_event(&t);
    assert_eq!(ev["kind"], "refused");
    assert_eq!(ev["key"], "no-such-key");
    let r = t.json(
        "agent",
        &["apply", "ffffffff", "--key", "nf", "--hash", hash(&plan)],
    );
    assert_refused(&r, 3, "not_found");
    assert!(!mark.exists());
}

#[test]
fn apply_with_a_plan_and_a_key_that_is_not_its_key_is_key_conflict() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "mine", &[]);
    let (_other, _) = marker_plan(&t, "agent", "theirs", &[]);
    t.approve("alice", &plan);
    let r = t.json(
        "agent",
        &["apply", id(&plan), "--key", "theirs", "--hash", hash(&plan)],
    );
    assert_refused(&r, 15, "key_conflict");
    assert!(!mark.exists());
    // The plan named by id, with its own key, runs.
    let r = t.json(
        "agent",
        &[
            "apply",
            &id(&plan)[..8],
            "--key",
            "mine",
            "--hash",
            hash(&plan),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert!(mark.exists());
}

#[test]
fn apply_with_the_wrong_hash_is_hash_mismatch_and_runs_nothing() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "hm", &[]);
    t.approve("alice", &plan);
    let snap = state_rows(&t);
    let r = t.json(
        "agent",
        &["apply", "--key", "hm", "--hash", &"b".repeat(64)],
    );
    assert_refused(&r, 13, "hash_mismatch");
    assert_eq!(state_rows(&t), snap);
    assert_eq!(last_event(&t)["kind"], "refused");
    assert_eq!(last_event(&t)["detail"]["code"], "hash_mismatch");
    assert!(!mark.exists());
    assert_human_error(
        &t.run(
            "agent",
            &["apply", "--key", "hm", "--hash", &"b".repeat(64)],
        ),
        13,
    );
    assert_eq!(t.apply("agent", &plan).code, 0);
    assert!(mark.exists());
}

#[test]
fn apply_checks_run_in_the_contract_order() {
    let t = strict();
    // key before hash before status: a rejected plan with a wrong hash is 13.
    let rejected = t.plan("agent", "o1", &[], &["echo", "1"]);
    assert_eq!(
        t.json("bob", &["reject", id(&rejected), "--reason", "no"])
            .code,
        0
    );
    let r = t.json(
        "agent",
        &["apply", id(&rejected), "--key", "zz", "--hash", "00"],
    );
    assert_refused(&r, 15, "key_conflict");
    let r = t.json("agent", &["apply", "--key", "o1", "--hash", "00"]);
    assert_refused(&r, 13, "hash_mismatch");
    assert_refused(&t.apply_json("agent", &rejected), 11, "rejected");

    // Already applied: replay (the recorded outcome, nothing runs).
    let applied = t.plan("agent", "o2", &[], &["echo", "2"]);
    t.approve("alice", &applied);
    assert_eq!(t.apply("agent", &applied).code, 0);
    let r = t.apply_json("agent", &applied);
    assert_eq!(r.code, 0);
    assert_eq!(r.json()["replayed"], true);
    // ...but the hash is still checked before replaying.
    let r = t.json(
        "agent",
        &["apply", "--key", "o2", "--hash", &"c".repeat(64)],
    );
    assert_refused(&r, 13, "hash_mismatch");
}

#[test]
fn apply_after_the_approval_window_is_expired() {
    let mut t = strict_at(T0);
    let (plan, mark) = marker_plan(&t, "agent", "exp", &[]);
    assert_eq!(plan["expires_at"], "2026-01-01T01:00:00.000Z");
    t.at("2026-01-01T01:00:01Z");
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 12, "expired");
    assert!(!mark.exists());
    assert_eq!(t.show(&plan)["status"], "expired");
    assert_eq!(t.event_kinds(), ["planned", "expired", "refused"]);
    let r = t.apply("agent", &plan);
    assert_human_error(&r, 12);
}

#[test]
fn apply_after_the_apply_window_is_expired() {
    let mut t = strict_at(T0);
    let (plan, mark) = marker_plan(&t, "agent", "exp2", &[]);
    t.at("2026-01-01T00:30:00Z");
    let approved = t.approve("alice", &plan).json();
    assert_eq!(
        approved["expires_at"], "2026-01-02T00:30:00.000Z",
        "apply_ttl 24h"
    );
    t.at("2026-01-02T00:29:59Z");
    assert_eq!(t.show(&plan)["status"], "approved");
    t.at("2026-01-02T00:30:01Z");
    assert_refused(&t.apply_json("agent", &plan), 12, "expired");
    assert!(!mark.exists());
    assert_eq!(t.show(&plan)["status"], "expired");
}

#[test]
fn apply_short_of_approvals_is_needs_approval_and_wait_polls() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "wait", &[]);
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 10, "needs_approval");
    assert!(!mark.exists());
    assert_eq!(t.event_kinds(), ["planned", "refused"]);

    // --wait gives up with needs_approval when nobody answers in time.
    let started = std::time::Instant::now();
    let r = t.json(
        "agent",
        &[apply_args(&plan), vec!["--wait", "250ms"]].concat(),
    );
    assert_refused(&r, 10, "needs_approval");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    assert!(!mark.exists());

    // --wait proceeds once a reviewer approves meanwhile.
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            t.json(
                "agent",
                &[apply_args(&plan), vec!["--wait", "10s"]].concat(),
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert_eq!(t.approve("alice", &plan).code, 0);
        let r = waiter.join().unwrap();
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        assert_eq!(r.json()["replayed"], false);
    });
    assert!(mark.exists());
}

#[test]
fn apply_wait_stops_when_the_plan_expires() {
    let mut t = TestEnv::new();
    t.with_policy(&STRICT_POLICY.replace("approval_ttl = \"1h\"", "approval_ttl = \"300ms\""));
    let (plan, mark) = marker_plan(&t, "agent", "wait-exp", &[]);
    let started = std::time::Instant::now();
    let r = t.json(
        "agent",
        &[apply_args(&plan), vec!["--wait", "10s"]].concat(),
    );
    assert_refused(&r, 12, "expired");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(!mark.exists());
}

#[test]
fn apply_streams_output_while_the_command_runs() {
    use std::io::BufRead;
    let t = strict();
    let plan = t.plan(
        "agent",
        "stream",
        &[],
        &["sh", "-c", "echo first; sleep 0.3; echo second"],
    );
    t.approve("alice", &plan);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ladder"))
        .env_clear()
        .current_dir(t.work())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", t.path().join("home"))
        .env("LADDER_STATE", t.state())
        .env("LADDER_POLICY", t.policy.as_ref().unwrap())
        .env("LADDER_ACTOR", "agent")
        .args(apply_args(&plan))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let first_at = std::time::Instant::now();
    assert_eq!(line, "first\n");
    line.clear();
    out.read_line(&mut line).unwrap();
    let gap = first_at.elapsed();
    assert_eq!(line, "second\n");
    assert!(child.wait().unwrap().success());
    // Buffered until the end, both lines would arrive together.
    assert!(
        gap >= std::time::Duration::from_millis(150),
        "the lines arrived {gap:?} apart: not streamed"
    );
    // ...and recorded.
    assert_eq!(t.show(&plan)["execution"]["stdout"], "first\nsecond\n");
}

#[test]
fn apply_wait_stops_when_the_plan_is_rejected() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "wait-rej", &[]);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            t.json(
                "agent",
                &[apply_args(&plan), vec!["--wait", "10s"]].concat(),
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert_eq!(
            t.json("bob", &["reject", id(&plan), "--reason", "no"]).code,
            0
        );
        let r = waiter.join().unwrap();
        assert_refused(&r, 11, "rejected");
    });
    assert!(!mark.exists());
}

#[test]
fn apply_beyond_a_budget_is_budget_exceeded_until_the_window_frees() {
    let mut t = TestEnv::new();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[[budgets]]\nname = \"b\"\ntiers = [\"irreversible\"]\nmax = 1\nper = \"1h\"\n"
    ));
    t.at(T0);
    let (first, m1) = marker_plan(&t, "agent", "b1", &[]);
    let (second, m2) = marker_plan(&t, "agent", "b2", &[]);
    t.approve("alice", &first);
    t.approve("alice", &second);
    assert_eq!(t.apply("agent", &first).code, 0);
    assert!(m1.exists());

    t.at("2026-01-01T00:59:00Z");
    let snap = state_rows(&t);
    let r = t.apply_json("agent", &second);
    assert_refused(&r, 19, "budget_exceeded");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"b\"")
    );
    assert_eq!(state_rows(&t), snap);
    assert_eq!(last_event(&t)["detail"]["code"], "budget_exceeded");
    assert!(!m2.exists());
    assert_eq!(
        t.show(&second)["status"],
        "approved",
        "still appliable later"
    );

    // A read_only command is outside this budget.
    let ro = t.plan("agent", "ro", &[], &["ls"]);
    assert_eq!(t.apply("agent", &ro).code, 0);

    t.at("2026-01-01T01:00:01Z");
    assert_eq!(t.apply("agent", &second).code, 0);
    assert!(m2.exists());
}

#[test]
fn apply_checks_approvals_then_budget_then_drift() {
    let mut t = TestEnv::new();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[[budgets]]\nname = \"b\"\ntiers = [\"irreversible\"]\nmax = 1\nper = \"1h\"\n"
    ));
    t.env("BOUND", "v1");
    let spend = t.plan("agent", "spend", &[], &["echo", "spend"]);
    t.approve("alice", &spend);
    assert_eq!(t.apply("agent", &spend).code, 0);

    let (plan, mark) = marker_plan(&t, "agent", "ordered", &["--env", "BOUND"]);
    let apply_drifted = || {
        let out = t
            .cmd("agent")
            .env("BOUND", "v2")
            .arg("--json")
            .args(apply_args(&plan))
            .output()
            .unwrap();
        Run::from(out)
    };
    // Pending, budget spent, drifted: approvals first.
    assert_refused(&apply_drifted(), 10, "needs_approval");
    t.approve("alice", &plan);
    // Approved, budget spent, drifted: budget before drift.
    assert_refused(&apply_drifted(), 19, "budget_exceeded");
    assert!(!mark.exists());
}

#[test]
fn concurrent_applies_run_the_command_once() {
    let t = strict();
    let counter = t.path().join("count");
    let script = format!("echo x >> '{}'; sleep 0.2", counter.display());
    let plan = t.plan("agent", "race", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    let codes: Vec<i32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| t.apply_json("agent", &plan)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().code)
            .collect()
    });
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "x\n",
        "codes {codes:?}"
    );
    assert!(codes.iter().all(|c| *c == 0 || *c == 16), "{codes:?}");
    assert!(codes.contains(&0), "{codes:?}");
    assert_eq!(count(&t.event_kinds(), "started"), 1);
}

#[test]
fn apply_reruns_the_dry_run_in_the_planned_directory_from_anywhere() {
    let t = strict();
    std::fs::write(t.work().join("desired.txt"), "v1\n").unwrap();
    let (plan, mark) = marker_plan(&t, "agent", "elsewhere", &["--dry-run", "cat desired.txt"]);
    t.approve("alice", &plan);
    let out = t
        .cmd("agent")
        .current_dir(t.path())
        .arg("--json")
        .args(apply_args(&plan))
        .output()
        .unwrap();
    let r = Run::from(out);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert!(mark.exists());
}

#[test]
fn apply_after_a_bound_variable_changed_is_stale() {
    let mut t = strict();
    t.env("TARGET_DB", "staging");
    let (plan, mark) = marker_plan(&t, "agent", "drift-env", &["--env", "TARGET_DB"]);
    t.approve("alice", &plan);

    let out = t
        .cmd("agent")
        .env("TARGET_DB", "production")
        .arg("--json")
        .args(apply_args(&plan))
        .output()
        .unwrap();
    let r = Run::from(out);
    assert_refused(&r, 14, "stale");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TARGET_DB")
    );
    assert!(!mark.exists());
    assert_eq!(last_event(&t)["detail"]["code"], "stale");
    assert_eq!(t.show(&plan)["status"], "approved");

    // Unset counts as changed, too.
    let out = t
        .cmd("agent")
        .env_remove("TARGET_DB")
        .arg("--json")
        .args(apply_args(&plan))
        .output()
        .unwrap();
    assert_refused(&Run::from(out), 14, "stale");
    assert!(!mark.exists());

    // The world as reviewed: it runs.
    assert_eq!(t.apply("agent", &plan).code, 0);
    assert!(mark.exists());
}

#[test]
fn apply_after_the_dry_run_output_changed_is_stale() {
    let t = strict();
    let file = t.work().join("desired.txt");
    std::fs::write(&file, "replicas: 3\n").unwrap();
    let (plan, mark) = marker_plan(&t, "agent", "drift-dry", &["--dry-run", "cat desired.txt"]);
    t.approve("alice", &plan);
    std::fs::write(&file, "replicas: 30\n").unwrap();
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 14, "stale");
    assert!(!mark.exists());
    let r = t.apply("agent", &plan);
    assert_human_error(&r, 14);

    std::fs::write(&file, "replicas: 3\n").unwrap();
    assert_eq!(t.apply("agent", &plan).code, 0);
    assert!(mark.exists());
}

#[test]
fn json_apply_captures_instead_of_streaming_and_the_default_cap_is_1_mib() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "cap",
        &[],
        &["sh", "-c", "head -c 1048577 /dev/zero; echo oops >&2"],
    );
    t.approve("alice", &plan);
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "nothing streamed: {:?}", r.stderr);
    let e = r.json();
    assert_eq!(e["stderr"], "oops\n");
    assert_eq!(e["stdout_bytes"], 1_048_577);
    assert_eq!(e["truncated"], true);
    assert_eq!(e["stdout"].as_str().unwrap().len(), 1_048_576);

    let exact = t.plan(
        "agent",
        "cap2",
        &[],
        &["head", "-c", "1048576", "/dev/zero"],
    );
    t.approve("alice", &exact);
    let e = t.apply_json("agent", &exact).json();
    assert_eq!(e["stdout_bytes"], 1_048_576);
    assert_eq!(e["truncated"], false);
}

#[test]
fn apply_runs_the_program_directly_without_a_shell() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "noshell",
        &[],
        &["echo", "$HOME", "*", ";", "|", "x"],
    );
    t.approve("alice", &plan);
    let r = t.apply("agent", &plan);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, b"$HOME * ; | x\n");
}

#[test]
fn apply_timeout_kills_the_command() {
    let t = strict();
    let plan = t.plan("agent", "slow", &[], &["sleep", "5"]);
    t.approve("alice", &plan);
    let started = std::time::Instant::now();
    let r = t.json(
        "agent",
        &[apply_args(&plan), vec!["--timeout", "200ms"]].concat(),
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_ne!(r.code, 0, "{}", r.stdout_str());
    let e = r.json();
    assert!(e["exit_code"].as_i64().unwrap() != 0, "{e}");
    assert_eq!(t.show(&plan)["status"], "applied");
}

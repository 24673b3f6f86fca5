//! Refusals as the contract spells them: for people, one `ladder: ` line on
//! stderr and nothing on stdout; for scripts (`--json`), one error object on
//! stdout. Each has its exit code and records one `refused` event that changes
//! nothing else.

use crate::harness::{
    Run, STRICT_POLICY, T0, TestEnv, apply_args, assert_human_error, assert_refused, id,
    last_event, seq_of, state_rows, strict,
};
use serde_json::Value;

#[test]
fn human_errors_are_one_line_on_stderr_and_nothing_on_stdout() {
    let t = strict();
    let plan = t.plan("agent", "h", &[], &["echo", "h"]);

    // not_found
    assert_human_error(&t.run("agent", &["show", "ffffffff"]), 3);
    // usage (clap)
    assert_human_error(&t.run("agent", &["plan", "--no-such-flag", "--", "ls"]), 2);
    // needs_approval
    assert_human_error(&t.apply("agent", &plan), 10);
    // key_conflict
    assert_human_error(
        &t.run("agent", &["plan", "--key", "h", "--", "echo", "other"]),
        15,
    );
    // hash_mismatch
    assert_human_error(
        &t.run("agent", &["apply", "--key", "h", "--hash", &"0".repeat(64)]),
        13,
    );
    // not_allowed
    assert_human_error(&t.run("agent", &["approve", id(&plan), "--yes"]), 22);
}

#[test]
fn json_errors_are_one_object_on_stdout_with_code_and_message() {
    let t = strict();
    let plan = t.plan("agent", "j", &[], &["echo", "j"]);
    let cases: [(&[&str], i32, &str); 5] = [
        (&["show", "ffffffff"], 3, "not_found"),
        (&apply_args(&plan), 10, "needs_approval"),
        (
            &["apply", "--key", "j", "--hash", "00"],
            13,
            "hash_mismatch",
        ),
        (
            &["plan", "--key", "j", "--", "echo", "k"],
            15,
            "key_conflict",
        ),
        (&["approve", id(&plan), "--yes"], 22, "not_allowed"),
    ];
    for (args, code, name) in cases {
        let r = t.json("agent", args);
        assert_refused(&r, code, name);
        assert!(
            r.stderr.is_empty(),
            "{args:?}: with --json the error is on stdout only: {}",
            r.stderr
        );
    }
}

#[test]
fn bad_flags_are_usage_errors_and_json_shapes_them() {
    let t = strict();
    let cases: &[&[&str]] = &[
        &["plan", "--no-such-flag", "--", "ls"],
        &["plan", "--key", "k"],     // no command
        &["apply", "--hash", "abc"], // no --key
        &["apply", "--key", "k"],    // no --hash
        &["reject", "abcd1234"],     // no --reason
        &["resolve", "abcd1234", "--outcome", "maybe", "--reason", "x"],
        &["log", "--limit", "lots"],
        &["completions", "no-such-shell"],
        &["frobnicate"],
    ];
    // --json anywhere before `--` shapes the error.
    assert_refused(
        &t.run("agent", &["plan", "--bogus", "--json", "--", "ls"]),
        2,
        "usage",
    );
    assert_refused(&t.run("agent", &["--json"]), 2, "usage");
    for args in cases {
        let r = t.run("agent", args);
        assert_human_error(&r, 2);
        let r = t.json("agent", args);
        assert_refused(&r, 2, "usage");
    }
    // Values ladder itself validates.
    for args in [
        &["plan", "--confidence", "1.5", "--", "ls"][..],
        &["plan", "--key", "", "--", "ls"],
        &["plan", "--env", "A=B", "--", "ls"],
        &["plan", "--dry-run", "echo 'unterminated", "--", "ls"],
        &["apply", "--key", "k", "--hash", "h", "--wait", "soon"],
        &["apply", "--key", "k", "--hash", "h", "--timeout", "10"],
        &["log", "--since", "yesterday-ish"],
        &["list", "--status", "sleeping"],
    ] {
        assert_refused(&t.json("agent", args), 2, "usage");
    }
    // None of this planned anything.
    assert!(t.events().iter().all(|e| e["kind"] != "planned"));
}

#[test]
fn every_refusal_records_one_refused_event_and_changes_nothing_else() {
    let mut t = TestEnv::new();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[[budgets]]\nname = \"b\"\ntiers = [\"critical\"]\nmax = 1\nper = \"1h\"\n"
    ));
    t.at(T0);
    t.env("BOUND", "v1");
    // Approved at T0, its apply window (24h) has passed by the time of the cases.
    let expired = t.plan("agent", "expired", &[], &["echo", "e"]);
    t.approve("alice", &expired);
    t.at("2026-01-02T00:00:01Z");
    t.json("viewer", &["list"]); // the expiry itself is not part of any refusal
    assert_eq!(t.show(&expired)["status"], "expired");

    let pending = t.plan("agent", "pending", &[], &["echo", "p"]);
    let rejected = t.plan("agent", "rejected", &[], &["echo", "r"]);
    t.json("bob", &["reject", id(&rejected), "--reason", "no"]);
    let denied = t
        .json(
            "agent",
            &["plan", "--key", "denied", "--", "forbidden-thing"],
        )
        .json()["plan"]
        .clone();
    let bound = t.plan("agent", "bound", &["--env", "BOUND"], &["echo", "b"]);
    t.approve("alice", &bound);
    let spent = t.plan("agent", "spent", &[], &["deploy-prod", "1"]);
    let over = t.plan("agent", "over", &[], &["deploy-prod", "2"]);
    for p in [&spent, &over] {
        t.approve("alice", p);
        t.approve("bob", p);
    }
    // deploy-prod does not exist: it "runs" with 127, which spends the budget.
    t.apply("agent", &spent);
    let locked = t.plan("agent", "locked", &[], &["echo", "l"]);
    t.approve("alice", &locked);
    let _lock = ladder::store::sqlite::runlock::try_acquire(&t.state(), seq_of(&t, &locked))
        .unwrap()
        .expect("free");

    let owned = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
    let apply = |p: &Value| owned(&apply_args(p));
    let cases: Vec<(Vec<String>, &str, i32, &str)> = vec![
        (
            owned(&["apply", "--key", "nobody", "--hash", "00"]),
            "agent",
            3,
            "not_found",
        ),
        (apply(&pending), "agent", 10, "needs_approval"),
        (apply(&rejected), "agent", 11, "rejected"),
        (apply(&expired), "agent", 12, "expired"),
        (
            owned(&["apply", "--key", "pending", "--hash", "00"]),
            "agent",
            13,
            "hash_mismatch",
        ),
        (
            owned(&["plan", "--key", "pending", "--", "echo", "other"]),
            "agent",
            15,
            "key_conflict",
        ),
        (apply(&locked), "agent", 16, "in_flight"),
        (apply(&denied), "agent", 18, "denied"),
        (apply(&over), "agent", 19, "budget_exceeded"),
        (
            owned(&[
                "plan",
                "--key",
                "dry",
                "--dry-run",
                "false",
                "--",
                "echo",
                "d",
            ]),
            "agent",
            20,
            "dry_run_failed",
        ),
        (
            owned(&["approve", id(&pending), "--yes"]),
            "agent",
            22,
            "not_allowed",
        ),
        (
            owned(&["approve", id(&rejected), "--yes"]),
            "alice",
            11,
            "rejected",
        ),
        (
            owned(&["replay", "--key", "pending"]),
            "agent",
            3,
            "not_found",
        ),
    ];
    for (args, actor, code, name) in cases {
        let before = state_rows(&t);
        let n = t.events().len();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&t.json(actor, &args), code, name);
        assert_eq!(
            state_rows(&t),
            before,
            "{name}: a refusal changes nothing but the ledger"
        );
        let events = t.events();
        assert_eq!(events.len(), n + 1, "{name}: exactly one event");
        let ev = events.last().unwrap();
        assert_eq!(ev["kind"], "refused", "{name}");
        assert_eq!(ev["detail"]["code"], name);
        assert_eq!(ev["actor"], actor);
    }
    // Drift is checked outside the first transaction: recorded all the same.
    let before = state_rows(&t);
    let out = t
        .cmd("agent")
        .env("BOUND", "v2")
        .arg("--json")
        .args(apply_args(&bound))
        .output()
        .unwrap();
    assert_refused(&Run::from(out), 14, "stale");
    assert_eq!(state_rows(&t), before);
    assert_eq!(last_event(&t)["detail"]["code"], "stale");
}

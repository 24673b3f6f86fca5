//! `ladder approve` and `ladder reject`: who may decide (separation of duties,
//! distinct reviewers, the reviewed hash), which plans can still be decided,
//! and the confirmation on a terminal.

use crate::harness::{
    STRICT_POLICY, T0, TestEnv, assert_human_error, assert_refused, count, hash, id,
    is_rfc3339_utc, last_event, on_terminal, seq_of, simulate_crash, state_rows, strict, strict_at,
};

#[test]
fn approve_without_a_terminal_and_without_yes_is_usage() {
    let t = strict();
    let plan = t.plan("agent", "ay", &[], &["echo", "x"]);
    let r = t.json("alice", &["approve", id(&plan)]);
    assert_refused(&r, 2, "usage");
    assert_human_error(&t.run("alice", &["approve", id(&plan)]), 2);
    // No PLAN and no terminal: nothing to walk, usage.
    assert_refused(&t.json("alice", &["approve", "--yes"]), 2, "usage");
    assert_eq!(count(&t.event_kinds(), "approved"), 0);
    assert_eq!(t.show(&plan)["status"], "pending");
    assert_eq!(t.show(&plan)["approvals"], serde_json::json!([]));
}

#[test]
fn the_planner_may_not_approve_their_own_plan() {
    let t = strict();
    let plan = t.plan("agent", "sod", &[], &["echo", "x"]);
    let snap = state_rows(&t);
    let r = t.approve("agent", &plan);
    assert_refused(&r, 22, "not_allowed");
    assert_eq!(state_rows(&t), snap);
    assert_eq!(t.event_kinds(), ["planned", "refused"]);
    assert_eq!(last_event(&t)["detail"]["code"], "not_allowed");
    assert_eq!(last_event(&t)["actor"], "agent");

    // --actor counts as the actor too.
    let r = t.json(
        "someone",
        &["--actor", "agent", "approve", id(&plan), "--yes"],
    );
    assert_refused(&r, 22, "not_allowed");
}

#[test]
fn without_separation_of_duties_the_planner_may_approve() {
    let mut t = TestEnv::new();
    t.with_policy(&STRICT_POLICY.replace(
        "separation_of_duties = true",
        "separation_of_duties = false",
    ));
    let plan = t.plan("agent", "self", &[], &["echo", "x"]);
    let r = t.approve("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["status"], "approved");
}

#[test]
fn approving_twice_is_not_allowed_and_critical_needs_two_distinct_reviewers() {
    let t = strict();
    let plan = t.plan("agent", "crit", &[], &["deploy-prod", "v2"]);
    assert_eq!(plan["tier"], "critical");
    assert_eq!(plan["rule"], "prod");
    assert_eq!(plan["approvals_required"], 2);

    let r = t.approve("alice", &plan);
    assert_eq!(r.code, 0);
    let after_one = r.json();
    assert_eq!(after_one["status"], "pending", "one of two");
    assert_eq!(after_one["approvals"].as_array().unwrap().len(), 1);

    // Still short: needs_approval, nothing runs.
    assert_refused(&t.apply_json("agent", &plan), 10, "needs_approval");

    // alice again: not_allowed, and it does not count.
    let snap = state_rows(&t);
    assert_refused(&t.approve("alice", &plan), 22, "not_allowed");
    assert_eq!(state_rows(&t), snap);
    assert_eq!(t.show(&plan)["status"], "pending");

    let r = t.approve("bob", &plan);
    assert_eq!(r.code, 0);
    let approved = r.json();
    assert_eq!(approved["status"], "approved");
    let who: Vec<&str> = approved["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["actor"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["alice", "bob"]);
    assert_eq!(
        t.event_kinds(),
        ["planned", "approved", "refused", "refused", "approved"]
    );
}

#[test]
fn approve_hash_must_be_the_plans_hash() {
    let t = strict();
    let plan = t.plan("agent", "ah", &[], &["echo", "x"]);
    let snap = state_rows(&t);
    let r = t.json(
        "alice",
        &["approve", id(&plan), "--yes", "--hash", &"a".repeat(64)],
    );
    assert_refused(&r, 13, "hash_mismatch");
    assert_eq!(state_rows(&t), snap);
    assert_eq!(last_event(&t)["kind"], "refused");
    let r = t.json(
        "alice",
        &["approve", id(&plan), "--yes", "--hash", hash(&plan)],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["status"], "approved");
}

#[test]
fn approving_a_plan_that_is_not_pending_answers_with_its_states_code() {
    let mut t = strict_at(T0);
    let rejected = t.plan("agent", "r", &[], &["echo", "r"]);
    assert_eq!(
        t.json("bob", &["reject", id(&rejected), "--reason", "no"])
            .code,
        0
    );
    assert_refused(&t.approve("alice", &rejected), 11, "rejected");

    let expiring = t.plan("agent", "e", &[], &["echo", "e"]);
    t.at("2026-01-01T01:00:01Z");
    assert_refused(&t.approve("alice", &expiring), 12, "expired");
    assert_eq!(t.show(&expiring)["status"], "expired");
    assert_eq!(last_event(&t)["kind"], "refused");
    assert!(t.event_kinds().contains(&"expired".to_string()));
}

#[test]
fn approving_a_running_or_interrupted_plan_answers_with_its_states_code() {
    let t = strict();
    let plan = t.plan("agent", "busy", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    simulate_crash(&t, &plan);
    let lock = ladder::store::sqlite::runlock::try_acquire(&t.state(), seq_of(&t, &plan))
        .unwrap()
        .expect("free");
    assert_refused(&t.approve("bob", &plan), 16, "in_flight");
    drop(lock);
    t.db()
        .execute(
            "UPDATE plans SET status = 'interrupted' WHERE id = ?1",
            [id(&plan)],
        )
        .unwrap();
    assert_refused(&t.approve("bob", &plan), 17, "outcome_unknown");
}

#[test]
fn reject_ends_the_plan_and_its_reason_reaches_the_agent() {
    let t = strict();
    let plan = t.plan("agent", "rj", &[], &["echo", "x"]);
    let r = t.json("bob", &["reject", id(&plan), "--reason", "wrong cluster"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let v = r.json();
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["rejection"]["actor"], "bob");
    assert_eq!(v["rejection"]["reason"], "wrong cluster");
    assert!(is_rfc3339_utc(&v["rejection"]["at"]));

    let shown = t.show(&plan);
    assert_eq!(shown["rejection"]["reason"], "wrong cluster");
    let card = t.run("agent", &["show", id(&plan)]);
    assert!(
        card.stdout_str().contains("wrong cluster"),
        "{}",
        card.stdout_str()
    );

    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 11, "rejected");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong cluster"),
        "apply output carries the reason: {}",
        r.stdout_str()
    );
    let r = t.apply("agent", &plan);
    assert_human_error(&r, 11);
    assert!(r.stderr.contains("wrong cluster"), "{}", r.stderr);
    assert_eq!(
        t.event_kinds(),
        ["planned", "rejected", "refused", "refused"]
    );

    // An approved plan can still be rejected before it runs; a rejected one cannot.
    let p2 = t.plan("agent", "rj2", &[], &["echo", "y"]);
    t.approve("alice", &p2);
    assert_eq!(
        t.json("bob", &["reject", id(&p2), "--reason", "changed my mind"])
            .code,
        0
    );
    assert_refused(
        &t.json("bob", &["reject", id(&p2), "--reason", "again"]),
        11,
        "rejected",
    );
    assert_refused(
        &t.json("bob", &["reject", id(&p2), "--reason", "  "]),
        2,
        "usage",
    );
}

// ---------------------------------------------------------------------------
// approve on a terminal
// ---------------------------------------------------------------------------

#[test]
fn approve_on_a_terminal_asks_for_confirmation() {
    let t = strict();
    let plan = t.plan("agent", "tty", &[], &["echo", "tty"]);
    let Some((code, screen)) = on_terminal(&t, "alice", &format!("approve {}", id(&plan)), "n\n")
    else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_eq!(code, 24, "declined has its own code: {screen}");
    assert!(screen.contains("you answered no"), "{screen}");
    assert!(
        screen.contains("echo tty"),
        "shows the card first: {screen}"
    );
    assert_eq!(t.show(&plan)["status"], "pending");
    assert_eq!(count(&t.event_kinds(), "approved"), 0);

    let (code, screen) =
        on_terminal(&t, "alice", &format!("approve {}", id(&plan)), "y\n").unwrap();
    assert_eq!(code, 0, "{screen}");
    assert_eq!(t.show(&plan)["status"], "approved");
}

#[test]
fn approve_with_no_plan_on_a_terminal_walks_the_pending_queue() {
    let t = strict();
    let first = t.plan("agent", "q1", &[], &["echo", "first"]);
    let second = t.plan("agent", "q2", &[], &["echo", "second"]);
    let Some((code, screen)) = on_terminal(&t, "alice", "approve", "a\nr\nnot this one\n") else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("echo first") && screen.contains("echo second"),
        "{screen}"
    );
    assert_eq!(t.show(&first)["status"], "approved");
    let rejected = t.show(&second);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["rejection"]["reason"], "not this one");
    assert_eq!(rejected["rejection"]["actor"], "alice");
}

/// The queue offers only what the reviewer can grant, and a rejection
/// without a reason is asked for again, not skipped.
#[test]
fn the_queue_skips_the_reviewers_own_plans_and_asks_again_for_a_reason() {
    let t = strict();
    let mine = t.plan("alice", "mine", &[], &["echo", "mine"]);
    let theirs = t.plan("agent", "theirs", &[], &["echo", "theirs"]);
    let Some((code, screen)) = on_terminal(&t, "alice", "approve", "r\n\n  \nwrong host\n") else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("echo mine"),
        "offered the reviewer's own plan: {screen}"
    );
    assert!(screen.contains("1 plan of yours not shown"), "{screen}");
    assert!(screen.contains("a rejection needs a reason"), "{screen}");
    let rejected = t.show(&theirs);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["rejection"]["reason"], "wrong host");
    assert_eq!(t.show(&mine)["status"], "pending");
}

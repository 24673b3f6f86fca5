//! A reviewer's decision binds the plan that was on the screen: `approve`,
//! `reject` and `resolve` act on that plan's id and hash, and whatever
//! changed in between (another plan took the key, the hash is not the one
//! reviewed) is refused, recording nothing for any other plan.

use crate::harness::{TestEnv, assert_refused, hash, id, simulate_crash, strict};
use serde_json::Value;

/// The ledger events of `kind` about `plan`.
fn events_of(t: &TestEnv, kind: &str, plan: &Value) -> Vec<Value> {
    t.events()
        .into_iter()
        .filter(|e| e["kind"] == kind && e["plan"] == plan["id"])
        .collect()
}

// ---------------------------------------------------------------------------
// approve on a terminal
// ---------------------------------------------------------------------------

#[test]
fn approve_by_key_approves_the_plan_it_showed_not_the_one_that_took_the_key_while_it_asked() {
    let t = strict();
    let a = t.plan("agent", "deploy", &[], &["echo", "plan-a"]);
    let Some(mut term) = t.open_terminal("alice", "approve --key deploy", &[("NO_COLOR", "1")])
    else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    term.wait_for("Approve plan");
    assert!(term.screen().contains("plan-a"), "{}", term.screen());

    // While alice reads A's card: another reviewer rejects A, and the agent
    // plans something else under the same key.
    let r = t.json("bob", &["reject", id(&a), "--reason", "x"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let b = t.plan("agent", "deploy", &[], &["echo", "plan-b"]);
    assert_ne!(b["id"], a["id"]);

    term.type_text("y\n");
    let (code, screen) = term.finish();
    assert_eq!(code, 11, "A, the plan alice saw, was rejected: {screen}");
    let b_now = t.show(&b);
    assert_eq!(b_now["status"], "pending", "{b_now}");
    assert_eq!(b_now["approvals"].as_array().unwrap().len(), 0, "{b_now}");
    assert!(events_of(&t, "approved", &b).is_empty());
    let refused = t.events().pop().unwrap();
    assert_eq!(refused["kind"], "refused");
    assert_eq!(refused["plan"], a["id"], "the refusal names A: {refused}");
    assert_eq!(refused["detail"]["code"], "rejected");
}

#[test]
fn approve_on_a_terminal_refuses_a_plan_whose_hash_changed_while_it_asked() {
    let t = strict();
    let a = t.plan("agent", "swap", &[], &["echo", "x"]);
    let Some(mut term) = t.open_terminal("alice", "approve --key swap", &[("NO_COLOR", "1")])
    else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    term.wait_for("Approve plan");
    // Whoever can write the state file rewrites the plan under the prompt.
    t.db()
        .execute(
            "UPDATE plans SET hash = ?1 WHERE id = ?2",
            [&"b".repeat(64), id(&a)],
        )
        .unwrap();
    term.type_text("y\n");
    let (code, screen) = term.finish();
    assert_eq!(code, 13, "{screen}");
    assert_eq!(t.show(&a)["status"], "pending");
    assert!(events_of(&t, "approved", &a).is_empty());
}

#[test]
fn approve_on_a_terminal_with_a_wrong_hash_refuses_13_without_asking() {
    let t = strict();
    let plan = t.plan("agent", "wrong", &[], &["echo", "x"]);
    let wrong = "a".repeat(64);
    let Some((code, screen)) = t.on_terminal(
        "alice",
        &format!("approve --key wrong --hash {wrong}"),
        "y\n",
        &[("NO_COLOR", "1")],
    ) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_eq!(code, 13, "{screen}");
    assert!(!screen.contains("Approve plan"), "asked anyway: {screen}");
    assert!(screen.contains("hash"), "{screen}");
    assert_eq!(t.show(&plan)["status"], "pending");
    assert!(events_of(&t, "approved", &plan).is_empty());
    let refused = events_of(&t, "refused", &plan);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["detail"]["code"], "hash_mismatch");

    // The right hash, in any case and with spaces around it, is asked and approved.
    let given = format!("' {} '", hash(&plan).to_uppercase());
    let (code, screen) = t
        .on_terminal(
            "alice",
            &format!("approve --key wrong --hash {given}"),
            "y\n",
            &[("NO_COLOR", "1")],
        )
        .unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Approve plan"), "{screen}");
    assert_eq!(t.show(&plan)["status"], "approved");
}

#[test]
fn the_review_queue_rejects_only_the_hash_it_showed() {
    let t = strict();
    let plan = t.plan("agent", "queue", &[], &["echo", "x"]);
    let Some(mut term) = t.open_terminal("alice", "approve", &[("NO_COLOR", "1")]) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    term.wait_for("[a]pprove, [r]eject");
    t.db()
        .execute(
            "UPDATE plans SET hash = ?1 WHERE id = ?2",
            [&"b".repeat(64), id(&plan)],
        )
        .unwrap();
    term.type_text("r\n");
    term.wait_for("reason: ");
    term.type_text("no\n");
    let (code, screen) = term.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("0 rejected"), "{screen}");
    assert_eq!(t.show(&plan)["status"], "pending");
    let refused = events_of(&t, "refused", &plan);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["detail"]["code"], "hash_mismatch");
}

// ---------------------------------------------------------------------------
// reject --hash
// ---------------------------------------------------------------------------

#[test]
fn reject_with_a_hash_that_is_not_the_plans_is_hash_mismatch() {
    let t = strict();
    let a = t.plan("agent", "rh", &[], &["echo", "a"]);
    let r = t.json(
        "bob",
        &["reject", id(&a), "--hash", &"a".repeat(64), "--reason", "x"],
    );
    assert_refused(&r, 13, "hash_mismatch");
    assert_eq!(t.show(&a)["status"], "pending");
    assert_eq!(
        events_of(&t, "refused", &a)[0]["detail"]["command"],
        "reject"
    );

    // By key: the key's plan is no longer the one reviewed.
    let r = t.json("bob", &["reject", id(&a), "--reason", "first"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let b = t.plan("agent", "rh", &[], &["echo", "b"]);
    let r = t.json(
        "bob",
        &["reject", "--key", "rh", "--hash", hash(&a), "--reason", "x"],
    );
    assert_refused(&r, 13, "hash_mismatch");
    assert_eq!(t.show(&b)["status"], "pending");
    assert!(events_of(&t, "rejected", &b).is_empty());

    // The reviewed hash, normalised like approve's, rejects.
    let given = format!(" {} ", hash(&b).to_uppercase());
    let r = t.json(
        "bob",
        &["reject", "--key", "rh", "--hash", &given, "--reason", "x"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["status"], "rejected");
    assert_eq!(r.json()["id"], b["id"]);
}

// ---------------------------------------------------------------------------
// resolve --key, --hash
// ---------------------------------------------------------------------------

#[test]
fn resolve_names_the_plan_by_key_and_binds_its_hash() {
    let t = strict();
    let plan = t.plan("agent", "rs", &[], &["echo", "x"]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    simulate_crash(&t, &plan);

    let resolve = |extra: &[&str]| {
        let mut args = vec!["resolve"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--outcome", "failed", "--reason", "checked"]);
        t.json("bob", &args)
    };
    let wrong = "c".repeat(64);
    assert_refused(
        &resolve(&[id(&plan), "--hash", &wrong]),
        13,
        "hash_mismatch",
    );
    assert_refused(
        &resolve(&["--key", "rs", "--hash", &wrong]),
        13,
        "hash_mismatch",
    );
    assert_eq!(t.show(&plan)["status"], "interrupted");
    assert!(events_of(&t, "resolved", &plan).is_empty());
    let refused = events_of(&t, "refused", &plan);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|e| e["detail"]["code"] == "hash_mismatch")
    );

    assert_refused(&resolve(&["--key", "nope"]), 3, "not_found");
    assert_refused(&resolve(&[]), 2, "usage");
    assert_refused(&resolve(&[id(&plan), "--key", "rs"]), 2, "usage");

    let upper = hash(&plan).to_uppercase();
    let r = resolve(&["--key", "rs", "--hash", &upper]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["id"], plan["id"]);
    assert_eq!(r.json()["status"], "applied");
    assert_eq!(events_of(&t, "resolved", &plan).len(), 1);
}

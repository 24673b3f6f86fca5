//! Crashes and concurrency: `in_flight` while another process runs the plan,
//! `outcome_unknown` after a run died, and `ladder resolve`, a person's answer
//! to it.

use crate::harness::{
    assert_human_error, assert_refused, count, id, last_event, marker_plan, seq_of, simulate_crash,
    strict,
};

#[test]
fn apply_while_another_process_holds_the_run_lock_is_in_flight() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "busy", &[]);
    t.approve("alice", &plan);
    let seq = seq_of(&t, &plan);

    // Another apply has taken the lock but not yet marked the plan running.
    let lock = ladder::store::sqlite::runlock::try_acquire(&t.state(), seq)
        .unwrap()
        .expect("the lock is free");
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 16, "in_flight");
    assert!(!mark.exists());
    assert_eq!(last_event(&t)["detail"]["code"], "in_flight");
    assert_eq!(t.show(&plan)["status"], "approved");

    // ...and has marked it running, its command still going.
    simulate_crash(&t, &plan);
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 16, "in_flight");
    assert_human_error(&t.apply("agent", &plan), 16);
    assert_eq!(
        t.show(&plan)["status"],
        "running",
        "a live run is not interrupted"
    );
    assert!(!t.event_kinds().contains(&"interrupted".to_string()));
    assert!(!mark.exists());
    drop(lock);
}

#[test]
fn apply_after_a_crash_mid_run_is_outcome_unknown_until_resolved() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "crash", &[]);
    t.approve("alice", &plan);
    simulate_crash(&t, &plan);

    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 17, "outcome_unknown");
    assert!(
        !mark.exists(),
        "an interrupted plan never runs again by itself"
    );
    assert_eq!(t.show(&plan)["status"], "interrupted");
    let kinds = t.event_kinds();
    assert_eq!(&kinds[kinds.len() - 2..], ["interrupted", "refused"]);

    // Still refused, now from the recorded status; replay has nothing to give.
    assert_refused(&t.apply_json("agent", &plan), 17, "outcome_unknown");
    assert_human_error(&t.apply("agent", &plan), 17);
    assert_refused(
        &t.json("agent", &["replay", "--key", "crash"]),
        17,
        "outcome_unknown",
    );
    assert!(!mark.exists());
}

#[test]
fn resolve_retry_allows_exactly_one_more_apply() {
    let t = strict();
    let counter = t.path().join("count");
    let script = format!("echo x >> '{}'", counter.display());
    let plan = t.plan("agent", "retry", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    simulate_crash(&t, &plan);
    assert_eq!(t.apply("agent", &plan).code, 17);

    // resolve needs a reason.
    assert_refused(
        &t.json(
            "oncall",
            &["resolve", id(&plan), "--outcome", "retry", "--reason", " "],
        ),
        2,
        "usage",
    );
    let r = t.json(
        "oncall",
        &[
            "resolve",
            id(&plan),
            "--outcome",
            "retry",
            "--reason",
            "it never started",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(last_event(&t)["kind"], "resolved");
    assert_eq!(last_event(&t)["detail"]["outcome"], "retry");

    for _ in 0..3 {
        assert_eq!(t.apply("agent", &plan).code, 0);
    }
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "x\n",
        "ran exactly once more"
    );
    assert_eq!(t.show(&plan)["status"], "applied");
    let kinds = t.event_kinds();
    assert_eq!(count(&kinds, "started"), 1);
    assert_eq!(count(&kinds, "applied"), 1);
    assert_eq!(count(&kinds, "replayed"), 2);
}

#[test]
fn resolve_succeeded_or_failed_makes_later_applies_replay() {
    for (outcome, succeeded) in [("succeeded", true), ("failed", false)] {
        let t = strict();
        let (plan, mark) = marker_plan(&t, "agent", "settle", &[]);
        t.approve("alice", &plan);
        simulate_crash(&t, &plan);
        // resolve also works on a plan whose runner died before anyone applied again.
        let r = t.json(
            "oncall",
            &[
                "resolve",
                &id(&plan)[..6],
                "--outcome",
                outcome,
                "--reason",
                "checked by hand",
            ],
        );
        assert_eq!(r.code, 0, "{outcome}: {}", r.stdout_str());
        assert_eq!(r.json()["status"], "applied");

        let r = t.apply_json("agent", &plan);
        assert_eq!(r.code == 0, succeeded, "{outcome}: {}", r.stdout_str());
        let code = r.code;
        assert_eq!(r.json()["replayed"], true);
        assert!(!mark.exists(), "{outcome}: nothing runs");
        let r = t.json("agent", &["replay", id(&plan)]);
        assert_eq!(r.code, code);
        let kinds = t.event_kinds();
        assert!(kinds.contains(&"resolved".to_string()), "{kinds:?}");
        assert_eq!(kinds.last().unwrap(), "replayed");

        // A settled plan cannot be resolved again.
        let r = t.json(
            "oncall",
            &["resolve", id(&plan), "--outcome", "retry", "--reason", "x"],
        );
        assert_ne!(r.code, 0);
        assert_eq!(t.show(&plan)["status"], "applied");
    }
}

#[test]
fn resolve_refuses_a_plan_that_is_still_running_or_not_interrupted() {
    let t = strict();
    let plan = t.plan("agent", "live", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    // Approved, never run: nothing to resolve.
    let r = t.json(
        "oncall",
        &[
            "resolve",
            id(&plan),
            "--outcome",
            "succeeded",
            "--reason",
            "x",
        ],
    );
    assert_ne!(r.code, 0, "{}", r.stdout_str());
    assert!(r.json()["error"].is_object());
    assert_eq!(t.show(&plan)["status"], "approved");

    // Running under a live lock: in flight.
    simulate_crash(&t, &plan);
    let lock = ladder::store::sqlite::runlock::try_acquire(&t.state(), seq_of(&t, &plan))
        .unwrap()
        .expect("free");
    let r = t.json(
        "oncall",
        &[
            "resolve",
            id(&plan),
            "--outcome",
            "succeeded",
            "--reason",
            "x",
        ],
    );
    assert_refused(&r, 16, "in_flight");
    assert_eq!(t.show(&plan)["status"], "running");
    drop(lock);
    let r = t.json(
        "oncall",
        &[
            "resolve",
            "ffffffff",
            "--outcome",
            "failed",
            "--reason",
            "x",
        ],
    );
    assert_refused(&r, 3, "not_found");
}

//! What a review against CONTRACT.md found: each test asserts what the
//! contract says, and failed before it was fixed.

use crate::harness::strict;

/// CONTRACT: "A refusal changes nothing but the ledger (it records a
/// `refused` event)" and "`--verify` checks the whole hash chain and the
/// append-only guarantee". A trigger added to the state file (by whoever can
/// write it, the attacker of issue 15 item 3) that swallows inserts of
/// events makes every later refusal go unrecorded, and `log --verify` still
/// passes: it compares the two schema triggers by name and SQL, but does not
/// look for triggers it did not create.
#[test]
fn an_added_trigger_that_drops_events_fails_log_verify() {
    let t = strict();
    let plan = t.plan("agent", "quiet", &[], &["touch", "x"]);
    t.db()
        .execute_batch(
            "CREATE TRIGGER zz_quiet BEFORE INSERT ON events \
             WHEN NEW.kind = 'refused' BEGIN SELECT RAISE(IGNORE); END;",
        )
        .unwrap();
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 10, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "needs_approval");
    let kinds = t.event_kinds();
    let verify = t.json("viewer", &["log", "--verify"]);
    // Either the refusal is in the ledger, or --verify says the ledger can
    // no longer be trusted. Before the fix: neither.
    assert!(
        kinds.contains(&"refused".to_string()) || verify.code == 21,
        "refusal not recorded (events: {kinds:?}) and log --verify exited {}: {}",
        verify.code,
        verify.stdout_str()
    );
}

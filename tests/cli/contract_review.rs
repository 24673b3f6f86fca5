//! Contract violations found in review of the issue-15 series. Each test
//! asserts what CONTRACT.md says and fails on the branch as reviewed; they
//! are `#[ignore]`d so the suite stays green until fixed. Run them with
//! `cargo test --test cli contract_review -- --ignored`.

use crate::harness::{STRICT_POLICY, TestEnv};

fn strict() -> TestEnv {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    t
}

/// CONTRACT: "A refusal changes nothing but the ledger (it records a
/// `refused` event)" and "`--verify` checks the whole hash chain and the
/// append-only guarantee". A trigger added to the state file (by whoever can
/// write it, the attacker of issue 15 item 3) that swallows inserts of
/// events makes every later refusal go unrecorded, and `log --verify` still
/// passes: it compares the two schema triggers by name and SQL, but does not
/// look for triggers it did not create.
#[test]
#[ignore = "contract violation: an added trigger silently drops refused events; log --verify passes"]
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
    // no longer be trusted. On the reviewed branch: neither.
    assert!(
        kinds.contains(&"refused".to_string()) || verify.code == 21,
        "refusal not recorded (events: {kinds:?}) and log --verify exited {}: {}",
        verify.code,
        verify.stdout_str()
    );
}

/// CONTRACT: the hash covers "key, argv, working directory, the values of
/// bound environment variables, the dry-run ... Same content, same hash, on
/// any machine. No timestamps, no ids." and "Same key and same hash as a
/// live plan: returns that plan". Plan hash v2 binds a bound file's
/// `dev:ino:size:mtime_ns:ctime_ns` and the directory's `dev:ino`, so the
/// same content planned again after a `touch` (or a checkout, a package
/// reinstall, another machine) is a different hash: `key_conflict`.
#[test]
#[ignore = "contract violation: plan hash v2 contains timestamps and inode ids"]
fn the_same_content_planned_again_is_the_same_plan() {
    let t = strict();
    let script = t.work().join("job.sh");
    std::fs::write(&script, "echo hi\n").unwrap();
    let first = t.plan("agent", "same", &[], &["sh", "job.sh"]);
    // Same bytes, rewritten: what a `git checkout` or a reinstall does.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&script, "echo hi\n").unwrap();
    let r = t.json("agent", &["plan", "--key", "same", "--", "sh", "job.sh"]);
    assert_eq!(
        r.code,
        0,
        "same content under the same key must return the plan: {}",
        r.stdout_str()
    );
    assert_eq!(r.json()["hash"], first["hash"]);
}

//! `ladder replay`: the recorded outcome given back byte for byte, and refused
//! when the record was edited in the state file.

use crate::harness::{
    STRICT_POLICY, TestEnv, assert_human_error, assert_refused, count, id, last_event, on_terminal,
    strict,
};

#[test]
fn replay_of_an_unapplied_or_unknown_plan_is_not_found() {
    let t = strict();
    let plan = t.plan("agent", "rp", &[], &["echo", "x"]);
    for args in [
        &["replay", id(&plan)][..],
        &["replay", "--key", "rp"],
        &["replay", "--key", "never-planned"],
        &["replay", "ffffffff"],
    ] {
        let r = t.json("agent", args);
        assert_refused(&r, 3, "not_found");
        assert_eq!(last_event(&t)["kind"], "refused", "{args:?}");
    }
    assert_human_error(&t.run("agent", &["replay", "--key", "rp"]), 3);
    assert_refused(&t.json("agent", &["replay"]), 2, "usage");
}

#[test]
fn replay_gives_back_the_recorded_outcome_by_plan_prefix_and_runs_nothing() {
    let t = strict();
    let counter = t.path().join("count");
    let script = format!(
        "echo x >> '{}'; printf 'o\\0ut'; printf 'e\\n' >&2; exit 7",
        counter.display()
    );
    let plan = t.plan("agent", "rb", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    let first = t.apply("agent", &plan);
    assert_eq!(first.code, 7);

    let r = t.run("viewer", &["replay", &id(&plan)[..4]]);
    assert_eq!(r.code, 7);
    assert_eq!(r.stdout, b"o\0ut", "byte for byte");
    // stderr too: the recorded bytes and nothing of ladder's own, since no
    // person is reading it here (see the terminal test for one who is).
    let raw = t
        .std_cmd("viewer")
        .args(["replay", "--key", "rb"])
        .output()
        .unwrap();
    assert_eq!(raw.status.code(), Some(7));
    assert_eq!(
        raw.stderr,
        b"e\n",
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    // A person at a terminal is told first that this is a replay.
    if let Some((code, screen)) = on_terminal(&t, "viewer", "replay --key rb", "") {
        assert_eq!(code, 7, "{screen}");
        assert!(
            screen.contains("replaying its recorded outcome"),
            "{screen}"
        );
    }
    let r = t.json("viewer", &["replay", id(&plan)]);
    assert_eq!(r.code, 7);
    let e = r.json();
    assert_eq!(e["replayed"], true);
    assert_eq!(e["exit_code"], 7);
    assert_eq!(e["plan"], plan["id"]);
    assert_eq!(e["key"], "rb");
    assert_eq!(e["stdout_bytes"], 4);
    assert_eq!(e["stdout_sha256"], ladder::plan_hash::sha256_hex(b"o\0ut"));
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "x\n");
    let ev = last_event(&t);
    assert_eq!(ev["kind"], "replayed");
    assert_eq!(ev["actor"], "viewer");
}

#[test]
fn replay_refuses_a_record_whose_output_was_edited_in_the_state_file() {
    let t = strict();
    let plan = t.plan("agent", "rt", &[], &["printf", "the-real-output"]);
    t.approve("alice", &plan);
    assert_eq!(t.apply("agent", &plan).code, 0);
    // The executions table has no triggers: whoever can write the state file
    // can swap the recorded bytes a retrying caller will be given.
    t.db()
        .execute(
            "UPDATE executions SET stdout = CAST('rm -rf --no-preserve-root' AS BLOB)",
            [],
        )
        .unwrap();
    let r = t.json("viewer", &["replay", id(&plan)]);
    assert_refused(&r, 21, "tampered");
    assert!(!r.stdout_str().contains("rm -rf"), "{}", r.stdout_str());
    let ev = last_event(&t);
    assert_eq!(ev["kind"], "refused");
    assert_eq!(ev["detail"]["code"], "tampered");

    let r = t.run("viewer", &["replay", "--key", "rt"]);
    assert_human_error(&r, 21);
    assert!(r.stderr.contains("stdout"), "{}", r.stderr);
    // The replay a second apply does checks the same.
    let r = t.apply("agent", &plan);
    assert_human_error(&r, 21);
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 21, "tampered");
    assert_eq!(count(&t.event_kinds(), "replayed"), 0);

    // The byte count is checked too: the same bytes under another length.
    t.db()
        .execute(
            "UPDATE executions SET stdout = CAST('the-real-output' AS BLOB), stdout_bytes = 3",
            [],
        )
        .unwrap();
    assert_refused(&t.json("viewer", &["replay", id(&plan)]), 21, "tampered");
    // Put back as recorded, it replays again.
    t.db()
        .execute("UPDATE executions SET stdout_bytes = 15", [])
        .unwrap();
    let r = t.run("viewer", &["replay", id(&plan)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"the-real-output");
}

/// The digests and counts in the executions row can be rewritten along with
/// the bytes; the `applied` event in the append-only ledger cannot.
#[test]
fn replay_refuses_a_record_rewritten_with_matching_digests() {
    let forged = "echo pwned";
    let sha = ladder::plan_hash::sha256_hex(forged.as_bytes());
    for set in [
        format!(
            "stdout = CAST('{forged}' AS BLOB), stdout_bytes = {}, stdout_sha256 = '{sha}'",
            forged.len()
        ),
        // Marked truncated: a head shorter than the stream is taken on trust.
        "stdout = CAST('echo' AS BLOB), truncated = 1".to_string(),
        "exit_code = 0".to_string(),
    ] {
        let t = strict();
        let plan = t.plan(
            "agent",
            "forge",
            &[],
            &["sh", "-c", "printf the-real-output; exit 3"],
        );
        t.approve("alice", &plan);
        assert_eq!(t.apply("agent", &plan).code, 3);
        t.db()
            .execute(&format!("UPDATE executions SET {set}"), [])
            .unwrap();
        let r = t.json("viewer", &["replay", id(&plan)]);
        assert_refused(&r, 21, "tampered");
        assert!(
            !r.stdout_str().contains("echo"),
            "{set}: {}",
            r.stdout_str()
        );
        assert_refused(&t.apply_json("agent", &plan), 21, "tampered");
    }
}

#[test]
fn replay_of_a_truncated_record_refuses_a_head_longer_than_the_stream() {
    let mut t = TestEnv::new();
    t.with_policy(&STRICT_POLICY.replace(
        "separation_of_duties = true",
        "separation_of_duties = true\noutput_cap = 4",
    ));
    let plan = t.plan("agent", "rtt", &[], &["printf", "0123456789"]);
    t.approve("alice", &plan);
    assert_eq!(t.apply("agent", &plan).code, 0);
    let r = t.json("viewer", &["replay", id(&plan)]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["truncated"], true);
    // Only the head's length can be checked against a partial record.
    t.db()
        .execute(
            "UPDATE executions SET stdout = CAST('0123456789-and-more' AS BLOB)",
            [],
        )
        .unwrap();
    assert_refused(&t.json("viewer", &["replay", id(&plan)]), 21, "tampered");
    // A stream whose head is complete is checked in full, truncated or not:
    // here stderr was empty and is not any more.
    t.db()
        .execute(
            "UPDATE executions SET stdout = CAST('0123' AS BLOB), stderr = CAST('x' AS BLOB), stderr_bytes = 1",
            [],
        )
        .unwrap();
    assert_refused(&t.json("viewer", &["replay", id(&plan)]), 21, "tampered");
}

/// An agent reading a replay through a pipe learns that the output is
/// partial: a line on stderr after the recorded bytes.
#[test]
fn a_partial_record_is_never_replayed_silently() {
    let mut t = TestEnv::new();
    t.with_policy(&STRICT_POLICY.replace(
        "separation_of_duties = true",
        "separation_of_duties = true\noutput_cap = 4",
    ));
    let plan = t.plan("agent", "partial", &[], &["printf", "0123456789"]);
    t.approve("alice", &plan);
    assert_eq!(t.apply("agent", &plan).code, 0);
    let r = t.run("agent", &["replay", id(&plan)]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, b"0123");
    assert!(
        r.stderr
            .trim_end()
            .ends_with("the replayed output is partial: the record kept 4 of 10 stdout bytes and 0 of 0 stderr bytes"),
        "{}",
        r.stderr
    );
}

//! `ladder plan`: the plan object, its key (idempotent, conflicting, generated,
//! valid), its dry-run, and the policy's first verdict (denied, waiting for
//! approval, approved at once).

use crate::harness::{
    STRICT_POLICY, T0, TestEnv, apply_args, assert_human_error, assert_refused, count, id,
    is_rfc3339_utc, is_sha256_hex, key, last_event, state_rows, strict, strict_at,
};
use serde_json::Value;

#[test]
fn json_plan_object_has_every_contract_field() {
    let mut t = strict();
    std::fs::write(t.work().join("preview.txt"), "will change x\n").unwrap();
    t.env("DEPLOY_TARGET", "staging");
    let plan = t.plan(
        "agent",
        "fields",
        &[
            "--dry-run",
            "cat preview.txt",
            "--env",
            "DEPLOY_TARGET",
            "--reason",
            "why",
            "--target",
            "the box",
            "--effect",
            "x changes",
            "--rollback",
            "undo x",
            "--confidence",
            "0.95",
        ],
        &["echo", "x"],
    );
    for field in [
        "id",
        "key",
        "hash",
        "status",
        "tier",
        "rule",
        "approvals_required",
        "approvals",
        "command",
        "cwd",
        "env",
        "dry_run",
        "reason",
        "target",
        "effect",
        "rollback",
        "confidence",
        "actor",
        "created_at",
        "expires_at",
        "rejection",
        "execution",
    ] {
        assert!(plan.get(field).is_some(), "plan lacks `{field}`: {plan}");
    }
    assert!(
        uuid::Uuid::parse_str(id(&plan)).is_ok(),
        "id is a UUID: {plan}"
    );
    assert_eq!(plan["key"], "fields");
    assert!(is_sha256_hex(&plan["hash"]), "{plan}");
    assert_eq!(plan["status"], "pending");
    assert_eq!(plan["tier"], "irreversible");
    assert_eq!(plan["approvals_required"], 1);
    assert_eq!(plan["approvals"], serde_json::json!([]));
    assert_eq!(plan["command"], serde_json::json!(["echo", "x"]));
    let work = std::fs::canonicalize(t.work()).unwrap();
    assert_eq!(plan["cwd"], work.to_str().unwrap());
    assert_eq!(
        plan["env"]["DEPLOY_TARGET"],
        ladder::plan_hash::sha256_hex(b"staging"),
        "env binds NAME to the sha256 of its value: {plan}"
    );
    let d = &plan["dry_run"];
    assert_eq!(d["command"], serde_json::json!(["cat", "preview.txt"]));
    assert_eq!(d["exit_code"], 0);
    assert_eq!(d["stdout"], "will change x\n");
    assert_eq!(d["stderr"], "");
    assert_eq!(plan["reason"], "why");
    assert_eq!(plan["target"], "the box");
    assert_eq!(plan["effect"], "x changes");
    assert_eq!(plan["rollback"], "undo x");
    assert_eq!(plan["confidence"], 0.95);
    assert_eq!(plan["actor"], "agent");
    assert!(is_rfc3339_utc(&plan["created_at"]), "{plan}");
    assert!(is_rfc3339_utc(&plan["expires_at"]), "{plan}");
    assert!(plan["rejection"].is_null());
    assert!(plan["execution"].is_null());

    // approvals[] entries carry actor, at, comment.
    let r = t.json(
        "alice",
        &["approve", id(&plan), "--yes", "--comment", "looks right"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let approved = r.json();
    assert_eq!(approved["status"], "approved");
    let a = &approved["approvals"][0];
    assert_eq!(a["actor"], "alice");
    assert_eq!(a["comment"], "looks right");
    assert!(is_rfc3339_utc(&a["at"]), "{approved}");

    // After apply, the plan carries its execution.
    assert_eq!(t.apply("agent", &plan).code, 0);
    let shown = t.show(&plan);
    assert_eq!(shown["status"], "applied");
    assert_eq!(shown["execution"]["exit_code"], 0);
    assert_eq!(shown["execution"]["stdout"], "x\n");

    // Without a dry-run, `dry_run` is null.
    let bare = t.plan("agent", "bare", &[], &["echo", "y"]);
    assert!(bare["dry_run"].is_null(), "{bare}");
}

#[test]
fn plan_same_key_same_content_returns_the_same_plan_and_stores_nothing() {
    let t = strict();
    let first = t.plan("agent", "same", &["--reason", "r"], &["echo", "same"]);
    let before = t.events().len();
    let again = t.plan("agent", "same", &["--reason", "r"], &["echo", "same"]);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["hash"], first["hash"]);
    assert_eq!(t.events().len(), before, "no new event");
    assert_eq!(count(&t.event_kinds(), "planned"), 1);
    let all = t.json("viewer", &["list", "--status", "all"]).json();
    assert_eq!(all["plans"].as_array().unwrap().len(), 1);

    // For people, it says nothing new was stored.
    let r = t.run(
        "agent",
        &[
            "plan", "--key", "same", "--reason", "r", "--", "echo", "same",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("nothing new"), "{}", r.stderr);

    // An applied plan still holds its key: the same content returns it (one
    // key executes at most once), different content conflicts.
    t.approve("alice", &first);
    assert_eq!(t.apply("agent", &first).code, 0);
    let n = t.events().len();
    let after = t.plan("agent", "same", &["--reason", "r"], &["echo", "same"]);
    assert_eq!(after["id"], first["id"]);
    assert_eq!(after["status"], "applied");
    assert_eq!(t.events().len(), n);
    let r = t.json("agent", &["plan", "--key", "same", "--", "echo", "again"]);
    assert_refused(&r, 15, "key_conflict");
}

#[test]
fn plan_same_key_different_content_is_key_conflict() {
    let t = strict();
    let first = t.plan("agent", "kc", &[], &["echo", "one"]);
    let snap = state_rows(&t);
    let r = t.json("agent", &["plan", "--key", "kc", "--", "echo", "two"]);
    assert_refused(&r, 15, "key_conflict");
    assert_eq!(
        state_rows(&t),
        snap,
        "a refusal changes nothing but the ledger"
    );
    assert_eq!(t.event_kinds(), ["planned", "refused"]);
    let ev = last_event(&t);
    assert_eq!(ev["key"], "kc");
    assert_eq!(ev["detail"]["code"], "key_conflict");

    // Different content in another way (a bound variable) conflicts too.
    let r = t.json(
        "agent",
        &[
            "plan", "--key", "kc", "--env", "KC_BOUND", "--", "echo", "one",
        ],
    );
    assert_refused(&r, 15, "key_conflict");
    // The original is untouched and still answers.
    assert_eq!(t.show(&first)["status"], "pending");
}

#[test]
fn plan_generates_and_prints_a_key_when_omitted() {
    let t = strict();
    let r = t.json("agent", &["plan", "--", "echo", "nokey"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan = r.json();
    let k = key(&plan);
    assert!(!k.is_empty());
    assert_eq!(t.show(&plan)["key"], k);

    let r = t.run("agent", &["plan", "--", "echo", "nokey2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let generated = t.json("v", &["list"]).json()["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["command"][1] == "nokey2")
        .map(|p| p["key"].as_str().unwrap().to_string())
        .expect("the plan was stored");
    assert!(
        r.stderr.contains(&generated) || r.stdout_str().contains(&generated),
        "the generated key is printed:\n{}\n{}",
        r.stdout_str(),
        r.stderr
    );
}

#[test]
fn plan_keys_are_1_to_255_printable_characters() {
    let t = strict();
    let long = "k".repeat(255);
    let too_long = "k".repeat(256);
    assert_eq!(
        t.plan("agent", &long, &[], &["echo", "k"])["key"],
        long.as_str()
    );
    assert_eq!(
        t.plan("agent", "with space #1", &[], &["echo", "k"])["key"],
        "with space #1"
    );
    // Printable: no controls, no bidirectional overrides or invisible
    // characters that make one key look like another.
    for bad in [
        "",
        too_long.as_str(),
        "a\nb",
        "tab\there",
        "bell\x07",
        "abc\u{202e}fed",
        "zero\u{200b}width",
    ] {
        let r = t.json("agent", &["plan", "--key", bad, "--", "echo", "k"]);
        assert_refused(&r, 2, "usage");
    }
}

#[test]
fn plan_keys_count_characters_not_bytes() {
    let t = strict();
    let k = "é".repeat(200);
    let r = t.json("agent", &["plan", "--key", &k, "--", "echo", "k"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["key"], k.as_str());
}

#[test]
fn plan_dry_run_is_split_like_a_shell_and_run_without_one_in_the_plan_directory() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "split",
        &["--dry-run", r#"printf '%s|' "a b" $HOME '*' ;"#],
        &["echo", "x"],
    );
    assert_eq!(
        plan["dry_run"]["command"],
        serde_json::json!(["printf", "%s|", "a b", "$HOME", "*", ";"])
    );
    assert_eq!(
        plan["dry_run"]["stdout"], "a b|$HOME|*|;|",
        "nothing expanded"
    );

    let dir = t.path().join("planned dir");
    std::fs::create_dir_all(&dir).unwrap();
    let out = t
        .cmd("agent")
        .current_dir(&dir)
        .args([
            "--json",
            "plan",
            "--key",
            "pwd",
            "--dry-run",
            "pwd",
            "--",
            "echo",
            "y",
        ])
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let canonical = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(plan["cwd"], canonical.to_str().unwrap());
    assert_eq!(
        plan["dry_run"]["stdout"],
        format!("{}\n", canonical.display()),
        "the dry-run runs in the plan's directory"
    );
}

#[test]
fn failing_dry_run_is_refused_20_unless_its_code_is_accepted() {
    let t = strict();
    let r = t.json(
        "agent",
        &[
            "plan",
            "--key",
            "dr",
            "--dry-run",
            "false",
            "--",
            "echo",
            "x",
        ],
    );
    assert_refused(&r, 20, "dry_run_failed");
    assert_eq!(t.event_kinds(), ["refused"]);
    assert_eq!(last_event(&t)["detail"]["code"], "dry_run_failed");
    let all = t.json("v", &["list", "--status", "all"]).json();
    assert_eq!(all["plans"].as_array().unwrap().len(), 0, "nothing stored");

    let r = t.run(
        "agent",
        &[
            "plan",
            "--key",
            "dr",
            "--dry-run",
            "false",
            "--",
            "echo",
            "x",
        ],
    );
    assert_human_error(&r, 20);

    // --dry-run-ok 0,1 accepts exit 1 (the `kubectl diff` convention)...
    let plan = t.plan(
        "agent",
        "dr",
        &["--dry-run", "false", "--dry-run-ok", "0,1"],
        &["echo", "x"],
    );
    assert_eq!(plan["dry_run"]["exit_code"], 1);
    assert_eq!(plan["status"], "pending");
    // ...but not exit 2.
    let r = t.json(
        "agent",
        &[
            "plan",
            "--key",
            "dr2",
            "--dry-run",
            "sh -c 'exit 2'",
            "--dry-run-ok",
            "0,1",
            "--",
            "echo",
            "x",
        ],
    );
    assert_refused(&r, 20, "dry_run_failed");
}

#[test]
fn denied_plan_exits_18_with_the_error_and_the_plan() {
    let t = strict();
    let r = t.json(
        "agent",
        &["plan", "--key", "nope", "--", "forbidden-thing", "now"],
    );
    assert_refused(&r, 18, "denied");
    let v = r.json();
    let plan = &v["plan"];
    assert_eq!(plan["status"], "denied", "{v}");
    assert_eq!(plan["tier"], "deny");
    assert_eq!(plan["rule"], "forbidden");
    assert_eq!(plan["key"], "nope");
    assert_eq!(t.event_kinds(), ["planned", "denied"]);

    let r = t.run(
        "agent",
        &["plan", "--key", "nope2", "--", "forbidden-thing"],
    );
    assert_human_error(&r, 18);

    // Apply and approve of a denied plan answer `denied`.
    let r = t.json("agent", &apply_args(plan));
    assert_refused(&r, 18, "denied");
    let r = t.json("alice", &["approve", id(plan), "--yes"]);
    assert_refused(&r, 18, "denied");
    assert_eq!(t.show(plan)["status"], "denied");
}

#[test]
fn a_low_confidence_is_denied_or_needs_approval() {
    let t = TestEnv::new(); // embedded default: deny_below 0.6, approve_below 0.85
    let r = t.json(
        "agent",
        &["plan", "--key", "c1", "--confidence", "0.5", "--", "ls"],
    );
    assert_refused(&r, 18, "denied");
    assert_eq!(r.json()["plan"]["confidence"], 0.5);

    let p = t.plan("agent", "c2", &["--confidence", "0.7"], &["ls"]);
    assert_eq!(p["tier"], "read_only");
    assert_eq!(p["status"], "pending");
    assert!(p["approvals_required"].as_u64().unwrap() >= 1, "{p}");

    let p = t.plan("agent", "c3", &["--confidence", "0.9"], &["ls"]);
    assert_eq!(p["status"], "approved");
    assert_eq!(p["approvals_required"], 0);
}

#[test]
fn a_plan_that_needs_no_approval_is_approved_at_once() {
    let t = TestEnv::new(); // embedded default policy
    let p = t.plan("agent", "ro", &[], &["ls", "-la"]);
    assert_eq!(p["tier"], "read_only");
    assert_eq!(p["status"], "approved");
    assert_eq!(p["approvals_required"], 0);
    // It can be applied by its planner with no reviewer.
    let r = t.apply_json("agent", &p);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // reversible + require_dry_run: free with a dry-run, one approval without.
    let with = t.plan(
        "agent",
        "mk1",
        &["--dry-run", "true"],
        &["mkdir", "-p", "d1"],
    );
    assert_eq!(with["tier"], "reversible");
    assert_eq!(with["status"], "approved");
    let without = t.plan("agent", "mk2", &[], &["mkdir", "-p", "d2"]);
    assert_eq!(without["tier"], "reversible");
    assert_eq!(without["status"], "pending");
    assert_eq!(without["approvals_required"], 1);
}

#[test]
fn a_key_can_be_planned_again_after_reject_expire_or_deny() {
    // rejected
    let t = strict();
    let first = t.plan("agent", "again", &[], &["echo", "a"]);
    t.approve("alice", &first);
    let r = t.json("bob", &["reject", id(&first), "--reason", "not today"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = t.plan("agent", "again", &[], &["echo", "a"]);
    assert_ne!(second["id"], first["id"], "a new plan");
    assert_eq!(second["status"], "pending");
    assert_eq!(
        second["approvals"],
        serde_json::json!([]),
        "fresh approvals"
    );
    assert_eq!(count(&t.event_kinds(), "planned"), 2);

    // expired
    let mut t = strict_at(T0);
    let first = t.plan("agent", "again", &[], &["echo", "a"]);
    t.at("2026-01-01T02:00:00Z");
    let second = t.plan("agent", "again", &[], &["echo", "a"]);
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["status"], "pending");
    assert_eq!(t.show(&first)["status"], "expired");

    // denied
    let mut t = strict();
    let r = t.json(
        "agent",
        &["plan", "--key", "again", "--", "forbidden-thing"],
    );
    assert_eq!(r.code, 18);
    let first = r.json()["plan"].clone();
    t.with_policy(&STRICT_POLICY.replace("tier = \"deny\"", "tier = \"critical\""));
    let second = t.plan("agent", "again", &[], &["forbidden-thing"]);
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["status"], "pending");
    assert_eq!(second["approvals_required"], 2);
}

#[test]
fn a_rejected_key_can_be_planned_again_at_the_same_instant() {
    let t = strict_at(T0);
    let first = t.plan("agent", "again", &[], &["echo", "a"]);
    let r = t.json("bob", &["reject", id(&first), "--reason", "no"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = t.json("agent", &["plan", "--key", "again", "--", "echo", "a"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout_str(), r.stderr);
    assert_ne!(r.json()["id"], first["id"]);
}

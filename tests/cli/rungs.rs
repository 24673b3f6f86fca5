//! The ladder walked end to end, rung by rung.

use crate::harness::{STRICT_POLICY, TestEnv, apply_args, strict};
use serde_json::Value;

#[test]
fn plan_approve_apply_replay_round_trip() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "k1",
        &["--reason", "say hi"],
        &["sh", "-c", "printf 'out\\n'; printf 'err\\n' >&2; exit 3"],
    );
    assert_eq!(plan["status"], "pending");
    assert_eq!(plan["tier"], "irreversible");
    assert_eq!(plan["approvals_required"], 1);

    // Not approved yet: needs_approval, and nothing ran.
    let r = t.apply("agent", &plan);
    assert_eq!(r.code, 10, "{}", r.stderr);
    assert!(r.stderr.contains("needs 1 more approval"), "{}", r.stderr);

    assert_eq!(t.approve("alice", &plan).code, 0);
    let r = t.apply("agent", &plan);
    assert_eq!(r.code, 3, "exit code passes through: {}", r.stderr);
    assert_eq!(r.stdout, b"out\n");
    assert!(r.stderr.contains("err\n"));

    // The retry replays byte for byte and runs nothing.
    let again = t.apply("agent", &plan);
    assert_eq!(again.code, 3);
    assert_eq!(again.stdout, b"out\n");
    assert!(
        again.stderr.contains("replaying its recorded outcome"),
        "{}",
        again.stderr
    );
    let replay = t.json("agent", &["replay", "--key", "k1"]);
    assert_eq!(replay.code, 3);
    let exec = replay.json();
    assert_eq!(exec["replayed"], true);
    assert_eq!(exec["stdout"], "out\n");
    assert_eq!(exec["stderr"], "err\n");
    assert_eq!(
        t.event_kinds(),
        [
            "planned", "refused", "approved", "started", "applied", "replayed", "replayed"
        ]
    );
}

#[test]
fn the_command_runs_exactly_once() {
    let t = strict();
    let counter = t.path().join("count");
    let script = format!("echo x >> {}", counter.display());
    let plan = t.plan("agent", "once", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    for _ in 0..3 {
        assert_eq!(t.apply("agent", &plan).code, 0);
    }
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "x\n");
}

#[test]
fn the_command_runs_in_the_planned_directory_wherever_apply_is_invoked() {
    let t = strict();
    let planned = t.path().join("planned-here");
    std::fs::create_dir_all(&planned).unwrap();
    let r = t
        .cmd("agent")
        .current_dir(&planned)
        .args(["--json", "plan", "--key", "pwd", "--", "pwd"])
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&r.stdout).unwrap();
    t.approve("alice", &plan);
    let out = t
        .cmd("agent")
        .current_dir(t.path())
        .args(apply_args(&plan))
        .output()
        .unwrap();
    let canonical = std::fs::canonicalize(&planned).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        canonical.to_str().unwrap()
    );
}

#[test]
fn json_apply_captures_output_into_the_execution_object() {
    let t = strict();
    let plan = t.plan("agent", "j", &[], &["printf", "a\\0b"]);
    t.approve("alice", &plan);
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 0);
    let e = r.json();
    for field in [
        "plan",
        "key",
        "exit_code",
        "signal",
        "started_at",
        "finished_at",
        "duration_ms",
        "stdout",
        "stderr",
        "stdout_bytes",
        "stderr_bytes",
        "stdout_sha256",
        "stderr_sha256",
        "truncated",
        "replayed",
    ] {
        assert!(e.get(field).is_some(), "execution lacks {field}: {e}");
    }
    assert_eq!(e["stdout_bytes"], 3);
    assert_eq!(e["replayed"], false);
}

#[test]
fn a_signal_exit_is_128_plus_n() {
    let t = strict();
    let plan = t.plan("agent", "sig", &[], &["sh", "-c", "kill -TERM $$"]);
    t.approve("alice", &plan);
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 143);
    assert_eq!(r.json()["signal"], 15);
}

#[test]
fn output_is_capped_but_digests_cover_everything() {
    let mut t = TestEnv::new();
    t.with_policy(&format!("{STRICT_POLICY}\n"));
    let policy = STRICT_POLICY.replace(
        "separation_of_duties = true",
        "separation_of_duties = true\noutput_cap = 1024",
    );
    t.with_policy(&policy);
    let plan = t.plan("agent", "big", &[], &["head", "-c", "300000", "/dev/zero"]);
    t.approve("alice", &plan);
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let e = r.json();
    assert_eq!(e["truncated"], true);
    assert_eq!(e["stdout_bytes"], 300_000);
    let zeros = vec![0u8; 300_000];
    assert_eq!(e["stdout_sha256"], ladder::plan_hash::sha256_hex(&zeros));
    assert_eq!(e["stdout"].as_str().unwrap().len(), 1024);
}

#[test]
fn non_utf8_arguments_keep_their_exact_bytes_in_json() {
    use std::os::unix::ffi::OsStrExt;
    let t = strict();
    let out = t
        .cmd("agent")
        .args(["--json", "plan", "--key", "bytes", "--", "ls"])
        .arg(std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["command_base64"], serde_json::json!(["bHM=", "//4="]));
    let clean = t.plan("agent", "clean", &[], &["ls"]);
    assert!(clean["command_base64"].is_null());
}

#[test]
fn forgetting_the_double_dash_says_where_the_command_goes() {
    let t = strict();
    let r = t.run("agent", &["plan", "--key", "k", "ls", "-la"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("put the command after `--`"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_empty_ladder_state_variable_means_unset() {
    let t = strict();
    let r = t
        .cmd("agent")
        .env("LADDER_STATE", "")
        .args(["--json", "plan", "--key", "k", "--", "ls"])
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    // The default location, under the test's HOME, was used.
    assert!(t.path().join("home/.local/share/ladder/state.db").exists());
}

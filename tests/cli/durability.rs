//! Exactly once under contention and crashes, and the state file under load
//! (its WAL, its write queue, its journal mode). The state files ladder
//! refuses are in `state.rs`.

use crate::harness::{TestEnv, apply_args, strict};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn status_of(t: &TestEnv, plan: &Value) -> String {
    t.db()
        .query_row(
            "SELECT status FROM plans WHERE id = ?1",
            [plan["id"].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap()
}

/// `ladder --json resolve PLAN --outcome retry --reason REASON` as `actor`.
fn resolve_retry(t: &TestEnv, actor: &str, plan: &Value, reason: &str) -> crate::harness::Run {
    let id = plan["id"].as_str().unwrap();
    t.json(
        actor,
        &["resolve", id, "--outcome", "retry", "--reason", reason],
    )
}

fn wait_for_status(t: &TestEnv, plan: &Value, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(t, plan) != want {
        assert!(Instant::now() < deadline, "plan never became {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the command under test has created `marker`: it has started.
fn wait_until_started(marker: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn_apply(t: &TestEnv, plan: &Value, extra: &[&str]) -> Child {
    t.std_cmd("agent")
        .args(apply_args(plan))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling a child we spawned and have not reaped.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[test]
fn kill_9_during_the_run_leaves_it_interrupted_until_a_person_resolves_it() {
    let t = strict();
    let count = t.path().join("count");
    let fast = t.path().join("fast");
    let script = format!(
        "echo run >> {}; [ -f {} ] || exec sleep 3",
        count.display(),
        fast.display()
    );
    let plan = t.plan("agent", "crash", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);

    let mut ladder = spawn_apply(&t, &plan, &[]);
    wait_for_status(&t, &plan, "running");
    // `running` is committed, then synced, then the command starts: kill
    // ladder only once the command is under way.
    wait_until_started(&count);
    signal(&ladder, libc::SIGKILL);
    ladder.wait().unwrap();

    // `list` and `show` already tell the truth: the runner is gone.
    let listed = t
        .json("viewer", &["list", "--status", "interrupted"])
        .json();
    assert_eq!(listed["plans"][0]["id"], plan["id"], "{listed}");

    // The runner is dead: no second run, and the reason says what to do.
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 17, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "outcome_unknown");
    assert!(
        r.json()["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("ladder resolve")
    );
    assert_eq!(status_of(&t, &plan), "interrupted");
    assert_eq!(t.apply("agent", &plan).code, 17);
    assert!(t.event_kinds().contains(&"interrupted".to_string()));

    // `retry` allows exactly one more run.
    std::fs::write(&fast, "").unwrap();
    // Not by the agent that planned and ran it: it could retry forever.
    let own = resolve_retry(&t, "agent", &plan, "trust me");
    assert_eq!(own.code, 22, "{}", own.stdout_str());
    assert_eq!(own.error_code(), "not_allowed");
    let r = resolve_retry(&t, "alice", &plan, "checked: nothing happened");
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(t.apply("agent", &plan).code, 0);
    let again = t.apply("agent", &plan);
    assert_eq!(again.code, 0);
    assert!(again.stderr.contains("replaying"), "{}", again.stderr);
    // Started twice in all: the killed run and the one retry.
    let runs = std::fs::read_to_string(&count).unwrap();
    assert_eq!(runs.lines().count(), 2, "{runs}");
    let kinds = t.event_kinds();
    assert_eq!(kinds.iter().filter(|k| *k == "started").count(), 2);
    assert!(kinds.contains(&"resolved".to_string()));
}

/// Plans, approves and applies `sh -c` of a command that waits, and kills
/// ladder with SIGKILL once the command is under way: a run that is over,
/// still marked `running`, whose run lock nobody holds.
fn dead_run(t: &TestEnv, key: &str) -> Value {
    let started = t.path().join(format!("{key}.started"));
    let script = format!("touch {}; exec sleep 3", started.display());
    let plan = t.plan("agent", key, &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    let mut ladder = spawn_apply(t, &plan, &[]);
    wait_until_started(&started);
    signal(&ladder, libc::SIGKILL);
    ladder.wait().unwrap();
    assert_eq!(status_of(t, &plan), "running");
    plan
}

/// Whichever command looks at a dead run first tells the truth about it:
/// `interrupted` (outcome unknown), never "in flight", and the plan is
/// marked so with its ledger event. Before, only `apply`, `show`, `list`
/// and `resolve` noticed; `replay` answered `in_flight` for ever.
#[test]
fn every_command_calls_a_dead_run_interrupted() {
    let t = strict();
    let interrupted_events = |t: &TestEnv| {
        t.event_kinds()
            .iter()
            .filter(|k| *k == "interrupted")
            .count()
    };

    let plan = dead_run(&t, "by-replay");
    let r = t.json("agent", &["replay", "--key", "by-replay"]);
    assert_eq!(r.code, 17, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "outcome_unknown");
    assert_eq!(status_of(&t, &plan), "interrupted");
    assert_eq!(interrupted_events(&t), 1);

    let plan = dead_run(&t, "by-approve");
    let r = t.json("bob", &["approve", plan["id"].as_str().unwrap(), "--yes"]);
    assert_eq!(r.code, 17, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "outcome_unknown");
    assert_eq!(status_of(&t, &plan), "interrupted");

    let plan = dead_run(&t, "by-reject");
    let id = plan["id"].as_str().unwrap();
    let r = t.json("bob", &["reject", id, "--reason", "too late"]);
    assert_eq!(r.code, 22, "{}", r.stdout_str());
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("interrupted"), "{message}");
    assert_eq!(status_of(&t, &plan), "interrupted");

    // Planning the same key again finds the plan as it really stands.
    let plan = dead_run(&t, "by-plan");
    let argv = plan["command"].as_array().unwrap().clone();
    let argv: Vec<&str> = argv.iter().map(|a| a.as_str().unwrap()).collect();
    let again = t.plan("agent", "by-plan", &[], &argv);
    assert_eq!(again["id"], plan["id"]);
    assert_eq!(again["status"], "interrupted", "{again}");
    assert_eq!(status_of(&t, &plan), "interrupted");

    assert_eq!(interrupted_events(&t), 4);
    let verify = t.run("viewer", &["log", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

/// Two spellings of one state file are one state: an apply through a
/// symlink holds the same run lock as one through the real path, so the
/// plan is in flight for both and runs once.
#[test]
fn a_symlinked_state_path_shares_the_run_lock() {
    let t = strict();
    let link = t.path().join("link.db");
    std::os::unix::fs::symlink(t.state(), &link).unwrap();
    let started = t.path().join("started");
    let script = format!("touch {}; exec sleep 2", started.display());
    let plan = t.plan("agent", "via-link", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);

    let mut through_link = t.std_cmd("agent");
    through_link
        .env("LADDER_STATE", &link)
        .args(apply_args(&plan))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut first = through_link.spawn().unwrap();
    wait_until_started(&started);
    // Through the real path: still running, not a dead run to settle.
    let shown = t.json("viewer", &["show", "--key", "via-link"]).json();
    assert_eq!(shown["status"], "running", "{shown}");
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 16, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "in_flight");
    assert!(first.wait().unwrap().success());
    assert_eq!(status_of(&t, &plan), "applied");
    let kinds = t.event_kinds();
    assert_eq!(kinds.iter().filter(|k| *k == "started").count(), 1);
    assert!(!kinds.contains(&"interrupted".to_string()), "{kinds:?}");
}

/// The `running` record is synced before the command starts: when the sync
/// fails, nothing runs, and the plan waits for a person like any other
/// interrupted one.
#[test]
fn a_failed_sync_of_the_running_record_runs_nothing() {
    let mut t = strict();
    let marker = t.path().join("ran");
    let script = format!("echo run >> {}", marker.display());
    let plan = t.plan("agent", "sync", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);

    t.env("LADDER_TEST_FAIL_SYNC", "1");
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 1, "{}", r.stdout_str());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failed to sync state file"),
        "{}",
        r.stdout_str()
    );
    assert!(
        !marker.exists(),
        "the command ran before its record was synced"
    );
    assert_eq!(status_of(&t, &plan), "running");

    t.extra_env.clear();
    assert_eq!(t.apply("agent", &plan).code, 17);
    assert!(!marker.exists());
    let r = resolve_retry(&t, "alice", &plan, "disk fixed");
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(t.apply("agent", &plan).code, 0);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "run\n");
}

/// A state file taken out of WAL mode (a copy made with `VACUUM INTO`, a
/// journal mode changed by hand) still applies: there is no WAL to sync, so
/// the commit itself is made durable.
#[test]
fn a_state_file_in_rollback_journal_mode_still_applies() {
    let t = strict();
    let first = t.plan("agent", "one", &[], &["true"]);
    let mode: String = t
        .db()
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    let marker = t.path().join("ran");
    let script = format!("echo run >> {}", marker.display());
    let plan = t.plan("agent", "two", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    let r = t.apply("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "run\n");
    assert_eq!(status_of(&t, &plan), "applied");
    t.approve("alice", &first);
    assert_eq!(t.apply("agent", &first).code, 0);
}

#[test]
fn resolve_succeeded_makes_later_applies_replay() {
    let t = strict();
    let plan = t.plan("agent", "crash2", &[], &["sleep", "3"]);
    t.approve("alice", &plan);
    let mut ladder = spawn_apply(&t, &plan, &[]);
    wait_for_status(&t, &plan, "running");
    signal(&ladder, libc::SIGKILL);
    ladder.wait().unwrap();
    let id = plan["id"].as_str().unwrap();
    let r = t.json(
        "alice",
        &[
            "resolve",
            id,
            "--outcome",
            "succeeded",
            "--reason",
            "the logs show it finished",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["status"], "applied");
    let replay = t.apply_json("agent", &plan);
    assert_eq!(replay.code, 0);
    assert_eq!(replay.json()["replayed"], true);
    assert_eq!(replay.json()["resolution"]["outcome"], "succeeded");
    // Resolving twice is refused.
    let r = t.json(
        "alice",
        &["resolve", id, "--outcome", "failed", "--reason", "x"],
    );
    assert_eq!(r.code, 2);
}

#[test]
fn sigterm_to_ladder_is_forwarded_and_the_outcome_recorded() {
    let t = strict();
    let plan = t.plan("agent", "term", &[], &["sleep", "5"]);
    t.approve("alice", &plan);
    let started = Instant::now();
    let ladder = spawn_apply(&t, &plan, &[]);
    wait_for_status(&t, &plan, "running");
    std::thread::sleep(Duration::from_millis(100));
    signal(&ladder, libc::SIGTERM);
    let out = ladder.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(status_of(&t, &plan), "applied");
    assert_eq!(t.show(&plan)["execution"]["signal"], 15);
}

#[test]
fn timeout_kills_the_command_and_records_it() {
    let t = strict();
    let plan = t.plan("agent", "slow", &[], &["sleep", "10"]);
    t.approve("alice", &plan);
    let started = Instant::now();
    let r = t.json(
        "agent",
        &[apply_args(&plan), vec!["--timeout", "300ms"]].concat(),
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.code, 143);
    let e = r.json();
    assert_eq!(e["timed_out"], true);
    assert_eq!(e["signal"], 15);
    let r = t.json(
        "agent",
        &["apply", "--key", "slow", "--hash", "x", "--timeout", "10"],
    );
    assert_eq!(r.code, 2, "a bare number is not a duration");
}

#[test]
fn many_processes_racing_one_key_run_it_exactly_once() {
    let t = strict();
    let count = t.path().join("count");
    let script = format!("echo run >> {}; sleep 0.3", count.display());
    let plan = t.plan("agent", "race", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    let racers: Vec<Child> = (0..12)
        .map(|_| spawn_apply(&t, &plan, &["--json"]))
        .collect();
    let mut codes = vec![];
    for r in racers {
        let out = r.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !stderr.contains("locked") && !stderr.contains("busy"),
            "{stderr}"
        );
        codes.push(out.status.code().unwrap());
        if out.status.code() == Some(16) {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["error"]["code"], "in_flight");
        }
    }
    assert_eq!(
        std::fs::read_to_string(&count).unwrap(),
        "run\n",
        "codes: {codes:?}"
    );
    assert!(codes.iter().all(|c| *c == 0 || *c == 16), "{codes:?}");
    assert_eq!(
        t.event_kinds().iter().filter(|k| *k == "started").count(),
        1
    );
}

#[test]
fn many_processes_with_distinct_keys_all_succeed() {
    let t = strict();
    let plans: Vec<Value> = (0..12)
        .map(|i| {
            let p = t.plan("agent", &format!("k{i}"), &[], &["true", &i.to_string()]);
            t.approve("alice", &p);
            p
        })
        .collect();
    let racers: Vec<Child> = plans.iter().map(|p| spawn_apply(&t, p, &[])).collect();
    for r in racers {
        let out = r.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v = t.run("viewer", &["log", "--verify"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
}

#[test]
fn large_output_streams_through_and_the_record_is_capped() {
    let t = strict();
    // 32 MiB on stdout, streamed to the caller while only 1 MiB is kept.
    let plan = t.plan(
        "agent",
        "big",
        &[],
        &["head", "-c", "33554432", "/dev/zero"],
    );
    t.approve("alice", &plan);
    let r = t.apply("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.len(), 33_554_432);
    let e = &t.show(&plan)["execution"];
    assert_eq!(e["stdout_bytes"], 33_554_432);
    assert_eq!(e["truncated"], true);
    assert_eq!(e["stdout"].as_str().unwrap().len(), 1_048_576);
}

/// Frames a new connection would read back from a WAL file: those after the
/// header that carry its salt, up to the first that does not.
fn live_wal_frames(wal: &std::path::Path) -> usize {
    let Ok(bytes) = std::fs::read(wal) else {
        return 0;
    };
    if bytes.len() < 32 {
        return 0;
    }
    let page = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let salt = &bytes[16..24];
    bytes[32..]
        .chunks_exact(24 + page)
        .take_while(|frame| &frame[8..16] == salt)
        .count()
}

/// Each ladder process is usually the only connection to the state file. If
/// ladder left checkpoints to SQLite, the WAL would never start over and
/// would grow with every plan, each process re-reading all of it (12 ms a
/// plan after 400 plans); ladder copies it into the database and starts it
/// over every 64 frames instead.
#[test]
fn the_wal_stays_short_when_plans_come_one_process_at_a_time() {
    let t = strict();
    let wal = std::path::PathBuf::from(format!("{}-wal", t.state().display()));
    let (mut longest, mut largest_file) = (0, 0);
    for i in 0..40 {
        t.plan("agent", &format!("k{i}"), &[], &["true", &i.to_string()]);
        longest = longest.max(live_wal_frames(&wal));
        largest_file = largest_file.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // 64 frames, plus the frames of the plan that crossed the mark; 40 plans
    // write about 320.
    assert!(longest > 8, "the state should be in WAL mode");
    assert!(longest <= 80, "the WAL grew to {longest} live frames");
    assert!(
        largest_file < 100 * 4120,
        "the WAL file grew to {largest_file} bytes"
    );
    let plans: i64 = t
        .db()
        .query_row("SELECT count(*) FROM plans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(plans, 40);
    let verify = t.run("agent", &["log", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

#[cfg(target_os = "linux")]
#[test]
fn a_writer_waits_in_the_queue_while_another_holds_its_turn_and_then_writes() {
    use ladder::store::sqlite::write_queue::WriteQueue;
    let t = strict();
    t.plan("agent", "first", &[], &["true"]);
    // This test process takes the writers' turn, as a ladder in the middle
    // of a write would.
    let mut queue = WriteQueue::new(&t.state());
    let turn = queue.turn(Duration::from_secs(5)).unwrap();
    let mut child = t
        .std_cmd("agent")
        .args(["--json", "plan", "--key", "second", "--", "true"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let waited = child.try_wait().unwrap().is_none();
    drop(turn);
    let out = child.wait_with_output().unwrap();
    assert!(
        waited,
        "plan finished while another writer held the turn: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    let plans: i64 = t
        .db()
        .query_row("SELECT count(*) FROM plans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(plans, 2);
}

/// `log --verify` cross-checks every plan row against its events: a state
/// that only ladder wrote must pass, whatever each plan went through.
#[test]
fn log_verify_accepts_an_untouched_state_with_plans_in_every_status() {
    let mut t = strict();
    // Expired: planned long ago, never approved.
    t.at("2020-01-01T00:00:00Z");
    t.plan("agent", "expired", &[], &["echo", "old"]);
    t.now = None;

    let applied = t.plan("agent", "applied", &[], &["echo", "a"]);
    t.approve("alice", &applied);
    assert_eq!(t.apply("agent", &applied).code, 0);
    assert_eq!(t.apply("agent", &applied).code, 0, "a replay");

    let free = t.plan("agent", "free", &[], &["ls"]);
    assert_eq!(free["status"], "approved");
    assert_eq!(t.apply("agent", &free).code, 0);

    let critical = t.plan("agent", "two", &[], &["deploy-prod", "x"]);
    t.approve("alice", &critical);
    t.approve("bob", &critical);
    assert_eq!(status_of(&t, &critical), "approved");

    let rejected = t.plan("agent", "again", &[], &["echo", "r"]);
    let r = t.json(
        "alice",
        &["reject", rejected["id"].as_str().unwrap(), "--reason", "no"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    // Refused along the way: the ledger records it, nothing else changes.
    assert_eq!(t.apply_json("agent", &rejected).code, 11);
    // The key planned again after the rejection: a new plan.
    let replanned = t.plan("agent", "again", &[], &["echo", "r2"]);
    assert_ne!(replanned["id"], rejected["id"]);

    let r = t.json(
        "agent",
        &["plan", "--key", "denied", "--", "forbidden-thing"],
    );
    assert_eq!(r.code, 18, "{}", r.stdout_str());

    t.plan("agent", "pending", &[], &["echo", "p"]);

    // Interrupted, resolved retry, applied.
    let marker = t.path().join("started");
    let script = format!(
        "touch {}; [ -f {}.fast ] || exec sleep 5",
        marker.display(),
        marker.display()
    );
    let crashed = t.plan("agent", "crash", &[], &["sh", "-c", &script]);
    t.approve("alice", &crashed);
    let mut ladder = spawn_apply(&t, &crashed, &[]);
    wait_until_started(&marker);
    signal(&ladder, libc::SIGKILL);
    ladder.wait().unwrap();
    assert_eq!(t.apply_json("agent", &crashed).code, 17);
    assert_eq!(
        resolve_retry(&t, "alice", &crashed, "nothing happened").code,
        0
    );
    std::fs::write(format!("{}.fast", marker.display()), "").unwrap();
    assert_eq!(t.apply("agent", &crashed).code, 0);

    // Interrupted, resolved as succeeded.
    let _ = std::fs::remove_file(&marker);
    let settled = t.plan(
        "agent",
        "settled",
        &[],
        &["sh", "-c", &script.replace(".fast", ".never")],
    );
    t.approve("alice", &settled);
    let mut ladder = spawn_apply(&t, &settled, &[]);
    wait_until_started(&marker);
    signal(&ladder, libc::SIGKILL);
    ladder.wait().unwrap();
    let r = t.json(
        "alice",
        &[
            "resolve",
            settled["id"].as_str().unwrap(),
            "--outcome",
            "succeeded",
            "--reason",
            "done by hand",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());

    let statuses: std::collections::BTreeSet<String> =
        t.json("viewer", &["list", "--status", "all"]).json()["plans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["status"].as_str().unwrap().to_string())
            .collect();
    for want in [
        "applied", "approved", "denied", "expired", "pending", "rejected",
    ] {
        assert!(statuses.contains(want), "{want} missing from {statuses:?}");
    }
    let r = t.json("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["verified"], true);
}

//! Every row of the contract's command table and exit-code table, exercised
//! through the binary the way a new user would (see /work/shared/CONTRACT.md).
//!
//! Groups: output conventions (JSON, human errors, global options), `plan`,
//! `approve`, `reject`, `apply` (each refusal in the contract's order),
//! crashes (`in_flight`, `outcome_unknown`, `resolve`), `replay`, `log`
//! (filters and `--verify`), `show`/`list`, `policy`, `completions`/`man`,
//! and a corrupt state file.

use crate::harness::{Run, STRICT_POLICY, TestEnv};
use serde_json::Value;
use std::collections::BTreeMap;

const T0: &str = "2026-01-01T00:00:00Z";

fn strict() -> TestEnv {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    t
}

fn strict_at(now: &str) -> TestEnv {
    let mut t = strict();
    t.at(now);
    t
}

fn id(plan: &Value) -> &str {
    plan["id"].as_str().expect("plan id")
}

fn key(plan: &Value) -> &str {
    plan["key"].as_str().expect("plan key")
}

fn hash(plan: &Value) -> &str {
    plan["hash"].as_str().expect("plan hash")
}

/// Asserts a `--json` refusal: the exit code, `error.code`, a message, and
/// nothing but one JSON object on stdout.
#[track_caller]
fn assert_refused(r: &Run, code: i32, name: &str) {
    assert_eq!(
        r.code,
        code,
        "expected exit {code} ({name})\nstdout: {}\nstderr: {}",
        r.stdout_str(),
        r.stderr
    );
    let v = r.json();
    assert_eq!(v["error"]["code"], name, "{v}");
    let msg = v["error"]["message"].as_str().unwrap_or("");
    assert!(!msg.is_empty(), "error without a message: {v}");
}

/// Asserts a human refusal: the exit code, nothing on stdout, and exactly one
/// line on stderr starting `ladder: `.
#[track_caller]
fn assert_human_error(r: &Run, code: i32) {
    assert_eq!(
        r.code,
        code,
        "stdout: {}\nstderr: {}",
        r.stdout_str(),
        r.stderr
    );
    assert!(
        r.stdout.is_empty(),
        "stdout must be empty: {:?}",
        r.stdout_str()
    );
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {:?}", r.stderr);
    assert!(lines[0].starts_with("ladder: "), "{:?}", r.stderr);
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

fn last_event(t: &TestEnv) -> Value {
    t.events().pop().expect("at least one event")
}

/// The plan's row number (what the run lock is keyed on).
fn seq_of(t: &TestEnv, plan: &Value) -> i64 {
    t.db()
        .query_row("SELECT seq FROM plans WHERE id = ?1", [id(plan)], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Every row of every table but the ledger, as text: what a refusal must
/// leave untouched.
fn snapshot(t: &TestEnv) -> BTreeMap<String, Vec<String>> {
    let db = t.db();
    let mut out = BTreeMap::new();
    for table in ["plans", "approvals", "executions"] {
        let mut stmt = db.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |row| {
                let mut cells = Vec::new();
                for i in 0..n {
                    let v: rusqlite::types::Value = row.get(i)?;
                    cells.push(format!("{v:?}"));
                }
                Ok(cells.join("|"))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.sort();
        out.insert(table.to_string(), rows);
    }
    out
}

/// Simulates a ladder that died while running the plan: the plan is marked
/// `running` with a started execution, and nobody holds its run lock.
fn simulate_crash(t: &TestEnv, plan: &Value) {
    let db = t.db();
    db.execute(
        "UPDATE plans SET status = 'running' WHERE id = ?1",
        [id(plan)],
    )
    .unwrap();
    db.execute(
        "INSERT INTO executions (plan, attempt, key, tier, rule, actor, pid, started_at)
         SELECT id, 1, key, tier, rule, 'agent', 999999, created_at FROM plans WHERE id = ?1",
        [id(plan)],
    )
    .unwrap();
}

fn is_rfc3339_utc(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with('Z') && ladder::clock::parse_rfc3339(s).is_ok())
}

fn is_sha256_hex(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 64
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

// ---------------------------------------------------------------------------
// Output conventions and global options
// ---------------------------------------------------------------------------

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

/// A pipe whose reader is already gone: every write to it fails with EPIPE.
#[cfg(target_os = "linux")]
fn closed_pipe() -> std::process::Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two fresh descriptors, each owned once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    std::process::Stdio::from(writer)
}

/// Output a script never got is not success: a full disk (`>/dev/full`) is
/// exit 1 with one line on stderr. A reader that went away (`| head`) has
/// what it wanted: a quiet exit 0.
#[cfg(target_os = "linux")]
#[test]
fn output_that_cannot_be_written_is_error_1_and_a_closed_pipe_is_quiet() {
    use std::process::Stdio;
    // Every write fails with ENOSPC.
    let full = || {
        let dev = std::fs::OpenOptions::new().write(true).open("/dev/full");
        Stdio::from(dev.unwrap())
    };
    let t = TestEnv::new();
    // Runs ladder with the given stdout: its exit code and its stderr.
    let run_to = |args: &[&str], stdout: Stdio| {
        let out = t
            .std_cmd("agent")
            .args(args)
            .stdout(stdout)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    let plan = t.plan("agent", "k", &[], &["echo", "hi"]);
    assert_eq!(t.apply("agent", &plan).code, 0);
    let commands: [&[&str]; 5] = [
        &["log"],
        &["--json", "log"],
        &["replay", "--key", "k"],
        &["--json", "replay", "--key", "k"],
        &["show", id(&plan)],
    ];
    for args in commands {
        let (code, stderr) = run_to(args, full());
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("ladder: failed to write to stdout: No space left on device"),
            "{args:?}: {stderr}"
        );
        let (code, stderr) = run_to(args, closed_pipe());
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("failed to write"), "{args:?}: {stderr}");
    }

    // `apply` and `replay` pass the command's code through a reader that
    // went away, and still write the recorded stderr; a full disk is 1.
    let coded = t.plan(
        "agent",
        "coded",
        &[],
        &["sh", "-c", "seq 1 100000; echo FAILED >&2; exit 4"],
    );
    t.approve("alice", &coded);
    let hash = coded["hash"].as_str().unwrap();
    let first = ["--json", "apply", "--key", "coded", "--hash", hash];
    let (code, stderr) = run_to(&first, closed_pipe());
    assert_eq!(code, Some(4), "{stderr}");
    let passing: [&[&str]; 4] = [
        &["replay", "--key", "coded"],
        &["--json", "replay", "--key", "coded"],
        &["apply", "--key", "coded", "--hash", hash],
        &first,
    ];
    for args in passing {
        let (code, stderr) = run_to(args, closed_pipe());
        assert_eq!(code, Some(4), "{args:?}: {stderr}");
        if !args.contains(&"--json") {
            assert!(stderr.contains("FAILED"), "{args:?}: {stderr}");
        }
        let (code, stderr) = run_to(args, full());
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("failed to write to stdout"),
            "{args:?}: {stderr}"
        );
    }

    // A refusal keeps its own code when its JSON report cannot be written,
    // and the report goes to stderr instead of being lost.
    let pending = t.plan("agent", "p", &[], &["rm", "-rf", "build"]);
    let hash = pending["hash"].as_str().unwrap();
    let (code, stderr) = run_to(&["--json", "apply", "--key", "p", "--hash", hash], full());
    assert_eq!(code, Some(10), "{stderr}");
    assert!(stderr.contains("failed to write to stdout"), "{stderr}");
    assert!(stderr.contains("needs 1 more approval"), "{stderr}");
}

/// A stderr that cannot be written (a full disk, a reader gone) costs the
/// messages on it, never the command: each exits with the code it would
/// have had, not a panic's 101.
#[cfg(target_os = "linux")]
#[test]
fn a_stderr_that_cannot_be_written_changes_no_exit_code() {
    use std::process::Stdio;
    let t = TestEnv::new();
    let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
    let run = |actor: &str, args: &[&str], stderr: Stdio| {
        let out = t.std_cmd(actor).args(args).stderr(stderr).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // Each of these writes a line to stderr in human mode.
    let (code, _) = run("agent", &["list"], full());
    assert_eq!(code, Some(0), "list before any state exists");
    let (code, stdout) = run("agent", &["plan", "--key", "a", "--", "rm", "x"], full());
    assert_eq!(code, Some(0), "plan: {stdout}");
    assert!(
        stdout.contains("pending"),
        "plan still printed its card: {stdout}"
    );
    let (code, _) = run(
        "agent",
        &["plan", "--key", "b", "--", "rm", "y"],
        closed_pipe(),
    );
    assert_eq!(code, Some(0), "plan, stderr a closed pipe");
    let (code, _) = run("agent", &["list", "--status", "applied"], full());
    assert_eq!(code, Some(0), "list with nothing to show");
    let (code, _) = run("agent", &["reject", "--key", "a", "--reason", "no"], full());
    assert_eq!(code, Some(0), "reject");
    // An error report that cannot be shown keeps its code (not_found).
    let (code, _) = run("agent", &["show", "ffffffff"], full());
    assert_eq!(code, Some(3), "show of an unknown plan");
    // The command's own stderr, teed by apply, too.
    let loud = t.plan(
        "agent",
        "loud",
        &[],
        &["sh", "-c", "echo out; echo err >&2"],
    );
    let (code, _) = run("alice", &["approve", "--key", "loud", "--yes"], full());
    assert_eq!(code, Some(0), "approve");
    let hash = loud["hash"].as_str().unwrap();
    let (code, stdout) = run("agent", &["apply", "--key", "loud", "--hash", hash], full());
    assert_eq!(code, Some(0), "apply");
    assert_eq!(stdout, "out\n");
    let (code, _) = run("agent", &["replay", "--key", "loud"], closed_pipe());
    assert_eq!(code, Some(0), "replay, stderr a closed pipe");
}

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
        (
            &["apply", "--key", "j", "--hash", hash(&plan)],
            10,
            "needs_approval",
        ),
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
fn actor_comes_from_flag_then_env_then_os_user() {
    let t = strict();
    let p = t.plan("env-actor", "a1", &[], &["echo", "1"]);
    assert_eq!(p["actor"], "env-actor");

    let r = t.json(
        "env-actor",
        &[
            "--actor",
            "flag-actor",
            "plan",
            "--key",
            "a2",
            "--",
            "echo",
            "2",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["actor"], "flag-actor");

    let out = t
        .cmd("ignored")
        .env_remove("LADDER_ACTOR")
        .env("USER", "os-user")
        .args(["--json", "plan", "--key", "a3", "--", "echo", "3"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["actor"], "os-user", "{v}");

    // The recorded ledger actor follows the same rule.
    let ev = last_event(&t);
    assert_eq!(ev["actor"], "os-user");
}

#[test]
fn state_path_comes_from_flag_env_or_the_user_data_directory() {
    let t = strict();
    // --state wins over LADDER_STATE.
    let other = t.path().join("elsewhere.db");
    let r = t.json(
        "agent",
        &[
            "--state",
            other.to_str().unwrap(),
            "plan",
            "--key",
            "s",
            "--",
            "echo",
            "s",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(other.exists());
    assert!(
        !t.state().exists(),
        "LADDER_STATE was overridden by --state"
    );

    // LADDER_STATE is used when no flag is given.
    t.plan("agent", "s", &[], &["echo", "s"]);
    assert!(t.state().exists());

    // Neither: state.db in the user data directory.
    let out = t
        .cmd("agent")
        .env_remove("LADDER_STATE")
        .args(["--json", "plan", "--key", "d", "--", "echo", "d"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.path().join("home/.local/share/ladder/state.db").exists());
}

#[test]
fn policy_comes_from_flag_env_config_dir_or_the_embedded_default() {
    let t = TestEnv::new(); // no LADDER_POLICY
    let origin = |r: Run| r.json()["origin"].as_str().unwrap().to_string();

    // Embedded default when nothing is configured.
    let embedded = origin(t.json("u", &["policy", "show"]));
    assert!(embedded.contains("embedded"), "{embedded}");

    // policy.toml in the user config directory.
    let cfg = t.path().join("home/.config/ladder");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("policy.toml"), STRICT_POLICY).unwrap();
    let from_cfg = origin(t.json("u", &["policy", "show"]));
    assert!(
        from_cfg.ends_with("home/.config/ladder/policy.toml"),
        "{from_cfg}"
    );
    // ...and it is the one plans are classified by (STRICT: `echo` is irreversible).
    let p = t.plan("agent", "c", &[], &["echo", "c"]);
    assert_eq!(p["tier"], "irreversible");

    // LADDER_POLICY over the config directory, --policy over LADDER_POLICY.
    let lenient = STRICT_POLICY.replace("tier = \"irreversible\"", "tier = \"read_only\"");
    let env_file = t.path().join("env-policy.toml");
    std::fs::write(&env_file, &lenient).unwrap();
    let flag_file = t.path().join("flag-policy.toml");
    std::fs::write(&flag_file, &lenient).unwrap();
    let out = t
        .cmd("u")
        .env("LADDER_POLICY", &env_file)
        .args(["--json", "policy", "show"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["origin"], env_file.to_str().unwrap());
    let out = t
        .cmd("u")
        .env("LADDER_POLICY", &env_file)
        .args([
            "--json",
            "--policy",
            flag_file.to_str().unwrap(),
            "policy",
            "show",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["origin"], flag_file.to_str().unwrap());
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

    let apply = |p: &Value| -> Vec<String> {
        vec![
            "apply".into(),
            "--key".into(),
            key(p).into(),
            "--hash".into(),
            hash(p).into(),
        ]
    };
    let owned = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
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
        let before = snapshot(&t);
        let n = t.events().len();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&t.json(actor, &args), code, name);
        assert_eq!(
            snapshot(&t),
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
    let before = snapshot(&t);
    let out = t
        .cmd("agent")
        .env("BOUND", "v2")
        .args(["--json", "apply", "--key", "bound", "--hash", hash(&bound)])
        .output()
        .unwrap();
    assert_refused(&Run::from(out), 14, "stale");
    assert_eq!(snapshot(&t), before);
    assert_eq!(last_event(&t)["detail"]["code"], "stale");
}

// ---------------------------------------------------------------------------
// plan
// ---------------------------------------------------------------------------

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
    let snap = snapshot(&t);
    let r = t.json("agent", &["plan", "--key", "kc", "--", "echo", "two"]);
    assert_refused(&r, 15, "key_conflict");
    assert_eq!(
        snapshot(&t),
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
fn the_hash_is_content_only_and_the_same_on_any_machine() {
    // Each plan in a fresh environment of its own (state, home, clock).
    fn hash_of(
        now: &str,
        actor: &str,
        env: &[(&str, &str)],
        key: &str,
        flags: &[&str],
        argv: &[&str],
    ) -> String {
        let mut t = strict_at(now);
        // HOME is bound (the loader environment); each fresh environment
        // has its own, so give them the same one: the same content.
        t.env("HOME", "/nonexistent/home");
        for (k, v) in env {
            t.env(k, v);
        }
        t.plan(actor, key, flags, argv)["hash"]
            .as_str()
            .unwrap()
            .to_string()
    }
    let env = [("BOUND", "v1"), ("OUT", "o1")];
    let flags = ["--cwd", "/", "--env", "BOUND", "--dry-run", "printenv OUT"];
    let argv = ["echo", "go"];
    let base = hash_of(T0, "agent-a", &env, "k", &flags, &argv);
    assert!(is_sha256_hex(&Value::from(base.clone())));

    // Another machine, time, actor and reason: the same hash.
    let mut with_reason = flags.to_vec();
    with_reason.extend(["--reason", "other words", "--target", "t"]);
    assert_eq!(
        base,
        hash_of(
            "2027-06-30T12:34:56Z",
            "agent-b",
            &env,
            "k",
            &with_reason,
            &argv
        )
    );

    // Key, argv, cwd, a bound value, the dry-run command or its output: another hash.
    let cwd_tmp = [
        "--cwd",
        "/tmp",
        "--env",
        "BOUND",
        "--dry-run",
        "printenv OUT",
    ];
    let other_dry = [
        "--cwd",
        "/",
        "--env",
        "BOUND",
        "--dry-run",
        "printenv BOUND",
    ];
    let no_dry = ["--cwd", "/", "--env", "BOUND"];
    let no_env = ["--cwd", "/", "--dry-run", "printenv OUT"];
    // The dry-run's error output counts as much as its output.
    let stderr_dry = ["--cwd", "/", "--dry-run", "sh -c 'printenv OUT >&2'"];
    assert_ne!(
        hash_of(T0, "a", &env, "k", &stderr_dry, &argv),
        hash_of(T0, "a", &[("OUT", "o2")], "k", &stderr_dry, &argv),
        "dry-run stderr must change the hash"
    );
    for (what, env, key, flags, argv) in [
        ("key", &env[..], "k2", &flags[..], &argv[..]),
        ("argv", &env, "k", &flags, &["echo", "gone"]),
        ("cwd", &env, "k", &cwd_tmp, &argv),
        (
            "bound value",
            &[("BOUND", "v2"), ("OUT", "o1")],
            "k",
            &flags,
            &argv,
        ),
        ("binding", &env, "k", &no_env, &argv),
        (
            "dry-run output",
            &[("BOUND", "v1"), ("OUT", "o2")],
            "k",
            &flags,
            &argv,
        ),
        ("dry-run command", &env, "k", &other_dry, &argv),
        ("no dry-run", &env, "k", &no_dry, &argv),
    ] {
        assert_ne!(
            base,
            hash_of(T0, "agent-a", env, key, flags, argv),
            "{what} must change the hash"
        );
    }
}

/// The hash recomputed from the documented canonical form (plan_hash.rs,
/// "Canonical form", version 2), independently of ladder's code: the
/// program is resolved on PATH and stat-ed here, the directory too.
#[test]
fn the_hash_follows_the_documented_canonical_form() {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    fn sha(b: &[u8]) -> String {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }
    fn rec(out: &mut Vec<u8>, tag: &str, bytes: &[u8]) {
        out.extend_from_slice(format!("{tag} {}:", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    fn file_id(path: &std::path::Path) -> String {
        let m = std::fs::metadata(path).unwrap();
        format!(
            "{}:{}:{}:{}:{}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128
        )
    }
    fn on_path(name: &str) -> std::path::PathBuf {
        std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .unwrap()
    }
    // The bound environment: BOUND and ZZ_UNSET by --env, then the loader
    // environment, which the harness leaves at PATH and HOME (set) and the
    // rest unset. Its names are checked against the plan's own list, whose
    // values must be the digests of what this test set.
    let mut t = strict();
    t.env("BOUND", "v1");
    let plan = t.plan(
        "agent",
        "doc key",
        &[
            "--cwd",
            "/",
            "--env",
            "ZZ_UNSET",
            "--env",
            "BOUND",
            "--dry-run",
            "printf 'hi\n'",
        ],
        &["echo", "a b", "c\nd"],
    );
    assert_eq!(plan["hash_version"], 2);
    let env = plan["env"].as_object().unwrap();
    assert_eq!(env["BOUND"], sha(b"v1"));
    assert_eq!(env["ZZ_UNSET"], Value::Null);
    assert_eq!(env["PATH"], sha(std::env::var("PATH").unwrap().as_bytes()));
    assert_eq!(
        env["HOME"],
        sha(t.path().join("home").as_os_str().as_encoded_bytes())
    );
    for (name, digest) in env {
        if !["BOUND", "PATH", "HOME"].contains(&name.as_str()) {
            assert_eq!(digest, &Value::Null, "{name} is not set in the test");
        }
    }
    let echo = on_path("echo");
    let root = std::fs::metadata("/").unwrap();
    let cwd_id = format!("{}:{}", root.dev(), root.ino());
    let mut c = b"ladder-plan-v2\n".to_vec();
    rec(&mut c, "key", b"doc key");
    rec(&mut c, "argc", b"3");
    for a in ["echo", "a b", "c\nd"] {
        rec(&mut c, "arg", a.as_bytes());
    }
    rec(&mut c, "cwd", b"/");
    rec(&mut c, "cwd-id", cwd_id.as_bytes());
    rec(&mut c, "program", echo.as_os_str().as_encoded_bytes());
    rec(&mut c, "program-id", file_id(&echo).as_bytes());
    rec(&mut c, "file-count", b"0");
    for (name, digest) in env {
        match digest.as_str() {
            Some(d) => rec(&mut c, "env", format!("{name}={d}").as_bytes()),
            None => rec(&mut c, "env", format!("{name}!unset").as_bytes()),
        }
    }
    rec(&mut c, "dry-run-argc", b"2");
    rec(&mut c, "dry-run-arg", b"printf");
    rec(&mut c, "dry-run-arg", b"hi\n");
    rec(&mut c, "dry-run-exit", b"0");
    rec(&mut c, "dry-run-stdout-sha256", sha(b"hi\n").as_bytes());
    rec(&mut c, "dry-run-stderr-sha256", sha(b"").as_bytes());
    assert_eq!(plan["hash"], sha(&c), "{plan}");

    // An interpreter's script is bound after the program.
    std::fs::write(t.work().join("job.sh"), "echo hi\n").unwrap();
    let job = t.plan("agent", "job", &[], &["sh", "job.sh"]);
    let script = t.work().canonicalize().unwrap().join("job.sh");
    assert_eq!(job["files"][0]["path"], script.to_str().unwrap());
    assert_eq!(job["files"][0]["id"], file_id(&script));
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
    let r = t.json("agent", &["apply", "--key", "nope", "--hash", hash(plan)]);
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

// ---------------------------------------------------------------------------
// approve and reject
// ---------------------------------------------------------------------------

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
    let snap = snapshot(&t);
    let r = t.approve("agent", &plan);
    assert_refused(&r, 22, "not_allowed");
    assert_eq!(snapshot(&t), snap);
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
    let snap = snapshot(&t);
    assert_refused(&t.approve("alice", &plan), 22, "not_allowed");
    assert_eq!(snapshot(&t), snap);
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
    let snap = snapshot(&t);
    let r = t.json(
        "alice",
        &["approve", id(&plan), "--yes", "--hash", &"a".repeat(64)],
    );
    assert_refused(&r, 13, "hash_mismatch");
    assert_eq!(snapshot(&t), snap);
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
// apply: each check, in the contract's order
// ---------------------------------------------------------------------------

/// A plan whose command leaves a mark, so a test can tell whether it ran.
fn marker_plan(t: &TestEnv, actor: &str, key: &str, flags: &[&str]) -> (Value, std::path::PathBuf) {
    let mark = t.path().join(format!("ran-{}", key.replace('/', "_")));
    let plan = t.plan(actor, key, flags, &["touch", mark.to_str().unwrap()]);
    (plan, mark)
}

#[test]
fn apply_with_no_such_plan_or_key_is_not_found() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "nf", &[]);
    t.approve("alice", &plan);
    let r = t.json(
        "agent",
        &["apply", "--key", "no-such-key", "--hash", hash(&plan)],
    );
    assert_refused(&r, 3, "not_found");
    let ev = last_event(&t);
    assert_eq!(ev["kind"], "refused");
    assert_eq!(ev["key"], "no-such-key");
    let r = t.json(
        "agent",
        &["apply", "ffffffff", "--key", "nf", "--hash", hash(&plan)],
    );
    assert_refused(&r, 3, "not_found");
    assert!(!mark.exists());
}

#[test]
fn apply_with_a_plan_and_a_key_that_is_not_its_key_is_key_conflict() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "mine", &[]);
    let (_other, _) = marker_plan(&t, "agent", "theirs", &[]);
    t.approve("alice", &plan);
    let r = t.json(
        "agent",
        &["apply", id(&plan), "--key", "theirs", "--hash", hash(&plan)],
    );
    assert_refused(&r, 15, "key_conflict");
    assert!(!mark.exists());
    // The plan named by id, with its own key, runs.
    let r = t.json(
        "agent",
        &[
            "apply",
            &id(&plan)[..8],
            "--key",
            "mine",
            "--hash",
            hash(&plan),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert!(mark.exists());
}

#[test]
fn apply_with_the_wrong_hash_is_hash_mismatch_and_runs_nothing() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "hm", &[]);
    t.approve("alice", &plan);
    let snap = snapshot(&t);
    let r = t.json(
        "agent",
        &["apply", "--key", "hm", "--hash", &"b".repeat(64)],
    );
    assert_refused(&r, 13, "hash_mismatch");
    assert_eq!(snapshot(&t), snap);
    assert_eq!(last_event(&t)["kind"], "refused");
    assert_eq!(last_event(&t)["detail"]["code"], "hash_mismatch");
    assert!(!mark.exists());
    assert_human_error(
        &t.run(
            "agent",
            &["apply", "--key", "hm", "--hash", &"b".repeat(64)],
        ),
        13,
    );
    assert_eq!(t.apply("agent", &plan).code, 0);
    assert!(mark.exists());
}

#[test]
fn apply_checks_run_in_the_contract_order() {
    let t = strict();
    // key before hash before status: a rejected plan with a wrong hash is 13.
    let rejected = t.plan("agent", "o1", &[], &["echo", "1"]);
    assert_eq!(
        t.json("bob", &["reject", id(&rejected), "--reason", "no"])
            .code,
        0
    );
    let r = t.json(
        "agent",
        &["apply", id(&rejected), "--key", "zz", "--hash", "00"],
    );
    assert_refused(&r, 15, "key_conflict");
    let r = t.json("agent", &["apply", "--key", "o1", "--hash", "00"]);
    assert_refused(&r, 13, "hash_mismatch");
    assert_refused(&t.apply_json("agent", &rejected), 11, "rejected");

    // Already applied: replay (the recorded outcome, nothing runs).
    let applied = t.plan("agent", "o2", &[], &["echo", "2"]);
    t.approve("alice", &applied);
    assert_eq!(t.apply("agent", &applied).code, 0);
    let r = t.apply_json("agent", &applied);
    assert_eq!(r.code, 0);
    assert_eq!(r.json()["replayed"], true);
    // ...but the hash is still checked before replaying.
    let r = t.json(
        "agent",
        &["apply", "--key", "o2", "--hash", &"c".repeat(64)],
    );
    assert_refused(&r, 13, "hash_mismatch");
}

#[test]
fn apply_after_the_approval_window_is_expired() {
    let mut t = strict_at(T0);
    let (plan, mark) = marker_plan(&t, "agent", "exp", &[]);
    assert_eq!(plan["expires_at"], "2026-01-01T01:00:00.000Z");
    t.at("2026-01-01T01:00:01Z");
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 12, "expired");
    assert!(!mark.exists());
    assert_eq!(t.show(&plan)["status"], "expired");
    assert_eq!(t.event_kinds(), ["planned", "expired", "refused"]);
    let r = t.apply("agent", &plan);
    assert_human_error(&r, 12);
}

#[test]
fn apply_after_the_apply_window_is_expired() {
    let mut t = strict_at(T0);
    let (plan, mark) = marker_plan(&t, "agent", "exp2", &[]);
    t.at("2026-01-01T00:30:00Z");
    let approved = t.approve("alice", &plan).json();
    assert_eq!(
        approved["expires_at"], "2026-01-02T00:30:00.000Z",
        "apply_ttl 24h"
    );
    t.at("2026-01-02T00:29:59Z");
    assert_eq!(t.show(&plan)["status"], "approved");
    t.at("2026-01-02T00:30:01Z");
    assert_refused(&t.apply_json("agent", &plan), 12, "expired");
    assert!(!mark.exists());
    assert_eq!(t.show(&plan)["status"], "expired");
}

#[test]
fn apply_short_of_approvals_is_needs_approval_and_wait_polls() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "wait", &[]);
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 10, "needs_approval");
    assert!(!mark.exists());
    assert_eq!(t.event_kinds(), ["planned", "refused"]);

    // --wait gives up with needs_approval when nobody answers in time.
    let started = std::time::Instant::now();
    let r = t.json(
        "agent",
        &[
            "apply",
            "--key",
            "wait",
            "--hash",
            hash(&plan),
            "--wait",
            "250ms",
        ],
    );
    assert_refused(&r, 10, "needs_approval");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    assert!(!mark.exists());

    // --wait proceeds once a reviewer approves meanwhile.
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            t.json(
                "agent",
                &[
                    "apply",
                    "--key",
                    "wait",
                    "--hash",
                    hash(&plan),
                    "--wait",
                    "10s",
                ],
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert_eq!(t.approve("alice", &plan).code, 0);
        let r = waiter.join().unwrap();
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        assert_eq!(r.json()["replayed"], false);
    });
    assert!(mark.exists());
}

#[test]
fn apply_wait_stops_when_the_plan_expires() {
    let mut t = TestEnv::new();
    t.with_policy(&STRICT_POLICY.replace("approval_ttl = \"1h\"", "approval_ttl = \"300ms\""));
    let (plan, mark) = marker_plan(&t, "agent", "wait-exp", &[]);
    let started = std::time::Instant::now();
    let r = t.json(
        "agent",
        &[
            "apply",
            "--key",
            "wait-exp",
            "--hash",
            hash(&plan),
            "--wait",
            "10s",
        ],
    );
    assert_refused(&r, 12, "expired");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(!mark.exists());
}

#[test]
fn apply_streams_output_while_the_command_runs() {
    use std::io::BufRead;
    let t = strict();
    let plan = t.plan(
        "agent",
        "stream",
        &[],
        &["sh", "-c", "echo first; sleep 0.3; echo second"],
    );
    t.approve("alice", &plan);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ladder"))
        .env_clear()
        .current_dir(t.work())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", t.path().join("home"))
        .env("LADDER_STATE", t.state())
        .env("LADDER_POLICY", t.policy.as_ref().unwrap())
        .env("LADDER_ACTOR", "agent")
        .args(["apply", "--key", "stream", "--hash", hash(&plan)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let first_at = std::time::Instant::now();
    assert_eq!(line, "first\n");
    line.clear();
    out.read_line(&mut line).unwrap();
    let gap = first_at.elapsed();
    assert_eq!(line, "second\n");
    assert!(child.wait().unwrap().success());
    // Buffered until the end, both lines would arrive together.
    assert!(
        gap >= std::time::Duration::from_millis(150),
        "the lines arrived {gap:?} apart: not streamed"
    );
    // ...and recorded.
    assert_eq!(t.show(&plan)["execution"]["stdout"], "first\nsecond\n");
}

#[test]
fn apply_wait_stops_when_the_plan_is_rejected() {
    let t = strict();
    let (plan, mark) = marker_plan(&t, "agent", "wait-rej", &[]);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            t.json(
                "agent",
                &[
                    "apply",
                    "--key",
                    "wait-rej",
                    "--hash",
                    hash(&plan),
                    "--wait",
                    "10s",
                ],
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert_eq!(
            t.json("bob", &["reject", id(&plan), "--reason", "no"]).code,
            0
        );
        let r = waiter.join().unwrap();
        assert_refused(&r, 11, "rejected");
    });
    assert!(!mark.exists());
}

#[test]
fn apply_beyond_a_budget_is_budget_exceeded_until_the_window_frees() {
    let mut t = TestEnv::new();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[[budgets]]\nname = \"b\"\ntiers = [\"irreversible\"]\nmax = 1\nper = \"1h\"\n"
    ));
    t.at(T0);
    let (first, m1) = marker_plan(&t, "agent", "b1", &[]);
    let (second, m2) = marker_plan(&t, "agent", "b2", &[]);
    t.approve("alice", &first);
    t.approve("alice", &second);
    assert_eq!(t.apply("agent", &first).code, 0);
    assert!(m1.exists());

    t.at("2026-01-01T00:59:00Z");
    let snap = snapshot(&t);
    let r = t.apply_json("agent", &second);
    assert_refused(&r, 19, "budget_exceeded");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"b\"")
    );
    assert_eq!(snapshot(&t), snap);
    assert_eq!(last_event(&t)["detail"]["code"], "budget_exceeded");
    assert!(!m2.exists());
    assert_eq!(
        t.show(&second)["status"],
        "approved",
        "still appliable later"
    );

    // A read_only command is outside this budget.
    let ro = t.plan("agent", "ro", &[], &["ls"]);
    assert_eq!(t.apply("agent", &ro).code, 0);

    t.at("2026-01-01T01:00:01Z");
    assert_eq!(t.apply("agent", &second).code, 0);
    assert!(m2.exists());
}

#[test]
fn apply_checks_approvals_then_budget_then_drift() {
    let mut t = TestEnv::new();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[[budgets]]\nname = \"b\"\ntiers = [\"irreversible\"]\nmax = 1\nper = \"1h\"\n"
    ));
    t.env("BOUND", "v1");
    let spend = t.plan("agent", "spend", &[], &["echo", "spend"]);
    t.approve("alice", &spend);
    assert_eq!(t.apply("agent", &spend).code, 0);

    let (plan, mark) = marker_plan(&t, "agent", "ordered", &["--env", "BOUND"]);
    let apply_drifted = || {
        let out = t
            .cmd("agent")
            .env("BOUND", "v2")
            .args(["--json", "apply", "--key", "ordered", "--hash", hash(&plan)])
            .output()
            .unwrap();
        Run::from(out)
    };
    // Pending, budget spent, drifted: approvals first.
    assert_refused(&apply_drifted(), 10, "needs_approval");
    t.approve("alice", &plan);
    // Approved, budget spent, drifted: budget before drift.
    assert_refused(&apply_drifted(), 19, "budget_exceeded");
    assert!(!mark.exists());
}

#[test]
fn concurrent_applies_run_the_command_once() {
    let t = strict();
    let counter = t.path().join("count");
    let script = format!("echo x >> '{}'; sleep 0.2", counter.display());
    let plan = t.plan("agent", "race", &[], &["sh", "-c", &script]);
    t.approve("alice", &plan);
    let codes: Vec<i32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| t.apply_json("agent", &plan)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().code)
            .collect()
    });
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "x\n",
        "codes {codes:?}"
    );
    assert!(codes.iter().all(|c| *c == 0 || *c == 16), "{codes:?}");
    assert!(codes.contains(&0), "{codes:?}");
    assert_eq!(count(&t.event_kinds(), "started"), 1);
}

#[test]
fn apply_reruns_the_dry_run_in_the_planned_directory_from_anywhere() {
    let t = strict();
    std::fs::write(t.work().join("desired.txt"), "v1\n").unwrap();
    let (plan, mark) = marker_plan(&t, "agent", "elsewhere", &["--dry-run", "cat desired.txt"]);
    t.approve("alice", &plan);
    let out = t
        .cmd("agent")
        .current_dir(t.path())
        .args([
            "--json",
            "apply",
            "--key",
            "elsewhere",
            "--hash",
            hash(&plan),
        ])
        .output()
        .unwrap();
    let r = Run::from(out);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert!(mark.exists());
}

#[test]
fn apply_after_a_bound_variable_changed_is_stale() {
    let mut t = strict();
    t.env("TARGET_DB", "staging");
    let (plan, mark) = marker_plan(&t, "agent", "drift-env", &["--env", "TARGET_DB"]);
    t.approve("alice", &plan);

    let out = t
        .cmd("agent")
        .env("TARGET_DB", "production")
        .args([
            "--json",
            "apply",
            "--key",
            "drift-env",
            "--hash",
            hash(&plan),
        ])
        .output()
        .unwrap();
    let r = Run::from(out);
    assert_refused(&r, 14, "stale");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TARGET_DB")
    );
    assert!(!mark.exists());
    assert_eq!(last_event(&t)["detail"]["code"], "stale");
    assert_eq!(t.show(&plan)["status"], "approved");

    // Unset counts as changed, too.
    let out = t
        .cmd("agent")
        .env_remove("TARGET_DB")
        .args([
            "--json",
            "apply",
            "--key",
            "drift-env",
            "--hash",
            hash(&plan),
        ])
        .output()
        .unwrap();
    assert_refused(&Run::from(out), 14, "stale");
    assert!(!mark.exists());

    // The world as reviewed: it runs.
    assert_eq!(t.apply("agent", &plan).code, 0);
    assert!(mark.exists());
}

#[test]
fn apply_after_the_dry_run_output_changed_is_stale() {
    let t = strict();
    let file = t.work().join("desired.txt");
    std::fs::write(&file, "replicas: 3\n").unwrap();
    let (plan, mark) = marker_plan(&t, "agent", "drift-dry", &["--dry-run", "cat desired.txt"]);
    t.approve("alice", &plan);
    std::fs::write(&file, "replicas: 30\n").unwrap();
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 14, "stale");
    assert!(!mark.exists());
    let r = t.apply("agent", &plan);
    assert_human_error(&r, 14);

    std::fs::write(&file, "replicas: 3\n").unwrap();
    assert_eq!(t.apply("agent", &plan).code, 0);
    assert!(mark.exists());
}

#[test]
fn json_apply_captures_instead_of_streaming_and_the_default_cap_is_1_mib() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "cap",
        &[],
        &["sh", "-c", "head -c 1048577 /dev/zero; echo oops >&2"],
    );
    t.approve("alice", &plan);
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "nothing streamed: {:?}", r.stderr);
    let e = r.json();
    assert_eq!(e["stderr"], "oops\n");
    assert_eq!(e["stdout_bytes"], 1_048_577);
    assert_eq!(e["truncated"], true);
    assert_eq!(e["stdout"].as_str().unwrap().len(), 1_048_576);

    let exact = t.plan(
        "agent",
        "cap2",
        &[],
        &["head", "-c", "1048576", "/dev/zero"],
    );
    t.approve("alice", &exact);
    let e = t.apply_json("agent", &exact).json();
    assert_eq!(e["stdout_bytes"], 1_048_576);
    assert_eq!(e["truncated"], false);
}

#[test]
fn apply_runs_the_program_directly_without_a_shell() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "noshell",
        &[],
        &["echo", "$HOME", "*", ";", "|", "x"],
    );
    t.approve("alice", &plan);
    let r = t.apply("agent", &plan);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, b"$HOME * ; | x\n");
}

#[test]
fn apply_timeout_kills_the_command() {
    let t = strict();
    let plan = t.plan("agent", "slow", &[], &["sleep", "5"]);
    t.approve("alice", &plan);
    let started = std::time::Instant::now();
    let r = t.json(
        "agent",
        &[
            "apply",
            "--key",
            "slow",
            "--hash",
            hash(&plan),
            "--timeout",
            "200ms",
        ],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_ne!(r.code, 0, "{}", r.stdout_str());
    let e = r.json();
    assert!(e["exit_code"].as_i64().unwrap() != 0, "{e}");
    assert_eq!(t.show(&plan)["status"], "applied");
}

// ---------------------------------------------------------------------------
// Crashes and concurrency: in_flight, outcome_unknown, resolve
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// replay
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// log
// ---------------------------------------------------------------------------

#[test]
fn log_events_have_every_contract_field_and_form_a_chain() {
    let t = strict();
    let plan = t.plan("agent", "ev", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    let events = t.events();
    assert_eq!(
        events
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["planned", "approved", "started", "applied"]
    );
    let mut prev = "0".repeat(64);
    for (i, e) in events.iter().enumerate() {
        for f in [
            "seq",
            "at",
            "kind",
            "plan",
            "key",
            "actor",
            "detail",
            "prev_hash",
            "hash",
        ] {
            assert!(e.get(f).is_some(), "event lacks `{f}`: {e}");
        }
        assert_eq!(e["seq"], i as u64 + 1);
        assert!(is_rfc3339_utc(&e["at"]), "{e}");
        assert!(e["detail"].is_object(), "{e}");
        assert_eq!(e["plan"], plan["id"]);
        assert_eq!(e["key"], "ev");
        assert!(is_sha256_hex(&e["hash"]), "{e}");
        assert_eq!(e["prev_hash"], prev.as_str(), "chained: {e}");
        prev = e["hash"].as_str().unwrap().to_string();
    }
    assert_eq!(events[1]["actor"], "alice");

    // People get a table on stdout.
    let r = t.run("viewer", &["log"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout_str().contains("approved"), "{}", r.stdout_str());
}

/// Puts `n` plans past their window straight into the state file; the next
/// command expires them all, one `expired` event each.
fn many_events(t: &TestEnv, n: usize) {
    t.plan("agent", "seed", &[], &["echo", "seed"]);
    t.db()
        .execute(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1)
             INSERT INTO plans (id, key, hash, status, tier, rule, approvals_required, command,
                                cwd, env, dry_run_ok, actor, created_at, expires_at,
                                policy_sha256, decision)
             SELECT printf('00000000-0000-4000-8000-%012d', i), 'bulk-' || i, p.hash, 'pending',
                    p.tier, p.rule, 1, p.command, p.cwd, p.env, p.dry_run_ok, p.actor,
                    0, 1, p.policy_sha256, p.decision
             FROM c, plans p WHERE p.key = 'seed'",
            [n as i64],
        )
        .unwrap();
    assert_eq!(t.run("viewer", &["list"]).code, 0);
}

#[test]
fn log_shows_the_last_50_by_default_newest_last_and_limit_0_shows_all() {
    let t = strict();
    many_events(&t, 60);
    let all = t.events();
    assert_eq!(all.len(), 61, "1 planned + 60 expired");
    let last = |args: &[&str]| -> Vec<Value> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout_str()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let default = last(&["log"]);
    assert_eq!(default.len(), 50);
    assert_eq!(default[..], all[11..], "the newest 50, newest last");
    let three = last(&["log", "--limit", "3"]);
    assert_eq!(three[..], all[58..]);
    assert_eq!(last(&["log", "--limit", "0"]).len(), 61);
}

#[test]
fn log_since_takes_a_duration_or_an_rfc3339_time() {
    let mut t = strict_at(T0);
    t.plan("agent", "early", &[], &["echo", "1"]);
    t.at("2026-01-01T03:00:00Z");
    t.plan("agent", "late", &[], &["echo", "2"]);
    let keys = |args: &[&str]| -> Vec<String> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        r.stdout_str()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["key"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // Events: planned early (00:00), expired early (its window passed at
    // 01:00; recorded no earlier), planned late (03:00).
    assert_eq!(keys(&["log", "--since", "2h"]), ["early", "late"]);
    assert_eq!(
        keys(&["log", "--since", "2h"]).len(),
        keys(&["log", "--since", "2026-01-01T01:00:00Z"]).len()
    );
    assert_eq!(keys(&["log", "--since", "4h"]), ["early", "early", "late"]);
    assert_eq!(keys(&["log", "--since", "2026-01-01T00:00:00Z"]).len(), 3);
    assert!(keys(&["log", "--since", "2026-01-01T03:00:01Z"]).is_empty());
    assert_refused(
        &t.json("viewer", &["log", "--since", "last tuesday"]),
        2,
        "usage",
    );
}

#[test]
fn log_filters_by_plan_and_by_key() {
    let t = strict();
    let a = t.plan("agent", "ka", &[], &["echo", "a"]);
    let b = t.plan("agent", "kb", &[], &["echo", "b"]);
    t.approve("alice", &a);
    t.approve("agent", &b); // refused: own plan
    let r = t.json("agent", &["apply", "--key", "kb", "--hash", "00"]);
    assert_eq!(r.code, 13);

    let lines = |args: &[&str]| -> Vec<Value> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        r.stdout_str()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let of_a = lines(&["log", &id(&a)[..6]]);
    assert_eq!(
        of_a.iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["planned", "approved"]
    );
    assert!(of_a.iter().all(|e| e["plan"] == a["id"]));
    let of_b = lines(&["log", "--key", "kb"]);
    assert_eq!(
        of_b.iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["planned", "refused", "refused"]
    );
    assert!(of_b.iter().all(|e| e["key"] == "kb"));
    // A key nothing ever happened under is not_found, like an unknown plan.
    let r = t.json("viewer", &["log", "--key", "nobody"]);
    assert_eq!(r.code, 3, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "not_found");
    assert_refused(&t.json("viewer", &["log", "ffffffff"]), 3, "not_found");
}

#[test]
fn log_verify_accepts_an_intact_ledger() {
    let t = strict();
    let plan = t.plan("agent", "v", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    let r = t.json("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let v = r.json();
    assert_eq!(v["verified"], true);
    assert_eq!(v["events"], 4);
    let r = t.run("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0);
}

#[test]
fn log_verify_names_an_edited_event() {
    let t = strict();
    let plan = t.plan("agent", "tamper", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    let db = t.db();
    // The database refuses edits as it is.
    assert!(
        db.execute("UPDATE events SET actor = 'mallory' WHERE seq = 2", [])
            .is_err()
    );
    assert!(db.execute("DELETE FROM events WHERE seq = 2", []).is_err());
    db.execute_batch(
        "DROP TRIGGER events_no_update;
         UPDATE events SET actor = 'mallory' WHERE seq = 2;
         CREATE TRIGGER events_no_update BEFORE UPDATE ON events
         BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;",
    )
    .unwrap();
    drop(db);
    let r = t.json("viewer", &["log", "--verify"]);
    assert_refused(&r, 21, "tampered");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("event 2"),
        "names the first broken event: {msg}"
    );
    let r = t.run("viewer", &["log", "--verify"]);
    assert_human_error(&r, 21);
    assert!(r.stderr.contains("event 2"), "{}", r.stderr);
}

#[test]
fn log_verify_detects_an_edited_hash_or_link() {
    for (column, seq) in [("hash", 4), ("prev_hash", 3), ("kind", 1)] {
        let t = strict();
        let plan = t.plan("agent", "link", &[], &["echo", "x"]);
        t.approve("alice", &plan);
        t.apply("agent", &plan);
        t.db()
            .execute_batch(&format!(
                "DROP TRIGGER events_no_update;
                 UPDATE events SET {column} = (CASE WHEN substr({column}, 1, 1) = '0' THEN '1' ELSE '0' END)
                     || substr({column}, 2) WHERE seq = {seq};
                 CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                 BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;"
            ))
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&format!("event {seq}")), "{column}: {msg}");
    }
}

#[test]
fn log_verify_detects_a_deleted_event() {
    let t = strict();
    let plan = t.plan("agent", "del", &[], &["echo", "x"]);
    t.approve("alice", &plan);
    t.apply("agent", &plan);
    t.db()
        .execute_batch(
            "DROP TRIGGER events_no_delete;
             DELETE FROM events WHERE seq = 2;
             CREATE TRIGGER events_no_delete BEFORE DELETE ON events
             BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;",
        )
        .unwrap();
    let r = t.json("viewer", &["log", "--verify"]);
    assert_refused(&r, 21, "tampered");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("event 3"),
        "{}",
        r.stdout_str()
    );
}

#[test]
fn log_verify_detects_removed_append_only_triggers() {
    for trigger in ["events_no_update", "events_no_delete"] {
        let t = strict();
        t.plan("agent", "trig", &[], &["echo", "x"]);
        t.db()
            .execute_batch(&format!("DROP TRIGGER {trigger};"))
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
    }
}

#[test]
fn log_verify_detects_an_append_only_trigger_replaced_by_a_no_op_of_the_same_name() {
    for trigger in ["events_no_update", "events_no_delete"] {
        let t = strict();
        t.plan("agent", "noop", &[], &["echo", "x"]);
        let when = if trigger == "events_no_update" {
            "UPDATE"
        } else {
            "DELETE"
        };
        t.db()
            .execute_batch(&format!(
                "DROP TRIGGER {trigger};
                 CREATE TRIGGER {trigger} BEFORE {when} ON events BEGIN SELECT 1; END;"
            ))
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(trigger), "{msg}");
    }
    // The same trigger written with other spacing is the same trigger.
    let t = strict();
    t.plan("agent", "respaced", &[], &["echo", "x"]);
    t.db()
        .execute_batch(
            "DROP TRIGGER events_no_update;
             CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                 BEGIN  SELECT RAISE(ABORT, 'ledger events are append-only');  END;",
        )
        .unwrap();
    let r = t.json("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
}

#[test]
fn log_verify_detects_a_plan_row_rewritten_behind_the_ledger() {
    for (what, set) in [
        (
            "command",
            "command = CAST('rm' || char(0) || '-rf' || char(0) || '/' || char(0) AS BLOB)",
        ),
        (
            "hash",
            "hash = '0000000000000000000000000000000000000000000000000000000000000000'",
        ),
        (
            "command",
            "command = CAST('rm' || char(0) || '-rf' || char(0) || '/' || char(0) AS BLOB),
             hash = '0000000000000000000000000000000000000000000000000000000000000000'",
        ),
    ] {
        let t = strict();
        let plan = t.plan("agent", "rewrite", &[], &["echo", "x"]);
        t.db()
            .execute(
                &format!("UPDATE plans SET {set} WHERE id = ?1"),
                [id(&plan)],
            )
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&id(&plan)[..8]), "names the plan: {msg}");
        assert!(msg.contains(what), "says what disagrees: {msg}");
        assert_human_error(&t.run("viewer", &["log", "--verify"]), 21);
    }
}

#[test]
fn log_verify_detects_a_plan_approved_behind_the_ledger() {
    for status in ["approved", "running", "applied"] {
        let t = strict();
        let plan = t.plan("agent", "sneak", &[], &["echo", "x"]);
        assert_eq!(plan["status"], "pending");
        t.db()
            .execute(
                "UPDATE plans SET status = ?2 WHERE id = ?1",
                [id(&plan), status],
            )
            .unwrap();
        let r = t.json("viewer", &["log", "--verify"]);
        assert_refused(&r, 21, "tampered");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&id(&plan)[..8]), "{status}: {msg}");
        assert!(msg.contains("approv"), "{status}: {msg}");
    }
    // An approval row added beside the status does not make it so either.
    let t = strict();
    let plan = t.plan("agent", "sneak", &[], &["echo", "x"]);
    let db = t.db();
    db.execute(
        "INSERT INTO approvals (plan, actor, at, hash) VALUES (?1, 'alice', 0, ?2)",
        [id(&plan), hash(&plan)],
    )
    .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    drop(db);
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
}

#[test]
fn log_verify_detects_a_plan_row_with_no_planned_event() {
    let t = strict();
    let plan = t.plan("agent", "orig", &[], &["echo", "x"]);
    // A second plan row copied from the first under a new id: no event
    // ever planned it.
    t.db()
        .execute(
            "INSERT INTO plans SELECT NULL, 'ffffffff-0000-4000-8000-000000000000', key || '2', hash,
                    status, tier, rule, approvals_required, command, cwd, env, dry_run_command,
                    dry_run_exit, dry_run_stdout, dry_run_stderr, dry_run_stdout_sha256,
                    dry_run_stderr_sha256, dry_run_stdout_bytes, dry_run_stderr_bytes,
                    dry_run_truncated, dry_run_ok, reason, target, effect, rollback, confidence,
                    actor, created_at, expires_at, policy_sha256, decision, retry_allowed,
                    rejected_by, rejected_reason, rejected_at, cwd_id, program, program_id,
                    files, escalated_from
             FROM plans WHERE id = ?1",
            [id(&plan)],
        )
        .unwrap();
    let r = t.json("viewer", &["log", "--verify"]);
    assert_refused(&r, 21, "tampered");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("ffffffff"), "{msg}");
}

// ---------------------------------------------------------------------------
// approve on a terminal
// ---------------------------------------------------------------------------

/// Runs ladder on a pseudo-terminal (see `TestEnv::on_terminal`), colours off.
fn on_terminal(t: &TestEnv, actor: &str, args: &str, input: &str) -> Option<(i32, String)> {
    t.on_terminal(actor, args, input, &[("NO_COLOR", "1")])
}

#[test]
fn approve_on_a_terminal_asks_for_confirmation() {
    let t = strict();
    let plan = t.plan("agent", "tty", &[], &["echo", "tty"]);
    let Some((code, screen)) = on_terminal(&t, "alice", &format!("approve {}", id(&plan)), "n\n")
    else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_ne!(code, 0, "declined: {screen}");
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

// ---------------------------------------------------------------------------
// show and list, plan id prefixes
// ---------------------------------------------------------------------------

#[test]
fn show_prints_one_plans_card_or_json() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "card",
        &["--reason", "because"],
        &["echo", "card-cmd"],
    );
    let r = t.run("viewer", &["show", id(&plan)]);
    assert_eq!(r.code, 0);
    let card = r.stdout_str();
    for needle in [
        "card-cmd",
        "card",
        "pending",
        "irreversible",
        "because",
        &id(&plan)[..8],
    ] {
        assert!(card.contains(needle), "card lacks {needle:?}:\n{card}");
    }
    let v = t.json("viewer", &["show", id(&plan)]).json();
    assert_eq!(v["id"], plan["id"]);
    assert_eq!(v["hash"], plan["hash"]);
    assert_refused(&t.json("viewer", &["show", "ffffffff"]), 3, "not_found");
}

#[test]
fn plan_ids_take_any_unique_prefix_of_4_or_more_characters() {
    let t = strict();
    let plan = t.plan("agent", "px", &[], &["echo", "x"]);
    let full = id(&plan);
    for n in [4, 5, 8, 13, full.len()] {
        let r = t.json("viewer", &["show", &full[..n]]);
        assert_eq!(r.code, 0, "prefix {n}: {}", r.stdout_str());
        assert_eq!(r.json()["id"], full);
    }
    for n in [1, 3] {
        assert_refused(&t.json("viewer", &["show", &full[..n]]), 2, "usage");
        assert_refused(
            &t.json("alice", &["approve", &full[..n], "--yes"]),
            2,
            "usage",
        );
    }
    // The other plan-taking commands accept a prefix too.
    let r = t.json("alice", &["approve", &full[..4], "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let r = t.json(
        "agent",
        &["apply", &full[..4], "--key", "px", "--hash", hash(&plan)],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(t.json("viewer", &["replay", &full[..4]]).code, 0);
    assert_eq!(t.json("viewer", &["log", &full[..4]]).code, 0);
    let p2 = t.plan("agent", "px2", &[], &["echo", "y"]);
    let r = t.json("bob", &["reject", &id(&p2)[..4], "--reason", "no"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
}

#[test]
fn list_shows_pending_plans_by_default_and_filters_by_status() {
    let t = strict();
    let pending = t.plan("agent", "l1", &[], &["echo", "1"]);
    let approved = t.plan("agent", "l2", &[], &["echo", "2"]);
    t.approve("alice", &approved);
    let readonly = t.plan("agent", "l3", &[], &["ls"]);
    let rejected = t.plan("agent", "l4", &[], &["echo", "4"]);
    t.json("bob", &["reject", id(&rejected), "--reason", "no"]);

    let ids = |args: &[&str]| -> Vec<String> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        let mut v: Vec<String> = r.json()["plans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let sorted = |v: &[&Value]| -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|p| id(p).to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&["list"]), sorted(&[&pending]));
    assert_eq!(
        ids(&["list", "--status", "approved"]),
        sorted(&[&approved, &readonly])
    );
    assert_eq!(ids(&["list", "--status", "rejected"]), sorted(&[&rejected]));
    assert_eq!(ids(&["list", "--status", "all"]).len(), 4);
    assert!(ids(&["list", "--status", "applied"]).is_empty());

    let r = t.run("viewer", &["list"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout_str().contains(&id(&pending)[..8]),
        "{}",
        r.stdout_str()
    );
    assert!(
        !r.stdout_str().contains(&id(&approved)[..8]),
        "{}",
        r.stdout_str()
    );
}

// ---------------------------------------------------------------------------
// policy
// ---------------------------------------------------------------------------

#[test]
fn policy_show_prints_the_effective_policy_as_toml() {
    let t = TestEnv::new();
    let r = t.run("u", &["policy", "show"]);
    assert_eq!(r.code, 0);
    let text = r.stdout_str();
    let parsed: toml::Value = toml::from_str(&text).expect("the embedded default is TOML");
    assert_eq!(parsed["version"].as_integer(), Some(1));
    assert!(parsed["rules"].as_array().is_some_and(|r| !r.is_empty()));

    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    let r = t.run("u", &["policy", "show"]);
    assert_eq!(r.code, 0);
    let parsed: toml::Value = toml::from_str(&r.stdout_str()).unwrap();
    assert_eq!(parsed["rules"][1]["name"].as_str(), Some("prod"));
    assert_eq!(t.json("u", &["policy", "show"]).code, 0);

    // The policy's sha256 is recorded in every plan.
    let plan = t.plan("agent", "sha", &[], &["echo", "x"]);
    let v = t.json("u", &["policy", "show"]).json();
    assert_eq!(plan["policy_sha256"], v["sha256"]);
    assert_eq!(
        v["sha256"],
        ladder::plan_hash::sha256_hex(STRICT_POLICY.as_bytes())
    );
}

#[test]
fn policy_check_validates_a_file_and_names_file_and_line() {
    let t = TestEnv::new();
    let good = t.path().join("good.toml");
    std::fs::write(&good, STRICT_POLICY).unwrap();
    let r = t.json("u", &["policy", "check", good.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(
        t.run("u", &["policy", "check"]).code,
        0,
        "the effective policy (embedded)"
    );

    let cases = [
        (
            "syntax.toml",
            "version = 1\n[defaults\ntier = \"read_only\"\n",
            2,
        ),
        (
            "tier.toml",
            "version = 1\n[defaults]\ntier = \"bogus\"\n",
            3,
        ),
        (
            "examples.toml",
            "version = 1\n\n[[rules]]\nname = \"x\"\ntier = \"read_only\"\ncommands = [\"ls **\"]\nexamples = [\"rm x\"]\n",
            7,
        ),
        (
            "not-examples.toml",
            "version = 1\n\n[[rules]]\nname = \"x\"\ntier = \"read_only\"\ncommands = [\"ls **\"]\nnot_examples = [\"ls -la\"]\n",
            7,
        ),
        (
            "rule-tier.toml",
            "version = 1\n\n[[rules]]\nname = \"x\"\ntier = \"harmless\"\ncommands = [\"ls **\"]\n",
            5,
        ),
    ];
    for (name, text, line) in cases {
        let file = t.path().join(name);
        std::fs::write(&file, text).unwrap();
        let r = t.run("u", &["policy", "check", file.to_str().unwrap()]);
        assert_human_error(&r, 2);
        assert!(
            r.stderr.contains(&format!("{}:{line}", file.display())),
            "{name}: names file and line {line}: {}",
            r.stderr
        );
        let r = t.json("u", &["policy", "check", file.to_str().unwrap()]);
        assert_refused(&r, 2, "usage");
    }
    let missing = t.path().join("missing.toml");
    assert_refused(
        &t.json("u", &["policy", "check", missing.to_str().unwrap()]),
        2,
        "usage",
    );
}

#[test]
fn an_invalid_policy_in_use_refuses_every_command_that_needs_it() {
    let mut t = TestEnv::new();
    let file = t.with_policy("version = 1\n[defaults]\ntier = \"bogus\"\n");
    let r = t.run("agent", &["plan", "--key", "k", "--", "ls"]);
    assert_human_error(&r, 2);
    assert!(r.stderr.contains(file.to_str().unwrap()), "{}", r.stderr);
    assert_refused(
        &t.json("agent", &["plan", "--key", "k", "--", "ls"]),
        2,
        "usage",
    );
    assert_refused(
        &t.json("agent", &["policy", "explain", "--", "ls"]),
        2,
        "usage",
    );
    assert_refused(&t.json("agent", &["policy", "show"]), 2, "usage");
    let r = t.run("agent", &["policy", "check"]);
    assert_human_error(&r, 2);
    assert!(
        r.stderr.contains(&format!("{}:3", file.display())),
        "{}",
        r.stderr
    );
    assert!(
        !t.state().exists() || t.events().is_empty(),
        "nothing planned"
    );
}

#[test]
fn policy_explain_says_which_rule_and_tier_and_why() {
    let t = TestEnv::new();
    let r = t.json("u", &["policy", "explain", "--", "rm", "-rf", "/"]);
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["tier"], "critical");
    assert_eq!(v["rule"], "catastrophic");
    assert_eq!(v["approvals_required"], 2);
    let matched = v["matched"].as_array().expect("matched[]");
    assert!(matched.len() >= 2, "strictest of several: {v}");
    let names: Vec<&str> = matched.iter().filter_map(|m| m["rule"].as_str()).collect();
    assert!(
        names.contains(&"catastrophic") && names.contains(&"delete-files"),
        "{v}"
    );

    // No rule: [defaults].
    let v = t
        .json("u", &["policy", "explain", "--", "some-unknown-tool", "x"])
        .json();
    assert_eq!(v["tier"], "irreversible");
    assert!(v["rule"].is_null());
    assert_eq!(v["approvals_required"], 1);
    assert_eq!(v["matched"], serde_json::json!([]));

    // People get the tier and the rule.
    let r = t.run("u", &["policy", "explain", "--", "ls", "-la"]);
    assert_eq!(r.code, 0);
    let text = r.stdout_str();
    assert!(
        text.contains("read_only") && text.contains("inspect-files"),
        "{text}"
    );

    // Same answer as plan gives.
    let mut s = TestEnv::new();
    s.with_policy(STRICT_POLICY);
    let v = s
        .json("u", &["policy", "explain", "--", "deploy-prod", "now"])
        .json();
    let p = s.plan("agent", "cmp", &[], &["deploy-prod", "now"]);
    assert_eq!(v["tier"], p["tier"]);
    assert_eq!(v["rule"], p["rule"]);
    assert_eq!(v["approvals_required"], p["approvals_required"]);
}

#[test]
fn the_default_policy_is_sensible_for_agents() {
    let t = TestEnv::new();
    let tier = |argv: &[&str]| -> String {
        let mut args = vec!["policy", "explain", "--"];
        args.extend_from_slice(argv);
        let r = t.json("u", &args);
        assert_eq!(r.code, 0, "{argv:?}: {}", r.stdout_str());
        r.json()["tier"].as_str().unwrap().to_string()
    };
    for argv in [
        &["ls", "-la"][..],
        &["cat", "README.md"],
        &["git", "status"],
        &["kubectl", "get", "pods", "-A"],
    ] {
        assert_eq!(tier(argv), "read_only", "{argv:?}");
    }
    let strict_enough = ["irreversible", "critical", "deny"];
    for argv in [
        &["sh", "-c", "ls"][..],
        &["bash", "-c", "ls"],
        &["eval", "ls"],
        &["sudo", "ls"],
        &["env", "FOO=1", "ls"],
        &["xargs", "rm"],
        &["rm", "-rf", "build"],
        &["/bin/rm", "x"],
        &["git", "push", "--force", "origin", "main"],
        &["kubectl", "delete", "pod", "x"],
        &["terraform", "destroy"],
        &["curl", "-X", "POST", "https://example.com"],
        &["some-unknown-tool"],
    ] {
        let got = tier(argv);
        assert!(
            strict_enough.contains(&got.as_str()),
            "{argv:?} is only {got}"
        );
    }
}

#[test]
fn policy_patterns_glob_one_argument_per_token_and_match_the_basename() {
    let mut t = TestEnv::new();
    t.with_policy(
        r#"
version = 1
[defaults]
tier = "irreversible"
[[rules]]
name = "one-arg"
tier = "read_only"
commands = ["show-it *.txt"]
[[rules]]
name = "anywhere"
tier = "critical"
commands = ["kube ** delete **"]
[[rules]]
name = "listing"
tier = "read_only"
commands = ["ls **"]
"#,
    );
    let rule = |argv: &[&str]| -> Value {
        let mut args = vec!["policy", "explain", "--"];
        args.extend_from_slice(argv);
        let r = t.json("u", &args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        r.json()["rule"].clone()
    };
    assert_eq!(rule(&["show-it", "a.txt"]), "one-arg");
    assert!(
        rule(&["show-it", "a.txt", "b.txt"]).is_null(),
        "* is one argument"
    );
    assert!(rule(&["show-it"]).is_null());
    assert!(rule(&["show-it", "a.md"]).is_null());
    assert_eq!(rule(&["kube", "delete", "pod"]), "anywhere");
    assert_eq!(rule(&["kube", "-n", "x", "delete", "pod", "y"]), "anywhere");
    assert!(rule(&["kube", "get", "pods"]).is_null());
    assert_eq!(rule(&["ls"]), "listing", "** matches no arguments too");
    assert_eq!(
        rule(&["/usr/bin/ls", "-la"]),
        "listing",
        "basename of argv[0]"
    );
}

#[test]
fn notify_gets_the_plan_json_when_a_plan_waits() {
    let mut t = TestEnv::new();
    let inbox = t.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[notify]\ncommand = [\"sh\", \"-c\", \"cat >> {}/got.jsonl; echo >> {}/got.jsonl\"]\n",
        inbox.display(),
        inbox.display()
    ));
    let waiting = t.plan("agent", "n1", &[], &["echo", "x"]);
    assert_eq!(waiting["status"], "pending");
    let ready = t.plan("agent", "n2", &[], &["ls"]);
    assert_eq!(ready["status"], "approved");
    let got = std::fs::read_to_string(inbox.join("got.jsonl")).unwrap_or_default();
    let notes: Vec<Value> = got
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(notes.len(), 1, "only the waiting plan: {got}");
    assert_eq!(notes[0]["id"], waiting["id"]);
    assert_eq!(notes[0]["hash"], waiting["hash"]);

    // A failing notifier does not fail the plan.
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[notify]\ncommand = [\"false\"]\n"
    ));
    let r = t.json("agent", &["plan", "--key", "n3", "--", "echo", "y"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["status"], "pending");
}

#[test]
fn policy_rules_can_look_at_the_environment_and_the_dry_run_output() {
    let mut t = TestEnv::new();
    t.with_policy(
        r#"
version = 1
[defaults]
tier = "read_only"
[[rules]]
name = "production"
tier = "critical"
commands = ["kubectl **"]
env = { KUBE_CONTEXT = "prod*" }
[[rules]]
name = "deletes"
tier = "irreversible"
commands = ["apply-it **"]
dry_run_output = "(?m)^.*deleted"
"#,
    );
    let p = t.plan("agent", "k1", &[], &["kubectl", "get", "pods"]);
    assert_eq!(p["tier"], "read_only");
    t.env("KUBE_CONTEXT", "prod-eu");
    let p = t.plan("agent", "k2", &[], &["kubectl", "get", "pods"]);
    assert_eq!(p["tier"], "critical");
    assert_eq!(p["rule"], "production");

    let p = t.plan(
        "agent",
        "d1",
        &["--dry-run", "echo 'pod/a configured'"],
        &["apply-it"],
    );
    assert_eq!(p["tier"], "read_only");
    let p = t.plan(
        "agent",
        "d2",
        &["--dry-run", "echo 'pod/a deleted'"],
        &["apply-it"],
    );
    assert_eq!(p["tier"], "irreversible");
    assert_eq!(p["rule"], "deletes");
}

// ---------------------------------------------------------------------------
// completions and man
// ---------------------------------------------------------------------------

#[test]
fn completions_and_man_produce_output() {
    let t = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = t.run("u", &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        let text = r.stdout_str();
        assert!(
            text.contains("ladder") && text.contains("approve"),
            "{shell}"
        );
    }
    let r = t.run("u", &["man"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = r.stdout_str();
    assert!(
        page.contains(".TH ladder 1"),
        "{}",
        &page[..page.len().min(300)]
    );
    assert!(page.contains("apply"));

    // They need no state and no policy.
    assert!(!t.state().exists());
    let mut broken = TestEnv::new();
    broken.with_policy("not toml at all [");
    assert_eq!(broken.run("u", &["completions", "bash"]).code, 0);
    assert_eq!(broken.run("u", &["man"]).code, 0);

    // Exactly what `completions/` and `man/` hold (generated from the CLI).
    let r = t.run("u", &["completions", "bash"]);
    assert_eq!(
        r.stdout,
        ladder::commands::completions::script(
            <ladder::cli::Cli as clap::CommandFactory>::command(),
            clap_complete::Shell::Bash
        )
    );
    let r = t.run("u", &["man"]);
    assert_eq!(
        r.stdout,
        ladder::commands::man::page(<ladder::cli::Cli as clap::CommandFactory>::command(), None)
            .unwrap()
    );

    let dir = t.path().join("man-out");
    let r = t.run("u", &["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(dir.join("ladder.1").exists() && dir.join("ladder-apply.1").exists());
}

// ---------------------------------------------------------------------------
// A corrupt state file
// ---------------------------------------------------------------------------

#[test]
fn a_corrupt_state_file_is_error_1_one_line_and_left_unchanged() {
    let t = strict();
    let garbage = b"this is not a database, just some bytes\n\x00\x01\x02".repeat(200);
    std::fs::write(t.state(), &garbage).unwrap();
    for args in [
        &["plan", "--key", "k", "--", "echo", "x"][..],
        &["list"],
        &["show", "abcd1234"],
        &["log"],
        &["log", "--verify"],
        &["apply", "--key", "k", "--hash", "00"],
        &["approve", "abcd1234", "--yes"],
        &["replay", "--key", "k"],
    ] {
        let r = t.run("agent", args);
        assert_human_error(&r, 1);
        let r = t.json("agent", args);
        assert_refused(&r, 1, "error");
        assert_eq!(
            std::fs::read(t.state()).unwrap(),
            garbage,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn an_unusable_state_path_is_error_1() {
    let t = strict();
    let dir = t.path().join("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    for state in [
        dir.clone(),
        std::path::PathBuf::from("/dev/null/sub/state.db"),
    ] {
        let s = state.to_str().unwrap();
        let args = ["--state", s, "plan", "--key", "io", "--", "echo", "x"];
        assert_human_error(&t.run("agent", &args), 1);
        let mut json = vec!["--json"];
        json.extend_from_slice(&args);
        assert_refused(&t.run("agent", &json), 1, "error");
    }
}

#[test]
fn a_sqlite_file_that_is_not_ladders_is_refused() {
    let t = strict();
    let db = rusqlite::Connection::open(t.state()).unwrap();
    db.execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(db);
    let before = std::fs::read(t.state()).unwrap();
    let r = t.json("agent", &["plan", "--key", "k", "--", "echo", "x"]);
    assert_refused(&r, 1, "error");
    assert_eq!(std::fs::read(t.state()).unwrap(), before);
}

#[test]
fn a_state_file_from_a_newer_ladder_is_refused_and_left_unchanged() {
    let t = strict();
    t.plan("agent", "k", &[], &["echo", "x"]);
    t.db().execute_batch("PRAGMA user_version = 99;").unwrap();
    let before = std::fs::read(t.state()).unwrap();
    for args in [&["list"][..], &["plan", "--key", "k2", "--", "echo", "y"]] {
        assert_refused(&t.json("agent", args), 1, "error");
        assert_human_error(&t.run("agent", args), 1);
    }
    assert_eq!(std::fs::read(t.state()).unwrap(), before);
}

/// What an agent writes (its command, reason, target, key; a reviewer's
/// rejection reason) cannot redraw a reviewer's terminal: escape sequences,
/// line breaks and bidirectional overrides are shown escaped on cards,
/// tables and error lines, and the command in the `$'...'` form that bash
/// runs as the same argv. JSON keeps the exact text.
#[test]
fn agent_text_cannot_redraw_the_reviewers_terminal() {
    let t = strict();
    let fake = "safe\u{1b}[1A\u{1b}[2Kfake";
    let plan = t.plan(
        "agent",
        "esc",
        &["--reason", fake, "--target", "a\nb\u{202e}c"],
        &["echo", "x\u{1b}[8mhidden\u{1b}[0m", "multi\nline"],
    );
    assert_eq!(plan["reason"], fake, "JSON keeps the exact text");
    let shown = |r: &crate::harness::Run| {
        assert_eq!(r.code, 0, "{}", r.stderr);
        let out = r.stdout_str();
        assert!(
            !out.contains('\u{1b}'),
            "an escape byte reached stdout: {out:?}"
        );
        assert!(
            !out.contains('\u{202e}'),
            "a bidi override reached stdout: {out:?}"
        );
        assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
        out
    };
    let card = shown(&t.run("viewer", &["show", id(&plan)]));
    assert!(
        card.contains(r"echo $'x\e[8mhidden\e[0m' $'multi\nline'"),
        "{card}"
    );
    assert!(card.contains(r"safe\e[1A\e[2Kfake"), "{card}");
    assert!(card.contains(r"a\nb\u202ec"), "{card}");
    let list = shown(&t.run("viewer", &["list"]));
    assert_eq!(list.lines().count(), 2, "a header and one row: {list}");
    shown(&t.run("viewer", &["log"]));

    // The refusal that quotes a two-line rejection reason is one line.
    let r = t.run(
        "alice",
        &[
            "reject",
            id(&plan),
            "--reason",
            "line one\nline two\u{1b}[2J",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = t.apply("agent", &plan);
    assert_human_error(&r, 11);
    assert!(
        r.stderr.contains(r"line one\nline two\e[2J"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
}

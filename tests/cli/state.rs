//! State files ladder refuses: not a database, not ladder's, from a newer
//! ladder, cut short, or at a path it cannot use (a directory, a device, a
//! FIFO, SQLite's `:memory:`). Each is exit 1 with one line, and the file is
//! left as it was.

use crate::harness::{TestEnv, assert_human_error, assert_refused, strict};
use std::time::{Duration, Instant};

/// Runs every command that opens the state file, for people and for
/// scripts: each is exit 1 with one `ladder: ` line naming `why` (or one
/// `error` object), and leaves the file byte for byte as it was.
fn refused_and_untouched(t: &TestEnv, why: &str) {
    let before = std::fs::read(t.state()).unwrap();
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
        assert!(r.stderr.contains(why), "{args:?}: {}", r.stderr);
        let r = t.json("agent", args);
        assert_refused(&r, 1, "error");
        assert_eq!(
            std::fs::read(t.state()).unwrap(),
            before,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn a_corrupt_state_file_is_error_1_one_line_and_left_unchanged() {
    let t = strict();
    let garbage = b"this is not a database, just some bytes\n\x00\x01\x02".repeat(200);
    std::fs::write(t.state(), &garbage).unwrap();
    refused_and_untouched(&t, "not a readable database");
    assert_eq!(std::fs::read(t.state()).unwrap(), garbage);
}

#[test]
fn a_sqlite_file_that_is_not_ladders_is_refused() {
    let t = strict();
    let db = rusqlite::Connection::open(t.state()).unwrap();
    db.execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(db);
    refused_and_untouched(&t, "not a ladder state file");
}

#[test]
fn a_state_file_from_a_newer_ladder_is_refused_and_left_unchanged() {
    let t = strict();
    t.plan("agent", "k", &[], &["echo", "x"]);
    t.db().execute_batch("PRAGMA user_version = 99;").unwrap();
    refused_and_untouched(&t, "newer than this ladder");
}

#[test]
fn a_truncated_state_file_is_refused_and_left_alone() {
    let t = strict();
    for i in 0..40 {
        t.plan(
            "agent",
            &format!("k{i}"),
            &["--reason", &"x".repeat(500)],
            &["true"],
        );
    }
    // Fold the WAL into the main file so truncating it loses real pages.
    t.db()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let bytes = std::fs::read(t.state()).unwrap();
    assert!(bytes.len() > 8192);
    std::fs::write(t.state(), &bytes[..bytes.len() / 2]).unwrap();
    let before = std::fs::read(t.state()).unwrap();
    let r = t.run("agent", &["list", "--status", "all"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("ladder: ") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(t.state()).unwrap(), before);
}

/// SQLite's name for a database in memory is no place for a ledger: refused
/// at once (it used to retry switching to WAL for 30 seconds first).
#[test]
fn a_state_path_of_memory_is_refused_at_once() {
    let t = strict();
    let started = Instant::now();
    let r = t.run(
        "agent",
        &["--state", ":memory:", "plan", "--key", "k", "--", "ls"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("not a file"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "it waited");
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
fn a_state_path_that_cannot_be_created_is_a_clear_error() {
    let t = strict();
    let r = t.run(
        "agent",
        &[
            "--state",
            "/proc/ladder/state.db",
            "plan",
            "--key",
            "k",
            "--",
            "ls",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("ladder: ") && r.stderr.contains("/proc/ladder"),
        "{}",
        r.stderr
    );
}

/// `--state /dev/null` used to be opened as a database: SQLite created
/// `/dev/null-journal` beside it. A path that exists and is not a regular
/// file is refused before anything is created next to it.
#[test]
fn a_state_path_that_is_a_device_or_a_fifo_is_refused_up_front() {
    let t = strict();
    let beside = |p: &str| -> Vec<String> {
        ["-journal", "-wal", "-shm", ".lock"]
            .iter()
            .map(|s| format!("{p}{s}"))
            .collect()
    };
    for f in beside("/dev/null") {
        let _ = std::fs::remove_file(&f);
    }
    let fifo = t.path().join("state.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let fifo = fifo.to_str().unwrap().to_string();
    for state in ["/dev/null", fifo.as_str()] {
        for args in [
            &["list"][..],
            &["plan", "--key", "k", "--", "ls"],
            &["log", "--verify"],
        ] {
            let mut all = vec!["--state", state];
            all.extend_from_slice(args);
            let started = Instant::now();
            let r = t.run("agent", &all);
            assert_eq!(r.code, 1, "{state} {args:?}: {}", r.stderr);
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            assert!(
                r.stderr.starts_with("ladder: ") && r.stderr.contains("not a regular file"),
                "{}",
                r.stderr
            );
            assert!(started.elapsed() < Duration::from_secs(10), "it waited");
            for f in beside(state) {
                assert!(
                    std::fs::symlink_metadata(&f).is_err(),
                    "{state} {args:?} created {f}"
                );
            }
        }
    }
    // A symlink to a regular state file still works.
    t.plan("agent", "real", &[], &["true"]);
    let link = t.path().join("link.db");
    std::os::unix::fs::symlink(t.state(), &link).unwrap();
    let r = t.json(
        "agent",
        &["--state", link.to_str().unwrap(), "show", "--key", "real"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["key"], "real");
}

/// `ladder ARGS` as a user who cannot write `state`: as `nobody` when the
/// tests run as root (root may write anything), else as this user. `None`
/// when running as root without `setpriv`.
fn as_reader(t: &TestEnv, state: &std::path::Path, args: &[&str]) -> Option<crate::harness::Run> {
    as_reader_env(t, state, args, &[])
}

fn as_reader_env(
    t: &TestEnv,
    state: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Option<crate::harness::Run> {
    let ladder = assert_cmd::cargo::cargo_bin("ladder");
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&ladder);
        c
    } else {
        std::process::Command::new(&ladder)
    };
    cmd.env_clear()
        .current_dir("/")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", t.path().join("home"))
        .env("LADDER_STATE", state)
        .env("LADDER_ACTOR", "auditor")
        .env("LADDER_POLICY", t.path().join("policy.toml"))
        .envs(env.iter().copied())
        .args(args);
    match cmd.output() {
        Ok(out) => Some(out.into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: setpriv is missing; read-only test skipped");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// [`as_reader`] with the clock fixed at `now` (a test build reads
/// `LADDER_NOW`).
fn as_reader_at(
    t: &TestEnv,
    state: &std::path::Path,
    now: &str,
    args: &[&str],
) -> Option<crate::harness::Run> {
    as_reader_env(t, state, args, &[("LADDER_NOW", now)])
}

/// An auditor copies `state.db` and its WAL into a directory they cannot
/// write: reading works, writing is refused saying why, and the copy is
/// left as it was.
#[test]
fn an_auditor_reads_a_read_only_copy_of_the_state() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = strict();
    let plan = t.plan("agent", "audited", &[], &["true"]);
    t.approve("alice", &plan);
    assert_eq!(t.apply_json("agent", &plan).code, 0);
    t.plan("agent", "pending-one", &[], &["true"]);
    let copy = t.path().join("audit");
    std::fs::create_dir(&copy).unwrap();
    for name in ["state.db", "state.db-wal"] {
        std::fs::copy(t.path().join(name), copy.join(name)).unwrap();
    }
    assert!(
        std::fs::metadata(copy.join("state.db-wal")).unwrap().len() > 0,
        "the test needs state that is still in the WAL"
    );
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode(t.path(), 0o755);
    mode(&t.path().join("policy.toml"), 0o644);
    for name in ["state.db", "state.db-wal"] {
        mode(&copy.join(name), 0o444);
    }
    mode(&copy, 0o555);
    let state = copy.join("state.db");
    let before = std::fs::read_dir(&copy).unwrap().count();

    let Some(list) = as_reader(&t, &state, &["--json", "list", "--status", "all"]) else {
        return;
    };
    assert_eq!(list.code, 0, "{}", list.stderr);
    let plans = list.json()["plans"].as_array().unwrap().len();
    assert_eq!(plans, 2, "the WAL's commits are read too");
    let show = as_reader(&t, &state, &["--json", "show", "--key", "audited"]).unwrap();
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert_eq!(show.json()["execution"]["exit_code"], 0);
    let verify = as_reader(&t, &state, &["log", "--verify"]).unwrap();
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(
        verify.stdout_str().starts_with("ledger verified"),
        "{}",
        verify.stdout_str()
    );

    // A window that passed since the copy shows as expired, though nothing
    // can record it.
    let later = as_reader_at(&t, &state, "2099-01-01T00:00:00Z", &["--json", "list"]);
    if let Some(later) = later {
        assert_eq!(later.code, 0, "{}", later.stderr);
        assert_eq!(
            later.json()["plans"].as_array().unwrap().len(),
            0,
            "{}",
            later.stdout_str()
        );
    }

    // Through a symlink in another directory the reader cannot write: the
    // WAL beside the real file is read too.
    let links = t.path().join("links");
    std::fs::create_dir(&links).unwrap();
    std::os::unix::fs::symlink(&state, links.join("state.db")).unwrap();
    mode(&links, 0o555);
    let linked = as_reader(
        &t,
        &links.join("state.db"),
        &["--json", "list", "--status", "all"],
    )
    .unwrap();
    assert_eq!(linked.code, 0, "{}", linked.stderr);
    assert_eq!(
        linked.json()["plans"].as_array().unwrap().len(),
        2,
        "the WAL was left behind"
    );

    // Writing is refused as a permission problem, not as a broken ledger.
    let approve = as_reader(&t, &state, &["approve", "--key", "pending-one", "--yes"]).unwrap();
    assert_human_error(&approve, 1);
    assert!(
        approve.stderr.contains("read-only for this user"),
        "{}",
        approve.stderr
    );
    assert!(
        !approve.stderr.contains("move this one aside"),
        "{}",
        approve.stderr
    );
    assert_eq!(
        std::fs::read_dir(&copy).unwrap().count(),
        before,
        "files appeared beside the copy"
    );

    // A file this user cannot read at all says so.
    mode(&copy, 0o755);
    mode(&state, 0o600);
    let unreadable = as_reader(&t, &state, &["list"]).unwrap();
    assert_human_error(&unreadable, 1);
    assert!(
        unreadable.stderr.contains("cannot be read"),
        "{}",
        unreadable.stderr
    );
    assert!(
        !unreadable.stderr.contains("move this one aside"),
        "{}",
        unreadable.stderr
    );
}

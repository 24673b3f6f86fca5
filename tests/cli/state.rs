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

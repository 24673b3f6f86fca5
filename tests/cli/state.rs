//! State files ladder refuses: not a database, not ladder's, from a newer
//! ladder, or at a path it cannot use. Each is exit 1 with one line, and the
//! file is left as it was.

use crate::harness::{assert_human_error, assert_refused, strict};

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

//! Output streams: a stdout that cannot be written is an error (a reader that
//! went away is not), a stderr that cannot be written changes no exit code, and
//! text an agent wrote cannot redraw a reviewer's terminal.

use crate::harness::{TestEnv, apply_args, assert_human_error, id, strict};

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
    let first = [vec!["--json"], apply_args(&coded)].concat();
    let (code, stderr) = run_to(&first, closed_pipe());
    assert_eq!(code, Some(4), "{stderr}");
    let passing: [&[&str]; 4] = [
        &["replay", "--key", "coded"],
        &["--json", "replay", "--key", "coded"],
        &apply_args(&coded),
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
    let (code, stderr) = run_to(&[vec!["--json"], apply_args(&pending)].concat(), full());
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
    let (code, stdout) = run("agent", &apply_args(&loud), full());
    assert_eq!(code, Some(0), "apply");
    assert_eq!(stdout, "out\n");
    let (code, _) = run("agent", &["replay", "--key", "loud"], closed_pipe());
    assert_eq!(code, Some(0), "replay, stderr a closed pipe");
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

/// Every JSON object ladder prints says which version of the format it is,
/// errors and ledger lines included.
#[test]
fn every_json_object_carries_its_format_version() {
    let t = crate::harness::strict();
    let plan = t.plan("agent", "fv", &[], &["true"]);
    assert_eq!(plan["format_version"], "1.0");
    let error = t.json("agent", &["show", "no-such-plan"]);
    assert_eq!(error.json()["format_version"], "1.0");
    let log = t.json("viewer", &["log"]);
    for line in log.stdout_str().lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["format_version"], "1.0", "{line}");
    }
    let version = t.run("viewer", &["--json", "--version"]);
    assert_eq!(version.code, 0);
    let v = version.json();
    assert_eq!(v["name"], "ladder");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["format_version"], "1.0");
}

//! Runs of real commands through [`run`], and the scenarios that need a
//! process of their own.

use super::*;
use crate::digest::sha256_hex;
use libc::SIGTERM;
use std::io::{BufRead, Read, Write};
use std::os::unix::ffi::OsStringExt;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn argv(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

fn spec<'a>(argv: &'a [OsString], cwd: &'a Path) -> Spec<'a> {
    Spec {
        program: None,
        argv,
        cwd,
        cap: 1 << 20,
        tee: false,
        stdin: StdinMode::Null,
        // A safety net, so a broken runner fails the test instead of hanging it.
        timeout: Some(Duration::from_secs(60)),
        forward_signals: false,
    }
}

fn run_spec(spec: &Spec<'_>) -> Outcome {
    run(spec, &mut |_| {}).expect("the runner itself failed")
}

fn sh(script: &str) -> Outcome {
    let argv = argv(&["sh", "-c", script]);
    run_spec(&spec(&argv, Path::new("/")))
}

fn sh_with(script: &str, f: impl FnOnce(&mut Spec<'_>)) -> Outcome {
    let argv = argv(&["sh", "-c", script]);
    let mut spec = spec(&argv, Path::new("/"));
    f(&mut spec);
    run_spec(&spec)
}

#[test]
fn exit_codes_pass_through() {
    let ok = sh("exit 0");
    assert_eq!((ok.exit_code, ok.signal, ok.timed_out), (0, None, false));
    assert!(ok.spawn_error.is_none());
    let three = sh("exit 3");
    assert_eq!((three.exit_code, three.signal), (3, None));
}

#[test]
fn on_spawn_gets_the_childs_pid() {
    let argv = argv(&["true"]);
    let mut seen = None;
    let outcome = run(&spec(&argv, Path::new("/")), &mut |pid| seen = Some(pid)).unwrap();
    assert!(seen.is_some());
    assert_eq!(outcome.pid, seen);
}

#[test]
fn streams_are_recorded_separately_and_byte_exact() {
    let outcome = sh(r"printf 'a\000b\377\n'; printf 'e\001\376' >&2");
    assert_eq!(outcome.stdout.head, b"a\0b\xff\n");
    assert_eq!(outcome.stdout.bytes, 5);
    assert_eq!(outcome.stdout.sha256, sha256_hex(b"a\0b\xff\n"));
    assert!(!outcome.stdout.truncated);
    assert_eq!(outcome.stderr.head, b"e\x01\xfe");
    assert_eq!(outcome.stderr.bytes, 3);
    assert_eq!(outcome.stderr.sha256, sha256_hex(b"e\x01\xfe"));
}

#[test]
fn empty_streams_have_the_empty_digest() {
    let outcome = sh("true");
    assert_eq!(outcome.stdout, Stream::of(b"", 10));
    assert_eq!(outcome.stdout.sha256, EMPTY_SHA256);
    assert_eq!(outcome.stderr.bytes, 0);
    assert!(!outcome.stderr.truncated);
}

#[test]
fn cap_keeps_the_head_while_digest_and_count_cover_everything() {
    const TOTAL: usize = 5 * 1024 * 1024;
    let outcome = sh_with(&format!("yes abcdefg | head -c {TOTAL}"), |s| s.cap = 1024);
    let expected: Vec<u8> = b"abcdefg\n".iter().copied().cycle().take(TOTAL).collect();
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.stdout.head, &expected[..1024]);
    assert_eq!(outcome.stdout.bytes, TOTAL as u64);
    assert_eq!(outcome.stdout.sha256, sha256_hex(&expected));
    assert!(outcome.stdout.truncated);
    assert!(!outcome.stderr.truncated);
}

#[test]
fn output_exactly_at_the_cap_is_not_truncated() {
    let outcome = sh_with("printf 12345", |s| s.cap = 5);
    assert_eq!(outcome.stdout.head, b"12345");
    assert!(!outcome.stdout.truncated);
    let over = sh_with("printf 123456", |s| s.cap = 5);
    assert_eq!(over.stdout.head, b"12345");
    assert_eq!(over.stdout.bytes, 6);
    assert!(over.stdout.truncated);
}

#[test]
fn a_child_filling_stderr_first_does_not_deadlock() {
    // A runner reading stdout to its end before stderr would block here
    // forever: the child is stuck on a full stderr pipe.
    let outcome = sh("head -c 3000000 /dev/zero >&2; head -c 3000000 /dev/zero");
    assert!(!outcome.timed_out);
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.stdout.bytes, 3_000_000);
    assert_eq!(outcome.stderr.bytes, 3_000_000);
    assert_eq!(outcome.stderr.sha256, sha256_hex(&vec![0u8; 3_000_000]));
}

#[test]
fn killed_by_a_signal_gives_128_plus_n() {
    let kill = sh("kill -9 $$");
    assert_eq!((kill.exit_code, kill.signal), (137, Some(9)));
    let term = sh("kill -TERM $$");
    assert_eq!((term.exit_code, term.signal), (143, Some(15)));
    assert!(!term.timed_out);
}

#[test]
fn timeout_terminates_the_child() {
    let argv = argv(&["sleep", "30"]);
    let mut spec = spec(&argv, Path::new("/"));
    spec.timeout = Some(Duration::from_millis(200));
    let started = Instant::now();
    let outcome = run_spec(&spec);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(outcome.timed_out);
    assert_eq!((outcome.exit_code, outcome.signal), (143, Some(SIGTERM)));
}

#[test]
fn timeout_escalates_to_sigkill_when_sigterm_is_ignored() {
    // `exec` so that no shell is left behind holding the pipes.
    let argv = argv(&["sh", "-c", "trap '' TERM; exec sleep 30"]);
    let mut spec = spec(&argv, Path::new("/"));
    spec.timeout = Some(Duration::from_secs(1));
    let graces = Graces {
        kill: Duration::from_millis(300),
        drain: DRAIN_GRACE,
    };
    let started = Instant::now();
    let outcome = run_with(&spec, &mut |_| {}, graces).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(outcome.timed_out);
    assert_eq!((outcome.exit_code, outcome.signal), (137, Some(9)));
}

#[test]
fn timeout_keeps_the_childs_own_code_when_it_exits_on_sigterm() {
    let outcome = sh_with("trap 'exit 0' TERM; while :; do sleep 0.05; done", |s| {
        s.timeout = Some(Duration::from_secs(1))
    });
    assert!(outcome.timed_out);
    assert_eq!((outcome.exit_code, outcome.signal), (0, None));
}

#[test]
fn a_program_that_does_not_exist_is_127() {
    let argv = argv(&["ladder-test-no-such-program", "x"]);
    let outcome = run_spec(&spec(&argv, Path::new("/")));
    assert_eq!(outcome.exit_code, 127);
    assert_eq!(outcome.spawn_error.as_deref(), Some("command not found"));
    assert_eq!(outcome.pid, None);
    assert_eq!(outcome.stdout.sha256, EMPTY_SHA256);
    let line = b"ladder: cannot run `ladder-test-no-such-program`: command not found\n";
    assert_eq!(outcome.stderr.head, line);
    assert_eq!(outcome.stderr.sha256, sha256_hex(line));
}

#[test]
fn a_path_that_does_not_exist_is_127_with_the_os_reason() {
    let argv = argv(&["/nonexistent/ladder-test"]);
    let outcome = run_spec(&spec(&argv, Path::new("/")));
    assert_eq!(outcome.exit_code, 127);
    assert_eq!(
        outcome.spawn_error.as_deref(),
        Some("No such file or directory")
    );
}

#[test]
fn a_file_that_is_not_executable_is_126() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let argv = vec![script.into_os_string()];
    let outcome = run_spec(&spec(&argv, dir.path()));
    assert_eq!(outcome.exit_code, 126);
    assert!(outcome.spawn_error.is_some());
    assert_eq!(outcome.stdout.bytes, 0);
}

#[test]
fn a_directory_that_does_not_exist_is_126() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone");
    let argv = argv(&["true"]);
    let outcome = run_spec(&spec(&argv, &missing));
    assert_eq!(outcome.exit_code, 126);
    let why = outcome.spawn_error.unwrap();
    assert!(why.contains("cannot use directory"), "{why}");
    assert!(why.contains("gone"), "{why}");
}

#[test]
fn the_working_directory_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let argv = argv(&["pwd"]);
    let outcome = run_spec(&spec(&argv, dir.path()));
    let expected = std::fs::canonicalize(dir.path()).unwrap();
    let mut line = expected.into_os_string().into_vec();
    line.push(b'\n');
    assert_eq!(outcome.stdout.head, line);
}

#[test]
fn stdin_null_reads_end_of_file_at_once() {
    let argv = argv(&["cat"]);
    let outcome = run_spec(&spec(&argv, Path::new("/")));
    assert!(!outcome.timed_out);
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.stdout.bytes, 0);
}

#[test]
fn an_empty_argv_is_an_error_of_the_caller() {
    let err = run(&spec(&[], Path::new("/")), &mut |_| {}).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_background_process_holding_the_pipes_does_not_hang_the_run() {
    let argv = argv(&["sh", "-c", "echo hi; sleep 5 &"]);
    let graces = Graces {
        kill: KILL_GRACE,
        drain: Duration::from_millis(200),
    };
    let started = Instant::now();
    let outcome = run_with(&spec(&argv, Path::new("/")), &mut |_| {}, graces).unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.stdout.head, b"hi\n");
}

// -----------------------------------------------------------------------
// Scenarios that need a process of their own: signalling ladder, or
// closing its stdout, must not touch this shared test process. The test
// binary runs itself with `HELPER_ENV` naming the scenario.

const HELPER_ENV: &str = "LADDER_RUNNER_TEST_HELPER";

#[test]
fn helper_process() {
    let Ok(scenario) = std::env::var(HELPER_ENV) else {
        return; // an ordinary run: nothing to do
    };
    match scenario.as_str() {
        "forward" => helper_forward(),
        "epipe" => helper_epipe(),
        other => panic!("unknown helper scenario {other}"),
    }
}

/// Runs a child that reports SIGINT and exits on SIGTERM; the outer test
/// signals us.
fn helper_forward() {
    let argv = argv(&[
        "sh",
        "-c",
        "trap 'echo got-int' INT; trap 'echo got-term; exit 7' TERM; echo ready; \
         while :; do sleep 0.01; done",
    ]);
    let mut spec = spec(&argv, Path::new("/"));
    spec.tee = true;
    spec.forward_signals = true;
    let outcome = run_spec(&spec);
    eprintln!(
        "OUTCOME exit={} signal={:?} timed_out={}",
        outcome.exit_code, outcome.signal, outcome.timed_out
    );
    println!("idle");
    io::stdout().flush().unwrap();
    // The outer test's second SIGTERM should end us here.
    thread::sleep(Duration::from_secs(20));
    eprintln!("STILL ALIVE");
}

/// Tees into a stdout nobody reads, with SIGPIPE at its default action.
fn helper_epipe() {
    // SAFETY: this process is ours alone; fd juggling on valid descriptors.
    let saved = unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut fds = [0; 2];
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        let saved = libc::dup(1);
        libc::dup2(fds[1], 1);
        libc::close(fds[1]);
        saved
    };
    let argv = argv(&["sh", "-c", "head -c 1000000 /dev/zero; echo done >&2"]);
    let mut spec = spec(&argv, Path::new("/"));
    spec.tee = true;
    let outcome = run_spec(&spec);
    // SAFETY: restores the stdout saved above.
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
    eprintln!(
        "OUTCOME exit={} stdout_bytes={} stderr={:?}",
        outcome.exit_code,
        outcome.stdout.bytes,
        String::from_utf8_lossy(&outcome.stderr.head)
    );
}

fn helper(scenario: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "runner::tests::helper_process",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(HELPER_ENV, scenario)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // A shell starts background jobs with SIGINT and SIGQUIT ignored, and
    // ladder rightly leaves ignored signals alone: the helper starts with
    // the defaults whatever ran `cargo test`, as a terminal's process does.
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd
}

/// Waits for a child of a test, killing it if it takes too long.
fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("helper did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = r.read_to_string(&mut text);
        text
    })
}

#[test]
fn forwards_signals_sent_by_processes_and_restores_the_default_after_the_run() {
    let mut child = helper("forward").spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let stderr = read_all(child.stderr.take().unwrap());
    let (tx, lines) = mpsc::channel();
    let stdout = io::BufReader::new(child.stdout.take().unwrap());
    thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |want: &str| loop {
        match lines.recv_timeout(Duration::from_secs(20)) {
            // libtest may print `test ... ` before it on the same line.
            Ok(line) if line.ends_with(want) => break,
            Ok(line) => seen.push(line),
            Err(e) => panic!("no `{want}` from the helper ({e}); saw {seen:?}"),
        }
    };
    wait_for("ready");
    // Sent by a process, so forwarded even though it is SIGINT.
    // SAFETY: plain syscall on our own, unreaped child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    wait_for("got-int");
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_for("got-term");
    wait_for("idle");
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    let stderr = stderr.join().unwrap();
    assert!(
        stderr.contains("OUTCOME exit=7 signal=None timed_out=false"),
        "{stderr}"
    );
    assert!(!stderr.contains("STILL ALIVE"), "{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{stderr}");
}

#[test]
fn a_closed_stdout_stops_the_tee_but_not_the_recording() {
    let mut child = helper("epipe").spawn().unwrap();
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    let _ = stdout.join();
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(
        stderr.contains("OUTCOME exit=0 stdout_bytes=1000000 stderr=\"done\\n\""),
        "{stderr}"
    );
}

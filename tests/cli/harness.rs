//! A hermetic environment per test: its own HOME, XDG directories, state
//! file and policy; the environment cleared; ids derived from a seed; the
//! clock fixed when a test asks.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub now: Option<String>,
    pub policy: Option<PathBuf>,
    pub extra_env: Vec<(String, String)>,
}

/// What one ladder run did.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stdout as the one JSON object the contract promises.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr: {}",
                self.stdout_str(),
                self.stderr
            )
        })
    }

    /// The `error.code` of a JSON error object.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        TestEnv {
            dir,
            now: None,
            policy: None,
            extra_env: vec![],
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.path().join("state.db")
    }

    /// A directory commands run in by default.
    pub fn work(&self) -> PathBuf {
        self.path().join("work")
    }

    /// Fixes the clock (RFC 3339) for every later command.
    pub fn at(&mut self, now: &str) -> &mut Self {
        self.now = Some(now.to_string());
        self
    }

    /// Writes a policy file and uses it for every later command.
    pub fn with_policy(&mut self, toml: &str) -> PathBuf {
        let p = self.path().join("policy.toml");
        std::fs::write(&p, toml).unwrap();
        self.policy = Some(p.clone());
        p
    }

    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.extra_env.push((name.into(), value.into()));
        self
    }

    /// A ladder command as `actor`, in the work directory, nothing inherited.
    pub fn cmd(&self, actor: &str) -> Command {
        Command::from_std(self.std_cmd(actor))
    }

    /// The same as [`TestEnv::cmd`], as a std `Command` (to spawn in the background).
    pub fn std_cmd(&self, actor: &str) -> std::process::Command {
        self.program_cmd(assert_cmd::cargo::cargo_bin("ladder"), actor)
    }

    /// Any program (a script that calls ladder) in the same hermetic
    /// environment, with `LADDER` naming the binary under test.
    pub fn program_cmd(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        actor: &str,
    ) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        c.env_clear()
            .env("LADDER", assert_cmd::cargo::cargo_bin("ladder"))
            .current_dir(self.work())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("XDG_DATA_HOME", self.path().join("home/.local/share"))
            .env("XDG_CONFIG_HOME", self.path().join("home/.config"))
            .env("LADDER_STATE", self.state())
            .env("LADDER_ACTOR", actor)
            .env("LADDER_TEST_ID_SEED", "ladder-tests");
        if let Some(now) = &self.now {
            c.env("LADDER_NOW", now);
        }
        if let Some(p) = &self.policy {
            c.env("LADDER_POLICY", p);
        }
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, actor: &str, args: &[&str]) -> Run {
        self.cmd(actor)
            .args(args)
            .output()
            .expect("run ladder")
            .into()
    }

    /// Runs with `--json`.
    pub fn json(&self, actor: &str, args: &[&str]) -> Run {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(actor, &all)
    }

    /// Plans `argv` under `key` as `actor` with extra plan flags; returns
    /// the plan object (panics unless planning succeeded).
    pub fn plan(&self, actor: &str, key: &str, flags: &[&str], argv: &[&str]) -> Value {
        let mut args = vec!["plan", "--key", key];
        args.extend_from_slice(flags);
        args.push("--");
        args.extend_from_slice(argv);
        let r = self.json(actor, &args);
        assert_eq!(r.code, 0, "plan failed: {}\n{}", r.stdout_str(), r.stderr);
        r.json()
    }

    pub fn approve(&self, actor: &str, plan: &Value) -> Run {
        self.json(actor, &["approve", plan["id"].as_str().unwrap(), "--yes"])
    }

    pub fn apply(&self, actor: &str, plan: &Value) -> Run {
        self.run(actor, &apply_args(plan))
    }

    pub fn apply_json(&self, actor: &str, plan: &Value) -> Run {
        self.json(actor, &apply_args(plan))
    }

    /// `apply --json` of `plan` as the agent, with `env` set on top of the
    /// test's environment (what the agent changed between plan and apply).
    pub fn apply_with_env(&self, plan: &Value, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.cmd("agent");
        cmd.arg("--json").args(apply_args(plan));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run ladder").into()
    }

    /// Runs `git ARGS` in `dir` for a test's own set-up (not through ladder),
    /// with the test's HOME, no system configuration, and an identity.
    pub fn git(&self, dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", self.path().join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn show(&self, plan: &Value) -> Value {
        self.json("viewer", &["show", plan["id"].as_str().unwrap()])
            .json()
    }

    /// Every ledger event, as JSON.
    pub fn events(&self) -> Vec<Value> {
        let r = self.json("viewer", &["log", "--limit", "0"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout_str()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    pub fn event_kinds(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }

    /// Runs ladder as `actor` on a pseudo-terminal (util-linux `script`),
    /// typing `input`; returns the exit code and everything the terminal
    /// showed, or `None` when `script` is not installed.
    pub fn on_terminal(
        &self,
        actor: &str,
        args: &str,
        input: &str,
        env: &[(&str, &str)],
    ) -> Option<(i32, String)> {
        let mut term = self.open_terminal(actor, args, env)?;
        term.type_text(input);
        Some(term.finish())
    }

    /// Starts ladder as `actor` on a pseudo-terminal (util-linux `script`)
    /// and leaves it running, so a test can read what it shows, act while it
    /// waits for an answer, then type one; `None` when `script` is not
    /// installed.
    pub fn open_terminal(&self, actor: &str, args: &str, env: &[(&str, &str)]) -> Option<Terminal> {
        use std::io::Read;
        let ladder = assert_cmd::cargo::cargo_bin("ladder");
        let mut cmd = std::process::Command::new("script");
        cmd.env_clear()
            .current_dir(self.work())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("TERM", "xterm")
            .env("LADDER_STATE", self.state())
            .env("LADDER_ACTOR", actor)
            .args(["-qec", &format!("{} {args}", ladder.display()), "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        if let Some(p) = &self.policy {
            cmd.env("LADDER_POLICY", p);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("script: {e}"),
        };
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        // A thread reads the terminal as it is drawn, so the test can wait
        // for a prompt with a deadline instead of blocking forever.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Some(Terminal {
            child,
            stdin,
            output: rx,
            screen: vec![],
        })
    }

    /// Opens the state database directly (to simulate crashes and tampering).
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.state()).expect("open state")
    }
}

/// A ladder running on a pseudo-terminal (see [`TestEnv::open_terminal`]).
pub struct Terminal {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    output: std::sync::mpsc::Receiver<Vec<u8>>,
    screen: Vec<u8>,
}

impl Terminal {
    /// Everything the terminal has shown so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen).into_owned()
    }

    /// Reads the terminal until it shows `text`; panics, showing the screen,
    /// when the process ends or 30 seconds pass first.
    pub fn wait_for(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.screen().contains(text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.screen.extend(bytes),
                Err(_) => panic!("the terminal never showed {text:?}:\n{}", self.screen()),
            }
        }
    }

    /// Types `text` (a line needs its `\n`).
    pub fn type_text(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("input still open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Ends the input, waits for the process, and returns its exit code and
    /// everything the terminal showed.
    pub fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        // The reader ends at end of output; take what it read.
        while let Ok(bytes) = self.output.recv() {
            self.screen.extend(bytes);
        }
        (status.code().unwrap_or(-1), self.screen())
    }
}

/// A policy where `true`, `echo` and friends need one approval, so tests
/// can walk the whole ladder with harmless commands.
pub const STRICT_POLICY: &str = r#"
version = 1

[defaults]
tier = "irreversible"
approval_ttl = "1h"
apply_ttl = "24h"
separation_of_duties = true
# Tests use printf, cat, sh... as dry-runs; the gate on them is tested on its own.
dry_run_must_be_read_only = false

[[rules]]
name = "looking"
tier = "read_only"
commands = ["ls **"]

[[rules]]
name = "prod"
tier = "critical"
commands = ["deploy-prod **"]

[[rules]]
name = "forbidden"
tier = "deny"
commands = ["forbidden-thing **"]
"#;

// ---------------------------------------------------------------------------
// Shared by the tests of each rung
// ---------------------------------------------------------------------------

/// A fixed clock for tests that need one: where their windows start.
pub const T0: &str = "2026-01-01T00:00:00Z";

/// A fresh environment under [`STRICT_POLICY`].
pub fn strict() -> TestEnv {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    t
}

/// [`strict`] with the clock fixed at `now` (RFC 3339).
pub fn strict_at(now: &str) -> TestEnv {
    let mut t = strict();
    t.at(now);
    t
}

/// A plan object's `id`, `key` and `hash`.
pub fn id(plan: &Value) -> &str {
    plan["id"].as_str().expect("plan id")
}

pub fn key(plan: &Value) -> &str {
    plan["key"].as_str().expect("plan key")
}

pub fn hash(plan: &Value) -> &str {
    plan["hash"].as_str().expect("plan hash")
}

/// `apply --key KEY --hash HASH` with `plan`'s own key and hash: what an
/// agent runs to apply the plan that was approved. Tests that pass a wrong
/// key or hash on purpose spell their argv out.
pub fn apply_args(plan: &Value) -> Vec<&str> {
    vec!["apply", "--key", key(plan), "--hash", hash(plan)]
}

/// Asserts a `--json` refusal: the exit code, `error.code`, a message, and
/// nothing but one JSON object on stdout.
#[track_caller]
pub fn assert_refused(r: &Run, code: i32, name: &str) {
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
pub fn assert_human_error(r: &Run, code: i32) {
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

/// How many of `kinds` are `kind`.
pub fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// The newest ledger event.
pub fn last_event(t: &TestEnv) -> Value {
    t.events().pop().expect("at least one event")
}

/// The plan's row number (what the run lock is keyed on).
pub fn seq_of(t: &TestEnv, plan: &Value) -> i64 {
    t.db()
        .query_row("SELECT seq FROM plans WHERE id = ?1", [id(plan)], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Every row of every table but the ledger, as text: what a refusal must
/// leave untouched.
pub fn state_rows(t: &TestEnv) -> BTreeMap<String, Vec<String>> {
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
pub fn simulate_crash(t: &TestEnv, plan: &Value) {
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

/// An RFC 3339 time in UTC (`...Z`), as the contract writes times.
pub fn is_rfc3339_utc(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with('Z') && ladder::clock::parse_rfc3339(s).is_ok())
}

/// A SHA-256 digest in lowercase hex.
pub fn is_sha256_hex(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 64
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// A plan whose command leaves a mark, so a test can tell whether it ran.
pub fn marker_plan(
    t: &TestEnv,
    actor: &str,
    key: &str,
    flags: &[&str],
) -> (Value, std::path::PathBuf) {
    let mark = t.path().join(format!("ran-{}", key.replace('/', "_")));
    let plan = t.plan(actor, key, flags, &["touch", mark.to_str().unwrap()]);
    (plan, mark)
}

/// Runs ladder on a pseudo-terminal (see `TestEnv::on_terminal`), colours off.
pub fn on_terminal(t: &TestEnv, actor: &str, args: &str, input: &str) -> Option<(i32, String)> {
    t.on_terminal(actor, args, input, &[("NO_COLOR", "1")])
}

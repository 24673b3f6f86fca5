//! The stress run: N processes race over M keys while some are killed with
//! SIGKILL at random moments; afterwards no key has run twice and the ledger
//! verifies. Not part of `cargo test` (it is ignored); run it with
//!
//! ```sh
//! cargo test --release --test stress -- --ignored --nocapture
//! LADDER_STRESS_PROCS=400 LADDER_STRESS_KEYS=40 cargo test --release --test stress -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: good enough to pick keys and kill times.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ladder(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ladder"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("LADDER_STATE", dir.join("state.db"))
        .env("LADDER_POLICY", dir.join("policy.toml"))
        .env("LADDER_ACTOR", "stress")
        .current_dir(dir)
        .stdin(Stdio::null());
    c
}

#[test]
#[ignore = "stress run: cargo test --release --test stress -- --ignored --nocapture"]
fn racing_and_killing_never_runs_a_key_twice() {
    let procs = var("LADDER_STRESS_PROCS", 120);
    let keys = var("LADDER_STRESS_KEYS", 16);
    let kill_percent = var("LADDER_STRESS_KILL_PERCENT", 15) as u64;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Everything needs no approval here: the race is about apply.
    std::fs::write(
        dir.join("policy.toml"),
        "version = 1\n[defaults]\ntier = \"read_only\"\n",
    )
    .unwrap();
    let runs = dir.join("runs.log");
    let mut plans = vec![];
    for k in 0..keys {
        let key = format!("key-{k}");
        let script = format!(
            "echo {key} >> {}; sleep 0.$(( $$ % 3 + 1 ))",
            runs.display()
        );
        let out = ladder(dir)
            .args(["--json", "plan", "--key", &key, "--", "sh", "-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        plans.push((key, v["hash"].as_str().unwrap().to_string()));
    }

    let started = Instant::now();
    let mut children: Vec<(Child, Option<Instant>)> = vec![];
    let mut killed = 0;
    for _ in 0..procs {
        let (key, hash) = &plans[rng.below(keys as u64) as usize];
        let child = ladder(dir)
            .args(["--json", "apply", "--key", key, "--hash", hash])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let kill_at = (rng.below(100) < kill_percent)
            .then(|| Instant::now() + Duration::from_millis(rng.below(250)));
        children.push((child, kill_at));
        // Kill whoever is due, as we go, so kills land at random points.
        for (c, at) in children.iter_mut() {
            if at.is_some_and(|t| Instant::now() >= t) {
                let _ = c.kill();
                *at = None;
                killed += 1;
            }
        }
    }
    let mut codes: BTreeMap<i32, usize> = BTreeMap::new();
    let mut db_errors = 0;
    for (mut c, at) in children {
        if let Some(t) = at {
            std::thread::sleep(t.saturating_duration_since(Instant::now()));
            let _ = c.kill();
            killed += 1;
        }
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("locked") || stderr.contains("busy") || stderr.contains("database error")
        {
            db_errors += 1;
            eprintln!("database error: {stderr}");
        }
        *codes.entry(out.status.code().unwrap_or(-9)).or_default() += 1;
    }
    let elapsed = started.elapsed();

    let log = std::fs::read_to_string(&runs).unwrap_or_default();
    let mut ran: BTreeMap<&str, usize> = BTreeMap::new();
    for line in log.lines() {
        *ran.entry(line).or_default() += 1;
    }
    let twice: Vec<_> = ran.iter().filter(|(_, n)| **n > 1).collect();
    let verify = ladder(dir).args(["log", "--verify"]).output().unwrap();
    let statuses = ladder(dir)
        .args(["--json", "list", "--status", "all", "--limit", "0"])
        .output()
        .unwrap();
    let statuses: serde_json::Value = serde_json::from_slice(&statuses.stdout).unwrap();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for p in statuses["plans"].as_array().unwrap() {
        *by_status
            .entry(p["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }

    println!(
        "stress: {procs} processes over {keys} keys, {killed} killed with SIGKILL, seed {seed}"
    );
    println!(
        "stress: {:.2}s elapsed, exit codes {codes:?} (-9: killed)",
        elapsed.as_secs_f64()
    );
    println!(
        "stress: plans by status {by_status:?}; keys that ran: {}",
        ran.len()
    );
    println!(
        "stress: ledger: {}",
        String::from_utf8_lossy(&verify.stdout).trim()
    );
    assert!(twice.is_empty(), "keys ran more than once: {twice:?}");
    assert_eq!(db_errors, 0, "database errors surfaced");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // A plan whose runner was killed is refused, never run again.
    for p in statuses["plans"].as_array().unwrap() {
        if matches!(p["status"].as_str(), Some("running") | Some("interrupted")) {
            let out = ladder(dir)
                .args([
                    "apply",
                    "--key",
                    p["key"].as_str().unwrap(),
                    "--hash",
                    p["hash"].as_str().unwrap(),
                ])
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(17),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let again = std::fs::read_to_string(&runs).unwrap_or_default();
    assert_eq!(again, log, "probing interrupted plans ran something");
}

//! What signed approvals cost at apply: a critical plan with two signed
//! approvals against the same plan with two unsigned ones, side by side
//! with spawning `true`, and the floor the signatures add (reading
//! allowed_signers and verifying two SSHSIG ed25519 signatures, in-process).
//!
//!     cargo bench --bench signing
//!     LADDER_BENCH_REPS=100 cargo bench --bench signing
//!
//! Each round plans and approves one plan per kind (not measured), then
//! measures the apply of each, interleaved. Keys are made with the real
//! `ssh-keygen`. No assertions beyond "it ran": a benchmark reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A state and a policy for one kind of plan.
struct Setup {
    dir: PathBuf,
    bin: PathBuf,
}

impl Setup {
    fn new(root: &Path, name: &str, bin: &Path, signed: bool) -> Setup {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut policy = String::from(
            "version = 1\n[defaults]\ndry_run_must_be_read_only = false\n\
             [[rules]]\nname = \"deploy\"\ntier = \"critical\"\ncommands = [\"true **\"]\n\
             [tiers.critical]\napprovals = 2\n",
        );
        if signed {
            policy.push_str("signed = true\n[signing]\nallowed_signers = \"../allowed_signers\"\n");
        }
        std::fs::write(dir.join("policy.toml"), policy).unwrap();
        Setup {
            dir,
            bin: bin.to_path_buf(),
        }
    }

    fn ladder(&self, actor: &str, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", &self.dir)
            .env("LADDER_STATE", self.dir.join("state.db"))
            .env("LADDER_POLICY", self.dir.join("policy.toml"))
            .env("LADDER_ACTOR", actor)
            .current_dir(&self.dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Plans and approves `true ROUND` by alice and bob (signing with
    /// `keys` when given); returns the key and hash.
    fn ready(&self, round: usize, keys: Option<&Path>) -> (String, String) {
        let key = format!("deploy-{round}");
        let out = self
            .ladder("agent", &["--json", "plan", "--key", &key, "--", "true"])
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
        let (id, hash) = (plan["id"].as_str().unwrap(), plan["hash"].as_str().unwrap());
        for who in ["alice", "bob"] {
            let mut cmd = self.ladder(who, &["approve", id, "--yes"]);
            if let Some(keys) = keys {
                cmd.arg("--sign").arg(keys.join(who));
            }
            assert!(cmd.status().unwrap().success(), "approve failed");
        }
        (key, hash.to_string())
    }

    fn apply(&self, key: &str, hash: &str) -> Duration {
        let mut cmd = self.ladder("agent", &["apply", "--key", key, "--hash", hash]);
        let start = Instant::now();
        let st = cmd.status().unwrap();
        let wall = start.elapsed();
        assert!(st.success(), "apply failed");
        wall
    }
}

fn main() {
    let reps: usize = std::env::var("LADDER_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // A copy, as installed (see benches/ladder.rs, `install_bin`).
    let bin = root.join("ladder");
    std::fs::copy(env!("CARGO_BIN_EXE_ladder"), &bin).unwrap();

    let keys = root.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let mut signers = String::new();
    for who in ["alice", "bob"] {
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"])
            .arg(keys.join(who))
            .status()
            .expect("ssh-keygen");
        assert!(st.success());
        let public = std::fs::read_to_string(keys.join(format!("{who}.pub"))).unwrap();
        let public: Vec<&str> = public.split_whitespace().take(2).collect();
        signers.push_str(&format!(
            "{who} namespaces=\"ladder-approval-v1\" {}\n",
            public.join(" ")
        ));
    }
    std::fs::write(root.join("allowed_signers"), &signers).unwrap();

    let unsigned = Setup::new(root, "unsigned", &bin, false);
    let signed = Setup::new(root, "signed", &bin, true);
    // Warm both (schema, page cache).
    unsigned.ready(usize::MAX, None);
    signed.ready(usize::MAX, Some(&keys));

    let (mut t_true, mut t_unsigned, mut t_signed) = (vec![], vec![], vec![]);
    eprintln!("measuring {reps} rounds, interleaved...");
    for i in 0..reps {
        let (ku, hu) = unsigned.ready(i, None);
        let (ks, hs) = signed.ready(i, Some(&keys));
        let start = Instant::now();
        Command::new("true").status().unwrap();
        t_true.push(start.elapsed());
        t_unsigned.push(unsigned.apply(&ku, &hu));
        t_signed.push(signed.apply(&ks, &hs));
    }

    // The floor the signatures add: what apply does for them, in-process.
    let trust = ladder::signing::Trust::load(&ladder::policy::Signing {
        allowed_signers: root.join("allowed_signers"),
        require_touch: false,
    })
    .unwrap();
    let db = rusqlite::Connection::open(signed.dir.join("state.db")).unwrap();
    let rows: Vec<(String, String, i64, String, String, String)> = db
        .prepare(
            "SELECT plan, actor, at, hash, signature, signed_policy FROM approvals
             WHERE plan = (SELECT plan FROM approvals ORDER BY at DESC LIMIT 1)",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        let trust = ladder::signing::Trust::load(&ladder::policy::Signing {
            allowed_signers: root.join("allowed_signers"),
            require_touch: false,
        })
        .unwrap();
        for (plan, actor, at, hash, armored, policy) in &rows {
            let decision = ladder::signing::Decision {
                kind: ladder::signing::DecisionKind::Approve,
                plan,
                hash,
                principal: actor,
                at: *at,
                policy_sha256: policy,
                note: None,
            };
            let valid = trust.verify(&decision.payload(), actor, *at, armored);
            assert!(valid.is_ok(), "{valid:?}");
        }
    }
    let floor = start.elapsed() / n;
    drop(trust);

    let (tt, tu, ts) = (median(t_true), median(t_unsigned), median(t_signed));
    println!("signed approvals at apply, {reps} rounds, medians:");
    println!("  true                          {:>10}", ms(tt));
    println!(
        "  apply, 2 unsigned approvals   {:>10}  {:.1}x true",
        ms(tu),
        tu.as_secs_f64() / tt.as_secs_f64()
    );
    println!(
        "  apply, 2 signed approvals     {:>10}  {:.1}x true  (+{} over unsigned)",
        ms(ts),
        ts.as_secs_f64() / tt.as_secs_f64(),
        ms(ts.saturating_sub(tu))
    );
    println!(
        "  floor: allowed_signers + 2 SSHSIG verifies, in-process: {}",
        ms(floor)
    );
}

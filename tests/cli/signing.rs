//! Signed decisions, end to end with keys made by the real `ssh-keygen`:
//! on a tier with `signed = true` only approvals signed by a principal in
//! the policy's allowed_signers count, at approve, at apply and in
//! `log --verify`; whatever the agent writes into the state file does not.

use crate::harness::{
    STRICT_POLICY, TestEnv, assert_human_error, assert_refused, id, marker_plan, simulate_crash,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The strict policy with signed critical plans, anything run with `touch`
/// critical (so a test can see whether it ran).
fn signed_policy() -> String {
    format!(
        r#"{STRICT_POLICY}
[[rules]]
name = "marked"
tier = "critical"
commands = ["touch **"]

[signing]
allowed_signers = "allowed_signers"

[tiers.critical]
approvals = 2
signed = true
"#
    )
}

/// A test environment whose reviewers hold ed25519 keys made here.
struct Signers {
    t: TestEnv,
}

impl Signers {
    /// Keys for alice, bob and mallory; allowed_signers lists alice and bob.
    fn new() -> Signers {
        let mut t = TestEnv::new();
        t.with_policy(&signed_policy());
        let s = Signers { t };
        for name in ["alice", "bob", "mallory"] {
            keygen(&s.key(name), name, "");
        }
        s.allow(&[("alice", "alice", ""), ("bob", "bob", "")]);
        s
    }

    /// A private key file's path.
    fn key(&self, name: &str) -> PathBuf {
        self.t.path().join(format!("key-{name}"))
    }

    /// Writes allowed_signers: (principal, key name, extra options).
    fn allow(&self, lines: &[(&str, &str, &str)]) {
        let mut text = String::from("# who may sign ladder decisions\n");
        for (principal, key, options) in lines {
            let public = std::fs::read_to_string(self.key(key).with_extension("pub")).unwrap();
            let public: Vec<&str> = public.split_whitespace().take(2).collect();
            let sep = if options.is_empty() { "" } else { "," };
            text.push_str(&format!(
                "{principal} namespaces=\"ladder-approval-v1\"{sep}{options} {}\n",
                public.join(" ")
            ));
        }
        std::fs::write(self.t.path().join("allowed_signers"), text).unwrap();
    }

    /// `approve PLAN --sign KEY --yes --json` as `actor`.
    fn approve(&self, actor: &str, plan: &Value, key: &str) -> crate::harness::Run {
        let key = self.key(key);
        self.t.json(
            actor,
            &[
                "approve",
                id(plan),
                "--yes",
                "--sign",
                key.to_str().unwrap(),
            ],
        )
    }

    fn fingerprint(&self, name: &str) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(self.key(name).with_extension("pub"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    }
}

/// `ssh-keygen -t ed25519` with `passphrase` (empty: none).
fn keygen(path: &Path, comment: &str, passphrase: &str) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
}

/// Appends an event to the state file's ledger with a correctly chained
/// hash: what an agent that can write the file can always do.
fn forge(t: &TestEnv, kind: &str, plan: &Value, actor: &str, detail: Value) {
    let at: i64 = t
        .db()
        .query_row("SELECT max(at) FROM events", [], |r| r.get(0))
        .unwrap();
    // Keys sorted, compact: as ladder stores details.
    let detail = serde_json::to_string(&detail).unwrap();
    append(
        t,
        at + 1,
        kind,
        id(plan),
        plan["key"].as_str().unwrap(),
        actor,
        &detail,
    );
}

/// Appends a byte-for-byte copy of event `seq`, chained after the last.
fn forge_copy(t: &TestEnv, seq: i64) {
    let (at, kind, plan, key, actor, detail): (i64, String, String, String, String, String) = t
        .db()
        .query_row(
            "SELECT at, kind, plan, key, actor, detail FROM events WHERE seq = ?1",
            [seq],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    append(t, at, &kind, &plan, &key, &actor, &detail);
}

fn append(t: &TestEnv, at: i64, kind: &str, plan: &str, key: &str, actor: &str, detail: &str) {
    let db = t.db();
    let (seq, prev): (i64, String) = db
        .query_row(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let hash = ladder::ledger::event_hash(&ladder::ledger::EventFields {
        seq: seq + 1,
        at,
        kind,
        plan: Some(plan),
        key: Some(key),
        actor,
        detail,
        prev_hash: &prev,
    });
    db.execute(
        "INSERT INTO events (seq, at, kind, plan, key, actor, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![seq + 1, at, kind, plan, key, actor, detail, prev, hash],
    )
    .unwrap();
}

/// Writes two unsigned approvals and `approved` into the state file.
fn forge_approvals(t: &TestEnv, plan: &Value) {
    let db = t.db();
    for who in ["alice", "bob"] {
        db.execute(
            "INSERT INTO approvals (plan, actor, at, hash) SELECT id, ?2, created_at, hash
             FROM plans WHERE id = ?1",
            [id(plan), who],
        )
        .unwrap();
    }
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(plan)],
    )
    .unwrap();
}

fn approvals(t: &TestEnv, plan: &Value) -> Vec<Value> {
    t.show(plan)["approvals"].as_array().unwrap().clone()
}

#[test]
fn two_signed_reviewers_approve_a_critical_plan_and_only_their_signatures_count() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, mark) = marker_plan(t, "agent", "signed", &[]);
    assert_eq!(plan["tier"], "critical");
    assert_eq!(plan["signatures_required"], true);

    // Unsigned: refused, recorded as a refusal, counts for nothing.
    let r = t.json("carol", &["approve", id(&plan), "--yes"]);
    assert_refused(&r, 22, "not_allowed");
    assert!(
        r.json()["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--sign")
    );
    // A key allowed_signers does not list for alice.
    assert_refused(&s.approve("alice", &plan, "mallory"), 22, "not_allowed");
    // Alice's key, but signing as somebody else.
    assert_refused(&s.approve("bob", &plan, "alice"), 22, "not_allowed");
    assert!(approvals(t, &plan).is_empty());

    let r = s.approve("alice", &plan, "alice");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = &approvals(t, &plan)[0];
    assert_eq!(a["actor"], "alice");
    assert_eq!(a["signed"], true);
    assert_eq!(a["signature_valid"], true);
    assert_eq!(a["signer_key"], s.fingerprint("alice"));
    assert!(
        a["signature"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN SSH SIGNATURE-----")
    );

    // Alice again, even signed, is one reviewer.
    assert_refused(&s.approve("alice", &plan, "alice"), 22, "not_allowed");
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 10, "needs_approval");
    assert!(!mark.exists());

    assert_eq!(s.approve("bob", &plan, "bob").code, 0);
    assert_eq!(t.show(&plan)["status"], "approved");
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(mark.exists());

    let r = t.json("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Two approvals, each in the ledger and in its row.
    assert_eq!(r.json()["signatures"], 4, "{}", r.json());

    // The card says who signed, with which key.
    let card = t.run("viewer", &["show", id(&plan)]).stdout_str();
    let short = &s.fingerprint("alice")[..19];
    assert!(card.contains(&format!("alice (signed, {short}")), "{card}");
}

#[test]
fn without_actor_the_key_names_its_principal() {
    let s = Signers::new();
    let (plan, _) = marker_plan(&s.t, "agent", "who", &[]);
    let key = s.key("bob");
    let mut cmd = s.t.cmd("agent");
    cmd.env_remove("LADDER_ACTOR")
        .args(["--json", "approve", id(&plan), "--yes", "--sign"])
        .arg(&key);
    let r: crate::harness::Run = cmd.output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(approvals(&s.t, &plan)[0]["actor"], "bob");
}

#[test]
fn an_unsigned_approval_written_into_the_state_file_does_not_count() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, mark) = marker_plan(t, "agent", "forged", &[]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    // The agent adds a second reviewer and marks the plan approved.
    let db = t.db();
    db.execute(
        "INSERT INTO approvals (plan, actor, at, comment, hash)
         SELECT plan, 'bob', at + 1, NULL, hash FROM approvals WHERE plan = ?1",
        [id(&plan)],
    )
    .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    drop(db);

    let r = t.apply_json("agent", &plan);
    assert!(r.code != 0, "{}", r.stderr);
    assert!(!mark.exists(), "an unsigned row made the plan run");
    let bob = approvals(t, &plan)
        .into_iter()
        .find(|a| a["actor"] == "bob")
        .unwrap();
    assert_eq!(bob["signed"], false);
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
}

#[test]
fn a_signature_moved_to_another_plan_counts_nowhere() {
    let s = Signers::new();
    let t = &s.t;
    let (first, _) = marker_plan(t, "agent", "first", &[]);
    // The same command under another key: another plan.
    let mark = t.path().join("ran-first");
    let second = t.plan("agent", "second", &[], &["touch", mark.to_str().unwrap()]);
    assert_eq!(s.approve("alice", &first, "alice").code, 0);
    assert_eq!(s.approve("bob", &first, "bob").code, 0);

    let db = t.db();
    db.execute(
        "INSERT INTO approvals (plan, actor, at, comment, hash, signature, signature_kind, signed_policy)
         SELECT ?2, actor, at, comment, hash, signature, signature_kind, signed_policy
         FROM approvals WHERE plan = ?1",
        [id(&first), id(&second)],
    )
    .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(&second)],
    )
    .unwrap();
    drop(db);

    let r = t.apply_json("agent", &second);
    assert!(r.code != 0, "{}", r.stderr);
    assert!(!mark.exists(), "signatures for one plan ran another");
    for a in approvals(t, &second) {
        assert_eq!(a["signature_valid"], false, "{a}");
    }
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
}

#[test]
fn a_signed_row_edited_in_the_state_file_stops_counting() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, mark) = marker_plan(t, "agent", "edited", &[]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    assert_eq!(s.approve("bob", &plan, "bob").code, 0);
    // Bob's approval renamed carol: the signature no longer matches its row.
    t.db()
        .execute(
            "UPDATE approvals SET actor = 'carol' WHERE plan = ?1 AND actor = 'bob'",
            [id(&plan)],
        )
        .unwrap();
    let r = t.apply_json("agent", &plan);
    assert!(r.code != 0, "{}", r.stderr);
    assert!(!mark.exists());
    let r = t.json("viewer", &["log", "--verify"]);
    assert_refused(&r, 21, "tampered");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("signed approval by carol does not verify"),
        "{msg}"
    );
}

#[test]
fn expired_not_yet_valid_and_removed_keys_do_not_count() {
    let mut s = Signers::new();
    s.t.at("2026-03-01T00:00:00Z");
    let t = &s.t;
    let (plan, mark) = marker_plan(t, "agent", "dates", &[]);
    s.allow(&[
        ("alice", "alice", "valid-before=\"20260201\""),
        ("bob", "bob", "valid-after=\"20260401\""),
    ]);
    assert_refused(&s.approve("alice", &plan, "alice"), 22, "not_allowed");
    assert_refused(&s.approve("bob", &plan, "bob"), 22, "not_allowed");
    assert!(approvals(t, &plan).is_empty());

    // Valid now; then alice's key is taken out of allowed_signers.
    s.allow(&[("alice", "alice", ""), ("bob", "bob", "")]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    assert_eq!(s.approve("bob", &plan, "bob").code, 0);
    s.allow(&[("bob", "bob", "")]);
    assert_refused(&t.apply_json("agent", &plan), 10, "needs_approval");
    assert!(!mark.exists());
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
}

#[test]
fn a_retry_after_an_interrupted_run_needs_a_signature() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, mark) = marker_plan(t, "agent", "retry", &[]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    assert_eq!(s.approve("bob", &plan, "bob").code, 0);
    simulate_crash(t, &plan);
    assert_refused(&t.apply_json("agent", &plan), 17, "outcome_unknown");

    let resolve = [
        "resolve",
        id(&plan),
        "--outcome",
        "retry",
        "--reason",
        "checked: it never ran",
    ];
    let r = t.json("alice", &resolve);
    assert_refused(&r, 22, "not_allowed");
    assert_eq!(t.show(&plan)["status"], "interrupted");
    // Nor with the row's tier written down: the policy's verdict holds.
    let set_tier = |tier: &str| {
        t.db()
            .execute(
                "UPDATE plans SET tier = ?2 WHERE id = ?1",
                [id(&plan), tier],
            )
            .unwrap()
    };
    set_tier("read_only");
    assert_refused(&t.json("alice", &resolve), 22, "not_allowed");
    set_tier("critical");

    // The agent allows the retry itself in the state file.
    let db = t.db();
    db.execute(
        "UPDATE plans SET status = 'approved', retry_allowed = 1 WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    db.execute(
        "UPDATE executions SET resolved_outcome = 'retry', resolved_by = 'alice', resolved_at = started_at,
                resolved_reason = 'x' WHERE plan = ?1",
        [id(&plan)],
    )
    .unwrap();
    drop(db);
    assert_refused(&t.apply_json("agent", &plan), 22, "not_allowed");
    assert!(!mark.exists(), "an unsigned retry ran the plan again");
    // Put back as ladder left it.
    let db = t.db();
    db.execute(
        "UPDATE plans SET status = 'interrupted', retry_allowed = 0 WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    db.execute(
        "UPDATE executions SET resolved_outcome = NULL, resolved_by = NULL, resolved_at = NULL,
                resolved_reason = NULL WHERE plan = ?1",
        [id(&plan)],
    )
    .unwrap();
    drop(db);

    let key = s.key("alice");
    let mut signed = resolve.to_vec();
    signed.extend(["--sign", key.to_str().unwrap()]);
    let r = t.json("alice", &signed);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = t.apply_json("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(mark.exists());
    let r = t.json("viewer", &["log", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
}

#[test]
fn reject_signed_names_the_signer() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, _) = marker_plan(t, "agent", "no", &[]);
    let key = s.key("bob");
    let r = t.json(
        "bob",
        &[
            "reject",
            id(&plan),
            "--reason",
            "not today",
            "--sign",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown = t.show(&plan);
    assert_eq!(shown["status"], "rejected");
    assert_eq!(shown["rejection"]["signed"], true, "{shown}");
    // The rejected event's signature, checked again from the ledger.
    assert_eq!(
        t.json("viewer", &["log", "--verify"]).json()["signatures"],
        1
    );

    // The agent takes the veto back in the state file: nothing runs.
    t.db()
        .execute(
            "UPDATE plans SET status = 'approved', rejected_by = NULL WHERE id = ?1",
            [id(&plan)],
        )
        .unwrap();
    assert_ne!(t.apply_json("agent", &plan).code, 0);
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
}

/// What ladder signs, rebuilt from the documented format, verifies with
/// the real `ssh-keygen -Y verify`; and a checkpoint signed by
/// `ssh-keygen -Y sign` verifies in ladder.
#[test]
fn signatures_interoperate_with_ssh_keygen_both_ways() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, _) = marker_plan(t, "agent", "interop", &[]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    let a = &approvals(t, &plan)[0];
    let policy_sha = t
        .db()
        .query_row(
            "SELECT signed_policy FROM approvals WHERE plan = ?1",
            [id(&plan)],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    let payload = format!(
        "ladder-decision-v1\ndecision approve\nplan {}\nhash {}\nprincipal alice\nat {}\npolicy {}\nnote -\n",
        id(&plan),
        plan["hash"].as_str().unwrap(),
        a["at"].as_str().unwrap(),
        policy_sha,
    );
    let sig = t.path().join("approval.sig");
    std::fs::write(&sig, a["signature"].as_str().unwrap()).unwrap();
    let verify = |payload: &str| {
        let mut child = Command::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-n",
                "ladder-approval-v1",
                "-I",
                "alice",
                "-f",
            ])
            .arg(t.path().join("allowed_signers"))
            .arg("-s")
            .arg(&sig)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(payload.as_bytes())
            .unwrap();
        child.wait().unwrap().success()
    };
    assert!(
        verify(&payload),
        "ssh-keygen rejects ladder's signature over {payload}"
    );
    assert!(!verify(&payload.replace("approve", "reject")));

    // ssh-keygen signs a checkpoint ladder wrote out; ladder checks it.
    let r = t.json("viewer", &["log", "--verify"]);
    let (seq, head) = (
        r.json()["seq"].as_i64().unwrap(),
        r.json()["head"].as_str().unwrap().to_string(),
    );
    let text = format!(
        "ladder-checkpoint-v1\nseq {seq}\nhash {head}\nat 2026-12-05T00:00:00.000Z\nprincipal alice\n"
    );
    let file = t.path().join("checkpoint");
    std::fs::write(&file, &text).unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "ladder-approval-v1", "-f"])
        .arg(s.key("alice"))
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success());
    let signed = format!(
        "{text}{}",
        std::fs::read_to_string(file.with_extension("sig")).unwrap()
    );
    std::fs::write(&file, signed).unwrap();
    let r = t.json(
        "viewer",
        &["log", "--verify", "--checkpoint", file.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    assert_eq!(r.json()["checkpoint_signed_by"], "alice", "{}", r.json());
}

#[test]
fn checkpoints_and_expected_heads_catch_a_rewritten_ledger() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, _) = marker_plan(t, "agent", "anchor", &[]);
    let r = t.json("viewer", &["log", "--verify"]);
    let head = r.json()["head"].as_str().unwrap().to_string();
    let seq = r.json()["seq"].as_i64().unwrap();
    let expect = format!("{seq}:{head}");

    let key = s.key("alice");
    let r = t.run(
        "alice",
        &["log", "--checkpoint", "--sign", key.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let checkpoint = t.path().join("checkpoint");
    std::fs::write(&checkpoint, &r.stdout).unwrap();
    let cp = checkpoint.to_str().unwrap();

    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    assert_eq!(
        t.json("viewer", &["log", "--verify", "--expect", &expect])
            .code,
        0
    );
    assert_eq!(
        t.json("viewer", &["log", "--verify", "--checkpoint", cp])
            .code,
        0
    );

    let wrong = format!("{seq}:{}", "0".repeat(64));
    assert_refused(
        &t.json("viewer", &["log", "--verify", "--expect", &wrong]),
        21,
        "tampered",
    );
    let beyond = format!("{}:{head}", seq + 100);
    assert_refused(
        &t.json("viewer", &["log", "--verify", "--expect", &beyond]),
        21,
        "tampered",
    );
    assert_human_error(
        &t.run("viewer", &["log", "--verify", "--expect", "seven"]),
        2,
    );

    // An edited checkpoint no longer verifies.
    let text = std::fs::read_to_string(&checkpoint).unwrap();
    std::fs::write(
        &checkpoint,
        text.replacen(&format!("seq {seq}"), &format!("seq {}", seq + 1), 1),
    )
    .unwrap();
    assert_refused(
        &t.json("viewer", &["log", "--verify", "--checkpoint", cp]),
        21,
        "tampered",
    );
}

#[test]
fn a_passphrase_comes_from_ssh_askpass_and_a_wrong_one_is_a_usage_error() {
    let mut s = Signers::new();
    keygen(&s.key("carol"), "carol", "correct horse");
    s.allow(&[("alice", "alice", ""), ("carol", "carol", "")]);
    let askpass = s.t.path().join("askpass");
    std::fs::write(
        &askpass,
        "#!/bin/sh\ncat \"$(dirname \"$0\")/passphrase\"\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&askpass).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    s.t.env("SSH_ASKPASS", askpass.to_str().unwrap())
        .env("SSH_ASKPASS_REQUIRE", "force");
    let t = &s.t;
    let (plan, _) = marker_plan(t, "agent", "pass", &[]);

    std::fs::write(t.path().join("passphrase"), "battery staple\n").unwrap();
    let r = s.approve("carol", &plan, "carol");
    assert_refused(&r, 2, "usage");
    assert!(approvals(t, &plan).is_empty());

    std::fs::write(t.path().join("passphrase"), "correct horse\n").unwrap();
    let r = s.approve("carol", &plan, "carol");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(approvals(t, &plan)[0]["signature_valid"], true);
}

/// A child killed when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[test]
fn the_key_in_ssh_agent_signs_and_no_agent_is_a_usage_error() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, _) = marker_plan(t, "agent", "via-agent", &[]);
    // No SSH_AUTH_SOCK in the test's environment.
    assert_human_error(
        &t.run("alice", &["approve", id(&plan), "--yes", "--sign", "agent"]),
        2,
    );

    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let _agent = Killed(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent"),
    );
    for _ in 0..200 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let added = Command::new("ssh-add")
        .arg("-q")
        .arg(s.key("alice"))
        .env("SSH_AUTH_SOCK", &sock)
        .status()
        .unwrap();
    assert!(added.success());
    let run = |actor: &str, sign: &str| -> crate::harness::Run {
        let mut cmd = t.cmd(actor);
        cmd.env("SSH_AUTH_SOCK", &sock).args([
            "--json",
            "approve",
            id(&plan),
            "--yes",
            "--sign",
            sign,
        ]);
        cmd.output().unwrap().into()
    };
    // Bob's .pub names a key the agent does not hold.
    let bob_pub = s.key("bob").with_extension("pub");
    assert_refused(&run("bob", bob_pub.to_str().unwrap()), 2, "usage");
    let r = run("alice", "agent");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(approvals(t, &plan)[0]["signer_key"], s.fingerprint("alice"));
}

#[test]
fn bad_keys_and_a_malformed_allowed_signers_are_one_line_usage_errors() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, _) = marker_plan(t, "agent", "bad", &[]);
    let not_a_key = t.path().join("notes.txt");
    std::fs::write(&not_a_key, "hello\n").unwrap();
    let r = t.run(
        "alice",
        &[
            "approve",
            id(&plan),
            "--yes",
            "--sign",
            not_a_key.to_str().unwrap(),
        ],
    );
    assert_human_error(&r, 2);
    let r = t.run(
        "alice",
        &["approve", id(&plan), "--yes", "--sign", "/nonexistent/key"],
    );
    assert_human_error(&r, 2);

    std::fs::write(
        t.path().join("allowed_signers"),
        "alice ssh-ed25519 AAAA\nbob namespaces=\"x ssh-ed25519 AAAA\n",
    )
    .unwrap();
    let key = s.key("alice");
    let r = t.run(
        "alice",
        &[
            "approve",
            id(&plan),
            "--yes",
            "--sign",
            key.to_str().unwrap(),
        ],
    );
    assert_human_error(&r, 2);
    assert!(r.stderr.contains("allowed_signers:1"), "{}", r.stderr);
    // A plan on a signed tier cannot be applied while trust cannot be read.
    std::fs::remove_file(t.path().join("allowed_signers")).unwrap();
    assert_human_error(
        &t.run(
            "alice",
            &[
                "approve",
                id(&plan),
                "--yes",
                "--sign",
                key.to_str().unwrap(),
            ],
        ),
        2,
    );
    assert!(
        approvals(t, &plan).is_empty(),
        "nothing is recorded on bad input"
    );
}

#[test]
fn names_that_only_look_alike_are_one_reviewer() {
    // An unsigned tier: irreversible, one approval... two for this test.
    let mut t = TestEnv::new();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[tiers.irreversible]\napprovals = 2\n"
    ));
    let plan = t.plan("agent", "alike", &[], &["true"]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    // Cyrillic а in place of Latin a.
    assert_refused(&t.approve("\u{430}lice", &plan), 22, "not_allowed");
    // The planner under a look-alike name may not approve its own plan.
    assert_refused(&t.approve("\u{430}gent", &plan), 22, "not_allowed");
    assert_eq!(t.approve("b\u{f3}b", &plan).code, 0);
    assert_eq!(t.show(&plan)["status"], "approved");

    let plan = t.plan("agent", "decomposed", &[], &["true"]);
    assert_eq!(t.approve("b\u{f3}b", &plan).code, 0);
    // o + combining acute accent.
    assert_refused(&t.approve("bo\u{301}b", &plan), 22, "not_allowed");

    // Cards show non-ASCII letters for what they are.
    let plan = t.plan("agent", "shown", &[], &["true"]);
    assert_eq!(t.approve("\u{430}nna", &plan).code, 0);
    let card = t.run("viewer", &["show", id(&plan)]).stdout_str();
    assert!(card.contains("<U+0430>nna"), "{card}");
}

/// The tier column is the state file's: a critical plan written down as
/// `deny` (which no signed tier names), with a forged escalation and
/// quorum in the ledger, still does not run, and `--verify` says why.
#[test]
fn a_tier_written_down_in_the_state_file_does_not_lift_the_signatures() {
    let s = Signers::new();
    let t = &s.t;
    for (key, tier) in [("to-deny", "deny"), ("to-irreversible", "irreversible")] {
        let (plan, mark) = marker_plan(t, "agent", key, &[]);
        forge_approvals(t, &plan);
        t.db()
            .execute(
                "UPDATE plans SET tier = ?2, approvals_required = 1 WHERE id = ?1",
                [id(&plan), tier],
            )
            .unwrap();
        forge(
            t,
            "escalated",
            &plan,
            "system",
            serde_json::json!({"status": "approved", "to": {"approvals_required": 1, "tier": tier}}),
        );
        forge(
            t,
            "approved",
            &plan,
            "bob",
            serde_json::json!({"hash": plan["hash"], "quorum": true}),
        );
        let r = t.apply_json("agent", &plan);
        assert!(r.code != 0, "{key}: {}", r.stderr);
        assert!(
            !mark.exists(),
            "{key}: a tier written in the state file ran the plan"
        );
        assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
    }
}

/// A retry signed for one attempt allows that attempt only: with the next
/// run's record deleted and an unsigned retry forged into the ledger, a
/// third run is refused.
#[test]
fn a_signed_retry_allows_one_more_run_only() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, mark) = marker_plan(t, "agent", "third", &[]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    assert_eq!(s.approve("bob", &plan, "bob").code, 0);
    // A run that died: its row, and its `started` event as ladder writes it.
    simulate_crash(t, &plan);
    forge(
        t,
        "started",
        &plan,
        "agent",
        serde_json::json!({"attempt": 1, "hash": plan["hash"]}),
    );
    assert_refused(&t.apply_json("agent", &plan), 17, "outcome_unknown");
    let key = s.key("alice");
    let r = t.json(
        "alice",
        &[
            "resolve",
            id(&plan),
            "--outcome",
            "retry",
            "--reason",
            "never ran",
            "--sign",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(t.apply_json("agent", &plan).code, 0);
    std::fs::remove_file(&mark).unwrap();

    let db = t.db();
    db.execute(
        "DELETE FROM executions WHERE plan = ?1 AND attempt = 2",
        [id(&plan)],
    )
    .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    drop(db);
    forge(
        t,
        "resolved",
        &plan,
        "alice",
        serde_json::json!({"attempt": 2, "hash": plan["hash"], "outcome": "retry", "reason": "again"}),
    );
    let r = t.apply_json("agent", &plan);
    assert!(r.code != 0, "{}", r.stderr);
    assert!(!mark.exists(), "a third run on one signed retry");
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");

    // A byte-for-byte copy of the signed retry (its signature verifies)
    // allows nothing either: it settles the first run, not the second.
    let retry_seq: i64 = t
        .db()
        .query_row(
            "SELECT min(seq) FROM events WHERE kind = 'resolved' AND plan = ?1",
            [id(&plan)],
            |r| r.get(0),
        )
        .unwrap();
    forge_copy(t, retry_seq);
    let r = t.apply_json("agent", &plan);
    assert!(r.code != 0, "{}", r.stderr);
    assert!(!mark.exists(), "a copied signed retry ran the plan again");
}

/// A signed retry opens a fresh window to apply, like any retry.
#[test]
fn a_signed_retry_late_in_the_day_still_allows_its_run() {
    let mut s = Signers::new();
    s.t.at("2026-03-01T00:00:00Z");
    let (plan, mark) = marker_plan(&s.t, "agent", "late-retry", &[]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    assert_eq!(s.approve("bob", &plan, "bob").code, 0);
    simulate_crash(&s.t, &plan);
    assert_refused(&s.t.apply_json("agent", &plan), 17, "outcome_unknown");
    s.t.at("2026-03-02T06:00:00Z");
    let key = s.key("alice");
    let r = s.t.json(
        "alice",
        &[
            "resolve",
            id(&plan),
            "--outcome",
            "retry",
            "--reason",
            "checked",
            "--sign",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.t.apply_json("agent", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(mark.exists());
}

/// Reviewers sign the hash, but they read the row: a row edited to show
/// them something else than its hash binds is refused before anyone signs.
#[test]
fn a_row_that_does_not_hash_to_its_hash_is_never_approved() {
    let s = Signers::new();
    let t = &s.t;
    let (plan, _) = marker_plan(t, "agent", "swapped", &[]);
    t.db()
        .execute(
            "UPDATE plans SET reason = 'routine', cwd = CAST('/srv/safe' AS BLOB) WHERE id = ?1",
            [id(&plan)],
        )
        .unwrap();
    let show = t.run("viewer", &["show", id(&plan)]);
    assert!(show.stderr.contains("do not approve it"), "{}", show.stderr);
    assert_refused(&s.approve("alice", &plan, "alice"), 21, "tampered");
    assert!(approvals(t, &plan).is_empty());
}

#[test]
fn one_key_is_one_reviewer_whatever_principals_it_may_sign_as() {
    let s = Signers::new();
    let t = &s.t;
    // alice's key may sign as alice and as ops.
    let public = std::fs::read_to_string(s.key("alice").with_extension("pub")).unwrap();
    let public: Vec<&str> = public.split_whitespace().take(2).collect();
    std::fs::write(
        t.path().join("allowed_signers"),
        format!(
            "alice,ops namespaces=\"ladder-approval-v1\" {}\n",
            public.join(" ")
        ),
    )
    .unwrap();
    let (plan, mark) = marker_plan(t, "agent", "one-key", &[]);
    assert_eq!(s.approve("alice", &plan, "alice").code, 0);
    let r = s.approve("ops", &plan, "alice");
    assert_refused(&r, 22, "not_allowed");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one key is one reviewer")
    );

    // The same key's valid signature as ops, made outside ladder and
    // written in by hand: still one reviewer.
    let (at, policy): (i64, String) = t
        .db()
        .query_row(
            "SELECT at, signed_policy FROM approvals WHERE plan = ?1",
            [id(&plan)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let payload = format!(
        "ladder-decision-v1\ndecision approve\nplan {}\nhash {}\nprincipal ops\nat {}\npolicy {policy}\nnote -\n",
        id(&plan),
        plan["hash"].as_str().unwrap(),
        ladder::clock::rfc3339(at + 1),
    );
    let file = t.path().join("ops-approval");
    std::fs::write(&file, &payload).unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "ladder-approval-v1", "-f"])
        .arg(s.key("alice"))
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success());
    let armored = std::fs::read_to_string(file.with_extension("sig")).unwrap();
    let db = t.db();
    db.execute(
        "INSERT INTO approvals (plan, actor, at, hash, signature, signature_kind, signed_policy)
         VALUES (?1, 'ops', ?2, ?3, ?4, 'ssh', ?5)",
        rusqlite::params![
            id(&plan),
            at + 1,
            plan["hash"].as_str().unwrap(),
            armored,
            policy
        ],
    )
    .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [id(&plan)],
    )
    .unwrap();
    drop(db);
    let ops = approvals(t, &plan)
        .into_iter()
        .find(|a| a["actor"] == "ops")
        .unwrap();
    assert_eq!(
        ops["signature_valid"], true,
        "the test's own signature must be valid: {ops}"
    );
    assert_refused(&t.apply_json("agent", &plan), 10, "needs_approval");
    assert!(!mark.exists());
}

/// A window written longer in the state file, or an expired plan written
/// back to `approved`, does not reopen: a signed plan's window ends
/// `apply_ttl` (24h here) after its last signed approval.
#[test]
fn a_signed_plan_window_is_the_signatures_not_the_rows() {
    let mut s = Signers::new();
    s.t.at("2026-03-01T00:00:00Z");
    let (early, early_mark) = marker_plan(&s.t, "agent", "early", &[]);
    let (late, late_mark) = marker_plan(&s.t, "agent", "late", &[]);
    for plan in [&early, &late] {
        assert_eq!(s.approve("alice", plan, "alice").code, 0);
        assert_eq!(s.approve("bob", plan, "bob").code, 0);
    }
    // Before the window ends, the agent stretches one plan's.
    s.t.db()
        .execute(
            "UPDATE plans SET expires_at = 9999999999999 WHERE id = ?1",
            [id(&late)],
        )
        .unwrap();
    s.t.at("2026-03-02T01:00:00Z");
    let t = &s.t;
    assert_refused(&t.apply_json("agent", &early), 12, "expired");
    assert_refused(&t.apply_json("agent", &late), 12, "expired");
    // ...and writes the expired one back.
    t.db()
        .execute(
            "UPDATE plans SET status = 'approved', expires_at = 9999999999999 WHERE id = ?1",
            [id(&early)],
        )
        .unwrap();
    assert!(t.apply_json("agent", &early).code != 0);
    assert!(!early_mark.exists() && !late_mark.exists());
    assert_refused(&t.json("viewer", &["log", "--verify"]), 21, "tampered");
}

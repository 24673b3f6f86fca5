//! Policy depth, through the binary: conditions, confidence, escalation,
//! budgets, notify, `apply --wait`, explain and check.

use crate::harness::{TestEnv, apply_args};
use serde_json::Value;

const BASE: &str = r#"
version = 1

[defaults]
tier = "irreversible"
dry_run_must_be_read_only = false

[tiers.reversible]
approvals = 0
require_dry_run = true

[[rules]]
name = "inspect"
tier = "read_only"
commands = ["ls **", "echo **"]

[[rules]]
name = "edit"
tier = "reversible"
commands = ["touch **"]

[[rules]]
name = "prod-kube"
tier = "critical"
commands = ["kubectl **"]
env = { KUBE_CONTEXT = "prod*" }

[[rules]]
name = "kube"
tier = "reversible"
commands = ["kubectl **"]

[[rules]]
name = "destroys"
tier = "critical"
commands = ["echo **"]
dry_run_output = "(?m)^destroy"

[confidence]
deny_below = 0.6
approve_below = 0.85
"#;

fn env_with(extra: &str) -> TestEnv {
    let mut t = TestEnv::new();
    t.with_policy(&format!("{BASE}{extra}"));
    t
}

#[test]
fn env_condition_raises_the_tier_only_when_it_holds() {
    let mut t = env_with("");
    let explain = |t: &TestEnv| {
        t.json(
            "a",
            &["policy", "explain", "--", "kubectl", "apply", "-f", "x"],
        )
        .json()
    };
    let plain = explain(&t);
    assert_eq!(plain["tier"], "reversible");
    assert_eq!(plain["rule"], "kube");
    t.env("KUBE_CONTEXT", "prod-eu");
    let prod = explain(&t);
    assert_eq!(prod["tier"], "critical");
    assert_eq!(prod["rule"], "prod-kube");
    assert_eq!(prod["approvals_required"], 2);
    let matched: Vec<&str> = prod["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert_eq!(matched, ["prod-kube", "kube"]);
}

#[test]
fn dry_run_output_condition_raises_a_plan_to_critical() {
    let t = env_with("");
    let calm = t.plan(
        "a",
        "calm",
        &["--dry-run", "echo 'no changes'"],
        &["echo", "apply"],
    );
    assert_eq!(calm["tier"], "read_only");
    let scary = t.plan(
        "a",
        "scary",
        &["--dry-run", "printf 'plan:\\ndestroy db\\n'"],
        &["echo", "apply"],
    );
    assert_eq!(scary["tier"], "critical");
    assert_eq!(scary["rule"], "destroys");
    assert_eq!(scary["approvals_required"], 2);
    let why = scary["decision"].to_string();
    assert!(why.contains("destroys"), "{why}");
}

#[test]
fn require_dry_run_escalates_and_says_why() {
    let t = env_with("");
    let without = t.plan("a", "t1", &[], &["touch", "f"]);
    assert_eq!(without["status"], "pending");
    assert_eq!(without["approvals_required"], 1);
    assert!(
        without["decision"]
            .to_string()
            .contains("requires a dry-run"),
        "{}",
        without["decision"]
    );
    let with = t.plan("a", "t2", &["--dry-run", "ls"], &["touch", "f"]);
    assert_eq!(with["status"], "approved");
    assert_eq!(with["approvals_required"], 0);
}

#[test]
fn confidence_bands_deny_or_ask_for_approval() {
    let t = env_with("");
    let sure = t.plan("a", "c1", &["--confidence", "0.95"], &["ls"]);
    assert_eq!(sure["approvals_required"], 0);
    let unsure = t.plan("a", "c2", &["--confidence", "0.7"], &["ls"]);
    assert_eq!(unsure["approvals_required"], 1);
    assert!(
        unsure["decision"].to_string().contains("approve_below"),
        "{}",
        unsure["decision"]
    );
    let r = t.json(
        "a",
        &["plan", "--key", "c3", "--confidence", "0.3", "--", "ls"],
    );
    assert_eq!(r.code, 18);
    assert_eq!(r.error_code(), "denied");
    assert_eq!(r.json()["plan"]["status"], "denied");
    for bad in ["1.5", "-0.1", "high", "NaN"] {
        let r = t.json(
            "a",
            &["plan", "--key", "c4", "--confidence", bad, "--", "ls"],
        );
        assert_eq!(r.code, 2, "--confidence {bad}: {}", r.stdout_str());
        assert_eq!(r.error_code(), "usage");
    }
}

#[test]
fn budgets_count_started_applies_not_replays_and_say_when_they_free_up() {
    let mut t = env_with(
        r#"
[[budgets]]
name = "writes"
tiers = ["irreversible"]
max = 2
per = "1h"
"#,
    );
    t.at("2026-11-21T10:00:00Z");
    let mut plans = vec![];
    for i in 0..3 {
        let p = t.plan("agent", &format!("b{i}"), &[], &["true", &i.to_string()]);
        assert_eq!(t.approve("alice", &p).code, 0);
        plans.push(p);
    }
    assert_eq!(t.apply("agent", &plans[0]).code, 0);
    t.at("2026-11-21T10:20:00Z");
    assert_eq!(t.apply("agent", &plans[1]).code, 0);
    // Replays do not count.
    assert_eq!(t.apply("agent", &plans[0]).code, 0);
    let r = t.apply_json("agent", &plans[2]);
    assert_eq!(r.code, 19, "{}", r.stdout_str());
    let msg = r.json()["error"].to_string();
    assert!(msg.contains("writes") && msg.contains("in 40m"), "{msg}");
    // An hour after the first apply, the budget has room again.
    t.at("2026-11-21T11:00:01Z");
    assert_eq!(t.apply("agent", &plans[2]).code, 0);
}

#[test]
fn notify_gets_the_pending_plan_and_a_failure_never_fails_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got.json");
    let t = env_with(&format!(
        "\n[notify]\ncommand = [\"sh\", \"-c\", \"cat > {}\"]\n",
        got.display()
    ));
    let p = t.plan("agent", "n1", &[], &["true"]);
    let sent: Value = serde_json::from_str(&std::fs::read_to_string(&got).unwrap()).unwrap();
    assert_eq!(sent["id"], p["id"]);
    assert_eq!(sent["status"], "pending");
    assert!(t.event_kinds().contains(&"notified".to_string()));
    // Plans that need no approval notify nobody.
    std::fs::remove_file(&got).unwrap();
    t.plan("agent", "n2", &[], &["ls"]);
    assert!(!got.exists());

    let t = env_with("\n[notify]\ncommand = [\"false\"]\n");
    let r = t.json("agent", &["plan", "--key", "n3", "--", "true"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("notifier failed"), "{}", r.stderr);
    assert!(t.event_kinds().contains(&"notify_failed".to_string()));
}

fn spawn_wait(t: &TestEnv, p: &Value, wait: &str) -> std::process::Child {
    t.std_cmd("agent")
        .args(apply_args(p))
        .args(["--wait", wait])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn apply_wait_returns_once_approved_and_then_runs() {
    let t = env_with("");
    let p = t.plan("agent", "w1", &[], &["printf", "waited"]);
    assert_eq!(p["status"], "pending");
    let waiter = spawn_wait(&t, &p, "20s");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The waiter holds no database lock: a reviewer can write meanwhile.
    assert_eq!(t.approve("alice", &p).code, 0);
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"waited");
}

#[test]
fn apply_wait_returns_the_rejection_or_gives_up_when_time_is_out() {
    let t = env_with("");
    let p = t.plan("agent", "w2", &[], &["true"]);
    let waiter = spawn_wait(&t, &p, "20s");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        t.json(
            "alice",
            &["reject", p["id"].as_str().unwrap(), "--reason", "no"]
        )
        .code,
        0
    );
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(11));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected by alice: no"));

    let p = t.plan("agent", "w3", &[], &["true"]);
    let started = std::time::Instant::now();
    let out = spawn_wait(&t, &p, "400ms").wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(10));
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
}

#[test]
fn policy_check_names_file_line_and_reason_without_touching_state() {
    let t = TestEnv::new();
    let cases = [
        (
            "version = 1\n[defaults]\ntier = \"irreversible\"\ncolour = \"red\"\n",
            ":4:",
            "colour",
        ),
        (
            "version = 1\n\n[[rules]]\nname = \"x\"\ntier = \"scary\"\ncommands = [\"ls\"]\n",
            ":5:",
            "scary",
        ),
        (
            "version = 1\n[[rules]]\nname = \"x\"\ntier = \"read_only\"\ncommands = [\"ls **\"]\nexamples = [\"rm -rf /\"]\n",
            "",
            "rm -rf /",
        ),
        (
            "version = 1\n[defaults]\napproval_ttl = \"soon\"\n",
            ":3:",
            "soon",
        ),
        ("version = 1\n[[rules]\n", ":2:", ""),
    ];
    for (i, (text, line, needle)) in cases.iter().enumerate() {
        let file = t.path().join(format!("p{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let r = t.run("a", &["policy", "check", file.to_str().unwrap()]);
        assert_eq!(r.code, 2, "case {i}: {}", r.stderr);
        let first = r.stderr.lines().next().unwrap_or("");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        assert!(
            first.starts_with("ladder: ") && first.contains(&format!("p{i}.toml{line}")),
            "case {i}: {first}"
        );
        assert!(first.contains(needle), "case {i}: {first}");
    }
    assert!(!t.state().exists(), "policy check must not create state");
    let good = t.path().join("good.toml");
    std::fs::write(&good, BASE).unwrap();
    let r = t.json("a", &["policy", "check", good.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert_eq!(r.json()["rules"], 5);
}

#[test]
fn a_broken_policy_in_effect_refuses_plan_with_usage() {
    let mut t = TestEnv::new();
    t.with_policy("version = 1\n[defaults]\ntier = \"nope\"\n");
    let r = t.json("a", &["plan", "--key", "k", "--", "ls"]);
    assert_eq!(r.code, 2);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy.toml:3"),
        "{}",
        r.stdout_str()
    );
}

#[test]
fn a_dry_run_that_is_not_read_only_is_refused_before_it_runs() {
    // The embedded default policy: `rm` is not read_only.
    let t = TestEnv::new();
    let victim = t.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let dry = format!("rm -rf {}", victim.display());
    let r = t.json(
        "agent",
        &["plan", "--key", "sneaky", "--dry-run", &dry, "--", "ls"],
    );
    assert_eq!(r.code, 18, "{}", r.stdout_str());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must be read_only")
    );
    assert!(victim.exists(), "the dry-run ran without approval");
    assert_eq!(t.event_kinds(), ["refused"]);
    // A read-only preview is fine.
    let ok = t.json(
        "agent",
        &["plan", "--key", "fine", "--dry-run", "ls", "--", "ls"],
    );
    assert_eq!(ok.code, 0, "{}", ok.stdout_str());
}

/// A policy path that is not a small regular file is a one-line usage
/// error at once: a FIFO would block the read for ever, `/dev/zero` would
/// eat all memory, a runaway file is not a policy.
#[test]
fn a_policy_path_that_is_no_small_regular_file_is_refused_at_once() {
    let t = TestEnv::new();
    let fifo = t.path().join("policy.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let huge = t.path().join("huge.toml");
    std::fs::write(&huge, "#".repeat(2 << 20)).unwrap();
    let mut cases = vec![
        ("/dev/zero".into(), "not a regular file"),
        (t.path().to_path_buf(), "not a regular file"),
        (huge, "larger than 1024 KiB"),
    ];
    if made {
        cases.push((fifo, "not a regular file"));
    }
    for (path, why) in cases {
        let mut child = t
            .std_cmd("a")
            .arg("--policy")
            .arg(&path)
            .args(["plan", "--key", "k", "--", "ls"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("--policy {} hangs", path.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(why), "{}: {stderr}", path.display());
    }
    assert!(!t.state().exists(), "nothing was planned");
}

#[test]
fn a_dry_run_that_outlives_dry_run_timeout_is_killed_and_refused() {
    let mut t = TestEnv::new();
    t.with_policy(&BASE.replace("[defaults]\n", "[defaults]\ndry_run_timeout = \"1s\"\n"));
    let started = std::time::Instant::now();
    let r = t.json(
        "agent",
        &[
            "plan",
            "--key",
            "slow",
            "--dry-run",
            "sleep 30",
            "--",
            "touch",
            "x",
        ],
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the dry-run was not cut short: {:?}",
        started.elapsed()
    );
    assert_eq!(r.code, 20, "{}", r.stdout_str());
    let e = &r.json()["error"];
    assert_eq!(e["code"], "dry_run_failed");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("timed out after 1s"), "{msg}");
    let events = t.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "refused");
    assert_eq!(events[0]["detail"]["code"], "dry_run_failed");
    let r = t.run(
        "agent",
        &[
            "plan",
            "--key",
            "slow",
            "--dry-run",
            "sleep 30",
            "--",
            "touch",
            "x",
        ],
    );
    assert_eq!(r.code, 20);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("timed out after 1s"), "{}", r.stderr);
}

#[test]
fn a_dry_run_that_times_out_at_apply_makes_the_plan_stale() {
    let mut t = TestEnv::new();
    t.with_policy(&BASE.replace("[defaults]\n", "[defaults]\ndry_run_timeout = \"1s\"\n"));
    // Quick when planned; hangs once `slow` exists.
    let plan = t.plan(
        "agent",
        "drifts",
        &[
            "--dry-run",
            "sh -c 'if test -e slow; then exec sleep 30; fi'",
        ],
        &["touch", "done"],
    );
    assert_eq!(plan["status"], "approved", "{plan}");
    std::fs::write(t.work().join("slow"), "").unwrap();
    let started = std::time::Instant::now();
    let r = t.apply_json("agent", &plan);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(r.code, 14, "{}", r.stdout_str());
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("timed out after 1s"), "{msg}");
    assert!(!t.work().join("done").exists(), "the command must not run");
    assert_eq!(t.show(&plan)["status"], "approved");
}

/// Issue 16: a force push is critical, its `--dry-run` preview is
/// read-only, and only an exception on the critical rule can say so.
const EXCEPTIONS: &str = r#"
version = 1

[[rules]]
name = "push-preview"
tier = "read_only"
commands = ["git push ** --dry-run **"]
options = ["--force", "--dry-run", "--porcelain"]

[[rules]]
name = "force-push"
tier = "critical"
commands = ["git push ** --force **"]
unless = ["git push ** --dry-run **"]
examples = ["git push --force origin main"]
not_examples = ["git push --force --dry-run origin main"]
"#;

#[test]
fn explain_lists_the_rules_an_exception_or_an_options_allowlist_skipped() {
    let mut t = TestEnv::new();
    t.with_policy(EXCEPTIONS);
    let explain = |argv: &[&str]| {
        let mut args = vec!["policy", "explain", "--"];
        args.extend_from_slice(argv);
        let r = t.json("a", &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    let preview = explain(&[
        "git",
        "push",
        "--force",
        "--dry-run",
        "--porcelain",
        "origin",
        "HEAD:main",
    ]);
    assert_eq!(preview["tier"], "read_only");
    assert_eq!(preview["rule"], "push-preview");
    assert_eq!(preview["approvals_required"], 0);
    assert_eq!(preview["matched"].as_array().unwrap().len(), 1);
    assert_eq!(
        preview["skipped"],
        serde_json::json!([{
            "rule": "force-push",
            "tier": "critical",
            "why": "\"git push ** --force **\" matched but unless \"git push ** --dry-run **\" takes the command out",
        }])
    );
    assert!(
        preview["reasons"]
            .to_string()
            .contains("rule \\\"force-push\\\" (critical) was skipped"),
        "{}",
        preview["reasons"]
    );

    // An option the preview rule never heard of takes the command out of it
    // too; with both rules skipped, [defaults] decides.
    let sneaky = explain(&[
        "git",
        "push",
        "--force",
        "--dry-run",
        "--upload-p=sh -c x",
        "origin",
    ]);
    assert_eq!(sneaky["tier"], "irreversible");
    assert_eq!(sneaky["rule"], Value::Null);
    let skipped: Vec<(&str, &str)> = sneaky["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["rule"].as_str().unwrap(), s["why"].as_str().unwrap()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "push-preview");
    assert!(
        skipped[0]
            .1
            .ends_with("option \"--upload-p=sh -c x\" is not in its options"),
        "{skipped:?}"
    );
    assert_eq!(skipped[1].0, "force-push");

    // The human explain says it too.
    let text = t.run(
        "a",
        &[
            "policy",
            "explain",
            "--",
            "git",
            "push",
            "--force",
            "--dry-run",
            "origin",
        ],
    );
    assert!(
        text.stdout_str().lines().any(|l| l
            .trim_start()
            .starts_with("skipped    force-push (critical): ")),
        "{}",
        text.stdout_str()
    );
    // No skipped rule, no skipped list.
    let plain = explain(&["git", "push", "--force", "origin"]);
    assert_eq!(plain["tier"], "critical");
    assert_eq!(plain["skipped"], serde_json::json!([]));
}

#[test]
fn a_force_push_planned_with_its_dry_run_preview_stays_critical() {
    let mut t = TestEnv::new();
    let origin = t.path().join("origin.git");
    t.git(
        t.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    t.git(&t.work(), &["init", "-q"]);
    t.git(
        &t.work(),
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "one",
        ],
    );
    t.git(
        &t.work(),
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    let push = ["git", "push", "--force", "origin", "HEAD:main"];
    let preview = "git push --force --dry-run --porcelain origin HEAD:main";

    // Without the exception the preview is critical like the push, and a
    // dry-run must be read_only: refused before it runs.
    t.with_policy(
        &EXCEPTIONS
            .replace("unless = [\"git push ** --dry-run **\"]\n", "")
            .replace(
                "not_examples = [\"git push --force --dry-run origin main\"]\n",
                "",
            ),
    );
    let r = t.json(
        "agent",
        &["plan", "--key", "k0", "--dry-run", preview, "--"]
            .into_iter()
            .chain(push)
            .collect::<Vec<_>>(),
    );
    assert_eq!(r.code, 18, "{}", r.stdout_str());
    assert!(
        r.stdout_str().contains("must be read_only"),
        "{}",
        r.stdout_str()
    );

    // With it, the preview runs at plan time and the push itself still
    // needs two people.
    t.with_policy(EXCEPTIONS);
    let plan = t.plan("agent", "k1", &["--dry-run", preview], &push);
    assert_eq!(plan["tier"], "critical", "{plan}");
    assert_eq!(plan["rule"], "force-push");
    assert_eq!(plan["approvals_required"], 2);
    assert_eq!(plan["status"], "pending");
    assert_eq!(plan["dry_run"]["exit_code"], 0, "{plan}");
    assert!(
        plan["dry_run"]["stdout"]
            .as_str()
            .unwrap()
            .contains("HEAD:refs/heads/main"),
        "{plan}"
    );
    let out = std::process::Command::new("git")
        .args(["--git-dir", origin.to_str().unwrap(), "for-each-ref"])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "the preview pushed: {out:?}");

    // The preview planned on its own is read_only, and its decision says
    // which exception let it out of the critical rule.
    let alone = t.plan(
        "agent",
        "k2",
        &[],
        &shell_words::split(preview)
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(alone["tier"], "read_only");
    assert_eq!(alone["approvals_required"], 0);
    let why = alone["decision"].to_string();
    assert!(
        why.contains("rule \\\"force-push\\\" (critical) was skipped")
            && why.contains("unless \\\"git push ** --dry-run **\\\""),
        "{why}"
    );
}

//! `ladder policy show|check|explain`, and the classification they show:
//! patterns, conditions on the environment and the dry-run output, `[notify]`,
//! and the embedded default.

use crate::harness::{STRICT_POLICY, TestEnv, assert_human_error, assert_refused};
use serde_json::Value;

#[test]
fn policy_show_prints_the_effective_policy_as_toml() {
    let t = TestEnv::new();
    let r = t.run("u", &["policy", "show"]);
    assert_eq!(r.code, 0);
    let text = r.stdout_str();
    let parsed: toml::Value = toml::from_str(&text).expect("the embedded default is TOML");
    assert_eq!(parsed["version"].as_integer(), Some(1));
    assert!(parsed["rules"].as_array().is_some_and(|r| !r.is_empty()));

    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    let r = t.run("u", &["policy", "show"]);
    assert_eq!(r.code, 0);
    let parsed: toml::Value = toml::from_str(&r.stdout_str()).unwrap();
    assert_eq!(parsed["rules"][1]["name"].as_str(), Some("prod"));
    assert_eq!(t.json("u", &["policy", "show"]).code, 0);

    // The policy's sha256 is recorded in every plan.
    let plan = t.plan("agent", "sha", &[], &["echo", "x"]);
    let v = t.json("u", &["policy", "show"]).json();
    assert_eq!(plan["policy_sha256"], v["sha256"]);
    assert_eq!(
        v["sha256"],
        ladder::plan_hash::sha256_hex(STRICT_POLICY.as_bytes())
    );
}

#[test]
fn policy_check_validates_a_file_and_names_file_and_line() {
    let t = TestEnv::new();
    let good = t.path().join("good.toml");
    std::fs::write(&good, STRICT_POLICY).unwrap();
    let r = t.json("u", &["policy", "check", good.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(
        t.run("u", &["policy", "check"]).code,
        0,
        "the effective policy (embedded)"
    );

    let cases = [
        (
            "syntax.toml",
            "version = 1\n[defaults\ntier = \"read_only\"\n",
            2,
        ),
        (
            "tier.toml",
            "version = 1\n[defaults]\ntier = \"bogus\"\n",
            3,
        ),
        (
            "examples.toml",
            "version = 1\n\n[[rules]]\nname = \"x\"\ntier = \"read_only\"\ncommands = [\"ls **\"]\nexamples = [\"rm x\"]\n",
            7,
        ),
        (
            "not-examples.toml",
            "version = 1\n\n[[rules]]\nname = \"x\"\ntier = \"read_only\"\ncommands = [\"ls **\"]\nnot_examples = [\"ls -la\"]\n",
            7,
        ),
        (
            "rule-tier.toml",
            "version = 1\n\n[[rules]]\nname = \"x\"\ntier = \"harmless\"\ncommands = [\"ls **\"]\n",
            5,
        ),
    ];
    for (name, text, line) in cases {
        let file = t.path().join(name);
        std::fs::write(&file, text).unwrap();
        let r = t.run("u", &["policy", "check", file.to_str().unwrap()]);
        assert_human_error(&r, 2);
        assert!(
            r.stderr.contains(&format!("{}:{line}", file.display())),
            "{name}: names file and line {line}: {}",
            r.stderr
        );
        let r = t.json("u", &["policy", "check", file.to_str().unwrap()]);
        assert_refused(&r, 2, "usage");
    }
    let missing = t.path().join("missing.toml");
    assert_refused(
        &t.json("u", &["policy", "check", missing.to_str().unwrap()]),
        2,
        "usage",
    );
}

#[test]
fn an_invalid_policy_in_use_refuses_every_command_that_needs_it() {
    let mut t = TestEnv::new();
    let file = t.with_policy("version = 1\n[defaults]\ntier = \"bogus\"\n");
    let r = t.run("agent", &["plan", "--key", "k", "--", "ls"]);
    assert_human_error(&r, 2);
    assert!(r.stderr.contains(file.to_str().unwrap()), "{}", r.stderr);
    assert_refused(
        &t.json("agent", &["plan", "--key", "k", "--", "ls"]),
        2,
        "usage",
    );
    assert_refused(
        &t.json("agent", &["policy", "explain", "--", "ls"]),
        2,
        "usage",
    );
    assert_refused(&t.json("agent", &["policy", "show"]), 2, "usage");
    let r = t.run("agent", &["policy", "check"]);
    assert_human_error(&r, 2);
    assert!(
        r.stderr.contains(&format!("{}:3", file.display())),
        "{}",
        r.stderr
    );
    assert!(
        !t.state().exists() || t.events().is_empty(),
        "nothing planned"
    );
}

#[test]
fn policy_explain_says_which_rule_and_tier_and_why() {
    let t = TestEnv::new();
    let r = t.json("u", &["policy", "explain", "--", "rm", "-rf", "/"]);
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["tier"], "critical");
    assert_eq!(v["rule"], "catastrophic");
    assert_eq!(v["approvals_required"], 2);
    let matched = v["matched"].as_array().expect("matched[]");
    assert!(matched.len() >= 2, "strictest of several: {v}");
    let names: Vec<&str> = matched.iter().filter_map(|m| m["rule"].as_str()).collect();
    assert!(
        names.contains(&"catastrophic") && names.contains(&"delete-files"),
        "{v}"
    );

    // No rule: [defaults].
    let v = t
        .json("u", &["policy", "explain", "--", "some-unknown-tool", "x"])
        .json();
    assert_eq!(v["tier"], "irreversible");
    assert!(v["rule"].is_null());
    assert_eq!(v["approvals_required"], 1);
    assert_eq!(v["matched"], serde_json::json!([]));

    // People get the tier and the rule.
    let r = t.run("u", &["policy", "explain", "--", "ls", "-la"]);
    assert_eq!(r.code, 0);
    let text = r.stdout_str();
    assert!(
        text.contains("read_only") && text.contains("inspect-files"),
        "{text}"
    );

    // Same answer as plan gives.
    let mut s = TestEnv::new();
    s.with_policy(STRICT_POLICY);
    let v = s
        .json("u", &["policy", "explain", "--", "deploy-prod", "now"])
        .json();
    let p = s.plan("agent", "cmp", &[], &["deploy-prod", "now"]);
    assert_eq!(v["tier"], p["tier"]);
    assert_eq!(v["rule"], p["rule"]);
    assert_eq!(v["approvals_required"], p["approvals_required"]);
}

#[test]
fn the_default_policy_is_sensible_for_agents() {
    let t = TestEnv::new();
    let tier = |argv: &[&str]| -> String {
        let mut args = vec!["policy", "explain", "--"];
        args.extend_from_slice(argv);
        let r = t.json("u", &args);
        assert_eq!(r.code, 0, "{argv:?}: {}", r.stdout_str());
        r.json()["tier"].as_str().unwrap().to_string()
    };
    for argv in [
        &["ls", "-la"][..],
        &["cat", "README.md"],
        &["git", "status"],
        &["kubectl", "get", "pods", "-A"],
    ] {
        assert_eq!(tier(argv), "read_only", "{argv:?}");
    }
    let strict_enough = ["irreversible", "critical", "deny"];
    for argv in [
        &["sh", "-c", "ls"][..],
        &["bash", "-c", "ls"],
        &["eval", "ls"],
        &["sudo", "ls"],
        &["env", "FOO=1", "ls"],
        &["xargs", "rm"],
        &["rm", "-rf", "build"],
        &["/bin/rm", "x"],
        &["git", "push", "--force", "origin", "main"],
        &["kubectl", "delete", "pod", "x"],
        &["terraform", "destroy"],
        &["curl", "-X", "POST", "https://example.com"],
        &["some-unknown-tool"],
    ] {
        let got = tier(argv);
        assert!(
            strict_enough.contains(&got.as_str()),
            "{argv:?} is only {got}"
        );
    }
}

#[test]
fn policy_patterns_glob_one_argument_per_token_and_match_the_basename() {
    let mut t = TestEnv::new();
    t.with_policy(
        r#"
version = 1
[defaults]
tier = "irreversible"
[[rules]]
name = "one-arg"
tier = "read_only"
commands = ["show-it *.txt"]
[[rules]]
name = "anywhere"
tier = "critical"
commands = ["kube ** delete **"]
[[rules]]
name = "listing"
tier = "read_only"
commands = ["ls **"]
"#,
    );
    let rule = |argv: &[&str]| -> Value {
        let mut args = vec!["policy", "explain", "--"];
        args.extend_from_slice(argv);
        let r = t.json("u", &args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        r.json()["rule"].clone()
    };
    assert_eq!(rule(&["show-it", "a.txt"]), "one-arg");
    assert!(
        rule(&["show-it", "a.txt", "b.txt"]).is_null(),
        "* is one argument"
    );
    assert!(rule(&["show-it"]).is_null());
    assert!(rule(&["show-it", "a.md"]).is_null());
    assert_eq!(rule(&["kube", "delete", "pod"]), "anywhere");
    assert_eq!(rule(&["kube", "-n", "x", "delete", "pod", "y"]), "anywhere");
    assert!(rule(&["kube", "get", "pods"]).is_null());
    assert_eq!(rule(&["ls"]), "listing", "** matches no arguments too");
    assert_eq!(
        rule(&["/usr/bin/ls", "-la"]),
        "listing",
        "basename of argv[0]"
    );
}

#[test]
fn notify_gets_the_plan_json_when_a_plan_waits() {
    let mut t = TestEnv::new();
    let inbox = t.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[notify]\ncommand = [\"sh\", \"-c\", \"cat >> {}/got.jsonl; echo >> {}/got.jsonl\"]\n",
        inbox.display(),
        inbox.display()
    ));
    let waiting = t.plan("agent", "n1", &[], &["echo", "x"]);
    assert_eq!(waiting["status"], "pending");
    let ready = t.plan("agent", "n2", &[], &["ls"]);
    assert_eq!(ready["status"], "approved");
    let got = std::fs::read_to_string(inbox.join("got.jsonl")).unwrap_or_default();
    let notes: Vec<Value> = got
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(notes.len(), 1, "only the waiting plan: {got}");
    assert_eq!(notes[0]["id"], waiting["id"]);
    assert_eq!(notes[0]["hash"], waiting["hash"]);

    // A failing notifier does not fail the plan.
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[notify]\ncommand = [\"false\"]\n"
    ));
    let r = t.json("agent", &["plan", "--key", "n3", "--", "echo", "y"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(r.json()["status"], "pending");
}

#[test]
fn policy_rules_can_look_at_the_environment_and_the_dry_run_output() {
    let mut t = TestEnv::new();
    t.with_policy(
        r#"
version = 1
[defaults]
tier = "read_only"
[[rules]]
name = "production"
tier = "critical"
commands = ["kubectl **"]
env = { KUBE_CONTEXT = "prod*" }
[[rules]]
name = "deletes"
tier = "irreversible"
commands = ["apply-it **"]
dry_run_output = "(?m)^.*deleted"
"#,
    );
    let p = t.plan("agent", "k1", &[], &["kubectl", "get", "pods"]);
    assert_eq!(p["tier"], "read_only");
    t.env("KUBE_CONTEXT", "prod-eu");
    let p = t.plan("agent", "k2", &[], &["kubectl", "get", "pods"]);
    assert_eq!(p["tier"], "critical");
    assert_eq!(p["rule"], "production");

    let p = t.plan(
        "agent",
        "d1",
        &["--dry-run", "echo 'pod/a configured'"],
        &["apply-it"],
    );
    assert_eq!(p["tier"], "read_only");
    let p = t.plan(
        "agent",
        "d2",
        &["--dry-run", "echo 'pod/a deleted'"],
        &["apply-it"],
    );
    assert_eq!(p["tier"], "irreversible");
    assert_eq!(p["rule"], "deletes");
}

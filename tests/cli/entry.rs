//! What `ladder::cli::main` and the process set-up in main.rs do before a
//! command runs, seen from outside: the shell completions' plan ids, and
//! empty `LADDER_*` variables. (The forgotten `--` and `--json` shaping an
//! argument error are in rungs.rs and contract.rs; src/cli.rs unit-tests
//! all of them.)

use crate::harness::TestEnv;
use serde_json::Value;

#[test]
fn complete_ids_prints_the_plans_a_completion_can_name() {
    let t = TestEnv::new();
    // No state yet: nothing, successfully, and no state file made.
    let r = t.run("agent", &["__complete-ids"]);
    assert_eq!((r.code, r.stdout_str().as_str()), (0, ""), "{}", r.stderr);
    assert!(!t.state().exists());

    let first = t.plan("agent", "one", &[], &["ls"]);
    let second = t.plan("agent", "two", &[], &["ls", "-l"]);
    let r = t.run("agent", &["__complete-ids"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let short = |p: &Value| p["id"].as_str().unwrap()[..8].to_string();
    let mut ids: Vec<_> = r.stdout_str().lines().map(String::from).collect();
    ids.sort();
    let mut planned = [short(&first), short(&second)];
    planned.sort();
    assert_eq!(ids, planned);
    // It is no command: help, man pages and completions do not list it.
    let help = t.run("agent", &["--help"]).stdout_str();
    assert!(!help.contains("complete-ids"), "{help}");
}

#[test]
fn an_empty_ladder_policy_variable_means_unset() {
    let t = TestEnv::new();
    let r = t
        .cmd("agent")
        .env("LADDER_POLICY", "")
        .args(["--json", "policy", "show"])
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let shown: Value = serde_json::from_slice(&r.stdout).unwrap();
    let origin = shown["origin"].as_str().unwrap();
    assert!(origin.contains("embedded"), "{origin}");
}

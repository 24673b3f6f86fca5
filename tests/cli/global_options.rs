//! The global options: who acts (`--actor`), where state lives (`--state`) and
//! which policy is in force (`--policy`), each from its flag, then its
//! variable, then its default.

use crate::harness::{Run, STRICT_POLICY, TestEnv, last_event, strict};
use serde_json::Value;

#[test]
fn actor_comes_from_flag_then_env_then_os_user() {
    let t = strict();
    let p = t.plan("env-actor", "a1", &[], &["echo", "1"]);
    assert_eq!(p["actor"], "env-actor");

    let r = t.json(
        "env-actor",
        &[
            "--actor",
            "flag-actor",
            "plan",
            "--key",
            "a2",
            "--",
            "echo",
            "2",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["actor"], "flag-actor");

    let out = t
        .cmd("ignored")
        .env_remove("LADDER_ACTOR")
        .env("USER", "os-user")
        .args(["--json", "plan", "--key", "a3", "--", "echo", "3"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["actor"], "os-user", "{v}");

    // The recorded ledger actor follows the same rule.
    let ev = last_event(&t);
    assert_eq!(ev["actor"], "os-user");
}

#[test]
fn state_path_comes_from_flag_env_or_the_user_data_directory() {
    let t = strict();
    // --state wins over LADDER_STATE.
    let other = t.path().join("elsewhere.db");
    let r = t.json(
        "agent",
        &[
            "--state",
            other.to_str().unwrap(),
            "plan",
            "--key",
            "s",
            "--",
            "echo",
            "s",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(other.exists());
    assert!(
        !t.state().exists(),
        "LADDER_STATE was overridden by --state"
    );

    // LADDER_STATE is used when no flag is given.
    t.plan("agent", "s", &[], &["echo", "s"]);
    assert!(t.state().exists());

    // Neither: state.db in the user data directory.
    let out = t
        .cmd("agent")
        .env_remove("LADDER_STATE")
        .args(["--json", "plan", "--key", "d", "--", "echo", "d"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.path().join("home/.local/share/ladder/state.db").exists());
}

#[test]
fn policy_comes_from_flag_env_config_dir_or_the_embedded_default() {
    let t = TestEnv::new(); // no LADDER_POLICY
    let origin = |r: Run| r.json()["origin"].as_str().unwrap().to_string();

    // Embedded default when nothing is configured.
    let embedded = origin(t.json("u", &["policy", "show"]));
    assert!(embedded.contains("embedded"), "{embedded}");

    // policy.toml in the user config directory.
    let cfg = t.path().join("home/.config/ladder");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("policy.toml"), STRICT_POLICY).unwrap();
    let from_cfg = origin(t.json("u", &["policy", "show"]));
    assert!(
        from_cfg.ends_with("home/.config/ladder/policy.toml"),
        "{from_cfg}"
    );
    // ...and it is the one plans are classified by (STRICT: `echo` is irreversible).
    let p = t.plan("agent", "c", &[], &["echo", "c"]);
    assert_eq!(p["tier"], "irreversible");

    // LADDER_POLICY over the config directory, --policy over LADDER_POLICY.
    let lenient = STRICT_POLICY.replace("tier = \"irreversible\"", "tier = \"read_only\"");
    let env_file = t.path().join("env-policy.toml");
    std::fs::write(&env_file, &lenient).unwrap();
    let flag_file = t.path().join("flag-policy.toml");
    std::fs::write(&flag_file, &lenient).unwrap();
    let out = t
        .cmd("u")
        .env("LADDER_POLICY", &env_file)
        .args(["--json", "policy", "show"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["origin"], env_file.to_str().unwrap());
    let out = t
        .cmd("u")
        .env("LADDER_POLICY", &env_file)
        .args([
            "--json",
            "--policy",
            flag_file.to_str().unwrap(),
            "policy",
            "show",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["origin"], flag_file.to_str().unwrap());
}

//! Every runnable file in `examples/` runs here, so examples cannot rot.

use crate::harness::TestEnv;

#[test]
fn round_trip_example_walks_the_whole_ladder_on_the_default_state_and_policy() {
    let t = TestEnv::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(root.join("examples/round-trip.sh"))
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", t.path().join("home"))
        .env("XDG_DATA_HOME", t.path().join("home/.local/share"))
        .env("XDG_CONFIG_HOME", t.path().join("home/.config"))
        .env("TMPDIR", t.path())
        .env("LADDER", assert_cmd::cargo::cargo_bin("ladder"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // The default state location was used, under the test's own HOME.
    assert!(t.path().join("home/.local/share/ladder/state.db").exists());
    // It ran once, then replayed twice, and the ledger verified.
    assert_eq!(
        stdout.matches("mkdir: created directory").count(),
        3 * 2,
        "{stdout}"
    );
    assert!(stderr.contains("exit code: 10"), "{stderr}");
    // The second apply says so on stderr; `replay`, not on a terminal here,
    // writes the record's bytes only.
    assert_eq!(
        stderr.matches("replaying its recorded outcome").count(),
        1,
        "{stderr}"
    );
    assert!(stdout.contains("ledger verified: 7 events"), "{stdout}");
}

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn every_example_policy_loads_and_classifies_as_its_comments_say() {
    let t = TestEnv::new();
    let cases: &[(&str, &[&str], &str)] = &[
        ("developer", &["cargo", "test"], "read_only"),
        (
            "developer",
            &["git", "push", "origin", "main"],
            "irreversible",
        ),
        (
            "developer",
            &["git", "push", "-f", "origin", "main"],
            "critical",
        ),
        ("developer", &["rm", "-rf", "/"], "deny"),
        ("kubernetes", &["kubectl", "get", "pods"], "read_only"),
        (
            "kubernetes",
            &["kubectl", "delete", "namespace", "x"],
            "deny",
        ),
        (
            "kubernetes",
            &["kubectl", "exec", "web", "--", "sh"],
            "critical",
        ),
        ("terraform", &["terraform", "plan"], "read_only"),
        (
            "terraform",
            &["terraform", "apply", "tfplan"],
            "irreversible",
        ),
        ("terraform", &["terraform", "destroy"], "deny"),
    ];
    for name in ["developer", "kubernetes", "terraform"] {
        let file = root().join(format!("examples/policies/{name}.toml"));
        let r = t.run("a", &["policy", "check", file.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    }
    for (name, argv, tier) in cases {
        let file = root().join(format!("examples/policies/{name}.toml"));
        let mut args = vec![
            "--policy",
            file.to_str().unwrap(),
            "policy",
            "explain",
            "--",
        ];
        args.extend_from_slice(argv);
        let r = t.json("a", &args);
        assert_eq!(r.json()["tier"], *tier, "{name}: {argv:?}");
    }
    // The Kubernetes policy turns on the context the plan was made in.
    let kube = root().join("examples/policies/kubernetes.toml");
    let explain = |ctx: &str| {
        t.cmd("a")
            .env("KUBE_CONTEXT", ctx)
            .args([
                "--json",
                "--policy",
                kube.to_str().unwrap(),
                "policy",
                "explain",
                "--",
                "kubectl",
                "apply",
                "-f",
                "k8s/",
            ])
            .output()
            .unwrap()
    };
    let staging: serde_json::Value = serde_json::from_slice(&explain("staging-1").stdout).unwrap();
    let prod: serde_json::Value = serde_json::from_slice(&explain("prod-eu").stdout).unwrap();
    assert_eq!(staging["tier"], "reversible");
    assert_eq!(prod["tier"], "critical");
}

/// Runs an agent example in the background, approves its plan as a
/// reviewer, and checks it applied; then runs it again and checks it replayed.
/// With `exact`, the command writes a byte that is not UTF-8, which the
/// example must pass through as it is.
fn agent_round(interpreter: &str, script: &str, exact: bool) {
    let (echo, want): (&str, &[u8]) = if exact {
        ("printf 'deployed\\377\\n'", b"deployed\xff\n")
    } else {
        ("echo deployed", b"deployed\n")
    };
    let mut t = TestEnv::new();
    t.with_policy(crate::harness::STRICT_POLICY);
    let marker = t.path().join("ran");
    let mut agent = t.program_cmd(interpreter, "agent");
    agent
        .arg(root().join(script))
        .args(["deploy-1", "sh", "-c"])
        .arg(format!("{echo}; echo x >> {}", marker.display()))
        .env("WAIT", "20s");
    let mut child = agent
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Approve as soon as the plan is pending.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = t.json("alice", &["approve", "--key", "deploy-1", "--yes"]);
        if r.code == 0 {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the agent exited ({status}) before its plan was approved:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never approved: {}",
            r.stdout_str()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(out.stdout, want, "{}", String::from_utf8_lossy(&out.stdout));
    // Again, with the same key: replayed, not run.
    let again = agent.spawn().unwrap().wait_with_output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(again.stdout, want);
    assert!(String::from_utf8_lossy(&again.stderr).contains("replayed"));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "x\n");
}

#[test]
fn bash_agent_example_plans_waits_applies_and_replays() {
    if !have("jq") {
        eprintln!("skipped: examples/agent.sh needs jq, which is not installed here");
        return;
    }
    agent_round("bash", "examples/agent.sh", true);
}

#[test]
fn python_agent_example_plans_waits_applies_and_replays() {
    if !have("python3") {
        eprintln!("skipped: examples/agent.py needs python3, which is not installed here");
        return;
    }
    agent_round("python3", "examples/agent.py", false);
}

#[test]
fn the_github_workflow_gates_the_deploy_on_apply_wait() {
    let text = std::fs::read_to_string(root().join("examples/github-actions/deploy.yml")).unwrap();
    let plan = text
        .find("ladder --json plan --key \"deploy-${{ github.sha }}\"")
        .expect("plans with the commit as key");
    let apply = text
        .find("ladder apply --key \"deploy-${{ github.sha }}\"")
        .expect("applies the same key");
    assert!(plan < apply);
    assert!(
        text[apply..].contains("--wait"),
        "the deploy waits for approval"
    );
    assert!(
        text[apply..].contains("--hash \"$(jq -r .hash plan.json)\""),
        "applies the planned hash"
    );
    // Its policy exists and loads.
    let t = TestEnv::new();
    let r = t.run(
        "a",
        &[
            "policy",
            "check",
            root()
                .join("examples/policies/kubernetes.toml")
                .to_str()
                .unwrap(),
        ],
    );
    assert_eq!(r.code, 0);
}

#[test]
fn the_readme_recomputes_the_plan_hash_as_documented() {
    if !have("python3") {
        eprintln!(
            "skipped: the README's hash snippet is Python, and python3 is not installed here"
        );
        return;
    }
    use std::os::unix::ffi::OsStrExt;
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("import base64, hashlib")
        .expect("the snippet is in the README");
    let snippet = &readme[start..start + readme[start..].find("```").unwrap()];
    let mut t = TestEnv::new();
    t.env("SECRET", "s3cret");
    for (key, flags, extra) in [
        ("plain", vec![], None),
        (
            "bound",
            vec![
                "--env",
                "SECRET",
                "--env",
                "UNSET_ONE",
                "--dry-run",
                "ls -a",
            ],
            None,
        ),
        ("bytes", vec![], Some(&b"\xff\xfe"[..])),
    ] {
        let mut cmd = t.cmd("agent");
        cmd.args(["plan", "--key", key])
            .args(&flags)
            .args(["--", "ls", "a b"]);
        if let Some(bytes) = extra {
            cmd.arg(std::ffi::OsStr::from_bytes(bytes));
        }
        assert!(cmd.output().unwrap().status.success());
        let code = snippet.replace(
            "\"show\", \"3f2a\"",
            &format!("\"show\", \"--key\", \"{key}\""),
        );
        let out = t
            .program_cmd("python3", "viewer")
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    assert_cmd::cargo::cargo_bin("ladder")
                        .parent()
                        .unwrap()
                        .display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .args(["-c", &code])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn mcp_client_example_waits_for_a_person_then_applies_once_over_one_server() {
    if !have("python3") {
        eprintln!("skipped: examples/mcp_client.py needs python3, which is not installed here");
        return;
    }
    let mut t = TestEnv::new();
    t.with_policy(crate::harness::STRICT_POLICY);
    let marker = t.path().join("ran");
    let mut child = t
        .program_cmd("python3", "agent")
        .arg(root().join("examples/mcp_client.py"))
        .args(["deploy-1", "sh", "-c"])
        .arg(format!("echo deployed; echo x >> {}", marker.display()))
        .env("WAIT_SECONDS", "20")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while t
        .json("alice", &["approve", "--key", "deploy-1", "--yes"])
        .code
        != 0
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the client exited before its plan was approved"
        );
        assert!(std::time::Instant::now() < deadline, "never approved");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("tools: plan, apply, cancel, rollback, replay, show, list, log"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tier irreversible, status pending"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("deployed\nexit code 0, replayed: False\nretry: exit code 0, replayed: True"),
        "{stdout}"
    );
    assert!(stderr.contains("waiting for a person"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "x\n");
}

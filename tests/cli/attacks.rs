//! The agent is the adversary. Each test is one way an agent, with only
//! what it controls (its flags, its environment, PATH, files it can write,
//! rows of the state file), tried to run something no reviewer approved.
//! Every one of them ran the command before ladder bound what runs; each
//! asserts that nothing ran and which refusal the agent got.

use crate::harness::{Run, TestEnv, apply_args, assert_refused, strict};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Plans `argv` as the agent, has alice approve it, and returns the plan.
fn approved(t: &TestEnv, key: &str, argv: &[&str]) -> Value {
    let plan = t.plan("agent", key, &[], argv);
    assert_eq!(plan["status"], "pending", "{plan}");
    let r = t.approve("alice", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);
    plan
}

/// An executable shell script at `path` that records that it ran.
fn tool(path: &Path, marker: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("#!/bin/sh\necho ran >> '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

// 2. The policy in force decides, not the agent's flag.

const LOOSE: &str = r#"
version = 1
[defaults]
tier = "read_only"
separation_of_duties = false
dry_run_must_be_read_only = false
"#;

#[test]
fn a_plan_made_under_a_looser_policy_takes_the_verdict_of_the_policy_in_force() {
    let t = strict();
    let loose = t.path().join("loose.toml");
    std::fs::write(&loose, LOOSE).unwrap();
    let marker = t.path().join("ran");
    let r = t.json(
        "agent",
        &[
            "--policy",
            loose.to_str().unwrap(),
            "plan",
            "--key",
            "sneak",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan = r.json();
    assert_eq!(
        plan["status"], "approved",
        "read_only under the loose policy"
    );
    assert_eq!(
        plan["in_force"],
        Value::Null,
        "it was planned under this one"
    );

    // A reviewer sees the verdict of the policy in force before any apply.
    let before = t.show(&plan);
    assert_eq!(before["tier"], "read_only");
    assert_eq!(before["in_force"]["tier"], "irreversible", "{before}");
    assert_eq!(before["in_force"]["approvals_required"], 1);
    let card = t.run("viewer", &["show", plan["id"].as_str().unwrap()]);
    assert!(
        card.stdout_str()
            .contains("apply will raise the plan to this"),
        "{}",
        card.stdout_str()
    );

    // A plain apply: the policy in force (STRICT) wants one approval.
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 10, "needs_approval");
    assert!(!marker.exists(), "nothing ran");
    let shown = t.show(&plan);
    assert_eq!(shown["status"], "pending");
    assert_eq!(shown["tier"], "irreversible");
    assert_eq!(shown["approvals_required"], 1);
    assert_eq!(
        shown["in_force"],
        Value::Null,
        "raised: nothing more to raise"
    );
    assert_eq!(shown["escalated_from"]["tier"], "read_only");
    assert_eq!(shown["escalated_from"]["approvals_required"], 0);
    // The verdict names the policy that gave it.
    assert_eq!(
        shown["escalated_from"]["policy_sha256"],
        plan["policy_sha256"]
    );
    assert_ne!(shown["policy_sha256"], plan["policy_sha256"]);
    let card = t.run("viewer", &["show", plan["id"].as_str().unwrap()]);
    assert!(
        card.stdout_str().contains("raised by the policy in force"),
        "{}",
        card.stdout_str()
    );
    assert!(t.event_kinds().contains(&"escalated".to_string()));
    let log = t.run("viewer", &["log"]).stdout_str();
    assert!(
        log.contains("read_only (0) -> irreversible (1)"),
        "the log says what was raised: {log}"
    );

    // The same loose policy at apply does not lower it again.
    let r = t.json(
        "agent",
        &[vec!["--policy", loose.to_str().unwrap()], apply_args(&plan)].concat(),
    );
    assert_refused(&r, 10, "needs_approval");
    // A reviewer's approval is what lets it run.
    assert_eq!(t.approve("alice", &plan).code, 0);
    assert_eq!(t.apply_json("agent", &plan).code, 0);
    assert!(marker.exists());
    // The ledger explains the row: planned read_only, escalated, approved, run.
    let verify = t.json("viewer", &["log", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout_str());
}

#[test]
fn a_policy_in_force_that_denies_the_command_denies_the_plan() {
    let t = strict();
    let loose = t.path().join("loose.toml");
    std::fs::write(&loose, LOOSE).unwrap();
    let r = t.json(
        "agent",
        &[
            "--policy",
            loose.to_str().unwrap(),
            "plan",
            "--key",
            "forbidden",
            "--",
            "forbidden-thing",
        ],
    );
    let plan = r.json();
    assert_eq!(plan["status"], "approved");
    assert_refused(&t.apply_json("agent", &plan), 18, "denied");
    assert_eq!(t.show(&plan)["status"], "denied");
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);
}

/// Runs `ladder ARGS` with `policy` installed as the system policy, in a
/// private mount namespace where /etc is an overlay (nothing on the host
/// changes). `None` when this machine cannot make one (not root, no
/// overlayfs): the caller skips.
fn with_system_policy(t: &TestEnv, policy: &str, actor: &str, args: &[&str]) -> Option<Run> {
    let probe = std::process::Command::new("unshare")
        .args(["-m", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot make a mount namespace here (unshare -m)");
        return None;
    }
    let file = t.path().join("system-policy.toml");
    std::fs::write(&file, policy).unwrap();
    let script = format!(
        r#"set -e
layer=$(mktemp -d -p '{}')
mkdir "$layer/upper" "$layer/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$layer/upper,workdir=$layer/work" /etc
mkdir -p /etc/ladder
cp '{}' /etc/ladder/policy.toml
exec "$LADDER" "$@""#,
        t.path().display(),
        file.display()
    );
    let mut cmd = t.program_cmd("unshare", actor);
    cmd.args(["-m", "sh", "-c", &script, "ladder"]).args(args);
    let out: Run = cmd.output().unwrap().into();
    if out.stderr.contains("mount:") {
        eprintln!("skipped: no overlay mount here: {}", out.stderr);
        return None;
    }
    Some(out)
}

#[test]
fn a_system_policy_is_always_in_force_and_named_policies_only_add_strictness() {
    let t = TestEnv::new();
    let system = r#"
version = 1
[defaults]
tier = "irreversible"
[[rules]]
name = "production"
tier = "critical"
commands = ["deploy-prod **"]
"#;
    let loose = t.path().join("loose.toml");
    std::fs::write(&loose, LOOSE).unwrap();
    let loose = loose.to_str().unwrap();
    let Some(r) = with_system_policy(
        &t,
        system,
        "agent",
        &[
            "--json",
            "--policy",
            loose,
            "plan",
            "--key",
            "prod",
            "--",
            "deploy-prod",
            "now",
        ],
    ) else {
        return;
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan = r.json();
    assert_eq!(plan["tier"], "critical", "{plan}");
    assert_eq!(plan["approvals_required"], 2);
    assert_eq!(plan["status"], "pending");

    // `policy show` says which files are in force, the system's first.
    let show = with_system_policy(
        &t,
        system,
        "agent",
        &["--json", "--policy", loose, "policy", "show"],
    )
    .unwrap();
    let shown = show.json();
    let layers = shown["layers"].as_array().unwrap().clone();
    assert_eq!(layers.len(), 2, "{}", show.stdout_str());
    assert_eq!(shown["sha256"], layers[0]["sha256"]);
    assert_eq!(shown["in_force_sha256"], plan["policy_sha256"]);
    // As text: still one valid policy, the system's, the overlay commented.
    let text = with_system_policy(&t, system, "agent", &["--policy", loose, "policy", "show"])
        .unwrap()
        .stdout_str();
    let saved = t.path().join("shown.toml");
    std::fs::write(&saved, &text).unwrap();
    let check = t.json("agent", &["policy", "check", saved.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{text}\n{}", check.stdout_str());
    assert!(text.contains("# [defaults]"), "{text}");
    assert_eq!(layers[0]["origin"], "/etc/ladder/policy.toml");
    assert_eq!(layers[0]["system"], true);
    assert_eq!(layers[1]["origin"], loose);

    // A command the system policy has no rule for keeps its [defaults]
    // tier, whatever the named policy says.
    let r = with_system_policy(
        &t,
        system,
        "agent",
        &[
            "--json", "--policy", loose, "policy", "explain", "--", "rm", "x",
        ],
    )
    .unwrap();
    assert_eq!(r.json()["tier"], "irreversible", "{}", r.stdout_str());

    // A broken system policy fails closed: nothing is planned.
    let r =
        with_system_policy(&t, "version = ", "agent", &["--json", "plan", "--", "true"]).unwrap();
    assert_eq!(r.code, 2, "{}", r.stderr);
}

// 3. The state file is not trusted.

#[test]
fn a_status_written_into_the_state_file_approves_nothing() {
    let t = strict();
    let marker = t.path().join("ran");
    let plan = t.plan("agent", "forged", &[], &["touch", marker.to_str().unwrap()]);
    t.db()
        .execute(
            "UPDATE plans SET status = 'approved' WHERE id = ?1",
            [plan["id"].as_str().unwrap()],
        )
        .unwrap();
    // Approvals are recounted from the approval records: there are none.
    assert_refused(&t.apply_json("agent", &plan), 10, "needs_approval");
    assert!(!marker.exists());
}

#[test]
fn a_verdict_written_into_the_state_file_is_tampered() {
    let t = strict();
    let marker = t.path().join("ran");
    let plan = t.plan("agent", "forged", &[], &["touch", marker.to_str().unwrap()]);
    t.db()
        .execute(
            "UPDATE plans SET status = 'approved', tier = 'read_only', approvals_required = 0
             WHERE id = ?1",
            [plan["id"].as_str().unwrap()],
        )
        .unwrap();
    // The policy that decided at plan time gives it one approval still: the
    // row's verdict was edited, not raised by a stricter policy.
    assert_refused(&t.apply_json("agent", &plan), 21, "tampered");
    assert!(!marker.exists());
    assert!(!t.event_kinds().contains(&"escalated".to_string()));
}

#[test]
fn an_approval_row_in_the_planners_name_counts_for_nothing() {
    let t = strict();
    let marker = t.path().join("ran");
    let plan = t.plan("agent", "self", &[], &["touch", marker.to_str().unwrap()]);
    let db = t.db();
    db.execute(
        "INSERT INTO approvals (plan, actor, at, hash) VALUES (?1, 'agent', 0, ?2)",
        [plan["id"].as_str().unwrap(), plan["hash"].as_str().unwrap()],
    )
    .unwrap();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [plan["id"].as_str().unwrap()],
    )
    .unwrap();
    assert_refused(&t.apply_json("agent", &plan), 10, "needs_approval");
    assert!(!marker.exists());
}

#[test]
fn a_command_rewritten_in_an_approved_row_is_tampered() {
    let t = strict();
    let marker = t.path().join("ran");
    let plan = approved(&t, "rewrite", &["echo", "harmless"]);
    // The argv is stored NUL-terminated; the hash column is left alone.
    let argv = format!("touch\0{}\0", marker.display());
    t.db()
        .execute(
            "UPDATE plans SET command = ?2 WHERE id = ?1",
            rusqlite::params![plan["id"].as_str().unwrap(), argv.as_bytes()],
        )
        .unwrap();
    assert_refused(&t.apply_json("agent", &plan), 21, "tampered");
    assert!(!marker.exists());
    let last = t.events().last().unwrap().clone();
    assert_eq!(last["kind"], "refused");
    assert_eq!(last["detail"]["code"], "tampered");
}

#[test]
fn a_command_and_hash_rewritten_together_match_no_approval() {
    // An agent that recomputes the hash for its new command gets a row that
    // hashes right, but every approval names the hash that was reviewed.
    let t = strict();
    let marker = t.path().join("ran");
    let plan = approved(&t, "rewrite", &["echo", "harmless"]);
    let argv = format!("touch\0{}\0", marker.display());
    let mut forged = plan.clone();
    forged["command"] = serde_json::json!(["touch", marker.to_str().unwrap()]);
    forged["program"] = Value::from(which("touch").to_str().unwrap());
    forged["program_id"] = Value::from(file_id(&which("touch")));
    let new_hash = readme_hash(&forged);
    let db = t.db();
    db.execute(
        "UPDATE plans SET command = ?2, hash = ?3, program = ?4, program_id = ?5 WHERE id = ?1",
        rusqlite::params![
            plan["id"].as_str().unwrap(),
            argv.as_bytes(),
            new_hash,
            which("touch").to_str().unwrap().as_bytes(),
            file_id(&which("touch")),
        ],
    )
    .unwrap();
    forged["hash"] = Value::from(new_hash);
    assert_refused(&t.apply_json("agent", &forged), 10, "needs_approval");
    assert!(!marker.exists());
}

fn which(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap()
}

fn file_id(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    format!(
        "{}:{}:{}:{}:{}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128
    )
}

#[test]
fn a_plan_hashed_before_version_2_is_stale_at_apply() {
    // A plan made by a ladder that bound only the argv (hash version 1):
    // it verifies, and apply refuses it rather than run a program it never
    // bound.
    let t = strict();
    let plan = approved(&t, "old", &["true"]);
    let mut old = plan.clone();
    old["hash_version"] = Value::from(1);
    let v1 = readme_hash(&old);
    let db = t.db();
    db.execute(
        "UPDATE plans SET hash = ?2, cwd_id = NULL, program = NULL, program_id = NULL,
         files = NULL WHERE id = ?1",
        [plan["id"].as_str().unwrap(), &v1],
    )
    .unwrap();
    db.execute(
        "UPDATE approvals SET hash = ?2 WHERE plan = ?1",
        [plan["id"].as_str().unwrap(), &v1],
    )
    .unwrap();
    drop(db);
    old["hash"] = Value::from(v1);
    assert_eq!(t.show(&plan)["hash_version"], 1);
    let r = t.apply_json("agent", &old);
    assert_refused(&r, 14, "stale");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("did not bind the program"), "{message}");
}

/// The plan hash of a plan object, by the README's recipe (version 1 when
/// the object says so).
fn readme_hash(p: &Value) -> String {
    use sha2::Digest;
    let v2 = p["hash_version"] != 1;
    let mut out = if v2 {
        b"ladder-plan-v2\n".to_vec()
    } else {
        b"ladder-plan-v1\n".to_vec()
    };
    let mut rec = |tag: &str, b: &[u8]| {
        out.extend_from_slice(format!("{tag} {}:", b.len()).as_bytes());
        out.extend_from_slice(b);
        out.push(b'\n');
    };
    rec("key", p["key"].as_str().unwrap().as_bytes());
    let argv = p["command"].as_array().unwrap();
    rec("argc", argv.len().to_string().as_bytes());
    for a in argv {
        rec("arg", a.as_str().unwrap().as_bytes());
    }
    rec("cwd", p["cwd"].as_str().unwrap().as_bytes());
    if v2 {
        rec("cwd-id", p["cwd_id"].as_str().unwrap().as_bytes());
        rec("program", p["program"].as_str().unwrap().as_bytes());
        rec("program-id", p["program_id"].as_str().unwrap().as_bytes());
        rec("file-count", b"0");
    }
    for (name, digest) in p["env"].as_object().unwrap() {
        match digest.as_str() {
            Some(d) => rec("env", format!("{name}={d}").as_bytes()),
            None => rec("env", format!("{name}!unset").as_bytes()),
        }
    }
    rec("dry-run-argc", b"0");
    sha2::Sha256::digest(&out)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

// 4. The program that runs is the program reviewed.

#[test]
fn another_program_first_on_path_at_apply_is_stale() {
    let t = strict();
    let (one, two) = (t.path().join("bin1"), t.path().join("bin2"));
    let (ran1, ran2) = (t.path().join("ran1"), t.path().join("ran2"));
    tool(&one.join("tool"), &ran1);
    tool(&two.join("tool"), &ran2);
    let mut planner = t.cmd("agent");
    let r: Run = planner
        .env("PATH", path_with(&one))
        .args(["--json", "plan", "--key", "tool", "--", "tool"])
        .output()
        .unwrap()
        .into();
    let plan = r.json();
    assert_eq!(plan["program"], one.join("tool").to_str().unwrap());
    assert_eq!(t.approve("alice", &plan).code, 0);
    let r = t.apply_with_env(&plan, &[("PATH", &path_with(&two))]);
    assert_refused(&r, 14, "stale");
    assert!(!ran1.exists() && !ran2.exists(), "nothing ran");
    // From the planning PATH, the reviewed program runs, by its path.
    let r = t.apply_with_env(&plan, &[("PATH", &path_with(&one))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ran1.exists() && !ran2.exists());
}

#[test]
fn a_program_that_appears_earlier_on_the_same_path_is_stale() {
    // PATH itself unchanged: an empty entry (the directory the command runs
    // in) comes first, and the agent drops a `tool` there after approval.
    let t = strict();
    let bin = t.path().join("bin");
    let (ran, planted) = (t.path().join("ran"), t.path().join("planted"));
    tool(&bin.join("tool"), &ran);
    let path = format!(":{}", path_with(&bin));
    let r: Run = t
        .cmd("agent")
        .env("PATH", &path)
        .args(["--json", "plan", "--key", "tool", "--", "tool"])
        .output()
        .unwrap()
        .into();
    let plan = r.json();
    assert_eq!(t.approve("alice", &plan).code, 0);
    tool(&t.work().join("tool"), &planted);
    assert_refused(&t.apply_with_env(&plan, &[("PATH", &path)]), 14, "stale");
    assert!(!ran.exists() && !planted.exists());
}

#[test]
fn a_program_file_replaced_after_approval_is_stale() {
    let t = strict();
    let bin = t.path().join("bin");
    let ran = t.path().join("ran");
    tool(&bin.join("tool"), &ran);
    let program = bin.join("tool");
    let plan = approved(&t, "tool", &[program.to_str().unwrap()]);
    std::fs::write(&program, "#!/bin/sh\necho evil >> /dev/null\n").unwrap();
    assert_refused(&t.apply_json("agent", &plan), 14, "stale");
    assert!(!ran.exists());
}

#[test]
fn an_edited_script_is_stale() {
    let t = strict();
    let marker = t.path().join("ran");
    let script = t.work().join("job.sh");
    std::fs::write(&script, "echo reviewed\n").unwrap();
    let plan = approved(&t, "job", &["sh", "job.sh"]);
    std::fs::write(&script, format!("touch '{}'\n", marker.display())).unwrap();
    let r = t.apply_json("agent", &plan);
    assert_refused(&r, 14, "stale");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("job.sh")
    );
    assert!(!marker.exists());
}

// 5. The directory is the directory reviewed.

#[test]
fn a_directory_swapped_for_a_symlink_is_stale() {
    let t = strict();
    let (dir, other) = (t.path().join("site"), t.path().join("other"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(dir.join("tmpfile"), "scratch").unwrap();
    std::fs::write(other.join("tmpfile"), "precious").unwrap();
    let plan = t.plan(
        "agent",
        "clean",
        &["--cwd", dir.to_str().unwrap()],
        &["rm", "-f", "tmpfile"],
    );
    assert_eq!(t.approve("alice", &plan).code, 0);
    std::fs::rename(&dir, t.path().join("site.orig")).unwrap();
    std::os::unix::fs::symlink(&other, &dir).unwrap();
    assert_refused(&t.apply_json("agent", &plan), 14, "stale");
    assert!(
        other.join("tmpfile").exists(),
        "the other directory's file is still there"
    );
}

#[test]
fn a_directory_replaced_by_another_at_the_same_path_is_stale() {
    let t = strict();
    let dir = t.path().join("site");
    std::fs::create_dir_all(&dir).unwrap();
    let plan = t.plan(
        "agent",
        "clean",
        &["--cwd", dir.to_str().unwrap()],
        &["true"],
    );
    assert_eq!(t.approve("alice", &plan).code, 0);
    std::fs::rename(&dir, t.path().join("site.orig")).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    assert_refused(&t.apply_json("agent", &plan), 14, "stale");
}

// 6. The loader environment is not the agent's to change.

#[test]
fn bash_env_set_at_apply_is_stale() {
    let t = strict();
    let marker = t.path().join("injected");
    let inject = t.path().join("inject.sh");
    std::fs::write(&inject, format!("touch '{}'\n", marker.display())).unwrap();
    std::fs::write(t.work().join("job.sh"), "echo job\n").unwrap();
    let plan = approved(&t, "job", &["bash", "job.sh"]);
    let r = t.apply_with_env(&plan, &[("BASH_ENV", inject.to_str().unwrap())]);
    assert_refused(&r, 14, "stale");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BASH_ENV")
    );
    assert!(!marker.exists(), "the injected file did not run");
}

#[test]
fn a_loader_variable_of_a_family_set_at_apply_is_stale() {
    let t = strict();
    let plan = approved(&t, "job", &["true"]);
    let r = t.apply_with_env(&plan, &[("LD_AUDIT", "/tmp/audit.so")]);
    assert_refused(&r, 14, "stale");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("LD_AUDIT")
    );
    let r = t.apply_with_env(&plan, &[("BASH_FUNC_ls%%", "() { rm -rf .; }")]);
    assert_refused(&r, 14, "stale");
}

// 7. What the policy looked at is bound.

#[test]
fn a_variable_a_rule_looks_at_is_bound_without_being_named() {
    let mut t = TestEnv::new();
    t.with_policy(
        r#"
version = 1
[defaults]
tier = "irreversible"
[[rules]]
name = "production"
tier = "critical"
commands = ["kubectl **"]
env = { KUBE_CONTEXT = "prod*" }
"#,
    );
    t.env("KUBE_CONTEXT", "staging");
    let plan = approved(&t, "k8s", &["kubectl", "version", "--client"]);
    assert_eq!(plan["tier"], "irreversible", "classified for staging");
    assert!(
        plan["env"]
            .as_object()
            .unwrap()
            .contains_key("KUBE_CONTEXT")
    );
    let r = t.apply_with_env(&plan, &[("KUBE_CONTEXT", "prod-eu")]);
    assert_refused(&r, 14, "stale");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("KUBE_CONTEXT")
    );
}

#[test]
fn a_dry_run_output_edited_in_the_state_file_does_not_lower_the_verdict() {
    // The row keeps the dry-run's first bytes; marked truncated, they cannot
    // be checked against the digest of the whole output. An agent rewrote
    // them (and the verdict they gave) so that one approval ran a plan its
    // preview had made critical.
    let mut t = TestEnv::new();
    t.with_policy(
        r#"
version = 1
[defaults]
tier = "irreversible"
dry_run_must_be_read_only = false
[[rules]]
name = "destroys"
tier = "critical"
commands = ["touch **"]
dry_run_output = "will be destroyed"
"#,
    );
    let marker = t.path().join("ran");
    let plan = t.plan(
        "agent",
        "tf",
        &["--dry-run", "printf 'db will be destroyed\\n'"],
        &["touch", marker.to_str().unwrap()],
    );
    assert_eq!(plan["tier"], "critical");
    t.db()
        .execute(
            "UPDATE plans SET tier = 'irreversible', rule = NULL, approvals_required = 1,
             dry_run_stdout = CAST('1 to add' AS BLOB), dry_run_truncated = 1,
             dry_run_stdout_bytes = 1000000 WHERE id = ?1",
            [plan["id"].as_str().unwrap()],
        )
        .unwrap();
    assert_eq!(
        t.approve("alice", &plan).code,
        0,
        "one approval of the edited row"
    );
    let r = t.apply_json("agent", &plan);
    assert!(!marker.exists(), "ran on one approval: {}", r.stdout_str());
    assert_refused(&r, 21, "tampered");
}

#[test]
fn an_applied_plan_set_back_to_approved_does_not_run_again() {
    // One key runs at most once. The approvals are real and the row hashes
    // right; only its status was written back, and the execution rows
    // deleted. The ledger, append-only, still shows the run.
    let t = strict();
    let marker = t.path().join("ran");
    let script = format!("echo ran >> '{}'", marker.display());
    let plan = approved(&t, "once", &["sh", "-c", &script]);
    assert_eq!(t.apply_json("agent", &plan).code, 0);
    let db = t.db();
    db.execute(
        "UPDATE plans SET status = 'approved' WHERE id = ?1",
        [plan["id"].as_str().unwrap()],
    )
    .unwrap();
    db.execute(
        "DELETE FROM executions WHERE plan = ?1",
        [plan["id"].as_str().unwrap()],
    )
    .unwrap();
    drop(db);
    let r = t.apply_json("agent", &plan);
    let runs = std::fs::read_to_string(&marker).unwrap().lines().count();
    assert_eq!(runs, 1, "ran again: {}", r.stdout_str());
    assert_refused(&r, 21, "tampered");
}

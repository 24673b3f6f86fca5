//! A security review's attacks: more ways an agent, with only what it
//! controls (its environment, PATH, files it can write), ran something no
//! reviewer approved. Each asserts what should happen. The two that the
//! README lists as not guaranteed are `#[ignore]`d with the reason; they
//! still fail when run (`cargo test --test cli review_attacks -- --ignored`)
//! and pass the day ladder covers them.

use crate::harness::{Run, TestEnv, strict};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// An executable shell script at `path` that appends `word` to `marker`.
fn script(path: &Path, marker: &Path, word: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("#!/bin/sh\necho {word} >> '{}'\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Rewrites `path` with other code, after a pause so that its mtime moves.
fn rewrite(path: &Path, marker: &Path) {
    std::thread::sleep(std::time::Duration::from_millis(20));
    script(path, marker, "evil");
}

fn plan_with(t: &TestEnv, key: &str, env: &[(&str, &str)], argv: &[&str]) -> Value {
    let mut cmd = t.cmd("agent");
    cmd.args(["--json", "plan", "--key", key, "--"]).args(argv);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r: Run = cmd.output().unwrap().into();
    assert_eq!(r.code, 0, "plan failed: {}\n{}", r.stdout_str(), r.stderr);
    r.json()
}

fn ran(marker: &Path) -> String {
    std::fs::read_to_string(marker).unwrap_or_default()
}

/// The reviewer read `deploy.sh` and approved `timeout 10 ./deploy.sh`; the
/// agent rewrote it. A wrapper (`timeout`, `nice`, `nohup`, `env`,
/// `stdbuf`, `setsid`...) runs the file it names: that file is bound too.
#[test]
fn a_script_run_by_a_wrapper_and_rewritten_after_approval_is_stale() {
    let t = strict();
    let marker = t.path().join("ran");
    script(&t.work().join("deploy.sh"), &marker, "reviewed");
    let plan = t.plan("agent", "wrapped", &[], &["timeout", "10", "./deploy.sh"]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    rewrite(&t.work().join("deploy.sh"), &marker);
    let r = t.apply_with_env(&plan, &[]);
    assert_eq!(ran(&marker), "", "the rewritten script ran: {}", r.stderr);
    assert_eq!(r.code, 14, "{}", r.stdout_str());
}

/// `sh -o errexit job.sh`: `-o` takes an argument. With a file named
/// `errexit` in the directory, a binding of the first file argument only
/// took it for the script, and `job.sh`, the file sh actually runs, was
/// bound by nothing. The same held for `node -r ./x.js app.js`,
/// `python3 -W ignore app.py`, `perl -I lib x.pl`: every file named is bound.
#[test]
fn an_option_argument_naming_a_file_hides_the_real_script() {
    let t = strict();
    let marker = t.path().join("ran");
    std::fs::write(t.work().join("errexit"), "decoy\n").unwrap();
    script(&t.work().join("job.sh"), &marker, "reviewed");
    let plan = t.plan("agent", "opt", &[], &["sh", "-o", "errexit", "job.sh"]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    rewrite(&t.work().join("job.sh"), &marker);
    let r = t.apply_with_env(&plan, &[]);
    assert_eq!(ran(&marker), "", "the rewritten script ran: {}", r.stderr);
    assert_eq!(r.code, 14, "{}", r.stdout_str());
}

/// A reviewed script that sources another file: the sourced file is
/// not bound (nor a Python module it imports, nor `python3 -m mod`).
#[test]
#[ignore = "not guaranteed (README): what a bound file sources or imports is not bound"]
fn a_file_the_reviewed_script_sources_is_rewritten_after_approval() {
    let t = strict();
    let marker = t.path().join("ran");
    std::fs::write(t.work().join("job.sh"), ". ./lib.sh\n").unwrap();
    script(&t.work().join("lib.sh"), &marker, "reviewed");
    let plan = t.plan("agent", "sourced", &[], &["sh", "job.sh"]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    rewrite(&t.work().join("lib.sh"), &marker);
    let r = t.apply_with_env(&plan, &[]);
    assert_eq!(ran(&marker), "", "the rewritten library ran: {}", r.stderr);
}

/// `PATH=.:$PATH` and a script named `ls` in the directory: `ls` is
/// `read_only` by name, so the agent's own program ran with no approval.
/// The default policy's "program-by-path" rule exists for exactly this
/// (`./ls`); a relative PATH entry is the same thing spelled differently.
#[test]
fn a_program_found_through_a_relative_path_entry_is_judged_as_a_program_by_path() {
    let t = TestEnv::new(); // the embedded default policy
    let marker = t.path().join("ran");
    script(&t.work().join("ls"), &marker, "agent-code");
    for (key, path) in [
        ("dot", format!(".:{}", std::env::var("PATH").unwrap())),
        ("empty", format!(":{}", std::env::var("PATH").unwrap())),
    ] {
        let env = [("PATH", path.as_str())];
        let plan = plan_with(&t, key, &env, &["ls"]);
        assert_ne!(plan["tier"], "read_only", "{plan}");
        assert_eq!(plan["status"], "pending", "{plan}");
        let r = t.apply_with_env(&plan, &env);
        assert_eq!(r.code, 10, "{}", r.stdout_str());
        assert_eq!(ran(&marker), "", "the agent's `ls` ran unapproved");
    }
    // The same for a dry-run, which runs at plan time with no approval.
    let path = format!(".:{}", std::env::var("PATH").unwrap());
    let r: Run = t
        .cmd("agent")
        .env("PATH", &path)
        .args([
            "--json",
            "plan",
            "--key",
            "dry",
            "--dry-run",
            "ls",
            "--",
            "true",
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 18, "{}", r.stdout_str());
    assert_eq!(ran(&marker), "", "the agent's `ls` ran as a dry-run");
}

/// The same with an absolute PATH entry the agent owns (`~/.local/bin`,
/// any directory it can write): `ls` there is the agent's program, and
/// read_only by name.
#[test]
#[ignore = "not guaranteed (README): a program on PATH is judged by its name"]
fn a_program_found_in_a_directory_the_agent_can_write_is_not_trusted_by_its_name() {
    let t = TestEnv::new();
    let marker = t.path().join("ran");
    let bin = t.path().join("home/.local/bin");
    script(&bin.join("ls"), &marker, "agent-code");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let env = [("PATH", path.as_str())];
    let plan = plan_with(&t, "bin", &env, &["ls"]);
    let r = t.apply_with_env(&plan, &env);
    assert_eq!(
        ran(&marker),
        "",
        "the agent's `ls` ran unapproved: {}",
        r.stderr
    );
}

/// `git diff` is read_only. `GIT_EXTERNAL_DIFF` (like `GIT_PAGER`,
/// `GIT_EDITOR`, `GIT_PROXY_COMMAND`...) names a program git runs, and it
/// was not a loader variable: set at apply only, it ran the agent's
/// program.
#[test]
fn a_program_git_runs_named_by_a_variable_set_at_apply_is_stale() {
    let t = TestEnv::new();
    let marker = t.path().join("ran");
    t.git(&t.work(), &["init", "-q"]);
    std::fs::write(t.work().join("a"), "one\n").unwrap();
    t.git(&t.work(), &["add", "a"]);
    std::fs::write(t.work().join("a"), "two\n").unwrap();
    script(&t.path().join("evil"), &marker, "agent-code");
    let plan = t.plan("agent", "diff", &[], &["git", "diff"]);
    assert_eq!(plan["status"], "approved", "{plan}");
    let evil = t.path().join("evil");
    let r = t.apply_with_env(&plan, &[("GIT_EXTERNAL_DIFF", evil.to_str().unwrap())]);
    assert_eq!(ran(&marker), "", "GIT_EXTERNAL_DIFF ran: {}", r.stderr);
    assert_eq!(r.code, 14, "{}", r.stdout_str());
}

/// Loader variables are bound, so changing them at apply is stale; but one
/// set already at plan time changes nothing of the verdict. For a
/// read_only command nobody reviews the plan: `git status` with
/// `core.fsmonitor` given through `GIT_CONFIG_*` (or `ls` with
/// `LD_PRELOAD`) runs the agent's code with no approval, and at plan time
/// already when it is the dry-run.
#[test]
fn a_loader_variable_set_at_plan_time_does_not_leave_a_command_read_only() {
    let t = TestEnv::new();
    let marker = t.path().join("ran");
    t.git(&t.work(), &["init", "-q"]);
    script(&t.path().join("evil"), &marker, "agent-code");
    let evil = t.path().join("evil");
    let env = [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "core.fsmonitor"),
        ("GIT_CONFIG_VALUE_0", evil.to_str().unwrap()),
    ];
    let plan = plan_with(&t, "fsmonitor", &env, &["git", "status"]);
    assert_eq!(plan["status"], "pending", "{plan}");
    assert_eq!(plan["approvals_required"], 1);
    let r = t.apply_with_env(&plan, &env);
    assert_eq!(r.code, 10, "{}", r.stdout_str());
    assert_eq!(
        ran(&marker),
        "",
        "core.fsmonitor ran unapproved: {}",
        r.stderr
    );
}

/// `git ls-remote` is read_only and `git push --dry-run` a preview, and both
/// run the ssh command `GIT_SSH_COMMAND` names (so do `kubectl diff` with
/// `KUBECTL_EXTERNAL_DIFF` and `rsync -n` with `RSYNC_RSH`). Set at plan
/// time by the agent, it ran the agent's program with no one looking:
/// as the command, and as the dry-run, which runs while planning.
#[test]
fn a_preview_does_not_run_the_ssh_command_the_agent_names() {
    let t = TestEnv::new();
    let marker = t.path().join("ran");
    t.git(&t.work(), &["init", "-q"]);
    script(&t.path().join("evil"), &marker, "agent-code");
    let evil = t.path().join("evil");
    let env = [("GIT_SSH_COMMAND", evil.to_str().unwrap())];
    let remote = "ssh://git@example.invalid/repo.git";
    let plan = plan_with(&t, "ls", &env, &["git", "ls-remote", "--heads", remote]);
    assert_eq!(plan["status"], "pending", "{plan}");
    assert_eq!(plan["approvals_required"], 1);
    let r = t.apply_with_env(&plan, &env);
    assert_eq!(r.code, 10, "{}", r.stdout_str());

    let mut cmd = t.cmd("agent");
    cmd.args(["--json", "plan", "--key", "push", "--dry-run"])
        .arg(format!("git push --dry-run --porcelain {remote} HEAD:main"))
        .args(["--", "git", "push", remote, "HEAD:main"])
        .env("GIT_SSH_COMMAND", &evil);
    let r: Run = cmd.output().unwrap().into();
    assert_eq!(r.code, 18, "{}", r.stdout_str());
    assert_eq!(ran(&marker), "", "GIT_SSH_COMMAND ran unapproved");
}

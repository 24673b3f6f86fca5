//! The real tools' previews on the embedded default policy: a force push
//! planned with `git push --dry-run` as its dry-run, a saved Terraform plan
//! judged by `terraform show`, a kubectl client dry-run. Each runs the real
//! tool where it is installed, and says it skipped where it is not.

use crate::harness::{Run, TestEnv};
use serde_json::Value;
use std::process::Command;

fn installed(program: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok()
        || Command::new(program).arg("version").output().is_ok();
    if !found {
        eprintln!("skipped: {program} is not installed");
    }
    found
}

fn plan(t: &TestEnv, key: &str, dry_run: &str, argv: &[&str]) -> Run {
    let mut args = vec!["plan", "--key", key, "--dry-run", dry_run, "--"];
    args.extend_from_slice(argv);
    t.json("agent", &args)
}

#[test]
fn a_force_push_goes_up_the_ladder_with_its_preview_once_and_goes_stale_when_origin_moves() {
    if !installed("git") {
        return;
    }
    let t = TestEnv::new(); // the embedded default policy
    let origin = t.path().join("origin.git");
    let work = t.work();
    t.git(
        t.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    // The remote counts the pushes it receives (a dry-run receives none).
    let pushes = t.path().join("pushes");
    let hook = origin.join("hooks/post-receive");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\necho push >> '{}'\n", pushes.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.git(&work, &["init", "-q", "-b", "main"]);
    t.git(
        &work,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    std::fs::write(work.join("a"), "one\n").unwrap();
    t.git(&work, &["add", "a"]);
    t.git(&work, &["commit", "-qm", "one"]);
    t.git(&work, &["push", "-q", "origin", "main"]);
    // History rewritten: only a force push can publish it.
    std::fs::write(work.join("a"), "two\n").unwrap();
    t.git(&work, &["commit", "-q", "--amend", "-am", "two"]);
    let count = || {
        std::fs::read_to_string(&pushes)
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(count(), 1);

    let preview = "git push --force --dry-run --porcelain origin HEAD:main";
    let r = plan(
        &t,
        "force",
        preview,
        &["git", "push", "--force", "origin", "HEAD:main"],
    );
    assert_eq!(
        r.code,
        0,
        "the preview is a read-only dry-run: {}",
        r.stdout_str()
    );
    let p = r.json();
    assert_eq!(p["tier"], "critical", "{p}");
    assert_eq!(p["approvals_required"], 2);
    assert_eq!(count(), 1, "the preview pushed nothing");
    assert_eq!(t.approve("alice", &p).code, 0);
    assert_eq!(t.approve("bob", &p).code, 0);
    let r = t.apply_json("agent", &p);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    assert_eq!(count(), 2, "pushed once");
    // A retry replays; the remote sees nothing more.
    let again = t.apply_json("agent", &p);
    assert_eq!(again.code, 0);
    assert_eq!(again.json()["replayed"], true);
    assert_eq!(count(), 2);

    // Another force push, planned and approved; then someone else pushes:
    // the preview no longer says what it said, and the plan is stale.
    std::fs::write(work.join("a"), "three\n").unwrap();
    t.git(&work, &["commit", "-q", "--amend", "-am", "three"]);
    let r = plan(
        &t,
        "force-2",
        preview,
        &["git", "push", "--force", "origin", "HEAD:main"],
    );
    let p = r.json();
    assert_eq!(t.approve("alice", &p).code, 0);
    assert_eq!(t.approve("bob", &p).code, 0);
    let other = t.path().join("other");
    t.git(
        t.path(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    std::fs::write(other.join("b"), "theirs\n").unwrap();
    t.git(&other, &["add", "b"]);
    t.git(&other, &["commit", "-qm", "theirs"]);
    t.git(&other, &["push", "-q", "origin", "main"]);
    assert_eq!(count(), 3);
    let r = t.apply_json("agent", &p);
    assert_eq!(r.code, 14, "{}", r.stdout_str());
    assert_eq!(r.error_code(), "stale");
    assert_eq!(count(), 3, "their commit survived");

    // What turns the preview back into a push is no preview.
    let r = plan(
        &t,
        "sneak",
        "git push --force --dry-run --no-dry-run origin HEAD:main",
        &["git", "status"],
    );
    assert_eq!(r.code, 18, "{}", r.stdout_str());
    assert_eq!(count(), 3);
}

#[test]
fn a_saved_terraform_plan_that_destroys_needs_two_people() {
    if !installed("terraform") {
        return;
    }
    let t = TestEnv::new();
    let work = t.work();
    std::fs::write(
        work.join("main.tf"),
        "resource \"terraform_data\" \"queue\" {\n  input = \"orders\"\n}\n",
    )
    .unwrap();
    let tf = |args: &[&str]| {
        let out = t
            .program_cmd("terraform", "agent")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tf(&["init", "-input=false", "-no-color"]);
    tf(&["plan", "-input=false", "-no-color", "-out=add.tfplan"]);
    let r = plan(
        &t,
        "add",
        "terraform show -no-color add.tfplan",
        &[
            "terraform",
            "apply",
            "-input=false",
            "-no-color",
            "add.tfplan",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let add = r.json();
    assert_eq!(add["tier"], "irreversible", "adds only: {add}");
    assert_eq!(t.approve("alice", &add).code, 0);
    let r = t.apply_json("agent", &add);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(t.apply_json("agent", &add).json()["replayed"], true);

    // The same command, a saved plan that destroys: its preview raises it.
    tf(&[
        "plan",
        "-destroy",
        "-input=false",
        "-no-color",
        "-out=gone.tfplan",
    ]);
    let r = plan(
        &t,
        "gone",
        "terraform show -no-color gone.tfplan",
        &[
            "terraform",
            "apply",
            "-input=false",
            "-no-color",
            "gone.tfplan",
        ],
    );
    let gone: Value = r.json();
    assert_eq!(gone["tier"], "critical", "{gone}");
    assert_eq!(gone["rule"], "destroying-plan");
    assert_eq!(gone["approvals_required"], 2);
}

#[test]
fn a_kubectl_client_dry_run_is_a_preview_and_dry_run_none_is_not() {
    if !installed("kubectl") {
        return;
    }
    let mut t = TestEnv::new();
    t.env("KUBECONFIG", "/nonexistent");
    let create = [
        "kubectl",
        "create",
        "configmap",
        "demo",
        "--from-literal=a=b",
    ];
    let r = plan(
        &t,
        "cm",
        "kubectl create configmap demo --from-literal=a=b --dry-run=client -o yaml",
        &create,
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let p = r.json();
    assert_eq!(p["tier"], "irreversible", "{p}");
    assert!(
        p["dry_run"]["stdout"]
            .as_str()
            .unwrap()
            .contains("kind: ConfigMap"),
        "{p}"
    );
    let r = plan(
        &t,
        "cm-none",
        "kubectl create configmap demo --from-literal=a=b --dry-run=client --dry-run=none",
        &create,
    );
    assert_eq!(
        r.code,
        18,
        "a dry-run that is the real thing: {}",
        r.stdout_str()
    );
}

/// Commands that got a lower tier than they deserve on the embedded
/// default, each with the least it must get now.
#[test]
fn the_default_gives_what_the_attacks_got_at_least_its_tier() {
    let t = TestEnv::new();
    let cases: &[(&str, &[&str])] = &[
        // Options that run a program, written the ways git accepts.
        (
            "irreversible",
            &[
                "git",
                "ls-remote",
                "--exec",
                "rm -f f; touch pwned; git-upload-pack",
                ".",
            ],
        ),
        (
            "irreversible",
            &["git", "ls-remote", "--upload-p=touch pwned", "."],
        ),
        ("irreversible", &["git", "fetch", "--upl=touch pwned", "."]),
        // A listing turned back into a branch move.
        (
            "irreversible",
            &[
                "git",
                "branch",
                "--list",
                "--no-list",
                "-f",
                "main",
                "HEAD~1",
            ],
        ),
        // An abbreviation of --discard-changes.
        ("irreversible", &["git", "switch", "--discard", "main"]),
        // Remote deletions, namespaces in a list, a top-level directory.
        ("critical", &["git", "push", "origin", ":main"]),
        ("critical", &["git", "push", "--delete", "origin", "main"]),
        ("critical", &["git", "push", "--prune", "origin"]),
        ("critical", &["kubectl", "delete", "namespace,pod", "prod"]),
        ("critical", &["rm", "-rf", "/lib64"]),
        // A preview flag undone by a later one is the real thing.
        (
            "critical",
            &[
                "git",
                "push",
                "--force",
                "--dry-run",
                "--no-dry-run",
                "origin",
                "main",
            ],
        ),
        (
            "critical",
            &[
                "kubectl",
                "delete",
                "ns",
                "prod",
                "--dry-run=client",
                "--dry-run=none",
            ],
        ),
        (
            "irreversible",
            &["kubectl", "apply", "-f", "k8s/", "--dry-run=none"],
        ),
        // And the previews themselves are read-only.
        (
            "read_only",
            &[
                "git",
                "push",
                "--force",
                "--dry-run",
                "--porcelain",
                "origin",
                "HEAD:main",
            ],
        ),
        (
            "read_only",
            &["kubectl", "apply", "-f", "k8s/", "--dry-run=server"],
        ),
        ("read_only", &["kubectl", "diff", "-f", "k8s/"]),
        ("read_only", &["git", "branch", "--list", "feat/*"]),
    ];
    let order = [
        "read_only",
        "reversible",
        "irreversible",
        "critical",
        "deny",
    ];
    let rank = |tier: &str| order.iter().position(|t| *t == tier).unwrap();
    for (least, argv) in cases {
        let mut args = vec!["policy", "explain", "--"];
        args.extend_from_slice(argv);
        let r = t.json("agent", &args);
        assert_eq!(r.code, 0, "{argv:?}: {}", r.stdout_str());
        let tier = r.json()["tier"].as_str().unwrap().to_string();
        if *least == "read_only" {
            assert_eq!(tier, "read_only", "{argv:?}");
        } else {
            assert!(
                rank(&tier) >= rank(least),
                "{argv:?} is {tier}, needs at least {least}"
            );
        }
    }
}

#[test]
fn a_change_planned_without_its_preview_is_told_which_one() {
    let t = TestEnv::new();
    let r = t.json(
        "agent",
        &["plan", "--key", "p", "--", "git", "push", "origin", "main"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let p = r.json();
    assert_eq!(
        p["suggested_dry_run"], "git push --dry-run --porcelain origin main",
        "{p}"
    );
    let card = t.run("viewer", &["show", p["id"].as_str().unwrap()]);
    assert!(
        card.stdout_str()
            .contains("--dry-run 'git push --dry-run --porcelain origin main'"),
        "{}",
        card.stdout_str()
    );
    // Given a dry-run, nothing is suggested; nor for a tool without one.
    let r = t.json("agent", &["plan", "--key", "ls", "--", "ls"]);
    assert_eq!(r.json()["suggested_dry_run"], Value::Null);
}

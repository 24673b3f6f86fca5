//! What people see: cards, tables, `policy explain` and the notes on stderr,
//! with the clock fixed and ids and hashes masked.

use crate::harness::{STRICT_POLICY, TestEnv, id, simulate_crash, strict_at};

fn settings(t: &TestEnv) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    let work = std::fs::canonicalize(t.work()).unwrap();
    s.add_filter(&regex_escape(work.to_str().unwrap()), "[WORK]");
    // The hash covers the working directory, a fresh temporary path per run,
    // and test ids are derived from the hash: both vary, so both are masked.
    s.add_filter(r"\b[0-9a-f]{64}\b", "[HASH]");
    s.add_filter(
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "[ID]",
    );
    s.add_filter(r"\b[0-9a-f]{8}\b", "[SHORT-ID]");
    s
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

#[test]
fn plan_card_and_pending_table() {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    t.at("2026-11-21T09:00:00Z");
    let r = t.run(
        "agent",
        &[
            "plan",
            "--key",
            "rotate-logs",
            "--reason",
            "disk is 91% full",
            "--target",
            "web-1",
            "--effect",
            "old logs compressed",
            "--rollback",
            "none needed",
            "--confidence",
            "0.9",
            "--",
            "logrotate",
            "-f",
            "/etc/logrotate.conf",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    t.at("2026-11-21T09:18:00Z");
    let list = t.run("alice", &["list"]);
    let show = t.run("alice", &["show", "--key", "rotate-logs"]);
    settings(&t).bind(|| {
        insta::assert_snapshot!("plan_card", r.stdout_str());
        insta::assert_snapshot!("pending_list", list.stdout_str());
        insta::assert_snapshot!("show_card_later", show.stdout_str());
    });
}

/// The ledger as people read it: one row per event, its time relative to
/// now, and a short detail.
#[test]
fn log_table() {
    let mut t = strict_at("2026-11-21T09:00:00Z");
    t.env("NO_COLOR", "1");
    let rotate = t.plan(
        "agent",
        "rotate-logs",
        &["--reason", "disk is 91% full"],
        &["echo", "rotated"],
    );
    let deploy = t.plan("agent", "deploy", &[], &["deploy-prod", "v2"]);
    t.at("2026-11-21T09:05:00Z");
    assert_eq!(t.approve("alice", &rotate).code, 0);
    assert_eq!(t.approve("alice", &deploy).code, 0);
    let r = t.json(
        "bob",
        &["reject", id(&deploy), "--reason", "not on a Friday"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    t.at("2026-11-21T09:12:00Z");
    assert_eq!(
        t.run("agent", &["apply", "--key", "rotate-logs", "--hash", "00"])
            .code,
        13
    );
    assert_eq!(t.apply("agent", &rotate).code, 0);
    t.at("2026-11-21T11:00:00Z");
    let log = t.run("viewer", &["log"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    settings(&t).bind(|| insta::assert_snapshot!("log_table", log.stdout_str()));
}

/// `policy explain` for people: the tier, the rule, every rule that matched
/// and why, and what [defaults] says when none did.
#[test]
fn policy_explain() {
    let mut t = TestEnv::new();
    t.with_policy(&format!(
        "{STRICT_POLICY}\n[[rules]]\nname = \"deploys\"\ntier = \"irreversible\"\ncommands = [\"deploy-* **\"]\n"
    ));
    let matched = t.run(
        "u",
        &["policy", "explain", "--", "deploy-prod", "--force", "v2"],
    );
    assert_eq!(matched.code, 0, "{}", matched.stderr);
    let unmatched = t.run("u", &["policy", "explain", "--", "some-unknown-tool", "x"]);
    assert_eq!(unmatched.code, 0, "{}", unmatched.stderr);
    settings(&t).bind(|| {
        insta::assert_snapshot!("policy_explain", matched.stdout_str());
        insta::assert_snapshot!("policy_explain_no_rule", unmatched.stdout_str());
    });
}

/// What `approve` tells a reviewer on stderr: one approval of two counted,
/// then the plan approved and until when.
#[test]
fn approve_notes() {
    let t = strict_at("2026-11-21T09:00:00Z");
    let plan = t.plan("agent", "deploy", &[], &["deploy-prod", "v2"]);
    let first = t.run("alice", &["approve", id(&plan), "--yes"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = t.run("bob", &["approve", id(&plan), "--yes"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    settings(&t).bind(|| {
        insta::assert_snapshot!(
            "approve_notes",
            format!("{}{}", first.stderr, second.stderr)
        );
    });
}

/// What `resolve` tells the person who settled an interrupted run, for each
/// outcome: a retry names the one apply it allows.
#[test]
fn resolve_notes() {
    let t = strict_at("2026-11-21T09:00:00Z");
    let mut notes = String::new();
    for outcome in ["retry", "succeeded", "failed"] {
        let plan = t.plan(
            "agent",
            &format!("crashed-{outcome}"),
            &[],
            &["echo", outcome],
        );
        assert_eq!(t.approve("alice", &plan).code, 0);
        simulate_crash(&t, &plan);
        let r = t.run(
            "oncall",
            &[
                "resolve",
                id(&plan),
                "--outcome",
                outcome,
                "--reason",
                "checked by hand",
            ],
        );
        assert_eq!(r.code, 0, "{outcome}: {}", r.stderr);
        notes.push_str(&r.stderr);
    }
    settings(&t).bind(|| insta::assert_snapshot!("resolve_notes", notes));
}

#[test]
fn bash_completion_offers_plan_ids_from_state() {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    let a = t.plan("agent", "one", &[], &["rm", "a"]);
    let b = t.plan("agent", "two", &[], &["rm", "b"]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/ladder.bash");
    let bin_dir = assert_cmd::cargo::cargo_bin("ladder")
        .parent()
        .unwrap()
        .to_path_buf();
    let complete = |words: &str, cword: usize| {
        let out = t
            .program_cmd("bash", "agent")
            .env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()))
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; _ladder_with_plan_ids ladder; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let offered = complete("ladder approve ''", 2);
    for p in [&a, &b] {
        assert!(
            offered.contains(&p["id"].as_str().unwrap()[..8]),
            "{offered}"
        );
    }
    // `--state` on the command line wins over $LADDER_STATE.
    let other = TestEnv::new();
    let elsewhere = complete(
        &format!("ladder --state {} approve ''", other.state().display()),
        4,
    );
    assert!(
        !elsewhere.contains(&a["id"].as_str().unwrap()[..8]),
        "{elsewhere}"
    );
    // A prefix narrows it; other commands are not offered ids.
    let narrowed = complete(
        &format!(
            "ladder --state {} show {}",
            t.state().display(),
            &a["id"].as_str().unwrap()[..6]
        ),
        4,
    );
    assert!(
        narrowed.contains(&a["id"].as_str().unwrap()[..8]),
        "{narrowed}"
    );
    assert!(!complete("ladder list ''", 2).contains(&a["id"].as_str().unwrap()[..8]));
}

#[test]
fn colours_only_on_a_terminal_and_never_with_no_color() {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    t.plan("agent", "c", &[], &["rm", "x"]);
    let Some((_, coloured)) = t.on_terminal("alice", "show --key c", "", &[]) else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(
        coloured.contains("\x1b["),
        "a terminal gets colour: {coloured:?}"
    );
    // Padding is applied before colour, so labels still line up.
    assert!(coloured.contains("command   "), "{coloured:?}");
    let (_, plain) = t
        .on_terminal("alice", "show --key c", "", &[("NO_COLOR", "1")])
        .unwrap();
    assert!(!plain.contains("\x1b["), "NO_COLOR is respected: {plain:?}");
    let piped = t.run("alice", &["show", "--key", "c"]);
    assert!(
        !piped.stdout_str().contains('\x1b'),
        "a pipe gets no colour"
    );
}

#[test]
fn the_review_queue_asks_again_on_an_unknown_answer_and_stops_on_quit() {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    let first = t.plan("agent", "q1", &[], &["rm", "one"]);
    let second = t.plan("agent", "q2", &[], &["rm", "two"]);
    let Some((code, screen)) =
        t.on_terminal("alice", "approve", "maybe\ns\nq\n", &[("NO_COLOR", "1")])
    else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("please answer a, r, s or q"), "{screen}");
    assert!(
        screen.contains("0 approved, 0 rejected, 1 skipped"),
        "{screen}"
    );
    assert_eq!(t.show(&first)["status"], "pending");
    assert_eq!(t.show(&second)["status"], "pending");
}

/// A plan with metadata and its rollback, and the original naming it: what
/// a reviewer reads before approving an undo.
#[test]
fn rollback_cards_with_metadata() {
    let mut t = strict_at("2026-11-21T09:00:00Z");
    t.env("NO_COLOR", "1");
    // Programs of the test's own, so the card names the same paths on
    // every machine.
    let bin = t.work().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["web-deploy", "web-undo"] {
        let path = bin.join(name);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", bin.display());
    t.env("PATH", &path);
    let plan = t.plan(
        "agent",
        "deploy-42",
        &[
            "--meta",
            "model=claude-opus-4",
            "--meta",
            "run=r-17",
            "--rollback",
            "web-undo --to v41",
        ],
        &["web-deploy", "v42"],
    );
    assert_eq!(t.approve("alice", &plan).code, 0);
    assert_eq!(t.apply_json("agent", &plan).code, 0);
    t.at("2026-11-21T09:05:00Z");
    let undo = t.run(
        "agent",
        &[
            "rollback",
            id(&plan),
            "--reason",
            "error rate doubled",
            "--meta",
            "alert=web-5xx",
        ],
    );
    assert_eq!(undo.code, 0, "{}", undo.stderr);
    let original = t.run("alice", &["show", id(&plan)]);
    settings(&t).bind(|| {
        insta::assert_snapshot!("rollback_card", undo.stdout_str());
        insta::assert_snapshot!("rollback_notes", undo.stderr);
        insta::assert_snapshot!("undone_card", original.stdout_str());
    });
}

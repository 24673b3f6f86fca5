//! What people see: cards and tables, with the clock and ids fixed.

use crate::harness::{STRICT_POLICY, TestEnv};

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

//! `ladder list` and `ladder show`, and the plan id prefixes that every command
//! taking a plan accepts.

use crate::harness::{assert_refused, hash, id, strict};
use serde_json::Value;

#[test]
fn show_prints_one_plans_card_or_json() {
    let t = strict();
    let plan = t.plan(
        "agent",
        "card",
        &["--reason", "because"],
        &["echo", "card-cmd"],
    );
    let r = t.run("viewer", &["show", id(&plan)]);
    assert_eq!(r.code, 0);
    let card = r.stdout_str();
    for needle in [
        "card-cmd",
        "card",
        "pending",
        "irreversible",
        "because",
        &id(&plan)[..8],
    ] {
        assert!(card.contains(needle), "card lacks {needle:?}:\n{card}");
    }
    let v = t.json("viewer", &["show", id(&plan)]).json();
    assert_eq!(v["id"], plan["id"]);
    assert_eq!(v["hash"], plan["hash"]);
    assert_refused(&t.json("viewer", &["show", "ffffffff"]), 3, "not_found");
}

#[test]
fn plan_ids_take_any_unique_prefix_of_4_or_more_characters() {
    let t = strict();
    let plan = t.plan("agent", "px", &[], &["echo", "x"]);
    let full = id(&plan);
    for n in [4, 5, 8, 13, full.len()] {
        let r = t.json("viewer", &["show", &full[..n]]);
        assert_eq!(r.code, 0, "prefix {n}: {}", r.stdout_str());
        assert_eq!(r.json()["id"], full);
    }
    for n in [1, 3] {
        assert_refused(&t.json("viewer", &["show", &full[..n]]), 2, "usage");
        assert_refused(
            &t.json("alice", &["approve", &full[..n], "--yes"]),
            2,
            "usage",
        );
    }
    // The other plan-taking commands accept a prefix too.
    let r = t.json("alice", &["approve", &full[..4], "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    let r = t.json(
        "agent",
        &["apply", &full[..4], "--key", "px", "--hash", hash(&plan)],
    );
    assert_eq!(r.code, 0, "{}", r.stdout_str());
    assert_eq!(t.json("viewer", &["replay", &full[..4]]).code, 0);
    assert_eq!(t.json("viewer", &["log", &full[..4]]).code, 0);
    let p2 = t.plan("agent", "px2", &[], &["echo", "y"]);
    let r = t.json("bob", &["reject", &id(&p2)[..4], "--reason", "no"]);
    assert_eq!(r.code, 0, "{}", r.stdout_str());
}

#[test]
fn list_shows_pending_plans_by_default_and_filters_by_status() {
    let t = strict();
    let pending = t.plan("agent", "l1", &[], &["echo", "1"]);
    let approved = t.plan("agent", "l2", &[], &["echo", "2"]);
    t.approve("alice", &approved);
    let readonly = t.plan("agent", "l3", &[], &["ls"]);
    let rejected = t.plan("agent", "l4", &[], &["echo", "4"]);
    t.json("bob", &["reject", id(&rejected), "--reason", "no"]);

    let ids = |args: &[&str]| -> Vec<String> {
        let r = t.json("viewer", args);
        assert_eq!(r.code, 0, "{}", r.stdout_str());
        let mut v: Vec<String> = r.json()["plans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let sorted = |v: &[&Value]| -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|p| id(p).to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&["list"]), sorted(&[&pending]));
    assert_eq!(
        ids(&["list", "--status", "approved"]),
        sorted(&[&approved, &readonly])
    );
    assert_eq!(ids(&["list", "--status", "rejected"]), sorted(&[&rejected]));
    assert_eq!(ids(&["list", "--status", "all"]).len(), 4);
    assert!(ids(&["list", "--status", "applied"]).is_empty());

    let r = t.run("viewer", &["list"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout_str().contains(&id(&pending)[..8]),
        "{}",
        r.stdout_str()
    );
    assert!(
        !r.stdout_str().contains(&id(&approved)[..8]),
        "{}",
        r.stdout_str()
    );
}

/// Like git, an ambiguous prefix names the plans it could mean.
#[test]
fn an_ambiguous_prefix_lists_its_candidates() {
    let t = crate::harness::strict();
    let a = t.plan("agent", "one", &[], &["true"]);
    let b = t.plan("agent", "two", &[], &["true"]);
    let db = t.db();
    for p in [&a, &b] {
        db.execute(
            "UPDATE plans SET id = 'abcd' || substr(id, 5) WHERE id = ?1",
            [p["id"].as_str().unwrap()],
        )
        .unwrap();
    }
    let r = t.json("viewer", &["show", "abcd"]);
    crate::harness::assert_refused(&r, 2, "usage");
    let v = r.json();
    let message = v["error"]["message"].as_str().unwrap();
    let candidates = v["error"]["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2, "{v}");
    for c in candidates {
        assert!(message.contains(c.as_str().unwrap()), "{message}");
    }
}

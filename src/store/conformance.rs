//! What every [`Store`] backend must guarantee, checked through the
//! [`Store`] and [`Tx`] traits alone, so that SQLite and any other backend
//! are held to one contract.
//!
//! A backend's tests call [`run`] with a function that opens a store by
//! name:
//!
//! ```ignore
//! let dir = tempfile::tempdir().unwrap();
//! conformance::run(&mut |name| {
//!     Box::new(SqliteStore::open(&dir.path().join(format!("{name}.db"))).unwrap())
//! });
//! ```
//!
//! Each check gets its own name (the check's: lowercase ASCII letters and
//! `_`, at most [`NAME_MAX`] characters, so a server can use it, prefixed,
//! as a database or schema name). The first open of a name must give a new, empty store;
//! every later open of the same name another handle on that same store, as
//! a second ladder process would have it: the run-lock check needs two.
//!
//! Each check is a function named for the guarantee it holds the backend
//! to. [`run`] runs every check and then fails once, naming each check the
//! backend broke and what it got wrong.

use super::{BudgetScope, EventFilter, Store, Tx};
use crate::binding::{Binding, BoundFile, MISSING};
use crate::error::{Error, Kind, Result};
use crate::ledger::{self, GENESIS};
use crate::model::{
    Approval, Cancellation, DryRun, Event, Execution, Millis, NewEvent, Outcome, Plan, PlanRow,
    Rejection, Resolution, Status, Verdict,
};
use crate::tier::Tier;
use serde_json::json;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

/// Opens a check's store: empty the first time, another handle on the same
/// store each time after.
type Open<'a> = dyn FnMut() -> Box<dyn Store> + 'a;
type Check = fn(&mut Open<'_>);

/// The longest name [`run`] opens: PostgreSQL's identifiers hold 63
/// bytes, which leaves room for a prefix.
pub const NAME_MAX: usize = 56;

macro_rules! checks {
    ($($check:ident),* $(,)?) => { &[$((stringify!($check), $check as Check)),*] };
}

const CHECKS: &[(&str, Check)] = checks![
    a_plan_round_trips_exactly,
    plan_rows_are_the_stored_columns_in_order,
    latest_plan_for_key_is_the_newest_with_that_key,
    plan_ids_with_prefix_honour_prefix_and_limit,
    plans_filter_by_status_newest_last,
    a_failed_write_leaves_nothing_behind,
    a_committed_write_is_seen_whole_by_another_handle,
    a_durable_write_commits_like_a_write,
    the_ledger_chains_every_event_without_gaps,
    events_honour_plan_key_since_and_limit,
    for_each_event_yields_all_in_order_and_stops_on_error,
    last_event_of_is_the_newest_of_its_kind,
    a_fresh_ledger_is_append_only,
    approvals_come_back_with_their_plan_in_order,
    plan_updates_change_what_they_name_and_nothing_else,
    plans_due_to_expire_are_the_live_ones_past_their_window,
    an_execution_is_recorded_finished_and_resolved,
    budget_usage_counts_started_applies_in_scope,
    a_held_run_lock_is_seen_by_another_handle,
    warnings_are_given_once,
    every_execution_comes_back_with_its_tier_and_rule,
    a_copied_event_must_be_the_next_link,
    a_plan_names_the_newest_plan_that_rolls_it_back,
    events_filter_by_the_metadata_of_their_plan,
    a_plan_that_ended_frees_its_key,
];

/// Runs every check, each against its own store from `open` (see the
/// module docs), and panics naming every check the backend failed.
pub fn run(open: &mut dyn FnMut(&str) -> Box<dyn Store>) {
    run_except(open, &[]);
}

/// [`run`] without the checks named in `skip`, for a backend that cannot
/// meet one yet, or cannot be checked for it in one process (say why where
/// you call it).
pub fn run_except(open: &mut dyn FnMut(&str) -> Box<dyn Store>, skip: &[&str]) {
    for name in skip {
        assert!(
            CHECKS.iter().any(|(check, _)| check == name),
            "no conformance check is named {name}"
        );
    }
    for (name, _) in CHECKS {
        assert!(
            name.len() <= NAME_MAX && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "conformance check {name} has a name a backend may not be able to use"
        );
    }
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, check) in CHECKS.iter().filter(|(name, _)| !skip.contains(name)) {
        ran += 1;
        let mut open_this = || open(name);
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| check(&mut open_this))) {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failed.push(format!("- {name}: {why}"));
        }
    }
    assert!(
        failed.is_empty(),
        "the store failed {} of {ran} conformance checks:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

// ---- Plans ----

fn a_plan_round_trips_exactly(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    let full = Plan {
        tier: Tier::Critical,
        rule: Some("prod-deploy".into()),
        approvals_required: 2,
        command: vec![
            "deploy".into(),
            "".into(),
            OsString::from_vec(b"caf\xe9".to_vec()),
            "two words".into(),
        ],
        cwd: PathBuf::from(OsString::from_vec(b"/srv/\xffapp".to_vec())),
        env: BTreeMap::from([
            ("KUBECONFIG".into(), Some("ab12".into())),
            ("LD_PRELOAD".into(), None),
        ]),
        dry_run: Some(DryRun {
            command: vec!["deploy".into(), "--dry-run".into(), "".into()],
            exit_code: 2,
            stdout: b"would change 3\n\xff\x00\n".to_vec(),
            stderr: Vec::new(),
            stdout_sha256: "d1".into(),
            stderr_sha256: "d2".into(),
            stdout_bytes: 1 << 20,
            stderr_bytes: 0,
            truncated: true,
        }),
        dry_run_ok: vec![0, 2],
        reason: Some("roll out 1.2".into()),
        target: Some("prod".into()),
        effect: Some("restarts the pods".into()),
        rollback: Some("deploy 1.1".into()),
        confidence: Some(0.875),
        expires_at: Some(90_000),
        decision: vec!["rule prod-deploy matched".into(), "it takes two".into()],
        retry_allowed: true,
        binding: Some(Binding {
            program: BoundFile {
                path: PathBuf::from(OsString::from_vec(b"/opt/\xfe/deploy".to_vec())),
                id: "1:2:3:4:5".into(),
            },
            files: vec![
                BoundFile {
                    path: "/srv/app/deploy.sh".into(),
                    id: "1:6:7:8:9".into(),
                },
                BoundFile {
                    path: "/srv/app/gone".into(),
                    id: MISSING.into(),
                },
            ],
            cwd_id: "1:10".into(),
        }),
        escalated_from: Some(Verdict {
            tier: Tier::Reversible,
            rule: None,
            approvals_required: 1,
            policy_sha256: "older-policy".into(),
        }),
        meta: BTreeMap::from([
            ("model".into(), "claude".into()),
            ("note".into(), "quotes \" and 'é'".into()),
        ]),
        rollback_of: Some("p-original".into()),
        env_shown: BTreeMap::from([("KUBECONFIG".into(), "/etc/kube/prod".into())]),
        ..plan("p-full", "deploy-prod", Status::Pending)
    };
    let full = insert(s, full);
    assert_eq!(
        get(s, "p-full"),
        full,
        "a plan with every field set came back different from what was stored"
    );

    // What insert_plan ignores (approvals, rejection, execution) and what
    // is never stored (in_force) must not come back.
    let verdict = full.escalated_from.clone();
    let bare = Plan {
        approvals: vec![approval("alice", 1, "x")],
        rejection: Some(Rejection {
            actor: "bob".into(),
            reason: "no".into(),
            at: 2,
            signature: None,
        }),
        execution: Some(execution("p-bare", 1, 3)),
        in_force: verdict,
        cancellation: Some(Cancellation {
            actor: "agent".into(),
            reason: None,
            at: 2,
        }),
        rollback_plan: Some("p-full".into()),
        ..plan("p-bare", "bare", Status::Denied)
    };
    let seq = write(s, |tx| tx.insert_plan(&bare));
    assert_ne!(
        seq, full.seq,
        "two plans got one row number: they would share a run lock"
    );
    let expected = Plan {
        seq,
        approvals: vec![],
        rejection: None,
        execution: None,
        in_force: None,
        signatures_required: false,
        cancellation: None,
        rollback_plan: None,
        ..bare
    };
    assert_eq!(
        get(s, "p-bare"),
        expected,
        "a plan with nothing optional set came back different (or insert_plan stored approvals, a rejection, a cancellation, an execution, in_force or rollback_plan)"
    );
    assert_eq!(
        read(s, |tx| tx.plan("p-none")),
        None,
        "plan() found a plan never stored"
    );
}

fn plan_rows_are_the_stored_columns_in_order(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    let a = insert(s, plan("p1", "k1", Status::Pending));
    let b = insert(
        s,
        Plan {
            tier: Tier::Critical,
            approvals_required: 3,
            command: vec!["rm".into(), "".into(), OsString::from_vec(vec![0xff])],
            ..plan("p2", "k2", Status::Pending)
        },
    );
    write(s, |tx| tx.set_status("p2", Status::Applied, None));
    let mut rows = Vec::new();
    read(s, |tx| {
        rows.clear();
        tx.for_each_plan_row(&mut |row| {
            rows.push(row);
            Ok(())
        })
    });
    let row = |p: &Plan, status: &str| PlanRow {
        id: p.id.clone(),
        hash: p.hash.clone(),
        status: status.into(),
        tier: p.tier.as_str().into(),
        approvals_required: p.approvals_required,
        command: p.command.clone(),
    };
    assert_eq!(
        rows,
        [row(&a, "pending"), row(&b, "applied")],
        "for_each_plan_row must give every plan's checked columns as stored, oldest first"
    );
}

fn latest_plan_for_key_is_the_newest_with_that_key(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    insert(s, plan_at("p1", "k", Status::Expired, 1_000));
    insert(s, plan_at("p2", "k", Status::Rejected, 2_000));
    insert(s, plan_at("p3", "other", Status::Expired, 3_000));
    let newest = insert(s, plan_at("p4", "k", Status::Pending, 4_000));
    insert(s, plan_at("p5", "other", Status::Applied, 5_000));
    assert_eq!(
        read(s, |tx| tx.latest_plan_for_key("k")),
        Some(newest),
        "latest_plan_for_key(k) must be the newest plan with key k, whatever its status"
    );
    assert_eq!(
        read(s, |tx| tx.latest_plan_for_key("other")).map(|p| p.id),
        Some("p5".into())
    );
    assert_eq!(
        read(s, |tx| tx.latest_plan_for_key("nope")),
        None,
        "latest_plan_for_key found a plan for a key nobody planned"
    );
}

fn plan_ids_with_prefix_honour_prefix_and_limit(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    for id in ["aa11", "aa12", "aa21", "ab11", "a_b", "axb", "b"] {
        insert(s, plan(id, id, Status::Pending));
    }
    let mut with = |prefix: &str, limit: usize| {
        let mut ids = read(s, |tx| tx.plan_ids_with_prefix(prefix, limit));
        ids.sort();
        ids
    };
    assert_eq!(with("aa1", 10), ["aa11", "aa12"]);
    assert_eq!(with("ab11", 10), ["ab11"], "an exact id is its own prefix");
    assert_eq!(
        with("a_", 10),
        ["a_b"],
        "`_` in a prefix is a character, not a wildcard"
    );
    assert!(with("zz", 10).is_empty());
    assert_eq!(with("", 10).len(), 7, "the empty prefix matches every id");
    let limited = with("aa", 2);
    assert_eq!(limited.len(), 2, "plan_ids_with_prefix ignored its limit");
    assert!(limited.iter().all(|id| id.starts_with("aa")), "{limited:?}");
}

fn plans_filter_by_status_newest_last(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    let statuses = [
        Status::Pending,
        Status::Applied,
        Status::Pending,
        Status::Rejected,
        Status::Approved,
    ];
    for (i, status) in statuses.into_iter().enumerate() {
        // A key per plan: a store may hold only one plan per key that has
        // not ended (PostgreSQL's enforces it).
        insert(
            s,
            plan(&format!("p{}", i + 1), &format!("k{}", i + 1), status),
        );
    }
    let mut listed = |statuses: &[Status], limit: Option<u64>| -> Vec<String> {
        let plans = read(s, |tx| tx.plans(statuses, limit));
        plans.into_iter().map(|p| p.id).collect()
    };
    use Status::*;
    assert_eq!(listed(&[], None), ["p1", "p2", "p3", "p4", "p5"]);
    assert_eq!(listed(&[Pending], None), ["p1", "p3"]);
    assert_eq!(listed(&[Pending, Approved], None), ["p1", "p3", "p5"]);
    assert_eq!(
        listed(&[Pending, Approved], Some(2)),
        ["p3", "p5"],
        "a limit keeps the newest plans, listed oldest first"
    );
    assert_eq!(listed(&[], Some(2)), ["p4", "p5"]);
    assert!(listed(&[Expired], None).is_empty());
    write(s, |tx| tx.set_status("p2", Expired, None));
    let expired = read(s, |tx| tx.plans(&[Expired], None));
    assert_eq!(
        ids(&expired),
        ["p2"],
        "plans() must filter by the status as it is now"
    );
}

// ---- Transactions ----

fn a_failed_write_leaves_nothing_behind(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    for durable in [false, true] {
        let what = if durable {
            "write_durable_tx"
        } else {
            "write_tx"
        };
        let mut f = |tx: &mut dyn Tx| -> Result<()> {
            tx.insert_plan(&plan("p1", "k", Status::Pending))?;
            tx.append_event(&event(1, "planned", Some("p1"), Some("k")))?;
            Err(Error::new(Kind::Stale, "the closure refused"))
        };
        let result = if durable {
            s.write_durable_tx(&mut f)
        } else {
            s.write_tx(&mut f)
        };
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{what} reported success for a closure that failed"));
        assert_eq!(
            (err.kind, err.message.as_str()),
            (Kind::Stale, "the closure refused"),
            "{what} must hand back the closure's error as it is"
        );
        assert_eq!(
            read(s, |tx| tx.plan("p1")),
            None,
            "{what} kept a plan written by a closure that failed"
        );
        assert!(
            all_events(s).is_empty(),
            "{what} kept an event appended by a closure that failed"
        );
    }
    // The chain goes on from what was committed: no seq was used up.
    let first = write(s, |tx| tx.append_event(&event(2, "planned", None, None)));
    assert_eq!(
        (first.seq, first.prev_hash.as_str()),
        (1, GENESIS),
        "the first committed event must be seq 1 after GENESIS, whatever rolled back before it"
    );
    // And the id the failed write used is free.
    insert(s, plan("p1", "k", Status::Pending));
}

fn a_committed_write_is_seen_whole_by_another_handle(open: &mut Open) {
    let mut writer = open();
    let mut reader = open();
    assert!(all_events(&mut *reader).is_empty());
    let planned = write(&mut *writer, |tx| {
        let mut p = plan("p1", "k", Status::Pending);
        p.seq = tx.insert_plan(&p)?;
        let e = tx.append_event(&event(1, "planned", Some("p1"), Some("k")))?;
        Ok((p, e))
    });
    assert_eq!(
        read(&mut *writer, |tx| tx.plan("p1")).as_ref(),
        Some(&planned.0),
        "read_tx did not see the plan its own store just committed"
    );
    assert_eq!(
        read(&mut *reader, |tx| tx.plan("p1")),
        Some(planned.0),
        "another handle did not see a committed plan"
    );
    assert_eq!(
        all_events(&mut *reader),
        [planned.1],
        "another handle did not see the event committed with the plan"
    );
}

fn a_durable_write_commits_like_a_write(open: &mut Open) {
    let mut writer = open();
    let mut reader = open();
    let committed = super::write_durable(&mut *writer, |tx| {
        let mut p = plan("p1", "k", Status::Running);
        p.seq = tx.insert_plan(&p)?;
        tx.insert_execution(&execution("p1", 1, 10), p.tier, None)?;
        let e = tx.append_event(&event(10, "apply_started", Some("p1"), Some("k")))?;
        Ok((p, e))
    })
    .unwrap_or_else(|e| panic!("write_durable_tx failed: {e}"));
    let (stored, started) = committed;
    let seen = read(&mut *reader, |tx| tx.plan("p1"));
    assert_eq!(
        seen,
        Some(Plan {
            execution: Some(execution("p1", 1, 10)),
            ..stored
        }),
        "another handle did not see what write_durable_tx committed"
    );
    assert_eq!(all_events(&mut *reader), [started]);
}

// ---- The ledger ----

fn the_ledger_chains_every_event_without_gaps(open: &mut Open) {
    let mut store = open();
    let mut other = open();
    // Keys out of order, nesting, escapes and non-ASCII: the stored detail
    // must be the exact text that was hashed.
    let detail = json!({"z": 1, "a": {"y": [1, "two", null], "b": "é\n\"q\""}});
    let mut appended = write(&mut *store, |tx| {
        let mut out = Vec::new();
        for (at, kind) in [(10, "planned"), (20, "approved"), (30, "applied")] {
            out.push(tx.append_event(&NewEvent {
                detail: detail.clone(),
                ..event(at, kind, Some("p1"), Some("k"))
            })?);
        }
        Ok(out)
    });
    // A later transaction, through another handle, continues the chain.
    appended.push(write(&mut *other, |tx| {
        tx.append_event(&event(40, "verified", None, None))
    }));
    let seqs: Vec<i64> = appended.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        [1, 2, 3, 4],
        "append_event must number events 1, 2, 3... with no gaps"
    );
    assert_eq!(
        appended[0].prev_hash, GENESIS,
        "the first event must follow GENESIS"
    );
    for pair in appended.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "event {} does not point at event {}",
            pair[1].seq, pair[0].seq
        );
    }
    assert_eq!(
        appended[0].detail, r#"{"a":{"b":"é\n\"q\"","y":[1,"two",null]},"z":1}"#,
        "an event's detail must be compact JSON with sorted keys"
    );
    let stored = all_events(&mut *store);
    assert_eq!(
        stored, appended,
        "events() must give back the events exactly as append_event returned them"
    );
    if let Err((i, why)) = ledger::verify(&stored) {
        panic!("the stored chain does not verify at event {}: {why}", i + 1);
    }
}

fn events_honour_plan_key_since_and_limit(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    write(s, |tx| {
        tx.append_event(&event(100, "planned", Some("p1"), Some("k")))?;
        tx.append_event(&event(200, "planned", Some("p2"), Some("k")))?;
        tx.append_event(&event(300, "approved", Some("p1"), Some("k")))?;
        tx.append_event(&event(400, "denied", None, None))?;
        tx.append_event(&event(500, "applied", Some("p1"), Some("k")))?;
        tx.append_event(&event(600, "planned", Some("p3"), Some("other")))?;
        Ok(())
    });
    let filter = |plan: Option<&str>, key: Option<&str>, since, limit| EventFilter {
        plan: plan.map(Into::into),
        key: key.map(Into::into),
        since,
        limit,
        meta: vec![],
    };
    let cases: [(EventFilter, &[i64], &str); 9] = [
        (
            EventFilter::default(),
            &[1, 2, 3, 4, 5, 6],
            "no filter: all",
        ),
        (filter(Some("p1"), None, None, None), &[1, 3, 5], "plan"),
        (filter(None, Some("k"), None, None), &[1, 2, 3, 5], "key"),
        (
            filter(None, None, Some(300), None),
            &[3, 4, 5, 6],
            "since (inclusive)",
        ),
        (
            filter(None, None, None, Some(2)),
            &[5, 6],
            "limit: the newest, oldest first",
        ),
        (
            filter(None, None, None, Some(10)),
            &[1, 2, 3, 4, 5, 6],
            "a limit above the count",
        ),
        (
            filter(Some("p2"), Some("k"), None, None),
            &[2],
            "plan and key",
        ),
        (
            filter(Some("p1"), None, Some(200), Some(1)),
            &[5],
            "plan, since and limit",
        ),
        (
            filter(Some("p9"), None, None, None),
            &[],
            "a plan without events",
        ),
    ];
    for (f, want, what) in cases {
        let got: Vec<i64> = read(s, |tx| tx.events(&f)).iter().map(|e| e.seq).collect();
        assert_eq!(got, want, "events() filtered by {what} ({f:?})");
    }
}

fn for_each_event_yields_all_in_order_and_stops_on_error(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    write(s, |tx| {
        for at in 1..=5 {
            tx.append_event(&event(at, "planned", None, None))?;
        }
        Ok(())
    });
    let mut seen = Vec::new();
    read(s, |tx| {
        seen.clear();
        tx.for_each_event(&mut |e| {
            seen.push(e);
            Ok(())
        })
    });
    assert_eq!(
        seen,
        all_events(s),
        "for_each_event must yield every event, oldest first"
    );

    let mut calls = 0;
    let stopped = s.read_tx(&mut |tx| {
        calls = 0;
        tx.for_each_event(&mut |_| {
            calls += 1;
            match calls {
                2 => Err(Error::new(Kind::Tampered, "stop here")),
                _ => Ok(()),
            }
        })
    });
    let err = stopped.expect_err("for_each_event swallowed its callback's error");
    assert_eq!(
        err.message, "stop here",
        "for_each_event changed its callback's error"
    );
    assert_eq!(calls, 2, "for_each_event went on after its callback failed");
}

fn last_event_of_is_the_newest_of_its_kind(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    let events = write(s, |tx| {
        let mut out = Vec::new();
        for (at, kind, plan) in [
            (1, "planned", "p1"),
            (2, "approved", "p1"),
            (3, "approved", "p2"),
            (4, "approved", "p1"),
            (5, "planned", "p2"),
        ] {
            out.push(tx.append_event(&event(at, kind, Some(plan), None))?);
        }
        Ok(out)
    });
    let mut last = |id: &str, kind: &str| read(s, |tx| tx.last_event_of(id, kind));
    assert_eq!(
        last("p1", "approved").as_ref(),
        Some(&events[3]),
        "last_event_of(p1, approved) must be p1's newest approval"
    );
    assert_eq!(last("p2", "planned").as_ref(), Some(&events[4]));
    assert_eq!(last("p1", "applied"), None);
    assert_eq!(last("p9", "planned"), None);
}

fn a_fresh_ledger_is_append_only(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    assert_eq!(
        read(s, |tx| tx.ledger_is_append_only()),
        Ok(()),
        "a fresh store's ledger must refuse updates and deletes"
    );
    write(s, |tx| tx.append_event(&event(1, "planned", None, None)));
    assert_eq!(
        read(s, |tx| tx.ledger_is_append_only()),
        Ok(()),
        "appending an event must leave the ledger append-only"
    );
}

// ---- Approvals and other changes to a plan ----

fn approvals_come_back_with_their_plan_in_order(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    insert(s, plan("p1", "k1", Status::Pending));
    insert(s, plan("p2", "k2", Status::Pending));
    let signed = Approval {
        comment: Some("looks right".into()),
        signature: Some(crate::model::Signature {
            armored: "-----BEGIN SSH SIGNATURE-----".into(),
            policy_sha256: "policy-digest".into(),
        }),
        ..approval("zoe", 10, "hash-of-p1")
    };
    let alice = approval("alice", 30, "hash-of-p1");
    // Bob approved an earlier hash of p1: kept, if no longer counted.
    let bob = approval("bob", 20, "an-earlier-hash");
    let dave = approval("dave", 15, "hash-of-p2");
    write(s, |tx| {
        tx.insert_approval("p1", &alice)?;
        tx.insert_approval("p1", &signed)?;
        tx.insert_approval("p2", &dave)?;
        tx.insert_approval("p1", &bob)
    });
    let want = [signed, bob, alice];
    assert_eq!(
        get(s, "p1").approvals,
        want,
        "plan() must carry each of its approvals, as given, oldest first"
    );
    assert_eq!(get(s, "p2").approvals, [dave]);
    let listed = read(s, |tx| tx.plans(&[], None));
    assert_eq!(
        listed[0].approvals, want,
        "plans() must carry approvals as plan() does"
    );
    let latest = read(s, |tx| tx.latest_plan_for_key("k1"));
    assert_eq!(
        latest.map(|p| p.approvals),
        Some(want.to_vec()),
        "latest_plan_for_key must carry approvals as plan() does"
    );
}

fn plan_updates_change_what_they_name_and_nothing_else(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    let bystander = insert(s, plan("p0", "k0", Status::Pending));
    let mut want = insert(s, plan("p1", "k1", Status::Pending));

    write(s, |tx| tx.set_status("p1", Status::Approved, Some(5_000)));
    want.status = Status::Approved;
    want.expires_at = Some(5_000);
    assert_eq!(
        get(s, "p1"),
        want,
        "after set_status(approved, expires 5000)"
    );

    let from = Verdict {
        tier: want.tier,
        rule: want.rule.clone(),
        approvals_required: want.approvals_required,
        policy_sha256: want.policy_sha256.clone(),
    };
    let to = Verdict {
        tier: Tier::Critical,
        rule: Some("stricter".into()),
        approvals_required: 2,
        policy_sha256: "newer-policy".into(),
    };
    let why = vec!["rule stricter now matches".to_string()];
    write(s, |tx| tx.escalate("p1", &to, &from, &why));
    want.tier = to.tier;
    want.rule = to.rule.clone();
    want.approvals_required = to.approvals_required;
    want.policy_sha256 = to.policy_sha256.clone();
    want.escalated_from = Some(from);
    want.decision = why;
    assert_eq!(get(s, "p1"), want, "after escalate");

    write(s, |tx| tx.set_retry_allowed("p1", true));
    want.retry_allowed = true;
    assert_eq!(get(s, "p1"), want, "after set_retry_allowed(true)");
    write(s, |tx| tx.set_retry_allowed("p1", false));
    want.retry_allowed = false;
    assert_eq!(get(s, "p1"), want, "after set_retry_allowed(false)");

    let rejection = Rejection {
        actor: "bob".into(),
        reason: "not on a Friday".into(),
        at: 6_000,
        signature: None,
    };
    write(s, |tx| {
        tx.set_rejection("p1", &rejection)?;
        tx.set_status("p1", Status::Rejected, None)
    });
    want.rejection = Some(rejection);
    want.status = Status::Rejected;
    want.expires_at = None;
    assert_eq!(
        get(s, "p1"),
        want,
        "after set_rejection and set_status(rejected, None)"
    );
    let cancellation = Cancellation {
        actor: "agent".into(),
        reason: Some("withdrawn".into()),
        at: 7_000,
    };
    write(s, |tx| {
        tx.set_cancellation("p1", &cancellation)?;
        tx.set_status("p1", Status::Cancelled, None)
    });
    want.cancellation = Some(cancellation);
    want.status = Status::Cancelled;
    assert_eq!(
        get(s, "p1"),
        want,
        "after set_cancellation and set_status(cancelled, None)"
    );

    assert_eq!(get(s, "p0"), bystander, "changing p1 changed another plan");
}

fn plans_due_to_expire_are_the_live_ones_past_their_window(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    let now: Millis = 10_000;
    use Status::*;
    let cases = [
        ("pending-past", Pending, Some(now - 1), true),
        ("approved-at-now", Approved, Some(now), true),
        ("pending-later", Pending, Some(now + 1), false),
        ("approved-later", Approved, Some(now + 1), false),
        ("pending-no-window", Pending, None, false),
        ("running-past", Running, Some(1), false),
        ("applied-past", Applied, Some(1), false),
        ("expired-past", Expired, Some(1), false),
        ("rejected-past", Rejected, Some(1), false),
        ("denied-past", Denied, Some(1), false),
        ("cancelled-past", Cancelled, Some(1), false),
        ("interrupted-past", Interrupted, Some(1), false),
        ("approved-long-past", Approved, Some(1), true),
    ];
    let mut want = Vec::new();
    for (id, status, expires_at, due) in cases {
        let p = insert(
            s,
            Plan {
                expires_at,
                ..plan(id, id, status)
            },
        );
        if due {
            want.push(p);
        }
    }
    let due = read(s, |tx| tx.plans_due_to_expire(now));
    assert_eq!(
        ids(&due),
        ids(&want),
        "plans_due_to_expire({now}) must be the pending and approved plans whose window ended at or before {now}, oldest first"
    );
    assert_eq!(due, want, "plans_due_to_expire must give whole plans");
}

// ---- Executions and budgets ----

fn an_execution_is_recorded_finished_and_resolved(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    insert(s, plan("p1", "k1", Status::Approved));
    insert(s, plan("p2", "k2", Status::Approved));
    let count = |s: &mut dyn Store, id: &str| read(s, |tx| tx.execution_count(id));
    assert_eq!(count(s, "p1"), 0);

    // Attempt 1 starts, and its ladder dies before recording the end.
    let first = execution("p1", 1, 2_000);
    write(s, |tx| tx.insert_execution(&first, Tier::Reversible, None));
    assert_eq!(
        count(s, "p1"),
        1,
        "execution_count after one insert_execution"
    );
    assert_eq!(count(s, "p2"), 0, "p1's execution was counted for p2");
    assert_eq!(
        get(s, "p1").execution.as_ref(),
        Some(&first),
        "a started execution"
    );
    assert_eq!(
        get(s, "p2").execution,
        None,
        "p1's execution showed up on p2"
    );

    let retry = Resolution {
        actor: "carol".into(),
        outcome: Outcome::Retry,
        reason: "it never reached the API".into(),
        at: 2_500,
        signature: None,
    };
    write(s, |tx| tx.resolve_execution("p1", 1, &retry, None));
    assert_eq!(
        get(s, "p1").execution,
        Some(Execution {
            resolution: Some(retry.clone()),
            ..first.clone()
        }),
        "resolve_execution(retry) must record the resolution and leave the exit code unknown"
    );

    // Attempt 2 runs to the end: the plan now shows it, the latest.
    let second = execution("p1", 2, 3_000);
    write(s, |tx| tx.insert_execution(&second, Tier::Reversible, None));
    assert_eq!(count(s, "p1"), 2);
    assert_eq!(
        get(s, "p1").execution.as_ref(),
        Some(&second),
        "a plan's execution must be its latest attempt"
    );
    let finished = Execution {
        pid: Some(4243),
        finished_at: Some(3_900),
        exit_code: None,
        signal: Some(9),
        timed_out: true,
        stdout: b"half a line \xff".to_vec(),
        stderr: b"killed\n".to_vec(),
        stdout_bytes: 5 << 20,
        stderr_bytes: 7,
        stdout_sha256: Some("o".into()),
        stderr_sha256: Some("e".into()),
        truncated: true,
        ..second
    };
    write(s, |tx| tx.finish_execution(&finished));
    assert_eq!(
        get(s, "p1").execution,
        Some(finished),
        "finish_execution must record the whole outcome"
    );

    // An interrupted run settled as failed takes the exit code given.
    write(s, |tx| {
        tx.insert_execution(&execution("p2", 1, 4_000), Tier::Critical, None)
    });
    let failed = Resolution {
        outcome: Outcome::Failed,
        ..retry
    };
    write(s, |tx| tx.resolve_execution("p2", 1, &failed, Some(1)));
    assert_eq!(
        get(s, "p2").execution,
        Some(Execution {
            exit_code: Some(1),
            resolution: Some(failed.clone()),
            ..execution("p2", 1, 4_000)
        }),
        "resolve_execution(failed, exit 1) on a run with no exit code"
    );
}

fn budget_usage_counts_started_applies_in_scope(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    use Tier::*;
    let applies = [
        ("b1", Irreversible, Some("db"), "alice", 1_000),
        ("b2", Irreversible, Some("db"), "alice", 1_001),
        ("b3", Critical, Some("k8s"), "bob", 1_500),
        ("b4", Reversible, None, "alice", 1_200),
        ("b5", Irreversible, Some("db"), "bob", 2_000),
        ("b6", Critical, None, "alice", 900),
    ];
    for (id, tier, rule, actor, started_at) in applies {
        insert(s, plan(id, id, Status::Applied));
        let exec = Execution {
            actor: actor.into(),
            ..execution(id, 1, started_at)
        };
        write(s, |tx| tx.insert_execution(&exec, tier, rule));
    }
    // A finished apply still counts: it started.
    let done = Execution {
        actor: "bob".into(),
        finished_at: Some(2_100),
        exit_code: Some(0),
        ..execution("b5", 1, 2_000)
    };
    write(s, |tx| tx.finish_execution(&done));

    let mut usage = |tiers: &[Tier], rule: Option<&str>, actor: Option<&str>, since| {
        let scope = BudgetScope {
            tiers,
            rule,
            actor,
            since,
        };
        read(s, |tx| tx.budget_usage(&scope))
    };
    let serious = [Irreversible, Critical];
    assert_eq!(
        usage(&serious, None, None, 1_000),
        (3, Some(1_001)),
        "applies of these tiers started after `since` (one started exactly at `since`: outside, \
         as the budget frees up at start + window), with the earliest start"
    );
    assert_eq!(
        usage(&serious, Some("db"), None, 1_000),
        (2, Some(1_001)),
        "scoped to a rule"
    );
    assert_eq!(
        usage(&serious, None, Some("bob"), 1_000),
        (2, Some(1_500)),
        "scoped to an actor"
    );
    assert_eq!(
        usage(&serious, Some("db"), Some("bob"), 1_000),
        (1, Some(2_000))
    );
    assert_eq!(
        usage(&[Reversible], None, None, 0),
        (1, Some(1_200)),
        "scoped to a tier"
    );
    assert_eq!(
        usage(&serious, None, None, 2_000),
        (0, None),
        "no apply in the window: nothing used, no earliest start"
    );
}

// ---- Run liveness and warnings ----

fn a_held_run_lock_is_seen_by_another_handle(open: &mut Open) {
    let mut mine = open();
    let mut theirs = open();
    let p1 = insert(&mut *mine, plan("p1", "k1", Status::Running));
    let p2 = insert(&mut *mine, plan("p2", "k2", Status::Running));
    let live = |store: &mut dyn Store, p: &Plan| read(store, |tx| tx.run_is_live(p));
    let lock = |store: &mut dyn Store, p: &Plan| {
        store
            .try_lock_run(p)
            .unwrap_or_else(|e| panic!("try_lock_run failed: {e}"))
    };
    assert!(!live(&mut *theirs, &p1), "a plan nobody runs is live");

    let held = lock(&mut *mine, &p1).expect("the run lock of a plan nobody runs was taken");
    assert!(
        lock(&mut *theirs, &p1).is_none(),
        "another handle took a run lock that is held: two applies could run one plan"
    );
    assert!(
        live(&mut *theirs, &p1),
        "another handle sees a plan whose run lock is held as not live (interrupted)"
    );
    assert!(
        !live(&mut *theirs, &p2),
        "holding p1's run lock made p2 live"
    );
    let other = lock(&mut *theirs, &p2).expect("holding p1's run lock took p2's");

    drop(held);
    assert!(
        !live(&mut *theirs, &p1),
        "a plan is still live after its run lock's guard was dropped"
    );
    let again = lock(&mut *theirs, &p1).expect("a dropped run lock could not be taken again");
    assert!(
        live(&mut *mine, &p1),
        "the first handle does not see the lock the other took"
    );
    drop((again, other));
}

fn a_plan_names_the_newest_plan_that_rolls_it_back(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    insert(s, plan("p-orig", "deploy", Status::Applied));
    assert_eq!(get(s, "p-orig").rollback_plan, None, "before any rollback");
    for (id, status) in [
        ("p-undo-1", Status::Cancelled),
        ("p-undo-2", Status::Pending),
    ] {
        insert(
            s,
            Plan {
                rollback_of: Some("p-orig".into()),
                ..plan(id, "rollback:p-orig", status)
            },
        );
    }
    insert(s, plan("p-other", "other", Status::Pending));
    assert_eq!(
        get(s, "p-orig").rollback_plan.as_deref(),
        Some("p-undo-2"),
        "plan() must name the newest plan whose rollback_of is this plan"
    );
    let listed = read(s, |tx| tx.plans(&[], None));
    let orig = listed.iter().find(|p| p.id == "p-orig").unwrap();
    assert_eq!(
        orig.rollback_plan.as_deref(),
        Some("p-undo-2"),
        "plans() too"
    );
    assert_eq!(get(s, "p-other").rollback_plan, None);
}

fn events_filter_by_the_metadata_of_their_plan(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    // The rows say otherwise: the filter reads what the ledger recorded.
    for id in ["p1", "p2", "p3"] {
        let forged = BTreeMap::from([("run".to_string(), "forged".to_string())]);
        insert(
            s,
            Plan {
                meta: forged,
                ..plan(id, id, Status::Pending)
            },
        );
    }
    write(s, |tx| {
        let planned = |at: Millis, p: &str, meta: serde_json::Value| NewEvent {
            detail: json!({ "hash": "h", "meta": meta }),
            ..event(at, "planned", Some(p), Some(p))
        };
        tx.append_event(&planned(1, "p1", json!({"run": "1", "model": "a"})))?;
        tx.append_event(&planned(2, "p2", json!({"run": "2", "model": "a"})))?;
        tx.append_event(&event(3, "planned", Some("p3"), Some("p3")))?;
        tx.append_event(&event(4, "approved", Some("p1"), Some("p1")))?;
        tx.append_event(&event(5, "denied", None, None))?;
        Ok(())
    });
    let mut by = |pairs: &[(&str, &str)]| -> Vec<i64> {
        let f = EventFilter {
            meta: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..EventFilter::default()
        };
        read(s, |tx| tx.events(&f)).iter().map(|e| e.seq).collect()
    };
    assert_eq!(by(&[("run", "1")]), [1, 4], "one pair");
    assert_eq!(by(&[("model", "a")]), [1, 2, 4], "a pair two plans share");
    assert_eq!(
        by(&[("model", "a"), ("run", "2")]),
        [2],
        "every pair must match"
    );
    assert_eq!(
        by(&[("model", "b")]),
        Vec::<i64>::new(),
        "a value no plan has"
    );
    assert_eq!(by(&[]), [1, 2, 3, 4, 5], "no pairs: no filter");
}

fn a_plan_that_ended_frees_its_key(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    for (n, ended) in [
        Status::Rejected,
        Status::Expired,
        Status::Denied,
        Status::Cancelled,
    ]
    .into_iter()
    .enumerate()
    {
        insert(s, plan(&format!("p{n}"), "shared", ended));
    }
    insert(s, plan("p-live", "shared", Status::Pending));
    assert_eq!(
        read(s, |tx| tx.latest_plan_for_key("shared")).map(|p| p.id),
        Some("p-live".to_string()),
        "a new plan for a key whose plans all ended must be stored"
    );
}

fn warnings_are_given_once(open: &mut Open) {
    let mut store = open();
    let _first = store.take_warnings();
    assert_eq!(
        store.take_warnings(),
        Vec::<String>::new(),
        "take_warnings gave the same warnings twice"
    );
}

// ---- Helpers ----

/// A plan with the fields every check needs and nothing optional.
fn plan(id: &str, key: &str, status: Status) -> Plan {
    Plan {
        seq: 0,
        id: id.into(),
        key: key.into(),
        hash: format!("hash-of-{id}"),
        status,
        tier: Tier::Reversible,
        rule: None,
        approvals_required: 1,
        approvals: Vec::new(),
        command: vec!["true".into()],
        cwd: "/srv".into(),
        env: BTreeMap::new(),
        env_shown: BTreeMap::new(),
        dry_run: None,
        dry_run_ok: Vec::new(),
        reason: None,
        target: None,
        effect: None,
        rollback: None,
        confidence: None,
        actor: "agent".into(),
        created_at: 1_000,
        expires_at: None,
        rejection: None,
        cancellation: None,
        execution: None,
        meta: BTreeMap::new(),
        rollback_of: None,
        rollback_plan: None,
        policy_sha256: "policy".into(),
        decision: Vec::new(),
        retry_allowed: false,
        binding: None,
        escalated_from: None,
        in_force: None,
        signatures_required: false,
    }
}

fn plan_at(id: &str, key: &str, status: Status, created_at: Millis) -> Plan {
    Plan {
        created_at,
        ..plan(id, key, status)
    }
}

fn approval(actor: &str, at: Millis, hash: &str) -> Approval {
    Approval {
        actor: actor.into(),
        at,
        comment: None,
        hash: hash.into(),
        signature: None,
        check: Default::default(),
    }
}

// ---- What `state copy` reads and writes ----

fn every_execution_comes_back_with_its_tier_and_rule(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    insert(s, plan("p1", "k1", Status::Approved));
    insert(s, plan("p2", "k2", Status::Approved));
    let runs = [
        (execution("p1", 1, 1_000), Tier::Critical, Some("prod")),
        (execution("p2", 1, 2_000), Tier::Reversible, None),
        (execution("p1", 2, 3_000), Tier::Critical, Some("prod")),
    ];
    for (e, tier, rule) in &runs {
        write(s, |tx| tx.insert_execution(e, *tier, *rule));
    }
    let mut seen = Vec::new();
    write(s, |tx| {
        tx.for_each_execution(&mut |e, tier, rule| {
            seen.push((e, tier, rule));
            Ok(())
        })
    });
    let want: Vec<_> = runs
        .iter()
        .map(|(e, tier, rule)| (e.clone(), *tier, rule.map(String::from)))
        .collect();
    assert_eq!(seen, want, "every attempt, in the order they started");
}

fn a_copied_event_must_be_the_next_link(open: &mut Open) {
    let mut store = open();
    let s = &mut *store;
    let first = write(s, |tx| {
        tx.append_event(&event(1_000, "planned", Some("p"), Some("k")))
    });
    // The next link of this chain, made elsewhere: copied as it is.
    let mut next = Event {
        seq: 2,
        at: 2_000,
        kind: "approved".into(),
        plan: Some("p".into()),
        key: Some("k".into()),
        actor: "alice".into(),
        detail: "{}".into(),
        prev_hash: first.hash.clone(),
        hash: String::new(),
    };
    next.hash = ledger::event_hash(&ledger::EventFields {
        seq: next.seq,
        at: next.at,
        kind: &next.kind,
        plan: next.plan.as_deref(),
        key: next.key.as_deref(),
        actor: &next.actor,
        detail: &next.detail,
        prev_hash: &next.prev_hash,
    });
    // Not the next link: refused, nothing written.
    let gap = Event {
        seq: 3,
        ..next.clone()
    };
    let wrong_prev = Event {
        prev_hash: GENESIS.into(),
        ..next.clone()
    };
    for bad in [gap, wrong_prev] {
        assert!(
            super::write(s, |tx| tx.copy_event(&bad)).is_err(),
            "copy_event took event {} that does not follow the head",
            bad.seq
        );
    }
    write(s, |tx| tx.copy_event(&next));
    // The chain goes on from the copy.
    let third = write(s, |tx| {
        tx.append_event(&event(3_000, "started", Some("p"), Some("k")))
    });
    assert_eq!(
        (third.seq, third.prev_hash.as_str()),
        (3, next.hash.as_str())
    );
    let all = read(s, |tx| tx.events(&EventFilter::default()));
    assert_eq!(all.len(), 3);
    assert_eq!(all[1], next);
    assert!(ledger::verify(&all).is_ok(), "the chain breaks at the copy");
}

/// An attempt as `insert_execution` records it: started, nothing more.
fn execution(plan: &str, attempt: u32, started_at: Millis) -> Execution {
    Execution {
        plan: plan.into(),
        key: format!("key-of-{plan}"),
        attempt,
        actor: "agent".into(),
        pid: Some(4242),
        started_at,
        finished_at: None,
        exit_code: None,
        signal: None,
        timed_out: false,
        stdout: Vec::new(),
        stderr: Vec::new(),
        stdout_bytes: 0,
        stderr_bytes: 0,
        stdout_sha256: None,
        stderr_sha256: None,
        truncated: false,
        resolution: None,
    }
}

fn event(at: Millis, kind: &'static str, plan: Option<&str>, key: Option<&str>) -> NewEvent {
    NewEvent {
        at,
        kind,
        plan: plan.map(Into::into),
        key: key.map(Into::into),
        actor: "agent".into(),
        detail: json!({ "at": at }),
    }
}

/// Stores `plan`; returns it as the store must give it back, with the row
/// number the store gave it.
fn insert(store: &mut dyn Store, mut plan: Plan) -> Plan {
    plan.seq = write(store, |tx| tx.insert_plan(&plan));
    plan
}

fn get(store: &mut dyn Store, id: &str) -> Plan {
    read(store, |tx| tx.plan(id))
        .unwrap_or_else(|| panic!("plan {id} was stored, but plan({id:?}) finds nothing"))
}

fn ids(plans: &[Plan]) -> Vec<&str> {
    plans.iter().map(|p| p.id.as_str()).collect()
}

fn all_events(store: &mut dyn Store) -> Vec<Event> {
    read(store, |tx| tx.events(&EventFilter::default()))
}

fn write<T>(store: &mut dyn Store, f: impl FnMut(&mut dyn Tx) -> Result<T>) -> T {
    super::write(store, f).unwrap_or_else(|e| panic!("a write transaction failed: {e}"))
}

fn read<T>(store: &mut dyn Store, f: impl FnMut(&mut dyn Tx) -> Result<T>) -> T {
    super::read(store, f).unwrap_or_else(|e| panic!("a read transaction failed: {e}"))
}

//! `log --verify`'s cross-check of the plans table against the ledger (pure).
//!
//! The hash chain shows that no event was edited, but ladder updates plan rows
//! in place, and a row is what `apply` trusts: its hash, its command, its
//! status. Whoever can write the state file could rewrite a reviewed plan's
//! command, or mark a pending plan `approved`, without touching an event.
//! So every row must agree with what the ledger says happened to it:
//!
//! - its hash, command, tier and required approvals are those of its
//!   `planned` event, or of the last `escalated` event after it (a stricter
//!   policy in force raised them; a row with no `planned` event fails);
//! - a plan that is `approved`, `running`, `interrupted` or `applied` reached
//!   approval of that hash in the ledger: its `planned` event says
//!   `"status": "approved"` (no approval needed), or an `approved` event of
//!   that hash says `"quorum": true`;
//! - every `started` event carries the planned hash and comes after that
//!   approval, and every start after the first after a `resolved` event with
//!   outcome `retry`; a row's status agrees with the number of starts.
//!
//! # Memory
//!
//! Events are fed one at a time ([`Audit::event`]); what is kept is a small
//! [`Trail`] per plan (its hash, a digest of its command, a few counters),
//! never the events themselves, so a ledger of millions of events costs a
//! few hundred bytes per plan.

use crate::model::{Event, PlanRow, short};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// Where a plan row and its ledger disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The plan it is about.
    pub plan: String,
    /// The event where it shows, when it shows at one.
    pub seq: Option<i64>,
    pub what: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plan {} disagrees with the ledger", short(&self.plan))?;
        if let Some(seq) = self.seq {
            write!(f, " at event {seq}")?;
        }
        write!(f, ": {}", self.what)
    }
}

/// What the ledger said about one plan.
#[derive(Debug)]
struct Trail {
    /// The `planned` event's sequence number.
    planned_at: i64,
    hash: String,
    /// sha256 of the command as the `planned` event renders it.
    command: [u8; 32],
    tier: String,
    approvals_required: u64,
    /// Approved at plan time, or a quorum approved the planned hash.
    approved: bool,
    starts: u32,
    /// `resolve --outcome retry` after a start, each allowing one more.
    retries: u32,
    /// A plan row was checked against this trail.
    row_seen: bool,
}

/// The cross-check, fed every event in order, then every plan row.
#[derive(Debug, Default)]
pub struct Audit {
    trails: HashMap<String, Trail>,
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl Audit {
    /// Takes the next event of the ledger (in order).
    pub fn event(&mut self, e: &Event) -> Result<(), Disagreement> {
        let Some(plan) = &e.plan else { return Ok(()) };
        if !matches!(
            e.kind.as_str(),
            "planned" | "approved" | "started" | "resolved" | "escalated"
        ) {
            return Ok(());
        }
        let fail = |what: String| Disagreement {
            plan: plan.clone(),
            seq: Some(e.seq),
            what,
        };
        let detail: serde_json::Value = serde_json::from_str(&e.detail)
            .map_err(|_| fail(format!("its {} event's detail is not JSON", e.kind)))?;
        let text = |name: &str| detail.get(name).and_then(|v| v.as_str());
        if e.kind == "planned" {
            if let Some(first) = self.trails.get(plan) {
                return Err(fail(format!(
                    "planned a second time (first at event {})",
                    first.planned_at
                )));
            }
            let (Some(hash), Some(command), Some(tier)) =
                (text("hash"), text("command"), text("tier"))
            else {
                return Err(fail("its planned event lacks hash, command or tier".into()));
            };
            self.trails.insert(
                plan.clone(),
                Trail {
                    planned_at: e.seq,
                    hash: hash.to_string(),
                    command: digest(command),
                    tier: tier.to_string(),
                    approvals_required: detail["approvals_required"].as_u64().unwrap_or(0),
                    approved: text("status") == Some("approved"),
                    starts: 0,
                    retries: 0,
                    row_seen: false,
                },
            );
            return Ok(());
        }
        let Some(trail) = self.trails.get_mut(plan) else {
            return Err(fail(format!("{} before any planned event", e.kind)));
        };
        match e.kind.as_str() {
            "approved" => {
                if text("hash") == Some(trail.hash.as_str())
                    && detail.get("quorum").and_then(|q| q.as_bool()) == Some(true)
                {
                    trail.approved = true;
                }
            }
            "resolved" => {
                if text("outcome") == Some("retry") && trail.starts > trail.retries {
                    trail.retries += 1;
                }
            }
            "escalated" => {
                // A stricter verdict: the row takes its tier and approvals,
                // and an approval given before counts only if the plan
                // stayed approved under it.
                let to = &detail["to"];
                let Some(tier) = to.get("tier").and_then(|t| t.as_str()) else {
                    return Err(fail("its escalated event lacks the verdict".into()));
                };
                trail.tier = tier.to_string();
                trail.approvals_required = to["approvals_required"].as_u64().unwrap_or(0);
                trail.approved = trail.approved && text("status") == Some("approved");
            }
            _ => {
                let hash = text("hash").unwrap_or("");
                if hash != trail.hash {
                    return Err(fail(format!(
                        "started with hash {hash}, but its planned event (event {}) has {}",
                        trail.planned_at, trail.hash
                    )));
                }
                if !trail.approved {
                    return Err(fail(
                        "started before the ledger shows an approval of its hash".into(),
                    ));
                }
                if trail.starts > trail.retries {
                    return Err(fail(
                        "started again without a `resolve --outcome retry` since its last run"
                            .into(),
                    ));
                }
                trail.starts += 1;
            }
        }
        Ok(())
    }

    /// Checks one plan row against its events (after every event was fed).
    pub fn plan(&mut self, row: &PlanRow) -> Result<(), Disagreement> {
        let fail = |seq: Option<i64>, what: String| Disagreement {
            plan: row.id.clone(),
            seq,
            what,
        };
        let Some(trail) = self.trails.get_mut(&row.id) else {
            return Err(fail(
                None,
                "its row has no planned event in the ledger".into(),
            ));
        };
        trail.row_seen = true;
        let at = Some(trail.planned_at);
        let command = crate::render::argv_line(&row.command);
        if digest(&command) != trail.command {
            return Err(fail(
                at,
                format!("its row's command `{command}` is not the command its planned event names"),
            ));
        }
        if row.hash != trail.hash {
            return Err(fail(
                at,
                format!(
                    "its row's hash {} is not its planned event's hash {}",
                    row.hash, trail.hash
                ),
            ));
        }
        if row.tier != trail.tier {
            return Err(fail(
                at,
                format!(
                    "its row's tier {} is not its planned event's tier {}",
                    row.tier, trail.tier
                ),
            ));
        }
        if u64::from(row.approvals_required) != trail.approvals_required {
            return Err(fail(
                at,
                format!(
                    "its row requires {} approvals, its planned event {}",
                    row.approvals_required, trail.approvals_required
                ),
            ));
        }
        let status = row.status.as_str();
        let ran = matches!(status, "running" | "interrupted" | "applied");
        if (ran || status == "approved") && !trail.approved {
            return Err(fail(
                None,
                format!("its row is {status}, but the ledger holds no approval of its hash"),
            ));
        }
        if status == "approved" && trail.starts > trail.retries {
            return Err(fail(
                None,
                "its row is approved for another run, but the ledger holds no `resolve --outcome retry` since its last run".into(),
            ));
        }
        if ran && trail.starts != trail.retries + 1 {
            return Err(fail(
                None,
                format!(
                    "its row is {status}, but the ledger shows {} starts and {} retries",
                    trail.starts, trail.retries
                ),
            ));
        }
        Ok(())
    }

    /// After every row: a plan the ledger knows whose row is gone.
    pub fn finish(&self) -> Result<(), Disagreement> {
        match self
            .trails
            .iter()
            .filter(|(_, t)| !t.row_seen)
            .min_by_key(|(_, t)| t.planned_at)
        {
            None => Ok(()),
            Some((id, t)) => Err(Disagreement {
                plan: id.clone(),
                seq: Some(t.planned_at),
                what: "planned in the ledger, but its row is gone from the plans table".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::ffi::OsString;

    const H: &str = "aaaa";
    const PLAN: &str = "11111111-0000-4000-8000-000000000000";

    fn ev(seq: i64, kind: &str, detail: serde_json::Value) -> Event {
        Event {
            seq,
            at: seq,
            kind: kind.into(),
            plan: Some(PLAN.into()),
            key: Some("k".into()),
            actor: "someone".into(),
            detail: detail.to_string(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn planned(status: &str) -> Event {
        ev(
            1,
            "planned",
            json!({"hash": H, "status": status, "tier": "irreversible",
                   "approvals_required": 1, "command": "echo 'a b'"}),
        )
    }

    fn approved(seq: i64, hash: &str, quorum: bool) -> Event {
        ev(seq, "approved", json!({"hash": hash, "quorum": quorum}))
    }

    fn started(seq: i64, hash: &str) -> Event {
        ev(seq, "started", json!({"hash": hash, "attempt": 1}))
    }

    fn row(status: &str) -> PlanRow {
        PlanRow {
            id: PLAN.into(),
            hash: H.into(),
            status: status.into(),
            tier: "irreversible".into(),
            approvals_required: 1,
            command: vec![OsString::from("echo"), OsString::from("a b")],
        }
    }

    /// Feeds `events`, then `row`; the first disagreement.
    fn audit(events: &[Event], row: Option<&PlanRow>) -> Result<(), Disagreement> {
        let mut a = Audit::default();
        for e in events {
            a.event(e)?;
        }
        if let Some(r) = row {
            a.plan(r)?;
        }
        a.finish()
    }

    #[test]
    fn a_plan_approved_started_and_applied_agrees() {
        let life = [planned("pending"), approved(2, H, true), started(3, H)];
        assert_eq!(audit(&life, Some(&row("applied"))), Ok(()));
        assert_eq!(audit(&life[..2], Some(&row("approved"))), Ok(()));
        assert_eq!(audit(&life[..1], Some(&row("pending"))), Ok(()));
        assert_eq!(audit(&life[..1], Some(&row("expired"))), Ok(()));
        // No approval needed: approved at plan time.
        let free = [planned("approved"), started(2, H)];
        assert_eq!(audit(&free, Some(&row("applied"))), Ok(()));
    }

    #[test]
    fn a_start_needs_the_planned_hash_and_a_quorum_first() {
        let e = audit(
            &[planned("pending"), approved(2, H, true), started(3, "bbbb")],
            None,
        )
        .unwrap_err();
        assert_eq!(e.seq, Some(3));
        assert!(e.to_string().contains("started with hash bbbb"), "{e}");
        for approval in [approved(2, H, false), approved(2, "bbbb", true)] {
            let e = audit(&[planned("pending"), approval, started(3, H)], None).unwrap_err();
            assert!(
                e.what.contains("before the ledger shows an approval"),
                "{e}"
            );
        }
        // An approval after the start does not excuse it.
        let e = audit(
            &[planned("pending"), started(2, H), approved(3, H, true)],
            None,
        )
        .unwrap_err();
        assert_eq!(e.seq, Some(2));
    }

    #[test]
    fn each_start_after_the_first_needs_a_retry() {
        let retry = ev(4, "resolved", json!({"outcome": "retry"}));
        let twice = [
            planned("pending"),
            approved(2, H, true),
            started(3, H),
            started(5, H),
        ];
        assert_eq!(audit(&twice, None).unwrap_err().seq, Some(5));
        let retried = [
            planned("pending"),
            approved(2, H, true),
            started(3, H),
            retry.clone(),
            started(5, H),
        ];
        assert_eq!(audit(&retried, Some(&row("applied"))), Ok(()));
        // A retry before any run allows nothing.
        let early = [
            planned("pending"),
            approved(2, H, true),
            retry,
            started(5, H),
            started(6, H),
        ];
        assert_eq!(audit(&early, None).unwrap_err().seq, Some(6));
        // Settled as succeeded: applied after one start.
        let settled = ev(4, "resolved", json!({"outcome": "succeeded"}));
        let life = [
            planned("pending"),
            approved(2, H, true),
            started(3, H),
            settled,
        ];
        assert_eq!(audit(&life, Some(&row("applied"))), Ok(()));
    }

    #[test]
    fn a_row_status_needs_the_events_behind_it() {
        for status in ["approved", "running", "interrupted", "applied"] {
            let e = audit(&[planned("pending")], Some(&row(status))).unwrap_err();
            assert!(e.what.contains("no approval of its hash"), "{status}: {e}");
        }
        let approved_only = [planned("pending"), approved(2, H, true)];
        for status in ["running", "applied"] {
            let e = audit(&approved_only, Some(&row(status))).unwrap_err();
            assert!(e.what.contains("0 starts"), "{status}: {e}");
        }
        // Set back to approved after its run: a second run nobody allowed.
        let ran = [planned("pending"), approved(2, H, true), started(3, H)];
        let e = audit(&ran, Some(&row("approved"))).unwrap_err();
        assert!(e.what.contains("another run"), "{e}");
        // A denied plan never becomes approved.
        assert!(audit(&[planned("denied")], Some(&row("approved"))).is_err());
    }

    #[test]
    fn a_row_must_keep_its_planned_hash_command_tier_and_approvals() {
        let events = [planned("pending")];
        let mut r = row("pending");
        r.command.push(OsString::from("; rm -rf /"));
        assert!(
            audit(&events, Some(&r))
                .unwrap_err()
                .what
                .contains("command")
        );
        let mut r = row("pending");
        r.command = vec![
            OsString::from("echo"),
            OsString::from("a"),
            OsString::from("b"),
        ];
        assert!(
            audit(&events, Some(&r)).is_err(),
            "two words are not one word with a space"
        );
        let mut r = row("pending");
        r.hash = "bbbb".into();
        assert!(audit(&events, Some(&r)).unwrap_err().what.contains("hash"));
        let mut r = row("pending");
        r.tier = "read_only".into();
        assert!(audit(&events, Some(&r)).unwrap_err().what.contains("tier"));
        let mut r = row("pending");
        r.approvals_required = 0;
        assert!(
            audit(&events, Some(&r))
                .unwrap_err()
                .what
                .contains("approvals")
        );
    }

    #[test]
    fn rows_and_planned_events_pair_up() {
        let e = audit(&[], Some(&row("pending"))).unwrap_err();
        assert!(e.what.contains("no planned event"), "{e}");
        let e = audit(&[planned("pending")], None).unwrap_err();
        assert!(e.what.contains("row is gone"), "{e}");
        assert_eq!(e.seq, Some(1));
        let e = audit(&[planned("pending"), planned("pending")], None).unwrap_err();
        assert!(e.what.contains("second time"), "{e}");
        let e = audit(&[started(1, H)], None).unwrap_err();
        assert!(e.what.contains("before any planned event"), "{e}");
        // Events of no plan and kinds that say nothing of approval pass by.
        let mut other = ev(2, "refused", json!({"code": "usage"}));
        assert_eq!(
            audit(&[planned("pending"), other.clone()], Some(&row("pending"))),
            Ok(())
        );
        other.plan = None;
        assert_eq!(audit(&[other], None), Ok(()));
    }
}

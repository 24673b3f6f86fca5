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
//!   outcome `retry`; a row's status agrees with the number of starts;
//! - on a tier whose approvals must be signed ([`Audit::signing`]), only a
//!   signed quorum approves and only a signed retry allows another run
//!   (whether each signature verifies is the caller's check, event by
//!   event);
//! - an `escalated` event only raises a plan (never lowers it, and a plan
//!   raised to `deny` is no longer approved), and a plan the ledger shows
//!   `rejected` or `expired` stays so.
//!
//! # Memory
//!
//! Events are fed one at a time ([`Audit::event`]); what is kept is a
//! 40-byte [`Trail`] per plan and its index entry (fingerprints of its hash
//! and command, a few counters), never the events themselves: about 80
//! bytes a plan, 20 MiB for the 250,000 plans of a million-event ledger.

use crate::model::{Event, PlanRow, short};
use crate::tier::Tier;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

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

/// What the ledger said about one plan: 40 bytes, so that a ledger of a
/// quarter of a million plans is checked in ~20 MiB. Texts are kept as
/// fingerprints: SipHash under a key drawn for this audit, which whoever
/// edits the state file cannot know, so cannot aim a collision at.
#[derive(Debug, Clone, Copy)]
struct Trail {
    /// The `planned` event's sequence number.
    planned_at: i64,
    hash: u64,
    /// Of the command as the `planned` event renders it.
    command: u64,
    approvals_required: u32,
    starts: u16,
    /// `resolve --outcome retry` after a start, each allowing one more.
    retries: u16,
    /// `Tier as u8`, or [`NO_TIER`] for a name that is not a tier.
    tier: u8,
    /// Approved at plan time, or a quorum approved the planned hash.
    approved: bool,
    /// A plan row was checked against this trail.
    row_seen: bool,
    /// The status a `rejected`, `expired` or `cancelled` event ended it in,
    /// for good.
    ended: Option<Ended>,
    /// Planned on a tier that counts only signed approvals and retries.
    signed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Rejected,
    Expired,
    Cancelled,
}

impl Ended {
    fn as_str(self) -> &'static str {
        match self {
            Ended::Rejected => "rejected",
            Ended::Expired => "expired",
            Ended::Cancelled => "cancelled",
        }
    }
}

const NO_TIER: u8 = u8::MAX;

fn tier_code(name: &str) -> u8 {
    name.parse::<Tier>().map_or(NO_TIER, |t| t as u8)
}

fn tier_name(code: u8) -> &'static str {
    Tier::ALL
        .get(code as usize)
        .map_or("(not a tier)", |t| t.as_str())
}

/// The fields of an event's detail the audit reads; the rest are skipped
/// unparsed into values.
#[derive(Deserialize, Default)]
struct Detail<'a> {
    #[serde(borrow)]
    hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    command: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Option<Cow<'a, str>>,
    approvals_required: Option<u64>,
    quorum: Option<bool>,
    signed: Option<bool>,
    #[serde(borrow)]
    to: Option<Verdict<'a>>,
    /// Present on a signed decision (checked by the caller).
    #[serde(borrow)]
    signature: Option<SignatureDetail<'a>>,
    /// The run a `resolved` event settles.
    attempt: Option<u64>,
}

#[derive(Deserialize)]
struct SignatureDetail<'a> {
    /// The signing key's fingerprint.
    #[serde(borrow)]
    key: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Verdict<'a> {
    #[serde(borrow)]
    tier: Option<Cow<'a, str>>,
    approvals_required: Option<u64>,
}

/// The cross-check, fed every event in order, then every plan row.
#[derive(Debug, Default)]
pub struct Audit {
    trails: Vec<Trail>,
    /// Plan id → index in `trails`: ladder's ids (lowercase UUIDs) by their
    /// 16 bytes, anything else an edit may have put there by its text.
    by_uuid: HashMap<[u8; 16], u32>,
    by_text: HashMap<String, u32>,
    keys: std::collections::hash_map::RandomState,
    /// Which tiers count only signed approvals and retries, by `Tier as u8`,
    /// besides the plans whose planned event says so.
    signed: [bool; Tier::ALL.len()],
    /// For plans on a signed tier: who has approved the planned hash, as
    /// fingerprints of (reviewer identity, key). The `quorum` flag of an
    /// event is not signed, so a signed plan's quorum is counted here.
    signed_approvers: HashMap<u32, Vec<(u64, u64)>>,
}

/// A ladder plan id's 16 bytes: the canonical lowercase hyphenated form only,
/// so that the bytes name exactly one text.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    if id.len() != 36 || id.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    uuid::Uuid::try_parse(id).ok().map(|u| *u.as_bytes())
}

impl Audit {
    /// An audit under a policy whose `signed` tiers count only signed
    /// approvals and retries.
    pub fn signing(signed: impl Fn(Tier) -> bool) -> Audit {
        Audit {
            signed: Tier::ALL.map(signed),
            ..Audit::default()
        }
    }

    fn fp(&self, text: &str) -> u64 {
        self.keys.hash_one(text)
    }

    fn index(&self, id: &str) -> Option<usize> {
        match uuid_bytes(id) {
            Some(b) => self.by_uuid.get(&b),
            None => self.by_text.get(id),
        }
        .map(|i| *i as usize)
    }

    /// Takes the next event of the ledger (in order).
    pub fn event(&mut self, e: &Event) -> Result<(), Disagreement> {
        let Some(plan) = &e.plan else { return Ok(()) };
        if !matches!(
            e.kind.as_str(),
            "planned"
                | "approved"
                | "started"
                | "resolved"
                | "escalated"
                | "rejected"
                | "expired"
                | "cancelled"
        ) {
            return Ok(());
        }
        let fail = |what: String| Disagreement {
            plan: plan.clone(),
            seq: Some(e.seq),
            what,
        };
        let detail: Detail = serde_json::from_str(&e.detail).map_err(|_| {
            fail(format!(
                "its {} event's detail is not as ladder writes it",
                e.kind
            ))
        })?;
        if e.kind == "planned" {
            if let Some(first) = self.index(plan) {
                return Err(fail(format!(
                    "planned a second time (first at event {})",
                    self.trails[first].planned_at
                )));
            }
            let (Some(hash), Some(command), Some(tier)) =
                (&detail.hash, &detail.command, &detail.tier)
            else {
                return Err(fail("its planned event lacks hash, command or tier".into()));
            };
            let trail = Trail {
                planned_at: e.seq,
                hash: self.fp(hash),
                command: self.fp(command),
                tier: tier_code(tier),
                approvals_required: detail.approvals_required.unwrap_or(0) as u32,
                approved: detail.status.as_deref() == Some("approved"),
                starts: 0,
                retries: 0,
                row_seen: false,
                ended: None,
                signed: detail.signed == Some(true),
            };
            let at = self.trails.len() as u32;
            self.trails.push(trail);
            match uuid_bytes(plan) {
                Some(b) => self.by_uuid.insert(b, at),
                None => self.by_text.insert(plan.clone(), at),
            };
            return Ok(());
        }
        let Some(i) = self.index(plan) else {
            return Err(fail(format!("{} before any planned event", e.kind)));
        };
        let hash = detail.hash.as_deref().map(|h| self.fp(h));
        let reviewer = (
            self.fp(&crate::names::identity(&e.actor)),
            self.fp(detail
                .signature
                .as_ref()
                .and_then(|s| s.key.as_deref())
                .unwrap_or("")),
        );
        let trail = &mut self.trails[i];
        // On a signed tier an unsigned decision is one nobody could have
        // made through ladder: it counts for nothing.
        let signed = trail.signed
            || self
                .signed
                .get(trail.tier as usize)
                .copied()
                .unwrap_or(false);
        let counts = !signed || detail.signature.is_some();
        match e.kind.as_str() {
            "approved" if signed => {
                if hash == Some(trail.hash) && detail.signature.is_some() {
                    // As apply counts: a reviewer or a key counts once.
                    let seen = self.signed_approvers.entry(i as u32).or_default();
                    if !seen
                        .iter()
                        .any(|(who, key)| *who == reviewer.0 || *key == reviewer.1)
                    {
                        seen.push(reviewer);
                    }
                    trail.approved |= seen.len() as u32 >= trail.approvals_required;
                }
            }
            "approved" => {
                if hash == Some(trail.hash) && detail.quorum == Some(true) {
                    trail.approved = true;
                }
            }
            "resolved" => {
                // A retry settles the last start, once: a copy of an
                // earlier one (its signed attempt) allows nothing more.
                if detail.outcome.as_deref() == Some("retry")
                    && trail.starts > trail.retries
                    && detail.attempt.is_none_or(|a| a == u64::from(trail.starts))
                    && counts
                {
                    trail.retries += 1;
                }
            }
            "rejected" => trail.ended = Some(Ended::Rejected),
            "expired" => trail.ended = Some(Ended::Expired),
            "cancelled" if trail.starts > 0 => {
                // A plan that started is never withdrawn: its key's action
                // may have run, and freeing the key would let it run again.
                return Err(fail(
                    "cancelled after it started: only a plan that never ran can be withdrawn"
                        .into(),
                ));
            }
            "cancelled" => trail.ended = Some(Ended::Cancelled),
            "escalated" => {
                // A stricter verdict: the row takes its tier and approvals,
                // and an approval given before counts only if the plan
                // stayed approved under it.
                let Some(to) = &detail.to else {
                    return Err(fail("its escalated event lacks the verdict".into()));
                };
                let tier = to.tier.as_deref().map_or(NO_TIER, tier_code);
                if tier == NO_TIER || tier < trail.tier {
                    return Err(fail(format!(
                        "its escalated event lowers it from {} to {}: a policy in force only raises a plan",
                        tier_name(trail.tier),
                        tier_name(tier)
                    )));
                }
                trail.tier = tier;
                trail.approvals_required = to.approvals_required.unwrap_or(0) as u32;
                trail.approved = trail.approved
                    && tier != Tier::Deny as u8
                    && detail.status.as_deref() == Some("approved");
            }
            _ => {
                if hash != Some(trail.hash) {
                    return Err(fail(format!(
                        "started with hash {}, not the hash of its planned event (event {})",
                        detail.hash.as_deref().unwrap_or(""),
                        trail.planned_at
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

                trail.starts = trail.starts.saturating_add(1);
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
        let Some(i) = self.index(&row.id) else {
            return Err(fail(
                None,
                "its row has no planned event in the ledger".into(),
            ));
        };
        let command = crate::text::argv_line(&row.command);
        let (command_fp, hash_fp) = (self.fp(&command), self.fp(&row.hash));
        let trail = &mut self.trails[i];
        trail.row_seen = true;
        let at = Some(trail.planned_at);
        if command_fp != trail.command {
            return Err(fail(
                at,
                format!("its row's command `{command}` is not the command its planned event names"),
            ));
        }
        if hash_fp != trail.hash {
            return Err(fail(
                at,
                format!(
                    "its row's hash {} is not its planned event's hash",
                    row.hash
                ),
            ));
        }
        if tier_code(&row.tier) != trail.tier {
            return Err(fail(
                at,
                format!(
                    "its row's tier {} is not its planned event's tier {}",
                    row.tier,
                    tier_name(trail.tier)
                ),
            ));
        }
        if row.approvals_required != trail.approvals_required {
            return Err(fail(
                at,
                format!(
                    "its row requires {} approvals, its planned event {}",
                    row.approvals_required, trail.approvals_required
                ),
            ));
        }
        let status = row.status.as_str();
        if let Some(ended) = trail.ended.filter(|e| e.as_str() != status) {
            return Err(fail(
                None,
                format!(
                    "its row is {status}, but the ledger shows it {}",
                    ended.as_str()
                ),
            ));
        }
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
        if ran && u32::from(trail.starts) != u32::from(trail.retries) + 1 {
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
        let unseen = |i: &u32| !self.trails[*i as usize].row_seen;
        let first = self
            .by_uuid
            .iter()
            .filter(|(_, i)| unseen(i))
            .min_by_key(|(_, i)| self.trails[**i as usize].planned_at)
            .map(|(b, i)| (uuid::Uuid::from_bytes(*b).to_string(), *i));
        let odd = self
            .by_text
            .iter()
            .filter(|(_, i)| unseen(i))
            .map(|(t, i)| (t.clone(), *i));
        match first
            .into_iter()
            .chain(odd)
            .min_by_key(|(_, i)| self.trails[*i as usize].planned_at)
        {
            None => Ok(()),
            Some((id, i)) => Err(Disagreement {
                plan: id,
                seq: Some(self.trails[i as usize].planned_at),
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
        ev(seq, "started", json!({"hash": hash}))
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

    #[test]
    fn a_signed_plan_counts_only_signed_quorums_and_retries() {
        let mut plan = planned("pending");
        plan.detail = plan.detail.replace(
            "\"approvals_required\"",
            "\"signed\":true,\"approvals_required\"",
        );
        let signed_quorum = ev(
            2,
            "approved",
            json!({"hash": H, "quorum": true, "signature": {}}),
        );
        let life = [plan.clone(), signed_quorum.clone(), started(3, H)];
        assert_eq!(audit(&life, Some(&row("applied"))), Ok(()));
        let e = audit(&[plan.clone(), approved(2, H, true), started(3, H)], None).unwrap_err();
        assert!(
            e.what.contains("before the ledger shows an approval"),
            "{e}"
        );

        let retry = |signed: bool| {
            let mut d = json!({"hash": H, "outcome": "retry", "attempt": 1});
            if signed {
                d["signature"] = json!({});
            }
            ev(4, "resolved", d)
        };
        let again = [
            plan.clone(),
            signed_quorum.clone(),
            started(3, H),
            retry(true),
            started(5, H),
        ];
        assert_eq!(audit(&again, Some(&row("applied"))), Ok(()));
        let forged = [
            plan.clone(),
            signed_quorum.clone(),
            started(3, H),
            retry(false),
            started(5, H),
        ];
        assert!(
            audit(&forged, None)
                .unwrap_err()
                .what
                .contains("started again")
        );

        // A copy of the signed retry of the first run, after the second.
        let copied = [
            plan.clone(),
            signed_quorum.clone(),
            started(3, H),
            retry(true),
            started(5, H),
            ev(
                6,
                "resolved",
                json!({"hash": H, "outcome": "retry", "attempt": 1, "signature": {}}),
            ),
            started(7, H),
        ];
        assert!(
            audit(&copied, None)
                .unwrap_err()
                .what
                .contains("started again")
        );
        // A signed quorum is counted, not read from the unsigned flag: one
        // reviewer's approval twice (or one key's under two names) is one.
        let mut two = plan.clone();
        two.detail = two
            .detail
            .replace("\"approvals_required\":1", "\"approvals_required\":2");
        let by = |seq: i64, who: &str, key: &str| {
            let mut e = ev(
                seq,
                "approved",
                json!({"hash": H, "quorum": true, "signature": {"key": key}}),
            );
            e.actor = who.into();
            e
        };
        for second in [by(3, "alice", "K2"), by(3, "bob", "K1")] {
            let life = [two.clone(), by(2, "alice", "K1"), second, started(4, H)];
            assert!(
                audit(&life, None)
                    .unwrap_err()
                    .what
                    .contains("before the ledger shows an approval")
            );
        }
        let life = [
            two.clone(),
            by(2, "alice", "K1"),
            by(3, "bob", "K2"),
            started(4, H),
        ];
        let mut applied = row("applied");
        applied.approvals_required = 2;
        assert_eq!(audit(&life, Some(&applied)), Ok(()));

        // The same events under an audit that knows the tier is signed.
        let mut a = Audit::signing(|t| t == Tier::Irreversible);
        a.event(&planned("pending")).unwrap();
        a.event(&approved(2, H, true)).unwrap();
        assert!(a.event(&started(3, H)).is_err());
    }

    #[test]
    fn escalations_only_raise_and_endings_stay() {
        let to = |tier: &str, status: &str| {
            ev(
                3,
                "escalated",
                json!({"status": status, "to": {"tier": tier, "approvals_required": 1}}),
            )
        };
        let e = audit(&[planned("pending"), to("reversible", "approved")], None).unwrap_err();
        assert!(e.what.contains("lowers it"), "{e}");
        // Raised to deny, an approved plan is approved no more.
        let e = audit(
            &[
                planned("pending"),
                approved(2, H, true),
                to("deny", "approved"),
                started(4, H),
            ],
            None,
        )
        .unwrap_err();
        assert!(
            e.what.contains("before the ledger shows an approval"),
            "{e}"
        );

        for ending in ["rejected", "expired", "cancelled"] {
            let life = [
                planned("pending"),
                approved(2, H, true),
                ev(3, ending, json!({})),
            ];
            assert_eq!(audit(&life, Some(&row(ending))), Ok(()));
            let e = audit(&life, Some(&row("approved"))).unwrap_err();
            assert!(
                e.what.contains(&format!("the ledger shows it {ending}")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_plan_that_started_is_never_cancelled() {
        let life = [
            planned("pending"),
            approved(2, H, true),
            started(3, H),
            ev(4, "cancelled", json!({})),
        ];
        let e = audit(&life, Some(&row("cancelled"))).unwrap_err();
        assert!(e.what.contains("cancelled after it started"), "{e}");
    }
}

//! The ledger: every rung is an event, and every event carries the hash of
//! the one before it, so editing, deleting or reordering an event breaks the
//! chain from that point on.
//!
//! # Event hash (version 1)
//!
//! `hash = sha256("ladder-event-v1\n" + records)`, with records written as in
//! [`crate::plan_hash`] (`TAG SP LEN ":" BYTES "\n"`), in this order: `seq`
//! (decimal), `at` (milliseconds since the epoch, decimal), `kind`, `plan`
//! (empty when none), `key` (empty when none), `actor`, `detail` (the stored
//! compact JSON text, keys sorted), `prev` (the previous event's hash; 64
//! zeros for the first event).
//!
//! # What the chain proves, and what it does not
//!
//! Anyone who edits the state file without recomputing every later hash is
//! caught by [`verify`]. Someone who can write the file can also rewrite the
//! whole chain from the edit onwards, or cut events off its end; only a copy
//! of a recent head hash kept elsewhere (printed by `log --verify`) anchors it.

use crate::model::{Event, Millis};
use crate::plan_hash::{record, sha256_hex};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields an event hash covers.
pub struct EventFields<'a> {
    pub seq: i64,
    pub at: Millis,
    pub kind: &'a str,
    pub plan: Option<&'a str>,
    pub key: Option<&'a str>,
    pub actor: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a str,
}

/// The hash of one event, chained to `prev_hash`.
pub fn event_hash(f: &EventFields) -> String {
    let mut out = Vec::with_capacity(160 + f.detail.len());
    out.extend_from_slice(b"ladder-event-v1\n");
    record(&mut out, "seq", f.seq.to_string().as_bytes());
    record(&mut out, "at", f.at.to_string().as_bytes());
    record(&mut out, "kind", f.kind.as_bytes());
    record(&mut out, "plan", f.plan.unwrap_or("").as_bytes());
    record(&mut out, "key", f.key.unwrap_or("").as_bytes());
    record(&mut out, "actor", f.actor.as_bytes());
    record(&mut out, "detail", f.detail.as_bytes());
    record(&mut out, "prev", f.prev_hash.as_bytes());
    sha256_hex(&out)
}

fn fields(e: &Event) -> EventFields<'_> {
    EventFields {
        seq: e.seq,
        at: e.at,
        kind: &e.kind,
        plan: e.plan.as_deref(),
        key: e.key.as_deref(),
        actor: &e.actor,
        detail: &e.detail,
        prev_hash: &e.prev_hash,
    }
}

/// Why an event breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's content no longer matches its own hash: it was edited.
    Edited,
    /// The event does not point at its predecessor: one was deleted,
    /// inserted or reordered before it.
    Unlinked { expected_prev: String },
    /// Sequence numbers skip or repeat: events were deleted or reordered.
    Sequence { expected: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Edited => f.write_str("its content does not match its hash (edited)"),
            Break::Unlinked { expected_prev } => write!(
                f,
                "it does not follow the previous event (expected prev_hash {}…): an event before it was deleted, inserted or reordered",
                &expected_prev[..12.min(expected_prev.len())]
            ),
            Break::Sequence { expected } => write!(
                f,
                "its sequence number should be {expected}: events were deleted or reordered"
            ),
        }
    }
}

/// Walks events in stored order, checking each against the chain so far.
/// Feed every event to [`Verifier::check`]; the first `Err` names the break.
pub struct Verifier {
    prev_hash: String,
    next_seq: i64,
    pub checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            prev_hash: GENESIS.to_string(),
            next_seq: 1,
            checked: 0,
        }
    }
}

impl Verifier {
    pub fn check(&mut self, e: &Event) -> Result<(), Break> {
        if e.seq != self.next_seq {
            return Err(Break::Sequence {
                expected: self.next_seq,
            });
        }
        if event_hash(&fields(e)) != e.hash {
            return Err(Break::Edited);
        }
        if e.prev_hash != self.prev_hash {
            return Err(Break::Unlinked {
                expected_prev: self.prev_hash.clone(),
            });
        }
        self.prev_hash.clone_from(&e.hash);
        self.next_seq += 1;
        self.checked += 1;
        Ok(())
    }

    /// The hash of the last event checked (the chain's head).
    pub fn head(&self) -> &str {
        &self.prev_hash
    }
}

/// Checks a whole chain; returns the index of the first broken event.
pub fn verify(events: &[Event]) -> Result<(), (usize, Break)> {
    let mut v = Verifier::default();
    for (i, e) in events.iter().enumerate() {
        v.check(e).map_err(|b| (i, b))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<Event> {
        let mut prev = GENESIS.to_string();
        (0..n)
            .map(|i| {
                let mut e = Event {
                    seq: i as i64 + 1,
                    at: 1_700_000_000_000 + i as i64,
                    kind: if i % 2 == 0 { "planned" } else { "approved" }.into(),
                    plan: Some(format!("plan-{}", i / 2)),
                    key: Some(format!("key-{}", i / 2)),
                    actor: "alice".into(),
                    detail: format!("{{\"n\":{i}}}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = event_hash(&fields(&e));
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(10)), Ok(()));
        assert_eq!(verify(&[]), Ok(()));
    }

    #[test]
    fn an_edit_is_named() {
        let mut c = chain(5);
        c[2].actor = "mallory".into();
        assert_eq!(verify(&c), Err((2, Break::Edited)));
    }

    #[test]
    fn a_rehashed_edit_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].detail = "{\"n\":99}".into();
        c[2].hash = event_hash(&fields(&c[2]));
        assert!(matches!(verify(&c), Err((3, Break::Unlinked { .. }))));
    }

    proptest! {
        #[test]
        fn any_single_edit_deletion_or_swap_is_detected(n in 2usize..30, pick in any::<prop::sample::Index>(), op in 0u8..4) {
            let mut c = chain(n);
            let i = pick.index(n);
            match op {
                0 => c[i].detail.push(' '),
                1 => { c.remove(i); if c.is_empty() { return Ok(()); } }
                2 => { let j = (i + 1) % n; if i == j { return Ok(()); } c.swap(i, j); }
                _ => c[i].at += 1,
            }
            // Deleting the last event is the one change a chain alone cannot
            // show; the README says so and what anchors it.
            if op == 1 && i == n - 1 { prop_assert!(verify(&c).is_ok()); }
            else { prop_assert!(verify(&c).is_err()); }
        }
    }
}

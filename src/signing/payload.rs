//! What a signature signs: a canonical, versioned text naming one decision
//! (or one ledger head), rebuilt from what is stored whenever it is checked.
//!
//! The text is never stored: it is made again from the stored fields, so a
//! field edited in the state file makes a different text and the signature
//! no longer verifies. Every field that decides what the signature allows
//! is in it: which decision, on which plan and which exact hash, by whom,
//! when, under which policy. A signature copied onto another plan, another
//! hash or another decision signs a text that is not that one's.
//!
//! # Format, version 1
//!
//! Lines of `name value`, each ending in `\n`, in this order:
//!
//! ```text
//! ladder-decision-v1
//! decision approve|reject|resolve
//! plan <plan id>
//! hash <plan hash, 64 lowercase hex>
//! principal <the signer's principal>
//! at <RFC 3339 time, milliseconds, UTC>
//! policy <sha256 of the policy in force when signing>
//! note <sha256 of the comment or reason, or "-" when there is none>
//! ```
//!
//! A resolve adds `outcome succeeded|failed|retry` and `attempt <n>` (the
//! run it settles) after `note`. A ledger checkpoint is
//! `ladder-checkpoint-v1`, then `seq`, `hash` (the event's), `at` and
//! `principal`. No value holds a newline: principals are printable names,
//! the rest are ids, digests and times.

use crate::model::{Millis, Outcome};

/// The SSHSIG namespace of every ladder signature. allowed_signers lines
/// must allow it (`namespaces="ladder-approval-v1"`, or no `namespaces`);
/// the payload's first line tells decisions from checkpoints.
pub const NAMESPACE: &str = "ladder-approval-v1";

/// Which decision a signature is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Approve,
    Reject,
    /// Settling an interrupted run: its outcome, and the attempt settled.
    Resolve(Outcome, u32),
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Approve => "approve",
            Kind::Reject => "reject",
            Kind::Resolve(..) => "resolve",
        }
    }
}

/// One decision, as signed.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub kind: Kind,
    pub plan: &'a str,
    pub hash: &'a str,
    pub principal: &'a str,
    pub at: Millis,
    pub policy_sha256: &'a str,
    /// The comment of an approval, the reason of a rejection or resolution.
    pub note: Option<&'a str>,
}

impl Decision<'_> {
    /// The exact bytes signed.
    pub fn payload(&self) -> String {
        let note = match self.note {
            Some(text) => crate::plan_hash::sha256_hex(text.as_bytes()),
            None => "-".to_string(),
        };
        let mut out = format!(
            "ladder-decision-v1\ndecision {}\nplan {}\nhash {}\nprincipal {}\nat {}\npolicy {}\nnote {}\n",
            self.kind.name(),
            self.plan,
            self.hash,
            self.principal,
            crate::clock::rfc3339(self.at),
            self.policy_sha256,
            note,
        );
        if let Kind::Resolve(outcome, attempt) = self.kind {
            out.push_str(&format!(
                "outcome {}\nattempt {attempt}\n",
                outcome.as_str()
            ));
        }
        out
    }
}

/// A ledger head, as signed in a checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoint<'a> {
    pub seq: i64,
    pub hash: &'a str,
    pub at: Millis,
    pub principal: &'a str,
}

impl Checkpoint<'_> {
    pub fn payload(&self) -> String {
        format!(
            "ladder-checkpoint-v1\nseq {}\nhash {}\nat {}\nprincipal {}\n",
            self.seq,
            self.hash,
            crate::clock::rfc3339(self.at),
            self.principal
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> Decision<'static> {
        Decision {
            kind: Kind::Approve,
            plan: "0e6a7c1e-4b1d-4a3c-9d1e-2f3a4b5c6d7e",
            hash: "ab",
            principal: "alice",
            at: 1_764_892_800_123,
            policy_sha256: "cd",
            note: None,
        }
    }

    #[test]
    fn the_payload_is_the_documented_text() {
        assert_eq!(
            approval().payload(),
            "ladder-decision-v1\ndecision approve\nplan 0e6a7c1e-4b1d-4a3c-9d1e-2f3a4b5c6d7e\nhash ab\n\
             principal alice\nat 2025-12-05T00:00:00.123Z\npolicy cd\nnote -\n"
        );
    }

    #[test]
    fn every_field_changes_the_payload() {
        let base = approval().payload();
        let variants = [
            Decision {
                kind: Kind::Reject,
                ..approval()
            },
            Decision {
                plan: "other",
                ..approval()
            },
            Decision {
                hash: "ac",
                ..approval()
            },
            Decision {
                principal: "bob",
                ..approval()
            },
            Decision {
                at: 1,
                ..approval()
            },
            Decision {
                policy_sha256: "ce",
                ..approval()
            },
            Decision {
                note: Some("ok"),
                ..approval()
            },
            Decision {
                kind: Kind::Resolve(Outcome::Retry, 1),
                ..approval()
            },
        ];
        for v in variants {
            assert_ne!(v.payload(), base, "{v:?}");
        }
        let retry1 = Decision {
            kind: Kind::Resolve(Outcome::Retry, 1),
            ..approval()
        };
        let retry2 = Decision {
            kind: Kind::Resolve(Outcome::Retry, 2),
            ..approval()
        };
        assert_ne!(retry1.payload(), retry2.payload());
    }
}

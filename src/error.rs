//! One error type whose kind maps to the contract's exit codes.
//!
//! Every failure ladder reports is an [`Error`]: a [`Kind`] (which decides the
//! exit code and the JSON `error.code`), a one-line message saying what
//! happened, and optionally a hint saying what to do next. Internal failures
//! (I/O, SQLite) arrive as `anyhow::Error` and are classified once, at the
//! edge, as [`Kind::Error`].

use std::fmt;

/// The exit-code table of the contract, one variant per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Error,
    Usage,
    NotFound,
    NeedsApproval,
    Rejected,
    Expired,
    HashMismatch,
    Stale,
    KeyConflict,
    InFlight,
    OutcomeUnknown,
    Denied,
    BudgetExceeded,
    DryRunFailed,
    Tampered,
    NotAllowed,
    Cancelled,
    Declined,
}

impl Kind {
    /// Every kind, in the table's order.
    pub const ALL: [Kind; 18] = [
        Kind::Error,
        Kind::Usage,
        Kind::NotFound,
        Kind::NeedsApproval,
        Kind::Rejected,
        Kind::Expired,
        Kind::HashMismatch,
        Kind::Stale,
        Kind::KeyConflict,
        Kind::InFlight,
        Kind::OutcomeUnknown,
        Kind::Denied,
        Kind::BudgetExceeded,
        Kind::DryRunFailed,
        Kind::Tampered,
        Kind::NotAllowed,
        Kind::Cancelled,
        Kind::Declined,
    ];

    /// What the code means, in the table's words (the man page's EXIT
    /// STATUS).
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::Error => "runtime failure: I/O, unreadable or corrupt state, internal error",
            Kind::Usage => "bad arguments, invalid policy or configuration",
            Kind::NotFound => "no such plan, key or recorded execution",
            Kind::NeedsApproval => "approvals are short",
            Kind::Rejected => "a reviewer rejected the plan",
            Kind::Expired => "the plan's approval window passed",
            Kind::HashMismatch => "the given hash is not the plan's hash",
            Kind::Stale => "the world changed since the plan: re-plan",
            Kind::KeyConflict => "the key belongs to a different action",
            Kind::InFlight => "another apply of this key is running now",
            Kind::OutcomeUnknown => "an earlier apply was interrupted; see resolve",
            Kind::Denied => "policy forbids this command",
            Kind::BudgetExceeded => "a write budget is spent",
            Kind::DryRunFailed => "the dry-run exited with a code policy does not accept",
            Kind::Tampered => "the state file or the ledger was altered",
            Kind::NotAllowed => "this actor may not do this",
            Kind::Cancelled => "the plan was withdrawn before it ran",
            Kind::Declined => "a person answered no when asked to confirm: nothing was decided",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Error => 1,
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::NeedsApproval => 10,
            Kind::Rejected => 11,
            Kind::Expired => 12,
            Kind::HashMismatch => 13,
            Kind::Stale => 14,
            Kind::KeyConflict => 15,
            Kind::InFlight => 16,
            Kind::OutcomeUnknown => 17,
            Kind::Denied => 18,
            Kind::BudgetExceeded => 19,
            Kind::DryRunFailed => 20,
            Kind::Tampered => 21,
            Kind::NotAllowed => 22,
            Kind::Cancelled => 23,
            Kind::Declined => 24,
        }
    }

    /// The contract's name for this code, used as `error.code` in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::Usage => "usage",
            Kind::NotFound => "not_found",
            Kind::NeedsApproval => "needs_approval",
            Kind::Rejected => "rejected",
            Kind::Expired => "expired",
            Kind::HashMismatch => "hash_mismatch",
            Kind::Stale => "stale",
            Kind::KeyConflict => "key_conflict",
            Kind::InFlight => "in_flight",
            Kind::OutcomeUnknown => "outcome_unknown",
            Kind::Denied => "denied",
            Kind::BudgetExceeded => "budget_exceeded",
            Kind::DryRunFailed => "dry_run_failed",
            Kind::Tampered => "tampered",
            Kind::NotAllowed => "not_allowed",
            Kind::Cancelled => "cancelled",
            Kind::Declined => "declined",
        }
    }
}

/// A failure with its contract kind, a message and an optional next step.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    /// Extra JSON fields for scripts (for example the denied plan itself).
    pub extra: Option<serde_json::Value>,
    /// What people see before the error's line, as it is (the stderr of a
    /// dry-run that failed); not in the JSON.
    pub preface: Option<String>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            extra: None,
            preface: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The one line people see: the message, then the hint after a colon-free
    /// separator so it still reads as one sentence pair.
    ///
    /// One line whatever the message quotes: a rejection's reason or a
    /// command with line breaks or escape sequences comes out escaped
    /// (`text::printable`). The JSON error keeps the text as it is.
    pub fn one_line(&self) -> String {
        let message = crate::text::printable(&self.message);
        match &self.hint {
            Some(h) => format!("{message}; {}", crate::text::printable(h)),
            None => message.into_owned(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.one_line())
    }
}

impl std::error::Error for Error {}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<Error>() {
            Ok(e) => e,
            // `{:#}` prints the whole context chain on one line:
            // "failed to open state file x: unable to open database file".
            Err(e) => Error::new(Kind::Error, format!("{e:#}")),
        }
    }
}

impl From<crate::policy::PolicyError> for Error {
    fn from(e: crate::policy::PolicyError) -> Self {
        Error::usage(format!("invalid policy {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A clap error in one line, as the contract wants errors: its message
/// spans lines ("required arguments were not provided:" then the
/// arguments), followed by usage, which are dropped.
pub fn clap_line(e: &clap::Error) -> String {
    let rendered = e.to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    lines.join(" ").trim_start_matches("error: ").to_string()
}

/// Shorthand for `Err(Error::new(kind, message))`.
pub fn fail<T>(kind: Kind, message: impl Into<String>) -> Result<T> {
    Err(Error::new(kind, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_the_contract_table() {
        let table = [
            (Kind::Error, 1, "error"),
            (Kind::Usage, 2, "usage"),
            (Kind::NotFound, 3, "not_found"),
            (Kind::NeedsApproval, 10, "needs_approval"),
            (Kind::Rejected, 11, "rejected"),
            (Kind::Expired, 12, "expired"),
            (Kind::HashMismatch, 13, "hash_mismatch"),
            (Kind::Stale, 14, "stale"),
            (Kind::KeyConflict, 15, "key_conflict"),
            (Kind::InFlight, 16, "in_flight"),
            (Kind::OutcomeUnknown, 17, "outcome_unknown"),
            (Kind::Denied, 18, "denied"),
            (Kind::BudgetExceeded, 19, "budget_exceeded"),
            (Kind::DryRunFailed, 20, "dry_run_failed"),
            (Kind::Tampered, 21, "tampered"),
            (Kind::NotAllowed, 22, "not_allowed"),
            (Kind::Cancelled, 23, "cancelled"),
            (Kind::Declined, 24, "declined"),
        ];
        for (kind, code, name) in table {
            assert_eq!(kind.exit_code(), code);
            assert_eq!(kind.name(), name);
        }
        let all: Vec<Kind> = table.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(all, Kind::ALL, "Kind::ALL is the table, in order");
    }

    #[test]
    fn the_readme_lists_every_exit_code() {
        let readme = include_str!("../README.md");
        for kind in Kind::ALL {
            let row = format!("| {} | `{}` |", kind.exit_code(), kind.name());
            assert!(readme.contains(&row), "README lacks the row {row}");
        }
    }

    #[test]
    fn anyhow_context_becomes_one_line() {
        let e: Error = anyhow::anyhow!("disk full")
            .context("failed to write state")
            .into();
        assert_eq!(e.kind, Kind::Error);
        assert_eq!(e.message, "failed to write state: disk full");
    }
}

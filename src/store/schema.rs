//! The SQLite schema, as an append-only list of migrations.
//!
//! # Compatibility
//!
//! `PRAGMA user_version` is the number of migrations applied. A new release
//! appends to [`MIGRATIONS`] and never edits an earlier entry. A state file
//! whose version is newer than this binary knows is refused rather than
//! guessed at. `PRAGMA application_id` marks the file as ladder's, so a
//! stray SQLite database passed as `--state` is refused, not adopted.

/// The triggers that make the ledger append-only, by name, exactly as
/// migration 1 creates them (a test holds the two together). `log --verify`
/// compares what the state file holds with these.
pub const APPEND_ONLY_TRIGGERS: [(&str, &str); 2] = [
    (
        "events_no_update",
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;",
    ),
    (
        "events_no_delete",
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;",
    ),
];

/// `ladr` in ASCII.
pub const APPLICATION_ID: i32 = 0x6c61_6472;

pub const MIGRATIONS: &[&str] = &[
    // 1: plans, approvals, executions and the hash-chained ledger.
    r#"
CREATE TABLE plans (
    seq                   INTEGER PRIMARY KEY,
    id                    TEXT NOT NULL UNIQUE,
    key                   TEXT NOT NULL,
    hash                  TEXT NOT NULL,
    status                TEXT NOT NULL,
    tier                  TEXT NOT NULL,
    rule                  TEXT,
    approvals_required    INTEGER NOT NULL,
    command               BLOB NOT NULL,   -- argv, each element followed by a NUL byte
    cwd                   BLOB NOT NULL,
    env                   TEXT NOT NULL,   -- JSON {NAME: sha256 hex | null}
    dry_run_command       BLOB,            -- NULL: planned without a dry-run
    dry_run_exit          INTEGER,
    dry_run_stdout        BLOB,
    dry_run_stderr        BLOB,
    dry_run_stdout_sha256 TEXT,
    dry_run_stderr_sha256 TEXT,
    dry_run_stdout_bytes  INTEGER,
    dry_run_stderr_bytes  INTEGER,
    dry_run_truncated     INTEGER,
    dry_run_ok            TEXT NOT NULL,   -- JSON [exit codes]
    reason                TEXT,
    target                TEXT,
    effect                TEXT,
    rollback              TEXT,
    confidence            REAL,
    actor                 TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER,
    policy_sha256         TEXT NOT NULL,
    decision              TEXT NOT NULL,   -- JSON [sentences]
    retry_allowed         INTEGER NOT NULL DEFAULT 0,
    rejected_by           TEXT,
    rejected_reason       TEXT,
    rejected_at           INTEGER
);
CREATE INDEX plans_by_key ON plans(key, seq);
CREATE INDEX plans_by_status ON plans(status, seq);
CREATE INDEX plans_expiring ON plans(expires_at) WHERE status IN ('pending', 'approved');

CREATE TABLE approvals (
    plan           TEXT NOT NULL REFERENCES plans(id),
    actor          TEXT NOT NULL,
    at             INTEGER NOT NULL,
    comment        TEXT,
    hash           TEXT NOT NULL,
    signature      TEXT,
    signature_kind TEXT,
    PRIMARY KEY (plan, actor, hash)
) WITHOUT ROWID;

CREATE TABLE executions (
    plan             TEXT NOT NULL REFERENCES plans(id),
    attempt          INTEGER NOT NULL,
    key              TEXT NOT NULL,
    tier             TEXT NOT NULL,
    rule             TEXT,
    actor            TEXT NOT NULL,
    pid              INTEGER,
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    exit_code        INTEGER,
    signal           INTEGER,
    timed_out        INTEGER NOT NULL DEFAULT 0,
    stdout           BLOB,
    stderr           BLOB,
    stdout_bytes     INTEGER NOT NULL DEFAULT 0,
    stderr_bytes     INTEGER NOT NULL DEFAULT 0,
    stdout_sha256    TEXT,
    stderr_sha256    TEXT,
    truncated        INTEGER NOT NULL DEFAULT 0,
    resolved_by      TEXT,
    resolved_outcome TEXT,
    resolved_reason  TEXT,
    resolved_at      INTEGER,
    PRIMARY KEY (plan, attempt)
) WITHOUT ROWID;
CREATE INDEX executions_by_start ON executions(started_at);

CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    plan      TEXT,
    key       TEXT,
    actor     TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX events_by_plan ON events(plan, seq) WHERE plan IS NOT NULL;
CREATE INDEX events_by_key ON events(key, seq) WHERE key IS NOT NULL;

-- The ledger is append-only at the database level, not only by convention.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END;
"#,
    // 2: what a plan runs besides its argv (plan hash version 2), and the
    // verdict it was made under when a stricter policy raised it.
    r#"
ALTER TABLE plans ADD COLUMN cwd_id TEXT;         -- NULL: hashed in version 1
ALTER TABLE plans ADD COLUMN program BLOB;        -- the absolute path apply runs
ALTER TABLE plans ADD COLUMN program_id TEXT;
ALTER TABLE plans ADD COLUMN files BLOB;          -- path NUL id NUL, per bound file
ALTER TABLE plans ADD COLUMN escalated_from TEXT; -- JSON verdict, or NULL
"#,
    // 3: signed decisions. A signature's payload is rebuilt from the row
    // (see signing::payload), so only the armoured signature and the policy
    // digest it signed are kept. `approvals.signature` and
    // `signature_kind` exist since migration 1.
    r#"
ALTER TABLE approvals ADD COLUMN signed_policy TEXT;
ALTER TABLE plans ADD COLUMN rejected_signature TEXT;
ALTER TABLE plans ADD COLUMN rejected_signed_policy TEXT;
ALTER TABLE executions ADD COLUMN resolved_signature TEXT;
ALTER TABLE executions ADD COLUMN resolved_signed_policy TEXT;
"#,
    // 4: metadata (outside the hash), the plan a rollback plan undoes, a
    // plan withdrawn before it ran, and the bound values shown to reviewers.
    r#"
ALTER TABLE plans ADD COLUMN meta TEXT;             -- JSON {key: value}, or NULL
ALTER TABLE plans ADD COLUMN rollback_of TEXT;      -- the id of the plan this one undoes
ALTER TABLE plans ADD COLUMN cancelled_by TEXT;
ALTER TABLE plans ADD COLUMN cancelled_reason TEXT;
ALTER TABLE plans ADD COLUMN cancelled_at INTEGER;
ALTER TABLE plans ADD COLUMN env_shown TEXT;        -- JSON {NAME: value} the policy shows, or NULL
CREATE INDEX plans_by_rollback_of ON plans(rollback_of, seq) WHERE rollback_of IS NOT NULL;
"#,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_append_only_triggers_are_the_ones_the_migrations_create() {
        for (name, sql) in APPEND_ONLY_TRIGGERS {
            assert!(sql.contains(name));
            let created = MIGRATIONS.iter().filter(|m| m.contains(sql)).count();
            assert_eq!(created, 1, "{name} is not created as written");
        }
    }
}

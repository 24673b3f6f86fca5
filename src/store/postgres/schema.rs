//! The PostgreSQL schema, as an append-only list of migrations: the same
//! tables as SQLite's ([`crate::store::schema`]), in PostgreSQL's types.
//!
//! `ladder_meta` marks a database as ladder's and holds how many
//! migrations were applied. A database without it that holds any table is
//! not ladder's and is refused untouched; a newer version is refused rather
//! than guessed at.

/// Appended to, never edited: a database at version N has run the first N.
pub const MIGRATIONS: &[&str] = &[
    // 1: plans, approvals, executions, the hash-chained ledger and its head.
    r#"
CREATE TABLE plans (
    seq                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                     TEXT NOT NULL UNIQUE,
    key                    TEXT NOT NULL,
    hash                   TEXT NOT NULL,
    status                 TEXT NOT NULL,
    tier                   TEXT NOT NULL,
    rule                   TEXT,
    approvals_required     BIGINT NOT NULL,
    command                BYTEA NOT NULL,   -- argv, each element followed by a NUL byte
    cwd                    BYTEA NOT NULL,
    env                    TEXT NOT NULL,    -- JSON {NAME: sha256 hex | null}
    dry_run_command        BYTEA,            -- NULL: planned without a dry-run
    dry_run_exit           INTEGER,
    dry_run_stdout         BYTEA,
    dry_run_stderr         BYTEA,
    dry_run_stdout_sha256  TEXT,
    dry_run_stderr_sha256  TEXT,
    dry_run_stdout_bytes   BIGINT,
    dry_run_stderr_bytes   BIGINT,
    dry_run_truncated      BOOLEAN,
    dry_run_ok             TEXT NOT NULL,    -- JSON [exit codes]
    reason                 TEXT,
    target                 TEXT,
    effect                 TEXT,
    rollback               TEXT,
    confidence             DOUBLE PRECISION,
    actor                  TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    expires_at             BIGINT,
    policy_sha256          TEXT NOT NULL,
    decision               TEXT NOT NULL,    -- JSON [sentences]
    retry_allowed          BOOLEAN NOT NULL DEFAULT false,
    rejected_by            TEXT,
    rejected_reason        TEXT,
    rejected_at            BIGINT,
    cwd_id                 TEXT,
    program                BYTEA,
    program_id             TEXT,
    files                  BYTEA,
    escalated_from         TEXT,
    rejected_signature     TEXT,
    rejected_signed_policy TEXT
);
CREATE INDEX plans_by_key ON plans (key, seq);
CREATE INDEX plans_by_status ON plans (status, seq);
CREATE INDEX plans_expiring ON plans (expires_at) WHERE status IN ('pending', 'approved');

CREATE TABLE approvals (
    plan           TEXT NOT NULL REFERENCES plans (id),
    actor          TEXT NOT NULL,
    at             BIGINT NOT NULL,
    comment        TEXT,
    hash           TEXT NOT NULL,
    signature      TEXT,
    signature_kind TEXT,
    signed_policy  TEXT,
    PRIMARY KEY (plan, actor, hash)
);

CREATE TABLE executions (
    plan                   TEXT NOT NULL REFERENCES plans (id),
    attempt                BIGINT NOT NULL,
    key                    TEXT NOT NULL,
    tier                   TEXT NOT NULL,
    rule                   TEXT,
    actor                  TEXT NOT NULL,
    pid                    BIGINT,
    started_at             BIGINT NOT NULL,
    finished_at            BIGINT,
    exit_code              INTEGER,
    signal                 INTEGER,
    timed_out              BOOLEAN NOT NULL DEFAULT false,
    stdout                 BYTEA,
    stderr                 BYTEA,
    stdout_bytes           BIGINT NOT NULL DEFAULT 0,
    stderr_bytes           BIGINT NOT NULL DEFAULT 0,
    stdout_sha256          TEXT,
    stderr_sha256          TEXT,
    truncated              BOOLEAN NOT NULL DEFAULT false,
    resolved_by            TEXT,
    resolved_outcome       TEXT,
    resolved_reason        TEXT,
    resolved_at            BIGINT,
    resolved_signature     TEXT,
    resolved_signed_policy TEXT,
    PRIMARY KEY (plan, attempt)
);
CREATE INDEX executions_by_start ON executions (started_at);

CREATE TABLE events (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    plan      TEXT,
    key       TEXT,
    actor     TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX events_by_plan ON events (plan, seq) WHERE plan IS NOT NULL;
CREATE INDEX events_by_key ON events (key, seq) WHERE key IS NOT NULL;

-- The chain's head, one row: every append locks it in the transaction of
-- its state change, so appends are serialized and `seq` has no gaps.
CREATE TABLE ledger_head (
    one  BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO ledger_head (seq, hash)
VALUES (0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The ledger is append-only at the database level, not only by convention.
CREATE FUNCTION ladder_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger events are append-only';
END
$$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ladder_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ladder_events_append_only();
"#,
    // 2: one plan holds a key at a time, enforced by the database: two
    // hosts planning one key at once cannot both store a plan for it.
    r#"
CREATE UNIQUE INDEX plans_one_holder_per_key ON plans (key)
    WHERE status NOT IN ('rejected', 'expired', 'denied');
"#,
    // 3: writers take turns on the head row, locked as their transaction
    // begins, where a ladder before this one took an advisory lock instead.
    // The two would not exclude each other, so this version makes the older
    // ladder refuse the database rather than write beside the newer one.
    r#"
COMMENT ON TABLE ledger_head IS 'locked FOR UPDATE by every writer as its transaction begins';
"#,
    // 4: metadata (outside the hash), the plan a rollback plan undoes, and
    // a plan withdrawn before it ran, which no longer holds its key.
    r#"
ALTER TABLE plans
    ADD COLUMN meta TEXT,                -- JSON {key: value}, or NULL
    ADD COLUMN rollback_of TEXT,         -- the id of the plan this one undoes
    ADD COLUMN cancelled_by TEXT,
    ADD COLUMN cancelled_reason TEXT,
    ADD COLUMN cancelled_at BIGINT,
    ADD COLUMN env_shown TEXT;           -- JSON {NAME: value} the policy shows, or NULL
CREATE INDEX plans_by_rollback_of ON plans (rollback_of, seq) WHERE rollback_of IS NOT NULL;
DROP INDEX plans_one_holder_per_key;
CREATE UNIQUE INDEX plans_one_holder_per_key ON plans (key)
    WHERE status NOT IN ('rejected', 'expired', 'denied', 'cancelled');
"#,
];

/// The append-only triggers on `events`: name, and what
/// `pg_get_triggerdef` must say of when it fires.
pub const APPEND_ONLY_TRIGGERS: [(&str, &str); 2] = [
    ("events_no_change", "BEFORE DELETE OR UPDATE ON "),
    ("events_no_truncate", "BEFORE TRUNCATE ON "),
];

/// The trigger function's body, as migration 1 writes it (whitespace aside).
pub const APPEND_ONLY_BODY: &str = "BEGIN RAISE EXCEPTION 'ledger events are append-only'; END";

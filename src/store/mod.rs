//! The state store: the one interface between ladder's rungs and where state
//! lives.
//!
//! Rungs never see SQL. They run their reads and writes inside
//! [`write`] (one transaction: a state change commits together with
//! its ledger event, or neither does) or [`read`], against the
//! [`Tx`] trait. SQLite ([`sqlite::SqliteStore`]) is the implementation
//! today; a PostgreSQL store implements the same two traits, with the ledger
//! append serialized by a row lock on the chain head instead of SQLite's
//! single writer, and passes the same suite (`conformance`, in tests).
//! Which process is running a plan (the run lock) is the store's too: rungs
//! ask [`Store::try_lock_run`] and [`Tx::run_is_live`], never a file.

#[cfg(test)]
pub mod conformance;
pub mod copy;
pub mod postgres;
pub mod schema;
pub mod sqlite;

use crate::error::Result;
use crate::model::{
    Approval, Cancellation, Event, Execution, Millis, NewEvent, Plan, PlanRow, Rejection,
    Resolution, Status, Verdict,
};
use crate::tier::Tier;

/// Filters for reading the ledger.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub plan: Option<String>,
    pub key: Option<String>,
    /// Events at or after this time (inclusive).
    pub since: Option<Millis>,
    /// The newest `limit` events (still returned oldest first); `None`: all.
    pub limit: Option<u64>,
    /// Only events of plans whose metadata holds each of these pairs, as
    /// their `planned` event recorded it (the ledger, not the row, which
    /// whoever can write the state file can edit).
    pub meta: Vec<(String, String)>,
}

/// What a budget counts: applies started in a window, scoped.
#[derive(Debug, Clone)]
pub struct BudgetScope<'a> {
    pub tiers: &'a [Tier],
    pub rule: Option<&'a str>,
    pub actor: Option<&'a str>,
    /// Applies started after this time (exclusive: one that started exactly
    /// a window ago has left it, as "frees up at start + window" says).
    pub since: Millis,
}

/// Reads and writes inside one transaction.
pub trait Tx {
    /// Whether a live process holds `plan`'s run lock: it is running the
    /// plan's command right now. A `running` plan nobody holds was
    /// interrupted (its ladder died).
    fn run_is_live(&mut self, plan: &Plan) -> Result<bool>;
    /// A plan with its approvals, rejection and latest execution.
    fn plan(&mut self, id: &str) -> Result<Option<Plan>>;
    /// Ids starting with `prefix` (at most `limit`).
    fn plan_ids_with_prefix(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>>;
    /// The newest plan for `key`, whatever its status.
    fn latest_plan_for_key(&mut self, key: &str) -> Result<Option<Plan>>;
    /// Plans, newest last. `statuses` empty: all.
    fn plans(&mut self, statuses: &[Status], limit: Option<u64>) -> Result<Vec<Plan>>;
    /// Plans in an expiring state whose window ended at or before `now`,
    /// oldest first.
    fn plans_due_to_expire(&mut self, now: Millis) -> Result<Vec<Plan>>;

    /// Stores a new plan (approvals, rejection and execution are ignored);
    /// returns its row number.
    fn insert_plan(&mut self, plan: &Plan) -> Result<i64>;
    fn set_status(&mut self, id: &str, status: Status, expires_at: Option<Millis>) -> Result<()>;
    /// Raises a plan's verdict to `to` (a stricter policy is in force),
    /// keeping `from`, the verdict it was planned under, and the sentences
    /// that say why.
    fn escalate(
        &mut self,
        id: &str,
        to: &Verdict,
        from: &Verdict,
        decision: &[String],
    ) -> Result<()>;
    fn set_retry_allowed(&mut self, id: &str, allowed: bool) -> Result<()>;
    fn insert_approval(&mut self, plan: &str, approval: &Approval) -> Result<()>;
    fn set_rejection(&mut self, plan: &str, rejection: &Rejection) -> Result<()>;
    fn set_cancellation(&mut self, plan: &str, cancellation: &Cancellation) -> Result<()>;

    /// Records that an attempt started (finished_at and outcome empty).
    fn insert_execution(&mut self, exec: &Execution, tier: Tier, rule: Option<&str>) -> Result<()>;
    /// Records the outcome of an attempt.
    fn finish_execution(&mut self, exec: &Execution) -> Result<()>;
    fn resolve_execution(
        &mut self,
        plan: &str,
        attempt: u32,
        resolution: &Resolution,
        exit_code: Option<i32>,
    ) -> Result<()>;
    /// Number of attempts of a plan so far.
    fn execution_count(&mut self, plan: &str) -> Result<u32>;
    /// Applies that started within a budget's scope, and the earliest start
    /// among them (when the budget frees up).
    fn budget_usage(&mut self, scope: &BudgetScope) -> Result<(u32, Option<Millis>)>;

    /// Appends an event to the ledger, chaining it to the current head.
    fn append_event(&mut self, event: &NewEvent) -> Result<Event>;
    fn events(&mut self, filter: &EventFilter) -> Result<Vec<Event>>;
    /// Every event in order, one at a time (memory stays flat).
    fn for_each_event(&mut self, f: &mut dyn FnMut(Event) -> Result<()>) -> Result<()>;
    /// The newest event of `kind` about `plan`.
    fn last_event_of(&mut self, plan: &str, kind: &str) -> Result<Option<Event>>;
    /// Every plan row's checked columns, in order, one at a time.
    fn for_each_plan_row(&mut self, f: &mut dyn FnMut(PlanRow) -> Result<()>) -> Result<()>;
    /// Whether the database still refuses UPDATE and DELETE on events: each
    /// of the schema's triggers is there, as the schema wrote it. `Err`
    /// names the first that is missing or altered.
    /// Every approval that carries a signature, with its plan's id, for
    /// `log --verify` to check each against what it claims to sign.
    fn for_each_signed_approval(
        &mut self,
        f: &mut dyn FnMut(&str, Approval) -> Result<()>,
    ) -> Result<()>;
    fn ledger_is_append_only(&mut self) -> Result<std::result::Result<(), String>>;

    /// Every execution (every attempt of every plan), with the tier and
    /// rule it was started under, in order: what `state copy` carries.
    fn for_each_execution(
        &mut self,
        f: &mut dyn FnMut(Execution, Tier, Option<String>) -> Result<()>,
    ) -> Result<()>;
    /// Appends `event` exactly as it is (its seq, time and hashes): it must
    /// be the next link of this ledger's chain. For `state copy`, which
    /// carries a ledger whole.
    fn copy_event(&mut self, event: &Event) -> Result<()>;
}

/// Where state lives.
pub trait Store {
    /// Where this store is, for people: a path (a URL without its
    /// password, for a server).
    fn location(&self) -> String;
    /// Takes `plan`'s run lock unless a live process holds it. It is held
    /// while the guard lives, and released by the system when the holder
    /// dies however it dies: no timers, no heartbeats.
    fn try_lock_run(&mut self, plan: &Plan) -> Result<Option<RunGuard>>;
    /// Whether this store is open for reading only (a state file this user
    /// may not write): rungs that read then show what is stored, without
    /// settling windows that passed, and every write is refused.
    fn read_only(&self) -> bool {
        false
    }
    /// What the store has to tell people (a state file on a network
    /// filesystem, a checkpoint that failed), once: the caller shows it.
    fn take_warnings(&mut self) -> Vec<String>;
    /// Whether the location now names another store than the one open (its
    /// file deleted, or replaced by a restored backup): a long-lived caller
    /// then opens what is there, as a fresh `ladder` would, instead of
    /// writing into state no reviewer can see.
    fn was_replaced(&self) -> bool;
    /// Runs `f` in one write transaction, serialized with every other writer;
    /// commits when it returns `Ok`, rolls back otherwise.
    fn write_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;
    /// Like [`Store::write_tx`], and the commit is on stable storage
    /// before this returns, everything before it included. Used for the
    /// `running` record, which must survive a power cut before the command
    /// starts. Ordinary writes may lose their latest commits to a power cut
    /// (never to a crash of ladder), leaving earlier state and the ledger
    /// chain intact.
    fn write_durable_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;
    /// Runs `f` against a consistent read snapshot.
    fn read_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;
    /// How far the store's clock is ahead of this machine's, when the
    /// store has a clock of its own (a server): every host sharing it then
    /// keeps time by it.
    fn clock_offset(&self) -> Option<Millis> {
        None
    }
    /// Whether `guard` (from [`Store::try_lock_run`] for `plan`) still
    /// holds the run lock. A lock in the operating system holds while its
    /// holder lives; a server's is lost with the connection holding it.
    fn run_lock_held(&mut self, _plan: &Plan, _guard: &mut RunGuard) -> Result<bool> {
        Ok(true)
    }
    /// Waits up to `timeout` for another writer's commit (a poll's pause
    /// where the store cannot say; sooner where it can).
    fn wait_for_change(&mut self, timeout: std::time::Duration) -> Result<()> {
        std::thread::sleep(timeout);
        Ok(())
    }
}

/// A held run lock (see [`Store::try_lock_run`]), whatever holds it for
/// the store: released when dropped.
pub struct RunGuard {
    _held: Box<dyn std::any::Any>,
}

impl RunGuard {
    pub fn new(held: impl std::any::Any) -> RunGuard {
        RunGuard {
            _held: Box::new(held),
        }
    }

    /// What the store put in it.
    pub fn held_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self._held.downcast_mut()
    }
}

/// Where the state is: a SQLite file, or a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(std::path::PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Location {
    /// `--state` or `LADDER_STATE`: a URL names a server, anything else a file.
    pub fn parse(text: &std::ffi::OsStr) -> Location {
        match text.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Location::Postgres(url.to_string())
            }
            _ => Location::File(std::path::PathBuf::from(text)),
        }
    }

    /// Whether there is state yet (a server is asked when opened).
    pub fn exists(&self) -> bool {
        match self {
            Location::File(p) => p.exists(),
            Location::Postgres(_) => true,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => write!(f, "{}", postgres::redact(url)),
        }
    }
}

/// Opens (and creates, when it is a new file or an empty database) the
/// store at `location`. Only a URL connects to a server.
pub fn open(location: &Location) -> Result<Box<dyn Store>> {
    match location {
        Location::File(path) => Ok(Box::new(sqlite::SqliteStore::open(path)?)),
        Location::Postgres(url) => Ok(Box::new(postgres::PgStore::open(url)?)),
    }
}

/// Runs `f` through one of the store's transaction methods and hands back
/// what it returned.
fn returning<T>(
    run: impl FnOnce(&mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>,
    mut f: impl FnMut(&mut dyn Tx) -> Result<T>,
) -> Result<T> {
    let mut out = None;
    run(&mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| {
        crate::error::Error::new(crate::error::Kind::Error, "transaction produced no result")
    })
}

/// [`Store::write_tx`] with a return value.
pub fn write<T>(store: &mut dyn Store, f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    returning(|g| store.write_tx(g), f)
}

/// [`Store::write_durable_tx`] with a return value.
pub fn write_durable<T>(
    store: &mut dyn Store,
    f: impl FnMut(&mut dyn Tx) -> Result<T>,
) -> Result<T> {
    returning(|g| store.write_durable_tx(g), f)
}

/// [`Store::read_tx`] with a return value.
pub fn read<T>(store: &mut dyn Store, f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    returning(|g| store.read_tx(g), f)
}

//! The SQLite store.
//!
//! # Locking
//!
//! The database is in WAL mode: readers never block the writer. Every write
//! transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front,
//! so two writers never both read and then both try to upgrade (the classic
//! SQLITE_BUSY deadlock). Before that, ladder's writers wait their turn in
//! [`super::write_queue`], asleep in the kernel; a writer outside the queue
//! is waited for in SQLite's busy handler, for up to [`BUSY_TIMEOUT`] each.
//! Commits run with `synchronous = NORMAL`: atomic, and safe from any crash
//! of ladder. The `running` record must also survive a power cut before its
//! command starts, so `write_durable_tx` syncs the WAL after that commit.
//!
//! # Compatibility
//!
//! See [`super::schema`]. A file that is not a SQLite database, is not
//! ladder's, or comes from a newer ladder is refused with one line and never
//! written to.
//!
//! # Performance
//!
//! Opening checks the schema with one pragma read; migrations run only when
//! the version is behind. Statements go through `prepare_cached`.

use super::schema::{APPEND_ONLY_TRIGGERS, APPLICATION_ID, MIGRATIONS};
use super::write_queue::WriteQueue;
use super::{BudgetScope, EventFilter, Store, Tx};
use crate::binding::{Binding, BoundFile};
use crate::error::{Error, Kind, Result};
use crate::ledger;
use crate::model::{
    Approval, DryRun, Event, Execution, Millis, NewEvent, Outcome, Plan, PlanRow, Rejection,
    Resolution, Status, Verdict,
};
use crate::tier::Tier;
use anyhow::Context as _;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::ffi::c_int;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// How long a writer waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// WAL size (frames, one page each) at which a commit copies the WAL into
/// the database and starts it over. Every opener re-reads the live part of
/// the WAL (see [`SqliteStore::checkpoint_if_due`]), so a short WAL keeps
/// opens cheap, while each copy costs two fsyncs; a `plan` writes about 8
/// frames. Measured in BENCHMARKS.md.
const WAL_RESTART_FRAMES: i32 = 64;

thread_local! {
    /// When the current write must stop waiting, set by `write_tx` so that
    /// the writers' queue and SQLite's lock share one [`BUSY_TIMEOUT`].
    static WRITE_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// When the current wait for SQLite's lock began (its first retry).
    static WAIT_BEGAN: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Called by SQLite while the database is locked by another writer:
/// sleep a little and retry, until the write's deadline or, outside a
/// write, [`BUSY_TIMEOUT`] after the wait began. Measured in real time:
/// each sleep lasts longer than asked.
fn busy_wait(attempt: i32) -> bool {
    const STEP: Duration = Duration::from_micros(250);
    let now = Instant::now();
    // SQLite numbers the retries of each wait from 0.
    if attempt == 0 {
        WAIT_BEGAN.with(|b| b.set(Some(now)));
    }
    let began = WAIT_BEGAN.with(Cell::get).unwrap_or(now);
    let deadline = WRITE_DEADLINE
        .with(Cell::get)
        .unwrap_or(began + BUSY_TIMEOUT);
    if now >= deadline {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// Frames in the WAL after this connection's latest commit, as SQLite's
    /// WAL hook reports them.
    wal_frames: Arc<AtomicI32>,
    /// Where this process waits its turn to write; set up at its first
    /// write.
    queue: Option<WriteQueue>,
}

impl SqliteStore {
    /// Opens the state file at `path`, creating it (and its directory) when
    /// it does not exist yet.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        // SQLite's names for a database that lives in memory or in a
        // temporary file: the ledger would vanish with the process.
        if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
            return Err(Error::new(
                Kind::Error,
                format!(
                    "state path `{}` is not a file: ladder's state must outlive the process",
                    path.display()
                ),
            )
            .with_hint("give a file path, e.g. --state DIR/state.db"));
        }
        // Only a regular file (or a symlink to one) can hold the state:
        // SQLite would open a device or a FIFO as a database and create its
        // journal beside it (`--state /dev/null` made `/dev/null-journal`).
        if let Ok(meta) = std::fs::metadata(path) {
            if let Some(kind) = not_a_regular_file(&meta.file_type()) {
                return Err(Error::new(
                    Kind::Error,
                    format!(
                        "state path {} is {kind}, not a regular file",
                        path.display()
                    ),
                )
                .with_hint("give a file path, e.g. --state DIR/state.db"));
            }
        }
        if let Some(file) = path.ancestors().skip(1).find(|a| a.is_file()) {
            return Err(Error::new(
                Kind::Error,
                format!(
                    "state path {} is under {}, which is a file, not a directory",
                    path.display(),
                    file.display()
                ),
            ));
        }
        let exists = path.exists();
        if !exists {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("failed to create state directory {}", dir.display())
                })?;
            }
        }
        let flags = if exists {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("failed to open state file {}", path.display()))?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            wal_frames: Arc::new(AtomicI32::new(0)),
            queue: None,
        };
        let version = store.configure()?;
        store.migrate(version)?;
        if let Some(fs) = network_filesystem(path) {
            crate::render::note(format_args!(
                "ladder: warning: state file {} is on a network filesystem ({fs}); SQLite locking is unreliable there, keep state on a local disk",
                path.display()
            ));
        }
        Ok(store)
    }

    fn bad_state(&self, why: impl std::fmt::Display) -> Error {
        Error::new(
            Kind::Error,
            format!("state file {} {why}", self.path.display()),
        )
        .with_hint("point --state at a ladder state file, or move this one aside")
    }

    /// Sets the connection up and returns the schema version it found.
    fn configure(&mut self) -> Result<i64> {
        // SQLite's own busy timeout sleeps in steps of up to 100 ms, which
        // turns a few milliseconds of contention into a tenth of a second.
        // Poll in small steps instead, up to the same overall limit.
        self.conn
            .busy_handler(Some(busy_wait))
            .context("failed to set busy handler")?;
        // The first read of the header is where a file that is not a
        // database, or a truncated one, shows itself.
        let (version, app_id, objects): (i64, i32, i64) = self
            .conn
            .query_row(
                "SELECT (SELECT user_version FROM pragma_user_version),
                        (SELECT application_id FROM pragma_application_id),
                        (SELECT count(*) FROM sqlite_schema)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| match e.sqlite_error_code() {
                // Locked for longer than the busy timeout is not corruption.
                Some(rusqlite::ErrorCode::DatabaseBusy)
                | Some(rusqlite::ErrorCode::DatabaseLocked) => Error::new(
                    Kind::Error,
                    format!(
                        "state file {} stayed locked by another process ({e})",
                        self.path.display()
                    ),
                ),
                _ => self.bad_state(format_args!("is not a readable database ({e})")),
            })?;
        let fresh = version == 0 && app_id == 0 && objects == 0;
        if !fresh && app_id != APPLICATION_ID {
            return Err(self.bad_state("is a SQLite database but not a ladder state file"));
        }
        if version > MIGRATIONS.len() as i64 {
            return Err(Error::new(
                Kind::Error,
                format!(
                    "state file {} has schema version {version}, newer than this ladder understands ({})",
                    self.path.display(),
                    MIGRATIONS.len()
                ),
            )
            .with_hint("upgrade ladder, or use the ladder that wrote it"));
        }
        if fresh {
            self.enable_wal()?;
        }
        // NORMAL in WAL mode: commits are atomic and survive a crash of
        // ladder; a power cut may lose the latest ones. The commit that must
        // reach the disk (the `running` record) goes through
        // `write_durable_tx`, which syncs the WAL after it.
        // The WAL file keeps its size when it starts over; after a burst of
        // concurrent writers it can be tens of megabytes. Past 1 MiB it is
        // cut back the next time it starts over (normally it stays ~0.3 MiB).
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 1048576;")
            .context("failed to configure state database")?;
        // Each ladder process is usually the only connection, so by default
        // every close would checkpoint the WAL into the database (with two
        // fsyncs) and the next open would recreate it. Instead the WAL stays
        // until it reaches WAL_RESTART_FRAMES; see `checkpoint_if_due`.
        // (Copy the state with `sqlite3 state.db .backup`, or together with
        // its -wal file.)
        self.conn
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )
            .context("failed to configure state database")?;
        // Replaces SQLite's autocheckpoint, which uses the same hook.
        let frames = Arc::clone(&self.wal_frames);
        self.conn
            .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: c_int| {
                frames.store(n, Ordering::Relaxed);
                Ok(())
            }))
            .context("failed to configure state database")?;
        Ok(version)
    }

    /// WAL is a property of the file: set once, kept forever. Two processes
    /// creating the same new state file race here; switching the journal
    /// mode needs an exclusive lock and SQLite answers SQLITE_BUSY at once
    /// rather than waiting, so retry until one of them has done it.
    fn enable_wal(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            let mode: rusqlite::Result<String> =
                self.conn
                    .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0));
            match mode {
                Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
                Ok(_) | Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(m) => {
                    return Err(Error::new(
                        Kind::Error,
                        format!(
                            "state file {} stays in {m} mode, not WAL",
                            self.path.display()
                        ),
                    ));
                }
                Err(e) => {
                    return Err(Error::new(
                        Kind::Error,
                        format!("failed to enable WAL on {}: {e}", self.path.display()),
                    ));
                }
            }
        }
    }

    /// Brings the schema from `current` (as `configure` read it) up to date.
    fn migrate(&mut self, current: i64) -> Result<()> {
        if current >= MIGRATIONS.len() as i64 {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .with_context(|| format!("failed to lock state file {}", self.path.display()))?;
        // Re-read under the lock: another process may have migrated meanwhile.
        let current: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .context("failed to read schema version")?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql)
                .with_context(|| format!("failed to apply state migration {}", i + 1))?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .context("failed to mark state file")?;
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
            .context("failed to record schema version")?;
        tx.commit()
            .with_context(|| format!("failed to write state file {}", self.path.display()))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_context(&self, e: rusqlite::Error) -> Error {
        let readonly = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly) | Some(rusqlite::ErrorCode::CannotOpen)
        );
        if readonly {
            Error::new(
                Kind::Error,
                format!("state file {} is read-only ({e})", self.path.display()),
            )
            .with_hint("check the file's permissions, or point --state elsewhere")
        } else {
            Error::new(
                Kind::Error,
                format!("failed to write state file {}: {e}", self.path.display()),
            )
        }
    }
}

/// The plans whose window has passed, read at every write. The index is
/// named because, without statistics, SQLite prefers `plans_by_status` for
/// the IN term and reads every live plan: 10 ms a command with 40,000
/// approved plans nobody applied (BENCHMARKS.md, seventh session). The
/// partial index holds only live plans, in the order their windows end.
const DUE_TO_EXPIRE: &str = "INDEXED BY plans_expiring \
     WHERE status IN ('pending', 'approved') AND expires_at <= ?1 ORDER BY seq";

impl SqliteStore {
    /// Once the WAL holds [`WAL_RESTART_FRAMES`]: copies it into the
    /// database and starts it over, without waiting for other processes.
    ///
    /// Why not SQLite's autocheckpoint: it copies the WAL into the database
    /// but leaves starting the WAL over to the next writer that shares this
    /// connection's `-shm` index. A ladder process is usually the only one
    /// open, so the next process rebuilds the index from the WAL file, which
    /// forgets what was already copied, and no writer ever starts the WAL
    /// over. It then grows with every `plan`, and every process re-reads all
    /// of it and copies all of it again (measured: 12 ms a `plan` after 400
    /// plans).
    ///
    /// So the restart happens here, in the process that copied: once all of
    /// the WAL is in the database, this connection's next write starts the
    /// WAL over from its first frame under a new salt, and the frames after
    /// it stop counting for the next opener. The smallest write there is,
    /// the schema version set to itself, makes it happen now. The file keeps
    /// its blocks, so later commits overwrite rather than grow it, which
    /// keeps `apply`'s synchronous commit cheap (truncating the file instead
    /// measured 0.1 ms slower there).
    ///
    /// If another process is reading or writing, SQLite copies what it can
    /// and a later commit finishes the job. Nothing here fails the command,
    /// whose own commit is already done; anything worse than "busy" is
    /// reported as a warning.
    fn checkpoint_if_due(&mut self) {
        if self.wal_frames.load(Ordering::Relaxed) < WAL_RESTART_FRAMES {
            return;
        }
        self.wal_frames.store(0, Ordering::Relaxed);
        let _ = self.conn.busy_handler(None::<fn(i32) -> bool>);
        let result = self
            .conn
            .wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
            .and_then(|(frames, copied)| match frames == copied {
                true => self.rewrite_schema_version(),
                false => Ok(()),
            });
        let _ = self.conn.busy_handler(Some(busy_wait));
        if let Err(e) = result {
            let busy = matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            if !busy {
                crate::render::note(format_args!(
                    "ladder: warning: could not checkpoint {}: {e}",
                    self.path.display()
                ));
            }
        }
    }

    /// Writes the schema version back unchanged. Read under the write lock,
    /// not taken from this binary: a newer ladder may have migrated the file
    /// since this one opened it.
    fn rewrite_schema_version(&mut self) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()
    }

    /// [`Store::write_tx`] once this process has its turn.
    fn write_tx_in_turn(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| {
                Error::new(
                    Kind::Error,
                    format!("failed to lock state file {}: {e}", self.path.display()),
                )
            })?;
        f(&mut SqliteTx { conn: &tx })?;
        match tx.commit() {
            Ok(()) => {
                self.checkpoint_if_due();
                Ok(())
            }
            Err(e) => Err(self.write_context(e)),
        }
    }

    /// Makes every commit so far durable; see [`Store::write_durable_tx`].
    fn sync(&self) -> Result<()> {
        sync_wal(&self.conn).map_err(|e| {
            Error::new(
                Kind::Error,
                format!("failed to sync state file {}: {e}", self.path.display()),
            )
            .with_hint(
                "nothing was run after this commit; a plan it marked running shows as \
                 interrupted: fix the disk, then `ladder resolve PLAN --outcome retry` lets it run",
            )
        })
    }

    fn set_synchronous(&self, mode: &str) -> Result<()> {
        self.conn
            .execute_batch(&format!("PRAGMA synchronous = {mode}"))
            .context("failed to set synchronous mode")?;
        Ok(())
    }
}

/// Syncs the connection's WAL file through SQLite's own file handle, as a
/// `synchronous = FULL` commit does inside the commit: the same fsync, and
/// on a process's first sync of the WAL the directory too, so a WAL file
/// created since is found after a power cut. (ladder never sets `PRAGMA
/// fullfsync`, which only changes anything on macOS.)
fn sync_wal(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::ffi;
    // A disk that fails its sync, for the tests (debug builds only).
    if cfg!(debug_assertions) && std::env::var_os("LADDER_TEST_FAIL_SYNC").is_some() {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_IOERR_FSYNC),
            None,
        ));
    }
    let rc = match wal_file(conn) {
        // SAFETY: the handle's own sync method, called on the handle.
        Some((file, methods)) => match methods.xSync {
            Some(sync) => unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) },
            None => ffi::SQLITE_MISUSE,
        },
        None => ffi::SQLITE_MISUSE,
    };
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None)),
    }
}

/// The WAL's open file handle and its methods; `None` when the connection
/// has no WAL open (not in WAL mode, or not opened yet).
fn wal_file(
    conn: &Connection,
) -> Option<(
    *mut rusqlite::ffi::sqlite3_file,
    &rusqlite::ffi::sqlite3_io_methods,
)> {
    use rusqlite::ffi;
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: the connection is open and used by this thread only. The file
    // control writes one pointer into `file`: the journal's handle (the
    // WAL's in WAL mode), which SQLite owns and keeps while the connection
    // lives.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_JOURNAL_POINTER,
            (&raw mut file).cast(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return None;
    }
    // SAFETY: `file` is null or SQLite's live handle; a handle whose file is
    // not open has no method table.
    let methods = unsafe { file.as_ref()?.pMethods.as_ref()? };
    Some((file, methods))
}

impl Store for SqliteStore {
    /// Commits like any write, then syncs the WAL once the write lock and
    /// the turn are given back. The other writers' commits then no longer
    /// wait for this fsync (with `synchronous = FULL` they did, in
    /// SQLite's write lock), and the `synchronous` pragma is not switched
    /// twice around every `apply`. Until the sync returns the commit is
    /// as durable as any other, and the caller does not act on it before:
    /// the command starts only after this returns `Ok`.
    ///
    /// Nothing is lost between the commit and the sync: frames in the WAL
    /// stay there until a checkpoint has copied them into the database,
    /// and a checkpoint syncs the WAL before copying and the database
    /// before the WAL starts over.
    ///
    /// A state file that is not in WAL mode (a copy made with `VACUUM
    /// INTO`, a journal mode changed by hand) has no WAL to sync: there the
    /// commit itself is made with `synchronous = FULL`.
    fn write_durable_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        if wal_file(&self.conn).is_none() {
            self.set_synchronous("FULL")?;
            let result = self.write_tx(f);
            self.set_synchronous("NORMAL")?;
            return result;
        }
        self.write_tx(f)?;
        self.sync()
    }

    fn write_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let deadline = Instant::now() + BUSY_TIMEOUT;
        // Held until after the commit and any checkpoint: starting the WAL
        // over needs a moment with no other writer.
        let _turn = self
            .queue
            .get_or_insert_with(|| WriteQueue::new(&self.path))
            .turn(BUSY_TIMEOUT)
            .map_err(|_| {
                Error::new(
                    Kind::Error,
                    format!(
                        "failed to lock state file {}: another process held the write turn ({}) for {}s",
                        self.path.display(),
                        crate::runlock::lock_path(&self.path).display(),
                        BUSY_TIMEOUT.as_secs()
                    ),
                )
            })?;
        WRITE_DEADLINE.with(|d| d.set(Some(deadline)));
        let result = self.write_tx_in_turn(f);
        WRITE_DEADLINE.with(|d| d.set(None));
        result
    }

    fn read_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .context("failed to read state")?;
        f(&mut SqliteTx { conn: &tx })?;
        tx.finish().context("failed to read state")?;
        Ok(())
    }
}

struct SqliteTx<'a> {
    conn: &'a Connection,
}

fn db(e: rusqlite::Error) -> Error {
    let write = matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly));
    if write {
        Error::new(Kind::Error, format!("state file is read-only ({e})"))
            .with_hint("check the file's permissions, or point --state elsewhere")
    } else {
        Error::new(Kind::Error, format!("state database error: {e}"))
    }
}

fn encode_argv(argv: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in argv {
        out.extend_from_slice(a.as_bytes());
        out.push(0);
    }
    out
}

fn decode_argv(bytes: &[u8]) -> Vec<OsString> {
    let mut parts: Vec<OsString> = bytes
        .split(|b| *b == 0)
        .map(|p| OsString::from_vec(p.to_vec()))
        .collect();
    // Every element is NUL-terminated, so the split leaves one empty tail.
    parts.pop();
    parts
}

fn corrupt(what: &str, value: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("corrupt {what}: {value}").into(),
    )
}

const PLAN_COLUMNS: &str =
    "seq, id, key, hash, status, tier, rule, approvals_required, command, cwd, env,
    dry_run_command, dry_run_exit, dry_run_stdout, dry_run_stderr, dry_run_stdout_sha256,
    dry_run_stderr_sha256, dry_run_stdout_bytes, dry_run_stderr_bytes, dry_run_truncated,
    dry_run_ok, reason, target, effect, rollback, confidence, actor, created_at, expires_at,
    policy_sha256, decision, retry_allowed, rejected_by, rejected_reason, rejected_at,
    cwd_id, program, program_id, files, escalated_from";

fn plan_from_row(r: &Row) -> rusqlite::Result<Plan> {
    let status: String = r.get("status")?;
    let tier: String = r.get("tier")?;
    let env: String = r.get("env")?;
    let dry_run_ok: String = r.get("dry_run_ok")?;
    let decision: String = r.get("decision")?;
    let dry_cmd: Option<Vec<u8>> = r.get("dry_run_command")?;
    let dry_run = match dry_cmd {
        None => None,
        Some(cmd) => Some(DryRun {
            command: decode_argv(&cmd),
            exit_code: r.get("dry_run_exit")?,
            stdout: r
                .get::<_, Option<Vec<u8>>>("dry_run_stdout")?
                .unwrap_or_default(),
            stderr: r
                .get::<_, Option<Vec<u8>>>("dry_run_stderr")?
                .unwrap_or_default(),
            stdout_sha256: r.get("dry_run_stdout_sha256")?,
            stderr_sha256: r.get("dry_run_stderr_sha256")?,
            stdout_bytes: r.get::<_, i64>("dry_run_stdout_bytes")? as u64,
            stderr_bytes: r.get::<_, i64>("dry_run_stderr_bytes")? as u64,
            truncated: r.get("dry_run_truncated")?,
        }),
    };
    let cwd_id: Option<String> = r.get("cwd_id")?;
    let binding = match cwd_id {
        None => None,
        Some(cwd_id) => Some(Binding {
            program: BoundFile {
                path: path_column(r, "program")?.unwrap_or_default(),
                id: r
                    .get::<_, Option<String>>("program_id")?
                    .unwrap_or_default(),
            },
            files: decode_files(&r.get::<_, Option<Vec<u8>>>("files")?.unwrap_or_default())
                .map_err(|e| corrupt("files", e))?,
            cwd_id,
        }),
    };
    let escalated_from = match r.get::<_, Option<String>>("escalated_from")? {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("escalated_from", e))?),
    };
    let rejected_by: Option<String> = r.get("rejected_by")?;
    let rejection = match rejected_by {
        Some(actor) => Some(Rejection {
            actor,
            reason: r.get("rejected_reason")?,
            at: r.get("rejected_at")?,
        }),
        None => None,
    };
    Ok(Plan {
        seq: r.get("seq")?,
        id: r.get("id")?,
        key: r.get("key")?,
        hash: r.get("hash")?,
        status: status.parse().map_err(|e| corrupt("status", e))?,
        tier: tier.parse().map_err(|e| corrupt("tier", e))?,
        rule: r.get("rule")?,
        approvals_required: r.get("approvals_required")?,
        approvals: Vec::new(),
        command: decode_argv(&r.get::<_, Vec<u8>>("command")?),
        cwd: PathBuf::from(OsString::from_vec(r.get::<_, Vec<u8>>("cwd")?)),
        env: serde_json::from_str::<BTreeMap<String, Option<String>>>(&env)
            .map_err(|e| corrupt("env", e))?,
        dry_run,
        dry_run_ok: serde_json::from_str(&dry_run_ok).map_err(|e| corrupt("dry_run_ok", e))?,
        reason: r.get("reason")?,
        target: r.get("target")?,
        effect: r.get("effect")?,
        rollback: r.get("rollback")?,
        confidence: r.get("confidence")?,
        actor: r.get("actor")?,
        created_at: r.get("created_at")?,
        expires_at: r.get("expires_at")?,
        rejection,
        execution: None,
        policy_sha256: r.get("policy_sha256")?,
        decision: serde_json::from_str(&decision).map_err(|e| corrupt("decision", e))?,
        retry_allowed: r.get("retry_allowed")?,
        binding,
        escalated_from,
        in_force: None,
    })
}

/// Bound files as stored: each path and identity followed by a NUL byte
/// (a path holds no NUL; an identity is digits and colons).
fn encode_files(files: &[BoundFile]) -> Vec<u8> {
    let parts: Vec<OsString> = files
        .iter()
        .flat_map(|f| [f.path.clone().into_os_string(), OsString::from(&f.id)])
        .collect();
    encode_argv(&parts)
}

fn decode_files(bytes: &[u8]) -> std::result::Result<Vec<BoundFile>, String> {
    let mut parts = decode_argv(bytes).into_iter();
    let mut out = vec![];
    while let Some(path) = parts.next() {
        let id = parts
            .next()
            .and_then(|id| id.into_string().ok())
            .ok_or("a path without its identity")?;
        out.push(BoundFile {
            path: PathBuf::from(path),
            id,
        });
    }
    Ok(out)
}

fn path_column(r: &Row, name: &str) -> rusqlite::Result<Option<PathBuf>> {
    Ok(r.get::<_, Option<Vec<u8>>>(name)?
        .map(|b| PathBuf::from(OsString::from_vec(b))))
}

fn execution_from_row(r: &Row) -> rusqlite::Result<Execution> {
    let resolved_by: Option<String> = r.get("resolved_by")?;
    let resolution = match resolved_by {
        None => None,
        Some(actor) => {
            let outcome: String = r.get("resolved_outcome")?;
            Some(Resolution {
                actor,
                outcome: match outcome.as_str() {
                    "succeeded" => Outcome::Succeeded,
                    "failed" => Outcome::Failed,
                    "retry" => Outcome::Retry,
                    other => return Err(corrupt("resolution", other)),
                },
                reason: r.get("resolved_reason")?,
                at: r.get("resolved_at")?,
            })
        }
    };
    Ok(Execution {
        plan: r.get("plan")?,
        key: r.get("key")?,
        attempt: r.get("attempt")?,
        actor: r.get("actor")?,
        pid: r.get("pid")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        exit_code: r.get("exit_code")?,
        signal: r.get("signal")?,
        timed_out: r.get("timed_out")?,
        stdout: r.get::<_, Option<Vec<u8>>>("stdout")?.unwrap_or_default(),
        stderr: r.get::<_, Option<Vec<u8>>>("stderr")?.unwrap_or_default(),
        stdout_bytes: r.get::<_, i64>("stdout_bytes")? as u64,
        stderr_bytes: r.get::<_, i64>("stderr_bytes")? as u64,
        stdout_sha256: r.get("stdout_sha256")?,
        stderr_sha256: r.get("stderr_sha256")?,
        truncated: r.get("truncated")?,
        resolution,
    })
}

fn event_from_row(r: &Row) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        plan: r.get(3)?,
        key: r.get(4)?,
        actor: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

const EVENT_COLUMNS: &str = "seq, at, kind, plan, key, actor, detail, prev_hash, hash";

impl SqliteTx<'_> {
    /// Fills in approvals and the latest execution for a batch of plans:
    /// two queries in all, not two per plan.
    fn complete(&self, mut plans: Vec<Plan>) -> Result<Vec<Plan>> {
        if plans.is_empty() {
            return Ok(plans);
        }
        let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
        let ids = json(&ids);
        let mut approvals: HashMap<String, Vec<Approval>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT plan, actor, at, comment, hash, signature, signature_kind FROM approvals
                 WHERE plan IN (SELECT value FROM json_each(?1)) ORDER BY at, actor",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([&ids], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Approval {
                        actor: r.get(1)?,
                        at: r.get(2)?,
                        comment: r.get(3)?,
                        hash: r.get(4)?,
                        signature: r.get(5)?,
                        signature_kind: r.get(6)?,
                    },
                ))
            })
            .map_err(db)?;
        for row in rows {
            let (plan, approval) = row.map_err(db)?;
            approvals.entry(plan).or_default().push(approval);
        }
        let mut executions: HashMap<String, Execution> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.* FROM executions e
                 WHERE e.plan IN (SELECT value FROM json_each(?1))
                   AND e.attempt = (SELECT max(attempt) FROM executions WHERE plan = e.plan)",
            )
            .map_err(db)?;
        let rows = stmt.query_map([&ids], execution_from_row).map_err(db)?;
        for row in rows {
            let exec = row.map_err(db)?;
            executions.insert(exec.plan.clone(), exec);
        }
        for plan in &mut plans {
            plan.approvals = approvals.remove(&plan.id).unwrap_or_default();
            plan.execution = executions.remove(&plan.id);
        }
        Ok(plans)
    }

    fn plans_where(&self, sql_tail: &str, params: impl rusqlite::Params) -> Result<Vec<Plan>> {
        let sql = format!("SELECT {PLAN_COLUMNS} FROM plans {sql_tail}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db)?;
        let rows: Vec<Plan> = stmt
            .query_map(params, plan_from_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        self.complete(rows)
    }
}

impl Tx for SqliteTx<'_> {
    fn plan(&mut self, id: &str) -> Result<Option<Plan>> {
        Ok(self.plans_where("WHERE id = ?1", [id])?.into_iter().next())
    }

    fn plan_ids_with_prefix(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        // Ids are lowercase hex UUIDs; a range scan on the unique index
        // finds prefixes without LIKE's escaping pitfalls.
        let mut upper = prefix.to_string();
        upper.push('\u{10FFFF}');
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM plans WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3")
            .map_err(db)?;
        let ids = stmt
            .query_map(params![prefix, upper, limit as i64], |r| r.get(0))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        Ok(ids)
    }

    fn latest_plan_for_key(&mut self, key: &str) -> Result<Option<Plan>> {
        Ok(self
            .plans_where("WHERE key = ?1 ORDER BY seq DESC LIMIT 1", [key])?
            .into_iter()
            .next())
    }

    fn plans(&mut self, statuses: &[Status], limit: Option<u64>) -> Result<Vec<Plan>> {
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let mut out = if statuses.is_empty() {
            self.plans_where("ORDER BY seq DESC LIMIT ?1", [limit])?
        } else {
            let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            let json = serde_json::to_string(&names)
                .map_err(|e| Error::new(Kind::Error, e.to_string()))?;
            self.plans_where(
                "WHERE status IN (SELECT value FROM json_each(?1)) ORDER BY seq DESC LIMIT ?2",
                params![json, limit],
            )?
        };
        out.reverse();
        Ok(out)
    }

    fn plans_due_to_expire(&mut self, now: Millis) -> Result<Vec<Plan>> {
        self.plans_where(DUE_TO_EXPIRE, [now])
    }

    fn insert_plan(&mut self, p: &Plan) -> Result<i64> {
        let d = p.dry_run.as_ref();
        let b = p.binding.as_ref();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "INSERT INTO plans ({}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                 ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29,
                 ?30, ?31, NULL, NULL, NULL, ?32, ?33, ?34, ?35, ?36)",
                PLAN_COLUMNS
            ))
            .map_err(db)?;
        // The argv encoding separates arguments with NUL: one inside an
        // argument would come back split, as another command than the one
        // hashed. `plan` refuses such arguments; this keeps any other
        // caller from storing one.
        let args = p.command.iter().chain(d.iter().flat_map(|d| &d.command));
        if args.into_iter().any(|a| a.as_bytes().contains(&0)) {
            return Err(Error::usage(
                "an argument holds a NUL byte; it cannot be stored",
            ));
        }
        stmt.execute(params![
            p.id,
            p.key,
            p.hash,
            p.status.as_str(),
            p.tier.as_str(),
            p.rule,
            p.approvals_required,
            encode_argv(&p.command),
            p.cwd.as_os_str().as_bytes(),
            json(&p.env),
            d.map(|d| encode_argv(&d.command)),
            d.map(|d| d.exit_code),
            d.map(|d| d.stdout.as_slice()),
            d.map(|d| d.stderr.as_slice()),
            d.map(|d| d.stdout_sha256.as_str()),
            d.map(|d| d.stderr_sha256.as_str()),
            d.map(|d| d.stdout_bytes as i64),
            d.map(|d| d.stderr_bytes as i64),
            d.map(|d| d.truncated),
            json(&p.dry_run_ok),
            p.reason,
            p.target,
            p.effect,
            p.rollback,
            p.confidence,
            p.actor,
            p.created_at,
            p.expires_at,
            p.policy_sha256,
            json(&p.decision),
            p.retry_allowed,
            b.map(|b| b.cwd_id.as_str()),
            b.map(|b| b.program.path.as_os_str().as_bytes()),
            b.map(|b| b.program.id.as_str()),
            b.map(|b| encode_files(&b.files)),
            p.escalated_from.as_ref().map(json),
        ])
        .map_err(db)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn set_status(&mut self, id: &str, status: Status, expires_at: Option<Millis>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE plans SET status = ?2, expires_at = ?3 WHERE id = ?1")
            .map_err(db)?
            .execute(params![id, status.as_str(), expires_at])
            .map_err(db)?;
        Ok(())
    }

    fn escalate(
        &mut self,
        id: &str,
        to: &Verdict,
        from: &Verdict,
        decision: &[String],
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE plans SET tier = ?2, rule = ?3, approvals_required = ?4,
                 escalated_from = ?5, decision = ?6, policy_sha256 = ?7 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![
                id,
                to.tier.as_str(),
                to.rule,
                to.approvals_required,
                json(from),
                json(decision),
                to.policy_sha256
            ])
            .map_err(db)?;
        Ok(())
    }

    fn set_retry_allowed(&mut self, id: &str, allowed: bool) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE plans SET retry_allowed = ?2 WHERE id = ?1")
            .map_err(db)?
            .execute(params![id, allowed])
            .map_err(db)?;
        Ok(())
    }

    fn insert_approval(&mut self, plan: &str, a: &Approval) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO approvals (plan, actor, at, comment, hash, signature, signature_kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(db)?
            .execute(params![
                plan,
                a.actor,
                a.at,
                a.comment,
                a.hash,
                a.signature,
                a.signature_kind
            ])
            .map_err(db)?;
        Ok(())
    }

    fn set_rejection(&mut self, plan: &str, r: &Rejection) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE plans SET rejected_by = ?2, rejected_reason = ?3, rejected_at = ?4 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![plan, r.actor, r.reason, r.at])
            .map_err(db)?;
        Ok(())
    }

    fn insert_execution(&mut self, e: &Execution, tier: Tier, rule: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO executions (plan, attempt, key, tier, rule, actor, pid, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db)?
            .execute(params![
                e.plan,
                e.attempt,
                e.key,
                tier.as_str(),
                rule,
                e.actor,
                e.pid,
                e.started_at
            ])
            .map_err(db)?;
        Ok(())
    }

    fn finish_execution(&mut self, e: &Execution) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE executions SET pid = ?3, finished_at = ?4, exit_code = ?5, signal = ?6,
                   timed_out = ?7, stdout = ?8, stderr = ?9, stdout_bytes = ?10, stderr_bytes = ?11,
                   stdout_sha256 = ?12, stderr_sha256 = ?13, truncated = ?14
                 WHERE plan = ?1 AND attempt = ?2",
            )
            .map_err(db)?
            .execute(params![
                e.plan,
                e.attempt,
                e.pid,
                e.finished_at,
                e.exit_code,
                e.signal,
                e.timed_out,
                e.stdout,
                e.stderr,
                e.stdout_bytes as i64,
                e.stderr_bytes as i64,
                e.stdout_sha256,
                e.stderr_sha256,
                e.truncated
            ])
            .map_err(db)?;
        Ok(())
    }

    fn resolve_execution(
        &mut self,
        plan: &str,
        attempt: u32,
        r: &Resolution,
        exit_code: Option<i32>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE executions SET resolved_by = ?3, resolved_outcome = ?4, resolved_reason = ?5,
                   resolved_at = ?6, exit_code = coalesce(exit_code, ?7)
                 WHERE plan = ?1 AND attempt = ?2",
            )
            .map_err(db)?
            .execute(params![plan, attempt, r.actor, r.outcome.as_str(), r.reason, r.at, exit_code])
            .map_err(db)?;
        Ok(())
    }

    fn execution_count(&mut self, plan: &str) -> Result<u32> {
        self.conn
            .prepare_cached("SELECT count(*) FROM executions WHERE plan = ?1")
            .map_err(db)?
            .query_row([plan], |r| r.get(0))
            .map_err(db)
    }

    fn budget_usage(&mut self, s: &BudgetScope) -> Result<(u32, Option<Millis>)> {
        let tiers: Vec<&str> = s.tiers.iter().map(|t| t.as_str()).collect();
        let tiers =
            serde_json::to_string(&tiers).map_err(|e| Error::new(Kind::Error, e.to_string()))?;
        self.conn
            .prepare_cached(
                "SELECT count(*), min(started_at) FROM executions
                 WHERE started_at > ?1
                   AND tier IN (SELECT value FROM json_each(?2))
                   AND (?3 IS NULL OR rule = ?3)
                   AND (?4 IS NULL OR actor = ?4)",
            )
            .map_err(db)?
            .query_row(params![s.since, tiers, s.rule, s.actor], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(db)
    }

    fn append_event(&mut self, e: &NewEvent) -> Result<Event> {
        let head: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .map_err(db)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?;
        let (seq, prev_hash) = match head {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, ledger::GENESIS.to_string()),
        };
        // serde_json's Map is a BTreeMap: keys come out sorted, so the
        // stored text is canonical and is exactly what gets hashed.
        let detail = e.detail.to_string();
        let hash = ledger::event_hash(&ledger::EventFields {
            seq,
            at: e.at,
            kind: e.kind,
            plan: e.plan.as_deref(),
            key: e.key.as_deref(),
            actor: &e.actor,
            detail: &detail,
            prev_hash: &prev_hash,
        });
        self.conn
            .prepare_cached(
                "INSERT INTO events (seq, at, kind, plan, key, actor, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(db)?
            .execute(params![
                seq, e.at, e.kind, e.plan, e.key, e.actor, detail, prev_hash, hash
            ])
            .map_err(db)?;
        Ok(Event {
            seq,
            at: e.at,
            kind: e.kind.to_string(),
            plan: e.plan.clone(),
            key: e.key.clone(),
            actor: e.actor.clone(),
            detail,
            prev_hash,
            hash,
        })
    }

    fn events(&mut self, f: &EventFilter) -> Result<Vec<Event>> {
        let limit = f.limit.map(|l| l as i64).unwrap_or(-1);
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE (?1 IS NULL OR plan = ?1) AND (?2 IS NULL OR key = ?2) AND (?3 IS NULL OR at >= ?3)
             ORDER BY seq DESC LIMIT ?4"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db)?;
        let mut events: Vec<Event> = stmt
            .query_map(params![f.plan, f.key, f.since, limit], event_from_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        events.reverse();
        Ok(events)
    }

    fn for_each_event(&mut self, f: &mut dyn FnMut(Event) -> Result<()>) -> Result<()> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
        let mut stmt = self.conn.prepare(&sql).map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            f(event_from_row(row).map_err(db)?)?;
        }
        Ok(())
    }

    fn last_event_of(&mut self, plan: &str, kind: &str) -> Result<Option<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE plan = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT 1"
        );
        self.conn
            .prepare_cached(&sql)
            .map_err(db)?
            .query_row(params![plan, kind], event_from_row)
            .optional()
            .map_err(db)
    }

    fn for_each_plan_row(&mut self, f: &mut dyn FnMut(PlanRow) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, hash, status, tier, approvals_required, command FROM plans ORDER BY seq",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let row = (|| -> rusqlite::Result<PlanRow> {
                Ok(PlanRow {
                    id: r.get(0)?,
                    hash: r.get(1)?,
                    status: r.get(2)?,
                    tier: r.get(3)?,
                    approvals_required: r.get(4)?,
                    command: decode_argv(&r.get::<_, Vec<u8>>(5)?),
                })
            })()
            .map_err(db)?;
            f(row)?;
        }
        Ok(())
    }

    fn ledger_is_append_only(&mut self) -> Result<std::result::Result<(), String>> {
        // Names alone are not enough: a trigger of the same name that does
        // nothing would pass. Each must be the schema's own statement, as
        // SQLite keeps it (whitespace aside).
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?1 AND tbl_name = 'events'",
            )
            .map_err(db)?;
        for (name, sql) in APPEND_ONLY_TRIGGERS {
            let found: Option<Option<String>> = stmt
                .query_row([name], |r| r.get(0))
                .optional()
                .map_err(db)?;
            match found {
                None => {
                    return Ok(Err(format!(
                        "the ledger's append-only trigger {name} was removed"
                    )));
                }
                Some(text) if text.as_deref().map(normalize_sql) != Some(normalize_sql(sql)) => {
                    return Ok(Err(format!(
                        "the ledger's append-only trigger {name} was replaced by another of the same name"
                    )));
                }
                Some(_) => {}
            }
        }
        // Nor is the presence of ours: a trigger added beside them can
        // drop events as they are written (`RAISE(IGNORE)` on a refusal)
        // or rewrite rows behind every command. The schema creates no
        // other trigger, so any other is an edit.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name",
            )
            .map_err(db)?;
        let triggers: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        if let Some((name, table)) = triggers
            .iter()
            .find(|(name, _)| !APPEND_ONLY_TRIGGERS.iter().any(|(n, _)| n == name))
        {
            return Ok(Err(format!(
                "a trigger the schema does not create was added on table {table}: {name}"
            )));
        }
        Ok(Ok(()))
    }
}

/// SQL text with every run of whitespace made one space, and no `;` at the
/// end (SQLite keeps a statement without it).
fn normalize_sql(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    words.join(" ").trim_end_matches(';').trim_end().to_string()
}

/// What a file that is not a regular file is, in words; `None` for a
/// regular file.
fn not_a_regular_file(t: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("a special file")
    }
}

/// The name of the network filesystem `path` lives on, if it does.
#[cfg(target_os = "linux")]
fn network_filesystem(path: &Path) -> Option<&'static str> {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a valid C string and a zeroed statfs for the kernel to fill.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    network_fs_name(st.f_type as i64)
}

#[cfg(not(target_os = "linux"))]
fn network_filesystem(_path: &Path) -> Option<&'static str> {
    None
}

/// Filesystem magic numbers (statfs(2)) where SQLite's locks cannot be trusted.
pub fn network_fs_name(magic: i64) -> Option<&'static str> {
    match magic as u32 {
        0x6969 => Some("nfs"),
        0x517B => Some("smb"),
        0xFF53_4D42 => Some("cifs"),
        0xFE53_4D42 => Some("smb2"),
        0x5346_414F => Some("afs"),
        0x7375_7245 => Some("coda"),
        0x0102_1997 => Some("9p"),
        0x00C3_6400 => Some("ceph"),
        0x0BD0_0BD0 => Some("lustre"),
        _ => None,
    }
}

/// JSON text for values stored in TEXT columns (maps and vectors of strings
/// and numbers, which always serialize).
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn an_event() -> NewEvent {
        NewEvent {
            at: 1,
            kind: "planned",
            plan: None,
            key: None,
            actor: "a".into(),
            detail: serde_json::json!({}),
        }
    }

    #[test]
    fn waiting_for_sqlites_lock_ends_at_the_writes_deadline_in_real_time() {
        // Counting retries instead would wait 30 s here, and longer than
        // 30 s in general: each sleep lasts longer than asked.
        let start = Instant::now();
        WRITE_DEADLINE.with(|d| d.set(Some(start + Duration::from_millis(50))));
        let mut attempt = 0;
        while busy_wait(attempt) {
            attempt += 1;
            assert!(start.elapsed() < Duration::from_secs(10), "never gave up");
        }
        WRITE_DEADLINE.with(|d| d.set(None));
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn expiry_reads_only_the_live_plans_whose_window_ended() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT {PLAN_COLUMNS} FROM plans {DUE_TO_EXPIRE}"
            ))
            .unwrap()
            .query_map([0], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX plans_expiring (expires_at<?)")),
            "{plan:?}"
        );
    }

    #[test]
    fn the_durable_sync_goes_to_the_wal_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut store = SqliteStore::open(&path).unwrap();
        super::super::write_durable(&mut store, |tx| tx.append_event(&an_event())).unwrap();
        // The handle synced is the WAL's: it has the -wal file's size, which
        // the main database file does not.
        let (file, methods) = wal_file(&store.conn).expect("a WAL handle");
        let mut size: i64 = -1;
        // SAFETY: SQLite's live handle and its own size method.
        let rc = unsafe { methods.xFileSize.unwrap()(file, &mut size) };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
        let wal_len = std::fs::metadata(dir.path().join("state.db-wal"))
            .unwrap()
            .len();
        let db_len = std::fs::metadata(&path).unwrap().len();
        assert!(wal_len > 0 && wal_len != db_len, "{wal_len} {db_len}");
        assert_eq!(size as u64, wal_len);
        sync_wal(&store.conn).unwrap();
    }

    #[test]
    fn syncing_without_a_wal_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("plain.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = DELETE; CREATE TABLE t (x);")
            .unwrap();
        assert!(wal_file(&conn).is_none());
        let err = sync_wal(&conn).unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ApiMisuse)
        );
    }

    #[test]
    fn network_filesystems_are_recognised() {
        assert_eq!(network_fs_name(0x6969), Some("nfs"));
        assert_eq!(network_fs_name(0xFF53_4D42_u32 as i64), Some("cifs"));
        assert_eq!(network_fs_name(0xEF53), None); // ext4
        assert_eq!(network_fs_name(0x0102_1994), None); // tmpfs
    }

    #[test]
    fn argv_encoding_round_trips_empty_and_odd_arguments() {
        let argv: Vec<OsString> = vec![
            "a".into(),
            "".into(),
            "with space".into(),
            OsString::from_vec(vec![0xff, 0xfe]),
        ];
        assert_eq!(decode_argv(&encode_argv(&argv)), argv);
        assert!(decode_argv(&encode_argv(&[])).is_empty());
    }

    #[test]
    fn many_processes_creating_one_new_state_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || SqliteStore::open(&path).map(|_| ()))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(SqliteStore::open(&path).unwrap());
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn starting_the_wal_over_never_rolls_back_a_newer_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut store = SqliteStore::open(&path).unwrap();
        // A newer ladder migrates the file while this one has it open.
        let newer = MIGRATIONS.len() as i64 + 1;
        let other = Connection::open(&path).unwrap();
        other.pragma_update(None, "user_version", newer).unwrap();
        store.rewrite_schema_version().unwrap();
        let version: i64 = other
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, newer);
    }

    #[test]
    fn events_refuse_update_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        super::super::write(&mut store, |tx| tx.append_event(&an_event())).unwrap();
        let upd = store.conn.execute("UPDATE events SET actor = 'x'", []);
        assert!(upd.unwrap_err().to_string().contains("append-only"));
        let del = store.conn.execute("DELETE FROM events", []);
        assert!(del.unwrap_err().to_string().contains("append-only"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(
            &path,
            b"this is not sqlite, it is a shopping list\n".repeat(200),
        )
        .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert_eq!(err.kind, Kind::Error);
        assert!(
            err.message.contains("is not a readable database"),
            "{}",
            err.message
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}

//! The SQLite store.
//!
//! # Locking
//!
//! The database is in WAL mode: readers never block the writer. Every write
//! transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front,
//! so two writers never both read and then both try to upgrade (the classic
//! SQLITE_BUSY deadlock). Before that, ladder's writers wait their turn in
//! [`write_queue`], asleep in the kernel; a writer outside the queue
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

mod queries;
mod rows;
pub mod runlock;
pub mod write_queue;

use super::schema::{APPLICATION_ID, MIGRATIONS};
use super::{RunGuard, Store, Tx};
use crate::error::{Error, Kind, Result};
use crate::model::Plan;
use anyhow::Context as _;
use queries::SqliteTx;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::cell::Cell;
use std::ffi::c_int;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};
use write_queue::WriteQueue;

/// How long a writer waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// WAL size (frames, one page each) at which a commit copies the WAL into
/// the database and starts it over. Every opener re-reads the live part of
/// the WAL (see [`SqliteStore::checkpoint_if_due`]), so a short WAL keeps
/// opens cheap, while each copy costs two fsyncs; a `plan` writes about 8
/// frames. Measured in BENCHMARKS.md, *SQLite and the WAL*.
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

/// Whether this process may write `path` (a file, or a directory to create
/// files in), as the kernel would decide: `access(2)` with the real ids.
fn may_write(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; access only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Copies a state file and its WAL into a private temporary directory: the
/// two as one snapshot. A writer that commits or checkpoints during the
/// copy changes a file's size or time, and the copy is made again.
fn private_copy(real: &Path) -> Result<(tempfile::TempDir, PathBuf)> {
    let wal = sidecar(real, "-wal");
    let stamp = || -> Vec<Option<(u64, std::time::SystemTime)>> {
        [real, wal.as_path()]
            .iter()
            .map(|p| {
                let m = std::fs::metadata(p).ok()?;
                Some((m.len(), m.modified().ok()?))
            })
            .collect()
    };
    for _ in 0..5 {
        let dir = tempfile::Builder::new()
            .prefix("ladder-read-")
            .tempdir()
            .context("failed to make a private copy of a read-only state file")?;
        let copied = dir.path().join("state.db");
        let before = stamp();
        std::fs::copy(real, &copied)
            .with_context(|| format!("failed to copy {}", real.display()))?;
        if wal.exists() {
            std::fs::copy(&wal, sidecar(&copied, "-wal"))
                .with_context(|| format!("failed to copy {}", wal.display()))?;
        }
        if stamp() == before {
            return Ok((dir, copied));
        }
    }
    Err(Error::new(
        Kind::Error,
        format!(
            "state file {} kept changing while it was copied to be read",
            real.display()
        ),
    )
    .with_hint("try again when fewer writers are busy"))
}

/// `path` with `suffix` appended: SQLite's `-wal` and `-shm` beside it.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
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
    /// What people should hear about this store, for the caller to show.
    warnings: Vec<String>,
    /// Which file was opened (device and inode), to tell when the path
    /// names another one.
    file: Option<(u64, u64)>,
    /// This user may not write the state: opened for reading only (see
    /// [`SqliteStore::open`]). Every write is refused, saying so.
    read_only: bool,
    /// A private copy read in place of a state file whose WAL cannot be
    /// indexed where it lies; removed with the store.
    _copy: Option<tempfile::TempDir>,
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
            .with_hint("give the path of a file, e.g. DIR/state.db"));
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
                .with_hint("give the path of a file, e.g. DIR/state.db"));
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
        if exists && !may_write(path) {
            return SqliteStore::open_read_only(path);
        }
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
        let mut store = SqliteStore::over(conn, path);
        let version = store.configure()?;
        store.migrate(version)?;
        store.file = file_id(path);
        if let Some(fs) = network_filesystem(path) {
            store.warnings.push(format!(
                "state file {} is on a network filesystem ({fs}); SQLite locking is unreliable there, keep state on a local disk",
                path.display()
            ));
        }
        Ok(store)
    }

    fn over(conn: Connection, path: &Path) -> SqliteStore {
        SqliteStore {
            conn,
            path: path.to_path_buf(),
            wal_frames: Arc::new(AtomicI32::new(0)),
            queue: None,
            warnings: Vec::new(),
            file: None,
            read_only: false,
            _copy: None,
        }
    }

    /// Opens a state file this user may read but not write: an auditor's
    /// copy in a directory of their own that they cannot write, a backup on
    /// read-only media, another user's state. `list`, `show`, `log`
    /// and `log --verify` work; anything that writes (`replay` too: it
    /// records a `replayed` event) is refused.
    ///
    /// SQLite reads a WAL-mode file through the WAL's index (`-shm`), which
    /// it must create beside the file when it is missing. When it is
    /// missing and cannot be created, the file and its WAL are read from a
    /// private copy (a plain read-only open would fail, and SQLite's
    /// `immutable` open would skip the WAL and show older state).
    fn open_read_only(path: &Path) -> Result<SqliteStore> {
        let readable = std::fs::File::open(path).map_err(|e| {
            Error::new(
                Kind::Error,
                format!("state file {} cannot be read: {e}", path.display()),
            )
            .with_hint(
                "run ladder as a user who may read it, or point --state at a copy you can read",
            )
        })?;
        drop(readable);
        // SQLite follows a symlink to the real file and keeps its WAL and
        // index beside that: so must the checks and the copy, or a copy
        // would be made without the WAL (older state, shown as current).
        let real = std::fs::canonicalize(path)
            .with_context(|| format!("failed to resolve state file {}", path.display()))?;
        let shm = sidecar(&real, "-shm");
        let dir = real.parent().filter(|d| !d.as_os_str().is_empty());
        let indexable = shm.exists() || dir.is_none_or(may_write);
        let (open_at, copy) = if indexable {
            (real, None)
        } else {
            let (dir, copied) = private_copy(&real)?;
            (copied, Some(dir))
        };
        let conn = Connection::open_with_flags(
            &open_at,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("failed to open state file {}", path.display()))?;
        let mut store = SqliteStore::over(conn, path);
        store.read_only = true;
        store._copy = copy;
        let version = store.configure()?;
        if version < MIGRATIONS.len() as i64 {
            return Err(Error::new(
                Kind::Error,
                format!(
                    "state file {} is read-only for this user and has an older schema (version {version}) that this ladder would have to upgrade",
                    path.display()
                ),
            )
            .with_hint("read it with the ladder that wrote it, or upgrade a writable copy"));
        }
        store.file = file_id(path);
        Ok(store)
    }

    fn read_only_refusal(&self) -> Error {
        Error::new(
            Kind::Error,
            format!(
                "state file {} is read-only for this user: permission denied",
                self.path.display()
            ),
        )
        .with_hint(
            "reading works here (list, show, log, log --verify); to plan, decide or apply, run ladder as a user who may write it",
        )
    }

    fn bad_state(&self, why: impl std::fmt::Display) -> Error {
        Error::new(
            Kind::Error,
            format!("state file {} {why}", self.path.display()),
        )
        .with_hint("use a ladder state file, or move this one aside")
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
        if fresh && !self.read_only {
            self.enable_wal()?;
        }
        if self.read_only {
            return Ok(version);
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
            .with_hint("check the file's permissions, or keep state elsewhere")
        } else {
            Error::new(
                Kind::Error,
                format!("failed to write state file {}: {e}", self.path.display()),
            )
        }
    }
}

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
    /// of it and copies all of it again: a `plan` gets slower with every
    /// plan before it (BENCHMARKS.md, *SQLite and the WAL*).
    ///
    /// So the restart happens here, in the process that copied: once all of
    /// the WAL is in the database, this connection's next write starts the
    /// WAL over from its first frame under a new salt, and the frames after
    /// it stop counting for the next opener. The smallest write there is,
    /// the schema version set to itself, makes it happen now. The file keeps
    /// its blocks, so later commits overwrite rather than grow it, which
    /// keeps `apply`'s synchronous commit cheap (truncating the file instead
    /// measured slower there).
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
                self.warnings
                    .push(format!("could not checkpoint {}: {e}", self.path.display()));
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
        f(&mut SqliteTx {
            conn: &tx,
            path: &self.path,
        })?;
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
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// A one-byte lock at the plan's row number in the lock file beside
    /// the state file (see [`runlock`]).
    fn try_lock_run(&mut self, plan: &Plan) -> Result<Option<RunGuard>> {
        Ok(runlock::try_acquire(&self.path, plan.seq)?.map(RunGuard::new))
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn was_replaced(&self) -> bool {
        file_id(&self.path) != self.file
    }

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
        if self.read_only {
            return Err(self.read_only_refusal());
        }
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
        if self.read_only {
            return Err(self.read_only_refusal());
        }
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
                        crate::store::sqlite::runlock::lock_path(&self.path).display(),
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
        f(&mut SqliteTx {
            conn: &tx,
            path: &self.path,
        })?;
        tx.finish().context("failed to read state")?;
        Ok(())
    }
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
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

#[cfg(test)]
mod tests {
    use super::rows::*;
    use super::*;
    use crate::model::NewEvent;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

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
    fn the_sqlite_store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let mut open = |name: &str| -> Box<dyn Store> {
            let path = dir.path().join(format!("{name}.db"));
            Box::new(SqliteStore::open(&path).unwrap())
        };
        // Outside Linux run locks are classic POSIX locks, which a process
        // never conflicts with itself on: two handles in this test cannot
        // see each other's (two processes do). Linux has OFD locks.
        let skip: &[&str] = if cfg!(target_os = "linux") {
            &[]
        } else {
            &["a_held_run_lock_is_seen_by_another_handle"]
        };
        crate::store::conformance::run_except(&mut open, skip);
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
                "EXPLAIN QUERY PLAN SELECT {PLAN_COLUMNS} FROM plans {}",
                queries::DUE_TO_EXPIRE
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
    fn a_plans_or_a_keys_events_are_read_through_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let plan_of = |filter: &crate::store::EventFilter| -> String {
            store
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    queries::events_sql(filter)
                ))
                .unwrap()
                .query_map(
                    rusqlite::params!["p", "k", "0", "-1", rusqlite::types::Null],
                    |r| r.get::<_, String>(3),
                )
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let by_plan = plan_of(&crate::store::EventFilter {
            plan: Some("p".into()),
            ..Default::default()
        });
        assert!(by_plan.contains("events_by_plan"), "{by_plan}");
        let by_key = plan_of(&crate::store::EventFilter {
            key: Some("k".into()),
            ..Default::default()
        });
        assert!(by_key.contains("events_by_key"), "{by_key}");
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
    fn a_file_of_the_previous_version_is_migrated_with_its_plans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let c = Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..3] {
                c.execute_batch(m).unwrap();
            }
            c.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            c.pragma_update(None, "user_version", 3).unwrap();
            c.execute_batch(
                "INSERT INTO plans (id, key, hash, status, tier, approvals_required, command, cwd,
                   env, dry_run_ok, actor, created_at, policy_sha256, decision)
                 VALUES ('p1', 'k', 'h', 'pending', 'irreversible', 1, x'', x'', '{}', '[0]',
                   'a', 0, '', '[]')",
            )
            .unwrap();
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let plan = super::super::read(&mut store, |tx| tx.plan("p1"))
            .unwrap()
            .unwrap();
        assert!(plan.meta.is_empty() && plan.cancellation.is_none() && plan.rollback_of.is_none());
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
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

//! The PostgreSQL store: the same [`Store`] and [`Tx`] as SQLite's, for a
//! team whose agents, CI runners and reviewers sit on several machines.
//!
//! - Writers take turns on the ledger's head row, locked `FOR UPDATE` as
//!   their transaction begins (the one writer SQLite has by design): a
//!   rung's checks and its writes see one state, and each append takes its
//!   `seq` from the head it holds, so `seq` has no gaps.
//! - A plan's run lock is a session advisory lock held on a connection of
//!   its own for as long as the command runs: the server frees it when that
//!   connection dies, however the applier died. Nothing is sent on it while
//!   it is held.
//! - Reads run in a `REPEATABLE READ READ ONLY` transaction: one snapshot.
//!   It is ended by the next flight on the connection (or by closing it),
//!   not by a round trip of its own. So that a pause (a prompt, an MCP
//!   server between calls) cannot hold a snapshot for long, each session
//!   sets `idle_in_transaction_session_timeout` (`IDLE_READ`) in its first
//!   flight (a `SET`, not a startup option, which PgBouncer refuses; not at
//!   all when the URL's `options` set it): the server ends such a session,
//!   and the next flight reconnects, which loses nothing because only a
//!   finished read was open.
//! - Round trips are what a team database's latency multiplies, so each
//!   statement is sent in one flight (`query_typed`: parse, bind and
//!   execute together, where `query` would prepare first and wait), and a
//!   transaction's begin and end ride with the statements next to them.
//!   BENCHMARKS.md counts them per rung against the protocol's minimum.

pub mod schema;
#[cfg(test)]
mod test_server;

use crate::error::{Error, Kind, Result};
use crate::ledger;
use crate::model::{
    Approval, Cancellation, Check, DryRun, Event, Execution, Millis, NewEvent, Outcome, Plan,
    PlanRow, Rejection, Resolution, Signature, Status, Verdict,
};
use crate::store::{BudgetScope, EventFilter, RunGuard, Store, Tx};
use crate::tier::Tier;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Row, SimpleQueryMessage};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// How long the server keeps a session idle inside a transaction: the
/// longest a finished read's snapshot stays open across a pause.
const IDLE_READ: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a lost session is retried before a rung gives up: about what
/// a server takes to restart.
const RECONNECT: std::time::Duration = std::time::Duration::from_secs(10);
/// Taken while a database is checked and migrated.
const MIGRATE_LOCK: i64 = -0x6c61_6473;

pub struct PgStore {
    client: Client,
    url: String,
    shown: String,
    /// `LISTEN ladder` was sent on `client` (the first wait sends it).
    listening: bool,
    /// A read transaction ended but not yet rolled back: the next flight
    /// rolls it back first.
    read_open: bool,
    /// What a new session's first flight sets (see the module docs).
    setup: String,
    /// This session's backend, whose own notifications wake nobody.
    backend_pid: i32,
    /// The server's clock less this machine's, measured at open.
    offset: Millis,
}

fn db(e: postgres::Error) -> Error {
    // postgres::Error says only "db error" for what the server answered.
    let why = match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    };
    Error::new(Kind::Error, format!("state database error: {why}"))
}

fn corrupt(what: &str, value: impl std::fmt::Display) -> Error {
    Error::new(
        Kind::Error,
        format!("state database error: corrupt {what}: {value}"),
    )
}

/// A URL as people may see it: without its password.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth.and_then(|a| a.split_once(':')) {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Connects to `url`, with TLS when it asks for it (`sslmode=require` or
/// `prefer`), verifying the server's certificate against `sslrootcert=PATH`
/// when given, else the system's roots. Without `sslmode` nothing about TLS
/// is loaded: no CA bundle is read on a connection that does not use one.
fn connect(url: &str, keepalive: bool) -> Result<Client> {
    let shown = redact(url);
    let cannot = |why: String| Error::new(Kind::Error, format!("cannot connect to {shown}: {why}"));
    let (url, rootcert) = take_param(url, "sslrootcert");
    let mut config: postgres::Config = url.parse().map_err(|e| cannot(format!("{e}")))?;
    fill_from_environment(&mut config, &|name| std::env::var(name).ok());
    if keepalive {
        config
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(30))
            .keepalives_interval(std::time::Duration::from_secs(10))
            .keepalives_retries(3);
    }
    let wants_tls = url.contains("sslmode=require") || url.contains("sslmode=prefer");
    let client = if wants_tls {
        let tls = tls_config(rootcert.as_deref()).map_err(cannot)?;
        config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
    } else {
        config.connect(NoTls)
    };
    client.map_err(|e| {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why = format!("{why}: {s}");
            source = s.source();
        }
        cannot(why)
    })
}

/// What the URL leaves out, as libpq takes it: `PGHOST`, `PGPORT`,
/// `PGUSER`, `PGDATABASE`, `PGPASSWORD`, then the password from
/// `PGPASSFILE` or `~/.pgpass` (only when no one else can read it, as
/// libpq insists).
fn fill_from_environment(config: &mut postgres::Config, var: &dyn Fn(&str) -> Option<String>) {
    if config.get_hosts().is_empty() {
        match var("PGHOST") {
            Some(host) if host.starts_with('/') => {
                config.host_path(host);
            }
            Some(host) => {
                config.host(&host);
            }
            None => {
                config.host_path("/var/run/postgresql");
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        if let Some(user) = var("PGUSER").or_else(|| var("USER")) {
            config.user(&user);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(db) = var("PGDATABASE") {
            config.dbname(&db);
        }
    }
    if config.get_password().is_some() {
        return;
    }
    if let Some(password) = var("PGPASSWORD") {
        config.password(password);
        return;
    }
    let file = var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
    let Some(file) = file else { return };
    use std::os::unix::fs::MetadataExt as _;
    let private = std::fs::metadata(&file).is_ok_and(|m| m.mode() & 0o077 == 0);
    let Some(text) = private
        .then(|| std::fs::read_to_string(&file).ok())
        .flatten()
    else {
        return;
    };
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default()
        .to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    if let Some(password) = pgpass_lookup(&text, [&host, &port, &db, &user]) {
        config.password(password);
    }
}

/// The password of the first `.pgpass` line (`host:port:db:user:password`,
/// `*` matching anything, `\:` and `\\` escaped) that matches.
fn pgpass_lookup(text: &str, want: [&str; 4]) -> Option<String> {
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => fields.last_mut()?.extend(chars.next()),
                ':' if fields.len() < 5 => fields.push(String::new()),
                c => fields.last_mut()?.push(c),
            }
        }
        if fields.len() != 5 {
            continue;
        }
        if fields[..4]
            .iter()
            .zip(want)
            .all(|(field, want)| field == "*" || field == want)
        {
            return fields.pop();
        }
    }
    None
}

/// `url` without its `name=value` query parameter, and the value.
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(
            |p| match p.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
                Some(v) => {
                    value = Some(v.to_string());
                    false
                }
                None => true,
            },
        )
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, value)
}

fn tls_config(rootcert: Option<&str>) -> std::result::Result<rustls::ClientConfig, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let mut roots = rustls::RootCertStore::empty();
    match rootcert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            if certs.is_empty() {
                return Err(format!("sslrootcert {path}: no certificate in it"));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    // ring, not aws-lc-rs (rustls's default): it builds without cmake and
    // in a fraction of the time. It lacks only post-quantum key exchange,
    // which PostgreSQL's TLS does not need yet.
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl PgStore {
    /// Connects, and creates or migrates ladder's schema. A database that
    /// holds tables but not ladder's is refused untouched.
    pub fn open(url: &str) -> Result<PgStore> {
        let shown = redact(url);
        let client = connect(url, false)?;
        let mut store = PgStore {
            client,
            url: url.to_string(),
            shown,
            offset: 0,
            listening: false,
            read_open: false,
            setup: session_setup(url),
            backend_pid: 0,
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        // The common case in one round trip: a database already at this
        // ladder's version needs no lock and no transaction.
        // The server's clock rides along: hosts with skewed clocks then
        // agree on windows and budgets.
        let known = schema::MIGRATIONS.len() as i64;
        let before = crate::clock::Clock::System.now();
        let check = format!(
            "{}SELECT version, (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM ladder_meta",
            self.setup
        );
        if let Ok(messages) = self.client.simple_query(&check) {
            let after = crate::clock::Clock::System.now();
            let rows = first_row(&messages, 2);
            if let Some([version, server]) = rows.as_deref() {
                self.offset = server - (before + after) / 2;
                if *version == known {
                    return Ok(());
                }
            }
        }
        let shown = self.shown.clone();
        let mut tx = self.client.transaction().map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
            .map_err(db)?;
        let ours: bool = tx
            .query_one("SELECT to_regclass('ladder_meta') IS NOT NULL", &[])
            .map_err(db)?
            .get(0);
        let version: usize = if ours {
            let v: i64 = tx
                .query_one("SELECT version FROM ladder_meta", &[])
                .map_err(db)?
                .get(0);
            v as usize
        } else {
            let tables: i64 = tx
                .query_one(
                    "SELECT count(*) FROM information_schema.tables
                     WHERE table_schema = current_schema()",
                    &[],
                )
                .map_err(db)?
                .get(0);
            if tables > 0 {
                return Err(Error::new(
                    Kind::Error,
                    format!("{shown} is not a ladder database: it holds other tables"),
                )
                .with_hint("give ladder a database (or schema) of its own"));
            }
            tx.batch_execute("CREATE TABLE ladder_meta (version BIGINT NOT NULL); INSERT INTO ladder_meta VALUES (0)")
                .map_err(db)?;
            0
        };
        let known = schema::MIGRATIONS.len();
        if version > known {
            return Err(Error::new(
                Kind::Error,
                format!(
                    "{shown} has schema version {version}; this ladder knows {known}: upgrade ladder"
                ),
            ));
        }
        for migration in &schema::MIGRATIONS[version..] {
            tx.batch_execute(migration).map_err(db)?;
        }
        if version < known {
            tx.execute("UPDATE ladder_meta SET version = $1", &[&(known as i64)])
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        // The check's SET went with its failed statement.
        self.client.batch_execute(&self.setup).map_err(db)?;
        let before = crate::clock::Clock::System.now();
        let server: i64 = self
            .client
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .map_err(db)?
            .get(0);
        let after = crate::clock::Clock::System.now();
        self.offset = server - (before + after) / 2;
        Ok(())
    }
}

impl PgStore {
    /// Sends `sql` as one simple-protocol flight, ending a read left open
    /// first. Only transactions' first flights and `LISTEN` come here, so
    /// when the session turns out to be gone (the server ended an idle read,
    /// restarted, or the link dropped) nothing of ours was in flight, and
    /// the flight is sent again on a new connection.
    fn flight(&mut self, sql: &str) -> Result<Vec<SimpleQueryMessage>> {
        let text = if std::mem::take(&mut self.read_open) {
            format!("ROLLBACK; {sql}")
        } else {
            sql.to_string()
        };
        let result = match self.client.simple_query(&text) {
            Err(e) if session_gone(&e) => {
                self.reconnect()?;
                let text = format!("{}{sql}", self.setup);
                self.client.simple_query(&text)
            }
            result => result,
        };
        result.map_err(|e| self.abandon(e))
    }

    /// After a statement of ours failed (a lock timeout, a cancel, a
    /// serialization failure): a transaction it began or meant to end is
    /// rolled back, so the session is fit for the next, and the error is
    /// the caller's.
    fn abandon(&mut self, e: postgres::Error) -> Error {
        let _ = self.client.batch_execute("ROLLBACK");
        db(e)
    }

    /// Connects again, for [`flight`](Self::flight). A server that is
    /// restarting refuses connections for a moment, so this tries for up
    /// to `RECONNECT`: an applier whose command ran while the server was
    /// away still gets to record its outcome.
    fn reconnect(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + RECONNECT;
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            match connect(&self.url, false) {
                Ok(client) => {
                    self.client = client;
                    self.listening = false;
                    return Ok(());
                }
                Err(e) if std::time::Instant::now() + pause > deadline => return Err(e),
                Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
            }
        }
    }
}

/// The session `e` came from has ended: closed, reset on the way (an I/O
/// error), or ended by the server (idle timeout, shutdown, a terminated
/// backend).
fn session_gone(e: &postgres::Error) -> bool {
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    e.is_closed()
        || io
        || e.code().is_some_and(|c| {
            *c == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT || c.code().starts_with("57P")
        })
}

/// What a new session sets first: the idle timeout that bounds a read
/// left open, unless the URL's `options` already choose one.
fn session_setup(url: &str) -> String {
    if url.contains("idle_in_transaction_session_timeout") {
        String::new()
    } else {
        format!(
            "SET idle_in_transaction_session_timeout = {}; ",
            IDLE_READ.as_millis()
        )
    }
}

/// The first data row of a simple-protocol answer, its `n` columns as
/// integers; `None` when there is no such row.
fn first_row(messages: &[SimpleQueryMessage], n: usize) -> Option<Vec<i64>> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => (0..n)
            .map(|i| r.get(i).and_then(|v| v.parse().ok()))
            .collect(),
        _ => None,
    })
}

impl Store for PgStore {
    fn location(&self) -> String {
        self.shown.clone()
    }

    fn try_lock_run(&mut self, plan: &Plan) -> Result<Option<RunGuard>> {
        // A connection of its own: the lock lives exactly as long as it.
        // Nothing is sent on it while the command runs, so TCP keepalives
        // are what notice a vanished host (and free its lock) in bounded time.
        let mut conn = connect(&self.url, true)?;
        let got: bool = conn
            .query_typed_one(
                "SELECT pg_try_advisory_lock($1)",
                &[(&plan.seq, Type::INT8)],
            )
            .map_err(db)?
            .get(0);
        Ok(got.then(|| RunGuard::new(conn)))
    }

    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    fn was_replaced(&self) -> bool {
        false
    }

    fn clock_offset(&self) -> Option<Millis> {
        Some(self.offset)
    }

    fn wait_for_change(&mut self, timeout: std::time::Duration) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator as _;
        // Outside a transaction, where notifications are delivered. Ending
        // a read may reconnect, and a new session listens to nothing yet.
        if self.read_open {
            self.flight("")?;
        }
        if !self.listening {
            let answer = self.flight("LISTEN ladder; SELECT pg_backend_pid()")?;
            self.backend_pid = first_row(&answer, 1)
                .and_then(|r| i32::try_from(r[0]).ok())
                .unwrap_or(0);
            self.listening = true;
        }
        let deadline = std::time::Instant::now() + timeout;
        let mut notes = self.client.notifications();
        // Another session's notification ends the wait; our own writes
        // notify too, and must not wake us. The rest, drained, say nothing
        // more (the caller reads the state again either way).
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match notes.timeout_iter(left).next().map_err(db)? {
                None => return Ok(()),
                Some(n) if n.process_id() == self.backend_pid => continue,
                Some(_) => break,
            }
        }
        while notes.iter().next().map_err(db)?.is_some() {}
        Ok(())
    }

    fn run_lock_held(&mut self, plan: &Plan, guard: &mut RunGuard) -> Result<bool> {
        let Some(conn) = guard.held_mut::<Client>() else {
            return Ok(false);
        };
        // Asked on the lock's own connection: one that is gone (a server
        // restart, a dropped link) holds nothing.
        let held = conn.query_typed_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND objsubid = 1 AND granted
                 AND pid = pg_backend_pid()
                 AND (classid::bigint << 32) | objid::bigint = $1)",
            &[(&plan.seq, Type::INT8)],
        );
        Ok(held.is_ok_and(|r| r.get(0)))
    }

    fn write_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        // One flight: begin, and lock the head row. Writers from every host
        // queue here, and each then sees what the one before it committed.
        let begun = self.flight("BEGIN; SELECT seq, hash FROM ledger_head FOR UPDATE")?;
        let head = begun
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some((r.get(0), r.get(1))),
                _ => None,
            })
            .and_then(|(seq, hash)| Some((seq?.parse().ok()?, hash?.to_string())));
        let Some(head) = head else {
            let _ = self.client.batch_execute("ROLLBACK");
            return Err(corrupt("ledger head", "missing"));
        };
        let mut tx = PgTx {
            client: &mut self.client,
            head: Some(head),
        };
        match f(&mut tx) {
            // Delivered at commit, to whoever waits (`apply --wait`).
            Ok(()) => self
                .client
                .batch_execute("NOTIFY ladder; COMMIT")
                .map_err(|e| self.abandon(e)),
            Err(e) => {
                // Failing to roll back says nothing the first error does not:
                // the server rolls back when the connection ends.
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    fn write_durable_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        // A commit is durable once it returns (synchronous_commit, the
        // server's default, is the operator's to keep on).
        self.write_tx(f)
    }

    fn read_tx(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.flight("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let result = f(&mut PgTx {
            client: &mut self.client,
            head: None,
        });
        // Ended by the next flight, or by closing the connection.
        self.read_open = true;
        result
    }
}

/// A transaction on the store's connection, begun and ended by the store.
struct PgTx<'a> {
    client: &'a mut Client,
    /// The ledger's head, locked by a write transaction as it began, and
    /// moved on by each append it makes; `None` in a read transaction.
    head: Option<(i64, String)>,
}

/// A statement's parameter with its type, so that the statement goes to
/// the server in one flight instead of being prepared first.
type Param<'a> = (&'a (dyn ToSql + Sync), Type);

const PLAN_COLUMNS: &str =
    "seq, id, key, hash, status, tier, rule, approvals_required, command, cwd, env,
    dry_run_command, dry_run_exit, dry_run_stdout, dry_run_stderr, dry_run_stdout_sha256,
    dry_run_stderr_sha256, dry_run_stdout_bytes, dry_run_stderr_bytes, dry_run_truncated,
    dry_run_ok, reason, target, effect, rollback, confidence, actor, created_at, expires_at,
    policy_sha256, decision, retry_allowed, rejected_by, rejected_reason, rejected_at,
    cwd_id, program, program_id, files, escalated_from, rejected_signature,
    rejected_signed_policy, meta, rollback_of, cancelled_by, cancelled_reason, cancelled_at,
    env_shown";

const EVENT_COLUMNS: &str = "seq, at, kind, plan, key, actor, detail, prev_hash, hash";

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
    parts.pop();
    parts
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn get<'r, T: postgres::types::FromSql<'r>>(r: &'r Row, name: &str) -> Result<T> {
    r.try_get(name).map_err(db)
}

fn signature(r: &Row, armored: &str, policy: &str) -> Result<Option<Signature>> {
    let armored: Option<String> = get(r, armored)?;
    let policy: Option<String> = get(r, policy)?;
    Ok(armored.map(|armored| Signature {
        armored,
        policy_sha256: policy.unwrap_or_default(),
    }))
}

fn plan_from_row(r: &Row) -> Result<Plan> {
    let status: String = get(r, "status")?;
    let tier: String = get(r, "tier")?;
    let env: String = get(r, "env")?;
    let dry_run_ok: String = get(r, "dry_run_ok")?;
    let decision: String = get(r, "decision")?;
    let dry_run = match get::<Option<Vec<u8>>>(r, "dry_run_command")? {
        None => None,
        Some(cmd) => Some(DryRun {
            command: decode_argv(&cmd),
            exit_code: get(r, "dry_run_exit")?,
            stdout: get::<Option<Vec<u8>>>(r, "dry_run_stdout")?.unwrap_or_default(),
            stderr: get::<Option<Vec<u8>>>(r, "dry_run_stderr")?.unwrap_or_default(),
            stdout_sha256: get(r, "dry_run_stdout_sha256")?,
            stderr_sha256: get(r, "dry_run_stderr_sha256")?,
            stdout_bytes: get::<i64>(r, "dry_run_stdout_bytes")? as u64,
            stderr_bytes: get::<i64>(r, "dry_run_stderr_bytes")? as u64,
            truncated: get(r, "dry_run_truncated")?,
        }),
    };
    let binding = match get::<Option<String>>(r, "cwd_id")? {
        None => None,
        Some(cwd_id) => Some(crate::binding::Binding {
            program: crate::binding::BoundFile {
                path: get::<Option<Vec<u8>>>(r, "program")?
                    .map(|b| PathBuf::from(OsString::from_vec(b)))
                    .unwrap_or_default(),
                id: get::<Option<String>>(r, "program_id")?.unwrap_or_default(),
            },
            files: decode_files(&get::<Option<Vec<u8>>>(r, "files")?.unwrap_or_default())
                .map_err(|e| corrupt("files", e))?,
            cwd_id,
        }),
    };
    let escalated_from = match get::<Option<String>>(r, "escalated_from")? {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt("escalated_from", e))?),
    };
    let rejection = match get::<Option<String>>(r, "rejected_by")? {
        Some(actor) => Some(Rejection {
            actor,
            reason: get(r, "rejected_reason")?,
            at: get(r, "rejected_at")?,
            signature: signature(r, "rejected_signature", "rejected_signed_policy")?,
        }),
        None => None,
    };
    let cancellation = match get::<Option<String>>(r, "cancelled_by")? {
        Some(actor) => Some(Cancellation {
            actor,
            reason: get(r, "cancelled_reason")?,
            at: get(r, "cancelled_at")?,
        }),
        None => None,
    };
    let meta = crate::meta::from_column(get::<Option<String>>(r, "meta")?.as_deref())
        .map_err(|e| corrupt("meta", e))?;
    Ok(Plan {
        seq: get(r, "seq")?,
        id: get(r, "id")?,
        key: get(r, "key")?,
        hash: get(r, "hash")?,
        status: status.parse().map_err(|e| corrupt("status", e))?,
        tier: tier.parse().map_err(|e| corrupt("tier", e))?,
        rule: get(r, "rule")?,
        approvals_required: get::<i64>(r, "approvals_required")? as u32,
        approvals: Vec::new(),
        command: decode_argv(&get::<Vec<u8>>(r, "command")?),
        cwd: PathBuf::from(OsString::from_vec(get::<Vec<u8>>(r, "cwd")?)),
        env: serde_json::from_str::<BTreeMap<String, Option<String>>>(&env)
            .map_err(|e| corrupt("env", e))?,
        dry_run,
        dry_run_ok: serde_json::from_str(&dry_run_ok).map_err(|e| corrupt("dry_run_ok", e))?,
        reason: get(r, "reason")?,
        target: get(r, "target")?,
        effect: get(r, "effect")?,
        rollback: get(r, "rollback")?,
        confidence: get(r, "confidence")?,
        actor: get(r, "actor")?,
        created_at: get(r, "created_at")?,
        expires_at: get(r, "expires_at")?,
        rejection,
        cancellation,
        meta,
        rollback_of: get(r, "rollback_of")?,
        env_shown: crate::meta::from_column(get::<Option<String>>(r, "env_shown")?.as_deref())
            .map_err(|e| corrupt("env_shown", e))?,
        rollback_plan: get(r, "rollback_plan")?,
        execution: None,
        policy_sha256: get(r, "policy_sha256")?,
        decision: serde_json::from_str(&decision).map_err(|e| corrupt("decision", e))?,
        retry_allowed: get(r, "retry_allowed")?,
        binding,
        escalated_from,
        in_force: None,
        signatures_required: false,
    })
}

fn encode_files(files: &[crate::binding::BoundFile]) -> Vec<u8> {
    let parts: Vec<OsString> = files
        .iter()
        .flat_map(|f| [f.path.clone().into_os_string(), OsString::from(&f.id)])
        .collect();
    encode_argv(&parts)
}

fn decode_files(bytes: &[u8]) -> std::result::Result<Vec<crate::binding::BoundFile>, String> {
    let mut parts = decode_argv(bytes).into_iter();
    let mut out = vec![];
    while let Some(path) = parts.next() {
        let id = parts
            .next()
            .and_then(|id| id.into_string().ok())
            .ok_or("a path without its identity")?;
        out.push(crate::binding::BoundFile {
            path: PathBuf::from(path),
            id,
        });
    }
    Ok(out)
}

/// The execution in `r`'s columns named `prefix` + the executions table's.
fn execution_from_row(r: &Row, prefix: &str) -> Result<Execution> {
    let col = |name: &str| format!("{prefix}{name}");
    let resolution = match get::<Option<String>>(r, &col("resolved_by"))? {
        None => None,
        Some(actor) => {
            let outcome: String = get(r, &col("resolved_outcome"))?;
            Some(Resolution {
                actor,
                outcome: match outcome.as_str() {
                    "succeeded" => Outcome::Succeeded,
                    "failed" => Outcome::Failed,
                    "retry" => Outcome::Retry,
                    other => return Err(corrupt("resolution", other)),
                },
                reason: get(r, &col("resolved_reason"))?,
                at: get(r, &col("resolved_at"))?,
                signature: signature(
                    r,
                    &col("resolved_signature"),
                    &col("resolved_signed_policy"),
                )?,
            })
        }
    };
    Ok(Execution {
        plan: get(r, &col("plan"))?,
        key: get(r, &col("key"))?,
        attempt: get::<i64>(r, &col("attempt"))? as u32,
        actor: get(r, &col("actor"))?,
        pid: get::<Option<i64>>(r, &col("pid"))?.map(|p| p as u32),
        started_at: get(r, &col("started_at"))?,
        finished_at: get(r, &col("finished_at"))?,
        exit_code: get(r, &col("exit_code"))?,
        signal: get(r, &col("signal"))?,
        timed_out: get(r, &col("timed_out"))?,
        stdout: get::<Option<Vec<u8>>>(r, &col("stdout"))?.unwrap_or_default(),
        stderr: get::<Option<Vec<u8>>>(r, &col("stderr"))?.unwrap_or_default(),
        stdout_bytes: get::<i64>(r, &col("stdout_bytes"))? as u64,
        stderr_bytes: get::<i64>(r, &col("stderr_bytes"))? as u64,
        stdout_sha256: get(r, &col("stdout_sha256"))?,
        stderr_sha256: get(r, &col("stderr_sha256"))?,
        truncated: get(r, &col("truncated"))?,
        resolution,
    })
}

fn event_from_row(r: &Row) -> Result<Event> {
    Ok(Event {
        seq: get(r, "seq")?,
        at: get(r, "at")?,
        kind: get(r, "kind")?,
        plan: get(r, "plan")?,
        key: get(r, "key")?,
        actor: get(r, "actor")?,
        detail: get(r, "detail")?,
        prev_hash: get(r, "prev_hash")?,
        hash: get(r, "hash")?,
    })
}

/// The executions table's columns, for selecting them under other names.
const EXECUTION_FIELDS: [&str; 25] = [
    "plan",
    "attempt",
    "key",
    "tier",
    "rule",
    "actor",
    "pid",
    "started_at",
    "finished_at",
    "exit_code",
    "signal",
    "timed_out",
    "stdout",
    "stderr",
    "stdout_bytes",
    "stderr_bytes",
    "stdout_sha256",
    "stderr_sha256",
    "truncated",
    "resolved_by",
    "resolved_outcome",
    "resolved_reason",
    "resolved_at",
    "resolved_signature",
    "resolved_signed_policy",
];

/// A plan's approvals as `plans_where` aggregates them (`null`: none).
fn approvals_from_json(text: Option<String>) -> Result<Vec<Approval>> {
    #[derive(serde::Deserialize)]
    struct Row {
        actor: String,
        at: Millis,
        comment: Option<String>,
        hash: String,
        signature: Option<String>,
        signed_policy: Option<String>,
    }
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let rows: Vec<Row> = serde_json::from_str(&text).map_err(|e| corrupt("approvals", e))?;
    Ok(rows
        .into_iter()
        .map(|a| Approval {
            actor: a.actor,
            at: a.at,
            comment: a.comment,
            hash: a.hash,
            signature: a.signature.map(|armored| Signature {
                armored,
                policy_sha256: a.signed_policy.unwrap_or_default(),
            }),
            check: Check::Unchecked,
        })
        .collect())
}

fn approval_from_row(r: &Row) -> Result<Approval> {
    Ok(Approval {
        actor: get(r, "actor")?,
        at: get(r, "at")?,
        comment: get(r, "comment")?,
        hash: get(r, "hash")?,
        signature: signature(r, "signature", "signed_policy")?,
        check: Check::Unchecked,
    })
}

impl PgTx<'_> {
    fn rows(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
        self.client.query_typed(sql, params).map_err(db)
    }

    fn row(&mut self, sql: &str, params: &[Param]) -> Result<Row> {
        self.client.query_typed_one(sql, params).map_err(db)
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<()> {
        self.rows(sql, params).map(drop)
    }

    /// Each row of `sql`, one at a time, for what may not fit in memory.
    fn for_each_row(&mut self, sql: &str, f: &mut dyn FnMut(Row) -> Result<()>) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator as _;
        let none: [(&str, Type); 0] = [];
        let mut rows = self.client.query_typed_raw(sql, none).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            f(row)?;
        }
        Ok(())
    }

    /// The plans `tail` (a `WHERE`, `ORDER BY` and `LIMIT` on `plans`)
    /// selects, oldest first, each with its approvals and its latest
    /// execution: one statement, so one round trip.
    fn plans_where(&mut self, tail: &str, params: &[Param]) -> Result<Vec<Plan>> {
        let execution: Vec<String> = EXECUTION_FIELDS
            .iter()
            .map(|c| format!("x.{c} AS x_{c}"))
            .collect();
        let sql = format!(
            "WITH p AS (SELECT {PLAN_COLUMNS} FROM plans {tail})
             SELECT p.*, {execution},
               (SELECT r.id FROM plans r WHERE r.rollback_of = p.id
                ORDER BY r.seq DESC LIMIT 1) AS rollback_plan,
               (SELECT json_agg(json_build_object('actor', a.actor, 'at', a.at,
                  'comment', a.comment, 'hash', a.hash, 'signature', a.signature,
                  'signed_policy', a.signed_policy) ORDER BY a.at, a.actor, a.hash)::text
                FROM approvals a WHERE a.plan = p.id) AS approvals
             FROM p LEFT JOIN LATERAL (SELECT * FROM executions e WHERE e.plan = p.id
               ORDER BY e.attempt DESC LIMIT 1) x ON true
             ORDER BY p.seq",
            execution = execution.join(", "),
        );
        let rows = self.rows(&sql, params)?;
        rows.iter()
            .map(|r| {
                let mut plan = plan_from_row(r)?;
                plan.approvals = approvals_from_json(get(r, "approvals")?)?;
                if get::<Option<String>>(r, "x_plan")?.is_some() {
                    plan.execution = Some(execution_from_row(r, "x_")?);
                }
                Ok(plan)
            })
            .collect()
    }
}

impl Tx for PgTx<'_> {
    fn run_is_live(&mut self, plan: &Plan) -> Result<bool> {
        // A one-bigint advisory lock shows in pg_locks as its high and low
        // 32 bits, objsubid 1.
        let held = self.row(
            "SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND objsubid = 1 AND granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND (classid::bigint << 32) | objid::bigint = $1)",
            &[(&plan.seq, Type::INT8)],
        )?;
        get(&held, "exists")
    }

    fn plan(&mut self, id: &str) -> Result<Option<Plan>> {
        Ok(self
            .plans_where("WHERE id = $1", &[(&id, Type::TEXT)])?
            .into_iter()
            .next())
    }

    fn plan_ids_with_prefix(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let rows = self.rows(
            "SELECT id FROM plans WHERE starts_with(id, $1) ORDER BY id LIMIT $2",
            &[(&prefix, Type::TEXT), (&(limit as i64), Type::INT8)],
        )?;
        rows.iter().map(|r| get(r, "id")).collect()
    }

    fn latest_plan_for_key(&mut self, key: &str) -> Result<Option<Plan>> {
        Ok(self
            .plans_where(
                "WHERE key = $1 ORDER BY seq DESC LIMIT 1",
                &[(&key, Type::TEXT)],
            )?
            .into_iter()
            .next())
    }

    fn plans(&mut self, statuses: &[Status], limit: Option<u64>) -> Result<Vec<Plan>> {
        let limit = limit.map(|l| l as i64);
        // The newest `limit`, given oldest first.
        if statuses.is_empty() {
            self.plans_where("ORDER BY seq DESC LIMIT $1", &[(&limit, Type::INT8)])
        } else {
            let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            self.plans_where(
                "WHERE status = ANY($1) ORDER BY seq DESC LIMIT $2",
                &[(&names, Type::TEXT_ARRAY), (&limit, Type::INT8)],
            )
        }
    }

    fn plans_due_to_expire(&mut self, now: Millis) -> Result<Vec<Plan>> {
        self.plans_where(
            "WHERE status IN ('pending', 'approved') AND expires_at <= $1 ORDER BY seq",
            &[(&now, Type::INT8)],
        )
    }

    fn insert_plan(&mut self, p: &Plan) -> Result<i64> {
        let d = p.dry_run.as_ref();
        let b = p.binding.as_ref();
        let args = p.command.iter().chain(d.iter().flat_map(|d| &d.command));
        if args.into_iter().any(|a| a.as_bytes().contains(&0)) {
            return Err(Error::usage(
                "an argument holds a NUL byte; it cannot be stored",
            ));
        }
        let row = self.row(
            "INSERT INTO plans (id, key, hash, status, tier, rule, approvals_required, command,
                   cwd, env, dry_run_command, dry_run_exit, dry_run_stdout, dry_run_stderr,
                   dry_run_stdout_sha256, dry_run_stderr_sha256, dry_run_stdout_bytes,
                   dry_run_stderr_bytes, dry_run_truncated, dry_run_ok, reason, target, effect,
                   rollback, confidence, actor, created_at, expires_at, policy_sha256, decision,
                   retry_allowed, cwd_id, program, program_id, files, escalated_from, meta,
                   rollback_of, env_shown)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                   $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32,
                   $33, $34, $35, $36, $37, $38, $39)
                 RETURNING seq",
            &[
                (&p.id, Type::TEXT),
                (&p.key, Type::TEXT),
                (&p.hash, Type::TEXT),
                (&p.status.as_str(), Type::TEXT),
                (&p.tier.as_str(), Type::TEXT),
                (&p.rule, Type::TEXT),
                (&(p.approvals_required as i64), Type::INT8),
                (&encode_argv(&p.command), Type::BYTEA),
                (&p.cwd.as_os_str().as_bytes(), Type::BYTEA),
                (&json(&p.env), Type::TEXT),
                (&d.map(|d| encode_argv(&d.command)), Type::BYTEA),
                (&d.map(|d| d.exit_code), Type::INT4),
                (&d.map(|d| d.stdout.as_slice()), Type::BYTEA),
                (&d.map(|d| d.stderr.as_slice()), Type::BYTEA),
                (&d.map(|d| d.stdout_sha256.as_str()), Type::TEXT),
                (&d.map(|d| d.stderr_sha256.as_str()), Type::TEXT),
                (&d.map(|d| d.stdout_bytes as i64), Type::INT8),
                (&d.map(|d| d.stderr_bytes as i64), Type::INT8),
                (&d.map(|d| d.truncated), Type::BOOL),
                (&json(&p.dry_run_ok), Type::TEXT),
                (&p.reason, Type::TEXT),
                (&p.target, Type::TEXT),
                (&p.effect, Type::TEXT),
                (&p.rollback, Type::TEXT),
                (&p.confidence, Type::FLOAT8),
                (&p.actor, Type::TEXT),
                (&p.created_at, Type::INT8),
                (&p.expires_at, Type::INT8),
                (&p.policy_sha256, Type::TEXT),
                (&json(&p.decision), Type::TEXT),
                (&p.retry_allowed, Type::BOOL),
                (&b.map(|b| b.cwd_id.as_str()), Type::TEXT),
                (
                    &b.map(|b| b.program.path.as_os_str().as_bytes()),
                    Type::BYTEA,
                ),
                (&b.map(|b| b.program.id.as_str()), Type::TEXT),
                (&b.map(|b| encode_files(&b.files)), Type::BYTEA),
                (&p.escalated_from.as_ref().map(json), Type::TEXT),
                (&crate::meta::to_column(&p.meta), Type::TEXT),
                (&p.rollback_of, Type::TEXT),
                (&crate::meta::to_column(&p.env_shown), Type::TEXT),
            ],
        )?;
        get(&row, "seq")
    }

    fn set_status(&mut self, id: &str, status: Status, expires_at: Option<Millis>) -> Result<()> {
        self.execute(
            "UPDATE plans SET status = $2, expires_at = $3 WHERE id = $1",
            &[
                (&id, Type::TEXT),
                (&status.as_str(), Type::TEXT),
                (&expires_at, Type::INT8),
            ],
        )
    }

    fn escalate(
        &mut self,
        id: &str,
        to: &Verdict,
        from: &Verdict,
        decision: &[String],
    ) -> Result<()> {
        self.execute(
            "UPDATE plans SET tier = $2, rule = $3, approvals_required = $4,
               escalated_from = $5, decision = $6, policy_sha256 = $7 WHERE id = $1",
            &[
                (&id, Type::TEXT),
                (&to.tier.as_str(), Type::TEXT),
                (&to.rule, Type::TEXT),
                (&(to.approvals_required as i64), Type::INT8),
                (&json(from), Type::TEXT),
                (&json(decision), Type::TEXT),
                (&to.policy_sha256, Type::TEXT),
            ],
        )
    }

    fn set_retry_allowed(&mut self, id: &str, allowed: bool) -> Result<()> {
        self.execute(
            "UPDATE plans SET retry_allowed = $2 WHERE id = $1",
            &[(&id, Type::TEXT), (&allowed, Type::BOOL)],
        )
    }

    fn insert_approval(&mut self, plan: &str, a: &Approval) -> Result<()> {
        self.execute(
            "INSERT INTO approvals
               (plan, actor, at, comment, hash, signature, signature_kind, signed_policy)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                (&plan, Type::TEXT),
                (&a.actor, Type::TEXT),
                (&a.at, Type::INT8),
                (&a.comment, Type::TEXT),
                (&a.hash, Type::TEXT),
                (
                    &a.signature.as_ref().map(|s| s.armored.as_str()),
                    Type::TEXT,
                ),
                (&a.signature.as_ref().map(|_| "ssh"), Type::TEXT),
                (
                    &a.signature.as_ref().map(|s| s.policy_sha256.as_str()),
                    Type::TEXT,
                ),
            ],
        )
    }

    fn set_rejection(&mut self, plan: &str, r: &Rejection) -> Result<()> {
        self.execute(
            "UPDATE plans SET rejected_by = $2, rejected_reason = $3, rejected_at = $4,
               rejected_signature = $5, rejected_signed_policy = $6
             WHERE id = $1",
            &[
                (&plan, Type::TEXT),
                (&r.actor, Type::TEXT),
                (&r.reason, Type::TEXT),
                (&r.at, Type::INT8),
                (
                    &r.signature.as_ref().map(|s| s.armored.as_str()),
                    Type::TEXT,
                ),
                (
                    &r.signature.as_ref().map(|s| s.policy_sha256.as_str()),
                    Type::TEXT,
                ),
            ],
        )
    }

    fn set_cancellation(&mut self, plan: &str, c: &Cancellation) -> Result<()> {
        self.execute(
            "UPDATE plans SET cancelled_by = $2, cancelled_reason = $3, cancelled_at = $4
             WHERE id = $1",
            &[
                (&plan, Type::TEXT),
                (&c.actor, Type::TEXT),
                (&c.reason, Type::TEXT),
                (&c.at, Type::INT8),
            ],
        )
    }

    fn insert_execution(&mut self, e: &Execution, tier: Tier, rule: Option<&str>) -> Result<()> {
        self.execute(
            "INSERT INTO executions (plan, attempt, key, tier, rule, actor, pid, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                (&e.plan, Type::TEXT),
                (&i64::from(e.attempt), Type::INT8),
                (&e.key, Type::TEXT),
                (&tier.as_str(), Type::TEXT),
                (&rule, Type::TEXT),
                (&e.actor, Type::TEXT),
                (&e.pid.map(i64::from), Type::INT8),
                (&e.started_at, Type::INT8),
            ],
        )
    }

    fn finish_execution(&mut self, e: &Execution) -> Result<()> {
        self.execute(
            "UPDATE executions SET pid = $3, finished_at = $4, exit_code = $5, signal = $6,
               timed_out = $7, stdout = $8, stderr = $9, stdout_bytes = $10, stderr_bytes = $11,
               stdout_sha256 = $12, stderr_sha256 = $13, truncated = $14
             WHERE plan = $1 AND attempt = $2",
            &[
                (&e.plan, Type::TEXT),
                (&i64::from(e.attempt), Type::INT8),
                (&e.pid.map(i64::from), Type::INT8),
                (&e.finished_at, Type::INT8),
                (&e.exit_code, Type::INT4),
                (&e.signal, Type::INT4),
                (&e.timed_out, Type::BOOL),
                (&e.stdout, Type::BYTEA),
                (&e.stderr, Type::BYTEA),
                (&(e.stdout_bytes as i64), Type::INT8),
                (&(e.stderr_bytes as i64), Type::INT8),
                (&e.stdout_sha256, Type::TEXT),
                (&e.stderr_sha256, Type::TEXT),
                (&e.truncated, Type::BOOL),
            ],
        )
    }

    fn resolve_execution(
        &mut self,
        plan: &str,
        attempt: u32,
        r: &Resolution,
        exit_code: Option<i32>,
    ) -> Result<()> {
        self.execute(
            "UPDATE executions SET resolved_by = $3, resolved_outcome = $4, resolved_reason = $5,
               resolved_at = $6, exit_code = coalesce(exit_code, $7),
               resolved_signature = $8, resolved_signed_policy = $9
             WHERE plan = $1 AND attempt = $2",
            &[
                (&plan, Type::TEXT),
                (&i64::from(attempt), Type::INT8),
                (&r.actor, Type::TEXT),
                (&r.outcome.as_str(), Type::TEXT),
                (&r.reason, Type::TEXT),
                (&r.at, Type::INT8),
                (&exit_code, Type::INT4),
                (
                    &r.signature.as_ref().map(|s| s.armored.as_str()),
                    Type::TEXT,
                ),
                (
                    &r.signature.as_ref().map(|s| s.policy_sha256.as_str()),
                    Type::TEXT,
                ),
            ],
        )
    }

    fn execution_count(&mut self, plan: &str) -> Result<u32> {
        let r = self.row(
            "SELECT count(*) FROM executions WHERE plan = $1",
            &[(&plan, Type::TEXT)],
        )?;
        Ok(get::<i64>(&r, "count")? as u32)
    }

    fn budget_usage(&mut self, s: &BudgetScope) -> Result<(u32, Option<Millis>)> {
        let tiers: Vec<&str> = s.tiers.iter().map(|t| t.as_str()).collect();
        let r = self.row(
            "SELECT count(*), min(started_at) FROM executions
             WHERE started_at > $1 AND tier = ANY($2)
               AND ($3::text IS NULL OR rule = $3)
               AND ($4::text IS NULL OR actor = $4)",
            &[
                (&s.since, Type::INT8),
                (&tiers, Type::TEXT_ARRAY),
                (&s.rule, Type::TEXT),
                (&s.actor, Type::TEXT),
            ],
        )?;
        Ok((get::<i64>(&r, "count")? as u32, get(&r, "min")?))
    }

    fn append_event(&mut self, e: &NewEvent) -> Result<Event> {
        // The head this transaction locked as it began: appends from any
        // number of hosts take turns there, and `seq` has no gaps.
        let Some((head_seq, prev_hash)) = self.head.clone() else {
            return Err(Error::new(
                Kind::Error,
                "state database error: an event appended outside a write transaction",
            ));
        };
        let seq = head_seq + 1;
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
        let event = Event {
            seq,
            at: e.at,
            kind: e.kind.to_string(),
            plan: e.plan.clone(),
            key: e.key.clone(),
            actor: e.actor.clone(),
            detail,
            prev_hash,
            hash,
        };
        self.insert_event(&event)?;
        Ok(event)
    }

    fn events(&mut self, f: &EventFilter) -> Result<Vec<Event>> {
        let limit = f.limit.map(|l| l as i64);
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE ($1::text IS NULL OR plan = $1) AND ($2::text IS NULL OR key = $2)
               AND ($3::bigint IS NULL OR at >= $3)
               AND ($5::text IS NULL
                 OR plan IN (SELECT p.plan FROM events p
                   WHERE p.kind = 'planned' AND p.detail::jsonb -> 'meta' @> $5::jsonb))
             ORDER BY seq DESC LIMIT $4"
        );
        let meta = crate::meta::filter_json(&f.meta);
        let rows = self.rows(
            &sql,
            &[
                (&f.plan, Type::TEXT),
                (&f.key, Type::TEXT),
                (&f.since, Type::INT8),
                (&limit, Type::INT8),
                (&meta, Type::TEXT),
            ],
        )?;
        let mut events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }

    fn for_each_event(&mut self, f: &mut dyn FnMut(Event) -> Result<()>) -> Result<()> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
        self.for_each_row(&sql, &mut |row| f(event_from_row(&row)?))
    }

    fn last_event_of(&mut self, plan: &str, kind: &str) -> Result<Option<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE plan = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1"
        );
        let rows = self.rows(&sql, &[(&plan, Type::TEXT), (&kind, Type::TEXT)])?;
        rows.first().map(event_from_row).transpose()
    }

    fn for_each_plan_row(&mut self, f: &mut dyn FnMut(PlanRow) -> Result<()>) -> Result<()> {
        self.for_each_row(
            "SELECT id, hash, status, tier, approvals_required, command FROM plans ORDER BY seq",
            &mut |r| {
                f(PlanRow {
                    id: get(&r, "id")?,
                    hash: get(&r, "hash")?,
                    status: get(&r, "status")?,
                    tier: get(&r, "tier")?,
                    approvals_required: get::<i64>(&r, "approvals_required")? as u32,
                    command: decode_argv(&get::<Vec<u8>>(&r, "command")?),
                })
            },
        )
    }

    fn for_each_signed_approval(
        &mut self,
        f: &mut dyn FnMut(&str, Approval) -> Result<()>,
    ) -> Result<()> {
        self.for_each_row(
            "SELECT plan, actor, at, comment, hash, signature, signed_policy FROM approvals
             WHERE signature IS NOT NULL ORDER BY plan, at",
            &mut |r| {
                let plan: String = get(&r, "plan")?;
                f(&plan, approval_from_row(&r)?)
            },
        )
    }

    fn ledger_is_append_only(&mut self) -> Result<std::result::Result<(), String>> {
        let rows = self.rows(
            "SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text, p.proname, p.prosrc
             FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
             WHERE t.tgrelid = 'events'::regclass AND NOT t.tgisinternal
             ORDER BY t.tgname",
            &[],
        )?;
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        for (name, when) in schema::APPEND_ONLY_TRIGGERS {
            let Some(r) = rows.iter().find(|r| r.get::<_, String>(0) == name) else {
                return Ok(Err(format!(
                    "the ledger's append-only trigger {name} was removed"
                )));
            };
            let def: String = r.get(1);
            let enabled: String = r.get(2);
            let function: String = r.get(3);
            let body: String = r.get(4);
            if !def.contains(when)
                || enabled == "D"
                || function != "ladder_events_append_only"
                || words(&body) != schema::APPEND_ONLY_BODY
            {
                return Ok(Err(format!(
                    "the ledger's append-only trigger {name} was altered or disabled"
                )));
            }
        }
        if let Some(r) = rows.iter().find(|r| {
            let name: String = r.get(0);
            !schema::APPEND_ONLY_TRIGGERS.iter().any(|(n, _)| *n == name)
        }) {
            return Ok(Err(format!(
                "a trigger the schema does not create was added on table events: {}",
                r.get::<_, String>(0)
            )));
        }
        Ok(Ok(()))
    }

    fn for_each_execution(
        &mut self,
        f: &mut dyn FnMut(Execution, Tier, Option<String>) -> Result<()>,
    ) -> Result<()> {
        self.for_each_row(
            "SELECT * FROM executions ORDER BY started_at, plan, attempt",
            &mut |r| {
                let tier: String = get(&r, "tier")?;
                let tier = tier.parse().map_err(|e| corrupt("tier", e))?;
                f(execution_from_row(&r, "")?, tier, get(&r, "rule")?)
            },
        )
    }

    fn copy_event(&mut self, e: &Event) -> Result<()> {
        let (seq, prev) = self.head.clone().unwrap_or_default();
        if e.seq != seq + 1 || e.prev_hash != prev {
            return Err(Error::new(
                Kind::Error,
                format!("event {} does not follow event {seq} of this ledger", e.seq),
            ));
        }
        self.insert_event(e)
    }
}

impl PgTx<'_> {
    /// Appends `e`, which follows the locked head, and moves the head to
    /// it: one statement, one round trip.
    fn insert_event(&mut self, e: &Event) -> Result<()> {
        self.execute(
            "WITH appended AS (
               INSERT INTO events (seq, at, kind, plan, key, actor, detail, prev_hash, hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             )
             UPDATE ledger_head SET seq = $1, hash = $9",
            &[
                (&e.seq, Type::INT8),
                (&e.at, Type::INT8),
                (&e.kind, Type::TEXT),
                (&e.plan, Type::TEXT),
                (&e.key, Type::TEXT),
                (&e.actor, Type::TEXT),
                (&e.detail, Type::TEXT),
                (&e.prev_hash, Type::TEXT),
                (&e.hash, Type::TEXT),
            ],
        )?;
        self.head = Some((e.seq, e.hash.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_store_passes_the_conformance_suite() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let mut databases: std::collections::HashMap<String, String> = Default::default();
        let mut open = |name: &str| -> Box<dyn Store> {
            let url = databases
                .entry(name.to_string())
                .or_insert_with(|| server.fresh_database())
                .clone();
            Box::new(PgStore::open(&url).unwrap())
        };
        // Warnings are SQLite's (a state file on a network filesystem, a
        // failed checkpoint): this store has none to give.
        crate::store::conformance::run_except(&mut open, &["warnings_are_given_once"]);
    }

    fn backend_pid(store: &mut PgStore) -> i32 {
        let mut pid = 0;
        let rows = store.flight("SELECT pg_backend_pid()").unwrap();
        for m in rows {
            if let SimpleQueryMessage::Row(r) = m {
                pid = r.get(0).unwrap().parse().unwrap();
            }
        }
        pid
    }

    #[test]
    fn a_read_left_open_is_ended_by_the_next_flight_or_by_the_server_after_a_pause() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let mut store = PgStore::open(&server.fresh_database()).unwrap();
        let first = backend_pid(&mut store);
        // A read ends without a round trip of its own: still in its
        // transaction until the next flight.
        store
            .read_tx(&mut |tx| tx.plans(&[], None).map(drop))
            .unwrap();
        assert!(store.read_open);
        assert_eq!(
            backend_pid(&mut store),
            first,
            "a next flight ends it in place"
        );
        store
            .read_tx(&mut |tx| tx.plans(&[], None).map(drop))
            .unwrap();
        // A pause longer than the idle timeout (shortened here; it is
        // IDLE_READ for real): the server ends the session.
        store
            .client
            .batch_execute("SET idle_in_transaction_session_timeout = 100")
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(600));
        // The next write connects again and works; nothing was lost.
        write_event(&mut store);
        assert_ne!(backend_pid(&mut store), first, "the session was ended");
        let kinds = crate::store::read(&mut store, |tx| {
            Ok(tx
                .events(&EventFilter::default())?
                .into_iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>())
        })
        .unwrap();
        assert_eq!(kinds, ["probe"]);
    }

    #[test]
    fn a_write_that_fails_at_its_first_statement_leaves_the_session_fit_for_the_next() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let url = server.fresh_database();
        let mut store = PgStore::open(&url).unwrap();
        store
            .client
            .batch_execute("SET lock_timeout = 100")
            .unwrap();
        // Another writer holds the head row: this one times out waiting.
        let mut other = Client::connect(&url, NoTls).unwrap();
        other
            .batch_execute("BEGIN; SELECT * FROM ledger_head FOR UPDATE")
            .unwrap();
        let err = crate::store::write(&mut store, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("55P03"), "{err}");
        other.batch_execute("ROLLBACK").unwrap();
        // Not "current transaction is aborted": the next write and read work.
        write_event(&mut store);
        let n = crate::store::read(&mut store, |tx| {
            Ok(tx.events(&EventFilter::default())?.len())
        })
        .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_wait_is_woken_by_another_session_not_by_its_own_writes() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let url = server.fresh_database();
        let mut store = PgStore::open(&url).unwrap();
        store
            .wait_for_change(std::time::Duration::from_millis(1))
            .unwrap();
        // Our own write notifies at commit; the wait must sit it out.
        write_event(&mut store);
        let start = std::time::Instant::now();
        store
            .wait_for_change(std::time::Duration::from_millis(400))
            .unwrap();
        assert!(
            start.elapsed() >= std::time::Duration::from_millis(350),
            "woken by its own write after {:?}",
            start.elapsed()
        );
        // Another session's write wakes it.
        let mut other = PgStore::open(&url).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            write_event(&mut other);
        });
        let start = std::time::Instant::now();
        store
            .wait_for_change(std::time::Duration::from_secs(20))
            .unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        writer.join().unwrap();
    }

    #[test]
    fn a_url_that_sets_the_idle_timeout_keeps_its_own() {
        assert_eq!(
            session_setup("postgres://u@h/db?options=-c%20idle_in_transaction_session_timeout%3D0"),
            ""
        );
        assert!(session_setup("postgres://u@h/db").contains("= 10000"));
    }

    fn write_event(store: &mut PgStore) {
        crate::store::write(store, |tx| {
            tx.append_event(&NewEvent {
                at: 1,
                kind: "probe",
                plan: None,
                key: None,
                actor: "test".into(),
                detail: serde_json::json!({}),
            })
            .map(drop)
        })
        .unwrap();
    }

    #[test]
    fn a_database_that_is_not_ladders_is_refused_untouched() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let url = server.fresh_database();
        let mut c = Client::connect(&url, NoTls).unwrap();
        c.batch_execute("CREATE TABLE invoices (id INT)").unwrap();
        let e = PgStore::open(&url).err().expect("refused");
        assert!(e.to_string().contains("not a ladder database"), "{e}");
        let tables: i64 = c
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 1, "nothing was created beside it");
    }

    #[test]
    fn the_database_keeps_one_plan_per_key() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let url = server.fresh_database();
        drop(PgStore::open(&url).unwrap());
        let mut c = Client::connect(&url, NoTls).unwrap();
        let insert = |c: &mut Client, id: &str, status: &str| {
            c.execute(
                "INSERT INTO plans (id, key, hash, status, tier, approvals_required, command, cwd,
                   env, dry_run_ok, actor, created_at, policy_sha256, decision)
                 VALUES ($1, 'k', 'h', $2, 'irreversible', 1, '', '', '{}', '[0]', 'a', 0, '', '[]')",
                &[&id, &status],
            )
        };
        insert(&mut c, "p1", "rejected").unwrap();
        insert(&mut c, "p2", "pending").unwrap();
        let e = insert(&mut c, "p3", "approved").unwrap_err();
        assert!(e.to_string().contains("db error") || e.as_db_error().is_some());
        insert(&mut c, "p4", "expired").unwrap();
        // A cancelled plan no longer holds its key.
        c.execute("UPDATE plans SET status = 'cancelled' WHERE id = 'p2'", &[])
            .unwrap();
        insert(&mut c, "p5", "pending").unwrap();
    }

    #[test]
    fn a_database_of_the_previous_version_is_migrated_with_its_plans() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let url = server.fresh_database();
        let mut c = Client::connect(&url, NoTls).unwrap();
        c.batch_execute("CREATE TABLE ladder_meta (version BIGINT NOT NULL); INSERT INTO ladder_meta VALUES (3)")
            .unwrap();
        for m in &schema::MIGRATIONS[..3] {
            c.batch_execute(m).unwrap();
        }
        c.batch_execute(
            "INSERT INTO plans (id, key, hash, status, tier, approvals_required, command, cwd,
               env, dry_run_ok, actor, created_at, policy_sha256, decision)
             VALUES ('p1', 'k', 'h', 'pending', 'irreversible', 1, '', '', '{}', '[0]', 'a', 0, '', '[]')",
        )
        .unwrap();
        let mut store = PgStore::open(&url).unwrap();
        let plan = crate::store::read(&mut store, |tx| tx.plan("p1"))
            .unwrap()
            .unwrap();
        assert!(plan.meta.is_empty() && plan.cancellation.is_none() && plan.rollback_of.is_none());
        let version: i64 = c
            .query_one("SELECT version FROM ladder_meta", &[])
            .unwrap()
            .get(0);
        assert_eq!(version, schema::MIGRATIONS.len() as i64);
        crate::store::write(&mut store, |tx| {
            tx.set_status("p1", Status::Cancelled, None)
        })
        .unwrap();
        let again = Plan {
            id: "p2".into(),
            status: Status::Pending,
            ..plan
        };
        crate::store::write(&mut store, |tx| tx.insert_plan(&again)).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let url = server.fresh_database();
        drop(PgStore::open(&url).unwrap());
        let mut c = Client::connect(&url, NoTls).unwrap();
        c.batch_execute("UPDATE ladder_meta SET version = version + 1")
            .unwrap();
        let e = PgStore::open(&url).err().expect("refused");
        assert!(e.to_string().contains("upgrade ladder"), "{e}");
    }

    #[test]
    fn tls_when_the_url_asks_verified_against_its_root() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let Some(cert) = server.tls_cert() else {
            eprintln!("note: TLS test skipped: the test server has no certificate (no openssl)");
            return;
        };
        // A database of its own, reached over TCP.
        let db = server.fresh_database();
        let name = db.split_once("@/").unwrap().1.split('?').next().unwrap();
        let tcp = server.tcp_url(name);
        let url = format!("{tcp}?sslmode=require&sslrootcert={}", cert.display());
        let mut store = PgStore::open(&url).unwrap();
        let ssl: bool = store
            .client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(ssl, "the connection is not encrypted");
        // A root that did not sign the server's certificate: refused.
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.pem");
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-new",
                "-x509",
                "-days",
                "2",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(dir.path().join("other.key"))
            .arg("-out")
            .arg(&other)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(made.success());
        let url = format!("{tcp}?sslmode=require&sslrootcert={}", other.display());
        let e = PgStore::open(&url)
            .err()
            .expect("an unknown issuer is refused");
        assert!(e.to_string().contains("cannot connect"), "{e}");
        assert!(!e.to_string().contains(&server_password(&tcp)), "{e}");
    }

    /// The password in a test URL, to check it never shows.
    fn server_password(url: &str) -> String {
        url.split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .and_then(|(auth, _)| auth.split_once(':'))
            .map(|(_, pw)| pw.to_string())
            .unwrap_or_else(|| "\u{0}".into())
    }

    #[test]
    fn the_servers_clock_is_measured_at_open() {
        let Some(server) = test_server::TestServer::shared() else {
            return;
        };
        let url = server.fresh_database();
        // Measured on a fresh database (migrated) and on one at this version.
        for _ in 0..2 {
            let store = PgStore::open(&url).unwrap();
            let offset = store.clock_offset().expect("a server has a clock");
            // The server runs on this machine: one clock, up to a round trip.
            assert!(offset.abs() < 1_000, "offset {offset} ms");
        }
        let skewed = crate::clock::Clock::Offset(3_600_000);
        let gap = skewed.now() - crate::clock::Clock::System.now();
        assert!((3_599_000..=3_600_000).contains(&gap), "{gap}");
    }

    #[test]
    fn pgpass_lines_match_as_libpq_reads_them() {
        let text = "# comment\ndb.internal:5432:ladder:ci:first\n*:*:*:ci:any\nh\\:x:1:d:u:p\\:w\n";
        assert_eq!(
            pgpass_lookup(text, ["db.internal", "5432", "ladder", "ci"]).as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_lookup(text, ["other", "5433", "x", "ci"]).as_deref(),
            Some("any")
        );
        assert_eq!(
            pgpass_lookup(text, ["h:x", "1", "d", "u"]).as_deref(),
            Some("p:w")
        );
        assert_eq!(pgpass_lookup(text, ["other", "5433", "x", "bob"]), None);
    }

    #[test]
    fn what_the_url_leaves_out_comes_from_pg_variables() {
        let vars = |name: &str| match name {
            "PGHOST" => Some("db.internal".to_string()),
            "PGPORT" => Some("6543".to_string()),
            "PGUSER" => Some("ci".to_string()),
            "PGDATABASE" => Some("ladder".to_string()),
            "PGPASSWORD" => Some("from-env".to_string()),
            _ => None,
        };
        let mut bare: postgres::Config = "postgres://".parse().unwrap();
        fill_from_environment(&mut bare, &vars);
        assert_eq!(bare.get_user(), Some("ci"));
        assert_eq!(bare.get_dbname(), Some("ladder"));
        assert_eq!(bare.get_ports(), [6543]);
        assert_eq!(bare.get_password(), Some(&b"from-env"[..]));
        // What the URL says wins.
        let mut named: postgres::Config = "postgres://alice:pw@h:1/db".parse().unwrap();
        fill_from_environment(&mut named, &vars);
        assert_eq!(named.get_user(), Some("alice"));
        assert_eq!(named.get_password(), Some(&b"pw"[..]));
        assert_eq!(named.get_ports(), [1]);
    }

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            redact("postgres://ladder:s3cret@db.example:5432/ladder"),
            "postgres://ladder:***@db.example:5432/ladder"
        );
        assert_eq!(redact("postgres://db/ladder"), "postgres://db/ladder");
    }
}

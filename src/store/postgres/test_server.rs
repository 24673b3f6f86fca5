//! A throwaway PostgreSQL server for tests: one cluster per test process,
//! started on first use, and an empty database of its own for each test.
//!
//! [`TestServer::shared`] runs `initdb` into a temporary directory (in
//! `/dev/shm` when it has room: see `temp_base`). It starts `postgres` with
//! its Unix socket in that directory, where trust auth is safe because only
//! this user can reach it. It also listens on 127.0.0.1 at a free port, with
//! a password, because any local user can reach a TCP port. Durability is
//! traded for speed
//! (`fsync`, `synchronous_commit` and `full_page_writes` off). Each test
//! asks [`TestServer::fresh_database`] for its own database, so tests run in
//! parallel without seeing each other's rows, and test processes never share
//! a cluster, a directory or a port.
//!
//! Where no server can be had (no PostgreSQL binaries, `initdb` failing, ...)
//! `shared` prints one `note: PostgreSQL tests skipped: <why>` line and
//! returns `None`, and a test returns early. Environment:
//! - `LADDER_TEST_DATABASE_URL`: use this server (a superuser URL) instead
//!   of starting one. Databases made there are left behind.
//! - `LADDER_TEST_PG_BINDIR`: where `initdb` and `postgres` are, when they
//!   are not in a usual place.
//! - `LADDER_TEST_REQUIRE_POSTGRES=1`: fail the tests instead of skipping them
//!   when no server can be had. Use it in CI, where a skip would hide a
//!   missing install.
//!
//! # Stopping the server
//! The cluster must go away however the test process ends: normally, through
//! a failed test (libtest then calls `exit(101)`), through Ctrl-C, or through
//! SIGKILL. Rust never drops statics, and `atexit` hooks never run on a
//! signal. `PR_SET_PDEATHSIG` on the `postgres` child looks like the answer
//! but has two traps. It fires when the spawning *thread* exits, and that
//! thread is whichever libtest worker called `shared` first, which finishes
//! its test and exits long before the process does. The kernel also clears
//! it when the child changes uid, as it must under root. So the lifetime
//! comes from a pipe instead:
//!
//! `postgres` runs under a small `sh` supervisor (`SUPERVISOR`). The
//! supervisor's stdin is a pipe, and only this process holds the pipe's write
//! end (close-on-exec, so no other child inherits it). When this process
//! dies, in any way, the kernel closes that end. The supervisor's `read`
//! then returns EOF, and it sends `postgres` SIGQUIT. That is an immediate
//! shutdown: the postmaster stops its backends and removes its shared memory
//! and socket. The supervisor waits for it, then deletes the temporary
//! directory. The supervisor has a process group of its own, so a Ctrl-C
//! does not kill it before it can clean up. On a normal exit an `atexit`
//! hook closes the pipe itself and waits for the supervisor, so the cluster
//! is gone by the time `cargo test` returns.
//!
//! Dynamic shared memory is put in the data directory
//! (`dynamic_shared_memory_type=mmap`), so even a `postgres` killed with
//! SIGKILL leaves nothing behind in `/dev/shm`.
//!
//! Under root, `initdb` and `postgres` run as the `postgres` user (or
//! `nobody`), because both refuse to run as root. The user is switched with
//! std's `CommandExt::uid`/`gid`, which also drops supplementary groups. That
//! needs no `setpriv` or `runuser`, and no PAM.

use std::ffi::{CString, OsStr};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::IntoRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The superuser `initdb` creates in our own cluster.
const SUPERUSER: &str = "ladder";

/// How long `postgres` may take to accept connections. A normal start takes
/// well under a second, but a loaded CI machine can be slow.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `postgres` and stops it, then deletes the directory, when stdin
/// reaches EOF (see the module docs). It also deletes the directory if
/// `postgres` exits by itself. Arguments: the `postgres` binary, the data
/// directory, the directory to delete, then the server's own arguments.
const SUPERVISOR: &str = r#"
postgres=$1 data=$2 dir=$3
shift 3
exec 3<&0 </dev/null
"$postgres" -D "$data" "$@" 3<&- &
pg=$!
{ read -r line <&3; kill -QUIT "$pg" 2>/dev/null; } &
watcher=$!
exec 3<&-
wait "$pg"
status=$?
kill "$watcher" 2>/dev/null
rm -rf "$dir"
exit "$status"
"#;

/// A PostgreSQL server to make test databases on.
pub struct TestServer {
    kind: Kind,
    /// Numbers the databases this process makes.
    next_db: AtomicU64,
}

enum Kind {
    /// A cluster this process started.
    Local(Cluster),
    /// `LADDER_TEST_DATABASE_URL`: a superuser URL for someone else's server.
    External { url: String },
}

struct Cluster {
    /// The temporary directory. The socket is here and the data is in `data/`.
    dir: PathBuf,
    port: u16,
    /// The superuser's password, used over TCP only (the socket trusts).
    password: String,
    supervisor: libc::pid_t,
    /// The write end of the supervisor's stdin, or -1 once it is closed.
    lifeline: AtomicI32,
    /// The process that started the cluster. A forked child inherits the
    /// `atexit` hook, and its exit must not stop the parent's server.
    owner: libc::pid_t,
    /// The root that signed the server's certificate, when `openssl` could
    /// make them: TCP then also speaks TLS.
    tls_cert: Option<PathBuf>,
}

static SHARED: OnceLock<Result<TestServer, String>> = OnceLock::new();

impl TestServer {
    /// The shared server for this test process. It is started on the first
    /// call, and the calls that come in meanwhile wait for it. It is stopped,
    /// and its directory deleted, when the process ends (see the module docs).
    ///
    /// Returns `None` where no server can be had, after printing one line
    /// that says why (or panics under `LADDER_TEST_REQUIRE_POSTGRES`).
    /// Uses `LADDER_TEST_DATABASE_URL`'s server when that is set.
    pub fn shared() -> Option<&'static TestServer> {
        let server = SHARED.get_or_init(|| {
            let server = start();
            match &server {
                // Write to the stream directly: libtest captures `eprintln!`,
                // and a skip nobody sees hides a gap in the suite.
                Err(why) if !required() => {
                    let _ = writeln!(std::io::stderr(), "note: PostgreSQL tests skipped: {why}");
                }
                _ => {}
            }
            server
        });
        match server {
            Ok(server) => Some(server),
            Err(why) if required() => {
                panic!("LADDER_TEST_REQUIRE_POSTGRES is set but no PostgreSQL server: {why}")
            }
            Err(_) => None,
        }
    }

    /// A new, empty database, as a connection URL for the superuser. For our
    /// own cluster that is `postgres://ladder@/NAME?host=/socket/dir&port=N`.
    /// For `LADDER_TEST_DATABASE_URL` it is that URL with the database
    /// replaced. Panics if the database cannot be created.
    pub fn fresh_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = match &self.kind {
            Kind::Local(_) => format!("test_{n}"),
            // Other test processes and earlier runs share this server, and
            // what they made is still there.
            Kind::External { .. } => {
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                format!("ladder_test_{}_{nanos:x}_{n}", std::process::id())
            }
        };
        let admin = self.admin_url();
        let mut client = connect(&admin)
            .unwrap_or_else(|e| panic!("connecting to the test server to create {name}: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        self.url(&name)
    }

    /// The URL of the server's default `postgres` database, as the
    /// superuser. For `LADDER_TEST_DATABASE_URL` it is that URL unchanged.
    pub fn admin_url(&self) -> String {
        match &self.kind {
            Kind::Local(_) => self.url("postgres"),
            Kind::External { url } => url.clone(),
        }
    }

    /// The root (a CA made for the test) that signed the certificate the
    /// server's TLS presents for 127.0.0.1, when it has TLS.
    #[allow(dead_code)]
    pub fn tls_cert(&self) -> Option<PathBuf> {
        match &self.kind {
            Kind::Local(c) => c.tls_cert.clone(),
            Kind::External { .. } => None,
        }
    }

    /// A URL for database `db` over TCP on 127.0.0.1, with the superuser's
    /// password. It is for tests of code that needs a host and port rather
    /// than a socket. For `LADDER_TEST_DATABASE_URL` it is that URL with the
    /// database replaced, whatever transport the URL names.
    // Not every test suite needs TCP, and an unused method must not warn.
    #[allow(dead_code)]
    pub fn tcp_url(&self, db: &str) -> String {
        match &self.kind {
            Kind::Local(c) => format!(
                "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{db}",
                c.password, c.port
            ),
            Kind::External { url } => with_dbname(url, db),
        }
    }

    /// The URL of database `db` over the Unix socket (or in the external URL).
    fn url(&self, db: &str) -> String {
        match &self.kind {
            Kind::Local(c) => format!(
                "postgres://{SUPERUSER}@/{db}?host={}&port={}",
                percent_encode(c.dir.as_os_str()),
                c.port
            ),
            Kind::External { url } => with_dbname(url, db),
        }
    }
}

fn required() -> bool {
    std::env::var_os("LADDER_TEST_REQUIRE_POSTGRES").is_some_and(|v| !v.is_empty() && v != "0")
}

fn connect(url: &str) -> Result<::postgres::Client, ::postgres::Error> {
    // `::postgres`: the crate, not the module this file is in.
    ::postgres::Client::connect(url, ::postgres::NoTls)
}

fn start() -> Result<TestServer, String> {
    let kind = match std::env::var("LADDER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            // The URL is not printed because it may hold a password.
            connect(&url)
                .map_err(|e| format!("cannot connect to LADDER_TEST_DATABASE_URL: {e}"))?;
            Kind::External { url }
        }
        _ => Kind::Local(start_cluster()?),
    };
    Ok(TestServer {
        kind,
        next_db: AtomicU64::new(0),
    })
}

/// `url` with its database replaced by `db`, in the URL form or the
/// `key=value` form.
fn with_dbname(url: &str, db: &str) -> String {
    let scheme = ["postgres://", "postgresql://"]
        .into_iter()
        .find(|s| url.starts_with(s));
    let Some(scheme) = scheme else {
        // In the key=value form a later keyword wins.
        return format!("{url} dbname={db}");
    };
    let rest = &url[scheme.len()..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    // A `dbname` parameter would override the path, so it is dropped.
    let params: Vec<&str> = rest
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
        .collect();
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    format!("{scheme}{authority}/{db}{query}")
}

/// Percent-encodes a socket directory for a URL's `host=` parameter, which
/// tokio-postgres decodes.
fn percent_encode(s: &OsStr) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Why one attempt to start the cluster failed.
enum StartError {
    /// Someone else bound the port between our choosing it and `postgres`
    /// binding it. Trying again with another port helps.
    PortTaken(String),
    Other(String),
}

impl From<String> for StartError {
    fn from(why: String) -> Self {
        StartError::Other(why)
    }
}

fn start_cluster() -> Result<Cluster, String> {
    let bindir = find_bindir()?;
    let user = unprivileged_user()?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match try_start(&bindir, user) {
            Ok(cluster) => return Ok(cluster),
            Err(StartError::PortTaken(_)) if attempts < 3 => continue,
            Err(StartError::PortTaken(why) | StartError::Other(why)) => return Err(why),
        }
    }
}

/// The directory that holds both `initdb` and `postgres`.
fn find_bindir() -> Result<PathBuf, String> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("LADDER_TEST_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if has_both(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "no initdb and postgres in LADDER_TEST_PG_BINDIR={}",
                dir.display()
            ))
        };
    }
    let mut candidates = Vec::new();
    // Debian and Ubuntu keep each major version in its own directory, off
    // PATH. The newest is tried first.
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .collect();
        versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        candidates.extend(versions.into_iter().map(|(_, dir)| dir));
    }
    // Fedora, Arch and Homebrew put them on PATH.
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.push("/usr/local/pgsql/bin".into());
    candidates
        .into_iter()
        .find(|dir| has_both(dir))
        .ok_or_else(|| {
            "no PostgreSQL server binaries (initdb, postgres) found; \
         install PostgreSQL or set LADDER_TEST_PG_BINDIR"
                .to_string()
        })
}

/// The uid and gid to run `initdb` and `postgres` as, if we are root. Both
/// refuse to run as root.
fn unprivileged_user() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(lookup_user)
        .map(Some)
        .ok_or_else(|| {
            "running as root, and no unprivileged user (postgres, nobody) to run initdb as"
                .to_string()
        })
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let name = CString::new(name).ok()?;
    // SAFETY: passwd is plain data. getpwnam_r writes into `pwd` and `buf`,
    // which outlive the call, and the thread-safe `_r` form touches no
    // static state.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut found = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        );
        (rc == 0 && !found.is_null() && pwd.pw_uid != 0).then_some((pwd.pw_uid, pwd.pw_gid))
    }
}

/// Where the temporary directory goes. `/dev/shm` comes first when it has
/// room: PostgreSQL creates a few hundred files for each database, and on a
/// disk that can make `CREATE DATABASE` ten times slower (measured 300 ms
/// against 25 ms) and startup twice as slow. Each database takes about 8 MB
/// of memory there. Where `/dev/shm` is small (Docker gives it 64 MB), the
/// usual temporary directory is used instead. That falls back to `/tmp`
/// when the user we switch to cannot get into it (e.g. a TMPDIR under
/// /root) or when its path is too long for a socket address: a socket path
/// must fit in 107 bytes, and `/ladder-pg-XXXXXX/.s.PGSQL.NNNNN` takes
/// about 33 of them.
fn temp_base(switching_user: bool) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if free_bytes(shm).is_some_and(|free| free >= 2 << 30) {
        return shm.to_path_buf();
    }
    let base = std::env::temp_dir();
    let reachable = !switching_user
        || base
            .ancestors()
            .all(|dir| fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    if reachable && base.as_os_str().len() <= 70 {
        base
    } else {
        PathBuf::from("/tmp")
    }
}

/// The bytes an unprivileged user may still write on `path`'s file system.
// The fields are u64 here, but narrower on some targets.
#[allow(clippy::useless_conversion)]
fn free_bytes(path: &Path) -> Option<u64> {
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data, and statvfs(3) only writes into it.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(path.as_ptr(), &mut st) == 0)
            .then(|| u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
    }
}

/// A command that runs as `user` (if any), in `cwd`. The user may not be
/// allowed into our working directory, and `postgres` complains about that.
fn command(program: impl AsRef<OsStr>, user: Option<(u32, u32)>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn try_start(bindir: &Path, user: Option<(u32, u32)>) -> Result<Cluster, StartError> {
    let tmp = tempfile::Builder::new()
        .prefix("ladder-pg-")
        .tempdir_in(temp_base(user.is_some()))
        .map_err(|e| format!("creating a temporary directory: {e}"))?;
    let dir = tmp.path().to_path_buf();
    if let Some((uid, gid)) = user {
        // The directory stays 0700: the socket in it trusts whoever reaches it.
        chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("giving {} to uid {uid}: {e}", dir.display()))?;
    }

    let password = random_hex(16)?;
    let pwfile = dir.join("pwfile");
    fs::write(&pwfile, format!("{password}\n")).map_err(|e| format!("writing pwfile: {e}"))?;
    let data = dir.join("data");
    let initdb = command(bindir.join("initdb"), user, &dir)
        .arg("-D")
        .arg(&data)
        .args(["-U", SUPERUSER, "--pwfile"])
        .arg(&pwfile)
        // `--no-sync` saves most of a second. The data is thrown away.
        .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
        .args(["--no-locale", "--encoding=UTF8", "--no-sync"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", bindir.join("initdb").display()))?;
    let _ = fs::remove_file(&pwfile);
    if !initdb.status.success() {
        let out = String::from_utf8_lossy(&initdb.stderr);
        return Err(format!("initdb failed ({}): {}", initdb.status, summary(&out)).into());
    }

    // The port is chosen as late as possible. Another process can still take
    // it before `postgres` binds it, and then the caller tries again.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port on 127.0.0.1: {e}"))?
        .port();
    let tls_cert = make_certificate(&dir, user);
    let log_path = dir.join("postgres.log");
    let log = File::create(&log_path).map_err(|e| format!("creating the server log: {e}"))?;
    // The log is read through our own handle: the supervisor deletes the
    // file with the directory if `postgres` fails.
    let mut log_reader = File::open(&log_path).map_err(|e| format!("opening the log: {e}"))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("opening the log: {e}"))?;
    let settings = [
        "listen_addresses=127.0.0.1".to_string(),
        format!("port={port}"),
        format!("unix_socket_directories={}", dir.display()),
        "max_connections=200".to_string(),
        "fsync=off".to_string(),
        "synchronous_commit=off".to_string(),
        "full_page_writes=off".to_string(),
        "dynamic_shared_memory_type=mmap".to_string(),
        // Every CREATE DATABASE writes the template's ~8 MB to the WAL. This
        // recycles the WAL after ~16 databases rather than letting it grow
        // to 1 GB, which in /dev/shm would all be memory.
        "max_wal_size=128MB".to_string(),
    ];
    let tls_settings = tls_cert.iter().flat_map(|_| {
        [
            "ssl=on".to_string(),
            format!("ssl_cert_file={}", dir.join("server.crt").display()),
            format!("ssl_key_file={}", dir.join("server.key").display()),
        ]
    });
    let settings: Vec<String> = settings.into_iter().chain(tls_settings).collect();
    let mut supervisor = command("/bin/sh", user, &dir);
    supervisor
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("ladder-pg-supervisor")
        .arg(bindir.join("postgres"))
        .arg(&data)
        .arg(&dir);
    for setting in &settings {
        supervisor.arg("-c").arg(setting);
    }
    let mut child = supervisor
        .stdin(Stdio::piped())
        // Not our stdout: an inherited pipe (`cargo test | tee`) would stay
        // open until the supervisor is done.
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    // The supervisor deletes the directory from here on.
    let _ = tmp.keep();
    let lifeline = child
        .stdin
        .take()
        .expect("supervisor stdin is piped")
        .into_raw_fd();
    let cluster = Cluster {
        dir,
        port,
        password,
        supervisor: child.id() as libc::pid_t,
        lifeline: AtomicI32::new(lifeline),
        // SAFETY: getpid has no preconditions.
        owner: unsafe { libc::getpid() },
        tls_cert,
    };

    match wait_until_ready(&cluster, &mut child) {
        Ok(()) => {
            // SAFETY: `stop_at_exit` is an `extern "C" fn()` that cannot
            // unwind. This runs once, inside `SHARED`'s initialisation.
            unsafe { libc::atexit(stop_at_exit) };
            Ok(cluster)
        }
        Err(why) => {
            cluster.stop();
            let mut log = String::new();
            let _ = log_reader.read_to_string(&mut log);
            let why = format!("postgres {why}: {}", summary(&log));
            if log.contains("could not bind") || log.contains("already in use") {
                Err(StartError::PortTaken(why))
            } else {
                Err(StartError::Other(why))
            }
        }
    }
}

/// Waits until the server accepts a connection, or fails if the supervisor
/// exits (meaning `postgres` exited) or the timeout passes.
fn wait_until_ready(cluster: &Cluster, supervisor: &mut Child) -> Result<(), String> {
    let url = format!(
        "postgres://{SUPERUSER}@/postgres?host={}&port={}",
        percent_encode(cluster.dir.as_os_str()),
        cluster.port
    );
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if connect(&url).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = supervisor.try_wait() {
            return Err(format!("exited ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "did not accept connections within {READY_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Cluster {
    /// Closes the lifeline and waits (briefly) for the supervisor to stop
    /// `postgres` and delete the directory.
    fn stop(&self) {
        // SAFETY: getpid has no preconditions.
        if unsafe { libc::getpid() } != self.owner {
            return;
        }
        let fd = self.lifeline.swap(-1, Ordering::SeqCst);
        if fd < 0 {
            return;
        }
        // SAFETY: `fd` came from `into_raw_fd`, and the swap above means
        // nothing else closes it.
        unsafe { libc::close(fd) };
        // An immediate shutdown and `rm -rf` take tens of milliseconds. The
        // limit is there so that a wedged server cannot hang the process's
        // exit.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut status = 0;
            // SAFETY: `status` is a valid out-pointer.
            let rc = unsafe { libc::waitpid(self.supervisor, &mut status, libc::WNOHANG) };
            let interrupted = rc == -1
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
            // rc > 0: reaped. -1 (other than EINTR): already reaped by
            // `try_wait`.
            if (rc != 0 && !interrupted) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // The supervisor runs as the unprivileged user, so it may not be
        // allowed to remove the directory itself from its parent.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

extern "C" fn stop_at_exit() {
    if let Some(Ok(TestServer {
        kind: Kind::Local(cluster),
        ..
    })) = SHARED.get()
    {
        cluster.stop();
    }
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    Ok(buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// The lines of a tool's output that say what went wrong, on one line.
fn summary(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let telling: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            l.contains("FATAL")
                || l.contains("ERROR")
                || l.contains("error")
                || l.contains("could not")
        })
        .collect();
    let picked = if telling.is_empty() {
        lines.last().copied().unwrap_or("no output").to_string()
    } else {
        telling.join("; ")
    };
    picked.chars().take(500).collect()
}

/// A certificate for 127.0.0.1 in `dir` (`server.crt`, and `server.key`,
/// which the server insists only its user may read), signed by a CA made
/// for the purpose (`ca.crt`, returned: the root a client trusts). Made by
/// `openssl`; None when there is no `openssl` or it fails: the server then
/// runs without TLS and TLS tests skip.
fn make_certificate(dir: &Path, user: Option<(u32, u32)>) -> Option<PathBuf> {
    let (ca, cert, key) = (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").ok()?;
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=ladder-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
        &[
            "req",
            "-new",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    ];
    for args in steps {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).ok()?;
    if let Some((uid, gid)) = user {
        chown(&key, Some(uid), Some(gid)).ok()?;
        chown(&cert, Some(uid), Some(gid)).ok()?;
    }
    Some(ca)
}

/// A Unix-socket proxy in front of the test cluster that counts what the
/// wire carries: connections, and round trips. A round trip is a flight of
/// bytes from the client answered by the server: the first server bytes
/// after client bytes count one, however many packets either side splits
/// its messages into. This is what a network's latency multiplies, measured
/// from outside ladder rather than by ladder's own account of its queries.
#[allow(dead_code)]
pub struct WireCounter {
    /// The URL to give ladder: the database through the proxy.
    pub url: String,
    connections: std::sync::Arc<AtomicU64>,
    round_trips: std::sync::Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl WireCounter {
    /// A proxy for database `db` of our own cluster, or `None` for an
    /// external server (whose socket this process may not reach).
    pub fn new(server: &TestServer, db: &str) -> Option<WireCounter> {
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::Arc;
        let Kind::Local(c) = &server.kind else {
            return None;
        };
        let dir = tempfile::tempdir().ok()?;
        let name = format!(".s.PGSQL.{}", c.port);
        let listener = UnixListener::bind(dir.path().join(&name)).ok()?;
        let upstream = c.dir.join(&name);
        let connections = Arc::new(AtomicU64::new(0));
        let round_trips = Arc::new(AtomicU64::new(0));
        {
            let (connections, round_trips) = (connections.clone(), round_trips.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { return };
                    let Ok(server) = UnixStream::connect(&upstream) else {
                        continue;
                    };
                    connections.fetch_add(1, Ordering::Relaxed);
                    // Set by client bytes, taken by the server's answer.
                    let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let pipe = |mut from: UnixStream, mut to: UnixStream, answer: bool| {
                        let (asked, round_trips) = (asked.clone(), round_trips.clone());
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 16 * 1024];
                            loop {
                                let n = match from.read(&mut buf) {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => n,
                                };
                                if answer {
                                    if asked.swap(false, Ordering::SeqCst) {
                                        round_trips.fetch_add(1, Ordering::Relaxed);
                                    }
                                } else {
                                    asked.store(true, Ordering::SeqCst);
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(std::net::Shutdown::Write);
                        });
                    };
                    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                        continue;
                    };
                    pipe(client, server, false);
                    pipe(s2, c2, true);
                }
            });
        }
        let url = format!(
            "postgres://{SUPERUSER}@/{db}?host={}&port={}",
            percent_encode(dir.path().as_os_str()),
            c.port
        );
        Some(WireCounter {
            url,
            connections,
            round_trips,
            _dir: dir,
        })
    }

    /// (connections, round trips) so far, and zeroes both.
    pub fn take(&self) -> (u64, u64) {
        (
            self.connections.swap(0, Ordering::SeqCst),
            self.round_trips.swap(0, Ordering::SeqCst),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::TestServer;

    #[test]
    fn fresh_databases_are_distinct() {
        let Some(server) = TestServer::shared() else {
            return;
        };
        let a = server.fresh_database();
        let b = server.fresh_database();
        let mut a = ::postgres::Client::connect(&a, ::postgres::NoTls).expect("connect to a");
        let mut b = ::postgres::Client::connect(&b, ::postgres::NoTls).expect("connect to b");
        for client in [&mut a, &mut b] {
            let one: i32 = client.query_one("SELECT 1", &[]).unwrap().get(0);
            assert_eq!(one, 1);
        }
        let name = |c: &mut ::postgres::Client| -> String {
            c.query_one("SELECT current_database()", &[])
                .unwrap()
                .get(0)
        };
        assert_ne!(name(&mut a), name(&mut b));
        // What one test writes, another does not see.
        a.batch_execute("CREATE TABLE only_in_a (x int)").unwrap();
        let seen: bool = b
            .query_one("SELECT to_regclass('only_in_a') IS NOT NULL", &[])
            .unwrap()
            .get(0);
        assert!(!seen);
    }
}

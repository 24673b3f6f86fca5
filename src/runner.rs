//! Spawning the wrapped command: streaming, capture, signals.
//!
//! [`run`] starts an argv (never through a shell) in a given directory,
//! records its stdout and stderr, optionally copies them through to ours as
//! they arrive, and reports how it ended. The dry-run at plan time and the
//! real command at apply time both go through here.
//!
//! # Memory
//!
//! Output is read in 64 KiB chunks. Each stream keeps at most `cap` bytes;
//! the rest is counted and fed to an incremental sha256, so a child writing
//! gigabytes costs ladder the cap plus one chunk per stream. Both pipes are
//! drained by one thread with `poll(2)`, so a child filling stderr while we
//! would be waiting on stdout cannot deadlock.
//!
//! # Waiting and killing
//!
//! The calling thread blocks in `waitid(WNOWAIT)` until the child exits (no
//! polling, so a trivial command costs a spawn and a few thread wake-ups),
//! then reaps it with the same lock held that every `kill` takes. The child's
//! pid is only signalled while it has not been reaped, so a recycled pid can
//! never make ladder signal a stranger. A timeout thread sends `SIGTERM` when
//! the limit passes and `SIGKILL` [`KILL_GRACE`] later.
//!
//! # Signals
//!
//! With [`Spec::forward_signals`], SIGINT, SIGTERM, SIGHUP and SIGQUIT are
//! caught while the child runs, so ladder survives them and records the
//! outcome. What is forwarded is decided by [`should_forward`]: SIGTERM and
//! SIGHUP always; SIGINT and SIGQUIT only when a process sent them with
//! `kill(2)`. When the terminal generates them (Ctrl-C, Ctrl-\\) they already
//! reach the child, which stays in ladder's process group so that job
//! control keeps working; forwarding would deliver them twice.
//!
//! A signal that ladder's parent set to be ignored (`nohup`, a background job
//! of a script) is left ignored, so the child inherits that too.
//!
//! signal-hook cannot uninstall its process-wide handler. So the first
//! forwarding run also registers, for each signal whose action was the
//! default, an action that emulates the default whenever no run is active:
//! between and after runs, SIGTERM and Ctrl-C end ladder as usual. Code that
//! wants to catch these signals itself outside a run must know this.
//!
//! # Output held open by a background process
//!
//! A child may leave a background process holding its stdout or stderr
//! (`server &` in a script). Reading until end of file would then hang ladder
//! long after the command itself ended, so after the child exits the pipes
//! are drained for at most [`DRAIN_GRACE`]. Whatever arrives later is neither
//! shown nor recorded, and with tee on, a line on stderr says so.
//!
//! # Broken pipes
//!
//! When our stdout or stderr is closed, teeing to it stops and recording goes
//! on. SIGPIPE is blocked in the threads that write, so this holds even when
//! ladder's SIGPIPE has its default action.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::digest::hex;
use libc::c_int;
use sha2::{Digest, Sha256};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithRawSiginfo;
use signal_hook::iterator::{Handle, SignalsInfo};

/// How long a child gets between the timeout's SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long, after the child exits, its output is still read when a process
/// it left behind holds the pipes open.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Size of one read from the child's pipes.
const CHUNK: usize = 64 * 1024;

/// The signals caught while a forwarding run is active.
const CATCHABLE: [c_int; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// What the child's stdin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinMode {
    /// Ours: the person at the terminal can answer the command's prompts.
    Inherit,
    /// `/dev/null`: reads see end of file at once.
    Null,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// The command; `argv[0]` is looked up in `PATH` as `std::process::Command`
    /// does, unless `program` is given.
    pub argv: &'a [OsString],
    /// The file to execute, found beforehand: then `argv[0]` is only what
    /// the program sees as its name, and PATH is not searched.
    pub program: Option<&'a Path>,
    /// The directory it runs in.
    pub cwd: &'a Path,
    /// Bytes of each stream kept; the rest is counted and hashed, not kept.
    pub cap: usize,
    /// Copy the child's stdout/stderr to ours as it arrives.
    pub tee: bool,
    pub stdin: StdinMode,
    /// Then SIGTERM, and SIGKILL after [`KILL_GRACE`].
    pub timeout: Option<Duration>,
    /// Survive SIGINT, SIGTERM, SIGHUP and SIGQUIT while the child runs and
    /// pass them on (see the module docs).
    pub forward_signals: bool,
}

/// One recorded output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The first `cap` bytes.
    pub head: Vec<u8>,
    /// Total bytes the child wrote.
    pub bytes: u64,
    /// Lowercase hex sha256 of the whole stream.
    pub sha256: String,
    /// `bytes > cap`: `head` is not the whole stream.
    pub truncated: bool,
}

impl Stream {
    /// The record of `content` under `cap`.
    fn of(content: &[u8], cap: usize) -> Stream {
        let mut recorder = Recorder::new(cap, None);
        recorder.feed(content);
        recorder.finish()
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The child's code; 128+N when killed by signal N; 127/126 when it could
    /// not be started.
    pub exit_code: i32,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// The timeout elapsed and the child was sent SIGTERM.
    pub timed_out: bool,
    /// Why it could not be started (then exit_code 127 when not found, 126 otherwise).
    pub spawn_error: Option<String>,
    pub stdout: Stream,
    pub stderr: Stream,
    pub duration: Duration,
    pub pid: Option<u32>,
}

/// Runs `spec.argv` to completion and records what it did.
///
/// `on_spawn` is called with the child's pid right after spawning (the caller
/// records it). `Err` is only for failures of ladder itself (pipes, threads,
/// reading); a program that cannot be started is an `Outcome` with
/// `spawn_error`, exit 127 (not found) or 126 (anything else), an empty
/// stdout and, as stderr, the line `ladder: cannot run `PROG`: REASON`, which
/// is also written to our stderr when tee is on.
pub fn run(spec: &Spec<'_>, on_spawn: &mut dyn FnMut(u32)) -> io::Result<Outcome> {
    run_with(
        spec,
        on_spawn,
        Graces {
            kill: KILL_GRACE,
            drain: DRAIN_GRACE,
        },
    )
}

/// Whether a signal ladder caught while the child runs is passed on to it.
///
/// SIGINT and SIGQUIT come from the terminal's keys to the whole foreground
/// process group, the child included, so they are forwarded only when a
/// process sent them to ladder alone. A SIGTERM or SIGHUP is always passed on.
pub fn should_forward(signal: c_int, sent_by_process: bool) -> bool {
    match signal {
        SIGTERM | SIGHUP => true,
        SIGINT | SIGQUIT => sent_by_process,
        _ => false,
    }
}

/// The waits that [`run`] fixes and the tests shorten.
#[derive(Debug, Clone, Copy)]
struct Graces {
    kill: Duration,
    drain: Duration,
}

fn run_with(spec: &Spec<'_>, on_spawn: &mut dyn FnMut(u32), graces: Graces) -> io::Result<Outcome> {
    let Some(program) = spec.argv.first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no command to run",
        ));
    };
    let mut command = match spec.program {
        Some(path) => {
            let mut c = Command::new(path);
            c.arg0(program);
            c
        }
        None => Command::new(program),
    };
    command
        .args(&spec.argv[1..])
        .current_dir(spec.cwd)
        .stdin(match spec.stdin {
            StdinMode::Inherit => Stdio::inherit(),
            StdinMode::Null => Stdio::null(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    // Registered before the spawn: a signal landing just after it must reach
    // the child, not end ladder with the outcome unrecorded.
    let forwarder = if spec.forward_signals {
        Forwarder::register()?
    } else {
        None
    };

    let started = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return Ok(not_started(spec, program, &err, started)),
    };
    let pid = child.id();
    let target = Arc::new(Target::new(pid));
    let running = match Running::start(&mut child, spec, &target, forwarder, graces) {
        Ok(running) => running,
        Err(err) => {
            kill_and_reap(&mut child, &target);
            return Err(err);
        }
    };
    on_spawn(pid);

    let status = reap(&mut child, &target);
    let duration = started.elapsed();
    let timed_out = target.lock().timed_out;
    let drained = running.finish();
    let status = status?;
    let drained = drained?;
    if drained.cut_short && spec.tee {
        write_stderr(
            format!(
                "ladder: `{}` exited but something it started still holds its output open; \
                 stopped reading after {}s\n",
                program.to_string_lossy(),
                graces.drain.as_secs_f32()
            )
            .as_bytes(),
        );
    }
    let (exit_code, signal) = exit_code(status);
    Ok(Outcome {
        exit_code,
        signal,
        timed_out,
        spawn_error: None,
        stdout: drained.stdout,
        stderr: drained.stderr,
        duration,
        pid: Some(pid),
    })
}

/// The shell's convention: the code, or 128+N for signal N.
fn exit_code(status: ExitStatus) -> (i32, Option<i32>) {
    match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(signal)) => (128 + signal, Some(signal)),
        // `wait` reports only terminations, which are one of the above.
        (None, None) => (1, None),
    }
}

/// The outcome of a command that could not be started.
fn not_started(spec: &Spec<'_>, program: &OsStr, err: &io::Error, started: Instant) -> Outcome {
    // A missing directory makes exec fail with ENOENT too; it must not read
    // as "command not found".
    let cwd_problem = match std::fs::metadata(spec.cwd) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some("not a directory".to_string()),
        Err(e) => Some(os_message(&e)),
    };
    let (exit_code, reason) = match cwd_problem {
        Some(why) => (
            126,
            format!("cannot use directory {}: {why}", spec.cwd.display()),
        ),
        None if err.kind() == io::ErrorKind::NotFound => {
            if program.as_bytes().contains(&b'/') {
                (127, os_message(err))
            } else {
                (127, "command not found".to_string())
            }
        }
        None => (126, os_message(err)),
    };
    let line = format!(
        "ladder: cannot run `{}`: {reason}\n",
        program.to_string_lossy()
    );
    if spec.tee {
        write_stderr(line.as_bytes());
    }
    Outcome {
        exit_code,
        signal: None,
        timed_out: false,
        spawn_error: Some(reason),
        stdout: Stream::of(b"", spec.cap),
        stderr: Stream::of(line.as_bytes(), spec.cap),
        duration: started.elapsed(),
        pid: None,
    }
}

/// An I/O error's text without std's " (os error N)" suffix.
fn os_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

// ---------------------------------------------------------------------------
// The child's pid, and who may signal it

/// The child as the helper threads see it.
///
/// `pid` is `Some` exactly while the child has not been reaped: it is cleared
/// in the same critical section as the reaping `wait`, and every `kill` is
/// sent under the lock after checking it. The child or its zombie may get a
/// signal; a process that reused its pid cannot.
struct Target {
    state: Mutex<TargetState>,
}

struct TargetState {
    pid: Option<libc::pid_t>,
    timed_out: bool,
}

impl Target {
    fn new(pid: u32) -> Target {
        Target {
            state: Mutex::new(TargetState {
                // Pids fit in pid_t: `Child::id` is a pid_t cast to u32.
                pid: Some(pid as libc::pid_t),
                timed_out: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TargetState> {
        // Nothing here panics while holding it; a poisoned state is still valid.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `signal` to the child unless it has been reaped.
    fn signal(&self, signal: c_int) {
        let state = self.lock();
        if let Some(pid) = state.pid {
            // SAFETY: plain syscall; the pid is still our unreaped child.
            unsafe { libc::kill(pid, signal) };
        }
    }
}

/// Blocks until the child has exited, leaving it unreaped.
fn wait_until_exited(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall with a valid pointer.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Waits for the child and reaps it under the lock that guards its pid.
fn reap(child: &mut Child, target: &Target) -> io::Result<ExitStatus> {
    let exited = wait_until_exited(child.id());
    let mut state = target.lock();
    // After an exit this returns at once; after a waitid failure (such as
    // ECHILD) it reports the same failure.
    let status = child.wait();
    state.pid = None;
    drop(state);
    exited.and(status)
}

/// Ends a child whose run cannot go on (a helper thread failed to start).
fn kill_and_reap(child: &mut Child, target: &Target) {
    let mut state = target.lock();
    if let Some(pid) = state.pid {
        // SAFETY: plain syscall; the pid is still our unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = child.wait();
        state.pid = None;
    }
}

// ---------------------------------------------------------------------------
// The helper threads of one run

/// The threads that serve a started child.
struct Running {
    output: JoinHandle<io::Result<Drained>>,
    /// Dropped once the child is reaped: tells the output thread to stop
    /// waiting for end of file after [`Graces::drain`].
    exited: UnixStream,
    timer: Option<Timer>,
    forwarder: Option<Forwarder>,
}

impl Running {
    fn start(
        child: &mut Child,
        spec: &Spec<'_>,
        target: &Arc<Target>,
        mut forwarder: Option<Forwarder>,
        graces: Graces,
    ) -> io::Result<Running> {
        let stdout = child.stdout.take().map(|s| File::from(OwnedFd::from(s)));
        let stderr = child.stderr.take().map(|s| File::from(OwnedFd::from(s)));
        let (exited, exit_seen) = UnixStream::pair()?;
        let recorders = [
            Recorder::new(spec.cap, spec.tee.then_some(Tee::Stdout)),
            Recorder::new(spec.cap, spec.tee.then_some(Tee::Stderr)),
        ];
        let drain = graces.drain;
        let output = thread::Builder::new()
            .name("ladder-output".into())
            .spawn(move || pump([stdout, stderr], exit_seen, recorders, drain))?;
        if let Some(forwarder) = forwarder.as_mut() {
            forwarder.start(Arc::clone(target))?;
        }
        let timer = match spec.timeout {
            Some(limit) => Some(Timer::start(limit, graces.kill, Arc::clone(target))?),
            None => None,
        };
        Ok(Running {
            output,
            exited,
            timer,
            forwarder,
        })
    }

    /// Stops the helpers once the child is reaped and returns its output.
    fn finish(self) -> io::Result<Drained> {
        let Running {
            output,
            exited,
            timer,
            forwarder,
        } = self;
        drop(timer);
        drop(exited);
        let drained = output
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the output thread panicked")));
        // Only now: until the output is drained ladder keeps surviving signals.
        drop(forwarder);
        drained
    }
}

/// The timeout: SIGTERM when it passes, SIGKILL a grace later.
struct Timer {
    /// Dropping it wakes the thread, which then ends.
    cancel: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Timer {
    fn start(limit: Duration, grace: Duration, target: Arc<Target>) -> io::Result<Timer> {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("ladder-timeout".into())
            .spawn(move || {
                if cancelled.recv_timeout(limit) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                {
                    let mut state = target.lock();
                    let Some(pid) = state.pid else { return };
                    state.timed_out = true;
                    // SAFETY: plain syscall; the pid is still our unreaped child.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                if cancelled.recv_timeout(grace) == Err(RecvTimeoutError::Timeout) {
                    target.signal(libc::SIGKILL);
                }
            })?;
        Ok(Timer {
            cancel: Some(cancel),
            thread: Some(thread),
        })
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        drop(self.cancel.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Signals

/// Runs with forwarding active now; outside them the default action is emulated.
static ACTIVE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Counts one forwarding run while it lives.
struct ActiveRun;

impl ActiveRun {
    fn enter() -> ActiveRun {
        ACTIVE_RUNS.fetch_add(1, Ordering::SeqCst);
        ActiveRun
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        ACTIVE_RUNS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The signals a forwarding run catches: those of [`CATCHABLE`] that were not
/// ignored when ladder first looked. Decided once per process, since once
/// signal-hook's handler is installed the original disposition is gone.
fn caught_signals() -> &'static [c_int] {
    static CAUGHT: OnceLock<Vec<c_int>> = OnceLock::new();
    CAUGHT.get_or_init(|| {
        CATCHABLE
            .iter()
            .copied()
            .filter(|&signal| match disposition(signal) {
                Disposition::Ignored => false,
                Disposition::Default => {
                    let action = move || {
                        if ACTIVE_RUNS.load(Ordering::SeqCst) == 0 {
                            let _ = signal_hook::low_level::emulate_default_handler(signal);
                        }
                    };
                    // SAFETY: the action is async-signal-safe: an atomic load
                    // and signal-hook's own default emulation (what
                    // `flag::register_conditional_default` does).
                    unsafe { signal_hook::low_level::register(signal, action) }.is_ok()
                }
                // Someone else's handler: signal-hook chains to it, and
                // forcing the default outside runs would override it.
                Disposition::Handled => true,
            })
            .collect()
    })
}

enum Disposition {
    Default,
    Ignored,
    Handled,
}

fn disposition(signal: c_int) -> Disposition {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null new action
    // only queries.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
    if rc != 0 {
        return Disposition::Ignored;
    }
    match old.sa_sigaction {
        libc::SIG_IGN => Disposition::Ignored,
        libc::SIG_DFL => Disposition::Default,
        _ => Disposition::Handled,
    }
}

/// Catches the signals of [`caught_signals`] for one run and passes them on.
struct Forwarder {
    /// Until [`Forwarder::start`] moves it into the thread.
    signals: Option<SignalsInfo<WithRawSiginfo>>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
    /// Declared last so it is dropped after the handlers are unregistered.
    _active: ActiveRun,
}

impl Forwarder {
    fn register() -> io::Result<Option<Forwarder>> {
        let caught = caught_signals();
        if caught.is_empty() {
            return Ok(None);
        }
        let active = ActiveRun::enter();
        let signals = SignalsInfo::<WithRawSiginfo>::new(caught)?;
        Ok(Some(Forwarder {
            handle: signals.handle(),
            signals: Some(signals),
            thread: None,
            _active: active,
        }))
    }

    fn start(&mut self, target: Arc<Target>) -> io::Result<()> {
        let Some(mut signals) = self.signals.take() else {
            return Ok(());
        };
        let thread = thread::Builder::new()
            .name("ladder-signals".into())
            .spawn(move || {
                // Ends when `handle.close()` is called; dropping `signals`
                // then unregisters its handlers.
                for info in signals.forever() {
                    if should_forward(info.si_signo, sent_by_process(&info)) {
                        target.signal(info.si_signo);
                    }
                }
            })?;
        self.thread = Some(thread);
        Ok(())
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether a process sent the signal (`kill`, `sigqueue`, `tgkill`), as
/// opposed to the kernel, e.g. the terminal driver for Ctrl-C.
///
/// signal-hook's `WithOrigin` says the same but needs its `extended-siginfo`
/// feature (a C helper); `si_code` is a plain field everywhere.
fn sent_by_process(info: &libc::siginfo_t) -> bool {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        // The kernel's SI_FROMUSER: SI_USER is 0, the other user codes negative.
        info.si_code <= 0
    } else {
        // SI_USER and SI_QUEUE on the BSDs and macOS (libc does not name
        // them there). Where si_code is not filled in, nothing matches, and
        // SIGINT/SIGQUIT are then left to the process group.
        matches!(info.si_code, 0x10001 | 0x10002)
    }
}

/// Blocks SIGPIPE in the calling thread, so writes to a closed pipe fail with
/// EPIPE instead of killing ladder. A SIGPIPE left pending on a thread
/// vanishes with it.
fn block_sigpipe() {
    // SAFETY: sigset manipulation on a local, and a mask change of this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Writes a status line to our stderr, from a thread with SIGPIPE blocked.
fn write_stderr(bytes: &[u8]) {
    let write = || {
        let mut err = io::stderr().lock();
        let _ = err.write_all(bytes).and_then(|()| err.flush());
    };
    thread::scope(|scope| {
        let spawned = thread::Builder::new().spawn_scoped(scope, || {
            block_sigpipe();
            write();
        });
        match spawned {
            Ok(thread) => {
                let _ = thread.join();
            }
            Err(_) => write(),
        }
    });
}

// ---------------------------------------------------------------------------
// Output

/// Where a stream is copied to live.
#[derive(Debug, Clone, Copy)]
enum Tee {
    Stdout,
    Stderr,
}

impl Tee {
    fn write(self, chunk: &[u8]) -> io::Result<()> {
        match self {
            Tee::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(chunk)?;
                out.flush()
            }
            Tee::Stderr => {
                let mut err = io::stderr().lock();
                err.write_all(chunk)?;
                err.flush()
            }
        }
    }
}

/// Records one stream as it passes: head, count, digest, and the live copy.
struct Recorder {
    cap: usize,
    head: Vec<u8>,
    bytes: u64,
    hasher: Sha256,
    tee: Option<Tee>,
}

impl Recorder {
    fn new(cap: usize, tee: Option<Tee>) -> Recorder {
        Recorder {
            cap,
            head: Vec::new(),
            bytes: 0,
            hasher: Sha256::new(),
            tee,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        self.hasher.update(chunk);
        let room = self.cap.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..room]);
        if let Some(tee) = self.tee {
            // Our end is gone (EPIPE) or broken: stop showing, keep recording.
            if tee.write(chunk).is_err() {
                self.tee = None;
            }
        }
    }

    fn finish(self) -> Stream {
        Stream {
            truncated: self.bytes > self.cap as u64,
            sha256: hex(&self.hasher.finalize()),
            bytes: self.bytes,
            head: self.head,
        }
    }
}

/// What the output thread hands back.
struct Drained {
    stdout: Stream,
    stderr: Stream,
    /// The pipes were still open [`Graces::drain`] after the child exited.
    cut_short: bool,
}

/// Reads stdout and stderr (`sources`, in that order) until both end, or
/// until `drain` after `exited` signals the child's exit.
fn pump(
    mut sources: [Option<File>; 2],
    exited: UnixStream,
    mut recorders: [Recorder; 2],
    drain: Duration,
) -> io::Result<Drained> {
    block_sigpipe();
    const EXITED: usize = 2;
    let mut exited = Some(exited);
    let mut deadline: Option<Instant> = None;
    let mut cut_short = false;
    let mut buf = vec![0u8; CHUNK];
    while sources.iter().any(Option::is_some) {
        let timeout_ms = match deadline {
            None => -1,
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => ceil_millis(left),
                _ => {
                    cut_short = true;
                    break;
                }
            },
        };
        let mut fds = [libc::pollfd {
            fd: -1,
            events: libc::POLLIN,
            revents: 0,
        }; 3];
        let mut slots = [0usize; 3];
        let mut n = 0;
        for (slot, source) in sources.iter().enumerate() {
            if let Some(file) = source {
                fds[n].fd = file.as_raw_fd();
                slots[n] = slot;
                n += 1;
            }
        }
        if let Some(sock) = &exited {
            fds[n].fd = sock.as_raw_fd();
            slots[n] = EXITED;
            n += 1;
        }
        // SAFETY: `fds[..n]` are initialised pollfds over descriptors we own.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        for (fd, &slot) in fds[..n].iter().zip(&slots[..n]) {
            if fd.revents == 0 {
                continue;
            }
            if slot == EXITED {
                exited = None;
                deadline = Some(Instant::now() + drain);
                continue;
            }
            let Some(file) = sources[slot].as_mut() else {
                continue;
            };
            match file.read(&mut buf) {
                Ok(0) => sources[slot] = None,
                Ok(len) => recorders[slot].feed(&buf[..len]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
    let [stdout, stderr] = recorders;
    Ok(Drained {
        stdout: stdout.finish(),
        stderr: stderr.finish(),
        cut_short,
    })
}

/// `d` in whole milliseconds, rounded up, as poll(2) takes it.
fn ceil_millis(d: Duration) -> c_int {
    let ms = d.as_micros().div_ceil(1000);
    c_int::try_from(ms).unwrap_or(c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;
    use std::io::BufRead;
    use std::os::unix::ffi::OsStringExt;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn spec<'a>(argv: &'a [OsString], cwd: &'a Path) -> Spec<'a> {
        Spec {
            program: None,
            argv,
            cwd,
            cap: 1 << 20,
            tee: false,
            stdin: StdinMode::Null,
            // A safety net, so a broken runner fails the test instead of hanging it.
            timeout: Some(Duration::from_secs(60)),
            forward_signals: false,
        }
    }

    fn run_spec(spec: &Spec<'_>) -> Outcome {
        run(spec, &mut |_| {}).expect("the runner itself failed")
    }

    fn sh(script: &str) -> Outcome {
        let argv = argv(&["sh", "-c", script]);
        run_spec(&spec(&argv, Path::new("/")))
    }

    fn sh_with(script: &str, f: impl FnOnce(&mut Spec<'_>)) -> Outcome {
        let argv = argv(&["sh", "-c", script]);
        let mut spec = spec(&argv, Path::new("/"));
        f(&mut spec);
        run_spec(&spec)
    }

    #[test]
    fn exit_codes_pass_through() {
        let ok = sh("exit 0");
        assert_eq!((ok.exit_code, ok.signal, ok.timed_out), (0, None, false));
        assert!(ok.spawn_error.is_none());
        let three = sh("exit 3");
        assert_eq!((three.exit_code, three.signal), (3, None));
    }

    #[test]
    fn on_spawn_gets_the_childs_pid() {
        let argv = argv(&["true"]);
        let mut seen = None;
        let outcome = run(&spec(&argv, Path::new("/")), &mut |pid| seen = Some(pid)).unwrap();
        assert!(seen.is_some());
        assert_eq!(outcome.pid, seen);
    }

    #[test]
    fn streams_are_recorded_separately_and_byte_exact() {
        let outcome = sh(r"printf 'a\000b\377\n'; printf 'e\001\376' >&2");
        assert_eq!(outcome.stdout.head, b"a\0b\xff\n");
        assert_eq!(outcome.stdout.bytes, 5);
        assert_eq!(outcome.stdout.sha256, sha256_hex(b"a\0b\xff\n"));
        assert!(!outcome.stdout.truncated);
        assert_eq!(outcome.stderr.head, b"e\x01\xfe");
        assert_eq!(outcome.stderr.bytes, 3);
        assert_eq!(outcome.stderr.sha256, sha256_hex(b"e\x01\xfe"));
    }

    #[test]
    fn empty_streams_have_the_empty_digest() {
        let outcome = sh("true");
        assert_eq!(outcome.stdout, Stream::of(b"", 10));
        assert_eq!(outcome.stdout.sha256, EMPTY_SHA256);
        assert_eq!(outcome.stderr.bytes, 0);
        assert!(!outcome.stderr.truncated);
    }

    #[test]
    fn cap_keeps_the_head_while_digest_and_count_cover_everything() {
        const TOTAL: usize = 5 * 1024 * 1024;
        let outcome = sh_with(&format!("yes abcdefg | head -c {TOTAL}"), |s| s.cap = 1024);
        let expected: Vec<u8> = b"abcdefg\n".iter().copied().cycle().take(TOTAL).collect();
        assert_eq!(outcome.exit_code, 0);
        assert_eq!(outcome.stdout.head, &expected[..1024]);
        assert_eq!(outcome.stdout.bytes, TOTAL as u64);
        assert_eq!(outcome.stdout.sha256, sha256_hex(&expected));
        assert!(outcome.stdout.truncated);
        assert!(!outcome.stderr.truncated);
    }

    #[test]
    fn output_exactly_at_the_cap_is_not_truncated() {
        let outcome = sh_with("printf 12345", |s| s.cap = 5);
        assert_eq!(outcome.stdout.head, b"12345");
        assert!(!outcome.stdout.truncated);
        let over = sh_with("printf 123456", |s| s.cap = 5);
        assert_eq!(over.stdout.head, b"12345");
        assert_eq!(over.stdout.bytes, 6);
        assert!(over.stdout.truncated);
    }

    #[test]
    fn a_child_filling_stderr_first_does_not_deadlock() {
        // A runner reading stdout to its end before stderr would block here
        // forever: the child is stuck on a full stderr pipe.
        let outcome = sh("head -c 3000000 /dev/zero >&2; head -c 3000000 /dev/zero");
        assert!(!outcome.timed_out);
        assert_eq!(outcome.exit_code, 0);
        assert_eq!(outcome.stdout.bytes, 3_000_000);
        assert_eq!(outcome.stderr.bytes, 3_000_000);
        assert_eq!(outcome.stderr.sha256, sha256_hex(&vec![0u8; 3_000_000]));
    }

    #[test]
    fn killed_by_a_signal_gives_128_plus_n() {
        let kill = sh("kill -9 $$");
        assert_eq!((kill.exit_code, kill.signal), (137, Some(9)));
        let term = sh("kill -TERM $$");
        assert_eq!((term.exit_code, term.signal), (143, Some(15)));
        assert!(!term.timed_out);
    }

    #[test]
    fn timeout_terminates_the_child() {
        let argv = argv(&["sleep", "30"]);
        let mut spec = spec(&argv, Path::new("/"));
        spec.timeout = Some(Duration::from_millis(200));
        let started = Instant::now();
        let outcome = run_spec(&spec);
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(outcome.timed_out);
        assert_eq!((outcome.exit_code, outcome.signal), (143, Some(SIGTERM)));
    }

    #[test]
    fn timeout_escalates_to_sigkill_when_sigterm_is_ignored() {
        // `exec` so that no shell is left behind holding the pipes.
        let argv = argv(&["sh", "-c", "trap '' TERM; exec sleep 30"]);
        let mut spec = spec(&argv, Path::new("/"));
        spec.timeout = Some(Duration::from_secs(1));
        let graces = Graces {
            kill: Duration::from_millis(300),
            drain: DRAIN_GRACE,
        };
        let started = Instant::now();
        let outcome = run_with(&spec, &mut |_| {}, graces).unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(outcome.timed_out);
        assert_eq!((outcome.exit_code, outcome.signal), (137, Some(9)));
    }

    #[test]
    fn timeout_keeps_the_childs_own_code_when_it_exits_on_sigterm() {
        let outcome = sh_with("trap 'exit 0' TERM; while :; do sleep 0.05; done", |s| {
            s.timeout = Some(Duration::from_secs(1))
        });
        assert!(outcome.timed_out);
        assert_eq!((outcome.exit_code, outcome.signal), (0, None));
    }

    #[test]
    fn a_program_that_does_not_exist_is_127() {
        let argv = argv(&["ladder-test-no-such-program", "x"]);
        let outcome = run_spec(&spec(&argv, Path::new("/")));
        assert_eq!(outcome.exit_code, 127);
        assert_eq!(outcome.spawn_error.as_deref(), Some("command not found"));
        assert_eq!(outcome.pid, None);
        assert_eq!(outcome.stdout.sha256, EMPTY_SHA256);
        let line = b"ladder: cannot run `ladder-test-no-such-program`: command not found\n";
        assert_eq!(outcome.stderr.head, line);
        assert_eq!(outcome.stderr.sha256, sha256_hex(line));
    }

    #[test]
    fn a_path_that_does_not_exist_is_127_with_the_os_reason() {
        let argv = argv(&["/nonexistent/ladder-test"]);
        let outcome = run_spec(&spec(&argv, Path::new("/")));
        assert_eq!(outcome.exit_code, 127);
        assert_eq!(
            outcome.spawn_error.as_deref(),
            Some("No such file or directory")
        );
    }

    #[test]
    fn a_file_that_is_not_executable_is_126() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let argv = vec![script.into_os_string()];
        let outcome = run_spec(&spec(&argv, dir.path()));
        assert_eq!(outcome.exit_code, 126);
        assert!(outcome.spawn_error.is_some());
        assert_eq!(outcome.stdout.bytes, 0);
    }

    #[test]
    fn a_directory_that_does_not_exist_is_126() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let argv = argv(&["true"]);
        let outcome = run_spec(&spec(&argv, &missing));
        assert_eq!(outcome.exit_code, 126);
        let why = outcome.spawn_error.unwrap();
        assert!(why.contains("cannot use directory"), "{why}");
        assert!(why.contains("gone"), "{why}");
    }

    #[test]
    fn the_working_directory_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let argv = argv(&["pwd"]);
        let outcome = run_spec(&spec(&argv, dir.path()));
        let expected = std::fs::canonicalize(dir.path()).unwrap();
        let mut line = expected.into_os_string().into_vec();
        line.push(b'\n');
        assert_eq!(outcome.stdout.head, line);
    }

    #[test]
    fn stdin_null_reads_end_of_file_at_once() {
        let argv = argv(&["cat"]);
        let outcome = run_spec(&spec(&argv, Path::new("/")));
        assert!(!outcome.timed_out);
        assert_eq!(outcome.exit_code, 0);
        assert_eq!(outcome.stdout.bytes, 0);
    }

    #[test]
    fn an_empty_argv_is_an_error_of_the_caller() {
        let err = run(&spec(&[], Path::new("/")), &mut |_| {}).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_background_process_holding_the_pipes_does_not_hang_the_run() {
        let argv = argv(&["sh", "-c", "echo hi; sleep 5 &"]);
        let graces = Graces {
            kill: KILL_GRACE,
            drain: Duration::from_millis(200),
        };
        let started = Instant::now();
        let outcome = run_with(&spec(&argv, Path::new("/")), &mut |_| {}, graces).unwrap();
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(outcome.exit_code, 0);
        assert_eq!(outcome.stdout.head, b"hi\n");
    }

    #[test]
    fn forwarding_decision() {
        for signal in [SIGTERM, SIGHUP] {
            assert!(should_forward(signal, true));
            assert!(should_forward(signal, false));
        }
        // Ctrl-C / Ctrl-\ already reached the child through the process group.
        for signal in [SIGINT, SIGQUIT] {
            assert!(should_forward(signal, true));
            assert!(!should_forward(signal, false));
        }
        assert!(!should_forward(libc::SIGUSR1, true));
    }

    #[test]
    fn ceil_millis_rounds_up() {
        assert_eq!(ceil_millis(Duration::from_micros(1)), 1);
        assert_eq!(ceil_millis(Duration::from_millis(7)), 7);
        assert_eq!(ceil_millis(Duration::from_secs(u64::MAX)), c_int::MAX);
    }

    // -----------------------------------------------------------------------
    // Scenarios that need a process of their own: signalling ladder, or
    // closing its stdout, must not touch this shared test process. The test
    // binary runs itself with `HELPER_ENV` naming the scenario.

    const HELPER_ENV: &str = "LADDER_RUNNER_TEST_HELPER";

    #[test]
    fn helper_process() {
        let Ok(scenario) = std::env::var(HELPER_ENV) else {
            return; // an ordinary run: nothing to do
        };
        match scenario.as_str() {
            "forward" => helper_forward(),
            "epipe" => helper_epipe(),
            other => panic!("unknown helper scenario {other}"),
        }
    }

    /// Runs a child that reports SIGINT and exits on SIGTERM; the outer test
    /// signals us.
    fn helper_forward() {
        let argv = argv(&[
            "sh",
            "-c",
            "trap 'echo got-int' INT; trap 'echo got-term; exit 7' TERM; echo ready; \
             while :; do sleep 0.01; done",
        ]);
        let mut spec = spec(&argv, Path::new("/"));
        spec.tee = true;
        spec.forward_signals = true;
        let outcome = run_spec(&spec);
        eprintln!(
            "OUTCOME exit={} signal={:?} timed_out={}",
            outcome.exit_code, outcome.signal, outcome.timed_out
        );
        println!("idle");
        io::stdout().flush().unwrap();
        // The outer test's second SIGTERM should end us here.
        thread::sleep(Duration::from_secs(20));
        eprintln!("STILL ALIVE");
    }

    /// Tees into a stdout nobody reads, with SIGPIPE at its default action.
    fn helper_epipe() {
        // SAFETY: this process is ours alone; fd juggling on valid descriptors.
        let saved = unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut fds = [0; 2];
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            libc::close(fds[0]);
            let saved = libc::dup(1);
            libc::dup2(fds[1], 1);
            libc::close(fds[1]);
            saved
        };
        let argv = argv(&["sh", "-c", "head -c 1000000 /dev/zero; echo done >&2"]);
        let mut spec = spec(&argv, Path::new("/"));
        spec.tee = true;
        let outcome = run_spec(&spec);
        // SAFETY: restores the stdout saved above.
        unsafe {
            libc::dup2(saved, 1);
            libc::close(saved);
        }
        eprintln!(
            "OUTCOME exit={} stdout_bytes={} stderr={:?}",
            outcome.exit_code,
            outcome.stdout.bytes,
            String::from_utf8_lossy(&outcome.stderr.head)
        );
    }

    fn helper(scenario: &str) -> Command {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "runner::tests::helper_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, scenario)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    }

    /// Waits for a child of a test, killing it if it takes too long.
    fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("helper did not finish within {limit:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = r.read_to_string(&mut text);
            text
        })
    }

    #[test]
    fn forwards_signals_sent_by_processes_and_restores_the_default_after_the_run() {
        let mut child = helper("forward").spawn().unwrap();
        let pid = child.id() as libc::pid_t;
        let stderr = read_all(child.stderr.take().unwrap());
        let (tx, lines) = mpsc::channel();
        let stdout = io::BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let mut wait_for = |want: &str| loop {
            match lines.recv_timeout(Duration::from_secs(20)) {
                // libtest may print `test ... ` before it on the same line.
                Ok(line) if line.ends_with(want) => break,
                Ok(line) => seen.push(line),
                Err(e) => panic!("no `{want}` from the helper ({e}); saw {seen:?}"),
            }
        };
        wait_for("ready");
        // Sent by a process, so forwarded even though it is SIGINT.
        // SAFETY: plain syscall on our own, unreaped child.
        unsafe { libc::kill(pid, libc::SIGINT) };
        wait_for("got-int");
        unsafe { libc::kill(pid, libc::SIGTERM) };
        wait_for("got-term");
        wait_for("idle");
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = wait_bounded(&mut child, Duration::from_secs(20));
        let stderr = stderr.join().unwrap();
        assert!(
            stderr.contains("OUTCOME exit=7 signal=None timed_out=false"),
            "{stderr}"
        );
        assert!(!stderr.contains("STILL ALIVE"), "{stderr}");
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{stderr}");
    }

    #[test]
    fn a_closed_stdout_stops_the_tee_but_not_the_recording() {
        let mut child = helper("epipe").spawn().unwrap();
        let stdout = read_all(child.stdout.take().unwrap());
        let stderr = read_all(child.stderr.take().unwrap());
        let status = wait_bounded(&mut child, Duration::from_secs(30));
        let _ = stdout.join();
        let stderr = stderr.join().unwrap();
        assert!(status.success(), "{status:?}: {stderr}");
        assert!(
            stderr.contains("OUTCOME exit=0 stdout_bytes=1000000 stderr=\"done\\n\""),
            "{stderr}"
        );
    }
}

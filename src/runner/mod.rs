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
//!
//! # Layout
//!
//! This file holds what callers use and one run's course, with the helper
//! threads that serve it; `child` guards the child's pid, `signals` catches
//! and forwards signals, and `pump` reads and records the output.

mod child;
mod pump;
mod signals;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use child::{Target, kill_and_reap, reap};
use pump::{Drained, Recorder, Tee, pump};
use signals::{Forwarder, write_stderr};

pub use pump::Stream;
pub use signals::should_forward;

/// How long a child gets between the timeout's SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long, after the child exits, its output is still read when a process
/// it left behind holds the pipes open.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);

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

#[cfg(test)]
mod tests;

//! Signals: which ones a run catches and passes on to the child (see the
//! module docs of `runner`), and SIGPIPE kept from the threads that write.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};

use libc::c_int;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithRawSiginfo;
use signal_hook::iterator::{Handle, SignalsInfo};

use super::child::Target;

/// The signals caught while a forwarding run is active.
const CATCHABLE: [c_int; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

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
pub(super) struct Forwarder {
    /// Until [`Forwarder::start`] moves it into the thread.
    signals: Option<SignalsInfo<WithRawSiginfo>>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
    /// Declared last so it is dropped after the handlers are unregistered.
    _active: ActiveRun,
}

impl Forwarder {
    pub(super) fn register() -> io::Result<Option<Forwarder>> {
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

    pub(super) fn start(&mut self, target: Arc<Target>) -> io::Result<()> {
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
pub(super) fn block_sigpipe() {
    // SAFETY: sigset manipulation on a local, and a mask change of this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Writes a status line to our stderr, from a thread with SIGPIPE blocked.
pub(super) fn write_stderr(bytes: &[u8]) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! The child's pid, and who may signal it: waiting for the child, reaping
//! it, and killing it, all under one lock.

use std::io;
use std::process::{Child, ExitStatus};
use std::sync::{Mutex, MutexGuard, PoisonError};

use libc::c_int;

/// The child as the helper threads see it.
///
/// `pid` is `Some` exactly while the child has not been reaped: it is cleared
/// in the same critical section as the reaping `wait`, and every `kill` is
/// sent under the lock after checking it. The child or its zombie may get a
/// signal; a process that reused its pid cannot.
pub(super) struct Target {
    state: Mutex<TargetState>,
}

pub(super) struct TargetState {
    pub(super) pid: Option<libc::pid_t>,
    pub(super) timed_out: bool,
}

impl Target {
    pub(super) fn new(pid: u32) -> Target {
        Target {
            state: Mutex::new(TargetState {
                // Pids fit in pid_t: `Child::id` is a pid_t cast to u32.
                pid: Some(pid as libc::pid_t),
                timed_out: false,
            }),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, TargetState> {
        // Nothing here panics while holding it; a poisoned state is still valid.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `signal` to the child unless it has been reaped.
    pub(super) fn signal(&self, signal: c_int) {
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
pub(super) fn reap(child: &mut Child, target: &Target) -> io::Result<ExitStatus> {
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
pub(super) fn kill_and_reap(child: &mut Child, target: &Target) {
    let mut state = target.lock();
    if let Some(pid) = state.pid {
        // SAFETY: plain syscall; the pid is still our unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = child.wait();
        state.pid = None;
    }
}

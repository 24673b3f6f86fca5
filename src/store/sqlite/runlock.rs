//! Run locks: how ladder tells a command that is still running from one
//! whose ladder died.
//!
//! While apply runs a plan's command it holds a write lock on one byte of
//! `<state>.lock`, at the plan's row number. The kernel drops the lock when
//! the process dies, however it dies (`kill -9` included), so a plan marked
//! `running` whose byte is unlocked was interrupted, and one whose byte is
//! locked is in flight. No timers, no heartbeats. Row numbers start at 1;
//! byte 0 is the writers' queue ([`crate::store::sqlite::write_queue`]).
//!
//! On Linux these are open-file-description locks (`F_OFD_SETLK`), which,
//! unlike classic POSIX record locks, are not dropped when the same process
//! closes some other descriptor of the file.

use anyhow::Context as _;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
const SETLK: libc::c_int = libc::F_OFD_SETLK;
#[cfg(target_os = "linux")]
const GETLK: libc::c_int = libc::F_OFD_GETLK;
#[cfg(not(target_os = "linux"))]
const SETLK: libc::c_int = libc::F_SETLK;
#[cfg(not(target_os = "linux"))]
const GETLK: libc::c_int = libc::F_GETLK;

/// The lock file beside a state file, named after the file's real path.
/// SQLite follows symbolic links to name a database's `-wal` and `-shm`, so
/// every spelling of one state file (a symlink to it, a linked directory on
/// the way, `..`) shares one WAL; it must share one lock file too, or an
/// apply through a symlink and one through the real path would each hold
/// "the" run lock of the same plan, and both run it.
pub fn lock_path(state: &Path) -> PathBuf {
    // Before the state file exists there is nothing to lock yet.
    let real = std::fs::canonicalize(state).unwrap_or_else(|_| state.to_path_buf());
    let mut p = real.into_os_string();
    p.push(".lock");
    PathBuf::from(p)
}

pub(crate) fn open(state: &Path) -> anyhow::Result<File> {
    let path = lock_path(state);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("failed to open lock file {}", path.display()))
}

/// A one-byte lock request at `offset` (also used by the writers' queue,
/// at byte 0).
pub(crate) fn flock(kind: libc::c_short, offset: i64) -> libc::flock {
    // SAFETY: flock is a plain C struct; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = offset as libc::off_t;
    fl.l_len = 1;
    fl
}

/// A held run lock; released when dropped or when the process dies.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the run lock for plan row `seq`, or `None` when another live
/// process holds it.
pub fn try_acquire(state: &Path, seq: i64) -> anyhow::Result<Option<RunLock>> {
    let file = open(state)?;
    let mut fl = flock(libc::F_WRLCK as libc::c_short, seq);
    // SAFETY: valid fd and a properly initialised flock struct.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), SETLK, &mut fl) };
    if rc == 0 {
        return Ok(Some(RunLock { _file: file }));
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EAGAIN) => Ok(None),
        _ => Err(err).context("failed to take run lock"),
    }
}

/// Whether some process holds the run lock for plan row `seq`.
pub fn is_held(state: &Path, seq: i64) -> anyhow::Result<bool> {
    let file = open(state)?;
    let mut fl = flock(libc::F_WRLCK as libc::c_short, seq);
    // SAFETY: valid fd and a properly initialised flock struct.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), GETLK, &mut fl) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("failed to query run lock");
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_seen_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        assert!(!is_held(&state, 7).unwrap());
        let lock = try_acquire(&state, 7).unwrap().expect("free lock");
        // OFD locks conflict between open file descriptions, even in one
        // process, which is what lets this test see its own lock.
        if cfg!(target_os = "linux") {
            assert!(is_held(&state, 7).unwrap());
            assert!(try_acquire(&state, 7).unwrap().is_none());
            assert!(!is_held(&state, 8).unwrap());
        }
        drop(lock);
        assert!(!is_held(&state, 7).unwrap());
    }
}

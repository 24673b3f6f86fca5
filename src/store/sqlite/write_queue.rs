//! The writers' queue: ladder processes that change state wait for their
//! turn in the kernel instead of polling SQLite's write lock.
//!
//! SQLite admits one writer at a time and tells the others SQLITE_BUSY;
//! they sleep and retry ([`super`]'s busy handler). Each retry is a
//! wake-up, a context switch and a few lock system calls, and with many
//! writers they add up: 32 concurrent `apply`s on 2 cores spent a quarter
//! of their CPU on retries (BENCHMARKS.md, *Concurrent writers*).
//!
//! So before `BEGIN IMMEDIATE` a writer takes an open-file-description
//! write lock (`F_OFD_SETLKW`) on byte 0 of `<state>.lock`, and gives it
//! back after its commit (and the WAL restart that may follow it, which
//! needs a moment without writers). The kernel parks the waiters and wakes
//! one when the holder lets go or dies (`kill -9` included): no polling, no
//! stale turns. No order is promised: a newcomer's first try can take the
//! turn just as it is given back. Run locks use the bytes at plan row
//! numbers, which start at 1 ([`crate::store::sqlite::runlock`]).
//!
//! The queue only saves work; SQLite's lock still decides who writes. A
//! writer outside the queue (the `sqlite3` shell, an older ladder) is waited
//! for by the busy handler as before.
//!
//! Linux only. Elsewhere there are only classic POSIX record locks, which a
//! process loses, all of them, when it closes any descriptor of the file:
//! giving a turn back would drop apply's run lock on the same file. There,
//! writers poll as before.

#[cfg(target_os = "linux")]
use std::fs::File;
use std::path::Path;
use std::time::Duration;

/// Another writer held the queue for the whole timeout.
#[derive(Debug)]
pub struct TimedOut;

/// The queue of one state file, for one process.
pub struct WriteQueue {
    /// `<state>.lock`, opened at the first write; `None` when it cannot be
    /// opened (a read-only directory, say), in which case writers fall back
    /// to SQLite's busy handler, which reports the real problem.
    #[cfg(target_os = "linux")]
    file: Option<std::sync::Arc<File>>,
}

/// A turn in the queue; given back when dropped.
pub struct Turn {
    #[cfg(target_os = "linux")]
    file: Option<std::sync::Arc<File>>,
}

impl WriteQueue {
    pub fn new(state: &Path) -> WriteQueue {
        #[cfg(target_os = "linux")]
        {
            let file = crate::store::sqlite::runlock::open(state)
                .ok()
                .map(std::sync::Arc::new);
            WriteQueue { file }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = state;
            WriteQueue {}
        }
    }

    /// Waits up to `timeout` for this process's turn to write.
    #[cfg(target_os = "linux")]
    pub fn turn(&mut self, timeout: Duration) -> Result<Turn, TimedOut> {
        use std::os::fd::AsRawFd;
        let Some(file) = self.file.clone() else {
            return Ok(Turn { file: None });
        };
        // Uncontended, the turn costs one system call.
        match lock(file.as_raw_fd(), libc::F_OFD_SETLK, libc::F_WRLCK) {
            Ok(()) => return Ok(Turn { file: Some(file) }),
            Err(e) if is_contended(&e) => {}
            Err(_) => return Ok(Turn { file: None }),
        }
        // A blocking lock cannot time out by itself, so one thread blocks
        // while this one waits with a deadline. It owns a handle to the
        // file: if the deadline passes first and it is granted the turn
        // later, the turn lasts until that thread ends and closes the file
        // (this process has by then dropped its own handle, below).
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let waiter = std::sync::Arc::clone(&file);
        let spawned = std::thread::Builder::new()
            .name("ladder-queue".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let _ = tx.send(lock(waiter.as_raw_fd(), libc::F_OFD_SETLKW, libc::F_WRLCK));
            });
        if spawned.is_err() {
            return Ok(Turn { file: None });
        }
        match rx.recv_timeout(timeout) {
            Ok(Ok(())) => Ok(Turn { file: Some(file) }),
            Ok(Err(_)) => Ok(Turn { file: None }),
            Err(_) => {
                // The waiting thread keeps its handle; dropping ours lets
                // its late turn end with it. Later writes of this process
                // (the review queue goes on after an error) are left to
                // SQLite's busy handler.
                self.file = None;
                Err(TimedOut)
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn turn(&mut self, _timeout: Duration) -> Result<Turn, TimedOut> {
        Ok(Turn {})
    }
}

#[cfg(target_os = "linux")]
impl Drop for Turn {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        if let Some(file) = &self.file {
            // Failing to unlock a lock this descriptor holds is not
            // possible short of a bad descriptor; the lock also goes when
            // the process exits.
            let _ = lock(file.as_raw_fd(), libc::F_OFD_SETLK, libc::F_UNLCK);
        }
    }
}

/// Sets the lock on byte 0 of `fd` to `kind` (`F_WRLCK`, `F_UNLCK`) with
/// `cmd` (`F_OFD_SETLK`, or `F_OFD_SETLKW` to wait).
#[cfg(target_os = "linux")]
fn lock(fd: std::os::fd::RawFd, cmd: libc::c_int, kind: libc::c_int) -> std::io::Result<()> {
    let mut fl = crate::store::sqlite::runlock::flock(kind as libc::c_short, 0);
    loop {
        // SAFETY: a descriptor this process holds open and a properly
        // initialised flock struct.
        if unsafe { libc::fcntl(fd, cmd, &mut fl) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(target_os = "linux")]
fn is_contended(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Whether some open file description holds the queue's byte.
    fn queue_byte_is_held(state: &Path) -> bool {
        crate::store::sqlite::runlock::is_held(state, 0).unwrap()
    }

    #[test]
    fn a_turn_holds_the_queue_byte_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let mut q = WriteQueue::new(&state);
        let turn = q.turn(Duration::from_secs(5)).unwrap();
        assert!(queue_byte_is_held(&state));
        drop(turn);
        assert!(!queue_byte_is_held(&state));
    }

    #[test]
    fn a_second_writer_waits_until_the_first_gives_its_turn_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        // Two queues are two open file descriptions: they exclude each
        // other even within one process, as two processes would.
        let mut first = WriteQueue::new(&state);
        let turn = first.turn(Duration::from_secs(5)).unwrap();
        let granted = std::sync::Arc::new(AtomicBool::new(false));
        let second = {
            let state = state.clone();
            let granted = granted.clone();
            std::thread::spawn(move || {
                let mut q = WriteQueue::new(&state);
                let _turn = q.turn(Duration::from_secs(30)).unwrap();
                granted.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !granted.load(Ordering::SeqCst),
            "the second writer got a turn while the first held it"
        );
        drop(turn);
        second.join().unwrap();
        assert!(granted.load(Ordering::SeqCst));
    }

    #[test]
    fn a_writer_gives_up_after_its_timeout_and_leaves_the_queue_usable() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let mut holder = WriteQueue::new(&state);
        let turn = holder.turn(Duration::from_secs(5)).unwrap();
        let mut late = WriteQueue::new(&state);
        assert!(matches!(
            late.turn(Duration::from_millis(50)),
            Err(TimedOut)
        ));
        drop(turn);
        drop(late);
        // The abandoned waiter may still be granted the turn and hold it
        // until its thread closes the file; a new writer gets in once it
        // has.
        let mut next = WriteQueue::new(&state);
        let _turn = next.turn(Duration::from_secs(30)).unwrap();
        assert!(queue_byte_is_held(&state), "the turn was not really taken");
    }

    #[test]
    fn the_queue_byte_is_not_a_run_lock_byte() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let mut q = WriteQueue::new(&state);
        let _turn = q.turn(Duration::from_secs(5)).unwrap();
        assert!(!crate::store::sqlite::runlock::is_held(&state, 1).unwrap());
        assert!(
            crate::store::sqlite::runlock::try_acquire(&state, 1)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn an_unopenable_lock_file_leaves_writers_to_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("missing-dir").join("state.db");
        let mut q = WriteQueue::new(&state);
        assert!(q.turn(Duration::from_millis(10)).is_ok());
    }
}

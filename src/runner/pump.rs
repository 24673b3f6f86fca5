//! Output: reading the child's stdout and stderr with one `poll(2)` loop,
//! keeping each stream's head up to the cap, counting and hashing the rest,
//! and copying it through to ours when asked.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use libc::c_int;
use sha2::{Digest, Sha256};

use super::signals::block_sigpipe;
use crate::digest::hex;

/// Size of one read from the child's pipes.
const CHUNK: usize = 64 * 1024;

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
    pub(super) fn of(content: &[u8], cap: usize) -> Stream {
        let mut recorder = Recorder::new(cap, None);
        recorder.feed(content);
        recorder.finish()
    }
}

/// Where a stream is copied to live.
#[derive(Debug, Clone, Copy)]
pub(super) enum Tee {
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
pub(super) struct Recorder {
    cap: usize,
    head: Vec<u8>,
    bytes: u64,
    hasher: Sha256,
    tee: Option<Tee>,
}

impl Recorder {
    pub(super) fn new(cap: usize, tee: Option<Tee>) -> Recorder {
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
pub(super) struct Drained {
    pub(super) stdout: Stream,
    pub(super) stderr: Stream,
    /// The pipes were still open `drain` after the child exited.
    pub(super) cut_short: bool,
}

/// Reads stdout and stderr (`sources`, in that order) until both end, or
/// until `drain` after `exited` signals the child's exit.
pub(super) fn pump(
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

    #[test]
    fn ceil_millis_rounds_up() {
        assert_eq!(ceil_millis(Duration::from_micros(1)), 1);
        assert_eq!(ceil_millis(Duration::from_millis(7)), 7);
        assert_eq!(ceil_millis(Duration::from_secs(u64::MAX)), c_int::MAX);
    }
}

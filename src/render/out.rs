//! Where output goes: stdout for what a command answers (JSON for
//! scripts, or the capture of `ladder mcp`), stderr for what people should
//! hear. A write that fails is the caller's error; only `main` exits.

use crate::error::{Error, Kind, Result};
use serde_json::Value;
use std::io::Write;

/// Writes to stdout. A closed pipe (`ladder log | head`) is no error: the
/// reader has what it wanted. Any other failure (a full disk, `>/dev/full`)
/// is, and ends the command with one line on stderr and exit 1, since a
/// script must not take output it never got for success. What was
/// committed before stays committed.
pub fn emit(text: &str) -> Result<()> {
    settle(write_stdout(text.as_bytes()))
}

/// Writes one JSON value as a line, the way [`emit`] writes text.
pub fn emit_json(value: Value) -> Result<()> {
    settle(write_json_stdout(value))
}

/// Writes JSON values one per line (JSON Lines), the way [`emit`] writes
/// text, each serialized as it comes.
pub fn emit_json_lines(values: impl Iterator<Item = Value>) -> Result<()> {
    settle(write_json_lines_stdout(values))
}

/// A closed pipe is no failure: the command goes on and ends as it would
/// have (what it writes after is dropped). Any other is the command's
/// error, exit 1.
fn settle(written: std::io::Result<()>) -> Result<()> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::new(
            Kind::Error,
            format!("failed to write to stdout: {e}"),
        )),
        _ => Ok(()),
    }
}

thread_local! {
    /// Where stdout goes while [`capture_stdout`] runs: the MCP server turns
    /// a command's `--json` output into a tool result, and its own stdout
    /// carries the protocol. Values, not their text: a record with
    /// megabytes of output is held once, and escaped only on its way out.
    static CAPTURED: std::cell::RefCell<Option<Vec<Value>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with every JSON value it writes to stdout kept in memory, and
/// returns them with `f`'s result. The capture ends even if `f` panics.
pub fn capture_stdout<T>(f: impl FnOnce() -> T) -> (T, Vec<Value>) {
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            CAPTURED.with_borrow_mut(|c| c.take());
        }
    }
    CAPTURED.with_borrow_mut(|c| *c = Some(Vec::new()));
    let release = Release;
    let result = f();
    let values = CAPTURED.with_borrow_mut(|c| c.take()).unwrap_or_default();
    drop(release);
    (result, values)
}

/// Keeps `values` if a capture runs, else hands them back.
fn captured<I: Iterator<Item = Value>>(values: I) -> Option<I> {
    CAPTURED.with_borrow_mut(|c| match c {
        Some(kept) => {
            kept.extend(values);
            None
        }
        None => Some(values),
    })
}

/// Writes bytes to stdout and flushes.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    if CAPTURED.with_borrow(Option::is_some) {
        // Text under a capture: commands print JSON under --json, so this
        // is JSON Lines; anything else is kept as a string, not lost.
        let text = String::from_utf8_lossy(bytes);
        let lines = text.lines().filter(|l| !l.trim().is_empty());
        captured(
            lines.map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string()))),
        );
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|_| out.flush())
}

/// Writes one JSON value and a newline to stdout (or the capture),
/// serialized as it goes: an execution record can hold megabytes of escaped
/// output (a NUL byte is six characters), and a string of it beside the
/// value would add that much to ladder's peak memory.
pub fn write_json_stdout(value: Value) -> std::io::Result<()> {
    write_json_lines_stdout(std::iter::once(value))
}

/// Writes JSON values, each and a newline, to stdout (or the capture),
/// through one buffer and one flush.
pub fn write_json_lines_stdout(values: impl Iterator<Item = Value>) -> std::io::Result<()> {
    let Some(mut values) = captured(values.map(super::json::stamped)) else {
        return Ok(());
    };
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    values
        .try_for_each(|v| {
            serde_json::to_writer(&mut out, &v)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"))
        })
        .and_then(|_| out.flush())
}

/// Says on stderr, in one line, that stdout failed; a closed pipe is not a
/// failure and says nothing.
pub fn stdout_failed(e: &std::io::Error) {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        note(format_args!("ladder: failed to write to stdout: {e}"));
    }
}

/// Writes the output of a command that passes an exit code through
/// (`apply`, `replay`) and returns the code to exit with: `code` when the
/// output was written, and also when the reader went away (`| head`), as a
/// shell pipeline would report it; 1 when stdout failed otherwise (a full
/// disk), with one line on stderr, since the caller never got the output.
pub fn emit_passing(bytes: &[u8], code: i32) -> i32 {
    passing(write_stdout(bytes), code)
}

/// [`emit_passing`] for a JSON value (an execution record) as a line.
pub fn emit_json_passing(value: Value, code: i32) -> i32 {
    passing(write_json_stdout(value), code)
}

fn passing(written: std::io::Result<()>, code: i32) -> i32 {
    match written {
        Ok(()) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            stdout_failed(&e);
            Kind::Error.exit_code()
        }
    }
}

/// Writes one line to stderr (`note(format_args!(...))` where `eprintln!`
/// would go). Unlike `eprintln!`, never panics when stderr itself cannot be
/// written (a closed pipe, a full disk): a message that cannot be shown must
/// not turn a finished command into a crash with exit 101.
///
/// Control characters in the line (from a reason, a key, a command) are
/// shown escaped, as [`crate::text::printable_lines`] does: a note cannot move the
/// cursor, recolour or hide text on the reader's terminal.
pub fn note(line: impl std::fmt::Display) {
    let line = line.to_string();
    let _ = writeln!(std::io::stderr(), "{}", crate::text::printable_lines(&line));
}

/// [`note`] without the newline: part of a line, or text that ends in its own.
pub fn note_part(text: impl std::fmt::Display) {
    let _ = write!(std::io::stderr(), "{text}");
}

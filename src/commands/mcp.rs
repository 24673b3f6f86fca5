//! `ladder mcp`: the MCP server's transport. Reads one JSON-RPC message per
//! line from stdin, answers each on stdout, and exits 0 when stdin closes.
//! What a message means is `crate::mcp`'s business.

use crate::context::{Ctx, Settings};
use crate::error::{Error, Kind, Result};
use crate::mcp::{Answer, INVALID_REQUEST, PROTOCOL_VERSIONS, Server};
use crate::render;
use serde_json::Value;
use std::io::{BufRead, Read, Write};

/// A message larger than this is refused (and skipped to its newline), so
/// a runaway client cannot make the server hold gigabytes. A plan's largest
/// field, the command, is far below it.
const MAX_MESSAGE_BYTES: u64 = 16 << 20;

/// Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout
///
/// For agent frameworks that speak the Model Context Protocol: one long-lived
/// process answers JSON-RPC 2.0 messages, one per line, and keeps the state
/// open and the policy loaded between calls, so a call skips the start-up a
/// new process pays. Each tool takes its command's flags as arguments (the
/// command to plan as an array of strings) and returns what --json prints;
/// isError is true exactly when the command would exit non-zero. approve,
/// reject and resolve are not tools: people decide those in a terminal.
/// Commands that apply runs read /dev/null as stdin. Requests are answered
/// one at a time, in order; the server exits when stdin closes.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// `cli` is ladder's whole command line: each tool takes its command's flags.
pub fn run(settings: &Settings, _args: Args, cli: clap::Command) -> Result<i32> {
    let mut server = Server::new(Ctx::for_server(settings)?, cli);
    render::note(format_args!(
        "ladder: MCP server ready on stdin/stdout (protocol {})",
        PROTOCOL_VERSIONS[0]
    ));
    let mut input = std::io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut input)
            .take(MAX_MESSAGE_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(read_failed)?;
        if read == 0 {
            return Ok(0);
        }
        let answer = if line.len() as u64 > MAX_MESSAGE_BYTES {
            skip_line(&mut input)?;
            Some(Answer::error(
                Value::Null,
                INVALID_REQUEST,
                format!("message larger than {} MiB", MAX_MESSAGE_BYTES >> 20),
            ))
        } else if line.trim_ascii().is_empty() {
            None
        } else {
            server.handle(&line)
        };
        if let Some(answer) = answer {
            let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
            if answer.write_to(&mut out).and_then(|_| out.flush()).is_err() {
                // The client is gone; nobody is left to answer.
                return Ok(0);
            }
        }
    }
}

/// Reads and drops the rest of an oversized line.
fn skip_line(input: &mut impl BufRead) -> Result<()> {
    loop {
        let buf = input.fill_buf().map_err(read_failed)?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

fn read_failed(e: std::io::Error) -> Error {
    Error::new(Kind::Error, format!("failed to read stdin: {e}"))
}

//! The MCP server behind `ladder mcp`: the agent's rungs as tools, over
//! JSON-RPC 2.0, one message per line (the protocol's stdio transport).
//!
//! A tool is a CLI command and nothing else: its arguments are the command's
//! flags, its input schema is generated from their clap definitions, and its
//! result is what `--json` prints: the command's own parse, rung and render,
//! run in one context that stays open between calls. So there is one contract, and the
//! server saves what a new process pays on every call (exec, loading,
//! opening SQLite, preparing statements), not any check.
//!
//! The people's rungs (`approve`, `reject`, `resolve`) are not tools: an
//! agent asks; a person decides, in a terminal. An agent may withdraw what
//! it asked for (`cancel`) and ask for a plan's recorded undo (`rollback`,
//! a new plan that people decide on like any other).
//!
//! [`Server::handle`] answers one message and does no I/O of its own beyond
//! the commands it runs; `commands/mcp.rs` reads and writes the lines.
//!
//! `wire` holds JSON-RPC: reading a message, the answers and their framing,
//! and the `initialize` handshake; `schema` the tools: which commands are
//! offered, their input schemas, and the command line a call stands for.

mod schema;
mod wire;

use crate::commands;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::render;
use clap::FromArgMatches;
use serde_json::{Map, Value, json};
use std::ffi::OsString;

use schema::subcommand;
pub use schema::{TOOLS, Tool, argv, input_schema};
pub use wire::{Answer, INVALID_REQUEST, PROTOCOL_VERSIONS, ToolResult, initialize};
use wire::{INVALID_PARAMS, METHOD_NOT_FOUND, Request};

/// One client's session: the context every tool call runs in.
pub struct Server {
    ctx: Ctx,
    /// ladder's command line, built once: tool schemas and argument parsing.
    cli: clap::Command,
}

impl Server {
    /// A server whose tools are commands of `cli`, ladder's command line.
    pub fn new(ctx: Ctx, mut cli: clap::Command) -> Server {
        cli.build();
        Server { ctx, cli }
    }

    /// Answers one message (one line of the transport). Requests get a
    /// response; notifications and responses get none.
    pub fn handle(&mut self, line: &[u8]) -> Option<Answer> {
        let Request { id, method, params } = match Request::parse(line) {
            Ok(request) => request?,
            Err(answer) => return Some(answer),
        };
        let result = match method.as_str() {
            "initialize" => Ok(initialize(&params)),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({ "tools": self.tool_list() })),
            "tools/call" => {
                return Some(match self.call(&params) {
                    Ok(result) => Answer::ToolResult { id, result },
                    Err((code, message)) => Answer::error(id, code, message),
                });
            }
            _ => Err((METHOD_NOT_FOUND, format!("unknown method `{method}`"))),
        };
        Some(match result {
            Ok(result) => Answer::result(id, result),
            Err((code, message)) => Answer::error(id, code, message),
        })
    }

    /// Every tool with its description, input schema and hints.
    pub fn tool_list(&self) -> Vec<Value> {
        schema::tool_list(&self.cli)
    }

    /// `tools/call`: an unknown tool is a protocol error; everything about
    /// the call itself (bad arguments, refusals, a failing command) is a
    /// result with `isError`, for the model to read and act on.
    fn call(&mut self, params: &Value) -> std::result::Result<ToolResult, (i64, String)> {
        let name = params.get("name").and_then(Value::as_str).ok_or((
            INVALID_PARAMS,
            "tools/call needs the tool's `name`".to_string(),
        ))?;
        if !TOOLS.iter().any(|t| t.name == name) {
            let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
            return Err((
                INVALID_PARAMS,
                format!("unknown tool `{name}`; the tools are {}", names.join(", ")),
            ));
        }
        let empty = Map::new();
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => {
                let e = Error::usage("the tool's `arguments` must be an object");
                return Ok(ToolResult::new(name, Err(e)));
            }
        };
        let outcome =
            argv(subcommand(&self.cli, name), arguments).and_then(|argv| self.parse(argv));
        let outcome = outcome.map(|matches| {
            self.ctx.forget_stale_policy();
            self.ctx.forget_replaced_state();
            let ctx = &mut self.ctx;
            let ran = render::capture_stdout(|| run_tool(ctx, name, &matches));
            // On stderr, which is not the protocol's.
            ctx.show_store_warnings();
            ran
        });
        Ok(ToolResult::new(
            name,
            match outcome {
                Ok((Ok(code), out)) => Ok((code, out)),
                Ok((Err(e), _)) | Err(e) => Err(e),
            },
        ))
    }

    /// The tool's command line, checked by its command's clap definition.
    fn parse(&mut self, argv: Vec<OsString>) -> Result<clap::ArgMatches> {
        self.cli
            .try_get_matches_from_mut(argv)
            .map_err(|e| Error::usage(crate::error::clap_line(&e)))
    }
}

/// Runs the command a tool stands for, as `ladder --json <command>` would.
fn run_tool(ctx: &mut Ctx, name: &str, matches: &clap::ArgMatches) -> Result<i32> {
    let Some((_, flags)) = matches.subcommand() else {
        return Err(Error::usage(format!("tool `{name}` names no command")));
    };
    fn args<A: FromArgMatches>(flags: &clap::ArgMatches) -> Result<A> {
        A::from_arg_matches(flags).map_err(|e| Error::usage(crate::error::clap_line(&e)))
    }
    match name {
        "plan" => commands::plan::run(ctx, args(flags)?).map(|()| 0),
        "apply" => commands::apply::run(ctx, args(flags)?),
        "cancel" => commands::cancel::run(ctx, args(flags)?).map(|()| 0),
        "rollback" => commands::rollback::run(ctx, args(flags)?).map(|()| 0),
        "replay" => commands::replay::run(ctx, args(flags)?),
        "show" => commands::show::run(ctx, args(flags)?).map(|()| 0),
        "list" => commands::list::run(ctx, args(flags)?).map(|()| 0),
        "log" => commands::log::run(ctx, args(flags)?).map(|()| 0),
        _ => Err(Error::usage(format!("`{name}` is not a tool"))),
    }
}

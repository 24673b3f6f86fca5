//! The MCP server behind `ladder mcp`: the agent's rungs as tools, over
//! JSON-RPC 2.0, one message per line (the protocol's stdio transport).
//!
//! A tool is a CLI command and nothing else: its arguments are the command's
//! flags, its input schema is generated from their clap definitions, and its
//! result is what `--json` prints, run through [`crate::dispatch`] in one
//! context that stays open between calls. So there is one contract, and the
//! server saves what a new process pays on every call (exec, loading,
//! opening SQLite, preparing statements), not any check.
//!
//! The people's rungs (`approve`, `reject`, `resolve`) are not tools: an
//! agent asks; a person decides, in a terminal.
//!
//! [`Server::handle`] answers one message and does no I/O of its own beyond
//! the commands it runs; `commands/mcp.rs` reads and writes the lines.

use crate::cli::Cli;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::render;
use clap::{Arg, ArgAction, CommandFactory as _, FromArgMatches as _};
use serde_json::{Map, Value, json};
use std::any::TypeId;
use std::ffi::OsString;
use std::io::Write;

/// Protocol revisions this server speaks, newest first. A client asking for
/// one of them gets it; any other gets the newest (the client then decides).
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

// JSON-RPC 2.0's error codes.
const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// A command offered as a tool, with the hints MCP clients show people
/// before a call (they are hints; ladder's own checks do not depend on them).
pub struct Tool {
    pub name: &'static str,
    /// Changes nothing outside ladder's state.
    pub read_only: bool,
    /// May change the world irreversibly (it runs the command).
    pub destructive: bool,
    /// Calling it again with the same arguments changes nothing more.
    pub idempotent: bool,
}

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "plan",
        read_only: false,
        destructive: false,
        // The same key and content answer with the same plan; without a
        // key, each call makes a new one.
        idempotent: false,
    },
    Tool {
        name: "apply",
        read_only: false,
        destructive: true,
        idempotent: true,
    },
    Tool {
        name: "replay",
        read_only: false,
        destructive: false,
        idempotent: true,
    },
    Tool {
        name: "show",
        read_only: true,
        destructive: false,
        idempotent: true,
    },
    Tool {
        name: "list",
        read_only: true,
        destructive: false,
        idempotent: true,
    },
    Tool {
        name: "log",
        read_only: true,
        destructive: false,
        idempotent: true,
    },
];

/// What the server tells a client at `initialize`, for the model to read.
const INSTRUCTIONS: &str = "ladder stands between you and consequential commands. \
Call `plan` with the command as an array of strings (it runs without a shell), \
a `key` naming this one action, a `reason`, and the `cwd` it must run in. The \
result has the plan's `id`, `hash`, `tier` and `status`. Read-only commands are \
approved at once; others wait for a person to run `ladder approve`, which you \
cannot do: call `show` with the key now and then (it writes nothing) until the \
status is no longer `pending`. Then call `apply` with the same `key` and `hash`: it runs the command \
once and returns its exit code and output. Calling `apply` again with that key \
returns the recorded outcome and runs nothing. `isError` is true when the \
command failed or ladder refused; a refusal's `error.code` says why \
(needs_approval, rejected, stale, ...).";

/// One client's session: the context every tool call runs in.
pub struct Server {
    ctx: Ctx,
    /// ladder's command line, built once: tool schemas and argument parsing.
    cli: clap::Command,
}

impl Server {
    pub fn new(ctx: Ctx) -> Server {
        let mut cli = Cli::command();
        cli.build();
        Server { ctx, cli }
    }

    /// Answers one message (one line of the transport). Requests get a
    /// response; notifications and responses get none.
    pub fn handle(&mut self, line: &[u8]) -> Option<Answer> {
        let message: Value = match serde_json::from_slice(line) {
            Ok(m) => m,
            Err(e) => {
                return Some(Answer::error(
                    Value::Null,
                    PARSE_ERROR,
                    format!("parse error: {e}"),
                ));
            }
        };
        let Some(message) = message.as_object() else {
            return Some(Answer::error(
                Value::Null,
                INVALID_REQUEST,
                "expected one JSON-RPC message object (batches are not supported)".into(),
            ));
        };
        if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Some(Answer::error(
                Value::Null,
                INVALID_REQUEST,
                "not a JSON-RPC 2.0 message (\"jsonrpc\": \"2.0\" is missing)".into(),
            ));
        }
        let id = message.get("id").cloned();
        // JSON-RPC ids are strings or numbers, and MCP's are never null; a
        // number must come back exactly, so it must be an integer that
        // fits 64 bits (a larger one would be echoed rounded).
        if let Some(bad) = id
            .as_ref()
            .filter(|id| !(id.is_string() || id.is_i64() || id.is_u64()))
        {
            return Some(Answer::error(
                Value::Null,
                INVALID_REQUEST,
                format!("a request id must be a string or an integer, not {bad}"),
            ));
        }
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            // A response to us: this server sends no requests, so there is
            // nothing to match it with.
            if message.contains_key("result") || message.contains_key("error") {
                return None;
            }
            return Some(Answer::error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "a request needs a `method`".into(),
            ));
        };
        // A notification (`notifications/initialized`, `.../cancelled`)
        // wants no answer. Calls run one at a time, so by the time a
        // cancellation is read, its call has finished.
        let id = id?;
        let params = message.get("params").cloned().unwrap_or(json!({}));
        let result = match method {
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
            Ok(result) => Answer::Message(json!({ "jsonrpc": "2.0", "id": id, "result": result })),
            Err((code, message)) => Answer::error(id, code, message),
        })
    }

    /// Every tool with its description, input schema and hints.
    pub fn tool_list(&self) -> Vec<Value> {
        TOOLS
            .iter()
            .map(|tool| {
                let command = self.subcommand(tool.name);
                let about = command
                    .get_about()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                // The long text starts with the short one, as `--help` shows it.
                let long = command
                    .get_long_about()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| about.clone());
                json!({
                    "name": tool.name,
                    "title": about,
                    "description": long,
                    "inputSchema": input_schema(command),
                    "annotations": {
                        "readOnlyHint": tool.read_only,
                        "destructiveHint": tool.destructive,
                        "idempotentHint": tool.idempotent,
                        // `plan` runs a dry-run; `apply`, the command.
                        "openWorldHint": matches!(tool.name, "plan" | "apply"),
                    },
                })
            })
            .collect()
    }

    fn subcommand(&self, name: &str) -> &clap::Command {
        self.cli
            .find_subcommand(name)
            .expect("every tool is a ladder command")
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
        let outcome = argv(self.subcommand(name), arguments).and_then(|argv| self.parse(argv));
        let outcome = outcome.map(|command| {
            self.ctx.forget_stale_policy();
            self.ctx.forget_replaced_state();
            render::capture_stdout(|| crate::dispatch(&mut self.ctx, command))
        });
        Ok(ToolResult::new(
            name,
            match outcome {
                Ok((Ok(code), out)) => Ok((code, out)),
                Ok((Err(e), _)) | Err(e) => Err(e),
            },
        ))
    }

    fn parse(&mut self, argv: Vec<OsString>) -> Result<crate::cli::Command> {
        let matches = self
            .cli
            .try_get_matches_from_mut(argv)
            .map_err(|e| Error::usage(crate::cli::one_line(&e)))?;
        let cli =
            Cli::from_arg_matches(&matches).map_err(|e| Error::usage(crate::cli::one_line(&e)))?;
        Ok(cli.command)
    }
}

/// The `initialize` result: the negotiated revision and what we offer.
pub fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = PROTOCOL_VERSIONS
        .iter()
        .find(|v| Some(**v) == asked)
        .unwrap_or(&PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": {
            "name": "ladder",
            "title": "ladder",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": INSTRUCTIONS,
    })
}

/// What the server writes back for one message.
pub enum Answer {
    /// A JSON-RPC response.
    Message(Value),
    /// A `tools/call` response, serialized as it is written.
    ToolResult { id: Value, result: ToolResult },
}

impl Answer {
    /// A JSON-RPC error response.
    pub fn error(id: Value, code: i64, message: String) -> Answer {
        Answer::Message(
            json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }),
        )
    }

    /// Writes the answer as one line.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        match self {
            Answer::Message(message) => serde_json::to_writer(&mut *out, message)?,
            Answer::ToolResult { id, result } => {
                out.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":")?;
                serde_json::to_writer(&mut *out, id)?;
                out.write_all(b",\"result\":")?;
                result.write_to(out)?;
                out.write_all(b"}")?;
            }
        }
        out.write_all(b"\n")
    }
}

/// A tool call's result: the command's `--json` output as text (verbatim)
/// and as structured content (`log`'s JSON Lines become `{"events": [...]}`),
/// or the error object `--json` prints. `isError` is true exactly when the
/// CLI would exit non-zero.
///
/// It keeps the values, not their text, and writes both forms straight from
/// them: an execution record with a megabyte of output can take six as
/// escaped text, and seven once that text is a JSON string itself.
pub struct ToolResult {
    values: Vec<Value>,
    /// Whether `values` are `log`'s events (JSON Lines), wrapped for the
    /// structured form.
    events: bool,
    is_error: bool,
}

impl ToolResult {
    pub fn new(tool: &str, outcome: Result<(i32, Vec<Value>)>) -> ToolResult {
        match outcome {
            Ok((code, values)) => {
                let one_object = matches!(values.as_slice(), [one] if tool != "log" || one.get("verified").is_some());
                ToolResult {
                    values,
                    events: !one_object,
                    is_error: code != 0,
                }
            }
            Err(e) => ToolResult {
                values: vec![crate::error_json(&e)],
                events: false,
                is_error: true,
            },
        }
    }

    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(b"{\"content\":[{\"type\":\"text\",\"text\":\"")?;
        for (i, value) in self.values.iter().enumerate() {
            if i > 0 {
                out.write_all(b"\\n")?;
            }
            serde_json::to_writer(JsonStringBody(&mut *out), value)?;
        }
        out.write_all(b"\"}],\"structuredContent\":")?;
        if self.events {
            out.write_all(b"{\"events\":[")?;
            for (i, value) in self.values.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, value)?;
            }
            out.write_all(b"]}")?;
        } else {
            serde_json::to_writer(&mut *out, &self.values[0])?;
        }
        write!(out, ",\"isError\":{}}}", self.is_error)
    }
}

/// Writes what passes through it as the inside of a JSON string: JSON text
/// nested in a JSON string, escaped on the way out instead of built first.
struct JsonStringBody<'a, W: Write>(&'a mut W);

impl<W: Write> Write for JsonStringBody<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut plain = 0;
        for (i, &b) in buf.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                // serde_json writes no other control byte, but a string
                // must never carry one raw.
                0..0x20 => {
                    self.0.write_all(&buf[plain..i])?;
                    write!(self.0, "\\u{b:04x}")?;
                    plain = i + 1;
                    continue;
                }
                _ => continue,
            };
            self.0.write_all(&buf[plain..i])?;
            self.0.write_all(escaped)?;
            plain = i + 1;
        }
        self.0.write_all(&buf[plain..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Flags a tool does not take, though its command does. `apply --wait`
/// would hold the server in a loop that no cancellation or disconnect can
/// end, and then run the command for a client that gave up long before:
/// an agent polls `show` until the plan is approved, then applies.
const NOT_OFFERED: &[(&str, &str)] = &[("apply", "wait")];

/// A tool's parameters: its command's own flags and positionals, without
/// the global ones (state, policy and actor are the server's), help, and
/// what [`NOT_OFFERED`] names.
fn parameters(command: &clap::Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|a| {
        !a.is_global_set()
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
            && !NOT_OFFERED.contains(&(command.get_name(), a.get_id().as_str()))
    })
}

/// The JSON Schema type of one value of an argument.
fn scalar_type(arg: &Arg) -> &'static str {
    let t = arg.get_value_parser().type_id();
    let integers = [
        TypeId::of::<u64>(),
        TypeId::of::<i64>(),
        TypeId::of::<u32>(),
        TypeId::of::<i32>(),
        TypeId::of::<usize>(),
    ];
    if integers.iter().any(|i| t == *i) {
        "integer"
    } else if t == TypeId::of::<f64>() || t == TypeId::of::<f32>() {
        "number"
    } else {
        "string"
    }
}

/// The JSON Schema of a command's arguments, from its clap definition.
pub fn input_schema(command: &clap::Command) -> Value {
    let mut properties = Map::new();
    let mut required = vec![];
    for arg in parameters(command) {
        let mut description = if arg.is_last_set() {
            // The CLI's help says "after `--`"; here it is just an array.
            "The command and its arguments, one string each; it runs without a shell".to_string()
        } else {
            arg.get_help().map(|h| h.to_string()).unwrap_or_default()
        };
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() && !matches!(arg.get_action(), ArgAction::SetTrue) {
            description.push_str(&format!(" [default: {}]", defaults.join(",")));
        }
        let mut value = json!({ "type": scalar_type(arg) });
        let choices: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| p.get_name().to_string())
            .collect();
        if !choices.is_empty() {
            value["enum"] = json!(choices);
        }
        let mut schema = match arg.get_action() {
            ArgAction::SetTrue => json!({ "type": "boolean" }),
            ArgAction::Append => json!({ "type": "array", "items": value }),
            _ => value,
        };
        schema["description"] = json!(description);
        if arg.is_required_set() {
            required.push(arg.get_id().to_string());
        }
        properties.insert(arg.get_id().to_string(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The command line a tool call stands for: `ladder <tool>` and a flag per
/// argument. Values go as `--flag=value`, positionals after `--`, so no
/// value is ever read as a flag (a key may start with `-`).
pub fn argv(command: &clap::Command, arguments: &Map<String, Value>) -> Result<Vec<OsString>> {
    let mut argv: Vec<OsString> = vec!["ladder".into(), command.get_name().into()];
    let mut positional: Vec<OsString> = vec![];
    for (name, value) in arguments {
        if value.is_null() {
            continue;
        }
        let Some(arg) = parameters(command).find(|a| a.get_id() == name.as_str()) else {
            let names: Vec<String> = parameters(command)
                .map(|a| a.get_id().to_string())
                .collect();
            return Err(Error::usage(format!(
                "unknown argument `{name}`; `{}` takes {}",
                command.get_name(),
                names.join(", ")
            )));
        };
        let flag = |v: &str| -> OsString {
            let long = arg.get_long().unwrap_or(arg.get_id().as_str());
            format!("--{long}={v}").into()
        };
        match arg.get_action() {
            ArgAction::SetTrue => match value {
                Value::Bool(true) => {
                    argv.push(format!("--{}", arg.get_long().unwrap_or(name)).into())
                }
                Value::Bool(false) => {}
                _ => return Err(Error::usage(format!("`{name}` must be true or false"))),
            },
            ArgAction::Append => {
                // As the schema says: a string where the command's argv is
                // wanted would be one argument, `"rm -rf x"` included.
                let Value::Array(items) = value else {
                    return Err(Error::usage(format!("`{name}` must be an array")));
                };
                for item in items {
                    let text = scalar_text(name, item)?;
                    if arg.is_positional() {
                        positional.push(text.into());
                    } else {
                        argv.push(flag(&text));
                    }
                }
            }
            _ => {
                let text = scalar_text(name, value)?;
                if arg.is_positional() {
                    positional.push(text.into());
                } else {
                    argv.push(flag(&text));
                }
            }
        }
    }
    if !positional.is_empty() {
        argv.push("--".into());
        argv.extend(positional);
    }
    Ok(argv)
}

/// One argument value as command-line text: a string, or a number as JSON
/// writes it.
fn scalar_text(name: &str, value: &Value) -> Result<String> {
    match value {
        // A command line cannot carry a NUL byte, and an argument with one
        // would be stored as two (see `plan`): refused for every tool.
        Value::String(s) if s.contains('\0') => Err(Error::usage(format!(
            "`{name}` holds a NUL byte, which no command line can carry"
        ))),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(Error::usage(format!(
            "`{name}` must be a string or a number, not {value}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> clap::Command {
        let mut cli = Cli::command();
        cli.build();
        cli
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn argv_of(tool: &str, v: Value) -> Result<Vec<String>> {
        let cli = cli();
        argv(cli.find_subcommand(tool).unwrap(), &args(v))
            .map(|a| a.into_iter().map(|s| s.into_string().unwrap()).collect())
    }

    #[test]
    fn arguments_become_the_commands_flags() {
        let argv = argv_of(
            "plan",
            json!({
                "key": "-odd",
                "command": ["rm", "-rf", "build"],
                "env": ["KUBE_CONTEXT", "AWS_PROFILE"],
                "confidence": 0.9,
                "dry_run_ok": [0, 1],
                "reason": null,
            }),
        )
        .unwrap();
        // serde_json's map is ordered by key.
        assert_eq!(
            argv,
            [
                "ladder",
                "plan",
                "--confidence=0.9",
                "--dry-run-ok=0",
                "--dry-run-ok=1",
                "--env=KUBE_CONTEXT",
                "--env=AWS_PROFILE",
                "--key=-odd",
                "--",
                "rm",
                "-rf",
                "build",
            ]
        );
        assert_eq!(
            argv_of("log", json!({"verify": true, "limit": 5})).unwrap(),
            ["ladder", "log", "--limit=5", "--verify"]
        );
        assert_eq!(
            argv_of("log", json!({"verify": false})).unwrap(),
            ["ladder", "log"]
        );
        assert_eq!(
            argv_of("show", json!({"plan": "abcd"})).unwrap(),
            ["ladder", "show", "--", "abcd"]
        );
    }

    #[test]
    fn arguments_that_are_no_flag_of_the_command_are_refused() {
        let e = argv_of("apply", json!({"state": "/tmp/x.db"})).unwrap_err();
        assert!(
            e.message.contains("unknown argument `state`"),
            "{}",
            e.message
        );
        assert!(e.message.contains("key, hash"), "{}", e.message);
        let e = argv_of("log", json!({"verify": "yes"})).unwrap_err();
        assert!(e.message.contains("true or false"), "{}", e.message);
        let e = argv_of("plan", json!({"command": [["true"]]})).unwrap_err();
        assert!(e.message.contains("string or a number"), "{}", e.message);
        // The argv is an array, never a shell line in one string.
        let e = argv_of("plan", json!({"command": "rm -rf build"})).unwrap_err();
        assert!(
            e.message.contains("`command` must be an array"),
            "{}",
            e.message
        );
        // No command line carries a NUL; stored, one would split an argument.
        for args in [
            json!({"command": ["echo", "a\u{0}b"]}),
            json!({"command": ["true"], "dry_run": "find . 'x\u{0}-delete'"}),
        ] {
            let e = argv_of("plan", args).unwrap_err();
            assert!(e.message.contains("NUL byte"), "{}", e.message);
        }
        // `apply --wait` is not offered: nothing could end its loop.
        let e = argv_of("apply", json!({"key": "k", "hash": "h", "wait": "10m"})).unwrap_err();
        assert!(
            e.message.contains("unknown argument `wait`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn schemas_come_from_the_flags_without_the_global_ones() {
        let cli = cli();
        let plan = input_schema(cli.find_subcommand("plan").unwrap());
        assert_eq!(plan["required"], json!(["command"]));
        assert_eq!(plan["properties"]["command"]["type"], "array");
        assert_eq!(plan["properties"]["env"]["items"]["type"], "string");
        assert_eq!(plan["properties"]["dry_run_ok"]["items"]["type"], "integer");
        assert_eq!(plan["properties"]["confidence"]["type"], "number");
        for global in ["state", "policy", "actor", "json", "help"] {
            assert!(plan["properties"].get(global).is_none(), "{global}");
        }
        let apply = input_schema(cli.find_subcommand("apply").unwrap());
        assert_eq!(apply["required"], json!(["key", "hash"]));
        assert!(apply["properties"].get("wait").is_none());
        assert_eq!(apply["properties"]["timeout"]["type"], "string");
        let log = input_schema(cli.find_subcommand("log").unwrap());
        assert_eq!(log["properties"]["verify"]["type"], "boolean");
        assert_eq!(log["properties"]["limit"]["type"], "integer");
        assert!(
            log["properties"]["limit"]["description"]
                .as_str()
                .unwrap()
                .ends_with("[default: 50]")
        );
    }

    #[test]
    fn the_client_gets_its_revision_when_we_speak_it() {
        for v in PROTOCOL_VERSIONS {
            assert_eq!(
                initialize(&json!({"protocolVersion": v}))["protocolVersion"],
                *v
            );
        }
        assert_eq!(
            initialize(&json!({"protocolVersion": "1999-01-01"}))["protocolVersion"],
            PROTOCOL_VERSIONS[0]
        );
    }

    /// A tool result as the client reads it.
    fn written(tool: &str, outcome: Result<(i32, Vec<Value>)>) -> Value {
        let answer = Answer::ToolResult {
            id: json!(7),
            result: ToolResult::new(tool, outcome),
        };
        let mut out = Vec::new();
        answer.write_to(&mut out).unwrap();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        let message: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(message["jsonrpc"], "2.0");
        assert_eq!(message["id"], 7);
        message["result"].clone()
    }

    #[test]
    fn results_carry_the_json_output_and_is_error_follows_the_exit_code() {
        // Text that needs escaping twice over: quotes, backslashes, NUL,
        // newlines, a lone control byte, non-ASCII.
        let record = json!({"stdout": "a\"b\\c\u{0}\n\r\t\u{1b}[31mé\u{2028}", "exit_code": 0});
        let ok = written("apply", Ok((0, vec![record.clone()])));
        assert_eq!(ok["structuredContent"], record);
        assert_eq!(ok["content"][0]["type"], "text");
        assert_eq!(
            ok["content"][0]["text"],
            record.to_string(),
            "the CLI's line"
        );
        assert_eq!(ok["isError"], false);

        let failed = written("apply", Ok((3, vec![json!({"exit_code": 3})])));
        assert_eq!(failed["isError"], true);

        let events = vec![json!({"seq": 1}), json!({"seq": 2})];
        let log = written("log", Ok((0, events)));
        assert_eq!(
            log["structuredContent"],
            json!({"events": [{"seq": 1}, {"seq": 2}]})
        );
        assert_eq!(log["content"][0]["text"], "{\"seq\":1}\n{\"seq\":2}");
        let one = written("log", Ok((0, vec![json!({"seq": 1})])));
        assert_eq!(one["structuredContent"], json!({"events": [{"seq": 1}]}));
        let none = written("log", Ok((0, vec![])));
        assert_eq!(none["structuredContent"], json!({"events": []}));
        assert_eq!(none["content"][0]["text"], "");
        let verified = written("log", Ok((0, vec![json!({"verified": true})])));
        assert_eq!(verified["structuredContent"], json!({"verified": true}));

        let refused = written(
            "apply",
            Err(Error::new(crate::error::Kind::NeedsApproval, "short")),
        );
        assert_eq!(refused["isError"], true);
        assert_eq!(
            refused["structuredContent"]["error"]["code"],
            "needs_approval"
        );
        assert_eq!(refused["structuredContent"]["error"]["exit_code"], 10);
    }
}

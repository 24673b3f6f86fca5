//! JSON-RPC 2.0 as `ladder mcp` speaks it: reading one message, the
//! answers and how they are written (one line each), and the `initialize`
//! handshake with its protocol revision.

use crate::error::Result;
use serde_json::{Value, json};
use std::io::Write;

/// Protocol revisions this server speaks, newest first. A client asking for
/// one of them gets it; any other gets the newest (the client then decides).
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

// JSON-RPC 2.0's error codes.
const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub(super) const METHOD_NOT_FOUND: i64 = -32601;
pub(super) const INVALID_PARAMS: i64 = -32602;

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

/// A request: a message with a `method` and an `id`, which gets an answer.
pub(super) struct Request {
    pub(super) id: Value,
    pub(super) method: String,
    pub(super) params: Value,
}

impl Request {
    /// Reads one message (one line of the transport): a request, `None` for
    /// a notification or a response (they get no answer), or the error
    /// response a message that is not JSON-RPC 2.0 gets.
    pub(super) fn parse(line: &[u8]) -> std::result::Result<Option<Request>, Answer> {
        let message: Value = match serde_json::from_slice(line) {
            Ok(m) => m,
            Err(e) => {
                return Err(Answer::error(
                    Value::Null,
                    PARSE_ERROR,
                    format!("parse error: {e}"),
                ));
            }
        };
        let Some(message) = message.as_object() else {
            return Err(Answer::error(
                Value::Null,
                INVALID_REQUEST,
                "expected one JSON-RPC message object (batches are not supported)".into(),
            ));
        };
        if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(Answer::error(
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
            return Err(Answer::error(
                Value::Null,
                INVALID_REQUEST,
                format!("a request id must be a string or an integer, not {bad}"),
            ));
        }
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            // A response to us: this server sends no requests, so there is
            // nothing to match it with.
            if message.contains_key("result") || message.contains_key("error") {
                return Ok(None);
            }
            return Err(Answer::error(
                id.unwrap_or(Value::Null),
                INVALID_REQUEST,
                "a request needs a `method`".into(),
            ));
        };
        // A notification (`notifications/initialized`, `.../cancelled`)
        // wants no answer. Calls run one at a time, so by the time a
        // cancellation is read, its call has finished.
        let Some(id) = id else {
            return Ok(None);
        };
        let params = message.get("params").cloned().unwrap_or(json!({}));
        Ok(Some(Request {
            id,
            method: method.to_string(),
            params,
        }))
    }
}

/// What the server writes back for one message.
pub enum Answer {
    /// A JSON-RPC response.
    Message(Value),
    /// A `tools/call` response, serialized as it is written.
    ToolResult { id: Value, result: ToolResult },
}

impl Answer {
    /// A JSON-RPC success response.
    pub fn result(id: Value, result: Value) -> Answer {
        Answer::Message(json!({ "jsonrpc": "2.0", "id": id, "result": result }))
    }

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
/// them: escaped, an execution record's output grows several times over, and
/// again once that text is a JSON string itself (BENCHMARKS.md, *Peak
/// memory*).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

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

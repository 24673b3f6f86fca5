//! The tools: which of ladder's commands are offered, their definitions and
//! input schemas (generated from the commands' clap definitions), and the
//! command line a tool call stands for.

use crate::error::{Error, Result};
use clap::{Arg, ArgAction};
use serde_json::{Map, Value, json};
use std::any::TypeId;
use std::ffi::OsString;

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
        name: "cancel",
        read_only: false,
        destructive: false,
        // A second cancel changes nothing (it answers `cancelled`).
        idempotent: true,
    },
    Tool {
        name: "rollback",
        read_only: false,
        destructive: false,
        // The derived key answers a retry with the plan already made.
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

/// Every tool with its description, input schema and hints, from ladder's
/// command line (`cli`, built).
pub(super) fn tool_list(cli: &clap::Command) -> Vec<Value> {
    TOOLS
        .iter()
        .map(|tool| {
            let command = subcommand(cli, tool.name);
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
                    // `plan` and `rollback` run a dry-run; `apply`, the command.
                    "openWorldHint": matches!(tool.name, "plan" | "rollback" | "apply"),
                },
            })
        })
        .collect()
}

/// The command a tool stands for.
pub(super) fn subcommand<'a>(cli: &'a clap::Command, name: &str) -> &'a clap::Command {
    cli.find_subcommand(name)
        .expect("every tool is a ladder command")
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
    use crate::cli::Cli;
    use clap::CommandFactory as _;

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
}

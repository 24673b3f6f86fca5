//! `ladder mcp`: an agent's session over the Model Context Protocol, driven
//! the way a client drives it (one JSON-RPC message per line, answers read
//! as they come), with people deciding through the CLI in between.

use crate::harness::{STRICT_POLICY, TestEnv, strict};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// A running `ladder mcp` and the client's end of its pipes.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl Session {
    fn start(t: &TestEnv, actor: &str) -> Session {
        let mut child = t
            .std_cmd(actor)
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ladder mcp");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Session {
            child,
            stdin,
            lines,
            next_id: 0,
        }
    }

    fn send_raw(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, message: Value) {
        self.send_raw(&format!("{message}\n"));
    }

    /// The next line the server writes, as JSON. A server that answers
    /// nothing fails the test instead of hanging it.
    fn read(&mut self) -> Value {
        match self.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")),
            Err(RecvTimeoutError::Timeout) => panic!("ladder mcp answered nothing in 30 s"),
            Err(RecvTimeoutError::Disconnected) => panic!("ladder mcp closed stdout"),
        }
    }

    fn request_message(&mut self, method: &str, params: Value) -> (u64, Value) {
        self.next_id += 1;
        let id = self.next_id;
        (
            id,
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
    }

    /// Sends a request and returns its response, checking the id.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let (id, message) = self.request_message(method, params);
        self.send(message);
        let response = self.read();
        assert_eq!(response["id"], id, "{response}");
        assert_eq!(response["jsonrpc"], "2.0");
        response
    }

    /// A tool call's result.
    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let response = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        response
            .get("result")
            .unwrap_or_else(|| panic!("no result: {response}"))
            .clone()
    }

    fn initialize(&mut self) {
        let r = self.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test-client", "version": "1"},
            }),
        );
        assert_eq!(r["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(r["result"]["serverInfo"]["name"], "ladder");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    /// Closes stdin and returns the server's exit code.
    fn finish(mut self) -> i32 {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        status.code().unwrap_or(-1)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_agent_plans_applies_and_retries_over_mcp_and_the_command_runs_once() {
    agent_session(&strict());
}

/// The same session with a team database as the state: one connection for
/// the server's whole life, people deciding through the CLI on their own.
#[test]
fn an_agent_session_over_mcp_on_postgres() {
    let Some(t) = crate::postgres::on_postgres() else {
        return;
    };
    agent_session(&t);
}

/// An agent plans, is refused, a person approves, the agent applies and
/// retries: the command runs once and the ledger says who did each rung.
fn agent_session(t: &crate::harness::TestEnv) {
    let mut s = Session::start(t, "agent");
    s.initialize();

    let tools = s.request("tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    // People's rungs are not tools.
    assert_eq!(
        names,
        [
            "plan", "apply", "cancel", "rollback", "replay", "show", "list", "log"
        ]
    );

    let work = t.work();
    let plan = s.call(
        "plan",
        json!({
            "key": "count",
            "command": ["sh", "-c", "echo ran >> runs; echo done"],
            "reason": "count the runs",
            "rollback": "rm -f runs",
            "cwd": work.to_str().unwrap(),
        }),
    );
    assert_eq!(plan["isError"], false, "{plan}");
    let plan = plan["structuredContent"].clone();
    assert_eq!(plan["status"], "pending");
    assert_eq!(plan["actor"], "agent");
    let hash = plan["hash"].as_str().unwrap();

    // No approval yet: refused, in the contract's words.
    let refused = s.call("apply", json!({"key": "count", "hash": hash}));
    assert_eq!(refused["isError"], true);
    assert_eq!(
        refused["structuredContent"]["error"]["code"],
        "needs_approval"
    );
    assert_eq!(refused["structuredContent"]["error"]["exit_code"], 10);

    // A person approves in the terminal while the server stays up.
    let r = t.approve("alice", &plan);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let applied = s.call("apply", json!({"key": "count", "hash": hash}));
    assert_eq!(applied["isError"], false, "{applied}");
    assert_eq!(applied["structuredContent"]["exit_code"], 0);
    assert_eq!(applied["structuredContent"]["stdout"], "done\n");
    assert_eq!(
        applied["content"][0]["text"],
        applied["structuredContent"].to_string(),
        "the text is the JSON the CLI prints"
    );

    // The retry gets the recorded outcome; nothing runs again.
    let again = s.call("apply", json!({"key": "count", "hash": hash}));
    assert_eq!(again["structuredContent"]["replayed"], true);
    assert_eq!(again["structuredContent"]["stdout"], "done\n");
    let replayed = s.call("replay", json!({"key": "count"}));
    assert_eq!(replayed["structuredContent"]["stdout"], "done\n");
    assert_eq!(std::fs::read_to_string(work.join("runs")).unwrap(), "ran\n");

    // The same ledger the CLI shows, with the server's actor on each rung.
    let log = s.call("log", json!({"key": "count", "limit": 0}));
    let kinds: Vec<(&str, &str)> = log["structuredContent"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("planned", "agent"),
            ("refused", "agent"),
            ("approved", "alice"),
            ("started", "agent"),
            ("applied", "agent"),
            ("replayed", "agent"),
            ("replayed", "agent"),
        ]
    );

    // The recorded undo, asked for as a new plan; asked again, the same one.
    let undo = s.call("rollback", json!({"plan": plan["id"]}));
    assert_eq!(undo["isError"], false, "{undo}");
    let undo = undo["structuredContent"].clone();
    assert_eq!(undo["rollback_of"], plan["id"]);
    assert_eq!(undo["status"], "pending");
    let again = s.call("rollback", json!({"plan": plan["id"]}));
    assert_eq!(again["structuredContent"]["id"], undo["id"]);

    // An agent that changed its mind withdraws what it asked for, and may
    // ask again under the same key.
    let asked = s.call(
        "plan",
        json!({"key": "withdraw", "command": ["true"], "meta": ["model=m-1"]}),
    )["structuredContent"]
        .clone();
    assert_eq!(asked["meta"]["model"], "m-1");
    let cancelled = s.call("cancel", json!({"key": "withdraw", "reason": "not needed"}));
    assert_eq!(cancelled["isError"], false, "{cancelled}");
    assert_eq!(cancelled["structuredContent"]["status"], "cancelled");
    let twice = s.call("cancel", json!({"plan": asked["id"]}));
    assert_eq!(twice["isError"], true);
    assert_eq!(twice["structuredContent"]["error"]["exit_code"], 23);
    let fresh = s.call("plan", json!({"key": "withdraw", "command": ["true"]}));
    assert_eq!(fresh["isError"], false, "{fresh}");
    assert_ne!(fresh["structuredContent"]["id"], asked["id"]);
    assert_eq!(fresh["structuredContent"]["status"], "pending");

    // Someone else's plan is a person's to withdraw, not the agent's.
    let alices = t.plan("alice", "alices", &[], &["true"]);
    let theirs = s.call("cancel", json!({"plan": alices["id"]}));
    assert_eq!(theirs["isError"], true);
    assert_eq!(theirs["structuredContent"]["error"]["code"], "not_allowed");
    assert_eq!(t.show(&alices)["status"], "pending");

    let verify = s.call("log", json!({"verify": true}));
    assert_eq!(verify["structuredContent"]["verified"], true);
    assert_eq!(s.finish(), 0);
}

#[test]
fn a_command_applied_over_mcp_reads_no_protocol_messages() {
    let t = strict();
    let mut s = Session::start(&t, "agent");
    s.initialize();
    // `cat` copies its stdin. Were it the server's stdin, it would eat the
    // ping sent right behind the apply and wait for more: no answers.
    let plan = s.call("plan", json!({"key": "cat", "command": ["cat"]}));
    let plan = plan["structuredContent"].clone();
    t.approve("alice", &plan);
    let (apply_id, apply) = s.request_message(
        "tools/call",
        json!({"name": "apply", "arguments": {"key": "cat", "hash": plan["hash"]}}),
    );
    let (ping_id, ping) = s.request_message("ping", json!({}));
    s.send_raw(&format!("{apply}\n{ping}\n"));
    let first = s.read();
    assert_eq!(first["id"], apply_id);
    assert_eq!(first["result"]["structuredContent"]["exit_code"], 0);
    assert_eq!(first["result"]["structuredContent"]["stdout"], "");
    let second = s.read();
    assert_eq!(second["id"], ping_id);
    assert_eq!(second["result"], json!({}));
}

#[test]
fn bad_messages_get_json_rpc_errors_and_the_server_keeps_serving() {
    let t = strict();
    let mut s = Session::start(&t, "agent");
    s.send_raw("this is not json\n");
    let r = s.read();
    assert_eq!(r["error"]["code"], -32700);
    assert_eq!(r["id"], Value::Null);
    s.send_raw("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n\n");
    assert_eq!(s.read()["error"]["code"], -32600);

    // Ids are strings or integers that come back exactly; JSON-RPC 2.0 only.
    for message in [
        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
        r#"{"id":1,"method":"ping"}"#,
    ] {
        s.send_raw(&format!("{message}\n"));
        let r = s.read();
        assert_eq!(r["error"]["code"], -32600, "{message}: {r}");
        assert_eq!(r["id"], Value::Null);
    }
    s.send_raw("{\"jsonrpc\":\"2.0\",\"id\":\"a-string\",\"method\":\"ping\"}\n");
    assert_eq!(s.read()["id"], "a-string");

    let r = s.request("resources/list", json!({}));
    assert_eq!(r["error"]["code"], -32601);
    let r = s.request("tools/call", json!({"name": "approve", "arguments": {}}));
    assert_eq!(r["error"]["code"], -32602);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown tool `approve`")
    );

    // Mistakes in a call are results the model can read and correct.
    let r = s.call(
        "apply",
        json!({"key": "k", "hash": "h", "state": "/tmp/other.db"}),
    );
    assert_eq!(r["isError"], true);
    assert_eq!(r["structuredContent"]["error"]["code"], "usage");
    let r = s.call("apply", json!({"key": "k"}));
    assert_eq!(r["structuredContent"]["error"]["code"], "usage");
    assert!(
        r["structuredContent"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--hash"),
        "{r}"
    );
    let r = s.call("show", json!({"key": "nobody"}));
    assert_eq!(r["structuredContent"]["error"]["code"], "not_found");

    // A runaway message is refused whole, not held or half-read.
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"{}\"}}\n",
        "x".repeat(17 << 20)
    );
    s.send_raw(&huge);
    let r = s.read();
    assert_eq!(r["error"]["code"], -32600);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 16 MiB")
    );

    // Still serving; a notification gets no answer, so the ping's comes next.
    s.send(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}}),
    );
    assert_eq!(s.request("ping", json!({}))["result"], json!({}));
    assert_eq!(s.finish(), 0);
}

#[test]
fn a_policy_edited_while_the_server_runs_classifies_the_next_plan() {
    let mut t = strict();
    let mut s = Session::start(&t, "agent");
    let first = s.call("plan", json!({"key": "one", "command": ["ls"]}));
    assert_eq!(first["structuredContent"]["tier"], "read_only");
    t.with_policy(
        &STRICT_POLICY.replace("commands = [\"ls **\"]", "commands = [\"ls-nothing **\"]"),
    );
    let second = s.call("plan", json!({"key": "two", "command": ["ls"]}));
    assert_eq!(second["structuredContent"]["tier"], "irreversible");
}

#[test]
fn sigterm_to_the_server_during_an_apply_stops_the_command_and_records_its_outcome() {
    let t = strict();
    let mut s = Session::start(&t, "agent");
    let plan = s.call("plan", json!({"key": "slow", "command": ["sleep", "30"]}));
    let plan = plan["structuredContent"].clone();
    assert_eq!(t.approve("alice", &plan).code, 0);
    let (id, apply) = s.request_message(
        "tools/call",
        json!({"name": "apply", "arguments": {"key": "slow", "hash": plan["hash"]}}),
    );
    s.send(apply);
    // Wait for the command itself, not only the `running` record: between
    // the two, ladder has not yet taken over SIGTERM, and a signal then
    // ends it as any crash would (the plan is left to be `interrupted`).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !has_child(s.child.id()) {
        assert!(std::time::Instant::now() < deadline, "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        t.json("viewer", &["show", "--key", "slow"]).json()["status"],
        "running"
    );
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
    let r = s.read();
    assert_eq!(r["id"], id);
    let outcome = &r["result"]["structuredContent"];
    assert_eq!(outcome["signal"], 15, "{r}");
    assert_eq!(outcome["exit_code"], 143);
    assert_eq!(r["result"]["isError"], true);
    // Recorded, and the server still answers.
    let shown = t.json("viewer", &["show", "--key", "slow"]).json();
    assert_eq!(shown["status"], "applied");
    assert_eq!(s.request("ping", json!({}))["result"], json!({}));
    assert_eq!(s.finish(), 0);
}

#[test]
fn a_state_file_removed_while_the_server_runs_is_not_written_behind_the_reviewers_back() {
    let t = strict();
    let mut s = Session::start(&t, "agent");
    let first = s.call("plan", json!({"key": "one", "command": ["ls"]}));
    assert_eq!(first["isError"], false);
    for suffix in ["", "-wal", "-shm"] {
        let mut path = t.state().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    // The next call opens what is at the path now, as a new process would:
    // a reviewer's `show` finds the plan.
    let second = s.call("plan", json!({"key": "two", "command": ["ls"]}));
    assert_eq!(second["isError"], false);
    let shown = t.json("alice", &["show", "--key", "two"]);
    assert_eq!(shown.code, 0, "{}", shown.stdout_str());
    assert_eq!(shown.json()["id"], second["structuredContent"]["id"]);
}

#[test]
fn a_nul_byte_in_a_command_is_refused_before_anything_runs() {
    let t = TestEnv::new();
    let victim = t.work().join("victim");
    std::fs::create_dir_all(victim.join("sub")).unwrap();
    std::fs::write(victim.join("a.txt"), "keep").unwrap();
    let mut s = Session::start(&t, "agent");
    // Stored NUL-separated, `find . 'x\0-delete'` came back as
    // `find . x -delete` and ran at apply, approved by nobody.
    let r = s.call(
        "plan",
        json!({
            "key": "innocent",
            "command": ["echo", "hello"],
            "cwd": victim.to_str().unwrap(),
            "dry_run": "find . 'x\u{0}-delete'",
            "dry_run_ok": [126],
        }),
    );
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(r["structuredContent"]["error"]["code"], "usage");
    let r = s.call(
        "plan",
        json!({"key": "nul", "command": ["echo", "a\u{0}b"]}),
    );
    assert_eq!(r["structuredContent"]["error"]["code"], "usage");
    assert!(victim.join("a.txt").exists());
    let listed = s.call("list", json!({"status": ["all"]}));
    assert_eq!(listed["structuredContent"]["plans"], json!([]));
}

/// Whether process `pid` has a child process (from /proc).
fn has_child(pid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        std::fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
            // pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .is_some_and(|ppid| ppid == pid.to_string())
        })
    })
}

#[test]
fn a_dry_run_that_hangs_does_not_hold_up_the_server() {
    // A dry-run blocked for good held up the one-call-at-a-time server until
    // it was killed; `dry_run_timeout` ends it and the server answers on.
    let mut t = TestEnv::new();
    t.with_policy(&STRICT_POLICY.replace("[defaults]\n", "[defaults]\ndry_run_timeout = \"1s\"\n"));
    let mut s = Session::start(&t, "agent");
    let started = std::time::Instant::now();
    let r = s.call(
        "plan",
        json!({"key": "hang", "dry_run": "sleep 30", "command": ["true"]}),
    );
    assert!(started.elapsed() < Duration::from_secs(15), "{r}");
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        r["structuredContent"]["error"]["code"], "dry_run_failed",
        "{r}"
    );
    assert_eq!(s.request("ping", json!({}))["result"], json!({}));
    assert_eq!(s.finish(), 0);
}

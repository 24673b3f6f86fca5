//! Output: the contract's JSON objects for scripts, cards and tables for
//! people. Nothing here reads state or decides anything.

use crate::clock::{relative, rfc3339};
use crate::model::{Event, Execution, Millis, Plan, Status, short};
use base64::Engine as _;
use comfy_table::{ContentArrangement, Table, presets};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::Write;

/// Writes to stdout. A closed pipe (`ladder log | head`) is a quiet exit 0:
/// the reader has what it wanted. Any other failure (a full disk,
/// `>/dev/full`) ends ladder with one line on stderr and exit 1, since a
/// script must not take output it never got for success. What was
/// committed before stays committed.
pub fn emit(text: &str) {
    settle(write_stdout(text.as_bytes()));
}

/// Writes one JSON value as a line, the way [`emit`] writes text.
pub fn emit_json(value: Value) {
    settle(write_json_stdout(value));
}

/// Writes JSON values one per line (JSON Lines), the way [`emit`] writes
/// text, each serialized as it comes.
pub fn emit_json_lines(values: impl Iterator<Item = Value>) {
    settle(write_json_lines_stdout(values));
}

fn settle(written: std::io::Result<()>) {
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        std::process::exit(crate::error::Kind::Error.exit_code());
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

/// Writes bytes to stdout and flushes; a failure other than a closed pipe
/// is also reported on stderr (see [`stdout_failed`]).
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
    let result = out.write_all(bytes).and_then(|_| out.flush());
    if let Err(e) = &result {
        stdout_failed(e);
    }
    result
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
    let Some(mut values) = captured(values) else {
        return Ok(());
    };
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    let result = values
        .try_for_each(|v| {
            serde_json::to_writer(&mut out, &v)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"))
        })
        .and_then(|_| out.flush());
    if let Err(e) = &result {
        stdout_failed(e);
    }
    result
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
        Err(_) => crate::error::Kind::Error.exit_code(),
    }
}

/// Writes one line to stderr (`note(format_args!(...))` where `eprintln!`
/// would go). Unlike `eprintln!`, never panics when stderr itself cannot be
/// written (a closed pipe, a full disk): a message that cannot be shown must
/// not turn a finished command into a crash with exit 101.
///
/// Control characters in the line (from a reason, a key, a command) are
/// shown escaped, as [`printable_lines`] does: a note cannot move the
/// cursor, recolour or hide text on the reader's terminal.
pub fn note(line: impl std::fmt::Display) {
    let line = line.to_string();
    let _ = writeln!(std::io::stderr(), "{}", printable_lines(&line));
}

/// [`note`] without the newline: part of a line, or text that ends in its own.
pub fn note_part(text: impl std::fmt::Display) {
    let _ = write!(std::io::stderr(), "{text}");
}

/// Recorded bytes as JSON: the text (invalid UTF-8 replaced) and, when the
/// bytes are not UTF-8, the exact bytes in base64 beside it.
fn bytes_fields(obj: &mut serde_json::Map<String, Value>, name: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            obj.insert(name.into(), json!(s));
        }
        Err(_) => {
            obj.insert(name.into(), json!(String::from_utf8_lossy(bytes)));
            obj.insert(
                format!("{name}_base64"),
                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
    }
}

/// The argv's exact bytes in base64, when some element is not UTF-8 (the
/// text form replaces those bytes, so scripts need this to recompute hashes).
pub fn argv_base64(argv: &[OsString]) -> Option<Vec<String>> {
    use std::os::unix::ffi::OsStrExt;
    argv.iter().any(|a| a.to_str().is_none()).then(|| {
        argv.iter()
            .map(|a| base64::engine::general_purpose::STANDARD.encode(a.as_bytes()))
            .collect()
    })
}

pub fn argv_strings(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// An argv as one line a person could paste into a shell. An argument with
/// control characters, bidirectional overrides or bytes that are not UTF-8
/// is written in bash's `$'...'` form (`$'a\nb'`, `$'\xff'`), so what a
/// reviewer reads is exactly what runs, and nothing in it can move the
/// cursor or reorder the line on their terminal.
pub fn argv_line(argv: &[OsString]) -> String {
    use std::os::unix::ffi::OsStrExt;
    argv.iter()
        .map(|arg| match arg.to_str() {
            Some(text) if !text.chars().any(needs_escape) => shell_words::quote(text).into_owned(),
            _ => ansi_c_quote(arg.as_bytes()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Characters that must not reach a terminal as they are: controls (C0,
/// DEL, C1: line breaks, escape sequences), the bidirectional formatting
/// characters that can make text display in another order than it runs
/// ("Trojan Source"), and the Unicode line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Not a printable character, as the contract wants keys (and ladder wants
/// actor names): what [`needs_escape`] flags, and the invisible formatting
/// characters (zero-width spaces and joiners, the soft hyphen, the byte
/// order mark) that make two different names look the same.
pub fn is_unprintable(c: char) -> bool {
    needs_escape(c)
        || matches!(c, '\u{00ad}' | '\u{180e}' | '\u{feff}')
        || ('\u{200b}'..='\u{200d}').contains(&c)
        || ('\u{2060}'..='\u{2064}').contains(&c)
}

/// `c` as an escape in bash's `$'...'` notation: `\n`, `\e`, `\x07`; a
/// character beyond ASCII as `\u202e` for reading, or as its UTF-8 bytes
/// (`\xe2\x80\xae`) for a shell word, which bash decodes the same way in
/// every locale (its `\u` depends on the locale).
fn escape_char(c: char, out: &mut String, shell: bool) {
    use std::fmt::Write as _;
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        '\u{1b}' => write!(out, "\\e"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", c as u32),
        c if shell => c
            .encode_utf8(&mut [0; 4])
            .bytes()
            .try_for_each(|b| write!(out, "\\x{b:02x}")),
        c => write!(out, "\\u{:04x}", c as u32),
    };
}

/// Bytes as a bash `$'...'` word: printable characters as they are, `'` and
/// `\` escaped, everything [`needs_escape`] and every byte that is not
/// UTF-8 as an escape.
fn ansi_c_quote(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("$'");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\'' => out.push_str("\\'"),
                '\\' => out.push_str("\\\\"),
                c if needs_escape(c) => escape_char(c, &mut out, true),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('\'');
    out
}

/// Free text (a reason, a key, a path, a message) made safe to show on one
/// line of a terminal: what [`needs_escape`] flags is written as an escape
/// (`\n`, `\e`, `\u202e`); everything else, backslashes included, as it is.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    escape_where(text, needs_escape)
}

/// [`printable`] for text of several lines: line breaks are kept.
pub fn printable_lines(text: &str) -> std::borrow::Cow<'_, str> {
    escape_where(text, |c| c != '\n' && needs_escape(c))
}

fn escape_where(text: &str, escape: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(&escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            escape_char(c, &mut out, false);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn time(ms: Option<Millis>) -> Value {
    ms.map(|t| json!(rfc3339(t))).unwrap_or(Value::Null)
}

pub fn execution_json(e: &Execution, replayed: bool) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("plan".into(), json!(e.plan));
    obj.insert("key".into(), json!(e.key));
    obj.insert("attempt".into(), json!(e.attempt));
    obj.insert("actor".into(), json!(e.actor));
    obj.insert("exit_code".into(), json!(e.exit_code));
    obj.insert("signal".into(), json!(e.signal));
    obj.insert("timed_out".into(), json!(e.timed_out));
    obj.insert("started_at".into(), json!(rfc3339(e.started_at)));
    obj.insert("finished_at".into(), time(e.finished_at));
    obj.insert(
        "duration_ms".into(),
        json!(e.finished_at.map(|f| f - e.started_at)),
    );
    bytes_fields(&mut obj, "stdout", &e.stdout);
    bytes_fields(&mut obj, "stderr", &e.stderr);
    obj.insert("stdout_bytes".into(), json!(e.stdout_bytes));
    obj.insert("stderr_bytes".into(), json!(e.stderr_bytes));
    obj.insert("stdout_sha256".into(), json!(e.stdout_sha256));
    obj.insert("stderr_sha256".into(), json!(e.stderr_sha256));
    obj.insert("truncated".into(), json!(e.truncated));
    obj.insert("replayed".into(), json!(replayed));
    obj.insert(
        "resolution".into(),
        match &e.resolution {
            None => Value::Null,
            Some(r) => json!({
                "actor": r.actor,
                "outcome": r.outcome.as_str(),
                "reason": r.reason,
                "at": rfc3339(r.at),
            }),
        },
    );
    Value::Object(obj)
}

pub fn plan_json(p: &Plan) -> Value {
    let dry_run = match &p.dry_run {
        None => Value::Null,
        Some(d) => {
            let mut obj = serde_json::Map::new();
            obj.insert("command".into(), json!(argv_strings(&d.command)));
            obj.insert("exit_code".into(), json!(d.exit_code));
            bytes_fields(&mut obj, "stdout", &d.stdout);
            bytes_fields(&mut obj, "stderr", &d.stderr);
            obj.insert("stdout_bytes".into(), json!(d.stdout_bytes));
            obj.insert("stderr_bytes".into(), json!(d.stderr_bytes));
            obj.insert("stdout_sha256".into(), json!(d.stdout_sha256));
            obj.insert("stderr_sha256".into(), json!(d.stderr_sha256));
            obj.insert("truncated".into(), json!(d.truncated));
            Value::Object(obj)
        }
    };
    json!({
        "id": p.id,
        "key": p.key,
        "hash": p.hash,
        "status": p.status.as_str(),
        "tier": p.tier.as_str(),
        "rule": p.rule,
        "approvals_required": p.approvals_required,
        "approvals_missing": if p.status == Status::Pending { p.approvals_missing() } else { 0 },
        "approvals": p.approvals.iter().map(|a| json!({
            "actor": a.actor,
            "at": rfc3339(a.at),
            "comment": a.comment,
            "hash": a.hash,
            "signature": a.signature,
            "signature_kind": a.signature_kind,
        })).collect::<Vec<_>>(),
        "command": argv_strings(&p.command),
        "command_base64": argv_base64(&p.command),
        "cwd": p.cwd.to_string_lossy(),
        "env": p.env,
        "dry_run": dry_run,
        "dry_run_ok": p.dry_run_ok,
        "reason": p.reason,
        "target": p.target,
        "effect": p.effect,
        "rollback": p.rollback,
        "confidence": p.confidence,
        "actor": p.actor,
        "created_at": rfc3339(p.created_at),
        "expires_at": time(p.expires_at),
        "rejection": p.rejection.as_ref().map(|r| json!({
            "actor": r.actor,
            "reason": r.reason,
            "at": rfc3339(r.at),
        })),
        "execution": p.execution.as_ref().map(|e| execution_json(e, false)),
        "decision": p.decision,
        "policy_sha256": p.policy_sha256,
        "retry_allowed": p.retry_allowed,
        "hash_version": if p.binding.is_some() { 2 } else { 1 },
        "program": p.binding.as_ref().map(|b| b.program.path.to_string_lossy()),
        "program_id": p.binding.as_ref().map(|b| &b.program.id),
        "files": p.binding.as_ref().map(|b| b.files.iter().map(|f| json!({
            "path": f.path.to_string_lossy(),
            "id": f.id,
        })).collect::<Vec<_>>()),
        "cwd_id": p.binding.as_ref().map(|b| &b.cwd_id),
        "escalated_from": p.escalated_from,
        "in_force": p.in_force,
        "suggested_dry_run": suggested_dry_run(p).map(|argv| argv_line(&argv)),
    })
}

pub fn event_json(e: &Event) -> Value {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::String(e.detail.clone()));
    json!({
        "seq": e.seq,
        "at": rfc3339(e.at),
        "kind": e.kind,
        "plan": e.plan,
        "key": e.key,
        "actor": e.actor,
        "detail": detail,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    })
}

/// ANSI styling, applied only when colours are on.
#[derive(Clone, Copy)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn bold(self, t: &str) -> String {
        self.wrap("1", t)
    }
    pub fn dim(self, t: &str) -> String {
        self.wrap("2", t)
    }
    pub fn status(self, s: Status) -> String {
        let code = match s {
            Status::Pending => "33",
            Status::Approved | Status::Applied => "32",
            Status::Running => "36",
            Status::Rejected | Status::Denied | Status::Interrupted => "31",
            Status::Expired => "2",
        };
        self.wrap(code, s.as_str())
    }
}

/// Shortens long recorded output for a card: the first `max_lines` lines,
/// then a note of what was left out.
pub fn excerpt(bytes: &[u8], max_lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    // Split first, so a CRLF line ending is a line ending, not a shown `\r`.
    let lines: Vec<String> = text.lines().map(|l| printable(l).into_owned()).collect();
    if lines.len() <= max_lines {
        return lines.join("\n");
    }
    format!(
        "{}\n… {} more lines (full output: ladder show --json)",
        lines[..max_lines].join("\n"),
        lines.len() - max_lines
    )
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The plan card: everything a reviewer needs to decide, in reading order.
/// The preview to suggest for a plan made without a dry-run.
fn suggested_dry_run(p: &Plan) -> Option<Vec<OsString>> {
    p.dry_run
        .is_none()
        .then(|| crate::preview::suggest(&p.command))
        .flatten()
}

pub fn plan_card(p: &Plan, now: Millis, paint: Paint) -> String {
    let mut out = String::new();
    let rule = p.rule.as_deref().unwrap_or("[defaults]");
    out.push_str(&format!(
        "{} {}  {}  {} (rule: {})\n",
        paint.bold("plan"),
        paint.bold(&p.id),
        paint.status(p.status),
        p.tier,
        printable(rule)
    ));
    // Every value is made printable here, once: much of a card is written
    // by the agent (command, reason, key, directory), and none of it may
    // redraw what the reviewer sees.
    let row = |out: &mut String, label: &str, value: String| {
        // Pad before painting: escape codes would count towards the width.
        out.push_str(&format!(
            "  {} {}\n",
            paint.dim(&format!("{label:<10}")),
            printable(&value)
        ));
    };
    row(&mut out, "command", argv_line(&p.command));
    if let Some(b) = &p.binding {
        let program = if b.program.id == crate::binding::MISSING {
            format!("{} (not found when planned)", b.program.path.display())
        } else {
            b.program.path.display().to_string()
        };
        row(&mut out, "program", program);
        if !b.files.is_empty() {
            let paths: Vec<String> = b
                .files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect();
            row(&mut out, "files", paths.join(", "));
        }
    }
    row(&mut out, "cwd", p.cwd.display().to_string());
    row(&mut out, "key", p.key.clone());
    row(&mut out, "hash", p.hash.clone());
    let approvals = match p.status {
        Status::Pending => format!(
            "{} of {} ({} more needed{})",
            p.approvals_counted(),
            p.approvals_required,
            p.approvals_missing(),
            if p.approvals_required >= 2 {
                ", distinct reviewers"
            } else {
                ""
            }
        ),
        _ => format!("{} of {}", p.approvals_counted(), p.approvals_required),
    };
    let names: Vec<&str> = p.approvals.iter().map(|a| a.actor.as_str()).collect();
    if names.is_empty() {
        row(&mut out, "approvals", approvals);
    } else {
        row(
            &mut out,
            "approvals",
            format!("{approvals}: {}", names.join(", ")),
        );
    }
    if let Some(exp) = p.expires_at {
        if p.status.can_expire() {
            let word = if exp > now { "expires" } else { "expired" };
            row(
                &mut out,
                "window",
                format!("{word} {} ({})", relative(exp, now), rfc3339(exp)),
            );
        }
    }
    row(
        &mut out,
        "planned",
        format!(
            "by {} {} ({})",
            p.actor,
            relative(p.created_at, now),
            rfc3339(p.created_at)
        ),
    );
    for (label, value) in [
        ("reason", &p.reason),
        ("target", &p.target),
        ("effect", &p.effect),
        ("rollback", &p.rollback),
    ] {
        if let Some(v) = value {
            row(&mut out, label, v.clone());
        }
    }
    if let Some(c) = p.confidence {
        row(&mut out, "confidence", format!("{c}"));
    }
    let (loader, named): (Vec<_>, Vec<_>) = p
        .env
        .iter()
        .partition(|(k, _)| crate::binding::is_loader_var(k));
    if !named.is_empty() {
        let names: Vec<String> = named
            .iter()
            .map(|(k, v)| {
                if v.is_some() {
                    k.to_string()
                } else {
                    format!("{k} (unset)")
                }
            })
            .collect();
        row(&mut out, "env", names.join(", "));
    }
    if !loader.is_empty() {
        let set: Vec<&str> = loader
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.as_str())
            .collect();
        row(
            &mut out,
            "loader env",
            format!("{} (no other may be set at apply)", set.join(", ")),
        );
    }
    match &p.dry_run {
        None => match suggested_dry_run(p) {
            Some(preview) => row(
                &mut out,
                "dry-run",
                format!(
                    "none; this tool's preview would show it: --dry-run {}",
                    shell_words::quote(&argv_line(&preview))
                ),
            ),
            None => row(&mut out, "dry-run", "none".into()),
        },
        Some(d) => {
            row(
                &mut out,
                "dry-run",
                format!("{} → exit {}", argv_line(&d.command), d.exit_code),
            );
            let shown = excerpt(&d.stdout, 20);
            if !shown.is_empty() {
                out.push_str(&indent(&shown, "             "));
                out.push('\n');
            }
            if d.truncated {
                out.push_str(&format!(
                    "             {}\n",
                    paint.dim(&format!(
                        "(recorded output capped; {} stdout bytes in all)",
                        d.stdout_bytes
                    ))
                ));
            }
        }
    }
    if let Some(v) = &p.escalated_from {
        row(
            &mut out,
            "planned as",
            format!(
                "{} (rule: {}), {} approval{}, under policy {}; raised by the policy in force",
                v.tier,
                v.rule.as_deref().unwrap_or("[defaults]"),
                v.approvals_required,
                if v.approvals_required == 1 { "" } else { "s" },
                v.policy_sha256.get(..12).unwrap_or(&v.policy_sha256)
            ),
        );
    }
    if let Some(v) = &p.in_force {
        row(
            &mut out,
            "in force",
            format!(
                "{} (rule: {}), {} approval{}: the policy in force is stricter; apply will raise the plan to this",
                v.tier,
                v.rule.as_deref().unwrap_or("[defaults]"),
                v.approvals_required,
                if v.approvals_required == 1 { "" } else { "s" },
            ),
        );
    }
    for (i, why) in p.decision.iter().enumerate() {
        row(&mut out, if i == 0 { "decided" } else { "" }, why.clone());
    }
    if let Some(r) = &p.rejection {
        row(
            &mut out,
            "rejected",
            format!("by {} {}: {}", r.actor, relative(r.at, now), r.reason),
        );
    }
    if let Some(e) = &p.execution {
        let outcome = match (e.exit_code, e.finished_at) {
            (Some(code), Some(f)) => format!(
                "exit {code}{} {} ({} ms{})",
                e.signal
                    .map(|n| format!(" (signal {n})"))
                    .unwrap_or_default(),
                relative(f, now),
                f - e.started_at,
                if e.truncated {
                    ", output truncated"
                } else {
                    ""
                }
            ),
            (Some(code), None) => format!("exit {code} (settled by resolve)"),
            _ => format!(
                "started {} by {}, no outcome recorded",
                relative(e.started_at, now),
                e.actor
            ),
        };
        row(&mut out, "applied", outcome);
        if let Some(r) = &e.resolution {
            row(
                &mut out,
                "resolved",
                format!("{} by {}: {}", r.outcome.as_str(), r.actor, r.reason),
            );
        }
    }
    out
}

fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header);
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.set_content_arrangement(ContentArrangement::Disabled);
    }
    t
}

/// A table as text, without the padding comfy-table leaves at line ends.
fn table_text(t: &Table) -> String {
    let mut out = String::new();
    for line in t.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn trim(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

pub fn plans_table(plans: &[Plan], now: Millis, paint: Paint) -> String {
    let mut t = table(vec![
        "ID",
        "STATUS",
        "TIER",
        "APPROVALS",
        "KEY",
        "COMMAND",
        "ACTOR",
        "WHEN",
    ]);
    for p in plans {
        let when = match (p.status.can_expire(), p.expires_at) {
            (true, Some(exp)) if exp > now => format!("expires {}", relative(exp, now)),
            _ => format!("planned {}", relative(p.created_at, now)),
        };
        t.add_row(vec![
            p.short_id().to_string(),
            paint.status(p.status),
            p.tier.to_string(),
            format!("{}/{}", p.approvals_counted(), p.approvals_required),
            trim(&printable(&p.key), 24),
            trim(&argv_line(&p.command), 48),
            printable(&p.actor).into_owned(),
            when,
        ]);
    }
    table_text(&t)
}

/// A short phrase from an event's detail for the log table.
fn event_summary(e: &Event) -> String {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
    let get = |k: &str| detail.get(k).and_then(|v| v.as_str()).map(str::to_string);
    match e.kind.as_str() {
        "planned" => format!(
            "{} {} {}",
            get("status").unwrap_or_default(),
            get("tier").unwrap_or_default(),
            get("command").unwrap_or_default()
        ),
        "refused" => format!(
            "{}: {}",
            get("code").unwrap_or_default(),
            get("message").unwrap_or_default()
        ),
        "applied" | "replayed" => format!(
            "exit {}",
            detail
                .get("exit_code")
                .map(|v| v.to_string())
                .unwrap_or_default()
        ),
        "rejected" | "resolved" => get("reason").unwrap_or_default(),
        "notify_failed" => get("error").unwrap_or_default(),
        "escalated" => {
            let verdict = |side: &str| {
                let v = &detail[side];
                format!(
                    "{} ({})",
                    v["tier"].as_str().unwrap_or("?"),
                    v["approvals_required"]
                )
            };
            format!(
                "{} -> {}: {}, now {}",
                verdict("from"),
                verdict("to"),
                get("policy").unwrap_or_default(),
                get("status").unwrap_or_default()
            )
        }
        "denied" => get("reason").unwrap_or_default(),
        "approved" => format!(
            "{}/{}",
            detail
                .get("approvals")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            detail
                .get("required")
                .map(|v| v.to_string())
                .unwrap_or_default()
        ),
        _ => String::new(),
    }
}

pub fn events_table(events: &[Event], now: Millis) -> String {
    let mut t = table(vec!["SEQ", "AT", "KIND", "PLAN", "KEY", "ACTOR", "DETAIL"]);
    for e in events {
        t.add_row(vec![
            e.seq.to_string(),
            relative(e.at, now),
            e.kind.clone(),
            e.plan.as_deref().map(short).unwrap_or("-").to_string(),
            trim(&printable(e.key.as_deref().unwrap_or("-")), 24),
            printable(&e.actor).into_owned(),
            trim(&printable(&event_summary(e)), 60),
        ]);
    }
    table_text(&t)
}

/// Writes the recorded outcome and returns the exit code to pass through.
/// With `announce`, ladder's own lines on stderr say that this is a replay
/// (and of a settled or truncated record); without, stderr carries the
/// recorded bytes only.
pub fn replayed(plan: &Plan, json: bool, now: Millis, announce: bool) -> crate::error::Result<i32> {
    let Some(exec) = &plan.execution else {
        return Err(crate::error::Error::new(
            crate::error::Kind::NotFound,
            format!("plan {} has no recorded execution", plan.short_id()),
        ));
    };
    let code = exec.exit_code.unwrap_or(1);
    if json {
        return Ok(emit_json_passing(execution_json(exec, true), code));
    }
    if announce {
        let when = exec
            .finished_at
            .map(|t| crate::clock::relative(t, now))
            .unwrap_or_else(|| "by resolve".into());
        note(format_args!(
            "ladder: plan {} was already applied ({when}); replaying its recorded outcome, nothing was run",
            plan.short_id()
        ));
        if let Some(r) = &exec.resolution {
            note(format_args!(
                "ladder: the outcome was settled by {} as {}: {}",
                r.actor,
                r.outcome.as_str(),
                r.reason
            ));
        }
    }
    // The recorded stderr and the truncation notice are written even when
    // stdout is gone: they are what a reader of stderr needs most.
    let code = emit_passing(&exec.stdout, code);
    let _ = std::io::Write::write_all(&mut std::io::stderr(), &exec.stderr);
    if exec.truncated && announce {
        note(format_args!(
            "ladder: the record is truncated: {} stdout and {} stderr bytes were written in all",
            exec.stdout_bytes, exec.stderr_bytes
        ));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_shortens_with_a_note() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let shown = excerpt(text.as_bytes(), 5);
        assert!(shown.starts_with("line 1\n"));
        assert!(shown.contains("… 25 more lines"));
        assert_eq!(excerpt(b"a\nb\n", 5), "a\nb");
        // CRLF ends a line; an escape sequence in a line is shown escaped.
        assert_eq!(excerpt(b"a\r\nb\x1b[2J\r\n", 5), "a\nb\\e[2J");
    }

    #[test]
    fn non_utf8_output_keeps_exact_bytes_in_base64() {
        let mut obj = serde_json::Map::new();
        bytes_fields(&mut obj, "stdout", &[0x66, 0xff]);
        assert_eq!(obj["stdout"], json!("f\u{fffd}"));
        assert_eq!(obj["stdout_base64"], json!("Zv8="));
        let mut obj = serde_json::Map::new();
        bytes_fields(&mut obj, "stdout", b"ok");
        assert!(!obj.contains_key("stdout_base64"));
    }

    #[test]
    fn argv_line_writes_controls_and_non_utf8_in_bash_ansi_c_quotes() {
        use std::os::unix::ffi::OsStringExt;
        let argv: Vec<OsString> = vec![
            "echo".into(),
            "multi\nline".into(),
            "x\u{1b}[8mhidden\u{1b}[0m".into(),
            "it's\\".into(),
            "abc\u{202e}fed".into(),
            OsString::from_vec(vec![b'f', 0xff, 0x07]),
        ];
        assert_eq!(
            argv_line(&argv),
            r"echo $'multi\nline' $'x\e[8mhidden\e[0m' 'it'\''s\' $'abc\xe2\x80\xaefed' $'f\xff\x07'"
        );
    }

    /// The line a card shows, pasted into bash, is the argv that runs.
    #[test]
    fn argv_line_round_trips_through_bash() {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let argv: Vec<OsString> = vec![
            "printf".into(),
            "%s\\0".into(),
            "multi\nline".into(),
            "tab\there $HOME `x`".into(),
            "\u{1b}[31m'quoted'\\".into(),
            "\u{85}\u{202e}\u{2069}é".into(),
            OsString::from_vec(vec![0xff, b'a', 0x01, 0x7f]),
            "".into(),
        ];
        let out = std::process::Command::new("bash")
            .args(["-c", &argv_line(&argv)])
            .output()
            .expect("bash runs");
        let want: Vec<u8> = argv[2..]
            .iter()
            .flat_map(|a| a.as_bytes().iter().copied().chain([0]))
            .collect();
        assert_eq!(out.stdout, want, "{}", argv_line(&argv));
    }

    #[test]
    fn printable_escapes_what_could_redraw_a_terminal_and_nothing_else() {
        assert_eq!(
            printable("plain text, C:\\dir, ünïcode"),
            "plain text, C:\\dir, ünïcode"
        );
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            printable("safe\u{1b}[1A\u{1b}[2Kfake"),
            r"safe\e[1A\e[2Kfake"
        );
        assert_eq!(printable("a\nb\r\tc\u{7f}\u{85}"), r"a\nb\r\tc\x7f\u0085");
        assert_eq!(
            printable("\u{2067}x\u{2069}\u{2028}"),
            r"\u2067x\u2069\u2028"
        );
        assert_eq!(printable_lines("one\ntwo\u{1b}"), "one\ntwo\\e");
    }

    #[test]
    fn argv_line_quotes_what_a_shell_would_split() {
        let argv: Vec<OsString> = vec!["echo".into(), "hello world".into(), "a'b".into()];
        assert_eq!(argv_line(&argv), r#"echo 'hello world' 'a'\''b'"#);
    }
}

//! What people read: a plan's card, the tables of plans and events, and a
//! replayed outcome with ladder's word on where it comes from.

use crate::clock::{relative, rfc3339};
use crate::model::{Check, Millis, Plan, Status, short};
use crate::text::{argv_line, printable};
use crate::tier::Tier;
use comfy_table::{Attribute, Cell, Color};
use std::ffi::OsString;

/// Colours and emphasis, applied only when colours are on. Cards are
/// painted with anstyle's escape codes; table cells with comfy-table's
/// styling (see [`Paint::cell`]), from the same [`Style`].
#[derive(Clone, Copy)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    fn paint(self, style: Style, text: &str) -> String {
        if self.on {
            let s = style.anstyle();
            format!("{s}{text}{s:#}")
        } else {
            text.to_string()
        }
    }
    pub fn bold(self, t: &str) -> String {
        self.paint(Style::Bold(None), t)
    }
    pub fn dim(self, t: &str) -> String {
        self.paint(Style::Dim, t)
    }
    pub fn status(self, s: Status) -> String {
        self.paint(status_style(s), s.as_str())
    }
    pub fn tier(self, t: Tier) -> String {
        self.paint(tier_style(t), t.as_str())
    }
    /// A table cell, styled by comfy-table (which counts only the text
    /// towards the column's width).
    pub(super) fn cell(self, text: &str, style: Option<Style>) -> Cell {
        let cell = Cell::new(text);
        match style.filter(|_| self.on) {
            None => cell,
            Some(Style::Fg(c)) => cell.fg(c.comfy()),
            Some(Style::Bold(c)) => {
                let cell = cell.add_attribute(Attribute::Bold);
                match c {
                    Some(c) => cell.fg(c.comfy()),
                    None => cell,
                }
            }
            Some(Style::Dim) => cell.add_attribute(Attribute::Dim),
        }
    }
}

/// How a value is shown.
#[derive(Debug, Clone, Copy)]
pub(super) enum Style {
    Fg(Hue),
    Bold(Option<Hue>),
    Dim,
}

/// The colours ladder uses (the terminal's own palette).
#[derive(Debug, Clone, Copy)]
pub(super) enum Hue {
    Red,
    Green,
    Yellow,
    Magenta,
    Cyan,
}

impl Hue {
    fn ansi(self) -> anstyle::AnsiColor {
        match self {
            Hue::Red => anstyle::AnsiColor::Red,
            Hue::Green => anstyle::AnsiColor::Green,
            Hue::Yellow => anstyle::AnsiColor::Yellow,
            Hue::Magenta => anstyle::AnsiColor::Magenta,
            Hue::Cyan => anstyle::AnsiColor::Cyan,
        }
    }
    fn comfy(self) -> Color {
        match self {
            Hue::Red => Color::Red,
            Hue::Green => Color::Green,
            Hue::Yellow => Color::Yellow,
            Hue::Magenta => Color::Magenta,
            Hue::Cyan => Color::Cyan,
        }
    }
}

impl Style {
    fn anstyle(self) -> anstyle::Style {
        let style = anstyle::Style::new();
        match self {
            Style::Fg(h) => style.fg_color(Some(h.ansi().into())),
            Style::Bold(h) => style.bold().fg_color(h.map(|h| h.ansi().into())),
            Style::Dim => style.dimmed(),
        }
    }
}

/// A status's look.
pub(super) fn status_style(s: Status) -> Style {
    match s {
        Status::Pending => Style::Fg(Hue::Yellow),
        Status::Approved | Status::Applied => Style::Fg(Hue::Green),
        Status::Running => Style::Fg(Hue::Cyan),
        Status::Rejected | Status::Denied | Status::Interrupted => Style::Fg(Hue::Red),
        Status::Expired | Status::Cancelled => Style::Dim,
    }
}

/// A tier's look: the wider the blast radius, the louder.
pub(super) fn tier_style(t: Tier) -> Style {
    match t {
        Tier::ReadOnly => Style::Fg(Hue::Green),
        Tier::Reversible => Style::Fg(Hue::Cyan),
        Tier::Irreversible => Style::Fg(Hue::Yellow),
        Tier::Critical => Style::Bold(Some(Hue::Red)),
        Tier::Deny => Style::Bold(Some(Hue::Magenta)),
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
pub(super) fn suggested_dry_run(p: &Plan) -> Option<Vec<OsString>> {
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
        paint.tier(p.tier),
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
    let approvals = if p.signatures_required {
        format!("{approvals}, signed only")
    } else {
        approvals
    };
    let names: Vec<String> = p.approvals.iter().map(|a| approver(p, a)).collect();
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
            crate::names::visible(&p.actor),
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
    if let Some(of) = &p.rollback_of {
        row(
            &mut out,
            "undoes",
            format!("plan {of} (its recorded rollback)"),
        );
    }
    if let Some(by) = &p.rollback_plan {
        row(
            &mut out,
            "undone by",
            format!("plan {by} (see `ladder show {}`)", short(by)),
        );
    }
    for (i, (k, v)) in p.meta.iter().enumerate() {
        row(
            &mut out,
            if i == 0 { "meta" } else { "" },
            format!("{k}={v}"),
        );
    }
    let (loader, named): (Vec<_>, Vec<_>) = p
        .env
        .iter()
        .partition(|(k, _)| crate::binding::is_loader_var(k));
    if !named.is_empty() {
        let names: Vec<String> = named
            .iter()
            .map(|(k, v)| match (v, p.shown_value(k)) {
                // Quoted as a shell would: a value cannot pass for another
                // variable (`dev, AWS_PROFILE=prod`).
                (Some(_), Some(value)) => format!("{k}={}", shell_words::quote(value)),
                (Some(_), None) => k.to_string(),
                (None, _) => format!("{k} (unset)"),
            })
            .collect();
        row(&mut out, "env", names.join(", "));
    }
    if !loader.is_empty() {
        let set: Vec<String> = loader
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| match p.shown_value(k) {
                Some(value) => format!("{k}={}", shell_words::quote(value)),
                None => k.to_string(),
            })
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
            format!(
                "by {}{} {}: {}",
                crate::names::visible(&r.actor),
                if r.signature.is_some() {
                    " (signed)"
                } else {
                    ""
                },
                relative(r.at, now),
                r.reason
            ),
        );
    }
    if let Some(c) = &p.cancellation {
        row(
            &mut out,
            "cancelled",
            format!(
                "by {} {}{}",
                crate::names::visible(&c.actor),
                relative(c.at, now),
                c.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
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
                crate::names::visible(&e.actor)
            ),
        };
        row(&mut out, "applied", outcome);
        if let Some(r) = &e.resolution {
            row(
                &mut out,
                "resolved",
                format!(
                    "{} by {}{}: {}",
                    r.outcome.as_str(),
                    crate::names::visible(&r.actor),
                    if r.signature.is_some() {
                        " (signed)"
                    } else {
                        ""
                    },
                    r.reason
                ),
            );
        }
    }
    out
}

/// One approver as the card names them: the name with any non-ASCII
/// letter made visible, and whether the approval is signed and counts.
fn approver(p: &Plan, a: &crate::model::Approval) -> String {
    let name = crate::names::visible(&a.actor);
    let mark = match (&a.signature, &a.check) {
        (_, Check::Valid(key)) => format!(" (signed, {})", short_fingerprint(key)),
        (_, Check::Invalid(why)) => format!(" (signature does not count: {why})"),
        (Some(_), Check::Unchecked) => " (signed, not checked)".to_string(),
        (None, _) if p.signatures_required => " (unsigned: does not count)".to_string(),
        (None, _) => String::new(),
    };
    format!("{name}{mark}")
}

/// `SHA256:` and the first 12 characters of a key's fingerprint.
fn short_fingerprint(fp: &str) -> &str {
    fp.get(..19).unwrap_or(fp)
}

/// Writes the recorded outcome and returns the exit code to pass through.
/// With `announce`, ladder's own lines on stderr say that this is a replay
/// (and of a settled record); without, stderr carries the recorded bytes,
/// and, after them, a line when the record is partial (always said).
pub fn replayed(plan: &Plan, json: bool, now: Millis, announce: bool) -> crate::error::Result<i32> {
    let Some(exec) = &plan.execution else {
        return Err(crate::error::Error::new(
            crate::error::Kind::NotFound,
            format!("plan {} has no recorded execution", plan.short_id()),
        ));
    };
    let code = exec.exit_code.unwrap_or(1);
    if json {
        return Ok(super::emit_json_passing(
            super::execution_json(exec, true),
            code,
        ));
    }
    if announce {
        let when = exec
            .finished_at
            .map(|t| crate::clock::relative(t, now))
            .unwrap_or_else(|| "by resolve".into());
        super::note(format_args!(
            "ladder: plan {} was already applied ({when}); replaying its recorded outcome, nothing was run",
            plan.short_id()
        ));
        if let Some(r) = &exec.resolution {
            super::note(format_args!(
                "ladder: the outcome was settled by {} as {}: {}",
                crate::names::visible(&r.actor),
                r.outcome.as_str(),
                r.reason
            ));
        }
    }
    // The recorded stderr and the truncation notice are written even when
    // stdout is gone: they are what a reader of stderr needs most.
    let code = super::emit_passing(&exec.stdout, code);
    let _ = std::io::Write::write_all(&mut std::io::stderr(), &exec.stderr);
    // Said in a pipe too, after the recorded bytes: a reader (an agent)
    // must not act on half an output believing it whole.
    if exec.truncated {
        super::note(format_args!(
            "ladder: the replayed output is partial: the record kept {} of {} stdout bytes and {} of {} stderr bytes",
            exec.stdout.len(),
            exec.stdout_bytes,
            exec.stderr.len(),
            exec.stderr_bytes
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
}

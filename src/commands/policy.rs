//! `ladder policy`: show, check and explain the policy.

use crate::context::{Ctx, load_policy};
use crate::error::{Error, Result};
use crate::policy::Input;
use crate::render;
use clap::Subcommand;
use serde_json::json;
use std::ffi::OsString;
use std::path::PathBuf;

/// Show, validate or explain the policy that classifies commands
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the effective policy as TOML (the embedded default too)
    Show,
    /// Validate a policy file without touching state [default: the effective policy]
    Check {
        /// The policy file to check
        file: Option<PathBuf>,
    },
    /// Say which rule and tier a command gets, and why
    Explain {
        /// Assume this confidence (0 to 1), as `plan --confidence` would pass
        #[arg(long, value_name = "F")]
        confidence: Option<f64>,

        /// The command and its arguments (after `--`)
        #[arg(required = true, last = true, value_name = "PROGRAM")]
        command: Vec<OsString>,
    },
}

pub fn run(ctx: &mut Ctx, cmd: Command) -> Result<()> {
    match cmd {
        Command::Show => {
            let json = ctx.json;
            let p = ctx.policy()?;
            if json {
                let layers: Vec<_> = p
                    .layers()
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        json!({
                            "origin": l.origin(),
                            "sha256": l.sha256(),
                            "system": i == 0 && p.has_system(),
                            "source": l.source(),
                        })
                    })
                    .collect();
                // `origin`, `sha256` and `source` name one file, the first
                // in force, as they did before layers; what plans record is
                // `in_force_sha256` (the same when one policy decides).
                let first = &p.layers()[0];
                render::emit_json(json!({
                    "origin": first.origin(),
                    "sha256": first.sha256(),
                    "source": first.source(),
                    "in_force_sha256": p.sha256(),
                    "layers": layers,
                }))?;
            } else {
                let mut text = String::new();
                for (i, l) in p.layers().iter().enumerate() {
                    if i > 0 {
                        text.push('\n');
                    }
                    let role = match (i, p.has_system()) {
                        (0, true) => " (system policy: always in force)",
                        (_, true) => " (over the system policy: can only make verdicts stricter)",
                        _ => "",
                    };
                    text.push_str(&format!(
                        "# policy: {}{role}\n# sha256: {}\n",
                        l.origin(),
                        l.sha256()
                    ));
                    if i == 0 && p.has_system() && writable(l.origin()) {
                        text.push_str(
                            "# warning: you can write this file; a system policy protects only \
                             from users who cannot\n",
                        );
                    }
                    if i == 0 {
                        text.push_str(l.source());
                    } else {
                        // Commented out, so that the output stays one valid
                        // policy (the system's) when saved and checked.
                        for line in l.source().lines() {
                            text.push_str("# ");
                            text.push_str(line);
                            text.push('\n');
                        }
                    }
                    if !text.ends_with('\n') {
                        text.push('\n');
                    }
                }
                render::emit(&text)?;
            }
        }
        Command::Check { file } => {
            let json = ctx.json;
            let layers = match file {
                Some(f) => vec![load_policy(&f)?],
                None => crate::context::checked_policy(ctx)?.layers().to_vec(),
            };
            if json {
                let first = &layers[0];
                let all: Vec<_> = layers
                    .iter()
                    .map(|l| json!({"origin": l.origin(), "sha256": l.sha256(), "rules": l.rules().len()}))
                    .collect();
                render::emit_json(json!({
                    "ok": true,
                    "origin": first.origin(),
                    "sha256": first.sha256(),
                    "rules": first.rules().len(),
                    "layers": all,
                }))?;
            } else {
                let mut out = String::new();
                for l in &layers {
                    out.push_str(&format!(
                        "ok: {} ({} rules, sha256 {})\n",
                        l.origin(),
                        l.rules().len(),
                        l.sha256()
                    ));
                }
                render::emit(&out)?;
            }
        }
        Command::Explain {
            confidence,
            command,
        } => {
            if let Some(c) = confidence {
                if !(0.0..=1.0).contains(&c) {
                    return Err(Error::usage(format!(
                        "--confidence must be a number from 0 to 1, not {c}"
                    )));
                }
            }
            let json = ctx.json;
            let p = ctx.policy()?;
            let lookup = |name: &str| std::env::var_os(name);
            let eval = p.evaluate(&Input {
                argv: &command,
                env: &lookup,
                dry_run: None,
                confidence,
            });
            if json {
                render::emit_json(json!({
                    "command": crate::text::argv_strings(&command),
                    "tier": eval.tier,
                    "rule": eval.rule,
                    "approvals_required": eval.approvals_required,
                    "denied": eval.denied,
                    "matched": eval.matched,
                    "skipped": eval.skipped,
                    "reasons": eval.reasons,
                    "dry_run_exit_codes": eval.dry_run_exit_codes,
                    "policy": p.origin(),
                    "policy_sha256": p.sha256(),
                }))?;
            } else {
                let mut out = format!(
                    "{}\n  tier       {}\n  rule       {}\n  approvals  {}\n",
                    crate::text::argv_line(&command),
                    eval.tier,
                    eval.rule.as_deref().unwrap_or("(none: [defaults])"),
                    eval.approvals_required
                );
                if let Some(d) = &eval.denied {
                    out.push_str(&format!("  denied     {d}\n"));
                }
                if eval.matched.is_empty() {
                    out.push_str("  matched    no rule\n");
                }
                for (i, m) in eval.matched.iter().enumerate() {
                    let mut line = format!("{} ({}) via `{}`", m.rule, m.tier, m.pattern);
                    if !m.conditions.is_empty() {
                        line.push_str(&format!(" when {}", m.conditions.join(", ")));
                    }
                    out.push_str(&format!(
                        "  {:<10} {line}\n",
                        if i == 0 { "matched" } else { "" }
                    ));
                }
                for (i, s) in eval.skipped.iter().enumerate() {
                    out.push_str(&format!(
                        "  {:<10} {} ({}): {}\n",
                        if i == 0 { "skipped" } else { "" },
                        s.rule,
                        s.tier,
                        s.why
                    ));
                }
                for (i, r) in eval.reasons.iter().enumerate() {
                    out.push_str(&format!("  {:<10} {r}\n", if i == 0 { "why" } else { "" }));
                }
                render::emit(&out)?;
            }
        }
    }
    Ok(())
}

/// Whether this process may write the file at `path` (a system policy the
/// agent can edit protects nothing from it).
fn writable(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

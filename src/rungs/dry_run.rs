//! A plan's dry-run: the preview that runs at plan time with no approval
//! (so it must be read-only by policy), and again at apply, where the
//! world it previewed must still be the one that was reviewed (drift).

use crate::binding::{self, Binding};
use crate::error::{Error, Kind, Result};
use crate::model::{DryRun, Plan};
use crate::plan_hash::{self, DryRunDigest, HashInput, sha256_hex};
use crate::policy::{InForce, Input};
use crate::runner::{self, StdinMode};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Refuses a dry-run command that policy does not class as `read_only`.
pub(super) fn check_is_read_only(
    policy: &InForce,
    argv: &[OsString],
    cwd: &std::path::Path,
) -> Result<()> {
    let lookup = |name: &str| std::env::var_os(name);
    let eval = policy.evaluate(&Input {
        argv: &binding::policy_argv(argv, cwd, std::env::var_os("PATH").as_deref()),
        env: &lookup,
        dry_run: None,
        confidence: None,
    });
    if eval.tier == crate::tier::Tier::ReadOnly && eval.denied.is_none() {
        return Ok(());
    }
    Err(Error::new(
        Kind::Denied,
        format!(
            "the dry-run `{}` is {} by policy ({}), but a dry-run runs without approval and must be read_only",
            crate::text::argv_line(argv),
            eval.tier,
            eval.rule.as_deref().map(|r| format!("rule \"{r}\"")).unwrap_or_else(|| "[defaults]".into())
        ),
    )
    .with_hint("use a read-only preview (diff, plan, --dry-run flags of the tool), or add a read_only rule for it"))
}

/// Splits `--dry-run` as a POSIX shell splits words: quotes honoured,
/// nothing expanded.
pub fn split_dry_run(text: &str) -> Result<Vec<OsString>> {
    split_command("--dry-run", text)
}

/// Splits a command given as one string (`what`: the flag that gave it) as
/// a POSIX shell splits words, without expanding anything: `--dry-run`, and
/// `--rollback`, which `ladder rollback` plans.
pub fn split_command(what: &str, text: &str) -> Result<Vec<OsString>> {
    let words =
        shell_words::split(text).map_err(|e| Error::usage(format!("{what} `{text}`: {e}")))?;
    if words.first().is_none_or(|w| w.is_empty()) {
        return Err(Error::usage(format!("{what} needs a command")));
    }
    let argv: Vec<OsString> = words.into_iter().map(OsString::from).collect();
    refuse_nul(what, &argv)?;
    Ok(argv)
}

/// No argument of a command may hold a NUL byte. No command line can carry
/// one (exec would cut the argument there), and the store keeps an argv as
/// NUL-separated bytes, so one would come back as two arguments: not what
/// was hashed, classified and shown. A command line never gets here with
/// one; `ladder mcp` and library callers could.
pub(super) fn refuse_nul(what: &str, argv: &[OsString]) -> Result<()> {
    match argv.iter().position(|a| a.as_bytes().contains(&0)) {
        Some(i) => Err(Error::usage(format!(
            "{what}: argument {} holds a NUL byte, which no command can receive",
            i + 1
        ))),
        None => Ok(()),
    }
}

/// Runs a dry-run (no shell, no stdin, output captured, not shown) under
/// policy's `dry_run_timeout`. One the limit killed is refused
/// (`dry_run_failed`) whatever its exit code: it did not finish, so its
/// output previews nothing.
pub fn run_dry_run(
    argv: &[OsString],
    cwd: &std::path::Path,
    cap: u64,
    limit: std::time::Duration,
) -> Result<DryRun> {
    let outcome = runner::run(
        &runner::Spec {
            argv,
            program: None,
            cwd,
            cap: cap as usize,
            tee: false,
            stdin: StdinMode::Null,
            timeout: Some(limit),
            forward_signals: false,
        },
        &mut |_| {},
    )
    .map_err(|e| Error::new(Kind::Error, format!("failed to run the dry-run: {e}")))?;
    if outcome.timed_out {
        return Err(Error::new(
            Kind::DryRunFailed,
            format!(
                "the dry-run `{}` timed out after {} and was killed",
                crate::text::argv_line(argv),
                crate::duration::short(limit)
            ),
        )
        .with_hint("make the dry-run finish sooner, or raise `dry_run_timeout` in the policy"));
    }
    Ok(DryRun {
        command: argv.to_vec(),
        exit_code: outcome.exit_code,
        truncated: outcome.stdout.truncated || outcome.stderr.truncated,
        stdout_sha256: outcome.stdout.sha256,
        stderr_sha256: outcome.stderr.sha256,
        stdout_bytes: outcome.stdout.bytes,
        stderr_bytes: outcome.stderr.bytes,
        stdout: outcome.stdout.head,
        stderr: outcome.stderr.head,
    })
}

pub(super) fn failure(d: &DryRun, ok: &[i32]) -> Error {
    let first = String::from_utf8_lossy(&d.stderr)
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.trim()))
        .unwrap_or_default();
    let ok: Vec<String> = ok.iter().map(|c| c.to_string()).collect();
    Error::new(
        Kind::DryRunFailed,
        format!(
            "the dry-run `{}` exited {} (accepted: {}){first}",
            crate::text::argv_line(&d.command),
            d.exit_code,
            ok.join(", ")
        ),
    )
    .with_hint(
        "fix the dry-run, or accept its code with --dry-run-ok (e.g. 0,1 for `kubectl diff`)",
    )
}

/// Apply's drift check: the world must be the one that was reviewed. The bound
/// environment, the program, its files and directory (`binding`) and a
/// fresh dry-run must reproduce the plan's hash; the fresh dry-run comes
/// back for the policy in force to judge. A dry-run that now outlives
/// `dry_run_timeout` is `stale`, like one that now exits differently: the
/// plan's preview no longer holds, and what to do is plan again (once the
/// dry-run finishes).
pub fn drift(plan: &Plan, policy: &InForce) -> Result<Option<DryRun>> {
    let stale = |changed: Vec<String>| {
        Error::new(
            Kind::Stale,
            format!("plan {} is stale: {}", plan.short_id(), changed.join("; ")),
        )
        .with_hint("review the change and plan again with a new key")
    };
    let Some(bound) = &plan.binding else {
        return Err(stale(vec![
            "it was planned by a ladder that did not bind the program, its directory and \
             its loader environment"
                .into(),
        ]));
    };
    let env: BTreeMap<String, Option<String>> = plan
        .env
        .keys()
        .map(|k| {
            (
                k.clone(),
                std::env::var_os(k).map(|v| sha256_hex(v.as_bytes())),
            )
        })
        .collect();
    let mut changed: Vec<String> = env
        .iter()
        .filter(|(k, v)| plan.env.get(*k) != Some(v))
        .map(|(k, _)| format!("${k} changed"))
        .collect();
    // A loader variable that was not set at plan time is not among the
    // bound names (only the set ones are stored): look for new ones.
    changed.extend(
        binding::loader_env_now()
            .into_iter()
            .filter(|(k, _)| !plan.env.contains_key(k))
            .map(|(k, _)| format!("${k} is set now and was not when planned")),
    );
    let now = match std::fs::canonicalize(&plan.cwd) {
        Ok(real) if real != plan.cwd => {
            changed.push(format!(
                "the working directory {} now leads to {}",
                plan.cwd.display(),
                real.display()
            ));
            None
        }
        Ok(_) => match Binding::of(
            &plan.command,
            &plan.cwd,
            std::env::var_os("PATH").as_deref(),
        ) {
            Ok(now) => Some(now),
            Err(e) => {
                changed.push(format!(
                    "the working directory {} cannot be read ({e})",
                    plan.cwd.display()
                ));
                None
            }
        },
        Err(e) => {
            changed.push(format!(
                "the working directory {} is gone ({e})",
                plan.cwd.display()
            ));
            None
        }
    };
    if let Some(now) = &now {
        changed.extend(bound.differences(now));
    }
    let dry = match &plan.dry_run {
        None => None,
        Some(d) => {
            let defaults = policy.defaults();
            let again = match run_dry_run(
                &d.command,
                &plan.cwd,
                defaults.output_cap,
                defaults.dry_run_timeout,
            ) {
                Ok(again) => again,
                // Only a dry-run the time limit killed is refused so.
                Err(e) if e.kind == Kind::DryRunFailed => {
                    return Err(stale(vec![e.message]).with_hint(
                        "find out why the dry-run hangs now, then plan again with a new key",
                    ));
                }
                Err(e) => return Err(e),
            };
            if again.exit_code != d.exit_code {
                changed.push(format!(
                    "the dry-run now exits {} (was {})",
                    again.exit_code, d.exit_code
                ));
            }
            if again.stdout_sha256 != d.stdout_sha256 {
                changed.push("the dry-run's output changed".into());
            }
            if again.stderr_sha256 != d.stderr_sha256 {
                changed.push("the dry-run's error output changed".into());
            }
            Some(again)
        }
    };
    if !changed.is_empty() {
        return Err(stale(changed));
    }
    let hash = plan_hash::digest(&HashInput {
        key: &plan.key,
        argv: &plan.command,
        cwd: &plan.cwd,
        env: &env,
        dry_run: dry.as_ref().map(|d| DryRunDigest {
            argv: &d.command,
            exit_code: d.exit_code,
            stdout_sha256: &d.stdout_sha256,
            stderr_sha256: &d.stderr_sha256,
        }),
        binding: now.as_ref(),
    });
    if hash == plan.hash {
        return Ok(dry);
    }
    Err(stale(vec![
        "the plan's content no longer hashes the same".into(),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argument_with_a_nul_byte_is_refused_before_it_is_stored_split() {
        let e = split_dry_run("find . 'x\u{0}-delete'").unwrap_err();
        assert!(
            e.message.contains("argument 3 holds a NUL byte"),
            "{}",
            e.message
        );
        let argv = [OsString::from("echo"), OsString::from("a\u{0}b")];
        assert!(refuse_nul("the command", &argv).is_err());
        assert!(refuse_nul("the command", &argv[..1]).is_ok());
    }

    #[test]
    fn dry_run_splits_like_a_shell_without_expanding() {
        let argv = split_dry_run(r#"kubectl diff -f "my file.yaml" $HOME '*'"#).unwrap();
        assert_eq!(
            argv,
            ["kubectl", "diff", "-f", "my file.yaml", "$HOME", "*"]
        );
        assert!(split_dry_run("echo 'unterminated").is_err());
        assert!(split_dry_run("   ").is_err());
    }
}

//! `ladder plan`: the first rung. Fix the exact command under a hash and let
//! policy classify it.

use crate::binding::{self, Binding};
use crate::commands::{check_key, event, expire_due, record_refusal, settle_dead_run};
use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::model::{DryRun, Plan, Status};
use crate::plan_hash::{self, DryRunDigest, HashInput, sha256_hex};
use crate::policy::{DryRunFacts, InForce, Input};
use crate::render;
use crate::runner::{self, StdinMode};
use crate::store;
use serde_json::json;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Describe a command, classify it by policy, and store it as a plan
///
/// The plan fixes the exact argv, the program file it will run (resolved on
/// PATH now, bound by its identity), an interpreter's script, the working
/// directory, the bound environment (--env, the variables the policy's rules
/// look at, and the loader environment: PATH, HOME, LD_*, BASH_ENV,
/// KUBECONFIG...) and the dry-run's result under a sha256 hash. Planning the
/// same key with the same content again returns the existing plan; different
/// content under a live key is refused (key_conflict). A key whose plan was
/// rejected, expired or denied may be planned again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Idempotency key of this action [default: a new UUID, printed]
    #[arg(long)]
    pub key: Option<String>,

    /// Command to run first to preview the change (split like a POSIX shell, run without one)
    #[arg(long, value_name = "CMD")]
    pub dry_run: Option<String>,

    /// Dry-run exit codes to accept besides the policy's (e.g. 0,1 for `kubectl diff`)
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub dry_run_ok: Vec<i32>,

    /// Bind this environment variable's value into the hash (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,

    /// Why the agent wants to run this
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// What it acts on (a host, a cluster, a database...)
    #[arg(long, value_name = "TEXT")]
    pub target: Option<String>,

    /// The change expected
    #[arg(long, value_name = "TEXT")]
    pub effect: Option<String>,

    /// How to undo it
    #[arg(long, value_name = "CMD")]
    pub rollback: Option<String>,

    /// The agent's confidence, from 0 to 1
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub confidence: Option<f64>,

    /// Working directory of the command [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// The command and its arguments (after `--`)
    #[arg(required = true, last = true, value_name = "PROGRAM [ARGS]...")]
    pub command: Vec<OsString>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let generated_key = args.key.is_none();
    let key = match args.key {
        Some(k) => k,
        None => ctx.new_id(&format!("key\0{:?}", args.command)),
    };
    check_key(&key)?;
    if args.command.first().is_none_or(|p| p.is_empty()) {
        return Err(Error::usage("the command's program name is empty"));
    }
    refuse_nul("the command", &args.command)?;
    if let Some(c) = args.confidence {
        if !(0.0..=1.0).contains(&c) || !c.is_finite() {
            return Err(Error::usage(format!(
                "--confidence must be a number from 0 to 1, not {c}"
            )));
        }
    }
    let cwd = resolve_cwd(args.cwd)?;
    let binding = Binding::of(&args.command, &cwd, std::env::var_os("PATH").as_deref())
        .map_err(|e| Error::usage(format!("working directory {}: {e}", cwd.display())))?;
    let dry_argv = match &args.dry_run {
        None => None,
        Some(text) => Some(split_dry_run(text)?),
    };
    let now = ctx.now();
    let actor = ctx.actor.clone();
    let policy = ctx.policy()?;
    // What policy judges: the argv, with a program found through a relative
    // PATH entry spelled by its path (`binding::policy_argv`).
    let judged = binding::policy_argv(&args.command, &cwd, std::env::var_os("PATH").as_deref());
    // Bound: what --env names, what the rules that could decide this
    // command look at, and what decides which code the program loads.
    let mut names = args.env.clone();
    names.extend(policy.condition_env_names(&judged));
    let mut env = bind_env(&names)?;
    // The loader variables that are set; apply refuses any that is set then
    // and was not bound, so the unset ones need no record of their own.
    for (name, digest) in binding::loader_env_now() {
        env.entry(name).or_insert(Some(digest));
    }
    let injected: Vec<String> = binding::injecting(&env)
        .into_iter()
        .map(str::to_string)
        .collect();

    // A dry-run runs now, with no approval, so it must itself be read-only
    // by policy; otherwise `--dry-run "rm -rf x"` would be an ungated
    // side effect.
    if let Some(argv) = dry_argv
        .as_ref()
        .filter(|_| policy.defaults().dry_run_must_be_read_only)
    {
        let checked = match injected.as_slice() {
            [] => check_dry_run_is_read_only(&policy, argv, &cwd),
            vars => Err(Error::new(
                Kind::Denied,
                format!(
                    "the dry-run would run with {} set, which makes it run code no rule looked at, and a dry-run runs without approval",
                    vars.join(", ")
                ),
            )
            .with_hint("unset it, or plan without --dry-run (then a reviewer sees it)")),
        };
        if let Err(e) = checked {
            store::write(ctx.store()?, |tx| {
                record_refusal(tx, now, &actor, "plan", None, Some(&key), &e)
            })?;
            return Err(e);
        }
    }

    // The dry-run runs before policy: a rule may look at its output.
    let dry_run = match &dry_argv {
        None => None,
        Some(argv) => {
            let d = policy.defaults();
            match run_dry_run(argv, &cwd, d.output_cap, d.dry_run_timeout) {
                Ok(dry) => Some(dry),
                Err(e) if e.kind == Kind::DryRunFailed => {
                    store::write(ctx.store()?, |tx| {
                        record_refusal(tx, now, &actor, "plan", None, Some(&key), &e)
                    })?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    };
    let lookup = |name: &str| std::env::var_os(name);
    let mut eval = policy.evaluate(&Input {
        argv: &judged,
        env: &lookup,
        dry_run: dry_run.as_ref().map(|d| DryRunFacts {
            exit_code: d.exit_code,
            stdout: &d.stdout,
        }),
        confidence: args.confidence,
    });
    if !injected.is_empty() && eval.denied.is_none() && eval.approvals_required == 0 {
        eval.approvals_required = 1;
        eval.reasons.push(format!(
            "{} set: the command would run code no rule looked at: 1 approval required",
            injected.join(", ")
        ));
    }
    let mut dry_run_ok = eval.dry_run_exit_codes.clone();
    for c in &args.dry_run_ok {
        if !dry_run_ok.contains(c) {
            dry_run_ok.push(*c);
        }
    }
    dry_run_ok.sort_unstable();

    let hash = plan_hash::digest(&HashInput {
        key: &key,
        argv: &args.command,
        cwd: &cwd,
        env: &env,
        dry_run: dry_run.as_ref().map(|d| DryRunDigest {
            argv: &d.command,
            exit_code: d.exit_code,
            stdout_sha256: &d.stdout_sha256,
            stderr_sha256: &d.stderr_sha256,
        }),
        binding: Some(&binding),
    });

    let (status, expires_at) = if eval.denied.is_some() {
        (Status::Denied, None)
    } else if eval.approvals_required == 0 {
        (
            Status::Approved,
            Some(now + crate::clock::millis(policy.defaults().apply_ttl)),
        )
    } else {
        (
            Status::Pending,
            Some(now + crate::clock::millis(policy.defaults().approval_ttl)),
        )
    };
    let mut decision = eval.reasons.clone();
    if let Some(why) = &eval.denied {
        if !decision.contains(why) {
            decision.push(why.clone());
        }
    }
    let ids = ctx.ids();
    let plan = Plan {
        seq: 0,
        id: String::new(),
        key: key.clone(),
        hash: hash.clone(),
        status,
        tier: eval.tier,
        rule: eval.rule.clone(),
        approvals_required: if status == Status::Denied {
            0
        } else {
            eval.approvals_required
        },
        approvals: vec![],
        command: args.command.clone(),
        cwd: cwd.clone(),
        env,
        dry_run,
        dry_run_ok,
        reason: args.reason,
        target: args.target,
        effect: args.effect,
        rollback: args.rollback,
        confidence: args.confidence,
        actor: actor.clone(),
        created_at: now,
        expires_at,
        rejection: None,
        execution: None,
        policy_sha256: policy.sha256(),
        decision,
        retry_allowed: false,
        binding: Some(binding),
        escalated_from: None,
        in_force: None,
    };

    let dry_failed = plan
        .dry_run
        .as_ref()
        .filter(|d| !plan.dry_run_ok.contains(&d.exit_code))
        .map(|d| dry_run_failure(d, &plan.dry_run_ok));

    let state = ctx.state_path().to_path_buf();
    let outcome = store::write(ctx.store()?, |tx| {
        expire_due(tx, now)?;
        if let Some(e) = &dry_failed {
            record_refusal(tx, now, &actor, "plan", None, Some(&key), e)?;
            return Ok(Err(e.clone()));
        }
        let previous = match tx.latest_plan_for_key(&key)? {
            Some(p) => Some(settle_dead_run(tx, &state, now, p)?),
            None => None,
        };
        if let Some(existing) = previous.clone() {
            if existing.status.holds_key() {
                if existing.hash == hash {
                    return Ok(Ok((existing, false)));
                }
                let e = Error::new(
                    Kind::KeyConflict,
                    format!(
                        "key `{key}` belongs to plan {} ({}), which has different content",
                        existing.short_id(),
                        existing.status
                    ),
                )
                .with_hint("use a new key for a different action");
                record_refusal(tx, now, &actor, "plan", Some(&existing), None, &e)?;
                return Ok(Err(e));
            }
        }
        let mut stored = plan.clone();
        // The previous plan of this key goes into the material so that a
        // re-plan after rejection gets a new id even with a fixed test seed.
        let before = previous.as_ref().map(|p| p.id.as_str()).unwrap_or("");
        stored.id = ids.new_id(&format!("plan\0{key}\0{hash}\0{now}\0{before}"));
        stored.seq = tx.insert_plan(&stored)?;
        tx.append_event(&event(
            now,
            "planned",
            &stored,
            &actor,
            json!({
                "hash": stored.hash,
                "status": stored.status.as_str(),
                "tier": stored.tier.as_str(),
                "rule": stored.rule,
                "approvals_required": stored.approvals_required,
                "command": render::argv_line(&stored.command),
                "program": stored.binding.as_ref().map(|b| b.program.path.to_string_lossy()),
                "policy_sha256": stored.policy_sha256,
            }),
        ))?;
        if stored.status == Status::Denied {
            tx.append_event(&event(
                now,
                "denied",
                &stored,
                &actor,
                json!({ "reason": eval.denied }),
            ))?;
        }
        Ok(Ok((stored, true)))
    })?;
    let (plan, created) = match outcome {
        Ok(v) => v,
        Err(e) => {
            if let Some(d) = dry_failed.as_ref().and(plan.dry_run.as_ref()) {
                if !ctx.json {
                    render::note_part(String::from_utf8_lossy(&d.stderr));
                }
            }
            return Err(e);
        }
    };

    if plan.status == Status::Denied {
        let why = eval
            .denied
            .clone()
            .unwrap_or_else(|| "policy denies this command".into());
        return Err(Error::new(
            Kind::Denied,
            format!("plan {} is denied: {why}", plan.short_id()),
        )
        .with_extra(json!({ "plan": render::plan_json(&plan) })));
    }

    if created && plan.status == Status::Pending {
        if let Some(n) = policy.notify() {
            notify_reviewers(ctx, n, &plan)?;
        }
    }

    if ctx.json {
        render::emit_json(render::plan_json(&plan));
    } else {
        if !created {
            render::note(format_args!(
                "ladder: key `{}` already has this plan; nothing new stored",
                plan.key
            ));
        } else if generated_key {
            render::note(format_args!(
                "ladder: no --key given; generated key {}",
                plan.key
            ));
        }
        render::emit(&render::plan_card(
            &plan,
            now,
            render::Paint { on: ctx.color },
        ));
        let id = plan.short_id();
        let next = match plan.status {
            Status::Pending => format!(
                "next: a reviewer runs `ladder approve {id}`, then `ladder apply {id} --key {} --hash {}`",
                shell_words::quote(&plan.key),
                plan.hash
            ),
            Status::Approved => format!(
                "next: `ladder apply {id} --key {} --hash {}`",
                shell_words::quote(&plan.key),
                plan.hash
            ),
            _ => String::new(),
        };
        if !next.is_empty() {
            render::note(&next);
        }
    }
    Ok(())
}

/// Runs the policy's notifier for a newly pending plan and logs how it went.
/// A failing notifier is a ledger event and a warning, never a failed plan.
fn notify_reviewers(ctx: &mut Ctx, n: &crate::policy::Notify, plan: &Plan) -> Result<()> {
    let outcome = crate::notify::run(n, &plan.cwd, &render::plan_json(plan).to_string());
    let now = ctx.now();
    let actor = ctx.actor.clone();
    let (kind, detail) = match &outcome {
        Ok(()) => ("notified", json!({ "command": n.command })),
        Err(why) => (
            "notify_failed",
            json!({ "command": n.command, "error": why }),
        ),
    };
    store::write(ctx.store()?, |tx| {
        tx.append_event(&event(now, kind, plan, &actor, detail.clone()))?;
        Ok(())
    })?;
    if let Err(why) = outcome {
        render::note(format_args!(
            "ladder: warning: the notifier failed ({why}); the plan stands"
        ));
    }
    Ok(())
}

fn resolve_cwd(flag: Option<PathBuf>) -> Result<PathBuf> {
    let dir = match flag {
        Some(d) => d,
        None => std::env::current_dir().map_err(|e| {
            Error::new(
                Kind::Error,
                format!("cannot read the current directory: {e}"),
            )
        })?,
    };
    let abs = std::fs::canonicalize(&dir)
        .map_err(|e| Error::usage(format!("working directory {}: {e}", dir.display())))?;
    if !abs.is_dir() {
        return Err(Error::usage(format!(
            "working directory {} is not a directory",
            abs.display()
        )));
    }
    Ok(abs)
}

/// Bound variables → sha256 of their values (unset: `None`).
fn bind_env(names: &[String]) -> Result<BTreeMap<String, Option<String>>> {
    let mut out = BTreeMap::new();
    for name in names {
        let valid = !name.is_empty()
            && !name.contains('=')
            && !name.contains('\0')
            && !name.chars().any(char::is_whitespace);
        if !valid {
            return Err(Error::usage(format!(
                "--env takes a variable name, not `{name}`"
            )));
        }
        let digest = std::env::var_os(name).map(|v| sha256_hex(v.as_bytes()));
        out.insert(name.clone(), digest);
    }
    Ok(out)
}

/// Refuses a dry-run command that policy does not class as `read_only`.
fn check_dry_run_is_read_only(
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
            render::argv_line(argv),
            eval.tier,
            eval.rule.as_deref().map(|r| format!("rule \"{r}\"")).unwrap_or_else(|| "[defaults]".into())
        ),
    )
    .with_hint("use a read-only preview (diff, plan, --dry-run flags of the tool), or add a read_only rule for it"))
}

/// Splits `--dry-run` as a POSIX shell splits words: quotes honoured,
/// nothing expanded.
pub fn split_dry_run(text: &str) -> Result<Vec<OsString>> {
    let words =
        shell_words::split(text).map_err(|e| Error::usage(format!("--dry-run `{text}`: {e}")))?;
    if words.is_empty() || words[0].is_empty() {
        return Err(Error::usage("--dry-run needs a command"));
    }
    let argv: Vec<OsString> = words.into_iter().map(OsString::from).collect();
    refuse_nul("--dry-run", &argv)?;
    Ok(argv)
}

/// No argument of a command may hold a NUL byte. No command line can carry
/// one (exec would cut the argument there), and the store keeps an argv as
/// NUL-separated bytes, so one would come back as two arguments: not what
/// was hashed, classified and shown. A command line never gets here with
/// one; `ladder mcp` and library callers could.
fn refuse_nul(what: &str, argv: &[OsString]) -> Result<()> {
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
                render::argv_line(argv),
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

fn dry_run_failure(d: &DryRun, ok: &[i32]) -> Error {
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
            render::argv_line(&d.command),
            d.exit_code,
            ok.join(", ")
        ),
    )
    .with_hint(
        "fix the dry-run, or accept its code with --dry-run-ok (e.g. 0,1 for `kubectl diff`)",
    )
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

    #[test]
    fn env_names_are_validated() {
        assert!(bind_env(&["A=B".into()]).is_err());
        assert!(bind_env(&["".into()]).is_err());
        let bound = bind_env(&["LADDER_SURELY_UNSET_VARIABLE".into()]).unwrap();
        assert_eq!(bound["LADDER_SURELY_UNSET_VARIABLE"], None);
    }
}

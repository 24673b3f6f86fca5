//! Plan: the first rung. The exact command, its directory, the environment
//! and programs it binds and its dry-run's output are fixed under a hash,
//! and the policy in force classifies it.

use super::dry_run::{check_is_read_only, failure, refuse_nul, run_dry_run};
use super::{Rung, check_key, event, expire_due, refuse, refuse_key, settle_dead_run};
use crate::binding::{self, Binding};
use crate::error::{Error, Kind, Result};
use crate::model::{Plan, Status};
use crate::plan_hash::{self, DryRunDigest, HashInput, sha256_hex};
use crate::policy::{DryRunFacts, InForce, Input};
use serde_json::json;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What an agent asks to plan.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub key: String,
    /// The program and its arguments.
    pub command: Vec<OsString>,
    /// The working directory; the current one when `None`.
    pub cwd: Option<PathBuf>,
    /// The preview to run now (already split into an argv).
    pub dry_run: Option<Vec<OsString>>,
    /// Dry-run exit codes to accept besides the policy's.
    pub dry_run_ok: Vec<i32>,
    /// Variables whose values the plan binds, besides those it always does.
    pub env: Vec<String>,
    pub reason: Option<String>,
    pub target: Option<String>,
    pub effect: Option<String>,
    pub rollback: Option<String>,
    pub confidence: Option<f64>,
    /// What the caller says about itself; outside the hash.
    pub meta: crate::meta::Meta,
    /// The plan this one rolls back (see [`super::rollback`]).
    pub rollback_of: Option<String>,
}

/// A plan as stored, and whether this request stored it (a retry of the same
/// plan gets the existing one back).
pub struct Planned {
    pub plan: Plan,
    pub created: bool,
    /// Why policy denies it, when it does (the plan is stored `denied`).
    pub denied: Option<String>,
    /// What people should hear (a notifier that failed).
    pub warnings: Vec<String>,
}

/// Makes a plan: binds and classifies the command, runs its dry-run, and
/// stores it with its `planned` event, or gives back the plan this key
/// already holds with the same content. A denied plan is stored too
/// (status `denied`): the caller refuses with it.
pub fn plan(rung: &mut Rung, policy: &InForce, req: Request) -> Result<Planned> {
    let key = req.key;
    check_key(&key)?;
    if req.command.first().is_none_or(|p| p.is_empty()) {
        return Err(Error::usage("the command's program name is empty"));
    }
    refuse_nul("the command", &req.command)?;
    if let Some(c) = req.confidence {
        if !(0.0..=1.0).contains(&c) || !c.is_finite() {
            return Err(Error::usage(format!(
                "--confidence must be a number from 0 to 1, not {c}"
            )));
        }
    }
    crate::meta::check(&req.meta)?;
    // What `ladder rollback` will plan: refused now if it could not be
    // split then, rather than found out when something needs undoing.
    if let Some(r) = &req.rollback {
        super::dry_run::split_command("--rollback", r)?;
    }
    let cwd = resolve_cwd(req.cwd)?;
    let path_var = std::env::var_os("PATH");
    let binding = Binding::of(&req.command, &cwd, path_var.as_deref())
        .map_err(|e| Error::usage(format!("working directory {}: {e}", cwd.display())))?;
    let now = rung.now();
    // What policy judges: the argv, with a program found through a relative
    // PATH entry spelled by its path (`binding::policy_argv`).
    let judged = binding::policy_argv(&req.command, &cwd, path_var.as_deref());
    // Bound: what --env names, what the rules that could decide this
    // command look at, and what decides which code the program loads.
    let mut names = req.env.clone();
    names.extend(policy.condition_env_names(&judged));
    let mut env = bind_env(&names)?;
    // The loader variables that are set; apply refuses any that is set then
    // and was not bound, so the unset ones need no record of their own.
    for (name, digest) in binding::loader_env_now() {
        env.entry(name).or_insert(Some(digest));
    }
    let env_shown = shown_values(&env, &policy.defaults().show_env);
    let injected: Vec<String> = binding::injecting(&env)
        .into_iter()
        .map(str::to_string)
        .collect();

    // A dry-run runs now, with no approval, so it must itself be read-only
    // by policy; otherwise `--dry-run "rm -rf x"` would be an ungated
    // side effect.
    if let Some(argv) = req
        .dry_run
        .as_ref()
        .filter(|_| policy.defaults().dry_run_must_be_read_only)
    {
        let checked = match injected.as_slice() {
            [] => check_is_read_only(policy, argv, &cwd),
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
            return Err(super::refused(rung, "plan", refuse_key(Some(&key), e)));
        }
    }

    // The dry-run runs before policy: a rule may look at its output.
    let dry_run = match &req.dry_run {
        None => None,
        Some(argv) => {
            let d = policy.defaults();
            match run_dry_run(argv, &cwd, d.output_cap, d.dry_run_timeout) {
                Ok(dry) => Some(dry),
                Err(e) if e.kind == Kind::DryRunFailed => {
                    return Err(super::refused(rung, "plan", refuse_key(Some(&key), e)));
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
        confidence: req.confidence,
    });
    if !injected.is_empty() && eval.denied.is_none() && eval.approvals_required == 0 {
        eval.approvals_required = 1;
        eval.reasons.push(format!(
            "{} set: the command would run code no rule looked at: 1 approval required",
            injected.join(", ")
        ));
    }
    let mut dry_run_ok = eval.dry_run_exit_codes.clone();
    for c in &req.dry_run_ok {
        if !dry_run_ok.contains(c) {
            dry_run_ok.push(*c);
        }
    }
    dry_run_ok.sort_unstable();

    let hash = plan_hash::digest(&HashInput {
        key: &key,
        argv: &req.command,
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
    let actor = rung.actor.to_string();
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
        command: req.command,
        cwd,
        env,
        env_shown,
        dry_run,
        dry_run_ok,
        reason: req.reason,
        target: req.target,
        effect: req.effect,
        rollback: req.rollback,
        confidence: req.confidence,
        actor: actor.clone(),
        created_at: now,
        expires_at,
        rejection: None,
        cancellation: None,
        execution: None,
        meta: req.meta,
        rollback_of: req.rollback_of,
        rollback_plan: None,
        policy_sha256: policy.sha256(),
        decision,
        retry_allowed: false,
        binding: Some(binding),
        escalated_from: None,
        in_force: None,
        signatures_required: policy.signed(eval.tier),
    };

    // A dry-run that exited with a code not accepted is refused, and
    // people see what it wrote on stderr.
    let dry_failed = plan
        .dry_run
        .as_ref()
        .filter(|d| !plan.dry_run_ok.contains(&d.exit_code))
        .map(|d| {
            let mut e = failure(d, &plan.dry_run_ok);
            e.preface = Some(String::from_utf8_lossy(&d.stderr).into_owned());
            e
        });

    let ids = rung.ids.clone();
    let (plan, created) = super::write(rung, "plan", |tx| {
        expire_due(tx, now)?;
        if let Some(e) = &dry_failed {
            return Err(refuse_key(Some(&key), e.clone()));
        }
        let previous = match tx.latest_plan_for_key(&key)? {
            Some(p) => Some(settle_dead_run(tx, now, p)?),
            None => None,
        };
        if let Some(existing) = previous.clone() {
            if existing.status.holds_key() {
                // A rollback's key names the plan it undoes: another plan
                // under that key, even of the same command, is not it.
                let undoes_another =
                    plan.rollback_of.is_some() && existing.rollback_of != plan.rollback_of;
                if existing.hash == hash && !undoes_another {
                    return Ok((existing, false));
                }
                let what = if existing.hash == hash {
                    "which is not a rollback of the same plan"
                } else {
                    "which has different content"
                };
                let e = Error::new(
                    Kind::KeyConflict,
                    format!(
                        "key `{key}` belongs to plan {} ({}), {what}",
                        existing.short_id(),
                        existing.status
                    ),
                )
                .with_hint("use a new key for a different action");
                return Err(refuse(&existing, e));
            }
        }
        let mut stored = plan.clone();
        // The previous plan of this key goes into the material so that a
        // re-plan after rejection gets a new id even with a fixed test seed.
        let before = previous.as_ref().map(|p| p.id.as_str()).unwrap_or("");
        stored.id = ids.new_id(&format!("plan\0{key}\0{hash}\0{now}\0{before}"));
        stored.seq = tx.insert_plan(&stored)?;
        let mut detail = json!({
            "hash": stored.hash,
            "status": stored.status.as_str(),
            "tier": stored.tier.as_str(),
            "rule": stored.rule,
            "approvals_required": stored.approvals_required,
            "command": crate::text::argv_line(&stored.command),
            "program": stored.binding.as_ref().map(|b| b.program.path.to_string_lossy()),
            "policy_sha256": stored.policy_sha256,
        });
        // Fixed in the chain: its approvals and retries count only signed,
        // whatever the row or a later event says of its tier.
        if stored.signatures_required {
            detail["signed"] = json!(true);
        }
        // The undo a reviewer reads on the card, fixed in the chain: the
        // row is not in the hash, and `ladder rollback` plans what it says.
        detail["rollback"] = json!(stored.rollback);
        if !stored.meta.is_empty() {
            detail["meta"] = json!(stored.meta);
        }
        if let Some(of) = &stored.rollback_of {
            detail["rollback_of"] = json!(of);
        }
        tx.append_event(&event(now, "planned", &stored, &actor, detail))?;
        if stored.status == Status::Denied {
            tx.append_event(&event(
                now,
                "denied",
                &stored,
                &actor,
                json!({ "reason": eval.denied }),
            ))?;
        }
        Ok((stored, true))
    })?;

    let mut warnings = vec![];
    if created && plan.status == Status::Pending {
        if let Some(n) = policy.notify() {
            if let Some(w) = notify_reviewers(rung, n, &plan)? {
                warnings.push(w);
            }
        }
    }
    Ok(Planned {
        plan,
        created,
        denied: eval.denied,
        warnings,
    })
}

/// Runs the policy's notifier for a newly pending plan and logs how it went.
/// A failing notifier is a ledger event and a warning, never a failed plan.
fn notify_reviewers(
    rung: &mut Rung,
    n: &crate::policy::Notify,
    plan: &Plan,
) -> Result<Option<String>> {
    let outcome = crate::notify::run(n, &plan.cwd, &crate::render::plan_json(plan).to_string());
    let (now, actor) = (rung.now(), rung.actor.to_string());
    let (kind, detail) = match &outcome {
        Ok(()) => ("notified", json!({ "command": n.command })),
        Err(why) => (
            "notify_failed",
            json!({ "command": n.command, "error": why }),
        ),
    };
    crate::store::write(rung.store, |tx| {
        tx.append_event(&event(now, kind, plan, &actor, detail.clone()))?;
        Ok(())
    })?;
    Ok(outcome
        .err()
        .map(|why| format!("the notifier failed ({why}); the plan stands")))
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

/// The values of the bound variables the policy shows (`show_env`), as
/// they are now: set, text, and short enough for a card (1 KiB).
fn shown_values(
    env: &BTreeMap<String, Option<String>>,
    shown: &[String],
) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(name, digest)| digest.is_some() && shown.contains(name))
        .filter_map(|(name, _)| Some((name.clone(), std::env::var(name).ok()?)))
        .filter(|(_, value)| value.len() <= 1024)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_validated() {
        assert!(bind_env(&["A=B".into()]).is_err());
        assert!(bind_env(&["".into()]).is_err());
        let bound = bind_env(&["LADDER_SURELY_UNSET_VARIABLE".into()]).unwrap();
        assert_eq!(bound["LADDER_SURELY_UNSET_VARIABLE"], None);
    }
}

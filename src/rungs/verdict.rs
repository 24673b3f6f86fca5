//! The policy in force's verdict on a stored plan: what `apply` holds a
//! plan to, and what `show` and approve's card warn a reviewer of.

use crate::model::{Plan, Status};
use crate::plan_hash::sha256_hex;
use crate::policy::{DryRunFacts, Evaluation, InForce, Input};
use std::os::unix::ffi::OsStrExt;

/// The policy in force's evaluation of a plan's command, on the plan's
/// environment (a bound variable whose value here is not the one bound
/// reads as unset: it is not the plan's, and `drift` refuses it; one the
/// plan did not bind reads as it is here) and on `dry_run_stdout`, or else
/// the stored dry-run output (which `gate::integrity` holds to its digest
/// when it is whole).
pub fn policy_verdict(plan: &Plan, policy: &InForce, dry_run_stdout: Option<&[u8]>) -> Evaluation {
    let lookup = |name: &str| {
        let value = std::env::var_os(name);
        match plan.env.get(name) {
            Some(bound) if value.as_ref().map(|v| sha256_hex(v.as_bytes())) != *bound => None,
            _ => value,
        }
    };
    // PATH is bound: a PATH other than the plan's is refused by `drift`.
    let argv = crate::binding::policy_argv(
        &plan.command,
        &plan.cwd,
        std::env::var_os("PATH").as_deref(),
    );
    policy.evaluate(&Input {
        argv: &argv,
        env: &lookup,
        dry_run: plan.dry_run.as_ref().map(|d| DryRunFacts {
            exit_code: d.exit_code,
            stdout: dry_run_stdout.unwrap_or(&d.stdout),
        }),
        confidence: plan.confidence,
    })
}

/// Marks on `plan` the stricter verdict the policy in force gives it, if
/// it gives one, so that a reviewer sees before approving what `apply`
/// will raise the plan to. Only for a plan that can still run; nothing is
/// written (apply records the raise).
pub fn note_in_force(plan: &mut Plan, policy: &InForce) {
    if !matches!(plan.status, Status::Pending | Status::Approved) {
        return;
    }
    if let Some(up) =
        crate::gate::escalation(plan, &policy_verdict(plan, policy, None), &policy.sha256())
    {
        plan.in_force = Some(up.to);
    }
}

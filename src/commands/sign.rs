//! `--sign KEY`, shared by `approve`, `reject` and `resolve`: sign the
//! decision about to be recorded, and check the signature before anything
//! is (see [`crate::signing`]).

use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::model::Plan;
use crate::rungs::{self, refuse};
use crate::signing::{self, Decision, DecisionKind, SignWith, Signed, Trust};

/// The flag's help, one place for the three commands.
pub const HELP: &str = "Sign the decision with this SSH key: a private key file, a .pub file \
     whose key is in ssh-agent, or `agent` (the agent's key that allowed_signers lists)";

/// Signs `kind` on `plan` (its id and current hash) as the key's principal.
/// A signature that would not count is refused `not_allowed` and recorded
/// as a refusal, like any other; nothing else is written.
pub fn sign(
    ctx: &mut Ctx,
    command: &'static str,
    key: &str,
    plan: &Plan,
    kind: DecisionKind,
    note: Option<&str>,
) -> Result<(Signed, Trust)> {
    let policy = ctx.policy()?;
    let Some(trust) = Trust::of(&policy)? else {
        return Err(Error::usage(
            "--sign: the policy in force has no [signing] allowed_signers to check signatures against",
        )
        .with_hint("add `[signing] allowed_signers = \"PATH\"` to the policy"));
    };
    let wanted = ctx.actor_named.then(|| ctx.actor.clone());
    let (at, policy_sha256) = (ctx.now(), policy.sha256());
    let payload = |principal: &str| {
        Decision {
            kind,
            plan: &plan.id,
            hash: &plan.hash,
            principal,
            at,
            policy_sha256: &policy_sha256,
            note,
        }
        .payload()
    };
    match signing::sign(
        &trust,
        &SignWith::parse(key),
        wanted.as_deref(),
        at,
        &policy_sha256,
        &payload,
    ) {
        Ok(signed) => Ok((signed, trust)),
        Err(e) if e.kind == Kind::NotAllowed => {
            Err(rungs::refused(&mut ctx.rung()?, command, refuse(plan, e)))
        }
        Err(e) => Err(e),
    }
}

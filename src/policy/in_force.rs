//! The policy in force: what decides, whoever asks.
//!
//! A team puts a system policy in place (`/etc/ladder/policy.toml`, see
//! [`SYSTEM_POLICY_PATH`]). When that file exists it always applies: the
//! policy a caller names (`--policy`, `LADDER_POLICY`, the user's config
//! file) is laid over it and can only make a verdict stricter. Each layer is
//! evaluated on its own and the strictest verdict wins; layers are never
//! merged rule by rule, because a permissive rule in the overlay would then
//! shadow the system policy's `[defaults]` tier for commands the system
//! policy has no rule for.
//!
//! Without a system policy the named policy (or the embedded default)
//! decides alone, as it always has.

use super::{Budget, Defaults, Evaluation, Input, Notify, Policy, Signing};
use crate::tier::Tier;
use std::collections::BTreeSet;
use std::ffi::OsString;

/// Where the system policy lives. Fixed at build time
/// (`LADDER_SYSTEM_POLICY=/path cargo build` to move it): a path read from
/// the environment or a flag would be the agent's to point elsewhere.
pub const SYSTEM_POLICY_PATH: &str = match option_env!("LADDER_SYSTEM_POLICY") {
    Some(p) => p,
    None => "/etc/ladder/policy.toml",
};

/// The layers in force and what they add up to.
#[derive(Debug)]
pub struct InForce {
    /// The system policy first, when there is one.
    layers: Vec<Policy>,
    system: bool,
    defaults: Defaults,
    budgets: Vec<Budget>,
}

impl InForce {
    /// One policy deciding alone (no system policy).
    pub fn single(policy: Policy) -> InForce {
        InForce {
            defaults: policy.defaults().clone(),
            budgets: policy.budgets().to_vec(),
            layers: vec![policy],
            system: false,
        }
    }

    /// The system policy, and the caller's named policy over it.
    pub fn layered(system: Policy, overlay: Option<Policy>) -> InForce {
        let Some(overlay) = overlay else {
            return InForce {
                system: true,
                ..InForce::single(system)
            };
        };
        let defaults = stricter_defaults(system.defaults(), overlay.defaults());
        let budgets = system
            .budgets()
            .iter()
            .chain(overlay.budgets())
            .cloned()
            .collect();
        InForce {
            layers: vec![system, overlay],
            system: true,
            defaults,
            budgets,
        }
    }

    /// The policies in force, the system policy first.
    pub fn layers(&self) -> &[Policy] {
        &self.layers
    }

    /// Whether the first layer is the system policy.
    pub fn has_system(&self) -> bool {
        self.system
    }

    /// The layers' origins, as people read them.
    pub fn origin(&self) -> String {
        let names: Vec<&str> = self.layers.iter().map(|p| p.origin()).collect();
        names.join(" + ")
    }

    /// The policy's sha256 recorded in plans: the one policy's own, or with
    /// a system policy and an overlay, the sha256 of their two sha256s, each
    /// followed by a newline, the system's first.
    pub fn sha256(&self) -> String {
        match self.layers.as_slice() {
            [one] => one.sha256(),
            many => {
                let joined: String = many.iter().map(|p| p.sha256() + "\n").collect();
                crate::plan_hash::sha256_hex(joined.as_bytes())
            }
        }
    }

    /// The layers' `[defaults]` combined: the shorter windows, separation
    /// of duties and read-only dry-runs if either asks for them.
    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    /// Every layer's budgets: each must hold.
    pub fn budgets(&self) -> &[Budget] {
        &self.budgets
    }

    /// The first layer's notifier that exists: the system policy's when it
    /// has one.
    pub fn notify(&self) -> Option<&Notify> {
        self.layers.iter().find_map(|p| p.notify())
    }

    /// Whose signatures count: the allowed_signers of the first layer that
    /// names one (the system policy's, when it has `[signing]`: a named
    /// policy laid over it cannot swap in signers of its own), with a
    /// touch required when any layer requires one.
    pub fn signing(&self) -> Option<Signing> {
        let first = self.layers.iter().find_map(|p| p.signing())?;
        Some(Signing {
            allowed_signers: first.allowed_signers.clone(),
            require_touch: self
                .layers
                .iter()
                .filter_map(|p| p.signing())
                .any(|s| s.require_touch),
        })
    }

    /// Whether decisions on a plan of `tier` must be signed: when any layer
    /// says so (each layer can only add requirements).
    pub fn signed(&self, tier: Tier) -> bool {
        self.layers.iter().any(|p| p.tier_settings(tier).signed)
    }

    /// Whether any tier needs signed decisions.
    pub fn signs_any(&self) -> bool {
        Tier::ALL.into_iter().any(|t| self.signed(t))
    }

    /// The strictest verdict of the layers.
    pub fn evaluate(&self, input: &Input) -> Evaluation {
        let mut verdicts = self.layers.iter().map(|p| (p, p.evaluate(input)));
        let (first_policy, first) = verdicts.next().expect("at least one layer");
        let mut out = first;
        let layered = self.layers.len() > 1;
        if layered {
            prefix_reasons(&mut out, first_policy);
        }
        for (policy, mut next) in verdicts {
            prefix_reasons(&mut next, policy);
            out = stricter(out, next);
        }
        if layered {
            out.reasons.push(format!(
                "the strictest verdict of the {} policies in force applies",
                self.layers.len()
            ));
        }
        out
    }

    /// Names of the variables that rules whose commands match `argv` look
    /// at, matched or not: the plan binds them, so an apply from another
    /// environment cannot run what was classified for the first.
    pub fn condition_env_names(&self, argv: &[OsString]) -> BTreeSet<String> {
        self.layers
            .iter()
            .flat_map(|p| p.condition_env_names(argv))
            .collect()
    }
}

fn prefix_reasons(eval: &mut Evaluation, policy: &Policy) {
    for r in &mut eval.reasons {
        *r = format!("{}: {r}", policy.origin());
    }
}

/// The stricter of two verdicts: the higher tier (its rule named; the
/// first on a tie), the larger number of approvals, denied if either
/// denies, only the dry-run exit codes both accept.
fn stricter(a: Evaluation, b: Evaluation) -> Evaluation {
    let (tier, rule) = if b.tier > a.tier {
        (b.tier, b.rule.clone())
    } else {
        (a.tier, a.rule.clone())
    };
    let denied = a.denied.clone().or(b.denied.clone());
    let approvals = if denied.is_some() {
        0
    } else {
        a.approvals_required.max(b.approvals_required)
    };
    let codes = a
        .dry_run_exit_codes
        .iter()
        .copied()
        .filter(|c| b.dry_run_exit_codes.contains(c))
        .collect();
    Evaluation {
        tier,
        rule,
        approvals_required: approvals,
        denied,
        matched: a.matched.into_iter().chain(b.matched).collect(),
        skipped: a.skipped.into_iter().chain(b.skipped).collect(),
        reasons: a.reasons.into_iter().chain(b.reasons).collect(),
        dry_run_exit_codes: codes,
    }
}

fn stricter_defaults(a: &Defaults, b: &Defaults) -> Defaults {
    Defaults {
        tier: a.tier.max(b.tier),
        approval_ttl: a.approval_ttl.min(b.approval_ttl),
        apply_ttl: a.apply_ttl.min(b.apply_ttl),
        separation_of_duties: a.separation_of_duties || b.separation_of_duties,
        // How much output is kept is the system's call, not a verdict.
        output_cap: a.output_cap,
        dry_run_exit_codes: a
            .dry_run_exit_codes
            .iter()
            .copied()
            .filter(|c| b.dry_run_exit_codes.contains(c))
            .collect(),
        dry_run_must_be_read_only: a.dry_run_must_be_read_only || b.dry_run_must_be_read_only,
        dry_run_timeout: a.dry_run_timeout.min(b.dry_run_timeout),
        // A value is shown only if every layer says it is not secret.
        show_env: a
            .show_env
            .iter()
            .filter(|n| b.show_env.contains(n))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::Tier;

    fn policy(text: &str, origin: &str) -> Policy {
        Policy::parse(text, origin).unwrap()
    }

    fn eval(p: &InForce, command: &str) -> Evaluation {
        let argv: Vec<OsString> = command.split(' ').map(OsString::from).collect();
        p.evaluate(&Input {
            argv: &argv,
            env: &|_| None,
            dry_run: None,
            confidence: None,
        })
    }

    const SYSTEM: &str = r#"
version = 1
[defaults]
tier = "irreversible"
approval_ttl = "1h"
[[rules]]
name = "prod"
tier = "critical"
commands = ["deploy **"]
"#;

    const LOOSE: &str = r#"
version = 1
[defaults]
tier = "read_only"
approval_ttl = "10m"
separation_of_duties = false
[tiers.critical]
approvals = 0
[[rules]]
name = "anything goes"
tier = "read_only"
commands = ["** **"]
"#;

    #[test]
    fn an_overlay_cannot_loosen_the_system_policy() {
        let p = InForce::layered(
            policy(SYSTEM, "/etc/ladder/policy.toml"),
            Some(policy(LOOSE, "loose.toml")),
        );
        let deploy = eval(&p, "deploy prod");
        assert_eq!(deploy.tier, Tier::Critical);
        assert_eq!(deploy.approvals_required, 2);
        assert_eq!(deploy.rule.as_deref(), Some("prod"));
        // The overlay's catch-all rule does not shadow the system's
        // [defaults] tier for a command the system has no rule for.
        let other = eval(&p, "terraform apply");
        assert_eq!(other.tier, Tier::Irreversible);
        assert_eq!(other.approvals_required, 1);
        assert!(p.defaults().separation_of_duties);
        assert_eq!(p.defaults().approval_ttl.as_secs(), 600, "shorter wins");
    }

    #[test]
    fn an_overlay_can_make_things_stricter() {
        let strict = r#"
version = 1
[[rules]]
name = "no listing"
tier = "deny"
commands = ["ls **"]
"#;
        let p = InForce::layered(policy(SYSTEM, "system"), Some(policy(strict, "mine")));
        let ls = eval(&p, "ls -la");
        assert_eq!(ls.tier, Tier::Deny);
        assert!(ls.denied.is_some());
        assert_eq!(ls.approvals_required, 0);
    }

    #[test]
    fn a_value_is_shown_only_if_every_layer_shows_it() {
        let with = |names: &str| {
            policy(
                &format!("version = 1\n[defaults]\nshow_env = [{names}]\n"),
                "p",
            )
        };
        let p = InForce::layered(with(r#""A", "B""#), Some(with(r#""B", "SECRET""#)));
        assert_eq!(p.defaults().show_env, ["B"]);
        let e = Policy::parse("version = 1\n[defaults]\nshow_env = [\"A=B\"]\n", "p");
        assert!(e.unwrap_err().to_string().contains("show_env"));
    }

    #[test]
    fn sha256_names_both_layers() {
        let one = InForce::single(policy(SYSTEM, "system"));
        assert_eq!(one.sha256(), one.layers()[0].sha256());
        let two = InForce::layered(policy(SYSTEM, "system"), Some(policy(LOOSE, "loose")));
        assert_ne!(two.sha256(), one.sha256());
        assert_eq!(two.origin(), "system + loose");
    }
}

//! The policy file as written: serde structs that mirror the TOML, with
//! spans kept wherever a later semantic check needs a line to point at.
//! Validation turns these into the types in `mod.rs` (see `load.rs`).

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Read before anything else, ignoring every other key, so that a file of
/// another version is refused for its version rather than for whatever
/// unknown key it happens to contain first.
#[derive(Deserialize)]
pub(super) struct VersionOnly {
    pub version: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub version: Spanned<toml::Value>,
    pub defaults: Option<RawDefaults>,
    #[serde(default)]
    pub tiers: BTreeMap<Spanned<String>, RawTierSettings>,
    #[serde(default)]
    pub rules: Vec<Spanned<RawRule>>,
    pub confidence: Option<Spanned<RawConfidence>>,
    #[serde(default)]
    pub budgets: Vec<Spanned<RawBudget>>,
    pub notify: Option<Spanned<RawNotify>>,
    pub signing: Option<Spanned<RawSigning>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub tier: Option<Spanned<String>>,
    pub approval_ttl: Option<Spanned<String>>,
    pub apply_ttl: Option<Spanned<String>>,
    pub separation_of_duties: Option<bool>,
    pub output_cap: Option<Spanned<i64>>,
    pub dry_run_exit_codes: Option<Spanned<Vec<i32>>>,
    pub dry_run_must_be_read_only: Option<bool>,
    pub dry_run_timeout: Option<Spanned<String>>,
    pub show_env: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTierSettings {
    pub approvals: Option<u32>,
    pub require_dry_run: Option<bool>,
    pub signed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub name: Spanned<String>,
    pub tier: Spanned<String>,
    pub description: Option<String>,
    pub commands: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub unless: Vec<Spanned<String>>,
    pub options: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub defer_to: Vec<Spanned<String>>,
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub dry_run_output: Option<Spanned<String>>,
    pub dry_run_exit_codes: Option<Spanned<Vec<i32>>>,
    #[serde(default)]
    pub examples: Vec<Spanned<String>>,
    #[serde(default)]
    pub not_examples: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfidence {
    pub deny_below: Spanned<f64>,
    pub approve_below: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    pub name: Spanned<String>,
    pub tiers: Spanned<Vec<Spanned<String>>>,
    pub max: Spanned<i64>,
    pub per: Spanned<String>,
    pub rule: Option<Spanned<String>>,
    pub actor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub command: Spanned<Vec<String>>,
    pub timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSigning {
    pub allowed_signers: Spanned<String>,
    pub require_touch: Option<bool>,
}

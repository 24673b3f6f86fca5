//! Policy: which tier a command gets, how many approvals it needs, and the
//! limits around it.
//!
//! A policy is TOML text (the contract's "Policy (TOML)" section). The caller
//! reads the file and hands over its text; [`Policy::parse`] validates
//! everything at once, so a policy that loads is ready to evaluate and every
//! mistake in it is reported with the file, the line and the reason.
//! Evaluation ([`Policy::evaluate`]) is a pure function of the policy and an
//! [`Input`]: nothing here touches the file system, the clock or a process.
//!
//! When no policy file is given, ladder uses [`EMBEDDED_SOURCE`], the
//! commented default in `default.toml`.

mod eval;
mod in_force;
mod load;
mod model;
pub mod pattern;

pub use in_force::{InForce, SYSTEM_POLICY_PATH};
pub use pattern::Pattern;

use crate::tier::Tier;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

/// The default policy, used when the user has none.
pub const EMBEDDED_SOURCE: &str = include_str!("default.toml");
/// The embedded default as [`Policy::parse`] leaves it, serialized: loading
/// this skips the TOML parse and the validation, most of a millisecond's
/// third. Regenerate with `LADDER_BLESS=1 cargo test --lib embedded_policy`;
/// that test fails while it is stale.
const EMBEDDED_COMPILED: &str = include_str!("default.compiled.json");
/// What errors and `policy show` call the embedded default.
pub const EMBEDDED_ORIGIN: &str = "<embedded default policy>";

/// A validated policy, ready to evaluate.
///
/// Serialized (without its source) only for the embedded default's
/// precompiled form; see [`Policy::embedded_checked_at_build`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    #[serde(skip)]
    source: String,
    #[serde(skip)]
    origin: String,
    /// Lowercase hex sha256 of `source`. In the precompiled form it names
    /// the text it was compiled from.
    source_sha256: String,
    defaults: Defaults,
    /// Indexed by `Tier as usize`, the order of `Tier::ALL`.
    tiers: [TierSettings; 5],
    rules: Vec<Rule>,
    budgets: Vec<Budget>,
    notify: Option<Notify>,
    confidence: Option<ConfidenceBands>,
    #[serde(default)]
    signing: Option<Signing>,
}

/// Why a policy was refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyError {
    pub origin: String,
    /// 1-based; `None` when the problem has no line (a missing `version`).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.origin, line, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for PolicyError {}

/// `[defaults]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Defaults {
    /// The tier of commands no rule matches.
    pub tier: Tier,
    /// A plan pending longer than this expires.
    pub approval_ttl: Duration,
    /// An approved plan not applied within this expires.
    pub apply_ttl: Duration,
    /// The actor who planned may not approve.
    pub separation_of_duties: bool,
    /// Bytes kept per recorded stream (`output_cap`).
    pub output_cap: u64,
    /// Dry-run exit codes accepted unless the winning rule says otherwise.
    pub dry_run_exit_codes: Vec<i32>,
    /// A dry-run runs at plan time without approval, so by default its own
    /// command must classify as `read_only` (`dry_run_must_be_read_only`).
    pub dry_run_must_be_read_only: bool,
    /// A dry-run still running after this is killed, and the plan refused
    /// (`dry_run_timeout`).
    pub dry_run_timeout: Duration,
    /// Bound variables that are not secret: their values are kept with a
    /// plan and shown to reviewers (`show_env`). Every other bound value is
    /// kept only as its sha256.
    #[serde(default)]
    pub show_env: Vec<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            tier: Tier::Irreversible,
            approval_ttl: Duration::from_secs(3600),
            apply_ttl: Duration::from_secs(24 * 3600),
            separation_of_duties: true,
            output_cap: 1 << 20,
            dry_run_exit_codes: vec![0],
            dry_run_must_be_read_only: true,
            dry_run_timeout: Duration::from_secs(300),
            show_env: Vec::new(),
        }
    }
}

/// `[tiers.<tier>]`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct TierSettings {
    pub approvals: u32,
    /// Planned without a dry-run: at least one approval.
    pub require_dry_run: bool,
    /// Only approvals signed by a principal of `[signing] allowed_signers`
    /// count (and a `resolve --outcome retry` must be signed).
    #[serde(default)]
    pub signed: bool,
}

impl TierSettings {
    /// What a tier gets when the policy has no `[tiers.<tier>]` for it.
    pub fn default_for(tier: Tier) -> TierSettings {
        let approvals = match tier {
            Tier::ReadOnly | Tier::Reversible | Tier::Deny => 0,
            Tier::Irreversible => 1,
            Tier::Critical => 2,
        };
        TierSettings {
            approvals,
            require_dry_run: false,
            signed: false,
        }
    }
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub tier: Tier,
    pub description: Option<String>,
    /// Any one of these must match the argv.
    pub commands: Vec<Pattern>,
    /// Exceptions: an argv that matches any of these is not this rule's,
    /// whatever `commands` say.
    pub unless: Vec<Pattern>,
    /// An allowlist of option globs: when present, every option argument
    /// (see [`pattern::option_arguments`]) must match one of them, or be a
    /// bundle of short options each listed on its own (`-f` and `-n` allow
    /// `-fn`), or the rule does not match. `Some(empty)` allows no option.
    pub options: Option<Vec<String>>,
    /// Rules of a lower tier this one yields to: when one of them matches
    /// too (its own exceptions and options included), this rule does not
    /// decide. A strict rule defers to the preview of its command that way
    /// without listing, as `unless` would have to, every flag that turns a
    /// preview back into the real thing.
    #[serde(default)]
    pub defer_to: Vec<String>,
    /// Variable name and a glob over its value; all must hold, sorted by name.
    pub env: Vec<(String, String)>,
    /// Must match the dry-run's stdout; without a dry-run the rule cannot match.
    #[serde(with = "regex_text")]
    pub dry_run_output: Option<LazyRegex>,
    /// Overrides `[defaults]` for plans this rule wins.
    pub dry_run_exit_codes: Option<Vec<i32>>,
    pub examples: Vec<String>,
    pub not_examples: Vec<String>,
    /// 1-based line of the rule's `[[rules]]` header.
    pub line: usize,
}

/// One `[[budgets]]` entry: at most `max` applies of plans in `tiers` per
/// `per`, optionally only those won by `rule` or planned by `actor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Budget {
    pub name: String,
    pub tiers: Vec<Tier>,
    pub max: u32,
    pub per: Duration,
    pub rule: Option<String>,
    pub actor: Option<String>,
}

/// `[notify]`: a command run with the plan JSON on stdin when a plan waits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notify {
    pub command: Vec<String>,
    pub timeout: Duration,
}

/// `[signing]`: whose signatures count on a tier with `signed = true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signing {
    /// An OpenSSH allowed_signers file; a relative path is taken from the
    /// policy file's directory.
    pub allowed_signers: std::path::PathBuf,
    /// Only a hardware key's signature made with a touch counts: an agent
    /// that can use an unlocked ssh-agent still needs a person's finger.
    pub require_touch: bool,
}

/// `[confidence]`: what an actor's `--confidence` does to a plan.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ConfidenceBands {
    pub deny_below: f64,
    pub approve_below: f64,
}

/// What a plan is evaluated on.
pub struct Input<'a> {
    pub argv: &'a [OsString],
    /// The planning process's environment.
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
    /// `None`: planned without `--dry-run`.
    pub dry_run: Option<DryRunFacts<'a>>,
    /// Already validated to be in `0..=1`.
    pub confidence: Option<f64>,
}

/// What the dry-run did.
pub struct DryRunFacts<'a> {
    pub exit_code: i32,
    pub stdout: &'a [u8],
}

/// The policy's verdict on one plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    pub tier: Tier,
    /// The winning rule; `None` when `[defaults]` tier applied.
    pub rule: Option<String>,
    /// 0 when denied.
    pub approvals_required: u32,
    /// Why the plan must be denied, if it must.
    pub denied: Option<String>,
    /// Every rule that matched, in file order.
    pub matched: Vec<RuleMatch>,
    /// Every rule that would have matched but for its `unless` or
    /// `options`, in file order.
    pub skipped: Vec<RuleSkip>,
    /// How tier and approvals were decided, one sentence each.
    pub reasons: Vec<String>,
    /// The dry-run exit codes accepted for this plan.
    pub dry_run_exit_codes: Vec<i32>,
}

/// One rule that matched, and how.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleMatch {
    pub rule: String,
    pub tier: Tier,
    /// The first of the rule's command patterns that matched.
    pub pattern: String,
    /// One phrase per env or dry-run output condition that held.
    pub conditions: Vec<String>,
}

/// One rule whose commands and conditions held but whose `unless` or
/// `options` took the command out of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleSkip {
    pub rule: String,
    pub tier: Tier,
    /// One sentence: which exception or which option.
    pub why: String,
}

impl Policy {
    /// The embedded default policy.
    pub fn embedded() -> Policy {
        // A unit test loads it, so this cannot fail in a released binary.
        Policy::embedded_checked_at_build()
            .unwrap_or_else(|e| panic!("the embedded default policy is invalid: {e}"))
    }

    /// The embedded default, from its precompiled form: what
    /// `Policy::parse` made of the same text, examples checked, when the test
    /// suite last blessed it (a stale form fails the suite, so none can
    /// ship). This keeps the TOML parse and the validation, a third of a
    /// millisecond, off every command's path.
    ///
    /// Should a binary ever be built from a `default.toml` the form was not
    /// compiled from (edited, not re-blessed, tests not run), the hashes
    /// differ and the text is parsed instead: slower, never stale.
    pub fn embedded_checked_at_build() -> Result<Policy, PolicyError> {
        Policy::from_compiled(EMBEDDED_COMPILED, EMBEDDED_SOURCE, EMBEDDED_ORIGIN)
    }

    /// `compiled` if it was compiled from `source`, else `source` parsed.
    fn from_compiled(compiled: &str, source: &str, origin: &str) -> Result<Policy, PolicyError> {
        match serde_json::from_str::<Policy>(compiled) {
            Ok(mut policy) if policy.source_sha256 == source_sha256(source) => {
                policy.source = source.to_string();
                policy.origin = origin.to_string();
                Ok(policy)
            }
            _ => Policy::parse(source, origin),
        }
    }

    /// Parses and validates policy text, examples included; `origin` names
    /// it in errors (normally the file's path).
    pub fn parse(source: &str, origin: &str) -> Result<Policy, PolicyError> {
        load::load(source, origin)
    }

    /// The text the policy was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the text came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Lowercase hex sha256 of the source bytes, recorded in every plan.
    pub fn sha256(&self) -> String {
        self.source_sha256.clone()
    }

    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    pub fn tier_settings(&self, tier: Tier) -> TierSettings {
        self.tiers[tier as usize]
    }

    /// In file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn budgets(&self) -> &[Budget] {
        &self.budgets
    }

    pub fn notify(&self) -> Option<&Notify> {
        self.notify.as_ref()
    }

    pub fn confidence(&self) -> Option<&ConfidenceBands> {
        self.confidence.as_ref()
    }

    pub fn signing(&self) -> Option<&Signing> {
        self.signing.as_ref()
    }

    /// Decides tier, winning rule and approvals for a plan.
    pub fn evaluate(&self, input: &Input) -> Evaluation {
        eval::evaluate(self, input)
    }

    /// The variables named in `env` conditions of the rules whose command
    /// patterns match `argv`, whether the conditions hold or not.
    pub fn condition_env_names(&self, argv: &[OsString]) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| !r.env.is_empty() && r.commands.iter().any(|p| p.matches(argv)))
            .flat_map(|r| r.env.iter().map(|(name, _)| name.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests;

/// Lowercase hex sha256 of policy text.
fn source_sha256(source: &str) -> String {
    crate::digest::sha256_hex(source.as_bytes())
}

/// A rule's `dry_run_output` regex, compiled the first time a dry-run is
/// matched against it. Every command loads the policy, and compiling the
/// embedded default's one regex cost a third of loading it (BENCHMARKS.md,
/// *Policy load*) for commands that never give a rule a dry-run to look at.
/// [`Policy::parse`] compiles each at once, so a bad one is refused at load;
/// the embedded default's precompiled form holds only text that parse
/// compiled.
#[derive(Debug, Clone)]
pub struct LazyRegex {
    text: String,
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

impl LazyRegex {
    /// A regex compiled already (and so known to be valid).
    pub fn compiled(regex: regex::Regex) -> LazyRegex {
        LazyRegex {
            text: regex.as_str().to_string(),
            compiled: std::sync::OnceLock::from(Some(regex)),
        }
    }

    /// Text compiled when first matched.
    fn later(text: String) -> LazyRegex {
        LazyRegex {
            text,
            compiled: std::sync::OnceLock::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it matches `haystack`. Text that does not compile (which
    /// parse would have refused) matches everything: the rule then holds
    /// whenever its commands do, never less often than written.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.compiled
            .get_or_init(|| regex::Regex::new(&self.text).ok())
            .as_ref()
            .is_none_or(|re| re.is_match(haystack))
    }
}

/// `Option<LazyRegex>` as its pattern text.
mod regex_text {
    use super::LazyRegex;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(re: &Option<LazyRegex>, s: S) -> Result<S::Ok, S::Error> {
        match re {
            Some(re) => s.serialize_some(re.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LazyRegex>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(LazyRegex::later))
    }
}

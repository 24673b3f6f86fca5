//! The records ladder keeps: plans, approvals, executions and ledger events.
//!
//! These are plain data. The store reads and writes them; `gate` decides on
//! them; `render` turns them into cards, tables and the contract's JSON.
//! Times are milliseconds since the Unix epoch, UTC ([`Millis`]).

use crate::binding::Binding;
use crate::tier::Tier;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Where a plan is on the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Approved,
    Running,
    Applied,
    Rejected,
    Expired,
    Denied,
    Cancelled,
    Interrupted,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Pending,
        Status::Approved,
        Status::Running,
        Status::Applied,
        Status::Rejected,
        Status::Expired,
        Status::Denied,
        Status::Cancelled,
        Status::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Running => "running",
            Status::Applied => "applied",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Denied => "denied",
            Status::Cancelled => "cancelled",
            Status::Interrupted => "interrupted",
        }
    }

    /// A plan in one of these states still owns its key: planning the same
    /// key with different content is a `key_conflict`. The others ended
    /// without running, so the key may be planned afresh.
    pub fn holds_key(self) -> bool {
        !matches!(
            self,
            Status::Rejected | Status::Expired | Status::Denied | Status::Cancelled
        )
    }

    /// States that expire when their window passes.
    pub fn can_expire(self) -> bool {
        matches!(self, Status::Pending | Status::Approved)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown status `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// A dry-run as captured at plan time.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    pub command: Vec<OsString>,
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_sha256: String,
    pub stderr_sha256: String,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub truncated: bool,
}

/// One reviewer's approval of one exact plan hash.
///
/// The approval names the hash it approves rather than only the plan, so
/// its signature, when it has one, is over `(plan id, hash, principal, at,
/// policy)` and is checked without trusting the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// Who approved; for a signed approval, the signer's principal.
    pub actor: String,
    pub at: Millis,
    pub comment: Option<String>,
    pub hash: String,
    pub signature: Option<Signature>,
    /// Not stored: what checking the signature against the policy in force
    /// found, when a rung checked it.
    pub check: Check,
}

/// An OpenSSH signature (SSHSIG, namespace `ladder-approval-v1`) over a
/// decision's payload (see [`crate::signing::payload`]). The payload is not
/// stored: it is rebuilt from the decision's fields, so an edited field
/// breaks the signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// `-----BEGIN SSH SIGNATURE-----` ...
    pub armored: String,
    /// The sha256 of the policy in force when it was signed (signed too).
    pub policy_sha256: String,
}

/// What checking a decision's signature found.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Check {
    /// Not checked (no signature, or no rung needed to know).
    #[default]
    Unchecked,
    /// A valid signature by the decision's principal, who the policy's
    /// allowed_signers lets sign; the signing key's fingerprint.
    Valid(String),
    /// A signature that does not count, and why.
    Invalid(String),
}

impl Check {
    pub fn is_valid(&self) -> bool {
        matches!(self, Check::Valid(_))
    }

    /// The fingerprint of the key behind a valid signature.
    pub fn key(&self) -> Option<&str> {
        match self {
            Check::Valid(key) => Some(key),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub actor: String,
    pub reason: String,
    pub at: Millis,
    pub signature: Option<Signature>,
}

/// A plan withdrawn before it ran, by its planner or a reviewer.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancellation {
    pub actor: String,
    pub reason: Option<String>,
    pub at: Millis,
}

/// How a person settled an interrupted plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Retry,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Retry => "retry",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub actor: String,
    pub outcome: Outcome,
    pub reason: String,
    pub at: Millis,
    pub signature: Option<Signature>,
}

/// One run of a plan's command. A plan has at most one execution, except
/// after `resolve --outcome retry`, which permits exactly one more.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub plan: String,
    pub key: String,
    pub attempt: u32,
    pub actor: String,
    pub pid: Option<u32>,
    pub started_at: Millis,
    /// `None` while running, or when ladder died before recording the end.
    pub finished_at: Option<Millis>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub stdout_sha256: Option<String>,
    pub stderr_sha256: Option<String>,
    pub truncated: bool,
    /// Set when a person settled an interrupted run with `resolve`.
    pub resolution: Option<Resolution>,
}

impl Execution {
    /// An attempt that has started and recorded nothing else yet.
    pub fn started(plan: &Plan, attempt: u32, actor: &str, at: Millis) -> Execution {
        Execution {
            plan: plan.id.clone(),
            key: plan.key.clone(),
            attempt,
            actor: actor.to_string(),
            pid: None,
            started_at: at,
            finished_at: None,
            exit_code: None,
            signal: None,
            timed_out: false,
            stdout: vec![],
            stderr: vec![],
            stdout_bytes: 0,
            stderr_bytes: 0,
            stdout_sha256: None,
            stderr_sha256: None,
            truncated: false,
            resolution: None,
        }
    }
}

/// A plan: a proposed command with its context, decisions and outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The store's row number. Internal: used to name the plan's run lock.
    pub seq: i64,
    pub id: String,
    pub key: String,
    pub hash: String,
    pub status: Status,
    pub tier: Tier,
    pub rule: Option<String>,
    pub approvals_required: u32,
    pub approvals: Vec<Approval>,
    pub command: Vec<OsString>,
    pub cwd: PathBuf,
    /// Bound variable → sha256 hex of its value at plan time (`None`: unset).
    pub env: BTreeMap<String, Option<String>>,
    /// The values of bound variables the policy says are not secret
    /// (`show_env`), for reviewers; each is shown only while its sha256 is
    /// the one bound in `env`.
    pub env_shown: BTreeMap<String, String>,
    pub dry_run: Option<DryRun>,
    /// Dry-run exit codes accepted for this plan (policy and `--dry-run-ok`).
    pub dry_run_ok: Vec<i32>,
    pub reason: Option<String>,
    pub target: Option<String>,
    pub effect: Option<String>,
    pub rollback: Option<String>,
    pub confidence: Option<f64>,
    pub actor: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub rejection: Option<Rejection>,
    pub cancellation: Option<Cancellation>,
    pub execution: Option<Execution>,
    pub policy_sha256: String,
    /// What the caller said about itself (model, run, trace): kept with the
    /// plan and its `planned` event, outside the hash.
    pub meta: BTreeMap<String, String>,
    /// The plan whose recorded `--rollback` this plan runs.
    pub rollback_of: Option<String>,
    /// Not stored: the newest plan that rolls this one back, read with it.
    pub rollback_plan: Option<String>,
    /// How policy decided tier and approvals, in sentences.
    pub decision: Vec<String>,
    /// Applies still permitted after a `resolve --outcome retry`.
    pub retry_allowed: bool,
    /// The program, script and directory the hash binds (version 2);
    /// `None` for a plan hashed in version 1, which bound only the argv.
    pub binding: Option<Binding>,
    /// The verdict the plan was made under, when a stricter policy in
    /// force at apply raised it (`tier`, `rule` and `approvals_required`
    /// are then the raised verdict).
    pub escalated_from: Option<Verdict>,
    /// Not stored: a stricter verdict than this plan's that the policy in
    /// force gives it now, when a command looked (`show`, `approve`); apply
    /// will raise the plan to it.
    pub in_force: Option<Verdict>,
    /// Not stored: the policy in force requires signed decisions on this
    /// plan's tier, so only approvals whose [`Check`] is valid count. Set
    /// by the rung that checked them (see `signing::judge`).
    pub signatures_required: bool,
}

/// A policy's verdict on a plan, as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    pub tier: Tier,
    pub rule: Option<String>,
    pub approvals_required: u32,
    pub policy_sha256: String,
}

impl Plan {
    /// Distinct actors who approved the current hash.
    pub fn approvals_counted(&self) -> u32 {
        self.approvals_counted_under(false)
    }

    /// Distinct reviewers who approved the current hash; under separation
    /// of duties the planner is never among them. `approve` refuses the
    /// planner then, so an approval in the planner's name is one nobody
    /// could have given through ladder, and it does not count. Names that
    /// people cannot tell apart (`alice` and `аlice`) are one reviewer
    /// ([`crate::names::identity`]). When the plan's tier needs signatures,
    /// only approvals with a valid one count.
    pub fn approvals_counted_under(&self, separation_of_duties: bool) -> u32 {
        let planner = crate::names::identity(&self.actor);
        let mut reviewers: Vec<String> = Vec::new();
        // On a signed tier one key is also one reviewer, however many
        // principals allowed_signers lets it sign as (`alice,ops KEY`, or a
        // `*` pattern): in order, an approval counts when neither its
        // principal nor its key counted before.
        let mut keys: Vec<&str> = Vec::new();
        for a in self.approvals.iter().filter(|a| a.hash == self.hash) {
            let who = crate::names::identity(&a.actor);
            if (separation_of_duties && who == planner) || reviewers.contains(&who) {
                continue;
            }
            if self.signatures_required {
                let Check::Valid(key) = &a.check else {
                    continue;
                };
                if keys.contains(&key.as_str()) {
                    continue;
                }
                keys.push(key);
            }
            reviewers.push(who);
        }
        reviewers.len() as u32
    }

    pub fn approvals_missing(&self) -> u32 {
        self.approvals_required
            .saturating_sub(self.approvals_counted())
    }

    /// The hash of what is stored: argv, directory, bound environment,
    /// binding and dry-run, in the plan's own hash version. Apply compares
    /// it with `hash` before it trusts the row (the state file is input).
    pub fn content_hash(&self) -> String {
        crate::plan_hash::digest(&crate::plan_hash::HashInput {
            key: &self.key,
            argv: &self.command,
            cwd: &self.cwd,
            env: &self.env,
            dry_run: self
                .dry_run
                .as_ref()
                .map(|d| crate::plan_hash::DryRunDigest {
                    argv: &d.command,
                    exit_code: d.exit_code,
                    stdout_sha256: &d.stdout_sha256,
                    stderr_sha256: &d.stderr_sha256,
                }),
            binding: self.binding.as_ref(),
        })
    }

    /// A bound variable's value to show reviewers: kept because the policy
    /// showed it, and still the value whose digest the hash binds (a value
    /// edited in the state file is not shown).
    pub fn shown_value(&self, name: &str) -> Option<&str> {
        let value = self.env_shown.get(name)?;
        let bound = self.env.get(name)?.as_deref()?;
        (crate::plan_hash::sha256_hex(value.as_bytes()) == bound).then_some(value.as_str())
    }

    /// The first 8 characters of the id: what people type.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }
}

/// The first 8 characters of an id.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// What `log --verify` compares of a plan row with the ledger (see
/// [`crate::audit`]): the columns a rewrite would change to run something
/// unreviewed, without the plan's outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    pub id: String,
    pub hash: String,
    /// As stored, unparsed: a row is checked, not trusted.
    pub status: String,
    pub tier: String,
    pub approvals_required: u32,
    pub command: Vec<OsString>,
}

/// A ledger event as stored: chained to its predecessor by `prev_hash`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub at: Millis,
    pub kind: String,
    pub plan: Option<String>,
    pub key: Option<String>,
    pub actor: String,
    /// The detail object exactly as hashed: compact JSON with sorted keys.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// An event before the store gives it a place in the chain.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: Millis,
    pub kind: &'static str,
    pub plan: Option<String>,
    pub key: Option<String>,
    pub actor: String,
    pub detail: serde_json::Value,
}

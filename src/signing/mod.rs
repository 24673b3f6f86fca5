//! Signed decisions: approvals, rejections and resolutions signed with SSH
//! keys the agent does not hold, checked offline against the policy's
//! OpenSSH allowed_signers file, the way git checks signed commits.
//!
//! A reviewer signs a [`payload::Decision`] (which decision, plan, hash,
//! principal, time, policy) with `--sign KEY`; ladder checks the signature
//! at once ([`sign`]) and again wherever it counts ([`judge`] at approve
//! and apply, and `log --verify`), always from the stored signature and
//! the fields it signs, never from a flag in the state file.
//!
//! What is where: `payload.rs` the signed text, `sshsig.rs` reading and
//! checking a signature, `allowed_signers.rs` whose keys count as whom,
//! `key.rs` and `agent.rs` the signing side.

pub mod agent;
pub mod allowed_signers;
mod key;
pub mod payload;
mod sshsig;

pub use key::SignWith;
pub use payload::{Checkpoint, Decision, Kind as DecisionKind, NAMESPACE};

use crate::error::{Error, Kind, Result};
use crate::model::{Check, Millis, Plan, Signature};
use crate::policy::{InForce, Signing};
use allowed_signers::AllowedSigners;
use std::path::{Path, PathBuf};

/// The largest allowed_signers file read.
const MAX_SIGNERS_BYTES: u64 = 4 << 20;

/// Whose signatures count: the policy's allowed_signers, read and parsed.
pub struct Trust {
    signers: AllowedSigners,
    require_touch: bool,
    path: PathBuf,
}

/// A valid signature: the key that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid {
    /// SHA256 fingerprint, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The allowed_signers line that lets the key sign as its principal.
    pub line: usize,
}

impl Trust {
    /// The policy in force's trust, when it has `[signing]`.
    pub fn of(policy: &InForce) -> Result<Option<Trust>> {
        policy.signing().map(|s| Trust::load(&s)).transpose()
    }

    /// Reads and parses `[signing] allowed_signers`. A file that cannot be
    /// read or does not parse is a usage error naming the file and line:
    /// the team's trust roots fail closed, never as "nobody is trusted"
    /// silently.
    pub fn load(signing: &Signing) -> Result<Trust> {
        let path = &signing.allowed_signers;
        let text = read_signers(path)?;
        let signers = AllowedSigners::parse(&text)
            .map_err(|e| Error::usage(format!("{}:{}: {}", path.display(), e.line, e.message)))?;
        Ok(Trust {
            signers,
            require_touch: signing.require_touch,
            path: path.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks `armored` as `principal`'s signature over `payload`, made at
    /// `at`: a valid SSH signature in ladder's namespace, by a key (or a
    /// certificate) allowed_signers lets sign as `principal` at that time,
    /// touched when it is a hardware key (and a hardware key when the
    /// policy requires a touch). The reason, in one line, when it is not.
    pub fn verify(
        &self,
        payload: &str,
        principal: &str,
        at: Millis,
        armored: &str,
    ) -> std::result::Result<Valid, String> {
        let sig = sshsig::parse(armored)?;
        sig.verify(NAMESPACE, payload.as_bytes())?;
        match sig.touched() {
            Some(false) => {
                return Err("the hardware key signed without a touch (user presence)".into());
            }
            None if self.require_touch => {
                return Err(format!(
                    "[signing] require_touch: only a hardware key's touch counts, and {} is not a hardware key",
                    sig.fingerprint()
                ));
            }
            _ => {}
        }
        let line = self
            .signers
            .check(principal, &sig.signer, NAMESPACE, at.div_euclid(1000))?;
        Ok(Valid {
            fingerprint: sig.fingerprint(),
            line,
        })
    }

    /// Checks a stored decision's signature: the payload is rebuilt from
    /// the decision's own fields and the policy digest kept with it.
    pub fn check(&self, decision: &Decision, signature: &Signature) -> Check {
        let decision = Decision {
            policy_sha256: &signature.policy_sha256,
            ..decision.clone()
        };
        match self.verify(
            &decision.payload(),
            decision.principal,
            decision.at,
            &signature.armored,
        ) {
            Ok(valid) => Check::Valid(valid.fingerprint),
            Err(why) => Check::Invalid(why),
        }
    }

    /// The principal a key signs as: `wanted` (the actor named with
    /// `--actor` or `LADDER_ACTOR`) when allowed_signers lets the key sign
    /// as it, else the one principal its lines name.
    fn principal_for(
        &self,
        key: &ssh_key::public::KeyData,
        wanted: Option<&str>,
        at: Millis,
    ) -> Result<String> {
        let (names, patterns) = self
            .signers
            .principals_for(key, NAMESPACE, at.div_euclid(1000));
        let print = fingerprint(key);
        match wanted {
            Some(w) if names.iter().any(|n| n == w) || patterns => Ok(w.to_string()),
            Some(w) => {
                // A line that names the key for them but refuses (its
                // window, its namespaces) says why better than "not listed".
                let plain = allowed_signers::SignerKey::Plain(key.clone());
                let why = match self.signers.check(w, &plain, NAMESPACE, at.div_euclid(1000)) {
                    Err(why) => why,
                    Ok(_) => "it is listed only for other times or namespaces".to_string(),
                };
                Err(Error::new(
                    Kind::NotAllowed,
                    format!("key {print} may not sign as {w}: {why} ({})", self.path.display()),
                ))
            }
            None => match names.as_slice() {
                [one] => Ok(one.clone()),
                [] if patterns => Err(Error::usage(format!(
                    "key {print} signs for a pattern of principals in {}: name yours with --actor",
                    self.path.display()
                ))),
                [] => Err(Error::new(
                    Kind::NotAllowed,
                    format!(
                        "key {print} is not in {} (or not valid now, or not for namespace {NAMESPACE})",
                        self.path.display()
                    ),
                )
                .with_hint("nothing was recorded; ask for your key to be listed there")),
                many => Err(Error::usage(format!(
                    "key {print} may sign as any of {}: choose with --actor",
                    many.join(", ")
                ))),
            },
        }
    }
}

fn fingerprint(key: &ssh_key::public::KeyData) -> String {
    ssh_key::PublicKey::from(key.clone())
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string()
}

fn read_signers(path: &Path) -> Result<String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let cannot = |why: String| {
        Error::usage(format!(
            "cannot read allowed_signers {}: {why}",
            path.display()
        ))
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| cannot(e.to_string()))?;
    let meta = file.metadata().map_err(|e| cannot(e.to_string()))?;
    if !meta.is_file() {
        return Err(cannot("not a regular file".into()));
    }
    let mut text = String::new();
    file.take(MAX_SIGNERS_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| cannot(e.to_string()))?;
    if text.len() as u64 > MAX_SIGNERS_BYTES {
        return Err(cannot(format!(
            "larger than {} MiB",
            MAX_SIGNERS_BYTES >> 20
        )));
    }
    Ok(text)
}

/// A signature made for one decision, checked before it is returned.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Who signed: the decision's actor from now on.
    pub principal: String,
    /// When: the decision's time.
    pub at: Millis,
    pub signature: Signature,
    pub fingerprint: String,
}

/// Signs a decision with the key `with` names: finds the signer's
/// principal, builds the payload (`payload` gets the principal), signs,
/// and checks the result as [`Trust::verify`] will later. A signature that
/// would not count is refused here (`not_allowed`), before anything is
/// recorded.
pub fn sign(
    trust: &Trust,
    with: &SignWith,
    wanted: Option<&str>,
    at: Millis,
    policy_sha256: &str,
    payload: &dyn Fn(&str) -> String,
) -> Result<Signed> {
    let allowed = |k: &ssh_key::public::KeyData| {
        let (names, patterns) = trust
            .signers
            .principals_for(k, NAMESPACE, at.div_euclid(1000));
        !names.is_empty() || patterns
    };
    let mut key = key::open(with, &allowed)?;
    let principal = trust.principal_for(key.public(), wanted, at)?;
    let text = payload(&principal);
    let sig = key.sign(text.as_bytes())?;
    let armored = sshsig::armor(&sig).map_err(|e| Error::new(Kind::Error, e))?;
    let valid = trust
        .verify(&text, &principal, at, &armored)
        .map_err(|why| {
            Error::new(
                Kind::NotAllowed,
                format!("the signature by {principal} does not count: {why}"),
            )
            .with_hint("nothing was recorded")
        })?;
    Ok(Signed {
        principal,
        at,
        signature: Signature {
            armored,
            policy_sha256: policy_sha256.to_string(),
        },
        fingerprint: valid.fingerprint,
    })
}

/// Checks a plan's approvals against the policy in force: marks whether
/// its tier needs signatures (then only valid ones count) and checks each
/// signed approval. Every rung that counts approvals judges the plan first;
/// an approval's `check` is never read from the store.
/// The tier is the stricter of the plan's and the policy in force's verdict
/// when one was noted (see `rungs::note_in_force`).
pub fn judge(plan: &mut Plan, policy: &InForce, trust: Option<&Trust>) {
    let tier = plan
        .in_force
        .as_ref()
        .map_or(plan.tier, |v| v.tier.max(plan.tier));
    plan.signatures_required = policy.signed(tier);
    let (id, hash) = (plan.id.clone(), plan.hash.clone());
    for a in &mut plan.approvals {
        a.check = match (&a.signature, trust) {
            (None, _) => Check::Unchecked,
            (Some(_), None) => {
                Check::Invalid("the policy in force has no [signing] allowed_signers".into())
            }
            (Some(sig), Some(trust)) if a.hash == hash => trust.check(
                &Decision {
                    kind: DecisionKind::Approve,
                    plan: &id,
                    hash: &a.hash,
                    principal: &a.actor,
                    at: a.at,
                    policy_sha256: "",
                    note: a.comment.as_deref(),
                },
                sig,
            ),
            (Some(_), Some(_)) => Check::Invalid("it approves another hash".into()),
        };
    }
}

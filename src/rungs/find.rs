//! How a request names a plan: by id or a unique prefix of one, or by its
//! idempotency key; and the checks on what names it.

use crate::error::{Error, Kind, Result};
use crate::model::Plan;
use crate::store::Tx;

/// How a command names a plan: by id (or unique prefix), or by its key.
#[derive(Debug, Clone)]
pub enum PlanRef {
    Id(String),
    Key(String),
}

impl PlanRef {
    /// From a command's `PLAN` argument and `--key` flag (PLAN wins).
    pub fn from_args(plan: Option<&String>, key: Option<&String>) -> Option<PlanRef> {
        match (plan, key) {
            (Some(p), _) => Some(PlanRef::Id(p.clone())),
            (None, Some(k)) => Some(PlanRef::Key(k.clone())),
            (None, None) => None,
        }
    }

    pub fn find(&self, tx: &mut dyn Tx) -> Result<Plan> {
        match self {
            PlanRef::Id(id) => find_plan(tx, id),
            PlanRef::Key(k) => find_by_key(tx, k),
        }
    }

    /// The key, when the plan was named by it (for refusal events).
    pub fn key(&self) -> Option<&str> {
        match self {
            PlanRef::Key(k) => Some(k),
            PlanRef::Id(_) => None,
        }
    }
}

/// How many plans an ambiguous prefix names, at most, in its error.
const CANDIDATES: usize = 10;

/// Finds a plan by id or unique id prefix (4 characters or more, like git).
/// An ambiguous prefix names the plans it could mean, as git does.
pub fn find_plan(tx: &mut dyn Tx, wanted: &str) -> Result<Plan> {
    let wanted = wanted.trim().to_ascii_lowercase();
    if wanted.len() < 4 {
        return Err(Error::usage(format!(
            "plan id `{wanted}` is too short: give at least 4 characters"
        )));
    }
    let ids = tx.plan_ids_with_prefix(&wanted, CANDIDATES + 1)?;
    match ids.as_slice() {
        [] => Err(
            Error::new(Kind::NotFound, format!("no plan with id `{wanted}`"))
                .with_hint("list plans with `ladder list --status all`"),
        ),
        [id] => tx
            .plan(id)?
            .ok_or_else(|| Error::new(Kind::NotFound, format!("no plan with id `{wanted}`"))),
        _ => {
            let mut named: Vec<&str> = ids.iter().take(CANDIDATES).map(String::as_str).collect();
            if ids.len() > CANDIDATES {
                named.push("...");
            }
            Err(Error::usage(format!(
                "plan id `{wanted}` is ambiguous: it starts {}",
                named.join(", ")
            ))
            .with_hint("give more characters")
            .with_extra(serde_json::json!({ "candidates": &ids[..ids.len().min(CANDIDATES)] })))
        }
    }
}

/// The plan that currently holds `key` (its newest plan).
pub fn find_by_key(tx: &mut dyn Tx, key: &str) -> Result<Plan> {
    tx.latest_plan_for_key(key)?.ok_or_else(|| {
        Error::new(Kind::NotFound, format!("no plan for key `{key}`"))
            .with_hint("plan it first with `ladder plan --key ...`")
    })
}

/// A `--hash` argument as compared: surrounding space and letter case
/// ignored. A wrong or partial hash is the gate's `hash_mismatch`.
pub fn normalize_hash(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

/// Validates an idempotency key: 1 to 255 printable characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > 255 {
        return Err(Error::usage("a key must be 1 to 255 characters"));
    }
    if key.chars().any(crate::text::is_unprintable) {
        return Err(Error::usage(
            "a key may not contain control, bidirectional or invisible characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_and_bounded() {
        assert!(check_key("deploy-2026-11-21 #3").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
        assert!(check_key(&"k".repeat(255)).is_ok());
        assert!(check_key(&"é".repeat(255)).is_ok(), "characters, not bytes");
        assert!(check_key("a\nb").is_err());
        assert!(check_key("a\u{7f}b").is_err());
    }
}

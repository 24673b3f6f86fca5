//! Blast-radius tiers, ordered from harmless to forbidden.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How much damage a command can do. The derived `Ord` is strictness:
/// when several policy rules match, the greatest tier wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    ReadOnly,
    Reversible,
    Irreversible,
    Critical,
    Deny,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::ReadOnly,
        Tier::Reversible,
        Tier::Irreversible,
        Tier::Critical,
        Tier::Deny,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::ReadOnly => "read_only",
            Tier::Reversible => "reversible",
            Tier::Irreversible => "irreversible",
            Tier::Critical => "critical",
            Tier::Deny => "deny",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown tier `{s}` (expected one of: read_only, reversible, irreversible, critical, deny)"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness_order_matches_the_contract() {
        assert!(Tier::Deny > Tier::Critical);
        assert!(Tier::Critical > Tier::Irreversible);
        assert!(Tier::Irreversible > Tier::Reversible);
        assert!(Tier::Reversible > Tier::ReadOnly);
    }

    #[test]
    fn names_round_trip() {
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>().unwrap(), t);
        }
        assert!("readonly".parse::<Tier>().is_err());
    }
}

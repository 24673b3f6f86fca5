//! Time and ids: the clock and the id source (both fixable for tests), and
//! the time formats people and scripts see.

use crate::model::Millis;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Where "now" comes from. `LADDER_NOW` (an RFC 3339 time) fixes it, so
/// snapshot tests and demos are reproducible.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(Millis),
    /// This machine's clock moved to a server's: a shared state's windows
    /// and budgets run on one clock whichever host asks
    /// ([`crate::store::Store::clock_offset`]).
    Offset(Millis),
}

impl Clock {
    pub fn now(&self) -> Millis {
        let system = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as Millis)
                .unwrap_or(0)
        };
        match self {
            Clock::Fixed(ms) => *ms,
            Clock::System => system(),
            Clock::Offset(offset) => system() + offset,
        }
    }
}

/// `2026-11-21T04:18:30.123Z`: RFC 3339, UTC, always milliseconds, so the
/// strings sort as the times do.
pub fn rfc3339(ms: Millis) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| format!("@{ms}ms"))
}

/// Parses an RFC 3339 time with any offset.
pub fn parse_rfc3339(text: &str) -> Result<Millis, String> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as Millis)
        .map_err(|e| format!("invalid RFC 3339 time `{text}`: {e}"))
}

/// `--since`: a duration back from now (`2h`) or an RFC 3339 time.
pub fn parse_since(text: &str, now: Millis) -> Result<Millis, String> {
    if let Ok(d) = crate::duration::parse(text) {
        return Ok(now - d.as_millis() as Millis);
    }
    let t = text.trim();
    let date_only = t.len() == 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-';
    if date_only {
        if let Ok(ms) = parse_rfc3339(&format!("{t}T00:00:00Z")) {
            return Ok(ms);
        }
    }
    parse_rfc3339(text).map_err(|_| {
        format!("invalid --since `{text}`: expected a duration like `2h` or an RFC 3339 time like `2026-01-31T09:00:00Z`")
    })
}

/// "in 42m" / "3m ago" / "now", for people.
pub fn relative(then: Millis, now: Millis) -> String {
    let delta = then - now;
    let d = Duration::from_millis(delta.unsigned_abs());
    if d < Duration::from_secs(1) {
        "now".into()
    } else if delta > 0 {
        format!("in {}", crate::duration::short(d))
    } else {
        format!("{} ago", crate::duration::short(d))
    }
}

pub fn millis(d: Duration) -> Millis {
    d.as_millis().min(i64::MAX as u128) as Millis
}

/// Where ids come from: random UUIDs, or, with `LADDER_TEST_ID_SEED`, UUIDs
/// derived from the seed and what is being named (reproducible tests).
#[derive(Debug, Clone)]
pub struct IdSource {
    seed: Option<String>,
}

impl IdSource {
    /// Random ids, or with a seed, ids derived from it.
    pub fn new(seed: Option<String>) -> IdSource {
        IdSource { seed }
    }

    pub fn new_id(&self, material: &str) -> String {
        match &self.seed {
            None => uuid::Uuid::new_v4().to_string(),
            Some(seed) => {
                let digest = crate::plan_hash::sha256_hex(format!("{seed}\0{material}").as_bytes());
                let mut bytes = [0u8; 16];
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = u8::from_str_radix(&digest[i * 2..i * 2 + 2], 16).unwrap_or(0);
                }
                uuid::Builder::from_random_bytes(bytes)
                    .into_uuid()
                    .to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rfc3339() {
        let ms = 1_795_000_000_123;
        let s = rfc3339(ms);
        assert_eq!(s, "2026-11-18T11:06:40.123Z");
        assert_eq!(parse_rfc3339(&s).unwrap(), ms);
        assert_eq!(parse_rfc3339("2026-11-18T12:06:40.123+01:00").unwrap(), ms);
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn since_takes_durations_and_times() {
        let now = 10_000_000;
        assert_eq!(parse_since("2h", now).unwrap(), now - 7_200_000);
        assert_eq!(parse_since("1970-01-01T00:00:01Z", now).unwrap(), 1000);
        assert_eq!(parse_since("1970-01-02", now).unwrap(), 86_400_000);
        assert!(
            parse_since("last tuesday", now)
                .unwrap_err()
                .contains("--since")
        );
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(60_000 * 42, 0), "in 42m");
        assert_eq!(relative(0, 180_000), "3m ago");
        assert_eq!(relative(500, 0), "now");
    }
}

//! Human durations (`90s`, `15m`, `1h30m`, `2d`) as used by the policy and
//! by `--wait`, `--timeout` and `--since`.

use std::time::Duration;

/// Parses a duration such as `30s`, `15m`, `1h 30m` or `2d`.
///
/// A bare number is refused: `--timeout 30` is ambiguous between seconds and
/// minutes, and guessing wrong on a production command is worse than asking.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(ladder::duration::parse("1h 30m"), Ok(Duration::from_secs(5400)));
/// assert!(ladder::duration::parse("30").is_err());
/// ```
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "duration `{t}` needs a unit, for example `{t}s`, `{t}m` or `{t}h`"
        ));
    }
    let d = humantime::parse_duration(t).map_err(|e| format!("invalid duration `{t}`: {e}"))?;
    // Times are milliseconds in an i64; anything near that is a typo.
    if d > MAX {
        return Err(format!("duration `{t}` is too long (at most 100 years)"));
    }
    Ok(d)
}

/// The longest duration accepted anywhere.
pub const MAX: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Formats a duration the short way people read it: `42m`, `1h 5m`, `3d 2h`.
/// Seconds are shown only under an hour; sub-second parts never.
pub fn short(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, hours, mins, s) = (
        secs / 86_400,
        (secs % 86_400) / 3_600,
        (secs % 3_600) / 60,
        secs % 60,
    );
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) if s == 0 => format!("{m}m"),
        (0, 0, m) => format!("{m}m {s}s"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("2d").unwrap(), Duration::from_secs(172_800));
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(parse("30").unwrap_err().contains("needs a unit"));
        assert!(parse("").is_err());
        assert!(parse("soon").is_err());
        assert!(parse("-5m").is_err());
        assert!(parse("999999999999d").unwrap_err().contains("too long"));
    }

    #[test]
    fn short_format() {
        assert_eq!(short(Duration::from_secs(42)), "42s");
        assert_eq!(short(Duration::from_secs(42 * 60)), "42m");
        assert_eq!(short(Duration::from_secs(3900)), "1h 5m");
        assert_eq!(short(Duration::from_secs(3 * 86_400 + 7200 + 5)), "3d 2h");
    }
}

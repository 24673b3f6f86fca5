//! Metadata a caller attaches to a plan: small key/value pairs that say
//! what the agent knew when it asked (its model and version, the run or
//! conversation, the trace). Kept with the plan and in its `planned` event,
//! never in the hash: the same action planned with other metadata is the
//! same plan.
//!
//! A W3C `traceparent` (the `TRACEPARENT` variable) is recorded as
//! `traceparent` and its `trace_id`, so that ladder's events can be found
//! from the caller's distributed trace.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Metadata as stored: key → value, in key order.
pub type Meta = BTreeMap<String, String>;

/// At most this many pairs per plan.
pub const MAX_PAIRS: usize = 32;
/// A key is 1 to this many characters from [`is_key_char`].
pub const MAX_KEY: usize = 64;
/// A value is at most this many bytes.
pub const MAX_VALUE: usize = 1024;

/// ASCII letters, digits, `_`, `.` and `-`: what a log filter, a query
/// path and a shell can carry without quoting.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Checks one key.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY || !key.chars().all(is_key_char) {
        return Err(Error::usage(format!(
            "metadata key `{}` must be 1 to {MAX_KEY} characters of A-Z, a-z, 0-9, `_`, `.` and `-`",
            crate::text::printable(key)
        )));
    }
    Ok(())
}

/// Checks one value: not empty, at most [`MAX_VALUE`] bytes, no control
/// characters (a card shows it to a reviewer).
pub fn check_value(key: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::usage(format!("metadata `{key}` has an empty value")));
    }
    if value.len() > MAX_VALUE {
        return Err(Error::usage(format!(
            "metadata `{key}` is {} bytes; a value may be at most {MAX_VALUE}",
            value.len()
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "metadata `{key}` holds a control character"
        )));
    }
    Ok(())
}

/// `KEY=VALUE`, split at the first `=` and checked.
pub fn parse_pair(text: &str) -> Result<(String, String)> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(Error::usage(format!(
            "--meta takes KEY=VALUE, not `{}`",
            crate::text::printable(text)
        )));
    };
    check_key(key)?;
    check_value(key, value)?;
    Ok((key.to_string(), value.to_string()))
}

/// Checks metadata however it was made (a flag, a tool call, a copy): at
/// most [`MAX_PAIRS`] pairs, the trace's two besides.
pub fn check(meta: &Meta) -> Result<()> {
    let trace = ["traceparent", "trace_id"]
        .iter()
        .filter(|k| meta.contains_key(**k))
        .count();
    if meta.len() > MAX_PAIRS + trace.min(2) {
        return Err(Error::usage(format!(
            "{} metadata pairs; a plan may carry at most {MAX_PAIRS}",
            meta.len()
        )));
    }
    for (key, value) in meta {
        check_key(key)?;
        check_value(key, value)?;
    }
    Ok(())
}

/// The metadata of a plan: `--meta` pairs (each key once), and the trace
/// a valid `traceparent` names unless a pair already says.
pub fn collect(pairs: &[String], traceparent: Option<&str>) -> Result<Meta> {
    let mut meta = Meta::new();
    for text in pairs {
        let (key, value) = parse_pair(text)?;
        if meta.insert(key.clone(), value).is_some() {
            return Err(Error::usage(format!("--meta {key} is given twice")));
        }
    }
    if meta.len() > MAX_PAIRS {
        check(&meta)?;
    }
    // The trace the caller passed down, unless a pair names one itself
    // (then the two would disagree); it fits beside a full set of pairs.
    let named = meta.contains_key("traceparent") || meta.contains_key("trace_id");
    if let Some(tp) = traceparent.filter(|_| !named) {
        if let Some(id) = trace_id(tp) {
            meta.insert("traceparent".into(), tp.to_string());
            meta.insert("trace_id".into(), id);
        }
    }
    for (key, value) in &meta {
        check_key(key)?;
        check_value(key, value)?;
    }
    Ok(meta)
}

/// The trace id of a W3C `traceparent` header value
/// (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`), or `None`
/// when it is not one (which the recommendation says to ignore). Versions
/// after 00 may append fields; version `ff` is invalid.
pub fn trace_id(traceparent: &str) -> Option<String> {
    let fields: Vec<&str> = traceparent.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let [version, trace, parent, flags, rest @ ..] = fields.as_slice() else {
        return None;
    };
    let valid = hex(version, 2)
        && *version != "ff"
        && (rest.is_empty() || *version != "00")
        && hex(trace, 32)
        && nonzero(trace)
        && hex(parent, 16)
        && nonzero(parent)
        && hex(flags, 2);
    valid.then(|| trace.to_string())
}

/// The column's text: `NULL` for none.
pub fn to_column(meta: &Meta) -> Option<String> {
    (!meta.is_empty()).then(|| serde_json::to_string(meta).unwrap_or_else(|_| "{}".into()))
}

/// Metadata from its column.
pub fn from_column(text: Option<&str>) -> std::result::Result<Meta, String> {
    match text {
        None => Ok(Meta::new()),
        Some(t) => serde_json::from_str(t).map_err(|e| e.to_string()),
    }
}

/// `log --meta` pairs: each checked as a plan's are, and each key once (a
/// plan's key has one value, so a second would match nothing).
pub fn parse_filter(pairs: &[String]) -> Result<Vec<(String, String)>> {
    let mut parsed: Vec<(String, String)> = Vec::new();
    for text in pairs {
        let (key, value) = parse_pair(text)?;
        if parsed.iter().any(|(k, _)| *k == key) {
            return Err(Error::usage(format!("--meta {key} is given twice")));
        }
        parsed.push((key, value));
    }
    Ok(parsed)
}

/// A `--meta KEY=VALUE` filter as one JSON object, for the stores' queries.
pub fn filter_json(pairs: &[(String, String)]) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let map: Meta = pairs.iter().cloned().collect();
    Some(serde_json::to_string(&map).unwrap_or_else(|_| "{}".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn pairs_are_split_at_the_first_equals_and_checked() {
        assert_eq!(
            parse_pair("model=claude=4").unwrap(),
            ("model".into(), "claude=4".into())
        );
        for bad in [
            "model",
            "=x",
            "mo del=x",
            "model=",
            "k=a\nb",
            "ключ=x",
            "k=a\u{1b}[2J",
        ] {
            assert!(parse_pair(bad).is_err(), "{bad:?} was accepted");
        }
        let long_key = format!("{}=x", "k".repeat(MAX_KEY + 1));
        assert!(parse_pair(&long_key).is_err());
        assert!(parse_pair(&format!("{}=x", "k".repeat(MAX_KEY))).is_ok());
        let long_value = format!("k={}", "v".repeat(MAX_VALUE + 1));
        assert!(parse_pair(&long_value).is_err());
        assert!(parse_pair(&format!("k={}", "v".repeat(MAX_VALUE))).is_ok());
    }

    #[test]
    fn a_key_given_twice_or_too_many_pairs_are_refused() {
        assert!(collect(&["a=1".into(), "a=2".into()], None).is_err());
        let many: Vec<String> = (0..=MAX_PAIRS).map(|i| format!("k{i}=v")).collect();
        assert!(collect(&many, None).is_err());
        assert!(collect(&many[..MAX_PAIRS], None).is_ok());
    }

    #[test]
    fn a_traceparent_records_its_trace_id_unless_a_pair_says() {
        let meta = collect(&["model=m".into()], Some(TP)).unwrap();
        assert_eq!(meta["traceparent"], TP);
        assert_eq!(meta["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let given = collect(&["traceparent=mine".into()], Some(TP)).unwrap();
        assert_eq!(given["traceparent"], "mine");
        assert!(!given.contains_key("trace_id"));
        let id_only = collect(&["trace_id=other".into()], Some(TP)).unwrap();
        assert_eq!(
            id_only.len(),
            1,
            "a trace id and a traceparent that disagree"
        );
        let full: Vec<String> = (0..MAX_PAIRS).map(|i| format!("k{i}=v")).collect();
        assert_eq!(collect(&full, Some(TP)).unwrap().len(), MAX_PAIRS + 2);
        assert!(collect(&[], Some("garbage")).unwrap().is_empty());
    }

    #[test]
    fn traceparents_are_read_as_the_recommendation_says() {
        assert!(trace_id(TP).is_some());
        let future = format!("01{}-extra", &TP[2..]);
        assert!(trace_id(&future).is_some());
        for bad in [
            &format!("00{}-extra", &TP[2..]),
            &format!("ff{}", &TP[2..]),
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "",
        ] {
            assert_eq!(trace_id(bad), None, "{bad} was accepted");
        }
    }

    #[test]
    fn the_column_round_trips_and_none_is_null() {
        assert_eq!(to_column(&Meta::new()), None);
        let meta = collect(&["b=2".into(), "a=1".into()], None).unwrap();
        let text = to_column(&meta).unwrap();
        assert_eq!(text, r#"{"a":"1","b":"2"}"#);
        assert_eq!(from_column(Some(&text)).unwrap(), meta);
    }
}

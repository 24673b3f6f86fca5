//! Any bytes given as a policy file: an error or a policy, never a panic,
//! and a policy that loads evaluates any argv without panicking.
#![no_main]

use ladder::policy::{Input, Policy};
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = Policy::parse(text, "fuzz.toml") {
        let argv: Vec<OsString> = vec!["kubectl".into(), "delete".into(), "pod".into()];
        let env = |_: &str| None;
        let _ = policy.evaluate(&Input { argv: &argv, env: &env, dry_run: None, confidence: Some(0.7) });
    }
});

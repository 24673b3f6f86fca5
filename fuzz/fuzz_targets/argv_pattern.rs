//! A pattern and an argv from arbitrary bytes: matching terminates quickly
//! and never panics, whatever the input.
#![no_main]

use ladder::policy::Pattern;
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |b| *b == b'\n');
    let pattern = parts.next().unwrap_or_default();
    let argv: Vec<OsString> = parts
        .next()
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    if let Ok(p) = Pattern::parse(&String::from_utf8_lossy(pattern)) {
        let _ = p.matches(&argv);
    }
});

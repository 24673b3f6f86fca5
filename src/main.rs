// No Rust runtime start-up (`lang_start`): it reads /proc/self/maps to
// place a stack guard and installs stack-overflow handlers, about 0.1 ms of
// every command (BENCHMARKS.md). What ladder needs from it is done in `main`:
// SIGPIPE ignored, so a write to a closed pipe fails with EPIPE as in any
// Rust program, and a panic still prints its message and exits 101.
// `std::env::args` works without it (glibc hands argv to std's initializer),
// and `std::process::exit`, which every path ends in, flushes stdout.
#![no_main]

use clap::Parser;
use ladder::cli::Cli;
use ladder::error::{Error, Kind};
use std::ffi::{c_char, c_int};

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // SAFETY: single-threaded, before anything else runs; the same call
    // Rust's own start-up makes.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    match std::panic::catch_unwind(run) {
        Ok(never) => never,
        Err(_) => std::process::exit(101),
    }
}

fn run() -> ! {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "__complete-ids")
    {
        std::process::exit(ladder::complete_ids());
    }
    // CI systems often export empty variables; an empty LADDER_STATE means
    // "not set", not "a flag is missing its value".
    for var in ["LADDER_STATE", "LADDER_POLICY"] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // SAFETY: still single-threaded: nothing else reads the
            // environment concurrently this early in main.
            unsafe { std::env::remove_var(var) };
        }
    }
    // --json must shape even argument errors, which clap reports before
    // we know the parsed flags.
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap does, exit 0.
            let _ = e.print();
            std::process::exit(0);
        }
        Err(e) => {
            // clap's message spans lines ("required arguments were not
            // provided:" then the arguments); the contract wants one line.
            let rendered = e.to_string();
            let first: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            let first = first.join(" ").trim_start_matches("error: ").to_string();
            // `ladder plan ls -la` is the most common slip: the command
            // belongs after `--`.
            let args: Vec<_> = std::env::args_os().collect();
            let forgot_dashes = e.kind() == clap::error::ErrorKind::UnknownArgument
                && args.iter().any(|a| a == "plan" || a == "explain")
                && !args.iter().any(|a| a == "--");
            let hint = if forgot_dashes {
                "put the command after `--`, e.g. `ladder plan --key K -- ls -la`"
            } else {
                "see `ladder --help`"
            };
            let err = Error::new(Kind::Usage, first).with_hint(hint);
            ladder::report_error(&err, json);
            std::process::exit(Kind::Usage.exit_code());
        }
    };
    let json = cli.global.json;
    match ladder::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            ladder::report_error(&e, json);
            std::process::exit(e.kind.exit_code());
        }
    }
}

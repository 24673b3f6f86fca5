// On glibc Linux, no Rust runtime start-up (`lang_start`): it reads
// /proc/self/maps to place a stack guard and installs stack-overflow
// handlers, about 0.1 ms of every command (BENCHMARKS.md). What ladder needs
// from it is done in `main` below: closed standard descriptors reopened on
// /dev/null, SIGPIPE ignored (a write to a closed pipe fails with EPIPE), and
// a panic still printing its message and exiting 101. A stack overflow is a
// plain SIGSEGV. `std::env::args` works without it only on glibc, which
// hands argv to std's initializer; other targets keep Rust's own start-up.
// `std::process::exit`, which every path ends in, flushes stdout.
#![cfg_attr(all(target_os = "linux", target_env = "gnu"), no_main)]

use clap::Parser;
use ladder::cli::Cli;
use ladder::error::{Error, Kind};

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // SAFETY: single-threaded, before anything else runs; the calls Rust's
    // own start-up makes.
    unsafe {
        reopen_closed_standard_fds();
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    match std::panic::catch_unwind(run) {
        Ok(never) => never,
        Err(_) => std::process::exit(101),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {
    run()
}

/// A descriptor 0, 1 or 2 that was closed when ladder started gets
/// /dev/null, so that no pipe or file ladder opens lands on it and is
/// mistaken for a standard stream.
///
/// # Safety
/// Call single-threaded, before anything opens a file.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe fn reopen_closed_standard_fds() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: a valid array of three pollfds; zero timeout.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        return;
    }
    for pfd in fds {
        if pfd.revents & libc::POLLNVAL != 0 {
            // Opening takes the lowest free descriptor: this one.
            // SAFETY: a NUL-terminated path; flags only.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
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
            // --help and --version: print as clap does, exit 0 (1 when
            // stdout fails, as for any other output).
            let code = match e.print() {
                Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                    ladder::render::stdout_failed(&err);
                    1
                }
                _ => 0,
            };
            std::process::exit(code);
        }
        Err(e) => {
            let first = ladder::cli::one_line(&e);
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
    ladder::run_and_exit(cli)
}

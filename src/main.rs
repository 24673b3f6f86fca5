// On glibc Linux, no Rust runtime start-up (`lang_start`): it reads
// /proc/self/maps to place a stack guard and installs stack-overflow
// handlers, a measurable share of every command's time (BENCHMARKS.md,
// *Process start-up*). What ladder needs from it is done in `main` below: closed
// standard descriptors reopened on /dev/null, SIGPIPE ignored (a write to a
// closed pipe fails with EPIPE), and a panic still printing its message and
// exiting 101. A stack overflow is a plain SIGSEGV. `std::env::args` works
// without it only on glibc, which hands argv to std's initializer; other
// targets keep Rust's own start-up. `std::process::exit`, which every path
// ends in, flushes stdout.
//
// Everything else is `ladder::cli::main`, which the tests call.
#![cfg_attr(all(target_os = "linux", target_env = "gnu"), no_main)]

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // SAFETY: single-threaded, before anything else runs (the first two are
    // the calls Rust's own start-up makes).
    unsafe {
        reopen_closed_standard_fds();
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        unset_empty_variables();
    }
    match std::panic::catch_unwind(run) {
        Ok(never) => never,
        Err(_) => std::process::exit(101),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() {
    // SAFETY: no thread has been started yet.
    unsafe { unset_empty_variables() };
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

/// CI systems often export empty variables; an empty LADDER_STATE or
/// LADDER_POLICY means "not set", not "a flag is missing its value" (clap
/// reads them as the flags' values).
///
/// # Safety
/// Call before any thread exists: changing the environment races with any
/// other thread reading it.
unsafe fn unset_empty_variables() {
    for var in ["LADDER_STATE", "LADDER_POLICY"] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // SAFETY: single-threaded, as the caller promises.
            unsafe { std::env::remove_var(var) };
        }
    }
}

fn run() -> ! {
    let exit = ladder::cli::main(std::env::args_os().collect());
    // `exit` is still in scope: what it holds open is left to the kernel
    // (see `ladder::Exit`).
    std::process::exit(exit.code())
}

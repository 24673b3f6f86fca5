use clap::Parser;
use ladder::cli::Cli;
use ladder::error::{Error, Kind};

fn main() {
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

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
            let err = Error::new(Kind::Usage, first).with_hint("see `ladder --help`");
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

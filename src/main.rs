use clap::Parser;
use ladder::cli::Cli;
use ladder::error::{Error, Kind};

fn main() {
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
            let text = e.kind().as_str().map(str::to_string).unwrap_or_else(|| {
                e.to_string()
                    .lines()
                    .next()
                    .unwrap_or("invalid arguments")
                    .trim_start_matches("error: ")
                    .to_string()
            });
            let detail = e.to_string();
            let first = detail
                .lines()
                .next()
                .unwrap_or(&text)
                .trim_start_matches("error: ")
                .to_string();
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

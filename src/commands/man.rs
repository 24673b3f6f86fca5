//! `ladder man`: man pages generated from the CLI definition (what `man/`
//! holds).

use crate::error::{Error, Kind, Result};
use std::path::PathBuf;

/// Print the man page, or write one page per command into a directory
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write ladder.1 and ladder-<command>.1 into this directory instead
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `cli` is ladder's whole command line, whose pages these are.
pub fn run(args: Args, json: bool, cli: clap::Command) -> Result<()> {
    match args.dir {
        None if json => {
            crate::render::emit_json(serde_json::json!({
                "page": String::from_utf8_lossy(&page(cli, None)?),
            }))?;
        }
        None => {
            crate::render::emit(&String::from_utf8_lossy(&page(cli, None)?))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::new(Kind::Error, format!("cannot create {}: {e}", dir.display()))
            })?;
            let mut written = vec![];
            for (name, bytes) in pages(cli)? {
                let path = dir.join(&name);
                std::fs::write(&path, bytes).map_err(|e| {
                    Error::new(Kind::Error, format!("cannot write {}: {e}", path.display()))
                })?;
                written.push(path.display().to_string());
            }
            if json {
                crate::render::emit_json(serde_json::json!({ "written": written }))?;
            } else {
                crate::render::note(format_args!(
                    "ladder: wrote {} man pages into {}",
                    written.len(),
                    dir.display()
                ));
            }
        }
    }
    Ok(())
}

/// A command's page: clap_mangen's sections, with the synopsis naming
/// each option's value; `ladder`'s own page also gets what the contract
/// keeps beside the flags (EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES).
fn render(cmd: clap::Command, root: bool) -> Result<Vec<u8>> {
    let cmd = cmd.clone().override_usage(usage(&cmd));
    let man = clap_mangen::Man::new(cmd);
    let mut out = Vec::new();
    let failed =
        |e: std::io::Error| Error::new(Kind::Error, format!("failed to render man page: {e}"));
    man.render_title(&mut out).map_err(failed)?;
    man.render_name_section(&mut out).map_err(failed)?;
    man.render_synopsis_section(&mut out).map_err(failed)?;
    man.render_description_section(&mut out).map_err(failed)?;
    man.render_options_section(&mut out).map_err(failed)?;
    man.render_subcommands_section(&mut out).map_err(failed)?;
    if root {
        out.extend_from_slice(root_sections().as_bytes());
    }
    man.render_version_section(&mut out).map_err(failed)?;
    Ok(out)
}

/// The synopsis: every option with its value's name (`--state PATH`),
/// then the positionals; the command's after `--`.
fn usage(cmd: &clap::Command) -> String {
    let mut parts = vec![];
    // Options first, ladder's own (global) ones among them; positionals,
    // and the command after `--`, last.
    let mut args: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
    args.sort_by_key(|a| (a.is_positional(), a.is_last_set()));
    for arg in args {
        let value = arg
            .get_value_names()
            .map(|v| {
                v.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        let many = matches!(arg.get_action(), clap::ArgAction::Append);
        let dots = if many { "..." } else { "" };
        let text = match arg.get_long() {
            Some(long) if takes_value => format!("--{long} {value}{dots}"),
            Some(long) => format!("--{long}"),
            None if arg.is_last_set() => format!("-- {value} [ARGS...]"),
            None => format!("{value}{dots}"),
        };
        parts.push(if arg.is_required_set() {
            text
        } else {
            format!("[{text}]")
        });
    }
    if cmd.has_subcommands() {
        parts.push("<COMMAND>".into());
    }
    // A subcommand's page is named `ladder-plan`; it is run as `ladder plan`.
    let name = cmd.get_name().replacen('-', " ", 1);
    format!("{name} {}", parts.join(" "))
}

/// Escapes text for a roff line.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.starts_with(['.', '\'']) {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}

/// EXIT STATUS (from the error kinds), ENVIRONMENT, FILES and EXAMPLES.
fn root_sections() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    s.push_str(".TP\n\\fB0\\fR\nsuccess; for apply and replay, the command's own code is passed through (128+N for signal N)\n");
    for kind in Kind::ALL {
        s.push_str(&format!(
            ".TP\n\\fB{}\\fR \\fI{}\\fR\n{}\n",
            kind.exit_code(),
            roff(kind.name()),
            roff(kind.meaning())
        ));
    }
    s.push_str(".PP\nWith \\fB\\-\\-json\\fR, an error is the object {\"error\": {\"code\": NAME, \"message\", \"hint\", \"exit_code\"}}. A refusal changes nothing but the ledger, which records a \\fBrefused\\fR event.\n");
    s.push_str(".SH ENVIRONMENT\n");
    for (name, what) in [
        (
            "LADDER_STATE",
            "the state: a file, or a postgres:// URL (as --state)",
        ),
        ("LADDER_POLICY", "the policy file (as --policy)"),
        (
            "LADDER_ACTOR",
            "who is acting, when --actor is not given (else the OS user)",
        ),
        (
            "TRACEPARENT",
            "a W3C trace context, recorded with each plan as meta.traceparent and meta.trace_id",
        ),
        (
            "NO_COLOR",
            "set and not empty: no colours (unless --color always)",
        ),
        (
            "CLICOLOR_FORCE",
            "set, not empty and not 0: colours even in a pipe",
        ),
        (
            "PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGPASSFILE, PGSSLMODE",
            "what a postgres:// URL leaves out, read as libpq reads them",
        ),
    ] {
        s.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(name), roff(what)));
    }
    s.push_str(".SH FILES\n");
    for (path, what) in [
        (
            "~/.local/share/ladder/state.db",
            "the default state (the user data directory), with its \\-wal, \\-shm and .lock files beside it",
        ),
        (
            "~/.config/ladder/policy.toml",
            "the user's policy, when it exists; else the embedded default (ladder policy show prints it)",
        ),
        (
            "/etc/ladder/policy.toml",
            "the system policy: always in force when it exists; other policies can only make it stricter",
        ),
    ] {
        s.push_str(&format!(".TP\n\\fI{}\\fR\n{}\n", roff(path), what));
    }
    s.push_str(".SH EXAMPLES\n");
    for (what, lines) in [
        (
            "An agent plans, waits for a person, and applies once:",
            &[
                "hash=$(ladder \\-\\-json plan \\-\\-key deploy\\-42 \\-\\-rollback \\(aqkubectl rollout undo deploy/web\\(aq \\-\\- kubectl apply \\-f k8s/ | jq \\-r .hash)",
                "ladder \\-\\-json apply \\-\\-key deploy\\-42 \\-\\-hash \"$hash\" \\-\\-wait 30m",
            ][..],
        ),
        (
            "A person reviews the queue, or one plan:",
            &[
                "ladder approve",
                "ladder show 1a2b3c4d; ladder approve 1a2b3c4d \\-\\-hash HASH",
            ][..],
        ),
        (
            "The agent withdraws a request, or asks for the recorded undo:",
            &[
                "ladder cancel \\-\\-key deploy\\-42 \\-\\-reason \\(aqwrong cluster\\(aq",
                "ladder rollback 1a2b3c4d",
            ][..],
        ),
        (
            "An auditor checks the ledger:",
            &[
                "ladder log \\-\\-verify",
                "ladder log \\-\\-meta run=r\\-17",
            ][..],
        ),
    ] {
        s.push_str(&format!(".PP\n{what}\n.PP\n.nf\n.RS 4\n"));
        for line in lines {
            s.push_str(line);
            s.push('\n');
        }
        s.push_str(".RE\n.fi\n");
    }
    s
}

/// The page for `ladder` (None) or one subcommand.
pub fn page(mut cmd: clap::Command, sub: Option<&str>) -> Result<Vec<u8>> {
    cmd.build();
    match sub {
        None => render(cmd, true),
        Some(name) => {
            let sub = cmd
                .find_subcommand(name)
                .cloned()
                .ok_or_else(|| Error::usage(format!("no command `{name}`")))?;
            render(sub.name(format!("ladder-{name}")), false)
        }
    }
}

/// Every page, named as installed: `ladder.1`, `ladder-plan.1`, ...
pub fn pages(cmd: clap::Command) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = vec![("ladder.1".to_string(), page(cmd.clone(), None)?)];
    for sub in cmd.get_subcommands() {
        let name = sub.get_name().to_string();
        if name == "help" || sub.is_hide_set() {
            continue;
        }
        out.push((format!("ladder-{name}.1"), page(cmd.clone(), Some(&name))?));
    }
    Ok(out)
}

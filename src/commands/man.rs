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

fn render(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Error::new(Kind::Error, format!("failed to render man page: {e}")))?;
    Ok(out)
}

/// The page for `ladder` (None) or one subcommand.
pub fn page(mut cmd: clap::Command, sub: Option<&str>) -> Result<Vec<u8>> {
    cmd.build();
    match sub {
        None => render(cmd),
        Some(name) => {
            let sub = cmd
                .find_subcommand(name)
                .cloned()
                .ok_or_else(|| Error::usage(format!("no command `{name}`")))?;
            render(sub.name(format!("ladder-{name}")))
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

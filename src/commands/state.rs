//! `ladder state copy`: carry a whole state to another store.

use crate::context::Ctx;
use crate::error::Result;
use crate::render;
use crate::store::{self, Location};
use clap::Subcommand;
use serde_json::json;
use std::ffi::OsString;

/// Move state between stores (a local file into the team's PostgreSQL)
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy every plan, approval, run and ledger event into an empty store,
    /// the ledger event for event (`log --verify` passes on the target)
    Copy {
        /// The store to read: a state file or a postgres:// URL
        #[arg(long, value_name = "STATE")]
        from: OsString,
        /// The store to fill, which must hold nothing yet: a state file or a
        /// postgres:// URL
        #[arg(long, value_name = "STATE")]
        to: OsString,
    },
}

pub fn run(ctx: &mut Ctx, cmd: Command) -> Result<()> {
    let Command::Copy { from, to } = cmd;
    let (from, to) = (Location::parse(&from), Location::parse(&to));
    if !from.exists() {
        return Err(crate::error::Error::new(
            crate::error::Kind::NotFound,
            format!("no state at {from} to copy"),
        ));
    }
    let mut source = store::open(&from)?;
    let mut target = store::open(&to)?;
    let copied = store::copy::copy(&mut *source, &mut *target)?;
    if ctx.json {
        render::emit_json(json!({
            "copied": true,
            "from": from.to_string(),
            "to": to.to_string(),
            "plans": copied.plans,
            "executions": copied.executions,
            "events": copied.events,
        }))?;
    } else {
        render::note(format_args!(
            "ladder: copied {} plans, {} runs and {} ledger events from {from} to {to}; check it with `ladder --state {to} log --verify`",
            copied.plans, copied.executions, copied.events
        ));
    }
    Ok(())
}

//! `ladder log`: the audit ledger, and its verification.

use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::render;
use crate::rungs::inspect::{self, EventQuery};
use serde_json::json;

/// Show the audit ledger, newest last; --verify checks the hash chain
///
/// Every rung is an event chained to the one before by its hash. --verify
/// recomputes the whole chain, checks that the database still refuses edits
/// and deletions of events (its triggers as the schema wrote them), checks
/// every plan against its events (hash, command, tier and approvals as
/// planned; approved, started and applied only as the ledger shows), and
/// names the first broken event or disagreeing plan (exit 21).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this plan's events (id or unique prefix)
    pub plan: Option<String>,

    /// Only this key's events
    #[arg(long)]
    pub key: Option<String>,

    /// Show the last N events (0: all)
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u64,

    /// Only events since this: a duration back (2h) or an RFC 3339 time
    #[arg(long, value_name = "T")]
    pub since: Option<String>,

    /// Check the whole chain, the append-only guarantee, and every plan against its events
    #[arg(long, conflicts_with_all = ["plan", "key", "since"])]
    pub verify: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let now = ctx.now();
    let since = args
        .since
        .as_deref()
        .map(|s| crate::clock::parse_since(s, now).map_err(Error::usage))
        .transpose()?;
    if args.verify {
        return verify(ctx);
    }
    if !ctx.state_exists() {
        if !ctx.json {
            render::note(format_args!(
                "ladder: the ledger is empty (no state yet at {})",
                ctx.location()
            ));
        }
        return Ok(());
    }
    let query = EventQuery {
        plan: args.plan.as_deref(),
        key: args.key.as_deref(),
        since,
        limit: if args.limit == 0 {
            None
        } else {
            Some(args.limit)
        },
    };
    let events = inspect::events(&mut ctx.rung()?, &query)?;
    if ctx.json {
        render::emit_json_lines(events.iter().map(render::event_json))?;
    } else if events.is_empty() {
        render::note("ladder: no events match");
    } else {
        render::emit(&render::events_table(&events, now))?;
    }
    Ok(())
}

fn verify(ctx: &mut Ctx) -> Result<()> {
    if !ctx.state_exists() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no state file at {} to verify", ctx.location()),
        ));
    }
    let inspect::Verified { events, head } = inspect::verify(&mut ctx.rung()?)?;
    if ctx.json {
        render::emit_json(json!({ "verified": true, "events": events, "head": head }))?;
    } else {
        render::emit(&format!("ledger verified: {events} events, head {head}\n"))?;
    }
    Ok(())
}

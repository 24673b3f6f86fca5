//! `ladder log`: the audit ledger, and its verification.

use crate::audit::{Audit, Disagreement};
use crate::commands::find_plan;
use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::ledger::Verifier;
use crate::render;
use crate::store::{self, EventFilter};
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
                ctx.state_path().display()
            ));
        }
        return Ok(());
    }
    let events = store::read(ctx.store()?, |tx| {
        let plan = match &args.plan {
            Some(p) => Some(find_plan(tx, p)?.id),
            None => None,
        };
        if let Some(k) = &args.key {
            let any = tx.events(&EventFilter {
                key: Some(k.clone()),
                limit: Some(1),
                ..Default::default()
            })?;
            if any.is_empty() {
                return Err(
                    Error::new(Kind::NotFound, format!("no events for key `{k}`"))
                        .with_hint("list plans and their keys with `ladder list --status all`"),
                );
            }
        }
        tx.events(&EventFilter {
            plan,
            key: args.key.clone(),
            since,
            limit: if args.limit == 0 {
                None
            } else {
                Some(args.limit)
            },
        })
    })?;
    if ctx.json {
        render::emit_json_lines(events.iter().map(render::event_json));
    } else if events.is_empty() {
        render::note("ladder: no events match");
    } else {
        render::emit(&render::events_table(&events, now));
    }
    Ok(())
}

fn verify(ctx: &mut Ctx) -> Result<()> {
    if !ctx.state_exists() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no state file at {} to verify", ctx.state_path().display()),
        ));
    }
    let (checked, head) = store::read(ctx.store()?, |tx| {
        let mut v = Verifier::default();
        let mut audit = Audit::default();
        tx.for_each_event(&mut |e| {
            v.check(&e).map_err(|b| {
                Error::new(
                    Kind::Tampered,
                    format!("ledger broken at event {}: {b}", e.seq),
                )
                .with_extra(json!({
                    "seq": e.seq,
                    "events_verified": v.checked,
                }))
            })?;
            audit.event(&e).map_err(disagreement)
        })?;
        if let Err(why) = tx.ledger_is_append_only()? {
            return Err(
                Error::new(Kind::Tampered, why).with_extra(json!({ "events_verified": v.checked }))
            );
        }
        // The chain holds; the plan rows, which ladder updates in place,
        // must agree with it.
        tx.for_each_plan_row(&mut |row| audit.plan(&row).map_err(disagreement))?;
        audit.finish().map_err(disagreement)?;
        Ok((v.checked, v.head().to_string()))
    })?;
    if ctx.json {
        render::emit_json(json!({ "verified": true, "events": checked, "head": head }));
    } else {
        render::emit(&format!("ledger verified: {checked} events, head {head}\n"));
    }
    Ok(())
}

/// A plan row that disagrees with the ledger, as `tampered`.
fn disagreement(d: Disagreement) -> Error {
    Error::new(Kind::Tampered, d.to_string()).with_extra(json!({ "plan_id": d.plan, "seq": d.seq }))
}

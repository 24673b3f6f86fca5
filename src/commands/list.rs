//! `ladder list`: plans as a table.

use crate::commands::expire_due;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::model::{Millis, Status};
use crate::render;
use crate::store;
use serde_json::json;

/// List plans (default: the pending ones)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which plans: a status (pending, approved, running, applied, rejected, expired, denied, interrupted) or `all`; repeatable
    #[arg(long, value_name = "S", default_value = "pending")]
    pub status: Vec<String>,

    /// Show at most this many (the newest)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u64,
}

/// Brings plans up to date before a read: expired windows, and `running`
/// plans whose ladder died (their run lock is free) become `interrupted`.
/// Writes only when something actually changed.
pub fn expire_if_due(ctx: &mut Ctx, now: Millis) -> Result<()> {
    let state = ctx.state_path().to_path_buf();
    let (due, running) = store::read(ctx.store()?, |tx| {
        Ok((
            !tx.plans_due_to_expire(now)?.is_empty(),
            tx.plans(&[Status::Running], None)?,
        ))
    })?;
    let mut dead = vec![];
    for p in running {
        if !crate::runlock::is_held(&state, p.seq)? {
            dead.push(p.id);
        }
    }
    if due || !dead.is_empty() {
        store::write(ctx.store()?, |tx| {
            expire_due(tx, now)?;
            for id in &dead {
                // Check again under the write lock: it may have finished.
                if let Some(p) = tx.plan(id)? {
                    if p.status == Status::Running && !crate::runlock::is_held(&state, p.seq)? {
                        crate::commands::apply::mark_interrupted(tx, now, &p)?;
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut statuses = Vec::new();
    for s in &args.status {
        for part in s.split(',') {
            if part == "all" {
                statuses.clear();
                statuses.extend(Status::ALL);
                break;
            }
            statuses.push(part.parse::<Status>().map_err(Error::usage)?);
        }
    }
    let now = ctx.now();
    let plans = if ctx.state_exists() {
        expire_if_due(ctx, now)?;
        let limit = if args.limit == 0 {
            None
        } else {
            Some(args.limit)
        };
        store::read(ctx.store()?, |tx| tx.plans(&statuses, limit))?
    } else {
        Vec::new()
    };
    if ctx.json {
        render::emit_json(&json!({
            "plans": plans.iter().map(render::plan_json).collect::<Vec<_>>(),
        }));
    } else if plans.is_empty() {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        eprintln!(
            "ladder: no plans ({})",
            if statuses.len() == Status::ALL.len() {
                "any status".to_string()
            } else {
                names.join(", ")
            }
        );
    } else {
        render::emit(&render::plans_table(
            &plans,
            now,
            render::Paint { on: ctx.color },
        ));
    }
    Ok(())
}

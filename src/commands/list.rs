//! `ladder list`: plans as a table.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::model::Status;
use crate::render;
use serde_json::json;

/// List plans (default: the pending ones)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which plans: a status (pending, approved, running, applied, rejected, expired, denied, cancelled, interrupted) or `all`; repeatable
    #[arg(long, value_name = "S", default_value = "pending")]
    pub status: Vec<String>,

    /// Show at most this many (the newest)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: u64,

    /// Show every value whole; a table otherwise fits the terminal, cutting long keys and commands with …
    #[arg(long)]
    pub wide: bool,
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
        let limit = if args.limit == 0 {
            None
        } else {
            Some(args.limit)
        };
        crate::rungs::inspect::list(&mut ctx.rung()?, &statuses, limit)?
    } else {
        Vec::new()
    };
    if ctx.json {
        render::emit_json(json!({
            "plans": plans.iter().map(render::plan_json).collect::<Vec<_>>(),
        }))?;
    } else if plans.is_empty() {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        render::note(format_args!(
            "ladder: no plans ({})",
            if statuses.len() == Status::ALL.len() {
                "any status".to_string()
            } else {
                names.join(", ")
            }
        ));
    } else {
        render::emit(&render::plans_table(
            &plans,
            now,
            render::Paint { on: ctx.color },
            ctx.fit(args.wide),
        ))?;
    }
    Ok(())
}

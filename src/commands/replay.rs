//! `ladder replay`: give a retrying caller the recorded outcome back, byte
//! for byte, without running anything.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::render;
use crate::rungs::{self, PlanRef};
use std::io::IsTerminal;

/// Write a plan's recorded stdout and stderr and exit with its recorded code
///
/// Runs nothing. The recorded stdout and stderr are written byte for byte;
/// only when stderr is a terminal does a line before them say that this
/// is a replay. With --json, prints the execution object with
/// "replayed": true. A record that no longer matches the digests and byte
/// counts taken while the command ran is refused (tampered, exit 21).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix (4+ characters)
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub plan: Option<String>,

    /// Replay the outcome recorded under this key
    #[arg(long)]
    pub key: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let target = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref())
        .ok_or_else(|| Error::usage("name a plan or pass --key"))?;
    let plan = rungs::replay::replay(&mut ctx.rung()?, &target)?;
    // The contract's replay writes the recorded stderr byte for byte: a
    // script capturing it gets exactly that. A person at a terminal is also
    // told where it comes from.
    render::replayed(&plan, ctx.json, ctx.now(), std::io::stderr().is_terminal())
}

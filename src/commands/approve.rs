//! `ladder approve`: a reviewer approves one exact plan hash.

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::model::{Plan, Status};
use crate::render;
use crate::rungs::{self, PlanRef};
use crate::store;

/// Approve a pending plan's current hash
///
/// With no PLAN on a terminal, walks the pending queue oldest first, showing
/// each plan's card and asking approve / reject / skip / quit. Asks for
/// confirmation on a terminal unless --yes; without a terminal, --yes is
/// required. The answer approves the plan whose card was shown, by its id and
/// hash: if that plan was rejected or expired meanwhile, the approval is
/// refused with its state's code, even when another plan now holds the key.
/// With --hash, a plan whose hash differs is refused (hash_mismatch) before
/// anything is asked. The planner may not approve their own plan when policy
/// separates duties, and nobody approves the same plan twice.
///
/// With --sign, the approval is signed (SSHSIG, namespace
/// ladder-approval-v1) over the plan's id and hash, and the approver is the
/// key's principal in the policy's allowed_signers, not --actor. On a tier
/// with `signed = true`, only signed approvals count.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan id or unique prefix (4+ characters)
    pub plan: Option<String>,

    /// Approve the live plan of this key instead of naming the plan
    #[arg(long, conflicts_with = "plan")]
    pub key: Option<String>,

    /// Approve only if the plan's hash is this one (what you reviewed)
    #[arg(long, value_name = "H")]
    pub hash: Option<String>,

    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// A note kept with the approval
    #[arg(long, value_name = "T")]
    pub comment: Option<String>,

    #[arg(long, value_name = "KEY", help = super::sign::HELP)]
    pub sign: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let target = PlanRef::from_args(args.plan.as_ref(), args.key.as_ref());
    let Some(target) = target else {
        if ctx.interactive && !ctx.json {
            return review_queue(ctx, args.comment.as_deref(), args.sign.as_deref());
        }
        return Err(Error::usage("name the plan to approve (PLAN or --key)")
            .with_hint("on a terminal, `ladder approve` alone walks the pending queue"));
    };
    let hash = args.hash.as_deref().map(rungs::normalize_hash);
    let sign = args.sign.as_deref();
    if args.yes && sign.is_none() {
        let plan = approve_plan(ctx, &target, hash.as_deref(), args.comment.as_deref(), None)?;
        report(ctx, &plan)?;
        return Ok(());
    }
    if args.yes {
        // A signature is over one plan's id and hash: the plan as it is now.
        let shown = store::read(ctx.store()?, |tx| target.find(tx))?;
        rungs::approve::check_shown_hash(&mut ctx.rung()?, &shown, hash.as_deref())?;
        // Never ask about a card that is not what the hash binds.
        if let Err(e) = crate::gate::integrity(&shown) {
            return Err(rungs::refused(
                &mut ctx.rung()?,
                "approve",
                rungs::refuse(&shown, e),
            ));
        }
        let plan = approve_plan(
            ctx,
            &PlanRef::Id(shown.id.clone()),
            Some(&shown.hash),
            args.comment.as_deref(),
            Some((sign.unwrap_or_default(), &shown)),
        )?;
        report(ctx, &plan)?;
        return Ok(());
    }
    if !ctx.interactive {
        return Err(Error::usage(
            "refusing to approve without confirmation: no terminal to ask on",
        )
        .with_hint("pass --yes to approve non-interactively"));
    }
    let shown = store::read(ctx.store()?, |tx| target.find(tx))?;
    rungs::approve::check_shown_hash(&mut ctx.rung()?, &shown, hash.as_deref())?;
    // The reviewer sees what apply will hold the plan to, not only what it
    // was planned under.
    let mut card = shown.clone();
    rungs::note_in_force(&mut card, &*ctx.policy()?);
    render::note_part(render::plan_card(
        &card,
        ctx.now(),
        render::Paint { on: ctx.color },
    ));
    if !super::confirm(&format!(
        "Approve plan {} as {}?",
        shown.short_id(),
        ctx.actor
    ))? {
        return Err(Error::new(
            crate::error::Kind::Declined,
            format!("plan {} not approved: you answered no", shown.short_id()),
        ));
    }
    // The answer is about the plan on the screen: approve that id and hash,
    // never whatever holds the key now (it may have been rejected and
    // planned again while the reviewer read).
    let plan = approve_plan(
        ctx,
        &PlanRef::Id(shown.id.clone()),
        Some(&shown.hash),
        args.comment.as_deref(),
        sign.map(|key| (key, &shown)),
    )?;
    report(ctx, &plan)?;
    Ok(())
}

/// Approves, signing first with `sign` (the key, and the plan whose id and
/// hash the signature covers: `target` and `hash` name that plan) when
/// given.
fn approve_plan(
    ctx: &mut Ctx,
    target: &PlanRef,
    hash: Option<&str>,
    comment: Option<&str>,
    sign: Option<(&str, &Plan)>,
) -> Result<Plan> {
    let policy = ctx.policy()?;
    let (signed, trust) = match sign {
        Some((key, plan)) => {
            let (signed, trust) = super::sign::sign(
                ctx,
                "approve",
                key,
                plan,
                crate::signing::DecisionKind::Approve,
                comment,
            )?;
            (Some(signed), Some(trust))
        }
        None if policy.signs_any() => (None, crate::signing::Trust::of(&policy)?),
        None => (None, None),
    };
    let req = rungs::approve::Request {
        hash,
        comment,
        signed: signed.as_ref(),
        trust: trust.as_ref(),
    };
    rungs::approve::approve(&mut ctx.rung()?, &policy, target, &req)
}

fn report(ctx: &Ctx, plan: &Plan) -> Result<()> {
    if ctx.json {
        return render::emit_json(render::plan_json(plan));
    }
    let id = plan.short_id();
    if plan.status == Status::Approved {
        render::note(format_args!(
            "ladder: approved plan {id} ({} of {}); it may be applied until {}",
            plan.approvals_counted(),
            plan.approvals_required,
            plan.expires_at
                .map(crate::clock::rfc3339)
                .unwrap_or_default()
        ));
    } else {
        render::note(format_args!(
            "ladder: approval recorded for plan {id} ({} of {}); {} more from a different reviewer needed",
            plan.approvals_counted(),
            plan.approvals_required,
            plan.approvals_missing()
        ));
    }
    render::emit(&render::plan_card(
        plan,
        ctx.now(),
        render::Paint { on: ctx.color },
    ))
}

/// The terminal review: pending plans oldest first, one card at a time.
fn review_queue(ctx: &mut Ctx, comment: Option<&str>, sign: Option<&str>) -> Result<()> {
    let now = ctx.now();
    store::write(ctx.store()?, |tx| rungs::expire_due(tx, now))?;
    let pending = store::read(ctx.store()?, |tx| tx.plans(&[Status::Pending], None))?;
    // Offer only what this reviewer can grant: not their own plans when
    // duties are separated, not a plan they already approved.
    let separated = ctx.policy()?.defaults().separation_of_duties;
    let actor = ctx.actor.clone();
    let (pending, own): (Vec<Plan>, Vec<Plan>) = pending
        .into_iter()
        .partition(|p| !(separated && crate::names::same(&p.actor, &actor)));
    let (pending, done): (Vec<Plan>, Vec<Plan>) = pending.into_iter().partition(|p| {
        !p.approvals
            .iter()
            .any(|a| a.hash == p.hash && crate::names::same(&a.actor, &actor))
    });
    if !own.is_empty() {
        render::note(format_args!(
            "ladder: {} plan{} of yours not shown: you planned {} and may not approve {} (separation of duties)",
            own.len(),
            if own.len() == 1 { "" } else { "s" },
            if own.len() == 1 { "it" } else { "them" },
            if own.len() == 1 { "it" } else { "them" },
        ));
    }
    if !done.is_empty() {
        render::note(format_args!(
            "ladder: {} plan{} you already approved not shown",
            done.len(),
            if done.len() == 1 { "" } else { "s" }
        ));
    }
    if pending.is_empty() {
        render::note("ladder: no plans are waiting for your approval");
        return Ok(());
    }
    let total = pending.len();
    let (mut approved, mut rejected, mut skipped) = (0, 0, 0);
    for (i, plan) in pending.iter().enumerate() {
        let paint = render::Paint { on: ctx.color };
        render::note(format_args!("\n── {} of {total} ──", i + 1));
        if let Err(e) = crate::gate::integrity(plan) {
            render::note(format_args!("ladder: skipping: {}", e.one_line()));
            skipped += 1;
            continue;
        }
        let mut card = plan.clone();
        rungs::note_in_force(&mut card, &*ctx.policy()?);
        render::note_part(render::plan_card(&card, ctx.now(), paint));
        let mut line = super::prompt("[a]pprove, [r]eject, [s]kip, [q]uit? ")?;
        let answer = loop {
            if line.is_empty() {
                // End of input: stop, deciding nothing more.
                break Answer::Quit;
            }
            match Answer::parse(&line) {
                Some(a) => break a,
                // An unknown answer is asked again, never taken as a decision.
                None => line = super::prompt("please answer a, r, s or q: ")?,
            }
        };
        match answer {
            Answer::Approve => {
                match approve_plan(
                    ctx,
                    &PlanRef::Id(plan.id.clone()),
                    Some(&plan.hash),
                    comment,
                    sign.map(|key| (key, plan)),
                ) {
                    Ok(p) => {
                        approved += 1;
                        render::note(format_args!(
                            "approved {} ({} of {})",
                            p.short_id(),
                            p.approvals_counted(),
                            p.approvals_required
                        ));
                    }
                    Err(e) => render::note(format_args!("ladder: {}", e.one_line())),
                }
            }
            Answer::Reject => {
                // A rejection needs a reason for the agent: asked again
                // until given; end of input leaves the plan undecided.
                let mut reason = super::prompt("reason: ")?;
                while reason.trim().is_empty() && !reason.is_empty() {
                    reason = super::prompt("a rejection needs a reason (the agent reads it): ")?;
                }
                let reason = reason.trim();
                if reason.is_empty() {
                    render::note("not rejected: no reason given");
                    skipped += 1;
                    continue;
                }
                match super::reject::reject_plan(ctx, plan, reason, sign) {
                    Ok(p) => {
                        rejected += 1;
                        render::note(format_args!("rejected {}", p.short_id()));
                    }
                    Err(e) => render::note(format_args!("ladder: {}", e.one_line())),
                }
            }
            Answer::Skip => skipped += 1,
            Answer::Quit => break,
        }
    }
    render::note(format_args!(
        "\n{approved} approved, {rejected} rejected, {skipped} skipped"
    ));
    Ok(())
}

/// A reviewer's answer at the queue's prompt.
enum Answer {
    Approve,
    Reject,
    Skip,
    Quit,
}

impl Answer {
    fn parse(line: &str) -> Option<Answer> {
        match line.trim().to_ascii_lowercase().as_str() {
            "a" | "approve" | "y" | "yes" => Some(Answer::Approve),
            "r" | "reject" => Some(Answer::Reject),
            "s" | "skip" => Some(Answer::Skip),
            "q" | "quit" => Some(Answer::Quit),
            _ => None,
        }
    }
}

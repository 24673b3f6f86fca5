//! `ladder log`: the audit ledger, and its verification.

use crate::context::Ctx;
use crate::error::{Error, Kind, Result};
use crate::render;
use crate::rungs::inspect::{self, Anchor, EventQuery, VerifyOptions};
use crate::signing::{Checkpoint, SignWith, Trust};
use serde_json::json;
use std::path::Path;

/// Show the audit ledger, newest last; --verify checks the hash chain
///
/// Every rung is an event chained to the one before by its hash. --verify
/// recomputes the whole chain, checks that the database still refuses edits
/// and deletions of events (its triggers as the schema wrote them), checks
/// every plan against its events (hash, command, tier and approvals as
/// planned; approved, started and applied only as the ledger shows), and
/// names the first broken event or disagreeing plan (exit 21). Every signed
/// decision (in the ledger and in the approvals) is checked again against
/// the policy's allowed_signers.
///
/// A chain can be rewritten whole by whoever can write the state file, so
/// anchor it: `--verify --expect SEQ:HASH` fails unless event SEQ still has
/// HASH (a head recorded earlier, somewhere the agent cannot write).
/// `--checkpoint --sign KEY` verifies the ledger and prints its head signed
/// with KEY; keep that file out of the agent's reach, and check it later
/// with `--verify --checkpoint FILE`.
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

    /// Show every value whole; a table otherwise fits the terminal, cutting long keys and details with …
    #[arg(long, conflicts_with = "verify")]
    pub wide: bool,

    /// Only events of plans whose metadata has KEY=VALUE (repeatable: all must match)
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,

    /// Check the whole chain, the append-only guarantee, and every plan against its events
    #[arg(long, conflicts_with_all = ["plan", "key", "since", "meta"])]
    pub verify: bool,

    /// With --verify: event SEQ must still have HASH (repeatable)
    #[arg(long, value_name = "SEQ:HASH", requires = "verify")]
    pub expect: Vec<String>,

    /// With --verify, FILE: check a signed checkpoint and that its head is
    /// still in the chain. Without --verify (and with --sign): verify the
    /// ledger and print its head as a signed checkpoint.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        conflicts_with_all = ["plan", "key", "since"]
    )]
    pub checkpoint: Option<Option<std::path::PathBuf>>,

    /// With --checkpoint: the SSH key that signs it (a private key file, a
    /// .pub whose key is in ssh-agent, or `agent`)
    #[arg(long, value_name = "KEY")]
    pub sign: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let now = ctx.now();
    let since = args
        .since
        .as_deref()
        .map(|s| crate::clock::parse_since(s, now).map_err(Error::usage))
        .transpose()?;
    let meta = crate::meta::parse_filter(&args.meta)?;
    if args.sign.is_some() && !matches!(args.checkpoint, Some(None)) {
        return Err(Error::usage(
            "--sign signs a checkpoint: use it with --checkpoint",
        ));
    }
    if args.verify {
        let mut anchors = args
            .expect
            .iter()
            .map(|e| parse_expect(e))
            .collect::<Result<Vec<_>>>()?;
        let file = match args.checkpoint {
            Some(Some(path)) => Some(path),
            Some(None) => {
                return Err(Error::usage(
                    "--verify --checkpoint needs the checkpoint FILE",
                ));
            }
            None => None,
        };
        return verify(ctx, &mut anchors, file.as_deref());
    }
    if let Some(checkpoint) = args.checkpoint {
        if checkpoint.is_some() {
            return Err(Error::usage(
                "--checkpoint FILE is checked with --verify; to write one, pass --checkpoint --sign KEY",
            ));
        }
        let Some(key) = args.sign.as_deref() else {
            return Err(Error::usage(
                "--checkpoint needs --sign KEY: a checkpoint is a signed head",
            ));
        };
        return write_checkpoint(ctx, key);
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
        meta: &meta,
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
        let paint = render::Paint { on: ctx.color };
        render::emit(&render::events_table(
            &events,
            now,
            paint,
            ctx.fit(args.wide),
        ))?;
    }
    Ok(())
}

/// `--expect SEQ:HASH`.
fn parse_expect(text: &str) -> Result<Anchor> {
    let bad = || {
        Error::usage(format!(
            "--expect `{text}`: expected SEQ:HASH (an event number and its 64-character hash)"
        ))
    };
    let (seq, hash) = text.split_once(':').ok_or_else(bad)?;
    let seq: i64 = seq.trim().parse().map_err(|_| bad())?;
    let hash = hash.trim().to_ascii_lowercase();
    if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(Anchor {
        seq,
        hash,
        origin: format!("--expect {seq}:…"),
    })
}

fn verify(ctx: &mut Ctx, anchors: &mut Vec<Anchor>, checkpoint: Option<&Path>) -> Result<()> {
    if !ctx.state_exists() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no state file at {} to verify", ctx.location()),
        ));
    }
    let policy = ctx.policy()?;
    let trust = Trust::of(&policy)?;
    let mut signed_by = None;
    if let Some(path) = checkpoint {
        let Some(trust) = trust.as_ref() else {
            return Err(Error::usage(
                "cannot check a checkpoint: the policy in force has no [signing] allowed_signers",
            ));
        };
        let (anchor, principal) = checkpoint::read(path, trust)?;
        anchors.push(anchor);
        signed_by = Some(principal);
    }
    let opts = VerifyOptions {
        anchors,
        trust: trust.as_ref(),
    };
    let v = inspect::verify(&mut ctx.rung()?, &opts)?;
    if ctx.json {
        render::emit_json(json!({
            "verified": true,
            "events": v.events,
            "seq": v.seq,
            "head": v.head,
            "anchors": anchors.len(),
            "checkpoint_signed_by": signed_by,
            "signatures": v.signatures,
            "signatures_unchecked": v.unchecked,
        }))?;
    } else {
        let mut line = format!("ledger verified: {} events, head {}", v.events, v.head);
        if !anchors.is_empty() {
            line += &format!(
                "; {} recorded head{} still in the chain",
                anchors.len(),
                if anchors.len() == 1 { "" } else { "s" }
            );
        }
        if v.signatures > 0 {
            line += &format!("; {} signed decisions verified", v.signatures);
        }
        render::emit(&format!("{line}\n"))?;
        if v.unchecked > 0 {
            render::note(format_args!(
                "ladder: {} signed decisions were not checked: the policy in force has no [signing] allowed_signers",
                v.unchecked
            ));
        }
    }
    Ok(())
}

/// Verifies the ledger, then signs its head.
fn write_checkpoint(ctx: &mut Ctx, key: &str) -> Result<()> {
    if !ctx.state_exists() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no state file at {} to checkpoint", ctx.location()),
        ));
    }
    let policy = ctx.policy()?;
    let Some(trust) = Trust::of(&policy)? else {
        return Err(Error::usage(
            "--sign: the policy in force has no [signing] allowed_signers to check signatures against",
        ));
    };
    let v = inspect::verify(
        &mut ctx.rung()?,
        &VerifyOptions {
            anchors: &[],
            trust: Some(&trust),
        },
    )?;
    if v.seq == 0 {
        return Err(Error::new(
            Kind::NotFound,
            "the ledger is empty: nothing to checkpoint",
        ));
    }
    let at = ctx.now();
    let wanted = ctx.actor_named.then(|| ctx.actor.clone());
    let payload = |principal: &str| {
        Checkpoint {
            seq: v.seq,
            hash: &v.head,
            at,
            principal,
        }
        .payload()
    };
    let signed = crate::signing::sign(
        &trust,
        &SignWith::parse(key),
        wanted.as_deref(),
        at,
        "",
        &payload,
    )?;
    let text = format!("{}{}", payload(&signed.principal), signed.signature.armored);
    if ctx.json {
        render::emit_json(json!({
            "seq": v.seq,
            "hash": v.head,
            "at": crate::clock::rfc3339(at),
            "principal": signed.principal,
            "signature": signed.signature.armored,
            "checkpoint": text,
        }))
    } else {
        render::emit(&text)
    }
}

/// Reading a checkpoint file back.
mod checkpoint {
    use super::*;

    /// The anchor a checkpoint file records, after checking its signature;
    /// and who signed it.
    pub fn read(path: &Path, trust: &Trust) -> Result<(Anchor, String)> {
        let bad = |why: &str| {
            Error::usage(format!(
                "{}: not a ladder checkpoint: {why}",
                path.display()
            ))
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::usage(format!("cannot read checkpoint {}: {e}", path.display())))?;
        let at_sig = text
            .find("-----BEGIN SSH SIGNATURE-----")
            .ok_or_else(|| bad("no signature"))?;
        let (head, armored) = text.split_at(at_sig);
        let mut lines = head.lines();
        if lines.next() != Some("ladder-checkpoint-v1") {
            return Err(bad("it does not start with `ladder-checkpoint-v1`"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("no `{name}` line")))
        };
        let seq: i64 = field("seq")?
            .parse()
            .map_err(|_| bad("`seq` is not a number"))?;
        let hash = field("hash")?;
        let at =
            crate::clock::parse_rfc3339(&field("at")?).map_err(|_| bad("`at` is not a time"))?;
        let principal = field("principal")?;
        let payload = Checkpoint {
            seq,
            hash: &hash,
            at,
            principal: &principal,
        }
        .payload();
        if payload != head {
            return Err(bad("its header is not in the canonical form"));
        }
        trust
            .verify(&payload, &principal, at, armored)
            .map_err(|why| {
                Error::new(
                    Kind::Tampered,
                    format!("checkpoint {} does not verify: {why}", path.display()),
                )
            })?;
        Ok((
            Anchor {
                seq,
                hash,
                origin: format!("checkpoint {}", path.display()),
            },
            principal,
        ))
    }
}

//! A large ledger built through the library, the same for every store a
//! benchmark measures at size. Included by `#[path]` from the benches.

use ladder::model::{NewEvent, Plan, Status};
use ladder::store::{self, Store};
use ladder::tier::Tier;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Fills a state file through the library: `events` ledger events over
/// events/4 plans (planned, approved, started, applied). One plan in 20 is
/// left approved with its window open, as plans an agent made and never
/// applied are: every write looks for live plans whose window ended.
pub fn build_ledger(store: &mut dyn Store, events: usize) -> Duration {
    let start = Instant::now();
    let per_tx = 5_000;
    let plans = events / 4;
    let mut done = 0;
    while done < plans {
        let n = per_tx.min(plans - done);
        store::write(store, |tx| {
            for i in done..done + n {
                let plan = Plan {
                    seq: 0,
                    id: format!("{:08x}-0000-4000-8000-{:012x}", i, i),
                    key: format!("history-{i}"),
                    hash: ladder::plan_hash::sha256_hex(i.to_string().as_bytes()),
                    status: if i % 20 == 0 {
                        Status::Approved
                    } else {
                        Status::Applied
                    },
                    tier: Tier::Irreversible,
                    rule: Some("history".into()),
                    approvals_required: 1,
                    signatures_required: false,
                    approvals: vec![],
                    command: vec!["deploy".into(), format!("--build={i}").into()],
                    cwd: "/srv/app".into(),
                    // What a plan binds on a developer machine: PATH and
                    // HOME set, the program and directory by identity.
                    env: BTreeMap::from([
                        ("HOME".to_string(), Some("1".repeat(64))),
                        ("PATH".to_string(), Some("2".repeat(64))),
                    ]),
                    env_shown: BTreeMap::new(),
                    dry_run: None,
                    dry_run_ok: vec![0],
                    reason: Some("routine deploy".into()),
                    target: None,
                    effect: None,
                    rollback: None,
                    confidence: None,
                    actor: "agent".into(),
                    created_at: 1_700_000_000_000 + i as i64,
                    // 2100-01-01: open for as long as the bench runs.
                    expires_at: (i % 20 == 0).then_some(4_102_444_800_000),
                    rejection: None,
                    cancellation: None,
                    execution: None,
                    meta: Default::default(),
                    rollback_of: None,
                    rollback_plan: None,
                    policy_sha256: "0".repeat(64),
                    decision: vec![],
                    retry_allowed: false,
                    binding: Some(ladder::binding::Binding {
                        program: ladder::binding::BoundFile {
                            path: "/usr/local/bin/deploy".into(),
                            id: "2049:1835043:48213504:1763700000123456789:1763700000123456789"
                                .into(),
                        },
                        files: vec![],
                        cwd_id: "2049:1572866".into(),
                    }),
                    escalated_from: None,
                    in_force: None,
                };
                tx.insert_plan(&plan)?;
                // Events as ladder writes them, so that `log --verify` checks
                // every plan row against them and finds them in agreement.
                let command = ladder::text::argv_line(&plan.command);
                let live = plan.status == Status::Approved;
                let events = [
                    ("planned", serde_json::json!({"hash": plan.hash, "status": "pending", "tier": "irreversible", "rule": "history", "approvals_required": 1, "command": command})),
                    ("approved", serde_json::json!({"hash": plan.hash, "approvals": 1, "required": 1, "quorum": true, "comment": null})),
                    ("started", serde_json::json!({"attempt": 1, "hash": plan.hash, "command": command, "cwd": "/srv/app", "ladder_pid": 1})),
                    ("applied", serde_json::json!({"attempt": 1, "exit_code": 0, "signal": null, "timed_out": false, "duration_ms": 1200, "stdout_bytes": 5120, "stderr_bytes": 0, "truncated": false})),
                ];
                // A live plan never started: its last two events are an
                // agent's refused applies instead.
                let refused = [
                    ("refused", serde_json::json!({"command": "apply", "code": "budget_exceeded", "message": "budget \"writes\" is spent"})),
                    ("refused", serde_json::json!({"command": "apply", "code": "budget_exceeded", "message": "budget \"writes\" is spent"})),
                ];
                let events = if live {
                    [events[0].clone(), events[1].clone(), refused[0].clone(), refused[1].clone()]
                } else {
                    events
                };
                for (kind, detail) in events {
                    tx.append_event(&NewEvent {
                        at: plan.created_at,
                        kind,
                        plan: Some(plan.id.clone()),
                        key: Some(plan.key.clone()),
                        actor: "agent".into(),
                        detail,
                    })?;
                }
            }
            Ok(())
        })
        .expect("write");
        done += n;
    }
    start.elapsed()
}

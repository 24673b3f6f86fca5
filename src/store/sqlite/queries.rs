//! Reads and writes inside one transaction: the [`Tx`] of the SQLite store.
//! Every statement goes through `prepare_cached`.

use super::rows::*;
use crate::error::{Error, Kind, Result};
use crate::ledger;
use crate::model::{
    Approval, Cancellation, Check, Event, Execution, Millis, NewEvent, Plan, PlanRow, Rejection,
    Resolution, Signature, Status, Verdict,
};
use crate::store::schema::APPEND_ONLY_TRIGGERS;
use crate::store::{BudgetScope, EventFilter, Tx};
use crate::tier::Tier;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

/// The plans whose window has passed, read at every write. The index is
/// named because, without statistics, SQLite prefers `plans_by_status` for
/// the IN term and reads every live plan, at every write, however many
/// approved plans nobody applied (BENCHMARKS.md, *SQLite and the WAL*). The partial
/// index holds only live plans, in the order their windows end.
pub(super) const DUE_TO_EXPIRE: &str = "INDEXED BY plans_expiring \
     WHERE status IN ('pending', 'approved') AND expires_at <= ?1 ORDER BY seq";

/// The query for [`Tx::events`] under `f`. `?1 IS NULL OR plan = ?1`
/// reads every event (SQLite cannot use an index for it): with a plan or a
/// key, the query names the column outright, so its index serves it. Apply
/// reads a plan's events before every run, and a scan of the whole ledger
/// grew with it.
pub(super) fn events_sql(f: &EventFilter) -> String {
    let by = match (&f.plan, &f.key) {
        (Some(_), _) => "plan = ?1 AND (?2 IS NULL OR key = ?2)",
        (None, Some(_)) => "?1 IS NULL AND key = ?2",
        (None, None) => "?1 IS NULL AND ?2 IS NULL",
    };
    format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE {by} AND (?3 IS NULL OR at >= ?3)
           AND (?5 IS NULL OR plan IN (SELECT p.plan FROM events p
             WHERE p.kind = 'planned' AND NOT EXISTS (
               SELECT 1 FROM json_each(?5) m
               WHERE json_extract(p.detail, '$.meta.\"' || m.key || '\"') IS NOT m.value)))
         ORDER BY seq DESC LIMIT ?4"
    )
}

pub(super) struct SqliteTx<'a> {
    pub(super) conn: &'a Connection,
    /// The state file, whose lock file holds the run locks.
    pub(super) path: &'a std::path::Path,
}

impl SqliteTx<'_> {
    /// Fills in approvals and the latest execution for a batch of plans:
    /// two queries in all, not two per plan.
    fn complete(&self, mut plans: Vec<Plan>) -> Result<Vec<Plan>> {
        if plans.is_empty() {
            return Ok(plans);
        }
        let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
        let ids = json(&ids);
        let mut approvals: HashMap<String, Vec<Approval>> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT plan, actor, at, comment, hash, signature, signed_policy FROM approvals
                 WHERE plan IN (SELECT value FROM json_each(?1)) ORDER BY at, actor, hash",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([&ids], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Approval {
                        actor: r.get(1)?,
                        at: r.get(2)?,
                        comment: r.get(3)?,
                        hash: r.get(4)?,
                        signature: match r.get::<_, Option<String>>(5)? {
                            Some(armored) => Some(Signature {
                                armored,
                                policy_sha256: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                            }),
                            None => None,
                        },
                        check: Check::Unchecked,
                    },
                ))
            })
            .map_err(db)?;
        for row in rows {
            let (plan, approval) = row.map_err(db)?;
            approvals.entry(plan).or_default().push(approval);
        }
        let mut executions: HashMap<String, Execution> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.* FROM executions e
                 WHERE e.plan IN (SELECT value FROM json_each(?1))
                   AND e.attempt = (SELECT max(attempt) FROM executions WHERE plan = e.plan)",
            )
            .map_err(db)?;
        let rows = stmt.query_map([&ids], execution_from_row).map_err(db)?;
        for row in rows {
            let exec = row.map_err(db)?;
            executions.insert(exec.plan.clone(), exec);
        }
        for plan in &mut plans {
            plan.approvals = approvals.remove(&plan.id).unwrap_or_default();
            plan.execution = executions.remove(&plan.id);
        }
        Ok(plans)
    }

    fn plans_where(&self, sql_tail: &str, params: impl rusqlite::Params) -> Result<Vec<Plan>> {
        let sql = format!("SELECT {PLAN_COLUMNS}, {ROLLBACK_PLAN} FROM plans {sql_tail}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db)?;
        let rows: Vec<Plan> = stmt
            .query_map(params, plan_from_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        self.complete(rows)
    }
}

impl Tx for SqliteTx<'_> {
    fn run_is_live(&mut self, plan: &Plan) -> Result<bool> {
        Ok(super::runlock::is_held(self.path, plan.seq)?)
    }

    fn plan(&mut self, id: &str) -> Result<Option<Plan>> {
        Ok(self.plans_where("WHERE id = ?1", [id])?.into_iter().next())
    }

    fn plan_ids_with_prefix(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        // Ids are lowercase hex UUIDs; a range scan on the unique index
        // finds prefixes without LIKE's escaping pitfalls.
        let mut upper = prefix.to_string();
        upper.push('\u{10FFFF}');
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM plans WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3")
            .map_err(db)?;
        let ids = stmt
            .query_map(params![prefix, upper, limit as i64], |r| r.get(0))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        Ok(ids)
    }

    fn latest_plan_for_key(&mut self, key: &str) -> Result<Option<Plan>> {
        Ok(self
            .plans_where("WHERE key = ?1 ORDER BY seq DESC LIMIT 1", [key])?
            .into_iter()
            .next())
    }

    fn plans(&mut self, statuses: &[Status], limit: Option<u64>) -> Result<Vec<Plan>> {
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let mut out = if statuses.is_empty() {
            self.plans_where("ORDER BY seq DESC LIMIT ?1", [limit])?
        } else {
            let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            let json = serde_json::to_string(&names)
                .map_err(|e| Error::new(Kind::Error, e.to_string()))?;
            self.plans_where(
                "WHERE status IN (SELECT value FROM json_each(?1)) ORDER BY seq DESC LIMIT ?2",
                params![json, limit],
            )?
        };
        out.reverse();
        Ok(out)
    }

    fn plans_due_to_expire(&mut self, now: Millis) -> Result<Vec<Plan>> {
        self.plans_where(DUE_TO_EXPIRE, [now])
    }

    fn insert_plan(&mut self, p: &Plan) -> Result<i64> {
        let d = p.dry_run.as_ref();
        let b = p.binding.as_ref();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "INSERT INTO plans ({}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                 ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29,
                 ?30, ?31, NULL, NULL, NULL, ?32, ?33, ?34, ?35, ?36, NULL, NULL, ?37, ?38, NULL,
                 NULL, NULL, ?39)",
                PLAN_COLUMNS
            ))
            .map_err(db)?;
        // The argv encoding separates arguments with NUL: one inside an
        // argument would come back split, as another command than the one
        // hashed. `plan` refuses such arguments; this keeps any other
        // caller from storing one.
        let args = p.command.iter().chain(d.iter().flat_map(|d| &d.command));
        if args.into_iter().any(|a| a.as_bytes().contains(&0)) {
            return Err(Error::usage(
                "an argument holds a NUL byte; it cannot be stored",
            ));
        }
        stmt.execute(params![
            p.id,
            p.key,
            p.hash,
            p.status.as_str(),
            p.tier.as_str(),
            p.rule,
            p.approvals_required,
            encode_argv(&p.command),
            p.cwd.as_os_str().as_bytes(),
            json(&p.env),
            d.map(|d| encode_argv(&d.command)),
            d.map(|d| d.exit_code),
            d.map(|d| d.stdout.as_slice()),
            d.map(|d| d.stderr.as_slice()),
            d.map(|d| d.stdout_sha256.as_str()),
            d.map(|d| d.stderr_sha256.as_str()),
            d.map(|d| d.stdout_bytes as i64),
            d.map(|d| d.stderr_bytes as i64),
            d.map(|d| d.truncated),
            json(&p.dry_run_ok),
            p.reason,
            p.target,
            p.effect,
            p.rollback,
            p.confidence,
            p.actor,
            p.created_at,
            p.expires_at,
            p.policy_sha256,
            json(&p.decision),
            p.retry_allowed,
            b.map(|b| b.cwd_id.as_str()),
            b.map(|b| b.program.path.as_os_str().as_bytes()),
            b.map(|b| b.program.id.as_str()),
            b.map(|b| encode_files(&b.files)),
            p.escalated_from.as_ref().map(json),
            crate::meta::to_column(&p.meta),
            p.rollback_of,
            crate::meta::to_column(&p.env_shown),
        ])
        .map_err(db)?;
        Ok(self.conn.last_insert_rowid())
    }

    fn set_status(&mut self, id: &str, status: Status, expires_at: Option<Millis>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE plans SET status = ?2, expires_at = ?3 WHERE id = ?1")
            .map_err(db)?
            .execute(params![id, status.as_str(), expires_at])
            .map_err(db)?;
        Ok(())
    }

    fn escalate(
        &mut self,
        id: &str,
        to: &Verdict,
        from: &Verdict,
        decision: &[String],
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE plans SET tier = ?2, rule = ?3, approvals_required = ?4,
                 escalated_from = ?5, decision = ?6, policy_sha256 = ?7 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![
                id,
                to.tier.as_str(),
                to.rule,
                to.approvals_required,
                json(from),
                json(decision),
                to.policy_sha256
            ])
            .map_err(db)?;
        Ok(())
    }

    fn set_retry_allowed(&mut self, id: &str, allowed: bool) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE plans SET retry_allowed = ?2 WHERE id = ?1")
            .map_err(db)?
            .execute(params![id, allowed])
            .map_err(db)?;
        Ok(())
    }

    fn insert_approval(&mut self, plan: &str, a: &Approval) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO approvals
                   (plan, actor, at, comment, hash, signature, signature_kind, signed_policy)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db)?
            .execute(params![
                plan,
                a.actor,
                a.at,
                a.comment,
                a.hash,
                a.signature.as_ref().map(|s| &s.armored),
                a.signature.as_ref().map(|_| "ssh"),
                a.signature.as_ref().map(|s| &s.policy_sha256),
            ])
            .map_err(db)?;
        Ok(())
    }

    fn set_rejection(&mut self, plan: &str, r: &Rejection) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE plans SET rejected_by = ?2, rejected_reason = ?3, rejected_at = ?4,
                   rejected_signature = ?5, rejected_signed_policy = ?6
                 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![
                plan,
                r.actor,
                r.reason,
                r.at,
                r.signature.as_ref().map(|s| &s.armored),
                r.signature.as_ref().map(|s| &s.policy_sha256),
            ])
            .map_err(db)?;
        Ok(())
    }

    fn set_cancellation(&mut self, plan: &str, c: &Cancellation) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE plans SET cancelled_by = ?2, cancelled_reason = ?3, cancelled_at = ?4
                 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![plan, c.actor, c.reason, c.at])
            .map_err(db)?;
        Ok(())
    }

    fn insert_execution(&mut self, e: &Execution, tier: Tier, rule: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO executions (plan, attempt, key, tier, rule, actor, pid, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(db)?
            .execute(params![
                e.plan,
                e.attempt,
                e.key,
                tier.as_str(),
                rule,
                e.actor,
                e.pid,
                e.started_at
            ])
            .map_err(db)?;
        Ok(())
    }

    fn finish_execution(&mut self, e: &Execution) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE executions SET pid = ?3, finished_at = ?4, exit_code = ?5, signal = ?6,
                   timed_out = ?7, stdout = ?8, stderr = ?9, stdout_bytes = ?10, stderr_bytes = ?11,
                   stdout_sha256 = ?12, stderr_sha256 = ?13, truncated = ?14
                 WHERE plan = ?1 AND attempt = ?2",
            )
            .map_err(db)?
            .execute(params![
                e.plan,
                e.attempt,
                e.pid,
                e.finished_at,
                e.exit_code,
                e.signal,
                e.timed_out,
                e.stdout,
                e.stderr,
                e.stdout_bytes as i64,
                e.stderr_bytes as i64,
                e.stdout_sha256,
                e.stderr_sha256,
                e.truncated
            ])
            .map_err(db)?;
        Ok(())
    }

    fn resolve_execution(
        &mut self,
        plan: &str,
        attempt: u32,
        r: &Resolution,
        exit_code: Option<i32>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE executions SET resolved_by = ?3, resolved_outcome = ?4, resolved_reason = ?5,
                   resolved_at = ?6, exit_code = coalesce(exit_code, ?7),
                   resolved_signature = ?8, resolved_signed_policy = ?9
                 WHERE plan = ?1 AND attempt = ?2",
            )
            .map_err(db)?
            .execute(params![
                plan,
                attempt,
                r.actor,
                r.outcome.as_str(),
                r.reason,
                r.at,
                exit_code,
                r.signature.as_ref().map(|s| &s.armored),
                r.signature.as_ref().map(|s| &s.policy_sha256),
            ])
            .map_err(db)?;
        Ok(())
    }

    fn execution_count(&mut self, plan: &str) -> Result<u32> {
        self.conn
            .prepare_cached("SELECT count(*) FROM executions WHERE plan = ?1")
            .map_err(db)?
            .query_row([plan], |r| r.get(0))
            .map_err(db)
    }

    fn budget_usage(&mut self, s: &BudgetScope) -> Result<(u32, Option<Millis>)> {
        let tiers: Vec<&str> = s.tiers.iter().map(|t| t.as_str()).collect();
        let tiers =
            serde_json::to_string(&tiers).map_err(|e| Error::new(Kind::Error, e.to_string()))?;
        self.conn
            .prepare_cached(
                "SELECT count(*), min(started_at) FROM executions
                 WHERE started_at > ?1
                   AND tier IN (SELECT value FROM json_each(?2))
                   AND (?3 IS NULL OR rule = ?3)
                   AND (?4 IS NULL OR actor = ?4)",
            )
            .map_err(db)?
            .query_row(params![s.since, tiers, s.rule, s.actor], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(db)
    }

    fn append_event(&mut self, e: &NewEvent) -> Result<Event> {
        let head: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .map_err(db)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?;
        let (seq, prev_hash) = match head {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, ledger::GENESIS.to_string()),
        };
        // serde_json's Map is a BTreeMap: keys come out sorted, so the
        // stored text is canonical and is exactly what gets hashed.
        let detail = e.detail.to_string();
        let hash = ledger::event_hash(&ledger::EventFields {
            seq,
            at: e.at,
            kind: e.kind,
            plan: e.plan.as_deref(),
            key: e.key.as_deref(),
            actor: &e.actor,
            detail: &detail,
            prev_hash: &prev_hash,
        });
        self.conn
            .prepare_cached(
                "INSERT INTO events (seq, at, kind, plan, key, actor, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(db)?
            .execute(params![
                seq, e.at, e.kind, e.plan, e.key, e.actor, detail, prev_hash, hash
            ])
            .map_err(db)?;
        Ok(Event {
            seq,
            at: e.at,
            kind: e.kind.to_string(),
            plan: e.plan.clone(),
            key: e.key.clone(),
            actor: e.actor.clone(),
            detail,
            prev_hash,
            hash,
        })
    }

    fn events(&mut self, f: &EventFilter) -> Result<Vec<Event>> {
        let limit = f.limit.map(|l| l as i64).unwrap_or(-1);
        let sql = events_sql(f);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db)?;
        let mut events: Vec<Event> = stmt
            .query_map(
                params![
                    f.plan,
                    f.key,
                    f.since,
                    limit,
                    crate::meta::filter_json(&f.meta)
                ],
                event_from_row,
            )
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        events.reverse();
        Ok(events)
    }

    fn for_each_event(&mut self, f: &mut dyn FnMut(Event) -> Result<()>) -> Result<()> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
        let mut stmt = self.conn.prepare(&sql).map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            f(event_from_row(row).map_err(db)?)?;
        }
        Ok(())
    }

    fn last_event_of(&mut self, plan: &str, kind: &str) -> Result<Option<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE plan = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT 1"
        );
        self.conn
            .prepare_cached(&sql)
            .map_err(db)?
            .query_row(params![plan, kind], event_from_row)
            .optional()
            .map_err(db)
    }

    fn for_each_plan_row(&mut self, f: &mut dyn FnMut(PlanRow) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, hash, status, tier, approvals_required, command FROM plans ORDER BY seq",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let row = (|| -> rusqlite::Result<PlanRow> {
                Ok(PlanRow {
                    id: r.get(0)?,
                    hash: r.get(1)?,
                    status: r.get(2)?,
                    tier: r.get(3)?,
                    approvals_required: r.get(4)?,
                    command: decode_argv(&r.get::<_, Vec<u8>>(5)?),
                })
            })()
            .map_err(db)?;
            f(row)?;
        }
        Ok(())
    }

    fn for_each_signed_approval(
        &mut self,
        f: &mut dyn FnMut(&str, Approval) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT plan, actor, at, comment, hash, signature, signed_policy FROM approvals
                 WHERE signature IS NOT NULL ORDER BY plan, at",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let (plan, approval) = (|| -> rusqlite::Result<(String, Approval)> {
                Ok((
                    r.get(0)?,
                    Approval {
                        actor: r.get(1)?,
                        at: r.get(2)?,
                        comment: r.get(3)?,
                        hash: r.get(4)?,
                        signature: Some(Signature {
                            armored: r.get(5)?,
                            policy_sha256: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        }),
                        check: Check::Unchecked,
                    },
                ))
            })()
            .map_err(db)?;
            f(&plan, approval)?;
        }
        Ok(())
    }

    fn ledger_is_append_only(&mut self) -> Result<std::result::Result<(), String>> {
        // Names alone are not enough: a trigger of the same name that does
        // nothing would pass. Each must be the schema's own statement, as
        // SQLite keeps it (whitespace aside).
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?1 AND tbl_name = 'events'",
            )
            .map_err(db)?;
        for (name, sql) in APPEND_ONLY_TRIGGERS {
            let found: Option<Option<String>> = stmt
                .query_row([name], |r| r.get(0))
                .optional()
                .map_err(db)?;
            match found {
                None => {
                    return Ok(Err(format!(
                        "the ledger's append-only trigger {name} was removed"
                    )));
                }
                Some(text) if text.as_deref().map(normalize_sql) != Some(normalize_sql(sql)) => {
                    return Ok(Err(format!(
                        "the ledger's append-only trigger {name} was replaced by another of the same name"
                    )));
                }
                Some(_) => {}
            }
        }
        // Nor is the presence of ours: a trigger added beside them can
        // drop events as they are written (`RAISE(IGNORE)` on a refusal)
        // or rewrite rows behind every command. The schema creates no
        // other trigger, so any other is an edit.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name",
            )
            .map_err(db)?;
        let triggers: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        if let Some((name, table)) = triggers
            .iter()
            .find(|(name, _)| !APPEND_ONLY_TRIGGERS.iter().any(|(n, _)| n == name))
        {
            return Ok(Err(format!(
                "a trigger the schema does not create was added on table {table}: {name}"
            )));
        }
        Ok(Ok(()))
    }
    fn for_each_execution(
        &mut self,
        f: &mut dyn FnMut(Execution, Tier, Option<String>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT * FROM executions ORDER BY started_at, plan, attempt")
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let exec = execution_from_row(r).map_err(db)?;
            let tier: String = r.get("tier").map_err(db)?;
            let tier = tier.parse().map_err(|e| {
                Error::new(
                    Kind::Error,
                    format!("state database error: corrupt tier: {e}"),
                )
            })?;
            f(exec, tier, r.get("rule").map_err(db)?)?;
        }
        Ok(())
    }

    fn copy_event(&mut self, e: &Event) -> Result<()> {
        let head: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .map_err(db)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?;
        let (seq, prev) = head.unwrap_or((0, ledger::GENESIS.to_string()));
        if e.seq != seq + 1 || e.prev_hash != prev {
            return Err(Error::new(
                Kind::Error,
                format!("event {} does not follow event {seq} of this ledger", e.seq),
            ));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO events (seq, at, kind, plan, key, actor, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(db)?
            .execute(params![
                e.seq,
                e.at,
                e.kind,
                e.plan,
                e.key,
                e.actor,
                e.detail,
                e.prev_hash,
                e.hash
            ])
            .map_err(db)?;
        Ok(())
    }
}

/// SQL text with every run of whitespace made one space, and no `;` at the
/// end (SQLite keeps a statement without it).
fn normalize_sql(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    words.join(" ").trim_end_matches(';').trim_end().to_string()
}
/// JSON text for values stored in TEXT columns (maps and vectors of strings
/// and numbers, which always serialize).
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

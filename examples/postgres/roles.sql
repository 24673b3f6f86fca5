-- ladder's role split on PostgreSQL.
--
-- Run as the role that owns ladder's tables (the one that first ran ladder
-- on the database, which created them), e.g.
--     psql "postgres://owner@db.internal/ladder" -f roles.sql
-- then give each person and machine a login in one of the two roles:
--     CREATE ROLE ci_runner LOGIN PASSWORD '...' IN ROLE ladder_agent;
--     CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE ladder_reviewer;
--
-- What it holds: no agent or reviewer role can UPDATE, DELETE or TRUNCATE
-- ledger events (the triggers refuse it too, and only the owner could drop
-- them), nor change the schema; an agent's role cannot write approvals at
-- all. Both still run every other rung: plan, apply, replay, reject,
-- resolve, and the expiry every write settles.

CREATE ROLE ladder_agent NOLOGIN;
CREATE ROLE ladder_reviewer NOLOGIN;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ladder_agent, ladder_reviewer;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ladder_agent, ladder_reviewer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ladder_agent, ladder_reviewer;

-- Rungs update plans and runs in place; the ledger only grows, its head
-- row moving with it.
GRANT INSERT, UPDATE ON plans, executions TO ladder_agent, ladder_reviewer;
GRANT INSERT ON events TO ladder_agent, ladder_reviewer;
GRANT UPDATE ON ledger_head TO ladder_agent, ladder_reviewer;

-- Only reviewers approve.
GRANT INSERT ON approvals TO ladder_reviewer;

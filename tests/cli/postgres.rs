//! The whole contract on PostgreSQL, through the binary: `--state
//! postgres://...` against a throwaway server the tests start themselves
//! (or `LADDER_TEST_DATABASE_URL`); skipped with a loud note where no
//! server can be had.

#[path = "../../src/store/postgres/test_server.rs"]
#[allow(dead_code)]
mod test_server;

use crate::harness::{STRICT_POLICY, TestEnv, apply_args, assert_refused};
use std::os::unix::process::CommandExt as _;
use std::process::Stdio;

/// A strict environment whose state is a fresh PostgreSQL database.
pub(crate) fn on_postgres() -> Option<TestEnv> {
    let server = test_server::TestServer::shared()?;
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    t.env("LADDER_STATE", &server.fresh_database());
    Some(t)
}

/// The URL of `t`'s state database.
fn state_url(t: &TestEnv) -> String {
    t.extra_env
        .iter()
        .find(|(name, _)| name == "LADDER_STATE")
        .map(|(_, url)| url.clone())
        .unwrap()
}

/// Starts `apply --json` of `plan` in the background, and returns once its
/// command has made `mark` (it is running).
fn apply_until(
    t: &TestEnv,
    plan: &serde_json::Value,
    mark: &std::path::Path,
) -> std::process::Child {
    let applier = t
        .std_cmd("agent")
        .args(["--json"])
        .args(apply_args(plan))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if mark.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(mark.exists(), "the command never started");
    applier
}

/// Plan, approve, apply, a retry that replays, a key conflict, verify:
/// what each answered, and the ledger's kinds.
fn round_trip(t: &TestEnv) -> (String, Vec<i32>, Vec<u8>, Vec<String>) {
    let plan = t.plan("agent", "deploy", &[], &["echo", "the same everywhere"]);
    let approve = t.approve("alice", &plan);
    let apply = t.apply("agent", &plan);
    let again = t.apply("agent", &plan);
    assert_eq!(apply.stdout, again.stdout, "a retry replays byte for byte");
    let conflict = t.json("agent", &["plan", "--key", "deploy", "--", "echo", "other"]);
    let verify = t.json("viewer", &["log", "--verify"]);
    let codes = vec![
        approve.code,
        apply.code,
        again.code,
        conflict.code,
        verify.code,
    ];
    let hash = plan["hash"].as_str().unwrap().to_string();
    (hash, codes, apply.stdout, t.event_kinds())
}

#[test]
fn a_round_trip_on_postgres_hashes_and_answers_as_on_sqlite() {
    let Some(mut t) = on_postgres() else { return };
    let on_server = round_trip(&t);
    // The same directory, HOME and PATH, on the test's SQLite file.
    t.extra_env.retain(|(name, _)| name != "LADDER_STATE");
    let on_file = round_trip(&t);
    assert_eq!(on_server.1, vec![0, 0, 0, 15, 0]);
    assert_eq!(on_server.2, b"the same everywhere\n");
    // The same hash (a plan's hash never depends on where it is stored),
    // the same exit codes, output and ledger.
    assert_eq!(on_server, on_file);
}

#[test]
fn many_appliers_on_one_key_run_the_command_once() {
    let Some(t) = on_postgres() else { return };
    let runs = t.path().join("runs");
    let line = format!("echo ran >> {}; sleep 0.3", runs.display());
    let plan = t.plan("agent", "once", &[], &["sh", "-c", &line]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    let children: Vec<_> = (0..12)
        .map(|_| {
            t.std_cmd("agent")
                .args(apply_args(&plan))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.code().unwrap_or(-1))
        .collect();
    let ran = std::fs::read_to_string(&runs).unwrap();
    assert_eq!(ran.lines().count(), 1, "ran more than once: {codes:?}");
    // Each either ran it, replayed it, or was told it was in flight.
    assert!(codes.iter().all(|c| [0, 16].contains(c)), "{codes:?}");
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);
}

#[test]
fn an_applier_killed_mid_run_leaves_outcome_unknown_never_a_second_run() {
    let Some(t) = on_postgres() else { return };
    let runs = t.path().join("runs");
    let line = format!("echo ran >> {}; sleep 30", runs.display());
    let plan = t.plan("agent", "killed", &[], &["sh", "-c", &line]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    let mut applier = t
        .std_cmd("agent")
        .args(apply_args(&plan))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // Wait for the command to start, then kill the applier and its command.
    for _ in 0..500 {
        if runs.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(runs.exists(), "the command never started");
    unsafe { libc::kill(-(applier.id() as i32), libc::SIGKILL) };
    applier.wait().unwrap();
    // The server frees the dead applier's lock with its connection.
    let mut r = t.apply_json("agent", &plan);
    for _ in 0..100 {
        if r.code != 16 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        r = t.apply_json("agent", &plan);
    }
    assert_refused(&r, 17, "outcome_unknown");
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 1);
    assert_eq!(t.show(&plan)["status"], "interrupted");
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);
}

#[test]
fn an_unreachable_server_is_one_line_and_nothing_else() {
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    // Port 1 on localhost: nothing listens there.
    t.env(
        "LADDER_STATE",
        "postgres://ladder:secret@127.0.0.1:1/ladder",
    );
    let r = t.run("viewer", &["list"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("secret"),
        "the password shows: {}",
        r.stderr
    );
}

#[test]
fn a_local_history_moves_up_to_postgres_with_its_chain_intact() {
    let Some(mut t) = on_postgres() else { return };
    let url = state_url(&t);
    // The history is made on the test's SQLite file.
    t.extra_env.retain(|(name, _)| name != "LADDER_STATE");
    let applied = t.plan("agent", "applied", &[], &["echo", "moved"]);
    assert_eq!(t.approve("alice", &applied).code, 0);
    assert_eq!(t.apply("agent", &applied).code, 0);
    let rejected = t.plan("agent", "rejected", &[], &["echo", "no"]);
    let r = t.json(
        "bob",
        &["reject", rejected["id"].as_str().unwrap(), "--reason", "no"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pending = t.plan("agent", "pending", &[], &["echo", "later"]);
    let file_events = t.events();
    let file_list = t.json("viewer", &["list", "--status", "all"]).json();

    let state = t.state();
    let copy = |t: &TestEnv| {
        t.json(
            "viewer",
            &[
                "state",
                "copy",
                "--from",
                state.to_str().unwrap(),
                "--to",
                &url,
            ],
        )
    };
    let r = copy(&t);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["events"], file_events.len());

    // From here on, the team database.
    t.env("LADDER_STATE", &url);
    let v = t.json("viewer", &["log", "--verify"]);
    assert_eq!(v.code, 0, "{}", v.stdout_str());
    assert_eq!(t.events(), file_events, "the ledger moved event for event");
    assert_eq!(
        t.json("viewer", &["list", "--status", "all"]).json(),
        file_list
    );
    let replay = t.run("agent", &["replay", "--key", "applied"]);
    assert_eq!((replay.code, replay.stdout), (0, b"moved\n".to_vec()));
    // The pending plan goes on up the ladder there.
    assert_eq!(t.approve("alice", &pending).code, 0);
    assert_eq!(t.apply("agent", &pending).stdout, b"later\n");
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);

    // A second copy into a database that holds state is refused, untouched.
    assert_refused(&copy(&t), 2, "usage");
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);
}

/// The shipped role split: an agent's role plans and applies, cannot
/// approve, and cannot touch the ledger; a reviewer's role approves.
#[test]
fn the_shipped_roles_keep_an_agent_out_of_the_ledger_and_the_approvals() {
    let Some(mut t) = on_postgres() else { return };
    let owner_url = state_url(&t);
    // The owner creates ladder's schema, then the roles.
    assert_eq!(t.run("viewer", &["list"]).code, 0);
    let mut owner = postgres::Client::connect(&owner_url, postgres::NoTls).unwrap();
    // Role names are cluster-wide: this test's own, so parallel runs and
    // other tests do not collide.
    let tag = format!("{}_{}", std::process::id(), owner_url.len());
    let sql = include_str!("../../examples/postgres/roles.sql")
        .replace("ladder_agent", &format!("ladder_agent_{tag}"))
        .replace("ladder_reviewer", &format!("ladder_reviewer_{tag}"));
    owner.batch_execute(&sql).unwrap();
    owner
        .batch_execute(&format!(
            "CREATE ROLE agent_{tag} LOGIN IN ROLE ladder_agent_{tag};
             CREATE ROLE alice_{tag} LOGIN IN ROLE ladder_reviewer_{tag};"
        ))
        .unwrap();
    // The test server's socket trusts its users: a login is a user name.
    let (scheme, rest) = owner_url.split_once("://").unwrap();
    let (_, at) = rest.split_once('@').unwrap();
    let as_user = |user: &str| format!("{scheme}://{user}@{at}");
    let (agent_url, alice_url) = (
        as_user(&format!("agent_{tag}")),
        as_user(&format!("alice_{tag}")),
    );

    t.env("LADDER_STATE", &agent_url);
    let plan = t.plan("agent", "split", &[], &["echo", "by role"]);
    // The agent's role cannot approve, whatever name it gives.
    let r = t.run("alice", &["approve", plan["id"].as_str().unwrap(), "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("permission denied"), "{}", r.stderr);

    t.env("LADDER_STATE", &alice_url);
    assert_eq!(t.approve("alice", &plan).code, 0);
    t.env("LADDER_STATE", &agent_url);
    let r = t.apply("agent", &plan);
    assert_eq!(
        (r.code, r.stdout),
        (0, b"by role\n".to_vec()),
        "{}",
        r.stderr
    );

    // Straight to the database, as the agent's role.
    let mut agent = postgres::Client::connect(&agent_url, postgres::NoTls).unwrap();
    for sql in [
        "UPDATE events SET actor = 'nobody'",
        "DELETE FROM events",
        "TRUNCATE events",
        "INSERT INTO approvals (plan, actor, at, hash) SELECT id, 'bob', 0, hash FROM plans",
        "DROP TRIGGER events_no_change ON events",
    ] {
        let e = agent.batch_execute(sql).expect_err(sql);
        let code = e.as_db_error().map(|d| d.code().code().to_string());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {e:?}");
    }
    t.env("LADDER_STATE", &owner_url);
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);
}

/// A run lock lost while the command runs (its connection killed, as a
/// server restart or a dropped link would): the outcome is recorded, the
/// plan is left interrupted for a person, and nothing claims `applied`.
#[test]
fn a_run_lock_lost_mid_run_is_recorded_as_interrupted_not_applied() {
    let Some(t) = on_postgres() else { return };
    let url = state_url(&t);
    let mark = t.path().join("started");
    let line = format!("touch {}; sleep 1", mark.display());
    let plan = t.plan("agent", "lost", &[], &["sh", "-c", &line]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    let applier = apply_until(&t, &plan, &mark);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN plans p
               ON (l.classid::bigint << 32) | l.objid::bigint = p.seq
             WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted AND p.id = $1",
            &[&plan["id"].as_str().unwrap()],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "the run lock's connection was not found");
    let out = applier.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(17),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let shown = t.show(&plan);
    assert_eq!(shown["status"], "interrupted", "{shown}");
    assert_refused(&t.apply_json("agent", &plan), 17, "outcome_unknown");
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);
}

/// What a server restart does to an applier mid-run: every session of the
/// database ends (the run lock's and the applier's own) and connections are
/// refused for a while, then accepted again. The command is not run again,
/// its outcome is recorded once the server is back, and the plan is left
/// interrupted for a person: nobody can say the run was not cut off.
/// (The shared test server cannot itself restart under the other tests.)
#[test]
fn a_server_gone_and_back_mid_run_leaves_the_outcome_recorded_and_the_plan_interrupted() {
    let Some(t) = on_postgres() else { return };
    let url = state_url(&t);
    let db = url.split_once("@/").unwrap().1.split('?').next().unwrap();
    let server = test_server::TestServer::shared().unwrap();
    let runs = t.path().join("runs");
    let line = format!("echo ran >> {}; sleep 1; echo finished", runs.display());
    let plan = t.plan("agent", "restart", &[], &["sh", "-c", &line]);
    assert_eq!(t.approve("alice", &plan).code, 0);
    let applier = apply_until(&t, &plan, &runs);
    let mut admin = postgres::Client::connect(&server.admin_url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}';"
        ))
        .unwrap();
    // Down past the command's end, so the applier finds it gone.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    admin
        .batch_execute(&format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS true"))
        .unwrap();
    let out = applier.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(17), "{stderr}");
    let shown = t.show(&plan);
    assert_eq!(shown["status"], "interrupted", "{shown}");
    assert_eq!(
        shown["execution"]["stdout"], "finished\n",
        "the outcome is kept on the run: {shown}"
    );
    assert_refused(&t.apply_json("agent", &plan), 17, "outcome_unknown");
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "ran\n");
    assert_eq!(t.json("viewer", &["log", "--verify"]).code, 0);
}

/// `apply --wait` on a shared database runs once a reviewer on another
/// connection approves (woken by the server's notification).
#[test]
fn apply_wait_runs_once_approved_from_elsewhere() {
    let Some(t) = on_postgres() else { return };
    let plan = t.plan("agent", "waiting", &[], &["echo", "after approval"]);
    let mut args = vec!["--json"];
    args.extend(apply_args(&plan));
    args.extend(["--wait", "60s"]);
    let applier = t
        .std_cmd("agent")
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(t.approve("alice", &plan).code, 0);
    let out = applier.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["stdout"], "after approval\n", "{result}");
}

/// A URL without its password takes it from the pgpass file, as psql
/// would, and only from one nobody else can read.
#[test]
fn a_password_comes_from_pgpass_when_only_its_owner_can_read_it() {
    let Some(server) = test_server::TestServer::shared() else {
        return;
    };
    let db = server.fresh_database();
    let name = db
        .split_once("@/")
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let tcp = server.tcp_url(&name);
    // postgres://ladder:PASSWORD@127.0.0.1:PORT/NAME
    let (auth, rest) = tcp
        .trim_start_matches("postgres://")
        .split_once('@')
        .unwrap();
    let (user, password) = auth.split_once(':').unwrap();
    let port = rest.split_once(':').unwrap().1.split('/').next().unwrap();
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    let pgpass = t.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{port}:{name}:{user}:{password}\n"),
    )
    .unwrap();
    t.env(
        "LADDER_STATE",
        &format!("postgres://{user}@127.0.0.1:{port}/{name}"),
    )
    .env("PGPASSFILE", pgpass.to_str().unwrap());
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = t.run("viewer", &["list"]);
    assert_eq!(r.code, 1, "a pgpass others can read was used: {}", r.stderr);
    assert!(!r.stderr.contains(password), "{}", r.stderr);
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = t.run("viewer", &["list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Round trips per rung, counted on the wire by a proxy (not by ladder's
/// own account), against ceilings: what each rung takes today. A rung that
/// goes back to preparing each statement before running it, or to a
/// transaction's begin and end in flights of their own, fails here.
/// BENCHMARKS.md sets these beside the protocol's minimum.
#[test]
fn each_rung_stays_within_its_round_trips() {
    let Some(server) = test_server::TestServer::shared() else {
        return;
    };
    let url = server.fresh_database();
    let db = url.split_once("@/").unwrap().1.split('?').next().unwrap();
    let Some(wire) = test_server::WireCounter::new(server, db) else {
        return;
    };
    let mut t = TestEnv::new();
    t.with_policy(STRICT_POLICY);
    t.env("LADDER_STATE", &wire.url);
    // The first use creates the schema: not a rung's cost.
    assert_eq!(t.json("viewer", &["list"]).code, 0);
    wire.take();
    let mut counts = vec![];
    let mut count = |rung: &str, code: i32| {
        assert_eq!(code, 0, "{rung} failed");
        counts.push((rung.to_string(), wire.take()));
    };
    let plan = t.plan("agent", "deploy", &[], &["echo", "hi"]);
    count("plan", 0);
    count("approve", t.approve("alice", &plan).code);
    count("apply", t.apply("agent", &plan).code);
    count("apply (replayed)", t.apply("agent", &plan).code);
    count(
        "replay",
        t.json("agent", &["replay", "--key", "deploy"]).code,
    );
    count("show", t.json("viewer", &["show", "--key", "deploy"]).code);
    count("list", t.json("viewer", &["list"]).code);
    count("log --verify", t.json("viewer", &["log", "--verify"]).code);
    // (connections, round trips) at most.
    let ceilings = [
        ("plan", (1, 8)),
        ("approve", (1, 10)),
        ("apply", (2, 21)),
        ("apply (replayed)", (1, 10)),
        ("replay", (1, 7)),
        ("show", (1, 6)),
        ("list", (1, 6)),
        ("log --verify", (1, 7)),
    ];
    for ((rung, got), (name, (conns, trips))) in counts.iter().zip(ceilings) {
        assert_eq!(rung, name);
        assert!(
            got.0 <= conns && got.1 <= trips,
            "{rung}: {} connections and {} round trips, ceiling {conns} and {trips}",
            got.0,
            got.1
        );
    }
}

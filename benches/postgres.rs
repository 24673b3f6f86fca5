//! Each rung on PostgreSQL, over its Unix socket and over TCP, side by side
//! with the same rung on SQLite and with spawning `true`, as one process
//! per call (what a script or CI job pays).
//!
//!     cargo bench --bench postgres
//!     LADDER_BENCH_REPS=100 cargo bench --bench postgres
//!
//! The server is the tests' throwaway cluster (src/store/postgres/
//! test_server.rs: fsync off, in /dev/shm when it has room), or
//! `LADDER_TEST_DATABASE_URL`. Plans run `true N` under the embedded
//! default policy, which approves them at once. No assertions beyond "it
//! ran": a benchmark reports.

#[path = "../src/store/postgres/test_server.rs"]
// Its own tests are the library's to run.
#[allow(dead_code, unused_imports)]
mod test_server;

#[path = "ledger_fill.rs"]
mod ledger_fill;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(cmd: &mut Command) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let wall = start.elapsed();
    assert!(out.status.success(), "a rung failed");
    (wall, out.stdout)
}

/// Round trips per rung, counted on the wire by a proxy in front of the
/// server's socket, beside the fewest the protocol allows for what the
/// rung must learn before it acts (trust auth: one round trip to connect).
fn round_trips(server: &test_server::TestServer, ladder: &dyn Fn(&str, &[&str]) -> Command) {
    let url = server.fresh_database();
    let db = url.split_once("@/").unwrap().1.split('?').next().unwrap();
    let Some(wire) = test_server::WireCounter::new(server, db) else {
        eprintln!("round trips: an external server's socket cannot be proxied");
        return;
    };
    let _ = time(&mut ladder(&wire.url, &["list"]));
    wire.take();
    let (_, out) = time(&mut ladder(
        &wire.url,
        &["--json", "plan", "--key", "rt", "--", "true"],
    ));
    let plan = wire.take();
    let plan_json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let hash = plan_json["hash"].as_str().unwrap().to_string();
    let mut rows = vec![("plan", plan, 3)];
    let steps: [(&str, Vec<&str>, u64); 5] = [
        ("apply", vec!["apply", "--key", "rt", "--hash", &hash], 7),
        (
            "apply (replayed)",
            vec!["apply", "--key", "rt", "--hash", &hash],
            3,
        ),
        ("replay", vec!["replay", "--key", "rt"], 3),
        ("show", vec!["show", "--key", "rt"], 2),
        ("list", vec!["list"], 2),
    ];
    for (name, args, minimum) in steps {
        let _ = time(&mut ladder(&wire.url, &args));
        rows.push((name, wire.take(), minimum));
    }
    println!("round trips per rung (connections, round trips; the minimum):");
    for (name, (conns, trips), minimum) in rows {
        println!("  {name:<18} {conns} conn  {trips:>3} round trips  (minimum {minimum})");
    }
}

fn main() {
    let reps: usize = std::env::var("LADDER_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let Some(server) = test_server::TestServer::shared() else {
        eprintln!("no PostgreSQL server: nothing to measure");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("ladder");
    std::fs::copy(env!("CARGO_BIN_EXE_ladder"), &bin).unwrap();
    let socket = server.fresh_database();
    let name = socket
        .split_once("@/")
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap();
    let tcp = server.tcp_url(name);
    // TCP needs its own database: one state per store measured.
    let tcp_db = server.fresh_database();
    let tcp_name = tcp_db
        .split_once("@/")
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap();
    let tcp = tcp.replace(&format!("/{name}"), &format!("/{tcp_name}"));
    // A database holding a large ledger (LADDER_BENCH_EVENTS, default 1M;
    // 0 skips it), to show a rung's cost does not grow with the history.
    let events: usize = std::env::var("LADDER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let full = (events > 0).then(|| {
        let url = server.fresh_database();
        eprintln!("building a {events}-event ledger on PostgreSQL through the library...");
        let mut store = ladder::store::postgres::PgStore::open(&url).expect("open");
        let took = ledger_fill::build_ledger(&mut store, events);
        eprintln!("  built in {:.0} s", took.as_secs_f64());
        // What autovacuum does within a minute of a bulk load: without
        // statistics the planner guesses, and the guess is not the point.
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        admin.batch_execute("VACUUM ANALYZE").expect("analyze");
        url
    });
    let label = match events {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    };
    let mut states: Vec<(String, String)> = vec![
        (
            "sqlite".into(),
            tmp.path().join("state.db").display().to_string(),
        ),
        ("pg socket".into(), socket),
        ("pg tcp".into(), tcp),
    ];
    if let Some(url) = full {
        states.push((format!("pg socket @{label}"), url));
    }
    let ladder = |state: &str, args: &[&str]| {
        let mut c = Command::new(&bin);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", tmp.path())
            .env("LADDER_STATE", state)
            .env("LADDER_ACTOR", "agent")
            .current_dir(tmp.path())
            .args(args);
        c
    };
    // Warm: schema created, pages cached.
    for (_, state) in &states {
        let _ = time(&mut ladder(state, &["list"]));
    }
    round_trips(server, &ladder);
    let mut samples: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut push = |name: String, d: Duration| samples.entry(name).or_default().push(d);
    eprintln!("measuring {reps} rounds, interleaved...");
    for i in 0..reps {
        push(
            "true".into(),
            time(Command::new("true").stdout(Stdio::null())).0,
        );
        for (store, state) in &states {
            let key = format!("bench-{i}");
            let n = i.to_string();
            let (t, out) = time(&mut ladder(
                state,
                &["--json", "plan", "--key", &key, "--", "true", &n],
            ));
            push(format!("{store}: plan"), t);
            let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let hash = plan["hash"].as_str().unwrap();
            let (t, _) = time(&mut ladder(
                state,
                &["apply", "--key", &key, "--hash", hash],
            ));
            push(format!("{store}: apply"), t);
            let (t, _) = time(&mut ladder(state, &["replay", "--key", &key]));
            push(format!("{store}: replay"), t);
        }
    }
    // Applies per second as appliers grow: each applier a thread running
    // `plan` then `apply` (one process each) on keys of its own, for a
    // fixed count of applies per level; SQLite beside PostgreSQL.
    let per_level: usize = std::env::var("LADDER_BENCH_APPLIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let mut throughput: Vec<(usize, Vec<f64>)> = Vec::new();
    for appliers in [1, 2, 4, 8, 16, 32] {
        let mut rates = Vec::new();
        for (store, state) in &states[..2] {
            let start = Instant::now();
            std::thread::scope(|scope| {
                for a in 0..appliers {
                    let ladder = &ladder;
                    scope.spawn(move || {
                        for n in (a..per_level).step_by(appliers) {
                            let key = format!("tp-{appliers}-{n}");
                            let (_, out) = time(&mut ladder(
                                state,
                                &[
                                    "--json",
                                    "plan",
                                    "--key",
                                    &key,
                                    "--",
                                    "true",
                                    &n.to_string(),
                                ],
                            ));
                            let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
                            let hash = plan["hash"].as_str().unwrap();
                            time(&mut ladder(
                                state,
                                &["apply", "--key", &key, "--hash", hash],
                            ));
                        }
                    });
                }
            });
            let rate = per_level as f64 / start.elapsed().as_secs_f64();
            eprintln!("  {appliers:>2} appliers, {store}: {rate:.0} plan+apply/s");
            rates.push(rate);
        }
        throughput.push((appliers, rates));
    }

    let floor = median(samples["true"].clone());
    println!("each rung, one process per call, {reps} rounds, medians:");
    for (name, v) in samples {
        let m = median(v);
        println!(
            "  {name:<20} {:>8.2} ms  {:>5.2}x true",
            m.as_secs_f64() * 1000.0,
            m.as_secs_f64() / floor.as_secs_f64()
        );
    }
    println!("plan + apply per second ({per_level} each level), as appliers grow:");
    println!("  appliers      sqlite   pg socket");
    for (appliers, rates) in throughput {
        println!("  {appliers:>8}  {:>10.0}  {:>10.0}", rates[0], rates[1]);
    }
}

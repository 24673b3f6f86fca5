//! ladder's benchmark: each rung against the floor, spawning `true`.
//!
//!     cargo bench                      # the full run (builds a 1M-event ledger)
//!     LADDER_BENCH_EVENTS=100000 cargo bench   # a quicker run
//!     LADDER_BENCH_BIN=/path/to/ladder cargo bench   # another build, same method
//!
//! Prints medians measured side by side in one run, ratios to spawning
//! `true`, peak memory (ru_maxrss of each child), log --verify throughput,
//! bytes per event, and p99 latency of 32 concurrent appliers; each rung
//! both as a new process per call and as a call to a long-lived `ladder mcp`
//! (round trip of one JSON-RPC message). The method and
//! the latest figures are in BENCHMARKS.md. No assertions: a benchmark
//! reports; it does not flake.

#[path = "ledger_fill.rs"]
mod ledger_fill;

use ladder::store::sqlite::SqliteStore;
use ladder::store::{self, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary as built: this build's, or `LADDER_BENCH_BIN` (to compare
/// another build, e.g. a static one or an older commit, by the same method).
fn built_bin() -> std::ffi::OsString {
    // Absolute: the children run in the bench's temporary directory.
    std::env::var_os("LADDER_BENCH_BIN")
        .filter(|b| !b.is_empty())
        .map(|b| std::path::absolute(&b).map_or(b, Into::into))
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_ladder").into())
}

/// The binary measured: a copy of [`built_bin`], as `cargo install` or a
/// package would place it. The file the linker has just written runs
/// 0.2-0.35 ms slower per command on this machine's kernel (Linux 6.18,
/// ext4) than a copy of it (next to it or in /tmp), even after `sync`: more
/// page faults and time off the CPU while its pages are mapped in
/// (BENCHMARKS.md, *Installed copies*). `true`, the floor, is an installed
/// file too.
static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn ladder_bin() -> &'static Path {
    BIN.get().expect("main installs the binary first")
}

/// Copies the built binary into cargo's scratch directory for benches
/// (under `target/`, so on the disk the build is on, not a tmpfs or a
/// `noexec` /tmp) and measures that copy from now on.
fn install_bin() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ladder-bench");
    std::fs::create_dir_all(&dir).expect("create the bench's bin directory");
    let installed = dir.join("ladder");
    // A fresh file: copying over one that a previous run left would reuse it.
    let _ = std::fs::remove_file(&installed);
    std::fs::copy(built_bin(), &installed).expect("copy the binary to measure");
    BIN.set(installed).expect("installed once");
}

struct Measured {
    wall: Duration,
    maxrss_kib: i64,
    code: i32,
    /// User plus system CPU of the child and the children it reaped.
    cpu: Duration,
}

/// Spawns and reaps with wait4 so the child's peak RSS comes back too.
fn measure(cmd: &mut Command) -> Measured {
    let start = Instant::now();
    let child = cmd.stdin(Stdio::null()).spawn().expect("spawn");
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::mem::forget(child); // already reaped
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Measured {
        wall,
        maxrss_kib: usage.ru_maxrss,
        code,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// `1M`, `100k`, `20000`: how big the full ledger is, for labels.
fn scale(events: usize) -> String {
    match events {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Bench {
    dir: PathBuf,
    state: PathBuf,
}

impl Bench {
    /// Plans `program n` under a fresh key, has a reviewer approve it when
    /// it waits for one (not measured), and returns the key and hash.
    fn plan_approved(&self, program: &Path, n: usize) -> (String, String) {
        let key = format!("approved-{}-{n}-{}", program.display(), std::process::id());
        let arg = n.to_string();
        let mut c = self.ladder(&[
            "--json",
            "plan",
            "--key",
            &key,
            "--",
            program.to_str().unwrap(),
            &arg,
        ]);
        c.stdout(Stdio::piped());
        let v: serde_json::Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
        if v["status"] == "pending" {
            let out = self
                .ladder(&["--actor", "reviewer", "approve", "--key", &key, "--yes"])
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "approve failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (key, v["hash"].as_str().unwrap().to_string())
    }

    fn new(dir: &Path, name: &str) -> Bench {
        Bench {
            dir: dir.to_path_buf(),
            state: dir.join(name),
        }
    }

    fn ladder(&self, args: &[&str]) -> Command {
        let mut c = Command::new(ladder_bin());
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("LADDER_STATE", &self.state)
            .env("LADDER_ACTOR", "bench")
            .current_dir(&self.dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Plans `true <n>` under key `k<n>` (read_only in the default policy:
    /// approved at once) and returns its hash.
    fn plan(&self, n: usize) -> (Measured, String, String) {
        let key = format!("bench-{n}-{}", std::process::id());
        let arg = n.to_string();
        let mut c = self.ladder(&["--json", "plan", "--key", &key, "--", "true", &arg]);
        c.stdout(Stdio::piped());
        let start = Instant::now();
        let out = c.output().expect("plan");
        let wall = start.elapsed();
        assert!(
            out.status.success(),
            "plan failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["status"], "approved",
            "bench expects trivial plans to need no approval"
        );
        let m = Measured {
            wall,
            maxrss_kib: 0,
            code: 0,
            cpu: Duration::ZERO,
        };
        (m, key, v["hash"].as_str().unwrap().to_string())
    }
}

/// An agent's MCP session: one `ladder mcp` serving every call.
struct McpClient {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    next_id: u64,
}

impl McpClient {
    /// Starts a server on `bench`'s state and makes one call, so its state
    /// is open and its statements prepared: how an agent's session runs.
    fn start(bench: &Bench) -> McpClient {
        let mut c = bench.ladder(&["mcp"]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = c.spawn().expect("start ladder mcp");
        let mut client = McpClient {
            stdin: child.stdin.take().unwrap(),
            stdout: std::io::BufReader::new(child.stdout.take().unwrap()),
            child,
            next_id: 0,
        };
        let (_, r) = client.request(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"}}),
        );
        assert!(r.get("result").is_some(), "initialize failed: {r}");
        let _ = client.call("list", serde_json::json!({"limit": 1}));
        client
    }

    fn request(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> (Duration, serde_json::Value) {
        use std::io::{BufRead, Write};
        self.next_id += 1;
        let mut line = serde_json::json!({"jsonrpc": "2.0", "id": self.next_id,
            "method": method, "params": params})
        .to_string();
        line.push('\n');
        let mut answer = String::new();
        let start = Instant::now();
        self.stdin
            .write_all(line.as_bytes())
            .expect("write to ladder mcp");
        self.stdin.flush().expect("write to ladder mcp");
        self.stdout
            .read_line(&mut answer)
            .expect("read from ladder mcp");
        let wall = start.elapsed();
        (
            wall,
            serde_json::from_str(&answer).expect("a JSON-RPC answer"),
        )
    }

    /// One tool call: its round trip and its result (`isError` included).
    fn try_call(
        &mut self,
        tool: &str,
        arguments: serde_json::Value,
    ) -> (Duration, serde_json::Value) {
        let (wall, r) = self.request(
            "tools/call",
            serde_json::json!({"name": tool, "arguments": arguments}),
        );
        (wall, r["result"].clone())
    }

    /// One tool call that must succeed: its round trip and structured result.
    fn call(&mut self, tool: &str, arguments: serde_json::Value) -> (Duration, serde_json::Value) {
        let (wall, result) = self.try_call(tool, arguments);
        assert_eq!(result["isError"], false, "{tool} failed over MCP: {result}");
        (wall, result["structuredContent"].clone())
    }

    /// The server's peak resident memory so far, in KiB (VmHWM).
    fn peak_rss_kib(&self) -> i64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Row {
    what: String,
    median: Duration,
    ratio: f64,
    target: String,
    maxrss_kib: i64,
}

fn main() {
    // `cargo bench` passes --bench; accept and ignore harness flags.
    let events: usize = std::env::var("LADDER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let reps: usize = std::env::var("LADDER_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let tmp = tempfile::tempdir().expect("tempdir");
    install_bin();
    let empty = Bench::new(tmp.path(), "empty.db");
    let full = Bench::new(tmp.path(), "full.db");

    eprintln!("building a {events}-event ledger through the library...");
    let build =
        ledger_fill::build_ledger(&mut SqliteStore::open(&full.state).expect("open"), events);
    let size = std::fs::metadata(&full.state).unwrap().len()
        + std::fs::metadata(full.state.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    // Warm both states (schema, page cache) the same way.
    for b in [&empty, &full] {
        let _ = measure(&mut b.ladder(&["list"]));
        let _ = b.plan(usize::MAX - 1);
    }

    // Apply's program checks look at the program file: `true` as installed,
    // and a 100 MB program (`true` with 100 MB appended, which the ELF
    // loader never reads), the size of a kubectl or terraform binary.
    let true_path = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("true"))
        .find(|p| p.is_file())
        .expect("true on PATH");
    // Named `true` too, so that policy treats both alike.
    std::fs::create_dir_all(tmp.path().join("big")).unwrap();
    let big_program = tmp.path().join("big").join("true");
    {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let mut f = std::fs::File::create(&big_program).unwrap();
        f.write_all(&std::fs::read(&true_path).unwrap()).unwrap();
        f.write_all(&vec![0u8; 100 << 20]).unwrap();
        drop(f);
        std::fs::set_permissions(&big_program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    // One MCP session per state, kept for the whole run, as an agent keeps it.
    let mut mcp_empty = McpClient::start(&empty);
    let mut mcp_full = McpClient::start(&full);

    let mut t_true = vec![];
    let mut rows: Vec<Row> = vec![];
    let mut samples: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut rss: BTreeMap<&str, i64> = BTreeMap::new();
    let note_rss = |k: &'static str, v: i64, rss: &mut BTreeMap<&str, i64>| {
        let e = rss.entry(k).or_default();
        *e = (*e).max(v);
    };
    eprintln!("measuring {reps} rounds, interleaved...");
    for i in 0..reps {
        // Side by side: each round measures the floor and every rung.
        t_true.push(measure(Command::new("true").stdout(Stdio::null())).wall);
        for (b, tag_plan, tag_apply, tag_replay) in [
            (&empty, "plan", "apply", "replay"),
            (&full, "plan@1M", "apply@1M", "replay@1M"),
        ] {
            let (m, key, hash) = b.plan(i);
            samples.entry(tag_plan).or_default().push(m.wall);
            let m = measure(&mut b.ladder(&["apply", "--key", &key, "--hash", &hash]));
            assert_eq!(m.code, 0, "apply failed");
            samples.entry(tag_apply).or_default().push(m.wall);
            note_rss(tag_apply, m.maxrss_kib, &mut rss);
            let m = measure(&mut b.ladder(&["replay", "--key", &key]));
            samples.entry(tag_replay).or_default().push(m.wall);
            note_rss(tag_replay, m.maxrss_kib, &mut rss);
        }
        for (client, tag_plan, tag_apply, tag_replay) in [
            (&mut mcp_empty, "mcp plan", "mcp apply", "mcp replay"),
            (
                &mut mcp_full,
                "mcp plan@1M",
                "mcp apply@1M",
                "mcp replay@1M",
            ),
        ] {
            let key = format!("mcp-{i}-{}", std::process::id());
            let (wall, plan) = client.call(
                "plan",
                serde_json::json!({"key": key, "command": ["true", i.to_string()]}),
            );
            assert_eq!(plan["status"], "approved", "bench expects no approval");
            samples.entry(tag_plan).or_default().push(wall);
            let (wall, outcome) = client.call(
                "apply",
                serde_json::json!({"key": key, "hash": plan["hash"]}),
            );
            assert_eq!(outcome["exit_code"], 0, "apply over MCP failed");
            samples.entry(tag_apply).or_default().push(wall);
            let (wall, _) = client.call("replay", serde_json::json!({"key": key}));
            samples.entry(tag_replay).or_default().push(wall);
        }
        // A reviewed program run by path: `true`, then the 100 MB program.
        for (program, tag) in [
            (&true_path, "apply (true by path)"),
            (&big_program, "apply (100 MB program)"),
        ] {
            let (key, hash) = empty.plan_approved(program, i);
            let m = measure(&mut empty.ladder(&["apply", "--key", &key, "--hash", &hash]));
            assert_eq!(m.code, 0, "apply of {tag} failed");
            samples.entry(tag).or_default().push(m.wall);
        }
        let m = measure(&mut full.ladder(&["log", "--limit", "20"]));
        samples
            .entry("log --limit 20 @1M")
            .or_default()
            .push(m.wall);
        note_rss("log --limit 20 @1M", m.maxrss_kib, &mut rss);
        let m = measure(&mut full.ladder(&["list"]));
        samples.entry("list @1M").or_default().push(m.wall);
        note_rss("list @1M", m.maxrss_kib, &mut rss);
        let m = measure(&mut full.ladder(&[
            "--json",
            "plan",
            "--key",
            &format!("rss-{i}"),
            "--",
            "true",
        ]));
        note_rss("plan", m.maxrss_kib, &mut rss);
    }
    let floor = median(t_true.clone());
    let targets: &[(&str, &str, Option<&str>)] = &[
        ("plan", "<= 3x true", None),
        ("apply", "<= 3x true", None),
        ("replay", "<= 3x true", None),
        ("plan@1M", "<= 1.25x plan", Some("plan")),
        ("apply@1M", "<= 1.25x apply", Some("apply")),
        ("replay@1M", "", Some("replay")),
        ("log --limit 20 @1M", "<= 4x true", None),
        ("list @1M", "<= 4x true", None),
        ("mcp plan", "<= 3x true", None),
        ("mcp apply", "<= 3x true", None),
        ("mcp replay", "<= 3x true", None),
        ("mcp plan@1M", "<= 1.25x mcp plan", Some("mcp plan")),
        ("mcp apply@1M", "<= 1.25x mcp apply", Some("mcp apply")),
        ("mcp replay@1M", "", Some("mcp replay")),
        ("apply (true by path)", "", None),
        (
            "apply (100 MB program)",
            "<= 1.05x true's",
            Some("apply (true by path)"),
        ),
    ];
    rows.push(Row {
        what: "true (the floor)".into(),
        median: floor,
        ratio: 1.0,
        target: String::new(),
        maxrss_kib: 0,
    });
    for (name, target, base) in targets {
        let m = median(samples[name].clone());
        let ratio = match base {
            Some(b) => m.as_secs_f64() / median(samples[b].clone()).as_secs_f64(),
            None => m.as_secs_f64() / floor.as_secs_f64(),
        };
        rows.push(Row {
            what: name.to_string(),
            median: m,
            ratio,
            target: target.to_string(),
            maxrss_kib: *rss.get(name).unwrap_or(&0),
        });
    }

    // What apply checks beyond the contract's gate, timed in this process
    // on the plans just applied: the plan's hash recomputed from its row
    // (with the dry-run digest check), the program, script and directory
    // resolved and stat-ed again, and the loader environment read.
    let checks: Vec<(&str, Duration, Duration)> = [
        ("apply (true by path)", &true_path),
        ("apply (100 MB program)", &big_program),
    ]
    .into_iter()
    .map(|(tag, program)| {
        let mut store = SqliteStore::open(&empty.state).expect("open");
        let (key, _) = empty.plan_approved(program, usize::MAX - 7 + tag.len());
        let plan = store::read(&mut store as &mut dyn Store, |tx| {
            Ok(tx.latest_plan_for_key(&key)?.expect("the plan"))
        })
        .unwrap();
        let path = std::env::var_os("PATH");
        let runs = 2000;
        let time = |f: &mut dyn FnMut()| {
            let laps: Vec<Duration> = (0..9)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..runs {
                        f();
                    }
                    start.elapsed() / runs
                })
                .collect();
            median(laps)
        };
        let hash = time(&mut || {
            assert!(ladder::gate::integrity(std::hint::black_box(&plan)).is_ok());
        });
        let identity = time(&mut || {
            let b =
                ladder::binding::Binding::of(&plan.command, &plan.cwd, path.as_deref()).unwrap();
            // (A build from before bindings has none to compare with.)
            if let Some(bound) = &plan.binding {
                assert_eq!(&b, bound);
            }
            std::hint::black_box(ladder::binding::loader_env_now());
        });
        (tag, hash, identity)
    })
    .collect();

    // Plans one process after another, nothing else: each opener re-reads
    // the live part of the WAL, so this shows whether the WAL keeps
    // starting over (it once grew without bound here).
    let row = Bench::new(tmp.path(), "row.db");
    let in_a_row: Vec<Duration> = (0..300).map(|i| row.plan(i).0.wall).collect();
    let first = median(in_a_row[..50].to_vec());
    let last = median(in_a_row[250..].to_vec());

    // log --verify over the whole ledger.
    let m = measure(&mut full.ladder(&["log", "--verify"]));
    let verify_rate = events as f64 / m.wall.as_secs_f64();
    let verify_rss = m.maxrss_kib;
    let verify_code = m.code;

    // Gigabytes of output through apply, streamed to /dev/null.
    let gib = std::env::var("LADDER_BENCH_OUTPUT_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2u64);
    let bytes = (gib << 30).to_string();
    // Plans `head -c BYTES /dev/zero`, has a reviewer approve it, and
    // applies it, with `flags` before `apply` (`--json`: the output is kept,
    // to the cap, and printed as one escaped record instead of streamed).
    let big_apply = |name: &str, flags: &[&str]| {
        let key = format!("{name}-{}", std::process::id());
        let plan = [
            "--json",
            "plan",
            "--key",
            &key,
            "--",
            "head",
            "-c",
            &bytes,
            "/dev/zero",
        ];
        let mut c = empty.ladder(&plan);
        c.stdout(Stdio::piped());
        let v: serde_json::Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
        let hash = v["hash"].as_str().unwrap().to_string();
        let _ =
            measure(&mut empty.ladder(&["--actor", "reviewer", "approve", "--key", &key, "--yes"]));
        let mut apply = flags.to_vec();
        apply.extend(["apply", "--key", &key, "--hash", &hash]);
        measure(&mut empty.ladder(&apply))
    };
    let big = big_apply("big", &[]);
    let big_json = big_apply("big-json", &["--json"]);

    // 32 concurrent appliers on distinct keys, in several rounds: one
    // round's p99 is its slowest applier, which swings with the scheduler.
    let conc_rounds: usize = std::env::var("LADDER_BENCH_CONCURRENT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut conc: Vec<(Duration, Duration, Duration)> = vec![]; // p50, p99, CPU/apply
    let mut errors = 0;
    for round in 0..conc_rounds {
        let prepared: Vec<(String, String)> = (0..32)
            .map(|i| {
                let (_, k, h) = full.plan(1_000_000 + round * 100 + i);
                (k, h)
            })
            .collect();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(32));
        let handles: Vec<_> = prepared
            .into_iter()
            .map(|(k, h)| {
                let cmd_dir = full.dir.clone();
                let state = full.state.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let b = Bench {
                        dir: cmd_dir,
                        state,
                    };
                    barrier.wait();
                    measure(&mut b.ladder(&["apply", "--key", &k, "--hash", &h]))
                })
            })
            .collect();
        let results: Vec<Measured> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        errors += results.iter().filter(|m| m.code != 0).count();
        let lat: Vec<Duration> = results.iter().map(|m| m.wall).collect();
        let cpu: Duration = results.iter().map(|m| m.cpu).sum();
        conc.push((pct(lat.clone(), 0.5), pct(lat, 0.99), cpu / 32));
    }
    // The round with the median p99 stands for the run.
    conc.sort_by_key(|r| r.1);
    let (c_p50, c_p99, c_cpu) = conc[conc.len() / 2];
    let c_worst = conc.last().map(|r| r.1).unwrap_or_default();

    // The same output through a long-lived server: what it keeps is capped.
    let key = format!("mcp-big-{}", std::process::id());
    let (_, plan) = mcp_empty.call(
        "plan",
        serde_json::json!({"key": key, "command": ["head", "-c", bytes, "/dev/zero"]}),
    );
    let _ = measure(&mut empty.ladder(&[
        "--actor",
        "reviewer",
        "approve",
        plan["id"].as_str().unwrap(),
        "--yes",
    ]));
    let (mcp_big, _) = mcp_empty.call(
        "apply",
        serde_json::json!({"key": key, "hash": plan["hash"]}),
    );
    let mcp_rss = mcp_empty.peak_rss_kib().max(mcp_full.peak_rss_kib());

    // 32 agents, each with its own server, apply distinct keys at once.
    let mut mcp_conc: Vec<(Duration, Duration)> = vec![];
    let mut mcp_errors = 0;
    for round in 0..conc_rounds {
        let clients: Vec<(McpClient, String, String)> = (0..32)
            .map(|i| {
                let (_, k, h) = full.plan(2_000_000 + round * 100 + i);
                (McpClient::start(&full), k, h)
            })
            .collect();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(32));
        let handles: Vec<_> = clients
            .into_iter()
            .map(|(mut client, k, h)| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let (wall, r) =
                        client.try_call("apply", serde_json::json!({"key": k, "hash": h}));
                    (wall, r["isError"] != false)
                })
            })
            .collect();
        let results: Vec<(Duration, bool)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        mcp_errors += results.iter().filter(|r| r.1).count();
        let lat: Vec<Duration> = results.iter().map(|r| r.0).collect();
        mcp_conc.push((pct(lat.clone(), 0.5), pct(lat, 0.99)));
    }
    mcp_conc.sort_by_key(|r| r.1);
    let (m_p50, m_p99) = mcp_conc[mcp_conc.len() / 2];
    let m_worst = mcp_conc.last().map(|r| r.1).unwrap_or_default();

    println!();
    println!(
        "ladder benchmark: {events} events in the full ledger (built in {:.1}s), {reps} rounds",
        build.as_secs_f64()
    );
    println!(
        "binary: {} (measured as an installed copy)",
        built_bin().to_string_lossy()
    );
    println!(
        "{:<22} {:>10} {:>8}  {:<16} {:>10}",
        "command", "median", "ratio", "target", "peak RSS"
    );
    for r in &rows {
        let rss = if r.maxrss_kib > 0 {
            format!("{:.1} MiB", r.maxrss_kib as f64 / 1024.0)
        } else {
            String::new()
        };
        println!(
            "{:<22} {:>10} {:>7.2}x  {:<16} {:>10}",
            r.what.replace("@1M", &format!("@{}", scale(events))),
            ms(r.median),
            r.ratio,
            r.target,
            rss
        );
    }
    for (tag, hash, identity) in &checks {
        let apply = median(samples[tag].clone());
        let extra = *hash + *identity;
        println!(
            "{tag}: extra checks {:.1} µs = hash recompute {:.1} µs + program identity {:.1} µs: {:.2}% of its median {} (target <= 5%)",
            extra.as_secs_f64() * 1e6,
            hash.as_secs_f64() * 1e6,
            identity.as_secs_f64() * 1e6,
            100.0 * extra.as_secs_f64() / apply.as_secs_f64(),
            ms(apply)
        );
    }
    println!(
        "300 plans in a row: median of the first 50 {}, of the last 50 {} ({:.2}x)",
        ms(first),
        ms(last),
        last.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "log --verify @{events}: {} ({:.0} events/s; target >= 500000), exit {verify_code}, peak RSS {:.1} MiB",
        ms(m.wall),
        verify_rate,
        verify_rss as f64 / 1024.0
    );
    println!(
        "state file: {:.0} bytes per event (target <= 1024)",
        size as f64 / events as f64
    );
    println!(
        "apply of {gib} GiB of output: {:.1}s, exit {}, peak RSS {:.1} MiB (target < 16 MiB); with --json {:.1}s, exit {}, peak RSS {:.1} MiB",
        big.wall.as_secs_f64(),
        big.code,
        big.maxrss_kib as f64 / 1024.0,
        big_json.wall.as_secs_f64(),
        big_json.code,
        big_json.maxrss_kib as f64 / 1024.0
    );
    println!(
        "32 concurrent appliers @{}, median of {conc_rounds} rounds: p50 {}, p99 {} (target < 50 ms; worst round {}), CPU {} per apply, errors {errors}",
        scale(events),
        ms(c_p50),
        ms(c_p99),
        ms(c_worst),
        ms(c_cpu)
    );
    println!(
        "ladder mcp: apply of {gib} GiB of output {:.1}s; servers' peak RSS {:.1} MiB (target < 16 MiB)",
        mcp_big.as_secs_f64(),
        mcp_rss as f64 / 1024.0
    );
    println!(
        "32 concurrent appliers over MCP (a server each) @{}, median of {conc_rounds} rounds: p50 {}, p99 {} (target < 50 ms; worst round {}), errors {mcp_errors}",
        scale(events),
        ms(m_p50),
        ms(m_p99),
        ms(m_worst),
    );
}

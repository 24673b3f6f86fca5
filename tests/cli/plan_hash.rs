//! The plan hash: it covers what would run, not who asked or when, and it
//! follows its documented canonical form, recomputed here independently.

use crate::harness::{T0, is_sha256_hex, strict, strict_at};
use serde_json::Value;

#[test]
fn the_hash_is_content_only_and_the_same_on_any_machine() {
    // Each plan in a fresh environment of its own (state, home, clock).
    fn hash_of(
        now: &str,
        actor: &str,
        env: &[(&str, &str)],
        key: &str,
        flags: &[&str],
        argv: &[&str],
    ) -> String {
        let mut t = strict_at(now);
        // HOME is bound (the loader environment); each fresh environment
        // has its own, so give them the same one: the same content.
        t.env("HOME", "/nonexistent/home");
        for (k, v) in env {
            t.env(k, v);
        }
        t.plan(actor, key, flags, argv)["hash"]
            .as_str()
            .unwrap()
            .to_string()
    }
    let env = [("BOUND", "v1"), ("OUT", "o1")];
    let flags = ["--cwd", "/", "--env", "BOUND", "--dry-run", "printenv OUT"];
    let argv = ["echo", "go"];
    let base = hash_of(T0, "agent-a", &env, "k", &flags, &argv);
    assert!(is_sha256_hex(&Value::from(base.clone())));

    // Another machine, time, actor and reason: the same hash.
    let mut with_reason = flags.to_vec();
    with_reason.extend(["--reason", "other words", "--target", "t"]);
    assert_eq!(
        base,
        hash_of(
            "2027-06-30T12:34:56Z",
            "agent-b",
            &env,
            "k",
            &with_reason,
            &argv
        )
    );

    // Key, argv, cwd, a bound value, the dry-run command or its output: another hash.
    let cwd_tmp = [
        "--cwd",
        "/tmp",
        "--env",
        "BOUND",
        "--dry-run",
        "printenv OUT",
    ];
    let other_dry = [
        "--cwd",
        "/",
        "--env",
        "BOUND",
        "--dry-run",
        "printenv BOUND",
    ];
    let no_dry = ["--cwd", "/", "--env", "BOUND"];
    let no_env = ["--cwd", "/", "--dry-run", "printenv OUT"];
    // The dry-run's error output counts as much as its output.
    let stderr_dry = ["--cwd", "/", "--dry-run", "sh -c 'printenv OUT >&2'"];
    assert_ne!(
        hash_of(T0, "a", &env, "k", &stderr_dry, &argv),
        hash_of(T0, "a", &[("OUT", "o2")], "k", &stderr_dry, &argv),
        "dry-run stderr must change the hash"
    );
    for (what, env, key, flags, argv) in [
        ("key", &env[..], "k2", &flags[..], &argv[..]),
        ("argv", &env, "k", &flags, &["echo", "gone"]),
        ("cwd", &env, "k", &cwd_tmp, &argv),
        (
            "bound value",
            &[("BOUND", "v2"), ("OUT", "o1")],
            "k",
            &flags,
            &argv,
        ),
        ("binding", &env, "k", &no_env, &argv),
        (
            "dry-run output",
            &[("BOUND", "v1"), ("OUT", "o2")],
            "k",
            &flags,
            &argv,
        ),
        ("dry-run command", &env, "k", &other_dry, &argv),
        ("no dry-run", &env, "k", &no_dry, &argv),
    ] {
        assert_ne!(
            base,
            hash_of(T0, "agent-a", env, key, flags, argv),
            "{what} must change the hash"
        );
    }
}

/// The hash recomputed from the documented canonical form (plan_hash.rs,
/// "Canonical form", version 2), independently of ladder's code: the
/// program is resolved on PATH and stat-ed here, the directory too.
#[test]
fn the_hash_follows_the_documented_canonical_form() {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    fn sha(b: &[u8]) -> String {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }
    fn rec(out: &mut Vec<u8>, tag: &str, bytes: &[u8]) {
        out.extend_from_slice(format!("{tag} {}:", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    fn file_id(path: &std::path::Path) -> String {
        let m = std::fs::metadata(path).unwrap();
        format!(
            "{}:{}:{}:{}:{}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128
        )
    }
    fn on_path(name: &str) -> std::path::PathBuf {
        std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .unwrap()
    }
    // The bound environment: BOUND and ZZ_UNSET by --env, then the loader
    // environment, which the harness leaves at PATH and HOME (set) and the
    // rest unset. Its names are checked against the plan's own list, whose
    // values must be the digests of what this test set.
    let mut t = strict();
    t.env("BOUND", "v1");
    let plan = t.plan(
        "agent",
        "doc key",
        &[
            "--cwd",
            "/",
            "--env",
            "ZZ_UNSET",
            "--env",
            "BOUND",
            "--dry-run",
            "printf 'hi\n'",
        ],
        &["echo", "a b", "c\nd"],
    );
    assert_eq!(plan["hash_version"], 2);
    let env = plan["env"].as_object().unwrap();
    assert_eq!(env["BOUND"], sha(b"v1"));
    assert_eq!(env["ZZ_UNSET"], Value::Null);
    assert_eq!(env["PATH"], sha(std::env::var("PATH").unwrap().as_bytes()));
    assert_eq!(
        env["HOME"],
        sha(t.path().join("home").as_os_str().as_encoded_bytes())
    );
    for (name, digest) in env {
        if !["BOUND", "PATH", "HOME"].contains(&name.as_str()) {
            assert_eq!(digest, &Value::Null, "{name} is not set in the test");
        }
    }
    let echo = on_path("echo");
    let root = std::fs::metadata("/").unwrap();
    let cwd_id = format!("{}:{}", root.dev(), root.ino());
    let mut c = b"ladder-plan-v2\n".to_vec();
    rec(&mut c, "key", b"doc key");
    rec(&mut c, "argc", b"3");
    for a in ["echo", "a b", "c\nd"] {
        rec(&mut c, "arg", a.as_bytes());
    }
    rec(&mut c, "cwd", b"/");
    rec(&mut c, "cwd-id", cwd_id.as_bytes());
    rec(&mut c, "program", echo.as_os_str().as_encoded_bytes());
    rec(&mut c, "program-id", file_id(&echo).as_bytes());
    rec(&mut c, "file-count", b"0");
    for (name, digest) in env {
        match digest.as_str() {
            Some(d) => rec(&mut c, "env", format!("{name}={d}").as_bytes()),
            None => rec(&mut c, "env", format!("{name}!unset").as_bytes()),
        }
    }
    rec(&mut c, "dry-run-argc", b"2");
    rec(&mut c, "dry-run-arg", b"printf");
    rec(&mut c, "dry-run-arg", b"hi\n");
    rec(&mut c, "dry-run-exit", b"0");
    rec(&mut c, "dry-run-stdout-sha256", sha(b"hi\n").as_bytes());
    rec(&mut c, "dry-run-stderr-sha256", sha(b"").as_bytes());
    assert_eq!(plan["hash"], sha(&c), "{plan}");

    // An interpreter's script is bound after the program.
    std::fs::write(t.work().join("job.sh"), "echo hi\n").unwrap();
    let job = t.plan("agent", "job", &[], &["sh", "job.sh"]);
    let script = t.work().canonicalize().unwrap().join("job.sh");
    assert_eq!(job["files"][0]["path"], script.to_str().unwrap());
    assert_eq!(job["files"][0]["id"], file_id(&script));
}

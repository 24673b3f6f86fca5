//! Every runnable file in `examples/` runs here, so examples cannot rot.

use crate::harness::TestEnv;

#[test]
fn round_trip_example_walks_the_whole_ladder_on_the_default_state_and_policy() {
    let t = TestEnv::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(root.join("examples/round-trip.sh"))
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", t.path().join("home"))
        .env("XDG_DATA_HOME", t.path().join("home/.local/share"))
        .env("XDG_CONFIG_HOME", t.path().join("home/.config"))
        .env("TMPDIR", t.path())
        .env("LADDER", assert_cmd::cargo::cargo_bin("ladder"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // The default state location was used, under the test's own HOME.
    assert!(t.path().join("home/.local/share/ladder/state.db").exists());
    // It ran once, then replayed twice, and the ledger verified.
    assert_eq!(
        stdout.matches("mkdir: created directory").count(),
        3 * 2,
        "{stdout}"
    );
    assert!(stderr.contains("exit code: 10"), "{stderr}");
    assert_eq!(
        stderr.matches("replaying its recorded outcome").count(),
        2,
        "{stderr}"
    );
    assert!(stdout.contains("ledger verified: 7 events"), "{stdout}");
}

//! The `[notify]` hook: tell someone a plan is waiting.
//!
//! The notifier runs without a shell, gets the plan JSON on stdin, and has
//! the policy's time limit (10s by default). Whatever it does, the plan
//! stands: a failure is returned as a sentence for the ledger, never as an
//! error of `plan`.

use crate::policy::Notify;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the notifier; `Ok` with nothing to say, or `Err(why it failed)`.
pub fn run(notify: &Notify, cwd: &std::path::Path, plan_json: &str) -> Result<(), String> {
    let (program, args) = notify
        .command
        .split_first()
        .ok_or_else(|| "the notify command is empty".to_string())?;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A notifier that ignores its input closes the pipe early; that is
        // its business, not a failure.
        let _ = stdin.write_all(plan_json.as_bytes());
    }
    let deadline = Instant::now() + notify.timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("`{program}` exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{program}` did not finish within {} and was killed",
                    crate::duration::short(notify.timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for `{program}` failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(cmd: &[&str], timeout_ms: u64) -> Notify {
        Notify {
            command: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[test]
    fn the_notifier_gets_the_plan_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("got");
        let script = format!("cat > {}", out.display());
        run(
            &notify(&["sh", "-c", &script], 5000),
            dir.path(),
            "{\"id\":\"x\"}",
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(out).unwrap(), "{\"id\":\"x\"}");
    }

    #[test]
    fn failures_and_hangs_are_reported_not_raised() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(&notify(&["false"], 5000), dir.path(), "{}").unwrap_err();
        assert!(err.contains("exited"), "{err}");
        let err = run(&notify(&["no-such-notifier-xyz"], 5000), dir.path(), "{}").unwrap_err();
        assert!(err.contains("cannot run"), "{err}");
        let started = Instant::now();
        let err = run(&notify(&["sleep", "10"], 100), dir.path(), "{}").unwrap_err();
        assert!(err.contains("killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

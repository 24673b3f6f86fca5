//! What people see on a real terminal: tables that fit its width, colours
//! that follow the conventions. Run in a pseudo-terminal (util-linux
//! `script`), skipped with a note where `script` is missing.

use crate::harness::{TestEnv, strict};

/// Runs `ladder ARGS` on a pseudo-terminal `cols` columns wide; what it
/// showed, or `None` without `script`.
fn on_terminal_of(t: &TestEnv, cols: u16, args: &str, env: &[(&str, &str)]) -> Option<String> {
    let ladder = assert_cmd::cargo::cargo_bin("ladder");
    let mut cmd = std::process::Command::new("script");
    cmd.env_clear()
        .current_dir(t.work())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", t.path().join("home"))
        .env("TERM", "xterm")
        .env("LADDER_STATE", t.state())
        .env("LADDER_ACTOR", "alice")
        .env("LADDER_POLICY", t.path().join("policy.toml"))
        .args([
            "-qec",
            &format!("stty cols {cols} rows 40; {} {args}", ladder.display()),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: `script` is not installed; terminal test skipped");
            None
        }
        Err(e) => panic!("script: {e}"),
    }
}

fn strip_ansi(text: &str) -> String {
    regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(text, "")
        .into_owned()
}

fn width(line: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(line)
}

/// Plans with a long key and command, a critical one and a read-only one.
fn plans() -> TestEnv {
    let t = strict();
    t.plan(
        "agent",
        "a-rather-long-idempotency-key-for-the-nightly-rotation",
        &[],
        &[
            "sh",
            "-c",
            "echo this is a long command line that a narrow terminal cannot show whole",
        ],
    );
    t.plan("agent", "prod", &[], &["deploy-prod", "web", "v42"]);
    t
}

#[test]
fn a_coloured_table_fits_80_columns_without_breaking_a_word() {
    let t = plans();
    let Some(screen) = on_terminal_of(&t, 80, "list --status all --color always", &[]) else {
        return;
    };
    assert!(screen.contains("\x1b["), "no colours: {screen:?}");
    let text = strip_ansi(&screen);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 3, "one line per plan and the header:\n{text}");
    for line in &lines {
        assert!(width(line) <= 80, "{} columns: {line}", width(line));
    }
    // Each header sits over its values, whatever the escape codes.
    let header = lines[0];
    for (name, value) in [
        ("STATUS", "pending"),
        ("TIER", "critical"),
        ("COMMAND", "deploy-prod"),
    ] {
        let col = header.find(name).unwrap();
        let row = lines.iter().find(|l| l.contains(value)).unwrap();
        assert_eq!(
            row.find(value),
            Some(col),
            "{name} is not over its values:\n{text}"
        );
    }
    // Long values are cut with an ellipsis, never wrapped.
    assert!(text.contains('…'), "{text}");
    assert!(
        !text.contains("irreversi\n") && !text.contains("appr\n"),
        "{text}"
    );
    // Critical does not look like irreversible.
    let paint_of = |tier: &str| {
        let at = screen.find(tier).unwrap();
        screen[..at].rsplit("\x1b[").next().unwrap().to_string()
    };
    assert_ne!(paint_of("critical"), paint_of("irreversible"), "{screen:?}");
}

#[test]
fn a_wide_terminal_shows_the_whole_command() {
    let t = plans();
    let Some(screen) = on_terminal_of(&t, 200, "list --status all", &[("NO_COLOR", "1")]) else {
        return;
    };
    assert!(!screen.contains("\x1b["), "NO_COLOR: {screen:?}");
    assert!(
        screen.contains("a narrow terminal cannot show whole'"),
        "{screen}"
    );
    assert!(screen.contains("WHEN"), "{screen}");
}

#[test]
fn colours_follow_the_flag_then_the_conventions() {
    let t = plans();
    let piped = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = t.cmd("alice");
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    let list = ["list", "--status", "all"];
    assert!(
        !piped(&list, &[]).contains('\x1b'),
        "a pipe is not coloured"
    );
    assert!(piped(&list, &[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    assert!(!piped(&list, &[("CLICOLOR_FORCE", "0")]).contains('\x1b'));
    assert!(!piped(&list, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
    assert!(
        piped(
            &["--color", "always", "list", "--status", "all"],
            &[("NO_COLOR", "1")]
        )
        .contains('\x1b')
    );
    assert!(
        !piped(
            &["--color", "never", "list", "--status", "all"],
            &[("CLICOLOR_FORCE", "1")]
        )
        .contains('\x1b')
    );
    // Piped, long values are capped; --wide shows them whole.
    let capped = piped(&list, &[]);
    assert!(
        capped.contains('…') && !capped.contains("cannot show whole"),
        "{capped}"
    );
    let wide = piped(&["list", "--status", "all", "--wide"], &[]);
    assert!(
        wide.contains("a-rather-long-idempotency-key-for-the-nightly-rotation"),
        "{wide}"
    );
    assert!(wide.contains("cannot show whole'"), "{wide}");
}

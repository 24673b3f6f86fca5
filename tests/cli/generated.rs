//! `ladder completions` and `ladder man`, and the `completions/` and `man/`
//! generated from the CLI definition; this fails when the committed files
//! are out of date.
//! Regenerate with: `LADDER_BLESS=1 cargo test --test cli generated`.

use crate::harness::TestEnv;
use std::path::Path;

fn check(path: &Path, expected: &[u8], stale: &mut Vec<String>) {
    if std::env::var_os("LADDER_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, expected).unwrap();
        return;
    }
    match std::fs::read(path) {
        Ok(actual) if actual == expected => {}
        _ => stale.push(path.display().to_string()),
    }
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    use clap_complete::Shell;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = vec![];
    for (shell, file) in [
        (Shell::Bash, "ladder.bash"),
        (Shell::Zsh, "_ladder"),
        (Shell::Fish, "ladder.fish"),
        (Shell::Elvish, "ladder.elv"),
        (Shell::PowerShell, "_ladder.ps1"),
    ] {
        let script = ladder::commands::completions::script(
            <ladder::cli::Cli as clap::CommandFactory>::command(),
            shell,
        );
        check(&root.join("completions").join(file), &script, &mut stale);
    }
    for (name, page) in
        ladder::commands::man::pages(<ladder::cli::Cli as clap::CommandFactory>::command()).unwrap()
    {
        check(&root.join("man").join(name), &page, &mut stale);
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run `LADDER_BLESS=1 cargo test --test cli generated` and commit"
    );
}

/// `ladder --help` lists every command with its one-line description, the
/// first line of the `///` comment on its `Args` struct. Deferring the
/// commands' flags (clap's `defer`, see cli.rs) would drop those
/// descriptions from this list and nowhere else.
#[test]
fn top_level_help_describes_every_command() {
    use clap::CommandFactory;
    let mut cli = ladder::cli::Cli::command();
    cli.build();
    let out = assert_cmd::Command::cargo_bin("ladder")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in cli.get_subcommands() {
        let about = sub.get_about().expect("every command has a description");
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", sub.get_name())))
            .unwrap_or_else(|| panic!("`{}` is not listed:\n{help}", sub.get_name()));
        assert!(
            line.contains(&about.to_string()),
            "`{}` is listed without its description {about:?}: {line}",
            sub.get_name()
        );
    }
}

#[test]
fn completions_and_man_produce_output() {
    let t = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = t.run("u", &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        let text = r.stdout_str();
        assert!(
            text.contains("ladder") && text.contains("approve"),
            "{shell}"
        );
    }
    let r = t.run("u", &["man"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = r.stdout_str();
    assert!(
        page.contains(".TH ladder 1"),
        "{}",
        &page[..page.len().min(300)]
    );
    assert!(page.contains("apply"));

    // They need no state and no policy.
    assert!(!t.state().exists());
    let mut broken = TestEnv::new();
    broken.with_policy("not toml at all [");
    assert_eq!(broken.run("u", &["completions", "bash"]).code, 0);
    assert_eq!(broken.run("u", &["man"]).code, 0);

    // Exactly what `completions/` and `man/` hold (generated from the CLI).
    let r = t.run("u", &["completions", "bash"]);
    assert_eq!(
        r.stdout,
        ladder::commands::completions::script(
            <ladder::cli::Cli as clap::CommandFactory>::command(),
            clap_complete::Shell::Bash
        )
    );
    let r = t.run("u", &["man"]);
    assert_eq!(
        r.stdout,
        ladder::commands::man::page(<ladder::cli::Cli as clap::CommandFactory>::command(), None)
            .unwrap()
    );

    let dir = t.path().join("man-out");
    let r = t.run("u", &["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(dir.join("ladder.1").exists() && dir.join("ladder-apply.1").exists());
}

/// `man ladder` is where the contract lives beside the flags: its exit
/// codes (every one), environment, files and examples, and a synopsis that
/// names each option's value.
#[test]
fn the_man_page_holds_exit_status_environment_files_and_examples() {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/ladder.1"),
    )
    .unwrap();
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH EXAMPLES",
    ] {
        assert!(page.contains(section), "no {section}");
    }
    for kind in ladder::error::Kind::ALL {
        let entry = format!(
            "\\fB{}\\fR \\fI{}\\fR",
            kind.exit_code(),
            kind.name().replace('-', "\\-")
        );
        assert!(
            page.contains(&entry),
            "exit {} is missing",
            kind.exit_code()
        );
    }
    assert!(
        page.contains("[\\-\\-state PATH]"),
        "the synopsis names --state's value"
    );
    let plan = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/ladder-plan.1"),
    )
    .unwrap();
    assert!(plan.contains("\\-\\- PROGRAM [ARGS...]"), "plan's synopsis");
}

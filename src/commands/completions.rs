//! `ladder completions`: shell completion scripts, generated from the CLI
//! definition (what `completions/` holds).

use crate::error::Result;

/// Print a shell completion script
///
/// bash: `ladder completions bash > ~/.local/share/bash-completion/completions/ladder`;
/// zsh: into a directory on $fpath as `_ladder`; fish: `~/.config/fish/completions/ladder.fish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `cli` is ladder's whole command line, which the script completes.
pub fn run(args: Args, json: bool, cli: clap::Command) -> Result<()> {
    let out = script(cli, args.shell);
    if json {
        crate::render::emit_json(serde_json::json!({
            "shell": args.shell.to_string(),
            "script": String::from_utf8_lossy(&out),
        }))?;
    } else {
        crate::render::emit(&String::from_utf8_lossy(&out))?;
    }
    Ok(())
}

/// The completion script for a shell, as bytes (also what `completions/`
/// holds). bash and fish also complete plan ids from state, by asking
/// `ladder __complete-ids`.
pub fn script(mut cli: clap::Command, shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli, "ladder", &mut out);
    match shell {
        clap_complete::Shell::Bash => out.extend_from_slice(BASH_PLAN_IDS.as_bytes()),
        clap_complete::Shell::Fish => out.extend_from_slice(FISH_PLAN_IDS.as_bytes()),
        _ => {}
    }
    out
}

const BASH_PLAN_IDS: &str = r#"
# ladder: complete plan ids from state for the commands that take a plan.
_ladder_with_plan_ids() {
    local cur="${COMP_WORDS[COMP_CWORD]}" sub="" i w skip=0 state="${LADDER_STATE:-}"
    for (( i = 1; i < COMP_CWORD; i++ )); do
        w="${COMP_WORDS[i]}"
        if (( skip )); then skip=0; continue; fi
        case "$w" in
            --state) skip=1; state="${COMP_WORDS[i+1]}" ;;
            --policy|--actor) skip=1 ;;
            -*) ;;
            *) sub="$w"; break ;;
        esac
    done
    _ladder "$@"
    case "$sub" in
        approve|reject|show|apply|replay|resolve|log)
            if [[ "$cur" != -* ]]; then
                COMPREPLY+=( $(compgen -W "$(LADDER_STATE="$state" ladder __complete-ids 2>/dev/null)" -- "$cur") )
            fi ;;
    esac
}
complete -F _ladder_with_plan_ids -o bashdefault -o default ladder
"#;

const FISH_PLAN_IDS: &str = r#"
# ladder: complete plan ids from state for the commands that take a plan.
complete -c ladder -n "__fish_seen_subcommand_from approve reject show apply replay resolve log" -f -a "(ladder __complete-ids 2>/dev/null)"
"#;

/// Ids of plans someone may want to name, newest first, with a short
/// description: what `__complete-ids` prints for the shells.
pub fn plan_ids(ctx: &mut crate::context::Ctx) -> Result<()> {
    use crate::model::Status;
    if !ctx.state_exists() {
        return Ok(());
    }
    let plans = crate::store::read(ctx.store()?, |tx| {
        tx.plans(
            &[
                Status::Pending,
                Status::Approved,
                Status::Running,
                Status::Interrupted,
                Status::Applied,
            ],
            Some(200),
        )
    })?;
    let mut out = String::new();
    for p in plans.iter().rev() {
        out.push_str(p.short_id());
        out.push('\n');
    }
    crate::render::emit(&out)?;
    Ok(())
}

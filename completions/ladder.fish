# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ladder_global_optspecs
    string join \n state= policy= actor= json color= h/help V/version
end

function __fish_ladder_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ladder_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ladder_using_subcommand
    set -l cmd (__fish_ladder_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ladder -n "__fish_ladder_needs_command" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_needs_command" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_needs_command" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_needs_command" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_needs_command" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_needs_command" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "plan" -d 'Describe a command, classify it by policy, and store it as a plan'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "approve" -d 'Approve a pending plan\'s current hash'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "reject" -d 'Reject a plan; the reason is returned to the agent by `show` and `apply`'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "cancel" -d 'Withdraw a plan that has not run: it ends cancelled'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "apply" -d 'Run an approved plan\'s command once and record its outcome'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "replay" -d 'Write a plan\'s recorded stdout and stderr and exit with its recorded code'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "log" -d 'Show the audit ledger, newest last; --verify checks the hash chain'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "show" -d 'Show one plan: command, decision, approvals, window, outcome'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "list" -d 'List plans (default: the pending ones)'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "resolve" -d 'Settle an interrupted plan: succeeded, failed, or retry (one more apply)'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "rollback" -d 'Plan the rollback a plan recorded (--rollback CMD) as a new plan'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "policy" -d 'Show, validate or explain the policy that classifies commands'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "state" -d 'Move state between stores (a local file into the team\'s PostgreSQL)'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "mcp" -d 'Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "man" -d 'Print the man page, or write one page per command into a directory'
complete -c ladder -n "__fish_ladder_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l key -d 'Idempotency key of this action [default: a new UUID, printed]' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l dry-run -d 'Command to run first to preview the change (split like a POSIX shell, run without one)' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l dry-run-ok -d 'Dry-run exit codes to accept besides the policy\'s (e.g. 0,1 for `kubectl diff`)' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l env -d 'Bind this environment variable\'s value into the hash (repeatable)' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l reason -d 'Why the agent wants to run this' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l target -d 'What it acts on (a host, a cluster, a database...)' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l effect -d 'The change expected' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l rollback -d 'How to undo it' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l confidence -d 'The agent\'s confidence, from 0 to 1' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l meta -d 'Metadata for the audit trail, outside the hash: model, run, trace... (repeatable; TRACEPARENT is recorded too)' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l cwd -d 'Working directory of the command [default: the current directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand plan" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand plan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand plan" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l key -d 'Approve the live plan of this key instead of naming the plan' -r
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l hash -d 'Approve only if the plan\'s hash is this one (what you reviewed)' -r
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l comment -d 'A note kept with the approval' -r
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l sign -d 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent\'s key that allowed_signers lists)' -r
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand approve" -s y -l yes -d 'Do not ask for confirmation'
complete -c ladder -n "__fish_ladder_using_subcommand approve" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand approve" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l key -d 'Reject the live plan of this key instead of naming the plan' -r
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l hash -d 'Reject only if the plan\'s hash is this one (what you reviewed)' -r
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l reason -d 'Why: shown to the agent' -r
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l sign -d 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent\'s key that allowed_signers lists)' -r
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand reject" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand reject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand reject" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -l key -d 'Cancel the live plan of this key instead of naming the plan' -r
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -l reason -d 'Why it is withdrawn (kept with the plan and in the ledger)' -r
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand cancel" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l key -d 'The plan\'s idempotency key' -r
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l hash -d 'The plan\'s hash: what was reviewed is what runs' -r
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l wait -d 'Wait up to this long for approvals (e.g. 10m) instead of refusing' -r
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l timeout -d 'Kill the command if it runs longer than this (e.g. 30s)' -r
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand apply" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand apply" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand replay" -l key -d 'Replay the outcome recorded under this key' -r
complete -c ladder -n "__fish_ladder_using_subcommand replay" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand replay" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand replay" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand replay" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand replay" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand replay" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand log" -l key -d 'Only this key\'s events' -r
complete -c ladder -n "__fish_ladder_using_subcommand log" -l limit -d 'Show the last N events (0: all)' -r
complete -c ladder -n "__fish_ladder_using_subcommand log" -l since -d 'Only events since this: a duration back (2h) or an RFC 3339 time' -r
complete -c ladder -n "__fish_ladder_using_subcommand log" -l meta -d 'Only events of plans whose metadata has KEY=VALUE (repeatable: all must match)' -r
complete -c ladder -n "__fish_ladder_using_subcommand log" -l expect -d 'With --verify: event SEQ must still have HASH (repeatable)' -r
complete -c ladder -n "__fish_ladder_using_subcommand log" -l checkpoint -d 'With --verify, FILE: check a signed checkpoint and that its head is still in the chain. Without --verify (and with --sign): verify the ledger and print its head as a signed checkpoint' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand log" -l sign -d 'With --checkpoint: the SSH key that signs it (a private key file, a .pub whose key is in ssh-agent, or `agent`)' -r
complete -c ladder -n "__fish_ladder_using_subcommand log" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand log" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand log" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand log" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand log" -l wide -d 'Show every value whole; a table otherwise fits the terminal, cutting long keys and details with …'
complete -c ladder -n "__fish_ladder_using_subcommand log" -l verify -d 'Check the whole chain, the append-only guarantee, and every plan against its events'
complete -c ladder -n "__fish_ladder_using_subcommand log" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand log" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand show" -l key -d 'Show the newest plan of this key' -r
complete -c ladder -n "__fish_ladder_using_subcommand show" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand show" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand show" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand show" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand show" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand show" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand list" -l status -d 'Which plans: a status (pending, approved, running, applied, rejected, expired, denied, cancelled, interrupted) or `all`; repeatable' -r
complete -c ladder -n "__fish_ladder_using_subcommand list" -l limit -d 'Show at most this many (the newest)' -r
complete -c ladder -n "__fish_ladder_using_subcommand list" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand list" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand list" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand list" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand list" -l wide -d 'Show every value whole; a table otherwise fits the terminal, cutting long keys and commands with …'
complete -c ladder -n "__fish_ladder_using_subcommand list" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand list" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l key -d 'Resolve the plan of this key instead of naming the plan' -r
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l hash -d 'Resolve only if the plan\'s hash is this one (what you checked)' -r
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l outcome -d 'What happened' -r -f -a "succeeded\t''
failed\t''
retry\t''"
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l reason -d 'How you know' -r
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l sign -d 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent\'s key that allowed_signers lists)' -r
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand resolve" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l key -d 'Key of the rollback plan [default: rollback:<plan id>]' -r
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l dry-run -d 'Command to run first to preview the undo (split like a POSIX shell, run without one)' -r
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l reason -d 'Why it is rolled back [default: roll back plan <id>]' -r
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l meta -d 'Metadata for the audit trail, outside the hash (repeatable; TRACEPARENT is recorded too)' -r
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand rollback" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -f -a "show" -d 'Print the effective policy as TOML (the embedded default too)'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -f -a "check" -d 'Validate a policy file without touching state [default: the effective policy]'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -f -a "explain" -d 'Say which rule and tier a command gets, and why'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and not __fish_seen_subcommand_from show check explain help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from show" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from show" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from show" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from show" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from check" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from check" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from check" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from check" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from check" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -l confidence -d 'Assume this confidence (0 to 1), as `plan --confidence` would pass' -r
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from explain" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the effective policy as TOML (the embedded default too)'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate a policy file without touching state [default: the effective policy]'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "explain" -d 'Say which rule and tier a command gets, and why'
complete -c ladder -n "__fish_ladder_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -f -a "copy" -d 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)'
complete -c ladder -n "__fish_ladder_using_subcommand state; and not __fish_seen_subcommand_from copy help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -l from -d 'The store to read: a state file or a postgres:// URL' -r
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -l to -d 'The store to fill, which must hold nothing yet: a state file or a postgres:// URL' -r
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from copy" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "copy" -d 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)'
complete -c ladder -n "__fish_ladder_using_subcommand state; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ladder -n "__fish_ladder_using_subcommand mcp" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand mcp" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand mcp" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand mcp" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand mcp" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand mcp" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand completions" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand completions" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand completions" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand completions" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand completions" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand completions" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand man" -l dir -d 'Write ladder.1 and ladder-<command>.1 into this directory instead' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand man" -l state -d 'State file [default: state.db in the user data directory]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand man" -l policy -d 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]' -r -F
complete -c ladder -n "__fish_ladder_using_subcommand man" -l actor -d 'Who is acting [default: $LADDER_ACTOR, else the OS user]' -r
complete -c ladder -n "__fish_ladder_using_subcommand man" -l color -d 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ladder -n "__fish_ladder_using_subcommand man" -l json -d 'Print one JSON object on stdout (log: JSON Lines), errors included'
complete -c ladder -n "__fish_ladder_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ladder -n "__fish_ladder_using_subcommand man" -s V -l version -d 'Print version'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "plan" -d 'Describe a command, classify it by policy, and store it as a plan'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "approve" -d 'Approve a pending plan\'s current hash'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "reject" -d 'Reject a plan; the reason is returned to the agent by `show` and `apply`'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "cancel" -d 'Withdraw a plan that has not run: it ends cancelled'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "apply" -d 'Run an approved plan\'s command once and record its outcome'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "replay" -d 'Write a plan\'s recorded stdout and stderr and exit with its recorded code'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "log" -d 'Show the audit ledger, newest last; --verify checks the hash chain'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "show" -d 'Show one plan: command, decision, approvals, window, outcome'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "list" -d 'List plans (default: the pending ones)'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "resolve" -d 'Settle an interrupted plan: succeeded, failed, or retry (one more apply)'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "rollback" -d 'Plan the rollback a plan recorded (--rollback CMD) as a new plan'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "policy" -d 'Show, validate or explain the policy that classifies commands'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "state" -d 'Move state between stores (a local file into the team\'s PostgreSQL)'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "mcp" -d 'Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "man" -d 'Print the man page, or write one page per command into a directory'
complete -c ladder -n "__fish_ladder_using_subcommand help; and not __fish_seen_subcommand_from plan approve reject cancel apply replay log show list resolve rollback policy state mcp completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ladder -n "__fish_ladder_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Print the effective policy as TOML (the embedded default too)'
complete -c ladder -n "__fish_ladder_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "check" -d 'Validate a policy file without touching state [default: the effective policy]'
complete -c ladder -n "__fish_ladder_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "explain" -d 'Say which rule and tier a command gets, and why'
complete -c ladder -n "__fish_ladder_using_subcommand help; and __fish_seen_subcommand_from state" -f -a "copy" -d 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)'

# ladder: complete plan ids from state for the commands that take a plan.
complete -c ladder -n "__fish_seen_subcommand_from approve reject show apply replay resolve log" -f -a "(ladder __complete-ids 2>/dev/null)"

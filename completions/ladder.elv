
use builtin;
use str;

set edit:completion:arg-completer[ladder] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'ladder'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'ladder'= {
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand plan 'Describe a command, classify it by policy, and store it as a plan'
            cand approve 'Approve a pending plan''s current hash'
            cand reject 'Reject a plan; the reason is returned to the agent by `show` and `apply`'
            cand cancel 'Withdraw a plan that has not run: it ends cancelled'
            cand apply 'Run an approved plan''s command once and record its outcome'
            cand replay 'Write a plan''s recorded stdout and stderr and exit with its recorded code'
            cand log 'Show the audit ledger, newest last; --verify checks the hash chain'
            cand show 'Show one plan: command, decision, approvals, window, outcome'
            cand list 'List plans (default: the pending ones)'
            cand resolve 'Settle an interrupted plan: succeeded, failed, or retry (one more apply)'
            cand rollback 'Plan the rollback a plan recorded (--rollback CMD) as a new plan'
            cand policy 'Show, validate or explain the policy that classifies commands'
            cand state 'Move state between stores (a local file into the team''s PostgreSQL)'
            cand mcp 'Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page, or write one page per command into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ladder;plan'= {
            cand --key 'Idempotency key of this action [default: a new UUID, printed]'
            cand --dry-run 'Command to run first to preview the change (split like a POSIX shell, run without one)'
            cand --dry-run-ok 'Dry-run exit codes to accept besides the policy''s (e.g. 0,1 for `kubectl diff`)'
            cand --env 'Bind this environment variable''s value into the hash (repeatable)'
            cand --reason 'Why the agent wants to run this'
            cand --target 'What it acts on (a host, a cluster, a database...)'
            cand --effect 'The change expected'
            cand --rollback 'How to undo it'
            cand --confidence 'The agent''s confidence, from 0 to 1'
            cand --meta 'Metadata for the audit trail, outside the hash: model, run, trace... (repeatable; TRACEPARENT is recorded too)'
            cand --cwd 'Working directory of the command [default: the current directory]'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;approve'= {
            cand --key 'Approve the live plan of this key instead of naming the plan'
            cand --hash 'Approve only if the plan''s hash is this one (what you reviewed)'
            cand --comment 'A note kept with the approval'
            cand --sign 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent''s key that allowed_signers lists)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;reject'= {
            cand --key 'Reject the live plan of this key instead of naming the plan'
            cand --hash 'Reject only if the plan''s hash is this one (what you reviewed)'
            cand --reason 'Why: shown to the agent'
            cand --sign 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent''s key that allowed_signers lists)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;cancel'= {
            cand --key 'Cancel the live plan of this key instead of naming the plan'
            cand --reason 'Why it is withdrawn (kept with the plan and in the ledger)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;apply'= {
            cand --key 'The plan''s idempotency key'
            cand --hash 'The plan''s hash: what was reviewed is what runs'
            cand --wait 'Wait up to this long for approvals (e.g. 10m) instead of refusing'
            cand --timeout 'Kill the command if it runs longer than this (e.g. 30s)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;replay'= {
            cand --key 'Replay the outcome recorded under this key'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;log'= {
            cand --key 'Only this key''s events'
            cand --limit 'Show the last N events (0: all)'
            cand --since 'Only events since this: a duration back (2h) or an RFC 3339 time'
            cand --meta 'Only events of plans whose metadata has KEY=VALUE (repeatable: all must match)'
            cand --expect 'With --verify: event SEQ must still have HASH (repeatable)'
            cand --checkpoint 'With --verify, FILE: check a signed checkpoint and that its head is still in the chain. Without --verify (and with --sign): verify the ledger and print its head as a signed checkpoint'
            cand --sign 'With --checkpoint: the SSH key that signs it (a private key file, a .pub whose key is in ssh-agent, or `agent`)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --wide 'Show every value whole; a table otherwise fits the terminal, cutting long keys and details with …'
            cand --verify 'Check the whole chain, the append-only guarantee, and every plan against its events'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;show'= {
            cand --key 'Show the newest plan of this key'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;list'= {
            cand --status 'Which plans: a status (pending, approved, running, applied, rejected, expired, denied, cancelled, interrupted) or `all`; repeatable'
            cand --limit 'Show at most this many (the newest)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --wide 'Show every value whole; a table otherwise fits the terminal, cutting long keys and commands with …'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;resolve'= {
            cand --key 'Resolve the plan of this key instead of naming the plan'
            cand --hash 'Resolve only if the plan''s hash is this one (what you checked)'
            cand --outcome 'What happened'
            cand --reason 'How you know'
            cand --sign 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent''s key that allowed_signers lists)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;rollback'= {
            cand --key 'Key of the rollback plan [default: rollback:<plan id>]'
            cand --dry-run 'Command to run first to preview the undo (split like a POSIX shell, run without one)'
            cand --reason 'Why it is rolled back [default: roll back plan <id>]'
            cand --meta 'Metadata for the audit trail, outside the hash (repeatable; TRACEPARENT is recorded too)'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;policy'= {
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Print the effective policy as TOML (the embedded default too)'
            cand check 'Validate a policy file without touching state [default: the effective policy]'
            cand explain 'Say which rule and tier a command gets, and why'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ladder;policy;show'= {
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;policy;check'= {
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;policy;explain'= {
            cand --confidence 'Assume this confidence (0 to 1), as `plan --confidence` would pass'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;policy;help'= {
            cand show 'Print the effective policy as TOML (the embedded default too)'
            cand check 'Validate a policy file without touching state [default: the effective policy]'
            cand explain 'Say which rule and tier a command gets, and why'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ladder;policy;help;show'= {
        }
        &'ladder;policy;help;check'= {
        }
        &'ladder;policy;help;explain'= {
        }
        &'ladder;policy;help;help'= {
        }
        &'ladder;state'= {
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand copy 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ladder;state;copy'= {
            cand --from 'The store to read: a state file or a postgres:// URL'
            cand --to 'The store to fill, which must hold nothing yet: a state file or a postgres:// URL'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;state;help'= {
            cand copy 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ladder;state;help;copy'= {
        }
        &'ladder;state;help;help'= {
        }
        &'ladder;mcp'= {
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;completions'= {
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;man'= {
            cand --dir 'Write ladder.1 and ladder-<command>.1 into this directory instead'
            cand --state 'State file [default: state.db in the user data directory]'
            cand --policy 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]'
            cand --actor 'Who is acting [default: $LADDER_ACTOR, else the OS user]'
            cand --color 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never'
            cand --json 'Print one JSON object on stdout (log: JSON Lines), errors included'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'ladder;help'= {
            cand plan 'Describe a command, classify it by policy, and store it as a plan'
            cand approve 'Approve a pending plan''s current hash'
            cand reject 'Reject a plan; the reason is returned to the agent by `show` and `apply`'
            cand cancel 'Withdraw a plan that has not run: it ends cancelled'
            cand apply 'Run an approved plan''s command once and record its outcome'
            cand replay 'Write a plan''s recorded stdout and stderr and exit with its recorded code'
            cand log 'Show the audit ledger, newest last; --verify checks the hash chain'
            cand show 'Show one plan: command, decision, approvals, window, outcome'
            cand list 'List plans (default: the pending ones)'
            cand resolve 'Settle an interrupted plan: succeeded, failed, or retry (one more apply)'
            cand rollback 'Plan the rollback a plan recorded (--rollback CMD) as a new plan'
            cand policy 'Show, validate or explain the policy that classifies commands'
            cand state 'Move state between stores (a local file into the team''s PostgreSQL)'
            cand mcp 'Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page, or write one page per command into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'ladder;help;plan'= {
        }
        &'ladder;help;approve'= {
        }
        &'ladder;help;reject'= {
        }
        &'ladder;help;cancel'= {
        }
        &'ladder;help;apply'= {
        }
        &'ladder;help;replay'= {
        }
        &'ladder;help;log'= {
        }
        &'ladder;help;show'= {
        }
        &'ladder;help;list'= {
        }
        &'ladder;help;resolve'= {
        }
        &'ladder;help;rollback'= {
        }
        &'ladder;help;policy'= {
            cand show 'Print the effective policy as TOML (the embedded default too)'
            cand check 'Validate a policy file without touching state [default: the effective policy]'
            cand explain 'Say which rule and tier a command gets, and why'
        }
        &'ladder;help;policy;show'= {
        }
        &'ladder;help;policy;check'= {
        }
        &'ladder;help;policy;explain'= {
        }
        &'ladder;help;state'= {
            cand copy 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)'
        }
        &'ladder;help;state;copy'= {
        }
        &'ladder;help;mcp'= {
        }
        &'ladder;help;completions'= {
        }
        &'ladder;help;man'= {
        }
        &'ladder;help;help'= {
        }
    ]
    $completions[$command]
}

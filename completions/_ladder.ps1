
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'ladder' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'ladder'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'ladder' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Describe a command, classify it by policy, and store it as a plan')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a pending plan''s current hash')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject a plan; the reason is returned to the agent by `show` and `apply`')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Withdraw a plan that has not run: it ends cancelled')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Run an approved plan''s command once and record its outcome')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Write a plan''s recorded stdout and stderr and exit with its recorded code')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show the audit ledger, newest last; --verify checks the hash chain')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one plan: command, decision, approvals, window, outcome')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List plans (default: the pending ones)')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Settle an interrupted plan: succeeded, failed, or retry (one more apply)')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Plan the rollback a plan recorded (--rollback CMD) as a new plan')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Show, validate or explain the policy that classifies commands')
            [CompletionResult]::new('state', 'state', [CompletionResultType]::ParameterValue, 'Move state between stores (a local file into the team''s PostgreSQL)')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per command into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ladder;plan' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Idempotency key of this action [default: a new UUID, printed]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Command to run first to preview the change (split like a POSIX shell, run without one)')
            [CompletionResult]::new('--dry-run-ok', '--dry-run-ok', [CompletionResultType]::ParameterName, 'Dry-run exit codes to accept besides the policy''s (e.g. 0,1 for `kubectl diff`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Bind this environment variable''s value into the hash (repeatable)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why the agent wants to run this')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'What it acts on (a host, a cluster, a database...)')
            [CompletionResult]::new('--effect', '--effect', [CompletionResultType]::ParameterName, 'The change expected')
            [CompletionResult]::new('--rollback', '--rollback', [CompletionResultType]::ParameterName, 'How to undo it')
            [CompletionResult]::new('--confidence', '--confidence', [CompletionResultType]::ParameterName, 'The agent''s confidence, from 0 to 1')
            [CompletionResult]::new('--meta', '--meta', [CompletionResultType]::ParameterName, 'Metadata for the audit trail, outside the hash: model, run, trace... (repeatable; TRACEPARENT is recorded too)')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Working directory of the command [default: the current directory]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;approve' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Approve the live plan of this key instead of naming the plan')
            [CompletionResult]::new('--hash', '--hash', [CompletionResultType]::ParameterName, 'Approve only if the plan''s hash is this one (what you reviewed)')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'A note kept with the approval')
            [CompletionResult]::new('--sign', '--sign', [CompletionResultType]::ParameterName, 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent''s key that allowed_signers lists)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;reject' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Reject the live plan of this key instead of naming the plan')
            [CompletionResult]::new('--hash', '--hash', [CompletionResultType]::ParameterName, 'Reject only if the plan''s hash is this one (what you reviewed)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: shown to the agent')
            [CompletionResult]::new('--sign', '--sign', [CompletionResultType]::ParameterName, 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent''s key that allowed_signers lists)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;cancel' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Cancel the live plan of this key instead of naming the plan')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why it is withdrawn (kept with the plan and in the ledger)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;apply' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The plan''s idempotency key')
            [CompletionResult]::new('--hash', '--hash', [CompletionResultType]::ParameterName, 'The plan''s hash: what was reviewed is what runs')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait up to this long for approvals (e.g. 10m) instead of refusing')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Kill the command if it runs longer than this (e.g. 30s)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;replay' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Replay the outcome recorded under this key')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;log' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Only this key''s events')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show the last N events (0: all)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events since this: a duration back (2h) or an RFC 3339 time')
            [CompletionResult]::new('--meta', '--meta', [CompletionResultType]::ParameterName, 'Only events of plans whose metadata has KEY=VALUE (repeatable: all must match)')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'With --verify: event SEQ must still have HASH (repeatable)')
            [CompletionResult]::new('--checkpoint', '--checkpoint', [CompletionResultType]::ParameterName, 'With --verify, FILE: check a signed checkpoint and that its head is still in the chain. Without --verify (and with --sign): verify the ledger and print its head as a signed checkpoint')
            [CompletionResult]::new('--sign', '--sign', [CompletionResultType]::ParameterName, 'With --checkpoint: the SSH key that signs it (a private key file, a .pub whose key is in ssh-agent, or `agent`)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show every value whole; a table otherwise fits the terminal, cutting long keys and details with …')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Check the whole chain, the append-only guarantee, and every plan against its events')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;show' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Show the newest plan of this key')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;list' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Which plans: a status (pending, approved, running, applied, rejected, expired, denied, cancelled, interrupted) or `all`; repeatable')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many (the newest)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show every value whole; a table otherwise fits the terminal, cutting long keys and commands with …')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;resolve' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Resolve the plan of this key instead of naming the plan')
            [CompletionResult]::new('--hash', '--hash', [CompletionResultType]::ParameterName, 'Resolve only if the plan''s hash is this one (what you checked)')
            [CompletionResult]::new('--outcome', '--outcome', [CompletionResultType]::ParameterName, 'What happened')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'How you know')
            [CompletionResult]::new('--sign', '--sign', [CompletionResultType]::ParameterName, 'Sign the decision with this SSH key: a private key file, a .pub file whose key is in ssh-agent, or `agent` (the agent''s key that allowed_signers lists)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;rollback' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key of the rollback plan [default: rollback:<plan id>]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Command to run first to preview the undo (split like a POSIX shell, run without one)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why it is rolled back [default: roll back plan <id>]')
            [CompletionResult]::new('--meta', '--meta', [CompletionResultType]::ParameterName, 'Metadata for the audit trail, outside the hash (repeatable; TRACEPARENT is recorded too)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;policy' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective policy as TOML (the embedded default too)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a policy file without touching state [default: the effective policy]')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Say which rule and tier a command gets, and why')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ladder;policy;show' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;policy;check' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;policy;explain' {
            [CompletionResult]::new('--confidence', '--confidence', [CompletionResultType]::ParameterName, 'Assume this confidence (0 to 1), as `plan --confidence` would pass')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;policy;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective policy as TOML (the embedded default too)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a policy file without touching state [default: the effective policy]')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Say which rule and tier a command gets, and why')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ladder;policy;help;show' {
            break
        }
        'ladder;policy;help;check' {
            break
        }
        'ladder;policy;help;explain' {
            break
        }
        'ladder;policy;help;help' {
            break
        }
        'ladder;state' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ladder;state;copy' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The store to read: a state file or a postgres:// URL')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The store to fill, which must hold nothing yet: a state file or a postgres:// URL')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;state;help' {
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ladder;state;help;copy' {
            break
        }
        'ladder;state;help;help' {
            break
        }
        'ladder;mcp' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;completions' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write ladder.1 and ladder-<command>.1 into this directory instead')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file [default: state.db in the user data directory]')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Policy file [default: policy.toml in the user config directory if it exists, else the embedded default]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting [default: $LADDER_ACTOR, else the OS user]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colours: auto (a terminal, unless NO_COLOR is set or CLICOLOR_FORCE asks), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object on stdout (log: JSON Lines), errors included')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'ladder;help' {
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Describe a command, classify it by policy, and store it as a plan')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a pending plan''s current hash')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject a plan; the reason is returned to the agent by `show` and `apply`')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Withdraw a plan that has not run: it ends cancelled')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Run an approved plan''s command once and record its outcome')
            [CompletionResult]::new('replay', 'replay', [CompletionResultType]::ParameterValue, 'Write a plan''s recorded stdout and stderr and exit with its recorded code')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show the audit ledger, newest last; --verify checks the hash chain')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one plan: command, decision, approvals, window, outcome')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List plans (default: the pending ones)')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Settle an interrupted plan: succeeded, failed, or retry (one more apply)')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Plan the rollback a plan recorded (--rollback CMD) as a new plan')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Show, validate or explain the policy that classifies commands')
            [CompletionResult]::new('state', 'state', [CompletionResultType]::ParameterValue, 'Move state between stores (a local file into the team''s PostgreSQL)')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve plan, apply, replay, show, list and log as MCP tools on stdin/stdout')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per command into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'ladder;help;plan' {
            break
        }
        'ladder;help;approve' {
            break
        }
        'ladder;help;reject' {
            break
        }
        'ladder;help;cancel' {
            break
        }
        'ladder;help;apply' {
            break
        }
        'ladder;help;replay' {
            break
        }
        'ladder;help;log' {
            break
        }
        'ladder;help;show' {
            break
        }
        'ladder;help;list' {
            break
        }
        'ladder;help;resolve' {
            break
        }
        'ladder;help;rollback' {
            break
        }
        'ladder;help;policy' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective policy as TOML (the embedded default too)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate a policy file without touching state [default: the effective policy]')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Say which rule and tier a command gets, and why')
            break
        }
        'ladder;help;policy;show' {
            break
        }
        'ladder;help;policy;check' {
            break
        }
        'ladder;help;policy;explain' {
            break
        }
        'ladder;help;state' {
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy every plan, approval, run and ledger event into an empty store, the ledger event for event (`log --verify` passes on the target)')
            break
        }
        'ladder;help;state;copy' {
            break
        }
        'ladder;help;mcp' {
            break
        }
        'ladder;help;completions' {
            break
        }
        'ladder;help;man' {
            break
        }
        'ladder;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}

#!/usr/bin/env bash
# A bash agent that runs one consequential command through ladder:
# plan it, wait for a person, apply it once, and retry safely.
#
#   examples/agent.sh KEY COMMAND [ARGS...]
#
# Re-running it with the same KEY never runs the command twice: a second
# apply replays the recorded outcome. Needs jq. Environment:
#   LADDER        the ladder binary (default: ladder on PATH)
#   REASON        why (shown to the reviewer)
#   WAIT          how long to wait for approval per attempt (default 10m)
#   DRY_RUN       a dry-run command, e.g. "kubectl diff -f k8s/"
set -uo pipefail

ladder=${LADDER:-ladder}
key=${1:?usage: agent.sh KEY COMMAND [ARGS...]}
shift
[ $# -gt 0 ] || { echo "usage: agent.sh KEY COMMAND [ARGS...]" >&2; exit 2; }
command -v jq >/dev/null || { echo "agent.sh: needs jq" >&2; exit 2; }

say() { echo "agent: $*" >&2; }

plan() {
  local args=(--json plan --key "$key" --reason "${REASON:-requested by agent.sh}")
  [ -n "${DRY_RUN:-}" ] && args+=(--dry-run "$DRY_RUN")
  "$ladder" "${args[@]}" -- "$@"
}

# 1. Plan. The same key and command return the same plan, so this is safe to repeat.
out=$(plan "$@"); code=$?
if [ $code -ne 0 ]; then
  say "plan refused ($(jq -r .error.code <<<"$out")): $(jq -r .error.message <<<"$out")"
  exit $code
fi
hash=$(jq -r .hash <<<"$out")
say "planned $(jq -r .id <<<"$out" | cut -c1-8): tier $(jq -r .tier <<<"$out"), status $(jq -r .status <<<"$out")"

# 2. Apply, waiting for approval; retry what is worth retrying.
delay=1
for attempt in 1 2 3 4 5; do
  out=$("$ladder" --json apply --key "$key" --hash "$hash" --wait "${WAIT:-10m}"); code=$?
  err=$(jq -r '.error.code // empty' <<<"$out" 2>/dev/null)
  if [ -z "$err" ]; then
    # An execution object: the command ran now, or earlier (replayed).
    # The exact bytes: `stdout_base64` is there when they are not UTF-8
    # (`stdout` then has replacement characters).
    if [ "$(jq -r 'has("stdout_base64")' <<<"$out")" = true ]; then
      jq -r .stdout_base64 <<<"$out" | base64 -d
    else
      jq -j .stdout <<<"$out"
    fi
    if [ "$(jq -r 'has("stderr_base64")' <<<"$out")" = true ]; then
      jq -r .stderr_base64 <<<"$out" | base64 -d >&2
    else
      jq -j .stderr <<<"$out" >&2
    fi
    [ "$(jq -r .replayed <<<"$out")" = true ] && say "already applied earlier: replayed the recorded outcome"
    exit "$(jq -r .exit_code <<<"$out")"
  fi
  say "attempt $attempt: $err: $(jq -r .error.message <<<"$out")"
  case $err in
    in_flight|error) sleep "$delay"; delay=$((delay * 2)) ;;   # transient: try again
    expired)                                                    # nobody answered: ask again once
      out=$(plan "$@") || exit $?
      hash=$(jq -r .hash <<<"$out") ;;
    *) exit $code ;;   # rejected, stale, denied, outcome_unknown...: a person must act
  esac
done
say "giving up after 5 attempts"
exit 1

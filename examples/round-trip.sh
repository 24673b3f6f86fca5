#!/usr/bin/env bash
# The whole ladder once, on the embedded default policy and the default state
# file (state.db in your user data directory):
#   plan → approve → apply → replay → log
# Run it from the repository root after `cargo build --release`, or point
# LADDER at any ladder binary.
set -euo pipefail

ladder=${LADDER:-target/release/ladder}
if [ ! -x "$ladder" ]; then
  echo "round-trip: no ladder binary at $ladder (run cargo build --release first, or set LADDER)" >&2
  exit 2
fi

key="demo-$(date +%s)-$$"
dir="${TMPDIR:-/tmp}/ladder-demo/$key"

step() {
  if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
    printf '\n\033[1m== %s\033[0m\n' "$*" >&2
  else
    printf '\n== %s\n' "$*" >&2
  fi
}

step "1. plan: the agent proposes a command (mkdir is 'reversible'; without a dry-run it needs one approval)"
plan_json=$("$ladder" --actor agent --json plan --key "$key" \
  --reason "show the ladder once" --effect "creates $dir" --rollback "rmdir $dir" \
  -- mkdir -pv "$dir")
hash=$(printf '%s' "$plan_json" | grep -o '"hash":"[0-9a-f]\{64\}"' | head -n 1 | cut -d'"' -f4)
id=$(printf '%s' "$plan_json" | grep -o '"id":"[0-9a-f-]\{36\}"' | head -n 1 | cut -d'"' -f4)
"$ladder" show "$id"

step "2. apply before approval is refused (exit 10, needs_approval)"
set +e
"$ladder" --actor agent apply --key "$key" --hash "$hash"
echo "exit code: $?" >&2
set -e

step "3. approve: a different person approves that exact hash"
"$ladder" --actor reviewer approve "$id" --hash "$hash" --yes --comment "looks fine" >/dev/null

step "4. apply: runs the command once, streams and records its output"
"$ladder" --actor agent apply --key "$key" --hash "$hash"

step "5. apply again (a retrying agent): replays the recorded outcome, runs nothing"
"$ladder" --actor agent apply --key "$key" --hash "$hash"
"$ladder" replay --key "$key"

step "6. log: the hash-chained ledger of every rung, then its verification"
"$ladder" log --key "$key"
"$ladder" log --verify

#!/usr/bin/env python3
"""A Python agent that runs one consequential command through ladder.

    python3 examples/agent.py KEY COMMAND [ARGS...]

Plans the command, waits for a person to approve it, applies it once, and
retries safely: re-running with the same KEY replays the recorded outcome
instead of running the command again. Only the standard library.
Environment: LADDER (binary, default "ladder"), REASON, WAIT (default 10m),
DRY_RUN.
"""

import json
import os
import subprocess
import sys
import time

LADDER = os.environ.get("LADDER", "ladder")


def ladder(*args):
    """Runs ladder with --json; returns (exit code, the JSON object)."""
    proc = subprocess.run([LADDER, "--json", *args], capture_output=True, text=True)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        return proc.returncode, {"error": {"code": "error", "message": proc.stderr.strip()}}


def plan(key, command):
    args = ["plan", "--key", key, "--reason", os.environ.get("REASON", "requested by agent.py")]
    if os.environ.get("DRY_RUN"):
        args += ["--dry-run", os.environ["DRY_RUN"]]
    return ladder(*args, "--", *command)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    key, command = argv[1], argv[2:]

    code, p = plan(key, command)
    if "error" in p:
        print(f"agent: plan refused ({p['error']['code']}): {p['error']['message']}", file=sys.stderr)
        return code
    print(f"agent: planned {p['id'][:8]}: tier {p['tier']}, status {p['status']}", file=sys.stderr)

    delay = 1
    for attempt in range(1, 6):
        code, r = ladder("apply", "--key", key, "--hash", p["hash"], "--wait", os.environ.get("WAIT", "10m"))
        if "error" not in r:
            sys.stdout.write(r["stdout"])
            sys.stderr.write(r["stderr"])
            if r["replayed"]:
                print("agent: already applied earlier: replayed the recorded outcome", file=sys.stderr)
            return r["exit_code"]
        err = r["error"]
        print(f"agent: attempt {attempt}: {err['code']}: {err['message']}", file=sys.stderr)
        if err["code"] in ("in_flight", "error"):
            time.sleep(delay)
            delay *= 2
        elif err["code"] == "expired":
            code, p = plan(key, command)
            if "error" in p:
                return code
        else:
            # rejected, stale, denied, outcome_unknown...: a person has to act.
            if err["code"] == "rejected":
                _, shown = ladder("show", "--key", key)
                reason = (shown.get("rejection") or {}).get("reason")
                print(f"agent: the reviewer said: {reason}", file=sys.stderr)
            return code
    print("agent: giving up after 5 attempts", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

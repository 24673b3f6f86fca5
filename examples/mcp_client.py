#!/usr/bin/env python3
"""An agent that calls ladder as MCP tools, through one long-lived `ladder mcp`.

    python3 examples/mcp_client.py KEY COMMAND [ARGS...]

What an agent framework does for its model, spelled out with only the
standard library: start the server, initialize, then plan the command, wait
for a person to approve it (they run `ladder approve` in a terminal), apply
it once, and show that a retry with the same KEY replays the recorded
outcome instead of running it again. Every call goes to the same process,
so none of them pays a process start.
Environment: LADDER (binary, default "ladder"), REASON, WAIT_SECONDS
(default 600).
"""

import json
import os
import subprocess
import sys
import time

LADDER = os.environ.get("LADDER", "ladder")


class Session:
    """A JSON-RPC 2.0 session over the server's stdin and stdout, one
    message per line (MCP's stdio transport)."""

    def __init__(self):
        self.server = subprocess.Popen(
            [LADDER, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.next_id = 0

    def request(self, method, params):
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.server.stdin.write(json.dumps(message) + "\n")
        self.server.stdin.flush()
        response = json.loads(self.server.stdout.readline())
        if "error" in response:
            raise RuntimeError(response["error"]["message"])
        return response["result"]

    def notify(self, method):
        self.server.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}) + "\n")
        self.server.stdin.flush()

    def call(self, tool, **arguments):
        """A tool call: (isError, the structured result)."""
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        return result["isError"], result["structuredContent"]

    def close(self):
        self.server.stdin.close()
        self.server.wait()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip())
    key, command = sys.argv[1], sys.argv[2:]
    session = Session()
    info = session.request(
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "examples/mcp_client.py", "version": "1"},
        },
    )
    session.notify("notifications/initialized")
    tools = [t["name"] for t in session.request("tools/list", {})["tools"]]
    print(f"connected to {info['serverInfo']['name']} {info['serverInfo']['version']}; tools: {', '.join(tools)}")

    failed, plan = session.call(
        "plan",
        key=key,
        command=command,
        cwd=os.getcwd(),
        reason=os.environ.get("REASON", "run by examples/mcp_client.py"),
    )
    if failed:
        sys.exit(f"plan refused: {plan['error']['code']}: {plan['error']['message']}")
    print(f"plan {plan['id'][:8]}: tier {plan['tier']}, status {plan['status']}")

    # Poll `show`, which writes nothing, until a person has decided; an
    # `apply` refused for want of approval would add an event to the
    # ledger at every poll.
    deadline = time.monotonic() + float(os.environ.get("WAIT_SECONDS", "600"))
    while plan["status"] == "pending" and time.monotonic() < deadline:
        print("waiting for a person: ladder approve --key " + key, file=sys.stderr)
        time.sleep(1)
        _, plan = session.call("show", key=key)

    failed, outcome = session.call("apply", key=key, hash=plan["hash"])
    code = outcome.get("error", {}).get("code")
    if code:
        sys.exit(f"apply refused: {code}: {outcome['error']['message']}")
    sys.stdout.write(outcome["stdout"])
    print(f"exit code {outcome['exit_code']}, replayed: {outcome.get('replayed', False)}")

    # The retry an agent makes after a timeout or a crash: nothing runs.
    _, again = session.call("apply", key=key, hash=plan["hash"])
    print(f"retry: exit code {again['exit_code']}, replayed: {again['replayed']}")
    session.close()
    sys.exit(outcome["exit_code"])


if __name__ == "__main__":
    main()

"""A real Claude Code, given `agents mcp` with `--mcp-config`, calls `fleet_status` through
it: the fake model asks for the MCP tool, and the tool result the CLI sends back is the
fleet's `status --json` document."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import clis
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TOOL = "mcp__fleet__fleet_status"  # Claude Code's name for server "fleet"'s tool


def _params() -> list:
    return [pytest.param(cli, set_name, id=f"{cli}-{version}")
            for cli, set_name, version in clis.each_version() if cli == "claude"]


def tool_results(folder: Path) -> list[str]:
    """The text of every tool_result block the CLI sent to the model (dumped bodies)."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else ():
        try:
            body = json.loads(path.read_text())
        except ValueError:  # being written
            continue
        for message in body.get("messages", []):
            content = message.get("content")
            for block in content if isinstance(content, list) else ():
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    inner = block.get("content")
                    found.append(inner if isinstance(inner, str) else json.dumps(inner))
    return found


@pytest.mark.parametrize(("cli", "set_name"), _params())
def test_claude_calls_fleet_status_over_mcp(launch, fake, tmp_path: Path, cli: str,
                                            set_name: str) -> None:
    config = tmp_path / "fleet" / "agents.toml"
    config.parent.mkdir()
    config.write_text(f'[defaults]\nsession_prefix = "mcprc-"\nlog_dir = "logs"\n'
                      f'tmux_socket = "ao-mcp-rc-{os.getpid()}"\n'
                      '[[agent]]\nname = "worker"\nbackend = "demo"\n')
    server = {"mcpServers": {"fleet": {
        "command": sys.executable, "args": ["-m", "agent_orchestrator", "mcp", "--config",
                                            str(config)],
        "env": {"PYTHONPATH": str(ROOT)}}}}
    bodies = tmp_path / "bodies"
    fake.srv.dump_bodies = str(bodies)
    fake.set("tool", tool=TOOL, tool_args={}, main_only=True,
             after_text="The fleet has one agent, worker.")
    run = launch(cli, set_name, prompt="Call fleet_status and tell me who is in the fleet.",
                 args=["--mcp-config", json.dumps(server), "--allowedTools", TOOL])
    # Claude Code takes the first prompt before its MCP servers are connected ("still
    # connecting"): ask again, at each idle prompt, until the call reaches our server.
    deadline = time.monotonic() + 120
    seen = 0
    while True:
        results = tool_results(bodies)
        if results[seen:] and "still connecting" not in results[-1]:
            break
        if len(results) > seen:  # answered with the connecting error: once idle, ask again
            seen = len(results)
            assert run.ready(timeout=30) is not None, "the CLI never came back idle"
            run.send("Call fleet_status again.")
        assert time.monotonic() < deadline, (
            f"no tool result from our server; tool calls: "
            f"{[r.get('tool_call') for r in fake.model_requests()]}, results {results}")
        time.sleep(0.2)
    assert any(r.get("tool_call") == TOOL for r in fake.model_requests())
    body = json.loads(results[-1])
    if isinstance(body, list):  # content blocks: the first is the document as text
        body = json.loads(body[0]["text"])
    assert body["version"] == 2 and body["tmux"] == {"server_running": False}
    assert [(a["agent"], a["state"]) for a in body["agents"]] == [("worker", "stopped")]

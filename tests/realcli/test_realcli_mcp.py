"""A real Claude Code, given `agents mcp` with `--mcp-config`, calls `fleet_status` through
it: the fake model asks for the MCP tool, and the tool result the CLI sends back is the
fleet's `status --json` document. First given by hand, then as the product gives it: a
`lead` agent with `mcp = true` under `agents up` (runtime/mcpwiring.py), with nothing
written into the CLI's own settings and no approval asked."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import clis
import pytest
from conftest import tmux_cmd, wait_until  # tests/conftest.py

from .conftest import need

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


def until_our_result(bodies: Path, ask_again: Callable[[], None], fake: Any) -> str:
    """The text of the first tool result from our server (a JSON document). Claude Code
    takes the first prompt before its MCP servers are connected and answers the call with
    its own text ("still connecting", or another word for not yet: seen once in CI with
    2.1.197): `ask_again` at each such answer until the call reaches our server."""
    deadline = time.monotonic() + 120
    seen = 0
    while True:
        results = tool_results(bodies)
        if results[seen:] and _json(results[-1]):
            return results[-1]
        if len(results) > seen:  # answered with the connecting error: once idle, ask again
            seen = len(results)
            ask_again()
        assert time.monotonic() < deadline, (
            f"no tool result from our server; tool calls: "
            f"{[r.get('tool_call') for r in fake.model_requests()]}, results {results}")
        time.sleep(0.2)


def _json(text: str) -> bool:
    try:
        status_document(text)
    except (ValueError, LookupError, TypeError):
        return False
    return True


def status_document(text: str) -> dict:
    body = json.loads(text)
    if isinstance(body, list):  # content blocks: the first is the document as text
        body = json.loads(body[0]["text"])
    if not isinstance(body, dict):
        raise TypeError(f"not a document: {text[:200]!r}")
    return body


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

    def ask_again() -> None:
        assert run.ready(timeout=30) is not None, "the CLI never came back idle"
        run.send("Call fleet_status again.")

    body = status_document(until_our_result(bodies, ask_again, fake))
    assert any(r.get("tool_call") == TOOL for r in fake.model_requests())
    assert body["version"] == 2 and body["tmux"] == {"server_running": False}
    assert [(a["agent"], a["state"]) for a in body["agents"]] == [("worker", "stopped")]


def lead_fleet(fake: Any, make_fleet: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
               cli: str, set_name: str, prompt: str) -> tuple[Any, clis.Run]:
    """A fleet whose one running agent is `lead` (`mcp = true`, this CLI) and a disabled
    worker, brought up with `agents up`. The CLI's own files are in its HOME and the
    environment points it at the fake: the whole fleet (tmux server, agent, the MCP server
    it starts) runs with it, PYTHONPATH naming this checkout so the server is the code under
    test."""
    need(cli, set_name)
    run = clis.Run(cli, fake.base_url, set_name)
    for key, value in {**clis.SETUP[cli](run), "HOME": str(run.home),
                       "TMPDIR": str(run.home / "tmp"),
                       "PATH": f"{run.bin.parent}:{os.environ['PATH']}",
                       "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost",
                       "no_proxy": "127.0.0.1,localhost"}.items():
        monkeypatch.setenv(key, value)
    fleet = make_fleet(f"""
        [[agent]]
        name = "lead"
        backend = "{cli}"
        dir = {json.dumps(str(run.proj))}
        mcp = true
        watch = "heal"
        prompt = {json.dumps(prompt)}

        [[agent]]
        name = "worker"
        backend = "demo"
        enabled = false

        [backend.{cli}]
        bin = {json.dumps(str(run.bin))}
        """)
    up = fleet.agents("up")
    assert up.returncode == 0, up.stdout + up.stderr
    return fleet, run


def check_lead_status(body: dict) -> None:
    """The lead's fleet_status result: this fleet, live, the lead running in it."""
    assert body["version"] == 2 and body["tmux"]["server_running"] is True
    rows = {a["agent"]: a for a in body["agents"]}
    assert set(rows) == {"lead", "worker"}
    assert rows["lead"]["state"] in ("running", "active", "idle"), rows["lead"]
    assert rows["lead"]["pid"] and rows["worker"]["state"] == "disabled", rows


def close(fleet: Any, run: clis.Run) -> None:
    print(f"--- events:\n{json.dumps(fleet.events(), indent=1)}\n--- last screen:\n"
          + tmux_cmd(fleet.socket, "capture-pane", "-p", "-t", "e-lead").stdout)
    fleet.close()
    left = run.stop()
    assert not left, f"processes left after stop: {left}"


def ask(fleet: Any, text: str) -> None:
    sent = fleet.agents("send", "lead", text, "--when-idle")  # typed by the watchdog
    assert sent.returncode == 0, sent.stdout + sent.stderr


@pytest.mark.parametrize(("cli", "set_name"), _params())
def test_a_claude_lead_with_mcp_true_calls_fleet_status(
        fake, make_fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: str,
        set_name: str) -> None:
    """`mcp = true` is the whole setup: `agents up` launches the lead with our server for
    this config and its tools allowed (without that, a permission dialog stops the call);
    its kickoff asks for fleet_status and the result is the fleet's status."""
    bodies = tmp_path / "bodies"
    fake.srv.dump_bodies = str(bodies)
    fake.set("tool", tool=TOOL, tool_args={}, main_only=True,
             after_text="The fleet has a lead and a worker.")
    fleet, run = lead_fleet(fake, make_fleet, monkeypatch, cli, set_name,
                            "Call fleet_status and tell me who is in the fleet.")
    try:
        text = until_our_result(bodies, lambda: ask(fleet, "Call fleet_status again."), fake)
        check_lead_status(status_document(text))
        assert any(r.get("tool_call") == TOOL for r in fake.model_requests())
        # given on its command line only: nothing written into the CLI's settings
        assert "fleet" not in (run.home / ".claude.json").read_text()
        assert "mcp" not in (run.home / ".claude" / "settings.json").read_text()
    finally:  # what it prints is shown when the test fails
        close(fleet, run)


def codex_bodies(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else ():
        try:
            out.append(json.loads(path.read_text()))
        except ValueError:  # being written
            continue
    return out


def codex_outputs(folder: Path) -> list[str]:
    """The output of every function call the CLI sent back to the model."""
    found = []
    for body in codex_bodies(folder):
        for item in body.get("input") or ():
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                output = item.get("output")
                found.append(output if isinstance(output, str) else json.dumps(output))
    return found


@pytest.mark.parametrize("set_name", [pytest.param(s, id=f"codex-{v}")
                                      for c, s, v in clis.each_version() if c == "codex"])
def test_a_codex_lead_with_mcp_true_calls_fleet_status(
        fake, make_fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        set_name: str) -> None:
    """The same for Codex (`-c mcp_servers.fleet.*`): the server's tools are offered to the
    model under the name Codex gives them, and a call, approved by the launch (no dialog),
    returns the fleet's status."""
    bodies = tmp_path / "bodies"
    fake.srv.dump_bodies = str(bodies)
    fleet, run = lead_fleet(fake, make_fleet, monkeypatch, "codex", set_name, "Say hello.")
    try:
        def offered() -> tuple[str, str] | None:
            """(namespace, name) of fleet_status as Codex offers it (0.169: inside a
            namespace tool `mcp__fleet`)."""
            for body in codex_bodies(bodies):
                for tool in body.get("tools") or ():
                    for inner in [tool, *(tool.get("tools") or ())]:
                        if str(inner.get("name", "")).endswith("fleet_status"):
                            return (tool.get("name") if inner is not tool else None,
                                    inner["name"])
            return None

        namespace, tool = wait_until(offered, timeout=90, what="fleet_status offered")
        fake.set("tool", tool=tool, tool_namespace=namespace, tool_args={}, main_only=True,
                 after_text="The fleet has a lead and a worker.")
        ask(fleet, "Call fleet_status and tell me who is in the fleet.")
        output = wait_until(lambda: next(iter(codex_outputs(bodies)), None), timeout=90,
                            what="the tool's output sent back to the model")
        # "Wall time: 0.06 seconds\nOutput:\n{...}": an approval dialog would have stopped it
        body = json.loads(output[output.index("{"):])
        check_lead_status(body)
    finally:
        close(fleet, run)

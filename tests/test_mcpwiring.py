"""runtime/mcpwiring.py: an agent with `mcp = true` is launched with `agents mcp` for its
fleet's config on its CLI's command line (Claude Code: `--mcp-config=` + `--allowedTools=`;
Codex: `-c mcp_servers.fleet.*`, approved, with PYTHONPATH / TMUX_TMPDIR), each value one
argv word; the command it is given really serves that fleet; an agent without the key gets
nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import write_config
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Config
from agent_orchestrator.runtime import launch, mcpwiring

ROOT = Path(__file__).resolve().parent.parent


def fleet(tmp_path: Path) -> Config:
    folder = tmp_path / "a dir with 'quotes' and spaces"
    folder.mkdir()
    return config_mod.load(write_config(folder, """
        [[agent]]
        name = "lead"
        backend = "claude"
        mcp = true
        prompt = "- lead the fleet"

        [[agent]]
        name = "cx"
        backend = "codex"
        mcp = true
        prompt = "go"

        [[agent]]
        name = "plain"
        backend = "claude"
        prompt = "go"
    """))


def argv_of(config: Config, name: str) -> tuple[str, ...]:
    agent = config.agent(name)
    assert agent is not None
    return launch.plan_agent(config, agent).argv


def claude_server(argv: tuple[str, ...]) -> dict:
    configs = [w.removeprefix("--mcp-config=") for w in argv if w.startswith("--mcp-config=")]
    assert len(configs) == 1, argv
    body = json.loads(configs[0])
    assert list(body["mcpServers"]) == ["fleet"]
    return body["mcpServers"]["fleet"]


def test_claude_gets_the_server_and_its_tools_allowed_before_the_kickoff(tmp_path) -> None:
    config = fleet(tmp_path)
    argv = argv_of(config, "lead")
    server = claude_server(argv)
    assert server == {"command": sys.executable, "args": [
        "-m", "agent_orchestrator", "mcp", "--config", str(config.path)]}
    assert config.path.is_absolute() and " " in str(config.path)  # still one word
    assert "--allowedTools=mcp__fleet" in argv
    # Both options take several values: only the `=` form keeps them from taking the
    # kickoff; the options come before the preset's `--`, the kickoff is the last word.
    assert "--mcp-config" not in argv and "--allowedTools" not in argv
    assert argv.index("--allowedTools=mcp__fleet") < argv.index("--") < len(argv) - 1
    assert argv[-1] == "- lead the fleet"
    assert "--strict-mcp-config" not in argv  # the user's own servers stay


def test_codex_gets_the_server_approved_with_its_environment_as_overrides(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/src/with space")
    monkeypatch.delenv("TMUX_TMPDIR", raising=False)
    config = fleet(tmp_path)
    argv = argv_of(config, "cx")
    overrides = [argv[i + 1] for i, w in enumerate(argv) if w == "-c"]
    servers = [o for o in overrides if o.startswith("mcp_servers.")]
    merged: dict = {"env": {}}
    for text in servers:  # codex parses each `-c` value as TOML
        table = tomllib.loads(text)["mcp_servers"]["fleet"]
        merged["env"] |= table.pop("env", {})
        merged |= table
    assert merged == {"command": sys.executable, "args": [
        "-m", "agent_orchestrator", "mcp", "--config", str(config.path)],
        "default_tools_approval_mode": "approve", "env": {"PYTHONPATH": "/src/with space"}}
    assert argv[-2:] == ("--", "go")
    monkeypatch.setenv("TMUX_TMPDIR", "/run/tmux dir")  # where the fleet's server is
    monkeypatch.delenv("PYTHONPATH")
    assert 'mcp_servers.fleet.env.TMUX_TMPDIR="/run/tmux dir"' in argv_of(config, "cx")


def test_an_agent_without_mcp_gets_no_server(tmp_path: Path) -> None:
    config = fleet(tmp_path)
    argv = argv_of(config, "plain")
    assert not [w for w in argv if w.startswith(("--mcp", "--allowedTools"))], argv
    agent = config.agent("plain")
    assert agent is not None
    assert mcpwiring.words(config, agent, config.backend("claude")) == ()


def test_a_relative_config_path_is_given_absolute(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fleet(tmp_path)
    monkeypatch.chdir(tmp_path / "a dir with 'quotes' and spaces")
    config = config_mod.load(Path("agents.toml"))
    monkeypatch.chdir(tmp_path)  # the CLI runs in the agent's dir, not ours
    assert claude_server(argv_of(config, "lead"))["args"][-1] == str(
        tmp_path / "a dir with 'quotes' and spaces" / "agents.toml")


def test_the_command_given_serves_this_fleet(tmp_path: Path) -> None:
    """The server exactly as the CLI would start it (only PYTHONPATH added, to import this
    checkout) answers fleet_status with this config's agents."""
    config = fleet(tmp_path)
    server = claude_server(argv_of(config, "lead"))
    env = {k: os.environ[k] for k in ("HOME", "TMUX_TMPDIR", "PATH") if k in os.environ}
    env["PYTHONPATH"] = str(ROOT)

    async def call() -> dict:
        params = StdioServerParameters(command=server["command"], args=server["args"],
                                       env=env, cwd=str(tmp_path))
        async with Client(params, read_timeout_seconds=60) as client:
            result = await client.call_tool("fleet_status", {})
            assert not result.is_error, result.content
            return json.loads(result.content[0].text)  # type: ignore[union-attr]

    body = asyncio.run(call())
    assert sorted(a["agent"] for a in body["agents"]) == ["cx", "lead", "plain"]

"""Giving an agent with `mcp = true` our MCP server (`agents mcp` for this config) at launch.

On its command line, never through the user's own config files: Claude Code gets the server
as `--mcp-config=<JSON>` (a server given so needs no approval, unlike a project's
`.mcp.json`) and its tools allowed with `--allowedTools=mcp__fleet`, so no permission dialog
stops a call (which tools exist is `[mcp] allow`'s to say); Codex gets
`-c mcp_servers.fleet.command=...`, `...args=[...]`, its tools approved
(`...default_tools_approval_mode="approve"`) and the environment the server needs. The server is
started as the Python running us (`sys.executable -m agent_orchestrator mcp --config
<absolute config path>`), so it is the code and the config of this fleet. Each value is one
argv word (the CLI is exec'd with no shell). The config refuses `mcp = true` for any other
backend (`Backend.takes_mcp`).
"""

from __future__ import annotations

import json
import os
import sys

from agent_orchestrator.config import Agent, Backend, Config

SERVER = "fleet"  # the server's name in the CLI: Claude Code calls its tools mcp__fleet__*


def server_argv(config: Config) -> list[str]:
    """The command that serves this fleet over MCP on stdio."""
    return [sys.executable, "-m", "agent_orchestrator", "mcp", "--config",
            str(config.path.resolve())]


def words(config: Config, agent: Agent, backend: Backend) -> tuple[str, ...]:
    """The CLI's command-line words that give `agent` the server (none unless `mcp`)."""
    if not agent.mcp or not backend.takes_mcp:
        return ()
    command, *args = server_argv(config)
    if backend.signals == "claude":
        body = {"mcpServers": {SERVER: {"command": command, "args": args}}}
        # `--opt=value`: both options take several values, and a separate value word would
        # let them swallow the next one (the kickoff text when no option follows).
        return (f"--mcp-config={json.dumps(body)}", f"--allowedTools=mcp__{SERVER}")
    # Codex: `-c` parses the value as TOML, and JSON strings and arrays are TOML ones.
    table = {"command": command, "args": args,
             # else each call asks "Allow the fleet MCP server to run tool ...?" (0.169)
             "default_tools_approval_mode": "approve",
             **{f"env.{name}": value for name, value in passed_env().items()}}
    return tuple(word for key, value in table.items()
                 for word in ("-c", f"mcp_servers.{SERVER}.{key}={json.dumps(value)}"))


def passed_env() -> dict[str, str]:
    """What Codex must hand the server from our environment: it starts MCP servers with only
    a few variables of its own (HOME, PATH, ...), and these decide which code runs and where
    the fleet's tmux server is."""
    return {name: os.environ[name] for name in ("PYTHONPATH", "TMUX_TMPDIR")
            if os.environ.get(name)}

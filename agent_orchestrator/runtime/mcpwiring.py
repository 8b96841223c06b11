"""Giving an agent with `mcp = true` our MCP server (`agents mcp` for this config) at launch.

On its command line, never through the user's own config files: Claude Code gets the server
as `--mcp-config=<JSON>` (a server given so needs no approval, unlike a project's
`.mcp.json`) and its tools allowed with `--allowedTools=mcp__fleet`, so no permission dialog
stops a call (which tools exist is `[mcp] allow`'s to say); Codex gets
`-c mcp_servers.fleet.command=...` and `-c mcp_servers.fleet.args=[...]`. The server is
started as the Python running us (`sys.executable -m agent_orchestrator mcp --config
<absolute config path>`), so it is the code and the config of this fleet. Each value is one
argv word (the CLI is exec'd with no shell). The config refuses `mcp = true` for any other
backend (`Backend.takes_mcp`).
"""

from __future__ import annotations

import json
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
    return ("-c", f"mcp_servers.{SERVER}.command={json.dumps(command)}",
            "-c", f"mcp_servers.{SERVER}.args={json.dumps(args)}")

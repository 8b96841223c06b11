"""The verb that serves the fleet to another agent: `agents mcp` (MCP on stdio)."""

from __future__ import annotations

import argparse

from agent_orchestrator.cli.verb import Verb, config_path, no_arguments


def run_mcp(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import mcpserver  # the mcp SDK loads only for this verb

    mcpserver.serve(config_path(args).resolve())
    return 0


MCP = Verb(
    "mcp", "serve the fleet over MCP on stdio, for a lead agent (tools: [mcp] allow)",
    "claude mcp add fleet -- agents mcp --config ~/proj/agents.toml\n"
    "  agents mcp              # speaks JSON-RPC on stdin/stdout: run by an MCP client",
    no_arguments, run_mcp)

"""`agents mcp`: the fleet over MCP on stdio (the official `mcp` SDK's MCPServer), for a
lead agent to see and steer it with typed tools instead of scraping `agents status`.

Tools are the verbs' own functions (mcptools.py), so a result is the data of the verb's
`--json`. Only the tools `[mcp] allow` names are served (default: the read-only ones); a
call of another known tool is refused naming the setting that allows it. A user's mistake
(an unknown agent, a bad `since`, a config with errors) is a tool error result with the
message the verb would print, never a crash of the server. Resources: the config, with
every secret taken out, and the newest events (a snapshot when read: no subscriptions).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from agent_orchestrator import __version__
from agent_orchestrator.cli import mcptools
from agent_orchestrator.config import Config, model

RESOURCE_EVENTS = 200  # events in the `agents://events` resource
INSTRUCTIONS = ("A fleet of AI coding agents in tmux, kept working by a watchdog. "
                "fleet_status first; agent_status/explain/logs_tail/events for one agent; "
                "send, restart, up, down and phase_set act, if [mcp] allow lets them.")


def allowed(config: Config) -> frozenset[str]:
    names = config.mcp.allow
    known = model.MCP_READ_TOOLS + model.MCP_WRITE_TOOLS
    return frozenset(known if "*" in names else names)


def _guard(call: Callable[[], dict[str, object]]) -> dict[str, object]:
    """Run a tool; a user's mistake becomes a ToolError (an error result with its text)."""
    from agent_orchestrator.cli.verb import UserError
    from agent_orchestrator.config import ConfigError
    from agent_orchestrator.config.filetrust import Untrusted
    from agent_orchestrator.doors.taskqueue import TaskError
    from agent_orchestrator.doors.tmux import TmuxError
    from agent_orchestrator.runtime.fleet import UnknownNames

    try:
        return call()
    except ConfigError as exc:
        raise ToolError(f"invalid config:\n{exc}") from None
    except (UserError, UnknownNames, TmuxError, Untrusted, TaskError) as exc:
        raise ToolError(str(exc)) from None
    except OSError as exc:
        raise ToolError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None


class FleetServer(MCPServer[Any]):
    """MCPServer that refuses a known tool the config does not allow, saying why."""

    refused: frozenset[str] = frozenset()

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Any = None) -> Any:
        if name in self.refused:
            raise ToolError(f"tool '{name}' is not allowed: add it to `[mcp] allow` in "
                            "agents.toml (the default allows only the read-only tools)")
        return await super().call_tool(name, arguments, context)


def build(path: Path, config: Config) -> FleetServer:
    """The server for the config at `path` (`config`, loaded from it, says what is allowed)."""
    # subscriptions=False: nothing here publishes updates, so offer no `subscriptions/listen`
    # (the SDK would otherwise advertise `resources.subscribe` and `listChanged`)
    server = FleetServer("agents", version=__version__, instructions=INSTRUCTIONS,
                         log_level="WARNING", subscriptions=False)
    tools: dict[str, Callable[..., dict[str, object]]] = {}

    def fleet_status() -> dict[str, object]:
        """Every agent and service: state, detail, pid, restarts, last event (the
        `agents status --json` document, version 2)."""
        return _guard(lambda: mcptools.fleet_status(path))

    def agent_status(name: str) -> dict[str, object]:
        """One agent in detail (`agents status NAME --json`): its judged state and where
        from, limit window, back-off, restarts, last events, the last lines of its screen."""
        return _guard(lambda: mcptools.agent_status(path, name))

    def events(since: str | None = None, agent: str | None = None,
               limit: int = 100) -> dict[str, object]:
        """The watchdog's decisions, oldest first (`agents events --json`): only newer than
        `since` (30m, 8h, 2d or an ISO time), only `agent`'s, at most `limit` (the newest)."""
        return _guard(lambda: mcptools.events(path, since, agent, limit))

    def send(name: str, text: str, when_idle: bool = False) -> dict[str, object]:
        """Type `text` into agent `name` and submit it (`agents send --json`); `when_idle`:
        queue it for the agent's next idle moment instead. A dialog or usage-limit banner on
        screen is never typed into: the text is queued then (`queued`, `detail` says why)."""
        return _guard(lambda: mcptools.send(path, name, text, when_idle))

    def restart(names: list[str]) -> dict[str, object]:
        """Stop and start agents or services: a new run, clocks and counters fresh."""
        return _guard(lambda: mcptools.outcomes(path, "restart", names))

    def up(names: list[str] | None = None) -> dict[str, object]:
        """Start the named agents/services (all enabled ones when none) and the watchdog."""
        return _guard(lambda: mcptools.outcomes(path, "up", names or []))

    def down(names: list[str] | None = None) -> dict[str, object]:
        """Stop the named agents/services (everything, the watchdog too, when none)."""
        return _guard(lambda: mcptools.outcomes(path, "down", names or []))

    def phase_show() -> dict[str, object]:
        """The loop's phases (numbered from 1), each status file's state (DONE, not yet,
        missing, unreadable), the current one and whether the sequence is done."""
        return _guard(lambda: mcptools.phase_show(path))

    def phase_set(number: int) -> dict[str, object]:
        """Move the loop to phase `number` (numbered from 1, as `phase_show` shows them);
        the loop agents restart on it, after a completed sequence too."""
        return _guard(lambda: mcptools.phase_set(path, number))

    def explain(name: str) -> dict[str, object]:
        """Which state the watchdog sees on the agent's screen now, and why
        (`agents explain NAME --json`)."""
        return _guard(lambda: mcptools.explain(path, name))

    def logs_tail(name: str, lines: int = 40) -> dict[str, object]:
        """The last `lines` of an agent's or service's session log, as text."""
        return _guard(lambda: mcptools.logs_tail(path, name, lines))

    def tasks(state: str | None = None) -> dict[str, object]:
        """The task queue, read only: every task (or those in `state`: queued, running,
        done, failed, cancelled)."""
        return _guard(lambda: mcptools.tasks(path, state))

    for fn in (fleet_status, agent_status, events, send, restart, up, down, phase_show,
               phase_set, explain, logs_tail, tasks):
        tools[fn.__name__] = fn
    assert set(tools) == set(model.MCP_READ_TOOLS + model.MCP_WRITE_TOOLS)
    allow = allowed(config)
    for name, fn in tools.items():
        if name in allow:
            server.add_tool(fn, name=name, structured_output=True)
    server.refused = frozenset(tools) - allow

    @server.resource("agents://config", mime_type="application/toml",
                     description="agents.toml, every secret taken out")
    def config_resource() -> str:
        return redacted_config(mcptools.load(path)[0])

    @server.resource("agents://events", mime_type="application/x-ndjson",
                     description=f"the newest {RESOURCE_EVENTS} events, one JSON a line: "
                     "a snapshot when read, not a stream (no update notifications; "
                     "read it again, or call the events tool with since)")
    def events_resource() -> str:
        found = _guard(lambda: mcptools.events(path, None, None, RESOURCE_EVENTS))["events"]
        assert isinstance(found, list)
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in found)

    return server


def redacted_config(config: Config) -> str:
    """The config file as loaded, with API-key-shaped secrets, webhook URLs' paths and
    queries and header values replaced (core/redact.py, doors/notify.py's `shown_url`).

    A secret written with TOML escapes (`\\u002D` for `-`) is not in the text as written,
    so every double-quoted string is also decoded and replaced whole when it holds one; and
    if the result still parses to a secret anywhere, nothing of the file is shown."""
    from agent_orchestrator.core.redact import redact
    from agent_orchestrator.doors.notify import shown_url

    text = config.source.decode("utf-8", "replace")
    secrets: list[str] = []
    for sink in config.notify.sinks if config.notify else ():
        if sink.url:
            secrets.append(sink.url)
            text = text.replace(sink.url, shown_url(sink.url))
        for _name, value in sink.headers:
            if value:
                secrets.append(value)
                text = text.replace(value, "[REDACTED:header]")
    text = redact(_BASIC_STRING.sub(lambda m: _scrubbed(m.group(0), secrets), text))
    try:
        leaked = any(s in v for s in secrets for v in _strings(tomllib.loads(text)))
    except tomllib.TOMLDecodeError:
        leaked = bool(secrets)  # cannot prove it clean: show nothing
    return "# agents.toml is not shown: a secret in it could not be taken out\n" \
        if leaked else text


# a TOML basic string, multi-line or not (literal strings have no escapes to hide behind)
_BASIC_STRING = re.compile(r'"""[\s\S]*?"""(?!")|"(?:[^"\\\n]|\\.)*"')


def _scrubbed(literal: str, secrets: list[str]) -> str:
    try:
        value = tomllib.loads("x = " + literal)["x"]
    except tomllib.TOMLDecodeError:
        return literal
    return '"[REDACTED]"' if any(s in value for s in secrets) else literal


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        node = list(node.values())
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def serve(path: Path) -> None:
    """Serve until the client closes stdin. A config with errors stops it here (the
    caller's error boundary says why), before any client is told of tools."""
    config, _ = mcptools.load(path, strict=True)
    build(path, config).run("stdio")

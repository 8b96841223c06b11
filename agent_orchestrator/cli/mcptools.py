"""The fleet as data for `agents mcp`: one function a tool, each the data of its verb's
`--json` (the same functions the verbs call, never `agents` run as a program).

Each takes the config file's path and loads it afresh, as a verb run would: an edit of
agents.toml is seen by the next call, and a config with errors falls back to the last good
one the watchdog runs (`fleet_status` says so in `config.errors`). Bad input raises
UserError (or a library's own error); mcpserver.py turns it into a tool error result.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from agent_orchestrator.cli.verb import UsageError, UserError, agent_named, loaded, tmux
from agent_orchestrator.config import Config

EVENTS_LIMIT = 1000  # at most this many events in one answer
LOG_LINES_LIMIT = 2000


def load(path: Path, strict: bool = False, env: bool = False) -> tuple[Config, str | None]:
    """The config at `path` as the verbs load it (see verb.loaded)."""
    return loaded(argparse.Namespace(config=str(path)), env=env, strict=strict)


def fleet_status(path: Path) -> dict[str, object]:
    from agent_orchestrator.cli import status

    config, broken = load(path, env=True)
    return status.status(config, tmux(config), processes=True, config_error=broken).to_json()


def agent_status(path: Path, name: str) -> dict[str, object]:
    from agent_orchestrator.cli import agentstatus

    config, _ = load(path, env=True)
    return agentstatus.detail(config, tmux(config), agent_named(config, name)).to_json()


def events(path: Path, since: str | None, agent: str | None, limit: int) -> dict[str, object]:
    """The newest `limit` events (oldest first) as `events --json` prints them."""
    from agent_orchestrator.doors import eventlog
    from agent_orchestrator.runtime.fleet import check_names

    if not 1 <= limit <= EVENTS_LIMIT:
        raise UsageError(f"limit must be 1 to {EVENTS_LIMIT}")
    config, _ = load(path)
    try:
        after = eventlog.parse_since(since) if since else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if agent is not None:
        check_names(config, [agent])
    found = [r for r in eventlog.read(config.log_dir)
             if eventlog.matches(r, agent=agent, since=after)]
    return {"events": found[-limit:]}


def send(path: Path, name: str, text: str, when_idle: bool) -> dict[str, object]:
    from agent_orchestrator.cli.verbs_agent import send_text

    config, _ = load(path)
    return send_text(config, agent_named(config, name), text, when_idle)


def outcomes(path: Path, verb: str, names: list[str]) -> dict[str, object]:
    """`up`, `down` or `restart` of `names` (up/down: everything when empty): what happened
    to each session, as {`outcomes`: [{`name`, `session`, `action`, `detail`}]}."""
    from agent_orchestrator.cli.verb import refuse_unstartable
    from agent_orchestrator.runtime import fleet

    if verb == "restart" and not names:
        raise UsageError("restart needs at least one name")
    config, _ = load(path, strict=verb != "down", env=verb != "down")
    if verb in ("up", "restart"):  # they start sessions
        refuse_unstartable(config)
    run = {"up": fleet.up, "down": fleet.down, "restart": fleet.restart}[verb]
    results = run(config, tmux(config), names)
    if verb != "restart":  # fleet.restart records its own
        from agent_orchestrator.cli.verbs_fleet import record

        record(config, results, kind=verb)
    return {"outcomes": [asdict(o) for o in results]}


def phase_show(path: Path) -> dict[str, object]:
    from agent_orchestrator.cli.verbs_loop import phase_show as show

    return show(load(path)[0])


def phase_set(path: Path, number: int) -> dict[str, object]:
    from agent_orchestrator.cli.verbs_loop import parse_target
    from agent_orchestrator.cli.verbs_loop import phase_set as move
    from agent_orchestrator.cli.verbs_loop import phase_show as show

    config, _ = load(path)
    move(config, parse_target(config, str(number)))
    return show(config)


def explain(path: Path, name: str) -> dict[str, object]:
    from agent_orchestrator.cli.verbs_look import explain_agent

    config, _ = load(path)
    return explain_agent(config, agent_named(config, name)).to_json()


def logs_tail(path: Path, name: str, lines: int) -> dict[str, object]:
    """The last `lines` of the session log as `agents logs --no-follow` prints them
    (rendered as the screen showed them)."""
    from agent_orchestrator.cli.verbs_read import log_lines
    from agent_orchestrator.runtime import launch
    from agent_orchestrator.runtime.fleet import check_names

    if not 1 <= lines <= LOG_LINES_LIMIT:
        raise UsageError(f"lines must be 1 to {LOG_LINES_LIMIT}")
    config, _ = load(path)
    check_names(config, [name])
    target = config.agent(name) or config.service(name)
    assert target is not None
    if (agent := config.agent(name)) is not None and agent.host is not None:
        from agent_orchestrator.cli import remotelogs

        return {"name": name, "lines": remotelogs.log_lines(config, agent, lines)}
    log = launch.log_file(config, target.session)
    if not log.exists():
        raise UserError(f"no log yet for {name}")
    return {"name": name, "lines": log_lines(log, lines)}


def tasks(path: Path, state: str | None) -> dict[str, object]:
    """The task queue (`agents tasks --json`'s document), read only."""
    from agent_orchestrator.cli.verbs_tasks import as_json
    from agent_orchestrator.runtime.tasks import open_queue

    config, _ = load(path)
    queue = open_queue(config)
    try:
        return {"tasks": [as_json(t) for t in queue.tasks(state)]}
    finally:
        queue.close()

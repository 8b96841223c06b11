"""The verbs that show the fleet and the watchdog's view of it: `agents status`,
`agents events`, `agents explain`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import (
    UsageError,
    UserError,
    Verb,
    agent_named,
    config_path,
    count,
    load,
    loaded,
    tmux,
)

if TYPE_CHECKING:
    from agent_orchestrator.config import Agent, Config
    from agent_orchestrator.core.explain import Explanation


def _build_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="one agent, in detail")
    parser.add_argument("--json", action="store_true",
                        help="one JSON document (shape documented in README)")
    parser.add_argument("--watch", action="store_true", help="refresh every second until Ctrl-C")


def run_status(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render, status, statustable
    from agent_orchestrator.config import ConfigError

    try:
        config, broken = loaded(args)
    except ConfigError as exc:
        if args.json:  # scripts still get a document: the config is broken, no fleet known
            render.json_document(status.broken(config_path(args), str(exc)),
                                 ensure_ascii=True)
        raise
    door = tmux(config)
    if args.name:
        from agent_orchestrator.cli import agentstatus

        if args.watch:
            raise UsageError("`--watch` shows the whole fleet; leave out NAME")
        one = agentstatus.detail(config, door, agent_named(config, args.name))
        if args.json:
            render.json_document(one.to_json())
        else:
            render.agent_detail(one)
        return 0
    if args.json:
        render.json_document(status.status(config, door, processes=True,
                                           config_error=broken).to_json(), ensure_ascii=True)
        return 0
    out = render.console()
    wide = out.width >= statustable.WIDE  # room for the pid, CPU and memory columns
    if args.watch:
        statustable.status_live(out, lambda: status.status(config, door, wide, broken), config)
    else:
        statustable.status(out, status.status(config, door, wide, broken), config)
    return 0


FOLLOW_HISTORY = 10  # events `events -f` prints before the new ones, unless -n says


def _build_events(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true",
                        help=f"keep printing new ones (after the last {FOLLOW_HISTORY})")
    parser.add_argument("-n", "--lines", type=count, metavar="N",
                        help=f"only the last N (default: all; with -f {FOLLOW_HISTORY})")
    parser.add_argument("--agent", metavar="NAME", help="only this agent's")
    parser.add_argument("--since", metavar="WHEN",
                        help="only newer ones: 30m, 8h, 2d or an ISO time")
    parser.add_argument("--json", action="store_true", help="the JSON lines as recorded")


def run_events(args: argparse.Namespace) -> int:
    from collections import deque
    from collections.abc import Iterable

    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import eventlog

    config = load(args, env=False)
    try:
        since = eventlog.parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.agent is not None:
        from agent_orchestrator.runtime.fleet import check_names

        check_names(config, [args.agent])

    def keep(record: dict[str, object]) -> bool:
        return eventlog.matches(record, agent=args.agent, since=since)

    records: Iterable[dict[str, object]]
    if args.follow:
        last = FOLLOW_HISTORY if args.lines is None else args.lines
        records = eventlog.follow_last(config.log_dir, last, keep)
    else:
        records = (r for r in eventlog.read(config.log_dir) if keep(r))
        if args.lines is not None:
            records = deque(records, maxlen=args.lines)
    out = render.console()
    for record in records:
        if args.json:
            render.json_line(record)
        else:
            render.event(out, record)
    return 0


def _build_explain(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="a running agent")
    parser.add_argument("--backend", metavar="B", help="judge a saved screen as backend B")
    parser.add_argument("--screen", metavar="FILE", type=Path,
                        help="a saved screen (e.g. `tmux capture-pane -p > FILE`)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_explain(args: argparse.Namespace) -> int:
    from datetime import datetime

    from agent_orchestrator import config as config_mod
    from agent_orchestrator.cli import render
    from agent_orchestrator.config import filetrust
    from agent_orchestrator.core import explain

    now = datetime.now().astimezone()
    if args.screen is not None or args.backend is not None:
        if args.screen is None or args.backend is None or args.name:
            raise UsageError("give either NAME, or both --backend B and --screen FILE")
        backends = {}
        if config_path(args).exists():  # the user's overrides of presets count
            try:  # a broken config: its last good copy, else the presets alone
                backends = {b.name: b for b in load(args, env=False).backends}
            except config_mod.ConfigError as exc:
                render.notice(f"the config has errors; judging with the presets alone:\n{exc}")
        try:
            backend = backends.get(args.backend) or config_mod.builtin_backend(args.backend)
        except KeyError:
            known = sorted(set(backends) | set(config_mod.PRESETS))
            raise UserError(f"unknown backend '{args.backend}' "
                            f"(known: {', '.join(known)})") from None
        try:  # capped and non-blocking, as every file we read
            screen = filetrust.read_capped(args.screen).decode("utf-8", "replace")
        except (OSError, filetrust.Untrusted) as exc:
            raise UserError(f"--screen {args.screen}: {exc}") from None
        result = explain.explain_screen(screen, backend, now)
    else:
        if not args.name:
            raise UsageError("give an agent NAME, or --backend B --screen FILE")
        config = load(args, env=False)
        result = explain_agent(config, agent_named(config, args.name))
    if args.json:
        render.json_document(result.to_json())
    else:
        render.explanation(render.console(), result)


def explain_agent(config: Config, agent: Agent) -> Explanation:
    """What `explain NAME` shows: the agent's screen now, judged, and the watchdog's last
    verdict on it; for an agent with no running screen, its state and what brings it
    back (core/explain.not_running)."""
    import time
    from datetime import datetime

    from agent_orchestrator.cli.status import agent_state
    from agent_orchestrator.core import explain
    from agent_orchestrator.doors import markers, memorystore

    memory, _ = memorystore.load_memory(config, quarantine=False)
    mem = memory.agent(agent.name)
    # No running screen (stopped, exited, crash-looping, ...): say so in status's words
    # rather than judge a dead pane or fail on a missing one.
    snap = tmux(config).snapshot()
    state, detail = agent_state(
        agent, snap.pane(agent.session), mem, agent.name in markers.stopped_agents(config),
        snap.server_running, time.monotonic(),
        agent.kind == "loop" and memory.loop.sequence_complete)
    down = explain.not_running(state, detail, config.backend(agent.backend), agent.name)
    if down is not None:
        return down
    screen = tmux(config).capture(agent.session)
    idle = max(time.monotonic() - mem.active_at, 0.0) if mem.active_at is not None else None
    judged = None if mem.state is None else {
        "state": mem.state, "source": mem.state_source,
        "age_s": round(max(time.monotonic() - mem.looked_at, 0.0), 1)
        if mem.looked_at is not None else None}
    return explain.explain_screen(screen, config.backend(agent.backend),
                                  datetime.now().astimezone(), agent.name, idle, judged)


STATUS = Verb(
    "status", "show every agent: kind, backend, model, watch mode, state",
    "agents status --config ~/proj/agents.toml\n"
    "  agents status builder --json   # one agent in detail: pid, CPU, events, screen\n"
    "  agents status --json | jq '.agents[] | select(.state == \"crash-looping\")'",
    _build_status, run_status)
EVENTS = Verb(
    "events", "the watchdog's decisions and the operator's actions (time, agent, event, "
    "reason), optionally followed",
    "agents events --since 8h          # what happened overnight\n"
    "  agents events -f --agent builder   # its last 10, then follow it live\n"
    "  agents events -n 20 --json         # the last 20 as JSON lines",
    _build_events, run_events)
EXPLAIN = Verb(
    "explain", "show which state the watchdog sees on an agent's screen, and why",
    "agents explain builder --json\n"
    "  agents explain --backend codex --screen saved-screen.txt",
    _build_explain, run_explain)

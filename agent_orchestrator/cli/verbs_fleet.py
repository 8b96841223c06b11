"""The verbs that start and stop things: `agents up`, `agents down`, `agents restart`,
`agents watchdog`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import Verb, load, no_arguments, refuse_unstartable, tmux

if TYPE_CHECKING:
    from agent_orchestrator.config import Config
    from agent_orchestrator.runtime.fleet import Outcome


def _names(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="agents or services")


def run_up(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import doctor, render
    from agent_orchestrator.runtime import fleet

    config = load(args, strict=True)
    refuse_unstartable(config)
    out, server = render.console(), tmux(config)
    render.doctor(out, [c for c in doctor.check_fd_limits(config, server) if c.status == "warn"])
    results = fleet.up(config, server, args.names)
    record(config, results, kind="up")
    render.outcomes(out, results)
    return 0


def run_down(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.runtime import fleet

    config = load(args, env=False)
    results = fleet.down(config, tmux(config), args.names)
    record(config, results, kind="down")
    render.outcomes(render.console(), results)
    return 0


def record(config: Config, results: Sequence[Outcome], kind: str) -> None:
    """The operator's `up` or `down` as events (with the pid and user that ran it): one per
    agent or service it acted on; the watchdog's and leftover sessions' are fleet-wide."""
    from agent_orchestrator.runtime import fleet

    names = {a.name for a in config.agents} | {s.name for s in config.services}
    for result in results:
        what = result.action + (f" ({result.detail})" if result.detail else "")
        if result.name in names:
            fleet.operator_event(config, result.name, kind, what)
        else:
            fleet.operator_event(config, None, kind, f"{result.session}: {what}")


def _restart_names(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME", help="agents or services")


def run_restart(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.runtime import fleet

    config = load(args, strict=True)
    refuse_unstartable(config)  # as `up` does: a fleet that cannot start is not restarted
    render.outcomes(render.console(), fleet.restart(config, tmux(config), args.names))
    return 0


def run_watchdog(args: argparse.Namespace) -> int:
    from agent_orchestrator.runtime import watchdog

    watchdog.run(load(args, env=False, strict=True))
    return 0


UP = Verb(
    "up", "start agents, services and the watchdog (running sessions are left alone)",
    "agents up                 # every enabled agent, services and the watchdog\n"
    "  agents up builder         # just one agent (and the watchdog)\n"
    "  agents up watchdog        # the supervisor alone",
    _names, run_up, starts_fleet=True)
DOWN = Verb(
    "down", "stop agents and services (all of them and the watchdog when none are named)",
    "agents down               # everything, the watchdog included\n"
    "  agents down builder       # stop one agent; the watchdog will not heal it\n"
    "  agents down watchdog      # the supervisor alone; the agents keep running",
    _names, run_down)
WATCHDOG = Verb(
    "watchdog", "run the supervisor loop in the foreground",
    "agents watchdog           # normally started by `agents up` in its own session",
    no_arguments, run_watchdog, starts_fleet=True)
RESTART = Verb(
    "restart", "stop and start agents or services: a new run, its clocks and counters fresh",
    "agents restart builder    # the watchdog starts its idle clock and back-off over\n"
    "  agents restart a b\n"
    "like `up` it refuses a config with errors (it starts sessions: not from an old copy)\n"
    "and a fleet that cannot start (a program not found, a missing dir: see `agents check`)",
    _restart_names, run_restart, starts_fleet=True)

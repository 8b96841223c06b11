"""The verbs that start and stop things: `agents up`, `agents down`, `agents restart`,
`agents watchdog`."""

from __future__ import annotations

import argparse

from agent_orchestrator.cli.verb import Verb, load, no_arguments, refuse_unstartable, tmux


def _names(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="agents or services")


def run_up(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import doctor, render
    from agent_orchestrator.runtime import fleet

    config = load(args, strict=True)
    refuse_unstartable(config)
    out, server = render.console(), tmux(config)
    render.doctor(out, [c for c in doctor.check_fd_limits(config, server) if c.status == "warn"])
    render.outcomes(out, fleet.up(config, server, args.names))
    return 0


def run_down(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.runtime import fleet

    config = load(args, env=False)
    render.outcomes(render.console(), fleet.down(config, tmux(config), args.names))
    return 0


def _restart_names(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME", help="agents or services")


def run_restart(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.runtime import fleet

    config = load(args, strict=True)
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
    "  agents restart a b",
    _restart_names, run_restart)

"""The loop's verb: `agents phase` shows the phases or moves the loop to another one."""

from __future__ import annotations

import argparse

from agent_orchestrator.cli.verb import UsageError, UserError, Verb, load


def _build_phase(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("show", "set", "next"), default="show")
    parser.add_argument("index", nargs="?", metavar="N", help="for set: the 0-based phase")


def run_phase(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.core import phases
    from agent_orchestrator.doors import markers, memorystore

    if args.action == "set" and args.index is None:
        raise UsageError("usage: agents phase set N (0-based)")
    if args.action != "set" and args.index is not None:
        raise UsageError(f"`phase {args.action}` takes no N")
    config = load(args, env=False)
    loop = config.loop
    if loop is None or not loop.phases:
        raise UserError("the config has no [loop] phases")
    current = markers.phase_index(config)
    if args.action == "show":
        render.phases(loop.phases, current)
        memory, _ = memorystore.load_memory(config, quarantine=False)
        if memory.loop.sequence_complete:
            render.sequence_complete()
        return 0
    if args.action == "set":
        try:
            target = phases.validate_target(args.index, len(loop.phases))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        if current + 1 >= len(loop.phases):
            raise UserError(f"already at the last phase ({current}: {loop.phases[current].id})")
        target = current + 1
    markers.ensure_dirs(config)
    markers.write_phase_index(config, target)
    from agent_orchestrator.runtime.fleet import operator_event

    operator_event(config, None, "phase-set", f"`phase {args.action}`: phase {target} "
                   f"{loop.phases[target].id} (was {current})")
    render.phase_moved(target, loop.phases[target])
    return 0


PHASE = Verb(
    "phase", "show or move the loop's phase (the loop agents restart on a new one)",
    "agents phase             # which phase, and whether its status says DONE\n"
    "  agents phase set 0       # back to the first phase (0-based)\n"
    "  agents phase next",
    _build_phase, run_phase)

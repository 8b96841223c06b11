"""The loop's verb: `agents phase` shows the phases or moves the loop to another one."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import UsageError, UserError, Verb, load

if TYPE_CHECKING:
    from agent_orchestrator.config import Config


def _build_phase(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("show", "set", "next"), default="show")
    parser.add_argument("index", nargs="?", metavar="N", help="for set: the 0-based phase")
    parser.add_argument("--json", action="store_true",
                        help="show: the phases, the current one and whether it is complete")


def run_phase(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.core import phases
    from agent_orchestrator.doors import markers

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
        shown = phase_show(config)
        if args.json:
            render.json_document(shown)
            return 0
        render.phases(loop.phases, current)
        if shown["sequence_complete"]:
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
    phase_set(config, target)
    render.phase_moved(target, loop.phases[target])
    return 0


def phase_show(config: Config) -> dict[str, object]:
    """`phase show --json`: {`current` (0-based), `sequence_complete`, `phases`: each
    {`index`, `id`, `status`, `plan`, `models`}}. A UserError without [loop] phases."""
    from agent_orchestrator.doors import markers, memorystore

    if config.loop is None or not config.loop.phases:
        raise UserError("the config has no [loop] phases")
    memory, _ = memorystore.load_memory(config, quarantine=False)
    return {"current": markers.phase_index(config),
            "sequence_complete": memory.loop.sequence_complete,
            "phases": [{"index": n, "id": p.id, "status": p.status, "plan": p.plan,
                        "models": dict(p.models)} for n, p in enumerate(config.loop.phases)]}


def phase_set(config: Config, target: int) -> None:
    """Move the loop to phase `target` (checked by the caller); the watchdog restarts the
    loop agents on it. A `phase-set` event names the operator."""
    from agent_orchestrator.doors import markers
    from agent_orchestrator.runtime.fleet import operator_event

    assert config.loop is not None
    was = markers.phase_index(config)
    markers.ensure_dirs(config)
    markers.write_phase_index(config, target)
    operator_event(config, None, "phase-set",
                   f"phase {target} {config.loop.phases[target].id} (was {was})")


PHASE = Verb(
    "phase", "show or move the loop's phase (the loop agents restart on a new one)",
    "agents phase             # which phase, and whether its status says DONE\n"
    "  agents phase show --json # the same as data (what the MCP tool phase_show returns)\n"
    "  agents phase set 0       # back to the first phase (0-based)\n"
    "  agents phase next",
    _build_phase, run_phase)

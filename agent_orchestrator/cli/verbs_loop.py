"""The loop's verb: `agents phase` shows the phases, each status file's state, or moves the
loop to another phase. Phases are numbered from 1 here as in the status header and the
events; the phase file keeps the original tool's 0-based index."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agent_orchestrator.cli.verb import UsageError, UserError, Verb, load

if TYPE_CHECKING:
    from agent_orchestrator.config import Config


def _build_phase(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("show", "set", "next"), default="show")
    parser.add_argument("number", nargs="?", metavar="N",
                        help="for set: the phase, numbered from 1 (as in `agents status`)")


def status_states(config: Config) -> tuple[list[str], str]:
    """Each phase's status file state (core/phases.status_state) and where it was read:
    with a handoff repo the file as pushed to origin/main at its last fetch (what the
    watchdog judges; nothing is fetched here), else the project's own file."""
    from agent_orchestrator.core import phases
    from agent_orchestrator.doors import gitrelay

    loop = config.loop
    assert loop is not None
    if loop.handoff is None:
        states = []
        for phase in loop.phases:
            try:
                text: str | None = (config.project_dir / phase.status).read_text("utf-8")
            except OSError:
                text = None
            states.append(phases.status_state(text, loop.done_marker))
        return states, "the project's files"
    git = gitrelay.Git(loop.handoff.repo)
    try:
        return [phases.status_state(gitrelay.status_text(git, loop.handoff, phase.status),
                                    loop.done_marker) for phase in loop.phases], \
            f"origin/main of {loop.handoff.repo} (as last fetched)"
    except (gitrelay.GitError, ValueError) as exc:
        return ["unknown"] * len(loop.phases), f"unreadable: {exc}"


def run_phase(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.core import phases
    from agent_orchestrator.doors import markers, memorystore

    if args.action == "set" and args.number is None:
        raise UsageError("usage: agents phase set N (numbered from 1)")
    if args.action != "set" and args.number is not None:
        raise UsageError(f"`phase {args.action}` takes no N")
    config = load(args, env=False)
    loop = config.loop
    if loop is None or not loop.phases:
        raise UserError("the config has no [loop] phases")
    current = markers.phase_index(config)
    memory, _ = memorystore.load_memory(config, quarantine=False)
    complete = memory.loop.sequence_complete
    if args.action == "show":
        states, source = status_states(config)
        render.phases(loop.phases, current, states, source)
        if complete:
            render.sequence_complete()
        return 0
    if args.action == "set":
        try:
            target = phases.validate_target(args.number, len(loop.phases))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        if current + 1 >= len(loop.phases):
            raise UserError(f"already at the last phase ({current + 1}: "
                            f"{loop.phases[current].id})")
        target = current + 1
    if complete and target == current:
        # The watchdog tells a move by the phase file changing: the same number is none.
        raise UserError(f"the sequence completed on phase {current + 1} "
                        f"({loop.phases[current].id}): to run the loop again, set an "
                        "earlier phase (its status file must not say DONE yet)")
    markers.ensure_dirs(config)
    markers.write_phase_index(config, target)
    render.phase_moved(target, len(loop.phases), loop.phases[target], reopened=complete)
    return 0


PHASE = Verb(
    "phase", "show the loop's phases (numbered from 1, as in `agents status` and the "
    "events) and their status files, or move the loop to another",
    "agents phase             # each phase, → the current one, its status file: DONE, "
    "not yet, missing\n"
    "  agents phase set 1       # back to the first phase; after the sequence completed it\n"
    "                           # runs again from there\n"
    "  agents phase next",
    _build_phase, run_phase)

"""The loop's verb: `agents phase` shows the phases, each status file's state, or moves the
loop to another phase. Phases are numbered from 1 here, as in the status header, the events
and the MCP tools; the phase file keeps the original tool's 0-based index."""

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
    parser.add_argument("--json", action="store_true",
                        help="show: the phases, the current one and whether it is complete")


def run_phase(args: argparse.Namespace) -> int:
    from agent_orchestrator.cli import render
    from agent_orchestrator.doors import markers

    if args.action == "set" and args.number is None:
        raise UsageError("usage: agents phase set N (numbered from 1)")
    if args.action != "set" and args.number is not None:
        raise UsageError(f"`phase {args.action}` takes no N")
    config = load(args, env=False)
    loop = config.loop
    if loop is None or not loop.phases:
        raise UserError("the config has no [loop] phases")
    if args.action == "show":
        shown = phase_show(config)
        if args.json:
            render.json_document(shown)
            return 0
        render.phases(loop.phases, markers.phase_index(config),
                      [str(p["state"]) for p in shown["phases"]],  # type: ignore[attr-defined]
                      str(shown["status_files"]))
        if shown["sequence_complete"]:
            render.sequence_complete()
        return 0
    if args.action == "set":
        target = parse_target(config, args.number)
    else:
        current = markers.phase_index(config)
        if current + 1 >= len(loop.phases):
            raise UserError(f"already at the last phase ({current + 1}: "
                            f"{loop.phases[current].id})")
        target = current + 1
    reopened = phase_set(config, target)
    render.phase_moved(target, len(loop.phases), loop.phases[target], reopened=reopened)
    return 0


def parse_target(config: Config, number: str) -> int:
    """The 0-based index of the phase the operator numbered `number` (from 1); a
    UsageError saying the valid numbers otherwise."""
    from agent_orchestrator.core import phases

    count = len(config.loop.phases) if config.loop else 0
    if not count:
        raise UserError("the config has no [loop] phases")
    try:
        return phases.validate_target(number, count)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def status_states(config: Config) -> tuple[list[str], str]:
    """Each phase's status file state (core/phases.status_state) and where it was read:
    with a handoff repo the file as pushed to origin/main at its last fetch (what the
    watchdog judges; nothing is fetched here), else the project's own file."""
    from agent_orchestrator.core import phases
    from agent_orchestrator.doors import gitrelay
    from agent_orchestrator.runtime import observe

    loop = config.loop
    assert loop is not None
    if loop.handoff is None:
        states = []
        for phase in loop.phases:
            text, problem = observe.read_status(config.project_dir / phase.status)
            states.append("unreadable" if problem else
                          phases.status_state(text, loop.done_marker))
        return states, "the project's files"
    git = gitrelay.Git(loop.handoff.repo)
    try:
        return [phases.status_state(gitrelay.status_text(git, loop.handoff, phase.status),
                                    loop.done_marker) for phase in loop.phases], \
            f"origin/main of {loop.handoff.repo} (as last fetched)"
    except (gitrelay.GitError, ValueError) as exc:
        return ["unknown"] * len(loop.phases), f"unreadable: {exc}"


def phase_show(config: Config) -> dict[str, object]:
    """`phase show --json` (and the MCP tool): {`current` (numbered from 1),
    `sequence_complete`, `status_files` (where the states were read), `phases`: each
    {`number`, `id`, `status`, `state` (DONE, not yet, missing, unreadable), `plan`,
    `models`}}.
    A UserError without [loop] phases."""
    from agent_orchestrator.doors import markers, memorystore

    if config.loop is None or not config.loop.phases:
        raise UserError("the config has no [loop] phases")
    memory, _ = memorystore.load_memory(config, quarantine=False)
    states, source = status_states(config)
    return {"current": markers.phase_index(config) + 1,
            "sequence_complete": memory.loop.sequence_complete,
            "status_files": source,
            "phases": [{"number": n + 1, "id": p.id, "status": p.status, "state": state,
                        "plan": p.plan, "models": dict(p.models)}
                       for n, (p, state) in enumerate(zip(config.loop.phases, states,
                                                          strict=True))]}


def phase_set(config: Config, target: int) -> bool:
    """Move the loop to the phase of 0-based index `target` (checked by the caller); the
    watchdog restarts the loop agents on it. A `phase-set` event names the operator. After
    the sequence completed it runs again from there (returns True then), the phase it
    completed on too: the phase file names that one already, so a request file
    (markers.rerun_file) tells the watchdog."""
    from agent_orchestrator.doors import markers, memorystore
    from agent_orchestrator.runtime.fleet import operator_event

    loop = config.loop
    assert loop is not None
    current = markers.phase_index(config)
    complete = memorystore.load_memory(config, quarantine=False)[0].loop.sequence_complete
    markers.ensure_dirs(config)
    if complete and target == current:
        markers.request_rerun(config)
    markers.write_phase_index(config, target)
    total = len(loop.phases)
    operator_event(config, None, "phase-set",
                   f"phase {target + 1}/{total} {loop.phases[target].id} (was {current + 1}"
                   f"/{total}{', the sequence complete' if complete else ''})")
    return complete


PHASE = Verb(
    "phase", "show the loop's phases (numbered from 1, as in `agents status` and the "
    "events) and their status files, or move the loop to another",
    "agents phase             # each phase, → the current one, its status file: DONE, "
    "not yet, missing,\n"
    "                           # unreadable (a FIFO, a folder, a file over 1 MiB)\n"
    "  agents phase show --json # the same as data (what the MCP tool phase_show returns)\n"
    "  agents phase set 1       # back to the first phase; after the sequence completed it\n"
    "                           # runs again from there\n"
    "  agents phase next",
    _build_phase, run_phase)

"""Whether a valid config's fleet can start at all: what `check` and `up` refuse instead of
letting agents crash-loop. Each problem carries the line of the key that names it:

- an enabled agent's backend program is not found (resolved as `doctor` does, on PATH; a
  shell command line that names no program, `cd {dir} && exec mycli`, is not checked);
- an enabled agent's `dir` does not exist;
- a loop phase's `plan` file, or the folder its `status` file goes in, does not exist
  (both under the handoff repo when there is one, else under the project folder).

The first two only for agents on this machine: a `host` agent's `dir` and program are on
that host, which `doctor` checks over ssh; `check` and `up` never connect to a host for this.
"""

from __future__ import annotations

import tomllib

from agent_orchestrator.cli.doctor import program, runs_a_shell
from agent_orchestrator.config import Config
from agent_orchestrator.config.schema import Problem
from agent_orchestrator.config.tomlpos import KeyLines
from agent_orchestrator.core.phases import status_paths


def problems(config: Config) -> list[Problem]:
    """Every reason the fleet of `config` cannot start, in the file's order."""
    text = config.source.decode("utf-8", errors="replace")
    lines = KeyLines(text)
    try:
        raw = tomllib.loads(text).get("agent", [])
    except tomllib.TOMLDecodeError:  # a config built from other bytes: no lines then
        raw = []
    index = {entry.get("name"): i for i, entry in enumerate(raw) if isinstance(entry, dict)}
    found: list[Problem] = []
    for agent in config.agents:
        if not agent.enabled or agent.host is not None:
            continue
        where = ("agent", index.get(agent.name, -1))
        backend = config.backend(agent.backend)
        if program(backend.bin, runs_a_shell(backend)) is None:
            found.append(Problem(lines.line(where + ("backend",)), f"agent.{agent.name}.backend",
                                 f"backend '{backend.name}' runs '{backend.bin}': program not "
                                 "found on PATH"))
        if not agent.dir.is_dir():
            found.append(Problem(lines.line(where + ("dir",)), f"agent.{agent.name}.dir",
                                 f"no such folder: {agent.dir}"))
    loop = config.loop
    if loop is not None:
        base = loop.handoff.repo if loop.handoff else config.project_dir
        for number, phase in enumerate(loop.phases):
            where = ("loop", "phases", number)
            if phase.plan and not (base / phase.plan).exists():
                found.append(Problem(lines.line(where + ("plan",)), f"loop.phases.{phase.id}.plan",
                                     f"no such file: {base / phase.plan}"))
            paths = status_paths(loop.handoff, phase.status) if loop.handoff else [phase.status]
            folders = [(base / p).parent for p in paths]
            if not any(folder.is_dir() for folder in folders):
                found.append(Problem(lines.line(where + ("status",)),
                                     f"loop.phases.{phase.id}.status",
                                     f"no folder for the status file: {folders[0]}"))
    return sorted(found, key=lambda p: p.line or 0)


def render(config: Config, found: list[Problem]) -> str:
    """The problems as `FILE:LINE: key: message` lines, after a heading."""
    return "the fleet cannot start:\n" + "\n".join(p.render(str(config.path)) for p in found)

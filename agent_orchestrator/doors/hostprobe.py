"""What a host offers a fleet, asked in ONE ssh call: tmux's version, whether our package (for
the boot step) and the agents' programs are there, and how far its clock is from ours.

The clock matters because a usage limit's reset time ("resets 3pm") is read on the screen of
an agent on that host: a host whose clock is off by minutes makes a limit hold end early or
late by as much. The offset is estimated from one round trip: the host's reading against the
middle of our before/after readings, so it is good to about half that round trip (given).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from agent_orchestrator.doors.ssh import Connection, SshError

# A fixed script (ours); the host's python and the program names reach it as positional
# arguments, each quoted by the ssh door: nothing of the config is pasted into shell text.
_SCRIPT = r"""
printf 'clock %s\n' "$(date +%s.%N 2>/dev/null)"
printf 'tmux %s\n' "$(tmux -V 2>/dev/null)"
version='import agent_orchestrator as a; print(a.__version__)'
printf 'package %s\n' "$("$1" -c "$version" 2>/dev/null)"
shift
for program in "$@"; do
    if command -v -- "$program" >/dev/null 2>&1; then echo "found $program"
    else echo "missing $program"; fi
done
"""


@dataclass(frozen=True)
class HostReport:
    """One host's answers; `error` set (and the rest empty) when it could not be asked."""

    host: str
    error: str | None = None
    tmux: str | None = None  # `tmux -V` as printed, None when there is no tmux
    package: str | None = None  # agent_orchestrator's version under the host's python
    missing: tuple[str, ...] = ()  # programs not on the host's PATH
    clock_offset: float | None = None  # seconds the host's clock is ahead of ours
    clock_error: float | None = None  # ± seconds of that estimate (half the round trip)


def probe(conn: Connection, python: str, programs: Sequence[str]) -> HostReport:
    """Ask the host behind `conn`; never raises for the host's trouble (it is the report)."""
    name = conn.target.name
    before = time.time()
    try:
        result = conn.run(["sh", "-c", _SCRIPT, "sh", python, *programs])
    except SshError as exc:
        return HostReport(name, error=str(exc))
    after = time.time()
    said = dict(_fields(result.stdout.decode("utf-8", "replace")))
    offset = error = None
    try:
        offset = float(said.get("clock", "")) - (before + after) / 2
        error = (after - before) / 2
    except ValueError:
        pass  # no GNU date there: no estimate
    lines = result.stdout.decode("utf-8", "replace").splitlines()
    return HostReport(
        name, tmux=said.get("tmux") or None, package=said.get("package") or None,
        missing=tuple(line[len("missing "):] for line in lines if line.startswith("missing ")),
        clock_offset=offset, clock_error=error)


def _fields(text: str) -> list[tuple[str, str]]:
    return [(line.split(" ", 1) + [""])[:2] for line in text.splitlines()  # type: ignore[misc]
            if line.startswith(("clock ", "tmux ", "package "))]

"""Find and stop every process an agent left behind.

Killing a tmux session only hangs up the pane's process group. Agents fork helpers that
escape it: Codex starts an app-server daemon in its own session that even survives
`tmux kill-server`. Every agent is started by boot.py with `AGENT_ORCHESTRATOR_TAG=<tag>`
in its environment; children inherit it, so scanning /proc for the tag finds the whole tree,
re-parented daemons included, and nothing else (a process we did not start cannot carry it).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

TAG_VAR = "AGENT_ORCHESTRATOR_TAG"


def launch_tag(socket: str | None, session: str) -> str:
    """The environment tag of one agent session on one tmux server."""
    return f"{socket or 'default'}/{session}"


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (state) on; None when the process is gone. The command
    name (field 2) may hold spaces and parentheses, so the split starts after it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22): with the pid, it names one
    process for good."""
    fields = _stat_fields(pid)
    return fields[19].decode() if fields else None


def tagged(tag: str, prefix: bool = False) -> list[tuple[int, str]]:
    """(pid, start time) of every process of ours whose environment carries `tag` (or,
    with `prefix`, a tag starting with it: `launch_tag(socket, "")` finds a whole server's)."""
    needle = f"{TAG_VAR}={tag}".encode() + (b"" if prefix else b"\0")
    own = {os.getpid(), os.getppid()}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle not in environ.read() + b"\0":
                    continue
        except OSError:  # gone, or not ours to read
            continue
        started = _start_time(int(entry))
        if started is not None:
            found.append((int(entry), started))
    return found


def terminate(processes: Iterable[tuple[int, str]], grace: float = 2.0) -> int:
    """SIGTERM the processes, SIGKILL what is left after `grace` seconds; return how many
    were signalled. A pid whose start time changed was reused by another process and is
    left alone."""
    targets = [(pid, started) for pid, started in processes if _start_time(pid) == started]
    for pid, _ in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = targets
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [(pid, s) for pid, s in alive if _start_time(pid) == s and not _zombie(pid)]
    for pid, _ in alive:
        _signal(pid, signal.SIGKILL)
    return len(targets)


def _zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is None or fields[0] == b"Z"


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass

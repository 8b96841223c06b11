"""Find and stop every process an agent left behind.

Killing a tmux session only hangs up the pane's process group. Agents fork helpers that
escape it: Codex starts an app-server daemon in its own session that even survives
`tmux kill-server`. Every agent is started by boot.py with `AGENT_ORCHESTRATOR_TAG=<tag>`
in its environment; children inherit it, so scanning /proc for the tag finds the whole tree,
re-parented daemons included, and nothing else (a process we did not start cannot carry it).

Each start of a session also carries its own `AGENT_ORCHESTRATOR_LAUNCH=<id>`: right after a
new start, whatever carries the session's tag with ANOTHER launch id is a leftover of an
earlier run (a daemon that outlived its killed session, or the killed tmux server) and is
ended, while the fresh run's processes are spared whatever their timing.

A process can drop the tag, though: a daemon that double-forks, calls setsid and execs
itself with an empty environment (servers do) carries none. So boot.py also makes each
pane's process a child subreaper (`become_subreaper`, kept across its exec of the agent):
orphaned descendants are re-parented to the agent instead of init, and `descendants` of
the pane's pid finds them by parentage, which no process can leave. `stop` kills the union
of both. What outlives the agent itself (init adopts it) is held by the run's cgroup v2
where the machine allows one (doors/cgroups.py). The cost of the subreaper: an agent that
never reaps children it did not start keeps their zombies until it exits.

Our tmux clients run WITHOUT these variables (`untagged`): a tmux server started by a tagged
process (the watchdog recreating a killed server) would otherwise carry the watchdog's tag,
and every pane's environment with it, and stopping the watchdog would kill the server.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Iterable, Mapping

TAG_VAR = "AGENT_ORCHESTRATOR_TAG"
LAUNCH_VAR = "AGENT_ORCHESTRATOR_LAUNCH"


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


def usage(pids: Iterable[int], interval: float = 0.25) -> tuple[float, int, int]:
    """(CPU % over `interval` seconds, resident bytes, process count) of the processes
    `pids` that are alive; 100 % is one core busy."""
    return usage_each({"": pids}, interval)[""]


def usage_each(groups: Mapping[str, Iterable[int]], interval: float = 0.25
               ) -> dict[str, tuple[float, int, int]]:
    """`usage` of each group of pids, all measured over the same `interval` (one wait)."""
    def sample(pids: list[int]) -> dict[int, tuple[int, int]]:
        out = {}
        for pid in pids:
            fields = _stat_fields(pid)
            if fields is not None and fields[0] != b"Z":
                # utime + stime (fields 14, 15) and rss in pages (field 24)
                out[pid] = (int(fields[11]) + int(fields[12]), int(fields[21]))
        return out
    lists = {key: list(pids) for key, pids in groups.items()}
    before = {key: sample(pids) for key, pids in lists.items()}
    if lists:
        time.sleep(interval)
    result = {}
    for key, pids in lists.items():
        after, first = sample(pids), before[key]
        ticks = sum(t - first[pid][0] for pid, (t, _) in after.items() if pid in first)
        cpu = 100.0 * ticks / os.sysconf("SC_CLK_TCK") / interval
        rss = sum(pages for _, pages in after.values()) * os.sysconf("SC_PAGE_SIZE")
        result[key] = (round(cpu, 1), rss, len(after))
    return result


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 is never delivered)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def untagged(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without our tag variables (for tmux clients, see the module docstring)."""
    return {k: v for k, v in env.items() if k not in (TAG_VAR, LAUNCH_VAR)}


def tagged(tag: str, prefix: bool = False,
           other_than: str | None = None) -> list[tuple[int, str]]:
    """(pid, start time) of every process of ours whose environment carries `tag` (or,
    with `prefix`, a tag starting with it: `launch_tag(socket, "")` finds a whole server's);
    with `other_than`, leaving out those of that launch id."""
    needle = f"{TAG_VAR}={tag}".encode() + (b"" if prefix else b"\0")
    spared = f"\0{LAUNCH_VAR}={other_than}\0".encode() if other_than else None
    own = {os.getpid(), os.getppid()}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in own:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                text = b"\0" + environ.read() + b"\0"
            if b"\0" + needle not in text or (spared is not None and spared in text):
                continue
        except OSError:  # gone, or not ours to read
            continue
        started = _start_time(int(entry))
        if started is not None:
            found.append((int(entry), started))
    return found


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper() -> bool:
    """Make this process (and the program it execs) the reaper of its orphaned
    descendants; False where the kernel refuses (not Linux ≥ 3.4)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent(pid: int) -> int | None:
    """The parent pid of `pid` (None when it is gone); a pane's parent is its tmux server."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def descendants(root: int) -> list[tuple[int, str]]:
    """(pid, start time) of `root` and every process below it, by parent pid (field 4)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
            started[int(entry)] = fields[19].decode()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in started:
            found.append((pid, started[pid]))
        todo += children.get(pid, [])
    return found


def process(pid: int) -> list[tuple[int, str]]:
    """[(pid, start time)] of a live process, for `terminate`; [] when it is gone."""
    started = _start_time(pid)
    return [] if started is None else [(pid, started)]


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

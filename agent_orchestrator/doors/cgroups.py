"""A cgroup v2 per agent run, where the machine lets us make one: the mechanism a process
cannot leave. A daemon may double-fork, call setsid, drop its environment (our tag) and
outlive the pane whose subreaper it was, but it stays in the cgroup its agent was started
in, and killing that cgroup ends it (`cgroup.kill`, Linux ≥ 5.14; before that, each pid in
`cgroup.procs` until none is left).

The pane's first process (runtime/boot.py) joins a new cgroup below its own one, named
`ao-<server key>-<session key>-<launch id>` (`run_name`), in a folder `agent-orchestrator`,
and records its path in the fleet's runtime folder (launch.py reads it to stop the run).
Where cgroup v2 is not mounted, or the cgroup we are in is not ours to write (a systemd
scope without delegation), nothing is made and the subreaper and the tag remain
(doors/proctree.py). The watchdog's own session gets none, and a tmux server we start
from inside a run (a lead agent calling `agents up`) is moved out of it first (`leaving`):
killing a run must never kill the fleet's tmux server.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

FOLDER = "agent-orchestrator"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _prefix(socket: str | None, session: str | None = None) -> str:
    """The names of one tmux server's runs (`ao-<server>-`), or of one session's there."""
    server = f"ao-{_key(socket or 'default')}-"
    return server if session is None else f"{server}{_key(session)}-"


def run_name(socket: str | None, session: str, launch_id: str) -> str:
    """The cgroup name of the run `launch_id` of `session` on the tmux server `socket`."""
    return _prefix(socket, session) + launch_id


def _mount() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (unified or hybrid), None without one."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                fields = line.split()
                if " - " in line and fields[fields.index("-") + 1] == "cgroup2":
                    return Path(fields[4])
    except OSError:
        pass
    return None


def own() -> Path | None:
    """This process's cgroup v2 folder, None when there is none to read."""
    mount = _mount()
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    if mount is None or path is None or not path.startswith("/"):
        return None
    folder = mount / path.lstrip("/")
    return folder if folder.is_dir() else None


def join(name: str) -> Path | None:
    """Move this process into a new cgroup `name` (`run_name`) below its own one; its path,
    or None where the machine does not allow it (nothing is left behind then)."""
    base = own()
    if base is None or not (base / "cgroup.procs").is_file():
        return None
    group = base / FOLDER / name
    try:
        group.mkdir(parents=True, exist_ok=True)
        # Never created by us (no O_CREAT): only a real cgroup folder has this file.
        fd = os.open(group / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0")  # 0: the writer itself
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            group.rmdir()
        return None
    return group


def leaving(also: Callable[[], None] | None = None) -> Callable[[], None] | None:
    """A `preexec_fn` that runs `also` and moves the child out of the agent run's cgroup
    this process is in (back to the cgroup the run was made below); `also` alone when it
    is in none. For a tmux client that may start a server: a server started inside an
    agent's run would be killed with that run, and every session with it."""
    group = own()
    if group is None or group.parent.name != FOLDER or not group.name.startswith("ao-"):
        return also
    procs = os.fsencode(group.parent.parent / "cgroup.procs")

    def leave() -> None:
        if also is not None:
            also()
        with contextlib.suppress(OSError):
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
    return leave


def record(path: Path, group: Path) -> None:
    """Write down (0600) which cgroup a run of a session is in, for `end_runs`."""
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as out:
        out.write(str(group))
    os.replace(temp, path)


def end_runs(recorded: Path, socket: str | None, session: str,
             but: str | None = None) -> int:
    """Kill the cgroups of `session`'s runs on the server `socket` (all but the run `but`):
    those beside the one written down in `recorded` (a session's runs sit in one folder).
    Returns how many processes they held; 0 when none was ever made."""
    try:
        folder = Path(recorded.read_text(encoding="utf-8", errors="surrogateescape")).parent
    except OSError:
        return 0
    spared = None if but is None else run_name(socket, session, but)
    return _end(folder, _prefix(socket, session), spared)


def end_server(folder: Path, socket: str | None) -> int:
    """Kill every run's cgroup of the tmux server `socket` in `folder` (a test's server
    ends with all its runs, those of sessions long gone included)."""
    return _end(folder, _prefix(socket), None)


def _end(folder: Path, prefix: str, spared: str | None) -> int:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    return sum(kill(entry) for entry in entries
               if entry.name.startswith(prefix) and entry.name != spared)


def kill(group: Path, wait: float = 2.0) -> int:
    """SIGKILL every process in `group`, then remove it; returns how many were there.
    A group that is gone already counts 0."""
    procs = group / "cgroup.procs"
    try:
        count = len(procs.read_text().split())
    except OSError:
        return 0
    if count:
        try:
            (group / "cgroup.kill").write_text("1")
        except OSError:  # before Linux 5.14: one by one, until no pid is left
            for _ in range(20):
                pids = _pids(procs)
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while True:  # rmdir is refused while a killed process is still being torn down
        try:
            group.rmdir()
            return count
        except FileNotFoundError:
            return count
        except OSError:
            if time.monotonic() > deadline:
                return count
            time.sleep(0.02)


def _pids(procs: Path) -> list[int]:
    try:
        return [int(word) for word in procs.read_text().split()]
    except (OSError, ValueError):
        return []

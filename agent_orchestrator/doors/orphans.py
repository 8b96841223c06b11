"""What a watchdog killed outright (SIGKILL, OOM) leaves behind: cleaned at the next start.

- Verify scratch (gitrelay.run_at): `$TMPDIR/ao-verify-<pid>-XXXX`, whose `tree` is a
  worktree registered in the handoff clone. Its writer's pid is in its name, so a folder
  whose writer is gone is debris (a pid reused since only keeps it a while longer: the
  conservative side); the gate's commands still running in it (found by their working
  folder) are killed, the worktree is removed and pruned, the folder deleted.
- Control clients (tmuxcontrol.py): a `tmux -C attach-session` (or `new-session`: in a
  session of its own) client of our server whose parent is no longer a watchdog.
  `die_with_parent` (a `preexec_fn`) makes a new client
  get SIGTERM when the thread that started it (the watchdog's main thread) dies, so this
  clean-up only meets clients of versions without it, or of a kill that raced their start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from agent_orchestrator.doors import proctree
from agent_orchestrator.doors.gitrelay import SCRATCH_PREFIX, Git

if TYPE_CHECKING:  # the type only: doors/tmux.py imports `die_with_parent` from here
    from agent_orchestrator.doors.tmux import Tmux

_PR_SET_PDEATHSIG = 1
_SCRATCH_RE = re.compile(re.escape(SCRATCH_PREFIX) + r"(\d+)-[^/]+")
try:  # looked up here, not in the forked child, where as little as possible must run
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def die_with_parent() -> None:
    """`preexec_fn`: SIGTERM this child when its parent thread ends (Linux prctl)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _dead_scratch(folder: Path) -> bool:
    """A verify scratch folder of ours (a real folder, not a link) whose writer is gone."""
    found = _SCRATCH_RE.fullmatch(folder.name)
    if found is None or int(found.group(1)) == os.getpid() or \
            proctree.alive(int(found.group(1))):
        return False
    try:
        info = folder.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()


def _kill_inside(folder: Path) -> None:
    """SIGKILL the processes working in `folder` (a dead gate's commands)."""
    inside = str(folder)
    for pid in _pids():
        with contextlib.suppress(OSError):
            cwd = os.readlink(f"/proc/{pid}/cwd")
            if (cwd == inside or cwd.startswith(inside + "/")) and pid != os.getpid():
                os.kill(pid, signal.SIGKILL)


def verify_debris(git: Git | None) -> list[Path]:
    """Remove the verify scratch folders (and, with `git`, their registered worktrees in its
    repository) of watchdogs that are gone; returns the folders removed. A task's gate
    (doors/worktrees.py) leaves only a folder: no `git` is needed for it."""
    root = Path(os.path.realpath(tempfile.gettempdir()))
    found = {entry for entry in root.glob(f"{SCRATCH_PREFIX}*") if _dead_scratch(entry)}
    if git is None:
        for scratch in sorted(found):
            _kill_inside(scratch)
            shutil.rmtree(scratch, ignore_errors=True)
        return sorted(found)
    with contextlib.suppress(OSError):  # a worktree git still lists, its folder gone or not
        found |= {Path(p).parent for p in git.worktrees()
                  if Path(p).name == "tree" and Path(p).parent.parent == root
                  and _SCRATCH_RE.fullmatch(Path(p).parent.name)
                  and not proctree.alive(int(_SCRATCH_RE.fullmatch(Path(p).parent.name)[1]))}
    for scratch in sorted(found):
        _kill_inside(scratch)
        git.remove_worktree(scratch / "tree")
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(found)


def control_orphans(tmux: Tmux) -> list[int]:
    """SIGTERM the control-mode clients of `tmux`'s server whose parent is not a watchdog
    (their watchdog was killed); returns their pids. Local servers only: a remote one's
    client is an ssh process, which `die_with_parent` ends with its watchdog."""
    if getattr(tmux, "remote", None) is not None:
        return []
    server = ["-S", tmux.socket_path] if tmux.socket_path else \
        ["-L", tmux.socket_name] if tmux.socket_name else []
    ended = []
    for pid in _pids():
        argv = [a.decode("utf-8", "surrogateescape")
                for a in _read(f"/proc/{pid}/cmdline").split(b"\0")[:-1]]
        if not argv or Path(argv[0]).name != "tmux" or argv[1:1 + len(server)] != server or \
                "-C" not in argv or not {"attach-session", "new-session"} & set(argv) or \
                "ignore-size,no-output" not in argv:
            continue
        parent = _parent(pid)
        if parent is None or parent == os.getpid() or b"watchdog" in \
                _read(f"/proc/{parent}/cmdline").split(b"\0"):
            continue
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
            ended.append(pid)
    return ended


def _parent(pid: int) -> int | None:
    stat_line = _read(f"/proc/{pid}/stat")
    fields = stat_line[stat_line.rfind(b")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else None

"""The fleet's private runtime folder: where the small files a (re)start needs are written.

A start writes a launch spec (read and deleted by boot.py) and the kickoff prompt. Were
they under `log_dir`, a full log disk would stop every restart: healing would depend on
free space where logs grow. So they go to a folder in memory, one per fleet (named by a
hash of its `log_dir`), 0700 inside a 0700 folder of ours:

- `$XDG_RUNTIME_DIR/agent-orchestrator/<fleet>` when XDG_RUNTIME_DIR is a folder owned by
  us that no one else can enter (systemd's /run/user/UID);
- else `/dev/shm/agent-orchestrator-UID/<fleet>` (or under /tmp when there is no
  /dev/shm): a world-writable sticky folder, so ours is created with mkdir (never
  following a symlink) and used only when it is a real folder, ours, mode 0700;
- else (someone else planted that name) `fallback`, the fleet's state folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

from agent_orchestrator.config import Config
from agent_orchestrator.doors.files import private_dir

NAME = "agent-orchestrator"
SHARED = (Path("/dev/shm"), Path("/tmp"))  # without XDG_RUNTIME_DIR: the first that exists


def _ours_and_private(path: Path) -> bool:
    """A real folder (not a symlink), owned by us, that no one else can enter or write."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and info.st_mode & 0o077 == 0)


def _make(path: Path) -> bool:
    """Create `path` 0700 if missing (mkdir never follows a planted symlink); whether it
    is then a private folder of ours."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    return _ours_and_private(path)


def base() -> Path | None:
    """The per-user folder the fleets' runtime folders go in; None when none is safe."""
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg) and _ours_and_private(Path(xdg)):
        folder = Path(xdg) / NAME
    else:
        root = next((r for r in SHARED if r.is_dir()), SHARED[-1])
        folder = root / f"{NAME}-{os.geteuid()}"
    try:
        return folder if _make(folder) else None
    except OSError:
        return None


def of(config: Config) -> Path:
    """The runtime folder of `config`'s fleet (created), its state folder as the fallback."""
    return fleet_dir(config.log_dir, config.state_dir)


def fleet_dir(log_dir: Path, fallback: Path) -> Path:
    """The runtime folder of the fleet whose logs go to `log_dir` (created, 0700), or
    `fallback` (created too) when no private one can be had."""
    root = base()
    if root is not None:
        key = hashlib.sha256(str(log_dir.absolute()).encode("utf-8", "surrogateescape"))
        folder = root / key.hexdigest()[:16]
        with contextlib.suppress(OSError):
            if _make(folder):
                return folder
    return private_dir(fallback)

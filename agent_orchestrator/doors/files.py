"""Files the tool writes: private (folders 0700, files 0600) and, for state, atomic.

Never through a symlink someone planted where a file of ours goes (`open_private`:
O_NOFOLLOW; `write_atomic` renames a new file over the name), and never re-moding a folder
we did not create (`private_dir`): `log_dir` may sit in a shared folder.

Prompts, logs and state may hold secrets of the user's project, so nothing we create is
readable by other users whatever the umask. An atomic write goes to a temporary file in the
same folder, is flushed to disk, then renamed over the target: a crash leaves the old file or
the new one, never half of one. The temporary file's name carries the writer's pid
(`.<name>.<pid>.<random>.tmp`), so after a crash the next watchdog removes the ones whose
writer is gone (`remove_stray_temps`) and never one another process is still writing.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from agent_orchestrator.doors import proctree
from agent_orchestrator.doors.crashpoints import crash_point

_TEMP_RE = re.compile(r"^\.(.+)\.(\d+)\.[A-Za-z0-9_]+\.tmp$")  # see write_atomic


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents 0700 (whatever the umask). A folder that
    already exists is left as it is: it may be a shared one we did not create (its sticky
    bit and everyone else's access are not ours to take; our own folders are tightened by
    `tighten` at start). Returns `path`; raises FileExistsError when it is not a folder."""
    missing = []
    folder = path
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to re-mode
        os.chmod(folder, 0o700)  # ours: the umask may have taken bits off, never added
    if not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder")
    return path


class NotOurFolder(OSError):
    """A folder we create, write and delete in is a symlink, or a folder not ours alone."""


def own_folders(root: Path, path: Path) -> None:
    """Check every part of `path` below `root` (`path` itself too) that already exists: it
    must be a real folder (no symlink) that we own and no one else can write, since we
    make, fill and remove folders in it. A symlink planted there (say `log_dir/worktrees`
    → someone's project) would have us check out, write and `rm -rf` where they chose.
    Raises NotOurFolder naming the folder, what is wrong and the fix."""
    folder = root
    for part in path.relative_to(root).parts:
        folder = folder / part
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            return  # the rest is made by us, private
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            problem = f"is a symlink (to {os.readlink(folder)})"
        elif not stat.S_ISDIR(info.st_mode):
            problem = "is not a folder"
        elif info.st_uid != os.geteuid():
            problem = f"is owned by uid {info.st_uid}, not by you"
        elif mode & (stat.S_IWGRP | stat.S_IWOTH):
            problem = f"can be written by others (mode {mode:04o})"
        else:
            continue
        raise NotOurFolder(f"{folder} {problem}: it holds folders we create, write and "
                           f"remove, so it must be a folder of yours only you can write; "
                           f"remove it (it is made again, private) or move it aside")


def open_private(path: Path, flags: int) -> int:
    """`os.open` for writing a file of ours: created 0600, never through a symlink planted
    at `path` (O_NOFOLLOW: ELOOP instead of writing into someone else's file), and made
    0600 by its fd (a chmod by name would follow a link swapped in meanwhile)."""
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY,
                 0o600)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)
    return fd


def touch_private(path: Path) -> Path:
    """Create `path` empty if missing (never truncating it) and make it 0600."""
    private_dir(path.parent)
    os.close(open_private(path, os.O_WRONLY | os.O_APPEND))
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably, mode 0600."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        crash_point("state-temp-written", path.name)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    crash_point("state-renamed", path.name)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stray_temps(folder: Path, targets: frozenset[str] | None = None) -> list[Path]:
    """Delete the temporary files of `write_atomic` calls that died before their rename,
    i.e. whose writer pid no longer exists (only those for `targets`, file names, when
    given); returns them. A reused pid only means a stray file is kept a while longer: the
    conservative side."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        found = _TEMP_RE.match(entry.name)
        if found is None or not entry.is_file(follow_symlinks=False):
            continue
        if (targets is not None and found.group(1) not in targets) or \
                proctree.alive(int(found.group(2))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def tighten(paths: Iterable[Path]) -> list[Path]:
    """Make each existing file 0600 and each folder 0700 when it is looser (a file left by
    an older version or copied in by hand); symlinks and other users' files are left alone.
    Returns the paths changed."""
    changed = []
    for path in paths:
        try:
            info = path.lstat()
        except OSError:
            continue
        if info.st_uid != os.geteuid() or stat.S_ISLNK(info.st_mode):
            continue
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)) or \
                stat.S_IMODE(info.st_mode) & ~wanted == 0:
            continue
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(info.st_mode) & wanted)
            changed.append(path)
    return changed

"""The watchdog's single-instance lock: `state/watchdog.lock`, a flock, the holder's pid in it.

flock alone decides who runs (a stale file or a pid naming another process means nothing);
a second watchdog exits with `AlreadyRunning.exit_code`, naming the holder's pid.

`session_lock`: one flock per session (`state/session-<name>.lock`), held by the watchdog
around a start and by `agents down` around a stop, so a stop never falls between the
watchdog's look at the `stopped/` marker and its start (T53).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from agent_orchestrator.config import Config
from agent_orchestrator.doors.files import touch_private


class AlreadyRunning(Exception):
    """Another watchdog holds the lock; `pid` is its pid when it could be read."""

    exit_code = 3  # `agents watchdog`'s exit status: a supervisor can tell it from an error

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        super().__init__(f"a watchdog is already running (pid {pid})" if pid else
                         "a watchdog is already running")


def lock_file(config: Config) -> Path:
    return config.state_dir / "watchdog.lock"


def acquire_lock(config: Config) -> TextIO:
    """Take the single-instance lock; keep the returned file open for as long as it is held.

    flock decides, not the file's existence: a lock left by a dead watchdog is free.
    Raises AlreadyRunning.
    """
    path = touch_private(lock_file(config))
    handle = open(path, "r+", encoding="ascii")  # noqa: SIM115 - held for the process life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # The kernel knows the holder even while the file still holds a dead one's pid
        # (the winner of a simultaneous start writes its own a moment after taking it).
        holder = _flock_holder(handle.fileno()) or read_lock_pid(config)
        handle.close()
        raise AlreadyRunning(holder) from None
    # Written in place, then cut: a reader sees the old pid or the new one on line one.
    os.pwrite(handle.fileno(), f"{os.getpid()}\n".encode(), 0)
    os.ftruncate(handle.fileno(), len(f"{os.getpid()}\n"))
    return handle


def _flock_holder(fd: int) -> int | None:
    """The pid holding a flock on the open file `fd`, from /proc/locks (Linux); None when
    it cannot be told."""
    info = os.fstat(fd)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                words = line.split()
                # "1: FLOCK  ADVISORY  WRITE 17267 fe:00:2302371 0 EOF" ("->" marks waiters)
                if len(words) >= 6 and words[1] == "FLOCK" and words[5] == device:
                    return int(words[4]) or None
    except (OSError, ValueError):
        return None
    return None


def read_lock_pid(config: Config) -> int | None:
    try:
        first = lock_file(config).read_text(encoding="ascii").split("\n", 1)[0]
        return int(first.strip() or 0) or None
    except (OSError, ValueError):
        return None


def watchdog_pid(config: Config) -> int | None:
    """The running watchdog's pid, or None when no process holds the lock."""
    path = lock_file(config)
    if not path.exists():
        return None
    with open(path, encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_lock_pid(config)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


@contextlib.contextmanager
def session_lock(config: Config, session: str, wait: bool = True) -> Iterator[bool]:
    """Hold the session's lock for the `with` block; yields whether it is held. With
    `wait=False` (the watchdog, whose loop must not block) it yields False at once while
    another process holds it."""
    try:
        handle = open(touch_private(config.state_dir / f"session-{session}.lock"), "rb")  # noqa: SIM115
    except OSError:  # no state folder to lock in: nothing started there to race with
        yield True
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

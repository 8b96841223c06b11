"""Open-file limits: ours (raised at start, counted before each pidfd) and the tmux server's.

The watchdog holds a pidfd per watched agent; under a low limit (`ulimit -n 64`) opening
one per agent ran out of descriptors (EMFILE) and every later tmux call, log write and git
fetch failed with it. So the soft limit is raised to the hard one at start (`raise_soft`,
capped: a program that closes every descriptor up to its limit at start would crawl
through millions), and pidfds are opened only while `room()` is left above `RESERVE`;
agents beyond are polled.

The tmux server needs two descriptors per pane (its pty, the pipe to the log writer) and
inherits the limit of whoever started it: under a soft limit of 1,024 it failed near 500
agents, and at 256 tmux 3.3a spun at full CPU and hung its clients. `raise_soft` runs
before we start one (doors/tmux.py), and `server_need` is what `doctor` and `up` compare
with the running server's limit (`process_limit`, from /proc/<pid>/limits).
"""

from __future__ import annotations

import os
import resource

RESERVE = 24  # descriptors kept free for tmux calls (3 pipes each), logs, locks, git
SOFT_CAP = 1 << 16  # the most we raise the soft limit to
PER_PANE = 2  # a pane's pty and its pipe-pane to the log writer
WATCHDOG_OWN = 16  # the watchdog's descriptors but pidfds and the reserve
SERVER_MARGIN = 32  # the server's own: clients, its socket, control-mode attachments


def raise_soft(cap: int = SOFT_CAP) -> tuple[int, int]:
    """Raise our soft open-file limit to the hard one (at most `cap`; never lowered);
    return (soft, hard) as they are afterwards. Children (a tmux server) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # e.g. a sandbox that forbids it: keep what we have
            pass
    return soft, hard


def soft_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return SOFT_CAP if soft == resource.RLIM_INFINITY else soft


def open_count() -> int:
    """How many descriptors this process has open."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # less the one listdir itself used
    except OSError:
        return 0


def room() -> int:
    """Descriptors still free for pidfds, the reserve kept."""
    return soft_limit() - open_count() - RESERVE


def watchdog_need(agents: int) -> int:
    """Descriptors the watchdog needs to watch `agents` by pidfd: one each, the reserve,
    and its own (the lock, the event log, watchers, the control client)."""
    return agents + RESERVE + WATCHDOG_OWN


def server_need(agents: int) -> int:
    """Descriptors a tmux server needs for `agents` sessions with logs."""
    return agents * PER_PANE + SERVER_MARGIN


def process_limit(pid: int) -> int | None:
    """The soft open-file limit of process `pid` (None when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/limits", encoding="ascii", errors="replace") as limits:
            for line in limits:
                if line.startswith("Max open files"):
                    soft = line.split()[3]
                    return SOFT_CAP if soft == "unlimited" else int(soft)
    except (OSError, ValueError, IndexError):
        return None
    return None

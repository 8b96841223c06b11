"""Looking at another host's tmux without making the loop wait: one poller thread per host.

A remote tmux call costs a round trip and, when the host is gone, up to the ssh timeout: the
watchdog's loop must not pay either. Each remote host gets a `HostPoller`, a thread that
keeps the host's latest `HostLook` (its snapshot and the screens the loop asked for, stamped
with the monotonic time the look STARTED) and wakes the loop when it changes. The loop reads
`latest()` (no I/O) and so judges every host on what was actually seen there, and when.

The thread looks again every `interval`, at once when poked (a control-mode client over the
same ssh connection pokes it when a session or window closes there, so a death is seen in
one round trip, not one interval; it sits in a session of its own there, as the watchdog's
does here, so an agent's death does not end it and its re-attach never races the restart:
doors/tmuxcontrol.py says why that matters), and, while the host does not answer, with back-off
(BACKOFF_FIRST doubling to BACKOFF_MAX): an unreachable host costs one attempt per back-off
step, never a stalled loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agent_orchestrator.core.observed import Snapshot
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.doors.tmuxcontrol import ControlClient

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0


@dataclass(frozen=True)
class HostLook:
    """One look at a host: `snapshot` and `screens`, or `error` (then both are empty).
    `started` is the monotonic time the look began: nothing that happened after it shows."""

    started: float
    snapshot: Snapshot | None = None
    screens: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class HostPoller:
    """The thread that keeps one host's latest look."""

    def __init__(self, name: str, tmux: Tmux, wake: Callable[[], None],
                 interval: float = 1.0, control: str | None = None,
                 once: bool = False) -> None:
        self.name = name
        self.tmux = tmux
        self.interval = interval
        # The session to keep a control client in there (a verb's one look needs none).
        self.control = control
        self.once = once  # look once and end (a verb): `latest` keeps that look
        self._looked = threading.Event()
        self._wake = wake
        self._lock = threading.Lock()
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._want: frozenset[str] = frozenset()
        self._latest: HostLook | None = None
        self._control: ControlClient | None = None
        self._backoff = 0.0
        self._thread = threading.Thread(target=self._run, name=f"host-{name}", daemon=True)
        self._thread.start()

    def wait_first(self, timeout: float) -> bool:
        """Wait until the first look has ended (at most `timeout` s); whether it has."""
        return self._looked.wait(timeout)

    def latest(self) -> HostLook | None:
        with self._lock:
            return self._latest

    def want(self, sessions: Iterable[str]) -> None:
        """The screens to capture from the next look on (a new want is looked for at once)."""
        wanted = frozenset(sessions)
        with self._lock:
            changed, self._want = wanted - self._want, wanted
        if changed:
            self.poke()

    def poke(self) -> None:
        """Look again now (a session closed there, or the loop acted on this host)."""
        self._poke.set()

    def close(self, keep_control: bool = False) -> None:
        """End the thread and the connection; with `keep_control`, leave the control
        client's session on the host for the poller that replaces this one (killing it
        while that one attaches could crash the host's tmux: doors/tmuxcontrol.py)."""
        self._stop.set()
        self._poke.set()
        self._thread.join(timeout=self.tmux.timeout + 2)
        if self._control is not None:
            self._control.close(keep_own=keep_control)
        if self.tmux.remote is not None:
            self.tmux.remote.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            look = self._look()
            with self._lock:
                before, self._latest = self._latest, look
            self._looked.set()
            if _news(before, look):
                self._wake()
            if self.once:
                return
            if look.error is None:
                self._backoff = 0.0
                self._follow(look)
                pause = self.interval
            else:
                self._backoff = min(BACKOFF_MAX, max(BACKOFF_FIRST, self._backoff * 2))
                pause = self._backoff
            self._poke.wait(pause)
            self._poke.clear()

    def _look(self) -> HostLook:
        started = time.monotonic()
        with self._lock:
            want = self._want
        try:
            snap = self.tmux.snapshot()
            live = sorted(s for s in want if s in snap.panes)
            screens = self.tmux.capture_many(live) if live else {}
        except TmuxError as exc:
            return HostLook(started, error=str(exc))
        return HostLook(started, snap, screens)

    def _follow(self, look: HostLook) -> None:
        """Keep a control client on the host while it has sessions (it hears deaths); never
        the first to start a tmux server there."""
        assert look.snapshot is not None
        if self.control is None:
            return
        if self._control is not None and self._control.alive:
            return
        if not look.snapshot.panes:
            return
        if self._control is not None:
            self._control.close()
        self._control = ControlClient(self.tmux, self.control, self.poke, own=True)


def _news(before: HostLook | None, after: HostLook) -> bool:
    """Whether the loop should look: the host's state changed (not just its look's time)."""
    if before is None:
        return True
    if (before.error is None) != (after.error is None):
        return True
    if after.snapshot is None or before.snapshot is None:
        return False
    return before.snapshot != after.snapshot or before.screens != after.screens

"""Why the watchdog wakes: every reason funnels into one `poll()` between two passes.

- a watched agent's (or a service's) process exited: a pidfd per live pane (the pane's pid
  is the agent, boot.py execs it) — well under a millisecond;
- a session or window closed, or the tmux server went away: a tmux control-mode client
  (`tmuxcontrol.ControlClient`) — a few milliseconds;
- the config file changed: watchfiles, watching the config's FOLDER (editors save by rename);
- a deadline the loop passes in (the light-tick timer, a back-off, a held config edit).
Without a control client (no session to attach to yet), or with panes that got no pidfd (a
low open-file limit, see doors/fdlimit.py), the loop also polls every second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import watchfiles

from agent_orchestrator.config import Config
from agent_orchestrator.core import rules
from agent_orchestrator.core.observed import Observed
from agent_orchestrator.doors import fdlimit
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.doors.tmuxcontrol import ControlClient

log = logging.getLogger(__name__)

FALLBACK_POLL = 1.0  # seconds between snapshots when no control client is attached
LOOK_AGAIN = 0.05  # seconds before the snapshot that picks up a session just started


class Waker:
    """Wake the loop from other threads; wait on that and on pidfds in one `poll()`."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"x")

    def wait(self, timeout: float, fds: list[int]) -> None:
        poller = select.poll()
        for fd in [self._read, *fds]:
            poller.register(fd, select.POLLIN)
        poller.poll(max(timeout, 0) * 1000)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass


@dataclass
class WakeUps:
    """The loop's wake-up sources: the waker, a pidfd per live watched pane, the control
    client. `look_again` asks for another snapshot soon: a session was just started (its
    pid is not watched yet), or a pane's process was gone before its pidfd could be opened."""

    waker: Waker = field(default_factory=Waker)
    pidfds: dict[int, int] = field(default_factory=dict)  # pane pid → pidfd
    control: ControlClient | None = None
    look_again: bool = False
    unwatched: int = 0  # live watched panes without a pidfd: polled every FALLBACK_POLL

    def follow(self, config: Config, tmux: Tmux, observed: Observed) -> None:
        """Keep a pidfd on every live watched pane and a control client attached."""
        # Another host's pane pid is no process here: its deaths come from its poller.
        panes = {s: p for s, p in observed.panes.items() if p.host is None}
        live = {p.pid for p in panes.values() if not p.dead and p.pid > 0} \
            if observed.server_running else set()
        watched_sessions = {a.session for a in rules.watched(config, frozenset())} | {
            s.session for s in config.services}
        wanted = {p.pid for s, p in panes.items() if p.pid in live and s in watched_sessions}
        for pid in set(self.pidfds) - wanted:
            os.close(self.pidfds.pop(pid))
        missing = wanted - set(self.pidfds)
        room = fdlimit.room() if missing else 0  # a low `ulimit -n`: keep a reserve
        for pid in sorted(missing)[:max(room, 0)]:
            try:
                self.pidfds[pid] = os.pidfd_open(pid)
            except ProcessLookupError:  # died between the snapshot and now
                self.look_again = True
            except (OSError, AttributeError):  # no pidfd support (or EMFILE): polled
                pass
        self.unwatched = len(wanted - set(self.pidfds))
        if not self.control_alive() and observed.server_running and panes:
            # Never an agent's session: the client would show as attached to it (tmux ls).
            own = config.watchdog_session not in panes
            if self.control is not None:
                self.control.close()
            self.control = ControlClient(tmux, config.control_session if own else
                                         config.watchdog_session, self.waker.wake, own=own)

    def control_alive(self) -> bool:
        return self.control is not None and self.control.alive

    def wait(self, timeouts: list[float]) -> None:
        """Sleep until a source fires or the earliest of `timeouts` (seconds) passes."""
        if not self.control_alive() or self.look_again or self.unwatched:
            timeouts = [*timeouts, FALLBACK_POLL if not self.look_again else LOOK_AGAIN]
        self.look_again = False
        self.waker.wait(min(timeouts), list(self.pidfds.values()))

    @contextlib.contextmanager
    def watching(self, path: Path, folder: Path | None = None) -> Iterator[None]:
        """Wake the loop whenever the file at `path` is written, replaced or removed, and
        when anything in `folder` changes (the agents' signal files)."""
        stop = threading.Event()
        threading.Thread(target=_watch_file, args=(path, self.waker.wake, stop),
                         name="config-watch", daemon=True).start()
        if folder is not None:
            threading.Thread(target=_watch_folder, args=(folder, self.waker.wake, stop),
                             name="signal-watch", daemon=True).start()
        try:
            yield
        finally:
            stop.set()

    def close(self) -> None:
        """Let go of the control client and the agents' pidfds."""
        if self.control is not None:
            self.control.close()
            self.control = None
        for fd in self.pidfds.values():
            os.close(fd)
        self.pidfds.clear()


def _watch_file(path: Path, wake: Callable[[], None], stop: threading.Event) -> None:
    name = path.name
    try:
        for _ in watchfiles.watch(path.parent, debounce=100, step=10, recursive=False,
                                  stop_event=stop,
                                  watch_filter=lambda _c, p: Path(p).name == name):
            wake()
    except Exception as exc:  # noqa: BLE001 - the loop still re-reads on every tick
        log.warning("config watcher stopped: %s", exc)


def _watch_folder(folder: Path, wake: Callable[[], None], stop: threading.Event) -> None:
    # Signal files are replaced atomically (a rename into the folder): no debounce wait
    # beyond watchfiles' own, so a hook's state is seen within a few tens of ms.
    try:
        for _ in watchfiles.watch(folder, debounce=50, step=10, recursive=False,
                                  stop_event=stop,
                                  watch_filter=lambda _c, p: p.endswith(".json")):
            wake()
    except Exception as exc:  # noqa: BLE001 - signals are then read on each pass only
        log.warning("signal watcher stopped: %s", exc)

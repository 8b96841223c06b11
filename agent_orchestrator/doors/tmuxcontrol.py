"""Hearing at once that a tmux session or window closed: a control-mode (`tmux -C`) client.

tmux sends its notifications about EVERY session of the server to any control client, which
is how a death is seen within milliseconds instead of at the next poll. The client is
started by the tmux door (`Tmux.attach_control`); this module reads what it says.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable

from agent_orchestrator.doors.tmux import Tmux, TmuxError  # (it imports nothing from here)

CONTROL_ATTACH_WAIT = 2.0  # seconds a closing control client waits for its attach answer
# Control-mode notifications that mean "some session or window went away (or came)".
_CONTROL_WAKE = ("%sessions-changed", "%unlinked-window-close", "%window-close", "%exit",
                 "%session-closed")


class ControlClient:
    """A `tmux -C` client attached to one session, calling `on_change()` from its reader
    thread whenever tmux reports that a session or window closed, and once more when the
    client ends (its session died, or the server did).

    An attached control client counts as an attached client of its session (`tmux ls`
    says "(attached)"), so it never attaches to an agent's session: the watchdog's own,
    or with `own` a session made for it alone (`Config.control_session`, running `cat`),
    which `close` kills once the client is gone. Not tmux's `destroy-unattached`: with
    it, 3.3a's server crashed (SIGSEGV, tmux PR #5497) when the client left while another
    client (any tmux command) disconnected.

    The constructor returns, and `close` detaches, only once the attach command has
    answered (`%end`/`%error`, a few milliseconds): tmux 3.3a's server can crash (SIGSEGV
    writing that answer to a freed client) when a session closes or the client leaves while
    the attach is in flight, taking every agent's session with it (seen in dmesg,
    reproduced ~1 time in 8); the watchdog's own kills then never overlap an attach. The
    same server also crashes when a session is made or killed while the client is still
    identifying itself (tmux PR #4980), so the watchdog attaches before a pass acts or
    records its events (runtime/watchdog.py).
    """

    def __init__(self, tmux: Tmux, session: str, on_change: Callable[[], None],
                 own: bool = False) -> None:
        self._proc = tmux.attach_control(session, own)
        self._tmux, self._own = tmux, session if own else None
        self._on_change = on_change
        self._answered = threading.Event()  # the attach command's %end/%error has come
        self._thread = threading.Thread(target=self._read, name="tmux-control", daemon=True)
        self._thread.start()
        self._answered.wait(timeout=CONTROL_ATTACH_WAIT)  # see the class docstring

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            if raw.startswith((b"%end", b"%error")):
                self._answered.set()
            if raw.startswith(tuple(w.encode() for w in _CONTROL_WAKE)):
                self._on_change()
        self._answered.set()  # the client is gone: nothing left to wait for
        self._on_change()

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self, keep_own: bool = False) -> None:
        """Detach (closing stdin ends a control client), once attached (see the class
        docstring), reap the process, and kill the session made for it (`own`) unless
        `keep_own` (the next client, maybe attaching now, takes it over)."""
        self._answered.wait(timeout=CONTROL_ATTACH_WAIT)
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._own is not None and not keep_own:
            with contextlib.suppress(TmuxError):  # e.g. the server is gone: nothing to kill
                self._tmux.kill(self._own)
